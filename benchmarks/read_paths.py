"""Reading a large study back: hpotrack's read paths against Optuna's, in the same run.

Workload: random search on a trivial objective (x**2 + y**2 over two floats), 3
intermediate reports per trial, N trials (default 20,000) in each library: hpotrack's
SQLite file and Optuna's ``JournalStorage(JournalFileBackend(...))`` (its RDB storage on
sqlite takes ~25 ms per trial to build). Then each read is timed from a fresh handle
(nothing cached in the process): the best trial, every trial, and the CLI commands that
show one trial, its lineage or the ten best (run in-process with click's runner, so the
interpreter's start-up is not counted).

    python benchmarks/read_paths.py                  # 20,000 trials: about a minute to build
    python benchmarks/read_paths.py --quick          # 2,000 trials, a smoke test
    python benchmarks/read_paths.py --trials 50000 --out reads.md
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import Report, environment, load_average, median, output_file, versions_of
from click.testing import CliRunner

try:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
except ImportError:  # --skip-optuna runs without it; otherwise main() says how to install it
    optuna = None

import hpotrack as hp
from hpotrack.cli import cli
from hpotrack.store import close_stores

REPORTS = 3
STUDY = "reads"


def objective(x: float, y: float) -> float:
    return x**2 + y**2


def build_hpotrack(db: Path, n_trials: int) -> None:
    @hp.tune({"x": hp.Float(-5, 5), "y": hp.Float(-5, 5)}, method="random", study=STUDY,
             db=db, seed=0)  # fmt: skip
    def train(x: float, y: float, trial: hp.Trial) -> float:
        for step in range(REPORTS):
            trial.report(objective(x, y) + 1.0 / (step + 1), step=step)
        return objective(x, y)

    train.optimize(n_trials=n_trials)
    close_stores()


def optuna_storage(path: Path) -> Any:
    return JournalStorage(JournalFileBackend(str(path)))


def build_optuna(path: Path, n_trials: int) -> None:
    def train(trial: Any) -> float:
        x, y = trial.suggest_float("x", -5, 5), trial.suggest_float("y", -5, 5)
        for step in range(REPORTS):
            trial.report(objective(x, y) + 1.0 / (step + 1), step=step)
        return objective(x, y)

    sampler = optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(study_name=STUDY, storage=optuna_storage(path), sampler=sampler)
    study.optimize(train, n_trials=n_trials)


def timed(read: Callable[[], object], repeats: int) -> float:
    """Median milliseconds of ``read()``, each from a fresh process state (no open store)."""
    times = []
    for _ in range(repeats):
        close_stores()
        start = time.perf_counter()
        read()
        times.append(time.perf_counter() - start)
    return median(times) * 1e3


def command(db: Path, *args: str) -> Callable[[], object]:
    """A CLI command run in-process; it must succeed."""

    def run() -> object:
        result = CliRunner().invoke(cli, ["--db", str(db), *args])
        assert result.exit_code == 0, result.output
        return result.output

    return run


def rows(db: Path, journal: Path | None, n: int, repeats: int) -> list[list[str]]:
    """(read, hpotrack ms, Optuna ms, their ratio) of each read path."""
    mid = str(n // 2)

    hpotrack: list[tuple[str, Callable[[], object], str | None]] = [
        ("load_study().best", lambda: hp.load_study(STUDY, db=db).best, "best"),
        (f"load_study().curve({mid})", lambda: hp.load_study(STUDY, db=db).curve(n // 2), None),
        ("load_study().trials", lambda: hp.load_study(STUDY, db=db).trials, "trials"),
        ("hpotrack best", command(db, "best", STUDY), None),
        ("hpotrack show STUDY --top 10", command(db, "show", STUDY, "--top", "10"), None),
        (f"hpotrack trial STUDY {mid}", command(db, "trial", STUDY, mid), None),
        (f"hpotrack lineage STUDY {mid}", command(db, "lineage", STUDY, mid), None),
        ("hpotrack show (list of studies)", command(db, "show"), None),
    ]
    optuna_reads: dict[str, Callable[[], object]] = {}
    if journal is not None:

        def loaded() -> Any:  # a new storage object each time: nothing cached
            return optuna.load_study(study_name=STUDY, storage=optuna_storage(journal))

        optuna_reads = {"best": lambda: loaded().best_trial, "trials": lambda: loaded().trials}
    table = []
    for label, read, counterpart in hpotrack:
        ours = timed(read, repeats)
        theirs = optuna_reads.get(counterpart or "")
        if theirs is None:
            table.append([label, f"{ours:.1f}", "-", "-"])
        else:
            other = timed(theirs, repeats)
            table.append([label, f"{ours:.1f}", f"{other:.1f}", f"{other / ours:.0f}x"])
        print(f"  {label}: done", flush=True)
    return table


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="2,000 trials, 1 repeat: a smoke test")
    add("--trials", type=int, help="trials per study (default 20,000; quick 2,000)")
    add("--repeats", type=int, help="timed reads per path, the median shown (default 3)")
    add("--skip-optuna", action="store_true", help="only hpotrack")
    add("--out", type=output_file, help="also write the tables to this markdown file")
    args = parser.parse_args()
    args.trials = args.trials or (2000 if args.quick else 20000)
    args.repeats = args.repeats or (1 if args.quick else 3)
    return args


def main() -> None:
    """Build both studies, time every read path, print the table."""
    args = parse_args()
    names = ["hpotrack"] if args.skip_optuna else ["hpotrack", "optuna"]
    versions = versions_of(names, hint=", or leave Optuna out with --skip-optuna")
    logging.getLogger("hpotrack").setLevel(logging.WARNING)
    if optuna is not None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    report = Report("hpotrack read paths")
    report.lines(environment(versions))
    with tempfile.TemporaryDirectory() as folder:
        db, journal = Path(folder) / "h.db", Path(folder) / "optuna.journal"
        print(f"building {args.trials} trials per library...", flush=True)
        build_hpotrack(db, args.trials)
        if not args.skip_optuna:
            build_optuna(journal, args.trials)
        table = rows(db, None if args.skip_optuna else journal, args.trials, args.repeats)
    report.table(
        f"Reads of a study of {args.trials:,} trials (ms, median of {args.repeats})",
        table,
        "read|hpotrack|Optuna (journal)|Optuna / hpotrack",
        "Each read starts from a fresh handle. The CLI rows run in-process (no interpreter "
        "start-up). Optuna's counterparts: load_study().best_trial and .trials.",
    )
    report.lines([f"finished with {load_average()} (1, 5, 15 min)"])
    if args.out:
        report.write(args.out)


if __name__ == "__main__":
    main()

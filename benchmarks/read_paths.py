"""Reading a large study back: hpotrack's read paths against Optuna's, in the same run.

Workload: random search on a trivial objective (x**2 + y**2 over two floats), 3
intermediate reports per trial, every 50th trial failing, N trials (default 20,000) in each
library: hpotrack's SQLite file and Optuna's ``JournalStorage(JournalFileBackend(...))``
(its RDB storage on sqlite takes ~25 ms per trial to build). Then each read is timed from
a fresh handle (nothing cached in the process): the best trial, every trial (as records,
as a DataFrame), and the CLI commands that show the trials (to a pipe, to a terminal, the
failed ones, the ten best), one trial, its lineage, the study's lineage, export the study
or draw its history plot (when matplotlib is installed), run in-process with click's
runner, so the interpreter's start-up is not counted.

``--baseline DIR`` times the same reads of the same file with the hpotrack of another
checkout (an older commit: ``git worktree add /tmp/hp-base <commit>``), in a process that
imports it, and shows them beside this checkout's.

    python benchmarks/read_paths.py                  # 20,000 trials: about a minute to build
    python benchmarks/read_paths.py --quick          # 2,000 trials, a smoke test
    python benchmarks/read_paths.py --trials 50000 --out reads.md
    python benchmarks/read_paths.py --baseline /tmp/hp-base   # before/after a change
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (
    Report,
    environment,
    git_revision,
    median,
    output_file,
    versions_beside_optuna,
)
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
FAIL_EVERY = 50  # trial numbers 49, 99, ... fail: what ``show --state failed`` lists
STUDY = "reads"
TERMINAL = {"COLUMNS": "100"}  # ``show`` fits its table to a terminal this wide


def objective(x: float, y: float, number: int) -> float:
    if number % FAIL_EVERY == FAIL_EVERY - 1:
        raise ValueError("every 50th trial fails")
    return x**2 + y**2


def build_hpotrack(db: Path, n_trials: int) -> None:
    @hp.tune({"x": hp.Float(-5, 5), "y": hp.Float(-5, 5)}, method="random", study=STUDY,
             db=db, seed=0)  # fmt: skip
    def train(x: float, y: float, trial: hp.Trial) -> float:
        for step in range(REPORTS):
            trial.report(objective(x, y, trial.number) + 1.0 / (step + 1), step=step)
        return objective(x, y, trial.number)

    train.optimize(n_trials=n_trials)
    close_stores()


def optuna_storage(path: Path) -> Any:
    return JournalStorage(JournalFileBackend(str(path)))


def build_optuna(path: Path, n_trials: int) -> None:
    def train(trial: Any) -> float:
        x, y = trial.suggest_float("x", -5, 5), trial.suggest_float("y", -5, 5)
        for step in range(REPORTS):
            trial.report(objective(x, y, trial.number) + 1.0 / (step + 1), step=step)
        return objective(x, y, trial.number)

    sampler = optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(study_name=STUDY, storage=optuna_storage(path), sampler=sampler)
    study.optimize(train, n_trials=n_trials, catch=(ValueError,))


def timed(read: Callable[[], object], repeats: int) -> float:
    """Median milliseconds of ``read()``, each from a fresh process state (no open store)."""
    times = []
    for _ in range(repeats):
        close_stores()
        start = time.perf_counter()
        read()
        times.append(time.perf_counter() - start)
    return median(times) * 1e3


def command(db: Path, *args: str, env: dict[str, str] | None = None) -> Callable[[], object]:
    """A CLI command run in-process (``env``: variables it sees); it must succeed."""

    def run() -> object:
        result = CliRunner().invoke(cli, ["--db", str(db), *args], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    return run


Reads = list[tuple[str, Callable[[], object], str | None]]


def hpotrack_reads(db: Path, n: int) -> Reads:
    """(label, read, the name of Optuna's counterpart or None) of each read path timed."""
    mid = str(n // 2)
    export, figure = db.with_name("export.json"), db.with_name("history.png")

    def study() -> Any:
        return hp.load_study(STUDY, db=db)

    return [
        ("load_study().best", lambda: study().best, "best"),
        (f"load_study().curve({mid})", lambda: study().curve(n // 2), None),
        ("load_study().trials", lambda: study().trials, "trials"),
        ("load_study().records()", lambda: study().records(), None),
        ("load_study().to_dataframe()", lambda: study().to_dataframe(), "dataframe"),
        ("hpotrack best", command(db, "best", STUDY), None),
        ("hpotrack show STUDY (to a pipe)", command(db, "show", STUDY), None),
        ("hpotrack show STUDY (to a terminal)", command(db, "show", STUDY, env=TERMINAL), None),
        (
            "hpotrack show STUDY --state failed",
            command(db, "show", STUDY, "--state", "failed"),
            None,
        ),
        ("hpotrack show STUDY --top 10", command(db, "show", STUDY, "--top", "10"), None),
        (f"hpotrack trial STUDY {mid}", command(db, "trial", STUDY, mid), None),
        (f"hpotrack lineage STUDY {mid}", command(db, "lineage", STUDY, mid), None),
        ("hpotrack lineage STUDY", command(db, "lineage", STUDY), None),
        ("hpotrack export STUDY -o FILE", command(db, "export", STUDY, "-o", str(export)), None),
        ("hpotrack show (list of studies)", command(db, "show"), None),
    ] + ([] if importlib.util.find_spec("matplotlib") is None else [
        ("hpotrack plot STUDY (history)", command(db, "plot", STUDY, "-o", str(figure)), None),
    ])  # fmt: skip


def time_reads(db: Path, n: int, repeats: int, done: Callable[[str], None]) -> dict[str, float]:
    """Median milliseconds of each of :func:`hpotrack_reads`, by label."""
    times = {}
    for label, read, _ in hpotrack_reads(db, n):
        times[label] = timed(read, repeats)
        done(label)
    return times


def baseline_times(checkout: Path, db: Path, n: int, repeats: int) -> dict[str, float]:
    """The same reads of the same file timed with the hpotrack of ``checkout``: this
    script run again (``--time-reads``) in a process that imports it. A read it lacks
    (or that fails with it) is left out."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    args = ["--time-reads", str(db), "--trials", str(n), "--repeats", str(repeats)]
    done = subprocess.run(
        [sys.executable, __file__, *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        sys.exit(f"read_paths.py: the reads with the hpotrack of {checkout} failed: {last}")
    found: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return found


def optuna_reads(journal: Path) -> dict[str, Callable[[], object]]:
    """Optuna's counterparts of some reads, each from a new storage: nothing cached."""

    def loaded() -> Any:
        return optuna.load_study(study_name=STUDY, storage=optuna_storage(journal))

    return {
        "best": lambda: loaded().best_trial,
        "trials": lambda: loaded().trials,
        "dataframe": lambda: loaded().trials_dataframe(),
    }


def rows(
    db: Path, journal: Path | None, n: int, repeats: int, baseline: Path | None
) -> list[list[str]]:
    """(read, hpotrack ms[, the baseline's ms], Optuna ms, their ratio) of each read path."""
    ours = time_reads(db, n, repeats, lambda label: print(f"  {label}: done", flush=True))
    before = None
    if baseline is not None:
        print(f"the same reads with the hpotrack of {baseline}...", flush=True)
        before = baseline_times(baseline, db, n, repeats)
    theirs = optuna_reads(journal) if journal is not None else {}
    table = []
    for label, _, counterpart in hpotrack_reads(db, n):
        row = [label, f"{ours[label]:.1f}"]
        if before is not None:
            row.append(f"{before[label]:.1f}" if label in before else "-")
        other = theirs.get(counterpart or "")
        if other is None:
            row += ["-", "-"]
        else:
            optuna_ms = timed(other, repeats)
            row += [f"{optuna_ms:.1f}", f"{optuna_ms / ours[label]:.0f}x"]
        table.append(row)
    return table


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="2,000 trials, 1 repeat: a smoke test")
    add("--trials", type=int, help="trials per study (default 20,000; quick 2,000)")
    add("--repeats", type=int, help="timed reads per path, the median shown (default 3)")
    add("--skip-optuna", action="store_true", help="only hpotrack")
    add("--out", type=output_file, help="also write the tables to this markdown file")
    add("--baseline", type=Path, metavar="DIR", help="also time them with this checkout's hpotrack")
    add("--time-reads", type=Path, metavar="DB", help=argparse.SUPPRESS)  # --baseline's run
    args = parser.parse_args()
    if args.baseline is not None and not (args.baseline / "hpotrack" / "__init__.py").is_file():
        parser.error(f"--baseline {args.baseline} is not an hpotrack checkout (no hpotrack/)")
    args.trials = args.trials or (2000 if args.quick else 20000)
    args.repeats = args.repeats or (1 if args.quick else 3)
    return args


def main() -> None:
    """Build both studies, time every read path, print the table."""
    args = parse_args()
    logging.getLogger("hpotrack").setLevel(logging.ERROR)  # not each failed trial
    if args.time_reads is not None:  # --baseline's process: the times as JSON, nothing else
        print(json.dumps(time_reads(args.time_reads, args.trials, args.repeats, lambda _: None)))
        return
    versions = versions_beside_optuna(args.skip_optuna)
    if optuna is not None:
        optuna.logging.set_verbosity(optuna.logging.ERROR)
    report = Report("hpotrack read paths")
    lines = environment(versions)
    if args.baseline is not None:
        lines.append(f"baseline: {args.baseline.resolve()} at {git_revision(args.baseline)}")
    report.lines(lines)
    with tempfile.TemporaryDirectory() as folder:
        db, journal = Path(folder) / "h.db", Path(folder) / "optuna.journal"
        print(f"building {args.trials} trials per library...", flush=True)
        build_hpotrack(db, args.trials)
        if not args.skip_optuna:
            build_optuna(journal, args.trials)
        table = rows(
            db, None if args.skip_optuna else journal, args.trials, args.repeats, args.baseline
        )
    ours = "hpotrack" if args.baseline is None else "hpotrack|baseline"
    report.table(
        f"Reads of a study of {args.trials:,} trials (ms, median of {args.repeats})",
        table,
        f"read|{ours}|Optuna (journal)|Optuna / hpotrack",
        "Each read starts from a fresh handle. The CLI rows run in-process (no interpreter "
        "start-up); to a terminal: COLUMNS=100. Optuna's counterparts: "
        "load_study().best_trial, .trials and .trials_dataframe().",
    )
    report.finish(args.out)


if __name__ == "__main__":
    main()

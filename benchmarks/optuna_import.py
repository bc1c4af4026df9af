"""Importing an Optuna study: ``hpotrack import`` of Optuna's database and journal file,
beside Optuna reading the same file.

Workload: one Optuna study of T trials (default 1,000; quick 50), random search over a
conditional space of 5 parameters (a categorical, a log float, a float with a step, an
int, and a float only in one branch), each trial reporting R intermediate values
(default 20; quick 5). Optuna runs it into a ``JournalFileBackend`` file (an operation per
report, as a run writes it), then ``copy_study`` writes it to an RDB ``sqlite:///`` file.
Timed, in this process, median of ``--repeats`` rounds (default 3) run round robin:

- hpotrack: the whole import (read the file, check, write a new database), as
  ``hpotrack import FILE`` runs it, into a new file each time;
- Optuna: ``optuna.load_study(...)`` and ``study.get_trials(deepcopy=False)``, what it takes
  to have the trials in memory (its own first step of any analysis);
- hpotrack's read alone: the file turned into an export, the import's first step.

    python benchmarks/optuna_import.py            # 1,000 trials: about 2 minutes to build
    python benchmarks/optuna_import.py --quick    # 50 trials, a smoke test
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import Report, environment, median, output_file, versions_of

from hpotrack.store import Store, close_stores
from hpotrack.transfer import import_study
from hpotrack.transfer.optuna_db import read_optuna_database
from hpotrack.transfer.optuna_journal import read_optuna_journal

STUDY = "imported"


def objective(reports: int) -> Callable[[Any], float]:
    def run(trial: Any) -> float:
        model = trial.suggest_categorical("model", ["linear", "tree"])
        loss = trial.suggest_float("lr", 1e-5, 1e-1, log=True) * 10
        loss += trial.suggest_float("dropout", 0.0, 0.5, step=0.05)
        loss += trial.suggest_int("layers", 1, 8) / 8
        if model == "linear":
            loss += trial.suggest_float("l2", 0.0, 1.0)
        for step in range(1, reports + 1):
            trial.report(loss + 1 / step, step)
        return loss

    return run


def build(folder: Path, trials: int, reports: int) -> dict[str, Path]:
    """The study, run by Optuna into a journal file (an operation per report, as a run
    writes it) and copied to a database (the rows a run would write)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(logging.ERROR)
    files = {"database": folder / "optuna.db", "journal": folder / "journal.log"}
    journal = optuna.storages.JournalStorage(JournalFileBackend(str(files["journal"])))
    sampler = optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(study_name=STUDY, storage=journal, sampler=sampler)
    study.optimize(objective(reports), n_trials=trials)
    optuna.copy_study(
        from_study_name=STUDY,
        from_storage=journal,
        to_storage=f"sqlite:///{files['database']}",
        to_study_name=STUDY,
    )
    return files


def hpotrack_import(kind: str, path: Path, target: Path) -> int:
    read = read_optuna_database if kind == "database" else read_optuna_journal
    store = Store(target)
    try:
        return len(import_study(store, read(path)).trials)
    finally:
        store.close()
        close_stores()


def optuna_read(kind: str, path: Path) -> int:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    storage: Any = (
        f"sqlite:///{path}"
        if kind == "database"
        else optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    )
    return len(optuna.load_study(study_name=STUDY, storage=storage).get_trials(deepcopy=False))


WHO = ("hpotrack import", "optuna load_study + trials", "hpotrack read only")


def timed(who: str, kind: str, path: Path, target: Path) -> tuple[float, int]:
    """Seconds one read of ``path`` took, and the trials it found."""
    start = time.perf_counter()
    if who == "hpotrack import":
        count = hpotrack_import(kind, path, target)
    elif who == "hpotrack read only":
        read = read_optuna_database if kind == "database" else read_optuna_journal
        count = len(read(path)["trials"])
    else:
        count = optuna_read(kind, path)
    return time.perf_counter() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--trials", type=int, default=None, help="trials in the study (default 1,000)")
    add("--reports", type=int, default=None, help="intermediate values per trial (default 20)")
    add("--repeats", type=int, default=3, help="rounds, the median shown (default 3)")
    add("--quick", action="store_true", help="50 trials of 5 reports: a smoke test")
    add("--out", type=output_file, help="also write the tables to this markdown file")
    args = parser.parse_args()
    trials = args.trials or (50 if args.quick else 1000)
    reports = args.reports or (5 if args.quick else 20)
    versions = versions_of(["hpotrack", "optuna"])
    report = Report("hpotrack import of an Optuna study, beside Optuna reading it")
    report.lines(environment(versions))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        began = time.perf_counter()
        files = build(folder, trials, reports)
        report.lines(
            [f"built {trials} trials x {reports} reports in {time.perf_counter() - began:.0f} s"]
        )
        seconds: dict[tuple[str, str], list[float]] = {}
        for round_ in range(args.repeats):
            for kind, path in files.items():
                target = folder / f"hpotrack-{kind}-{round_}.db"
                for who in WHO:
                    took, count = timed(who, kind, path, target)
                    seconds.setdefault((kind, who), []).append(took)
                    if count != trials:
                        raise SystemExit(f"{who} read {count} trials of {kind}, not {trials}")
    rows = []
    for kind in files:
        ours, theirs, reading = (median(seconds[kind, who]) for who in WHO)
        for who, value in zip(WHO, (ours, theirs, reading), strict=True):
            rows.append([kind, who, f"{value:.3f}", f"{value / trials * 1000:.3f}"])
        rows.append([kind, "ratio hpotrack import / optuna", f"{ours / theirs:.2f}", ""])
    report.table(
        f"Seconds, median of {args.repeats}: {trials} trials x {reports} reports",
        rows,
        "file|what|seconds|ms per trial",
        "hpotrack import reads, checks and writes a new database in one transaction; "
        "Optuna's row only reads; hpotrack's read only is the file turned into an export "
        "(the import's first step).",
    )
    report.finish(args.out)


if __name__ == "__main__":
    main()

"""Dense intermediate reports: the cost of ``trial.report`` when a trial reports every batch.

Workload: random search over one float, every trial reports ``1/step`` at steps 1..R (the
same curve for every trial, so a median pruner decides at every report but stops none),
with and without ``pruner="median"``; beside it Optuna's ``trial.report`` +
``trial.should_prune()`` with a ``MedianPruner`` (or none) on its in-memory and RDB
``sqlite:///`` storages. Each run is one forked process, so its peak RSS is its own.

    python benchmarks/dense_reports.py            # default run, about 20 minutes
    python benchmarks/dense_reports.py --quick    # smoke test, under 15 s
    python benchmarks/dense_reports.py --out dense.md
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import Report, environment, median, output_file, versions_beside_optuna

try:
    import optuna
except ImportError:  # --skip-optuna runs without it; otherwise main() says how to install it
    optuna = None

import hpotrack as hp
from hpotrack.text import human_bytes

HP, HP_MEDIAN = "hpotrack", "hpotrack, median pruner"
MEMORY, MEMORY_MEDIAN = "optuna in-memory", "optuna in-memory, MedianPruner"
RDB, RDB_MEDIAN = "optuna RDB sqlite", "optuna RDB sqlite, MedianPruner"
STORES = [HP, HP_MEDIAN, MEMORY, MEMORY_MEDIAN, RDB, RDB_MEDIAN]
# Reports per run (trials x reports) each store is given at most; larger rows are not run.
# With a pruner every hpotrack report is a check, a write transaction (~0.2 ms); Optuna's
# RDB commits every report (~5-12 ms each here). Optuna in memory slows down as a study of
# 100,000-report trials grows (50 x 100,000: over 8 minutes, not finished), so it stops at
# 1,000,000. (Before schema 8 hpotrack's checks were capped at 10,000: each rewrote the
# trial's every check so far.)
CAPS = {HP: None, HP_MEDIAN: 200_000, MEMORY: 1_000_000, MEMORY_MEDIAN: 200_000, RDB: 10_000}
CAPS[RDB_MEDIAN] = 1_000
QUICK_CAPS = {HP: None, HP_MEDIAN: 200, MEMORY: None, MEMORY_MEDIAN: None, RDB: 50}
QUICK_CAPS[RDB_MEDIAN] = 50
MARKS = 10  # time stamps per trial: the first and the last tenth of its reports


def quiet() -> None:
    logging.getLogger("hpotrack").setLevel(logging.ERROR)
    if optuna is not None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)


def report_loop(report: Callable[[float, int], None], reports: int, marks: list[float]) -> None:
    """Report ``1/step`` at steps 1..``reports``, stamping the time every tenth."""
    every = max(1, reports // MARKS)
    marks.append(time.perf_counter())
    for step in range(1, reports + 1):
        report(1.0 / step, step)
        if step % every == 0:
            marks.append(time.perf_counter())


def run_hpotrack(store: str, folder: Path, trials: int, reports: int) -> list[list[float]]:
    db = folder / "dense.db"
    method = hp.methods.Random(pruner="median" if store == HP_MEDIAN else None)
    stamps: list[list[float]] = []

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method=method, study="dense", db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        stamps.append([])
        report_loop(lambda value, step: trial.report(value, step=step), reports, stamps[-1])
        return x

    train.optimize(n_trials=trials)
    return stamps


def run_optuna(store: str, folder: Path, trials: int, reports: int) -> list[list[float]]:
    storage = f"sqlite:///{folder / 'dense.db'}" if store in (RDB, RDB_MEDIAN) else None
    median_pruner = store in (MEMORY_MEDIAN, RDB_MEDIAN)
    pruner = optuna.pruners.MedianPruner() if median_pruner else optuna.pruners.NopPruner()
    sampler = optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(storage=storage, sampler=sampler, pruner=pruner)
    stamps: list[list[float]] = []

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        stamps.append([])

        def report(value: float, step: int) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        report_loop(report, reports, stamps[-1])
        return x

    study.optimize(objective, n_trials=trials)
    return stamps


def one_run(store: str, trials: int, reports: int, results: Any) -> None:
    """In a forked process: run, then put (stamps, seconds, db bytes, wal bytes, peak RSS)."""
    quiet()
    with tempfile.TemporaryDirectory(prefix="dense-") as tmp:
        folder = Path(tmp)
        runner = run_hpotrack if store.startswith("hpotrack") else run_optuna
        start = time.perf_counter()
        stamps = runner(store, folder, trials, reports)
        seconds = time.perf_counter() - start
        db, wal = folder / "dense.db", folder / "dense.db-wal"
        size = db.stat().st_size if db.exists() else 0
        wal_size = wal.stat().st_size if wal.exists() else 0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    results.put((stamps, seconds, size, wal_size, rss))


def measured(store: str, trials: int, reports: int) -> dict[str, float]:
    """One run in a forked process: µs per report overall (the whole optimize, the
    deferred writes too), in the first and the last tenth of the trials' reports, and in
    the first and the last trial; database and WAL bytes per report; peak RSS."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    process = context.Process(target=one_run, args=(store, trials, reports, results))
    process.start()
    stamps, seconds, size, wal, rss = results.get(timeout=3600)
    process.join()
    count = trials * reports
    tenth = reports / MARKS / 1e6
    per_trial = [(marks[-1] - marks[0]) / reports * 1e6 for marks in stamps]
    return {
        "overall": seconds / count * 1e6,
        "early": median((m[1] - m[0]) / tenth for m in stamps),
        "late": median((m[-1] - m[-2]) / tenth for m in stamps),
        "first trial": per_trial[0],
        "last trial": per_trial[-1],
        "db": size / count,
        "wal": wal,
        "rss": rss,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="tiny sizes: a smoke test, under 15 s")
    add("--repeats", type=int, help="runs per row (default 3; quick 1): the table shows medians")
    add("--skip-optuna", action="store_true", help="only hpotrack's rows")
    add("--out", type=output_file, help="also write the tables to this markdown file")
    args = parser.parse_args()
    quick = ([1, 2], [50, 200])
    args.trials, args.reports = quick if args.quick else ([1, 10, 50], [1_000, 10_000, 100_000])
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.caps = QUICK_CAPS if args.quick else CAPS
    args.stores = [HP, HP_MEDIAN] if args.skip_optuna else STORES
    return args


def main() -> None:
    args = parse_args()
    versions = versions_beside_optuna(args.skip_optuna)
    quiet()
    report = Report("hpotrack dense intermediate reports")
    report.lines(environment(versions))
    rows, baseline = [], {}
    for reports in args.reports:
        for trials in args.trials:
            for store in args.stores:
                cap = args.caps[store]
                label = [store, f"{trials:,}", f"{reports:,}"]
                if cap is not None and trials * reports > cap:
                    rows.append([*label, f"not run (over {cap:,} reports)", *["-"] * 8])
                    continue
                print(f"{store}: {trials} x {reports:,} reports", flush=True)
                runs = [measured(store, trials, reports) for _ in range(args.repeats)]
                m = {key: median(run[key] for run in runs) for key in runs[0]}
                if store == HP:
                    baseline[trials, reports] = m["overall"]
                base = baseline.get((trials, reports))
                ratio = f"{m['overall'] / base:.1f}×" if base else "-"
                rows.append(
                    [
                        *label,
                        f"{m['overall']:.1f}",
                        ratio,
                        f"{m['early']:.1f} / {m['late']:.1f}",
                        f"{m['first trial']:.1f} / {m['last trial']:.1f}",
                        f"{m['db']:.0f}" if m["db"] else "-",
                        human_bytes(int(m["wal"])) if m["wal"] else "-",
                        human_bytes(int(m["rss"])),
                    ]
                )
                print("  " + " | ".join(rows[-1][3:]), flush=True)  # a cut-short run keeps it
    report.table(
        f"µs per report (median of {args.repeats} run(s) per row)",
        rows,
        "store|trials|reports per trial|µs per report|vs hpotrack|first / last tenth of a "
        "trial's reports|first / last trial|db bytes per report|WAL|peak RSS",
        "µs per report: the whole optimize() over trials × reports (trial start-up and the "
        "writes at the end included); the tenths and trials: the report loop alone. A "
        "rising 'last' column is a cost that grows with the reports of a trial or with the "
        "study.",
    )
    report.finish(args.out)


if __name__ == "__main__":
    main()

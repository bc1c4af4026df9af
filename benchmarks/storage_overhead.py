"""Storage overhead per trial: hpotrack against Optuna's storages, in the same run.

Workload: a trivial objective (x**2 + y**2 over two floats), random search, 5 intermediate
reports per trial. The time per trial is measured from outside each library as the
interval between the starts of consecutive objective calls (the last one ends when
``optimize`` returns), so it covers tell -> ask -> suggest -> objective -> 5 reports.

    python benchmarks/storage_overhead.py            # default run, several minutes
    python benchmarks/storage_overhead.py --quick    # smoke test, under a minute
    python benchmarks/storage_overhead.py --full --out results.md
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (
    Report,
    Stats,
    describe,
    environment,
    median,
    output_file,
    run_together,
    total_size,
    versions_beside_optuna,
)

try:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
except ImportError:  # --skip-optuna runs without it; otherwise main() says how to install it
    optuna = None

import hpotrack as hp
from hpotrack.text import human_bytes

REPORTS = 5
MAX_ERRORS = 20  # exceptions after which a multi-process worker gives up
RDB_MP_TRIALS = 200  # Optuna RDB's shared study unless --full (~0.1 s per trial here)
HP = "hpotrack (sqlite WAL)"
HP_ASKED = "hpotrack, ask/tell loop"
MEMORY, RDB, JOURNAL = "optuna in-memory", "optuna RDB sqlite", "optuna journal file"
FLOOR = "raw sqlite3 floor (7 commits)"
STAMPS: list[float] = []  # perf_counter() at the start of each objective call

# (temp dir, trials, seed) -> (database files, (complete trials, reports) as stored)
Runner = Callable[[Path, int, int], tuple[list[Path], tuple[int, int]]]


def quiet() -> None:
    """Silence both libraries' per-trial logging."""
    logging.getLogger("hpotrack").setLevel(logging.WARNING)
    if optuna is not None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)


def hp_objective(x: float, y: float, trial: hp.Trial) -> float:
    """The hpotrack objective: stamp, 5 reports, return."""
    STAMPS.append(time.perf_counter())
    value = x * x + y * y
    for step in range(REPORTS):
        trial.report(value, step=step)
    return value


def optuna_objective(trial: optuna.Trial) -> float:
    """The same objective for Optuna (its suggestions happen inside the objective)."""
    STAMPS.append(time.perf_counter())
    x, y = trial.suggest_float("x", -10.0, 10.0), trial.suggest_float("y", -10.0, 10.0)
    value = x * x + y * y
    for step in range(REPORTS):
        trial.report(value, step)
    return value


def tuned(db: Path, seed: int | None = 0) -> hp.TunedFunction:
    """The hpotrack study ``bench`` in ``db``."""
    space = {"x": hp.Float(-10.0, 10.0), "y": hp.Float(-10.0, 10.0)}
    return hp.tune(space, method="random", study="bench", db=db, seed=seed)(hp_objective)


def file_storage(store: str, where: str) -> Any:
    """Optuna's storage argument for a file store: the RDB URL, or a journal file."""
    return where if store == RDB else JournalStorage(JournalFileBackend(where))


def stored(db: Path, complete: str) -> tuple[int, int]:
    """(complete trials, intermediate reports) in an SQLite file, read with plain sqlite3
    once the run is over; ``complete`` is the condition on ``trials`` for a complete one."""
    conn = sqlite3.connect(db)
    try:
        trials = conn.execute(f"SELECT COUNT(*) FROM trials WHERE {complete}").fetchone()[0]
        return trials, conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    finally:
        conn.close()


def run_hpotrack(tmp: Path, n: int, seed: int) -> tuple[list[Path], tuple[int, int]]:
    """n sequential hpotrack trials (files incl. the WAL)."""
    tuned(tmp / "hp.db", seed).optimize(n_trials=n, progress=False)
    STAMPS.append(time.perf_counter())
    return [tmp / "hp.db", tmp / "hp.db-wal"], stored(tmp / "hp.db", "state = 'complete'")


def run_hpotrack_asked(tmp: Path, n: int, seed: int) -> tuple[list[Path], tuple[int, int]]:
    """n sequential hpotrack trials by ``train.ask()`` and ``train.tell()``, the loop a user
    writes around training of their own (Optuna's ``optimize`` is its own ask/tell loop)."""
    train = tuned(tmp / "hp.db", seed)
    for _ in range(n):
        trial = train.ask()
        train.tell(trial, hp_objective(**trial.params, trial=trial))
    STAMPS.append(time.perf_counter())
    return [tmp / "hp.db", tmp / "hp.db-wal"], stored(tmp / "hp.db", "state = 'complete'")


def run_optuna(store: str, tmp: Path, n: int, seed: int) -> tuple[list[Path], tuple[int, int]]:
    """n sequential Optuna trials on ``store``."""
    files = {MEMORY: [], RDB: [tmp / "optuna.db"], JOURNAL: [tmp / "journal.log"]}[store]
    storage = None
    if files:
        storage = file_storage(store, f"sqlite:///{files[0]}" if store == RDB else str(files[0]))
    sampler = optuna.samplers.RandomSampler(seed=seed)
    study = optuna.create_study(study_name="bench", storage=storage, sampler=sampler)
    study.optimize(optuna_objective, n_trials=n)
    STAMPS.append(time.perf_counter())
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return files, (len(done), sum(len(t.intermediate_values) for t in done))


def run_floor(tmp: Path, n: int, seed: int) -> tuple[list[Path], tuple[int, int]]:
    """The floor: sqlite3 in WAL mode, synchronous=NORMAL, autocommit; per trial 1 insert,
    5 metric inserts and 1 update, each its own commit."""
    conn = sqlite3.connect(tmp / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE trials (id INTEGER PRIMARY KEY, params TEXT, value REAL)")
    conn.execute("CREATE TABLE metrics (trial_id INTEGER, step INTEGER, value REAL)")
    for number in range(n):
        STAMPS.append(time.perf_counter())
        params = f'{{"x": {number}, "y": {seed}}}'
        trial_id = conn.execute("INSERT INTO trials (params) VALUES (?)", (params,)).lastrowid
        for step in range(REPORTS):
            conn.execute("INSERT INTO metrics VALUES (?, ?, ?)", (trial_id, step, 1.0))
        conn.execute("UPDATE trials SET value = ? WHERE id = ?", (1.0, trial_id))
    STAMPS.append(time.perf_counter())
    conn.close()
    return [tmp / "raw.db", tmp / "raw.db-wal"], stored(tmp / "raw.db", "value IS NOT NULL")


def timed(runner: Runner, n: int, seed: int, window: int) -> tuple[Stats, int, bool]:
    """Run ``runner`` for n trials in a fresh temporary directory: (stats, db bytes,
    whether every trial and report is in the store once the run returned)."""
    with tempfile.TemporaryDirectory(prefix="hpotrack-bench-") as tmp:
        STAMPS.clear()
        files, found = runner(Path(tmp), n, seed)
        size = total_size(files)
    if len(STAMPS) != n + 1:
        raise RuntimeError(f"expected {n} objective calls, got {len(STAMPS) - 1}")
    return Stats.of(STAMPS, window), size, found == (n, n * REPORTS)


def sequential(args: argparse.Namespace, report: Report) -> dict[tuple[str, int], Stats]:
    """Run and print the sequential table; returns median stats by (store, size)."""
    runners: dict[str, Runner] = {HP: run_hpotrack, HP_ASKED: run_hpotrack_asked}
    if not args.skip_optuna:
        runners |= {s: functools.partial(run_optuna, s) for s in (MEMORY, RDB, JOURNAL)}
    runners[FLOOR] = run_floor
    results: dict[tuple[str, int], Stats] = {}
    rows: list[list[Any]] = []
    for n in args.sizes:
        repeats = args.repeats or 3
        stores = [s for s in runners if s != RDB or args.full or n == min(args.sizes)]
        runs: dict[str, list[tuple[Stats, int, bool]]] = {s: [] for s in stores}
        for rep in range(repeats):  # round robin, so drift hits every store alike
            for store in stores:
                print(f"  sequential {store}, {n:,} trials, run {rep + 1}/{repeats}", flush=True)
                runs[store].append(timed(runners[store], n, rep, args.window))
        for store in runners:
            if store not in runs:
                rows.append([store, f"{n:,}", "-", "skipped (--full)", *[""] * 6])
                continue
            s = results[store, n] = Stats.median([run[0] for run in runs[store]])
            size = median(run[1] for run in runs[store])
            ok = "yes" if all(run[2] for run in runs[store]) else "NO"
            times = [f"{v:.3f}" for v in (s.mean, s.first, s.last)]
            ratio = f"{s.mean / results[HP, n].mean:.2f}×"  # hpotrack comes first
            size_text = human_bytes(size) if size else "-"
            growth = f"{s.growth:.2f}"
            rows.append([store, f"{n:,}", repeats, *times, growth, size_text, ok, ratio])
    report.table(
        "Sequential: time per trial (ms, median over runs)",
        rows,
        f"store|trials|runs|mean|first {args.window}|last {args.window}|last/first|db size|"
        "all stored|× vs hpotrack",
        "Interval between consecutive objective starts (library overhead + the trivial "
        "objective). '× vs hpotrack': the store's mean over hpotrack's (above 1: slower). "
        "db size includes SQLite's -wal file (hpotrack: up to ~4 MiB before a checkpoint). "
        "'all stored': every trial complete with its 5 reports in the store, read back once "
        "the run returned (hpotrack and the floor: with plain sqlite3).",
    )
    return results


def mp_worker(store: str, where: str, n_trials: int, ready: Any, go: Any, results: Any) -> None:
    """One process of a shared study (module level, so that spawn can import it); see
    :func:`run_together` for ``ready``, ``go`` and ``results``.

    hpotrack: ``optimize(n_trials=total)``; Optuna: ``study.optimize`` for this process's
    share, resumed for the rest after an exception. Puts the exceptions it caught.
    """
    quiet()
    errors: list[str] = []
    opened = False
    try:
        if store == HP:
            fn = tuned(Path(where))
            fn.study  # noqa: B018 - open it before the start signal
        else:
            sampler = optuna.samplers.RandomSampler()
            study = optuna.load_study(
                study_name="bench", storage=file_storage(store, where), sampler=sampler
            )
        opened = True
    except Exception as exc:
        errors.append(f"worker setup: {describe(exc)}")
    ready.put(os.getpid())
    go.wait()
    while opened and len(errors) < MAX_ERRORS:
        try:
            if store == HP:
                fn.optimize(n_trials=n_trials, progress=False)
            elif len(STAMPS) < n_trials:  # an attempt that reached the objective counts
                study.optimize(optuna_objective, n_trials=n_trials - len(STAMPS))
            break
        except Exception as exc:
            errors.append(describe(exc))
    results.put(errors)


def check_trials(store: str, where: str, total: int) -> dict[str, Any]:
    """Complete, failed, lost (complete short of ``total``) and duplicated trials, and
    whether the numbers are exactly 0..total-1, all complete."""
    if store == HP:
        trials = [(t.number, t.state.value) for t in hp.load_study("bench", db=where).trials]
    else:
        study = optuna.load_study(study_name="bench", storage=file_storage(store, where))
        trials = [(t.number, t.state.name.lower()) for t in study.get_trials(deepcopy=False)]
    states = Counter(state for _, state in trials)
    numbers = [number for number, _ in trials]
    complete = states["complete"]
    exact = sorted(numbers) == list(range(total)) and complete == total
    failed = states["failed"] + states["fail"]
    duplicated = len(numbers) - len(set(numbers))
    return {"complete": complete, "failed": failed, "lost": max(0, total - complete),
            "duplicated": duplicated, "exact": exact}  # fmt: skip


def shared_run(store: str, processes: int, total: int) -> dict[str, Any]:
    """``processes`` spawned processes share one study of ``total`` trials. Wall time runs
    from the start signal (every process imported and connected) to the last result."""
    with tempfile.TemporaryDirectory(prefix="hpotrack-bench-") as tmp:
        path = Path(tmp) / {HP: "hp.db", RDB: "optuna.db"}.get(store, "journal.log")
        where = f"sqlite:///{path}" if store == RDB else str(path)
        if store == HP:
            tuned(path).study  # noqa: B018 - create the study before the workers
        else:
            optuna.create_study(study_name="bench", storage=file_storage(store, where))
        shares = [total] * processes  # hpotrack: n_trials is the study's total
        if store != HP:  # Optuna: n_trials is per process
            shares = [total // processes + (i < total % processes) for i in range(processes)]
        wall, outs, exit_codes = run_together(mp_worker, [(store, where, n) for n in shares])
        errors = [e for out in outs for e in out]
        errors += [f"worker exit code {code}" for code in exit_codes if code]
        found = check_trials(store, where, total)
    return {**found, "wall": wall, "rate": found["complete"] / wall, "errors": errors}


def multiprocess(args: argparse.Namespace, report: Report) -> dict[tuple[str, int], Any]:
    """Run and print the multi-process table; returns a summary by (store, processes)."""
    summary: dict[tuple[str, int], Any] = {}
    rows, notes = [], []
    for processes in args.processes:
        for store in [HP] if args.skip_optuna else [HP, JOURNAL, RDB]:
            repeats = args.mp_repeats if store == HP or args.full else 1
            total = min(args.mp_trials, RDB_MP_TRIALS) if store == RDB else args.mp_trials
            total = args.mp_trials if args.full else total
            runs = []
            for rep in range(repeats):
                print(f"  {processes} processes, {store}, run {rep + 1}/{repeats}", flush=True)
                runs.append(shared_run(store, processes, total))
            worst = {k: max(r[k] for r in runs) for k in ("failed", "lost", "duplicated")}
            errors = max(len(r["errors"]) for r in runs)
            exact = all(r["exact"] for r in runs)
            rate, wall = median(r["rate"] for r in runs), median(r["wall"] for r in runs)
            summary[store, processes] = {**worst, "errors": errors, "exact": exact, "rate": rate}
            counts = [errors, worst["failed"], worst["lost"], worst["duplicated"]]
            ok = "yes" if exact else "NO"
            cells = [f"{total:,}", repeats, f"{wall:.2f}", f"{rate:.0f}", *counts, ok]
            rows.append([processes, store, *cells])
            for message, count in Counter(e for r in runs for e in r["errors"]).most_common(3):
                notes.append(f"- {store}, {processes} processes: {message} (×{count})")
    report.table(
        "Multi-process: P processes share one study of T trials",
        rows,
        "P|store|T|runs|wall s|trials/s|exceptions|failed|lost|duplicated|0..T-1 all complete",
        "Medians of wall time and of complete trials per second; exceptions, failed, lost "
        "(complete short of T) and duplicated numbers: the worst run. Timing starts once "
        f"every process has imported and connected. Optuna RDB: T ≤ {RDB_MP_TRIALS} unless "
        "--full.\n" + "\n".join(notes),
    )
    return summary


def targets(
    args: argparse.Namespace, seq: dict[tuple[str, int], Stats], mp: dict[tuple[str, int], Any]
) -> list[list[str]]:
    """The issue's targets: target, measured value, PASS / FAIL / not measured (the
    timing targets at --quick's toy sizes, where a verdict would mean nothing)."""
    n, w, low, high = max(args.sizes), args.window, min(args.processes), max(args.processes)
    timed = not args.quick
    hp_ms, growth, top, base = seq[HP, n].mean, seq[HP, n].growth, mp[HP, high], mp[HP, low]
    found: list[tuple[str, str, bool | None]] = [
        (f"hpotrack ≤ 0.5 ms/trial at {n:,} trials", f"{hp_ms:.3f} ms", hp_ms <= 0.5)
    ]
    for store, factor in ((RDB, 40), (JOURNAL, 6)):
        size = max((s for s in args.sizes if (store, s) in seq), default=0)
        ratio = seq[store, size].mean / seq[HP, size].mean if size else 0.0
        measured = f"{ratio:.1f}× (both at {size:,} trials)" if size else "-"
        ok = ratio >= factor if size else None
        found.append((f"≥ {factor}× faster than {store}", measured, ok))
    errors = f"{top['errors']} exceptions, {top['failed']} failed"
    lost = f"{top['lost']} lost, {top['duplicated']} duplicated"
    rates = f"{top['rate']:.0f} vs {base['rate']:.0f} trials/s"
    faster = top["rate"] > base["rate"]
    found += [
        (f"last {w} ≤ 1.5× first {w} at {n:,}", f"{growth:.2f}×", growth <= 1.5),
        (f"{high} processes: zero errors", errors, top["errors"] == top["failed"] == 0),
        (f"{high} processes: zero lost or duplicated trials", lost, top["exact"]),
        (f"throughput {high} > {low} processes", rates, faster if high > low else None),
    ]
    verdict = {True: "PASS", False: "FAIL", None: "not measured"}
    correctness = {
        f"{high} processes: zero errors",
        f"{high} processes: zero lost or duplicated trials",
    }
    return [
        [target, measured, verdict[ok if timed or target in correctness else None]]
        for target, measured, ok in found
    ]


def parse_args() -> argparse.Namespace:
    """Command line, with the defaults that depend on --quick resolved."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="tiny sizes: a smoke test, under a minute")
    add("--full", action="store_true", help="Optuna RDB at full sizes; repeat Optuna mp runs")
    add("--repeats", type=int, help="runs per sequential size (default: 3)")
    add("--processes", default="1,2,4", help="process counts (default 1,2,4; quick 1,2)")
    add("--mp-trials", type=int, help="trials of the shared study (default 2000; quick 20)")
    add("--mp-repeats", type=int, help="hpotrack runs per process count (default 3; quick 1)")
    add("--skip-optuna", action="store_true", help="only hpotrack and the raw sqlite3 floor")
    add("--out", type=output_file, help="also write the tables to this markdown file")
    args = parser.parse_args()
    args.sizes, args.window = ([100, 300], 50) if args.quick else ([1000, 10000], 100)
    if args.quick and args.processes == parser.get_default("processes"):
        args.processes = "1,2"
    args.processes = [int(p) for p in args.processes.split(",")]
    args.mp_trials = args.mp_trials or (20 if args.quick else 2000)
    args.repeats = args.repeats or (1 if args.quick else None)
    args.mp_repeats = args.mp_repeats or (1 if args.quick else 3)
    return args


def main() -> None:
    """Run everything, print the tables, optionally write them as markdown."""
    args = parse_args()
    versions = versions_beside_optuna(args.skip_optuna)
    quiet()
    report = Report("hpotrack storage overhead")
    report.lines(environment(versions))
    seq = sequential(args, report)
    mp = multiprocess(args, report)
    report.table("Targets", targets(args, seq, mp), "target|measured|result")
    report.finish(args.out)


if __name__ == "__main__":
    main()

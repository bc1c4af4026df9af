"""The work a trial costs as the study grows, counted rather than timed, for every method.

DESIGN's third principle says a trial's bookkeeping must not grow with the study. On a
shared machine times vary by 2x or more between runs; counts do not. For each of
``method_overhead.py``'s hpotrack rows (same objectives, same spaces, through
``optimize()`` on a SQLite file) and each study size N, a fresh spawned process runs the
study to N trials, then counts over the next ``--window`` trials (from the start of one
objective call to the start of the last): the Python function calls (``cProfile``), the
SQLite virtual machine instructions (a progress handler on every connection: rows read
and written) and the SQL statements, each per trial. A count that grows from the smallest
N to the largest is work that grows with the study: a model filling its window (``tpe``
and ``bohb`` look at the last 1,000 trials, ``bayes`` keeps ``max_points`` observations),
or a read of every trial that should not be there.

    python benchmarks/trial_work.py                      # sizes 500 and 5,000: ~10 min
    python benchmarks/trial_work.py --quick              # smoke test, < 1 minute
    python benchmarks/trial_work.py --methods sha,hyperband --sizes 1000,10000
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import logging
import multiprocessing
import pstats
import sqlite3
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from _common import Report, comma_names, environment, load_average, output_file, versions_of
from method_overhead import HP_ROWS, hp_setup

SIZES = (500, 5000)
QUICK_SIZES = (100, 400)
CAPS = {"bayes": 1500}  # ~30-100 ms per ask: larger studies take minutes per run
GROWS = 1.2  # largest N over smallest N above this: the table says so


class Work(NamedTuple):
    """Per trial, over the window: Python calls, SQLite instructions, statements."""

    calls: float
    instructions: float
    statements: float


class Counters:
    """What every SQLite connection of the process runs, while :attr:`on`."""

    def __init__(self) -> None:
        self.on = False
        self.instructions = 0
        self.statements = 0

    def watch(self, connection: sqlite3.Connection) -> sqlite3.Connection:
        connection.set_trace_callback(self._statement)
        connection.set_progress_handler(self._step, 1)  # every instruction
        return connection

    def _statement(self, _: str) -> None:
        self.statements += self.on

    def _step(self) -> int:
        self.instructions += self.on
        return 0  # go on


def counted(row: str, size: int, window: int) -> Work:
    """Run ``row`` to ``size`` trials, then count the next ``window`` (in this process)."""
    counters = Counters()
    connect = sqlite3.connect
    sqlite3.connect = lambda *a, **k: counters.watch(connect(*a, **k))  # type: ignore[assignment]
    import hpotrack as hp

    logging.getLogger("hpotrack").setLevel(logging.ERROR)
    method, budget, objective, space = hp_setup(row)
    profile = cProfile.Profile()
    started = [0]

    @functools.wraps(objective)
    def watched(*args: Any, **kwargs: Any) -> Any:
        if started[0] == size:
            counters.on = True
            profile.enable()
        elif started[0] == size + window:
            profile.disable()
            counters.on = False
        started[0] += 1
        return objective(*args, **kwargs)

    with tempfile.TemporaryDirectory(prefix="hpotrack-work-") as folder:
        db = Path(folder) / "hp.db"
        tuned = hp.tune(space, method, study="work", db=db, seed=0, budget=budget)(watched)
        if row == "manual":  # its trials are enqueued: random points, as a warm start
            for i in range(size + window + 1):
                tuned.study.enqueue({"x": (i * 0.618034) % 10 - 5, "y": (i * 0.414214) % 10 - 5})
        tuned.optimize(n_trials=size + window + 1, progress=False)
    stats: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    calls = sum(s[1] for (file, _, _), s in stats.items() if file != __file__)  # not counters'
    return Work(calls / window, counters.instructions / window, counters.statements / window)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    names = [row.name for row in HP_ROWS]
    add("--methods", default=",".join(names), help=f"rows to count (default all: {names})")
    add("--sizes", help="study sizes N, comma separated (default 500,5000; quick 100,400)")
    add("--window", type=int, help="trials counted after each N (default 100; quick 20)")
    add("--quick", action="store_true", help="small sizes and window: a smoke test")
    add("--out", type=output_file, help="also write the table to this markdown file")
    args = parser.parse_args()
    args.methods = comma_names(parser, "--methods", args.methods, names)
    sizes = QUICK_SIZES if args.quick else SIZES
    args.sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else list(sizes)
    args.window = args.window or (20 if args.quick else 100)
    return args


def cell(work: Work | None, pick: Callable[[Work], float]) -> str:
    return "-" if work is None else f"{pick(work):,.0f}"


def growth(cells: list[Work | None], pick: Callable[[Work], float]) -> str:
    """Largest N's count over the smallest's, flagged above :data:`GROWS`."""
    reached = [pick(w) for w in cells if w is not None]
    if len(reached) < 2 or not reached[0]:
        return "-"
    times = reached[-1] / reached[0]
    return f"{times:.2f}" + (" grows" if times > GROWS else "")


def main() -> None:
    args = parse_args()
    report = Report("Work per trial as the study grows: calls, SQLite instructions, statements")
    report.lines(
        [
            *environment(versions_of(["hpotrack", "numpy"])),
            f"sizes {', '.join(f'{n:,}' for n in args.sizes)}; {args.window} trials counted "
            "after each, in a fresh spawned process per (method, size)",
        ]
    )
    began = time.perf_counter()
    rows = []
    spawn = multiprocessing.get_context("spawn")
    for name in args.methods:
        cells: list[Work | None] = []
        for size in args.sizes:
            if size > CAPS.get(name, size):
                cells.append(None)
                continue
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                cells.append(pool.submit(counted, name, size, args.window).result())
            print(f"  {name}, N = {size:,}: {cells[-1]}", flush=True)
        rows.append(
            [
                name,
                *(cell(w, lambda w: w.calls) for w in cells),
                growth(cells, lambda w: w.calls),
                *(cell(w, lambda w: w.instructions) for w in cells),
                growth(cells, lambda w: w.instructions),
                *(f"{w.statements:.1f}" if w else "-" for w in cells),
            ]
        )
    sizes = [f"N = {n:,}" for n in args.sizes]
    report.table(
        f"Per trial over the {args.window} trials after N",
        rows,
        "|".join(
            [
                "method",
                *(f"calls {s}" for s in sizes),
                "calls last/first",
                *(f"SQLite instr {s}" for s in sizes),
                "instr last/first",
                *(f"statements {s}" for s in sizes),
            ]
        ),
        "calls: Python function calls (cProfile); SQLite instr: virtual machine instructions "
        "(every statement's, on every connection); statements: SQL statements run. 'grows': "
        f"the largest N costs more than {GROWS}x the smallest. Capped rows: "
        + ", ".join(f"{name} at {cap:,} trials" for name, cap in CAPS.items())
        + ".",
    )
    minutes = (time.perf_counter() - began) / 60
    report.lines([f"finished after {minutes:.1f} min with {load_average()} (1, 5, 15 min)"])
    if args.out:
        report.write(args.out)


if __name__ == "__main__":
    main()

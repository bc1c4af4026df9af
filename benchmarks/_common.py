"""Helpers shared by the benchmark scripts: statistics, sizes, processes started together,
the run header and tables, and the command line and tables of the search benchmarks that
score methods at several trial counts T (multi_objective.py, constrained.py).

Every benchmark prints its tables as it goes and can also write them to a markdown file
(``--out``), headed by what was measured and where: the date, the machine, the Python, the
hpotrack checkout (commit, and whether ``hpotrack/`` had uncommitted changes) and the
versions of the libraries compared.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import itertools
import math
import multiprocessing
import os
import platform
import queue
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

from tabulate import tabulate

import hpotrack
from hpotrack.methods import known_methods


class Stats(NamedTuple):
    """Per-trial times of one run in ms: overall mean, mean of the first and of the last
    ``window`` trials, and last/first (how much slower the end of the run is)."""

    mean: float
    first: float
    last: float
    growth: float

    @classmethod
    def of(cls, stamps: Sequence[float], window: int) -> Stats:
        """Statistics of the intervals between consecutive time stamps (seconds)."""
        intervals = [b - a for a, b in itertools.pairwise(stamps)]
        window = min(window, len(intervals) // 2)
        first, last = mean(intervals[:window]) * 1e3, mean(intervals[-window:]) * 1e3
        return cls(mean(intervals) * 1e3, first, last, last / first)

    @classmethod
    def median(cls, runs: Sequence[Stats]) -> Stats:
        """Field by field median over repeated runs."""
        return cls(*(median(column) for column in zip(*runs, strict=True)))


BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread() -> None:
    """One BLAS thread per process: the runs share the machine's cores, and spawned
    workers inherit the variables before numpy loads there."""
    for variable in BLAS_THREADS:
        os.environ[variable] = "1"


def median(values: Iterable[float]) -> float:
    """The median of some numbers (NaN when there are none)."""
    found = list(values)
    return statistics.median(found) if found else float("nan")


def iqr(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    """The interquartile range over seeds as "a – b" in ``fmt`` ("-" for fewer than two)."""
    if len(values) < 2:
        return "-"
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return f"{fmt(q1)} – {fmt(q3)}"


def mean(values: Sequence[float]) -> float:
    """The arithmetic mean (NaN when empty)."""
    return sum(values) / len(values) if values else float("nan")


MIN_SEEDS = 5  # the issues' targets are medians over at least this many seeds


def verdict(seeds: Sequence[int], ok: bool) -> str:
    """PASS / FAIL for a target measured as a median over ``seeds`` (at least 5)."""
    found = "PASS" if ok else "FAIL"
    if len(seeds) >= MIN_SEEDS:
        return found
    return f"not measured (< {MIN_SEEDS} seeds; would be {found})"


def comma_names(
    parser: argparse.ArgumentParser, option: str, text: str, known: Sequence[str]
) -> list[str]:
    """The comma list ``text`` given to ``option`` as names, each one of ``known``
    (else the parser exits with a message naming the unknown ones)."""
    found = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in found if name not in known]
    if unknown:
        parser.error(f"{option}: unknown {', '.join(unknown)}; known: {', '.join(known)}")
    return found


def total_size(paths: Iterable[Path]) -> int:
    """Bytes taken by the files that exist among ``paths``."""
    return sum(p.stat().st_size for p in paths if p.exists())


def git_revision(directory: Path) -> str:
    """Short commit of the checkout holding ``directory``, flagged when that directory has
    uncommitted changes; ``"not a git checkout"`` otherwise."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(directory), *args], capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".")
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"{commit} + uncommitted changes" if dirty else commit


def load_average() -> str:
    """The system load averages, e.g. ``"load average 0.52, 0.61, 0.70"``."""
    return "load average {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())


def versions_of(names: Iterable[str], hint: str = "") -> dict[str, str]:
    """The installed versions of the libraries a run needs; if one is missing, exit
    with one line saying how to install them (``hint``: another way out), not with a
    traceback."""
    names = list(names)
    modules = {"scikit-learn": "sklearn"}
    missing = [n for n in names if importlib.util.find_spec(modules.get(n, n)) is None]
    if missing:
        sys.exit(
            f"{Path(sys.argv[0]).name}: {', '.join(missing)} not installed; run "
            f'pip install -e ".[bench]" from the repository root{hint}'
        )
    return {name: metadata.version(name) for name in names}


def output_file(text: str) -> Path:
    """An ``--out``/``--plot``/``--cache`` file (argparse ``type=``), refused before the run
    when it could not be written after it: its folder missing, or the path a folder."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder; name a file in it")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(
            f"the folder {path.parent} does not exist; create it first, or name a file in "
            "an existing folder"
        )
    return path


def versions_beside_optuna(skip_optuna: bool, *others: str) -> dict[str, str]:
    """:func:`versions_of` hpotrack, ``others`` and, unless ``skip_optuna``, Optuna; when
    Optuna is the one missing, the message also offers ``--skip-optuna``."""
    names = ["hpotrack", *others, *([] if skip_optuna else ["optuna"])]
    optuna_missing = not skip_optuna and importlib.util.find_spec("optuna") is None
    return versions_of(names, ", or leave Optuna out with --skip-optuna" * optuna_missing)


def environment(versions: dict[str, str]) -> list[str]:
    """Lines describing this run, for the top of the report; the hpotrack checkout is the
    one this process imports (``PYTHONPATH`` may point at another clone than the
    benchmarks' own)."""
    checkout = Path(hpotrack.__file__).resolve().parent
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    libraries = ", ".join(f"{name} {version}" for name, version in versions.items())
    return [
        f"date: {now}",
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        f"python: {platform.python_version()}, sqlite {sqlite3.sqlite_version}",
        f"hpotrack: {checkout} at {git_revision(checkout)}",
        f"libraries: {libraries}",
        f"temporary files in: {tempfile.gettempdir()}",
        f"{load_average()} at start (1, 5, 15 min): other work on the machine adds noise",
    ]


def describe(exc: BaseException) -> str:
    """An exception on one short line: ``OperationalError: database is locked``."""
    first = (str(exc).splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:90]}"


def run_together(
    target: Callable[..., None], jobs: Sequence[tuple[Any, ...]]
) -> tuple[float, list[Any], list[int | None]]:
    """Run ``target(*job, ready, go, results)`` in one spawned process per job, timed
    from a common start: each process puts something in ``ready`` once set up, waits for
    the ``go`` event, then puts its result in ``results``. Returns (seconds from the start
    signal to the last result, the results, the processes' exit codes)."""
    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    processes = [context.Process(target=target, args=(*job, ready, go, results)) for job in jobs]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=600)
    start = time.perf_counter()
    go.set()
    found: list[Any] = []
    while len(found) < len(processes):
        try:
            found.append(results.get(timeout=1))
        except queue.Empty:
            if not any(p.is_alive() for p in processes) and results.empty():
                break  # a process died without a result
    seconds = time.perf_counter() - start
    for process in processes:
        process.join()
    return seconds, found, [p.exitcode for p in processes]


class Report:
    """Prints sections and tables as they are produced; keeps them for a markdown file."""

    def __init__(self, title: str) -> None:
        self.parts: list[str] = [f"# {title}"]
        print(title, flush=True)

    def lines(self, lines: Sequence[str]) -> None:
        """Free text: printed as is, a bullet list in the markdown."""
        print("\n".join(lines), flush=True)
        self.parts.append("\n".join(f"- {line}" for line in lines))

    def table(
        self, title: str, rows: Sequence[Sequence[Any]], headers: str, notes: str = ""
    ) -> None:
        """A titled table (github/markdown format) with optional notes below it; ``headers``
        names the columns, separated by ``|``."""
        text = tabulate(rows, headers=headers.split("|"), tablefmt="github", disable_numparse=True)
        print(f"\n{title}\n{text}" + (f"\n{notes}" if notes else ""), flush=True)
        self.parts.append(f"## {title}\n\n{text}" + (f"\n\n{notes}" if notes else ""))

    def write(self, path: Path) -> None:
        """Write everything reported so far as markdown."""
        path.write_text("\n\n".join(self.parts) + "\n", encoding="utf-8")

    def finish(self, out: Path | None, notes: Sequence[str] = ()) -> None:
        """The run's last lines (``notes``, then the load average it ended with, which
        says how much other work shared the machine), and the markdown file if asked."""
        self.lines([*notes, f"finished with {load_average()} (1, 5, 15 min)"])
        if out:
            self.write(out)


def default_workers(requested: int | None) -> int:
    """How many worker processes to run: ``requested`` (``--workers``) within 1-2, else 2,
    or 1 when the 1-minute load is over 1.5 (another run would share the cores)."""
    load = os.getloadavg()[0]
    return max(1, min(2, requested or (1 if load > 1.5 else 2)))


def search_environment(
    args: argparse.Namespace,
    optuna_rows: Sequence[str],
    model_tasks: Sequence[str],
    optional: Iterable[str] = (),
) -> list[str]:
    """The header lines of a search benchmark: :func:`environment` with the versions of
    hpotrack, of Optuna when ``optuna_rows`` run its samplers and of scikit-learn when
    ``model_tasks`` fit its models (if one is missing, the exit message offers to leave
    out those rows or tasks), and of the ``optional`` libraries installed; then the
    workers and seeds (``args.workers``, ``args.seeds``)."""
    needed = ["hpotrack", *(["optuna"] if optuna_rows else [])]
    needed += ["scikit-learn"] if model_tasks else []
    leave_out = [f"{', '.join(optuna_rows)} (--methods)"] if optuna_rows else []
    leave_out += [f"{', '.join(model_tasks)} (--tasks)"] if model_tasks else []
    versions = versions_of(needed, f", or leave out {' and '.join(leave_out)}" * bool(leave_out))
    versions |= {
        name: metadata.version(name) for name in optional if importlib.util.find_spec(name)
    }
    lines = environment(versions)
    lines.append(f"{args.workers} worker process(es); {len(args.seeds)} seeds; one thread each")
    return lines


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options every search benchmark takes beside its own: --workers and --out."""
    add = parser.add_argument
    add("--workers", type=int, help="processes (default 2, or 1 if the 1-min load > 1.5)")
    add("--out", type=output_file, help="also write the tables to this markdown file")


def seed_numbers(parser: argparse.ArgumentParser, seeds: int, quick: bool) -> list[int]:
    """Seeds 0..N-1 for ``--seeds N`` (2 at most with ``--quick``); N < 1 exits saying so."""
    if seeds < 1:
        parser.error(f"`--seeds >= 1` must hold, but got --seeds={seeds}")
    return list(range(min(seeds, 2) if quick else seeds))


def parse_search_args(
    description: str,
    largest_trials: Mapping[str, int],
    quick_trials: Mapping[str, int],
    own: Sequence[str],
    optuna: Mapping[str, str],
    needs: Mapping[str, str],
    why_not_own: Callable[[str], str | None],
    help_texts: tuple[str, str],
    quick_leaves_out: Sequence[str],
) -> argparse.Namespace:
    """The command line of a search benchmark scored at several T: ``--seeds`` (a list of
    seed numbers after parsing), ``--tasks`` (``largest_trials``'s keys; ``args.trials``
    maps each to its largest T, ``quick_trials``'s with ``--quick``), ``--methods``
    (``own`` hpotrack methods and ``optuna``'s samplers; ``--quick`` leaves
    ``quick_leaves_out`` out unless named), ``--quick``, ``--workers`` and ``--out``.
    A method that cannot run here moves from ``args.methods`` to ``args.skipped`` with
    why: an Optuna sampler whose ``needs`` module is missing, an hpotrack method for which
    ``why_not_own`` gives a reason; an unknown name exits with a message. ``help_texts``:
    the help of --methods and of --quick. ``args.baseline``: random search, hpotrack's,
    else Optuna's."""
    defaults = [*own, *optuna]
    parser = argparse.ArgumentParser(description=description)
    add = parser.add_argument
    add("--seeds", type=int, default=10, help="seeds per method and task (default 10)")
    tasks = ", ".join(largest_trials)
    add("--tasks", default=",".join(largest_trials), help=f"comma list of {tasks}")
    add("--methods", default=",".join(defaults), help=help_texts[0])
    add("--quick", action="store_true", help=help_texts[1])
    add_run_options(parser)
    args = parser.parse_args()
    args.seeds = seed_numbers(parser, args.seeds, args.quick)
    if args.quick and args.methods == parser.get_default("methods"):
        args.methods = ",".join(m for m in defaults if m not in quick_leaves_out)
    args.tasks = comma_names(parser, "--tasks", args.tasks, list(largest_trials))
    args.trials = {t: (quick_trials if args.quick else largest_trials)[t] for t in args.tasks}
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    args.skipped = {}
    for method in list(args.methods):
        if method in optuna:
            module = needs.get(method)
            if module and importlib.util.find_spec(module) is None:
                args.skipped[method] = f"skipped: {module} not installed (pip install {module})"
        elif method not in known_methods():
            parser.error(f"--methods: unknown {method!r}; known: {', '.join(defaults)}")
        elif why := why_not_own(method):
            args.skipped[method] = why
        if method in args.skipped:
            args.methods.remove(method)
    args.baseline = next((m for m in ("random", "optuna-random") if m in args.methods), "random")
    args.workers = default_workers(args.workers)
    return args


def scaled_counts(counts: Sequence[int], trials: int) -> list[int]:
    """The trial counts T a run of ``trials`` trials is scored at: ``counts`` scaled so
    that the largest is ``trials`` (each at least 1, repeats once)."""
    return sorted({max(1, round(t * trials / counts[-1])) for t in counts})


Runs = Sequence[Sequence[Any]]
"""The runs of one (method, task), one per seed: each starts (scores at every T, seconds
per suggestion, wall seconds)."""
Column = tuple[str, Callable[[str, Runs], str]]
"""A table column: its header, and its cell from a method's name and runs."""


def score_columns(
    score: str, counts: Sequence[int], cell: Callable[[list[float]], str]
) -> list[Column]:
    """One column per T of ``counts``, "``score`` at T = t (IQR)": ``cell`` of the
    seeds' scores at that T."""
    return [
        (f"{score} at T = {t} (IQR)", lambda _, runs, i=i: cell([r[0][i] for r in runs]))
        for i, t in enumerate(counts)
    ]


def wins_column(
    baseline: str, baseline_runs: Runs, largest: int, beats: Callable[[float, float], bool]
) -> Column:
    """ "wins vs ``baseline``": the seeds whose score at the largest T ``beats`` the
    baseline's with the same seed number ("-" on the baseline's row, or without it)."""

    def wins(method: str, runs: Runs) -> str:
        if method == baseline or not baseline_runs:
            return "-"
        pairs = zip((r[0][-1] for r in runs), (r[0][-1] for r in baseline_runs), strict=False)
        return f"{sum(beats(a, b) for a, b in pairs)}/{len(runs)}"

    return f"wins vs {baseline} at T = {largest}", wins


TIMING_COLUMNS: list[Column] = [
    ("ms per ask", lambda _, runs: f"{median(r[1] for r in runs) * 1e3:.3g}"),
    ("s per run", lambda _, runs: f"{median(r[2] for r in runs):.1f}"),
]
"""The median over seeds of the mean time per suggestion and of the run's wall time."""


def method_table(
    report: Report,
    title: str,
    rows_of: Sequence[str],
    runs_of: Callable[[str], Runs],
    why_none: Mapping[str, str],
    columns: Sequence[Column],
) -> None:
    """A table with a row per method of ``rows_of``, a cell per column from its runs; a
    method without runs gets ``why_none[method]`` (else "no result") in the first."""
    rows: list[list[str]] = []
    for method in rows_of:
        runs = runs_of(method)
        if not runs:
            rows.append([method, why_none.get(method, "no result"), *[""] * (len(columns) - 1)])
        else:
            rows.append([method, *(cell(method, runs) for _, cell in columns)])
    report.table(title, rows, "|".join(["method", *(header for header, _ in columns)]))


def ranked_overview(
    report: Report,
    args: argparse.Namespace,
    medians: Mapping[tuple[str, str], float],
    minimize: bool,
    shown: Callable[[float], str],
    title: str,
    notes: str,
) -> None:
    """Per method of ``args.methods`` and task of ``args.tasks``: the median score at the
    task's largest T (``medians``), ``shown``, with its rank among the methods (1: the
    least if ``minimize``, else the largest; ties share a rank), and the method's mean
    rank over the tasks it ran; ``notes`` follow the largest T of each task."""
    worst = math.inf if minimize else -math.inf
    rows = []
    for method in args.methods:
        cells, ranks = [], []
        for task in args.tasks:
            value = medians.get((method, task))
            if value is None:
                cells.append("-")
                continue
            others = (medians.get((m, task), worst) for m in args.methods)
            rank = 1 + sum((v < value) if minimize else (v > value) for v in others)
            ranks.append(rank)
            cells.append(f"{shown(value)} ({rank})")
        rows.append([method, *cells, f"{statistics.mean(ranks):.2g}" if ranks else "-"])
    largest = ", ".join(f"{t} {args.trials[t]}" for t in args.tasks)
    report.table(
        title,
        rows,
        "method|" + "|".join(args.tasks) + "|mean rank",
        f"Largest T: {largest}. {notes}",
    )

"""What a trial costs the library as the study grows, for every method, end to end through
``optimize()`` on a SQLite file, side by side with Optuna on a file storage.

Each row runs one study to its largest size N in one ``optimize()`` call, with a trivial
objective over two floats in [-5, 5] (``x² + y²``), and stamps ``perf_counter()`` at the
start of every objective call (the last interval ends when ``optimize`` returns). The mean
ms per trial over the ``--window`` trials before each N is then what the library does
between two objective calls, tell, ask and the trial's reports included, at that size.

hpotrack (its SQLite file in WAL mode, in a temporary folder):

- ``random``, ``tpe``, ``bayes``, ``evolution``, ``auto``: the objective returns the value.
- ``random+median``: ``Random(pruner="median")``, 5 reports per trial (``v + 1/step``).
- ``grid``: two ``Int(0, 999)``, a grid of 1,000,000 cells.
- ``manual``: the N trials are enqueued beforehand (``skip_if_exists=True``, not timed;
  their cost per call is printed below the table), then ``optimize()`` runs them.
- ``sha``, ``hyperband``, ``bohb``: ``Budget(1, 27)``, a report at each step of
  ``trial.steps``; ``+ckpt``: the same saving a checkpoint at each step first, as a
  training loop would (``trial.load_checkpoint()``, ``trial.save_checkpoint(obj, step)``).
- ``pbt``: ``PBT(population=8, interval=1)`` with generations enough never to end; each
  segment loads its checkpoint, reports and saves one.
- ``gradient``: ``Gradient(tolerance=0)`` on user hypergradients of random signs (so the
  descent never settles); ``gradient-spsa``: the same without hypergradients (SPSA probes).

Optuna (``JournalStorage(JournalFileBackend(...))``, which its documentation recommends
for several processes on one machine; ``--optuna-storage memory``: ``InMemoryStorage``),
the same objective and reports through ``study.optimize``, ``should_prune`` after each
report: ``RandomSampler`` (against ``random``), with ``MedianPruner`` (``random+median``),
``GridSampler`` on the same grid (``grid``), ``TPESampler`` and the multivariate one
(``tpe``, multivariate too), ``NSGAIISampler`` and ``CmaEsSampler`` (``evolution``; CMA-ES
needs the ``cmaes`` package), ``GPSampler`` (``bayes``; needs torch), ``RandomSampler`` with
``SuccessiveHalvingPruner`` / ``HyperbandPruner`` and ``TPESampler`` with
``HyperbandPruner`` (``sha``, ``hyperband``, ``bohb`` and their ``+ckpt`` rows; Optuna saves
no checkpoint). ``manual``, ``auto``, ``pbt`` and the gradients have no counterpart.

Every (row, run) is a fresh spawned process (so one library's garbage never slows the
other), one at a time, one BLAS thread; runs go round robin over the rows. Rows too slow
to reach the largest size stop earlier (``--caps``): ``bayes`` (~30 ms per ask) at 1,000
trials, Optuna's ``GridSampler`` (which, after each trial, compares the grid every stored
trial names with its own and lists the 1,000,000 cells left: 0.8 s per trial at 250 trials,
growing) at 250, once.

    python benchmarks/method_overhead.py --out overhead.md     # ~25 min on 2 busy cores
    python benchmarks/method_overhead.py --quick               # smoke test, < 2 min
    python benchmarks/method_overhead.py --methods sha,bohb --sizes 500,2000 --repeats 1
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import logging
import multiprocessing
import random
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import (
    Report,
    comma_names,
    describe,
    environment,
    load_average,
    median,
    one_blas_thread,
    output_file,
    versions_beside_optuna,
)

if TYPE_CHECKING:
    import optuna

    import hpotrack as hp

REPORTS = 5  # reports per trial of the median-pruned rows
MAX_STEPS = 27  # Budget(1, 27): rungs at 1, 3, 9 (reduction factor 3)
GRID_SIDE = 1000  # grid rows: two ints in 0..999
SIZES = (250, 1000, 3000)
QUICK_SIZES = (100, 200)
CAPS = "bayes=1000,optuna-grid=250/1"  # row=max trials[/max runs]
QUICK_CAPS = "optuna-grid=100"
STAMPS: list[float] = []  # perf_counter() at the start of each objective call


@dataclass(frozen=True)
class Row:
    """One line of the tables: what runs, and what it is compared with."""

    name: str
    counterparts: tuple[str, ...] = ()  # hpotrack rows: the Optuna rows they face
    needs: str = ""  # Optuna rows: a module they need that Optuna does not install


HP_ROWS = [
    Row("random", ("optuna-random",)),
    Row("random+median", ("optuna-random+median",)),
    Row("grid", ("optuna-grid",)),
    Row("manual"),
    Row("tpe", ("optuna-tpe", "optuna-tpe-mv")),
    Row("bayes", ("optuna-gp",)),
    Row("evolution", ("optuna-nsga2", "optuna-cmaes")),
    Row("sha", ("optuna-random+sha",)),
    Row("hyperband", ("optuna-random+hyperband",)),
    Row("bohb", ("optuna-tpe+hyperband",)),
    Row("sha+ckpt", ("optuna-random+sha",)),
    Row("hyperband+ckpt", ("optuna-random+hyperband",)),
    Row("bohb+ckpt", ("optuna-tpe+hyperband",)),
    Row("pbt"),
    Row("gradient"),
    Row("gradient-spsa"),
    Row("auto"),
]
OPTUNA_ROWS = [
    Row("optuna-random"),
    Row("optuna-random+median"),
    Row("optuna-grid"),
    Row("optuna-tpe"),
    Row("optuna-tpe-mv"),
    Row("optuna-gp", needs="torch"),
    Row("optuna-nsga2"),
    Row("optuna-cmaes", needs="cmaes"),
    Row("optuna-random+sha"),
    Row("optuna-random+hyperband"),
    Row("optuna-tpe+hyperband"),
]
ROWS = {row.name: row for row in HP_ROWS + OPTUNA_ROWS}


# -- hpotrack: the objectives (module level, so the spawned process finds them) ----------


def plain(x: float, y: float) -> float:
    """The trivial objective, no reports."""
    STAMPS.append(time.perf_counter())
    return x * x + y * y


def five_reports(x: float, y: float, trial: hp.Trial) -> float:
    """5 reports, for the median pruner (raises hp.Pruned when it stops the trial)."""
    STAMPS.append(time.perf_counter())
    value = x * x + y * y
    for step in range(1, REPORTS + 1):
        trial.report(value + 1 / step, step=step)
    return value


def each_step(x: float, y: float, trial: hp.Trial) -> float:
    """A report at each step of the trial's budget (a promotion continues its parent)."""
    STAMPS.append(time.perf_counter())
    value = x * x + y * y
    for step in trial.steps:
        trial.report(value + 1 / step, step=step)
    return value


def each_step_saving(x: float, y: float, trial: hp.Trial) -> float:
    """As :func:`each_step`, saving a (tiny) checkpoint at each step before its report."""
    return _saving(x, y, trial, report_first=False)


def pbt_segment(x: float, y: float, trial: hp.Trial) -> float:
    """One PBT segment: continue the member's checkpoint, report, save."""
    return _saving(x, y, trial, report_first=True)


def _saving(x: float, y: float, trial: hp.Trial, *, report_first: bool) -> float:
    """A report and a checkpoint at each step, continuing the trial's checkpoint."""
    STAMPS.append(time.perf_counter())
    state = trial.load_checkpoint() or {"epochs": 0}
    value = x * x + y * y
    for step in trial.steps:
        state = {"epochs": state["epochs"] + 1}
        if report_first:
            trial.report(value + 1 / step, step=step)
        trial.save_checkpoint(state, step=step)
        if not report_first:
            trial.report(value + 1 / step, step=step)
    return value


def with_hypergradient(x: float, y: float, trial: hp.Trial) -> dict[str, Any]:
    """The value and a hypergradient of pseudo-random signs: Adam never settles."""
    STAMPS.append(time.perf_counter())
    n = trial.number
    gx = 1.0 if (n * 2654435761) % 7 < 3 else -1.0
    gy = 1.0 if (n * 40503) % 5 < 2 else -1.0
    return {"value": x * x + y * y, "hypergrad": {"x": gx, "y": gy}}


def hp_setup(row: str) -> tuple[Any, hp.Budget | None, Callable[..., Any], dict[str, Any]]:
    """(method, budget, objective, space) of an hpotrack row."""
    import hpotrack as hp

    space: dict[str, Any] = {"x": hp.Float(-5.0, 5.0), "y": hp.Float(-5.0, 5.0)}
    budget = hp.Budget(1, MAX_STEPS)
    if row == "grid":
        return "grid", None, plain, {"x": hp.Int(0, GRID_SIDE - 1), "y": hp.Int(0, GRID_SIDE - 1)}
    if row == "random+median":
        return hp.methods.Random(pruner="median"), None, five_reports, space
    if row in ("sha", "hyperband", "bohb"):
        return row, budget, each_step, space
    if row.endswith("+ckpt"):
        return row.removesuffix("+ckpt"), budget, each_step_saving, space
    if row == "pbt":
        return hp.methods.PBT(population=8, interval=1, generations=10**6), None, pbt_segment, space
    if row == "gradient":
        return hp.methods.Gradient(tolerance=0.0), None, with_hypergradient, space
    if row == "gradient-spsa":
        return hp.methods.Gradient(tolerance=0.0), None, plain, space
    return row, None, plain, space  # random, manual, tpe, bayes, evolution, auto


def enqueue(study: hp.Study, trials: int, seed: int, window: int) -> str:
    """Queue ``trials`` random points (as a warm start would); their cost per call."""
    draw = random.Random(seed)
    seconds = []
    for _ in range(trials):
        began = time.perf_counter()
        study.enqueue({"x": draw.uniform(-5, 5), "y": draw.uniform(-5, 5)}, skip_if_exists=True)
        seconds.append(time.perf_counter() - began)
    first, last = seconds[:window], seconds[-window:]
    return (
        f"enqueue(skip_if_exists=True): {sum(first) / len(first) * 1e3:.2f} ms per call for "
        f"the first {len(first)}, {sum(last) / len(last) * 1e3:.2f} ms for the last {len(last)}"
    )


def run_hpotrack(row: str, trials: int, seed: int, folder: Path, window: int) -> str:
    """``trials`` trials of an hpotrack row in one optimize() call; a note, or ""."""
    import hpotrack as hp

    logging.getLogger("hpotrack").setLevel(logging.WARNING)
    method, budget, objective, space = hp_setup(row)
    tuned = hp.tune(space, method, study="bench", db=folder / "hp.db", seed=seed, budget=budget)
    function = tuned(objective)
    note = enqueue(function.study, trials, seed, window) if row == "manual" else ""
    function.optimize(n_trials=trials, progress=False)
    STAMPS.append(time.perf_counter())
    return note


# -- Optuna ------------------------------------------------------------------------------


def optuna_objective(trial: optuna.Trial, reports: int = 0, grid: bool = False) -> float:
    """The same objective: ``reports`` reports, each followed by ``should_prune``."""
    import optuna

    STAMPS.append(time.perf_counter())
    if grid:
        x, y = trial.suggest_int("x", 0, GRID_SIDE - 1), trial.suggest_int("y", 0, GRID_SIDE - 1)
    else:
        x, y = trial.suggest_float("x", -5.0, 5.0), trial.suggest_float("y", -5.0, 5.0)
    value = x * x + y * y
    for step in range(1, reports + 1):
        trial.report(value + 1 / step, step)
        if trial.should_prune():
            raise optuna.TrialPruned
    return value


def optuna_setup(row: str, seed: int) -> tuple[Any, Any, Callable[[optuna.Trial], float]]:
    """(sampler, pruner, objective) of an Optuna row."""
    import optuna

    samplers = optuna.samplers
    sampler: Any = samplers.RandomSampler(seed=seed)
    if row.startswith("optuna-tpe"):
        sampler = samplers.TPESampler(seed=seed, multivariate=row == "optuna-tpe-mv")
    elif row == "optuna-grid":
        side = list(range(GRID_SIDE))
        sampler = samplers.GridSampler({"x": side, "y": side}, seed=seed)
    elif row == "optuna-nsga2":
        sampler = samplers.NSGAIISampler(seed=seed)
    elif row == "optuna-cmaes":
        sampler = samplers.CmaEsSampler(seed=seed)
    elif row == "optuna-gp":
        sampler = samplers.GPSampler(seed=seed)
    pruner: Any = None
    reports = 0
    if row == "optuna-random+median":
        pruner, reports = optuna.pruners.MedianPruner(), REPORTS
    elif row == "optuna-random+sha":
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
        reports = MAX_STEPS
    elif row.endswith("+hyperband"):
        pruner = optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=MAX_STEPS, reduction_factor=3
        )
        reports = MAX_STEPS
    objective = functools.partial(optuna_objective, reports=reports, grid=row == "optuna-grid")
    return sampler, pruner, objective


def run_optuna(row: str, trials: int, seed: int, folder: Path, storage: str) -> str:
    """``trials`` trials of an Optuna row in one study.optimize() call."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    sampler, pruner, objective = optuna_setup(row, seed)
    journal = str(folder / "journal.log")
    where = None if storage == "memory" else JournalStorage(JournalFileBackend(journal))
    study = optuna.create_study(study_name="bench", storage=where, sampler=sampler, pruner=pruner)
    study.optimize(objective, n_trials=trials)
    STAMPS.append(time.perf_counter())
    return ""


def job(row: str, trials: int, seed: int, window: int, storage: str) -> tuple[list[float], str]:
    """One run in this (fresh) process: the objective-start stamps and a note."""
    STAMPS.clear()
    with tempfile.TemporaryDirectory(prefix="hpotrack-bench-") as tmp:
        if row.startswith("optuna-"):
            note = run_optuna(row, trials, seed, Path(tmp), storage)
        else:
            note = run_hpotrack(row, trials, seed, Path(tmp), window)
    if len(STAMPS) != trials + 1:
        raise RuntimeError(f"{row}: {len(STAMPS) - 1} objective calls, expected {trials}")
    return list(STAMPS), note


def spawned(row: str, trials: int, seed: int, window: int, storage: str) -> tuple[list[float], str]:
    """:func:`job` in a fresh spawned process, waited for."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(job, row, trials, seed, window, storage).result()


# -- the runs and the tables -------------------------------------------------------------


def per_size(stamps: Sequence[float], sizes: Sequence[int], window: int) -> list[float | None]:
    """Mean ms per trial over the ``window`` trials before each size (None: not reached)."""
    trials = len(stamps) - 1
    found: list[float | None] = []
    for n in sizes:
        start = max(0, n - window)
        found.append((stamps[n] - stamps[start]) / (n - start) * 1e3 if n <= trials else None)
    return found


@dataclass
class Measured:
    """What the runs of one row gave."""

    runs: list[list[float | None]]  # ms per trial at each size, one list per run
    seconds: list[float]  # wall time of each run's optimize()
    notes: list[str]
    error: str = ""

    def at(self, index: int) -> float | None:
        """Median ms per trial over the runs at size number ``index``."""
        found = [run[index] for run in self.runs if run[index] is not None]
        return median(found) if found else None


def parse_caps(parser: argparse.ArgumentParser, text: str) -> dict[str, tuple[int, int | None]]:
    """``row=trials[/runs],...`` as {row: (max trials, max runs or None)}."""
    caps: dict[str, tuple[int, int | None]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, limit = item.partition("=")
        trials, _, runs = limit.partition("/")
        if name not in ROWS or not trials.isdigit() or (runs and not runs.isdigit()):
            parser.error(f"--caps: {item!r} is not ROW=TRIALS[/RUNS] with a known row")
        caps[name] = (int(trials), int(runs) if runs else None)
    return caps


def parse_args() -> argparse.Namespace:
    """The command line, with --quick and the rows resolved."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    hp_names = ",".join(row.name for row in HP_ROWS)
    add("--methods", default=hp_names, help="hpotrack rows (each brings its Optuna rows) "
        "and/or Optuna rows by name (default: every hpotrack method)")  # fmt: skip
    add("--sizes", default=",".join(map(str, SIZES)), help="study sizes N to report at")
    add("--window", type=int, default=100, help="trials before each N that are timed")
    add("--repeats", type=int, default=3, help="runs per row (seeds 0..), median shown")
    add("--caps", default=CAPS, help="ROW=TRIALS[/RUNS],...: rows that stop earlier")
    add("--optuna-storage", choices=("journal", "memory"), default="journal",
        help="Optuna's rows on a journal file (default) or in memory")  # fmt: skip
    add("--skip-optuna", action="store_true", help="hpotrack's rows only")
    add("--quick", action="store_true", help="sizes 100,200, window 50, one run: smoke test")
    add("--out", type=output_file, help="also write the tables to this markdown file")
    args = parser.parse_args()
    names = comma_names(parser, "--methods", args.methods, list(ROWS))
    wanted = set(names)
    if not args.skip_optuna:
        wanted |= {other for name in names for other in ROWS[name].counterparts}
    args.rows = [row for row in HP_ROWS + OPTUNA_ROWS if row.name in wanted]
    if args.skip_optuna:
        args.rows = [row for row in args.rows if row in HP_ROWS]
    args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if args.quick:
        args.sizes, args.window, args.repeats = list(QUICK_SIZES), 50, 1
        args.caps = QUICK_CAPS if args.caps == CAPS else args.caps
    args.caps = parse_caps(parser, args.caps)
    if args.window < 1 or args.repeats < 1 or not args.sizes or args.sizes[0] < 1:
        parser.error("--window, --repeats and every size must be at least 1")
    return args


def plan(args: argparse.Namespace, row: Row) -> tuple[int, int]:
    """(trials, runs) of a row: the largest size and --repeats, or its cap."""
    trials, runs = args.caps.get(row.name, (args.sizes[-1], None))
    return min(trials, args.sizes[-1]), min(runs or args.repeats, args.repeats)


def missing(row: Row) -> str:
    """Why a row cannot run here ("" if it can)."""
    if row.needs and importlib.util.find_spec(row.needs) is None:
        return f"skipped: {row.needs} not installed"
    return ""


def measure(args: argparse.Namespace) -> dict[str, Measured]:
    """Run every row --repeats times, round robin over the rows, one process per run."""
    found = {row.name: Measured([], [], []) for row in args.rows}
    for row in args.rows:
        found[row.name].error = missing(row)
    for repeat in range(args.repeats):
        for row in args.rows:
            trials, runs = plan(args, row)
            measured = found[row.name]
            if measured.error or repeat >= runs:
                continue
            print(
                f"  {row.name}, {trials:,} trials, run {repeat + 1}/{runs} ...", end="", flush=True
            )
            try:
                stamps, note = spawned(row.name, trials, repeat, args.window, args.optuna_storage)
            except Exception as exc:  # a row that fails is reported, the others go on
                measured.error = f"failed: {describe(exc)}"
                print(f" {measured.error}", flush=True)
                continue
            measured.runs.append(per_size(stamps, args.sizes, args.window))
            measured.seconds.append(stamps[-1] - stamps[0])
            if note:
                measured.notes.append(note)
            cells = " / ".join(f"{v:.2f}" for v in measured.runs[-1] if v is not None)
            print(f" {cells} ms per trial, {measured.seconds[-1]:.1f} s", flush=True)
    return found


def ms(value: float | None) -> str:
    """Milliseconds for a table cell ("-": not measured)."""
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def times_table(args: argparse.Namespace, found: dict[str, Measured], report: Report) -> None:
    """Mean ms per trial at each size, last/first, runs and seconds per run."""
    rows = []
    for row in args.rows:
        measured = found[row.name]
        if measured.error:
            rows.append([row.name, measured.error, *[""] * (len(args.sizes) + 2)])
            continue
        cells = [measured.at(i) for i in range(len(args.sizes))]
        reached = [cell for cell in cells if cell is not None]
        growth = f"{reached[-1] / reached[0]:.2f}" if len(reached) > 1 else "-"
        seconds = f"{median(measured.seconds):.1f}"
        rows.append([row.name, *map(ms, cells), growth, len(measured.runs), seconds])
    storage = "a journal file" if args.optuna_storage == "journal" else "InMemoryStorage"
    capped = ", ".join(
        f"{name} at {trials:,} trials" + (f" ({runs} run)" if runs == 1 else "")
        for name, (trials, runs) in args.caps.items()
        if name in found and (trials < args.sizes[-1] or (runs or args.repeats) < args.repeats)
    )
    notes = [
        "Interval between consecutive objective starts: the library's tell + ask + the "
        "trial's reports (and checkpoints), plus a trivial objective. hpotrack on its SQLite "
        f"file; Optuna on {storage}. last/first: the largest N a row reached over the first; "
        "s per run: from the first objective call to the return of optimize (median)."
    ]
    if capped:
        notes.append(f"Stopped earlier (--caps): {capped}.")
    notes += [f"{name}: {note}" for name, m in found.items() for note in m.notes[:1]]
    report.table(
        f"Mean ms per trial over the {args.window} trials before N, median of up to "
        f"{args.repeats} run(s)",
        rows,
        "method|" + "|".join(f"N = {n:,}" for n in args.sizes) + "|last/first|runs|s per run",
        "\n\n".join(notes),
    )


def ratio(mine: float | None, theirs: float | None) -> str:
    """How many times faster hpotrack is (Optuna's ms over hpotrack's)."""
    if mine is None or theirs is None:
        return "-"
    times = theirs / mine
    return f"{times:.2f}x" if times < 1 else f"{times:.1f}x" if times < 10 else f"{times:.0f}x"


def ratio_table(args: argparse.Namespace, found: dict[str, Measured], report: Report) -> None:
    """hpotrack against each of its Optuna counterparts, size by size."""
    rows = []
    for row in HP_ROWS:
        for other in row.counterparts:
            if row.name not in found or other not in found:
                continue
            mine, theirs = found[row.name], found[other]
            if mine.error or theirs.error:
                rows.append([f"{row.name} vs {other}", mine.error or theirs.error])
                rows[-1] += [""] * (len(args.sizes) - 1)
                continue
            sizes = range(len(args.sizes))
            rows.append(
                [f"{row.name} vs {other}", *(ratio(mine.at(i), theirs.at(i)) for i in sizes)]
            )
    if rows:
        report.table(
            "How many times faster per trial than the Optuna counterpart (Optuna's ms / "
            "hpotrack's)",
            rows,
            "rows|" + "|".join(f"N = {n:,}" for n in args.sizes),
            "Same objective, reports and study size; above 1: hpotrack is faster. The +ckpt "
            "rows save a checkpoint at every step, Optuna's rows save none. manual, pbt, the "
            "gradients and auto have no counterpart.",
        )


def main() -> None:
    """Run every row, print the tables, optionally write them as markdown."""
    one_blas_thread()
    args = parse_args()
    versions = versions_beside_optuna(args.skip_optuna, "numpy")
    report = Report("Method overhead: ms per trial through optimize() as the study grows")
    report.lines(
        [
            *environment(versions),
            f"sizes {', '.join(f'{n:,}' for n in args.sizes)}; window {args.window}; "
            f"{args.repeats} run(s) per row, each in a fresh spawned process, one at a time",
        ]
    )
    began = time.perf_counter()
    found = measure(args)
    times_table(args, found, report)
    ratio_table(args, found, report)
    minutes = (time.perf_counter() - began) / 60
    report.lines([f"finished after {minutes:.1f} min with {load_average()} (1, 5, 15 min)"])
    if args.out:
        report.write(args.out)


if __name__ == "__main__":
    main()

"""Search quality on several objectives: the hypervolume of the Pareto front that
hpotrack's multi-objective methods and Optuna's samplers find within T trials.

Four tasks, all minimized: ZDT1 and ZDT2 (Zitzler, Deb & Thiele 2000, "Comparison of
multiobjective evolutionary algorithms: empirical results", Evolutionary Computation 8(2),
section 5, test functions T1 and T2) in 6 variables, DTLZ2 (Deb, Thiele, Laumanns &
Zitzler 2002, "Scalable multi-objective optimization test problems", CEC, section 3.2)
with 3 objectives in 6 variables, and a random forest on scikit-learn's digits trading its
validation error against its size. Every library's trials are scored by
:func:`hpotrack.pareto.hypervolume` against the same fixed reference point per task.

    python benchmarks/multi_objective.py --out multi_objective.md   # the default run
    python benchmarks/multi_objective.py --quick                    # smoke test, < 1 min
    python benchmarks/multi_objective.py --tasks zdt1,dtlz2 --methods random,optuna-nsga2
"""

from __future__ import annotations

import argparse
import functools
import logging
import math
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from _common import (
    TIMING_COLUMNS,
    Report,
    iqr,
    median,
    method_table,
    one_blas_thread,
    parse_search_args,
    ranked_overview,
    scaled_counts,
    score_columns,
    search_environment,
    wins_column,
)
from methods_quality import distributions, run_seeds, search_tasks, timed_calls

import hpotrack as hp
from hpotrack import pareto
from hpotrack.methods import resolve
from hpotrack.methods.registry import multi_objective_methods
from hpotrack.objectives import Objectives
from hpotrack.space import Space
from hpotrack.testing.driver import simulate_front

Params = Mapping[str, Any]
Metrics = dict[str, float]
Objective = Callable[[Params], Metrics]
Losses = list[float] | None  # one trial's, each objective minimized; None: it has none
OPTUNA = {"optuna-random": "RandomSampler", "optuna-nsga2": "NSGAIISampler",
          "optuna-tpe": "TPESampler", "optuna-gp": "GPSampler"}  # fmt: skip
NEEDS = {"optuna-gp": "torch"}  # a benchmark-only dependency of Optuna's GPSampler
NOT_SEARCHES = ("manual", "grid")  # multi-objective, but they search nothing by themselves
DIMENSIONS = 6


class Task(NamedTuple):
    """A benchmark task: what it is, its objectives (every one minimized), the trial counts
    T the front is scored at, the reference point, and the hypervolume of the true Pareto
    front up to it where it is known (the most a method can reach)."""

    label: str
    metrics: tuple[str, ...]
    trials: tuple[int, ...]
    reference: tuple[float, ...]
    ideal: float | None


# References: 1.1 times the largest value each objective takes on the space (ZDT: f1 <= 1,
# f2 <= g <= 10; DTLZ2: every f <= 1 + g <= 2; forest: error <= 1, log10 nodes < 5.2), so
# every trial adds to the volume. Ideal volumes: ZDT1 1.1 * 11 - integral of 1 - sqrt(f1)
# over [0, 1] = 11.1 + 2/3; ZDT2 the same with 1 - f1^2: 11.1 + 1/3; DTLZ2 the box less
# the unit sphere's octant, 2.2^3 - pi / 6.
TASKS: dict[str, Task] = {
    "zdt1": Task("ZDT1, 6 variables in [0, 1]", ("f1", "f2"), (50, 100, 200), (1.1, 11.0),
                 11.1 + 2 / 3),
    "zdt2": Task("ZDT2, 6 variables in [0, 1]", ("f1", "f2"), (50, 100, 200), (1.1, 11.0),
                 11.1 + 1 / 3),
    "dtlz2": Task("DTLZ2, 3 objectives, 6 variables in [0, 1]", ("f1", "f2", "f3"),
                  (50, 100, 200), (2.2, 2.2, 2.2), 2.2**3 - math.pi / 6),
    "forest": Task("RandomForest on digits: validation error vs log10 of its tree nodes",
                   ("error", "log10_nodes"), (40,), (1.0, 5.5), None),
}  # fmt: skip
# Longest jobs first, for better packing on the workers: optuna-gp took 110 s a run of 200
# trials on dtlz2, 60 s on zdt1 (idle, 2026-12-02), about a quarter of that on forest.
SLOWEST = ("optuna-gp", "optuna-tpe")
SLOWEST_TASKS = ("dtlz2", "zdt1", "zdt2", "forest")
QUICK_TRIALS = {"zdt1": 20, "zdt2": 20, "dtlz2": 20, "forest": 10}  # --quick's largest T
QUICK_LEAVES_OUT = ("optuna-gp",)  # 8 s per run of 20 trials on dtlz2: name it to run it


def unit_point(params: Params) -> list[float]:
    """x0 .. x5 of a synthetic task, each in [0, 1]."""
    return [float(params[f"x{i}"]) for i in range(DIMENSIONS)]


def zdt(params: Params, shape: Callable[[float], float]) -> Metrics:
    """ZDT1/ZDT2 (Zitzler, Deb & Thiele 2000, section 5): f1 = x0, g = 1 + 9 * mean(x1..),
    f2 = g * h(f1 / g) with h = ``shape``; the front is g = 1, f2 = h(f1)."""
    x = unit_point(params)
    g = 1.0 + 9.0 * sum(x[1:]) / (len(x) - 1)
    return {"f1": x[0], "f2": g * shape(x[0] / g)}


def zdt1(params: Params) -> Metrics:
    """ZDT1 (T1): h(r) = 1 - sqrt(r), a convex front."""
    return zdt(params, lambda r: 1.0 - math.sqrt(r))


def zdt2(params: Params) -> Metrics:
    """ZDT2 (T2): h(r) = 1 - r^2, a concave front."""
    return zdt(params, lambda r: 1.0 - r * r)


def dtlz2(params: Params) -> Metrics:
    """DTLZ2 with M = 3 objectives (Deb et al. 2002, section 3.2): the first two
    variables place a point on the unit sphere's octant, g = sum of (x_i - 0.5)^2 over the
    other four pushes it out to radius 1 + g; the front is g = 0."""
    x = unit_point(params)
    radius = 1.0 + sum((v - 0.5) ** 2 for v in x[2:])
    a, b = x[0] * math.pi / 2, x[1] * math.pi / 2
    return {
        "f1": radius * math.cos(a) * math.cos(b),
        "f2": radius * math.cos(a) * math.sin(b),
        "f3": radius * math.sin(a),
    }


@functools.cache
def digits_split() -> tuple[Any, Any, Any, Any]:
    """(train X, validation X, train y, validation y): scikit-learn's bundled digits,
    a third held out, stratified and shuffled with random_state=0."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_valid, y_train, y_valid = train_test_split(
        x, y, test_size=1 / 3, stratify=y, random_state=0
    )
    return x_train, x_valid, y_train, y_valid


def forest(params: Params) -> Metrics:
    """A RandomForestClassifier (random_state=0, one thread) on digits: its validation
    error and log10 of the number of nodes in its trees, a size that does not depend on
    the machine (so tables repeat); more and deeper trees err less but weigh more."""
    from sklearn.ensemble import RandomForestClassifier

    x_train, x_valid, y_train, y_valid = digits_split()
    model = RandomForestClassifier(**params, random_state=0, n_jobs=1).fit(x_train, y_train)
    nodes = sum(tree.tree_.node_count for tree in model.estimators_)
    return {"error": float(1.0 - model.score(x_valid, y_valid)), "log10_nodes": math.log10(nodes)}


FUNCTIONS: dict[str, Objective] = {
    "zdt1": zdt1, "zdt2": zdt2, "dtlz2": dtlz2, "forest": forest}  # fmt: skip


def task_space(task: str) -> dict[str, Any]:
    """The task's search space as an hpotrack definition."""
    if task != "forest":
        return {f"x{i}": hp.Float(0.0, 1.0) for i in range(DIMENSIONS)}
    return {
        "n_estimators": hp.Int(1, 64, log=True),
        "max_depth": hp.Int(1, 20, log=True),
        "min_samples_leaf": hp.Int(1, 32, log=True),
        "max_features": hp.Float(0.05, 1.0, log=True),
    }


def optuna_losses(
    method: str, task: str, seed: int, trials: int, function: Objective
) -> list[Losses]:
    """Optuna's sampler ``method`` (default options, ``seed``) run by ask and tell on an
    in-memory study of the task's objectives: each trial's losses, in order (a trial
    whose function raised stops the run)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if method == "optuna-gp":
        import torch

        torch.set_num_threads(1)
    sampler = getattr(optuna.samplers, OPTUNA[method])(seed=seed)
    directions = ["minimize"] * len(TASKS[task].metrics)
    study = optuna.create_study(directions=directions, sampler=sampler)
    space = distributions(task_space(task))
    found: list[Losses] = []
    for _ in range(trials):
        trial = study.ask(space)
        metrics = function(trial.params)
        values = [metrics[m] for m in TASKS[task].metrics]
        study.tell(trial, values)
        found.append(values)
    return found


def tuned_losses(
    method: str, task: str, seed: int, trials: int, function: Objective
) -> list[Losses]:
    """hpotrack's ``method`` on the forest task as a user runs it: ``@hp.tune`` and
    ``optimize()`` on a study in a temporary database; each trial's losses, in order
    (None for one that did not complete)."""
    objectives = TASKS[task].metrics

    def train(
        n_estimators: int, max_depth: int, min_samples_leaf: int, max_features: float
    ) -> Metrics:
        chosen = {"n_estimators": n_estimators, "max_depth": max_depth,
                  "min_samples_leaf": min_samples_leaf, "max_features": max_features}  # fmt: skip
        return function(chosen)

    logging.getLogger("hpotrack").setLevel(logging.WARNING)  # not "the target is reached"
    with tempfile.TemporaryDirectory() as folder:
        tuned = hp.tune(task_space(task), method, study=task, db=Path(folder) / "mo.db",
                        seed=seed, objective=objectives,
                        direction=("minimize",) * len(objectives))(train)  # fmt: skip
        study = tuned.optimize(n_trials=trials, progress=False)
        return [list(study.values(t)) if t.state == "complete" else None for t in study.trials]


def simulated_losses(
    method: str, task: str, seed: int, trials: int, function: Objective
) -> list[Losses]:
    """hpotrack's ``method`` driven in memory (:func:`simulate_front`, no database); each
    trial's losses, in order (None for one without them)."""
    objectives = Objectives(TASKS[task].metrics, ("minimize",) * len(TASKS[task].metrics))
    space = Space.from_user(task_space(task))
    history = simulate_front(
        resolve(method), space, trials, objectives=objectives, function=function, seed=seed
    )
    losses = (history.losses(trial) for trial in history.trials)
    return [None if loss is None else list(loss) for loss in losses]


Run = tuple[tuple[float, ...], float, float]
"""One search: (the hypervolume within each of the task's T, mean seconds per suggestion,
wall seconds)."""


def one_run(method: str, task: str, seed: int, trials: int) -> Run:
    """One search of ``trials`` trials, scored at every T up to it. A suggestion's time
    runs from the end of one objective call to the start of the next: Optuna's tell and
    ask; hpotrack's ask and history update, or on the forest task the whole study loop
    with its database."""
    timed, asking, stamps = timed_calls(FUNCTIONS[task])
    if method in OPTUNA:
        losses = optuna_losses(method, task, seed, trials, timed)
    elif task == "forest":
        losses = tuned_losses(method, task, seed, trials, timed)
    else:
        losses = simulated_losses(method, task, seed, trials, timed)
    volumes = tuple(front_volume(task, losses[:t]) for t in scored_at(task, trials))
    return volumes, sum(asking) / len(asking), stamps[-1] - stamps[0]


def front_volume(task: str, losses: Sequence[Losses]) -> float:
    """The hypervolume the trials with ``losses`` dominate up to the task's reference."""
    reference = TASKS[task].reference
    points = np.array([loss for loss in losses if loss is not None]).reshape(-1, len(reference))
    return pareto.hypervolume(points, reference)


def scored_at(task: str, trials: int) -> list[int]:
    """The T a run of ``trials`` trials is scored at: the task's (50, 100, 200) scaled so
    that the largest is ``trials`` (--quick: 5, 10, 20)."""
    return scaled_counts(TASKS[task].trials, trials)


def run_job(job: tuple[str, str, Sequence[int], int]) -> tuple[str, str, list[Run], str]:
    """Every seed of one (method, task) in this fresh process."""
    return run_seeds(one_run, job)


def task_table(
    report: Report,
    args: argparse.Namespace,
    task: str,
    results: Mapping[tuple[str, str], list[Run]],
    why_none: Mapping[str, str],
) -> None:
    """One task's table: per method the median hypervolume and its IQR at each T, the
    seeds whose volume at the largest T beats random search's, ms per ask, s per run."""
    spec = TASKS[task]
    counts = scored_at(task, args.trials[task])

    def volume_cell(values: list[float]) -> str:
        return f"{median(values):.5g} ({iqr(values, lambda v: f'{v:.4g}')})"

    baseline = results.get((args.baseline, task), [])
    columns = [
        *score_columns("hypervolume", counts, volume_cell),
        wins_column(args.baseline, baseline, counts[-1], lambda a, b: a > b),
        *TIMING_COLUMNS,
    ]
    reference = ", ".join(f"{v:g}" for v in spec.reference)
    ideal = "unknown" if spec.ideal is None else f"{spec.ideal:.5g}"
    method_table(
        report,
        f"{task}: {spec.label}; {', '.join(spec.metrics)} minimized; reference point "
        f"({reference}); {len(args.seeds)} seeds; true front's hypervolume {ideal}",
        [*args.methods, *args.skipped],
        lambda method: results.get((method, task), []),
        why_none,
        columns,
    )


def ask_table(
    report: Report, args: argparse.Namespace, results: Mapping[tuple[str, str], list[Run]]
) -> None:
    """ms per ask per method and task, median over seeds, at the end of the report."""
    rows = []
    for method in args.methods:
        cells = []
        for task in args.tasks:
            runs = results.get((method, task))
            cells.append(f"{median(r[1] for r in runs) * 1e3:.3g}" if runs else "-")
        rows.append([method, *cells])
    report.table(
        "ms per ask: mean within a run of the task's largest T, median over seeds",
        rows,
        "method|" + "|".join(f"{t} ({args.trials[t]} trials)" for t in args.tasks),
    )


def main() -> None:
    """Run every (method, task), print a table per task, the overview and the ask times."""
    one_blas_thread()
    own = [m for m in multi_objective_methods() if m not in NOT_SEARCHES]
    args = parse_search_args(
        __doc__.split("\n")[0],
        {task: spec.trials[-1] for task, spec in TASKS.items()},
        QUICK_TRIALS,
        own,
        OPTUNA,
        NEEDS,
        lambda m: None if m in own else "skipped: not a multi-objective method in this checkout",
        ("comma list: hpotrack's multi-objective methods and Optuna's samplers",
         "2 seeds, T up to 20 (forest 10), no optuna-gp unless named: a smoke test"),
        QUICK_LEAVES_OUT,
    )  # fmt: skip
    report = Report("hpotrack multi-objective search quality: hypervolume of the front")
    optuna_rows = [m for m in args.methods if m in OPTUNA]
    model_tasks = [t for t in args.tasks if t == "forest"]  # scikit-learn's
    report.lines(search_environment(args, optuna_rows, model_tasks, optional=("torch",)))
    start = time.perf_counter()
    results, why_none = search_tasks(args, run_job, SLOWEST, SLOWEST_TASKS)
    for task in args.tasks:
        task_table(report, args, task, results, why_none[task])
    ranked_overview(
        report,
        args,
        {key: median(r[0][-1] for r in runs) for key, runs in results.items() if runs},
        False,
        lambda value: f"{value:.5g}",
        "Overview: median hypervolume at the largest T per task (rank among the methods)",
        "Rank 1 is the largest median volume (ties share a rank). Wins: seeds whose volume "
        f"at the largest T beats {args.baseline}'s with the same seed number. ms per ask: "
        "mean per trial in a run (hpotrack: ask + history update, on the forest task the "
        "study loop with its database; Optuna: tell + ask), median over seeds; s per run "
        "includes the objective.",
    )
    ask_table(report, args, results)
    report.finish(args.out, [f"searches took {time.perf_counter() - start:.0f} s of wall time"])


if __name__ == "__main__":
    main()

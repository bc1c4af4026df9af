"""Search quality under a constraint on a metric: the best *feasible* value that hpotrack's
constrained methods and Optuna's samplers (with ``constraints_func``) find within T trials.

Three tasks, each minimizing one metric subject to an upper bound on another, every one
a deterministic function of the parameters (a seed changes the search only):

- ``gardner``: Gardner, Kusner, Xu, Weinberger & Cunningham 2014, "Bayesian optimization
  with inequality constraints", ICML, section 5.1: cos(2x)cos(y) + sin(x) subject to
  cos(x)cos(y) - sin(x)sin(y) <= 0.5 on [0, 6]^2.
- ``branin``: Branin-Hoo subject to the disc (x1 - 2.5)^2 + (x2 - 7.5)^2 <= 50 (Gelbart,
  Snoek & Adams 2014, "Bayesian optimization with unknown constraints", UAI; also in
  Gardner et al. 2014), which leaves one of Branin's three minima feasible.
- ``tree``: a DecisionTreeClassifier on scikit-learn's digits: validation error subject to
  at most 63 nodes (32 leaves), which rules out the most accurate trees (200+ nodes).

Every library's trials are scored the same way: a trial is feasible when
:meth:`hpotrack.Constraint.violation` of the metric it returned is 0 (Optuna's rule for
``constraints_func``'s values, <= 0), and a search's score at T is the least objective
among the feasible trials of its first T.

    python benchmarks/constrained.py --out constrained.md     # the default run
    python benchmarks/constrained.py --quick                  # smoke test, seconds
    python benchmarks/constrained.py --tasks branin --methods tpe,optuna-tpe --seeds 20
"""

from __future__ import annotations

import argparse
import logging
import math
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from _common import (
    TIMING_COLUMNS,
    Report,
    Runs,
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
from multi_objective import digits_split

import hpotrack as hp
from hpotrack.errors import MethodError
from hpotrack.methods import resolve
from hpotrack.objectives import Objectives

Params = Mapping[str, Any]
Metrics = dict[str, float]
OBJECTIVE = "value"  # the metric every task minimizes
OWN = ("tpe", "evolution", "random", "bayes")  # hpotrack's rows by default
OPTUNA = {"optuna-tpe": "TPESampler", "optuna-nsga2": "NSGAIISampler",
          "optuna-gp": "GPSampler"}  # fmt: skip
NEEDS = {"optuna-gp": "torch"}  # a benchmark-only dependency of Optuna's GPSampler
NOT_CONSTRAINED = "skipped: not constrained in this checkout"


class Task(NamedTuple):
    """A benchmark task: what it is, the constraint on its metrics, the trial counts T it
    is scored at, and the least feasible value where it is known (with where it lies)."""

    label: str
    constraint: hp.Constraint
    trials: tuple[int, ...]
    optimum: float | None
    where: str


# Optima: the least feasible value on a 6001 x 6001 grid of the space (numpy, float64),
# rounded. Gardner's global minimum -2 at (3 pi / 2, 0) is feasible (cos(x + y) = 0
# there), but the boundary x + y = 5 pi / 3 lies 0.37 away; Branin's minimum 0.39789 at
# (pi, 2.275) is inside the disc, its other two, (-pi, 12.275) and (3 pi, 2.475), outside.
TASKS: dict[str, Task] = {
    "gardner": Task("Gardner et al. 2014 (5.1): cos(2x)cos(y) + sin(x), x, y in [0, 6]",
                    hp.Constraint("c", at_most=0.5), (20, 50, 100), -2.0, "(4.712, 0)"),
    "branin": Task("Branin on [-5, 10] x [0, 15] within a disc",
                   hp.Constraint("disc", at_most=50.0), (20, 50, 100), 0.397887,
                   "(3.142, 2.275)"),
    "tree": Task("DecisionTree on digits: validation error", hp.Constraint("nodes", at_most=63),
                 (10, 25, 50), None, ""),
}  # fmt: skip
SLOWEST = ("optuna-gp", "bayes", "optuna-tpe")  # longest jobs first, for better packing
QUICK_TRIALS = {"gardner": 20, "branin": 20, "tree": 10}  # --quick's largest T
QUICK_LEAVES_OUT = ("optuna-gp",)  # several seconds per run: name it to run it


def gardner(params: Params) -> Metrics:
    """Gardner et al. 2014, section 5.1: the objective and the constraint's metric c
    (feasible when c <= 0.5)."""
    x, y = float(params["x"]), float(params["y"])
    return {
        OBJECTIVE: math.cos(2 * x) * math.cos(y) + math.sin(x),
        "c": math.cos(x) * math.cos(y) - math.sin(x) * math.sin(y),
    }


def branin(params: Params) -> Metrics:
    """Branin-Hoo (its usual constants a = 1, b = 5.1 / (4 pi^2), c = 5 / pi, r = 6,
    s = 10, t = 1 / (8 pi)) and the squared distance from (2.5, 7.5), feasible up to 50."""
    x1, x2 = float(params["x1"]), float(params["x2"])
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    value = (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10
    return {OBJECTIVE: value, "disc": (x1 - 2.5) ** 2 + (x2 - 7.5) ** 2}


def tree(params: Params) -> Metrics:
    """A DecisionTreeClassifier (random_state=0) fitted on two thirds of digits: its
    validation error and its node count, a size that does not depend on the machine (a
    prediction time would, and is noisy), so tables repeat."""
    from sklearn.tree import DecisionTreeClassifier

    x_train, x_valid, y_train, y_valid = digits_split()
    model = DecisionTreeClassifier(**params, random_state=0).fit(x_train, y_train)
    error = 1.0 - model.score(x_valid, y_valid)
    return {OBJECTIVE: float(error), "nodes": float(model.tree_.node_count)}


FUNCTIONS: dict[str, Callable[[Params], Metrics]] = {
    "gardner": gardner, "branin": branin, "tree": tree}  # fmt: skip


def task_space(task: str) -> dict[str, Any]:
    """The task's search space as an hpotrack definition."""
    if task == "gardner":
        return {"x": hp.Float(0.0, 6.0), "y": hp.Float(0.0, 6.0)}
    if task == "branin":
        return {"x1": hp.Float(-5.0, 10.0), "x2": hp.Float(0.0, 15.0)}
    return {
        "max_depth": hp.Int(1, 32, log=True),
        "min_samples_leaf": hp.Int(1, 64, log=True),
        "max_features": hp.Float(0.05, 1.0, log=True),
        "criterion": hp.Choice(["gini", "entropy"]),
    }


def optuna_bound_values(constraint: hp.Constraint, value: float) -> list[float]:
    """The constraint as Optuna's ``constraints_func`` values, each feasible when <= 0:
    value - at_most and at_least - value, for the bounds given."""
    found = [] if constraint.at_most is None else [value - constraint.at_most]
    return found + ([] if constraint.at_least is None else [constraint.at_least - value])


def optuna_search(
    method: str, task: str, seed: int, trials: int, function: Callable[[Params], Metrics]
) -> None:
    """Optuna's sampler ``method`` (default options, ``seed``, and ``constraints_func``
    reading the bound values each trial stores as a user attribute) run by ask and tell
    on an in-memory study."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    options: dict[str, Any] = {"seed": seed, "constraints_func": lambda t: t.user_attrs["bounds"]}
    if method == "optuna-gp":
        import torch

        torch.set_num_threads(1)
        options["warn_independent_sampling"] = False
    sampler = getattr(optuna.samplers, OPTUNA[method])(**options)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    space, constraint = distributions(task_space(task)), TASKS[task].constraint
    for _ in range(trials):
        trial = study.ask(space)
        metrics = function(trial.params)
        trial.set_user_attr("bounds", optuna_bound_values(constraint, metrics[constraint.metric]))
        study.tell(trial, metrics[OBJECTIVE])


def tuned_search(
    method: str, task: str, seed: int, trials: int, function: Callable[[Params], Metrics]
) -> None:
    """hpotrack's ``method`` as a user runs it: ``@hp.tune(..., constraints=[...])`` and
    ``optimize()`` on a study in a fresh database file."""
    logging.getLogger("hpotrack").setLevel(logging.WARNING)  # not "the target is reached"

    def train(**params: Any) -> Metrics:
        return function(params)

    with tempfile.TemporaryDirectory() as folder:
        tuned = hp.tune(task_space(task), method, study=task, seed=seed, objective=OBJECTIVE,
                        constraints=[TASKS[task].constraint],
                        db=Path(folder) / "constrained.db")(train)  # fmt: skip
        tuned.optimize(n_trials=trials, progress=False)


Run = tuple[tuple[float, ...], float, float, float]
"""One search: (the least feasible value within each of the task's T, infinite when none
is feasible; mean seconds per suggestion; wall seconds; the share of feasible trials)."""


def one_run(method: str, task: str, seed: int, trials: int) -> Run:
    """One search of ``trials`` trials, scored at every T up to it from the objective
    calls in the order they were made (one process: the trials' order). A suggestion's
    time runs from the end of one call to the start of the next: Optuna's tell and ask;
    hpotrack's whole study loop with its database."""
    constraint, outcomes = TASKS[task].constraint, list[tuple[float, bool]]()

    def recorded(params: Params) -> Metrics:
        metrics = FUNCTIONS[task](params)
        feasible = constraint.violation(metrics[constraint.metric]) == 0.0
        outcomes.append((metrics[OBJECTIVE], feasible))
        return metrics

    timed, asking, stamps = timed_calls(recorded)
    search = optuna_search if method in OPTUNA else tuned_search
    search(method, task, seed, trials, timed)
    bests = tuple(best_feasible(outcomes[:t]) for t in scored_at(task, trials))
    share = sum(feasible for _, feasible in outcomes) / len(outcomes)
    return bests, sum(asking) / len(asking), stamps[-1] - stamps[0], share


def best_feasible(outcomes: Sequence[tuple[float, bool]]) -> float:
    """The least value among the feasible ``outcomes`` (infinite when there is none)."""
    return min((value for value, feasible in outcomes if feasible), default=math.inf)


def scored_at(task: str, trials: int) -> list[int]:
    """The T a run of ``trials`` trials is scored at: the task's T scaled so that the
    largest is ``trials`` (--quick on gardner: 4, 10, 20)."""
    return scaled_counts(TASKS[task].trials, trials)


def run_job(job: tuple[str, str, Sequence[int], int]) -> tuple[str, str, list[Run], str]:
    """Every seed of one (method, task) in this fresh process."""
    return run_seeds(one_run, job)


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """(Q1, median, Q3) of ``values`` by linear interpolation between order statistics
    (statistics.quantiles' "inclusive" method), where a quartile next to an infinite
    value (a seed without a feasible trial) is infinite, not NaN."""
    ordered = sorted(values)

    def at(fraction: float) -> float:
        position = fraction * (len(ordered) - 1)
        low, high = ordered[math.floor(position)], ordered[math.ceil(position)]
        if math.isinf(low) or math.isinf(high):
            return max(low, high)
        return low + (high - low) * (position - math.floor(position))

    return at(0.25), at(0.5), at(0.75)


def shown(value: float) -> str:
    """A value for the tables: 5 significant digits, "none" for no feasible trial."""
    return "none" if math.isinf(value) else f"{value:.5g}"


def task_table(
    report: Report,
    args: argparse.Namespace,
    task: str,
    results: Mapping[tuple[str, str], list[Run]],
    why_none: Mapping[str, str],
) -> None:
    """One task's table: per method the median best feasible value and its IQR at each
    T, the regret at the largest T (optimum known), the seeds whose best at the largest T
    beats random search's, the median share of feasible trials, ms per ask, s per run."""
    spec = TASKS[task]
    counts = scored_at(task, args.trials[task])

    def best_cell(values: list[float]) -> str:
        q1, q2, q3 = quartiles(values)
        return f"{shown(q2)} ({shown(q1)} – {shown(q3)})" if values[1:] else shown(q2)

    def regret(_: str, runs: Runs) -> str:
        last = quartiles([r[0][-1] for r in runs])[1]
        return "-" if spec.optimum is None or math.isinf(last) else f"{last - spec.optimum:.3g}"

    baseline = results.get((args.baseline, task), [])
    columns = [
        *score_columns("best feasible", counts, best_cell),
        (f"regret at T = {counts[-1]}", regret),
        wins_column(args.baseline, baseline, counts[-1], lambda a, b: a < b),
        ("feasible trials", lambda _, runs: f"{median(r[3] for r in runs):.0%}"),
        *TIMING_COLUMNS,
    ]
    optimum = "unknown" if spec.optimum is None else f"{spec.optimum:.6g} at {spec.where}"
    method_table(
        report,
        f"{task}: {spec.label}; subject to {spec.constraint.describe()}; {len(args.seeds)} "
        f"seeds; least feasible value {optimum}",
        [*args.methods, *args.skipped],
        lambda method: results.get((method, task), []),
        why_none,
        columns,
    )


def not_constrained(method: str) -> str | None:
    """Why hpotrack's ``method`` gets a "skipped" row: its :meth:`check_objectives`
    refuses a constrained study (None: it runs)."""
    constrained = Objectives((OBJECTIVE,), ("minimize",), (TASKS["gardner"].constraint,))
    try:
        resolve(method).check_objectives(constrained)
    except MethodError:
        return NOT_CONSTRAINED
    return None


def main() -> None:
    """Run every (method, task), print a table per task, then the overview."""
    one_blas_thread()
    args = parse_search_args(
        __doc__.split("\n")[0],
        {task: spec.trials[-1] for task, spec in TASKS.items()},
        QUICK_TRIALS,
        OWN,
        OPTUNA,
        NEEDS,
        not_constrained,
        ("comma list: hpotrack's methods and Optuna's samplers",
         "2 seeds, T up to 20 (tree 10), no optuna-gp unless named: a smoke test"),
        QUICK_LEAVES_OUT,
    )  # fmt: skip
    report = Report("hpotrack constrained search quality: best feasible value")
    optuna_rows = [m for m in args.methods if m in OPTUNA]
    model_tasks = [t for t in args.tasks if t == "tree"]  # scikit-learn's
    report.lines(search_environment(args, optuna_rows, model_tasks, optional=("torch",)))
    start = time.perf_counter()
    results, why_none = search_tasks(args, run_job, SLOWEST)
    for task in args.tasks:
        task_table(report, args, task, results, why_none[task])
    ranked_overview(
        report,
        args,
        {key: quartiles([r[0][-1] for r in runs])[1] for key, runs in results.items() if runs},
        True,
        shown,
        "Overview: median best feasible value at the largest T per task (rank among the methods)",
        "Rank 1 is the least median (ties share a rank). Wins: seeds whose best feasible "
        f"value at the largest T beats {args.baseline}'s with the same seed number. Feasible "
        "trials: the share of a run's trials that meet the constraint, median over seeds. "
        "ms per ask: mean per trial in a run (hpotrack: the study loop with its database "
        "file; Optuna: tell + ask in memory), median over seeds; s per run includes the "
        "objective.",
    )
    report.finish(args.out, [f"searches took {time.perf_counter() - start:.0f} s of wall time"])


if __name__ == "__main__":
    main()

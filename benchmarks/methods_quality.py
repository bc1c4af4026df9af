"""Search quality and suggestion time: hpotrack's methods against Optuna's samplers.

Seven tasks (five synthetic functions, two scikit-learn models; ``--tasks`` also names
six large ones, 50 to 300 parameters and 1,000 trials), each method run for a
fixed number of trials from several seeds; the tables give the median best value, its
interquartile range, the regret where the optimum is known and the seeds won against random
search. ``--timing`` adds the time one suggestion takes with N completed trials already
stored. hpotrack runs in memory (``simulate``), so its storage is not measured here.

    python benchmarks/methods_quality.py --timing --out quality.md   # default: 10-20 min
    python benchmarks/methods_quality.py --quick                     # smoke test, < 2 min
    python benchmarks/methods_quality.py --tasks branin,mixed --methods bayes,optuna-gp
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib.util
import itertools
import json
import math
import multiprocessing
import statistics
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from _common import (
    Report,
    add_run_options,
    comma_names,
    default_workers,
    git_revision,
    load_average,
    median,
    one_blas_thread,
    output_file,
    search_environment,
    seed_numbers,
)

import hpotrack as hp
from hpotrack.methods import Evolution, Method, Proposal, known_methods, resolve
from hpotrack.methods.history import History
from hpotrack.records import TrialState
from hpotrack.space import Space
from hpotrack.testing.driver import record, simulate

HP_METHODS = ["random", "bayes", "tpe", "evolution"]
VARIANTS: dict[str, Callable[[], Method]] = {  # rows of a method with options (--methods)
    "evolution-cma": lambda: Evolution(strategy="cma"),
}
OPTUNA = {"optuna-random": "RandomSampler", "optuna-tpe": "TPESampler",
          "optuna-gp": "GPSampler", "optuna-cmaes": "CmaEsSampler"}  # fmt: skip
NEEDS = {"optuna-gp": "torch", "optuna-cmaes": "cmaes"}  # benchmark-only dependencies
# name: (description, trials, known optimum or None)
TASKS: dict[str, tuple[str, int, float | None]] = {
    "branin": ("Branin, 2-D", 60, 0.397887357729739),
    "hartmann6": ("Hartmann6, 6-D", 60, -3.322368011391339),
    "rosenbrock": ("Rosenbrock, 4-D on [-5, 10]", 60, 0.0),
    "ackley": ("Ackley, 5-D on [-32.768, 32.768]", 60, 0.0),
    "mixed": ("float, log float, int and 3 options", 60, 0.0),
    "kernel_ridge": ("KernelRidge on diabetes, 3-fold CV MSE", 40, None),
    "hgb": ("HistGradientBoosting on breast_cancer, 3-fold CV log-loss", 40, None),
}
# Not in the default run (--tasks names them): many parameters and 1,000 trials, where
# `auto` keeps TPE up to 100 parameters and 1,000 trials and takes evolution past either.
LARGE_TASKS: dict[str, tuple[str, int, float | None]] = {
    "ackley50": ("Ackley, 50-D on [-32.768, 32.768]", 1000, 0.0),
    "rosenbrock50": ("Rosenbrock, 50-D on [-5, 10]", 1000, 0.0),
    "ackley100": ("Ackley, 100-D on [-32.768, 32.768]", 1000, 0.0),
    "ackley150": ("Ackley, 150-D on [-32.768, 32.768]", 1000, 0.0),
    "rosenbrock150": ("Rosenbrock, 150-D on [-5, 10]", 1000, 0.0),
    "ackley300": ("Ackley, 300-D on [-32.768, 32.768]", 1000, 0.0),
}
ALL_TASKS = {**TASKS, **LARGE_TASKS}
QUICK_TASKS = ["branin", "mixed"]
SIZES = [100, 200, 500]  # completed trials before a timed suggestion; 1,000 too for TPEs
ASKS = 7  # timed suggestions per size (median), after one untimed warm-up
ASK_BUDGET = 60.0  # seconds of timed suggestions per (method, size): fewer asks past it
SKIP_AFTER = 30.0  # a suggestion slower than this: larger sizes are skipped
Params = Mapping[str, Any]
Result = TypeVar("Result")  # what a timed objective returns: a value, or metrics
HARTMANN_ALPHA = (1.0, 1.2, 3.0, 3.2)
HARTMANN_A = ((10, 3, 17, 3.5, 1.7, 8), (0.05, 10, 17, 0.1, 8, 14),
              (3, 3.5, 1.7, 10, 17, 8), (17, 8, 0.05, 10, 0.1, 14))  # fmt: skip
HARTMANN_P = ((1312, 1696, 5569, 124, 8283, 5886), (2329, 4135, 8307, 3736, 1004, 9991),
              (2348, 1451, 3522, 2883, 3047, 6650),
              (4047, 8828, 8732, 5743, 1091, 381))  # fmt: skip


def branin(p: Params) -> float:
    """Branin on [-5, 10] x [0, 15]."""
    x, y = p["x"], p["y"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return float((y - b * x * x + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10)


def hartmann6(p: Params) -> float:
    """Hartmann6 on the unit cube."""
    x = np.array([p[f"x{i}"] for i in range(6)])
    a, q = np.array(HARTMANN_A), 1e-4 * np.array(HARTMANN_P)
    return float(-(np.array(HARTMANN_ALPHA) * np.exp(-(a * (x - q) ** 2).sum(axis=1))).sum())


def rosenbrock(p: Params) -> float:
    """Rosenbrock over x0, x1, ... (every key: 4 in its task)."""
    x = [p[f"x{i}"] for i in range(len(p))]
    return float(sum(100 * (b - a * a) ** 2 + (1 - a) ** 2 for a, b in itertools.pairwise(x)))


def ackley(p: Params) -> float:
    """Ackley over x0, x1, ... (every key: 5 in its task)."""
    x = [p[f"x{i}"] for i in range(len(p))]
    squares = math.sqrt(sum(v * v for v in x) / len(x))
    cosines = sum(math.cos(2 * math.pi * v) for v in x) / len(x)
    return -20 * math.exp(-0.2 * squares) - math.exp(cosines) + 20 + math.e


def mixed(p: Params) -> float:
    """The mixed space's objective: optimum 0 at c=green, x=1, y=0.1, n=7."""
    shift, bias = {"red": -2, "green": 1, "blue": 3}, {"red": 0.5, "green": 0, "blue": 0.25}
    x, y, n, c = p["x"], p["y"], p["n"], p["c"]
    return float((x - shift[c]) ** 2 + (math.log10(y) + 1) ** 2 + 0.05 * (n - 7) ** 2 + bias[c])


@functools.cache
def dataset(name: str) -> tuple[Any, Any, Any]:
    """(X, y, fixed 3-fold split) of a bundled scikit-learn data set; diabetes' target is
    centred, as KernelRidge fits no intercept."""
    from sklearn import datasets
    from sklearn.model_selection import KFold, StratifiedKFold

    if name == "diabetes":
        x, y = datasets.load_diabetes(return_X_y=True)
        return x, y - y.mean(), KFold(3, shuffle=True, random_state=0)
    x, y = datasets.load_breast_cancer(return_X_y=True)
    return x, y, StratifiedKFold(3, shuffle=True, random_state=0)


def kernel_ridge(p: Params) -> float:
    """3-fold CV mean squared error of KernelRidge on diabetes."""
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.model_selection import cross_val_score

    x, y, cv = dataset("diabetes")
    model = KernelRidge(alpha=p["alpha"], gamma=p["gamma"], kernel=p["kernel"])
    score = cross_val_score(model, x, y, cv=cv, scoring="neg_mean_squared_error", n_jobs=1)
    return float(-score.mean())


def hgb(p: Params) -> float:
    """3-fold CV log-loss of HistGradientBoostingClassifier on breast_cancer."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import cross_val_score

    x, y, cv = dataset("breast_cancer")
    model = HistGradientBoostingClassifier(**p, random_state=0)
    return float(-cross_val_score(model, x, y, cv=cv, scoring="neg_log_loss", n_jobs=1).mean())


def task_space(task: str) -> dict[str, Any]:
    """The task's search space as an hpotrack definition."""
    box = {"rosenbrock": (4, -5.0, 10.0), "ackley": (5, -32.768, 32.768), "hartmann6": (6, 0, 1),
           "ackley50": (50, -32.768, 32.768), "rosenbrock50": (50, -5.0, 10.0),
           "ackley100": (100, -32.768, 32.768), "ackley150": (150, -32.768, 32.768),
           "rosenbrock150": (150, -5.0, 10.0), "ackley300": (300, -32.768, 32.768)}  # fmt: skip
    if task in box:
        n, low, high = box[task]
        return {f"x{i}": hp.Float(float(low), float(high)) for i in range(n)}
    return {
        "branin": {"x": hp.Float(-5.0, 10.0), "y": hp.Float(0.0, 15.0)},
        "mixed": {"x": hp.Float(-5.0, 5.0), "y": hp.Float(1e-3, 10.0, log=True),
                  "n": hp.Int(1, 20), "c": hp.Choice(["red", "green", "blue"])},
        "kernel_ridge": {"alpha": hp.Float(1e-5, 10.0, log=True),
                         "gamma": hp.Float(1e-3, 1e3, log=True),
                         "kernel": hp.Choice(["rbf", "laplacian", "polynomial"])},
        "hgb": {"learning_rate": hp.Float(1e-3, 1.0, log=True),
                "max_leaf_nodes": hp.Int(2, 64, log=True),
                "min_samples_leaf": hp.Int(1, 100, log=True),
                "l2_regularization": hp.Float(1e-6, 10.0, log=True),
                "max_iter": hp.Int(10, 200, log=True)},
    }[task]  # fmt: skip


OBJECTIVES: dict[str, Callable[[Params], float]] = {
    "branin": branin, "hartmann6": hartmann6, "rosenbrock": rosenbrock, "ackley": ackley,
    "mixed": mixed, "kernel_ridge": kernel_ridge, "hgb": hgb, "ackley50": ackley,
    "rosenbrock50": rosenbrock, "ackley100": ackley, "ackley150": ackley,
    "rosenbrock150": rosenbrock, "ackley300": ackley}  # fmt: skip


def distributions(space: Mapping[str, Any]) -> dict[str, Any]:
    """The same space as Optuna distributions."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    found: dict[str, Any] = {}
    for name, p in space.items():
        if isinstance(p, hp.Choice):
            found[name] = CategoricalDistribution(list(p.options))
        elif isinstance(p, hp.Int):
            found[name] = IntDistribution(p.low, p.high, log=p.log, step=p.step)
        else:
            found[name] = FloatDistribution(p.low, p.high, log=p.log, step=p.step)
    return found


def optuna_study(method: str, seed: int) -> Any:
    """A fresh in-memory Optuna study with the method's sampler (default options)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    options: dict[str, Any] = {"seed": seed}
    if method in ("optuna-gp", "optuna-cmaes"):
        options["warn_independent_sampling"] = False
    if method == "optuna-gp":
        import torch

        torch.set_num_threads(1)
    return optuna.create_study(sampler=getattr(optuna.samplers, OPTUNA[method])(**options))


def timed_calls(
    objective: Callable[[Params], Result],
) -> tuple[Callable[[Params], Result], list[float], list[float]]:
    """``objective`` wrapped to time the search around it: the seconds from the end of
    one call to the start of the next (the method's suggestion) are appended to the
    second list, each call's end to the third (which starts with now)."""
    stamps, asking = [time.perf_counter()], list[float]()

    def timed(params: Params) -> Result:
        asking.append(time.perf_counter() - stamps[-1])
        value = objective(params)
        stamps.append(time.perf_counter())
        return value

    return timed, asking, stamps


def one_run(method: str, task: str, seed: int, trials: int) -> tuple[float, float, float]:
    """One search: (best value, mean seconds per suggestion, wall seconds). A suggestion's
    time runs from the end of one objective call to the start of the next (hpotrack: ask
    and history update; Optuna: tell and ask)."""
    space = task_space(task)
    timed, asking, stamps = timed_calls(OBJECTIVES[task])
    if method in OPTUNA:
        study, dists = optuna_study(method, seed), distributions(space)
        for _ in range(trials):
            trial = study.ask(dists)
            study.tell(trial, timed(trial.params))
        best = study.best_value
    else:
        history = simulate(
            hp_method(method), Space.from_user(space), trials, seed=seed, objective=timed
        )
        best = min(t.value for t in history.trials if t.value is not None)
    return best, sum(asking) / len(asking), stamps[-1] - stamps[0]


Run = tuple[float, float, float]
"""One search's (best value, mean seconds per suggestion, wall seconds)."""
Job = tuple[str, str, Sequence[int], int]
"""(method, task, seeds, trials): every seed of one method on one task."""
Done = tuple[str, str, list[Run], str]
"""(method, task, the runs of the seeds that ran, the error that stopped the rest or "")."""


def hp_method(name: str) -> Method:
    """hpotrack's method of a row: a registered name with its defaults, or a variant."""
    return VARIANTS[name]() if name in VARIANTS else resolve(name)


def run_seeds(one: Callable[[str, str, int, int], Run], job: Job) -> Done:
    """Every seed of one (method, task) in this fresh process, ``one`` search per seed,
    collecting garbage between runs."""
    method, task, seeds, trials = job
    warnings.simplefilter("ignore")
    runs: list[Run] = []
    try:
        for seed in seeds:
            gc.collect()
            runs.append(one(method, task, seed, trials))
    except Exception as exc:
        return method, task, runs, f"{type(exc).__name__}: {str(exc)[:80]}"
    return method, task, runs, ""


def run_job(job: Job) -> Done:
    """Every seed of one (method, task) of this benchmark's tasks: :func:`run_seeds`."""
    return run_seeds(one_run, job)


def asker(method: str, n: int) -> Callable[[], float]:
    """A function timing one suggestion (seconds) with n random completed Hartmann6 trials
    stored, the same trials for every method; the history does not grow."""
    space = Space.from_user(task_space("hartmann6"))
    points = [space.decode(u) for u in np.random.default_rng(n).random((n, len(space)))]
    values = [hartmann6(p) for p in points]
    if method in OPTUNA:
        import optuna

        study, dists = optuna_study(method, 0), distributions(space)
        make = functools.partial(optuna.trial.create_trial, distributions=dists)
        study.add_trials([make(params=p, value=v) for p, v in zip(points, values, strict=True)])

        def ask() -> float:
            start = time.perf_counter()
            trial = study.ask(dists)
            seconds = time.perf_counter() - start
            study.tell(trial, state=optuna.trial.TrialState.FAIL)  # so N complete trials stay
            return seconds

        return ask
    history, chosen = History(space, "minimize", 0), hp_method(method)
    for i, (p, v) in enumerate(zip(points, values, strict=True)):
        history.update(record(i, Proposal(params=p), TrialState.COMPLETE, v))

    def own() -> float:
        start = time.perf_counter()
        chosen.ask(history)
        return time.perf_counter() - start

    return own


def time_asks(job: tuple[str, Sequence[int], int]) -> tuple[str, dict[int, Any]]:
    """(method, sizes, asks) -> (method, {N: (median s per ask, asks timed) or why it was
    skipped}); one warm-up ask first (imports, caches), not counted."""
    method, sizes, asks = job
    warnings.simplefilter("ignore")
    found: dict[int, Any] = {}
    for n in sizes:
        if any(isinstance(v, str) or v[0] > SKIP_AFTER for v in found.values()):
            found[n] = f"skipped (> {SKIP_AFTER:.0f} s per ask)"
            continue
        gc.collect()
        ask, times = asker(method, n), list[float]()
        while len(times) <= asks and sum(times[1:]) <= ASK_BUDGET:
            times.append(ask())
            if times[0] > SKIP_AFTER:
                break
        found[n] = (statistics.median(times[1:] or times), len(times) - 1)
    return method, found


def pool(workers: int) -> Any:
    """Spawned worker processes, a fresh one per job (no library's garbage in another's)."""
    return multiprocessing.get_context("spawn").Pool(workers, maxtasksperchild=1)


def run_searches(
    jobs: Sequence[Job], workers: int, run: Callable[[Job], Done]
) -> tuple[dict[tuple[str, str], list[Run]], dict[tuple[str, str], str]]:
    """Run the jobs in ``workers`` fresh processes, printing each as it ends: the runs and
    the errors by (method, task)."""
    results: dict[tuple[str, str], list[Run]] = {}
    errors: dict[tuple[str, str], str] = {}
    start = time.perf_counter()
    with pool(workers) as processes:
        for done, (method, task, runs, error) in enumerate(processes.imap_unordered(run, jobs)):
            results[method, task] = runs
            if error:
                errors[method, task] = error
            wall, so_far = sum(r[2] for r in runs), time.perf_counter() - start
            print(f"  [{done + 1}/{len(jobs)}] {method} on {task}: {len(runs)} seeds, {wall:.0f} s "
                  f"{error} ({so_far:.0f} s so far, {load_average()})", flush=True)  # fmt: skip
    return results, errors


def search_tasks(
    args: argparse.Namespace,
    run: Callable[[Job], Done],
    slowest: Sequence[str],
    slowest_tasks: Sequence[str] = (),
) -> tuple[dict[tuple[str, str], list[Any]], dict[str, dict[str, str]]]:
    """Every (method, task) of ``args.methods`` and ``args.tasks`` with ``args.seeds`` and
    the task's ``args.trials``, in ``args.workers`` processes: the jobs of the ``slowest``
    methods first, in that order, then by ``slowest_tasks`` (the workers end together).
    Returns the runs by (method, task) and per task why a method has none (its error, or
    why ``args.skipped`` it)."""

    def slow_first(job: Job) -> tuple[int, int]:
        method, task = job[0], job[1]
        return (
            slowest.index(method) if method in slowest else len(slowest),
            slowest_tasks.index(task) if task in slowest_tasks else len(slowest_tasks),
        )

    jobs = sorted(
        ((m, t, args.seeds, args.trials[t]) for t in args.tasks for m in args.methods),
        key=slow_first,
    )
    results, errors = run_searches(jobs, args.workers, run)
    why_none = {
        task: {**{m: e for (m, t), e in errors.items() if t == task}, **args.skipped}
        for task in args.tasks
    }
    return results, why_none


def task_table(
    report: Report,
    title: str,
    runs_of: Mapping[str, list[Run]],
    why_none: Mapping[str, str],
    baseline: str,
    optimum: float | None,
) -> None:
    """One task's table: per method (``runs_of``'s keys, in order) the median best, its
    IQR, the regret (``optimum`` known), the seeds won against ``baseline``, ms per ask and
    s per run; a method without runs gets ``why_none[method]``."""
    rows: list[list[Any]] = []
    for method, runs in runs_of.items():
        if not runs:
            rows.append([method, why_none.get(method, "no result"), *[""] * 5])
            continue
        values = [r[0] for r in runs]
        q1, q2, q3 = (
            statistics.quantiles(values, n=4, method="inclusive") if values[1:] else values * 3
        )
        regret = "-" if optimum is None else f"{q2 - optimum:.3g}"
        wins, theirs = "-", runs_of.get(baseline)
        if method != baseline and theirs:
            pairs = zip(values, [r[0] for r in theirs], strict=False)
            wins = f"{sum(a < b for a, b in pairs)}/{len(runs)}"
        ask_ms = median(r[1] for r in runs) * 1e3
        cells = [f"{q2:.6g}", f"{q1:.4g} – {q3:.4g}", regret, wins, f"{ask_ms:.3g}"]
        rows.append([method, *cells, f"{median(r[2] for r in runs):.1f}"])
    report.table(
        title,
        rows,
        f"method|median best|IQR (25%–75%)|median regret|wins vs {baseline}|ms per ask|s per run",
    )


def overview_table(
    report: Report,
    methods: Sequence[str],
    tasks: Sequence[str],
    best: Mapping[tuple[str, str], list[float]],
    baseline: str,
) -> None:
    """The median best per method and task with its rank among the methods."""
    medians = {key: median(values) for key, values in best.items() if values}
    overview: list[list[Any]] = []
    for method in methods:
        cells = []
        for task in tasks:
            ranked = sorted(medians[m, task] for m in methods if (m, task) in medians)
            value = medians.get((method, task))
            cells.append("-" if value is None else f"{value:.5g} ({ranked.index(value) + 1})")
        overview.append([method, *cells])
    report.table(
        "Overview: median best value per task (rank among the methods)",
        overview,
        "method|" + "|".join(tasks),
        f"Median regret: median best - optimum. Wins: seeds whose best beats {baseline}'s "
        "with the same seed number. ms per ask: mean per trial in a run (hpotrack: ask + "
        "history update; Optuna: tell + ask), median over seeds; s per run includes the "
        "objective. Ranks: 1 is the lowest median (ties share a rank).",
    )


def quality(args: argparse.Namespace, report: Report) -> dict[tuple[str, str], list[float]]:
    """Run every (method, task) job, print one table per task and an overview; returns the
    best values by (method, task)."""
    slow = ["hgb", "kernel_ridge", "hartmann6", *LARGE_TASKS]  # longest first: better packing
    jobs = sorted(
        (
            (m, t, args.seeds, args.trials or ALL_TASKS[t][1])
            for t in args.tasks
            for m in args.methods
        ),
        key=lambda j: (j[1] not in slow, j[0] not in ("optuna-gp", "bayes")),
    )
    results, errors = run_searches(jobs, args.workers, run_job)
    return quality_tables(
        report, args, ALL_TASKS, results, errors, args.skipped, baseline=args.baseline
    )


def quality_tables(
    report: Report,
    args: argparse.Namespace,
    tasks: Mapping[str, tuple[str, int, float | None]],
    results: Mapping[tuple[str, str], list[Run]],
    errors: Mapping[tuple[str, str], str],
    skipped: Mapping[str, str],
    baseline: str | None = None,
) -> dict[tuple[str, str], list[float]]:
    """One table per task of ``args.tasks`` (label, trials and optimum from ``tasks``) and
    the overview, against ``baseline`` (default: random search, hpotrack's, else
    Optuna's); the best values by (method, task). ``skipped``: methods that did not run,
    with why."""
    best = {key: [r[0] for r in runs] for key, runs in results.items()}
    baseline = baseline or next(
        (m for m in ("random", "optuna-random") if m in args.methods), "random"
    )
    for task in args.tasks:
        label, trials, optimum = tasks[task]
        optimum_text = "unknown" if optimum is None else f"{optimum:.6g}"
        task_table(
            report,
            f"{task}: {label}, {args.trials or trials} trials, {len(args.seeds)} seeds, "
            f"optimum {optimum_text}",
            {m: results.get((m, task), []) for m in args.methods + list(skipped)},
            {**{m: e for (m, t), e in errors.items() if t == task}, **skipped},
            baseline,
            optimum,
        )
    overview_table(report, args.methods, args.tasks, best, baseline)
    if args.seeds_out:
        write_seeds(args.seeds_out, args, best)
    return best


def write_seeds(
    path: Path, args: argparse.Namespace, best: Mapping[tuple[str, str], list[float]]
) -> None:
    """Each run's best value as JSON, ``{task: {method: [seed 0's, seed 1's, ...]}}``, with
    the trials and the hpotrack checkout: two checkouts' files pair seed by seed (the
    medians of the tables do not say how many seeds each side won)."""
    runs: dict[str, dict[str, list[float]]] = {}
    for (method, task), values in best.items():
        runs.setdefault(task, {})[method] = values
    checkout = Path(hp.__file__).resolve().parent
    header = {"hpotrack": f"{checkout} at {git_revision(checkout)}", "trials": args.trials}
    path.write_text(json.dumps({**header, "best": runs}, indent=1) + "\n")


def timing(args: argparse.Namespace, report: Report) -> dict[str, dict[int, Any]]:
    """Time suggestions, one spawned process per method, one at a time (quiet numbers)."""
    found: dict[str, dict[int, Any]] = {}
    sizes = [20, 50] if args.quick else SIZES
    jobs = [
        (m, [*sizes, 1000] if m.endswith("tpe") and not args.quick else sizes, args.asks)
        for m in args.methods
    ]
    with pool(1) as worker:
        for method, result in worker.imap(time_asks, jobs):
            found[method] = result
            print(f"  timed {method} ({load_average()})", flush=True)
    columns = sorted({n for result in found.values() for n in result})
    rows = []
    for method in args.methods:
        cells = []
        for n in columns:
            value = found[method].get(n, "-")
            cells.append(value if isinstance(value, str) else f"{value[0] * 1e3:.3g} ({value[1]})")
        rows.append([method, *cells])
    report.table(
        "Suggestion time: median ms per ask after N random completed Hartmann6 trials",
        rows,
        "method|" + "|".join(f"N = {n:,}" for n in columns),
        f"In parentheses: asks timed after one warm-up (at most {args.asks}; fewer once "
        f"{ASK_BUDGET:.0f} s were spent). A size is skipped after an ask over "
        f"{SKIP_AFTER:.0f} s. One thread for BLAS/OpenMP/torch, one method at a time.",
    )
    return found


def targets(
    args: argparse.Namespace,
    best: dict[tuple[str, str], list[float]],
    times: dict[str, dict[int, Any]] | None,
) -> list[list[str]]:
    """The issue's targets: target, measured value, PASS / FAIL / not measured."""
    full = len(args.tasks) == len(TASKS) and not args.quick

    def count(mine: str, theirs: str, strict: bool) -> tuple[str, int | None]:
        """'k of n (not: ...)' and k (None unless all 7 tasks ran)."""
        tasks = [t for t in args.tasks if best.get((mine, t)) and best.get((theirs, t))]
        pairs = [(t, median(best[mine, t]), median(best[theirs, t])) for t in tasks]
        wins = [t for t, a, b in pairs if a < b or (a == b and not strict)]
        lost = [t for t in tasks if t not in wins]
        text = f"{len(wins)} of {len(tasks)}" + (f" (not: {', '.join(lost)})" if lost else "")
        return text, len(wins) if full and len(tasks) == len(TASKS) else None

    def ms(method: str, n: int) -> float | None:
        value = (times or {}).get(method, {}).get(n)
        return None if value is None or isinstance(value, str) else value[0] * 1e3

    found: list[tuple[str, str, bool | None]] = []
    for mine, theirs, need, name in (
        ("bayes", "optuna-gp", 5, "at least as good as Optuna GP on ≥ 5 of 7 tasks"),
        ("bayes", "random", 7, "better than random on all 7 tasks"),
        ("tpe", "optuna-tpe", 5, "at least as good as Optuna TPE on ≥ 5 of 7 tasks"),
    ):
        text, wins = count(mine, theirs, strict=theirs == "random")
        found.append((f"{mine} median best {name}", text, wins if wins is None else wins >= need))
    for method, n, limit in (("bayes", 200, 100.0), ("tpe", 1000, 20.0)):
        value = ms(method, n)
        measured = "-" if value is None else f"{value:.1f} ms"
        ok = None if value is None else value <= limit
        found.append((f"{method} ≤ {limit:.0f} ms per ask at {n:,} trials", measured, ok))
    pairs = [
        (n, a, b)
        for n in SIZES
        if (a := ms("bayes", n)) is not None and (b := ms("optuna-gp", n)) is not None
    ]
    text = ", ".join(f"{a:.0f} vs {b:.0f} ms at {n}" for n, a, b in pairs) or "-"
    ok = all(a <= b for _, a, b in pairs) if pairs else None
    found.append(("bayes never slower than Optuna GP per ask (same N)", text, ok))
    verdict = {True: "PASS", False: "FAIL", None: "not measured"}
    return [[target, measured, verdict[ok]] for target, measured, ok in found]


def parse_args() -> argparse.Namespace:
    """Command line, with --quick's defaults and the methods this machine can run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--seeds", type=int, default=5, help="seeds per method and task (default 5)")
    tasks = f"{', '.join(TASKS)} (the default), {', '.join(LARGE_TASKS)}"
    add("--tasks", default=",".join(TASKS), help=f"comma list of {tasks}")
    add("--methods", default=",".join(HP_METHODS + list(OPTUNA)), help="comma list")
    add("--trials", type=int, help="trials per run (default: 60, ML tasks 40, large 1,000)")
    add("--quick", action="store_true", help="2 seeds, 20 trials, 2 tasks: a smoke test")
    add("--timing", action="store_true", help="also time suggestions at 100-1,000 trials")
    add_run_options(parser)
    add("--seeds-out", type=output_file, help="also write each run's best value as JSON")
    add("--baseline", help="the method whose seeds the others' are counted against "
        "(default: random, else optuna-random)")  # fmt: skip
    args = parser.parse_args()
    args.seeds = seed_numbers(parser, args.seeds, args.quick)
    if args.quick:
        args.trials = args.trials or 20
        if args.tasks == parser.get_default("tasks"):
            args.tasks = ",".join(QUICK_TASKS)
    args.asks = 3 if args.quick else ASKS
    args.tasks = comma_names(parser, "--tasks", args.tasks, list(ALL_TASKS))
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.baseline is not None and args.baseline not in args.methods:
        parser.error(f"--baseline {args.baseline!r} must be one of --methods")
    args.skipped = {}
    for method in list(args.methods):
        module = NEEDS.get(method)
        if module and importlib.util.find_spec(module) is None:
            args.skipped[method] = f"skipped: {module} not installed (pip install {module})"
        elif method not in OPTUNA and method not in VARIANTS and method not in known_methods():
            if method not in HP_METHODS:
                parser.error(f"unknown method {method!r}; known: {', '.join(HP_METHODS)}, "
                             f"{', '.join(VARIANTS)}, "
                             f"{', '.join(OPTUNA)}")  # fmt: skip
            args.skipped[method] = "skipped: not in this hpotrack checkout"
        else:
            continue
        args.methods.remove(method)
    args.workers = default_workers(args.workers)
    return args


def main() -> None:
    """Run everything, print the tables, optionally write them as markdown."""
    one_blas_thread()
    args = parse_args()
    report = Report("hpotrack search quality and suggestion time")
    optuna_rows = [m for m in args.methods if m in OPTUNA]  # hpotrack's rows need neither
    model_tasks = [t for t in args.tasks if t in ("kernel_ridge", "hgb")]  # scikit-learn's
    optional = ("torch", "cmaes", "greenlet")  # greenlet: Optuna GP's batched L-BFGS-B
    report.lines(search_environment(args, optuna_rows, model_tasks, optional))
    best = quality(args, report)
    times = timing(args, report) if args.timing else None
    report.table("Targets", targets(args, best, times), "target|measured|result")
    report.finish(args.out)


if __name__ == "__main__":
    main()

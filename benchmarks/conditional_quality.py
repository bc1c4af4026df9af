"""Search quality on conditional spaces (``when=``): hpotrack's methods against Optuna's
define-by-run samplers.

Two tasks whose parameters exist only in one branch of a model choice: a synthetic one with
a known optimum (three branches, the best one looking the worst at random) and the model
choice of ``examples/conditional_models.py`` on a small part of digits. Optuna asks for a
parameter only inside the branch that uses it (``trial.suggest_*`` under ``if``), with
``TPESampler`` as is, with ``multivariate=True, group=True`` (its answer to conditional
spaces: one multivariate model per set of parameters that occur together) and
``RandomSampler``. The tables are those of ``methods_quality.py``.

    python benchmarks/conditional_quality.py --out conditional.md   # default: 5-10 min
    python benchmarks/conditional_quality.py --quick                # smoke test, < 1 min
    python benchmarks/conditional_quality.py --tasks branches --methods tpe,optuna-tpe-group
"""

from __future__ import annotations

import argparse
import functools
import math
from collections.abc import Callable
from typing import Any

from _common import Report, comma_names, one_blas_thread, output_file, search_environment
from methods_quality import TASKS as TASKS_OF_METHODS_QUALITY
from methods_quality import (
    Params,
    Run,
    branin,
    quality_tables,
    rosenbrock,
    run_searches,
    run_seeds,
    timed_calls,
)

import hpotrack as hp
from hpotrack.methods import resolve
from hpotrack.space import Space
from hpotrack.testing.driver import simulate

HP_METHODS = ["random", "tpe", "bayes", "evolution", "auto"]
OPTUNA: dict[str, tuple[str, dict[str, Any]]] = {
    "optuna-random": ("RandomSampler", {}),
    "optuna-tpe": ("TPESampler", {}),
    "optuna-tpe-group": ("TPESampler", {"multivariate": True, "group": True}),
}
# name: (description, trials, known optimum or None)
TASKS: dict[str, tuple[str, int, float | None]] = {
    "branches": ("model choice of sphere, rosenbrock or branin, 2-3 parameters each", 60, 0.0),
    "models": ("SVM, forest or logistic regression on 600 digits, 3-fold CV error", 40, None),
}
QUICK_TRIALS = 15
BRANIN_MINIMUM = TASKS_OF_METHODS_QUALITY["branin"][2]
DIGITS = 600  # rows of digits: a trial takes 0.05-1.5 s, a run of 40 about 15 s


def branches(p: Params) -> float:
    """Three branches, each a standard function of its own parameters: ``sphere`` looks
    best at random but bottoms out at 0.6; ``rosenbrock`` (on a log scale) at 0.3;
    ``branin`` (log10 of Branin over its minimum) looks worst at random and holds the
    optimum, 0. No optimum lies at the middle of a range, where encodings put inactive
    parameters (a method carrying that placeholder into a branch would land on it)."""
    if p["model"] == "sphere":
        x, scale, n = p["s_x"], math.log10(p["s_scale"]), p["s_n"]
        return 0.6 + 0.05 * (x - 2) ** 2 + 0.05 * (scale - 1) ** 2 + 0.02 * (n - 6) ** 2
    if p["model"] == "rosenbrock":
        return 0.3 + math.log10(1 + rosenbrock({"x0": p["r_u"], "x1": p["r_v"]}))
    return math.log10(branin({"x": p["b_x"], "y": p["b_y"]}) / BRANIN_MINIMUM)


def model_error(p: Params) -> float:
    """3-fold CV error of the model a trial's values describe on the first 600 digits."""
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x, y = load_digits(return_X_y=True)
    model: Any
    if p["model"] == "svm":
        gamma = p.get("gamma", "scale")
        model = make_pipeline(StandardScaler(), SVC(C=p["C"], kernel=p["kernel"], gamma=gamma))
    elif p["model"] == "forest":
        model = RandomForestClassifier(
            n_estimators=p["n_estimators"], max_depth=p["max_depth"], random_state=0
        )
    else:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=p["C"], max_iter=2000))
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(model, x[:DIGITS], y[:DIGITS], cv=folds, n_jobs=1)
    return float(1 - scores.mean())


def task_space(task: str) -> Space:
    """The task's conditional space; a parent comes before the parameters it governs."""
    if task == "branches":
        sphere, valley, branin_branch = ({"model": m} for m in ("sphere", "rosenbrock", "branin"))
        return Space(
            {
                "model": hp.Choice(["sphere", "rosenbrock", "branin"]),
                "s_x": hp.Float(-5.0, 5.0, when=sphere),
                "s_scale": hp.Float(1e-3, 1e3, log=True, when=sphere),
                "s_n": hp.Int(1, 8, when=sphere),
                "r_u": hp.Float(-2.0, 2.0, when=valley),
                "r_v": hp.Float(-1.0, 2.0, when=valley),
                "b_x": hp.Float(-5.0, 10.0, when=branin_branch),
                "b_y": hp.Float(0.0, 15.0, when=branin_branch),
            }
        )
    return Space(  # examples/conditional_models.py's space
        {
            "model": hp.Choice(["svm", "forest", "logistic"]),
            "C": hp.Float(1e-3, 1e3, log=True, when={"model": ["svm", "logistic"]}),
            "kernel": hp.Choice(["rbf", "linear"], when={"model": "svm"}),
            "gamma": hp.Float(1e-4, 1.0, log=True, when={"kernel": "rbf"}),
            "n_estimators": hp.Int(10, 200, log=True, when={"model": "forest"}),
            "max_depth": hp.Int(2, 32, log=True, when={"model": "forest"}),
        }
    )


OBJECTIVES: dict[str, Callable[[Params], float]] = {
    "branches": branches,
    "models": model_error,
}


def suggest(trial: Any, space: Space) -> dict[str, Any]:
    """Optuna's define-by-run over ``space``: each parameter is suggested only when the
    values suggested before it make it active (``if model == "svm": trial.suggest_...``),
    so Optuna never sees an inactive one."""
    values: dict[str, Any] = {}
    for name, param in space.items():
        if name in space.inactive(values):
            continue
        if isinstance(param, hp.Choice):
            values[name] = trial.suggest_categorical(name, list(param.options))
        elif isinstance(param, hp.Int):
            values[name] = trial.suggest_int(name, param.low, param.high, log=param.log)
        else:
            values[name] = trial.suggest_float(name, param.low, param.high, log=param.log)
    return values


def one_run(method: str, task: str, seed: int, trials: int) -> Run:
    """One search: (best value, mean seconds per suggestion, wall seconds), timed as in
    ``methods_quality.one_run``."""
    space = task_space(task)
    timed, asking, stamps = timed_calls(OBJECTIVES[task])
    if method in OPTUNA:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler, options = OPTUNA[method]
        study = optuna.create_study(sampler=getattr(optuna.samplers, sampler)(seed=seed, **options))
        study.optimize(lambda trial: timed(suggest(trial, space)), n_trials=trials)
        best = float(study.best_value)
    else:
        history = simulate(resolve(method), space, trials, seed=seed, objective=timed)
        best = min(t.value for t in history.trials if t.value is not None)
    return best, sum(asking) / len(asking), stamps[-1] - stamps[0]


def parse_args() -> argparse.Namespace:
    """Command line, with --quick's defaults."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--seeds", type=int, default=5, help="seeds per method and task (default 5)")
    add("--tasks", default=",".join(TASKS), help=f"comma list of {', '.join(TASKS)}")
    add("--methods", default=",".join(HP_METHODS + list(OPTUNA)), help="comma list")
    add("--trials", type=int, help="trials per run (default: branches 60, models 40)")
    add("--quick", action="store_true", help=f"2 seeds, {QUICK_TRIALS} trials: a smoke test")
    add("--workers", type=int, choices=(1, 2), default=2, help="processes (default 2)")
    add("--out", type=output_file, help="also write the tables as markdown to this file")
    add("--seeds-out", type=output_file, help="also write each run's best value as JSON")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.trials = min(args.seeds, 2), args.trials or QUICK_TRIALS
    if args.seeds < 1 or (args.trials is not None and args.trials < 1):
        parser.error(
            f"`--seeds >= 1` and `--trials >= 1` must hold, but got --seeds={args.seeds}, "
            f"--trials={args.trials}"
        )
    args.seeds = list(range(args.seeds))
    args.tasks = comma_names(parser, "--tasks", args.tasks, list(TASKS))
    args.methods = comma_names(parser, "--methods", args.methods, HP_METHODS + list(OPTUNA))
    return args


def main() -> None:
    """Run every (method, task), print one table per task and an overview."""
    one_blas_thread()
    args = parse_args()
    report = Report("hpotrack search quality on conditional spaces")
    optuna_rows = [m for m in args.methods if m in OPTUNA]
    model_tasks = [t for t in args.tasks if t == "models"]  # scikit-learn's
    report.lines(search_environment(args, optuna_rows, model_tasks))
    jobs = [
        (m, t, args.seeds, args.trials or TASKS[t][1])
        for t in sorted(args.tasks, key=lambda t: t != "models")  # the longest first
        for m in args.methods
    ]
    results, errors = run_searches(jobs, args.workers, functools.partial(run_seeds, one_run))
    quality_tables(report, args, TASKS, results, errors, {})
    report.finish(args.out)


if __name__ == "__main__":
    main()

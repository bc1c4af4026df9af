"""Arguments another library's habits put in a call of hpotrack (Optuna's ``storage=``
on ``@hp.tune``, ``callbacks=`` on ``optimize``): one :class:`CallError` saying what
hpotrack takes instead, not Python's bare ``TypeError``."""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from hpotrack.errors import CallError

F = TypeVar("F", bound=Callable[..., Any])

INSTEAD = {
    # optimize()'s own options given to @hp.tune (Ray Tune's Tuner and Hyperopt's fmin
    # take them with the search's definition)
    "n_trials": "the run takes it: train.optimize(n_trials=...), the study's total",
    "timeout": "the run takes it: train.optimize(timeout=...), in seconds",
    "n_jobs": "the run takes it: train.optimize(n_jobs=...), processes on this machine",
    "progress": "the run takes it: train.optimize(progress=True) shows a bar",
    "max_budget": (
        "the run takes it: train.optimize(max_budget=...), the steps (epochs, say) the "
        "study's trials train in total"
    ),
    "good_enough": (
        "the run takes it: train.optimize(good_enough=...), the objective at which the "
        "search is done"
    ),
    "trial_timeout": "the run takes it: train.optimize(trial_timeout=...), in seconds per trial",
    "patience": (
        "the run takes it: train.optimize(patience=...), the complete trials that may "
        "finish without improving on the study's best"
    ),
    "storage": "db= takes the database file: a path such as 'hpotrack.db', not a URL",
    "study_name": "study= names the study (load_study takes it first: load_study(name, db=...))",
    "sampler": "method= chooses the search: a name ('tpe') or hp.methods.TPE(...)",
    "pruner": (
        "a pruner is an option of the method, method=hp.methods.TPE(pruner='median'); "
        "successive halving is a method, method='hyperband' with budget=hp.Budget(min, max)"
    ),
    "directions": (
        "direction= takes one direction per objective: objective=('error', 'latency'), "
        "direction=('minimize', 'minimize')"
    ),
    "constraints_func": (
        "constraints= of @hp.tune names the metrics a trial must keep within bounds: "
        "constraints=[hp.Constraint('latency_ms', at_most=10)], the function returning "
        "{'loss': ..., 'latency_ms': ...}"
    ),
    "load_if_exists": "a study that exists is always reopened (its declaration checked)",
    "early_stopping": (
        "train.optimize(patience=N) stops the search once N complete trials finished "
        "after the best without improving on it; to stop poor trials early, use "
        "method='sha', 'hyperband' or 'bohb' with budget=hp.Budget(min, max), or "
        "method=hp.methods.TPE(pruner='median')"
    ),
    "time_limit": (
        "train.optimize(timeout=...) stops the search after that many seconds, "
        "train.optimize(trial_timeout=...) each trial that runs longer than that"
    ),
    "catch": (
        "a trial that raises is stored as failed and the search goes on, until "
        "max_failures (of @hp.tune) fail in a row"
    ),
    "show_progress_bar": "progress=True shows a bar",
    # Hyperopt's fmin and Ray Tune's Tuner, TuneConfig, RunConfig and tune.run
    "fn": "@hp.tune(space) decorates the function, and train.optimize(...) runs it",
    "algo": "method= chooses the search: a name ('tpe', 'random') or hp.methods.TPE(...)",
    "search_alg": "method= chooses the search: a name ('tpe', 'bayes') or hp.methods.TPE(...)",
    "scheduler": (
        "early stopping is a method, method='sha' (ASHA), 'hyperband' or 'bohb', with "
        "budget=hp.Budget(min, max); or method=hp.methods.TPE(pruner='median')"
    ),
    "early_stop_fn": (
        "train.optimize(patience=N) stops once N complete trials finished after the best "
        "without improving on it (Hyperopt's no_progress_loss(N))"
    ),
    "loss_threshold": (
        "train.optimize(good_enough=...) stops once a complete trial's objective is at "
        "least that good"
    ),
    "max_evals": "train.optimize(n_trials=...) sets the number of trials, the study's total",
    "num_samples": "train.optimize(n_trials=...) sets the number of trials, the study's total",
    "trials": (
        "every trial is stored in the study's database, db= of @hp.tune "
        "(train.study.trials reads them); optimize(n_trials=...) sets how many run"
    ),
    "rstate": "seed= of @hp.tune seeds the study",
    "metric": "objective= names the metric to optimize (a key of the dict the function returns)",
    "mode": "direction= is 'minimize' or 'maximize'",
    "config": "the space is @hp.tune's first argument",
    "param_space": "the space is @hp.tune's first argument",
    "time_budget_s": "timeout= of optimize() stops the search after that many seconds",
    "max_concurrent_trials": "n_jobs= of optimize() runs that many processes on this machine",
    "resources_per_trial": "n_jobs= of optimize() runs that many processes on this machine",
    "stop": (
        "optimize() stops at n_trials=, timeout=, max_budget=, patience= or good_enough=, "
        "a trial at trial_timeout= seconds or at its budget's max, "
        "budget=hp.Budget(min, max) of @hp.tune"
    ),
    "max_t": "budget=hp.Budget(min, max) of @hp.tune: max is how far a trial may train",
    "grace_period": "budget=hp.Budget(min, max) of @hp.tune: no trial stops before min",
    "reduction_factor": "eta is an option of the method, method=hp.methods.SHA(eta=3)",
    "name": "study= names the study",
    "storage_path": "db= takes the database file: a path such as 'hpotrack.db'",
    "local_dir": "db= takes the database file: a path such as 'hpotrack.db'",
}
"""What hpotrack takes instead of another library's argument."""


def checked_arguments(
    fn: F, *, instead: Mapping[str, str] = INSTEAD, label: str | None = None
) -> F:
    """``fn`` that raises :class:`CallError` for an argument it does not take, naming
    hpotrack's way (``instead``, by default :data:`INSTEAD`) or the closest name it
    takes; messages call it ``label`` (default: its name)."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TypeError:  # bound only then: hot paths (report) pay nothing
            try:
                signature.bind(*args, **kwargs)
            except TypeError as exc:  # the call itself was wrong: nothing of fn ran
                message = _explained(label or fn.__name__, signature, args, kwargs, exc, instead)
                raise CallError(message) from None
            raise  # from inside fn

    return cast(F, call)


def takes_no_function(name: str, taken: Sequence[str]) -> str:
    """What to say of Optuna's habit ``study.optimize(objective, ...)`` on ``name()``,
    whose parameters are ``taken``."""
    return (
        f"{name}() takes no function: it runs the one @hp.tune decorates, "
        f"train.{name}(n_trials=...); it takes {', '.join(taken)}"
    )


def _explained(
    name: str,
    signature: inspect.Signature,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    exc: TypeError,
    instead: Mapping[str, str] = INSTEAD,
) -> str:
    taken = [p for p in signature.parameters if p != "self"]
    unknown = [key for key in kwargs if key not in signature.parameters]
    if not unknown:
        given = args[1:] if "self" in signature.parameters else args
        if any(callable(arg) for arg in given):  # Optuna's study.optimize(objective, ...)
            return takes_no_function(name, taken)
        return f"{name}(): {exc}; it takes {', '.join(taken)}"
    key = unknown[0]
    if key in instead:
        return f"{name}() takes no {key}=: {instead[key]}"
    close = difflib.get_close_matches(key, taken, n=1)
    hint = f"did you mean {close[0]}=? It" if close else "it"
    return f"{name}() takes no {key}=; {hint} takes {', '.join(taken)}"

"""What ``SearchCV.fit`` checks before any trial, each a clear error naming the fix: its
options, its scorers and refit metric, its budget, and the arguments of scikit-learn's
and Optuna's searches that it takes under other names (:data:`INSTEAD`)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

from sklearn.metrics import check_scoring

from hpotrack.budget import Budget
from hpotrack.errors import DefinitionError, MethodError, SpaceError
from hpotrack.methods.registry import resolve
from hpotrack.sklearn.folds import N_SAMPLES, metric_suffix
from hpotrack.sklearn.labels import labelled
from hpotrack.space import Space

if TYPE_CHECKING:
    from hpotrack.sklearn.search import SearchCV

UNSUITED_METHODS = {
    "pbt": "trains each trial on from its parent's checkpoint",
    "gradient": "descends a gradient, which a cross-validated score's plateaus make zero",
}
"""Methods a search refuses, and why: a trial here is a whole cross-validation, with no
checkpoint it continues from, and a score flat almost everywhere."""


INSTEAD = {
    "n_iter": "n_trials= is the search's number of candidates (the study's total)",
    "param_grid": "the space is the second argument: SearchCV(estimator, {'C': [0.1, 1, 10]})",
    "param_distributions": (
        "the space is the second argument: SearchCV(estimator, {'C': hp.Float(1e-3, 1e3, "
        "log=True)})"
    ),
    "verbose": "progress=True shows a bar with the best score; every trial is in the study",
    "pre_dispatch": "trials run one at a time; n_jobs= fits that many folds at once",
    "factor": "Hyperband's eta is an option of the method: method=hp.methods.Hyperband(eta=3)",
    "resource": "budget=hp.Budget(min, max, name='n_samples') (or a parameter's name)",
    "min_resources": "budget=hp.Budget(min, max, name='n_samples'): min is the least amount",
    "max_resources": "budget=hp.Budget(min, max, name='n_samples'): max is the most",
    "n_candidates": "n_trials= is the number of trials, promotions to more samples included",
    "seed": "random_state= is the study's seed",
}
"""What SearchCV takes instead of an argument of scikit-learn's or Optuna's searches."""


def scorers(search: SearchCV) -> tuple[Any, list[str], str | None]:
    """What cross_validate scores with (one scorer, or a dict of them), the
    ``cv_results_`` suffixes of their names, and the refit metric's name (None for
    one scorer)."""
    scoring = search.scoring
    if isinstance(scoring, list | tuple | set | dict):
        named = scoring if isinstance(scoring, dict) else {s: s for s in scoring}
        if not named or not all(isinstance(key, str) for key in named):
            raise DefinitionError(
                "scoring must name its metrics: a list of scorer names or a dict "
                f"name -> scorer, but got scoring={scoring!r}"
            )
        if not isinstance(search.refit, str) or search.refit not in named:
            raise DefinitionError(
                f"with several scorers, refit names the one to optimize, one of "
                f"{', '.join(map(repr, named))}, but got refit={search.refit!r}"
            )
        scorers = {key: check_scoring(search.estimator, s) for key, s in named.items()}
        return scorers, list(named), search.refit
    if isinstance(search.refit, str):
        several = (
            " (a callable that returns a dict of metrics is not supported: pass each "
            "metric's scorer in a dict, as make_scorer makes them)"
            if callable(scoring)
            else ""
        )
        raise DefinitionError(
            f"refit={search.refit!r} names a metric, but scoring={scoring!r} is a single "
            f"one{several}: pass refit=True (or False), or several scorers as a dict"
        )
    return check_scoring(search.estimator, scoring), [metric_suffix(None)], None


def check_options(search: SearchCV) -> None:
    """One clear error for an option fit cannot use (the study's own options, space
    and method among them, are checked by ``hp.tune``)."""
    if not isinstance(search.refit, bool | str):
        raise DefinitionError(
            "refit must be True, False or the name of a scorer (the search optimizes "
            f"one metric, so it cannot pick the best with a function), but got "
            f"refit={search.refit!r}"
        )
    error_score = search.error_score
    if not (error_score == "raise" or _is_number(error_score)):
        raise DefinitionError(
            f"error_score must be 'raise' or a number (nan: the trial fails), but got "
            f"error_score={error_score!r}"
        )
    seed = search.random_state
    if seed is not None and not (
        isinstance(seed, Integral) and not isinstance(seed, bool) and 0 <= int(seed) < 2**63
    ):
        raise DefinitionError(
            "`0 <= random_state < 2**63` must hold for a whole number (or None): it "
            f"is the study's seed, but got random_state={seed!r}"
        )
    method = resolve(search.method)  # an unknown name: the registry's error
    if method.name in UNSUITED_METHODS:
        raise MethodError(
            f"SearchCV cannot run method {method.name!r}: it "
            f"{UNSUITED_METHODS[method.name]}, and a SearchCV trial is one whole "
            "cross-validation; use method='tpe', 'bayes', 'random', 'evolution', 'grid' "
            "or 'auto', and prune poor configurations after their first folds with "
            "hp.methods.TPE(pruner='median')"
        )
    if search.budget is not None and getattr(method, "pruner", None) is not None:
        raise MethodError(
            f"method {method.name!r} has a pruner, which checks a trial at every step "
            "of the budget, and SearchCV would cross-validate at each: with budget=, "
            "use method='sha', 'hyperband' or 'bohb' (they check at rungs); or leave "
            "budget= out to prune by folds"
        )
    if search.budget is None:
        try:
            method.check_budget(None)
        except MethodError:  # @hp.tune's words name its own budget=
            raise MethodError(
                f"method {method.name!r} stops trials at rungs of a budget: pass "
                "budget=hp.Budget(min, max, name='n_samples') (training samples per "
                "fold) or name=one of the estimator's parameters (n_estimators, "
                "max_iter); or use method='tpe' with pruner='median' to stop poor "
                "configurations after their first folds"
            ) from None
    if isinstance(search.space, list | tuple) and all(isinstance(g, Mapping) for g in search.space):
        raise SpaceError(
            "space is one dict, not a list of grids as GridSearchCV's param_grid may be: "
            "put every grid's parameters in one dict, a parameter that only some grids "
            "have with a condition on the choice that sets them apart, e.g. "
            "{'clf': [SVC(), LogisticRegression()], 'clf__gamma': hp.Float(1e-4, 1.0, "
            "log=True, when={'clf': 'SVC()'})} (docs/sklearn.md)"
        )
    if search.study is not None and not isinstance(search.study, str):
        raise DefinitionError(f"study names a study, but got study={search.study!r}")
    known = search.estimator.get_params(deep=True)
    names = list(Space.from_user(labelled(search.space).space))
    unknown = [name for name in names if name not in known and not _of_a_choice(name, names)]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(known), n=1)
        fix = f"did you mean {close[0]!r}?" if close else f"its parameters are {', '.join(known)}"
        raise SpaceError(
            f"the space names {unknown[0]!r}, which is no parameter of "
            f"{type(search.estimator).__name__}: {fix}"
        )


def check_budget(search: SearchCV, splits: list[tuple[Any, Any]]) -> None:
    """A budget counts training samples (``name="n_samples"``, at most the smallest
    training fold's) or a whole-number parameter of the estimator not in the space."""
    budget = search.budget
    if budget is None:
        return
    if not isinstance(budget, Budget):
        raise DefinitionError(
            f"budget must be an hp.Budget(min, max, name=...), but got budget={budget!r}"
        )
    if not budget.whole:
        raise DefinitionError(
            "SearchCV's budget counts whole samples or a parameter's whole amount: give "
            f"it integer bounds, but got {budget!r}"
        )
    if budget.name == N_SAMPLES:
        smallest = min(len(train) for train, _ in splits)
        if budget.max > smallest:
            raise DefinitionError(
                f"`max <= {smallest}` must hold for budget n_samples, the samples of the "
                f"smallest training fold, but got max={budget.max}"
            )
        return
    known = search.estimator.get_params(deep=True)
    if budget.name not in known:
        raise DefinitionError(
            f"the budget's name {budget.name!r} is neither 'n_samples' nor a parameter "
            f"of {type(search.estimator).__name__} (such as max_iter or n_estimators)"
        )
    if budget.name in Space.from_user(labelled(search.space).space):
        raise DefinitionError(
            f"{budget.name!r} is both the budget and in the space: the budget sets it, "
            "so leave it out of the space"
        )


def _of_a_choice(name: str, names: list[str]) -> bool:
    """Whether ``name`` is a parameter of an estimator the space itself chooses
    (``clf__gamma`` with ``clf`` in the space): set on the option the trial gets."""
    parts = name.split("__")
    return any("__".join(parts[:i]) in names for i in range(1, len(parts)))


def _is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)

"""``cv_results_`` of a :class:`~hpotrack.sklearn.SearchCV`, read from its study: one row
per finished trial (complete, pruned or failed) in trial order, with scikit-learn's keys
(``params``, ``param_C``, ``split0_test_score``, ``mean_test_score``, ``rank_test_score``,
``mean_fit_time``, ...) so that ``pandas.DataFrame(search.cv_results_)`` and code written
for ``GridSearchCV`` read it alike, plus ``trial_number`` and ``state``. A trial lost or
interrupted (a crash, Ctrl-C) that a retry replaced has no row: its retry is the row of
its parameters, so that the rows are the study's ``n_trials``, each configuration once.

Only a complete trial was cross-validated on every fold: a pruned or failed one has NaN
scores (a pruned trial's running means are its curve, ``search.study_.curve(number)``)
and ranks after every complete one, as scikit-learn ranks NaN scores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata

from hpotrack.records import Origin, TrialRecord, TrialState

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED)


def metric_keys(scorer_names: Sequence[str], n_splits: int, train: bool) -> list[str]:
    """The score and time keys of ``cv_results_``, in scikit-learn's order, for scorers
    named by their ``cv_results_`` suffix (``score`` for a single one)."""
    keys = ["mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time"]
    for name in scorer_names:
        sets = ("test", "train") if train else ("test",)
        for kind in sets:
            keys += [f"split{i}_{kind}_{name}" for i in range(n_splits)]
            keys += [f"mean_{kind}_{name}", f"std_{kind}_{name}"]
    return keys


def cv_results(
    trials: Sequence[TrialRecord],
    param_names: Sequence[str],
    scorer_names: Sequence[str],
    n_splits: int,
    train: bool,
    *,
    budgeted: bool = False,
    resource_parameter: str | None = None,
    objects: Callable[[Mapping[str, Any]], dict[str, Any]] = dict,
) -> dict[str, Any]:
    """``cv_results_`` of the finished ``trials``: see the module's docstring. With a
    budget (``budgeted``), ``n_resources``: the amount a trial was last evaluated at;
    when it counts an estimator parameter (``resource_parameter``, say ``max_iter``),
    that amount is a parameter of the row too, as in scikit-learn's halving searches.
    ``objects``: a trial's parameters as the estimator takes them (labels of options a
    study cannot store replaced by the options: :mod:`hpotrack.sklearn.labels`)."""
    replaced = {e.parent for t in trials for e in t.parents if e.kind == Origin.RETRIED.value}
    rows = [t for t in trials if t.state in FINISHED and t.number not in replaced]
    amounts = [_resources(t) for t in rows]
    results: dict[str, Any] = {}
    for key in metric_keys(scorer_names, n_splits, train):
        results[key] = np.array([_metric(t, key) for t in rows], dtype=float)
    params = [objects(t.params) for t in rows]  # labels of objects: the objects
    if resource_parameter is not None:
        for row, amount in zip(params, amounts, strict=True):
            if not np.isnan(amount):
                row[resource_parameter] = int(amount)
        param_names = [*param_names, resource_parameter]
    for name in param_names:  # masked where the trial has no such parameter (when=)
        column: np.ma.MaskedArray = np.ma.MaskedArray(np.empty(len(rows), dtype=object), mask=True)
        for i, row in enumerate(params):
            if name in row:
                column[i] = row[name]
        results[f"param_{name}"] = column
    results["params"] = params
    for name in scorer_names:
        results[f"rank_test_{name}"] = ranks(results[f"mean_test_{name}"])
    if budgeted:
        results["n_resources"] = np.array(amounts, dtype=float)
    results["trial_number"] = np.array([t.number for t in rows], dtype=int)
    results["state"] = np.array([t.state.value for t in rows], dtype=object)
    return results


def ranks(scores: np.ndarray) -> np.ndarray:
    """1 for the highest score, ties sharing the lowest rank, NaN after every number
    (scikit-learn's ``rank_test_*``)."""
    if len(scores) == 0:
        return np.array([], dtype=np.int32)
    lowest = np.where(np.isnan(scores), np.inf, -scores)
    return np.asarray(rankdata(lowest, method="min"), dtype=np.int32)


def _resources(trial: TrialRecord) -> float:
    """The amount of the budget a trial was last evaluated at: the one it completed at,
    else its last check (a rung); NaN for one that failed before any."""
    if trial.state is TrialState.COMPLETE and "n_resources" in trial.metrics:
        return float(trial.metrics["n_resources"])
    return float(max(trial.checks)) if trial.checks else float("nan")


def _metric(trial: TrialRecord, key: str) -> float:
    """A complete trial's stored metric; NaN for one not cross-validated on every fold."""
    if trial.state is not TrialState.COMPLETE:
        return float("nan")
    value = trial.metrics.get(key)
    return float(value) if isinstance(value, int | float) else float("nan")

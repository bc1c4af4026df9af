"""One trial of a :class:`~hpotrack.sklearn.SearchCV`: the estimator with the trial's
parameters, cross-validated fold by fold, the running mean of the refit metric reported
after each fold, so that a method with a pruner (``hp.methods.TPE(pruner="median")``)
stops a configuration whose first folds score poorly without fitting the rest.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import cross_validate

from hpotrack.errors import DefinitionError
from hpotrack.sklearn.labels import LabelledSpace
from hpotrack.trial import Trial

Split = tuple[np.ndarray, np.ndarray]
N_SAMPLES = "n_samples"
"""The budget's name that counts training samples per fold, as scikit-learn's halving
searches' ``resource="n_samples"``; any other name is the estimator's parameter."""


def subsample(train: np.ndarray, amount: int, classes: np.ndarray | None = None) -> np.ndarray:
    """The first ``amount`` of a training fold's indices in a fixed shuffled order: the
    same for every trial (their scores compare), and a smaller amount's samples are
    among a larger one's. With the fold's ``classes`` (a classifier's labels, one per
    index), the order is stratified: each class's samples spread evenly over it, so that
    any amount holds every class in about its share, and one sample of each from as many
    samples as there are classes (a random cut of an imbalanced fold would lose the rare
    class, and the fit fail at the smaller amounts whatever the parameters)."""
    order = np.random.default_rng(0).permutation(len(train))
    if classes is not None:
        _, kind, counts = np.unique(
            np.asarray(classes)[order], return_inverse=True, return_counts=True
        )
        kind = kind.reshape(-1)
        position = np.empty(len(order))  # the k-th sample of a class of n is at k/n
        for label, count in enumerate(counts):
            members = np.flatnonzero(kind == label)
            position[members] = np.arange(len(members)) / count
        order = order[np.argsort(position, kind="stable")]  # ties: the shuffled order
    return np.sort(train[order[:amount]])


def metric_suffix(name: str | None) -> str:
    """What scikit-learn's ``cv_results_`` keys end with: ``score`` for one scorer, the
    scorer's name for several (``mean_test_score``, ``mean_test_accuracy``)."""
    return "score" if name is None else name


@dataclass(eq=False)  # hashed by identity, as functions are
class FoldEvaluation:
    """Cross-validate ``estimator`` with one trial's parameters on ``splits`` (the same
    for every trial, so that their scores compare), ``n_jobs`` folds at a time.

    ``scoring`` is what :func:`sklearn.model_selection.cross_validate` takes (one scorer,
    or a dict of named ones); ``refit_metric`` the name of the one the search optimizes
    (None for a single scorer). ``error_score``: a number replaces the score of a fold
    whose fit fails (scikit-learn warns); NaN or ``"raise"`` fails the trial with the
    error, stored with it; the last one is kept in :attr:`last_error` for ``fit`` to
    raise under ``"raise"``.
    """

    estimator: BaseEstimator
    X: Any
    y: Any
    splits: Sequence[Split]
    scoring: Callable[..., Any] | Mapping[str, Callable[..., Any]]
    refit_metric: str | None
    fit_params: Mapping[str, Any]
    error_score: float | str
    return_train_score: bool
    n_jobs: int | None
    resource: str | None = None  # what the study's budget counts, when it has one
    stratify: bool = False  # a classifier's n_samples keep each class's share
    labels: LabelledSpace = field(default_factory=lambda: LabelledSpace({}))  # objects
    last_error: BaseException | None = field(default=None, init=False)

    def __call__(self, trial: Trial, **stored: Any) -> dict[str, float]:
        params = clone(self.labels.objects(stored), safe=False)  # fresh: fits change them
        if self.resource is None:
            return self._by_folds(trial, clone(self.estimator).set_params(**params))
        return self._by_budget(trial, params, self.resource)

    def _by_folds(self, trial: Trial, estimator: BaseEstimator) -> dict[str, float]:
        """Every fold, the running mean reported after each (steps 1..n_splits); ``n_jobs``
        folds at a time when the method may stop the trial after one, else all in one
        call of cross_validate (each call has a cost of its own)."""
        folds: list[dict[str, float]] = []
        checked = trial.next_check(1) is not None
        at_once = self._at_once if checked else len(self.splits)
        for start in range(0, len(self.splits), at_once):
            batch = self.splits[start : start + at_once]
            folds.extend(self._cross_validate(estimator, batch))
            for done in range(len(folds) - len(batch) + 1, len(folds) + 1):
                running = float(np.mean([fold[self._objective] for fold in folds[:done]]))
                trial.report(running, step=done)  # may raise hp.Pruned: the rest unfitted
        return summarized(folds)

    def _by_budget(
        self, trial: Trial, params: Mapping[str, Any], resource: str
    ) -> dict[str, float]:
        """Cross-validated afresh at each amount of the budget where the method checks
        the trial (its rungs, from the first one above where a promoted trial's parent
        stopped), then at the trial's budget: ``resource`` samples of each training
        fold (``n_samples``), or the estimator's parameter of that name (``max_iter``,
        ``n_estimators``). The mean score is reported at that amount."""
        step = 1
        while True:
            check = trial.next_check(step)
            amount = int(trial.budget if check is None else min(check, trial.budget))
            estimator = clone(self.estimator).set_params(**params)
            splits = list(self.splits)
            if resource == N_SAMPLES:
                splits = [(self._subsample(train, amount), test) for train, test in splits]
            else:
                estimator.set_params(**{resource: amount})
            folds = self._cross_validate(estimator, splits)
            trial.report(float(np.mean([fold[self._objective] for fold in folds])), step=amount)
            if amount >= trial.budget:  # may have raised hp.Pruned at a check before
                return {**summarized(folds), "n_resources": float(amount)}
            step = amount + 1

    def _subsample(self, train: np.ndarray, amount: int) -> np.ndarray:
        """``amount`` samples of the training fold ``train``, stratified for a
        classifier (:func:`subsample`)."""
        classes = np.asarray(self.y)[train] if self.stratify else None
        return subsample(train, amount, classes)

    @property
    def _objective(self) -> str:
        return f"test_{metric_suffix(self.refit_metric)}"

    @property
    def _at_once(self) -> int:
        """How many folds are fitted at once (``n_jobs``: -1 is one per core)."""
        return max(1, int(effective_n_jobs(self.n_jobs)))

    def _cross_validate(
        self, estimator: BaseEstimator, batch: Sequence[Split]
    ) -> list[dict[str, float]]:
        """Each fold of ``batch``: its fit and score times and scores, by
        ``cross_validate``'s keys (``test_score``, ``train_accuracy``, ...)."""
        try:
            result = cross_validate(
                estimator,
                self.X,
                self.y,
                cv=list(batch),
                scoring=self.scoring,
                n_jobs=min(self._at_once, len(batch)) if self._at_once > 1 else None,
                return_train_score=self.return_train_score,
                error_score="raise",
                params=dict(self.fit_params),
            )
        except Exception as exc:
            if isinstance(self.error_score, str) or np.isnan(self.error_score):
                self.last_error = exc  # the trial fails with it; "raise" raises it from fit
                raise
            if len(batch) > 1:  # which fold failed: each on its own
                return [
                    fold for split in batch for fold in self._cross_validate(estimator, [split])
                ]
            return [self._failed_fold(exc)]
        if self._objective not in result:  # a callable scorer returned a dict of metrics
            given = sorted(key.removeprefix("test_") for key in result if key.startswith("test_"))
            raise DefinitionError(
                f"the scorer gave several metrics ({', '.join(given)}), not one score: pass "
                "scoring as a dict of scorers, and refit= the name of the one to optimize"
            )
        return [
            {key: float(values[i]) for key, values in result.items()} for i in range(len(batch))
        ]

    def _failed_fold(self, error: Exception) -> dict[str, float]:
        """A fold whose fit failed under a numeric ``error_score``: that score, as
        scikit-learn gives it, with its warning (cross_validate of the one fold raises
        instead: every fit it ran failed)."""
        warnings.warn(
            f"a fit failed; its fold scores error_score={self.error_score!r}: "
            f"{type(error).__name__}: {error}",
            FitFailedWarning,
            stacklevel=2,
        )
        names = list(self.scoring) if isinstance(self.scoring, Mapping) else ["score"]
        kinds = ("test", "train") if self.return_train_score else ("test",)
        fold = {"fit_time": 0.0, "score_time": 0.0}
        fold.update({f"{kind}_{name}": float(self.error_score) for kind in kinds for name in names})
        return fold


def summarized(folds: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """A trial's metrics in ``cv_results_``'s names: each fold's scores
    (``split0_test_score``), and the mean and standard deviation over folds of each score
    and of the fit and score times."""
    metrics: dict[str, float] = {}
    for key in folds[0]:
        values = np.array([fold[key] for fold in folds])
        if key.startswith(("test_", "train_")):  # not fit_time, score_time
            for i, value in enumerate(values):
                metrics[f"split{i}_{key}"] = float(value)
        metrics[f"mean_{key}"] = float(np.mean(values))
        metrics[f"std_{key}"] = float(np.std(values))
    return metrics

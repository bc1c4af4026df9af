"""``SearchCV``: scikit-learn's search estimator (``GridSearchCV``'s interface) whose
candidates come from an hpotrack method, one trial at a time, each stored in the study.

What it adds to ``GridSearchCV``/``RandomizedSearchCV``: any method (``tpe``,
``bayes``, ``evolution``, ...); fold-level pruning (``hp.methods.TPE(pruner="median")``
stops a configuration after a poor first fold); every trial, fold score and error kept
in the SQLite file, so ``hpotrack show`` reads the search and a search that was stopped
(Ctrl-C, a crash) continues from where it was when fit again with the same ``study=``;
several processes fitting with one ``study=`` share its ``n_trials``.
"""

from __future__ import annotations

import datetime
import functools
import logging
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.model_selection import check_cv
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils.metadata_routing import _routing_enabled, process_routing
from sklearn.utils.multiclass import type_of_target

from hpotrack.arguments import checked_arguments
from hpotrack.budget import Budget
from hpotrack.errors import NoCompleteTrial, TooManyFailures
from hpotrack.methods.base import Method
from hpotrack.records import TrialState
from hpotrack.sklearn.checks import INSTEAD, check_budget, check_options, scorers
from hpotrack.sklearn.folds import N_SAMPLES, FoldEvaluation, metric_suffix
from hpotrack.sklearn.labels import LabelledSpace, labelled
from hpotrack.sklearn.results import cv_results
from hpotrack.study import Study
from hpotrack.tune import TunedFunction, tune

log = logging.getLogger("hpotrack")
DEFAULT_TRIALS = 10
"""Trials of a fit without ``n_trials`` or ``timeout`` under a method that never ends
(RandomizedSearchCV's and OptunaSearchCV's ``n_iter``/``n_trials`` default)."""


class SearchCV(BaseSearchCV):  # type: ignore[misc]  # scikit-learn is untyped
    """Search ``estimator``'s parameters over ``space`` with an hpotrack method,
    cross-validating each trial as ``GridSearchCV`` does; after ``fit``: ``cv_results_``,
    ``best_params_``, ``best_score_``, ``best_index_``, ``best_estimator_`` (refit on all
    the data), ``predict``/``score``/... through it, and ``study_``, the hpotrack study.

    ``space``: estimator parameter -> ``hp.Float``/``hp.Int``/``hp.Choice`` or a
    shorthand (a list is a Choice: a ``GridSearchCV`` grid is a space), pipeline steps'
    parameters by scikit-learn's ``step__param`` names. ``method``: as ``@hp.tune``'s
    (``"grid"`` runs every combination). ``n_trials``: the study's total (None: the
    whole grid under a method that ends, else until ``timeout``, else 10). ``scoring``,
    ``cv``, ``refit``, ``error_score``, ``return_train_score``: as ``GridSearchCV``'s,
    except that a fit failing under ``error_score=nan`` fails its trial with the error
    stored (``max_failures`` in a row stop the search), and ``refit`` must name the
    metric to optimize with several scorers. ``n_jobs``: folds fitted at once (trials
    run one after another, each proposed knowing every earlier one). ``study``, ``db``:
    the study's name and file (default: a new study named after the estimator in
    ``./hpotrack.db``; fit again with the same ``study=`` to continue one).
    ``random_state``: the study's seed. ``progress``: a progress bar on a terminal.
    ``budget``: ``hp.Budget(min, max, name=...)`` for ``sha``, ``hyperband`` and
    ``bohb``: training samples per fold (``name="n_samples"``) or the estimator's
    parameter of that name (``n_estimators``), a trial cross-validated at each amount
    where its method checks it (docs/sklearn.md).
    """

    @functools.partial(checked_arguments, instead=INSTEAD, label="SearchCV")
    def __init__(
        self,
        estimator: BaseEstimator,
        space: Mapping[str, object],
        *,
        method: str | Method = "auto",
        n_trials: int | None = None,
        timeout: float | None = None,
        scoring: Any = None,
        cv: Any = None,
        refit: bool | str = True,
        error_score: float | str = np.nan,
        return_train_score: bool = False,
        n_jobs: int | None = None,
        study: str | None = None,
        db: str | Path | None = None,
        random_state: int | None = None,
        max_failures: int = 5,
        progress: bool | None = None,
        budget: Budget | None = None,
    ) -> None:
        # scikit-learn's convention: keep the arguments as given, check them in fit
        self.estimator = estimator
        self.space = space
        self.method = method
        self.n_trials = n_trials
        self.timeout = timeout
        self.scoring = scoring
        self.cv = cv
        self.refit = refit
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.n_jobs = n_jobs
        self.study = study
        self.db = db
        self.random_state = random_state
        self.max_failures = max_failures
        self.progress = progress
        self.budget = budget

    def fit(self, X: Any, y: Any = None, *, groups: Any = None, **fit_params: Any) -> SearchCV:
        """Run the search (to the study's ``n_trials``) and, with ``refit``, fit the best
        configuration on all of ``X``, ``y``; ``fit_params`` go to the estimator's fit."""
        check_options(self)
        scoring, names, refit_metric = scorers(self)
        if _routing_enabled():  # metadata nothing requested: scikit-learn's error, now
            given = fit_params if groups is None else {"groups": groups, **fit_params}
            routed = process_routing(self, "fit", **given)
            split_params, refit_params = routed.splitter.split, routed.estimator.fit
        else:
            split_params, refit_params = {"groups": groups}, fit_params
        splitter = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(splitter.split(X, y, **split_params))  # every trial: the same folds
        check_budget(self, splits)
        labels = labelled(self.space)
        evaluation = FoldEvaluation(
            estimator=self.estimator,
            X=X,
            y=y,
            splits=splits,
            scoring=scoring,
            refit_metric=refit_metric,
            fit_params=fit_params,
            error_score=self.error_score,
            return_train_score=self.return_train_score,
            n_jobs=self.n_jobs,
            resource=None if self.budget is None else self.budget.name,
            stratify=is_classifier(self.estimator) and _has_classes(y),
            labels=labels,
        )
        name = self.study if self.study is not None else _new_study_name(self.estimator)
        tuned = tune(
            labels.space,
            self.method,
            study=name,
            objective=f"mean_test_{metric_suffix(refit_metric)}",
            direction="maximize",  # scikit-learn's scores: greater is better
            db=self.db,
            seed=self.random_state,
            max_failures=1 if self.error_score == "raise" else self.max_failures,
            budget=self.budget,
        )(evaluation)
        try:
            study = self._run(tuned)
        except KeyboardInterrupt:  # what continues it is fit, not optimize() (its words)
            log.info(
                "study %r interrupted: SearchCV(..., study=%r).fit(X, y) again on the same "
                "data continues it, first running again any trial the interruption stopped",
                name,
                name,
            )
            raise
        except TooManyFailures:
            if self.error_score == "raise" and evaluation.last_error is not None:
                raise evaluation.last_error from None
            raise
        self._keep_results(study, scoring, names, refit_metric, len(splits), labels)
        if self.refit is not False:
            self._refit(X, y, refit_params)
        return self

    def _run(self, tuned: TunedFunction[Any]) -> Study:
        """Run the study to ``n_trials``. Without ``n_trials`` (nor ``timeout``) and with
        a budget, until a trial has trained to its max: the first bracket's count is
        enough for one process on its own, but several fitting one study start other
        brackets while a rung is still running, and failed trials count too, so one
        trial more at a time, at most that count again, until one completes."""
        first = self._n_trials(tuned.study)
        study = tuned.run_study(n_trials=first, timeout=self.timeout, progress=self.progress)
        if self.n_trials is not None or self.timeout is not None or self.budget is None:
            return study
        history = study.refresh()
        for _ in range(first or history.n_started):
            if any(t.state is TrialState.COMPLETE for t in study.trials):
                break
            study = tuned.run_study(n_trials=history.n_started + 1, progress=self.progress)
            history = study.refresh()
        return study

    def _keep_results(
        self,
        study: Study,
        scoring: Any,
        names: list[str],
        refit_metric: str | None,
        n_splits: int,
        labels: LabelledSpace,
    ) -> None:
        """The fitted attributes scikit-learn's searches have, read from ``study``."""
        self.study_name_ = study.name
        self.db_path_ = str(study.db_path)
        self.multimetric_ = refit_metric is not None
        self.scorer_ = scoring
        self.n_splits_ = n_splits
        self.cv_results_ = cv_results(
            study.trials,
            list(study.space),
            names,
            n_splits,
            self.return_train_score,
            budgeted=self.budget is not None,
            resource_parameter=self._resource_parameter(),
            objects=labels.objects,
        )
        if self.refit is not False or not self.multimetric_:
            self._take_best(study)

    def _refit(self, X: Any, y: Any, fit_params: dict[str, Any]) -> None:
        """``best_estimator_``: the best parameters fitted on all the data."""
        started = time.perf_counter()
        estimator = clone(self.estimator).set_params(**clone(self.best_params_, safe=False))
        self.best_estimator_ = estimator.fit(X, y, **fit_params)
        self.refit_time_ = time.perf_counter() - started
        if hasattr(self.best_estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.best_estimator_.feature_names_in_

    @property
    def study_(self) -> Study:
        """The study the search ran in, opened afresh from its file (a fitted search
        keeps its name and file, not a connection, so that it pickles)."""
        from hpotrack.definition import load_study

        if not hasattr(self, "study_name_"):
            raise AttributeError(f"{type(self).__name__} has no study_ before fit")
        return load_study(self.study_name_, db=self.db_path_)

    def _take_best(self, study: Study) -> None:
        """best_index_, best_score_, best_params_: the study's best complete trial."""
        try:
            best = study.best
        except NoCompleteTrial as error:
            raise NoCompleteTrial(_why_none_completed(study, str(error))) from None
        numbers = list(self.cv_results_["trial_number"])
        self.best_index_ = numbers.index(best.number)
        self.best_params_ = dict(self.cv_results_["params"][self.best_index_])  # with a
        # budget that sets a parameter, its amount too
        self.best_score_ = float(best.value)

    def _resource_parameter(self) -> str | None:
        """The estimator's parameter the budget sets, if it sets one."""
        budget = self.budget
        return None if budget is None or budget.name == N_SAMPLES else budget.name

    def _n_trials(self, study: Study) -> int | None:
        """``n_trials``; without it, None where that ends a run (a timeout, the study's
        stored target, a method that ends, such as a grid), else :data:`DEFAULT_TRIALS`,
        or as many as a multi-fidelity method needs for one trial to reach the budget's
        max (Hyperband's first bracket)."""
        if self.n_trials is not None:
            return self.n_trials
        history = study.refresh()
        ends = self.timeout is not None or study.target is not None
        if ends or study.method.trials_left(history) is not None:
            return None
        return max(DEFAULT_TRIALS, study.method.trials_to_complete(history) or 0)


def _why_none_completed(study: Study, message: str) -> str:
    """``message`` (no complete trial), and the error of the last failed trial: as
    ``GridSearchCV`` says when every fit failed, so that the cause is not only in the
    file."""
    failed = [t for t in study.trials if t.state is TrialState.FAILED and t.error]
    if not failed:
        return message
    last = failed[-1]
    cause = str(last.error).strip().splitlines()[-1]
    return (
        f"{message}: {len(failed)} of its {len(study.trials)} trials failed, the last "
        f"(trial {last.number}) with {cause} (its traceback: hpotrack --db "
        f"{study.db_path} trial {study.name} {last.number})"
    )


def _has_classes(y: Any) -> bool:
    """Whether ``y`` is one label per sample, of two classes or more (not several
    outputs, not a regression's numbers), as a subsample keeps each class's share of."""
    return y is not None and type_of_target(y) in ("binary", "multiclass")


def _new_study_name(estimator: BaseEstimator) -> str:
    """A study of its own for a fit without ``study=``: the estimator's class and when
    (a fit starts afresh, as scikit-learn's do; ``study=`` continues one)."""
    when = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{type(estimator).__name__}-search-{when}-{secrets.token_hex(2)}"


__all__ = ["SearchCV"]

"""SearchCV with a budget: successive halving, Hyperband and BOHB over scikit-learn models,
each trial cross-validated afresh at the amounts where its method checks it (training
samples per fold, or an estimator parameter such as n_estimators), as scikit-learn's
halving searches do, with the study's rungs, promotions and lineage."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.svm import SVC

import hpotrack as hp
from hpotrack.sklearn import SearchCV
from hpotrack.sklearn.folds import subsample

SVC_SPACE = {"C": hp.Float(1e-2, 1e3, log=True), "gamma": hp.Float(1e-4, 1.0, log=True)}


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


class SampleCounter(ClassifierMixin, BaseEstimator):
    """Scores the number of distinct samples it was fitted on, over 1000 (and its
    ``offset``): what a fold's training amount was, read from its score."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def fit(self, X: Any, y: Any) -> SampleCounter:
        self.classes_ = np.unique(y)
        self.seen_ = len({row.tobytes() for row in np.asarray(X)})
        return self

    def predict(self, X: Any) -> np.ndarray:
        return np.full(len(X), self.classes_[0])

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        return self.seen_ / 1000 + self.offset


def test_n_samples_fits_each_fold_on_that_many_of_its_training_samples(
    digits: Any, db: Path
) -> None:
    X, y = digits
    search = SearchCV(
        SampleCounter(),
        {"offset": hp.Float(0.0, 0.001)},
        method="sha",
        n_trials=12,
        cv=3,
        db=db,
        budget=hp.Budget(20, 180, name="n_samples"),
        random_state=0,
    ).fit(X, y)
    study = search.study_
    for trial in study.trials:
        for step, value in study.curve(trial.number)["mean_test_score"]:
            assert value - trial.params["offset"] == pytest.approx(step / 1000)
    results = search.cv_results_
    assert set(results["n_resources"]) <= {20.0, 60.0, 180.0}
    assert search.best_estimator_.seen_ == len({row.tobytes() for row in X})  # refit: all


def test_a_smaller_amount_is_among_a_larger_ones_samples() -> None:
    train = np.arange(100, 400)
    small, large = subsample(train, 30), subsample(train, 90)
    assert len(small) == 30 and len(large) == 90 and set(small) <= set(large) <= set(train)
    np.testing.assert_array_equal(subsample(train, 30), small)  # the same for every trial


def test_hyperband_promotes_configurations_to_more_samples(digits: Any, db: Path) -> None:
    X, y = digits
    search = SearchCV(
        SVC(),
        SVC_SPACE,
        method="hyperband",
        cv=3,
        db=db,
        budget=hp.Budget(20, 180, name="n_samples"),
        random_state=0,
    ).fit(X, y)  # n_trials: as many as the first bracket needs for one to train fully
    results = search.cv_results_
    study = search.study_
    complete = results["state"] == "complete"
    assert complete.any()
    assert set(results["n_resources"][complete]) == {180.0}
    assert (results["n_resources"][~complete] < 180).all()
    promoted = [t for t in study.trials if t.origin == "promoted"]
    assert promoted
    for trial in promoted:  # cross-validated only above where its parent stopped
        (edge,) = trial.parents
        steps = [step for step, _ in study.curve(trial.number)["mean_test_score"]]
        assert min(steps) > edge.step
        assert study.trials[edge.parent].params == trial.params
    assert search.best_params_ == study.best.params
    assert search.best_score_ == pytest.approx(np.nanmax(results["mean_test_score"]))


def test_a_parameter_budget_sets_it_and_the_refit_gets_the_best_amount(
    digits: Any, db: Path
) -> None:
    X, y = digits
    space = {"max_features": hp.Float(0.05, 1.0), "min_samples_leaf": hp.Int(1, 20)}
    search = SearchCV(
        RandomForestClassifier(max_depth=6, random_state=0),
        space,
        method="sha",
        n_trials=30,
        cv=3,
        db=db,
        budget=hp.Budget(2, 18, name="n_estimators"),
        random_state=0,
    ).fit(X, y)
    results = search.cv_results_
    counts = collections.Counter(results["n_resources"])
    assert counts[2.0] > counts[6.0] > 0 and counts[18.0] > 0
    for params, amount in zip(results["params"], results["n_resources"], strict=True):
        assert params["n_estimators"] == amount
    assert list(results["param_n_estimators"]) == [int(a) for a in results["n_resources"]]
    assert search.best_params_["n_estimators"] == 18
    assert search.best_estimator_.n_estimators == 18
    assert search.best_estimator_.max_features == search.study_.best.params["max_features"]


def test_bohb_searches_with_a_budget(digits: Any, db: Path) -> None:
    X, y = digits
    search = SearchCV(
        SVC(),
        SVC_SPACE,
        method="bohb",
        n_trials=45,
        cv=3,
        db=db,
        budget=hp.Budget(20, 180, name="n_samples"),
        random_state=1,
    ).fit(X, y)
    assert (search.cv_results_["state"] == "complete").sum() >= 1
    assert search.study_.method.name == "bohb"


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"budget": (20, 180)}, "budget must be an hp.Budget"),
        ({"budget": hp.Budget(0.1, 1.0, name="n_samples")}, "integer bounds"),
        ({"budget": hp.Budget(20, 500, name="n_samples")}, "`max <= 400` must hold"),
        ({"budget": hp.Budget(1, 9, name="epochs")}, "neither 'n_samples' nor a parameter"),
        ({"budget": hp.Budget(1, 9, name="C")}, "both the budget and in the space"),
        (
            {"budget": hp.Budget(20, 180, name="n_samples"), "method": "tpe_median"},
            "has a pruner",
        ),
        ({"method": "sha"}, "stops trials at rungs of a budget: pass budget="),
    ],
)
def test_a_budget_that_cannot_work_is_one_error_before_any_trial(
    digits: Any, db: Path, options: dict[str, Any], words: str
) -> None:
    X, y = digits
    if options.get("method") == "tpe_median":
        options = {**options, "method": hp.methods.TPE(pruner="median")}
    with pytest.raises(hp.HpotrackError) as raised:
        SearchCV(SVC(), SVC_SPACE, cv=3, db=db, **options).fit(X, y)
    assert words in str(raised.value)
    if Path(db).exists():
        assert all(not hp.load_study(s, db=db).trials for s in _names(db))


def _names(db: Path) -> list[str]:
    from hpotrack.store import open_store

    return [row.name for row in open_store(Path(db), must_exist=True).list_studies()]

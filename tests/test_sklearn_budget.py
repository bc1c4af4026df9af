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


def test_a_classifiers_samples_keep_every_class_of_an_imbalanced_fold(db: Path) -> None:
    """1 sample in 14 of the rare class: 8 samples cut at random from a training fold
    lose it, and every fit at the lowest rung fails whatever the parameters. A
    classifier's samples keep each class's share, as a stratified split does."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(300, weights=[0.93, 0.07], flip_y=0, random_state=0)
    search = SearchCV(
        LogisticRegression(),
        {"C": hp.Float(1e-2, 1e2, log=True)},
        method="hyperband",
        cv=3,
        scoring="roc_auc",
        db=db,
        budget=hp.Budget(8, 72, name="n_samples"),
        random_state=0,
    ).fit(X, y)
    assert "failed" not in set(search.cv_results_["state"])
    assert set(search.cv_results_["n_resources"]) == {8.0, 24.0, 72.0}


def test_a_stratified_amount_holds_each_class_in_its_share() -> None:
    classes = np.array([0] * 90 + [1] * 7 + [2] * 3)
    train = np.arange(100, 200)
    previous: set[int] = set()
    for amount in range(3, 101):
        chosen = subsample(train, amount, classes)
        counts = np.bincount(classes[chosen - 100], minlength=3)
        assert len(chosen) == amount and (counts >= 1).all()
        assert (np.abs(counts - amount * np.array([0.9, 0.07, 0.03])) < 2).all()  # 1 each first
        assert previous <= set(chosen)  # a smaller amount's samples among a larger one's
        previous = set(chosen)


BRACKET = """
import os
import sys
import time
from pathlib import Path

from sklearn.datasets import load_digits
from sklearn.svm import SVC

import hpotrack as hp
from hpotrack.sklearn import SearchCV


class SlowSVC(SVC):
    def fit(self, X, y, sample_weight=None):
        time.sleep(0.02)  # the two processes' trials overlap
        return super().fit(X, y, sample_weight=sample_weight)


X, y = load_digits(return_X_y=True)
space = {"C": hp.Float(1e-2, 1e3, log=True), "gamma": hp.Float(1e-4, 1.0, log=True)}
search = SearchCV(SlowSVC(), space, method="hyperband", cv=3, db=sys.argv[1], study="bracket",
                  budget=hp.Budget(30, 270, name="n_samples"), random_state=0)
ready = Path(sys.argv[2])
(ready / str(os.getpid())).touch()
while len(list(ready.iterdir())) < 2:  # both imported scikit-learn: they start together
    time.sleep(0.01)
search.fit(X[:450] / 16.0, y[:450])
print(search.best_params_["C"] > 0)
"""


def test_processes_sharing_a_study_without_n_trials_run_until_one_trial_completes(
    tmp_path: Path,
) -> None:
    """Without n_trials, Hyperband's first bracket's count (13 here): with two processes,
    one starts the next bracket while the other's rung is running, and the count can
    end with no trial trained to the max. Each fit goes on until one has."""
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "bracket.py"
    script.write_text(textwrap.dedent(BRACKET), encoding="utf-8")
    ready = tmp_path / "ready"
    ready.mkdir()
    command = [sys.executable, str(script), str(tmp_path / "bracket.db"), str(ready)]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr[-1500:]
        assert stdout.split() == ["True"]
    study = hp.load_study("bracket", db=tmp_path / "bracket.db")
    assert any(t.state == "complete" for t in study.trials)

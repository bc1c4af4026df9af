"""hpotrack.sklearn.SearchCV used as a scikit-learn practitioner uses it: pandas frames and
string labels, regression scorers, metadata routing, methods it cannot run, searches whose
every trial fails, and a fitting process killed or interrupted mid-fit then fitted again."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import hpotrack as hp
from hpotrack.errors import MethodError, NoCompleteTrial
from hpotrack.sklearn import SearchCV


def _trials_stored(db: Path) -> int:
    from hpotrack.store import open_store

    if not Path(db).exists():
        return 0
    store = open_store(Path(db), must_exist=True)
    return sum(len(hp.load_study(row.name, db=db).trials) for row in store.list_studies())


def test_a_frame_with_categories_and_string_labels_is_searched_as_given(db: Path) -> None:
    iris = load_iris(as_frame=True)
    frame = iris.data.assign(kind=np.where(iris.data["sepal width (cm)"] > 3, "wide", "narrow"))
    labels = iris.target.map(dict(enumerate(iris.target_names)))
    columns = list(iris.data.columns)
    prepare = ColumnTransformer(
        [("kind", OneHotEncoder(), ["kind"]), ("numbers", StandardScaler(), columns)]
    )
    pipeline = Pipeline([("prepare", prepare), ("model", LogisticRegression(max_iter=300))])
    space = {"model__C": hp.Float(0.01, 10.0, log=True), "prepare__kind__drop": [None, "first"]}
    search = SearchCV(pipeline, space, method="random", n_trials=3, cv=3, db=db, random_state=0)
    search.fit(frame, labels)
    assert list(search.feature_names_in_) == [*columns, "kind"]
    assert list(search.classes_) == ["setosa", "versicolor", "virginica"]
    assert set(search.predict(frame.iloc[:5])) <= set(iris.target_names)
    assert search.best_params_["prepare__kind__drop"] in (None, "first")


def test_a_regression_scored_by_negative_error_maximizes_it_as_grid_search_cv(db: Path) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    grid = {"alpha": [0.01, 1.0, 100.0]}
    options: dict[str, Any] = {"cv": KFold(3, shuffle=True, random_state=0)}
    options["scoring"] = "neg_mean_squared_error"
    search = SearchCV(Ridge(), grid, method="grid", db=db, **options).fit(X, y)
    reference = GridSearchCV(Ridge(), grid, **options).fit(X, y)
    assert search.best_params_ == reference.best_params_
    assert search.best_score_ == pytest.approx(reference.best_score_) and search.best_score_ < 0


@pytest.mark.parametrize(
    ("method", "words"),
    [
        ("pbt", "SearchCV cannot run method 'pbt'"),
        ("gradient", "SearchCV cannot run method 'gradient'"),
        (hp.methods.PBT(), "SearchCV cannot run method 'pbt'"),
        ("sha", "method 'sha' stops trials at rungs of a budget: pass budget=hp.Budget("),
        (hp.methods.Hyperband(eta=3), "method 'hyperband' stops trials at rungs of a budget"),
        ("bohb", "method 'bohb' stops trials at rungs of a budget"),
    ],
)
def test_a_method_a_search_cannot_run_is_one_error_naming_the_methods_it_can(
    db: Path, method: Any, words: str
) -> None:
    X, y = load_iris(return_X_y=True)
    space = {"C": hp.Float(0.1, 10.0, log=True)}
    search = SearchCV(LogisticRegression(), space, method=method, n_trials=4, cv=3, db=db)
    with pytest.raises(MethodError) as raised:
        search.fit(X, y)
    assert words in str(raised.value)
    assert "method='tpe'" in str(raised.value)
    assert _trials_stored(db) == 0


def test_when_every_trial_fails_the_error_says_with_what(db: Path) -> None:
    X = np.arange(12.0).reshape(-1, 1)
    y = np.array([0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0])  # KFold(3): one fold trains on 0s only
    search = SearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, method="grid", cv=KFold(3), db=db)
    with pytest.raises(NoCompleteTrial) as raised:
        search.fit(X, y)
    message = str(raised.value)
    assert "2 of its 2 trials failed" in message and "ValueError" in message
    assert "only one class" in message and " trial " in message


def test_a_callable_scorer_of_several_metrics_is_refused_saying_what_works(db: Path) -> None:
    X, y = load_iris(return_X_y=True)

    def several(estimator: Any, X: Any, y: Any) -> dict[str, float]:
        return {"accuracy": float(np.mean(estimator.predict(X) == y))}

    search = SearchCV(
        LogisticRegression(max_iter=1000), {"C": [1.0]}, method="grid", cv=3, scoring=several, db=db
    )
    with pytest.raises(hp.HpotrackError, match="pass each metric's scorer in a dict"):
        search.set_params(refit="accuracy").fit(X, y)
    with pytest.raises(hp.TooManyFailures):  # refit=True: each trial fails, saying why
        search.set_params(refit=True, max_failures=1, study="several").fit(X, y)
    (failed,) = hp.load_study("several", db=db).trials
    assert failed.error is not None
    assert "the scorer gave several metrics (accuracy), not one score" in failed.error


def test_metadata_routing_refuses_what_nothing_requested_and_routes_the_rest(db: Path) -> None:
    X, y = load_iris(return_X_y=True)
    weights = np.random.RandomState(0).uniform(0.5, 5.0, len(y))
    grid = {"C": [0.05, 1.0]}
    with sklearn.config_context(enable_metadata_routing=True):
        unrequested = SearchCV(LogisticRegression(max_iter=300), grid, method="grid", cv=3, db=db)
        with pytest.raises(UnsetMetadataPassedError):
            unrequested.fit(X, y, sample_weight=weights)
        assert _trials_stored(db) == 0
        model = LogisticRegression(max_iter=300).set_fit_request(sample_weight=True)
        model.set_score_request(sample_weight=True)
        search = SearchCV(model, grid, method="grid", cv=3, db=db).fit(X, y, sample_weight=weights)
        reference = GridSearchCV(model, grid, cv=3).fit(X, y, sample_weight=weights)
        assert search.best_score_ == pytest.approx(reference.best_score_)
        scored_only = LogisticRegression(max_iter=300).set_fit_request(sample_weight=False)
        scored_only.set_score_request(sample_weight=True)  # the weights score, never fit
        search = SearchCV(scored_only, {"C": [1.0]}, method="grid", cv=3, db=db)
        search.fit(X, y, sample_weight=weights)
    unweighted = LogisticRegression(max_iter=300).fit(X, y)
    np.testing.assert_allclose(search.best_estimator_.coef_, unweighted.coef_)


STOPPED = """
import os
import signal
import sys
from pathlib import Path

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import hpotrack as hp
from hpotrack.sklearn import SearchCV


class StoppedOnce(LogisticRegression):
    \"\"\"Its fourth fit (trial 1's first fold) gets the signal, on the first run only.\"\"\"

    def fit(self, X, y, sample_weight=None):
        fits = Path(sys.argv[2])
        fits.write_text(str(int(fits.read_text() or 0) + 1) if fits.exists() else "1")
        if sys.argv[3] != "none" and fits.read_text() == "4":
            os.kill(os.getpid(), getattr(signal, sys.argv[3]))
        return super().fit(X, y, sample_weight=sample_weight)


X, y = load_iris(return_X_y=True)
space = {"C": hp.Float(0.01, 10.0, log=True)}
search = SearchCV(StoppedOnce(max_iter=300), space, method="random", n_trials=3, cv=3,
                  db=sys.argv[1], study="stopped", random_state=0)
search.fit(X, y)
print(search.cv_results_["trial_number"].tolist(), search.cv_results_["state"].tolist())
"""


@pytest.mark.parametrize(("signal_name", "returncode"), [("SIGKILL", -9), ("SIGINT", -2)])
def test_a_fit_stopped_mid_trial_continues_with_one_row_per_configuration(
    tmp_path: Path, signal_name: str, returncode: int
) -> None:
    script = tmp_path / "stopped.py"
    script.write_text(textwrap.dedent(STOPPED), encoding="utf-8")
    db, fits = str(tmp_path / "stopped.db"), str(tmp_path / "fits")
    first = subprocess.run(
        [sys.executable, str(script), db, fits, signal_name], capture_output=True, text=True
    )
    assert first.returncode == returncode, first.stderr
    if signal_name == "SIGINT":  # what continues it: fit again, not optimize()
        assert "SearchCV(..., study='stopped').fit(X, y) again" in first.stderr
        assert "optimize()" not in first.stderr
    again = subprocess.run(
        [sys.executable, str(script), db, fits, "none"], capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    trials = hp.load_study("stopped", db=db).trials
    stopped, retry = trials[1], trials[2]
    assert stopped.state is hp.TrialState.FAILED and retry.origin == "retried"
    assert retry.params == stopped.params and len(trials) == 4
    rows = again.stdout.strip().splitlines()[-1]  # the retry is the row of trial 1's params
    assert rows == "[0, 2, 3] ['complete', 'complete', 'complete']"

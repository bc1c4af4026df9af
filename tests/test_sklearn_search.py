"""hpotrack.sklearn.SearchCV with real scikit-learn models and a real SQLite file: what
GridSearchCV gives, the same (scores, cv_results_, refit, delegation), plus what the study
adds (methods, fold pruning, failures stored, continuing, processes sharing a study)."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import FitFailedWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import hpotrack as hp
from hpotrack.errors import NoCompleteTrial, TooManyFailures
from hpotrack.sklearn import SearchCV

GRID = {"C": [0.1, 1.0, 10.0], "gamma": [0.01, 0.1]}


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return X[:450] / 16.0, y[:450]


def by_params(results: dict[str, Any], key: str) -> dict[tuple[Any, ...], float]:
    pairs = zip(results["params"], results[key], strict=True)
    return {tuple(sorted(params.items())): value for params, value in pairs}


def test_a_grid_scores_as_grid_search_cv_does(digits: Any, db: Path) -> None:
    X, y = digits
    search = SearchCV(SVC(), GRID, method="grid", cv=3, db=db).fit(X, y)
    reference = GridSearchCV(SVC(), GRID, cv=3).fit(X, y)
    assert len(search.cv_results_["params"]) == 6
    for key in ("mean_test_score", "split0_test_score", "split2_test_score", "rank_test_score"):
        assert by_params(search.cv_results_, key) == pytest.approx(
            by_params(reference.cv_results_, key)
        )
    assert search.best_params_ == reference.best_params_
    assert search.best_score_ == pytest.approx(reference.best_score_)
    assert search.cv_results_["params"][search.best_index_] == search.best_params_
    assert set(reference.cv_results_) <= set(search.cv_results_)
    assert list(search.cv_results_["state"]) == ["complete"] * 6
    assert search.n_splits_ == 3
    assert search.study_.best.value == pytest.approx(search.best_score_)


def test_the_refit_estimator_predicts_and_scores(digits: Any, db: Path) -> None:
    X, y = digits
    model = LogisticRegression(max_iter=300)
    space = {"C": [0.01, 1.0, 100.0]}
    search = SearchCV(model, space, method="grid", cv=3, db=db).fit(X, y)
    expected = LogisticRegression(max_iter=300, **search.best_params_).fit(X, y)
    assert search.best_estimator_.get_params()["C"] == search.best_params_["C"]
    np.testing.assert_array_equal(search.predict(X), expected.predict(X))
    assert search.score(X, y) == pytest.approx(expected.score(X, y))
    np.testing.assert_allclose(search.predict_proba(X[:3]), expected.predict_proba(X[:3]))
    np.testing.assert_array_equal(search.classes_, np.arange(10))
    assert search.n_features_in_ == 64
    assert search.refit_time_ > 0


def test_without_refit_the_best_is_known_but_nothing_predicts(digits: Any, db: Path) -> None:
    X, y = digits
    search = SearchCV(SVC(), GRID, method="grid", cv=3, refit=False, db=db).fit(X, y)
    assert search.best_params_ in search.cv_results_["params"]
    assert not hasattr(search, "best_estimator_")
    with pytest.raises((AttributeError, NotFittedError)):
        search.predict(X)


def test_several_scorers_optimize_the_one_refit_names(digits: Any, db: Path) -> None:
    X, y = digits
    search = SearchCV(
        SVC(),
        GRID,
        method="grid",
        cv=3,
        scoring={"accuracy": "accuracy", "f1": "f1_macro"},
        refit="f1",
        return_train_score=True,
        db=db,
    ).fit(X, y)
    results = search.cv_results_
    for key in ("mean_test_accuracy", "mean_test_f1", "rank_test_f1", "split1_train_f1"):
        assert key in results
    assert search.best_score_ == pytest.approx(np.max(results["mean_test_f1"]))
    assert search.multimetric_
    assert search.study_.objective == "mean_test_f1"
    assert search.score(X, y) == pytest.approx(search.scorer_["f1"](search.best_estimator_, X, y))


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"scoring": ["accuracy", "f1_macro"]}, "refit names the one to optimize"),
        ({"scoring": ["accuracy"], "refit": "recall"}, "refit names the one to optimize"),
        ({"refit": "accuracy"}, "names a metric, but scoring=None is a single one"),
        ({"refit": lambda results: 0}, "cannot pick the best with a function"),
        ({"error_score": "ignore"}, "error_score must be 'raise' or a number"),
        ({"random_state": np.random.RandomState(0)}, "`0 <= random_state < 2**63`"),
        ({"space": {"C": [1.0], "degree_of": [2]}}, "no parameter of SVC: did you mean 'degree'?"),
        ({"space": {}}, "space"),
        ({"method": "hyperband"}, "budget"),
    ],
)
def test_bad_options_are_one_clear_error_before_any_trial(
    digits: Any, db: Path, options: dict[str, Any], words: str
) -> None:
    X, y = digits
    arguments: dict[str, Any] = {"space": GRID, "cv": 3, "db": db, **options}
    space = arguments.pop("space")
    with pytest.raises(hp.HpotrackError, match=None) as raised:
        SearchCV(SVC(), space, **arguments).fit(X, y)
    assert words in str(raised.value)
    assert not Path(db).exists() or all(len(s.trials) == 0 for s in _studies(db))


def _studies(db: Path) -> list[hp.Study]:
    from hpotrack.store import open_store

    store = open_store(Path(db), must_exist=True)
    return [hp.load_study(row.name, db=db) for row in store.list_studies()]


def test_a_pipeline_is_searched_by_its_step_parameters(digits: Any, db: Path) -> None:
    X, y = digits
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
    space = {"logisticregression__C": hp.Float(1e-3, 1e2, log=True)}
    search = SearchCV(pipeline, space, method="random", n_trials=4, cv=3, db=db, random_state=0)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["logisticregression__C"] == search.best_estimator_.steps[1][1].C


def test_a_poor_first_fold_is_pruned_before_the_other_folds(digits: Any, db: Path) -> None:
    X, y = digits
    space = {"C": hp.Float(1e-4, 1e2, log=True)}  # below ~1e-2 the SVC barely learns
    method = hp.methods.Random(pruner=hp.pruners.Median(n_startup_trials=3))
    search = SearchCV(SVC(), space, method=method, n_trials=24, cv=5, db=db, random_state=3)
    search.fit(X, y)
    results = search.cv_results_
    pruned = results["state"] == "pruned"
    assert pruned.any() and (~pruned).sum() >= 3
    assert np.isnan(results["mean_test_score"][pruned]).all()
    assert results["rank_test_score"][pruned].min() > results["rank_test_score"][~pruned].max()
    study = search.study_
    for number in results["trial_number"][pruned]:
        curve = study.curve(int(number))["mean_test_score"]
        assert len(curve) < 5  # stopped before its last fold, its running means kept


def pca_model() -> Any:
    """A pipeline whose fit raises for pca__n_components=100: digits have 64 features."""
    return make_pipeline(PCA(), LogisticRegression(max_iter=200))


def test_a_failing_fit_fails_its_trial_with_the_error_stored(digits: Any, db: Path) -> None:
    X, y = digits
    space = {"pca__n_components": [8, 100], "logisticregression__C": [0.5, 1.0]}
    search = SearchCV(pca_model(), space, method="grid", cv=3, db=db).fit(X, y)
    failed = search.cv_results_["state"] == "failed"
    assert failed.sum() == 2
    assert np.isnan(search.cv_results_["mean_test_score"][failed]).all()
    assert search.best_params_["pca__n_components"] == 8
    errors = [t.error for t in search.study_.trials if t.state is hp.TrialState.FAILED]
    assert all(e is not None and "n_components=100" in e for e in errors)


def test_error_score_raise_raises_the_fit_error_and_stores_the_trial(db: Path, digits: Any) -> None:
    X, y = digits
    space = {"pca__n_components": [100]}
    search = SearchCV(pca_model(), space, method="grid", cv=3, error_score="raise", db=db)
    with pytest.raises(ValueError, match="n_components=100"):
        search.fit(X, y)
    (study,) = _studies(db)
    assert [t.state for t in study.trials] == [hp.TrialState.FAILED]


def test_a_numeric_error_score_stands_in_for_the_failed_folds(db: Path, digits: Any) -> None:
    X, y = digits
    space = {"pca__n_components": [8, 100]}
    search = SearchCV(pca_model(), space, method="grid", cv=3, n_jobs=2)
    search.set_params(error_score=0.0, db=db)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X, y)
    assert any(issubclass(w.category, FitFailedWarning) for w in caught)
    scores = by_params(search.cv_results_, "mean_test_score")
    assert scores[(("pca__n_components", 100),)] == 0.0
    assert scores[(("pca__n_components", 8),)] > 0.5
    assert list(search.cv_results_["state"]) == ["complete", "complete"]


def test_consecutive_failures_stop_the_search(db: Path, digits: Any) -> None:
    X, y = digits
    space = {"pca__n_components": [100], "logisticregression__C": hp.Float(0.1, 1.0)}
    search = SearchCV(pca_model(), space, method="random", n_trials=10, cv=3, db=db)
    with pytest.raises(TooManyFailures):
        search.set_params(max_failures=2).fit(X, y)
    (study,) = _studies(db)
    assert len(study.trials) == 2


def test_no_complete_trial_is_said_when_every_trial_failed(db: Path, digits: Any) -> None:
    X, y = digits
    space = {"pca__n_components": [100], "logisticregression__C": [0.5, 1.0]}
    search = SearchCV(pca_model(), space, method="grid", cv=3, db=db)
    with pytest.raises(NoCompleteTrial):
        search.fit(X, y)


def test_fitting_again_with_the_same_study_continues_it(digits: Any, db: Path) -> None:
    X, y = digits
    space = {"C": hp.Float(1e-2, 1e2, log=True), "gamma": hp.Float(1e-3, 1.0, log=True)}
    search = SearchCV(SVC(), space, method="tpe", n_trials=5, cv=3, study="svc", db=db)
    search.set_params(random_state=0).fit(X, y)
    first = list(search.cv_results_["trial_number"])
    search.set_params(n_trials=8).fit(X, y)
    assert first == [0, 1, 2, 3, 4]
    assert list(search.cv_results_["trial_number"]) == list(range(8))
    assert search.study_.name == "svc" and len(search.study_.trials) == 8


def test_without_a_study_name_every_fit_is_a_new_study(
    digits: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = digits
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HPOTRACK_DB", raising=False)
    search = SearchCV(SVC(), {"C": [1.0, 2.0]}, method="grid", cv=3)
    names = {search.fit(X, y).study_.name, search.fit(X, y).study_.name}
    assert len(names) == 2 and all(name.startswith("SVC-search-") for name in names)
    assert (tmp_path / "hpotrack.db").exists()


def test_trials_default_to_ten_unless_the_method_or_a_timeout_ends_the_run(
    digits: Any, db: Path
) -> None:
    X, y = digits
    space = {"C": hp.Float(0.1, 10.0, log=True)}
    search = SearchCV(SVC(), space, method="random", cv=3, db=db, study="random").fit(X, y)
    assert len(search.cv_results_["params"]) == 10
    grid = SearchCV(SVC(), {"C": [float(c) for c in range(1, 13)]}, method="grid", cv=3, db=db)
    assert len(grid.fit(X, y).cv_results_["params"]) == 12


def test_folds_fitted_in_parallel_score_as_one_at_a_time(digits: Any, db: Path) -> None:
    X, y = digits
    serial = SearchCV(SVC(), GRID, method="grid", cv=4, db=db, study="serial").fit(X, y)
    parallel = SearchCV(SVC(), GRID, method="grid", cv=4, db=db, study="parallel", n_jobs=2)
    parallel.fit(X, y)
    for key in ("split0_test_score", "split3_test_score", "mean_test_score"):
        assert by_params(parallel.cv_results_, key) == by_params(serial.cv_results_, key)


def test_groups_and_fit_parameters_reach_the_folds_and_the_refit(digits: Any, db: Path) -> None:
    X, y = digits
    groups = np.arange(len(y)) % 3
    weights = np.ones(len(y))
    search = SearchCV(SVC(), {"C": [1.0]}, method="grid", cv=GroupKFold(3), db=db)
    search.fit(X, y, groups=groups, sample_weight=weights)
    by_hand = GridSearchCV(SVC(), {"C": [1.0]}, cv=GroupKFold(3)).fit(X, y, groups=groups)
    assert search.best_score_ == pytest.approx(by_hand.best_score_)
    with pytest.raises(ValueError):  # sample_weight too short: passed to fit, which refuses
        SearchCV(SVC(), {"C": [1.0]}, method="grid", cv=3, db=db, error_score="raise").fit(
            X, y, sample_weight=weights[:10]
        )


def test_a_fitted_search_pickles_clones_and_reopens_its_study(digits: Any, db: Path) -> None:
    X, y = digits
    search = SearchCV(SVC(), GRID, method="grid", cv=StratifiedKFold(3), db=db).fit(X, y)
    restored = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(restored.predict(X), search.predict(X))
    assert restored.study_.name == search.study_.name
    assert len(restored.study_.trials) == 6
    unfitted = clone(search)
    assert unfitted.get_params()["space"] == GRID and not hasattr(unfitted, "cv_results_")
    with pytest.raises(AttributeError, match="before fit"):
        unfitted.study_  # noqa: B018


def test_the_study_is_readable_by_the_cli_and_resume_says_how_to_continue(
    digits: Any, db: Path
) -> None:
    from click.testing import CliRunner

    from hpotrack.cli import cli

    X, y = digits
    SearchCV(SVC(), GRID, method="grid", cv=3, db=db, study="svc").fit(X, y)
    shown = CliRunner().invoke(cli, ["--db", str(db), "show", "svc"])
    assert shown.exit_code == 0 and "gamma" in shown.output
    resumed = CliRunner().invoke(cli, ["--db", str(db), "resume", "svc", "--n-trials", "8"])
    assert resumed.exit_code != 0 and "Traceback" not in resumed.output
    assert "SearchCV(..., study='svc') again" in resumed.output


SHARED = """
import os
import sys
import time
from pathlib import Path

from sklearn.datasets import load_digits
from sklearn.svm import SVC
import hpotrack as hp
from hpotrack.sklearn import SearchCV

X, y = load_digits(return_X_y=True)
space = {"C": hp.Float(1e-2, 1e2, log=True), "gamma": hp.Float(1e-3, 1.0, log=True)}
search = SearchCV(SVC(), space, method="tpe", n_trials=12, cv=5, db=sys.argv[1], study="shared")
ready = Path(sys.argv[2])
(ready / str(os.getpid())).touch()
while len(list(ready.iterdir())) < 2:  # both imported scikit-learn: they start together
    time.sleep(0.01)
search.fit(X[:1000] / 16.0, y[:1000])
print(len(search.cv_results_["params"]), search.best_score_)
"""


def test_two_processes_fitting_one_study_share_its_trials(tmp_path: Path) -> None:
    script = tmp_path / "shared.py"
    script.write_text(textwrap.dedent(SHARED), encoding="utf-8")
    db = str(tmp_path / "shared.db")
    ready = tmp_path / "ready"
    ready.mkdir()
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), db, str(ready)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    study = hp.load_study("shared", db=db)
    assert len(study.trials) == 12
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 12
    assert {t.pid for t in study.trials} == {p.pid for p in processes}, outputs
    for process, (stdout, _) in zip(processes, outputs, strict=True):
        # each refit the best of the trials finished as its search ended: its own and the
        # other's, but for one the other may still have been running
        rows, best = int(stdout.split()[0]), float(stdout.split()[1])
        own = sum(t.pid == process.pid for t in study.trials)
        assert own < rows <= 12
        assert best <= study.best.value


def test_a_choice_of_estimators_is_searched_as_grid_search_cv_does(digits: Any, db: Path) -> None:
    """Options a study cannot store (a pipeline step's estimator) are stored as
    their repr and given to the estimator as the objects: the scores and the best are
    GridSearchCV's, cv_results_ holds the objects, and the study shows the labels."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler

    X, y = digits
    pipeline = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=300))])
    grid = {
        "scale": [StandardScaler(), MinMaxScaler(), "passthrough"],
        "clf": [LogisticRegression(max_iter=300), SVC()],
        "clf__C": [0.1, 1.0],
    }
    search = SearchCV(pipeline, grid, method="grid", cv=3, db=db, study="steps").fit(X, y)
    reference = GridSearchCV(pipeline, grid, cv=3).fit(X, y)
    scores = sorted(search.cv_results_["mean_test_score"])
    assert scores == pytest.approx(sorted(reference.cv_results_["mean_test_score"]))
    assert search.best_score_ == pytest.approx(reference.best_score_)
    best = {name: repr(value) for name, value in search.best_params_.items()}
    assert best == {name: repr(value) for name, value in reference.best_params_.items()}
    assert repr(search.best_estimator_.named_steps["clf"]) == best["clf"]
    assert {type(s).__name__ for s in search.cv_results_["param_scale"]} == {
        "StandardScaler",
        "MinMaxScaler",
        "str",
    }
    stored = {t.params["scale"] for t in search.study_.trials}
    assert stored == {"StandardScaler()", "MinMaxScaler()", "'passthrough'"}


def test_labels_name_each_option_and_give_back_the_object() -> None:
    from hpotrack.sklearn.labels import labelled

    sizes = [(50,), (50, 50), (50,)]
    space = labelled({"hidden_layer_sizes": sizes, "alpha": hp.Float(1e-5, 1e-1, log=True)})
    assert space.space["hidden_layer_sizes"] == ["(50,)", "(50, 50)", "(50,) #2"]
    assert space.objects({"hidden_layer_sizes": "(50, 50)", "alpha": 0.1}) == {
        "hidden_layer_sizes": (50, 50),
        "alpha": 0.1,
    }
    plain = {"C": [0.1, 1.0], "kernel": ["rbf", None]}
    assert labelled(plain).space == plain and not labelled(plain).options


def test_a_chosen_estimators_own_parameters_are_searched_when_it_is_chosen(
    digits: Any, db: Path
) -> None:
    """``clf__gamma`` with ``when={"clf": "SVC()"}``: a parameter of one option of a
    choice (not of the pipeline's default step) is accepted, and set only on trials that
    chose that option, as a GridSearchCV list of grids does."""
    from sklearn.pipeline import Pipeline

    X, y = digits
    pipeline = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=300))])
    space = {
        "clf": [LogisticRegression(max_iter=300), SVC()],
        "clf__C": hp.Float(0.1, 10.0, log=True),
        "clf__gamma": hp.Float(1e-4, 1e-1, log=True, when={"clf": "SVC()"}),
    }
    search = SearchCV(pipeline, space, method="tpe", n_trials=8, cv=3, db=db, random_state=0)
    results = search.fit(X, y).cv_results_
    chose_svc = [type(p["clf"]) is SVC for p in results["params"]]
    assert any(chose_svc) and not all(chose_svc)
    for params, svc in zip(results["params"], chose_svc, strict=True):
        assert ("clf__gamma" in params) == svc
    assert list(results["param_clf__gamma"].mask) == [not svc for svc in chose_svc]
    with pytest.raises(hp.SpaceError, match="'clf__gama', which is no parameter of Pipeline"):
        SearchCV(pipeline, {"clf__gama": [0.1]}, db=db).fit(X, y)


def test_without_scikit_learn_the_import_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "try:\n    import hpotrack.sklearn\n"
        "except ImportError as error:\n    print(type(error).__name__, error)\n"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("MissingDependency hpotrack.sklearn needs scikit-learn: ")
    assert 'pip install "hpotrack[sklearn]"' in shown.stdout
    # and hpotrack itself imports no scikit-learn
    assert "sklearn" not in subprocess.run(
        [sys.executable, "-c", "import sys, hpotrack; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
    ).stdout.replace("hpotrack", "")


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"n_iter": 20}, "SearchCV() takes no n_iter=: n_trials= is the search's number"),
        ({"verbose": 2}, "SearchCV() takes no verbose=: progress=True shows a bar"),
        ({"factor": 3}, "method=hp.methods.Hyperband(eta=3)"),
        ({"n_trails": 3}, "SearchCV() takes no n_trails=; did you mean n_trials=?"),
    ],
)
def test_a_peers_argument_says_what_search_cv_takes_instead(
    given: dict[str, Any], words: str
) -> None:
    """scikit-learn's and Optuna's names (RandomizedSearchCV's n_iter, verbose, a
    halving search's factor) or a misspelling: one error naming SearchCV's way, while
    get_params (and so clone) still reads the signature."""
    with pytest.raises(hp.errors.CallError, match=None) as raised:
        SearchCV(SVC(), GRID, **given)
    assert words in str(raised.value)
    assert isinstance(raised.value, TypeError)
    assert "n_trials" in SearchCV(SVC(), GRID).get_params()

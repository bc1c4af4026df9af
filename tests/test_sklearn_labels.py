"""Choices of objects in a SearchCV space (functions, lambdas, estimators, tuples, dicts):
stored as labels that every process writes alike, so that a study is continued in another
process, and given back to the estimator as the objects."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import sklearn
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import SVC

import hpotrack as hp
from hpotrack.sklearn.labels import labelled

CONTINUED = """
import sys

import sklearn
from sklearn.datasets import load_iris
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import SVC

import hpotrack as hp
from hpotrack.sklearn import SearchCV

if sys.argv[3] == "verbose":  # this process writes every parameter of an estimator
    sklearn.set_config(print_changed_only=False)


def square(X):
    return X**2


pipeline = Pipeline([("scale", StandardScaler()), ("shape", "passthrough"), ("clf", SVC())])
space = {
    "scale": [StandardScaler(), "passthrough"],
    "shape": [FunctionTransformer(square), "passthrough"],
    "clf__kernel": [lambda a, b: a @ b.T, "rbf"],
    "clf__C": hp.Float(0.1, 10.0, log=True),
}
X, y = load_iris(return_X_y=True)
search = SearchCV(pipeline, space, method="random", n_trials=int(sys.argv[2]), cv=3,
                  db=sys.argv[1], study="objects", random_state=0)
search.fit(X, y)
shapes = {type(params["shape"]).__name__ for params in search.cv_results_["params"]}
print(len(search.cv_results_["params"]), *sorted(shapes))
"""


def test_a_study_of_functions_and_lambdas_continues_in_another_process(tmp_path: Path) -> None:
    """A function's repr holds its address, another in each process, and an estimator's
    repr follows the process's print_changed_only: the labels hold neither, so a second
    process continues the study instead of refusing it as another definition."""
    script = tmp_path / "continued.py"
    script.write_text(textwrap.dedent(CONTINUED), encoding="utf-8")
    db = tmp_path / "objects.db"
    for n_trials, config in ((3, "default"), (6, "verbose")):
        done = subprocess.run(
            [sys.executable, str(script), str(db), str(n_trials), config],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split()[0] == str(n_trials)
        assert set(done.stdout.split()[1:]) <= {"FunctionTransformer", "str"}
    study = hp.load_study("objects", db=db)
    assert {t.params["shape"] for t in study.trials} <= {
        "FunctionTransformer(func=<function square>)",
        "'passthrough'",
    }
    assert {t.params["clf__kernel"] for t in study.trials} <= {"<function <lambda>>", "'rbf'"}


def test_labels_hold_no_address_and_number_options_written_alike() -> None:
    def first(x: float) -> float:
        return x

    options = [lambda x: x, lambda x: 2 * x, first, np.array([1, 2]), None]
    space = labelled({"func": options})
    local = "test_labels_hold_no_address_and_number_options_written_alike.<locals>"
    assert space.space["func"] == [
        f"<function {local}.<lambda>>",
        f"<function {local}.<lambda>> #2",
        f"<function {local}.first>",
        "array([1, 2])",
        "None",
    ]
    assert space.objects({"func": f"<function {local}.<lambda>> #2"})["func"] is options[1]
    assert space.objects({"func": "None"})["func"] is None


def test_an_estimators_label_is_the_same_whatever_the_repr_config() -> None:
    options = [SVC(C=2.0), StandardScaler(), FunctionTransformer(np.log1p)]
    default = labelled({"step": options}).space["step"]
    with sklearn.config_context(print_changed_only=False):
        verbose = labelled({"step": options}).space["step"]
    assert default == verbose == ["SVC(C=2.0)", "StandardScaler()", _log1p_label()]


def _log1p_label() -> str:
    return "FunctionTransformer(func=<ufunc 'log1p'>)"


def test_a_list_of_grids_is_refused_saying_how_to_write_it_as_one_space(db: Path) -> None:
    """GridSearchCV's param_grid may be a list of dicts; a space is one dict, with when=
    for the parameters of one option: the error says so, before any trial."""
    import pytest
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from hpotrack.sklearn import SearchCV

    X, y = load_iris(return_X_y=True)
    pipeline = Pipeline([("clf", SVC())])
    grids = [{"clf": [SVC()], "clf__gamma": [0.1, 1.0]}, {"clf": [LogisticRegression()]}]
    with pytest.raises(hp.SpaceError, match=r"not a list of grids.*when="):
        SearchCV(pipeline, grids, method="grid", cv=3, db=db).fit(X, y)

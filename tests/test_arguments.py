"""``hpotrack.arguments``: another library's arguments given to hpotrack's calls get one
error naming what hpotrack takes instead (it was Python's bare TypeError)."""

from __future__ import annotations

from pathlib import Path

import pytest

import hpotrack as hp
from hpotrack.arguments import checked_arguments
from hpotrack.errors import CallError

SPACE = {"x": hp.Float(0.0, 1.0)}


def objective(x: float) -> float:
    return x


@pytest.mark.parametrize(
    ("keyword", "instead"),
    [
        ("storage", "db= takes the database file: a path such as 'hpotrack.db', not a URL"),
        ("sampler", "method= chooses the search"),
        ("directions", "direction= takes one direction per objective"),
        ("study_name", "study= names the study"),
    ],
)
def test_optunas_study_arguments_on_tune_say_what_hpotrack_takes(
    keyword: str, instead: str
) -> None:
    with pytest.raises(CallError, match=rf"^tune\(\) takes no {keyword}=: {instead}"):
        hp.tune(SPACE, **{keyword: "x"})


@pytest.mark.parametrize("keyword", ["n_trials", "timeout", "n_jobs", "progress", "max_budget"])
def test_optimizes_options_on_tune_point_at_optimize(keyword: str) -> None:
    """``@hp.tune(space, n_trials=50)`` (Ray Tune's Tuner and Hyperopt's fmin take the
    count with the search) listed tune()'s parameters, not where the option goes."""
    with pytest.raises(CallError) as raised:
        hp.tune(SPACE, **{keyword: 1})
    assert str(raised.value).startswith(
        f"tune() takes no {keyword}=: the run takes it: train.optimize({keyword}="
    )


def test_optunas_optimize_arguments_say_what_hpotrack_takes(tmp_path: Path) -> None:
    train = hp.tune(SPACE, db=tmp_path / "h.db", study="s", seed=0)(objective)
    with pytest.raises(CallError, match=r"^optimize\(\) takes no function: it runs the one"):
        train.optimize(objective, n_trials=1)  # type: ignore[arg-type]
    with pytest.raises(CallError, match=r"^optimize\(\) takes no function: .* it takes n_trials,"):
        train.optimize(objective)  # type: ignore[arg-type]  # said n_trials must be >= 0
    with pytest.raises(CallError, match=r"^load_study\(\) takes no storage=: db= takes"):
        hp.load_study("s", storage="sqlite:///h.db")  # type: ignore[call-arg]
    assert train.study.trials == []  # nothing ran
    assert len(train.optimize(n_trials=1).trials) == 1  # a right call still works


@pytest.mark.parametrize(
    ("keyword", "instead"),
    [
        ("early_stopping", "optimize(patience=N) stops the search once N complete trials"),
        ("time_limit", "optimize(timeout=...) stops the search after that many seconds, "),
        ("stop", "n_trials=, timeout=, max_budget=, patience= or good_enough="),
    ],
)
def test_a_stop_named_otherwise_says_which_of_optimizes_stops_does_it(
    tmp_path: Path, keyword: str, instead: str
) -> None:
    """``optimize(early_stopping=5)`` or ``time_limit=3`` listed every option, but which
    is meant is not clear from the names: early stopping is also the pruning of trials,
    and a time limit that of the search or of each trial; the hint for Ray's stop named
    every stop but good_enough."""
    train = hp.tune(SPACE, db=tmp_path / "h.db", study="s", seed=0)(objective)
    with pytest.raises(CallError) as raised:
        train.optimize(n_trials=1, **{keyword: 5})
    assert str(raised.value).startswith(f"optimize() takes no {keyword}=: ")
    assert instead in str(raised.value)
    assert train.study.trials == []


def test_optunas_load_study_arguments_name_load_studys_own(tmp_path: Path) -> None:
    """optuna.load_study(study_name=..., storage=...): the hint was "study= names the
    study", but load_study takes no study= (it takes the name first)."""
    hp.tune(SPACE, db=tmp_path / "h.db", study="s", seed=0)(objective).optimize(n_trials=1)
    with pytest.raises(CallError) as raised:
        hp.load_study(study_name="s", db=tmp_path / "h.db")  # type: ignore[call-arg]
    assert str(raised.value).startswith("load_study() takes no study_name=: study= names the")
    assert "load_study(name, db=...)" in str(raised.value)
    assert len(hp.load_study("s", db=tmp_path / "h.db").trials) == 1  # as the hint says


def test_a_misspelt_argument_names_the_closest_and_is_still_a_type_error() -> None:
    with pytest.raises(TypeError) as raised:
        hp.tune(SPACE, studdy="a")  # type: ignore[call-arg]
    assert isinstance(raised.value, hp.HpotrackError)
    assert str(raised.value).startswith("tune() takes no studdy=; did you mean study=? It takes")


def test_the_signature_stays_what_it_was_for_editors() -> None:
    import inspect

    assert list(inspect.signature(hp.tune).parameters)[:3] == ["space", "method", "study"]
    assert "n_trials" in inspect.signature(hp.TunedFunction.optimize).parameters


def test_a_type_error_from_inside_the_function_is_its_own() -> None:
    """Arguments are checked only once the call raised TypeError (report() is on every
    step's path): one raised by the body, the arguments being right, goes on unchanged."""
    ran = []

    @checked_arguments
    def body(x: float) -> float:
        ran.append(x)
        return x + "1"  # type: ignore[operator, no-any-return]

    with pytest.raises(TypeError) as raised:
        body(1.0)
    assert not isinstance(raised.value, CallError) and ran == [1.0]
    with pytest.raises(CallError, match="body"):
        body(y=1.0)  # type: ignore[call-arg]
    assert ran == [1.0]  # a wrong call runs nothing

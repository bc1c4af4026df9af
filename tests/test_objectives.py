"""The objectives a study optimizes: as @hp.tune takes them, validated, stored."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hpotrack as hp
from hpotrack import limits, pareto
from hpotrack.errors import (
    DefinitionError,
    MethodError,
    OptionError,
    SeveralObjectives,
    StudyMismatchError,
    TrialError,
)
from hpotrack.limits import Stops
from hpotrack.methods.history import History
from hpotrack.objectives import DEFAULT, Objectives
from hpotrack.records import TrialRecord, TrialState
from hpotrack.space import Space
from hpotrack.store import open_store
from hpotrack.transfer import TransferError, export_study, import_study


def test_one_objective_is_a_name_and_a_direction() -> None:
    assert Objectives.from_user("error", "minimize") == Objectives(("error",), ("minimize",))
    assert Objectives.from_user(["error"], "maximize") == Objectives(("error",), ("maximize",))
    assert not DEFAULT.is_multi and DEFAULT.metrics == ("value",)


def test_several_objectives_take_a_direction_each() -> None:
    objectives = Objectives.from_user(("error", "latency"), ["minimize", "maximize"])
    assert objectives.is_multi and objectives.count == 2
    assert objectives.signs == (1.0, -1.0)
    assert objectives.describe() == "error (minimize), latency (maximize)"


@pytest.mark.parametrize(
    ("objective", "direction", "message"),
    [
        (("a", "b"), "minimize", r"2 objectives need a direction each, but got "
         r"direction='minimize': give e\.g\. direction=\('minimize', 'minimize'\)"),
        (("a", "b"), ("minimize",), r"`len\(direction\) == len\(objective\)` must hold, "
         r"but got 1 direction\(s\)"),
        (("a", "a"), ("minimize", "minimize"), "each objective must be a different "
         "metric, but 'a' is given twice"),
        (("a", ""), ("minimize", "minimize"), r"objective must name a metric \(a "
         r"non-empty str\), but got objective=''"),
        ((), (), "a study needs at least one objective"),
        (("a", "b"), ("minimize", "up"), "direction must be 'minimize' or 'maximize', "
         "but got direction='up'"),
        ("a", ("minimize",), r"one objective takes one direction \('minimize' or "
         r"'maximize'\), but got direction=\('minimize',\)"),
        (3, "minimize", r"objective must name a metric \(a non-empty str\), or several "
         "as a tuple, but got objective=3"),
        (("a", "b"), 1, r"direction must be 'minimize' or 'maximize' \(one per "
         r"objective\), but got direction=1"),
    ],
)  # fmt: skip
def test_a_bad_declaration_is_one_error_that_says_the_fix(
    objective: object, direction: object, message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        Objectives.from_user(objective, direction)


def test_values_and_losses_need_every_objective_finite() -> None:
    objectives = Objectives(("error", "accuracy"), ("minimize", "maximize"))
    assert objectives.values({"error": 0.5, "accuracy": 1, "other": "x"}) == (0.5, 1.0)
    assert objectives.losses({"error": 0.5, "accuracy": 0.75}) == (0.5, -0.75)
    for metrics in (
        {"error": 0.5},
        {"error": 0.5, "accuracy": math.nan},
        {"error": True, "accuracy": 1.0},
        {"error": "0.5", "accuracy": 1.0},
    ):
        assert objectives.values(metrics) is None


def test_stored_json_uses_stable_keys_and_round_trips() -> None:
    objectives = Objectives(("error", "latency"), ("minimize", "maximize"))
    stored = objectives.to_json()
    assert stored == [
        {"metric": "error", "direction": "minimize"},
        {"metric": "latency", "direction": "maximize"},
    ]
    assert Objectives.from_json(stored) == objectives
    assert Objectives.from_columns("error", "minimize", stored) == objectives
    assert Objectives.from_columns("error", "minimize", None) == Objectives(
        ("error",), ("minimize",)
    )
    with pytest.raises(DefinitionError, match="stored objectives must be a list of"):
        Objectives.from_json([{"name": "error"}])


# -- a study of several objectives, end to end ---------------------------------------

SPACE = {"x": hp.Float(0.0, 1.0), "y": hp.Float(0.0, 1.0)}


def zdt1(x: float, y: float) -> dict[str, float]:
    """Zitzler, Deb & Thiele (2000), ZDT1 in two variables: the front is y = 0."""
    g = 1.0 + 9.0 * y
    return {"f1": x, "f2": g * (1.0 - math.sqrt(x / g)), "note": 1.0}


def two_objectives(db: Path, method: object = "random", **options: Any) -> hp.TunedFunction[Any]:
    return hp.tune(
        SPACE,
        method,  # type: ignore[arg-type]
        study="mo",
        db=db,
        seed=0,
        objective=("f1", "f2"),
        direction=("minimize", "minimize"),
        **options,
    )(zdt1)


def brute_front(values: list[tuple[float, ...]]) -> list[int]:
    return [
        i
        for i, v in enumerate(values)
        if not any(pareto.dominates(w, v) for j, w in enumerate(values) if j != i)
    ]


def test_a_study_of_two_objectives_finds_their_pareto_front(db: Path) -> None:
    study = two_objectives(db).optimize(n_trials=30, progress=False)
    assert (study.objectives, study.directions) == (("f1", "f2"), ("minimize", "minimize"))
    values = [study.values(t) for t in study.trials]
    assert all(t.value == study.values(t)[0] for t in study.trials)  # value: the first's
    front = [t.number for t in study.best_trials]
    assert front == brute_front(values) and len(front) >= 2
    with pytest.raises(SeveralObjectives, match=r"study 'mo' optimizes 2 objectives \(f1 "
                       r"\(minimize\), f2 \(minimize\)\), so no one trial is best: "
                       r"study.best_trials gives their Pareto front"):  # fmt: skip
        study.best  # noqa: B018 - the access is the test
    reopened = hp.load_study("mo", db=db)  # from the file alone
    assert [t.number for t in reopened.best_trials] == front
    assert reopened.objectives == ("f1", "f2")


def test_a_maximized_objective_counts_the_other_way(db: Path) -> None:
    @hp.tune(SPACE, "random", study="mm", db=db, seed=0, objective=("f1", "f2"),
             direction=("minimize", "maximize"))  # fmt: skip
    def train(x: float, y: float) -> dict[str, float]:
        return zdt1(x, y)

    study = train.optimize(n_trials=25, progress=False)
    flipped = [(f1, -f2) for f1, f2 in (study.values(t) for t in study.trials)]
    assert [t.number for t in study.best_trials] == brute_front(flipped)


@pytest.mark.parametrize(
    ("returned", "error"),
    [
        (0.5, r"the function returned 0.5, but the study has 2 objectives: return a dict "
         r"with a number for each of 'f1', 'f2'"),
        ({"f1": 0.5}, r"the function returned a dict without the objective 'f2' \(keys: "
         r"'f1'\); return it, or change objective= of @hp.tune\(...\)"),
        ({"f1": 0.5, "f2": math.nan}, "the objective 'f2' is nan: return a finite number"),
        ({"f1": 0.5, "f2": "low"}, "the objective 'f2' must be a number, but the function "
         "returned 'low'"),
    ],
)  # fmt: skip
def test_a_trial_without_every_objective_fails_saying_which(
    db: Path, returned: object, error: str
) -> None:
    @hp.tune(SPACE, "random", study="bad", db=db, seed=0, objective=("f1", "f2"),
             direction=("minimize", "minimize"))  # fmt: skip
    def train(x: float, y: float) -> object:
        return returned

    study = train.optimize(n_trials=1, progress=False)
    (trial,) = study.trials
    assert trial.state is TrialState.FAILED
    assert re.search(error, trial.error or "")
    assert study.best_trials == []
    with pytest.raises(TrialError, match=r"trial 0 of study 'bad' has no value of every "
                       r"objective \(f1, f2\): it is failed"):  # fmt: skip
        study.values(trial)


def test_methods_that_rank_one_objective_are_refused_with_those_that_can(db: Path) -> None:
    with pytest.raises(MethodError, match=r"method 'sha' optimizes one objective, but the "
                       r"study has 2 objectives \(f1 \(minimize\), f2 \(minimize\)\); use one "
                       r"that finds their Pareto front: .*grid.*random"):  # fmt: skip
        two_objectives(db, "sha", budget=hp.Budget(1, 9))
    pruner = r"a pruner ranks one objective's reports, but the study has 2 objectives .*: "
    with pytest.raises(MethodError, match=pruner + "leave out pruner= of method 'random'"):
        two_objectives(db, hp.methods.Random(pruner="median"))
    assert not db.exists()  # refused when decorating: nothing stored


def test_good_enough_is_refused_before_anything_runs(db: Path) -> None:
    with pytest.raises(OptionError, match=r"good_enough stops at one best value, but study "
                       r"'mo' optimizes 2 objectives .* no one best value: stop by n_trials, "
                       r"timeout, max_budget or patience"):  # fmt: skip
        two_objectives(db).optimize(n_trials=5, progress=False, good_enough=0.1)
    assert not db.exists() or hp.load_study("mo", db=db).trials == []


def test_patience_counts_the_complete_trials_since_the_front_last_changed(db: Path) -> None:
    """The front gains trial 2 (trial 1 drops out of it: 2 beats it on both), then
    nothing for three trials: patience 3 stops there, naming the newest member."""
    points = [(1.0, 4.0), (3.0, 3.0), (2.0, 2.0), (5.0, 5.0), (1.5, 4.5), (2.0, 2.5), (0.0, 0.0)]

    @hp.tune(SPACE, "random", study="p", db=db, seed=0, objective=("f1", "f2"),
             direction=("minimize", "minimize"))  # fmt: skip
    def train(x: float, y: float, trial: hp.Trial) -> dict[str, float]:
        f1, f2 = points[trial.number]
        return {"f1": f1, "f2": f2}

    study = train.optimize(n_trials=7, progress=False, patience=3)
    assert len(study.trials) == 6  # trial 6 would have changed the front
    assert [t.number for t in study.best_trials] == [0, 2]
    reached = limits.reached(study.refresh(), None, Stops(patience=3), study.name)
    assert str(reached) == (
        "the Pareto front of study 'p' has not changed since trial 2 in the 3 complete "
        "trials since: the patience of 3 is spent"
    )


def test_the_front_kept_as_trials_complete_is_the_front_of_them_all(db: Path) -> None:
    """In whatever order trials complete (two processes' trials arrive out of order),
    the front the history keeps is the one of every complete trial."""
    rng = np.random.default_rng(0)
    points = [tuple(p) for p in rng.integers(0, 6, size=(60, 2)).astype(float)]
    history = History(Space.from_user(SPACE), "minimize", 0, None,
                      Objectives(("a", "b"), ("minimize", "minimize")))  # fmt: skip
    for number in range(60):
        history.update(TrialRecord(number, TrialState.RUNNING, {"x": 0.5, "y": 0.5}))
    for number in rng.permutation(60).tolist():
        a, b = points[number]
        history.update(TrialRecord(number, TrialState.COMPLETE, {"x": 0.5, "y": 0.5},
                                   value=a, metrics={"a": a, "b": b}))  # fmt: skip
        done = sorted(history.complete())
        assert history.front() == [n for n in done if n in brute_front_of(points, done)]


def brute_front_of(points: list[tuple[float, ...]], numbers: list[int]) -> set[int]:
    return {
        n for n in numbers
        if not any(pareto.dominates(points[m], points[n]) for m in numbers if m != n)
    }  # fmt: skip


def test_reopening_with_other_objectives_is_a_different_study(db: Path) -> None:
    two_objectives(db).optimize(n_trials=2, progress=False)
    flipped = hp.tune(SPACE, "random", study="mo", db=db, objective=("f1", "f2"),
                      direction=("minimize", "maximize"))(zdt1)  # fmt: skip
    with pytest.raises(StudyMismatchError, match=r"direction was \('minimize', 'minimize'\), "
                       r"now \('minimize', 'maximize'\)"):  # fmt: skip
        flipped.optimize(n_trials=3, progress=False)
    one = hp.tune(SPACE, "random", study="mo", db=db, objective="f1")(zdt1)
    with pytest.raises(StudyMismatchError, match=r"objective was \('f1', 'f2'\), now 'f1'"):
        one.optimize(n_trials=3, progress=False)


def test_ask_and_tell_take_a_dict_of_the_objectives(db: Path) -> None:
    tuned = two_objectives(db)
    trial = tuned.ask()
    tuned.tell(trial, zdt1(**trial.params))
    study = hp.load_study("mo", db=db)
    assert study.values(study.trials[0]) == (zdt1(**trial.params)["f1"], zdt1(**trial.params)["f2"])


def test_an_export_carries_the_objectives_and_imports_as_the_same_study(
    db: Path, tmp_path: Path
) -> None:
    study = two_objectives(db).optimize(n_trials=12, progress=False)
    data = export_study(study)
    assert data["study"]["objectives"] == [
        {"metric": "f1", "direction": "minimize"},
        {"metric": "f2", "direction": "minimize"},
    ]
    copy = import_study(open_store(tmp_path / "copy.db"), data)
    assert copy.objectives == ("f1", "f2")
    assert [t.number for t in copy.best_trials] == [t.number for t in study.best_trials]
    data["study"]["objectives"][0]["metric"] = "f3"
    with pytest.raises(TransferError, match="the study's objective and direction must be the "
                       "first of its objectives"):  # fmt: skip
        import_study(open_store(tmp_path / "other.db"), data, name="other")


def test_a_method_that_ranks_one_value_is_refused_for_that_before_its_space() -> None:
    """gradient refuses a Choice too; for a study of two objectives the first thing to
    say is that gradient ranks one value, since no change of the space would help."""
    with pytest.raises(MethodError, match="method 'gradient' optimizes one objective"):
        hp.tune({"c": ["a", "b"], "x": hp.Float(0.0, 1.0)}, "gradient",
                objective=("f1", "f2"), direction=("minimize", "minimize"))  # fmt: skip

"""``hp.Budget``: validation, whole-number budgets, what ``trial.budget`` is, storage."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import hpotrack as hp
from hpotrack.errors import DefinitionError, StudyMismatchError
from hpotrack.records import TrialState
from hpotrack.store import close_stores

SPACE = {"x": hp.Float(0.0, 1.0)}


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        ((3, 1), {}, ("`0 < min < max` must hold", "but got min=3, max=1")),
        ((0, 5), {}, ("`0 < min < max` must hold", "but got min=0, max=5")),
        ((-1, 2), {}, ("`0 < min < max` must hold", "but got min=-1, max=2")),
        ((2, 2), {}, ("`0 < min < max` must hold", "but got min=2, max=2")),
        ((1.5, 1.5), {}, ("`0 < min < max` must hold", "but got min=1.5, max=1.5")),
        ((-3.0, -1.0), {}, ("`0 < min < max` must hold", "but got min=-3.0, max=-1.0")),
        (("1", 9), {}, ("`min` of a Budget must be a number", "but got min='1'")),
        ((1, None), {}, ("`max` of a Budget must be a number", "but got max=None")),
        ((True, 9), {}, ("`min` of a Budget must be a number", "but got min=True")),
        ((1, [9]), {}, ("`max` of a Budget must be a number", "but got max=[9]")),
        ((1, 10**400), {}, ("`max < 2**63` must hold", "but got a 401-digit max")),
        ((1, 2**63), {}, ("`max < 2**63` must hold", "but got a 19-digit max")),
        ((1, 9), {"name": ""}, ("a Budget needs a name", "name=''")),
        ((1, 9), {"name": 3}, ("a Budget needs a name", "name=3")),
        ((1, 9), {"name": None}, ("a Budget needs a name", "name=None")),
        ((1, 9), {"name": "ep\ud800"}, ("a Budget needs a name", "name='ep\\ud800'")),
    ],
)
def test_each_bad_budget_is_one_definition_error_naming_the_problem(
    args: tuple[Any, ...], kwargs: dict[str, Any], expected: tuple[str, ...]
) -> None:
    with pytest.raises(DefinitionError) as info:
        hp.Budget(*args, **kwargs)
    message = str(info.value)
    for part in expected:
        assert part in message
    assert "\n" not in message
    assert info.value.__cause__ is None and info.value.__context__ is None  # one error


@pytest.mark.parametrize(
    ("args", "label", "shown"),
    [
        ((math.nan, 9), "min", "nan"),
        ((1, math.inf), "max", "inf"),
        ((-math.inf, 9), "min", "-inf"),
    ],
)
def test_non_finite_bounds_are_refused_naming_the_bound(
    args: tuple[float, float], label: str, shown: str
) -> None:
    with pytest.raises(DefinitionError, match=f"`{label}` of a Budget must be finite") as info:
        hp.Budget(*args)
    assert shown in str(info.value)


def test_non_finite_bound_message_has_the_usual_form() -> None:
    with pytest.raises(DefinitionError, match=r"but got max=inf"):
        hp.Budget(1, math.inf)


def test_numpy_integer_bounds_are_whole_budgets() -> None:
    budget = hp.Budget(np.int64(1), np.int64(9))
    assert budget.whole
    assert json.loads(json.dumps(budget.to_json()))["max"] == 9


def test_tune_refuses_a_budget_that_is_not_a_budget() -> None:
    with pytest.raises(DefinitionError, match=r"hp\.Budget\(min, max\), but got budget=\(1, 9\)"):
        hp.tune(SPACE, budget=(1, 9))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [  # another library's names for the ends, a lone bound, a misspelling: was TypeError
        ((), {"low": 1, "high": 9}, "unknown keyword argument 'low'; did you mean 'min'?"),
        ((), {"min_budget": 1, "max": 9}, "argument 'min_budget'; did you mean 'min'?"),
        ((), {"min": 1, "max_t": 9}, "argument 'max_t'; did you mean 'max'?"),
        ((1, 9), {"nmae": "epochs"}, "argument 'nmae'; did you mean 'name'? Valid: min, max"),
        ((9,), {}, "missing required argument(s) 'max'; call it as Budget(min, max, name="),
        ((1, 9, "epochs", 3), {}, "takes at most 3 positional argument(s) but 4 were given"),
    ],
)
def test_a_bad_call_of_budget_is_one_definition_error_naming_its_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(DefinitionError, match=re.escape(message)):
        hp.Budget(*args, **kwargs)
    assert hp.Budget(min=1, max=9, name="epochs") == hp.Budget(1, 9, "epochs")


def test_budget_is_frozen() -> None:
    budget = hp.Budget(1, 9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        budget.max = 10  # type: ignore[misc]


# -- whole and rounded ---------------------------------------------------------------------


def test_whole_only_when_both_bounds_are_ints() -> None:
    assert hp.Budget(1, 9).whole
    assert not hp.Budget(1.0, 9).whole
    assert not hp.Budget(1, 9.0).whole
    assert not hp.Budget(0.5, 2.5).whole
    assert hp.Budget(1, 9).name == "budget"


@pytest.mark.parametrize(
    ("amount", "expected"),
    [(3.4, 3.0), (3.6, 4.0), (0.2, 1.0), (-5.0, 1.0), (100.0, 9.0), (9.0, 9.0), (1.49, 1.0)],
)
def test_rounded_whole_budgets(amount: float, expected: float) -> None:
    result = hp.Budget(1, 9).rounded(amount)
    assert result == expected
    assert type(result) is float


@pytest.mark.parametrize(
    ("amount", "expected"), [(1.234, 1.234), (0.1, 0.5), (3.0, 2.5), (2.5, 2.5)]
)
def test_rounded_fractional_budgets_only_clip(amount: float, expected: float) -> None:
    assert hp.Budget(0.5, 2.5).rounded(amount) == expected


@given(
    low=st.integers(1, 50),
    span=st.integers(1, 50),
    amount=st.floats(-1e3, 1e3, allow_nan=False),
)
def test_rounded_whole_is_a_whole_number_within_half_a_unit_of_the_clipped_amount(
    low: int, span: int, amount: float
) -> None:
    budget = hp.Budget(low, low + span)
    result = budget.rounded(amount)
    clipped = min(max(amount, low), low + span)
    assert low <= result <= low + span
    assert result == int(result)
    assert abs(result - clipped) <= 0.5


# -- JSON --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "budget", [hp.Budget(1, 9, name="epochs"), hp.Budget(0.25, 4.0), hp.Budget(1.0, 27.0, "it")]
)
def test_json_round_trip_keeps_values_and_wholeness(budget: hp.Budget) -> None:
    data = budget.to_json()
    assert data == {"type": "budget", "min": budget.min, "max": budget.max, "name": budget.name}
    again = hp.Budget.from_json(json.loads(json.dumps(data)))
    assert again == budget
    assert again.whole == budget.whole
    assert type(again.min) is type(budget.min) and type(again.max) is type(budget.max)


def test_from_json_validates_like_the_constructor() -> None:
    with pytest.raises(DefinitionError, match="but got min=5, max=2"):
        hp.Budget.from_json({"type": "budget", "min": 5, "max": 2, "name": "epochs"})


# -- trial.budget ------------------------------------------------------------------------------


def _budget_probe(
    db: Path, budget: hp.Budget | None, method: str | hp.methods.Method = "random"
) -> tuple[hp.TunedFunction, dict[int, Any]]:
    seen: dict[int, Any] = {}

    @hp.tune(SPACE, method=method, budget=budget, db=db, seed=0, study="s")
    def train(x: float, trial: hp.Trial) -> float:
        seen[trial.number] = trial.budget
        loss = 0.0
        # the DESIGN's loop: needs a whole budget (Trial.budget is typed float | None)
        for epoch in range(1, trial.budget + 1):  # type: ignore[operator, arg-type]
            loss = x / epoch
            trial.report(loss, step=epoch)
        return loss

    return train, seen


@pytest.mark.parametrize("method", ["random", "tpe", "evolution", "bayes"])
def test_whole_trial_budget_is_the_int_max_for_methods_that_set_none(db: Path, method: str) -> None:
    train, seen = _budget_probe(db, hp.Budget(1, 5, name="epochs"), method)
    study = train.optimize(n_trials=3, progress=False)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    assert seen == {0: 5, 1: 5, 2: 5}
    assert all(type(b) is int for b in seen.values())
    assert [t.budget for t in study.trials] == [5.0, 5.0, 5.0]
    assert [step for step, _ in study.curve(0)["value"]] == [1, 2, 3, 4, 5]


def test_a_pbt_segments_budget_is_an_int_step(db: Path) -> None:
    """pbt sets each segment's budget (the step it trains up to) without a Budget on
    @tune: it was a float, so `range(1, trial.budget + 1)` raised TypeError and
    `trial.report(loss, step=trial.budget)` was refused, failing every segment."""
    pbt = hp.methods.PBT(population=2, interval=2, generations=2)
    train, seen = _budget_probe(db, None, pbt)
    study = train.optimize(progress=False)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
    assert sorted(seen.values()) == [2, 2, 4, 4] and all(type(b) is int for b in seen.values())


def test_fractional_trial_budget_is_the_float_max(db: Path) -> None:
    seen: list[object] = []

    @hp.tune(SPACE, budget=hp.Budget(0.5, 2.5), db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        seen.append(trial.budget)
        return x

    train.optimize(n_trials=2, progress=False)
    assert seen == [2.5, 2.5]
    assert all(type(b) is float for b in seen)


def test_trial_steps_of_a_fractional_budget_is_an_error_saying_what_to_do(db: Path) -> None:
    """With Budget(0.1, 0.5) it was an empty range: the loop trained nothing, silently."""

    @hp.tune(SPACE, budget=hp.Budget(0.1, 0.5), db=db, seed=0, max_failures=1)
    def train(x: float, trial: hp.Trial) -> float:
        for step in trial.steps:
            trial.report(x, step=step)
        return x

    with pytest.raises(hp.TooManyFailures, match=r"trial\.steps counts whole steps, but this"):
        train.optimize(n_trials=1, progress=False)


def test_trial_budget_is_none_without_a_study_budget(db: Path) -> None:
    seen: list[object] = []

    @hp.tune(SPACE, db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        seen.append(trial.budget)
        return x

    study = train.optimize(n_trials=2, progress=False)
    assert seen == [None, None]
    assert study.budget is None


def test_manual_trial_gets_the_max_budget(db: Path) -> None:
    train, seen = _budget_probe(db, hp.Budget(1, 4, name="epochs"))
    train(x=0.5)
    assert seen == {0: 4}
    assert hp.load_study("s", db=db).trials[0].state is TrialState.COMPLETE


def test_enqueued_trial_gets_the_max_budget(db: Path) -> None:
    train, seen = _budget_probe(db, hp.Budget(1, 4, name="epochs"))
    train.study.enqueue({"x": 0.25})
    study = train.optimize(n_trials=1, progress=False)
    assert seen == {0: 4}
    assert study.trials[0].state is TrialState.COMPLETE


# -- stored with the study -----------------------------------------------------------------------


def test_budget_is_stored_with_the_study(db: Path) -> None:
    train, _ = _budget_probe(db, hp.Budget(1, 3, name="epochs"))
    train.optimize(n_trials=1, progress=False)
    close_stores()
    study = hp.load_study("s", db=db)
    assert study.budget == hp.Budget(1, 3, name="epochs")
    assert study.budget is not None and study.budget.whole


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        (
            hp.Budget(1, 8, name="epochs"),
            "budget was Budget(min=1, max=9, name='epochs'), now Budget(min=1, max=8, "
            "name='epochs')",
        ),
        (
            hp.Budget(1, 9, name="iterations"),
            "budget was Budget(min=1, max=9, name='epochs'), now Budget(min=1, max=9, "
            "name='iterations')",
        ),
        (None, "budget was Budget(min=1, max=9, name='epochs'), now none"),
    ],
)
def test_reopening_with_another_budget_is_a_mismatch_naming_the_budget(
    db: Path, new: hp.Budget | None, expected: str
) -> None:
    first, _ = _budget_probe(db, hp.Budget(1, 9, name="epochs"))
    first.optimize(n_trials=1, progress=False)
    second, _ = _budget_probe(db, new)
    with pytest.raises(StudyMismatchError) as info:
        second.optimize(n_trials=2, progress=False)
    assert expected in str(info.value)
    assert len(hp.load_study("s", db=db).trials) == 1


def test_adding_a_budget_to_a_study_without_one_is_a_mismatch(db: Path) -> None:
    first, _ = _budget_probe(db, None)
    _ = first.study
    second, _ = _budget_probe(db, hp.Budget(1, 9, name="epochs"))
    with pytest.raises(StudyMismatchError, match=r"budget was none, now Budget\(min=1, max=9"):
        _ = second.study


def test_reopening_with_the_same_budget_continues(db: Path) -> None:
    first, _ = _budget_probe(db, hp.Budget(1, 3, name="epochs"))
    first.optimize(n_trials=1, progress=False)
    close_stores()
    second, seen = _budget_probe(db, hp.Budget(1, 3, name="epochs"))
    study = second.optimize(n_trials=2, progress=False)
    assert len(study.trials) == 2 and seen == {1: 3}


def test_reopening_int_bounds_over_float_bounds_is_a_mismatch(db: Path) -> None:
    first, _ = _budget_probe(db, hp.Budget(1.0, 9.0, name="epochs"))
    _ = first.study
    second, _ = _budget_probe(db, hp.Budget(1, 9, name="epochs"))
    with pytest.raises(StudyMismatchError, match="budget"):
        _ = second.study


def test_an_amount_of_an_unnamed_budget_counts_steps() -> None:
    assert hp.Budget(1, 9).unit == "steps"
    assert hp.Budget(1, 9, name="epochs").unit == "epochs"

"""Bad input from users (issue 5): junk search spaces, odd objective return values, odd
``report`` calls and odd names. Each gets one clear hpotrack error or is stored exactly,
and the study always goes on: the next trial runs and ``optimize`` returns.

The command line's share of this is in ``tests/cli/test_cli_input.py``. Cases marked
``xfail(strict=True, reason="BUG: ...")`` describe the correct behaviour of a known bug.
"""

from __future__ import annotations

import datetime
import json
import math
import sqlite3
from collections.abc import Callable
from contextlib import closing
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hpotrack as hp
from hpotrack.errors import DefinitionError, HpotrackError, SpaceError, StudyNotFoundError
from hpotrack.records import TrialRecord, TrialState
from hpotrack.space import Choice, Float, Int, Space
from hpotrack.store import close_stores
from tests import odd_names

few = settings(max_examples=40, deadline=None)  # the four space properties take ~2 s


# --- junk: what a user might pass where a definition or a value belongs -----------------------


class Opaque:
    """An arbitrary object with a plain repr."""

    def __repr__(self) -> str:
        return "Opaque()"


ODD_VALUES = [
    math.nan,
    math.inf,
    -math.inf,
    -0.0,
    5e-324,
    1.7976931348623157e308,
    np.float64("nan"),
    np.float32(1.5),
    np.float16(65504),
    np.int64(-3),
    np.uint64(2**64 - 1),
    np.bool_(True),
    np.array([1.0, 2.0]),
    np.array(0.5),
    Opaque(),
    object(),
    Float(0.0, 1.0),
    Int(0, 3),
    Choice(["a"]),
    mock.sentinel.value,
    ...,
    print,
    type,
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**1000), 2**1000),  # huge, yet within float range (see the xfails below)
    st.floats(),  # NaN, infinities, -0.0, subnormals
    st.text(max_size=8),
    st.binary(max_size=4),
    st.decimals(),
    st.fractions(min_value=-(10**6), max_value=10**6),
    st.sampled_from([complex, datetime.timedelta, range, bytearray]).flatmap(st.from_type),
    st.sampled_from(ODD_VALUES),
)
junk = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner),
        st.tuples(inner, inner),
        st.tuples(inner, inner, inner),
        st.dictionaries(
            st.one_of(st.text(max_size=6), st.integers(), st.none(), st.just("type")),
            inner,
            max_size=4,
        ),
        st.frozensets(st.integers(), max_size=3),
    ),
    max_leaves=10,
)
names = st.one_of(
    st.text(max_size=6), st.sampled_from(["lr", "trial", "a b", "", "é"]), st.integers(), st.none()
)
numbers = st.one_of(st.integers(-20, 20), st.floats(-1e3, 1e3), st.sampled_from([0, 1, 0.5]))
keywords = st.one_of(
    st.sampled_from(["low", "high", "log", "step", "options"]), st.text(max_size=5)
)


def is_json_scalar(value: object) -> bool:
    """Plain Python JSON scalars only: no numpy type leaks into stored parameters."""
    return value is None or type(value) in (bool, int, float, str)


# --- the space parser: a Space or one SpaceError, nothing else ---------------------------------


definitions = st.one_of(
    junk,
    st.tuples(numbers, numbers),
    st.lists(scalars, max_size=4),
    st.tuples(numbers, numbers).filter(lambda t: t[0] < t[1]).map(lambda t: Float(*t)),
    st.sampled_from([Float(0.0, 1.0), Int(1, 3), Choice([1, "a"]), (1, 3), (0.5, 2), [None]]),
)


good_names = st.text(st.characters(exclude_categories=["Z", "Cc"]), min_size=1, max_size=6)
good_definitions = st.one_of(
    st.sampled_from([Float(0.0, 1.0), Float(1e-3, 1.0, log=True), Int(1, 3), Choice([1, "a"])]),
    st.lists(st.integers(-5, 5), min_size=2, max_size=2, unique=True).map(sorted).map(tuple),
    st.tuples(st.floats(-1.0, 0.0), st.floats(0.5, 1.0)),
    st.lists(
        st.one_of(st.none(), st.booleans(), st.integers(-9, 9), st.text(max_size=3)),
        min_size=1,
        max_size=4,
        unique_by=lambda v: (type(v), v),
    ),
)
good_spaces = st.dictionaries(
    good_names.filter(lambda n: n != "trial"), good_definitions, min_size=1, max_size=4
)
near_spaces = st.tuples(good_spaces, st.dictionaries(names, definitions, max_size=2)).map(
    lambda pair: {**pair[0], **pair[1]}
)


@few
@given(st.one_of(junk, good_spaces, near_spaces))
def test_space_from_user_returns_a_space_or_raises_space_error(definition: Any) -> None:
    try:
        space = Space.from_user(definition)
    except SpaceError as error:
        assert str(error)
        return
    assert isinstance(space, Space)
    assert list(space) == list(definition)
    assert Space.from_json(json.loads(json.dumps(space.to_json()))) == space


@few
@given(
    st.sampled_from([Float, Int, Choice]),
    st.lists(st.one_of(numbers, junk), max_size=5),
    st.dictionaries(keywords, st.one_of(numbers, junk), max_size=3),
)
def test_parameter_constructors_return_a_parameter_or_raise_space_error(
    cls: type[Float | Int | Choice], args: list[Any], kwargs: dict[str, Any]
) -> None:
    try:
        param = cls(*args, **kwargs)
    except SpaceError as error:
        assert str(error)
        return
    assert isinstance(param, cls)
    assert all(is_json_scalar(v) for v in param.to_json().values() if not isinstance(v, list))


SPACE = Space.from_user(
    {
        "f": Float(-1.0, 1.0),
        "fs": Float(0.0, 1.0, step=0.25),
        "fl": Float(1e-3, 1.0, log=True),
        "i": Int(1, 9, step=2),
        "il": Int(1, 1000, log=True),
        "c": Choice([None, True, 1, 2.5, "x", ""]),
    }
)
plausible = st.one_of(
    junk,
    st.floats(-2.0, 2.0),
    st.integers(-2, 12),
    st.sampled_from([None, True, 1, 1.0, 2.5, "x", "", np.int64(3), np.float64(0.25), "1"]),
)


VALID = {
    "f": st.floats(-1.0, 1.0),
    "fs": st.sampled_from([0, 0.25, 1.0, np.float64(0.75), 0.2500000001, np.int8(1)]),
    "fl": st.floats(1e-3, 1.0),
    "i": st.sampled_from([1, 3, 9, 5.0, np.int64(7), np.uint8(3)]),
    "il": st.integers(1, 1000),
    "c": st.sampled_from([None, True, 1, 1.0, 2.5, "x", "", np.int64(1), np.float32(2.5)]),
}


@st.composite
def parameter_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """Valid values for all but a few parameters (often none), maybe a name too many."""
    bad = draw(st.sets(st.sampled_from(list(SPACE)), max_size=2))
    params = {name: draw(plausible if name in bad else VALID[name]) for name in SPACE}
    return {**params, **draw(st.dictionaries(st.sampled_from(["trial", "F", "x"]), junk))}


@few
@given(st.one_of(parameter_dicts(), junk))
def test_space_validate_returns_canonical_values_or_raises_space_error(params: Any) -> None:
    try:
        values = SPACE.validate(params)
    except SpaceError as error:
        assert str(error)
        return
    assert list(values) == list(SPACE)
    assert all(is_json_scalar(v) for v in values.values())
    assert SPACE.validate(values) == values  # canonical values validate to themselves


def hashable_tags(data: dict[Any, Any]) -> bool:
    """Whether every ``type`` tag is hashable: unhashable ones are a known bug (xfail below)."""
    tags = [item["type"] for item in data.values() if isinstance(item, dict) and "type" in item]
    try:
        return all(hash(tag) is not None for tag in tags)
    except TypeError:
        return False


@few
@given(
    st.dictionaries(
        names,
        st.one_of(
            junk,
            st.fixed_dictionaries(
                {"type": st.sampled_from(["float", "int", "choice", "Float", None, 1])},
                optional={
                    "low": st.one_of(numbers, junk),
                    "high": st.one_of(numbers, junk),
                    "log": st.one_of(st.booleans(), junk),
                    "step": st.one_of(numbers, junk),
                    "options": st.one_of(st.lists(scalars, max_size=4), junk),
                },
            ),
        ),
        max_size=3,
    ).filter(hashable_tags)
)
def test_space_from_json_returns_a_space_or_raises_space_error(data: dict[Any, Any]) -> None:
    """A hand-edited export's space: stored definitions are user input too."""
    try:
        space = Space.from_json(data)
    except SpaceError as error:
        assert str(error)
        return
    assert isinstance(space, Space)


BEYOND_FLOATS = 10**400  # a Python int no float can hold


@pytest.mark.parametrize(
    "make",
    [
        lambda: Float(0.0, BEYOND_FLOATS),
        lambda: Float(-BEYOND_FLOATS, 0.0),
        lambda: Float(0.0, 1.0, step=BEYOND_FLOATS),
        lambda: Float(0.0, 1.0).validate(BEYOND_FLOATS),
        lambda: Float(0.0, 1.0).validate(Fraction(BEYOND_FLOATS, 3)),
        lambda: Space.from_user({"x": (0.5, BEYOND_FLOATS)}),
        lambda: SPACE.validate({**dict.fromkeys(SPACE, 1), "f": BEYOND_FLOATS}),
    ],
    ids=["low", "high", "step", "validate", "fraction", "tuple shorthand", "space.validate"],
)
def test_numbers_beyond_float_range_are_a_space_error(make: Callable[[], object]) -> None:
    with pytest.raises(SpaceError, match=r"finite|too large|range"):
        make()


@pytest.mark.parametrize("tag", [["float"], {"float": 1}], ids=["list", "dict"])
def test_space_from_json_with_an_unhashable_type_tag_is_a_space_error(tag: object) -> None:
    with pytest.raises(SpaceError, match="not a stored parameter"):
        Space.from_json({"x": {"type": tag, "low": 0.0, "high": 1.0}})


# --- objectives returning odd values: a clear failure or an exact record ----------------------


def optimize(train: hp.TunedFunction, n_trials: int) -> None:
    """``train.optimize(n_trials)``; an exception escaping it is a crash of the study, reported
    in one line (a RecursionError's thousand frames would take a second to format)."""
    try:
        train.optimize(n_trials=n_trials)
    except Exception as exc:
        pytest.fail(f"optimize crashed: {type(exc).__name__}: {exc}", pytrace=False)


def run_two(db: Path, first: object, *, study: str = "s") -> TrialRecord:
    """Trial 0 returns ``first``, trial 1 returns 0.5; ``optimize`` must run both.

    Returns trial 0 as read back through a fresh connection.
    """

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study=study, db=db, seed=0, max_failures=10)
    def train(x: float, trial: hp.Trial) -> object:
        return first if trial.number == 0 else 0.5

    optimize(train, 2)
    close_stores()
    trials = hp.load_study(study, db=db).trials
    assert [t.number for t in trials] == [0, 1]
    assert trials[1].state is TrialState.COMPLETE and trials[1].value == 0.5
    return trials[0]


NOT_A_NUMBER = "the objective 'value' must be a number, but the function returned"
NOT_FINITE = "return a finite number (a large penalty for a diverged run)"


@pytest.mark.parametrize(
    ("returned", "message", "metrics"),
    [
        # JSON has no NaN or infinity: non-finite metrics are stored as null (jsonable.py).
        (math.inf, f"the objective 'value' is inf: {NOT_FINITE}", {"value": None}),
        (-math.inf, f"the objective 'value' is -inf: {NOT_FINITE}", {"value": None}),
        (math.nan, f"the objective 'value' is nan: {NOT_FINITE}", {"value": None}),
        (np.float64("nan"), f"is {np.float64('nan')!r}: {NOT_FINITE}", {"value": None}),
        (np.float32("inf"), f"is {np.float32('inf')!r}: {NOT_FINITE}", {"value": None}),
        (None, f"{NOT_A_NUMBER} None (NoneType)", {"value": None}),
        ("0.5", f"{NOT_A_NUMBER} '0.5' (str)", {"value": "0.5"}),
        (True, f"{NOT_A_NUMBER} True (bool)", {"value": True}),
        (np.bool_(False), f"{NOT_A_NUMBER} {np.bool_(False)!r} (", {"value": False}),
        ([0.5], f"{NOT_A_NUMBER} [0.5] (list)", {"value": [0.5]}),
        (np.array([0.5]), f"{NOT_A_NUMBER} array([0.5]) (ndarray)", {"value": [0.5]}),
        (Decimal("0.5"), f"{NOT_A_NUMBER} Decimal('0.5') (Decimal)", {"value": "Decimal('0.5')"}),
        (
            {"loss": 0.5, "acc": 0.9},
            "returned a dict without the objective 'value' (keys: 'loss', 'acc'); set "
            "objective='loss' in @hp.tune(...) to optimize it, or return 'value'",
            {"loss": 0.5, "acc": 0.9},
        ),
        (
            {"acc": 0.9, "status": "ok"},
            "without the objective 'value' (keys: 'acc', 'status'); set objective='acc'",
            {"acc": 0.9, "status": "ok"},
        ),
        (
            {"acc": 0.9, "f1": 0.8},
            "(keys: 'acc', 'f1'); return it, or set objective= to one of the keys",
            {"acc": 0.9, "f1": 0.8},
        ),
        (
            {"value": "nan", "acc": 0.9},
            f"{NOT_A_NUMBER} 'nan' (str)",
            {"value": "nan", "acc": 0.9},
        ),
    ],
    ids=[
        "inf",
        "-inf",
        "nan",
        "np.nan",
        "np.float32 inf",
        "None",
        "str",
        "bool",
        "np.bool_",
        "list",
        "ndarray",
        "Decimal",
        "dict without objective",
        "dict with one number",
        "dict with two numbers",
        "dict with str objective",
    ],
)
def test_a_bad_objective_fails_its_trial_with_a_clear_message(
    db: Path, returned: object, message: str, metrics: dict[str, Any]
) -> None:
    record = run_two(db, returned)
    assert record.state is TrialState.FAILED
    assert record.value is None
    assert record.error is not None and message in record.error
    assert "Traceback" not in record.error  # one line saying what came back
    assert record.metrics == metrics


@pytest.mark.parametrize(
    ("returned", "value", "stored"),
    [
        (np.float32(0.1), float(np.float32(0.1)), float(np.float32(0.1))),
        (np.float64(0.25), 0.25, 0.25),
        (np.float16(0.5), 0.5, 0.5),
        (np.int64(7), 7.0, 7),
        (np.int8(-3), -3.0, -3),
        (np.uint64(2**64 - 1), float(2**64 - 1), 2**64 - 1),
        (10**300, 1e300, 10**300),  # the metric keeps the exact int
        (Fraction(1, 4), 0.25, "Fraction(1, 4)"),  # a number, stored by its repr
        (np.array(0.75), 0.75, 0.75),  # a 0-d array, e.g. np.mean(losses, keepdims=...)
    ],
    ids=["np.float32", "np.float64", "np.float16", "np.int64", "np.int8", "np.uint64", "10**300",
         "Fraction", "0-d array"],
)  # fmt: skip
def test_numeric_objectives_are_stored_as_python_numbers(
    db: Path, returned: object, value: float, stored: object
) -> None:
    record = run_two(db, returned)
    assert record.state is TrialState.COMPLETE and record.error is None
    assert record.value == value and type(record.value) is float
    assert record.metrics == {"value": stored}
    assert type(record.metrics["value"]) is type(stored)


def test_an_objective_beyond_float_range_fails_with_a_clear_message(db: Path) -> None:
    record = run_two(db, BEYOND_FLOATS)
    assert record.state is TrialState.FAILED
    assert record.error is not None and "'value'" in record.error
    assert "Traceback" not in record.error


def test_ten_thousand_metrics_are_stored_exactly(db: Path) -> None:
    returned: dict[str, Any] = {"value": 0.5}
    for i in range(10_000):
        kinds = [i * 0.1, i, f"text {i} é中🎉", None, [i, {"k": -i}], -i / 3, 2**70 + i, i % 2 == 0]
        returned[f"m{i}"] = kinds[i % len(kinds)]
    record = run_two(db, returned)
    assert record.state is TrialState.COMPLETE and record.value == 0.5
    assert record.metrics == returned
    assert list(record.metrics) == list(returned)


def test_nested_metrics_are_stored_exactly_tuples_as_lists(db: Path) -> None:
    nested = {"a": {"b": [1, 2.5, "x", None, True, {"c": [], "d": {}}]}, "e": [[[]]]}
    record = run_two(db, {"value": 0.5, "cfg": nested, "pair": (1, "2"), "empty": {}})
    assert record.state is TrialState.COMPLETE
    assert record.metrics == {"value": 0.5, "cfg": nested, "pair": [1, "2"], "empty": {}}


def test_numpy_metrics_are_stored_as_python_numbers_and_lists(db: Path) -> None:
    record = run_two(
        db,
        {
            "value": np.float64(0.5),
            "arange": np.arange(3),
            "eye": np.eye(2),
            "f32": np.array([0.1], dtype=np.float32),
            "nan_inside": np.array([1.0, np.nan, np.inf]),  # JSON: NaN and inf become null
            "scalar_array": np.array(4),
            "count": np.int32(5),
            "flag": np.bool_(True),
        },
    )
    assert record.state is TrialState.COMPLETE and record.value == 0.5
    assert record.metrics == {
        "value": 0.5,
        "arange": [0, 1, 2],
        "eye": [[1.0, 0.0], [0.0, 1.0]],
        "f32": [float(np.float32(0.1))],
        "nan_inside": [1.0, None, None],
        "scalar_array": 4,
        "count": 5,
        "flag": True,
    }
    assert type(record.metrics["count"]) is int and type(record.metrics["flag"]) is bool


def test_arbitrary_metric_objects_are_stored_as_their_repr(db: Path) -> None:
    record = run_two(
        db,
        {
            "value": 0.5,
            "obj": Opaque(),
            "set": {3},
            "bytes": b"\x00\xff",
            "decimal": Decimal("1.10"),
            "when": datetime.date(2024, 1, 2),
            7: "int key",
            None: "None key",
        },
    )
    assert record.state is TrialState.COMPLETE
    assert record.metrics == {
        "value": 0.5,
        "obj": "Opaque()",
        "set": "{3}",
        "bytes": "b'\\x00\\xff'",
        "decimal": "Decimal('1.10')",
        "when": "datetime.date(2024, 1, 2)",
        "7": "int key",  # metric names are strings: keys are stored as str(key)
        "null": "None key",  # as JSON writes a None key,
    }


def test_nested_dict_keys_are_stored_the_same_whatever_the_other_metrics(db: Path) -> None:
    cfg = {None: 1, True: 2, 3: 4}
    plain = run_two(db, {"value": 0.5, "cfg": cfg, "extra": 0.5}, study="plain")
    numpy = run_two(db, {"value": 0.5, "cfg": cfg, "extra": np.float32(0.5)}, study="numpy")
    assert plain.metrics == numpy.metrics


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")


class MockLike:
    """Like a ``unittest.mock.Mock``: ``.tolist()`` gives another one, forever (a real
    Mock fails the same way, only much more slowly)."""

    def tolist(self) -> MockLike:
        return MockLike()


def self_containing_dict() -> dict[str, Any]:
    loop: dict[str, Any] = {"value": 0.5}
    loop["loop"] = loop
    return loop


def self_containing_list() -> dict[str, Any]:
    loop: list[Any] = [1]
    loop.append(loop)
    return {"value": 0.5, "loop": loop}


@pytest.mark.parametrize(
    "make",
    [
        self_containing_dict,
        self_containing_list,
        lambda: {"value": 0.5, "loop": BadRepr()},
        lambda: {"value": 0.5, "loop": MockLike()},
    ],
    ids=["cyclic dict", "cyclic list", "raising repr", "Mock-like"],
)
def test_unstorable_metrics_never_crash_the_study(
    db: Path, make: Callable[[], dict[str, Any]]
) -> None:
    record = run_two(db, make())  # optimize returns and trial 1 runs
    assert record.state in (TrialState.COMPLETE, TrialState.FAILED)  # never left running
    if record.state is TrialState.FAILED:
        assert record.error is not None and "'loop'" in record.error


def test_metric_keys_that_collide_as_strings_are_not_silently_dropped(db: Path) -> None:
    record = run_two(db, {"value": 0.5, 1: 0.1, "1": 0.2})
    if record.state is TrialState.FAILED:  # refusing it, naming the key, is fine
        assert record.error is not None and "'1'" in record.error
    else:
        assert {0.1, 0.2} <= set(record.metrics.values())


def test_a_manual_call_with_a_bad_objective_raises_and_the_study_goes_on(db: Path) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float) -> float:
        return math.inf if x > 0.5 else x

    with pytest.raises(hp.HpotrackError, match=r"manual trial 0 failed: .*'value' is inf"):
        train(x=0.75)
    assert train(x=0.25) == 0.25
    assert [t.state for t in hp.load_study("s", db=db).trials] == [
        TrialState.FAILED,
        TrialState.COMPLETE,
    ]


# --- report(): bad values and steps fail the trial clearly; odd steps are stored as given -----


Curves = dict[str, list[tuple[int, float]]]


def run_reporting(
    db: Path, body: Callable[[hp.Trial], object], budget: hp.Budget | None = None
) -> tuple[TrialRecord, Curves]:
    """Trial 0 runs ``body(trial)`` then returns 0.5; trial 1 must run after it.

    Returns trial 0 and its curves as read back through a fresh connection, after the trial
    finished (reports may be buffered until then).
    """

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0, max_failures=10,
             method="random", budget=budget)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        if trial.number == 0:
            body(trial)
        return 0.5

    optimize(train, 2)
    close_stores()
    study = hp.load_study("s", db=db)
    trials = study.trials
    assert len(trials) == 2
    assert trials[1].state is TrialState.COMPLETE and trials[1].value == 0.5
    return trials[0], study.curve(0)


def failed_with(record: TrialRecord, *fragments: str) -> bool:
    """Whether the trial failed with a TrialError whose message holds every fragment."""
    error = record.error or ""
    last = error.strip().splitlines()[-1] if error.strip() else ""
    return (
        record.state is TrialState.FAILED
        and last.startswith("hpotrack.errors.TrialError: ")
        and all(f in last for f in fragments)
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("0.9", "'0.9' (str)"),
        (None, "None (NoneType)"),
        ([0.9], "[0.9] (list)"),
        (Opaque(), "Opaque() (Opaque)"),
        (True, "True (bool)"),
        (np.bool_(True), f"{np.bool_(True)!r} ("),
        (complex(1, 0), "(1+0j) (complex)"),
        (Decimal("0.9"), "Decimal('0.9') (Decimal)"),
        (np.array([0.9]), "array([0.9]) (ndarray)"),
    ],
    ids=["str", "None", "list", "object", "bool", "np.bool_", "complex", "Decimal", "ndarray"],
)
def test_reporting_a_non_number_fails_the_trial_naming_the_metric(
    db: Path, value: object, shown: str
) -> None:
    def body(trial: hp.Trial) -> None:
        trial.report(0.8, step=0, name="acc")
        trial.report(value, step=1, name="acc")  # type: ignore[arg-type]

    record, curves = run_reporting(db, body)
    assert failed_with(record, "report() needs a number", shown, "for metric 'acc'"), record.error
    assert curves == {"acc": [(0, 0.8)]}  # what was reported before the bad call is kept


@pytest.mark.parametrize("step", [-1, np.int64(-1), 1.5, 2.0, "3", True, np.float64(1.0)], ids=repr)
def test_a_bad_step_fails_the_trial_naming_the_step(db: Path, step: object) -> None:
    record, curves = run_reporting(db, lambda t: t.report(0.5, step=step))  # type: ignore[arg-type]
    assert failed_with(record, "`0 <= step < 2**63` must hold", f"step={step!r}"), record.error
    assert curves == {}


@pytest.mark.parametrize("step", [2**63, 2**70], ids=["2**63", "2**70"])
def test_a_step_too_large_to_store_fails_the_trial_clearly(db: Path, step: int) -> None:
    record, _ = run_reporting(db, lambda t: t.report(0.5, step=step))
    assert failed_with(record, "step"), record.error


def test_an_objective_step_past_the_budget_fails_the_trial_naming_the_budget(db: Path) -> None:
    """Steps count in the budget's unit: a step past ``trial.budget`` (batches reported
    where the budget counts epochs, say) would skip rungs and overcount what the trial
    trained. Other metrics may count as they like."""

    def body(trial: hp.Trial) -> None:
        trial.report(1.0, step=100, name="batch_loss")
        trial.report(0.8, step=9)
        trial.report(0.7, step=10)

    record, curves = run_reporting(db, body, budget=hp.Budget(1, 9))
    assert failed_with(record, "`1 <= step <= 9` must hold", "step=10", "per batch"), record.error
    assert curves == {"batch_loss": [(100, 1.0)], "value": [(9, 0.8)]}


def test_an_objective_step_0_with_a_budget_fails_the_trial_saying_steps_count_from_1(
    db: Path,
) -> None:
    """``for epoch in range(trial.budget): trial.report(loss, step=epoch)`` reports each
    epoch one step early: every rung would check one epoch late and the trial would
    count one epoch fewer than it trained. Without a budget, step 0 is fine."""

    def body(trial: hp.Trial) -> None:
        trial.report(0.9, step=0, name="acc")  # other metrics count as they like
        trial.report(1.0, step=0)

    record, curves = run_reporting(db, body, budget=hp.Budget(1, 9))
    assert failed_with(record, "`1 <= step <= 9` must hold", "step=0", "count from 1")
    assert curves == {"acc": [(0, 0.9)]}


def test_a_checkpoint_step_past_the_budget_fails_the_trial_naming_the_budget(db: Path) -> None:
    """A checkpoint's step is where a promotion or a retry resumes, in the budget's unit:
    one past it (batches, say) would never be found."""

    def body(trial: hp.Trial) -> None:
        trial.save_checkpoint(b"before training", step=0)
        trial.report(0.8, step=1)
        trial.save_checkpoint(b"after 1", step=100)

    record, curves = run_reporting(db, body, budget=hp.Budget(1, 9))
    assert failed_with(record, "`0 <= step <= 9` must hold for a checkpoint", "step=100")
    assert curves == {"value": [(1, 0.8)]}


def test_a_checkpoint_pickle_cannot_store_fails_the_trial_saying_what_to_save(
    db: Path,
) -> None:
    def body(trial: hp.Trial) -> None:
        trial.report(0.8, step=1)
        trial.save_checkpoint({"schedule": lambda epoch: 0.1 * epoch}, step=1)

    record, curves = run_reporting(db, body, budget=hp.Budget(1, 9))
    assert failed_with(record, "save_checkpoint() needs an object pickle can store", "dict")
    assert curves == {"value": [(1, 0.8)]}


def test_the_largest_storable_step_is_stored(db: Path) -> None:
    _, curves = run_reporting(db, lambda t: t.report(0.5, step=2**63 - 1))
    assert curves == {"value": [(2**63 - 1, 0.5)]}


def test_reporting_a_number_beyond_float_range_fails_naming_the_metric(db: Path) -> None:
    record, _ = run_reporting(db, lambda t: t.report(BEYOND_FLOATS, name="acc"))
    assert failed_with(record, "'acc'"), record.error


@pytest.mark.parametrize("name", [3, object(), b"acc", ""], ids=["int", "object", "bytes", "empty"])
def test_a_bad_metric_name_fails_the_trial_clearly(db: Path, name: object) -> None:
    record, curves = run_reporting(db, lambda t: t.report(0.5, name=name))  # type: ignore[arg-type]
    assert failed_with(record, "metric name", repr(name)), record.error
    assert curves == {}


def test_a_metric_name_sqlite_cannot_encode_fails_the_trial_clearly(db: Path) -> None:
    record, curves = run_reporting(db, lambda t: t.report(0.5, name="acc\udcff"))
    assert failed_with(record, "metric name") or curves == {"acc\udcff": [(0, 0.5)]}


def test_a_repeated_step_keeps_the_last_value(db: Path) -> None:
    def body(trial: hp.Trial) -> None:
        for value in (1.0, 2.0, 3.0):
            trial.report(value, step=0)
        trial.report(4.0, step=2)
        trial.report(5.0, step=2)
        trial.report(6.0)  # after step 2

    record, curves = run_reporting(db, body)
    assert record.state is TrialState.COMPLETE
    assert curves == {"value": [(0, 3.0), (2, 5.0), (3, 6.0)]}


def test_decreasing_steps_are_stored_at_the_steps_given(db: Path) -> None:
    def body(trial: hp.Trial) -> None:
        for step in (5, 3, 1):
            trial.report(step * 10.0, step=step)
        trial.report(60.0)  # one more than the largest step so far

    record, curves = run_reporting(db, body)
    assert record.state is TrialState.COMPLETE
    assert curves == {"value": [(1, 10.0), (3, 30.0), (5, 50.0), (6, 60.0)]}


def test_steps_count_up_from_one_per_metric_without_a_step(db: Path) -> None:
    def body(trial: hp.Trial) -> None:
        trial.report(1.0)
        trial.report(2.0, name="acc")
        trial.report(3.0)
        trial.report(4.0, step=10)
        trial.report(5.0)
        hp.report(6.0, name="acc")  # the module-level function reports to the same trial

    _, curves = run_reporting(db, body)
    assert curves == {
        "acc": [(1, 2.0), (2, 6.0)],
        "value": [(1, 1.0), (2, 3.0), (10, 4.0), (11, 5.0)],
    }


def test_numpy_steps_and_values_are_stored_as_python_numbers(db: Path) -> None:
    def body(trial: hp.Trial) -> None:
        trial.report(np.float32(0.25), step=np.int64(3))
        trial.report(np.int64(3), step=np.int32(4))
        trial.report(np.float16(0.5), step=np.uint8(5))

    _, curves = run_reporting(db, body)
    assert curves == {"value": [(3, 0.25), (4, 3.0), (5, 0.5)]}
    assert all(type(s) is int and type(v) is float for s, v in curves["value"])


def test_non_finite_reports_are_stored_nan_as_none(db: Path) -> None:
    """SQLite has no NaN (it stores NULL): a NaN report reads back as None. Infinities are
    stored as they are. Neither fails the trial: a diverging curve is data worth keeping."""

    def body(trial: hp.Trial) -> None:
        trial.report(math.nan, step=0)
        trial.report(math.inf, step=1)
        trial.report(-math.inf, step=2)
        trial.report(np.float64("nan"), step=3)

    record, curves = run_reporting(db, body)
    assert record.state is TrialState.COMPLETE
    assert curves == {"value": [(0, None), (1, math.inf), (2, -math.inf), (3, None)]}


def test_five_thousand_reports_are_all_stored(db: Path) -> None:
    def body(trial: hp.Trial) -> None:
        for i in range(5_000):
            trial.report(i * 0.1, step=i)
            trial.report(-i / 3, step=i, name="acc")

    record, curves = run_reporting(db, body)
    assert record.state is TrialState.COMPLETE
    assert curves == {
        "acc": [(i, -i / 3) for i in range(5_000)],
        "value": [(i, i * 0.1) for i in range(5_000)],
    }


def test_report_outside_a_trial_is_a_clear_error() -> None:
    with pytest.raises(hp.HpotrackError, match="no trial is running here"):
        hp.report(0.5)


def test_report_on_a_finished_trial_is_an_error_or_stored(db: Path) -> None:
    kept: list[hp.Trial] = []
    run_reporting(db, kept.append)
    try:
        kept[0].report(0.5, step=7)
    except HpotrackError:
        return
    close_stores()
    assert hp.load_study("s", db=db).curve(0) == {"value": [(7, 0.5)]}


# --- names: unicode, quotes, SQL metacharacters, backslashes and length are stored exactly ----

STUDY_NAMES = [
    "é 中文 🎉",
    'it\'s "quoted"',
    "'; DROP TABLE trials; --",
    "Robert'); DROP TABLE studies;--",
    "100%_",
    "back\\slash \\",
    " padded ",
    "n" * 1_000,
]
PARAM_NAMES = [*odd_names.PARAM_NAMES, "\\", "p" * 1_000]
OPTIONS = [
    "é",
    "中文 🎉",
    "it's",
    'say "hi"',
    "'; DROP TABLE trials; --",
    "%",
    "_",
    "\\",
    "",
    "o" * 1_000,
]
OBJECTIVE = "'; DROP TABLE metrics; --"
NAMED_SPACE = {**{name: hp.Float(0.0, 1.0) for name in PARAM_NAMES}, "opt": hp.Choice(OPTIONS)}
TABLES = {"studies", "runs", "trials", "metrics", "lineage", "checkpoints", "meta"}


def assert_intact(db: Path) -> None:
    """The file passes SQLite's own checks and has every hpotrack table."""
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables >= TABLES


def bystander(db: Path) -> list[dict[str, Any]]:
    """A plain study sharing the file, so that damage to other studies shows."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="bystander", db=db, seed=1)
    def train(x: float, trial: hp.Trial) -> float:
        trial.report(x, step=0)
        return x

    return train.optimize(n_trials=2).records()


@pytest.mark.parametrize("name", STUDY_NAMES, ids=lambda n: n[:20])
def test_odd_study_parameter_option_and_metric_names_round_trip(db: Path, name: str) -> None:
    before = bystander(db)
    seen: list[dict[str, Any]] = []
    returned: list[dict[str, Any]] = []

    @hp.tune(NAMED_SPACE, study=name, db=db, seed=0, objective=OBJECTIVE)
    def train(trial: hp.Trial, **params: Any) -> dict[str, Any]:
        seen.append(params)
        for i, metric in enumerate(PARAM_NAMES):
            trial.report(float(i), step=0, name=metric)
        trial.report(0.5)
        returned.append({**params, OBJECTIVE: float(len(seen))})
        return returned[-1]

    for option in OPTIONS:
        train.study.enqueue({**dict.fromkeys(PARAM_NAMES, 0.5), "opt": option})
    train.optimize(n_trials=len(OPTIONS) + 1)
    close_stores()

    study = hp.load_study(name, db=db)
    assert study.name == name and study.objective == OBJECTIVE
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * (len(OPTIONS) + 1)
    assert [t.params for t in trials] == seen
    assert all(list(t.params) == [*PARAM_NAMES, "opt"] for t in trials)
    assert [t.params["opt"] for t in trials[: len(OPTIONS)]] == OPTIONS
    assert [t.metrics for t in trials] == returned
    assert study.best.number == 0 and study.best.value == 1.0
    expected = {metric: [(0, float(i))] for i, metric in enumerate(PARAM_NAMES)}
    assert study.curve(0) == {**expected, OBJECTIVE: [(1, 0.5)]}
    assert hp.load_study("bystander", db=db).records() == before
    assert_intact(db)


def test_sql_wildcards_in_names_match_only_themselves(db: Path) -> None:
    for study in ("a%", "a_", "ab", "a'b"):

        @hp.tune({"x": hp.Float(0.0, 1.0)}, study=study, db=db, seed=0)
        def train(x: float) -> float:
            return x

        train.optimize(n_trials=1 + len(study))
    close_stores()
    assert [len(hp.load_study(s, db=db).trials) for s in ("a%", "a_", "ab", "a'b")] == [3, 3, 3, 4]
    for missing in ("a", "%", "_", "a%b", "A%", "a''b"):
        with pytest.raises(StudyNotFoundError):
            hp.load_study(missing, db=db)
    assert_intact(db)


def test_the_same_study_is_reopened_by_its_odd_name(db: Path) -> None:
    name = STUDY_NAMES[2]  # "'; DROP TABLE trials; --"

    def make() -> hp.TunedFunction:
        @hp.tune(NAMED_SPACE, study=name, db=db, seed=0, objective=OBJECTIVE)
        def train(**params: Any) -> float:
            return 0.5

        return train

    make().optimize(n_trials=2)
    close_stores()
    make().optimize(n_trials=4)  # reopened, not a second study
    close_stores()
    assert len(hp.load_study(name, db=db).trials) == 4
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(*) FROM studies").fetchone() == (1,)
    assert_intact(db)


@pytest.mark.parametrize("name", ["", "   ", "\t\n"], ids=repr)
def test_a_blank_study_name_is_a_definition_error(db: Path, name: str) -> None:
    with pytest.raises(DefinitionError, match="non-empty name"):

        @hp.tune({"x": hp.Float(0.0, 1.0)}, study=name, db=db)
        def train(x: float) -> float:
            return x


@pytest.mark.parametrize("name", ["tab\there", "two\nlines", "nul\x00", "bell\x07"], ids=repr)
def test_a_study_name_with_control_characters_is_a_definition_error(db: Path, name: str) -> None:
    """A tab or newline in a name breaks every table and line that shows it."""
    with pytest.raises(DefinitionError, match="must not contain control characters"):

        @hp.tune({"x": hp.Float(0.0, 1.0)}, study=name, db=db)
        def train(x: float) -> float:
            return x

    assert not db.exists()


def test_a_study_name_sqlite_cannot_encode_is_refused_or_stored(db: Path) -> None:
    name = "run-\udcff"
    try:

        @hp.tune({"x": hp.Float(0.0, 1.0)}, study=name, db=db, seed=0)
        def train(x: float) -> float:
            return x

        train.optimize(n_trials=1)
    except HpotrackError:
        return  # a clear refusal is fine
    assert hp.load_study(name, db=db).name == name


def test_parameter_names_with_whitespace_are_refused_clearly() -> None:
    for name in ("a b", "tab\t", "\n", " "):
        with pytest.raises(SpaceError, match="without whitespace"):
            Space.from_user({name: hp.Float(0.0, 1.0)})


def test_odd_names_survive_space_json() -> None:
    space = Space.from_user(NAMED_SPACE)
    assert Space.from_json(json.loads(json.dumps(space.to_json()))) == space
    assert list(Space.from_json(space.to_json())) == [*PARAM_NAMES, "opt"]
    assert isinstance(space["opt"], Choice) and list(space["opt"].options) == OPTIONS

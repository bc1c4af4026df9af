"""Tests of hpotrack.space: properties of the [0, 1] encoding, grids and JSON, then every error."""

from __future__ import annotations

import json
import math
import pickle
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpotrack.errors import SpaceError
from hpotrack.space import Choice, Float, Int, Param, Space, Value, param_from_json

# keeps the file under ~10 s; derandomize: the same examples on every run (CI), no
# example database in .hypothesis/ that would make one run differ from the next
few = settings(max_examples=150, deadline=None, derandomize=True, database=None)

# --- strategies: valid definitions and their valid values ------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False)


@st.composite
def floats(draw: st.DrawFn) -> Float:
    kind = draw(st.sampled_from(["linear", "wide", "log", "step", "odd step"]))
    if kind == "linear":
        low = draw(st.floats(-1e6, 1e6))
        return Float(low, low + draw(st.floats(1e-6, 1e6)))
    if kind == "wide":
        low, high = sorted(
            draw(st.lists(st.floats(-1e300, 1e300), min_size=2, max_size=2, unique=True))
        )
        return Float(low, high)
    if kind == "log":
        low = 10 ** draw(st.floats(-12, 6))
        return Float(low, low * 10 ** draw(st.floats(1e-6, 12)), log=True)
    n = draw(st.integers(1, 300))
    if kind == "step":
        low = draw(st.integers(-(10**4), 10**4)) * draw(st.sampled_from([1, 0.1, 0.01, 0.001]))
        step = draw(st.sampled_from([0.001, 0.01, 0.05, 0.1, 0.25, 0.3, 0.5, 0.7, 1.0, 1 / 3]))
    else:
        low, step = draw(st.floats(-1e3, 1e3)), draw(st.floats(1e-4, 1e3))
    return Float(low, low + n * step, step=step)


@st.composite
def ints(draw: st.DrawFn, most: int = 2**40) -> Int:
    """Ints with up to ``most`` values (2**40, the limit, by default)."""
    if draw(st.booleans()):
        low = draw(st.integers(1, min(10**6, most - 1)))
        return Int(low, draw(st.integers(low + 1, most)), log=True)
    low, step = draw(st.integers(-(10**12), 10**12)), draw(st.integers(1, 100))
    n = draw(st.one_of(st.integers(1, min(1000, most - 1)), st.integers(1, most // step - 1)))
    return Int(low, low + n * step, step=step)


def kind(v: Value) -> tuple[str, Value]:
    """Uniqueness key of an option: 1 and 1.0 are the same option, 1 and True are not."""
    return ("bool" if isinstance(v, bool) else type(v).__name__.replace("int", "float"), v)


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), finite, st.text(max_size=5)
)
choices = st.lists(scalars, min_size=1, max_size=8, unique_by=kind).map(Choice)
params = st.one_of(floats(), ints(), choices)


def values(p: Param) -> st.SearchStrategy[Value]:
    """The valid values of ``p``."""
    if isinstance(p, Choice):
        return st.sampled_from(p.options)
    if isinstance(p, Int):
        if p.log:
            return st.integers(p.low, p.high)
        return st.integers(0, (p.high - p.low) // p.step).map(lambda i: p.low + i * p.step)
    if p.step is not None:
        return st.sampled_from(p.grid_values())
    return st.floats(p.low, p.high)


def same(a: Value, b: Value) -> bool:
    """Equal and of the same type (1, 1.0 and True are three different values here)."""
    return type(a) is type(b) and a == b


# --- properties -------------------------------------------------------------------------------


@few
@given(st.data(), params)
def test_decode_encode_round_trips(data: st.DataObject, p: Param) -> None:
    x = data.draw(values(p))
    u = p.encode(x)
    assert 0.0 <= u <= 1.0
    y = p.decode(u)
    if isinstance(p, Float) and p.step is None:
        assert isinstance(x, float) and isinstance(y, float)
        scale = max(abs(p.low), abs(p.high)) if not p.log else 0.0
        assert math.isclose(y, x, rel_tol=1e-9, abs_tol=1e-12 * scale)
    else:
        assert same(y, x)


@few
@given(params, st.floats(0.0, 1.0))
def test_decode_gives_valid_values(p: Param, u: float) -> None:
    y = p.decode(u)
    assert same(p.validate(y), y)
    assert 0.0 <= p.encode(y) <= 1.0
    assert same(p.decode(u - 2.0), p.decode(0.0)) and same(p.decode(u + 2.0), p.decode(1.0))


@few
@given(st.one_of(ints(most=1000), choices, floats().filter(lambda f: f.step is not None)))
def test_discrete_values_get_equal_bins_in_order(p: Param) -> None:
    grid = p.grid_values()
    codes = [p.encode(v) for v in grid]
    assert len(set(map(kind, grid))) == len(grid)
    if not (isinstance(p, Int) and p.log):
        assert codes == pytest.approx([(i + 0.5) / len(grid) for i in range(len(grid))])
    assert codes == sorted(codes)


@few
@given(params)
def test_param_json_round_trips(p: Param) -> None:
    back = param_from_json(json.loads(json.dumps(p.to_json())))
    assert back == p and repr(back) == repr(p) and hash(back) == hash(p)


grid_params = st.one_of(
    st.integers(-5, 5).flatmap(lambda lo: st.integers(lo + 1, lo + 6).map(lambda hi: Int(lo, hi))),
    st.lists(scalars, min_size=1, max_size=4, unique_by=kind).map(Choice),
    st.sampled_from(
        [
            Float(0, 1, step=0.25),
            Float(-1, 1, step=0.5),
            Float(0, 1),
            Float(1e-3, 1, log=True),
            Int(1, 1000, log=True),
            Int(0, 100, step=5),
        ]
    ),
)


@few
@given(
    st.dictionaries(
        st.text(st.characters(categories=["L"]), min_size=1, max_size=4),
        params,
        min_size=1,
        max_size=4,
    ),
    st.data(),
)
def test_space_round_trips(definition: dict[str, Param], data: st.DataObject) -> None:
    space = Space(definition)
    text = json.dumps(space.to_json())
    back = Space.from_json(json.loads(text))
    assert back == space and hash(back) == hash(space) and list(back) == list(definition)
    assert json.dumps(back.to_json()) == text
    point = {name: data.draw(values(p)) for name, p in space.items()}
    u = space.encode(point)
    assert u.shape == (len(space),) and u.dtype == np.float64
    assert space.validate(space.decode(u)) == space.decode(u)


@st.composite
def far_ints(draw: st.DrawFn) -> Int:
    """Ints far from 0 (beyond a float's 2**53), where float arithmetic rounds the values."""
    low = draw(st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([2**53, 10**18, -(2**63)])))
    step = draw(st.integers(1, 100))
    return Int(low, low + draw(st.integers(1, 1000)) * step, step=step)


anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),  # NaN and infinities too
    st.text(max_size=3),
    st.sampled_from([np.float64(0.5), np.int64(3), np.bool_(True), [1], {"a": 1}, b"1", 1j]),
)


@few
@given(st.one_of(params, far_ints()), st.data())
def test_validate_and_encode_agree_on_any_value(p: Param, data: st.DataObject) -> None:
    """``encode`` takes exactly what ``validate`` takes, and encodes it as its canonical
    value; the canonical value validates to itself and decodes back (discrete) or close."""
    x = data.draw(st.one_of(values(p), anything))
    try:
        canonical = p.validate(x)
    except SpaceError:
        with pytest.raises(SpaceError):
            p.encode(x)
        return
    assert same(p.validate(canonical), canonical)
    u = p.encode(x)
    assert u == p.encode(canonical) and 0.0 <= u <= 1.0
    if p.is_discrete:
        assert same(p.decode(u), canonical)


@few
@given(
    st.dictionaries(st.sampled_from("abcd"), st.one_of(params, far_ints()), min_size=1),
    st.data(),
)
def test_encode_many_equals_encode_row_by_row(
    definition: dict[str, Param], data: st.DataObject
) -> None:
    space = Space(definition)
    rows = [
        {name: data.draw(values(p)) for name, p in space.items()}
        for _ in range(data.draw(st.integers(1, 5)))
    ]
    expected = np.array([space.encode(row) for row in rows])
    tolerance = np.array([encoding_tolerance(p) for p in space.values()])
    got = space.encode_many(rows)
    assert (np.abs(got - expected) <= tolerance + 1e-12 * np.abs(expected)).all(), (got, expected)


def encoding_tolerance(param: Param) -> float:
    """How far ``encode_many`` (numpy's log) may be from ``encode`` (math.log): 1e-12, but
    for a log ``Int`` one ulp between the two logs of x +- 0.5 (numpy 1.x's vectorised log
    often differs by one) divided by the log-width of the range, which is tiny for a range
    like Int(32769, 32770, log=True)."""
    if not (isinstance(param, Int) and param.log):
        return 1e-12
    a, b = math.log(param.low - 0.5), math.log(param.high + 0.5)
    return 1e-12 + 2 * math.ulp(b) / (b - a)


# --- examples: encoding and grids ------------------------------------------------------------


def test_stepped_float_values_are_tidy() -> None:
    p = Float(0, 0.5, step=0.05)
    assert p.grid_values()[3] == 0.15 and repr(p.decode(0.35)) == "0.15"
    assert p.validate(0.15000000000000002) == 0.15 and p.validate(0.5 + 1e-12) == 0.5
    assert Float(-0.3, 0.3, step=0.1).grid_values() == (-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3)
    assert p.is_discrete and Int(0, 1).is_discrete and Choice([1]).is_discrete
    assert not Float(0, 1).is_discrete


def test_grid_values() -> None:
    assert Float(0, 1).grid_values(11) == tuple(i / 10 for i in range(11))
    assert Float(1e-5, 1e-1, log=True).grid_values(5) == (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
    assert Float(0, 1, step=0.25).grid_values(3) == (0.0, 0.5, 1.0)
    assert Float(0, 1, step=0.5).grid_values(10) == (0.0, 0.5, 1.0)
    assert Int(1, 100).grid_values(5) == (1, 26, 51, 75, 100)
    assert Int(1, 5).grid_values(10) == Int(1, 5).grid_values() == (1, 2, 3, 4, 5)
    assert Int(1, 1000, log=True).grid_values(4) == (1, 10, 100, 1000)
    assert Choice(["a", "b", "c"]).grid_values(2) == ("a", "b", "c")
    for bad in (1, True, 2.5, "3"):
        with pytest.raises(SpaceError, match="`grid_points >= 2` must hold"):
            Int(1, 100).grid_values(bad)  # type: ignore[arg-type]


def test_continuous_float_has_no_grid_without_grid_points() -> None:
    """The message shows the user's own parameter and a fix that works for it."""
    message = (
        "continuous Float(-5.0, 5.0) has no grid: pass method=hp.methods.Grid(grid_points=N) "
        "for N points of it or give it a step (hp.Float(-5.0, 5.0, step=...))"
    )
    with pytest.raises(SpaceError, match=re.escape(message)):
        Float(-5, 5).grid_values()
    with pytest.raises(SpaceError, match=re.escape("parameter 'x': " + message)):
        Space({"n": Int(0, 3), "x": Float(-5, 5)}).grid_size()
    logged = "continuous Float(0.0001, 1.0, log=True) has no grid: pass method=hp.methods.Grid("
    with pytest.raises(SpaceError, match=re.escape(logged)) as raised:
        Float(1e-4, 1, log=True).grid_values()
    assert "step" not in str(raised.value)  # a log-scale Float takes no step


@few
@given(st.one_of(ints(most=1000), choices, floats().filter(lambda f: f.step is not None)))
def test_value_at_reads_the_grid_values_one_by_one(p: Param) -> None:
    grid = p.grid_values()
    assert len(grid) == p.n_values
    assert all(same(p.value_at(i), v) for i, v in enumerate(grid))
    with pytest.raises(SpaceError, match="has no"):
        p.value_at(p.n_values)


@pytest.mark.parametrize("p", [Int(1, 2**40, log=True), Int(0, 2**40 - 1), Int(-5, 5, log=False)])
def test_int_extremes_round_trip(p: Int) -> None:
    edges = [*range(p.low, p.low + 50), *range(p.high - 50, p.high + 1)]
    for x in [x for x in edges if p.low <= x <= p.high]:
        assert p.decode(p.encode(x)) == x


def test_choice_tells_1_from_true() -> None:
    p = Choice([1, True, "1"])
    assert p.validate(True) is True and same(p.validate(1), 1) and same(p.validate(1.0), 1)
    assert p.validate(np.bool_(True)) is True and same(p.validate(np.int64(1)), 1)
    assert p.decode(p.encode(True)) is True and same(p.decode(p.encode(1)), 1)
    assert Choice([1]) != Choice([True]) and Choice([1]) != Choice([1.0])
    with pytest.raises(SpaceError, match="True is a bool and matches only that kind of option"):
        Choice([1, 2]).validate(True)


def test_validate_coerces() -> None:
    assert same(Float(0, 2).validate(1), 1.0) and same(Float(0, 2).validate(np.float32(0.5)), 0.5)
    assert same(Int(0, 5).validate(3.0), 3) and same(Int(0, 5).validate(np.int64(3)), 3)
    assert same(Choice(np.array([1, 2])).options[0], 1) and Choice(range(2)).options == (0, 1)
    assert Choice([np.str_("a"), np.float64(0.5)]).options == ("a", 0.5)
    assert same(Float(np.float32(0), np.int64(1)).low, 0.0) and same(Int(1.0, 3).low, 1)


def test_space_from_user_shorthands() -> None:
    space = Space.from_user(
        {
            "a": [32, 64],
            "b": (1, 10),
            "c": (0, 1.5),
            "d": (np.int64(1), 4),
            "e": Float(0, 1, log=False),
        }
    )
    assert space == Space(
        {
            "a": Choice([32, 64]),
            "b": Int(1, 10),
            "c": Float(0.0, 1.5),
            "d": Int(1, 4),
            "e": Float(0, 1),
        }
    )
    assert Space.from_user(space) is space
    assert repr(Space({"lr": Float(1e-5, 0.1, log=True), "n": Int(0, 10, step=2)})) == (
        "Space({'lr': Float(1e-05, 0.1, log=True), 'n': Int(0, 10, step=2)})"
    )
    assert Space({"a": [1], "b": [2]}) != Space({"b": [2], "a": [1]})
    assert {Space({"a": [1]}): 1}[Space({"a": [1]})] == 1


def test_space_pickles_for_worker_processes() -> None:
    space = Space({"a": Float(0, 1, step=0.1), "b": [1, True], "c": Int(1, 100, log=True)})
    assert space.grid_size() == 11 * 2 * 100
    back = pickle.loads(pickle.dumps(space))
    assert back == space and back.grid_cell(5) == space.grid_cell(5)


def test_encode_many_is_exact_for_ints_beyond_a_floats_precision() -> None:
    """Past 2**53 floats round: every value of Int(10**18, 10**18 + 10) was one float,
    so ``encode_many`` (what TPE, BOHB and the plots read) put them all in the first bin."""
    space = Space({"n": Int(10**18, 10**18 + 10), "m": Int(2**62, 2**62 + 8, step=2)})
    rows = [{"n": 10**18 + k, "m": 2**62 + 2 * (k % 5)} for k in range(11)]
    expected = [space.encode(row) for row in rows]
    np.testing.assert_array_equal(space.encode_many(rows), expected)
    assert len(set(space.encode_many(rows)[:, 0])) == 11


def test_space_encode_decode() -> None:
    space = Space({"lr": Float(1e-4, 1, log=True), "opt": ["adam", "sgd"], "n": Int(1, 4)})
    u = space.encode({"lr": 0.01, "opt": "sgd", "n": 3})
    assert u.tolist() == pytest.approx([0.5, 0.75, 0.625])
    assert space.decode(u) == pytest.approx({"lr": 0.01, "opt": "sgd", "n": 3})
    with pytest.raises(SpaceError, match=re.escape("expected a point of shape (3,)")):
        space.decode([0.5, 0.5])
    with pytest.raises(SpaceError, match="parameter 'lr': cannot decode NaN"):
        space.decode([math.nan, 0.5, 0.5])
    with pytest.raises(SpaceError, match="opt='rmsprop' is not one of"):
        space.encode({"lr": 0.01, "opt": "rmsprop", "n": 3})


# --- examples: every error --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Float(3, 1), "`low < high` must hold, but got low=3.0, high=1.0"),
        (
            lambda: Float(1, 1),
            "`low < high` must hold, but got low=1.0, high=1.0; for a fixed "
            "value use hp.Choice([1.0]) or a constant",
        ),
        (lambda: Int(3, 1), "`low < high` must hold, but got low=3, high=1"),
        (lambda: Int(2, 2), "for a fixed value use hp.Choice([2]) or a constant"),
        (lambda: Float("a", 1), "`low` must be a real number, but got low='a' (str)"),
        (lambda: Float(0, True), "`high` must be a real number, but got high=True (bool)"),
        (lambda: Float(0, math.nan), "`high` must be finite, but got high=nan"),
        (lambda: Float(-math.inf, 0), "`low` must be finite"),
        (lambda: Float(-1e308, 1e308), "too wide: high - low overflows"),
        (lambda: Int(3.5, 5), "`low` must be an integer, but got low=3.5"),
        (lambda: Int(0, "9"), "`high` must be a real number"),
        (lambda: Float(0, 1, log=True), "`low > 0` must hold for log=True, but got low=0.0"),
        (lambda: Float(1e-300, 1e300, log=True), "`high / low` must be a finite float"),
        (lambda: Float(1e-320, 1.0, log=True), "`high / low` must be a finite float"),
        (lambda: Int(0, 10, log=True), "`low > 0` must hold for log=True, but got low=0"),
        (lambda: Float(0, 1, log="yes"), "`log` must be True or False, but got log='yes'"),
        (lambda: Float(1, 10, log=True, step=1), "`step` and `log=True` cannot be combined"),
        (lambda: Float(0, 1, step=0), "`step > 0` must hold, but got step=0.0"),
        (lambda: Float(0, 1, step=-0.1), "`step > 0` must hold"),
        (
            lambda: Float(0, 1, step=0.3),
            "step=0.3 does not divide the range [0.0, 1.0]: "
            "(high - low) / step must be a whole number; "
            "e.g. use high=0.9 or high=1.2",
        ),
        (lambda: Float(0, 1, step=2), "e.g. use high=2.0"),
        (lambda: Float(0, 1, step=1e-13), "too fine"),
        (
            lambda: Int(0, 10, step=3),
            "step=3 does not divide the range [0, 10]: (high - low) / step "
            "must be a whole number; e.g. use high=9 or high=12",
        ),
        (lambda: Int(0, 10, step=0), "`step >= 1` must hold, but got step=0"),
        (lambda: Int(0, 10, step=2.5), "`step` must be an integer"),
        (lambda: Int(1, 9, log=True, step=2), "log=True requires step=1, but got step=2"),
        (lambda: Int(0, 2**41), "too large to encode"),
        (lambda: Int(1, 2**41, log=True), "too large to encode"),
        (
            lambda: Float(0, 1, logg=True),
            "Float() got an unknown keyword argument 'logg'; "
            "did you mean 'log'? Valid: low, high, log, step",
        ),
        (lambda: Int(0, 10, stp=2), "did you mean 'step'?"),
        (lambda: Choice(opts=[1]), "Choice() got an unknown keyword argument 'opts'"),
        (lambda: Float(0, 1, xyz=1), "unknown keyword argument 'xyz'. Valid: low, high, log, step"),
        (
            lambda: Choice(1, 2),
            "Choice() takes at most 1 positional argument(s) but 2 were given; "
            "call it as Choice(options)",
        ),
        (
            lambda: Float(0),
            "Float() missing required argument(s) 'high'; "
            "call it as Float(low, high, log=False, step=None)",
        ),
        (lambda: Float(0, 1, low=0), "Float() got multiple values for argument 'low'"),
        (lambda: Choice([]), "Choice needs at least one option"),
        (lambda: Choice("ab"), "Choice options must be a list, but got 'ab'"),
        (lambda: Choice(3), "Choice options must be a list"),
        (
            lambda: Choice([1, [2]]),
            "unsupported value type list in Choice options; "
            "options must be bool, int, float, str or None",
        ),
        (lambda: Choice([{"a": 1}]), "unsupported value type dict"),
        (lambda: Choice([math.nan]), "`option` must be finite"),
        (  # a CSV export of a study with it could not be written to a file
            lambda: Choice(["ok", "bad \udce9"]),
            "Choice options must be valid Unicode text, but got 'bad \\udce9'",
        ),
        (lambda: Choice([1, 1.0]), "duplicate option 1.0"),
        (lambda: Choice(["a", "b", "a"]), "duplicate option 'a'"),
        (lambda: Choice([None, None]), "duplicate option None"),
    ],
)
def test_definition_errors(make: Any, message: str) -> None:
    with pytest.raises(SpaceError, match=re.escape(message)):
        make()


def test_choice_1_and_true_are_not_duplicates() -> None:
    assert Choice([1, True, 1.5, "1", None]).options == (1, True, 1.5, "1", None)


@pytest.mark.parametrize(
    ("p", "value", "message"),
    [
        (Float(0, 0.5), 0.7, "`0.0 <= value <= 0.5` must hold, but got value=0.7"),
        (Float(0, 0.5), True, "`value` must be a real number, but got value=True (bool)"),
        (Float(0, 0.5), "0.1", "`value` must be a real number"),
        (Float(0, 0.5), math.nan, "`value` must be finite"),
        (
            Float(0, 0.5, step=0.05),
            0.12,
            "value=0.12 is not on the grid of Float(0.0, 0.5, step="
            "0.05) (low + k * step); nearest valid values: 0.1, 0.15",
        ),
        (Float(0, 0.5, step=0.05), 0.6, "`0.0 <= value <= 0.5` must hold, but got value=0.6"),
        (Int(1, 10), 11, "`1 <= value <= 10` must hold, but got value=11"),
        (Int(1, 10), 3.5, "`value` must be an integer, but got value=3.5"),
        (Int(1, 10), "3", "`value` must be a real number"),
        (
            Int(1, 9, step=2),
            4,
            "value=4 is not on the grid of Int(1, 9, step=2) (low + k * step); "
            "nearest valid values: 3, 5",
        ),
        (Choice(["a", "b"]), "c", "value='c' is not one of the options ['a', 'b']"),
        (Choice(["a", "b"]), ["a"], "value=['a'] is not one of the options"),
    ],
)
def test_value_errors(p: Param, value: object, message: str) -> None:
    with pytest.raises(SpaceError, match=re.escape(message)):
        p.validate(value)
    with pytest.raises(SpaceError, match=re.escape(message)):
        p.encode(value)


def test_decode_refuses_nan() -> None:
    with pytest.raises(SpaceError, match="cannot decode NaN"):
        Int(0, 3).decode(math.nan)


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        (
            {"lr": "abc"},
            "parameter 'lr': unsupported definition 'abc' (str); use hp.Float(low, "
            "high), hp.Int(low, high), hp.Choice([...]), a list of options or a "
            "(low, high) tuple",
        ),
        ({"lr": (1, 2, 3)}, "parameter 'lr': unsupported definition (1, 2, 3) (tuple)"),
        ({"lr": (True, 5)}, "parameter 'lr': unsupported definition (True, 5)"),
        ({"lr": (0, "1")}, "parameter 'lr': unsupported definition"),
        ({"lr": (3, 1)}, "parameter 'lr': `low < high` must hold, but got low=3, high=1"),
        ({"lr": (0.5, 0.1)}, "parameter 'lr': `low < high` must hold"),
        ({"bs": [1, 1]}, "parameter 'bs': duplicate option 1"),
        (
            {"trial": [1, 2]},
            "parameter name 'trial' is reserved: the objective receives the trial "
            "handle as its `trial` argument",
        ),
        ({"": [1]}, "parameter names must be non-empty strings without whitespace, but got ''"),
        ({"a b": [1]}, "but got 'a b'"),
        ({1: [1]}, "but got 1"),
        ({}, "the search space is empty; define at least one hyperparameter"),
        ([("a", [1])], "a search space must be a dict of name -> parameter, but got list"),
    ],
)
def test_space_definition_errors(definition: Any, message: str) -> None:
    with pytest.raises(SpaceError, match=re.escape(message)):
        Space.from_user(definition)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"bs": 32}, "missing hyperparameter(s) 'lr'"),
        ({}, "missing hyperparameter(s) 'lr', 'bs'"),
        ({"lrr": 0.1, "bs": 32}, "unknown hyperparameter 'lrr'; did you mean 'lr'?"),
        (
            {"lr": 0.1, "bs": 32, "zzz": 1},
            "unknown hyperparameter 'zzz' (the space has 'lr', 'bs')",
        ),
        ({"lr": 0.7, "bs": 32}, "`0.0 <= lr <= 0.5` must hold, but got lr=0.7"),
        ({"lr": 0.1, "bs": 48}, "bs=48 is not one of the options [32, 64]"),
        ([("lr", 0.1)], "parameters must be a dict of name -> value"),
    ],
)
def test_space_validate_errors(params: Any, message: str) -> None:
    space = Space({"lr": Float(0, 0.5), "bs": [32, 64]})
    with pytest.raises(SpaceError, match=re.escape(message)):
        space.validate(params)


def test_space_validate_returns_canonical_values_in_space_order() -> None:
    space = Space({"lr": Float(0, 0.5, step=0.05), "bs": [32, 64], "n": (1, 5)})
    out = space.validate({"n": 3.0, "bs": np.int64(64), "lr": 0.15000000000000002})
    assert list(out.items()) == [("lr", 0.15), ("bs", 64), ("n", 3)]
    assert all(type(v) in (int, float) for v in out.values())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "Float", "low": 0, "high": 1}, "not a stored parameter"),
        ([1, 2], "not a stored parameter"),
        ({"low": 0, "high": 1}, "expected a dict whose 'type' is one of 'float', 'int', 'choice'"),
        ({"type": "int", "low": 0, "high": 1, "extra": 1}, "unknown keyword argument 'extra'"),
        ({"type": "int", "low": 1, "high": 0}, "`low < high` must hold"),
    ],
)
def test_param_from_json_errors(data: Any, message: str) -> None:
    with pytest.raises(SpaceError, match=re.escape(message)):
        param_from_json(data)


def test_json_is_plain_and_stable() -> None:
    space = Space({"lr": Float(1e-5, 0.1, log=True), "n": Int(0, 10, step=2), "c": [1, "a"]})
    assert space.to_json() == {
        "lr": {"type": "float", "low": 1e-5, "high": 0.1, "log": True, "step": None},
        "n": {"type": "int", "low": 0, "high": 10, "log": False, "step": 2},
        "c": {"type": "choice", "options": [1, "a"]},
    }
    assert param_from_json({"type": "float", "low": 0, "high": 1}) == Float(0, 1)
    with pytest.raises(SpaceError, match="not a stored search space"):
        Space.from_json([1])
    with pytest.raises(SpaceError, match="parameter 'x': not a stored parameter"):
        Space.from_json({"x": {"type": "uniform"}})


def test_a_set_of_options_is_refused_its_order_changes_between_processes() -> None:
    with pytest.raises(SpaceError, match="a set's order changes from one process"):
        Choice({"adam", "sgd"})  # type: ignore[arg-type]
    with pytest.raises(SpaceError, match="a set's order"):
        Choice(frozenset({1, 2}))  # type: ignore[arg-type]

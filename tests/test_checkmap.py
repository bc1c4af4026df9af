"""``hpotrack.checkmap``: a trial's checks, immutable, extended without copying."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Mapping

from hypothesis import given
from hypothesis import strategies as st

from hpotrack.checkmap import CheckMap, with_checks

# an operation: extend the map made by operation `base` (an index into those so far,
# modulo their count) with {step: value}
operations = st.lists(
    st.tuples(st.integers(0, 50), st.integers(0, 6), st.floats(-2.0, 2.0)), max_size=40
)


@given(operations)
def test_every_map_keeps_the_items_it_was_made_with_whatever_extends_it_later(
    ops: list[tuple[int, int, float]],
) -> None:
    """Maps extended from the newest one share its log, from older ones or with a step
    again they copy; either way each map equals the dict it stands for, before and
    after any later extension."""
    maps: list[Mapping[int, float]] = [CheckMap()]
    dicts: list[dict[int, float]] = [{}]
    for base, step, value in ops:
        index = base % len(maps)
        maps.append(with_checks(maps[index], {step: value}))
        dicts.append({**dicts[index], step: value})
    for made, expected in zip(maps, dicts, strict=True):
        assert made == expected and dict(made) == expected
        assert list(made) == list(expected) and len(made) == len(expected)
        assert all((step in made) == (step in expected) for step in range(8))


def test_extending_the_newest_map_shares_its_storage_and_a_step_again_copies() -> None:
    """The n-th check of a trial must not cost n: a map extended with new steps shares
    its log; only a step checked again, or an old map extended, copies (once)."""
    first = with_checks({}, {1: 0.5})
    assert isinstance(first, CheckMap) and first == {1: 0.5}
    second = with_checks(first, {2: 0.25, 3: 0.125})
    assert isinstance(second, CheckMap) and second._log is first._log  # no copy
    assert first == {1: 0.5} and 2 not in first and first.get(2) is None
    again = with_checks(second, {2: 9.0})
    assert isinstance(again, CheckMap) and again._log is not second._log
    assert again == {1: 0.5, 2: 9.0, 3: 0.125} and second[2] == 0.25
    branch = with_checks(first, {4: 1.0})  # first is no longer the newest on its log
    assert isinstance(branch, CheckMap) and branch._log is not first._log
    assert branch == {1: 0.5, 4: 1.0} and second == {1: 0.5, 2: 0.25, 3: 0.125}
    assert with_checks(second, {}) is second


def test_a_map_prints_pickles_and_copies_as_the_dict_it_stands_for() -> None:
    checks = with_checks(CheckMap({1: 0.5}), {3: 0.25})
    assert repr(checks) == "{1: 0.5, 3: 0.25}"
    assert pickle.loads(pickle.dumps(checks)) == {1: 0.5, 3: 0.25}
    assert copy.deepcopy(checks) == checks
    assert {1: 0.5, 3: 0.25} == checks  # noqa: SIM300 (a dict on the left defers to the map)

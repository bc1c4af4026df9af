"""The read-only views History hands to methods: sorted indexes read as one list."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hpotrack.methods.sorted_views import Concatenated, LastTwo

entries = st.lists(st.tuples(st.floats(-9, 9), st.integers(0, 99)), max_size=6)
triples = st.lists(st.tuples(st.floats(0, 9), st.floats(-9, 9), st.integers(0, 99)), max_size=6)
indexes = st.one_of(st.integers(-20, 20), st.none())


@given(entries, triples, entries, indexes, indexes, st.sampled_from([None, 1, 2, -1]))
def test_parts_read_as_one_list_as_their_concatenation_does(
    first: list[tuple[float, int]],
    middle: list[tuple[float, float, int]],
    last: list[tuple[float, int]],
    start: int | None,
    stop: int | None,
    step: int | None,
) -> None:
    whole = [*first, *((loss, number) for _, loss, number in middle), *last]
    view = Concatenated(first, LastTwo(middle), last)
    assert len(view) == len(whole) and list(view) == whole
    assert view[start:stop:step] == whole[start:stop:step]
    for index in range(-len(whole), len(whole)):
        assert view[index] == whole[index]
    for index in (len(whole), -len(whole) - 1):
        try:
            view[index]
        except IndexError:
            continue
        raise AssertionError(f"index {index} of {len(whole)} entries did not raise")

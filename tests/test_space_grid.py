"""Tests of hpotrack.space_grid: a space's grid cells, counted, enumerated and read by index."""

from __future__ import annotations

import itertools
import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpotrack.errors import SpaceError
from hpotrack.space import Float, Int, Param, Space
from tests.test_space import few, grid_params, kind, same


@few
@given(st.dictionaries(st.sampled_from("abcd"), grid_params, min_size=1), st.integers(2, 4))
def test_grid_cells_enumerate_the_product_once(definition: dict[str, Param], g: int) -> None:
    space = Space(definition)
    axes = [p.grid_values(g) for p in space.values()]
    size = space.grid_size(g)
    assert size == math.prod(map(len, axes))
    cells = [tuple(space.grid_cell(i, g).values()) for i in range(size)]
    keyed = [tuple(map(kind, cell)) for cell in cells]
    assert keyed == [tuple(map(kind, cell)) for cell in itertools.product(*axes)]
    assert len(set(keyed)) == size
    assert all(space.validate(space.grid_cell(i, g)) == space.grid_cell(i, g) for i in range(size))


def test_grid_cells_are_read_without_listing_whole_ranges() -> None:
    """Grid search reads cells of grids up to 10**7 cells: a parameter with that many
    values is not listed to read one (it took seconds and a gigabyte per process)."""
    space = Space({"n": Int(0, 10**5), "x": Float(0.0, 1.0, step=1e-5), "c": [None, True, 1]})
    size = space.grid_size()
    assert size == (10**5 + 1) ** 2 * 3
    tracemalloc.start()
    try:
        last, cell = space.grid_cell(size - 1), space.grid_cell((5 * (10**5 + 1) + 25_000) * 3 + 1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert last == {"n": 10**5, "x": 1.0, "c": 1} and same(last["c"], 1)
    assert cell == {"n": 5, "x": 0.25, "c": True} and same(cell["c"], True)
    assert peak < 1_000_000, peak


def test_space_grid_order_and_cells() -> None:
    space = Space({"a": [1, 2], "b": ["x", "y", "z"]})
    assert [tuple(space.grid_cell(i).values()) for i in range(space.grid_size())] == [
        (1, "x"),
        (1, "y"),
        (1, "z"),
        (2, "x"),
        (2, "y"),
        (2, "z"),
    ]
    assert space.grid_cell(np.int64(4)) == {"a": 2, "b": "y"}
    for bad in (-1, 6, True, 1.5):
        with pytest.raises(SpaceError, match=r"`0 <= index < 6` must hold"):
            space.grid_cell(bad)  # type: ignore[arg-type]

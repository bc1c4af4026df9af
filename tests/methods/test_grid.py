from __future__ import annotations

import itertools

import pytest

from hpotrack.errors import MethodError, SearchExhausted, SpaceError
from hpotrack.methods import Grid, Method
from hpotrack.space import Choice, Float, Int, Space
from hpotrack.testing import MethodSuite, simulate


class TestGrid(MethodSuite):
    def make_method(self) -> Method:
        return Grid(grid_points=3)


class TestGridInOrder(MethodSuite):
    def make_method(self) -> Method:
        return Grid(grid_points=3, shuffle=False)

    def test_different_seeds_give_different_proposals(self) -> None:
        # Unshuffled, the order is the space's own: the seed must not matter.
        assert self._run(seed=7) == self._run(seed=8)


DISCRETE = Space.from_user(
    {"a": Choice(["x", "y", "z"]), "b": Int(1, 4), "c": Float(0.0, 1.0, step=1.0)}
)


def test_every_cell_once_then_exhausted() -> None:
    history = simulate(Grid(), DISCRETE, 24, seed=0)
    seen = [tuple(t.params.values()) for t in history.trials]
    expected = set(itertools.product(["x", "y", "z"], [1, 2, 3, 4], [0.0, 1.0]))
    assert len(seen) == 24 and set(seen) == expected
    with pytest.raises(SearchExhausted, match="all 24 cells"):
        Grid().ask(history)


def test_claims_are_respected_out_of_order() -> None:
    history = simulate(Grid(), DISCRETE, 5, seed=0)
    proposal = Grid().ask(history)
    assert proposal.claim is not None and not history.is_claimed(proposal.claim)


def test_continuous_float_needs_step_or_grid_points() -> None:
    space = Space.from_user({"lr": Float(1e-4, 1e-1, log=True)})
    with pytest.raises(SpaceError, match="grid_points"):
        Grid().check(space)
    Grid(grid_points=4).check(space)
    assert Grid(grid_points=4).ask(simulate(Grid(grid_points=4), space, 0)).params["lr"] in (
        pytest.approx(1e-4),
        pytest.approx(1e-3),
        pytest.approx(1e-2),
        pytest.approx(1e-1),
    )


@pytest.mark.parametrize("bad", [1, 0, -3, 2.5, True])
def test_grid_points_is_validated(bad: object) -> None:
    with pytest.raises(MethodError, match="grid_points >= 2"):
        Grid(grid_points=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["no", None, 0, 1, [1]])
def test_shuffle_is_validated(bad: object) -> None:
    with pytest.raises(MethodError, match="`shuffle` must be True or False"):
        Grid(shuffle=bad)  # type: ignore[arg-type]

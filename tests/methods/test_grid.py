from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import hpotrack as hp
from hpotrack.errors import MethodError, SearchExhausted, SpaceError
from hpotrack.methods import Grid, Method
from hpotrack.methods.base import Proposal
from hpotrack.methods.history import History
from hpotrack.records import TrialState
from hpotrack.space import Choice, Float, Int, Space, Value
from hpotrack.testing import MethodSuite, simulate
from hpotrack.testing.driver import record


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


def test_a_grid_too_large_to_order_is_refused_with_what_to_do() -> None:
    """Ordering 10**12 cells tried to allocate 7 TiB."""
    wide = Space.from_user({f"p{i}": Int(0, 9) for i in range(12)})
    with pytest.raises(MethodError, match=r"1,000,000,000,000 cells, .* use grid_points=N"):
        Grid().check(wide)
    with pytest.raises(MethodError, match=r"244,140,625 cells, .* a smaller grid_points"):
        Grid(grid_points=5).check(wide)
    Grid(grid_points=3).check(wide)  # 531,441 cells


def test_a_grid_of_choices_too_large_is_not_told_to_use_grid_points() -> None:
    """grid_points never thins a Choice: suggesting it for 4**12 option combinations
    sent users to an option that changes nothing."""
    choices = Space.from_user({f"c{i}": Choice(["a", "b", 3, None]) for i in range(12)})
    expected = r"16,777,216 cells, .*; grid_points cannot help: even grid_points=2 leaves 16,777,"
    for method in (Grid(), Grid(grid_points=2)):
        with pytest.raises(MethodError, match=expected):
            method.check(choices)
    mixed = Space.from_user({"c": Choice(list(range(10**4))), "n": Int(0, 10**4)})
    with pytest.raises(MethodError, match=r"use a smaller grid_points to thin wide"):
        Grid(grid_points=2000).check(mixed)  # 2,000 values of n are too many, 2 are not
    with pytest.raises(MethodError, match=r"use grid_points=N to thin wide"):
        Grid().check(mixed)


@pytest.mark.parametrize("bad", [1, 0, -3, 2.5, True])
def test_grid_points_is_validated(bad: object) -> None:
    with pytest.raises(MethodError, match="grid_points >= 2"):
        Grid(grid_points=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["no", None, 0, 1, [1]])
def test_shuffle_is_validated(bad: object) -> None:
    with pytest.raises(MethodError, match="`shuffle` must be True or False"):
        Grid(shuffle=bad)  # type: ignore[arg-type]


def _run_to_exhaustion(method: Grid, history: History) -> None:
    while True:
        try:
            proposal = method.ask(history)
        except SearchExhausted:
            return
        trial = record(history.next_number, proposal, TrialState.COMPLETE, 0.0)
        history.update(trial)


def _points(history: History) -> list[tuple[Value, ...]]:
    return [
        tuple(round(v, 9) if isinstance(v, float) else v for v in t.params.values())
        for t in history.trials
    ]


def test_other_grid_points_on_reopening_skip_the_points_already_run() -> None:
    space = Space.from_user({"x": Float(0.0, 1.0), "c": Choice(["a", "b"])})
    history = simulate(Grid(grid_points=3), space, 6, seed=0)
    _run_to_exhaustion(Grid(grid_points=5), history)
    points = _points(history)
    assert len(points) == len(set(points)) == 10  # 6 of 3 points, then 4 new of 5 points
    assert set(points) == set(itertools.product([0.0, 0.25, 0.5, 0.75, 1.0], ["a", "b"]))


def test_cells_claimed_by_number_in_older_studies_are_skipped() -> None:
    # Studies stored before claims named values claimed `grid:<cell number>`.
    history = History(DISCRETE, "minimize", 0)
    for number, cell in enumerate([5, 0, 23]):
        params = DISCRETE.grid_cell(cell)
        history.update(
            record(number, Proposal(params, claim=f"grid:{cell}"), TrialState.COMPLETE, 1.0)
        )
    _run_to_exhaustion(Grid(), history)
    points = _points(history)
    assert len(points) == len(set(points)) == 24


def _proposals_left(method: Grid, history: History) -> int:
    """How many trials ``method`` proposes from ``history`` on (a copy) until exhausted."""
    copy = History(history.space, "minimize", history.seed)
    for trial in history.trials:
        copy.update(trial)
    before = len(copy.trials)
    _run_to_exhaustion(method, copy)
    return len(copy.trials) - before


@pytest.mark.parametrize("grid_points", [3, 5], ids=["same", "reopened-with-5"])
def test_trials_left_counts_the_cells_no_trial_has(grid_points: int) -> None:
    """What a run without n_trials says it will run, and its bar's total: the cells
    still to propose, whatever covered the others (grid trials, even under other
    grid_points; a manual trial on a cell, twice; not one between cells)."""
    space = Space.from_user({"x": Float(0.0, 1.0), "c": Choice(["a", "b"])})
    history = simulate(Grid(grid_points=3), space, 3, seed=0)
    by_hand = [{"x": 1.0, "c": "b"}, {"x": 1.0, "c": "b"}, {"x": 0.3, "c": "a"}]
    for params in by_hand:
        proposal = Proposal(dict(params), origin="manual")
        history.update(record(history.next_number, proposal, TrialState.COMPLETE, 1.0))
    method = Grid(grid_points=grid_points)
    left = method.trials_left(history)
    assert left == _proposals_left(method, history)
    assert left == {3: 2, 5: 10 - 4}[grid_points]  # x=0.0 and 1.0 (and 0.5) are on both


def test_trials_left_is_counted_again_once_a_trial_is_added() -> None:
    """The count is kept for the run's second question (its bar), not past a new trial."""
    space = Space.from_user({"x": Float(0.0, 1.0), "c": Choice(["a", "b"])})
    method = Grid(grid_points=3)
    history = simulate(method, space, 2, seed=0)
    assert method.trials_left(history) == method.trials_left(history) == 4
    cells = (space.grid_cell(i, 3) for i in range(space.grid_size(3)))
    free = next(cell for cell in cells if not history.has_configuration(cell))
    proposal = Proposal(free, origin="manual")  # a cell not run yet, run by hand
    history.update(record(history.next_number, proposal, TrialState.COMPLETE, 1.0))
    assert method.trials_left(history) == 3 == _proposals_left(method, history)


def test_a_cell_enqueued_or_run_by_hand_is_not_run_again(db: Path) -> None:
    @hp.tune({"x": [1, 2, 3, 4]}, method="grid", study="cells", db=db)
    def f(x: int) -> float:
        return float(x)

    f.study.enqueue({"x": 2})
    f(x=3)
    study = f.optimize()
    assert sorted(t.params["x"] for t in study.trials) == [1, 2, 3, 4]
    assert {t.params["x"]: t.origin for t in study.trials}[2] == "enqueued"


def test_a_grid_point_given_with_float_noise_is_the_same_cell() -> None:
    space = Space.from_user({"lr": Float(1e-4, 1e-1, log=True)})
    history = History(space, "minimize", 0)
    history.update(record(0, Proposal({"lr": 0.0010000000000000002}), TrialState.COMPLETE, 1.0))
    _run_to_exhaustion(Grid(grid_points=4), history)
    assert len(history.trials) == 4


def test_the_end_of_a_grid_with_failed_cells_says_how_to_run_them_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A grid runs each cell once, failed or not; its end said only "all 4 cells have
    been run", with nothing on the failed ones nor on how to run them again."""
    caplog.set_level("INFO", logger="hpotrack")
    broken = {"a"}

    @hp.tune({"c": ["a", "b", "c", "d"]}, method="grid", study="g", db=tmp_path / "h.db")
    def train(c: str) -> float:
        if c in broken:
            raise ValueError("diverged")
        return 1.0

    train.optimize()
    assert "all 4 cells have been run (1 cell failed: a grid runs each cell once, so " in (
        caplog.text
    )
    broken.clear()
    train.study.enqueue({"c": "a"})
    caplog.clear()
    study = train.optimize()
    assert [t.state for t in study.trials].count(TrialState.COMPLETE) == 4
    assert "all 4 cells have been run" in caplog.text and "failed" not in caplog.text


def test_the_end_of_a_grid_of_one_cell_reads_as_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """It said "all 1 cells have been run" (``auto`` runs a space of one configuration
    by grid)."""
    caplog.set_level("INFO", logger="hpotrack")

    @hp.tune({"c": ["a"]}, method="grid", study="g", db=tmp_path / "h.db")
    def train(c: str) -> float:
        return 1.0

    train.optimize(n_trials=3)
    assert "grid search is complete: its one cell has been run" in caplog.text
    assert "1 cells" not in caplog.text

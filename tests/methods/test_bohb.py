"""``bohb`` against the shared multi-fidelity method suite, plus its model."""

from __future__ import annotations

import math
from typing import Any

import pytest

from hpotrack.budget import Budget
from hpotrack.errors import MethodError
from hpotrack.methods import bohb as bohb_module
from hpotrack.methods.base import History, Method
from hpotrack.methods.bohb import BOHB, good_size, observations
from hpotrack.methods.halving import Ladder
from hpotrack.records import TrialRecord, TrialState
from hpotrack.space import Float, Space
from hpotrack.testing.method_suite import MultiFidelitySuite, simulate

BUDGET = Budget(1, 27, name="epochs")
SQUARE = Space.from_user({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})


class TestBOHB(MultiFidelitySuite):
    def make_method(self) -> Method:
        return BOHB()


def distance(params: dict[str, object]) -> float:
    return (float(params["x"]) - 0.8) ** 2 + (float(params["y"]) - 0.2) ** 2  # type: ignore[arg-type]


def test_the_model_uses_the_largest_budget_with_enough_observations() -> None:
    """d = 2: N_min = 3, a good set of max(3, ⌊0.15·n⌋) = 3 and at least 3 others, so a
    budget needs 6 observations: rung 3 has 6 of the 7 trials at rung 1."""
    history = History(SQUARE, "minimize", 0, BUDGET)
    ladder = Ladder(BUDGET, 3)
    for number in range(7):
        checks = {1: float(number), **({3: float(number) / 2} if number < 6 else {})}
        params = {"x": number / 10, "y": 0.5}
        history.update(TrialRecord(number, TrialState.PRUNED, params, checks=checks, bracket=3))
    found = observations(history, ladder, n_min=3, top_n_percent=15)
    assert found is not None
    points, losses, budget = found
    assert budget == 3
    assert sorted(losses) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]  # budget 3, not budget 1
    assert points.shape == (6, 2)


def test_a_budget_whose_bad_set_would_overlap_the_good_one_is_not_used() -> None:
    """5 observations at rung 3 (d = 2): 3 good ones leave only 2 bad ones, fewer than
    N_min = 3, so the model falls back to rung 1's 7 (the paper's ``|D_b| >= N_min + 2``
    would use rung 3 with a bad set sharing a point with the good one)."""
    history = History(SQUARE, "minimize", 0, BUDGET)
    for number in range(7):
        checks = {1: float(number), **({3: float(number)} if number < 5 else {})}
        history.update(TrialRecord(number, TrialState.PRUNED, {"x": 0.1, "y": 0.1},
                                   checks=checks, bracket=3))  # fmt: skip
    found = observations(history, Ladder(BUDGET, 3), n_min=3, top_n_percent=15)
    assert found is not None and found[2] == 1 and len(found[1]) == 7


@pytest.mark.parametrize(
    ("n", "n_min", "percent", "good"),
    [(6, 3, 15, 3), (8, 4, 15, 4), (20, 4, 15, 4), (30, 4, 15, 4), (40, 4, 15, 6), (10, 3, 50, 5)],
)
def test_the_good_set_is_the_top_percent_but_at_least_n_min(
    n: int, n_min: int, percent: float, good: int
) -> None:
    assert good_size(n, n_min, percent) == good  # max(N_min, ⌊q·n⌋)


def test_good_and_bad_densities_share_no_observation(monkeypatch: pytest.MonkeyPatch) -> None:
    """8 observations at the top budget, d = 3: the best 4 make l (and the widened l the
    candidates are drawn from), the other 4 make g."""
    space = Space.from_user({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0), "z": Float(0.0, 1.0)})
    history = History(space, "minimize", 0, BUDGET)
    for number in range(8):
        params = {"x": number / 8, "y": 0.5, "z": 0.5}
        history.update(TrialRecord(number, TrialState.COMPLETE, params, value=float(number)))
    fitted: list[list[float]] = []
    real = bohb_module.ParzenEstimator

    def spy(points: Any, *args: Any, **kwargs: Any) -> Any:
        fitted.append(sorted(float(x) for x in points[:, 0]))
        return real(points, *args, **kwargs)

    monkeypatch.setattr(bohb_module, "ParzenEstimator", spy)
    _, note = BOHB(random_fraction=0.0).configuration(history)
    assert note == "bohb: KDE of 8 observations at budget 27"
    good, wide, bad = fitted
    assert good == wide == [0.0, 0.125, 0.25, 0.375]
    assert bad == [0.5, 0.625, 0.75, 0.875]


def test_without_enough_observations_there_is_no_model() -> None:
    history = History(SQUARE, "minimize", 0, BUDGET)
    history.update(TrialRecord(0, TrialState.PRUNED, {"x": 0.1, "y": 0.1}, checks={1: 1.0}))
    assert observations(history, Ladder(BUDGET, 3), n_min=3, top_n_percent=15) is None


def test_model_based_configurations_gather_near_the_optimum() -> None:
    """After the start, BOHB's new configurations are closer to the optimum than random
    ones (median distance over the second half of the run, over seeds)."""

    def late_median(method: Method, seed: int) -> float:
        history = simulate(method, SQUARE, 80, seed=seed, objective=distance, budget=BUDGET)
        late = sorted(distance(dict(t.params)) for t in history.trials[40:])
        return late[len(late) // 2]

    bohb = [late_median(BOHB(), seed) for seed in range(3)]
    uniform = [late_median(BOHB(random_fraction=1.0), seed) for seed in range(3)]
    assert sorted(bohb)[1] < sorted(uniform)[1], (bohb, uniform)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"top_n_percent": 0}, "`0 < top_n_percent < 100` must hold, but got top_n_percent=0"),
        ({"random_fraction": 1.5}, "`0 <= random_fraction <= 1` must hold"),
        ({"num_samples": 0}, "`num_samples >= 1` must hold for a whole number, but got num"),
        ({"bandwidth_factor": -1.0}, "`bandwidth_factor > 0` must hold"),
        ({"min_bandwidth": 1.0}, "`0 < min_bandwidth < 1` must hold"),
        ({"eta": 1}, "`eta > 1` must hold, but got eta=1"),
        ({"eta": math.nan}, "`eta > 1` must hold"),
    ],
)
def test_bad_options_are_one_clear_error(options: dict[str, float], message: str) -> None:
    with pytest.raises(MethodError, match=message.replace("(", r"\(").replace(")", r"\)")):
        BOHB(**options)  # type: ignore[arg-type]

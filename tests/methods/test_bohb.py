"""``bohb`` against the shared multi-fidelity method suite, plus its model."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from hpotrack.budget import Budget
from hpotrack.errors import MethodError
from hpotrack.methods import bohb as bohb_module
from hpotrack.methods.base import Method
from hpotrack.methods.bohb import BOHB, Observations, budget_observations, observations
from hpotrack.methods.halving import Ladder
from hpotrack.methods.history import History
from hpotrack.methods.hyperband import Hyperband
from hpotrack.methods.registry import from_json
from hpotrack.records import Edge, TrialRecord, TrialState
from hpotrack.space import Float, Space
from hpotrack.testing.driver import simulate
from hpotrack.testing.method_suite import MultiFidelitySuite

BUDGET = Budget(1, 27, name="epochs")
SQUARE = Space.from_user({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})


class TestBOHB(MultiFidelitySuite):
    def make_method(self) -> Method:
        return BOHB()


def distance(params: dict[str, object]) -> float:
    return (float(params["x"]) - 0.8) ** 2 + (float(params["y"]) - 0.2) ** 2  # type: ignore[arg-type]


def test_the_model_uses_the_largest_budget_with_enough_observations() -> None:
    history = History(SQUARE, "minimize", 0, BUDGET)
    ladder = Ladder(BUDGET, 3)
    for number in range(6):  # 6 at rung 1, 5 of them at rung 3: N_min + 2 = 5 for d = 2
        checks = {1: float(number), **({3: float(number) / 2} if number < 5 else {})}
        params = {"x": number / 10, "y": 0.5}
        rung = 1 if number < 5 else 0
        history.update(TrialRecord(number, TrialState.PRUNED, params, value=checks[max(checks)],
                                   checks=checks, rung=rung, bracket=3))  # fmt: skip
    found = observations(history, ladder, n_min=3)
    assert found is not None
    assert (found.budget, found.measured) == (3, 5)  # budget 3, not budget 1
    # best first at budget 3: trials 0..4; then trial 5, stopped at budget 1
    assert found.points(history)[:, 0].round(2).tolist() == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]


def test_every_budget_with_an_observation_has_its_ranked_losses() -> None:
    """Lowest budget first; losses best first; a budget without observations is left out."""
    history = History(SQUARE, "maximize", 0, BUDGET)  # losses are negated values
    for number, checks in enumerate([{1: 0.2, 3: 0.5}, {1: 0.4}, {1: 0.3, 3: 0.1}]):
        history.update(TrialRecord(number, TrialState.PRUNED, {"x": 0.1, "y": 0.1},
                                   value=checks[max(checks)], checks=checks, rung=len(checks) - 1,
                                   bracket=3))  # fmt: skip
    history.update(TrialRecord(3, TrialState.PRUNED, {"x": 0.1, "y": 0.1}, value=0.9))  # no rung
    found = budget_observations(history, Ladder(BUDGET, 3))
    assert [f.budget for f in found] == [1, 3]
    assert [f.numbers[: f.measured] for f in found] == [(1, 2, 0), (0, 2)]
    assert found[1].losses == (-0.5, -0.1)
    # then the stopped ones below each budget: highest rung first, a trial without one last
    assert [f.numbers[f.measured :] for f in found] == [(3,), (1, 3)]


def test_a_lost_trial_replaced_by_its_retry_is_observed_once() -> None:
    """Trial 1 was lost after its check at rung 1; its retry 2 carries that check on: the
    configuration is one observation there, not two."""
    history = History(SQUARE, "minimize", 0, BUDGET)
    lost = {"x": 0.3, "y": 0.3}
    history.update(TrialRecord(0, TrialState.PRUNED, {"x": 0.1, "y": 0.1}, value=0.5,
                               checks={1: 0.5}, rung=0, bracket=3))  # fmt: skip
    history.update(TrialRecord(1, TrialState.FAILED, lost, checks={1: 0.2}, rung=0, bracket=3))
    history.update(TrialRecord(2, TrialState.RUNNING, lost, checks={1: 0.2}, rung=0, bracket=3,
                               parents=(Edge(1, "retried", step=2),)))  # fmt: skip
    (found,) = budget_observations(history, Ladder(BUDGET, 3))
    assert found.numbers[: found.measured] == (2, 0)


def test_configurations_stopped_below_the_budget_rank_after_its_observations() -> None:
    """Stopped trials follow, highest rung first, then by value; a promoted one is left
    out (its configuration went on), and so are running ones."""
    history = History(SQUARE, "minimize", 0, BUDGET)
    trials = [  # number: (state, rung, checks, value)
        (TrialState.COMPLETE, 2, {1: 0.5, 3: 0.4, 9: 0.3}, 0.2),
        (TrialState.COMPLETE, 2, {1: 0.6, 3: 0.5, 9: 0.4}, 0.1),
        (TrialState.COMPLETE, None, {}, 0.3),
        (TrialState.COMPLETE, None, {}, 0.4),
        (TrialState.COMPLETE, None, {}, 0.5),
        (TrialState.PRUNED, 0, {1: 0.7}, 0.7),
        (TrialState.PRUNED, 1, {1: 0.8, 3: 0.9}, 0.9),
        (TrialState.PRUNED, 0, {1: 0.6}, 0.6),
        (TrialState.PRUNED, 0, {1: 0.65}, 0.65),  # promoted below
        (TrialState.RUNNING, 0, {1: 0.1}, None),
    ]
    for number, (state, rung, checks, value) in enumerate(trials):
        params = {"x": number / 10, "y": 0.5}
        history.update(TrialRecord(number, state, params, value=value, checks=checks,
                                   rung=rung, bracket=3 if checks else 0))  # fmt: skip
    history.update(TrialRecord(10, TrialState.RUNNING, {"x": 0.8, "y": 0.5},
                               claim="promote:8", rung=0, bracket=3))  # fmt: skip
    found = observations(history, Ladder(BUDGET, 3), n_min=3)
    assert found is not None and (found.budget, found.measured) == (27, 5)
    order = [round(x * 10) for x in found.points(history)[:, 0]]
    assert order == [1, 0, 2, 3, 4, 6, 7, 5]


def test_model_budget_top_waits_for_the_top_budget() -> None:
    """With ``model_budget="top"`` a lower budget with enough observations makes no
    model; the top budget's observations do, as with the paper's rule."""
    history = History(SQUARE, "minimize", 0, BUDGET)
    for number in range(5):  # N_min + 2 = 5 observations at budget 3, none at 27
        params, checks = {"x": number / 10, "y": 0.5}, {1: float(number), 3: float(number)}
        history.update(TrialRecord(number, TrialState.PRUNED, params, value=float(number),
                                   checks=checks, rung=1, bracket=3))  # fmt: skip
    assert BOHB().observed(history) is None  # "top" is the default
    found = BOHB(model_budget="largest").observed(history)
    assert found is not None and found.budget == 3
    for number in range(5, 10):
        history.update(TrialRecord(number, TrialState.COMPLETE, {"x": number / 10, "y": 0.5},
                                   value=float(number)))  # fmt: skip
    top, largest = BOHB().observed(history), BOHB(model_budget="largest").observed(history)
    assert top is not None and largest is not None
    assert top.budget == largest.budget == 27 and top.numbers == largest.numbers


def test_a_study_stored_before_model_budget_resumes_with_the_papers_rule() -> None:
    stored = BOHB().to_json()
    assert from_json(stored) == BOHB(model_budget="top")
    del stored["options"]["model_budget"]  # as studies stored before the option hold it
    assert from_json(stored) == BOHB(model_budget="largest")


def test_without_enough_observations_there_is_no_model() -> None:
    history = History(SQUARE, "minimize", 0, BUDGET)
    history.update(TrialRecord(0, TrialState.PRUNED, {"x": 0.1, "y": 0.1}, checks={1: 1.0}))
    assert observations(history, Ladder(BUDGET, 3), n_min=3) is None


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
        (
            {"model_budget": "smallest"},
            "`model_budget` must be one of 'largest', 'top', but got model_budget='smallest'",
        ),
        ({"eta": math.nan}, "`eta > 1` must hold for a finite number, but got eta=nan"),
        ({"eta": "3"}, "`eta > 1` must hold for a finite number, but got eta='3' (a str, not a"),
    ],
)
def test_bad_options_are_one_clear_error(options: dict[str, float], message: str) -> None:
    with pytest.raises(MethodError, match=message.replace("(", r"\(").replace(")", r"\)")):
        BOHB(**options)  # type: ignore[arg-type]


@dataclass(frozen=True)
class NoModel(BOHB):
    def observed(self, history: History) -> Observations | None:
        return None


def test_a_subclass_chooses_what_the_model_sees_through_observed() -> None:
    """Without observations BOHB's configurations are Hyperband's, trial for trial."""
    methods = (NoModel(random_fraction=0.0), Hyperband(), BOHB(random_fraction=0.0))
    runs = [simulate(m, SQUARE, 120, objective=distance, budget=BUDGET) for m in methods]
    no_model, uniform, bohb = ([t.params for t in run.trials] for run in runs)
    assert no_model == uniform
    assert bohb != uniform  # the model does steer the default


def test_the_model_looks_at_the_most_recent_trials_and_the_best(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As TPE's, the observations come from the last ``WINDOW`` trials plus the best one,
    so an ask costs the same in a study of any size."""
    monkeypatch.setattr(bohb_module, "WINDOW", 6)
    history = History(SQUARE, "minimize", 0, BUDGET)
    values = [0.05, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]  # trial 0 is the best
    for number, value in enumerate(values):
        params = {"x": number / 10, "y": 0.5}
        history.update(TrialRecord(number, TrialState.COMPLETE, params, value=value))
    found = observations(history, Ladder(BUDGET, 3), n_min=3)
    assert found is not None and found.measured == 7  # trials 4..9, and the best, 0
    assert [round(x * 10) for x in found.points(history)[:, 0]] == [0, 9, 8, 7, 6, 5, 4]

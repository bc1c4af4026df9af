"""The contract every search method must satisfy, as a pytest class to subclass.

A method's test file only plugs its method in::

    class TestRandom(MethodSuite):
        def make_method(self) -> Method:
            return Random()

Everything here runs on an in-memory :class:`History` (no database): a method is a pure
function of the history, the seed and the trial number (DESIGN principle 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import ClassVar

import numpy as np
import pytest

from hpotrack.errors import SearchExhausted
from hpotrack.methods.base import History, Method, Proposal
from hpotrack.methods.base import from_json as method_from_json
from hpotrack.methods.random_search import Random
from hpotrack.records import Origin, TrialRecord, TrialState
from hpotrack.space import Choice, Float, Int, Space, Value

MIXED_SPACE = Space.from_user(
    {
        "lr": Float(1e-5, 1e-1, log=True),
        "momentum": Float(0.0, 1.0),
        "dropout": Float(0.0, 0.5, step=0.05),
        "layers": Int(1, 4),
        "units": Int(8, 512, log=True),
        "optimizer": Choice(["sgd", "adam", "rmsprop"]),
    }
)

Objective = Callable[[Mapping[str, Value]], float]


def encoded_distance(params: Mapping[str, Value]) -> float:
    """A smooth test objective: squared distance to the centre of the unit cube."""
    return float(((MIXED_SPACE.encode(params) - 0.5) ** 2).sum())


def record(number: int, proposal: Proposal, state: TrialState, value: float | None) -> TrialRecord:
    return TrialRecord(
        number=number,
        state=state,
        params=proposal.params,
        value=value,
        budget=proposal.budget,
        origin=proposal.origin,
        parents=proposal.parents,
        claim=proposal.claim,
    )


def simulate(
    method: Method,
    space: Space,
    n_trials: int,
    *,
    seed: int = 0,
    objective: Objective | None = None,
    direction: str = "minimize",
) -> History:
    """Run ``n_trials`` sequential asks, completing each with ``objective``."""
    history = History(space, direction, seed)
    for number in range(n_trials):
        proposal = method.ask(history)
        value = objective(proposal.params) if objective is not None else float(number)
        history.update(record(number, proposal, TrialState.COMPLETE, value))
    return history


class MethodSuite:
    """Subclass and implement :meth:`make_method` (and :attr:`space` if the method needs a
    special one). ``proposes = False`` for methods that only run what users enqueue."""

    space: ClassVar[Space] = MIXED_SPACE
    proposes: ClassVar[bool] = True
    n_trials: ClassVar[int] = 16
    model_based: ClassVar[bool] = False  # True: must beat random search on a 2-D function

    def make_method(self) -> Method:
        raise NotImplementedError

    def _ask(self, method: Method, history: History) -> Proposal:
        if not self.proposes:
            with pytest.raises(SearchExhausted):
                method.ask(history)
            pytest.skip("this method proposes nothing; checked that it says so")
        return method.ask(history)

    def _run(self, seed: int, n_trials: int | None = None) -> list[dict[str, Value]]:
        method = self.make_method()
        if not self.proposes:
            self._ask(method, History(self.space, "minimize", seed))
        history = simulate(
            method, self.space, n_trials or self.n_trials, seed=seed, objective=self._objective
        )
        return [dict(t.params) for t in history.trials]

    def _objective(self, params: Mapping[str, Value]) -> float:
        return float(((self.space.encode(params) - 0.5) ** 2).sum())

    def test_proposals_are_valid_points_of_the_space(self) -> None:
        for params in self._run(seed=1):
            assert list(params) == list(self.space)
            assert self.space.validate(params) == params

    def test_same_seed_gives_same_proposals(self) -> None:
        assert self._run(seed=7) == self._run(seed=7)

    def test_different_seeds_give_different_proposals(self) -> None:
        assert self._run(seed=7) != self._run(seed=8)

    def test_ask_is_a_pure_function_of_the_history(self) -> None:
        method = self.make_method()
        history = (
            simulate(method, self.space, self.n_trials // 2, seed=3, objective=self._objective)
            if self.proposes
            else History(self.space, "minimize", 3)
        )
        first = self._ask(method, history)
        assert self._ask(self.make_method(), history) == first
        assert self._ask(method, history) == first

    @pytest.mark.parametrize("completed", [0, 12])
    def test_pending_trials_are_not_proposed_again(self, completed: int) -> None:
        """With running trials in the history, and after a start-up phase too (methods
        that model the history only switch on after their first trials)."""
        method = self.make_method()
        history = (
            simulate(method, self.space, completed, seed=5, objective=self._objective)
            if self.proposes
            else History(self.space, "minimize", 5)
        )
        for number in range(completed, completed + 6):
            proposal = self._ask(method, history)
            pending = [t for t in history.trials if t.state is TrialState.RUNNING]
            assert all(proposal.params != t.params for t in pending)
            assert proposal.claim is None or not history.is_claimed(proposal.claim)
            history.update(record(number, proposal, TrialState.RUNNING, None))

    def test_failed_and_running_trials_in_the_history_are_handled(self) -> None:
        method = self.make_method()
        history = History(self.space, "minimize", 9)
        states = [TrialState.FAILED, TrialState.COMPLETE, TrialState.RUNNING, TrialState.PRUNED]
        for number in range(12):
            proposal = self._ask(method, history)
            state = states[number % len(states)]
            value = None if state in (TrialState.FAILED, TrialState.RUNNING) else float(number)
            history.update(record(number, proposal, state, value))
        assert len(history.trials) == 12

    def test_lineage_names_earlier_trials_and_known_origins(self) -> None:
        method = self.make_method()
        history = History(self.space, "minimize", 11)
        known = {origin.value for origin in Origin}
        for number in range(self.n_trials):
            proposal = self._ask(method, history)
            assert proposal.origin in known
            assert all(0 <= edge.parent < number for edge in proposal.parents)
            assert proposal.budget is None or (
                proposal.budget > 0 and math.isfinite(proposal.budget)
            )
            history.update(record(number, proposal, TrialState.COMPLETE, float(number)))

    def test_options_round_trip_through_stored_json(self) -> None:
        method = self.make_method()
        assert method_from_json(method.to_json()) == method
        assert method.to_json()["name"] == method.name

    def test_accepts_the_space(self) -> None:
        self.make_method().check(self.space)

    def test_resumed_history_gives_the_same_proposals(self) -> None:
        """A history rebuilt from stored records (as after a crash, or in another
        process) leads to the very proposal the original history did."""
        method = self.make_method()
        history = (
            simulate(method, self.space, 10, seed=4, objective=self._objective)
            if self.proposes
            else History(self.space, "minimize", 4)
        )
        rebuilt = History(self.space, "minimize", 4)
        for trial in history.trials:
            rebuilt.update(trial)
        assert self._ask(self.make_method(), rebuilt) == self._ask(method, history)

    def test_beats_random_search_on_a_smooth_2d_function(self) -> None:
        """Median best value over fixed seeds below random search's (model-based only)."""
        if not self.model_based:
            pytest.skip("not a model-based method")
        space = Space.from_user({"x": Float(-5.0, 10.0), "y": Float(0.0, 15.0)})
        seeds = range(5)
        mine = [_best(self.make_method(), space, seed) for seed in seeds]
        random_search = [_best(Random(), space, seed) for seed in seeds]
        assert float(np.median(mine)) < float(np.median(random_search)), (mine, random_search)


def branin(params: Mapping[str, Value]) -> float:
    """The Branin function (minimum 0.397887 at three points)."""
    x, y = float(params["x"]), float(params["y"])  # type: ignore[arg-type]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return float((y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10)


def _best(method: Method, space: Space, seed: int, n_trials: int = 30) -> float:
    history = simulate(method, space, n_trials, seed=seed, objective=branin)
    return min(t.value for t in history.trials if t.value is not None)

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

from hpotrack.budget import Budget
from hpotrack.constraints import Constraint
from hpotrack.errors import HpotrackError, MethodError, SearchExhausted
from hpotrack.methods.base import Method, Proposal
from hpotrack.methods.history import History
from hpotrack.methods.random_search import Random
from hpotrack.methods.registry import from_json as method_from_json
from hpotrack.objectives import Objectives
from hpotrack.records import Origin, TrialState
from hpotrack.space import Choice, Float, Int, Space, Value
from hpotrack.testing.driver import (
    Objective,
    front_hypervolume,
    running,
    simulate,
    simulate_front,
)

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

ODD_SPACES: dict[str, Space] = {
    "one float": Space.from_user({"x": Float(0.0, 1.0)}),
    "choices only": Space.from_user(
        {
            "kind": Choice([None, True, 1, 2.5, "1"]),  # True, 1 and "1" are three options
            "seed": Choice(list(range(200))),
            "fixed": Choice(["only"]),
        }
    ),
    "wide and stepped": Space.from_user(
        {
            "n": Int(0, 10**12),
            "scale": Float(1e-12, 1e12, log=True),
            "ratio": Float(0.0, 0.9, step=0.3),
            "every5": Int(0, 100, step=5),
            "width": Int(1, 10**6, log=True),
        }
    ),
    "32 parameters": Space.from_user(
        {
            **{f"f{i}": Float(-1.0, 1.0) for i in range(20)},
            **{f"c{i}": Choice(["a", "b"]) for i in range(12)},
        }
    ),
    "continuous and fixed": Space.from_user(
        {"lr": Float(1e-12, 1e12, log=True), "fixed": Choice([0.5])}
    ),
    "one point": Space.from_user({"fixed": Choice(["only"]), "seed": Choice([7])}),
}
"""Spaces users write that :data:`MIXED_SPACE` does not cover: a method proposes valid
points of each, or refuses it up front (``check``) with an :class:`HpotrackError`."""

CONDITIONAL_SPACE = Space.from_user(
    {
        "kernel": Choice(["linear", "rbf", "poly"]),
        "C": Float(1e-3, 1e3, log=True),
        "gamma": Float(1e-4, 1.0, log=True, when={"kernel": "rbf"}),
        "degree": Int(2, 5, when={"kernel": "poly"}),
        "coef0": Float(0.0, 1.0, step=0.25, when={"kernel": ["rbf", "poly"]}),
        "shrink": Choice([True, False], when={"kernel": "poly"}),
        "tol": Float(1e-5, 1e-2, log=True, when={"shrink": True}),  # a chain: poly, shrink
    }
)
"""A space with conditional parameters (``when=``), a chain of them among: a proposal
carries every parameter its values keep active and none they leave inactive."""


def same_values(a: Mapping[str, Value], b: Mapping[str, Value]) -> bool:
    """The same names with equal values of the same types: ``1 == True`` in Python, but
    True, 1 and "1" are three different options of a Choice."""
    return list(a) == list(b) and all(type(a[k]) is type(b[k]) and a[k] == b[k] for k in a)


def encoded_distance(params: Mapping[str, Value]) -> float:
    """A smooth test objective: squared distance to the centre of the unit cube."""
    return float(((MIXED_SPACE.encode(params) - 0.5) ** 2).sum())


class MethodSuite:
    """Subclass and implement :meth:`make_method` (and :attr:`space` if the method needs a
    special one). ``proposes = False`` for methods that only run what users enqueue."""

    space: ClassVar[Space] = MIXED_SPACE
    proposes: ClassVar[bool] = True
    n_trials: ClassVar[int] = 16
    model_based: ClassVar[bool] = False  # True: must beat random search on a 2-D function
    budget: ClassVar[Budget | None] = None  # for methods that need ``budget=``
    # True: on two objectives, must beat random search's hypervolume (multi_objective only)
    finds_fronts: ClassVar[bool] = False
    # True: under a constraint, must beat random search's best feasible value (constrained)
    finds_feasible: ClassVar[bool] = False

    def _history(self, seed: int) -> History:
        return History(self.space, "minimize", seed, self.budget)

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
            self._ask(method, self._history(seed))
        history = self._simulate(method, n_trials or self.n_trials, seed=seed)
        return [dict(t.params) for t in history.trials]

    def _simulate(self, method: Method, n_trials: int, seed: int) -> History:
        return simulate(
            method, self.space, n_trials, seed=seed, objective=self._objective, budget=self.budget
        )

    def _objective(self, params: Mapping[str, Value]) -> float:
        return _centre(self.space)(params)

    def test_proposals_are_valid_points_of_the_space(self) -> None:
        for params in self._run(seed=1):
            assert list(params) == list(self.space)
            assert same_values(self.space.validate(params), params)

    @pytest.mark.parametrize("name", list(ODD_SPACES))
    def test_proposals_are_valid_on_spaces_users_write(self, name: str) -> None:
        """One parameter, only choices (of mixed types), huge and stepped ranges, 30+
        parameters: valid points, each value of its option's type, or a clear refusal."""
        space, method = ODD_SPACES[name], self.make_method()
        try:
            method.check(space)
        except HpotrackError as error:  # before any trial runs: gradient on choices
            message = str(error)  # names what it cannot search, or the grid's size
            assert "cells" in message or any(repr(n) in message for n in space), message
            return
        if not self.proposes:
            pytest.skip("this method proposes nothing")
        objective = _centre(space)
        history = simulate(
            method, space, 12, seed=2, objective=objective, budget=self.budget, until_exhausted=True
        )
        assert history.trials
        for trial in history.trials:
            assert same_values(space.validate(trial.params), trial.params), trial.params

    def test_proposals_carry_exactly_the_active_parameters(self) -> None:
        """On a conditional space: no inactive parameter, every active one, values in
        range (``validate`` refuses the rest); some proposals with a conditional
        parameter active, some with one inactive."""
        space, method = CONDITIONAL_SPACE, self.make_method()
        try:
            method.check(space)
        except HpotrackError as error:  # gradient: a Choice is nothing to descend
            assert any(repr(n) in str(error) for n in space), str(error)
            return
        if not self.proposes:
            pytest.skip("this method proposes nothing")
        history = simulate(method, space, 24, seed=4, objective=_centre(space), budget=self.budget)
        for trial in history.trials:
            params = trial.params
            assert same_values(space.validate(params), params), params
            assert set(params) == set(space) - space.inactive(params), params
        assert any(space.inactive(t.params) for t in history.trials)
        assert any({"gamma", "degree"} & set(t.params) for t in history.trials)

    def test_same_seed_gives_same_proposals(self) -> None:
        assert self._run(seed=7) == self._run(seed=7)

    def test_different_seeds_give_different_proposals(self) -> None:
        assert self._run(seed=7) != self._run(seed=8)

    def test_ask_is_a_pure_function_of_the_history(self) -> None:
        method = self.make_method()
        history = (
            self._simulate(method, self.n_trials // 2, seed=3)
            if self.proposes
            else self._history(3)
        )
        first = self._ask(method, history)
        assert self._ask(self.make_method(), history) == first
        assert self._ask(method, history) == first

    @pytest.mark.parametrize("completed", [0, 12])
    def test_pending_trials_are_not_proposed_again(self, completed: int) -> None:
        """With running trials in the history, and after a start-up phase too (methods
        that model the history only switch on after their first trials)."""
        method = self.make_method()
        history = self._simulate(method, completed, seed=5) if self.proposes else self._history(5)
        for _ in range(6):
            proposal = self._ask(method, history)
            pending = [t for t in history.trials if t.state is TrialState.RUNNING]
            assert not any(same_values(proposal.params, t.params) for t in pending)
            assert proposal.claim is None or not history.is_claimed(proposal.claim)
            history.update(running(method, history, proposal))

    def test_failed_and_running_trials_in_the_history_are_handled(self) -> None:
        method = self.make_method()
        history = self._history(9)
        states = [TrialState.FAILED, TrialState.COMPLETE, TrialState.RUNNING, TrialState.PRUNED]
        for number in range(12):
            proposal = self._ask(method, history)
            state = states[number % len(states)]
            value = None if state in (TrialState.FAILED, TrialState.RUNNING) else float(number)
            history.update(running(method, history, proposal).replace(state=state, value=value))
        assert len(history.trials) == 12

    def test_lineage_names_earlier_trials_and_known_origins(self) -> None:
        method = self.make_method()
        history = self._history(11)
        known = {origin.value for origin in Origin}
        for number in range(self.n_trials):
            proposal = self._ask(method, history)
            assert proposal.origin in known
            assert all(0 <= edge.parent < number for edge in proposal.parents)
            assert proposal.budget is None or (
                proposal.budget > 0 and math.isfinite(proposal.budget)
            )
            trial = running(method, history, proposal)
            history.update(trial.replace(state=TrialState.COMPLETE, value=float(number)))

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
        history = self._simulate(method, 10, seed=4) if self.proposes else self._history(4)
        rebuilt = self._history(4)
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

    def test_several_objectives_are_searched_or_refused(self) -> None:
        """A method that says it keeps a Pareto front (``multi_objective``) proposes valid
        points on a study of two objectives, one minimized and one maximized; any other
        refuses such a study up front, saying which methods can."""
        objectives = Objectives(("error", "score"), ("minimize", "maximize"))
        method = self.make_method()
        if not method.multi_objective:
            with pytest.raises(MethodError, match="optimizes one objective, but the study has 2"):
                method.check_objectives(objectives)
            return

        def metrics(params: Mapping[str, Value]) -> dict[str, float]:
            point = self.space.encode(params)
            return {"error": float((point**2).sum()), "score": float(point.sum())}

        self._searched_validly(method, objectives, metrics)

    def _searched_validly(
        self,
        method: Method,
        objectives: Objectives,
        metrics: Callable[[Mapping[str, Value]], dict[str, float]],
    ) -> History:
        """``method`` accepts a study of ``objectives`` and, run ``n_trials`` on it (the
        trials returning ``metrics``), proposes only valid points of the space; skipped
        for a method that proposes nothing itself or needs a budget."""
        method.check_objectives(objectives)
        if not self.proposes or self.budget is not None:
            pytest.skip("proposes nothing itself, or needs a budget")
        history = simulate_front(
            method, self.space, self.n_trials, objectives=objectives, function=metrics
        )
        assert history.count(TrialState.COMPLETE) == self.n_trials
        for trial in history.trials:
            assert same_values(trial.params, self.space.validate(trial.params))
        return history

    def test_beats_random_search_on_the_hypervolume_of_two_objectives(self) -> None:
        """On ZDT1 (Zitzler, Deb & Thiele 2000) in 4 variables, 60 trials: the median
        over fixed seeds of the hypervolume the found front dominates is above random
        search's (methods that model the front only)."""
        if not self.finds_fronts:
            pytest.skip("not a method that models the Pareto front")
        space = Space.from_user({f"x{i}": Float(0.0, 1.0) for i in range(4)})
        objectives = Objectives(("f1", "f2"), ("minimize", "minimize"))

        def zdt1(params: Mapping[str, Value]) -> dict[str, float]:
            x = space.encode(params)  # each in [0, 1]: the values themselves
            g = 1.0 + 9.0 * sum(x[1:]) / 3
            return {"f1": x[0], "f2": g * (1.0 - math.sqrt(x[0] / g))}

        def volume(method: Method, seed: int) -> float:
            history = simulate_front(method, space, 60, objectives=objectives, function=zdt1,
                                     seed=seed)  # fmt: skip
            return front_hypervolume(history, (1.1, 11.0))

        seeds = range(5)
        mine = [volume(self.make_method(), seed) for seed in seeds]
        random_search = [volume(Random(), seed) for seed in seeds]
        assert float(np.median(mine)) > float(np.median(random_search)), (mine, random_search)

    def test_constraints_are_honoured_or_refused(self) -> None:
        """A method that says it honours constraints (``constrained``) proposes valid
        points on a constrained study and its best is a feasible trial; any other refuses
        such a study up front, saying which methods can."""
        objectives = Objectives(("loss",), ("minimize",), (Constraint("c", at_most=0.0),))
        method = self.make_method()
        if not method.constrained:
            with pytest.raises(MethodError, match="does not honour constraints"):
                method.check_objectives(objectives)
            return

        def metrics(params: Mapping[str, Value]) -> dict[str, float]:
            point = self.space.encode(params)
            return {"loss": float(((point - 0.5) ** 2).sum()), "c": float(point[0] - 0.3)}

        history = self._searched_validly(method, objectives, metrics)
        best = history.best
        assert best is None or best.metrics["c"] <= 0.0
        feasible = [t for t in history.trials if t.metrics["c"] <= 0.0]
        assert best is None or best.value == min(float(t.value or 0.0) for t in feasible)

    def test_beats_random_search_on_the_best_feasible_value(self) -> None:
        """On the toy problem of Gardner et al. 2014 (section 5.1: a third of the square
        is infeasible), 40 trials: the median over fixed seeds of the best feasible value
        is below random search's (methods that search under constraints only)."""
        if not self.finds_feasible:
            pytest.skip("not a method that searches under constraints")
        space = Space.from_user({"x": Float(0.0, 6.0), "y": Float(0.0, 6.0)})
        objectives = Objectives(("f",), ("minimize",), (Constraint("c", at_most=0.5),))

        def gardner(params: Mapping[str, Value]) -> dict[str, float]:
            x, y = float(params["x"]), float(params["y"])  # type: ignore[arg-type]
            f = math.cos(2 * x) * math.cos(y) + math.sin(x)
            return {"f": f, "c": math.cos(x) * math.cos(y) - math.sin(x) * math.sin(y)}

        def best(method: Method, seed: int) -> float:
            history = simulate_front(method, space, 40, objectives=objectives,
                                     function=gardner, seed=seed)  # fmt: skip
            best = history.best
            return math.inf if best is None or best.value is None else best.value

        seeds = range(5)
        mine = [best(self.make_method(), seed) for seed in seeds]
        random_search = [best(Random(), seed) for seed in seeds]
        assert float(np.median(mine)) < float(np.median(random_search)), (mine, random_search)

    def test_does_not_return_to_where_the_function_fails(self) -> None:
        """A failed trial is evidence too: where the function fails (NaN on half of
        the space here) must not be proposed again and again (model-based only)."""
        if not self.model_based:
            pytest.skip("not a model-based method")
        space = Space.from_user({"x": Float(-5.0, 10.0), "y": Float(0.0, 15.0)})
        method, history = self.make_method(), History(space, "minimize", 0)
        for _ in range(40):
            proposal = method.ask(history)
            works = float(proposal.params["x"]) < 2.5  # type: ignore[arg-type]
            state = TrialState.COMPLETE if works else TrialState.FAILED
            value = branin(proposal.params) if works else None
            history.update(running(method, history, proposal).replace(state=state, value=value))
        failed = space.encode_many([t.params for t in history.trials if t.value is None])
        gaps = np.linalg.norm(failed[:, None, :] - failed[None, :, :], axis=-1)
        np.fill_diagonal(gaps, np.inf)
        assert len(failed) < 30 and gaps.min() > 1e-3, (len(failed), gaps.min())


def _centre(space: Space) -> Objective:
    """Squared distance to the centre of ``space``'s unit cube."""
    return lambda params: float(((space.encode(params) - 0.5) ** 2).sum())


def branin(params: Mapping[str, Value]) -> float:
    """The Branin function (minimum 0.397887 at three points)."""
    x, y = float(params["x"]), float(params["y"])  # type: ignore[arg-type]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return float((y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10)


def _best(method: Method, space: Space, seed: int, n_trials: int = 30) -> float:
    history = simulate(method, space, n_trials, seed=seed, objective=branin)
    return min(t.value for t in history.trials if t.value is not None)


class MultiFidelitySuite(MethodSuite):
    """What successive-halving methods must satisfy on top of :class:`MethodSuite`: checks
    only at rung budgets, stopped trials never checked again, promotions of stopped
    trials once each with a ``promoted`` edge."""

    budget: ClassVar[Budget | None] = Budget(1, 27, name="epochs")
    n_long: ClassVar[int] = 80

    def _long_run(self, seed: int = 0) -> History:
        return self._simulate(self.make_method(), self.n_long, seed=seed)

    def test_checks_are_at_rung_budgets_below_the_top(self) -> None:
        history = self._long_run()
        rungs = {1, 3, 9}  # max · η^-k for Budget(1, 27), η = 3, without the top 27
        assert all(set(t.checks) <= rungs for t in history.trials)
        assert any(len(t.checks) >= 2 for t in history.trials)

    def test_a_stopped_trial_stopped_at_its_last_check(self) -> None:
        for trial in self._long_run().trials:
            if trial.state is TrialState.PRUNED:
                assert trial.checks and trial.value == trial.checks[max(trial.checks)]
                assert trial.rung is not None

    def test_most_trials_stop_at_the_lowest_rung(self) -> None:
        history = self._long_run()
        sampled = [t for t in history.trials if t.origin == Origin.SAMPLED.value]
        at_lowest = [t for t in sampled if t.checks and min(t.checks) == 1]
        went_on = [t for t in at_lowest if len(t.checks) > 1 or t.state is TrialState.COMPLETE]
        assert at_lowest and len(went_on) <= len(at_lowest) / 2

    def test_promotions_name_a_trial_stopped_at_that_rung_once(self) -> None:
        history = self._long_run(seed=1)
        promoted = [t for t in history.trials if t.origin == Origin.PROMOTED.value]
        parents = []
        for trial in promoted:
            (edge,) = trial.parents
            parent = history.trials[edge.parent]
            assert edge.kind == Origin.PROMOTED.value and parent.state is TrialState.PRUNED
            assert edge.step == max(parent.checks) and trial.params == parent.params
            assert all(step > edge.step for step in trial.checks)
            parents.append(edge.parent)
        assert len(parents) == len(set(parents))

    def test_the_budget_is_required(self) -> None:
        from hpotrack.errors import MethodError

        with pytest.raises(MethodError, match="needs a budget"):
            self.make_method().check_budget(None)
        with pytest.raises(MethodError, match="whole-number"):
            self.make_method().check_budget(Budget(0.5, 2.0))
        with pytest.raises(MethodError, match="has none with eta"):  # nothing to halve
            self.make_method().check_budget(Budget(10, 11))

    def test_a_budget_of_many_rungs_is_searched_as_any_other(self) -> None:
        """``Budget(1, 3**33)``: 34 rungs, and a Hyperband iteration of about 3^33
        configurations, which no ask may list (it would never return)."""
        budget = Budget(1, 3**33)
        method = self.make_method()
        method.check_budget(budget)
        history = simulate(
            method, MIXED_SPACE, 8, seed=3, objective=encoded_distance, budget=budget
        )
        rungs = {3**k for k in range(33)}  # below the top, 3**33
        for trial in history.trials:
            assert same_values(MIXED_SPACE.validate(trial.params), trial.params)
            assert trial.checks and set(trial.checks) <= rungs, trial.checks

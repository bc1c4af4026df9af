"""The helpers of :mod:`hpotrack.testing.method_suite` that benchmarks use."""

from __future__ import annotations

import pytest

from hpotrack.budget import Budget
from hpotrack.errors import SearchExhausted
from hpotrack.methods.base import Method
from hpotrack.methods.grid import Grid
from hpotrack.methods.history import History
from hpotrack.methods.sha import SHA
from hpotrack.methods.tpe import TPE
from hpotrack.space import Choice, Float, Space
from hpotrack.testing.driver import run_proposal, simulate
from hpotrack.testing.method_suite import ODD_SPACES, MethodSuite

SPACE = Space.from_user({"x": Float(0.0, 1.0)})


def _history() -> History:
    return History(SPACE, "minimize", 0, Budget(1, 9))


def test_run_proposal_stops_at_a_rung_and_reports_the_steps_trained() -> None:
    method, history = SHA(eta=3), _history()
    # ASHA: the first eta - 1 trials to reach the rung at step 1 stop there.
    assert run_proposal(method, history, method.ask(history), lambda step: 10.0 - step) == (1, 9.0)
    stored = history.trials[0]
    assert stored.state.value == "pruned" and stored.checks == {1: 9.0}


def test_run_proposal_shows_the_method_seen_values_and_returns_the_real_ones() -> None:
    method, history = SHA(eta=3), _history()
    ran = run_proposal(
        method, history, method.ask(history), lambda step: 10.0 - step, seen_at=lambda step: 0.5
    )
    assert ran == (1, 9.0)  # what the trial really had at its stop
    stored = history.trials[0]
    assert stored.checks == {1: 0.5} and stored.value == 0.5  # what the method saw


class _TPEOnChoices(MethodSuite):  # not collected: a suite run on the choices users write
    space = ODD_SPACES["choices only"]

    def make_method(self) -> Method:
        return TPE()


def test_a_proposal_of_true_is_not_taken_for_a_pending_trial_of_the_option_1() -> None:
    """1 == True in Python: comparing parameter dicts with == failed TPE for proposing
    kind=True while a trial with kind=1 ran (three options of the Choice)."""
    _TPEOnChoices().test_pending_trials_are_not_proposed_again(12)


def test_simulate_stops_when_the_method_is_exhausted_if_asked() -> None:
    space = Space.from_user({"c": Choice(["a", "b"])})
    assert len(simulate(Grid(), space, 5, until_exhausted=True).trials) == 2
    with pytest.raises(SearchExhausted):
        simulate(Grid(), space, 5)

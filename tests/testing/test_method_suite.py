"""The helpers of :mod:`hpotrack.testing.method_suite` that benchmarks use."""

from __future__ import annotations

from hpotrack.budget import Budget
from hpotrack.methods.base import History
from hpotrack.methods.sha import SHA
from hpotrack.space import Float, Space
from hpotrack.testing.method_suite import run_proposal

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

"""Methods driven in memory as the study loop drives them, without a database.

The shared method suite, the method tests and the benchmarks all run searches through
these: a method is a pure function of the history, the seed and the trial number (DESIGN
principle 1), so an in-memory :class:`History` updated trial by trial is all it needs.
Unlike :mod:`hpotrack.testing.method_suite`, this module does not need pytest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from hpotrack.budget import Budget
from hpotrack.errors import SearchExhausted
from hpotrack.methods.base import Method, Proposal
from hpotrack.methods.history import History
from hpotrack.records import TrialRecord, TrialState
from hpotrack.space import Space, Value

Objective = Callable[[Mapping[str, Value]], float]


def record(number: int, proposal: Proposal, state: TrialState, value: float | None) -> TrialRecord:
    """Trial ``number`` as the study loop would store ``proposal`` (no worker, no times)."""
    return TrialRecord(
        number=number,
        state=state,
        params=proposal.params,
        value=value,
        budget=proposal.budget,
        origin=proposal.origin,
        parents=proposal.parents,
        claim=proposal.claim,
        rung=proposal.rung,
        bracket=proposal.bracket,
    )


def simulate(
    method: Method,
    space: Space,
    n_trials: int,
    *,
    seed: int = 0,
    objective: Objective | None = None,
    direction: str = "minimize",
    budget: Budget | None = None,
    until_exhausted: bool = False,
) -> History:
    """Run ``n_trials`` sequential asks, completing each with ``objective``. With a
    ``budget``, each trial trains step by step as the study loop runs it: its value at
    step ``s`` is ``objective + 1/s``, and at the method's check steps the method decides
    whether it goes on (a stopped trial is ``pruned`` with its last value).
    ``until_exhausted``: stop early, as a study does, when the method says the search is
    complete (a grid of fewer cells), instead of raising ``SearchExhausted``."""
    history = History(space, direction, seed, budget)
    for number in range(n_trials):
        try:
            proposal = method.ask(history)
        except SearchExhausted:
            if until_exhausted:
                break
            raise
        value = objective(proposal.params) if objective is not None else float(number)
        trial = record(number, proposal, TrialState.RUNNING, None)
        history.update(trial)
        history.update(train(method, history, trial, value) if budget else _done(trial, value))
    return history


def train(method: Method, history: History, trial: TrialRecord, value: float) -> TrialRecord:
    """``trial`` trained up to the budget's max or until the method stops it."""
    assert history.budget is not None
    check = method.next_check(trial, 0, history)
    while check is not None and check <= history.budget.max:  # from check to check
        current = value + 1 / check
        checks = {**trial.checks, check: current}
        trial = dataclasses.replace(trial, checks=checks, rung=method.rung(trial, check, history))
        history.update(trial)
        if method.on_report(trial, check, history):
            return dataclasses.replace(trial, state=TrialState.PRUNED, value=current)
        check = method.next_check(trial, check + 1, history)
    return _done(trial, value + 1 / history.budget.max)


def run_proposal(
    method: Method,
    history: History,
    proposal: Proposal,
    value_at: Callable[[int], float],
    seen_at: Callable[[int], float] | None = None,
) -> tuple[int, float]:
    """Run ``proposal`` as the next trial the way the study loop does, on an in-memory
    history with a whole-number budget: from its checkpoint (a promotion continues at its
    parent's rung) up to the budget's max, its value at step ``s`` is ``value_at(s)``, and
    at the method's check steps the method decides whether it goes on. Returns (steps
    trained, last value); benchmarks replay recorded or synthetic curves with it.

    ``seen_at``, if given, is what the method is shown instead of ``value_at`` (its
    checks and the final value): a benchmark passes a clairvoyant one to ask how the
    method would do if its checks ranked trials by their final value."""
    seen = value_at if seen_at is None else seen_at
    assert history.budget is not None
    trial = record(history.next_number, proposal, TrialState.RUNNING, None)
    history.update(trial)
    start = (proposal.parents[0].step or 0) if proposal.parents else 0
    check, state, step = method.next_check(trial, start + 1, history), TrialState.COMPLETE, start
    for step in range(start + 1, int(history.budget.max) + 1):
        if check is None or step < check:
            continue
        checks = {**trial.checks, step: seen(step)}
        trial = dataclasses.replace(trial, checks=checks, rung=method.rung(trial, step, history))
        history.update(trial)
        if method.on_report(trial, step, history):
            state = TrialState.PRUNED
            break
        check = method.next_check(trial, step + 1, history)
    history.update(dataclasses.replace(trial, state=state, value=seen(step)))
    return step - start, value_at(step)


def _done(trial: TrialRecord, value: float) -> TrialRecord:
    return dataclasses.replace(trial, state=TrialState.COMPLETE, value=value)

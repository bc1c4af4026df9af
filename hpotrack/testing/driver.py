"""Methods driven in memory as the study loop drives them, without a database.

The shared method suite, the method tests and the benchmarks all run searches through
these: a method is a pure function of the history, the seed and the trial number (DESIGN
principle 1), so an in-memory :class:`History` updated trial by trial is all it needs.
Unlike :mod:`hpotrack.testing.method_suite`, this module does not need pytest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

from hpotrack import pareto
from hpotrack.budget import Budget
from hpotrack.claims import proposed_record, trained_to
from hpotrack.errors import SearchExhausted
from hpotrack.methods.base import Method, Proposal, checked
from hpotrack.methods.history import History
from hpotrack.objectives import Objectives
from hpotrack.records import TrialRecord, TrialState
from hpotrack.space import Space, Value

Objective = Callable[[Mapping[str, Value]], float]


def record(
    number: int,
    proposal: Proposal,
    state: TrialState,
    value: float | None,
    asked: str | None = None,
) -> TrialRecord:
    """Trial ``number`` as the study loop would store ``proposal`` (no worker, no times),
    training to the proposal's budget: a test's own proposal, as it wrote it. ``asked``:
    the study's method, the one that chose ``proposal.method`` if that is another.
    :func:`running` checks a method's proposal first, as the loop does."""
    built = proposed_record(number, proposal, asked, proposal.budget, state=state)
    return built.replace(value=value)


def running(method: Method, history: History, proposal: Proposal) -> TrialRecord:
    """``method``'s ``proposal`` as the study loop stores it, running as trial
    ``history.next_number``: checked (canonical values, the name of the method that made
    it; a :class:`~hpotrack.errors.MethodError` for a bad one), with its note, and
    training to the study budget's max when the proposal names no budget."""
    proposal = checked(method, proposal, history)
    budget = trained_to(proposal.budget, history.budget)
    return proposed_record(history.next_number, proposal, method.name, budget)


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
            trial = running(method, history, method.ask(history))
        except SearchExhausted:
            if until_exhausted:
                break
            raise
        value = objective(trial.params) if objective is not None else float(number)
        history.update(trial)
        history.update(train(method, history, trial, value) if budget else _done(trial, value))
    return history


def simulate_front(
    method: Method,
    space: Space,
    n_trials: int,
    *,
    objectives: Objectives,
    function: Callable[[Mapping[str, Value]], Mapping[str, float]],
    seed: int = 0,
) -> History:
    """Run ``n_trials`` sequential asks of a study of several ``objectives``, completing
    each with the metrics ``function`` returns (the first objective's as its value)."""
    history = History(space, objectives.directions[0], seed, None, objectives)
    for _ in range(n_trials):
        trial = running(method, history, method.ask(history))
        metrics = dict(function(trial.params))
        history.update(trial)
        done = _done(trial, metrics[objectives.metrics[0]])
        history.update(dataclasses.replace(done, metrics=metrics))
    return history


def front_hypervolume(history: History, reference: Sequence[float]) -> float:
    """The hypervolume of ``history``'s complete trials' losses (each objective turned
    so that lower is better) up to ``reference``, in those losses."""
    losses = [history.losses(history.trials[n]) for n in history.complete()]
    points = [loss for loss in losses if loss is not None]
    return pareto.hypervolume(points, reference) if points else 0.0


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
    trial = running(method, history, proposal)
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

"""Successive halving's arithmetic against hand-computed tables: rungs, brackets, the
decision at a rung and which stopped trial is promoted."""

from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpotrack.budget import Budget
from hpotrack.methods.bohb import BOHB
from hpotrack.methods.brackets import Run
from hpotrack.methods.halving import (
    Ladder,
    bracket_schedule,
    goes_on,
    group,
    interleave,
    promotion,
)
from hpotrack.methods.history import History
from hpotrack.methods.hyperband import Hyperband
from hpotrack.methods.sha import SHA
from hpotrack.records import Edge, Origin, TrialRecord, TrialState
from hpotrack.space import Float, Space
from hpotrack.testing.driver import record, simulate, train

SPACE = Space.from_user({"x": Float(0.0, 1.0)})
LADDER = Ladder(Budget(1, 27), 3)  # rungs 1, 3, 9, 27; brackets 0..3


@pytest.mark.parametrize(
    ("low", "high", "eta", "s_max", "steps"),
    [
        (1, 27, 3, 3, (1, 3, 9, 27)),  # the paper's example: r_i = 27 · 3^-i
        (1, 81, 3, 4, (1, 3, 9, 27, 81)),
        (1, 100, 3, 4, (1, 4, 11, 33, 100)),  # 100/81 = 1.2 -> 1, 100/27 = 3.7 -> 4, ...
        (1, 16, 2, 4, (1, 2, 4, 8, 16)),
        (3, 27, 3, 2, (3, 9, 27)),
        (1, 5, 2, 2, (1, 2, 5)),  # 5/2 = 2.5 rounds to 2 (half to even)
        (2, 3, 3, 0, (3,)),  # no room to halve: one rung, the full budget
        (1, 10, 4, 1, (2, 10)),  # 10/4 = 2.5 -> 2
    ],
)
def test_rung_budgets(low: int, high: int, eta: int, s_max: int, steps: tuple[int, ...]) -> None:
    ladder = Ladder(Budget(low, high), eta)
    assert (ladder.s_max, ladder.steps) == (s_max, steps)


def test_rungs_that_rounding_merges_are_dropped() -> None:
    assert Ladder(Budget(1, 4), 1.5).steps == (1, 2, 3, 4)  # 4/1.5^3 = 1.19, 1.78, 2.67


@pytest.mark.parametrize(
    ("bracket", "first", "checks"),
    [(3, 0, [1, 3, 9]), (2, 1, [3, 9]), (1, 2, [9]), (0, 3, []), (None, 0, [1, 3, 9])],
)
def test_each_bracket_checks_from_its_first_rung(
    bracket: int | None, first: int, checks: list[int]
) -> None:
    ladder = Ladder(Budget(1, 27), 3)
    assert ladder.first_rung(bracket) == first
    trial = TrialRecord(0, TrialState.RUNNING, {"x": 0.5}, bracket=bracket)
    found, step = [], 0
    while (check := ladder.next_check(trial, step)) is not None:
        found.append(check)
        trial = TrialRecord(0, TrialState.RUNNING, {"x": 0.5}, bracket=bracket,
                            rung=ladder.index(check))  # fmt: skip
        step = check + 1
    assert found == checks


def test_a_promoted_trial_is_checked_from_the_rung_above_its_parent() -> None:
    ladder = Ladder(Budget(1, 27), 3)
    promoted = TrialRecord(5, TrialState.RUNNING, {"x": 0.5}, rung=1)  # parent stopped at 3
    assert ladder.next_check(promoted, 0) == 9
    assert ladder.next_check(promoted, 10) is None  # 27 is the top: the trial just ends


def test_a_report_past_a_rung_checks_at_that_rung() -> None:
    ladder = Ladder(Budget(1, 27), 3)
    trial = TrialRecord(0, TrialState.RUNNING, {"x": 0.5}, rung=0)
    assert ladder.next_check(trial, 2) == 3  # reports every 2 steps: the one at 4 checks 3


def test_one_hyperband_iteration_has_the_papers_bracket_sizes() -> None:
    """n_s = ⌈(s_max + 1) / (s + 1) · η^s⌉: 27, 12, 6, 4 for s = 3..0 (Li et al. 2018)."""
    schedule = bracket_schedule(Ladder(Budget(1, 81), 3))
    assert [schedule.count(s) for s in range(5)] == [5, 8, 15, 34, 81]
    schedule = bracket_schedule(Ladder(Budget(1, 27), 3))
    assert [schedule.count(s) for s in range(4)] == [4, 6, 12, 27]
    assert set(schedule[:7]) == {0, 1, 2, 3}  # interleaved: every bracket starts early


@given(st.lists(st.integers(0, 200), min_size=1, max_size=7).filter(any))
def test_interleaving_puts_each_turn_at_the_midpoint_of_its_slice(counts: list[int]) -> None:
    """Bracket s's turn i falls at (i + 1/2) / n_s; equal times go to the larger s first."""
    turns = sorted((Fraction(2 * i + 1, 2 * n), -s) for s, n in enumerate(counts) for i in range(n))
    assert list(interleave(counts)) == [-negative for _, negative in turns]


@pytest.mark.parametrize("brackets", ["synchronous", "asynchronous"])
def test_an_iteration_of_billions_of_configurations_is_not_listed(brackets: str) -> None:
    """Budget(1, 2**62) with eta=2: 63 brackets, about 2^64 configurations per
    iteration (more than len() can count): each ask finds its slot's bracket from the
    counts, the most aggressive first (2^62 configurations)."""
    method = Hyperband(eta=2, brackets=brackets)
    history = History(SPACE, "minimize", 0, Budget(1, 2**62))
    first = method.ask(history)
    assert first.bracket == 62 and first.claim == "config:0"
    history.update(record(0, first, TrialState.RUNNING, None))
    assert method.ask(history).bracket == (62 if brackets == "synchronous" else 61)
    if brackets == "synchronous":
        assert method.layout(method.ladder(history)).run_of(2**62) == Run(
            0, 61, 2**62, math.ceil(63 / 62 * 2**61)
        )


def at_rung(history: History, number: int, loss: float, bracket: int | None = None) -> TrialRecord:
    trial = TrialRecord(number, TrialState.RUNNING, {"x": number / 100}, checks={1: loss},
                        rung=0, bracket=bracket)  # fmt: skip
    history.update(trial)
    return trial


@pytest.mark.parametrize(
    ("earlier", "loss", "continues"),
    [
        ([], 5.0, False),  # n = 1, ⌊1/3⌋ = 0: the first to arrive stops (ASHA, Alg. 2)
        ([9.0], 5.0, False),  # n = 2: still none, though it is the best so far
        ([1.0, 2.0], 1.5, False),  # n = 3: top 1
        ([2.0, 3.0], 1.5, True),
        ([1.0, 2.0, 3.0, 4.0, 6.0], 1.5, True),  # n = 6: top 2, it is second
        ([1.0, 2.0, 3.0, 4.0, 6.0], 2.5, False),  # third of six
        ([1.0, 3.0, 4.0, 6.0, 7.0], 1.0, True),  # a tie with the best: second of six
        ([1.0, 1.0, 3.0, 4.0, 6.0], 1.0, False),  # ties rank by arrival: third of six
    ],
)
def test_a_trial_goes_on_only_in_the_top_third_of_its_rung(
    earlier: list[float], loss: float, continues: bool
) -> None:
    history = History(SPACE, "minimize", 0)
    for number, value in enumerate(earlier):
        at_rung(history, number, value)
    trial = at_rung(history, len(earlier), loss)
    assert goes_on(history, trial, 1, LADDER) is continues


def test_when_every_trial_ties_only_the_top_share_goes_on() -> None:
    """Nine trials with the same value at a rung (chance level after one epoch): each
    arrival goes on or stops by the same rule as promotions, so three of nine go on,
    counting the promoted ones, not seven."""
    ladder = LADDER
    history = History(SPACE, "minimize", 0, Budget(1, 27))
    went_on = 0
    for _ in range(9):
        trial = at_rung(history, history.next_number, 0.9)
        if goes_on(history, trial, 1, LADDER):
            went_on += 1
        else:
            history.update(trial.replace(state=TrialState.PRUNED, value=0.9))
        while (proposal := promotion(history, ladder, [None])) is not None:
            went_on += 1
            history.update(TrialRecord(history.next_number, TrialState.RUNNING,
                                       proposal.params, claim=proposal.claim, rung=0))  # fmt: skip
    assert went_on == 3


def test_a_retry_takes_its_lost_attempts_place_at_the_rung() -> None:
    """Trial 2 went on at rung 1 (best of three) and was lost; its retry reports the same
    value there and must go on too, not rank below its own first attempt."""
    history = History(SPACE, "minimize", 0)
    at_rung(history, 0, 9.0)
    at_rung(history, 1, 4.0)
    lost = at_rung(history, 2, 1.0)
    assert goes_on(history, lost, 1, LADDER)
    history.update(lost.replace(state=TrialState.FAILED, error="worker lost: process 7 gone"))
    retried = Edge(2, Origin.RETRIED.value, detail="worker lost: process 7 gone")
    history.update(TrialRecord(3, TrialState.QUEUED, lost.params, parents=(retried,)))
    retry = at_rung(history, 3, 1.0).replace(parents=(retried,))
    assert [number for _, number in history.reached(1)] == [3, 1, 0]
    assert goes_on(history, retry, 1, LADDER)


def test_maximizing_ranks_the_largest_first() -> None:
    history = History(SPACE, "maximize", 0)
    at_rung(history, 0, 0.9)
    at_rung(history, 1, 0.5)
    assert goes_on(history, at_rung(history, 2, 0.95), 1, LADDER)
    assert not goes_on(history, at_rung(history, 3, 0.7), 1, LADDER)


def test_brackets_do_not_compete() -> None:
    history = History(SPACE, "minimize", 0)
    for number in range(5):
        at_rung(history, number, 0.1, bracket=3)
    at_rung(history, 5, 9.5, bracket=2)
    at_rung(history, 6, 9.9, bracket=2)
    assert goes_on(history, at_rung(history, 7, 9.0, bracket=2), 1, LADDER)  # best of 3


def test_a_trial_without_a_bracket_ranks_with_the_most_aggressive_bracket() -> None:
    """An enqueued configuration (no bracket) is checked from the lowest rung, as the
    most aggressive bracket's trials are, and ranks with them: the best of them goes on,
    and one that stopped early is promoted once enough of them arrived."""
    history = History(SPACE, "minimize", 0, Budget(1, 27))
    enqueued = at_rung(history, 0, 1.0)  # the first arrival stops (n = 1)
    assert group(None, LADDER) == group(3, LADDER) == (None, 3)
    assert not goes_on(history, enqueued, 1, LADDER)
    history.update(enqueued.replace(state=TrialState.PRUNED, value=1.0))
    for number in (1, 2):
        assert not goes_on(history, at_rung(history, number, 5.0 + number, bracket=3), 1, LADDER)
    proposal = promotion(history, LADDER, [*range(4), None])
    assert proposal is not None and proposal.claim == "promote:0" and proposal.bracket is None
    assert goes_on(history, at_rung(history, 3, 0.5), 1, LADDER)  # best of 4, top 1


def test_the_best_stopped_trial_of_a_filled_rung_is_promoted_once() -> None:
    ladder = Ladder(Budget(1, 27), 3)
    history = History(SPACE, "minimize", 0, Budget(1, 27))
    losses = [0.5, 0.2, 0.9, 0.7, 0.8, 0.6]  # ⌊6/3⌋ = 2: trials 1 and 0 are the top
    for number, loss in enumerate(losses):
        state = TrialState.RUNNING if number == 1 else TrialState.PRUNED
        history.update(TrialRecord(number, state, {"x": loss}, checks={1: loss}, rung=0))
    proposal = promotion(history, ladder, [None])
    assert proposal is not None
    assert proposal.params == {"x": 0.5} and proposal.rung == 0
    assert proposal.origin == Origin.PROMOTED.value and proposal.claim == "promote:0"
    assert [(e.parent, e.kind, e.step) for e in proposal.parents] == [(0, "promoted", 1)]
    history.update(TrialRecord(6, TrialState.RUNNING, {"x": 0.5}, claim="promote:0", rung=0))
    assert promotion(history, ladder, [None]) is None  # trial 1 still runs; 0 is taken


def test_higher_rungs_are_promoted_first() -> None:
    ladder = Ladder(Budget(1, 27), 3)
    history = History(SPACE, "minimize", 0, Budget(1, 27))
    for number in range(6):
        checks = {1: float(number), 3: float(number)} if number < 3 else {1: float(number)}
        state = TrialState.PRUNED if number in (0, 1) else TrialState.RUNNING
        history.update(TrialRecord(number, state, {"x": number / 10}, checks=checks,
                                   rung=len(checks) - 1))  # fmt: skip
    proposal = promotion(history, ladder, [None])
    assert proposal is not None and proposal.claim == "promote:0" and proposal.rung == 1


def test_the_best_of_the_first_arrivals_stops_and_is_promoted_once_eta_arrived() -> None:
    """ASHA (Li et al. 2020, Alg. 2): with n < η at a rung nobody is in the top ⌊n/η⌋, so
    even the best first arrival stops; when the η-th arrives, the best is promoted."""
    ladder = Ladder(Budget(1, 27), 3)
    history = History(SPACE, "minimize", 0, Budget(1, 27))
    for number, loss in enumerate([0.2, 0.5]):
        trial = at_rung(history, number, loss)
        assert not goes_on(history, trial, 1, LADDER)
        history.update(TrialRecord(number, TrialState.PRUNED, trial.params, value=loss,
                                   checks=trial.checks, rung=0))  # fmt: skip
        assert promotion(history, ladder, [None]) is None
    third = at_rung(history, 2, 0.9)
    assert not goes_on(history, third, 1, LADDER)
    proposal = promotion(history, ladder, [None])
    assert proposal is not None and proposal.claim == "promote:0"


def promotion_by_scan(history: History, ladder: Ladder, brackets: list[int | None]) -> int | None:
    """The rule of :func:`promotion` read straight off its docstring: scan the top
    ``⌊n/η⌋`` of every rung of every group of brackets, highest rung first, for a trial
    stopped there and not promoted before. The specification the indexed version must
    match."""
    groups = list(dict.fromkeys(group(bracket, ladder) for bracket in brackets))
    for j in range(ladder.top - 1, -1, -1):
        for members in groups:
            if j < ladder.first_rung(members[-1]):
                continue
            ranked = sorted(e for b in members for e in history.reached(ladder.steps[j], b))
            for _, number in ranked[: math.floor(len(ranked) / ladder.eta)]:
                trial = history.trials[number]
                stopped = trial.state is TrialState.PRUNED and trial.rung == j
                if stopped and not history.is_claimed(f"promote:{number}"):
                    return number
    return None


@pytest.mark.parametrize(("seed", "direction"), [(0, "minimize"), (1, "maximize"), (2, "minimize")])
def test_the_indexed_promotion_matches_a_scan_of_every_rung(seed: int, direction: str) -> None:
    """Hyperband on random values, every other trial left running a while: at every ask
    the promotion found through the history's indexes is the one a full scan finds."""
    method, rng = Hyperband(), random.Random(seed)
    ladder = Ladder(Budget(1, 27), 3.0)
    history = History(SPACE, direction, seed, Budget(1, 27))
    running: list[TrialRecord] = []
    promotions = 0
    for number in range(400):
        expected = promotion_by_scan(history, ladder, [*range(ladder.top + 1), None])
        found = promotion(history, ladder, [*range(ladder.top + 1), None])
        assert (found.parents[0].parent if found else None) == expected
        promotions += found is not None
        proposal = method.ask(history)
        trial = record(number, proposal, TrialState.RUNNING, None)
        history.update(trial)
        running.append(trial)
        if rng.random() < 0.5:  # finish one of the running trials, oldest or newest
            done = running.pop(0 if rng.random() < 0.5 else -1)
            history.update(train(method, history, history.trials[done.number], rng.random()))
    assert promotions >= 10  # the comparison covered many promotions, not just "none"


@pytest.mark.parametrize(
    ("eta", "budget", "needed"),
    [
        (3, Budget(1, 27), 40),  # 27 + 9 + 3 + 1
        (3, Budget(1, 100), 121),  # rungs 1, 4, 11, 33, 100: 81 + 27 + 9 + 3 + 1
        (2, Budget(1, 8), 15),  # 8 + 4 + 2 + 1
    ],
)
@pytest.mark.parametrize("method", [Hyperband, BOHB])
@pytest.mark.parametrize("objective", [lambda p: p["x"], lambda p: -p["x"], lambda p: 0.5])
def test_the_first_trial_to_train_fully_comes_after_trials_to_complete(
    method: type[Hyperband], eta: float, budget: Budget, needed: int, objective: Any
) -> None:
    """What the warning and the "no complete trial" error tell a user (Optuna's Hyperband
    with 60 trials trains a few fully; Budget(1, 100) here needs 121): on one process,
    the first complete trial is the ``needed``-th, or up to one per rung earlier when a
    run's last arrival at a rung goes on without a promotion."""
    chosen = method(eta=eta)
    space = Space({"x": Float(0.0, 1.0)})
    history = simulate(chosen, space, needed + 5, budget=budget, objective=objective)
    assert chosen.trials_to_complete(history) == needed
    first = next(t.number for t in history.trials if t.state is TrialState.COMPLETE) + 1
    assert needed - chosen.ladder(history).top <= first <= needed


def test_methods_that_decide_as_trials_arrive_give_no_count() -> None:
    history = History(Space({"x": Float(0.0, 1.0)}), "minimize", 0, Budget(1, 27))
    assert Hyperband(brackets="asynchronous").trials_to_complete(history) is None
    assert SHA().trials_to_complete(history) is None

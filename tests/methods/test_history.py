"""The history the study loop hands to methods: counters and the unfinished trials."""

from __future__ import annotations

import bisect
import dataclasses
import random
from pathlib import Path

import pytest

import hpotrack as hp
from hpotrack.methods.history import History
from hpotrack.methods.random_search import Random
from hpotrack.methods.sorted_views import INSERT_AT_MOST, SortedChanges
from hpotrack.objectives import Objectives
from hpotrack.records import Edge, Origin, TrialRecord, TrialState
from hpotrack.space import Float, Space
from hpotrack.store import close_stores
from tests.test_multifidelity import tuned


def record(number: int, state: TrialState) -> TrialRecord:
    return TrialRecord(number=number, state=state, params={"x": 0.5}, origin="sampled")


def test_unfinished_follows_each_trial_from_queue_to_end() -> None:
    history = History(Space({"x": Float(0.0, 1.0)}), "minimize", 0)
    for number, state in enumerate([TrialState.QUEUED, TrialState.RUNNING, TrialState.QUEUED]):
        history.update(record(number, state))
    assert history.unfinished(TrialState.QUEUED) == [0, 2]
    assert history.unfinished(TrialState.RUNNING) == [1]
    history.update(dataclasses.replace(history.trials[2], state=TrialState.RUNNING))
    history.update(dataclasses.replace(history.trials[1], state=TrialState.COMPLETE, value=1.0))
    assert history.unfinished(TrialState.QUEUED) == [0]
    assert history.unfinished(TrialState.RUNNING) == [2]
    history.update(dataclasses.replace(history.trials[2], state=TrialState.FAILED))
    history.update(dataclasses.replace(history.trials[0], state=TrialState.RUNNING))
    assert history.unfinished(TrialState.QUEUED) == []
    assert history.unfinished(TrialState.RUNNING) == [0]
    assert history.count(TrialState.RUNNING) == 1 and history.count(TrialState.FAILED) == 1


def test_stopped_lists_pruned_trials_at_their_last_check_until_a_promotion_claims_them() -> None:
    history = History(Space({"x": Float(0.0, 1.0)}), "minimize", 0)
    checks = [{1: 0.5}, {1: 0.2, 3: 0.4}, {1: 0.3}, {1: 0.1}]
    states = [TrialState.PRUNED, TrialState.PRUNED, TrialState.PRUNED, TrialState.RUNNING]
    for number, (state, checked) in enumerate(zip(states, checks, strict=True)):
        history.update(TrialRecord(number, state, {"x": 0.5}, checks=checked, bracket=2))
    assert history.stopped(1, bracket=2) == [(0.3, 2), (0.5, 0)]  # running 3 is not stopped
    assert history.stopped(3, bracket=2) == [(0.4, 1)]  # trial 1 stopped at step 3
    assert history.stopped(1) == []  # another bracket
    history.update(TrialRecord(4, TrialState.RUNNING, {"x": 0.5}, claim="promote:2", bracket=2))
    assert history.stopped(1, bracket=2) == [(0.5, 0)]
    history.update(dataclasses.replace(history.trials[2], note="stored again"))
    assert history.stopped(1, bracket=2) == [(0.5, 0)]  # still promoted
    history.update(dataclasses.replace(history.trials[3], state=TrialState.PRUNED))
    assert history.stopped(1, bracket=2) == [(0.1, 3), (0.5, 0)]


def test_a_trial_a_pruner_stopped_is_no_rungs_to_promote(tmp_path: Path) -> None:
    """The study ran ``random`` with the median pruner, then ``sha``: the trials the
    pruner stopped are observations at its rungs, not stopped ones (sha promoted trial
    26, stopped by the median at step 1)."""
    db = tmp_path / "h.db"
    tuned(db, Random(pruner="median"), []).optimize(n_trials=30)
    study = tuned(db, "sha", []).optimize(n_trials=45)
    assert any(t.state is TrialState.PRUNED for t in study.trials[:30])
    promoted = [t for t in study.trials if t.origin == Origin.PROMOTED.value]
    assert all(t.parents[0].parent >= 30 for t in promoted)
    history = study.refresh()
    assert all(number >= 30 for step in (1, 3, 9) for _, number in history.stopped(step))


def test_first_with_finds_the_lowest_trial_with_given_values_as_trials_arrive() -> None:
    """Indexed per set of names and extended with new trials only (enqueue's
    skip_if_exists compared against every trial at each call: 28 ms at 3,000 trials)."""
    history = History(Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)}), "minimize", 0)
    points = [{"x": 0.5, "y": 0.1}, {"x": 0.5, "y": 0.2}, {"x": 0.25, "y": 0.2}]
    for number, params in enumerate(points[:2]):
        history.update(TrialRecord(number, TrialState.COMPLETE, params))
    assert history.first_with({"x": 0.5}) == 0
    assert history.first_with({"y": 0.2}) == 1
    assert history.first_with({"x": 0.25}) is None
    assert history.first_with({"x": 0.5, "y": 0.2}) == 1
    assert history.first_with({"x": 0.1 + 0.15}) is None  # 0.25 is not there yet
    history.update(TrialRecord(2, TrialState.QUEUED, points[2]))
    assert history.first_with({"x": 0.1 + 0.15}) == 2  # equal to 12 digits, found once added
    assert history.has_configuration(points[2]) and not history.has_configuration(
        {"x": 0.25, "y": 0.1}
    )


def test_the_best_of_equal_values_is_the_earliest_trial_in_any_order_of_finishing() -> None:
    """A process that saw trial 3 finish before trial 1 with the same value names trial
    1 the best, as a study loaded afresh does (``hpotrack best``, ``load_study``)."""
    history = History(Space({"x": Float(0.0, 1.0)}), "maximize", 0)
    for number in range(4):
        history.update(record(number, TrialState.RUNNING))
    finished = [(3, 0.5), (2, 0.25), (1, 0.5), (0, 0.5)]
    bests = []
    for number, value in finished[:3]:
        history.update(dataclasses.replace(record(number, TrialState.COMPLETE), value=value))
        bests.append(history.best.number if history.best else None)
    assert bests == [3, 3, 1]
    history.update(dataclasses.replace(record(0, TrialState.PRUNED), value=0.9))
    assert history.best is not None and history.best.number == 1  # pruned: never the best


def test_complete_since_best_counts_the_complete_trials_numbered_after_the_best() -> None:
    """What ``optimize(patience=...)`` compares: trials that ran to their end after the
    best one; a tie does not improve on it, and pruned, failed or running trials are
    not counted."""
    history = History(Space({"x": Float(0.0, 1.0)}), "minimize", 0)
    assert history.complete_since_best() == 0  # no best yet
    ended = [
        (TrialState.COMPLETE, 3.0),
        (TrialState.COMPLETE, 1.0),
        (TrialState.PRUNED, 0.5),
        (TrialState.FAILED, None),
        (TrialState.COMPLETE, 1.0),
        (TrialState.RUNNING, None),
        (TrialState.COMPLETE, 2.0),
    ]
    for number, (state, value) in enumerate(ended):
        history.update(dataclasses.replace(record(number, state), value=value))
    assert history.best is not None and history.best.number == 1
    assert history.complete_since_best() == 2  # trials 4 (a tie) and 6
    history.update(dataclasses.replace(record(5, TrialState.COMPLETE), value=0.25))
    assert history.complete_since_best() == 1  # trial 6, started after the new best 5


def test_a_point_already_on_the_front_does_not_change_it_for_patience() -> None:
    """Several objectives: a trial with the values of a member joins the front (nothing
    beats it) but changes nothing, as a tie does not improve on one best value; the front
    last changed with the earliest trial of each point, in any order of finishing."""
    history = History(Space({"x": Float(0.0, 1.0)}), "minimize", 0, None,
                      Objectives(("a", "b"), ("minimize", "minimize")))  # fmt: skip
    points = [(1.0, 2.0), (2.0, 1.0), (1.0, 2.0), (3.0, 3.0), (2.0, 1.0), (1.0, 2.0)]
    for number in range(len(points)):
        history.update(record(number, TrialState.RUNNING))
    for number in (2, 0, 1, 3, 5, 4):
        a, b = points[number]
        history.update(dataclasses.replace(record(number, TrialState.COMPLETE), value=a,
                                           metrics={"a": a, "b": b}))  # fmt: skip
    assert history.front() == [0, 1, 2, 4, 5]  # the same points twice, nothing beats them
    assert history.front_changed_at() == 1
    assert history.complete_since_best() == 4  # trials 2 to 5: none moved the front


def test_pruned_trials_rank_after_every_complete_one_at_a_loss_no_better_than_theirs() -> None:
    """A pruned trial's value is a report partway through training, which may beat every
    final one (a loss that worsens with training): ranked by it, it was the best."""
    history = History(Space({"x": Float(0.0, 1.0)}), "maximize", 0)
    outcomes = [
        (TrialState.COMPLETE, 0.5),
        (TrialState.PRUNED, 0.9),  # an accuracy after one epoch
        (TrialState.COMPLETE, 0.7),
        (TrialState.PRUNED, 0.1),
    ]
    for number, (state, value) in enumerate(outcomes):
        history.update(record(number, state).replace(value=value))
    assert list(history.ranked()) == [(-0.7, 2), (-0.5, 0), (-0.9, 1), (-0.1, 3)]
    assert list(history.ranked()[1:3]) == [(-0.5, 0), (-0.9, 1)]
    assert history.ranked()[-1] == (-0.1, 3) and len(history.ranked()) == 4
    losses = [history.observed_loss(t) for t in history.trials]
    assert losses == [-0.5, -0.5, -0.7, -0.1]  # pruned: at least the worst complete one
    assert sorted(history.trials, key=history.rank_key)[0].number == 2
    history.update(history.trials[1].replace(state=TrialState.COMPLETE))  # ran to its end
    assert history.ranked()[0] == (-0.9, 1) and history.observed_loss(history.trials[1]) == -0.9


def test_is_pending_names_the_values_of_queued_and_running_trials_only() -> None:
    history = History(Space({"x": Float(0.0, 1.0)}), "minimize", 0)
    states = [TrialState.COMPLETE, TrialState.RUNNING, TrialState.QUEUED, TrialState.FAILED]
    for number, state in enumerate(states):
        history.update(TrialRecord(number, state, {"x": number / 10}))
    pending = [history.is_pending({"x": n / 10}) for n in range(5)]
    assert pending == [False, True, True, False, False]
    assert history.is_pending({"x": 0.05 + 0.05})  # equal to 12 digits
    history.update(dataclasses.replace(history.trials[1], state=TrialState.COMPLETE, value=1.0))
    assert not history.is_pending({"x": 0.1})


def test_a_trial_a_retry_replaced_is_neither_valued_nor_valueless_in_any_order() -> None:
    """Its retry's outcome stands for it: a model that took an interrupted trial as a
    failure put the worst loss where its retry found the best one."""
    interrupted = {"state": TrialState.FAILED, "error": "interrupted (KeyboardInterrupt)"}
    retry = TrialRecord(2, TrialState.QUEUED, {"x": 0.5}, parents=(Edge(1, "retried"),))
    for retry_first in (False, True):
        history = History(Space({"x": Float(0.0, 1.0)}), "minimize", 0)
        history.update(TrialRecord(0, TrialState.FAILED, {"x": 0.1}, error="ValueError"))
        history.update(TrialRecord(1, TrialState.RUNNING, {"x": 0.5}))
        if retry_first:  # read before the failure it replaces
            history.update(retry)
            history.update(dataclasses.replace(history.trials[1], **interrupted))
        else:
            history.update(dataclasses.replace(history.trials[1], **interrupted))
            history.update(retry)
        history.update(dataclasses.replace(retry, state=TrialState.COMPLETE, value=0.25))
        assert list(history.valueless()) == [0] and list(history.valued()) == [2]
        assert list(history.ranked()) == [(0.25, 2)]


def events(count: int, seed: int) -> list[TrialRecord]:
    """Trials as a study's reads see them change: started, checked at rungs while
    running, then complete, pruned, failed or lost and retried, some with equal values."""
    draw = random.Random(seed)
    changes: list[TrialRecord] = []
    latest: dict[int, TrialRecord] = {}
    for number in range(count):
        parents = ()
        lost = [n for n, t in latest.items() if t.error == "worker lost"]
        if lost and draw.random() < 0.5:
            parents = (Edge(lost[0], Origin.RETRIED.value),)
            latest[lost[0]] = dataclasses.replace(latest[lost[0]], error="worker lost, retried")
        bracket = draw.choice([None, 0, 1])
        started = TrialRecord(number, TrialState.RUNNING, {"x": 0.5}, parents=parents,
                              bracket=bracket, checks={1: round(draw.random(), 1)})  # fmt: skip
        changes.append(started)
        value = round(draw.random(), 1)
        ended = draw.choice([TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED])
        checks = {**started.checks, 3: value} if ended is TrialState.PRUNED else started.checks
        error = "worker lost" if ended is TrialState.FAILED and draw.random() < 0.5 else None
        latest[number] = dataclasses.replace(
            started, state=ended, value=None if error else value, checks=checks, error=error
        )
        if draw.random() < 0.7:  # else still running when read
            changes.append(latest[number])
    return changes


def indexes(history: History) -> list[object]:
    """Every sorted index of ``history``, read through what methods call."""
    keys = sorted({(t.bracket or -1, step) for t in history.trials for step in t.checks})
    return [
        list(history.ranked()),
        list(history.valued()),
        list(history.valueless()),
        [list(history.reached(step, None if b < 0 else b)) for b, step in keys],
        [list(history.stopped(step, None if b < 0 else b)) for b, step in keys],
        [list(history.complete_at(step)) for _, step in keys],
        history.complete_since_best(),
    ]


@pytest.mark.parametrize("count", [5, 300])  # a batch smaller and larger than INSERT_AT_MOST
def test_a_batch_of_updates_gives_the_indexes_that_one_at_a_time_does(count: int) -> None:
    """Inside a batch, new entries wait and are sorted in at the end, and entries of a
    trial replaced in the same batch (checked while running, then pruned; lost, then
    retried) leave them: the indexes end as updates one at a time leave them."""
    space = Space({"x": Float(0.0, 1.0)})
    for seed in range(3):
        changes = events(count, seed)
        one_by_one, batched = History(space, "minimize", 0), History(space, "minimize", 0)
        for change in changes:
            one_by_one.update(change)
        half = len(changes) // 2
        for change in changes[:half]:  # a batch on top of what a history already has
            batched.update(change)
        with batched.batch():
            for change in changes[half:]:
                batched.update(change)
        assert indexes(batched) == indexes(one_by_one)
        assert batched.best == one_by_one.best
        best = batched.best
        after = [t for t in batched.trials if best is not None and t.number > best.number]
        complete = [t for t in after if t.state is TrialState.COMPLETE]
        assert batched.complete_since_best() == len(complete)


def test_a_studys_first_read_sorts_its_ranking_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading a study inserted every trial into the ranked values one at a time, each
    insertion moving those ranked after it: O(n²), a second of 100,000 trials' five.
    Now the first read sorts the new entries in at once (``History.batch``)."""
    db = tmp_path / "h.db"
    count = 3 * INSERT_AT_MOST
    tuned(db, "random", []).optimize(n_trials=count)
    close_stores()
    insertions: list[object] = []

    def insort(items: list[object], item: object) -> None:
        insertions.append(item)
        bisect.insort_right(items, item)

    monkeypatch.setattr(bisect, "insort", insort)
    study = hp.load_study("mf", db=db)
    assert len(study.trials) == count and len(study.refresh().ranked()) == count
    assert insertions == []


def test_a_check_moves_only_the_steps_whose_value_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pruner checks a running trial at each report, and each check replaces the
    trial's record with one more step: re-indexing all its checks made the n-th check
    cost n (14 of 20 s of a trial of 3,000 reports). Only the new step moves now."""
    history = History(Space({"x": Float(0.0, 1.0)}), "minimize", 0)
    checks = {step: 1 / step for step in range(1, 201)}
    running = TrialRecord(0, TrialState.RUNNING, {"x": 0.5}, checks=checks)
    history.update(running)
    changes: list[object] = []
    original = SortedChanges.change

    def counted(self: SortedChanges, items: list[object], item: object, add: bool) -> None:
        changes.append((item, add))
        original(self, items, item, add)

    monkeypatch.setattr(SortedChanges, "change", counted)
    history.update(dataclasses.replace(running, checks={**checks, 201: 0.001}))
    assert changes == [((0.001, 0), True)]


def test_checks_moved_step_by_step_index_as_a_fresh_read_does() -> None:
    """Running trials checked step by step (a step reported twice changes its value),
    then ended in some state, sometimes in another bracket: the indexes end as a
    history that read only the final records has them."""
    space = Space({"x": Float(0.0, 1.0)})
    for seed in range(5):
        draw = random.Random(seed)
        moved = History(space, "minimize", 0)
        final: list[TrialRecord] = []
        for number in range(20):
            bracket = draw.choice([None, 0, 1])
            trial = TrialRecord(number, TrialState.RUNNING, {"x": 0.5}, bracket=bracket)
            moved.update(trial)
            for _ in range(draw.randrange(1, 12)):
                step = draw.randrange(1, 8)  # may repeat: a new value at that step
                checks = {**trial.checks, step: round(draw.random(), 1)}
                trial = dataclasses.replace(trial, checks=checks)
                moved.update(trial, (step,) if draw.random() < 0.5 else None)  # told, or found
                assert moved.best_check(trial) == min(checks.values())
            state = draw.choice([TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING])
            if draw.random() < 0.2:
                trial = dataclasses.replace(trial, bracket=draw.choice([None, 0, 1]))
            trial = dataclasses.replace(trial, state=state, value=round(draw.random(), 1))
            moved.update(trial)
            final.append(trial)
        fresh = History(space, "minimize", 0)
        for trial in final:
            fresh.update(trial)
        assert indexes(moved) == indexes(fresh)


def test_best_check_follows_checks_as_they_arrive_without_passing_over_them() -> None:
    """The median rule compares a trial's best check with the others' at every check:
    a pass over all of its checks made the n-th check cost n. The best is kept as checks
    arrive (in the direction's sense), found again after a step's value changes, and a
    record the history does not hold is answered from its own checks."""
    history = History(Space({"x": Float(0.0, 1.0)}), "maximize", 0)
    trial = TrialRecord(0, TrialState.RUNNING, {"x": 0.5})
    history.update(trial)
    assert history.best_check(trial) is None
    for step, value, best in [(1, 0.2, -0.2), (2, 0.5, -0.5), (3, 0.4, -0.5)]:
        trial = dataclasses.replace(trial, checks={**trial.checks, step: value})
        history.update(trial, (step,))
        assert history.best_check(trial) == best  # a loss: the highest accuracy, negated
    trial = dataclasses.replace(trial, checks={**trial.checks, 2: 0.1})  # step 2 again
    history.update(trial, (2,))
    assert history.best_check(trial) == -0.4
    elsewhere = dataclasses.replace(trial, checks={1: 0.9})
    assert history.best_check(elsewhere) == -0.9 and history.best_check(trial) == -0.4


def test_keyed_draws_repeat_per_key_and_stay_apart_from_other_keys_and_numbers() -> None:
    """``keyed_rng`` (PBT's member and segment) repeats for a key in a new history, and a
    key with a trailing 0 draws apart from the shorter one (NumPy's seeding reads
    trailing zeros as absent), as does a trial number's :meth:`History.rng`."""
    space = Space.from_user({"x": Float(0.0, 1.0)})
    first, again = History(space, "minimize", 7), History(space, "minimize", 7)

    def draws(generator: object) -> list[float]:
        return list(generator.random(4))  # type: ignore[attr-defined]

    assert draws(first.keyed_rng((1, 2, 0), 1)) == draws(again.keyed_rng((1, 2, 0), 1))
    seen = [
        draws(first.keyed_rng((1,))),
        draws(first.keyed_rng((1, 0))),
        draws(first.keyed_rng((1, 0, 0))),
        draws(first.keyed_rng((1,), 1)),
        draws(first.rng(1)),
        draws(first.rng(1, 1)),
        draws(History(space, "minimize", 8).keyed_rng((1,))),
    ]
    assert len({tuple(d) for d in seen}) == len(seen)

"""The history the study loop hands to methods: counters and the unfinished trials."""

from __future__ import annotations

import dataclasses

from hpotrack.methods.base import History
from hpotrack.records import TrialRecord, TrialState
from hpotrack.space import Float, Space


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

"""Ending the trials of workers that died (DESIGN §4): each is stored as failed with
the reason, ending when it was last seen alive (its error says how long after that the
loss was found) and having trained what its reports show, and retried while the study
allows (:mod:`hpotrack.retries`); one that died after its last check stopped it is
stored as pruned there instead, as it would have been.

Whether a worker is gone is :func:`hpotrack.recovery.lost_reason`; the study runs
:func:`fail` inside the write transaction of an ask, every
:data:`hpotrack.study.RECOVERY_EVERY_S` seconds (:meth:`hpotrack.study.Study.recover_lost`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from hpotrack import checkpoints, retries
from hpotrack.methods.base import Method
from hpotrack.methods.history import History
from hpotrack.records import TrialRecord, TrialState, worst_value
from hpotrack.recovery import lost_reason
from hpotrack.store import RunningTrial, Store, StudyRow

log = logging.getLogger("hpotrack")


def find(store: Store, study_id: int, numbers: Sequence[int]) -> list[tuple[RunningTrial, str]]:
    """Of the trials ``numbers``, the running ones whose worker is gone, with why."""
    now = time.time()
    running = store.running(study_id, numbers)
    return [(r, reason) for r in running if (reason := lost_reason(r, now))]


def fail(store: Store, study: StudyRow, history: History, method: Method) -> int:
    """Fail the running trials of ``history`` whose worker is gone ("worker lost") and
    queue a retry of each while the study's ``retries`` allow (those their last check
    stopped: :func:`hpotrack.retries.stopped_by_its_check`, are pruned there); returns
    how many were lost.

    Call inside a write transaction with a fresh ``history``; what is written here is not
    applied to it: the caller makes its next read look.
    """
    lost = find(store, study.id, history.unfinished(TrialState.RUNNING))
    found = time.time()
    batch = retries.Batch(method, history, store, study)
    for running, reason in lost:
        record = history.trials[running.number]
        stopped = retries.stopped_by_its_check(
            record, running.id, method=method, history=history, store=store, study=study
        )
        checked = record.checks[max(record.checks)] if stopped else None
        seen = _last_seen(running.heartbeat, record.started, store.last_report_time(running.id))
        store.finish_trial(
            study.id,
            running.id,
            state=TrialState.PRUNED if stopped else TrialState.FAILED,
            # a check of a diverged report holds the worst value: no value, as pruned has
            value=None if checked == worst_value(study.direction) else checked,
            metrics={},
            error=None if stopped else reason + _found_after(seen, found),
            when=seen,
            trained=_steps_trained(store, study, history, running.id, record),
        )
        if stopped:
            log.warning(
                "trial %d of study %r: %s after its check at step %d stopped it: stored as "
                "pruned there",
                running.number,
                study.name,
                reason,
                max(record.checks),
            )
            continue
        batch.add(record, running.id, reason)
        log.warning("trial %d of study %r: %s", running.number, study.name, reason)
    return len(lost)


def _steps_trained(
    store: Store, study: StudyRow, history: History, trial_id: int, record: TrialRecord
) -> int | None:
    """The budget steps a lost trial trained, from the reports it stored (as
    :meth:`Trial.steps_trained` counts them, taking the checkpoint it would have started
    from as loaded): its worker cannot say, and ``max_budget`` must count them."""
    if history.budget is None or not history.budget.whole:
        return None
    reported = store.steps_reported(trial_id, study.objective)
    if reported is None:
        return 0
    first, last = reported
    edge = checkpoints.source_edge(record)
    after = edge.step if edge is not None and edge.step is not None else 0
    return max(0, last - (0 if first <= after else after))


def _last_seen(*times: float | None) -> float | None:
    """When a lost trial was last seen alive (its heartbeat, start or latest stored
    report; None: unknown, so now), which is when it ended: not when a later run
    noticed, or a study resumed the next day would show a day-long trial."""
    return max((t for t in times if t is not None), default=None)


def _found_after(seen: float | None, found: float) -> str:
    """The end of a lost trial's error that says when the loss was found: its
    ``finished`` time is when it was last seen alive, which reads as when it ended but
    does not say that nobody knew until later (a study resumed the next day)."""
    if seen is None:  # finished when found
        return ""
    after = max(0.0, found - seen)
    return f"; found lost {after:.0f} s after it was last seen alive (its finished time)"

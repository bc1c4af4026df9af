"""A worker's claims on a study's trials: who claims (:class:`Worker`), what it claimed
(:class:`Claimed`), how the trial ended (:class:`Outcome`), and the trial row each step
of a claim writes, with the record the trial has after it.

:meth:`hpotrack.study.Study.claim` hands out claims and takes outcomes; the run loop
(:mod:`hpotrack.runner`) runs each one between the two. The study calls the writes here
inside its write transactions and applies the records they return to its cache
(:mod:`hpotrack.cache`): it decides when and under which lock, this module what is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hpotrack.budget import Budget
from hpotrack.methods.base import Proposal
from hpotrack.records import Origin, TrialRecord, TrialState
from hpotrack.space import Value
from hpotrack.store import Store
from hpotrack.text import utf8_text
from hpotrack.trial import MetricRow
from hpotrack.trial_writes import Stamp


@dataclass(frozen=True)
class Worker:
    """The process running trials: where its trials say they ran (``runs`` row id)."""

    run_id: int | None
    host: str
    pid: int


@dataclass(frozen=True)
class Outcome:
    """How a trial ended, as it is stored, with the reports not yet written."""

    state: TrialState
    value: float | None
    metrics: Mapping[str, Any]
    error: str | None = None
    reports: tuple[MetricRow, ...] = ()
    trained: int | None = None  # budget steps trained (see Trial.steps_trained)
    retry: bool = False  # stopped from outside (Ctrl-C): queue a retry, as for a lost trial
    # what the function raised (not stored): a direct call raises it again
    raised: Exception | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        """The error as SQLite can store it: a traceback through a script in a folder
        whose name is not UTF-8 (``caf\\udce9``) failed the insert, and the run."""
        if self.error is not None:
            object.__setattr__(self, "error", utf8_text(self.error))


@dataclass(frozen=True)
class Claimed:
    """A trial this process has just claimed and must now run and tell."""

    trial_id: int
    number: int
    params: dict[str, Value]
    budget: float | None


def finished(record: TrialRecord, outcome: Outcome, when: float | None = None) -> TrialRecord:
    """``record`` with ``outcome`` applied, as it is stored."""
    return record.replace(
        state=outcome.state,
        value=outcome.value,
        metrics=dict(outcome.metrics),
        error=outcome.error,
        finished=when,
        trained=outcome.trained,
    )


def start_queued(
    store: Store,
    study_id: int,
    trial_id: int,
    queued: TrialRecord,
    worker: Worker,
    budget: float | None,
) -> tuple[TrialRecord, Stamp]:
    """Store queued trial ``queued`` (row ``trial_id``) as claimed by ``worker``, training
    to ``budget``; its record now, and the stamp of the write. Inside a write transaction."""
    stamp = store.start_queued(
        study_id,
        trial_id,
        run_id=worker.run_id,
        host=worker.host,
        pid=worker.pid,
        budget=budget,
    )
    running = queued.replace(
        state=TrialState.RUNNING,
        started=stamp.time,
        host=worker.host,
        pid=worker.pid,
        budget=budget,
    )
    return running, stamp


def trained_to(proposed: float | None, budget: Budget | None) -> float | None:
    """The budget a trial trains to: the method's (``proposed``), else the study
    ``budget``'s largest (an enqueued, manual or single-fidelity trial trains fully)."""
    if proposed is None and budget is not None:
        return float(budget.max)
    return proposed


def proposed_record(
    number: int,
    proposal: Proposal,
    asked: str | None,
    budget: float | None,
    *,
    state: TrialState = TrialState.RUNNING,
    worker: Worker | None = None,
) -> TrialRecord:
    """Trial ``number`` as ``proposal`` is stored, training to ``budget``, not yet
    started (no time): the proposal's values, lineage, rung, note and the method that
    made it, and ``asked`` (the study's method) as the one that chose that method when
    the two differ (``auto``). The study stores a :func:`~hpotrack.methods.base.checked`
    proposal, which names its method; the in-memory driver
    (:mod:`hpotrack.testing.driver`) builds its records here too, so that methods see
    in tests what they see in real runs."""
    chosen_by = None if proposal.method in (None, asked) else asked
    return TrialRecord(
        number=number,
        state=state,
        params=proposal.params,
        budget=budget,
        origin=proposal.origin,
        parents=proposal.parents,
        claim=proposal.claim,
        host=None if worker is None else worker.host,
        pid=None if worker is None else worker.pid,
        rung=proposal.rung,
        bracket=proposal.bracket,
        note=proposal.note,
        method=proposal.method,
        chosen_by=chosen_by,
    )


def insert_proposed(
    store: Store,
    study_id: int,
    number: int,
    proposal: Proposal,
    worker: Worker,
    budget: float | None,
    asked: str,
) -> tuple[TrialRecord, Stamp]:
    """Store ``proposal`` (:func:`~hpotrack.methods.base.checked`: it names its method)
    as trial ``number``, running for ``worker`` and training to ``budget``; its record,
    and the stamp of the write. ``asked``: the name of the study's method, stored as the
    one that chose the proposing method when the two differ (``auto``). Inside a write
    transaction."""
    record = proposed_record(number, proposal, asked, budget, worker=worker)
    stamp = store.insert_trial(
        study_id,
        number=number,
        state=record.state,
        params=record.params,
        origin=record.origin,
        budget=record.budget,
        claim=record.claim,
        parents=record.parents,
        run_id=worker.run_id,
        host=worker.host,
        pid=worker.pid,
        rung=record.rung,
        bracket=record.bracket,
        note=record.note,
        method=record.method,
        chosen_by=record.chosen_by,
    )
    return record.replace(started=stamp.time), stamp


def insert_manual(
    store: Store,
    study_id: int,
    number: int,
    params: dict[str, Value],
    worker: Worker,
    budget: float | None,
) -> Claimed:
    """Store trial ``number``, running for ``worker`` with user-given ``params`` (a
    direct call of the tuned function) and training to ``budget``. Inside a write
    transaction; the study's next read finds it (it is not applied to the cache)."""
    stamp = store.insert_trial(
        study_id,
        number=number,
        state=TrialState.RUNNING,
        params=params,
        origin=Origin.MANUAL.value,
        budget=budget,
        run_id=worker.run_id,
        host=worker.host,
        pid=worker.pid,
    )
    return Claimed(stamp.id, number, params, budget)


def release(
    store: Store, study_id: int, claimed: Claimed, running: TrialRecord
) -> tuple[TrialRecord, Stamp]:
    """Give back ``claimed`` (its record ``running``), not run: queued again, for
    whoever asks next; its record now, and the stamp of the write. Inside a write
    transaction."""
    stamp = store.release_trial(study_id, claimed.trial_id)
    queued = running.replace(state=TrialState.QUEUED, started=None, host=None, pid=None)
    return queued, stamp


def store_outcome(
    store: Store, study_id: int, claimed: Claimed, outcome: Outcome, ended: TrialRecord
) -> Stamp | None:
    """Store ``outcome`` of ``claimed`` with its unwritten reports; ``ended`` is the
    trial's record with it (:func:`finished`). None, and nothing written, when the
    trial is no longer running (another process marked it lost meanwhile). Inside a
    write transaction."""
    stamp = store.finish_trial(
        study_id,
        claimed.trial_id,
        state=outcome.state,
        value=outcome.value,
        metrics=outcome.metrics,
        error=outcome.error,
        when=ended.finished,
        trained=outcome.trained,
    )
    if stamp is not None and outcome.reports:
        store.add_metrics(claimed.trial_id, outcome.reports)
    return stamp

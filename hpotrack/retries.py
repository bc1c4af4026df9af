"""When a lost or interrupted trial runs again, and from where (DESIGN §4: a trial whose
worker died is "retried when the study allows retries, with a ``retried`` lineage edge").

**Whether.** An interrupted trial (Ctrl-C, SIGTERM: not the configuration's fault) is
always queued again; a lost one (kill -9, a dead node) while the study's ``retries``
allow, counted along the chain of retries; a manual call (the user's own run) never, and
neither are trials of a method that runs its own again (PBT).

**From where.** Like Ray Tune's restore from the latest checkpoint: if the trial saved
checkpoints of its own, its retry resumes the latest one below its budget (and, once it
stored reports, at or before the last: no step goes missing from its curve), with the
checks the trial passed up to that step carried over (the rung rankings keep one entry
per configuration), and its ``retried`` edge names the step. Not past a check the trial
had not made yet (the first report after resuming would stand in for it, ranked with a
later step's value); not at its last check when that check may have stopped it (see
:meth:`_Lost.may_have_stopped`). A retry lost again before it saved resumes where it did.
Everything here reads the stored history and checkpoint rows, but :meth:`Batch.add`,
which inserts the retry in the transaction that stores the failure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hpotrack import checkpoints
from hpotrack.methods.base import Method
from hpotrack.methods.history import History
from hpotrack.records import Edge, Origin, TrialRecord, TrialState
from hpotrack.store import Store, StudyRow


@dataclass(frozen=True)
class Retry:
    """The queued retry of a trial: the rung it starts past, the checks it carries over
    and its parents (the lost trial's, and a ``retried`` edge to it)."""

    rung: int | None
    checks: dict[int, float]
    parents: tuple[Edge, ...]


def retry_of(
    record: TrialRecord,
    trial_id: int,
    reason: str,
    *,
    method: Method,
    history: History,
    store: Store,
    study: StudyRow,
) -> Retry | None:
    """The retry of ``record`` (stored as ``trial_id``), which failed for ``reason``;
    None when it gets none. Call inside the write transaction that stores the failure."""
    if not method.retries_lost or record.origin == Origin.MANUAL.value:
        return None
    if not is_interruption(reason) and _losses(history, record, reason) > study.retries:
        return None
    resume = _Lost(record, trial_id, method, history, store, study).resume_step()
    passed = {s: v for s, v in record.checks.items() if resume is not None and s <= resume}
    rung = method.rung(record, max(passed), history) if passed else _start_rung(history, record)
    return Retry(
        rung=rung,
        checks=passed,
        parents=(
            *(e for e in record.parents if e.kind != Origin.RETRIED.value),
            Edge(record.number, Origin.RETRIED.value, step=resume, detail=reason),
        ),
    )


@dataclass
class Batch:
    """The retries one write transaction queues (:meth:`add`), numbered after
    ``history``'s trials in the order they are queued: nothing here applies them to
    ``history``, so the batch counts them (:attr:`queued`); the caller makes the next
    read look for them."""

    method: Method
    history: History
    store: Store
    study: StudyRow
    queued: int = 0

    def add(self, record: TrialRecord, trial_id: int, reason: str) -> None:
        """Queue the retry of ``record`` (stored as ``trial_id``, failed for ``reason``)
        as the next trial number, if it gets one (:func:`retry_of`)."""
        retry = retry_of(
            record,
            trial_id,
            reason,
            method=self.method,
            history=self.history,
            store=self.store,
            study=self.study,
        )
        if retry is None:
            return
        self.store.insert_trial(
            self.study.id,
            number=self.history.next_number + self.queued,
            state=TrialState.QUEUED,
            params=record.params,
            budget=record.budget,
            bracket=record.bracket,
            rung=retry.rung,
            checks=retry.checks,
            origin=Origin.RETRIED.value,
            parents=retry.parents,
        )
        self.queued += 1


def stopped_by_its_check(
    record: TrialRecord,
    trial_id: int,
    *,
    method: Method,
    history: History,
    store: Store,
    study: StudyRow,
) -> bool:
    """Whether a lost trial was stopped by its last check: it died between the method's
    decision and storing it (:meth:`_Lost.may_have_stopped`), and the method decides the
    same whenever asked (:meth:`Method.decides_once`), so asking again tells what it
    decided. It is then pruned there, not run again: a retry would train to that check
    again and be ranked anew, with another value where training is not deterministic,
    after the decision had been acted on (a synchronous rung already promoted its best:
    one more would go on). Where later trials change the answer (ASHA, the pruners), the
    retry is checked there again instead (:meth:`_Lost.resume_step`)."""
    return (
        bool(record.checks)
        and method.decides_once(record)
        and _Lost(record, trial_id, method, history, store, study).may_have_stopped()
    )


def is_interruption(reason: str | None) -> bool:
    """Whether a failure's reason says the trial was stopped from outside (Ctrl-C,
    SIGTERM): the runner's reasons for those start with "interrupted"."""
    return (reason or "").startswith("interrupted")


@dataclass(frozen=True)
class _Lost:
    """A lost or interrupted trial (``record``, stored as ``trial_id``) and what finding
    where its retry resumes reads."""

    record: TrialRecord
    trial_id: int
    method: Method
    history: History
    store: Store
    study: StudyRow

    def resume_step(self) -> int | None:
        """Where the retry resumes the trial's line: its own latest checkpoint below its
        budget, before the next check it had not made and, if it stored reports of the
        objective, at or before the last of them (a trial that saves, then reports, and
        is lost in between, would leave that step out of its curve); not at its last
        check if that may have stopped it; else, if the trial was itself a retry resuming
        a lost attempt, that step. None: the retry starts where the trial did (from scratch, or
        from the checkpoint it started from)."""
        record = self.record
        source = checkpoints.source_edge(record)
        started = 0 if source is None or source.step is None else source.step
        checked = max(record.checks, default=None)
        limit = None if record.budget is None else math.ceil(record.budget) - 1
        due = self.method.next_check(record, (checked or 0) + 1, self.history)
        if due is not None:
            limit = due - 1 if limit is None else min(limit, due - 1)
        reported = self.store.steps_reported(self.trial_id, self.study.objective)
        if reported is not None:  # saved, then lost before its report was: no hole
            limit = reported[1] if limit is None else min(limit, reported[1])
        own = checkpoints.find(self.store, self.study.id, record.number, limit)
        if own is not None and own.step == checked and self.may_have_stopped():
            own = checkpoints.find(self.store, self.study.id, record.number, own.step - 1)
        if own is not None and own.step >= started:
            return own.step
        if source is not None and source.kind == Origin.RETRIED.value:
            return source.step
        return None

    def may_have_stopped(self) -> bool:
        """Whether the trial, lost with no report stored after its last check, may have
        been stopped there (it died between the decision and storing it): the method,
        asked again now, stops it. A stored report after the check shows it went on: that
        decision is not taken again with a fuller rung."""
        checked = max(self.record.checks)
        reported = self.store.steps_reported(self.trial_id, self.study.objective)
        if (reported is not None and reported[1] > checked) or self.record.checks[checked] is None:
            return False
        return self.method.on_report(self.record, checked, self.history)


def _losses(history: History, record: TrialRecord, reason: str) -> int:
    """How many times these parameters were lost along the retry chain, ``record``'s
    failure (``reason``) included. Interruptions do not count: a study resumed and
    interrupted again must not lose the configuration."""
    losses = 0 if is_interruption(reason) else 1
    while (edge := _retried_edge(record)) is not None:
        losses += not is_interruption(edge.detail)
        record = history.trials[edge.parent]
    return losses


def _retried_edge(record: TrialRecord) -> Edge | None:
    return next((e for e in record.parents if e.kind == Origin.RETRIED.value), None)


def _start_rung(history: History, record: TrialRecord) -> int | None:
    """The rung a trial started past: for a promoted trial, the rung its parent stopped
    at (its own ``rung`` has moved on with its checks); None for the others."""
    edge = next((e for e in record.parents if e.kind == Origin.PROMOTED.value), None)
    return None if edge is None else history.trials[edge.parent].rung

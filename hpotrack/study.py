"""A study's trials and the atomic ask and tell steps.

``Study`` is both what users get from :func:`hpotrack.load_study` (trials, best, enqueue,
curves) and what the run loop drives: :meth:`Study.ask` reads what changed, lets the
method propose and inserts the running trial under one write lock (DESIGN principle 2);
:meth:`Study.tell` records an outcome. Declaring and opening a study is in
:mod:`hpotrack.definition`.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpotrack import checkpoints, lineage, retries
from hpotrack.budget import Budget
from hpotrack.errors import (
    BudgetSpent,
    MissingDependency,
    NoCompleteTrial,
    StopSearch,
    StudyNotFoundError,
    TargetReached,
    TrialError,
)
from hpotrack.methods.base import History, Proposal
from hpotrack.methods.base import from_json as method_from_json
from hpotrack.provenance import hostname
from hpotrack.records import Origin, TrialRecord, TrialState, worst_value
from hpotrack.recovery import lost_reason
from hpotrack.space import Space, Value
from hpotrack.store import Store, StudyRow
from hpotrack.text import plural
from hpotrack.trial import MetricRow

RECOVERY_EVERY_S = 1.0  # how often an asking process looks for trials of dead workers
STALE_GUESS_PAUSE = 8  # asks without a speculative proposal after one went stale
log = logging.getLogger("hpotrack")


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


@dataclass(frozen=True)
class Claimed:
    """A trial this process has just claimed and must now run and tell."""

    trial_id: int
    number: int
    params: dict[str, Value]
    budget: float | None


class Study:
    """One study in a database file: a live view of its trials plus ask and tell."""

    def __init__(self, store: Store, row: StudyRow) -> None:
        self._store = store
        self._row = row
        self.space = Space.from_json(row.space)
        self.method = method_from_json(row.method)
        self.budget = None if row.budget is None else Budget.from_json(row.budget)
        self._history = History(self.space, row.direction, row.seed, self.budget)
        self._ids: list[int] = []
        self._seq = 0
        self._version: object = None  # Store.version() the cache is at (None: none)
        self._next_recovery = 0.0  # the first ask of every Study looks for lost trials
        self._warned_missing = False  # said that a checkpoint a trial continues is gone
        self._skip_guesses = 0  # asks left that propose under the lock without a guess
        self.contended = False  # whether the last ask found trials changed by others
        self.read_while_waiting = 0  # changes of others read while waiting for the lock
        self.checkpoints_saved = 0  # by trials of this process, through this Study
        self._last_note: str | None = None  # the headline of the last note, logged on change

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, method={self.method.name!r}, trials={len(self.trials)})"

    # -- definition -------------------------------------------------------------------

    @property
    def id(self) -> int:
        """The study's row id in its database file."""
        return self._row.id

    @property
    def name(self) -> str:
        return self._row.name

    @property
    def direction(self) -> str:
        return self._row.direction

    @property
    def objective(self) -> str:
        return self._row.objective

    @property
    def seed(self) -> int:
        return self._row.seed

    @property
    def target(self) -> int | None:
        """The study-wide number of trials asked for so far (None: no target)."""
        row = self._store.find_study(self.name)
        return None if row is None else row.target

    @property
    def db_path(self) -> Path:
        return self._store.path

    @property
    def function(self) -> dict[str, Any]:
        """Module, qualified name and file of the tuned function (for resume)."""
        return dict(self._row.function)

    # -- reading ----------------------------------------------------------------------

    def refresh(self) -> History:
        """Read the trials changed since the last call; returns the live history."""
        self._read_changes()
        return self._history

    def _read_changes(self) -> int:
        """Apply the trials changed since the last read; returns how many there were."""
        version = self._store.version()  # before the query: a commit in between re-reads
        if version == self._version:
            return 0
        if not self._store.study_exists(self._row.id):
            raise StudyNotFoundError(
                f"study {self.name!r} was deleted from {self._store.path} while this "
                "process was using it (hpotrack delete?): nothing more is stored for it"
            )
        self._version = version
        history = self._history
        known = len(history.trials)
        changes = self._store.trials_since(self._row.id, self._seq, known)
        for trial_id, seq, record in changes:
            if record.number < known and history.trials[record.number].parents:
                record = record.replace(parents=history.trials[record.number].parents)
            self._apply(record, trial_id, seq)
        return len(changes)

    def _apply(self, record: TrialRecord, trial_id: int, seq: int) -> None:
        """Put a trial into the cached history. A write of this process is applied
        directly (not read back) only right after a refresh inside the same write lock,
        when no change of anyone else can have a lower ``seq``."""
        self._history.update(record)
        if record.number == len(self._ids):
            self._ids.append(trial_id)
        self._seq = max(self._seq, seq)

    @property
    def trials(self) -> list[TrialRecord]:
        """Every trial, ordered by number."""
        return list(self.refresh().trials)

    @property
    def best(self) -> TrialRecord:
        """The best complete trial; :class:`NoCompleteTrial` before there is one."""
        best = self.refresh().best
        if best is None:
            raise NoCompleteTrial(self._no_complete_trial())
        return best

    def _no_complete_trial(self) -> str:
        """Why there is no best trial yet, and what to do when a budget is the reason."""
        history = self._history
        message = f"study {self.name!r} has no complete trial yet"
        pruned = history.count(TrialState.PRUNED)
        if pruned and self.budget is not None:
            message += (
                f": {pruned} of its {len(history.trials)} trials were stopped below the "
                f"budget's max ({self.budget.max:g}); a trial completes once it trains that "
                "far (successive halving promotes one when enough trials reached its rung), "
                "so run more trials"
            )
        return message

    def schedule(self, number: int) -> dict[str, list[tuple[int, Value]]]:
        """Trial ``number``'s hyperparameter schedule: for each hyperparameter, (first
        step, value) along the chain of segments it continues (PBT: the member's own
        segments and the members it exploited). A trial that continues nothing has one
        entry per hyperparameter, at step 1."""
        self.trial(number)
        return lineage.schedule(self.refresh().trials, number)

    def best_final(self) -> TrialRecord:
        """The best trial the study ended with: for a population (PBT), the best of each
        member's latest complete segment; otherwise :attr:`best`."""
        best = lineage.best_final(self.refresh().trials, self.direction)
        if best is None:
            raise NoCompleteTrial(self._no_complete_trial())
        return best

    def best_schedule(self) -> dict[str, list[tuple[int, Value]]]:
        """The hyperparameter schedule of :meth:`best_final` (see :meth:`schedule`): what
        population-based training learned, step by step."""
        return self.schedule(self.best_final().number)

    def records(self) -> list[dict[str, Any]]:
        """Every trial as a plain JSON-ready dict."""
        return [trial.to_dict() for trial in self.trials]

    def to_dataframe(self) -> Any:
        """A pandas DataFrame, one row per trial, params flattened as ``param_<name>``."""
        try:
            import pandas as pd
        except ImportError:
            raise MissingDependency("to_dataframe() needs pandas: pip install pandas") from None
        rows = []
        for record in self.records():
            params = record.pop("params")
            metrics = record.pop("metrics")
            record.pop("parents")
            rows.append(
                {
                    **record,
                    **{f"param_{k}": v for k, v in params.items()},
                    **{f"metric_{k}": v for k, v in metrics.items()},
                }
            )
        if rows:
            return pd.DataFrame(rows)
        fields = TrialRecord(0, TrialState.QUEUED, {}).to_dict()  # a study without trials
        columns = [k for k in fields if k not in ("params", "metrics", "parents")]
        return pd.DataFrame(columns=[*columns, *(f"param_{name}" for name in self.space)])

    def trial(self, number: int) -> TrialRecord:
        """Trial ``number``; a :class:`TrialError` naming the numbers that exist."""
        if isinstance(number, bool) or not isinstance(number, int):
            raise TrialError(f"a trial number is a whole number, but got {number!r}")
        trials = self.refresh().trials
        if not 0 <= number < len(trials):
            have = f"trials 0-{len(trials) - 1}" if trials else "no trials yet"
            raise TrialError(f"study {self.name!r} has no trial {number} (it has {have})")
        return trials[number]

    def workers_gone(self, numbers: Sequence[int]) -> dict[int, str]:
        """Of the trials ``numbers``, the running ones whose worker is gone, with why. It
        only reads: the study's next run marks them lost (and retries them)."""
        now = time.time()
        running = self._store.running(self._row.id, numbers)
        return {r.number: reason for r in running if (reason := lost_reason(r, now))}

    def curve(self, number: int, whole: bool = False) -> dict[str, list[tuple[int, float]]]:
        """Intermediate metrics of trial ``number``: metric name -> [(step, value), ...].
        ``whole``: with those of the trials it continues in front (a promotion's parent up
        to the rung, a PBT member's earlier segments), the curve of its configuration
        from step 1 (:func:`hpotrack.lineage.whole_curve`)."""
        self.trial(number)
        if whole:
            return lineage.whole_curve(self.refresh().trials, number, self._curve)
        return self._curve(number)

    def _curve(self, number: int) -> dict[str, list[tuple[int, float]]]:
        points: dict[str, list[tuple[int, float]]] = {}
        for name, step, value, _ in self._store.curve(self._row.id, number):
            points.setdefault(name, []).append((step, value))
        return points

    def load_checkpoint(self, number: int, step: int | None = None) -> Any:
        """The object trial ``number`` saved with ``trial.save_checkpoint``: its latest at
        or before ``step`` (default: its latest), e.g. the best trial's trained model
        (``study.load_checkpoint(study.best.number)``). A trial that saved none by then
        was still where it started: the checkpoint it continued (a promotion's parent,
        say) is returned. A :class:`TrialError` says when there is none."""
        record = self.trial(number)
        if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
            raise TrialError(f"a checkpoint's step is a whole number, but got step={step!r}")
        found = checkpoints.line_state(self.trials, number, step, self._latest_checkpoint)
        if found is None:
            at = "" if step is None else f" at or before step {step}"
            raise TrialError(
                f"trial {record.number} of study {self.name!r} has no checkpoint{at}: its "
                "function saves one with trial.save_checkpoint(obj, step=...), and with "
                "keep_checkpoints='needed' only those a trial may still start from are kept"
            )
        return checkpoints.load(self._store, found)

    def _latest_checkpoint(self, number: int, at_most: int | None) -> checkpoints.Checkpoint | None:
        return checkpoints.find(self._store, self._row.id, number, at_most)

    # -- writing ----------------------------------------------------------------------

    def enqueue(self, params: Mapping[str, object]) -> int:
        """Queue a trial with these exact hyperparameters; returns its number.

        Queued trials run before anything the method proposes, in number order.
        """
        values = self.space.validate(params)
        with self._store.write():
            number = self.refresh().next_number
            self._store.insert_trial(
                self._row.id,
                number=number,
                state=TrialState.QUEUED,
                params=values,
                origin=Origin.ENQUEUED.value,
            )
        return number

    def raise_target(self, n_trials: int) -> None:
        """Make the stored target at least ``n_trials`` (never lowers it)."""
        with self._store.write():
            target = self.target
            if target is None or n_trials > target:
                self._store.update_study(self._row.id, target=n_trials)

    def ask(
        self,
        worker: Worker,
        limit: int | None,
        done: Sequence[tuple[Claimed, Outcome]] = (),
        count: int = 1,
        *,
        max_budget: float | None = None,
    ) -> list[Claimed]:
        """Claim up to ``count`` trials under one write lock: queued ones first, then
        proposals. Returns at least one, in number order.

        ``done`` are outcomes of this worker's previous trials: they are stored in the
        same transaction (one commit per ask instead of two), and stored even when
        nothing is left to claim. Raises :class:`TargetReached` when ``limit`` trials
        have started, :class:`BudgetSpent` when the finished trials trained
        ``max_budget`` steps in total, and ``SearchExhausted`` when the method has
        nothing left, and only when not even one trial could be claimed.
        """
        # Outside the lock: read what changed, put the outcomes about to be stored into
        # the cache, and propose from that history. Under the lock the proposal is used as
        # it is when nothing else changed meanwhile (a method is a pure function of the
        # history), so the method's work, a model fit for instance, rarely holds the lock.
        # When other workers keep changing the study, guesses go stale; after a stale one
        # the next few asks skip guessing, so busy studies waste at most one ask in nine.
        changes = self._read_changes()
        self.read_while_waiting = 0
        when = time.time()
        finished = [_finished(self._history.trials[c.number], o, when) for c, o in done]
        for record in finished:
            self._history.update(record)
        guess = self._guess(limit, max_budget) if self._skip_guesses == 0 else None
        self._skip_guesses = max(0, self._skip_guesses - 1)
        claimed: list[Claimed] = []
        stopped: StopSearch | None = None
        with self._writing():
            changed_meanwhile = self.read_while_waiting + self._read_changes()
            if changed_meanwhile and guess is not None:
                guess = None
                self._skip_guesses = STALE_GUESS_PAUSE
            for (trial, outcome), record in zip(done, finished, strict=True):
                self._record(trial, outcome, record)
            try:
                while len(claimed) < count and not self._batch_spends(claimed, max_budget):
                    first_guess = None if claimed else guess
                    claimed.append(self._claim(worker, limit, first_guess, max_budget))
            except StopSearch as stop:
                stopped = stop  # leave the block normally: what is above is committed
        self.contended = bool(changes + changed_meanwhile)
        if not claimed and stopped is not None:
            raise stopped
        return claimed

    def _batch_spends(self, claimed: Sequence[Claimed], max_budget: float | None) -> bool:
        """Whether the running trials (this ask's claims and every process's others) could
        spend what is left of ``max_budget``, each training at most its budget: then the
        ask claims no more than the one it has, so a batch never takes a process further
        past ``max_budget`` than one trial would."""
        if max_budget is None or not claimed:
            return False
        history = self._history
        running = history.unfinished(TrialState.RUNNING)
        committed = sum(history.trials[number].budget or 0.0 for number in running)
        return history.trained + committed >= max_budget

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A write transaction whose every change the block applies to the cache itself
        (after reading others' changes inside it), so that after the commit the cache is
        exactly the database and the next read can be skipped unless someone else wrote.
        If the block fails, the transaction is rolled back and so is the cache."""
        try:
            with self._store.write(while_waiting=self._read_while_waiting):
                yield
        except BaseException:
            self._forget()
            raise
        if self._version is not None:
            self._version = self._store.committed_version

    def _read_while_waiting(self) -> None:
        """While another process holds the write lock, read what it committed so far, so
        that the read inside the lock (which everyone waits for) finds less to do."""
        self.read_while_waiting += self._read_changes()

    def _forget(self) -> None:
        """Drop the cache: the next read starts from the first trial."""
        self._history = History(self.space, self._row.direction, self._row.seed, self.budget)
        self._ids, self._seq, self._version = [], 0, None

    def _guess(self, limit: int | None, max_budget: float | None) -> tuple[int, Proposal] | None:
        """(number, proposal) the method would make now, if a new trial is due."""
        history = self._history
        if history.count(TrialState.QUEUED) or (limit is not None and history.n_started >= limit):
            return None
        if max_budget is not None and history.trained >= max_budget:
            return None
        try:
            return history.next_number, self.method.ask(history)
        except StopSearch:
            return None

    def _claim(
        self,
        worker: Worker,
        limit: int | None,
        guess: tuple[int, Proposal] | None = None,
        max_budget: float | None = None,
    ) -> Claimed:
        """The body of :meth:`ask`, inside its write transaction, after a refresh."""
        history = self._history
        if time.monotonic() >= self._next_recovery and self.recover_lost():
            history = self.refresh()
            guess = None
        started = history.n_started
        if limit is not None and started >= limit:
            raise TargetReached(
                f"study {self.name!r} has {plural(started, 'trial')}: the target of {limit} "
                "is reached"
            )
        if max_budget is not None and history.trained >= max_budget:
            spent = self.budget
            unit = "budget steps" if spent is None or spent.name == "budget" else spent.name
            raise BudgetSpent(
                f"study {self.name!r} has trained {history.trained} {unit}: the max_budget "
                f"of {max_budget:g} is spent"
            )
        if history.count(TrialState.QUEUED):
            number = history.unfinished(TrialState.QUEUED)[0]
            trial_id = self._ids[number]
            queued = history.trials[number]
            budget = self._budget(queued.budget)
            stamp = self._store.start_queued(
                self._row.id,
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
            self._apply(running, trial_id, stamp.seq)
            return Claimed(trial_id, number, dict(queued.params), budget)
        number = history.next_number
        if guess is not None and guess[0] == number:
            proposal = guess[1]
        else:
            proposal = self.method.ask(history)
        budget = self._budget(proposal.budget)
        stamp = self._store.insert_trial(
            self._row.id,
            number=number,
            state=TrialState.RUNNING,
            params=proposal.params,
            origin=proposal.origin,
            budget=budget,
            claim=proposal.claim,
            parents=proposal.parents,
            run_id=worker.run_id,
            host=worker.host,
            pid=worker.pid,
            rung=proposal.rung,
            bracket=proposal.bracket,
            note=proposal.note,
        )
        record = TrialRecord(
            number=number,
            state=TrialState.RUNNING,
            params=proposal.params,
            budget=budget,
            origin=proposal.origin,
            parents=proposal.parents,
            started=stamp.time,
            claim=proposal.claim,
            host=worker.host,
            pid=worker.pid,
            rung=proposal.rung,
            bracket=proposal.bracket,
            note=proposal.note,
        )
        headline = None if proposal.note is None else proposal.note.split(":")[0]
        if proposal.origin == Origin.PROMOTED.value:
            headline = None  # promotions interleave with new configurations: not news
        if headline is not None and headline != self._last_note:  # e.g. "auto chose tpe"
            log.info("study %r: %s", self.name, proposal.note)
            self._last_note = headline
        self._apply(record, stamp.id, stamp.seq)
        return Claimed(stamp.id, number, proposal.params, budget)

    def _steps_trained_by_lost(self, trial_id: int, record: TrialRecord) -> int | None:
        """The budget steps a lost trial trained, from the reports it stored (as
        :meth:`Trial.steps_trained` counts them, taking the checkpoint it would have started
        from as loaded): its worker cannot say, and ``max_budget`` must count them."""
        if self.budget is None or not self.budget.whole:
            return None
        reported = self._store.steps_reported(trial_id, self._row.objective)
        if reported is None:
            return 0
        first, last = reported
        edge = checkpoints.source_edge(record)
        after = edge.step if edge is not None and edge.step is not None else 0
        return max(0, last - (0 if first <= after else after))

    def _budget(self, budget: float | None) -> float | None:
        """The budget a trial trains to: the method's, else the study's largest (an
        enqueued, manual or single-fidelity trial trains fully)."""
        if budget is None and self.budget is not None:
            return float(self.budget.max)
        return budget

    def recover_lost_now(self) -> int:
        """:meth:`recover_lost` at once (the parent of worker processes, one of which it
        saw die), not at the next ask's interval."""
        with self._writing():
            self.refresh()
            return self.recover_lost()

    def recover_lost(self) -> int:
        """Fail running trials whose worker is gone ("worker lost") and queue a retry of
        each while the study's ``retries`` allow; returns how many were lost.

        Call inside a write transaction with a fresh history (``ask`` does, every time).
        """
        self._next_recovery = time.monotonic() + RECOVERY_EVERY_S
        now = time.time()
        lost = retried = 0
        running_now = self._history.unfinished(TrialState.RUNNING)
        for running in self._store.running(self._row.id, running_now):
            reason = lost_reason(running, now)
            if reason is None:
                continue
            lost += 1
            record = self._history.trials[running.number]
            self._store.finish_trial(
                self._row.id,
                running.id,
                state=TrialState.FAILED,
                value=None,
                metrics={},
                error=reason,
                when=_last_seen(
                    running.heartbeat, record.started, self._store.last_report_time(running.id)
                ),
                trained=self._steps_trained_by_lost(running.id, record),
            )
            number = self._history.next_number + retried
            retried += self._queue_retry(record, running.id, number, reason)
            log.warning("trial %d of study %r: %s", running.number, self.name, reason)
        if lost:
            self._version = None  # written here, not applied: the next read must look
        return lost

    def _queue_retry(self, record: TrialRecord, trial_id: int, number: int, reason: str) -> bool:
        """Queue trial ``number``, the retry of ``record`` (stored as ``trial_id``, failed
        for ``reason``), if it gets one (:func:`hpotrack.retries.retry_of`); whether it
        did. Inside a write transaction; the caller makes the next read look for it."""
        retry = retries.retry_of(
            record,
            trial_id,
            reason,
            method=self.method,
            history=self._history,
            store=self._store,
            study=self._row,
        )
        if retry is None:
            return False
        self._store.insert_trial(
            self._row.id,
            number=number,
            state=TrialState.QUEUED,
            params=record.params,
            budget=record.budget,
            bracket=record.bracket,
            rung=retry.rung,
            checks=retry.checks,
            origin=Origin.RETRIED.value,
            parents=retry.parents,
        )
        return True

    def start_manual(self, worker: Worker, params: Mapping[str, object]) -> Claimed:
        """Insert a running trial with user-given hyperparameters (a direct call)."""
        values = self.space.validate(params)
        budget = self._budget(None)
        with self._store.write():
            number = self.refresh().next_number
            stamp = self._store.insert_trial(
                self._row.id,
                number=number,
                state=TrialState.RUNNING,
                params=values,
                origin=Origin.MANUAL.value,
                budget=budget,
                run_id=worker.run_id,
                host=worker.host,
                pid=worker.pid,
            )
        return Claimed(stamp.id, number, values, budget)

    def tell(self, claimed: Claimed, outcome: Outcome) -> None:
        """Store a trial's outcome and its unwritten reports, atomically."""
        self.finish([(claimed, outcome)])

    def finish(
        self, done: Sequence[tuple[Claimed, Outcome]], unrun: Sequence[Claimed] = ()
    ) -> None:
        """Store outcomes and give back claimed trials this worker will not run (they
        become queued again, for whoever asks next), in one transaction."""
        if not done and not unrun:
            return
        when = time.time()
        with self._writing():
            self.refresh()
            for claimed, outcome in done:
                finished = _finished(self._history.trials[claimed.number], outcome, when)
                self._record(claimed, outcome, finished)
            for claimed in unrun:
                stamp = self._store.release_trial(self._row.id, claimed.trial_id)
                record = self._history.trials[claimed.number].replace(
                    state=TrialState.QUEUED,
                    started=None,
                    host=None,
                    pid=None,
                )
                self._apply(record, claimed.trial_id, stamp.seq)
            # last, so that no change applied to the cache after them has a higher seq
            retried = 0
            for claimed, outcome in done:
                if outcome.retry:
                    record = self._history.trials[claimed.number]
                    number = self._history.next_number + retried
                    error = outcome.error or ""
                    retried += self._queue_retry(record, claimed.trial_id, number, error)
            if retried:
                self._version = None  # written here, not applied: the next read must look

    def checks_for(self, claimed: Claimed) -> TrialChecks | None:
        """What a running trial needs to consult the method at its check steps; None
        when the method never prunes it."""
        trials = self._history.trials
        if claimed.number >= len(trials):  # a manual trial: not cached yet
            trials = self.refresh().trials
        record = trials[claimed.number]
        if self.method.next_check(record, 0, self._history) is None:
            return None
        return TrialChecks(self, claimed)

    def checkpoints_for(self, claimed: Claimed) -> TrialCheckpoints:
        """Where a running trial saves its checkpoints and finds the one it starts from."""
        return TrialCheckpoints(self, claimed)

    def remove_stray_checkpoint_files(self) -> int:
        """Delete the files in this study's checkpoint folder that nothing names and no
        running trial may still be writing (left by a process killed mid-write; see
        :func:`hpotrack.checkpoints.stray_files`); returns how many went."""
        if not self._store.checkpoint_dir(self.name).is_dir():
            return 0
        with self._writing():
            stray = checkpoints.stray_files(self._store, self.name, self.id, self.refresh().trials)
            for path in stray:
                path.unlink(missing_ok=True)
        return len(stray)

    def collect_checkpoints(self) -> int:
        """Delete the checkpoints nothing can load any more (see
        :func:`hpotrack.checkpoints.unneeded`); returns how many went."""
        with self._writing():
            history = self.refresh()
            resumable = self.method.resumable(history)
            garbage = checkpoints.unneeded(self._store, self.id, history.trials, resumable)
            checkpoints.forget(self._store, garbage)
        checkpoints.delete_files(self._store, garbage)
        return len(garbage)

    def check(
        self, claimed: Claimed, step: int, value: float, reports: Sequence[MetricRow]
    ) -> bool:
        """Store a running trial's objective at check ``step`` (and its unwritten
        reports), then ask the method whether it goes on. True: prune it now. A manual
        call (``train(lr=...)``) always goes on: it returns what the function returns."""
        if not math.isfinite(value):  # a diverged run (NaN, inf)
            value = worst_value(self.direction)
        with self._writing():
            self.refresh()
            if reports:
                self._store.add_metrics(claimed.trial_id, reports)
            record = self._history.trials[claimed.number]
            checks = {**record.checks, step: value}
            rung = self.method.rung(record, step, self._history)
            stamp = self._store.record_check(self._row.id, claimed.trial_id, checks, rung)
            updated = record.replace(checks=checks, rung=rung)
            self._apply(updated, claimed.trial_id, stamp.seq)
            if updated.origin == Origin.MANUAL.value:
                return False  # the user's own run: its checks are data, it is not stopped
            return self.method.on_report(updated, step, self._history)

    def _record(self, claimed: Claimed, outcome: Outcome, finished: TrialRecord) -> None:
        """Store an outcome (inside the write lock, right after a refresh); ``finished``
        is the trial's record with it, prepared before the lock."""
        if outcome.reports:
            self._store.add_metrics(claimed.trial_id, outcome.reports)
        stamp = self._store.finish_trial(
            self._row.id,
            claimed.trial_id,
            state=outcome.state,
            value=outcome.value,
            metrics=outcome.metrics,
            error=outcome.error,
            when=finished.finished,
            trained=outcome.trained,
        )
        self._apply(finished, claimed.trial_id, stamp.seq)

    def worker(self, provenance: Mapping[str, Any]) -> Worker:
        """Register this process as a worker of the study (one ``runs`` row)."""
        run_id = self._store.insert_run(self._row.id, provenance)
        return Worker(run_id=run_id, host=hostname(), pid=os.getpid())

    @property
    def store(self) -> Store:
        return self._store


def _finished(record: TrialRecord, outcome: Outcome, when: float | None = None) -> TrialRecord:
    """``record`` with ``outcome`` applied, as it is stored."""
    return record.replace(
        state=outcome.state,
        value=outcome.value,
        metrics=dict(outcome.metrics),
        error=outcome.error,
        finished=when,
        trained=outcome.trained,
    )


def _last_seen(*times: float | None) -> float | None:
    """When a lost trial was last seen alive (its heartbeat, start or latest stored
    report; None: unknown, so now), which is when it ended: not when a later run
    noticed, or a study resumed the next day would show a day-long trial."""
    return max((t for t in times if t is not None), default=None)


class TrialChecks:
    """A running trial's line to its method: where its next check is, and the decision
    there (see :meth:`Study.check`). Held by :class:`hpotrack.trial.Trial`."""

    def __init__(self, study: Study, claimed: Claimed) -> None:
        self._study = study
        self._claimed = claimed

    def next_check(self, step: int) -> int | None:
        study = self._study
        record = study._history.trials[self._claimed.number]
        return study.method.next_check(record, step, study._history)

    def decide(self, step: int, value: float, reports: Sequence[MetricRow]) -> bool:
        return self._study.check(self._claimed, step, value, reports)


class TrialCheckpoints:
    """A running trial's checkpoints: saving its own, finding the one it starts from
    (through its lineage: :func:`hpotrack.checkpoints.source_edge`)."""

    def __init__(self, study: Study, claimed: Claimed) -> None:
        self._study = study
        self._claimed = claimed

    def save(self, step: int, obj: object, reports: Sequence[MetricRow]) -> None:
        """Save ``obj`` at ``step``, and the trial's ``reports`` not yet written."""
        study, claimed = self._study, self._claimed
        study.refresh()  # a deleted study is an error here, not a file nobody owns
        checkpoints.save(
            study.store, study.name, claimed.trial_id, claimed.number, step, obj, reports
        )
        study.checkpoints_saved += 1

    def source(self) -> tuple[int, Any] | None:
        """(step, object) of the checkpoint this trial starts from, if there is one."""
        study = self._study
        trials = study.refresh().trials
        edge = checkpoints.source_edge(trials[self._claimed.number])
        if edge is None:
            return None
        found = checkpoints.line_state(trials, edge.parent, edge.step, study._latest_checkpoint)
        if found is None:
            if checkpoints.any_saved(study.store, study.id) and not study._warned_missing:
                study._warned_missing = True  # once per study and process
                log.warning(
                    "trial %d of study %r continues trial %d at step %s (%s), but no "
                    "checkpoint of that trial's line at or before that step is stored "
                    "(deleted? or the study was imported: exports leave checkpoint files "
                    "out): it starts from scratch",
                    self._claimed.number,
                    study.name,
                    edge.parent,
                    edge.step,
                    edge.kind,
                )
            return None
        return found.step, checkpoints.load(study.store, found)

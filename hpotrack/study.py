"""A study's atomic ask and tell steps.

``Study`` is both what users get from :func:`hpotrack.load_study` (its reads, trials,
best, curves, are :class:`hpotrack.study_reader.StudyReader`'s; enqueue is here) and what
the run loop drives: :meth:`Study.claim` reads what changed, lets the method propose and
inserts the running trial under one write lock (DESIGN principle 2); :meth:`Study.store_outcome`
records an outcome. It decides when to read and write, under which lock; the parts it
puts together are beside it: the cached trials (:mod:`hpotrack.cache`), the rows a claim
writes (:mod:`hpotrack.claims`), the limits of a run (:mod:`hpotrack.limits`), lost
workers (:mod:`hpotrack.lost`), a running trial's handles (:mod:`hpotrack.handles`),
trials queued by hand (:mod:`hpotrack.queueing`) and checkpoint files nothing needs
(:mod:`hpotrack.checkpoint_sweeps`). Declaring and opening a study is in
:mod:`hpotrack.definition`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from hpotrack import checkpoint_sweeps, claims, limits, lost, queueing, retries
from hpotrack.checkmap import with_checks
from hpotrack.claims import Claimed, Outcome, Worker, finished
from hpotrack.errors import StopSearch, StudyDeleted
from hpotrack.handles import TrialCheckpoints, TrialChecks
from hpotrack.methods.base import Proposal, checked
from hpotrack.provenance import hostname
from hpotrack.queueing import Enqueued
from hpotrack.records import Origin, TrialRecord, TrialState, worst_value
from hpotrack.store import Store, StudyRow
from hpotrack.study_reader import StudyReader
from hpotrack.text import masked_numbers
from hpotrack.trial import MetricRow

__all__ = ["Claimed", "Enqueued", "Outcome", "Study", "TrialCheckpoints", "TrialChecks", "Worker"]

RECOVERY_EVERY_S = 1.0  # how often an asking process looks for trials of dead workers
STALE_GUESS_PAUSE = 8  # asks without a speculative proposal after one went stale
log = logging.getLogger("hpotrack")


class Study(StudyReader):
    """One study in a database file: a live view of its trials (:class:`StudyReader`)
    plus the run loop's ask and tell.

    Users get one from ``hp.load_study(name, db=None)``, ``train.optimize(...)`` or
    ``train.study``, and read ``.trials`` (frozen ``TrialRecord`` objects, by number),
    ``.best``, ``.curve(number)``, ``.load_checkpoint(number)``, ``.records()`` and
    ``.to_dataframe()``; ``.enqueue(params)`` queues a trial."""

    def __init__(self, store: Store, row: StudyRow) -> None:
        super().__init__(store, row)
        self._next_recovery = 0.0  # the first ask of every Study looks for lost trials
        self.warned_missing_checkpoint = False  # said that one a trial continues is gone
        self._skip_guesses = 0  # asks left that propose under the lock without a guess
        self.contended = False  # whether the last ask found trials changed by others
        self.read_while_waiting = 0  # changes of others read while waiting for the lock
        self.checkpoints_saved = 0  # by trials of this process, through this Study
        self._lost_unswept = 0  # trials marked lost since stray checkpoint files were removed
        self._notes_told: set[str] = set()  # headlines of the method's notes logged so far

    # -- writing ----------------------------------------------------------------------

    def enqueue(
        self,
        params: Mapping[str, object] | None = None,
        *,
        skip_if_exists: bool = False,
        **values: object,
    ) -> int:
        """Queue a trial with these hyperparameters, given as a dict or as keywords
        (``study.enqueue({"lr": 0.1})`` or ``study.enqueue(lr=0.1)``, as a manual call
        takes them); returns its number. A hyperparameter named ``params`` or
        ``skip_if_exists`` goes in the dict.

        Queued trials run before anything the method proposes, in number order. Values
        left out are drawn uniformly from the space, as ``random`` draws that trial's
        (log-aware; the same in every process and after resume). ``skip_if_exists``:
        when a trial in any state already has the given values, queue nothing and return
        that trial's number (warm starts that a rerun of the same script repeats).
        """
        given = queueing.given_values(params, values, next(iter(self.space)))
        return self.enqueue_once(given, skip_if_exists=skip_if_exists).number

    def enqueue_once(
        self, params: Mapping[str, object], *, skip_if_exists: bool = False
    ) -> Enqueued:
        """:meth:`enqueue`, telling also whether this call queued the trial or found it
        (decided under the write lock: of several processes queueing the same values at
        once, one queues it and the others find it)."""
        queueing.check_call(self.method, self.name, skip_if_exists)
        given = self.space.validate(params, partial=True)
        with self._using, self._store.write():  # in that order, as everywhere (_writing)
            history = self.refresh()
            return queueing.queue(
                self._store, self._row.id, history, self.space, given, skip_if_exists=skip_if_exists
            )

    def stop(self) -> None:
        """Ask every run of this study begun before now, in any process on its file, to
        start no more trials: each finishes the trials it is running, stores them and
        returns (Optuna's ``study.stop()``, across processes; ``hpotrack stop STUDY``).
        A run begun after it is not affected, nor is a loop of your own calling the
        tuned function's ``ask()``."""
        with self._store.write():
            if not self._store.request_stop(self._row.id):
                raise StudyDeleted.while_used(self.name, self._store.path)

    @property
    def stop_requests(self) -> int:
        """How many times the study was asked to stop (:meth:`stop`), as read now: one
        lookup, not a read of the trials (a run notes it as it begins)."""
        with self._store.reading():
            count = self._store.stop_requests(self._row.id)
        if count is None:
            raise StudyDeleted.while_used(self.name, self._store.path)
        return count

    def remember_stops(self, stops: limits.Stops) -> None:
        """Keep ``stops`` as the study's last run's (:attr:`last_stops`), for ``hpotrack
        resume``; written only when they differ from those kept."""
        kept = limits.stored(stops)
        with self._store.write():
            row = self._store.find_study(self.name)
            if row is not None and row.id == self.id and row.last_stops != kept:
                self._store.update_study(self.id, last_stops=kept)

    def raise_target(self, n_trials: int) -> None:
        """Make the stored target at least ``n_trials`` (never lowers it)."""
        with self._store.write():
            target = self.target
            if target is None or n_trials > target:
                self._store.update_study(self._row.id, target=n_trials)

    def claim(
        self,
        worker: Worker,
        limit: int | None,
        done: list[tuple[Claimed, Outcome]],
        claims: list[Claimed],
        count: int = 1,
        *,
        stops: limits.Stops = limits.NO_STOPS,
        deadline: float | None = None,
    ) -> None:
        """Claim up to ``count`` trials under one write lock, queued ones first, then
        proposals, and append them to ``claims`` (at least one, in number order, unless
        ``deadline``, a ``time.time()``, has passed: then none).

        ``done`` are outcomes of this worker's previous trials: they are stored in the
        same transaction (one commit per ask instead of two), and stored even when
        nothing is left to claim. Raises :class:`TargetReached` when ``limit`` trials
        have started, the :class:`StopSearch` of one of ``stops`` when it is reached
        (:func:`hpotrack.limits.reached`: ``BudgetSpent``, ``PatienceSpent``,
        ``GoodEnough``), and ``SearchExhausted`` when the method has nothing left, and
        only when not even one trial could be claimed.

        The caller's two lists change exactly when the transaction commits (``done``
        emptied, the claimed trials appended to ``claims``), also when an interrupt
        stops the call right after the commit: the caller's :meth:`finish` then neither
        stores an outcome twice nor leaves a claimed trial running.

        The deadline is looked at under the lock, before each claim: the caller's look
        before the call does not hold once the ask waited for the lock (other workers
        writing) or for the method's proposal (a model fit), and a trial claimed then
        started after the timeout.
        """
        with self._using:  # (see StudyReader) the whole claim: it reads outside the lock
            self._claim_into(worker, limit, done, claims, count, stops, deadline)

    def _claim_into(
        self,
        worker: Worker,
        limit: int | None,
        done: list[tuple[Claimed, Outcome]],
        claims: list[Claimed],
        count: int,
        stops: limits.Stops,
        deadline: float | None,
    ) -> None:
        """:meth:`claim`, with the study in this thread's use."""
        # Outside the lock: read what changed, put the outcomes about to be stored into
        # the cache, and propose from that history. Under the lock the proposal is used as
        # it is when nothing else changed meanwhile (a method is a pure function of the
        # history), so the method's work, a model fit for instance, rarely holds the lock.
        # When other workers keep changing the study, guesses go stale; after a stale one
        # the next few asks skip guessing, so busy studies waste at most one ask in nine.
        loading = not self._cache.has_read
        changes = self._cache.read_changes()
        if loading:  # the study's past, loaded: no other worker changed it meanwhile
            changes = 0
        self.read_while_waiting = 0
        when = time.time()
        history = self._cache.history
        fresh = []  # outcomes of trials still running: not marked lost by another process
        for trial, outcome in done:
            if history.trials[trial.number].state is TrialState.RUNNING:
                fresh.append((trial, outcome))
            else:
                self._drop_late(trial)
        ended = [finished(history.trials[c.number], o, when) for c, o in fresh]
        claimed: list[Claimed] = []
        stopped: StopSearch | None = None
        commits = self._store.commits
        try:
            for record in ended:  # ahead of the store: until it commits, the cache is not
                history.update(record)  # the file, so an interrupt before must forget it
            guess = self._guess(limit, stops) if self._skip_guesses == 0 else None
            self._skip_guesses = max(0, self._skip_guesses - 1)
            with self._writing():
                changed_meanwhile = self.read_while_waiting + self._cache.read_changes()
                if changed_meanwhile and guess is not None:
                    guess = None
                    self._skip_guesses = STALE_GUESS_PAUSE
                for (trial, outcome), record in zip(fresh, ended, strict=True):
                    self._record(trial, outcome, record)
                try:
                    while (
                        len(claimed) < count
                        and not limits.batch_spends(self._cache.history, claimed, stops)
                        and not limits.past(deadline)
                    ):
                        first_guess = None if claimed else guess
                        claimed.append(self._claim(worker, limit, first_guess, stops))
                except StopSearch as stop:
                    stopped = stop  # leave the block normally: what is above is committed
        except BaseException:
            if self._store.commits == commits:  # the outcomes applied above are not stored
                self._cache.forget()
            raise
        finally:
            if self._store.commits > commits:  # committed, whatever came after
                done.clear()
                claims.extend(claimed)
        self.contended = bool(changes + changed_meanwhile)
        if not claimed and stopped is not None:
            raise stopped

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A write transaction whose every change the block applies to the cache itself
        (after reading others' changes inside it), so that after the commit the cache is
        exactly the database and the next read can be skipped unless someone else wrote.
        If the block fails, the transaction is rolled back and so is the cache."""
        with self._using:
            try:
                with self._store.write(while_waiting=self._read_while_waiting):
                    yield
            except BaseException:
                self._cache.forget()
                raise
            self._cache.committed()

    def _read_while_waiting(self) -> None:
        """While another process holds the write lock, read what it committed so far, so
        that the read inside the lock (which everyone waits for) finds less to do."""
        self.read_while_waiting += self._cache.read_changes()

    def _guess(self, limit: int | None, stops: limits.Stops) -> tuple[int, Proposal] | None:
        """(number, proposal) the method would make now, if a new trial is due."""
        history = self._cache.history
        if history.count(TrialState.QUEUED) or self._stop(limit, stops) is not None:
            return None
        try:
            return history.next_number, self.method.ask(history)
        except StopSearch:
            return None

    def _stop(self, limit: int | None, stops: limits.Stops) -> StopSearch | None:
        """Why no trial may start now, of the trials read so far (:func:`limits.reached`)."""
        cache = self._cache
        return limits.reached(cache.history, limit, stops, self.name, cache.stop_requests)

    def _claim(
        self,
        worker: Worker,
        limit: int | None,
        guess: tuple[int, Proposal] | None = None,
        stops: limits.Stops = limits.NO_STOPS,
    ) -> Claimed:
        """Claim one trial for :meth:`claim`, inside its write transaction, after a refresh:
        the first queued trial, else the method's proposal (``guess``, made before the
        lock, when nothing changed since)."""
        history = self._cache.history
        if time.monotonic() >= self._next_recovery and self.recover_lost():
            history = self.refresh()
            guess = None
        stop = self._stop(limit, stops)
        if stop is not None:
            raise stop
        if history.count(TrialState.QUEUED):
            number = history.unfinished(TrialState.QUEUED)[0]
            trial_id = self._cache.ids[number]
            queued = history.trials[number]
            budget = self._budget(queued.budget)
            running, stamp = claims.start_queued(
                self._store, self._row.id, trial_id, queued, worker, budget
            )
            self._cache.apply(running, trial_id, stamp.seq)
            return Claimed(trial_id, number, dict(queued.params), budget)
        number = history.next_number
        if guess is not None and guess[0] == number:
            proposal = checked(self.method, guess[1], history)
        else:
            proposal = checked(self.method, self.method.ask(history), history)
        budget = self._budget(proposal.budget)
        record, stamp = claims.insert_proposed(
            self._store, self._row.id, number, proposal, worker, budget, self.method.name
        )
        self._tell_news(proposal)
        self._cache.apply(record, stamp.id, stamp.seq)
        return Claimed(stamp.id, number, proposal.params, budget)

    def _tell_news(self, proposal: Proposal) -> None:
        """Log the proposal's note once it is news: a kind of note not logged before
        (auto's choice, bayes leaving its Sobol start-up, bohb's first model), not a count
        in it changing (numbers are masked) nor a method alternating between kinds (bohb's
        random fraction and its model)."""
        headline = None if proposal.note is None else masked_numbers(proposal.note)
        if proposal.origin == Origin.PROMOTED.value:
            headline = None  # promotions interleave with new configurations: not news
        if headline is not None and headline not in self._notes_told:  # "auto chose tpe"
            log.info("study %r: %s", self.name, proposal.note)
            self._notes_told.add(headline)

    def _budget(self, budget: float | None) -> float | None:
        """The budget a trial trains to (:func:`claims.trained_to`)."""
        return claims.trained_to(budget, self.budget)

    def recover_lost_now(self) -> int:
        """:meth:`recover_lost` at once (the parent of worker processes, one of which it
        saw die), not at the next ask's interval."""
        with self._writing():
            self.refresh()
            return self.recover_lost()

    def recover_lost(self) -> int:
        """Fail running trials whose worker is gone ("worker lost") and queue a retry of
        each while the study's ``retries`` allow; returns how many were lost.

        Call inside a write transaction with a fresh history (``claim`` does, at most every
        ``RECOVERY_EVERY_S``).
        """
        self._next_recovery = time.monotonic() + RECOVERY_EVERY_S
        found = lost.fail(self._store, self._row, self._cache.history, self.method)
        if found:
            self._cache.stale()  # written here, not applied: the next read must look
            self._lost_unswept += found
        return found

    def start_manual(self, worker: Worker, params: Mapping[str, object]) -> Claimed:
        """Insert a running trial with user-given hyperparameters (a direct call)."""
        values = self.space.validate(params)
        budget = self._budget(None)
        with self._using, self._store.write():  # in that order, as everywhere (_writing)
            number = self.refresh().next_number
            return claims.insert_manual(self._store, self._row.id, number, values, worker, budget)

    def store_outcome(self, claimed: Claimed, outcome: Outcome) -> None:
        """Store a trial's outcome and its unwritten reports, atomically."""
        self.finish([(claimed, outcome)])

    def finish(
        self, done: Sequence[tuple[Claimed, Outcome]], unrun: Sequence[Claimed] = ()
    ) -> None:
        """Store outcomes and give back claimed trials this worker will not run (they
        become queued again, for whoever asks next), in one transaction. A trial in
        ``unrun`` that is no longer running (an interrupt stored it while it ran) or
        whose outcome is in ``done`` (the interrupt came just after) stays as it is."""
        if not done and not unrun:
            return
        when = time.time()
        with self._writing():
            history = self.refresh()
            stored = []
            for claimed, outcome in done:
                if history.trials[claimed.number].state is not TrialState.RUNNING:
                    self._drop_late(claimed)
                    continue
                stored.append((claimed, outcome))
                self._record(
                    claimed, outcome, finished(history.trials[claimed.number], outcome, when)
                )
            kept = {claimed.number for claimed, _ in done}
            for claimed in unrun:
                running = history.trials[claimed.number]
                if claimed.number in kept or running.state is not TrialState.RUNNING:
                    continue
                record, stamp = claims.release(self._store, self._row.id, claimed, running)
                self._cache.apply(record, claimed.trial_id, stamp.seq)
            # last, so that no change applied to the cache after them has a higher seq
            retrying = [(claimed, outcome) for claimed, outcome in stored if outcome.retry]
            if not retrying:
                return
            batch = retries.Batch(self.method, history, self._store, self._row)
            for claimed, outcome in retrying:
                batch.add(history.trials[claimed.number], claimed.trial_id, outcome.error or "")
            if batch.queued:
                self._cache.stale()  # written here, not applied: the next read must look

    def checks_for(self, claimed: Claimed) -> TrialChecks | None:
        """What a running trial needs to consult the method at its check steps; None
        when the method stops no trial early (it would not check one starting afresh,
        without a rung or bracket), as ``should_prune()`` then says. A trial past its
        last rung (bracket 0, or promoted to the top) gets it and finds no check."""
        with self._using:  # (see StudyReader) other threads' checks change the history
            fresh = self.record_of(claimed).replace(rung=None, bracket=None)
            if self.method.next_check(fresh, 0, self._cache.history) is None:
                return None
        return TrialChecks(self, self._cache, claimed)

    def usable(self, claimed: Claimed, outcome: Outcome) -> Outcome:
        """The complete ``outcome`` of a trial its method proposed, failed with the
        reason when it gives the method nothing to go on (:meth:`Method.unusable`)."""
        with self._using:  # (see StudyReader) other threads' checks change the history
            record = self.record_of(claimed)
            why = self.method.unusable(record, outcome.metrics, self._cache.history)
        if why is None:
            return outcome
        return dataclasses.replace(outcome, state=TrialState.FAILED, value=None, error=why)

    def record_of(self, claimed: Claimed) -> TrialRecord:
        """A trial this process claimed, as it last read it (its params, lineage, rung):
        from the cache, read first for a manual trial, which is not cached yet."""
        with self._using:
            trials = self._cache.history.trials
            if claimed.number >= len(trials):
                trials = self.refresh().trials
            return trials[claimed.number]

    def checkpoints_for(self, claimed: Claimed) -> TrialCheckpoints:
        """Where a running trial saves its checkpoints and finds the one it starts from."""
        return TrialCheckpoints(self, claimed)

    def remove_stray_checkpoint_files(self) -> int:
        """Delete the files in this study's checkpoint folder that nothing names and no
        running trial may still be writing, left by processes killed mid-write (trials
        whose worker is gone are marked lost first); returns how many went
        (:func:`hpotrack.checkpoint_sweeps.remove_stray`)."""
        return checkpoint_sweeps.remove_stray(self, self._writing)

    def remove_files_of_lost_trials(self) -> None:
        """Once this process has marked trials lost since it last looked (an ask, or the
        parent of workers seeing one die), delete what their writers left mid-save
        (:meth:`remove_stray_checkpoint_files`): the run that finds a trial lost is often
        the last one, and a temporary file as large as the model stayed after it."""
        if self._lost_unswept:
            self.remove_stray_checkpoint_files()  # marks any found lost meanwhile first
            self._lost_unswept = 0

    def collect_checkpoints(self) -> int:
        """Delete the checkpoints nothing can load any more; returns how many went
        (:func:`hpotrack.checkpoint_sweeps.collect`)."""
        return checkpoint_sweeps.collect(self, self._writing)

    def check(
        self, claimed: Claimed, step: int, value: float, reports: Sequence[MetricRow]
    ) -> bool:
        """Store a running trial's objective at check ``step`` (and its unwritten
        reports), then ask the method whether it goes on. True: prune it now. A manual
        call (``train(lr=...)``) always goes on: it returns what the function returns."""
        if not math.isfinite(value):  # a diverged run (NaN, inf)
            value = worst_value(self.direction)
        with self._writing():
            history = self.refresh()
            if reports:
                self._store.add_metrics(claimed.trial_id, reports)
            record = history.trials[claimed.number]
            rung = self.method.rung(record, step, history)
            stamp = self._store.record_check(self._row.id, claimed.trial_id, step, value, rung)
            updated = record.replace(checks=with_checks(record.checks, {step: value}), rung=rung)
            self._cache.apply(updated, claimed.trial_id, stamp.seq, checked=(step,))
            if updated.origin == Origin.MANUAL.value:
                return False  # the user's own run: its checks are data, it is not stopped
            return self.method.on_report(updated, step, history)

    def _record(self, claimed: Claimed, outcome: Outcome, ended: TrialRecord) -> None:
        """Store an outcome (inside the write lock, right after a refresh); ``ended``
        is the trial's record with it, prepared before the lock. An outcome of a trial
        another process has marked lost meanwhile is dropped (the refresh put that
        record in the cache)."""
        stamp = claims.store_outcome(self._store, self._row.id, claimed, outcome, ended)
        if stamp is None:
            self._drop_late(claimed)
            return
        self._cache.apply(ended, claimed.trial_id, stamp.seq)

    def _drop_late(self, claimed: Claimed) -> None:
        """Say that this process finished a trial the study had already given up on: its
        worker (this process) looked gone to another one, which marked it failed and
        queued a retry where allowed. Storing the outcome now would run the configuration
        twice and count it twice."""
        record = self._cache.history.trials[claimed.number]
        log.warning(
            "trial %d of study %r finished here after another process marked it %s (%s); "
            "its result is not stored: the study went on without it",
            claimed.number,
            self.name,
            record.state.value,
            record.error or "no reason stored",
        )

    def worker(self, provenance: Mapping[str, Any]) -> Worker:
        """Register this process as a worker of the study (one ``runs`` row), in a write
        transaction of its own: outside one, on the connection the process's threads
        share, the row joined another thread's open transaction and went with its
        rollback, and the run's trials named a run that was never stored."""
        with self._store.write():
            run_id = self._store.insert_run(self._row.id, provenance)
        return Worker(run_id=run_id, host=hostname(), pid=os.getpid())

    def has_run(self, worker: Worker, started: float) -> bool:
        """Whether ``worker``, which :meth:`worker` registered with ``started`` in its
        row, is still this process's run of the study in the file the study has open:
        not after the file was deleted or replaced, the study deleted, or a fork."""
        if worker.run_id is None or worker.pid != os.getpid():
            return False
        with self._store.reading():
            return self._store.run_stored(worker.run_id, self._row.id, worker.pid, started)

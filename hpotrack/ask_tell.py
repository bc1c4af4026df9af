"""Ask and tell: trials run by a loop of the user's own (``trial = train.ask()``, then
``train.tell(trial, result)``), for training the function cannot do in one call: jobs
sent to a cluster or a pool, several trials in flight from one process, a notebook that
looks at each trial before the next.

An asked trial is claimed as the run loop claims one (atomically, queued trials first,
the method's proposal otherwise, seen as pending by the methods that model the
history) and is kept alive by the process's heartbeat until it is told. A trial never
told ends as a lost one does once its process has ended: failed "worker lost", and
retried when the study allows retries.
"""

from __future__ import annotations

import contextlib
import os
import threading
import traceback
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hpotrack.errors import HpotrackError, SearchExhausted, StudyDeleted, TrialError
from hpotrack.records import TrialRecord, TrialState
from hpotrack.recovery import heartbeat_for
from hpotrack.runner import CheckpointCollector, interrupted_outcome, interrupts_held
from hpotrack.study import Claimed, Outcome, Study, Worker
from hpotrack.text import plural
from hpotrack.trial import MetricRow, Pruned, Trial
from hpotrack.trial_run import new_trial, returned_outcome, warn_after, with_reports


@dataclass(frozen=True)
class Asked:
    """A trial handed out by :meth:`AskedTrials.ask` and not told yet."""

    trial: Trial
    claimed: Claimed
    study: Study  # as it was opened by the thread that asked
    pid: int  # the asking process: a forked child has a copy of the handle, not the trial


class AskedTrials:
    """The trials one tuned function handed out and has not been told the outcome of
    (any thread may tell a trial another one asked). ``collect_checkpoints``: after a
    tell, delete the checkpoints no trial can start from any more, as ``optimize()``
    does between its trials (see :class:`hpotrack.runner.CheckpointCollector`)."""

    def __init__(self, *, collect_checkpoints: bool) -> None:
        self._asked: dict[int, Asked] = {}  # by id() of the handle
        self._told: weakref.WeakSet[Trial] = weakref.WeakSet()  # for the error's words
        self._lock = threading.Lock()
        self._collect = collect_checkpoints
        # by the study that asked: its trials' saves are counted there, whoever tells
        self._collectors: weakref.WeakKeyDictionary[Study, CheckpointCollector] = (
            weakref.WeakKeyDictionary()
        )

    def ask(self, study: Study, worker: Worker) -> Trial:
        """Claim the study's next trial for ``worker``: its handle. Interrupted (Ctrl-C)
        once the claim is stored, nobody holds the trial, which its process, alive,
        would keep running for ever: it is given back, queued for the next ask."""
        claims: list[Claimed] = []  # filled when the claim commits (see Study.claim)
        beat = heartbeat_for(study.store)
        trial: Trial | None = None
        try:
            try:
                study.claim(worker, None, [], claims)
            except SearchExhausted as stop:
                stop_here = f"study {study.name!r}: {stop}; {self._until(study)}"
                raise SearchExhausted(stop_here) from None
            claimed = claims[0]
            study.remove_files_of_lost_trials()  # the claim may have found some
            trial = new_trial(study, claimed)
            beat.add(trial)
            with self._lock:
                self._asked[id(trial)] = Asked(trial, claimed, study, os.getpid())
        except BaseException:
            if trial is not None:
                beat.discard(trial)
            with interrupts_held(), contextlib.suppress(HpotrackError):
                study.finish([], claims)  # nothing when none was claimed
            raise
        return trial

    def tell(
        self,
        trial: object,
        label: str,
        teller: Callable[[], Study],
        result: object,
        error: BaseException | str | None,
    ) -> TrialRecord:
        """Store how the asked ``trial`` ended, as if its function had returned
        ``result`` or raised ``error`` (a message: raised an error saying that; an exit
        that is no ``Exception``, Ctrl-C, is no fault of the trial: queued to run again,
        as in ``optimize()``), and return the stored record. ``label``: the tuned
        function's name, for errors; ``teller``: the telling thread's handle of the
        study (a Study's cached trials are not shared between threads), opened only
        while the asking study is still stored. Told, the trial has ended and reports
        nothing more, but when nothing was stored for it, its study being there still
        (an error of the file, a lock held too long, say, or Ctrl-C before the write):
        then it is still asked, to be told again."""
        if result is not None and error is not None:
            raise TrialError(_told_both(trial, label, result, error))
        asked = self._take(trial, label)
        trial, claimed = asked.trial, asked.claimed
        reports: Sequence[MetricRow] = ()  # drained for the write, put back if it fails
        study: Study | None = None
        asked_again = False
        try:
            study = teller() if asked.study.is_stored() else None
            if study is None or not study.opens_the_same_study(asked.study):
                raise StudyDeleted.while_used(asked.study.name, asked.study.db_path)
            told = with_reports(_told_outcome(study, asked, result, error), trial)
            reports = told.reports
            study.store_outcome(claimed, told)  # rolled back if it fails
        except StudyDeleted:
            raise
        except BaseException:  # Ctrl-C, say: told again unless it came after the commit
            if study is None or not _ended_in_the_file(study, claimed):
                self._give_back(asked, reports)
                asked_again = True
            raise
        finally:
            if not asked_again:
                trial.finished = True
                heartbeat_for(asked.study.store).discard(trial)
        if self._collect:
            self._collect_checkpoints(asked.study)
        return study.record_of(claimed)

    def _until(self, study: Study) -> str:
        """The end of the error of an ask that found nothing to propose: with the trials
        of ``study`` asked here and not told yet, if any (a method waiting for the
        outcomes of trials in flight, gradient descent's, proposes once they are told)."""
        with self._lock:
            waiting = sum(a.study.opens_the_same_study(study) for a in self._asked.values())
        if not waiting:
            return "nothing to ask"
        are = "is" if waiting == 1 else "are"
        return f"nothing to ask now ({plural(waiting, 'trial')} asked here {are} not told yet)"

    def _take(self, trial: object, label: str) -> Asked:
        """The asked trial ``trial`` is, no longer counted as waiting for its outcome;
        an error when it is not one, or when this process did not ask it (a forked
        child holds a copy of the asking process's trials: its tell would store
        nothing, and its reports would go nowhere)."""
        with self._lock:
            asked = self._asked.get(id(trial))
            if asked is None or asked.trial is not trial:
                told = isinstance(trial, Trial) and trial in self._told
                raise TrialError(_not_asked(trial, label, told=told))
            if asked.pid != os.getpid():
                raise TrialError(_asked_elsewhere(asked, label))
            del self._asked[id(trial)]
            self._told.add(asked.trial)
        return asked

    def _give_back(self, asked: Asked, reports: Sequence[MetricRow]) -> None:
        """Make ``asked`` a trial waiting for its outcome again, its ``reports`` (drained
        for the tell that failed) unwritten again."""
        asked.trial.restore(list(reports))
        asked.trial.finished = False
        with self._lock:
            self._asked[id(asked.trial)] = asked
            self._told.discard(asked.trial)

    def _collect_checkpoints(self, study: Study) -> None:
        """Collect when the trials asked through ``study`` (which counts their saves)
        saved checkpoints since its last collection, paced as the run loop paces it,
        whichever thread tells: a teller's own study counts no save of them."""
        with study.in_use():  # one thread at a time collects through it
            with self._lock:
                kept = self._collectors.get(study)
                if kept is None:  # holding the study weakly: the entry goes with it
                    kept = self._collectors[study] = CheckpointCollector(weakref.proxy(study))
            if kept.due():
                kept.run()


def _ended_in_the_file(study: Study, claimed: Claimed) -> bool:
    """Whether ``claimed`` is no longer running in the study's file: a tell interrupted
    just after its commit stored it (or another process marked it lost meanwhile), and
    telling it again would store nothing. False when the file cannot say."""
    with contextlib.suppress(Exception):
        return study.refresh().trials[claimed.number].state is not TrialState.RUNNING
    return False


def _told_outcome(
    study: Study, asked: Asked, result: object, error: BaseException | str | None
) -> Outcome:
    """The outcome :meth:`AskedTrials.tell` stores (its reports added later), with the
    warnings its run suggests: as :func:`hpotrack.runner.run_trial` ends a trial whose
    function returned ``result`` or raised ``error``."""
    trial, claimed = asked.trial, asked.claimed
    if isinstance(error, BaseException) and not isinstance(error, Exception):  # Ctrl-C
        return interrupted_outcome(trial, error)
    if isinstance(error, Pruned):
        outcome = Outcome(TrialState.PRUNED, trial.last_value, {})
    elif isinstance(error, Exception):
        outcome = Outcome(TrialState.FAILED, None, {}, "".join(traceback.format_exception(error)))
    elif error is not None:
        outcome = Outcome(TrialState.FAILED, None, {}, error or "told failed, without a message")
    else:
        outcome = returned_outcome(study, trial, claimed, result, manual=False)
    warn_after(study, trial, claimed, result, outcome, manual=False)
    return outcome


def checked_error(error: object) -> BaseException | str | None:
    """``error=`` of ``tell()`` as given, or a :class:`TrialError` saying what it takes."""
    if error is None or isinstance(error, (BaseException, str)):
        return error
    raise TrialError(
        f"tell(trial, error=...) takes the exception the trial's training raised, or a "
        f"message, but got {error!r} ({type(error).__name__})"
    )


def _not_asked(trial: object, label: str, *, told: bool) -> str:
    if not isinstance(trial, Trial):
        return (
            f"{label}.tell() takes the trial {label}.ask() returned, but got {trial!r} "
            f"({type(trial).__name__})"
        )
    if told:
        return (
            f"trial {trial.number} of study {trial.study!r} was told already: a trial is "
            f"told once ({label}.ask() hands out a new one)"
        )
    return (
        f"trial {trial.number} of study {trial.study!r} was not handed out by "
        f"{label}.ask(): {label}.tell() takes the trials it asked (the trials of "
        "optimize() and of direct calls are stored when their function returns)"
    )


def _asked_elsewhere(asked: Asked, label: str) -> str:
    return (
        f"trial {asked.trial.number} of study {asked.study.name!r} was asked by process "
        f"{asked.pid}, not this one ({os.getpid()}, a fork of it): tell it from the asking "
        f"process, {label}.tell(trial, result), sending the result there (a pool's "
        "future, a queue)"
    )


def _told_both(trial: object, label: str, result: object, error: BaseException | str) -> str:
    number = f" {trial.number}" if isinstance(trial, Trial) else ""
    return (
        f"{label}.tell() takes a result or error=, not both, but got result={result!r} "
        f"and error={error!r} for trial{number}: {label}.tell(trial, result) for a trial "
        f"that trained, {label}.tell(trial, error=...) for one that did not"
    )

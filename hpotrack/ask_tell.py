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

import threading
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from hpotrack.errors import SearchExhausted, StudyDeleted, TrialError
from hpotrack.records import TrialRecord, TrialState
from hpotrack.recovery import heartbeat_for
from hpotrack.runner import CheckpointCollector, interrupted_reason
from hpotrack.study import Claimed, Outcome, Study, Worker
from hpotrack.trial import Pruned, Trial
from hpotrack.trial_run import new_trial, returned_outcome, warn_after, with_reports


@dataclass(frozen=True)
class Asked:
    """A trial handed out by :meth:`AskedTrials.ask` and not told yet."""

    trial: Trial
    claimed: Claimed
    study: Study  # as it was opened by the thread that asked


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
        self._collectors = threading.local()  # .kept: this thread's, for its study

    def ask(self, study: Study, worker: Worker) -> Trial:
        """Claim the study's next trial for ``worker``: its handle."""
        claims: list[Claimed] = []
        try:
            study.claim(worker, None, [], claims)
        except SearchExhausted as stop:
            raise SearchExhausted(f"study {study.name!r}: {stop}; nothing to ask") from None
        study.remove_files_of_lost_trials()  # the claim may have found some
        claimed = claims[0]
        trial = new_trial(study, claimed)
        heartbeat_for(study.store).add(trial)
        with self._lock:
            self._asked[id(trial)] = Asked(trial, claimed, study)
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
        while the asking study is still stored. Told, the trial has ended, whatever
        happens here: it reports nothing more."""
        asked = self._take(trial, label)
        trial, claimed = asked.trial, asked.claimed
        try:
            study = teller() if asked.study.is_stored() else None
            if study is None or not study.opens_the_same_study(asked.study):
                raise StudyDeleted.while_used(asked.study.name, asked.study.db_path)
            outcome = _told_outcome(study, asked, result, error)
            study.store_outcome(claimed, with_reports(outcome, trial))
        finally:
            trial.finished = True
            heartbeat_for(asked.study.store).discard(trial)
        if self._collect:
            self._collect_checkpoints(study)
        return study.record_of(claimed)

    def _take(self, trial: object, label: str) -> Asked:
        """The asked trial ``trial`` is, no longer counted as waiting for its outcome;
        an error when it is not one."""
        with self._lock:
            asked = self._asked.get(id(trial))
            if asked is None or asked.trial is not trial:
                told = isinstance(trial, Trial) and trial in self._told
                raise TrialError(_not_asked(trial, label, told=told))
            del self._asked[id(trial)]
            self._told.add(asked.trial)
        return asked

    def _collect_checkpoints(self, study: Study) -> None:
        """Collect when this thread's trials of ``study`` saved checkpoints since the
        last collection, paced as the run loop paces it."""
        kept: CheckpointCollector | None = getattr(self._collectors, "kept", None)
        if kept is None or kept.study is not study:
            kept = self._collectors.kept = CheckpointCollector(study)
        if kept.due():
            kept.run()


def _told_outcome(
    study: Study, asked: Asked, result: object, error: BaseException | str | None
) -> Outcome:
    """The outcome :meth:`AskedTrials.tell` stores (its reports added later)."""
    trial, claimed = asked.trial, asked.claimed
    if isinstance(error, Pruned):
        return Outcome(TrialState.PRUNED, trial.last_value, {})
    if isinstance(error, Exception):
        return Outcome(TrialState.FAILED, None, {}, "".join(traceback.format_exception(error)))
    if isinstance(error, BaseException):  # Ctrl-C, say: not the trial's fault
        return Outcome(TrialState.FAILED, None, {}, interrupted_reason(error), retry=True)
    if error is not None:
        return Outcome(TrialState.FAILED, None, {}, error or "told failed, without a message")
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
        return f"trial {trial.number} of study {trial.study!r} was told already"
    return (
        f"trial {trial.number} of study {trial.study!r} was not handed out by "
        f"{label}.ask(): {label}.tell() takes the trials it asked (the trials of "
        "optimize() and of direct calls are stored when their function returns)"
    )

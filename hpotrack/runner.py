"""The run loop: ask -> run the user's function -> tell, until a target, a timeout or the end.

The loop never looks at which method is searching: everything method-specific arrives as a
proposal from :meth:`Study.claim`. Several processes run this same loop against one study.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import signal
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from hpotrack import limits, time_limit
from hpotrack.callbacks import FinishedTrials, TrialCallback
from hpotrack.errors import (
    BudgetSpent,
    GoodEnough,
    PatienceSpent,
    SearchExhausted,
    StopSearch,
    StorageError,
    StudyDeleted,
    TargetReached,
    TooManyFailures,
)
from hpotrack.loader import IMPORTED_AGAIN
from hpotrack.progress import ProgressBar, bar_total
from hpotrack.provenance import SCRIPT_MODULES
from hpotrack.records import TrialState
from hpotrack.recovery import heartbeat_for
from hpotrack.running_trial import running
from hpotrack.signal_handlers import in_main_thread, set_handler
from hpotrack.study import Claimed, Outcome, Study, Worker
from hpotrack.text import PREFIX, plural
from hpotrack.time_limit import TimeLimit, TrialTimedOut
from hpotrack.trial import Pruned, Trial
from hpotrack.trial_run import new_trial, returned_outcome, warn_after, with_reports

log = logging.getLogger("hpotrack")


def run_trial(
    study: Study,
    fn: Callable[..., Any],
    claimed: Claimed,
    *,
    manual: bool = False,
    ctrl_c: CtrlC | None = None,
    timeout: float | None = None,
) -> tuple[Outcome, Any]:
    """Run ``fn`` on a claimed trial (``manual``: a direct call, which its method did
    not propose): its outcome (with the reports not yet written) to store, and what the
    function returned. ``ctrl_c``: the run's :func:`ctrl_c_noted` (None: watched for
    this trial alone). ``timeout``: the run's ``trial_timeout``, after which the
    function is stopped and the trial fails (:mod:`hpotrack.time_limit`).

    Storing is the caller's (with its next ask, or :meth:`Study.store_outcome`), except on Ctrl-C or
    any exit that is not an ``Exception``: then the trial is stored as failed here and the
    exit re-raised, so the database stays consistent whatever stops the process.
    """
    trial = new_trial(study, claimed)
    kwargs: dict[str, Any] = dict(claimed.params)
    if wants_trial(fn):
        kwargs["trial"] = trial
    background = heartbeat_for(study.store)
    background.add(trial)
    result: Any = None
    limit = TimeLimit(timeout)
    try:
        watched = ctrl_c_noted() if ctrl_c is None else nullcontext(ctrl_c)
        with running(trial), watched as noted, limit:
            before = noted.count
            result = fn(**kwargs)
        if noted.count > before:  # caught on the way (scikit-learn's MLP): cut short
            raise KeyboardInterrupt(SWALLOWED)
        if limit.fired:  # caught on the way (an `except BaseException`): stopped all the same
            raise TrialTimedOut(limit.message)
        outcome = returned_outcome(study, trial, claimed, result, manual=manual)
    except Pruned as exc:  # kept for a direct call, which raises it again
        outcome = Outcome(TrialState.PRUNED, trial.last_value, {}, raised=exc)
    except TrialTimedOut as exc:  # its reports and checkpoints stay; not run again
        if not limit.fired:  # the limit of a trial running this search: stops it too
            _store_interrupted(study, claimed, trial, exc)
            raise
        outcome = Outcome(TrialState.FAILED, None, {}, str(exc))
        if trial.stopped_short():  # in its clean-up after its method stopped it, as on Ctrl-C
            outcome = Outcome(TrialState.PRUNED, trial.last_value, {})
    except (StudyDeleted, StorageError):  # found by a report or a checkpoint save: the
        raise  # study cannot store this or any trial, so the run stops; not a failure
    except Exception as exc:
        error = traceback.format_exc() + _imported_again(fn, exc)
        outcome = Outcome(TrialState.FAILED, None, {}, error, raised=exc)
    except BaseException as exc:
        _store_interrupted(study, claimed, trial, exc)
        raise
    finally:
        background.discard(trial)
    warn_after(study, trial, claimed, result, outcome, manual=manual)
    return with_reports(outcome, trial), result


def _store_interrupted(study: Study, claimed: Claimed, trial: Trial, exc: BaseException) -> None:
    """Store a trial that ``exc``, an exit other than an ``Exception``, stopped (see
    :func:`interrupted_outcome`), before the exit goes on."""
    with interrupts_held():
        study.store_outcome(claimed, with_reports(interrupted_outcome(trial, exc), trial))


def _imported_again(fn: Callable[..., Any], exc: Exception) -> str:
    """A hint for a NameError in a script that a worker process (``n_jobs``) or
    ``hpotrack resume`` imported again: its ``if __name__ == "__main__":`` block did not
    run there, so names it set (data loaded there, say) do not exist."""
    if not isinstance(exc, NameError) or getattr(fn, "__module__", None) == "__main__":
        return ""
    if getattr(fn, "__module__", None) not in SCRIPT_MODULES:
        return ""
    return (
        f"{PREFIX}{IMPORTED_AGAIN}: set the names the function uses (data, say) at module level\n"
    )


INTERRUPTED = "interrupted (KeyboardInterrupt)"  # such reasons: retries.is_interruption
SWALLOWED = "the function caught Ctrl-C and returned"


def interrupted_outcome(trial: Trial, exc: BaseException) -> Outcome:
    """How a trial that ``exc``, an exit other than an ``Exception`` (Ctrl-C), stopped is
    stored: failed and queued to run again (no fault of its own), or pruned when it was
    in its clean-up after its method stopped it."""
    if trial.stopped_short():
        return Outcome(TrialState.PRUNED, trial.last_value, {})
    return Outcome(TrialState.FAILED, None, {}, interrupted_reason(exc), retry=True)


def interrupted_reason(exc: BaseException) -> str:
    """The stored reason of a trial that an exit other than an ``Exception`` stopped
    (Ctrl-C, SIGTERM, ``sys.exit``); each starts with "interrupted"."""
    if isinstance(exc, KeyboardInterrupt):  # ParentGone and SWALLOWED carry a message
        return f"interrupted ({exc})" if str(exc) else INTERRUPTED
    if isinstance(exc, Terminated):
        return "interrupted (SIGTERM)"
    return f"interrupted ({exc!r})"


class CtrlC:
    """How many Ctrl-Cs arrived while :func:`ctrl_c_noted` watched."""

    def __init__(self) -> None:
        self.count = 0


@contextmanager
def ctrl_c_noted() -> Iterator[CtrlC]:
    """Count the Ctrl-Cs that arrive (the handler before still runs): a function that
    catches the KeyboardInterrupt and returns early (scikit-learn's MLP warns "Training
    interrupted by user" and returns the half-trained model) would have its trial stored
    complete with a value it never earned, and the run would go on. Watched once per run,
    not per trial (setting a handler costs microseconds); only in the main thread and over
    a Python handler (the default raises KeyboardInterrupt)."""
    noted = CtrlC()
    previous = signal.getsignal(signal.SIGINT)
    if not in_main_thread() or not callable(previous):
        yield noted
        return

    def note(signum: int, frame: Any) -> Any:
        noted.count += 1
        return previous(signum, frame)

    set_handler(signal.SIGINT, note)
    try:
        yield noted
    finally:
        if signal.getsignal(signal.SIGINT) is note:  # else a handler changed it: keep that
            signal.signal(signal.SIGINT, previous)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Ignore Ctrl-C while an interrupted run stores what it did: a second Ctrl-C (a
    user pressing it twice) would break that write and leave trials running, to be
    found lost later. Lasts milliseconds; only in the main thread."""
    if not in_main_thread():
        yield
        return
    previous = set_handler(signal.SIGINT, ignored)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def ignored(signum: int, frame: object) -> None:
    """A signal handler that does nothing: where a signal must not stop the process, in
    place of ``SIG_IGN``, under which a signal that arrived just before is said as
    "Exception ignored ... Signal 2 ignored due to race condition" with a traceback."""


class Terminated(SystemExit):
    """SIGTERM arrived (a job scheduler pre-empting the job, ``kill``): the process exits
    with status 143, as it would have, once the running trial is stored as interrupted."""


@contextmanager
def terminated_as_interrupted() -> Iterator[None]:
    """While trials run, SIGTERM stops them as Ctrl-C does: the running trial is stored as
    interrupted and queued again (it does not use up ``retries``, as being lost would),
    then the process exits (:class:`Terminated`). Only in the main thread, and only
    where SIGTERM still has Python's default action (an application's own handler, or
    ``SIG_IGN``, set before the run wins and is left alone).

    At the end the disposition it replaced is set back, unless the function set one of
    its own during the run (a training library's handler that saves a checkpoint on
    pre-emption, say): that one stays, as it would without hpotrack; before, it was
    reset to the default, and the program's next SIGTERM killed it unsaved."""
    main = in_main_thread()
    if not main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise Terminated(128 + signum)

    previous = set_handler(signal.SIGTERM, stop)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is stop:  # else the function set its own: keep it
            signal.signal(signal.SIGTERM, previous)


@functools.lru_cache(maxsize=256)
def wants_trial(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` declares a parameter named ``trial`` (cached: signatures are slow)."""
    try:
        return "trial" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


@dataclasses.dataclass(frozen=True)
class Ran:
    """How one process's loop ended: the trials it ran, and whether the deadline ended it
    (the caller says so, with the user's timeout and, for workers, every worker's count)."""

    trials: int
    timed_out: bool


def optimize_here(
    study: Study,
    fn: Callable[..., Any],
    worker: Worker,
    *,
    n_trials: int | None,
    deadline: float | None,
    max_failures: int,
    progress: bool | None,
    collect_checkpoints: bool = True,
    stops: limits.Stops = limits.NO_STOPS,
    started_before: int | None = None,
    callbacks: Sequence[TrialCallback] = (),
) -> Ran:
    """Run trials in this process until a stop condition. ``deadline``: a ``time.time()``
    after which no trial starts (wall-clock time, the same in every worker process: the
    user's timeout counts from their call, not from each worker's start).
    ``collect_checkpoints``: delete checkpoints no trial can start from any more, after
    each ask that stored a trial which saved one (at most a tenth of the time:
    :class:`CheckpointCollector`) and at the end. Files a killed process left behind
    are deleted first in any case. ``stops``: stop starting trials once the
    study reaches one (``max_budget`` budget steps trained in total, ``patience``
    complete trials without improving on the best, a ``good_enough`` trial), and stop
    each trial at its ``trial_timeout``.
    ``started_before``: in a worker process of ``n_jobs``, the study's started trials when
    the parent began the run, so that the trials of the other workers count as the run's
    (None: the run is this process's alone); a run that started none says so.
    ``callbacks``: called with each trial of the study that finished, once stored (after
    each ask, which stores the trials run before it, and at the end)."""
    limit = n_trials if n_trials is not None else study.target
    timed_out = False
    failures: list[str] = []
    batch = Batch()
    collection = CheckpointCollector(study) if collect_checkpoints else None
    ran = 0
    done: list[tuple[Claimed, Outcome]] = []  # stored by the next ask, or at the end
    claims: list[Claimed] = []  # claimed and not run yet: given back if the loop stops
    deleted = False  # the study is gone: nothing is left to store or collect
    # a trial stopped at its trial_timeout, whose outcome is not stored yet: what it may
    # have left mid-save goes once it is (the start of the next run would find it too late
    # for a long run that stops many such trials)
    cut_short = False
    stopped = ""  # why the search stopped: said once the bar has drawn its last line
    study.remove_stray_checkpoint_files()
    finished = FinishedTrials(study, callbacks)
    try:
        total = bar_total(study, limit, progress)
        bar = ProgressBar(study, total, enabled=progress, stops=stops, unstored=done)
        with bar, ctrl_c_noted() as ctrl_c:
            while not (timed_out := limits.past(deadline)):
                if not claims:
                    try:  # stores `done` (then empties it) and fills `claims`, atomically
                        study.claim(
                            worker,
                            limit,
                            done,
                            claims,
                            batch.size,
                            stops=stops,
                            deadline=deadline,
                        )
                    except StopSearch as stop:
                        if isinstance(stop, TargetReached) and n_trials is None:
                            raised = _target_raised(study, limit)
                            if raised is not None:  # by another process meanwhile
                                limit = raised
                                bar.retarget(raised)
                                continue
                        stopped = _stop_message(study, stop, ran, started_before)
                        break
                    batch.asked(study.store.last_wait, contended=study.contended)
                    finished.tell()  # the trials that ask stored, and others' meanwhile
                    study.remove_files_of_lost_trials()
                    if cut_short:
                        study.remove_stray_checkpoint_files()
                        cut_short = False
                    if collection is not None and collection.due():
                        collection.run()
                    if not claims:  # the deadline passed while the ask waited
                        continue
                claimed = claims[0]  # in `claims` until kept: an interrupt gives it back
                outcome, _ = run_trial(
                    study, fn, claimed, ctrl_c=ctrl_c, timeout=stops.trial_timeout
                )
                done.append((claimed, outcome))
                claims.pop(0)
                cut_short = cut_short or time_limit.timed_out(outcome.error or "")
                batch.ran()
                ran += 1
                bar.update()
                if outcome.state is not TrialState.FAILED:
                    failures.clear()
                    continue
                log.warning(  # named as every other trial's warning is: by its study too
                    "trial %d of study %r failed: %s",
                    claimed.number,
                    study.name,
                    _headline(outcome.error),
                )
                failures.append(outcome.error or "")
                if len(failures) >= max_failures:
                    raise TooManyFailures(
                        f"{plural(len(failures), 'trial')} in a row failed in study "
                        f"{study.name!r}; "
                        f"stopping so you can look. The first one failed with:\n{failures[0]}"
                        + _all_timed_out(failures, max_failures)
                    )
        study.remove_files_of_lost_trials()  # the ask that stopped may have found them
        if stopped:  # below the bar's last line, which reaches the target: not between
            log.info("%s", stopped)  # a bar a few trials short and the same bar again
    except StudyDeleted:
        deleted = True
        raise
    finally:
        if not deleted:
            with interrupts_held():
                study.finish(done, claims)
            if cut_short:
                study.remove_stray_checkpoint_files()
            if collection is not None and collection.saved_since():
                collection.run()
        study.store.checkpoint_wal()
    finished.tell()  # the trials stored by the last ask or at the end
    return Ran(ran, timed_out)


def _all_timed_out(failures: list[str], max_failures: int) -> str:
    """What to add to the error of ``failures`` in a row when every one timed out: a
    search may meet several slow configurations in a row (a kernel SVM's large ``C``),
    and the error named neither option that lets it go on past them."""
    if not all(time_limit.timed_out(error) for error in failures):
        return ""
    which = "Each of them" if len(failures) > 1 else "It"
    return (
        f"\n{which} timed out: a longer trial_timeout, or a larger max_failures of "
        f"@hp.tune ({max_failures} now), lets the search go on past slow configurations"
    )


class CheckpointCollector:
    """When a worker deletes the checkpoints nothing can load any more
    (:meth:`Study.collect_checkpoints`): after a trial that saved one, unless collecting
    would then take more than ``SHARE`` of the worker's time. A collection reads every
    checkpoint row and trial, so its cost grows with the study, inside the write lock;
    trials that train for seconds get one after each, sub-millisecond ones one in so
    many that their cost per trial stays flat (the files wait a few trials longer)."""

    SHARE = 0.1

    def __init__(self, study: Study) -> None:
        self.study = study
        self._collected = 0  # study.checkpoints_saved when checkpoints were last collected
        self._next = 0.0  # time.monotonic() before which the next one waits

    def saved_since(self) -> bool:
        return self.study.checkpoints_saved > self._collected

    def due(self) -> bool:
        return self.saved_since() and time.monotonic() >= self._next

    def run(self) -> None:
        began = time.monotonic()
        self._collected = self.study.checkpoints_saved
        self.study.collect_checkpoints()
        self._next = began + (time.monotonic() - began) / self.SHARE


class Batch:
    """How many trials one ask claims: one, unless trials are so short that waiting for
    the write lock takes longer than running them while other workers are writing too
    (several processes on a sub-millisecond function). Then each ask claims up to twice
    as many as before, so the transaction's fixed cost is shared; as soon as trials take
    longer than the wait, the size halves back towards one. Real training functions
    never leave one."""

    MAX = 16
    SHORT_S = 1e-3  # trials longer than this never batch: the lock is not their bottleneck

    def __init__(self) -> None:
        self.size = 1
        self._waited = 0.0
        self._since = time.perf_counter()
        self._trials = 0

    def asked(self, waited: float, contended: bool) -> None:
        """An ask just returned after waiting ``waited`` seconds for the lock, having
        found trials changed by other workers (``contended``) or not."""
        self._waited = waited if contended else 0.0
        self._since = time.perf_counter()
        self._trials = 0

    def ran(self) -> None:
        """A trial claimed by the last ask has run; resize once the batch is used up."""
        self._trials += 1
        if self._trials < self.size:
            return
        per_trial = (time.perf_counter() - self._since) / self._trials
        if per_trial < self.SHORT_S and self._waited > per_trial:
            self.size = min(2 * self.size, self.MAX)
        else:
            self.size = max(1, self.size // 2)


def _target_raised(study: Study, limit: int | None) -> int | None:
    """The stored target, when another process raised it above ``limit`` since this run
    read it: a run without ``n_trials`` works toward the study's target as it stands."""
    stored = study.target
    return stored if stored is not None and (limit is None or stored > limit) else None


def _stop_message(study: Study, stop: StopSearch, ran: int, started_before: int | None) -> str:
    """Why the search stopped, for the log: ``stop``'s reason, with the study's name
    when it is the method's (a method never knows it), and, when the run started no
    trial (nor did the other workers since ``started_before``), what would give it some."""
    named = isinstance(stop, SearchExhausted)
    said = f"study {study.name!r}: {stop}" if named else str(stop)
    ran_none = not ran and (started_before is None or study.refresh().n_started <= started_before)
    return said + (_nothing_to_run(stop) if ran_none else "")


def _nothing_to_run(stop: StopSearch) -> str:
    if isinstance(stop, TargetReached):
        return "; nothing to run (pass a larger n_trials to extend the study)"
    if isinstance(stop, BudgetSpent):
        return "; nothing to run (pass a larger max_budget to train more)"
    if isinstance(stop, PatienceSpent):
        return "; nothing to run (pass a larger patience to search on)"
    if isinstance(stop, GoodEnough):
        return "; nothing to run (pass a better good_enough to search on)"
    return "; nothing to run"


def _headline(text: str | None) -> str:
    """What a failure was, in one line: of a traceback, the first line of the exception
    raised last (the first unindented line after its frames), else the first line."""
    lines = (text or "").strip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
    if starts:
        after = lines[starts[-1] + 1 :]
        headline = next((line for line in after if not line.startswith(" ")), lines[-1])
        hint = lines[-1] if lines[-1].startswith(PREFIX) else ""  # _imported_again
        return f"{headline}; {hint.removeprefix(PREFIX)}" if hint else headline
    return lines[0] if lines else ""

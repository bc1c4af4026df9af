"""``optimize(n_jobs=N)``: N worker processes that share one study through the database.

Each worker imports the tuned function again from its file (spawn, never fork: a forked
SQLite connection is unsafe) and runs the ordinary loop. The parent only waits, shows the
study-wide progress, says the workers' log messages (:mod:`hpotrack.worker_logs`) and
reports the first worker error.
"""

from __future__ import annotations

import inspect
import io
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpotrack.callbacks import FinishedTrials, TrialCallback
from hpotrack.child_processes import end_child_processes
from hpotrack.errors import HpotrackError, OptionError
from hpotrack.limits import NO_STOPS, Stops
from hpotrack.loader import load_function, main_block_fix, one_line
from hpotrack.progress import ProgressBar, bar_total
from hpotrack.provenance import (
    callable_name,
    described,
    function_reference,
    started_as,
    started_by,
)
from hpotrack.runner import Ran, Terminated, ignored, terminated_as_interrupted
from hpotrack.signal_handlers import release_sigint, set_handler, sigint_held_for_children
from hpotrack.terminal import clear_lines_for_the_parents_bar
from hpotrack.text import PREFIX, plural
from hpotrack.worker_logs import Relay, forward_to_parent

if TYPE_CHECKING:
    from hpotrack.study import Study
    from hpotrack.tune import TunedFunction


log = logging.getLogger("hpotrack")
INTERRUPTED = 130  # a worker's exit code after a KeyboardInterrupt (128 + SIGINT, as shells)
STOP_GRACE_S = 10.0  # how long stopped workers have, together, to store their trials and exit
REDRAW_EVERY_S = 0.5  # how often the parent redraws the progress bar while nothing happens
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)
"""The variables that size the thread pools of OpenMP (scikit-learn's forests and
boosting), BLAS (numpy, scipy), numexpr and numba, read as each library loads."""
PROCESS_VARIABLE = "LOKY_MAX_CPU_COUNT"  # the CPUs joblib's n_jobs=-1 counts


class ParentGone(KeyboardInterrupt):
    """Stops a worker whose parent process died, as Ctrl-C does (its trial is queued to
    run again); its message is the trial's reason."""


_parent_gone = threading.Event()


def run_workers(
    tuned: TunedFunction,
    study: Study,
    jobs: int,
    *,
    n_trials: int | None,
    deadline: float | None,
    progress: bool | None,
    stops: Stops = NO_STOPS,
    callbacks: Sequence[TrialCallback] = (),
) -> Ran:
    """Run ``jobs`` workers until the study's target, the end of the search or
    ``deadline`` (a ``time.time()``, at which every worker stops starting trials); a
    worker that dies is replaced. Returns the trials the workers ran, and whether the
    deadline ended the run. ``callbacks`` are called here, in the calling process, with
    each trial of the study that finished (found in the database as the bar is)."""
    reference = importable_reference(tuned.fn)
    workers: set[int | None] = set()  # every worker's pid: the trials they ran
    started = study.refresh().n_started  # trials after these are the run's
    relay = Relay()  # for the whole run: a worker started to replace one tells no news
    finished = FinishedTrials(study, callbacks)
    with terminated_as_interrupted():  # SIGTERM stops the workers as Ctrl-C does
        while jobs > 0:
            died = _run_round(
                reference,
                study,
                jobs,
                n_trials,
                deadline,
                progress,
                stops,
                workers,
                started,
                relay,
                finished,
            )
            if not died:
                break
            exited = [code for code in died.values() if code > 0]
            code = exited[0] if exited else next(iter(died.values()))
            how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
            lost = study.recover_lost_now()  # its pid is gone: no need to wait for a heartbeat
            study.remove_files_of_lost_trials()  # what it left mid-save, if the others finish
            history = study.refresh()
            ran_before_dying = any(t.pid in died for t in history.trials)
            none_ran = len(died) == jobs and not ran_before_dying
            if exited and not ran_before_dying:  # importing the script failed, say: it said why
                raise HpotrackError(
                    f"a worker process died ({how}) before it ran a trial: see above"
                )
            target = n_trials if n_trials is not None else study.target
            if target is not None:  # no more workers than trials left
                jobs = min(jobs, target - history.n_started)
            if jobs <= 0 or (deadline is not None and time.time() >= deadline):
                log.warning("a worker process died (%s); the others finished the run", how)
                break
            requeued = (
                f": {plural(lost, 'trial')} lost, queued again as retries= allow" if lost else ""
            )
            if stops.asked_to_stop(study.stop_requests):
                # new workers would only find the request (hpotrack stop) and end
                log.warning(
                    "a worker process died (%s)%s; the study was asked to stop, so no new "
                    "worker starts",
                    how,
                    requeued,
                )
                break
            if none_ran:  # every worker killed as it started: new ones might be too, forever
                raise HpotrackError(
                    f"the worker processes died ({how}) before any of them started a trial"
                )
            log.warning(
                "a worker process died (%s)%s; starting %s",
                how,
                requeued,
                plural(jobs, "new worker"),
            )
    return _ran(study, workers, n_trials, deadline)


def importable_reference(fn: Callable[..., Any]) -> dict[str, Any]:
    """What worker processes import ``fn`` by; an error when nothing can (it was defined
    in a notebook cell, IPython, ``python -c`` or stdin, or its name does not lead back to
    it: :func:`_not_found_by_name`). ``optimize`` checks it before it
    stores anything, so a refused call leaves the study as it was."""
    reference = function_reference(fn)
    reason = _not_found_by_name(fn)
    if reason is not None:
        code = inspect.isfunction(fn) or inspect.ismethod(fn)  # a partial has no file
        typed = code and not reference["path"]  # in a notebook, say
        where = " in a file (this one was defined interactively)" if typed else ""
        raise OptionError(
            f"n_jobs > 1 needs a function that worker processes can import by its name, and "
            f"{reason}: tune a function defined with def at module level{where}, or use "
            "n_jobs=1"
        )
    if not reference["path"]:
        raise OptionError(
            f"n_jobs > 1 needs {callable_name(fn)} in a module or script file that worker "
            "processes can import (it was defined interactively); use n_jobs=1 or move it "
            "to a file"
        )
    return reference


def _not_found_by_name(fn: Callable[..., Any]) -> str | None:
    """Why a worker process could not find ``fn`` by its module and qualified name, or
    None when it could: a lambda and a nested function have no such name (``<lambda>``,
    ``<locals>`` in it), nor a partial or a callable object, and a method bound to an
    instance leads to its class's function, called without the instance. Decided from
    the name alone: where the module is a script run another way (under ``python -m
    cProfile``, say, whose ``__main__`` is a plain dict), the workers still import the
    file."""
    qualname = getattr(fn, "__qualname__", None)
    if not isinstance(qualname, str):
        return f"{described(fn)} has no name of its own"
    if qualname.endswith("<lambda>"):
        return "a lambda has none"
    if "<locals>" in qualname:
        outer, _, name = qualname.rpartition(".<locals>.")
        return f"{name} is defined inside {outer.replace('.<locals>', '')}(), out of their reach"
    if "<" in qualname:
        return f"{qualname} is not one"
    if inspect.ismethod(fn) and not inspect.isclass(fn.__self__):
        return f"{qualname} is a method bound to an instance, which they do not have"
    return None


def _ran(
    study: Study, workers: set[int | None], n_trials: int | None, deadline: float | None
) -> Ran:
    """What the workers did: the trials they started (by their pids, not those of other
    processes sharing the study), and whether the deadline ended the run (it passed
    while the study was short of its target)."""
    history = study.refresh()
    ran = sum(t.pid in workers for t in history.trials if t.pid is not None)
    target = n_trials if n_trials is not None else study.target
    short = target is None or history.n_started < target
    return Ran(ran, deadline is not None and time.time() >= deadline and short)


def _run_round(
    reference: dict[str, Any],
    study: Study,
    jobs: int,
    n_trials: int | None,
    deadline: float | None,
    progress: bool | None,
    stops: Stops,
    workers: set[int | None],
    started: int,
    relay: Relay,
    finished: FinishedTrials,
) -> dict[int | None, int]:
    """Run ``jobs`` worker processes to their end (their pids added to ``workers``); the
    exit codes of those that died, by process id. Their log records are said by
    ``relay`` as they come, the trials that finished told to ``finished``'s callbacks;
    the first error a worker reported is raised, and a callback's error stops the
    workers (their trials stored as interrupted, to run again first) and is raised."""
    context = multiprocessing.get_context("spawn")
    results: Any = context.Queue()  # the workers' errors and log records
    total = bar_total(study, n_trials or study.target, progress)
    bar = ProgressBar(study, total, enabled=progress, stops=stops, workers=True)
    level = log.getEffectiveLevel()  # a worker imports the script, not its logging set-up
    job = (
        reference,
        str(study.db_path.resolve()),
        study.name,
        n_trials,
        deadline,
        stops,
        started,
        started_as(),  # resume's command line, a notebook's cells: the workers' runs record it
        getattr(sys.stdout, "errors", None),
        bar.enabled,  # what a worker writes on the terminal must clear the bar's line
    )
    taking_signals = context.RawArray("b", jobs)  # 1 once that worker's _work runs
    processes = [
        context.Process(target=_work, args=(*job, results, level, taking_signals, i), daemon=True)
        for i in range(jobs)
    ]
    errors: list[BaseException] = []
    try:
        with cpu_shares(jobs), sigint_held_for_children():
            for process in processes:
                process.start()
                workers.add(process.pid)
        with bar:
            while running := [p for p in processes if p.is_alive()]:
                _wait_for_news(results, running, REDRAW_EVERY_S)
                _collect(results, errors, relay)
                bar.update()
                _tell(finished, processes, taking_signals, results, relay)
                _stop_if_interrupted(processes)
        for process in processes:
            process.join()
        _collect(results, errors, relay)
        _stop_if_interrupted(processes)
        finished.tell()  # every worker ended: nothing left to stop
    except (KeyboardInterrupt, Terminated) as exc:
        signum = signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT
        _interrupt(processes, signum, taking_signals)
        _collect(results, [], relay)  # what they said as they stopped
        raise exc.with_traceback(None) from None  # from here up, not multiprocessing's frames
    if errors:
        raise errors[0]
    return {p.pid: code for p in processes if (code := p.exitcode) not in _STOPPED}


def _tell(
    finished: FinishedTrials,
    processes: Sequence[BaseProcess],
    taking_signals: Any,
    results: Any,
    relay: Relay,
) -> None:
    """Hand the trials that finished to the callbacks; a callback's error stops the
    workers as Ctrl-C does (their trials stored as interrupted, to run again first),
    then goes up to ``optimize()``."""
    try:
        finished.tell()
    except Exception:
        _interrupt(processes, signal.SIGINT, taking_signals)
        _collect(results, [], relay)
        raise


_STOPPED = (0, None, -signal.SIGTERM)
"""Exit codes of workers that stopped rather than died: done, or SIGTERM while spawn
imported the script, before :func:`_work` took SIGTERM over (then it would have stored
its trial as interrupted and exited with 0: SIGTERM to one worker stops only that one)."""


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity (``taskset``, a container's
    cpuset) where the system tells it, else every CPU of the machine."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


_cpu_shares_lock = threading.Lock()  # held while cpu_shares has set the variables


@contextmanager
def cpu_shares(jobs: int) -> Iterator[None]:
    """Give the worker processes started inside a share of the CPUs each
    (``usable_cpus() // jobs``, at least 1) through the variables they inherit: their
    BLAS and OpenMP libraries each sized a pool of one thread per CPU, so ``jobs``
    workers ran ``jobs`` times as many threads as CPUs, and measured, n_jobs=2 on 2 CPUs
    took 2-4 times as long as n_jobs=1 (gradient boosting's OpenMP threads spin while
    they wait for a CPU). The variables are set in this process only while the workers
    start (spawn copies its environment), so that every library a worker loads, and the
    processes it starts (joblib's ``n_jobs=-1`` counts ``LOKY_MAX_CPU_COUNT``), sees
    them. Where the user set any of :data:`THREAD_VARIABLES` (or the joblib one), those
    are theirs and none of that group is set.

    One ``optimize()`` at a time sets them (runs in several threads of a process: a
    web application's, say): a second run starting its workers meanwhile took the
    first one's variables for the user's and set none, and the first one then removed
    them before the second one's workers had started, which got none."""
    with _cpu_shares_lock:
        share = str(max(1, usable_cpus() // jobs))
        chosen = {name: share for name in THREAD_VARIABLES}
        if any(name in os.environ for name in THREAD_VARIABLES):
            chosen = {}
        if PROCESS_VARIABLE not in os.environ:
            chosen[PROCESS_VARIABLE] = share
        os.environ.update(chosen)
        try:
            yield
        finally:
            for name in chosen:
                os.environ.pop(name, None)


def refuse_while_a_worker_imports(call: str = "optimize()") -> None:
    """End a worker process that is still importing the user's script when the script
    calls ``optimize()`` (or a tuned function: ``call``) at module level: each worker
    would start workers of its own (multiprocessing then fails with tracebacks about its
    "bootstrapping phase" that never name the fix), or record a manual trial of its own.
    The worker prints one line saying the fix and exits."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise SystemExit(  # the worker's one line, then the parent's error
            f"{PREFIX}{call} ran while a worker process imported your script: "
            f"n_jobs > 1 starts processes that import it again, so call {call} under "
            '`if __name__ == "__main__":`'
        )


def _work(
    reference: dict[str, Any],
    db: str,
    study: str,
    n_trials: int | None,
    deadline: float | None,
    stops: Stops,
    started: int,
    parent_run: tuple[list[str] | None, dict[str, str] | None],
    output_errors: str | None,
    bar_shown: bool,
    results: Any,
    level: int,
    taking_signals: Any,
    index: int,
) -> None:
    """Body of one worker process. Its errors and its log records from ``level`` up
    (the parent's level of the ``hpotrack`` logger) go to the parent through
    ``results``; its run records what ``parent_run`` says of the parent (its ``hpotrack
    resume`` command line, or None: ``sys.argv``, the parent's too; the IPython cells
    that ran it, or None), and its standard output handles what it cannot encode with
    the parent's ``output_errors``; while the parent shows its progress bar
    (``bar_shown``), what it writes on the terminal starts on a cleared line. It sets
    ``taking_signals[index]`` once its handlers are set, and takes the SIGINT the parent
    held while starting it (``sigint_held_for_children``)."""
    from hpotrack.tune import tuned_function

    _stop_once()
    _may_start_processes()
    _write_as_the_parent(output_errors)  # before the script is imported: it may print
    if bar_shown:
        clear_lines_for_the_parents_bar()
    try:
        taking_signals[index] = 1
        release_sigint()  # a Ctrl-C that came as spawn imported the script: raised here
        _stop_when_the_parent_dies()  # may raise ParentGone at once: inside the try
        tuned = tuned_function(load_function(reference), study)
        forward_to_parent(results, level)  # after the script's own logging set-up, if any
        if tuned is None:
            fix = main_block_fix(reference, "apply @hp.tune to it")
            raise HpotrackError(f"{reference['qualname']} is not decorated with @hp.tune{fix}")
        with started_by(*parent_run):
            tuned.optimize_in_process(
                Path(db),
                n_trials,
                deadline,
                False,
                study=study,
                stops=stops,
                started_before=started,
            )
    except Terminated:  # its trial is stored as interrupted; the other workers go on
        return
    except KeyboardInterrupt:  # its trial is stored as interrupted; the parent stops the run
        raise SystemExit(INTERRUPTED) from None
    except BaseException as exc:  # the parent raises it; its traceback stays here
        results.put(
            exc
            if isinstance(exc, HpotrackError)
            else HpotrackError(
                f"worker failed: {one_line(exc) if isinstance(exc, Exception) else repr(exc)}"
            )
        )
        raise SystemExit(1) from None
    finally:  # its run is over: a parent dying now (SIGTERM to the whole job, say) has
        # nothing left to stop, and ParentGone raised on the way out is a stray traceback
        set_handler(signal.SIGINT, ignored)
        set_handler(signal.SIGTERM, ignored)
        end_child_processes()


def _may_start_processes() -> None:
    """Let the tuned function start processes of its own, as it can with ``n_jobs=1``.
    The parent starts its workers as daemons, so that they end with it; but a daemonic
    process may not start processes, and a trial that did (``multiprocessing.Pool``,
    a PyTorch ``DataLoader(num_workers=2)``) failed with "daemonic processes are not
    allowed to have children", while joblib (``cross_val_score(..., n_jobs=-1)``) ran
    one job at a time and warned at every call. Only this process's own view of itself
    changes: the parent still ends it with itself."""
    multiprocessing.current_process().daemon = False


def _write_as_the_parent(errors: str | None) -> None:
    """Make this worker's standard output handle characters its encoding cannot write
    as the parent's does (``errors``). ``hpotrack resume`` escapes them (a study named
    "日本" printed on a Latin-1 terminal); its workers' fresh output did not, so a
    script printing that name failed every trial with --jobs 2, and ran with --jobs 1."""
    stream = sys.stdout
    if errors and isinstance(stream, io.TextIOWrapper) and stream.errors != errors:
        stream.reconfigure(errors=errors)


def _stop_once() -> None:
    """Ctrl-C in a terminal reaches a worker twice: from the terminal (the whole process
    group gets it) and passed on by the parent; a scheduler's SIGTERM to the whole job
    reaches it from the scheduler, then from the parent. The first stops the
    worker (SIGTERM as :class:`Terminated`, as without workers); another, arriving while
    the worker stores its interrupted trial, would break that write and leave the trial
    running (later "worker lost", using up ``retries``; a SIGINT after a SIGTERM kept the
    parent waiting 10 s for the worker). So a worker takes the first and ignores the rest."""

    def first(signum: int, frame: object) -> None:
        # the rest to a handler that does nothing (not SIG_IGN: see runner.ignored)
        set_handler(signal.SIGINT, ignored)
        set_handler(signal.SIGTERM, ignored)
        if signum == signal.SIGTERM:
            raise Terminated(128 + signum)
        if _parent_gone.is_set():
            raise ParentGone("the parent process is gone")
        raise KeyboardInterrupt

    set_handler(signal.SIGINT, first)
    set_handler(signal.SIGTERM, first)


def _stop_when_the_parent_dies() -> None:
    """A worker whose parent is killed (kill -9, a job scheduler) stops as on Ctrl-C, its
    running trial queued to run again, instead of running on as an orphan."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        _parent_gone.set()
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="hpotrack-parent-watch", daemon=True).start()


def _stop_if_interrupted(processes: Sequence[BaseProcess]) -> None:
    """A worker that a KeyboardInterrupt stopped (raised by the tuned function, or SIGINT
    sent to that process alone) stops the run, as the interrupt would with ``n_jobs=1``:
    raise it here, and the caller passes it on to the other workers. Before, the others
    went on and ``optimize()`` returned as if nothing had happened; when every worker was
    interrupted, it returned quietly short of its target."""
    # -SIGINT: the function gave SIGINT back its default action (one that came while spawn
    # imported the script waited for _work: sigint_held_for_children)
    stopped = [p.pid for p in processes if p.exitcode in (INTERRUPTED, -signal.SIGINT)]
    if stopped:
        log.warning(
            "worker process %s was interrupted (KeyboardInterrupt); stopping the others", stopped[0]
        )
        raise KeyboardInterrupt


def _wait_for_news(results: Any, running: Sequence[BaseProcess], timeout: float) -> None:
    """Wait until a worker sends something (``results``), one of ``running`` ends (also
    one that ended since it was found running: its sentinel stays ready), or ``timeout``
    seconds pass. Waiting for what they send alone, the parent saw that the workers had
    ended only once that wait ran out: every ``optimize(n_jobs=N)`` returned up to half
    a second after its workers had ended, and a worker's KeyboardInterrupt stopped the
    others up to that much later."""
    # the queue's reading end (multiprocessing documents no public one to wait on)
    multiprocessing.connection.wait([results._reader, *(p.sentinel for p in running)], timeout)


def _collect(results: Any, errors: list[BaseException], relay: Relay) -> None:
    """Take what the workers have sent, without waiting (:func:`_wait_for_news` waits):
    log records are said through ``relay``, errors added to ``errors``."""
    try:
        while True:
            sent = results.get_nowait()
            if isinstance(sent, logging.LogRecord):
                relay.say(sent)
            else:
                errors.append(sent)
    except queue.Empty:
        return


def _interrupt(processes: Sequence[BaseProcess], signum: int, taking_signals: Any) -> None:
    """Pass the parent's Ctrl-C (SIGINT) or SIGTERM on, so each worker marks its running
    trial as interrupted by it. The same signal, not SIGINT for both: after a SIGTERM to
    the whole job, a SIGINT arriving while the worker's SIGTERM was pending could be
    taken by another of its threads (numpy's, say), whose handler does not wake the main
    thread; a trial sleeping or waiting then went on until the parent's 10 s ran out,
    and its reason read KeyboardInterrupt. A second SIGTERM merges with the first.

    A worker still importing the script (``taking_signals`` 0: its SIGINT is held, and
    it runs no trial) is terminated at once. The workers get ``STOP_GRACE_S`` together to
    store their trials and exit; then those still running are terminated (before, each
    got its own 10 s, one after another)."""
    started = [(i, p) for i, p in enumerate(processes) if p.pid is not None]
    for i, process in started:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signum if taking_signals[i] else signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for _, process in started:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
    for _, process in started:
        if process.is_alive():
            process.terminate()

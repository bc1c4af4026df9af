"""``optimize(trial_timeout=...)``: a trial that runs longer than that many seconds is
stopped and stored as failed, so that one slow configuration (a kernel SVM that does
not converge, a network far too wide) cannot hold up the search; the methods that model
the history take a failed trial as the worst value there is (``tpe``, ``bayes``), and
propose away from it.

The trial's function is stopped with ``SIGALRM`` (``setitimer``), whose handler raises
:class:`TrialTimedOut` in the main thread, where a run's trials are called (each worker
process of ``n_jobs`` calls them in its own main thread). Python runs a signal handler
between two bytecodes of the interpreter, so a long call into compiled code (one
``fit`` of libsvm, say) is stopped when it returns, not in the middle; ``time.sleep``
and most I/O are cut short. Work the function handed to other threads or processes
(``n_jobs`` of scikit-learn, a data loader's workers) is not stopped, and a function
that sets ``SIGALRM`` itself takes the limit's place. Optuna, Hyperopt and Ray Tune's
function trainables have no such limit (Ray stops a trial at its next report).
"""

from __future__ import annotations

import signal
import time
from typing import Any

from hpotrack.errors import OptionError
from hpotrack.signal_handlers import in_main_thread, set_handler

MAX_SECONDS = 2**31 - 1
"""The longest ``trial_timeout`` (68 years): ``setitimer`` overflows past what the
platform's ``time_t`` holds, 2**31 - 1 seconds where it has 32 bits."""


TIMED_OUT = "timed out: the trial ran longer than trial_timeout="
"""How the error of a trial the limit stopped begins (:attr:`TimeLimit.message`)."""


def timed_out(error: str) -> bool:
    """Whether ``error``, a failed trial's, is that of a trial its limit stopped (not a
    failure of its function): slowness, which a longer limit lets through."""
    return error.startswith(TIMED_OUT)


class TrialTimedOut(BaseException):
    """Raised inside a trial's function once it has run ``trial_timeout`` seconds. A
    ``BaseException``, as ``KeyboardInterrupt`` is: a function's ``except Exception``
    (scikit-learn's ``cross_validate`` scoring a failed fit as NaN, a retry loop) must
    not swallow it and go on."""


class TimeLimit:
    """A trial's time limit, as a context manager around its function: after ``seconds``
    (None: never) the block gets :class:`TrialTimedOut`; ``fired`` once it did (the
    function may have caught it and returned). The ``SIGALRM`` handler and timer it
    replaced are set back on exit, or as it fires (its raise may land in ``__exit__``
    itself): the timer (the program's own alarm, the limit of a trial that runs this
    search) with the time it had left, going off at once if that ran out meanwhile."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.fired = False
        self._armed = False
        self._set_back_done = False
        self._previous: Any = None
        self._replaced: tuple[float, float] | None = None  # (time.monotonic() due, interval)

    @property
    def message(self) -> str:
        """The failed trial's error."""
        return f"{TIMED_OUT}{self.seconds:g} s"

    def __enter__(self) -> TimeLimit:
        if self.seconds is not None:
            check_trial_timeout_can_run()
            self._previous = set_handler(signal.SIGALRM, self._expire)
            self._armed = True
            delay, interval = signal.setitimer(signal.ITIMER_REAL, self.seconds)
            self._replaced = (time.monotonic() + delay, interval) if delay > 0 else None
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.seconds is not None:
            self._armed = False
            self._set_back()

    def _expire(self, signum: int, frame: object) -> None:
        """The ``SIGALRM`` handler: stops the function, unless it has already returned
        (a signal on its way as the limit was lifted)."""
        if self._armed:
            self._armed = False
            self.fired = True
            self._set_back()
            raise TrialTimedOut(self.message)

    def _set_back(self) -> None:
        """Set back the handler and timer this limit replaced (once): this timer
        stopped first, so that it never reaches the handler set back."""
        if self._set_back_done:
            return
        self._set_back_done = True
        signal.setitimer(signal.ITIMER_REAL, 0)
        # None: a handler set outside Python, which Python cannot set again
        signal.signal(signal.SIGALRM, signal.SIG_DFL if self._previous is None else self._previous)
        if self._replaced is not None:
            due, interval = self._replaced
            signal.setitimer(signal.ITIMER_REAL, max(due - time.monotonic(), 1e-6), interval)


def check_trial_timeout_can_run(*, in_workers: bool = False) -> None:
    """Refuse ``trial_timeout`` where ``SIGALRM`` cannot stop a trial: on a platform
    without ``setitimer``, or, unless worker processes run the trials (``in_workers``),
    outside the main thread (Python delivers signals there only)."""
    if not hasattr(signal, "setitimer"):
        raise OptionError(
            "trial_timeout stops a trial with SIGALRM, which this platform does not have: "
            "stop the search with timeout= instead"
        )
    if not in_workers and not in_main_thread():
        raise OptionError(
            "trial_timeout stops a trial with SIGALRM, which only the main thread receives: "
            "call optimize() from the main thread, or with n_jobs=2 or more (each worker "
            "process runs its trials in its own main thread)"
        )

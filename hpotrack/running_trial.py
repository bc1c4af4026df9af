"""Which trial is running in this context: :func:`running` makes a trial the current one
while the tuned function runs, :func:`current_trial` finds it (or says why there is none)
and :func:`report`, ``hp.report(...)``, writes to it. A context variable, so threads and
nested calls each see their own.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from hpotrack.arguments import checked_arguments
from hpotrack.errors import TrialError
from hpotrack.trial import Number, Step, Trial

__all__ = ["current_trial", "report", "running"]


_current: ContextVar[Trial | None] = ContextVar("hpotrack_trial", default=None)
_in_process = 0  # trials running in this process (blocks of `running`), for the message
_in_process_lock = threading.Lock()


@contextmanager
def running(trial: Trial) -> Iterator[Trial]:
    """Make ``trial`` the one :func:`report` writes to while the block runs."""
    global _in_process
    token = _current.set(trial)
    with _in_process_lock:
        _in_process += 1
    try:
        yield trial
    finally:
        with _in_process_lock:
            _in_process -= 1
        _current.reset(token)


def current_trial() -> Trial:
    """The trial running in this context; an error saying why there is none. A thread
    the tuned function starts does not inherit its context: which trial a report from it
    belongs to is not known (it may outlive its trial), so it gets the handle instead."""
    trial = _current.get()
    if trial is not None:
        return trial
    if _in_process:
        raise TrialError(
            "no trial is running in this thread's context: hp.report() finds the trial "
            "of the tuned function's own call, which threads it starts do not inherit; "
            "declare a `trial` parameter and call trial.report() from the thread, or start "
            "the thread's work in contextvars.copy_context().run(...)"
        )
    if multiprocessing.parent_process() is not None:  # joblib's or multiprocessing's
        raise TrialError(
            "no trial is running in this process: hp.report() works in the process "
            "that runs the trial, not in one its function started (joblib's default "
            "backend, multiprocessing); return the values from there and report them "
            'in the function, or run the work in threads (joblib\'s backend="threading")'
        )
    raise TrialError(
        "no trial is running here: call hp.report() inside a function decorated "
        "with @hp.tune while it is being tuned (a trial that train.ask() returned "
        "reports with trial.report())"
    )


@checked_arguments
def report(
    value: Number, step: Step | None = None, *, name: str | None = None, prune: bool = True
) -> None:
    """Report an intermediate metric of the running trial (see :meth:`Trial.report`)."""
    current_trial().report(value, step, name=name, prune=prune)

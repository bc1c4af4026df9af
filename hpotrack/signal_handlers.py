"""The signal handlers hpotrack sets, and what processes forked while they are set get.

A process forked by a trial (``multiprocessing`` with fork, ``ProcessPoolExecutor``,
``os.fork``) inherits its parent's Python signal handlers. While trials run those are
hpotrack's: in a worker process SIGTERM raised ``Terminated`` in the child, which a pool
process catches as the failure of its task (``except BaseException``) and then ignored
every later SIGTERM, so the worker, ending its children as it exits, waited for that one
for ever. A forked child gets back the dispositions the process had before hpotrack set
its own, as it would without hpotrack; a handler the user set meanwhile stays.
"""

from __future__ import annotations

import os
import signal
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Handler = Callable[[int, Any], Any]

_hpotrack_handlers: weakref.WeakSet[Handler] = weakref.WeakSet()
_before_hpotrack: dict[int, Any] = {}  # by signal: the disposition hpotrack's first replaced


def in_main_thread() -> bool:
    """Whether this is the main thread, the only one Python runs signal handlers in (and
    the only one that may set them)."""
    return threading.current_thread() is threading.main_thread()


def set_handler(signum: int, handler: Handler) -> Any:
    """Set hpotrack's ``handler`` for ``signum`` (in the main thread) and return the one
    it replaced, remembering the process's own disposition for forked children."""
    previous = signal.signal(signum, handler)
    if not is_hpotrack_handler(previous):
        _before_hpotrack[signum] = previous
    _hpotrack_handlers.add(handler)
    return previous


def is_hpotrack_handler(handler: Any) -> bool:
    """Whether ``handler`` was set by :func:`set_handler` (``SIG_DFL``, ``SIG_IGN`` and
    None, a handler not set from Python, never are)."""
    return callable(handler) and handler in _hpotrack_handlers


@contextmanager
def sigint_held_for_children() -> Iterator[None]:
    """Hold SIGINT in this thread while it starts processes: they inherit the held mask
    through fork and exec. A worker that spawn starts imports the script again (scikit-
    learn, the user's data) before any of hpotrack's code runs in it, and Ctrl-C in that
    time printed an import traceback per worker; held, it waits until the worker takes
    SIGINT over (:func:`release_sigint`). Only this thread's mask: a Ctrl-C to this
    process is still raised here, by Python's handler, which any thread may run."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def release_sigint() -> None:
    """Let SIGINT reach this thread again (see :func:`sigint_held_for_children`); one
    that came while it was held is delivered now."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _give_forked_child_the_process_dispositions() -> None:
    """In a process just forked: each signal that has hpotrack's handler gets back the
    disposition from before hpotrack's."""
    for signum, before in _before_hpotrack.items():
        if before is not None and is_hpotrack_handler(signal.getsignal(signum)):
            signal.signal(signum, before)


if hasattr(os, "register_at_fork"):  # no fork on Windows
    os.register_at_fork(after_in_child=_give_forked_child_the_process_dispositions)

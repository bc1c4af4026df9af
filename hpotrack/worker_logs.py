"""The log messages of ``optimize(n_jobs=N)``'s worker processes, said by the parent.

A worker imports the user's script without its ``__main__`` block, so it never sees the
application's logging set-up (``basicConfig``, its handlers and format, a level). Its
``hpotrack`` records go to the parent instead, which says them through its own
``hpotrack`` logger: the application's handlers, format and level decide, as in a run
of one process. Nothing is sent while nothing is logged.
"""

from __future__ import annotations

import logging
from logging.handlers import QueueHandler
from typing import Any

from hpotrack.text import masked_numbers

log = logging.getLogger("hpotrack")

SAID_ONCE = "hpotrack_once"
"""The attribute (``extra={SAID_ONCE: key}``) of a warning that each process says once
(per study, say): the parent says it once per run, whichever worker said it."""

_said: set[str] = set()  # the keys of the warnings this process said


def warn_once(key: str, message: str, *args: object) -> None:
    """Warn ``message % args`` the first time this process meets ``key`` (a study, or a
    study and a subject), and once per run of ``n_jobs`` workers (:class:`Relay`)."""
    if key in _said:
        return
    _said.add(key)
    log.warning(message, *args, extra={SAID_ONCE: key})


def forward_to_parent(queue: Any, level: int) -> None:
    """In a worker process: send every ``hpotrack`` record from ``level`` up (the
    parent's level) to the parent through ``queue``, and print none here. Called after
    the script is imported, so that handlers it adds at module level print nothing
    twice."""
    for handler in list(log.handlers):
        log.removeHandler(handler)
    log.addHandler(QueueHandler(queue))
    log.propagate = False
    log.setLevel(level)


class Relay:
    """In the parent: says the workers' records through its ``hpotrack`` logger (its
    filters, level and handlers), and each informational one once per run, whichever
    worker said it: every worker tells the method's choice and that the target is
    reached, and a note whose only change is a count is not news (as in
    :meth:`Study.claim`). Warnings are each about something of their own (a failed trial):
    all are said, but those a process says once (:data:`SAID_ONCE`)."""

    def __init__(self) -> None:
        self._told: set[str] = set()

    def say(self, record: logging.LogRecord) -> None:
        once: str | None = getattr(record, SAID_ONCE, None)
        if once is None and record.levelno < logging.WARNING:
            once = masked_numbers(record.getMessage())
        if once is not None:
            if once in self._told:
                return
            self._told.add(once)
        if log.isEnabledFor(record.levelno):
            log.handle(record)

"""Forks of this process, counted: a forked child has copies of its parent's objects (a
running trial, say), whose reports and checkpoints there would reach neither the trial
nor its database (SQLite forbids a connection in another process than its opener's).
A handle notes :data:`count` when made and compares it at each use; counting costs
nothing per use, where ``os.getpid()``, a system call, cost a fifth of a report."""

from __future__ import annotations

import os

count = 0
"""How many forks this process is down from the one that imported hpotrack."""

IN_ITS_PROCESS = (
    "report from the process that runs it; return the values from those processes and "
    'report them in the function, or run the work in threads (joblib\'s backend="threading"); '
    "for a trial of train.ask(), send trial.params and tell the result from the asking process"
)
"""What to do instead of using a trial in another process."""


def _forked() -> None:
    global count
    count += 1


if hasattr(os, "register_at_fork"):  # no fork on Windows
    os.register_at_fork(after_in_child=_forked)

"""A writer lock shared by processes: ``flock`` on a file beside the database.

SQLite serialises writers itself, but a writer that finds the database locked sleeps in
steps of milliseconds before trying again, which is far longer than one of our write
transactions (about 0.1 ms). Several processes asking at once then spend their time
asleep: throughput with 4 processes fell below that of 1. A blocking ``flock`` is queued
by the kernel and wakes the next writer as soon as the lock is free. The lock is only
held around hpotrack's own short transactions, never while a user's function runs, and
the kernel drops it when a process dies (even by ``kill -9``).

Where ``fcntl`` does not exist (Windows) or the lock file cannot be created (a read-only
folder), this is a no-op and SQLite's own waiting takes over.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class WriterLock:
    """An exclusive lock on ``<database>.lock``; re-entrant within one thread."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self._fd: int | None = None
        self._depth = 0
        self._thread_lock = threading.RLock()  # threads of one process share the fd

    def __enter__(self) -> WriterLock:
        self._thread_lock.acquire()
        self._depth += 1
        if self._depth == 1:
            fd = self._descriptor()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def _descriptor(self) -> int | None:
        if fcntl is None:
            return None
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError:
                return None
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

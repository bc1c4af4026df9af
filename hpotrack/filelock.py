"""A writer lock shared by processes: ``flock`` on a file beside the database.

SQLite serialises writers itself, but a writer that finds the database locked sleeps in
steps of milliseconds before trying again, which is far longer than one of our write
transactions (about 0.1 ms), so several processes asking at once spend their time asleep.
Waiting on this lock polls in steps of tens of microseconds instead, up to a deadline (so
a writer stopped inside its transaction cannot hang the others forever). The lock is only
held around hpotrack's own short transactions, never while a user's function runs, and
the kernel drops it when a process dies (even by ``kill -9``).

Where ``fcntl`` does not exist (Windows) or the lock file cannot be created (a read-only
folder), this is a no-op and SQLite's own waiting takes over.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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

    @contextmanager
    def hold(self, timeout: float) -> Iterator[None]:
        """Hold the lock for the block; ``TimeoutError`` after ``timeout`` seconds of
        waiting (a writer stopped inside its transaction must not hang everyone)."""
        deadline = time.monotonic() + timeout
        if not self._thread_lock.acquire(timeout=timeout):
            raise TimeoutError(self.path)
        try:
            self._depth += 1
            if self._depth == 1:
                self._acquire(deadline)
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def _acquire(self, deadline: float) -> None:
        """Try without blocking, then in steps from 20 µs growing to 2 ms (SQLite's own
        waits start at 1 ms): a free lock is taken within microseconds."""
        fd = self._descriptor()
        if fd is None:
            return
        pause = 20e-6
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(self.path) from None
                time.sleep(pause)
                pause = min(pause * 2, 2e-3)

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

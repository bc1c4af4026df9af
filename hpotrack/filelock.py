"""A writer lock shared by processes: ``flock`` on a file beside the database.

SQLite serialises writers itself, but a writer that finds the database locked sleeps in
steps of milliseconds before trying again, which is far longer than one of our write
transactions (about 0.1 ms), so several processes asking at once spend their time asleep.
Waiting on this lock sleeps on a doorbell instead (:mod:`hpotrack.doorbell`), which the
writer rings as it releases the lock, and tries again then or after a poll step growing
from 20 µs to a few milliseconds, up to a deadline (so a writer stopped inside its
transaction cannot hang the others forever). The lock is only held around hpotrack's own
short transactions, never while a user's function runs, and the kernel drops it when a
process dies (even by ``kill -9``).

Where ``fcntl`` does not exist (Windows) or the lock file cannot be created (a read-only
folder), this is a no-op and SQLite's own waiting takes over.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hpotrack.doorbell import Doorbell

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class WriterLock:
    """An exclusive lock on ``<database>.lock``; re-entrant within one thread."""

    POLL_MIN_S = 20e-6  # the first wait between two tries when no ring comes ...
    POLL_MAX_S = 4e-3  # ... doubling up to this

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self._fd: int | None = None
        self._bell = Doorbell(self.path)
        self._depth = 0
        self._thread_lock = threading.RLock()  # threads of one process share the fd

    @property
    def thread_lock(self) -> threading.RLock:
        """The part of the lock among this process's threads, taken first by
        :meth:`hold`: held alone, it keeps the other threads out of their write
        transactions without locking out other processes."""
        return self._thread_lock

    @contextmanager
    def hold(
        self, timeout: float, while_waiting: Callable[[], object] | None = None
    ) -> Iterator[None]:
        """Hold the lock for the block; ``TimeoutError`` after ``timeout`` seconds of
        waiting (a writer stopped inside its transaction must not hang everyone).
        ``while_waiting`` is called each time the lock was found taken, before sleeping:
        work that need not hold the lock, done while another process holds it."""
        deadline = time.monotonic() + timeout
        try:
            taken = self._thread_lock.acquire(timeout=timeout)
        except BaseException:  # Ctrl-C landing right after it was taken: give it back
            if self._thread_lock._is_owned():  # type: ignore[attr-defined]
                self._thread_lock.release()  # (owned before: re-entered, taken once more)
            raise
        if not taken:
            raise TimeoutError(self.path)
        try:
            if self._depth == 0:  # counted only once held: a wait that fails holds nothing
                self._acquire(deadline, while_waiting)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                    self._bell.ring()
        finally:
            self._thread_lock.release()

    def _acquire(self, deadline: float, while_waiting: Callable[[], object] | None) -> None:
        """Try without blocking, then again at each ring of the doorbell or poll step
        (:data:`POLL_MIN_S` doubling up to :data:`POLL_MAX_S`; SQLite's own waits
        start at 1 ms)."""
        fd = self._descriptor()
        if fd is None:
            return
        pause = self.POLL_MIN_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if while_waiting is not None:
                    while_waiting()
                left = deadline - time.monotonic()
                if left < 0:
                    raise TimeoutError(self.path) from None
                self._bell.wait(min(pause, left))
                pause = min(pause * 2, self.POLL_MAX_S)

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
        self._bell.close()

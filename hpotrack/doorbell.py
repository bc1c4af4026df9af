"""A doorbell for processes waiting on hpotrack's writer lock: a named pipe that a writer
writes one byte to as it releases the lock, so that a waiter sleeping on it wakes as soon
as the lock is free instead of at its next poll, and spends no CPU while it waits.

The bell only says "try now"; the lock stays the ``flock`` (:mod:`hpotrack.filelock`).
A ring that never comes (a writer killed between its release and its ring, a bell made
while a writer was not looking) costs a waiter one poll step; a stale one, one early try.

The pipe lives outside the database's folder, so that copying that folder (a backup,
``shutil.copytree``) never meets a special file: in ``$XDG_RUNTIME_DIR`` or the temporary
folder, under ``hpotrack-<uid>/`` (private to the user), named after the lock file's
device and inode, which every process opening the database shares. Waiters make it;
a writer that finds none looks again at most once a second, so a process alone on its
database never makes one. Where it cannot exist, waiters simply poll.
"""

from __future__ import annotations

import contextlib
import os
import select
import stat
import tempfile
import time
from pathlib import Path


def _readable(fd: int, seconds: float) -> bool:
    """Whether ``fd`` becomes readable within ``seconds``: ``poll``, which any descriptor
    number works with (``select`` fails above 1023, which a process that opened many
    databases reaches), else ``select``."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(seconds * 1000))
    ready, _, _ = select.select([fd], [], [], seconds)
    return bool(ready)


class Doorbell:
    """The doorbell of one writer lock file, as seen by one process."""

    LOOK_AGAIN_S = 1.0  # how long a writer that found no bell waits before looking again

    def __init__(self, lock_file: Path) -> None:
        self._lock_file = lock_file
        self._fd: int | None = None
        self._look_after = 0.0  # monotonic time before which ring() does not look for it

    def wait(self, seconds: float) -> None:
        """Sleep until the bell rings or ``seconds`` pass, then empty it (so rings that
        came while nobody waited cost one early try, no more)."""
        fd = self._open(create=True)
        if fd is None:
            time.sleep(seconds)
            return
        if _readable(fd, seconds):
            with contextlib.suppress(BlockingIOError):
                while os.read(fd, 4096):
                    pass

    def ring(self) -> None:
        """Wake whoever waits (a full pipe already rings, so a failed write loses nothing)."""
        fd = self._fd
        if fd is None:
            if time.monotonic() < self._look_after:
                return
            fd = self._open(create=False)
            if fd is None:
                self._look_after = time.monotonic() + self.LOOK_AGAIN_S
                return
        with contextlib.suppress(OSError):
            os.write(fd, b"\0")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self, *, create: bool) -> int | None:
        if self._fd is None:
            path = _bell_path(self._lock_file)
            self._fd = None if path is None else _open_fifo(path, create=create)
        return self._fd


def _bell_path(lock_file: Path) -> Path | None:
    """Where the bell of ``lock_file`` is; None when the lock file or a private folder
    for bells cannot be had."""
    try:
        found = os.stat(lock_file)
        folder = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
        folder = folder / f"hpotrack-{os.getuid()}"
        folder.mkdir(mode=0o700, exist_ok=True)
        mine = folder.lstat()
    except (OSError, AttributeError):  # AttributeError: no os.getuid (Windows)
        return None
    private = stat.S_ISDIR(mine.st_mode) and mine.st_uid == os.getuid()
    if not private or mine.st_mode & 0o022:  # others could plant files there
        return None
    return folder / f"{found.st_dev}-{found.st_ino}.wake"


def _open_fifo(path: Path, *, create: bool) -> int | None:
    """A non-blocking descriptor for reading and writing the named pipe at ``path``
    (made first if ``create``); None if it is missing or is not a pipe."""
    try:
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkfifo(path, 0o600)
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    except OSError:
        return None
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):  # a plain file would always read "ready"
        os.close(fd)
        return None
    return fd

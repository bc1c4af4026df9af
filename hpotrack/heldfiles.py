"""Descriptors that hpotrack keeps of a database's own files (the file itself, held so
that its inode is not reused; its ``-shm``, whose WAL index header it reads), one per
process and file, shared by every connection of the process to it and closed only when
the last one is done.

Closing any descriptor of a file drops every POSIX advisory lock the process holds on
it, SQLite's included (https://sqlite.org/howtocorrupt.html, section 2.2). Each store
had its own: a second connection of a process (the heartbeat thread's, which closes
whenever its trials end) closing its descriptor of the database dropped the first one's
shared lock, and another process closing its connection then took itself for the
database's last user and deleted the ``-wal`` and ``-shm`` files under the running
processes; closing its descriptor of the ``-shm`` dropped the first one's WAL read
locks, so a checkpoint overwrote the pages a read was using. Readers saw "database disk
image is malformed" and trials missing from the middle of a read.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

# (device, inode) -> [users, descriptor, ...]: a descriptor opened while the path was
# being replaced by a file the process holds already is kept too, never closed early
_held: dict[tuple[int, int], list[int]] = {}
_guard = threading.Lock()


class HeldFile:
    """A read-only descriptor of one file, shared within the process (:func:`hold`)."""

    def __init__(self, key: tuple[int, int], fd: int) -> None:
        self.key = key  # (device, inode): which file, whatever its path names now
        self.fd = fd
        self._open = True

    def close(self) -> None:
        """Done with it: the descriptor is closed once every holder in the process is
        (twice is fine)."""
        with _guard:
            if not self._open:
                return
            self._open = False
            entry = _held[self.key]
            entry[0] -= 1
            if entry[0]:
                return
            del _held[self.key]
        for fd in entry[1:]:
            os.close(fd)


def hold(path: str | Path) -> HeldFile:
    """A read-only descriptor of the file at ``path``, the one this process has open
    already if it has; OSError as :func:`os.open` raises it."""
    with _guard:
        try:
            found = os.stat(path)
            key = (found.st_dev, found.st_ino)
        except OSError:
            key = (-1, -1)  # not there: os.open below says why
        entry = _held.get(key)
        if entry is None:  # not held: open it (never a second descriptor of a held file)
            fd = os.open(path, os.O_RDONLY)
            opened = os.fstat(fd)
            key = (opened.st_dev, opened.st_ino)
            entry = _held.setdefault(key, [0])
            entry.append(fd)
        entry[0] += 1
        return HeldFile(key, entry[1])

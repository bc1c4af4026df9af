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

Holding a file is not enough: a connection opens the database, and takes its locks,
before its store holds the file. So a store of one thread opened and dropped while
another thread's store was being opened (``hp.load_study`` in a thread watching a run
that ``optimize()`` was starting) was the file's only holder, and closed the descriptor
under the other connection's locks. Hence a file is closed once no holder and no
connection of the process to its database is left (:func:`connected`,
:func:`disconnected`), and under the lock that :func:`hold` takes: a descriptor closed
a moment after another thread held the file anew dropped the locks taken since.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class _Entry:
    """One held file: the database it belongs to (itself, or the one of its ``-shm``),
    its descriptors and how many hold it."""

    database: str
    # one; a descriptor opened while the path was being replaced by a file the process
    # holds already is kept too, never closed early
    fds: list[int] = field(default_factory=list)
    holders: int = 0


_held: dict[tuple[int, int], _Entry] = {}  # by (device, inode)
_connections: dict[str, int] = {}  # database path -> the process's open connections to it
_guard = threading.Lock()


class HeldFile:
    """A read-only descriptor of one file, shared within the process (:func:`hold`)."""

    def __init__(self, key: tuple[int, int], fd: int) -> None:
        self.key = key  # (device, inode): which file, whatever its path names now
        self.fd = fd
        self._open = True

    def close(self) -> None:
        """Done with it: the descriptor is closed once no holder in the process and no
        connection to its database is left (twice is fine)."""
        with _guard:
            if not self._open:
                return
            self._open = False
            entry = _held[self.key]
            entry.holders -= 1
            if not entry.holders and entry.database not in _connections:
                _close(self.key)


def hold(path: str | Path, database: str | Path | None = None) -> HeldFile:
    """A read-only descriptor of the file at ``path``, the one this process has open
    already if it has; OSError as :func:`os.open` raises it. ``database``: the database
    the file belongs to (default: ``path`` itself), whose connections keep it open."""
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
            entry = _held.setdefault(key, _Entry(str(database or path)))
            entry.fds.append(fd)
        entry.holders += 1
        return HeldFile(key, entry.fds[0])


def connected(database: str | Path) -> None:
    """A connection of this process to ``database`` is about to open it: none of the
    database's held files is closed until it is closed (:func:`disconnected`)."""
    with _guard:
        _connections[str(database)] = _connections.get(str(database), 0) + 1


def disconnected(database: str | Path) -> None:
    """A connection :func:`connected` to ``database`` is closed; with the last one, the
    database's files nobody holds are closed."""
    name = str(database)
    with _guard:
        _connections[name] -= 1
        if _connections[name]:
            return
        del _connections[name]
        for key in [key for key, entry in _held.items() if entry.database == name]:
            if not _held[key].holders:
                _close(key)


def _close(key: tuple[int, int]) -> None:
    """Close the descriptors of held file ``key`` (with :data:`_guard` held)."""
    for fd in _held.pop(key).fds:
        os.close(fd)

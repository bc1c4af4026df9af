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

Files are closed by finalizers too (a store or connection nobody uses any more), which a
garbage collection runs in whichever thread allocates at that moment: inside a block of
this module, that thread holds the lock already, and taking it again waited for ever
(a test worker hung in :func:`hold`). Such a close waits for the end of the block
(:func:`_guarded`): closing later is always safe, closing early never is.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
_owner: int | None = None  # the thread inside a block of _guarded
_deferred: list[Callable[[], None]] = []  # closes finalizers asked for inside that block


@contextmanager
def _guarded() -> Iterator[None]:
    """:data:`_guard` held, and the closes that finalizers asked for meanwhile in this
    thread (:func:`_when_guarded`) done at the end of the block."""
    global _owner
    with _guard:
        _owner = threading.get_ident()
        try:
            yield
        finally:
            try:
                while _deferred:  # a close may allocate, collect, and defer another
                    _deferred.pop(0)()
            finally:
                _owner = None


def _when_guarded(action: Callable[[], None]) -> None:
    """Run ``action`` with :data:`_guard` held; at the end of the block when this thread
    is inside one already (a finalizer run by a garbage collection there)."""
    if _owner == threading.get_ident():
        _deferred.append(action)
        return
    with _guarded():
        action()


class HeldFile:
    """A read-only descriptor of one file, shared within the process (:func:`hold`)."""

    def __init__(self, key: tuple[int, int], fd: int) -> None:
        self.key = key  # (device, inode): which file, whatever its path names now
        self.fd = fd
        self._open = True

    def close(self) -> None:
        """Done with it: the descriptor is closed once no holder in the process and no
        connection to its database is left (twice is fine)."""
        _when_guarded(self._release)

    def _release(self) -> None:
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
    with _guarded():
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
    with _guarded():
        _connections[str(database)] = _connections.get(str(database), 0) + 1


def disconnected(database: str | Path) -> None:
    """A connection :func:`connected` to ``database`` is closed; with the last one, the
    database's files nobody holds are closed."""
    _when_guarded(functools.partial(_disconnect, str(database)))


def _disconnect(name: str) -> None:
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

"""The WAL index of an open SQLite database, read from its ``-shm`` file.

Every connection to a database in WAL mode maps ``<db>-shm``, whose first bytes are the
WAL index header: a commit by any connection changes it (``iChange``, ``mxFrame``, the
salts after a restart), and it says how many frames the WAL holds. Reading those 48 bytes
is far cheaper than a query, so the store uses them to tell whether anything was
committed since it last looked, and how much the WAL holds (when to checkpoint). The
layout is part of SQLite's file format, which processes of different SQLite versions
sharing a file rely on (https://sqlite.org/walformat.html, "The WAL-Index Header").
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from hpotrack.heldfiles import HeldFile, hold

# The first fields of the header, in the machine's byte order: iVersion, unused, iChange,
# isInit, bigEndCksum, szPage, mxFrame; the whole header copy is 48 bytes (then nPage,
# frame checksums, salts, its checksum).
HEADER = struct.Struct("=IIIBBHI")
HEADER_BYTES = 48
VERSION = 3007000  # iVersion of the format this module reads
FRAME_HEADER_BYTES = 24  # before each page in the WAL file


class WalIndex:
    """Read-only access to one database's WAL index header; where there is none of the
    known format (a file SQLite indexes in its own memory, say), every read answers None
    or 0 and callers fall back to asking SQLite."""

    def __init__(self, held: HeldFile | None = None) -> None:
        self._held = held  # the -shm's descriptor, kept until close() whatever it holds
        self._fd = -1 if held is None else held.fd  # -1: not usable

    @classmethod
    def open(cls, db: Path) -> WalIndex:
        """The index of the database file ``db``, opened after SQLite opened ``db`` (so
        the ``-shm`` file is the one SQLite maps). Its descriptor is the process's
        (:mod:`hpotrack.heldfiles`): closing one of its own would drop SQLite's locks
        on the ``-shm``."""
        try:
            held = hold(f"{db}-shm", database=db)
        except OSError:
            return cls()
        index = cls(held)
        header = index.header()
        if (
            header is None
            or len(header) != HEADER_BYTES
            or HEADER.unpack_from(header)[0] != VERSION
        ):
            index._fd = -1  # not read, but held until close()
        return index

    @property
    def usable(self) -> bool:
        return self._fd >= 0

    def header(self) -> bytes | None:
        """The first copy of the header; None where it cannot be read."""
        if self._fd < 0:
            return None
        try:
            return os.pread(self._fd, HEADER_BYTES, 0)
        except OSError:
            return None

    def wal_bytes(self) -> int:
        """How much the WAL holds now (0 if unknown): its frame count ``mxFrame`` times
        the size of a frame. A read racing a commit may be one commit off, which is fine
        for deciding when to checkpoint. (The WAL file's size says nothing: after a
        checkpoint SQLite writes it again from its start without shrinking it.)"""
        header = self.header()
        if header is None or len(header) != HEADER_BYTES:
            return 0
        _, _, _, _, _, page_size, frames = HEADER.unpack_from(header)
        page_size = 65536 if page_size == 1 else page_size  # how the format stores 64 KiB
        return int(frames * (page_size + FRAME_HEADER_BYTES))

    def close(self) -> None:
        self._fd = -1
        if self._held is not None:
            self._held.close()

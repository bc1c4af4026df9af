"""``hpotrack.walindex``: the WAL index header read from a database's ``-shm`` file, and
what it answers where there is none of the known format."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from hpotrack.walindex import HEADER, HEADER_BYTES, VERSION, WalIndex


def wal_database(path: Path) -> sqlite3.Connection:
    """An open connection to a WAL database at ``path`` (its ``-shm`` file exists while
    the connection is open)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (x)")
    return conn


def test_the_header_changes_with_every_commit_and_counts_the_frames(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    with closing(wal_database(db)) as conn:
        index = WalIndex.open(db)
        assert index.usable
        before = index.header()
        assert before is not None and HEADER.unpack_from(before)[0] == VERSION
        conn.execute("INSERT INTO t VALUES (1)")
        after = index.header()
        assert after is not None and after != before
        _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
        assert frames > 0 and index.wal_bytes() == frames * (page_size + 24)
        index.close()
        assert not index.usable and index.header() is None and index.wal_bytes() == 0
        index.close()  # twice is fine


def test_no_shm_file_or_another_format_is_not_usable(tmp_path: Path) -> None:
    """Without a ``-shm`` file (a database SQLite indexes in its own memory), or with one
    of another format version, every read says "unknown" and callers ask SQLite."""
    missing = WalIndex.open(tmp_path / "none.db")
    assert not missing.usable and missing.header() is None and missing.wal_bytes() == 0
    other = tmp_path / "other.db"
    newer = HEADER.pack(VERSION + 1, 0, 1, 1, 0, 4096, 7)
    Path(f"{other}-shm").write_bytes(newer.ljust(HEADER_BYTES, b"\0"))
    assert not WalIndex.open(other).usable
    short = tmp_path / "short.db"
    Path(f"{short}-shm").write_bytes(b"\1\2\3")
    assert not WalIndex.open(short).usable

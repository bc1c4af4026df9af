"""The database file: opening it, its schema version and migrations, write transactions
and the write-ahead log. :class:`hpotrack.store.Store` adds every query on top; why the
file cannot be opened or written is :mod:`hpotrack.sqlite_errors`.

One file holds every study. Several processes share it: SQLite's WAL mode lets readers
run beside one writer, and every write transaction starts with ``BEGIN IMMEDIATE`` so that
two processes never both read-then-write (ask is atomic, DESIGN principle 2).

Durability: WAL with ``synchronous=NORMAL``. A crash of any process loses nothing that was
committed; a power loss or OS crash may lose the last transactions before the WAL was
synced, but never corrupts the file.
"""

from __future__ import annotations

import contextlib
import functools
import shlex
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from hpotrack import sqlite_errors
from hpotrack.errors import StorageError
from hpotrack.filelock import WriterLock
from hpotrack.files import folder_problem
from hpotrack.heldfiles import connected, disconnected
from hpotrack.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    KeptObjectError,
    NameTakenError,
    missing_columns,
)
from hpotrack.walindex import WalIndex

if TYPE_CHECKING:
    import sqlite_utils

BUSY_TIMEOUT_S = 60.0  # SQLite's wait for a lock of another program; hpotrack's own: 10x
WAL_SWITCH_WAIT_S = 5.0  # opening's wait for the moment alone that switching to WAL needs
# SQLite checkpoints by default inside the COMMIT that pushes the WAL past 1,000 pages,
# while that writer still holds the write lock, so every other process waits for the
# copy and its fsync (~10 ms here). hpotrack's writers checkpoint right after releasing
# the lock instead (a passive checkpoint does not block other writers); the automatic
# one stays as a far-off safety net.
WAL_AUTOCHECKPOINT_PAGES = 20_000
WAL_CHECKPOINT_BYTES = 4 << 20  # ~1,000 pages of 4 KiB, SQLite's own default
CHECKPOINT_EVERY = 16  # commits between two looks at the WAL's size
COMPANION_ENDS = ("-wal", "-shm", "-journal", ".lock")  # files SQLite and hpotrack keep beside it
# The oldest SQLite the whole test suite passes on (Ubuntu 20.04's; Debian 11 has 3.34).
# Python's sqlite3 uses the system's library on Linux. With 3.22 (Ubuntu 18.04), closing
# a connection to a deleted database deleted the -wal and -shm of the file made anew at
# its path ("disk I/O error" for the next connections to it).
MIN_SQLITE = (3, 31, 0)


class Connection:
    """One open connection to an hpotrack database file, its schema up to date.

    ``must_exist=True`` is for readers (the CLI): a missing file is an error instead of a
    new empty database.
    """

    def __init__(self, path: str | Path, *, must_exist: bool = False) -> None:
        require_sqlite()
        if str(path) == ":memory:":
            raise StorageError(
                "db=':memory:' is not supported: a study lives in a file that its processes "
                "and the CLI share; for a throwaway study pass a path in a temporary folder"
            )
        # Absolute and resolved once: the checkpoints, the lock and the workers must find
        # one file whether it was named through a symlink or before the function ran chdir.
        self.path = Path(path).expanduser().resolve()
        denied = sqlite_errors.access_denied(self.path)
        if denied is not None:
            raise StorageError(denied)
        if must_exist and _empty_file(self.path):
            wait_for_a_creator(self.path)
        if must_exist and (not self.path.exists() or _empty_file(self.path)):
            what = "an empty file" if self.path.exists() else "no database"
            raise StorageError(
                f"{what} at {self.path}: pass db=PATH (or set HPOTRACK_DB) to the file your "
                "study wrote"
            )
        if self.path.is_dir():
            raise StorageError(
                f"{self.path} is a directory, not a database file: name a file in it, "
                f"e.g. db='{self.path / 'hpotrack.db'}'"
            )
        for end in COMPANION_ENDS:
            owner = self.path.with_name(self.path.name.removesuffix(end))
            if self.path.name.endswith(end) and owner.is_file():
                raise StorageError(  # a database made there would vanish, or corrupt it
                    f"{self.path} belongs to the database {owner} (SQLite's or hpotrack's "
                    f"file beside it); pass db={owner}"
                )
        problem = folder_problem(self.path)
        if problem is not None:
            raise StorageError(f"cannot create {self.path}: {problem}")
        self._writer = WriterLock(self.path)
        self._commits = 0  # write transactions committed through this connection
        self._last_commit = threading.local()  # .version: see committed_version
        self._wal_index = WalIndex()  # opened with the database below; see version()
        self.last_wait = 0.0  # seconds the last write transaction waited for the lock
        creating = not must_exist and (not self.path.exists() or _empty_file(self.path))
        try:
            with _held(self._writer, self.path) if creating else contextlib.nullcontext():
                connected(self.path)  # before SQLite opens the file: see hpotrack.heldfiles
                try:
                    self.conn: sqlite3.Connection = sqlite3.connect(
                        self.path,
                        timeout=BUSY_TIMEOUT_S,
                        isolation_level=None,
                        check_same_thread=False,
                    )
                except BaseException:
                    disconnected(self.path)
                    raise
                try:
                    self._open(must_exist)
                except BaseException:  # a refused file keeps no connection or lock open
                    _release(self.conn, self.path, self._writer, self._wal_index)
                    raise
        except sqlite3.DatabaseError as exc:
            raise StorageError(sqlite_errors.cannot_open(self.path, exc)) from None
        # closes the connection and files once: by close(), or when nobody uses the store
        self._finalizer = weakref.finalize(
            self, _release, self.conn, self.path, self._writer, self._wal_index
        )

    def _open(self, must_exist: bool) -> None:
        """Read the schema version and refuse a file hpotrack must not use before anything
        is written to it (the switch to WAL alone rewrites its header); then switch to
        WAL and migrate."""
        self.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        with self._version_reader() as reader:
            version = self._schema_version(reader)
            if must_exist and version == 0 and wait_for_a_creator(self.path):
                version = self._schema_version(reader)
            if must_exist and version == 0:  # a reader: never turn the file into a database
                raise StorageError(
                    f"{self.path} has no hpotrack tables (a copy taken without its -wal file "
                    "while a study was running? copy with sqlite3's .backup instead); pass "
                    "db=PATH to the file your study wrote"
                )
            self._refuse(version, reader)
        self._set_wal()
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        self._migrate(version)
        self._wal_index = WalIndex.open(self.path)  # now: the -shm is SQLite's

    @contextmanager
    def _version_reader(self) -> Iterator[sqlite3.Connection]:
        """The connection to read the schema version with, which must not change the
        file: a refused one stays byte for byte as it was. A file with a -wal beside it
        is read read-only (``mode=ro``): this connection, which may write, would copy
        that WAL (a crashed writer's, say) into the file as it closes, the last one. A
        file this process cannot write, which nobody has open then, is read as
        immutable: no locks, and no -wal or -shm left behind, as a connection that
        cannot write leaves them. Otherwise, and beside a -journal (a hot journal,
        which only a writer may roll back), this connection."""
        wal, journal = (Path(f"{self.path}{end}") for end in ("-wal", "-journal"))
        if not self.path.is_file() or journal.exists():
            yield self.conn
            return
        if not wal.exists() and sqlite_errors.writable(self.path):
            yield self.conn
            return
        mode = "mode=ro" if wal.exists() else "immutable=1"
        reader = sqlite3.connect(f"{self.path.as_uri()}?{mode}", uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            yield reader
        finally:
            reader.close()

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Reads that see only committed rows, and whose errors (a file damaged since it
        was opened, a disk error) become one :class:`StorageError` naming the file and
        what to do, as opening's do. The threads of a process share this connection, so
        a read while another thread is inside :meth:`write` would see that thread's
        uncommitted rows, which a rollback then takes back: the read waits for it to end
        (a thread inside its own write transaction reads on: the lock is re-entrant)."""
        try:
            with self._writer.thread_lock:
                yield
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            message = sqlite_errors.damaged(self.path, text) if "malformed" in text else None
            raise StorageError(message or f"cannot read {self.path}: {text}") from None

    @functools.cached_property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils on this connection, for the bulk inserts of ``hpotrack import``;
        imported only then: it imports pandas whenever pandas is installed, about a second
        that every worker process, CLI call and new database would otherwise pay."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def _set_wal(self) -> None:
        """Switch the file to WAL mode (nothing to do once it is). The switch needs the
        file alone for a moment: hpotrack processes opening a new file at once wait for
        each other's switch, but a program keeping a read transaction open (a sqlite3
        shell, a database browser) would hold it for as long as it likes, and each try
        would wait out the busy timeout; so the tries are short and end after
        :data:`WAL_SWITCH_WAIT_S` with one message."""
        deadline = time.monotonic() + WAL_SWITCH_WAIT_S
        self.conn.execute("PRAGMA busy_timeout = 100")
        try:
            while True:
                try:
                    mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        raise
                if time.monotonic() > deadline:
                    raise StorageError(
                        f"cannot open {self.path}: another program has it open in a "
                        f"transaction (a sqlite3 shell, a database browser) and kept it for "
                        f"{WAL_SWITCH_WAIT_S:.0f} s; close that program or its transaction, "
                        "or retry once it is done"
                    )
                time.sleep(0.01)
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if mode.lower() != "wal":  # SQLite answers with the old mode where WAL cannot work
            raise StorageError(
                f"cannot use {self.path}: SQLite refused to switch it to WAL mode (it "
                f"stayed in {mode} mode). WAL needs memory that every process opening the "
                "file shares (its -shm file), which network file systems (NFS, SMB) and "
                "cloud-synced folders cannot give: put the database on a local disk "
                "(db=PATH, HPOTRACK_DB or --db)"
            )

    def _migrate(self, version: int) -> None:
        if version == SCHEMA_VERSION:
            return  # the common case takes no write lock, so readers never wait on writers
        with self.write():
            version = self._schema_version()
            self._refuse(version, self.conn)
            self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            try:
                for step in MIGRATIONS[version:]:
                    step(self.conn)
            except KeptObjectError as exc:  # rolled back: the file stays as it was
                raise StorageError(
                    f"cannot migrate {self.path} to schema version {SCHEMA_VERSION}: the "
                    f"{exc.kind} {exc.name!r} saved in it cannot be made again ({exc.reason}); "
                    f"drop it ({drop_command(self.path, exc.kind, exc.name)}), "
                    "open the file again, then make it anew (nothing was changed)"
                ) from None
            except NameTakenError as exc:
                raise StorageError(_name_taken(self.path, exc)) from None
            if version < SCHEMA_VERSION:
                self.conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )

    def _refuse(self, version: int, conn: sqlite3.Connection) -> None:
        """Raise if a file of schema ``version`` can be neither used nor migrated: newer
        than this code, lacking columns its version has (``conn`` reads them), or old and
        read-only (opening migrates it). Called before anything is written to the file."""
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"{self.path} has schema version {version}, newer than this hpotrack "
                f"understands ({SCHEMA_VERSION}); upgrade: pip install -U hpotrack"
            )
        if version in (0, SCHEMA_VERSION):
            return
        if missing := missing_columns(conn, version):
            raise StorageError(
                f"{self.path} has schema version {version} but lacks "
                f"{', '.join(sorted(missing))}: it was written by a pre-release hpotrack "
                "whose schema differed; export its studies with that version and "
                "import them (nothing was changed)"
            )
        if not sqlite_errors.writable(self.path):
            raise StorageError(
                f"{self.path} has schema version {version}, and opening it migrates it to "
                f"version {SCHEMA_VERSION}, but the file or its folder is read-only: copy it "
                "to a writable folder or make it writable (chmod u+w), then open it "
                "(nothing was changed)"
            )

    def _schema_version(self, conn: sqlite3.Connection | None = None) -> int:
        """The schema version in hpotrack's meta table; 0 for a file with nothing in it (a
        new database). Any other file is another program's, refused before anything is
        written to it: tables, views, indexes or triggers without hpotrack's ``meta`` row,
        or an application id or user version set in its header."""
        conn = conn or self.conn
        objects = conn.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
            "ORDER BY type, name"
        ).fetchall()
        tables = {name for kind, name in objects if kind == "table"}
        meta = {row[1] for row in conn.execute("PRAGMA table_info(meta)")}
        if {"meta", "studies"} <= tables and {"key", "value"} <= meta:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is not None:
                return self._stored_version(row[0])
        found = [f"{kind} {name}" for kind, name in objects]
        for pragma in ("application_id", "user_version"):
            (value,) = conn.execute(f"PRAGMA {pragma}").fetchone()
            if value:
                found.append(f"{pragma.replace('_', ' ')} {value}")
        if found:
            raise StorageError(
                f"{self.path} is a SQLite database but not an hpotrack one (it has "
                f"{', '.join(found[:6])}{', ...' if len(found) > 6 else ''}); "
                "pass db=PATH to an hpotrack database"
            )
        return 0

    def _stored_version(self, stored: object) -> int:
        """The schema version the meta table holds: a whole number from 1 (version 0 is a
        file without one); anything else is damage no migration can be chosen for."""
        text = str(stored).strip()
        if not text.isdigit() or int(text) < 1:
            raise StorageError(
                f"{self.path} holds an unreadable schema version ({stored!r} in its meta "
                "table); the file was edited or damaged: restore it from a backup, or "
                "recover its trials with `hpotrack export` from a copy whose version is fixed"
            )
        return int(text)

    def close(self) -> None:
        self._finalizer()

    @contextmanager
    def write(self, while_waiting: Callable[[], object] | None = None) -> Iterator[None]:
        """One write transaction: ``BEGIN IMMEDIATE`` takes the write lock up front, so a
        transaction never fails half-way on a lock upgrade. The process-shared
        :class:`WriterLock` is taken first, so hpotrack writers wait for each other in
        fine steps instead of SQLite's millisecond sleeps (and do ``while_waiting``
        meanwhile). Errors of the file itself (read only, disk full, locked for too long)
        become one :class:`StorageError`."""
        asked = time.perf_counter()
        try:
            with _held(self._writer, self.path, while_waiting):
                try:  # BEGIN inside: an interrupt right after it (Ctrl-C) rolls back too
                    self.conn.execute("BEGIN IMMEDIATE")  # waits up to busy_timeout for others
                    self.last_wait = time.perf_counter() - asked
                    yield
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise
                try:
                    self.conn.execute("COMMIT")
                except BaseException as exc:  # an interrupt right after it: committed
                    if isinstance(exc, sqlite3.Error) and self.conn.in_transaction:
                        # not committed, and still open on the connection the threads
                        # share: every later write of the process would fail ("cannot
                        # start a transaction within a transaction") while it kept
                        # SQLite's write lock from every other process
                        self.conn.execute("ROLLBACK")
                    if isinstance(exc, sqlite3.Error) or self.conn.in_transaction:
                        raise
                    self._commits += 1  # callers tell by the count that it committed
                    raise
                self._commits += 1
                self._last_commit.version = self.version()  # no hpotrack writer can interleave
        except sqlite3.OperationalError as exc:
            raise StorageError(sqlite_errors.cannot_write(self.path, exc, BUSY_TIMEOUT_S)) from None
        # outside the write lock: other writers never wait for a checkpoint's copying and
        # syncing (see WAL_AUTOCHECKPOINT_PAGES)
        if self._commits % CHECKPOINT_EVERY == 0 and self.wal_bytes() > WAL_CHECKPOINT_BYTES:
            self.checkpoint_wal()

    @property
    def committed_version(self) -> object:
        """``version()`` right after this thread's last commit (None before one): the
        threads of a process share the connection, and another thread's commit may come
        between this one's and the moment it asks."""
        return getattr(self._last_commit, "version", None)

    @property
    def commits(self) -> int:
        """Write transactions committed through this connection so far."""
        return self._commits

    def version(self) -> object:
        """A token that differs whenever a commit may have happened since it was taken,
        much cheaper than a query that finds nothing new (ask looks twice per trial): the
        header of the WAL index (:mod:`hpotrack.walindex`), which every commit of any
        connection changes. Where it cannot be read, SQLite's ``data_version`` (other
        connections' commits) with this connection's commit count."""
        header = self._wal_index.header()
        if header is not None:
            return header
        with self._writer.thread_lock:  # the connection is the threads': see checkpoint_wal
            (data_version,) = self.conn.execute("PRAGMA data_version").fetchone()
            return data_version, self._commits

    def checkpoint_wal(self) -> None:
        """Copy what the WAL holds into the main file, as far as readers allow, so a copy
        of the ``.db`` file alone is complete (when a run ends, and by :meth:`write` when
        the WAL has grown past ``WAL_CHECKPOINT_BYTES``).

        Under the threads' part of the writer lock, as every statement on the connection
        the process's threads share: a run ending in one thread checkpointed while
        another thread's ask was inside its write transaction, whose COMMIT then failed
        ("SQL statements in progress") and left it open, so the next ask of any thread
        failed too ("cannot start a transaction within a transaction") and the trials it
        stored were left running."""
        with self._writer.thread_lock, contextlib.suppress(sqlite3.Error):
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # else the automatic one does

    def wal_bytes(self) -> int:
        """How much the WAL holds now (0 if unknown), from the WAL index."""
        return self._wal_index.wal_bytes()


def drop_command(path: Path, kind: str, name: str) -> str:
    """The shell command that drops the ``kind`` (view, trigger, index) ``name`` from the
    database at ``path``, quoted for the shell and, inside, for SQL."""
    quoted = name.replace('"', '""')
    return f"sqlite3 {shlex.quote(str(path))} " + shlex.quote(f'DROP {kind.upper()} "{quoted}"')


def _name_taken(path: Path, exc: NameTakenError) -> str:
    """Why a migration stopped at an object of the user's with a name it gives, and the
    command that frees the name (a table is renamed: it holds data)."""
    name = exc.name.replace('"', '""')
    if exc.kind == "table":
        fix = f"rename it (sqlite3 {shlex.quote(str(path))} "
        fix += shlex.quote(f'ALTER TABLE "{name}" RENAME TO "{name}_saved"') + ")"
    else:
        fix = f"drop it ({drop_command(path, exc.kind, exc.name)})"
        fix += " and make it anew under another name"
    return (
        f"cannot migrate {path} to schema version {SCHEMA_VERSION}: a table or index it "
        f"adds would take the name of the {exc.kind} {exc.name!r} saved in the file; {fix}, "
        "then open the file again (nothing was changed)"
    )


def require_sqlite() -> None:
    """Refuse, before any file is touched, a SQLite older than :data:`MIN_SQLITE`, the
    oldest hpotrack is tested with (an older one failed its studies half-way)."""
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        needed = ".".join(map(str, MIN_SQLITE))
        raise StorageError(
            f"hpotrack needs SQLite {needed} or newer, but this Python's sqlite3 module uses "
            f"SQLite {sqlite3.sqlite_version}: upgrade the system's SQLite library "
            "(libsqlite3), or use a Python that bundles a newer one (conda's, uv's)"
        )


def _release(conn: sqlite3.Connection, path: Path, writer: WriterLock, wal_index: WalIndex) -> None:
    conn.close()
    disconnected(path)
    writer.close()
    wal_index.close()


def wait_for_a_creator(path: Path) -> bool:
    """Wait until no hpotrack writer holds the lock of the database ``path``; whether
    there was a lock file to wait on. A reader finding the file empty or without
    hpotrack's tables may have come while a process creates it, which holds the lock
    from before the file exists until its tables are committed (``hpotrack show`` beside
    a first ``optimize()`` said the file was empty, or a copy taken without its -wal).
    Without a lock file no hpotrack writer was ever here: nothing to wait for, and a
    reader leaves nothing beside someone else's file."""
    lock = WriterLock(path)
    if not lock.path.exists():
        return False
    try:
        with _held(lock, path):
            return True
    finally:
        lock.close()


@contextmanager
def _held(
    lock: WriterLock, path: Path, while_waiting: Callable[[], object] | None = None
) -> Iterator[None]:
    """Hold the writer ``lock`` of ``path`` (doing ``while_waiting`` while another process
    holds it): one error if it stays taken (a writer stopped inside its transaction)."""
    wait = 10 * BUSY_TIMEOUT_S  # read at call time: tests shorten it
    try:
        with lock.hold(timeout=wait, while_waiting=while_waiting):
            yield
    except TimeoutError:
        raise StorageError(
            f"{path} stayed locked by another hpotrack process for "
            f"{wait:.0f} s; is one stopped (Ctrl-Z, a debugger)?"
        ) from None


def _empty_file(path: Path) -> bool:
    return path.is_file() and path.stat().st_size == 0

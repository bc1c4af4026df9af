"""``hpotrack.connection.Connection`` on real files: a new file, the files it refuses, the
WAL, and files written by older versions, migrated."""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import hpotrack as hp
from hpotrack.cli import cli
from hpotrack.connection import Connection, drop_command
from hpotrack.errors import StorageError, StudyMismatchError
from hpotrack.records import TrialState
from hpotrack.schema import SCHEMA_VERSION
from hpotrack.store import Store, close_stores, open_store
from hpotrack.walindex import WalIndex
from tests.faultworker import CLI, ROOT
from tests.test_store import new_study, query

# -- a new file, and files hpotrack must refuse ----------------------------------------------


def test_a_new_file_gets_the_current_schema_version_and_wal(db: Path, store: Store) -> None:
    assert SCHEMA_VERSION == 12
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    assert query(db, "PRAGMA journal_mode") == [("wal",)]
    tables = {name for (name,) in query(db, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "studies", "trials", "metrics", "runs"} <= tables


def _schema(db: Path) -> list[tuple[str, str]]:
    """Every table and index as (name, SQL), whitespace aside."""
    rows = query(db, "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
    return [(name, " ".join(sql.replace("IF NOT EXISTS ", "").split())) for name, sql in rows]


def test_a_new_file_has_the_schema_of_an_old_one_migrated(db: Path, tmp_path: Path) -> None:
    """The schema of a new file is the one a file written by version 1 (with sqlite-utils)
    gets by migration: one schema, however old the file."""
    Store(db).close()
    old = tmp_path / "v1.db"
    shutil.copy(SCHEMA_V1, old)
    Store(old).close()
    assert _schema(db) == _schema(old)


def test_creating_a_database_imports_neither_sqlite_utils_nor_pandas(tmp_path: Path) -> None:
    """sqlite-utils imports pandas when it is installed: about a second per new file."""
    code = (
        "import sys; from hpotrack.store import Store; Store(sys.argv[1]).close(); "
        "print(sorted({'sqlite_utils', 'pandas'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "new.db")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.strip() == "[]"


def test_reopening_an_existing_file_keeps_its_data(db: Path, store: Store) -> None:
    study_id = new_study(store)
    store.close()
    again = Store(db)
    try:
        row = again.find_study("s")
        assert row is not None and row.id == study_id
        assert query(db, "SELECT COUNT(*) FROM meta") == [(1,)]
    finally:
        again.close()


def test_a_newer_schema_is_refused(db: Path) -> None:
    Store(db).close()
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StorageError, match="newer") as raised:
        Store(db)
    assert "99" in str(raised.value)
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [("99",)]


def test_an_older_sqlite_than_supported_is_one_clear_error_before_the_file_is_made(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python's sqlite3 uses the system's SQLite on Linux; one too old failed every
    trial's insert with a syntax error, after the file and its study were made."""
    made = tmp_path / "made.db"
    Store(made).close()
    close_stores()
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 30, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.30.1")
    message = (
        "hpotrack needs SQLite 3.31.0 or newer, but this Python's sqlite3 module uses "
        "SQLite 3.30.1: upgrade the system's SQLite library"
    )
    with pytest.raises(StorageError, match=message):
        Store(db)
    assert not db.exists()
    shown = CliRunner().invoke(cli, ["--db", str(made), "show"])
    assert shown.exit_code != 0 and message in shown.output
    assert shown.exception is None or isinstance(shown.exception, SystemExit)


@pytest.mark.parametrize("stored", ["abc", "5.0", "", "-1", "0"])
def test_a_damaged_schema_version_is_one_clear_error_and_the_file_stays(
    db: Path, stored: str
) -> None:
    """A version that is not a whole number from 1 cannot pick migrations: "abc" raised
    int()'s ValueError (a traceback in the CLI), "-1" and "0" ran migrations on tables
    that exist ("duplicate column name")."""
    Store(db).close()
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (stored,))
    with pytest.raises(StorageError, match="unreadable schema version"):
        Store(db)
    shown = CliRunner().invoke(cli, ["--db", str(db), "show"])
    assert shown.exit_code != 0 and "unreadable schema version" in shown.output
    assert shown.exception is None or isinstance(shown.exception, SystemExit)
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [(stored,)]


def test_a_read_only_place_is_named_with_what_to_do(
    db: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite in WAL mode writes beside the file even to read it: where it cannot (a
    read-only folder, for a user who is not root), say so and how to read it anyway."""
    close_stores()

    def refused(self: Store) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(Store, "_set_wal", refused)
    with pytest.raises(StorageError, match="copy it to a writable folder to read it"):
        Store(db, must_exist=True)


def lock_is_held(db: Path) -> bool:
    """Whether some descriptor holds the writer lock of ``db`` (tried through one of ours)."""
    fd = os.open(f"{db}.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_creating_a_file_holds_the_writer_lock_until_its_tables_are_in(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader that finds the file empty, or without tables, waits for this lock (see
    below): a process creating the file holds it from before the file exists until its
    tables are committed."""
    held: list[bool] = []
    open_file = Connection._open

    def watched(self: Connection, must_exist: bool) -> None:
        held.append(lock_is_held(db))  # the file is there, empty
        open_file(self, must_exist)
        held.append(lock_is_held(db))  # its tables are committed

    monkeypatch.setattr(Connection, "_open", watched)
    Store(db).close()
    assert held == [True, True]
    assert not lock_is_held(db)
    held.clear()
    Store(db).close()  # an existing file: readers and writers go on without the lock
    assert held == [False, False]


@pytest.mark.parametrize("made", ["empty", "no tables yet"])
def test_a_reader_waits_for_the_process_creating_the_file(tmp_path: Path, made: str) -> None:
    """``hpotrack show`` run while the first ``optimize()`` creates the file found it empty
    (or with SQLite's header and no tables) and failed, saying the file was empty or a
    copy taken without its -wal. It waits for the creator's lock, then reads the file."""
    template = tmp_path / "template.db"
    hp.tune({"x": (0.0, 1.0)}, study="made", db=template)(lambda x: x).optimize(n_trials=1)
    close_stores()
    db = tmp_path / "h.db"
    creator = os.open(f"{db}.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(creator, fcntl.LOCK_EX)  # as a process creating the file holds it
    if made == "empty":
        db.touch()
    else:
        with closing(sqlite3.connect(db)) as conn:
            conn.execute("PRAGMA journal_mode = WAL")
    bells = tmp_path / "bells"  # where the reader makes its doorbell once it has to wait
    bells.mkdir(mode=0o700)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_RUNTIME_DIR": str(bells)}
    reader = subprocess.Popen(
        [sys.executable, "-c", CLI, "--db", str(db), "show"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list(bells.rglob("*.wake")) and reader.poll() is None:
        assert time.monotonic() < deadline, "the reader neither waited nor ended"
        time.sleep(0.01)
    with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(db)) as target:
        source.backup(target)  # the creator commits the tables, and lets go of the lock
    os.close(creator)
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    assert "made" in out


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"hello" * 100)
    with pytest.raises(StorageError, match="not an hpotrack database"):
        Store(junk)
    assert junk.read_bytes() == b"hello" * 100


def test_load_study_on_a_file_that_is_not_sqlite_raises_storage_error(tmp_path: Path) -> None:
    """In Python's words only: it said "pass db=PATH (--db PATH)" to a script too."""
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"hello" * 100)
    with pytest.raises(StorageError, match="not an hpotrack database") as raised:
        hp.load_study("s", db=junk)
    assert str(raised.value).endswith("; pass db=PATH to the right file")


def foreign_db(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE people (name TEXT)")
        conn.execute("INSERT INTO people VALUES ('ada')")
    return path


def test_someone_elses_sqlite_database_is_refused(tmp_path: Path) -> None:
    other = foreign_db(tmp_path / "other.db")
    with pytest.raises(StorageError, match="not an hpotrack one") as raised:
        Store(other)
    assert "people" in str(raised.value)
    tables = {name for (name,) in query(other, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"people"}  # no hpotrack tables were added to it


def test_someone_elses_sqlite_database_keeps_its_journal_mode(tmp_path: Path) -> None:
    other = foreign_db(tmp_path / "other.db")
    with pytest.raises(StorageError):
        Store(other)
    assert query(other, "PRAGMA journal_mode") == [("delete",)]


FOREIGN_FILES = {  # SQL that makes another program's file, with nothing hpotrack wrote
    "a meta table of its own": [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
        "INSERT INTO meta VALUES ('app', 'photos 2.1')",
    ],
    "a meta table with other columns": ["CREATE TABLE meta (name TEXT, data BLOB)"],
    "only a view": ["CREATE VIEW answer AS SELECT 42 AS n"],
    "no schema but an application id": ["PRAGMA application_id = 1196835368"],
    "no schema but a user version": ["PRAGMA user_version = 3"],
}


@pytest.mark.parametrize("kind", FOREIGN_FILES)
def test_another_programs_file_is_refused_unchanged_whatever_it_holds(
    tmp_path: Path, kind: str
) -> None:
    """Only a file with nothing in it or with hpotrack's meta row is hpotrack's: one whose
    only table was a `meta` got hpotrack's tables written into it (its other columns:
    "no such column: value"), and so did one with only views or a header id set."""
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as conn:
        for statement in FOREIGN_FILES[kind]:
            conn.execute(statement)
        conn.commit()
    before = other.read_bytes()
    with pytest.raises(StorageError, match=r"not an hpotrack one \(it has .*pass db=PATH"):
        Store(other)
    assert other.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def _rollback_journal_copy(source: Path, db: Path, version: str | None = None) -> Path:
    """A copy of ``source`` in rollback-journal mode (as a file shipped alone is), its
    schema version set to ``version``."""
    shutil.copy(source, db)
    with closing(sqlite3.connect(db)) as conn:
        if version is not None:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
            conn.commit()
        conn.execute("PRAGMA journal_mode = DELETE")
    return db


def _drop_column(conn: sqlite3.Connection, table: str, column: str) -> None:
    """``ALTER TABLE table DROP COLUMN column`` on any SQLite hpotrack supports (that
    statement needs 3.35): the table copied without the column."""
    kept = ", ".join(
        f'"{row[1]}"' for row in conn.execute(f'PRAGMA table_info("{table}")') if row[1] != column
    )
    conn.execute(f'CREATE TABLE "{table}_kept" AS SELECT {kept} FROM "{table}"')
    conn.execute(f'DROP TABLE "{table}"')
    conn.execute(f'ALTER TABLE "{table}_kept" RENAME TO "{table}"')


@pytest.mark.parametrize("refused", ["newer", "pre-release"])
def test_a_refused_file_stays_byte_for_byte_as_it_was(tmp_path: Path, refused: str) -> None:
    """A newer schema and a pre-release file were switched to WAL (the header rewritten)
    before they were refused "(nothing was changed)"."""
    if refused == "newer":
        Store(tmp_path / "current.db").close()
        db = _rollback_journal_copy(
            tmp_path / "current.db", tmp_path / "h.db", str(SCHEMA_VERSION + 1)
        )
    else:
        db = _rollback_journal_copy(SCHEMA_V2, tmp_path / "h.db")
        with closing(sqlite3.connect(db)) as conn:
            _drop_column(conn, "trials", "checks")
            conn.commit()
    before = db.read_bytes()
    with pytest.raises(StorageError, match=r"newer than|pre-release"):
        Store(db)
    assert db.read_bytes() == before


CRASHED_WRITER = """
import os, signal, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA wal_autocheckpoint = 0")  # every frame stays in the -wal
conn.execute(sys.argv[2])
os.kill(os.getpid(), signal.SIGKILL)  # no close: no checkpoint
"""


@pytest.mark.parametrize(
    ("source", "change", "refusal"),
    [
        ("v7", f"UPDATE meta SET value = '{SCHEMA_VERSION + 1}' WHERE key = 'schema_version'",
         "newer than"),
        ("empty", "CREATE TABLE notes (text TEXT)", "not an hpotrack one"),
    ],
    ids=["newer", "another program's"],
)  # fmt: skip
def test_a_refused_file_whose_writer_crashed_keeps_its_bytes_and_its_wal(
    tmp_path: Path, source: str, change: str, refusal: str
) -> None:
    """The connection that read the schema version was the one that may write: closing it
    after the refusal copied the WAL a crashed writer of a newer hpotrack (or another
    program) left into the file and deleted the -wal (the last connection checkpoints)."""
    db = tmp_path / "h.db"
    if source == "v7":
        shutil.copy(SCHEMA_V7, db)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
    killed = subprocess.run([sys.executable, "-c", CRASHED_WRITER, str(db), change], check=False)
    assert killed.returncode == -9
    wal = tmp_path / "h.db-wal"
    before, frames = db.read_bytes(), wal.read_bytes()
    assert frames  # the change is in the -wal only
    with pytest.raises(StorageError, match=refusal):
        Store(db, must_exist=source == "v7")
    assert (db.read_bytes(), wal.read_bytes()) == (before, frames)


def test_a_file_system_without_shared_memory_says_to_use_a_local_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the processes of a file cannot share memory beside it, SQLite keeps the old
    journal mode instead of WAL; the message asked "is it on a network drive?". SQLite
    refuses for real here: the store's connection opens the file through SQLite's own
    ``unix-none`` VFS, which has no shared memory (the seam is which VFS opens it: no
    file system at hand refuses WAL)."""
    from hpotrack import connection

    real = sqlite3.connect

    def without_shared_memory(path: Path, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        return real(f"{Path(path).as_uri()}?vfs=unix-none", *args, uri=True, **kwargs)

    Store(tmp_path / "current.db").close()
    copied = _rollback_journal_copy(tmp_path / "current.db", tmp_path / "copied.db")
    monkeypatch.setattr(connection.sqlite3, "connect", without_shared_memory)
    for db in (tmp_path / "new.db", copied):  # a new file, and one to switch to WAL
        with pytest.raises(StorageError) as refused:
            Store(db)
        message = str(refused.value)
        assert message.startswith(
            f"cannot use {db}: SQLite refused to switch it to WAL mode (it stayed in delete "
            "mode). WAL needs memory that every process opening the file shares"
        ), message
        assert "network file systems (NFS, SMB)" in message and "?" not in message
        assert message.endswith("put the database on a local disk (db=PATH, HPOTRACK_DB or --db)")
    result = CliRunner().invoke(cli, ["--db", str(copied), "show"])
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    assert result.output.startswith(f"Error: cannot use {copied}: SQLite refused"), result.output


def test_a_program_reading_a_rollback_journal_file_is_named_within_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Switching to WAL needs the file alone for a moment; while another program kept a
    read transaction open, each of 50 tries waited out the busy timeout (~50 min, then
    "is it on a network drive?")."""
    from hpotrack import connection

    Store(tmp_path / "current.db").close()
    db = _rollback_journal_copy(tmp_path / "current.db", tmp_path / "h.db")
    monkeypatch.setattr(connection, "BUSY_TIMEOUT_S", 0.05)  # old code: ~15 s, then wrong
    monkeypatch.setattr(connection, "WAL_SWITCH_WAIT_S", 0.3, raising=False)
    with closing(sqlite3.connect(db, isolation_level=None)) as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM trials").fetchone()
        with pytest.raises(StorageError, match="another program has it open in a transaction"):
            Store(db)
        reader.execute("COMMIT")
    assert query(db, "PRAGMA journal_mode") == [("delete",)]
    Store(db).close()  # once it is closed
    assert query(db, "PRAGMA journal_mode") == [("wal",)]


def test_a_damaged_file_says_restore_or_recover(db: Path, store: Store) -> None:
    new_study(store)
    with store.write():
        store.conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [(f"k{n}", "v" * 500) for n in range(200)],
        )
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    with pytest.raises(StorageError, match=r"is damaged .*backup.*sqlite3 .* \.recover"):
        Store(db)


def test_trials_damaged_after_opening_are_a_storage_error_when_read(db: Path) -> None:
    """Pages of the trials table overwritten (a bad disk block) while the schema still
    opens: reading the trials through the library is one StorageError with the fix, as
    in the CLI (it was sqlite3.DatabaseError)."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float) -> dict[str, object]:
        return {"value": x, "note": "n" * 200}  # a few trials per page: many pages

    train.optimize(n_trials=300)
    close_stores()
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (size,) = conn.execute("PRAGMA page_size").fetchone()
        leaves = [n for (n,) in conn.execute(
            "SELECT pageno FROM dbstat WHERE name = 'trials' AND pagetype = 'leaf'"
        )]  # fmt: skip
    data = bytearray(db.read_bytes())
    for page in leaves[len(leaves) // 2 :][:3]:
        data[(page - 1) * size : page * size] = bytes(range(256)) * (size // 256)
    db.write_bytes(bytes(data))
    study = hp.load_study("s", db=db)
    with pytest.raises(StorageError, match=r"is damaged .*backup.*\.recover"):
        study.trials  # noqa: B018 - the read is the test


def _unprivileged() -> list[str]:
    """A command prefix under which file permission bits apply: nothing for a user who is
    not root; for root, setpriv without the capabilities that bypass them."""
    if not hasattr(os, "geteuid"):
        pytest.skip("permission bits as on POSIX only")
    if os.geteuid() != 0:
        return []
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]
    if shutil.which("setpriv") is None or subprocess.run([*prefix, "true"]).returncode != 0:
        pytest.skip("running as root without setpriv: permission bits do not apply")
    return prefix


def test_an_old_read_only_file_says_opening_migrates_it_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    """A reader of an old file it may not write was told "cannot write X: ... read-only",
    and it left -wal, -shm and .lock files beside it."""
    db = tmp_path / "old.db"
    shutil.copy(SCHEMA_V3, db)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")  # as every file hpotrack wrote
    db.chmod(0o444)
    before = db.read_bytes()
    code = "import sys; from hpotrack.store import Store; Store(sys.argv[1], must_exist=True)"
    run = [*_unprivileged(), sys.executable, "-c", code, str(db)]
    error = subprocess.run(run, capture_output=True, text=True).stderr.strip().splitlines()[-1]
    assert "has schema version 3, and opening it migrates it to version 12" in error
    assert "read-only: copy it to a writable folder or make it writable" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.db"]
    assert db.read_bytes() == before


def test_files_a_read_of_a_read_only_database_left_are_named_once_it_is_writable_again(
    tmp_path: Path,
) -> None:
    """Reading a chmod 444 database leaves its -wal and -shm beside it, read-only too
    (SQLite gives them the file's mode, and a connection that cannot write does not remove
    them). Once the file was writable again every write failed with "cannot write X: the
    file or its folder is read-only", though neither was."""
    db = _read_while_read_only(tmp_path)
    shm = tmp_path / "h.db-shm"
    if not shm.exists() or shm.stat().st_mode & 0o222:
        pytest.skip("this SQLite left no read-only -shm behind")
    db.chmod(0o644)
    run = _write_target(db)
    error = subprocess.run(run, capture_output=True, text=True).stderr.strip().splitlines()[-1]
    assert f"cannot write {db}: SQLite's" in error and "h.db-shm" in error, error
    assert "(left by a read of the database while it was read-only)" in error
    fix = error.split("chmod u+w ")[1].split(" (attempt")[0].split()
    assert str(shm) in fix
    subprocess.run(["chmod", "u+w", *fix], check=True)
    subprocess.run(run, check=True)
    assert query(db, "SELECT target FROM studies") == [(5,)]


def test_a_write_to_a_read_only_database_names_the_chmod_that_lets_it_write(
    tmp_path: Path,
) -> None:
    """It said "the file or its folder is read-only" without the fix; once the file alone
    was made writable, the write failed again on the -wal and -shm a read had left
    read-only beside it. The command named makes the next write work."""
    db = _read_while_read_only(tmp_path)
    run = _write_target(db)
    error = subprocess.run(run, capture_output=True, text=True).stderr.strip().splitlines()[-1]
    assert f"cannot write {db}: the file is read-only; make it writable" in error, error
    fix = error.split("chmod u+w ")[1].split(" (attempt")[0].split()
    assert fix[0] == str(db)
    subprocess.run(["chmod", "u+w", *fix], check=True)
    subprocess.run(run, check=True)
    assert query(db, "SELECT target FROM studies") == [(5,)]


def _read_while_read_only(tmp_path: Path) -> Path:
    """A database with a study, chmod 444, read once by an unprivileged process (which
    leaves its -wal and -shm beside it, read-only too)."""
    db = tmp_path / "h.db"
    with closing(Store(db)) as store:
        new_study(store)
    db.chmod(0o444)
    read = "import sys; from hpotrack.store import Store; Store(sys.argv[1]).list_studies()"
    subprocess.run([*_unprivileged(), sys.executable, "-c", read, str(db)], check=True)
    return db


def _write_target(db: Path) -> list[str]:
    """The command of an unprivileged process that sets the study's target to 5."""
    write = (
        "import sys; from hpotrack.store import Store; store = Store(sys.argv[1])\n"
        "with store.write(): store.update_study(1, target=5)"
    )
    return [*_unprivileged(), sys.executable, "-c", write, str(db)]


def test_a_read_only_mount_is_named_with_what_to_do(
    db: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a read-only mount SQLite cannot make the -shm file and says only "unable to
    open database file" (a mount needs root: the place is made read-only here)."""
    from hpotrack import sqlite_errors

    close_stores()

    def cannot_open(self: Store) -> None:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(sqlite_errors, "writable", lambda path: False)
    monkeypatch.setattr(Store, "_set_wal", cannot_open)
    with pytest.raises(StorageError, match="read-only; copy it to a writable folder to read it"):
        Store(db, must_exist=True)


def _last_line(*command: str) -> str:
    """The last line a command printed on stderr (the error), as a user who is not root."""
    done = subprocess.run([*_unprivileged(), *command], capture_output=True, text=True)
    assert done.returncode != 0, done.stdout
    return done.stderr.strip().splitlines()[-1]


def test_a_database_this_user_may_not_reach_or_read_is_named_with_what_to_do(
    tmp_path: Path,
) -> None:
    """Another user's private folder (a home folder) or file (made under umask 077): the
    library raised PermissionError from a stat, the CLI said "cannot write the output:
    Permission denied", and an unreadable file was called read-only, to be copied to a
    writable folder, which cannot work either."""
    folder = tmp_path / "private"
    folder.mkdir()
    db = folder / "h.db"
    Store(db).close()
    close_stores()
    opening = "import sys; from hpotrack.store import Store; Store(sys.argv[1], must_exist=True)"
    showing = ["-c", "from hpotrack.cli import main; main()", "--db", str(db), "show"]
    db.chmod(0o000)
    try:
        error = _last_line(sys.executable, "-c", opening, str(db))
        assert error.startswith(f"hpotrack.errors.StorageError: cannot open {db}: permission")
        assert "may not read it (mode ----------; another user's file?)" in error
        shown = _last_line(sys.executable, *showing)  # click said "'--db' is not readable"
        assert shown == error.replace("hpotrack.errors.StorageError", "Error", 1)
        db.chmod(0o600)
        folder.chmod(0o000)
        enter = f"cannot open {db}: permission denied: this user may not enter the folder {folder}"
        assert enter in _last_line(sys.executable, "-c", opening, str(db))
        assert _last_line(sys.executable, *showing) == f"Error: {enter} (another user's " + (
            "private folder?); ask its owner for access, or for a copy"
        )
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)


def test_a_new_database_in_a_read_only_folder_says_where_to_put_it(tmp_path: Path) -> None:
    """SQLite's "unable to open database file" for a file it cannot create was told as a
    read-only database "to copy to a writable folder to read it": there is none."""
    folder = tmp_path / "checkout"
    folder.mkdir()
    folder.chmod(0o555)
    opening = "import sys; from hpotrack.store import Store; Store(sys.argv[1])"
    try:
        error = _last_line(sys.executable, "-c", opening, str(folder / "h.db"))
    finally:
        folder.chmod(0o755)
    assert error == (
        f"hpotrack.errors.StorageError: cannot create {folder / 'h.db'}: the folder {folder} "
        "is read-only for this user; pass db=PATH (or set HPOTRACK_DB) to a file in a "
        "writable folder"
    )
    assert list(folder.iterdir()) == []


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="directory"):
        Store(tmp_path)


def test_a_directory_as_db_names_a_file_in_it_to_use_instead(tmp_path: Path) -> None:
    """``db="runs"`` for a folder said only "is a directory, not a database file"."""
    train = hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=tmp_path)(lambda x: x)
    with pytest.raises(StorageError) as raised:
        train.optimize(n_trials=1)
    suggested = tmp_path / "hpotrack.db"
    assert str(raised.value).endswith(f"name a file in it, e.g. db='{suggested}'")
    hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=suggested)(lambda x: x).optimize(n_trials=1)
    assert len(hp.load_study("s", db=suggested).trials) == 1


@pytest.mark.parametrize("end", ["-wal", "-shm", ".lock"])
def test_a_file_beside_a_database_is_not_taken_for_one(db: Path, store: Store, end: str) -> None:
    """`--db h.db-wal import ...` built a database in the WAL's place, which SQLite then
    threw away (or took for the real one's log)."""
    beside = Path(f"{db}{end}")
    before = beside.read_bytes() if beside.exists() else None
    with pytest.raises(StorageError, match=rf"belongs to the database {db} .*pass db={db}"):
        Store(beside)
    assert (beside.read_bytes() if beside.exists() else None) == before


def test_must_exist_refuses_a_missing_file_without_creating_it(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(StorageError, match="no database"):
        Store(missing, must_exist=True)
    assert not missing.exists()


def test_the_file_passes_integrity_check_after_a_study(db: Path) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0), "k": [1, 2]}, study="s", db=db, seed=0)
    def train(x: float, k: int, trial: hp.Trial) -> float:
        for step in range(3):
            trial.report(x * step, step=step)
        if k == 2 and x > 0.8:
            raise ValueError("some trials fail")
        return x

    train.optimize(n_trials=20)
    train.study.enqueue({"x": 0.5, "k": 1})
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert query(db, "PRAGMA foreign_key_check") == []
    assert query(db, "SELECT COUNT(*) FROM metrics") == [(60,)]


def test_writers_checkpoint_the_wal_so_it_stays_bounded(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writers checkpoint right after their transaction (outside the lock) once the WAL
    passes ~4 MiB; without that it would hold every page written (~20 KiB per trial).
    Here once it passes 1 MiB: as many checkpoints in a quarter of the trials."""
    from hpotrack import connection

    monkeypatch.setattr(connection, "WAL_CHECKPOINT_BYTES", 1 << 20)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="w", db=db, seed=0)
    def f(x: float, trial: hp.Trial) -> float:
        for step in range(5):
            trial.report(x, step=step)
        return x

    largest = 0
    for n in range(25, 251, 25):
        f.optimize(n_trials=n)
        largest = max(largest, Path(f"{db}-wal").stat().st_size)
    assert largest < 2 << 20
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 1250
    f.optimize(n_trials=500)  # one long run: checkpoints must keep up while it writes
    assert Path(f"{db}-wal").stat().st_size < 2 << 20


def test_wal_bytes_reads_the_frames_the_wal_holds(db: Path) -> None:
    """The WAL's content comes from the WAL index, not the file's size: after a
    checkpoint SQLite writes the file again from its start without shrinking it."""
    from hpotrack.store import open_store

    store = open_store(db)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert store.wal_bytes() == 0
    for k in range(20):
        with store.write():
            store.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (f"k{k}", "v"))
    _, frames, _ = store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames >= 20
    assert store.wal_bytes() == frames * (4096 + 24)
    with store.write():  # the first writer after a full checkpoint restarts the WAL
        store.conn.execute("INSERT INTO meta (key, value) VALUES ('again', 'v')")
    assert 0 < store.wal_bytes() < frames * (4096 + 24) < Path(f"{db}-wal").stat().st_size
    store.close()


def test_version_changes_with_every_commit_of_any_connection(db: Path) -> None:
    """The token ask compares to skip reading: it must change when anyone commits, from
    the WAL index header, or from SQLite's data_version where there is no usable one."""
    from hpotrack.store import open_store

    store, other = open_store(db), Store(db)
    for fallback in (False, True):
        if fallback:
            store._wal_index = WalIndex()  # as for a file SQLite indexes in its own memory
        before = store.version()
        assert store.version() == before and isinstance(before, tuple) == fallback
        with other.write():
            other.conn.execute("INSERT INTO meta (key, value) VALUES (?, 'v')", (f"o{fallback}",))
        after_other = store.version()
        assert after_other != before
        with store.write():
            store.conn.execute("INSERT INTO meta (key, value) VALUES (?, 'v')", (f"s{fallback}",))
        assert store.version() != after_other
        assert store.committed_version == store.version()
    other.close()


def test_commits_never_checkpoint_inside_the_write_lock(db: Path) -> None:
    from hpotrack.connection import WAL_AUTOCHECKPOINT_PAGES
    from hpotrack.store import open_store

    store = open_store(db)
    (pages,) = store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()
    assert pages == WAL_AUTOCHECKPOINT_PAGES > 10 * 1000


# -- files written by older versions --------------------------------------------------------


def copied_with_checkpoints(fixture: Path, folder: Path) -> Path:
    """``folder/old.db``: a copy of the file ``fixture`` and of its checkpoint folder."""
    db = folder / "old.db"
    shutil.copy(fixture, db)
    shutil.copytree(fixture.with_name(fixture.name + ".ckpt"), folder / "old.db.ckpt")
    return db


SCHEMA_V1 = Path(__file__).with_name("data") / "schema_v1.db"  # see data/make_schema_v1.py


def test_a_schema_v1_file_is_migrated_and_keeps_every_trial(tmp_path: Path) -> None:
    """A real file written by hpotrack at schema 1 (commit 9ce63c4): evolution trials
    with lineage and reports, failures and a queued trial."""
    import shutil

    db = tmp_path / "old.db"
    shutil.copy(SCHEMA_V1, db)
    before = query(db, "SELECT number, state, params, value, metrics FROM trials ORDER BY number")
    edges = query(db, "SELECT child, parent, kind FROM lineage ORDER BY child, parent")
    points = query(db, "SELECT COUNT(*) FROM metrics")
    study = hp.load_study("v1-study", db=db)
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    trials = study.trials
    assert [(t.number, t.state.value, t.value) for t in trials] == [
        (number, state, value) for number, state, _, value, _ in before
    ]
    assert all(t.rung is None and t.bracket is None and t.checks == {} for t in trials)
    assert study.budget is None
    assert {(t.number, e.parent, e.kind) for t in trials for e in t.parents} == set(edges)
    assert query(db, "SELECT COUNT(*) FROM metrics") == points
    assert study.curve(0) == {"loss": [(s, trials[0].params["x"] ** 2 + s) for s in range(3)]}
    assert [t.state for t in trials].count(TrialState.QUEUED) == 1
    close_stores()

    @hp.tune(
        {"x": hp.Float(-2.0, 2.0), "n": hp.Int(1, 5), "kind": ["a", "b"]},
        method="evolution",
        study="v1-study",
        db=db,
        seed=7,
        objective="loss",
        max_failures=100,
    )
    def train(x: float, n: int, kind: str) -> float:
        return x * x + n

    resumed = train.optimize(n_trials=35)  # the queued trial runs first, then new ones
    assert len(resumed.trials) == 35 and resumed.trials[30].state is TrialState.COMPLETE
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


def test_a_version_1_file_from_before_schema_1_settled_is_refused_unchanged(
    tmp_path: Path,
) -> None:
    """Files written in the first hours of development say version 1 but lack columns
    that version 1 got later (it was edited in place then): migrating one stamped it
    current while every query failed."""
    db = tmp_path / "early.db"
    shutil.copy(SCHEMA_V1, db)
    with closing(sqlite3.connect(db)) as conn, conn:
        _drop_column(conn, "studies", "retries")
    before = _schema(db)
    with pytest.raises(StorageError, match=r"schema version 1 but lacks studies\.retries: "):
        open_store(db)
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [("1",)]
    assert _schema(db) == before


SCHEMA_V2 = Path(__file__).with_name("data") / "schema_v2.db"  # see data/make_schema_v2.py


def test_a_schema_v2_file_keeps_rungs_checks_and_checkpoints(tmp_path: Path) -> None:
    """A real file written at schema 2: a Hyperband study (budget, rungs, brackets,
    checks, promotions) and a finished PBT study with its checkpoint files."""
    db = copied_with_checkpoints(SCHEMA_V2, tmp_path)
    before = query(db, "SELECT number, state, rung, bracket, checks FROM trials ORDER BY id")
    halving = hp.load_study("v2-hyperband", db=db)
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    assert halving.budget == hp.Budget(1, 9, name="epochs")
    after = [(t.number, t.state.value, t.rung, t.bracket) for t in halving.trials]
    assert after == [row[:4] for row in before[: len(after)]]
    assert any(t.checks for t in halving.trials) and all(t.note is None for t in halving.trials)
    population = hp.load_study("v2-pbt", db=db)
    last = population.trials[-1]
    assert population.schedule(last.number)["lr"][0][0] == 1
    close_stores()

    @hp.tune(
        {"lr": hp.Float(0.01, 1.0, log=True)},
        method=hp.methods.PBT(population=3, interval=2, generations=3),
        study="v2-pbt",
        db=db,
        seed=3,
    )
    def more(lr: float, trial: hp.Trial) -> float:  # one more generation, from the files
        state = trial.load_checkpoint()
        assert state is not None and 0 < state["w"] < 1
        for step in trial.steps:
            state["w"] += lr * (1 - state["w"])
            trial.report(1 - state["w"], step=step)
        trial.save_checkpoint(state)
        return 1 - state["w"]

    study = more.optimize()
    assert len(study.trials) == 9 and all(t.state is TrialState.COMPLETE for t in study.trials)
    assert [t.budget for t in study.trials[6:]] == [6.0, 6.0, 6.0]


SCHEMA_V3 = Path(__file__).with_name("data") / "schema_v3.db"  # see data/make_schema_v3.py


def test_a_schema_v3_file_loses_the_state_index_and_keeps_its_queue(tmp_path: Path) -> None:
    """A real file written at schema 3 (commit 7514490), with an index on the state of
    queued and running trials that schema 4 drops: its queued trial still runs first and
    its trial left running by a worker that is gone is still found, failed and retried."""
    import shutil

    db = tmp_path / "old.db"
    shutil.copy(SCHEMA_V3, db)
    indexes = "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '%state%'"
    assert query(db, indexes) == [("idx_trials_study_id_state_number",)]
    before = query(db, "SELECT number, state, params FROM trials ORDER BY number")
    assert [state for _, state, _ in before][-2:] == ["running", "queued"]
    close_stores()

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="v3-study", db=db, seed=5)
    def train(x: float, trial: hp.Trial) -> float:
        for step in range(3):
            trial.report(x + step, step=step)
        return x

    trials = train.optimize(n_trials=10).trials
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    assert query(db, indexes) == []
    assert [(t.number, t.state.value) for t in trials[:6]] == [(n, s) for n, s, _ in before[:6]]
    lost, queued, retry = trials[6], trials[7], trials[8]
    assert lost.state is TrialState.FAILED and "worker lost" in (lost.error or "")
    assert queued.state is TrialState.COMPLETE and queued.params == {"x": 0.25}
    assert retry.params == {"x": 0.5} and retry.origin == "retried"
    assert retry.state is TrialState.COMPLETE and trials[9].origin == "sampled"
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


SCHEMA_V4 = Path(__file__).with_name("data") / "schema_v4.db"  # see data/make_schema_v4.py


def test_a_schema_v4_file_gains_steps_trained_for_new_trials_only(tmp_path: Path) -> None:
    """A real file written at schema 4 (commit 33b1620): a sha study over epochs. Its
    trials keep no count of the epochs they trained (not counted by max_budget); trials
    run after the migration do, and max_budget counts those."""
    import shutil

    db = tmp_path / "old.db"
    shutil.copy(SCHEMA_V4, db)
    before = query(db, "SELECT number, state, value, rung, checks FROM trials ORDER BY number")
    close_stores()

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="v4-sha", db=db, seed=4,
             budget=hp.Budget(1, 9, name="epochs"))  # fmt: skip
    def halving(x: float, trial: hp.Trial) -> float:
        for epoch in range(1, trial.budget + 1):  # type: ignore[operator]
            trial.report((x - 0.3) ** 2 + 1 / epoch, step=epoch)
        return (x - 0.3) ** 2 + 1 / trial.budget  # type: ignore[operator]

    study = halving.optimize(n_trials=100, max_budget=30)
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    old, new = study.trials[: len(before)], study.trials[len(before) :]
    assert [(t.number, t.state.value, t.value, t.rung) for t in old] == [row[:4] for row in before]
    assert all(t.trained is None for t in old)
    trained = [t.trained or 0 for t in new]
    assert all(t.trained is not None for t in new) and 30 <= sum(trained) < 30 + 9
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


SCHEMA_V5 = Path(__file__).with_name("data") / "schema_v5.db"  # see data/make_schema_v5.py


def test_a_schema_v5_file_keeps_its_ids_and_never_gives_them_again(tmp_path: Path) -> None:
    """A real file written at schema 5 (commit 62f5959): its studies and trials keep their
    ids, and after the newest study is deleted the next study and its trials get new ones
    (they got the deleted ones, and a process still running the deleted study wrote into
    the new one)."""
    db = tmp_path / "old.db"
    shutil.copy(SCHEMA_V5, db)
    tables = ("studies", "trials", "metrics", "runs")
    before = {t: query(db, f"SELECT * FROM {t} ORDER BY 1, 2") for t in tables}
    store = open_store(db)
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    after = {t: query(db, f"SELECT * FROM {t} ORDER BY 1, 2") for t in tables}
    assert after == {
        **before,
        "runs": [(*run, None) for run in before["runs"]],  # v7's column
        "trials": [(*trial, None, None) for trial in before["trials"]],  # v9's two
        "studies": [(*study, 0, None, None, None) for study in before["studies"]],  # v10-v12
    }
    kept = hp.load_study("v5-newest", db=db)
    assert [t.value for t in kept.trials] == [t[5] for t in before["trials"][4:]]
    row = store.find_study("v5-newest")
    assert row is not None and row.id == 2
    with store.write():
        store.delete_study(row.id)

    @hp.tune({"z": hp.Float(0.0, 1.0)}, method="random", study="after", db=db, seed=0)
    def after(z: float) -> float:
        return z

    after.optimize(n_trials=2)
    assert query(db, "SELECT id FROM studies WHERE name = 'after'") == [(3,)]
    assert query(db, "SELECT MIN(id) FROM trials WHERE study_id = 3") == [(8,)]
    with pytest.raises(hp.StudyNotFoundError, match="'v5-newest' was deleted"):
        kept.enqueue({"y": 2})  # a handle kept open to the deleted study
    assert len(hp.load_study("after", db=db).trials) == 2
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


SCHEMA_V6 = Path(__file__).with_name("data") / "schema_v6.db"  # see data/make_schema_v6.py


def test_a_schema_v6_file_keeps_the_checkpoints_its_runs_may_have_promised(
    tmp_path: Path,
) -> None:
    """A real file written at schema 6 (commit 6e19a8d) by a run with
    keep_checkpoints="all", which the file does not record: a run with "needed" after
    the migration deleted all but each old trial's latest. It keeps them (which setting
    an old run had is unknown), and collects its own trials' as "needed" says."""
    db = copied_with_checkpoints(SCHEMA_V6, tmp_path)
    saved = (
        "SELECT t.number, c.step, c.path, c.hash FROM checkpoints c "
        "JOIN trials t ON t.id = c.trial_id ORDER BY 1, 2"
    )
    before = query(db, saved)
    assert [row[:2] for row in before] == [(n, s) for n in range(3) for s in (1, 2, 3)]

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="v6-all", db=db, seed=6)
    def every_step(x: float, trial: hp.Trial) -> float:
        for step in (1, 2, 3):
            trial.save_checkpoint({"x": x, "step": step}, step=step)
        return x

    study = every_step.optimize(n_trials=5)
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    assert query(db, "SELECT keep_checkpoints FROM runs ORDER BY id") == [(None,), ("needed",)]
    rows = query(db, saved)
    assert rows[:9] == before and [row[:2] for row in rows[9:]] == [(3, 3), (4, 3)]
    assert all((tmp_path / "old.db.ckpt" / row[2]).is_file() for row in rows)
    assert study.load_checkpoint(0, step=1) == {"x": study.trials[0].params["x"], "step": 1}
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


SCHEMA_V7 = Path(__file__).with_name("data") / "schema_v7.db"  # see data/make_schema_v7.py


def test_a_schema_v7_file_moves_each_trials_checks_into_rows_that_decide_as_before(
    tmp_path: Path,
) -> None:
    """A real file written at schema 7 (commit 1bb1203), when a trial's checks were one
    JSON column: a Hyperband study and a random search with the median pruner, one of
    whose trials a killed worker left running. Every check becomes a row of its own and
    decides as before: the complete trials' checks are what the median rule compares a
    new trial with, and the lost trial's are kept."""
    db = copied_with_checkpoints(SCHEMA_V7, tmp_path)
    listed = (
        "SELECT s.name, t.number, t.rung, t.bracket, t.checks FROM trials t "
        "JOIN studies s ON s.id = t.study_id ORDER BY t.id"
    )
    before = {
        (name, number): (rung, bracket, {int(k): v for k, v in json.loads(checks or "{}").items()})
        for name, number, rung, bracket, checks in query(db, listed)
    }
    assert sum(len(checks) for _, _, checks in before.values()) == 109
    halving, median = hp.load_study("v7-hyperband", db=db), hp.load_study("v7-median", db=db)
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    after = {
        (study.name, t.number): (t.rung, t.bracket, t.checks)
        for study in (halving, median)
        for t in study.trials
    }
    assert after == before
    assert query(db, "SELECT COUNT(*), COUNT(DISTINCT trial_id) FROM checks") == [(109, 29)]
    assert query(db, "SELECT COUNT(*) FROM trials WHERE checks IS NOT NULL") == [(0,)]
    assert median.trials[12].state is TrialState.RUNNING
    close_stores()

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method=hp.methods.Random(pruner="median"),
             study="v7-median", db=db, seed=7, budget=hp.Budget(1, 9, name="epochs"),
             max_failures=5)  # fmt: skip
    def worse(x: float, trial: hp.Trial) -> float:
        for epoch in trial.steps:
            trial.report(100.0, step=epoch)  # worse than every migrated check at epoch 1
        return 100.0

    study = worse.optimize(n_trials=16)
    lost, retry = study.trials[12], study.trials[13]
    assert lost.state is TrialState.FAILED and lost.checks == before[("v7-median", 12)][2]
    assert [(e.parent, e.kind) for e in retry.parents] == [(12, "retried")]
    new = study.trials[13:]
    assert [(t.state, t.checks) for t in new] == [(TrialState.PRUNED, {1: 100.0})] * 4
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


SCHEMA_V8 = Path(__file__).with_name("data") / "schema_v8.db"  # see data/make_schema_v8.py


def test_a_schema_v8_file_gains_each_trials_method_for_new_trials_only(tmp_path: Path) -> None:
    """A real file written at schema 8 (commit bb026b7), before trials named the method
    that proposed them: an auto study (its choice only in each trial's note) and a study
    run with random, then reopened with tpe. Old trials keep no method (which one made
    them is not known for certain: not guessed from notes or the study's method); the
    list of studies still reads auto's choice from the note until a trial names it, and
    the trials run after the migration name theirs."""
    db = tmp_path / "old.db"
    shutil.copy(SCHEMA_V8, db)
    before = query(db, "SELECT * FROM trials ORDER BY id")
    listed = CliRunner().invoke(cli, ["--db", str(db), "show"])
    assert listed.exit_code == 0, listed.output
    rows = {line.split()[0]: line.split()[1:3] for line in listed.output.splitlines()[2:]}
    assert rows["v8-auto"] == ["auto", "(tpe)"] and rows["v8-switch"][0] == "tpe"
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    assert query(db, "SELECT * FROM trials ORDER BY id") == [(*t, None, None) for t in before]
    close_stores()
    space = {"x": hp.Float(0.0, 1.0), "y": hp.Float(0.0, 1.0)}

    def objective(x: float, y: float) -> float:
        return x + y

    auto = hp.tune(space, method="auto", study="v8-auto", db=db, seed=8)(objective)
    trials = auto.optimize(n_trials=9).trials
    assert [t.origin for t in trials[4:7]] == ["enqueued", "sampled", "manual"]
    assert all(t.method is None and t.chosen_by is None for t in trials[:7])
    assert [(t.method, t.chosen_by) for t in trials[7:]] == [("tpe", "auto")] * 2
    switched = hp.tune(space, method="tpe", study="v8-switch", db=db, seed=8)(objective)
    trials = switched.optimize(n_trials=6).trials
    assert [t.method for t in trials] == [None] * 5 + ["tpe"]
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


# -- where the file is ------------------------------------------------------------------------


def test_a_symlinked_or_relative_path_is_resolved_once_at_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checkpoints went beside a symlink (workers, given the resolved path, beside the
    real file; loading through the other path failed), and with a relative path (the
    default ./hpotrack.db) into whatever folder the training function changed to."""
    (tmp_path / "store").mkdir()
    (tmp_path / "project").mkdir()
    real = tmp_path / "store" / "real.db"
    (tmp_path / "project" / "hpotrack.db").symlink_to(real)
    monkeypatch.chdir(tmp_path / "project")

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db="hpotrack.db", seed=1)
    def train(x: float, trial: hp.Trial) -> float:
        run = Path(f"outputs/run-{trial.number}").absolute()
        run.mkdir(parents=True)
        os.chdir(run)  # as Hydra's run folders do
        trial.save_checkpoint({"x": x})
        return x

    study = train.optimize(n_trials=2, progress=False)
    assert study.db_path == real.resolve()
    close_stores()
    os.chdir(tmp_path)
    again = hp.load_study("s", db=real)
    assert [again.load_checkpoint(n) for n in (0, 1)] == [
        {"x": t.params["x"]} for t in again.trials
    ]
    assert sorted(p.name for p in (tmp_path / "project").iterdir()) == ["hpotrack.db", "outputs"]
    assert not list((tmp_path / "project" / "outputs").rglob("*.ckpt"))


def _v5_with_view_and_trigger(db: Path) -> Path:
    shutil.copy(SCHEMA_V5, db)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute(
            "CREATE VIEW good AS SELECT number, value FROM trials WHERE state = 'complete'"
        )
        conn.execute("CREATE TABLE audit (number INTEGER)")
        conn.execute(
            "CREATE TRIGGER log_insert AFTER INSERT ON trials "
            "BEGIN INSERT INTO audit VALUES (new.number); END"
        )
        conn.commit()
    return db


def test_a_users_views_and_triggers_outlive_the_table_rebuild_of_schema_6(tmp_path: Path) -> None:
    """A saved view on trials blocked migration 5 -> 6 forever ("error in view good: no
    such table: main.trials"), and a trigger on trials was silently dropped with it."""
    db = _v5_with_view_and_trigger(tmp_path / "old.db")
    good = query(db, "SELECT * FROM good ORDER BY number")
    study = hp.load_study("v5-newest", db=db)
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    assert query(db, "SELECT * FROM good ORDER BY number") == good
    study.enqueue({"y": 3})
    assert query(db, "SELECT number FROM audit") == [(3,)]  # the trigger still fires


def test_a_trigger_that_cannot_be_made_again_fails_the_migration_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If a view or trigger no longer applies after the rebuild, the migration stops with
    its name and the fix, and the file is left as it was."""
    from hpotrack import connection

    db = _v5_with_view_and_trigger(tmp_path / "old.db")
    before = _schema(db)
    connect = sqlite3.connect

    def denying(*args: object, **kwargs: object) -> sqlite3.Connection:  # stands for a failure
        conn = connect(*args, **kwargs)  # type: ignore[arg-type]
        refused = (sqlite3.SQLITE_CREATE_TRIGGER, "log_insert")
        conn.set_authorizer(
            lambda *a: sqlite3.SQLITE_DENY if a[:2] == refused else sqlite3.SQLITE_OK
        )
        return conn

    monkeypatch.setattr(connection.sqlite3, "connect", denying)
    with pytest.raises(StorageError, match=r"the trigger 'log_insert' saved in it cannot be made "
                       r"again .*DROP TRIGGER \"log_insert\".*nothing was changed"):  # fmt: skip
        open_store(db)
    monkeypatch.undo()
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [("5",)]
    assert _schema(db) == before


def test_the_drop_command_quotes_the_name_for_sql_and_the_path_for_the_shell(
    tmp_path: Path,
) -> None:
    """A name with a double quote (a trigger a user named so) is doubled inside SQL's
    quotes; the command, pasted into a shell, drops exactly that object."""
    db = tmp_path / "my data.db"
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute('CREATE VIEW "say ""hi""" AS SELECT x FROM t')
    command = drop_command(db, "view", 'say "hi"')
    assert command == f'sqlite3 \'{db}\' \'DROP VIEW "say ""hi"""\''
    sql = shlex.split(command)[2]
    with closing(sqlite3.connect(db)) as conn:
        conn.execute(sql)
        assert conn.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'view'"
        ).fetchone() == (0,)


def test_a_users_view_named_checks_stops_migration_8_with_its_name_and_the_fix(
    tmp_path: Path,
) -> None:
    """Schema 8 adds a table ``checks``: a view of that name that a user saved (on the
    JSON column the checks were in until then) stopped every opening of the file with
    SQLite's "cannot write <db>: view checks already exists"."""
    db = tmp_path / "old.db"
    shutil.copy(SCHEMA_V7, db)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE VIEW checks AS SELECT number, checks FROM trials")
        conn.commit()
    before = _schema(db)
    with pytest.raises(StorageError) as raised:
        open_store(db)
    assert str(raised.value) == (
        f"cannot migrate {db} to schema version 12: a table or index it adds would take the "
        f"name of the view 'checks' saved in the file; drop it (sqlite3 {db} "
        "'DROP VIEW \"checks\"') and make it anew under another name, then open the file "
        "again (nothing was changed)"
    )
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [("7",)]
    assert _schema(db) == before
    with closing(sqlite3.connect(db)) as conn:
        conn.execute('DROP VIEW "checks"')
        conn.commit()
    open_store(db)
    assert query(db, "SELECT COUNT(*) FROM checks") == [(109,)]


def test_the_version_after_a_commit_is_the_committing_threads(store: Store) -> None:
    """Threads share the process's connection: a thread that asked for the version of its
    commit after another thread had committed got that one's, and took the other's
    trials as read (its next trial then took a number already used)."""
    import threading

    new_study(store)
    with store.write():
        pass
    mine = store.committed_version
    other = threading.Thread(target=lambda: new_study(store, "t"))
    other.start()
    other.join()
    assert store.committed_version == mine != store.version()


def test_an_interrupt_right_after_begin_rolls_the_transaction_back(
    db: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C lands at the first call after ``BEGIN IMMEDIATE`` returns. Begun outside
    the block that rolls back, the transaction stayed open: the run's last write (the
    interrupted trial's outcome) failed with "cannot start a transaction within a
    transaction", and the connection kept SQLite's write lock from every other process."""
    study_id = new_study(store)
    real = time.perf_counter
    calls = itertools.count()

    def interrupted_second_time() -> float:
        if next(calls) == 1:  # the first call times the wait; the second follows BEGIN
            raise KeyboardInterrupt
        return real()

    monkeypatch.setattr(time, "perf_counter", interrupted_second_time)
    with pytest.raises(KeyboardInterrupt), store.write():
        pytest.fail("the block never runs")
    monkeypatch.undo()
    assert not store.conn.in_transaction
    with store.write():
        store.update_study(study_id, target=3)
    other = Store(db)
    with other.write():  # another connection gets the write lock at once
        other.update_study(study_id, target=4)
    other.close()
    assert query(db, "SELECT target FROM studies") == [(4,)]


def test_a_commit_that_fails_leaves_no_transaction_open(db: Path, store: Store) -> None:
    """A COMMIT refused while a statement of the connection was still in progress (a
    checkpoint another thread had started) left the transaction open on the connection
    the threads of the process share: that write failed, and so did every later one
    ("cannot start a transaction within a transaction"), while the connection kept
    SQLite's write lock from every other process. It is rolled back: that write alone
    fails."""
    study_id = new_study(store)
    in_progress = store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # its row not read
    with pytest.raises(StorageError, match="SQL statements in progress"), store.write():
        store.update_study(study_id, target=3)
    del in_progress
    assert not store.conn.in_transaction
    with store.write():
        store.update_study(study_id, target=4)
    assert query(db, "SELECT target FROM studies") == [(4,)]


class _InterruptedAfterCommit:
    """A connection whose COMMIT is followed by Ctrl-C, as one landing during it is."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        cursor = self._conn.execute(sql, *args)
        if sql == "COMMIT":
            raise KeyboardInterrupt
        return cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def test_an_interrupt_right_after_commit_still_counts_the_commit(
    db: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Callers tell by ``commits`` whether their transaction committed (an ask hands its
    claimed trials to the run only then). Ctrl-C during COMMIT lands right after it: the
    commit went uncounted, and the run left the trial it had just claimed running in
    the database (a third of the runs a Ctrl-C stopped, with a trivial function)."""
    study_id = new_study(store)
    before = store.commits
    monkeypatch.setattr(store, "conn", _InterruptedAfterCommit(store.conn))
    with pytest.raises(KeyboardInterrupt), store.write():
        store.update_study(study_id, target=3)
    monkeypatch.undo()
    assert query(db, "SELECT target FROM studies") == [(3,)]
    assert store.commits == before + 1 and not store.conn.in_transaction


class _InterruptedAfterAcquire:
    """A thread lock after whose taking Ctrl-C lands, as one arriving while it waits."""

    def __init__(self) -> None:
        self.lock = threading.RLock()

    def acquire(self, timeout: float = -1) -> bool:
        self.lock.acquire(timeout=timeout)
        raise KeyboardInterrupt

    def __getattr__(self, name: str) -> Any:
        return getattr(self.lock, name)


def test_an_interrupt_right_after_the_thread_lock_is_taken_leaves_it_free(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Taken outside the block that gives it back, the lock stayed held by the
    interrupted thread: every read of another thread (a monitor's) then waited for ever."""
    interrupted = _InterruptedAfterAcquire()
    monkeypatch.setattr(store._writer, "_thread_lock", interrupted)
    with pytest.raises(KeyboardInterrupt), store.write():
        pytest.fail("the block never runs")
    taken: list[bool] = []
    other = threading.Thread(target=lambda: taken.append(interrupted.lock.acquire(timeout=5)))
    other.start()
    other.join()
    assert taken == [True]


SCHEMA_V9 = Path(__file__).with_name("data") / "schema_v9.db"  # see data/make_schema_v9.py


def test_a_schema_v9_file_gains_stop_requests_from_zero_and_no_last_stops(
    tmp_path: Path,
) -> None:
    """A real file written at schema 9 (commit 96cf8b6), before studies counted the
    requests to stop them and kept their last run's stops: its studies start at no
    request and no stops known, ``hpotrack stop`` counts one on the study it names (and
    ``--wait`` does not wait for the trial a gone worker left running), and a run of the
    other study begun after is not stopped, and keeps its stops."""
    db = tmp_path / "old.db"
    shutil.copy(SCHEMA_V9, db)
    before = query(db, "SELECT * FROM trials ORDER BY id")
    stopped = CliRunner().invoke(cli, ["--db", str(db), "stop", "v9-running", "--wait"])
    assert stopped.exit_code == 0, stopped.output
    assert "none of its trials is running" in stopped.output
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    assert query(db, "SELECT name, stop_requests, last_stops FROM studies ORDER BY name") == [
        ("v9-running", 1, None),
        ("v9-short", 0, None),
    ]
    assert query(db, "SELECT * FROM trials ORDER BY id") == before
    close_stores()

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="v9-short", db=db, seed=9)
    def short(x: float) -> float:
        return x

    study = short.optimize(n_trials=6, progress=False, patience=10)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 6
    assert query(db, "SELECT last_stops FROM studies WHERE name = 'v9-short'") == [
        ('{"patience":10}',)
    ]


SCHEMA_V10 = Path(__file__).with_name("data") / "schema_v10.db"  # see data/make_schema_v10.py


def test_a_schema_v10_file_reads_as_one_objective_and_refuses_two_by_name(
    tmp_path: Path,
) -> None:
    """A real file written at schema 10 (commit 473bdd8), before studies could optimize
    several objectives: its study reads as one objective (``objectives`` NULL), goes on
    as it was declared, and declaring a second objective is a different study, said
    with both declarations."""
    db = tmp_path / "old.db"
    shutil.copy(SCHEMA_V10, db)
    before = query(db, "SELECT * FROM trials ORDER BY id")
    study = hp.load_study("v10", db=db)
    assert (study.objectives, study.directions) == (("error",), ("minimize",))
    assert study.best_trials == [study.best]
    assert study.values(study.best) == (study.best.value,)
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    assert query(db, "SELECT objectives FROM studies") == [(None,)]
    assert query(db, "SELECT * FROM trials ORDER BY id") == before
    close_stores()

    def two_metrics(x: float) -> dict[str, float]:
        return {"error": (x - 0.3) ** 2, "latency": 1.0 - x}

    space = {"x": hp.Float(0.0, 1.0)}
    both = hp.tune(space, "random", study="v10", db=db, seed=10, objective=("error", "latency"),
                   direction=("minimize", "minimize"))(two_metrics)  # fmt: skip
    with pytest.raises(
        StudyMismatchError, match=r"objective was 'error', now \('error', 'latency'\)"
    ):
        both.optimize(n_trials=6, progress=False)
    one = hp.tune(space, "random", study="v10", db=db, seed=10, objective="error")(two_metrics)
    study = one.optimize(n_trials=6, progress=False)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 6
    assert query(db, "SELECT objective, direction, objectives FROM studies") == [
        ("error", "minimize", None)
    ]


SCHEMA_V11 = Path(__file__).with_name("data") / "schema_v11.db"  # see data/make_schema_v11.py


def test_a_schema_v11_file_reads_without_constraints_and_refuses_new_ones_by_name(
    tmp_path: Path,
) -> None:
    """A real file written at schema 11 (commit 69d02d2), before studies could have
    constraints: its study of two objectives reads with none (``constraints`` NULL), goes
    on as it was declared, and declaring a constraint is a different study, said with
    both declarations."""
    db = tmp_path / "old.db"
    shutil.copy(SCHEMA_V11, db)
    before = query(db, "SELECT * FROM trials ORDER BY id")
    study = hp.load_study("v11", db=db)
    assert study.objectives == ("error", "size") and study.constraints == ()
    below = [t for t in study.trials if t.params["x"] <= 0.3]  # size falls, error rises
    assert study.best_trials == sorted(below, key=lambda t: t.number) and len(below) == 3
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    assert query(db, "SELECT constraints FROM studies") == [(None,)]
    assert query(db, "SELECT * FROM trials ORDER BY id") == before
    close_stores()

    def three_metrics(x: float) -> dict[str, float]:
        return {"error": (x - 0.3) ** 2, "size": x, "latency": 1.0 - x}

    def declared(**constraints: Any) -> hp.TunedFunction[Any]:
        return hp.tune({"x": hp.Float(0.0, 1.0)}, "random", study="v11", db=db, seed=11,
                       objective=("error", "size"), direction=("minimize", "minimize"),
                       **constraints)(three_metrics)  # fmt: skip

    fast = declared(constraints=hp.Constraint("latency", at_most=0.5))
    with pytest.raises(StudyMismatchError, match=r"constraints were none, now latency <= 0\.5"):
        fast.optimize(n_trials=6, progress=False)
    study = declared().optimize(n_trials=6, progress=False)
    assert [t.state for t in study.trials] == [hp.TrialState.COMPLETE] * 6

"""``hpotrack.store.Store``'s queries on real files: change numbers, uniqueness, provenance.

Opening the file, its schema and migrations, and the WAL: ``tests/test_connection.py``;
reading trials back (incrementally, with their checks): ``tests/test_trial_reads.py``.
"""

from __future__ import annotations

import ast
import gc
import hashlib
import inspect
import json
import multiprocessing
import os
import platform
import re
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

import pytest

import hpotrack as hp
from hpotrack import store as store_module
from hpotrack.connection import MIN_SQLITE
from hpotrack.db_path import default_db_path
from hpotrack.errors import StorageError
from hpotrack.heldfiles import HeldFile
from hpotrack.records import TrialState
from hpotrack.store import Store
from tests.counting import sqlite_steps


def query(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, args).fetchall()


def answer_during_a_rolled_back_write(
    store: Store, write: Callable[[], object], read: Callable[[], object]
) -> str:
    """What ``read()`` answers (:func:`answer`) in this thread while another thread,
    inside a write transaction on ``store``'s connection (which the threads of a process
    share), has made ``write()`` and then rolls it back: once the read has returned, or
    after waiting 0.5 s for it (a read that waits for the transaction to end). Staged
    with events: the read starts after the write."""
    written, answered = threading.Event(), threading.Event()

    def write_then_roll_back() -> None:
        with suppress(RuntimeError), store.write():
            try:
                write()
            finally:  # a write that fails ends the wait too (pytest reports its error)
                written.set()
            answered.wait(0.5)
            raise RuntimeError("the transaction fails after its write")

    writer = threading.Thread(target=write_then_roll_back)
    writer.start()
    written.wait()
    try:
        return answer(read)
    finally:
        answered.set()
        writer.join()


def answer(read: Callable[[], object]) -> str:
    """What ``read()`` answers: its value's repr, or the error it raises."""
    try:
        return repr(read())
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def new_study(store: Store, name: str = "s") -> int:
    with store.write():
        return store.insert_study(
            name=name,
            space={"x": {"type": "float", "low": 0.0, "high": 1.0}},
            method={"name": "random", "options": {}},
            direction="minimize",
            objective="value",
            seed=0,
            function={},
        )


def add_trial(store: Store, study_id: int, number: int, *, claim: str | None = None) -> int:
    with store.write():
        return store.insert_trial(
            study_id,
            number=number,
            state=TrialState.RUNNING,
            params={"x": 0.5},
            origin="sampled",
            claim=claim,
        ).id


def finish(store: Store, study_id: int, trial_id: int, value: float = 1.0) -> None:
    store.finish_trial(
        study_id,
        trial_id,
        state=TrialState.COMPLETE,
        value=value,
        metrics={"value": value},
        error=None,
    )


def latest_seq(store: Store, study_id: int) -> int:
    return max(seq for _, seq, _ in store.trials_since(study_id, 0))


# -- change numbers ----------------------------------------------------------------------


def test_seq_grows_with_every_change(store: Store) -> None:
    study_id = new_study(store)
    seqs = []
    for number in range(3):
        trial_id = add_trial(store, study_id, number)
        seqs.append(latest_seq(store, study_id))
        finish(store, study_id, trial_id)
        seqs.append(latest_seq(store, study_id))
    assert seqs == sorted(set(seqs))


# -- several connections in one process --------------------------------------------------


def other_process(db: Path, sql: str) -> list[Any]:
    """What another process's connection to ``db`` answers to ``sql`` (then closed; it
    does not wait for locks)."""
    code = (
        "import sqlite3, sys, json; c = sqlite3.connect(sys.argv[1], timeout=0); "
        "print(json.dumps(c.execute(sys.argv[2]).fetchall())); c.close()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(db), sql], capture_output=True, text=True, check=True
    )
    return list(json.loads(done.stdout))


def test_closing_a_second_store_keeps_the_first_ones_shared_lock(store: Store) -> None:
    """A process's second connection (the heartbeat thread's) closing its own descriptor
    of the database dropped the first one's SQLite lock on it: another process closing
    its connection then took itself for the last one and deleted the -wal and -shm under
    the running processes (readers saw "database disk image is malformed")."""
    add_trial(store, new_study(store), 0)
    Store(store.path).close()
    assert other_process(store.path, "SELECT COUNT(*) FROM trials") == [[1]]
    assert Path(f"{store.path}-wal").exists() and Path(f"{store.path}-shm").exists()


def test_a_store_dropped_while_another_opens_keeps_the_new_ones_shared_lock(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread's store opened and dropped while another thread's store of the file was
    being opened (``hp.load_study`` in a thread watching a run that ``optimize()`` was
    starting): the other connection had opened the file and taken its shared lock, but
    not yet held the file, so the dropped store, its only holder, closed its descriptor,
    and the lock went with it. A worker process exiting last then deleted the -wal and
    -shm under the run, whose next read said "database disk image is malformed"."""
    Store(db).close()
    hold = store_module.hold

    def another_store_meanwhile(path: Path, **database: Path) -> HeldFile:
        monkeypatch.setattr(store_module, "hold", hold)
        Store(path).close()  # between this store's connection and its hold of the file
        return hold(path, **database)

    monkeypatch.setattr(store_module, "hold", another_store_meanwhile)
    opened = Store(db)
    try:
        add_trial(opened, new_study(opened), 0)
        assert other_process(db, "SELECT COUNT(*) FROM trials") == [[1]]
        assert Path(f"{db}-wal").exists() and Path(f"{db}-shm").exists()
    finally:
        opened.close()


def test_closing_a_second_store_keeps_the_first_ones_read_lock(store: Store) -> None:
    """A read transaction of the first connection keeps its WAL read lock (on the -shm)
    when a second one of the process closes: a checkpoint must not reset the WAL under
    it (one that did overwrote the pages the read was using)."""
    study_id = new_study(store)
    store.conn.execute("BEGIN")
    assert store.trials_since(study_id, 0) == []  # the read's snapshot is taken
    Store(store.path).close()
    busy, _, _ = other_process(store.path, "PRAGMA wal_checkpoint(TRUNCATE)")[0]
    store.conn.execute("COMMIT")
    assert busy == 1  # the reader still holds the WAL


# -- uniqueness ------------------------------------------------------------------------------


def test_the_same_claim_twice_in_a_study_is_an_integrity_error(store: Store) -> None:
    study_id = new_study(store)
    add_trial(store, study_id, 0, claim="grid:3")
    with pytest.raises(sqlite3.IntegrityError):
        add_trial(store, study_id, 1, claim="grid:3")
    assert len(store.trials_since(study_id, 0)) == 1  # the failed insert was rolled back


def test_the_same_claim_in_two_studies_is_fine(store: Store) -> None:
    one, two = new_study(store, "one"), new_study(store, "two")
    add_trial(store, one, 0, claim="grid:3")
    add_trial(store, two, 0, claim="grid:3")


def test_trials_without_claims_do_not_collide(store: Store) -> None:
    study_id = new_study(store)
    add_trial(store, study_id, 0)
    add_trial(store, study_id, 1)
    assert len(store.trials_since(study_id, 0)) == 2


def test_the_same_number_twice_in_a_study_is_an_integrity_error(store: Store) -> None:
    study_id = new_study(store)
    add_trial(store, study_id, 0)
    with pytest.raises(sqlite3.IntegrityError):
        add_trial(store, study_id, 0)


# -- provenance ------------------------------------------------------------------------------


def test_a_runs_row_records_provenance_and_trials_reference_it(db: Path) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float) -> float:
        return x

    train.optimize(n_trials=3)
    train(x=0.5)  # a manual trial from the same process
    runs = query(db, "SELECT id, python, host, pid, source_hash FROM runs")
    assert len(runs) == 1
    run_id, python, host, pid, source_hash = runs[0]
    assert python == platform.python_version()
    assert host == socket.gethostname()
    assert pid == os.getpid()
    assert len(source_hash) == 64 and int(source_hash, 16) >= 0
    assert source_hash == hashlib.sha256(inspect.getsource(train.fn).encode()).hexdigest()
    assert query(db, "SELECT number, run_id FROM trials ORDER BY number") == [
        (0, run_id),
        (1, run_id),
        (2, run_id),
        (3, run_id),
    ]


def test_one_run_per_process_whatever_was_garbage_collected_between_calls(db: Path) -> None:
    """optimize() returns a study the caller may drop, and with it the process's last use
    of its connection to the file: once the garbage collector had freed that connection,
    the next call (optimize() again, a manual trial) stored another run of the same
    process, the run being kept per connection object. Under pytest-xdist when a
    collection comes depends on the tests the worker process ran before."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float) -> float:
        return x

    train.optimize(n_trials=2)
    gc.collect()
    train.optimize(n_trials=3)
    gc.collect()
    train(x=0.5)
    ((run_id,),) = query(db, "SELECT id FROM runs")
    assert query(db, "SELECT DISTINCT run_id FROM trials") == [(run_id,)]


def test_a_study_deleted_by_another_process_and_run_again_records_its_new_run(
    db: Path,
) -> None:
    """``hpotrack delete`` while this process keeps the study (a notebook's ``study =
    train.optimize(...)``), then optimize() again: its trials named the deleted study's
    run, whose row had gone with it (no provenance, no argv for ``hpotrack resume``)."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float) -> float:
        return x

    kept = train.optimize(n_trials=2)
    delete = [sys.executable, "-m", "hpotrack", "--db", str(db), "delete", "s", "--yes"]
    subprocess.run(delete, check=True, capture_output=True)
    again = train.optimize(n_trials=2)
    assert kept.store is again.store  # one connection throughout, which kept its run
    ((run_id, study_id, pid),) = query(db, "SELECT id, study_id, pid FROM runs")
    assert (study_id, pid) == (again.id, os.getpid())
    assert query(db, "SELECT DISTINCT run_id FROM trials") == [(run_id,)]


def test_a_forked_child_stores_its_own_run(db: Path) -> None:
    """A child forked after the parent ran the study (a ``fork`` pool calling the tuned
    function) has the parent's run in memory, but its trials name a run of its own:
    the trial's pid tells other processes whether its worker is alive."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float) -> float:
        return x

    train.optimize(n_trials=1)
    child = multiprocessing.get_context("fork").Process(target=train, kwargs={"x": 0.5})
    child.start()
    child.join(timeout=120)  # a fork of a threaded process may hang: fail, not the suite
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0
    assert query(
        db,
        "SELECT t.number, r.pid, t.pid FROM trials t JOIN runs r ON r.id = t.run_id "
        "ORDER BY t.number",
    ) == [
        (0, os.getpid(), os.getpid()),
        (1, child.pid, child.pid),
    ]


def test_a_database_deleted_while_the_process_runs_is_made_anew(db: Path) -> None:
    """A notebook removes hpotrack.db to start afresh and runs again in the same
    process: the trials go to a new file (they went on into the deleted one, and were
    lost with the process), each run of it recorded there."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=1)
    def train(x: float) -> float:
        return x

    train.optimize(n_trials=3)
    for path in db.parent.glob(f"{db.name}*"):
        path.unlink()
    train.optimize(n_trials=2)
    train(x=0.5)
    with closing(sqlite3.connect(db)) as conn:
        runs = {run for (run,) in conn.execute("SELECT id FROM runs")}
        trials = conn.execute("SELECT number, run_id FROM trials ORDER BY number").fetchall()
    assert [number for number, _ in trials] == [0, 1, 2] and runs
    assert {run for _, run in trials} <= runs


def test_an_enqueued_trial_references_the_run_that_ran_it(db: Path) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float) -> float:
        return x

    train.study.enqueue({"x": 0.25})
    assert query(db, "SELECT run_id FROM trials") == [(None,)]
    train.optimize(n_trials=1)
    ((run_id,),) = query(db, "SELECT id FROM runs")
    assert query(db, "SELECT run_id, pid FROM trials") == [(run_id, os.getpid())]


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///x.db", "x.db"),
        ("sqlite:////abs/x.db", "/abs/x.db"),
        ("sqlite+pysqlite:///runs/x.db?timeout=10", "runs/x.db"),
        ("sqlite://x.db", "x.db"),  # two slashes: not a URL SQLAlchemy reads either
    ],
)
def test_an_sqlalchemy_url_as_db_names_the_path_to_pass(
    url: str, path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Optuna's storage='sqlite:///x.db' as db= read as the folder 'sqlite:' ("cannot
    create sqlite:/x.db: the folder sqlite: does not exist")."""
    monkeypatch.chdir(tmp_path)
    message = f"db={url!r} is a URL, but db= is a file path, not a URL: use db={path!r}"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=url, seed=0)
    def train(x: float) -> float:
        return x

    with pytest.raises(StorageError) as by_tune:
        train.optimize(n_trials=1)
    with pytest.raises(StorageError) as by_load:
        hp.load_study("s", db=url)
    assert str(by_tune.value) == str(by_load.value) == message
    monkeypatch.setenv("HPOTRACK_DB", url)
    with pytest.raises(StorageError, match=f"use HPOTRACK_DB={path}$"):
        hp.load_study("s")
    assert list(tmp_path.iterdir()) == []  # no folder 'sqlite:', no database


def test_a_blank_database_path_is_refused_as_the_cli_refuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """db="" opened the working folder ("is a directory") and HPOTRACK_DB=" " made a
    database file named by a space, where the CLI says the setting is empty."""
    monkeypatch.chdir(tmp_path)
    for blank in ("", "  "):
        with pytest.raises(StorageError, match=r"^db= is blank: it must name a database file"):
            hp.load_study("s", db=blank)
    monkeypatch.setenv("HPOTRACK_DB", " ")
    with pytest.raises(StorageError, match=r"^HPOTRACK_DB is blank: it must name a database"):
        hp.load_study("s")
    monkeypatch.setenv("HPOTRACK_DB", "")  # set but empty: unset, as shells treat it
    assert default_db_path() == Path("hpotrack.db")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://", "db='sqlite://' is the URL of an in-memory database, but db= is a file"),
        ("sqlite:///:memory:", "in-memory database, but db= is a file path, not a URL"),
        (
            "postgresql://user:secret@host/optuna",
            "db= got a postgresql:// URL, but db= is a file path, not a URL: hpotrack keeps "
            "a study in one SQLite file, e.g. db='hpotrack.db'",
        ),
    ],
)
def test_other_urls_as_db_are_refused_too(url: str, message: str) -> None:
    with pytest.raises(StorageError) as raised:
        default_db_path(url)
    assert message in str(raised.value) and "secret" not in str(raised.value)


def test_paths_that_only_look_like_urls_are_paths() -> None:
    assert default_db_path("C://x.db") == Path("C:/x.db")  # a drive letter, not a scheme
    assert default_db_path(Path("runs") / "x.db") == Path("runs/x.db")


# -- lineage -------------------------------------------------------------------------------


def test_a_trials_children_are_read_from_the_parent_index_whatever_the_studys_size(
    store: Store,
) -> None:
    """``children`` walked every lineage edge of the study (SQLite chose the primary key
    to return them by child): ``hpotrack lineage STUDY 0`` of an evolution study of 4,000
    trials took 6 s, one walk per descendant."""
    small, large = new_study(store, "small"), new_study(store, "large")
    with store.write():
        for study_id, edges in ((small, 3), (large, 3_000)):
            store.conn.executemany(
                "INSERT INTO lineage (study_id, child, parent, kind) VALUES (?, ?, ?, 'mutation')",
                [(study_id, child, child - 1) for child in range(1, edges)],
            )
        store.conn.execute(
            "INSERT INTO lineage (study_id, child, parent, kind) VALUES (?, 0, 1, 'retried')",
            (large,),
        )
    assert [(c, e.kind) for c, e in store.children(large, 1)] == [(0, "retried"), (2, "mutation")]
    assert sqlite_steps(store, lambda: store.children(large, 2)) == sqlite_steps(
        store, lambda: store.children(small, 1)
    )


# -- the oldest SQLite supported ----------------------------------------------------------

# SQL that SQLite accepts only from the version given (the ones newer than ``MIN_SQLITE``
# are checked).
_SQL_SINCE = {
    r"\bRETURNING\b": (3, 35, 0),
    r"->": (3, 38, 0),
    r"\)\s*STRICT\b": (3, 37, 0),
    r"\bDROP\s+COLUMN\b": (3, 35, 0),
    r"\bMATERIALIZED\b": (3, 35, 0),
    r"\bIIF\s*\(": (3, 32, 0),
    r"\bunixepoch\s*\(": (3, 38, 0),
    r"\b(ceil|ceiling|floor|ln|log2|log10|pow|power|sqrt|exp)\s*\(": (3, 35, 0),
    r"\bGENERATED\s+ALWAYS\b": (3, 31, 0),
    r"\bNULLS\s+(FIRST|LAST)\b": (3, 30, 0),
    r"\bFILTER\s*\(\s*WHERE\b": (3, 30, 0),
    r"\bOVER\s*\(": (3, 25, 0),
    r"\bRENAME\s+COLUMN\b": (3, 25, 0),
    r"\bDO\s+(UPDATE|NOTHING)\b": (3, 24, 0),
}


def _executed_sql() -> list[tuple[str, int, str]]:
    """(file, line, text) of every literal SQL statement hpotrack hands to ``execute``,
    ``executemany`` or ``executescript`` (an f-string's literal parts)."""
    found = []
    for path in sorted(Path(hp.__file__).parent.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("execute", "executemany", "executescript")
                and node.args
            ):
                continue
            sql = node.args[0]
            parts = sql.values if isinstance(sql, ast.JoinedStr) else [sql]
            text = "".join(
                p.value for p in parts if isinstance(p, ast.Constant) and isinstance(p.value, str)
            )
            found.append((path.name, node.lineno, text))
    return found


def test_no_statement_needs_a_newer_sqlite_than_the_minimum() -> None:
    """Python's sqlite3 uses the system's SQLite on Linux, older than the one tests run
    with: ``RETURNING`` (3.35) failed every trial's insert on Debian 11 (3.34) and
    Ubuntu 20.04 (3.31) with "cannot write ...: near "RETURNING": syntax error"."""
    statements = _executed_sql()
    assert len(statements) > 50  # the scan finds the store's queries
    newer = [
        f"{name}:{line} needs SQLite {'.'.join(map(str, since))}: {text}"
        for name, line, text in statements
        for pattern, since in _SQL_SINCE.items()
        if since > MIN_SQLITE and re.search(pattern, text, re.IGNORECASE)
    ]
    assert newer == [], f"the minimum is {MIN_SQLITE}"

"""``hpotrack.trial_reads``: trials read back from a real file, incrementally and by
number, state or value, with their lineage edges and checks."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

import hpotrack as hp
from hpotrack.records import Edge, TrialRecord, TrialState
from hpotrack.store import Store, open_store
from tests.test_store import add_trial, finish, latest_seq, new_study, query


def test_trials_since_returns_only_rows_changed_after_seq(store: Store) -> None:
    study_id = new_study(store)
    for number in range(3):
        finish(store, study_id, add_trial(store, study_id, number))
    seen = latest_seq(store, study_id)
    assert store.trials_since(study_id, seen) == []

    trial_id = add_trial(store, study_id, 3)
    changed = store.trials_since(study_id, seen)
    assert [(i, r.number, r.state) for i, _, r in changed] == [(trial_id, 3, TrialState.RUNNING)]
    assert all(seq > seen for _, seq, _ in changed)

    seen = latest_seq(store, study_id)
    finish(store, study_id, trial_id, value=0.25)
    (changed_row,) = store.trials_since(study_id, seen)
    assert changed_row[2].state is TrialState.COMPLETE and changed_row[2].value == 0.25


def test_trials_since_is_ordered_by_number_when_an_earlier_trial_changed_last(
    store: Store,
) -> None:
    study_id = new_study(store)
    first = add_trial(store, study_id, 0)
    finish(store, study_id, add_trial(store, study_id, 1))
    finish(store, study_id, first)  # trial 0 now has the highest seq
    assert [r.number for _, _, r in store.trials_since(study_id, 0)] == [0, 1]


def test_trials_since_reads_one_study_only(store: Store) -> None:
    one, two = new_study(store, "one"), new_study(store, "two")
    add_trial(store, one, 0)
    add_trial(store, two, 0)
    add_trial(store, two, 1)
    assert len(store.trials_since(one, 0)) == 1
    assert len(store.trials_since(two, 0)) == 2


def test_trials_in_states_reads_those_of_one_study_by_number_with_their_edges(
    store: Store,
) -> None:
    """What ``hpotrack show STUDY --state S`` lists, read without the other trials."""
    one, two = new_study(store, "one"), new_study(store, "two")
    for number in range(4):
        trial_id = add_trial(store, one, number)
        if number % 2:
            finish(store, one, trial_id, value=number)
    with store.write():
        store.insert_trial(one, number=4, state=TrialState.QUEUED, params={"x": 0.1},
                           origin="retried", parents=[Edge(1, "retried")])  # fmt: skip
    add_trial(store, two, 0)
    running = store.trials_in_states(one, ["running"])
    assert [(r.number, r.state.value) for r in running] == [(0, "running"), (2, "running")]
    both = store.trials_in_states(one, {"queued", "complete"})
    assert [r.number for r in both] == [1, 3, 4] and both[2].parents == (Edge(1, "retried"),)
    every = [r for _, _, r in store.trials_since(one, 0)]
    assert both == [r for r in every if r.state.value in ("queued", "complete")]
    assert store.trials_in_states(one, ["failed"]) == []


def test_a_check_is_one_row_and_readers_get_only_the_checks_written_since(
    store: Store, db: Path
) -> None:
    """A check used to rewrite the trial's every check so far as one JSON column (and
    every reader decoded them all again): with a pruner checking each of 3,000 reports,
    two thirds of a trial's time. Now each check is a row, and a read after ``seq``
    brings the checks written after it, for another process to add to those it has."""
    study_id = new_study(store)
    trial_id = add_trial(store, study_id, 0)
    other = add_trial(store, study_id, 1)
    with store.write():
        store.record_check(study_id, trial_id, 1, 0.5, None)
    seen = latest_seq(store, study_id)
    (_, _, first), (_, _, second) = store.trials_since(study_id, 0)
    assert first.checks == {1: 0.5} and second.checks == {}
    with store.write():
        store.record_check(study_id, trial_id, 2, 0.25, 1)
        store.record_check(study_id, trial_id, 1, 0.75, 1)  # a step again replaces its value
    (_, seq, changed) = store.trials_since(study_id, seen)[0]
    assert (changed.number, changed.rung, changed.checks) == (0, 1, {1: 0.75, 2: 0.25})
    assert store.trials_since(study_id, seq) == []
    rows = "SELECT trial_id, step, value FROM checks ORDER BY trial_id, step"
    assert query(db, rows) == [(trial_id, 1, 0.75), (trial_id, 2, 0.25)]
    assert query(db, "SELECT checks FROM trials") == [(None,), (None,)]  # the old column
    with store.write():
        store.record_check(study_id, other, 3, 2.0, None)
    (changed_row,) = store.trials_since(study_id, seq)
    assert changed_row[0] == other and changed_row[2].checks == {3: 2.0}
    assert [r.checks for r in store.trials_in_states(study_id, ["running"])] == [
        {1: 0.75, 2: 0.25},
        {3: 2.0},
    ]


def test_checks_an_older_hpotrack_still_writes_to_the_old_column_are_read(
    store: Store, db: Path
) -> None:
    """A process of hpotrack 7, started before a newer one opened the file (``hpotrack
    show`` is enough) and migrated it, goes on storing each check as its trial's every
    check so far in ``trials.checks``, as below. Those checks were read by nobody: the
    newer processes' pruners compared with none of them, and ``hpotrack trial`` and the
    exports showed the trials without them."""
    study_id = new_study(store)
    trial_id = add_trial(store, study_id, 0)
    with store.write():
        store.record_check(study_id, trial_id, 1, 0.5, None)  # a check the migration moved
    seen = latest_seq(store, study_id)
    with closing(sqlite3.connect(db)) as conn, conn:  # hpotrack 7's Store.record_check
        conn.execute(
            "UPDATE trials SET checks = ?, rung = ?, seq = ? WHERE id = ?",
            ('{"1":0.5,"3":0.25}', 1, seen + 1, trial_id),
        )
    ((_, _, changed),) = store.trials_since(study_id, seen)
    assert (changed.rung, changed.checks) == (1, {1: 0.5, 3: 0.25})
    (running,) = store.trials_in_states(study_id, ["running"])
    assert running.checks == {1: 0.5, 3: 0.25}


# -- one snapshot per read -----------------------------------------------------------------
# A check is written with the rung its trial reached (here: rung = step), and in the same
# transaction as the row's rung: a record whose checks go past its rung is torn, its
# checks read after another process committed a newer one, its row before.

ROOT = Path(__file__).resolve().parents[1]


def torn(records: Iterable[TrialRecord]) -> list[TrialRecord]:
    """The records with a check past their rung."""
    return [r for r in records if max(r.checks, default=0) > (r.rung or 0)]


def check_rungs(db: str, study_id: int, trial_ids: list[int], steps: int) -> None:
    """Another process's checks: each trial is checked at steps 1, 2, ... ``steps`` in
    turn, each check in a transaction of its own that moves the trial to rung ``step``."""
    store = Store(db)
    for step in range(1, steps + 1):
        for trial_id in trial_ids:
            with store.write():
                store.record_check(study_id, trial_id, step, float(step), step)


def test_fresh_reads_while_another_process_checks_never_tear_a_trial(
    store: Store, db: Path
) -> None:
    """The trials were read in one statement and their checks in another: a check
    committed in between came beside the row before it (rung 0 with the check of rung 1),
    in ``load_study(...).trials`` and ``hpotrack trial``, a few reads in a hundred."""
    study_id = new_study(store)
    trial_ids = [add_trial(store, study_id, number) for number in range(4)]
    code = f"from tests.test_trial_reads import check_rungs; check_rungs({str(db)!r}, "
    code += f"{study_id}, {trial_ids}, 300)"
    writer = subprocess.Popen(
        [sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    reads, found = 0, []
    try:
        while writer.poll() is None:
            found += torn(hp.load_study("s", db=db).trials)
            found += torn([hp.load_study("s", db=db).trial(reads % 4)])
            for _ in range(5):  # the reads under those, at a higher rate
                found += torn(r for _, _, r in store.trials_since(study_id, 0))
                found += torn(store.trials_numbered(study_id, range(4)))
            reads += 1
    finally:
        assert writer.wait(timeout=60) == 0
    assert reads > 0 and found == []
    (last,) = store.trials_numbered(study_id, [3])
    assert (last.rung, len(last.checks)) == (300, 300)


@contextmanager
def commit_in_each_statement(store: Store, commit: Callable[[], object]) -> Iterator[list[str]]:
    """Call ``commit`` (a commit on another connection) inside each statement ``store``
    runs in the block, 50 SQLite instructions in (its snapshot taken); the list yielded
    holds each statement's SQL."""
    statements: list[str] = []
    started: list[bool] = []

    def commit_once_per_statement() -> int:
        if started:
            started.clear()
            commit()
        return 0  # go on with the statement

    def statement_starts(sql: str) -> None:
        statements.append(sql)
        started.append(True)

    store.conn.set_trace_callback(statement_starts)
    store.conn.set_progress_handler(commit_once_per_statement, 50)
    try:
        yield statements
    finally:
        store.conn.set_progress_handler(None, 0)
        store.conn.set_trace_callback(None)


@pytest.mark.parametrize(
    "read",
    [
        lambda store, study_id: [r for _, _, r in store.trials_since(study_id, 0)],
        lambda store, study_id: [r for _, _, r in store.trials_since(study_id, 1)],
        lambda store, study_id: store.trials_numbered(study_id, range(20)),
        lambda store, study_id: store.trials_in_states(study_id, ["running"]),
    ],
    ids=["trials_since", "trials_since_seq", "trials_numbered", "trials_in_states"],
)
def test_a_check_committed_while_trials_are_read_is_not_read_beside_an_older_row(
    store: Store, db: Path, read: Callable[[Store, int], list[TrialRecord]]
) -> None:
    """The same as above, with a commit in each statement of the read: the one between
    the trials' statement and their checks' brought the check of rung 2 beside rung=1.
    Now the checks' seq tells, and both are read again in one statement, which sees
    neither the check nor the rung committed during it."""
    study_id = new_study(store)
    trial_ids = [add_trial(store, study_id, number) for number in range(20)]
    with store.write():
        store.record_check(study_id, trial_ids[0], 1, 1.0, 1)
    other = Store(db)
    step = 1

    def check_again() -> None:
        nonlocal step
        step += 1
        with other.write():
            other.record_check(study_id, trial_ids[0], step, float(step), step)

    with commit_in_each_statement(store, check_again) as statements:
        records = read(store, study_id)
    other.close()
    assert len(statements) == 3 and "AS kind" in statements[2]  # trials, checks, both
    assert len(records) == 20 and torn(records) == []
    (now,) = store.trials_numbered(study_id, [0])
    assert now.rung == step >= 3  # one commit in the trials' statement, one in the last
    read = step - 1  # all but the one committed inside the last statement
    assert (records[0].rung, records[0].checks) == (read, {s: s for s in range(1, read + 1)})


def test_a_read_without_a_commit_meanwhile_is_two_statements(store: Store, db: Path) -> None:
    """The statement that reads trials and checks together is the slower one (a check's
    row has every trial column): a read that no commit came in is the usual two."""
    study_id = new_study(store)
    trial_id = add_trial(store, study_id, 0)
    with store.write():
        store.record_check(study_id, trial_id, 1, 1.0, 1)
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        (record,) = store.trials_numbered(study_id, [0])
        ((_, _, since),) = store.trials_since(study_id, 0)
    finally:
        store.conn.set_trace_callback(None)
    assert record == since and (record.rung, record.checks) == (1, {1: 1.0})
    assert len(statements) == 4 and not any("AS kind" in sql for sql in statements)


def test_threads_sharing_the_connection_read_trials_while_one_writes(db: Path) -> None:
    """The threads of a process share its connection (:func:`open_store`): reads in one
    while another writes must not start or end a transaction there (wrapping the reads
    in BEGIN ... COMMIT made the writer's BEGIN IMMEDIATE fail, or committed its work)."""
    store = open_store(db)
    study_id = new_study(store)
    trial_ids = [add_trial(store, study_id, number) for number in range(4)]
    failed: list[BaseException] = []
    read_trials: list[int] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                read_trials.append(len(hp.load_study("s", db=db).trials))
                read_trials.append(hp.load_study("s", db=db).trial(1).number)
        except BaseException as exc:  # the thread's error, for the test to show
            failed.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for step in range(1, 101):
            for trial_id in trial_ids:
                with store.write():
                    store.record_check(study_id, trial_id, step, float(step), step)
    finally:
        done.set()
        reader.join()
    assert failed == [] and read_trials
    assert [(t.rung, len(t.checks)) for t in hp.load_study("s", db=db).trials] == [(100, 100)] * 4

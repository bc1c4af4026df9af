"""``hpotrack.trial_reads``: trials read back from a real file, incrementally and by
number, state or value, with their lineage edges and checks."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from hpotrack.records import Edge, TrialState
from hpotrack.store import Store
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

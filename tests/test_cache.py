"""``hpotrack.cache.TrialCache``: the trials as a process last read them, equal to the file."""

from __future__ import annotations

import contextlib
import threading

from hpotrack.cache import TrialCache
from hpotrack.methods.history import History
from hpotrack.records import TrialState
from hpotrack.space import Space
from hpotrack.store import Store
from tests.test_store import add_trial, finish, new_study


def cache_of(store: Store) -> TrialCache:
    row = store.find_study("s")
    assert row is not None
    return TrialCache(store, row, History(Space.from_json(row.space), row.direction, row.seed))


def test_reads_add_the_checks_written_since_to_those_the_cache_has(store: Store) -> None:
    """The store reads only the checks written after the cache's ``seq`` (a trial
    checked at each of its reports would otherwise be read whole at each); the cache
    adds them to the trial's earlier ones and re-ranks only those steps. After every
    read its trials and rankings equal a fresh read of the whole study."""
    study_id = new_study(store)
    ids = [add_trial(store, study_id, number) for number in range(3)]
    cache = cache_of(store)
    cache.read_changes()
    for step in range(1, 7):
        with store.write():
            store.record_check(study_id, ids[0], step, 1.0 / step, None)
            if step % 2:
                store.record_check(study_id, ids[1], step, float(step), None)
        if step == 4:
            with store.write():
                store.record_check(study_id, ids[0], 3, 9.0, None)  # a step again: replaced
        assert cache.read_changes() == (2 if step % 2 else 1)
        fresh = cache_of(store)
        fresh.read_changes()
        assert list(cache.history.trials) == list(fresh.history.trials)
        for at in range(1, step + 1):
            assert cache.history.reached(at) == fresh.history.reached(at)
    assert cache.history.trials[0].checks == {1: 1.0, 2: 0.5, 3: 9.0, 4: 0.25, 5: 0.2, 6: 1 / 6}
    assert cache.history.reached(3) == [(3.0, 1), (9.0, 0)]
    finish(store, study_id, ids[0], value=0.1)
    cache.read_changes()
    assert cache.history.complete_at(3) == [9.0] and cache.history.trials[2].checks == {}


def test_a_read_while_another_thread_writes_never_keeps_rows_it_rolls_back(
    store: Store,
) -> None:
    """The threads of a process share one connection, on which a read sees the rows a
    write transaction of another thread has not committed yet. A cache that applied
    such a row, which the rollback then took back, kept a trial that never existed and
    skipped the committed change that came next with the same ``seq``: a monitoring
    thread's study showed a trial running for ever. Reads wait for the transaction."""
    study_id = new_study(store)
    cache = cache_of(store)
    written, read = threading.Event(), threading.Event()

    def write_then_roll_back() -> None:
        with contextlib.suppress(RuntimeError), store.write():
            store.insert_trial(
                study_id, number=0, state=TrialState.RUNNING, params={"x": 0.9}, origin="sampled"
            )
            written.set()
            read.wait(0.5)  # the read finishes here, or waits for the rollback
            raise RuntimeError("the transaction fails after its write")

    writer = threading.Thread(target=write_then_roll_back)
    writer.start()
    written.wait()
    cache.read_changes()
    read.set()
    writer.join()
    add_trial(store, study_id, 0)  # committed, with the seq the rolled-back row had
    cache.read_changes()
    fresh = cache_of(store)
    fresh.read_changes()
    assert [t.params for t in cache.history.trials] == [{"x": 0.5}]
    assert list(cache.history.trials) == list(fresh.history.trials)
    assert cache.ids == fresh.ids

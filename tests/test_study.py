"""``hp.load_study``: the stored study as users read it (trials, records, dataframe, errors)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import pickle
import sys
import threading
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hpotrack as hp
from hpotrack.claims import Claimed, Outcome, Worker
from hpotrack.errors import NoCompleteTrial, StorageError, StudyNotFoundError, TrialError
from hpotrack.provenance import hostname
from hpotrack.records import TrialState
from hpotrack.store import Store
from tests.test_recovery import dead_pid
from tests.test_store import answer, answer_during_a_rolled_back_write, query

SPACE = {"lr": hp.Float(1e-4, 1e-1, log=True), "layers": hp.Int(1, 4), "act": ["relu", "tanh"]}


def ask(
    study: hp.Study,
    worker: Worker,
    limit: int | None,
    done: Sequence[tuple[Claimed, Outcome]] = (),
    count: int = 1,
    **options: Any,
) -> list[Claimed]:
    """``study.ask`` with the lists it fills made here: the trials it claimed."""
    claims: list[Claimed] = []
    study.claim(worker, limit, list(done), claims, count, **options)
    return claims


def run(db: Path, n: int, *, study: str = "mlp", fail: Collection[int] = ()) -> hp.TunedFunction:
    """A study of ``n`` trials; those numbered in ``fail`` raise."""
    calls = itertools.count()

    @hp.tune(SPACE, study=study, db=db, seed=0, objective="loss", max_failures=100)
    def train(lr: float, layers: int, act: str) -> dict[str, Any]:
        number = next(calls)
        hp.report(1.0 / (number + 1), step=0)
        if number in fail:
            raise RuntimeError(f"trial {number} diverged")
        return {"loss": lr * layers, "acc": 0.5, "act": act}

    train.optimize(n_trials=n)
    return train


def test_trials_are_ordered_by_number(db: Path) -> None:
    run(db, 6)
    assert [t.number for t in hp.load_study("mlp", db=db).trials] == list(range(6))


def test_trials_are_ordered_by_number_when_an_earlier_trial_changed_last(db: Path) -> None:
    train = run(db, 1)
    train.study.enqueue({"lr": 0.01, "layers": 1, "act": "relu"})
    train.study.enqueue({"lr": 0.02, "layers": 2, "act": "tanh"})
    train.optimize(n_trials=2)  # runs queued trial 1 only: it now changed after trial 2
    trials = hp.load_study("mlp", db=db).trials
    assert [(t.number, t.state.value) for t in trials] == [
        (0, "complete"),
        (1, "complete"),
        (2, "queued"),
    ]


def test_a_complete_trial_record_has_every_field(db: Path) -> None:
    before = time.time()
    run(db, 1)
    (t,) = hp.load_study("mlp", db=db).trials
    assert dataclasses.is_dataclass(t) and isinstance(t, hp.TrialRecord)
    assert t.number == 0
    assert t.state is TrialState.COMPLETE
    assert isinstance(t.state, str) and t.state == "complete" and t.state.value == "complete"
    assert set(t.params) == {"lr", "layers", "act"}
    assert 1e-4 <= t.params["lr"] <= 1e-1 and t.params["layers"] in (1, 2, 3, 4)
    assert t.value == pytest.approx(t.params["lr"] * t.params["layers"])
    assert t.metrics == {"loss": t.value, "acc": 0.5, "act": t.params["act"]}
    assert t.budget is None
    assert t.origin == "sampled"
    assert t.parents == ()
    assert before <= t.started <= t.finished <= time.time()
    assert t.error is None


def test_each_trial_keeps_the_method_that_proposed_it_when_the_study_switches(
    db: Path,
) -> None:
    """The study stores only its current method: a study run with random and reopened
    with tpe read as all tpe. Each trial names the method whose ask made it; a trial the
    user ran or queued has none, also when the method runs it."""

    def train(lr: float, layers: int, act: str) -> float:
        return lr * layers

    first = hp.tune(SPACE, method="random", study="s", db=db, seed=0)(train)
    first.optimize(n_trials=2)
    first(lr=0.01, layers=2, act="relu")  # trial 2, manual
    first.study.enqueue({"lr": 0.02})  # trial 3, run by tpe below
    hp.tune(SPACE, method="tpe", study="s", db=db, seed=0)(train).optimize(n_trials=6)
    study = hp.load_study("s", db=db)
    assert [(t.origin, t.method, t.chosen_by) for t in study.trials] == [
        ("sampled", "random", None),
        ("sampled", "random", None),
        ("manual", None, None),
        ("enqueued", None, None),
        ("sampled", "tpe", None),
        ("sampled", "tpe", None),
    ]
    assert [r["method"] for r in study.records()] == ["random"] * 2 + [None] * 2 + ["tpe"] * 2
    assert {r["chosen_by"] for r in study.records()} == {None}
    pytest.importorskip("pandas")
    assert list(study.to_dataframe()["method"])[4:] == ["tpe", "tpe"]


def test_a_failed_trial_record_has_an_error_and_no_value(db: Path) -> None:
    run(db, 2, fail={1})
    t = hp.load_study("mlp", db=db).trials[1]
    assert t.state is TrialState.FAILED and t.state.value == "failed"
    assert t.value is None
    assert "RuntimeError: trial 1 diverged" in t.error
    assert t.finished is not None


def test_records_users_get_have_their_checks_as_a_plain_dict(db: Path) -> None:
    """The history's checks grow without copies (``hpotrack.checkmap``), but what
    ``trials``, ``best`` and ``trial(n)`` give is plain data: ``json.dumps`` of a record
    as a dict, or ``checks.copy()``, failed on a ``CheckMap``."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method=hp.methods.Random(pruner="median"),
             budget=hp.Budget(1, 4), study="checked", db=db, seed=0)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        for step in range(1, 5):
            trial.report(x + 1 / step, step=step)
        return x

    train.optimize(n_trials=3, progress=False)
    study = hp.load_study("checked", db=db)
    given = [study.best, study.trial(1), *study.trials, *train.study.trials]
    for record in given:
        assert type(record.checks) is dict and record.checks == {
            1: record.params["x"] + 1.0,
            2: record.params["x"] + 0.5,
            3: record.params["x"] + 1 / 3,
        }
        assert json.loads(json.dumps(dataclasses.asdict(record)))["checks"] == {
            str(step): value for step, value in record.checks.items()
        }
        assert record.checks.copy() == record.checks


def test_trial_records_are_frozen(db: Path) -> None:
    run(db, 1)
    (t,) = hp.load_study("mlp", db=db).trials
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.value = 0.0  # type: ignore[misc]


def test_state_values_are_the_documented_strings() -> None:
    assert {s.value for s in TrialState} == {"queued", "running", "complete", "pruned", "failed"}


def test_records_are_plain_json_serialisable_dicts(db: Path) -> None:
    run(db, 3, fail={2})
    study = hp.load_study("mlp", db=db)
    records = study.records()
    text = json.dumps(records, allow_nan=False)
    assert json.loads(text) == records
    assert [r["number"] for r in records] == [0, 1, 2]
    assert [r["state"] for r in records] == ["complete", "complete", "failed"]
    assert all(type(r["state"]) is str for r in records)
    for record, trial in zip(records, study.trials, strict=True):
        assert record["params"] == trial.params
        assert record["value"] == trial.value
        assert record["metrics"] == trial.metrics
        assert record["origin"] == trial.origin
        assert record["parents"] == []
        assert record["error"] == trial.error


def test_to_dataframe_has_one_row_per_trial_and_param_columns(db: Path) -> None:
    pytest.importorskip("pandas")
    run(db, 4)
    study = hp.load_study("mlp", db=db)
    frame = study.to_dataframe()
    assert len(frame) == 4
    assert {"number", "state", "value", "param_lr", "param_layers", "param_act"} <= set(
        frame.columns
    )
    assert list(frame["number"]) == [0, 1, 2, 3]
    assert list(frame["param_layers"]) == [t.params["layers"] for t in study.trials]
    assert list(frame["state"]) == ["complete"] * 4
    first = study.trials[0]
    assert frame["started"][0].timestamp() == pytest.approx(first.started)
    assert str(frame["finished"].dtype) == "datetime64[ns, UTC]"
    assert frame["duration"][0].total_seconds() == pytest.approx(first.duration, abs=1e-6)


def test_to_dataframe_leaves_times_a_trial_does_not_have_empty(db: Path) -> None:
    pytest.importorskip("pandas")
    run(db, 1)
    study = hp.load_study("mlp", db=db)
    study.enqueue({"lr": 0.01})
    frame = study.to_dataframe()
    assert list(frame["state"]) == ["complete", "queued"]
    assert frame["started"].isna().tolist() == [False, True]
    assert frame["duration"].isna().tolist() == [False, True]


def test_to_dataframe_without_pandas_is_an_import_error_naming_it(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``except ImportError`` in user code catches it (it is an hpotrack error too)."""
    run(db, 1)
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    with pytest.raises(ImportError, match="to_dataframe\\(\\) needs pandas: pip install pandas"):
        hp.load_study("mlp", db=db).to_dataframe()


def test_to_dataframe_of_a_study_without_trials_still_has_its_columns(db: Path) -> None:
    pytest.importorskip("pandas")
    run(db, 0)
    frame = hp.load_study("mlp", db=db).to_dataframe()
    assert len(frame) == 0
    assert {"number", "state", "value", "duration", "param_lr", "param_layers", "param_act"} <= set(
        frame.columns
    )


def test_load_study_sees_trials_added_after_it_was_loaded(db: Path) -> None:
    train = run(db, 2)
    study = hp.load_study("mlp", db=db)
    assert len(study.trials) == 2
    train.optimize(n_trials=5)
    assert [t.number for t in study.trials] == [0, 1, 2, 3, 4]
    assert study.best.value == min(t.value for t in study.trials)


def test_curve_of_a_loaded_study(db: Path) -> None:
    run(db, 3)
    study = hp.load_study("mlp", db=db)
    assert study.curve(2) == {"loss": [(0, 1.0 / 3)]}
    with pytest.raises(TrialError, match="no trial 3"):
        study.curve(3)


def test_a_loaded_studys_best_trial_and_curve_read_no_other_trials(
    db: Path, refuse_full_reads: Callable[[], None]
) -> None:
    """What a script asks of a study it just loaded, one trial or the best, is read
    alone, not by reading every trial (DESIGN principle 3); the same answers."""
    run(db, 6, fail={2})
    full = hp.load_study("mlp", db=db)
    expected = full.best, full.trial(4), full.curve(4), full.trial(2)
    refuse_full_reads()
    study = hp.load_study("mlp", db=db)
    assert (study.best, study.trial(4), study.curve(4), study.trial(2)) == expected
    with pytest.raises(AssertionError, match="every trial"):  # a number it lacks: the
        study.trial(6)  # error names those it has, which a full read tells


def test_best_before_any_complete_trial_raises(db: Path) -> None:
    run(db, 2, fail={0, 1})
    with pytest.raises(NoCompleteTrial):
        _ = hp.load_study("mlp", db=db).best


def test_an_unknown_study_raises_suggesting_close_names(db: Path) -> None:
    run(db, 1, study="mlp-digits")
    with pytest.raises(StudyNotFoundError, match="did you mean 'mlp-digits'"):
        hp.load_study("mlp-digit", db=db)


def test_a_name_that_differs_only_in_case_is_suggested(db: Path) -> None:
    run(db, 1, study="rich_copy")
    with pytest.raises(StudyNotFoundError, match="did you mean 'rich_copy'"):
        hp.load_study("RICH_COPY", db=db)


def test_an_unknown_study_with_no_close_name_lists_the_studies(db: Path) -> None:
    run(db, 1, study="mlp-digits")
    with pytest.raises(StudyNotFoundError, match="mlp-digits") as raised:
        hp.load_study("resnet", db=db)
    assert "'resnet'" in str(raised.value)


def test_a_missing_database_file_raises_storage_error_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(StorageError, match=r"no database at .*nope\.db: pass db=PATH"):
        hp.load_study("mlp", db=missing)
    assert not missing.exists()


def test_an_in_memory_database_is_refused_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    @hp.tune({"x": (0.0, 1.0)}, method="random", study="s", db=":memory:")
    def f(x: float) -> float:
        return x

    with pytest.raises(StorageError, match="db=':memory:' is not supported: a study lives in"):
        f.optimize(n_trials=1)
    assert list(tmp_path.iterdir()) == []


def test_load_study_defaults_to_hpotrack_db_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HPOTRACK_DB", raising=False)
    run(tmp_path / "hpotrack.db", 2)
    assert len(hp.load_study("mlp").trials) == 2


def test_the_method_proposes_outside_the_write_lock_when_nothing_changed(db: Path) -> None:
    """DESIGN principle 2: a model fit must not hold the lock. With one process nothing
    changes between the speculative proposal and the claim, so no ask runs in a transaction."""
    from dataclasses import dataclass

    from hpotrack.methods.base import Proposal
    from hpotrack.methods.history import History
    from hpotrack.methods.random_search import Random
    from hpotrack.methods.registry import register
    from hpotrack.store import open_store

    inside: list[bool] = []

    @register
    @dataclass(frozen=True)
    class Watching(Random):
        name = "test-watching"  # the study rebuilds its method from the stored name

        def ask(self, history: History) -> Proposal:
            inside.append(open_store(db).conn.in_transaction)
            return super().ask(history)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method=Watching(), study="w", db=db, seed=0)
    def train(x: float) -> float:
        return x

    study = train.optimize(n_trials=20)
    assert len(study.trials) == 20
    assert inside and not any(inside), inside


def test_a_failed_write_inside_ask_leaves_the_cache_equal_to_the_database(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outcome stored by an ask is put into the cache before the commit; if the
    transaction then fails, the cache must forget it along with the database."""
    from hpotrack.store import Store

    train = run(db, 2)
    study = train.study
    worker = study.worker({})
    (claimed,) = ask(study, worker, None)
    done = (claimed, Outcome(TrialState.COMPLETE, 0.5, {"loss": 0.5}))

    def broken(self: Store, *args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Store, "insert_trial", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        ask(study, worker, None, [done])
    monkeypatch.undo()
    assert study.trials[2].state is TrialState.RUNNING  # the commit never happened
    assert study.trials == hp.load_study("mlp", db=db).trials


def test_a_study_sees_writes_of_another_study_object_on_the_same_connection(db: Path) -> None:
    """Both share this process's connection, whose own commits SQLite's data_version
    does not count: the cache must still notice them."""
    train = run(db, 2)
    first, second = hp.load_study("mlp", db=db), hp.load_study("mlp", db=db)
    assert len(first.trials) == 2
    second.enqueue({"lr": 0.01, "layers": 2, "act": "relu"})
    assert len(first.trials) == 3 and first.trials[2].state is TrialState.QUEUED
    train.optimize(n_trials=3)
    assert first.trials[2].state is TrialState.COMPLETE


def test_a_thread_reading_the_study_while_a_check_rolls_back_sees_what_is_stored(
    db: Path,
) -> None:
    """A monitoring thread's study shares the process's connection with the run. A
    method whose ``on_report`` raises does so inside the check's write transaction,
    after the check was written; read at that moment, the check was cached and the
    trial's stored failure, written next with the same ``seq``, never read: the monitor
    showed the trial running for ever. Its reads wait for the transaction to end."""
    from dataclasses import dataclass

    from hpotrack.methods.history import History
    from hpotrack.methods.random_search import Random
    from hpotrack.methods.registry import register
    from hpotrack.records import TrialRecord

    written, read = threading.Event(), threading.Event()

    @register
    @dataclass(frozen=True)
    class Raising(Random):
        name = "test-raising-on-report"

        def next_check(self, trial: TrialRecord, step: int, history: History) -> int | None:
            return 1 if step <= 1 else None

        def on_report(self, trial: TrialRecord, step: int, history: History) -> bool:
            written.set()
            read.wait(0.5)  # the monitor reads here, or waits for the rollback
            raise RuntimeError("on_report failed")

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method=Raising(), study="r", db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        trial.report(x, step=1)
        return x

    monitor = hp.load_study(train.study.name, db=db)
    assert monitor.trials == []

    def watch() -> None:
        written.wait()
        monitor.trials  # noqa: B018 - the read under test
        read.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    train.optimize(n_trials=1)
    watcher.join()
    assert [t.state for t in monitor.trials] == [TrialState.FAILED]
    assert monitor.trials == hp.load_study("r", db=db).trials


def _insert_trial_2(store: Store, study: hp.Study, pid: int | None = None) -> None:
    store.insert_trial(
        study.id, number=2, state=TrialState.RUNNING, params={"x": 0.5}, origin="sampled",
        host=hostname(), pid=pid,
    )  # fmt: skip


def _insert_study_ghost(store: Store, study: hp.Study) -> None:
    store.insert_study(
        name="ghost", space={"x": hp.Float(0.0, 1.0).to_json()},
        method={"name": "random", "options": {}}, direction="minimize", objective="value",
        seed=0, function={},
    )  # fmt: skip


# Each: (what another thread writes in the transaction it rolls back, the read under test).
UNCOMMITTED: dict[str, tuple[Callable[[Store, hp.Study], object], Callable[[hp.Study], object]]] = {
    "load_study": (_insert_study_ghost, lambda study: hp.load_study("ghost", db=study.db_path)),
    "target": (
        lambda store, study: store.update_study(study.id, target=99),
        lambda study: study.target,
    ),
    "is_current": (
        lambda store, study: store.update_study(study.id, method={"name": "tpe", "options": {}}),
        lambda study: study.is_current(),
    ),
    "repr": (_insert_trial_2, repr),
    "workers_gone": (
        lambda store, study: _insert_trial_2(store, study, pid=dead_pid()),
        lambda study: study.workers_gone([2]),
    ),
    "curve": (
        lambda store, study: store.add_metrics(
            store.conn.execute("SELECT id FROM trials WHERE number = 1").fetchone()[0],
            [("value", 2, 7.0, 0.0)],
        ),
        lambda study: study.curve(1),
    ),
    "load_checkpoint": (
        lambda store, study: store.conn.execute("DELETE FROM checkpoints"),  # a collection
        lambda study: study.load_checkpoint(1),
    ),
}


@pytest.mark.parametrize("read", list(UNCOMMITTED))
def test_a_read_while_another_thread_writes_answers_from_committed_rows_only(
    db: Path, read: str
) -> None:
    """The threads of a process share one connection, on which a read sees the rows
    another thread's write transaction has not committed: a monitoring thread loaded a
    study that was never created, counted, curved and called lost a trial that never
    existed, ran to a target never stored, or found no checkpoint while one was stored.
    Each read waits for the transaction, and answers as it does after the rollback."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="r", db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        trial.report(x, step=1)
        trial.save_checkpoint({"x": x}, step=1)
        return x

    study = train.optimize(n_trials=2)
    study.refresh()  # the reads that refresh first find nothing committed since
    write, reading = UNCOMMITTED[read]
    during = answer_during_a_rolled_back_write(
        study.store, lambda: write(study.store, study), lambda: reading(study)
    )
    assert during == answer(lambda: reading(study))  # after the rollback: what is stored


def test_a_run_registered_while_another_thread_writes_is_stored(db: Path) -> None:
    """Registered outside a write transaction of its own, a run's row joined the one
    another thread of the process had open on the shared connection, and went with its
    rollback: the run's trials named a run that was never stored (no provenance, and
    their checkpoints never collected)."""
    study = run(db, 1).study
    worker: list[Worker] = []
    answer_during_a_rolled_back_write(
        study.store,
        lambda: study.store.update_study(study.id, target=5),
        lambda: worker.append(study.worker({"host": hostname(), "pid": 1})),
    )
    assert query(db, "SELECT COUNT(*) FROM runs WHERE id = ?", worker[0].run_id) == [(1,)]


def test_ask_claims_several_trials_in_one_transaction(db: Path) -> None:
    train = run(db, 1)
    study = train.study
    worker = study.worker({})
    study.enqueue({"lr": 0.01, "layers": 2, "act": "relu"})
    commits = study.store.commits
    claimed = ask(study, worker, 4, count=5)
    assert study.store.commits == commits + 1
    assert [c.number for c in claimed] == [1, 2, 3]  # the queued one, then up to the target
    assert claimed[0].params == {"lr": 0.01, "layers": 2, "act": "relu"}
    assert [t.state for t in hp.load_study("mlp", db=db).trials[1:]] == [TrialState.RUNNING] * 3
    study.finish([], claimed[1:])
    again = ask(study, worker, 4, count=1)
    assert [c.number for c in again] == [2]  # given back trials run first
    assert again[0].params == claimed[1].params


def test_a_writer_waiting_for_the_lock_reads_what_the_holder_committed(db: Path) -> None:
    """Another writer (its own connection and lock, as in another process) takes the
    lock, then commits a trial while keeping it: the waiting ask reads that trial before
    it gets the lock, and claims it (queued trials go first)."""
    import threading

    from hpotrack.store import Store

    train = run(db, 1)
    study = train.study
    worker = study.worker({})
    other = Store(db)
    holding, waiting = threading.Event(), threading.Event()
    read_while_waiting = study._read_while_waiting

    def spied() -> None:  # the ask found the lock taken and reads while it waits
        waiting.set()
        read_while_waiting()

    study._read_while_waiting = spied  # type: ignore[method-assign]

    def hold() -> None:
        with other._writer.hold(timeout=10):
            holding.set()
            waiting.wait(timeout=10)
            with other.write():  # one transaction; the lock stays held after it
                other.insert_trial(
                    study.id,
                    number=1,
                    state=TrialState.QUEUED,
                    params={"lr": 0.01, "layers": 2, "act": "relu"},
                    origin="enqueued",
                )
            deadline = time.monotonic() + 10
            while study.read_while_waiting == 0 and time.monotonic() < deadline:
                time.sleep(0.001)  # until the waiting ask has read it (or never does)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(timeout=10)
    claimed = ask(study, worker, 3)
    holder.join()
    other.close()
    assert study.read_while_waiting == 1
    assert [c.number for c in claimed] == [1]  # the trial the holder queued
    assert claimed[0].params == {"lr": 0.01, "layers": 2, "act": "relu"}


@pytest.mark.parametrize("number", [1.5, "1", None, True], ids=repr)
def test_a_trial_number_that_is_not_a_whole_number_is_a_trial_error(
    tmp_path: Path, number: object
) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=tmp_path / "h.db", seed=0)
    def f(x: float) -> float:
        return x

    study = f.optimize(n_trials=2)
    for read in (study.trial, study.curve):
        with pytest.raises(hp.HpotrackError, match="a trial number is a whole number"):
            read(number)  # type: ignore[arg-type]
    with pytest.raises(hp.HpotrackError, match="a study name is text"):
        hp.load_study(5, db=tmp_path / "h.db")  # type: ignore[arg-type]


def test_numpy_integers_name_trials_and_steps_as_ints_do(db: Path) -> None:
    # a DataFrame's number column, np.argmin of the values: numpy integers
    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, method="random", seed=0)
    def f(x: float, trial: hp.Trial) -> float:
        trial.report(x, step=1)
        trial.save_checkpoint({"x": x}, step=1)
        return x

    study = f.optimize(n_trials=3)
    best = int(np.argmin([t.value for t in study.trials]))
    number = np.int64(best)
    assert study.trial(number) == study.trial(best)
    assert type(study.trial(number).number) is int
    assert study.curve(number) == study.curve(best)
    assert study.schedule(np.int32(best)) == study.schedule(best)
    assert study.load_checkpoint(number, step=np.int64(1)) == study.load_checkpoint(best, step=1)


def test_a_study_pickles_as_its_name_and_file_for_other_processes(db: Path) -> None:
    train = run(db, 3)
    study = pickle.loads(pickle.dumps(train.study))
    assert isinstance(study, hp.Study)
    assert (study.name, study.db_path) == ("mlp", db.resolve())
    assert study.trials == hp.load_study("mlp", db=db).trials
    train.optimize(n_trials=4)
    assert len(study.trials) == 4  # a live view of the file, as the original


def test_a_studys_repr_counts_its_trials_without_reading_them(
    db: Path, refuse_full_reads: Callable[[], None]
) -> None:
    run(db, 3, fail={1})
    refuse_full_reads()
    assert repr(hp.load_study("mlp", db=db)) == "Study(name='mlp', method='auto', trials=3)"


def test_a_study_of_a_method_its_code_registers_reads_without_that_code(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that has not imported the method (a notebook, `hpotrack`) could not
    open the study at all: load_study raised "unknown method" before reading a trial."""
    from hpotrack.methods import registry
    from hpotrack.methods.random_search import Random

    @registry.register
    @dataclasses.dataclass(frozen=True)
    class Mine(Random):
        name = "test-mine-read"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method=Mine(), study="m", db=db, seed=0)
    def train(x: float) -> float:
        return x

    train.optimize(n_trials=3)
    monkeypatch.delitem(registry._REGISTRY, "test-mine-read")  # as in a process without it
    study = hp.load_study("m", db=db)
    assert len(study.trials) == 3
    assert study.best.value == min(t.value for t in study.trials if t.value is not None)
    assert study.method_name == "test-mine-read"
    assert "method='test-mine-read'" in repr(study)
    with pytest.raises(hp.HpotrackError, match="unknown method 'test-mine-read'"):
        study.enqueue({"x": 0.5})  # what needs the method still says what is missing

"""Checkpoints on a real file: round trips, damage, atomic writes under kill -9, which
ones are kept, and PBT shared by processes and resumed after a crash."""

from __future__ import annotations

import ctypes
import functools
import itertools
import json
import os
import pickle
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import traceback
import tracemalloc
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
from click.testing import CliRunner

import hpotrack as hp
from hpotrack import checkpoints
from hpotrack.cli import cli
from hpotrack.errors import StorageError, StudyDeleted, TrialError
from hpotrack.records import TrialState
from hpotrack.store import close_stores, open_store
from tests.cli.test_manage import delete_elsewhere
from tests.counting import sqlite_steps
from tests.test_processes import ROOT, finish, open_gate, start


def one_trial_study(db: Path, body: object) -> hp.Study:
    """A study whose single trial runs ``body(trial)``."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="c", db=db, seed=0, keep_checkpoints="all")
    def f(x: float, trial: hp.Trial) -> float:
        body(trial)  # type: ignore[operator]
        return x

    return f.optimize(n_trials=1)


def test_objects_and_bytes_round_trip_with_their_size_and_hash(db: Path) -> None:
    def body(trial: hp.Trial) -> None:
        trial.save_checkpoint({"w": [1, 2, 3]}, step=3)
        trial.save_checkpoint(b"\x00raw", step=5)

    study = one_trial_study(db, body)
    store = open_store(db)
    first = checkpoints.find(store, study.id, 0, at_most=4)
    last = checkpoints.find(store, study.id, 0, at_most=None)
    assert first is not None and checkpoints.load(store, first) == {"w": [1, 2, 3]}
    assert last is not None and checkpoints.load(store, last) == b"\x00raw"
    assert (last.step, last.size) == (5, 4) and "trial-0-step-5-" in last.path
    assert last.path.endswith(".bin")
    assert (store.checkpoint_root / first.path).read_bytes() == pickle.dumps(
        {"w": [1, 2, 3]}, protocol=pickle.HIGHEST_PROTOCOL
    )


def test_a_damaged_checkpoint_is_a_clear_error(db: Path) -> None:
    study = one_trial_study(db, lambda trial: trial.save_checkpoint([1.0], step=1))
    store = open_store(db)
    found = checkpoints.find(store, study.id, 0, at_most=None)
    assert found is not None
    (store.checkpoint_root / found.path).write_bytes(b"not what was saved")
    with pytest.raises(TrialError, match="does not match its stored hash"):
        checkpoints.load(store, found)


def test_an_object_pickle_refuses_with_a_value_error_is_the_same_clear_error(db: Path) -> None:
    """ctypes pointers (and some extension types) refuse pickling with ValueError."""
    pointer = ctypes.pointer(ctypes.c_int(3))
    study = one_trial_study(db, lambda trial: trial.save_checkpoint({"buf": pointer}, step=1))
    error = study.trials[0].error or ""
    assert "TrialError: save_checkpoint() needs an object pickle can store" in error
    assert "ctypes objects containing pointers cannot be pickled" in error
    assert not checkpoints.any_saved(open_store(db), study.id)


def saving_study(db: Path, name: str, trials: int, *, save: bool) -> hp.Study:
    """Random search of ``trials`` trials, each saving a checkpoint when ``save``."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study=name, db=db, seed=0, keep_checkpoints="all")
    def f(x: float, trial: hp.Trial) -> float:
        if save:
            trial.save_checkpoint(x, step=1)
        return x

    return f.optimize(n_trials=trials, progress=False)


def test_whether_a_study_saved_checkpoints_costs_the_same_however_many_trials_it_has(
    db: Path,
) -> None:
    """Asked at each promotion that has no checkpoint to start from (Hyperband without
    checkpoints), it looked up every trial of the study: 6 ms at 100,000 trials. Counted
    in SQLite's steps, a look at every trial shows at a few hundred trials already (past
    the :data:`checkpoints.OWNERS_LOOKED_AT` rows that a bounded look reads)."""
    few, many = saving_study(db, "few", 10, save=False), saving_study(db, "many", 300, save=False)
    store = open_store(db)
    costs = [sqlite_steps(store, functools.partial(checkpoints.any_saved, store, s.id))
             for s in (few, many)]  # fmt: skip
    assert not checkpoints.any_saved(store, few.id) and not checkpoints.any_saved(store, many.id)
    assert costs[1] == costs[0]


def test_whether_a_study_saved_checkpoints_beside_studies_that_saved_many(db: Path) -> None:
    """Past the first checkpoint rows of the file (another study's), the study's own
    trials are looked along, and tell."""
    saving_study(db, "busy", checkpoints.OWNERS_LOOKED_AT + 1, save=True)
    store = open_store(db)
    without, one = saving_study(db, "none", 3, save=False), saving_study(db, "one", 1, save=True)
    saved = {s.name: checkpoints.any_saved(store, s.id) for s in (without, one)}
    assert saved == {"none": False, "one": True}


Made = TypeVar("Made")
Made = TypeVar("Made")


def traced(action: Callable[[], Made]) -> tuple[Made, int]:
    """What ``action`` returned, and the most memory Python and numpy (which registers its
    buffers with tracemalloc) held at once while it ran, counting what it made."""
    tracemalloc.start()
    try:
        return action(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("raw", [False, True], ids=["pickled-array", "memoryview-as-bytes"])
def test_a_large_checkpoint_is_held_in_memory_about_once_as_it_is_saved_and_loaded(
    db: Path, raw: bool
) -> None:
    """An array made and saved peaked at 2.5x its size (its whole pickle built, then
    written; a memoryview copied into bytes: 2x), one loaded at 2x (the file read into
    bytes, then unpickled from them): both stream through the file now."""
    size = 24 << 20
    peaks: dict[str, int] = {}

    def made() -> object:
        array = np.arange(size // 8, dtype=np.float64)
        return memoryview(array) if raw else array

    def body(trial: hp.Trial) -> None:
        _, peaks["save"] = traced(lambda: trial.save_checkpoint(made(), step=1))

    study = one_trial_study(db, body)
    loaded, peaks["load"] = traced(lambda: study.load_checkpoint(0))
    expected = made()
    assert (loaded == bytes(expected)) if raw else np.array_equal(loaded, expected)
    assert peaks["save"] < 1.4 * size and peaks["load"] < 1.4 * size, peaks


def test_a_memoryview_is_stored_as_its_bytes_in_order_whatever_its_shape(db: Path) -> None:
    """Streamed as it is when contiguous (its size in bytes, not items), copied when
    strided: the file holds what ``bytes(view)`` gives either way."""
    matrix = np.arange(12, dtype=np.int32).reshape(3, 4)
    views = {1: memoryview(matrix), 2: memoryview(matrix)[::2], 3: memoryview(matrix.T)}

    def body(trial: hp.Trial) -> None:
        for step, view in views.items():
            trial.save_checkpoint(view, step=step)

    study = one_trial_study(db, body)
    store = open_store(db)
    for step, view in views.items():
        found = checkpoints.find(store, study.id, 0, at_most=step)
        assert found is not None and found.size == view.nbytes
        assert checkpoints.load(store, found) == bytes(view)


def test_an_os_error_from_the_objects_own_pickling_fails_the_trial_not_the_run(
    db: Path,
) -> None:
    """Pickled straight into the file, an OSError the object raises is not the folder's
    (which stops the run): the trial fails with the pickling error, nothing is stored."""

    class Device:
        def __reduce__(self) -> tuple[object, ...]:
            raise OSError("the device is not open")

    study = one_trial_study(db, lambda trial: trial.save_checkpoint([1, Device()], step=1))
    error = study.trials[0].error or ""
    assert "TrialError: save_checkpoint() needs an object pickle can store" in error
    assert "the device is not open" in error
    assert not checkpoints.any_saved(open_store(db), study.id)
    assert list(open_store(db).checkpoint_dir("c").iterdir()) == []  # nor a temporary file


FULL_DISK = """
import resource, signal, sys
import hpotrack as hp
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit: EFBIG, no signal

@hp.tune({"x": hp.Float(0.0, 1.0)}, study="c", db=sys.argv[1], seed=0, keep_checkpoints="all")
def f(x, trial):
    trial.save_checkpoint(b"first", step=1)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.RLIM_INFINITY))
    trial.save_checkpoint({"weights": bytes(4 << 20)}, step=2)
    return x

f.optimize(n_trials=1)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_a_file_system_that_refuses_a_write_mid_checkpoint_stops_the_run_and_leaves_no_file(
    db: Path,
) -> None:
    """A write refused partway (a full disk; here a file size limit) is the folder's
    error, not the object's: the run stops naming the folder, the temporary file goes,
    the previous checkpoint stays."""
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(db)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    store = open_store(db)
    folder = store.checkpoint_dir("c")
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode != 0 and last.startswith(
        f"hpotrack.errors.StorageError: cannot save a checkpoint in {folder}: File too large; "
        "checkpoints live beside the database"
    ), done.stderr
    study = hp.load_study("c", db=db)
    saved = checkpoints.of_trial(store, study.id, 0)
    assert [p.name for p in folder.iterdir()] == [Path(c.path).name for c in saved]
    assert study.load_checkpoint(0) == b"first"


def test_a_database_copied_without_its_checkpoint_folder_says_to_copy_it(
    db: Path, tmp_path: Path
) -> None:
    one_trial_study(db, lambda trial: trial.save_checkpoint([1.0], step=1))
    close_stores()
    copy = tmp_path / "elsewhere" / "copy.db"
    copy.parent.mkdir()
    shutil.copy(db, copy)
    study = hp.load_study("c", db=copy)
    with pytest.raises(
        TrialError,
        match=r"copy.db.ckpt does not exist; .* copy or move copy.db.ckpt along with copy.db",
    ):
        study.load_checkpoint(0)
    (copy.parent / "copy.db.ckpt").mkdir()  # the folder, but not that file
    with pytest.raises(TrialError, match="is missing: it was deleted or moved after it was saved"):
        study.load_checkpoint(0)


def test_a_checkpoint_folder_that_cannot_be_written_stops_the_run_with_one_error(
    db: Path,
) -> None:
    """The folder beside the database is a file (a sync tool, a mistake): the run stops
    at the first save with one StorageError naming it, instead of failing every trial
    as the function's fault until too many failed; the trial it ran is queued again. A
    direct call raises the same, its trial stored as failed with the reason."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=1)
    def train(x: float, trial: hp.Trial) -> float:
        trial.save_checkpoint({"x": x})
        return x

    Path(f"{db}.ckpt").write_text("not a folder")
    with pytest.raises(StorageError, match=r"cannot save a checkpoint .*/h\.db\.ckpt"):
        train.optimize(n_trials=10)
    assert [t.state for t in train.study.trials] == [TrialState.QUEUED]
    with pytest.raises(StorageError, match="make that a writable folder"):
        train(x=0.5)
    manual = train.study.trials[1]
    assert manual.state is TrialState.FAILED and "cannot save a checkpoint" in (manual.error or "")


def test_a_checkpoint_folder_linked_to_a_folder_gone_is_named_as_such(
    db: Path, tmp_path: Path
) -> None:
    """``hpotrack.db.ckpt`` a symlink to a scratch or tmpfs folder emptied since (a
    reboot): the save said only "File exists" (mkdir of a dangling link)."""
    gone = tmp_path / "scratch" / "ckpt"
    Path(f"{db}.ckpt").symlink_to(gone)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=1)
    def train(x: float, trial: hp.Trial) -> float:
        trial.save_checkpoint({"x": x})
        return x

    with pytest.raises(StorageError) as raised:
        train.optimize(n_trials=2)
    assert f"h.db.ckpt is a link to {gone}, which does not exist (a scratch" in str(raised.value)
    assert "File exists" not in str(raised.value)
    assert not gone.exists()


def test_a_checkpoint_folder_this_user_may_not_enter_stops_the_run_with_one_error(
    tmp_path: Path,
) -> None:
    """``hpotrack.db.ckpt/`` made by another user under umask 077: the run's look for
    unfinished files raised PermissionError from a stat (the CLI said "cannot write the
    output: Permission denied"); now one StorageError naming the folder, before a trial."""
    from tests.test_connection import _unprivileged

    db = tmp_path / "h.db"
    one_trial_study(db, lambda trial: trial.save_checkpoint(b"model", step=1))
    close_stores()
    script = tmp_path / "train.py"
    script.write_text(
        "import sys\nimport hpotrack as hp\n\n"
        "@hp.tune({'x': hp.Float(0.0, 1.0)}, study='c', db=sys.argv[1], seed=0)\n"
        "def f(x, trial):\n    trial.save_checkpoint(b'model', step=1)\n    return x\n\n"
        "f.optimize(n_trials=2)\n"
    )
    root = Path(f"{db}.ckpt")
    root.chmod(0o000)
    try:
        done = subprocess.run(
            [*_unprivileged(), sys.executable, str(script), str(db)],
            capture_output=True,
            text=True,
        )
    finally:
        root.chmod(0o755)
    folder = open_store(db).checkpoint_dir("c")
    assert done.returncode != 0 and "PermissionError" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"hpotrack.errors.StorageError: cannot look for unfinished checkpoint files in "
        f"{folder}: Permission denied; checkpoints live beside the database, in {root}: "
        "make that a writable folder with free space"
    )
    assert [t.state for t in hp.load_study("c", db=db).trials] == [TrialState.COMPLETE]


def test_a_trial_without_a_source_starts_from_nothing(db: Path) -> None:
    seen: list[object] = []
    one_trial_study(db, lambda trial: seen.append(trial.load_checkpoint()))
    assert seen == [None]


def test_saving_outside_a_run_is_an_error() -> None:
    trial = hp.Trial(trial_id=1, number=0, params={}, budget=None, objective="v", study="s")
    with pytest.raises(TrialError, match="inside a trial that hpotrack runs"):
        trial.save_checkpoint(1)


def test_saving_after_the_trial_finished_is_an_error_and_stores_nothing(db: Path) -> None:
    """A handle kept after the trial ended saved a checkpoint that load_checkpoint then
    returned as what the trial ended with; report() already refused."""
    kept: list[hp.Trial] = []
    study = one_trial_study(db, kept.append)
    with pytest.raises(TrialError, match="trial 0 has finished: save_checkpoint"):
        kept[0].save_checkpoint({"late": True}, step=0)
    with pytest.raises(TrialError, match="has no checkpoint"):
        study.load_checkpoint(0)


WRITER = """
import sys
from hpotrack import checkpoints
from hpotrack.store import open_store
store = open_store(sys.argv[1])
print("ready", flush=True)
size = 1
while True:  # ever larger checkpoints at one step, until killed
    size = min(size * 2, 1 << 26)
    checkpoints.save(store, "c", 1, 0, 7, b"x" * size)
"""


def test_a_writer_killed_mid_write_leaves_the_previous_checkpoint_readable(db: Path) -> None:
    study = one_trial_study(db, lambda trial: trial.save_checkpoint(b"first", step=7))
    close_stores()
    for delay in (0.05, 0.2, 0.4):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db)],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.communicate()  # waits, and closes its pipe
        store = open_store(db)
        found = checkpoints.find(store, study.id, 0, at_most=None)
        assert found is not None
        data = checkpoints.load(store, found)  # the file matches its row: never half written
        assert data == b"first" or set(data) == {ord("x")}
        close_stores()


def test_the_temporary_file_of_a_save_has_a_name_a_later_run_recognizes(db: Path) -> None:
    """What a writer killed mid-save leaves is found by :data:`checkpoints.FILE_NAME`
    (seen here while the object is pickled into it)."""
    folder = open_store(db).checkpoint_dir("c")
    seen: list[str] = []

    class Spy:
        def __reduce__(self) -> tuple[object, ...]:
            seen.extend(path.name for path in folder.iterdir())
            return (int, (1,))

    one_trial_study(db, lambda trial: trial.save_checkpoint(Spy(), step=1))
    assert len(seen) == 1 and seen[0].endswith(".tmp")
    assert checkpoints.FILE_NAME.fullmatch(seen[0]), seen


def checkpointing(
    db: Path, method: str, budget: hp.Budget, report_every: int = 1
) -> tuple[hp.TunedFunction, dict[int, object]]:
    """A study that saves a checkpoint every step and reports every ``report_every``
    steps (and at its budget), and the state each trial loaded, by number."""
    loaded: dict[int, object] = {}

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method=method, study="c", db=db, seed=0,
             budget=budget)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        loaded[trial.number] = trial.load_checkpoint()
        value = 0.0
        for step in trial.steps:
            value = (x - 0.3) ** 2 + 1.0 / step
            trial.save_checkpoint({"step": step}, step=step)
            if step % report_every == 0 or step == trial.budget:
                trial.report(value, step=step)
        return value

    return train, loaded


def test_a_promotion_continues_its_parent_when_reports_are_sparser_than_checkpoints(
    db: Path,
) -> None:
    """Checkpoints every epoch, reports every other one: a check at rung 1 comes from
    the report at epoch 2, and the promotion continues from the checkpoint at or before
    that rung, which collecting unneeded ones must not delete."""
    train, loaded = checkpointing(db, "sha", hp.Budget(1, 27), report_every=2)
    study = train.optimize(n_trials=20)
    promoted = [t for t in study.trials if t.origin == "promoted"]
    assert promoted
    for trial in promoted:
        edge = trial.parents[0]
        assert loaded[trial.number] == {"step": edge.step}, (trial.number, edge)


def test_synchronous_hyperband_drops_the_checkpoints_of_decided_runs(db: Path) -> None:
    """A stopped trial of a run whose rungs have all decided is never promoted: its
    checkpoint goes (before, every stopped trial kept one, and the folder grew by most
    of the study's trials). Promotions still continue their parents, and each complete
    trial keeps its final model."""
    train, loaded = checkpointing(db, "hyperband", hp.Budget(1, 9))
    study = train.optimize(n_trials=46)  # two iterations of 17 configurations, 23 trials
    trials = study.trials
    for trial in trials:
        if trial.origin == "promoted":
            assert loaded[trial.number] == {"step": trial.parents[0].step}, trial.number
    with closing(sqlite3.connect(db)) as conn:
        kept = {n for (n,) in conn.execute(
            "SELECT t.number FROM checkpoints c JOIN trials t ON t.id = c.trial_id")}  # fmt: skip
    first_iteration = [t for t in trials if t.claim and t.claim.startswith("config:")
                       and int(t.claim.split(":")[1]) < 17]  # fmt: skip
    stopped = [t.number for t in first_iteration if t.state is TrialState.PRUNED]
    assert stopped and not kept & set(stopped)
    assert {t.number for t in trials if t.state is TrialState.COMPLETE} <= kept
    assert len(kept) < sum(t.state is not TrialState.FAILED for t in trials) / 2


def test_a_checkpoint_without_a_step_is_at_the_objectives_last_step(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Not at another metric's (batches, say, which may count past the budget); before
    the first report it is at the budget, and a report of an earlier step then says to
    pass step= (that checkpoint, the latest, shadowed the later ones)."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="d", db=db, seed=0,
             budget=hp.Budget(1, 9))  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        for epoch in trial.steps:
            if trial.number == 1:
                trial.save_checkpoint({"epoch": epoch})  # before reporting: no step known
            for batch in range(1, 11):
                trial.report(x, step=(epoch - 1) * 10 + batch, name="batch_loss")
            trial.report(x, step=epoch)
            if trial.number == 0:
                trial.save_checkpoint({"epoch": epoch})
        return x

    with caplog.at_level("WARNING", logger="hpotrack"):
        study = train.optimize(n_trials=2)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    with closing(sqlite3.connect(db)) as conn:
        steps = conn.execute(
            "SELECT t.number, c.step FROM checkpoints c JOIN trials t ON t.id = c.trial_id"
        ).fetchall()
    assert (0, 9) in steps and max(step for _, step in steps) == 9
    warned = [r.getMessage() for r in caplog.records if "save_checkpoint" in r.getMessage()]
    assert (
        len(warned) == 1 and "trial 1 of study 'd' saved a checkpoint without step=" in (warned[0])
    )
    assert "pass the step it trained through" in warned[0]


def test_a_checkpoint_saved_before_the_first_report_is_said_once_per_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Said once per study and process, the study known by its name alone: a study of
    the same name in another database was never told."""
    for folder in ("a", "b"):

        @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="d", seed=0,
                 db=tmp_path / folder / "h.db", budget=hp.Budget(1, 3))  # fmt: skip
        def train(x: float, trial: hp.Trial) -> float:
            trial.save_checkpoint({"x": x})  # no step known: at the budget, 3
            trial.report(x, step=1)
            return x

        (tmp_path / folder).mkdir()
        with caplog.at_level("WARNING", logger="hpotrack"):
            train.optimize(n_trials=1)
    warned = [r.getMessage() for r in caplog.records if "without step=" in r.getMessage()]
    assert len(warned) == 2, warned


def test_switching_method_says_that_checkpoints_the_old_one_had_no_use_for_are_gone(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """sha may promote a trial that synchronous hyperband had stopped for good, and whose
    checkpoint it deleted: that promotion trains from scratch, and the switch says so."""
    checkpointing(db, "hyperband", hp.Budget(1, 9))[0].optimize(n_trials=30)
    with caplog.at_level("INFO", logger="hpotrack"):
        checkpointing(db, "sha", hp.Budget(1, 9))[0].optimize(n_trials=31)
    (changed,) = [r.getMessage() for r in caplog.records if "method changed" in r.getMessage()]
    assert "from hyperband to sha; the trials so far are kept (with keep_checkpoints=" in changed


def pbt(db: Path, keep: str = "needed", interrupt: int | None = None) -> hp.TunedFunction:
    @hp.tune(
        {"lr": hp.Float(0.01, 1.0, log=True)},
        method=hp.methods.PBT(population=4, interval=2, generations=3),
        study="p",
        db=db,
        seed=0,
        keep_checkpoints=keep,
    )
    def train(lr: float, trial: hp.Trial) -> float:
        state = trial.load_checkpoint() or {"w": 0.0, "steps": []}
        assert state["steps"] == list(range(1, trial.steps.start))  # continuous steps
        for step in trial.steps:
            if trial.number == interrupt and step > trial.steps.start:
                trial.save_checkpoint(state, step=step - 1)  # what it trained so far
                raise KeyboardInterrupt  # Ctrl-C in the middle of the segment
            state["w"] += lr * (1.0 - state["w"])
            state["steps"].append(step)
            trial.report(1.0 - state["w"], step=step)
        trial.save_checkpoint(state)
        return 1.0 - state["w"]

    return train


def test_a_segment_interrupted_by_ctrl_c_runs_again_from_its_members_checkpoint(
    db: Path,
) -> None:
    """The interrupted segment (failed, not retried: PBT proposes it again) must not
    take its member's latest checkpoint with it: the next run continues from there (the
    function asserts that its steps are continuous)."""
    with pytest.raises(KeyboardInterrupt):
        pbt(db, interrupt=6).optimize()  # member 2's second segment, continuing trial 2
    study = pbt(db).optimize()
    interrupted = study.trials[6]
    assert interrupted.state is TrialState.FAILED and "interrupted" in (interrupted.error or "")
    assert interrupted.parents == (hp.Edge(2, "continued", step=2),)
    again = [t for t in study.trials[7:] if (t.claim or "").split("#")[0] == interrupted.claim]
    assert [(t.state, t.parents) for t in again] == [(TrialState.COMPLETE, interrupted.parents)]
    assert [step for step, _ in study.curve(again[0].number)["value"]] == [3, 4]  # not 1..4
    assert all(t.state is TrialState.COMPLETE for t in study.trials if t.number != 6)


@pytest.mark.parametrize("keep", ["needed", "all"])
def test_pbt_keeps_the_latest_checkpoint_per_member_or_all(db: Path, keep: str) -> None:
    study = pbt(db, keep).optimize()
    assert len(study.trials) <= 12 and all(t.state is TrialState.COMPLETE for t in study.trials)
    assert sorted(t.budget for t in study.trials)[-4:] == [6.0] * 4  # every member at 6
    files = 4 if keep == "needed" else len(study.trials)
    folder = open_store(db).checkpoint_dir("p")
    assert len([p for p in folder.iterdir() if not p.name.startswith(".")]) == files
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0] == files
    kinds = {e.kind for t in study.trials for e in t.parents}
    assert kinds <= {"continued", "exploited"} and "continued" in kinds
    last = study.trials[-1]
    schedule = study.schedule(last.number)
    assert schedule["lr"][0][0] == 1 and len(study.curve(last.number)["value"]) == 2
    best = study.best_final()  # the best of each member's latest segment
    finals = [t for t in study.trials if t.budget == 6]
    assert best.value == min(t.value for t in finals if t.value is not None)
    assert study.best_schedule() == study.schedule(best.number)


def test_a_populations_best_is_what_a_member_ended_with_and_its_model_loads(db: Path) -> None:
    """Here every member gets worse in its last segment: the best complete trial is a
    mid-run segment, whose checkpoint is gone (its member went on) and whose value was
    measured earlier in training. ``study.best`` is the best final member instead."""

    @hp.tune({"lr": hp.Float(0.01, 1.0, log=True)},
             method=hp.methods.PBT(population=3, interval=2, generations=2), study="worse",
             db=db, seed=0)  # fmt: skip
    def train(lr: float, trial: hp.Trial) -> float:
        trial.load_checkpoint()
        value = lr if trial.budget == 2 else 10.0 + lr  # the last segment is worse
        for step in trial.steps:
            trial.report(value, step=step)
        trial.save_checkpoint({"lr": lr, "step": trial.budget})
        return value

    study = train.optimize()
    best = study.best
    assert best.budget == 4 and best.value is not None and best.value >= 10.0
    finals = [t.value for t in study.trials if t.budget == 4 and t.value is not None]
    assert best.value == min(finals)
    assert study.load_checkpoint(best.number) == {"lr": best.params["lr"], "step": 4}
    assert study.best_final() == best and study.best_schedule() == study.schedule(best.number)
    shown = CliRunner().invoke(cli, ["--db", str(db), "best", "worse", "--format", "json"])
    assert json.loads(shown.output)["number"] == best.number


def test_members_a_smaller_population_drops_keep_their_final_models(db: Path) -> None:
    """Reopened with population 2, members 2 and 3 train no more, but what they ended
    with is still among the study's results (its best here): their checkpoints stay."""

    def tuned(population: int, generations: int) -> hp.TunedFunction:
        @hp.tune({"lr": hp.Float(0.01, 1.0, log=True)}, study="shrunk", db=db, seed=0,
                 method=hp.methods.PBT(population=population, interval=2,
                                       generations=generations))  # fmt: skip
        def train(lr: float, trial: hp.Trial) -> float:
            trial.load_checkpoint()
            claim = hp.load_study("shrunk", db=db).trials[trial.number].claim or "pbt:0"
            member = int(claim.split(":")[1])
            value = 0.1 * member if member >= 2 else 1.0  # the dropped members end best
            for step in trial.steps:
                trial.report(value, step=step)
            trial.save_checkpoint({"member": member, "step": trial.budget})
            return value

        return train

    tuned(4, 1).optimize()
    study = tuned(2, 3).optimize()
    best = study.best
    assert best.claim is not None and best.claim.startswith("pbt:2:")
    assert study.load_checkpoint(best.number) == {"member": 2, "step": 2}


def segments_by_member(trials: list[hp.TrialRecord]) -> dict[int, list[hp.TrialRecord]]:
    members: dict[int, list[hp.TrialRecord]] = {}
    for trial in trials:
        members.setdefault(int((trial.claim or "").split(":")[1]), []).append(trial)
    return members


def test_two_processes_never_train_one_member_at_once(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    processes = [start(db, "population", "none", gate=tmp_path) for _ in range(2)]
    open_gate(tmp_path, processes)
    for process in processes:
        finish(process)
    trials = hp.load_study("population", db=db).trials
    assert len(trials) <= 12 and all(t.state is TrialState.COMPLETE for t in trials)
    assert len({t.pid for t in trials}) == 2
    for segments in segments_by_member(trials).values():
        assert segments[-1].budget == 6  # every member trained up to the horizon
        for before, after in itertools.pairwise(segments):
            assert before.finished is not None and after.started is not None
            assert before.finished <= after.started  # one after the other, never overlapping


def test_a_population_resumes_after_kill_9(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    env = {**os.environ, "HPOTRACK_DB": str(db), "PYTHONPATH": str(ROOT)}
    slow = {**env, "HPOTRACK_TEST_STEP_S": "0.1"}  # a segment of 2 steps runs when killed
    worker = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "workloads.py"), "population", "none"],
        env=slow,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the first segments are done, and one has
        time.sleep(0.02)  # just started (it trains on for about 0.2 s): killed inside it
        try:
            with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
                done = conn.execute("SELECT COUNT(*) FROM trials WHERE state = 'complete'")
                started = conn.execute(
                    "SELECT COUNT(*) FROM trials WHERE state = 'running' AND started > ?",
                    (time.time() - 0.05,),
                )
                if done.fetchone()[0] >= 5 and started.fetchone()[0]:
                    break
        except sqlite3.OperationalError:  # not created yet
            continue
    worker.send_signal(signal.SIGKILL)
    worker.communicate()  # waits, and closes its pipe
    resumed = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "workloads.py"), "population", "none"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    trials = hp.load_study("population", db=db).trials
    lost = [t for t in trials if t.state is TrialState.FAILED]
    assert len(lost) == 1 and "worker lost" in (lost[0].error or "")
    assert all(t.origin != "retried" for t in trials)  # PBT re-runs the segment itself
    for segments in segments_by_member(trials).values():
        complete = [t for t in segments if t.state is TrialState.COMPLETE]
        assert complete[-1].budget == 6  # every member trained up to the horizon
    again = [t for t in trials if t.claim == f"{lost[0].claim}#1"]  # the segment, run again
    assert len(again) == 1 and again[0].state is TrialState.COMPLETE


def _delete_the_stopped_trials_checkpoint_rows(db: Path) -> None:
    with open_store(db).write():
        open_store(db).conn.execute(
            "DELETE FROM checkpoints WHERE trial_id IN "
            "(SELECT id FROM trials WHERE state = 'pruned')"
        )


def _delete_the_checkpoint_folder(db: Path) -> None:
    shutil.rmtree(f"{db}.ckpt")  # to free space, say, while the rows stay


@pytest.mark.parametrize(
    ("gone", "warned"),
    [
        (
            _delete_the_stopped_trials_checkpoint_rows,
            (
                "is stored: it starts from scratch (save before",
                "or the files were deleted, or the study was imported",
            ),
        ),
        (_delete_the_checkpoint_folder, ("is gone: it starts from scratch",)),
    ],
)
def test_a_trial_whose_checkpoint_to_continue_is_gone_says_so_once(
    db: Path,
    caplog: pytest.LogCaptureFixture,
    gone: Callable[[Path], None],
    warned: tuple[str, ...],
) -> None:
    """Lineage says a promotion continues its parent's checkpoint; if that checkpoint
    is gone (its row, or its file: deleted by hand), the trial starts from scratch and
    the run says so, once, instead of silently. A deleted file used to fail every
    promotion from a trial stopped before (under pbt, each segment run again too, until
    the run stopped)."""
    loaded: dict[int, object] = {}

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="s", db=db, seed=0,
             budget=hp.Budget(1, 9))  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        loaded[trial.number] = trial.load_checkpoint()
        for step in trial.steps:
            trial.save_checkpoint(step, step=step)
            trial.report(x + 1.0 / step, step=step)
        return x

    train.optimize(n_trials=6)
    gone(db)
    with caplog.at_level("WARNING", logger="hpotrack"):
        study = train.optimize(n_trials=30)
    assert not [t for t in study.trials if t.state is TrialState.FAILED]
    promoted = [t for t in study.trials[6:] if t.origin == "promoted" and t.parents[0].parent < 6]
    assert promoted and all(loaded[t.number] is None for t in promoted)
    warnings = [r.getMessage() for r in caplog.records if "starts from scratch" in r.getMessage()]
    assert len(warnings) == 1 and all(part in warnings[0] for part in warned)


def test_the_best_trials_model_can_be_loaded_after_the_search(db: Path) -> None:
    """``study.load_checkpoint(n, step)``: the state a trial saved (its latest by default),
    or where its line was when it saved nothing by then; one clear error without any.
    ``hpotrack trial`` lists a trial's checkpoints."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="m", db=db, seed=0,
             budget=hp.Budget(1, 9), keep_checkpoints="all")  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        model = trial.load_checkpoint() or {"x": x, "epochs": []}
        for epoch in trial.steps:
            model = {**model, "epochs": [*model["epochs"], epoch]}
            trial.report(x + 1 / epoch, step=epoch)
            if epoch % 2 == 0 or epoch == 9:  # every other epoch, and the last
                trial.save_checkpoint(model, step=epoch)
        return x + 1 / 9

    study = train.optimize(n_trials=20)
    best = study.best
    assert study.load_checkpoint(best.number) == {"x": best.params["x"], "epochs": [*range(1, 10)]}
    assert study.load_checkpoint(best.number, step=5)["epochs"][-1] <= 4
    stopped_at_1 = next(t for t in study.trials if t.state.value == "pruned" and t.trained == 1)
    with pytest.raises(TrialError, match=r"trial \d+ of study 'm' has no checkpoint: .*save_che"):
        study.load_checkpoint(stopped_at_1.number)
    promoted = [t for t in study.trials if t.origin == "promoted" and t.parents[0].step == 3]
    assert promoted
    for trial in promoted:  # nothing of its own by step 3: its parent's state then (at 2)
        assert study.load_checkpoint(trial.number, step=3)["epochs"] == [1, 2]
    shown = CliRunner().invoke(cli, ["--db", str(db), "trial", "m", str(best.number)])
    assert f"study.load_checkpoint({best.number}, step=...)" in shown.output
    assert f"trial-{best.number}-step-9-" in shown.output
    data = json.loads(
        CliRunner()
        .invoke(cli, ["--db", str(db), "trial", "m", str(best.number), "--format", "json"])
        .output
    )
    assert data["checkpoints"][-1]["step"] == 9 and Path(data["checkpoints"][-1]["path"]).exists()


def test_a_trial_budget_beyond_sqlite_integers_finds_checkpoints(db: Path) -> None:
    """An imported trial's budget may be any float (1e300): where the retry of one
    running when exported resumes is looked up with a limit within SQLite's integers."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="big", db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        trial.save_checkpoint(x, step=3)
        return x

    study = train.optimize(n_trials=1)
    for limit, found in ((10**300, 3), (-(10**300), None), (2, None)):
        checkpoint = checkpoints.find(study.store, study.id, 0, limit)
        assert (None if checkpoint is None else checkpoint.step) == found


def assert_nothing_of_study_c_stays(db: Path) -> None:
    """No row of the deleted study "c" (its trial's reports and checkpoints written
    after the delete are not stored for nobody), and no checkpoint file anywhere."""
    with closing(sqlite3.connect(db)) as conn:
        for table in ("metrics", "checkpoints"):
            orphans = f"SELECT COUNT(*) FROM {table} WHERE trial_id NOT IN (SELECT id FROM trials)"
            assert conn.execute(orphans).fetchone()[0] == 0, table
    root = open_store(db).checkpoint_root
    assert [p for p in root.rglob("*") if not p.is_dir()] == []


def test_a_checkpoint_saved_as_its_study_is_deleted_is_not_stored(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial that looked at the database just before another process deleted its
    study wrote its checkpoint anyway: the folder made anew held the file, owned by no
    study (by the study created next under that name, which shares the folder), and a
    row named a trial that no longer exists. It stops with StudyDeleted, leaving
    neither."""
    save = checkpoints.save

    def deleted_first(*args: object, **kwargs: object) -> checkpoints.Checkpoint:
        done = delete_elsewhere(db, "c")
        assert done.returncode == 0, done.stderr
        return save(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(checkpoints, "save", deleted_first)
    with pytest.raises(StudyDeleted, match="study 'c' was deleted from"):
        one_trial_study(db, lambda trial: (trial.report(1.0, 1), trial.save_checkpoint(b"w", 1)))
    assert_nothing_of_study_c_stays(db)


class _DeletesItsStudy:
    """An object whose pickling deletes study "c" in another process: as if that
    happened while a large checkpoint was being written."""

    def __init__(self, db: Path) -> None:
        self.db = db

    def __reduce__(self) -> tuple[type, tuple[()]]:
        done = delete_elsewhere(self.db, "c")
        assert done.returncode == 0, done.stderr
        return (dict, ())


def test_a_checkpoint_being_written_as_its_study_is_deleted_stops_the_run_as_deleted(
    db: Path,
) -> None:
    """The folder moved away under the file being written: the run stopped with
    "cannot save a checkpoint in <folder>: No such file or directory; ... make that a
    writable folder" (and StudyDeleted raised while handling that, by the end of the
    run), for a study that was deleted."""
    with pytest.raises(StudyDeleted, match="study 'c' was deleted from") as raised:
        one_trial_study(db, lambda trial: trial.save_checkpoint(_DeletesItsStudy(db), 1))
    said = "".join(traceback.format_exception(raised.value))
    assert said.count("Traceback") == 1 and "cannot save a checkpoint" not in said, said
    assert_nothing_of_study_c_stays(db)

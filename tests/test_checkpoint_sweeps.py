"""``hpotrack.checkpoint_sweeps``: which checkpoints nothing can load any more (unit
tests of :func:`unneeded`, and runs with ``keep_checkpoints`` "all" and "needed" side by
side), and the files that processes killed mid-save leave, removed by the run that finds
them."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

import hpotrack as hp
from hpotrack import checkpoint_sweeps, checkpoints
from hpotrack.provenance import hostname
from hpotrack.records import Edge, TrialRecord, TrialState
from hpotrack.store import close_stores, open_store
from tests.test_processes import ROOT, finish
from tests.test_recovery import dead_pid, insert_running_trial


def unneeded(
    trials: list[TrialRecord], saved: list[tuple[int, int]], **options: object
) -> list[checkpoints.Checkpoint]:
    """:func:`checkpoint_sweeps.unneeded` over checkpoints ``saved`` as (trial number, step),
    from a stand-in for the store (trial ids are the numbers; every trial ran in a run
    with ``keep_checkpoints="needed"``)."""

    class Rows:
        def execute(self, *_: object) -> Rows:
            return self

        def fetchall(self) -> list[tuple[object, ...]]:
            return [(n, s, f"{n}-{s}", 1, "h", n, 1) for n, s in saved]

    class FakeStore:
        conn = Rows()

    return checkpoint_sweeps.unneeded(FakeStore(), 1, trials, **options)  # type: ignore[arg-type]


def test_only_checkpoints_something_can_still_load_are_kept() -> None:
    """Unit: trial 1 continued 0 and finished; 2 exploited 1 and runs; 3 is running."""
    trials = [
        TrialRecord(0, TrialState.COMPLETE, {}),
        TrialRecord(1, TrialState.COMPLETE, {}, parents=(Edge(0, "continued", step=2),)),
        TrialRecord(2, TrialState.RUNNING, {}, parents=(Edge(1, "exploited", step=4),)),
        TrialRecord(3, TrialState.RUNNING, {}),
    ]
    saved = [(0, 1), (0, 2), (1, 3), (1, 4), (3, 1)]

    garbage = unneeded(trials, saved)
    assert sorted((c.trial_id, c.step) for c in garbage) == [(0, 1), (0, 2), (1, 3)]
    # 4 stopped at its check at step 3, having saved at 1, 2 and 4 (it reported at 4):
    # a promotion would load the one at 2, so that stays with its latest
    trials.append(TrialRecord(4, TrialState.PRUNED, {}, checks={1: 0.5, 3: 0.4}))
    saved += [(4, 1), (4, 2), (4, 4)]
    garbage = unneeded(trials, saved)
    assert sorted((c.trial_id, c.step) for c in garbage) == [(0, 1), (0, 2), (1, 3), (4, 1)]
    # 5 completed after its checks: nothing resumes from its check (only its latest
    # stays, the model it ended with); 6 was lost: its retry starts where it started
    trials.append(TrialRecord(5, TrialState.COMPLETE, {}, checks={1: 0.5, 3: 0.4}))
    trials.append(TrialRecord(6, TrialState.FAILED, {}, error="worker lost"))
    saved += [(5, 3), (5, 9), (6, 1)]
    garbage = unneeded(trials, saved)
    assert sorted((c.trial_id, c.step) for c in garbage) == [
        (0, 1), (0, 2), (1, 3), (4, 1), (5, 3), (6, 1),
    ]  # fmt: skip
    # the method narrows what it may start from: 4, stopped for good (a decided
    # synchronous run), loses its checkpoint; 0 went on, and listing it keeps nothing
    del trials[4:], saved[-6:]
    trials.append(TrialRecord(4, TrialState.PRUNED, {}, checks={1: 0.5}))
    saved.append((4, 1))
    assert (4, 1) not in [(c.trial_id, c.step) for c in unneeded(trials, saved)]
    narrowed = unneeded(trials, saved, resumable=[0, 1, 2, 3])
    assert sorted((c.trial_id, c.step) for c in narrowed) == [(0, 1), (0, 2), (1, 3), (4, 1)]


def test_a_failed_child_leaves_its_parents_latest_checkpoint() -> None:
    """Unit: 1 continued 0 at step 2 and failed (interrupted, or a bug): the line did not
    go on, and what 1 started from is what PBT's next try of the segment starts from."""
    trials = [
        TrialRecord(0, TrialState.COMPLETE, {}),
        TrialRecord(1, TrialState.FAILED, {}, parents=(Edge(0, "continued", step=2),)),
    ]
    garbage = unneeded(trials, [(0, 1), (0, 2), (1, 3)])
    assert sorted((c.trial_id, c.step) for c in garbage) == [(0, 1), (1, 3)]


def test_a_queued_retry_keeps_the_checkpoint_its_line_resumes_from() -> None:
    """Unit: 1 was promoted from 0 at step 3 and lost after saving at 5 and 7; its retry
    2 resumes at 7 and was lost before saving anything; retry 3, queued, resumes 2's line
    at 7, which is 1's checkpoint there. That one stays (and 0's at 3, which 2's promoted
    edge no longer needs, goes with 1's older one)."""
    promoted = Edge(0, "promoted", step=3)
    trials = [
        TrialRecord(0, TrialState.PRUNED, {}, checks={1: 0.5, 3: 0.4}),
        TrialRecord(1, TrialState.FAILED, {}, parents=(promoted,), error="worker lost"),
        TrialRecord(2, TrialState.FAILED, {}, parents=(promoted, Edge(1, "retried", step=7))),
        TrialRecord(3, TrialState.QUEUED, {}, parents=(promoted, Edge(2, "retried", step=7))),
    ]
    saved = {0: [1, 3], 1: [5, 7]}

    def latest(number: int, at_most: int | None) -> tuple[int, int] | None:
        steps = [s for s in saved.get(number, []) if at_most is None or s <= at_most]
        return (number, steps[-1]) if steps else None

    assert checkpoints.source_edge(trials[3]) == Edge(2, "retried", step=7)
    assert checkpoints.line_state(trials, 2, 7, latest) == (1, 7)
    assert checkpoints.line_state(trials, 2, 4, latest) is None  # not back
    assert checkpoints.line_state(trials, 0, 3, latest) == (0, 3)
    # 1 saved nothing by step 4: its line was then where it started, 0's checkpoint at 3
    assert checkpoints.line_state(trials, 1, 4, latest) == (0, 3)

    garbage = unneeded(trials, [(n, s) for n, steps in saved.items() for s in steps])
    assert sorted((c.trial_id, c.step) for c in garbage) == [(0, 1), (0, 3), (1, 5)]


def test_what_a_retry_or_a_promotion_may_resume_is_kept() -> None:
    """Unit: running trial 0 (budget 9) saved at 1..9: a retry would resume below the
    budget, at 8, or at 7 if 8 is a check that may have stopped it; so 7, 8 and 9 stay.
    Trial 2, a retry resuming 1's line at 4, was stopped at 6 before it saved anything:
    a promotion of it starts from 1's checkpoint at 4, which stays."""
    trials = [
        TrialRecord(0, TrialState.RUNNING, {}, budget=9),
        TrialRecord(1, TrialState.FAILED, {}, error="worker lost"),
        TrialRecord(
            2, TrialState.PRUNED, {}, checks={2: 0.5, 6: 0.4}, parents=(Edge(1, "retried", step=4),)
        ),
    ]
    saved = {0: list(range(1, 10)), 1: [2, 4]}

    garbage = unneeded(trials, [(n, s) for n, steps in saved.items() for s in steps])
    assert sorted((c.trial_id, c.step) for c in garbage) == [(0, s) for s in range(1, 7)] + [(1, 2)]


def saving_every_step(db: Path, keep: str) -> hp.TunedFunction:
    """A study whose trials save a checkpoint at steps 1, 2 and 3, run with ``keep``."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="k", db=db, seed=0,
             keep_checkpoints=keep)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        for step in (1, 2, 3):
            trial.save_checkpoint({"x": x, "step": step}, step=step)
        return x

    return train


def stored_steps(db: Path) -> dict[int, list[int]]:
    """Each trial's checkpoint steps with a row, by trial number."""
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            "SELECT t.number, c.step FROM checkpoints c JOIN trials t ON t.id = c.trial_id "
            "ORDER BY t.number, c.step"
        ).fetchall()
    steps: dict[int, list[int]] = {}
    for number, step in rows:
        steps.setdefault(number, []).append(step)
    return steps


def test_a_needed_run_leaves_the_checkpoints_an_earlier_all_run_kept(db: Path) -> None:
    """keep_checkpoints was not stored: a later run with "needed" collected for the whole
    study and deleted every checkpoint but the latest of the trials a run with "all" had
    kept (``study.load_checkpoint(0, step=1)`` then failed). Only its own trials' go."""
    saving_every_step(db, "all").optimize(n_trials=3)
    saving_every_step(db, "needed").optimize(n_trials=5)
    assert stored_steps(db) == {0: [1, 2, 3], 1: [1, 2, 3], 2: [1, 2, 3], 3: [3], 4: [3]}
    study = hp.load_study("k", db=db)
    assert study.load_checkpoint(0, step=1) == {"x": study.trials[0].params["x"], "step": 1}
    folder = open_store(db).checkpoint_dir("k")
    assert len(list(folder.iterdir())) == 3 * 3 + 2


_KEEP_SCRIPT = """
import sys, time
from pathlib import Path
import hpotrack as hp

keep, here = sys.argv[1], Path(sys.argv[2])


def wait_for(name):
    deadline = time.monotonic() + 60
    while not (here / name).exists():
        if time.monotonic() > deadline:
            sys.exit(f"{name} never came")
        time.sleep(0.01)


@hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="k", db=here / "h.db", seed=0,
         keep_checkpoints=keep)
def train(x, trial):
    for step in (1, 2, 3, 4):
        trial.save_checkpoint({"x": x, "step": step}, step=step)
    if keep == "all":  # the other process runs and collects while this trial runs
        (here / "all-saved").touch()
        wait_for("needed-done")
    return x


if __name__ == "__main__":
    if keep == "needed":
        wait_for("all-saved")
    train.optimize(n_trials=4)
    (here / f"{keep}-done").touch()
"""


def test_a_concurrent_needed_process_leaves_what_an_all_process_keeps(tmp_path: Path) -> None:
    """Two processes on one study, one with keep_checkpoints="all", one with "needed":
    the "needed" one's collections deleted the other's checkpoints below its trial's
    latest two while that trial ran."""
    script = tmp_path / "train.py"
    script.write_text(_KEEP_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = [sys.executable, str(script)]
    processes = [
        subprocess.Popen([*run, keep, str(tmp_path)], env=env, text=True, stderr=subprocess.PIPE)
        for keep in ("all", "needed")
    ]
    for process in processes:
        finish(process)
    db = tmp_path / "h.db"
    study = hp.load_study("k", db=db)
    assert [t.pid for t in study.trials] == [processes[0].pid] + [processes[1].pid] * 3
    assert stored_steps(db) == {0: [1, 2, 3, 4], 1: [4], 2: [4], 3: [4]}
    assert study.load_checkpoint(0, step=1) == {"x": study.trials[0].params["x"], "step": 1}


def test_files_a_killed_process_left_are_removed_when_the_study_runs_again(db: Path) -> None:
    """A writer killed mid-write leaves a temporary file; one killed between its file and
    its row, or a collection killed between rows and files, a file nothing names. The
    next run deletes them, but not a file a running trial may still be writing."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="c", db=db, seed=0, keep_checkpoints="all")
    def f(x: float, trial: hp.Trial) -> float:
        trial.save_checkpoint(b"model", step=1)
        return x

    f.optimize(n_trials=2)
    folder = open_store(db).checkpoint_dir("c")
    kept = {p.name for p in folder.iterdir()}
    assert len(kept) == 2
    leftovers = [
        ".trial-0-step-3-0123456789ab.pkl.4242.deadbeef.tmp",  # killed mid-write
        "trial-1-step-2-0123456789ab.pkl",  # killed before its row
    ]
    for name in leftovers:
        (folder / name).write_bytes(b"partial")
    (folder / "notes.txt").write_text("not a checkpoint: left alone")
    f.optimize(n_trials=3)
    assert {p.name for p in folder.iterdir()} == kept | {"notes.txt"} | {
        p.name for p in folder.glob("trial-2-*")
    }
    store = open_store(db)
    with store.write():  # trial 3 runs (in another process, say): its files stay
        store.conn.execute(
            "INSERT INTO trials (study_id, number, state, params, origin, seq, started) "
            "SELECT id, 3, 'running', '{}', 'sampled', 999, 0 FROM studies"
        )
    (folder / "trial-3-step-1-0123456789ab.pkl").write_bytes(b"being written")
    (folder / leftovers[1]).write_bytes(b"partial")
    close_stores()
    assert hp.load_study("c", db=db).remove_stray_checkpoint_files() == 1
    assert (folder / "trial-3-step-1-0123456789ab.pkl").exists()
    assert not (folder / leftovers[1]).exists()


@pytest.mark.parametrize(
    "temp_name",
    [
        ".trial-1-step-1.pkl.4242.deadbeef.tmp",  # named before its content is hashed
        ".trial-1-step-1-0123456789ab.pkl.4242.deadbeef.tmp",  # as older versions named it
    ],
)
def test_the_temporary_file_of_a_trial_killed_mid_save_goes_in_the_run_that_finds_it_lost(
    db: Path, temp_name: str
) -> None:
    """The run that marks the killed trial lost (and retries it) deletes the temporary
    file its save left, as large as the model, not only the run after that one."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="c", db=db, seed=0)
    def f(x: float, trial: hp.Trial) -> float:
        trial.save_checkpoint(b"model", step=1)
        return x

    f.optimize(n_trials=1)
    # killed while saving: its process is gone, its trial running
    insert_running_trial(db, "c", 1, host=hostname(), pid=dead_pid(), heartbeat=time.time())
    store = open_store(db)
    temp = store.checkpoint_dir("c") / temp_name
    temp.write_bytes(b"half a model")
    close_stores()
    trials = f.optimize(n_trials=2).trials
    assert trials[1].state is TrialState.FAILED and "worker lost" in (trials[1].error or "")
    assert trials[2].origin == "retried"
    assert not temp.exists()


def files_no_row_names(db: Path, study: str) -> list[str]:
    """The files in ``study``'s checkpoint folder that no checkpoint row names."""
    store = open_store(db)
    row = store.find_study(study)
    assert row is not None
    named = {
        Path(c.path).name
        for number in range(len(hp.load_study(study, db=db).trials))
        for c in checkpoints.of_trial(store, row.id, number)
    }
    return sorted(p.name for p in store.checkpoint_dir(study).iterdir() if p.name not in named)


@pytest.mark.parametrize(
    ("workload", "n_trials", "stored", "complete"),
    [
        ("killed_mid_save", 30, 31, 30),  # another worker finds it lost, runs its retry
        ("killed_mid_save_last", 4, 4, 3),  # no retry: the parent finds it lost, at the end
    ],
)
def test_a_worker_killed_mid_save_leaves_no_file_once_the_others_finish_the_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    workload: str,
    n_trials: int,
    stored: int,
    complete: int,
) -> None:
    """kill -9 of a worker of n_jobs=2 in the middle of a save: the run that marks its
    trial lost and finishes without it deletes the half-written temporary file (it stayed,
    as large as the model, until the study ran again)."""
    db = tmp_path / "h.db"
    monkeypatch.setenv("HPOTRACK_DB", str(db))
    monkeypatch.syspath_prepend(str(ROOT))
    from tests import workloads

    tuned = getattr(workloads, workload)
    trials = tuned.optimize(n_trials=n_trials, n_jobs=2, progress=False).trials
    assert Path(f"{db}.killed").exists()
    assert len(trials) == stored
    assert sum(t.state is TrialState.COMPLETE for t in trials) == complete
    assert trials[3].state is TrialState.FAILED and "worker lost" in (trials[3].error or "")
    assert files_no_row_names(db, tuned.study.name) == []


def test_the_temporary_file_of_a_trial_found_lost_mid_run_goes_in_that_run(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process killed mid-save while this one runs: this run finds its trial lost
    at an ask, not at its start, and deletes the temporary file its save left before it
    ends (it stayed until the study ran again)."""
    monkeypatch.setattr("hpotrack.study.RECOVERY_EVERY_S", 0.0)  # every ask looks
    temp = open_store(db).checkpoint_dir("c") / ".trial-1-step-1.pkl.4242.deadbeef.tmp"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="c", db=db, seed=0)
    def f(x: float, trial: hp.Trial) -> float:
        trial.save_checkpoint(b"model", step=1)
        if trial.number == 0:  # meanwhile, another process claims trial 1 and is killed
            insert_running_trial(db, "c", 1, host=hostname(), pid=dead_pid(), heartbeat=0.0)
            temp.write_bytes(b"half a model")
        return x

    trials = f.optimize(n_trials=3).trials
    assert trials[1].state is TrialState.FAILED and "worker lost" in (trials[1].error or "")
    assert not temp.exists()

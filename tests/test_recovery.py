"""Crash recovery: trials whose worker died are marked lost and retried, on any ask."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

import hpotrack as hp
from hpotrack import recovery
from hpotrack.cli import cli
from hpotrack.provenance import hostname
from hpotrack.records import Edge, TrialState
from hpotrack.recovery import GRACE_S, lost_reason, pid_alive
from hpotrack.store import RunningTrial, close_stores, open_store

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ROOT / "tests" / "workloads.py"


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_dead_process_on_this_host_is_lost() -> None:
    trial = RunningTrial(1, 0, hostname(), dead_pid(), time.time())
    assert not pid_alive(trial.pid or 0)
    assert "process" in (lost_reason(trial, time.time()) or "")


def test_a_live_process_with_a_fresh_heartbeat_is_not_lost() -> None:
    assert (
        lost_reason(RunningTrial(1, 0, hostname(), os.getppid(), time.time()), time.time()) is None
    )
    assert lost_reason(RunningTrial(1, 0, hostname(), os.getpid(), 0.0), time.time()) is None


def test_a_silent_process_on_this_host_is_lost_only_when_its_pid_was_reused() -> None:
    """A live process that claimed the trial (it started before the trial) is not lost,
    however old its heartbeat (stopped with Ctrl-Z, or in a C call holding the GIL); a
    live pid whose process started after the trial belongs to someone else."""
    now = time.time()
    parent = os.getppid()
    stale = now - 10 * GRACE_S
    assert lost_reason(RunningTrial(1, 0, hostname(), parent, stale, started=now - 1), now) is None
    reused = RunningTrial(1, 0, hostname(), parent, stale, started=now - 365 * 86400)
    assert "its pid now belongs to a process started later" in (lost_reason(reused, now) or "")


def test_a_live_worker_is_not_lost_when_the_wall_clock_is_set_forward(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The wall clock set forward an hour after a trial was claimed (NTP stepping it, a VM
    or WSL resyncing it) moves /proc/stat's boot time with it, so a process started after
    the jump reads the claimant's start an hour after the claim: every live worker's
    trial was failed as "its pid now belongs to a process started later" and run twice.
    A heartbeat written since the claimant started shows it is the same process; a reused
    pid's process started after the dead claimant's last beat. (Simulated: setting the
    clock of this machine would disturb everything else on it.)"""
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        deadline = time.monotonic() + 30
        while recovery.process_start(worker.pid) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        began = recovery.process_start(worker.pid)
        assert began is not None
        # a dead claimant's pid taken by the worker: it beat last before the worker started
        now = time.time()
        reused = RunningTrial(1, 0, hostname(), worker.pid, began - 10, started=began - 100)
        assert "started later" in (lost_reason(reused, now) or "")
        claimed = now + 1  # the worker claims a trial, then the clock jumps an hour
        real_boot = recovery._boot_time()
        assert real_boot is not None
        monkeypatch.setattr(recovery, "_boot_time", lambda: real_boot + 3600)
        now = claimed + 3600 + 10
        beaten = RunningTrial(1, 0, hostname(), worker.pid, now - 2, started=claimed)
        assert lost_reason(beaten, now) is None
    finally:
        worker.kill()
        worker.wait()


def test_another_host_is_lost_only_when_its_heartbeat_is_stale() -> None:
    now = time.time()
    assert lost_reason(RunningTrial(1, 0, "elsewhere", 1, now - GRACE_S / 2), now) is None
    assert "no heartbeat" in (
        lost_reason(RunningTrial(1, 0, "elsewhere", 1, now - 2 * GRACE_S), now) or ""
    )


def test_a_zombie_counts_as_dead() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while Path(f"/proc/{process.pid}/stat").exists() and time.monotonic() < deadline:
        if Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            break
        time.sleep(0.01)
    try:
        assert not pid_alive(process.pid)
    finally:
        process.wait()


def _study_with_a_running_trial(
    db: Path, *, retries: int, host: str, pid: int, heartbeat: float
) -> hp.TunedFunction:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0, retries=retries)
    def train(x: float) -> float:
        return x

    study = train.optimize(n_trials=2)
    insert_running_trial(db, "s", 2, host=host, pid=pid, heartbeat=heartbeat)
    assert study.trials[2].state is TrialState.RUNNING
    return train


def insert_running_trial(
    db: Path, study: str, number: int, *, host: str, pid: int, heartbeat: float
) -> None:
    """Trial ``number`` of ``study`` (x=0.5) stored running in process ``pid`` on ``host``,
    its heartbeat at ``heartbeat``: as a worker left it, alive or not."""
    store = open_store(db)
    row = store.find_study(study)
    assert row is not None
    with store.write():
        trial_id = store.insert_trial(
            row.id,
            number=number,
            state=TrialState.RUNNING,
            params={"x": 0.5},
            origin="sampled",
            host=host,
            pid=pid,
        ).id
        store.conn.execute("UPDATE trials SET heartbeat = ? WHERE id = ?", (heartbeat, trial_id))


def test_the_next_ask_fails_a_lost_trial_and_retries_it(tmp_path: Path) -> None:
    train = _study_with_a_running_trial(
        tmp_path / "h.db", retries=1, host=hostname(), pid=dead_pid(), heartbeat=time.time()
    )
    trials = train.optimize(n_trials=4).trials
    lost, retry = trials[2], trials[3]
    assert lost.state is TrialState.FAILED and "worker lost" in (lost.error or "")
    assert retry.origin == "retried" and retry.params == lost.params
    assert retry.parents[0].parent == 2 and retry.parents[0].kind == "retried"
    assert retry.state is TrialState.COMPLETE
    # The retry replaces the lost trial in the count: 4 counted, 5 rows.
    assert len(trials) == 5 and all(t.state is TrialState.COMPLETE for t in trials if t.number != 2)


def test_a_stale_heartbeat_from_another_host_is_recovered(tmp_path: Path) -> None:
    train = _study_with_a_running_trial(
        tmp_path / "h.db", retries=1, host="elsewhere", pid=1, heartbeat=time.time() - 10 * GRACE_S
    )
    trials = train.optimize(n_trials=3).trials
    assert "no heartbeat" in (trials[2].error or "")
    assert trials[3].origin == "retried"


def test_a_lost_trial_ends_when_it_was_last_seen_alive_and_says_when_it_was_found(
    tmp_path: Path,
) -> None:
    """It ends at its last heartbeat, not the moment a later run noticed the loss: a
    study resumed the next day would otherwise show a day-long trial. That read as when
    the study knew it had ended: its error now says the loss was found an hour later.
    The retry's edge keeps the reason alone."""
    seen = time.time() - 3600.0
    db = tmp_path / "h.db"
    train = _study_with_a_running_trial(
        db, retries=1, host=hostname(), pid=dead_pid(), heartbeat=seen
    )
    with open_store(db).write():
        open_store(db).conn.execute("UPDATE trials SET started = ? WHERE number = 2", (seen - 9,))
    lost, retry = train.optimize(n_trials=3).trials[2:]
    reason, _, found = (lost.error or "").partition("; ")
    assert reason.startswith("worker lost: process") and reason.endswith("is gone")
    after = re.fullmatch(
        r"found lost (\d+) s after it was last seen alive \(its finished time\)", found
    )
    assert after is not None, lost.error
    assert int(after[1]) >= 3600 and lost.finished == seen
    assert retry.parents[-1].detail == reason


def test_retries_zero_marks_lost_without_retrying(tmp_path: Path) -> None:
    train = _study_with_a_running_trial(
        tmp_path / "h.db", retries=0, host=hostname(), pid=dead_pid(), heartbeat=time.time()
    )
    trials = train.optimize(n_trials=4).trials
    assert trials[2].state is TrialState.FAILED
    assert [t.origin for t in trials] == ["sampled"] * 4


def test_a_retry_that_is_lost_again_is_not_retried_beyond_the_limit(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    train = _study_with_a_running_trial(
        db, retries=1, host=hostname(), pid=dead_pid(), heartbeat=time.time()
    )
    store = open_store(db)
    row = store.find_study("s")
    assert row is not None
    with store.write():  # trial 3 is the retry of 2, and its worker dies too
        retry_id = store.insert_trial(
            row.id,
            number=3,
            state=TrialState.RUNNING,
            params={"x": 0.5},
            origin="retried",
            parents=(Edge(2, "retried"),),
            host=hostname(),
            pid=dead_pid(),
        )
        store.finish_trial(
            row.id,
            store.running(row.id, [2])[0].id,
            state=TrialState.FAILED,
            value=None,
            metrics={},
            error="worker lost: test",
        )
    assert retry_id
    trials = train.optimize(n_trials=4).trials
    assert trials[3].state is TrialState.FAILED and "worker lost" in (trials[3].error or "")
    assert [t.origin for t in trials[4:]] == ["sampled"]  # no third attempt


@pytest.fixture
def quick_flusher(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flusher of its own for the test, writing every 0.05 s."""
    from hpotrack import recovery

    monkeypatch.setattr(recovery, "_beats", {})
    monkeypatch.setattr(recovery, "FLUSH_S", 0.05)


def test_a_heartbeat_is_refreshed_while_a_long_trial_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quick_flusher: None
) -> None:
    from hpotrack import recovery

    monkeypatch.setattr(recovery, "INTERVAL_S", 0.05)
    db = tmp_path / "h.db"
    seen: list[float] = []

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float) -> float:
        query = "SELECT heartbeat FROM trials WHERE state = 'running'"
        with closing(sqlite3.connect(db)) as conn:
            seen.append(conn.execute(query).fetchone()[0])
            deadline = time.monotonic() + 30  # until the next beat (0.05 s), however loaded
            while time.monotonic() < deadline and seen[-1] == seen[0]:
                time.sleep(0.01)
                seen.append(conn.execute(query).fetchone()[0])
        return x

    train.optimize(n_trials=1)
    assert seen[-1] > seen[0]


def _wait_for_running(db: Path, number: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
                row = conn.execute(
                    "SELECT pid FROM trials WHERE number = ? AND state = 'running'", (number,)
                ).fetchone()
        except sqlite3.OperationalError:  # the worker has not created the file or schema yet
            row = None
        if row:
            return int(row[0])
        time.sleep(0.05)
    raise AssertionError(f"trial {number} never started")


def _kill_9_in_trial_2(db: Path, workload: str, reports: int = 0) -> dict[str, str]:
    """Run ``workload`` (6 trials) in a worker process on ``db``, and ``kill -9`` it while
    its trial 2 hangs, once that trial's first ``reports`` reports reached the file (the
    flusher writes them about once a second). Returns the worker's environment."""
    env = {**os.environ, "HPOTRACK_DB": str(db), "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen(
        [sys.executable, str(WORKLOADS), workload, "6"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait_for_running(db, 2) == worker.pid
        query = "SELECT COUNT(*) FROM metrics JOIN trials ON trials.id = trial_id WHERE number = 2"
        deadline = time.monotonic() + 30
        while reports and time.monotonic() < deadline:
            with closing(sqlite3.connect(db)) as conn:
                if conn.execute(query).fetchone()[0] >= reports:
                    break
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    return env


@pytest.mark.parametrize("through", ["executable", "runner"])
def test_kill_9_in_the_middle_of_a_trial_then_resume(tmp_path: Path, through: str) -> None:
    db = tmp_path / "h.db"
    env = _kill_9_in_trial_2(db, "sleepy")
    assert hp.load_study("sleepy", db=db).trials[2].state is TrialState.RUNNING

    if through == "executable":
        executable = shutil.which("hpotrack")
        if executable is None:
            pytest.skip("the hpotrack entry point is not installed (pip install -e .)")
        result = subprocess.run(
            [executable, "--db", str(db), "resume", "sleepy"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        output = result.stdout
    else:
        from click.testing import CliRunner

        from hpotrack.cli import cli

        invoked = CliRunner().invoke(
            cli, ["--db", str(db), "resume", "sleepy"], env={"PYTHONPATH": str(ROOT)}
        )
        assert invoked.exit_code == 0, invoked.output
        output = invoked.output
    assert "7 trials (6 complete, 1 failed, 1 of them replaced by a retry)" in output

    trials = hp.load_study("sleepy", db=db).trials
    assert trials[2].state is TrialState.FAILED and "worker lost" in (trials[2].error or "")
    retry = trials[3]
    assert retry.origin == "retried" and retry.parents[0].parent == 2
    assert retry.params == trials[2].params and retry.state is TrialState.COMPLETE
    assert sum(t.state is TrialState.COMPLETE for t in trials) == 6


def test_a_trial_lost_to_kill_9_counts_the_epochs_it_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its worker cannot say how far it trained, so recovery counts the epochs of the
    reports it stored, and max_budget includes them."""
    db = tmp_path / "h.db"
    _kill_9_in_trial_2(db, "sleepy-epochs", reports=4)
    monkeypatch.syspath_prepend(str(ROOT))
    from tests import workloads

    study = workloads.sleepy_epochs.run_study(db=db, n_trials=6, max_budget=1000)
    trials = study.trials
    assert trials[2].state is TrialState.FAILED and "worker lost" in (trials[2].error or "")
    assert trials[2].trained == 4  # epochs 1..4, reported before the kill
    assert trials[3].origin == "retried" and trials[3].trained == 9
    assert study.refresh().trained == 4 + 9 * sum(t.state is TrialState.COMPLETE for t in trials)


def test_reports_reach_the_database_while_the_trial_runs(
    tmp_path: Path, quick_flusher: None
) -> None:
    """Buffered reports are written by the background flusher, not only at the end."""
    db = tmp_path / "h.db"
    seen: list[int] = []

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        for step in range(3):
            trial.report(x + step, step=step)
        deadline = time.monotonic() + 10
        with closing(sqlite3.connect(db)) as conn:
            while time.monotonic() < deadline:
                count = conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
                if count == 3:
                    break
                time.sleep(0.01)
        seen.append(count)
        trial.report(x + 3, step=3)
        return x

    study = train.optimize(n_trials=1)
    assert seen == [3]
    assert [step for step, _ in study.curve(0)["value"]] == [0, 1, 2, 3]


def _wait_for_metrics(db: Path, count: int) -> int:
    """How many metrics rows ``db`` holds once it holds ``count`` (or after 5 s)."""
    deadline = time.monotonic() + 5
    with closing(sqlite3.connect(db)) as conn:
        while (found := conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]) < count:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
    return int(found)


def test_reports_reach_a_database_made_anew_where_a_deleted_one_was(
    tmp_path: Path, quick_flusher: None
) -> None:
    """A notebook deletes its database to start afresh and runs the study again at once:
    the background flusher writes the new run's reports into the new file, not into the
    deleted one it still had open (where they were lost)."""
    db = tmp_path / "h.db"
    seen: list[int] = []

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        trial.report(x, step=1)  # written by the flusher only: no report comes later
        seen.append(_wait_for_metrics(db, 1))
        return x

    train.optimize(n_trials=1)
    for end in ("", "-wal", "-shm"):
        Path(f"{db}{end}").unlink()
    study = train.optimize(n_trials=1)
    assert seen == [1, 1]
    assert [step for step, _ in study.curve(0)["value"]] == [1]


def test_the_flusher_ends_and_closes_its_files_once_no_trial_runs(
    tmp_path: Path, quick_flusher: None
) -> None:
    """A process that ran studies in many database files (a notebook, a sweep over data
    sets) keeps no thread or open file for each once their trials are done: the flusher
    of a file ends at its first round without a running trial."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to list open files")
    db = tmp_path / "h.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        trial.report(x, step=1)
        _wait_for_metrics(db, 1)  # the flusher opened its connection and wrote
        return x

    train.optimize(n_trials=1)
    close_stores()  # the run's own connection

    def open_files() -> list[str]:
        names = []
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # the listing's own fd is gone
                names.append(os.readlink(f"/proc/self/fd/{fd}"))
        return [name for name in names if name.startswith(str(db))]

    deadline = time.monotonic() + 5
    while open_files() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert open_files() == []


def test_a_lost_promoted_trial_is_retried_from_its_promotion(tmp_path: Path) -> None:
    """The retry keeps the ``promoted`` edge (so it resumes past the parent's rung and
    from its checkpoint) and the rung it started at, not the rung it had reached."""
    db = tmp_path / "h.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="s", db=db, seed=0,
             budget=hp.Budget(1, 9))  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        for epoch in trial.steps:
            trial.report(x + 1 / epoch, step=epoch)
        return x + 1 / 9

    trials = train.optimize(n_trials=6).trials
    promoted = {edge.parent for t in trials for edge in t.parents}
    parent = next(t for t in trials if t.rung == 0 and t.number not in promoted)
    assert parent.state is TrialState.PRUNED
    store = open_store(db)
    row = store.find_study("s")
    assert row is not None
    with store.write():  # trial 6: promoted from the parent (stopped at rung 0), reached rung 1
        store.insert_trial(row.id, number=6, state=TrialState.RUNNING, params=parent.params,
                           origin="promoted", parents=(hp.Edge(parent.number, "promoted", step=1),),
                           claim=f"promote:{parent.number}", rung=1, host=hostname(),
                           pid=dead_pid())  # fmt: skip
    trials = train.optimize(n_trials=7).trials
    retry = next(t for t in trials if t.origin == "retried")
    edges = [(e.parent, e.kind) for e in retry.parents]
    assert edges == [(parent.number, "promoted"), (6, "retried")]
    assert min(retry.checks, default=3) >= 3  # checked only above the parent's rung (1)


# -- a retry resumes its lost attempt's own checkpoint ---------------------------------------


def epochs_study(db: Path, interrupt_at: int | None, **options: object) -> hp.TunedFunction:
    """Random search over budget 1..8 that reports, then saves, every epoch; trial 1 is
    interrupted (KeyboardInterrupt, as Ctrl-C) once, after its save at ``interrupt_at``."""
    interrupted: list[int] = []

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="e", db=db, seed=0,
             budget=hp.Budget(1, 8), **options)  # type: ignore[arg-type]  # fmt: skip
    def train(x: float, trial: hp.Trial) -> dict[str, float]:
        epochs = trial.load_checkpoint() or 0
        for step in trial.steps:
            epochs += 1
            trial.report(x + 1 / step, step=step)
            trial.save_checkpoint(epochs, step=step)
            if trial.number == 1 and step == interrupt_at and not interrupted:
                interrupted.append(step)
                raise KeyboardInterrupt
        return {"value": x, "epochs": epochs}

    return train


def test_ctrl_c_is_retried_from_the_trials_checkpoint_even_with_retries_0(db: Path) -> None:
    """``retries`` counts lost workers: an interrupted trial is queued again anyway, and
    resumes where it saved (the model there has 5 epochs; the retry trains 6..8)."""
    train = epochs_study(db, interrupt_at=5, retries=0)
    with pytest.raises(KeyboardInterrupt):
        train.optimize(n_trials=3)
    study = train.optimize()
    interrupted, retry = study.trials[1], study.trials[2]
    assert interrupted.state is TrialState.FAILED and interrupted.trained == 5
    assert retry.origin == "retried" and retry.parents == (
        Edge(1, "retried", step=5, detail="interrupted (KeyboardInterrupt)"),
    )
    assert retry.metrics["epochs"] == 8 and retry.trained == 3
    assert [s for s, _ in study.curve(2)["value"]] == [6, 7, 8]
    assert len(study.trials) == 4 and all(t.state is TrialState.COMPLETE for t in study.trials[2:])


def test_an_interrupted_manual_call_is_not_run_again_by_optimize(db: Path) -> None:
    """A direct call is the user's own run: Ctrl-C ends it; optimize does not take it
    over as one of its trials (where it could be pruned and would count)."""
    train = epochs_study(db, interrupt_at=None)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="e", db=db, seed=0,
             budget=hp.Budget(1, 8))  # fmt: skip
    def manual(x: float, trial: hp.Trial) -> float:
        trial.save_checkpoint(1, step=1)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        manual(x=0.5)
    study = train.optimize(n_trials=3)
    assert [t.origin for t in study.trials] == ["manual", "sampled", "sampled"]  # no retry


KILLED_AFTER_SAVE = """
import os, signal, sys
import hpotrack as hp

@hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="k", db=sys.argv[1], seed=0,
         budget=hp.Budget(1, 8))
def train(x, trial):
    epochs = trial.load_checkpoint() or 0
    for step in trial.steps:
        epochs += 1
        if sys.argv[2] == "report-then-save":
            trial.report(x + 1 / step, step=step)
        trial.save_checkpoint(epochs, step=step)
        if sys.argv[2] == "save-then-report":
            trial.report(x + 1 / step, step=step)
        if step == 6 and not os.path.exists(sys.argv[1] + ".killed"):
            open(sys.argv[1] + ".killed", "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
    return {"value": x, "epochs": epochs}

if __name__ == "__main__":
    train.optimize(n_trials=1)
"""


@pytest.mark.parametrize("order", ["report-then-save", "save-then-report"])
def test_a_trial_killed_after_a_save_lost_none_of_its_reports(tmp_path: Path, order: str) -> None:
    """Reports are buffered for about a second, but a checkpoint stores those before it
    with it, and a report of a step whose checkpoint is stored is written at once: the
    lost trial's curve and ``trained`` reach its checkpoint, where the retry goes on.
    (Saved, then reported, the report of step 6 was lost: the retry resumed at 6 with
    the step missing from the curve, or, since, at 5, training step 6 again.)"""
    script, db = tmp_path / "k.py", tmp_path / "h.db"
    script.write_text(KILLED_AFTER_SAVE)
    run = [sys.executable, str(script), str(db), order]
    killed = subprocess.run(run, capture_output=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    subprocess.run(run, check=True, capture_output=True)
    study = hp.load_study("k", db=db)
    lost, retry = study.trials
    assert [s for s, _ in study.curve(0)["value"]] == [1, 2, 3, 4, 5, 6] and lost.trained == 6
    # it was last seen alive at its last report (before its first heartbeat, 5 s in)
    reported = [at for *_, at in study.store.curve(study.id, 0)]
    assert lost.finished == max(reported) and lost.started is not None
    assert lost.finished > lost.started
    assert retry.parents[-1].step == 6 and retry.trained == 2 and retry.metrics["epochs"] == 8


PASSED_THEN_KILLED = """
import os, signal, sys, time
import hpotrack as hp
from hpotrack.recovery import pid_alive

DB, ROLE = sys.argv[1], sys.argv[2]
PASSED, OTHERS_DONE = DB + ".passed", DB + ".others"

@hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="p", db=DB, seed=0,
         budget=hp.Budget(3, 9))
def train(x, trial):
    for step in trial.steps:
        trial.report(x + 1.0 / step, step=step)
        if step % 3 == 0:
            trial.save_checkpoint(step, step=step)
        if x == 0.5 and step == 4 and not os.path.exists(PASSED):
            while [s for s, _ in hp.load_study("p", db=DB).curve(trial.number)["value"]][-1] < 4:
                time.sleep(0.05)  # until the flusher stored the report at 4 (about 1 s)
            open(PASSED, "w").close()
            while not os.path.exists(OTHERS_DONE):
                time.sleep(0.02)
            os.kill(os.getpid(), signal.SIGKILL)
    return x + 1.0 / 9

if __name__ == "__main__":
    if ROLE == "first":  # x=0.5 is the best of three at the rung (at 3): it goes on
        for x in (0.9, 0.8, 0.5):
            train.study.enqueue({"x": x})
        train.optimize(n_trials=3)
    else:  # six better trials reach the rung while it trains on, then its loss is found
        while not os.path.exists(PASSED):
            time.sleep(0.02)
        for x in (0.1, 0.12, 0.14, 0.16, 0.18, 0.2):
            train.study.enqueue({"x": x})
        train.optimize(n_trials=9)
        open(OTHERS_DONE, "w").close()
        lost = hp.load_study("p", db=DB).trials[2].pid
        while pid_alive(lost):  # until the first process is gone
            time.sleep(0.02)
        train.optimize(n_trials=10)
"""


def test_a_check_the_lost_trial_passed_is_not_decided_again(tmp_path: Path) -> None:
    """x=0.5 passed its rung at 3 (its report at 4 is stored) and was killed after better
    trials filled the rung: deciding again now would stop it. Its retry resumes its
    checkpoint at the rung with the check it passed, as a run without the crash would."""
    script, db = tmp_path / "p.py", tmp_path / "h.db"
    script.write_text(PASSED_THEN_KILLED)
    first = subprocess.Popen([sys.executable, str(script), str(db), "first"])
    second = subprocess.run([sys.executable, str(script), str(db), "second"], capture_output=True)
    assert first.wait(timeout=60) == -signal.SIGKILL
    assert second.returncode == 0, second.stderr.decode()
    trials = hp.load_study("p", db=db).trials
    lost = trials[2]
    (retry,) = [t for t in trials if t.origin == "retried"]
    assert lost.params == retry.params == {"x": 0.5} and lost.state is TrialState.FAILED
    assert retry.parents[-1].step == 3 and retry.checks == lost.checks == {3: 0.5 + 1 / 3}
    assert retry.state is TrialState.COMPLETE and retry.trained == 6  # epochs 4..9
    shown = CliRunner().invoke(cli, ["--db", str(db), "trial", "p", str(retry.number)]).output
    assert "up to step 3: carried over from the lost trial it resumes, #2" in shown
    assert "\n  went on\n" in shown  # no check of its own: the one at 3 was its lost attempt's


PRE_EMPTED = """
import os, sys, time
import hpotrack as hp

DB = sys.argv[1]

@hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="t", db=DB, seed=0,
         budget=hp.Budget(1, 6))
def train(x, trial):
    epochs = trial.load_checkpoint() or 0
    for step in trial.steps:
        epochs += 1
        trial.report(x, step=step)
        trial.save_checkpoint(epochs, step=step)
        if step in (2, 4):
            open(DB + ".reached", "w").close()
            time.sleep(30)  # pre-empted here
    return {"value": x, "epochs": epochs}

if __name__ == "__main__":
    train.optimize(n_trials=1)
"""


def test_sigterm_stops_a_trial_as_ctrl_c_does(tmp_path: Path) -> None:
    """A job scheduler pre-empts with SIGTERM: the running trial is stored as interrupted
    (not lost later, which would use up ``retries``), the process exits with status 143,
    and each retry resumes the checkpoint. Pre-empted twice with retries=1, the trial
    still completes, having trained 6 epochs in all."""
    script, db = tmp_path / "t.py", tmp_path / "h.db"
    script.write_text(PRE_EMPTED)
    for _ in range(2):
        Path(f"{db}.reached").unlink(missing_ok=True)
        run = subprocess.Popen([sys.executable, str(script), str(db)], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not Path(f"{db}.reached").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        run.terminate()
        _, stderr = run.communicate(timeout=60)
        assert run.returncode == 143, stderr.decode()
        assert b"Traceback" not in stderr, stderr.decode()
    Path(f"{db}.reached").unlink()
    subprocess.run([sys.executable, str(script), str(db)], check=True, capture_output=True)
    trials = hp.load_study("t", db=db).trials
    assert [t.error for t in trials[:2]] == ["interrupted (SIGTERM)"] * 2
    assert [t.parents[-1].step for t in trials[1:]] == [2, 4]
    assert trials[2].state is TrialState.COMPLETE and trials[2].metrics["epochs"] == 6


PAUSED = """
import os, sys, time
import hpotrack as hp

@hp.tune({"x": hp.Float(0.0, 1.0)}, study="paused", db=sys.argv[1], seed=0)
def train(x, trial):
    if trial.number == 1:
        print("started", flush=True)
        deadline = time.monotonic() + 60
        while not os.path.exists(sys.argv[1] + ".go") and time.monotonic() < deadline:
            time.sleep(0.01)  # the test stops this process meanwhile
    return x

train.optimize(n_trials=3)
"""


def _paused_in_trial_1(db: Path) -> subprocess.Popen[str]:
    """A process running study "paused" into ``db``, stopped (SIGSTOP, as Ctrl-Z does)
    inside trial 1, whose heartbeat is then made older than the grace period."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", PAUSED, str(db)],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stdout.readline() == "started\n"
    os.kill(process.pid, signal.SIGSTOP)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "UPDATE trials SET heartbeat = ? WHERE number = 1", (time.time() - 10 * GRACE_S,)
        )
    return process


def _go_on(process: subprocess.Popen[str], db: Path) -> None:
    """Let the process :func:`_paused_in_trial_1` stopped finish its trial 1."""
    Path(f"{db}.go").touch()
    os.kill(process.pid, signal.SIGCONT)


def test_a_paused_worker_on_this_host_keeps_its_trial(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    process = _paused_in_trial_1(db)
    try:
        other = hp.load_study("paused", db=db)
        assert other.recover_lost_now() == 0
        assert other.trials[1].state is TrialState.RUNNING
    finally:
        _go_on(process, db)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    trials = hp.load_study("paused", db=db).trials
    assert [(t.state, t.origin) for t in trials] == [(TrialState.COMPLETE, "sampled")] * 3


def test_an_outcome_after_another_process_marked_the_trial_lost_is_not_stored(
    tmp_path: Path,
) -> None:
    """What another host's stale heartbeat, say, decided stands: the late outcome would
    overwrite the failure and run the configuration twice (its retry runs it again)."""
    db = tmp_path / "h.db"
    process = _paused_in_trial_1(db)
    try:
        store = open_store(db)
        row = store.find_study("paused")
        assert row is not None
        with store.write():  # as lost.fail writes it
            (running,) = store.running(row.id, [1])
            store.finish_trial(
                row.id,
                running.id,
                state=TrialState.FAILED,
                value=None,
                metrics={},
                error="worker lost: test",
            )
    finally:
        _go_on(process, db)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "trial 1 of study 'paused' finished here after another process marked it failed" in (
        stderr
    )
    trials = hp.load_study("paused", db=db).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAILED] + [
        TrialState.COMPLETE
    ] * (len(trials) - 2)
    assert trials[1].error == "worker lost: test" and trials[1].value is None

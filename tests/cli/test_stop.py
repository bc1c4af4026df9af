"""``hpotrack stop``: every process running a study starts no more trials."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import hpotrack as hp
from hpotrack.cli import cli
from hpotrack.errors import StorageError
from hpotrack.records import TrialState
from tests.faultworker import CLI, ROOT

SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    import hpotrack as hp

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db="h.db", seed=0)
    def train(x, trial):
        if os.environ.get("HANG_IN_TRIAL") and trial.number == 0:
            Path("inside").write_text(str(os.getpid()))
            time.sleep(600)
        time.sleep(0.2)
        return x

    if __name__ == "__main__":
        train.optimize(n_trials=100_000, n_jobs=int(sys.argv[1]), progress=False)
        print("returned")
    """
)


def invoke(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db), *args])


def start(
    folder: Path, argument: int | str, script: str = SCRIPT, **env: str
) -> subprocess.Popen[str]:
    """Run ``script`` (default: a study of random search, argument its n_jobs) in ``folder``."""
    (folder / "job.py").write_text(script)
    return subprocess.Popen(
        [sys.executable, "job.py", str(argument)],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def until(condition: object, what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def trials(db: Path) -> list[hp.TrialRecord]:
    """Study "s"'s trials; none before a process made the file and the study in it."""
    try:
        return hp.load_study("s", db=db).trials
    except (hp.StudyNotFoundError, StorageError):  # no file yet, or an empty one
        return []


def test_stop_ends_every_run_of_the_study_in_every_process(tmp_path: Path) -> None:
    """Two runs started by hand, one of them with two worker processes: after ``stop
    --wait`` returns no trial runs and none starts, each run returns normally, saying
    why, and every trial it ran is stored complete."""
    db = tmp_path / "h.db"
    runs = [start(tmp_path, 2), start(tmp_path, 1)]
    try:
        until(lambda: len({t.pid for t in trials(db)}) >= 3, "three processes running trials")
        stopped = subprocess.run(
            [sys.executable, "-c", CLI, "--db", str(db), "stop", "s", "--wait"],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout.startswith("asked the runs of study 's' to stop")
        assert stopped.stdout.endswith("study 's' has no trial running\n")
        after_wait = trials(db)
        assert not [t for t in after_wait if t.state is TrialState.RUNNING]
        for run in runs:
            out, err = run.communicate(timeout=120)
            assert run.returncode == 0, err
            assert out == "returned\n"
            assert "was asked to stop after this run began" in err
    finally:
        for run in runs:
            run.kill()
            run.wait()
    stored = trials(db)
    assert stored == after_wait  # nothing started after --wait returned
    assert {t.state for t in stored} == {TrialState.COMPLETE}
    assert [t.number for t in stored] == list(range(len(stored)))


def test_a_run_begun_after_a_stop_runs_and_says_nothing_of_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hpotrack")
    db = tmp_path / "h.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float) -> float:
        return x

    train.optimize(n_trials=2, progress=False)
    result = invoke(db, "stop", "s")
    assert result.exit_code == 0, result.output
    assert result.output == "asked the runs of study 's' to stop; none of its trials is running\n"
    assert len(train.optimize(n_trials=5, progress=False).trials) == 5
    assert "asked to stop" not in caplog.text
    assert "the target of 5 is reached" in caplog.text


def test_stop_names_the_running_trials_and_wait_skips_those_of_a_dead_worker(
    tmp_path: Path,
) -> None:
    """A worker killed with kill -9 leaves its trial running in the file until a run
    finds it lost; ``--wait`` does not wait for it (nobody would finish it)."""
    db = tmp_path / "h.db"
    hung = start(tmp_path, 1, HANG_IN_TRIAL="1")
    try:
        until(lambda: (tmp_path / "inside").exists(), "trial 0 to start")
        result = invoke(db, "stop", "s")
        assert result.exit_code == 0, result.output
        assert result.output == (
            "asked the runs of study 's' to stop: they start no more trials, and finish "
            "the 1 running trial (0) first (--wait waits for them)\n"
        )
        os.kill(hung.pid, signal.SIGKILL)
        hung.wait(timeout=60)
    finally:
        hung.kill()
        hung.wait()
    result = invoke(db, "stop", "s", "--wait")
    assert result.exit_code == 0, result.output
    assert result.output == (  # what show counts as running, with the worker gone, too
        "asked the runs of study 's' to stop; none of its trials is running (trial 0 reads "
        "running, but its worker is gone: the study's next run marks it lost and retries it)\n"
    )
    assert [t.state for t in trials(db)] == [TrialState.RUNNING]  # stop --wait changed nothing


def test_ctrl_c_during_wait_says_the_request_stands(tmp_path: Path) -> None:
    """Ctrl-C while ``stop --wait`` waits ends the wait, not the request: one line that
    says so and names the running trials, exit code 130, not click's "Aborted!"."""
    db = tmp_path / "h.db"
    hung = start(tmp_path, 1, HANG_IN_TRIAL="1")
    try:
        until(lambda: (tmp_path / "inside").exists(), "trial 0 to start")
        waiting = subprocess.Popen(
            [sys.executable, "-c", CLI, "--db", str(db), "stop", "s", "--wait"],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        assert waiting.stdout is not None
        first = waiting.stdout.readline()
        assert first == (
            "asked the runs of study 's' to stop; waiting for the 1 running trial (0) to finish\n"
        )
        waiting.send_signal(signal.SIGINT)
        out, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 130
        assert out == ""
        assert err == (
            "stopped waiting; the request stands: the runs of study 's' start no more trials "
            "and finish the 1 running trial (0) (hpotrack show s shows them)\n"
        )
        assert hp.load_study("s", db=db).stop_requests == 1
    finally:
        hung.kill()
        hung.wait()


@pytest.mark.parametrize("args", [["stop", "nope"], ["stop"], ["stop", "s", "--kill"]])
def test_stop_refuses_bad_input_in_one_line(tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "h.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float) -> float:
        return x

    train.optimize(n_trials=1, progress=False)
    result = invoke(db, *args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert result.output.count("Error: ") == 1
    assert hp.load_study("s", db=db).stop_requests == 0


def test_stop_now_interrupts_the_running_trial_which_runs_again_first(tmp_path: Path) -> None:
    """``stop --now``: the process running a hung trial gets SIGTERM, stores the trial as
    interrupted with a queued retry (what resume runs first) and exits as SIGTERM ends a
    process (143), before ``--wait`` returns."""
    db = tmp_path / "h.db"
    hung = start(tmp_path, 1, HANG_IN_TRIAL="1")
    try:
        until(lambda: (tmp_path / "inside").exists(), "trial 0 to start")
        result = invoke(db, "stop", "s", "--now", "--wait")
        assert result.exit_code == 0, result.output
        assert result.output == (
            f"asked the runs of study 's' to stop; sent SIGTERM to process {hung.pid} "
            "(trial 0)\nwaiting for the 1 running trial (0) to stop\n"
            "study 's' has no trial running\n"
        )
        assert hung.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        hung.kill()
        hung.wait()
    stopped, retry = trials(db)
    assert stopped.state is TrialState.FAILED and stopped.error == "interrupted (SIGTERM)"
    assert retry.state is TrialState.QUEUED and retry.origin == "retried"
    assert retry.params == stopped.params


def test_stop_now_interrupts_every_worker_and_the_run_returns(tmp_path: Path) -> None:
    """With two worker processes each in a long trial, ``stop --now`` signals both; each
    stores its trial as interrupted, and the run that started them returns normally,
    its study stopped."""
    db = tmp_path / "h.db"
    run = start(tmp_path, 2, SCRIPT.replace("time.sleep(0.2)", "time.sleep(600)"))
    try:
        until(
            lambda: sum(t.state is TrialState.RUNNING for t in trials(db)) == 2,
            "both workers in a trial",
        )
        workers = {t.pid for t in trials(db)}
        result = invoke(db, "stop", "s", "--now")
        assert result.exit_code == 0, result.output
        for pid in workers:
            assert f"sent SIGTERM to process {pid} " in result.output
        assert result.output.endswith(
            "their processes store the 2 running trials (0, 1) as interrupted and stop "
            "(--wait waits for them)\n"
        )
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        assert out == "returned\n"
    finally:
        run.kill()
        run.wait()
    states = [(t.state, t.error) for t in trials(db)]
    assert states[:2] == [(TrialState.FAILED, "interrupted (SIGTERM)")] * 2
    assert [t.origin for t in trials(db)[2:]] == ["retried", "retried"]


TWO_STUDIES = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    from pathlib import Path
    import hpotrack as hp

    def held(x):
        Path("inside").write_text(str(os.getpid()))
        while not Path("release").exists():
            time.sleep(0.02)
        return x

    a = hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="a", db="h.db", seed=0)(held)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="b", db="h.db", seed=0)
    def b(x):
        return x

    mode = sys.argv[1]
    if mode == "asked":  # a trial of b asked, then a run of a in the main thread
        asked = b.ask()
        a.optimize(n_trials=1, progress=False)
        b.tell(asked, 0.5)
    elif mode == "ask-tell":  # a loop of one's own: the process catches no SIGTERM
        asked = b.ask()
        b.tell(asked, held(0.5))
    elif mode == "thread":  # signal handlers are the main thread's alone
        run = threading.Thread(target=lambda: a.optimize(n_trials=1, progress=False))
        run.start()
        run.join()
    elif mode == "ignoring":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        a.optimize(n_trials=1, progress=False)
    print("returned")
    """
)


UNCAUGHT = (
    "does not catch SIGTERM (an ask()/tell() loop, or a run outside its main thread), which "
    "would end it without storing its trial"
)


@pytest.mark.parametrize(
    ("mode", "study", "why"),
    [
        ("asked", "b", "also runs trial 0 of study 'a', which SIGTERM would stop too"),
        ("asked", "a", "also runs trial 0 of study 'b', which SIGTERM would stop too"),
        ("ask-tell", "b", UNCAUGHT),
        ("thread", "a", UNCAUGHT),
        ("ignoring", "a", "ignores SIGTERM"),
    ],
)
def test_stop_now_signals_no_process_that_would_not_store_the_trial_as_interrupted(
    tmp_path: Path, mode: str, study: str, why: str
) -> None:
    """SIGTERM reaches a whole process: one that also runs a trial of another study (the
    run's handler stops whichever trial it runs), or that catches no SIGTERM (ended by
    it, a notebook's kernel too, storing nothing), or ignores it, is not signalled, and
    the command says so; the trial finishes, and the process returns normally."""
    if mode != "asked" and not Path(f"/proc/{os.getpid()}/status").exists():
        pytest.skip("what a process does with SIGTERM is read from /proc")
    db = tmp_path / "h.db"
    run = start(tmp_path, mode, TWO_STUDIES)
    try:
        until(lambda: (tmp_path / "inside").exists(), "the trial to start")
        result = invoke(db, "stop", study, "--now")
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert lines[0] == (
            f"asked the runs of study {study!r} to stop; process {run.pid} (trial 0) {why}: "
            "not signalled"
        )
        assert lines[1:] == ["the 1 running trial (0) finishes first (--wait waits for them)"]
        (tmp_path / "release").write_text("")
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        assert out == "returned\n"
    finally:
        run.kill()
        run.wait()
    ran = {"asked": ["a", "b"], "ask-tell": ["b"]}.get(mode, ["a"])
    for name in ran:
        stored = hp.load_study(name, db=db).trials
        assert [(t.number, t.state) for t in stored] == [(0, TrialState.COMPLETE)]

"""Several real OS processes sharing one study through one SQLite file."""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import hpotrack as hp
from hpotrack import workers
from hpotrack.errors import HpotrackError
from hpotrack.records import TrialState
from hpotrack.recovery import pid_alive
from hpotrack.text import plural

WORKLOADS = Path(__file__).with_name("workloads.py")
ROOT = Path(__file__).resolve().parents[1]


def start(db: Path, *args: str, gate: Path | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "HPOTRACK_DB": str(db), "PYTHONPATH": str(ROOT)}
    if gate is not None:
        env["HPOTRACK_TEST_GATE"] = str(gate)
    return subprocess.Popen(
        [sys.executable, str(WORKLOADS), *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(process: subprocess.Popen[str]) -> str:
    _, stderr = process.communicate(timeout=240)
    assert process.returncode == 0, stderr
    assert "locked" not in stderr.lower(), stderr
    return stderr


def open_gate(gate: Path, processes: list[subprocess.Popen[str]]) -> None:
    """Wait until every process is ready to run trials, then let them all start."""
    deadline = time.monotonic() + 120
    while len(list(gate.glob("ready-*"))) < len(processes) and time.monotonic() < deadline:
        assert all(p.poll() is None for p in processes), "a worker exited early"
        time.sleep(0.01)
    (gate / "go").touch()


def test_four_processes_share_the_target_exactly(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    processes = [start(db, "quadratic", "200", gate=tmp_path) for _ in range(4)]
    open_gate(tmp_path, processes)
    for process in processes:
        finish(process)
    trials = hp.load_study("shared", db=db).trials
    assert [t.number for t in trials] == list(range(200))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 600
        pids = {row[0] for row in conn.execute("SELECT DISTINCT pid FROM trials")}
    assert len(pids) >= 2  # the work really was shared


def test_three_processes_share_a_study_of_two_objectives(tmp_path: Path) -> None:
    """bayes (ParEGO) on two objectives in three processes: the target exactly, every
    trial complete with both values, and the front the same whichever process reads."""
    db = tmp_path / "h.db"
    processes = [start(db, "front", "24", gate=tmp_path) for _ in range(3)]
    open_gate(tmp_path, processes)
    for process in processes:
        finish(process)
    study = hp.load_study("front", db=db)
    assert [t.number for t in study.trials] == list(range(24))
    assert all(t.state is TrialState.COMPLETE for t in study.trials)
    values = [(f1, -f2) for f1, f2 in (study.values(t) for t in study.trials)]
    front = [
        i for i, v in enumerate(values)
        if not any(w[0] <= v[0] and w[1] <= v[1] and w != v for w in values)
    ]  # fmt: skip
    assert [t.number for t in study.best_trials] == front
    assert len({t.pid for t in study.trials}) >= 2


def test_three_processes_share_a_constrained_study(tmp_path: Path) -> None:
    """tpe under a constraint in three processes: the target exactly, and the best the
    best feasible trial whichever process reads."""
    db = tmp_path / "h.db"
    processes = [start(db, "feasible", "30", gate=tmp_path) for _ in range(3)]
    open_gate(tmp_path, processes)
    for process in processes:
        finish(process)
    study = hp.load_study("feasible", db=db)
    assert [t.number for t in study.trials] == list(range(30))
    assert all(t.state is TrialState.COMPLETE for t in study.trials)
    feasible = [t for t in study.trials if t.metrics["c"] <= 0.0]
    assert study.best == min(feasible, key=lambda t: (t.value, t.number))
    assert study.constraints == (hp.Constraint("c", at_most=0.0),)
    assert len({t.pid for t in study.trials}) >= 2


def test_grid_cells_are_claimed_once_across_three_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Three processes share the 24 cells; a run after them (here, in this process) finds
    the grid complete and runs nothing."""
    db = tmp_path / "h.db"
    processes = [start(db, "grid24", "none") for _ in range(3)]
    for process in processes:
        finish(process)
    trials = hp.load_study("grid24", db=db).trials
    cells = [tuple(t.params.values()) for t in trials]
    assert len(cells) == 24 and len(set(cells)) == 24
    assert {t.origin for t in trials} == {"grid"}
    monkeypatch.setenv("HPOTRACK_DB", str(db))
    monkeypatch.syspath_prepend(str(ROOT))
    from tests import workloads

    with caplog.at_level(logging.INFO, logger="hpotrack"):
        workloads.grid24.optimize(progress=False)
    again = "\n".join(r.getMessage() for r in caplog.records)
    assert "grid search is complete" in again and "nothing to run" in again
    assert len(hp.load_study("grid24", db=db).trials) == 24


WARM_STARTS = """
import sys
import hpotrack as hp
from workloads import quadratic, wait_for_go
wait_for_go()
for k in range(30):
    quadratic.study.enqueue({"x": k / 30}, skip_if_exists=True)
"""


def test_processes_enqueueing_the_same_warm_starts_queue_each_once(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    env = {**os.environ, "HPOTRACK_DB": str(db), "HPOTRACK_TEST_GATE": str(tmp_path)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(WORKLOADS.parent)])
    command = [sys.executable, "-c", WARM_STARTS]
    processes = [
        subprocess.Popen(command, env=env, text=True, stderr=subprocess.PIPE) for _ in range(3)
    ]
    open_gate(tmp_path, processes)
    for process in processes:
        finish(process)
    trials = hp.load_study("shared", db=db).trials
    assert sorted(t.params["x"] for t in trials) == [k / 30 for k in range(30)]
    assert {(t.state, t.origin) for t in trials} == {(TrialState.QUEUED, "enqueued")}


READER = """
import contextlib, sqlite3, sys, time
import hpotrack as hp
db, seen = sys.argv[1], 0
deadline = time.monotonic() + 120
while seen < 150 and time.monotonic() < deadline:
    try:
        seen = len(hp.load_study("shared", db=db).trials)
    except hp.HpotrackError:  # the writers have not created the file or study yet
        continue
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("SELECT COUNT(*) FROM metrics").fetchone()
print(seen)
"""


def test_a_reader_reads_while_two_writers_write(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    writers = [start(db, "quadratic", "150") for _ in range(2)]
    reader = subprocess.run(
        [sys.executable, "-c", READER, str(db)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        text=True,
        capture_output=True,
        timeout=240,
    )
    for writer in writers:
        finish(writer)
    assert reader.returncode == 0, reader.stderr
    assert int(reader.stdout) == 150


def test_n_jobs_starts_workers_that_share_the_study(paired_workloads: ModuleType) -> None:
    workloads = paired_workloads
    study = workloads.slow.optimize(n_trials=20, n_jobs=2, progress=False)
    trials = study.trials
    assert [t.number for t in trials] == list(range(20))
    assert len({t.pid for t in trials}) == 2
    assert os.getpid() not in {t.pid for t in trials}


def test_no_more_workers_start_than_trials_are_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At its target, n_jobs=8 started 8 processes that each imported the script to say
    "nothing to run" (10 s); with one trial left, one process runs it (here)."""
    monkeypatch.setenv("HPOTRACK_DB", str(tmp_path / "h.db"))
    monkeypatch.syspath_prepend(str(ROOT))
    from hpotrack import workers
    from tests import workloads

    def no_workers(*args: object, **kwargs: object) -> None:
        raise AssertionError("worker processes started")

    monkeypatch.setattr(workers, "run_workers", no_workers)
    workloads.slow.optimize(n_trials=3, progress=False)
    workloads.slow.optimize(n_trials=3, n_jobs=8, progress=False)
    study = workloads.slow.optimize(n_trials=4, n_jobs=8, progress=False)
    assert [t.pid for t in study.trials] == [os.getpid()] * 4


LATE_WORKER = """\
import os, time
import hpotrack as hp
from hpotrack.recovery import pid_alive

def wait_until_the_first_worker_ended():
    try:
        os.close(os.open('first', os.O_CREAT | os.O_EXCL))
    except FileExistsError:  # the second worker
        open(f'late-{os.getpid()}', 'w').close()
        waited = time.monotonic() + 60
        while not os.path.exists('first-pid') and time.monotonic() < waited:
            time.sleep(0.01)
        first = int(open('first-pid').read())
        while pid_alive(first) and time.monotonic() < waited:
            time.sleep(0.01)
        return
    with open('first-pid.tmp', 'w') as file:
        file.write(str(os.getpid()))
    os.replace('first-pid.tmp', 'first-pid')

if __name__ == '__mp_main__':  # a worker imports it
    wait_until_the_first_worker_ended()

@hp.tune({'x': (0.0, 1.0)}, method='random', study='s', db='h.db')
def f(x):
    time.sleep(0.03)
    return x

if __name__ == '__main__':
    f.optimize(timeout=1.5, n_jobs=2)
"""


def test_a_timeout_counts_from_the_call_in_every_worker(tmp_path: Path) -> None:
    """Workers took the time left when they were started, and counted it from their own
    start, a second or so later (importing the script): the run went over by that
    much, and the one worker that logged gave its own share and count. Here the second
    worker to import the script waits there until the first one has ended, past the
    deadline: it starts no trial, and the parent's one line gives the timeout and the
    run's trials. (Timing two workers against the 1.5 s instead failed on a loaded
    machine, which took longer than that to start them: no trial ran.)"""
    done = run_source(tmp_path, LATE_WORKER)
    assert done.returncode == 0, done.stderr
    (late,) = [int(path.name.split("-")[1]) for path in tmp_path.glob("late-*")]
    trials = hp.load_study("s", db=tmp_path / "h.db").trials
    assert late not in {t.pid for t in trials}  # counted from its start, it ran 1.5 s
    starts = [t.started for t in trials if t.started is not None]
    assert len(starts) == len(trials)
    # the call came before the first trial started, and its deadline 1.5 s after it
    assert all(start < min(starts) + 1.5 for start in starts), starts
    lines = [line for line in done.stderr.splitlines() if "timeout" in line]
    assert lines == [
        f"[hpotrack] timeout of 1.5s reached in study 's' after {plural(len(trials), 'trial')}"
    ]


def test_the_trial_of_a_killed_worker_is_retried_and_the_study_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """kill -9 takes one worker: its trial is marked lost at once (its pid is gone) and
    queued again; if the others stop before they ran it, a new worker does. optimize()
    returns the finished study with a warning, so the code after it runs."""
    monkeypatch.setenv("HPOTRACK_DB", str(tmp_path / "h.db"))
    monkeypatch.syspath_prepend(str(ROOT))
    from tests import workloads

    with caplog.at_level(logging.WARNING, logger="hpotrack"):
        study = workloads.killed_once.optimize(n_trials=12, n_jobs=2, progress=False)
    trials = study.trials
    assert sum(t.state is TrialState.COMPLETE for t in trials) == 12 and len(trials) == 13
    assert trials[3].state is TrialState.FAILED and "worker lost" in (trials[3].error or "")
    (retry,) = [t for t in trials if t.origin == "retried"]
    assert retry.params == trials[3].params and retry.state is TrialState.COMPLETE
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("a worker process died (killed by signal 9)") for m in messages)


def run_with_a_worker_signalled_as_it_starts(
    folder: Path,
    signame: str,
    every: bool = False,
    tuned: str = "@hp.tune({'x': (0.0, 1.0)}, method='random', study='s', db='h.db')",
    call: str = "f.optimize(n_trials=20, n_jobs=2)",
) -> subprocess.CompletedProcess[str]:
    """Run ``call`` (it prints the number of trials) in a script whose first worker
    (``every``: each worker) sends itself ``signame`` while it imports the script, as the
    OOM killer or a scheduler may while a worker loads its data, before it runs a trial;
    ``f(x)`` returns x, decorated with ``tuned``."""
    return run_source(
        folder,
        "import os, signal\n"
        "import hpotrack as hp\n"
        "def first_worker():\n"
        "    try:\n"
        "        os.close(os.open('signalled', os.O_CREAT | os.O_EXCL))\n"
        "    except FileExistsError:\n"
        f"        return {every!r}\n"
        "    return True\n"
        "if __name__ == '__mp_main__' and first_worker():  # a worker imports it\n"
        f"    os.kill(os.getpid(), signal.{signame})\n"
        f"{tuned}\n"
        "def f(x):\n    return x\n"
        "if __name__ == '__main__':\n"
        "    try:\n"
        f"        print(len({call}.trials))\n"
        "    except KeyboardInterrupt:\n"
        "        print('KeyboardInterrupt')\n",
    )


@pytest.mark.parametrize(
    ("signame", "said"),
    [
        ("SIGKILL", "a worker process died (killed by signal 9); the others finished the run"),
        ("SIGTERM", ""),
    ],
)
def test_a_worker_killed_as_it_starts_leaves_the_run_to_the_others(
    tmp_path: Path, signame: str, said: str
) -> None:
    """A worker killed while it imports the script ran no trial, and the others finish
    the run, as when one dies later (SIGTERM to one worker stops only that one): the call
    returns the study. It failed saying "died ... before it ran a trial: see above", with
    nothing above, as if importing the script had failed, once the study was done."""
    done = run_with_a_worker_signalled_as_it_starts(tmp_path, signame)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["20"]
    assert said in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert "before it ran a trial" not in done.stderr


def test_a_worker_killed_as_it_starts_when_the_search_is_over_is_no_error(
    tmp_path: Path,
) -> None:
    """The other worker found nothing left to run (every grid cell ran, a population
    reached its horizon): the call returns; the killed worker is no reason to fail."""
    done = run_with_a_worker_signalled_as_it_starts(
        tmp_path,
        "SIGKILL",
        tuned="@hp.tune({'x': [0, 1, 2]}, method='grid', study='s', db='h.db')",
        call="(f.optimize(), f.optimize(n_jobs=2))[1]",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3"]
    assert "Traceback" not in done.stderr, done.stderr


def test_sigint_to_a_worker_as_it_starts_stops_the_run_as_later(tmp_path: Path) -> None:
    """SIGINT to one worker while it imports the script is a KeyboardInterrupt there, as
    it is while the worker runs trials: the call raises it (it failed saying the worker
    died before it ran a trial)."""
    done = run_with_a_worker_signalled_as_it_starts(tmp_path, "SIGINT")
    assert done.stdout.split() == ["KeyboardInterrupt"], done.stderr
    assert "was interrupted (KeyboardInterrupt); stopping the others" in done.stderr


CTRL_C_AS_WORKERS_IMPORT = """\
import os, signal, time
import hpotrack as hp
if __name__ == '__mp_main__':  # a worker imports it: Ctrl-C comes as it loads its data
    try:
        os.close(os.open('pressed', os.O_CREAT | os.O_EXCL))
        os.killpg(0, signal.SIGINT)  # the terminal's Ctrl-C: the whole process group
    except FileExistsError:
        pass
    time.sleep(60)
@hp.tune({'x': (0.0, 1.0)}, method='random', study='s', db='h.db')
def f(x):
    return x
if __name__ == '__main__':
    try:
        f.optimize(n_trials=20, n_jobs=2)
    except KeyboardInterrupt:
        print('KeyboardInterrupt')
"""


def test_ctrl_c_as_the_workers_import_the_script_prints_no_traceback_of_theirs(
    tmp_path: Path,
) -> None:
    """Ctrl-C while the workers still import the script (scikit-learn, the user's data;
    spawn runs it before any of hpotrack's code): each worker printed the traceback of
    its import. The workers now start with SIGINT held and run no trial yet, so the
    parent ends them; the call raises KeyboardInterrupt alone."""
    (tmp_path / "job.py").write_text(CTRL_C_AS_WORKERS_IMPORT)
    done = subprocess.run(
        [sys.executable, "job.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,  # its own process group, as a terminal gives a command
    )
    assert done.stdout.split() == ["KeyboardInterrupt"], done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert len(hp.load_study("s", db=tmp_path / "h.db").trials) == 0


def test_workers_killed_each_time_they_start_end_the_call_with_one_error(tmp_path: Path) -> None:
    """Every worker killed as it starts (the OOM killer, as each loads too much data):
    nothing is run, so the call fails saying so instead of starting workers forever."""
    done = run_with_a_worker_signalled_as_it_starts(tmp_path, "SIGKILL", every=True)
    assert done.returncode == 1
    last = done.stderr.rstrip().splitlines()[-1]
    assert last.endswith(
        "the worker processes died (killed by signal 9) before any of them started a trial"
    ), done.stderr


def test_a_keyboard_interrupt_in_one_worker_stops_the_run_as_with_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The function raises KeyboardInterrupt in one worker (trial 5): optimize() raises it
    too, the other worker stops, and no trial is left running (before, the other worker
    ran the study to its end and optimize() returned as if nothing had happened)."""
    monkeypatch.setenv("HPOTRACK_DB", str(tmp_path / "h.db"))
    monkeypatch.syspath_prepend(str(ROOT))
    from tests import workloads

    with caplog.at_level(logging.WARNING, logger="hpotrack"), pytest.raises(KeyboardInterrupt):
        workloads.interrupting.optimize(n_trials=200, n_jobs=2, progress=False)
    trials = hp.load_study("interrupting", db=tmp_path / "h.db").trials
    assert len(trials) < 100
    assert not [t for t in trials if t.state is TrialState.RUNNING]
    assert trials[5].state is TrialState.FAILED and "interrupted" in (trials[5].error or "")
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.endswith("(KeyboardInterrupt); stopping the others") for m in messages)


def test_sigterm_to_one_worker_stops_only_that_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job scheduler's SIGTERM to one worker: its trial is stored as interrupted and
    queued again, and the other worker finishes the study, retry included."""
    db = tmp_path / "h.db"
    monkeypatch.setenv("HPOTRACK_DB", str(db))
    monkeypatch.syspath_prepend(str(ROOT))
    from tests import workloads

    terminated: list[int] = []

    def terminate_a_worker() -> None:
        """SIGTERM to the worker inside trial 5: one whose trial is stored as running may
        not have called the function yet, or have returned from it (seen on a loaded
        machine), and then there is no interrupted trial."""
        inside = Path(f"{db}.inside")
        deadline = time.monotonic() + 60
        while not inside.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        pid = int(inside.read_text())
        os.kill(pid, signal.SIGTERM)
        terminated.append(pid)

    killer = threading.Thread(target=terminate_a_worker)
    killer.start()
    try:
        study = workloads.stopped.optimize(n_trials=60, n_jobs=2, progress=False)
    except KeyboardInterrupt:  # fail this test, not the whole session
        pytest.fail("SIGTERM to one worker stopped the run as an interrupt would")
    finally:
        killer.join()
    trials = study.trials
    (stopped,) = [t for t in trials if t.state is TrialState.FAILED]
    assert stopped.pid == terminated[0] and stopped.error == "interrupted (SIGTERM)"
    (retry,) = [t for t in trials if t.origin == "retried"]
    assert retry.params == stopped.params and retry.state is TrialState.COMPLETE
    assert retry.pid != terminated[0]
    assert sum(t.state is TrialState.COMPLETE for t in trials) == len(trials) - 1


def run_script(
    folder: Path, last_lines: str, method: str = "random"
) -> subprocess.CompletedProcess[str]:
    """Run a script in ``folder`` that declares study "s" (``f(x)`` returns x, in h.db)
    and then runs ``last_lines``."""
    return run_source(
        folder,
        "import hpotrack as hp\n"
        f"@hp.tune({{'x': (0.0, 1.0)}}, method={method!r}, study='s', db='h.db')\n"
        f"def f(x):\n    return x\n{last_lines}",
    )


def run_source(folder: Path, source: str) -> subprocess.CompletedProcess[str]:
    """Run ``source`` as the script ``job.py`` in ``folder``."""
    script = folder / "job.py"
    script.write_text(source)
    return subprocess.run(
        [sys.executable, str(script)], cwd=folder, capture_output=True, text=True, timeout=120
    )


def test_workers_tell_what_the_study_does_once_not_once_each(tmp_path: Path) -> None:
    done = run_script(
        tmp_path, "if __name__ == '__main__':\n    f.optimize(n_trials=20, n_jobs=2)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("the target of 20 is reached") == 1, done.stderr


def test_optimize_returns_once_its_workers_end_not_when_the_bar_is_due(tmp_path: Path) -> None:
    """The parent waited for what the workers send, a redraw of the progress bar at a
    time, and saw that they had ended only when such a wait ran out: every
    optimize(n_jobs=2) took up to half a second longer than its workers. With an hour
    between redraws, the call still returns as its workers end (``run_source``'s
    timeout fails the test otherwise)."""
    done = run_script(
        tmp_path,
        "if __name__ == '__main__':\n"
        "    from hpotrack import workers\n"
        "    workers.REDRAW_EVERY_S = 3600.0\n"
        "    print(len(f.optimize(n_trials=4, n_jobs=2).trials))\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["4"]


def test_workers_keep_quiet_when_the_hpotrack_logger_is_set_to_warnings(tmp_path: Path) -> None:
    """The documented quiet run holds with n_jobs too: the workers import the script
    without running the main block that set the level, so they take the parent's."""
    done = run_script(
        tmp_path,
        "if __name__ == '__main__':\n"
        "    import logging\n"
        "    logging.getLogger('hpotrack').setLevel(logging.WARNING)\n"
        "    f.optimize(n_trials=6, n_jobs=2)\n",
    )
    assert done.returncode == 0, done.stderr
    assert "[hpotrack]" not in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("configure", "on_stderr", "in_file"),
    [
        (
            "logging.basicConfig(level=logging.INFO, filename='run.log', "
            "format='%(levelname)s %(message)s')",
            [],
            ["INFO study 's' has 6 trials: the target of 6 is reached"],
        ),
        (
            "own = logging.StreamHandler()\n"
            "    own.setFormatter(logging.Formatter('own: %(message)s'))\n"
            "    logging.getLogger('hpotrack').addHandler(own)",
            ["own: study 's' has 6 trials: the target of 6 is reached"],
            [],
        ),
    ],
    ids=["basic-config-to-a-file", "handler-on-hpotrack"],
)
def test_worker_messages_go_through_the_logging_set_up_of_the_main_block(
    tmp_path: Path, configure: str, on_stderr: list[str], in_file: list[str]
) -> None:
    """The workers import the script without its main block, where the application set
    up logging: they printed their lines raw on stderr in hpotrack's default format,
    not in the application's file or format. Now the parent says them, through its
    handlers, once."""
    done = run_script(
        tmp_path,
        "if __name__ == '__main__':\n"
        "    import logging\n"
        f"    {configure}\n"
        "    f.optimize(n_trials=6, n_jobs=2)\n",
    )
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if "study 's'" in line] == on_stderr
    log_file = tmp_path / "run.log"
    written = log_file.read_text().splitlines() if log_file.exists() else []
    assert [line for line in written if "study 's'" in line] == in_file


def test_a_method_note_is_said_once_whichever_worker_made_the_proposal(tmp_path: Path) -> None:
    """Only the first worker told what the study does: when it ran no trial (here it
    starts once the other worker has run them all), auto's choice was never said."""
    done = run_script(
        tmp_path,
        "import multiprocessing, time\n"
        "if multiprocessing.current_process().name == 'SpawnProcess-1':\n"
        "    waited = time.monotonic() + 60\n"
        "    while time.monotonic() < waited and sum(\n"
        "        t.state.value == 'complete' for t in hp.load_study('s', db='h.db').trials\n"
        "    ) < 4:\n"
        "        time.sleep(0.05)\n"
        "if __name__ == '__main__':\n"
        "    f.optimize(n_trials=4, n_jobs=2)\n",
        method="auto",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    notes = [line for line in lines if "auto chose" in line]  # its reason may change once
    assert notes and len(notes) == len(set(notes)), done.stderr  # timed: each said once
    assert all(note.startswith("[hpotrack] study 's': auto chose ") for note in notes)
    assert len([line for line in lines if "the target of 4 is reached" in line]) == 1


def test_a_warning_each_process_says_once_is_said_once_by_the_workers(tmp_path: Path) -> None:
    """The warning that a trial "completed without reporting the objective" is said once
    per study and process: with n_jobs=2 it came once from each worker (here each
    completes a trial: both wait until both trials are claimed)."""
    done = run_source(
        tmp_path,
        "import time\nimport hpotrack as hp\n"
        "@hp.tune({'x': (0.0, 1.0)}, method='sha', budget=hp.Budget(1, 9), study='s', "
        "db='h.db')\n"
        "def f(x):\n"
        "    waited = time.monotonic() + 60\n"
        "    while time.monotonic() < waited and len(hp.load_study('s', db='h.db').trials) < 2:\n"
        "        time.sleep(0.05)\n"
        "    return x\n"
        "if __name__ == '__main__':\n    f.optimize(n_trials=2, n_jobs=2)\n",
    )
    assert done.returncode == 0, done.stderr
    assert len({t.pid for t in hp.load_study("s", db=tmp_path / "h.db").trials}) == 2
    assert done.stderr.count("completed without reporting the objective") == 1, done.stderr


def test_workers_stop_when_their_parent_is_killed(tmp_path: Path) -> None:
    """kill -9 of the process that called optimize(n_jobs=2): its workers stop as on
    Ctrl-C (their running trials queued to run again) instead of running on as orphans."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import os, time\nimport hpotrack as hp\n"
        "@hp.tune({'x': (0.0, 1.0)}, method='random', study='s', db='h.db')\n"
        "def f(x):\n    open(f'started-{os.getpid()}', 'w').close()\n    time.sleep(60)\n"
        "    return x\n"
        "if __name__ == '__main__':\n    f.optimize(n_trials=200, n_jobs=2)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path)
    db = tmp_path / "h.db"
    # until both workers are inside a trial (one stored as running may be outside its
    # function: before it, or after it returned, and then nothing is interrupted)
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("started-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = {int(path.name.split("-")[1]) for path in tmp_path.glob("started-*")}
    assert len(workers) == 2
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 30  # orphans would sleep on in their trials
    while any(pid_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(pid_alive(pid) for pid in workers)
    trials = hp.load_study("s", db=db).trials
    assert not [t for t in trials if t.state is TrialState.RUNNING]
    stopped = [t.error for t in trials if t.state is TrialState.FAILED]
    assert stopped == ["interrupted (the parent process is gone)"] * 2
    assert {t.pid for t in trials[:2]} == workers


@pytest.mark.parametrize("group", [False, True], ids=["parent", "whole job"])
def test_sigterm_to_the_parent_of_workers_stops_them_as_ctrl_c_does(
    tmp_path: Path, group: bool
) -> None:
    """SIGTERM to optimize(n_jobs=2)'s process (``kill``), or to its whole process group (a
    scheduler's pre-emption), stops the run as it stops n_jobs=1: each running trial is
    stored as interrupted and queued again, and the process exits with 143. The parent
    died at once, and Python's resource tracker said "There appear to be 3 leaked
    semaphore objects"; the workers' trials read "the parent process is gone". The parent
    passed SIGINT on: the trials read KeyboardInterrupt, and after a SIGTERM to the whole
    job a worker could miss it (taken by another of its threads while its SIGTERM was
    pending) and sleep on until the parent's 10 s ran out."""
    script = tmp_path / "job.py"
    script.write_text(
        "import os, time\nimport hpotrack as hp\n"
        "@hp.tune({'x': (0.0, 1.0)}, method='random', study='s', db='h.db', seed=0)\n"
        "def f(x):\n    open(f'started-{os.getpid()}', 'w').close()\n    time.sleep(30)\n"
        "    return x\n"
        "if __name__ == '__main__':\n    f.optimize(n_trials=4, n_jobs=2)\n"
    )
    run = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60  # until both workers are inside a trial
    while len(list(tmp_path.glob("started-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    if group:
        os.killpg(run.pid, signal.SIGTERM)
    else:
        run.terminate()
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 143, stderr
    assert "Traceback" not in stderr and "leaked" not in stderr, stderr
    trials = hp.load_study("s", db=tmp_path / "h.db").trials
    stopped = [t for t in trials if t.state is TrialState.FAILED]
    assert [t.error for t in stopped] == ["interrupted (SIGTERM)"] * 2
    assert [t.state for t in trials[2:]] == [TrialState.QUEUED] * 2


def test_a_worker_whose_parent_dies_as_it_exits_prints_no_traceback(tmp_path: Path) -> None:
    """SIGTERM to a whole job (a scheduler's pre-emption) ends the parent at once while
    its workers store their interrupted trials and exit; a worker that saw its parent go
    on its way out raised ParentGone from wherever it was (an atexit callback, say),
    and printed "Exception ignored ... ParentGone" with a traceback. Here each worker's
    own atexit callback kills the parent, as that job would."""
    done = run_source(
        tmp_path,
        "import atexit, os, signal, time\nimport hpotrack as hp\n"
        "@hp.tune({'x': (0.0, 1.0)}, method='random', study='s', db='h.db')\n"
        "def f(x):\n    return x\n"
        "if os.environ.get('PARENT_PID', str(os.getpid())) != str(os.getpid()):  # a worker\n"
        "    atexit.register(lambda: (os.kill(os.getppid(), signal.SIGKILL), time.sleep(1)))\n"
        "if __name__ == '__main__':\n"
        "    os.environ['PARENT_PID'] = str(os.getpid())\n"
        "    f.optimize(n_trials=2, n_jobs=2)\n",
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert "Traceback" not in done.stderr and "ParentGone" not in done.stderr, done.stderr
    trials = hp.load_study("s", db=tmp_path / "h.db").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2


@pytest.mark.parametrize("attempt", range(3))
def test_ctrl_c_in_a_terminal_stops_every_worker_cleanly(tmp_path: Path, attempt: int) -> None:
    """A terminal sends Ctrl-C to the whole process group, and the parent passes it on to
    its workers again: the second one must not break the write that stores the first
    (the trial was left running, and later counted as a lost worker). Each attempt hits
    another moment, so the test runs a few."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import os, time\nimport hpotrack as hp\n"
        "@hp.tune({'x': (0.0, 1.0)}, method='random', study='s', db='h.db')\n"
        # each worker's first trial runs until the Ctrl-C stops it
        "def f(x):\n    open(f'started-{os.getpid()}', 'w').close()\n    time.sleep(60)\n"
        "    return x\n"
        "if __name__ == '__main__':\n"
        "    try:\n        f.optimize(n_trials=200, n_jobs=2)\n"
        "    except KeyboardInterrupt:\n        pass\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, start_new_session=True)
    db = tmp_path / "h.db"
    # until both workers are inside their function: a trial stored as running may not
    # have got there yet, and one interrupted before is given back as queued, not failed
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("started-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.05 * attempt)
    os.killpg(parent.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    assert parent.wait(timeout=60) == 0
    trials = hp.load_study("s", db=db).trials
    assert not [t for t in trials if t.state is TrialState.RUNNING]
    interrupted = [t for t in trials if t.state is TrialState.FAILED]
    assert len(interrupted) == 2 and all("interrupted" in (t.error or "") for t in interrupted)


class _Model:
    def fit(self, x: float) -> float:
        return x


def _fit(x: float, scale: float) -> float:
    return x * scale


def _closure() -> Callable[..., float]:
    def inner(x: float) -> float:
        return x

    return inner


def _typed(source: str) -> Callable[..., float]:
    """``fn`` as a notebook cell defines it: module __main__, no file to import."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source, "<ipython-input-1>", "exec"), namespace)
    return namespace["fn"]


FIX = "tune a function defined with def at module level"
TYPED_FIX = f"{FIX} in a file (this one was defined interactively)"
TYPED_CLOSURE = (
    "def outer():\n    def inner(x):\n        return x\n    return inner\nfn = outer()\n"
)


@pytest.mark.parametrize(
    ("fn", "why"),
    [
        (lambda x: x, f"a lambda has none: {FIX}"),
        (_closure(), f"inner is defined inside _closure(), out of their reach: {FIX}"),
        (_typed("fn = lambda x: x"), f"a lambda has none: {TYPED_FIX}"),
        (
            _typed(TYPED_CLOSURE),
            f"inner is defined inside outer(), out of their reach: {TYPED_FIX}",
        ),
        (
            functools.partial(_fit, scale=2.0),
            f"functools.partial(_fit, ...) has no name of its own: {FIX}",
        ),
        (
            _Model().fit,
            f"_Model.fit is a method bound to an instance, which they do not have: {FIX}",
        ),
    ],
    ids=["lambda", "closure", "typed lambda", "typed closure", "partial", "bound method"],
)
def test_n_jobs_for_a_function_workers_cannot_find_by_name_is_refused_before_anything_is_stored(
    tmp_path: Path, fn: Callable[..., float], why: str
) -> None:
    """Workers import the function by module and name: a lambda's is not there, a bound
    method's is its class's function (called without the instance), a partial raised
    AttributeError; the study and its target were stored before the workers failed. The
    message says why once: a lambda's read "<lambda> is not one (nor are lambdas, ...)"."""
    db = tmp_path / "h.db"
    train = hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, method="random")(fn)
    with pytest.raises(HpotrackError) as raised:
        train.optimize(n_trials=4, n_jobs=2)
    assert str(raised.value) == (
        "n_jobs > 1 needs a function that worker processes can import by its name, and "
        f"{why}, or use n_jobs=1"
    )
    assert not db.exists()


def test_n_jobs_from_a_script_without_a_main_guard_says_the_fix(tmp_path: Path) -> None:
    """Workers import the script again; a module-level optimize() in it would start
    workers of their own. Each worker says the fix in one line, instead of
    multiprocessing's tracebacks about its bootstrapping phase."""
    done = run_script(tmp_path, "f.optimize(n_trials=4, n_jobs=2)\n")
    assert done.returncode == 1
    assert "bootstrapping" not in done.stderr
    fix = 'call optimize() under `if __name__ == "__main__":`'
    assert done.stderr.count(fix) == 2  # one line from each worker
    assert done.stderr.rstrip().endswith("before it ran a trial: see above")


def test_a_module_level_manual_call_is_not_repeated_by_each_worker(tmp_path: Path) -> None:
    """Each worker process imports the script again: a module-level ``f(x=0.5)`` stored
    one manual trial per worker. The workers refuse it in one line saying the fix."""
    done = run_script(
        tmp_path, "f(x=0.5)\nif __name__ == '__main__':\n    f.optimize(n_trials=6, n_jobs=2)\n"
    )
    assert done.returncode == 1
    fix = 'call f(...) under `if __name__ == "__main__":`'
    assert done.stderr.count(fix) == 2, done.stderr  # one line from each worker
    origins = [t.origin for t in hp.load_study("s", db=tmp_path / "h.db").trials]
    assert origins.count("manual") == 1


def test_a_name_set_under_the_main_guard_is_missing_in_workers_and_the_failure_says_so(
    tmp_path: Path,
) -> None:
    """Data loaded under `if __name__ == "__main__":` (Optuna's threads see it) does not
    exist in worker processes, which import the script again: each trial failed with a
    bare NameError."""
    done = run_source(
        tmp_path,
        "import hpotrack as hp\n"
        "@hp.tune({'x': (0.0, 1.0)}, method='random', study='s', db='h.db')\n"
        "def f(x):\n    return x * SCALE\n"
        "if __name__ == '__main__':\n    SCALE = 2.0\n    f.optimize(n_trials=4, n_jobs=2)\n",
    )
    hint = 'import this script again, without running its `if __name__ == "__main__":` block'
    assert "NameError: name 'SCALE' is not defined; worker processes" in done.stderr
    trials = hp.load_study("s", db=tmp_path / "h.db").trials
    stored = f"\n[hpotrack] worker processes (n_jobs) and hpotrack resume {hint}"
    assert trials and all(stored in (t.error or "") for t in trials)


@pytest.mark.parametrize(
    ("main_block", "fix"),
    [
        (
            "    @hp.tune({'x': (0.0, 1.0)}, method='random', study='s', db='h.db')\n"
            "    def f(x):\n        return x\n",
            "so define f at module level, outside that block",
        ),
        (
            "    f = hp.tune({'x': (0.0, 1.0)}, method='random', study='s', db='h.db')(g)\n",
            "so apply @hp.tune to it at module level, outside that block",
        ),
    ],
    ids=["defined", "decorated"],
)
def test_a_function_tuned_under_the_main_guard_with_n_jobs_says_the_fix(
    tmp_path: Path, main_block: str, fix: str
) -> None:
    """Workers import the script again without its main block, where the tuned function
    was defined (or decorated): they failed with "__main__:f cannot be found (no 'f')"
    or "g is not decorated with @hp.tune", which named no cause nor fix."""
    done = run_source(
        tmp_path,
        "import hpotrack as hp\n"
        "def g(x):\n    return x\n"
        f"if __name__ == '__main__':\n{main_block}    f.optimize(n_trials=4, n_jobs=2)\n",
    )
    assert done.returncode == 1
    last = done.stderr.rstrip().splitlines()[-1]
    assert 'without running its `if __name__ == "__main__":` block' in last, done.stderr
    assert last.endswith(fix), done.stderr
    assert hp.load_study("s", db=tmp_path / "h.db").trials == []


def test_max_budget_is_shared_by_worker_processes(paired_workloads: ModuleType) -> None:
    """Two workers stop once the study's trials trained 60 epochs between them: the
    total is read from the database, so neither runs its own 60."""
    workloads = paired_workloads
    study = workloads.halving.optimize(max_budget=60, n_jobs=2, progress=False)
    trials = study.trials
    assert len({t.pid for t in trials}) == 2
    assert all(t.trained is not None for t in trials)
    total = sum(t.trained or 0 for t in trials)
    assert 60 <= total < 60 + 2 * 9  # at most each worker's last trial beyond it
    curves = sum(len(study.curve(t.number).get("value", [])) for t in trials)
    assert curves == total  # every epoch counted is one reported


def test_patience_is_counted_over_the_trials_of_every_worker_process(
    paired_workloads: ModuleType,
) -> None:
    """Two workers stop once 5 complete trials, whichever process ran them, finished
    after the study's best without improving on it: the count is read from the
    database, so at most the other worker's last trial goes past it."""
    workloads = paired_workloads
    study = workloads.slow.optimize(n_trials=300, n_jobs=2, patience=5, progress=False)
    trials = study.trials
    best = study.best
    assert best is not None and len(trials) < 300
    assert len({t.pid for t in trials}) == 2
    assert {t.state for t in trials} == {TrialState.COMPLETE}
    assert 5 <= len(trials) - 1 - best.number <= 5 + 1


def _deaf_to_sigint(ready: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ready.set()
    time.sleep(120)


class _Joins:
    """A real process whose ``join`` timeouts are kept."""

    def __init__(self, process: Any, timeouts: list[float]) -> None:
        self.process, self.timeouts = process, timeouts

    def __getattr__(self, name: str) -> Any:
        return getattr(self.process, name)

    def join(self, timeout: float) -> None:
        self.timeouts.append(timeout)
        self.process.join(timeout)


def test_workers_that_do_not_stop_share_one_grace_period_then_are_terminated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stopping the workers gives them ``STOP_GRACE_S`` together, not each in turn: with
    eight workers stuck in a trial that ignores Ctrl-C, the parent waited 10 s for each,
    80 s in all, before it terminated them."""
    monkeypatch.setattr(workers, "STOP_GRACE_S", 0.5)
    context = multiprocessing.get_context("spawn")
    timeouts: list[float] = []
    readies = [context.Event() for _ in range(2)]
    processes = [
        _Joins(context.Process(target=_deaf_to_sigint, args=(ready,), daemon=True), timeouts)
        for ready in readies
    ]
    for process in processes:  # both import this module at once
        process.start()
    assert all(ready.wait(60) for ready in readies)
    workers._interrupt(processes, signal.SIGINT, [1, 1])  # type: ignore[arg-type]
    for process in processes:
        process.process.join(10)
        assert process.exitcode == -signal.SIGTERM
    assert len(timeouts) == 2 and sum(timeouts) <= 0.5


CPU_SHARE_SCRIPT = """\
import os, sys
import numpy, threadpoolctl
import hpotrack as hp

def variable(name):
    return int(os.environ.get(name, -1))

@hp.tune({'x': (0.0, 1.0)}, method='random', study='s', db='h.db')
def f(x):
    blas = [p['num_threads'] for p in threadpoolctl.threadpool_info() if p['user_api'] == 'blas']
    return {'value': x, 'blas': max(blas), 'omp': variable('OMP_NUM_THREADS'),
            'openblas': variable('OPENBLAS_NUM_THREADS'), 'loky': variable('LOKY_MAX_CPU_COUNT')}

if __name__ == '__main__':
    f.optimize(n_trials=2, n_jobs=2)
    print(variable('OPENBLAS_NUM_THREADS'), variable('LOKY_MAX_CPU_COUNT'))
"""


def _worker_metrics(folder: Path) -> list[dict[str, Any]]:
    """Run :data:`CPU_SHARE_SCRIPT` (two trials, two workers): each trial's metrics."""
    done = run_source(folder, CPU_SHARE_SCRIPT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["-1", "-1"]  # the parent's environment is as it was
    trials = hp.load_study("s", db=folder / "h.db").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2, [t.error for t in trials]
    return [t.metrics for t in trials]


def test_workers_share_the_cpus_instead_of_each_running_a_thread_per_cpu(
    tmp_path: Path, no_thread_variables: pytest.MonkeyPatch
) -> None:
    """Each worker's BLAS (loaded as the script is imported, before the worker runs
    anything of hpotrack's) and OpenMP pools had a thread per CPU: n_jobs=2 on 2 CPUs ran
    4 busy threads and took 2-4 times as long as n_jobs=1. Now each worker gets its
    share, and joblib's n_jobs=-1 in a trial counts that share too."""
    share = max(1, workers.usable_cpus() // 2)
    for metrics in _worker_metrics(tmp_path):
        assert metrics["blas"] == share
        assert metrics["omp"] == metrics["openblas"] == metrics["loky"] == share


def test_thread_variables_the_user_set_are_left_to_them(
    tmp_path: Path, no_thread_variables: pytest.MonkeyPatch
) -> None:
    """OMP_NUM_THREADS set by the user also sizes OpenBLAS's pool: hpotrack sets none of
    the thread variables then (OPENBLAS_NUM_THREADS would override theirs)."""
    no_thread_variables.setenv("OMP_NUM_THREADS", "1")
    share = max(1, workers.usable_cpus() // 2)
    for metrics in _worker_metrics(tmp_path):
        assert (metrics["omp"], metrics["openblas"], metrics["loky"]) == (1, -1, share)


def test_a_trial_in_a_worker_may_start_processes(tmp_path: Path) -> None:
    """Workers are daemonic processes (they end with the parent), which may not start
    processes: a trial using multiprocessing (a Pool, a PyTorch DataLoader with workers)
    failed with n_jobs=2 and ran with n_jobs=1; joblib ran its jobs one by one, warning."""
    done = run_script(
        tmp_path,
        "import multiprocessing, time\n"
        "@hp.tune({'x': (0.0, 1.0)}, method='random', study='child', db='h.db')\n"
        "def g(x):\n"
        "    child = multiprocessing.get_context('fork').Process(target=time.sleep, args=(0,))\n"
        "    child.start()\n"
        "    child.join()\n"
        "    return child.exitcode\n"
        "if __name__ == '__main__':\n    g.optimize(n_trials=2, n_jobs=2)\n",
    )
    assert done.returncode == 0, done.stderr
    trials = hp.load_study("child", db=tmp_path / "h.db").trials
    assert [(t.state, t.value) for t in trials] == [(TrialState.COMPLETE, 0.0)] * 2, [
        t.error for t in trials
    ]


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs CPU affinity and two CPUs",
)
def test_n_jobs_minus_one_counts_the_cpus_this_process_may_use() -> None:
    """Under ``taskset -c 0`` (or a container's cpuset) n_jobs=-1 started a worker per
    CPU of the machine, all on the one CPU allowed."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os\n"
            "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
            "from hpotrack.run_checks import checked_run_options\n"
            "print(checked_run_options(None, -1, None, None, ())[1])\n",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1"]


def test_a_pool_of_processes_a_trial_leaves_open_does_not_keep_its_worker_waiting(
    tmp_path: Path,
) -> None:
    """A pool kept for the next trials (joblib's, reused for 300 s; here one never shut
    down) ends with a script run with n_jobs=1, through its exit hook. A worker process
    waited for its children before that hook: joblib's kept it 300 s, this one for ever."""
    done = run_script(
        tmp_path,
        "import concurrent.futures, multiprocessing\n"
        "POOL = []\n"
        "@hp.tune({'x': (0.0, 1.0)}, method='random', study='pool', db='h.db')\n"
        "def g(x):\n"
        "    if not POOL:\n"
        "        context = multiprocessing.get_context('fork')\n"
        "        POOL.append(concurrent.futures.ProcessPoolExecutor(1, mp_context=context))\n"
        "    return POOL[0].submit(abs, -x).result()\n"
        "if __name__ == '__main__':\n    g.optimize(n_trials=2, n_jobs=2)\n",
    )
    assert done.returncode == 0, done.stderr
    trials = hp.load_study("pool", db=tmp_path / "h.db").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2


def run_as_a_group(script: Path) -> tuple[int, str]:
    """Run ``script`` in its folder, in a process group of its own that is killed at the
    end, with every process it left (a hung run, a child that outlived its worker): its
    exit code and standard error."""
    run = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=script.parent,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = run.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
    return run.returncode, stderr


def test_a_pool_process_busy_when_its_worker_ends_is_ended_with_it(tmp_path: Path) -> None:
    """A pool process forked by a trial inherited the worker's SIGTERM handler: the
    worker ending it (``terminate()``) raised Terminated in its task, which the pool
    process caught as the task's failure (``except BaseException``), and it then ignored
    every SIGTERM: the worker waited for it for ever, and ignored SIGTERM too. The same
    caught SIGTERM, in the moment after a pool process sent its result, is what rarely
    hung the test above on a loaded machine. Here each trial leaves its task running."""
    script = tmp_path / "job.py"
    script.write_text(
        "import concurrent.futures, multiprocessing, os, pathlib, time\nimport hpotrack as hp\n"
        "POOLS = []\n"
        "def task(name):\n"
        "    pathlib.Path(f'{name}.part').write_text(str(os.getpid()))\n"
        "    os.replace(f'{name}.part', name)  # whole, for the trial and the test\n"
        "    time.sleep(600)\n"
        "@hp.tune({'x': (0.0, 1.0)}, method='random', study='pool', db='h.db')\n"
        "def g(x, trial):\n"
        "    context = multiprocessing.get_context('fork')\n"
        "    POOLS.append(concurrent.futures.ProcessPoolExecutor(1, mp_context=context))\n"
        "    started = pathlib.Path(f'task-{trial.number}')\n"
        "    POOLS[-1].submit(task, started.name)\n"
        "    while not started.exists():\n"
        "        time.sleep(0.01)\n"
        "    return x\n"
        "if __name__ == '__main__':\n    g.optimize(n_trials=2, n_jobs=2)\n"
    )
    returncode, stderr = run_as_a_group(script)
    assert returncode == 0, stderr
    trials = hp.load_study("pool", db=tmp_path / "h.db").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    tasks = [int(path.read_text()) for path in tmp_path.glob("task-*")]
    assert len(tasks) == 2 and not any(pid_alive(pid) for pid in tasks)


@pytest.mark.parametrize("jobs", [1, 2])
def test_processes_a_trial_forks_get_the_signal_handlers_they_would_without_hpotrack(
    tmp_path: Path, jobs: int
) -> None:
    """While a trial runs, SIGTERM and SIGINT have hpotrack's handlers (a worker's, or
    the run's that store the trial as interrupted); a process the trial forked inherited
    them, so SIGTERM raised an exception there, which the process could catch, and not
    end it. A forked child gets the process's own: Python's default, or the handler the
    function set itself (kept, here for SIGINT)."""
    done = run_source(
        tmp_path,
        "import multiprocessing, signal, sys\nimport hpotrack as hp\n"
        "def mine(signum, frame):\n    pass\n"
        "def check(expected_sigint):\n"
        "    handlers = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))\n"
        "    sys.exit(0 if handlers == (signal.SIG_DFL, expected_sigint) else 1)\n"
        "def forked(expected_sigint):\n"
        "    child = multiprocessing.get_context('fork').Process(\n"
        "        target=check, args=(expected_sigint,))\n"
        "    child.start()\n    child.join()\n    return child.exitcode\n"
        "@hp.tune({'x': (0.0, 1.0)}, method='random', study='fork', db='h.db',\n"
        "         objective='default')\n"
        "def g(x):\n"
        "    default = forked(signal.default_int_handler)\n"
        "    previous = signal.signal(signal.SIGINT, mine)\n"
        "    own = forked(mine)\n"
        "    signal.signal(signal.SIGINT, previous)\n"
        "    return {'default': default, 'own': own}\n"
        f"if __name__ == '__main__':\n    g.optimize(n_trials=2, n_jobs={jobs})\n",
    )
    assert done.returncode == 0, done.stderr
    trials = hp.load_study("fork", db=tmp_path / "h.db").trials
    assert [t.metrics for t in trials] == [{"default": 0, "own": 0}] * 2, [t.error for t in trials]


def test_a_process_a_trial_started_that_ignores_sigterm_is_killed_when_its_worker_ends(
    tmp_path: Path,
) -> None:
    """A worker ends the processes its trials left running with SIGTERM as it exits, and
    waited for them: one that ignores SIGTERM kept the worker, and optimize(), waiting
    for ever. After the grace (shortened by the script, which each worker imports) it
    is killed, and the worker says so, naming it."""
    script = tmp_path / "job.py"
    script.write_text(
        "import multiprocessing, os, pathlib, signal, time\nimport hpotrack as hp\n"
        "from hpotrack import child_processes\n"
        "child_processes.GRACE_S = 0.2\n"
        "def deaf(name):\n"
        "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "    pathlib.Path(f'{name}.part').write_text(str(os.getpid()))\n"
        "    os.replace(f'{name}.part', name)  # whole, for the trial and the test\n"
        "    time.sleep(600)\n"
        "@hp.tune({'x': (0.0, 1.0)}, method='random', study='deaf', db='h.db')\n"
        "def g(x, trial):\n"
        "    started = pathlib.Path(f'child-{trial.number}')\n"
        "    context = multiprocessing.get_context('fork')\n"
        "    context.Process(target=deaf, args=(started.name,)).start()\n"
        "    while not started.exists():  # it ignores SIGTERM from now on\n"
        "        time.sleep(0.01)\n"
        "    return x\n"
        "if __name__ == '__main__':\n    g.optimize(n_trials=2, n_jobs=2)\n"
    )
    returncode, stderr = run_as_a_group(script)
    assert returncode == 0, stderr
    trials = hp.load_study("deaf", db=tmp_path / "h.db").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2, [t.error for t in trials]
    children = [int(path.read_text()) for path in tmp_path.glob("child-*")]
    assert len(children) == 2 and not any(pid_alive(pid) for pid in children)
    for pid in children:
        said = f"process {pid}, started by a trial, did not end within 0.2 s of SIGTERM"
        assert stderr.count(said) == 1, stderr


def test_a_worker_that_dies_after_a_stop_request_is_not_replaced(tmp_path: Path) -> None:
    """Trial 0 asks the study to stop (hpotrack stop from another terminal, as well) and
    its worker is then killed with kill -9: the run ends when the other worker has
    finished its trial, saying so; it started two new workers only to have them find the
    request and end."""
    done = run_source(
        tmp_path,
        "import os, signal, time\n"
        "import hpotrack as hp\n"
        "@hp.tune({'x': (0.0, 1.0)}, method='random', study='s', db='h.db', seed=0)\n"
        "def f(x, trial):\n"
        "    if trial.number == 0:\n"
        "        hp.load_study('s', db='h.db').stop()\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    time.sleep(0.2)\n"
        "    return x\n"
        "if __name__ == '__main__':\n"
        "    print(len(f.optimize(n_trials=100, n_jobs=2).trials))\n",
    )
    assert done.returncode == 0, done.stderr
    assert "starting" not in done.stderr, done.stderr
    (died,) = [line for line in done.stderr.splitlines() if "worker process died" in line]
    assert died.startswith("[hpotrack] a worker process died (killed by signal 9)")
    assert died.endswith("; the study was asked to stop, so no new worker starts"), died
    pids = {t.pid for t in hp.load_study("s", db=tmp_path / "h.db").trials}
    assert len(pids - {None}) <= 2  # the two workers of the run, no replacement

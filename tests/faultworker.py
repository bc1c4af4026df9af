"""Worker processes for the stress and fault tests, and what the tests use to drive them.

``python tests/faultworker.py FUNCTION N_TRIALS`` optimizes one of the tuned functions below
on the database in ``HPOTRACK_DB`` (``N_TRIALS`` may be ``none``). With
``FAULTWORKER_BARRIER=DIR`` it first writes ``DIR/ready-<pid>`` and waits for ``DIR/go``,
so that processes start together (imports take longer than a small study). An exception
that ends the run is also written to stderr as one line, ``worker error: <module>.<class>:
<message>``, before its traceback, so that a test can check which error a user of the
Python API gets.

The test side (stdlib only, so the workers import it for free): :class:`Workers` starts and
kills worker processes, :func:`read_trials` reads a database the way an outside program
would (a read-only SQLite connection, one read transaction), :func:`integrity` runs
``PRAGMA integrity_check``.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hpotrack as hp
from hpotrack.provenance import run_provenance

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve()
CLI = "from hpotrack.cli import main; main()"  # `python -c CLI ...`: the CLI without PATH


def reports_of(number: int) -> int:
    """How many intermediate values trial ``number`` of the stress study reports (3-5)."""
    return 3 + number % 3


def stress_report(x: float, k: int, step: int) -> float:
    return x * x + k + 1.0 / (step + 1)


@hp.tune({"x": hp.Float(-1.0, 1.0), "k": hp.Int(0, 9)}, study="stress", seed=1)
def stress(x: float, k: int, trial: hp.Trial) -> dict[str, float]:
    """No pauses: the storage layer is all that runs."""
    n = reports_of(trial.number)
    for step in range(n):
        trial.report(stress_report(x, k, step), step=step)
    return {"value": x * x + k, "reports": n}


@hp.tune({"x": hp.Float(-1.0, 1.0)}, study="crashy", seed=2)
def crashy(x: float, trial: hp.Trial) -> dict[str, float]:
    """Three reports after pauses of ``FAULTWORKER_PAUSE`` seconds (default 0), so that a
    kill lands inside a trial most of the time; report ``step`` is ``x + step``."""
    pause = float(os.environ.get("FAULTWORKER_PAUSE", "0"))
    for step in range(3):
        if pause:
            time.sleep(pause)
        trial.report(x + step, step=step)
    return {"value": x * x, "double": 2.0 * x}


def resumable_loss(x: float, step: int) -> float:
    """What trial ``x`` of the resumable study reports at ``step``, whoever trains it."""
    return (x - 0.3) ** 2 + 1.0 / step


class CheckpointMismatch(Exception):
    """What the resumable study's function raises when it is handed a checkpoint that
    does not fit the trial (it fails the trial with this error, not "worker lost")."""


@hp.tune({"x": hp.Float(-1.0, 1.0)}, method="hyperband", study="resumable", seed=3,
         budget=hp.Budget(1, 9))  # fmt: skip
def resumable(x: float, trial: hp.Trial) -> float:
    """Hyperband (rungs at 1, 3, 9) with a checkpoint at every step: each step trains for
    half of ``FAULTWORKER_PAUSE`` seconds (default 0), saves ``{"x": x, "step": step}``,
    evaluates for the other half and reports :func:`resumable_loss`, so that a kill lands
    inside a trial, sometimes between a save and its report. It starts by checking that
    the checkpoint it is given fits: none from step 1, else one of its own configuration
    saved at the step before ``trial.steps``."""
    half = float(os.environ.get("FAULTWORKER_PAUSE", "0")) / 2
    start = trial.load_checkpoint()
    first = trial.steps.start
    fits = first == 1 if start is None else start == {"x": x, "step": first - 1}
    if not fits:
        raise CheckpointMismatch(
            f"trial {trial.number} (x={x!r}) trains steps {first}-{trial.steps.stop - 1} "
            f"but was given the checkpoint {start!r}"
        )
    loss = math.nan
    for step in trial.steps:
        if half:
            time.sleep(half)  # training
        trial.save_checkpoint({"x": x, "step": step}, step=step)
        if half:
            time.sleep(half)  # evaluating
        loss = resumable_loss(x, step)
        trial.report(loss, step=step)
    return loss


FUNCTIONS = {"stress": stress, "crashy": crashy, "resumable": resumable}


def main(argv: list[str]) -> None:
    name = argv[0]
    n_trials = int(argv[1]) if len(argv) > 1 and argv[1] != "none" else None
    barrier = os.environ.get("FAULTWORKER_BARRIER")
    if barrier:  # imported and ready: wait for the others, so that all start at once
        FUNCTIONS[name].study  # noqa: B018 - connected, and the study opened
        run_provenance(FUNCTIONS[name].fn)  # `git rev-parse` (cached) is slow to spawn
        Path(barrier, f"ready-{os.getpid()}").touch()
        while not Path(barrier, "go").exists():
            time.sleep(0.005)
    try:
        FUNCTIONS[name].optimize(n_trials=n_trials, progress=False)
    except BaseException as exc:
        kind = type(exc)
        message = str(exc).replace("\n", " | ")
        print(f"worker error: {kind.__module__}.{kind.__qualname__}: {message}", file=sys.stderr)
        raise


# -- the test side ----------------------------------------------------------------------


def worker_env(db: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker process on ``db``."""
    return {**os.environ, "HPOTRACK_DB": str(db), "PYTHONPATH": str(ROOT), **extra}


@dataclass
class Workers:
    """Worker processes on one database; :meth:`close` SIGKILLs those still running."""

    db: Path
    logs: Path
    env: dict[str, str] = field(default_factory=dict)
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    killed: set[int] = field(default_factory=set)

    def start(self, name: str, n_trials: int | None, **env: str) -> subprocess.Popen[bytes]:
        """Start ``optimize(n_trials)`` of ``FUNCTIONS[name]`` (``env``: for this one)."""
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"worker{len(self.started)}.log"
        with open(log, "wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, str(WORKER), name, "none" if n_trials is None else str(n_trials)],
                env=worker_env(self.db, **self.env, **env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        self.started.append(process)
        return process

    def release(self, barrier: Path, timeout: float = 120) -> None:
        """Once every started worker waits at ``barrier``, let them all go at once."""
        deadline = time.monotonic() + timeout
        while len(list(barrier.glob("ready-*"))) < len(self.started):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.started):
                raise AssertionError("the workers did not all reach the barrier")
            time.sleep(0.01)
        (barrier / "go").touch()

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.started if p.poll() is None]

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """``kill -9`` one of our workers and reap it (a zombie's pid would look alive)."""
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            self.killed.add(process.pid)
        process.wait(timeout=60)

    def wait(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        for process in self.started:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))

    def close(self) -> None:
        for process in self.alive():
            self.kill(process)

    def log(self, index: int) -> str:
        return (self.logs / f"worker{index}.log").read_text(errors="replace")

    def problems(self) -> list[str]:
        """Logs of workers that were not killed but failed, and any traceback."""
        found = []
        for index, process in enumerate(self.started):
            text = self.log(index)
            unexpected_exit = process.pid not in self.killed and process.returncode != 0
            if unexpected_exit or "Traceback" in text or "locked" in text.lower():
                found.append(
                    f"worker {index} (pid {process.pid}, exit {process.returncode}):\n{text}"
                )
        return found


@contextmanager
def workers(db: Path, logs: Path, **env: str) -> Iterator[Workers]:
    pool = Workers(db, logs, env)
    try:
        yield pool
    finally:
        pool.close()


@dataclass(frozen=True)
class Stored:
    """One trial row as an outside reader sees it."""

    number: int
    state: str
    params: dict[str, Any]
    value: float | None
    metrics: dict[str, Any]
    error: str | None
    pid: int | None
    retried_from: tuple[int, ...]
    reports: Mapping[tuple[str, int], float]


def read_trials(db: Path, study: str) -> dict[int, Stored]:
    """Every trial of ``study`` by number, read in one transaction through a read-only
    connection; empty while the file or its tables do not exist yet."""
    if not db.exists():
        return {}
    uri = f"file:{db}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=60, isolation_level=None)) as conn:
            conn.execute("BEGIN")
            row = conn.execute("SELECT id FROM studies WHERE name = ?", (study,)).fetchone()
            if row is None:
                return {}
            study_id = row[0]
            reports: dict[int, dict[tuple[str, int], float]] = {}
            for trial_id, name, step, value in conn.execute(
                "SELECT m.trial_id, m.name, m.step, m.value FROM metrics m "
                "JOIN trials t ON t.id = m.trial_id WHERE t.study_id = ?",
                (study_id,),
            ):
                reports.setdefault(trial_id, {})[(name, step)] = value
            retried: dict[int, list[int]] = {}
            for child, parent in conn.execute(
                "SELECT child, parent FROM lineage WHERE study_id = ? AND kind = 'retried'",
                (study_id,),
            ):
                retried.setdefault(child, []).append(parent)
            trials = {
                number: Stored(
                    number=number,
                    state=state,
                    params=json.loads(params),
                    value=value,
                    metrics=json.loads(metrics) if metrics else {},
                    error=error,
                    pid=pid,
                    retried_from=tuple(sorted(retried.get(number, ()))),
                    reports=reports.get(trial_id, {}),
                )
                for trial_id, number, state, params, value, metrics, error, pid in conn.execute(
                    "SELECT id, number, state, params, value, metrics, error, pid FROM trials "
                    "WHERE study_id = ? ORDER BY number",
                    (study_id,),
                )
            }
            conn.execute("COMMIT")
            return trials
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return {}
        raise


def integrity(db: Path) -> str:
    """``PRAGMA integrity_check`` through a fresh connection ("ok" when healthy)."""
    with closing(sqlite3.connect(db, timeout=60)) as conn:
        return "; ".join(str(row[0]) for row in conn.execute("PRAGMA integrity_check"))


def counted(trials: Mapping[int, Stored]) -> int:
    """Trials that count toward the target: all but queued ones, less those a retry
    replaces (each retried trial stands in for the lost trial it points at)."""
    return sum(t.state != "queued" for t in trials.values()) - sum(
        bool(t.retried_from) for t in trials.values()
    )


if __name__ == "__main__":
    main(sys.argv[1:])

"""Finding trials whose worker died, and keeping live workers visibly alive.

A running trial is lost when its process is gone (same host: the pid no longer exists, or
is a zombie) or when its heartbeat is older than :data:`GRACE_S` (any host; this also
catches a pid reused by an unrelated process). Each process refreshes the heartbeat of its
running trials from one background thread with its own connection, every
:data:`INTERVAL_S` seconds, while the user's function runs.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from hpotrack.provenance import hostname
from hpotrack.store import RunningTrial, Store

INTERVAL_S = 5.0
GRACE_S = 60.0


def lost_reason(trial: RunningTrial, now: float) -> str | None:
    """Why the worker of a running trial is considered gone, or None if it may be alive."""
    if trial.host == hostname() and trial.pid is not None:
        if trial.pid == os.getpid():
            return None  # this very process: it is running the trial right now
        if not pid_alive(trial.pid):
            return f"worker lost: process {trial.pid} on {trial.host} is gone"
    if trial.heartbeat is not None and now - trial.heartbeat > GRACE_S:
        return (
            f"worker lost: no heartbeat from process {trial.pid} on {trial.host} "
            f"for {now - trial.heartbeat:.0f} s"
        )
    return None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists and is not a zombie (on this host)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): trust kill()


class Heartbeat:
    """One daemon thread per process and database that refreshes running trials."""

    def __init__(self, path: Path, interval: float | None = None) -> None:
        self._path = path
        self._interval = INTERVAL_S if interval is None else interval
        self._trials: set[int] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, trial_id: int) -> None:
        with self._lock:
            self._trials.add(trial_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="hpotrack-heartbeat", daemon=True
                )
                self._thread.start()

    def discard(self, trial_id: int) -> None:
        with self._lock:
            self._trials.discard(trial_id)

    def _run(self) -> None:
        store: Store | None = None
        while not self._wake.wait(self._interval):
            with self._lock:
                trials = sorted(self._trials)
            if not trials:
                continue
            if store is None:
                store = Store(self._path)  # its own connection: never shares a transaction
            try:
                store.beat(trials, time.time())
            except Exception:  # a missed beat is retried at the next interval
                continue


_beats: dict[tuple[int, Path], Heartbeat] = {}


def heartbeat_for(path: Path) -> Heartbeat:
    """This process's heartbeat thread for the database at ``path``."""
    key = (os.getpid(), path.resolve())
    if key not in _beats:
        _beats[key] = Heartbeat(path)
    return _beats[key]

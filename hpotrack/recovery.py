"""Finding trials whose worker died, and keeping live workers visibly alive.

A running trial is lost when its process is gone (same host: the pid no longer exists, or
is a zombie) or when its heartbeat is older than :data:`GRACE_S` (any host; this also
catches a pid reused by an unrelated process). Each process refreshes the heartbeat of its
running trials from one background thread with its own connection, every
:data:`INTERVAL_S` seconds, while the user's function runs; the same thread writes their
buffered intermediate reports about every :data:`FLUSH_S` seconds.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from hpotrack.provenance import hostname
from hpotrack.store import RunningTrial, Store
from hpotrack.trial import Trial

FLUSH_S = 1.0
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
    """One daemon thread per process and database, with its own connection.

    About every :data:`FLUSH_S` seconds it writes the buffered reports of this process's
    running trials; every :data:`INTERVAL_S` seconds it refreshes their heartbeat. Locks
    are always taken in the order trial flush lock -> database, as the run loop does.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._trials: dict[int, Trial] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, trial: Trial) -> None:
        with self._lock:
            self._trials[trial.trial_id] = trial
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="hpotrack-heartbeat", daemon=True
                )
                self._thread.start()

    def discard(self, trial: Trial) -> None:
        with self._lock:
            self._trials.pop(trial.trial_id, None)

    def _run(self) -> None:
        store: Store | None = None
        last_beat = time.monotonic()
        while True:
            time.sleep(FLUSH_S)
            with self._lock:
                trials = list(self._trials.values())
            if not trials:
                continue
            store = store or Store(self._path)
            try:
                for trial in trials:
                    with trial.flush_lock:
                        rows = trial.drain()
                        try:
                            if rows:
                                with store.write():
                                    # the study may have been deleted: no orphan rows
                                    # (the study's own writes check after a refresh)
                                    if store.trial_exists(trial.trial_id):
                                        store.add_metrics(trial.trial_id, rows)
                        except BaseException:
                            trial.restore(rows)  # written with the outcome, or next round
                            raise
                if time.monotonic() - last_beat >= INTERVAL_S:
                    store.beat([trial.trial_id for trial in trials], time.time())
                    last_beat = time.monotonic()
            except Exception:  # a missed flush or beat is retried at the next round
                continue


_beats: dict[tuple[int, Path], Heartbeat] = {}  # several keys may name one file: harmless


def heartbeat_for(path: Path) -> Heartbeat:
    """This process's heartbeat thread for the database at ``path``."""
    key = (os.getpid(), path)  # not resolved: this runs once per trial
    if key not in _beats:
        _beats[key] = Heartbeat(path)
    return _beats[key]

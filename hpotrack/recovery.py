"""Finding trials whose worker died, and keeping live workers visibly alive.

A running trial is lost when its process is gone. On the same host that is exact: the
pid no longer exists, is a zombie, or now belongs to a process started after the trial
and its last heartbeat (a pid reused); a process that is alive and is the one that
claimed the trial is never lost, however long it is silent (stopped with Ctrl-Z, or busy
in a C call that holds the GIL: it will finish, and two copies of its trial must not
run), nor after the wall clock was set forward, once it refreshed its heartbeat since.
Elsewhere, or where the start time of a process cannot be read (no ``/proc``), a
heartbeat older than :data:`GRACE_S` counts as lost. Each process refreshes the
heartbeat of its running trials from one background thread with its own connection,
every :data:`INTERVAL_S` seconds, while the user's function runs; the same thread
writes their buffered intermediate reports about every :data:`FLUSH_S` seconds.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from pathlib import Path
from typing import Protocol

from hpotrack.provenance import hostname
from hpotrack.records import WORKER_LOST
from hpotrack.store import Store
from hpotrack.trial import Trial

FLUSH_S = 1.0
INTERVAL_S = 5.0
GRACE_S = 60.0
PID_REUSE_SLACK_S = 5.0  # a process started this much after the trial has reused its pid


class Worked(Protocol):
    """What tells whether a worker process is alive: where it runs, when it took its
    work (a running trial's start, :class:`~hpotrack.store.RunningTrial`; a run's
    registration, :class:`~hpotrack.store.RunSummary`) and its last heartbeat."""

    @property
    def host(self) -> str | None: ...

    @property
    def pid(self) -> int | None: ...

    @property
    def started(self) -> float | None: ...

    @property
    def heartbeat(self) -> float | None: ...


def lost_reason(trial: Worked, now: float) -> str | None:
    """Why the worker of a running trial is considered gone, or None if it may be alive
    (``hpotrack runs`` asks it of a run, with its running trials' latest heartbeat)."""
    if trial.host == hostname() and trial.pid is not None:
        if trial.pid == os.getpid():
            return None  # this very process: it is running the trial right now
        if not pid_alive(trial.pid):
            return f"{WORKER_LOST}: process {trial.pid} on {trial.host} is gone"
        began = process_start(trial.pid)
        if began is not None and trial.started is not None:
            if began > trial.started + PID_REUSE_SLACK_S and not _beat_since(trial, began, now):
                return (
                    f"{WORKER_LOST}: process {trial.pid} on {trial.host} is gone (its pid "
                    "now belongs to a process started later)"
                )
            return None  # the very process that claimed it, alive: paused or busy
    if trial.heartbeat is not None and now - trial.heartbeat > GRACE_S:
        return (
            f"{WORKER_LOST}: no heartbeat from process {trial.pid} on {trial.host} "
            f"for {now - trial.heartbeat:.0f} s"
        )
    return None


def _beat_since(trial: Worked, began: float, now: float) -> bool:
    """Whether the trial's heartbeat is fresh and was written after process ``began``
    started: then that process is the claimant, whose start only looks later than the
    claim because the wall clock was set forward since (NTP stepping it, a VM or WSL
    resyncing it): ``/proc/stat``'s boot time moves with the clock, so a process started
    after the jump reads every older process's start that much later. A reused pid's
    process started after the claimant's last beat."""
    beat = trial.heartbeat
    return beat is not None and now - beat <= GRACE_S and beat + PID_REUSE_SLACK_S >= began


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists and is not a zombie (on this host)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    fields = _stat_fields(pid)
    return fields is None or fields[0] != "Z"  # no /proc (macOS): trust kill()


def process_start(pid: int) -> float | None:
    """When process ``pid`` started (``time.time()`` scale, to about a second), from
    ``/proc``; None where that cannot be read."""
    fields = _stat_fields(pid)
    boot = _boot_time()
    if fields is None or boot is None or len(fields) < 20:
        return None
    try:
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # stat field 22: starttime
    except (ValueError, OSError):
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


@functools.cache
def _boot_time() -> float | None:
    """When this host booted (``btime`` of ``/proc/stat``), or None."""
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


class Heartbeat:
    """One daemon thread per process and database file, with its own connection to that
    file, while trials of the process run on it.

    About every :data:`FLUSH_S` seconds it writes the buffered reports of this process's
    running trials; every :data:`INTERVAL_S` seconds it refreshes their heartbeat. At the
    first round with no trial running it ends and closes its connection (the next trial
    starts it again), so a process that used many database files keeps no thread, file
    or study open for each. Locks are always taken in the order trial flush lock ->
    database, as the run loop does.
    """

    def __init__(self, path: Path, file_id: tuple[int, int]) -> None:
        self._path = path
        self._file_id = file_id  # the file the trials are stored in (Store.file_id)
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
        try:
            while True:
                time.sleep(FLUSH_S)
                with self._lock:
                    trials = list(self._trials.values())
                    if not trials:  # idle: end here; add() starts a thread again
                        self._thread = None
                        return
                try:
                    store = store or self._open()
                    if store is None:
                        continue
                    _flush(store, trials)
                    if time.monotonic() - last_beat >= INTERVAL_S:
                        store.beat([trial.trial_id for trial in trials], time.time())
                        last_beat = time.monotonic()
                except Exception:  # a missed flush or beat is retried at the next round
                    continue
        finally:
            if store is not None:
                store.close()

    def _open(self) -> Store | None:
        """Its own connection to the trials' file; None when the path names another file
        now (deleted and made anew while they run): their reports are then written with
        their outcomes, never into another database."""
        store = Store(self._path, must_exist=True)
        if store.file_id != self._file_id:
            store.close()
            return None
        return store


def _flush(store: Store, trials: list[Trial]) -> None:
    """Write the buffered reports of ``trials``."""
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


# by process, path and file: a file made anew at the path of a deleted one gets its own
_beats: dict[tuple[int, Path, tuple[int, int]], Heartbeat] = {}


def heartbeat_for(store: Store) -> Heartbeat:
    """This process's heartbeat for the database file that ``store`` has open."""
    key = (os.getpid(), store.path, store.file_id)
    if key not in _beats:
        _beats[key] = Heartbeat(store.path, store.file_id)
    return _beats[key]

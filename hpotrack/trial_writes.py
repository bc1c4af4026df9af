"""Writing a trial's life: its insert (queued or running, with its lineage edges), its
start, heartbeat, checks, reports and outcome, or its release back to the queue.
:class:`hpotrack.store.Store` has these as methods; reading trials back is
:mod:`hpotrack.trial_reads`.

Every state change of a trial stamps it with ``seq``, one more than the study's largest
``seq``, so that readers fetch only what changed (DESIGN principle 3).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

from hpotrack.errors import StorageError
from hpotrack.jsonable import dumps
from hpotrack.records import Edge, TrialState

_ADD_METRIC = (
    "INSERT OR REPLACE INTO metrics (trial_id, name, step, value, time) VALUES (?, ?, ?, ?, ?)"
)


@dataclass(frozen=True)
class Stamp:
    """What a write to a trial row assigned: its id, its change number and the time."""

    id: int
    seq: int
    time: float


class TrialWrites:
    """The statements that change a trial's row, its checks and reports, on ``conn``."""

    conn: sqlite3.Connection

    def insert_trial(
        self,
        study_id: int,
        *,
        number: int,
        state: TrialState,
        params: Mapping[str, Any],
        origin: str,
        budget: float | None = None,
        claim: str | None = None,
        parents: Sequence[Edge] = (),
        run_id: int | None = None,
        host: str | None = None,
        pid: int | None = None,
        rung: int | None = None,
        bracket: int | None = None,
        note: str | None = None,
        checks: Mapping[int, float] | None = None,
        method: str | None = None,
        chosen_by: str | None = None,
    ) -> Stamp:
        """Insert a trial (queued or running) and its lineage edges.

        Call inside :meth:`write`. ``claim`` is a key unique within the study (a grid
        cell, a rung slot): a second claim of the same key fails the transaction.
        ``checks``: the checks it starts with (a retry resuming its lost attempt's line).
        ``method``: the method that proposed it, ``chosen_by`` the one that chose that one
        (see :class:`TrialRecord`).
        """
        now = time.time()
        started = now if state is TrialState.RUNNING else None
        seq = self._next_seq(study_id)
        cursor = self.conn.execute(
            "INSERT INTO trials (study_id, number, state, params, budget, origin, claim, "
            "started, heartbeat, host, pid, run_id, parents, rung, bracket, note, seq, "
            "method, chosen_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                study_id,
                number,
                state.value,
                dumps(params),
                budget,
                origin,
                claim,
                started,
                started,
                host,
                pid,
                run_id,
                len(parents),
                rung,
                bracket,
                note,
                seq,
                method,
                chosen_by,
            ),
        )
        assert cursor.lastrowid is not None
        if checks:
            self.add_checks(cursor.lastrowid, checks, seq)
        if parents:
            self.conn.executemany(
                "INSERT INTO lineage (study_id, child, parent, kind, step, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(study_id, number, e.parent, e.kind, e.step, e.detail) for e in parents],
            )
        return Stamp(cursor.lastrowid, seq, now)

    def _next_seq(self, study_id: int) -> int:
        """The ``seq`` of the study's next state change (call inside :meth:`write`): one
        lookup in the (study_id, seq) index. Read before the statement that sets it, not
        with ``RETURNING``, which needs SQLite 3.35 (Debian 11 and Ubuntu 20.04 ship
        3.34 and 3.31)."""
        (seq,) = self.conn.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM trials WHERE study_id = ?", (study_id,)
        ).fetchone()
        return int(seq)

    def beat(self, trial_ids: Sequence[int], now: float) -> None:
        """Refresh the heartbeat of running trials (no ``seq`` change: not a state change)."""
        self.conn.execute(
            "UPDATE trials SET heartbeat = ? WHERE state = 'running' "
            "AND id IN (SELECT value FROM json_each(?))",
            (now, dumps(list(trial_ids))),
        )

    def start_queued(
        self,
        study_id: int,
        trial_id: int,
        *,
        run_id: int | None,
        host: str,
        pid: int,
        budget: float | None = None,
    ) -> Stamp:
        """Move a queued trial to running (inside :meth:`write`), with the ``budget`` it
        trains to (an enqueued trial is stored without one)."""
        now, seq = time.time(), self._next_seq(study_id)
        updated = self.conn.execute(
            "UPDATE trials SET state = 'running', started = ?, heartbeat = ?, run_id = ?, "
            "host = ?, pid = ?, budget = ?, seq = ? WHERE id = ? AND state = 'queued'",
            (now, now, run_id, host, pid, budget, seq, trial_id),
        ).rowcount
        if not updated:
            raise StorageError(f"trial id {trial_id} is not queued although the history said so")
        return Stamp(trial_id, seq, now)

    def finish_trial(
        self,
        study_id: int,
        trial_id: int,
        *,
        state: TrialState,
        value: float | None,
        metrics: Mapping[str, Any],
        error: str | None,
        when: float | None = None,
        trained: int | None = None,
    ) -> Stamp | None:
        """Record the outcome of a running trial: one statement, so atomic on its own.
        ``when`` is the time it finished (default: now); ``trained``, the budget steps it
        trained. None, and nothing written, when the trial is no longer running (another
        process marked it lost: the study has moved on without this outcome)."""
        now = time.time() if when is None else when
        seq = self._next_seq(study_id)
        updated = self.conn.execute(
            "UPDATE trials SET state = ?, value = ?, metrics = ?, error = ?, finished = ?, "
            "trained = ?, seq = ? WHERE id = ? AND state = 'running'",
            (state.value, value, dumps(metrics), error, now, trained, seq, trial_id),
        ).rowcount
        return Stamp(trial_id, seq, now) if updated else None

    def record_check(
        self, study_id: int, trial_id: int, step: int, value: float, rung: int | None
    ) -> Stamp:
        """Store a running trial's objective at a decision step (and the rung it reached):
        a state change other processes see, since their decisions compare to it. One
        row, whatever the trial's checks before it."""
        seq = self._next_seq(study_id)
        self.add_checks(trial_id, {step: value}, seq)
        self.conn.execute("UPDATE trials SET rung = ?, seq = ? WHERE id = ?", (rung, seq, trial_id))
        return Stamp(trial_id, seq, time.time())

    def add_checks(self, trial_id: int, checks: Mapping[int, float | None], seq: int) -> None:
        """Store a trial's checks (step -> value; a step stored before is replaced) as
        written by the change ``seq`` of the trial's row (call inside :meth:`write`)."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO checks (trial_id, step, value, seq) VALUES (?, ?, ?, ?)",
            [(trial_id, step, value, seq) for step, value in checks.items()],
        )

    def release_trial(self, study_id: int, trial_id: int) -> Stamp:
        """Turn a running trial that never started its function back into a queued one."""
        seq = self._next_seq(study_id)
        self.conn.execute(
            "UPDATE trials SET state = 'queued', started = NULL, heartbeat = NULL, "
            "host = NULL, pid = NULL, run_id = NULL, seq = ? WHERE id = ?",
            (seq, trial_id),
        )
        return Stamp(trial_id, seq, time.time())

    def add_metrics(
        self, trial_id: int, rows: Sequence[tuple[str, int, float | None, float | None]]
    ) -> None:
        """Store intermediate metrics (name, step, value, time); a repeated step replaces.
        A value or time may be None (an imported point without one)."""
        self.conn.executemany(
            _ADD_METRIC, [(trial_id, name, step, value, t) for name, step, value, t in rows]
        )

    def add_curve(self, trial_id: int, name: str, points: Sequence[Sequence[Any]]) -> None:
        """Store one metric's points ``[step, value, time]`` as :meth:`add_metrics` does,
        each row made by builtins (zip, map), not a Python loop: an import stores millions
        of points."""
        columns = (map(itemgetter(i), points) for i in range(3))
        self.conn.executemany(_ADD_METRIC, zip(repeat(trial_id), repeat(name), *columns))

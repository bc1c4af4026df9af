"""Every query hpotrack makes, on a :class:`~hpotrack.connection.Connection` to its file:
studies, runs, summaries, lineage and provenance here, and as methods of the store too,
the writes of each trial's life (insert, start, checks, heartbeat, outcome, reports:
:mod:`hpotrack.trial_writes`) and the reads of trials back into records
(:mod:`hpotrack.trial_reads`). The statements are plain SQL on one connection
(sqlite-utils only for an import's bulk inserts).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from hpotrack.connection import Connection
from hpotrack.heldfiles import hold
from hpotrack.jsonable import dumps
from hpotrack.records import Edge, TrialState
from hpotrack.trial_reads import TrialReads
from hpotrack.trial_writes import TrialWrites


@dataclass(frozen=True)
class RunningTrial:
    """Where a running trial runs, for finding trials whose worker died."""

    id: int
    number: int
    host: str | None
    pid: int | None
    heartbeat: float | None
    started: float | None = None


@dataclass(frozen=True)
class Proposed:
    """What a study's latest proposed trial says of its method: the method's note, the
    method that proposed it and the one that chose that one (:class:`TrialRecord`)."""

    note: str | None
    method: str | None
    chosen_by: str | None


@dataclass(frozen=True)
class StudySummary:
    """What the list of studies shows of one: trials by state, the numbers of the running
    ones, and the latest start or finish (None: no trial has either)."""

    counts: dict[TrialState, int]
    running: list[int]
    last_active: float | None


@dataclass(frozen=True)
class RunSummary:
    """A run of a study (its ``runs`` row: one process) with the trials it started, by
    state, and the latest heartbeat of those still running (None: none is), which tells
    whether a process on another host is still at it."""

    id: int
    host: str | None
    pid: int | None
    git_commit: str | None
    source_hash: str | None
    argv: str | None
    started: float | None
    counts: dict[TrialState, int]
    heartbeat: float | None


@dataclass(frozen=True)
class StudyRuns:
    """A study's runs in the order they were stored (oldest first), and its trials that
    name none of them, by state: queued ones (no run has started them yet) and those
    imported without their runs (an Optuna study, an export older than runs)."""

    runs: list[RunSummary]
    without_run: dict[TrialState, int]


@dataclass(frozen=True)
class StudyRow:
    """A study as stored: its definition (JSON columns decoded) and its target."""

    id: int
    name: str
    space: dict[str, Any]
    method: dict[str, Any]
    direction: str
    objective: str
    seed: int
    target: int | None
    function: dict[str, Any]
    created: float
    retries: int = 1
    budget: dict[str, Any] | None = None
    last_stops: dict[str, Any] = field(default_factory=dict)  # of its last run
    objectives: list[Any] | None = None  # as stored, for several (hpotrack.objectives)
    constraints: list[Any] | None = None  # as stored, if any (hpotrack.constraints)


_STUDY_COLUMNS = (
    "id, name, space, method, direction, objective, seed, target, function, created, "
    "retries, budget, last_stops, objectives, constraints"
)  # a StudyRow's, in the order _study_row reads them


class Store(TrialReads, TrialWrites, Connection):
    """An open hpotrack database file (:class:`Connection`) and every query on it."""

    def __init__(self, path: str | Path, *, must_exist: bool = False) -> None:
        super().__init__(path, must_exist=must_exist)
        # the file opened, held open: its inode is not reused while this store lives
        held = hold(self.path, database=self.path)
        self._close_file = weakref.finalize(self, held.close)
        self.file_id = held.key  # which file: the path may change

    def close(self) -> None:
        super().close()
        self._close_file()

    def replaced(self) -> bool:
        """Whether the path no longer leads to the file this store has open: deleted or
        replaced since (a notebook removing ``hpotrack.db`` to start afresh: what is
        written here would vanish with the process), or this store was closed."""
        if not self._close_file.alive:
            return True
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            return True
        return (now.st_dev, now.st_ino) != self.file_id

    # -- studies ----------------------------------------------------------------------

    def find_study(self, name: str) -> StudyRow | None:
        row = self.conn.execute(
            f"SELECT {_STUDY_COLUMNS} FROM studies WHERE name = ?",
            (name,),
        ).fetchone()
        return None if row is None else _study_row(row)

    def study_identity(self, name: str) -> tuple[int, float, dict[str, Any]] | None:
        """(id, created, method) of study ``name``: whether a handle opened earlier is
        still the stored study, read without parsing the rest of its row (its space)."""
        row = self.conn.execute(
            "SELECT id, created, method FROM studies WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else (row[0], row[1], json.loads(row[2]))

    def trial_exists(self, trial_id: int) -> bool:
        found = self.conn.execute("SELECT 1 FROM trials WHERE id = ?", (trial_id,)).fetchone()
        return found is not None

    def study_exists(self, study_id: int) -> bool:
        return self.stop_requests(study_id) is not None

    def stop_requests(self, study_id: int) -> int | None:
        """How many times study ``study_id`` was asked to stop (None: no such study),
        one lookup by primary key (:meth:`request_stop`)."""
        found = self.conn.execute(
            "SELECT stop_requests FROM studies WHERE id = ?", (study_id,)
        ).fetchone()
        return None if found is None else int(found[0])

    def request_stop(self, study_id: int) -> bool:
        """Count one more request to stop study ``study_id``: every run of it begun
        before starts no more trials (:class:`hpotrack.limits.Stops`). False when there
        is no such study."""
        cursor = self.conn.execute(
            "UPDATE studies SET stop_requests = stop_requests + 1 WHERE id = ?", (study_id,)
        )
        return cursor.rowcount == 1

    def list_studies(self) -> list[StudyRow]:
        rows = self.conn.execute(f"SELECT {_STUDY_COLUMNS} FROM studies ORDER BY name").fetchall()
        return [_study_row(r) for r in rows]

    def insert_study(
        self,
        *,
        name: str,
        space: Mapping[str, Any],
        method: Mapping[str, Any],
        direction: str,
        objective: str,
        seed: int,
        function: Mapping[str, Any],
        retries: int = 1,
        budget: Mapping[str, Any] | None = None,
        objectives: Sequence[Mapping[str, str]] | None = None,
        constraints: Sequence[Mapping[str, Any]] | None = None,
    ) -> int:
        cursor = self.conn.execute(
            "INSERT INTO studies (name, space, method, direction, objective, seed, target, "
            "function, created, retries, budget, objectives, constraints) "
            "VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)",
            (
                name,
                dumps(space),
                dumps(method),
                direction,
                objective,
                seed,
                dumps(function),
                time.time(),
                retries,
                None if budget is None else dumps(budget),
                None if objectives is None else dumps(objectives),
                None if constraints is None else dumps(constraints),
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def update_study(self, study_id: int, **fields: Any) -> None:
        """Set study columns; mappings are stored as JSON."""
        names = ", ".join(f"{name} = ?" for name in fields)
        values = [dumps(v) if isinstance(v, Mapping) else v for v in fields.values()]
        self.conn.execute(f"UPDATE studies SET {names} WHERE id = ?", (*values, study_id))

    def insert_run(self, study_id: int, provenance: Mapping[str, Any]) -> int:
        row = {"study_id": study_id, **provenance}
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        cursor = self.conn.execute(
            f"INSERT INTO runs ({columns}) VALUES ({marks})", tuple(row.values())
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def run_stored(self, run_id: int, study_id: int, pid: int, started: float) -> bool:
        """Whether ``runs`` row ``run_id`` is the one process ``pid`` stored for study
        ``study_id`` at ``started`` (a row of a file made anew at the path, or of a study
        made anew, may have its id): one lookup by primary key."""
        found = self.conn.execute(
            "SELECT 1 FROM runs WHERE id = ? AND study_id = ? AND pid = ? AND started = ?",
            (run_id, study_id, pid, started),
        ).fetchone()
        return found is not None

    # -- trials: the hot path -----------------------------------------------------------

    def summary(self, study_id: int) -> StudySummary:
        """Counts by state, running trials and last activity of a study, in one pass in
        SQLite (the list of studies shows these for every study in the file)."""
        counts = {state: 0 for state in TrialState}
        running: list[int] = []
        last: float | None = None
        for state, n, active, numbers in self.conn.execute(
            "SELECT state, COUNT(*), MAX(COALESCE(finished, started)), "
            "CASE WHEN state = 'running' THEN json_group_array(number) END "
            "FROM trials WHERE study_id = ? GROUP BY state",
            (study_id,),
        ):
            counts[TrialState(state)] = n
            if active is not None:
                last = active if last is None else max(last, active)
            if numbers is not None:
                running = sorted(json.loads(numbers))
        return StudySummary(counts, running, last)

    def trained(self, study_id: int) -> int:
        """Budget steps the study's trials trained in total (:attr:`History.trained`)."""
        (total,) = self.conn.execute(
            "SELECT COALESCE(SUM(trained), 0) FROM trials WHERE study_id = ?", (study_id,)
        ).fetchone()
        return int(total)

    def rung_checks(self, study_id: int) -> tuple[list[int], list[int]]:
        """The rungs the study's trials reached and the steps they were checked at there,
        each sorted: what any method stored (``rung``, and the trial's checks)."""
        pairs = self.conn.execute(
            "SELECT DISTINCT t.rung, c.step FROM trials t JOIN checks c ON c.trial_id = t.id "
            "WHERE t.study_id = ? AND t.rung IS NOT NULL",
            (study_id,),
        ).fetchall()
        return sorted({int(r) for r, _ in pairs}), sorted({int(s) for _, s in pairs})

    def latest_proposed(self, study_id: int, *, besides: Sequence[str]) -> Proposed | None:
        """The note and method of the newest trial whose origin is none of ``besides``
        (read backwards along the number index: the newest trials first), None if there
        is none. Not an older trial's: after a method change, the note of the method
        before is no longer true."""
        marks = ", ".join("?" * len(besides))
        row = self.conn.execute(
            f"SELECT note, method, chosen_by FROM trials WHERE study_id = ? "
            f"AND origin NOT IN ({marks}) ORDER BY number DESC LIMIT 1",
            (study_id, *besides),
        ).fetchone()
        return None if row is None else Proposed(row[0] or None, row[1], row[2])

    def claims(self, study_id: int, glob: str) -> Iterator[str]:
        """The study's claims that match ``glob`` (SQLite's GLOB), from the index of the
        trials that have one, read as they are iterated."""
        for (claim,) in self.conn.execute(
            "SELECT claim FROM trials WHERE study_id = ? AND claim IS NOT NULL AND claim GLOB ?",
            (study_id, glob),
        ):
            yield claim

    def running(self, study_id: int, numbers: Sequence[int]) -> list[RunningTrial]:
        """The trials numbered ``numbers`` that are still running, with where they run
        and their last heartbeat (the caller knows which run from its history: no index
        on the state is kept, since every trial would enter and leave it)."""
        return [
            RunningTrial(*row)
            for row in self.conn.execute(
                "SELECT id, number, host, pid, heartbeat, started FROM trials WHERE study_id = ? "
                "AND number IN (SELECT value FROM json_each(?)) AND state = 'running' "
                "ORDER BY number",
                (study_id, dumps(list(numbers))),
            )
        ]

    def steps_reported(self, trial_id: int, metric: str) -> tuple[int, int] | None:
        """(first, last) step a trial reported ``metric`` at, None if it never did: two
        lookups in the metrics table's primary key."""
        first, last = self.conn.execute(
            "SELECT MIN(step), MAX(step) FROM metrics WHERE trial_id = ? AND name = ?",
            (trial_id, metric),
        ).fetchone()
        return None if first is None else (first, last)

    def last_report_time(self, trial_id: int) -> float | None:
        """When a trial's latest stored report was made, None if it stored none."""
        row = self.conn.execute(
            "SELECT MAX(time) FROM metrics WHERE trial_id = ?", (trial_id,)
        ).fetchone()
        return None if row is None else row[0]

    def children(self, study_id: int, parent: int) -> list[tuple[int, Edge]]:
        """(child number, edge) for every lineage edge out of trial ``parent``, by child
        and kind. Sorted here, not by ``ORDER BY``: SQLite then walked the primary key
        ``(study_id, child, parent, kind)`` through every edge of the study to skip a sort
        (``lineage STUDY 0`` of an evolution study of 4,000 trials took 6 s) instead of
        reading the few rows of the ``(study_id, parent)`` index."""
        rows = self.conn.execute(
            "SELECT child, kind, step, detail FROM lineage WHERE study_id = ? AND parent = ?",
            (study_id, parent),
        )
        return [
            (child, Edge(parent, kind, step, detail))
            for child, kind, step, detail in sorted(rows, key=itemgetter(0, 1))
        ]

    def edges(self, study_id: int) -> list[tuple[int, Edge]]:
        """(child number, edge) for every lineage edge of the study, by child, each
        child's in the order its record lists them: the study's lineage without its
        trials (its rows found by the study's index, then sorted)."""
        rows = self.conn.execute(
            "SELECT child, parent, kind, step, detail FROM lineage WHERE study_id = ? "
            "ORDER BY rowid",
            (study_id,),
        )
        edges = [
            (child, Edge(parent, kind, step, detail)) for child, parent, kind, step, detail in rows
        ]
        return sorted(edges, key=itemgetter(0))

    def provenance(self, study_id: int, number: int) -> dict[str, Any]:
        """The ``runs`` row (host, pid, python, git commit, source hash...) of a trial."""
        cursor = self.conn.execute(
            "SELECT r.host, r.pid, r.python, r.platform, r.git_commit, r.source_hash, r.argv, "
            "r.started FROM trials t JOIN runs r ON r.id = t.run_id "
            "WHERE t.study_id = ? AND t.number = ?",
            (study_id, number),
        )
        row = cursor.fetchone()
        if row is None:
            return {}
        return dict(zip([d[0] for d in cursor.description], row, strict=True))

    def runs(self, study_id: int) -> StudyRuns:
        """The study's runs with their trials counted by state (``hpotrack runs``): one
        pass over the study's trials grouped by run and state, whose rows (params and
        all) are never decoded, then its ``runs`` rows. Read in that order, a run that
        registers in between is listed with no trials, and no trial counts as without a
        run because its run was stored after the runs were read. Call inside
        :meth:`reading`."""
        counts: dict[int | None, dict[TrialState, int]] = {}
        beats: dict[int, float] = {}
        for run_id, state, n, beat in self.conn.execute(
            "SELECT run_id, state, COUNT(*), MAX(heartbeat) FROM trials WHERE study_id = ? "
            "GROUP BY run_id, state",
            (study_id,),
        ):
            counts.setdefault(run_id, {})[TrialState(state)] = n
            if state == TrialState.RUNNING.value and beat is not None:
                beats[run_id] = beat
        rows = self.conn.execute(
            "SELECT id, host, pid, git_commit, source_hash, argv, started FROM runs "
            "WHERE study_id = ? ORDER BY id",
            (study_id,),
        )
        runs = [
            RunSummary(
                run_id,
                host,
                pid,
                commit,
                source,
                argv,
                started,
                counts=counts.pop(run_id, {}),
                heartbeat=beats.get(run_id),
            )
            for run_id, host, pid, commit, source, argv, started in rows
        ]
        without: dict[TrialState, int] = {}
        for by_state in counts.values():  # NULL, or a run_id no row of this study has
            for state, n in by_state.items():
                without[state] = without.get(state, 0) + n
        return StudyRuns(runs, without)

    def first_run_argv(self, study_id: int) -> str | None:
        """The ``argv`` column of the study's first run (None when it has no run, or
        that run stored none): what ``hpotrack resume`` gives the script again."""
        row = self.conn.execute(
            "SELECT argv FROM runs WHERE study_id = ? ORDER BY id LIMIT 1", (study_id,)
        ).fetchone()
        return None if row is None else row[0]

    def delete_study(self, study_id: int) -> None:
        """Remove a study and everything recorded for it (call inside :meth:`write`)."""
        trial_ids = "SELECT id FROM trials WHERE study_id = ?"
        self.conn.execute(f"DELETE FROM metrics WHERE trial_id IN ({trial_ids})", (study_id,))
        self.conn.execute(f"DELETE FROM checks WHERE trial_id IN ({trial_ids})", (study_id,))
        self.conn.execute(f"DELETE FROM checkpoints WHERE trial_id IN ({trial_ids})", (study_id,))
        for table in ("lineage", "trials", "runs"):
            self.conn.execute(f"DELETE FROM {table} WHERE study_id = ?", (study_id,))
        self.conn.execute("DELETE FROM studies WHERE id = ?", (study_id,))

    def checkpoint_dir(self, study_name: str) -> Path:
        """Where a study's checkpoint files live: ``<db>.ckpt/<name>-<hash>/`` beside the
        file. The hash of the exact name keeps two studies apart even when their names
        differ only in characters a folder name cannot hold, and no name maps to ``.``
        or ``..``."""
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in study_name)[:48]
        digest = hashlib.sha256(study_name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        return self.checkpoint_root / f"{safe}-{digest}"

    @property
    def checkpoint_root(self) -> Path:
        """The folder of every study's checkpoints: ``<db>.ckpt/``."""
        return self.path.with_name(self.path.name + ".ckpt")


def _study_row(row: Sequence[Any]) -> StudyRow:
    return StudyRow(
        id=row[0],
        name=row[1],
        space=json.loads(row[2]),
        method=json.loads(row[3]),
        direction=row[4],
        objective=row[5],
        seed=row[6],
        target=row[7],
        function=json.loads(row[8]) if row[8] else {},
        created=row[9],
        retries=1 if row[10] is None else row[10],
        budget=json.loads(row[11]) if row[11] else None,
        last_stops=_json_object(row[12]),
        objectives=_json_list(row[13]),
        constraints=_json_list(row[14]),
    )


def _json_object(text: str | None) -> dict[str, Any]:
    """A JSON object column (None, or anything else a hand edit left there: {})."""
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _json_list(text: str | None) -> list[Any] | None:
    """A JSON list column (None when NULL or not a list: a hand edit)."""
    try:
        value = json.loads(text) if text else None
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None


# Stores in use, by process and file; one nobody uses any more is dropped (and closed by
# its finalizer), so a process that opens many databases does not keep them all open.
_open: weakref.WeakValueDictionary[tuple[int, Path], Store] = weakref.WeakValueDictionary()


def open_store(path: str | Path, *, must_exist: bool = False) -> Store:
    """The process's shared connection to ``path`` (one per process and file; a new one
    when the file was deleted or replaced since)."""
    key = (os.getpid(), Path(path).resolve())
    store = _open.get(key)
    if store is not None and store.replaced():
        store.close()
        store = None
    if store is None:
        store = _open[key] = Store(path, must_exist=must_exist)
    return store


def close_stores() -> None:
    """Close every connection this process opened (tests, forked children)."""
    for store in list(_open.values()):
        store.close()
    _open.clear()

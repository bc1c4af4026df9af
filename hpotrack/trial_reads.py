"""Reading trials back from the file: the incremental read every process makes before it
decides, the reads of a few trials (by number, by state, the best ones), each with its
lineage edges and checks, and a trial's intermediate reports. :class:`hpotrack.store.Store`
has these as methods.

Incremental reads: every state change of a trial stamps it with ``seq``, one more than the
study's largest ``seq``; a check is stamped with its trial's. Writers are serialised, so
a reader that has seen ``seq <= S`` has seen every change up to S, and the next read asks
only for ``seq > S`` (DESIGN principle 3).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any

from hpotrack.checkmap import CheckMap
from hpotrack.jsonable import dumps
from hpotrack.records import Edge, TrialRecord, TrialState

_TRIAL_COLUMNS = (
    "id, number, state, params, value, metrics, budget, origin, started, finished, "
    "error, claim, host, pid, seq, parents, rung, bracket, note, trained, checks"
)


class TrialReads:
    """The queries that turn trial rows into :class:`TrialRecord`s, on ``conn``."""

    conn: sqlite3.Connection

    def trials_since(
        self, study_id: int, seq: int, new_from: int = 0
    ) -> list[tuple[int, int, TrialRecord]]:
        """(id, seq, record) of every trial changed after ``seq``, by number.

        Each row appears once, at its latest state; ordering by number (not seq) means a
        new trial always follows the ones numbered before it, even when those changed later.
        Lineage edges never change after insertion, so they are read only for trials
        numbered ``new_from`` or more (the others come back with no parents). A record's
        ``checks`` are those written after ``seq``: checks are only ever added (or a step
        written again), so a reader that has the trial's earlier ones adds these to them,
        and a check costs a reader one row, not the trial's every check so far (but those
        of an hpotrack older than schema 8, which come whole: see :func:`_trial_record`).
        """
        rows = self.conn.execute(
            f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE study_id = ? AND seq > ? ORDER BY number",
            (study_id, seq),
        ).fetchall()
        if not rows:
            return []
        numbers = [r[1] for r in rows if r[1] >= new_from and r[15]]
        edges = self._edges(study_id, numbers) if numbers else {}
        checks = self._checks_since(study_id, seq)
        return [
            (r[0], r[14], _trial_record(r, edges.get(r[1], ()), checks.get(r[0], {}))) for r in rows
        ]

    def _checks_since(self, study_id: int, seq: int) -> dict[int, dict[int, float]]:
        """Trial id -> {step: value} of the checks written after ``seq``: along the index
        of the trials changed since, then each one's checks written since."""
        return _by_trial(
            self.conn.execute(
                "SELECT c.trial_id, c.step, c.value FROM trials t "
                "JOIN checks c ON c.trial_id = t.id AND c.seq > ?2 "
                "WHERE t.study_id = ?1 AND t.seq > ?2 ORDER BY c.trial_id, c.step",
                (study_id, seq),
            )
        )

    def _checks(self, trial_ids: Sequence[int]) -> dict[int, dict[int, float]]:
        """Trial id -> {step: value} of every check of those trials."""
        return _by_trial(
            self.conn.execute(
                "SELECT trial_id, step, value FROM checks "
                "WHERE trial_id IN (SELECT value FROM json_each(?)) ORDER BY trial_id, step",
                (dumps(list(trial_ids)),),
            )
        )

    def trials_numbered(self, study_id: int, numbers: Sequence[int]) -> list[TrialRecord]:
        """The trials numbered ``numbers`` that exist, with their lineage edges, by number:
        a lookup each in the (study_id, number) index, for reads of a few trials (one and
        its ancestors) that need not read the study."""
        where = "number IN (SELECT value FROM json_each(?)) ORDER BY number"
        return self._records_where(study_id, where, dumps(list(numbers)))

    def best_complete(self, study_id: int, direction: str, limit: int = 1) -> list[TrialRecord]:
        """The ``limit`` best complete trials with a value, best first, ties by number: the
        order in which :attr:`History.best` keeps the first one it reads (NaN is stored as
        NULL, so it has no value). One pass in SQLite over the study's rows, none in
        Python: a complete trial's value has no index (it would cost every finishing
        trial's commit a page)."""
        order = "ASC" if direction == "minimize" else "DESC"
        where = f"state = 'complete' AND value IS NOT NULL ORDER BY value {order}, number LIMIT ?"
        return self._records_where(study_id, where, limit)

    def trials_in_states(self, study_id: int, states: Collection[str]) -> list[TrialRecord]:
        """The trials in any of ``states``, with their lineage edges, by number: one pass in
        SQLite along the (study_id, number) index, decoding only those (``hpotrack show
        --state failed`` of a large study shows a few of its rows). No index on the state:
        every trial would enter and leave it."""
        where = "state IN (SELECT value FROM json_each(?)) ORDER BY number"
        return self._records_where(study_id, where, dumps(sorted(states)))

    def _records_where(self, study_id: int, where: str, argument: Any) -> list[TrialRecord]:
        """The records of the study's trials that meet ``where`` (SQL after ``study_id =
        ? AND``, with one more parameter, ``argument``), with their edges and checks."""
        rows = self.conn.execute(
            f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE study_id = ? AND {where}",
            (study_id, argument),
        ).fetchall()
        return self._records(study_id, rows)

    def _records(self, study_id: int, rows: Sequence[Sequence[Any]]) -> list[TrialRecord]:
        """Trial records of full ``_TRIAL_COLUMNS`` rows, with their lineage edges and
        checks."""
        numbers = [r[1] for r in rows if r[15]]
        edges = self._edges(study_id, numbers) if numbers else {}
        checks = self._checks([r[0] for r in rows]) if rows else {}
        return [_trial_record(r, edges.get(r[1], ()), checks.get(r[0], {})) for r in rows]

    def curve(self, study_id: int, number: int) -> list[tuple[str, int, float, float]]:
        """Intermediate metrics (name, step, value, time) of one trial, by name and step."""
        return [
            (name, step, value, t)
            for name, step, value, t in self.conn.execute(
                "SELECT m.name, m.step, m.value, m.time FROM metrics m "
                "JOIN trials t ON t.id = m.trial_id WHERE t.study_id = ? AND t.number = ? "
                "ORDER BY m.name, m.step",
                (study_id, number),
            )
        ]

    def metric_points(
        self, study_id: int, number: int, name: str
    ) -> Iterator[tuple[int, float | None]]:
        """(step, value) of one intermediate metric of one trial, by step: a cursor, read
        as it is consumed, not a list (a curve reported every batch has 100,000s)."""
        return self.conn.execute(
            "SELECT m.step, m.value FROM metrics m JOIN trials t ON t.id = m.trial_id "
            "WHERE t.study_id = ? AND t.number = ? AND m.name = ? ORDER BY m.step",
            (study_id, number, name),
        )

    def metric_at(
        self, study_id: int, number: int, name: str, step: int
    ) -> tuple[int, float | None] | None:
        """The last (step, value) of a trial's metric ``name`` at or before ``step``, None
        if it has none: one lookup in the metrics table's primary key."""
        row = self.conn.execute(
            "SELECT m.step, m.value FROM metrics m JOIN trials t ON t.id = m.trial_id "
            "WHERE t.study_id = ? AND t.number = ? AND m.name = ? AND m.step <= ? "
            "ORDER BY m.step DESC LIMIT 1",
            (study_id, number, name, step),
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def metric_names(self, study_id: int) -> set[str]:
        """The names of the intermediate metrics the study's trials reported."""
        return {
            name
            for (name,) in self.conn.execute(
                "SELECT DISTINCT m.name FROM metrics m JOIN trials t ON t.id = m.trial_id "
                "WHERE t.study_id = ?",
                (study_id,),
            )
        }

    def _edges(self, study_id: int, children: Sequence[int]) -> dict[int, tuple[Edge, ...]]:
        found: dict[int, list[Edge]] = {}
        for child, parent, kind, step, detail in self.conn.execute(
            "SELECT child, parent, kind, step, detail FROM lineage WHERE study_id = ? "
            "AND child IN (SELECT value FROM json_each(?)) ORDER BY rowid",
            (study_id, dumps(list(children))),
        ):
            found.setdefault(child, []).append(Edge(parent, kind, step, detail))
        return {child: tuple(edges) for child, edges in found.items()}


def _by_trial(rows: Iterable[tuple[int, int, float]]) -> dict[int, dict[int, float]]:
    """Trial id -> {step: value} of (trial id, step, value) rows."""
    found: dict[int, dict[int, float]] = {}
    for trial_id, step, value in rows:
        found.setdefault(trial_id, {})[step] = value
    return found


def _trial_record(
    row: Sequence[Any], parents: tuple[Edge, ...], checks: dict[int, float]
) -> TrialRecord:
    """A trial's record; its checks a :class:`CheckMap`, which later checks extend in O(1).
    ``checks`` are the trial's rows of table ``checks``; the column ``trials.checks``,
    which migration 7 -> 8 empties, is read too: a process of an hpotrack older than
    schema 8, started before a newer one migrated the file, still writes its trials'
    checks there (each time all of them), and they were lost to every newer reader and
    to exports."""
    if row[20]:
        checks = {**checks, **{int(k): v for k, v in json.loads(row[20]).items()}}
    return TrialRecord.from_fields(
        {
            "number": row[1],
            "state": TrialState(row[2]),
            "params": json.loads(row[3]),
            "value": row[4],
            "metrics": json.loads(row[5]) if row[5] else {},
            "budget": row[6],
            "origin": row[7],
            "parents": parents,
            "started": row[8],
            "finished": row[9],
            "error": row[10],
            "claim": row[11],
            "host": row[12],
            "pid": row[13],
            "rung": row[16],
            "bracket": row[17],
            "checks": CheckMap(checks) if checks else {},
            "note": row[18],
            "trained": row[19],
        }
    )

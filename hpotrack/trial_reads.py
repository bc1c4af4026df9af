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
from bisect import bisect_left
from collections.abc import Collection, Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any

from hpotrack.checkmap import CheckMap
from hpotrack.jsonable import dumps
from hpotrack.records import Edge, TrialRecord, TrialState

_TRIAL_COLUMNS = (
    "id, number, state, params, value, metrics, budget, origin, started, finished, "
    "error, claim, host, pid, seq, parents, rung, bracket, note, trained, checks, method, "
    "chosen_by"
)


# A read of trials and their checks must see one state of the file: a check another
# process commits between two statements would sit beside an older row (the check of
# rung 1 beside rung=0). Every change to a study's trials and checks stamps them with a
# seq above all the study had, so the checks statement, which reads the study's latest
# seq too, tells when something was committed after the trials' statement: then both are
# read again in one statement, which SQLite reads from one snapshot. Its rows are the
# trial columns, a check's step and value, then the kind: 0 for a trial, 1 for a check,
# which has its trial's id first and NULL in the other trial columns (26 columns instead
# of 3: a check takes three times as long to read; the two statements are the common
# case).
_STEP = _TRIAL_COLUMNS.count(",") + 1
_KIND = _STEP + 2
_NO_CHECK = "NULL AS step, NULL AS check_value, 0 AS kind"
_CHECK = "NULL, " * (_STEP - 1) + "c.step, c.value, 1"
_CHECKS_AFTER_TRIALS = "kind, {order}, id, step"  # ORDER BY: each trial's checks by step

_SINCE = f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE study_id = ?1 AND seq > ?2 ORDER BY number"
# The checks statements begin with a row (NULL, NULL, the study's latest seq) that says
# whether anything was committed to the study since the trials' statement.
_LATEST_ROW = "SELECT NULL, NULL, MAX(seq) FROM trials WHERE study_id = ?1 UNION ALL "
_CHECKS_SINCE = (  # along the index of the trials changed since, then each one's checks
    f"{_LATEST_ROW}SELECT c.trial_id, c.step, c.value FROM trials t JOIN checks c "
    "ON c.trial_id = t.id AND c.seq > ?2 WHERE t.study_id = ?1 AND t.seq > ?2 ORDER BY 1, 2"
)
_SINCE_WITH_CHECKS = (
    f"SELECT {_TRIAL_COLUMNS}, {_NO_CHECK} FROM trials WHERE study_id = ?1 AND seq > ?2 "
    f"UNION ALL SELECT c.trial_id, {_CHECK} FROM trials t JOIN checks c "
    "ON c.trial_id = t.id AND c.seq > ?2 WHERE t.study_id = ?1 AND t.seq > ?2 "
    f"ORDER BY {_CHECKS_AFTER_TRIALS.format(order='number')}"
)
_LATEST = "(SELECT MAX(seq) FROM trials WHERE study_id = ?1)"  # once per statement
_CHECKS_OF = (
    f"{_LATEST_ROW}SELECT trial_id, step, value FROM checks "
    "WHERE trial_id IN (SELECT value FROM json_each(?2)) ORDER BY 1, 2"
)


class TrialReads:
    """The queries that turn trial rows into :class:`TrialRecord`s, on ``conn``."""

    conn: sqlite3.Connection

    def latest_seq(self, study_id: int) -> int:
        """The study's latest change (0 before any trial): a reader that asks
        :meth:`trials_since` from it gets the changes after this moment."""
        (latest,) = self.conn.execute(f"SELECT COALESCE({_LATEST}, 0)", (study_id,)).fetchone()
        return int(latest)

    def running_in_processes(self, host: str, pids: Collection[int]) -> list[tuple[int, str, int]]:
        """(pid, study name, trial number) of every running trial of any study of the file
        that a process ``pids`` on ``host`` claimed, for ``hpotrack stop --now``, whose
        signal reaches a whole process: a full scan (no index on the state, see
        :meth:`~hpotrack.store.Store.running`), made once per stop."""
        return self.conn.execute(
            "SELECT t.pid, s.name, t.number FROM trials t JOIN studies s ON s.id = t.study_id "
            "WHERE t.state = 'running' AND t.host = ? "
            "AND t.pid IN (SELECT value FROM json_each(?)) ORDER BY s.name, t.number",
            (host, dumps(sorted(pids))),
        ).fetchall()

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
        parameters = (study_id, seq)
        rows = self.conn.execute(_SINCE, parameters).fetchall()
        if not rows:
            return []
        latest = max(map(itemgetter(14), rows))  # the study's: its latest change is here
        checks = _checks_as_of(latest, self.conn.execute(_CHECKS_SINCE, parameters))
        if checks is None:  # a commit came between the two: both again, in one statement
            rows, checks = _rows_and_checks(self.conn.execute(_SINCE_WITH_CHECKS, parameters))
        numbers = [r[1] for r in rows if r[1] >= new_from and r[15]]
        edges = self._edges(study_id, numbers) if numbers else {}
        return [
            (r[0], r[14], _trial_record(r, edges.get(r[1], ()), checks.get(r[0], {}))) for r in rows
        ]

    def trials_numbered(self, study_id: int, numbers: Sequence[int]) -> list[TrialRecord]:
        """The trials numbered ``numbers`` that exist, with their lineage edges, by number:
        a lookup each in the (study_id, number) index, for reads of a few trials (one and
        its ancestors) that need not read the study."""
        where = "number IN (SELECT value FROM json_each(?2))"
        return self._records_where(study_id, where, dumps(list(numbers)))

    def best_complete(self, study_id: int, direction: str, limit: int = 1) -> list[TrialRecord]:
        """The ``limit`` best complete trials with a value, best first, ties by number: the
        order in which :attr:`History.best` keeps the first one it reads (NaN is stored as
        NULL, so it has no value). One pass in SQLite over the study's rows, none in
        Python: a complete trial's value has no index (it would cost every finishing
        trial's commit a page)."""
        order = f"value {'ASC' if direction == 'minimize' else 'DESC'}, number"
        where = "state = 'complete' AND value IS NOT NULL"
        return self._records_where(study_id, where, None, order, limit)

    def trials_in_states(self, study_id: int, states: Collection[str]) -> list[TrialRecord]:
        """The trials in any of ``states``, with their lineage edges, by number: one pass in
        SQLite along the (study_id, number) index, decoding only those (``hpotrack show
        --state failed`` of a large study shows a few of its rows). No index on the state:
        every trial would enter and leave it."""
        where = "state IN (SELECT value FROM json_each(?2))"
        return self._records_where(study_id, where, dumps(sorted(states)))

    def _records_where(
        self, study_id: int, where: str, argument: Any, order: str = "number", limit: int = -1
    ) -> list[TrialRecord]:
        """The records of the study's trials that meet ``where`` (SQL after ``study_id =
        ?1 AND``, with one more parameter, ``?2``, ``argument``), the first ``limit`` (-1:
        every one) by ``order`` (``ORDER BY`` terms on trial columns), with their lineage
        edges and checks. In one statement, the trials are chosen by id, then read:
        choosing whole rows copied each one into a temporary table (SQLite keeps what a
        statement names twice), and the best of 20,000 trials took twice as long."""
        parameters = (study_id, argument, limit)
        rows = self.conn.execute(
            f"SELECT {_TRIAL_COLUMNS}, {_LATEST} FROM trials WHERE study_id = ?1 AND {where} "
            f"ORDER BY {order} LIMIT ?3",
            parameters,
        ).fetchall()
        checks: dict[int, dict[int, float]] | None = {}
        if rows:
            found = self.conn.execute(_CHECKS_OF, (study_id, dumps([r[0] for r in rows])))
            checks = _checks_as_of(rows[0][-1], found)  # the last column: _LATEST
        if checks is None:  # a commit came between the two: both again, in one statement
            rows, checks = _rows_and_checks(
                self.conn.execute(
                    f"WITH chosen AS (SELECT id FROM trials WHERE study_id = ?1 AND {where} "
                    f"ORDER BY {order} LIMIT ?3) SELECT {_TRIAL_COLUMNS}, {_NO_CHECK} "
                    f"FROM trials WHERE id IN chosen UNION ALL SELECT c.trial_id, {_CHECK} "
                    "FROM chosen JOIN checks c ON c.trial_id = chosen.id "
                    f"ORDER BY {_CHECKS_AFTER_TRIALS.format(order=order)}",
                    parameters,
                )
            )
        numbers = [r[1] for r in rows if r[15]]
        edges = self._edges(study_id, numbers) if numbers else {}
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

    def curves(self, study_id: int) -> sqlite3.Cursor:
        """Intermediate metrics (number, name, step, value, time) of every trial of the
        study, by number, name and step: one query, stepped along the (study_id, number)
        index and the metrics' key (no sort) as the reader walks the trials in order (an
        export), who closes it."""
        return self.conn.execute(
            "SELECT t.number, m.name, m.step, m.value, m.time FROM trials t "
            "JOIN metrics m ON m.trial_id = t.id WHERE t.study_id = ? "
            "ORDER BY t.number, m.name, m.step",
            (study_id,),
        )

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


def _checks_as_of(latest: int, cursor: sqlite3.Cursor) -> dict[int, dict[int, float]] | None:
    """Trial id -> {step: value} of the checks a statement read after the trials'
    statement, the rows of :data:`_LATEST_ROW` and the checks; None if something was
    committed to the study between the two (its latest seq is no longer ``latest``)."""
    _, _, now = cursor.fetchone()
    if now != latest:
        cursor.close()  # a statement left open would hold its snapshot for the next ones
        return None
    found: dict[int, dict[int, float]] = {}
    for trial_id, step, value in cursor:
        found.setdefault(trial_id, {})[step] = value
    return found


def _rows_and_checks(
    cursor: Iterable[Sequence[Any]],
) -> tuple[list[Sequence[Any]], dict[int, dict[int, float]]]:
    """The trial rows of one statement that returns trials and then their checks (see
    :data:`_CHECK`), in its order; and trial id -> {step: value} of the checks."""
    rows = list(cursor)
    first_check = bisect_left(rows, 1, key=itemgetter(_KIND))
    checks: dict[int, dict[int, float]] = {}
    for row in rows[first_check:]:
        checks.setdefault(row[0], {})[row[_STEP]] = row[_STEP + 1]
    return rows[:first_check], checks


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
            "method": row[21],
            "chosen_by": row[22],
        }
    )

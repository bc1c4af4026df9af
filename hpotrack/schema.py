"""The database schema, as a list of migrations.

``MIGRATIONS[i]`` moves a database from schema version ``i`` to ``i + 1``; a new database
runs them all. A change to the schema is a new migration appended here (never an edit of
an old one) plus a test that opens a file of the old version: the database outlives the
code that wrote it.
"""

from __future__ import annotations

import sqlite3

# Version 1 as sqlite-utils wrote it until the migrations became plain SQL (creating a
# database then imported sqlite-utils, and with it pandas when installed: about a second
# per new file); the statements are the ones it generated, so every file has one schema.
_VERSION_1 = (
    """CREATE TABLE "studies" (
   "id" INTEGER PRIMARY KEY,
   "name" TEXT NOT NULL,
   "space" TEXT NOT NULL,
   "method" TEXT NOT NULL,
   "direction" TEXT NOT NULL,
   "objective" TEXT NOT NULL,
   "seed" INTEGER NOT NULL,
   "target" INTEGER,
   "retries" INTEGER,
   "function" TEXT,
   "created" REAL
)""",
    """CREATE UNIQUE INDEX "idx_studies_name"
    ON "studies" ("name")""",
    """CREATE TABLE "runs" (
   "id" INTEGER PRIMARY KEY,
   "study_id" INTEGER REFERENCES "studies"("id"),
   "host" TEXT,
   "pid" INTEGER,
   "python" TEXT,
   "platform" TEXT,
   "git_commit" TEXT,
   "source_hash" TEXT,
   "argv" TEXT,
   "started" REAL
)""",
    # parents: how many lineage edges lead here (0: no lineage read needed)
    """CREATE TABLE "trials" (
   "id" INTEGER PRIMARY KEY,
   "study_id" INTEGER NOT NULL REFERENCES "studies"("id"),
   "number" INTEGER NOT NULL,
   "state" TEXT NOT NULL,
   "params" TEXT NOT NULL,
   "value" REAL,
   "metrics" TEXT,
   "budget" REAL,
   "origin" TEXT NOT NULL,
   "claim" TEXT,
   "started" REAL,
   "finished" REAL,
   "heartbeat" REAL,
   "host" TEXT,
   "pid" INTEGER,
   "run_id" INTEGER REFERENCES "runs"("id"),
   "error" TEXT,
   "seq" INTEGER NOT NULL,
   "parents" INTEGER NOT NULL DEFAULT 0
)""",
    """CREATE UNIQUE INDEX "idx_trials_study_id_number"
    ON "trials" ("study_id", "number")""",
    """CREATE INDEX "idx_trials_study_id_seq"
    ON "trials" ("study_id", "seq")""",
    # Partial indexes: only the few rows that have a claim, or are queued or running, are
    # in them, so most writes of a trial touch fewer pages (each commit writes them all).
    "CREATE UNIQUE INDEX idx_trials_study_id_claim ON trials (study_id, claim) "
    "WHERE claim IS NOT NULL",
    "CREATE INDEX idx_trials_study_id_state_number ON trials (study_id, state, number) "
    "WHERE state IN ('queued', 'running')",
    # One b-tree keyed by the primary key (no rowid table beside it).
    "CREATE TABLE metrics (trial_id INTEGER NOT NULL REFERENCES trials(id), "
    "name TEXT NOT NULL, step INTEGER NOT NULL, value FLOAT, time FLOAT, "
    "PRIMARY KEY (trial_id, name, step)) WITHOUT ROWID",
    """CREATE TABLE "lineage" (
   "study_id" INTEGER REFERENCES "studies"("id"),
   "child" INTEGER,
   "parent" INTEGER,
   "kind" TEXT,
   "step" INTEGER,
   "detail" TEXT,
   PRIMARY KEY ("study_id", "child", "parent", "kind")
)""",
    """CREATE INDEX "idx_lineage_study_id_parent"
    ON "lineage" ("study_id", "parent")""",
    """CREATE TABLE "checkpoints" (
   "trial_id" INTEGER REFERENCES "trials"("id"),
   "step" INTEGER,
   "path" TEXT,
   "bytes" INTEGER,
   "hash" TEXT,
   "time" REAL,
   PRIMARY KEY ("trial_id", "step")
)""",
)


def _migrate_0_to_1(db: sqlite3.Connection) -> None:
    for statement in _VERSION_1:
        db.execute(statement)


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    """Multi-fidelity: a study's budget; each trial's rung, bracket and checks (its
    objective at the steps where the method decided whether it goes on, as JSON)."""
    db.execute("ALTER TABLE studies ADD COLUMN budget TEXT")
    db.execute("ALTER TABLE trials ADD COLUMN rung INTEGER")
    db.execute("ALTER TABLE trials ADD COLUMN bracket INTEGER")
    db.execute("ALTER TABLE trials ADD COLUMN checks TEXT")


def _migrate_2_to_3(db: sqlite3.Connection) -> None:
    """A note from the method on each trial it proposed (e.g. which method ``auto`` used
    and why)."""
    db.execute("ALTER TABLE trials ADD COLUMN note TEXT")


def _migrate_3_to_4(db: sqlite3.Connection) -> None:
    """No index on the state of queued and running trials: every trial entered it when
    it started and left it when it finished, one more page written per commit, for
    lookups the study answers from the trials it has read (which are queued, which run)."""
    db.execute("DROP INDEX IF EXISTS idx_trials_study_id_state_number")


def _migrate_4_to_5(db: sqlite3.Connection) -> None:
    """How many steps of the study's budget each finished trial trained (e.g. epochs),
    so that a study can stop once its trials trained ``max_budget`` in total. Trials
    stored before keep NULL: not counted."""
    db.execute("ALTER TABLE trials ADD COLUMN trained INTEGER")


def _migrate_5_to_6(db: sqlite3.Connection) -> None:
    """Study and trial ids are never used twice (AUTOINCREMENT). SQLite otherwise gives
    a new row the largest id + 1, so after ``hpotrack delete`` of the newest study the
    next one got its ids, and a process still running the deleted study (or a handle
    kept open to it) wrote its trials, reports and checkpoints into the new one. SQLite
    cannot add AUTOINCREMENT to a table, so each is copied into a new one (the indexes
    are made again; the other tables refer to the ids, which stay). Views and triggers a
    user saved in the file are dropped first and made again after, as SQLite's own
    procedure for a table rebuild says: the rename checks every view and trigger (one on
    ``trials`` failed it), and dropping a table drops its triggers."""
    kept = _drop_views_and_triggers(db)
    for table in ("studies", "trials"):
        (create,) = db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        indexes = [
            row[0]
            for row in db.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                "AND sql IS NOT NULL",
                (table,),
            )
        ]
        head, key = f'CREATE TABLE "{table}" (', '"id" INTEGER PRIMARY KEY,'
        if not create.startswith(head) or key not in create:
            raise sqlite3.DatabaseError(f"unexpected schema of table {table}: {create}")
        copy = create.replace(head, f'CREATE TABLE "{table}_new" (', 1)
        db.execute(copy.replace(key, '"id" INTEGER PRIMARY KEY AUTOINCREMENT,', 1))
        db.execute(f'INSERT INTO "{table}_new" SELECT * FROM "{table}"')
        db.execute(f'DROP TABLE "{table}"')
        db.execute(f'ALTER TABLE "{table}_new" RENAME TO "{table}"')
        for index in indexes:
            db.execute(index)
    _make_again(db, kept)


def _migrate_6_to_7(db: sqlite3.Connection) -> None:
    """Each run's ``keep_checkpoints`` (``needed`` or ``all``): a run collecting the
    checkpoints nothing needs deleted those a run with ``"all"`` (an earlier one, or
    one running beside it) had promised to keep. Now it deletes only those of trials
    that ran in a ``needed`` run; runs stored before keep NULL, and their trials'
    checkpoints are kept (which setting they ran with is not known)."""
    db.execute("ALTER TABLE runs ADD COLUMN keep_checkpoints TEXT")


def _migrate_7_to_8(db: sqlite3.Connection) -> None:
    """A row per check (trial, step, value, and the ``seq`` of the write that made it)
    instead of one JSON column per trial: each check rewrote the trial's every check so
    far, so with a pruner checking each of a trial's reports the n-th check cost n (a
    trial of 3,000 reports spent two thirds of its time encoding them). Readers ask for
    the checks written after the ``seq`` they have seen, as they ask for trials. The old
    column stays, emptied (dropping it means copying the table, and a view a user saved
    on it would fail)."""
    _refuse_taken(db, "checks", "idx_checks_trial_id_seq")
    db.execute(
        "CREATE TABLE checks (trial_id INTEGER NOT NULL REFERENCES trials(id), "
        "step INTEGER NOT NULL, value REAL, seq INTEGER NOT NULL, "
        "PRIMARY KEY (trial_id, step)) WITHOUT ROWID"
    )
    db.execute("CREATE INDEX idx_checks_trial_id_seq ON checks (trial_id, seq)")
    db.execute(
        "INSERT INTO checks (trial_id, step, value, seq) "
        "SELECT t.id, CAST(c.key AS INTEGER), c.value, t.seq FROM trials t, json_each(t.checks) c "
        "WHERE t.checks IS NOT NULL AND t.checks != ''"
    )
    db.execute("UPDATE trials SET checks = NULL WHERE checks IS NOT NULL")


def _migrate_8_to_9(db: sqlite3.Connection) -> None:
    """Which method proposed each trial, as the registered name (lineage is data): the
    study's ``method`` is only its current one (a study may be reopened with another),
    and ``auto``'s choice was only in the free text of ``note``. ``method`` is the name
    of the method whose ask made the trial (``tpe``, also when ``auto`` chose it);
    ``chosen_by`` the study's method when that delegated to another (``auto``). Both
    are NULL for trials no method proposed (enqueued, manual, retried) and for trials
    stored before: which method those came from is not known for certain."""
    db.execute("ALTER TABLE trials ADD COLUMN method TEXT")
    db.execute("ALTER TABLE trials ADD COLUMN chosen_by TEXT")


def _migrate_9_to_10(db: sqlite3.Connection) -> None:
    """How a study's runs stop. ``stop_requests``: how many times the study was asked
    to stop (``hpotrack stop``, ``Study.stop()``); a run notes the count when it begins
    and starts no trial once it has grown, in every process, and a run begun after a
    stop is not affected by it. ``last_stops``: the stops of the study's last run
    (``max_budget``, ``patience``, ``good_enough``, ``trial_timeout``: JSON keyed by
    those names), which ``hpotrack resume`` continues with: after a crash, a resume not
    given them again ran past the patience and without a time limit per trial; NULL for
    studies last run before (not known)."""
    db.execute("ALTER TABLE studies ADD COLUMN stop_requests INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE studies ADD COLUMN last_stops TEXT")


def _migrate_10_to_11(db: sqlite3.Connection) -> None:
    """Studies of several objectives (multi-objective): ``objectives`` holds each metric
    and its direction as JSON (``[{"metric": "error", "direction": "minimize"}, ...]``);
    ``objective`` and ``direction`` keep the first, whose value each trial stores as
    its ``value``. NULL for a study of one objective, as every study before was."""
    db.execute("ALTER TABLE studies ADD COLUMN objectives TEXT")


def _migrate_11_to_12(db: sqlite3.Connection) -> None:
    """Constraints on a study's metrics: ``constraints`` holds each as JSON
    (``[{"metric": "latency_ms", "at_most": 10.0}, ...]``, one bound or both); NULL for
    a study without, as every study before was."""
    db.execute("ALTER TABLE studies ADD COLUMN constraints TEXT")


class KeptObjectError(Exception):
    """A view or trigger saved in the file that a migration could not make again."""

    def __init__(self, kind: str, name: str, reason: str) -> None:
        super().__init__(f"{kind} {name}: {reason}")
        self.kind, self.name, self.reason = kind, name, reason


class NameTakenError(Exception):
    """An object saved in the file (a user's view, say) has a name a migration gives."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"{kind} {name} has the name of a new table or index")
        self.kind, self.name = kind, name


def _refuse_taken(db: sqlite3.Connection, *names: str) -> None:
    """Raise :class:`NameTakenError` if a table, view or index is named one of ``names``
    (they share one namespace): SQLite's "view checks already exists" said neither whose
    it is nor what to do."""
    marks = ", ".join("?" for _ in names)
    taken = db.execute(
        "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view', 'index') "
        f"AND lower(name) IN ({marks})",
        names,
    ).fetchone()
    if taken is not None:
        raise NameTakenError(*taken)


def _drop_views_and_triggers(db: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """Drop every view and trigger of the file; their (type, name, SQL), views first,
    each kind in the order they were made (an INSTEAD OF trigger needs its view)."""
    kept = db.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('view', 'trigger') "
        "ORDER BY type = 'trigger', rowid"
    ).fetchall()
    for kind, name, _ in kept:
        quoted = name.replace('"', '""')
        db.execute(f'DROP {kind.upper()} IF EXISTS "{quoted}"')  # a view drops its triggers
    return kept


def _make_again(db: sqlite3.Connection, kept: list[tuple[str, str, str]]) -> None:
    """Make the views and triggers :func:`_drop_views_and_triggers` dropped again."""
    for kind, name, sql in kept:
        try:
            db.execute(sql)
        except sqlite3.Error as exc:
            raise KeptObjectError(kind, name, str(exc)) from None


MIGRATIONS = (
    _migrate_0_to_1,
    _migrate_1_to_2,
    _migrate_2_to_3,
    _migrate_3_to_4,
    _migrate_4_to_5,
    _migrate_5_to_6,
    _migrate_6_to_7,
    _migrate_7_to_8,
    _migrate_8_to_9,
    _migrate_9_to_10,
    _migrate_10_to_11,
    _migrate_11_to_12,
)

SCHEMA_VERSION = len(MIGRATIONS)


def missing_columns(db: sqlite3.Connection, version: int) -> list[str]:
    """``table.column`` names that a file of schema ``version`` has and ``db`` lacks: a
    file whose old version differed from the one its number names (schema 1 changed in
    place during the first hours of development) must not be migrated, stamped current
    and then fail on every query."""
    fresh = sqlite3.connect(":memory:")
    try:
        for step in MIGRATIONS[:version]:
            step(fresh)
        expected = {table: _columns(fresh, table) for table in _tables(fresh)}
    finally:
        fresh.close()
    return [
        f"{table}.{column}"
        for table, columns in expected.items()
        for column in columns - _columns(db, table)
    ]


def _tables(db: sqlite3.Connection) -> list[str]:
    rows = db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    return [row[0] for row in rows]


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}

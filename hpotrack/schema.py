"""The database schema, as a list of migrations.

``MIGRATIONS[i]`` moves a database from schema version ``i`` to ``i + 1``; a new database
runs them all. A change to the schema is a new migration appended here (never an edit of
an old one) plus a test that opens a file of the old version: the database outlives the
code that wrote it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by Store.db only when a migration or an import needs it
    import sqlite_utils


def _migrate_0_to_1(db: sqlite_utils.Database) -> None:
    db["studies"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "name": str,
            "space": str,
            "method": str,
            "direction": str,
            "objective": str,
            "seed": int,
            "target": int,
            "retries": int,
            "function": str,
            "created": float,
        },
        pk="id",
        not_null={"name", "space", "method", "direction", "objective", "seed"},
    )
    db["studies"].create_index(["name"], unique=True)  # type: ignore[union-attr]
    db["runs"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "study_id": int,
            "host": str,
            "pid": int,
            "python": str,
            "platform": str,
            "git_commit": str,
            "source_hash": str,
            "argv": str,
            "started": float,
        },
        pk="id",
        foreign_keys=[("study_id", "studies", "id")],
    )
    db["trials"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "study_id": int,
            "number": int,
            "state": str,
            "params": str,
            "value": float,
            "metrics": str,
            "budget": float,
            "origin": str,
            "claim": str,
            "started": float,
            "finished": float,
            "heartbeat": float,
            "host": str,
            "pid": int,
            "run_id": int,
            "error": str,
            "seq": int,
            "parents": int,  # how many lineage edges lead here (0: no lineage read needed)
        },
        pk="id",
        not_null={"study_id", "number", "state", "params", "origin", "seq", "parents"},
        defaults={"parents": 0},
        foreign_keys=[("study_id", "studies", "id"), ("run_id", "runs", "id")],
    )
    db["trials"].create_index(["study_id", "number"], unique=True)  # type: ignore[union-attr]
    db["trials"].create_index(["study_id", "seq"])  # type: ignore[union-attr]
    # Partial indexes: only the few rows that have a claim, or are queued or running, are
    # in them, so most writes of a trial touch fewer pages (each commit writes them all).
    db.execute(
        "CREATE UNIQUE INDEX idx_trials_study_id_claim ON trials (study_id, claim) "
        "WHERE claim IS NOT NULL"
    )
    db.execute(
        "CREATE INDEX idx_trials_study_id_state_number ON trials (study_id, state, number) "
        "WHERE state IN ('queued', 'running')"
    )
    # One b-tree keyed by the primary key (no rowid table beside it).
    db.execute(
        "CREATE TABLE metrics (trial_id INTEGER NOT NULL REFERENCES trials(id), "
        "name TEXT NOT NULL, step INTEGER NOT NULL, value FLOAT, time FLOAT, "
        "PRIMARY KEY (trial_id, name, step)) WITHOUT ROWID"
    )
    db["lineage"].create(  # type: ignore[union-attr]
        {
            "study_id": int,
            "child": int,
            "parent": int,
            "kind": str,
            "step": int,
            "detail": str,
        },
        pk=("study_id", "child", "parent", "kind"),
        foreign_keys=[("study_id", "studies", "id")],
    )
    db["lineage"].create_index(["study_id", "parent"])  # type: ignore[union-attr]
    db["checkpoints"].create(  # type: ignore[union-attr]
        {"trial_id": int, "step": int, "path": str, "bytes": int, "hash": str, "time": float},
        pk=("trial_id", "step"),
        foreign_keys=[("trial_id", "trials", "id")],
    )


def _migrate_1_to_2(db: sqlite_utils.Database) -> None:
    """Multi-fidelity: a study's budget; each trial's rung, bracket and checks (its
    objective at the steps where the method decided whether it goes on, as JSON)."""
    db.execute("ALTER TABLE studies ADD COLUMN budget TEXT")
    db.execute("ALTER TABLE trials ADD COLUMN rung INTEGER")
    db.execute("ALTER TABLE trials ADD COLUMN bracket INTEGER")
    db.execute("ALTER TABLE trials ADD COLUMN checks TEXT")


def _migrate_2_to_3(db: sqlite_utils.Database) -> None:
    """A note from the method on each trial it proposed (e.g. which method ``auto`` used
    and why)."""
    db.execute("ALTER TABLE trials ADD COLUMN note TEXT")


def _migrate_3_to_4(db: sqlite_utils.Database) -> None:
    """No index on the state of queued and running trials: every trial entered it when
    it started and left it when it finished, one more page written per commit, for
    lookups the study answers from the trials it has read (which are queued, which run)."""
    db.execute("DROP INDEX IF EXISTS idx_trials_study_id_state_number")


def _migrate_4_to_5(db: sqlite_utils.Database) -> None:
    """How many steps of the study's budget each finished trial trained (e.g. epochs),
    so that a study can stop once its trials trained ``max_budget`` in total. Trials
    stored before keep NULL: not counted."""
    db.execute("ALTER TABLE trials ADD COLUMN trained INTEGER")


MIGRATIONS = (_migrate_0_to_1, _migrate_1_to_2, _migrate_2_to_3, _migrate_3_to_4, _migrate_4_to_5)

SCHEMA_VERSION = len(MIGRATIONS)

"""Reading a study of an Optuna database: its RDB storage in an SQLite file,
``storage="sqlite:///optuna.db"``, Optuna 2.4 or later (what it becomes:
:mod:`hpotrack.transfer.optuna_study`). The file is opened read-only, with :mod:`sqlite3`
alone."""

from __future__ import annotations

import json
import math
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from hpotrack.sqlite_errors import damaged
from hpotrack.transfer.export import is_sqlite_file
from hpotrack.transfer.format import TransferError
from hpotrack.transfer.optuna_study import (
    METRIC_NAMES,
    OptunaStudy,
    OptunaTrial,
    choose_study,
    distribution,
    timestamp,
    to_export,
)

_TABLES = {"studies", "study_directions", "trials", "trial_params", "trial_values"}
_INFINITE = {"INF_POS": math.inf, "INF_NEG": -math.inf}  # Optuna 3's value types


def is_optuna_database(path: Path) -> bool:
    """Whether ``path`` is an SQLite file with Optuna's tables (any schema version); one
    that starts as an SQLite file but is too damaged to tell is refused, with how to
    recover what is left."""
    try:
        with closing(_connect(path)) as conn:
            return {"studies", "trials", "version_info"} <= _tables(conn)
    except sqlite3.DatabaseError as exc:
        text = str(exc)
        if is_sqlite_file(path) and ("malformed" in text or "not a database" in text):
            raise TransferError(damaged(path, text)) from None
        return False


def read_optuna_database(path: Path, study: str | None = None) -> dict[str, Any]:
    """Optuna study ``study`` (None: the file's only one) of the database at ``path``,
    as an hpotrack export."""
    with closing(_connect(path)) as conn:
        missing = _TABLES - _tables(conn)
        if missing:
            raise TransferError(
                f"{path} is an Optuna database too old to import (no table "
                f"{', '.join(sorted(missing))}): upgrade it with `optuna storage upgrade "
                f"--storage sqlite:///{path}` (Optuna 3 or later), then import again"
            )
        try:
            return to_export(_study(conn, path, study))
        except (sqlite3.Error, KeyError, ValueError, TypeError) as exc:  # not as Optuna writes it
            raise TransferError(f"cannot read the Optuna database {path}: {exc}") from None


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _study(conn: sqlite3.Connection, path: Path, wanted: str | None) -> OptunaStudy:
    ids = dict(conn.execute("SELECT study_name, study_id FROM studies ORDER BY study_id"))
    name = choose_study(list(ids), wanted, path, "database")
    directions = [
        row[0]
        for row in conn.execute(
            "SELECT direction FROM study_directions WHERE study_id = ? ORDER BY objective",
            (ids[name],),
        )
    ]
    row = conn.execute(
        "SELECT value_json FROM study_system_attributes WHERE study_id = ? AND key = ?",
        (ids[name], METRIC_NAMES),
    ).fetchone()
    names = json.loads(row[0]) if row else None
    return OptunaStudy(name, directions, names, _trials(conn, ids[name]))


def _trials(conn: sqlite3.Connection, study_id: int) -> list[OptunaTrial]:
    """The study's trials in number order, each table read in one pass."""
    trials = {
        row[0]: OptunaTrial(row[1], row[2], timestamp(row[3]), timestamp(row[4]))
        for row in conn.execute(
            "SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials "
            "WHERE study_id = ? ORDER BY number",
            (study_id,),
        )
    }
    ids = f"SELECT trial_id FROM trials WHERE study_id = {int(study_id)}"
    for trial_id, param, internal, text in conn.execute(
        f"SELECT trial_id, param_name, param_value, distribution_json FROM trial_params "
        f"WHERE trial_id IN ({ids}) ORDER BY param_id"
    ):
        trials[trial_id].params[param] = (internal, distribution(param, text))
    kind = _column_or(conn, "trial_values", "value_type", "'FINITE'")
    for trial_id, objective, value, value_type in conn.execute(  # a row per objective
        f"SELECT trial_id, objective, value, {kind} FROM trial_values WHERE trial_id IN ({ids})"
    ):
        trials[trial_id].values[objective] = _INFINITE.get(value_type, value)
    if "trial_intermediate_values" in _tables(conn):
        kind = _column_or(conn, "trial_intermediate_values", "intermediate_value_type", "'FINITE'")
        for trial_id, step, value, value_type in conn.execute(
            f"SELECT trial_id, step, intermediate_value, {kind} FROM trial_intermediate_values "
            f"WHERE trial_id IN ({ids}) ORDER BY trial_id, step"
        ):
            finite = value_type == "FINITE" and value is not None and math.isfinite(value)
            trials[trial_id].curve.append([step, value if finite else None, None])
    for table in ("trial_user_attributes", "trial_system_attributes"):
        for trial_id, key, value_json in conn.execute(
            f"SELECT trial_id, key, value_json FROM {table} WHERE trial_id IN ({ids})"
        ):
            trial = trials[trial_id]
            read = trial.attributes if table == "trial_user_attributes" else trial.system
            read[key] = json.loads(value_json)
    numbers = [t.number for t in trials.values()]
    if numbers != list(range(len(numbers))):
        raise TransferError("cannot import: the Optuna study's trial numbers are not 0, 1, 2, ...")
    return list(trials.values())


def _column_or(conn: sqlite3.Connection, table: str, column: str, otherwise: str) -> str:
    """``column`` if ``table`` has it (a newer Optuna's schema), else ``otherwise``."""
    columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    return column if column in columns else otherwise

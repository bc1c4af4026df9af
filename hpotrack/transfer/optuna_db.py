"""A study of an Optuna database (its RDB storage in an SQLite file,
``storage="sqlite:///optuna.db"``) read as an hpotrack export, so that ``hpotrack import
optuna.db`` loads it through the same checks and single transaction as an export
(:mod:`hpotrack.transfer`). The file is read with :mod:`sqlite3` alone: Optuna need not be
installed, and the file is opened read-only.

What the Optuna study gives:

- **The space**, from the distribution stored with each trial's parameters. Optuna's
  define-by-run code may ask for another range of the same parameter in another trial;
  the ranges are merged, while another kind of distribution (float, then int; log, then
  not) is refused. A parameter set in only some trials (suggested in an ``if`` branch) is
  conditional: its ``when`` names the categorical parameter whose values tell the trials
  with it from those without (the first in the space's order that does).
- **Each trial**: its number, state (``WAITING`` is queued, ``FAIL`` failed), params,
  value, intermediate values as the objective's curve, start and end, and its numeric
  user attributes as metrics. A trial enqueued with ``study.enqueue_trial`` has origin
  ``enqueued``; one that ``RetryFailedTrialCallback`` queued again has a ``retried`` edge
  to the trial it repeats. Optuna keeps no error message for a failed trial.
- **The study**: its name, direction and objective name (``study.set_metric_names``, else
  ``"value"``). Optuna does not store the sampler, so the study's method is ``tpe``
  (Optuna's default; the ``method=`` of the decorator that continues the study is the one
  used), and its seed is drawn as for a new study.

Not imported: multi-objective studies (hpotrack optimizes one objective), system
attributes, heartbeats, non-numeric user attributes.
"""

from __future__ import annotations

import json
import math
import random
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hpotrack.errors import HpotrackError
from hpotrack.methods import TPE
from hpotrack.methods.history import History
from hpotrack.params import Choice, Float, Int, Param
from hpotrack.space import Space, Value
from hpotrack.transfer.format import FORMAT, VERSION, TransferError

_TABLES = {"studies", "study_directions", "trials", "trial_params", "trial_values"}
_STATES = {
    "COMPLETE": "complete",
    "PRUNED": "pruned",
    "FAIL": "failed",
    "RUNNING": "running",
    "WAITING": "queued",
}
_FAILED = "failed in Optuna (Optuna keeps no error message)"
# Optuna's distributions by the name its JSON gives them, as (kind, log); the old names
# (Optuna 2) carry their log in the name and a step as q or step
_KINDS = {
    "FloatDistribution": ("float", None),
    "UniformDistribution": ("float", False),
    "LogUniformDistribution": ("float", True),
    "DiscreteUniformDistribution": ("float", False),
    "IntDistribution": ("int", None),
    "IntUniformDistribution": ("int", False),
    "IntLogUniformDistribution": ("int", True),
    "CategoricalDistribution": ("categorical", False),
}


@dataclass(frozen=True)
class _Distribution:
    """One of Optuna's distributions: ``kind`` float, int or categorical; its range or
    its choices."""

    kind: str
    log: bool = False
    step: float | None = None
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Value, ...] = ()

    def value(self, internal: float) -> Value:
        """A parameter's value from Optuna's stored float (a categorical's is the index
        of its choice)."""
        if self.kind == "categorical":
            return self.choices[int(internal)]
        return round(internal) if self.kind == "int" else float(internal)

    def shape(self) -> str:
        """What two distributions of one parameter must share to be merged."""
        if self.kind == "categorical":
            return "categorical"
        step = "" if self.step is None or self.step == 1 else f", step={self.step!r}"
        return f"{self.kind}{', log' if self.log else ''}{step}"


def is_optuna_database(path: Path) -> bool:
    """Whether ``path`` is an SQLite file with Optuna's tables (any schema version)."""
    try:
        with closing(_connect(path)) as conn:
            return {"studies", "trials", "version_info"} <= _tables(conn)
    except sqlite3.Error:
        return False


def read_optuna_study(path: Path, study: str | None = None) -> dict[str, Any]:
    """Optuna study ``study`` (None: the file's only one) of the database at ``path``,
    as an hpotrack export; :func:`~hpotrack.transfer.validate_export` checks it."""
    with closing(_connect(path)) as conn:
        missing = _TABLES - _tables(conn)
        if missing:
            raise TransferError(
                f"{path} is an Optuna database too old to import (no table "
                f"{', '.join(sorted(missing))}): upgrade it with `optuna storage upgrade "
                f"--storage sqlite:///{path}` (Optuna 3 or later), then import again"
            )
        try:
            study_id, name = _choose_study(conn, path, study)
            return _export(conn, study_id, name)
        except (sqlite3.Error, KeyError, ValueError, TypeError) as exc:  # not as Optuna writes it
            raise TransferError(f"cannot read the Optuna database {path}: {exc}") from None


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _choose_study(conn: sqlite3.Connection, path: Path, study: str | None) -> tuple[int, str]:
    names = dict(conn.execute("SELECT study_name, study_id FROM studies ORDER BY study_id"))
    if study is not None:
        if study not in names:
            raise TransferError(f"{path} has no Optuna study {study!r}; it has {_listed(names)}")
        return names[study], study
    if len(names) != 1:
        which = "no study" if not names else f"{len(names)} studies: {_listed(names)}"
        raise TransferError(
            f"{path} is an Optuna database with {which}; "
            + ("choose one with --from NAME" if names else "there is nothing to import")
        )
    (name, study_id), *_ = names.items()
    return study_id, name


def _listed(names: Mapping[str, int]) -> str:
    return ", ".join(map(repr, names)) if names else "none"


def _export(conn: sqlite3.Connection, study_id: int, name: str) -> dict[str, Any]:
    directions = [
        row[0]
        for row in conn.execute(
            "SELECT direction FROM study_directions WHERE study_id = ? ORDER BY objective",
            (study_id,),
        )
    ]
    if len(directions) != 1:
        raise TransferError(
            f"Optuna study {name!r} has {len(directions)} objectives: hpotrack optimizes one, "
            "so a multi-objective study cannot be imported"
        )
    objective = _objective_name(conn, study_id)
    trials = _trials(conn, study_id)
    space = _space(trials)
    seed = random.randrange(2**31)  # as for a new study: Optuna does not store its sampler's
    history = History(space, directions[0].lower(), seed)
    return {
        "format": FORMAT,
        "version": VERSION,
        "study": {
            "name": name,
            "space": space.to_json(),
            "method": TPE().to_json(),
            "direction": directions[0].lower(),
            "objective": objective,
            "seed": seed,
        },
        "trials": [_trial(t, objective, space, history) for t in trials],
    }


def _objective_name(conn: sqlite3.Connection, study_id: int) -> str:
    """The name ``study.set_metric_names`` gave the objective, else ``"value"``."""
    row = conn.execute(
        "SELECT value_json FROM study_system_attributes WHERE study_id = ? AND key = ?",
        (study_id, "study:metric_names"),
    ).fetchone()
    names = json.loads(row[0]) if row else None
    return names[0] if isinstance(names, list) and names and isinstance(names[0], str) else "value"


@dataclass
class _Trial:
    """One Optuna trial's rows."""

    number: int
    state: str
    started: float | None
    finished: float | None
    params: dict[str, tuple[float, _Distribution]] = field(default_factory=dict)
    value: float | None = None
    value_type: str = "FINITE"
    curve: list[list[Any]] = field(default_factory=list)  # [step, value, time]
    attributes: dict[str, Any] = field(default_factory=dict)  # the user's
    system: dict[str, Any] = field(default_factory=dict)  # Optuna's


def _trials(conn: sqlite3.Connection, study_id: int) -> list[_Trial]:
    """The study's trials in number order, each read in one pass over each table."""
    trials = {
        row[0]: _Trial(row[1], row[2], _time(row[3]), _time(row[4]))
        for row in conn.execute(
            "SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials "
            "WHERE study_id = ? ORDER BY number",
            (study_id,),
        )
    }
    ids = f"SELECT trial_id FROM trials WHERE study_id = {int(study_id)}"
    distributions: dict[tuple[str, str], _Distribution] = {}  # the same JSON in every trial
    for trial_id, param, internal, text in conn.execute(
        f"SELECT trial_id, param_name, param_value, distribution_json FROM trial_params "
        f"WHERE trial_id IN ({ids}) ORDER BY param_id"
    ):
        if (param, text) not in distributions:
            distributions[param, text] = _distribution(param, text)
        trials[trial_id].params[param] = (internal, distributions[param, text])
    kind = _column_or(conn, "trial_values", "value_type", "'FINITE'")  # Optuna 3 added types
    for trial_id, value, value_type in conn.execute(
        f"SELECT trial_id, value, {kind} FROM trial_values WHERE trial_id IN ({ids}) "
        "AND objective = 0"
    ):
        trials[trial_id].value, trials[trial_id].value_type = value, value_type
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
            read[key] = json.loads(value_json, parse_constant=lambda _: None)
    numbers = [t.number for t in trials.values()]
    if numbers != list(range(len(numbers))):
        raise TransferError("cannot import: the Optuna study's trial numbers are not 0, 1, 2, ...")
    return list(trials.values())


def _column_or(conn: sqlite3.Connection, table: str, column: str, otherwise: str) -> str:
    """``column`` if ``table`` has it (a newer Optuna's schema), else ``otherwise``."""
    return (
        column
        if any(row[1] == column for row in conn.execute(f"PRAGMA table_info({table})"))
        else otherwise
    )


def _time(text: str | None) -> float | None:
    """Optuna's time stamps: local time, without a zone."""
    return None if text is None else datetime.fromisoformat(text).timestamp()


def _distribution(param: str, text: str) -> _Distribution:
    """A parameter's distribution from Optuna's JSON (its full form, or the abbreviated
    one Optuna also reads)."""
    raw = json.loads(text)
    if "name" in raw:
        kind, log = _KINDS.get(raw["name"], (None, None))
        attributes = raw.get("attributes", {})
    else:
        kind, log, attributes = raw.get("type"), None, raw
    if kind == "categorical":
        return _Distribution("categorical", choices=tuple(attributes["choices"]))
    if kind not in ("float", "int"):
        raise TransferError(
            f"cannot import: parameter {param!r} has an unknown distribution {text}"
        )
    step = attributes.get("step", attributes.get("q"))
    return _Distribution(
        kind,
        log=bool(attributes.get("log", False)) if log is None else log,
        step=None if step is None else float(step),
        low=attributes["low"],
        high=attributes["high"],
    )


def _space(trials: Sequence[_Trial]) -> Space:
    """The space every trial's parameters fit: each parameter's ranges merged, and a
    ``when`` for those set in only some trials."""
    merged: dict[str, _Distribution] = {}
    for trial in trials:
        for param, (_, distribution) in trial.params.items():
            merged[param] = _merge(param, merged.get(param), distribution)
    if not merged:
        raise TransferError("cannot import: the Optuna study has no trial with parameters")
    ran = [t for t in trials if t.state in ("COMPLETE", "PRUNED")]
    values = [{p: d.value(internal) for p, (internal, d) in t.params.items()} for t in ran]
    params: dict[str, Param] = {}
    for param, distribution in merged.items():
        when = _condition(param, values, merged)
        try:
            params[param] = _param(distribution, when)
        except HpotrackError as exc:
            raise TransferError(f"cannot import: parameter {param!r}: {exc}") from None
    return Space(params)


def _merge(param: str, seen: _Distribution | None, new: _Distribution) -> _Distribution:
    if seen is None:
        return new
    if seen.shape() != new.shape():
        raise TransferError(
            f"cannot import: parameter {param!r} is {seen.shape()} in one trial and "
            f"{new.shape()} in another; an hpotrack space gives each parameter one kind"
        )
    if seen.kind == "categorical":
        return _Distribution(
            "categorical",
            choices=(
                *seen.choices,
                *(c for c in new.choices if not any(_same(c, s) for s in seen.choices)),
            ),
        )
    return _Distribution(
        seen.kind, seen.log, seen.step, min(seen.low, new.low), max(seen.high, new.high)
    )


def _same(a: Value, b: Value) -> bool:
    """Whether two choices are one option (1 and True are not, as for ``hp.Choice``)."""
    return type(a) is type(b) and a == b


def _condition(
    param: str, values: Sequence[Mapping[str, Value]], merged: Mapping[str, _Distribution]
) -> dict[str, list[Value]] | None:
    """``when`` for a parameter that the trials that ran set only sometimes: the first
    categorical parameter present in more trials, whose values in the trials with
    ``param`` never occur in those without it."""
    having = [v for v in values if param in v]
    if len(having) == len(values):
        return None
    for parent, distribution in merged.items():
        if parent == param or distribution.kind != "categorical":
            continue
        if not all(parent in v for v in having):
            continue
        inside = [v[parent] for v in having]
        outside = [v[parent] for v in values if param not in v and parent in v]
        if outside and not any(_same(a, b) for a in inside for b in outside):
            return {parent: [c for c in distribution.choices if any(_same(c, x) for x in inside)]}
    raise TransferError(
        f"cannot import: parameter {param!r} is set in only some trials, and no categorical "
        "parameter's value says in which; an hpotrack space needs that as when=... "
        "(docs/spaces.md)"
    )


def _param(distribution: _Distribution, when: dict[str, list[Value]] | None) -> Param:
    if distribution.kind == "categorical":
        return Choice(list(distribution.choices), when=when)
    low, high, log = distribution.low, distribution.high, distribution.log
    if distribution.kind == "int":
        step = 1 if distribution.step is None else int(distribution.step)
        return Int(int(low), int(high), log=log, step=step, when=when)
    return Float(float(low), float(high), log=log, step=distribution.step, when=when)


def _trial(trial: _Trial, objective: str, space: Space, history: History) -> dict[str, Any]:
    """One trial of the export."""
    params = {p: d.value(internal) for p, (internal, d) in trial.params.items()}
    system = trial.system
    state, error = _STATES.get(trial.state, "failed"), None
    value = trial.value if trial.value_type == "FINITE" else None
    if state == "pruned" and value is None and trial.curve:
        value = trial.curve[-1][1]
    if state == "complete" and (value is None or not math.isfinite(value)):
        shown = {"INF_POS": "inf", "INF_NEG": "-inf"}.get(trial.value_type, repr(trial.value))
        state, value = "failed", None
        error = f"its value in Optuna was {shown}, and a trial's value must be finite"
    elif state == "failed":
        error = _FAILED
    if state == "queued":  # the values enqueue_trial was given; the others drawn, as enqueue's
        params = _queued(trial.number, system.get("fixed_params") or params, space, history)
    if state == "running":
        try:
            space.validate(params)
        except HpotrackError:  # stopped before all its parameters were set
            state, error = "failed", "running in Optuna when imported, before it had all its params"
    retried = system.get("failed_trial")
    parents = [{"parent": retried, "kind": "retried"}] if isinstance(retried, int) else []
    metrics = {
        key: value
        for key, value in trial.attributes.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }
    return {
        "number": trial.number,
        "state": state,
        "params": params,
        "value": value,
        "metrics": {**metrics, objective: value} if value is not None else metrics,
        "origin": "retried" if parents else "enqueued" if "fixed_params" in system else "sampled",
        "started": trial.started,
        "finished": trial.finished,
        "error": error,
        "parents": parents,
        "curve": {objective: trial.curve} if trial.curve else None,
    }


def _queued(
    number: int, given: Mapping[str, Any], space: Space, history: History
) -> dict[str, Value]:
    """A waiting trial's params: the values it was enqueued with, the others drawn as
    ``study.enqueue`` draws them."""
    try:
        valid = space.validate({p: v for p, v in given.items() if p in space}, partial=True)
    except HpotrackError as exc:
        raise TransferError(f"cannot import: trial {number}, enqueued in Optuna: {exc}") from None
    return space.complete(valid, history.uniform(number, len(space)))

"""Checking an export before anything is stored: every field of the study, its runs and
its trials, their lineage, checks and curves, turned into the rows to insert
(:class:`CheckedExport`); the first problem is one :class:`TransferError` (the format:
:mod:`hpotrack.transfer`; storing the rows: :mod:`hpotrack.transfer.load`)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from operator import is_not, itemgetter
from types import NoneType
from typing import Any, NoReturn

from hpotrack.budget import Budget
from hpotrack.definition import name_problem
from hpotrack.errors import HpotrackError, UnknownMethodError
from hpotrack.jsonable import dumps
from hpotrack.methods.registry import from_json as method_from_json
from hpotrack.objectives import Objectives
from hpotrack.records import TrialState
from hpotrack.space import Space, is_utf8
from hpotrack.transfer.format import (
    BUDGET,
    EDGE,
    FORMAT,
    FUNCTION,
    READABLE,
    RUN,
    RUNNING_ERROR,
    STUDY,
    TOP,
    TRIAL,
    VERSION,
    Progress,
    TransferError,
    advance,
)
from hpotrack.transfer.parse import not_an_export


def _is_int(x: Any) -> bool:
    """An int SQLite can store: 64 bits (a larger one would fail the insert), not a bool."""
    return isinstance(x, int) and not isinstance(x, bool) and -(2**63) <= x < 2**63


_FIRST_TIME, _LAST_TIME = -62135596800.0, 253402300799.0  # years 1 and 9999
_JSON_NUMBERS = {int, float, NoneType}


def _is_time(x: Any) -> bool:
    """Unix seconds that a date can show (years 1 to 9999): `hpotrack trial` prints it."""
    return (isinstance(x, float) or _is_int(x)) and _FIRST_TIME <= x <= _LAST_TIME


_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "int": (_is_int, "a 64-bit int"),
    "number": (lambda x: isinstance(x, float) or _is_int(x), "a number"),
    "time": (_is_time, "a time in Unix seconds (years 1 to 9999)"),
    "str": (lambda x: isinstance(x, str) and is_utf8(x), "a string of valid Unicode text"),
    "path": (lambda x: isinstance(x, str), "a string"),  # a file name's bytes as Python reads them
    "object": (lambda x: isinstance(x, Mapping), "an object"),
    "list": (lambda x: isinstance(x, list), "a list"),
}


@dataclass
class CheckedExport:
    """An export that passed every check (:func:`validate_export`), ready to insert: the
    study row and the rows of each table. Its curves are the export's own lists, not
    copies (a million points): change no export between checking and importing it."""

    definition: dict[str, Any]
    target: int | None
    objectives: Objectives  # the definition's, parsed once: every complete trial has each
    trials: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)  # "run": its number in the export
    edges: list[dict[str, Any]] = field(default_factory=list)
    curves: list[tuple[int, str, list[Any]]] = field(default_factory=list)  # number, name, points
    checks: dict[int, dict[int, float | None]] = field(default_factory=dict)  # number: checks
    running: list[int] = field(default_factory=list)  # trials running when exported


def validate_export(
    data: Mapping[str, Any], name: str | None = None, progress: Progress | None = None
) -> CheckedExport:
    """Raise :class:`TransferError` if ``data`` cannot be imported (touches no database);
    else return it checked, for :func:`~hpotrack.transfer.load.import_checked`.
    ``progress`` is called with 1 per trial checked."""
    return _plan(data, name, progress)


def _plan(
    data: Mapping[str, Any], name: str | None, progress: Progress | None = None
) -> CheckedExport:
    """Check an export and turn it into rows; the first problem is a TransferError."""
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, Mapping) else type(data).__name__
        raise TransferError(not_an_export(found))
    version = data.get("version")
    if version not in READABLE:
        newer = isinstance(version, int) and version > VERSION
        raise TransferError(
            f"export version {version!r} is not supported (this hpotrack reads versions up "
            f"to {VERSION}){'; upgrade: pip install -U hpotrack' if newer else ''}"
        )
    top = _fields(data, TOP)  # best_schedule: derived from the trials, not imported
    study = _fields(top["study"], STUDY, "the study")
    definition, space = _definition(study, name)
    _check((study["target"] or 0) >= 0, "the study's target is negative")
    objectives = Objectives.from_columns(
        definition["objective"],
        definition["direction"],
        definition["objectives"],
        definition["constraints"],
    )
    plan = CheckedExport(definition, study["target"], objectives)
    for position, raw in enumerate(top["runs"] or []):
        run = _fields(raw, RUN, f"run {position}")
        _check(run["run"] == position, f"run at position {position} has number {run['run']!r}")
        plan.runs.append(run)
    claims: set[Any] = set()
    now = time.time()
    for position, raw in enumerate(top["trials"]):
        _trial(plan, raw, position, len(top["trials"]), space, claims, now)
        advance(progress)
    return plan


def _definition(study: dict[str, Any], name: str | None) -> tuple[dict[str, Any], Space]:
    """The ``insert_study`` arguments from the export's study, checked."""
    study_name = study["name"] if name is None else name
    problem = name_problem(study_name)
    _check(problem is None, problem or "")
    try:
        space = Space.from_json(study["space"])
    except HpotrackError as exc:
        raise TransferError(f"the study's space is invalid: {exc}") from None
    budget = None if study["budget"] is None else _budget(study["budget"])
    objectives = _objectives(study)
    try:
        method = method_from_json(dict(study["method"]))
        method.check(space)
        method.check_budget(budget)
        method.check_objectives(objectives)
        stored = method.to_json()
    except UnknownMethodError:
        stored = _unregistered(study["method"])
    except (HpotrackError, TypeError, ValueError) as exc:
        raise TransferError(f"the study's method is invalid: {exc}") from None
    function = study["function"] or {}
    _fields(function, FUNCTION, "the study's function")  # `hpotrack resume` imports it
    definition = {
        "name": study_name,
        "space": space.to_json(),
        "method": stored,
        "direction": study["direction"],
        "objective": study["objective"],
        "seed": study["seed"],
        "function": dict(function),
        "retries": 1 if study.get("retries") is None else study["retries"],
        "budget": None if budget is None else budget.to_json(),
        "objectives": objectives.stored_objectives(),
        "constraints": objectives.stored_constraints(),
    }
    _check(definition["retries"] >= 0, "the study's retries is negative")
    return definition, space


def _objectives(study: Mapping[str, Any]) -> Objectives:
    """What the study optimizes: its ``objectives`` (several, export version 8), else
    its ``objective`` and ``direction``; the first of several must be those two; and its
    ``constraints`` (export version 9)."""
    try:
        objectives = Objectives.from_columns(
            study["objective"],
            study["direction"],
            study.get("objectives"),
            study.get("constraints"),
        )
    except HpotrackError as exc:
        raise TransferError(f"the study's objectives are invalid: {exc}") from None
    _check(
        (objectives.metrics[0], objectives.directions[0])
        == (study["objective"], study["direction"]),
        "the study's objective and direction must be the first of its objectives",
    )
    return objectives


def _unregistered(method: Mapping[str, Any]) -> dict[str, Any]:
    """A method no code imported here registers (``@hp.methods.register`` in the study's
    script), kept as exported: the study reads, lists and exports here, and runs where
    that code is imported (``hpotrack resume``, its script), which checks it."""
    name, options = method.get("name"), method.get("options", {})
    _check(isinstance(name, str) and bool(name), "the study's method has no name")
    _check(isinstance(options, dict), f"the study's method {name!r} has no options object")
    return {"name": name, "options": options}


def _budget(raw: Mapping[str, Any]) -> Budget:
    """The study's budget from its JSON tag, checked as ``hp.Budget`` checks it."""
    fields = _fields(raw, BUDGET, "the study's budget")
    _check(fields["type"] == "budget", f"the study's budget has type {fields['type']!r}")
    try:
        return Budget.from_json(fields)
    except HpotrackError as exc:
        raise TransferError(f"the study's budget is invalid: {exc}") from None


def _trial(
    plan: CheckedExport,
    raw: Any,
    position: int,
    count: int,
    space: Space,
    claims: set[Any],
    now: float,
) -> None:
    """Check one exported trial and add its rows (trial, edges, curves) to ``plan``."""
    where = f"trial {position}"
    trial = _fields(raw, TRIAL, where)
    _check(
        trial["number"] == position,
        f"trial at position {position} has number {trial['number']!r}; numbers must be "
        "0, 1, 2, ... in order",
    )
    states = [s.value for s in TrialState]
    _check(trial["state"] in states, f"{where}: state {trial['state']!r} is not one of {states}")
    state, params = TrialState(trial["state"]), trial["params"]
    try:
        params = space.validate(params)
    except HpotrackError as exc:
        if state is not TrialState.FAILED:  # a queued one would run with them
            raise TransferError(f"{where}: params do not fit the study's space: {exc}") from None
    value = trial["value"]
    _check(value is None or math.isfinite(value), f"{where}: value {value!r} is not finite")
    _check_budget(trial["budget"], plan.definition["budget"], where)
    trained = trial["trained"]
    _check(trained is None or trained >= 0, f"{where}: trained {trained!r} is negative")
    complete = state is TrialState.COMPLETE
    _check(not complete or value is not None, f"{where}: it is complete but has no value")
    missing = plan.objectives.missing(trial["metrics"] or {}) if complete else None
    several = plan.objectives.is_multi or plan.objectives.constrained
    if several and missing is not None:  # on no front, or of no known feasibility
        kind = "objective" if missing in plan.objectives.metrics else "constraint metric"
        _fail(f"{where}: it is complete but has no finite value of the {kind} {missing!r}")
    claim = trial["claim"]
    _check(claim is None or claim not in claims, f"{where}: claim {claim!r} is used twice")
    claims.add(claim)
    error, finished = trial["error"], trial["finished"]
    if state is TrialState.RUNNING:  # ended when last seen: its last report, or its start
        state, error, finished = TrialState.FAILED, RUNNING_ERROR, _last_seen(trial, now)
        plan.running.append(position)
    plan.trials.append(
        {
            **{key: trial[key] for key in ("number", "value", "budget", "claim", "started")},
            "state": state.value,
            "params": dumps(params),
            "metrics": dumps(trial["metrics"] or {}),
            "origin": trial["origin"] or "sampled",
            **{"finished": finished, "error": error, "host": trial["host"], "pid": trial["pid"]},
            "seq": position + 1,  # increasing with number, as if written in order
            "parents": len(trial["parents"] or []),
            **{key: _index(trial[key], f"{where}: {key}") for key in ("rung", "bracket")},
            "note": trial["note"],
            "method": trial["method"],
            "chosen_by": trial["chosen_by"],
            "trained": trial["trained"],
            "run_id": trial["run"],  # the run's number in the export, made an id on insert
        }
    )
    checks = _checks(trial["checks"] or {}, where)
    if checks:
        plan.checks[position] = checks
    run = trial["run"]
    _check(run is None or 0 <= run < len(plan.runs), f"{where}: run {run!r} is not in runs")
    seen: set[tuple[int, str]] = set()
    for raw_edge in trial["parents"] or []:
        edge = _fields(raw_edge, EDGE, f"{where}'s parent")
        parent, kind = edge["parent"], edge["kind"]
        ok = 0 <= parent < position  # a trial comes from earlier ones, whatever the edge
        _check(ok, f"{where}: parent {parent!r} is not an earlier trial of the export")
        _check(bool(kind), f"{where}: parent {parent} has an empty kind")
        _check((parent, kind) not in seen, f"{where}: parent {parent} ({kind}) is listed twice")
        seen.add((parent, kind))
        plan.edges.append({"child": position, **edge})
    for metric, points in (trial["curve"] or {}).items():
        _check(is_utf8(metric), f"{where}: curve name {metric!r} is not valid Unicode text")
        _check(isinstance(points, list), f"{where}: curve {metric!r} must be a list")
        if not _plain_curve(points):  # bad, or of other types: checked point by point
            _check_curve(points, f"{where}: curve {metric!r}")
        plan.curves.append((position, metric, points))


def _check_budget(budget: float | None, study_budget: Mapping[str, Any] | None, where: str) -> None:
    """A trial's budget as a method may propose it: ``0 < budget <= max`` of the study's
    budget (any positive budget without one); a trial would train with it."""
    top = math.inf if study_budget is None else study_budget["max"]
    if budget is not None and not (0 < budget <= top):
        rule = "0 < budget" if study_budget is None else f"0 < budget <= {top!r}"
        _fail(f"{where}: `{rule}` must hold, but got budget={budget!r}")


def _plain_curve(points: list[Any]) -> bool:
    """Whether every point is ``[step >= 0, value, time]`` made of JSON's ints, floats and
    nulls, no step twice: checked a column at a time by builtins (set, map, min), as a
    Python call per point took most of the time of an import. It never passes a point
    :func:`_check_curve` refuses; False leaves the verdict and the message to it."""
    if not points:
        return True
    if set(map(type, points)) != {list} or set(map(len, points)) != {3}:
        return False
    # columns by itemgetter: zip(*points) made an iterator per point, a GC pass each 700
    steps, values, times = (list(map(itemgetter(i), points)) for i in range(3))
    if set(map(type, steps)) != {int} or min(steps) < 0 or max(steps) >= 2**63:
        return False
    kinds = set(map(type, values))
    if len(set(steps)) < len(steps) or not kinds <= _JSON_NUMBERS:
        return False
    if int in kinds and not all(_is_int(value) for value in values if type(value) is int):
        return False
    kinds = set(map(type, times))
    if NoneType in kinds:
        times = list(filter(partial(is_not, None), times))
    # bound.__le__(t) is bound <= t, exact for ints and False for NaN
    return (
        kinds <= _JSON_NUMBERS
        and all(map(_FIRST_TIME.__le__, times))
        and all(map(_LAST_TIME.__ge__, times))
    )


def _check_curve(points: list[Any], where: str) -> None:
    """Check a curve point by point, failing at the first bad one; messages made only on
    failure, as a curve has 100,000 points."""
    steps: set[int] = set()
    for point in points:
        if not (isinstance(point, list) and len(point) == 3 and _point(*point)):
            _fail(f"{where}: {point!r} is not [step >= 0, value, time]")
        if point[0] in steps:
            _fail(f"{where} has step {point[0]} twice")
        steps.add(point[0])


def _last_seen(trial: Mapping[str, Any], now: float) -> float:
    """When a trial exported while running was last known alive: the time of its last
    report, else its start (the import time only when it has neither); not the time of
    the import, which would make it look as if it had run until then."""
    times = [
        point[2]
        for points in (trial["curve"] or {}).values()
        if isinstance(points, list)
        for point in points
        if isinstance(point, list) and len(point) == 3 and isinstance(point[2], int | float)
    ]
    if times:
        return float(max(times))
    started = trial["started"]
    return float(started) if isinstance(started, int | float) else now


def _index(value: int | None, what: str) -> int | None:
    """A rung or bracket: a count from 0 (or None)."""
    _check(value is None or value >= 0, f"{what} must be >= 0, not {value!r}")
    return value


def _checks(checks: Mapping[str, Any], where: str) -> dict[int, float | None]:
    """A trial's checks as the store keeps them (step -> value), each step a whole
    number as JSON writes it and each value a number or null."""
    for step, value in checks.items():
        whole = isinstance(step, str) and step.isdecimal() and len(step) < 20
        ok = whole and str(int(step)) == step and _point(int(step), value, None)
        _check(ok, f"{where}: check {step!r}: {value!r} is not a step >= 0 with a number or null")
    return {int(step): value for step, value in checks.items()}


def _fields(obj: Any, spec: Mapping[str, str], where: str = "the export") -> dict[str, Any]:
    """``obj``'s fields by ``spec`` (absent optional ones as None); wrong or unknown keys fail."""
    _check(isinstance(obj, Mapping), f"{where} must be an object")
    unknown = [key for key in obj if key not in spec]
    _check(not unknown, f"{where} has unknown key(s) {', '.join(map(repr, unknown))}")
    out = {}
    for key, kind in spec.items():
        value = obj.get(key)
        test, what = _KINDS[kind.rstrip("?")]
        if value is None:
            _check(kind.endswith("?"), f"{where} has no {key!r}")
        elif not test(value):  # not the message each time: the repr of a whole curve
            _fail(f"{where}: {key} must be {what}, not {value!r}")
        out[key] = value
    return out


def _point(step: Any, value: Any, at: Any) -> bool:
    """Whether ``[step, value, time]`` is a curve point (value and time may be null)."""
    number = _KINDS["number"][0]
    valid = _KINDS["int"][0](step) and step >= 0
    return bool(valid and (value is None or number(value)) and (at is None or _is_time(at)))


def _check(ok: bool, message: str) -> None:
    if not ok:
        _fail(message)


def _fail(message: str) -> NoReturn:
    raise TransferError(f"cannot import: {message}")

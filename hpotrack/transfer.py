"""Export a study to JSON, JSON Lines or CSV, and import a JSON export as a new study.

The JSON export is the study's whole record, so an export imported elsewhere and exported
again gives the same bytes: the definition (space, method and budget as their stable JSON
tags, never class names), and per trial its state, params, value, metrics, times,
host/pid, claim, lineage edges, intermediate metrics (``curve``), where the method decided
on it (``rung``, ``bracket``, ``checks``: step -> objective), its ``note`` (e.g. the
method ``auto`` chose), the budget steps it ``trained`` and the ``run`` (worker process)
it ran in; ``runs`` lists those processes' provenance (host, pid, python, platform, git
commit, source hash, argv, start), so an imported trial still says what code ran it. Not
exported: checkpoint files.

Beside the study, JSON and JSONL (in the header line) carry ``best_schedule``: the best
final trial's hyperparameter schedule, ``{"trial": N, "schedule": {name: [[from_step,
value], ...]}}`` (null before a trial completes); "final" is each population member's
latest complete segment (:func:`finals`), so for PBT it is what the best member trained
with, step by step. It is one study-level field rather than a schedule per trial because
it is derived: every trial's schedule follows from the params and lineage the export
already holds (``hpotrack.lineage.schedule``), and a per-trial copy would grow with the
population times its segments. Being derived, it is recomputed on export and ignored on
import (only its type is checked), so export -> import -> export stays byte-identical.
CSV has one row per trial and no place for it.

An import creates a new study in one write transaction, so a bad file stores nothing.
Version 1 exports, from before budgets and rungs, import as studies without them;
version 2 ones, from before ``best_schedule`` and notes, import with no notes; versions
before 4 carry no ``trained`` (those trials are not counted by ``max_budget``). A
trial that was running when exported is imported as ``failed`` ("running when exported"),
finished at the import time: nothing will ever tell it, and a study must not keep a
running trial that no worker owns.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO, cast

from hpotrack import lineage
from hpotrack.budget import Budget
from hpotrack.definition import DIRECTIONS
from hpotrack.errors import HpotrackError
from hpotrack.files import write_replacing
from hpotrack.jsonable import dumps, jsonable
from hpotrack.methods.base import from_json as method_from_json
from hpotrack.records import TrialRecord, TrialState
from hpotrack.space import Space
from hpotrack.store import Store
from hpotrack.study import Study

FORMAT = "hpotrack-study"
VERSION = 5  # 5: runs; 4: trained; 3: best_schedule and notes; 2: budget, rungs, brackets, checks
READABLE = (1, 2, 3, 4, 5)
FORMATS = ("json", "jsonl", "csv")
RUNNING_ERROR = "running when exported"
_CSV_IMPORT = (
    "CSV exports cannot be imported: they carry no search space; export with --format json"
)


def _is_int(x: Any) -> bool:
    """An int SQLite can store: 64 bits (a larger one would fail the insert), not a bool."""
    return isinstance(x, int) and not isinstance(x, bool) and -(2**63) <= x < 2**63


_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "int": (_is_int, "a 64-bit int"),
    "number": (lambda x: isinstance(x, float) or _is_int(x), "a number"),
    "str": (lambda x: isinstance(x, str), "a string"),
    "object": (lambda x: isinstance(x, Mapping), "an object"),
    "list": (lambda x: isinstance(x, list), "a list"),
}
# The fields of each object of an export, with their kind; "?": may be null or left out.
STUDY = {
    "name": "str", "space": "object", "method": "object", "direction": "str",
    "objective": "str", "seed": "int", "target": "int?", "function": "object?",
    "retries": "int?", "budget": "object?",
}  # fmt: skip
TRIAL = {
    "number": "int", "state": "str", "params": "object", "value": "number?",
    "metrics": "object?", "budget": "number?", "origin": "str?", "claim": "str?",
    "started": "number?", "finished": "number?", "error": "str?", "host": "str?",
    "pid": "int?", "parents": "list?", "curve": "object?", "rung": "int?", "bracket": "int?",
    "checks": "object?", "note": "str?", "trained": "int?", "run": "int?",
}  # fmt: skip
RUN = {
    "run": "int", "host": "str?", "pid": "int?", "python": "str?", "platform": "str?",
    "git_commit": "str?", "source_hash": "str?", "argv": "str?", "started": "number?",
}  # fmt: skip
EDGE = {"parent": "int", "kind": "str", "step": "int?", "detail": "str?"}
BUDGET = {"type": "str", "min": "number", "max": "number", "name": "str"}
TOP = {
    "format": "str", "version": "int", "study": "object", "best_schedule": "object?",
    "runs": "list?", "trials": "list",
}  # fmt: skip


class TransferError(HpotrackError):
    """An export cannot be written, or a file cannot be imported (the message says why)."""


# --- export ------------------------------------------------------------------------------------


def export_study(study: Study, progress: Progress | None = None) -> dict[str, Any]:
    """The study as a JSON-ready dict with a stable key order (one consistent snapshot);
    ``progress`` is called with 1 per trial converted."""
    store = study.store
    with _snapshot(store):
        row = store.find_study(study.name)
        if row is None:
            raise TransferError(f"study {study.name!r} no longer exists in {store.path}")
        curves = _curves(store, row.id)
        runs, run_of = _runs(store, row.id)
        records = study.trials
        trials = []
        for t in records:  # made plain one by one: most of the work, so progress counts it
            trial = {**t.to_dict(), "claim": t.claim, "curve": curves.get(t.number, {})}
            trial["run"] = run_of.get(t.number)
            trials.append(jsonable(_ordered(trial, TRIAL)))
            _advance(progress)
        definition = {
            **_ordered(dict(vars(row)), STUDY),
            "space": study.space.to_json(),
            "method": study.method.to_json(),
        }
    data = {
        "format": FORMAT,
        "version": VERSION,
        "study": definition,
        "best_schedule": best_schedule(records, definition["direction"]),
        "runs": runs,
    }
    return {**cast(dict[str, Any], jsonable(data)), "trials": trials}


def _runs(store: Store, study_id: int) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """The study's worker processes as export rows, numbered 0, 1, ... by when they were
    registered, and each trial's number -> its run's."""
    rows = store.conn.execute(
        f"SELECT id, {', '.join(list(RUN)[1:])} FROM runs WHERE study_id = ? ORDER BY id",
        (study_id,),
    ).fetchall()
    index = {row[0]: position for position, row in enumerate(rows)}
    runs = [dict(zip(RUN, (index[row[0]], *row[1:]), strict=True)) for row in rows]
    run_of = {
        number: index[run_id]
        for number, run_id in store.conn.execute(
            "SELECT number, run_id FROM trials WHERE study_id = ? AND run_id IS NOT NULL",
            (study_id,),
        )
        if run_id in index
    }
    return runs, run_of


def best_schedule(trials: list[TrialRecord], direction: str) -> dict[str, Any] | None:
    """``{"trial": N, "schedule": {name: [[from_step, value], ...]}}`` of the best final
    trial (:func:`hpotrack.lineage.best_final`), None while no trial is complete."""
    best = lineage.best_final(trials, direction)
    if best is None:
        return None
    points = lineage.schedule(trials, best.number)
    return {
        "trial": best.number,
        "schedule": {name: [list(point) for point in line] for name, line in points.items()},
    }


def write_export(study: Study, fmt: str, stream: TextIO, progress: Progress | None = None) -> int:
    """Write the export as ``json``, ``jsonl`` or ``csv`` to ``stream``; returns the trial count.
    ``progress`` is called with 1 per trial converted, then per trial written."""
    if fmt not in FORMATS:
        raise TransferError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    data = export_study(study, progress)
    if fmt == "json":
        _write_json(data, stream, progress)
    elif fmt == "jsonl":
        header = {key: value for key, value in data.items() if key != "trials"}
        header["trial_count"] = len(data["trials"])  # lets an import see a file cut short
        stream.write(json.dumps(header, separators=(",", ":"), allow_nan=False) + "\n")
        for item in data["trials"]:
            stream.write(json.dumps(item, separators=(",", ":"), allow_nan=False) + "\n")
            _advance(progress)
    else:
        _write_csv(data, stream, progress)
    return len(data["trials"])


def export_to_file(
    study: Study, fmt: str, path: str | Path, progress: Progress | None = None
) -> int:
    """Write the export to ``path`` atomically (:func:`write_replacing`); returns the trial
    count."""
    target = Path(path)
    if not target.parent.is_dir():
        raise TransferError(f"cannot write {target}: the folder {target.parent} does not exist")
    try:
        return write_replacing(
            target,
            lambda stream: write_export(study, fmt, cast(TextIO, stream), progress),
            text=True,
        )
    except OSError as exc:
        raise TransferError(f"cannot write {target}: {exc.strerror or exc}") from None


def _curves(store: Store, study_id: int) -> dict[int, dict[str, list[list[Any]]]]:
    """Intermediate metrics of every trial: number -> name -> [[step, value, time], ...]."""
    curves: dict[int, dict[str, list[list[Any]]]] = {}
    for number, name, step, value, at in store.conn.execute(
        "SELECT t.number, m.name, m.step, m.value, m.time FROM metrics m "
        "JOIN trials t ON t.id = m.trial_id WHERE t.study_id = ? "
        "ORDER BY t.number, m.name, m.step",
        (study_id,),
    ):
        curves.setdefault(number, {}).setdefault(name, []).append([step, value, at])
    return curves


@contextmanager
def _snapshot(store: Store) -> Iterator[None]:
    """A read transaction: every query inside sees the same committed state (WAL)."""
    if store.conn.in_transaction:
        yield
        return
    store.conn.execute("BEGIN")
    try:
        yield
    finally:
        store.conn.execute("COMMIT")


def _ordered(record: Mapping[str, Any], spec: Mapping[str, str]) -> dict[str, Any]:
    return {key: record[key] for key in spec}


def _write_json(data: Mapping[str, Any], stream: TextIO, progress: Progress | None) -> None:
    """``json.dumps(data, indent=2)`` and a newline, written a trial at a time (the same
    bytes: every line of a trial's dump indented by the 4 spaces of its place)."""
    trials = data["trials"]
    head = json.dumps({**data, "trials": []}, indent=2, allow_nan=False)
    if not trials:
        stream.write(head + "\n")
        return
    stream.write(head.removesuffix("[]\n}") + "[\n")
    for index, trial in enumerate(trials):
        text = json.dumps(trial, indent=2, allow_nan=False).replace("\n", "\n    ")
        stream.write("    " + text + (",\n" if index < len(trials) - 1 else "\n"))
        _advance(progress)
    stream.write("  ]\n}\n")


def _write_csv(data: Mapping[str, Any], stream: TextIO, progress: Progress | None = None) -> None:
    """One row per trial: params and metrics flattened, checks as one JSON cell, parents
    as ``number:kind[@step]`` joined by spaces (``7:promoted@9``); no curves."""
    trials = data["trials"]
    params = list(data["study"]["space"])
    params += sorted({k for t in trials for k in t["params"]} - set(params))
    metrics = sorted({k for t in trials for k in t["metrics"]})
    header = ["number", "state", "value", *(f"param_{p}" for p in params)]
    header += [*(f"metric_{m}" for m in metrics), "budget", "rung", "bracket", "checks"]
    header += ["origin", "parents", "started", "finished", "duration", "error", "trained"]
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    for t in trials:
        started, finished = t["started"], t["finished"]
        duration = None if started is None or finished is None else finished - started
        row = [t["number"], t["state"], t["value"], *(t["params"].get(p) for p in params)]
        row += [*(t["metrics"].get(m) for m in metrics), t["budget"], t["rung"], t["bracket"]]
        row += [t["checks"] or None, t["origin"], _parents_cell(t["parents"])]
        row += [_iso(started), _iso(finished), duration, t["error"], t["trained"]]
        writer.writerow([_cell(v) for v in row])
        _advance(progress)


def _parents_cell(parents: list[dict[str, Any]]) -> str | None:
    """A trial's lineage edges in one CSV cell: ``7:promoted@9 5:retried``."""
    cells = [
        f"{e['parent']}:{e['kind']}" + ("" if e["step"] is None else f"@{e['step']}")
        for e in parents
    ]
    return " ".join(cells) or None


def _cell(value: Any) -> Any:
    return json.dumps(value, separators=(",", ":")) if isinstance(value, (dict, list)) else value


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="microseconds")


# --- reading -----------------------------------------------------------------------------------


def read_export(path: str | Path) -> dict[str, Any]:
    """The export in a json or jsonl file (told apart by content, whatever the file is
    called; ``-``: standard input), as one dict."""
    source = Path(path)
    try:
        text = sys.stdin.read() if str(path) == "-" else source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TransferError(f"no file at {source}") from None
    except UnicodeDecodeError:
        raise TransferError(f"{source} is not an hpotrack export (not UTF-8 text)") from None
    except OSError as exc:
        raise TransferError(f"cannot read {source}: {exc.strerror or exc}") from None
    return parse_export(text, "standard input" if str(path) == "-" else str(source))


def parse_export(text: str, source: str) -> dict[str, Any]:
    """An export's ``text`` (json or jsonl, told apart by content) as one dict;
    ``source`` names where it came from in error messages."""
    if text.startswith("number,state,"):
        raise TransferError(_CSV_IMPORT)
    if not text.strip():
        raise TransferError(f"{source} is empty; expected an hpotrack export (json or jsonl)")
    lines = text.split("\n")
    try:
        header = _loads(lines[0])
    except ValueError:
        header = None
    if isinstance(header, dict) and {"format", "study"} <= header.keys() and "trials" not in header:
        trials = []
        for lineno, line in enumerate(lines[1:], start=2):
            if line.strip():
                try:
                    trials.append(_loads(line))
                except json.JSONDecodeError as exc:
                    raise TransferError(
                        f"{source}, line {lineno}: not valid JSON ({exc.msg}, column {exc.colno})"
                    ) from None
        expected = header.pop("trial_count", None)
        if expected is not None and expected != len(trials):
            raise TransferError(
                f"{source} holds {len(trials)} trials, but its first line says {expected}: "
                "the file was cut short; export or copy it again"
            )
        return {**header, "trials": trials}
    try:
        data = _loads(text)
    except json.JSONDecodeError as exc:
        raise TransferError(
            f"{source} is not an hpotrack export: not valid JSON at line {exc.lineno}, "
            f"column {exc.colno} ({exc.msg})"
        ) from None
    if not isinstance(data, dict):
        raise TransferError(
            f"{source} is not an hpotrack export: expected a JSON object, found "
            f"{type(data).__name__}"
        )
    return data


def _loads(text: str) -> Any:
    """JSON with NaN/Infinity read as null, as the store would keep them."""
    return json.loads(text, parse_constant=lambda _: None)


# --- import ------------------------------------------------------------------------------------


@dataclass
class _Plan:
    """A checked export, ready to insert: the study row and the rows of each table."""

    definition: dict[str, Any]
    target: int | None
    trials: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)  # "run": its number in the export
    edges: list[dict[str, Any]] = field(default_factory=list)
    points: list[tuple[int, str, int, float | None, float | None]] = field(default_factory=list)


def validate_export(
    data: Mapping[str, Any], name: str | None = None, progress: Progress | None = None
) -> None:
    """Raise :class:`TransferError` if ``data`` cannot be imported (touches no database);
    ``progress`` is called with 1 per trial checked."""
    _plan(data, name, progress)


def import_study(
    store: Store,
    data: Mapping[str, Any],
    name: str | None = None,
    progress: Progress | None = None,
) -> Study:
    """Create a NEW study from an export (named ``name``, else as exported); returns it.
    ``progress`` is called with 1 per trial checked, then with the count once written.

    Everything is inserted in one write transaction: a file that fails a check stores nothing.
    """
    plan = _plan(data, name, progress)
    study_name = plan.definition["name"]
    with store.write():
        if store.find_study(study_name) is not None:
            raise TransferError(
                f"study {study_name!r} already exists in {store.path}; "
                "import it under another name with --study NAME"
            )
        study_id = store.insert_study(**plan.definition)
        store.update_study(study_id, target=plan.target)
        run_ids = [
            store.insert_run(study_id, {k: v for k, v in run.items() if k != "run"})
            for run in plan.runs
        ]
        for trial in plan.trials:
            trial["run_id"] = None if trial["run_id"] is None else run_ids[trial["run_id"]]
        _insert_all(store, "trials", [{"study_id": study_id, **t} for t in plan.trials])
        ids = dict(
            store.conn.execute("SELECT number, id FROM trials WHERE study_id = ?", (study_id,))
        )
        _insert_all(store, "lineage", [{"study_id": study_id, **edge} for edge in plan.edges])
        _insert_all(
            store,
            "metrics",
            [
                {"trial_id": ids[number], "name": metric, "step": step, "value": value, "time": at}
                for number, metric, step, value, at in plan.points
            ],
        )
        row = store.find_study(study_name)
    _advance(progress, len(plan.trials))
    assert row is not None
    return Study(store, row)


def _insert_all(store: Store, table: str, rows: list[dict[str, Any]]) -> None:
    """Bulk insert inside the caller's transaction (sqlite-utils 4 nests it in a savepoint)."""
    if rows:
        store.db.table(table).insert_all(rows)


def _plan(data: Mapping[str, Any], name: str | None, progress: Progress | None = None) -> _Plan:
    """Check an export and turn it into rows; the first problem is a TransferError."""
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, Mapping) else type(data).__name__
        raise TransferError(
            f"not an hpotrack study export (format {found!r}, expected {FORMAT!r}); "
            "make one with `hpotrack export STUDY --format json`"
        )
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
    plan = _Plan(definition, study["target"])
    for position, raw in enumerate(top["runs"] or []):
        run = _fields(raw, RUN, f"run {position}")
        _check(run["run"] == position, f"run at position {position} has number {run['run']!r}")
        plan.runs.append(run)
    claims: set[Any] = set()
    now = time.time()
    for position, raw in enumerate(top["trials"]):
        _trial(plan, raw, position, len(top["trials"]), space, claims, now)
        _advance(progress)
    return plan


def _definition(study: dict[str, Any], name: str | None) -> tuple[dict[str, Any], Space]:
    """The ``insert_study`` arguments from the export's study, checked."""
    study_name = study["name"] if name is None else name
    _check(isinstance(study_name, str) and bool(study_name.strip()), "the study name is empty")
    try:
        space = Space.from_json(study["space"])
    except HpotrackError as exc:
        raise TransferError(f"the study's space is invalid: {exc}") from None
    budget = None if study["budget"] is None else _budget(study["budget"])
    try:
        method = method_from_json(dict(study["method"]))
        method.check(space)
        method.check_budget(budget)
    except (HpotrackError, TypeError, ValueError) as exc:
        raise TransferError(f"the study's method is invalid: {exc}") from None
    _check(study["direction"] in DIRECTIONS, "the study's direction must be minimize or maximize")
    _check(bool(study["objective"]), "the study's objective is empty")
    definition = {
        "name": study_name,
        "space": space.to_json(),
        "method": method.to_json(),
        "direction": study["direction"],
        "objective": study["objective"],
        "seed": study["seed"],
        "function": dict(study["function"] or {}),
        "retries": 1 if study.get("retries") is None else study["retries"],
        "budget": None if budget is None else budget.to_json(),
    }
    _check(definition["retries"] >= 0, "the study's retries is negative")
    return definition, space


def _budget(raw: Mapping[str, Any]) -> Budget:
    """The study's budget from its JSON tag, checked as ``hp.Budget`` checks it."""
    fields = _fields(raw, BUDGET, "the study's budget")
    _check(fields["type"] == "budget", f"the study's budget has type {fields['type']!r}")
    try:
        return Budget.from_json(fields)
    except HpotrackError as exc:
        raise TransferError(f"the study's budget is invalid: {exc}") from None


def _trial(
    plan: _Plan, raw: Any, position: int, count: int, space: Space, claims: set[Any], now: float
) -> None:
    """Check one exported trial and add its rows (trial, edges, curve points) to ``plan``."""
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
        if state not in (TrialState.QUEUED, TrialState.FAILED):
            raise TransferError(f"{where}: params do not fit the study's space: {exc}") from None
    claim = trial["claim"]
    _check(claim is None or claim not in claims, f"{where}: claim {claim!r} is used twice")
    claims.add(claim)
    error, finished = trial["error"], trial["finished"]
    if state is TrialState.RUNNING:  # ended when last seen: its last report, or its start
        state, error, finished = TrialState.FAILED, RUNNING_ERROR, _last_seen(trial, now)
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
            "checks": _checks(trial["checks"] or {}, where),
            "note": trial["note"],
            "trained": trial["trained"],
            "run_id": trial["run"],  # the run's number in the export, made an id on insert
        }
    )
    run = trial["run"]
    _check(run is None or 0 <= run < len(plan.runs), f"{where}: run {run!r} is not in runs")
    seen: set[tuple[int, str]] = set()
    for raw_edge in trial["parents"] or []:
        edge = _fields(raw_edge, EDGE, f"{where}'s parent")
        parent, kind = edge["parent"], edge["kind"]
        ok = 0 <= parent < count and parent != position
        _check(ok, f"{where}: parent {parent!r} is not another trial of the export")
        _check((parent, kind) not in seen, f"{where}: parent {parent} ({kind}) is listed twice")
        seen.add((parent, kind))
        plan.edges.append({"child": position, **edge})
    for metric, points in (trial["curve"] or {}).items():
        _check(isinstance(points, list), f"{where}: curve {metric!r} must be a list")
        steps: set[int] = set()
        for point in points:
            ok = isinstance(point, list) and len(point) == 3 and _point(*point)
            _check(ok, f"{where}: curve {metric!r}: {point!r} is not [step >= 0, value, time]")
            _check(point[0] not in steps, f"{where}: curve {metric!r} has step {point[0]} twice")
            steps.add(point[0])
            plan.points.append((position, metric, *point))


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


def _checks(checks: Mapping[str, Any], where: str) -> str | None:
    """A trial's checks as the store keeps them (JSON of step -> value; None if none),
    each step a whole number as JSON writes it and each value a number or null."""
    for step, value in checks.items():
        whole = isinstance(step, str) and step.isdecimal() and len(step) < 20
        ok = whole and str(int(step)) == step and _point(int(step), value, None)
        _check(ok, f"{where}: check {step!r}: {value!r} is not a step >= 0 with a number or null")
    return dumps(checks) if checks else None


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
        else:
            _check(test(value), f"{where}: {key} must be {what}, not {value!r}")
        out[key] = value
    return out


def _point(step: Any, value: Any, at: Any) -> bool:
    """Whether ``[step, value, time]`` is a curve point (value and time may be null)."""
    number = _KINDS["number"][0]
    valid = _KINDS["int"][0](step) and step >= 0
    return bool(valid and (value is None or number(value)) and (at is None or number(at)))


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise TransferError(f"cannot import: {message}")


Progress = Callable[[int], None]  # told how many more trials are done (a progress bar)


def _advance(progress: Progress | None, count: int = 1) -> None:
    if progress is not None:
        progress(count)

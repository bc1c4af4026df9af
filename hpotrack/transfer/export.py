"""Writing a study out: as one JSON document, JSON Lines (a header line, then a trial per
line) or CSV (a row per trial), read from one snapshot of the database (the format:
:mod:`hpotrack.transfer`)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from itertools import groupby
from math import isfinite
from operator import itemgetter
from pathlib import Path
from typing import Any, TextIO, cast

from hpotrack import lineage
from hpotrack.connection import COMPANION_ENDS
from hpotrack.csv_nul import nul_explained
from hpotrack.files import folder_problem, write_replacing
from hpotrack.jsonable import jsonable, jsonable_key
from hpotrack.records import TrialRecord
from hpotrack.store import Store
from hpotrack.study import Study
from hpotrack.text import utf8_text
from hpotrack.transfer.format import (
    FORMAT,
    FORMATS,
    RUN,
    STUDY,
    TRIAL,
    VERSION,
    Progress,
    TransferError,
    advance,
)


def export_study(study: Study, progress: Progress | None = None) -> dict[str, Any]:
    """The study as a JSON-ready dict with a stable key order (one consistent snapshot);
    ``progress`` is called with 1 per trial converted."""
    with _exported(study, progress, curves=True) as (header, _, trials):
        return {**header, "trials": list(trials)}


@contextmanager
def _exported(
    study: Study, progress: Progress | None, *, curves: bool, plain: bool = True
) -> Iterator[tuple[dict[str, Any], list[TrialRecord], Iterator[dict[str, Any]]]]:
    """The export's header (everything but the trials), the trials' records, and the
    trials as exported, converted one at a time as the block iterates them (one
    consistent snapshot). Each trial's curve is read as it is converted (``curves=False``:
    none, for CSV), from one query the conversion walks along (:func:`_curves`), so a
    writer holds one trial's curve, not the study's: 50 trials of 100,000 reports took
    1.5 GB to export, even to CSV, which has no curves. ``plain=False``: the trials are
    not made plain (:func:`jsonable`, a walk of every value: 2 s of an export of 100,000
    trials), for a writer whose encoder refuses what is not (:func:`_encoded`)."""
    with _snapshot(study) as store:
        row = store.find_study(study.name)
        if row is None:
            raise TransferError(f"study {study.name!r} no longer exists in {store.path}")
        runs, run_of = _runs(store, row.id)
        records = study.snapshot_trials(store)
        definition = {  # the method as stored: its class need not be imported here
            **_ordered(dict(vars(row)), STUDY),
            "space": study.space.to_json(),
        }
        data = {
            "format": FORMAT,
            "version": VERSION,
            "study": definition,
            "best_schedule": best_schedule(records, definition["direction"]),
            "runs": runs,
        }

        def trials() -> Iterator[dict[str, Any]]:
            numbers = [t.number for t in records]
            read = _curves(store, row.id, numbers) if curves else ({} for _ in numbers)
            for t, curve in zip(records, read, strict=True):  # converted one by one: most
                # of the work, so progress counts it
                trial = {**t.to_dict(), "claim": t.claim, "curve": {}, "run": run_of.get(t.number)}
                converted = jsonable(_ordered(trial, TRIAL)) if plain else _ordered(trial, TRIAL)
                converted["curve"] = curve  # plain already
                yield converted
                advance(progress)

        yield cast(dict[str, Any], jsonable(data)), records, trials()


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
    csv_file = fmt == "csv"
    with _exported(study, progress, curves=not csv_file, plain=csv_file) as exported:
        header, records, trials = exported
        count = len(records)
        if fmt == "json":
            _write_json(header, count, trials, stream, progress)
        elif fmt == "jsonl":
            head = {**header, "trial_count": count}  # lets an import see a file cut short
            stream.write(_COMPACT.encode(head) + "\n")
            for item in trials:
                stream.write(_encoded(item, _COMPACT.encode) + "\n")
                advance(progress)
        else:
            _write_csv(header, records, trials, stream, progress)
    return count


_COMPACT = json.JSONEncoder(separators=(",", ":"), allow_nan=False)  # json.dumps's, built once


def _encoded(trial: dict[str, Any], encode: Callable[[dict[str, Any]], str]) -> str:
    """``encode(trial)`` of a trial as read; one the encoder refuses (a NaN or a numpy
    value, which :func:`hpotrack.jsonable.dumps` keeps out of the database, but a
    process writing the study may hand its own records over) is made plain first, as
    every trial was: what the encoder takes, :func:`jsonable` leaves as it is."""
    try:
        return encode(trial)
    except (TypeError, ValueError):
        return encode(jsonable(trial))


def export_to_file(
    study: Study, fmt: str, path: str | Path, progress: Progress | None = None
) -> int:
    """Write the export to ``path`` atomically (:func:`write_replacing`); returns the trial
    count."""
    target = Path(path)
    problem = folder_problem(target)
    if problem is not None:
        raise TransferError(f"cannot write {target}: {problem}")
    refuse_a_database(target, study, fmt)
    try:
        return write_replacing(
            target,
            lambda stream: write_export(study, fmt, cast(TextIO, stream), progress),
            text=True,
        )
    except OSError as exc:
        raise TransferError(f"cannot write {target}: {exc.strerror or exc}") from None


def refuse_a_database(target: Path, study: Study, fmt: str) -> None:
    """An export never replaces a database (the study's own, its journal files, or any
    SQLite file): ``-o hpotrack.db`` would have turned every study in it into one
    export."""
    database = study.db_path.resolve()
    own = {database, *(database.with_name(database.name + end) for end in COMPANION_ENDS)}
    if target.resolve() in own:
        what = "the database the study is in"
    elif is_sqlite_file(target):
        what = "an SQLite database"
    else:
        return
    raise TransferError(
        f"{target} is {what}: an export would replace it; write to another file, "
        f"e.g. -o {study.name}.{fmt}"
    )


def is_regular_file(path: Path) -> bool:
    """``path.is_file()``, False also where the path cannot be looked at (a name too
    long for the system raises, ENAMETOOLONG): the reader of the file says why."""
    try:
        return path.is_file()
    except OSError:
        return False


def is_sqlite_file(path: Path) -> bool:
    """Whether ``path`` is a regular file that starts as an SQLite database does (its
    first 16 bytes read, not the whole file; a FIFO is never opened: that would wait for
    a writer)."""
    if not is_regular_file(path):
        return False
    try:
        with path.open("rb") as file:
            return file.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _curves(
    store: Store, study_id: int, numbers: Iterable[int]
) -> Iterator[dict[str, list[list[Any]]]]:
    """The curve of each of trials ``numbers`` (ascending; {} for one without), read with
    one query as the export goes (one per trial took 0.8 s of 100,000): name -> [[step,
    value, time], ...], already plain JSON (an infinite value is null), so
    :func:`jsonable` need not walk every point again (a third of the time of exporting
    long curves). The query is closed when the trials end or the export stops: no
    statement is left pending on the connection."""
    rows = store.curves(study_id)
    try:
        stored = groupby(rows, key=itemgetter(0))
        found = next(stored, None)
        for number in numbers:
            while found is not None and found[0] < number:
                found = next(stored, None)
            if found is None or found[0] != number:
                yield {}
                continue
            yield {
                name: [
                    [step, value if value is None or isfinite(value) else None, at]
                    for _, _, step, value, at in points
                ]
                for name, points in groupby(found[1], key=itemgetter(1))
            }
    finally:
        rows.close()


@contextmanager
def _snapshot(study: Study) -> Iterator[Store]:
    """A store whose queries all see the same committed state of the study's file (WAL):
    a connection of the export's own, in a read transaction. Not the process's shared
    connection, which its other threads write through meanwhile: a transaction there made
    their writes fail ("cannot start a transaction within a transaction"), or was theirs,
    uncommitted. Only when the path no longer leads to the study's file (deleted or
    replaced since it was opened) is the file read through the shared connection, the
    only one that has it, under its read lock (:meth:`Store.reading`): the export waits
    for another thread's write transaction to end instead of reading inside it, and the
    next ones wait for the export."""
    own = None if study.store.replaced() else Store(study.db_path, must_exist=True)
    if own is not None and own.file_id != study.store.file_id:  # replaced meanwhile
        own.close()
        own = None
    if own is None:  # the study's lock first, as everywhere: the export reads through it
        with study.in_use(), study.store.reading(), _transaction(study.store):
            yield study.store
        return
    try:
        own.conn.execute("BEGIN")
        yield own
    finally:
        own.close()  # ends its read transaction


@contextmanager
def _transaction(store: Store) -> Iterator[None]:
    """A read transaction on ``store``'s connection (none if one is open already)."""
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


def _write_json(
    header: Mapping[str, Any],
    count: int,
    trials: Iterator[Any],
    stream: TextIO,
    progress: Progress | None,
) -> None:
    """``json.dumps({**header, "trials": [...]}, indent=2)`` and a newline, written a
    trial at a time (every line of a trial's dump indented by the 4 spaces of its place),
    except that each curve point is one line (:func:`_curve_json`)."""
    head = json.dumps({**header, "trials": []}, indent=2, allow_nan=False)
    if not count:
        stream.write(head + "\n")
        return
    stream.write(head.removesuffix("[]\n}") + "[\n")
    for index, trial in enumerate(trials):
        stub = _encoded({**trial, "curve": {}}, _INDENTED.encode)
        # "curve" is the only line of the trial's own keys (2 spaces in) that can match:
        # deeper lines have more spaces, and strings hold no raw newline.
        before, _, after = stub.partition(_CURVE_LINE)
        text = f"{before}{_CURVE_KEY}{_curve_json(trial['curve'])}{after}"
        stream.write("    " + text.replace("\n", "\n    ") + (",\n" if index < count - 1 else "\n"))
        advance(progress)
    stream.write("  ]\n}\n")


_INDENTED = json.JSONEncoder(indent=2, allow_nan=False)  # json.dumps(indent=2)'s, built once
_CURVE_KEY = '\n  "curve": '
_CURVE_LINE = _CURVE_KEY + "{}"
_POINTS = json.JSONEncoder(separators=(", ", ": "), allow_nan=False)  # the C encoder


def _curve_json(curve: Mapping[str, list[list[Any]]]) -> str:
    """A trial's curve as the value of its ``"curve"`` key: as indent=2 lays it out, but
    each ``[step, value, time]`` on one line, a whole curve encoded at once by the C
    encoder (indent=2 has none, and spread a point over five lines, nearly doubling the
    file of a study that reports every batch). Points hold only numbers and nulls, so
    ``], [`` is always between two points."""
    if not curve:
        return "{}"
    lines = []
    for name, points in curve.items():
        body = _POINTS.encode(points)
        if points:
            body = "[\n      " + body[1:-1].replace("], [", "],\n      [") + "\n    ]"
        lines.append(f"    {json.dumps(name)}: {body}")
    return "{\n" + ",\n".join(lines) + "\n  }"


def _write_csv(
    data: Mapping[str, Any],
    records: list[TrialRecord],
    trials: Iterable[Mapping[str, Any]],
    stream: TextIO,
    progress: Progress | None = None,
) -> None:
    """One row per trial: params and metrics flattened, checks as one JSON cell, parents
    as ``number:kind[@step]`` joined by spaces (``7:promoted@9``); no curves. The columns
    come from the ``records``, the rows from ``trials`` (plain), each written as it is
    converted: the study's rows were all held first, 100 MB more at 100,000 trials."""
    params = list(data["study"]["space"])
    params += sorted({jsonable_key(k) for t in records for k in t.params} - set(params))
    metrics = sorted({jsonable_key(k) for t in records for k in t.metrics})
    header = ["number", "state", "value", *(f"param_{p}" for p in params)]
    header += [*(f"metric_{m}" for m in metrics), "budget", "rung", "bracket", "checks"]
    header += ["origin", "method", "chosen_by", "parents", "started", "finished", "duration"]
    header += ["error", "trained"]
    budget = data["study"]["budget"]  # a whole-number budget's cells read 9, not 9.0
    whole = budget is not None and all(isinstance(budget[k], int) for k in ("min", "max"))
    writer = csv.writer(stream, lineterminator="\n")
    quoted = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def write(cells: list[Any]) -> None:
        r"""With "\n" line ends the csv module leaves a "\r" unquoted, and a reader ends
        the row there: a row with one has every cell quoted. Text holding bytes that
        were not UTF-8 (a metric naming a Latin-1 file) is written escaped: the file is
        UTF-8, and the export failed there."""
        cells = [utf8_text(cell) if isinstance(cell, str) else cell for cell in cells]
        carriage = any(isinstance(cell, str) and "\r" in cell for cell in cells)
        with nul_explained():
            (quoted if carriage else writer).writerow(cells)

    write(header)
    for t in trials:
        started, finished = t["started"], t["finished"]
        duration = None if started is None or finished is None else finished - started
        row = [t["number"], t["state"], t["value"], *(_param_cell(t["params"], p) for p in params)]
        trained_to = int(t["budget"]) if whole and t["budget"] is not None else t["budget"]
        row += [*(t["metrics"].get(m) for m in metrics), trained_to, t["rung"], t["bracket"]]
        row += [t["checks"] or None, t["origin"], t["method"], t["chosen_by"]]
        row += [_parents_cell(t["parents"])]
        row += [_iso(started), _iso(finished), duration, t["error"], t["trained"]]
        write([_cell(v) for v in row])
        advance(progress)


def _param_cell(params: Mapping[str, Any], name: str) -> Any:
    """A trial's value of parameter ``name`` in a CSV cell: blank where the trial left it
    inactive (absent from its params), ``None`` for the Choice option None (a blank too
    before: the two read alike), else the value."""
    if name not in params:
        return None
    return "None" if params[name] is None else params[name]


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

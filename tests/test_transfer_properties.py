"""Property tests (hypothesis) of export and import (hpotrack.transfer).

Studies with every trial state, extreme and non-finite numbers, unicode text, curves,
budgets, rungs, checks, lineage edges and runs are written through the store's own
writes (the public API cannot choose every field), or run through ``@tune`` and
``optimize``, then go through json, jsonl and CSV and back. Cut or garbled files must fail
with one TransferError and store nothing; whatever an import accepts must load and export
again; an import never touches the studies already in the database. The bugs these
found have example-based tests in test_transfer.py and test_space.py.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import hpotrack as hp
from hpotrack.csv_nul import NUL_MESSAGE
from hpotrack.errors import HpotrackError, SpaceError
from hpotrack.param_input import kind_of
from hpotrack.records import Edge, Origin, TrialState
from hpotrack.space import Choice, Float, Int, Param, Space, Value
from hpotrack.store import close_stores, open_store
from hpotrack.transfer import (
    RUNNING_ERROR,
    TransferError,
    export_study,
    import_study,
    parse_export,
    read_export,
    validate_export,
    write_export,
)

# derandomize: the same examples on every run (CI is deterministic); database=None: no
# example store in .hypothesis/ that would make a later run differ from this one
PROPERTY = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TABLES = ("studies", "runs", "trials", "metrics", "lineage", "checkpoints")
NAME = "prop"

# --- strategies: numbers and text ------------------------------------------------------------

BIG, TINY = 1.7976931348623157e308, 5e-324
finite = st.one_of(
    st.sampled_from([0.0, -0.0, TINY, -TINY, BIG, -BIG, 2.2250738585072014e-308, 1e16, 0.1]),
    st.floats(allow_nan=False, allow_infinity=False),
)
numbers = st.one_of(finite, st.sampled_from([math.inf, -math.inf, math.nan]))
texts = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        ["", "héllo wörld", "日本語", "🙂\n\t\"',;", "a\r\nb", "10%\r20%", "nul\x00", "1"]
    ),
)
names = st.one_of(
    st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=5),
    st.sampled_from(["lr", "ß", "日本", "x_1"]),
)
big_ints = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([0, -1, 2**63 - 1, -(2**63)]))
int64 = st.integers(-(2**63), 2**63 - 1)
FIRST, LAST = -62135596800.0, 253402300799.0  # the times an export can hold: years 1 to 9999
times = st.one_of(
    st.floats(1e9, 2e9), st.sampled_from([FIRST, LAST, 0.0, -1.5]), st.floats(FIRST, LAST)
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), big_ints, numbers, texts),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)

# --- strategies: spaces and their values -----------------------------------------------------


def made(factory: type[Param], *args: Any, **kwargs: Any) -> Param:
    """A parameter, or the example rejected when the drawn numbers make no valid one."""
    try:
        return factory(*args, **kwargs)
    except SpaceError:
        reject()


@st.composite
def float_params(draw: st.DrawFn) -> Param:
    kind = draw(st.sampled_from(["linear", "log", "step"]))
    if kind == "linear":
        low, high = draw(st.floats(-1e300, 1e300)), draw(st.floats(-1e300, 1e300))
        return made(Float, min(low, high), max(low, high) + draw(st.sampled_from([0.0, 1.0])))
    if kind == "log":
        low = 10 ** draw(st.floats(-300, 290))
        return made(Float, low, low * 10 ** draw(st.floats(1e-3, 15)), log=True)
    low = draw(st.integers(-(10**4), 10**4)) * draw(st.sampled_from([1, 0.1, 0.01]))
    step = draw(st.sampled_from([0.001, 0.05, 0.1, 0.25, 1 / 3, 1.0, 7.0]))
    return made(Float, low, low + draw(st.integers(1, 60)) * step, step=step)


@st.composite
def int_params(draw: st.DrawFn) -> Param:
    if draw(st.booleans()):
        low = draw(st.integers(1, 2**40 - 1))
        return made(Int, low, draw(st.integers(low + 1, 2**40)), log=True)
    low, step = draw(big_ints), draw(st.integers(1, 100))
    return made(Int, low, low + draw(st.integers(1, 2**40 // step - 1)) * step, step=step)


options = st.one_of(st.none(), st.booleans(), big_ints, finite, texts)
choices = st.lists(options, min_size=1, max_size=6, unique_by=lambda v: (kind_of(v), v)).map(Choice)
params_of = st.one_of(float_params(), int_params(), choices)
spaces = st.dictionaries(names, params_of, min_size=1, max_size=3).map(Space)


def values(p: Param) -> st.SearchStrategy[Value]:
    """Valid values of ``p`` as the study stores them: ends, decoded points, anything inside."""
    if isinstance(p, Choice):
        return st.sampled_from(p.options)
    if isinstance(p, Int):
        inside = st.integers(0, p.n_values - 1).map(lambda i: p.low + i * p.step)
        return st.one_of(st.sampled_from([p.low, p.high]), inside)
    decoded = st.floats(0.0, 1.0).map(p.decode)
    if p.step is not None:
        return st.one_of(st.sampled_from([p.low, p.high]), decoded)
    return st.one_of(st.sampled_from([p.low, p.high]), decoded, st.floats(p.low, p.high))


def points(space: Space) -> st.SearchStrategy[dict[str, Value]]:
    """Full, valid parameter dicts of ``space``, canonical (as ``validate`` stores them)."""
    return st.fixed_dictionaries({name: values(p) for name, p in space.items()}).map(space.validate)


# --- strategies: whole studies ---------------------------------------------------------------


@dataclass
class TrialSpec:
    state: TrialState
    params: dict[str, Any]
    origin: str
    value: float | None
    metrics: dict[str, Any]
    budget: float | None
    claim: str | None
    parents: tuple[Edge, ...]
    host: str | None
    pid: int | None
    rung: int | None
    bracket: int | None
    note: str | None
    checks: dict[int, float]
    trained: int | None
    run: int | None
    error: str | None
    curve: list[tuple[str, int, float, float]]
    finished: float


@dataclass
class StudySpec:
    space: Space
    method: str
    direction: str
    objective: str
    seed: int
    budget: hp.Budget | None
    target: int | None
    runs: list[dict[str, Any]]
    trials: list[TrialSpec]


def optional(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | values


run_rows = st.fixed_dictionaries(
    {
        "host": optional(texts),
        "pid": optional(int64),
        "python": optional(texts),
        "platform": optional(texts),
        "git_commit": optional(texts),
        "source_hash": optional(texts),
        "argv": optional(texts),
        "started": optional(times),
    }
)
kinds = st.one_of(st.sampled_from([o.value for o in Origin]), texts.filter(bool))


@st.composite
def budgets(draw: st.DrawFn) -> hp.Budget | None:
    if draw(st.booleans()):
        return None
    if draw(st.booleans()):
        low = draw(st.integers(1, 1000))
        return hp.Budget(low, low + draw(st.integers(1, 1000)), name=draw(texts.filter(bool)))
    low = draw(st.floats(1e-6, 1e6))
    return hp.Budget(low, low * 2 + 1.5, name="epochs")


def trial_budgets(budget: hp.Budget | None) -> st.SearchStrategy[float]:
    """What a method may propose (``0 < budget <= max``), so what a study can hold."""
    if budget is None:
        return finite.filter(lambda b: b > 0)
    if budget.whole:
        return st.integers(1, int(budget.max)).map(float)
    return st.floats(0.0, budget.max, exclude_min=True)


@st.composite
def trial_specs(draw: st.DrawFn, spec: StudySpec, number: int, claims: set[str]) -> TrialSpec:
    state = draw(st.sampled_from(list(TrialState)))
    params: dict[str, Any] = draw(points(spec.space))
    if state is TrialState.FAILED and draw(st.booleans()):  # from an older space: kept as is
        params = {**params, "not in the space": draw(json_values)}
    if state is TrialState.COMPLETE:
        value = draw(finite)
    elif state.is_finished:
        value = draw(optional(numbers))
    else:
        value = None
    trial_budget = draw(optional(trial_budgets(spec.budget)))
    claim = draw(optional(texts))
    if claim is not None and claim in claims:
        claim = None
    claims.add(claim) if claim is not None else None
    edges: dict[tuple[int, str], Edge] = {}
    if number:
        for _ in range(draw(st.integers(0, 3))):
            parent, kind = draw(st.integers(0, number - 1)), draw(kinds)
            step, detail = draw(optional(int64)), draw(optional(texts))
            edges[(parent, kind)] = Edge(parent, kind, step, detail)
    curve = [
        (metric, step, draw(numbers), draw(times))
        for metric in draw(st.lists(texts, max_size=3, unique=True))
        for step in draw(st.lists(st.integers(0, 2**63 - 1), min_size=1, max_size=3, unique=True))
    ]
    return TrialSpec(
        state=state,
        params=params,
        origin=draw(kinds),
        value=value,
        metrics=draw(st.dictionaries(texts, json_values, max_size=3)),
        budget=trial_budget,
        claim=claim,
        parents=tuple(edges.values()),
        host=draw(optional(texts)),
        pid=draw(optional(int64)),
        rung=draw(optional(st.integers(0, 2**63 - 1))),
        bracket=draw(optional(st.integers(0, 5))),
        note=draw(optional(texts)),
        checks=draw(st.dictionaries(st.integers(0, 2**63 - 1), numbers, max_size=3)),
        trained=draw(optional(st.integers(0, 2**63 - 1))),  # steps: never negative
        run=draw(optional(st.integers(0, len(spec.runs) - 1))) if spec.runs else None,
        error=draw(optional(texts)),
        curve=curve,
        finished=draw(times),
    )


@st.composite
def study_specs(draw: st.DrawFn, max_trials: int = 6) -> StudySpec:
    spec = StudySpec(
        space=draw(spaces),
        method=draw(st.sampled_from(["random", "manual", "tpe", "evolution"])),
        direction=draw(st.sampled_from(["minimize", "maximize"])),
        objective=draw(texts.filter(bool)),
        seed=draw(st.integers(0, 2**63 - 1)),
        budget=draw(budgets()),
        target=draw(optional(st.integers(0, 2**63 - 1))),
        runs=draw(st.lists(run_rows, max_size=2)),
        trials=[],
    )
    claims: set[str] = set()
    for number in range(draw(st.integers(0, max_trials))):
        spec.trials.append(draw(trial_specs(spec, number, claims)))
    return spec


def make_study(db: Path, spec: StudySpec, name: str = NAME) -> hp.Study:
    """The study ``spec`` describes, written with the store's own writes."""
    tuned = hp.tune(
        spec.space,
        study=name,
        db=db,
        method=spec.method,
        direction=spec.direction,
        objective=spec.objective,
        seed=spec.seed,
        budget=spec.budget,
    )(lambda **_: 0.0)
    study = tuned.study
    store = study.store
    with store.write():
        store.update_study(study.id, target=spec.target)
        runs = [store.insert_run(study.id, run) for run in spec.runs]
        for number, t in enumerate(spec.trials):
            started = TrialState.QUEUED if t.state is TrialState.QUEUED else TrialState.RUNNING
            stamp = store.insert_trial(
                study.id,
                number=number,
                state=started,
                params=t.params,
                origin=t.origin,
                budget=t.budget,
                claim=t.claim,
                parents=t.parents,
                run_id=None if t.run is None else runs[t.run],
                host=t.host,
                pid=t.pid,
                rung=t.rung,
                bracket=t.bracket,
                note=t.note,
                checks=t.checks,
            )
            store.add_metrics(stamp.id, t.curve)
            if t.state.is_finished:
                store.finish_trial(
                    study.id,
                    stamp.id,
                    state=t.state,
                    value=t.value,
                    metrics=t.metrics,
                    error=t.error,
                    when=t.finished,
                    trained=t.trained,
                )
    return hp.load_study(name, db=db)


# --- helpers ---------------------------------------------------------------------------------


@contextmanager
def folder() -> Iterator[Path]:
    """A fresh folder per example (pytest's tmp_path is one per test, not per example)."""
    with tempfile.TemporaryDirectory() as path:
        try:
            yield Path(path)
        finally:
            close_stores()


def text_of(study: hp.Study, fmt: str) -> str:
    buffer = io.StringIO()
    try:
        write_export(study, fmt, buffer)
    except HpotrackError as error:
        if sys.version_info >= (3, 11) or str(error) != NUL_MESSAGE:
            raise
        reject()  # Python 3.10's csv module cannot write a NUL (tests/test_csv_nul.py)
    return buffer.getvalue()


def counts(db: Path) -> dict[str, int]:
    with closing(sqlite3.connect(db)) as conn:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}


def plain(value: Any) -> Any:
    """``value`` as an export holds it: NaN and infinities are null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def as_imported(record: dict[str, Any], imported: dict[str, Any]) -> dict[str, Any]:
    """An original trial record as an import makes it: non-finite numbers null, and a
    running trial failed ("running when exported") at the time the import chose."""
    out = plain(record)
    if record["state"] == "running":
        out.update(state="failed", error=RUNNING_ERROR, finished=imported["finished"])
        out["duration"] = imported["duration"]
    return out


def curves(study: hp.Study) -> list[dict[str, Any]]:
    return [plain(study.curve(t.number)) for t in study.trials]


# --- properties: round trips -----------------------------------------------------------------


@PROPERTY
@given(study_specs())
def test_json_and_jsonl_round_trips_keep_every_record(spec: StudySpec) -> None:
    with folder() as tmp:
        original = make_study(tmp / "a.db", spec)
        running = any(t.state is TrialState.RUNNING for t in original.trials)
        for fmt in ("json", "jsonl"):
            first = text_of(original, fmt)
            path = tmp / f"export.{fmt}"
            path.write_text(first, encoding="utf-8")
            copy = import_study(open_store(tmp / f"{fmt}.db"), read_export(path))
            second = text_of(copy, fmt)
            if not running:
                assert second == first
            # from the second export on (running trials are failed now) nothing changes
            again = import_study(open_store(tmp / f"{fmt}.db"), parse_export(second, fmt), "b")
            assert text_of(again, fmt).replace('"b"', f'"{NAME}"', 1) == second
            before, after = original.records(), copy.records()
            imported, retries = after[: len(before)], after[len(before) :]
            assert imported == [as_imported(b, a) for b, a in zip(before, imported, strict=True)]
            assert curves(copy)[: len(before)] == curves(original)
            # a trial running when exported is retried, as one whose worker was lost
            running_ones = {b["number"] for b in before if b["state"] == "running"}
            for retry in retries:
                edge = retry["parents"][-1]
                assert (retry["state"], retry["origin"], edge["kind"]) == ("queued", "retried",
                        "retried")  # fmt: skip
                assert edge["parent"] in running_ones and edge["detail"] == RUNNING_ERROR
                assert retry["params"] == before[edge["parent"]]["params"]
            assert copy.space == original.space and copy.budget == original.budget
            assert (copy.method, copy.direction, copy.objective, copy.seed, copy.target) == (
                original.method, original.direction, original.objective, original.seed,
                original.target,
            )  # fmt: skip


def cell(value: Any) -> str:
    """What a CSV cell holds for ``value`` (None: empty; dicts and lists: compact JSON)."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


@PROPERTY
@given(study_specs())
def test_csv_carries_what_it_says(spec: StudySpec) -> None:
    """One row per trial: number, state, value, params and metrics flattened, budget,
    rung, bracket, checks (JSON), origin, method, chosen_by, parents (``n:kind@step``), ISO times,
    duration, error, trained; cells of a type CSV cannot tell apart (1 and "1") compared
    as text."""
    with folder() as tmp:
        study = make_study(tmp / "a.db", spec)
        data = export_study(study)
        rows = list(csv.reader(io.StringIO(text_of(study, "csv"), newline="")))
        header, rows = rows[0], rows[1:]
        assert len(rows) == len(data["trials"])
        for row, trial in zip(rows, data["trials"], strict=True):
            got = dict(zip(header, row, strict=True))
            assert got.pop("number") == str(trial["number"])
            assert got.pop("state") == trial["state"] and got.pop("origin") == trial["origin"]
            for key in ("value", "rung", "bracket", "error", "trained", "method", "chosen_by"):
                assert got.pop(key) == cell(trial[key]), key
            budget = trial["budget"]
            whole = spec.budget is not None and spec.budget.whole and budget is not None
            assert got.pop("budget") == cell(int(budget) if whole else budget)
            assert got.pop("checks") == cell(trial["checks"] or None)
            edges = [f"{e['parent']}:{e['kind']}" + ("" if e["step"] is None else f"@{e['step']}")
                     for e in trial["parents"]]  # fmt: skip
            assert got.pop("parents") == " ".join(edges)
            for key in ("started", "finished"):
                at = got.pop(key)
                if trial[key] is None:
                    assert at == ""
                else:
                    assert datetime.fromisoformat(at).timestamp() == pytest.approx(
                        trial[key], abs=1e-6, rel=1e-15
                    )
            duration = got.pop("duration")
            if trial["started"] is None or trial["finished"] is None:
                assert duration == ""
            else:
                assert float(duration) == trial["finished"] - trial["started"]
            for name, text in got.items():
                kind, _, key = name.partition("_")
                source = trial["params"] if kind == "param" else trial["metrics"]
                # a parameter's option None reads None, one left inactive (absent) is blank
                option_none = kind == "param" and key in source and source[key] is None
                expected = "None" if option_none else cell(source.get(key))
                assert kind in ("param", "metric") and text == expected, name


# --- properties: imports that fail, and what they leave ---------------------------------------


@PROPERTY
@given(study_specs(max_trials=3), st.sampled_from(["json", "jsonl"]), st.data())
def test_a_cut_or_garbled_file_is_one_error_and_stores_nothing(
    spec: StudySpec, fmt: str, data: st.DataObject
) -> None:
    with folder() as tmp:
        text = text_of(make_study(tmp / "a.db", spec), fmt)
        where = round(data.draw(st.floats(0, 1)) * len(text))  # the length varies: times
        how = data.draw(st.sampled_from(["cut", "insert", "replace", "delete"]))
        junk = data.draw(st.text(min_size=1, max_size=3) | st.sampled_from(["{", "]", ",", '"']))
        garbled = {
            "cut": text[:where],
            "insert": text[:where] + junk + text[where:],
            "replace": text[:where] + junk + text[where + len(junk) :],
            "delete": text[:where] + text[where + len(junk) :],
        }[how]
        target = tmp / "b.db"
        make_study(target, spec, name="already there")
        before, kept = counts(target), text_of(hp.load_study("already there", db=target), fmt)
        try:
            import_study(open_store(target), parse_export(garbled, "the file"))
        except TransferError as exc:
            assert "\n" not in str(exc)
            assert counts(target) == before
        else:  # still an export (a cut newline, a changed name, a digit...): a whole study
            assert_readable(target, NAME if NAME in garbled else None)
        assert text_of(hp.load_study("already there", db=target), fmt) == kept


def assert_readable(db: Path, name: str | None) -> None:
    """Every study in ``db`` loads, exports, and imports again to the same export."""
    for row in open_store(db).list_studies():
        if name is not None and row.name != name:
            continue
        first = text_of(hp.load_study(row.name, db=db), "json")
        again = import_study(open_store(db), json.loads(first), name=f"{row.name} again")
        assert text_of(again, "json") == first.replace(
            json.dumps(row.name), json.dumps(f"{row.name} again"), 1
        )


def edits(export: dict[str, Any]) -> st.SearchStrategy[tuple[list[Any], Any]]:
    """A path to one value inside ``export`` and a JSON value to put there instead."""
    found: list[list[Any]] = []

    def walk(node: Any, path: list[Any]) -> None:
        found.append(path)
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, [*path, key])
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, [*path, i])

    walk(export, [])
    odd = st.one_of(
        st.sampled_from(["", "\ud800", -1, 2**64, 0.5, [], {}, None, True, "promoted"]),
        json_values,
        st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2),
    )
    trials = [path for path in found if path[:1] == ["trials"] and len(path) > 2]
    return st.tuples(st.sampled_from(trials or found[1:]), odd)


@PROPERTY
@given(study_specs(max_trials=3), st.data())
def test_an_edited_export_is_refused_or_imported_whole(
    spec: StudySpec, data: st.DataObject
) -> None:
    """Whatever one changed value makes of an export, the import is one TransferError that
    stores nothing, or a study that loads, exports and imports again."""
    with folder() as tmp:
        export = export_study(make_study(tmp / "a.db", spec))
        for _ in range(2):
            path, value = data.draw(edits(export))
            node = export
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        target = tmp / "b.db"
        open_store(target)
        before = counts(target)
        try:
            import_study(open_store(target), export, name="edited")
        except TransferError as exc:
            assert "\n" not in str(exc)
            assert counts(target) == before
        else:
            assert_readable(target, "edited")


@PROPERTY
@given(study_specs(max_trials=4), study_specs(max_trials=2))
def test_an_import_leaves_the_studies_already_there_alone(
    spec: StudySpec, other: StudySpec
) -> None:
    with folder() as tmp:
        export = export_study(make_study(tmp / "a.db", spec))
        target = tmp / "b.db"
        make_study(target, other)  # named as the export's study
        make_study(target, other, name="next")
        kept = {name: text_of(hp.load_study(name, db=target), "json") for name in (NAME, "next")}
        before = counts(target)
        with pytest.raises(TransferError, match=f"study '{NAME}' already exists"):
            import_study(open_store(target), export)
        assert counts(target) == before
        import_study(open_store(target), export, name="copy")
        for name, text in kept.items():
            assert text_of(hp.load_study(name, db=target), "json") == text


FIRST_TIME, LAST_TIME = -62135596800, 253402300799  # years 1 and 9999
ODD = [2**63 - 1, 2**63, -(2**63) - 1, 10**400, True, False, None, "1", [], math.nan, math.inf]
ODD += [-math.inf, FIRST_TIME, FIRST_TIME - 1, LAST_TIME, LAST_TIME + 1, LAST_TIME + 0.5, -0.0]
ODD += [-1, 0, 1.0, 1]  # with points of steps 0, 1, 2: a step twice, or a float step
curve_points = st.tuples(
    st.integers(0, 2**63 - 1),
    st.one_of(st.none(), numbers, st.integers(-(2**63), 2**63 - 1)),
    st.one_of(st.none(), st.floats(FIRST_TIME, LAST_TIME), st.integers(FIRST_TIME, LAST_TIME)),
).map(list)
odd_curve_points = st.one_of(
    st.sampled_from([[], [0], [0, 1.0], [0, 1.0, 2.0, 3.0], (0, 1.0, 2.0), None, {}, "0"]),
    st.lists(st.sampled_from(ODD), min_size=3, max_size=3),
)


@st.composite
def flawed_curves(draw: st.DrawFn) -> list[Any]:
    """Points of a curve, now and then one of them made odd: its step, value or time, or
    the whole point, replaced (a single flaw among valid points is the hard case)."""
    points = draw(st.lists(curve_points, max_size=6, unique_by=lambda point: point[0]))
    if points and draw(st.booleans()):
        index, where = draw(st.integers(0, len(points) - 1)), draw(st.integers(0, 3))
        steps = [point[0] for point in points]
        if where == 3:
            points[index] = draw(odd_curve_points)
        else:
            points[index][where] = draw(st.sampled_from([*ODD, *steps]))
    return points


def is_curve(points: list[Any]) -> bool:
    """The format's curve, point by point: ``[step, value, time]`` lists of a 64-bit step
    >= 0 (no step twice), a number or null, and a time of years 1 to 9999 or null."""

    def whole(x: Any) -> bool:
        return isinstance(x, int) and not isinstance(x, bool) and -(2**63) <= x < 2**63

    def point(p: Any) -> bool:
        if not (isinstance(p, list) and len(p) == 3 and whole(p[0]) and p[0] >= 0):
            return False
        value, at = p[1], p[2]
        time_ok = at is None or (
            (isinstance(at, float) or whole(at)) and FIRST_TIME <= at <= LAST_TIME
        )
        return (value is None or isinstance(value, float) or whole(value)) and time_ok

    return all(map(point, points)) and len({p[0] for p in points}) == len(points)


def check_curve_verdict(points: list[Any]) -> None:
    """An export whose one curve is ``points`` is refused, naming the trial and the curve,
    exactly when :func:`is_curve` says it is not a curve."""
    export = {
        "format": "hpotrack-study",
        "version": 5,
        "study": {"name": "c", "space": {"x": Float(0, 1).to_json()}, "direction": "minimize",
                  "method": {"name": "random", "options": {}}, "objective": "value", "seed": 0},
        "trials": [{"number": 0, "state": "failed", "params": {"x": 0.5},
                    "curve": {"loss": points}}],
    }  # fmt: skip
    try:
        validate_export(export)
    except TransferError as exc:
        assert not is_curve(points)
        assert str(exc).startswith("cannot import: trial 0: curve 'loss'")
    else:
        assert is_curve(points)


@pytest.mark.parametrize("where", [0, 1, 2], ids=["step", "value", "time"])
@pytest.mark.parametrize("item", ODD, ids=lambda item: repr(item)[:24])
def test_a_curve_with_one_odd_item_is_refused_exactly_when_that_point_is(
    where: int, item: Any
) -> None:
    """Curves are checked a column at a time (min, max, set of types), point by point
    only to name a bad point: the verdict is still that of each point's check. NaN in
    the middle of a column hides from min and max."""
    points: list[Any] = [[0, 0.5, 1e9], [1, None, None], [2, 7, 1_000_000_000]]
    points[1][where] = item
    check_curve_verdict(points)


@settings(PROPERTY, max_examples=300)
@given(flawed_curves())
def test_a_curve_imports_exactly_when_every_point_is_one(points: list[Any]) -> None:
    check_curve_verdict(points)


# --- properties: studies run through the public API ------------------------------------------


@st.composite
def runs(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """What each trial of a run does: complete (with metrics), prune, fail, or a direct
    call / an enqueue in between."""
    moves = st.one_of(
        st.tuples(st.just("complete"), st.dictionaries(texts, json_values, max_size=3)),
        st.tuples(st.just("prune"), numbers),
        st.tuples(st.just("fail"), texts),
        st.tuples(st.just("enqueue"), st.booleans()),
        st.tuples(st.just("call"), st.booleans()),
    )
    return draw(st.lists(moves, min_size=1, max_size=5))


SPACE = {
    "lr": hp.Float(1e-5, 1e-1, log=True),
    "drop": hp.Float(0.0, 0.5, step=0.05),
    "layers": hp.Int(1, 2**40, log=True),
    "units": hp.Int(-(2**62), 2**62, step=2**61),
    "act": ["relu", "日本", None, True, 1, 1.5, ""],
}


@settings(PROPERTY, max_examples=20)
@given(runs(), st.sampled_from(["random", "sha", "tpe"]), st.integers(0, 3))
def test_a_study_run_by_optimize_round_trips(
    moves: list[tuple[str, Any]], method: str, seed: int
) -> None:
    with folder() as tmp:
        db = tmp / "a.db"
        plan: dict[int, tuple[str, Any]] = {}

        @hp.tune(
            SPACE, study=NAME, db=db, method=method, seed=seed, objective="loss",
            budget=hp.Budget(1, 9, name="epochs"), max_failures=100,
        )  # fmt: skip
        def train(trial: hp.Trial, **params: Any) -> Any:
            what, arg = plan.get(trial.number, ("complete", {}))
            for step in range(1, 4):
                trial.report(float(step), step=step, prune=False)
                trial.report(-0.0, step=step, name="second curve")
            if what == "prune":
                trial.report(arg, step=4, prune=False)
                raise hp.Pruned()
            if what == "fail":
                raise RuntimeError(arg)
            return {**arg, "loss": 1.0 / (1 + trial.number)}

        study = train.study
        for what, arg in moves:
            number = len(study.refresh().trials)
            if what == "enqueue":
                study.enqueue({"act": "日本"} if arg else {"lr": 1e-5, "units": 2**62})
            elif what == "call":
                plan[number] = ("complete", {})
                train(lr=1e-1, drop=0.5, layers=2**40, units=-(2**62), act=None)
            else:
                plan[number] = (what, arg)
                train.optimize(n_trials=number + 1)
        first = text_of(study, "json")
        copy = import_study(open_store(tmp / "b.db"), json.loads(first))
        assert text_of(copy, "json") == first
        assert copy.records() == plain(study.records())
        assert text_of(copy, "csv") == text_of(study, "csv")
        train.optimize(n_trials=len(study.trials) + 2)  # an imported study goes on, too
        tune_copy = hp.tune(SPACE, study=NAME, db=tmp / "b.db", method=method, seed=seed,
                            objective="loss", budget=hp.Budget(1, 9, name="epochs"),
                            max_failures=100)(train.fn)  # fmt: skip
        tune_copy.optimize(n_trials=len(copy.trials) + 2)

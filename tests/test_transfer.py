"""Export and import (hpotrack.transfer): lossless round trips (also of a study's budget and
its trials' rungs, brackets and checks), continuing an imported study, CSV, older exports,
and imports that fail cleanly without storing anything."""

from __future__ import annotations

import copy
import csv
import gc
import io
import json
import math
import re
import shutil
import sqlite3
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import numpy as np
import pytest

import hpotrack as hp
import hpotrack.jsonable as jsonable_module
import hpotrack.transfer.export as export_module
from hpotrack.doorbell import Doorbell
from hpotrack.lineage import Segment, best_final, finals, members, segment_of
from hpotrack.records import Edge, TrialRecord, TrialState
from hpotrack.store import Store, close_stores, open_store
from hpotrack.study import Study
from hpotrack.transfer import (
    RUNNING_ERROR,
    TransferError,
    export_study,
    export_to_file,
    import_study,
    parse_export,
    read_export,
    write_export,
)
from tests import odd_names
from tests.test_store import answer_during_a_rolled_back_write

SPACE = {"lr": hp.Float(1e-4, 1e-1, log=True), "layers": hp.Int(1, 4), "act": ["relu", "tanh"]}
SPACE_VALUES = {"lr": 0.01, "layers": 2, "act": "relu"}  # a point of SPACE
GRID = {"x": [1, 2, 3], "y": hp.Float(0.0, 1.0, step=0.5)}
TABLES = ("studies", "runs", "trials", "metrics", "lineage", "checkpoints")
BUDGET = hp.Budget(1, 9, name="epochs")
PBT_SPACE = {
    "lr": hp.Float(0.01, 1.0, log=True),
    "momentum": hp.Float(0.5, 0.99),
    "batch": [16, 32, 64],
}
RUNGS = [(0, 0), (1, 1), (2, 0), (0, 1), (1, 0), (2, 1), (0, 0), (None, None)]  # by number


def tuned_mlp(db: Path, name: str = "mlp") -> hp.TunedFunction:
    """A random-search study whose trials report curves; trial 2 fails, trial 3 is pruned."""

    @hp.tune(SPACE, study=name, db=db, seed=0, objective="loss", max_failures=100)
    def train(lr: float, layers: int, act: str, trial: hp.Trial) -> dict[str, Any]:
        for step in range(3):
            trial.report(lr * layers / (step + 1), step=step)
        trial.report(0.5 + trial.number, name="grad_norm")
        if trial.number == 2:
            raise RuntimeError("diverged")
        if trial.number == 3:
            raise hp.Pruned()
        return {"loss": lr * layers, "acc": 0.5, "act": act}

    return train


def tuned_grid(db: Path) -> hp.TunedFunction:
    """A 3 x 3 grid study: every trial claims a cell."""

    @hp.tune(GRID, method="grid", study="grid", db=db, seed=1)
    def square(x: int, y: float) -> float:
        return x * x + y

    return square


def tuned_epochs(db: Path, name: str = "mf") -> hp.TunedFunction:
    """A study with a budget in epochs; the median pruner records a check at every step."""

    @hp.tune(
        {"x": hp.Float(0.0, 1.0)},
        study=name,
        db=db,
        seed=0,
        method=hp.methods.Random(pruner="median"),
        budget=BUDGET,
    )
    def train(x: float, trial: hp.Trial) -> float:
        loss = 0.0
        for epoch in range(1, int(trial.budget or 0) + 1):
            loss = x + 1 / epoch
            trial.report(loss, step=epoch)
        return loss

    return train


def make_budget_study(db: Path, name: str = "mf") -> None:
    """8 trials of :func:`tuned_epochs` (some pruned), then the rungs and brackets a
    multi-fidelity method would have written (``RUNGS``; the last trial has none)."""
    tuned_epochs(db, name).optimize(n_trials=len(RUNGS))
    set_rungs(db, name, RUNGS)


def set_rungs(db: Path, name: str, rungs: list[tuple[int | None, int | None]]) -> None:
    """Write (rung, bracket) of trials 0, 1, ... as a multi-fidelity method would."""
    close_stores()  # the next reader must not keep a cached view of the trials
    with closing(sqlite3.connect(db)) as conn, conn:
        (study_id,) = conn.execute("SELECT id FROM studies WHERE name = ?", (name,)).fetchone()
        conn.executemany(
            "UPDATE trials SET rung = ?, bracket = ? WHERE study_id = ? AND number = ?",
            [(rung, bracket, study_id, n) for n, (rung, bracket) in enumerate(rungs)],
        )


def tuned_pbt(db: Path, name: str = "pbt", fail: int | None = None) -> hp.TunedFunction:
    """Population-based training of 4 members in segments of 2 steps, up to step 6: each
    segment loads its member's checkpoint, reports every step and saves one; trial
    ``fail`` raises."""

    @hp.tune(
        PBT_SPACE,
        method=hp.methods.PBT(population=4, interval=2, generations=3),
        study=name,
        db=db,
        seed=0,
    )
    def train(lr: float, momentum: float, batch: int, trial: hp.Trial) -> float:
        state = trial.load_checkpoint() or {"w": 0.0}
        loss = 1.0
        for step in trial.steps:
            state["w"] += lr * (1.0 - state["w"]) / 2
            loss = 1.0 - state["w"] + abs(momentum - 0.8)
            trial.report(loss, step=step)
        if trial.number == fail:
            raise RuntimeError("lost")
        trial.save_checkpoint(state)
        return loss

    return train


def make_pbt_study(db: Path, name: str = "pbt") -> None:
    """A finished population whose trial 5 failed (its segment ran again, ``#1``), and a
    queued trial outside the population (``enqueue`` refuses one now; older versions
    stored it)."""
    study = tuned_pbt(db, name, fail=5).optimize()
    with study.store.write():
        study.store.insert_trial(
            study.id,
            number=len(study.trials),
            state=TrialState.QUEUED,
            params={"lr": 0.1, "momentum": 0.9, "batch": 32},
            origin="enqueued",
        )


def make_studies(db: Path) -> None:
    """Studies with every kind of trial: sampled, failed, pruned, enqueued (run and still
    queued), manual, one with lineage edges; a grid study with claims; a study with a
    budget whose trials have rungs, brackets and checks; and a PBT population."""
    train = tuned_mlp(db)
    train.optimize(n_trials=4)
    study = train.study
    study.enqueue({"lr": 0.01, "layers": 2, "act": "tanh"})
    train.optimize(n_trials=5)
    train(lr=0.02, layers=3, act="relu")
    store = study.store
    row = store.find_study("mlp")
    assert row is not None
    with store.write():
        store.insert_trial(
            row.id,
            number=6,
            state=TrialState.QUEUED,
            params={"lr": 0.04, "layers": 3, "act": "relu"},
            origin="mutated",
            parents=(Edge(0, "mutated", step=2, detail="lr x2"), Edge(1, "crossover")),
        )
    tuned_grid(db).optimize(n_trials=4)
    make_budget_study(db)
    make_pbt_study(db)


@pytest.fixture(scope="module")
def made_studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """:func:`make_studies` once for the module: most of its tests start from them."""
    return studies_made_once(tmp_path_factory)


def studies_made_once(factory: pytest.TempPathFactory) -> Path:
    """:func:`make_studies` in a new folder, for a module's fixture to copy per test
    (:func:`copied_studies`); its connections closed."""
    db = factory.mktemp("made") / "source.db"
    make_studies(db)
    close_stores()
    return db


@pytest.fixture
def source(made_studies: Path, tmp_path: Path) -> Path:
    """This test's own copy of :func:`made_studies` (some import into it)."""
    return copied_studies(made_studies, tmp_path / "source.db")


def copied_studies(made: Path, db: Path) -> Path:
    """A copy at ``db`` of the database :func:`make_studies` made at ``made``, with its
    checkpoint folder (checkpoint paths are stored relative to the database)."""
    with closing(sqlite3.connect(made)) as original, closing(sqlite3.connect(db)) as copy:
        original.backup(copy)
    shutil.copytree(f"{made}.ckpt", f"{db}.ckpt")
    return db


def export_text(name: str, db: Path, fmt: str = "json") -> str:
    buffer = io.StringIO()
    write_export(hp.load_study(name, db=db), fmt, buffer)
    return buffer.getvalue()


def counts(db: Path) -> dict[str, int]:
    """Rows per table, read with a connection of its own."""
    with closing(sqlite3.connect(db)) as conn:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}


def test_the_source_has_every_kind_of_trial(source: Path) -> None:
    trials = hp.load_study("mlp", db=source).trials
    assert [t.state.value for t in trials] == [
        "complete", "complete", "failed", "pruned", "complete", "complete", "queued",
    ]  # fmt: skip
    assert [t.origin for t in trials][4:] == ["enqueued", "manual", "mutated"]
    assert all(t.claim for t in hp.load_study("grid", db=source).trials)


@pytest.mark.parametrize("name", ["mlp", "grid", "mf", "pbt"])
def test_json_export_import_export_is_byte_identical(
    source: Path, tmp_path: Path, name: str
) -> None:
    first = export_text(name, source)
    import_study(open_store(tmp_path / "copy.db"), json.loads(first))
    assert export_text(name, tmp_path / "copy.db") == first


@pytest.mark.parametrize("name", ["mlp", "grid", "mf", "pbt"])
def test_jsonl_round_trip_through_a_file_is_byte_identical(
    source: Path, tmp_path: Path, name: str
) -> None:
    first = export_text(name, source, "jsonl")
    path = tmp_path / "export.jsonl"
    path.write_text(first)
    import_study(open_store(tmp_path / "copy.db"), read_export(path))
    assert export_text(name, tmp_path / "copy.db", "jsonl") == first
    assert read_export(path) == export_study(hp.load_study(name, db=source))


def test_a_jsonl_export_cut_at_a_line_boundary_is_refused(source: Path, tmp_path: Path) -> None:
    """Each line is valid JSON, so only the count in the first line tells the file lost
    its end (a copy cut short)."""
    lines = export_text("mlp", source, "jsonl").splitlines(keepends=True)
    path = tmp_path / "cut.jsonl"
    path.write_text("".join(lines[:5]))
    with pytest.raises(TransferError, match=r"holds 4 trials, but its first line says 7: .*cut"):
        read_export(path)


def test_the_budget_study_has_rungs_brackets_checks_and_pruned_trials(source: Path) -> None:
    trials = hp.load_study("mf", db=source).trials
    assert [(t.rung, t.bracket) for t in trials] == RUNGS
    assert {t.state for t in trials} == {TrialState.COMPLETE, TrialState.PRUNED}
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    assert all(len(t.checks) == BUDGET.max - 1 for t in complete)  # no check at the max
    assert all(0 < len(t.checks) < BUDGET.max for t in pruned)


def test_the_export_carries_the_budget_rungs_brackets_and_checks(source: Path) -> None:
    study = hp.load_study("mf", db=source)
    data = export_study(study)
    assert data["version"] == 9
    assert data["study"]["budget"] == {"type": "budget", "min": 1, "max": 9, "name": "epochs"}
    assert [(t["rung"], t["bracket"]) for t in data["trials"]] == RUNGS
    for exported, record in zip(data["trials"], study.trials, strict=True):
        assert exported["checks"] == {str(step): v for step, v in record.checks.items()}
        assert exported["trained"] == record.trained and record.trained
    assert export_study(hp.load_study("mlp", db=source))["study"]["budget"] is None


@pytest.mark.parametrize("name", ["mlp", "mf", "pbt"])
def test_imported_trials_and_curves_equal_the_originals(
    source: Path, tmp_path: Path, name: str
) -> None:
    copy_db = tmp_path / "copy.db"
    import_study(open_store(copy_db), export_study(hp.load_study(name, db=source)))
    before, after = hp.load_study(name, db=source), hp.load_study(name, db=copy_db)
    assert after.trials == before.trials  # every field: params, value, rung, checks, times...
    assert after.budget == before.budget
    for trial in before.trials:
        assert after.curve(trial.number) == before.curve(trial.number)


def test_the_mlp_import_keeps_lineage_and_the_definition(source: Path, tmp_path: Path) -> None:
    copy_db = tmp_path / "copy.db"
    import_study(open_store(copy_db), export_study(hp.load_study("mlp", db=source)))
    before, after = hp.load_study("mlp", db=source), hp.load_study("mlp", db=copy_db)
    assert after.trials[6].parents == (Edge(0, "mutated", 2, "lr x2"), Edge(1, "crossover"))
    assert (after.direction, after.objective, after.seed) == ("minimize", "loss", 0)
    assert after.target == before.target and after.method == before.method


def test_non_finite_values_are_exported_as_null(tmp_path: Path) -> None:
    db = tmp_path / "nan.db"

    @hp.tune({"x": (0.0, 1.0)}, study="nan", db=db, seed=0, max_failures=5)
    def f(x: float) -> float:
        hp.report(float("inf"), step=0)
        hp.report(float("nan"), step=1)
        return float("nan")  # fails the trial; the metric is kept

    f.optimize(n_trials=1)
    first = export_text("nan", db)
    trial = json.loads(first)["trials"][0]
    assert trial["curve"]["value"] == [[0, None, trial["curve"]["value"][0][2]], [1, None, ANY]]
    assert trial["metrics"] == {"value": None}
    import_study(open_store(tmp_path / "copy.db"), json.loads(first))
    assert export_text("nan", tmp_path / "copy.db") == first


METRIC_NAMES = [*odd_names.PARAM_NAMES, "a\nb", "], [", '\n  "curve": {}']


def tuned_odd_curves(db: Path, reports: int = 2) -> hp.TunedFunction:
    """Trial 1 reports nothing; the others ``reports`` steps of odd metric names and an
    objective curve of inf, -inf and NaN."""

    @hp.tune({"x": (0.0, 1.0)}, study="odd", db=db, seed=0, max_failures=5)
    def f(x: float, trial: hp.Trial) -> float:
        if trial.number == 1:
            return x
        for name in METRIC_NAMES:
            for step in range(reports):
                trial.report(x + step, step=step, name=name)
        for step, value in enumerate([math.inf, -math.inf, math.nan, x]):
            trial.report(value, step=step)
        return x

    return f


def one_line_points(indented: str) -> str:
    """``json.dumps(export, indent=2)`` with each curve point (5 lines, 10 spaces in)
    on one line."""
    item = r"\n {12}([^\n]+)"
    return re.sub(rf"\[{item},{item},{item}\n {{10}}\]", r"[\1, \2, \3]", indented)


def test_a_json_export_writes_each_curve_point_on_one_line(tmp_path: Path) -> None:
    """indent=2 spread each [step, value, time] over five lines, and has no C encoder:
    50 trials of 100,000 reports took 34 s and 154 MB. A point is one line now, the rest
    keeps indent=2's layout, and the text still parses to what export_study returns."""
    db = tmp_path / "odd.db"
    tuned_odd_curves(db).optimize(n_trials=3)
    text = export_text("odd", db)
    data = export_study(hp.load_study("odd", db=db))
    assert json.loads(text) == data
    assert data["trials"][1]["curve"] == {} and len(data["trials"][2]["curve"]) == 13
    assert data["trials"][0]["curve"]["value"][:3] == [
        [0, None, ANY],
        [1, None, ANY],
        [2, None, ANY],
    ]
    assert text == one_line_points(json.dumps(data, indent=2) + "\n")
    points = [line for line in text.splitlines() if re.fullmatch(r" {10}\[\d+, .+\],?", line)]
    assert len(points) == sum(len(line) for t in data["trials"] for line in t["curve"].values())
    path = tmp_path / "odd.json"
    path.write_text(text, encoding="utf-8")
    import_study(open_store(tmp_path / "copy.db"), read_export(path))
    assert export_text("odd", tmp_path / "copy.db") == text


def test_an_export_does_not_walk_curves_to_make_them_plain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A curve is read as plain JSON (infinities as null); making every point plain
    again took a third of the time of exporting long curves."""
    for reports in (2, 50):
        tuned_odd_curves(tmp_path / f"{reports}.db", reports).optimize(n_trials=3)
    short, long = (plain_calls(tmp_path / f"{n}.db", monkeypatch) for n in (2, 50))
    assert short == long


def plain_calls(db: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many values exporting study "odd" made plain (calls of jsonable's walk)."""
    study, plain, made = hp.load_study("odd", db=db), jsonable_module._plain, [0]

    def counted(*args: Any) -> Any:
        made[0] += 1
        return plain(*args)

    with monkeypatch.context() as patch:
        patch.setattr(jsonable_module, "_plain", counted)
        export_study(study)
    return made[0]


def test_an_import_does_no_python_work_per_curve_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checking a curve a Python call per point, holding each point again as a tuple and
    making each row in a comprehension took most of the time of importing 20 trials of
    50,000 reports: the lines of Python an import runs do not grow with its curves.

    The write lock's doorbell looks again for a missing bell a second after it last
    looked: on a loaded machine one measured import came more than a second after the
    one before it and ran those 21 lines more. It looks once only here."""
    monkeypatch.setattr(Doorbell, "LOOK_AGAIN_S", math.inf)
    for reports in (2, 50):
        tuned_odd_curves(tmp_path / f"{reports}.db", reports).optimize(n_trials=3)
    short, long = (import_lines(tmp_path / f"{n}.db", tmp_path / f"copy{n}.db") for n in (2, 50))
    assert short == long
    assert export_text("odd", tmp_path / "copy50.db") == export_text("odd", tmp_path / "50.db")


def import_lines(db: Path, copy: Path) -> int:
    """How many lines of hpotrack importing the export of study "odd" in ``db`` ran (once
    imported before, so that modules it imports the first time are not counted)."""
    data, store, ran = export_study(hp.load_study("odd", db=db)), open_store(copy), [0]
    import_study(store, data, name="first")
    package = str(Path(hp.__file__).parent)

    def trace(frame: Any, event: str, arg: Any) -> Any:
        ran[0] += event == "line" and frame.f_code.co_filename.startswith(package)
        return trace

    before = sys.gettrace()
    gc.collect()  # the garbage of earlier tests (a Study, its connection) is not finalized
    gc.disable()  # while lines are counted: a finalizer's lines came into one count of two
    sys.settrace(trace)
    try:
        import_study(store, data)
    finally:
        sys.settrace(before)
        gc.enable()
    return ran[0]


def test_import_under_another_name(source: Path) -> None:
    data = export_study(hp.load_study("mlp", db=source))
    study = import_study(open_store(source), data, name="mlp-copy")
    assert study.name == "mlp-copy"
    assert export_study(study)["trials"] == data["trials"]


@pytest.mark.parametrize("name", ["", "  ", "tab\there", "new\nline"], ids=repr)
def test_import_under_a_name_no_study_may_have_is_refused(source: Path, name: str) -> None:
    data = export_study(hp.load_study("mlp", db=source))
    before = counts(source)
    with pytest.raises(TransferError, match=r"cannot import: a study (needs a non-empty|name)"):
        import_study(open_store(source), data, name=name)
    assert counts(source) == before


def test_an_imported_study_continues_numbering(source: Path, tmp_path: Path) -> None:
    copy_db = tmp_path / "copy.db"
    imported = import_study(open_store(copy_db), export_study(hp.load_study("mlp", db=source)))
    before = imported.trials
    study = tuned_mlp(copy_db).optimize(n_trials=9)
    trials = study.trials
    assert [t.number for t in trials] == list(range(len(trials)))
    assert trials[:6] == before[:6]
    assert trials[6].state is TrialState.COMPLETE and trials[6].origin == "mutated"  # was queued
    assert len(trials) == 9 and all(t.origin == "sampled" for t in trials[7:])


def test_an_imported_budget_study_continues_with_its_checks(source: Path, tmp_path: Path) -> None:
    copy_db = tmp_path / "copy.db"
    import_study(open_store(copy_db), export_study(hp.load_study("mf", db=source)))
    trials = tuned_epochs(copy_db).optimize(n_trials=12).trials
    assert len(trials) == 12 and all(t.budget == BUDGET.max for t in trials)
    assert all(t.checks for t in trials[8:])  # the pruner kept deciding on the new trials


def older(data: dict[str, Any], version: int) -> dict[str, Any]:
    """A copy of ``data`` as export ``version`` wrote it: without what came later."""
    data = copy.deepcopy(data)
    data["version"] = version
    if version < 3:
        del data["best_schedule"]
    later = {5: [], 4: [], 3: ["trained"], 2: ["note", "trained"], 1: ["rung", "bracket",
             "checks", "note", "trained"]}[version] + ["method", "chosen_by"]  # fmt: skip
    for trial in data["trials"]:
        for key in later:
            del trial[key]
    if version == 1:
        del data["study"]["budget"]
    return data


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("name", ["mlp", "pbt"])
def test_an_older_export_imports_with_what_it_has(
    source: Path, tmp_path: Path, version: int, name: str
) -> None:
    before = hp.load_study(name, db=source)
    imported = import_study(open_store(tmp_path / "copy.db"), older(export_study(before), version))
    assert imported.budget is None
    # exports before version 3 have no notes, before 4 no steps trained (pbt's), before
    # 6 no methods
    unknown = {"note": None, "trained": None, "method": None, "chosen_by": None}
    assert imported.trials == [replace(t, **unknown) for t in before.trials]
    expected = export_study(before)
    for trial in expected["trials"]:
        trial.update(unknown)
    assert export_study(imported) == expected  # best_schedule too: derived again


def test_each_trials_method_goes_out_and_comes_back_and_an_older_export_has_none(
    source: Path, tmp_path: Path
) -> None:
    """Which method proposed each trial (version 6): in JSON and CSV, back on import; an
    export of version 5, from before, imports with none, as the trials of an older file."""
    before = hp.load_study("mlp", db=source)
    methods = [(t.method, t.chosen_by) for t in before.trials]
    assert methods == [("tpe", "auto")] * 4 + [(None, None)] * 3  # enqueued, manual, inserted
    data = export_study(before)
    assert [(t["method"], t["chosen_by"]) for t in data["trials"]] == methods
    rows = list(csv.DictReader(io.StringIO(export_text("mlp", source, "csv"))))
    assert [(r["method"], r["chosen_by"]) for r in rows] == [(m or "", c or "") for m, c in methods]
    imported = import_study(open_store(tmp_path / "copy.db"), data)
    assert [(t.method, t.chosen_by) for t in imported.trials] == methods
    old = import_study(open_store(tmp_path / "old.db"), older(data, 5))
    assert old.trials == [replace(t, method=None, chosen_by=None) for t in before.trials]


def test_a_version_3_export_imports_with_no_steps_trained(source: Path, tmp_path: Path) -> None:
    before = hp.load_study("mf", db=source)
    assert all(t.trained for t in before.trials)
    imported = import_study(open_store(tmp_path / "copy.db"), older(export_study(before), 3))
    assert imported.trials == [
        replace(t, trained=None, method=None, chosen_by=None) for t in before.trials
    ]
    assert imported.refresh().trained == 0  # not counted by max_budget


def expected_best_final(trials: list[TrialRecord]) -> TrialRecord:
    """Each member's last complete segment (by its claim), the lowest value of those."""
    last: dict[str, TrialRecord] = {}
    for trial in trials:
        if trial.claim and trial.state is TrialState.COMPLETE:
            last[trial.claim.split(":")[1]] = trial
    return min(last.values(), key=lambda t: t.value or 0.0)


def test_the_export_carries_the_best_final_members_schedule(source: Path) -> None:
    study = hp.load_study("pbt", db=source)
    best = expected_best_final(study.trials)
    schedule = study.schedule(best.number)
    data = export_study(study)
    assert list(data) == ["format", "version", "study", "best_schedule", "runs", "trials"]
    assert data["best_schedule"] == {
        "trial": best.number,
        "schedule": {
            name: [[step, value] for step, value in line] for name, line in schedule.items()
        },
    }
    header = json.loads(export_text("pbt", source, "jsonl").splitlines()[0])
    assert header["best_schedule"] == data["best_schedule"] and "trials" not in header


def test_without_a_population_the_best_schedule_is_the_best_trials_params(
    source: Path, tmp_path: Path
) -> None:
    best = hp.load_study("mlp", db=source).best
    assert export_study(hp.load_study("mlp", db=source))["best_schedule"] == {
        "trial": best.number,
        "schedule": {name: [[1, value]] for name, value in best.params.items()},
    }
    empty = tuned_mlp(tmp_path / "e.db", "empty").study
    empty.enqueue({"lr": 0.01, "layers": 2, "act": "tanh"})
    assert export_study(empty)["best_schedule"] is None


def test_an_imported_best_schedule_is_ignored_and_recomputed(source: Path, tmp_path: Path) -> None:
    data = export_study(hp.load_study("pbt", db=source))
    edited = {**data, "best_schedule": {"trial": 0, "schedule": {}}}
    imported = import_study(open_store(tmp_path / "copy.db"), edited)
    assert export_study(imported) == data


def at(number: int, claim: str | None, value: float | None = None) -> TrialRecord:
    """A trial with ``claim``: complete with ``value``, failed without one."""
    state = TrialState.FAILED if value is None else TrialState.COMPLETE
    return TrialRecord(number, state, {}, value=value, claim=claim)


def test_population_members_are_found_from_their_claims() -> None:
    trials = [
        at(0, "pbt:0:0", 0.5), at(1, "pbt:1:0", 0.4), at(2, "pbt:0:1"), at(3, "pbt:0:1#1", 0.3),
        at(4, "grid:3", 0.1), at(5, "promote:2", 0.1), at(6, None, 0.2), at(7, "pb2:0:0", 0.9),
    ]  # fmt: skip
    assert segment_of(trials[3]) == Segment("pbt", 0, 1, attempt=1)
    assert segment_of(trials[0]) == Segment("pbt", 0, 0)
    for claim in ("grid:3", "config:1", "promote:2", "pbt:x:1", "pbt:0:1#", "pbt:0:1:2", None):
        assert segment_of(at(0, claim)) is None
    assert members(trials) == {
        ("pb2", 0): [trials[7]], ("pbt", 0): [trials[0], trials[2], trials[3]],
        ("pbt", 1): [trials[1]],
    }  # fmt: skip
    assert members(trials[4:7]) == {}


def test_the_best_final_trial_is_a_members_latest_segment() -> None:
    trials = [at(0, "pbt:0:0", 0.1), at(1, "pbt:1:0", 0.3), at(2, "pbt:0:1", 0.5), at(3, None, 0.4)]
    assert finals(trials) == trials[1:]  # 0 was member 0's best, but 2 is where it ended
    assert best_final(trials, "minimize") == trials[1]
    assert best_final(trials, "maximize") == trials[2]
    alone = [at(0, None, 0.2), at(1, "grid:1", 0.1), at(2, None, 0.1), at(3, None)]
    assert best_final(alone, "minimize") == alone[1]  # the study's best: the first on a tie
    assert best_final([at(0, "pbt:0:0")], "minimize") is None


def test_an_imported_grid_study_runs_only_the_cells_left(source: Path, tmp_path: Path) -> None:
    copy_db = tmp_path / "copy.db"
    import_study(open_store(copy_db), export_study(hp.load_study("grid", db=source)))
    trials = tuned_grid(copy_db).optimize(n_trials=20).trials
    assert len(trials) == 9
    assert len({(t.params["x"], t.params["y"]) for t in trials}) == 9
    assert len({t.claim for t in trials}) == 9


def test_a_running_trial_is_imported_as_failed(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    exported: list[dict[str, Any]] = []

    @hp.tune({"x": (0.0, 1.0)}, study="live", db=db, seed=0)
    def f(x: float) -> float:
        hp.report(x, step=0)
        exported.append(export_study(hp.load_study("live", db=db)))
        return x

    f.optimize(n_trials=1)
    assert exported[0]["trials"][0]["state"] == "running"
    time.sleep(0.2)
    importing = time.time()
    imported = import_study(open_store(tmp_path / "copy.db"), exported[0]).trials[0]
    assert imported.state is TrialState.FAILED and imported.error == RUNNING_ERROR
    # it ended when it was last seen (its last report, or its start), not at the import
    assert imported.started is not None and imported.finished is not None
    assert imported.started <= imported.finished < importing


def export_while_running(db: Path, tuned: hp.TunedFunction, number: int) -> dict[str, Any]:
    """Run ``tuned`` (which calls :func:`export_now` first thing) up to trial ``number``
    and return the export made while that trial ran (a study exported from a live one)."""
    exported: list[dict[str, Any]] = []
    EXPORT_AT.update(db=db, number=number, into=exported)
    try:
        tuned.optimize(n_trials=number + 1)
    finally:
        EXPORT_AT.clear()
    close_stores()
    return exported[0]


EXPORT_AT: dict[str, Any] = {}


def export_now(trial: hp.Trial) -> None:
    """Inside trial ``EXPORT_AT["number"]``: export its study while the trial runs."""
    if EXPORT_AT and trial.number == EXPORT_AT["number"]:
        trial.report(0.5, step=1)
        EXPORT_AT["into"].append(export_study(hp.load_study(trial.study, db=EXPORT_AT["db"])))


def test_a_grid_cell_running_when_exported_is_run_when_the_import_goes_on(
    tmp_path: Path,
) -> None:
    @hp.tune(GRID, method="grid", study="grid", db=tmp_path / "a.db", seed=1)
    def square(x: int, y: float, trial: hp.Trial) -> float:
        export_now(trial)
        return x * x + y

    data = export_while_running(tmp_path / "a.db", square, 3)
    copy_db = tmp_path / "copy.db"
    import_study(open_store(copy_db), data)
    trials = tuned_grid(copy_db).optimize(n_trials=20).trials
    cells = {(t.params["x"], t.params["y"]) for t in trials if t.state is TrialState.COMPLETE}
    assert len(cells) == 9  # the cell running when exported too
    failed, retry = trials[3], trials[4]
    assert failed.state is TrialState.FAILED and failed.error == RUNNING_ERROR
    assert retry.origin == "retried" and retry.params == failed.params
    assert retry.parents == (Edge(3, "retried", detail=RUNNING_ERROR),)


def test_a_promotion_running_when_exported_is_retried_in_its_bracket(tmp_path: Path) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="hyperband", study="hb", db=tmp_path / "a.db",
             seed=3, budget=BUDGET)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        export_now(trial)
        for epoch in trial.steps:
            trial.report(abs(x - 0.3) + 1 / epoch, step=epoch)
        return abs(x - 0.3) + 1 / int(trial.budget or 1)

    data = export_while_running(tmp_path / "a.db", train, 10)  # a promotion out of rung 0
    assert data["trials"][10]["origin"] == "promoted"
    copy_db = tmp_path / "copy.db"
    import_study(open_store(copy_db), data)
    trials = train.run_study(db=copy_db, n_trials=13).trials
    promoted = trials[10]
    retry = trials[11]  # queued by the import, so it runs first
    assert retry.origin == "retried" and retry.params == promoted.params
    assert (retry.bracket, retry.budget) == (promoted.bracket, promoted.budget)
    assert retry.parents == (*promoted.parents, Edge(10, "retried", detail=RUNNING_ERROR))
    assert retry.state is not TrialState.FAILED


def test_a_pbt_segment_running_when_exported_runs_again_as_it_was(tmp_path: Path) -> None:
    @hp.tune(PBT_SPACE, method=hp.methods.PBT(population=4, interval=2, generations=3),
             study="pbt", db=tmp_path / "a.db", seed=0)  # fmt: skip
    def train(lr: float, momentum: float, batch: int, trial: hp.Trial) -> float:
        export_now(trial)
        for step in trial.steps:
            trial.report(lr * step, step=step)
        return lr * int(trial.budget or 1)

    data = export_while_running(tmp_path / "a.db", train, 5)
    copy_db = tmp_path / "copy.db"
    import_study(open_store(copy_db), data)
    trials = train.run_study(db=copy_db, n_trials=7).trials
    lost, again = trials[5], trials[6]
    assert lost.error == RUNNING_ERROR and again.claim == f"{lost.claim}#1"
    # not the member's own failure: its segment runs again with the same hyperparameters
    assert again.params == lost.params and again.parents == lost.parents


@pytest.mark.parametrize(("name", "warned"), [("pbt", True), ("grid", False), ("mlp", False)])
def test_an_import_says_when_its_trials_go_on_from_checkpoints_left_behind(
    source: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, warned: bool
) -> None:
    """The first trials continuing an imported PBT population (or promotions) trained
    from scratch without a word: the run warns only once a trial of the new database
    saved a checkpoint."""
    data = export_study(hp.load_study(name, db=source))
    with caplog.at_level("WARNING", logger="hpotrack"):
        import_study(open_store(tmp_path / "copy.db"), data)
    said = [r.getMessage() for r in caplog.records if "checkpoint files" in r.getMessage()]
    assert said == ([f"study {name!r}: checkpoint files do not travel with an export: the "
                     "trials that go on from another's checkpoint (promoted, continued, "
                     "exploited, a retry) train from scratch"] if warned else [])  # fmt: skip


def test_csv_has_one_row_per_trial_with_param_and_metric_columns(source: Path) -> None:
    study = hp.load_study("mlp", db=source)
    rows = list(csv.DictReader(io.StringIO(export_text("mlp", source, "csv"))))
    assert list(rows[0]) == [
        "number", "state", "value", "param_lr", "param_layers", "param_act",
        "metric_acc", "metric_act", "metric_loss",
        "budget", "rung", "bracket", "checks", "origin", "method", "chosen_by", "parents",
        "started", "finished", "duration", "error", "trained",
    ]  # fmt: skip
    assert [int(r["number"]) for r in rows] == [t.number for t in study.trials]
    first, trial = rows[0], study.trials[0]
    assert float(first["param_lr"]) == trial.params["lr"] and first["param_act"] == "relu"
    assert float(first["metric_loss"]) == trial.value == float(first["value"])
    assert datetime.fromisoformat(first["started"]).timestamp() == pytest.approx(trial.started)
    assert first["started"].endswith("+00:00")
    assert float(first["duration"]) == pytest.approx(trial.duration)
    assert "diverged" in rows[2]["error"] and rows[6]["finished"] == ""
    assert (first["rung"], first["bracket"], first["checks"]) == ("", "", "")
    assert rows[6]["parents"] == "0:mutated@2 1:crossover" and first["parents"] == ""


def test_csv_has_the_rung_bracket_and_checks_of_each_trial(source: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(export_text("mf", source, "csv"))))
    trials = hp.load_study("mf", db=source).trials
    assert [(r["rung"], r["bracket"]) for r in rows[:-1]] == [
        (str(rung), str(bracket)) for rung, bracket in RUNGS[:-1]
    ]
    assert (rows[-1]["rung"], rows[-1]["bracket"]) == ("", "")
    for row, trial in zip(rows, trials, strict=True):
        assert json.loads(row["checks"]) == {str(k): v for k, v in trial.checks.items()}
        assert row["budget"] == str(BUDGET.max)  # a whole-number budget reads 9, not 9.0


class _Events(io.StringIO):
    """A stream that logs each write beside the SQL statements that read reports."""

    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events

    def write(self, text: str) -> int:
        self.events.append("write")
        return super().write(text)


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_an_export_reads_one_trials_curve_at_a_time_and_csv_none(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial's curve is read as it is written, not every trial's first (50 trials of
    100,000 reports took 1.5 GB to export), with one query for the study (one per trial
    took 0.8 s of 100,000 trials), stepped along as the trials are written; CSV, which
    has no curves, reads none."""
    db = tmp_path / "curves.db"
    tuned_mlp(db).optimize(n_trials=3)
    study = hp.load_study("mlp", db=db)
    events: list[str] = []

    class Traced(Store):  # the export's own connection
        def __init__(self, path: Path, *, must_exist: bool) -> None:
            super().__init__(path, must_exist=must_exist)
            self.conn.set_trace_callback(
                lambda sql: events.append("query") if " metrics " in sql else None
            )

        def curves(self, study_id: int) -> Iterator[tuple[int, str, int, float | None, float]]:
            for point in super().curves(study_id):
                events.append(f"point of {point[0]}")
                yield point

    monkeypatch.setattr(export_module, "Store", Traced)
    write_export(study, fmt, _Events(events))
    if fmt == "csv":
        assert not [event for event in events if event != "write"]
        return
    assert events.count("query") == 1
    assert {event for event in events if event.startswith("point")} == {
        f"point of {number}" for number in range(3)
    }
    assert events.index("point of 2") > events.index("write")  # not all read before writing


def test_a_csv_export_writes_each_row_as_its_trial_is_converted(tmp_path: Path) -> None:
    """CSV rows are written as the trials are converted, not once every trial is (the
    study's rows all held at once: 100 MB more at 100,000 trials)."""
    db = tmp_path / "h.db"
    tuned_mlp(db).optimize(n_trials=3)
    events: list[str] = []
    progress = lambda count: events.append("progress")  # noqa: E731 - per trial converted,
    # then per trial written
    write_export(hp.load_study("mlp", db=db), "csv", _Events(events), progress)
    # the header, then each row; a trial counts as converted once its row is asked for
    assert events == ["write", *["write", "progress", "progress"] * 3]


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_a_trial_json_refuses_as_it_is_is_exported_made_plain(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """json and jsonl encode each trial as read, not made plain first (a walk of every
    value, 2 s of an export of 100,000 trials); one the encoder refuses as it is (a NaN,
    a numpy number: a process's own records may hold them) is made plain, as
    ``export_study`` makes every trial."""
    db = tmp_path / "h.db"
    tuned_mlp(db).optimize(n_trials=3)
    read = Study.snapshot_trials

    def odd(study: Study, snapshot: Store) -> list[TrialRecord]:
        first, *others = read(study, snapshot)
        params = {**first.params, "layers": np.int64(2)}
        return [first.replace(value=math.nan, params=params), *others]

    monkeypatch.setattr(Study, "snapshot_trials", odd)
    text = export_text("mlp", db, fmt)
    if fmt == "json":
        trials = json.loads(text)["trials"]
    else:
        trials = [json.loads(line) for line in text.splitlines()[1:]]
    assert trials == export_study(hp.load_study("mlp", db=db))["trials"]
    assert (trials[0]["value"], trials[0]["params"]["layers"]) == (None, 2)


class _Reprs(list[Any]):
    """A curve (or point) that counts how often its text was made."""

    made = 0

    def __repr__(self) -> str:
        _Reprs.made += 1
        return super().__repr__()


def test_an_import_makes_no_error_message_for_data_that_is_fine(
    source: Path, tmp_path: Path
) -> None:
    """Checking a curve made its error messages for every point, and the text of the
    whole curve for each trial, in case they failed: half the time of importing 50
    trials of 100,000 reports each."""
    data = export_study(hp.load_study("mlp", db=source))
    for trial in data["trials"]:
        trial["curve"] = {
            name: _Reprs(_Reprs(point) for point in points)
            for name, points in trial["curve"].items()
        }
    _Reprs.made = 0
    import_study(open_store(tmp_path / "copy.db"), data)
    assert _Reprs.made == 0
    assert export_study(hp.load_study("mlp", db=tmp_path / "copy.db")) == export_study(
        hp.load_study("mlp", db=source)
    )


def test_another_thread_writes_the_study_while_it_is_exported(tmp_path: Path) -> None:
    """The threads of a process share its connection, and the export's snapshot was a
    transaction on it: a thread queueing a trial meanwhile failed with "cannot start a
    transaction within a transaction" (and one that was inside a write transaction when
    the export began had its uncommitted writes exported). The export reads a snapshot
    on a connection of its own; the thread's trial is stored, after the snapshot."""
    db = tmp_path / "h.db"
    tuned_mlp(db).optimize(n_trials=3)
    study = hp.load_study("mlp", db=db)
    failed: list[BaseException] = []

    def enqueue() -> None:
        try:
            hp.load_study("mlp", db=db).enqueue(SPACE_VALUES)
        except BaseException as exc:  # the thread's error, for the test to show
            failed.append(exc)

    def queue_from_another_thread(_: int) -> None:
        thread = threading.Thread(target=enqueue)
        thread.start()
        thread.join()

    exported = export_study(study, progress=queue_from_another_thread)
    assert failed == []
    assert [t["number"] for t in exported["trials"]] == [0, 1, 2]
    after = hp.load_study("mlp", db=db).trials
    assert [t.origin for t in after[3:]] == ["enqueued"] * 3  # one per trial exported
    assert export_study(study)["trials"][3]["origin"] == "enqueued"


def test_an_export_holds_nothing_another_thread_has_not_committed(tmp_path: Path) -> None:
    """An export begun while another thread of the process was inside a write transaction
    read through that transaction: it exported a trial that was then rolled back."""
    db = tmp_path / "h.db"
    tuned_mlp(db).optimize(n_trials=3)
    study = hp.load_study("mlp", db=db)
    exporting = hp.load_study("mlp", db=db)  # loaded first: load_study waits for the write
    exported: dict[str, Any] = {}

    def export() -> None:
        exported.update(export_study(exporting))

    with pytest.raises(RuntimeError, match="rolled back"), study.store.write():
        study.store.insert_trial(
            study.id, number=3, state=TrialState.QUEUED, params=SPACE_VALUES, origin="enqueued"
        )
        thread = threading.Thread(target=export)
        thread.start()
        thread.join()
        raise RuntimeError("rolled back")
    assert [t["number"] for t in exported["trials"]] == [0, 1, 2]
    assert len(hp.load_study("mlp", db=db).trials) == 3


def test_a_study_whose_database_file_was_deleted_meanwhile_still_exports(tmp_path: Path) -> None:
    """The export opens a connection of its own at the study's path; with the file there
    deleted (a notebook removing hpotrack.db), only the study's own connection still
    reads it, and the export goes through that one: its trials are not lost with it."""
    db = tmp_path / "h.db"
    tuned_mlp(db).optimize(n_trials=3)
    study = hp.load_study("mlp", db=db)
    for path in tmp_path.glob("h.db*"):
        path.unlink()
    assert [t["number"] for t in export_study(study)["trials"]] == [0, 1, 2]


def test_an_export_of_a_deleted_database_file_holds_nothing_another_thread_rolls_back(
    tmp_path: Path,
) -> None:
    """With its file deleted, a study exports through the process's shared connection,
    which read inside another thread's open write transaction: the export held a target
    and a run that the rollback then took back. It waits for the transaction to end."""
    db = tmp_path / "h.db"
    tuned_mlp(db).optimize(n_trials=3)
    study = hp.load_study("mlp", db=db)
    for path in tmp_path.glob("h.db*"):
        path.unlink()

    def raise_the_target_and_register_a_run() -> None:
        study.store.update_study(study.id, target=9)
        study.store.insert_run(study.id, {"host": "elsewhere", "pid": 1})

    def target_and_runs() -> tuple[int, int]:
        exported = export_study(study)
        return exported["study"]["target"], len(exported["runs"])

    exported = answer_during_a_rolled_back_write(
        study.store, raise_the_target_and_register_a_run, target_and_runs
    )
    assert exported == "(3, 1)"


def test_an_export_of_a_deleted_database_file_and_a_reader_of_the_study_never_deadlock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With its file deleted, an export holds the shared connection's lock and reads
    through the study, which takes the study's own lock: it must take that one first,
    as every other path does, or a thread reading the same Study object (the study's
    lock held, waiting for the connection's) and the export each wait for the other for
    ever. The export pauses once it holds the connection, for the reader to come."""
    db = tmp_path / "h.db"
    tuned_mlp(db).optimize(n_trials=3)
    study = hp.load_study("mlp", db=db)
    for path in tmp_path.glob("h.db*"):
        path.unlink()
    exporting, reading = threading.Event(), threading.Event()
    runs = export_module._runs

    def runs_once_the_reader_came(store: Store, study_id: int) -> Any:
        exporting.set()
        reading.wait(timeout=1.0)
        return runs(store, study_id)

    class NotedLock:
        """The study's lock, saying when the reader holds it."""

        def __init__(self, lock: Any) -> None:
            self._lock = lock

        def __enter__(self) -> bool:
            entered = bool(self._lock.__enter__())
            if threading.current_thread() is threads[1]:
                reading.set()
            return entered

        def __exit__(self, *exc: object) -> None:
            self._lock.__exit__(*exc)

    monkeypatch.setattr(export_module, "_runs", runs_once_the_reader_came)
    monkeypatch.setattr(study, "_using", NotedLock(study._using))
    exported: list[int] = []
    reads: list[int] = []

    def read_when_exporting() -> None:
        exporting.wait(timeout=60)
        reads.append(len(study.trials))

    threads = [
        threading.Thread(target=lambda: exported.append(len(export_study(study)["trials"]))),
        threading.Thread(target=read_when_exporting),
    ]
    for thread in threads:
        thread.daemon = True
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "the threads deadlocked"
    assert exported == reads == [3]


def test_export_to_a_file_is_atomic_and_leaves_no_temp_file(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "mlp.json"
    with pytest.raises(TransferError, match="does not exist"):
        export_to_file(hp.load_study("mlp", db=source), "json", out)
    out.parent.mkdir()
    assert export_to_file(hp.load_study("mlp", db=source), "json", out) == 7
    assert out.read_text() == export_text("mlp", source)
    assert [p.name for p in out.parent.iterdir()] == ["mlp.json"]


def test_export_to_a_file_named_at_the_length_limit(source: Path, tmp_path: Path) -> None:
    """A name of 250 bytes fits, but its temporary file was 20 bytes longer: "File name
    too long"."""
    out = tmp_path / f"{'a' * 245}.json"
    assert export_to_file(hp.load_study("mlp", db=source), "json", out) == 7
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".json"] == [out.name]


def broken(data: dict[str, Any], change: str) -> dict[str, Any]:
    """A copy of an export with one mistake."""
    data = copy.deepcopy(data)
    trials = data["trials"]
    if change == "format":
        data["format"] = "optuna"
    elif change == "version":
        data["version"] = 10
    elif change == "param":
        trials[1]["params"]["layers"] = 9
    elif change == "state":
        trials[1]["state"] = "done"
    elif change == "missing":
        del trials[1]["params"]
    elif change == "number":
        trials[1]["number"] = 5
    elif change == "parent":
        trials[6]["parents"][0]["parent"] = 99
    elif change == "later-parent":  # a hand-edited file: stored, it broke `show`
        trials[1]["parents"] = [{"parent": 2, "kind": "promoted", "step": None, "detail": None}]
    elif change == "queued-param":  # it would run with them
        trials[6]["params"]["layers"] = 9
    elif change == "curve":
        trials[1]["curve"]["loss"].append([0, 1.0, 2.0])
    elif change == "budget":
        data["study"]["budget"] = {"type": "budget", "min": 5, "max": 1, "name": "epochs"}
    elif change == "budget-tag":
        data["study"]["budget"] = {"type": "Budget", "min": 1, "max": 5, "name": "epochs"}
    elif change == "rung":
        trials[1]["rung"] = -1
    elif change == "trial-budget":  # a trial would train with it
        trials[1]["budget"] = -3
    elif change == "trained":
        trials[1]["trained"] = -1
    elif change == "checks":
        trials[1]["checks"] = {"01": 0.5}
    elif change == "check-value":
        trials[1]["checks"] = {"1": "low"}
    elif change == "huge":  # more than SQLite's 64 bits: refused before any insert
        trials[1]["bracket"] = 2**64
    elif change == "best-schedule":
        data["best_schedule"] = ["lr", 1]
    elif change in ("no-value", "nan-value"):  # a complete trial's value
        complete = next(t for t in trials if t["state"] == "complete")
        complete["value"] = None if change == "no-value" else math.nan
    elif change == "time":  # `hpotrack trial` could not print it
        trials[1]["started"] = -1e300
    elif change == "late":  # the last trial is bad: the earlier ones must not be stored
        trials[-1]["value"] = "high"
    elif change == "empty-kind":  # stored, the study could not be loaded any more
        trials[6]["parents"][0]["kind"] = ""
    elif change == "surrogate":  # JSON's "\udce9": SQLite cannot store it
        trials[2]["error"] = "diverged \udce9"
    elif change == "surrogate-run":
        data["runs"][0]["argv"] = "train.py \udce9"
    elif change == "surrogate-curve":
        trials[1]["curve"]["loss \udce9"] = [[0, 1.0, 2.0]]
    elif change == "function":  # `hpotrack resume` of the study failed with a traceback
        data["study"]["function"]["path"] = {"file": "train.py"}
    elif change == "function-key":
        data["study"]["function"]["file"] = "train.py"
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("format", "not an hpotrack study export"),
        ("version", "version 10 is not supported.*upgrade"),
        ("budget", "the study's budget is invalid: `0 < min < max`"),
        ("budget-tag", "the study's budget has type 'Budget'"),
        ("rung", "trial 1: rung must be >= 0, not -1"),
        ("trial-budget", r"trial 1: `0 < budget` must hold, but got budget=-3"),
        ("trained", "trial 1: trained -1 is negative"),
        ("checks", "trial 1: check '01': 0.5 is not a step >= 0"),
        ("check-value", "trial 1: check '1': 'low' is not a step >= 0 with a number"),
        ("huge", "trial 1: bracket must be a 64-bit int, not 18446744073709551616"),
        (
            "param",
            "trial 1: params do not fit the study's space: "
            "`1 <= layers <= 4` must hold, but got layers=9",
        ),
        ("state", "trial 1: state 'done'"),
        ("missing", "trial 1 has no 'params'"),
        ("number", "position 1 has number 5"),
        ("parent", "trial 6: parent 99 is not an earlier trial of the export"),
        ("later-parent", "trial 1: parent 2 is not an earlier trial of the export"),
        (
            "queued-param",
            "trial 6: params do not fit the study's space: "
            "`1 <= layers <= 4` must hold, but got layers=9",
        ),
        ("curve", "trial 1: curve 'loss' has step 0 twice"),
        ("best-schedule", "the export: best_schedule must be an object"),
        ("late", "trial 6: value must be a number"),
        ("time", "trial 1: started must be a time in Unix seconds"),
        ("no-value", r"trial \d+: it is complete but has no value"),
        ("nan-value", r"trial \d+: value nan is not finite"),
        ("empty-kind", "trial 6: parent 0 has an empty kind"),
        ("surrogate", "trial 2: error must be a string of valid Unicode text, not 'diverged"),
        ("surrogate-run", "run 0: argv must be a string of valid Unicode text"),
        ("surrogate-curve", r"trial 1: curve name 'loss \\udce9' is not valid Unicode text"),
        ("function", "the study's function: path must be a string, not {'file'"),
        ("function-key", "the study's function has unknown key.* 'file'"),
    ],
)
def test_a_bad_export_is_one_clear_error_and_stores_nothing(
    source: Path, tmp_path: Path, change: str, message: str
) -> None:
    data = broken(export_study(hp.load_study("mlp", db=source)), change)
    target = tmp_path / "copy.db"
    open_store(target)
    before = counts(target)
    with pytest.raises(TransferError, match=message) as info:
        import_study(open_store(target), data)
    assert "\n" not in str(info.value)
    assert counts(target) == before


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "trial 0: it is complete but has no finite value of the objective 'size'"),
        ("NaN", "trial 0: it is complete but has no finite value of the objective 'size'"),
    ],
)
def test_a_complete_trial_without_every_objective_is_refused(
    tmp_path: Path, value: str | None, message: str
) -> None:
    """Several objectives: a hand-edited complete trial without a finite value of one
    imported as complete, on no front and without ``study.values`` ("it is complete")."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="manual", study="mo", db=tmp_path / "h.db",
             objective=("error", "size"), direction=("minimize", "minimize"))  # fmt: skip
    def train(x: float) -> dict[str, float]:
        return {"error": x, "size": 1 - x}

    train(x=0.25)
    data = export_study(hp.load_study("mo", db=tmp_path / "h.db"))
    if value is None:
        del data["trials"][0]["metrics"]["size"]
    else:
        data["trials"][0]["metrics"]["size"] = value
    target = tmp_path / "copy.db"
    open_store(target)
    before = counts(target)
    with pytest.raises(TransferError, match=re.escape(message)):
        import_study(open_store(target), data)
    assert counts(target) == before


def test_a_trial_budget_above_the_studys_max_is_refused(source: Path, tmp_path: Path) -> None:
    """A hand-edited budget past the study's max imported, and a trial queued with it
    trained past the max the study promises."""
    data = export_study(hp.load_study("mf", db=source))
    top = data["study"]["budget"]["max"]
    data["trials"][0]["budget"] = top * 2
    with pytest.raises(TransferError, match=rf"trial 0: `0 < budget <= {top!r}` must hold"):
        import_study(open_store(tmp_path / "copy.db"), data)


def test_failed_trials_keep_params_outside_the_space(source: Path, tmp_path: Path) -> None:
    """They never run again (a queued one would: its params must fit, see above)."""
    data = export_study(hp.load_study("mlp", db=source))
    data["trials"][2]["params"]["layers"] = 9  # failed
    trials = import_study(open_store(tmp_path / "copy.db"), data).trials
    assert trials[2].params["layers"] == 9


def test_importing_over_an_existing_study_is_refused(source: Path) -> None:
    data = export_study(hp.load_study("mlp", db=source))
    before = counts(source)
    with pytest.raises(TransferError, match=r"study 'mlp' already exists in .*--study NAME"):
        import_study(open_store(source), data)
    assert counts(source) == before


def test_read_export_refuses_csv_and_files_that_are_not_json(source: Path, tmp_path: Path) -> None:
    csv_file = tmp_path / "mlp.csv"
    csv_file.write_text(export_text("mlp", source, "csv"))
    with pytest.raises(TransferError, match="CSV exports cannot be imported"):
        read_export(csv_file)
    junk = tmp_path / "junk.json"
    junk.write_text('{"format": "hpotrack-study",\n  oops\n}')
    with pytest.raises(TransferError, match=r"junk.json is not .* line 2"):
        read_export(junk)
    lines = export_text("mlp", source, "jsonl").splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([*lines[:3], "{not json", *lines[3:]]))
    with pytest.raises(TransferError, match=r"bad.jsonl, line 4: not valid JSON"):
        read_export(bad)
    with pytest.raises(TransferError, match="no file at"):
        read_export(tmp_path / "missing.json")
    empty = tmp_path / "empty.json"
    empty.write_text("\n")
    with pytest.raises(TransferError, match="is empty"):
        read_export(empty)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_an_export_saved_with_a_byte_order_mark_imports(
    source: Path, tmp_path: Path, fmt: str
) -> None:
    """An editor (Notepad) that saves the file puts a byte-order mark before the text:
    json refused it as "Unexpected UTF-8 BOM"."""
    text = export_text("mlp", source, fmt)
    path = tmp_path / f"mlp.{fmt}"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert read_export(path) == parse_export(text, "the text")
    assert parse_export("\ufeff" + text, "standard input") == parse_export(text, "the text")


def test_a_csv_saved_by_a_spreadsheet_or_another_tool_is_named_csv(
    source: Path, tmp_path: Path
) -> None:
    """Only an unchanged hpotrack CSV was told to be CSV; saved again by a spreadsheet
    (quoted cells, semicolons, a byte-order mark), or Optuna's trials_dataframe, it was
    "not valid JSON at line 1, column 1"."""
    exported = export_text("mlp", source, "csv")
    rows = list(csv.reader(io.StringIO(exported)))
    texts = {"bom": "\ufeff" + exported}
    for name, separator, quoting in [
        ("quoted", ",", csv.QUOTE_ALL),
        ("semicolons", ";", csv.QUOTE_MINIMAL),
        ("tabs", "\t", csv.QUOTE_MINIMAL),
    ]:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=separator, quoting=quoting).writerows(rows)  # CRLF
        texts[name] = buffer.getvalue()
    texts["optuna"] = (
        ",number,value,datetime_start,params_x,state\n0,0,0.5,2024-01-01,0.3,COMPLETE\n"
    )
    for name, text in texts.items():
        path = tmp_path / f"{name}.csv"
        path.write_text(text, newline="")
        with pytest.raises(TransferError, match=rf"{name}.csv is a CSV file, .*cannot be imported"):
            read_export(path)


def test_another_tools_json_lines_is_not_an_export(tmp_path: Path) -> None:
    """Optuna's journal file, a JSON object per line, was "not valid JSON at line 2"."""
    path = tmp_path / "journal.log"
    path.write_text('{"op_code": 0, "study_name": "s"}\n{"op_code": 4, "study_id": 0}\n')
    with pytest.raises(TransferError, match=r"journal.log: not an hpotrack study export"):
        read_export(path)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_a_file_cut_in_the_middle_of_its_json_says_so(
    source: Path, tmp_path: Path, fmt: str
) -> None:
    """A copy that stopped in the middle of the JSON said only where the JSON broke."""
    text = export_text("mlp", source, fmt)
    for end in (len(text) // 2, len(text) - 3, 30):  # 30: inside the first line
        path = tmp_path / f"cut.{fmt}"
        path.write_text(text[:end])
        with pytest.raises(TransferError, match=rf"cut.{fmt} was cut short: .*copy it again"):
            read_export(path)
    broken = text.replace('"state"', '"state" "', 1)  # broken, but not cut: where and why
    with pytest.raises(TransferError, match=r"not valid JSON") as caught:
        parse_export(broken, "the file")
    assert "cut short" not in str(caught.value)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_reading_an_export_makes_no_copy_of_its_text(fmt: str) -> None:
    """Telling json from jsonl split the whole text into its lines, kept while the text
    was parsed, and checking it was not empty stripped a copy of it: 20 trials of 50,000
    reports took 120 MB more to import (a json export has a line per curve point)."""
    header = '{"format": "hpotrack-study", "study": {}'
    lines = ["   "] * 100_000  # parsed, they are next to nothing
    text = "\n".join([header + ', "trials": [', *lines, "]}", ""])
    if fmt == "jsonl":
        text = "\n".join([header + "}", *lines, '{"number": 0}', ""])
    tracemalloc.start()
    try:
        data = parse_export(text, "the file")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data["trials"] == ([] if fmt == "json" else [{"number": 0}])
    assert peak < len(text) / 4


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000, '{"format": "hpotrack-study", "study": {}}\n' + "[" * 100_000],
    ids=["json", "jsonl"],
)
def test_json_nested_too_deeply_is_one_clear_error(tmp_path: Path, text: str) -> None:
    """Python's parser gives up on it with a RecursionError, not a JSON error."""
    path = tmp_path / "deep.json"
    path.write_text(text)
    with pytest.raises(TransferError, match=r"deep.json.* not valid JSON.*nested too deeply"):
        read_export(path)


def test_csv_keeps_a_carriage_return_inside_its_cell(tmp_path: Path) -> None:
    """The csv module quotes a cell with "\n" (the line end) but not one with a lone "\r",
    at which readers end the row: a progress bar in an error, a metric's name."""
    db = tmp_path / "cr.db"

    @hp.tune({"x": (0.0, 1.0)}, study="cr", db=db, seed=0, max_failures=5)
    def f(x: float, trial: hp.Trial) -> dict[str, float]:
        if trial.number == 1:
            raise RuntimeError("epoch 1\repoch 2")
        return {"value": x, "a\rb": 1.0}

    f.optimize(n_trials=3)
    rows = list(csv.DictReader(io.StringIO(export_text("cr", db, "csv"), newline="")))
    assert [row["number"] for row in rows] == ["0", "1", "2"]
    assert rows[1]["error"] == f.study.trials[1].error and "epoch 1\repoch 2" in rows[1]["error"]
    assert rows[0]["metric_a\rb"] == "1.0" and rows[1]["metric_a\rb"] == ""
    assert rows[1]["value"] == "" and float(rows[2]["param_x"]) == f.study.trials[2].params["x"]


def test_what_code_ran_each_trial_travels_with_the_export(source: Path, tmp_path: Path) -> None:
    """Each trial's run (python, platform, git commit, source hash, argv, start) is in the
    export and restored on import: an imported trial still says what code ran it."""
    first = export_text("mlp", source)
    data = json.loads(first)
    ran = [t["run"] for t in data["trials"] if t["state"] != "queued"]
    assert data["runs"] and all(run is not None for run in ran)
    copy = tmp_path / "copy.db"
    import_study(open_store(copy), data)
    original, imported = open_store(source), open_store(copy)
    for number in range(len(data["trials"])):
        before = original.provenance(original.find_study("mlp").id, number)  # type: ignore[union-attr]
        after = imported.provenance(imported.find_study("mlp").id, number)  # type: ignore[union-attr]
        assert after == before
    assert original.provenance(original.find_study("mlp").id, 0)["source_hash"]  # type: ignore[union-attr]
    assert export_text("mlp", copy) == first

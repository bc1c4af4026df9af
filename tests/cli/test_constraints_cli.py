"""``hpotrack show``, ``best`` and ``trial`` of studies with constraints, on real
database files: each trial's feasibility and violation, feasible trials ranked first,
the best feasible trial, each constraint as a trial fared."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import hpotrack as hp
from hpotrack.cli import cli

CONSTRAINTS = [hp.Constraint("latency_ms", at_most=10), hp.Constraint("recall", at_least=0.5)]
# x -> (loss, latency_ms, recall): the violation is how far latency passes 10 plus how
# far recall falls short of 0.5
OUTCOMES = {
    0.1: (0.1, 20.0, 0.9),  # trial 0: violation 10
    0.2: (0.5, 5.0, 0.8),  # 1: feasible
    0.3: (0.3, 12.0, 0.4),  # 2: 2 + 0.1
    0.4: (0.9, 8.0, 0.6),  # 3: feasible
    # 4: x=0.5 fails
    0.6: (0.2, 11.0, 0.7),  # 5: violation 1
    # 6: x=0.7 is pruned at a report of 0.01, better than every complete trial's loss
}
EXPECTED_VIOLATION = {0: 10.0, 1: 0.0, 2: 2.1, 3: 0.0, 4: None, 5: 1.0, 6: None}


def budgeted(db: Path, study: str = "budgeted") -> hp.TunedFunction:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="manual", study=study, db=db, seed=0,
             objective="loss", constraints=CONSTRAINTS)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> dict[str, float]:
        if x == 0.5:
            raise ValueError("boom")
        if x == 0.7:
            trial.report(0.01, step=1)
            raise hp.Pruned()
        loss, latency_ms, recall = OUTCOMES[x]
        return {"loss": loss, "latency_ms": latency_ms, "recall": recall}

    return train


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Study "budgeted" (trials 0-6 as above) and study "plain", without constraints."""
    path = tmp_path / "h.db"
    train = budgeted(path)
    for x in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        with contextlib.suppress(ValueError, hp.Pruned):  # trials 4 and 6
            train(x=x)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="manual", study="plain", db=path, seed=0)
    def plain(x: float) -> float:
        return x

    plain(x=0.25)
    return path


def invoke(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db), *args])


def ok(db: Path, *args: str) -> str:
    result = invoke(db, *args)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_violation_table_matches_the_library(db: Path) -> None:
    """The test's own numbers agree with what the study computes."""
    study = hp.load_study("budgeted", db=db)
    for trial in study.trials:
        expected = EXPECTED_VIOLATION[trial.number]
        assert study.violation(trial) == pytest.approx(expected or 0.0)
        assert study.is_feasible(trial) == (expected == 0.0)
    assert study.best.number == 1


def test_show_has_feasible_and_violation_columns_in_every_format(db: Path) -> None:
    rows = json.loads(ok(db, "show", "budgeted", "--format", "json"))
    assert list(rows[0])[:6] == ["number", "state", "value", "feasible", "violation", "x"]
    feasible = {row["number"]: row["feasible"] for row in rows}
    assert feasible == {0: False, 1: True, 2: False, 3: True, 4: None, 5: False, 6: None}
    for row in rows:
        assert row["violation"] == pytest.approx(EXPECTED_VIOLATION[row["number"]])
    table = ok(db, "show", "budgeted")
    assert "constraints: latency_ms <= 10, 0.5 <= recall; violation: how far" in table
    lines = table.splitlines()
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("number"))
    assert lines[header].split()[:5] == ["number", "state", "value", "feasible", "violation"]
    cells = {int(line.split()[0]): line.split()[1:5] for line in lines[header + 2 :]}
    assert cells[0] == ["complete", "0.1", "no", "10"]
    assert cells[1] == ["complete", "0.5", "yes", "0"]
    assert cells[4][:3] == ["failed", "-", "0.5"]  # blank feasible and violation, then x
    assert cells[6][:3] == ["pruned", "0.01", "0.7"]
    reader = csv.DictReader(io.StringIO(ok(db, "show", "budgeted", "--format", "csv")))
    by_number = {int(row["number"]): row for row in reader}
    assert (by_number[1]["feasible"], by_number[1]["violation"]) == ("True", "0.0")
    assert (by_number[0]["feasible"], by_number[0]["violation"]) == ("False", "10.0")
    assert (by_number[4]["feasible"], by_number[4]["violation"]) == ("", "")


def test_top_ranks_feasible_trials_first_then_by_violation_then_pruned(db: Path) -> None:
    """Trial 0 has the lowest complete loss and 6 the lowest report, but 1 and 3 meet
    the constraints: History.ranked()'s order (Deb's rules)."""
    top = json.loads(ok(db, "show", "budgeted", "--top", "9", "--format", "json"))
    assert [row["number"] for row in top] == [1, 3, 5, 2, 0, 6]
    two = json.loads(ok(db, "show", "budgeted", "--top", "2", "--format", "json"))
    assert [row["number"] for row in two] == [1, 3]
    study = hp.load_study("budgeted", db=db)
    assert [number for _, number in study.refresh().ranked()] == [1, 3, 5, 2, 0, 6]
    ordered = json.loads(ok(db, "show", "budgeted", "--sort", "best", "--format", "json"))
    assert [row["number"] for row in ordered] == [1, 3, 5, 2, 0, 6, 4]
    shown = ok(db, "show", "budgeted", "--top", "3", "--state", "complete").splitlines()
    assert [line.split()[0] for line in shown[-3:]] == ["1", "3", "5"]


def test_the_study_list_gives_the_constraints_and_the_best_feasible_value(db: Path) -> None:
    table = ok(db, "show")
    assert "constraints" in table.splitlines()[0]
    line = next(line for line in table.splitlines() if line.startswith("budgeted"))
    assert "latency_ms <= 10, 0.5 <= recall" in line and " 0.5 " in line  # trial 1's loss
    rows = {row["study"]: row for row in json.loads(ok(db, "show", "--format", "json"))}
    assert (rows["budgeted"]["constraints"], rows["budgeted"]["best"]) == (
        "latency_ms <= 10, 0.5 <= recall",
        0.5,
    )
    assert (rows["plain"]["constraints"], rows["plain"]["best"]) == (None, 0.25)
    assert list(rows["plain"])[2:4] == ["direction", "constraints"]
    header = next(csv.reader(io.StringIO(ok(db, "show", "--format", "csv"))))
    assert header[:4] == ["study", "method", "direction", "constraints"]


def test_a_list_without_constrained_studies_has_no_constraints_column(tmp_path: Path) -> None:
    """Studies without constraints print what they printed before constraints existed."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="manual", study="plain", db=tmp_path / "p.db")
    def plain(x: float) -> float:
        return x

    plain(x=0.5)
    db = tmp_path / "p.db"
    assert "constraints" not in ok(db, "show")
    assert "constraints" not in json.loads(ok(db, "show", "--format", "json"))[0]
    assert "constraints" not in ok(db, "show", "--format", "csv")
    assert "feasible" not in ok(db, "show", "plain") and "violation" not in ok(db, "show", "plain")
    assert "Constraints" not in ok(db, "trial", "plain", "0")
    assert "constraints" not in json.loads(ok(db, "trial", "plain", "0", "--format", "json"))
    assert "constraints" not in ok(db, "best", "plain")


def test_the_study_list_cuts_long_constraints_on_a_narrow_terminal_only(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trials cell of "budgeted" is long (7: 5 complete, 1 pruned, 1 failed): in 90
    columns the last activity goes, then its constraints are cut as far as needed."""
    monkeypatch.setenv("COLUMNS", "90")
    lines = ok(db, "show").splitlines()
    assert all(len(line) <= 90 for line in lines) and "last active" not in lines[0]
    line = next(line for line in lines if line.startswith("budgeted"))
    assert "latency_ms <= 10, …" in line and "recall" not in line
    monkeypatch.delenv("COLUMNS")
    assert "latency_ms <= 10, 0.5 <= recall" in ok(db, "show")  # to a pipe: whole


def test_best_is_the_best_feasible_trial_with_each_constraint(db: Path) -> None:
    text = ok(db, "best", "budgeted")
    assert "number     1" in text and "value      0.5" in text
    assert text.splitlines()[-3:] == [
        "constraints",
        "  latency_ms <= 10  5  met",
        "  0.5 <= recall     0.8  met",
    ]
    data = json.loads(ok(db, "best", "budgeted", "--format", "json"))
    assert (data["number"], data["value"], data["feasible"], data["violation"]) == (1, 0.5, True, 0)
    assert data["constraints"] == [
        {"metric": "latency_ms", "at_most": 10.0, "value": 5.0, "met": True},
        {"metric": "recall", "at_least": 0.5, "value": 0.8, "met": True},
    ]


def test_best_with_no_feasible_trial_is_one_line_saying_so(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    train = budgeted(db, study="too-tight")
    train(x=0.1)
    train(x=0.3)
    for fmt in ("table", "json"):
        result = invoke(db, "best", "too-tight", "--format", fmt)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert "has no trial that meets its constraints yet" in result.output
        assert "none of its 2 complete trials does" in result.output
    line = next(line for line in ok(db, "show").splitlines() if line.startswith("too-tight"))
    assert "none feasible" in line
    (row,) = json.loads(ok(db, "show", "--format", "json"))
    assert row["best"] is None and row["complete"] == 2
    entry = [sys.executable, "-c", "from hpotrack.cli import main; main()"]  # the entry point
    done = subprocess.run(
        [*entry, "--db", str(db), "best", "too-tight"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("Error: study 'too-tight' has no trial that meets")
    assert len(done.stderr.strip().splitlines()) == 1


def constraint_lines(text: str) -> list[str]:
    """The Constraints section of ``trial``'s text: its title and one line each."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Constraints"))
    return lines[start : start + 3]


def test_trial_shows_each_constraint_with_its_value_and_whether_it_holds(db: Path) -> None:
    assert constraint_lines(ok(db, "trial", "budgeted", "2")) == [
        "Constraints (missed by 2.1 in all: the trial is not feasible)",
        "  latency_ms <= 10  12  missed by 2",
        "  0.5 <= recall     0.4  missed by 0.1",
    ]
    assert constraint_lines(ok(db, "trial", "budgeted", "3")) == [
        "Constraints (all met: the trial is feasible)",
        "  latency_ms <= 10  8  met",
        "  0.5 <= recall     0.6  met",
    ]
    assert constraint_lines(ok(db, "trial", "budgeted", "4")) == [
        "Constraints (not judged: only a complete trial is)",
        "  latency_ms <= 10  -",
        "  0.5 <= recall     -",
    ]
    data: dict[str, Any] = json.loads(ok(db, "trial", "budgeted", "2", "--format", "json"))
    assert data["feasible"] is False and data["violation"] == pytest.approx(2.1)
    assert data["constraints"] == [
        {"metric": "latency_ms", "at_most": 10.0, "value": 12.0, "met": False},
        {"metric": "recall", "at_least": 0.5, "value": 0.4, "met": False},
    ]
    failed = json.loads(ok(db, "trial", "budgeted", "4", "--format", "json"))
    assert (failed["feasible"], failed["violation"]) == (None, None)
    assert [c["met"] for c in failed["constraints"]] == [None, None]


def test_a_parameter_named_like_a_feasibility_column_keeps_its_own(tmp_path: Path) -> None:
    db = tmp_path / "h.db"

    @hp.tune({"violation": hp.Float(0.0, 1.0), "feasible": ["a", "b"]}, method="manual",
             study="named", db=db, constraints=hp.Constraint("size", at_most=1))  # fmt: skip
    def train(violation: float, feasible: str) -> dict[str, float]:
        return {"value": violation, "size": 2 * violation}

    train(violation=0.75, feasible="a")
    (row,) = json.loads(ok(db, "show", "named", "--format", "json"))
    assert (row["param_violation"], row["param_feasible"]) == (0.75, "a")
    assert (row["violation"], row["feasible"]) == (0.5, False)


def test_a_front_with_constraints_holds_feasible_trials_only(tmp_path: Path) -> None:
    """Trial 0 has the lowest loss, but its size misses the bound: it is off the front
    that show marks and best lists, which says why."""
    db = tmp_path / "h.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="manual", study="mo", db=db,
             objective=("loss", "size"), direction=("minimize", "minimize"),
             constraints=[hp.Constraint("size", at_most=5)])  # fmt: skip
    def train(x: float) -> dict[str, float]:
        return {"loss": x, "size": 10 * (1 - x)}

    for x in (0.1, 0.5, 0.6, 0.9):
        train(x=x)
    rows = json.loads(ok(db, "show", "mo", "--format", "json"))
    assert [(r["front"], r["feasible"]) for r in rows] == [
        (False, False),
        (True, True),
        (True, True),
        (True, True),
    ]
    front = ok(db, "best", "mo")
    assert "3 trials on its Pareto front" in front
    assert "among the trials that meet size <= 5" in front
    listed = json.loads(ok(db, "best", "mo", "--format", "json"))["front"]
    assert [t["number"] for t in listed] == [1, 2, 3]


def test_a_failed_trials_constraint_metric_no_float_holds_is_shown_without_a_value(
    tmp_path: Path,
) -> None:
    """The trial failed (its size is too large for a float) and keeps what it returned;
    trial shows the constraint unjudged instead of a traceback."""
    db = tmp_path / "h.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="manual", study="huge", db=db,
             constraints=hp.Constraint("size", at_most=1))  # fmt: skip
    def train(x: float) -> dict[str, float]:
        return {"value": x, "size": 10**400}

    with pytest.raises(hp.TrialError, match="too large for a float"):
        train(x=0.5)
    assert constraint_lines(ok(db, "trial", "huge", "0"))[:2] == [
        "Constraints (not judged: only a complete trial is)",
        "  size <= 1  -",
    ]
    data = json.loads(ok(db, "trial", "huge", "0", "--format", "json"))
    assert data["state"] == "failed" and "too large for a float" in data["error"]
    assert data["constraints"] == [{"metric": "size", "at_most": 1.0, "value": None, "met": None}]

"""``hpotrack show``: the study list and one study's trials, in every format, with the
budget, rungs and brackets of multi-fidelity studies."""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from tabulate import tabulate

import hpotrack as hp
from hpotrack.cli import cli, common
from hpotrack.cli.common import table
from hpotrack.cli.fitting import spans, table_width
from hpotrack.provenance import hostname
from hpotrack.records import TrialState
from hpotrack.store import close_stores
from tests.test_init import READ_ONLY_METHODS, imported_by
from tests.test_transfer import RUNGS, make_budget_study, set_rungs


@pytest.fixture(autouse=True)
def _terminal_of_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables fit the terminal; these tests' output goes to a pipe, which gets every
    column whole unless COLUMNS says how wide the terminal is."""
    monkeypatch.setenv("COLUMNS", "80")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "h.db"
    values = iter([3.0, 1.0, ValueError("boom"), 2.0, 0.5, 4.0])

    @hp.tune({"x": hp.Float(0.0, 1.0), "n": hp.Int(1, 9)}, study="alpha", db=path, seed=0)
    def alpha(x: float, n: int) -> float:
        value = next(values)
        if isinstance(value, Exception):
            raise value
        return value

    alpha.optimize(n_trials=6)

    @hp.tune({"c": ["a", "b"]}, method="grid", study="beta", db=path, direction="maximize")
    def beta(c: str) -> float:
        return 1.0 if c == "a" else 2.0

    beta.optimize()
    return path


@pytest.fixture
def mf(db: Path) -> Path:
    """``db`` plus study "mf": a budget in epochs, trials with rungs, brackets and checks."""
    make_budget_study(db)
    return db


def show(db: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", str(db), "show", *args])
    assert result.exit_code == 0, result.output
    return result.output


def below_seed(db: Path, study: str, *args: str) -> list[str]:
    """The lines of ``show STUDY`` (a table) below its first, the study's seed."""
    seed, *lines = show(db, study, *args).splitlines()
    assert seed == f"seed: {hp.load_study(study, db=db).seed}"
    return lines


def test_the_study_list_has_method_direction_states_and_best(db: Path) -> None:
    lines = show(db).splitlines()
    assert lines[0].split()[:4] == ["study", "method", "goal", "trials"]
    alpha = next(line for line in lines if line.startswith("alpha"))
    assert "auto" in alpha and "min" in alpha and "6: 5 complete, 1 failed" in alpha
    assert " 0.5 " in alpha
    beta = next(line for line in lines if line.startswith("beta"))
    assert "grid" in beta and "max" in beta and " 2 " in beta
    assert all(len(line) <= 80 for line in lines)


def test_the_study_list_says_which_method_auto_chose(db: Path) -> None:
    """An ``auto`` study reads ``auto (tpe)`` in the table: the method its latest
    configuration came from (its note), not a trial the user ran by hand; ``auto``
    alone before it proposed any, or when its latest is another method's. JSON and CSV
    keep the stored name."""
    space = {"x": hp.Float(0.0, 1.0), "n": hp.Int(1, 9)}

    def f(x: float, n: int) -> float:
        return x

    assert hp.tune(space, study="fresh", db=db)(f).study.trials == []  # created, nothing run
    hp.tune(space, method="random", study="was-random", db=db)(f).optimize(n_trials=1)
    assert hp.tune(space, study="was-random", db=db)(f).study.method_name == "auto"  # reopened
    hp.tune(space, study="alpha", db=db, seed=0)(f)(x=0.5, n=1)  # manual: not auto's
    rows = {line.split()[0]: line.split()[1:3] for line in show(db).splitlines()[2:]}
    assert rows["alpha"] == ["auto", "(tpe)"]
    assert rows["beta"][0] == "grid"
    assert rows["fresh"][:2] == ["auto", "min"] and rows["was-random"][:2] == ["auto", "min"]
    assert {row["method"] for row in json.loads(show(db, "--format", "json"))} == {"auto", "grid"}
    methods = {row["method"] for row in csv.DictReader(io.StringIO(show(db, "--format", "csv")))}
    assert methods == {"auto", "grid"}


def test_the_study_list_as_json_has_one_count_per_state(db: Path) -> None:
    rows = json.loads(show(db, "--format", "json"))
    alpha = next(row for row in rows if row["study"] == "alpha")
    assert (alpha["complete"], alpha["failed"], alpha["running"], alpha["trials"]) == (5, 1, 0, 6)
    assert alpha["direction"] == "minimize" and alpha["best"] == 0.5


def test_trials_by_number_best_first_top_and_state(db: Path) -> None:
    rows = json.loads(show(db, "alpha", "--format", "json"))
    assert [row["number"] for row in rows] == list(range(6))
    assert set(rows[0]) == {
        "number", "state", "value", "x", "n", "step", "budget", "trained", "rung", "bracket",
        "duration", "origin", "method",
    }  # fmt: skip
    assert all(row["rung"] is None and row["bracket"] is None for row in rows)
    top = json.loads(show(db, "alpha", "--top", "3", "--format", "json"))
    assert [row["value"] for row in top] == [0.5, 1.0, 2.0]
    failed = json.loads(show(db, "alpha", "--state", "failed", "--format", "json"))
    assert [row["number"] for row in failed] == [2]
    by_number = json.loads(show(db, "alpha", "--top", "3", "--sort", "number", "--format", "json"))
    assert [row["number"] for row in by_number] == [1, 3, 4]  # the 3 best, then by number


def test_top_never_counts_a_trial_without_a_value_as_best(db: Path) -> None:
    """Of alpha's 6 trials, 5 have a value; a failed trial is never among the best."""
    top = json.loads(show(db, "alpha", "--top", "9", "--format", "json"))
    assert [row["value"] for row in top] == [0.5, 1.0, 2.0, 3.0, 4.0]
    failed = show(db, "alpha", "--state", "failed", "--top", "3", "--format", "json")
    assert json.loads(failed) == []

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="broken", db=db, seed=0)
    def broken(x: float) -> float:
        raise ValueError("diverged")

    broken.optimize(n_trials=3)
    assert json.loads(show(db, "broken", "--top", "2", "--format", "json")) == []
    lines = below_seed(db, "broken", "--top", "2", "--sort", "number")
    assert lines[0] == "(nothing to show: --top ranks trials by value, and none here has one)"
    assert not any("failed" in line for line in lines)
    table = "\n".join(below_seed(db, "broken")).split("\nmethod: ")[0]  # above auto's note
    assert cells(table.splitlines(), "state") == ["failed"] * 3  # all 3


def test_top_of_a_population_ranks_the_members_latest_segments_first(tmp_path: Path) -> None:
    """A PBT member trains on from each segment, so a mid-run segment's value (here the
    lowest, before the model overfits) is no result to keep: ``best`` gives the best of
    the members' latest segments, and ``show --top`` listed the mid-run ones first."""
    from tests.workloads import overfitting_population

    db = tmp_path / "h.db"
    study = overfitting_population(db, "pbt")
    finals = {t.number for t in study.trials if t.budget == 6}
    top = json.loads(show(db, "pbt", "--top", "5", "--format", "json"))
    assert top[0]["number"] == study.best.number
    assert {row["number"] for row in top[:4]} == finals
    assert [row["value"] for row in top[:4]] == sorted(row["value"] for row in top[:4])
    assert min(t.value for t in study.trials if t.value is not None) == top[4]["value"]


def test_maximize_studies_put_the_largest_value_first(db: Path) -> None:
    top = json.loads(show(db, "beta", "--top", "1", "--format", "json"))
    assert top[0]["c"] == "b" and top[0]["value"] == 2.0


def test_csv_has_a_header_and_one_row_per_trial(db: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(show(db, "alpha", "--format", "csv"))))
    assert len(rows) == 6 and rows[2]["state"] == "failed" and rows[1]["value"] == "1.0"


def test_json_rows_are_written_a_batch_at_a_time_as_one_dump_lays_them_out(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``show STUDY --format json`` writes its rows a batch at a time (encoded whole, the
    rows of 100,000 trials were 5 million pieces of text at once, 250 MB), and the text
    is, byte for byte, ``json.dumps(rows, indent=2)``."""
    monkeypatch.setattr(common, "JSON_BATCH", 2)
    pieces: list[str] = []
    echo = click.echo

    def counted(message: str | None = None, **options: Any) -> None:
        pieces.append(message or "")
        echo(message, **options)

    monkeypatch.setattr(click, "echo", counted)
    text = show(db, "alpha", "--format", "json")
    assert text == json.dumps(json.loads(text), indent=2) + "\n"
    assert len(json.loads(text)) == 6
    assert len(pieces) == 5  # "[", three batches of two rows, "\n]"


def test_csv_without_rows_still_names_the_columns(db: Path) -> None:
    """A CSV of no trials (or no studies) is a header line, the same as with rows: an
    empty output fails CSV readers ("no columns to parse")."""
    with_rows = next(csv.reader(io.StringIO(show(db, "alpha", "--format", "csv"))))
    none = show(db, "alpha", "--state", "queued", "--format", "csv")
    assert none.splitlines() == [",".join(with_rows)]
    studies = next(csv.reader(io.StringIO(show(db, "--format", "csv"))))
    for name in ("alpha", "beta"):
        CliRunner().invoke(cli, ["--db", str(db), "delete", name, "--yes"])
    assert show(db, "--format", "csv").splitlines() == [",".join(studies)]
    assert show(db, "--format", "json") == "[]\n"


def wide_study(tmp_path: Path) -> Path:
    """Study "wide": 12 parameters, 3 trials; its database."""
    db = tmp_path / "wide.db"
    space = {f"hyperparameter_{i}": hp.Float(0.0, 1.0) for i in range(12)}

    @hp.tune(space, study="wide", db=db, seed=0)
    def wide(**params: float) -> float:
        return sum(params.values())

    wide.optimize(n_trials=3)
    return db


def test_a_wide_space_stays_within_80_columns(tmp_path: Path) -> None:
    db = wide_study(tmp_path)
    lines = below_seed(db, "wide")
    assert all(len(line) <= 80 for line in lines), max(map(len, lines))
    assert "params" in lines[0] and "hyperparameter_0=" in lines[2]
    # Data formats keep one column per parameter.
    assert "hyperparameter_11" in json.loads(show(db, "wide", "--format", "json"))[0]


def test_a_table_to_a_pipe_keeps_every_column_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a terminal (``hpotrack show > file``, ``| less -S``) nothing is folded
    or cut: the width to fit is unknown."""
    monkeypatch.delenv("COLUMNS")
    db = wide_study(tmp_path)
    header = below_seed(db, "wide")[0].split()
    assert [f"hyperparameter_{i}" for i in range(12)] == [h for h in header if "_" in h]
    assert "budget" not in header  # a study without a budget has no column of -


def test_long_text_values_are_cut_on_a_terminal_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table of a terminal cuts a long option to fit; a pipe or a file gets it
    whole, as the help says."""
    db = tmp_path / "h.db"
    kernel = "radial_basis_function_kernel"

    @hp.tune({"kernel": [kernel, "linear"]}, method="grid", study="svm", db=db)
    def svm(kernel: str) -> float:
        return len(kernel)

    svm.optimize()
    on_terminal = show(db, "svm")
    assert kernel not in on_terminal and f"{kernel[:15]}…" in on_terminal
    monkeypatch.delenv("COLUMNS")
    assert kernel in show(db, "svm")


def test_the_study_list_keys_use_underscores(db: Path) -> None:
    """JSON and CSV keys are identifiers (last_activity); the table's header reads as
    words."""
    rows = json.loads(show(db, "--format", "json"))
    assert all(" " not in key for key in rows[0]) and rows[0]["last_activity"]
    header = next(csv.reader(io.StringIO(show(db, "--format", "csv"))))
    assert "last_activity" in header and "last activity" not in header
    assert "last active" in show(db).splitlines()[0]


@pytest.mark.parametrize(
    ("method", "word"),
    [
        (hp.methods.Random(pruner="median"), "random+median"),
        (hp.methods.TPE(pruner="median"), "tpe+median"),
        (hp.methods.Bayes(pruner="percentile"), "bayes+percentile"),
        (hp.methods.Evolution(pruner="median"), "evolution+median"),
        (hp.methods.Random(), "random"),
    ],
    ids=lambda m: m if isinstance(m, str) else None,
)
def test_the_study_list_names_the_pruner_with_the_method(
    tmp_path: Path, method: hp.methods.Method, word: str
) -> None:
    db = tmp_path / "h.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method=method, study="pruned", db=db, seed=0,
             budget=hp.Budget(1, 3, name="epochs"))  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        for epoch in trial.steps:
            trial.report(x / epoch, step=epoch)
        return x

    train.optimize(n_trials=2)
    (row,) = json.loads(show(db, "--format", "json"))
    assert row["method"] == word
    assert show(db).splitlines()[2].split()[:2] == ["pruned", word]


def test_the_help_says_what_a_promotion_without_a_checkpoint_trained(db: Path) -> None:
    """A promotion that found no checkpoint trains from scratch: its trained steps are
    all of them, not only those after its parent's."""
    result = CliRunner().invoke(cli, ["show", "--help"])
    words = " ".join(result.output.split())
    assert "(a promotion counts those after its parent's)" not in words
    assert "one that found no checkpoint trained from scratch and counts them all" in words


def long_named(db: Path) -> str:
    """Study with a 240-character name in ``db``; its name."""
    name = "sweep_" + "x" * 234

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study=name, db=db, seed=0)
    def f(x: float) -> float:
        return x

    f.optimize(n_trials=2)
    return name


def test_the_study_list_cuts_long_names_on_a_terminal_only(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = long_named(db)
    lines = show(db).splitlines()
    assert all(len(line) <= 80 for line in lines), max(map(len, lines))
    assert any(line.startswith("sweep_xxx") and "…" in line for line in lines)
    assert any(line.startswith("alpha ") for line in lines)
    monkeypatch.delenv("COLUMNS")  # a pipe or a file: whole
    assert any(line.startswith(f"{name} ") for line in show(db).splitlines())
    assert name in [row["study"] for row in json.loads(show(db, "--format", "json"))]
    monkeypatch.setenv("COLUMNS", "400")  # a wide terminal: whole, it fits
    assert any(line.startswith(f"{name} ") for line in show(db).splitlines())


def test_the_study_list_gives_up_the_last_activity_when_names_cannot_make_room(
    db: Path,
) -> None:
    """A long method and trials cell (random+threshold, complete and pruned trials)
    left no room to gain by cutting names, and the list ran past 80 columns: the last
    activity goes instead (JSON keeps it), and the names stay whole."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="svm_sweep", db=db, seed=0,
             method=hp.methods.Random(pruner=hp.pruners.Threshold(upper=0.5)))  # fmt: skip
    def svm(x: float, trial: hp.Trial) -> float:
        trial.report(x, step=1)
        return x

    svm.optimize(n_trials=12)
    lines = show(db).splitlines()
    assert all(len(line) <= 80 for line in lines), max(map(len, lines))
    assert lines[0].split() == ["study", "method", "goal", "trials", "best"]
    sweep = next(line for line in lines if line.startswith("svm_sweep "))
    assert "random+threshold" in sweep and "pruned" in sweep
    assert all(row["last_activity"] for row in json.loads(show(db, "--format", "json")))


def test_a_missing_database_says_to_pass_db_and_where_the_path_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command line's words (--db PATH, not db=PATH), and no advice to set
    HPOTRACK_DB when it is what points at the missing file."""
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "nope.db"
    runs = {
        "option": (["--db", str(missing), "show"], {"HPOTRACK_DB": None}),
        "variable": (["show", "x"], {"HPOTRACK_DB": str(missing)}),
        "default": (["show"], {"HPOTRACK_DB": None}),
    }
    messages = {}
    for how, (argv, env) in runs.items():
        result = CliRunner().invoke(cli, argv, env=env)
        assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
        assert "db=PATH" not in result.output and "--db PATH" in result.output
        messages[how] = result.output
    assert messages["option"] == (
        f"Error: no database at {missing}: pass --db PATH to the file your study wrote\n"
    )
    assert f"{missing} (HPOTRACK_DB is set and points there)" in messages["variable"]
    assert "set HPOTRACK_DB" not in messages["variable"]
    assert "no database at hpotrack.db: pass --db PATH (or set HPOTRACK_DB)" in messages["default"]
    (tmp_path / "hpotrack.db").touch()
    result = CliRunner().invoke(cli, ["show"], env={"HPOTRACK_DB": None})
    assert result.output.startswith("Error: an empty file at hpotrack.db: pass --db PATH")


def test_an_empty_database_shows_nothing(tmp_path: Path) -> None:
    from hpotrack.store import Store

    Store(tmp_path / "empty.db").close()
    assert "nothing to show" in show(tmp_path / "empty.db")


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing", "no database at"),
        ("zero-bytes", "an empty file at"),
        ("no-tables", "has no hpotrack tables"),
        ("not-sqlite", "not an hpotrack database"),
        ("newer", "newer than this hpotrack"),
        ("unknown-study", "did you mean 'alpha'"),
        ("damaged", "database error"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(
    db: Path, tmp_path: Path, setup: str, expected: str
) -> None:
    args = ["show"]
    target = db
    if setup == "missing":
        target = tmp_path / "nope.db"
    elif setup == "zero-bytes":  # read, not turned into an empty database
        target = tmp_path / "empty.db"
        target.touch()
    elif setup == "no-tables":  # a SQLite file without tables: left as it is
        target = tmp_path / "bare.db"
        with closing(sqlite3.connect(target)) as conn:
            conn.execute("PRAGMA user_version = 0")
        size = target.stat().st_size
    elif setup == "not-sqlite":
        target = tmp_path / "junk.db"
        target.write_bytes(b"hello" * 100)
    elif setup == "newer":
        close_stores()  # a long-lived process keeps its checked connection; the CLI is new
        with closing(sqlite3.connect(db)) as conn, conn:
            conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    elif setup == "damaged":
        close_stores()
        with closing(sqlite3.connect(db)) as conn, conn:
            conn.execute("DROP TABLE trials")
    else:
        args = ["show", "alpah"]
    result = CliRunner().invoke(cli, ["--db", str(target), *args])
    assert result.exit_code == 2
    assert expected in result.output and "Traceback" not in result.output
    assert result.output.count("\n") == 1
    assert "db=" not in result.output and result.output.count("--db") <= 1  # --db PATH, once
    assert setup != "zero-bytes" or target.stat().st_size == 0
    assert setup != "no-tables" or target.stat().st_size == size


def test_empty_columns_go_before_parameters_are_folded(tmp_path: Path) -> None:
    db = tmp_path / "mid.db"
    space = {  # the quickstart's shape: one column each fits only without the budget
        "C": hp.Float(1e-2, 1e3, log=True),
        "gamma": hp.Float(1e-4, 1e1, log=True),
        "kernel": ["rbf", "poly", "sigmoid"],
    }

    @hp.tune(space, study="mid", db=db, seed=0)
    def mid(C: float, gamma: float, kernel: str) -> float:  # noqa: N803 - scikit-learn's name
        return 0.9 + C / 1e7 + gamma / 1e7

    mid.optimize(n_trials=3)
    lines = below_seed(db, "mid")
    header = lines[0].split()
    assert all(len(line) <= 80 for line in lines), max(map(len, lines))
    assert {"C", "gamma", "kernel"} <= set(header)
    assert "budget" not in header and "params" not in header


MIXED_TABLES = {
    "negative numbers and exponents": [
        {"number": 0, "value": -1.5, "x": 2.5e-7, "k": -3},
        {"number": 1, "value": 1.23456789e12, "x": -0.0001234, "k": 40},
        {"number": 2, "value": 10.0, "x": 1e-05, "k": 7},
    ],
    "nan, infinities and None": [
        {"number": 0, "state": "complete", "value": math.nan, "step": None, "x": math.inf},
        {"number": 1, "state": "failed", "value": None, "step": 3, "x": -math.inf},
        {"number": 2, "state": "pruned", "value": -0.0, "step": None, "x": None},
    ],
    "long parameters": [
        {
            "number": 0,
            "value": 0.5,
            "kernel": "radial_basis_fun…",
            "params": "x=0.1 y=-2e-05 kernel=radial_basis_function_kernel gamma=1e+06 degree=3",
        },
        {"number": 1, "value": 0.25, "kernel": "linear", "params": "x=-3.5 y=1e-09"},
    ],
    "a point that makes a column wider than its longest cell": [
        {"value": 123456.0},
        {"value": 1e-05},
        {"value": None},
        {"value": math.nan},
    ],
    "whole numbers, booleans and empty strings among floats": [
        {"a": 1, "b": True, "c": "", "d": 1.5, "e": None},
        {"a": 2.5, "b": False, "c": "True", "d": True, "e": None},
        {"a": -7, "b": None, "c": "x", "d": "", "e": None},
    ],
    "floats among strings, and headers wider than the cells": [
        {"learning_rate_of_the_optimizer": 0.1, "origin": "sampled", "s": 1e-20},
        {"learning_rate_of_the_optimizer": None, "origin": "a b c ", "s": "rbf"},
    ],
}


@pytest.mark.parametrize("rows", list(MIXED_TABLES.values()), ids=list(MIXED_TABLES))
def test_the_width_of_a_table_adds_up_from_its_columns_rendered_alone(
    rows: list[dict[str, object]],
) -> None:
    """A table too wide for the terminal is measured from its columns' widths, read off
    its header rule, not by rendering it again without some (up to five times, 15 s for
    20,000 trials): the sum must be the width tabulate lays out, for the table and any
    of its columns. A change in tabulate (or in ``table``) shows here."""
    span = spans(rows)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    for count in range(1, len(columns) + 1):
        kept = columns[:count]
        subset = [{key: row.get(key) for key in kept} for row in rows]
        assert span(kept) == max(map(len, table(subset).splitlines())), kept
    assert table_width(rows) == max(map(len, table(rows).splitlines()))


def rendered_tables(monkeypatch: pytest.MonkeyPatch) -> list[list[dict[str, Any]]]:
    """The rows of every table tabulate renders from now on (in the test's process)."""
    calls: list[list[dict[str, Any]]] = []

    def counted(rows: list[dict[str, Any]], *args: Any, **kwargs: Any) -> str:
        calls.append(rows)
        return str(tabulate(rows, *args, **kwargs))

    monkeypatch.setattr(common, "tabulate", counted)
    return calls


def test_a_wide_table_on_a_terminal_is_rendered_whole_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fitting the table to 80 columns (dropping empty columns, folding the parameters,
    giving up the spare ones) rendered all of it up to five times to measure it; then
    each column alone once, as many cells as the table again. Now: the table once, as
    it is, measured from that rendering, and once fitted."""
    db = wide_study(tmp_path)
    calls = rendered_tables(monkeypatch)
    lines = below_seed(db, "wide")
    assert "params" in lines[0] and all(len(line) <= 80 for line in lines)
    assert [("params" in rows[0], len(rows)) for rows in calls] == [(False, 3), (True, 3)]
    assert "hyperparameter_11" in calls[0][0]  # the first one whole


@pytest.mark.parametrize("columns", ["80", None])
def test_a_table_that_fits_is_rendered_once(
    db: Path, monkeypatch: pytest.MonkeyPatch, columns: str | None
) -> None:
    """A table that fits the terminal (or goes to a pipe) is rendered once: what is
    printed is the rendering it was measured from. Measuring it apart rendered each
    column alone first, which doubled the time of ``show STUDY`` of 20,000 trials on a
    terminal (7 s instead of 3.5)."""
    if columns is None:
        monkeypatch.delenv("COLUMNS")
    calls = rendered_tables(monkeypatch)
    lines = below_seed(db, "alpha")
    assert lines[0].split()[:4] == ["number", "state", "value", "x"]
    assert [len(rows) for rows in calls] == [6]


def cells(lines: list[str], column: str) -> list[str]:
    """The cells of one column of a table (header, rule, rows) whose cells have no spaces."""
    index = lines[0].split().index(column)
    return [line.split()[index] for line in lines[2:]]


def test_a_budget_study_names_its_budget_and_shows_rungs_and_brackets(mf: Path) -> None:
    lines = below_seed(mf, "mf")
    trained = sum(t.trained or 0 for t in hp.load_study("mf", db=mf).trials)
    assert (
        trained > 0 and lines[0] == f"budget: epochs 1..9, {rung_line(mf, 'mf')}; {trained} trained"
    )
    assert all(len(line) <= 80 for line in lines), max(map(len, lines))
    assert cells(lines[1:], "rung") == ["-" if r is None else str(r) for r, _ in RUNGS]
    assert cells(lines[1:], "bracket") == ["-" if b is None else str(b) for _, b in RUNGS]
    assert "budget" not in lines[1].split()  # every trial's is the max: the header says it
    records = hp.load_study("mf", db=mf).trials
    states = [t.state.value for t in records]  # a value's step: the last check, or the max
    steps = [str(max(t.checks)) if s == "pruned" else "9" if s == "complete" else "-"
             for t, s in zip(records, states, strict=True)]  # fmt: skip
    assert cells(lines[1:], "step") == steps and "9" in steps and "1" in steps
    records = hp.load_study("mf", db=mf).trials
    assert cells(lines[1:], "trained") == [str(t.trained) for t in records]  # how far each got


def test_an_unnamed_budget_reads_as_steps(db: Path) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="u", db=db, seed=0,
             budget=hp.Budget(1, 9))  # fmt: skip
    def f(x: float, trial: hp.Trial) -> float:
        for step in trial.steps:
            trial.report(x / step, step=step)
        return x

    f.optimize(n_trials=4)
    trained = sum(t.trained or 0 for t in f.study.trials)
    first = below_seed(db, "u")[0]
    assert first == f"budget: steps 1..9, checked at 1, 3 (rungs 0-1); {trained} trained"


def rung_line(db: Path, study: str) -> str:
    """What the budget line says of the rungs, from the stored trials themselves."""
    trials = [t for t in hp.load_study(study, db=db).trials if t.rung is not None]
    steps = sorted({step for t in trials for step in t.checks})
    rungs = sorted({t.rung for t in trials if t.rung is not None})
    shown = (
        [str(s) for s in steps] if len(steps) <= 5 else [*map(str, steps[:2]), "…", str(steps[-1])]
    )
    named = f"rung {rungs[0]}" if len(rungs) == 1 else f"rungs {rungs[0]}-{rungs[-1]}"
    return f"checked at {', '.join(shown)} ({named})"


@pytest.mark.parametrize(
    ("method", "budget", "n_trials", "checked"),
    [
        ("hyperband", hp.Budget(1, 20), 40, "checked at 2, 7 (rungs 0-1)"),
        (hp.methods.BOHB(eta=2), hp.Budget(1, 8), 40, "checked at 1, 2, 4 (rungs 0-2)"),
        (hp.methods.SHA(eta=2), hp.Budget(1, 2**20), 80, None),  # a long ladder: its ends
    ],
)
def test_a_halving_study_says_at_which_steps_its_rungs_check(
    db: Path, method: str | hp.methods.Method, budget: hp.Budget, n_trials: int, checked: str | None
) -> None:
    """Rungs are max·η^-k rounded: Budget(1, 20) checks at 2 and 7 steps, not 1, 3 and
    9 as min·η^k would; nothing said where, and the rung column numbers them from 0.
    Read from the trials' stored rungs and checks, whatever the method (showing a study
    imports none); whole bounds print exactly (1..1048576 was 1..1.04858e+06)."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method=method, study="r", db=db, seed=0,
             budget=budget)  # fmt: skip
    def f(x: float, trial: hp.Trial) -> float:
        for step in trial.steps:
            if step & (step - 1) == 0 or step in (2, 7):  # powers of two, and 2 and 7
                trial.report(x, step=step)
            if step > 64:  # the long ladder's trials stop reporting (its rungs go on)
                break
        return x

    f.optimize(n_trials=n_trials)
    first = below_seed(db, "r")[0]
    expected = rung_line(db, "r")
    assert first.startswith(f"budget: steps {budget.min}..{budget.max}, {expected}; "), first
    if checked is not None:
        assert expected == checked
    else:
        assert expected.startswith("checked at 1, 2, …, ") and "(rungs 0-" in expected


def test_trial_says_how_many_epochs_it_trained(mf: Path) -> None:
    trials = hp.load_study("mf", db=mf).trials
    record = trials[0]
    result = CliRunner().invoke(cli, ["--db", str(mf), "trial", "mf", "0"])
    assert result.exit_code == 0, result.output
    assert f"trained {record.trained} epochs" in " ".join(result.output.split())
    one = next(t.number for t in trials if t.trained == 1)  # pruned at its first check
    result = CliRunner().invoke(cli, ["--db", str(mf), "trial", "mf", str(one)])
    assert "trained 1 epoch" in " ".join(result.output.split())
    assert "1 epochs" not in result.output


def test_studies_without_rungs_have_no_budget_line_nor_rung_columns(mf: Path) -> None:
    lines = below_seed(mf, "alpha")
    assert lines[0].split()[:3] == ["number", "state", "value"]
    assert "rung" not in lines[0] and "bracket" not in lines[0] and "trained" not in lines[0]
    assert not any(line.startswith("budget:") for line in lines)


def test_rungs_and_brackets_in_json_and_csv(mf: Path) -> None:
    rows = json.loads(show(mf, "mf", "--format", "json"))
    assert [(row["rung"], row["bracket"]) for row in rows] == RUNGS
    table = list(csv.DictReader(io.StringIO(show(mf, "mf", "--format", "csv"))))
    assert [row["rung"] for row in table] == [str(r) if r is not None else "" for r, _ in RUNGS]


def test_the_study_list_has_the_budget_in_data_formats_only(mf: Path) -> None:
    rows = {row["study"]: row for row in json.loads(show(mf, "--format", "json"))}
    assert rows["mf"]["budget"] == "epochs 1..9" and rows["alpha"]["budget"] is None
    lines = show(mf).splitlines()
    assert "budget" not in lines[0] and all(len(line) <= 80 for line in lines)
    assert any(line.startswith("mf ") and "random" in line for line in lines)


def test_a_wide_space_with_rungs_folds_params_and_keeps_the_rungs(tmp_path: Path) -> None:
    db = tmp_path / "wide.db"
    space = {f"hyperparameter_{i}": hp.Float(0.0, 1.0) for i in range(12)}

    @hp.tune(space, method="random", study="wide", db=db, seed=0,
             budget=hp.Budget(1.5, 100.0, name="samples"))  # fmt: skip
    def wide(**params: float) -> float:
        return sum(params.values())

    wide.optimize(n_trials=3)
    set_rungs(db, "wide", [(3, 2), (0, 1), (None, None)])
    lines = below_seed(db, "wide")
    assert lines[0] == "budget: samples 1.5..100"
    assert all(len(line) <= 80 for line in lines), max(map(len, lines))
    assert "params" in lines[1] and "hyperparameter_0=" in lines[3]
    assert cells(lines[1:], "rung") == ["3", "0", "-"]
    assert cells(lines[1:], "bracket") == ["2", "1", "-"]


def test_a_whole_budget_with_rungs_and_brackets_fits_80_columns(tmp_path: Path) -> None:
    """With a whole budget every trial has a step and the steps it trained: beside the
    rungs, brackets and the folded params that was 83 columns (hyperband, bohb on any
    space too wide to unfold); the trained column goes (the line above has the total)."""
    db = tmp_path / "wide.db"
    space = {f"hyperparameter_{i}": hp.Float(0.0, 1.0) for i in range(12)}

    @hp.tune(space, method="random", study="wide", db=db, seed=0,
             budget=hp.Budget(1, 27, name="epochs"))  # fmt: skip
    def wide(**params: float) -> float:
        return sum(params.values())

    wide.optimize(n_trials=3)
    set_rungs(db, "wide", [(3, 2), (0, 1), (None, None)])
    lines = below_seed(db, "wide")
    assert lines[0] == "budget: epochs 1..27; 81 trained"
    assert all(len(line) <= 80 for line in lines), max(map(len, lines))
    assert lines[1].split() == ["number", "state", "value", "step", "rung", "bracket", "params"]
    assert cells(lines[1:], "step") == ["27"] * 3 and cells(lines[1:], "rung") == ["3", "0", "-"]
    assert "hyperparameter_0=" in lines[3]


def test_show_and_trial_say_what_auto_chose_and_why(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hpotrack.cli import cli

    db = tmp_path / "h.db"

    @hp.tune({"a": [1, 2], "b": ["x", "y"]}, study="auto", db=db, seed=0)
    def f(a: int, b: str) -> float:
        return a

    f.optimize(n_trials=3)
    shown = CliRunner().invoke(cli, ["--db", str(db), "show", "auto"])
    assert shown.exit_code == 0, shown.output
    note = "method: auto chose grid: a small discrete space of 4 cells"
    assert shown.output.splitlines()[-1] == note
    trial = CliRunner().invoke(cli, ["--db", str(db), "trial", "auto", "1"])
    assert "note      auto chose grid: a small discrete space of 4 cells" in trial.output


def test_show_says_no_longer_what_auto_chose_once_the_study_runs_another_method(
    tmp_path: Path,
) -> None:
    """A study run by auto, then reopened with method="grid", still read "method: auto
    chose tpe: ..." under its grid trials. Trials the user queued or ran by hand are not
    the method's: the line still says what auto chose before them."""
    db = tmp_path / "h.db"
    space = {"a": hp.Int(1, 10), "b": hp.Int(1, 10)}

    def f(a: int, b: int) -> float:
        return a + b

    hp.tune(space, study="s", db=db, seed=0)(f).optimize(n_trials=2)
    auto_note = "\nmethod: auto chose tpe: 2 numeric parameters"
    assert auto_note in show(db, "s")
    grid = hp.tune(space, method="grid", study="s", db=db, seed=0)(f)
    grid(a=1, b=1)
    grid.study.enqueue({"a": 2, "b": 2})
    grid.optimize(n_trials=4)  # the queued trial only
    assert auto_note in show(db, "s")
    grid.optimize(n_trials=5)
    assert "method:" not in show(db, "s")


def test_show_has_a_method_column_only_when_the_trials_came_from_more_than_one(
    tmp_path: Path,
) -> None:
    """Which method proposed each trial: in the table only where there is something to
    tell apart (here a study reopened with another method), to keep it narrow; JSON and
    CSV always have it, as the registered name; ``trial`` says it, with auto's choice."""
    db = tmp_path / "h.db"
    space = {"x": hp.Float(0.0, 1.0)}

    def f(x: float) -> float:
        return x

    hp.tune(space, study="s", db=db, seed=0)(f).optimize(n_trials=2)  # auto: tpe
    assert "method" not in below_seed(db, "s")[0].split()
    random = hp.tune(space, method="random", study="s", db=db, seed=0)(f)
    random(x=0.5)  # manual: no method proposed it
    random.optimize(n_trials=4)
    header, _, *rows = below_seed(db, "s")
    assert header.split()[-1] == "method"
    assert [row.rsplit("  ", 1)[-1].strip() for row in rows] == [
        "auto (tpe)", "auto (tpe)", "-", "random",
    ]  # fmt: skip
    shown = json.loads(show(db, "s", "--format", "json"))
    assert [row["method"] for row in shown] == ["tpe", "tpe", None, "random"]
    assert [row["method"] for row in csv.DictReader(io.StringIO(show(db, "s", "--format", "csv")))
            ] == ["tpe", "tpe", "", "random"]  # fmt: skip
    trial = CliRunner().invoke(cli, ["--db", str(db), "trial", "s", "0"]).output
    assert "\n  origin    sampled\n  method    auto (tpe)\n  note      auto chose tpe" in trial
    manual = CliRunner().invoke(cli, ["--db", str(db), "trial", "s", "2"]).output
    assert "\n  origin    manual\n  note      -\n" in manual  # no method line


def test_the_study_list_reads_autos_choice_from_the_trials_method(tmp_path: Path) -> None:
    """``auto (tpe)`` comes from the latest proposed trial's method, not its note."""
    db = tmp_path / "h.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="a", db=db, seed=0)
    def f(x: float) -> float:
        return x

    f.optimize(n_trials=1)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE trials SET note = NULL")
    assert show(db).splitlines()[2].split()[:3] == ["a", "auto", "(tpe)"]


def test_what_the_method_says_is_wrapped_to_the_terminal_and_whole_to_a_pipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """auto's choice of bohb with bohb's own note is one line of 110 columns: it ran past
    a terminal of 80 while the table above it was fitted to it."""
    db = tmp_path / "h.db"

    @hp.tune({"x": (0.0, 1.0)}, study="s", db=db, seed=0, budget=hp.Budget(1, 9))
    def f(x: float, trial: hp.Trial) -> float:
        return x

    f.optimize(n_trials=1)
    note = "method: auto chose bohb: budget= given, budget 1..9; bohb: at random until the"
    lines = show(db, "s").splitlines()  # COLUMNS=80 (the autouse fixture above)
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[-2:] == [note, "  top budget has enough observations"]
    monkeypatch.delenv("COLUMNS")
    assert show(db, "s").splitlines()[-1] == f"{note} top budget has enough observations"


def test_best_first_ranks_pruned_trials_by_how_far_they_got_then_by_value(tmp_path: Path) -> None:
    db = tmp_path / "pruned.db"
    curves = {
        "a": [1.0, 1.0, 1.0],
        "b": [2.0, 2.0, 2.0],
        "c": [3.0, 3.0, 3.0],  # above the median at step 1
        "d": [1.8, 5.0, 5.0],  # goes on at step 1, above the median at step 2
        "e": [4.0, 4.0, 4.0],
        "f": [0.5, 0.5, 0.5],
    }
    pruner = hp.pruners.Median(n_startup_trials=2)

    @hp.tune(
        {"curve": list(curves)},
        method=hp.methods.Random(pruner=pruner),
        study="pruned",
        db=db,
        budget=hp.Budget(1, 3, name="epochs"),
    )
    def train(curve: str, trial: hp.Trial) -> float:
        for epoch, loss in enumerate(curves[curve], start=1):
            trial.report(loss, step=epoch)
        return curves[curve][-1]

    for name in curves:
        train.study.enqueue({"curve": name})
    train.optimize(n_trials=len(curves))
    states = {t.params["curve"]: t.state.value for t in hp.load_study("pruned", db=db).trials}
    assert [name for name, state in states.items() if state == "pruned"] == ["c", "d", "e"]
    rows = json.loads(show(db, "pruned", "--sort", "best", "--format", "json"))
    assert [row["curve"] for row in rows] == ["f", "a", "b", "d", "c", "e"]
    pruned = json.loads(show(db, "pruned", "--state", "pruned", "--top", "2", "--format", "json"))
    assert [row["curve"] for row in pruned] == ["d", "c"]


def test_parameters_named_like_trial_columns_do_not_hide_them(tmp_path: Path) -> None:
    """A parameter called ``state``, ``value`` or ``rung`` gets a ``param_`` column; the
    trial's own state, objective and rung stay where they are, in every format."""
    db = tmp_path / "h.db"

    @hp.tune({"value": hp.Float(0.0, 1.0), "state": ["a", "b"]}, study="s", db=db, seed=0)
    def train(value: float, state: str) -> float:
        return 10.0 + value

    study = train.optimize(n_trials=3)
    rows = json.loads(show(db, "s", "--format", "json"))
    for row, trial in zip(rows, study.trials, strict=True):
        assert row["state"] == "complete" and row["value"] == trial.value
        assert row["param_value"] == trial.params["value"]
        assert row["param_state"] == trial.params["state"]
    header = next(csv.reader(io.StringIO(show(db, "s", "--format", "csv"))))
    assert {"state", "value", "param_state", "param_value"} <= set(header)
    table = show(db, "s")
    assert "param_value" in table and "complete" in table


def test_trial_options_without_a_study_are_refused(db: Path) -> None:
    """`show --top 1` listed every study, the option silently ignored."""
    result = CliRunner().invoke(cli, ["--db", str(db), "show", "--top", "1", "--sort", "best"])
    assert result.exit_code == 2
    assert "--top, --sort choose the trials of one study: give its name" in result.output


def test_a_parameter_named_like_anothers_column_keeps_its_own(tmp_path: Path) -> None:
    """``value`` and ``param_value``: both showed as one ``param_value`` column, and the
    values of ``value`` were lost."""
    db = tmp_path / "h.db"

    @hp.tune({"value": hp.Float(0.0, 1.0), "param_value": ["A"]}, study="s", db=db, seed=0)
    def train(value: float, param_value: str) -> float:
        return value

    study = train.optimize(n_trials=2)
    rows = json.loads(show(db, "s", "--format", "json"))
    assert [(r["param_param_value"], r["param_value"]) for r in rows] == [
        (t.params["value"], "A") for t in study.trials
    ]


def test_a_running_trial_whose_worker_is_gone_gets_a_note_and_stays_as_it_is(
    db: Path,
) -> None:
    """A worker killed mid-trial leaves its trial 'running' until the study runs again;
    the table says so (and why), without marking anything itself."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid names no live process now
    close_stores()
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "UPDATE trials SET state = 'running', finished = NULL, value = NULL, pid = ?, "
            "host = ?, heartbeat = ? WHERE number = 1 AND study_id = "
            "(SELECT id FROM studies WHERE name = 'alpha')",
            (dead.pid, hostname(), 0.0),
        )
    lines = show(db, "alpha").splitlines()
    assert "1 trial (1) still read running, but the worker is gone" in " ".join(lines[-2:])
    result = CliRunner().invoke(cli, ["--db", str(db), "trial", "alpha", "1"])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("Trial 1 of study 'alpha': running (worker lost: process"), first
    overview = show(db)  # the list of studies says it too
    assert "1 running (1 with the worker gone)" in overview
    alpha = next(r for r in json.loads(show(db, "--format", "json")) if r["study"] == "alpha")
    assert (alpha["running"], alpha["running_worker_gone"]) == (1, 1)
    assert hp.load_study("alpha", db=db).trial(1).state is TrialState.RUNNING


def test_the_seed_heads_a_studys_trials_given_or_drawn(db: Path) -> None:
    """A seeded search repeats (docs/resuming.md), so the seed is above the trials: the
    one given to @hp.tune, or the one drawn when the study was created (beta gave none),
    which seed= then repeats. The rows of JSON and CSV stay rows."""
    assert show(db, "alpha").splitlines()[0] == "seed: 0"
    drawn = hp.load_study("beta", db=db).seed
    assert show(db, "beta").splitlines()[0] == f"seed: {drawn}"
    assert [row["number"] for row in json.loads(show(db, "beta", "--format", "json"))] == [0, 1]
    assert show(db, "beta", "--format", "csv").startswith("number,")


def test_the_method_line_is_about_its_latest_new_configuration(db: Path) -> None:
    """Hyperband's notes say where new configurations come from; a promotion's note
    under the table read as if a promotion were the method's state."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="hyperband", study="h", db=db, seed=0,
             budget=hp.Budget(1, 9))  # fmt: skip
    def f(x: float, trial: hp.Trial) -> float:
        for step in trial.steps:
            trial.report(x + 1 / step, step=step)
        return x

    n = 10
    while f.optimize(n_trials=n).trials[-1].origin != "promoted":  # ends with a promotion
        n += 1
    assert show(db, "h").splitlines()[-1] == "method: hyperband: uniform at random"


def test_a_directory_as_database_is_blamed_on_where_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HPOTRACK_DB naming a folder is the variable's fault, not ``--db``'s."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    by_variable = CliRunner().invoke(cli, ["show"], env={"HPOTRACK_DB": "adir"})
    by_option = CliRunner().invoke(cli, ["--db", "adir", "show"], env={"HPOTRACK_DB": None})
    for result, name in ((by_variable, "HPOTRACK_DB"), (by_option, "--db")):
        assert result.exit_code != 0 and result.output.count("\n") == 1, result.output
        assert result.output == (
            f"Error: {name} names a directory, adir: it must name a database file, "
            f"e.g. {Path('adir') / 'hpotrack.db'}\n"
        )


def test_an_empty_or_non_file_database_path_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--db ''`` said "--db names a directory, : ..." (Path("") is the current folder);
    ``--db /dev/null`` blamed a copy taken without its -wal file; ./hpotrack.db a folder
    was handed to SQLite."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hpotrack.db").mkdir()
    cases = [
        (["--db", "", "show"], {}, "--db is empty: it must name a database file, e.g."),
        (["--db", " ", "show"], {}, "--db is empty: it must name a database file"),
        (["show"], {"HPOTRACK_DB": " "}, "HPOTRACK_DB is empty: it must name a database file"),
        (["show"], {}, "a folder, not a file, at hpotrack.db: pass --db PATH (or set"),
    ]
    if Path("/dev/null").exists():
        cases.append((["--db", "/dev/null", "show"], {}, "a device or pipe, not a file, at"))
    for args, env, message in cases:
        result = CliRunner().invoke(cli, args, env={"HPOTRACK_DB": None, **env})
        assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
        assert result.output.startswith(f"Error: {message}"), result.output


def test_an_sqlalchemy_url_as_database_is_one_line_naming_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--db sqlite:///x.db`` (Optuna's storage= habit) said "the folder sqlite: does
    not exist"; the fix is named in the words of where the URL came from."""
    monkeypatch.chdir(tmp_path)
    by_option = CliRunner().invoke(
        cli, ["--db", "sqlite:///x.db", "show"], env={"HPOTRACK_DB": None}
    )
    by_variable = CliRunner().invoke(cli, ["show"], env={"HPOTRACK_DB": "sqlite:////abs/x.db"})
    assert by_option.exit_code == by_variable.exit_code == 2
    assert by_option.output == (
        "Error: --db sqlite:///x.db is a URL, but --db is a file path, not a URL: use --db x.db\n"
    )
    assert by_variable.output == (
        "Error: HPOTRACK_DB=sqlite:////abs/x.db is a URL, but HPOTRACK_DB is a file path, "
        "not a URL: use HPOTRACK_DB=/abs/x.db\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_top_and_the_list_of_studies_read_no_trial_into_a_history(
    mf: Path, refuse_full_reads: Callable[[], None]
) -> None:
    """``show --top N`` (when N complete trials have a value) and the list of studies
    show the same as before from a few queries, without reading every trial into a
    study's history (DESIGN principle 3)."""
    commands = [
        [],
        ["--format", "json"],
        ["alpha", "--top", "3"],
        ["alpha", "--top", "2", "--sort", "number", "--format", "json"],
        ["alpha", "--top", "2", "--state", "complete", "--state", "failed"],
        ["mf", "--top", "1"],
    ]
    expected = [show(mf, *args) for args in commands]
    close_stores()
    refuse_full_reads()
    assert [show(mf, *args) for args in commands] == expected


def test_state_reads_only_the_trials_in_those_states(
    mf: Path, refuse_full_reads: Callable[[], None]
) -> None:
    """``show STUDY --state S`` (without --top, or with one that complete trials cannot
    fill) shows the same from a query of the trials in those states, without reading
    every trial of the study (20,000 of them to list the 400 failed ones)."""
    commands = [
        ["alpha", "--state", "failed"],
        ["alpha", "--state", "complete", "--state", "failed", "--format", "csv"],
        ["alpha", "--state", "complete", "--sort", "best", "--format", "json"],
        ["alpha", "--state", "running"],
        ["mf", "--state", "pruned", "--top", "2"],
        ["mf", "--state", "pruned", "--state", "complete"],
    ]
    expected = [show(mf, *args) for args in commands]
    assert [line.split()[:2] for line in expected[0].splitlines()[3:4]] == [["2", "failed"]]
    close_stores()
    refuse_full_reads()
    assert [show(mf, *args) for args in commands] == expected


def test_top_reads_every_trial_when_complete_ones_are_too_few(db: Path) -> None:
    """alpha has 5 complete trials: --top 9 needs the others (none has a value here but
    the failed one), --state pruned has no complete trial to take."""
    top = json.loads(show(db, "alpha", "--top", "9", "--state", "complete", "--format", "json"))
    assert [row["value"] for row in top] == [0.5, 1.0, 2.0, 3.0, 4.0]
    assert "nothing to show" in show(db, "alpha", "--top", "2", "--state", "failed")


def test_the_study_list_names_a_method_the_users_code_registers_as_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One study of a method `hpotrack` has not imported made `hpotrack show` fail with
    "unknown method" for every study of the file."""
    import dataclasses

    from hpotrack.methods import registry

    db = tmp_path / "h.db"

    @registry.register
    @dataclasses.dataclass(frozen=True)
    class Mine(hp.methods.Random):
        name = "test-mine-show"

    for name, method in (("custom", Mine()), ("plain", hp.methods.Random())):

        @hp.tune({"x": hp.Float(0.0, 1.0)}, method=method, study=name, db=db, seed=0)
        def train(x: float) -> float:
            return x

        train.optimize(n_trials=2)
    monkeypatch.delitem(registry._REGISTRY, "test-mine-show")  # as in a new `hpotrack`
    rows = {row["study"]: row for row in json.loads(show(db, "--format", "json"))}
    assert (rows["custom"]["method"], rows["plain"]["method"]) == ("test-mine-show", "random")
    assert rows["custom"]["complete"] == 2
    assert len(below_seed(db, "custom")) == 4  # its trials: header, rule, 2 rows


def test_reading_studies_imports_no_method_nor_heavy_library(mf: Path, tmp_path: Path) -> None:
    """Every command paid for all twelve methods' modules before it did anything, and
    the study list rebuilt each study's method (its pruner is part of the name): "auto",
    the default, imports all the others. What only reads a study needs none of them."""
    commands = [
        ["show"],
        ["show", "alpha"],
        ["show", "mf", "--top", "3"],
        ["best", "alpha"],
        ["trial", "mf", "1"],
        ["lineage", "mf"],
        ["export", "mf", "-o", str(tmp_path / "mf.json")],
        ["delete", "beta", "--yes"],
    ]
    code = (
        "import sys\nfrom hpotrack.cli import cli\n"
        f"for args in {commands!r}:\n"
        "    cli.main(['--db', sys.argv[1], *args], standalone_mode=False)\n"
    )
    assert imported_by(code, str(mf)) == READ_ONLY_METHODS
    assert "beta" not in show(mf)  # the commands ran


def test_a_study_of_queued_trials_only_was_last_active_when_created(tmp_path: Path) -> None:
    """Enqueued trials carry no time: such a study was listed as last active at
    1970-01-01 00:00 (time 0), not when it was created."""
    db = tmp_path / "h.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="queued", db=db)
    def f(x: float) -> float:
        return x

    f.study.enqueue({"x": 0.5})
    (row,) = json.loads(show(db, "--format", "json"))
    assert row["queued"] == 1 and not row["last_activity"].startswith("1970")
    assert "1970" not in show(db)


def test_a_study_of_two_objectives_shows_each_and_marks_its_front(db: Path) -> None:
    """A column per objective instead of value, the front marked (JSON: true/false),
    --top the front first, and the list of studies its directions and front size."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="mo", db=db, seed=0,
             objective=("error", "x"), direction=("minimize", "maximize"))  # fmt: skip
    def train(x: float) -> dict[str, float]:
        return {"error": (x - 0.5) ** 2, "x": x}  # near 0.5, or large: a trade-off

    study = train.optimize(n_trials=12, progress=False)
    values = [study.values(t) for t in study.trials]
    front = [  # no other trial at most as far from 0.5 with a larger x, or nearer as large
        i for i, (e, x) in enumerate(values)
        if not any(f <= e and y >= x and (f, y) != (e, x) for f, y in values)
    ]  # fmt: skip
    assert [t.number for t in study.best_trials] == front
    table = show(db, "mo")
    assert "objectives: error (minimize), x (maximize); * marks the Pareto front" in table
    header = next(line for line in table.splitlines() if line.lstrip().startswith("number"))
    assert header.split()[:5] == ["number", "state", "error", "x", "front"]  # x: param_x
    rows = json.loads(show(db, "mo", "--format", "json"))
    assert [r["number"] for r in rows if r["front"]] == front
    assert all(r["x"] == r["param_x"] for r in rows)
    top = json.loads(show(db, "mo", "--top", "3", "--format", "json"))
    assert all(r["front"] for r in top[: min(3, len(front))])
    listing = show(db)
    assert "min,max" in listing and f"front of {len(front)}" in listing
    (row,) = [r for r in json.loads(show(db, "--format", "json")) if r["study"] == "mo"]
    assert (row["direction"], row["best"], row["front"]) == ("minimize, maximize", None, len(front))

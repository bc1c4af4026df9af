"""Bad input on the command line (issue 5): random arguments to ``enqueue``, ``show``,
``trial``, ``export`` and the other commands never print a traceback, exit 0 or 2 (1 only
for an aborted delete) and never change a study's trials; odd study, parameter, option and
metric names work with every command and leave the database intact.

Cases marked ``xfail(strict=True, reason="BUG: ...")`` describe the correct behaviour of a
known bug.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hpotrack as hp
from hpotrack.cli import cli
from hpotrack.errors import SpaceError
from hpotrack.records import TrialState
from hpotrack.store import close_stores, open_store
from tests.odd_names import PARAM_NAMES

# The study every property runs against shares one database per test (not per example):
# that is the point, since no example may change what the others see.
few = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

SPACE = {
    "lr": hp.Float(1e-4, 1e-1, log=True),
    "n": hp.Int(1, 9, step=2),
    "opt": hp.Choice(["adam", "sgd", None, 1, True, 2.5, "1"]),
}
GOOD = {
    "lr": ["1e-3", "0.1", "0.0001", "1E-2", " 0.05 "],
    "n": ["1", "3", "9.0", "5", "+7"],
    "opt": ["adam", "null", "None", "1", "true", "True", "2.5", '"1"', "sgd", "1.0"],
}
TOKENS = [
    *(f"{name}=" for name in SPACE),
    *(f"{name}={text}" for name, texts in GOOD.items() for text in texts),
    *("lr=nan", "lr=inf", "lr=-1e400", "n=1e400", "n=2", "n=" + "9" * 5000, "opt=Adam"),
    *("lr=1=2", "=", "=0.1", "LR=0.1", "trial=0", "opt=[1]", 'opt={"a": 1}', "opt=NaN"),
    *("--help", "-h", "--format", "json", "jsonl", "csv", "table", "--top", "--state"),
    *("--sort", "--all", "best", "number", "failed", "--", "-", "-1", "0", "3", "99"),
    *("1e400", "nan", "mlp", "MLP", "mlp ", "%", "_", "'; DROP TABLE trials; --", "é"),
]


def argv_safe(text: str) -> str:
    """A command-line argument can hold any character but NUL (argv is C strings)."""
    return text.replace("\x00", "")


argv_text = st.text(max_size=20).map(argv_safe)
arg = st.one_of(
    argv_text,
    st.sampled_from(TOKENS),
    st.builds(lambda token, text: token + text, st.sampled_from(TOKENS), argv_text),
)
args = st.lists(arg, max_size=5)


def writes_files(text: str) -> bool:
    """``export -o``/``--output`` writes a file (anywhere, from random text): left out."""
    return text.startswith(("-o", "--o"))


def deletes(text: str) -> bool:
    """``delete --yes``/``-y`` (or a short cluster holding y) deletes for real: left out."""
    return text.startswith("--y") or (
        text.startswith("-") and not text.startswith("--") and "y" in text
    )


@pytest.fixture
def mlp(db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Study "mlp": three complete trials with curves, one failed, one queued; the working
    directory is a temporary one (``import`` reads relative paths)."""
    monkeypatch.chdir(tmp_path)

    @hp.tune(SPACE, study="mlp", db=db, seed=0, objective="loss", max_failures=10)
    def train(lr: float, n: int, opt: Any, trial: hp.Trial) -> dict[str, float]:
        for step in range(3):
            trial.report(lr / (step + 1), step=step)
        if trial.number == 1:
            return {"loss": math.nan, "acc": 0.5}  # failed, with a one-line error
        return {"loss": lr * n, "acc": 0.5}

    train.optimize(n_trials=4)
    hp.load_study("mlp", db=db).enqueue({"lr": 0.01, "n": 3, "opt": "1"})
    assert [t.state for t in hp.load_study("mlp", db=db).trials] == [
        TrialState.COMPLETE,
        TrialState.FAILED,
        TrialState.COMPLETE,
        TrialState.COMPLETE,
        TrialState.QUEUED,
    ]
    return db


def invoke(db: Path, *argv: str, input: str | None = None) -> Result:
    """Run ``hpotrack --db DB ARGV...``: never a traceback, never an exception but an exit."""
    result = CliRunner().invoke(cli, ["--db", str(db), *argv], input=input)
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), f"{type(exc).__name__}: {exc}"
    # a traceback's first line: the word alone may be an argument echoed in an error
    assert "Traceback (most recent call last)" not in result.output, result.output
    return result


def records(db: Path, study: str = "mlp") -> list[dict[str, Any]]:
    return hp.load_study(study, db=db).records()


def is_user_error(result: Result) -> bool:
    """Exit code 2 with click's or hpotrack's one "Error:" line."""
    return result.exit_code == 2 and "Error:" in result.output


# --- random arguments ---------------------------------------------------------------------------


@st.composite
def enqueue_args(draw: st.DrawFn) -> list[str]:
    """Mostly full assignments (some valid), shuffled, sometimes with junk mixed in."""
    texts = {name: draw(st.one_of(st.sampled_from(texts), arg)) for name, texts in GOOD.items()}
    chosen = [f"{name}={text}" for name, text in texts.items() if draw(st.integers(0, 9))]
    chosen += draw(st.lists(arg, max_size=2 if draw(st.booleans()) else 0))
    return draw(st.permutations(chosen))


@few
@given(st.one_of(enqueue_args(), args))
def test_enqueue_with_random_arguments(mlp: Path, argv: list[str]) -> None:
    before = records(mlp)
    result = invoke(mlp, "enqueue", "mlp", *argv)
    after = records(mlp)
    assert after[: len(before)] == before
    added = after[len(before) :]
    if result.exit_code != 0:
        assert is_user_error(result), result.output
        assert added == []
        return
    assert len(added) <= 1  # --help enqueues nothing
    if added:
        (new,) = added
        assert result.output.startswith(f"enqueued trial {new['number']} in study 'mlp'")
        assert new["state"] == "queued" and new["origin"] == "enqueued"
        assert hp.load_study("mlp", db=mlp).space.validate(new["params"]) == new["params"]


def test_enqueue_with_random_arguments_can_succeed(mlp: Path) -> None:
    """The property above reaches its success branch: these are all valid."""
    before = len(records(mlp))
    for lr, n, opt in zip(GOOD["lr"], GOOD["n"], GOOD["opt"], strict=False):
        assert invoke(mlp, "enqueue", "mlp", f"opt={opt}", f"lr={lr}", f"n={n}").exit_code == 0
    assert len(records(mlp)) == before + len(GOOD["lr"])


@few
@given(args)
def test_show_with_random_arguments(mlp: Path, argv: list[str]) -> None:
    before = records(mlp)
    result = invoke(mlp, "show", *argv)
    assert result.exit_code == 0 or is_user_error(result), result.output
    assert records(mlp) == before


@few
@given(st.one_of(st.just("mlp"), arg), st.lists(st.one_of(arg, st.integers(-3, 9).map(str))))
def test_trial_with_random_arguments(mlp: Path, study: str, argv: list[str]) -> None:
    before = records(mlp)
    result = invoke(mlp, "trial", study, *argv)
    assert result.exit_code == 0 or is_user_error(result), result.output
    assert records(mlp) == before


@few
@given(st.one_of(arg, st.sampled_from(["json", "jsonl", "csv", "JSON", "table", "", " json"])))
def test_export_with_a_random_format(mlp: Path, fmt: str) -> None:
    before = records(mlp)
    result = invoke(mlp, "export", "mlp", "--format", fmt)
    if fmt in ("json", "jsonl", "csv"):
        assert result.exit_code == 0 and result.output, result.output
    else:
        assert is_user_error(result), result.output
        assert "Invalid value for '--format'" in result.output
    assert records(mlp) == before


COMMANDS = ["show", "trial", "best", "lineage", "export", "enqueue", "import", "delete", "nope"]


@few
@given(st.one_of(st.sampled_from(COMMANDS), argv_text), st.one_of(st.just("mlp"), arg), args)
def test_any_command_with_random_arguments(
    mlp: Path, command: str, study: str, argv: list[str]
) -> None:
    """Delete is answered "n": it may only abort (exit 1), never delete."""
    argv = [a for a in (study, *argv) if not writes_files(a) and not deletes(a)]
    before = records(mlp)
    result = invoke(mlp, command, *argv, input="n\n")
    aborted = command == "delete" and result.exit_code == 1 and "aborted" in result.output
    assert result.exit_code == 0 or is_user_error(result) or aborted, result.output
    after = records(mlp)
    if command == "enqueue" and result.exit_code == 0:
        assert len(after) - len(before) <= 1
        after = after[: len(before)]
    assert after == before


NOT_UTF8 = "\udcff"  # how Python decodes the byte 0xff of an argument (surrogateescape)


@pytest.mark.parametrize(
    "argv",
    [
        ["show", NOT_UTF8],
        ["trial", NOT_UTF8, "0"],
        ["best", NOT_UTF8],
        ["lineage", NOT_UTF8],
        ["export", NOT_UTF8],
        ["enqueue", NOT_UTF8, "lr=0.01"],
        ["delete", NOT_UTF8, "--yes"],
    ],
    ids=lambda argv: argv[0],
)
def test_a_study_name_that_is_not_utf8_is_a_user_error(mlp: Path, argv: list[str]) -> None:
    result = invoke(mlp, *argv)
    assert is_user_error(result) and "no study named" in result.output


def test_a_deeply_nested_choice_value_is_a_user_error(mlp: Path) -> None:
    before = records(mlp)
    result = invoke(mlp, "enqueue", "mlp", "lr=0.01", "n=3", "opt=" + "[" * 100_000)
    assert is_user_error(result) and "is not one of the options" in result.output
    assert records(mlp) == before


def unknown_option(name: str, *close: str) -> str:
    """click's words for an unknown option, passed on in the one line: "No such option
    '--tpo'. Did you mean '--top'?" since click 8.4, "No such option: --tpo Did you mean
    --top?" in the click 8.3 that the oldest sqlite-utils 4 allows."""
    return click.NoSuchOption(name, possibilities=close).format_message().rstrip(".")


def test_user_errors_are_one_line_and_leave_the_study_alone(mlp: Path) -> None:
    before = records(mlp)
    for argv, message in [
        (["enqueue", "mlp", "lr=nan", "n=3", "opt=adam"], "`lr` must be finite, but got lr=nan"),
        (["enqueue", "mlp", "lr=0.01", "n=1e400", "opt=adam"], "`n` must be finite, but got n=inf"),
        (["enqueue", "mlp", "lr=0.01", "n=" + "9" * 5000, "opt=adam"], "but got n=inf"),
        (["enqueue", "mlp", "lr=0.01", "n=3", 'opt={"a": 1}'], "is not one of the options"),
        (["enqueue", "mlp", "lr=0.01", "n=3", "opt=adam", "lr=0.1"], "'lr' is given twice"),
        (["enqueue", "mlp", "lr=0.01", "n=3", "opt=Adam"], "did you mean opt=adam?"),
        (["enqueue", "mlp", "=0.1"], "given as NAME=VALUE, but got '=0.1'"),
        (["trial", "mlp", "--", "-1"], "has no trial -1"),
        (["trial", "mlp", "-1"], "'-1' is not a trial number: trials are numbered from 0"),
        (["lineage", "mlp", "-3"], "'-3' is not a trial number: trials are numbered from 0"),
        (["show", "-x"], "-- before it: cli show [OPTIONS] -- -x ... (see 'cli show --help')"),
        (["trial", "mlp", "99999999999999999999999"], "has no trial 99999999999999999999999"),
        (["trial", "mlp", "1e400"], "is not a valid integer"),
        (["show", "'; DROP TABLE trials; --"], "no study named"),
        (["show", "mlp", "--top", "0"], "'0' is not a whole number >= 1 (see 'cli show --help')"),
        (["show", "mlp", "--top", "x"], "'x' is not a whole number >= 1 (see 'cli show --help')"),
        (["show", "--tpo", "1"], unknown_option("--tpo", "--top") + " (see 'cli show --help')"),
        (["show", "mlp", "extra"], "unexpected extra argument (extra) (see 'cli show --help')"),
        (["resume", "mlp", "--jobs", "0"], "'0' is not a whole number >= 1"),
        (["resume", "mlp", "--timeout", "-1"], "'-1' is not a number > 0"),
        (["trial", "mlp"], "Missing argument 'NUMBER' (see 'cli trial --help')"),
        (["nope"], "No such command 'nope' (see 'cli --help')"),
        (["--nope", "show"], unknown_option("--nope") + " (see 'cli --help')"),
        (["show", "mlp", "--db"], "Option '--db' requires an argument"),
        (["best", "%"], "no study named '%'"),
    ]:
        result = invoke(mlp, *argv)
        assert is_user_error(result) and message in result.output, (argv, result.output)
        assert result.stderr.count("\n") == 1 and result.stdout == "", result.output
        assert "Usage:" not in result.stderr and "Try '" not in result.stderr
    assert records(mlp) == before


def test_db_may_come_after_the_command(mlp: Path, tmp_path: Path) -> None:
    """``hpotrack show mlp --db runs.db``, as Optuna's ``--storage`` is typed, reads that
    file (it was an error: "put --db PATH before the command"); a ``--db`` that is the
    value of a command's option, or after ``--``, is left to the command."""

    def run(*argv: str) -> Result:
        result = CliRunner().invoke(cli, list(argv))
        assert result.exception is None or isinstance(result.exception, SystemExit)
        return result

    def numbers(result: Result) -> list[int]:
        assert result.exit_code == 0, result.output
        return [trial["number"] for trial in json.loads(result.stdout)]

    assert numbers(run("show", "mlp", "--db", str(mlp), "--format", "json")) == [0, 1, 2, 3, 4]
    assert numbers(run("show", f"--db={mlp}", "mlp", "--format", "json")) == [0, 1, 2, 3, 4]
    missing = tmp_path / "missing.db"  # given twice, the last one counts, as click's options do
    assert numbers(run("--db", str(missing), "show", "mlp", "--db", str(mlp), "--format", "json"))
    assert run("show", "mlp", "--db", str(missing)).output.startswith(
        f"Error: no database at {missing}"
    )
    exported = run("export", "mlp", "--format", "json", "-o", "--db", "--db", str(mlp))
    assert exported.exit_code == 0, exported.output
    assert len(json.loads((tmp_path / "--db").read_text())["trials"]) == 5  # cwd: tmp_path
    named = run("--db", str(mlp), "show", "--", "--db")
    assert is_user_error(named) and "no study named '--db'" in named.output
    assert "--db FILE" in run("show", "--help").output
    assert not missing.exists() and records(mlp)[0]["number"] == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["import", "sqlite:///optuna.db"], "sqlite:///optuna.db is a URL, not a file name; "
         "the file it names is optuna.db"),
        (["import", "sqlite:////abs/optuna.db"], "the file it names is /abs/optuna.db"),
        (["export", "mlp", "-o", "sqlite:///out.json"], "the file it names is out.json"),
        (["import", "postgresql://user:secret@host/db"], "postgresql://... is a URL, not a "
         "file name (see"),
        (["plot", "mlp", "-o", "sqlite://"], "sqlite:// is a URL, not a file name (see"),
    ],
)  # fmt: skip
def test_a_url_for_a_file_names_the_file_it_names(mlp: Path, argv: list[str], message: str) -> None:
    """Optuna's storage URL, pasted where a file goes: `import sqlite:///optuna.db` said
    "no file at sqlite:/optuna.db". A password in another URL is never shown."""
    before = records(mlp)
    result = invoke(mlp, *argv)
    assert is_user_error(result) and message in result.stderr, result.output
    assert "secret" not in result.output and records(mlp) == before


@pytest.mark.parametrize(
    "argv",
    [["export", "mlp", "-o", ""], ["plot", "mlp", "-o", ""], ["import", ""], ["import", " "]],
)
def test_an_empty_file_name_is_a_user_error(mlp: Path, argv: list[str]) -> None:
    """`export -o ''` ended in a traceback (Path('') is the current folder, which has no
    name to write a temporary file beside); `import ''` said "cannot read .: Is a
    directory" and `plot -o ''` "cannot tell the image format of ."."""

    def files() -> set[Path]:  # those of the working directory, the database's aside
        return {p for p in Path.cwd().iterdir() if not p.name.startswith(mlp.name)}

    before, written = records(mlp), files()
    result = invoke(mlp, *argv)
    assert is_user_error(result) and "the file name is empty" in result.stderr, result.output
    assert result.stderr.count("\n") == 1 and result.stdout == "", result.output
    assert records(mlp) == before and files() == written


# --- odd names through every command ------------------------------------------------------------

STUDY_NAMES = [
    "é 中文 🎉",
    'it\'s "quoted"',
    "'; DROP TABLE trials; --",
    "100%_ back\\slash",
    " padded ",
    "n" * 1_000,
]
LONG = "p" * 1_000
OPTIONS = ["中文 🎉", "it's", 'say "hi"', "'; DROP TABLE trials; --", "%", "\\", "", "o" * 1_000]
METRIC = "'; DROP TABLE metrics; --"
TABLES = {"studies", "runs", "trials", "metrics", "lineage", "checkpoints", "meta"}


def named_study(db: Path, name: str) -> None:
    """Study ``name``: odd parameter names and options, odd metric names, odd error text."""
    space = {
        **{p: hp.Float(0.0, 1.0) for p in PARAM_NAMES},
        LONG: hp.Int(1, 3),
        "opt": hp.Choice(OPTIONS),
    }

    @hp.tune(space, study=name, db=db, seed=0, objective=METRIC, max_failures=10)
    def train(trial: hp.Trial, **params: Any) -> dict[str, Any]:
        trial.report(0.5, step=0)
        trial.report(0.25, step=1, name=PARAM_NAMES[0])
        if trial.number == 1:  # failed, with the odd names in its error
            return {METRIC: f"bad option {params['opt']} in {name}"}
        return {METRIC: params["é"], **{p: params["opt"] for p in PARAM_NAMES}}

    for option in OPTIONS:
        train.study.enqueue({**dict.fromkeys(PARAM_NAMES, 0.5), LONG: 2, "opt": option})
    train.optimize(n_trials=len(OPTIONS) + 1)


def assert_intact(db: Path) -> None:
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables >= TABLES


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("name", STUDY_NAMES, ids=lambda n: n[:20])
def test_every_command_works_with_odd_names(mlp: Path, tmp_path: Path, name: str) -> None:
    before = records(mlp)
    named_study(mlp, name)
    close_stores()
    study = hp.load_study(name, db=mlp)
    trials = study.trials
    params = [t.params for t in trials]
    assert [p["opt"] for p in params[: len(OPTIONS)]] == OPTIONS
    assert trials[1].state is TrialState.FAILED and trials[0].state is TrialState.COMPLETE

    listing = json.loads(ok(invoke(mlp, "show", "--format", "json")))
    assert sorted(row["study"] for row in listing) == sorted(["mlp", name])
    ok(invoke(mlp, "show"))
    ok(invoke(mlp, "show", name))
    rows = json.loads(ok(invoke(mlp, "show", name, "--format", "json")))
    assert [{p: row[p] for p in params[0]} for row in rows] == params
    table = list(csv.DictReader(io.StringIO(ok(invoke(mlp, "show", name, "--format", "csv")))))
    assert [row["opt"] for row in table[: len(OPTIONS)]] == OPTIONS

    shown = ok(invoke(mlp, "trial", name, "1"))
    assert shown.startswith(f"Trial 1 of study {name!r}: failed")
    why = repr(f"bad option {OPTIONS[1]} in {name}")
    assert why in shown
    failed = json.loads(ok(invoke(mlp, "trial", name, "1", "--format", "json")))
    assert failed["error"] == trials[1].error and why in failed["error"]
    one = json.loads(ok(invoke(mlp, "trial", name, "0", "--format", "json")))
    assert one["study"] == name and one["params"] == params[0]
    assert one["metrics"] == trials[0].metrics
    assert one["curve"] == {
        METRIC: [{"step": 0, "value": 0.5}],
        PARAM_NAMES[0]: [{"step": 1, "value": 0.25}],
    }
    best = json.loads(ok(invoke(mlp, "best", name, "--format", "json")))
    assert best == {
        "study": name,
        "number": study.best.number,
        "value": study.best.value,
        "params": study.best.params,
        "metrics": study.best.metrics,
    }
    ok(invoke(mlp, "best", name))
    ok(invoke(mlp, "lineage", name, "--all"))

    exported = ok(invoke(mlp, "export", name))
    ok(invoke(mlp, "export", name, "--format", "jsonl"))
    header = next(csv.reader(io.StringIO(ok(invoke(mlp, "export", name, "--format", "csv")))))
    assert {f"param_{p}" for p in [*PARAM_NAMES, LONG]} <= set(header)
    (tmp_path / "odd.json").write_text(exported, encoding="utf-8")
    copy = name + " (copy)"
    assert ok(invoke(mlp, "import", "odd.json", "--study", copy)).startswith(
        f"imported {len(trials)} trials into study {copy!r}"
    )
    again = json.loads(ok(invoke(mlp, "export", copy)))
    original = json.loads(exported)
    assert again["study"].pop("name") == copy and original["study"].pop("name") == name
    assert again == original

    values = [f"{p}=0.25" for p in PARAM_NAMES] + [f"{LONG}=3", f"opt={OPTIONS[3]}"]
    assert ok(invoke(mlp, "enqueue", name, *values)) == (
        f"enqueued trial {len(trials)} in study {name!r}\n"
    )
    queued = hp.load_study(name, db=mlp).trials[-1]
    assert queued.params == {**dict.fromkeys(PARAM_NAMES, 0.25), LONG: 3, "opt": OPTIONS[3]}

    assert ok(invoke(mlp, "delete", copy, "--yes")) == (
        f"deleted study {copy!r} ({len(trials)} trials)\n"
    )
    assert records(mlp) == before
    assert len(hp.load_study(name, db=mlp).trials) == len(trials) + 1
    assert_intact(mlp)


@pytest.mark.parametrize(
    ("victim", "bystander"),
    [("..", "keep"), (".", "keep"), ("a/b", "a_b"), ("x?", "x_")],
    ids=["dotdot", "dot", "slash", "question mark"],
)
def test_deleting_an_oddly_named_study_removes_only_its_own_files(
    db: Path, victim: str, bystander: str
) -> None:
    project = db.parent / "project"  # what a delete might destroy stays inside tmp_path
    project.mkdir()
    path = project / "h.db"
    for name in (bystander, victim):

        @hp.tune({"x": hp.Float(0.0, 1.0)}, study=name, db=path, seed=0)
        def train(x: float) -> float:
            return x

        train.optimize(n_trials=2)
    kept = open_store(path).checkpoint_dir(bystander)
    kept.mkdir(parents=True)
    (kept / "w.pt").write_bytes(b"weights")
    (project / "train.py").write_text("# the user's code\n")

    result = invoke(path, "delete", victim, "--yes")
    assert result.exit_code == 0, result.output
    assert (project / "train.py").exists() and path.exists()
    assert (kept / "w.pt").read_bytes() == b"weights"
    close_stores()
    assert len(hp.load_study(bystander, db=path).trials) == 2


def test_a_parameter_name_that_is_not_utf8_is_refused_when_defined(db: Path) -> None:
    """Names SQLite cannot store (lone surrogates from undecodable bytes) never get in."""
    with pytest.raises(SpaceError, match="valid Unicode"):
        hp.tune({"x" + NOT_UTF8: hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)

"""``hpotrack export`` and ``hpotrack import``, through click's runner and the installed
entry point: output, round trips, and one-line errors (exit code 2) for user mistakes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import hpotrack as hp
from hpotrack.cli import cli
from hpotrack.transfer import validate
from tests.test_transfer import (
    GRID,
    copied_studies,
    counts,
    export_now,
    export_text,
    export_while_running,
    make_studies,
    studies_made_once,
)
from tests.test_transfer_optuna import optuna_study


@pytest.fixture(scope="module")
def made_studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """:func:`make_studies` once for the module; each test gets a copy (:func:`source`)."""
    return studies_made_once(tmp_path_factory)


@pytest.fixture
def source(made_studies: Path, tmp_path: Path) -> Path:
    return copied_studies(made_studies, tmp_path / "source.db")


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def assert_user_error(result: Result, message: str) -> None:
    """Exit code 2, one line on stderr saying ``message``, no traceback."""
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error:") and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_export_to_stdout_in_each_format(source: Path, fmt: str) -> None:
    result = invoke("--db", source, "export", "mlp", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert result.stdout == export_text("mlp", source, fmt)


def test_export_defaults_to_json_and_reads_hpotrack_db(source: Path) -> None:
    result = invoke("export", "grid", env={"HPOTRACK_DB": str(source)})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["study"]["method"]["name"] == "grid"


def test_export_to_a_file_then_import_it_under_another_name(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "mlp.jsonl"
    result = invoke("--db", source, "export", "mlp", "--format", "jsonl", "-o", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"exported 7 trials of study 'mlp' to {out}\n"
    result = invoke("--db", source, "import", out, "--study", "mlp2")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"imported 7 trials into study 'mlp2' ({source})\n"
    assert hp.load_study("mlp2", db=source).trials == hp.load_study("mlp", db=source).trials


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_a_budget_study_round_trips_with_its_rungs_and_checks(
    source: Path, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"mf.{fmt}"
    assert invoke("--db", source, "export", "mf", "--format", fmt, "-o", out).exit_code == 0
    copy_db = tmp_path / "copy.db"
    result = invoke("--db", copy_db, "import", out)
    assert result.exit_code == 0, result.output
    before, after = hp.load_study("mf", db=source), hp.load_study("mf", db=copy_db)
    assert after.budget == before.budget == hp.Budget(1, 9, name="epochs")
    assert after.trials == before.trials and any(t.rung for t in after.trials)
    assert export_text("mf", copy_db, fmt) == out.read_text()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_file_name_sets_the_format_unless_format_says_otherwise(
    source: Path, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"results.{fmt}"
    assert invoke("--db", source, "export", "mlp", "-o", out).exit_code == 0
    assert out.read_text() == export_text("mlp", source, fmt)
    result = invoke("--db", source, "export", "mlp", "--format", "json", "-o", out)
    assert_user_error(result, f"--format json but {out} is named .{fmt}")


def test_import_reads_the_content_not_the_name_and_reads_stdin(
    source: Path, tmp_path: Path
) -> None:
    misnamed = tmp_path / "results.csv"
    misnamed.write_text(export_text("mlp", source, "json"))
    assert invoke("--db", tmp_path / "a.db", "import", misnamed).exit_code == 0
    piped = CliRunner().invoke(
        cli,
        ["--db", str(tmp_path / "b.db"), "import", "-"],
        input=export_text("mlp", source, "jsonl"),
    )
    assert piped.exit_code == 0, piped.output
    assert (
        hp.load_study("mlp", db=tmp_path / "b.db").trials == hp.load_study("mlp", db=source).trials
    )


def test_import_from_standard_input_that_is_not_utf8_names_standard_input(
    source: Path, tmp_path: Path
) -> None:
    """It was named "-" ("- is not an hpotrack export"), as no other message names it."""
    code = "from hpotrack.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "--db", str(tmp_path / "b.db"), "import", "-"],
        input=b"\xff" + export_text("mlp", source, "json").encode(),
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == b"Error: standard input is not an hpotrack export (not UTF-8 text)\n"


def test_csv_export_of_text_holding_bytes_that_were_not_utf8(tmp_path: Path) -> None:
    """A metric naming a Latin-1 file (a lone surrogate in Python) is stored; the CSV
    file export failed on it, as "names must be valid Unicode text". It is written
    escaped, the file UTF-8, as on standard output."""
    db = tmp_path / "h.db"
    name = os.fsdecode(b"caf\xe9.csv")

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="files", db=db, seed=0)
    def train(x: float) -> dict[str, Any]:
        return {"value": x, "data": name, name: 1}

    train.optimize(n_trials=1)
    result = invoke("--db", db, "export", "files", "-o", tmp_path / "out.csv")
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()
    assert "metric_caf\\udce9.csv" in lines[0].split(",")
    assert "caf\\udce9.csv" in lines[1].split(",")
    stdout = invoke("--db", db, "export", "files", "--format", "csv")
    assert stdout.exit_code == 0 and stdout.output.splitlines() == lines, stdout.output


def test_a_study_of_one_trial_is_one_trial_not_one_trials(tmp_path: Path) -> None:
    db, out = tmp_path / "one.db", tmp_path / "one.json"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="one", db=db, seed=0)
    def one(x: float) -> float:
        return x

    one.optimize(n_trials=1)
    result = invoke("--db", db, "export", "one", "-o", out)
    assert result.stdout == f"exported 1 trial of study 'one' to {out}\n", result.output
    result = invoke("--db", db, "import", out, "--study", "two")
    assert result.stdout == f"imported 1 trial into study 'two' ({db})\n", result.output


def test_import_counts_the_files_trials_and_says_which_run_again(tmp_path: Path) -> None:
    @hp.tune(GRID, method="grid", study="grid", db=tmp_path / "a.db", seed=1)
    def square(x: int, y: float, trial: hp.Trial) -> float:
        export_now(trial)
        return x * x + y

    out = tmp_path / "grid.json"
    out.write_text(json.dumps(export_while_running(tmp_path / "a.db", square, 3)))
    result = invoke("--db", tmp_path / "b.db", "import", out)
    assert result.stdout == (
        f"imported 4 trials into study 'grid' ({tmp_path / 'b.db'}); 1 trial running when "
        "exported queued again\n"
    ), result.output
    assert [t.state.value for t in hp.load_study("grid", db=tmp_path / "b.db").trials] == [
        "complete", "complete", "complete", "failed", "queued",
    ]  # fmt: skip


def test_import_checks_the_file_once(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It checked every trial before creating the database, then again in the import:
    more than a second of a file of long curves."""
    out = tmp_path / "mlp.json"
    assert invoke("--db", source, "export", "mlp", "-o", out).exit_code == 0
    checked, check = [0], validate._trial

    def counted(*args: Any) -> None:
        checked[0] += 1
        check(*args)

    monkeypatch.setattr(validate, "_trial", counted)
    result = invoke("--db", tmp_path / "copy.db", "import", out)
    assert result.exit_code == 0, result.output
    assert checked[0] == 7  # the file's trials
    assert export_text("mlp", tmp_path / "copy.db") == export_text("mlp", source)


def test_import_creates_a_new_database(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "grid.json"
    assert invoke("--db", source, "export", "grid", "-o", out).exit_code == 0
    fresh = tmp_path / "fresh.db"
    result = invoke("--db", fresh, "import", out)
    assert result.exit_code == 0, result.output
    assert export_text("grid", fresh) == out.read_text()


def test_commands_have_help() -> None:
    for command in ("export", "import"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.stdout
        assert len(result.stdout.split("\n\n")[1].strip()) > 20  # the docstring


def test_unknown_study_and_missing_database(source: Path, tmp_path: Path) -> None:
    assert_user_error(invoke("--db", source, "export", "nope"), "no study named 'nope'")
    assert_user_error(invoke("--db", tmp_path / "none.db", "export", "mlp"), "no database at")
    assert not (tmp_path / "none.db").exists()


def test_export_to_a_missing_folder(source: Path, tmp_path: Path) -> None:
    result = invoke("--db", source, "export", "mlp", "-o", tmp_path / "no" / "x.json")
    assert_user_error(result, "does not exist")


def test_export_or_import_under_a_file_says_it_is_no_folder(source: Path, tmp_path: Path) -> None:
    """A file where a folder should be (``-o results.csv/mlp.json``) was reported as a
    folder that "does not exist", though it is there."""
    notes = tmp_path / "notes.txt"
    notes.write_text("kept\n")
    result = invoke("--db", source, "export", "mlp", "-o", notes / "mlp.json")
    assert_user_error(result, f"the folder {notes} is a file, not a folder")
    exported = tmp_path / "mlp.json"
    assert invoke("--db", source, "export", "mlp", "-o", exported).exit_code == 0
    result = invoke("--db", notes / "h.db", "import", exported)
    assert_user_error(result, f"the folder {notes} is a file, not a folder")
    assert notes.read_text() == "kept\n"


def test_import_into_a_wrong_database_path_names_the_option(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The library's advice ("pass db=...", "e.g. db=...") in the command line's words."""
    exported = tmp_path / "mlp.json"
    assert invoke("--db", source, "export", "mlp", "-o", exported).exit_code == 0
    result = invoke("--db", f"{source}-wal", "import", exported)
    assert_user_error(result, f"belongs to the database {source} ")
    assert result.stderr.endswith(f"; pass --db {source}\n")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hpotrack.db").mkdir()
    result = invoke("import", exported, env={"HPOTRACK_DB": None})
    assert_user_error(result, "is a directory, not a database file")
    assert result.stderr.endswith(f"e.g. --db '{tmp_path / 'hpotrack.db' / 'hpotrack.db'}'\n")


def test_export_never_replaces_a_database(source: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    make_studies(other)
    before = counts(source), counts(other)
    for target, what in [
        (source, "is the database the study is in"),
        (Path(f"{source}-wal"), "is the database the study is in"),
        (other, "is an SQLite database"),
    ]:
        result = invoke("--db", source, "export", "mlp", "-o", target)
        assert_user_error(result, f"{target} {what}: an export would replace it")
        assert "-o mlp.json" in result.stderr
    assert (counts(source), counts(other)) == before
    assert other.read_bytes()[:15] == source.read_bytes()[:15] == b"SQLite format 3"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_import_errors_are_one_line_and_change_nothing(source: Path, tmp_path: Path) -> None:
    good = json.loads(export_text("mlp", source))
    outside = json.loads(export_text("mlp", source))
    outside["trials"][4]["params"]["act"] = "gelu"
    wrong_tag = {**good, "format": "something-else"}
    budget = {**good, "study": {**good["study"], "budget": {"type": "budget", "min": 0}}}
    cases = [
        (write(tmp_path / "mlp.json", json.dumps(good)), "study 'mlp' already exists"),
        (write(tmp_path / "mlp.csv", export_text("mlp", source, "csv")), "CSV exports cannot"),
        (write(tmp_path / "notes.txt", "hello\n"), "notes.txt is not an hpotrack export"),
        (write(tmp_path / "tag.json", json.dumps(wrong_tag)), "tag.json: not an hpotrack study"),
        (write(tmp_path / "out.json", json.dumps(outside)), "out.json: trial 4: params do not"),
        (write(tmp_path / "budget.json", json.dumps(budget)), "budget has no 'max'"),
        (tmp_path / "missing.json", "no file at"),
    ]
    before = counts(source)
    for path, message in cases:
        assert_user_error(invoke("--db", source, "import", path), message)
        assert counts(source) == before
    result = invoke("--db", tmp_path / "new.db", "import", tmp_path / "tag.json")
    assert_user_error(result, "not an hpotrack study export")
    assert not (tmp_path / "new.db").exists()  # a failed import creates no database


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_output_or_a_closed_input_is_one_line(source: Path, tmp_path: Path) -> None:
    """`export > /dev/full` and `import - <&-` ended in tracebacks."""
    exe = shutil.which("hpotrack")
    if exe is None:
        pytest.skip("the hpotrack entry point is not installed (pip install -e .)")
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [exe, "--db", str(source), "export", "mlp"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    assert (done.returncode, done.stderr) == (
        1,
        "Error: cannot write the output: No space left on device\n",
    )
    closed = subprocess.run(
        [exe, "--db", str(tmp_path / "new.db"), "import", "-"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: os.close(0),
    )
    assert closed.returncode == 2
    assert closed.stderr == "Error: standard input is closed: give the export's file name\n"


def test_a_closed_output_is_one_line(source: Path) -> None:
    """`export >&-` exited 0 having written nothing: Python makes a closed standard
    output None, and click drops what is echoed to None without a word."""
    exe = shutil.which("hpotrack")
    if exe is None:
        pytest.skip("the hpotrack entry point is not installed (pip install -e .)")
    for command in (["export", "mlp"], ["show"]):
        done = subprocess.run(
            [exe, "--db", str(source), *command],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            preexec_fn=lambda: os.close(1),
        )
        assert (done.returncode, done.stderr) == (
            1,
            "Error: cannot write the output: standard output is closed\n",
        )


def test_a_files_error_no_command_caught_is_not_told_as_the_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """main() told every OSError as "cannot write the output": another user's checkpoint
    folder read "Error: cannot write the output: Permission denied"."""
    import hpotrack.cli

    def denied(**kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", "/data/h.db.ckpt/s-0123456789ab")

    monkeypatch.setattr(hpotrack.cli, "cli", denied)
    with pytest.raises(SystemExit) as exited:
        hpotrack.cli.main()
    assert exited.value.code == 1
    assert capsys.readouterr().err == (
        "Error: cannot use /data/h.db.ckpt/s-0123456789ab: Permission denied\n"
    )


HPOTRACK = [sys.executable, "-c", "from hpotrack.cli import main; main()"]  # the entry point


def test_names_an_output_cannot_encode_are_written_escaped(source: Path, tmp_path: Path) -> None:
    """To an output whose encoding lacks a name's characters (a study "日本", a Latin-1
    terminal), a command failed on its last line after its work was done: import stored
    the study, then said "Error: names must be valid Unicode text" (run again: "already
    exists"); delete deleted it, then said the same."""
    out, db = tmp_path / "mlp.json", tmp_path / "copy.db"
    assert invoke("--db", source, "export", "mlp", "-o", out).exit_code == 0
    env = {**os.environ, "PYTHONIOENCODING": "latin-1"}

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        command = [*HPOTRACK, "--db", str(db), *args]
        return subprocess.run(command, capture_output=True, env=env, check=False)

    done = run("import", str(out), "--study", "日本")
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout == f"imported 7 trials into study '\\u65e5\\u672c' ({db})\n".encode()
    for command in ("show", "best 日本", "trial 日本 0", "delete 日本 --yes"):
        done = run(*command.split())
        assert (done.returncode, done.stderr) == (0, b""), (command, done.stderr)
        assert "\\u65e5\\u672c" in done.stdout.decode("latin-1"), (command, done.stdout)


def test_the_installed_command_exports_and_imports(source: Path, tmp_path: Path) -> None:
    exe = shutil.which("hpotrack")
    if exe is None:
        pytest.skip("the hpotrack entry point is not installed (pip install -e .)")
    out, copy_db = tmp_path / "mlp.json", tmp_path / "copy.db"
    done = subprocess.run(
        [exe, "--db", str(source), "export", "mlp", "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    env = {**os.environ, "HPOTRACK_DB": str(copy_db)}
    done = subprocess.run(
        [exe, "import", str(out)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("imported 7 trials into study 'mlp'")
    assert export_text("mlp", copy_db) == out.read_text()
    done = subprocess.run(
        [exe, "import", str(out)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("Error: study 'mlp' already exists")


def test_export_through_a_symlink_and_into_a_fifo_keeps_them(source: Path, tmp_path: Path) -> None:
    """-o follows a symlink (the file it names gets the export, the link stays) and
    writes into a FIFO in place (renaming over it would leave a plain file there, as it
    would over /dev/stdout); '-o -' is stdout."""
    target, link = tmp_path / "target.json", tmp_path / "link.json"
    target.write_text("old")
    link.symlink_to(target)
    assert invoke("--db", source, "export", "mlp", "-o", link).exit_code == 0
    assert link.is_symlink() and target.read_text() == export_text("mlp", source, "json")

    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    assert invoke("--db", source, "export", "mlp", "-o", fifo).exit_code == 0
    out, _ = reader.communicate(timeout=30)
    assert out == export_text("mlp", source, "json") and fifo.is_fifo()

    result = invoke("--db", source, "export", "mlp", "-o", "-")
    assert result.stdout == export_text("mlp", source, "json") and not Path("-").exists()


@pytest.mark.skipif(not Path("/dev/stdout").exists(), reason="needs /dev/stdout")
def test_export_to_dev_stdout_in_a_pipe_is_the_export_alone(source: Path) -> None:
    """`export mlp -o /dev/stdout | gzip` failed ("No such file or directory"), and once
    written, the "exported ..." line followed the export into the pipe."""
    code = "from hpotrack.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "--db", str(source), "export", "mlp", "-o", "/dev/stdout"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout == export_text("mlp", source, "json")


def test_export_to_a_name_of_no_format_asks_for_one(source: Path, tmp_path: Path) -> None:
    """`-o mlp.parquet` wrote JSON under that name without a word; now it asks for a
    format's name or --format, which writes it as asked."""
    target = tmp_path / "mlp.parquet"
    result = invoke("--db", source, "export", "mlp", "-o", target)
    assert_user_error(result, f"cannot tell the export format of {target}")
    assert "--format" in result.stderr and not target.exists()
    assert invoke("--db", source, "export", "mlp", "--format", "csv", "-o", target).exit_code == 0
    assert target.read_text() == export_text("mlp", source, "csv")
    plain = tmp_path / "mlp"
    assert invoke("--db", source, "export", "mlp", "-o", plain).exit_code == 0
    assert plain.read_text() == export_text("mlp", source, "json")


def test_import_reads_a_study_of_an_optuna_database(tmp_path: Path) -> None:
    """The installed entry point, as a user migrating from Optuna runs it."""
    optuna_study(tmp_path / "optuna.db", lambda t: t.suggest_float("x", 0, 1), 3, name="svm")
    exe = shutil.which("hpotrack")
    if exe is None:
        pytest.skip("the hpotrack entry point is not installed (pip install -e .)")
    db = tmp_path / "hpotrack.db"
    done = subprocess.run(
        [exe, "--db", str(db), "import", str(tmp_path / "optuna.db"), "--study", "svm-hp"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        f"imported 3 trials of Optuna study 'svm' into study 'svm-hp' ({db})\n\n"
    )
    assert [t.state for t in hp.load_study("svm-hp", db=db).trials] == ["complete"] * 3


@pytest.mark.parametrize("file", ["optuna.db", "journal.log"])
def test_import_from_chooses_the_optuna_study(tmp_path: Path, file: str) -> None:
    for name, count in (("a", 2), ("b", 4)):
        optuna_study(tmp_path / file, lambda t: t.suggest_int("k", 0, 9), count, name=name)
    db = tmp_path / "hpotrack.db"
    result = invoke("--db", db, "import", tmp_path / file, "--from", "b")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"imported 4 trials of Optuna study 'b' into study 'b' ({db})\n"
    )


def test_import_of_an_optuna_study_prints_the_code_that_continues_it(tmp_path: Path) -> None:
    """The space Optuna's distributions gave, and the decorator's options that differ from
    the defaults: pasted into a script, they reopen the study and go on with it."""

    def branches(trial: Any) -> float:
        kind = trial.suggest_categorical("kind", ["svm", "tree", None])
        if kind == "svm":
            return trial.suggest_float("C", 1e-3, 1e3, log=True)
        return trial.suggest_int("depth", 1, 8, step=1) + trial.suggest_float("f", 0, 1, step=0.25)

    ran = optuna_study(tmp_path / "optuna.db", branches, 12, direction="maximize")
    with warnings.catch_warnings(action="ignore"):  # experimental
        ran.set_metric_names(["accuracy"])
    result = invoke("--db", tmp_path / "hpotrack.db", "import", tmp_path / "optuna.db")
    assert result.exit_code == 0, result.output
    code = result.stdout.split("(method= may be any):\n\n", 1)[1]
    assert code.endswith("objective='accuracy')\n") and "direction='maximize'" in code
    namespace: dict[str, Any] = {"hp": hp}
    exec(code + "\ndef train(kind, C=None, depth=None, f=None):\n    return 0.5\n", namespace)
    study = namespace["train"].optimize(n_trials=14, progress=False)  # no StudyMismatchError
    assert [t.state for t in study.trials[12:]] == ["complete", "complete"]
    assert study.space == hp.load_study("study", db=tmp_path / "hpotrack.db").space


def test_import_errors_about_optuna_databases_are_one_line_and_store_nothing(
    source: Path, tmp_path: Path
) -> None:
    for name in ("a", "b"):
        optuna_study(tmp_path / "optuna.db", lambda t: t.suggest_int("k", 0, 9), 1, name=name)
    export = write(tmp_path / "mlp.json", export_text("mlp", source))
    (tmp_path / "cut.db").write_bytes((tmp_path / "optuna.db").read_bytes()[:3000])  # a copy cut
    cases = [
        (("optuna.db",), "is an Optuna database with 2 studies: 'a', 'b'; choose one with --from"),
        (("cut.db",), "cut.db is damaged (database disk image is malformed): restore it from"),
        (("optuna.db", "--from", "c"), "has no Optuna study 'c'; it has 'a', 'b'"),
        (("mlp.json", "--from", "a"), "--from (from_study=) chooses a study of an Optuna"),
        (("source.db",), "source.db is an SQLite database but not Optuna's"),
    ]
    for (file, *options), message in cases:
        result = invoke("--db", tmp_path / "new.db", "import", tmp_path / file, *options)
        assert_user_error(result, message)
        assert not (tmp_path / "new.db").exists()
    assert export.exists()


def test_import_of_a_name_too_long_for_the_system_is_one_line(tmp_path: Path) -> None:
    """Found by the random-arguments test: ``Path.is_file()`` raises ENAMETOOLONG (it
    is quiet about a missing file only), so the look for an Optuna file failed with a
    traceback before the reader could say why it cannot read the file."""
    name = "n=" + "9" * 5000
    result = invoke("--db", tmp_path / "h.db", "import", name)
    assert_user_error(result, "cannot read n=999")
    assert "File name too long" in result.stderr
    assert not (tmp_path / "h.db").exists()

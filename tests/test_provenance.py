"""Where a tuned function comes from: its study's default name and its recorded reference."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import types
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

import hpotrack as hp
from hpotrack.cli import cli
from hpotrack.provenance import (
    StoredArgv,
    default_study_name,
    function_reference,
    shown_argv,
    stored_argv,
)
from hpotrack.store import open_store


def test_a_class_of_a_module_without_a_file_is_recorded_without_a_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A class typed in a notebook or ``python -c``: inspect raises OSError, not TypeError,
    and it went up through optimize() as "source code not available"."""
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))  # no __file__
    model = type("Model", (), {"__module__": "__main__", "__init__": lambda self, x: None})
    assert function_reference(model) == {"module": "__main__", "qualname": "Model", "path": None}
    assert default_study_name(model) == "main.Model"


def test_a_callable_without_a_name_of_its_own_needs_a_study_name() -> None:
    class Model:
        def __call__(self, x: float) -> float:
            return x

    with pytest.raises(hp.errors.DefinitionError, match=r"an instance of .*Model has no name"):
        default_study_name(Model())


ARGUMENTS = textwrap.dedent(
    """
    import hpotrack as hp

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="argv", db="h.db", seed=0)
    def train(x):
        return x

    if __name__ == "__main__":
        train.optimize(n_trials=1)
    """
)


def test_a_runs_arguments_are_stored_exactly_and_shown_as_a_command_line(tmp_path: Path) -> None:
    """argv was stored joined by spaces, so "my run" read back as two arguments (and
    ``hpotrack resume`` could not give the script its arguments again); an argument that
    is not UTF-8 (a Latin-1 file name, say) failed optimize() with a UnicodeEncodeError."""
    (tmp_path / "job.py").write_text(ARGUMENTS)
    given = ["--name", "my run", "it's", "a\\b", "", "\udce9"]
    command = [os.fsencode(sys.executable), b"job.py", *map(os.fsencode, given)]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    store = open_store(tmp_path / "h.db")
    study = store.find_study("argv")
    assert study is not None
    assert stored_argv(store.first_run_argv(study.id)) == StoredArgv(["job.py", *given], True)
    shown = CliRunner().invoke(cli, ["--db", str(tmp_path / "h.db"), "trial", "argv", "0"])
    line = next(line for line in shown.output.splitlines() if line.lstrip().startswith("argv"))
    assert line.split(None, 1)[1] == "job.py --name 'my run' 'it'\"'\"'s' 'a\\b' '' '\\udce9'"


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ('["job.py", "--name", "my run"]', StoredArgv(["job.py", "--name", "my run"], True)),
        ("job.py --name my run", StoredArgv(["job.py", "--name", "my", "run"], False)),
        ("job.py it's a\\b  x", StoredArgv(["job.py", "it's", "a\\b", "", "x"], False)),
        ("[job.py] --n 3", StoredArgv(["[job.py]", "--n", "3"], False)),
        ('["job.py", 3]', StoredArgv(['["job.py",', "3]"], False)),
        ("", StoredArgv([""], False)),  # the interactive interpreter's argv, ['']
        (None, StoredArgv([], True)),  # an imported run without argv
    ],
)
def test_argv_stored_before_it_was_a_json_list_is_split_at_spaces(
    text: str | None, read: StoredArgv
) -> None:
    """Rows written before were the words joined by spaces: split at spaces, they come
    back exactly unless a word held a space (shlex would undo quotes and backslashes
    that were never shell syntax, or fail on an unbalanced quote)."""
    assert stored_argv(text) == read


RESUMED = {"argv": ["hpotrack", "resume", "s"], "script_argv": ["/p/job.py", "--n", "2"]}
KERNEL = ["/env/ipykernel_launcher.py", "-f", "/run/kernel-1.json"]
NOTEBOOK = {"argv": KERNEL, "ipython": {"notebook": "/home/me/t.ipynb"}}


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        (RESUMED, StoredArgv(["/p/job.py", "--n", "2"], True, ["hpotrack", "resume", "s"])),
        ({"argv": ["hpotrack"]}, None),  # not one this code wrote: as an old row
        ({"argv": ["hpotrack"], "script_argv": "job.py"}, None),
        ({"argv": None, "script_argv": ["job.py"]}, None),
        # a run from a notebook's cells: the kernel's argv, and what is known of the cells
        (NOTEBOOK, StoredArgv(KERNEL, True, ipython={"notebook": "/home/me/t.ipynb"})),
        ({"argv": KERNEL, "ipython": {}}, StoredArgv(KERNEL, True, ipython={})),
        ({"argv": KERNEL, "ipython": "t.ipynb"}, None),
        ({**RESUMED, "ipython": {}}, StoredArgv(RESUMED["script_argv"], True, RESUMED["argv"], {})),
    ],
)
def test_a_resumed_runs_argv_reads_back_as_the_scripts_with_the_command(
    stored: dict[str, object], read: StoredArgv | None
) -> None:
    """A run of ``hpotrack resume`` stores its command line and the script's sys.argv:
    the script's is what a later resume gives it again; an object of another shape
    is split at spaces as text stored before argv was JSON."""
    text = json.dumps(stored)
    assert stored_argv(text) == (read or StoredArgv(text.split(" "), False))


SCHEMA_V7 = Path(__file__).with_name("data") / "schema_v7.db"  # see data/make_schema_v7.py


def test_an_old_files_runs_keep_their_command_lines(tmp_path: Path) -> None:
    """A real file written before argv was a JSON list: its runs read as they were
    written, and ``hpotrack trial`` shows the command line as stored."""
    db = tmp_path / "old.db"
    shutil.copy(SCHEMA_V7, db)
    store = open_store(db)
    study = store.find_study("v7-hyperband")
    assert study is not None
    read = stored_argv(store.first_run_argv(study.id))
    assert read == StoredArgv(["make_schema_v7.py", "schema_v7.db"], False)
    shown = CliRunner().invoke(cli, ["--db", str(db), "trial", "v7-hyperband", "0"])
    assert shown.exit_code == 0, shown.output
    assert "  argv         make_schema_v7.py schema_v7.db\n" in shown.output


def test_provenance_text_that_would_break_its_line_is_quoted_and_escaped(tmp_path: Path) -> None:
    """An argument with a newline (``--note $'a\\nb'``) printed the command line across
    two lines, and a host with one (from an imported file) too: each field of a run is
    one line, quoted and escaped as JSON where it would break it."""
    db = tmp_path / "h.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float) -> float:
        return x

    train.optimize(n_trials=1)
    words = ["train.py", "--note", "a\nb", "tab\there", "\x1b[31m"]
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE runs SET host = ?, argv = ?", ("node\n7", json.dumps(words)))
    shown = CliRunner().invoke(cli, ["--db", str(db), "trial", "s", "0"])
    assert shown.exit_code == 0, shown.output
    section = shown.output.split("\nProvenance\n")[1].splitlines()
    labels = ("host", "pid", "python", "platform", "git commit", "source hash", "argv", "run")
    assert all(line.startswith(tuple(f"  {label} " for label in labels)) for line in section)
    fields = {line.split()[0]: line.split(None, 1)[1] for line in section}
    assert fields["argv"] == json.dumps(shlex.join(words), ensure_ascii=False)
    assert fields["host"] == '"node\\n7"'


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_a_shown_command_line_pasted_into_bash_gives_back_its_arguments() -> None:
    """Bash reads each word back as it was stored (a word that was not UTF-8 as its
    escape); words a terminal would not print are shown quoted as JSON instead (above)."""
    words = ["job.py", "it's", "a\\b", "日本", "", "my run", "\udce9"]
    line = shown_argv(json.dumps(words))
    assert line is not None and line.isprintable()
    script = f'set -- {line}; printf "%s\\0" "$@"'
    read = subprocess.run(["bash", "-c", script], capture_output=True, check=True).stdout
    assert read.split(b"\0")[:-1] == [w.encode("utf-8", "backslashreplace") for w in words]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_run_names_the_commit_checked_out_when_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook's process outlives its user's commits: the repository is read again
    for a run that starts later (kept for the process, every run named the first one's
    commit), with ``+dirty`` while a tracked file has changes."""
    from hpotrack import provenance

    for name in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{name}_NAME", "test")
        monkeypatch.setenv(f"GIT_{name}_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)  # no user config applies
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    git("init", "-q")
    (repo / "train.py").write_text("lr = 0.1\n")
    git("add", "train.py")
    git("commit", "-q", "-m", "first")
    first = git("rev-parse", "HEAD")
    monkeypatch.setattr(provenance, "GIT_STATE_TTL_S", 1e9)  # read once, then kept
    assert provenance.git_commit(str(repo)) == first
    (repo / "train.py").write_text("lr = 0.2\n")
    assert provenance.git_commit(str(repo)) == first  # runs started at once: git runs once
    monkeypatch.setattr(provenance, "GIT_STATE_TTL_S", 0.0)  # a run started later
    assert provenance.git_commit(str(repo)) == f"{first}+dirty"
    git("commit", "-q", "-am", "second")
    second = git("rev-parse", "HEAD")
    assert second != first and provenance.git_commit(str(repo)) == second
    assert provenance.git_commit(str(tmp_path)) is None  # not a repository

"""``hpotrack enqueue`` and ``hpotrack delete`` on real database files."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import hpotrack as hp
from hpotrack import checkpoints
from hpotrack.cli import cli
from hpotrack.records import Edge, TrialState
from hpotrack.store import close_stores, open_store
from tests.test_processes import ROOT

SPACE = {
    "lr": hp.Float(1e-4, 1e-1, log=True),
    "layers": hp.Int(1, 4),
    "bs": [32, 64],
    "opt": ["adam", "sgd", None],
    "shuffle": [True, False],
    "tag": ["1", 1, "True"],
}
GOOD = ["lr=1e-3", "layers=3", "bs=64", "opt=adam", "shuffle=true", "tag=1"]


def make_study(db: Path, study: str = "mlp", n_trials: int = 2) -> hp.TunedFunction:
    @hp.tune(SPACE, study=study, db=db, seed=0, objective="loss")
    def train(
        lr: float, layers: int, bs: int, opt: Any, shuffle: bool, tag: Any, trial: hp.Trial
    ) -> float:
        trial.report(lr, step=0)
        return lr * layers

    train.optimize(n_trials=n_trials)
    return train


def invoke(db: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db), *args], input=input)


def user_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Error:" in result.output and "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output


def count_trials(db: Path, study: str = "mlp") -> int:
    return len(hp.load_study(study, db=db).trials)


# -- enqueue -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (GOOD, {"lr": 1e-3, "layers": 3, "bs": 64, "opt": "adam", "shuffle": True, "tag": 1}),
        (
            ["lr=0.1", "layers=3.0", "bs=32", "opt=null", "shuffle=False", "tag=True"],
            {"lr": 0.1, "layers": 3, "bs": 32, "opt": None, "shuffle": False, "tag": "True"},
        ),
        (
            ['tag="1"', "shuffle=True", "opt=None", "bs=64.0", "layers=1", "lr=0.0001"],
            {"lr": 1e-4, "layers": 1, "bs": 64, "opt": None, "shuffle": True, "tag": "1"},
        ),
    ],
)
def test_enqueue_parses_values_by_the_space_types(
    db: Path, texts: list[str], expected: dict[str, Any]
) -> None:
    make_study(db)
    result = invoke(db, "enqueue", "mlp", *texts)
    assert result.exit_code == 0, result.output
    assert result.output == "enqueued trial 2 in study 'mlp'\n"
    trial = hp.load_study("mlp", db=db).trials[2]
    assert (trial.state, trial.origin) == (TrialState.QUEUED, "enqueued")
    assert trial.params == expected
    assert [type(v) for v in trial.params.values()] == [type(v) for v in expected.values()]


def test_an_enqueued_trial_runs_next(db: Path) -> None:
    train = make_study(db)
    assert invoke(db, "enqueue", "mlp", *GOOD).exit_code == 0
    train.optimize(n_trials=3)
    trial = hp.load_study("mlp", db=db).trials[2]
    assert (trial.state, trial.value) == (TrialState.COMPLETE, pytest.approx(3e-3))


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        ({"lr": "lrr=1e-3"}, ["unknown hyperparameter 'lrr'; did you mean 'lr'?"]),
        ({"lr": "lr:1e-3"}, ["hyperparameters are given as NAME=VALUE, but got 'lr:1e-3'"]),
        ({"lr": "=1e-3"}, ["hyperparameters are given as NAME=VALUE, but got '=1e-3'"]),
        ({"lr": "lrr=1e-3", "layers": "layer=2"}, ["'lrr'; did you mean 'lr'?", "'layers'?"]),
        ({"lr": "lr=fast"}, ["`lr` must be a real number, but got lr='fast' (str)"]),
        ({"lr": "lr=5"}, ["`0.0001 <= lr <= 0.1` must hold, but got lr=5.0"]),
        ({"lr": "lr=nan"}, ["`lr` must be finite, but got lr=nan"]),
        ({"layers": "layers=3.5"}, ["`layers` must be an integer, but got layers=3.5"]),
        ({"layers": "layers=two"}, ["`layers` must be a real number, but got layers='two'"]),
        ({"layers": "layers=1e400"}, ["`layers` must be finite, but got layers=inf"]),
        ({"layers": "layers=9"}, ["`1 <= layers <= 4` must hold, but got layers=9"]),
        ({"bs": "bs=48"}, ["bs='48' is not one of the options 32, 64"]),
        ({"opt": "opt=adamw"}, ['not one of the options "adam", "sgd", null', "opt=adam?"]),
        ({"shuffle": "shuffle=yes"}, ["shuffle='yes' is not one of the options", "true, false"]),
    ],
)
def test_enqueue_refuses_bad_input_and_stores_nothing(
    db: Path, change: dict[str, str | None], fragments: list[str]
) -> None:
    make_study(db)
    texts = [t for t in GOOD if t.split("=")[0] not in change]
    texts += [t for t in change.values() if t is not None]
    user_error(invoke(db, "enqueue", "mlp", *texts), *fragments)
    assert count_trials(db) == 2


def test_enqueue_refuses_a_name_given_twice(db: Path) -> None:
    make_study(db)
    user_error(
        invoke(db, "enqueue", "mlp", *GOOD, "bs=32"),
        "hyperparameter 'bs' is given twice (bs=64 and bs=32): give it once",
    )
    assert count_trials(db) == 2


def test_enqueue_draws_the_values_left_out_and_names_them(db: Path) -> None:
    make_study(db)
    result = invoke(db, "enqueue", "mlp", "bs=32", "lr=0.01")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "enqueued trial 2 in study 'mlp' (layers, opt, shuffle, tag drawn at random)\n"
    )
    assert invoke(db, "enqueue", "mlp").exit_code == 0
    first, second = hp.load_study("mlp", db=db).trials[2:]
    assert (first.params["bs"], first.params["lr"]) == (32, 0.01)
    assert first.origin == second.origin == "enqueued"
    assert list(first.params) == list(second.params) == list(SPACE)


def test_enqueue_skip_if_exists_names_the_trial_and_queues_nothing(db: Path) -> None:
    make_study(db)
    assert invoke(db, "enqueue", "mlp", *GOOD).exit_code == 0
    result = invoke(db, "enqueue", "mlp", "--skip-if-exists", "layers=3", "lr=0.001")
    assert result.exit_code == 0, result.output
    assert result.output == "study 'mlp' already has trial 2 with these values\n"
    assert count_trials(db) == 3
    assert invoke(db, "enqueue", "mlp", "--skip-if-exists", "layers=2").exit_code == 0
    assert count_trials(db) == 4


def test_enqueue_a_parameter_whose_name_has_an_equals_sign(tmp_path: Path) -> None:
    db = tmp_path / "h.db"

    @hp.tune({"a=b": hp.Float(0.0, 1.0), "a": [1, 2]}, study="eq", db=db, seed=0)
    def train(**params: Any) -> float:
        return 0.0

    train.study.enqueue({"a=b": 0.1, "a": 1})
    assert invoke(db, "enqueue", "eq", "a=b=0.5", "a=2").exit_code == 0
    assert invoke(db, "enqueue", "eq", "a=2").exit_code == 0  # the first "=" when it names one
    assert [t.params for t in hp.load_study("eq", db=db).trials][1:] == [
        {"a=b": 0.5, "a": 2},
        {"a=b": hp.load_study("eq", db=db).trials[2].params["a=b"], "a": 2},
    ]


def test_enqueue_into_an_unknown_study(db: Path) -> None:
    make_study(db)
    user_error(invoke(db, "enqueue", "mpl", *GOOD), "no study named 'mpl'", "'mlp'")


# -- delete --------------------------------------------------------------------------------


def rows_of(db: Path, study_id: int, trial_ids: list[int]) -> dict[str, int]:
    """How many rows of each table belong to the study."""
    marks = ",".join("?" * len(trial_ids))
    with closing(sqlite3.connect(db)) as conn:
        counts = {
            "studies": conn.execute("SELECT count(*) FROM studies WHERE id = ?", (study_id,)),
            **{
                table: conn.execute(f"SELECT count(*) FROM {table} WHERE study_id = ?", (study_id,))
                for table in ("trials", "runs", "lineage")
            },
            **{
                table: conn.execute(
                    f"SELECT count(*) FROM {table} WHERE trial_id IN ({marks})", trial_ids
                )
                for table in ("metrics", "checkpoints")
            },
        }
        return {table: cursor.fetchone()[0] for table, cursor in counts.items()}


@pytest.fixture
def two_studies(db: Path) -> tuple[int, list[int], Path]:
    """Studies "mlp" (3 trials, lineage, a checkpoint row and folder) and "keep"."""
    make_study(db, "keep")
    make_study(db)
    store = open_store(db)
    row = store.find_study("mlp")
    assert row is not None
    with store.write():
        store.insert_trial(
            row.id,
            number=2,
            state=TrialState.QUEUED,
            params={"lr": 0.01, "layers": 1, "bs": 32, "opt": None, "shuffle": True, "tag": 1},
            origin="mutated",
            parents=[Edge(0, "mutated")],
        )
    trial_ids = [
        r[0] for r in store.conn.execute("SELECT id FROM trials WHERE study_id = ?", (row.id,))
    ]
    folder = store.checkpoint_dir("mlp")
    folder.mkdir(parents=True)
    (folder / "trial-0.pt").write_bytes(b"weights")
    store.conn.execute(
        "INSERT INTO checkpoints (trial_id, step, path, bytes, hash, time) "
        "VALUES (?, 0, ?, 7, 'x', 0)",
        (trial_ids[0], str(folder / "trial-0.pt")),
    )
    store.checkpoint_dir("keep").mkdir()
    assert all(rows_of(db, row.id, trial_ids).values())
    return row.id, trial_ids, folder


def test_delete_answered_no_keeps_the_study(
    db: Path, two_studies: tuple[int, list[int], Path]
) -> None:
    study_id, trial_ids, folder = two_studies
    before = rows_of(db, study_id, trial_ids)
    result = invoke(db, "delete", "mlp", input="n\n")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"Delete study 'mlp' with 3 trials from {db}? [y/N]" in result.output
    assert result.output.rstrip().endswith("aborted")
    assert rows_of(db, study_id, trial_ids) == before and folder.exists()
    assert invoke(db, "delete", "mlp", input="").exit_code == 1  # end of input: no
    assert count_trials(db) == 3


def test_delete_with_standard_input_closed_keeps_the_study(db: Path) -> None:
    """`hpotrack delete mlp <&-` ended in a traceback (input(): lost sys.stdin)."""
    make_study(db)
    code = "from hpotrack.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "--db", str(db), "delete", "mlp"],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: os.close(0),
    )
    assert done.returncode == 1 and done.stderr.rstrip().endswith("aborted"), done.stderr
    assert "Traceback" not in done.stderr and count_trials(db) == 2


def test_delete_without_an_answer_names_yes(db: Path) -> None:
    """`hpotrack delete mlp < /dev/null` (a script, a cron job) said only "aborted", not
    how to delete without a terminal to answer on."""
    make_study(db)
    result = invoke(db, "delete", "mlp", input="")
    assert result.exit_code == 1 and result.stderr.rstrip().endswith("aborted")
    assert "no answer on standard input: pass --yes to delete without asking" in result.stderr
    assert count_trials(db) == 2


def test_delete_answered_with_bytes_that_are_not_text_keeps_the_study(db: Path) -> None:
    """An answer that is not text in the input's encoding (a Latin-1 byte, UTF-8
    strictly read) was said as "names must be valid Unicode text: 'utf-8' codec can't
    decode byte 0xff": the answer names nothing."""
    make_study(db)
    code = "from hpotrack.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "--db", str(db), "delete", "mlp"],
        input=b"\xff\n",
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        check=False,
    )
    said = "the answer on standard input is not utf-8 text: answer y or n, or pass --yes"
    assert done.returncode == 1 and said.encode() in done.stderr, done.stderr
    assert done.stderr.rstrip().endswith(b"aborted") and count_trials(db) == 2


@pytest.mark.parametrize("how", [["--yes"], ["-y"], "y\n"])
def test_delete_removes_every_row_and_the_checkpoints(
    db: Path, two_studies: tuple[int, list[int], Path], how: list[str] | str
) -> None:
    study_id, trial_ids, folder = two_studies
    if isinstance(how, str):
        result = invoke(db, "delete", "mlp", input=how)
    else:
        result = invoke(db, "delete", "mlp", *how)
    assert result.exit_code == 0, result.output
    assert result.output.endswith("deleted study 'mlp' (3 trials)\n")
    assert rows_of(db, study_id, trial_ids) == dict.fromkeys(rows_of(db, study_id, trial_ids), 0)
    assert not folder.exists()
    assert count_trials(db, "keep") == 2 and open_store(db).checkpoint_dir("keep").exists()
    user_error(invoke(db, "trial", "mlp", "0"), "no study named 'mlp'")


def test_delete_says_when_it_may_not_remove_another_users_checkpoints(
    db: Path, two_studies: tuple[int, list[int], Path]
) -> None:
    """A checkpoint folder this user may not look into: the study's rows were deleted,
    then Path.is_dir raised PermissionError, told as "cannot write the output"."""
    from tests.test_connection import _unprivileged

    folder = two_studies[2]
    root = folder.parent
    root.chmod(0o000)
    try:
        command = ["-c", "from hpotrack.cli import main; main()", "--db", str(db)]
        done = subprocess.run(
            [*_unprivileged(), sys.executable, *command, "delete", "mlp", "--yes"],
            capture_output=True,
            text=True,
        )
    finally:
        root.chmod(0o755)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(
        f"Error: deleted study 'mlp' from {db}, but could not remove its checkpoints at "
        f"{folder}: [Errno 13] Permission denied"
    )
    assert folder.is_dir() and count_trials(db, "keep") == 2
    user_error(invoke(db, "trial", "mlp", "0"), "no study named 'mlp'")


def test_delete_errors(db: Path, tmp_path: Path) -> None:
    make_study(db)
    user_error(invoke(db, "delete", "mpl", "--yes"), "no study named 'mpl'", "did you mean 'mlp'")
    user_error(invoke(tmp_path / "nope.db", "delete", "mlp", "--yes"), "no database at")
    (tmp_path / "junk.db").write_bytes(b"hello" * 100)
    user_error(invoke(tmp_path / "junk.db", "delete", "mlp"), "not an hpotrack database")
    user_error(invoke(tmp_path / "junk.db", "enqueue", "mlp", *GOOD), "not an hpotrack database")
    assert count_trials(db) == 2


def test_delete_while_a_worker_runs_stops_it_with_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real process trains a PBT population (checkpoints every segment) while the
    study is deleted: it stops at its next look at the database, saying the study was
    deleted (once: the end of the run does not store anything more, and the trial it was
    running did not fail), and leaves no checkpoint files behind."""
    from tests.test_processes import start

    db = tmp_path / "h.db"
    monkeypatch.setenv("HPOTRACK_TEST_STEP_S", "0.1")
    worker = start(db, "population")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert worker.poll() is None, worker.communicate()
        with contextlib.suppress(hp.HpotrackError):  # no database or study yet
            if count_trials(db, "population") >= 3:
                break
        time.sleep(0.05)
    result = invoke(db, "delete", "population", "--yes")
    assert result.exit_code == 0, result.output
    _, stderr = worker.communicate(timeout=60)
    assert worker.returncode != 0
    last = stderr.strip().splitlines()[-1]
    assert "StudyDeleted: study 'population' was deleted" in last, stderr
    assert "IndexError" not in stderr and "TypeError" not in stderr, stderr
    # raised once, from the checkpoint the function was saving: not the trial's failure
    assert stderr.count("Traceback") == 1 and " failed: " not in stderr, stderr
    assert not open_store(db).checkpoint_dir("population").exists()
    with closing(sqlite3.connect(db)) as conn:  # no rows of the deleted trials came back
        for table in ("metrics", "checkpoints"):
            orphans = f"SELECT COUNT(*) FROM {table} WHERE trial_id NOT IN (SELECT id FROM trials)"
            assert conn.execute(orphans).fetchone()[0] == 0, table


HPOTRACK = [sys.executable, "-c", "from hpotrack.cli import main; main()"]  # the entry point

SAVING_STUDY = """
import sys
import hpotrack as hp

@hp.tune({"x": hp.Float(0.0, 1.0)}, study=sys.argv[2], db=sys.argv[1], seed=0, objective="loss")
def train(x, trial):
    trial.report(x, step=1)
    trial.save_checkpoint({"weights": sys.argv[3]}, step=1)
    return x

train.optimize(n_trials=int(sys.argv[4]))
"""


def run_saving_study(db: Path, study: str, weights: str, trials: int = 1) -> None:
    """A real process that creates (or extends) ``study``, each trial saving ``weights``."""
    done = subprocess.run(
        [sys.executable, "-c", SAVING_STUDY, str(db), study, weights, str(trials)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def delete_elsewhere(db: Path, study: str) -> subprocess.CompletedProcess[str]:
    """``hpotrack delete STUDY --yes`` in a real process of its own."""
    return subprocess.run(
        [*HPOTRACK, "--db", str(db), "delete", study, "--yes"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )


def loaded_weights(db: Path, study: str) -> list[Any]:
    """What each checkpoint of ``study`` holds, loaded as a trial would."""
    close_stores()
    opened = hp.load_study(study, db=db)
    found = [checkpoints.find(opened.store, opened.id, t.number, None) for t in opened.trials]
    return [checkpoints.load(opened.store, c) for c in found if c is not None]


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_delete_leaves_the_files_of_a_study_of_that_name_created_right_after(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checkpoint folder is named after the study: delete removed it after its
    commit, and a study of the same name created in between (the decorator's first run
    in another process) lost the checkpoint it had just saved ("checkpoint ... is
    missing"). Here that process runs right after the commit, before any file goes."""
    run_saving_study(db, "mlp", "old", trials=2)
    root = open_store(db).checkpoint_root
    remove = shutil.rmtree
    created: list[bool] = []

    def study_created_first(path: Path, *args: Any, **kwargs: Any) -> None:
        if not created:
            created.append(True)
            run_saving_study(db, "mlp", "new")
        remove(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", study_created_first)
    result = invoke(db, "delete", "mlp", "--yes")
    monkeypatch.undo()
    assert result.exit_code == 0 and created, result.output
    assert loaded_weights(db, "mlp") == [{"weights": "new"}]
    folder = open_store(db).checkpoint_dir("mlp").name
    assert [Path(f).parent.name for f in files_under(root)] == [folder]  # the old ones went


KILLED_AFTER_COMMIT = """
import os, shutil, signal
from hpotrack.cli import main
shutil.rmtree = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
main()
"""


def test_a_delete_killed_before_removing_the_files_leaves_them_for_the_next_delete(
    db: Path,
) -> None:
    """kill -9 between the commit and the removal: the deleted study's files stay under
    a name no study has (a study of that name created anew does not see them), and the
    next delete, of any study, removes them."""
    run_saving_study(db, "mlp", "old", trials=2)
    run_saving_study(db, "other", "other")
    root = open_store(db).checkpoint_root
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_COMMIT, "--db", str(db), "delete", "mlp", "--yes"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (left,) = [p for p in root.iterdir() if p.name.startswith(".deleted-")]
    assert len(files_under(left)) == 2
    user_error(invoke(db, "trial", "mlp", "0"), "no study named 'mlp'")
    run_saving_study(db, "mlp", "new")  # the name is free: its folder is its own
    assert loaded_weights(db, "mlp") == [{"weights": "new"}]
    done = delete_elsewhere(db, "other")
    assert done.returncode == 0, done.stderr
    assert not left.exists()
    assert loaded_weights(db, "mlp") == [{"weights": "new"}]
    assert [p.name for p in root.iterdir()] == [open_store(db).checkpoint_dir("mlp").name]


class _CommitFails:
    """A connection whose COMMIT fails, as on a disk that turned read-only or failed."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("disk I/O error")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def test_a_delete_whose_commit_fails_keeps_the_studys_checkpoints(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder is moved aside before the commit: when the commit fails, the study
    is still there, and so are its files where it finds them."""
    run_saving_study(db, "mlp", "old")
    store = open_store(db)
    monkeypatch.setattr(store, "conn", _CommitFails(store.conn))
    user_error(invoke(db, "delete", "mlp", "--yes"), "disk I/O error")
    monkeypatch.undo()
    assert loaded_weights(db, "mlp") == [{"weights": "old"}]
    assert [p.name for p in store.checkpoint_root.iterdir()] == [store.checkpoint_dir("mlp").name]

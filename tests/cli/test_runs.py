"""``hpotrack runs``: the processes that ran a study, read from a real SQLite file that
real processes wrote."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from hpotrack.cli import cli
from hpotrack.provenance import hostname
from tests.faultworker import ROOT

SCRIPT = textwrap.dedent(
    """
    import os
    import sys
    import time
    from pathlib import Path
    import hpotrack as hp

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db="h.db", seed=0)
    def train(x, trial):
        if os.environ.get("HANG_IN_TRIAL"):
            Path("inside").write_text(str(os.getpid()))
            time.sleep(600)
        return x

    if __name__ == "__main__":
        print(os.getpid())
        train.optimize(n_trials=int(sys.argv[1]), n_jobs=int(sys.argv[2]), progress=False)
    """
)


def invoke(db: Path, *args: str, **env: str) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db), *args], env=env)


def start(folder: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    """``python job.py ARGS`` (:data:`SCRIPT`: study "s" in ``folder``/h.db)."""
    (folder / "job.py").write_text(SCRIPT)
    return subprocess.Popen(
        [sys.executable, "job.py", *args],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def listed(db: Path, study: str = "s") -> list[dict[str, Any]]:
    result = invoke(db, "runs", study, "--format", "json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def copy_of(db: Path, folder: Path) -> Path:
    """A copy of ``db`` to edit (SQLite's backup: the WAL's pages too)."""
    copy = folder / "copy.db"
    with sqlite3.connect(db) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    source.close()
    target.close()
    return copy


def edit(db: Path, sql: str, *args: object) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(sql, args)
    conn.close()


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """Study "s" run by ``optimize(n_trials=6, n_jobs=2)`` from a script: its file and
    the pid of the script's process (the parent of the two workers)."""
    folder = tmp_path_factory.mktemp("ran")
    done = start(folder, "6", "2")
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    return folder / "h.db", int(out.split()[0])


def test_a_run_with_n_jobs_lists_each_worker_with_its_trials(ran: tuple[Path, int]) -> None:
    """Each worker of n_jobs stores a run with the parent's command line (spawn gives it
    the parent's sys.argv); the parent runs no trial and stores no run."""
    db, parent = ran
    rows = listed(db)
    assert [row["run"] for row in rows] == [1, 2]
    assert len({row["pid"] for row in rows}) == 2 and parent not in {r["pid"] for r in rows}
    assert sum(row["trials"] for row in rows) == 6
    for row in rows:
        assert row["host"] == hostname()
        assert row["complete"] == row["trials"]
        assert row["status"] == "ended"
        assert row["command"] == "job.py 6 2"
        assert row["script_argv"] is None and row["ran_in"] is None
        assert len(row["source_hash"]) == 64
    assert rows[0]["started"] <= rows[1]["started"]


def test_the_table_counts_trials_by_state_in_one_cell(ran: tuple[Path, int]) -> None:
    db, _ = ran
    rows = listed(db)
    result = invoke(db, "runs", "s")
    assert result.exit_code == 0, result.output
    header, _, *lines = result.stdout.splitlines()
    columns = header.split()  # a commit column only where the script is in a repository
    assert columns[:6] == ["run", "host", "pid", "started", "trials", "status"]
    assert columns[-2:] == ["source", "command"]
    assert len(lines) == 2
    for line, row in zip(lines, rows, strict=True):
        n = row["trials"]
        trials = f"{n} ({n} complete)" if n else "0"
        assert f"  {trials}  " in line and f"  {row['pid']}  " in line
        assert "  ended  " in line and f"  {row['source_hash'][:8]}  job.py 6 2" in line


def test_csv_has_every_field_whole(ran: tuple[Path, int]) -> None:
    db, _ = ran
    result = invoke(db, "runs", "s", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == [
        "run", "host", "pid", "started", "trials", "complete", "pruned", "failed",
        "running", "queued", "status", "git_commit", "source_hash", "command",
        "script_argv", "ran_in",
    ]  # fmt: skip
    as_json = listed(db)
    assert [row["pid"] for row in rows] == [str(row["pid"]) for row in as_json]
    assert [row["source_hash"] for row in rows] == [row["source_hash"] for row in as_json]
    assert sum(int(row["complete"]) for row in rows) == 6


def test_a_live_process_is_running_and_killed_it_is_gone_with_its_trial(
    tmp_path: Path,
) -> None:
    """A process whose trial waits is ``running``; after kill -9 its trial still reads
    running: ``gone, 1 trial left running``."""
    hung = start(tmp_path, "100", "1", HANG_IN_TRIAL="1")
    db = tmp_path / "h.db"
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "inside").exists():
            assert hung.poll() is None, hung.communicate()
            assert time.monotonic() < deadline, "trial 0 never started"
            time.sleep(0.05)
        (row,) = listed(db)
        assert (row["pid"], row["status"], row["running"]) == (hung.pid, "running", 1)
        table = invoke(db, "runs", "s").stdout.splitlines()[2]
        assert "  1 (1 running)  running  " in table
        os.kill(hung.pid, signal.SIGKILL)
        hung.wait(timeout=60)
    finally:
        hung.kill()
        hung.communicate()
    (row,) = listed(db)
    assert (row["status"], row["running"], row["trials"]) == ("gone", 1, 1)
    table = invoke(db, "runs", "s").stdout.splitlines()[2]
    assert "  1 (1 running)  gone, 1 trial left running  " in table


def test_another_hosts_run_is_running_only_with_a_fresh_heartbeat(
    ran: tuple[Path, int], tmp_path: Path
) -> None:
    """Elsewhere no pid can be asked: a run with a trial running whose heartbeat is fresh
    is ``running``, one whose heartbeat stopped is ``gone``, and one with no trial running
    is ``unknown``."""
    db = copy_of(ran[0], tmp_path)
    edit(db, "UPDATE runs SET host = 'elsewhere'")
    assert [row["status"] for row in listed(db)] == ["unknown", "unknown"]
    edit(db, "UPDATE trials SET state = 'running', heartbeat = ? WHERE number = 0", time.time())
    first = next(row for row in listed(db) if row["running"])
    assert first["status"] == "running"
    edit(db, "UPDATE trials SET heartbeat = ? WHERE number = 0", time.time() - 3600)
    first = next(row for row in listed(db) if row["running"])
    assert first["status"] == "gone"


def test_a_resumed_run_shows_resumes_command_and_its_scripts_arguments(
    ran: tuple[Path, int], tmp_path: Path
) -> None:
    db = copy_of(ran[0], tmp_path)
    stored = {"argv": ["hpotrack", "resume", "s", "--jobs", "2"], "script_argv": ["job.py", "6"]}
    edit(db, "UPDATE runs SET argv = ? WHERE id = 1", json.dumps(stored))
    edit(db, "UPDATE runs SET git_commit = ? WHERE id = 1", "1a2b3c4d5e" * 4 + "+dirty")
    first = listed(db)[0]
    assert (first["command"], first["script_argv"]) == ("hpotrack resume s --jobs 2", "job.py 6")
    assert first["git_commit"] == "1a2b3c4d5e" * 4 + "+dirty"
    line = invoke(db, "runs", "s").stdout.splitlines()[2]
    assert "  1a2b3c4+dirty  " in line and line.endswith("  hpotrack resume s --jobs 2")


def test_hashes_that_read_as_numbers_are_shown_as_they_are(
    ran: tuple[Path, int], tmp_path: Path
) -> None:
    """tabulate read a source hash ``0e053947...`` as the number 0 (examples/quickstart.py's
    own hash did), and would drop a digits-only commit's leading zeros."""
    db = copy_of(ran[0], tmp_path)
    edit(db, "UPDATE runs SET source_hash = ?, git_commit = ?", "0e0539" + "47" * 29, "0012345" * 5)
    lines = invoke(db, "runs", "s").stdout.splitlines()[2:]
    assert lines and all("  0012345  " in line and "  0e053947  " in line for line in lines)


def test_a_long_command_is_cut_on_a_terminal_only(ran: tuple[Path, int], tmp_path: Path) -> None:
    db = copy_of(ran[0], tmp_path)
    words = ["train.py", *(f"--option-{i}" for i in range(30))]
    edit(db, "UPDATE runs SET argv = ?", json.dumps(words))
    whole = " ".join(words)
    cut = invoke(db, "runs", "s", COLUMNS="100").stdout.splitlines()
    assert all(len(line) <= 100 for line in cut)
    assert cut[2].endswith("…") and whole not in cut[2]
    assert invoke(db, "runs", "s").stdout.splitlines()[2].endswith(whole)  # to a pipe
    assert listed(db)[0]["command"] == whole


def test_an_imported_study_keeps_its_runs(ran: tuple[Path, int], tmp_path: Path) -> None:
    """An export carries the runs and import stores them: the processes are the ones
    that ran the study where it was exported (ended here)."""
    exported = tmp_path / "s.json"
    assert invoke(ran[0], "export", "s", "-o", str(exported)).exit_code == 0
    db = tmp_path / "imported.db"
    assert invoke(db, "import", str(exported)).exit_code == 0
    rows = listed(db)
    assert [(r["pid"], r["trials"]) for r in rows] == [
        (r["pid"], r["trials"]) for r in listed(ran[0])
    ]
    assert {row["status"] for row in rows} == {"ended"}


def test_a_study_imported_without_runs_says_so(ran: tuple[Path, int], tmp_path: Path) -> None:
    """An export older than runs (format 4) or one without them: the trials name no run."""
    exported = tmp_path / "s.json"
    assert invoke(ran[0], "export", "s", "-o", str(exported)).exit_code == 0
    data = json.loads(exported.read_text())
    data["runs"] = []
    for trial in data["trials"]:
        trial["run"] = None
    exported.write_text(json.dumps(data))
    db = tmp_path / "imported.db"
    assert invoke(db, "import", str(exported)).exit_code == 0
    result = invoke(db, "runs", "s")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "(no runs: no process has run study 's' in this database; its 6 trials "
        "(6 complete) came without one (imported))\n"
    )
    assert listed(db) == []
    assert invoke(db, "runs", "s", "--format", "csv").stdout.startswith("run,host,pid,")


@pytest.mark.parametrize("args", [["runs", "nope"], ["runs"], ["runs", "s", "--format", "xml"]])
def test_bad_input_is_one_line(ran: tuple[Path, int], args: list[str]) -> None:
    result = invoke(ran[0], *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.count("\n") == 1 and result.output.startswith("Error: ")

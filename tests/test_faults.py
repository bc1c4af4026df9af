"""Faults: kill -9 while processes write, and files that cannot be used as asked.

Every fault must end in a clear error (or a wait that succeeds) and leave what was stored
intact. "Clear" means: through the Python API an :class:`hpotrack.HpotrackError` whose
message names the file; through the CLI exit code 2 and one line on stderr, no traceback.

How each fault is made:

- ``kill -9``: SIGKILL of random worker processes at random moments (seeded); the default
  run does a few kills, the slow set (``--run-slow``) a loop of 60.
- Read-only file or folder: ``chmod``, with the process under test made to obey file
  permissions. Root ignores them, and these tests usually run as root (CI, containers);
  running as ``nobody`` is not possible when Python lives under ``/root``, so a root test
  process starts the process under test without the capabilities that bypass permission
  checks (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, dropped from its bounding
  set with ``prctl`` before ``exec``). That process is still uid 0, owner of the files,
  and obeys their mode bits like any owner: a faithful test. When the drop is impossible
  (root without CAP_SETPCAP, or root on a system without ``prctl``) these tests are
  skipped; as a normal user they run as they are.
- Full disk: two ways. ``RLIMIT_FSIZE`` (with SIGXFSZ ignored) on the writer: writes past
  the limit fail with EFBIG, which SQLite reports as "disk I/O error"; runs everywhere.
  And a 1 MiB tmpfs filled up to a few pages: ENOSPC, "database or disk is full", as on a
  real full disk; needs permission to mount (root with CAP_SYS_ADMIN), else skipped.
- Not SQLite, truncated: files written by the test; a truncated copy of a closed database
  (its data all in the main file, no ``-wal`` beside it).
- Locked: another program (plain ``sqlite3``) holding ``BEGIN EXCLUSIVE`` with a write for
  a while, or for longer than hpotrack waits (its ``BUSY_TIMEOUT_S`` made short); a long
  read transaction; and a stuck hpotrack writer, which also holds ``<db>.lock``.

Tests of behaviour that is not right yet are marked ``xfail(strict=True)`` with the bug.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

import hpotrack as hp
from hpotrack.cli import cli
from hpotrack.store import close_stores
from tests import faultworker
from tests.faultworker import CLI, WORKER, Stored, counted, integrity, read_trials, worker_env

STUDY = "crashy"
BEFORE = 20  # complete trials in the template database


# -- helpers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database whose study has BEFORE complete trials, all in the main file (a copy of
    the file alone is the whole database)."""
    db = tmp_path_factory.mktemp("template") / "h.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HPOTRACK_DB", str(db))
        faultworker.crashy.optimize(n_trials=BEFORE, progress=False)
    close_stores()
    with closing(sqlite3.connect(db)) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    wal = db.with_name("h.db-wal")
    assert busy == 0 and (not wal.exists() or wal.stat().st_size == 0)
    return db


@pytest.fixture(scope="module")
def stored(template: Path) -> dict[int, Stored]:
    """The template's trials (read once: a reader leaves -wal and -shm beside the file)."""
    trials = read_trials(template, STUDY)
    assert len(trials) == BEFORE and {t.state for t in trials.values()} == {"complete"}
    return trials


def copy_of(template: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "h.db"
    shutil.copyfile(template, db)
    return db


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_intact(db: Path, before: dict[int, Stored]) -> dict[int, Stored]:
    """``integrity_check`` is ok and every trial complete in ``before`` is unchanged."""
    assert integrity(db) == "ok"
    now = read_trials(db, STUDY)
    for number, old in before.items():
        if old.state == "complete":
            new = now.get(number)
            assert new is not None and new.state == "complete", f"trial {number} is gone"
            assert (new.value, new.metrics, new.params) == (old.value, old.metrics, old.params)
            assert new.reports.items() >= old.reports.items(), f"trial {number} lost reports"
    return now


_PR_CAPBSET_DROP = 24
_FILE_OVERRIDES = (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER


_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _drop_file_overrides() -> None:
    """preexec_fn: the exec'd root process obeys file permissions like their owner (libc
    is loaded beforehand: loading it in a forked child of a threaded process can hang)."""
    if _LIBC is None:
        raise OSError("no prctl here")
    for capability in _FILE_OVERRIDES:
        if _LIBC.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _as_unprivileged() -> Callable[[], None] | None:
    return _drop_file_overrides if os.geteuid() == 0 else None


@functools.cache
def _permissions_obeyed() -> bool:
    """Whether a process started with :func:`_as_unprivileged` cannot write a 0o444 file."""
    if os.geteuid() == 0 and not sys.platform.startswith("linux"):
        return False
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe"
        probe.write_text("")
        probe.chmod(0o444)
        try:
            tried = subprocess.run(
                [sys.executable, "-S", "-c", "import sys; open(sys.argv[1], 'a')", str(probe)],
                preexec_fn=_as_unprivileged(),
                capture_output=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        return tried.returncode != 0


@pytest.fixture
def unprivileged() -> Callable[[], None] | None:
    """The preexec_fn that makes a process obey file permissions (see the module doc)."""
    if not _permissions_obeyed():
        pytest.skip("cannot start a process that obeys file permissions (root, no prctl)")
    return _as_unprivileged()


def run_worker(
    db: Path, n_trials: int, *, preexec_fn: Callable[[], None] | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """``optimize(n_trials)`` of the crashy study in a new process (the Python API)."""
    return subprocess.run(
        [sys.executable, str(WORKER), STUDY, str(n_trials)],
        env=worker_env(db, **env),
        preexec_fn=preexec_fn,
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_cli(
    db: Path, *args: str, preexec_fn: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    """The ``hpotrack`` command in a new process."""
    return subprocess.run(
        [sys.executable, "-c", CLI, "--db", str(db), *args],
        env=worker_env(db),
        preexec_fn=preexec_fn,
        capture_output=True,
        text=True,
        timeout=300,
    )


def api_error(done: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    """(exception class, message) that ended a worker, which must have failed."""
    assert done.returncode != 0, f"the worker succeeded:\n{done.stderr}"
    for line in done.stderr.splitlines():
        if line.startswith("worker error: "):
            kind, _, message = line.removeprefix("worker error: ").partition(": ")
            return kind, message
    raise AssertionError(f"the worker died without an exception:\n{done.stderr}")


def assert_clear_api_error(done: subprocess.CompletedProcess[str], db: Path) -> str:
    kind, message = api_error(done)
    assert kind.startswith("hpotrack.errors."), f"{kind}: {message}"
    assert db.name in message, message
    return message


def assert_one_line_error(output: str, exit_code: int) -> str:
    """The CLI's contract for a bad file: exit 2, one line (besides hpotrack's log lines,
    such as a lost trial's warning), no traceback."""
    lines = [line for line in output.strip().splitlines() if not line.startswith("[hpotrack] ")]
    assert exit_code == 2 and len(lines) == 1, f"exit {exit_code}:\n{output}"
    assert lines[0].startswith("Error: ") and "Traceback" not in output, output
    return lines[0]


# -- kill -9 ------------------------------------------------------------------------------


def kill_and_resume(
    tmp_path: Path,
    study: str,
    *,
    seed: int,
    kills: int,
    target: int,
    pause: float,
    jobs: int = 3,
) -> tuple[Path, list[dict[int, Stored]], str]:
    """``jobs`` workers of ``faultworker.FUNCTIONS[study]`` on one study; once each runs
    trials, ``kills`` times: wait a random 0.05-0.5 s (and then until a worker runs a
    trial), snapshot, SIGKILL a random worker that runs a trial and let a replacement go
    (one of two spares started beforehand, which wait at a gate with their imports done).
    Then SIGKILL them all and ``hpotrack resume`` the study. Returns the database, the
    snapshots (one before each kill, one before the final kills) and a summary line."""
    rng = random.Random(seed)
    where = f"(seed={seed})"
    db = tmp_path / "h.db"
    snapshots: list[dict[int, Stored]] = []
    with faultworker.workers(db, tmp_path / "logs", FAULTWORKER_PAUSE=str(pause)) as pool:
        for _ in range(jobs):
            pool.start(study, target)
        deadline = time.monotonic() + 120
        while {p.pid for p in pool.started} - {t.pid for t in read_trials(db, study).values()}:
            assert time.monotonic() < deadline, f"the workers never all ran a trial {where}"
            time.sleep(0.02)

        def spare(number: int) -> Path:
            """Start a replacement that waits, imports done, until ``<gate>/go`` exists."""
            gate = tmp_path / "gates" / str(number)
            gate.mkdir(parents=True)
            pool.start(study, target, FAULTWORKER_BARRIER=str(gate))
            return gate

        gates = [spare(n) for n in range(min(2, kills))]  # two at a time: imports are slow
        for kill in range(kills):
            time.sleep(rng.uniform(0.05, 0.5))
            while True:  # until a live worker runs a trial (replacements take a while to start)
                snapshot = read_trials(db, study)
                running = {t.pid for t in snapshot.values() if t.state == "running"}
                busy = [p for p in pool.alive() if p.pid in running]
                if busy:
                    break
                assert pool.alive(), f"every worker ended before the kills were done {where}"
                assert time.monotonic() < deadline + 600, f"no worker starts trials {where}"
                time.sleep(0.01)
            snapshots.append(snapshot)
            pool.kill(rng.choice(busy))
            (gates.pop(0) / "go").touch()  # the replacement starts at once
            if kill + 2 < kills:
                gates.append(spare(kill + 2))
        snapshots.append(read_trials(db, study))
        pool.close()
        problems = pool.problems()
        n_workers = len(pool.started)
    assert not problems, f"{where}\n" + "\n".join(problems)
    assert counted(snapshots[-1]) < target, f"the target was reached before the last kill {where}"

    resumed = subprocess.run(
        [sys.executable, "-c", CLI, "--db", str(db), "resume", study],
        env=worker_env(db, FAULTWORKER_PAUSE="0"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, f"{where}\n{resumed.stderr}"
    last = counted(snapshots[-1])
    return db, snapshots, f"{where} {kills} kills + the final ones at {last}, {n_workers} workers"


def assert_recovered(
    db: Path,
    study: str,
    snapshots: list[dict[int, Stored]],
    *,
    target: int,
    kills: int,
    where: str,
) -> dict[int, Stored]:
    """What every study must look like after :func:`kill_and_resume`: a sound file whose
    trials all finished, dense numbers, the target reached counting retries as the lost
    trials they replace, lost trials (and nothing else) failed, each retried once with
    its parameters, and every trial finished at a snapshot unchanged. Returns the trials."""
    assert integrity(db) == "ok", where
    assert len(hp.load_study(study, db=db).trials) > 0, where  # the library opens it
    final = read_trials(db, study)
    assert sorted(final) == list(range(len(final))), f"trial numbers have holes {where}"
    states = Counter(t.state for t in final.values())
    finished = {"complete", "pruned", "failed"}
    assert set(states) <= finished, f"{states} {where}"  # none running/queued
    assert counted(final) == target, f"{counted(final)} trials count, not {target} {where}"

    lost = {n for n, t in final.items() if t.state == "failed"}
    for number in lost:
        assert (final[number].error or "").startswith("worker lost"), (
            f"trial {number} failed with {final[number].error!r} {where}"
        )
    retried_parents = Counter(p for t in final.values() for p in t.retried_from)
    assert all(c == 1 for c in retried_parents.values()), f"retried twice {where}"
    for t in final.values():
        for parent in t.retried_from:
            assert parent in lost and final[parent].params == t.params, (
                f"trial {t.number} retries {parent}, which was not lost {where}"
            )
    assert len(lost) >= kills, f"{kills} kills of running workers, {len(lost)} lost {where}"

    for index, snapshot in enumerate(snapshots):
        for number, old in snapshot.items():
            if old.state not in ("complete", "pruned"):
                continue
            new = final[number]
            assert new.state == old.state, f"trial {number} was {old.state} at kill {index} {where}"
            assert (new.value, new.metrics) == (old.value, old.metrics), where
            assert new.reports.items() >= old.reports.items(), where
    print(f"{where}, {len(final)} trials, {len(lost)} lost and {len(retried_parents)} retried")
    return final


def kill_loop(
    tmp_path: Path, *, seed: int, kills: int, target: int, pause: float, jobs: int = 3
) -> None:
    """:func:`kill_and_resume` on the crashy study, and check everything: besides
    :func:`assert_recovered`, every complete trial has its three reports and its result."""
    db, snapshots, where = kill_and_resume(
        tmp_path, STUDY, seed=seed, kills=kills, target=target, pause=pause, jobs=jobs
    )
    final = assert_recovered(db, STUDY, snapshots, target=target, kills=kills, where=where)
    for t in final.values():
        if t.state == "complete":
            x = t.params["x"]
            assert t.reports == {("value", s): x + s for s in range(3)}, f"trial {t.number} {where}"
            assert t.metrics == {"value": x * x, "double": 2 * x} and t.value == x * x, where


def test_kill_9_at_random_moments_then_resume(tmp_path: Path) -> None:
    kill_loop(tmp_path, seed=1, kills=4, target=300, pause=0.01)


@pytest.mark.slow
def test_kill_9_loop_of_60_kills_then_resume(tmp_path: Path) -> None:
    kill_loop(tmp_path, seed=2, kills=60, target=2000, pause=0.02)


def test_kill_9_of_hyperband_workers_resumes_each_lost_trial_from_its_checkpoint(
    tmp_path: Path,
) -> None:
    """The kill loop on a multi-fidelity study whose function saves a checkpoint at every
    step (``faultworker.resumable``: hyperband, rungs at 1, 3, 9) and refuses one that
    does not fit it (not its configuration, or not the step before ``trial.steps``),
    which would fail a trial with another error than "worker lost". Besides
    :func:`assert_recovered`: every curve is the function's loss at each of its steps; a
    retry resumes where its ``retried`` edge says, with the checks its lost attempt
    passed up to there; one without a step starts where its lost attempt did."""
    study, target, kills = "resumable", 150, 10
    db, snapshots, where = kill_and_resume(
        tmp_path, study, seed=3, kills=kills, target=target, pause=0.01, jobs=2
    )
    assert_recovered(db, study, snapshots, target=target, kills=kills, where=where)
    loaded = hp.load_study(study, db=db)
    trials = loaded.trials
    curves = {t.number: loaded.curve(t.number).get("value", []) for t in trials}

    def first_step(trial: hp.TrialRecord) -> int:
        """The step ``trial`` trains first, by where its lineage says it starts."""
        edge = next((e for e in trial.parents if e.kind == "retried" and e.step is not None), None)
        edge = edge or next((e for e in trial.parents if e.kind == "promoted"), None)
        return 1 if edge is None or edge.step is None else edge.step + 1

    resumed = 0
    for trial in trials:
        x, curve, start = trial.params["x"], curves[trial.number], first_step(trial)
        assert curve == [(s, faultworker.resumable_loss(x, s)) for s, _ in curve], (
            f"trial {trial.number} reported other values than its loss {where}"
        )
        steps = [s for s, _ in curve]
        (edge,) = [e for e in trial.parents if e.kind == "retried"] or [None]
        if edge is not None:
            lost = trials[edge.parent]
            assert lost.params == trial.params, where
            if edge.step is None:  # the lost attempt saved nothing of its own
                assert start == first_step(lost), f"retry {trial.number} {where}"
            else:
                resumed += 1
                assert edge.step >= first_step(lost) - 1, f"retry {trial.number} {where}"
                kept = {s: v for s, v in trial.checks.items() if s <= edge.step}
                passed = {s: v for s, v in lost.checks.items() if s <= edge.step}
                assert kept == passed, (
                    f"retry {trial.number} resumed at step {edge.step} with checks {kept} "
                    f"up to there, but the lost trial {lost.number} passed {passed} {where}"
                )
        for step, value in trial.checks.items():
            assert value == faultworker.resumable_loss(x, step), (
                f"trial {trial.number} ({trial.origin}, from step {start}) was checked at "
                f"step {step} with {value}, its loss at another step {where}"
            )
        if trial.state is hp.TrialState.FAILED:  # lost: its reports up to the last flush
            end = steps[-1] if steps else start - 1
        else:  # complete at the budget, or pruned at its last check
            end = 9 if trial.state is hp.TrialState.COMPLETE else max(trial.checks)
        assert steps == list(range(start, end + 1)), (
            f"trial {trial.number} ({trial.state}, from step {start}) reported steps {steps} "
            f"{where}"
        )
    print(f"{where}: {resumed} retries resumed from a checkpoint")


# -- read-only file or folder ---------------------------------------------------------------


def test_a_read_only_database_file_can_still_be_read(
    template: Path, tmp_path: Path, unprivileged: Callable[[], None] | None
) -> None:
    db = copy_of(template, tmp_path / "data")
    db.chmod(0o444)
    before = digest(db)
    shown = run_cli(db, "show", STUDY, "--format", "json", preexec_fn=unprivileged)
    assert shown.returncode == 0, shown.stderr
    assert [row["number"] for row in json.loads(shown.stdout)] == list(range(BEFORE))
    assert digest(db) == before


def test_writing_a_read_only_database_file_is_one_clear_line(
    template: Path,
    stored: dict[int, Stored],
    tmp_path: Path,
    unprivileged: Callable[[], None] | None,
) -> None:
    db = copy_of(template, tmp_path / "data")
    db.chmod(0o444)
    before = digest(db)
    resumed = run_cli(db, "resume", STUDY, "--n-trials", "30", preexec_fn=unprivileged)
    line = assert_one_line_error(resumed.stderr, resumed.returncode)
    assert "read" in line.lower() and db.name in line, line
    assert digest(db) == before
    assert_intact(db, stored)


def test_writing_a_read_only_database_file_raises_a_storage_error(
    template: Path,
    stored: dict[int, Stored],
    tmp_path: Path,
    unprivileged: Callable[[], None] | None,
) -> None:
    db = copy_of(template, tmp_path / "data")
    db.chmod(0o444)
    before = digest(db)
    done = run_worker(db, 30, preexec_fn=unprivileged)
    assert digest(db) == before
    assert_intact(db, stored)
    assert "read" in assert_clear_api_error(done, db).lower()


@contextmanager
def read_only_folder(folder: Path) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    try:
        yield folder
    finally:
        folder.chmod(0o755)


def test_an_existing_database_in_a_read_only_folder_is_a_clear_error(
    template: Path,
    stored: dict[int, Stored],
    tmp_path: Path,
    unprivileged: Callable[[], None] | None,
) -> None:
    db = copy_of(template, tmp_path / "data")
    before = digest(db)
    assert [p.name for p in db.parent.iterdir()] == ["h.db"]  # closed: no -wal, no -shm
    with read_only_folder(db.parent):
        done = run_worker(db, 30, preexec_fn=unprivileged)  # WAL needs h.db-wal beside it
        shown = run_cli(db, "show", STUDY, preexec_fn=unprivileged)
        assert [p.name for p in db.parent.iterdir()] == ["h.db"]
    assert_clear_api_error(done, db)
    assert db.name in assert_one_line_error(shown.stderr, shown.returncode)
    assert digest(db) == before
    assert_intact(db, stored)


def test_a_new_database_in_a_read_only_folder_is_a_clear_error(
    tmp_path: Path, unprivileged: Callable[[], None] | None
) -> None:
    with read_only_folder(tmp_path / "data") as folder:
        done = run_worker(folder / "h.db", 5, preexec_fn=unprivileged)
        assert list(folder.iterdir()) == []
    assert_clear_api_error(done, folder / "h.db")


# -- full disk ----------------------------------------------------------------------------


HEADROOM = 96 * 1024  # room for the -shm (32 KiB) and the first few WAL frames


def _limit_file_size(limit: int) -> Callable[[], None]:
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


@contextmanager
def tiny_disk(mountpoint: Path, size_kib: int = 1024) -> Iterator[Path]:
    """A tmpfs of ``size_kib`` mounted at ``mountpoint``; the test is skipped without
    permission to mount."""
    mountpoint.mkdir()
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root on Linux")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "hpotrack-test", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        if subprocess.run(["umount", str(mountpoint)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


def fill(folder: Path, leave: int) -> Path:
    """Fill the file system of ``folder`` up to ``leave`` free bytes."""
    stat = os.statvfs(folder)
    filler = folder / "filler"
    filler.write_bytes(b"\0" * max(0, stat.f_bavail * stat.f_frsize - leave))
    return filler


Writer = Callable[[], None] | None


@contextmanager
def full_disk(how: str, template: Path, tmp_path: Path) -> Iterator[tuple[Path, Writer]]:
    """A copy of the template on a nearly full disk, and the preexec_fn of a writer there.

    Afterwards the files are in ``tmp_path / "data"`` (copied off the tmpfs before it goes).
    """
    if how == "rlimit":
        yield copy_of(template, tmp_path / "data"), _limit_file_size(HEADROOM)
        return
    with tiny_disk(tmp_path / "disk") as disk:
        db = copy_of(template, disk)
        filler = fill(disk, HEADROOM)
        yield db, None
        filler.unlink()
        shutil.copytree(disk, tmp_path / "data", ignore=shutil.ignore_patterns("*-shm"))


@pytest.mark.parametrize("how", ["rlimit", "tmpfs"])
def test_a_full_disk_stops_writers_with_one_line_and_no_damage(
    template: Path,
    stored: dict[int, Stored],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    with full_disk(how, template, tmp_path) as (db, preexec_fn):
        resumed = run_cli(db, "resume", STUDY, "--n-trials", "1000", preexec_fn=preexec_fn)
    print(f"{how}: the CLI said {resumed.stderr.strip()!r}")
    assert db.name in assert_one_line_error(resumed.stderr, resumed.returncode)
    db = tmp_path / "data" / "h.db"
    target = counted(assert_intact(db, stored)) + 10

    monkeypatch.setenv("HPOTRACK_DB", str(db))
    faultworker.crashy.optimize(n_trials=target, progress=False)  # room again: it goes on
    close_stores()
    now = assert_intact(db, stored)
    assert counted(now) == target
    assert {t.state for t in now.values()} <= {"complete", "failed"}


@pytest.mark.parametrize("how", ["rlimit"])
def test_a_full_disk_raises_a_storage_error(
    template: Path, stored: dict[int, Stored], tmp_path: Path, how: str
) -> None:
    with full_disk(how, template, tmp_path) as (db, preexec_fn):
        done = run_worker(db, 1000, preexec_fn=preexec_fn)
    print(f"{how}: the API raised {api_error(done)}")
    assert_intact(tmp_path / "data" / "h.db", stored)
    assert_clear_api_error(done, db)


# -- not a database, truncated --------------------------------------------------------------


def _check_refused(db: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Reading and writing ``db`` are clear errors and leave its bytes as they were."""
    before = digest(db)
    with pytest.raises(hp.HpotrackError) as loading:
        hp.load_study(STUDY, db=db).trials  # noqa: B018 - reading is the point
    assert db.name in str(loading.value)
    for args in (["show"], ["show", STUDY], ["trial", STUDY, "0"], ["export", STUDY]):
        invoked = CliRunner().invoke(cli, ["--db", str(db), *args])
        assert_one_line_error(invoked.output, invoked.exit_code)
    monkeypatch.setenv("HPOTRACK_DB", str(db))
    with pytest.raises(hp.HpotrackError) as writing:
        faultworker.crashy.optimize(n_trials=30, progress=False)
    assert db.name in str(writing.value)
    assert digest(db) == before
    return str(loading.value)


@pytest.mark.parametrize("content", ["random bytes", "text"])
def test_a_file_that_is_not_sqlite_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    db = tmp_path / "h.db"
    if content == "text":
        db.write_text("name,value\nlr,0.01\n" * 100)
    else:
        db.write_bytes(random.Random(0).randbytes(8192))
    assert "not" in _check_refused(db, monkeypatch)


@pytest.mark.parametrize("keep", ["half", "all but one page"])
def test_a_truncated_database_is_refused(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep: str
) -> None:
    db = copy_of(template, tmp_path / "data")
    size = db.stat().st_size
    os.truncate(db, size // 2 if keep == "half" else size - 4096)
    assert not db.with_name("h.db-wal").exists()
    _check_refused(db, monkeypatch)


# -- locked by another program --------------------------------------------------------------


LOCKER = """
import sqlite3, sys, select
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=1)
conn.execute("BEGIN EXCLUSIVE")
conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('other program', 'was here')")
print("locked", flush=True)
select.select([sys.stdin], [], [], float(sys.argv[2]))  # until told, or the time is up
conn.execute("COMMIT")
print("released", flush=True)
"""

STUCK_WRITER = """
import fcntl, os, sqlite3, sys, select
lock = os.open(sys.argv[1] + ".lock", os.O_RDWR | os.O_CREAT, 0o666)
fcntl.flock(lock, fcntl.LOCK_EX)  # as an hpotrack process inside Store.write() holds it
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=1)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
select.select([sys.stdin], [], [], float(sys.argv[2]))  # stopped (Ctrl-Z), until told
conn.execute("COMMIT")
print("released", flush=True)
"""

READER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=1)
conn.execute("BEGIN")
print(conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0], flush=True)
sys.stdin.readline()
print(conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0], flush=True)
conn.execute("COMMIT")
"""


@contextmanager
def other_program(code: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-S", "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=60)


def _other_program_was_here(db: Path) -> bool:
    with closing(sqlite3.connect(db)) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'other program'").fetchone()
    return row == ("was here",)


def test_a_writer_waits_for_another_programs_long_transaction(
    template: Path, stored: dict[int, Stored], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = copy_of(template, tmp_path / "data")
    monkeypatch.setenv("HPOTRACK_DB", str(db))
    with other_program(LOCKER, str(db), "60") as locker:  # holds the lock until told
        assert locker.stdout is not None and locker.stdin is not None
        assert locker.stdout.readline() == "locked\n"
        assert len(hp.load_study(STUDY, db=db).trials) == BEFORE  # reading does not wait
        assert locker.poll() is None  # for the lock, which is still held
        told, released = locker.stdin, []

        def tell_it_to_release() -> None:
            released.append(time.time())
            told.write("go\n")
            told.flush()

        release = threading.Timer(1.5, tell_it_to_release)
        release.start()
        faultworker.crashy.optimize(n_trials=BEFORE + 5, progress=False)
        release.join()
        out, err = locker.communicate(timeout=60)
    assert locker.returncode == 0 and out == "released\n", err
    now = assert_intact(db, stored)
    new = [t for t in hp.load_study(STUDY, db=db).trials if t.number not in stored]
    assert new and all(t.started >= released[0] for t in new), "a trial started under the lock"
    assert counted(now) == BEFORE + 5 and {t.state for t in now.values()} == {"complete"}
    assert _other_program_was_here(db)


def test_a_lock_held_too_long_is_a_clear_error(
    template: Path, stored: dict[int, Stored], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hpotrack import connection

    db = copy_of(template, tmp_path / "data")
    monkeypatch.setenv("HPOTRACK_DB", str(db))
    monkeypatch.setattr(connection, "BUSY_TIMEOUT_S", 0.1)  # so that "too long" is short
    error: BaseException | None = None
    with other_program(LOCKER, str(db), "20") as locker:
        assert locker.stdout is not None and locker.stdout.readline() == "locked\n"
        try:
            faultworker.crashy.optimize(n_trials=BEFORE + 5, progress=False)
        except Exception as exc:
            error = exc
        out, err = locker.communicate("go\n", timeout=60)
    assert locker.returncode == 0 and out == "released\n", err
    assert_intact(db, stored)
    assert _other_program_was_here(db)
    assert isinstance(error, hp.HpotrackError), repr(error)
    assert db.name in str(error) and ("locked" in str(error) or "busy" in str(error))


def test_a_stuck_hpotrack_writer_does_not_hang_the_others_forever(
    template: Path, stored: dict[int, Stored], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hpotrack import connection

    db = copy_of(template, tmp_path / "data")
    monkeypatch.setenv("HPOTRACK_DB", str(db))
    monkeypatch.setattr(connection, "BUSY_TIMEOUT_S", 0.05)  # hpotrack gives up after 0.5 s
    ended: list[BaseException | None] = []

    def writer() -> None:
        try:
            faultworker.crashy.optimize(n_trials=BEFORE + 5, progress=False)
            ended.append(None)
        except Exception as exc:
            ended.append(exc)

    with other_program(STUCK_WRITER, str(db), "60") as stuck:
        assert stuck.stdout is not None and stuck.stdout.readline() == "locked\n"
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        thread.join(timeout=30)  # the lock stays held for 60 s; on a loaded machine,
        hung = thread.is_alive()  # the error could take longer than 1.5 s to come
        out, err = stuck.communicate("go\n", timeout=60)
        thread.join(timeout=60)
    assert stuck.returncode == 0 and out == "released\n", err
    assert_intact(db, stored)
    assert not hung, "optimize() still waited after 30 s, with hpotrack's deadline at 0.5 s"
    assert ended and ended[0] is not None, "optimize() ran while the lock was held"


def test_a_long_read_transaction_does_not_block_writers(
    template: Path, stored: dict[int, Stored], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hpotrack import connection

    db = copy_of(template, tmp_path / "data")
    monkeypatch.setenv("HPOTRACK_DB", str(db))
    monkeypatch.setattr(connection, "BUSY_TIMEOUT_S", 0.05)  # a wait for the reader: an error
    with other_program(READER, str(db)) as reader:
        assert reader.stdout is not None and reader.stdout.readline() == f"{BEFORE}\n"
        faultworker.crashy.optimize(n_trials=BEFORE + 20, progress=False)
        assert reader.poll() is None  # still inside its read transaction
        out, err = reader.communicate("done\n", timeout=60)
    assert reader.returncode == 0 and out == f"{BEFORE}\n", err  # it kept its snapshot
    now = assert_intact(db, stored)
    assert counted(now) == BEFORE + 20

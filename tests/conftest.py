"""Shared fixtures. Add fixtures here; do not remove any (several test files use them)."""

from __future__ import annotations

import compileall
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, settings

import hpotrack
from hpotrack import workers
from hpotrack.cache import TrialCache
from hpotrack.store import Store, close_stores

# Tests do not time things: Hypothesis's 200 ms deadline per example and its check of slow
# data generation failed under load (pytest-xdist's workers on 2 cores with other jobs).
settings.register_profile("hpotrack", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("hpotrack")


@pytest.fixture(autouse=True, scope="session")
def _compiled_once() -> None:
    """hpotrack, the tests, examples and benchmarks compiled to ``__pycache__`` once, when
    ``PYTHONDONTWRITEBYTECODE`` is set (as on this project's CI machine): the suite starts
    hundreds of Python processes (workers, the CLI, scripts), and none of them writes
    its bytecode then, so each compiled hpotrack from source again, 0.3 s a process."""
    if not sys.flags.dont_write_bytecode:  # the first process to import a module writes it
        return
    root = Path(__file__).resolve().parents[1]
    for folder in (
        Path(hpotrack.__file__).parent,
        *(root / n for n in ("tests", "examples", "benchmarks")),
    ):
        compileall.compile_dir(folder, quiet=1)


@pytest.fixture(autouse=True)
def _close_hpotrack_stores() -> Iterator[None]:
    """Each test starts and ends without cached SQLite connections of this process."""
    close_stores()
    yield
    close_stores()


@pytest.fixture(autouse=True, scope="session")
def _private_runtime_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Doorbell pipes of the writer lock (see hpotrack.doorbell) go to a folder of this
    session, also for the processes the tests start, not to the user's temporary folder."""
    folder = tmp_path_factory.mktemp("runtime")
    folder.chmod(0o700)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_RUNTIME_DIR", str(folder))
        yield


@pytest.fixture(autouse=True, scope="session")
def _no_terminal_width() -> Iterator[None]:
    """Tables as written to a pipe, whatever the shell exports: with ``COLUMNS`` set the CLI
    fits its tables to that width, and a test that reads a table's columns would then depend
    on the terminal pytest runs in (pytest-xdist's workers see one). Tests of the fitting
    set it themselves."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("COLUMNS", raising=False)
        yield


@pytest.fixture(autouse=True, scope="session")
def _ctrl_c_as_in_a_terminal() -> Iterator[None]:
    """Python's own Ctrl-C handler, whoever started pytest: a shell starts a background
    job (``pytest &``, ``nohup``) with SIGINT ignored, which every process a test starts
    inherits, and the tests of Ctrl-C then see nothing happen."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A fresh database path (the file does not exist yet)."""
    return tmp_path / "h.db"


@pytest.fixture
def workloads_in_db(db: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``tests/workloads.py``, its studies in :func:`db` (``$HPOTRACK_DB``, which worker
    processes inherit, as they import it from this checkout)."""
    monkeypatch.setenv("HPOTRACK_DB", str(db))
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))
    from tests import workloads

    return workloads


@pytest.fixture
def paired_workloads(workloads_in_db: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """:func:`workloads_in_db`, each of the two workers of ``n_jobs=2`` waiting in its
    first trial for the other to start one (``HPOTRACK_TEST_PAIRED``), so that both run
    some: the wait is part of the trial, so not for trials with a ``trial_timeout``."""
    monkeypatch.setenv("HPOTRACK_TEST_PAIRED", "1")
    return workloads_in_db


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    """A store opened on :func:`db`, closed after the test."""
    opened = Store(db)
    yield opened
    opened.close()


@pytest.fixture
def no_thread_variables(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """None of the variables that size worker processes' thread pools is set (see
    :func:`hpotrack.workers.cpu_shares`)."""
    for name in (*workers.THREAD_VARIABLES, workers.PROCESS_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run the tests marked slow (large stress and kill -9 loops)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` are skipped unless ``--run-slow`` is given."""
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def refuse_full_reads(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to make reading a study's trials into its history (every trial, for a
    study just loaded) fail from then on: what reads one trial, or the best, must not
    need it (DESIGN principle 3)."""

    def refused(cache: TrialCache) -> int:
        raise AssertionError("read every trial of the study")

    return lambda: monkeypatch.setattr(TrialCache, "read_changes", refused)

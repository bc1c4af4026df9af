"""hpotrack used from threads of one process, as applications do: ``optimize()`` in
worker threads, several runs at once, a thread watching the study while it runs. The
threads of a process share one connection per database file (:func:`open_store`).

Threads of a trial itself (``hp.report`` from them): ``tests/test_tune.py``; reads while
another thread writes: ``tests/test_study.py`` and ``tests/test_store.py``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import warnings
from collections.abc import Callable, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import hpotrack as hp
from hpotrack import workers
from hpotrack.store import open_store
from hpotrack.study import Study, Worker
from tests.faultworker import integrity


def run_in_threads(*calls: tuple[hp.TunedFunction, int]) -> list[BaseException]:
    """Run ``tuned.optimize(n_trials=n)`` for each ``(tuned, n)`` in a thread of its
    own, all at once; what they raised."""
    raised: list[BaseException] = []
    start = threading.Barrier(len(calls))

    def optimize(tuned: hp.TunedFunction, n_trials: int) -> None:
        start.wait()
        try:
            tuned.optimize(n_trials=n_trials)
        except BaseException as exc:  # the test says what it was
            raised.append(exc)

    threads = [threading.Thread(target=optimize, args=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return raised


def test_every_statement_on_the_connection_the_threads_share_holds_their_lock(
    db: Path,
) -> None:
    """A run ending in one thread checkpointed the WAL on the shared connection while
    another thread's ask was inside its write transaction: that COMMIT failed ("SQL
    statements in progress") and stayed open, the next ask failed ("cannot start a
    transaction within a transaction") and the trials it was storing stayed running.
    Whether a statement lands inside another thread's transaction is a matter of
    scheduling; that each one runs with the threads' lock held is not, and is checked
    here for every statement of two runs at once and their end."""
    store = open_store(db)  # the connection both runs get: this process's for the file
    unlocked: list[str] = []

    def note_unlocked(statement: str) -> None:  # called in the thread that runs it
        if not store._writer.thread_lock._is_owned():  # type: ignore[attr-defined]
            unlocked.append(statement)

    store.conn.set_trace_callback(note_unlocked)

    def tuned(name: str) -> hp.TunedFunction:
        @hp.tune({"x": hp.Float(-5.0, 5.0)}, method="random", study=name, db=db, seed=0)
        def square(x: float, trial: hp.Trial) -> float:
            trial.report(x, step=1)
            return x * x

        return square

    assert run_in_threads((tuned("a"), 30), (tuned("b"), 30)) == []
    assert unlocked == []
    for name in ("a", "b"):
        states = [t.state.value for t in hp.load_study(name, db=db).trials]
        assert states == ["complete"] * 30
    assert integrity(db) == "ok"


def test_runs_starting_workers_in_two_threads_each_give_theirs_a_share(
    no_thread_variables: pytest.MonkeyPatch,
) -> None:
    """``optimize(n_jobs=2)`` in two threads at once: the second run, starting its
    workers while the first one had set the CPU-share variables, took them for the
    user's and set none; the first then removed them, and the second's workers started
    without any (each with a thread per CPU). Staged with events: the first run leaves
    its block once the second is inside its own, or after a second when the second
    waits for it."""
    share = str(max(1, workers.usable_cpus() // 2))
    second_inside, first_done = threading.Event(), threading.Event()
    seen: list[str | None] = []

    def first() -> None:
        with workers.cpu_shares(2):
            second_inside.wait(timeout=1.0)
        first_done.set()

    def second() -> None:
        with workers.cpu_shares(2):
            second_inside.set()
            first_done.wait()
            seen.append(os.environ.get("OMP_NUM_THREADS"))  # what its workers would get

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    threads[1].start()
    for thread in threads:
        thread.join()
    assert seen == [share]
    assert "OMP_NUM_THREADS" not in os.environ


@pytest.mark.parametrize(
    ("method", "first_batch"),
    [(hp.methods.Random(qmc=True), 1), (hp.methods.Bayes(n_startup=2), 2)],
    ids=["random-qmc", "bayes"],
)
def test_a_run_in_a_thread_leaves_the_warnings_of_the_others_alone(
    db: Path, monkeypatch: pytest.MonkeyPatch, method: hp.methods.Method, first_batch: int
) -> None:
    """``qmc`` random search and ``bayes`` silenced SciPy's Sobol balance warning with
    ``warnings.catch_warnings()``, which swaps the process's filters: while a run drew
    its points, every warning of every thread was ignored, and a thread leaving its
    own block meanwhile kept the ignoring filters for good (measured: after three
    ``bayes`` runs in threads, no warning of the process was shown any more). Staged:
    the run pauses in its first Sobol draw of ``first_batch`` points or more, while
    this thread warns."""
    from scipy.stats import qmc

    drawing, warned = threading.Event(), threading.Event()
    paused_draws: list[int] = []

    def paused(draw: Callable[..., Any]) -> Callable[..., Any]:
        def draw_after_the_warning(sampler: Any, n: int = 1, **options: Any) -> Any:
            points = draw(sampler, n, **options)
            if len(points) >= first_batch and not drawing.is_set():
                paused_draws.append(len(points))
                drawing.set()
                warned.wait()
            return points

        return draw_after_the_warning

    monkeypatch.setattr(qmc.Sobol, "random", paused(qmc.Sobol.random))
    monkeypatch.setattr(qmc.Sobol, "random_base2", paused(qmc.Sobol.random_base2))

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method=method, study="s", db=db, seed=0)
    def square(x: float) -> float:
        return x * x

    def optimize() -> None:
        try:
            square.optimize(n_trials=4)
        finally:  # a run that never draws such a batch fails the test, not hangs it
            drawing.set()

    before = list(warnings.filters)
    run = threading.Thread(target=optimize)
    run.start()
    drawing.wait()
    try:
        with warnings.catch_warnings(record=True) as shown:
            warnings.warn("the application's own warning", UserWarning, stacklevel=1)
    finally:
        warned.set()
        run.join()
    assert len(paused_draws) == 1
    assert [str(w.message) for w in shown] == ["the application's own warning"]
    assert warnings.filters == before
    assert len(hp.load_study("s", db=db).trials) == 4


def test_threads_calling_a_tuned_function_at_once_share_one_run(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Manual trials from a thread pool: each thread that came while another was storing
    the process's run stored one of its own (a runs row per thread, not per process).
    The first thread to store the run waits there (at most 1 s) for the second to come
    in too, as it did."""
    second_inside = threading.Event()
    inside: list[Mapping[str, Any]] = []
    register = Study.worker

    def register_waiting_for_a_second(study: Study, row: Mapping[str, Any]) -> Worker:
        inside.append(row)
        if len(inside) == 1:
            second_inside.wait(timeout=1.0)
        else:
            second_inside.set()
        return register(study, row)

    monkeypatch.setattr(Study, "worker", register_waiting_for_a_second)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float) -> float:
        return x

    start = threading.Barrier(2)

    def call(x: float) -> None:
        start.wait()
        train(x=x)

    threads = [threading.Thread(target=call, args=(x,)) for x in (0.25, 0.75)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with closing(sqlite3.connect(db)) as conn:
        runs = conn.execute("SELECT id FROM runs").fetchall()
        trials = conn.execute("SELECT run_id FROM trials").fetchall()
    assert len(runs) == 1 and trials == runs * 2

"""``train.ask()`` and ``train.tell(trial, result)``: trials run by a loop of the user's
own (:mod:`hpotrack.ask_tell`), stored as the run loop stores them."""

from __future__ import annotations

import fcntl
import gc
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import hpotrack as hp
from hpotrack import ask_tell, connection
from hpotrack.cache import TrialCache
from hpotrack.errors import SearchExhausted, StorageError, StudyDeleted
from hpotrack.methods.base import Proposal
from hpotrack.methods.history import History
from hpotrack.methods.random_search import Random
from hpotrack.methods.registry import register
from hpotrack.records import TrialRecord
from hpotrack.recovery import heartbeat_for
from hpotrack.runner import CheckpointCollector, wants_trial
from hpotrack.running_trial import running
from tests.repro_workload import STUDIES, repeated
from tests.test_processes import ROOT, open_gate

SPACE = {"x": hp.Float(0.0, 1.0)}


def tuned(
    db: Path, method: str | hp.methods.Method = "random", **options: object
) -> hp.TunedFunction:
    @hp.tune(SPACE, method=method, study="s", db=db, seed=0, **options)  # type: ignore[arg-type]
    def train(x: float) -> float:
        return (x - 0.3) ** 2

    return train


def test_a_loop_of_asks_and_tells_stores_each_trial_as_optimize_would(db: Path) -> None:
    train = tuned(db, method="tpe")
    told = []
    for _ in range(12):
        trial = train.ask()
        told.append(train.tell(trial, train.fn(**trial.params)))
    ran = hp.load_study("s", db=db).trials
    optimized = tuned(db.with_name("o.db"), method="tpe").optimize(n_trials=12).trials
    assert [t.params for t in ran] == [t.params for t in optimized]  # the same proposals
    assert [t.value for t in ran] == [t.value for t in optimized]
    assert told == ran  # tell returns what it stored
    assert {t.state for t in ran} == {hp.TrialState.COMPLETE}
    assert {t.origin for t in ran} == {"sampled"}
    with closing(sqlite3.connect(db)) as conn:
        runs = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert runs == 1  # one run of this process, as for direct calls and optimize()


def test_trials_in_flight_are_pending_for_the_method(db: Path) -> None:
    """Asked before any is told, a grid's trials are distinct cells; once every cell is
    out, the next ask says the search is exhausted, naming the study."""

    @hp.tune({"x": [1, 2, 3]}, method="grid", study="g", db=db)
    def train(x: int) -> float:
        return float(x)

    trials = [train.ask() for _ in range(3)]
    assert sorted(t.params["x"] for t in trials) == [1, 2, 3]
    assert [t.number for t in trials] == [0, 1, 2]
    assert {t.state for t in hp.load_study("g", db=db).trials} == {hp.TrialState.RUNNING}
    with pytest.raises(SearchExhausted, match="study 'g': grid search is complete"):
        train.ask()
    for trial in reversed(trials):  # in any order
        train.tell(trial, float(trial.params["x"]))
    assert hp.load_study("g", db=db).best.params == {"x": 1}


def test_an_ask_gradient_descent_cannot_answer_yet_names_the_trial_to_tell(db: Path) -> None:
    """Gradient descent proposes the next iterate from the asked trial's gradient: a
    second ask before the tell says that trial is not told yet."""
    train = tuned(db, method="gradient")
    trial = train.ask()
    with pytest.raises(
        SearchExhausted, match=r"; nothing to ask now \(1 trial asked here is not told yet\)$"
    ):
        train.ask()
    train.tell(trial, {"value": 0.5, "hypergrad": {"x": 1.0}})
    assert (
        train.tell(train.ask(), {"value": 0.25, "hypergrad": {"x": 0.5}}).state
        is hp.TrialState.COMPLETE
    )


def test_queued_trials_are_asked_first(db: Path) -> None:
    train = tuned(db)
    train.study.enqueue({"x": 0.25})
    trial = train.ask()
    assert trial.params == {"x": 0.25}
    assert train.tell(trial, 0.5).origin == "enqueued"


def test_tell_stores_a_failure_from_an_exception_or_a_message(db: Path) -> None:
    train = tuned(db)
    trial = train.ask()
    try:
        raise ValueError("the job ran out of memory")
    except ValueError as exc:
        record = train.tell(trial, error=exc)
    assert record.state is hp.TrialState.FAILED
    assert record.error is not None
    assert "Traceback" in record.error and "ValueError: the job ran out of memory" in record.error
    record = train.tell(train.ask(), error="node 7 went down")
    assert (record.state, record.error) == (hp.TrialState.FAILED, "node 7 went down")


def test_tell_judges_a_result_as_a_returned_value(db: Path) -> None:
    """A dict without the objective, or None, fails the trial with the run loop's words."""
    train = tuned(db)
    record = train.tell(train.ask(), {"loss": 0.1, "acc": 0.9})
    assert record.state is hp.TrialState.FAILED
    assert "without the objective 'value'" in (record.error or "")
    record = train.tell(train.ask(), {"value": 0.1, "acc": 0.9})
    assert (record.state, record.value, record.metrics) == (
        hp.TrialState.COMPLETE,
        0.1,
        {"value": 0.1, "acc": 0.9},
    )
    assert train.tell(train.ask()).state is hp.TrialState.FAILED  # told nothing


def test_reports_are_stored_with_the_outcome(db: Path) -> None:
    train = tuned(db, budget=hp.Budget(1, 4))
    trial = train.ask()
    assert trial.budget == 4
    for epoch in trial.steps:
        trial.report(1.0 / epoch, step=epoch)
    train.tell(trial, 0.25)
    study = hp.load_study("s", db=db)
    assert study.curve(trial.number)["value"] == [(1, 1.0), (2, 0.5), (3, 1 / 3), (4, 0.25)]
    with pytest.raises(hp.TrialError, match="has finished"):
        trial.report(0.1, step=4)


def test_a_trial_its_method_stops_is_told_pruned(db: Path) -> None:
    """Successive halving over three asked trials: at the rung the first two stop (none
    goes on before three arrived), the third is not the best of the three and stops too;
    told, each is pruned with its report; the next ask promotes the best, which continues
    from its checkpoint."""
    train = tuned(db, method=hp.methods.SHA(eta=3), budget=hp.Budget(1, 3))
    values = {0: 0.3, 1: 0.1, 2: 0.2}
    for number, value in values.items():
        trial = train.ask()
        assert (trial.number, trial.budget) == (number, 3)
        trial.save_checkpoint({"trained": 1}, step=1)
        if number == 2:  # checks on its own terms, then returns
            trial.report(value, step=1, prune=False)
            assert trial.should_prune()
            record = train.tell(trial)
        else:
            with pytest.raises(hp.Pruned) as raised:
                trial.report(value, step=1)
            record = train.tell(trial, error=raised.value)
        assert (record.state, record.value) == (hp.TrialState.PRUNED, value)
    promoted = train.ask()
    assert promoted.load_checkpoint() == {"trained": 1}
    assert list(promoted.steps) == [2, 3]
    record = train.tell(promoted, 0.05)
    assert record.origin == "promoted" and [e.parent for e in record.parents] == [1]
    assert hp.load_study("s", db=db).curve(1)["value"] == [(1, 0.1)]


def test_a_trial_is_told_once_and_only_by_the_function_that_asked_it(db: Path) -> None:
    train, other = tuned(db), tuned(db.with_name("other.db"))
    trial = train.ask()
    with pytest.raises(hp.TrialError, match=r"was not handed out by train\.ask\(\)"):
        other.tell(trial, 0.1)
    train.tell(trial, 0.1)
    with pytest.raises(hp.TrialError, match=f"trial {trial.number} of study 's' was told already"):
        train.tell(trial, 0.2)
    with pytest.raises(hp.TrialError, match=r"takes the trial train\.ask\(\) returned, but got 3"):
        train.tell(3, 0.2)  # type: ignore[arg-type]
    with pytest.raises(hp.TrialError, match=r"error=\.\.\.\) takes the exception .* got 404"):
        train.tell(train.ask(), error=404)  # type: ignore[arg-type]
    assert hp.load_study("s", db=db).trials[0].value == 0.1  # told once


def test_an_asked_trial_beats_until_told(db: Path) -> None:
    """The heartbeat keeps an asked trial alive (other processes would otherwise find it
    stale and mark it lost) and lets go of it once told."""
    train = tuned(db)
    trial = train.ask()
    beat = heartbeat_for(train.study.store)
    assert trial.trial_id in beat._trials
    train.tell(trial, 0.1)
    assert trial.trial_id not in beat._trials


def test_another_thread_may_tell(db: Path) -> None:
    train = tuned(db, method="tpe")
    trials = [train.ask() for _ in range(4)]
    told: list[hp.TrialRecord] = []
    threads = [
        threading.Thread(target=lambda t=t: told.append(train.tell(t, t.params["x"])))
        for t in trials
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(r.number for r in told) == [0, 1, 2, 3]
    assert train.ask().number == 4  # the asking thread's study sees the tells


def test_telling_a_trial_of_a_deleted_study_stores_nothing(db: Path) -> None:
    train = tuned(db)
    trial = train.ask()
    result = subprocess.run(
        [sys.executable, "-m", "hpotrack", "--db", str(db), "delete", "s", "--yes"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with pytest.raises(StudyDeleted, match="study 's' was deleted"):
        train.tell(trial, 0.1)
    with pytest.raises(hp.StudyNotFoundError):
        hp.load_study("s", db=db)  # not created again by the tell
    with pytest.raises(hp.TrialError, match="has finished"):
        trial.report(0.1)


ASKER = """
import sys, time
import hpotrack as hp

@hp.tune({{"x": hp.Float(0.0, 1.0)}}, method="random", study="s", db={db!r}, seed=0)
def train(x):
    return x

trial = train.ask()
print(trial.number, trial.params["x"], flush=True)
time.sleep(120)
"""


def test_a_trial_never_told_is_lost_with_its_process_and_asked_again(db: Path) -> None:
    """``kill -9`` of a process holding an asked trial: the next ask elsewhere finds the
    trial lost and hands out its retry first, with the same hyperparameters."""
    asker = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(ASKER.format(db=str(db)))],
        stdout=subprocess.PIPE,
        text=True,
    )
    with asker:  # closes its stdout
        try:
            assert asker.stdout is not None
            number, x = asker.stdout.readline().split()
        finally:
            os.kill(asker.pid, signal.SIGKILL)
            asker.wait(timeout=60)
    train = tuned(db)
    retry = train.ask()
    assert retry.number == 1 and retry.params == {"x": float(x)}
    record = train.tell(retry, 0.5)
    assert record.origin == "retried" and [e.parent for e in record.parents] == [int(number)]
    lost = hp.load_study("s", db=db).trials[0]
    assert lost.state is hp.TrialState.FAILED and "worker lost" in (lost.error or "")


def test_optunas_study_ask_names_the_tuned_functions(db: Path) -> None:
    study = tuned(db).study
    with pytest.raises(AttributeError, match=r"'ask'; hpotrack spells it train\.ask\(\)"):
        study.ask()  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match=r"'tell'; hpotrack spells it train\.tell\(trial"):
        study.tell  # type: ignore[attr-defined]  # noqa: B018


def test_asked_trials_trained_in_a_thread_pool_report_and_are_pruned(db: Path) -> None:
    """The README's pattern with pruning: the pool's threads report (each report at a
    rung is a check, written through the asking thread's study) while the main thread
    keeps asking and telling. Every trial ends once, its curve whole."""
    train = tuned(db, method=hp.methods.SHA(eta=3), budget=hp.Budget(1, 9))

    def fit(trial: hp.Trial) -> float:
        x = trial.params["x"]
        for epoch in trial.steps:
            trial.report((x - 0.3) ** 2 + 1.0 / epoch, step=epoch)
        return (x - 0.3) ** 2 + 1.0 / 9

    with ThreadPoolExecutor(4) as pool:
        jobs = {}
        for _ in range(40):
            if len(jobs) == 4:
                done, _ = wait(jobs, return_when=FIRST_COMPLETED)
                for job in done:
                    trial = jobs.pop(job)
                    error = job.exception()
                    if error is None:
                        train.tell(trial, job.result())
                    else:
                        assert isinstance(error, hp.Pruned)
                        train.tell(trial, error=error)
            trial = train.ask()
            jobs[pool.submit(fit, trial)] = trial
        for job, trial in jobs.items():
            error = job.exception()
            train.tell(trial, error=error) if error else train.tell(trial, job.result())
    trials = hp.load_study("s", db=db).trials
    assert len(trials) == 40
    states = {t.state for t in trials}
    assert states == {hp.TrialState.COMPLETE, hp.TrialState.PRUNED}
    for record in trials:
        curve = hp.load_study("s", db=db).curve(record.number)["value"]
        steps = [step for step, _ in curve]
        assert steps == list(range(steps[0], steps[0] + len(steps)))  # none lost
        assert curve[-1][1] == record.value
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_check_from_another_thread_waits_while_the_asking_thread_claims(db: Path) -> None:
    """An asked trial's reports go through the study of the thread that asked it. When a
    pool thread's report reaches a check while that thread is in its next ask (here: the
    method proposing, outside the write lock), the check waits for the ask to end, so
    the two never change the study's cached trials at once, nor does the check read
    them (where the check is) while the ask changes them."""
    proposing, reported = threading.Event(), threading.Event()
    seen_during_the_ask: list[bool] = []
    stepped_during_the_ask: list[bool] = []

    @register
    @dataclass(frozen=True)
    class Checking(Random):
        name = "test-checking-at-step-1"

        def next_check(self, trial: TrialRecord, step: int, history: History) -> int | None:
            return 1 if step <= 1 else None

        def on_report(self, trial: TrialRecord, step: int, history: History) -> bool:
            return False

        def check_step(self, trial: TrialRecord, due: int, step: int, history: History) -> int:
            stepped_during_the_ask.append(proposing.is_set() and not seen_during_the_ask)
            return super().check_step(trial, due, step, history)

        def ask(self, history: History) -> Proposal:
            if history.trials:  # the second ask: let the pool thread report meanwhile
                proposing.set()
                reported.wait(timeout=1.0)
                seen_during_the_ask.append(reported.is_set())
            return super().ask(history)

    @hp.tune(SPACE, method=Checking(), study="c", db=db, seed=0, budget=hp.Budget(1, 3))
    def train(x: float) -> float:
        return x

    first = train.ask()

    def report_at_the_check() -> None:
        proposing.wait(timeout=60)
        first.report(0.5, step=1)
        reported.set()

    pool_thread = threading.Thread(target=report_at_the_check)
    pool_thread.start()
    second = train.ask()
    pool_thread.join(timeout=60)
    assert seen_during_the_ask == [False]  # the check waited for the ask
    assert stepped_during_the_ask == [False]
    assert reported.is_set()
    train.tell(first, 0.5)
    train.tell(second, 0.25)
    assert hp.load_study("c", db=db).trials[0].checks == {1: 0.5}


def run_by_asking(tuned_function: hp.TunedFunction, n_trials: int) -> None:
    """The loop a user writes: ask, run the function, tell what it returned or raised,
    until ``n_trials`` or the method is done (as ``optimize()`` stops)."""
    for _ in range(n_trials):
        try:
            trial = tuned_function.ask()
        except SearchExhausted:
            return
        arguments = dict(trial.params)
        if wants_trial(tuned_function.fn):
            arguments["trial"] = trial
        try:
            with running(trial):  # the workload's functions look up their trial
                result = tuned_function.fn(**arguments)
        except hp.Pruned as pruned:
            tuned_function.tell(trial, error=pruned)
        else:
            tuned_function.tell(trial, result)


def checkpoints_kept(db: Path) -> list[tuple[int, int]]:
    """(trial number, step) of every checkpoint stored in ``db``."""
    with closing(sqlite3.connect(db)) as conn:
        query = "SELECT t.number, c.step FROM checkpoints c JOIN trials t ON t.id = c.trial_id"
        return sorted(conn.execute(query).fetchall())


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_method_asked_and_told_runs_the_search_optimize_runs(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One interface for every method: a loop of asks and tells makes the trials a
    seeded ``optimize()`` makes, parameters, budgets, lineage, checks and all (the
    studies of tests/test_reproducibility.py), and keeps the same checkpoints (those a
    trial may still start from) when both collect after every trial."""
    monkeypatch.setattr(CheckpointCollector, "SHARE", 1e9)  # no pacing: always due
    method, space, function, budget, _, n_trials = STUDIES[name]
    runs = {}
    for way in ("asked", "optimized"):
        tuned_function = hp.tune(
            space, method=method, study=name, seed=11, db=tmp_path / f"{way}.db", budget=budget
        )(function)
        if way == "asked":
            run_by_asking(tuned_function, n_trials)
        else:
            tuned_function.optimize(n_trials=n_trials)
        runs[way] = [repeated(t) for t in hp.load_study(name, db=tmp_path / f"{way}.db").trials]
    assert runs["asked"] == runs["optimized"]
    assert checkpoints_kept(tmp_path / "asked.db") == checkpoints_kept(tmp_path / "optimized.db")
    assert len(runs["asked"]) == (10 if name == "pbt" else n_trials)  # pbt ends after 10


def test_an_interruption_told_queues_the_trial_to_run_again(db: Path) -> None:
    """Ctrl-C in the user's loop is no fault of the trial: as in optimize(), it is stored
    interrupted and queued, and the next ask hands out its retry."""
    train = tuned(db, retries=0)  # an interruption does not count against retries
    trial = train.ask()
    record = train.tell(trial, error=KeyboardInterrupt())
    assert (record.state, record.error) == (hp.TrialState.FAILED, "interrupted (KeyboardInterrupt)")
    retry = train.ask()
    assert retry.params == trial.params
    assert train.tell(retry, 0.5).origin == "retried"


ASKING_LOOP = """
import sys
from hpotrack.errors import SearchExhausted
from workloads import grid24, quadratic, wait_for_go

tuned = {"grid24": grid24, "quadratic": quadratic}[sys.argv[1]]
wait_for_go()
for _ in range(int(sys.argv[2])):
    try:
        trial = tuned.ask()
    except SearchExhausted:
        break
    arguments = dict(trial.params)
    if tuned is quadratic:
        arguments["trial"] = trial
    tuned.tell(trial, tuned.fn(**arguments))
"""


@pytest.mark.parametrize(("workload", "study", "each", "total"), [
    ("grid24", "grid24", 24, 24),  # until the grid is done: every cell once
    ("quadratic", "shared", 10, 30),  # what auto picks (pending-aware): 10 trials each
])  # fmt: skip
def test_processes_asking_and_telling_share_a_study(
    tmp_path: Path, workload: str, study: str, each: int, total: int
) -> None:
    """Three real processes, each a loop of asks and tells on one study, started at
    once: every trial claimed once, numbered without gaps, complete with its reports."""
    db = tmp_path / "h.db"
    env = {**os.environ, "HPOTRACK_DB": str(db), "HPOTRACK_TEST_GATE": str(tmp_path)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests")])
    command = [sys.executable, "-c", ASKING_LOOP, workload, str(each)]
    processes = [
        subprocess.Popen(command, env=env, text=True, stderr=subprocess.PIPE) for _ in range(3)
    ]
    open_gate(tmp_path, processes)
    for process in processes:
        _, stderr = process.communicate(timeout=240)
        assert process.returncode == 0, stderr
    trials = hp.load_study(study, db=db).trials
    assert [t.number for t in trials] == list(range(total))
    assert {t.state for t in trials} == {hp.TrialState.COMPLETE}
    assert len({tuple(t.params.values()) for t in trials}) == total
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        reports = conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
        assert reports == (3 * total if workload == "quadratic" else 0)
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 3


def test_an_asked_trial_sent_to_a_process_pool_says_to_send_its_params(db: Path) -> None:
    train = tuned(db)
    trial = train.ask()
    with pytest.raises(hp.TrialError, match=r"send trial\.params and tell the result"):
        pickle.dumps(trial)
    record = train.tell(trial, error="")
    assert record.error == "told failed, without a message"


def test_threads_sharing_one_study_object_never_wait_for_each_other_for_ever(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Study's threads take its own lock before the connection's (every path): one
    queueing trials (the connection's write, then the study's cache) and one reading them
    (the study's cache, then the connection) would otherwise each hold what the other
    waits for. The queueing thread pauses before it reads, so the reader comes between."""
    study = tuned(db).study
    errors: list[BaseException] = []
    refresh = hp.Study.refresh

    def refresh_after_a_pause(self: hp.Study) -> object:
        if threading.current_thread() is threads[0]:
            time.sleep(0.002)  # widens the window in which the reader takes its turn
        return refresh(self)

    monkeypatch.setattr(hp.Study, "refresh", refresh_after_a_pause)

    def repeat(action: Callable[[], object]) -> None:
        try:
            for _ in range(100):
                action()
        except BaseException as exc:  # the test says what it was
            errors.append(exc)

    threads = [
        threading.Thread(target=repeat, args=(lambda: study.enqueue({"x": 0.5}),), daemon=True),
        threading.Thread(target=repeat, args=(lambda: study.trials,), daemon=True),
    ]
    for thread in threads:
        thread.start()
    threads[1].join(timeout=60)  # the reader ends first, or both wait for ever
    threads[0].join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "the threads deadlocked"
    assert not errors
    assert len(study.trials) == 100


def test_an_ask_interrupted_after_its_claim_gives_the_trial_back(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C landing in ask() after the claim committed: nobody holds the trial, and
    its process, alive, would keep it running for ever. It is queued again, and the
    next ask hands it out."""
    train = tuned(db)
    make_handle = ask_tell.new_trial

    def interrupted(study: hp.Study, claimed: object) -> hp.Trial:
        raise KeyboardInterrupt

    monkeypatch.setattr(ask_tell, "new_trial", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train.ask()
    [given_back] = hp.load_study("s", db=db).trials
    assert given_back.state is hp.TrialState.QUEUED
    monkeypatch.setattr(ask_tell, "new_trial", make_handle)
    trial = train.ask()
    assert (trial.number, trial.params) == (0, given_back.params)
    assert train.tell(trial, 0.5).state is hp.TrialState.COMPLETE


def in_a_fork(action: Callable[[], object], said: Path) -> tuple[int, str]:
    """Run ``action`` in a forked child, which writes to ``said`` what it raised ("done"
    when nothing) and ends at once: the child's pid and what it said."""
    pid = os.fork()
    if pid == 0:
        try:
            action()
            said.write_text("done")
        except BaseException as exc:
            said.write_text(f"{type(exc).__name__}: {exc}")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return pid, said.read_text()


def test_a_forked_child_is_told_to_tell_from_the_asking_process(db: Path) -> None:
    """A forked child has a copy of the asked trial: its tell is refused with the fix
    (not said to be a deleted study), and the asking process tells it."""
    train = tuned(db)
    trial = train.ask()
    pid, said = in_a_fork(lambda: train.tell(trial, 0.5), db.with_name("said.txt"))
    assert said == (
        f"TrialError: trial 0 of study 's' was asked by process {os.getpid()}, not this one "
        f"({pid}, a fork of it): tell it from the asking process, train.tell(trial, result), "
        "sending the result there (a pool's future, a queue)"
    )
    assert hp.load_study("s", db=db).trials[0].state is hp.TrialState.RUNNING
    assert train.tell(trial, 0.25).value == 0.25


def test_a_forked_child_reporting_is_told_to_report_from_the_trials_process(db: Path) -> None:
    """A forked child has a copy of the asked trial: a report there, at a check, went
    through the asking process's connection (which SQLite forbids in another process),
    and the method pruned a trial that the asking process then stored complete. It is
    refused, and nothing reaches the database."""
    train = tuned(db, method=hp.methods.SHA(eta=3), budget=hp.Budget(1, 9))
    trial = train.ask()
    # a check of the first rung
    pid, said = in_a_fork(lambda: trial.report(0.5, step=1), db.with_name("said.txt"))
    assert said.startswith(
        f"TrialError: trial 0 of study 's' runs in process {os.getpid()}: report() from "
        f"process {pid}, a fork of it, would reach neither the trial nor its database; "
        "report from the process that runs it"
    )
    assert said.endswith("send trial.params and tell the result from the asking process")
    assert hp.load_study("s", db=db).trials[0].checks == {}
    trial.report(0.5, step=9)
    assert train.tell(trial, 0.5).state is hp.TrialState.COMPLETE


def test_a_tell_that_stored_nothing_may_be_told_again(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holding the database's lock for too long fails the tell, which
    stored nothing: the trial is still asked, with its reports, and told again later."""
    train = tuned(db, budget=hp.Budget(1, 2))
    trial = train.ask()
    trial.report(0.5, step=1)
    trial.report(0.25, step=2)
    monkeypatch.setattr(connection, "BUSY_TIMEOUT_S", 0.05)  # hpotrack waits 10x that
    held = os.open(db.with_name("h.db.lock"), os.O_RDWR)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)  # as another process inside its transaction
        with pytest.raises(StorageError, match="stayed locked by another hpotrack process"):
            train.tell(trial, 0.25)
    finally:
        os.close(held)
    assert hp.load_study("s", db=db).trials[0].state is hp.TrialState.RUNNING
    record = train.tell(trial, 0.25)
    assert (record.state, record.value) == (hp.TrialState.COMPLETE, 0.25)
    assert hp.load_study("s", db=db).curve(0)["value"] == [(1, 0.5), (2, 0.25)]


def test_a_tell_interrupted_before_it_stored_may_be_told_again(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C landing in tell() while it judges the result: nothing is stored, the trial
    (alive in its process, so never found lost) is still asked, its reports kept."""
    train = tuned(db)
    trial = train.ask()
    trial.report(0.5, step=1)
    judge = ask_tell.returned_outcome

    def interrupted(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(ask_tell, "returned_outcome", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train.tell(trial, 0.25)
    monkeypatch.setattr(ask_tell, "returned_outcome", judge)
    trial.report(0.25, step=2)  # still running
    assert train.tell(trial, 0.25).state is hp.TrialState.COMPLETE
    assert hp.load_study("s", db=db).curve(0)["value"] == [(1, 0.5), (2, 0.25)]


def test_a_tell_interrupted_just_after_its_commit_has_told_the_trial(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C landing right after the outcome's commit: the trial is stored, so it is not
    asked again (a second tell would be dropped as late, with a misleading warning), and
    a tell never ignores the user's Ctrl-C to protect its write."""
    train = tuned(db)
    trial = train.ask()
    store_outcome = hp.Study.store_outcome

    def stored_then_interrupted(self: hp.Study, *args: Any) -> None:
        store_outcome(self, *args)
        raise KeyboardInterrupt

    monkeypatch.setattr(hp.Study, "store_outcome", stored_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        train.tell(trial, 0.25)
    monkeypatch.setattr(hp.Study, "store_outcome", store_outcome)
    with pytest.raises(hp.TrialError, match="was told already"):
        train.tell(trial, 0.5)
    (record,) = hp.load_study("s", db=db).trials
    assert (record.state, record.value) == (hp.TrialState.COMPLETE, 0.25)


def test_tell_takes_a_result_or_an_error_not_both(db: Path) -> None:
    train = tuned(db)
    trial = train.ask()
    with pytest.raises(hp.TrialError) as refused:
        train.tell(trial, 0.5, error="node 7 went down")
    assert str(refused.value) == (
        "train.tell() takes a result or error=, not both, but got result=0.5 and "
        "error='node 7 went down' for trial 0: train.tell(trial, result) for a trial that "
        "trained, train.tell(trial, error=...) for one that did not"
    )
    assert train.tell(trial, 0.5).value == 0.5  # still asked


def test_an_interruption_told_after_the_method_stopped_the_trial_stores_it_pruned(
    db: Path,
) -> None:
    """As in optimize(): Ctrl-C in the clean-up of a trial its method stopped (here it
    checked should_prune()) stores it pruned, not interrupted and queued again."""
    train = tuned(db, method=hp.methods.SHA(eta=3), budget=hp.Budget(1, 3))
    trial = train.ask()
    trial.report(0.3, step=1, prune=False)
    assert trial.should_prune()
    record = train.tell(trial, error=KeyboardInterrupt())
    assert (record.state, record.value) == (hp.TrialState.PRUNED, 0.3)
    assert train.ask().number == 1  # nothing queued: a new trial


def test_a_failure_told_warns_as_optimize_does(db: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A trial told failed gets the warnings its run suggests, as one whose function
    raised does in optimize(): here, reports for a method that stops no trial."""
    train = tuned(db, method="tpe", budget=hp.Budget(1, 9))
    trial = train.ask()
    trial.report(0.5, step=1)
    with caplog.at_level("WARNING", logger="hpotrack"):
        train.tell(trial, error="node 7 went down")
    assert "method 'tpe' stops no trial early" in caplog.text


def test_a_tell_waits_while_another_thread_reads_into_the_asking_study(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pool thread looking up its trial's checkpoint reads others' changes into the
    asking thread's study (its cached trials) while the main thread tells another
    trial, which reads them (is its result of use to the method?): the tell waits for
    the read to end. The pool thread pauses while it applies a change."""
    applying, looked = threading.Event(), threading.Event()
    during_the_read: list[bool] = []

    @register
    @dataclass(frozen=True)
    class Judging(Random):
        name = "test-judging-results"

        def unusable(
            self, trial: TrialRecord, metrics: Mapping[str, Any], history: History
        ) -> str | None:
            during_the_read.append(applying.is_set())
            looked.set()
            return None

    @hp.tune(SPACE, method=Judging(), study="j", db=db, seed=0)
    def train(x: float) -> float:
        return x

    apply = TrialCache.apply

    def apply_slowly(self: TrialCache, *args: Any, **kwargs: Any) -> None:
        if threading.current_thread() is pool_thread:
            applying.set()
            looked.wait(timeout=1.0)
            applying.clear()
        apply(self, *args, **kwargs)

    first, second = train.ask(), train.ask()
    hp.load_study("j", db=db).enqueue(x=0.5)  # a change for the pool thread to read
    monkeypatch.setattr(TrialCache, "apply", apply_slowly)
    pool_thread = threading.Thread(target=first.load_checkpoint)
    pool_thread.start()
    assert applying.wait(timeout=60)
    train.tell(second, 0.25)
    pool_thread.join(timeout=60)
    assert during_the_read == [False]
    train.tell(first, 0.5)


@pytest.mark.parametrize("teller", ["asking thread", "other threads"])
def test_checkpoints_are_collected_whichever_thread_tells(
    teller: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Successive halving asked in one thread, each trial saving a checkpoint per step:
    told from that thread or from others (a pool's callbacks), a tell collects the
    checkpoints no trial can start from, as optimize() keeps them."""
    monkeypatch.setattr(CheckpointCollector, "SHARE", 1e9)  # no pacing: always due
    runs = {}
    for way in ("asked", "optimized"):
        db = tmp_path / f"{way}.db"

        @hp.tune(SPACE, method=hp.methods.SHA(eta=3), study="s", db=db, seed=0,
                 budget=hp.Budget(1, 9))  # fmt: skip
        def train(x: float, trial: hp.Trial) -> float:
            for step in trial.steps:
                trial.save_checkpoint({"step": step}, step=step)
                trial.report(x + 1.0 / step, step=step)
            return x

        if way == "optimized":
            train.optimize(n_trials=12)
        else:
            for _ in range(12):
                trial = train.ask()
                try:
                    told: dict[str, object] = {"result": train.fn(trial.params["x"], trial)}
                except hp.Pruned as pruned:
                    told = {"error": pruned}
                if teller == "asking thread":
                    train.tell(trial, **told)  # type: ignore[arg-type]
                else:
                    thread = threading.Thread(target=train.tell, args=(trial,), kwargs=told)
                    thread.start()
                    thread.join(timeout=60)
        runs[way] = checkpoints_kept(db)
    assert runs["asked"] == runs["optimized"]
    assert len(runs["asked"]) < 12  # some were collected


def test_threads_that_asked_and_told_leave_no_study_behind(db: Path) -> None:
    """Each thread has a Study of its own (with every trial cached): one asking and
    telling in a thread that then ends leaves nothing holding it, the checkpoint
    collection the tell keeps for it included."""
    train = tuned(db)
    studies: list[weakref.ref[hp.Study]] = []

    def ask_and_tell() -> None:
        train.tell(train.ask(), 0.5)
        studies.append(weakref.ref(train.study))

    for _ in range(3):
        thread = threading.Thread(target=ask_and_tell)
        thread.start()
        thread.join(timeout=60)
    gc.collect()
    assert len(studies) == 3
    assert [study() for study in studies] == [None, None, None]

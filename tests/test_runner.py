"""The run loop: batched claims under contention, and giving back what was not run."""

from __future__ import annotations

import contextlib
import itertools
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hpotrack as hp
from hpotrack import limits, runner
from hpotrack.cache import TrialCache
from hpotrack.errors import TooManyFailures
from hpotrack.methods.base import Proposal
from hpotrack.methods.history import History
from hpotrack.records import TrialState
from hpotrack.runner import Batch
from hpotrack.store import close_stores


def test_a_batch_stays_at_one_without_contention() -> None:
    batch = Batch()
    for _ in range(20):
        batch.asked(waited=0.01, contended=False)  # waiting, but nobody else wrote
        batch.ran()
    assert batch.size == 1


def test_a_batch_grows_when_short_trials_wait_for_other_writers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = itertools.count()
    monkeypatch.setattr(time, "perf_counter", lambda: next(clock) * 1e-5)  # 10 µs per look
    batch = Batch()
    sizes = []
    for _ in range(8):
        batch.asked(waited=1e-3, contended=True)
        for _ in range(batch.size):
            batch.ran()
        sizes.append(batch.size)
    assert sizes == [2, 4, 8, 16, 16, 16, 16, 16]


def test_a_batch_shrinks_back_once_trials_take_longer_than_the_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: now[0])
    batch = Batch()
    batch.size = 8
    batch.asked(waited=1e-4, contended=True)
    for _ in range(8):
        now[0] += 5e-4  # trials of 0.5 ms: longer than the 0.1 ms wait
        batch.ran()
    assert batch.size == 4


def test_trials_longer_than_a_millisecond_never_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: now[0])
    batch = Batch()
    for _ in range(5):
        batch.asked(waited=1.0, contended=True)  # a long wait, e.g. another's model fit
        now[0] += 2e-3
        batch.ran()
    assert batch.size == 1


def fixed_batches(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """Make every ask of the run loop claim ``size`` trials."""
    monkeypatch.setattr(Batch, "__init__", lambda self: setattr(self, "size", size))
    monkeypatch.setattr(Batch, "asked", lambda self, waited, contended: None)
    monkeypatch.setattr(Batch, "ran", lambda self: None)


def test_a_batched_run_stores_every_trial_once_in_number_order(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed_batches(monkeypatch, 4)
    seen: list[float] = []

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="b", db=db, seed=3)
    def f(x: float, trial: hp.Trial) -> float:
        trial.report(x, step=0)
        seen.append(x)
        return x

    study = f.optimize(n_trials=10)
    trials = study.trials
    assert [t.number for t in trials] == list(range(10))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert [t.params["x"] for t in trials] == seen
    assert all(study.curve(t.number) == {"value": [(0, t.value)]} for t in trials)


class _ShiftedClock:
    """The ``time`` module, with ``time()`` moved on by ``shift`` seconds."""

    def __init__(self) -> None:
        self.shift = 0.0

    def time(self) -> float:
        return time.time() + self.shift

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def test_a_timeout_gives_back_the_claimed_trials_it_did_not_run(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed_batches(monkeypatch, 4)
    calls = itertools.count()
    clock = _ShiftedClock()
    monkeypatch.setattr(limits, "time", clock)  # the clock the deadline is checked on

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="t", db=db, seed=0)
    def f(x: float) -> float:
        if next(calls) == 1:
            clock.shift += 7200.0  # the timeout passes during the second trial of the batch
        return x

    # an hour: the first trial is inside it however loaded the machine (a sleep past a
    # one-second timeout took that second, and a cold start could use up the timeout)
    f.optimize(n_trials=10, timeout=3600.0)
    states = [t.state for t in f.study.trials]
    assert states == [TrialState.COMPLETE] * 2 + [TrialState.QUEUED] * 2
    given_back = f.study.trials[2]
    assert given_back.started is None and given_back.pid is None
    study = f.optimize(n_trials=10)  # the queued ones run first, then new proposals
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 10
    assert [t.params for t in study.trials][2:4] == [t.params for t in f.study.trials][2:4]


def test_no_trial_starts_once_the_timeout_passed_during_its_ask(
    db: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The loop looked at the deadline before each ask only, and an ask can take long:
    waiting for the write lock while other workers write, or for the method's proposal
    (a model fit). A trial it claimed after the timeout passed still started (0.8 s
    after a 1.5 s timeout, two workers on a loaded machine). Here the second trial's
    proposal takes two hours."""
    clock = _ShiftedClock()
    monkeypatch.setattr(limits, "time", clock)
    propose = hp.methods.Random.ask

    def slow_proposal(method: hp.methods.Random, history: History) -> Proposal:
        if history.n_started == 1:
            clock.shift = 7200.0
        return propose(method, history)

    monkeypatch.setattr(hp.methods.Random, "ask", slow_proposal)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="t", db=db, seed=0)
    def f(x: float) -> float:
        return x

    caplog.set_level(logging.INFO, logger="hpotrack")
    study = f.optimize(n_trials=10, timeout=3600.0)  # the first trial is inside it
    assert [t.state for t in study.trials] == [TrialState.COMPLETE]
    assert "timeout of 3600.0s reached in study 't' after 1 trial" in caplog.messages


def test_too_many_failures_store_the_failures_and_give_back_the_rest(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed_batches(monkeypatch, 5)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="f", db=db, seed=0, max_failures=2)
    def f(x: float) -> float:
        raise ValueError("broken")

    with pytest.raises(TooManyFailures):
        f.optimize(n_trials=10)
    states = [t.state for t in f.study.trials]
    assert states == [TrialState.FAILED] * 2 + [TrialState.QUEUED] * 3
    assert all("broken" in (t.error or "") for t in f.study.trials[:2])


def test_ctrl_c_in_a_batch_fails_that_trial_and_gives_back_the_rest(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed_batches(monkeypatch, 4)
    calls = itertools.count()

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="c", db=db, seed=0)
    def f(x: float) -> float:
        if next(calls) == 1:
            raise KeyboardInterrupt
        return x

    with pytest.raises(KeyboardInterrupt):
        f.optimize(n_trials=10)
    trials = f.study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAILED] + [
        TrialState.QUEUED
    ] * 3
    assert "KeyboardInterrupt" in (trials[1].error or "")
    assert trials[4].origin == "retried" and trials[4].params == trials[1].params


def test_a_ctrl_c_the_function_catches_still_stops_the_run_and_queues_the_trial(
    db: Path,
) -> None:
    """scikit-learn's MLP catches Ctrl-C and returns its half-trained model: the trial is
    stored as interrupted and queued again, not complete, and the run stops."""
    handler = signal.getsignal(signal.SIGINT)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="c", db=db, seed=0)
    def f(x: float) -> float:
        with contextlib.suppress(KeyboardInterrupt):  # stops training early, as the MLP
            signal.raise_signal(signal.SIGINT)
        return x

    with pytest.raises(KeyboardInterrupt):
        f.optimize(n_trials=3)
    first, retry = f.study.trials
    assert first.state == TrialState.FAILED
    assert first.error == "interrupted (the function caught Ctrl-C and returned)"
    assert retry.state == TrialState.QUEUED and retry.origin == "retried"
    assert signal.getsignal(signal.SIGINT) is handler


@pytest.fixture
def sigterm_default() -> Iterator[None]:
    """SIGTERM with Python's default action for the test (whatever started pytest), and
    as it was again after it."""
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    signal.signal(signal.SIGTERM, previous)


def _own_sigterm_handler(signum: int, frame: Any) -> None:
    """A program's own SIGTERM handler (one that saves a checkpoint on pre-emption, say)."""


@pytest.mark.parametrize(
    "handler", [_own_sigterm_handler, signal.SIG_IGN], ids=["handler", "ignored"]
)
def test_a_sigterm_disposition_the_program_set_before_the_run_is_left_to_it(
    db: Path, sigterm_default: None, handler: Any
) -> None:
    """Where the program set its own SIGTERM disposition before optimize(), SIGTERM is
    not turned into an interruption during the run, and the program has it after."""
    signal.signal(signal.SIGTERM, handler)
    during = []

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="before", db=db, seed=0)
    def f(x: float) -> float:
        during.append(signal.getsignal(signal.SIGTERM))
        return x

    f.optimize(n_trials=2)
    assert during == [handler] * 2
    assert signal.getsignal(signal.SIGTERM) is handler


def test_a_sigterm_handler_the_function_sets_during_the_run_is_kept(
    db: Path, sigterm_default: None
) -> None:
    """The run's SIGTERM handler (a trial stored as interrupted) was replaced by the
    default at the end even when the function had set its own meanwhile: the program's
    next SIGTERM killed it without its handler running. Now that handler stays; without
    one, the default the run replaced is back."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="during", db=db, seed=0)
    def f(x: float) -> float:
        signal.signal(signal.SIGTERM, _own_sigterm_handler)
        return x

    f.optimize(n_trials=2)
    assert signal.getsignal(signal.SIGTERM) is _own_sigterm_handler

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    took_over = []

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="run's", db=db, seed=0)
    def g(x: float) -> float:
        took_over.append(signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL)
        return x

    g.optimize(n_trials=1)
    assert took_over == [True] and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_ctrl_c_before_a_claimed_trial_starts_gives_it_back(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C after a trial was taken from the batch but before its function started
    (here: while its checks are looked up) gives it back, queued, with the rest of the
    batch; before, it was left running in the file until found lost."""
    fixed_batches(monkeypatch, 4)
    calls = itertools.count()
    checks_for = hp.Study.checks_for

    def interrupted_on_the_second(study: hp.Study, claimed: Any) -> Any:
        if next(calls) == 1:
            raise KeyboardInterrupt
        return checks_for(study, claimed)

    monkeypatch.setattr(hp.Study, "checks_for", interrupted_on_the_second)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="c", db=db, seed=0)
    def f(x: float) -> float:
        return x

    with pytest.raises(KeyboardInterrupt):
        f.optimize(n_trials=10)
    states = [t.state for t in f.study.trials]
    assert states == [TrialState.COMPLETE] + [TrialState.QUEUED] * 3
    assert f.study.trials[1].started is None and f.study.trials[1].pid is None


def test_ctrl_c_right_after_an_ask_commits_gives_its_claims_back(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C after the transaction of an ask committed (it stored the batch before and
    claimed the next four) but before the ask returned: the four are given back, queued,
    none is left running (before, they stayed running in the file until found lost)."""
    fixed_batches(monkeypatch, 4)
    committed = TrialCache.committed
    interrupted: list[int] = []

    def interrupted_once_eight_exist(cache: TrialCache) -> None:
        committed(cache)
        if len(cache.history.trials) == 8 and not interrupted:
            interrupted.append(8)
            raise KeyboardInterrupt

    monkeypatch.setattr(TrialCache, "committed", interrupted_once_eight_exist)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="a", db=db, seed=0)
    def f(x: float) -> float:
        return x

    with pytest.raises(KeyboardInterrupt):
        f.optimize(n_trials=10)
    assert interrupted
    states = [t.state for t in f.study.trials]
    assert states == [TrialState.COMPLETE] * 4 + [TrialState.QUEUED] * 4


def test_ctrl_c_while_the_method_proposes_still_stores_the_finished_trials(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ask puts the finished trials' outcomes into its cached history before taking the
    lock, so the method proposes from them; Ctrl-C (or a worker's parent dying) in that
    proposal, a model fit, left the cache saying "complete" for trials the file still had
    running: the final store then took them for trials finished elsewhere and dropped
    them, to be found lost later (a whole budget trained, no result)."""
    calls = itertools.count()
    ask = hp.methods.Random.ask

    def interrupted_on_the_fourth(method: Any, history: Any) -> Any:
        if next(calls) == 3:
            raise KeyboardInterrupt
        return ask(method, history)

    monkeypatch.setattr(hp.methods.Random, "ask", interrupted_on_the_fourth)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="p", db=db, seed=0)
    def f(x: float) -> float:
        return x

    with pytest.raises(KeyboardInterrupt):
        f.optimize(n_trials=10)
    assert [t.state for t in hp.load_study("p", db=db).trials] == [TrialState.COMPLETE] * 3


@pytest.mark.parametrize(("trial_s", "collect_s"), [(1.0, 0.01), (0.5, 1.0)])
def test_checkpoints_are_collected_after_each_trial_unless_that_takes_over(
    monkeypatch: pytest.MonkeyPatch, trial_s: float, collect_s: float
) -> None:
    """A collection reads every checkpoint row and trial: its cost grows with the study.
    After each trial that saved one while that is cheap; else only once 9 times its
    cost has passed since, so collecting never takes more than a tenth of the time."""
    clock = [0.0]
    monkeypatch.setattr(runner.time, "monotonic", lambda: clock[0])

    class Saving:
        checkpoints_saved = 0
        collected = 0

        def collect_checkpoints(self) -> None:
            self.collected += 1
            clock[0] += collect_s

    study = Saving()
    collector = runner.CheckpointCollector(study)  # type: ignore[arg-type]
    for _ in range(100):
        clock[0] += trial_s
        study.checkpoints_saved += 1
        if collector.due():
            collector.run()
    if collect_s < 0.1 * trial_s:
        assert study.collected == 100 and not collector.saved_since()
    else:
        assert 1 < study.collected < 100 and collector.saved_since()
        assert study.collected * collect_s <= 0.1 * clock[0] + collect_s


def test_a_batch_never_claims_past_the_target(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fixed_batches(monkeypatch, 16)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="n", db=db, seed=0)
    def f(x: float) -> float:
        return x

    assert len(f.optimize(n_trials=5).trials) == 5
    assert len(f.optimize(n_trials=7).trials) == 7


def test_the_log_names_a_failure_by_its_exception_line(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A multi-line message, after a chained one: the log line is the first line of the
    exception raised last, with its type, not the last line of the traceback."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="l", db=db, seed=0)
    def f(x: float) -> float:
        try:
            raise KeyError("inner")
        except KeyError:
            raise ValueError("boom at trial\nsecond line") from None

    with caplog.at_level(logging.WARNING, logger="hpotrack"), pytest.raises(hp.HpotrackError):
        f.optimize(n_trials=5)
    assert (
        caplog.records[0].getMessage() == "trial 0 of study 'l' failed: ValueError: boom at trial"
    )


def test_a_database_in_a_missing_folder_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(hp.HpotrackError, match=r"the folder .* does not exist"):
        hp.tune({"x": hp.Float(0.0, 1.0)}, db=tmp_path / "no" / "such" / "h.db")(
            lambda x: x
        ).optimize(n_trials=1)


def test_a_worker_that_ran_nothing_says_nothing_to_run_only_when_no_worker_ran_any(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With n_jobs, the worker that tells what the study does may find the target already
    reached by the other workers of the run: "nothing to run (pass a larger n_trials)"
    was wrong then. A run that started no trial at all still says so."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float) -> float:
        return x

    train.optimize(n_trials=3)  # as the other workers of a run that began at 0 trials
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hpotrack"):
        train.optimize_in_process(db, 3, None, False, started_before=0)
        train.optimize_in_process(db, 3, None, False, started_before=3)
    reached = "study 's' has 3 trials: the target of 3 is reached"
    assert [r.getMessage() for r in caplog.records] == [
        reached,
        f"{reached}; nothing to run (pass a larger n_trials to extend the study)",
    ]


UNSAVED = "completed without saving a checkpoint; pbt trains each member on"


def test_a_pbt_segment_that_saves_no_checkpoint_is_one_warning(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without checkpoints every segment trained from scratch and an "exploited" one
    copied only hyperparameters: the search ran to the end as if it were PBT, silently."""

    @hp.tune({"lr": hp.Float(0.01, 1.0, log=True)}, study="nosave", db=db, seed=0,
             method=hp.methods.PBT(population=2, interval=1, generations=2))  # fmt: skip
    def train(lr: float, trial: hp.Trial) -> float:
        return sum(lr for _ in trial.steps)

    with caplog.at_level(logging.WARNING, logger="hpotrack"):
        train.optimize()
    warned = [r.getMessage() for r in caplog.records if UNSAVED in r.getMessage()]
    assert warned == [
        f"study 'nosave': trial 0 {UNSAVED} from the checkpoint of its previous segment, "
        "and a member that exploits another from that one's: without them every segment "
        "trains from scratch and an exploit copies only hyperparameters. Load and save "
        "the model's state: state = trial.load_checkpoint() at the start, "
        "trial.save_checkpoint(state) at the end"
    ]


def test_pbt_segments_that_save_and_a_manual_call_are_no_warning(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    @hp.tune({"lr": hp.Float(0.01, 1.0, log=True)}, study="saves", db=db, seed=0,
             method=hp.methods.PBT(population=2, interval=1, generations=2))  # fmt: skip
    def train(lr: float, trial: hp.Trial) -> float:
        if trial.budget is None:  # a direct call, outside the population
            return lr
        state = trial.load_checkpoint() or 0.0
        for _ in trial.steps:
            state += lr
        trial.save_checkpoint(state)
        return state

    with caplog.at_level(logging.WARNING, logger="hpotrack"):
        train(lr=0.1)
        train.optimize()
    assert not [r for r in caplog.records if UNSAVED in r.getMessage()]


def test_a_run_continuing_a_study_alone_sees_no_contention_until_another_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first read of a study loads its stored trials: that is no other worker's
    change, so a run continuing a study alone never batches. It did under load (its
    first ask counted the 7 stored trials as contention, and a lock wait longer than
    a trial doubled the batch): a bayes study continued from 7 trials claimed trials 8
    and 9 at once, and 9 differed from an uninterrupted run's. A trial another process
    stores meanwhile is contention."""
    db = tmp_path / "h.db"

    def quadratic(x: float, trial: hp.Trial) -> float:
        if trial.number == 7:  # another process enqueues a trial while this one runs
            code = f"import hpotrack as hp; hp.load_study('s', db={str(db)!r}).enqueue(x=0.5)"
            subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
        return x * x

    def tuned() -> hp.TunedFunction[float]:
        return hp.tune({"x": hp.Float(-1.0, 1.0)}, "random", db=db, study="s", seed=0)(quadratic)

    tuned().optimize(n_trials=5, progress=False)
    close_stores()
    seen: list[bool] = []
    monkeypatch.setattr(Batch, "asked", lambda self, waited, contended: seen.append(contended))
    tuned().optimize(n_trials=10, progress=False)
    assert seen[:3] == [False, False, False]  # trials 5, 6 and 7: alone
    assert seen[3] is True  # the ask after trial 7 read the enqueued trial

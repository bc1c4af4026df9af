"""``optimize(trial_timeout=...)``: a trial running past it is stopped and stored as
failed with its reports, in this process and in worker processes."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import hpotrack as hp
from hpotrack.errors import OptionError
from hpotrack.records import TrialState
from hpotrack.time_limit import TimeLimit, TrialTimedOut
from tests.cli.test_resume import invoke, make_study

TIMED_OUT = "timed out: the trial ran longer than trial_timeout=0.5 s"


def sleepy(db: Path, *, catch: type[BaseException] | None = None) -> hp.TunedFunction:
    """Trial n sleeps 60 s after a report when n is odd (``catch``: inside a ``try``
    that catches that and returns), and returns at once when it is even."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        trial.report(x, step=1)
        if trial.number % 2 == 0:
            return x
        if catch is None:
            time.sleep(60)
        try:
            time.sleep(60)
        except catch:
            return -1.0
        return x

    return train


def test_a_trial_past_its_timeout_is_stopped_and_stored_as_failed_with_its_reports(
    db: Path,
) -> None:
    study = sleepy(db).optimize(n_trials=4, trial_timeout=0.5)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAILED] * 2
    for t in trials[1::2]:
        assert t.error == TIMED_OUT and t.value is None
        assert study.curve(t.number)["value"] == [(1, t.params["x"])]  # the report it made
    assert all(t.origin == "sampled" for t in trials)  # none queued to run again


def test_trials_that_all_timed_out_stop_the_run_naming_what_lets_it_go_on(db: Path) -> None:
    """``max_failures`` timed-out trials in a row stop the run, as any failures do: the
    error said only "stopping so you can look", naming neither a longer
    ``trial_timeout`` nor the ``max_failures`` that a search meeting several slow
    configurations in a row needs; other failures are not said to have timed out."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0, max_failures=2)
    def train(x: float, trial: hp.Trial) -> float:
        time.sleep(60)
        return x

    with pytest.raises(hp.TooManyFailures) as raised:
        train.optimize(n_trials=5, trial_timeout=0.2)
    assert str(raised.value).endswith(
        "timed out: the trial ran longer than trial_timeout=0.2 s\n"
        "Each of them timed out: a longer trial_timeout, or a larger max_failures of "
        "@hp.tune (2 now), lets the search go on past slow configurations"
    )
    assert [t.state for t in train.study.trials] == [TrialState.FAILED] * 2

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0, max_failures=2)
    def broken(x: float, trial: hp.Trial) -> float:
        if trial.number == 2:  # the first of this run's failures: a bug, not slowness
            raise ValueError("no data")
        time.sleep(60)
        return x

    with pytest.raises(hp.TooManyFailures) as raised:
        broken.optimize(n_trials=5, trial_timeout=0.2)
    assert "ValueError: no data" in str(raised.value)
    assert "Each of them timed out" not in str(raised.value)


@pytest.mark.parametrize("catch", [Exception, BaseException])
def test_a_function_that_catches_errors_does_not_outlive_its_timeout(
    db: Path, catch: type[BaseException]
) -> None:
    """``except Exception`` (cross_validate scoring a failed fit as NaN) does not catch
    the stop; ``except BaseException`` does, and the trial fails all the same."""
    study = sleepy(db, catch=catch).optimize(n_trials=2, trial_timeout=0.5)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.FAILED]
    assert study.trials[1].error == TIMED_OUT


def test_a_trial_timed_out_after_its_method_stopped_it_is_pruned(db: Path) -> None:
    """As on Ctrl-C: its clean-up (saving a model, say) ran past the limit, but the
    method had stopped it; not a failure toward max_failures."""

    @hp.tune(
        {"x": hp.Float(0.0, 1.0)},
        method=hp.methods.Random(pruner=hp.pruners.Median(n_startup_trials=1)),
        budget=hp.Budget(1, 9),
        db=db,
        seed=0,
    )
    def train(x: float, trial: hp.Trial) -> float:
        trial.report(10.0 if trial.number else 0.0, 1, prune=False)
        if trial.should_prune():
            time.sleep(60)
        return 0.0

    study = train.optimize(n_trials=2, trial_timeout=0.5)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.PRUNED]
    assert study.trials[1].value == 10.0 and study.trials[1].error is None


def test_the_alarm_handler_and_timer_are_set_back_after_the_run(db: Path) -> None:
    def mine(signum: int, frame: object) -> None:
        raise AssertionError("never armed")

    previous = signal.signal(signal.SIGALRM, mine)
    try:
        sleepy(db).optimize(n_trials=3, trial_timeout=0.5)
        assert signal.getsignal(signal.SIGALRM) is mine
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    finally:
        signal.signal(signal.SIGALRM, previous)


def test_a_limit_that_expires_after_its_block_raises_nothing() -> None:
    """A signal on its way as the limit is lifted finds it disarmed."""
    with TimeLimit(5.0) as limit:
        pass
    limit._expire(signal.SIGALRM, None)  # as if it arrived late
    assert not limit.fired
    with pytest.raises(TrialTimedOut), TimeLimit(0.05):
        time.sleep(5)
    before = signal.getsignal(signal.SIGALRM)
    with TimeLimit(None):  # no limit: no handler set, no timer started
        assert signal.getsignal(signal.SIGALRM) is before
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_timer_the_program_set_is_set_back_with_the_time_it_had_left(db: Path) -> None:
    """The program's own alarm (a watchdog over the whole search) outlives the run's
    trial limits; one that came due during a trial goes off as the trial ends."""
    fired: list[float] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(time.time()))
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        sleepy(db).optimize(n_trials=1, trial_timeout=5)
        assert 25.0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30.0 and not fired
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with TimeLimit(5.0):
            time.sleep(0.2)  # interrupted by nothing: the limit's own timer was due later
            assert not fired
        time.sleep(0.01)
        assert len(fired) == 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_limit_that_fires_sets_back_the_handler_and_timer_itself() -> None:
    """Its raise may land in ``__exit__`` before that disarmed it (the function had just
    returned), and ``__exit__`` then does not set anything back: the handler must."""
    previous = signal.getsignal(signal.SIGALRM)
    signal.setitimer(signal.ITIMER_REAL, 30.0)  # a timer of the program's
    try:
        limit = TimeLimit(5.0).__enter__()
        with pytest.raises(TrialTimedOut):
            limit._expire(signal.SIGALRM, None)  # as if at the start of __exit__
        assert signal.getsignal(signal.SIGALRM) is previous
        assert 25.0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30.0
        limit.__exit__(None, None, None)  # if it runs after all: nothing changes
        assert 25.0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def test_a_search_inside_a_trial_does_not_lift_that_trial_s_limit(db: Path) -> None:
    """A trial that runs a search of its own (nested tuning) stops at its own limit,
    and the inner trial it cut short is queued to run again, as on Ctrl-C."""

    @hp.tune({"y": hp.Float(0.0, 1.0)}, study="inner", db=db, seed=0)
    def inner(y: float) -> float:
        time.sleep(0.2)
        return y

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="outer", db=db, seed=0)
    def outer(x: float) -> float:
        inner.optimize(n_trials=100, trial_timeout=30)
        return x

    study = outer.optimize(n_trials=1, trial_timeout=1)
    assert study.trials[0].error == "timed out: the trial ran longer than trial_timeout=1 s"
    searched = hp.load_study("inner", db=db).trials
    assert 2 <= len(searched) < 100  # at least the one cut short and its retry
    assert searched[-1].state is TrialState.QUEUED and searched[-1].origin == "retried"
    assert searched[-2].error is not None and searched[-2].error.startswith("interrupted (")


@pytest.mark.parametrize(
    ("trial_timeout", "message"),
    [
        (0, r"^`0 < trial_timeout <= 2147483647` must hold for a number of seconds \(at "
            r"most 68 years, the longest SIGALRM's timer waits\), but got trial_timeout=0: "
            r"leave trial_timeout None for no limit$"),
        (-1.5, r"but got trial_timeout=-1.5: leave"),
        (float("inf"), r"but got trial_timeout=inf: leave"),
        (2.0**31, r"but got trial_timeout=2147483648.0: leave"),
        (True, r"but got trial_timeout=True \(a bool, not a number\): leave"),
        ("10", r"but got trial_timeout='10'"),
    ],
)  # fmt: skip
def test_a_bad_trial_timeout_is_one_clear_error_and_stores_nothing(
    db: Path, trial_timeout: object, message: str
) -> None:
    with pytest.raises(OptionError, match=message):
        sleepy(db).optimize(n_trials=2, trial_timeout=trial_timeout)  # type: ignore[arg-type]
    assert not db.exists()


def test_a_trial_timeout_outside_the_main_thread_is_refused_before_anything_is_stored(
    db: Path,
) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            sleepy(db).optimize(n_trials=2, trial_timeout=0.5)
        except OptionError as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert len(errors) == 1 and "only the main thread receives" in str(errors[0])
    assert "or with n_jobs=2 or more" in str(errors[0])
    assert not db.exists()


def test_worker_processes_stop_their_own_trials_at_the_timeout(
    workloads_in_db: ModuleType,
) -> None:
    """Not paired: a fast trial waiting for the other worker to start one would run
    into its timeout on a loaded machine."""
    study = workloads_in_db.timed.optimize(n_trials=8, n_jobs=2, trial_timeout=1, progress=False)
    trials = study.trials
    assert os.getpid() not in {t.pid for t in trials}  # the workers ran them
    slow = [t for t in trials if t.params["x"] > 0.5]
    assert slow and all(t.state is TrialState.FAILED for t in slow)
    assert {t.error for t in slow} == {"timed out: the trial ran longer than trial_timeout=1 s"}
    assert all(study.curve(t.number)["value"] == [(1, t.params["x"])] for t in slow)
    assert all(t.state is TrialState.COMPLETE for t in trials if t not in slow)


def test_off_the_main_thread_a_last_trial_still_runs_in_a_worker_with_its_timeout(
    workloads_in_db: ModuleType,
) -> None:
    """``n_jobs=2`` from a thread with one trial left: run in this thread, the trial
    could not be stopped (a worker is started for it instead of failing it)."""
    workloads = workloads_in_db
    workloads.timed.study.enqueue({"x": 0.9})  # sleeps 60 s
    done: list[hp.Study] = []
    thread = threading.Thread(
        target=lambda: done.append(
            workloads.timed.optimize(n_trials=1, n_jobs=2, trial_timeout=1, progress=False)
        )
    )
    thread.start()
    thread.join()
    (trial,) = done[0].trials
    assert trial.error == "timed out: the trial ran longer than trial_timeout=1 s"


def test_resume_trial_timeout_stops_the_resumed_trials(tmp_path: Path) -> None:
    from tests.cli.test_resume import SCRIPT

    sleeping = SCRIPT.replace("def train(x):\n    return x", "def train(x, trial):\n"
                              "    import time; time.sleep(60 * (trial.number >= 2))\n"
                              "    return x")  # fmt: skip
    _, db = make_study(tmp_path, n_trials=2, text=sleeping)
    code, output = invoke(db, "script", "--n-trials", "3", "--trial-timeout", "0.5")
    assert code == 0, output
    assert "3 trials (2 complete, 1 failed)" in output
    trial = hp.load_study("script", db=db).trials[2]
    assert trial.error == TIMED_OUT
    code, output = invoke(db, "script", "--trial-timeout", "0")
    assert code == 2 and "Invalid value for '--trial-timeout'" in output
    code, output = invoke(db, "script", "--trial-timeout", "1e10")
    assert code != 0 and "Traceback" not in output, output
    assert "but got --trial-timeout 10000000000.0: leave --trial-timeout out for no" in output
    assert len(hp.load_study("script", db=db).trials) == 3
    code, output = invoke(db, "script", "--n-trials", "9", "--trial-timeout", "0.1")
    assert code != 0 and "Traceback" not in output, output
    assert "Each of them timed out: a longer --trial-timeout, or a larger max_failures" in output


def test_a_real_model_that_trains_too_long_is_stopped_through_cross_validation(
    db: Path,
) -> None:
    """scikit-learn's MLP catches KeyboardInterrupt to keep its half-trained model, and
    ``cross_val_score(error_score=nan)`` scores any failed fit as NaN: neither catches
    the stop, so the trial fails at its limit instead of training for minutes."""
    pytest.importorskip("sklearn")
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import cross_val_score
    from sklearn.neural_network import MLPClassifier

    x, y = load_digits(return_X_y=True)

    @hp.tune({"width": hp.Int(8, 16)}, study="mlp", db=db, seed=0)
    def train(width: int) -> float:
        model = MLPClassifier((width,), max_iter=100_000, tol=0.0, n_iter_no_change=10**9)
        return float(np.mean(cross_val_score(model, x, y, cv=3, error_score=np.nan)))

    (trial,) = train.optimize(n_trials=1, trial_timeout=1).trials
    assert trial.state is TrialState.FAILED
    assert trial.error == "timed out: the trial ran longer than trial_timeout=1 s"


def test_what_a_trial_stopped_mid_save_left_goes_in_the_same_run(db: Path) -> None:
    """A limit that lands in a checkpoint's save leaves its temporary file (as Ctrl-C
    would); the run deletes it once the trial's end is stored, not a run later."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        trial.save_checkpoint({"x": x}, step=1)
        folder = next((db.parent / f"{db.name}.ckpt").iterdir())
        (folder / f"trial-{trial.number}-step-2.pkl.1.abc.tmp").write_bytes(b"half")
        time.sleep(60)
        return x

    study = train.optimize(n_trials=2, trial_timeout=0.3)
    assert [t.error for t in study.trials] == [TIMED_OUT.replace("0.5", "0.3")] * 2
    folder = next((db.parent / f"{db.name}.ckpt").iterdir())
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_a_process_forked_in_a_trial_gets_the_alarm_disposition_from_before(db: Path) -> None:
    """The limit's handler is hpotrack's, so a child forked by the function (a fork
    pool's worker) gets back what the process had, as for SIGINT and SIGTERM."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float) -> float:
        assert isinstance(signal.getsignal(signal.SIGALRM), type(TimeLimit(1.0)._expire))
        child = os.fork()
        if child == 0:  # the child: exit 0 when it got the default disposition back
            os._exit(0 if signal.getsignal(signal.SIGALRM) is signal.SIG_DFL else 1)
        _, status = os.waitpid(child, 0)
        return float(os.waitstatus_to_exitcode(status))

    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
    (trial,) = train.optimize(n_trials=1, trial_timeout=30).trials
    assert trial.state is TrialState.COMPLETE and trial.value == 0.0


def test_a_handler_python_cannot_set_again_leaves_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``signal.signal`` returns None for a handler set outside Python (by a C
    library); setting None back raised TypeError as the trial ended."""
    from hpotrack import time_limit

    real = time_limit.set_handler

    def set_over_a_c_handler(signum: int, handler: Any) -> None:
        real(signum, handler)
        return None

    monkeypatch.setattr(time_limit, "set_handler", set_over_a_c_handler)
    with TimeLimit(5.0):
        pass
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL

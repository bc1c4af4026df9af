"""``@hp.tune`` and ``optimize``: the decorator, the loop, targets, failures, manual calls."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import itertools
import logging
import math
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
import typing
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import hpotrack as hp
from hpotrack.cli import cli
from hpotrack.errors import (
    DefinitionError,
    MethodError,
    OptionError,
    StudyMismatchError,
    TooManyFailures,
    TrialError,
)
from hpotrack.limits import Stops
from hpotrack.methods.base import Proposal
from hpotrack.methods.history import History
from hpotrack.methods.random_search import Random
from hpotrack.methods.registry import register
from hpotrack.records import TrialState
from hpotrack.study import Enqueued
from tests.test_study import ask

SPACE = {"x": hp.Float(-1.0, 1.0), "n": hp.Int(1, 4), "opt": hp.Choice(["adam", "sgd"])}


def make(db: Path, *, study: str = "s", **options: Any) -> hp.TunedFunction:
    """A quick objective over SPACE: x**2 + n."""

    @hp.tune(SPACE, study=study, db=db, seed=options.pop("seed", 0), **options)
    def train(x: float, n: int, opt: str) -> float:
        return x * x + n

    return train


def states(study: hp.Study) -> list[str]:
    return [t.state.value for t in study.trials]


@pytest.fixture
def info_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="hpotrack")
    return caplog


# -- the loop and its target -------------------------------------------------------------


def test_optimize_runs_exactly_n_trials_numbered_from_zero(db: Path) -> None:
    study = make(db).optimize(n_trials=7)
    assert isinstance(study, hp.Study)
    assert [t.number for t in study.trials] == list(range(7))
    assert states(study) == ["complete"] * 7


def test_best_is_the_smallest_value_when_minimizing(db: Path) -> None:
    study = make(db).optimize(n_trials=10)
    values = [t.value for t in study.trials]
    assert study.best.value == min(values)
    assert study.best.number == values.index(min(values))


def test_best_is_the_largest_value_when_maximizing(db: Path) -> None:
    study = make(db, direction="maximize").optimize(n_trials=10)
    values = [t.value for t in study.trials]
    assert study.best.value == max(values)
    assert study.best.number == values.index(max(values))


def test_optimize_again_with_the_same_target_is_a_noop_that_says_so(
    db: Path, info_log: pytest.LogCaptureFixture
) -> None:
    train = make(db)
    train.optimize(n_trials=4)
    info_log.clear()
    study = train.optimize(n_trials=4)
    assert len(study.trials) == 4
    assert "target of 4" in info_log.text
    assert "nothing to run" in info_log.text


def test_optimize_with_a_larger_target_extends_the_study(db: Path) -> None:
    train = make(db)
    train.optimize(n_trials=4)
    study = train.optimize(n_trials=9)
    assert [t.number for t in study.trials] == list(range(9))
    assert states(study) == ["complete"] * 9


def test_optimize_without_n_trials_uses_the_stored_target(
    db: Path, info_log: pytest.LogCaptureFixture
) -> None:
    train = make(db)
    train.optimize(n_trials=3)
    assert train.study.target == 3
    info_log.clear()
    study = train.optimize()
    assert len(study.trials) == 3
    assert "nothing to run" in info_log.text


def test_optimize_without_n_trials_follows_a_target_another_process_raises(
    db: Path, info_log: pytest.LogCaptureFixture
) -> None:
    """A run without n_trials (``hpotrack resume`` without --n-trials) works toward the
    stored target; when another process raised it meanwhile (``optimize(n_trials=6)``
    there), this one stopped at the target it read when it started and said "the target
    of 3 is reached", leaving the rest to the other process alone."""
    raise_target = "import sys, hpotrack as hp; hp.load_study('s', db=sys.argv[1]).raise_target(6)"

    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str, trial: hp.Trial) -> float:
        if trial.number == 1:  # as another process's optimize(n_trials=6) would
            subprocess.run([sys.executable, "-c", raise_target, str(db)], check=True)
        return x * x + n

    train.optimize(n_trials=1)
    hp.load_study("s", db=db).raise_target(3)
    info_log.clear()
    study = train.optimize()
    assert states(study) == ["complete"] * 6 and study.target == 6
    assert "target of 3" not in info_log.text and "target of 6" in info_log.text


def test_a_smaller_n_trials_never_lowers_the_stored_target(db: Path) -> None:
    train = make(db)
    train.optimize(n_trials=5)
    train.optimize(n_trials=2)
    assert train.study.target == 5
    assert len(train.study.trials) == 5


def test_n_jobs_for_a_function_typed_interactively_is_refused_before_anything_is_stored(
    db: Path,
) -> None:
    # as a notebook cell defines it: module __main__, no file worker processes can import
    source = (
        "import hpotrack as hp\n"
        f"@hp.tune({{'x': hp.Float(0.0, 1.0)}}, study='cell', db={str(db)!r})\n"
        "def train(x):\n"
        "    return x\n"
    )
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source, "<ipython-input-1>", "exec"), namespace)
    train = namespace["train"]
    train.optimize(n_trials=2)
    with pytest.raises(OptionError, match="defined interactively"):
        train.optimize(n_trials=5, n_jobs=2)
    study = hp.load_study("cell", db=db)
    assert study.target == 2  # a later optimize() does not go on to 5
    assert len(study.trials) == 2


# -- what the function returns --------------------------------------------------------------


def test_a_number_is_stored_as_the_value_and_under_the_objective_name(db: Path) -> None:
    study = make(db).optimize(n_trials=2)
    for t in study.trials:
        assert t.value == t.params["x"] ** 2 + t.params["n"]
        assert t.metrics == {"value": t.value}


def test_a_dict_stores_every_metric_and_objective_picks_the_value(db: Path) -> None:
    @hp.tune(SPACE, study="s", db=db, seed=0, objective="val_loss")
    def train(x: float, n: int, opt: str) -> dict[str, Any]:
        return {"val_loss": x * x, "train_loss": 2.0, "opt_used": opt}

    study = train.optimize(n_trials=3)
    for t in study.trials:
        assert t.state is TrialState.COMPLETE
        assert t.value == t.params["x"] ** 2
        assert t.metrics == {"val_loss": t.value, "train_loss": 2.0, "opt_used": t.params["opt"]}


def test_a_function_declaring_trial_receives_the_handle(db: Path) -> None:
    seen: list[tuple[int, dict[str, Any]]] = []

    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str, trial: hp.Trial) -> float:
        assert isinstance(trial, hp.Trial)
        seen.append((trial.number, dict(trial.params)))
        return x

    study = train.optimize(n_trials=3)
    assert seen == [(t.number, t.params) for t in study.trials]


def test_a_function_without_trial_is_called_with_hyperparameters_only(db: Path) -> None:
    calls: list[dict[str, Any]] = []

    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(**kwargs: Any) -> float:
        calls.append(kwargs)
        return 0.0

    study = train.optimize(n_trials=2)
    assert calls == [t.params for t in study.trials]
    assert all(set(c) == {"x", "n", "opt"} for c in calls)


def test_trial_report_is_visible_in_curve(db: Path) -> None:
    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str, trial: hp.Trial) -> float:
        for epoch in range(1, 4):
            trial.report(10.0 / epoch, step=epoch)
        trial.report(0.5, step=3, name="acc")
        return 1.0

    study = train.optimize(n_trials=1)
    assert study.curve(0) == {"value": [(1, 10.0), (2, 5.0), (3, 10.0 / 3)], "acc": [(3, 0.5)]}


def test_module_level_report_writes_to_the_running_trial(db: Path) -> None:
    def helper(loss: float, epoch: int) -> None:  # deep in user code, no trial handle
        hp.report(loss, step=epoch)

    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str) -> float:
        helper(x + 1.0, 0)
        helper(x + 2.0, 1)
        return x

    study = train.optimize(n_trials=2)
    for t in study.trials:
        assert study.curve(t.number) == {
            "value": [(0, t.params["x"] + 1.0), (1, t.params["x"] + 2.0)]
        }


def test_report_without_step_continues_from_the_last_step(db: Path) -> None:
    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str) -> float:
        hp.report(1.0)
        hp.report(2.0)
        hp.report(3.0, step=10)
        hp.report(4.0)
        hp.report(9.0, name="other")
        return 0.0

    study = train.optimize(n_trials=1)
    assert study.curve(0) == {
        "value": [(1, 1.0), (2, 2.0), (10, 3.0), (11, 4.0)],
        "other": [(1, 9.0)],
    }


def test_report_accepts_a_numpy_integer_step(db: Path) -> None:
    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str, trial: hp.Trial) -> float:
        for epoch in np.arange(2):
            trial.report(float(epoch) / 2, step=epoch)
        return x

    study = train.optimize(n_trials=1)
    assert study.trials[0].state is TrialState.COMPLETE, study.trials[0].error
    assert study.curve(0) == {"value": [(0, 0.0), (1, 0.5)]}


def test_report_takes_a_0d_array_as_a_returned_objective_may_be(db: Path) -> None:
    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str, trial: hp.Trial) -> float:
        trial.report(np.mean(np.array([0.25, 0.75])), step=1)  # numpy's float64: a Real
        trial.report(np.array(0.25), step=2)  # a 0-d array (np.asarray of a scalar, say)
        return x

    study = train.optimize(n_trials=1)
    assert study.curve(0) == {"value": [(1, 0.5), (2, 0.25)]}


def test_report_refuses_a_negative_or_fractional_step(db: Path) -> None:
    errors: list[str] = []

    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str, trial: hp.Trial) -> float:
        for step in (-1, 1.5, True, 1.0):
            with pytest.raises(TrialError, match="step") as raised:
                trial.report(0.1, step=step)  # type: ignore[arg-type]
            errors.append(str(raised.value))
        with pytest.raises(TrialError, match="number"):
            trial.report("0.1")  # type: ignore[arg-type]
        return x

    study = train.optimize(n_trials=1)
    assert study.trials[0].state is TrialState.COMPLETE, study.trials[0].error
    assert len(errors) == 4
    assert errors[3] == "`0 <= step < 2**63` must hold for an int, but got step=1.0 (float)"
    assert study.curve(0) == {}


def test_report_outside_a_trial_raises_a_clear_error() -> None:
    with pytest.raises(hp.HpotrackError, match="no trial is running"):
        hp.report(0.1, step=1)


def test_report_from_a_thread_the_function_started_says_how_to_reach_the_trial(
    db: Path,
) -> None:
    """The trial is found through the call's context, which a new thread lacks: the
    error names the two ways that work, and the second one is checked here."""
    import concurrent.futures
    import contextvars

    def fit(x: float) -> float:
        for step in (1, 2):
            hp.report(x / step, step=step)
        return x

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="threads", db=db, seed=0, max_failures=5)
    def train(x: float, trial: hp.Trial) -> float:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            if trial.number == 0:
                return pool.submit(fit, x).result()
            return pool.submit(contextvars.copy_context().run, fit, x).result()

    trials = train.optimize(n_trials=2).trials
    assert trials[0].state is TrialState.FAILED
    assert "threads it starts do not inherit; declare a `trial` parameter" in (
        trials[0].error or ""
    )
    assert trials[1].state is TrialState.COMPLETE and len(train.study.curve(1)["value"]) == 2


def report_in_this_process(value: float) -> None:
    """A process's work that reports (started by a tuned function, in tests below)."""
    hp.report(value, step=1)


def test_report_from_a_process_the_function_started_says_to_report_in_the_function(
    db: Path,
) -> None:
    """A process the function starts (joblib's default backend, multiprocessing) runs
    no trial: ``hp.report()`` there said to call it inside a tuned function, where it
    was, and a ``trial`` handed to one could not be pickled, which joblib said as "Could
    not pickle the task". Both say where reports work and what to do instead."""
    import multiprocessing
    import pickle

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="processes", db=db, seed=0, max_failures=5)
    def train(x: float, trial: hp.Trial) -> float:
        if trial.number == 0:
            pickle.dumps(trial)  # as joblib and multiprocessing send it
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            pool.apply(report_in_this_process, (x,))
        return x

    trials = train.optimize(n_trials=2).trials
    assert [t.state for t in trials] == [TrialState.FAILED] * 2
    assert "trial 0 cannot be sent to another process (joblib's default backend, " in (
        trials[0].error or ""
    )
    assert "no trial is running in this process: hp.report() works in the process that " in (
        trials[1].error or ""
    )


# -- failures -------------------------------------------------------------------------------


def test_an_exception_fails_the_trial_with_its_traceback_and_the_study_goes_on(db: Path) -> None:
    calls = itertools.count()

    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str) -> float:
        if next(calls) == 1:
            raise ValueError("learning rate exploded")
        return x

    study = train.optimize(n_trials=4)
    assert states(study) == ["complete", "failed", "complete", "complete"]
    failed = study.trials[1]
    assert failed.value is None
    assert "Traceback" in failed.error
    assert "ValueError: learning rate exploded" in failed.error
    assert all(t.error is None for t in study.trials if t.number != 1)


def test_an_error_naming_a_file_whose_name_is_not_utf8_is_stored_escaped(db: Path) -> None:
    """A Latin-1 file name (a lone surrogate in Python) in the error, or in the
    traceback of a script in such a folder, failed the insert of the failed trial and
    stopped the run with a traceback of hpotrack's; a manual call raised that too."""
    missing = os.fsdecode(b"/data/caf\xe9.csv")

    @hp.tune(SPACE, study="s", db=db, seed=0, max_failures=3)
    def train(x: float, n: int, opt: str) -> float:
        raise FileNotFoundError(missing)

    with pytest.raises(FileNotFoundError):
        train(x=0.1, n=2, opt="adam")
    study = train.optimize(n_trials=3)
    assert states(study) == ["failed"] * 3
    stored = hp.load_study("s", db=db).trials
    for trial in (*study.trials, *stored):
        assert trial.error.endswith("FileNotFoundError: /data/caf\\udce9.csv\n")


def test_too_many_consecutive_failures_stop_with_the_first_traceback(db: Path) -> None:
    calls = itertools.count()

    @hp.tune(SPACE, study="s", db=db, seed=0, max_failures=3)
    def train(x: float, n: int, opt: str) -> float:
        raise ValueError(f"failure number {next(calls)}")

    with pytest.raises(TooManyFailures) as raised:
        train.optimize(n_trials=10)
    message = str(raised.value)
    assert "ValueError: failure number 0" in message
    assert "Traceback" in message
    assert states(train.study) == ["failed"] * 3


def test_one_failure_allowed_is_counted_in_the_singular(db: Path) -> None:
    @hp.tune(SPACE, study="s", db=db, seed=0, max_failures=1)
    def train(x: float, n: int, opt: str) -> float:
        raise ValueError("no data")

    with pytest.raises(TooManyFailures, match=r"^1 trial in a row failed in study 's'; stopping"):
        train.optimize(n_trials=3)


def test_failures_separated_by_successes_do_not_stop_the_study(db: Path) -> None:
    calls = itertools.count()

    @hp.tune(SPACE, study="s", db=db, seed=0, max_failures=2)
    def train(x: float, n: int, opt: str) -> float:
        if next(calls) % 2:
            raise ValueError("every other trial fails")
        return x

    study = train.optimize(n_trials=8)
    assert states(study) == ["complete", "failed"] * 4


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        (float("nan"), "is nan"),
        (float("-inf"), "is -inf"),
        (None, "None"),
        ("0.5", "'0.5'"),
        (True, "True"),
        ({"loss": 0.1}, "'loss'"),
    ],
    ids=["nan", "inf", "none", "string", "bool", "dict-without-objective"],
)
def test_a_bad_return_value_fails_the_trial_saying_what_came_back(
    db: Path, returned: object, expected: str
) -> None:
    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str) -> object:
        return returned

    study = train.optimize(n_trials=1)
    (trial,) = study.trials
    assert trial.state is TrialState.FAILED
    assert trial.value is None
    assert "'value'" in trial.error  # names the objective it looked for
    assert expected in trial.error


def test_keyboard_interrupt_fails_the_trial_and_propagates(
    db: Path, info_log: pytest.LogCaptureFixture
) -> None:
    calls = itertools.count()

    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str) -> float:
        if next(calls) == 2:
            raise KeyboardInterrupt
        return x

    with pytest.raises(KeyboardInterrupt):
        train.optimize(n_trials=6)
    assert info_log.messages[-1] == (
        "study 's' interrupted: optimize() again continues the study, first running "
        "again any trial the interruption stopped"
    )
    trials = hp.load_study("s", db=db).trials
    assert [t.state.value for t in trials] == ["complete", "complete", "failed", "queued"]
    assert "interrupted" in trials[2].error
    assert trials[2].finished is not None
    # not the configuration's fault: queued to run again, as a lost trial would be
    assert trials[3].origin == "retried" and trials[3].params == trials[2].params
    assert [(e.parent, e.kind) for e in trials[3].parents] == [(2, "retried")]
    with closing(sqlite3.connect(db)) as conn:
        assert (
            conn.execute("SELECT COUNT(*) FROM trials WHERE state = 'running'").fetchone()[0] == 0
        )
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_second_ctrl_c_while_the_first_is_stored_is_ignored(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C pressed twice: the second arrives while the interrupted trial is stored
    (here: at the start of that write). It must not break the write, which would leave
    the trial running in the file (found lost later, using up ``retries``)."""
    tell = hp.Study.store_outcome

    def tell_and_press_again(study: hp.Study, *args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGINT)
        return tell(study, *args, **kwargs)

    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str) -> float:
        monkeypatch.setattr(hp.Study, "store_outcome", tell_and_press_again)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train.optimize(n_trials=3)
    states = [t.state.value for t in hp.load_study("s", db=db).trials]
    assert states == ["failed", "queued"]  # stored as interrupted, and queued again
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_optimize_continues_after_a_keyboard_interrupt(db: Path) -> None:
    calls = itertools.count()

    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str) -> float:
        if next(calls) == 1:
            raise KeyboardInterrupt
        return x

    with pytest.raises(KeyboardInterrupt):
        train.optimize(n_trials=5)
    study = train.optimize()  # the stored target (5); the retry replaces what it retries
    assert states(study) == ["complete", "failed", "complete", "complete", "complete", "complete"]
    interrupted, retry = study.trials[1], study.trials[2]
    assert retry.origin == "retried" and retry.params == interrupted.params  # it ran first


# -- manual calls ---------------------------------------------------------------------------


def test_a_manual_call_records_one_trial_and_returns_the_result(db: Path) -> None:
    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str) -> dict[str, Any]:
        return {"value": x + n, "opt": opt}

    returned = train(x=0.25, n=3, opt="sgd")
    assert returned == {"value": 3.25, "opt": "sgd"}
    (trial,) = train.study.trials
    assert trial.origin == "manual"
    assert trial.state is TrialState.COMPLETE
    assert trial.params == {"x": 0.25, "n": 3, "opt": "sgd"}
    assert trial.value == 3.25


@pytest.mark.parametrize(
    "params",
    [
        {"x": 0.1, "n": 2},  # missing opt
        {"x": 0.1, "n": 2, "opt": "adam", "lr": 0.1},  # unknown lr
        {"x": 0.1, "n": 2, "otp": "adam"},  # typo
        {"x": 5.0, "n": 2, "opt": "adam"},  # out of range
        {"x": 0.1, "n": 2, "opt": "rmsprop"},  # not an option
    ],
    ids=["missing", "unknown", "typo", "out-of-range", "not-an-option"],
)
def test_a_manual_call_with_bad_hyperparameters_raises_and_stores_no_trial(
    db: Path, params: dict[str, Any]
) -> None:
    calls: list[object] = []

    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str) -> float:
        calls.append(x)
        return 0.0

    with pytest.raises(hp.HpotrackError):
        train(**params)
    assert calls == []
    assert train.study.trials == []


def test_a_rejected_manual_call_leaves_no_trace_in_the_database(db: Path) -> None:
    train = make(db)
    with pytest.raises(hp.HpotrackError):
        train(x=0.1, n=2, opt="adam", lr=0.1)
    if db.exists():
        with closing(sqlite3.connect(db)) as conn:
            assert conn.execute("SELECT COUNT(*) FROM studies").fetchone()[0] == 0
            assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


def test_a_manual_call_error_names_the_offending_hyperparameter(db: Path) -> None:
    train = make(db)
    with pytest.raises(hp.HpotrackError, match="'lr'"):
        train(x=0.1, n=2, opt="adam", lr=0.1)
    with pytest.raises(hp.HpotrackError, match="'opt'"):
        train(x=0.1, n=2)


def test_a_manual_call_leaving_values_out_names_the_fix(db: Path) -> None:
    """It said only "missing hyperparameter(s) 'opt'": now how to call it (an example
    value of each from the middle of its range), or how to queue it with those drawn."""
    train = make(db)
    with pytest.raises(hp.SpaceError) as raised:
        train(x=0.1, n=2)
    assert str(raised.value) == (
        "train() runs one manual trial with a value for every hyperparameter, but got none "
        "for 'opt': pass it too, e.g. train(x=0.1, n=2, opt='sgd'); or queue the trial with "
        "the values left out drawn at random, train.study.enqueue(x=0.1, n=2), and "
        "train.optimize() runs it first"
    )
    example = r"e\.g\. train\(x=0\.0, n=3, opt='sgd'\);.* train\.study\.enqueue\(\{\}\)"
    with pytest.raises(hp.SpaceError, match=r"none for 'x', 'n', 'opt': pass them, " + example):
        train()
    with pytest.raises(hp.SpaceError, match=r"^`-1\.0 <= x <= 1\.0` must hold"):  # value first
        train(x=5.0)
    assert not db.exists()


def test_a_manual_call_example_is_a_short_value_of_the_space(db: Path) -> None:
    """A log-scale middle is 0.00316, not 0.0031622776601683794; a pbt study, which
    queues no trial, is not told to queue one."""

    @hp.tune({"lr": hp.Float(1e-5, 1.0, log=True), "k": hp.Int(1, 9)}, method="pbt", db=db)
    def train(lr: float, k: int, trial: hp.Trial) -> float:
        return lr

    with pytest.raises(hp.SpaceError) as raised:
        train(k=1)
    assert str(raised.value).endswith("pass it too, e.g. train(lr=0.00316, k=1)")


def test_a_manual_call_with_positional_arguments_raises_and_stores_nothing(db: Path) -> None:
    train = make(db)
    with pytest.raises(hp.HpotrackError, match="keyword"):
        train(0.1, 2, "adam")
    assert not db.exists()


def test_a_positional_call_names_the_function_not_the_study(db: Path) -> None:
    """It said "call s with keyword arguments only", s being the study's name."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="mlp-digits", db=db)
    def train(x: float) -> float:
        return x

    with pytest.raises(hp.TrialError) as raised:
        train(0.5)
    assert str(raised.value) == "call train() with keyword arguments only, e.g. train(x=...)"


def test_a_manual_call_whose_function_raises_raises_that_error_and_stores_a_failed_trial(
    db: Path,
) -> None:
    """A direct call behaves as calling the function: its own exception comes out (an
    ``except ValueError`` around it works), and the trial is stored as failed."""

    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str) -> float:
        raise ValueError("bad batch")

    with pytest.raises(ValueError, match="bad batch") as raised:
        train(x=0.1, n=2, opt="adam")
    if sys.version_info >= (3, 11):
        assert raised.value.__notes__ == ["[hpotrack] stored as failed trial 0 of study 's'"]
    (trial,) = train.study.trials
    assert trial.state is TrialState.FAILED
    assert trial.origin == "manual"
    assert "ValueError: bad batch" in trial.error


def test_a_manual_call_can_report(db: Path) -> None:
    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str) -> float:
        hp.report(0.3)
        hp.report(0.2)
        return 0.1

    assert train(x=0.0, n=1, opt="adam") == 0.1
    assert train.study.curve(0) == {"value": [(1, 0.3), (2, 0.2)]}


def test_a_manual_call_on_a_pruning_study_is_never_stopped(db: Path) -> None:
    """A direct call returns what the function returns, even where the method would
    stop a trial this bad: its reports are stored as checks all the same."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="s", db=db, seed=0,
             budget=hp.Budget(1, 9))  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        value = 0.0
        for epoch in trial.steps:
            value = x + 1.0 / epoch
            trial.report(value, step=epoch)
        return value

    train.optimize(n_trials=9)
    assert train(x=1.0) == 1.0 + 1.0 / 9  # the worst x: sha would stop it at epoch 1
    trial = train.study.trials[-1]
    assert trial.origin == "manual" and trial.state is TrialState.COMPLETE
    assert sorted(trial.checks) == [1, 3]
    assert len(train.study.curve(trial.number)["value"]) == 9


def test_a_manual_call_whose_function_raises_pruned_raises_it_once_stored(db: Path) -> None:
    """A function that stops itself (``raise hp.Pruned()``) made the direct call return
    None, a value the function never returned."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        trial.report(x, step=1)
        raise hp.Pruned()

    with pytest.raises(hp.Pruned) as raised:
        train(x=0.25)
    if sys.version_info >= (3, 11):  # add_note: Python 3.10 has no exception notes
        assert "[hpotrack] stored as pruned trial 0 of study 's'" in raised.value.__notes__
    (trial,) = train.study.trials
    assert trial.state is TrialState.PRUNED and trial.value == 0.25


def test_a_manual_call_reads_only_the_trials_changed_since_the_last_call(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each direct call opened the study afresh and read every trial, so a loop of
    calls slowed down as the study grew (50 ms a call at 3,000 trials)."""

    train = make(db, method="random")
    train.optimize(n_trials=40)
    train(x=0.5, n=1, opt="adam")
    read = rows_read(monkeypatch)
    train(x=0.25, n=2, opt="sgd")
    assert sum(read) < 10  # the trial of the call and its outcome, not the 41 before
    assert len(train.study.trials) == 42


def rows_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on, how many trial rows each read of what changed returns (a list that
    grows with each read)."""
    from hpotrack.store import Store

    read: list[int] = []
    trials_since = Store.trials_since

    def counted(self: Store, *args: Any) -> Any:
        rows = trials_since(self, *args)
        read.append(len(rows))
        return rows

    monkeypatch.setattr(Store, "trials_since", counted)
    return read


def test_queueing_through_train_study_in_a_loop_reads_only_what_changed(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`train.study` opened the study afresh at each use and read every trial, so a loop
    of `train.study.enqueue(...)` slowed down as the queue grew (62 ms a call at 2,000)."""

    train = make(db, method="manual")
    for x in range(30):
        train.study.enqueue(x=x / 30, n=1, opt="adam")
    read = rows_read(monkeypatch)
    for x in range(10):
        train.study.enqueue(x=x / 10, n=2, opt="sgd")
    assert sum(read) <= 10  # the trial each call queued, not the 30 before it
    assert len(train.study.trials) == 40


def test_the_manual_calls_of_a_process_are_one_run_of_the_study(db: Path) -> None:
    """Each call registered another run (a `runs` row), as if another process ran it."""
    train = make(db)
    for x in (0.1, 0.2, 0.3):
        train(x=x, n=1, opt="adam")
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
        (runs,) = conn.execute("SELECT COUNT(DISTINCT run_id) FROM trials").fetchone()
    assert runs == 1


def test_manual_calls_go_on_in_a_study_deleted_and_created_anew(db: Path) -> None:
    train = make(db)
    train(x=0.1, n=1, opt="adam")
    result = CliRunner().invoke(cli, ["--db", str(db), "delete", "s", "--yes"])
    assert result.exit_code == 0, result.output
    assert train(x=0.2, n=1, opt="adam") == pytest.approx(1.04)
    (trial,) = train.study.trials
    assert trial.number == 0 and trial.params["x"] == 0.2
    with closing(sqlite3.connect(db)) as conn:
        run = conn.execute("SELECT runs.study_id FROM trials JOIN runs ON runs.id = run_id")
        assert run.fetchall() == [(train.study.id,)]


def test_manual_calls_from_several_threads_are_numbered_once_each(db: Path) -> None:
    """Threads share the process's connection: a thread took another's commit for its
    own, skipped reading it, and numbered its next trial as that one."""
    from concurrent.futures import ThreadPoolExecutor

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        trial.report(x, step=1)  # a commit of this thread while the others commit theirs
        time.sleep(0.005)
        return x

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: train(x=i / 40), range(40)))
    trials = train.study.trials
    assert [t.number for t in trials] == list(range(40))
    assert sorted(t.params["x"] for t in trials) == [i / 40 for i in range(40)]


# -- enqueue --------------------------------------------------------------------------------


def test_an_enqueued_trial_runs_first_with_exactly_the_given_params(db: Path) -> None:
    train = make(db)
    train.study.enqueue({"x": 0.125, "n": 3, "opt": "sgd"})
    train.study.enqueue({"x": -0.5, "n": 1, "opt": "adam"})
    study = train.optimize(n_trials=4)
    trials = study.trials
    assert states(study) == ["complete"] * 4
    assert [t.origin for t in trials] == ["enqueued", "enqueued", "sampled", "sampled"]
    assert trials[0].params == {"x": 0.125, "n": 3, "opt": "sgd"}
    assert trials[1].params == {"x": -0.5, "n": 1, "opt": "adam"}
    assert trials[0].value == 0.125**2 + 3


def test_enqueue_returns_the_number_and_leaves_the_trial_queued(db: Path) -> None:
    train = make(db)
    train.optimize(n_trials=2)
    number = train.study.enqueue({"x": 0.0, "n": 2, "opt": "adam"})
    assert number == 2
    queued = hp.load_study("s", db=db).trials[2]
    assert queued.state is TrialState.QUEUED
    assert queued.started is None


def test_a_trial_queued_after_the_target_is_reached_is_named_and_runs_with_a_larger_one(
    db: Path, info_log: pytest.LogCaptureFixture
) -> None:
    train = make(db)
    train.optimize(n_trials=2)
    train.study.enqueue({"x": 0.0, "n": 2, "opt": "adam"})
    train.optimize()
    assert "has 2 trials and 1 queued, waiting for a larger target: the target of 2" in (
        info_log.text
    )
    assert [t.state for t in train.optimize(n_trials=3).trials][2] is TrialState.COMPLETE


@pytest.mark.parametrize(
    "params",
    [
        {"x": 2.0, "n": 1, "opt": "adam"},
        {"x": 0.0, "n": 1.5, "opt": "adam"},
        {"x": 0.0, "n": 1, "opt": "nadam"},
        {"x": "0.1", "n": 1, "opt": "adam"},
        {"x": 0.0, "n": 1, "opt": "adam", "extra": 1},
        {"x": 0.0, "m": 1},
    ],
    ids=["out-of-range", "non-integer", "not-an-option", "string-for-float", "extra", "typo"],
)
def test_enqueue_rejects_bad_values(db: Path, params: dict[str, Any]) -> None:
    study = make(db).study
    with pytest.raises(hp.HpotrackError):
        study.enqueue(params)
    assert study.trials == []


def test_values_left_out_of_an_enqueued_trial_are_drawn_as_random_draws_them(db: Path) -> None:
    train = make(db, method="random")
    first = train.study.enqueue({"n": 2})
    second = train.study.enqueue({})
    sampled = make(db.with_name("other.db"), method="random").optimize(n_trials=2).trials
    trials = train.optimize(n_trials=2).trials
    assert [t.origin for t in trials] == ["enqueued", "enqueued"] and (first, second) == (0, 1)
    assert trials[0].params == {**sampled[0].params, "n": 2}
    assert trials[1].params == sampled[1].params
    assert trials[0].value == sampled[0].params["x"] ** 2 + 2


def test_skip_if_exists_returns_the_trial_that_has_the_values(db: Path) -> None:
    train = make(db)
    train.optimize(n_trials=3)
    done = train.study.trials[1]
    assert train.study.enqueue(dict(done.params), skip_if_exists=True) == 1
    assert (
        train.study.enqueue({"opt": done.params["opt"], "x": done.params["x"]}, skip_if_exists=True)
        == 1
    )
    queued = train.study.enqueue({"x": 0.25, "n": 1}, skip_if_exists=True)
    assert queued == 3
    assert train.study.enqueue({"n": 1, "x": 0.25 + 1e-15}, skip_if_exists=True) == 3
    assert train.study.enqueue({"x": 0.25, "n": 1}) == 4  # without the flag: queued again
    assert train.study.enqueue({}, skip_if_exists=True) == 5  # nothing given: nothing to match
    assert [t.state.value for t in train.study.trials][3:] == ["queued"] * 3


def test_enqueue_takes_the_values_as_keywords_too(db: Path) -> None:
    """``study.enqueue(x=0.25)`` queues what ``study.enqueue({"x": 0.25})`` does, as a
    manual call ``train(x=0.25, ...)`` takes them (it was Python's bare TypeError)."""
    study = make(db).study
    assert study.enqueue(x=0.25, n=2) == 0
    assert study.enqueue({"x": 0.25, "n": 2}) == 1
    assert study.enqueue(x=0.25, n=2, skip_if_exists=True) == 0
    given = [{k: t.params[k] for k in ("x", "n")} for t in study.trials]
    assert given == [{"x": 0.25, "n": 2}] * 2
    with pytest.raises(hp.SpaceError, match="unknown hyperparameter 'nn'; did you mean 'n'"):
        study.enqueue(x=0.0, nn=1)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (({"x": 0.25},), {"n": 2}, r"^enqueue\(\) takes the values as a dict or as keywords, "
         r"not both, but got \{'x': 0\.25\} and n=2: put them all in one of the two$"),
        ((), {}, r"^enqueue\(\) needs the values of the trial to queue, e\.g\. "
         r"study\.enqueue\(x=\.\.\.\) or study\.enqueue\(\{'x': \.\.\.\}\) \(values left "
         r"out are drawn at random; \{\} draws them all\)$"),
    ],
    ids=["both", "neither"],
)  # fmt: skip
def test_enqueue_refuses_both_forms_at_once_or_neither(
    db: Path, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    study = make(db).study
    with pytest.raises(hp.errors.CallError, match=message):
        study.enqueue(*args, **kwargs)
    assert study.trials == []


@pytest.mark.parametrize("flag", [0.5, "no", 1, None])
def test_enqueue_refuses_a_skip_if_exists_that_is_no_bool(db: Path, flag: object) -> None:
    """Any truthy value skipped, "no" included: it is True or False, nothing is queued."""
    study = make(db).study
    message = rf"^`skip_if_exists` must be True or False, but got skip_if_exists={flag!r}$"
    with pytest.raises(hp.errors.CallError, match=message):
        study.enqueue(x=0.25, skip_if_exists=flag)  # type: ignore[arg-type]
    assert study.trials == []


def test_enqueue_once_says_whether_this_call_queued_the_trial(db: Path) -> None:
    """Decided under the write lock: a handle that read the study before another one
    queued the values finds that trial (``hpotrack enqueue --skip-if-exists`` said
    "enqueued" in several processes racing for the same values)."""
    mine, theirs = hp.load_study(make(db).study.name, db=db), make(db).study
    assert mine.trials == []  # read before the other queues
    assert theirs.enqueue_once({"x": 0.25}, skip_if_exists=True) == Enqueued(0, queued=True)
    assert mine.enqueue_once({"x": 0.25}, skip_if_exists=True) == Enqueued(0, queued=False)
    assert mine.enqueue_once({"x": 0.25}) == Enqueued(1, queued=True)


# -- reopening a study ---------------------------------------------------------------------


def test_reopening_with_the_same_definition_keeps_the_trials(db: Path) -> None:
    first = [t.params for t in make(db).optimize(n_trials=3).trials]
    again = make(db)  # a new TunedFunction object, same study and database
    study = again.optimize(n_trials=5)
    assert [t.params for t in study.trials][:3] == first
    assert len(study.trials) == 5


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"space": {**SPACE, "x": hp.Float(-2.0, 1.0)}}, "'x'"),
        ({"space": {**SPACE, "lr": hp.Float(0.1, 1.0)}}, "'lr'"),
        ({"space": {"x": SPACE["x"], "n": SPACE["n"]}}, "'opt'"),
        ({"direction": "maximize"}, "direction"),
        ({"objective": "loss"}, "objective"),
    ],
    ids=["changed-bounds", "added-param", "removed-param", "direction", "objective"],
)
def test_reopening_with_another_definition_raises_naming_the_difference(
    db: Path, changes: dict[str, Any], named: str
) -> None:
    make(db).optimize(n_trials=1)
    options = {"space": SPACE, "direction": "minimize", "objective": "value", **changes}

    @hp.tune(
        options["space"],
        study="s",
        db=db,
        seed=0,
        direction=options["direction"],
        objective=options["objective"],
    )
    def other(**kwargs: Any) -> float:
        return 0.0

    with pytest.raises(StudyMismatchError, match=named):
        other.optimize(n_trials=2)
    assert len(hp.load_study("s", db=db).trials) == 1


def test_reopening_with_bool_options_instead_of_int_options_is_a_mismatch(db: Path) -> None:
    @hp.tune({"flag": [0, 1]}, study="s", db=db, seed=0)
    def first(flag: int) -> float:
        return float(flag)

    first.optimize(n_trials=1)

    @hp.tune({"flag": [False, True]}, study="s", db=db, seed=0)
    def second(flag: bool) -> float:
        return float(flag)

    with pytest.raises(StudyMismatchError, match="'flag'") as raised:
        second.optimize(n_trials=3)
    # the fix it suggests runs as given, whatever the database is called
    command = shlex.split(str(raised.value).split("`")[-2])
    assert command[:3] == ["hpotrack", "--db", str(db)]
    deleted = CliRunner().invoke(cli, command[1:], input="y\n")
    assert deleted.exit_code == 0, deleted.output
    assert second.optimize(n_trials=3).trials[0].params["flag"] in (False, True)


# -- what the decorator refuses --------------------------------------------------------------


def test_an_unknown_method_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(MethodError, match="unknown method 'randm'") as raised:
        hp.tune(SPACE, method="randm")
    for known in ("grid", "manual", "random"):
        assert known in str(raised.value)


def test_an_unregistered_method_subclass_is_refused_rather_than_run_as_its_parent() -> None:
    """The study rebuilds its method from the stored name: a subclass that kept its
    parent's name would silently run as the parent."""

    @dataclasses.dataclass(frozen=True)
    class Greedier(hp.methods.Hyperband):
        def schedule(self, ladder: Any) -> tuple[int, ...]:
            return (ladder.top,)

    with pytest.raises(MethodError, match="Greedier is not registered under its name "
                       r"'hyperband'.*@hp\.methods\.register"):  # fmt: skip
        hp.tune(SPACE, method=Greedier(), budget=hp.Budget(1, 9))


@pytest.mark.parametrize("direction", ["max", "MINIMIZE", ""])
def test_a_bad_direction_is_refused(direction: str) -> None:
    with pytest.raises(hp.HpotrackError, match="direction"):

        @hp.tune(SPACE, direction=direction)
        def train(x: float, n: int, opt: str) -> float:
            return x


def test_a_function_missing_a_hyperparameter_is_refused() -> None:
    with pytest.raises(hp.HpotrackError, match="'opt'"):

        @hp.tune(SPACE)
        def train(x: float, n: int) -> float:
            return x


def test_a_bad_keep_checkpoints_is_named_with_what_it_got() -> None:
    with pytest.raises(
        hp.errors.DefinitionError,
        match=re.escape(
            "keep_checkpoints must be 'needed' or 'all', but got keep_checkpoints='last'"
        ),
    ):
        hp.tune(SPACE, keep_checkpoints="last")(lambda x, n, opt: x)


def test_a_partial_or_a_callable_object_is_tuned_under_a_study_name_it_is_given(
    db: Path,
) -> None:
    """Naming the study after it, or a message naming it, raised AttributeError."""

    def fit(x: float, scale: float) -> float:
        return x * scale

    class Model:
        def __call__(self, x: float) -> float:
            return x

    for fn, what in [(functools.partial(fit, scale=2.0), "<locals>.fit, ...)"),
                     (Model(), "an instance of")]:  # fmt: skip
        with pytest.raises(hp.errors.DefinitionError, match=re.escape(what)) as raised:
            hp.tune({"x": hp.Float(0.0, 1.0)}, db=db)(fn)
        assert "pass study='...'" in str(raised.value)
    train = hp.tune({"x": hp.Float(0.0, 1.0)}, study="p", db=db)(functools.partial(fit, scale=2))
    assert train(x=0.25) == 0.5
    with pytest.raises(hp.TrialError, match=re.escape("call fit() with keyword arguments only")):
        train(0.25)
    with pytest.raises(hp.TrialError, match=re.escape("fit() does not accept the hyperparameter")):
        hp.tune({"y": hp.Float(0.0, 1.0)}, study="p", db=db)(functools.partial(fit, scale=2))


def test_a_bare_decorator_or_decorating_no_function_is_one_clear_error() -> None:
    with pytest.raises(hp.errors.DefinitionError, match=re.escape("@hp.tune(space, method=...)")):

        @hp.tune  # type: ignore[arg-type]
        def train(x: float) -> float:
            return x

    with pytest.raises(hp.errors.DefinitionError, match="None, which is not callable"):
        hp.tune({"x": hp.Float(0.0, 1.0)}, study="s")(None)  # type: ignore[arg-type]


async def _train_async(x: float) -> float:
    return x


async def _train_async_gen(x: float) -> typing.AsyncIterator[float]:
    yield x


def _train_gen(x: float) -> typing.Iterator[float]:
    yield x


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (_train_async, "_train_async() is an async function"),
        (_train_async_gen, "_train_async_gen() is an async function"),
        (_train_gen, "_train_gen() is a generator (it yields)"),
    ],
    ids=["async def", "async generator", "generator"],
)
def test_a_function_that_returns_no_value_when_called_is_refused_when_decorating(
    db: Path, fn: Callable[..., Any], message: str
) -> None:
    """Each trial failed on the coroutine or generator it got (and warned that a
    coroutine was never awaited)."""
    with pytest.raises(hp.TrialError, match=re.escape(message)):
        hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db)(fn)


def test_hyperparameters_before_a_slash_are_refused_when_decorating(db: Path) -> None:
    """Every trial failed: hpotrack passes them by keyword."""

    def train(x: float, /, trial: hp.Trial) -> float:
        return x

    def keeps_a_default(seed: int = 0, /, *, x: float) -> float:  # never passed: fine
        return x

    with pytest.raises(hp.TrialError, match=re.escape("train() takes 'x' by position only")):
        hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db)(train)
    hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db)(keeps_a_default)


def test_a_method_decorated_in_its_class_body_is_refused_saying_how_to_tune_it() -> None:
    """It said to add 'self' to the space."""
    with pytest.raises(hp.TrialError) as raised:

        class Model:
            @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s")
            def fit(self, x: float) -> float:
                return x

    assert "Model.fit() takes 'self' first" in str(raised.value)
    assert "hp.tune(space, ...)(model.fit)" in str(raised.value)
    assert "add them to the space" not in str(raised.value)


def test_grid_over_a_continuous_float_without_step_is_refused() -> None:
    with pytest.raises(hp.HpotrackError, match="step"):
        hp.tune({"x": hp.Float(0.0, 1.0), "n": [1, 2]}, method="grid")


def test_the_decorator_does_not_touch_the_database(db: Path) -> None:
    make(db)
    assert not db.exists()


# -- stopping: timeout, grid exhausted, manual method ---------------------------------------


def test_timeout_stops_an_open_ended_search(db: Path, info_log: pytest.LogCaptureFixture) -> None:
    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str) -> float:
        time.sleep(0.1)
        return x

    study = train.optimize(timeout=0.5)
    assert 1 <= len(study.trials) < 50
    assert set(states(study)) == {"complete"}
    assert "timeout" in info_log.text


@pytest.mark.parametrize(
    ("budget", "max_budget", "message"),
    [
        (hp.Budget(1, 9), 0, r"`max_budget > 0` must hold .* but got max_budget=0"),
        (hp.Budget(1, 9), True, r"max_budget=True"),
        (hp.Budget(1, 9), "100", r"max_budget='100'"),
        (hp.Budget(1, 9), math.nan, r"max_budget=nan"),
        (None, 100, r"of study 's' declares no budget: pass budget=hp.Budget"),
        (
            hp.Budget(0.1, 1.0),
            100,
            r"declares Budget\(.*\): pass budget=hp.Budget\(min, max\) with whole",
        ),
    ],
)
def test_a_bad_max_budget_is_one_clear_error_and_stores_nothing(
    db: Path, budget: hp.Budget | None, max_budget: object, message: str
) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0, budget=budget)
    def train(x: float) -> float:
        return x

    with pytest.raises(OptionError, match=message):
        train.optimize(max_budget=max_budget)  # type: ignore[arg-type]
    assert not db.exists()  # refused before the study was opened


def test_a_batch_of_trials_claims_no_more_than_max_budget_can_still_pay_for(db: Path) -> None:
    """Very short trials under contention are claimed several per ask: a batch stops once
    the budgets of the trials it claimed cover what is left of max_budget."""
    from hpotrack.study import Worker

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0, budget=hp.Budget(1, 9))
    def train(x: float) -> float:
        return x

    study = train.optimize(n_trials=1)  # 9 trained
    worker = Worker(run_id=None, host="here", pid=os.getpid())
    claimed = ask(study, worker, None, count=8, stops=Stops(max_budget=30))
    assert [c.budget for c in claimed] == [9.0, 9.0, 9.0]  # 9 + 27 >= 30
    # another process's batch counts the three still running: 9 + 27 + 9 * 7 >= 99
    assert len(ask(study, worker, None, count=8, stops=Stops(max_budget=99))) == 7


def test_max_budget_logs_why_the_search_stopped(
    db: Path, info_log: pytest.LogCaptureFixture
) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0, budget=hp.Budget(1, 9))
    def train(x: float) -> float:  # reports nothing: a complete trial trained its budget
        return x

    study = train.optimize(max_budget=20)
    assert [t.trained for t in study.trials] == [9, 9, 9]
    assert "has trained 27 budget steps: the max_budget of 20 is spent" in info_log.text
    info_log.clear()
    assert len(train.optimize(max_budget=20).trials) == 3
    assert "nothing to run (pass a larger max_budget to train more)" in info_log.text


def test_grid_runs_every_cell_once_then_stops_saying_why(
    db: Path, info_log: pytest.LogCaptureFixture
) -> None:
    space = {"a": ["p", "q", "r"], "b": hp.Int(1, 4), "c": hp.Float(0.0, 1.0, step=1.0)}

    @hp.tune(space, method="grid", study="g", db=db, seed=0)
    def train(a: str, b: int, c: float) -> float:
        return b + c

    study = train.optimize()
    cells = [(t.params["a"], t.params["b"], t.params["c"]) for t in study.trials]
    assert sorted(cells) == sorted(itertools.product("pqr", [1, 2, 3, 4], [0.0, 1.0]))
    assert {t.origin for t in study.trials} == {"grid"}
    assert states(study) == ["complete"] * 24

    info_log.clear()
    study = train.optimize()
    assert len(study.trials) == 24
    assert "grid search is complete" in info_log.text
    assert f"study {study.name!r}: grid search is complete" in info_log.text  # which one
    assert "nothing to run" in info_log.text


def test_grid_stops_at_a_smaller_target_and_resumes_where_it_left_off(db: Path) -> None:
    @hp.tune({"a": [1, 2, 3], "b": [4, 5, 6, 7]}, method="grid", study="g", db=db, seed=0)
    def train(a: int, b: int) -> float:
        return a * b

    assert len(train.optimize(n_trials=5).trials) == 5
    study = train.optimize(n_trials=100)
    cells = [(t.params["a"], t.params["b"]) for t in study.trials]
    assert len(cells) == 12 and len(set(cells)) == 12


def test_manual_method_runs_only_enqueued_trials_then_stops(
    db: Path, info_log: pytest.LogCaptureFixture
) -> None:
    calls: list[float] = []

    @hp.tune(SPACE, method="manual", study="m", db=db, seed=0)
    def train(x: float, n: int, opt: str) -> float:
        calls.append(x)
        return x

    train.study.enqueue({"x": 0.5, "n": 1, "opt": "adam"})
    train.study.enqueue({"x": -0.5, "n": 2, "opt": "sgd"})
    study = train.optimize()
    assert calls == [0.5, -0.5]
    assert [t.origin for t in study.trials] == ["enqueued", "enqueued"]
    assert "no queued trial is left, and method 'manual' proposes none" in info_log.text

    info_log.clear()
    assert train.optimize(n_trials=10).trials == study.trials
    assert "nothing to run" in info_log.text


# -- determinism of random search ------------------------------------------------------------


def params_of(db: Path, seed: int, n: int, study: str = "r") -> list[dict[str, Any]]:
    return [t.params for t in make(db, study=study, seed=seed).optimize(n_trials=n).trials]


def test_random_with_the_same_seed_gives_the_same_params_in_another_file(tmp_path: Path) -> None:
    first = params_of(tmp_path / "a.db", 7, 20)
    second = params_of(tmp_path / "b.db", 7, 20)
    assert first == second
    assert len({p["x"] for p in first}) == 20  # and they are not all the same point


def test_random_with_different_seeds_gives_different_params(tmp_path: Path) -> None:
    assert params_of(tmp_path / "a.db", 7, 20) != params_of(tmp_path / "b.db", 8, 20)


def test_random_resumed_run_gives_the_same_params_as_an_uninterrupted_one(tmp_path: Path) -> None:
    straight = params_of(tmp_path / "a.db", 3, 20)
    params_of(tmp_path / "b.db", 3, 10)
    resumed = params_of(tmp_path / "b.db", 3, 20)  # a new TunedFunction on the same file
    assert resumed == straight


# -- where the database is -----------------------------------------------------------------


def test_the_default_database_is_hpotrack_db_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HPOTRACK_DB", raising=False)

    @hp.tune(SPACE, seed=0)
    def train(x: float, n: int, opt: str) -> float:
        return x

    train.optimize(n_trials=2)
    assert (tmp_path / "hpotrack.db").is_file()
    assert train.definition.name.endswith("train")  # default study name: module.qualname
    assert len(hp.load_study(train.definition.name).trials) == 2


def test_hpotrack_db_variable_overrides_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HPOTRACK_DB", str(tmp_path / "env.db"))

    @hp.tune(SPACE, study="s", seed=0)
    def train(x: float, n: int, opt: str) -> float:
        return x

    train.optimize(n_trials=2)
    assert (tmp_path / "env.db").is_file()
    assert not (tmp_path / "hpotrack.db").exists()
    assert len(hp.load_study("s").trials) == 2


def test_db_argument_overrides_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HPOTRACK_DB", str(tmp_path / "env.db"))
    make(tmp_path / "explicit.db").optimize(n_trials=1)
    assert (tmp_path / "explicit.db").is_file()
    assert not (tmp_path / "env.db").exists()


# -- a few edge values --------------------------------------------------------------------


def test_numpy_scalars_are_accepted_as_the_objective_and_metrics(db: Path) -> None:
    np = pytest.importorskip("numpy")

    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str) -> Any:
        return {"value": np.float32(0.5), "epochs": np.int64(3)}

    (trial,) = train.optimize(n_trials=1).trials
    assert trial.state is TrialState.COMPLETE
    assert trial.value == 0.5
    assert trial.metrics == {"value": 0.5, "epochs": 3}


def test_a_numpy_array_metric_is_stored_as_a_list(db: Path) -> None:
    np = pytest.importorskip("numpy")

    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str) -> Any:
        return {"value": 0.5, "per_class": np.array([0.25, 0.75])}

    trials = train.optimize(n_trials=2).trials
    assert [t.state.value for t in trials] == ["complete", "complete"]
    assert trials[0].metrics["per_class"] == [0.25, 0.75]


def test_a_metric_that_is_no_data_is_stored_as_text_and_said_once(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A returned model (or any object JSON cannot hold) is stored as its repr: read
    back it is a string, so the run says so, once per study, naming each such metric."""

    class Model:
        def __repr__(self) -> str:
            return "Model()"

    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str) -> Any:
        return {"value": x, "model": Model(), "raw": b"ab", "name": "text", "sizes": (1, 2)}

    with caplog.at_level(logging.WARNING, logger="hpotrack"):
        trials = train.optimize(n_trials=3).trials
    assert [t.metrics["model"] for t in trials] == ["Model()"] * 3
    said = [r.getMessage() for r in caplog.records if "stored as text" in r.getMessage()]
    assert said == [
        "study 's': trial 0 returned 'model' (Model), 'raw' (bytes), stored as text "
        "(repr), not as data: return numbers, text, or lists and dicts of them, and save "
        "a model with trial.save_checkpoint(model)"
    ]


def test_nan_objective_is_never_the_best(db: Path) -> None:
    values = iter([float("nan"), 3.0, float("nan"), 2.0])

    @hp.tune(SPACE, study="s", db=db, seed=0)
    def train(x: float, n: int, opt: str) -> float:
        return next(values)

    study = train.optimize(n_trials=4)
    assert states(study) == ["failed", "complete", "failed", "complete"]
    assert study.best.number == 3
    assert not math.isnan(study.best.value)


def test_a_change_of_method_options_names_the_options(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def declare(method: hp.methods.Method) -> hp.TunedFunction:
        @hp.tune({"x": hp.Float(0.0, 1.0)}, method=method, study="s", db=db, seed=0,
                 budget=hp.Budget(1, 9))  # fmt: skip
        def train(x: float) -> float:
            return x

        return train

    declare(hp.methods.SHA()).optimize(n_trials=2)
    with caplog.at_level(logging.INFO, logger="hpotrack"):
        declare(hp.methods.SHA(eta=2)).optimize(n_trials=3)
        declare(hp.methods.Hyperband(eta=2)).optimize(n_trials=4)
    changes = [r.getMessage() for r in caplog.records if "method changed" in r.getMessage()]
    assert changes == [
        "study 's': method changed (sha: eta 3.0 -> 2.0); the trials so far are kept",
        "study 's': method changed from sha to hyperband; the trials so far are kept",
    ]


def test_an_option_stored_before_it_existed_is_no_change_of_method(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A study stored without an option added since (read as None) said "method changed
    (random: )", naming nothing."""
    train = make(db, method=hp.methods.Random())
    train.optimize(n_trials=1)
    store = train.study.store
    with store.write():
        store.conn.execute("UPDATE studies SET method = json_remove(method, '$.options.pruner')")
    with caplog.at_level(logging.INFO, logger="hpotrack"):
        make(db, method=hp.methods.Random()).optimize(n_trials=2)
    assert [r for r in caplog.records if "method changed" in r.getMessage()] == []


@pytest.mark.parametrize("seed", [-1, 2**63, 1.5, True, "3"], ids=repr)
def test_a_seed_outside_what_every_method_can_use_is_refused_when_decorating(
    db: Path, seed: object
) -> None:
    with pytest.raises(hp.HpotrackError, match=r"`0 <= seed < 2\*\*63` must hold"):
        hp.tune(SPACE, study="s", db=db, seed=seed)  # type: ignore[arg-type]
    assert not db.exists()  # refused before anything is stored


@pytest.mark.parametrize("max_failures", [0, 2.0, "3"], ids=repr)
def test_a_bad_max_failures_is_a_definition_error_when_decorating(
    db: Path, max_failures: object
) -> None:
    """A setting of @tune, refused as the others are (a DefinitionError), not as the
    base HpotrackError that a caller could not tell from a run's errors."""
    with pytest.raises(DefinitionError, match=r"`max_failures >= 1` must hold for a whole"):
        hp.tune(SPACE, study="s", db=db, max_failures=max_failures)  # type: ignore[arg-type]
    assert not db.exists()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"n_jobs": 0}, "`n_jobs >= 1` (or -1: one per core) must hold"),
        ({"n_jobs": -2}, "`n_jobs >= 1` (or -1: one per core) must hold"),
        ({"timeout": math.nan}, "`timeout > 0` must hold"),
        ({"timeout": 0}, "`timeout > 0` must hold"),
        ({"timeout": "10"}, "seconds, but got timeout='10' (a str, not a number)"),
        (
            {"n_trials": "5"},
            "`n_trials >= 0` must hold for a whole number, but got n_trials='5' (a",
        ),
        ({"progress": "yes"}, "`progress` must be True, False or None"),
    ],
)
def test_bad_optimize_options_are_one_clear_error(
    db: Path, options: dict[str, object], expected: str
) -> None:
    """Each an OptionError (a ValueError), which a caller can catch apart from the
    errors of a run."""
    train = make(db)
    with pytest.raises(OptionError) as info:
        train.optimize(**{"n_trials": 3, **options})  # type: ignore[arg-type]
    assert expected in str(info.value)
    assert not train.study.trials


def test_numpy_integers_are_counts_and_seeds_like_ints(db: Path) -> None:
    """np.int64 from a computation is a whole number like any other (stored as an int)."""

    @hp.tune(SPACE, study="s", db=db, seed=np.int64(3), max_failures=np.int64(2))  # type: ignore[arg-type]
    def train(x: float, n: int, opt: str) -> float:
        return x

    study = train.optimize(n_trials=np.int64(3), n_jobs=np.int64(1))  # type: ignore[arg-type]
    assert len(study.trials) == 3 and study.target == 3 and type(study.target) is int
    with pytest.raises(OptionError, match=r"`n_jobs >= 1` \(or -1: one per core\) must hold"):
        train.optimize(n_trials=4, n_jobs=-1.0)  # type: ignore[arg-type]


def test_a_new_kind_of_method_note_is_logged_once_and_a_count_changing_in_it_is_not(
    db: Path, info_log: pytest.LogCaptureFixture
) -> None:
    """bayes leaving its Sobol start-up for its GP is news (both notes once, in order);
    a note that only counts something new each trial is not logged again, nor one of two
    kinds a method alternates between (bohb's random fraction and its model)."""

    @hp.tune({"x": hp.Float(0.0, 1.0), "y": hp.Float(0.0, 1.0)}, method=hp.methods.Bayes(
        n_startup=2, candidates=50), study="b", db=db, seed=0)  # fmt: skip
    def bayes(x: float, y: float) -> float:
        return (x - 0.3) ** 2 + y

    bayes.optimize(n_trials=5)
    notes = [r.getMessage() for r in info_log.records if "study 'b': bayes" in r.getMessage()]
    assert notes == ["study 'b': bayes: Sobol start-up", "study 'b': bayes: GP + logei"]

    @register
    @dataclasses.dataclass(frozen=True)
    class Counting(Random):
        name = "test-counting-notes"  # the study rebuilds its method from the stored name

        def ask(self, history: History) -> Proposal:
            found = super().ask(history)
            number = history.next_number
            kind = "odd" if number % 2 else "even"
            return dataclasses.replace(found, note=f"counting {kind}: {number} seen")

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method=Counting(), study="c", db=db, seed=0)
    def counted(x: float) -> float:
        return x

    counted.optimize(n_trials=4)
    assert [r.getMessage() for r in info_log.records if "counting" in r.getMessage()] == [
        "study 'c': counting even: 0 seen",
        "study 'c': counting odd: 1 seen",
    ]


@pytest.mark.parametrize(
    ("configure", "expected"),
    [
        ("", ["[hpotrack] study 's' has 1 trial: the target of 1 is reached"]),
        (
            "logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')",
            ["INFO study 's' has 1 trial: the target of 1 is reached"],
        ),
        ("logging.getLogger('hpotrack').setLevel(logging.WARNING)", []),
        (
            "own = logging.StreamHandler()\n"
            "own.setFormatter(logging.Formatter('own: %(message)s'))\n"
            "logging.getLogger('hpotrack').addHandler(own)",
            ["own: study 's' has 1 trial: the target of 1 is reached"],
        ),
    ],
    ids=["default", "application-logging", "quiet", "handler-on-hpotrack"],
)
def test_each_message_is_printed_once_whoever_configures_logging(
    tmp_path: Path, configure: str, expected: list[str]
) -> None:
    """By default hpotrack prints its own lines; once the application configures
    logging they go through it instead, never twice."""
    script = tmp_path / "run.py"
    script.write_text(
        "import logging\nimport hpotrack as hp\n"
        f"{configure}\n"
        "@hp.tune({'x': (0.0, 1.0)}, method='random', study='s', db='t.db')\n"
        "def f(x):\n    return x\n"
        "f.optimize(n_trials=1)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert [line for line in done.stderr.splitlines() if "study 's'" in line] == expected


def test_optunas_names_on_a_study_say_hpotracks(db: Path) -> None:
    study = make(db).optimize(n_trials=2)
    with pytest.raises(
        AttributeError, match=r"'best_params'; hpotrack spells it study\.best\.params"
    ):
        study.best_params  # noqa: B018 - the attribute access is the test
    with pytest.raises(AttributeError, match=r"^'Study' object has no attribute 'colour'$"):
        study.colour  # noqa: B018
    assert not hasattr(study, "best_value") and study.best.value is not None


def test_optunas_trial_methods_say_what_hpotrack_does_instead(db: Path) -> None:
    """A ported objective calling trial.suggest_float failed with a bare AttributeError
    (stored as a failed trial's error)."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="ported", db=db, seed=0, max_failures=9)
    def train(x: float, trial: hp.Trial) -> float:
        return float(trial.suggest_float("lr", 1e-5, 1e-1, log=True))

    (failed,) = train.optimize(n_trials=1).trials
    assert "'suggest_float'; hpotrack's hyperparameters are declared in the space" in (
        failed.error or ""
    )
    trial = hp.Trial(trial_id=1, number=0, params={}, budget=None, objective="v", study="s")
    with pytest.raises(AttributeError, match=r"'set_user_attr'; return it in the function's"):
        trial.set_user_attr("k", 1)
    with pytest.raises(AttributeError, match=r"^'Trial' object has no attribute 'colour'$"):
        trial.colour  # noqa: B018 - the attribute access is the test


def test_a_manual_call_is_typed_as_what_the_function_returns() -> None:
    """A type checker saw ``train(lr=...)`` as Any, whatever the function returns (a
    misspelt ``result["acuracy"]`` went unflagged): ``TunedFunction`` is generic in the
    function's return type, and the decorator ``tune`` returns carries it through."""
    returns = typing.get_type_hints(hp.TunedFunction.__call__)["return"]
    assert isinstance(returns, typing.TypeVar)
    assert hp.TunedFunction.__parameters__ == (returns,)
    decorate = typing.get_type_hints(hp.tune)["return"]
    assert typing.get_args(decorate) == ([Callable[..., returns]], hp.TunedFunction[returns])


def test_help_of_tune_says_what_every_parameter_is() -> None:
    """``help(hp.tune)`` (an editor's hover) said "See the README" and described
    ``keep_checkpoints`` alone: what objective=, db=, seed=, retries=... mean and default
    to was nowhere to be seen."""
    doc = inspect.getdoc(hp.tune) or ""
    parameters = inspect.signature(hp.tune).parameters
    assert [name for name in parameters if not re.search(rf"``{name}[`=]", doc)] == []

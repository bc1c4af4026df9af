"""Pruning end to end on a real SQLite file: ``@hp.tune(method=...(pruner=...),
budget=hp.Budget(...))``, ``trial.report`` raising ``hp.Pruned``, ``should_prune``, the
stored checks and curves, resume, and two OS processes sharing a pruned study."""

from __future__ import annotations

import math
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import hpotrack as hp
from hpotrack.records import TrialState
from hpotrack.store import close_stores

SPACE = {"x": hp.Float(0.0, 1.0)}
EPOCHS = hp.Budget(1, 9, name="epochs")
N_TRIALS = 20
WORKLOAD = Path(__file__).with_name("pruning_workload.py")
ROOT = Path(__file__).resolve().parents[1]


def loss_at(x: float, epoch: int) -> float:
    """Learning curves that never cross: a larger ``x`` is worse at every epoch."""
    return 10.0 * x + 1.0 / epoch


@dataclass
class Log:
    """What the training function saw, per trial number."""

    reported: dict[int, list[tuple[int, float]]] = field(default_factory=dict)
    raised_at: dict[int, int] = field(default_factory=dict)  # step whose report raised Pruned
    flags: dict[int, list[bool]] = field(default_factory=dict)  # should_prune() after reports
    budgets: dict[int, object] = field(default_factory=dict)


def make(
    db: Path,
    *,
    mode: str = "raise",
    pruner: hp.pruners.Pruner | str | None = "median",
    study: str = "s",
    direction: str = "minimize",
) -> tuple[hp.TunedFunction, Log]:
    """A tuned function over SPACE with curves ``loss_at``; ``mode`` is how it reports:

    - ``raise``: ``trial.report(v, step)`` (may raise Pruned)
    - ``module``: ``hp.report(v, step=...)`` (may raise Pruned)
    - ``flag``: ``trial.report(v, step, prune=False)``, then goes on to the end
    - ``stop``: ``trial.report(v, step, prune=False)``, raises ``hp.Pruned`` when told to
    - ``return``: ``trial.report(v, step, prune=False)``, returns when told to stop
    - ``catch``: ``trial.report(v, step)``, catches ``hp.Pruned`` and returns
    """
    log = Log()
    sign = 1.0 if direction == "minimize" else -1.0

    @hp.tune(
        SPACE,
        method=hp.methods.Random(pruner=pruner),
        budget=EPOCHS,
        db=db,
        seed=0,
        study=study,
        direction=direction,
    )
    def train(x: float, trial: hp.Trial) -> dict[str, float]:
        n = trial.number
        log.budgets[n] = trial.budget
        reported = log.reported.setdefault(n, [])
        flags = log.flags.setdefault(n, [])
        value = math.nan
        assert isinstance(trial.budget, int)
        last = trial.budget
        for epoch in range(1, last + 1):
            value = sign * loss_at(x, epoch)
            reported.append((epoch, value))
            try:
                if mode == "module":
                    hp.report(value, step=epoch)
                else:
                    trial.report(value, epoch, prune=mode in ("raise", "catch"))
            except hp.Pruned:
                log.raised_at[n] = epoch
                if mode == "catch":
                    return {"value": value, "seen": epoch}
                raise
            flags.append(trial.should_prune())
            if mode == "stop" and trial.should_prune():
                raise hp.Pruned(f"stopped at {epoch}")
            if mode == "return" and trial.should_prune():
                return {"value": value, "seen": epoch}
        return {"value": value, "seen": last}

    return train, log


def predicted_pruned(xs: list[float], *, pruned_count: bool = False) -> set[int]:
    """Which trials the median rule (5 start-up trials) stops in a sequential run: trial
    ``n`` stops iff its curve lies above the median of the earlier complete trials' curves
    (the curves never cross, so its first check decides). ``pruned_count``: flagged trials
    still complete (``prune=False``), so they count in later medians."""
    complete: list[float] = []
    pruned: set[int] = set()
    for n, x in enumerate(xs):
        if len(complete) >= 5 and x > float(np.median(complete)):
            pruned.add(n)
            if not pruned_count:
                continue
        complete.append(x)
    return pruned


def xs_of(study: hp.Study) -> list[float]:
    return [float(t.params["x"]) for t in study.trials]  # type: ignore[arg-type]


def numbers(study: hp.Study, state: TrialState) -> set[int]:
    return {t.number for t in study.trials if t.state is state}


# -- pruning decisions and what is stored ----------------------------------------------------------


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_bad_trials_are_pruned_exactly_as_the_median_rule_says(
    tmp_path: Path, direction: str
) -> None:
    train, log = make(tmp_path / "h.db", direction=direction)
    study = train.optimize(n_trials=N_TRIALS, progress=False)
    assert len(study.trials) == N_TRIALS
    pruned = numbers(study, TrialState.PRUNED)
    assert pruned == predicted_pruned(xs_of(study))
    assert 4 <= len(pruned) <= N_TRIALS - 8  # the test really prunes, and not everything
    assert numbers(study, TrialState.COMPLETE) == set(range(N_TRIALS)) - pruned
    assert set(log.raised_at) == pruned
    best = min(study.trials, key=lambda t: xs_of(study)[t.number])
    assert best.state is TrialState.COMPLETE and study.best.number == best.number
    assert all(budget == 9 and type(budget) is int for budget in log.budgets.values())


def test_a_pruned_trial_stores_its_last_value_and_its_curve_up_to_the_pruning_step(
    tmp_path: Path,
) -> None:
    train, log = make(tmp_path / "h.db")
    train.optimize(n_trials=N_TRIALS, progress=False)
    close_stores()
    study = hp.load_study("s", db=tmp_path / "h.db")
    pruned = [t for t in study.trials if t.state is TrialState.PRUNED]
    assert pruned
    for trial in pruned:
        step = log.raised_at[trial.number]
        assert step < EPOCHS.max
        curve = study.curve(trial.number)["value"]
        assert [s for s, _ in curve] == list(range(1, step + 1))
        assert curve == log.reported[trial.number]  # never reported past the pruning step
        assert trial.value == curve[-1][1] == loss_at(float(trial.params["x"]), step)  # type: ignore[arg-type]
        assert trial.metrics == {} and trial.error is None
    for trial in study.trials:
        if trial.state is TrialState.COMPLETE:
            curve = study.curve(trial.number)["value"]
            assert [s for s, _ in curve] == list(range(1, 10))
            assert trial.value == curve[-1][1]


def test_each_trial_checks_at_every_reported_epoch_but_the_last(tmp_path: Path) -> None:
    """Every epoch is a check, except the budget's last: a trial there has trained, and
    stopping it would only throw its full-budget value away (as a rung at the top would)."""
    train, log = make(tmp_path / "h.db")
    train.optimize(n_trials=N_TRIALS, progress=False)
    close_stores()
    study = hp.load_study("s", db=tmp_path / "h.db")
    assert numbers(study, TrialState.PRUNED)
    for trial in study.trials:
        reported = dict(log.reported[trial.number])
        assert trial.checks == {step: v for step, v in reported.items() if step < EPOCHS.max}
        assert all(type(step) is int for step in trial.checks) and trial.rung is None
        if trial.state is TrialState.PRUNED:
            assert max(trial.checks) == log.raised_at[trial.number]


def test_a_report_past_a_check_step_does_not_shift_later_checks(tmp_path: Path) -> None:
    @hp.tune(
        SPACE,
        method=hp.methods.Random(pruner=hp.pruners.Median(n_startup_trials=100)),
        budget=EPOCHS,
        db=tmp_path / "h.db",
        seed=0,
    )
    def train(x: float, trial: hp.Trial) -> float:
        for step in (1, 3, 4, 5):  # step 2 skipped: its check is made at 3
            trial.report(10.0 + step, step)
        return x

    study = train.optimize(n_trials=1, progress=False)
    checks = study.trials[0].checks
    assert {s: checks.get(s) for s in (1, 3, 4, 5)} == {1: 11.0, 3: 13.0, 4: 14.0, 5: 15.0}


def test_a_report_between_scheduled_checks_is_ranked_at_its_own_step(tmp_path: Path) -> None:
    """With checks every 5 steps, the first report past a scheduled step is the check
    (as in Optuna's pruners), at the step reported: a trial reporting every epoch used to
    be checked at "step 0" with its epoch-1 loss, ranked among complete trials that report
    every 3rd epoch at their epoch-3 losses, and was pruned on the same curve as theirs."""
    pruner = hp.pruners.Median(n_startup_trials=2, interval_steps=5)
    space = {"x": hp.Float(0.0, 1.0), "every": hp.Choice([1, 3])}

    @hp.tune(space, method=hp.methods.Random(pruner=pruner), budget=EPOCHS,
             db=tmp_path / "h.db", seed=0)  # fmt: skip
    def train(x: float, every: int, trial: hp.Trial) -> float:
        for epoch in range(1, EPOCHS.max + 1):
            if epoch % every == 0:
                trial.report(1.0 / epoch, epoch)  # the same curve for every trial
        return 1.0 / EPOCHS.max

    for _ in range(3):
        train(x=0.5, every=3)
    train.study.enqueue({"x": 0.5, "every": 1})
    study = train.optimize(n_trials=4, progress=False)
    assert [t.checks for t in study.trials[:3]] == [{3: 1 / 3, 6: 1 / 6}] * 3
    assert study.trials[3].state is TrialState.COMPLETE
    assert study.trials[3].checks == {1: 1.0, 5: 1 / 5}


def test_a_report_far_past_its_check_costs_no_pass_over_the_steps_between(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Steps may count samples or environment steps: a report 10**6 steps after the
    previous check used to ask the pruner for every step in between (seconds each)."""
    asked: list[int] = []
    next_check = hp.pruners.Median.next_check

    def counted(self: hp.pruners.Median, trial: object, step: int, history: object) -> object:
        asked.append(step)
        return next_check(self, trial, step, history)  # type: ignore[arg-type]

    monkeypatch.setattr(hp.pruners.Median, "next_check", counted)

    @hp.tune(SPACE, method=hp.methods.Random(pruner="median"), db=tmp_path / "h.db")
    def train(x: float, trial: hp.Trial) -> float:
        for step in (1, 10**6, 2 * 10**6):
            trial.report(x, step)
        return x

    study = train.optimize(n_trials=1, progress=False)
    assert set(study.trials[0].checks) == {1, 10**6, 2 * 10**6}
    assert len(asked) < 20


def test_checks_follow_warmup_and_interval(tmp_path: Path) -> None:
    pruner = hp.pruners.Median(n_startup_trials=100, n_warmup_steps=2, interval_steps=3)
    train, log = make(tmp_path / "h.db", pruner=pruner)
    study = train.optimize(n_trials=3, progress=False)
    for trial in study.trials:
        values = dict(log.reported[trial.number])
        assert trial.checks == {s: values[s] for s in (2, 5, 8)}
        assert trial.state is TrialState.COMPLETE


def test_without_a_pruner_nothing_is_checked_or_pruned(tmp_path: Path) -> None:
    train, log = make(tmp_path / "h.db", pruner=None)
    study = train.optimize(n_trials=10, progress=False)
    assert all(t.state is TrialState.COMPLETE for t in study.trials)
    assert all(t.checks == {} for t in study.trials)
    assert all(flags == [False] * 9 for flags in log.flags.values())
    with closing(sqlite3.connect(tmp_path / "h.db")) as conn:
        assert conn.execute("SELECT COUNT(*) FROM checks").fetchone() == (0,)
    assert all(len(study.curve(t.number)["value"]) == 9 for t in study.trials)


def test_other_metrics_never_check_or_prune(tmp_path: Path) -> None:
    @hp.tune(SPACE, method=hp.methods.Random(pruner="median"), budget=EPOCHS, db=tmp_path / "h.db")
    def train(x: float, trial: hp.Trial) -> float:
        # Trial.budget is typed float | None; a whole Budget makes it an int
        for epoch in range(1, trial.budget + 1):  # type: ignore[operator, arg-type]
            trial.report(1e6 * x * trial.number, epoch, name="accuracy")
        return x

    study = train.optimize(n_trials=10, progress=False)
    assert all(t.state is TrialState.COMPLETE and t.checks == {} for t in study.trials)
    assert len(study.curve(9)["accuracy"]) == 9


# -- report(prune=False), should_prune(), hp.report ------------------------------------------------


def test_report_with_prune_false_never_raises_and_should_prune_tells(tmp_path: Path) -> None:
    train, log = make(tmp_path / "h.db", mode="flag")
    study = train.optimize(n_trials=N_TRIALS, progress=False)
    assert all(t.state is TrialState.COMPLETE for t in study.trials)  # nobody raised
    assert log.raised_at == {}
    flagged = {n for n, flags in log.flags.items() if any(flags)}
    assert flagged == predicted_pruned(xs_of(study), pruned_count=True)
    assert len(flagged) >= 3
    for n, flags in log.flags.items():
        assert len(flags) == 9
        if n in flagged:  # the curves never cross: the first check decides, and it sticks
            assert all(flags)
        assert len(study.curve(n)["value"]) == 9


@pytest.mark.parametrize("mode", ["stop", "return", "catch"])
def test_stopping_on_should_prune_stores_a_pruned_trial(tmp_path: Path, mode: str) -> None:
    """Raising ``hp.Pruned`` after ``should_prune()``, returning instead, or catching the
    exception and returning: a trial that stopped short of its budget is ``pruned`` with
    its last reported value either way, never a ``complete`` trial of part of the budget
    (which would rank with full ones). What it returned is kept."""
    train, log = make(tmp_path / "h.db", mode=mode)
    study = train.optimize(n_trials=N_TRIALS, progress=False)
    pruned = numbers(study, TrialState.PRUNED)
    assert pruned == predicted_pruned(xs_of(study)) and pruned
    for n in pruned:
        trial = study.trials[n]
        assert trial.value == log.reported[n][-1][1]
        assert study.curve(n)["value"] == log.reported[n]
        if mode != "stop":
            assert trial.metrics == {"value": trial.value, "seen": log.reported[n][-1][0]}
    assert study.best is not None and study.best.state is TrialState.COMPLETE


def test_a_report_after_should_prune_raises_unless_prune_false(tmp_path: Path) -> None:
    outcomes: dict[int, str] = {}

    @hp.tune(
        SPACE,
        method=hp.methods.Random(pruner=hp.pruners.Median(n_startup_trials=1)),
        budget=EPOCHS,
        db=tmp_path / "h.db",
        seed=0,
    )
    def train(x: float, trial: hp.Trial) -> float:
        assert not trial.should_prune()
        trial.report(10.0 if trial.number else 0.0, 1, prune=False)
        if not trial.should_prune():
            outcomes[trial.number] = "goes on"
            return 0.0
        trial.report(11.0, 2, prune=False)  # still no exception
        outcomes[trial.number] = "told"
        trial.report(12.0, 3)  # the default prune=True raises now
        outcomes[trial.number] = "not raised"
        return 1.0

    study = train.optimize(n_trials=2, progress=False)
    assert outcomes == {0: "goes on", 1: "told"}
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.PRUNED]
    assert study.trials[1].value == 12.0
    assert study.curve(1)["value"] == [(1, 10.0), (2, 11.0), (3, 12.0)]


def test_module_level_report_raises_pruned_too(tmp_path: Path) -> None:
    train, log = make(tmp_path / "h.db", mode="module")
    study = train.optimize(n_trials=N_TRIALS, progress=False)
    pruned = numbers(study, TrialState.PRUNED)
    assert pruned == predicted_pruned(xs_of(study)) and pruned
    assert set(log.raised_at) == pruned
    for n in pruned:
        assert study.trials[n].value == log.reported[n][-1][1]


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize("diverged", [math.inf, -math.inf, math.nan])
def test_a_diverged_report_at_a_check_is_the_worst_value_and_pruned(
    tmp_path: Path, direction: str, diverged: float
) -> None:
    """NaN, inf and -inf are each the worst value there is at a check, in either
    direction (a log-likelihood that goes to +inf has diverged as surely as a loss), and
    leave the pruned trial without a value (an infinite one was stored, and exported as
    null: an export and import changed it)."""
    sign = 1.0 if direction == "minimize" else -1.0

    @hp.tune(
        SPACE,
        method=hp.methods.Random(pruner=hp.pruners.Median(n_startup_trials=2)),
        budget=EPOCHS,
        db=tmp_path / "h.db",
        seed=0,
        direction=direction,
    )
    def train(x: float, trial: hp.Trial) -> float:
        for epoch in range(1, 4):
            trial.report(diverged if trial.number == 3 else sign * x, epoch)
        return sign * x

    train.optimize(n_trials=5, progress=False)
    close_stores()
    trials = hp.load_study(train.definition.name, db=tmp_path / "h.db").trials
    assert trials[3].state is TrialState.PRUNED and trials[3].trained == 1
    assert trials[3].checks == {1: sign * sys.float_info.max}  # JSON has no inf or NaN
    assert trials[3].value is None


# -- resume ----------------------------------------------------------------------------------------


def summary(study: hp.Study) -> list[tuple[object, ...]]:
    return [(t.number, t.state, t.params, t.value, t.checks) for t in study.trials]


def test_a_resumed_study_prunes_the_same_trials_as_one_run(tmp_path: Path) -> None:
    once, _ = make(tmp_path / "once.db")
    whole = summary(once.optimize(n_trials=N_TRIALS, progress=False))
    close_stores()
    twice, _ = make(tmp_path / "twice.db")
    twice.optimize(n_trials=8, progress=False)
    close_stores()  # the second call reads everything back from the file
    again, log = make(tmp_path / "twice.db")  # a new process would rebuild the function too
    resumed = summary(again.optimize(n_trials=N_TRIALS, progress=False))
    assert sorted(log.reported) == list(range(8, N_TRIALS))
    assert resumed == whole
    assert any(state is TrialState.PRUNED for _, state, *_ in whole[8:])


# -- two OS processes -----------------------------------------------------------------------------


def test_two_processes_share_a_pruned_study(tmp_path: Path) -> None:
    db, n = tmp_path / "h.db", 30
    env = {**os.environ, "HPOTRACK_DB": str(db), "PYTHONPATH": str(ROOT)}
    env["HPOTRACK_TEST_GATE"] = str(tmp_path)
    processes = [
        subprocess.Popen(
            [sys.executable, str(WORKLOAD), str(n)],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        assert all(p.poll() is None for p in processes), "a worker exited early"
        time.sleep(0.01)
    (tmp_path / "go").touch()
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr and "locked" not in stderr.lower(), stderr

    study = hp.load_study("pruned-shared", db=db)
    trials = study.trials
    assert [t.number for t in trials] == list(range(n))
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    assert pruned and len(pruned) < n
    assert len({t.pid for t in trials}) == 2  # both processes ran trials
    for trial in pruned:
        curve = study.curve(trial.number)["value"]
        assert trial.value == curve[-1][1] and len(curve) < 6
        assert trial.checks  # it was stopped at a check
        assert trial.finished is not None
        # the rule waits for 3 complete trials, committed before this one's check
        done_before = [
            t
            for t in trials
            if t.state is TrialState.COMPLETE
            and t.finished is not None
            and t.finished < trial.finished
        ]
        assert len(done_before) >= 3
    for trial in trials:
        if trial.state is TrialState.COMPLETE:
            assert len(study.curve(trial.number)["value"]) == 6
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


KILLED_PAST_ITS_CHECK = """
import os, signal, sys
import hpotrack as hp

@hp.tune({"x": hp.Float(0.0, 1.0)}, study="lost", db=sys.argv[1], seed=0,
         method=hp.methods.Random(pruner=hp.pruners.Percentile(50.0, n_startup_trials=1)),
         budget=hp.Budget(1, 3))
def train(x, trial):
    for step in trial.steps:
        if x == 0.5 and step == 2 and len(sys.argv) > 3:  # went on past its check at 1
            os.kill(os.getpid(), signal.SIGKILL)
        trial.report(x, step=step)
    return x

if __name__ == "__main__":
    if sys.argv[2] == "direct":
        for x in (0.1, 0.2, 0.3):
            train(x=x)
    else:
        if not train.study.trials:
            train.study.enqueue({"x": 1.0})
            train.study.enqueue({"x": 0.5})
        train.optimize(n_trials=int(sys.argv[2]))
"""


def test_a_trial_lost_after_a_check_it_passed_is_retried_though_the_rule_moved(
    tmp_path: Path,
) -> None:
    """x=0.5 passes its check at step 1 (the median is 1.0) and is killed at step 2;
    trials that finish later lower the median below it. It was not stopped: it is lost
    and retried (and its retry checked against the median as it is now), not stored as
    pruned at a check that let it go on."""
    script, db = tmp_path / "lost.py", tmp_path / "h.db"
    script.write_text(KILLED_PAST_ITS_CHECK)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(script), str(db), *args]
        return subprocess.run(command, capture_output=True, text=True)

    assert run("2", "kill").returncode == -9
    assert run("direct").returncode == 0
    assert run("6").returncode == 0
    trials = hp.load_study("lost", db=db).trials
    lost = trials[1]
    assert lost.params == {"x": 0.5} and lost.checks == {1: 0.5}
    assert lost.state is TrialState.FAILED and "worker lost" in (lost.error or "")
    (retry,) = [t for t in trials if t.origin == "retried"]
    assert retry.params == {"x": 0.5} and retry.parents[-1].parent == 1
    assert retry.state is TrialState.PRUNED  # 0.5 is worse than the median now


@pytest.mark.parametrize("method", ["tpe", "random+median", "tpe, not asked"])
def test_should_prune_under_a_method_that_never_prunes_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    """Optuna's studies prune by default; a loop ported from one that checks
    should_prune() under tpe without a pruner was never stopped, silently. Only a call
    of the user's says so (none of hpotrack's own)."""
    chosen = hp.methods.Random(pruner="median") if method == "random+median" else "tpe"

    @hp.tune(SPACE, method=chosen, budget=EPOCHS, db=tmp_path / "h.db", seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        for epoch in trial.steps:
            trial.report(loss_at(x, epoch), step=epoch, prune=False)
            if method != "tpe, not asked" and trial.should_prune():
                break
        return loss_at(x, epoch)

    train.optimize(n_trials=8, progress=False)
    told = [r.message for r in caplog.records if "should_prune() is always False" in r.message]
    if method == "tpe":
        assert len(told) == 1 and 'pruner="median"' in told[0]
    else:
        assert told == []


def test_should_prune_under_a_method_that_never_prunes_says_so_once_per_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Said once per study and process, the study known by its name alone: a study of
    the same name in another database (a second project in the notebook, or another
    test earlier in a pytest-xdist worker process) was never told."""
    told = []
    for folder in ("a", "b"):

        @hp.tune(SPACE, method="tpe", study="s", budget=EPOCHS, db=tmp_path / folder / "h.db")
        def train(x: float, trial: hp.Trial) -> float:
            trial.report(loss_at(x, 1), step=1, prune=False)
            trial.should_prune()
            return loss_at(x, 1)

        (tmp_path / folder).mkdir()
        train.optimize(n_trials=2, progress=False)
        told += [r for r in caplog.records if "should_prune() is always False" in r.message]
        caplog.clear()
    assert len(told) == 2, told


@pytest.mark.parametrize("method", ["tpe", "tpe+median", "tpe, prune=False"])
def test_reports_over_a_budget_under_a_method_that_never_prunes_say_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    """``budget=`` with ``method="tpe"`` and no pruner: the loop reports each epoch and
    expects ``hp.Pruned``, but every trial trained its whole budget and nothing said so
    (only ``should_prune()`` did). Said once; not with a pruner, nor for reports made
    with ``prune=False`` (a loop that stops on its own terms asks should_prune)."""
    chosen = hp.methods.TPE(pruner="median") if method == "tpe+median" else "tpe"

    @hp.tune(SPACE, method=chosen, budget=EPOCHS, db=tmp_path / "h.db", seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        for epoch in trial.steps:
            trial.report(loss_at(x, epoch), step=epoch, prune=method != "tpe, prune=False")
        return loss_at(x, epoch)

    train.optimize(n_trials=8, progress=False)
    told = [r.getMessage() for r in caplog.records if "stops no trial early" in r.getMessage()]
    if method == "tpe":
        assert len(told) == 1, told
        assert told[0].startswith(
            f"study {train.study.name!r}: trial 0 reported 'value' as it trained, but "
            "method 'tpe' stops no trial early: report() never raises hp.Pruned there, "
            "and every trial trains to the budget's max (9 epochs)"
        )
        assert 'pruner="median"' in told[0]
        assert told[0].endswith("; or report with prune=False to record curves only")
    else:
        assert told == []


@pytest.mark.parametrize("method", ["sha", "hyperband"])
def test_should_prune_past_the_last_rung_does_not_say_the_method_never_prunes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    """A trial promoted to the top rung (sha) or of bracket 0 (hyperband) has no check
    left; should_prune() there used to warn that the method "stops no trial early",
    naming sha and hyperband as the fix, in a study they were pruning (one study name
    per method: the warning is said once per name and process)."""

    @hp.tune(SPACE, method=method, budget=hp.Budget(1, 3), db=tmp_path / "h.db", seed=0,
             study=f"past-{method}")  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        for epoch in trial.steps:
            trial.report(loss_at(x, epoch), step=epoch, prune=False)
            if trial.should_prune():
                raise hp.Pruned()
        return loss_at(x, 3)

    study = train.optimize(n_trials=6, progress=False)
    assert numbers(study, TrialState.PRUNED)
    assert any(t.state is TrialState.COMPLETE and not t.checks for t in study.trials)
    assert not [r for r in caplog.records if "should_prune() is always False" in r.message]


def test_a_report_at_the_budget_is_no_check_of_the_step_below(tmp_path: Path) -> None:
    """Reporting at epoch 5 and at the last (9): the report at 9 used to be the check
    at step 8 (the pruner checks every step below the max), so trials that had trained
    all 9 epochs were stored pruned, which tpe ranks after every complete trial. Only
    the report at 5 is a check; a trial that passes it completes."""

    @hp.tune(SPACE, method=hp.methods.Random(pruner="median"), budget=EPOCHS,
             db=tmp_path / "h.db", seed=0)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        for epoch in (5, 9):
            trial.report(loss_at(x, epoch), step=epoch)
        return loss_at(x, 9)

    study = train.optimize(n_trials=N_TRIALS, progress=False)
    pruned = [t for t in study.trials if t.state is TrialState.PRUNED]
    assert pruned and all(t.trained == 5 for t in pruned)
    assert all(set(t.checks) == {5} for t in study.trials)

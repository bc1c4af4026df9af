"""Multi-fidelity studies on a real SQLite file: pruning at rungs, promotions shared by
several OS processes, and resuming in the middle of a Hyperband iteration."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

import hpotrack as hp
from hpotrack.cli import cli
from hpotrack.errors import NoCompleteTrial
from hpotrack.methods.halving import Ladder, bracket_schedule
from hpotrack.records import Origin, TrialState
from hpotrack.store import close_stores
from tests.test_processes import finish, open_gate, start

BUDGET = hp.Budget(1, 27, name="epochs")


def parents_of(trial: hp.TrialRecord) -> list[int]:
    return [edge.parent for edge in trial.parents]


def tuned(
    db: Path, method: str | hp.methods.Method, steps: list[tuple[int, int]]
) -> hp.TunedFunction:
    """A study whose trial ``n`` reports ``(x - 0.7)² + 1/epoch`` each epoch; ``steps``
    collects (trial number, epoch) of every epoch trained."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method=method, study="mf", db=db, seed=1,
             objective="loss", budget=BUDGET)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> dict[str, float]:
        assert trial.budget == 27 and isinstance(trial.budget, int)
        loss = 1.0
        for epoch in range(1, trial.budget + 1):
            steps.append((trial.number, epoch))
            loss = (x - 0.7) ** 2 + 1.0 / epoch
            trial.report(loss, step=epoch)
        return {"loss": loss}

    return train


def test_a_pruned_trial_stops_at_its_rung_and_keeps_its_curve(db: Path) -> None:
    steps: list[tuple[int, int]] = []
    study = tuned(db, "sha", steps).optimize(n_trials=30)
    trained = Counter(number for number, _ in steps)
    pruned = [t for t in study.trials if t.state is TrialState.PRUNED]
    assert pruned and any(t.state is TrialState.COMPLETE for t in study.trials)
    for trial in pruned:
        stop = max(trial.checks)
        assert stop in (1, 3, 9) and trained[trial.number] == stop  # not one epoch more
        curve = study.curve(trial.number)["loss"]
        assert [step for step, _ in curve] == list(range(1, stop + 1))
        assert trial.value == curve[-1][1] == trial.checks[stop]
        assert trial.rung == Ladder(BUDGET, 3).steps.index(stop)
    for trial in study.trials:
        if trial.state is TrialState.COMPLETE:
            assert trained[trial.number] == 27 and len(study.curve(trial.number)["loss"]) == 27
    epochs = sum(trained.values())
    assert epochs < 30 * 27 / 2  # halving spends far less than full training


def test_promoted_trials_rerun_a_stopped_configuration_above_its_rung(db: Path) -> None:
    steps: list[tuple[int, int]] = []
    study = tuned(db, "hyperband", steps).optimize(n_trials=60)
    promoted = [t for t in study.trials if t.origin == Origin.PROMOTED.value]
    assert promoted
    for trial in promoted:
        (edge,) = trial.parents
        parent = study.trial(edge.parent)
        assert edge.kind == "promoted" and parent.state is TrialState.PRUNED
        assert edge.step == max(parent.checks) and trial.params == parent.params
        assert trial.bracket == parent.bracket
        assert all(step > edge.step for step in trial.checks)


@pytest.mark.parametrize("method", ["hyperband", "bohb"])
def test_an_enqueued_optimum_competes_and_is_trained_to_the_full_budget(
    db: Path, method: str
) -> None:
    """An enqueued configuration has no bracket; it ranks with the most aggressive
    bracket's trials from the lowest rung, so the optimum, enqueued first, is promoted
    (it stops at first, alone at its rung) until it trains all 27 epochs."""
    steps: list[tuple[int, int]] = []
    train = tuned(db, method, steps)
    train.study.enqueue({"x": 0.7})
    study = train.optimize(n_trials=80)
    line = [study.trials[0]]
    while children := [t for t in study.trials if line[-1].number in parents_of(t)]:
        line.append(children[0])
    assert line[0].origin == "enqueued" and len(line) > 1
    assert line[0].budget == 27  # stored when it started: what it could train to
    assert all(t.origin == "promoted" and t.params == {"x": 0.7} for t in line[1:])
    assert line[-1].state is TrialState.COMPLETE and study.best.number == line[-1].number


def test_a_promoted_trial_continues_its_parents_checkpoint_from_the_rung(db: Path) -> None:
    trained: dict[int, list[int]] = {}
    started: dict[int, object] = {}

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="hyperband", study="mf", db=db, seed=1,
             objective="loss", budget=BUDGET)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> dict[str, float]:
        started[trial.number] = trial.load_checkpoint()
        loss = 1.0
        for epoch in trial.steps:  # after the checkpoint's epoch, up to the budget
            trained.setdefault(trial.number, []).append(epoch)
            loss = (x - 0.7) ** 2 + 1.0 / epoch
            trial.save_checkpoint({"trial": trial.number, "epoch": epoch}, step=epoch)
            trial.report(loss, step=epoch)
        return {"loss": loss}

    study = train.optimize(n_trials=60)
    promoted = [t for t in study.trials if t.origin == Origin.PROMOTED.value]
    assert promoted
    for trial in promoted:
        (edge,) = trial.parents
        assert started[trial.number] == {"trial": edge.parent, "epoch": edge.step}
        assert trained[trial.number][0] == edge.step + 1  # not one epoch trained twice
        assert [step for step, _ in study.curve(trial.number)["loss"]] == trained[trial.number]
    fresh = [t.number for t in study.trials if t.origin == Origin.SAMPLED.value]
    assert all(started[n] is None and trained[n][0] == 1 for n in fresh)


@pytest.mark.parametrize("loop", ["from scratch", "relabelled", "continued"])
def test_a_promotion_that_trains_its_parents_steps_again_says_so_once(
    db: Path, caplog: pytest.LogCaptureFixture, loop: str
) -> None:
    """The README's loop, ``for epoch in range(1, trial.budget + 1)`` without a
    checkpoint, makes every promotion train its parent's epochs again: its ``trained``
    counted them, but nothing said so. One loading the checkpoint and still counting
    from 1 trains past the budget with every step misplaced. Each is said once, with
    the loop to write; a promotion over ``trial.steps`` says nothing."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="mf", db=db, seed=1,
             objective="loss", budget=BUDGET)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        if loop != "from scratch":
            trial.load_checkpoint()  # its model would continue from here
        epochs = trial.steps if loop == "continued" else range(1, trial.budget + 1)
        loss = 1.0
        for epoch in epochs:
            loss = (x - 0.7) ** 2 + 1.0 / epoch
            if loop != "from scratch":
                trial.save_checkpoint({"epoch": epoch}, step=epoch)
            trial.report(loss, step=epoch)
        return loss

    with caplog.at_level(logging.WARNING, logger="hpotrack"):
        study = train.optimize(n_trials=30)
    promoted = [t for t in study.trials if t.origin == Origin.PROMOTED.value]
    assert promoted
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    if loop == "continued":
        assert said == []
        return
    assert len(said) == 1, said
    edge = promoted[0].parents[0]
    if loop == "from scratch":
        assert said[0].startswith(
            f"trial {promoted[0].number} of study 'mf', promoted from trial {edge.parent} "
            f"at step {edge.step}, started from scratch (it reported step 1)"
        )
        assert "trial.save_checkpoint(model, step=epoch)" in said[0]
        curve = study.curve(promoted[0].number)["loss"]
        assert promoted[0].trained == curve[-1][0] > edge.step  # its parent's steps again
    else:
        assert said[0].startswith(
            f"trial {promoted[0].number} of study 'mf' loaded the checkpoint of step "
            f"{edge.step} (promoted from trial {edge.parent}), then reported step 1"
        )
        assert f"`for epoch in trial.steps` ({edge.step + 1} to 27)" in said[0]


@pytest.mark.parametrize("rule", ["synchronous", "asynchronous"])
def test_resuming_continues_the_hyperband_iteration(tmp_path: Path, rule: str) -> None:
    """Stopped in the middle of the most aggressive bracket's run and resumed from the
    file, the study goes on exactly as one never stopped: same configurations, brackets,
    checks, stops and promotions."""
    method = hp.methods.Hyperband(brackets=rule)
    steps: list[tuple[int, int]] = []
    tuned(tmp_path / "a.db", method, steps).optimize(n_trials=20)
    close_stores()  # a fresh connection and Study: everything comes from the file
    resumed = tuned(tmp_path / "a.db", method, steps).optimize(n_trials=70)
    straight = tuned(tmp_path / "b.db", method, []).optimize(n_trials=70)

    def outline(t: hp.TrialRecord) -> tuple[object, ...]:
        return (t.params, t.state, t.bracket, t.rung, t.checks, t.origin, parents_of(t))

    assert [outline(t) for t in resumed.trials] == [outline(t) for t in straight.trials]
    new = [t for t in resumed.trials if t.origin == Origin.SAMPLED.value]
    assert [t.claim for t in new] == [f"config:{i}" for i in range(len(new))]
    if rule == "synchronous":  # each bracket's configurations together, as the paper runs
        expected = [3] * 27 + [2] * 12 + [1] * 6 + [0] * 4
    else:
        expected = list(bracket_schedule(Ladder(BUDGET, 3)))
    assert [t.bracket for t in new] == (expected * 2)[: len(new)]
    assert any(t.origin == Origin.PROMOTED.value for t in resumed.trials)


def test_three_processes_share_rungs_and_promotions(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    processes = [start(db, "halving", "60", gate=tmp_path) for _ in range(3)]
    open_gate(tmp_path, processes)
    for process in processes:
        finish(process)
    trials = hp.load_study("halving", db=db).trials
    assert [t.number for t in trials] == list(range(60))
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    assert len({t.pid for t in trials}) >= 2
    promoted = [t.parents[0].parent for t in trials if t.origin == Origin.PROMOTED.value]
    assert len(promoted) == len(set(promoted))  # never promoted twice, across processes
    for trial in trials:
        if trial.state is TrialState.PRUNED:
            assert trial.value == trial.checks[max(trial.checks)]
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = dict(conn.execute(
            "SELECT t.number, MAX(m.step) FROM metrics m JOIN trials t ON t.id = m.trial_id "
            "GROUP BY t.number"
        ).fetchall())  # fmt: skip
    for trial in trials:  # every epoch reported is stored; none past the stop
        expected = max(trial.checks) if trial.state is TrialState.PRUNED else 9
        assert stored[trial.number] == expected


def test_three_processes_share_synchronous_bracket_runs(tmp_path: Path) -> None:
    """Hyperband's runs over Budget(1, 9) filled by 3 processes at once: in every run, the
    configurations that went past a rung are the best of the run there, no more than the
    paper's ``⌊n η^-i⌋``, and a promotion from a rung starts only after every trial of
    the run that reached it (the decision waited for the whole run)."""
    db = tmp_path / "h.db"
    processes = [start(db, "brackets", "90", gate=tmp_path) for _ in range(3)]
    open_gate(tmp_path, processes)
    for process in processes:
        finish(process)
    trials = hp.load_study("brackets", db=db).trials
    assert [t.number for t in trials] == list(range(90)) and len({t.pid for t in trials}) >= 2
    promoted = [t.parents[0].parent for t in trials if t.origin == Origin.PROMOTED.value]
    assert promoted and len(promoted) == len(set(promoted))
    layout = hp.methods.Hyperband().layout(Ladder(hp.Budget(1, 9), 3))
    root = {t.number: t.number for t in trials}
    for t in trials:
        if t.origin == Origin.PROMOTED.value:
            root[t.number] = root[t.parents[0].parent]
    runs: dict[int, list[hp.TrialRecord]] = {}
    for t in trials:
        slot = int((trials[root[t.number]].claim or "config:-1").split(":")[1])
        runs.setdefault(layout.run_of(slot).first_slot, []).append(t)
    checked = 0
    for first, members in runs.items():
        run = layout.run_of(first)
        furthest: dict[int, int] = {}  # line: the furthest step it trained to
        for t in members:
            reached = 9 if t.state is TrialState.COMPLETE else max(t.checks, default=0)
            furthest[root[t.number]] = max(furthest.get(root[t.number], 0), reached)
        for stage, step in enumerate([1, 3, 9][2 - run.bracket : 2]):  # the run's rungs
            at = {root[t.number]: (t.checks[step], t.number) for t in members if step in t.checks}
            went_on = {line for line in at if furthest[line] > step}
            best = sorted(at.values())[: run.survivors(stage + 1, 3)]
            assert went_on <= {root[n] for _, n in best}, (first, step)
            last_arrival = max((n for _, n in at.values()), default=-1)
            for t in members:
                if t.origin == Origin.PROMOTED.value and t.parents[0].step == step:
                    assert t.number > last_arrival  # promoted once the whole run arrived
                    checked += 1
    assert checked > 0
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_best_before_a_trial_trained_fully_says_why_and_what_to_do(db: Path) -> None:
    """With ASHA's rule the first arrivals at a rung stop, so a small sha study can have
    pruned trials and no complete one yet: the error says so instead of just failing."""
    study = tuned(db, "sha", []).optimize(n_trials=3)
    assert all(t.state is TrialState.PRUNED for t in study.trials)
    with pytest.raises(NoCompleteTrial, match=r"3 of its 3 trials were stopped .* run more"):
        _ = study.best


def test_max_budget_stops_once_the_trials_trained_that_many_epochs(db: Path) -> None:
    steps: list[tuple[int, int]] = []
    study = tuned(db, "sha", steps).optimize(max_budget=120)
    trained = Counter(number for number, _ in steps)
    trials = study.trials
    assert [t.trained for t in trials] == [trained[t.number] for t in trials]
    total = sum(trained.values())
    assert total >= 120 and total - trained[trials[-1].number] < 120  # stopped at once
    assert study.refresh().trained == total
    more = tuned(db, "sha", steps).optimize(max_budget=total + 30)  # the same count, resumed
    assert 30 <= sum(t.trained or 0 for t in more.trials[len(trials) :]) < 30 + 27


def test_a_trial_resumed_from_a_checkpoint_counts_only_the_steps_after_it(db: Path) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="hyperband", study="mf", db=db, seed=1,
             objective="loss", budget=BUDGET)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        loss = 1.0
        # even trials continue a promotion's checkpoint, odd ones train again from epoch 1
        epochs = range(1, trial.budget + 1) if trial.number % 2 else trial.steps  # type: ignore[operator]
        for epoch in epochs:
            loss = (x - 0.7) ** 2 + 1.0 / epoch
            trial.save_checkpoint({"epoch": epoch}, step=epoch)
            trial.report(loss, step=epoch)
        return loss

    study = train.optimize(n_trials=60)
    promoted = 0
    for trial in study.trials:
        curve = [step for step, _ in study.curve(trial.number)["loss"]]
        assert trial.trained == len(curve)  # each reported epoch trained once
        if trial.origin == Origin.PROMOTED.value:
            promoted += 1
            resumed_after = 0 if trial.number % 2 else trial.parents[0].step
            assert trial.trained == curve[-1] - resumed_after
            # its configuration's whole curve: the parent's up to where it resumed, then its own
            whole = study.curve(trial.number, whole=True)["loss"]
            parent = trial.parents[0].parent
            if resumed_after:
                before = study.curve(parent, whole=True)["loss"]
                assert (
                    whole
                    == [p for p in before if p[0] <= resumed_after]
                    + study.curve(trial.number)["loss"]
                )
            else:
                assert whole == study.curve(trial.number)["loss"]  # trained again from scratch
            assert [step for step, _ in whole] == list(range(1, curve[-1] + 1))
    assert promoted >= 4


def test_ctrl_c_in_the_clean_up_of_a_stopped_trial_leaves_it_pruned(db: Path) -> None:
    """Ctrl-C in code that runs after the method stopped the trial (``except hp.Pruned``
    closing a logger, say) stops the run, and the trial is stored as pruned with its
    last value, as it would have been: not queued again to train to that rung anew."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="mf", db=db, seed=1,
             objective="loss", budget=BUDGET)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        loss = 1.0
        for epoch in trial.steps:
            loss = (x - 0.7) ** 2 + 1.0 / epoch
            try:
                trial.report(loss, step=epoch)
            except hp.Pruned:
                raise KeyboardInterrupt from None
        return loss

    with pytest.raises(KeyboardInterrupt):
        train.optimize(n_trials=30)
    trials = hp.load_study("mf", db=db).trials
    stopped = trials[-1]
    assert stopped.state is TrialState.PRUNED and stopped.error is None
    assert stopped.value == (stopped.params["x"] - 0.7) ** 2 + 1.0 / max(stopped.checks)
    assert all(t.state is not TrialState.QUEUED for t in trials)


@pytest.mark.parametrize("times", [1, 3])
def test_ctrl_c_in_a_promoted_trial_is_retried_from_the_same_checkpoint(
    db: Path, times: int
) -> None:
    """Ctrl-C is not the configuration's fault: the interrupted promotion is queued
    again, keeps its ``promoted`` edge and continues the same checkpoint when the study
    resumes, so the stopped configuration's line goes on (it is not promoted twice).
    Interrupting the retry too, again and again, does not use up ``retries``."""
    started: dict[int, object] = {}
    interrupted: list[int] = []

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="mf", db=db, seed=1,
             objective="loss", budget=BUDGET)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        started[trial.number] = trial.load_checkpoint()
        if started[trial.number] is not None and len(interrupted) < times:
            interrupted.append(trial.number)
            raise KeyboardInterrupt
        loss = 1.0
        for epoch in trial.steps:
            loss = (x - 0.7) ** 2 + 1.0 / epoch
            trial.save_checkpoint(epoch, step=epoch)
            trial.report(loss, step=epoch)
        return loss

    with pytest.raises(KeyboardInterrupt):
        train.optimize(n_trials=30)
    for _ in range(times - 1):  # each resume runs the retry first: it is interrupted
        with pytest.raises(KeyboardInterrupt):
            train.optimize()
    study = train.optimize()
    original = study.trial(interrupted[0])
    (edge,) = [e for e in original.parents if e.kind == "promoted"]
    for attempt in interrupted:  # each interrupted attempt has one retry
        failed = study.trial(attempt)
        assert failed.state is TrialState.FAILED and "interrupted" in (failed.error or "")
        (retry,) = [t for t in study.trials if attempt in parents_of(t)]
        assert retry.origin == "retried" and edge in retry.parents
        assert started[retry.number] == started[attempt] == edge.step  # same checkpoint
    assert len(interrupted) == times
    assert retry.state in (TrialState.COMPLETE, TrialState.PRUNED)
    promoted = [t for t in study.trials if t.origin == "promoted" and edge.parent in parents_of(t)]
    assert len(promoted) == 1
    shown = CliRunner().invoke(cli, ["--db", str(db), "trial", "mf", str(edge.parent)])
    assert f"promoted later as trial {original.number}\n" in shown.output  # not its retries


def test_promotions_are_not_logged_as_news(db: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The run logs what the method does when it changes (auto's choice, say); Hyperband
    interleaves promotions with new configurations, which is not a change."""
    with caplog.at_level(logging.INFO, logger="hpotrack"):
        study = tuned(db, "hyperband", []).optimize(n_trials=40)
    assert any(t.origin == "promoted" for t in study.trials)
    notes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("study 'mf': ")]
    assert notes == ["study 'mf': hyperband: uniform at random"]


def test_a_study_whose_reports_never_reach_a_check_says_so_once(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The objective is "loss", the function reports "val": sha cannot stop anything,
    which one warning says (and it runs as full-budget random search)."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="mf", db=db, seed=1,
             objective="loss", budget=BUDGET)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> dict[str, float]:
        for epoch in trial.steps:
            trial.report(x + 1.0 / epoch, step=epoch, name="val")
        return {"loss": x}

    with caplog.at_level(logging.WARNING, logger="hpotrack"):
        study = train.optimize(n_trials=6)
    assert all(t.state is TrialState.COMPLETE for t in study.trials)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "without reporting the objective 'loss'" in warnings[0]
    assert "(it reported 'val': is one of them the objective?)" in warnings[0]


@pytest.mark.parametrize("method", ["sha", "hyperband"])
def test_a_trial_that_reports_only_its_final_value_is_never_stopped_after_training(
    db: Path, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A function that reports once, at ``trial.budget`` (fit, then score), has trained
    all of it: that report used to be the check of the rung below (9), so trials that
    had trained 27 epochs were stored pruned (under hyperband, every one) and promoted
    to train again. They complete, and the run says no report reached a check."""
    trained: Counter[int] = Counter()

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method=method, study="mf", db=db, seed=1,
             budget=BUDGET)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        trained[trial.number] += trial.budget
        trial.report(x, step=trial.budget)
        return x

    with caplog.at_level(logging.WARNING, logger="hpotrack"):
        study = train.optimize(n_trials=6)
    assert all(t.state is TrialState.COMPLETE and not t.checks for t in study.trials)
    assert set(trained.values()) == {27} and study.best.value == min(xs_of(study))
    (told,) = [r.getMessage() for r in caplog.records if "without reporting" in r.getMessage()]
    assert "(it reported it only before its first check or at its budget)" in told


def xs_of(study: hp.Study) -> list[float]:
    return [float(t.params["x"]) for t in study.trials]  # type: ignore[arg-type]


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_a_configuration_that_reports_nan_at_a_rung_stops_there(db: Path, direction: str) -> None:
    """NaN is the most common divergence: at a rung it ranks last, so such a trial
    stops there and is never promoted (it used to skip the rung and go on)."""
    sign = 1.0 if direction == "minimize" else -1.0

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="nan", db=db, seed=3,
             direction=direction, budget=BUDGET)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        loss = math.nan
        for epoch in trial.steps:
            loss = math.nan if x > 0.5 else sign * (x + 1.0 / epoch)
            trial.save_checkpoint(epoch)
            trial.report(loss, step=epoch)
        return loss

    study = train.optimize(n_trials=30)
    diverged = [t for t in study.trials if t.params["x"] > 0.5]
    assert len(diverged) >= 5
    for trial in diverged:
        assert trial.state is TrialState.PRUNED and trial.trained == 1
        assert trial.checks == {1: sign * sys.float_info.max}
    promoted_from = {t.parents[0].parent for t in study.trials if t.origin == "promoted"}
    assert promoted_from and not promoted_from & {t.number for t in diverged}


def test_reports_without_a_step_count_budget_steps_from_where_the_trial_starts(
    db: Path,
) -> None:
    """``trial.report(v)`` numbers steps as the budget counts them: 1 after the first
    epoch from scratch, the rung's step + 1 after a loaded checkpoint."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="auto", db=db, seed=1,
             budget=BUDGET)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        trial.load_checkpoint()
        loss = 1.0
        for epoch in trial.steps:
            loss = x + 1.0 / epoch
            trial.save_checkpoint(epoch, step=epoch)
            trial.report(loss)
        return loss

    study = train.optimize(n_trials=30)
    promoted = [t for t in study.trials if t.origin == "promoted"]
    assert promoted
    for trial in study.trials:
        steps = [step for step, _ in study.curve(trial.number)["value"]]
        start = trial.parents[0].step if trial.origin == "promoted" else 0
        assert steps == list(range(start + 1, start + 1 + len(steps)))
        assert trial.trained == len(steps)
        if trial.state is TrialState.COMPLETE:
            assert steps[-1] == BUDGET.max


RESUMED = """
import json, os, signal, sys
import hpotrack as hp

DB, KILLS, WHEN = sys.argv[1], int(sys.argv[2]), sys.argv[3]
AT_CHECK = WHEN == "at-check"
KILL_AT = {"after-save": 3, "before-report": 2, "no-save": 2}  # after its save, before its report
KILLED = DB + ".kills"

@hp.tune({"x": hp.Float(-5.0, 5.0)}, method="sha", study="resumed", db=DB, seed=0,
         budget=hp.Budget(1, 9), retries=KILLS)
def train(x, trial):
    start = trial.load_checkpoint()
    with open(DB + ".starts", "a") as log:
        log.write(json.dumps([trial.number, start, trial.steps.start]) + "\\n")
    kills = os.path.getsize(KILLED) if os.path.exists(KILLED) else 0
    if x == 1.0 and 0 < kills < KILLS:  # later attempts die before they save anything
        open(KILLED, "a").write("k")
        os.kill(os.getpid(), signal.SIGKILL)
    for step in trial.steps:
        loss = x * x + 10.0 / step
        if WHEN != "no-save":
            trial.save_checkpoint(step, step=step)
        if x == 1.0 and kills == 0 and step == KILL_AT.get(WHEN):
            open(KILLED, "a").write("k")  # saved, not reported: its last report is before
            os.kill(os.getpid(), signal.SIGKILL)
        try:
            trial.report(loss, step=step)
        except hp.Pruned:  # at-check: killed between the decision and storing it
            if x == 1.0 and AT_CHECK and kills == 0:
                open(KILLED, "a").write("k")
                os.kill(os.getpid(), signal.SIGKILL)
            raise
    return loss

if __name__ == "__main__":
    if not train.study.trials:
        for x in (3.0, 2.0, 1.0):
            train.study.enqueue({"x": x})
    train.optimize(n_trials=4)
"""


@pytest.mark.parametrize(
    ("kills", "when"),
    [(1, "after-save"), (2, "after-save"), (1, "at-check"), (1, "no-save"), (1, "before-report")],
)
def test_the_retry_of_a_killed_trial_resumes_its_latest_checkpoint(
    tmp_path: Path, kills: int, when: str
) -> None:
    """kill -9 hits x=1 after it passed rung 1 and saved its checkpoints at steps 2 and 3,
    before it reported step 3 (and, with two kills, its retry too, before that one saved
    anything). The next retry resumes from the checkpoint at step 2 (the one at 3 is at
    the rung it had not been checked at): it trains from step 3, keeps the check at rung
    1 its first attempt passed, and names the step on its ``retried`` edge. At-check: the
    first attempt is killed after its check at rung 3 stopped it (after its save at 3)
    but before the stop was stored: ASHA's rungs decide against the trials so far, so
    asking again does not tell what was decided; its retry must not resume past that
    check, it resumes from step 2 and is checked (and stopped) at rung 3 again. No-save:
    the retry trains from scratch and passes rung 1 again, where its lost attempt must not
    rank beside it (one configuration twice would push the retry out). Before-report:
    killed after its save at step 2 but before reporting step 2: its retry resumes from
    step 1, the last it reported, so that its curve has every step."""
    script, db = tmp_path / "resumed.py", tmp_path / "h.db"
    script.write_text(RESUMED)
    for _ in range(kills):
        run = subprocess.run(
            [sys.executable, str(script), str(db), str(kills), when], capture_output=True
        )
        assert run.returncode == -signal.SIGKILL, run.stderr.decode()
    subprocess.run(
        [sys.executable, str(script), str(db), str(kills), when], check=True, capture_output=True
    )
    trials = hp.load_study("resumed", db=db).trials
    lost, retry = trials[2], trials[2 + kills]
    assert all(t.state is TrialState.FAILED for t in trials[2 : 2 + kills])
    assert retry.origin == "retried" and retry.params == {"x": 1.0}
    # the lost attempt's checkpoint at step 2 (at 1: the last step it reported)
    resumed = {"no-save": None, "before-report": 1}.get(when, 2)
    assert retry.parents[-1].parent == 1 + kills and retry.parents[-1].step == resumed
    assert retry.checks[1] == lost.checks[1] and retry.checks.keys() == {1, 3}
    assert [
        step for step, _ in hp.load_study("resumed", db=db).curve(retry.number, whole=True)["value"]
    ] == [1, 2, 3]
    assert retry.state is TrialState.PRUNED and retry.trained == 3 - (resumed or 0)
    curve = hp.load_study("resumed", db=db).curve(retry.number)["value"]
    assert [step for step, _ in curve] == list(range((resumed or 0) + 1, 4))
    lines = Path(f"{db}.starts").read_text().splitlines()
    starts = {n: (start, first) for n, start, first in map(json.loads, lines)}
    assert starts[retry.number] == (resumed, (resumed or 0) + 1)
    if resumed:
        shown = CliRunner().invoke(cli, ["--db", str(db), "trial", "resumed", str(retry.number)])
        carried = f"up to step {resumed}: carried over from the lost trial it resumes, #{1 + kills}"
        assert carried in shown.output


STOPPED_THEN_KILLED = """
import os, sys, time
import hpotrack as hp

DB, N = sys.argv[1], int(sys.argv[2])
VICTIM, STOPPED = os.environ.get("VICTIM") == "1", DB + ".stopped"

@hp.tune({"x": hp.Float(0.0, 1.0)}, method="hyperband", study="sync", db=DB, seed=0,
         budget=hp.Budget(1, 9))
def train(x, trial):
    again = os.path.exists(STOPPED) and open(STOPPED).read() == repr(x)
    for step in trial.steps:
        loss = x + 1.0 / step + (5.0 if VICTIM else 0.0) - (10.0 if again else 0.0)
        trial.save_checkpoint(step, step=step)
        try:
            trial.report(loss, step=step)
        except hp.Pruned:
            if VICTIM:  # its clean-up takes until the test kills it
                open(STOPPED, "w").write(repr(x))
                time.sleep(600)
            raise
    return loss

if __name__ == "__main__":
    train.optimize(n_trials=N)
"""


def test_a_trial_killed_after_its_rung_stopped_it_is_not_ranked_again(tmp_path: Path) -> None:
    """Synchronous Hyperband, Budget(1, 9): the ninth configuration of the first run
    completes rung 1, which stops it, and its process is killed during its clean-up
    after another process got the rung's three promotions. Training the configuration
    again would give another value (here a better one): ranked anew, it went on as a
    fourth line past a rung of three. It is pruned where its check stopped it."""
    script, db = tmp_path / "sync.py", tmp_path / "h.db"
    script.write_text(STOPPED_THEN_KILLED)

    def run(n: int) -> None:
        subprocess.run([sys.executable, str(script), str(db), str(n)], check=True)

    run(8)  # eight of the first run's nine configurations reach rung 1
    victim = subprocess.Popen(
        [sys.executable, str(script), str(db), "9"], env={**os.environ, "VICTIM": "1"}
    )
    try:
        deadline = time.monotonic() + 60
        while not Path(f"{db}.stopped").exists():
            assert victim.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        run(20)  # promotes the rung's best three while the victim is alive
    finally:
        victim.kill()
        victim.wait()
    run(40)
    trials = hp.load_study("sync", db=db).trials
    first_run = {t.params["x"] for t in trials[:9]}  # and their promotions: the same x
    past_rung_1 = {t.params["x"] for t in trials if 3 in t.checks} & first_run
    assert len(past_rung_1) == 3 and trials[8].params["x"] not in past_rung_1
    assert trials[8].state is TrialState.PRUNED and trials[8].checks.keys() == {1}
    assert all(t.origin != "retried" for t in trials)


def test_a_target_too_small_for_any_trial_to_train_fully_is_said_with_the_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Optuna's HyperbandPruner with 60 trials trains a few configurations fully; here
    Budget(1, 100) stops every one of 60 (the first run has 81 configurations), which a
    port found only at study.best. The run warns first, and the error gives the count."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="hyperband", study="h", db=tmp_path / "h.db",
             seed=0, budget=hp.Budget(1, 100))  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        for epoch in trial.steps:
            trial.report(x + 1 / epoch, step=epoch)
        return x

    with caplog.at_level(logging.WARNING, logger="hpotrack"):
        study = train.optimize(n_trials=30)
    warned = [r.message for r in caplog.records if "every trial may stop early" in r.message]
    assert len(warned) == 1 and "only after about 121 trials" in warned[0]
    with pytest.raises(NoCompleteTrial, match=r"so run more trials \(about 121 before"):
        study.best  # noqa: B018 - the attribute access is the test
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hpotrack"):
        train.optimize(n_trials=30)  # reached: nothing runs, nothing to warn about
        train.optimize(n_trials=121)
    assert not [r for r in caplog.records if "every trial may stop early" in r.message]
    assert study.best.budget == 100

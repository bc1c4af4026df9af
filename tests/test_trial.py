"""The handle a training function sees (``hpotrack/trial.py``): ``trial.report`` and
``hp.report`` as a user's type checker and a running study see them."""

from __future__ import annotations

import typing
from pathlib import Path

import numpy as np
import pytest

import hpotrack as hp
from hpotrack.trial import Trial


def accepted(hint: object) -> tuple[type, ...]:
    """The classes a union annotation admits (``np.floating[Any]`` -> ``np.floating``)."""
    return tuple(typing.get_origin(arg) or arg for arg in typing.get_args(hint))


@pytest.mark.parametrize("report", [Trial.report, hp.report])
def test_reports_are_annotated_to_take_numpy_numbers(report: object) -> None:
    """``trial.report(np.mean(scores), step=epoch)`` runs, but mypy and pyright refused
    it: ``value`` was annotated ``float``, which numpy's float32 and the ``floating``
    that ``np.mean`` returns are not to them (nor an ``np.int64`` step an ``int``)."""
    hints = typing.get_type_hints(report)
    assert isinstance(np.float32(0.5), accepted(hints["value"]))
    assert isinstance(np.mean([1.0, 2.0]), accepted(hints["value"]))
    assert isinstance(np.int64(3), accepted(hints["value"]))
    assert isinstance(np.int64(3), accepted(hints["step"]))


def test_numpy_values_and_steps_are_stored_as_plain_numbers(db: Path) -> None:
    """What the annotations admit, a running trial takes."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="np", db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        for epoch in np.arange(1, 3):
            trial.report(np.float32(x), step=epoch)
            hp.report(np.mean([x, 1.0]), epoch, name="mean")
        return x

    study = train.optimize(n_trials=1)
    x = study.trials[0].params["x"]
    assert isinstance(x, float)
    assert study.curve(0)["value"] == [(1, float(np.float32(x))), (2, float(np.float32(x)))]
    assert [step for step, _ in study.curve(0)["mean"]] == [1, 2]


def test_a_hypergradient_reported_as_a_list_fails_the_trial_saying_what_to_pass(
    db: Path,
) -> None:
    """``trial.report_hypergradient([gx, gy])`` (what autodiff of a vector gives) failed
    the trial with "AttributeError: 'list' object has no attribute 'items'"."""

    @hp.tune({"x": hp.Float(-1.0, 1.0), "y": hp.Float(-1.0, 1.0)}, method="gradient",
             study="listed", db=db, seed=0, max_failures=1)  # fmt: skip
    def f(x: float, y: float, trial: hp.Trial) -> float:
        trial.report_hypergradient([2 * x, 2 * y])  # type: ignore[arg-type]
        return x**2 + y**2

    with pytest.raises(hp.TooManyFailures):
        f.optimize(n_trials=1)
    error = f.study.trials[0].error or ""
    assert "AttributeError" not in error
    assert "report_hypergradient() needs a dict of hyperparameter: number " in error
    assert "({'x': ..., 'y': ...}), but got [0.0, 0.0]" in error


def test_next_check_names_the_methods_next_check_step(db: Path) -> None:
    """``trial.next_check(step)``: where the method checks the trial next (successive
    halving's rungs 1, 3, 9 of Budget(1, 27); none at the top, nor under a method that
    checks no trial), so a function whose cost is in evaluating can evaluate there only."""
    seen: dict[int, list[int | None]] = {}

    def evaluate_at_checks(x: float, trial: hp.Trial) -> float:
        asked = seen.setdefault(trial.number, [])
        step = 1
        while True:
            check = trial.next_check(step)
            asked.append(check)
            at = trial.budget if check is None else check
            trial.report(x * at, step=at)
            if at >= trial.budget:
                return x * at
            step = at + 1

    space = {"x": hp.Float(0.0, 1.0)}
    budget = hp.Budget(1, 27, name="epochs")
    sha = hp.tune(space, method="sha", study="sha", db=db, seed=0, budget=budget)
    study = sha(evaluate_at_checks).optimize(n_trials=12)
    rungs = [1, 3, 9]
    for trial in study.trials:
        asked = seen[trial.number]
        checks = [a for a in asked if a is not None]
        assert checks == sorted(set(checks)) and set(checks) <= set(rungs)
        if trial.origin == "promoted":  # from the rung above where its parent stopped
            assert checks[0] == rungs[rungs.index(trial.parents[0].step) + 1]
        else:
            assert checks[0] == 1
    assert any(len(asked) > 1 for asked in seen.values())  # one went past its first check
    plain = hp.tune(space, method="random", study="random", db=db, seed=0, budget=budget)
    seen.clear()
    plain(evaluate_at_checks).optimize(n_trials=2)
    assert seen == {0: [None], 1: [None]}

    @hp.tune(space, method="random", study="bad", db=db, seed=0, budget=budget)
    def asks_badly(x: float, trial: hp.Trial) -> float:
        trial.next_check(1.5)  # type: ignore[arg-type]
        return x

    (failed,) = asks_badly.optimize(n_trials=1).trials
    assert failed.error is not None and "`0 <= step < 2**63` must hold" in failed.error

"""The in-memory driver runs without pytest: the benchmarks import it from an install of
the ``bench`` extra, which has no pytest."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

import hpotrack as hp
from hpotrack.methods import BOHB, Auto, Evolution, Method
from hpotrack.space import Value
from hpotrack.testing.driver import simulate
from hpotrack.testing.method_suite import CONDITIONAL_SPACE

WITHOUT_PYTEST = """
import sys
sys.modules["pytest"] = None  # any import of pytest now raises ImportError
import hpotrack as hp
from hpotrack.testing import simulate
from hpotrack.testing.driver import record, run_proposal, train
from hpotrack.space import Space

history = simulate(hp.methods.Random(), Space.from_user({"x": hp.Float(0.0, 1.0)}), 3)
print(len(history.trials))
"""


def test_the_driver_imports_and_runs_without_pytest() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PYTEST], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"


def test_the_method_suite_is_still_there_by_its_short_name() -> None:
    from hpotrack.testing import MethodSuite
    from hpotrack.testing.method_suite import MethodSuite as Defined

    assert MethodSuite is Defined


STORED = ("params", "origin", "parents", "budget", "claim", "rung", "bracket", "checks")
STORED += ("note", "method", "chosen_by")  # what the proposal tells the study, stored too


@pytest.mark.parametrize("method", [Auto(), Evolution(population=4), BOHB()], ids=str)
def test_the_driver_records_trials_as_a_study_stores_them(tmp_path: Path, method: Method) -> None:
    """The records the method suite's histories hold are, field by field, those a study
    stores for the same run, on a conditional space (the driver's lacked the note, the
    method that proposed each trial and the one that chose it, and a budget study's
    trials trained to its max had none). With a budget, the function reports what the
    driver's trials do: the objective plus 1/step."""
    budget = hp.Budget(1, 9) if method.name == "bohb" else None

    def objective(params: Mapping[str, Value]) -> float:
        return float(((CONDITIONAL_SPACE.encode(params) - 0.5) ** 2).sum())

    @hp.tune(CONDITIONAL_SPACE, method=method, study="s", db=tmp_path / "s.db", seed=3,
             budget=budget)  # fmt: skip
    def train(trial: hp.Trial, **params: Value) -> float:
        value = objective(params)
        for step in trial.steps if budget else ():
            trial.report(value + 1 / step, step=step)
        return value + (1 / budget.max if budget else 0.0)

    stored = train.optimize(n_trials=14).trials
    driven = simulate(
        method, CONDITIONAL_SPACE, 14, seed=3, objective=objective, budget=budget
    ).trials
    assert all(t.method for t in stored) and any(
        CONDITIONAL_SPACE.inactive(t.params) for t in stored
    )
    for real, simulated in zip(stored, driven, strict=True):
        for name in STORED:
            assert getattr(simulated, name) == getattr(real, name), (real.number, name)

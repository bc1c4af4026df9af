"""Importing an Optuna study that had constraints (a sampler's ``constraints_func=``, or
``trial.set_constraint`` of Optuna 5.0): real Optuna files, database and journal, read
back with each trial's constraint values, the best feasible trial as Optuna's, the
trials whose feasibility is unknown failed, and the CLI's import continued by the
decorator it prints."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
import pytest
from click.testing import CliRunner

import hpotrack as hp
from hpotrack.cli import cli
from hpotrack.transfer import TransferError
from hpotrack.transfer.optuna_constraints import study_constraints, trial_values
from tests.test_transfer_optuna import assert_same_trials, imported, optuna_study, read
from tests.test_transfer_optuna import source as source  # the fixture: database, journal

LOW, HIGH = 1.0, 2.5  # feasible: LOW <= x <= HIGH
BOTH = (hp.Constraint("constraint_0", at_most=0.0), hp.Constraint("constraint_1", at_most=0.0))


def bounded(trial: optuna.FrozenTrial) -> Sequence[float]:
    """constraints_func: both <= 0 when LOW <= x <= HIGH."""
    x = trial.params["x"]
    return (LOW - x, x - HIGH)


def parabola(trial: optuna.Trial) -> float:
    """Best unconstrained at x = 0, which misses LOW: the best feasible is another trial.
    x = 3 is pruned (constraints_func runs for pruned trials too)."""
    x = trial.suggest_float("x", -3.0, 3.0)
    trial.set_user_attr("width", abs(x))
    if x == 3.0:
        raise optuna.TrialPruned()
    return x * x


def constrained_study(path: Path, n_trials: int = 8) -> optuna.Study:
    """TPE with constraints_func; its first trials enqueued: x = 0 (the lowest value,
    infeasible), x = 1.5 (feasible), x = 3 (pruned, infeasible)."""
    with warnings.catch_warnings(action="ignore"):  # constraints_func: deprecated in 5.0
        sampler = optuna.samplers.TPESampler(seed=0, constraints_func=bounded)
    study = optuna_study(path, sampler=sampler)
    for x in (0.0, 1.5, 3.0):
        study.enqueue_trial({"x": x})
    with warnings.catch_warnings(action="ignore"):
        study.optimize(parabola, n_trials=n_trials)
    return study


OPTUNA_MAJOR = int(optuna.__version__.split(".")[0])
needs_set_constraint = pytest.mark.skipif(
    not hasattr(optuna.Trial, "set_constraint"), reason="trial.set_constraint is Optuna 5's"
)


def optuna_constraints(trial: optuna.trial.FrozenTrial) -> dict[str, float]:
    """A trial's constraint values by key, as Optuna reads them (``FrozenTrial.constraints``
    from Optuna 5; before, constraints_func's list is all there is)."""
    if OPTUNA_MAJOR >= 5:
        found: dict[str, float] = trial.constraints
        return found
    return {str(i): v for i, v in enumerate(trial.system_attrs.get("constraints") or [])}


def optuna_feasible(trial: optuna.trial.FrozenTrial) -> bool:
    values = optuna_constraints(trial).values()
    return trial.state.name == "COMPLETE" and all(v <= 0 for v in values)


def optunas_best(study: optuna.Study) -> int:
    """The number of the best feasible trial: Optuna's ``best_trial`` from Optuna 4, which
    reads the constraints (before, it took the best value of every trial)."""
    if OPTUNA_MAJOR >= 4:
        return study.best_trial.number
    feasible = [t for t in study.trials if optuna_feasible(t)]
    return min(feasible, key=lambda t: (t.value, t.number)).number


def test_a_study_of_constraints_func_keeps_each_trials_values_and_the_best_feasible_trial(
    source: Path, tmp_path: Path
) -> None:
    ran = constrained_study(source)
    study = imported(source, tmp_path)
    assert_same_trials(ran, study)
    assert study.constraints == BOTH
    for theirs, ours in zip(ran.trials, study.trials, strict=True):
        assert {k: ours.metrics[f"constraint_{k}"] for k in ("0", "1")} == optuna_constraints(
            theirs
        )
        assert ours.metrics["width"] == theirs.user_attrs["width"]
        assert study.is_feasible(ours) == optuna_feasible(theirs)
    assert study.trials[2].state == "pruned" and study.trials[2].metrics["constraint_1"] == 0.5
    lowest = min((t for t in study.trials if t.state == "complete"), key=lambda t: t.value)
    assert lowest.number == 0 and not study.is_feasible(lowest)
    assert study.violation(lowest) == LOW
    assert study.best.number == optunas_best(ran) != 0
    assert study.best_trials == [study.best]


@needs_set_constraint
def test_a_study_of_set_constraint_names_each_constraint_by_its_key_on_several_objectives(
    source: Path, tmp_path: Path
) -> None:
    """Optuna 5.0's ``trial.set_constraint(key, value)``: ``constraint_KEY``; the front
    is Optuna's ``best_trials``, feasible trials only."""

    def two(trial: optuna.Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.set_constraint("latency", x - 0.7)
        trial.set_constraint("memory", 0.2 - x)
        trial.set_user_attr("constraint_memory", 99.0)  # gives way to the constraint's
        return x, (1 - x) ** 2

    ran = optuna_study(source, two, 10, directions=["minimize", "minimize"])
    study = imported(source, tmp_path)
    assert study.constraints == (
        hp.Constraint("constraint_latency", at_most=0.0),
        hp.Constraint("constraint_memory", at_most=0.0),
    )
    assert [study.is_feasible(t) for t in study.trials] == [optuna_feasible(t) for t in ran.trials]
    for theirs, ours in zip(ran.trials, study.trials, strict=True):
        assert ours.metrics["constraint_memory"] == theirs.constraints["memory"]
    assert 0 < sum(map(study.is_feasible, study.trials)) < len(study.trials)
    front = sorted(t.number for t in ran.best_trials)
    assert [t.number for t in study.best_trials] == front


def set_then_return(value: float) -> Any:
    def objective(trial: optuna.Trial) -> float:
        trial.set_constraint("c", value)
        return trial.suggest_float("x", 0.0, 1.0)

    return objective


@needs_set_constraint
def test_a_complete_trial_without_a_finite_constraint_value_is_failed_naming_it(
    source: Path, tmp_path: Path
) -> None:
    """Optuna counts a missing value as met; hpotrack cannot tell, as for a missing
    objective: a trial added by hand, one whose constraints_func raised, an infinite one."""
    ran = optuna_study(source, set_then_return(-1.0), 1)
    ran.add_trial(
        optuna.trial.create_trial(params={"x": 0.5}, distributions=DISTRIBUTIONS, value=2)
    )
    ran.optimize(set_then_return(math.inf), n_trials=1)
    study = imported(source, tmp_path)
    assert [t.state for t in ran.trials] == [optuna.trial.TrialState.COMPLETE] * 3
    assert [t.state for t in study.trials] == ["complete", "failed", "failed"]
    assert study.trials[1].error == (
        "complete in Optuna without a value of constraint 'constraint_c' "
        "(Optuna counts a missing one as met)"
    )
    assert study.trials[2].error == (
        "its value of constraint 'constraint_c' in Optuna was inf, and a constraint's "
        "value must be finite"
    )
    assert study.best.number == 0 == ran.best_trial.number


DISTRIBUTIONS = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}


@needs_set_constraint
def test_a_constraints_func_that_raised_leaves_its_trial_without_values(
    tmp_path: Path,
) -> None:
    """Optuna stores null for the constraints of a trial whose constraints_func raised,
    and the trial stays complete."""

    def refusing(trial: optuna.FrozenTrial) -> Sequence[float]:
        if trial.number == 1:
            raise ValueError("cannot measure")
        return (trial.params["x"] - 0.5,)

    source = tmp_path / "optuna.db"
    with warnings.catch_warnings(action="ignore"):
        sampler = optuna.samplers.TPESampler(seed=0, constraints_func=refusing)
    ran = optuna_study(source, sampler=sampler)
    objective = set_then_return(0.0)  # and its own constraint, of another key
    with pytest.raises(ValueError, match="cannot measure"):
        ran.optimize(objective, n_trials=3)
    ran.optimize(objective, n_trials=1)
    assert (
        ran.trials[1].state.name == "COMPLETE" and ran.trials[1].system_attrs["constraints"] is None
    )
    study = imported(source, tmp_path)
    assert [c.metric for c in study.constraints] == ["constraint_0", "constraint_c"]
    assert [t.state for t in study.trials] == ["complete", "failed", "complete"]
    assert "without a value of constraint 'constraint_0'" in (study.trials[1].error or "")


def test_a_study_without_constraints_has_none(source: Path, tmp_path: Path) -> None:
    optuna_study(source, lambda t: t.suggest_float("x", 0, 1), 3)
    assert "constraints" not in read(source)["study"]
    assert imported(source, tmp_path).constraints == ()


@needs_set_constraint
def test_a_constraint_named_as_an_objective_is_refused(source: Path) -> None:
    ran = optuna_study(source, directions=["minimize", "minimize"])
    with warnings.catch_warnings(action="ignore"):  # experimental
        ran.set_metric_names(["constraint_0", "loss"])

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        trial.set_constraint("0", -1.0)
        return trial.suggest_float("x", 0, 1), 1.0

    ran.optimize(objective, n_trials=1)
    with pytest.raises(TransferError) as raised:
        read(source)
    assert str(raised.value).startswith(
        "cannot import: the Optuna study's constraint 'constraint_0' has the name of one of "
        "its objectives ('constraint_0', 'loss'); give the objectives others"
    )


def test_the_values_are_read_as_optuna_reads_them() -> None:
    """The list's by position, a set_constraint value replacing the list's of its key
    (Optuna 5.0's _get_constraints_from_system_attrs); a null list is no value."""
    system = {"constraints": [1.5, -0.5], "constraints:0": 10.0, "fixed_params": {"x": 1}}
    assert trial_values(system) == {"0": 10.0, "1": -0.5}
    assert trial_values({"constraints": None}) == {}
    keys = [
        {"constraints:b": 1},
        {"constraints:10": 1, "constraints:a": 1},
        {"constraints": [0, 0, 0]},
    ]
    found = [c.metric for c in study_constraints(keys)]
    assert found == [
        "constraint_0",
        "constraint_1",
        "constraint_2",
        "constraint_10",
        "constraint_a",
        "constraint_b",
    ]


def test_the_cli_imports_a_constrained_study_and_its_printed_decorator_goes_on(
    source: Path, tmp_path: Path
) -> None:
    ran = constrained_study(source, 5)
    db = tmp_path / "hpotrack.db"
    result = CliRunner().invoke(cli, ["--db", str(db), "import", str(source)])
    assert result.exit_code == 0, result.output
    code = result.stdout.split("(method= may be any):\n\n", 1)[1]
    assert code.endswith(
        ", constraints=[hp.Constraint('constraint_0', at_most=0.0), "
        "hp.Constraint('constraint_1', at_most=0.0)])\n"
    )
    namespace: dict[str, Any] = {"hp": hp}
    exec(  # the printed decorator reopens the study (no StudyMismatchError) and goes on
        code.rstrip().removesuffix(")") + ", method='tpe')\n"
        "def train(x):\n"
        "    return {'value': x * x, 'constraint_0': 1.0 - x, 'constraint_1': x - 2.5}\n",
        namespace,
    )
    going_on = namespace["train"].optimize(n_trials=8, progress=False)
    assert [t.state for t in going_on.trials[5:]] == ["complete"] * 3
    assert going_on.constraints == BOTH
    best = going_on.best
    assert going_on.is_feasible(best) and best.value <= ran.trials[optunas_best(ran)].value


def test_the_installed_command_imports_it_and_best_is_optunas(tmp_path: Path) -> None:
    source = tmp_path / "journal.log"
    ran = constrained_study(source)
    db = tmp_path / "hpotrack.db"
    root = Path(__file__).parent.parent
    command = [sys.executable, "-m", "hpotrack", "--db", str(db)]
    done = subprocess.run(
        [*command, "import", str(source)], capture_output=True, text=True, cwd=root, check=False
    )
    assert done.returncode == 0, done.stderr
    best = subprocess.run(
        [*command, "best", "study", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
    )
    assert best.returncode == 0, best.stderr
    assert json.loads(best.stdout)["number"] == optunas_best(ran)

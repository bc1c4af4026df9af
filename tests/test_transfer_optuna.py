"""Importing a study of Optuna's storages, its database and its journal file: studies that
real Optuna code ran into each, read back trial by trial, continued by hpotrack, and the
files it must refuse."""

from __future__ import annotations

import hashlib
import logging
import math
import sqlite3
import subprocess
import sys
import warnings
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import optuna
import pytest
from click.testing import CliRunner

import hpotrack as hp
from hpotrack.cli import cli
from hpotrack.space import Space
from hpotrack.store import Store
from hpotrack.transfer import TransferError, import_study
from hpotrack.transfer.optuna_db import is_optuna_database, read_optuna_database
from hpotrack.transfer.optuna_journal import is_optuna_journal, read_optuna_journal

optuna.logging.set_verbosity(logging.ERROR)

Objective = Callable[[optuna.Trial], float]


def optuna_study(
    path: Path,
    objective: Objective | None = None,
    n_trials: int = 12,
    *,
    name: str = "study",
    **options: Any,
) -> optuna.Study:
    """A study Optuna ran (seeded TPE) into the storage at ``path``: a journal file if it
    is named .log, else a database."""
    options.setdefault("sampler", optuna.samplers.TPESampler(seed=0))
    study = optuna.create_study(storage=storage(path), study_name=name, **options)
    if objective is not None:
        study.optimize(objective, n_trials=n_trials, catch=(ValueError,))
    return study


def storage(path: Path) -> str | optuna.storages.BaseStorage:
    if path.suffix != ".log":
        return f"sqlite:///{path}"
    try:
        from optuna.storages.journal import JournalFileBackend  # Optuna 4

        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    except ImportError:
        return optuna.storages.JournalStorage(optuna.storages.JournalFileStorage(str(path)))


@pytest.fixture(params=["database", "journal"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Where Optuna writes: each test runs with either of its storages."""
    return tmp_path / ("optuna.db" if request.param == "database" else "journal.log")


def read(source: Path, study: str | None = None) -> dict[str, Any]:
    """The study as an export, by the reader of its storage."""
    return (read_optuna_journal if source.suffix == ".log" else read_optuna_database)(source, study)


def imported(source: Path, tmp_path: Path, study: str | None = None) -> hp.Study:
    store = Store(tmp_path / "hpotrack.db")
    name = import_study(store, read(source, study)).name
    store.close()
    return hp.load_study(name, db=tmp_path / "hpotrack.db")


def assert_same_trials(ran: optuna.Study, study: hp.Study) -> None:
    """Every trial as Optuna stored it: number, params, value (of several objectives, the
    first one's), times, curve."""
    states = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}
    assert len(study.trials) == len(ran.trials)
    for theirs, ours in zip(ran.trials, study.trials, strict=True):
        assert ours.number == theirs.number
        assert ours.state == states[theirs.state.name]
        assert same_params(ours.params, theirs.params)
        if theirs.state.name != "FAIL":  # the value: the first objective's
            assert ours.value == (theirs.values or [None])[0]
        assert ours.started == theirs.datetime_start.timestamp()
        assert ours.finished == theirs.datetime_complete.timestamp()
        curve = study.curve(ours.number).get(study.objective, [])
        assert curve == sorted(theirs.intermediate_values.items())


def same_params(ours: dict[str, Any], theirs: dict[str, Any]) -> bool:
    """The same values; a float on a step's grid as hpotrack tidies it (0.3 where Optuna
    stored 0.30000000000000004)."""
    return ours.keys() == theirs.keys() and all(
        math.isclose(ours[k], theirs[k], rel_tol=1e-12)
        if type(ours[k]) is float
        else (type(ours[k]), ours[k]) == (type(theirs[k]), theirs[k])
        for k in ours
    )


def mixed(trial: optuna.Trial) -> float:
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    layers = trial.suggest_int("layers", 1, 4)
    dropout = trial.suggest_float("dropout", 0.0, 0.5, step=0.05)
    width = trial.suggest_int("width", 16, 256, log=True)
    act = trial.suggest_categorical("act", ["relu", None, True, 3])
    loss = abs(math.log10(lr) + 3) + layers * dropout + 1 / width + (act is None)
    for epoch in range(3):
        trial.report(loss + 1 / (epoch + 1), epoch)
    trial.set_user_attr("accuracy", 1 - loss / 10)
    trial.set_user_attr("optimizer", "adam")  # not a number: not a metric
    return loss


MIXED = {
    "lr": hp.Float(1e-5, 1e-1, log=True),
    "layers": hp.Int(1, 4),
    "dropout": hp.Float(0.0, 0.5, step=0.05),
    "width": hp.Int(16, 256, log=True),
    "act": hp.Choice(["relu", None, True, 3]),
}


def test_every_trial_is_imported_as_optuna_ran_it(source: Path, tmp_path: Path) -> None:
    ran = optuna_study(source, mixed)
    study = imported(source, tmp_path)
    assert study.name == "study" and study.direction == "minimize"
    assert study.space == Space.from_user(MIXED)
    assert_same_trials(ran, study)
    for theirs, ours in zip(ran.trials, study.trials, strict=True):
        accuracy = theirs.user_attrs["accuracy"]
        assert ours.metrics == {"value": theirs.value, "accuracy": accuracy}
        assert ours.origin == "sampled" and ours.method is None
    assert study.best.number == ran.best_trial.number


def test_hpotrack_continues_the_imported_study_with_the_same_space(
    source: Path, tmp_path: Path
) -> None:
    ran = optuna_study(source, mixed, n_trials=11, direction="maximize")
    imported(source, tmp_path)

    @hp.tune(MIXED, study="study", db=tmp_path / "hpotrack.db", direction="maximize", seed=None)
    def train(lr: float, layers: int, dropout: float, width: int, act: object) -> float:
        return -abs(math.log10(lr) + 3)

    study = train.optimize(n_trials=14, progress=False)
    assert [t.state for t in study.trials] == ["complete"] * 14
    assert all(
        same_params(a.params, b.params) for a, b in zip(study.trials[:11], ran.trials, strict=True)
    )
    assert all(t.method == "tpe" for t in study.trials[11:])  # TPE: 10 trials to start


def branches(trial: optuna.Trial) -> float:
    """An ``if`` of Optuna's define-by-run code: C only for svm, depth only for a forest."""
    model = trial.suggest_categorical("model", ["svm", "forest", "knn"])
    if model == "svm":
        return trial.suggest_float("C", 1e-3, 1e3, log=True)
    if model == "forest":
        return trial.suggest_int("depth", 2, 16) / 10
    return 1.0


def test_a_parameter_of_one_branch_is_conditional_on_the_choice(
    source: Path, tmp_path: Path
) -> None:
    ran = optuna_study(source, branches, 20, sampler=optuna.samplers.RandomSampler(seed=3))
    study = imported(source, tmp_path)
    assert dict(study.space) == dict(  # in the order first seen: here depth, then C
        Space.from_user(
            {
                "model": ["svm", "forest", "knn"],
                "C": hp.Float(1e-3, 1e3, log=True, when={"model": "svm"}),
                "depth": hp.Int(2, 16, when={"model": "forest"}),
            }
        )
    )
    assert_same_trials(ran, study)


def test_a_range_that_changed_between_trials_is_merged(source: Path, tmp_path: Path) -> None:
    def growing(trial: optuna.Trial) -> float:
        top = 1.0 + trial.number  # define-by-run: a range read from elsewhere
        x = trial.suggest_float("x", -top, top) + trial.suggest_int("k", trial.number, 9)
        step = trial.suggest_float("step", 0.0, top, step=0.5)  # from the same low
        return (
            x + step + trial.suggest_int("odd", 1 + trial.number % 2, 9 - trial.number % 2, step=2)
        )

    ran = optuna_study(source, growing, 5)
    study = imported(source, tmp_path)
    assert study.space == Space.from_user(
        {
            "x": hp.Float(-5.0, 5.0),
            "k": hp.Int(0, 9),
            "step": hp.Float(0.0, 5.0, step=0.5),
            "odd": hp.Int(1, 9),  # 1, 3, ... or 2, 4, ...: every int
        }
    )
    assert_same_trials(ran, study)


def test_a_range_of_one_value_is_a_choice_of_it_and_the_study_goes_on(
    source: Path, tmp_path: Path
) -> None:
    def fixed(trial: optuna.Trial) -> float:
        layers = trial.suggest_int("layers", 3, 3)  # a range read from a config, say
        return layers * trial.suggest_float("lr", 0.1, 0.1, log=True) + trial.suggest_float(
            "x", 0.5, 0.5
        )

    ran = optuna_study(source, fixed, 3)
    study = imported(source, tmp_path)
    space = {"layers": hp.Choice([3]), "lr": hp.Choice([0.1]), "x": hp.Choice([0.5])}
    assert study.space == Space.from_user(space)
    assert_same_trials(ran, study)

    @hp.tune(space, study="study", db=tmp_path / "hpotrack.db", method="random")
    def train(layers: int, lr: float, x: float) -> float:
        return layers * lr + x

    assert [t.params for t in train.optimize(n_trials=4, progress=False).trials[3:]] == [
        {"layers": 3, "lr": 0.1, "x": 0.5}
    ]


def test_a_step_stays_when_the_range_moves_along_its_grid(source: Path, tmp_path: Path) -> None:
    """A range narrowed (or widened) at its low end by whole steps keeps its grid, so the
    study goes on with the step it was declared with."""

    def narrowed(trial: optuna.Trial) -> float:
        late = trial.number >= 3
        units = trial.suggest_int("units", 64 if late else 32, 256, step=32)
        return units * trial.suggest_float("dropout", 0.1 if late else 0.0, 0.5, step=0.05)

    ran = optuna_study(source, narrowed, 6)
    study = imported(source, tmp_path)
    space = {"units": hp.Int(32, 256, step=32), "dropout": hp.Float(0.0, 0.5, step=0.05)}
    assert study.space == Space.from_user(space)
    assert_same_trials(ran, study)

    @hp.tune(space, study="study", db=tmp_path / "hpotrack.db")
    def train(units: int, dropout: float) -> float:
        return units * dropout

    assert len(train.optimize(n_trials=7, progress=False).trials) == 7


def test_a_value_enqueued_outside_its_range_widens_the_range(source: Path, tmp_path: Path) -> None:
    """Optuna runs an enqueued value outside the range it is suggested in (with a
    warning) and stores it as it is."""
    study = optuna_study(source)
    study.enqueue_trial({"x": 5.0, "n": 50})
    with warnings.catch_warnings(action="ignore"):
        study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("n", 1, 9), 3)
    ours = imported(source, tmp_path)
    assert ours.space == Space.from_user({"x": hp.Float(0.0, 5.0), "n": hp.Int(1, 50)})
    assert_same_trials(study, ours)


def test_a_branch_whose_every_trial_failed_is_conditional_on_its_choice(
    source: Path, tmp_path: Path
) -> None:
    def broken_mlp(trial: optuna.Trial) -> float:
        if trial.suggest_categorical("model", ["svm", "mlp"]) == "mlp":
            trial.suggest_int("layers", 1, 3)
            raise ValueError("the mlp branch is broken")
        return trial.suggest_float("C", 0.1, 1.0)

    ran = optuna_study(source, broken_mlp, 10, sampler=optuna.samplers.RandomSampler(seed=0))
    assert {t.state.name for t in ran.trials} == {"COMPLETE", "FAIL"}
    study = imported(source, tmp_path)
    assert study.space["layers"] == hp.Int(1, 3, when={"model": "mlp"})
    assert_same_trials(ran, study)


def test_a_pruned_trial_whose_last_report_was_infinite_stays_pruned(
    source: Path, tmp_path: Path
) -> None:
    ran = optuna_study(source)
    for last in (math.inf, math.nan):
        trial = ran.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        trial.report(1.0, 0)
        trial.report(last, 1)  # diverged
        ran.tell(trial, state=optuna.trial.TrialState.PRUNED)
    study = imported(source, tmp_path)
    assert [(t.state, t.value, t.error) for t in study.trials] == [("pruned", None, None)] * 2
    assert study.curve(0) == study.curve(1) == {"value": [(0, 1.0), (1, None)]}


def test_pruned_and_failed_trials_keep_their_state_curve_and_lineage(
    source: Path, tmp_path: Path
) -> None:
    def unlucky(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        if trial.number in (2, 5):
            raise ValueError("diverged")
        for step in range(1, 6):
            trial.report(x + 1 / step, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return x

    ran = optuna_study(
        source,
        unlucky,
        sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )
    failed = ran.trials[2]
    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)  # Optuna 4.9
    with warnings.catch_warnings(action="ignore"):  # experimental
        (retry or optuna.storages.RetryFailedTrialCallback)()(ran, failed)  # queued with an edge
    study = imported(source, tmp_path)
    states = [t.state for t in study.trials[:12]]
    assert states.count("pruned") >= 2 and states.count("failed") == 2
    for ours in study.trials[:12]:
        if ours.state == "pruned":  # its value: the last it reported
            assert ours.value == study.curve(ours.number)["value"][-1][1]
        if ours.state == "failed":
            assert ours.error == "failed in Optuna (Optuna keeps no error message)"
            assert same_params(ours.params, ran.trials[ours.number].params)
    queued = study.trials[12]
    assert (queued.state, queued.origin, queued.params) == ("queued", "retried", failed.params)
    assert queued.parents == (hp.Edge(2, "retried"),)


def test_a_trial_enqueued_in_optuna_is_queued_with_its_values_and_the_rest_drawn(
    source: Path, tmp_path: Path
) -> None:
    ran = optuna_study(source, mixed, 3)
    ran.enqueue_trial({"lr": 0.001, "act": None})
    ran.enqueue_trial({"lr": 0.01, "layers": 2, "dropout": 0.1, "width": 32, "act": "relu"})
    study = imported(source, tmp_path)
    first, second = study.trials[3:]
    assert (first.state, first.origin) == (second.state, second.origin) == ("queued", "enqueued")
    assert {"lr": 0.001, "act": None}.items() <= first.params.items()
    assert study.space.validate(first.params) == first.params  # the others drawn in the space
    assert second.params == {"lr": 0.01, "layers": 2, "dropout": 0.1, "width": 32, "act": "relu"}


def test_a_trial_running_in_optuna_is_retried_and_one_half_suggested_is_failed(
    source: Path, tmp_path: Path
) -> None:
    ran = optuna_study(source, mixed, 3)
    whole = ran.ask(MIXED_DISTRIBUTIONS)
    half = ran.ask()
    half.suggest_float("lr", 1e-5, 1e-1, log=True)
    study = imported(source, tmp_path)
    assert study.trial(whole.number).error == "running when exported"
    assert study.trial(half.number).error == (
        "running in Optuna when imported, before it had all its params"
    )
    retry = study.trials[-1]
    assert (retry.number, retry.state, retry.origin) == (5, "queued", "retried")
    assert retry.params == whole.params


MIXED_DISTRIBUTIONS = {
    "lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True),
    "layers": optuna.distributions.IntDistribution(1, 4),
    "dropout": optuna.distributions.FloatDistribution(0.0, 0.5, step=0.05),
    "width": optuna.distributions.IntDistribution(16, 256, log=True),
    "act": optuna.distributions.CategoricalDistribution(["relu", None, True, 3]),
}


def test_an_infinite_value_is_a_failed_trial(source: Path, tmp_path: Path) -> None:
    ran = optuna_study(source, lambda t: math.inf * t.suggest_float("x", 1, 2), 2)
    study = imported(source, tmp_path)
    assert [t.state.name for t in ran.trials] == ["COMPLETE", "COMPLETE"]
    assert {t.state for t in study.trials} == {"failed"}
    assert (
        study.trials[0].error == "its value in Optuna was inf, and a trial's value must be finite"
    )


def test_the_metric_name_optuna_was_given_is_the_objective(source: Path, tmp_path: Path) -> None:
    ran = optuna_study(source)
    with warnings.catch_warnings(action="ignore"):  # experimental
        ran.set_metric_names(["val_loss"])
    ran.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    study = imported(source, tmp_path)
    assert study.objective == "val_loss"
    assert study.trials[1].metrics == {"val_loss": ran.trials[1].value}


def three_metrics(trial: optuna.Trial) -> tuple[float, float, float]:
    """Three objectives that pull apart: error down, accuracy up, latency down."""
    x = trial.suggest_float("x", 0.0, 1.0)
    depth = trial.suggest_int("depth", 1, 8)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    trial.set_user_attr("epochs", depth * 10)
    trial.set_user_attr("note", "not a number: not a metric")
    error = (x - 0.3) ** 2 + depth / 100 + (kind == "b") / 10
    return error, 1 - abs(x - 0.7), depth * (1.5 if kind == "a" else 1.0) + x


SEVERAL = [  # directions, metric names set in Optuna (None: not set), hpotrack's names
    (["minimize", "maximize"], None, ("values_0", "values_1")),
    (["maximize", "minimize"], ["accuracy", "latency"], ("accuracy", "latency")),
    (["minimize", "maximize", "minimize"], None, ("values_0", "values_1", "values_2")),
    (
        ["minimize", "maximize", "minimize"],
        ["error", "accuracy", "latency"],
        ("error", "accuracy", "latency"),
    ),
]


def optuna_study_of_several(
    source: Path, directions: list[str], names: list[str] | None, n_trials: int = 16
) -> optuna.Study:
    """A study of ``len(directions)`` objectives (:func:`three_metrics`, the first
    ones), its metric names set when ``names`` is given."""
    count = len(directions)
    ran = optuna_study(source, directions=directions)
    if names is not None:
        with warnings.catch_warnings(action="ignore"):  # experimental
            ran.set_metric_names(names)
    ran.optimize(lambda t: three_metrics(t)[:count], n_trials=n_trials)
    return ran


@pytest.mark.parametrize(("directions", "names", "objectives"), SEVERAL)
def test_a_study_of_several_objectives_keeps_each_objective_and_its_pareto_front(
    source: Path,
    tmp_path: Path,
    directions: list[str],
    names: list[str] | None,
    objectives: tuple[str, ...],
) -> None:
    ran = optuna_study_of_several(source, directions, names)
    assert len(ran.best_trials) >= 2  # a front, not one best trial
    study = imported(source, tmp_path)
    assert (study.objectives, study.directions) == (objectives, tuple(directions))
    assert (study.objective, study.direction) == (objectives[0], directions[0])
    assert_same_trials(ran, study)  # each trial's value: the first objective's
    for theirs, ours in zip(ran.trials, study.trials, strict=True):
        assert study.values(ours) == tuple(theirs.values)
        assert ours.metrics == {
            **dict(zip(objectives, theirs.values, strict=True)),
            "epochs": theirs.user_attrs["epochs"],
        }
    assert [t.number for t in study.best_trials] == sorted(t.number for t in ran.best_trials)
    exported = read(source)["study"]
    assert exported["objectives"] == [
        {"metric": m, "direction": d} for m, d in zip(objectives, directions, strict=True)
    ]


def test_the_cli_imports_a_study_of_several_objectives_and_prints_how_to_go_on(
    source: Path, tmp_path: Path
) -> None:
    ran = optuna_study_of_several(source, ["maximize", "minimize"], ["accuracy", "latency"], 6)
    db = tmp_path / "hpotrack.db"
    result = CliRunner().invoke(cli, ["--db", str(db), "import", str(source)])
    assert result.exit_code == 0, result.output
    code = result.stdout.split("(method= may be any):\n\n", 1)[1]
    assert code.endswith("objective=('accuracy', 'latency'), direction=('maximize', 'minimize'))\n")
    study = hp.load_study("study", db=db)
    assert [study.values(t) for t in study.trials] == [tuple(t.values) for t in ran.trials]
    continued = code.rstrip().removesuffix(")") + ", method='random')"
    namespace: dict[str, Any] = {"hp": hp}
    exec(  # the printed decorator reopens the study (no StudyMismatchError) and goes on
        continued
        + "\ndef train(x, depth, kind):\n    return {'accuracy': x, 'latency': depth + x}\n",
        namespace,
    )
    going_on = namespace["train"].optimize(n_trials=8, progress=False)
    assert [t.state for t in going_on.trials[6:]] == ["complete", "complete"]
    assert going_on.objectives == ("accuracy", "latency")


def test_an_infinite_value_of_one_objective_fails_its_trial_naming_it(
    source: Path, tmp_path: Path
) -> None:
    def diverging(trial: optuna.Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0, 1)
        return x, (math.inf, x, -math.inf)[trial.number % 3]

    ran = optuna_study(source, diverging, 3, directions=["minimize", "maximize"])
    assert [t.state.name for t in ran.trials] == ["COMPLETE"] * 3  # Optuna keeps infinities
    study = imported(source, tmp_path)
    assert [(t.state, t.value, t.error) for t in study.trials] == [
        (
            "failed",
            None,
            "its value of objective 'values_1' in Optuna was inf, and a trial's value must "
            "be finite",
        ),
        ("complete", ran.trials[1].values[0], None),
        (
            "failed",
            None,
            "its value of objective 'values_1' in Optuna was -inf, and a trial's value must "
            "be finite",
        ),
    ]
    assert [t.number for t in study.best_trials] == [1]


def test_a_complete_trial_missing_the_value_of_one_objective_fails_naming_it(
    tmp_path: Path,
) -> None:
    """Optuna writes every objective's value of a complete trial; a database edited by
    hand, or cut short, may lack one."""
    source = tmp_path / "optuna.db"
    optuna_study_of_several(source, ["minimize", "maximize", "minimize"], None, 3)
    with closing(sqlite3.connect(source)) as conn, conn:
        conn.execute("DELETE FROM trial_values WHERE trial_id = 2 AND objective = 2")
    study = imported(source, tmp_path)
    assert [t.state for t in study.trials] == ["complete", "failed", "complete"]
    assert study.trials[1].error == "complete in Optuna without a value of objective 'values_2'"


def test_a_pruned_trial_of_several_objectives_is_pruned_without_a_value(
    source: Path, tmp_path: Path
) -> None:
    """Optuna prunes no trial of several objectives itself (``report`` and
    ``should_prune`` refuse them), but ``raise TrialPruned()`` or ``study.tell`` store
    one; it has no values, as a pruned trial of one objective with no report."""

    def stopped(trial: optuna.Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 1:
            raise optuna.TrialPruned()
        return x, 1 - x

    ran = optuna_study(source, stopped, 3, directions=["minimize", "minimize"])
    told = ran.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    ran.tell(told, state=optuna.trial.TrialState.PRUNED)
    study = imported(source, tmp_path)
    assert [(t.state, t.value, t.metrics) for t in study.trials[1::2]] == [
        ("pruned", None, {}),
        ("pruned", None, {}),
    ]
    assert [t.state for t in study.trials[::2]] == ["complete", "complete"]


def test_a_study_of_one_objective_imports_as_before_without_objectives(
    source: Path, tmp_path: Path
) -> None:
    """One objective: the export has no "objectives" (as hpotrack's own studies of one),
    its name "value" and each trial's value alone in its metrics."""
    ran = optuna_study(source, lambda t: t.suggest_float("x", 0, 1), 3)
    exported = read(source)
    assert "objectives" not in exported["study"]
    assert (exported["study"]["objective"], exported["study"]["direction"]) == (
        "value",
        "minimize",
    )
    assert [t["metrics"] for t in exported["trials"]] == [{"value": t.value} for t in ran.trials]
    study = imported(source, tmp_path)
    assert study.objectives == ("value",) and study.best_trials == [study.best]


def test_the_optuna_file_is_only_read(source: Path, tmp_path: Path) -> None:
    optuna_study(source, mixed, 4)
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    files = sorted(tmp_path.iterdir())
    imported(source, tmp_path)
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before
    made = set(tmp_path.iterdir()) - set(files)
    assert made and all(p.name.startswith("hpotrack.db") for p in made)


def test_it_tells_optuna_files_from_other_files(tmp_path: Path) -> None:
    optuna_study(tmp_path / "optuna.db")
    optuna_study(tmp_path / "journal.log")
    Store(tmp_path / "hpotrack.db").close()
    (tmp_path / "text.db").write_text("hello")
    (tmp_path / "export.jsonl").write_text('{"format": "hpotrack-study", "version": 7}\n')
    assert is_optuna_database(tmp_path / "optuna.db")
    assert is_optuna_journal(tmp_path / "journal.log")
    others = ["hpotrack.db", "text.db", "export.jsonl", "missing.db", "journal.log", "optuna.db"]
    for name in others:
        tells = is_optuna_journal if name.endswith(".db") else is_optuna_database
        assert not tells(tmp_path / name), name
    assert not is_optuna_journal(tmp_path / "export.jsonl")


def two_studies(path: Path) -> None:
    optuna_study(path, lambda t: t.suggest_float("x", 0, 1), 2, name="a")
    optuna_study(path, name="b")


def no_study(path: Path) -> None:
    optuna_study(path)
    optuna.delete_study(study_name="study", storage=storage(path))


def repeated_metric_names(path: Path) -> None:
    study = optuna_study(path, directions=["minimize"] * 2)
    with warnings.catch_warnings(action="ignore"):  # experimental
        study.set_metric_names(["loss", "loss"])  # Optuna checks only their count
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=2)


def no_condition(path: Path) -> None:
    optuna_study(path, lambda t: t.suggest_float("y" if t.number % 2 else "x", 0, 1), 4)


def no_trial(path: Path) -> None:
    optuna_study(path)


def reserved_name(path: Path) -> None:
    optuna_study(path, lambda t: t.suggest_float("trial", 0, 1), 2)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            two_studies,
            "with 2 studies: 'a', 'b'; choose one with --from NAME",
        ),
        (no_study, "with no study; there is nothing to import"),
        (
            repeated_metric_names,
            "the Optuna study's metric names ['loss', 'loss'] cannot name its 2 objectives "
            "(each objective must be a different metric, but 'loss' is given twice",
        ),
        (
            no_condition,
            "parameter 'x' is set in only some trials, and no categorical parameter's value "
            "says in which",
        ),
        (no_trial, "the Optuna study has no trial with parameters"),
        (
            reserved_name,
            "cannot import: parameter name 'trial' is reserved: the objective receives the "
            "trial handle as its `trial` argument; rename the hyperparameter. hpotrack cannot "
            "take that name from the Optuna study: rename the parameter in a copy of the "
            "Optuna file, then import the copy",
        ),
    ],
    ids=lambda x: x.__name__ if callable(x) else "",
)
def test_a_study_that_cannot_be_imported_is_one_clear_error(
    source: Path, make: Callable[[Path], None], message: str
) -> None:
    make(source)
    with pytest.raises(TransferError) as raised:
        read(source)
    assert message in str(raised.value)


def test_a_study_the_file_does_not_have_is_named_with_those_it_has(
    source: Path, tmp_path: Path
) -> None:
    optuna_study(source, name="mlp")
    with pytest.raises(TransferError, match="has no Optuna study 'svm'; it has 'mlp'"):
        read(source, "svm")


def test_a_parameter_of_two_kinds_is_refused(tmp_path: Path) -> None:
    """Optuna refuses another kind of distribution for a parameter it has seen, but a
    file written by hand, or by an old Optuna, may hold one."""
    optuna_study(tmp_path / "optuna.db", lambda t: t.suggest_int("x", 0, 9), 2)
    float_x = '{"name": "FloatDistribution", "attributes": {"low": 0, "high": 9, "log": false}}'
    with closing(sqlite3.connect(tmp_path / "optuna.db")) as conn, conn:
        conn.execute("UPDATE trial_params SET distribution_json = ? WHERE trial_id = 2", (float_x,))
    with pytest.raises(TransferError, match="parameter 'x' is int in one trial and float in"):
        read(tmp_path / "optuna.db")


def test_an_optuna_database_too_old_is_refused_with_the_upgrade_command(tmp_path: Path) -> None:
    optuna_study(tmp_path / "optuna.db")
    with closing(sqlite3.connect(tmp_path / "optuna.db")) as conn:
        conn.execute("DROP TABLE trial_values")  # as before Optuna 2.4
    with pytest.raises(TransferError, match="optuna storage upgrade --storage sqlite:///"):
        read_optuna_database(tmp_path / "optuna.db")


def test_a_study_of_optuna_2_with_its_old_distributions_is_imported(tmp_path: Path) -> None:
    """tests/data/optuna2.db, written by Optuna 2.10.1 (tests/data/make_optuna2.py)."""
    source = Path(__file__).parent / "data" / "optuna2.db"
    study = imported(source, tmp_path)
    assert dict(study.space) == dict(
        Space.from_user(
            {
                "kind": ["linear", "tree"],
                "l1": hp.Float(0.0, 1.0, when={"kind": "linear"}),
                "lr": hp.Float(1e-4, 1.0, log=True, when={"kind": "linear"}),
                "depth": hp.Int(1, 9, when={"kind": "tree"}),
                "q": hp.Float(0.0, 1.0, step=0.25, when={"kind": "tree"}),
            }
        )
    )
    with closing(sqlite3.connect(source)) as conn:
        values = dict(
            conn.execute("SELECT number, value FROM trials JOIN trial_values USING (trial_id)")
        )
        curves = conn.execute(
            "SELECT number, step, intermediate_value FROM trials "
            "JOIN trial_intermediate_values USING (trial_id) ORDER BY number, step"
        ).fetchall()
    assert [t.state for t in study.trials] == [
        *("complete", "complete", "complete", "pruned", "failed", "complete", "complete"),
        *("pruned", "pruned", "complete", "queued"),
    ]
    assert {t.number: t.value for t in study.trials if t.value is not None} == values
    assert [
        (t.number, step, value)
        for t in study.trials
        for step, value in study.curve(t.number).get("value", [])
    ] == curves
    queued = study.trials[10]
    assert (
        queued.origin == "enqueued"
        and {"kind": "linear", "l1": 0.5}.items() <= queued.params.items()
    )
    assert study.trials[4].error == "failed in Optuna (Optuna keeps no error message)"


def test_a_journal_line_cut_short_at_the_end_is_ignored_as_optuna_ignores_it(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.log"
    optuna_study(journal, mixed, 3)
    whole = journal.read_bytes()
    journal.write_bytes(whole[:-20])  # the last operation (trial 2's end) cut
    study = imported(journal, tmp_path)
    assert [t.state for t in study.trials[:3]] == ["complete", "complete", "failed"]
    assert study.trials[2].error == "running when exported"  # and queued again
    assert [(e.parent, e.kind) for e in study.trials[3].parents] == [(2, "retried")]


def test_a_bad_journal_line_in_the_middle_names_its_line(tmp_path: Path) -> None:
    journal = tmp_path / "journal.log"
    optuna_study(journal, mixed, 2)
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join([*lines[:3], "{not json\n", *lines[3:]]))
    with pytest.raises(TransferError, match=r"journal.log, line 4: not valid JSON"):
        read(journal)


def test_a_study_deleted_and_created_again_in_a_journal_is_the_new_one(tmp_path: Path) -> None:
    journal = tmp_path / "journal.log"
    optuna_study(journal, mixed, 3)
    optuna.delete_study(study_name="study", storage=storage(journal))
    ran = optuna_study(journal, branches, 4)
    assert_same_trials(ran, imported(journal, tmp_path))


WORKER = """
import sys, optuna
from tests.test_transfer_optuna import mixed, storage
from pathlib import Path
optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.load_study(study_name="study", storage=storage(Path(sys.argv[1])))
study.optimize(mixed, n_trials=int(sys.argv[2]))
"""


def test_a_journal_two_optuna_processes_wrote_at_once_reads_as_optuna_reads_it(
    tmp_path: Path,
) -> None:
    """Their operations interleave, and both take trials from the queue."""
    journal = tmp_path / "journal.log"
    study = optuna_study(journal)
    for lr in (1e-4, 1e-3, 1e-2, 1e-1):
        study.enqueue_trial({"lr": lr})
    root = Path(__file__).parent.parent
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(journal), "8"],
            cwd=root,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for worker in workers:
        _, errors = worker.communicate(timeout=120)
        # Optuna 3.2 (the oldest allowed) may let both take one waiting trial; the second to tell
        # it dies of it, and the journal keeps what the first wrote, as replays read it
        race = "has already finished and can not be updated" in errors
        assert worker.returncode == 0 or race, errors
    ran = optuna.load_study(study_name="study", storage=storage(journal))
    assert len(ran.trials) >= 8
    assert_same_trials(ran, imported(journal, tmp_path))


def test_a_parameter_optuna_refused_in_a_journal_is_left_out_as_optuna_leaves_it(
    tmp_path: Path,
) -> None:
    """A journal's worker writes a parameter before Optuna checks its distribution
    against the study's: one of another kind, or other choices, fails the trial and
    Optuna's replay leaves the parameter out."""
    journal = tmp_path / "journal.log"

    def changed(trial: optuna.Trial) -> float:
        if trial.number == 2:
            trial.suggest_int("x", 0, 1)  # was suggest_float: Optuna raises ValueError
        if trial.number == 3:
            trial.suggest_categorical("c", ["a", "b", "z"])  # other choices: ValueError
        return trial.suggest_float("x", 0, 1) + len(trial.suggest_categorical("c", ["a", "b"]))

    ran = optuna_study(journal, changed, 5)
    assert [t.state.name for t in ran.trials].count("FAIL") == 2
    study = imported(journal, tmp_path)
    assert study.space == Space.from_user({"x": hp.Float(0.0, 1.0), "c": ["a", "b"]})
    assert_same_trials(ran, study)


def test_a_trial_created_in_a_study_deleted_meanwhile_takes_no_number(tmp_path: Path) -> None:
    """A worker that still has a study another one deleted writes its new trial before
    it learns so; Optuna's replay gives that trial no id, and the next ones theirs."""
    journal = tmp_path / "journal.log"
    stale = storage(journal)
    assert isinstance(stale, optuna.storages.JournalStorage)
    optuna_study(journal, lambda t: t.suggest_float("x", 0, 1), 2)
    old_id = stale.get_study_id_from_name("study")
    optuna.delete_study(study_name="study", storage=storage(journal))
    with pytest.raises(KeyError):
        stale.create_new_trial(old_id)  # written, then refused on reading back
    ran = optuna_study(journal, lambda t: t.suggest_float("y", 0, 1), 3)
    assert_same_trials(ran, imported(journal, tmp_path))

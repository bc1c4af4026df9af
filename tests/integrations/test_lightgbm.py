"""hpotrack.integrations.lightgbm.ReportCallback with real LightGBM boosters on real
data, each study in a SQLite file under tmp_path: the curve it stores, pruning out of
``lgb.train``, promotions that continue their parent's booster, and its errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import pytest

import hpotrack as hp
from hpotrack.errors import TrialError
from hpotrack.integrations.lightgbm import CallbackError, ReportCallback
from tests.integrations.data import SPACE, X_TRAIN, X_VALID, Y_TRAIN, Y_VALID, curve_of

PARAMS = {"objective": "binary", "verbose": -1, "min_data_in_leaf": 5, "seed": 0}


def fit(
    lr: float,
    leaves: int,
    rounds: int,
    callback: ReportCallback,
    *,
    init_model: Any = None,
    metric: str | list[str] = "binary_logloss",
    valid: bool = True,
    log: dict[str, Any] | None = None,
) -> lgb.Booster:
    """Boost ``rounds`` rounds on the training part, evaluated on the validation part."""
    train = lgb.Dataset(X_TRAIN, Y_TRAIN)
    sets, names = [train], ["training"]
    if valid:
        sets.append(lgb.Dataset(X_VALID, Y_VALID, reference=train))
        names.append("valid")
    callbacks: list[Any] = [callback]
    if log is not None:
        callbacks.append(lgb.record_evaluation(log))
    params = {**PARAMS, "learning_rate": lr, "num_leaves": leaves, "metric": metric}
    return lgb.train(
        params,
        train,
        num_boost_round=rounds,
        init_model=init_model,
        valid_sets=sets,
        valid_names=names,
        callbacks=callbacks,
    )


def test_every_round_lands_in_the_curve_and_the_last_booster_is_saved(tmp_path: Path) -> None:
    logs: dict[int, dict[str, Any]] = {}

    @hp.tune(
        SPACE,
        method="random",
        study="curve",
        objective="binary_logloss",
        seed=0,
        db=tmp_path / "s.db",
    )
    def train(lr: float, leaves: int, trial: hp.Trial) -> float:
        log = logs[trial.number] = {}
        booster = fit(lr, leaves, 6, ReportCallback(trial), log=log)
        return float(booster.best_score["valid"]["binary_logloss"])

    study = train.optimize(n_trials=2)
    for record in study.trials:
        expected = logs[record.number]["valid"]["binary_logloss"]
        curve = curve_of(study, record.number, "binary_logloss")
        assert [step for step, _ in curve] == [1, 2, 3, 4, 5, 6]
        assert [value for _, value in curve] == pytest.approx(expected)
        assert record.value == pytest.approx(expected[-1])
        assert study.load_checkpoint(record.number).current_iteration() == 6


def test_trial_none_is_the_running_trial_and_name_reports_another_metric(tmp_path: Path) -> None:
    @hp.tune(
        SPACE, method="random", study="current", objective="loss", seed=0, db=tmp_path / "s.db"
    )
    def train(lr: float, leaves: int) -> float:
        fit(
            lr,
            leaves,
            3,
            ReportCallback(metric="auc", name="val_auc", checkpoints=False),
            metric=["auc"],
        )
        booster = fit(lr, leaves, 4, ReportCallback(checkpoints=False))
        return float(booster.best_score["valid"]["binary_logloss"])

    study = train.optimize(n_trials=1)
    curves = study.curve(0)
    assert [step for step, _ in curves["val_auc"]] == [1, 2, 3]
    assert all(0.5 < value <= 1.0 for _, value in curves["val_auc"])
    assert [step for step, _ in curves["loss"]] == [1, 2, 3, 4]  # the objective's name
    with pytest.raises(TrialError, match="none"):
        study.load_checkpoint(0)  # checkpoints=False saved none
    with pytest.raises(TrialError, match=r"ReportCallback\(\) without trial= reports to the"):
        fit(0.1, 8, 2, ReportCallback())  # no trial is running here


def test_hyperband_prunes_out_of_lgb_train_and_promotions_continue_the_booster(
    tmp_path: Path,
) -> None:
    ran: dict[int, dict[str, Any]] = {}

    @hp.tune(
        SPACE,
        method="hyperband",
        study="hb",
        objective="binary_logloss",
        seed=0,
        budget=hp.Budget(1, 9, name="rounds"),
        db=tmp_path / "s.db",
        keep_checkpoints="all",
    )
    def train(lr: float, leaves: int, trial: hp.Trial) -> float:
        rounds, start = len(trial.steps), trial.load_checkpoint()
        run = ran[trial.number] = {"loaded": trial.loaded_step, "rounds": rounds}
        try:
            booster = fit(lr, leaves, rounds, ReportCallback(), init_model=start)
        except hp.Pruned:
            run["pruned in lgb.train"] = True
            raise
        run["total"] = booster.current_iteration()
        return float(booster.best_score["valid"]["binary_logloss"])

    study = train.optimize(n_trials=22)  # one Hyperband iteration of Budget(1, 9), eta 3
    pruned = [t for t in study.trials if t.state is hp.TrialState.PRUNED]
    assert pruned
    for record in pruned:
        assert ran[record.number].get("pruned in lgb.train")
        assert curve_of(study, record.number, "binary_logloss")[-1][0] < 9
    promoted = [t for t in study.trials if t.origin == "promoted"]
    assert promoted
    for record in promoted:
        parent = record.parents[0]
        run = ran[record.number]
        assert run["loaded"] == parent.step  # the parent's booster at its rung
        assert study.load_checkpoint(parent.parent, parent.step).current_iteration() == parent.step
        assert run["rounds"] == 9 - parent.step  # only the rounds it lacked
        steps = [step for step, _ in curve_of(study, record.number, "binary_logloss")]
        assert steps[0] == parent.step + 1
        if record.state is hp.TrialState.COMPLETE:
            assert run["total"] == 9 == steps[-1]
    assert any(t.state is hp.TrialState.COMPLETE for t in promoted)


def test_a_pruner_stops_trials_without_a_budget(tmp_path: Path) -> None:
    pruner = hp.pruners.Threshold(upper=0.5, n_warmup_steps=3)

    @hp.tune(
        SPACE,
        method=hp.methods.TPE(pruner=pruner),
        study="pruner",
        seed=1,
        objective="binary_logloss",
        db=tmp_path / "s.db",
    )
    def train(lr: float, leaves: int) -> float:
        booster = fit(lr, leaves, 8, ReportCallback())
        return float(booster.best_score["valid"]["binary_logloss"])

    study = train.optimize(n_trials=8)
    states = {t.state for t in study.trials}
    assert states == {hp.TrialState.PRUNED, hp.TrialState.COMPLETE}
    for record in study.trials:
        curve = curve_of(study, record.number, "binary_logloss")
        if record.state is hp.TrialState.PRUNED:  # stopped at the first check above 0.5
            assert curve[-1][0] == 3 and curve[-1][1] > 0.5
        else:
            assert len(curve) == 8


def manual(tmp_path: Path, direction: str, budget: hp.Budget | None, body: Any) -> Any:
    """A study whose function runs ``body(trial)``, called once by hand."""

    @hp.tune(
        SPACE,
        method="random",
        study="errors",
        objective="loss",
        direction=direction,
        budget=budget,
        seed=0,
        db=tmp_path / "s.db",
    )
    def train(lr: float, leaves: int, trial: hp.Trial) -> float:
        body(trial)
        return 0.0

    return train(lr=0.1, leaves=8)


@pytest.mark.parametrize(
    ("direction", "options", "message"),
    [
        (
            "minimize",
            {"metric": "auc"},
            "metric 'auc' of 'valid' is better higher, but study 'errors' minimizes its "
            "objective: the method would keep the worst trials and stop the best. Declare "
            "direction='maximize' in @hp.tune, or report a metric better lower "
            "(metric='binary_logloss')",
        ),
        (
            "maximize",
            {},
            "metric 'binary_logloss' of 'valid' is better lower, but study 'errors' "
            "maximizes its objective: the method would keep the worst trials and stop the "
            "best. Declare direction='minimize' in @hp.tune, or report a metric better "
            "higher (metric='auc')",
        ),
        (
            "minimize",
            {"metric": "rmse"},
            "metric='rmse' is not a metric lgb.train computed on 'valid' (it computed: "
            "'binary_logloss', 'auc'); pass one of those, or ask LightGBM for it with "
            'params["metric"] (e.g. "metric": ["auc", "binary_logloss"])',
        ),
        (
            "minimize",
            {"valid": "test"},
            "valid='test' names no data set that lgb.train evaluated (it evaluated: "
            "'training', 'valid'); pass one of those, or give it the data set with "
            "valid_sets=[lgb.Dataset(X_val, y_val, reference=train_set)]",
        ),
    ],
)
def test_a_wrong_metric_or_data_set_is_one_error_naming_the_choices(
    tmp_path: Path, direction: str, options: dict[str, str], message: str
) -> None:
    def body(trial: hp.Trial) -> None:
        fit(0.1, 8, 3, ReportCallback(trial, **options), metric=["binary_logloss", "auc"])

    with pytest.raises(CallbackError) as raised:
        manual(tmp_path, direction, None, body)
    assert str(raised.value) == message


def test_a_metric_better_higher_is_fine_when_maximized_or_reported_by_name(
    tmp_path: Path,
) -> None:
    def body(trial: hp.Trial) -> None:
        fit(0.1, 8, 2, ReportCallback(trial, metric="auc"), metric=["binary_logloss", "auc"])
        fit(0.1, 8, 2, ReportCallback(trial, metric="auc", name="auc"), metric=["auc"])

    manual(tmp_path, "maximize", None, body)
    study = hp.load_study("errors", db=tmp_path / "s.db")
    assert {name: len(points) for name, points in study.curve(0).items()} == {"loss": 2, "auc": 2}


def test_only_the_training_data_is_no_validation_set(tmp_path: Path) -> None:
    def body(trial: hp.Trial) -> None:
        fit(0.1, 8, 3, ReportCallback(trial), valid=False)

    with pytest.raises(CallbackError, match=r"lgb\.train evaluated only the training data"):
        manual(tmp_path, "minimize", None, body)


def test_more_rounds_than_the_budget_say_how_many_to_train(tmp_path: Path) -> None:
    def too_many(trial: hp.Trial) -> None:
        fit(0.1, 8, trial.budget + 1, ReportCallback(trial))

    with pytest.raises(CallbackError) as raised:
        manual(tmp_path, "minimize", hp.Budget(1, 4), too_many)
    assert str(raised.value) == (
        "`rounds <= trial.budget` must hold, but lgb.train reached round 5 of trial 0, "
        "whose budget is 4 rounds: train num_boost_round=len(trial.steps) (the budget "
        "less the rounds of the model it continues, init_model=trial.load_checkpoint())"
    )


def test_a_restart_after_loading_the_parents_booster_is_refused(tmp_path: Path) -> None:
    ran: list[str] = []

    @hp.tune(
        SPACE,
        method="hyperband",
        study="restart",
        objective="binary_logloss",
        seed=0,
        budget=hp.Budget(1, 3, name="rounds"),
        db=tmp_path / "s.db",
    )
    def train(lr: float, leaves: int, trial: hp.Trial) -> float:
        loaded = trial.load_checkpoint()  # then not passed as init_model
        try:
            fit(lr, leaves, len(trial.steps), ReportCallback())
        except CallbackError as error:
            ran.append(str(error))
            raise
        return 0.0 if loaded is None else 1.0

    study = train.optimize(n_trials=9)  # rung 1 of trials 5-7 promotes trial 5
    promoted = [t for t in study.trials if t.origin == "promoted"]
    assert promoted
    assert ran == [
        f"trial {t.number} loaded the booster of round 1 (trial.load_checkpoint()), but "
        "lgb.train began again at round 1: pass it as init_model=trial.load_checkpoint() "
        "so that training continues it"
        for t in promoted
    ]
    assert all(t.state is hp.TrialState.FAILED and ran[0] in (t.error or "") for t in promoted)


def test_bad_options_are_refused_when_made() -> None:
    with pytest.raises(CallbackError, match=r"trial= takes the hp.Trial .* but got 'x' \(str\)"):
        ReportCallback("x")  # type: ignore[arg-type]
    with pytest.raises(CallbackError, match="metric= takes a non-empty name, but got ''"):
        ReportCallback(metric="")
    with pytest.raises(CallbackError, match="checkpoints= takes True or False, but got 1"):
        ReportCallback(checkpoints=1)  # type: ignore[arg-type]


def test_early_stopping_saves_the_booster_it_stopped_with(tmp_path: Path) -> None:
    stopped: dict[int, int] = {}

    @hp.tune(
        SPACE,
        method="random",
        study="early",
        objective="binary_logloss",
        seed=0,
        db=tmp_path / "s.db",
    )
    def train(lr: float, leaves: int, trial: hp.Trial) -> float:
        train_set = lgb.Dataset(X_TRAIN, Y_TRAIN)
        valid_set = lgb.Dataset(X_VALID, Y_VALID, reference=train_set)
        params = {**PARAMS, "learning_rate": 0.5, "num_leaves": leaves}
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=200,  # early stopping ends it long before: no round is the last
            valid_sets=[valid_set],
            callbacks=[ReportCallback(), lgb.early_stopping(2, verbose=False)],
        )
        stopped[trial.number] = booster.current_iteration()
        return float(booster.best_score["valid_0"]["binary_logloss"])

    study = train.optimize(n_trials=2)
    for record in study.trials:
        assert record.state is hp.TrialState.COMPLETE
        assert curve_of(study, record.number, "binary_logloss")[-1][0] < 200
        saved = study.load_checkpoint(record.number)  # the model the function got
        assert saved.current_iteration() == stopped[record.number] < 200


def test_cross_validation_reports_the_folds_mean_and_saves_no_booster(tmp_path: Path) -> None:
    @hp.tune(
        SPACE,
        method="hyperband",
        study="cv",
        objective="binary_logloss",
        seed=0,
        budget=hp.Budget(1, 3, name="rounds"),
        db=tmp_path / "s.db",
    )
    def train(lr: float, leaves: int, trial: hp.Trial) -> float:
        params = {**PARAMS, "learning_rate": lr, "num_leaves": leaves}
        results = lgb.cv(
            params,
            lgb.Dataset(X_TRAIN, Y_TRAIN),
            num_boost_round=len(trial.steps),
            init_model=trial.load_checkpoint(),  # None: no fold's booster was saved
            nfold=3,
            callbacks=[ReportCallback()],
        )
        return float(results["valid binary_logloss-mean"][-1])

    study = train.optimize(n_trials=9)  # rung 1 of trials 5-7 promotes trial 5
    promoted = [t for t in study.trials if t.origin == "promoted"]
    assert promoted
    assert {t.state for t in study.trials} <= {hp.TrialState.COMPLETE, hp.TrialState.PRUNED}
    for record in promoted:  # trained again from round 1
        assert [step for step, _ in curve_of(study, record.number, "binary_logloss")] == [1, 2, 3]
    with pytest.raises(TrialError, match="no checkpoints stored"):
        study.load_checkpoint(0)


@pytest.mark.parametrize(("interval", "steps"), [(1, [1, 2, 4, 8, 16, 20]), (3, [3, 6, 12, 20])])
def test_a_pruner_checking_every_round_saves_at_doubling_rounds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interval: int, steps: list[int]
) -> None:
    saved: list[tuple[int, int]] = []
    save = hp.Trial.save_checkpoint

    def recorded(trial: hp.Trial, obj: object, step: Any = None) -> None:
        saved.append((trial.number, step))
        save(trial, obj, step)

    monkeypatch.setattr(hp.Trial, "save_checkpoint", recorded)

    @hp.tune(
        SPACE,
        # checks every `interval` rounds and stops no trial
        method=hp.methods.Random(pruner=hp.pruners.Threshold(upper=10.0, interval_steps=interval)),
        study="doubling",
        objective="binary_logloss",
        seed=0,
        budget=hp.Budget(1, 20, name="rounds"),
        db=tmp_path / "s.db",
    )
    def train(lr: float, leaves: int, trial: hp.Trial) -> float:
        booster = fit(lr, leaves, len(trial.steps), ReportCallback())
        return float(booster.best_score["valid"]["binary_logloss"])

    study = train.optimize(n_trials=1)
    assert len(curve_of(study, 0, "binary_logloss")) == 20
    assert saved == [(0, step) for step in steps]
    assert study.load_checkpoint(0).current_iteration() == 20

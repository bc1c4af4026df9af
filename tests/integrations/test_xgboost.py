"""hpotrack.integrations.xgboost.ReportCallback with real XGBoost boosters on real
data, each study in a SQLite file under tmp_path: the curve it stores, pruning out of
``xgb.train``, promotions that continue their parent's booster, and its errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import xgboost as xgb
from sklearn.base import clone

import hpotrack as hp
from hpotrack.errors import TrialError
from hpotrack.integrations.xgboost import CallbackError, ReportCallback, higher_is_better
from tests.integrations.data import SPACE, X_TRAIN, X_VALID, Y_TRAIN, Y_VALID, curve_of

PARAMS = {
    "objective": "binary:logistic",
    "tree_method": "hist",
    "grow_policy": "lossguide",
    "nthread": 1,
    "seed": 0,
}


def fit(
    lr: float,
    leaves: int,
    rounds: int,
    callback: ReportCallback,
    *,
    xgb_model: Any = None,
    metric: str | list[str] = "logloss",
    valid: bool = True,
    log: dict[str, Any] | None = None,
) -> xgb.Booster:
    """Boost ``rounds`` rounds on the training part, evaluated on the validation part."""
    train = xgb.DMatrix(X_TRAIN, Y_TRAIN)
    evals = [(train, "train")]
    if valid:
        evals.append((xgb.DMatrix(X_VALID, Y_VALID), "valid"))
    params = {**PARAMS, "learning_rate": lr, "max_leaves": leaves, "eval_metric": metric}
    return xgb.train(
        params,
        train,
        num_boost_round=rounds,
        xgb_model=xgb_model,
        evals=evals,
        evals_result=log,
        verbose_eval=False,
        callbacks=[callback],
    )


def test_every_round_lands_in_the_curve_and_the_last_booster_is_saved(tmp_path: Path) -> None:
    logs: dict[int, dict[str, Any]] = {}

    @hp.tune(
        SPACE,
        method="random",
        study="curve",
        objective="logloss",
        seed=0,
        db=tmp_path / "s.db",
    )
    def train(lr: float, leaves: int, trial: hp.Trial) -> float:
        log = logs[trial.number] = {}
        fit(lr, leaves, 6, ReportCallback(trial), log=log)
        return float(log["valid"]["logloss"][-1])

    study = train.optimize(n_trials=2)
    for record in study.trials:
        expected = logs[record.number]["valid"]["logloss"]
        curve = curve_of(study, record.number, "logloss")
        assert [step for step, _ in curve] == [1, 2, 3, 4, 5, 6]
        assert [value for _, value in curve] == pytest.approx(expected)
        assert record.value == pytest.approx(expected[-1])
        assert study.load_checkpoint(record.number).num_boosted_rounds() == 6


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
        log: dict[str, Any] = {}
        fit(lr, leaves, 4, ReportCallback(checkpoints=False), log=log)
        return float(log["valid"]["logloss"][-1])

    study = train.optimize(n_trials=1)
    curves = study.curve(0)
    assert [step for step, _ in curves["val_auc"]] == [1, 2, 3]
    assert all(0.5 < value <= 1.0 for _, value in curves["val_auc"])
    assert [step for step, _ in curves["loss"]] == [1, 2, 3, 4]  # the objective's name
    with pytest.raises(TrialError, match="none"):
        study.load_checkpoint(0)  # checkpoints=False saved none
    with pytest.raises(TrialError, match=r"ReportCallback\(\) without trial= reports to the"):
        fit(0.1, 8, 2, ReportCallback())  # no trial is running here


def test_hyperband_prunes_out_of_xgb_train_and_promotions_continue_the_booster(
    tmp_path: Path,
) -> None:
    ran: dict[int, dict[str, Any]] = {}

    @hp.tune(
        SPACE,
        method="hyperband",
        study="hb",
        objective="logloss",
        seed=0,
        budget=hp.Budget(1, 9, name="rounds"),
        db=tmp_path / "s.db",
        keep_checkpoints="all",
    )
    def train(lr: float, leaves: int, trial: hp.Trial) -> float:
        rounds, start = len(trial.steps), trial.load_checkpoint()
        run = ran[trial.number] = {"loaded": trial.loaded_step, "rounds": rounds}
        try:
            log: dict[str, Any] = {}
            booster = fit(lr, leaves, rounds, ReportCallback(), xgb_model=start, log=log)
        except hp.Pruned:
            run["pruned in xgb.train"] = True
            raise
        run["total"] = booster.num_boosted_rounds()
        return float(log["valid"]["logloss"][-1])

    study = train.optimize(n_trials=22)  # one Hyperband iteration of Budget(1, 9), eta 3
    pruned = [t for t in study.trials if t.state is hp.TrialState.PRUNED]
    assert pruned
    for record in pruned:
        assert ran[record.number].get("pruned in xgb.train")
        assert curve_of(study, record.number, "logloss")[-1][0] < 9
    promoted = [t for t in study.trials if t.origin == "promoted"]
    assert promoted
    for record in promoted:
        parent = record.parents[0]
        run = ran[record.number]
        assert run["loaded"] == parent.step  # the parent's booster at its rung
        assert study.load_checkpoint(parent.parent, parent.step).num_boosted_rounds() == parent.step
        assert run["rounds"] == 9 - parent.step  # only the rounds it lacked
        steps = [step for step, _ in curve_of(study, record.number, "logloss")]
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
        objective="logloss",
        db=tmp_path / "s.db",
    )
    def train(lr: float, leaves: int) -> float:
        log: dict[str, Any] = {}
        fit(lr, leaves, 8, ReportCallback(), log=log)
        return float(log["valid"]["logloss"][-1])

    study = train.optimize(n_trials=8)
    states = {t.state for t in study.trials}
    assert states == {hp.TrialState.PRUNED, hp.TrialState.COMPLETE}
    for record in study.trials:
        curve = curve_of(study, record.number, "logloss")
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
            "(metric='logloss')",
        ),
        (
            "maximize",
            {"metric": "logloss"},
            "metric 'logloss' of 'valid' is better lower, but study 'errors' "
            "maximizes its objective: the method would keep the worst trials and stop the "
            "best. Declare direction='minimize' in @hp.tune, or report a metric better "
            "higher (metric='auc')",
        ),
        (
            "minimize",
            {"metric": "rmse"},
            "metric='rmse' is not a metric xgb.train computed on 'valid' (it computed: "
            "'logloss', 'auc'); pass one of those, or ask XGBoost for it with "
            'params["eval_metric"] (e.g. "eval_metric": ["auc", "logloss"])',
        ),
        (
            "minimize",
            {"valid": "test"},
            "valid='test' names no data set that xgb.train evaluated (it evaluated: "
            "'train', 'valid'); pass one of those, or give it the data set with "
            'evals=[(dtrain, "train"), (dvalid, "valid")]',
        ),
    ],
)
def test_a_wrong_metric_or_data_set_is_one_error_naming_the_choices(
    tmp_path: Path, direction: str, options: dict[str, str], message: str
) -> None:
    def body(trial: hp.Trial) -> None:
        fit(0.1, 8, 3, ReportCallback(trial, **options), metric=["logloss", "auc"])

    with pytest.raises(CallbackError) as raised:
        manual(tmp_path, direction, None, body)
    assert str(raised.value) == message


def test_a_metric_better_higher_is_fine_when_maximized_or_reported_by_name(
    tmp_path: Path,
) -> None:
    def body(trial: hp.Trial) -> None:
        fit(0.1, 8, 2, ReportCallback(trial, metric="auc"), metric=["logloss", "auc"])
        fit(0.1, 8, 2, ReportCallback(trial, metric="auc", name="auc"), metric=["auc"])

    manual(tmp_path, "maximize", None, body)
    study = hp.load_study("errors", db=tmp_path / "s.db")
    assert {name: len(points) for name, points in study.curve(0).items()} == {"loss": 2, "auc": 2}


def test_several_metrics_or_no_evals_need_a_choice(tmp_path: Path) -> None:
    def several(trial: hp.Trial) -> None:
        fit(0.1, 8, 3, ReportCallback(trial), metric=["auc", "logloss"])

    with pytest.raises(CallbackError) as raised:
        manual(tmp_path, "minimize", None, several)
    assert str(raised.value) == (
        "'valid' has several metrics ('auc', 'logloss') and XGBoost's early stopping "
        "follows the last one: pass metric= to say which to report, e.g. "
        "ReportCallback(metric='logloss')"
    )

    def no_evals(trial: hp.Trial) -> None:
        train = xgb.DMatrix(X_TRAIN, Y_TRAIN)
        xgb.train(PARAMS, train, num_boost_round=2, callbacks=[ReportCallback(trial)])

    with pytest.raises(CallbackError, match=r"xgb\.train evaluated no data set: give it"):
        manual(tmp_path, "minimize", None, no_evals)


@pytest.mark.parametrize(
    ("metric", "higher"),
    [
        ("auc", True),
        ("aucpr", True),
        ("ndcg@5", True),
        ("map@3-", True),
        ("pre@2", True),
        ("logloss", False),
        ("error@0.7", False),
        ("tweedie-nloglik@1.5", False),
        ("mape", False),
        ("my_custom_score", None),
    ],
)
def test_which_metrics_are_better_higher(metric: str, higher: bool | None) -> None:
    assert higher_is_better(metric) is higher


def test_more_rounds_than_the_budget_say_how_many_to_train(tmp_path: Path) -> None:
    def too_many(trial: hp.Trial) -> None:
        fit(0.1, 8, trial.budget + 1, ReportCallback(trial))

    with pytest.raises(CallbackError) as raised:
        manual(tmp_path, "minimize", hp.Budget(1, 4), too_many)
    assert str(raised.value) == (
        "`rounds <= trial.budget` must hold, but xgb.train reached round 5 of trial 0, "
        "whose budget is 4 rounds: train num_boost_round=len(trial.steps) (the budget "
        "less the rounds of the model it continues, xgb_model=trial.load_checkpoint())"
    )


def test_a_restart_after_loading_the_parents_booster_is_refused(tmp_path: Path) -> None:
    ran: list[str] = []

    @hp.tune(
        SPACE,
        method="hyperband",
        study="restart",
        objective="logloss",
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
        "xgb.train began again at round 1: pass it as xgb_model=trial.load_checkpoint() "
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


def test_cross_validation_reports_the_folds_mean_and_saves_no_booster(tmp_path: Path) -> None:
    @hp.tune(SPACE, method="random", study="cv", objective="logloss", seed=0, db=tmp_path / "s.db")
    def train(lr: float, leaves: int) -> float:
        params = {**PARAMS, "learning_rate": lr, "max_leaves": leaves, "eval_metric": "logloss"}
        results = xgb.cv(
            params,
            xgb.DMatrix(X_TRAIN, Y_TRAIN),
            num_boost_round=4,
            nfold=3,
            callbacks=[ReportCallback()],
        )
        return float(results["test-logloss-mean"].iloc[-1])

    study = train.optimize(n_trials=2)
    for record in study.trials:
        assert record.state is hp.TrialState.COMPLETE, record.error
        curve = curve_of(study, record.number, "logloss")
        assert [step for step, _ in curve] == [1, 2, 3, 4]
        assert curve[-1][1] == pytest.approx(record.value)
    with pytest.raises(TrialError, match="no checkpoints stored"):
        study.load_checkpoint(0)


def test_a_scikit_learn_clone_reports_to_the_same_trial(tmp_path: Path) -> None:
    @hp.tune(
        SPACE, method="random", study="clone", objective="logloss", seed=0, db=tmp_path / "s.db"
    )
    def train(lr: float, leaves: int, trial: hp.Trial) -> float:
        model = xgb.XGBClassifier(
            n_estimators=3,
            learning_rate=lr,
            max_leaves=leaves,
            eval_metric="logloss",
            callbacks=[ReportCallback(trial)],
        )
        model.fit(X_TRAIN, Y_TRAIN, eval_set=[(X_VALID, Y_VALID)], verbose=False)
        copied = clone(model)  # as cross_val_score and GridSearchCV do: the trial is shared
        copied.set_params(n_estimators=5).fit(
            X_TRAIN, Y_TRAIN, eval_set=[(X_VALID, Y_VALID)], verbose=False
        )
        return float(copied.evals_result()["validation_0"]["logloss"][-1])

    study = train.optimize(n_trials=1)
    record = study.trials[0]
    assert record.state is hp.TrialState.COMPLETE, record.error
    assert [step for step, _ in curve_of(study, 0, "logloss")] == [1, 2, 3, 4, 5]
    assert study.load_checkpoint(0).num_boosted_rounds() == 5

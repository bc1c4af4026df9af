"""Report XGBoost's boosting rounds to an hpotrack trial: ``ReportCallback`` for
``xgb.train(..., callbacks=[...])``, XGBoost's counterpart of Optuna's
``XGBoostPruningCallback`` and Ray Tune's ``TuneReportCheckpointCallback``.

After every round it reports a validation metric as the trial's objective at the step
of the rounds trained so far, so the study's method (``sha``, ``hyperband``, ``bohb``, a
``pruner=``) may stop the trial: ``hp.Pruned`` comes out of ``xgb.train``. It saves the
booster at the rounds where the method checks the trial and at the end, so a promoted
trial continues its parent with ``xgb_model=trial.load_checkpoint()``
(docs/integrations.md).
"""

from __future__ import annotations

from hpotrack.errors import MissingDependency

try:
    import xgboost
except ImportError as error:  # pragma: no cover - the test extra installs it
    raise MissingDependency(
        "hpotrack.integrations.xgboost needs XGBoost, which is not installed: pip install xgboost"
    ) from error

from hpotrack.integrations._boosting import (
    CallbackError,
    Evaluation,
    Library,
    RoundReporter,
    value_of,
)
from hpotrack.trial import Trial

__all__ = ["CallbackError", "ReportCallback"]

XGBOOST = Library(
    name="XGBoost",
    train="xgb.train",
    add_validation='evals=[(dtrain, "train"), (dvalid, "valid")]',
    metric_option='params["eval_metric"] (e.g. "eval_metric": ["auc", "logloss"])',
    continue_option="xgb_model=trial.load_checkpoint()",
    first_metric_is_the_one=False,  # its EarlyStopping follows the last metric
)

HIGHER_IS_BETTER = frozenset({"auc", "aucpr", "map", "ndcg", "pre", "interval-regression-accuracy"})
"""XGBoost's built-in metrics that are better higher (as its ``EarlyStopping`` maximizes
them), without their ``@k`` and ``-`` suffixes."""

LOWER_IS_BETTER = frozenset(
    {
        "rmse",
        "rmsle",
        "mae",
        "mape",
        "mphe",
        "logloss",
        "error",
        "merror",
        "mlogloss",
        "poisson-nloglik",
        "gamma-nloglik",
        "cox-nloglik",
        "gamma-deviance",
        "tweedie-nloglik",
        "aft-nloglik",
        "quantile",
        "expectile",
    }
)
"""XGBoost's built-in metrics that are better lower, without their ``@`` suffixes."""


def higher_is_better(metric: str) -> bool | None:
    """Whether an XGBoost metric is better higher; None for a name it does not build in
    (a ``custom_metric``), whose direction only its author knows."""
    base = metric.split("@")[0].rstrip("-")
    if base in HIGHER_IS_BETTER:
        return True
    if base in LOWER_IS_BETTER:
        return False
    return None


class ReportCallback(xgboost.callback.TrainingCallback):
    """Report a validation metric of ``xgb.train`` to ``trial`` after every round.

    - ``trial``: the trial to report to; None (the default) is the trial running here,
      as ``hp.report`` finds it.
    - ``metric``: the metric to report (``"auc"``); default: the data set's only one.
      With several, name it: XGBoost's early stopping follows the last, LightGBM's the
      first, so neither is the obvious one.
    - ``valid``: the data set (its name in ``evals``); default: the last of ``evals``,
      as XGBoost's early stopping takes it.
    - ``name``: report under this metric name instead of the study's objective (stored
      in the curve; the method then checks nothing and stops no trial).
    - ``checkpoints``: save the booster at the rounds where the method checks the trial
      (with a whole-number ``budget=``) and at the end; False saves none, nor does
      ``xgb.cv``.
    """

    def __init__(
        self,
        trial: Trial | None = None,
        *,
        metric: str | None = None,
        valid: str | None = None,
        name: str | None = None,
        checkpoints: bool = True,
    ) -> None:
        super().__init__()
        self.reporter = RoundReporter(
            XGBOOST,
            trial,
            rounds_of=lambda booster: int(booster.num_boosted_rounds()),
            metric=metric,
            valid=valid,
            name=name,
            checkpoints=checkpoints,
        )
        self._first = True

    def before_training(self, model: xgboost.Booster) -> xgboost.Booster:
        """A new run: the next round is its first (the trial is looked up there)."""
        self._first = True
        return model

    def after_iteration(
        self,
        model: xgboost.Booster,
        epoch: int,
        evals_log: xgboost.callback.TrainingCallback.EvalsLog,
    ) -> bool:
        """After a round: report it at the booster's rounds (those of the model it
        continues, ``xgb_model=``, included). Returns False: stopping is ``hp.Pruned``."""
        evaluations = [
            Evaluation(dataset, metric, value_of(values[-1]), higher_is_better(metric))
            for dataset, metrics in evals_log.items()
            for metric, values in metrics.items()
        ]
        first, self._first = self._first, False
        self.reporter.after_round(
            model,
            model.num_boosted_rounds(),
            evaluations,
            first=first,
            last=False,
            # xgb.cv's folds, which no xgb_model= continues (nor pickle stores)
            cross_validation=not isinstance(model, xgboost.Booster),
        )
        return False

    def after_training(self, model: xgboost.Booster) -> xgboost.Booster:
        """Save the final booster (``checkpoints=True``), unless its last round was."""
        self.reporter.after_training(model, model.num_boosted_rounds())
        return model

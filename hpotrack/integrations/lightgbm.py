"""Report LightGBM's boosting rounds to an hpotrack trial: ``ReportCallback`` for
``lgb.train(..., callbacks=[...])``, LightGBM's counterpart of Optuna's
``LightGBMPruningCallback`` and Ray Tune's ``TuneReportCheckpointCallback``.

After every round it reports a validation metric as the trial's objective at the step
of the rounds trained so far, so the study's method (``sha``, ``hyperband``, ``bohb``, a
``pruner=``) may stop the trial: ``hp.Pruned`` comes out of ``lgb.train``. It saves the
booster at the rounds where the method checks the trial and at the last one, so a
promoted trial continues its parent with ``init_model=trial.load_checkpoint()``
(docs/integrations.md).
"""

from __future__ import annotations

from hpotrack.errors import MissingDependency

try:
    import lightgbm
except ImportError as error:  # pragma: no cover - the test extra installs it
    raise MissingDependency(
        "hpotrack.integrations.lightgbm needs LightGBM, which is not installed: "
        "pip install lightgbm"
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

LIGHTGBM = Library(
    name="LightGBM",
    train="lgb.train",
    add_validation="valid_sets=[lgb.Dataset(X_val, y_val, reference=train_set)]",
    metric_option='params["metric"] (e.g. "metric": ["auc", "binary_logloss"])',
    continue_option="init_model=trial.load_checkpoint()",
    first_metric_is_the_one=True,  # early_stopping(first_metric_only=True)
)


class ReportCallback:
    """Report a validation metric of ``lgb.train`` to ``trial`` after every round.

    - ``trial``: the trial to report to; None (the default) is the trial running here,
      as ``hp.report`` finds it.
    - ``metric``: the metric to report (``"auc"``); default: the first of the data set,
      as LightGBM's ``first_metric_only`` takes it.
    - ``valid``: the data set (its name in ``valid_names``, ``"valid_0"`` by default);
      default: the last of ``valid_sets`` that is not the training data.
    - ``name``: report under this metric name instead of the study's objective (stored
      in the curve; the method then checks nothing and stops no trial).
    - ``checkpoints``: save the booster at the rounds where the method checks the trial
      (with a whole-number ``budget=``) and at the last round, or when the function
      returns after ``early_stopping`` ended training; False saves none, nor does
      ``lgb.cv``.

    Its ``order`` puts it after ``record_evaluation`` and before ``early_stopping``, so
    every round trained is reported.
    """

    order = 25
    before_iteration = False

    def __init__(
        self,
        trial: Trial | None = None,
        *,
        metric: str | None = None,
        valid: str | None = None,
        name: str | None = None,
        checkpoints: bool = True,
    ) -> None:
        self.reporter = RoundReporter(
            LIGHTGBM,
            trial,
            rounds_of=_rounds_of,
            metric=metric,
            valid=valid,
            name=name,
            checkpoints=checkpoints,
        )

    def __call__(self, env: lightgbm.callback.CallbackEnv) -> None:
        """After a round: report it (``env.iteration`` counts the rounds of the model
        it continues, ``init_model=``, too)."""
        evaluations = [
            Evaluation(result[0], result[1], value_of(result[2]), bool(result[3]))
            for result in env.evaluation_result_list or ()
        ]
        step = env.iteration + 1
        self.reporter.after_round(
            env.model,
            step,
            evaluations,
            first=env.iteration == env.begin_iteration,
            last=step == env.end_iteration,
            # named "training" unless valid_names names it; a CVBooster has none
            training_set=getattr(env.model, "_train_data_name", None),
            # lgb.cv: init_model takes one Booster, not the folds' CVBooster
            cross_validation=isinstance(env.model, lightgbm.CVBooster),
        )


def _rounds_of(booster: lightgbm.Booster) -> int:
    """The rounds ``booster`` holds (after early stopping, up to the best one)."""
    return int(booster.current_iteration())

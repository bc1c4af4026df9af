"""What the LightGBM and XGBoost callbacks share: which trial they report to, which
metric of which data set they report, the errors that say a choice is wrong, and the
rounds at which they save the booster. Each library's module only translates its own
callback's arguments into :meth:`RoundReporter.after_round` calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hpotrack.errors import HpotrackError
from hpotrack.running_trial import current_trial
from hpotrack.trial import Trial

_UNKNOWN = -1
"""The next check step before it is looked up (None: no check before the budget)."""


class CallbackError(HpotrackError, ValueError):
    """A boosting callback cannot report as asked: no such data set or metric, a metric
    better the other way than the study optimizes, more rounds than the trial's budget."""


@dataclass(frozen=True)
class Library:
    """How one boosting library spells what the messages name."""

    name: str  # "LightGBM"
    train: str  # "lgb.train"
    add_validation: str  # how to give it a validation set
    metric_option: str  # where its metrics are chosen
    continue_option: str  # the argument that continues a booster
    first_metric_is_the_one: bool  # its own early stopping follows the first metric


@dataclass(frozen=True)
class Evaluation:
    """One metric of one data set after a round, as the library computed it."""

    dataset: str
    metric: str
    value: float
    higher_is_better: bool | None  # None: the library does not say (a custom metric)


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _ordered(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(names))


class RoundReporter:
    """Reports one metric to a trial after every boosting round, and saves the booster
    at the rounds where the study's method checks the trial (a rung of successive
    halving: a promotion from there continues it) and at the last one, or, when training
    ended before its last round without saying so (LightGBM's early stopping), when the
    function returns. Cross-validation saves nothing: its folds' boosters are no model
    ``lgb.train`` or ``xgb.train`` continues.

    ``trial=None`` is the trial running in this context, looked up when training starts
    (as ``hp.report`` finds it), so one callback object can serve trial after trial.
    """

    def __init__(
        self,
        library: Library,
        trial: Trial | None,
        rounds_of: Callable[[Any], int],
        *,
        metric: str | None,
        valid: str | None,
        name: str | None,
        checkpoints: bool,
    ) -> None:
        if trial is not None and not isinstance(trial, Trial):
            raise CallbackError(
                f"trial= takes the hp.Trial the tuned function receives (or None for the "
                f"trial running now), but got {trial!r} ({type(trial).__name__})"
            )
        for option, given in (("metric", metric), ("valid", valid), ("name", name)):
            if given is not None and (not isinstance(given, str) or not given):
                raise CallbackError(f"{option}= takes a non-empty name, but got {given!r}")
        if not isinstance(checkpoints, bool):
            raise CallbackError(f"checkpoints= takes True or False, but got {checkpoints!r}")
        self.library = library
        self.given_trial = trial
        self.metric = metric
        self.valid = valid
        self.name = name
        self.checkpoints = checkpoints
        self.rounds_of = rounds_of  # the rounds a booster holds, as it is when saved
        self.trial: Trial | None = None
        self._unsaved: object = None  # the booster of a round not saved, if any
        self._hooked: Trial | None = None  # the trial whose return saves it
        self._chosen: tuple[str, str] | None = None  # (data set, metric)
        self._next_check: int | None = _UNKNOWN
        self._last_check: int | None = None  # the last round the method checked
        self._saved_step: int | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> RoundReporter:
        """A copy that reports to the same trial, with the same options, as yet unused:
        scikit-learn's ``clone`` (``cross_val_score``, ``GridSearchCV``) deep-copies an
        ``XGBClassifier(callbacks=[...])``, and a trial cannot be copied."""
        return RoundReporter(
            self.library,
            self.given_trial,
            self.rounds_of,
            metric=self.metric,
            valid=self.valid,
            name=self.name,
            checkpoints=self.checkpoints,
        )

    def start(self) -> Trial:
        """Begin a training run: find the trial and forget the last run's choices."""
        trial = self.given_trial
        if trial is None:
            try:
                trial = current_trial()
            except HpotrackError as error:
                raise type(error)(
                    f"ReportCallback() without trial= reports to the trial running here, "
                    f"but {error}"
                ) from None
        self.trial = trial
        self._chosen = None
        self._saved_step = None
        self._unsaved = None
        self._next_check = _UNKNOWN
        self._last_check = None
        if self.checkpoints and self._hooked is not trial:
            trial.on_return.append(lambda: self._save_unsaved(trial))
            self._hooked = trial
        return trial

    def after_round(
        self,
        booster: object,
        step: int,
        evaluations: Sequence[Evaluation],
        *,
        first: bool,
        last: bool,
        training_set: str | None = None,
        cross_validation: bool = False,
    ) -> None:
        """Report the chosen metric at ``step`` (rounds the booster has trained, those of
        a model it continued included); save the booster first when the method checks
        the trial at this step or training ends here, so that a promotion from this
        check finds it (``report`` raises ``hp.Pruned`` at a check that stops it).
        ``cross_validation``: ``booster`` holds one per fold, and is not saved."""
        trial = self.start() if first or self.trial is None else self.trial
        if first:
            self._refuse_a_restart(trial, step)
        if self._chosen is None:
            self._chosen = self._choose(trial, evaluations, training_set)
        value = {(e.dataset, e.metric): e.value for e in evaluations}[self._chosen]
        if self.name is None:
            self._refuse_past_budget(trial, step)
        if self.checkpoints and not cross_validation:
            if self._save_due(trial, step, last):
                self.save(booster, step)
            else:  # saved when the function returns, if training ends before `last`
                self._unsaved = booster
        trial.report(value, step=step, name=self.name)

    def after_training(self, booster: object, step: int) -> None:
        """Save the final booster, unless the last round did (``checkpoints=True``)."""
        if self.checkpoints and self._unsaved is not None and self._saved_step != step:
            self.save(booster, step)

    def save(self, booster: object, step: int) -> None:
        """Save ``booster``, which has trained ``step`` rounds, as the trial's checkpoint."""
        if self.trial is None:
            return
        self.trial.save_checkpoint(booster, step=step)
        self._saved_step = step
        self._unsaved = None

    def _save_unsaved(self, trial: Trial) -> None:
        """Save the booster of the last round if nothing saved it: training stopped
        early, so no round was its last (LightGBM has no end-of-training callback). At
        the rounds it holds then, which LightGBM cuts to the best one."""
        booster = self._unsaved
        if booster is not None and self.trial is trial:
            self.save(booster, self.rounds_of(booster))

    def _save_due(self, trial: Trial, step: int, last: bool) -> bool:
        """Whether to save at ``step``: the last round, a whole-number budget's end, or a
        round the method checks (only with a whole-number budget: its checks are rungs
        that promotions continue from, and a retry after a crash resumes the latest;
        without one, a pruner's checks would save the booster every round for nothing).
        Checks evenly spaced (a pruner's, every ``interval_steps``) save at doubling
        rounds only: a retry loses at most half its rounds, and the saves cost about two
        of the final booster, not one per check of a booster that grows each round."""
        budget = trial.budget
        if last or (isinstance(budget, int) and step == budget):
            return True
        if not isinstance(budget, int):
            return False
        if self._next_check is not None and self._next_check < step:  # passed, or _UNKNOWN
            self._next_check = trial.next_check(step)
        if self._next_check != step:
            return False
        since = step - (self._last_check or trial.loaded_step or 0)
        self._last_check = step
        following = trial.next_check(step + 1)
        if following is None:
            following = budget  # not checked, but saved as the budget's end
        if following - step > since:  # a rung: checks spread out
            return True
        return step >= 2 * (self._saved_step or 0)

    def _choose(
        self, trial: Trial, evaluations: Sequence[Evaluation], training_set: str | None
    ) -> tuple[str, str]:
        """The (data set, metric) to report: ``valid=`` or the last data set evaluated
        that is not the training data; ``metric=``, or its only metric, or (where the
        library's early stopping follows the first) its first. Checked against the
        study's direction when reported as the objective."""
        library = self.library
        datasets = _ordered([e.dataset for e in evaluations])
        validation = [d for d in datasets if d != training_set]
        if self.valid is not None:
            if self.valid not in datasets:
                evaluated = _quoted(datasets) if datasets else "none"
                raise CallbackError(
                    f"valid={self.valid!r} names no data set that {library.train} evaluated "
                    f"(it evaluated: {evaluated}); pass one of those, or give it the data "
                    f"set with {library.add_validation}"
                )
            dataset = self.valid
        elif validation:
            dataset = validation[-1]
        else:
            only = f" only the training data ({training_set!r})" if datasets else " no data set"
            raise CallbackError(
                f"ReportCallback needs a validation metric to report, but "
                f"{library.train} evaluated{only}: give it a validation set with "
                f"{library.add_validation}"
            )
        found = [e for e in evaluations if e.dataset == dataset]
        metrics = _ordered([e.metric for e in found])
        if self.metric is not None:
            if self.metric not in metrics:
                raise CallbackError(
                    f"metric={self.metric!r} is not a metric {library.train} computed on "
                    f"{dataset!r} (it computed: {_quoted(metrics)}); pass one of those, or "
                    f"ask {library.name} for it with {library.metric_option}"
                )
            metric = self.metric
        elif len(metrics) == 1 or library.first_metric_is_the_one:
            metric = metrics[0]
        else:
            raise CallbackError(
                f"{dataset!r} has several metrics ({_quoted(metrics)}) and {library.name}'s "
                f"early stopping follows the last one: pass metric= to say which to report, "
                f"e.g. ReportCallback(metric={metrics[-1]!r})"
            )
        chosen = next(e for e in found if e.metric == metric)
        if self.name is None:
            self._refuse_other_direction(trial, chosen, found)
        return dataset, metric

    def _refuse_other_direction(
        self, trial: Trial, chosen: Evaluation, found: Sequence[Evaluation]
    ) -> None:
        """A metric better higher reported as the objective of a study that minimizes
        (or the reverse) would make the method keep the worst trials and stop the best."""
        higher = chosen.higher_is_better
        if higher is None or trial.direction is None:
            return
        if higher == (trial.direction == "maximize"):
            return
        better, fix = ("higher", "maximize") if higher else ("lower", "minimize")
        others = [e.metric for e in found if e.higher_is_better is (not higher)]
        other = f", or report a metric better {'lower' if higher else 'higher'}"
        other += f" (metric={others[0]!r})" if others else ""
        raise CallbackError(
            f"metric {chosen.metric!r} of {chosen.dataset!r} is better {better}, but study "
            f"{trial.study!r} {trial.direction}s its objective: the method would keep the "
            f"worst trials and stop the best. Declare direction={fix!r} in @hp.tune{other}"
        )

    def _refuse_past_budget(self, trial: Trial, step: int) -> None:
        """Rounds past a whole-number budget would be reported past it (an error of
        ``report`` that speaks of epochs and batches): say it in rounds."""
        budget = trial.budget
        if isinstance(budget, int) and step > budget:
            raise CallbackError(
                f"`rounds <= trial.budget` must hold, but {self.library.train} reached "
                f"round {step} of trial {trial.number}, whose budget is {budget} rounds: "
                f"train num_boost_round=len(trial.steps) (the budget less the rounds of the "
                f"model it continues, {self.library.continue_option})"
            )

    def _refuse_a_restart(self, trial: Trial, step: int) -> None:
        """A trial that loaded a checkpoint but trains a booster from round 1 again
        would report the parent's rounds anew and end short of its budget."""
        loaded = trial.loaded_step
        if trial.loaded_a_checkpoint and loaded is not None and step <= loaded:
            raise CallbackError(
                f"trial {trial.number} loaded the booster of round {loaded} "
                f"(trial.load_checkpoint()), but {self.library.train} began again at round "
                f"{step}: pass it as {self.library.continue_option} so that training "
                "continues it"
            )


def value_of(result: Any) -> float:
    """A metric's value as a library gives it: a number, or (mean, std) in cv."""
    if isinstance(result, tuple | list):
        return float(result[0])
    return float(result)

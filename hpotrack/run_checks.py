"""What ``optimize()`` checks of its options before it opens the study, and what it says
of the study once before a run: targets too short for the method (a budget no trial
trains fully, a population that breeds no child, a model that never proposes), and how
many trials a run without ``n_trials`` starts."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import cast

from hpotrack import limits, time_limit
from hpotrack.arguments import takes_no_function
from hpotrack.definition import StudyDefinition
from hpotrack.errors import CallError, HpotrackError, OptionError
from hpotrack.methods.history import History
from hpotrack.records import TrialState
from hpotrack.study import Study
from hpotrack.text import not_a_number

log = logging.getLogger("hpotrack")


def checked_run_options(
    n_trials: int | None,
    n_jobs: int,
    timeout: float | None,
    progress: bool | None,
    options: Sequence[str],
) -> tuple[int | None, int]:
    """Check ``optimize()``'s options (named ``options``, for the message when its first
    is given a function) before the study is opened or its target stored; returns
    ``n_trials`` as a plain int (or None) and how many processes to run (``n_jobs=-1``:
    one per CPU this process may use)."""
    if callable(n_trials):  # Optuna's study.optimize(objective)
        raise CallError(takes_no_function("optimize", options))
    if n_trials is not None:
        n_trials = whole_count("n_trials", n_trials, minimum=0)
    if not (isinstance(n_jobs, Integral) and not isinstance(n_jobs, bool) and n_jobs == -1):
        n_jobs = whole_count("n_jobs", n_jobs, minimum=1, also="(or -1: one per core) ")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, Real) or not timeout > 0
    ):
        raise OptionError(
            f"`timeout > 0` must hold for a number of seconds, but got "
            f"timeout={timeout!r}{not_a_number(timeout)}"
        )
    if progress is not None and not isinstance(progress, bool):
        raise OptionError(
            f"`progress` must be True, False or None (a bar on a terminal), but got "
            f"progress={progress!r}"
        )
    from hpotrack.workers import usable_cpus  # not at import: workers loads multiprocessing

    return n_trials, usable_cpus() if n_jobs == -1 else n_jobs


def whole_count(
    name: str,
    value: object,
    *,
    minimum: int,
    also: str = "",
    error: type[HpotrackError] = OptionError,
) -> int:
    """``value`` as a plain int (numpy's integers too) of at least ``minimum``; else
    ``error`` (a run's option by default, a study setting's for ``@tune``)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise error(
            f"`{name} >= {minimum}` {also}must hold for a whole number, but got "
            f"{name}={value!r}{not_a_number(value)}"
        )
    return int(value)


def checked_stops(
    max_budget: object,
    patience: object,
    good_enough: object,
    trial_timeout: object,
    study: str,
    definition: StudyDefinition,
) -> limits.Stops:
    """``optimize()``'s ``max_budget``, ``patience``, ``good_enough`` and
    ``trial_timeout``, checked (see :func:`check_max_budget`; ``patience`` a whole
    number of at least 1, ``good_enough`` a finite number,
    ``trial_timeout`` a number of seconds above 0, at most
    :data:`~hpotrack.time_limit.MAX_SECONDS`), as the run's
    :class:`~hpotrack.limits.Stops`."""
    check_max_budget(max_budget, study, definition)
    objectives = definition.objectives
    if good_enough is not None and objectives.is_multi:
        raise OptionError(
            f"good_enough stops at one best value, but study {study!r} optimizes "
            f"{objectives.count} objectives ({objectives.describe()}), which have a Pareto "
            "front and no one best value: stop by n_trials, timeout, max_budget or patience "
            "(complete trials without a change of the front)"
        )
    if patience is not None:
        patience = whole_count("patience", patience, minimum=1, also="(complete trials) ")
    if good_enough is not None and (
        isinstance(good_enough, bool)
        or not isinstance(good_enough, Real)
        or not math.isfinite(good_enough)
    ):
        raise OptionError(
            f"`good_enough` must be a finite number (a value of the objective), but got "
            f"good_enough={good_enough!r}{not_a_number(good_enough)}"
        )
    if trial_timeout is not None and (  # above the maximum, setitimer would overflow
        isinstance(trial_timeout, bool)
        or not isinstance(trial_timeout, Real)
        or not 0 < float(trial_timeout) <= time_limit.MAX_SECONDS
    ):
        raise OptionError(
            f"`0 < trial_timeout <= {time_limit.MAX_SECONDS}` must hold for a number of "
            f"seconds (at most 68 years, the longest SIGALRM's timer waits), but got "
            f"trial_timeout={trial_timeout!r}{not_a_number(trial_timeout)}: leave "
            "trial_timeout None for no limit"
        )
    return limits.Stops(
        max_budget=None if max_budget is None else float(cast(Real, max_budget)),
        patience=patience,
        good_enough=None if good_enough is None else float(good_enough),
        trial_timeout=None if trial_timeout is None else float(trial_timeout),
    )


def check_max_budget(max_budget: object, study: str, definition: StudyDefinition) -> None:
    """``max_budget`` is a positive number of steps of a whole-number study budget (the
    definition's: opening the study checks that the stored one is the same), or of the
    whole-number budgets the method gives trials itself (pbt's segments)."""
    if max_budget is None:
        return
    if (
        isinstance(max_budget, bool)
        or not isinstance(max_budget, Real)
        or not float(max_budget) > 0
    ):
        raise OptionError(
            f"`max_budget > 0` must hold (steps of the study's budget, e.g. epochs), but got "
            f"max_budget={max_budget!r}"
        )
    budget = definition.budget
    if budget is None and definition.method.sets_budgets:
        return
    if budget is None or not budget.whole:
        what = "no budget" if budget is None else repr(budget)
        raise OptionError(
            f"max_budget counts the steps trials train (e.g. epochs), but the function "
            f"of study {study!r} declares {what}: "
            "pass budget=hp.Budget(min, max) with whole numbers to @tune, or stop by "
            "n_trials or timeout"
        )


def say_before_run(study: Study, target: int | None, other_stops: bool = False) -> None:
    """What ``optimize()`` says of the study once before a run that stops at ``target``
    (None: when the method is exhausted, or at one of ``other_stops``: a timeout,
    ``max_budget``, ``patience``, ``good_enough``): a target too short for the method,
    or the count of trials that a run without one starts. Nothing when a target is
    reached already: the run says so, and runs nothing."""
    history = study.refresh()
    if target is None:
        _say_how_many_trials(study, history, other_stops)
    elif target > history.n_started:
        _warn_if_none_can_complete(study, history, target)
        _warn_if_target_short(study, history, target)


def _warn_if_none_can_complete(study: Study, history: History, target: int) -> None:
    """Say so when a method that stops trials at rungs cannot train any to the budget's
    max within the target (Optuna's Hyperband with 60 trials trains a few fully; here
    ``Budget(1, 100)`` needs 121 trials before the first)."""
    if study.budget is None:
        return
    needed = study.method.trials_to_complete(history)
    if needed is not None and target < needed and not history.count(TrialState.COMPLETE):
        log.warning(
            "study %r: %s trains a trial to the budget's max (%g) only after about %d "
            "trials (n_trials counts its promotions too), and the target is %d: every "
            "trial may stop early. Run about %d or more",
            study.name,
            study.method.name,
            study.budget.max,
            needed,
            target,
            needed,
        )


def _warn_if_target_short(study: Study, history: History, target: int) -> None:
    """Say so when the method says ``target`` trials are too few for it to do what it
    is for (:meth:`Method.short_target`), before they run."""
    why = study.method.short_target(target, history)
    if why is not None:
        log.warning("study %r: %s", study.name, why)


def _say_how_many_trials(study: Study, history: History, other_stops: bool) -> None:
    """Without a target, say once how many trials the run starts before the method is
    exhausted, where it knows (grid: its cells no trial has); a grid of 10^5 cells ran
    them all without a word of how many. Not when none is left: the run says why. With
    ``other_stops`` that count is at most: one of them may come first."""
    end = limits.method_end(history, study.method)
    if end is None or end <= history.n_started:
        return
    more = end - history.n_started
    so_far = f" ({end:,} in all)" if history.n_started else ""
    log.info(
        "study %r: no n_trials given, so it runs until %s is done%s: %s%s more %s%s; "
        "pass n_trials to stop sooner",
        study.name,
        study.method.deciding(history).name,
        " or another of its stops comes first" if other_stops else "",
        "at most " if other_stops else "",
        f"{more:,}",
        "trial" if more == 1 else "trials",
        so_far,
    )

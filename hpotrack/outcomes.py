"""What a trial's function returned, as the outcome stored for it: its objective (a finite
number), its metrics as plain JSON, a hypergradient checked, or the reason it failed, in
words that say what to return instead."""

from __future__ import annotations

import dataclasses
import math
import reprlib
from collections import Counter
from collections.abc import Mapping
from numbers import Real
from typing import Any

import numpy as np

from hpotrack.claims import Outcome
from hpotrack.errors import TrialError
from hpotrack.jsonable import jsonable, jsonable_key
from hpotrack.objectives import Objectives
from hpotrack.params import Float
from hpotrack.records import TrialState
from hpotrack.space import Space
from hpotrack.trial import Trial


def parse_result(result: object, objectives: Objectives) -> Outcome:
    """Turn what the function returned into an outcome; bad values fail the trial.

    Metrics are stored as plain JSON (numpy values as numbers and lists, other objects
    as their ``repr``), so nothing the function returns can stop the study. The stored
    value is the (first) objective's; with several, every one must be a finite number.
    """
    objective = objectives.metrics[0]
    if isinstance(result, Mapping):
        metrics = jsonable(dict(result))
        if len(metrics) < len(result):
            texts = Counter(jsonable_key(k) for k in result)
            clash = next(text for text, count in texts.items() if count > 1)
            return _failed(
                metrics,
                f"the function returned a dict with the key {clash!r} twice once keys "
                "are text (e.g. 1 and '1'); rename one",
            )
        for name in objectives.metrics:
            if name not in metrics:
                names = ", ".join(map(repr, metrics)) or "none"
                return _failed(
                    metrics,
                    f"the function returned a dict without the objective {name!r} "
                    f"(keys: {names}); {_objective_fix(metrics, name, objectives)}",
                )
        found = {jsonable_key(k): v for k, v in result.items()}
    elif objectives.is_multi or objectives.constrained:
        needed = (*objectives.metrics, *(c.metric for c in objectives.constraints))
        has = f"{objectives.count} objectives" if objectives.is_multi else "constraints"
        return _failed(
            {objective: jsonable(result)},
            f"the function returned {reprlib.repr(result)}, but the study has {has}: "
            f"return a dict with a number for each of {', '.join(map(repr, needed))}",
        )
    else:
        found = {objective: result}
        metrics = {objective: jsonable(result)}
    try:
        numbers = [_number(found[name], name) for name in objectives.metrics]
        for constraint in objectives.constraints:
            _number(found.get(constraint.metric, _ABSENT), constraint.metric, "constraint metric")
    except _NotANumber as exc:
        return _failed(metrics, str(exc))
    return Outcome(TrialState.COMPLETE, numbers[0], metrics)


_ABSENT = object()  # a constraint metric the returned dict lacks


class _NotANumber(Exception):
    """An objective's value is no finite number; the message says what came back."""


def _number(value: object, objective: str, kind: str = "objective") -> float:
    """``value`` of ``objective`` (a ``kind`` of metric) as a finite float
    (:class:`_NotANumber` if it is not)."""
    if value is _ABSENT:
        raise _NotANumber(
            f"the function returned a dict without the {kind} {objective!r}: the study's "
            "constraints are judged on it, so return it"
        )
    if isinstance(value, np.ndarray) and value.ndim == 0:  # np.mean(...) of an array, say
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, Real):
        raise _NotANumber(
            f"the {kind} {objective!r} must be a number, but the "
            f"function returned {value!r} ({type(value).__name__})"
        )
    try:
        number = float(value)
    except OverflowError:
        raise _NotANumber(f"the {kind} {objective!r} is too large for a float") from None
    if not math.isfinite(number):
        raise _NotANumber(
            f"the {kind} {objective!r} is {value!r}: return a finite "
            "number (a large penalty for a diverged run)"
        )
    return number


def _failed(metrics: dict[str, Any], error: str) -> Outcome:
    return Outcome(TrialState.FAILED, None, metrics, error)


def _objective_fix(metrics: Mapping[str, Any], objective: str, objectives: Objectives) -> str:
    """What to do about a returned dict without the objective: name the key that looks
    like it ("loss", as Hyperopt and Ray return it, or the only number)."""
    if objectives.is_multi:
        return "return it, or change objective= of @hp.tune(...)"
    numbers = [k for k, v in metrics.items() if isinstance(v, Real) and not isinstance(v, bool)]
    likely = "loss" if "loss" in numbers else numbers[0] if len(numbers) == 1 else None
    if likely is None:
        return "return it, or set objective= to one of the keys"
    return f"set objective={likely!r} in @hp.tune(...) to optimize it, or return {objective!r}"


def checked_hypergradient(result: object, trial: Trial, outcome: Outcome, space: Space) -> Outcome:
    """A complete trial's hypergradient (returned as ``"hypergrad"`` or given to
    :meth:`Trial.report_hypergradient`), checked and stored with its metrics as floats.
    It must name hyperparameters and give finite numbers, and a derivative for every
    continuous one: a misspelt name, a NaN or a missing one would count as a zero
    gradient, and the descent would stall without a word."""
    if isinstance(result, Mapping) and "hypergrad" in result:
        given = result["hypergrad"]
        if not isinstance(given, Mapping):
            error = f"'hypergrad' must be a dict of hyperparameter: number, but got {given!r}"
            return _failed(dict(outcome.metrics), error)
        try:
            trial.report_hypergradient(given)
        except TrialError as exc:
            return _failed(dict(outcome.metrics), f"the returned {exc}")  # as reported
    if trial.hypergradient is None:
        return outcome
    missing = [
        name
        for name, param in space.items()
        if isinstance(param, Float) and param.step is None and name not in trial.hypergradient
    ]
    if missing:
        return _failed(
            dict(outcome.metrics),
            f"the hypergradient has no derivative for {', '.join(map(repr, missing))}: give "
            "d objective / d hyperparameter for every continuous one (0.0 where there is "
            "none), or the descent never moves it",
        )
    metrics = {**outcome.metrics, "hypergrad": trial.hypergradient}
    return dataclasses.replace(outcome, metrics=metrics)


def stopped_outcome(trial: Trial, returned: Outcome) -> Outcome:
    """A trial its method stopped that returned instead of raising :class:`Pruned`
    (it checked ``should_prune()``, or caught the exception) before training its whole
    budget: stored as ``pruned`` with its last reported value, as if it had raised, and
    with the metrics it returned when they were valid. Stored ``complete``, a value from
    part of the budget would rank with full ones, and a halving method could never
    promote it."""
    metrics = returned.metrics if returned.state is TrialState.COMPLETE else {}
    return Outcome(TrialState.PRUNED, trial.last_value, metrics)

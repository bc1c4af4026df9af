"""An Optuna study, as the readers of Optuna's storages give it (its database:
:mod:`hpotrack.transfer.optuna_db`; its journal file: :mod:`hpotrack.transfer.optuna_journal`),
turned into an hpotrack export, so that ``hpotrack import`` loads it through the same
checks and single transaction as an export (:mod:`hpotrack.transfer`). Optuna need not be
installed.

What the Optuna study gives:

- **The space**, from the distribution stored with each trial's parameters. Optuna's
  define-by-run code may ask for another range of the same parameter in another trial;
  the ranges are merged (a step kept while the ranges share its grid), while another kind
  of distribution (float, then int; log, then not) is refused; a range of one value
  (``suggest_int("x", 3, 3)``) is ``Choice([3])``. A parameter set in only
  some trials (suggested in an ``if`` branch) is conditional: its ``when`` names the
  categorical parameter whose values tell the trials with it from those without (the
  first in the space's order that does).
- **Each trial**: its number, state (``WAITING`` is queued, ``FAIL`` failed), params,
  value, intermediate values as the objective's curve, start and end, and its numeric
  user attributes as metrics. A trial enqueued with ``study.enqueue_trial`` has origin
  ``enqueued``; one that ``RetryFailedTrialCallback`` queued again has a ``retried`` edge
  to the trial it repeats. Optuna keeps no error message for a failed trial.
- **The study**: its name, direction and objective name (``study.set_metric_names``, else
  ``"value"``). Optuna does not store the sampler, so the study's method is ``tpe``
  (Optuna's default; the ``method=`` of the decorator that continues the study is the one
  used), and its seed is drawn as for a new study.

Not imported: multi-objective studies (hpotrack optimizes one objective), system
attributes, heartbeats, non-numeric user attributes.
"""

from __future__ import annotations

import functools
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from hpotrack.errors import HpotrackError
from hpotrack.methods import TPE
from hpotrack.methods.history import History
from hpotrack.params import Choice, Float, Int, Param
from hpotrack.space import Space, Value
from hpotrack.transfer.format import FORMAT, VERSION, TransferError

_STATES = {
    "COMPLETE": "complete",
    "PRUNED": "pruned",
    "FAIL": "failed",
    "RUNNING": "running",
    "WAITING": "queued",
}
FAILED = "failed in Optuna (Optuna keeps no error message)"
# Optuna's distributions by the name its JSON gives them, as (kind, log); the old names
# (Optuna 2) carry their log in the name and a step as q or step
_KINDS = {
    "FloatDistribution": ("float", None),
    "UniformDistribution": ("float", False),
    "LogUniformDistribution": ("float", True),
    "DiscreteUniformDistribution": ("float", False),
    "IntDistribution": ("int", None),
    "IntUniformDistribution": ("int", False),
    "IntLogUniformDistribution": ("int", True),
    "CategoricalDistribution": ("categorical", False),
}


@dataclass(frozen=True)
class Distribution:
    """One of Optuna's distributions: ``kind`` float, int or categorical; its range or
    its choices."""

    kind: str
    log: bool = False
    step: float | None = None
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Value, ...] = ()

    def value(self, internal: float) -> Value:
        """A parameter's value from Optuna's stored float (a categorical's is the index
        of its choice)."""
        if self.kind == "categorical":
            return self.choices[int(internal)]
        return round(internal) if self.kind == "int" else float(internal)

    def shape(self) -> str:
        """What two distributions of one parameter must share to be merged (as Optuna
        requires of them too)."""
        return f"{self.kind}{', log' if self.log else ''}"

    def holding(self, internal: float) -> Distribution:
        """The range of just the value Optuna stored (a categorical: itself), for a
        value outside its distribution: ``enqueue_trial({"x": 5.0})`` runs and stores
        x = 5.0 whatever the range of ``suggest_float("x", 0, 1)``. Within a step's
        float noise of the range, the value is in it (hpotrack's grid takes it)."""
        slack = 0.0 if self.step is None else self.step * 1e-9
        if self.kind == "categorical" or self.low - slack <= internal <= self.high + slack:
            return self
        return replace(self, low=internal, high=internal)

    def compatible(self, later: Distribution) -> bool:
        """Whether Optuna lets ``later`` follow this distribution of a parameter in one
        study (its ``check_distribution_compatibility``): the same kind and log and, for a
        categorical, the same choices as Python compares them (1 == True == 1.0)."""
        if self.shape() != later.shape():
            return False
        return self.kind != "categorical" or (
            len(self.choices) == len(later.choices)
            and all(_equal_or_nan(a, b) for a, b in zip(self.choices, later.choices, strict=True))
        )


def _equal_or_nan(a: Value, b: Value) -> bool:
    """Two choices equal as Optuna compares them: ``==``, or both NaN."""
    return a == b or (a != a and b != b)


@dataclass
class OptunaTrial:
    """One trial of an Optuna study: ``state`` is Optuna's name for it (``COMPLETE``...),
    ``value`` may be infinite, a curve point's value is None where it was not finite."""

    number: int
    state: str
    started: float | None  # Unix seconds
    finished: float | None
    params: dict[str, tuple[float, Distribution]] = field(default_factory=dict)  # internal
    value: float | None = None
    curve: list[list[Any]] = field(default_factory=list)  # [step, value, None]
    attributes: dict[str, Any] = field(default_factory=dict)  # the user's
    system: dict[str, Any] = field(default_factory=dict)  # Optuna's


@dataclass
class OptunaStudy:
    """What an Optuna storage holds of one study."""

    name: str
    directions: list[str]  # "MINIMIZE" or "MAXIMIZE", one per objective
    metric_names: list[str] | None
    trials: list[OptunaTrial]


def choose_study(names: Sequence[str], wanted: str | None, path: Path, what: str) -> str:
    """The study to import of those the Optuna ``what`` (database, journal) at ``path``
    holds: ``wanted``, else the only one."""
    listed = ", ".join(map(repr, names)) if names else "none"
    if wanted is not None:
        if wanted not in names:
            raise TransferError(f"{path} has no Optuna study {wanted!r}; it has {listed}")
        return wanted
    if len(names) != 1:
        which = f"{len(names)} studies: {listed}" if names else "no study"
        raise TransferError(
            f"{path} is an Optuna {what} with {which}; "
            + ("choose one with --from NAME" if names else "there is nothing to import")
        )
    return names[0]


def timestamp(text: str | None) -> float | None:
    """An Optuna time stamp in Unix seconds: its database's have no zone (the local time
    of the machine that wrote them), its journal's are in UTC with the zone."""
    return None if text is None else datetime.fromisoformat(text).timestamp()


@functools.lru_cache(maxsize=4096)
def distribution(param: str, text: str) -> Distribution:
    """A parameter's distribution from Optuna's JSON (its full form, or the abbreviated
    one Optuna also reads); each text parsed once, as every trial stores the same."""
    raw = json.loads(text)
    if "name" in raw:
        kind, log = _KINDS.get(raw["name"], (None, None))
        attributes = raw.get("attributes", {})
    else:
        kind, log, attributes = raw.get("type"), None, raw
    if kind == "categorical":
        return Distribution("categorical", choices=tuple(attributes["choices"]))
    if kind not in ("float", "int"):
        raise TransferError(
            f"cannot import: parameter {param!r} has an unknown distribution {text}"
        )
    step = attributes.get("step", attributes.get("q"))
    return Distribution(
        kind,
        log=bool(attributes.get("log", False)) if log is None else log,
        step=None if step is None else float(step),
        low=attributes["low"],
        high=attributes["high"],
    )


def to_export(study: OptunaStudy) -> dict[str, Any]:
    """The study as an hpotrack export, for :func:`~hpotrack.transfer.validate_export`."""
    if len(study.directions) != 1:
        raise TransferError(
            f"Optuna study {study.name!r} has {len(study.directions)} objectives: hpotrack "
            "optimizes one, so a multi-objective study cannot be imported"
        )
    names = study.metric_names
    objective = names[0] if names and isinstance(names[0], str) else "value"
    direction = study.directions[0].lower()
    space = _space(study.trials)
    seed = random.randrange(2**31)  # as for a new study: Optuna does not store its sampler's
    history = History(space, direction, seed)
    return {
        "format": FORMAT,
        "version": VERSION,
        "study": {
            "name": study.name,
            "space": space.to_json(),
            "method": TPE().to_json(),
            "direction": direction,
            "objective": objective,
            "seed": seed,
        },
        "trials": [_trial(t, objective, space, history) for t in study.trials],
    }


def _space(trials: Sequence[OptunaTrial]) -> Space:
    """The space every trial's parameters fit: each parameter's ranges merged (with the
    values themselves), and a ``when`` for those set in only some trials."""
    merged: dict[str, Distribution] = {}
    for trial in trials:
        for param, (internal, distribution) in trial.params.items():
            held = _merge(param, distribution, distribution.holding(internal))
            merged[param] = _merge(param, merged.get(param), held)
    if not merged:
        raise TransferError("cannot import: the Optuna study has no trial with parameters")
    values = [{p: d.value(internal) for p, (internal, d) in t.params.items()} for t in trials]
    ran = [v for v, t in zip(values, trials, strict=True) if t.state in ("COMPLETE", "PRUNED")]
    params: dict[str, Param] = {}
    for param, distribution in merged.items():
        when = _condition(param, values, ran, merged)
        try:
            params[param] = _param(distribution, when)
        except HpotrackError as exc:
            raise TransferError(f"cannot import: parameter {param!r}: {exc}") from None
    try:
        return Space(params)
    except HpotrackError as exc:  # a name hpotrack cannot take ('trial', one with a space)
        raise TransferError(
            f"cannot import: {exc}. hpotrack cannot take that name from the Optuna study: "
            "rename the parameter in a copy of the Optuna file, then import the copy"
        ) from None


def _merge(param: str, seen: Distribution | None, new: Distribution) -> Distribution:
    """Two distributions of one parameter made one that holds the values of both: the
    union of the ranges; a step only while every trial had the same step on one grid
    (lows a whole number of steps apart; else a float's is continuous and an int's 1),
    as Optuna allows a step to change."""
    if seen is None or seen == new:  # the common case: one distribution in every trial
        return new
    if seen.shape() != new.shape():
        raise TransferError(
            f"cannot import: parameter {param!r} is {seen.shape()} in one trial and "
            f"{new.shape()} in another; an hpotrack space gives each parameter one kind"
        )
    if seen.kind == "categorical":
        return Distribution(
            "categorical",
            choices=(
                *seen.choices,
                *(c for c in new.choices if not any(_same(c, s) for s in seen.choices)),
            ),
        )
    if seen.step == new.step and _on_grid(new.low - seen.low, seen.step):
        step = seen.step
    else:
        step = 1.0 if seen.kind == "int" else None
    return Distribution(seen.kind, seen.log, step, min(seen.low, new.low), max(seen.high, new.high))


def _on_grid(offset: float, step: float | None) -> bool:
    """Whether two ranges whose lows are ``offset`` apart share the grid of ``step``
    (``suggest_int("units", 32, 256, step=32)`` narrowed to 64..256 keeps its step)."""
    if step is None:
        return True
    steps = offset / step
    return abs(steps - round(steps)) <= 1e-9 * max(1.0, abs(steps))


def _same(a: Value, b: Value) -> bool:
    """Whether two choices are one option (1 and True are not, as for ``hp.Choice``)."""
    return type(a) is type(b) and a == b


def _condition(
    param: str,
    values: Sequence[Mapping[str, Value]],
    ran: Sequence[Mapping[str, Value]],
    merged: Mapping[str, Distribution],
) -> dict[str, list[Value]] | None:
    """``when`` for a parameter that the trials that ran (``ran``, of all trials'
    ``values``) set only sometimes: the first categorical parameter present in more
    trials, whose values in the trials with ``param`` (any trial: a branch whose every
    trial failed has it in failed ones only) never occur in those that ran without it
    (a failed trial may have stopped before it)."""
    having = [v for v in values if param in v]
    if all(param in v for v in ran):
        return None
    for parent, distribution in merged.items():
        if parent == param or distribution.kind != "categorical":
            continue
        if not all(parent in v for v in having):
            continue
        inside = [v[parent] for v in having]
        outside = [v[parent] for v in ran if param not in v and parent in v]
        if outside and not any(_same(a, b) for a in inside for b in outside):
            return {parent: [c for c in distribution.choices if any(_same(c, x) for x in inside)]}
    raise TransferError(
        f"cannot import: parameter {param!r} is set in only some trials, and no categorical "
        "parameter's value says in which; an hpotrack parameter is either in every trial "
        "or in those where a Choice has given values (when=, docs/spaces.md), so this "
        "study has no hpotrack space"
    )


def _param(distribution: Distribution, when: dict[str, list[Value]] | None) -> Param:
    """The hpotrack parameter of a merged distribution; one of a single value (Optuna's
    ``suggest_int("x", 3, 3)``) is a Choice of it, as hpotrack spells a fixed value."""
    if distribution.kind == "categorical":
        return Choice(list(distribution.choices), when=when)
    low, high, log = distribution.low, distribution.high, distribution.log
    if low == high:
        return Choice([distribution.value(low)], when=when)
    if distribution.kind == "int":
        step = 1 if distribution.step is None else int(distribution.step)
        return Int(int(low), int(high), log=log, step=step, when=when)
    return Float(float(low), float(high), log=log, step=distribution.step, when=when)


def _trial(trial: OptunaTrial, objective: str, space: Space, history: History) -> dict[str, Any]:
    """One trial of the export."""
    params = {p: d.value(internal) for p, (internal, d) in trial.params.items()}
    system = trial.system
    state, value, error = _outcome(trial)
    if state == "queued":  # the values enqueue_trial was given; the others drawn, as enqueue's
        params = _queued(trial.number, system.get("fixed_params") or params, space, history)
    if state == "running":
        try:
            space.validate(params)
        except HpotrackError:  # stopped before all its parameters were set
            state, error = "failed", "running in Optuna when imported, before it had all its params"
    retried = system.get("failed_trial")
    parents = [{"parent": retried, "kind": "retried"}] if isinstance(retried, int) else []
    metrics = {
        key: number
        for key, number in trial.attributes.items()
        if isinstance(number, int | float)
        and not isinstance(number, bool)
        and math.isfinite(number)
    }
    return {
        "number": trial.number,
        "state": state,
        "params": params,
        "value": value,
        "metrics": {**metrics, objective: value} if value is not None else metrics,
        "origin": "retried" if parents else "enqueued" if "fixed_params" in system else "sampled",
        "started": trial.started,
        "finished": trial.finished,
        "error": error,
        "parents": parents,
        "curve": {objective: trial.curve} if trial.curve else None,
    }


def _outcome(trial: OptunaTrial) -> tuple[str, float | None, str | None]:
    """hpotrack's state, value and error for the state and value Optuna stored."""
    state, value = _STATES.get(trial.state, "failed"), trial.value
    if state == "pruned":
        if value is None and trial.curve:
            value = trial.curve[-1][1]  # where the pruner stopped it
        finite = value is not None and math.isfinite(value)
        return state, value if finite else None, None  # a diverged last report: no value
    if value is not None and not math.isfinite(value):
        error = f"its value in Optuna was {value!r}, and a trial's value must be finite"
        return "failed", None, error
    if state == "complete" and value is None:
        return "failed", None, "complete in Optuna without a value"
    return state, value, FAILED if state == "failed" else None


def _queued(
    number: int, given: Mapping[str, Any], space: Space, history: History
) -> dict[str, Value]:
    """A waiting trial's params: the values it was enqueued with, the others drawn as
    ``study.enqueue`` draws them."""
    try:
        valid = space.validate({p: v for p, v in given.items() if p in space}, partial=True)
    except HpotrackError as exc:
        raise TransferError(f"cannot import: trial {number}, enqueued in Optuna: {exc}") from None
    return space.complete(valid, history.uniform(number, len(space)))

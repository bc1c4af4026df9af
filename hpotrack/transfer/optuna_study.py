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
  (Optuna's default, for several objectives too: from Optuna 4.0 ``Study`` falls back to
  ``TPESampler()`` whatever its directions, as the installed Optuna 5.0's
  ``optuna/study/study.py`` does, where Optuna 3's ``create_study`` chose NSGA-II for
  several; the ``method=`` of the decorator that continues the study is the one used),
  and its seed is drawn as for a new study.
- **Several objectives** (``directions=[...]``): each with its direction, in Optuna's
  order, named by ``study.set_metric_names`` or else ``values_0``, ``values_1``, ...
  (the columns of Optuna's ``trials_dataframe``), as the export's ``objectives``. The
  database has a ``trial_values`` row per objective (``objective`` its index), the
  journal a ``values`` list. A complete trial's value is the first objective's and its
  metrics hold every objective's; one whose value of some objective is missing or
  infinite is failed, the error naming that objective. Optuna prunes no trial of several
  objectives (``Trial.report`` refuses them), but one told ``PRUNED`` imports as a pruned
  trial of one objective does (the first objective's value, else its curve's last: in
  practice none).
- **Constraints**: a study any of whose trials stored constraint values (a sampler's
  ``constraints_func=``, or ``trial.set_constraint`` from Optuna 5.0: read as
  :mod:`hpotrack.transfer.optuna_constraints` tells) is imported with the constraints
  ``constraint_0``, ``constraint_1``, ... (``constraint_KEY`` for ``set_constraint(KEY,
  ...)``), each ``hp.Constraint(name, at_most=0.0)`` as Optuna counts a value ``<= 0`` met,
  and each trial's values among its metrics (a user attribute of the same name gives way).
  ``study.best`` is then the best feasible trial and ``study.best_trials`` the front of
  the feasible ones, as Optuna's ``study.best_trial`` and ``best_trials`` are from
  Optuna 4.0 (its pull request #5426; before, ``best_trial`` ignored constraints). A
  complete trial without a finite value of some constraint (one added by hand with
  ``study.add_trial``, or whose ``constraints_func`` raised) is failed, the error naming
  that constraint: Optuna counts a missing value as met, hpotrack needs each to tell.

Not imported: other system attributes, heartbeats, non-numeric user attributes.
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

from hpotrack.constraints import Constraint
from hpotrack.errors import HpotrackError
from hpotrack.methods import TPE
from hpotrack.methods.history import History
from hpotrack.objectives import Objectives
from hpotrack.params import Choice, Float, Int, Param
from hpotrack.space import Space, Value
from hpotrack.transfer import optuna_constraints
from hpotrack.transfer.format import FORMAT, VERSION, TransferError

_STATES = {
    "COMPLETE": "complete",
    "PRUNED": "pruned",
    "FAIL": "failed",
    "RUNNING": "running",
    "WAITING": "queued",
}
METRIC_NAMES = "study:metric_names"  # the study system attribute of set_metric_names
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
    ``values`` its value of each objective by the objective's index (0 the first; one
    may be infinite, or missing), a curve point's value is None where it was not finite."""

    number: int
    state: str
    started: float | None  # Unix seconds
    finished: float | None
    params: dict[str, tuple[float, Distribution]] = field(default_factory=dict)  # internal
    values: dict[int, float | None] = field(default_factory=dict)  # by objective index
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
    names, directions = _objectives(study)
    objective, direction = names[0], directions[0]
    optimizing = Objectives(names, directions, _constraints(study, names))
    columns = {  # null (left out) for one objective, for no constraint
        "objectives": optimizing.stored_objectives(),
        "constraints": optimizing.stored_constraints(),
    }
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
            **{key: stored for key, stored in columns.items() if stored is not None},
        },
        "trials": [_trial(t, optimizing, space, history) for t in study.trials],
    }


def _objectives(study: OptunaStudy) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Each objective's name and direction. One objective is named by
    ``study.set_metric_names`` when set, else ``"value"``; several by their metric names,
    else ``values_0``, ``values_1``, ... (the columns of Optuna's ``trials_dataframe``).
    Metric names that cannot name hpotrack objectives (two alike, one empty) are refused,
    as a name made up in their place would hide the one the user gave."""
    directions = tuple(direction.lower() for direction in study.directions)
    names = study.metric_names
    if len(directions) == 1:
        return (names[0] if names and isinstance(names[0], str) else "value",), directions
    if names is None:
        return tuple(f"values_{index}" for index in range(len(directions))), directions
    try:
        Objectives(tuple(names), directions)
    except HpotrackError as exc:
        raise TransferError(
            f"cannot import: the Optuna study's metric names {names!r} cannot name its "
            f"{len(directions)} objectives ({exc}); give it others with "
            "study.set_metric_names([...]) in a copy of the Optuna file, then import the copy"
        ) from None
    return tuple(names), directions


def _constraints(study: OptunaStudy, objectives: Sequence[str]) -> tuple[Constraint, ...]:
    """The study's constraints (:mod:`hpotrack.transfer.optuna_constraints`), each on a
    metric that is none of its objectives (whose value it would replace)."""
    found = optuna_constraints.study_constraints(trial.system for trial in study.trials)
    for constraint in found:
        if constraint.metric in objectives:
            raise TransferError(
                f"cannot import: the Optuna study's constraint {constraint.metric!r} has the "
                f"name of one of its objectives {tuple(objectives)!r}; give the objectives "
                "others with study.set_metric_names([...]) in a copy of the Optuna file, "
                "then import the copy"
            )
    return found


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


def _trial(
    trial: OptunaTrial, optimizing: Objectives, space: Space, history: History
) -> dict[str, Any]:
    """One trial of the export; its value is the first objective's, and its metrics hold
    every objective's value and every constraint's that it has. A complete trial without
    a finite value of every constraint is failed, as one without an objective's is."""
    params = {p: d.value(internal) for p, (internal, d) in trial.params.items()}
    system = trial.system
    state, scored, error = _outcome(trial, optimizing.metrics)
    limits, lacking = optuna_constraints.trial_metrics(optimizing.constraints, system)
    if state == "complete" and lacking is not None:
        state, scored, error = "failed", {}, lacking
    objective = optimizing.metrics[0]
    value = scored.get(objective)
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
        "metrics": {**metrics, **limits, **scored},
        "origin": "retried" if parents else "enqueued" if "fixed_params" in system else "sampled",
        "started": trial.started,
        "finished": trial.finished,
        "error": error,
        "parents": parents,
        "curve": {objective: trial.curve} if trial.curve else None,
    }


def _outcome(
    trial: OptunaTrial, objectives: Sequence[str]
) -> tuple[str, dict[str, float], str | None]:
    """hpotrack's state, the objectives' values (by name) and error for the state and
    values Optuna stored. A complete trial must have a finite value of every objective,
    or it is failed with the first one it lacks; a pruned one has the first objective's
    value, or else its curve's last (Optuna stores none for a trial of several)."""
    state = _STATES.get(trial.state, "failed")
    if state == "pruned":
        value = trial.values.get(0)
        if value is None and trial.curve:
            value = trial.curve[-1][1]  # where the pruner stopped it
        if value is None or not math.isfinite(value):  # diverged, or never reported
            return state, {}, None
        return state, {objectives[0]: value}, None
    scored: dict[str, float] = {}
    for index, name in enumerate(objectives):
        value = trial.values.get(index)
        which = f" of objective {name!r}" if len(objectives) > 1 else ""
        if value is not None and not math.isfinite(value):
            error = f"its value{which} in Optuna was {value!r}, and a trial's value must be finite"
            return "failed", {}, error
        if state == "complete" and value is None:
            return "failed", {}, f"complete in Optuna without a value{which}"
        if value is not None:
            scored[name] = value
    return state, scored, FAILED if state == "failed" else None


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

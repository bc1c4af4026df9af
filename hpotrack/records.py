"""The plain values stored per trial: states, origins, lineage edges and trial records.

These are what the store returns, what methods read and what users get from ``study.trials``.
Their string values are stored in the database, so they are part of the file format.
"""

from __future__ import annotations

import itertools
import math
import reprlib
import sys
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic

from hpotrack.errors import MethodError
from hpotrack.options import set_whole

if TYPE_CHECKING:  # a default (PEP 696): a bare `TrialRecord` is TrialRecord[float | None]
    from typing_extensions import TypeVar

    V = TypeVar("V", bound=float | None, covariant=True, default=float | None)
else:
    from typing import TypeVar

    V = TypeVar("V", covariant=True)


class TrialState(str, Enum):
    """Life cycle of a trial: queued -> running -> complete | pruned | failed."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETE = "complete"
    PRUNED = "pruned"
    FAILED = "failed"

    @property
    def is_finished(self) -> bool:
        """Whether the trial has ended: complete, pruned or failed."""
        return self in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED)

    def __str__(self) -> str:
        return self.value


class Origin(str, Enum):
    """Where a trial's parameters came from (DESIGN principle 5: lineage is data)."""

    SAMPLED = "sampled"
    GRID = "grid"
    ENQUEUED = "enqueued"
    MANUAL = "manual"
    PROMOTED = "promoted"
    MUTATED = "mutated"
    CROSSOVER = "crossover"
    EXPLOITED = "exploited"
    CONTINUED = "continued"
    GRADIENT_STEP = "gradient-step"
    RETRIED = "retried"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Edge:
    """A lineage edge from a parent trial (by number) to the trial that holds it."""

    parent: int
    kind: str
    step: int | None = None
    detail: str | None = None

    def __post_init__(self) -> None:
        """A method's proposal builds edges: a bad one is a MethodError (a ValueError too)."""
        if type(self.parent) is not int or self.parent < 0:  # reads build many: fast path
            set_whole(self, "parent", 0)
        if not isinstance(self.kind, str) or not self.kind:
            raise MethodError(
                f"an edge needs a kind (non-empty text, e.g. 'crossover' or 'retried'), "
                f"but got kind={self.kind!r}"
            )


FROZEN_TRIAL_NAMES = {  # what Optuna's FrozenTrial calls what a TrialRecord has
    "intermediate_values": "study.curve(number) gives them, {metric: [(step, value), ...]}",
    "user_attrs": "every metric the function returned is in .metrics",
    "datetime_start": ".started, in Unix seconds (study.to_dataframe() gives datetimes)",
    "datetime_complete": ".finished, in Unix seconds (study.to_dataframe() gives datetimes)",
    "values": "study.values(trial), each objective's value (.value: the first; .metrics: all)",
}


@dataclass(frozen=True)
class TrialRecord(Generic[V]):
    """One stored trial as users and methods see it. Times are Unix seconds.

    ``V`` is the type of :attr:`value`: ``float | None`` (None until the trial has a
    value), ``float`` for :attr:`Study.best`, which always has one. ``params`` holds
    each parameter's value, of the type its space gives it (a float, an int, a Choice's
    option): ``Any`` to type checkers, as a union of those types made every read need a
    cast (``float(params["lr"])`` was refused: None is a Choice's option)."""

    number: int
    state: TrialState
    params: dict[str, Any]
    value: V = None  # type: ignore[assignment]  # a V of the default, float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    budget: float | None = None
    origin: str = Origin.SAMPLED.value
    parents: tuple[Edge, ...] = ()
    started: float | None = None
    finished: float | None = None
    error: str | None = None
    claim: str | None = None
    host: str | None = None
    pid: int | None = None
    rung: int | None = None
    bracket: int | None = None
    checks: Mapping[int, float] = field(default_factory=dict)  # see hpotrack.checkmap
    note: str | None = None
    trained: int | None = None  # budget steps trained (e.g. epochs); None: not counted
    # the registered name of the method whose ask proposed it ("tpe"), and of the study's
    # method that handed the ask to that one ("auto"); None for a trial no method
    # proposed (enqueued, manual, retried) or stored before hpotrack recorded it
    method: str | None = None
    chosen_by: str | None = None

    @classmethod
    def from_fields(cls, values: dict[str, Any]) -> TrialRecord:
        """A record from a value for every field, built without the dataclass
        ``__init__`` (which sets each of the 21 fields through ``object.__setattr__``,
        about 4x slower): the study builds one per trial changed, in every process."""
        if values.keys() != _TRIAL_FIELDS:
            missing, extra = _TRIAL_FIELDS - values.keys(), values.keys() - _TRIAL_FIELDS
            raise TypeError(f"TrialRecord needs {sorted(missing)}, has no {sorted(extra)}")
        record = object.__new__(cls)
        record.__dict__.update(values)
        return record

    def __repr__(self) -> str:
        """Number, state, params and value, then the other fields that are set, long ones
        shortened: a trial that returned a curve of 2,000 losses, or failed with a
        traceback, prints in a few lines (``metrics``, ``error`` hold them whole)."""
        parts = [f"number={self.number!r}", f"state={self.state.value!r}"]
        parts += [f"params={self.params!r}", f"value={self.value!r}"]
        for name, default in _OTHER_DEFAULTS.items():
            value = getattr(self, name)
            if value != default:
                parts.append(f"{name}={_SHORT.repr(value)}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def replace(self, **changes: Any) -> TrialRecord:
        """A copy with ``changes``: :func:`dataclasses.replace` at a third of its cost
        (see :meth:`from_fields`)."""
        if not changes.keys() <= _TRIAL_FIELDS:
            raise TypeError(f"TrialRecord has no field {sorted(changes.keys() - _TRIAL_FIELDS)}")
        record = object.__new__(type(self))
        record.__dict__.update(self.__dict__)
        record.__dict__.update(changes)
        return record

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish, None while not finished."""
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started

    if not TYPE_CHECKING:  # mypy must still catch a misspelt attribute

        def __getattr__(self, name: str) -> Any:
            """Only for names a record lacks: Optuna's ``FrozenTrial`` names
            (``intermediate_values``) name hpotrack's."""
            hint = f"; {FROZEN_TRIAL_NAMES[name]}" if name in FROZEN_TRIAL_NAMES else ""
            raise AttributeError(f"'TrialRecord' object has no attribute {name!r}{hint}")

    @property
    def stopped_from_outside(self) -> bool:
        """Whether it failed because it was stopped, not of its own: its worker lost
        (:mod:`hpotrack.recovery` says "worker lost: ..."), Ctrl-C or SIGTERM (the
        runner's "interrupted ..."), or it was running when its study was exported (an
        import). Run again as it was, it may well complete."""
        reason = self.error or ""
        return self.state is TrialState.FAILED and reason.startswith(STOPPED_FROM_OUTSIDE)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready plain dict (stable keys), as ``Study.records()`` returns."""
        return {
            "number": self.number,
            "state": self.state.value,
            "params": dict(self.params),
            "value": self.value,
            "metrics": dict(self.metrics),
            "budget": self.budget,
            "origin": self.origin,
            "parents": [
                {"parent": e.parent, "kind": e.kind, "step": e.step, "detail": e.detail}
                for e in self.parents
            ],
            "started": self.started,
            "finished": self.finished,
            "duration": self.duration,
            "error": self.error,
            "host": self.host,
            "pid": self.pid,
            "rung": self.rung,
            "bracket": self.bracket,
            "checks": {str(step): value for step, value in self.checks.items()},
            "note": self.note,
            "trained": self.trained,
            "method": self.method,
            "chosen_by": self.chosen_by,
        }


_TRIAL_FIELDS = frozenset(f.name for f in fields(TrialRecord))
_OTHER_DEFAULTS = {  # what a record's repr leaves out when it is the field's default
    f.name: f.default if f.default_factory is MISSING else f.default_factory()
    for f in fields(TrialRecord)
    if f.name not in ("number", "state", "params", "value")
}


class _Short(reprlib.Repr):
    """``reprlib``'s shortened reprs, dicts in their own order (the order the function
    returned its metrics), not sorted."""

    def repr_dict(self, x: dict[Any, Any], level: int) -> str:
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        items = [
            f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}"
            for k, v in itertools.islice(x.items(), self.maxdict)
        ]
        return "{" + ", ".join(items + ["..."] * (len(x) > self.maxdict)) + "}"


_SHORT = _Short()  # keyword arguments only from Python 3.12
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxtuple = 3, 12, 8, 8
_SHORT.maxstring = _SHORT.maxother = 160
RUNNING_ERROR = "running when exported"  # an imported trial's reason (hpotrack.transfer)
WORKER_LOST = "worker lost"  # how the reason of a trial whose worker died starts (recovery)
# how the reasons of failures from outside start: not the configuration's fault
STOPPED_FROM_OUTSIDE = (WORKER_LOST, "interrupted", RUNNING_ERROR)


def objective_sign(direction: str) -> float:
    """+1 for minimize, -1 for maximize: ``sign * value`` is always a loss."""
    return 1.0 if direction == "minimize" else -1.0


def worst_value(direction: str) -> float:
    """The worst finite value there is under ``direction``: what a check stores for a
    diverged report (NaN or infinite), so that it ranks last and stays storable."""
    return objective_sign(direction) * sys.float_info.max


def is_better(a: float, b: float | None, direction: str) -> bool:
    """Whether value ``a`` beats ``b`` (None or NaN never wins) under ``direction``."""
    if b is None or math.isnan(b):
        return not math.isnan(a)
    return objective_sign(direction) * a < objective_sign(direction) * b

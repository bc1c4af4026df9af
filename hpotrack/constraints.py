"""Constraints a trial's metrics must meet for the trial to count as an answer.

``@hp.tune(..., constraints=[hp.Constraint("latency_ms", at_most=10)])`` keeps optimizing
the objective, but only a *feasible* trial (every constraint met) can be the study's best
or on its Pareto front. A constraint names a key of the dict the training function
returns, as an objective does; its value is stored with the trial's other metrics, so
whether a trial was feasible is read from the trial itself, never stored twice.

How far a trial misses is its *violation*: the sum over constraints of the amount by
which the metric passes its bound (0 when every one holds), as Optuna sums the positive
parts of ``constraints_func``'s values. Methods that rank trials put feasible trials
first, then the others by violation (Deb 2000, "An efficient constraint handling method
for genetic algorithms", CMAME 186, section 3.1: a feasible solution beats an infeasible
one, and of two infeasible ones the smaller violation wins).
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

from hpotrack.errors import DefinitionError

TAG_METRIC, TAG_AT_MOST, TAG_AT_LEAST = "metric", "at_most", "at_least"  # stored JSON keys


@dataclass(frozen=True)
class Constraint:
    """``metric`` must be at most ``at_most`` and/or at least ``at_least`` (inclusive)."""

    metric: str
    at_most: float | None = None
    at_least: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise DefinitionError(
                f"a constraint must name a metric (a non-empty str), but got metric={self.metric!r}"
            )
        for name in (TAG_AT_MOST, TAG_AT_LEAST):
            bound = getattr(self, name)
            if bound is None:
                continue
            number = finite(bound)
            if number is None:
                raise DefinitionError(
                    f"{name} of a constraint must be a finite number, but got "
                    f"{name}={reprlib.repr(bound)} for metric {self.metric!r}"
                )
            object.__setattr__(self, name, number + 0.0)  # -0.0 is 0.0, shown as 0
        if self.at_most is None and self.at_least is None:
            raise DefinitionError(
                f"a constraint needs a bound, but got none for metric {self.metric!r}: give "
                f"hp.Constraint({self.metric!r}, at_most=...) or at_least=..."
            )
        if self.at_most is not None and self.at_least is not None and self.at_least > self.at_most:
            raise DefinitionError(
                f"`at_least <= at_most` must hold, but got at_least={self.at_least:g}, "
                f"at_most={self.at_most:g} for metric {self.metric!r}"
            )

    def violation(self, value: float) -> float:
        """By how much ``value`` passes the bounds (0.0 when it meets them)."""
        over = 0.0 if self.at_most is None else max(0.0, value - self.at_most)
        under = 0.0 if self.at_least is None else max(0.0, self.at_least - value)
        return over + under

    def describe(self) -> str:
        """``latency_ms <= 10``, ``0.5 <= recall``, ``1 <= size <= 8``."""
        low = "" if self.at_least is None else f"{self.at_least:g} <= "
        high = "" if self.at_most is None else f" <= {self.at_most:g}"
        return f"{low}{self.metric}{high}"

    def to_json(self) -> dict[str, Any]:
        """The stored form: ``{"metric": ..., "at_most": ..., "at_least": ...}``, bounds
        given only."""
        out: dict[str, Any] = {TAG_METRIC: self.metric}
        if self.at_most is not None:
            out[TAG_AT_MOST] = self.at_most
        if self.at_least is not None:
            out[TAG_AT_LEAST] = self.at_least
        return out

    @classmethod
    def from_json(cls, data: object) -> Constraint:
        """The constraint :meth:`to_json` stored (checked as a new one is)."""
        keys = (TAG_METRIC, TAG_AT_MOST, TAG_AT_LEAST)
        if not isinstance(data, dict) or TAG_METRIC not in data or not set(data) <= set(keys):
            raise DefinitionError(
                f'a stored constraint must be {{"{TAG_METRIC}": name, "{TAG_AT_MOST}": '
                f'number, "{TAG_AT_LEAST}": number}} (one bound or both), but got {data!r}'
            )
        return cls(data[TAG_METRIC], data.get(TAG_AT_MOST), data.get(TAG_AT_LEAST))


def from_user(constraints: object) -> tuple[Constraint, ...]:
    """``@hp.tune``'s ``constraints=``: one :class:`Constraint` or a sequence of them,
    each of another metric (one metric's two bounds go in one Constraint)."""
    if constraints is None:
        return ()
    if isinstance(constraints, Constraint):
        return (constraints,)
    if not isinstance(constraints, Iterable) or isinstance(constraints, (str, bytes, Mapping)):
        raise DefinitionError(
            "constraints must be hp.Constraint values, e.g. "
            f"constraints=[hp.Constraint('latency_ms', at_most=10)], but got {constraints!r}"
        )
    found = tuple(constraints)
    for item in found:
        if not isinstance(item, Constraint):
            raise DefinitionError(
                f"each constraint must be an hp.Constraint, e.g. hp.Constraint('latency_ms', "
                f"at_most=10), but got {item!r}"
            )
    check_distinct(found)
    return found


def check_distinct(constraints: Sequence[Constraint]) -> None:
    """Refuse two constraints on one metric (its bounds belong in one Constraint)."""
    metrics = [c.metric for c in constraints]
    repeated = sorted({m for m in metrics if metrics.count(m) > 1})
    if repeated:
        raise DefinitionError(
            f"each constraint must be on a different metric, but {repeated[0]!r} has "
            "several: give both bounds in one, hp.Constraint(metric, at_least=..., at_most=...)"
        )


def violation(constraints: Sequence[Constraint], metrics: Mapping[str, Any]) -> float:
    """How far ``metrics`` (a trial's) miss ``constraints``, summed; infinite when one has
    no finite number (a trial stored by hand without it)."""
    total = 0.0
    for constraint in constraints:
        value = finite(metrics.get(constraint.metric))
        if value is None:
            return math.inf
        total += constraint.violation(value)
    return total


def finite(value: object) -> float | None:
    """``value`` as a float if it is a finite number (not a bool), else None (an int
    too large for a float, 10**400, too)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None

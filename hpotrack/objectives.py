"""What a study optimizes: one metric, or several at once (multi-objective), each with its
direction.

``@hp.tune(objective="error")`` optimizes one metric; ``objective=("error", "latency_ms"),
direction=("minimize", "minimize")`` optimizes both, and the study's answer is then the
set of trials no other trial beats on every objective, its Pareto front
(:mod:`hpotrack.pareto`), instead of one best trial. Every objective is a key of the dict
the training function returns, stored with its other metrics.

It also holds the study's constraints (:mod:`hpotrack.constraints`): what is optimized,
subject to what, is one value that every part reading the study's answer gets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from hpotrack import constraints as constraint_rules
from hpotrack.constraints import Constraint
from hpotrack.errors import DefinitionError
from hpotrack.records import objective_sign

DIRECTIONS = ("minimize", "maximize")
TAG_METRIC, TAG_DIRECTION = "metric", "direction"  # stored JSON keys: a stable format


@dataclass(frozen=True)
class Objectives:
    """The metrics a study optimizes (``metrics``) and, one per metric, whether lower or
    higher is better (``directions``). The first is the primary objective: it is the
    value stored with each trial (what ``show`` sorts by and a curve's reports are).
    ``constraints``: what a trial's metrics must meet for it to count as an answer (its
    best, or on its front); none by default."""

    metrics: tuple[str, ...]
    directions: tuple[str, ...]
    constraints: tuple[Constraint, ...] = ()

    def __post_init__(self) -> None:
        if not self.metrics:
            raise DefinitionError("a study needs at least one objective, but got none")
        for metric in self.metrics:
            if not isinstance(metric, str) or not metric:
                raise DefinitionError(
                    f"objective must name a metric (a non-empty str), but got objective={metric!r}"
                )
        repeated = sorted({m for m in self.metrics if self.metrics.count(m) > 1})
        if repeated:
            raise DefinitionError(
                f"each objective must be a different metric, but {repeated[0]!r} is given "
                f"twice in objective={self.metrics!r}"
            )
        if len(self.directions) != len(self.metrics):
            raise DefinitionError(
                f"`len(direction) == len(objective)` must hold, but got "
                f"{len(self.directions)} direction(s) for objective={self.metrics!r}: give "
                f"one per objective, e.g. direction={('minimize',) * len(self.metrics)!r}"
            )
        for direction in self.directions:
            if direction not in DIRECTIONS:
                raise DefinitionError(
                    f"direction must be 'minimize' or 'maximize', but got direction={direction!r}"
                )
        constraint_rules.check_distinct(self.constraints)

    @classmethod
    def from_user(
        cls, objective: object, direction: object, constraints: object = None
    ) -> Objectives:
        """``@hp.tune``'s ``objective=``, ``direction=`` and ``constraints=``: a metric
        name and a direction, or a sequence of names and one direction per name (a single
        direction for several objectives is refused: which way each goes is not a default
        to guess); constraints as :func:`hpotrack.constraints.from_user` takes them."""
        found = cls._from_user(objective, direction)
        return cls(found.metrics, found.directions, constraint_rules.from_user(constraints))

    @classmethod
    def _from_user(cls, objective: object, direction: object) -> Objectives:
        if isinstance(objective, str):
            if not isinstance(direction, str):
                raise DefinitionError(
                    f"one objective takes one direction ('minimize' or 'maximize'), but "
                    f"got direction={direction!r} for objective={objective!r}"
                )
            return cls((objective,), (direction,))
        if not isinstance(objective, Sequence) or isinstance(objective, bytes):
            raise DefinitionError(
                "objective must name a metric (a non-empty str), or several as a tuple, but "
                f"got objective={objective!r}"
            )
        metrics = tuple(objective)
        if isinstance(direction, str):
            if len(metrics) == 1:
                return cls(metrics, (direction,))
            raise DefinitionError(
                f"{len(metrics)} objectives need a direction each, but got "
                f"direction={direction!r}: give e.g. "
                f"direction={('minimize',) * len(metrics)!r}"
            )
        if not isinstance(direction, Sequence) or isinstance(direction, bytes):
            raise DefinitionError(
                f"direction must be 'minimize' or 'maximize' (one per objective), but got "
                f"direction={direction!r}"
            )
        return cls(metrics, tuple(direction))

    @property
    def count(self) -> int:
        return len(self.metrics)

    @property
    def is_multi(self) -> bool:
        """Whether the study optimizes several objectives (has a front, no single best)."""
        return len(self.metrics) > 1

    @property
    def signs(self) -> tuple[float, ...]:
        """Per objective, the factor that makes lower better (1 or -1)."""
        return tuple(objective_sign(d) for d in self.directions)

    def values(self, metrics: Mapping[str, Any]) -> tuple[float, ...] | None:
        """Each objective's value in ``metrics`` (a trial's), or None unless all are
        finite numbers (a failed trial, or one stored by hand without them)."""
        found = [constraint_rules.finite(metrics.get(name)) for name in self.metrics]
        return None if None in found else tuple(cast(list[float], found))

    def missing(self, metrics: Mapping[str, Any]) -> str | None:
        """The first objective, then constraint metric, without a finite number in
        ``metrics`` (a complete trial's must have them all); None if none is."""
        names = (*self.metrics, *(c.metric for c in self.constraints))
        return next((n for n in names if constraint_rules.finite(metrics.get(n)) is None), None)

    @property
    def constrained(self) -> bool:
        return bool(self.constraints)

    def violation(self, metrics: Mapping[str, Any]) -> float:
        """How far a complete trial's ``metrics`` miss the constraints (0.0: feasible;
        :func:`hpotrack.constraints.violation`)."""
        return constraint_rules.violation(self.constraints, metrics)

    def describe_constraints(self) -> str:
        """``latency_ms <= 10, 0.9 <= recall``: for messages and tables."""
        return ", ".join(c.describe() for c in self.constraints)

    def losses(self, metrics: Mapping[str, Any]) -> tuple[float, ...] | None:
        """:meth:`values`, each turned so that lower is better."""
        values = self.values(metrics)
        return (
            None
            if values is None
            else tuple(s * v for s, v in zip(self.signs, values, strict=True))
        )

    def describe(self) -> str:
        """``error (minimize), latency_ms (minimize)``: for messages and tables."""
        return ", ".join(f"{m} ({d})" for m, d in zip(self.metrics, self.directions, strict=True))

    def to_json(self) -> list[dict[str, str]]:
        pairs = zip(self.metrics, self.directions, strict=True)
        return [{TAG_METRIC: m, TAG_DIRECTION: d} for m, d in pairs]

    def stored_objectives(self) -> list[dict[str, str]] | None:
        """What the ``objectives`` column holds: :meth:`to_json` for several, else NULL."""
        return self.to_json() if self.is_multi else None

    def stored_constraints(self) -> list[dict[str, Any]] | None:
        """What the ``constraints`` column holds: each constraint's JSON, NULL for none."""
        return [c.to_json() for c in self.constraints] if self.constraints else None

    @classmethod
    def from_columns(
        cls, objective: str, direction: str, stored: object, constraints: object = None
    ) -> Objectives:
        """A study's objectives from its row: ``stored`` (the ``objectives`` column) when
        it holds several, else the one of its ``objective`` and ``direction`` columns
        (studies of one objective store NULL there, as all did before schema 11); and
        its ``constraints`` column (NULL: none, as for every study before schema 12)."""
        found = cls((objective,), (direction,)) if stored is None else cls.from_json(stored)
        if constraints is None:
            return found
        if not isinstance(constraints, list):
            raise DefinitionError(f"stored constraints must be a list, but got {constraints!r}")
        rules = tuple(Constraint.from_json(item) for item in constraints)
        return cls(found.metrics, found.directions, rules)

    @classmethod
    def from_json(cls, data: object) -> Objectives:
        if not isinstance(data, list) or not all(
            isinstance(item, dict) and TAG_METRIC in item and TAG_DIRECTION in item for item in data
        ):
            raise DefinitionError(
                f'stored objectives must be a list of {{"{TAG_METRIC}": name, '
                f'"{TAG_DIRECTION}": "minimize" | "maximize"}}, but got {data!r}'
            )
        return cls(
            tuple(item[TAG_METRIC] for item in data),
            tuple(item[TAG_DIRECTION] for item in data),
        )


DEFAULT = Objectives(("value",), ("minimize",))
"""``@hp.tune``'s default: minimize the number the function returns."""

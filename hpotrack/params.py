"""Parameter types: definitions, their [0, 1] encoding, grid values and stable JSON.

Every method works on the unit cube. Each parameter (``Float``, ``Int``, ``Choice``) has
``encode(value) -> u`` in [0, 1], ``decode(u) -> value`` (always valid, u clipped first),
``validate(value)`` for user-supplied values, ``grid_values(grid_points)`` (and, for discrete
parameters, ``value_at(index)`` of their ``n_values`` values) and ``to_json()``.
Any parameter may be conditional: ``when={"kernel": "rbf"}`` makes it exist only while
another parameter (a ``Choice`` of the same space, checked there) has one of the given
values; the parameter holds the condition, :class:`hpotrack.space.Space` applies it.
Discrete parameters give each value an equal bin of [0, 1], so uniform sampling of the cube
is uniform over their values (:mod:`hpotrack.unit_cube`). ``Choice`` is in
:mod:`hpotrack.choice_param`. Definitions are stored as JSON that outlives this code, so
the ``type`` tags are fixed strings, never class names.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar, cast

from hpotrack.choice_param import Choice
from hpotrack.conditions import (
    When,
    condition_json,
    condition_of,
    condition_text,
    set_condition,
)
from hpotrack.errors import SpaceError
from hpotrack.options import friendly_init
from hpotrack.param_input import Value, grid_points_of, to_flag, to_float, to_int
from hpotrack.unit_cube import bin_of, clip_unit, decimals, spread, tidy

_MAX_VALUES = 2**40
"""Most values a discrete parameter may have, so that every bin stays wider than float noise."""

_T = TypeVar("_T", bound=type)

__all__ = ["Choice", "Float", "Int", "Param", "Value", "outside", "param_from_json"]


def outside(low: float, high: float, name: str, x: float) -> SpaceError:
    """The error for a value ``x`` of parameter ``name`` outside its range."""
    return SpaceError(f"`{low!r} <= {name} <= {high!r}` must hold, but got {name}={x!r}")


def _friendly_init(cls: _T) -> _T:
    """``Float(0, 1, logg=True)`` is a user mistake like ``Float(1, 0)``: one SpaceError."""
    return friendly_init(SpaceError)(cls)


# --- parameters -------------------------------------------------------------------------------


@_friendly_init
@dataclass(frozen=True)
class Float:
    """A real number in [low, high]; log=True samples log-uniformly, step makes a grid."""

    low: float
    high: float
    log: bool = False
    step: float | None = None
    when: When | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        set_condition(self)
        low, high = to_float(self.low, "low"), to_float(self.high, "high")
        log = to_flag(self.log, "log")
        step = None if self.step is None else to_float(self.step, "step")
        for name, value in (("low", low), ("high", high), ("log", log), ("step", step)):
            object.__setattr__(self, name, value)
        if not low < high:
            fixed = f"; for a fixed value use hp.Choice([{low!r}]) or a constant"
            raise SpaceError(
                f"`low < high` must hold, but got low={low!r}, high={high!r}"
                + (fixed if low == high else "")
            )
        if not math.isfinite(high - low):
            raise SpaceError(
                f"the range [{low!r}, {high!r}] is too wide: high - low overflows "
                "a float; narrow it, or use log=True with positive bounds"
            )
        if log and low <= 0:
            raise SpaceError(
                f"`low > 0` must hold for log=True, but got low={low!r}; "
                "use a small positive low (e.g. 1e-8) or log=False"
            )
        if log and not math.isfinite(high / low):
            raise SpaceError(
                f"`high / low` must be a finite float for log=True, but got low={low!r}, "
                f"high={high!r}: the log range overflows; raise low (e.g. 1e-8)"
            )
        if step is None:
            return
        if log:
            raise SpaceError(
                "`step` and `log=True` cannot be combined; drop one (list a "
                "log-spaced grid as hp.Choice([...]) instead)"
            )
        if step <= 0:
            raise SpaceError(f"`step > 0` must hold, but got step={step!r}")
        if self._tolerance > 1e-3:
            raise SpaceError(
                f"step={step!r} is too fine for values as large as "
                f"{max(abs(low), abs(high))!r}: floats cannot hold that grid"
            )
        k = (high - low) / step
        if round(k) < 1 or abs(k - round(k)) > self._tolerance:
            ends = sorted(
                {
                    round(low + j * step, self._digits)
                    for j in (math.floor(k), math.ceil(k))
                    if j >= 1
                }
            )
            raise SpaceError(
                f"step={step!r} does not divide the range [{low!r}, {high!r}]: "
                "(high - low) / step must be a whole number; e.g. use "
                + " or ".join(f"high={end!r}" for end in ends)
            )
        if self._count > _MAX_VALUES:
            raise SpaceError(
                f"step={step!r} gives {self._count} values, more than the "
                f"{_MAX_VALUES} supported; use a larger step or no step"
            )

    def __repr__(self) -> str:
        extra = ", log=True" if self.log else "" if self.step is None else f", step={self.step!r}"
        return f"Float({self.low!r}, {self.high!r}{extra}{condition_text(condition_of(self))})"

    @property
    def is_discrete(self) -> bool:
        """True when a step makes the range a finite grid."""
        return self.step is not None

    @property
    def n_values(self) -> int:
        """How many values the parameter can take; 0 for a continuous Float."""
        return self._count if self.step is not None else 0

    @functools.cached_property
    def _tolerance(self) -> float:
        """How far, in steps, a float may sit from a grid point and still count as on it."""
        scale = max(abs(self.low), abs(self.high)) / cast(float, self.step)
        return max(1e-9, 64 * sys.float_info.epsilon * scale)

    @functools.cached_property
    def _count(self) -> int:
        """The number of grid values (stepped Floats only)."""
        return round((self.high - self.low) / cast(float, self.step)) + 1

    @functools.cached_property
    def _digits(self) -> int:
        """Decimals grid values are rounded to: those of low and step, plus 3 to spare."""
        return max(decimals(self.low), decimals(cast(float, self.step))) + 3

    def _at(self, i: int) -> float:
        """Grid value ``i``: 0.15, not 0.15000000000000002; the last one is exactly high."""
        if i == self._count - 1:
            return self.high
        value = round(self.low + i * cast(float, self.step), self._digits) + 0.0  # no -0.0
        return min(max(value, self.low), self.high)

    def _index(self, value: object, name: str = "value") -> tuple[float, int]:
        """The validated value and, for a stepped Float, its grid index (else -1);
        ``name`` is the parameter's in a message."""
        x = to_float(value, name)
        if self.step is None:
            if not self.low <= x <= self.high:
                raise outside(self.low, self.high, name, x)
            return x, -1
        k = (x - self.low) / self.step
        i = round(k)
        if not 0 <= i < self._count or abs(k - i) > self._tolerance:
            if not -self._tolerance <= k <= self._count - 1 + self._tolerance:
                raise outside(self.low, self.high, name, x)
            raise SpaceError(
                f"{name}={x!r} is not on the grid of {self!r} (low + k * step); "
                f"nearest valid values: {self._at(math.floor(k))!r}, "
                f"{self._at(math.ceil(k))!r}"
            )
        return self._at(i), i

    def validate(self, value: object, name: str = "value") -> float:
        """The value as a float, in [low, high] and on the grid (1e-9 slack) if stepped;
        ``name`` is the parameter's in a message."""
        return self._index(value, name)[0]

    def encode(self, value: object, name: str = "value") -> float:
        """Linear or log position in [low, high]; a grid value gets the middle of its bin."""
        x, i = self._index(value, name)
        if i >= 0:
            return (i + 0.5) / self._count
        if self.log:
            return min(math.log(x / self.low) / math.log(self.high / self.low), 1.0)
        return min(max((x - self.low) / (self.high - self.low), 0.0), 1.0)

    def decode(self, u: float) -> float:
        """The value at ``u``: its bin's grid value if stepped, else exact and clipped."""
        if self.step is not None:
            return self._at(bin_of(u, self._count))
        u = clip_unit(u)
        if u in (0.0, 1.0):
            return self.high if u else self.low
        if self.log:
            x = math.exp(math.log(self.low) + u * math.log(self.high / self.low))
        else:
            x = self.low + u * (self.high - self.low)
        return min(max(x, self.low), self.high)

    def value_at(self, index: int) -> float:
        """Grid value ``index`` (0 = low) of a stepped Float, computed alone: a grid of
        2**40 values is never listed to read one."""
        if self.step is None or not 0 <= index < self._count:
            raise SpaceError(f"{self!r} has no grid value number {index!r}")
        return self._at(index)

    def grid_values(self, grid_points: int | None = None) -> tuple[float, ...]:
        """Grid values (thinned evenly to ``grid_points``), or ``grid_points`` spaced points."""
        if self.step is not None:
            g = self._count if grid_points is None else grid_points_of(grid_points)
            return tuple(self._at(i) for i in spread(self._count, min(g, self._count)))
        if grid_points is None:
            stepped = f" or give it a step (hp.Float({self.low!r}, {self.high!r}, step=...))"
            raise SpaceError(
                f"continuous {self!r} has no grid: pass method=hp.methods.Grid(grid_points=N) "
                f"for N points of it{'' if self.log else stepped}"
            )
        g = grid_points_of(grid_points)
        return tidy([self.decode(i / (g - 1)) for i in range(g)])

    def to_json(self) -> dict[str, Any]:
        """``{"type": "float", "low", "high", "log", "step"}``, and ``"when"`` if set."""
        return {
            "type": "float",
            "low": self.low,
            "high": self.high,
            "log": self.log,
            "step": self.step,
            **condition_json(condition_of(self)),
        }


@_friendly_init
@dataclass(frozen=True)
class Int:
    """An integer in [low, high] on ``low + k * step``; log=True samples log-uniformly."""

    low: int
    high: int
    log: bool = False
    step: int = 1
    when: When | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        set_condition(self)
        low, high = to_int(self.low, "low"), to_int(self.high, "high")
        log, step = to_flag(self.log, "log"), to_int(self.step, "step")
        for name, value in (("low", low), ("high", high), ("log", log), ("step", step)):
            object.__setattr__(self, name, value)
        if not low < high:
            raise SpaceError(
                f"`low < high` must hold, but got low={low!r}, high={high!r}; "
                f"for a fixed value use hp.Choice([{low!r}]) or a constant"
            )
        if log and low <= 0:
            raise SpaceError(f"`low > 0` must hold for log=True, but got low={low!r}")
        if step < 1:
            raise SpaceError(f"`step >= 1` must hold, but got step={step!r}")
        if log and step != 1:
            raise SpaceError(f"log=True requires step=1, but got step={step!r}; drop one")
        if (high - low) % step:
            below = high - (high - low) % step
            raise SpaceError(
                f"step={step!r} does not divide the range [{low!r}, {high!r}]: "
                "(high - low) / step must be a whole number; e.g. use "
                f"high={below!r} or high={below + step!r}"
            )
        if self._count > _MAX_VALUES or (log and high > _MAX_VALUES):
            raise SpaceError(
                f"{self!r} is too large to encode: at most {_MAX_VALUES} values "
                "(and high <= that for log=True); use a Float and round it"
            )

    def __repr__(self) -> str:
        extra = ", log=True" if self.log else f", step={self.step!r}" if self.step != 1 else ""
        return f"Int({self.low!r}, {self.high!r}{extra}{condition_text(condition_of(self))})"

    @property
    def is_discrete(self) -> bool:
        """Always True."""
        return True

    @property
    def n_values(self) -> int:
        """How many values the parameter can take."""
        return self._count

    @property
    def _count(self) -> int:
        """The number of values."""
        return (self.high - self.low) // self.step + 1

    @property
    def _log_edges(self) -> tuple[float, float]:
        """Logs of the outer edges: each value x owns [x - 0.5, x + 0.5) on the log scale."""
        return math.log(self.low - 0.5), math.log(self.high + 0.5)

    def validate(self, value: object, name: str = "value") -> int:
        """The value as an int (3.0 and numpy ints ok), in [low, high] and on the step;
        ``name`` is the parameter's in a message."""
        x = to_int(value, name)
        if not self.low <= x <= self.high:
            raise outside(self.low, self.high, name, x)
        off = (x - self.low) % self.step
        if off:
            raise SpaceError(
                f"{name}={x!r} is not on the grid of {self!r} (low + k * step); "
                f"nearest valid values: {x - off!r}, {x - off + self.step!r}"
            )
        return x

    def encode(self, value: object, name: str = "value") -> float:
        """The middle of the value's bin (on the log scale if log=True)."""
        x = self.validate(value, name)
        if not self.log:
            return ((x - self.low) // self.step + 0.5) / self._count
        a, b = self._log_edges
        middle = (math.log(x - 0.5) + math.log(x + 0.5)) / 2
        return min(max((middle - a) / (b - a), 0.0), 1.0)

    def decode(self, u: float) -> int:
        """The value whose bin holds ``u``."""
        if not self.log:
            return self.low + bin_of(u, self._count) * self.step
        a, b = self._log_edges
        x = math.floor(math.exp(a + clip_unit(u) * (b - a)) + 0.5)
        return min(max(x, self.low), self.high)

    def value_at(self, index: int) -> int:
        """Value ``index`` (0 = low), computed alone: 2**40 values are never listed."""
        if not 0 <= index < self._count:
            raise SpaceError(f"{self!r} has no value number {index!r}")
        return self.low + index * self.step

    def grid_values(self, grid_points: int | None = None) -> tuple[int, ...]:
        """All values, or ``grid_points`` distinct ones spread evenly (geometrically if log)."""
        g = self._count if grid_points is None else min(grid_points_of(grid_points), self._count)
        if g == self._count or not self.log:
            return tuple(self.low + i * self.step for i in spread(self._count, g))
        ratio = self.high / self.low
        points = (round(self.low * ratio ** (i / (g - 1))) for i in range(g))
        return tuple(dict.fromkeys(min(max(x, self.low), self.high) for x in points))

    def to_json(self) -> dict[str, Any]:
        """``{"type": "int", "low", "high", "log", "step"}``, and ``"when"`` if set."""
        return {
            "type": "int",
            "low": self.low,
            "high": self.high,
            "log": self.log,
            "step": self.step,
            **condition_json(condition_of(self)),
        }


Param: TypeAlias = Float | Int | Choice
"""Any parameter definition."""

_TAGS: dict[str, type[Param]] = {"float": Float, "int": Int, "choice": Choice}


def param_from_json(data: object) -> Param:
    """The parameter whose ``to_json()`` gave ``data``."""
    if (
        not isinstance(data, Mapping)
        or not isinstance(data.get("type"), str)
        or (data["type"] not in _TAGS)
    ):
        raise SpaceError(
            f"not a stored parameter: {data!r}; expected a dict whose 'type' is "
            f"one of {', '.join(map(repr, _TAGS))}"
        )
    return _TAGS[data["type"]](**{k: v for k, v in data.items() if k != "type"})

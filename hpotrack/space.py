"""Search spaces: an ordered mapping of named parameters, encoded as one unit cube.

``Space.from_user`` accepts parameter definitions (:mod:`hpotrack.params`) and shorthands;
a space encodes and decodes whole parameter dicts, enumerates grid cells and round-trips
through stable JSON. Errors name the parameter they concern.
"""

from __future__ import annotations

import difflib
import json
import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeAlias, cast

import numpy as np
import numpy.typing as npt

from hpotrack.errors import SpaceError
from hpotrack.param_input import Value, is_utf8
from hpotrack.params import Choice, Float, Int, Param, param_from_json

__all__ = ["Choice", "Float", "Int", "Param", "Space", "Value", "is_utf8", "param_from_json"]


@contextmanager
def _about(name: str) -> Iterator[None]:
    """Prefix SpaceErrors raised inside with the parameter's name."""
    try:
        yield
    except SpaceError as error:
        raise SpaceError(f"parameter {name!r}: {error}") from None


def _from_user(definition: object) -> Param:
    """A parameter from a definition or a shorthand: a list or a (low, high) tuple."""
    if isinstance(definition, Float | Int | Choice):
        return definition
    if isinstance(definition, list):
        return Choice(definition)
    if (
        isinstance(definition, tuple)
        and len(definition) == 2
        and all(
            isinstance(x, numbers.Real) and not isinstance(x, bool | np.bool_) for x in definition
        )
    ):
        if all(isinstance(x, numbers.Integral) for x in definition):
            return Int(*definition)
        return Float(*definition)
    raise SpaceError(
        f"unsupported definition {definition!r} ({type(definition).__name__}); "
        "use hp.Float(low, high), hp.Int(low, high), hp.Choice([...]), "
        "a list of options or a (low, high) tuple"
    )


def _check_name(name: object) -> str:
    """A parameter name: a non-empty string without whitespace, and not 'trial'."""
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise SpaceError(
            f"parameter names must be non-empty strings without whitespace, but got {name!r}"
        )
    if not is_utf8(name):
        raise SpaceError(f"parameter names must be valid Unicode text, but got {name!r}")
    if name == "trial":
        raise SpaceError(
            "parameter name 'trial' is reserved: the objective receives the "
            "trial handle as its `trial` argument; rename the hyperparameter"
        )
    return name


class Space(Mapping[str, Param]):
    """An immutable, ordered mapping name -> parameter; the first parameter is grid axis 0."""

    __slots__ = ("_grid_keys", "_grids", "_params")

    def __init__(self, definition: Mapping[str, object]) -> None:
        if not isinstance(definition, Mapping):
            raise SpaceError(
                "a search space must be a dict of name -> parameter, but got "
                f"{type(definition).__name__}"
            )
        if not definition:
            raise SpaceError(
                "the search space is empty; define at least one hyperparameter, "
                "e.g. {'lr': hp.Float(1e-5, 1e-1, log=True)}"
            )
        params: dict[str, Param] = {}
        for name, item in definition.items():
            with _about(_check_name(name)):
                params[name] = _from_user(item)
        self._params = params  # never changed after this: a Space is immutable
        self._grids: dict[int | None, tuple[_Axis, ...]] = {}
        self._grid_keys: dict[int | None, dict[str, frozenset[str]]] = {}

    def __reduce__(self) -> tuple[type[Space], tuple[dict[str, Param]]]:
        """Pickle as the definition (for worker processes), without the grid cache."""
        return Space, (dict(self._params),)

    @classmethod
    def from_user(cls, definition: Mapping[str, object]) -> Space:
        """A Space from the user's dict (shorthands allowed); a Space is returned as is."""
        return definition if isinstance(definition, Space) else cls(definition)

    def __getitem__(self, name: str) -> Param:
        return self._params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Space):
            return NotImplemented
        return list(self._params.items()) == list(other._params.items())

    def __hash__(self) -> int:
        return hash(tuple(self._params.items()))

    def __repr__(self) -> str:
        return f"Space({dict(self._params)!r})"

    def check_names(self, params: Mapping[str, object], *, partial: bool = False) -> None:
        """Names must match exactly (``partial``: any may be left out); a typo gets the
        name it was probably meant to be."""
        missing = [n for n in self._params if n not in params]
        problems, suggested = [], set()
        for name in (n for n in params if n not in self._params):
            close = difflib.get_close_matches(str(name), missing or list(self._params), n=1)
            suggested.update(close)
            hint = (
                f"; did you mean {close[0]!r}?"
                if close
                else f" (the space has {', '.join(map(repr, self._params))})"
            )
            problems.append(f"unknown hyperparameter {name!r}{hint}")
        if not partial and (missing := [n for n in missing if n not in suggested]):
            problems.append(f"missing hyperparameter(s) {', '.join(map(repr, missing))}")
        if problems:
            raise SpaceError("; ".join(problems))

    def validate(self, params: Mapping[str, object], *, partial: bool = False) -> dict[str, Value]:
        """Canonical values for user-supplied parameters (manual trials, enqueue), in the
        space's order; ``partial=True`` validates those given and allows the rest out."""
        if not isinstance(params, Mapping):
            raise SpaceError(f"parameters must be a dict of name -> value, but got {params!r}")
        self.check_names(params, partial=partial)
        return {  # each message names the parameter as the user wrote it: `0 <= lr <= 1`
            name: param.validate(params[name], name)
            for name, param in self._params.items()
            if not partial or name in params
        }

    def encode(self, params: Mapping[str, object]) -> npt.NDArray[np.float64]:
        """The point of the unit cube, shape (d,), of a full set of valid values."""
        self.check_names(params)
        u = np.empty(len(self._params), dtype=np.float64)
        for i, (name, param) in enumerate(self._params.items()):
            u[i] = param.encode(params[name], name)  # a message names the parameter
        return u

    def encode_many(self, rows: Sequence[Mapping[str, Value]]) -> npt.NDArray[np.float64]:
        """The cube points, shape ``(len(rows), d)``, of many stored (valid) parameter
        dicts: :meth:`encode` row by row, vectorised per parameter (encoding 1,000 trials
        one by one costs tens of milliseconds, more than the rest of a model's ask)."""
        out = np.empty((len(rows), len(self._params)), dtype=np.float64)
        for j, (name, param) in enumerate(self._params.items()):
            out[:, j] = _encode_column(param, [row[name] for row in rows])
        return out

    def decode(self, u: npt.ArrayLike) -> dict[str, Value]:
        """The values at a point of the unit cube (clipped into it)."""
        point = np.asarray(u, dtype=np.float64)
        if point.shape != (len(self._params),):
            raise SpaceError(
                f"expected a point of shape ({len(self._params)},), but got shape {point.shape}"
            )
        out: dict[str, Value] = {}
        name = ""
        try:
            for x, (name, param) in zip(point.tolist(), self._params.items(), strict=True):
                out[name] = param.decode(x)
        except SpaceError as error:
            raise SpaceError(f"parameter {name!r}: {error}") from None
        return out

    def _axes(self, grid_points: int | None) -> tuple[_Axis, ...]:
        """Each parameter's grid as (length, value at an index), computed once per
        ``grid_points``. A whole discrete range is read value by value, never listed: an
        ``Int`` may have 2**40 values, and listing 10**7 took seconds and a gigabyte."""
        if grid_points not in self._grids:
            axes: list[_Axis] = []
            for name, param in self._params.items():
                with _about(name):
                    if grid_points is None and param.is_discrete:
                        axes.append((param.n_values, param.value_at))
                    else:
                        values = param.grid_values(grid_points)
                        axes.append((len(values), values.__getitem__))
            self._grids[grid_points] = tuple(axes)
        return self._grids[grid_points]

    def grid_size(self, grid_points: int | None = None) -> int:
        """The number of grid cells: the product of each parameter's grid length, counted
        without listing whole ranges (``auto`` asks for any space)."""
        return math.prod(length for length, _ in self._axes(grid_points))

    def on_grid(self, params: Mapping[str, Value], grid_points: int | None = None) -> bool:
        """Whether ``params`` (valid values of the space) is a cell of the grid: each value
        is one of its parameter's grid values, equal to 12 significant digits as in
        :meth:`key`. A whole discrete range holds every valid value; the other grids are
        lists (``grid_points`` long, or a Choice's options), compared as keys."""
        if grid_points not in self._grid_keys:
            self._grid_keys[grid_points] = {
                name: frozenset(
                    self.key({name: v}, (name,)) for v in param.grid_values(grid_points)
                )
                for name, param in self._params.items()
                if grid_points is not None or not param.is_discrete
            }
        listed = self._grid_keys[grid_points]
        return all(self.key(params, (name,)) in keys for name, keys in listed.items())

    def grid_cell(self, index: int, grid_points: int | None = None) -> dict[str, Value]:
        """Cell ``index`` of the grid, in mixed radix with the first parameter slowest."""
        size = self.grid_size(grid_points)
        if (
            isinstance(index, bool)
            or not isinstance(index, numbers.Integral)
            or not 0 <= int(index) < size
        ):
            raise SpaceError(f"`0 <= index < {size}` must hold, but got index={index!r}")
        rest, values = int(index), []
        for length, value_at in reversed(self._axes(grid_points)):
            rest, digit = divmod(rest, length)
            values.append(value_at(digit))
        return dict(zip(self._params, reversed(values), strict=True))

    def key(self, params: Mapping[str, Value], names: Iterable[str] | None = None) -> str:
        """A stable text key for a full set of values (or for those of ``names``), the
        same for values equal to 12 significant digits (a grid point computed two ways,
        an enqueued ``0.1``): what says that two trials ran the same configuration."""
        return json.dumps(
            [_key_value(params[name]) for name in (self._params if names is None else names)],
            separators=(",", ":"),
            ensure_ascii=False,
        )

    def to_json(self) -> dict[str, Any]:
        """``{name: parameter JSON}`` in definition order, so that dumps are stable."""
        return {name: param.to_json() for name, param in self._params.items()}

    @classmethod
    def from_json(cls, data: object) -> Space:
        """The Space whose ``to_json()`` gave ``data``."""
        if not isinstance(data, Mapping):
            raise SpaceError(f"not a stored search space: {data!r}; expected a dict")
        params: dict[str, Param] = {}
        for name, item in data.items():
            with _about(str(name)):
                params[name] = param_from_json(item)
        return cls(params)


_Axis: TypeAlias = tuple[int, Callable[[int], Value]]
"""A parameter's grid: its length, and the value at an index."""


def _key_value(value: Value) -> Value:
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.12g}") + 0.0  # + 0.0: -0.0 and 0.0 are one key
    return value


def _encode_column(param: Param, column: list[Value]) -> npt.NDArray[np.float64]:
    """``param.encode`` over a column of valid values (the formulas of :mod:`params`)."""
    if isinstance(param, Choice):
        size = len(param.options)
        index = {(type(o), o): (i + 0.5) / size for i, o in enumerate(param.options)}
        return np.array([index.get((type(v), v)) or param.encode(v) for v in column])
    x = np.asarray(column, dtype=np.float64)
    if isinstance(param, Float) and param.step is None:
        if param.log:
            u = np.log(x / param.low) / math.log(param.high / param.low)
        else:
            u = (x - param.low) / (param.high - param.low)
    elif isinstance(param, Float):
        size, step = param.n_values, cast(float, param.step)
        u = (np.clip(np.rint((x - param.low) / step), 0, size - 1) + 0.5) / size
    elif param.log:
        a, b = math.log(param.low - 0.5), math.log(param.high + 0.5)
        u = ((np.log(x - 0.5) + np.log(x + 0.5)) / 2 - a) / (b - a)
    else:  # offsets from low in Python ints: exact where the values are not (low = 10**18)
        offsets = [(cast(int, v) - param.low) // param.step for v in column]
        u = (np.array(offsets, dtype=np.float64) + 0.5) / param.n_values
    return np.clip(u, 0.0, 1.0)

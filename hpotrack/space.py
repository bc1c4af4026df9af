"""Search spaces: an ordered mapping of named parameters, encoded as one unit cube.

``Space.from_user`` accepts parameter definitions (:mod:`hpotrack.params`) and shorthands;
a space encodes and decodes whole parameter dicts, enumerates grid cells (counted and read
in :mod:`hpotrack.space_grid`) and round-trips through stable JSON. Errors name the
parameter they concern.

Conditional parameters (``when=``) are the space's to apply, so that every method gets them
through the one encoding: :meth:`Space.decode` drops the parameters a point leaves
inactive, :meth:`Space.encode` gives an inactive parameter the fixed coordinate 0.5 (a
constant a model learns to ignore), :meth:`Space.inactive_mask` says which coordinates of
cube points are inactive (for models that marginalise them), and grids enumerate each
branch's own cells. Which parameters values leave inactive, and why in words, is
:mod:`hpotrack.space_inactive`'s. A space without conditions takes none of these paths.
"""

from __future__ import annotations

import difflib
import json
import math
import numbers
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from hpotrack import space_inactive
from hpotrack.errors import SpaceError
from hpotrack.param_input import NESTED_HINT, Value, is_utf8
from hpotrack.params import Choice, Float, Int, Param, param_from_json
from hpotrack.space_grid import Grids
from hpotrack.space_rules import INACTIVE, about_parameter, rules_of

__all__ = ["Choice", "Float", "Int", "Param", "Space", "Value", "is_utf8", "param_from_json"]


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
        + (NESTED_HINT if isinstance(definition, dict) else "")
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

    __slots__ = ("_grids", "_params", "_rules")

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
            with about_parameter(_check_name(name)):
                params[name] = _from_user(item)
        self._params = params  # never changed after this: a Space is immutable
        self._rules = rules_of(params)
        self._grids = Grids(self, self._rules)

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
        if not partial and self._rules:  # an inactive parameter is left out, not missing
            missing = self.missing(params)
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
        if self._rules:  # the given ones (check_names made sure the active ones are)
            values = {
                name: param.validate(params[name], name)
                for name, param in self._params.items()
                if name in params
            }
            space_inactive.check_active(self._params, self._rules, values)
            return values
        return {  # each message names the parameter as the user wrote it: `0 <= lr <= 1`
            name: param.validate(params[name], name)
            for name, param in self._params.items()
            if not partial or name in params
        }

    def missing(self, params: Mapping[str, object]) -> list[str]:
        """The parameters ``params`` leaves out that its values keep active."""
        off = self.inactive(params) if self._rules else frozenset()
        return [n for n in self._params if n not in params and n not in off]

    @property
    def is_conditional(self) -> bool:
        """Whether some parameter has a ``when`` condition."""
        return bool(self._rules)

    def inactive(self, values: Mapping[str, object]) -> frozenset[str]:
        """The conditional parameters that ``values`` leave inactive: a parent's value is
        not one of the condition's, or the parent is absent (or inactive itself)."""
        return space_inactive.inactive(self._params, self._rules, values)

    def drop_inactive(self, values: Mapping[str, Value]) -> dict[str, Value]:
        """``values`` without the parameters they leave inactive, in the space's order."""
        off = self.inactive(values)
        return {name: values[name] for name in self._params if name in values and name not in off}

    def complete(self, given: Mapping[str, Value], u: npt.ArrayLike) -> dict[str, Value]:
        """``given`` (valid, as :meth:`validate` with ``partial=True`` returns them) with
        every other active parameter's value read at the cube point ``u``: an enqueued
        trial's values left out are drawn there."""
        drawn = self._decode_all(u)
        merged = {name: given.get(name, drawn[name]) for name in self._params}
        return self.drop_inactive(merged) if self._rules else merged

    def inactive_mask(self, points: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Which coordinates of cube points, shape ``(n, d)``, belong to parameters that
        the point leaves inactive (all False for a space without conditions)."""
        cube = np.atleast_2d(np.asarray(points, dtype=np.float64))
        mask = np.zeros(cube.shape, dtype=bool)
        for rule in self._rules:
            holds = np.ones(cube.shape[0], dtype=bool)
            for p in rule.parents:
                size = self._params[p.name].n_values
                option = np.minimum(
                    (np.clip(cube[:, p.index], 0.0, 1.0) * size).astype(int), size - 1
                )
                holds &= np.isin(option, list(p.options)) & ~mask[:, p.index]
            mask[:, rule.index] = ~holds
        return mask

    def fill_inactive(
        self, points: npt.ArrayLike, values: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        """``points`` (``(d,)`` or ``(n, d)``) with each coordinate they leave inactive
        taken from ``values`` (broadcast to them). An inactive coordinate holds the
        placeholder :data:`INACTIVE`, not a value of the point: a method that moves
        points (``evolution``'s crossover and mutation) fills it first, so that a move
        which activates the parameter does not start it at the middle of its range."""
        array = np.asarray(points, dtype=np.float64)
        filled = np.where(self.inactive_mask(array), values, np.atleast_2d(array))
        return np.asarray(filled.reshape(array.shape), dtype=np.float64)

    def why_inactive(self, values: Mapping[str, object]) -> dict[str, str]:
        """Each parameter ``values`` (valid, as stored) leave inactive, in the space's
        order, with why: the parents' values that fail its condition (``kernel='linear'``),
        or a parent that is inactive itself (``shrink inactive``), as ``hpotrack trial``
        shows it."""
        return space_inactive.why_inactive(self._params, self._rules, values)

    def encode(self, params: Mapping[str, object]) -> npt.NDArray[np.float64]:
        """The point of the unit cube, shape (d,), of a full set of valid values."""
        self.check_names(params)
        u = np.empty(len(self._params), dtype=np.float64)
        if self._rules:
            space_inactive.check_active(self._params, self._rules, params)
            for i, (name, param) in enumerate(self._params.items()):
                u[i] = param.encode(params[name], name) if name in params else INACTIVE
            return u
        for i, (name, param) in enumerate(self._params.items()):
            u[i] = param.encode(params[name], name)  # a message names the parameter
        return u

    def encode_many(self, rows: Sequence[Mapping[str, Value]]) -> npt.NDArray[np.float64]:
        """The cube points, shape ``(len(rows), d)``, of many stored (valid) parameter
        dicts: :meth:`encode` row by row, vectorised per parameter (encoding 1,000 trials
        one by one costs tens of milliseconds, more than the rest of a model's ask)."""
        out = np.empty((len(rows), len(self._params)), dtype=np.float64)
        for j, (name, param) in enumerate(self._params.items()):
            if param.when is None:
                out[:, j] = _encode_column(param, [row[name] for row in rows])
                continue
            present = [i for i, row in enumerate(rows) if name in row]
            out[:, j] = INACTIVE
            if present:
                out[present, j] = _encode_column(param, [rows[i][name] for i in present])
        return out

    def decode(self, u: npt.ArrayLike) -> dict[str, Value]:
        """The values at a point of the unit cube (clipped into it), without those of the
        parameters the point leaves inactive."""
        out = self._decode_all(u)
        return self.drop_inactive(out) if self._rules else out

    def _decode_all(self, u: npt.ArrayLike) -> dict[str, Value]:
        """Every parameter's value at a point of the unit cube, active or not."""
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

    def grid_size(self, grid_points: int | None = None) -> int:
        """The number of grid cells: the product of each parameter's grid length, counted
        without listing whole ranges (``auto`` asks for any space); with conditions, the
        sum over branches of the product over the parameters each keeps active."""
        return self._grids.size(grid_points)

    def on_grid(self, params: Mapping[str, Value], grid_points: int | None = None) -> bool:
        """Whether ``params`` (valid values of the space) is a cell of the grid: each value
        is one of its parameter's grid values, equal to 12 significant digits as in
        :meth:`key`. A whole discrete range holds every valid value; the other grids are
        lists (``grid_points`` long, or a Choice's options), compared as keys."""
        return self._grids.holds(params, grid_points)

    def grid_cell(self, index: int, grid_points: int | None = None) -> dict[str, Value]:
        """Cell ``index`` of the grid, in mixed radix with the first parameter slowest."""
        return self._grids.cell(index, grid_points)

    def key(self, params: Mapping[str, Value], names: Iterable[str] | None = None) -> str:
        """A stable text key for a full set of values (or for those of ``names``), the
        same for values equal to 12 significant digits (a grid point computed two ways,
        an enqueued ``0.1``): what says that two trials ran the same configuration."""
        listed = self._params if names is None else names
        if self._rules:  # an inactive parameter's place holds [], which no value is
            return json.dumps(
                [_key_value(params[n]) if n in params else [] for n in listed],
                separators=(",", ":"),
                ensure_ascii=False,
            )
        return json.dumps(
            [_key_value(params[name]) for name in listed],
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
            with about_parameter(str(name)):
                params[name] = param_from_json(item)
        return cls(params)


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

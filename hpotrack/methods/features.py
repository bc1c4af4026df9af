"""Unit-cube points <-> the feature rows ``bayes``'s Gaussian processes take.

A numeric parameter keeps its unit-cube coordinate (an integer or stepped value snapped to
its bin's centre, so that every point of a bin is one feature), a categorical one becomes
its option's index, which :mod:`hpotrack.methods.gp`'s Hamming term compares. The
objective's model and the constraints' (:mod:`hpotrack.methods.feasibility`) share them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt

from hpotrack.params import Choice, Float, Int
from hpotrack.space import Space, Value
from hpotrack.space_rules import INACTIVE

Array = npt.NDArray[np.float64]
Score = Callable[[Array, bool], tuple[Array, Array]]
"""An acquisition: its values at feature rows, and its gradient in them if asked."""


class Features:
    """Unit-cube points <-> GP feature rows: numeric parameters keep their coordinate
    (integers and steps snapped to their bin's centre), categorical ones become an index."""

    def __init__(self, space: Space) -> None:
        self.space = space
        params = list(space.values())
        self.categorical = np.array([isinstance(p, Choice) for p in params])
        self.continuous = np.array([not p.is_discrete for p in params])
        self.discrete = ~self.categorical & ~self.continuous
        self.sizes = np.array([p.n_values for p in params], dtype=float)

    def of(self, params: list[Mapping[str, Value]]) -> Array:
        """Feature rows of stored (valid) parameter sets: ``space.encode`` column by column,
        vectorised for numeric parameters (per-row encoding dominated the ask's cost)."""
        return self.of_unit(self.space.encode_many(params))

    def of_unit(self, unit: Array) -> Array:
        """Feature rows of unit-cube points (vectorised ``encode(decode(u))``); a
        coordinate the point leaves inactive is the constant :data:`INACTIVE`, as
        :meth:`Space.encode` gives it, so the GP sees one value there (imputation)."""
        unit = np.clip(unit, 0.0, 1.0)
        if self.space.is_conditional:
            unit = np.where(self.space.inactive_mask(unit), INACTIVE, unit)
        out: Array = unit.copy()
        for j, param in enumerate(self.space.values()):
            if isinstance(param, Choice):
                out[:, j] = np.minimum(np.floor(unit[:, j] * self.sizes[j]), self.sizes[j] - 1)
            elif param.is_discrete:
                out[:, j] = _snap(param, unit[:, j])
        return out

    def to_unit(self, features: Array) -> Array:
        """Unit-cube points of feature rows (an option index goes to its bin's centre)."""
        out: Array = features.copy()
        cat = self.categorical
        out[:, cat] = (features[:, cat] + 0.5) / self.sizes[cat]
        return out

    def improve_discrete(self, points: Array, score: Score) -> tuple[Array, bool]:
        """Move each point to its best neighbour if that scores higher: one bin (or 0.02,
        0.1) either way in each integer/step coordinate, any other option of a Choice."""
        rows, owners = [], []
        for i, point in enumerate(points):
            moves = [
                (j, point[j] + step)
                for j in np.flatnonzero(self.discrete)
                for size in (1.0 / self.sizes[j], 0.02, 0.1)
                for step in (-size, size)
            ] + [
                (j, float(option))
                for j in np.flatnonzero(self.categorical)
                for option in range(int(self.sizes[j]))
                if option != point[j]
            ]
            for j, value in moves:
                rows.append(point.copy())
                rows[-1][j] = value
                owners.append(i)
        if not rows:
            return points, False
        candidates = self.of_unit(self.to_unit(np.array(rows)))
        values, current = score(candidates, False)[0], score(points, False)[0]
        out, moved_any = points.copy(), False
        for row, owner, value in zip(candidates, owners, values, strict=True):
            if value > current[owner] + 1e-12:
                out[owner], current[owner], moved_any = row, value, True
        return out, moved_any


def _snap(param: Int | Float, u: Array) -> Array:
    """``encode(decode(u))`` for an Int or stepped Float, for many points at once."""
    if isinstance(param, Int) and param.log:
        a, b = math.log(param.low - 0.5), math.log(param.high + 0.5)
        x = np.clip(np.floor(np.exp(a + u * (b - a)) + 0.5), param.low, param.high)
        middle = (np.log(x - 0.5) + np.log(x + 0.5)) / 2
        return np.asarray(np.clip((middle - a) / (b - a), 0.0, 1.0))
    count = param.n_values
    return np.asarray((np.minimum(np.floor(u * count), count - 1) + 0.5) / count)

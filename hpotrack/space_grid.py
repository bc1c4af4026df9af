"""A space's grids: how many cells each has, the cell at an index, and whether given values
are a cell (what :meth:`hpotrack.space.Space.grid_size`, :meth:`~hpotrack.space.Space.grid_cell`
and :meth:`~hpotrack.space.Space.on_grid` answer).

Cells are numbered in mixed radix with the first parameter slowest. With conditions, each
assignment of the parents of conditions is a branch holding the cells of the parameters it
keeps active, so that no configuration runs once per value of an inactive parameter.
"""

from __future__ import annotations

import bisect
import itertools
import math
import numbers
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeAlias

from hpotrack.errors import SpaceError
from hpotrack.param_input import Value
from hpotrack.space_rules import Rule, about_parameter

if TYPE_CHECKING:
    from hpotrack.space import Space

_Axis: TypeAlias = tuple[int, Callable[[int], Value]]
"""A parameter's grid: its length, and the value at an index."""

_Branch: TypeAlias = tuple[dict[str, Value], tuple[int, ...]]
"""A grid branch: the values of the parents of conditions, and the positions of the other
parameters it keeps active."""


class Grids:
    """The grids of ``space``, whose conditions are ``rules``: one per ``grid_points``,
    each part computed once, on first use."""

    __slots__ = ("_axes", "_branches", "_keys", "_parents", "_rules", "_space")

    def __init__(self, space: Space, rules: tuple[Rule, ...]) -> None:
        self._space = space
        self._rules = rules
        self._parents = frozenset(p.name for rule in rules for p in rule.parents)
        self._axes: dict[int | None, tuple[_Axis, ...]] = {}
        self._branches: dict[int | None, tuple[list[_Branch], list[int]]] = {}
        self._keys: dict[int | None, dict[str, frozenset[str]]] = {}

    def _axes_of(self, grid_points: int | None) -> tuple[_Axis, ...]:
        """Each parameter's grid as (length, value at an index). A whole discrete range
        is read value by value, never listed: an ``Int`` may have 2**40 values, and
        listing 10**7 took seconds and a gigabyte."""
        if grid_points not in self._axes:
            axes: list[_Axis] = []
            for name, param in self._space.items():
                with about_parameter(name):
                    if grid_points is None and param.is_discrete:
                        axes.append((param.n_values, param.value_at))
                    else:
                        values = param.grid_values(grid_points)
                        axes.append((len(values), values.__getitem__))
            self._axes[grid_points] = tuple(axes)
        return self._axes[grid_points]

    def size(self, grid_points: int | None) -> int:
        """The number of cells: the product of each parameter's grid length, counted
        without listing whole ranges; with conditions, the sum over branches of the
        product over the parameters each keeps active."""
        if self._rules:
            return self._branches_of(grid_points)[1][-1]
        return math.prod(length for length, _ in self._axes_of(grid_points))

    def _branches_of(self, grid_points: int | None) -> tuple[list[_Branch], list[int]]:
        """Each assignment of the parents of conditions (a parent left inactive gets
        none), with the grid axes of the other parameters it keeps active, and the
        running total of cells up to each: every configuration once, none for an
        inactive parameter (a linear kernel is not run once per gamma)."""
        if grid_points not in self._branches:
            space, axes = self._space, self._axes_of(grid_points)
            ruled = {rule.name: rule for rule in self._rules}
            parents = [n for n in space if n in self._parents and n not in ruled]
            parents += [rule.name for rule in self._rules if rule.name in self._parents]
            branches: list[_Branch] = []

            def expand(i: int, assigned: dict[str, Value]) -> None:
                if i == len(parents):
                    off = space.inactive(assigned)
                    free = tuple(
                        j
                        for j, name in enumerate(space)
                        if name not in self._parents and name not in off
                    )
                    branches.append((assigned, free))
                    return
                name = parents[i]
                if name in ruled and name in space.inactive(assigned):
                    expand(i + 1, assigned)
                    return
                length, value_at = axes[list(space).index(name)]
                for k in range(length):
                    expand(i + 1, {**assigned, name: value_at(k)})

            expand(0, {})
            totals = list(
                itertools.accumulate(math.prod(axes[j][0] for j in free) for _, free in branches)
            )
            self._branches[grid_points] = (branches, totals)
        return self._branches[grid_points]

    def holds(self, params: Mapping[str, Value], grid_points: int | None) -> bool:
        """Whether ``params`` (valid values of the space) is a cell: each value is one of
        its parameter's grid values, equal to 12 significant digits as in
        :meth:`Space.key`. A whole discrete range holds every valid value; the other
        grids are lists (``grid_points`` long, or a Choice's options), compared as keys."""
        space = self._space
        if grid_points not in self._keys:
            self._keys[grid_points] = {
                name: frozenset(
                    space.key({name: v}, (name,)) for v in param.grid_values(grid_points)
                )
                for name, param in space.items()
                if grid_points is not None or not param.is_discrete
            }
        listed = self._keys[grid_points]
        return all(
            name not in params or space.key(params, (name,)) in keys
            for name, keys in listed.items()
        )

    def cell(self, index: int, grid_points: int | None) -> dict[str, Value]:
        """Cell ``index``, in mixed radix with the first parameter slowest."""
        size = self.size(grid_points)
        if (
            isinstance(index, bool)
            or not isinstance(index, numbers.Integral)
            or not 0 <= int(index) < size
        ):
            raise SpaceError(f"`0 <= index < {size}` must hold, but got index={index!r}")
        if self._rules:
            return self._branch_cell(int(index), grid_points)
        rest, values = int(index), []
        for length, value_at in reversed(self._axes_of(grid_points)):
            rest, digit = divmod(rest, length)
            values.append(value_at(digit))
        return dict(zip(self._space, reversed(values), strict=True))

    def _branch_cell(self, index: int, grid_points: int | None) -> dict[str, Value]:
        """Cell ``index`` of a conditional space's grid: its branch, then mixed radix over
        the parameters the branch keeps active (the first slowest)."""
        branches, totals = self._branches_of(grid_points)
        b = bisect.bisect_right(totals, index)
        assigned, free = branches[b]
        rest = index - (totals[b - 1] if b else 0)
        axes, values = self._axes_of(grid_points), {}
        for j in reversed(free):
            rest, digit = divmod(rest, axes[j][0])
            values[j] = axes[j][1](digit)
        return {
            name: assigned[name] if name in assigned else values[j]
            for j, name in enumerate(self._space)
            if name in assigned or j in values
        }

"""``grid``: every cell of the space exactly once across all processes, then finished.

Cells are visited in a seeded random order (so a study stopped early has still spread its
trials) and claimed with the key ``grid:<values>`` (:meth:`Space.key`); the store's unique
index on claims makes a second claim of a cell impossible even if two processes raced.
Claims name values, not cell numbers, so a study reopened with another ``grid_points``
skips the points it already ran; a cell that a trial of another origin already has
(enqueued, manual) is not run again either.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from hpotrack.errors import MethodError, SearchExhausted
from hpotrack.methods.base import Method, Proposal
from hpotrack.methods.history import History
from hpotrack.methods.registry import register
from hpotrack.options import check_bool, set_whole
from hpotrack.records import Origin, TrialState
from hpotrack.space import Space
from hpotrack.text import plural

MAX_CELLS = 10**7  # the seeded order is a permutation of the cells: 8 bytes each


@register
@dataclass(frozen=True)
class Grid(Method):
    """Exhaustive grid. ``grid_points`` discretises continuous floats (and thins wide ints)."""

    name = "grid"
    multi_objective = True  # it reads no values
    constrained = True  # it reads no values
    grid_points: int | None = None
    shuffle: bool = True

    def __post_init__(self) -> None:
        if self.grid_points is not None:
            set_whole(self, "grid_points", 2)
        check_bool(self.shuffle, "shuffle")

    def check(self, space: Space) -> None:
        size = space.grid_size(self.grid_points)  # raises for a continuous Float without it
        if size <= MAX_CELLS:
            return
        fewest = space.grid_size(2)  # grid_points=2 thins every parameter but the Choices
        if fewest > MAX_CELLS:
            fix = (
                f"grid_points cannot help: even grid_points=2 leaves {fewest:,} cells "
                "(a Choice keeps all its options); use random or tpe, or fewer parameters"
            )
        else:
            thin = "a smaller grid_points" if self.grid_points else "grid_points=N"
            fix = f"use {thin} to thin wide parameters, or random or tpe"
        raise MethodError(
            f"the grid has {size:,} cells, more than grid search can order ({MAX_CELLS:,}); " + fix
        )

    def ask(self, history: History) -> Proposal:
        size = history.space.grid_size(self.grid_points)
        order = _cell_order(history.seed, size, self.shuffle)
        # Cells are claimed in order, so the claimed ones are mostly a prefix: start after
        # it (cells run otherwise, or claimed under other grid_points, are skipped).
        start = history.claim_count("grid")
        for position in itertools.chain(range(start, size), range(min(start, size))):
            params = history.space.grid_cell(int(order[position]), self.grid_points)
            if not history.has_configuration(params):
                return Proposal(
                    params=params,
                    origin=Origin.GRID.value,
                    claim=f"grid:{history.space.key(params)}",
                )
        failed = _failed_cells(history)
        again = (
            f" ({plural(failed, 'cell')} failed: a grid runs each cell once, so enqueue "
            "the params of a failed one to run it again)"
            if failed
            else ""
        )
        ran = "its one cell has" if size == 1 else f"all {size:,} cells have"
        raise SearchExhausted(f"grid search is complete: {ran} been run{again}")

    def trials_left(self, history: History) -> int:
        """The cells no trial has (in any state, of any origin: :meth:`ask` skips those
        too), counted over the study's distinct configurations. Kept until a trial is
        added (a trial's params never change): a run asks twice, for its log line and
        for its progress bar, and a large grid's count takes a while."""
        space, trials = history.space, history.trials
        key = f"grid:left:{self.grid_points}"
        counted, left = history.cache.get(key, (-1, 0))
        if counted != len(trials):
            covered = sum(
                space.on_grid(trials[number].params, self.grid_points)
                for number in history.configurations()
            )
            counted, left = len(trials), space.grid_size(self.grid_points) - covered
            history.cache[key] = (counted, left)
        return int(left)


def _failed_cells(history: History) -> int:
    """Configurations whose every trial failed (none complete, pruned, or queued to run
    again): read once, when the grid is done."""
    key = history.space.key
    trials = history.trials
    fine = {key(t.params) for t in trials if t.state is not TrialState.FAILED}
    return len({key(t.params) for t in trials if t.state is TrialState.FAILED} - fine)


@lru_cache(maxsize=8)
def _cell_order(seed: int, size: int, shuffle: bool) -> np.ndarray:
    if not shuffle:
        return np.arange(size)
    return np.random.default_rng([seed, size]).permutation(size)

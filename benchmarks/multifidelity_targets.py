"""The issue's targets for ``multifidelity.py``, read off the runs' best-error curves, and
how often each would pass with another set of seeds.

The targets compare medians over seeds (20 by default). Where the errors move in steps of
1/540 and the best ones are rare, whether such a median reaches a level is partly the luck
of the seeds. The benchmark also prints each target's *chance*: how often it passes for
20 seeds drawn (with replacement, the same seeds for every method, as one benchmark run
uses the same seeds for all) from those run. From a run's own 20 seeds, that says how
firm its verdict is; from more, how the verdict of 20 seeds comes out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 1000  # draws of a seed set for a target's chance


def fmt(error: float) -> str:
    """An error for the tables ("-" when there is none yet)."""
    return "-" if math.isinf(error) or math.isnan(error) else f"{error:.4f}"


@dataclass(frozen=True)
class Curves:
    """Runs of one method, one row each: ``within[r, e]``, the best error among the trials
    of run ``r`` that finished by the time ``e`` epochs were consumed (inf before the
    first; the run's final best once it ended); its epochs in all, and its final best."""

    within: np.ndarray
    epochs: np.ndarray
    finals: np.ndarray

    @classmethod
    def of(cls, runs: Sequence[Sequence[tuple[int, float]]], width: int) -> Curves:
        """From each run's (epochs trained, error) per trial in order; ``width`` must
        exceed every run's epochs."""
        within = np.full((len(runs), width), math.inf)
        for row, trials in zip(within, runs, strict=True):
            used = 0
            for trained, error in trials:
                used += trained
                row[used] = min(row[used], error)
            np.minimum.accumulate(row, out=row)
        epochs = np.array([sum(trained for trained, _ in trials) for trials in runs])
        return cls(within, epochs, within[:, -1].copy())

    def take(self, rows: np.ndarray) -> Curves:
        """The runs at ``rows`` (repeats allowed)."""
        return Curves(self.within[rows], self.epochs[rows], self.finals[rows])

    def median_within(self, epochs: int) -> float:
        """The median over runs of the best error within ``epochs``."""
        return float(np.median(self.within[:, min(epochs, self.within.shape[1] - 1)]))

    def medians(self) -> np.ndarray:
        """The median over runs of the best error within e epochs, for every e."""
        found: np.ndarray = np.median(self.within, axis=0)
        return found

    def reach(self, goal: float) -> int | None:
        """The fewest epochs at which the median best error is at or below ``goal``."""
        hits = np.flatnonzero(self.medians() <= goal)
        return int(hits[0]) if hits.size else None


Check = Callable[[Mapping[str, Curves]], tuple[str, bool]]


@dataclass(frozen=True)
class Target:
    """One of the issue's targets: its name, the methods whose runs it reads, and its
    check (what was measured, as text, and whether it holds)."""

    name: str
    methods: tuple[str, ...]
    check: Check

    def chance(self, curves: Mapping[str, Curves], seeds: int, rng: np.random.Generator) -> float:
        """How often the target holds for ``seeds`` seeds drawn from the runs (each
        method's runs are in seed order; a method an error stopped early has fewer, so
        the draws are from the seeds every method has)."""
        n = min(len(curves[m].finals) for m in self.methods)
        passes = 0
        for _ in range(RESAMPLES):
            rows = rng.integers(n, size=seeds)
            passes += self.check({m: curves[m].take(rows) for m in self.methods})[1]
        return passes / RESAMPLES


def task_targets(task: str, columns: Sequence[int]) -> list[Target]:
    """The targets on one task; ``columns``: the epoch budgets the tables compare at."""
    found = [
        Target(
            f"{task}: {method} reaches random's median best with ≤ 1/3 of its epochs",
            ("random", method),
            _reaches(method),
        )
        for method in ("hyperband", "bohb")
    ]
    for theirs, label in (
        ("hyperband", "hyperband"),
        ("optuna-tpe+hyperband", "Optuna TPE+HyperbandPruner"),
    ):
        found.append(
            Target(
                f"{task}: bohb median best at least as good as {label} at equal epochs",
                ("bohb", theirs),
                _at_least_as_good("bohb", theirs, columns),
            )
        )
    return found


def _reaches(method: str) -> Check:
    def check(curves: Mapping[str, Curves]) -> tuple[str, bool]:
        base, mine = curves["random"], curves[method]
        goal, limit = float(np.median(base.finals)), float(np.median(base.epochs)) / 3
        hit = mine.reach(goal)
        ending = f"{fmt(float(np.median(mine.finals)))} with {np.median(mine.epochs):,.0f} epochs"
        measured = f"random: {fmt(goal)}, limit {limit:,.0f} epochs; {method}: " + (
            f"reached at {hit:,}" if hit is not None else f"not reached (ends {ending})"
        )
        return measured, hit is not None and hit <= limit

    return check


def _at_least_as_good(mine: str, theirs: str, columns: Sequence[int]) -> Check:
    """Median best within equal epochs, at the budgets both reached (every run trains the
    whole budget unless an error stopped it): never worse at any of them."""

    def check(curves: Mapping[str, Curves]) -> tuple[str, bool]:
        a, b = curves[mine], curves[theirs]
        end = min(np.median(a.epochs), np.median(b.epochs))
        pairs = [(e, a.median_within(e), b.median_within(e)) for e in columns if e <= end]
        text = ", ".join(f"{fmt(x)} vs {fmt(y)} at {e:,}" for e, x, y in pairs)
        return text, all(x <= y for _, x, y in pairs)

    return check

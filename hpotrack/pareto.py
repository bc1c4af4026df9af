"""Pareto dominance on loss vectors (every objective turned so that lower is better): the
front, non-dominated sorting and crowding distance of NSGA-II (Deb et al. 2002, "A fast
and elitist multiobjective genetic algorithm: NSGA-II", IEEE TEVC 6(2), sections III-A
and III-B), and the hypervolume a front dominates.

Each takes an ``(n, k)`` array of n points' k losses and returns one number per point.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Losses = npt.ArrayLike


def _points(losses: Losses) -> np.ndarray:
    points = np.asarray(losses, dtype=float)
    if points.ndim != 2:
        raise ValueError(f"losses must be an (n, k) array, but got shape {points.shape}")
    return points


def dominates(a: npt.ArrayLike, b: npt.ArrayLike) -> bool:
    """Whether ``a`` is at least as good as ``b`` on every loss and better on one."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.all(a <= b) and np.any(a < b))


def on_front(losses: Losses) -> np.ndarray:
    """A boolean mask of the points no other point dominates (equal points are all on it).

    Points are visited in lexicographic order: a later point cannot dominate an earlier
    one, so each is compared only with the front found so far (and a point some other
    point dominates is dominated by one on the front): O(n log n + n |front| k)."""
    points = _points(losses)
    mask = np.zeros(len(points), dtype=bool)
    if not len(points):
        return mask
    order = np.lexsort(points.T[::-1])
    front = np.empty((0, points.shape[1]))
    for index in order:
        point = points[index]
        beaten = np.all(front <= point, axis=1) & np.any(front < point, axis=1)
        if not beaten.any():
            mask[index] = True
            front = np.vstack([front, point])
    return mask


def ranks(losses: Losses) -> np.ndarray:
    """Each point's non-domination rank (Deb et al. 2002, III-A): 0 for the front, 1 for
    the front of what is left without it, and so on."""
    points = _points(losses)
    rank = np.full(len(points), -1, dtype=int)
    left = np.arange(len(points))
    level = 0
    while len(left):
        mask = on_front(points[left])
        rank[left[mask]] = level
        left = left[~mask]
        level += 1
    return rank


def crowding_distance(losses: Losses) -> np.ndarray:
    """Each point's crowding distance within its set (Deb et al. 2002, III-B): the sum
    over the objectives of the gap between its two neighbours, each objective scaled
    by its range; the extremes of each objective get infinity, so they are kept first."""
    points = _points(losses)
    n, k = points.shape
    distance = np.zeros(n)
    if n <= 2:
        distance[:] = np.inf
        return distance
    for j in range(k):
        order = np.argsort(points[:, j], kind="stable")
        column = points[order, j]
        span = column[-1] - column[0]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0:
            distance[order[1:-1]] += (column[2:] - column[:-2]) / span
    return distance


def hypervolume(losses: Losses, reference: npt.ArrayLike) -> float:
    """The volume of the region the points dominate and ``reference`` bounds (points
    not better than it on every loss add nothing): exact, by slicing along the last
    objective (the HSO scheme of While et al. 2006), for the few objectives and the
    fronts of a study; the measure benchmarks compare fronts with."""
    points = _points(losses)
    ref = np.asarray(reference, dtype=float)
    if ref.shape != (points.shape[1],):
        raise ValueError(f"reference must have {points.shape[1]} losses, but got {ref.shape}")
    inside = points[np.all(points < ref, axis=1)]
    if not len(inside):
        return 0.0
    return _volume(inside[on_front(inside)], ref)


def _volume(front: np.ndarray, ref: np.ndarray) -> float:
    if front.shape[1] == 1:
        return float(ref[0] - front[:, 0].min())
    if front.shape[1] == 2:  # a sweep: sorted by the first loss, the second falls
        order = front[np.argsort(front[:, 0])]
        widths = np.diff(np.append(order[:, 0], ref[0]))
        heights = ref[1] - np.minimum.accumulate(order[:, 1])
        return float(np.sum(widths * heights))
    order = front[np.argsort(front[:, -1])]
    total = 0.0
    for i in range(len(order)):
        upper = order[i + 1, -1] if i + 1 < len(order) else ref[-1]
        if upper <= order[i, -1]:
            continue
        slab = order[: i + 1, :-1]
        total += (upper - order[i, -1]) * _volume(slab[on_front(slab)], ref[:-1])
    return total

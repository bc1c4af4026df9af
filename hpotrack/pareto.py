"""Pareto dominance on loss vectors (every objective turned so that lower is better): the
front, non-dominated sorting and crowding distance of NSGA-II (Deb et al. 2002, "A fast
and elitist multiobjective genetic algorithm: NSGA-II", IEEE TEVC 6(2), sections III-A
and III-B), and the hypervolume a front dominates.

Each takes an ``(n, k)`` array of n points' k losses and returns one number per point.
"""

from __future__ import annotations

import heapq

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


PAIRS_AT_ONCE = 1024
"""Up to this many points of three or more losses, :func:`on_front` compares all pairs in
one array operation (n² k booleans: 3 MB for 1,024 points of three) instead of a loop in
Python over the points, ten times slower for a window of tpe's trials."""


def on_front(losses: Losses) -> np.ndarray:
    """A boolean mask of the points no other point dominates (equal points are all on it).

    Points are visited in lexicographic order: a later point cannot dominate an earlier
    one, so each is compared only with the front found so far (and a point some other
    point dominates is dominated by one on the front): O(n log n + n |front| k). With
    two losses, a sweep in that order: a point is dominated when an earlier point other
    than its equals has no larger second loss (O(n log n), without a loop in Python). Up
    to :data:`PAIRS_AT_ONCE` points of more losses, every pair is compared at once."""
    points = _points(losses)
    mask = np.zeros(len(points), dtype=bool)
    if not len(points):
        return mask
    if points.shape[1] == 2:
        return _on_front_of_two(points)
    if len(points) <= PAIRS_AT_ONCE:
        left, right = points[:, None, :], points[None, :, :]
        dominates_pair = np.all(left <= right, axis=2) & np.any(left < right, axis=2)
        undominated: np.ndarray = ~dominates_pair.any(axis=0)  # [j, i]: j dominates i
        return undominated
    order = np.lexsort(points.T[::-1])
    front = np.empty((0, points.shape[1]))
    for index in order:
        point = points[index]
        beaten = np.all(front <= point, axis=1) & np.any(front < point, axis=1)
        if not beaten.any():
            mask[index] = True
            front = np.vstack([front, point])
    return mask


def _on_front_of_two(points: np.ndarray) -> np.ndarray:
    order = np.lexsort((points[:, 1], points[:, 0]))
    swept = points[order]
    n = len(swept)
    starts_group = np.ones(n, dtype=bool)  # equal points are neighbours in this order
    starts_group[1:] = np.any(swept[1:] != swept[:-1], axis=1)
    group_start = np.maximum.accumulate(np.where(starts_group, np.arange(n), 0))
    lowest_before = np.empty(n)  # lowest second loss among the points before each
    lowest_before[0] = np.inf
    lowest_before[1:] = np.minimum.accumulate(swept[:-1, 1])
    mask = np.zeros(n, dtype=bool)
    mask[order] = lowest_before[group_start] > swept[:, 1]
    return mask


class Front:
    """The Pareto front of points added one at a time, by number: a point joins unless a
    member dominates it and pushes out the members it dominates, so the members are the
    front of every point added (domination is transitive: a point pushed out never needs
    to come back). What a study's history keeps as trials complete, never recomputed."""

    def __init__(self) -> None:
        self._members: dict[int, tuple[float, ...]] = {}

    def __bool__(self) -> bool:
        return bool(self._members)

    def numbers(self) -> list[int]:
        """The members' numbers, ascending."""
        return sorted(self._members)

    def add(self, number: int, loss: tuple[float, ...]) -> None:
        """Offer point ``number`` with losses ``loss`` (a number already added is kept)."""
        if number in self._members:
            return
        if self._members:
            members = np.array(list(self._members.values()))
            point = np.array(loss)
            if (np.all(members <= point, axis=1) & np.any(members < point, axis=1)).any():
                return
            beats = np.all(point <= members, axis=1) & np.any(point < members, axis=1)
            for member, out in zip(list(self._members), beats, strict=True):
                if out:
                    del self._members[member]
        self._members[number] = loss

    def changed_at(self) -> int | None:
        """The number that last changed the front: the newest of its points, each counted
        at its earliest number (a point repeating a member's losses joins but changes
        nothing, as a tie does not improve on one best value); None while empty. A pass
        over the members only."""
        if not self._members:
            return None
        first_at: dict[tuple[float, ...], int] = {}
        for number, loss in self._members.items():
            first_at[loss] = min(number, first_at.get(loss, number))
        return max(first_at.values())


def ranks(losses: Losses, enough: int | None = None) -> np.ndarray:
    """Each point's non-domination rank (Deb et al. 2002, III-A): 0 for the front, 1 for
    the front of what is left without it, and so on.

    ``enough``: peel fronts only until at least that many points are ranked; every point
    left gets the next rank (it is behind every front peeled). A caller that needs only
    the best few (tpe's good set) then pays for their fronts, not for all of them: each
    front costs a pass over the points left."""
    points = _points(losses)
    rank = np.full(len(points), -1, dtype=int)
    left = np.arange(len(points))
    level = 0
    while len(left) and (enough is None or len(points) - len(left) < enough):
        mask = on_front(points[left])
        rank[left[mask]] = level
        left = left[~mask]
        level += 1
    rank[left] = level
    return rank


def crowded_order(losses: Losses, keep: int | None = None) -> list[int]:
    """Indices of the best ``keep`` points (None: all), best first by NSGA-II's
    crowded-comparison operator (Deb et al. 2002, III-C): a lower non-domination rank
    first; within a rank, a larger crowding distance among the points of that rank;
    ties in the order given. As NSGA-II fills its next population, fronts are peeled
    only until they hold ``keep`` points (:func:`ranks` with ``enough``): the worse ones
    are never sorted (on ZDT1, a population of 10 from a window of 100 trials took 1.1
    of their 14 fronts per ask on average)."""
    points = _points(losses)
    keep = len(points) if keep is None else min(keep, len(points))
    rank = ranks(points, enough=keep)
    distance = np.zeros(len(points))
    for level in range(int(rank.max(initial=-1)) + 1):
        members = np.flatnonzero(rank == level)
        distance[members] = crowding_distance(points[members])
    order = np.lexsort((np.arange(len(points)), -distance, rank))
    return [int(i) for i in order[:keep]]


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
    if inside.shape[1] <= 2:  # the sweep's running minimum passes over dominated points
        return _volume(inside, ref)
    return _volume(inside[on_front(inside)], ref)


def greedy_hypervolume_subset(losses: Losses, reference: npt.ArrayLike, count: int) -> np.ndarray:
    """Indices of ``count`` of the points (all, if fewer), chosen one at a time, each the
    one that adds the most hypervolume (up to ``reference``) to those chosen before, in
    the order chosen; equal gains go to the lower index. The greedy answer to the
    hypervolume subset selection problem, within a factor ``1 - 1/e`` of the best subset
    since the hypervolume is monotone and submodular (Guerreiro, Fonseca & Paquete 2016,
    "Greedy hypervolume subset selection in low dimensions", Evol. Comput. 24(3), 521).

    Lazy (Minoux 1978, "Accelerated greedy algorithms for maximizing submodular set
    functions"): by submodularity a point's gain only shrinks as more are chosen, so a
    gain computed earlier bounds it, and only the point with the best bound is computed
    again; it is chosen once its fresh gain still tops every bound. With two losses,
    every point's gain is computed at once each round instead (:func:`_volumes_of_two`):
    a front of a thousand points costs milliseconds."""
    points = _points(losses)
    ref = np.asarray(reference, dtype=float)
    if ref.shape != (points.shape[1],):
        raise ValueError(f"reference must have {points.shape[1]} losses, but got {ref.shape}")
    if points.shape[1] == 2:
        return _greedy_of_two(points, ref, count)
    boxes = np.prod(np.clip(ref - points, 0.0, None), axis=1)  # gains with nothing chosen
    bounds = [(-float(gain), index) for index, gain in enumerate(boxes)]
    heapq.heapify(bounds)
    computed_at = [0] * len(points)  # how many were chosen when each gain was computed
    chosen: list[int] = []
    volume = 0.0
    while bounds and len(chosen) < count:
        _, index = heapq.heappop(bounds)
        if computed_at[index] == len(chosen):  # fresh, and no bound beats it
            chosen.append(index)
            volume = hypervolume(points[chosen], ref)
            continue
        gain = hypervolume(points[[*chosen, index]], ref) - volume
        computed_at[index] = len(chosen)
        heapq.heappush(bounds, (-gain, index))
    return np.array(chosen, dtype=np.intp)


def _greedy_of_two(points: np.ndarray, ref: np.ndarray, count: int) -> np.ndarray:
    chosen: list[int] = []
    volume = 0.0
    while len(chosen) < min(count, len(points)):
        each_added = np.concatenate(
            [np.broadcast_to(points[chosen], (len(points), len(chosen), 2)), points[:, None, :]],
            axis=1,
        )
        gains = _volumes_of_two(each_added, ref) - volume
        gains[chosen] = -np.inf
        best = int(np.argmax(gains))  # the first of equal gains
        chosen.append(best)
        volume += float(gains[best])
    return np.array(chosen, dtype=np.intp)


def _volumes_of_two(sets: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """The hypervolume of each of ``sets`` (shape ``(m, p, 2)``: m sets of p points of
    two losses), by :func:`_volume`'s sweep over all at once. A point is first moved to
    the reference wherever it is beyond it, which leaves what it dominates inside
    unchanged (nothing, if it is beyond on either loss)."""
    inside = np.minimum(sets, ref)
    order = np.argsort(inside[..., 0], axis=1, kind="stable")
    first = np.take_along_axis(inside[..., 0], order, axis=1)
    second = np.take_along_axis(inside[..., 1], order, axis=1)
    widths = np.diff(first, axis=1, append=np.full((len(sets), 1), ref[0]))
    heights = ref[1] - np.minimum.accumulate(second, axis=1)
    volumes: np.ndarray = np.sum(widths * heights, axis=1)
    return volumes


SLABS_AT_ONCE = 256
"""Three losses, up to this many points: every slab's area in one array operation
(:func:`_volume_of_three`, n² points' worth of memory), not one slab at a time."""


def _volume_of_three(order: np.ndarray, ref: np.ndarray) -> float:
    """The hypervolume of points of three losses sorted by the third: slab i, between
    the third losses of points i and i + 1, has the area the first i + 1 points dominate
    in the first two, all slabs' areas computed at once (:func:`_volumes_of_two`, the
    points not in a slab moved to the reference, where they dominate nothing)."""
    n = len(order)
    tops = np.append(order[1:, 2], ref[2])
    heights = tops - order[:, 2]
    inside = np.tril(np.ones((n, n), dtype=bool))[..., None]  # slab i holds points 0..i
    slabs = np.where(inside, order[None, :, :2], ref[:2])
    return float(np.sum(heights * _volumes_of_two(slabs, ref[:2])))


def _volume(front: np.ndarray, ref: np.ndarray) -> float:
    if front.shape[1] == 1:
        return float(ref[0] - front[:, 0].min())
    if front.shape[1] == 2:  # a sweep: sorted by the first loss, the second falls
        order = front[np.argsort(front[:, 0])]
        widths = np.diff(np.append(order[:, 0], ref[0]))
        heights = ref[1] - np.minimum.accumulate(order[:, 1])
        return float(np.sum(widths * heights))
    order = front[np.argsort(front[:, -1])]
    if front.shape[1] == 3 and len(order) <= SLABS_AT_ONCE:
        return _volume_of_three(order, ref)
    total = 0.0
    for i in range(len(order)):
        upper = order[i + 1, -1] if i + 1 < len(order) else ref[-1]
        if upper <= order[i, -1]:
            continue
        slab = order[: i + 1, :-1]
        total += (upper - order[i, -1]) * _volume(slab[on_front(slab)], ref[:-1])
    return float(total)

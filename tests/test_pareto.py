"""Pareto dominance, checked against the definitions computed the slow way."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpotrack import pareto

points = st.integers(1, 3).flatmap(
    lambda k: st.lists(
        st.lists(st.integers(0, 4).map(float), min_size=k, max_size=k), min_size=0, max_size=25
    )
)


def dominated_by_any(losses: np.ndarray, i: int) -> bool:
    return any(pareto.dominates(losses[j], losses[i]) for j in range(len(losses)) if j != i)


@given(points)
def test_the_front_is_the_points_no_other_dominates(raw: list[list[float]]) -> None:
    losses = np.array(raw, dtype=float).reshape(len(raw), -1 if raw else 1)
    mask = pareto.on_front(losses)
    assert list(mask) == [not dominated_by_any(losses, i) for i in range(len(losses))]


@given(points, st.randoms(use_true_random=False))
def test_a_front_kept_point_by_point_is_the_front_of_all_the_points(
    raw: list[list[float]], draw: random.Random
) -> None:
    """Points offered in any order (trials complete in any order): the members are the
    points no other dominates, and the last change is the newest member counted at the
    earliest number of its losses."""
    losses = np.array(raw, dtype=float).reshape(len(raw), -1 if raw else 1)
    order = list(range(len(raw)))
    draw.shuffle(order)
    front = pareto.Front()
    for number in order:
        front.add(number, tuple(losses[number]))
    members = np.flatnonzero(pareto.on_front(losses)).tolist() if raw else []
    assert front.numbers() == members and bool(front) == bool(members)
    earliest = {
        tuple(losses[n]): min(m for m in members if tuple(losses[m]) == tuple(losses[n]))
        for n in members
    }
    assert front.changed_at() == (max(earliest.values()) if members else None)


@given(points)
def test_ranks_peel_fronts_and_a_dominated_point_ranks_after_its_dominator(
    raw: list[list[float]],
) -> None:
    losses = np.array(raw, dtype=float).reshape(len(raw), -1 if raw else 1)
    ranks = pareto.ranks(losses)
    for i, j in itertools.permutations(range(len(losses)), 2):
        if pareto.dominates(losses[i], losses[j]):
            assert ranks[i] < ranks[j]
    for level in set(ranks.tolist()):  # each rank is the front of what ranks at or after it
        rest = losses[ranks >= level]
        assert list(pareto.on_front(rest)) == list(ranks[ranks >= level] == level)


@given(points, st.integers(0, 30))
def test_ranks_up_to_enough_are_the_full_ranks_and_the_rest_share_the_next(
    raw: list[list[float]], enough: int
) -> None:
    """Fronts are peeled until ``enough`` points are ranked, at the first rank ``stop``
    with that many before it; every point behind gets ``stop``."""
    losses = np.array(raw, dtype=float).reshape(len(raw), -1 if raw else 1)
    full = pareto.ranks(losses)
    levels = range(len(losses) + 1)
    stop = next((level for level in levels if np.count_nonzero(full < level) >= enough), None)
    expected = full if stop is None else np.minimum(full, stop)
    assert list(pareto.ranks(losses, enough=enough)) == list(expected)


def naive_greedy(losses: np.ndarray, reference: list[float], count: int) -> list[int]:
    """The greedy subset computed the slow way: every gain, every round."""
    chosen: list[int] = []
    while len(chosen) < min(count, len(losses)):
        base = pareto.hypervolume(losses[chosen], reference) if chosen else 0.0
        gains = [
            -np.inf if i in chosen else pareto.hypervolume(losses[[*chosen, i]], reference) - base
            for i in range(len(losses))
        ]
        chosen.append(int(np.argmax(gains)))
    return chosen


@given(
    st.integers(2, 3).flatmap(
        lambda k: st.lists(
            st.lists(st.floats(0, 1.2), min_size=k, max_size=k), min_size=1, max_size=12
        )
    ),
    st.integers(0, 14),
)
def test_greedy_hypervolume_subset_adds_the_largest_gain_each_time(
    raw: list[list[float]], count: int
) -> None:
    """The lazy greedy (three losses) and the all-at-once one (two) choose a subset of the
    volume the slow greedy's has (which points, among equal gains, may differ)."""
    losses = np.array(raw)
    reference = [1.0] * losses.shape[1]
    chosen = pareto.greedy_hypervolume_subset(losses, reference, count)
    slow = naive_greedy(losses, reference, count)
    assert len(chosen) == len(set(chosen.tolist())) == len(slow)
    volume = pareto.hypervolume(losses[chosen], reference) if len(chosen) else 0.0
    assert volume == pytest.approx(
        pareto.hypervolume(losses[slow], reference) if slow else 0.0, abs=1e-12
    )


def test_greedy_hypervolume_subset_of_a_known_front() -> None:
    """Up to (6, 6) the points' boxes are 5x1, 4x4 and 1x5: (2, 2) first (16), then
    (1, 5) and (5, 1) add a 1x1 square each, and the lower index goes first."""
    losses = [[1.0, 5.0], [2.0, 2.0], [5.0, 1.0]]
    assert pareto.greedy_hypervolume_subset(losses, [6, 6], 2).tolist() == [1, 0]
    three = [[1.0, 5.0, 0.0], [2.0, 2.0, 0.0], [5.0, 1.0, 0.0]]
    assert pareto.greedy_hypervolume_subset(three, [6, 6, 1], 3).tolist() == [1, 0, 2]


def test_crowding_distance_keeps_the_extremes_and_sums_the_scaled_gaps() -> None:
    losses = np.array([[0.0, 4.0], [1.0, 2.0], [3.0, 1.0], [4.0, 0.0]])
    distance = pareto.crowding_distance(losses)
    assert np.isinf(distance[[0, 3]]).all()
    assert distance[1] == pytest.approx((3 - 0) / 4 + (4 - 1) / 4)
    assert distance[2] == pytest.approx((4 - 1) / 4 + (2 - 0) / 4)
    assert np.isinf(pareto.crowding_distance(losses[:2])).all()


def test_hypervolume_of_known_fronts() -> None:
    assert pareto.hypervolume([[1.0, 5.0], [2.0, 3.0], [4.0, 1.0], [3.0, 4.0]], [6, 6]) == 17.0
    assert pareto.hypervolume([[0.0, 0.0, 0.0]], [1, 2, 3]) == 6.0
    assert pareto.hypervolume([[2.0, 2.0]], [1, 1]) == 0.0  # outside the reference
    cube = [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]  # 3 slabs of 0.5 overlapping
    assert pareto.hypervolume(cube, [1, 1, 1]) == pytest.approx(3 * 0.25 - 3 * 0.125 + 0.125)


@given(st.lists(st.lists(st.floats(0, 1), min_size=3, max_size=3), min_size=1, max_size=12))
def test_hypervolume_in_three_dimensions_is_inclusion_exclusion(raw: list[list[float]]) -> None:
    """The exact volume of a union of boxes [p, 1]^3, by inclusion-exclusion over subsets
    (small sets only): the slicing must agree."""
    boxes = np.array(raw)
    total = 0.0
    for size in range(1, len(boxes) + 1):
        if size > 6:
            break
        for subset in itertools.combinations(range(len(boxes)), size):
            corner = boxes[list(subset)].max(axis=0)
            total += (-1) ** (size + 1) * float(np.prod(1.0 - corner))
    if len(boxes) <= 6:
        assert pareto.hypervolume(boxes, [1, 1, 1]) == pytest.approx(total, abs=1e-9)


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match=r"losses must be an \(n, k\) array"):
        pareto.on_front([1.0, 2.0])
    with pytest.raises(ValueError, match="reference must have 2 losses"):
        pareto.hypervolume([[1.0, 2.0]], [3.0])
    with pytest.raises(ValueError, match="reference must have 2 losses"):
        pareto.greedy_hypervolume_subset([[1.0, 2.0]], [3.0], 1)


@given(st.lists(st.lists(st.integers(0, 4).map(float), min_size=3, max_size=4), min_size=1,
                max_size=30).filter(lambda rows: len({len(r) for r in rows}) == 1))  # fmt: skip
def test_the_array_and_the_loop_ways_agree(raw: list[list[float]]) -> None:
    """Small sets of three or more losses take one array operation (every pair for the
    front, every slab for the volume); large ones a loop: the same answers."""
    losses = np.array(raw)
    reference = np.full(losses.shape[1], 5.0)
    front, volume = pareto.on_front(losses), pareto.hypervolume(losses, reference)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pareto, "PAIRS_AT_ONCE", 0)
        patch.setattr(pareto, "SLABS_AT_ONCE", 0)
        assert list(pareto.on_front(losses)) == list(front)
        assert pareto.hypervolume(losses, reference) == pytest.approx(volume, abs=1e-9)


def test_crowded_order_is_rank_first_then_crowding_distance() -> None:
    """Deb et al. 2002, III-C, on points whose ranks and distances are worked out by
    hand: the front (0, 10), (1, 5), (2, 4.9), (10, 0) has the extremes at infinity,
    (2, 4.9) at 0.9 + 0.5 and (1, 5) at 0.2 + 0.51; (0.5, 10.5) and (11, 1) are rank 1,
    whose distances (infinite, as extremes of their rank) do not lift them."""
    losses = [(0.5, 10.5), (1, 5), (0, 10), (11, 1), (2, 4.9), (10, 0)]
    assert pareto.crowded_order(losses) == [2, 5, 4, 1, 0, 3]
    assert pareto.crowded_order(losses, keep=3) == [2, 5, 4]
    assert pareto.crowded_order(losses, keep=10) == [2, 5, 4, 1, 0, 3]
    assert pareto.crowded_order(np.empty((0, 2)), keep=3) == []


@pytest.mark.parametrize("seed", range(5))
def test_crowded_order_agrees_with_the_ranks_and_distances_of_pareto(seed: int) -> None:
    """Peeling only the fronts it needs orders points as sorting them all would."""
    rng = np.random.default_rng(seed)
    losses = rng.integers(0, 6, size=(40, 2 + seed % 2)).astype(float)  # ties, repeats
    rank = pareto.ranks(losses)
    distance = np.zeros(len(losses))
    for level in set(rank.tolist()):
        members = np.flatnonzero(rank == level)
        distance[members] = pareto.crowding_distance(losses[members])
    expected = sorted(range(len(losses)), key=lambda i: (rank[i], -distance[i], i))
    assert pareto.crowded_order(losses) == expected
    assert pareto.crowded_order(losses, keep=7) == expected[:7]

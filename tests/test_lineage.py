"""``hpotrack.lineage``: chains of trials that continue each other, and their curves."""

from __future__ import annotations

from hpotrack.lineage import Points, best_final, finals, whole_curve
from hpotrack.records import Edge, TrialRecord, TrialState

TRIALS = [
    TrialRecord(0, TrialState.PRUNED, {"x": 0.1}, checks={3: 0.7}),  # stopped at rung 3
    TrialRecord(1, TrialState.COMPLETE, {"x": 0.1}, parents=(Edge(0, "promoted", step=3),)),
]
PARENT: Points = {"loss": [(1, 0.9), (2, 0.8), (3, 0.7)]}


def whole_from(first_step: int) -> Points:
    """Trial 1's whole curve when it reported from ``first_step`` on."""
    own: Points = {"loss": [(step, 0.5 / step) for step in range(first_step, 10)]}
    return whole_curve(TRIALS, 1, {0: PARENT, 1: own}.__getitem__)


def steps(points: Points) -> list[int]:
    return [step for step, _ in points["loss"]]


def test_a_promotion_from_the_rung_puts_its_parents_points_in_front() -> None:
    assert steps(whole_from(4)) == list(range(1, 10))


def test_a_promotion_that_loaded_an_earlier_checkpoint_keeps_the_steps_before_it() -> None:
    """Checkpoints every other epoch: the promotion loaded step 2 and trained 3 again;
    step 2 was missing (the child's step 3 read as training from scratch)."""
    whole = whole_from(3)
    assert steps(whole) == list(range(1, 10))
    assert whole["loss"][2] == (3, 0.5 / 3)  # the promotion's own step 3, not the parent's


def test_a_promotion_that_trained_from_scratch_has_nothing_in_front() -> None:
    assert whole_from(1) == {"loss": [(step, 0.5 / step) for step in range(1, 10)]}


def test_a_members_final_segment_is_its_highest_numbered_in_any_order() -> None:
    """``finals`` kept the last segment it iterated: given trials best first (as ``show
    --top`` ranks them), a member's mid-run segment passed for its final one."""
    segments = [
        TrialRecord(n, TrialState.COMPLETE, {"lr": 0.1}, value=v, claim=f"pbt:{member}:{index}")
        for n, member, index, v in [(0, 0, 0, 0.1), (1, 1, 0, 0.2), (2, 0, 1, 0.9), (3, 1, 1, 0.8)]
    ]
    alone = TrialRecord(4, TrialState.COMPLETE, {"lr": 0.1}, value=0.5)
    for order in ([*segments, alone], [alone, *reversed(segments)]):
        assert [t.number for t in finals(order)] == [2, 3, 4]
    assert best_final(list(reversed(segments)), "minimize") == segments[3]

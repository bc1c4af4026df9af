"""``hpotrack.limits``: when an ask may start no more trials, and how that is said."""

from __future__ import annotations

from hpotrack import limits
from hpotrack.methods.history import History
from hpotrack.records import Edge, TrialRecord, TrialState
from hpotrack.space import Float, Space


def test_the_target_message_counts_the_lost_trials_a_retry_replaced() -> None:
    """A retry replaces the lost trial in the count, so "has 2 trials" of a study whose
    ``trials`` lists 3 read as a miscount; the message now says which one is left out."""
    history = History(Space({"x": Float(0.0, 1.0)}), "minimize", 0)
    lost = TrialRecord(0, TrialState.FAILED, {"x": 0.5}, error="worker lost")
    retry = TrialRecord(
        1, TrialState.COMPLETE, {"x": 0.5}, value=1.0, origin="retried",
        parents=(Edge(0, "retried"),),
    )  # fmt: skip
    for record in (lost, retry, TrialRecord(2, TrialState.COMPLETE, {"x": 0.1}, value=0.1)):
        history.update(record)
    stop = limits.reached(history, 2, None, "s")
    assert stop is not None
    assert str(stop) == (
        "study 's' has 2 trials (besides 1 lost or interrupted trial a retry replaced): the target "
        "of 2 is reached"
    )
    assert limits.reached(history, 3, None, "s") is None

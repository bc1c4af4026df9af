"""``hpotrack.retries``: which failed trials run again (the decision, on records; the
resuming from checkpoints is tested with real kill -9 in test_recovery and
test_multifidelity), and how one transaction numbers their retries."""

from __future__ import annotations

from pathlib import Path

import pytest

import hpotrack as hp
from hpotrack.records import Edge, TrialRecord, TrialState
from hpotrack.retries import Batch, Retry, is_interruption, retry_of

LOST = "worker lost: process 1 on vm is gone"
CTRL_C = "interrupted (KeyboardInterrupt)"


def decide(db: Path, record: TrialRecord, reason: str, retries: int) -> Retry | None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="r", db=db, seed=0,
             retries=retries)  # fmt: skip
    def f(x: float) -> float:
        return x

    f.optimize(n_trials=3)
    study = f.study
    row = study.store.find_study("r")
    assert row is not None
    history = study.refresh()
    return retry_of(
        record, 0, reason, method=study.method, history=history, store=study.store, study=row
    )


@pytest.mark.parametrize(
    ("origin", "reason", "retries", "retried"),
    [
        ("sampled", LOST, 1, True),
        ("sampled", LOST, 0, False),  # retries counts lost workers
        ("sampled", CTRL_C, 0, True),  # an interruption is not the configuration's fault
        ("sampled", "interrupted (SIGTERM)", 0, True),
        ("manual", CTRL_C, 1, False),  # the user's own run
        ("manual", LOST, 1, False),
    ],
)
def test_who_is_retried(db: Path, origin: str, reason: str, retries: int, retried: bool) -> None:
    record = TrialRecord(1, TrialState.FAILED, {"x": 0.5}, origin=origin, error=reason)
    retry = decide(db, record, reason, retries)
    assert (retry is not None) is retried
    if retry is not None:  # without a checkpoint of its own: from where it started
        assert retry.parents == (Edge(1, "retried", step=None, detail=reason),)
        assert retry.checks == {} and retry.rung is None


def test_losses_count_along_the_chain_of_retries_but_interruptions_do_not(db: Path) -> None:
    """Trial 2 retries 1 (interrupted), which retried 0 (lost): with retries=1, 2's own
    loss is the second, so it is not retried; its interruption would be."""
    chain = (Edge(1, "retried", detail=CTRL_C),)
    record = TrialRecord(2, TrialState.FAILED, {"x": 0.5}, parents=chain, origin="retried")

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="c", db=db, seed=0)
    def f(x: float) -> float:
        return x

    f.optimize(n_trials=1)
    store = f.study.store
    with store.write():  # 1 and 2 as above, 1 retrying 0 (lost)
        row = store.find_study("c")
        assert row is not None
        for number, parents in ((1, (Edge(0, "retried", detail=LOST),)), (2, chain)):
            store.insert_trial(row.id, number=number, state=TrialState.FAILED,
                               params={"x": 0.5}, origin="retried", parents=parents)  # fmt: skip
    history = f.study.refresh()
    options = {"method": f.study.method, "history": history, "store": store, "study": row}
    assert retry_of(record, 0, LOST, **options) is None  # type: ignore[arg-type]
    assert retry_of(record, 0, CTRL_C, **options) is not None  # type: ignore[arg-type]


def test_interruptions_are_told_by_their_reason() -> None:
    assert is_interruption(CTRL_C) and is_interruption("interrupted (SIGTERM)")
    assert not is_interruption(LOST) and not is_interruption(None)


def test_a_batch_numbers_its_retries_after_the_trials_in_the_order_queued(db: Path) -> None:
    """Trials 3 (lost), 4 (a manual call, lost) and 5 (interrupted) fail in one
    transaction: 3 and 5 get retries 6 and 7, each with its ``retried`` edge and reason;
    4 gets none and takes no number."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="b", db=db, seed=0)
    def f(x: float) -> float:
        return x

    f.optimize(n_trials=3)
    store = f.study.store
    row = store.find_study("b")
    assert row is not None
    failed = [(3, "sampled", LOST), (4, "manual", LOST), (5, "sampled", CTRL_C)]
    with store.write():
        ids = [
            store.insert_trial(row.id, number=number, state=TrialState.FAILED,
                               params={"x": number / 10}, origin=origin).id
            for number, origin, _ in failed
        ]  # fmt: skip
    history = f.study.refresh()
    with store.write():
        batch = Batch(f.study.method, history, store, row)
        for (number, _, reason), trial_id in zip(failed, ids, strict=True):
            batch.add(history.trials[number], trial_id, reason)
    assert batch.queued == 2
    trials = f.study.refresh().trials
    assert [(t.number, t.state, t.origin, t.params) for t in trials[6:]] == [
        (6, TrialState.QUEUED, "retried", {"x": 0.3}),
        (7, TrialState.QUEUED, "retried", {"x": 0.5}),
    ]
    assert trials[6].parents == (Edge(3, "retried", step=None, detail=LOST),)
    assert trials[7].parents == (Edge(5, "retried", step=None, detail=CTRL_C),)

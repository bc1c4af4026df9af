"""Trial records: the fast constructors equal the dataclass ones and stay frozen."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hpotrack.errors import MethodError
from hpotrack.records import Edge, TrialRecord, TrialState


def full() -> TrialRecord:
    return TrialRecord(
        number=3,
        state=TrialState.COMPLETE,
        params={"x": 0.5},
        value=1.5,
        metrics={"loss": 1.5},
        budget=9.0,
        origin="promoted",
        parents=(Edge(1, "promoted", step=3),),
        started=1.0,
        finished=2.0,
        claim="promote:1",
        host="h",
        pid=7,
        rung=1,
        bracket=2,
        checks={3: 1.7},
        note="a note",
    )


def test_from_fields_and_replace_equal_the_dataclass_ways() -> None:
    record = full()
    assert TrialRecord.from_fields(dict(record.__dict__)) == record
    changed = record.replace(state=TrialState.PRUNED, value=2.5)
    assert changed == dataclasses.replace(record, state=TrialState.PRUNED, value=2.5)
    assert record.state is TrialState.COMPLETE  # the original is untouched
    with pytest.raises(dataclasses.FrozenInstanceError):
        changed.value = 1.0  # type: ignore[misc]


def test_unknown_or_missing_fields_are_refused() -> None:
    with pytest.raises(TypeError, match="no field"):
        full().replace(valeu=1.0)
    values = dict(full().__dict__)
    del values["note"]
    with pytest.raises(TypeError, match=r"needs \['note'\]"):
        TrialRecord.from_fields({**values, "extra": 1})


def test_a_trial_stopped_from_outside_is_told_from_one_that_failed_of_its_own(
    tmp_path: Path,
) -> None:
    """pbt runs a segment stopped from outside again as it was, and one that failed of
    its own with new draws: the reasons the runner and recovery write are recognised."""
    import hpotrack as hp
    from hpotrack.recovery import lost_reason
    from hpotrack.store import RunningTrial

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=tmp_path / "h.db", seed=0)
    def train(x: float) -> float:
        raise KeyboardInterrupt if x < 0.5 else ValueError("diverged")

    for x, raised in ((0.25, KeyboardInterrupt), (0.75, ValueError)):
        with pytest.raises(raised):
            train(x=x)
    interrupted, failed = hp.load_study("s", db=tmp_path / "h.db").trials
    assert interrupted.stopped_from_outside and not failed.stopped_from_outside
    silent = RunningTrial(2, 2, "another-host", 4321, heartbeat=0.0)
    lost = dataclasses.replace(failed, error=lost_reason(silent, now=3600.0))
    assert lost.error and lost.stopped_from_outside


def test_a_records_repr_shows_what_is_set_and_shortens_long_values() -> None:
    """print(study.best) printed every field, and every one of 2,000 returned losses."""
    record = TrialRecord(
        7,
        TrialState.FAILED,
        {"lr": 0.01, "layers": 2},
        metrics={"value": 0.5, "losses": [float(i) for i in range(2000)]},
        error="Traceback (most recent call last):\n" + "  File ...\n" * 500 + "ValueError: boom",
    )
    text = repr(record)
    assert text.startswith(
        "TrialRecord(number=7, state='failed', params={'lr': 0.01, 'layers': 2}, value=None, "
        "metrics={'value': 0.5, 'losses': [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, ...]}, "
        "error='Traceback"
    )
    assert "ValueError: boom" in text and len(text) < 500
    for unset in ("budget=", "parents=", "claim=", "rung=", "checks=", "note="):
        assert unset not in text
    assert "checks={3: 1.7}" in repr(full()) and "note='a note'" in repr(full())


KIND = "an edge needs a kind (non-empty text, e.g. 'crossover' or 'retried'), but got kind="


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, "mutation"), "`parent >= 0` must hold for a whole number, but got parent=-1"),
        (("3", "mutation"), "`parent >= 0` must hold for a whole number, but got parent='3'"),
        ((3, ""), KIND + "''"),
        ((3, None), KIND + "None"),
    ],
)
def test_a_bad_edge_is_a_method_error(args: tuple[Any, ...], message: str) -> None:
    """A custom method builds hp.Edge in its proposals: a bad one is an hpotrack error
    (it was a bare ValueError, and a TypeError for a parent given as text)."""
    with pytest.raises(MethodError, match=re.escape(message)):
        Edge(*args)
    assert type(Edge(np.int64(3), "mutation").parent) is int  # numpy's count, stored plain


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("intermediate_values", "study.curve(number) gives them, {metric: [(step, value), ...]}"),
        ("user_attrs", "every metric the function returned is in .metrics"),
        ("datetime_start", ".started, in Unix seconds (study.to_dataframe() gives datetimes)"),
        ("values", "study.values(trial), each objective's value"),
    ],
)
def test_optunas_frozen_trial_names_say_hpotracks(name: str, hint: str) -> None:
    """``study.best.intermediate_values`` (Optuna's ``best_trial.intermediate_values``)
    was a bare AttributeError; a record still pickles and copies as before (the hint is
    only for names it lacks), and another name stays a plain AttributeError."""
    record = full()
    with pytest.raises(AttributeError) as raised:
        getattr(record, name)
    assert str(raised.value).startswith(f"'TrialRecord' object has no attribute {name!r}; {hint}")
    with pytest.raises(AttributeError) as other:
        record.colour  # type: ignore[attr-defined]  # noqa: B018 - the access is the test
    assert str(other.value) == "'TrialRecord' object has no attribute 'colour'"
    assert pickle.loads(pickle.dumps(record)) == record
    assert copy.deepcopy(record) == record

"""``optimize(callbacks=[...])``: every trial that finished, each once, as stored, in
the calling process, with worker processes too; a callback's error stops the run and
loses nothing; a callback may stop the study; bad values are one clear error."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import pytest

import hpotrack as hp
from hpotrack.errors import OptionError
from hpotrack.records import TrialRecord

SPACE = {"x": hp.Float(0.0, 1.0)}


def quadratic(x: float) -> float:
    if x > 0.9:
        raise ValueError("too far")
    return (x - 0.3) ** 2


class Seen:
    """A callback recording what it was given, and in which process."""

    def __init__(self) -> None:
        self.trials: list[TrialRecord] = []
        self.studies: list[hp.Study] = []
        self.pids: set[int] = set()

    def __call__(self, study: hp.Study, trial: TrialRecord) -> None:
        self.trials.append(trial)
        self.studies.append(study)
        self.pids.add(os.getpid())


def test_each_finished_trial_once_as_stored(tmp_path: Path) -> None:
    train = hp.tune(SPACE, db=tmp_path / "h.db", study="s", seed=0, max_failures=50)(quadratic)
    seen, also = Seen(), Seen()
    study = train.optimize(n_trials=40, callbacks=[seen, also])
    assert [t.number for t in seen.trials] == list(range(40))  # short trials: stored in batches
    assert seen.trials == study.trials and also.trials == study.trials  # whole, as stored
    assert {t.state for t in seen.trials} >= {hp.TrialState.COMPLETE, hp.TrialState.FAILED}
    assert all(s.name == "s" for s in seen.studies) and seen.pids == {os.getpid()}


def test_only_the_trials_that_finish_during_the_run(tmp_path: Path) -> None:
    train = hp.tune(SPACE, db=tmp_path / "h.db", study="s", seed=0)(quadratic)
    train.optimize(n_trials=5)
    seen = Seen()
    train.optimize(n_trials=8, callbacks=[seen])
    assert [t.number for t in seen.trials] == [5, 6, 7]


def test_pruned_trials_and_their_lineage_come_whole(tmp_path: Path) -> None:
    @hp.tune(SPACE, db=tmp_path / "h.db", study="s", seed=0, method="hyperband",
             budget=hp.Budget(1, 9))  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        for step in trial.steps:
            trial.report(abs(x - 0.3) + 1 / step, step)
        return abs(x - 0.3) + 1 / trial.steps.stop

    seen = Seen()
    study = train.optimize(n_trials=20, callbacks=[seen])
    assert seen.trials == study.trials
    assert any(t.state is hp.TrialState.PRUNED and t.checks for t in seen.trials)
    assert any(t.origin == "promoted" and t.parents for t in seen.trials)


def test_worker_processes_trials_come_to_the_calling_process(paired_workloads: ModuleType) -> None:
    """Both workers of n_jobs=2 run trials (paired: each waits in its first trial for the
    other's); every one reaches the callbacks in the calling process, once."""
    seen = Seen()
    study = paired_workloads.quadratic.optimize(n_trials=12, n_jobs=2, callbacks=[seen])
    assert sorted(t.number for t in seen.trials) == list(range(12))
    assert seen.pids == {os.getpid()}
    assert len({t.pid for t in study.trials}) == 2 and os.getpid() not in {
        t.pid for t in study.trials
    }


def test_a_callbacks_error_stops_the_workers_and_loses_nothing(
    workloads_in_db: ModuleType, db: Path
) -> None:
    def fail_at_first(study: hp.Study, trial: TrialRecord) -> None:
        raise RuntimeError("logging server down")

    with pytest.raises(RuntimeError, match="logging server down"):
        workloads_in_db.slow.optimize(n_trials=200, n_jobs=2, callbacks=[fail_at_first])
    trials = hp.load_study("slow", db=db).trials
    assert len(trials) < 200
    assert not [t for t in trials if t.state is hp.TrialState.RUNNING]  # none left running


def test_a_callbacks_error_stops_the_run_and_loses_nothing(tmp_path: Path) -> None:
    train = hp.tune(SPACE, db=tmp_path / "h.db", study="s", seed=0)(quadratic)

    def fail_at_third(study: hp.Study, trial: TrialRecord) -> None:
        if trial.number == 2:
            raise RuntimeError("logging server down")

    with pytest.raises(RuntimeError, match="logging server down"):
        train.optimize(n_trials=50, callbacks=[fail_at_third])
    trials = hp.load_study("s", db=tmp_path / "h.db").trials
    assert 3 <= len(trials) < 50
    assert all(t.state.is_finished or t.state is hp.TrialState.QUEUED for t in trials)
    assert len(train.optimize(n_trials=50).trials) == 50  # the study goes on


def test_a_callback_can_stop_the_study(tmp_path: Path) -> None:
    train = hp.tune(SPACE, db=tmp_path / "h.db", study="s", seed=0)(quadratic)

    def stop_when_good(study: hp.Study, trial: TrialRecord) -> None:
        if trial.value is not None and trial.value < 0.05:
            study.stop()

    study = train.optimize(n_trials=500, callbacks=[stop_when_good])
    assert len(study.trials) < 500
    assert any(t.value is not None and t.value < 0.05 for t in study.trials)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (print, r"^callbacks= takes a list of functions, each called as f\(study, trial\): "
                r"callbacks=\[print\]$"),
        ("log", r"but got 'log' \(str\)$"),
        ([print, 3], r"but callbacks\[1\] is 3 \(int\)$"),
    ],
)  # fmt: skip
def test_bad_callbacks_are_one_error_before_any_trial(
    tmp_path: Path, given: object, message: str
) -> None:
    train = hp.tune(SPACE, db=tmp_path / "h.db", study="s", seed=0)(quadratic)
    with pytest.raises(OptionError, match=message):
        train.optimize(n_trials=3, callbacks=given)  # type: ignore[arg-type]
    assert not (tmp_path / "h.db").exists() or hp.load_study("s", db=tmp_path / "h.db").trials == []

"""``hpotrack.limits``: when an ask may start no more trials, and how that is said."""

from __future__ import annotations

import logging
import math
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

import hpotrack as hp
from hpotrack import limits
from hpotrack.claims import Claimed
from hpotrack.cli import cli
from hpotrack.errors import OptionError, PatienceSpent, StopRequested, StudyDeleted
from hpotrack.methods.history import History
from hpotrack.objectives import Objectives
from hpotrack.records import Edge, TrialRecord, TrialState
from hpotrack.space import Float, Space
from hpotrack.study import Worker


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
    stop = limits.reached(history, 2, limits.NO_STOPS, "s")
    assert stop is not None
    assert str(stop) == (
        "study 's' has 2 trials (besides 1 lost or interrupted trial a retry replaced): the target "
        "of 2 is reached"
    )
    assert limits.reached(history, 3, limits.NO_STOPS, "s") is None


# -- patience ----------------------------------------------------------------------------


def finished(*values: float | None) -> History:
    """A history of complete trials with ``values`` (None: a failed trial), in order."""
    history = History(Space({"x": Float(0.0, 1.0)}), "minimize", 0)
    for number, value in enumerate(values):
        state = TrialState.FAILED if value is None else TrialState.COMPLETE
        history.update(TrialRecord(number, state, {"x": 0.5}, value=value))
    return history


def test_patience_is_spent_by_complete_trials_after_the_best_and_says_so() -> None:
    history = finished(2.0, 0.5, 0.7, None, 0.5, 0.9)
    assert limits.reached(history, None, limits.Stops(patience=4), "s") is None
    stop = limits.reached(history, None, limits.Stops(patience=3), "s")
    assert isinstance(stop, PatienceSpent)
    assert str(stop) == (
        "study 's' has not improved on trial 1 (0.5) in the 3 complete trials since: the "
        "patience of 3 is spent"
    )
    assert limits.reached(history, 6, limits.Stops(patience=3), "s") is not stop  # target first


def test_patience_of_several_objectives_names_the_trial_that_last_changed_the_front() -> None:
    """Trials that repeat a point of the front (a constant objective, a configuration
    drawn again) spend the patience, and the message names the first with that point."""
    history = History(Space({"x": Float(0.0, 1.0)}), "minimize", 0, None,
                      Objectives(("a", "b"), ("minimize", "maximize")))  # fmt: skip
    for number in range(4):
        history.update(TrialRecord(number, TrialState.COMPLETE, {"x": 0.5}, value=0.0,
                                   metrics={"a": 0.0, "b": 1}))  # fmt: skip
    stop = limits.reached(history, None, limits.Stops(patience=3), "s")
    assert isinstance(stop, PatienceSpent)
    assert str(stop) == (
        "the Pareto front of study 's' has not changed since trial 0 in the 3 complete "
        "trials since: the patience of 3 is spent"
    )


def test_patience_waits_for_a_first_complete_trial() -> None:
    assert limits.reached(finished(None, None), None, limits.Stops(patience=1), "s") is None


def test_a_batch_stops_claiming_once_its_running_trials_could_spend_the_patience() -> None:
    history = finished(0.5, 0.9)  # one complete trial since the best
    for number in (2, 3):
        history.update(TrialRecord(number, TrialState.RUNNING, {"x": 0.5}))
    claimed = [Claimed(3, 3, {"x": 0.5}, None)]
    assert limits.batch_spends(history, claimed, limits.Stops(patience=3))  # 1 + 2 running
    assert not limits.batch_spends(history, claimed, limits.Stops(patience=4))
    assert not limits.batch_spends(history, claimed, limits.NO_STOPS)


def test_a_batch_with_no_best_yet_stops_where_its_trials_could_spend_the_patience() -> None:
    """With no best yet, the running trials numbered after the one that becomes the
    best count: a batch that claimed 8 there ran 7 past it in one process."""
    history = finished(None)  # a failed trial: no best
    for number in (1, 2):
        history.update(TrialRecord(number, TrialState.RUNNING, {"x": 0.5}))
    claimed = [Claimed(2, 2, {"x": 0.5}, None)]
    assert limits.batch_spends(history, claimed, limits.Stops(patience=2))
    assert not limits.batch_spends(history, claimed, limits.Stops(patience=3))


SEQUENCE = [5.0, 4.0, 6.0, 3.0, 7.0, 3.0, 8.0, 2.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0]


def by_number(db: Path, fail: frozenset[int] = frozenset()) -> hp.TunedFunction:
    """A study whose trial n returns ``SEQUENCE[n]``; those numbered in ``fail`` raise,
    and those whose value is 8 are pruned."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        if trial.number in fail:
            raise ValueError("no")
        value = SEQUENCE[trial.number]
        if value == 8.0:
            trial.report(value, step=1)
            raise hp.Pruned()
        return value

    return train


def test_optimize_stops_once_patience_complete_trials_went_by_without_improving(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Trial 3 (3.0) is the best until trial 7; 4 and 5 (a tie) do not improve on it,
    6 is pruned and does not count: with patience 2 the run stops after trial 5, and
    again, with patience 4, it goes on past trial 7 (2.0) to four trials after it."""
    caplog.set_level(logging.INFO, logger="hpotrack")
    train = by_number(db)
    study = train.optimize(n_trials=20, patience=2)
    assert [t.value for t in study.trials] == SEQUENCE[:6]
    assert "has not improved on trial 3 (3) in the 2 complete trials since" in caplog.text
    caplog.clear()
    study = train.optimize(n_trials=20, patience=2)  # counted over the study: spent already
    assert len(study.trials) == 6
    assert "nothing to run (pass a larger patience to search on)" in caplog.text
    study = train.optimize(n_trials=20, patience=4)
    assert [t.state for t in study.trials].count(TrialState.PRUNED) == 1
    assert len(study.trials) == 12 and study.best is not None and study.best.number == 7


def test_failed_trials_do_not_spend_patience(db: Path) -> None:
    """Failed trials 2 and 4 (and pruned 6) count for nothing: patience 2 is spent by
    trials 8 and 9, after the best, 7."""
    study = by_number(db, fail=frozenset({2, 4})).optimize(n_trials=20, patience=2)
    states = "".join(t.state.value[0] for t in study.trials)
    assert states == "ccfcfcpccc"


@pytest.mark.parametrize(
    ("patience", "message"),
    [
        (
            0,
            r"`patience >= 1` \(complete trials\) must hold for a whole number, but got patience=0",
        ),
        (2.5, r"but got patience=2.5"),
        (True, r"but got patience=True"),
        ("3", r"but got patience='3'"),
    ],
)
def test_a_bad_patience_is_one_clear_error_and_stores_nothing(
    db: Path, patience: object, message: str
) -> None:
    with pytest.raises(OptionError, match=message):
        by_number(db).optimize(n_trials=3, patience=patience)  # type: ignore[arg-type]
    assert not db.exists()  # refused before the study was opened


def test_a_batch_of_claims_stops_at_what_the_patience_leaves(db: Path) -> None:
    """Very short trials under contention are claimed several per ask; with 2 complete
    trials since the best and a patience of 5, a batch claims 3."""
    train = by_number(db)
    study = train.optimize(n_trials=6)  # best: trial 3; 4 and 5 since
    worker = Worker(run_id=None, host="here", pid=os.getpid())
    claims: list[Claimed] = []
    study.claim(worker, None, [], claims, 8, stops=limits.Stops(patience=5))
    assert [c.number for c in claims] == [6, 7, 8]


def test_a_batch_of_claims_before_the_first_complete_trial_stops_at_the_patience(
    db: Path,
) -> None:
    """Trials 0 and 1 failed, so there is no best: with a patience of 2, a batch claims
    2 (one of them the best, the other after it), not 8."""
    study = by_number(db, fail=frozenset({0, 1})).optimize(n_trials=2)
    worker = Worker(run_id=None, host="here", pid=os.getpid())
    claims: list[Claimed] = []
    study.claim(worker, None, [], claims, 8, stops=limits.Stops(patience=2))
    assert [c.number for c in claims] == [2, 3]


# -- good_enough -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "good_enough", "stops"),
    [
        ("minimize", 0.5, True),  # the best is 0.5: as good, equal
        ("minimize", 0.4, False),
        ("maximize", 0.9, True),  # the best is 0.9 (and failed trials are no trials)
        ("maximize", 0.95, False),
    ],
)
def test_good_enough_compares_the_best_complete_trial_in_the_studys_direction(
    direction: str, good_enough: float, stops: bool
) -> None:
    history = History(Space({"x": Float(0.0, 1.0)}), direction, 0)
    for number, value in enumerate([0.7, 0.5, 0.9, None]):
        state = TrialState.FAILED if value is None else TrialState.COMPLETE
        history.update(TrialRecord(number, state, {"x": 0.5}, value=value))
    stop = limits.reached(history, None, limits.Stops(good_enough=good_enough), "s")
    assert (stop is not None) is stops
    if stop is not None:
        best = 1 if direction == "minimize" else 2
        assert str(stop).startswith(f"study 's' has trial {best} at ")
        assert str(stop).endswith(f", as good as good_enough={good_enough:g}: the search is done")


def test_optimize_stops_once_a_complete_trial_is_good_enough(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Trial 6 is pruned at 8.0 and trial 7 (2.0) is the first complete one at or
    below 2.5; a lower bar lets the study go on."""
    caplog.set_level(logging.INFO, logger="hpotrack")
    train = by_number(db)
    assert len(train.optimize(n_trials=14, good_enough=2.5).trials) == 8
    assert "has trial 7 at 2, as good as good_enough=2.5: the search is done" in caplog.text
    assert len(train.optimize(n_trials=14, good_enough=2.0).trials) == 8  # still
    assert "nothing to run (pass a better good_enough to search on)" in caplog.text
    assert len(train.optimize(n_trials=10, good_enough=1.0).trials) == 10  # the target


@pytest.mark.parametrize("good_enough", [math.nan, math.inf, True, "0.5"])
def test_a_bad_good_enough_is_one_clear_error_and_stores_nothing(
    db: Path, good_enough: object
) -> None:
    with pytest.raises(OptionError, match=r"^`good_enough` must be a finite number \(a value of"):
        by_number(db).optimize(n_trials=3, good_enough=good_enough)  # type: ignore[arg-type]
    assert not db.exists()


def test_a_grid_without_n_trials_says_another_stop_may_come_first(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """It said "runs until grid is done: 93 more trials", then stopped after 21 at its
    patience."""
    caplog.set_level(logging.INFO, logger="hpotrack")

    @hp.tune({"x": hp.Int(0, 92)}, method="grid", study="g", db=db, seed=0)
    def train(x: int) -> float:
        return float((x - 10) ** 2)

    study = train.optimize(patience=10)
    assert len(study.trials) == 21
    assert (
        "no n_trials given, so it runs until grid is done or another of its stops comes "
        "first: at most 93 more trials; pass n_trials to stop sooner"
    ) in caplog.text
    assert limits.Stops(good_enough=1.0).may_end_the_search
    assert not limits.Stops(trial_timeout=1.0).may_end_the_search


# -- stop requests -----------------------------------------------------------------------


def test_a_stop_request_ends_a_run_begun_before_it_and_only_when_watched() -> None:
    history = finished(1.0)
    watching = limits.Stops(stop_requests=2)
    assert limits.reached(history, None, watching, "s", stop_requests=2) is None
    stop = limits.reached(history, None, watching, "s", stop_requests=3)
    assert isinstance(stop, StopRequested)
    assert str(stop) == (
        "study 's' was asked to stop after this run began (hpotrack stop, Study.stop()): it "
        "starts no more trials; a run begun from now on goes on (hpotrack resume s)"
    )
    assert limits.reached(history, None, limits.NO_STOPS, "s", stop_requests=3) is None


def test_a_trial_that_stops_its_study_is_the_runs_last_and_is_stored(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``Study.stop()`` from inside trial 2 (another handle on the file, as a callback
    of another library would hold): trial 2 is stored complete and no trial starts after
    it; the next run goes on, and so does a loop of the user's own asks."""
    caplog.set_level(logging.INFO, logger="hpotrack")

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        if trial.number == 2:
            hp.load_study("s", db=db).stop()
        return x

    study = train.optimize(n_trials=10)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    assert study.stop_requests == 1
    assert "study 's' was asked to stop after this run began" in caplog.text
    trial = train.ask()  # not a run: nothing it began is stopped
    train.tell(trial, 0.5)
    assert len(train.optimize(n_trials=6).trials) == 6


def test_stopping_a_study_deleted_meanwhile_says_so(db: Path) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float) -> float:
        return x

    study = train.optimize(n_trials=1)
    deleted = CliRunner().invoke(cli, ["--db", str(db), "delete", "s", "--yes"])
    assert deleted.exit_code == 0, deleted.output
    with pytest.raises(StudyDeleted, match=r"study 's' was deleted from .* while this process"):
        study.stop()


# -- the stops a study keeps of its last run ---------------------------------------------


def test_the_stops_kept_are_those_given_and_read_back_leave_out_what_is_not_known() -> None:
    stops = limits.Stops(patience=20, trial_timeout=600.0, stop_requests=3)
    assert limits.stored(stops) == {"patience": 20, "trial_timeout": 600.0}
    assert limits.from_stored(limits.stored(stops)) == limits.Stops(
        patience=20, trial_timeout=600.0
    )
    newer = {"patience": 5, "min_delta": 0.1, "good_enough": True, "max_budget": "9"}
    assert limits.from_stored(newer) == limits.Stops(patience=5)


def test_each_run_keeps_its_stops_with_the_study(db: Path) -> None:
    """``optimize()`` keeps the stops it was given, a run given none keeps none, and a
    study another process reopened with new stops reads them (the row, not a cache)."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float) -> float:
        return x

    study = train.optimize(n_trials=2, patience=7, good_enough=-1.0)
    assert study.last_stops == limits.Stops(patience=7, good_enough=-1.0)
    other = hp.load_study("s", db=db)
    train.optimize(n_trials=3, max_budget=None, trial_timeout=30)
    assert other.last_stops == limits.Stops(trial_timeout=30)
    train.optimize(n_trials=4)
    assert other.last_stops == limits.NO_STOPS


@pytest.mark.parametrize("text", ["[20]", "not json", '"patience"'])
def test_kept_stops_that_are_not_an_object_read_as_none(db: Path, text: str) -> None:
    """A hand edit of ``studies.last_stops`` made show and resume fail with a traceback."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float) -> float:
        return x

    study = train.optimize(n_trials=1, patience=3)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE studies SET last_stops = ?", (text,))
        conn.commit()
    assert study.last_stops == limits.NO_STOPS
    shown = CliRunner().invoke(cli, ["--db", str(db), "show", "s"])
    assert shown.exit_code == 0 and "stops of the last run" not in shown.output

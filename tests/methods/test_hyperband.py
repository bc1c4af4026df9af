"""``hyperband`` against the shared multi-fidelity method suite, plus its brackets."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest

import hpotrack as hp
from hpotrack.errors import StudyMismatchError
from hpotrack.methods.base import Method
from hpotrack.methods.bohb import BOHB
from hpotrack.methods.halving import Ladder
from hpotrack.methods.hyperband import Hyperband
from hpotrack.methods.random_search import Random
from hpotrack.methods.sha import SHA
from hpotrack.records import Origin, TrialRecord, TrialState
from hpotrack.testing.method_suite import MultiFidelitySuite
from tests.test_multifidelity import tuned


class TestHyperband(MultiFidelitySuite):
    def make_method(self) -> Method:
        return Hyperband()

    def test_new_configurations_fill_the_brackets_in_hyperband_proportions(self) -> None:
        history = self._simulate(self.make_method(), 98, seed=2)
        new = [t for t in history.trials if t.origin == Origin.SAMPLED.value]
        counts = Counter(t.bracket for t in new[:49])  # one iteration: 27, 12, 6, 4
        assert counts == {3: 27, 2: 12, 1: 6, 0: 4}

    def test_each_bracket_checks_from_its_own_first_rung(self) -> None:
        history = self._simulate(self.make_method(), 60, seed=3)
        first = {3: 1, 2: 3, 1: 9}
        for trial in history.trials:
            if trial.origin == Origin.SAMPLED.value and trial.checks:
                assert trial.bracket is not None and min(trial.checks) == first[trial.bracket]
            if trial.bracket == 0:
                assert trial.checks == {}  # bracket 0 trains every trial to the top

    def test_a_subclass_chooses_the_brackets_through_schedule(self) -> None:
        class MostAggressive(Hyperband):
            def schedule(self, ladder: Ladder) -> tuple[int, ...]:
                return (ladder.top,)

        history = self._simulate(MostAggressive(), 30, seed=4)
        new = [t for t in history.trials if t.origin == Origin.SAMPLED.value]
        assert new and {t.bracket for t in new} == {3}


def test_only_synchronous_runs_decide_a_check_the_same_whenever_asked() -> None:
    """What a trial lost after its last check is stored as rests on this: pruned there
    where asking again tells what was decided, retried and checked again elsewhere."""
    in_a_run = TrialRecord(0, TrialState.RUNNING, {"x": 0.5}, checks={1: 0.5}, bracket=3)
    enqueued = TrialRecord(1, TrialState.RUNNING, {"x": 0.5}, checks={1: 0.5})
    assert Hyperband().decides_once(in_a_run) and BOHB().decides_once(in_a_run)
    assert not Hyperband().decides_once(enqueued)  # outside the runs: ASHA's rule
    assert not Hyperband(brackets="asynchronous").decides_once(in_a_run)
    assert not SHA().decides_once(in_a_run)
    assert not Random(pruner="median").decides_once(enqueued)


@pytest.mark.parametrize("kind", [SHA, Hyperband, BOHB])
def test_another_eta_is_refused_once_trials_ran_at_the_rungs(tmp_path: Path, kind: type) -> None:
    """Resumed with eta=2, synchronous Hyperband regrouped the trials of eta=3 into its
    own runs: trial 27, stopped at step 3 by eta=3's rung 1, was promoted by eta=2's. The
    study is refused when opened, unchanged, and says which eta goes on with it."""
    db = tmp_path / "h.db"
    tuned(db, kind(eta=3), []).optimize(n_trials=34)
    with pytest.raises(StudyMismatchError) as refused:
        tuned(db, kind(eta=2), []).optimize(n_trials=40)
    message = str(refused.value)
    assert (
        "cannot go on with eta=2: its trials were checked at the rungs of eta=3 (1, 3, 9, "
        "27 epochs), and the rungs of eta=2 (2, 3, 7, 14, 27 epochs) would" in message
    )
    assert f"Keep eta=3 (method=hp.methods.{kind.__name__}(eta=3)) to continue it" in message
    assert message.endswith("or give the new options another study= name")
    study = hp.load_study("mf", db=db)
    assert len(study.trials) == 34 and study.method == kind(eta=3)
    assert len(tuned(db, kind(eta=3), []).optimize(n_trials=40).trials) == 40


def test_eta_may_change_before_any_trial_ran_at_a_rung(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    tuned(db, Hyperband(eta=3), []).study.enqueue({"x": 0.5})  # queued: no rung yet
    study = tuned(db, Hyperband(eta=2), []).optimize(n_trials=5)
    assert study.method == Hyperband(eta=2) and len(study.trials) == 5


@pytest.mark.parametrize(("before", "after"), [("synchronous", "asynchronous"),
                                               ("asynchronous", "synchronous")])  # fmt: skip
def test_other_brackets_are_refused_once_trials_ran_in_brackets(
    tmp_path: Path, before: str, after: str
) -> None:
    """Asynchronous brackets would promote what a synchronous run stopped for good;
    synchronous runs would group the interleaved brackets' trials into runs by slot."""
    db = tmp_path / "h.db"
    tuned(db, Hyperband(brackets=before), []).optimize(n_trials=34)
    with pytest.raises(StudyMismatchError) as refused:
        tuned(db, BOHB(brackets=after), []).optimize(n_trials=40)
    message = str(refused.value)
    assert f"cannot go on with brackets={after!r}: its trials ran in {before} brackets" in message
    keep = f"Keep brackets={before!r} (method=hp.methods.BOHB(eta=3, brackets={before!r}))"
    assert keep in message and len(hp.load_study("mf", db=db).trials) == 34


def test_a_study_stored_before_brackets_is_not_resumed_synchronously(tmp_path: Path) -> None:
    """Its trials ran in asynchronous brackets, as it resumes by default; method=
    "hyperband" now means synchronous runs, which would regroup them."""
    db = tmp_path / "h.db"
    tuned(db, Hyperband(brackets="asynchronous"), []).optimize(n_trials=20)
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE studies SET method = json_remove(method, '$.options.brackets')")
    connection.close()
    with pytest.raises(StudyMismatchError, match="ran in asynchronous brackets"):
        tuned(db, "hyperband", []).optimize(n_trials=30)
    study = tuned(db, Hyperband(brackets="asynchronous"), []).optimize(n_trials=30)
    assert len(study.trials) == 30


def test_hyperband_and_bohb_of_the_same_options_go_on_with_each_others_runs(
    tmp_path: Path,
) -> None:
    """BOHB only draws new configurations otherwise: the runs, brackets and promotions go
    on; sha's trials before them are enqueued ones to Hyperband (checked from rung 0)."""
    db = tmp_path / "h.db"
    tuned(db, "sha", []).optimize(n_trials=10)
    tuned(db, "hyperband", []).optimize(n_trials=40)
    study = tuned(db, "bohb", []).optimize(n_trials=80)
    new = [t for t in study.trials if t.origin == Origin.SAMPLED.value and t.bracket is not None]
    iteration = [3] * 27 + [2] * 12 + [1] * 6 + [0] * 4
    assert len(new) > len(iteration) and [t.bracket for t in new] == (iteration * 2)[: len(new)]
    assert [t.claim for t in new] == [f"config:{slot}" for slot in range(len(new))]


def test_brackets_the_study_ran_before_sha_are_checked_against_their_slots(
    tmp_path: Path,
) -> None:
    """The stored method (sha) has no brackets: the trials tell which rule placed them."""
    db = tmp_path / "h.db"
    tuned(db, Hyperband(brackets="asynchronous"), []).optimize(n_trials=20)
    tuned(db, "sha", []).optimize(n_trials=25)
    with pytest.raises(StudyMismatchError) as refused:
        tuned(db, Hyperband(), []).optimize(n_trials=30)
    assert "its trials ran in other brackets (trial 1, configuration 1, is in bracket 2; " in str(
        refused.value
    )
    assert len(tuned(db, Hyperband(brackets="asynchronous"), []).optimize(n_trials=30).trials) == 30

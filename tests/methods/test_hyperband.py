"""``hyperband`` against the shared multi-fidelity method suite, plus its brackets."""

from __future__ import annotations

from collections import Counter

from hpotrack.methods.base import Method
from hpotrack.methods.bohb import BOHB
from hpotrack.methods.halving import Ladder
from hpotrack.methods.hyperband import Hyperband
from hpotrack.methods.random_search import Random
from hpotrack.methods.sha import SHA
from hpotrack.records import Origin, TrialRecord, TrialState
from hpotrack.testing.method_suite import MultiFidelitySuite


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

"""Synchronous bracket runs (``hyperband``'s default): the layout of an iteration against
hand-computed tables, and the decisions of one run trial by trial."""

from __future__ import annotations

import dataclasses

import pytest

from hpotrack.budget import Budget
from hpotrack.methods.base import Proposal
from hpotrack.methods.brackets import Run
from hpotrack.methods.halving import Ladder
from hpotrack.methods.history import History
from hpotrack.methods.hyperband import Hyperband
from hpotrack.records import Origin, TrialRecord, TrialState
from hpotrack.space import Float, Space
from hpotrack.testing.driver import record, run_proposal

SPACE = Space.from_user({"x": Float(0.0, 1.0)})
SMALL = Budget(1, 9)  # rungs 1, 3, 9: brackets 2 (9 configurations), 1 (5) and 0 (3)


def test_an_iteration_of_1_to_27_epochs_has_the_papers_runs() -> None:
    """Li et al. 2018, Table 1 with R = 27, η = 3: n = 27, 12, 6, 4 configurations for
    brackets 3..0, and the configurations at each of their rungs."""
    method = Hyperband()
    layout = method.layout(Ladder(Budget(1, 27), 3.0))
    assert layout.counts == (4, 6, 12, 27)
    assert [layout.bracket_at(p) for p in range(49)] == [3] * 27 + [2] * 12 + [1] * 6 + [0] * 4
    assert [layout.run_of(slot) for slot in (0, 26, 27, 38, 39, 45, 48, 49, 100)] == [
        Run(0, 3, 0, 27),
        Run(0, 3, 0, 27),
        Run(0, 2, 27, 12),
        Run(0, 2, 27, 12),
        Run(0, 1, 39, 6),
        Run(0, 0, 45, 4),
        Run(0, 0, 45, 4),
        Run(1, 3, 49, 27),
        Run(2, 3, 98, 27),
    ]
    survivors = {
        s: [layout.run_of(slot).survivors(i, 3.0) for i in range(s + 1)]
        for s, slot in ((3, 0), (2, 27), (1, 39), (0, 45))
    }
    assert survivors == {3: [27, 9, 3, 1], 2: [12, 4, 1], 1: [6, 2], 0: [4]}


def test_an_iteration_of_1_to_81_epochs_with_eta_3() -> None:
    """R = 81: n = 81, 34, 15, 8, 5 (Li et al. 2018, Table 1), rungs 81/27/9/3/1 ... 1."""
    layout = Hyperband().layout(Ladder(Budget(1, 81), 3.0))
    assert layout.counts == (5, 8, 15, 34, 81)
    assert [layout.run_of(81).survivors(i, 3.0) for i in range(4)] == [34, 11, 3, 1]


class Run9:
    """Drives one study of ``Hyperband`` over ``SMALL`` trial by trial: a configuration's
    loss is its ``x`` at every step, so ranks are known in advance."""

    def __init__(self) -> None:
        self.method = Hyperband()
        self.history = History(SPACE, "minimize", 0, SMALL)

    def ask(self) -> Proposal:
        return self.method.ask(self.history)

    def run(self, proposal: Proposal, x: float | None = None) -> tuple[int, float]:
        """Run the proposal, its configuration's x replaced by ``x`` if given."""
        if x is not None:
            proposal = dataclasses.replace(proposal, params={"x": x})
        loss = float(proposal.params["x"])  # type: ignore[arg-type]
        return run_proposal(self.method, self.history, proposal, lambda step: loss)

    def start(self, proposal: Proposal, x: float) -> TrialRecord:
        """Insert the proposal as a running trial that has not reported yet."""
        trial = record(self.history.next_number, dataclasses.replace(proposal, params={"x": x}),
                       TrialState.RUNNING, None)  # fmt: skip
        self.history.update(trial)
        return trial

    def trial(self, number: int) -> TrialRecord:
        return self.history.trials[number]


XS = [0.5, 0.3, 0.9, 0.1, 0.8, 0.7, 0.2, 0.6, 0.4]  # the run of bracket 2: best 0.1, 0.2, 0.3


def test_a_rung_decides_once_the_whole_run_arrived() -> None:
    study = Run9()
    for x in XS[:-1]:
        proposal = study.ask()
        assert proposal.origin == Origin.SAMPLED.value and proposal.bracket == 2
        assert study.run(proposal, x) == (1, x)  # stopped at rung 1: the run is not there yet
    assert study.run(study.ask(), XS[-1]) == (1, 0.4)  # the last: not among the best 3
    promoted = []
    for _ in range(3):  # 0.1, 0.2, 0.3 go on to rung 3, stopping there until all three are
        proposal = study.ask()
        assert proposal.origin == Origin.PROMOTED.value and proposal.rung == 0
        promoted.append(study.trial(proposal.parents[0].parent).params["x"])
        study.run(proposal)
    assert sorted(promoted) == [0.1, 0.2, 0.3]
    proposal = study.ask()  # the best of the three goes on to the top
    assert proposal.origin == Origin.PROMOTED.value and proposal.rung == 1
    assert proposal.params == {"x": 0.1}
    assert study.run(proposal) == (6, 0.1)  # from rung 3 to 9
    assert study.ask().bracket == 1  # the run is done: the next bracket's configurations


def test_the_last_to_arrive_goes_on_at_once_if_it_is_among_the_best() -> None:
    study = Run9()
    for x in [0.5, 0.3, 0.9, 0.4, 0.8, 0.7, 0.2, 0.6]:
        study.run(study.ask(), x)
    assert study.run(study.ask(), 0.1) == (3, 0.1)  # arrives last, goes on, stops at rung 3
    stopped_at_1 = []
    for _ in range(2):  # the other two of the best three, stopped at rung 1
        proposal = study.ask()
        assert proposal.origin == Origin.PROMOTED.value and proposal.rung == 0
        stopped_at_1.append(proposal.params["x"])
        assert study.run(proposal) == (2, proposal.params["x"])  # from rung 1 to 3
    assert stopped_at_1 == [0.2, 0.3]  # best first
    proposal = study.ask()  # rung 3 is complete: 0.1, stopped there, goes on to the top
    assert proposal.params == {"x": 0.1} and proposal.rung == 1


def test_a_running_trial_holds_its_rung_and_a_failed_one_does_not() -> None:
    study = Run9()
    slow = study.start(study.ask(), 0.05)  # the best configuration, still training
    for x in XS[1:]:
        study.run(study.ask(), x)
    assert study.ask().origin == Origin.SAMPLED.value  # no promotion while rung 1 waits
    assert study.ask().bracket == 1  # the next run starts meanwhile
    study.history.update(slow.replace(state=TrialState.FAILED, error="boom"))
    proposal = study.ask()  # rung 1 is complete without it: its best 3 go on
    assert proposal.origin == Origin.PROMOTED.value
    assert study.trial(proposal.parents[0].parent).params["x"] == 0.1


def test_resolved_runs_are_not_read_again() -> None:
    study = Run9()
    for x in XS:
        study.run(study.ask(), x)
    while (proposal := study.ask()).origin == Origin.PROMOTED.value:
        study.run(proposal)
    assert list(study.history.cache.values()) == [9]  # bracket 2's run is done
    fresh = History(SPACE, "minimize", 0, SMALL)
    for trial in study.history.trials:
        fresh.update(trial)
    assert Hyperband().ask(fresh) == proposal  # rebuilt from the trials alone


def test_an_enqueued_configuration_ranks_with_the_most_aggressive_bracket() -> None:
    """It belongs to no run: it is checked from rung 1 and ranked there, as ASHA does,
    with every trial of bracket 2; only it is ever promoted that way."""
    study = Run9()
    for x in XS:
        study.run(study.ask(), x)
    enqueued = Proposal({"x": 0.15}, origin=Origin.ENQUEUED.value)
    assert study.run(enqueued) == (3, 0.15)  # in the best third of rung 1's ten: goes on


@pytest.mark.parametrize("rule", ["asynchronous", "synchronous"])
def test_a_study_stored_before_the_option_resumes_asynchronously(rule: str) -> None:
    from hpotrack.methods.registry import from_json

    stored = Hyperband(brackets=rule).to_json()
    assert from_json(stored) == Hyperband(brackets=rule)
    del stored["options"]["brackets"]
    assert from_json(stored).brackets == "asynchronous"  # type: ignore[attr-defined]

"""``pbt``: the shared method suite, plus exploit/explore arithmetic and its lineage."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import hpotrack as hp
from hpotrack.cli import cli
from hpotrack.errors import MethodError, SearchExhausted
from hpotrack.methods.base import Method, Proposal
from hpotrack.methods.history import History
from hpotrack.methods.pbt import PBT, Standing, explore, member_segment, perturbed
from hpotrack.records import TrialRecord, TrialState
from hpotrack.space import Choice, Float, Int, Space
from hpotrack.testing.driver import record, simulate
from hpotrack.testing.method_suite import MethodSuite

SPACE = Space.from_user({"lr": Float(1e-4, 1.0, log=True), "reg": Float(0.0, 1.0)})


class TestPBT(MethodSuite):
    def make_method(self) -> Method:
        return PBT(population=8)


@pytest.mark.parametrize(
    ("param", "value", "factor", "expected"),
    [
        (Float(0.0, 1.0), 0.5, 1.2, 0.6),
        (Float(0.0, 1.0), 0.9, 1.2, 1.0),  # clipped to high
        (Float(0.1, 1.0), 0.11, 0.8, 0.1),  # clipped to low
        (Float(1e-4, 1.0, log=True), 0.01, 0.8, 0.008),
        (Float(0.0, 1.0, step=0.25), 0.5, 1.2, 0.75),  # 0.6 rounds back: one step up
        (Float(0.0, 1.0, step=0.1), 0.1, 0.8, 0.0),
        (Int(0, 100, step=25), 50, 0.8, 25),  # 40 rounds back to 50: one step down
        (Int(0, 100, step=25), 25, 1.2, 50),
        (Choice([1, True, "x"]), True, 1.2, "x"),  # True is not the option 1
        (Choice([0.0, False, None]), False, 1.2, None),
        (Float(0.0, 1.0, step=0.25), 0.5, 1.3, 0.75),
        (Int(1, 10), 2, 1.2, 3),  # 2.4 rounds to 2: an int moves by at least one
        (Int(1, 10), 2, 0.8, 1),
        (Int(1, 10), 1, 0.8, 1),  # at the bottom already
        (Int(1, 100), 50, 1.2, 60),
        (Int(0, 100, step=10), 50, 1.2, 60),
        (Choice([16, 32, 64]), 32, 1.2, 64),  # choices move to the next option
        (Choice([16, 32, 64]), 32, 0.8, 16),
        (Choice(["a", "b"]), "b", 1.2, "b"),  # and stay at the ends
    ],
)
def test_perturbation_multiplies_and_stays_in_the_space(
    param: Float | Int | Choice, value: object, factor: float, expected: object
) -> None:
    moved = perturbed(param, value, factor)  # type: ignore[arg-type]
    assert moved == pytest.approx(expected)
    assert param.validate(moved) == moved


def test_explore_resamples_everything_with_probability_one() -> None:
    rng = np.random.default_rng(0)
    params = {"lr": 0.01, "reg": 0.5}
    moved = [explore(SPACE, params, rng, (0.8, 1.2), resample=1.0) for _ in range(50)]
    factors = {round(m["lr"] / 0.01, 6) for m in moved}  # type: ignore[operator]
    assert len(factors) > 40  # not just 0.8 and 1.2


def test_explore_only_perturbs_with_probability_zero() -> None:
    rng = np.random.default_rng(1)
    params = {"lr": 0.01, "reg": 0.5}
    for _ in range(20):
        moved = explore(SPACE, params, rng, (0.8, 1.2), resample=0.0)
        assert moved["lr"] == pytest.approx(0.008) or moved["lr"] == pytest.approx(0.012)
        assert moved["reg"] == pytest.approx(0.4) or moved["reg"] == pytest.approx(0.6)


def member_of(trial: TrialRecord) -> int:
    return int((trial.claim or "").split(":")[1].split("#")[0])


def finish_all(method: PBT, history: History, scores: dict[int, float]) -> list[TrialRecord]:
    """Ask once per ready member; complete each with its member's score."""
    made = []
    for _ in range(method.population):
        proposal = method.ask(history)
        number = history.next_number
        member = int(proposal.claim.split(":")[1])  # type: ignore[union-attr]
        history.update(record(number, proposal, TrialState.COMPLETE, scores[member]))
        made.append(history.trials[number])
    return made


def test_the_bottom_quarter_exploits_the_top_quarter_and_the_rest_continue() -> None:
    method = PBT(population=8, interval=5, quantile=0.25)
    history = History(SPACE, "minimize", 0)
    scores = {m: float(m) for m in range(8)}  # member 0 best, 7 worst
    first = finish_all(method, history, scores)
    assert [t.claim for t in first] == [f"pbt:{m}:0" for m in range(8)]
    assert all(t.budget == 5 and not t.parents and t.origin == "sampled" for t in first)
    second = {member_of(t): t for t in finish_all(method, history, scores)}
    for member, trial in second.items():
        (edge,) = trial.parents
        source = history.trials[edge.parent]
        if member in (6, 7):  # the bottom two exploit the latest segment of a top member
            assert trial.origin == edge.kind == "exploited" and member_of(source) in (0, 1)
            assert source.number == max(
                t.number
                for t in history.trials[: trial.number]
                if member_of(t) == member_of(source)
            )
        else:
            assert trial.origin == edge.kind == "continued" and edge.parent == member
            assert trial.params == first[member].params
        assert edge.step == source.budget and trial.budget == edge.step + 5


def test_maximizing_exploits_the_largest_scores() -> None:
    method = PBT(population=4, quantile=0.25)
    history = History(SPACE, "maximize", 0)
    scores = {0: 0.9, 1: 0.1, 2: 0.5, 3: 0.6}
    finish_all(method, history, scores)
    second = finish_all(method, history, scores)
    exploited = [t for t in second if t.origin == "exploited"]
    assert len(exploited) == 1 and exploited[0].claim == "pbt:1:1"
    assert member_of(history.trials[exploited[0].parents[0].parent]) == 0


@pytest.mark.parametrize("population", [2, 3])
def test_a_small_population_still_exploits_its_best(population: int) -> None:
    """quantile 0.25 of 2 or 3 members is less than one: the worst still exploits the
    best, or a small population would never exploit at all."""
    method = PBT(population=population, quantile=0.25)
    history = History(SPACE, "minimize", 0)
    scores = {m: float(m) for m in range(population)}
    finish_all(method, history, scores)
    second = finish_all(method, history, scores)
    (exploited,) = [t for t in second if t.origin == "exploited"]
    assert member_of(exploited) == population - 1
    assert member_of(history.trials[exploited.parents[0].parent]) == 0


def test_an_exploiting_member_continues_from_the_source_step() -> None:
    method = PBT(population=4, interval=3, quantile=0.25)
    history = History(SPACE, "minimize", 0)
    scores = {0: 0.0, 1: 1.0, 2: 2.0, 3: 3.0}
    for _ in range(3):  # member 0 runs ahead by three segments
        proposal = method.ask(history)
        history.update(record(history.next_number, proposal, TrialState.COMPLETE, 0.0))
        if proposal.claim == "pbt:0:0":
            break
    finish_all(method, history, scores)
    later = [t for t in history.trials if t.origin == "exploited"]
    assert all(t.budget == t.parents[0].step + 3 for t in later)


def test_a_busy_member_is_never_proposed_and_the_end_says_so() -> None:
    method = PBT(population=2, generations=2)
    history = History(SPACE, "minimize", 0)
    a = method.ask(history)
    history.update(record(0, a, TrialState.RUNNING, None))
    b = method.ask(history)
    history.update(record(1, b, TrialState.RUNNING, None))
    assert {a.claim, b.claim} == {"pbt:0:0", "pbt:1:0"}
    with pytest.raises(SearchExhausted, match="being trained by another worker"):
        method.ask(history)
    history.update(record(0, a, TrialState.COMPLETE, 1.0))
    c = method.ask(history)
    assert c.claim == "pbt:0:1"
    history.update(record(2, c, TrialState.COMPLETE, 1.0))  # member 0 reached the horizon
    with pytest.raises(SearchExhausted, match="1 of 2 members reached step 10; the others"):
        method.ask(history)


LOST = "worker lost: process 4321 on vm is gone"  # a crash: not the segment's fault


def lost(number: int, proposal: Proposal) -> TrialRecord:
    return record(number, proposal, TrialState.FAILED, None).replace(error=LOST)


def test_a_failed_segment_runs_again_from_the_last_good_one() -> None:
    method = PBT(population=2, generations=3)
    history = simulate(method, SPACE, 2, seed=0)  # both members' first segments
    proposal = method.ask(history)
    history.update(lost(2, proposal))
    again = method.ask(history)
    assert again.claim == f"{proposal.claim}#1" and again.parents == proposal.parents


def test_an_exploit_run_again_after_a_crash_makes_the_same_draws() -> None:
    """A segment whose trial was lost runs again with the same source and the same
    explored hyperparameters: it makes the draws of its first attempt's number."""
    method = PBT(population=4, quantile=0.25)
    history = History(SPACE, "minimize", 0)
    scores = {0: 0.0, 1: 1.0, 2: 2.0, 3: 3.0}
    finish_all(method, history, scores)
    while (first := method.ask(history)).origin != "exploited":
        history.update(record(history.next_number, first, TrialState.RUNNING, None))
    history.update(lost(history.next_number, first))
    again = method.ask(history)
    assert again.claim == f"{first.claim}#1"
    assert (again.params, again.parents, again.origin) == (
        first.params, first.parents, first.origin,
    )  # fmt: skip


def test_a_first_segment_run_again_samples_the_same_point() -> None:
    method = PBT(population=2)
    history = History(SPACE, "minimize", 0)
    first = method.ask(history)
    history.update(lost(0, first))
    again = method.ask(history)
    assert again.claim == "pbt:0:0#1" and again.params == first.params


FAILED = "Traceback (most recent call last):\nFloatingPointError: diverged"


def test_a_first_segment_that_failed_of_its_own_samples_a_new_point() -> None:
    """The same point would fail again (a learning rate that diverges): run again with
    the same draws, one member stopped the population after max_failures tries."""
    method = PBT(population=2)
    history = History(SPACE, "minimize", 0)
    first = method.ask(history)
    history.update(record(0, first, TrialState.FAILED, None).replace(error=FAILED))
    again = method.ask(history)
    assert again.claim == "pbt:0:0#1" and again.params != first.params
    history.update(lost(1, again))  # a crash of the new attempt: that one runs again
    third = method.ask(history)
    assert third.claim == "pbt:0:0#2" and third.params == again.params


def test_a_later_segment_that_failed_of_its_own_copies_a_top_member() -> None:
    """A member whose segment failed (its model diverged, say) ranks last: continuing
    it from the same checkpoint with the same values would fail again."""
    method = PBT(population=4, quantile=0.25)
    history = History(SPACE, "minimize", 0)
    finish_all(method, history, {0: 0.0, 1: 1.0, 2: 2.0, 3: 3.0})  # member 0 is the best
    first = method.ask(history)
    assert first.claim == "pbt:0:1" and first.origin == "continued"
    history.update(record(4, first, TrialState.FAILED, None).replace(error=FAILED))
    again = method.ask(history)
    assert again.claim == "pbt:0:1#1" and again.origin == "exploited"
    assert again.parents[0].parent == 1  # the best of the others, at its step


def test_a_member_never_exploits_one_that_is_behind_it() -> None:
    """After a crash members are out of step: copying one that trained less would throw
    away the bottom member's steps since, so it goes on instead."""
    method = PBT(population=2, interval=3, quantile=0.5)
    history = History(SPACE, "minimize", 0)
    best = record(0, method.ask(history), TrialState.COMPLETE, 0.0)  # member 0: step 3
    history.update(best)
    for number in (1, 2):  # member 1 twice (member 0 is made busy in between): step 6
        proposal = method.ask(history)
        assert proposal.claim == f"pbt:1:{number - 1}"
        history.update(record(number, proposal, TrialState.COMPLETE, 9.0))
        if number == 1:
            history.update(best.replace(state=TrialState.RUNNING))
    history.update(best)
    third = method.ask(history)  # member 0 (step 3) is first in line, and the best
    assert third.claim == "pbt:0:1" and third.origin == "continued"
    history.update(record(3, third, TrialState.RUNNING, None))
    fourth = method.ask(history)  # member 1 (step 6) is the worst; member 0 is at step 3
    assert fourth.claim == "pbt:1:2" and fourth.origin == "continued"
    assert fourth.parents[0].parent == 2 and fourth.budget == 9


def test_a_bottom_member_copies_the_best_it_can_when_the_best_reached_the_horizon() -> None:
    """The best member, the whole top quantile at population 3, reached the horizon
    first (nothing left to train in a copy of it): the worst member went on with its bad
    values to the end, though the second best, at its step, was there to copy."""
    method = PBT(population=3, interval=1, generations=2, quantile=0.25)
    history = History(SPACE, "minimize", 0)
    finish_all(method, history, {0: 0.0, 1: 1.0, 2: 2.0})
    best = method.ask(history)
    assert best.claim == "pbt:0:1" and best.origin == "continued"
    history.update(record(3, best, TrialState.COMPLETE, 0.0))  # member 0: the horizon
    second = method.ask(history)
    assert second.claim == "pbt:1:1" and second.origin == "continued"
    history.update(record(4, second, TrialState.RUNNING, None))
    worst = method.ask(history)
    assert worst.claim == "pbt:2:1" and worst.origin == "exploited"
    assert worst.parents[0].parent == 1 and worst.parents[0].step == 1


def test_every_member_trains_up_to_the_horizon_and_no_further() -> None:
    method = PBT(population=4, interval=5, generations=3, quantile=0.25)
    history = History(SPACE, "minimize", 0)
    with pytest.raises(SearchExhausted, match="complete: 4 members reached step 15"):
        for number in range(100):
            proposal = method.ask(history)
            value = float(np.log(proposal.params["lr"]) ** 2)  # type: ignore[arg-type]
            history.update(record(number, proposal, TrialState.COMPLETE, value))
    assert len(history.trials) <= 4 * 3  # a member that copied one ahead skips segments
    latest = [history.trials[n] for n in method.resumable(history)]
    assert sorted(t.budget for t in latest) == [15.0] * 4
    assert all(t.budget is not None and t.budget <= 15 for t in history.trials)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"population": 1}, "`population >= 2` must hold for a whole number"),
        ({"interval": 0}, "`interval >= 1` must hold"),
        ({"generations": 2.5}, "`generations >= 1` must hold"),
        ({"quantile": 0.75}, "`0 < quantile <= 0.5` must hold, but got quantile=0.75"),
        ({"perturb": ()}, "`perturb` must be a non-empty list of positive finite factors"),
        ({"perturb": (0.8, -1.0)}, "`perturb` must be a non-empty list"),
        ({"perturb": (0.8, float("inf"))}, "factors, e.g. (0.8, 1.2), but got perturb=(0.8, inf)"),
        ({"resample_probability": 2}, "`0 <= resample_probability <= 1` must hold"),
    ],
)
def test_bad_options_are_one_clear_error(options: dict[str, object], message: str) -> None:
    with pytest.raises(MethodError, match=message.replace("(", r"\(").replace(")", r"\)")):
        PBT(**options)  # type: ignore[arg-type]


def test_a_budget_on_tune_is_refused_since_pbt_sets_each_segments_budget(
    tmp_path: Path,
) -> None:
    """A ``budget=`` would be ignored (each member trains ``generations * interval``
    steps), its reports would pass its max unchecked and ``show`` would print it."""
    space = {"lr": Float(1e-4, 1.0, log=True), "reg": Float(0.0, 1.0)}
    method = PBT(population=2, interval=5, generations=2)
    with pytest.raises(MethodError, match=r"sets each trial's budget itself.*drop budget="):

        @hp.tune(space, method=method, budget=hp.Budget(1, 3), db=tmp_path / "h.db")
        def train(lr: float, reg: float) -> float:
            return lr


@pytest.mark.parametrize("loop", ["from scratch", "relabelled", "unloaded", "unsaved", "right"])
def test_a_segment_that_does_not_go_on_from_its_checkpoint_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, loop: str
) -> None:
    """The mistakes of a PBT loop: training from step 1 without the checkpoint, loading
    it and counting from 1 again, training ``trial.steps`` without loading it (the model
    starts from scratch at every segment, and nothing told). Each is said once with the
    loop to write; a loop that saves nothing gets only the warning that says so; the
    right loop, nothing."""

    @hp.tune({"lr": Float(1e-3, 1.0, log=True)}, method=PBT(population=4, interval=2,
             generations=3), study="p", db=tmp_path / "h.db", seed=0)  # fmt: skip
    def train(lr: float, trial: hp.Trial) -> float:
        state = {"w": 0.0}
        if loop in ("relabelled", "right"):
            state = trial.load_checkpoint() or state
        steps = trial.steps if loop in ("unloaded", "right") else range(1, trial.budget + 1)
        loss = 1.0
        for step in steps:
            state["w"] += lr * (1.0 - state["w"])
            loss = (1.0 - state["w"]) ** 2
            trial.report(loss, step=step)
        if loop != "unsaved":
            trial.save_checkpoint(state)
        return loss

    with caplog.at_level(logging.WARNING, logger="hpotrack"):
        study = train.optimize()
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    if loop == "right":
        assert said == []
        return
    assert len(said) == 1, said
    if loop == "unsaved":
        assert "completed without saving a checkpoint" in said[0]
        return
    first = next(t for t in study.trials if t.parents)  # the first segment that goes on
    edge = first.parents[0]
    how = "continuing" if edge.kind == "continued" else "copying"
    expected = {
        "from scratch": f"trial {first.number} of study 'p', {how} trial {edge.parent} at "
        f"step {edge.step}, started from scratch (it reported step 1)",
        "relabelled": f"trial {first.number} of study 'p' loaded the checkpoint of step "
        f"{edge.step} ({how} trial {edge.parent}), then reported step 1",
        "unloaded": f"trial {first.number} of study 'p', {how} trial {edge.parent} at step "
        f"{edge.step}, trained steps {edge.step + 1} to {first.budget:g} without loading",
    }
    assert said[0].startswith(expected[loop]), said[0]
    fix = "trial.load_checkpoint()" if loop != "relabelled" else "for epoch in trial.steps"
    assert fix in said[0]


def test_a_target_that_stops_the_population_short_says_so_with_the_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``n_trials=3`` of Optuna habit, with a population of 4, stopped at the target
    without a word: one member never trained, none went past its first segment. The
    run says so, with the target that trains every member to the horizon; a target
    reached already, or one large enough, says nothing."""

    @hp.tune({"lr": Float(1e-3, 1.0, log=True)}, method=PBT(population=4, interval=2,
             generations=3), study="p", db=tmp_path / "h.db", seed=0)  # fmt: skip
    def train(lr: float, trial: hp.Trial) -> float:
        state = trial.load_checkpoint() or {"w": 0.0}
        for _ in trial.steps:
            state["w"] += lr * (1.0 - state["w"])
        trial.save_checkpoint(state)
        return (1.0 - state["w"]) ** 2

    def warnings_of(n_trials: int | None) -> list[str]:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="hpotrack"):
            train.optimize(n_trials=n_trials)
        return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]

    (said,) = warnings_of(3)
    assert said.startswith(
        "study 'p': pbt trains 4 members to step 6 in up to 12 more segments (one trial "
        "each), and n_trials=3 leaves room for 3: it may stop before every member gets "
        "there (member 3 never trains: the population is 4)"
    )
    assert "pass n_trials=12 or more" in said
    assert warnings_of(3) == []  # reached: nothing runs
    (said,) = warnings_of(6)  # member 3 and the second segments of the others: 9 left
    assert "up to 9 more segments (one trial each), and n_trials=6 leaves room for 3:" in said
    assert "never train" not in said and "pass n_trials=12 or more" in said
    assert warnings_of(12) == []
    reached = {t.budget for t in hp.load_study("p", db=tmp_path / "h.db").trials}
    assert max(b for b in reached if b is not None) == 6


def test_max_budget_caps_the_steps_a_population_trains(tmp_path: Path) -> None:
    """PBT gives each segment a whole-number budget itself, so ``max_budget`` counts the
    steps its members trained; it was refused, telling the user to pass ``budget=``
    to ``@tune``, which pbt refuses in turn."""

    @hp.tune({"lr": Float(1e-3, 1.0, log=True)}, method=PBT(population=2, interval=5,
             generations=4), study="p", db=tmp_path / "h.db", seed=0)  # fmt: skip
    def train(lr: float, trial: hp.Trial) -> float:
        state = trial.load_checkpoint() or 0.0
        for step in trial.steps:
            state += lr * (1.0 - state)
            trial.report(1.0 - state, step=step)
        trial.save_checkpoint(state)
        return 1.0 - state

    study = train.optimize(max_budget=12)
    assert [t.trained for t in study.trials] == [5, 5, 5]  # the third started below 12
    assert train.optimize(max_budget=40).trials[-1].budget == 20


def test_enqueue_into_a_population_is_refused_with_what_to_do(tmp_path: Path) -> None:
    """A queued trial belongs to no member: it failed later, saying that pbt sets no
    budget although the method was pbt."""
    db = tmp_path / "h.db"

    @hp.tune({"lr": Float(1e-4, 1.0, log=True)}, method=PBT(population=2), db=db, study="p")
    def train(lr: float) -> float:
        return lr

    with pytest.raises(MethodError, match="cannot queue trials: pbt trains a population"):
        train.study.enqueue({"lr": 0.1})
    result = CliRunner().invoke(cli, ["--db", str(db), "enqueue", "p", "lr=0.1"])
    assert result.exit_code == 2 and "narrow the space" in result.output
    assert hp.load_study("p", db=db).trials == []


def ask_or_why(method: PBT, history: History) -> Proposal | str:
    """The proposal, or why there is none."""
    try:
        return method.ask(history)
    except SearchExhausted as exc:
        return str(exc)


def rebuilt(history: History) -> History:
    """The same trials in a new history (a new process: its cache is empty)."""
    fresh = History(history.space, history.direction, history.seed)
    for trial in history.trials:
        fresh.update(trial)
    return fresh


def resumable_by_scan(history: History) -> set[int]:
    """:meth:`PBT.resumable` as a read of every trial gives it."""
    latest: dict[str, int] = {}
    for trial in history.trials:
        claim = trial.claim or ""
        if claim.startswith("pbt:") and trial.state is TrialState.COMPLETE:
            latest[claim.split(":")[1]] = trial.number
    return set(latest.values())


def standings_by_scan(method: PBT, history: History) -> list[Standing]:
    """:meth:`PBT.standings` as a read of every trial gives it (what ask did before the
    claim index)."""
    segments: list[list[TrialRecord]] = [[] for _ in range(method.population)]
    for trial in history.trials:
        found = member_segment(trial)
        if found is not None and found[0] < method.population:
            segments[found[0]].append(trial)
    standings = []
    for member, trials in enumerate(segments):
        done = [t for t in trials if t.state is TrialState.COMPLETE]
        busy = bool(trials) and trials[-1].state in (TrialState.RUNNING, TrialState.QUEUED)
        attempts = tuple(t.number for t in trials if member_segment(t) == (member, len(done)))
        latest = done[-1] if done else None
        standings.append(Standing(member, busy, len(done), latest, attempts))
    return standings


def test_the_cached_claim_index_gives_what_a_new_process_does() -> None:
    """Ask reads the members from an index the history caches and extends at each ask.
    At every ask of a run with three workers (segments finishing out of order, failing,
    lost while the others go on, an outcome applied ahead and then dropped since the
    trial was found lost) it proposes what a history rebuilt from the same trials does,
    and sees each member as a read of every trial does."""
    method = PBT(population=4, interval=2, generations=12, quantile=0.5)
    history = History(SPACE, "minimize", 0)
    rng = np.random.default_rng(0)
    running: list[int] = []
    ahead: TrialRecord | None = None  # complete in the history, not in the store
    taken_back = False
    for _ in range(300):
        index = history.cache.get("pbt:claims")
        live = ask_or_why(method, history)
        if index is not None and not taken_back:  # extended, not read anew
            assert history.cache["pbt:claims"] is index
        fresh = rebuilt(history)
        assert live == ask_or_why(method, fresh)
        assert method.standings(history) == standings_by_scan(method, fresh)
        assert set(method.resumable(history)) == set(method.resumable(fresh))
        assert set(method.resumable(fresh)) == resumable_by_scan(fresh)
        if ahead is not None:  # the study drops its guess and takes the store's record
            history.update(ahead.replace(state=TrialState.FAILED, value=None))
            ahead, taken_back = None, True
            continue
        taken_back = False
        if isinstance(live, Proposal):
            running.append(history.next_number)
            history.update(record(history.next_number, live, TrialState.RUNNING, None))
        elif not running:
            break
        if len(running) == 3 or isinstance(live, str):
            trial = history.trials[running.pop(int(rng.integers(len(running))))]
            fate = rng.random()
            if fate < 0.15:
                history.update(trial.replace(state=TrialState.FAILED))
            else:
                score = float(np.log(trial.params["lr"]) ** 2)  # type: ignore[arg-type]
                history.update(trial.replace(state=TrialState.COMPLETE, value=score))
                if fate < 0.3:
                    ahead = history.trials[trial.number]
    assert live == "population-based training is complete: 4 members reached step 24"
    kinds = {t.origin for t in history.trials} | {t.state for t in history.trials}
    assert {"exploited", "continued", TrialState.FAILED} <= kinds
    assert any("#" in (t.claim or "") for t in history.trials)  # a segment run again

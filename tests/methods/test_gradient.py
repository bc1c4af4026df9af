"""``gradient``: Adam on given hypergradients and on SPSA estimates, replayed from the
history (and from the replay cached on it); the chain rule of the encoding; what it
refuses."""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Mapping

import numpy as np
import pytest

import hpotrack as hp
from hpotrack.errors import MethodError, SearchExhausted
from hpotrack.methods.base import Proposal
from hpotrack.methods.gradient import Adam, Gradient, hypergradient
from hpotrack.methods.history import History
from hpotrack.records import Edge, TrialRecord, TrialState
from hpotrack.space import Space, Value
from hpotrack.testing.method_suite import MethodSuite

SPACE = Space.from_user({"a": hp.Float(1e-3, 1e3, log=True), "b": hp.Float(-2.0, 2.0)})
TARGET = {"a": 10.0, "b": 1.0}


class TestGradient(MethodSuite):
    space = SPACE

    def make_method(self) -> hp.methods.Method:
        return Gradient()

    def _objective(self, params: Mapping[str, Value]) -> float:
        """Not the suite's distance to the centre of the cube: descent starts there, at
        that minimum, and stops at once (its steps are all short)."""
        return loss(params)  # type: ignore[arg-type]

    @pytest.mark.parametrize("completed", [1, 13])  # the start, then whole probe pairs
    def test_pending_trials_are_not_proposed_again(self, completed: int) -> None:
        """Descent is sequential: SPSA's two probes may run at once, then nothing more."""
        method = self.make_method()
        history = self._simulate(method, completed, seed=5)
        probes = []
        for number in range(completed, completed + 2):
            proposal = method.ask(history)
            probes.append(proposal.params)
            history.update(TrialRecord(number, TrialState.RUNNING, proposal.params,
                                       origin=proposal.origin, claim=proposal.claim))  # fmt: skip
        assert probes[0] != probes[1]
        with pytest.raises(SearchExhausted, match="sequential"):
            method.ask(history)

    def test_failed_and_running_trials_in_the_history_are_handled(self) -> None:
        """A failed start is stepped back from; a running one blocks the next iterate."""
        method = self.make_method()
        history = History(self.space, "minimize", 9)
        start = method.ask(history)
        history.update(TrialRecord(0, TrialState.RUNNING, start.params))
        with pytest.raises(SearchExhausted, match="sequential"):
            method.ask(history)
        history.update(TrialRecord(0, TrialState.FAILED, start.params))
        assert self.space.validate(method.ask(history).params)


def loss(params: dict[str, float]) -> float:
    return (math.log10(params["a"]) - 1.0) ** 2 + (params["b"] - TARGET["b"]) ** 2


def gradient_of(params: dict[str, float]) -> dict[str, float]:
    """d loss / d a and d loss / d b in the parameters' own units."""
    a, b = params["a"], params["b"]
    return {"a": 2 * (math.log10(a) - 1.0) / (a * math.log(10)), "b": 2 * (b - TARGET["b"])}


def run(method: Gradient, n: int, *, with_gradient: bool, direction: str = "minimize") -> History:
    history = History(SPACE, direction, 0)
    sign = 1.0 if direction == "minimize" else -1.0
    for number in range(n):
        proposal = method.ask(history)
        params = proposal.params
        value = sign * loss(params)  # type: ignore[arg-type]
        metrics: dict[str, object] = {"value": value}
        if with_gradient:
            metrics["hypergrad"] = {k: sign * g for k, g in gradient_of(params).items()}  # type: ignore[arg-type]
        history.update(finished(number, proposal, value, metrics))
    return history


def finished(
    number: int, proposal: Proposal, value: float, metrics: dict[str, object]
) -> TrialRecord:
    return TrialRecord(
        number=number,
        state=TrialState.COMPLETE,
        params=proposal.params,
        value=value,
        metrics=metrics,
        origin=proposal.origin,
        parents=proposal.parents,
        claim=proposal.claim,
        note=proposal.note,
    )


def test_the_chain_rule_of_a_log_and_a_linear_parameter() -> None:
    trial = TrialRecord(0, TrialState.COMPLETE, {"a": 10.0, "b": 0.0},
                        metrics={"hypergrad": {"a": 0.5, "b": 3.0}})  # fmt: skip
    cube = hypergradient(SPACE, trial)
    assert cube is not None
    assert cube[0] == pytest.approx(0.5 * 10.0 * math.log(1e6))  # x · ln(high/low)
    assert cube[1] == pytest.approx(3.0 * 4.0)  # high - low


def test_adam_matches_its_definition_for_two_steps() -> None:
    adam = Adam(Gradient(lr=0.1), 1)
    first = adam.step(np.array([0.5]), np.array([2.0]))
    assert first[0] == pytest.approx(0.5 - 0.1)  # the first Adam step is lr · sign(g)
    second = adam.step(first, np.array([-1.0]))
    m = 0.9 * 0.2 + 0.1 * -1.0
    v = 0.999 * 0.004 + 0.001 * 1.0
    expected = first[0] - 0.1 * (m / (1 - 0.81)) / (math.sqrt(v / (1 - 0.999**2)) + 1e-8)
    assert second[0] == pytest.approx(expected)


def test_given_hypergradients_lead_to_the_minimum() -> None:
    history = run(Gradient(lr=0.05), 80, with_gradient=True)
    best = min(t.value for t in history.trials if t.value is not None)
    assert best < 1e-3 < history.trials[0].value  # type: ignore[operator]
    for trial in history.trials[1:]:
        (edge,) = trial.parents
        assert edge.kind == "gradient-step" and edge.parent == trial.number - 1


def test_maximizing_climbs_the_objective() -> None:
    history = run(Gradient(lr=0.05), 60, with_gradient=True, direction="maximize")
    assert max(t.value for t in history.trials if t.value is not None) > -1e-2


def test_spsa_without_hypergradients_also_descends_with_paired_probes() -> None:
    history = run(Gradient(lr=0.05), 121, with_gradient=False)
    claims = [t.claim for t in history.trials[1:5]]
    assert claims == ["spsa:0+", "spsa:0-", "spsa:1+", "spsa:1-"]
    late = [t.value for t in history.trials[-20:] if t.value is not None]
    assert sum(late) / len(late) < history.trials[0].value / 10  # type: ignore[operator]
    assert {e.parent for e in history.trials[3].parents} == {1, 2}


def test_a_running_iterate_blocks_the_next_one() -> None:
    method = Gradient()
    history = History(SPACE, "minimize", 0)
    first = method.ask(history)
    assert first.params == SPACE.decode(np.full(2, 0.5))  # the centre of the cube
    history.update(TrialRecord(0, TrialState.RUNNING, first.params))
    with pytest.raises(SearchExhausted, match="sequential"):
        method.ask(history)


def test_a_failed_iterate_backs_off_half_way() -> None:
    method = Gradient(lr=0.2)
    history = run(method, 3, with_gradient=True)
    failing = method.ask(history)
    history.update(TrialRecord(3, TrialState.FAILED, failing.params, origin="gradient-step",
                               parents=failing.parents))  # fmt: skip
    retry = method.ask(history)
    middle = (SPACE.encode(history.trials[2].params) + SPACE.encode(failing.params)) / 2
    assert SPACE.encode(retry.params) == pytest.approx(middle)


@pytest.mark.parametrize("with_gradient", [True, False], ids=["hypergradient", "spsa"])
@pytest.mark.parametrize("lost", [0, 3, 4])
def test_a_lost_trials_retry_stands_in_for_it(with_gradient: bool, lost: int) -> None:
    """Trial ``lost`` (the start, an iterate, an SPSA probe) is lost and retried as the
    study retries (the retry holds the same parameters and edges, plus a ``retried`` edge,
    and no claim): the descent waits for the retry and goes on from it exactly as if the
    trial had completed (it used to back off from the failure while the retry ran)."""
    method = Gradient(lr=0.2)
    whole = run(method, 9, with_gradient=with_gradient)
    history = History(SPACE, "minimize", 0)
    for record in whole.trials[:lost]:
        history.update(record)
    original = whole.trials[lost]
    history.update(original.replace(state=TrialState.FAILED, value=None, metrics={},
                                    error="worker lost: process 1 is gone"))  # fmt: skip
    retry = TrialRecord(lost + 1, TrialState.QUEUED, original.params, origin="retried",
                        parents=(*original.parents, Edge(lost, "retried")))  # fmt: skip
    history.update(retry)
    waiting = checked_against_a_full_replay(method, history)
    if not with_gradient and lost == 3:  # the pair's other probe may still start
        assert isinstance(waiting, Proposal) and waiting.claim == "spsa:1-"
    else:
        assert isinstance(waiting, str) and "sequential" in waiting
    history.update(original.replace(number=lost + 1, origin="retried", claim=None,
                                    parents=retry.parents))  # fmt: skip
    expected = outcome(method, whole_without(whole, lost + 1))
    proposal = checked_against_a_full_replay(method, history)
    assert isinstance(proposal, Proposal) and isinstance(expected, Proposal)
    assert proposal.params == expected.params and proposal.claim == expected.claim


def whole_without(history: History, n: int) -> History:
    """A history of the first ``n`` trials of ``history``."""
    first = History(history.space, history.direction, history.seed)
    for trial in history.trials[:n]:
        first.update(trial)
    return first


def test_a_failed_first_trial_does_not_switch_the_study_to_spsa() -> None:
    """Whether the function returns hypergradients is read off the first complete trial:
    after a failed start, descent proposes the start again, and follows the gradients."""
    method = Gradient(lr=0.2)
    history = History(SPACE, "minimize", 0)
    start = method.ask(history)
    history.update(TrialRecord(0, TrialState.FAILED, start.params, error="transient"))
    again = method.ask(history)
    assert again.params == start.params and again.claim is None  # not an SPSA probe
    for number in range(1, 40):
        proposal = method.ask(history) if number > 1 else again
        metrics = {"value": loss(proposal.params), "hypergrad": gradient_of(proposal.params)}  # type: ignore[arg-type]
        history.update(finished(number, proposal, loss(proposal.params), metrics))  # type: ignore[arg-type]
    assert not any((t.claim or "").startswith("spsa") for t in history.trials)
    assert min(t.value for t in history.trials[1:] if t.value is not None) < loss(start.params) / 20  # type: ignore[arg-type]


def outcome(method: Gradient, history: History) -> Proposal | str:
    try:
        return method.ask(history)
    except SearchExhausted as stop:
        return str(stop)


def checked_against_a_full_replay(method: Gradient, history: History) -> Proposal | str:
    """What ``method`` proposes on ``history``, whose cache holds the replay as far as the
    earlier asks got, asserted equal to what it proposes on a history rebuilt from the
    same trials: an empty cache, as in a new process, so a replay from the first trial."""
    rebuilt = History(history.space, history.direction, history.seed)
    for trial in history.trials:
        rebuilt.update(trial)
    live = outcome(method, history)
    assert live == outcome(method, rebuilt), f"at trial {history.next_number}"
    return live


def ended(trial: TrialRecord, *, failed: bool, with_gradient: bool) -> TrialRecord:
    if failed:
        return trial.replace(state=TrialState.FAILED, error="diverged")
    value = loss(trial.params)  # type: ignore[arg-type]
    metrics: dict[str, object] = {"value": value}
    if with_gradient:
        metrics["hypergrad"] = gradient_of(trial.params)  # type: ignore[arg-type]
    return trial.replace(state=TrialState.COMPLETE, value=value, metrics=metrics)


@pytest.mark.parametrize("with_gradient", [True, False], ids=["hypergradient", "spsa"])
def test_the_cached_replay_is_the_replay_from_the_first_trial(with_gradient: bool) -> None:
    """Each ask carries the replay kept in ``history.cache`` on over the trials added
    since: at every ask it must propose exactly what an empty cache does. Asks come while
    trials run (SPSA's probes two at a time) and a fifth of the trials fail, the first
    among them. An enqueued trial runs from the start to the middle and then completes
    first, the other way (with a hypergradient for SPSA, without for descent): from
    then on the method takes the other path, as a replay from the first trial does."""
    method = Gradient(lr=0.2)
    history = History(SPACE, "minimize", 3)
    chance = random.Random(5)
    start = method.ask(history)
    history.update(TrialRecord(0, TrialState.FAILED, start.params, error="transient"))
    history.update(TrialRecord(1, TrialState.RUNNING, TARGET, origin="enqueued"))  # type: ignore[arg-type]
    paths = set()
    for ask in range(300):
        if ask == 150:
            history.update(ended(history.trials[1], failed=False, with_gradient=not with_gradient))
        proposal = checked_against_a_full_replay(method, history)
        if isinstance(proposal, Proposal):
            paths.add(proposal.claim is None)
        running = [n for n in history.unfinished(TrialState.RUNNING) if n != 1]
        if isinstance(proposal, Proposal) and (not running or chance.random() < 0.5):
            history.update(TrialRecord(history.next_number, TrialState.RUNNING, proposal.params,
                                       origin=proposal.origin, parents=proposal.parents,
                                       claim=proposal.claim))  # fmt: skip
        elif running:
            trial = history.trials[chance.choice(running)]
            history.update(ended(trial, failed=chance.random() < 0.2, with_gradient=with_gradient))
    assert paths == {True, False} and history.next_number > 120
    assert history.cache  # kept by the asks: else the comparison would test nothing


@pytest.mark.parametrize("with_gradient", [True, False], ids=["hypergradient", "spsa"])
def test_an_outcome_the_store_replaced_leaves_the_cached_replay(with_gradient: bool) -> None:
    """The study puts the outcome of a trial that ends in its process into the history
    ahead of the store, and asks; if another process marked the trial lost meanwhile,
    the stored record (failed) replaces the outcome before the next ask, which must not
    go on from a replay that took the outcome in."""
    method = Gradient(lr=0.2)
    history = run(method, 10, with_gradient=with_gradient)  # the next trial ends a probe pair
    proposal = method.ask(history)
    running = TrialRecord(10, TrialState.RUNNING, proposal.params, origin=proposal.origin,
                          parents=proposal.parents, claim=proposal.claim)  # fmt: skip
    history.update(running)
    history.update(ended(running, failed=False, with_gradient=with_gradient))
    ahead = checked_against_a_full_replay(method, history)
    history.update(running.replace(state=TrialState.FAILED, error="worker lost"))
    assert checked_against_a_full_replay(method, history) != ahead


@pytest.mark.parametrize(
    ("hypergrad", "expected"),
    [
        ({"A": 1.0}, "hypergradient for 'A', which is not a hyperparameter"),
        ({"a": math.nan}, "hypergradient for 'a' must be a finite number"),
        ({"a": np.array([1.0])}, "hypergradient for 'a' must be a finite number"),
        ([1.0, 2.0], "'hypergrad' must be a dict"),
        (None, "'hypergrad' must be a dict of hyperparameter: number, but got None"),
        ({}, "the hypergradient has no derivative for 'a', 'b': give d objective"),
        ({"a": 1.0}, "the hypergradient has no derivative for 'b': give d objective"),
    ],
)
def test_returned_hypergradients_are_checked_like_reported_ones(
    db: object, hypergrad: object, expected: str
) -> None:
    """A misspelt name, a NaN or a missing derivative fails the trial with a message,
    instead of counting as a zero gradient that stalls the descent without a word (a
    fixed choice needs none)."""
    space = {"a": hp.Float(0.0, 1.0), "b": hp.Float(1e-3, 1.0, log=True), "kind": ["ridge"]}

    @hp.tune(space, method="gradient", study="g", db=db, seed=0)  # type: ignore[arg-type]
    def f(a: float, b: float, kind: str) -> dict[str, object]:
        return {"value": a, "hypergrad": hypergrad}

    study = f.optimize(n_trials=1)
    (trial,) = study.trials
    assert trial.state is TrialState.FAILED and expected in (trial.error or ""), trial.error


@pytest.mark.parametrize("method", ["gradient", "auto"])
def test_a_descent_step_that_returns_no_hypergradient_fails_saying_so(
    db: object, method: str
) -> None:
    """A branch of the function that forgets the hypergradient made its steps complete
    without one: the descent took each as a failure and backed off half way, and the
    study never got past the branch without a word. Such a step fails with the fix; a
    first trial without one starts SPSA, whose probes need none, as before."""

    @hp.tune({"x": hp.Float(-5.0, 5.0)}, method=method, study="g", db=db, seed=0)  # type: ignore[arg-type]
    def f(x: float, trial: hp.Trial) -> dict[str, object]:
        if trial.number >= 3:
            return {"value": (x - 1) ** 2}
        return {"value": (x - 1) ** 2, "hypergrad": {"x": 2 * (x - 1)}}

    trials = f.optimize(n_trials=6).trials
    late = trials[3:]
    assert late and all(t.state is TrialState.FAILED for t in late)
    assert (late[0].error or "").startswith(
        "the function returned no hypergradient, but this trial is a step of a descent on "
        "those it returns (trial 0 returned them): return {'hypergrad': {...}}"
    )
    assert all(t.state is TrialState.COMPLETE for t in trials if t not in late)

    @hp.tune({"x": hp.Float(-5.0, 5.0)}, method=method, study="spsa", db=db, seed=0)  # type: ignore[arg-type]
    def probed(x: float) -> float:
        return (x - 1) ** 2

    assert {t.state for t in probed.optimize(n_trials=6).trials} == {TrialState.COMPLETE}


def test_a_derivative_as_a_0_d_array_is_a_number(db: object) -> None:
    """Autodiff libraries return a derivative as a 0-d array."""

    @hp.tune({"a": hp.Float(0.0, 1.0)}, method="gradient", study="g", db=db, seed=0)  # type: ignore[arg-type]
    def f(a: float) -> dict[str, object]:
        return {"value": a, "hypergrad": {"a": np.array(2.0)}}

    (trial,) = f.optimize(n_trials=1).trials
    assert trial.state is TrialState.COMPLETE and trial.metrics["hypergrad"] == {"a": 2.0}


def test_it_stops_when_steps_become_tiny() -> None:
    with pytest.raises(SearchExhausted, match="converged"):
        run(Gradient(lr=1e-6, tolerance=1e-3), 5, with_gradient=True)


def test_a_descent_stopped_by_a_bound_says_the_best_may_lie_beyond(db: object) -> None:
    """The minimum at x = 8 outside [0, 5]: the descent sat at 5 and "converged", as if
    5 were the optimum."""

    @hp.tune({"x": hp.Float(0.0, 5.0)}, method="gradient", study="g", db=db, seed=0)  # type: ignore[arg-type]
    def f(x: float) -> dict[str, object]:
        return {"value": (x - 8.0) ** 2, "hypergrad": {"x": 2.0 * (x - 8.0)}}

    study = f.optimize(n_trials=200)
    assert len(study.trials) < 200 and study.best.params["x"] == 5.0
    with pytest.raises(SearchExhausted) as stop:
        study.method.ask(study.refresh())
    assert str(stop.value).endswith(
        ", with x at its upper bound (5.0): the best may lie beyond; widen the range to "
        "search there"
    )


@pytest.mark.parametrize(
    "space",
    [
        {"n": hp.Int(1, 5)},
        {"c": ["a", "b"]},
        {"x": hp.Float(0.0, 1.0, step=0.1)},
    ],
)
def test_integers_choices_and_grids_are_refused(space: dict[str, object]) -> None:
    with pytest.raises(MethodError, match="continuous hyperparameters"):
        Gradient().check(Space.from_user(space))


def test_a_fixed_choice_is_accepted() -> None:
    Gradient().check(Space.from_user({"x": hp.Float(0.0, 1.0), "kind": ["ridge"]}))


def test_a_space_of_fixed_choices_only_is_refused() -> None:
    """Nothing to descend: every trial would run the one configuration again."""
    with pytest.raises(MethodError, match=r"every parameter is fixed \('kind', 'seed'"):
        Gradient().check(Space.from_user({"kind": ["ridge"], "seed": [7]}))


def test_end_to_end_with_report_hypergradient(db: object) -> None:
    @hp.tune({"a": hp.Float(1e-3, 1e3, log=True), "b": hp.Float(-2.0, 2.0)},
             method="gradient", db=db, seed=0)  # fmt: skip
    def f(a: float, b: float, trial: hp.Trial) -> float:
        trial.report_hypergradient(gradient_of({"a": a, "b": b}))
        return loss({"a": a, "b": b})

    study = f.optimize(n_trials=40)
    assert study.best.value < study.trials[0].value / 20  # type: ignore[operator]
    assert "hypergrad" in study.trials[0].metrics
    assert study.trials[1].note == "gradient: Adam on the hypergradients the function returns"


def test_report_hypergradient_refuses_unknown_names_and_non_numbers() -> None:
    trial = hp.Trial(trial_id=1, number=0, params={"a": 1.0}, budget=None, objective="v",
                     study="s")  # fmt: skip
    with pytest.raises(hp.HpotrackError, match="not a hyperparameter"):
        trial.report_hypergradient({"z": 1.0})
    with pytest.raises(hp.HpotrackError, match="finite number"):
        trial.report_hypergradient({"a": math.nan})


def test_one_short_step_where_the_momentum_turns_is_not_convergence() -> None:
    """On (x - 1)^2 over [-5, 5] Adam's momentum changes sign at x = 0.64 (derivative
    -0.73) with a step under the tolerance: stopping there called it converged."""
    space = Space.from_user({"x": hp.Float(-5.0, 5.0)})
    history = History(space, "minimize", 0)
    method = Gradient()
    for number in range(300):
        try:
            proposal = method.ask(history)
        except SearchExhausted as stop:
            assert "converged" in str(stop)
            break
        x = float(proposal.params["x"])  # type: ignore[arg-type]
        metrics = {"value": (x - 1) ** 2, "hypergrad": {"x": 2 * (x - 1)}}
        history.update(finished(number, proposal, (x - 1) ** 2, metrics))  # type: ignore[arg-type]
    last = float(history.trials[-1].params["x"])  # type: ignore[arg-type]
    assert abs(last - 1.0) < 0.01, last


@pytest.mark.parametrize("with_gradient", [True, False], ids=["hypergradient", "spsa"])
def test_a_huge_penalty_or_gradient_moves_away_instead_of_making_nan(
    db: object, with_gradient: bool
) -> None:
    """A diverged run returning the largest float (the README's "large finite penalty"),
    or a derivative whose square overflows, made Adam's moments infinite: SPSA's iterate
    became inf / inf = NaN (the study stopped with "cannot decode NaN"), and descent froze
    where it was and "converged" after three trials."""
    largest = sys.float_info.max

    @hp.tune({"x": hp.Float(-3.0, 3.0), "y": hp.Float(-3.0, 3.0)}, method="gradient",
             study="g", db=db, seed=0)  # type: ignore[arg-type]  # fmt: skip
    def f(x: float, y: float) -> dict[str, object] | float:
        value = largest if x > 0.05 else (x + 1) ** 2 + y**2
        if not with_gradient:
            return value
        return {"value": value, "hypergrad": {"x": 1e300 if x > -0.1 else 2 * (x + 1), "y": 2 * y}}

    trials = f.optimize(n_trials=12).trials
    assert len(trials) == 12 and all(t.state is TrialState.COMPLETE for t in trials)
    assert min(t.value for t in trials) < trials[0].value  # type: ignore[operator,type-var]


@pytest.mark.parametrize("flat", [False, True], ids=["quadratic", "constant"])
def test_spsa_stops_too_once_its_steps_stay_below_the_tolerance(db: object, flat: bool) -> None:
    """The tolerance stopped only descent on given hypergradients: SPSA probed on around
    an iterate that no longer moved (a constant function: not at all) up to the target,
    and ``optimize()`` without one ran until Ctrl-C."""

    @hp.tune({"x": hp.Float(-5.0, 5.0)}, method="gradient", study="g", db=db, seed=0)  # type: ignore[arg-type]
    def f(x: float) -> float:
        return 1.0 if flat else (x - 1.0) ** 2

    study = f.optimize(n_trials=500)
    assert len(study.trials) < (10 if flat else 500)
    with pytest.raises(SearchExhausted, match="converged") as stop:
        study.method.ask(study.refresh())
    if not flat:  # the iterate, the mean of the last pair of probes, is at the minimum
        last = [float(t.params["x"]) for t in study.trials[-2:]]  # type: ignore[arg-type]
        assert sum(last) / 2 == pytest.approx(1.0, abs=0.01), (last, str(stop.value))

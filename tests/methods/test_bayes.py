"""``bayes``: the shared method contract plus what is specific to GP Bayesian optimisation."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hpotrack as hp
from hpotrack.constraints import Constraint
from hpotrack.errors import MethodError
from hpotrack.methods import Bayes, Method, feasibility, gp
from hpotrack.methods import bayes as bayes_module
from hpotrack.methods.base import Proposal
from hpotrack.methods.bayes import PAREGO_RHO, _scalarized
from hpotrack.methods.history import History
from hpotrack.methods.random_search import sobol_point
from hpotrack.methods.registry import resolve
from hpotrack.objectives import Objectives
from hpotrack.records import Edge, TrialRecord, TrialState, objective_sign
from hpotrack.space import Choice, Float, Int, Space, Value
from hpotrack.testing import MethodSuite, simulate
from hpotrack.testing.driver import record, run_proposal, simulate_front
from hpotrack.testing.method_suite import CONDITIONAL_SPACE, MIXED_SPACE, branin


class TestBayes(MethodSuite):
    model_based = True
    finds_fronts = True
    finds_feasible = True  # Gardner et al. 2014's toy, 40 trials

    def make_method(self) -> Method:
        return Bayes(candidates=256)


FAST = Bayes(candidates=256)
BRANIN = Space.from_user({"x": Float(-5.0, 10.0), "y": Float(0.0, 15.0)})


def history_of(
    space: Space, points: list[Mapping[str, Value]], values: list[float | None]
) -> History:
    """A history of completed (value) or running (None) trials."""
    history = History(space, "minimize", 0)
    for number, (params, value) in enumerate(zip(points, values, strict=True)):
        state = TrialState.RUNNING if value is None else TrialState.COMPLETE
        history.update(record(number, hp.methods.Proposal(dict(params)), state, value))
    return history


def random_history(space: Space, n: int, seed: int = 0) -> History:
    rng = np.random.default_rng(seed)
    points = [space.decode(rng.random(len(space))) for _ in range(n)]
    values = [float(((space.encode(p) - 0.3) ** 2).sum()) for p in points]
    return history_of(space, points, list(values))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"candidates": 0}, "`candidates >= 1` must hold for a whole number, but got candidates=0"),
        ({"candidates": 2.5}, "candidates=2.5"),
        ({"n_startup": -1}, "`n_startup >= 0` must hold for a whole number, but got n_startup=-1"),
        ({"n_startup": True}, "n_startup=True"),
        ({"acquisition": "ei"}, "'logei', 'ucb'.*acquisition='ei'"),
        ({"ucb_beta": 0.0}, "`ucb_beta > 0` must hold, but got ucb_beta=0.0"),
        ({"ucb_beta": math.inf}, "ucb_beta=inf"),
        (
            {"max_points": 5},
            "`max_points >= 10` must hold for a whole number, but got max_points=5",
        ),
    ],
)
def test_invalid_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(MethodError, match=message):
        Bayes(**options)


def test_is_registered_by_name() -> None:
    assert resolve("bayes") == Bayes()


def test_startup_trials_are_the_studys_sobol_points() -> None:
    space = Space.from_user({"a": Float(0.0, 1.0), "b": Float(-1.0, 1.0)})
    method = Bayes(n_startup=6)
    history = simulate(method, space, 6, seed=4)
    expected = [space.decode(sobol_point(2, 4, n)) for n in range(6)]
    assert [t.params for t in history.trials] == expected
    assert len({tuple(t.params.values()) for t in history.trials}) == 6
    assert Bayes().startup(MIXED_SPACE) == 12 and Bayes().startup(space) == 5


def test_pending_trials_lead_to_different_proposals() -> None:
    history = random_history(BRANIN, 12)
    first = FAST.ask(history)
    history.update(record(12, first, TrialState.RUNNING, None))
    second = FAST.ask(history)
    history.update(record(13, second, TrialState.RUNNING, None))
    third = FAST.ask(history)
    assert len({tuple(p.params.values()) for p in (first, second, third)}) == 3
    assert second.params != first.params and third.params not in (first.params, second.params)


def test_a_finite_discrete_space_is_covered_without_repeats() -> None:
    space = Space.from_user({"opt": Choice(["a", "b", "c"]), "n": Int(1, 4)})
    history = simulate(Bayes(n_startup=3, candidates=64), space, 12, seed=0, objective=lambda p: 1)
    assert len({tuple(t.params.values()) for t in history.trials}) == 12


def test_once_a_small_space_has_run_a_running_configuration_is_not_proposed_again() -> None:
    """Every configuration has run, and workers are running three of the four: the
    fourth is proposed (n_jobs=2 on such a space ran 14 of 24 trials as another worker's
    configuration at the same time)."""
    space = Space.from_user({"a": Choice([1, 2]), "b": Int(0, 1)})
    cells = [{"a": a, "b": b} for a in (1, 2) for b in (0, 1)]
    history = history_of(space, [*cells, *cells[:3]], [1.0, 2.0, 3.0, 4.0, None, None, None])
    assert FAST.ask(history).params == cells[3]


def test_categorical_options_are_learned() -> None:
    def objective(params: Mapping[str, Value]) -> float:
        good = {"sgd": 1.0, "adam": 0.0, "rmsprop": 2.0}[str(params["optimizer"])]
        return good + float(params["momentum"])  # type: ignore[arg-type]

    history = simulate(FAST, MIXED_SPACE, 24, seed=2, objective=objective)
    late = [t.params["optimizer"] for t in history.trials[12:]]
    assert late.count("adam") >= 8, late


def test_features_match_the_spaces_encoding() -> None:
    space = Space.from_user(
        {
            **MIXED_SPACE,
            "wide": Int(1, 100_000, log=True),
            "stepped": Int(-10, 20, step=5),
            "fine": Float(-1.0, 1.0, step=0.001),
        }
    )
    features = bayes_module.Features(space)
    unit = np.random.default_rng(0).random((300, len(space)))
    unit[:5] = np.array([[0.0], [1.0], [0.5], [1e-12], [1 - 1e-12]])  # edges of every bin
    decoded = [space.decode(u) for u in unit]
    expected = features.of_unit(np.array([space.encode(p) for p in decoded]))
    np.testing.assert_allclose(features.of_unit(unit), expected, atol=1e-12)
    np.testing.assert_allclose(features.of(decoded), expected, atol=1e-12)
    for params, u in zip(decoded, features.to_unit(expected), strict=True):
        again = space.decode(u)
        assert [again[n] for n in ("optimizer", "layers", "units", "wide", "stepped", "fine")] == [
            params[n] for n in ("optimizer", "layers", "units", "wide", "stepped", "fine")
        ]
        assert again == pytest.approx(params)


def test_maximising_is_minimising_the_negated_objective() -> None:
    def run(direction: str, sign: float) -> list[dict[str, Value]]:
        history = History(BRANIN, direction, 1)
        for number in range(8):
            proposal = FAST.ask(history)
            value = sign * branin(proposal.params)
            history.update(record(number, proposal, TrialState.COMPLETE, value))
        return [t.params for t in history.trials]

    assert run("maximize", -1.0) == run("minimize", 1.0)


def test_ucb_acquisition_also_improves_on_branin() -> None:
    history = simulate(Bayes(acquisition="ucb", candidates=256), BRANIN, 20, objective=branin)
    assert min(t.value for t in history.trials if t.value is not None) < 1.0


@pytest.fixture
def model_sizes(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """The number of points of each hyperparameter fit ("fit") and of each GP built
    ("model") while the test runs."""
    sizes: dict[str, list[int]] = {"fit": [], "model": []}
    original_fit, original_init = gp.fit, gp.GaussianProcess.__init__

    def fit(x: np.ndarray, *args: Any, **kwargs: Any) -> gp.GaussianProcess:
        sizes["fit"].append(len(x))
        return original_fit(x, *args, **kwargs)

    def init(self: gp.GaussianProcess, x: np.ndarray, *args: Any) -> None:
        sizes["model"].append(len(x))
        original_init(self, x, *args)

    monkeypatch.setattr(gp, "fit", fit)
    monkeypatch.setattr(gp.GaussianProcess, "__init__", init)
    return sizes


def test_work_per_ask_is_bounded_as_the_study_grows(model_sizes: dict[str, list[int]]) -> None:
    sizes = model_sizes
    history = random_history(BRANIN, 600)
    proposal = Bayes(max_points=120, candidates=64).ask(history)
    assert sizes["fit"] == [bayes_module.FIT_POINTS]
    assert max(sizes["model"]) == 120
    assert BRANIN.validate(proposal.params) == proposal.params


@pytest.mark.parametrize("acquisition", ["logei", "ucb"])
def test_acquisition_gradient_matches_finite_differences(acquisition: str) -> None:
    history = random_history(BRANIN, 15)
    features = bayes_module.Features(BRANIN)
    x = features.of([t.params for t in history.trials])
    y = gp.warp(np.array([t.value for t in history.trials]))
    model = gp.fit(x, y, features.categorical, np.random.default_rng(0))
    method, best = Bayes(acquisition=acquisition), float(y.min())
    points = np.array([[0.1, 0.9], [0.5, 0.5], [0.93, 0.2]])
    _, gradient = method._acquisition(model, best, points, True)
    step = 1e-6
    for j in range(2):
        shift = np.eye(2)[j] * step
        up = method._acquisition(model, best, points + shift, False)[0]
        down = method._acquisition(model, best, points - shift, False)[0]
        np.testing.assert_allclose(gradient[:, j], (up - down) / (2 * step), rtol=1e-4, atol=1e-6)


def test_finished_trials_with_values_are_data_running_ones_pending_failed_ones_apart() -> None:
    history = History(BRANIN, "maximize", 0)
    states = [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED, TrialState.RUNNING]
    for number, state in enumerate(states):
        value = 2.0 + number if state in (TrialState.COMPLETE, TrialState.PRUNED) else None
        history.update(record(number, FAST.ask(history), state, value))
    data, pending, failed = bayes_module._observations(history, 200)
    # the pruned trial's report (3.0) beats the complete one's: it counts as the worst
    assert data == [(0, -2.0), (1, -2.0)] and pending == [3] and failed == [2]
    # stopped after a NaN report (a diverged run): no value, so as bad as a failure
    history.update(record(4, FAST.ask(history), TrialState.PRUNED, None))
    assert bayes_module._observations(history, 200)[2] == [2, 4]


SQUARE = Space.from_user({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})


def overfitting(params: Mapping[str, Value]) -> Any:
    """The loss of ``params`` after each epoch when it gets worse with training (a model
    that overfits): the same for every configuration but for an offset least at (0.8,
    0.3), so an early loss anywhere beats every configuration's loss after a few epochs."""
    offset = (float(params["x"]) - 0.8) ** 2 + (float(params["y"]) - 0.3) ** 2
    return lambda epoch: offset + 0.5 * epoch


def test_a_pruned_trials_early_loss_is_not_taken_as_the_best() -> None:
    """A pruned trial's value is its last report: when the loss worsens with training, an
    early report (0.5 and a little after epoch 1) beats every final one (4.5 and more
    after epoch 9). The model took those reports as final losses: the incumbent was a
    pruned trial, and the next proposal went where the pruner had just stopped trials.
    Now a pruned trial's loss is the complete trials' final loss at the rank it had among
    them at its last check: the worst for those far from the optimum (and for one with no
    check to rank it by), the 4th best of 6 for one that 4 of them beat at epoch 1."""
    history = History(SQUARE, "minimize", 0, hp.Budget(1, 9))
    complete = [(0.75, 0.35), (0.85, 0.25), (0.7, 0.2), (0.9, 0.4), (0.6, 0.5), (0.5, 0.1)]
    pruned = [(0.1, 0.9), (0.15, 0.85), (0.2, 0.95), (0.7, 0.45)]
    unchecked = (0.05, 0.0)  # stopped by the function itself (hp.Pruned), no check
    for number, (x, y) in enumerate([*complete, *pruned, unchecked]):
        curve, params = overfitting({"x": x, "y": y}), {"x": x, "y": y}
        if number < len(complete):
            trial = record(number, Proposal(params), TrialState.COMPLETE, curve(9))
        else:
            trial = record(number, Proposal(params), TrialState.PRUNED, curve(1))
        checks = {} if (x, y) == unchecked else {1: curve(1)}
        history.update(dataclasses.replace(trial, checks=checks))
    data = dict(bayes_module._observations(history, 200)[0])
    assert history.trials[min(data, key=data.__getitem__)].state is TrialState.COMPLETE
    finals = sorted(data[number] for number in range(len(complete)))
    stopped = [data[number] for number in range(len(complete), len(history.trials))]
    assert stopped == [finals[-1]] * 3 + [finals[3], finals[-1]]
    proposal = Bayes(candidates=256, n_startup=0, pruner="median").ask(history)
    assert math.dist((proposal.params["x"], proposal.params["y"]), (0.8, 0.3)) < 0.3


def test_with_a_pruner_bayes_searches_where_trials_complete_when_losses_worsen() -> None:
    """The median rule prunes trials whose first epochs look worse than those of trials
    that completed; with losses that worsen with training, their reports beat every final
    loss. Taken as final, they drew every later proposal to where trials are pruned (after
    the first pruned trial, all the rest were pruned, 0.3 to 0.6 from the optimum)."""
    distances = []
    for seed in range(3):
        method = Bayes(candidates=256, pruner="median")
        history = History(SQUARE, "minimize", seed, hp.Budget(1, 9))
        for _ in range(25):
            proposal = method.ask(history)
            run_proposal(method, history, proposal, overfitting(proposal.params))
        assert any(t.state is TrialState.PRUNED for t in history.trials), seed
        distances += [
            math.dist((t.params["x"], t.params["y"]), (0.8, 0.3)) for t in history.trials[10:]
        ]
    assert float(np.median(distances)) < 0.05


def test_a_trial_interrupted_and_retried_is_not_taken_as_a_failure() -> None:
    """Ctrl-C during the best trial: its retry (same values) found the best loss, and the
    model took the interrupted trial as the worst one at the same point (the mean there
    went from the best to the middle of the losses)."""
    history = random_history(BRANIN, 8)
    best = history.trials[int(np.argmin([t.value for t in history.trials]))].params
    history.update(record(8, Proposal(dict(best)), TrialState.RUNNING, None))
    failed = TrialState.FAILED
    history.update(history.trials[8].replace(state=failed, error="interrupted (SIGTERM)"))
    retry = Proposal(dict(best), origin="retried", parents=(Edge(8, "retried"),))
    history.update(record(9, retry, TrialState.COMPLETE, 0.0))
    history.update(record(10, Proposal({"x": 0.0, "y": 0.0}), failed, None))  # of its own
    data, pending, failed_numbers = bayes_module._observations(history, 200)
    assert failed_numbers == [10] and (9, 0.0) in data and not pending


def scan_observations(
    history: History, cap: int
) -> tuple[list[tuple[int, float]], list[int], list[int]]:
    """What ``_observations`` returns, by a pass over every trial (as it read them before
    History kept them sorted): the reference the indexes must give."""
    sign = objective_sign(history.direction)
    finished, pending, failed = [], [], []
    for trial in history.trials:
        if trial.state in (TrialState.RUNNING, TrialState.QUEUED):
            pending.append(trial.number)
        elif trial.value is not None and math.isfinite(trial.value):
            pruned = trial.state is TrialState.PRUNED
            finished.append((trial.number, sign * trial.value, pruned))
        else:
            failed.append(trial.number)
    # a pruned trial ranks after every complete one; its loss is raised to their final
    # loss at the rank it had among them at its last check (none: the worst)
    finals = sorted(loss for _, loss, pruned in finished if not pruned)

    def floor(number: int) -> float:
        checks = history.trials[number].checks
        step = max(checks, default=None)
        reached = [
            sign * t.checks[step]
            for t in history.trials
            if t.state is TrialState.COMPLETE and step in t.checks and t.checks[step] is not None
        ]
        if step is None or checks[step] is None or not reached:
            return finals[-1]
        share = sum(loss < sign * checks[step] for loss in reached) / len(reached)
        return finals[round(share * (len(finals) - 1))]

    order = sorted(range(len(finished)), key=lambda i: (finished[i][2], finished[i][1], i))
    ranks = np.empty(len(finished))
    ranks[order] = np.arange(len(finished))
    observed = [
        (n, max(loss, floor(n)) if pruned and finals else loss) for n, loss, pruned in finished
    ]
    keep = bayes_module._subset(ranks, cap)
    return [observed[i] for i in keep], pending[-(cap // 4) :], failed[-(cap // 4) :]


def rebuilt(history: History) -> History:
    """A new history of the same trials, as another process reads them: no cache."""
    fresh = History(history.space, history.direction, history.seed)
    for trial in history.trials:
        fresh.update(trial)
    return fresh


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_the_sorted_indexes_of_the_history_give_what_a_scan_gives(direction: str) -> None:
    """Three workers: trials finish out of order, complete (with tied values), pruned with
    and without a value or failed; a queued trial starts, is released and starts again;
    a long trial fails after many others finished; an outcome applied ahead of the store
    becomes a lost (failed) trial. At every ask the live history, whose indexes follow
    each change, gives what a full scan and a new history of the same trials give."""
    method = Bayes(n_startup=3, candidates=32, max_points=10)
    cap, sign = method.max_points, objective_sign(direction)
    live = History(BRANIN, direction, 3)
    outcomes = np.random.default_rng(1)
    long_trial, queued = 4, 6

    def change(number: int, state: TrialState, value: float | None) -> None:
        checks = {} if value is None else {1 + number % 3: value + number % 2}  # a pruner's
        live.update(live.trials[number].replace(state=state, value=value, checks=checks))

    def check(step: int) -> None:
        expected = scan_observations(live, cap)
        assert bayes_module._observations(live, cap) == expected, step
        assert bayes_module._observations(rebuilt(live), cap) == expected, step

    for step in range(48):
        proposal = method.ask(live)
        check(step)
        assert proposal == method.ask(rebuilt(live)), step
        live.update(record(live.next_number, proposal, TrialState.RUNNING, None))
        if live.next_number == queued:  # enqueued by hand, started and released later
            live.update(record(queued, Proposal({"x": 1.0, "y": 2.0}), TrialState.QUEUED, None))
        events = {
            8: (queued, TrialState.RUNNING, None),
            9: (queued, TrialState.QUEUED, None),  # its worker never started it
            12: (queued, TrialState.RUNNING, None),
            20: (queued, TrialState.COMPLETE, 3.0),
            25: (live.next_number - 1, TrialState.COMPLETE, sign * -100.0),  # the best...
            26: (live.next_number - 2, TrialState.FAILED, None),  # ...then lost elsewhere
            30: (long_trial, TrialState.FAILED, None),  # after 20 others finished
            35: (live.next_number - 1, TrialState.FAILED, 5.0),  # (not from the study loop)
            36: (live.next_number - 2, TrialState.FAILED, None),
        }
        if step in events:
            change(*events[step])
            continue
        running = [n for n in live.unfinished(TrialState.RUNNING) if n not in (long_trial, queued)]
        while len(running) > 2:  # three workers: one of them (not the oldest) finishes
            number = running.pop(int(outcomes.integers(len(running))))
            value = float(round(branin(live.trials[number].params) / 20))  # ties
            state, value_or_none = {
                0: (TrialState.PRUNED, value),
                1: (TrialState.PRUNED, None),  # its last report NaN: as bad as a failure
                2: (TrialState.FAILED, None),
            }.get(int(outcomes.integers(8)), (TrialState.COMPLETE, value))
            change(number, state, value_or_none)
    check(48)
    states = {t.state for t in live.trials}
    assert states == {TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED, TrialState.RUNNING}
    assert len(bayes_module._observations(live, cap)[0]) == cap < len(live.trials) // 2


class CountingList(list[TrialRecord]):
    """A history's list of trials that counts the reads of its items."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def __getitem__(self, index: Any) -> Any:
        self.reads += 1
        return super().__getitem__(index)


def test_an_ask_reads_the_trials_changed_since_the_last_one_not_every_trial() -> None:
    history = History(BRANIN, "minimize", 0)
    trials = history._trials = CountingList()
    points = np.random.default_rng(0).random((3001, 2))
    for number, point in enumerate(points):
        params = BRANIN.decode(point)
        state = TrialState.RUNNING if number % 500 == 0 else TrialState.COMPLETE
        value = None if state is TrialState.RUNNING else branin(params)
        history.update(record(number, Proposal(params), state, value))
    method = Bayes(max_points=20, candidates=32)
    proposal = method.ask(history)
    history.update(history.trials[500].replace(state=TrialState.COMPLETE, value=1.0))
    history.update(record(len(points), proposal, TrialState.COMPLETE, 2.0))
    trials.reads = 0
    method.ask(history)
    # the trials the model is fitted on (20: a value and params each) and the running ones
    # (believed): not the 3,002 trials a scan reads
    assert trials.reads < 3 * method.max_points
    assert bayes_module._observations(history, 20) == scan_observations(history, 20)


def test_the_kept_points_are_the_best_half_and_a_spread_ending_with_the_latest() -> None:
    losses = np.arange(100.0)[::-1]  # the latest trial is the best
    kept = bayes_module._subset(losses, 10)
    assert len(kept) == 10 and list(kept) == sorted(kept)
    assert set(range(95, 100)) <= set(kept) and 0 in kept


def test_log_expected_improvement_is_finite_and_monotone_far_below_the_incumbent() -> None:
    z = -np.logspace(-3, 12, 400)
    assert np.all(np.diff(bayes_module._log_h(np.linspace(-1.01, -0.99, 9))) > 0)
    log_h = bayes_module._log_h(z)
    assert np.isfinite(log_h).all() and np.all(np.diff(log_h) < 0)
    moderate = np.linspace(-5, 5, 101)
    direct = np.exp(-(moderate**2) / 2) / math.sqrt(2 * math.pi) + moderate * (
        0.5 * (1 + np.vectorize(math.erf)(moderate / math.sqrt(2)))
    )
    np.testing.assert_allclose(bayes_module._log_h(moderate), np.log(direct), rtol=1e-7)


def test_an_end_to_end_study_on_a_database(db: Path) -> None:
    @hp.tune(
        {"x": hp.Float(-5.0, 10.0), "y": hp.Float(0.0, 15.0), "kind": hp.Choice(["a", "b"])},
        method="bayes",
        study="gp",
        db=db,
        seed=0,
    )
    def train(x: float, y: float, kind: str) -> float:
        return branin({"x": x, "y": y}) + (0.0 if kind == "a" else 5.0)

    study = train.optimize(n_trials=15)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 15
    assert len({tuple(t.params.values()) for t in trials}) == 15
    assert study.best.value is not None and study.best.value < 5.0
    assert hp.load_study("gp", db=db).trials[-1].params == trials[-1].params


@pytest.mark.parametrize(
    ("n_startup", "short", "said"),
    [
        (3, 3, "for the study's first 3 trials (n_startup=3) and until two trials have a "
         "value, and the target is 3: every trial would be a Sobol point, none from its GP. "
         "Pass n_trials=4 or more (several times n_startup, for the GP to pay off), or a "
         "smaller n_startup to hp.methods.Bayes"),
        (0, 2, "until two trials have a value, and the target is 2: every trial would be a "
         "Sobol point, none from its GP. Pass n_trials=3 or more (several times n_startup, "
         "for the GP to pay off)"),
    ],
    ids=["start-up", "two-values"],
)  # fmt: skip
def test_a_target_within_the_sobol_start_up_is_said_once_before_the_run(
    db: Path, caplog: pytest.LogCaptureFixture, n_startup: int, short: int, said: str
) -> None:
    """``bayes`` with ``n_trials`` within its start-up ran Sobol points only and said
    nothing; said once, before the run, only when no trial at all comes from the GP."""
    caplog.set_level("WARNING", logger="hpotrack")

    @hp.tune({"x": (0.0, 1.0)}, method=Bayes(n_startup=n_startup), study="b", db=db, seed=0)
    def f(x: float) -> float:
        return x

    f.optimize(n_trials=short)
    assert caplog.messages == [f"study 'b': bayes proposes Sobol points {said}"]
    caplog.clear()
    f.optimize(n_trials=short + 1)
    assert caplog.messages == []


def test_several_objectives_are_scalarized_by_weights_drawn_per_ask() -> None:
    """ParEGO (Knowles 2006): each ask models another augmented Chebyshev scalarization
    of the losses scaled to [0, 1], one that ranks a dominated point after the point
    that dominates it; a maximized objective is turned first."""
    space = Space.from_user({"x": Float(0.0, 1.0)})
    objectives = Objectives(("a", "b"), ("minimize", "maximize"))

    def metrics(params: Mapping[str, Value]) -> dict[str, float]:
        x = float(params["x"])  # type: ignore[arg-type]
        return {"a": x, "b": -x}  # lower x is better on both: it dominates

    history = simulate_front(Bayes(n_startup=6), space, 6, objectives=objectives,
                             function=metrics)  # fmt: skip
    first = _scalarized(history, 200, np.random.default_rng(0))
    second = _scalarized(history, 200, np.random.default_rng(1))
    assert [n for n, _ in first] == [n for n, _ in second] == list(range(6))
    assert [v for _, v in first] != [v for _, v in second]  # other weights
    for scalarized in (first, second):
        by_x = sorted(scalarized, key=lambda pair: float(history.trials[pair[0]].params["x"]))  # type: ignore[arg-type]
        values = [v for _, v in by_x]
        assert values == sorted(values) and len(set(values)) == 6
        assert values[0] == 0.0 and values[-1] <= 1.0 + PAREGO_RHO


def proposals_digest(history: History) -> str:
    """A digest of every trial's values (to 12 significant digits, :meth:`Space.key`)."""
    lines = (history.space.key(t.params) for t in history.trials)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def centred_at_0_3(space: Space) -> Callable[[Mapping[str, Value]], float]:
    def objective(params: Mapping[str, Value]) -> float:
        return float(((space.encode(params) - 0.3) ** 2).sum())

    return objective


def two_objectives(params: Mapping[str, Value]) -> dict[str, float]:
    x, y = float(params["x"]), float(params["y"])  # type: ignore[arg-type]
    return {"a": (x - 0.2) ** 2 + y, "b": -((x - 0.8) ** 2) - (1 - y)}


@pytest.mark.parametrize(
    ("run", "digest"),
    [
        (lambda: simulate(FAST, BRANIN, 14, seed=1, objective=branin), "0900d8083f0cd350"),
        (
            lambda: simulate(
                FAST,
                MIXED_SPACE,
                16,
                seed=2,
                objective=centred_at_0_3(MIXED_SPACE),
                direction="maximize",
            ),
            "f5f41b8040515530",
        ),
        (
            lambda: simulate(
                Bayes(candidates=256, n_startup=4),
                CONDITIONAL_SPACE,
                12,
                seed=3,
                objective=centred_at_0_3(CONDITIONAL_SPACE),
            ),
            "e4e428f47a2ae887",
        ),
        (
            lambda: simulate_front(
                Bayes(candidates=256, n_startup=4),
                SQUARE,
                12,
                objectives=Objectives(("a", "b"), ("minimize", "maximize")),
                function=two_objectives,
                seed=4,
            ),
            "99bea472c013eda2",
        ),
    ],
    ids=["branin", "mixed-maximize", "conditional", "two-objectives"],
)
@pytest.mark.skipif(
    np.lib.NumpyVersion(np.__version__) < "2.0.0",
    reason="recorded with numpy 2: the GP's fits and L-BFGS-B carry older numpy's "
    "last-bit differences into other proposals (.ci/constraints-oldest.txt)",
)
def test_a_study_without_constraints_proposes_what_it_did_before_them(
    run: Callable[[], History], digest: str
) -> None:
    """The digests were recorded before bayes honoured constraints: without any, the
    same seed still gives the same proposals (so benchmarks' numbers stand)."""
    assert proposals_digest(run()) == digest


def test_without_constraints_no_constraint_model_is_fitted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the digests above check where numpy repeats them, with any numpy: a study
    without constraints never reaches the constraint model."""

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("a constraint model was fitted for a study without constraints")

    monkeypatch.setattr(bayes_module.feasibility_model, "fit", refused)
    history = simulate(FAST, BRANIN, 8, seed=1, objective=branin)
    assert history.count(TrialState.COMPLETE) == 8


def constrained_history(
    space: Space,
    objectives: Objectives,
    points: list[Mapping[str, Value]],
    function: Callable[[Mapping[str, Value]], dict[str, float]],
    loss: str = "loss",
) -> History:
    """A history of complete trials at ``points`` whose metrics ``function`` gives, the
    ``loss`` metric as their value."""
    history = History(space, objectives.directions[0], 0, None, objectives)
    for number, params in enumerate(points):
        metrics = function(params)
        done = record(number, Proposal(dict(params)), TrialState.COMPLETE, metrics[loss])
        history.update(done.replace(metrics=metrics))
    return history


def bounded_metrics(params: Mapping[str, Value]) -> dict[str, float]:
    x, y = float(params["x"]), float(params["y"])  # type: ignore[arg-type]
    return {"loss": (x - 0.2) ** 2 + (y - 0.2) ** 2, "sum": x + y, "gap": x - y, "y": y}


BOUNDED = Objectives(
    ("loss",),
    ("minimize",),
    (
        Constraint("sum", at_least=1.0),  # the loss's optimum (0.2, 0.2) misses it
        Constraint("gap", at_most=0.3),
        Constraint("y", at_least=0.2, at_most=0.9),
    ),
)


def test_the_feasibility_term_is_the_sum_of_log_probabilities_and_its_gradient_is_exact() -> None:
    """Σ_c log P(c met) for an upper, a lower and a two-sided bound (the product of its
    two probabilities) from each constraint's GP, and its gradient against central
    differences, alone and added to log EI, including far in the tails."""
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    points = [SQUARE.decode(u) for u in rng.random((14, 2))]
    history = constrained_history(SQUARE, BOUNDED, points, bounded_metrics)
    features = bayes_module.Features(SQUARE)
    x = features.of([t.params for t in history.trials])
    model = feasibility.fit(history, list(range(14)), x, features.categorical, rng, fit_points=80)
    assert model is not None and len(model.models) == 3
    assert list(model.feasible) == [history.is_feasible(t) for t in history.trials]
    at = np.array([[0.1, 0.9], [0.5, 0.5], [0.93, 0.2], [0.0, 0.0], [0.7, 0.45]])
    expected = np.zeros(len(at))
    for item in model.models:
        mean, variance = item.model.predict(at)
        sd = np.sqrt(variance)
        if item.at_most is not None:
            expected += norm.logcdf((item.at_most - mean) / sd)
        if item.at_least is not None:
            expected += norm.logcdf((mean - item.at_least) / sd)
    value, gradient = model.log_probability(at, True)
    np.testing.assert_allclose(value, expected, rtol=1e-9, atol=1e-12)
    assert value.min() < -20.0  # (0, 0) is far from x + y >= 1: deep in a tail

    y = gp.warp(np.array([t.value for t in history.trials]))
    objective = gp.fit(x, y, features.categorical, np.random.default_rng(1))
    method, best = Bayes(), float(y[model.feasible].min())
    combined = method._acquisition(objective, best, at, True, model)
    plain = method._acquisition(objective, best, at, True)
    np.testing.assert_allclose(combined[0], plain[0] + value, rtol=1e-12)
    np.testing.assert_allclose(method._acquisition(objective, None, at, False, model)[0], value)
    step = 1e-6
    for j in range(2):
        shift = np.eye(2)[j] * step
        up, down = (
            model.log_probability(at + shift, False)[0],
            model.log_probability(at - shift, False)[0],
        )
        np.testing.assert_allclose(gradient[:, j], (up - down) / (2 * step), rtol=1e-4, atol=1e-6)
        up = method._acquisition(objective, best, at + shift, False, model)[0]
        down = method._acquisition(objective, best, at - shift, False, model)[0]
        np.testing.assert_allclose(
            combined[1][:, j], (up - down) / (2 * step), rtol=1e-4, atol=1e-6
        )


def test_log_probability_of_a_bound_is_finite_with_a_finite_slope_far_in_the_tail() -> None:
    """Φ(z) underflows below z = -38; its log and d log Φ/dz = φ/Φ (about -z) do not."""
    mean, sd = np.array([0.0, 50.0, 1e4]), np.array([1.0, 1.0, 1.0])
    value, by_mean, by_sd = feasibility.log_probability_within(mean, sd, 0.0, None)
    assert np.isfinite(value).all() and value[0] == pytest.approx(math.log(0.5))
    assert by_mean[1] == pytest.approx(-50.0, rel=1e-3) and by_mean[2] == pytest.approx(
        -1e4, rel=1e-6
    )
    assert by_sd[1] == pytest.approx(50.0 * 50.0, rel=1e-3)  # -ratio * z with z = -50


def test_with_no_feasible_trial_yet_proposals_move_toward_the_feasible_region() -> None:
    """Only x + y >= 1.6 (8% of the square) is feasible, and every trial so far has
    x + y < 1.1: with no incumbent, the acquisition is the probability of feasibility
    alone (Gardner et al. 2014, sec. 3.1), so each proposal goes where the sum is larger
    than anywhere tried, and a few asks reach the feasible corner."""
    objectives = Objectives(("loss",), ("minimize",), (Constraint("sum", at_least=1.6),))
    rng = np.random.default_rng(3)
    points = [{"x": float(a), "y": float(b)} for a, b in rng.random((30, 2)) * 0.55]
    history = constrained_history(SQUARE, objectives, points, bounded_metrics)
    method = Bayes(candidates=256, n_startup=0)
    sums = []
    for number in range(len(points), len(points) + 6):
        proposal = method.ask(history)
        metrics = bounded_metrics(proposal.params)
        sums.append(metrics["sum"])
        done = record(number, proposal, TrialState.COMPLETE, metrics["loss"])
        history.update(done.replace(metrics=metrics))
    assert sums[0] > 1.1, sums
    assert history.best is not None and max(sums) >= 1.6, sums


def test_the_best_feasible_point_is_found_where_the_constraint_binds() -> None:
    """The loss's optimum (0.2, 0.2) misses x + y >= 1: the constrained optimum is
    (0.5, 0.5), loss 0.18, on the boundary. The model of the constraint keeps later
    proposals near it and on its feasible side; unaware of the constraint, EI would
    keep proposing points near (0.2, 0.2)."""
    objectives = Objectives(("loss",), ("minimize",), (Constraint("sum", at_least=1.0),))
    history = simulate_front(
        Bayes(candidates=256), SQUARE, 25, objectives=objectives, function=bounded_metrics, seed=5
    )
    assert history.best is not None and history.best.value == pytest.approx(0.18, abs=0.01)
    late = [bounded_metrics(t.params)["sum"] for t in history.trials[10:]]
    assert sum(s >= 1.0 - 0.05 for s in late) >= 12, late


def gardner_toy(params: Mapping[str, Value]) -> dict[str, float]:
    """Gardner et al. 2014, sec. 5.1: minimise cos(2x) cos(y) + sin(x) subject to
    cos(x) cos(y) - sin(x) sin(y) <= 0.5, on [0, 6]²."""
    x, y = float(params["x"]), float(params["y"])  # type: ignore[arg-type]
    loss = math.cos(2 * x) * math.cos(y) + math.sin(x)
    return {"loss": loss, "c": math.cos(x) * math.cos(y) - math.sin(x) * math.sin(y)}


GARDNER_SPACE = Space.from_user({"x": Float(0.0, 6.0), "y": Float(0.0, 6.0)})
GARDNER = Objectives(("loss",), ("minimize",), (Constraint("c", at_most=0.5),))


def test_on_gardners_toy_problem_bayes_finds_a_better_feasible_value_than_random() -> None:
    def best(method: Method, seed: int) -> float:
        history = simulate_front(
            method, GARDNER_SPACE, 25, objectives=GARDNER, function=gardner_toy, seed=seed
        )
        assert history.best is not None and history.best.metrics["c"] <= 0.5
        return float(history.best.value)  # type: ignore[arg-type]

    seeds = range(3)
    bayes = [best(Bayes(candidates=256), seed) for seed in seeds]
    random_search = [best(hp.methods.Random(), seed) for seed in seeds]
    assert float(np.median(bayes)) < float(np.median(random_search)), (bayes, random_search)
    assert max(bayes) < -1.9, bayes  # the constrained minimum is -2 at (3π/2, 0)


def test_several_objectives_with_constraints_model_the_best_feasible_scalarization() -> None:
    """ParEGO with constraints (here x >= 0.6): the trials the model keeps (10 of 30)
    are the best feasible ones first, then a spread; EI's incumbent is the best
    feasible scalarized loss, not the best one (an infeasible trial's here); and the
    search stays on the feasible side."""
    objectives = Objectives(("a", "b"), ("minimize", "maximize"), (Constraint("c", at_least=0.6),))

    def metrics(params: Mapping[str, Value]) -> dict[str, float]:
        return {**two_objectives(params), "c": float(params["x"])}  # type: ignore[arg-type]

    points = [SQUARE.decode(u) for u in np.random.default_rng(2).random((30, 2))]
    history = constrained_history(SQUARE, objectives, points, metrics, loss="a")
    every = _scalarized(history, 1000, np.random.default_rng(0))  # all 30, same weights
    by_value = sorted((value, n) for n, value in every)
    best_feasible = [n for _, n in by_value if history.is_feasible(history.trials[n])][:5]
    assert not history.is_feasible(history.trials[by_value[0][1]])
    kept = _scalarized(history, 10, np.random.default_rng(0))
    assert len(kept) == 10 and set(best_feasible) <= {n for n, _ in kept}
    flags = np.array([history.is_feasible(history.trials[n]) for n, _ in kept])
    y = np.array([value for _, value in kept])
    incumbent, order = bayes_module._incumbent(history, kept, y, feasibility.Feasibility((), flags))
    assert incumbent == dict(every)[best_feasible[0]] > by_value[0][0]
    assert flags[order[: int(flags.sum())]].all()  # local candidates: feasible ones first
    late = simulate_front(
        Bayes(candidates=256, n_startup=4), SQUARE, 16, objectives=objectives, function=metrics
    )
    assert sum(float(t.params["x"]) >= 0.55 for t in late.trials[4:]) >= 10  # type: ignore[arg-type]
    assert late.front() and all(late.is_feasible(late.trials[n]) for n in late.front())


def test_constraints_need_the_logei_acquisition() -> None:
    Bayes().check_objectives(GARDNER)
    Bayes(acquisition="ucb").check_objectives(Objectives(("loss",), ("minimize",)))
    with pytest.raises(MethodError, match="acquisition='logei' only, but got acquisition='ucb'"):
        Bayes(acquisition="ucb").check_objectives(GARDNER)


def test_work_per_ask_with_constraints_is_bounded_as_the_study_grows(
    model_sizes: dict[str, list[int]],
) -> None:
    """Each constraint's model is fitted on at most FIT_POINTS of the complete trials the
    objective's model keeps (at most ``max_points``), whatever the size of the study."""
    sizes = model_sizes
    points = [SQUARE.decode(u) for u in np.random.default_rng(0).random((600, 2))]
    history = constrained_history(SQUARE, BOUNDED, points, bounded_metrics)
    proposal = Bayes(max_points=120, candidates=64).ask(history)
    assert sizes["fit"] == [bayes_module.FIT_POINTS] * 4  # the objective and 3 constraints
    assert max(sizes["model"]) == 120
    assert SQUARE.validate(proposal.params) == proposal.params


def test_an_end_to_end_constrained_study_on_a_database(db: Path) -> None:
    @hp.tune(
        {"x": hp.Float(0.0, 6.0), "y": hp.Float(0.0, 6.0)},
        method=Bayes(candidates=256),
        study="gardner",
        objective="loss",
        constraints=[hp.Constraint("c", at_most=0.5)],
        db=db,
        seed=0,
    )
    def train(x: float, y: float) -> dict[str, float]:
        return gardner_toy({"x": x, "y": y})

    study = train.optimize(n_trials=15)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 15
    assert study.best is not None and study.best.metrics["c"] <= 0.5
    assert all(t.note == "bayes: GP + logei" for t in study.trials[5:])

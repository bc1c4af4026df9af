"""``tpe``: the shared method contract, its options, pending trials, and a real study."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hpotrack as hp
from hpotrack.errors import MethodError
from hpotrack.methods import TPE, Method, Random
from hpotrack.methods import tpe as tpe_module
from hpotrack.methods.history import History
from hpotrack.methods.registry import from_json
from hpotrack.objectives import Objectives
from hpotrack.records import Edge, TrialRecord, TrialState
from hpotrack.space import Choice, Float, Int, Space, Value
from hpotrack.testing import MethodSuite, simulate
from hpotrack.testing.driver import simulate_front
from hpotrack.testing.method_suite import CONDITIONAL_SPACE, MIXED_SPACE, encoded_distance


class TestTPE(MethodSuite):
    model_based = True
    finds_fronts = True
    finds_feasible = True  # Gardner et al. 2014's toy, 40 trials

    def make_method(self) -> Method:
        return TPE()


class TestTPEUnivariateWithoutLiar(MethodSuite):
    model_based = True
    finds_fronts = True

    def make_method(self) -> Method:
        return TPE(multivariate=False, constant_liar=False)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_startup": 0}, "`n_startup >= 1` must hold for a whole number, but got n_startup=0"),
        ({"n_startup": 2.0}, "n_startup=2.0"),
        ({"n_ei_candidates": True}, "`n_ei_candidates >= 1` must hold"),
        ({"gamma": 0.0}, "`0 < gamma <= 1` must hold, but got gamma=0.0"),
        ({"gamma": 1.5}, "gamma=1.5"),
        ({"gamma": "0.1"}, "gamma='0.1'"),
        ({"multivariate": 1}, "`multivariate` must be True or False"),
        ({"constant_liar": None}, "`constant_liar` must be True or False"),
        ({"bandwidth_factor": 0}, "`bandwidth_factor > 0` must hold"),
        ({"bandwidth_factor": math.inf}, "bandwidth_factor=inf"),
        ({"min_bandwidth": 0.0}, "`0 < min_bandwidth <= 1` must hold"),
        ({"prior_weight": -1.0}, "`prior_weight > 0` must hold, but got prior_weight=-1.0"),
        ({"prior_weight": math.nan}, "prior_weight=nan"),
        ({"sharpen_after": 0}, "`sharpen_after >= 1` must hold for a whole number"),
        ({"sharpen_after": 60.5}, "sharpen_after=60.5"),
    ],
)
def test_invalid_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(MethodError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TPE(**options)  # type: ignore[arg-type]


def test_options_are_stored_as_plain_json_and_restored() -> None:
    method = TPE(gamma=1, bandwidth_factor=2, n_startup=3, multivariate=False)
    stored = method.to_json()
    assert stored["name"] == "tpe"
    assert stored["options"]["gamma"] == 1.0 and isinstance(stored["options"]["gamma"], float)
    assert from_json(stored) == method
    assert hp.methods.resolve("tpe") == TPE()


def test_a_study_stored_before_the_bandwidth_schedule_resumes_without_it() -> None:
    stored = TPE().to_json()
    assert stored["options"]["sharpen_after"] == 60
    del stored["options"]["sharpen_after"]
    assert from_json(stored) == TPE(sharpen_after=None)


def test_the_bandwidth_factor_stays_up_to_sharpen_after_then_shrinks_as_a_square_root() -> None:
    method = TPE(bandwidth_factor=0.5, sharpen_after=60)
    assert [method.bandwidth_factor_at(n) for n in (0, 10, 60)] == [0.5, 0.5, 0.5]
    assert method.bandwidth_factor_at(240) == pytest.approx(0.25)  # 0.5 * sqrt(60 / 240)
    assert method.bandwidth_factor_at(135) == pytest.approx(0.5 * 2 / 3)  # sqrt(60 / 135)
    assert TPE(sharpen_after=None).bandwidth_factor_at(240) == 0.5


def test_the_good_density_narrows_on_the_schedule() -> None:
    """One observation at 0.5 on [0, 1], with the prior's weight 1: half of the mixture
    each, so the pooled variance is (1 / 12) / 2 and Scott's rule for n = 1, k = 1 gives
    (4 / 3) ** (1 / 5) * sqrt(1 / 24), times the bandwidth factor."""
    space = Space.from_user({"x": Float(0.0, 1.0)})
    scott = (4 / 3) ** (1 / 5) * math.sqrt(1 / 24)  # 0.21621
    method = TPE(bandwidth_factor=0.5, sharpen_after=60)
    point = np.array([[0.5]])
    for n_observed, width in [(60, 0.5 * scott), (240, 0.25 * scott), (6000, 0.05 * scott)]:
        good, bad = method.estimators(space, point, point, n_observed)
        assert good.bandwidths[0] == pytest.approx(width, rel=1e-12)
        assert bad.bandwidths[0] == pytest.approx(width, rel=1e-12)


def test_proposals_sharpen_only_past_sharpen_after_observations() -> None:
    """The schedule counts the trials with a value: the first 61 proposals (asked with at
    most 60 of them) are those of the constant factor, later ones differ."""

    def proposals(method: TPE) -> list[dict[str, Value]]:
        history = simulate(method, MIXED_SPACE, 75, seed=1, objective=encoded_distance)
        return [t.params for t in history.trials]

    scheduled, constant = proposals(TPE()), proposals(TPE(sharpen_after=None))
    assert scheduled[:61] == constant[:61]
    assert all(a != b for a, b in zip(scheduled[61:], constant[61:], strict=True))


def test_startup_trials_are_random_search_draws() -> None:
    tpe = simulate(TPE(n_startup=5), MIXED_SPACE, 5, seed=3, objective=encoded_distance)
    rand = simulate(Random(), MIXED_SPACE, 5, seed=3, objective=encoded_distance)
    assert [t.params for t in tpe.trials] == [t.params for t in rand.trials]


def test_maximize_looks_for_large_values() -> None:
    space = Space.from_user({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})

    def peak(params: Mapping[str, Value]) -> float:
        return -((float(params["x"]) - 0.8) ** 2) - (float(params["y"]) - 0.3) ** 2  # type: ignore[arg-type]

    history = simulate(TPE(), space, 40, seed=0, objective=peak, direction="maximize")
    late = np.array([[t.params["x"], t.params["y"]] for t in history.trials[25:]])
    assert np.linalg.norm(np.median(late, axis=0) - [0.8, 0.3]) < 0.15


def _mismatches(params: Mapping[str, Value]) -> float:
    target = {"a": "c", "b": 3, "c": False, "d": "z", "n": 7}
    return float(sum(params[k] != v for k, v in target.items()))


CATEGORICAL = Space.from_user(
    {
        "a": Choice(["a", "b", "c", "d"]),
        "b": Choice([1, 2, 3, 4, 5]),
        "c": Choice([True, False]),
        "d": Choice(["x", "y", "z"]),
        "n": Int(1, 10),
    }
)


def test_categorical_heavy_space_is_searched_better_than_at_random() -> None:
    def best(method: Method, seed: int) -> float:
        history = simulate(method, CATEGORICAL, 40, seed=seed, objective=_mismatches)
        return min(float(t.value) for t in history.trials if t.value is not None)

    tpe = [best(TPE(), seed) for seed in range(4)]
    rand = [best(Random(), seed) for seed in range(4)]
    assert sum(tpe) < sum(rand), (tpe, rand)
    for params in (t.params for t in simulate(TPE(), CATEGORICAL, 15, seed=1).trials):
        assert CATEGORICAL.validate(params) == params


def _history(space: Space, n_complete: int, seed: int = 0) -> History:
    history = simulate(TPE(), space, n_complete, seed=seed, objective=_mismatches)
    return history


def _run_pending(method: TPE, n_pending: int) -> list[dict[str, Value]]:
    """Propose ``n_pending`` trials in a row that all stay running (parallel workers)."""
    history = _history(CATEGORICAL, 12)
    proposals = []
    for number in range(12, 12 + n_pending):
        params = method.ask(history).params
        proposals.append(params)
        history.update(TrialRecord(number=number, state=TrialState.RUNNING, params=params))
    return proposals


@pytest.mark.parametrize("liar", [True, False])
def test_proposals_differ_from_every_pending_trial(liar: bool) -> None:
    proposals = _run_pending(TPE(constant_liar=liar), 12)
    keys = [tuple(p.values()) for p in proposals]
    assert len(set(keys)) == len(keys)


def test_constant_liar_spreads_parallel_proposals() -> None:
    space = Space.from_user({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})

    def bowl(params: Mapping[str, Value]) -> float:
        return (float(params["x"]) - 0.3) ** 2 + (float(params["y"]) - 0.6) ** 2  # type: ignore[arg-type]

    def spread(method: TPE, seed: int) -> float:
        history = simulate(TPE(), space, 15, seed=seed, objective=bowl)
        points = []
        for number in range(15, 23):  # eight workers ask before any of them finishes
            params = method.ask(history).params
            points.append(space.encode(params))
            history.update(TrialRecord(number, TrialState.RUNNING, params))
        pairs = itertools.combinations(points, 2)
        return float(np.mean([np.linalg.norm(a - b) for a, b in pairs]))

    with_liar = [spread(TPE(constant_liar=True), seed) for seed in range(3)]
    without = [spread(TPE(constant_liar=False), seed) for seed in range(3)]
    assert sum(with_liar) > sum(without), (with_liar, without)


def test_a_pending_trial_at_the_best_point_is_not_proposed_again() -> None:
    space = Space.from_user({"a": Choice(["x", "y"]), "b": Choice([1, 2])})
    history = History(space, "minimize", 0)
    values = {("x", 1): 0.0, ("x", 2): 1.0, ("y", 1): 1.0, ("y", 2): 2.0}
    for number, (key, value) in enumerate(itertools.islice(itertools.cycle(values.items()), 12)):
        params: dict[str, Value] = {"a": key[0], "b": key[1]}
        history.update(TrialRecord(number, TrialState.COMPLETE, params, value=value))
    method = TPE(n_startup=4)
    history.update(TrialRecord(12, TrialState.RUNNING, {"a": "x", "b": 1}))
    assert method.ask(history).params != {"a": "x", "b": 1}


def test_a_fully_pending_tiny_space_still_gets_a_proposal() -> None:
    space = Space.from_user({"a": Choice(["x", "y"]), "fixed": Choice([1])})
    history = History(space, "minimize", 0)
    history.update(TrialRecord(0, TrialState.COMPLETE, {"a": "x", "fixed": 1}, value=1.0))
    history.update(TrialRecord(1, TrialState.RUNNING, {"a": "x", "fixed": 1}))
    history.update(TrialRecord(2, TrialState.RUNNING, {"a": "y", "fixed": 1}))
    params = TPE(n_startup=1).ask(history).params  # nothing new exists: a repeat is fine
    assert space.validate(params) == params


def test_failed_trials_count_as_bad_and_pruned_ones_rank_after_complete_ones() -> None:
    space = Space.from_user({"x": Float(0.0, 1.0)})
    history = History(space, "minimize", 0)
    states = [TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED]
    for number in range(30):
        state = states[number % 3]
        x = number / 30
        value = None if state is TrialState.FAILED else (-1.0 if state is TrialState.PRUNED else x)
        history.update(TrialRecord(number, state, {"x": x}, value=value))
    complete, pruned, pending, failed = tpe_module._gather(history)
    assert len(complete) == 10 and len(pruned) == 10 and not pending and len(failed) == 10
    # Pruned trials report -1 (better than any complete value) yet must not steer the model:
    # the proposal stays near the best complete trial (x = 0), not the pruned ones.
    proposal = TPE(n_startup=1, gamma=0.1).ask(history)
    assert float(proposal.params["x"]) < 0.25  # type: ignore[arg-type]
    # stopped after a NaN report (a diverged run): no value, so as bad as a failure
    history.update(TrialRecord(30, TrialState.PRUNED, {"x": 0.9}, value=None))
    assert tpe_module._gather(history)[3][-1].number == 30


def test_a_trial_lost_and_retried_is_not_a_failure() -> None:
    """Its retry ran the same values: the lost attempt joined the bad density (and the
    points TPE avoids) where the retry may well be the best trial."""
    history = History(Space.from_user({"x": Float(0.0, 1.0)}), "minimize", 0)
    history.update(TrialRecord(0, TrialState.COMPLETE, {"x": 0.1}, value=1.0))
    history.update(TrialRecord(1, TrialState.FAILED, {"x": 0.2}, error="worker lost: pid 7"))
    history.update(TrialRecord(2, TrialState.RUNNING, {"x": 0.2}, parents=(Edge(1, "retried"),)))
    history.update(TrialRecord(3, TrialState.FAILED, {"x": 0.3}, error="ValueError: nan"))
    complete, pruned, pending, failed = tpe_module._gather(history)
    assert [t.number for t in failed] == [3] and [t.number for t in pending] == [2]
    assert [t.number for t in complete] == [0] and not pruned


def test_the_window_keeps_the_best_trial_ever(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tpe_module, "WINDOW", 10)
    space = Space.from_user({"x": Float(0.0, 1.0)})
    history = History(space, "minimize", 0)
    for number in range(40):
        value = 0.0 if number == 3 else 1.0 + number
        history.update(TrialRecord(number, TrialState.COMPLETE, {"x": number / 40}, value=value))
    complete, *_ = tpe_module._gather(history)
    assert [t.number for t in complete] == [*range(30, 40), 3]


def test_a_suggestion_in_a_large_study_models_only_the_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """1,500 complete trials: the densities are fitted on the window and the best trial
    ever, not on the whole history, which bounds a suggestion's cost (measured by
    benchmarks/methods_quality.py, not here)."""
    modelled: list[int] = []
    candidates = TPE.candidates

    def counting(self: TPE, history: History, observed: Sequence[TrialRecord], *rest: Any) -> Any:
        modelled.append(len(observed))
        return candidates(self, history, observed, *rest)

    monkeypatch.setattr(TPE, "candidates", counting)
    rng = np.random.default_rng(0)
    history = History(MIXED_SPACE, "minimize", 0)
    for number, u in enumerate(rng.random((1500, len(MIXED_SPACE)))):
        params = MIXED_SPACE.decode(u)
        history.update(TrialRecord(number, TrialState.COMPLETE, params, encoded_distance(params)))
    TPE().ask(history)
    assert len(modelled) == 1 and 0 < modelled[0] <= tpe_module.WINDOW + 1 < 1500


def test_a_real_study_runs_with_tpe_and_beats_its_random_start(db: Path) -> None:
    space = {"x": hp.Float(-5.0, 5.0), "n": hp.Int(1, 8), "opt": hp.Choice(["adam", "sgd"])}

    @hp.tune(space, method="tpe", study="tpe-e2e", db=db, seed=1)
    def train(x: float, n: int, opt: str) -> float:
        return (x - 1.0) ** 2 + abs(n - 5) + (0.0 if opt == "adam" else 2.0)

    study = train.optimize(n_trials=22)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 22
    assert study.method == TPE()
    values = [float(t.value) for t in study.trials if t.value is not None]
    assert min(values[10:]) < min(values[:10])
    again = hp.load_study("tpe-e2e", db=db)
    assert [t.params for t in again.trials] == [t.params for t in study.trials]


def test_a_target_within_the_random_start_up_is_said_once_before_the_run(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``tpe`` with ``n_trials`` no more than ``n_startup`` ran random search only and said
    nothing; said once, before the run, only when no trial at all comes from the model
    (one more than the start-up says nothing; nor does a target its queued trials fill)."""
    caplog.set_level("WARNING", logger="hpotrack")

    @hp.tune({"x": (0.0, 1.0)}, method=TPE(n_startup=4), study="t", db=db, seed=0)
    def f(x: float) -> float:
        return x

    f.optimize(n_trials=4)
    assert caplog.messages == [
        "study 't': tpe samples at random until 4 trials have a value (n_startup=4), and "
        "the target is 4: every trial would be a random point, none from its model. Pass "
        "n_trials=5 or more (several times n_startup, for the model to pay off), or a "
        "smaller n_startup to hp.methods.TPE"
    ]
    caplog.clear()
    f.optimize(n_trials=5)
    assert caplog.messages == []
    history = f.study.refresh()
    assert TPE(n_startup=9).short_target(5, history) is None  # nothing left to run
    assert "Pass n_trials=10 or more" in (TPE(n_startup=9).short_target(9, history) or "")
    assert TPE(n_startup=9).short_target(10, history) is None
    f.study.enqueue(x=0.5)
    assert TPE(n_startup=9).short_target(6, history=f.study.refresh()) is None  # queued only


def test_a_branch_that_looks_worse_is_modelled_around_its_own_best_trials() -> None:
    """Every trial of branch ``b`` is worse than every one of ``a``, but ``b``'s get
    better towards y = 0.8: the good set takes the best of each branch, so the candidates
    drawn in ``b`` gather there. With one split over all trials, ``b`` had none in the
    good set, its ``y`` was drawn from the uniform prior, and a branch that looks worse
    at random was never searched well enough to show its optimum."""
    space = Space.from_user(
        {
            "model": Choice(["a", "b"]),
            "x": Float(0.0, 1.0, when={"model": "a"}),
            "y": Float(0.0, 1.0, when={"model": "b"}),
        }
    )
    history = History(space, "minimize", 0)
    for number in range(40):
        u = (number * 0.618) % 1.0  # spread over [0, 1)
        params: dict[str, Value] = {"model": "a", "x": u} if number % 2 else {"model": "b", "y": u}
        value = u / 10 if number % 2 else 1.0 + abs(u - 0.8)
        history.update(TrialRecord(number, TrialState.COMPLETE, params, value=value))
    trials = list(history.trials)
    candidates = TPE(n_ei_candidates=400).candidates(history, trials, len(trials), [])
    drawn = [space.decode(point) for point in candidates]
    in_b = np.array([float(p["y"]) for p in drawn if p["model"] == "b"])  # type: ignore[arg-type]
    assert in_b.size > 40 and float(np.median(np.abs(in_b - 0.8))) < 0.2, in_b  # uniform: 0.3


# Proposals of the code before tpe searched several objectives (commit 8fa6019), for
# fixed seeds: a study of one objective must get them, to 12 significant digits (older
# numpy's log and exp differ in the last bit: .ci/constraints-oldest.txt).
BEFORE_FRONTS: list[tuple[str, int, dict[str, Value]]] = [
    ("mixed", 30, {"lr": 0.0004018727805627098, "momentum": 0.5472308622911939,
                   "dropout": 0.25, "layers": 3, "units": 28, "optimizer": "adam"}),
    ("mixed", 74, {"lr": 0.0010179262553887817, "momentum": 0.5265137591507565,
                   "dropout": 0.2, "layers": 2, "units": 63, "optimizer": "adam"}),
    ("conditional", 29, {"kernel": "poly", "C": 0.36503630828471634, "degree": 3,
                         "coef0": 0.5, "shrink": True, "tol": 0.0005371746365003034}),
    ("maximize", 39, {"x": 0.772790332029225, "y": 0.292864896377787}),
]  # fmt: skip


def _one_objective_run(name: str) -> History:
    if name == "mixed":
        return simulate(TPE(), MIXED_SPACE, 75, seed=1, objective=encoded_distance)
    if name == "conditional":

        def centre(params: Mapping[str, Value]) -> float:
            return float(((CONDITIONAL_SPACE.encode(params) - 0.5) ** 2).sum())

        return simulate(TPE(), CONDITIONAL_SPACE, 30, seed=4, objective=centre)
    space = Space.from_user({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})

    def peak(params: Mapping[str, Value]) -> float:
        return -((float(params["x"]) - 0.8) ** 2) - (float(params["y"]) - 0.3) ** 2  # type: ignore[arg-type]

    return simulate(TPE(), space, 40, seed=0, objective=peak, direction="maximize")


@pytest.mark.parametrize(("name", "number", "expected"), BEFORE_FRONTS)
def test_one_objective_proposes_what_it_did_before_fronts_were_searched(
    name: str, number: int, expected: dict[str, Value]
) -> None:
    proposed = _one_objective_run(name).trials[number].params
    assert list(proposed) == list(expected)
    for key, value in expected.items():
        assert type(proposed[key]) is type(value)
        if isinstance(value, float):
            assert proposed[key] == pytest.approx(value, rel=1e-12, abs=0.0), key
        else:
            assert proposed[key] == value, key


TWO = Objectives(("a", "b"), ("minimize", "minimize"))


def _front_history(losses: Sequence[tuple[float, float]], objectives: Objectives = TWO) -> History:
    """Complete trials whose metrics hold ``losses`` as the objectives' values (a
    maximized objective's value is the loss negated), at x = number / 100."""
    space = Space.from_user({"x": Float(0.0, 1.0)})
    history = History(space, objectives.directions[0], 0, None, objectives)
    for number, loss in enumerate(losses):
        values = [sign * v for sign, v in zip(objectives.signs, loss, strict=True)]
        metrics = dict(zip(objectives.metrics, values, strict=True))
        record = TrialRecord(number, TrialState.COMPLETE, {"x": number / 100}, value=values[0])
        history.update(record.replace(metrics=metrics))
    return history


def _good(method: TPE, history: History) -> list[int]:
    """The numbers of the trials in ``method``'s good set (one branch)."""
    trials = list(history.trials)
    branch = np.zeros(len(trials), dtype=np.intp)
    rank = method.front_ranking([history.losses(t) for t in trials], branch)
    return sorted(trials[i].number for i in np.flatnonzero(method.good_set(rank, branch)))


# three fronts: 0, 1, 2 (rank 0); 3, 4, 5 (rank 1); 6, 7 (rank 2); the order of the
# numbers mixes them, so the split cannot be by number or by the first objective alone
FRONTS = [(0.0, 4.0), (3.0, 3.0), (4.0, 0.0), (1.0, 4.5), (2.0, 3.5), (4.5, 1.0),
          (2.5, 4.0), (5.0, 2.0), (1.0, 3.0), (3.0, 1.0)]  # fmt: skip
RANK_0 = [0, 2, 8, 9]  # (0, 4), (4, 0), (1, 3), (3, 1); (3, 3) is dominated by (3, 1)


def test_the_good_set_is_the_first_fronts_whole_when_they_fit() -> None:
    history = _front_history(FRONTS)
    assert _good(TPE(gamma=0.4), history) == RANK_0  # 4 of 10
    rank_1 = [1, 3, 4, 5]  # (3, 3), (1, 4.5), (2, 3.5), (4.5, 1)
    assert _good(TPE(gamma=0.8), history) == sorted(RANK_0 + rank_1)  # 8 of 10
    assert _good(TPE(gamma=0.1), history) != []  # one at least


def test_the_front_that_does_not_fit_gives_the_points_adding_most_hypervolume() -> None:
    """Two of (0, 10), (0.1, 9.9) and (10, 0): (0.1, 9.9) adds the most alone, then
    (0, 10) would add almost nothing beside it, so (10, 0) goes in. Crowding distance
    would keep both extremes, and the oldest two by age would be the near-equal pair."""
    history = _front_history([(0.0, 10.0), (0.1, 9.9), (10.0, 0.0), (11.0, 11.0)])
    assert _good(TPE(gamma=0.5), history) == [1, 2]


def test_a_maximized_objective_counts_the_other_way() -> None:
    """The same losses, with ``b`` stored as a value to maximize (negated): the same good
    set; read as a value to minimize, the fronts would be others."""
    maximized = Objectives(("a", "b"), ("minimize", "maximize"))
    history = _front_history(FRONTS, maximized)
    assert history.trials[0].metrics == {"a": 0.0, "b": -4.0}
    assert _good(TPE(gamma=0.4), history) == RANK_0
    misread = _front_history([(a, -b) for a, b in FRONTS])  # the stored values, minimized
    assert _good(TPE(gamma=0.4), misread) != RANK_0


def test_trials_without_every_objective_rank_after_those_with_them() -> None:
    history = _front_history([(5.0, 5.0), (6.0, 6.0)])
    history.update(TrialRecord(2, TrialState.PRUNED, {"x": 0.5}, value=-100.0))  # no b
    assert history.losses(history.trials[2]) is None
    assert _good(TPE(gamma=1.0), history) == [0, 1, 2]
    assert _good(TPE(gamma=0.6), history) == [0, 1]  # 2 of 3: both complete ones


def test_several_objectives_are_modelled_from_the_front() -> None:
    """On ZDT1's two objectives (the front is every x1 with x2 = 0), once the model is in
    use, its proposals have x2 nearer 0 than the random start's."""
    space = Space.from_user({"x1": Float(0.0, 1.0), "x2": Float(0.0, 1.0)})

    def zdt1(params: Mapping[str, Value]) -> dict[str, float]:
        x1, x2 = float(params["x1"]), float(params["x2"])  # type: ignore[arg-type]
        g = 1.0 + 9.0 * x2
        return {"a": x1, "b": g * (1.0 - math.sqrt(x1 / g))}

    history = simulate_front(TPE(), space, 50, objectives=TWO, function=zdt1, seed=3)
    x2 = [float(t.params["x2"]) for t in history.trials]  # type: ignore[arg-type]
    assert np.median(x2[30:]) < 0.1 < np.median(x2[:10]), x2
    x1 = [float(t.params["x1"]) for t in history.trials[30:]]  # type: ignore[arg-type]
    assert max(x1) - min(x1) > 0.5, x1  # along the front, not at one point of it


def test_a_real_study_of_two_objectives_runs_with_tpe(db: Path) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0), "y": hp.Float(0.0, 1.0)}, method="tpe", study="mo",
             db=db, seed=0, objective=("f1", "f2"), direction=("minimize", "maximize"))  # fmt: skip
    def train(x: float, y: float) -> dict[str, float]:
        return {"f1": x + y, "f2": 1.0 - x + y}

    study = train.optimize(n_trials=14, progress=False)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 14
    assert study.best_trials and all(t.method == "tpe" for t in study.trials)
    with pytest.raises(MethodError, match="leave out pruner= of method 'tpe'"):
        hp.tune({"x": (0.0, 1.0)}, method=TPE(pruner="median"), study="p", db=db,
                objective=("f1", "f2"), direction=("minimize", "minimize"))  # fmt: skip

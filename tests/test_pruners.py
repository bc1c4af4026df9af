"""``hp.pruners``: check steps, the percentile rule against hand-computed numbers and numpy,
options, ``pruner_from``, and methods carrying a pruner through JSON and the database."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import hpotrack as hp
from hpotrack.errors import MethodError
from hpotrack.methods.base import Method
from hpotrack.methods.history import History
from hpotrack.methods.registry import from_json as method_from_json
from hpotrack.pruners import Median, Percentile, Pruner, Threshold, pruner_from
from hpotrack.records import TrialRecord, TrialState
from hpotrack.space import Space
from hpotrack.store import close_stores

SPACE = Space.from_user({"x": hp.Float(0.0, 1.0)})


def record(number: int, state: TrialState, checks: Mapping[int, float]) -> TrialRecord:
    return TrialRecord(number=number, state=state, params={"x": 0.5}, checks=dict(checks))


def history_with(
    complete: Sequence[Mapping[int, float]],
    others: Sequence[tuple[TrialState, Mapping[int, float]]] = (),
    direction: str = "minimize",
) -> History:
    """Complete trials with these checks, then trials in other states."""
    history = History(SPACE, direction, seed=0)
    for checks in complete:
        history.update(record(history.next_number, TrialState.COMPLETE, checks))
    for state, checks in others:
        history.update(record(history.next_number, state, checks))
    return history


def decide(pruner: Pruner, history: History, checks: Mapping[int, float], step: int) -> bool:
    """Add a running trial with ``checks`` to ``history`` and ask ``pruner`` at ``step``
    (as Study.check does: the trial's record with its check is in the history first)."""
    trial = record(history.next_number, TrialState.RUNNING, checks)
    history.update(trial)
    return pruner.prune(trial, step, history)


# -- check steps -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("warmup", "interval", "step", "expected"),
    [
        (0, 1, 0, 0),
        (0, 1, 5, 5),
        (2, 1, 0, 2),
        (2, 1, 2, 2),
        (2, 1, 3, 3),
        (2, 3, 0, 2),
        (2, 3, 3, 5),
        (2, 3, 5, 5),
        (2, 3, 6, 8),
        (0, 4, 1, 4),
        (0, 4, 4, 4),
        (0, 4, 9, 12),
        (5, 10, 16, 25),
    ],
)
def test_next_check_hand_computed(warmup: int, interval: int, step: int, expected: int) -> None:
    pruner = Percentile(n_warmup_steps=warmup, interval_steps=interval)
    history = history_with([])
    assert pruner.next_check(record(0, TrialState.RUNNING, {}), step, history) == expected


@given(warmup=st.integers(0, 50), interval=st.integers(1, 20), step=st.integers(0, 500))
def test_next_check_is_the_first_scheduled_step_at_or_after_step(
    warmup: int, interval: int, step: int
) -> None:
    pruner = Median(n_warmup_steps=warmup, interval_steps=interval)
    found = pruner.next_check(record(0, TrialState.RUNNING, {}), step, history_with([]))
    assert found is not None
    scheduled = [warmup + k * interval for k in range(0, 600)]
    assert found == next(s for s in scheduled if s >= step)


def test_methods_with_a_pruner_ask_it_for_check_steps_and_others_never_check() -> None:
    history = history_with([])
    trial = record(0, TrialState.RUNNING, {})
    pruned = hp.methods.Random(pruner=Median(n_warmup_steps=3, interval_steps=2))
    assert pruned.next_check(trial, 0, history) == 3
    assert pruned.next_check(trial, 4, history) == 5
    assert pruned.rung(trial, 3, history) is None
    assert hp.methods.Random().next_check(trial, 0, history) is None
    assert hp.methods.Random().on_report(trial, 0, history) is False


# -- the percentile rule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 25, 1.75),
        ([1.0, 2.0, 3.0, 4.0], 75, 3.25),
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 50, 3.0),
        ([0.0, 10.0], 30, 3.0),
        ([7.0], 90, 7.0),
    ],
)
def test_threshold_is_the_interpolated_percentile(
    values: list[float], q: float, expected: float
) -> None:
    """A running trial whose best check equals the threshold goes on; a hair worse stops."""
    complete = [{1: v} for v in values]
    pruner = Percentile(percentile=q, n_startup_trials=0)
    assert not decide(pruner, history_with(complete), {1: expected}, 1)
    assert decide(pruner, history_with(complete), {1: expected + 1e-9}, 1)
    assert not decide(pruner, history_with(complete), {1: expected - 1e-9}, 1)


def test_median_hand_computed() -> None:
    complete = [{0: 9.0, 1: v} for v in [4.0, 1.0, 3.0, 2.0]]  # median at step 1: 2.5
    median = Median(n_startup_trials=4)
    assert median.percentile == 50
    assert decide(median, history_with(complete), {0: 9.0, 1: 2.6}, 1)
    assert not decide(median, history_with(complete), {0: 9.0, 1: 2.5}, 1)
    assert not decide(median, history_with(complete), {0: 9.0, 1: 2.4}, 1)
    # at step 0 every complete trial had 9.0: a worse value stops, an equal one goes on
    assert decide(median, history_with(complete), {0: 9.5}, 0)
    assert not decide(median, history_with(complete), {0: 9.0}, 0)


def test_a_trial_is_judged_by_its_best_check_so_far() -> None:
    complete = [{0: 5.0, 1: v} for v in [1.0, 2.0, 3.0, 4.0]]
    median = Median(n_startup_trials=0)
    # its value at step 1 (9.0) is worse than the median 2.5, but it reached 1.0 at step 0
    assert not decide(median, history_with(complete), {0: 1.0, 1: 9.0}, 1)
    assert decide(median, history_with(complete), {0: 5.0, 1: 9.0}, 1)


def test_only_complete_trials_set_the_threshold() -> None:
    complete = [{1: v} for v in [1.0, 2.0, 3.0, 4.0]]  # median 2.5
    others = [
        (TrialState.PRUNED, {1: 100.0}),
        (TrialState.RUNNING, {1: 100.0}),
        (TrialState.FAILED, {1: 100.0}),
        (TrialState.PRUNED, {1: -100.0}),
    ]
    history = history_with(complete, others)
    assert list(history.complete_at(1)) == [1.0, 2.0, 3.0, 4.0]
    assert decide(Median(n_startup_trials=0), history, {1: 2.6}, 1)


def test_n_startup_trials_counts_complete_trials() -> None:
    one_worse = {1: 50.0}
    pruner = Median(n_startup_trials=5)
    four = [{1: float(v)} for v in range(4)]
    many_pruned = [(TrialState.PRUNED, {1: 0.0})] * 6
    assert not decide(pruner, history_with(four, many_pruned), one_worse, 1)
    assert decide(pruner, history_with([*four, {1: 1.0}]), one_worse, 1)


def test_n_startup_trials_zero_still_needs_one_complete_trial() -> None:
    pruner = Median(n_startup_trials=0)
    assert not decide(pruner, history_with([], [(TrialState.PRUNED, {1: 0.0})]), {1: 9.0}, 1)
    assert decide(pruner, history_with([{1: 0.0}]), {1: 9.0}, 1)


def test_n_min_trials_counts_complete_trials_with_a_check_at_that_step() -> None:
    complete = [{1: 0.0, 2: 0.0}, {1: 0.0, 2: 0.0}, {1: 0.0}]  # 3 at step 1, 2 at step 2
    pruner = Median(n_startup_trials=0, n_min_trials=3)
    assert decide(pruner, history_with(complete), {1: 5.0}, 1)
    assert not decide(pruner, history_with(complete), {1: 5.0, 2: 5.0}, 2)
    assert decide(Median(n_startup_trials=0, n_min_trials=2), history_with(complete), {2: 5.0}, 2)


def test_no_complete_trial_at_that_step_never_prunes() -> None:
    complete = [{1: 0.0} for _ in range(5)]
    assert not decide(Median(n_startup_trials=0), history_with(complete), {7: 1e9}, 7)


def test_maximize_turns_the_rule_around() -> None:
    complete = [{1: v} for v in [1.0, 2.0, 3.0, 4.0]]
    median = Median(n_startup_trials=0)
    assert decide(median, history_with(complete, direction="maximize"), {1: 2.4}, 1)
    assert not decide(median, history_with(complete, direction="maximize"), {1: 2.6}, 1)
    # percentile=25 keeps the best quarter: for maximize the 75th percentile of values (3.25)
    top = Percentile(percentile=25, n_startup_trials=0)
    assert decide(top, history_with(complete, direction="maximize"), {1: 3.2}, 1)
    assert not decide(top, history_with(complete, direction="maximize"), {1: 3.3}, 1)
    # and for maximize the best check so far is the largest
    assert not decide(top, history_with(complete, direction="maximize"), {0: 9.0, 1: 0.0}, 1)


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@given(
    values=st.lists(finite, min_size=1, max_size=30),
    q=st.floats(0, 100),
    candidate=finite,
    maximize=st.booleans(),
)
def test_prune_decision_matches_numpy_percentile(
    values: list[float], q: float, candidate: float, maximize: bool
) -> None:
    direction = "maximize" if maximize else "minimize"
    sign = -1.0 if maximize else 1.0
    losses = np.array(values) * sign
    threshold = float(np.percentile(losses, q))
    loss = sign * candidate
    assume(abs(loss - threshold) > 1e-7 * (1.0 + abs(threshold)))
    history = history_with([{3: v} for v in values], direction=direction)
    pruner = Percentile(percentile=q, n_startup_trials=0)
    assert decide(pruner, history, {3: candidate}, 3) == (loss > threshold)


@given(values=st.lists(finite, min_size=1, max_size=40), q=st.floats(0, 100))
def test_percentile_interpolation_is_numpys_default(values: list[float], q: float) -> None:
    from hpotrack.pruners import _percentile

    ranked = sorted(values)
    expected = float(np.percentile(np.array(values), q))
    assert _percentile(ranked, q) == pytest.approx(expected, rel=1e-9, abs=1e-6)
    assert ranked[0] <= _percentile(ranked, q) <= ranked[-1]


# -- the history's ranked checks ------------------------------------------------------------------


def test_history_keeps_checks_ranked_and_replaces_a_trials_old_checks() -> None:
    history = History(SPACE, "maximize", seed=0)
    history.update(record(0, TrialState.RUNNING, {1: 2.0}))
    history.update(record(1, TrialState.COMPLETE, {1: 5.0, 2: 6.0}))
    history.update(record(2, TrialState.RUNNING, {1: 3.0}))
    assert history.loss(5.0) == -5.0
    assert list(history.reached(1)) == [(-5.0, 1), (-3.0, 2), (-2.0, 0)]
    assert list(history.complete_at(1)) == [-5.0]
    # trial 0 goes on (check at 2) and completes: its old entries go, the new ones come
    history.update(record(0, TrialState.RUNNING, {1: 2.0, 2: 7.0}))
    history.update(record(0, TrialState.COMPLETE, {1: 2.0, 2: 7.0}))
    assert list(history.reached(1)) == [(-5.0, 1), (-3.0, 2), (-2.0, 0)]
    assert list(history.reached(2)) == [(-7.0, 0), (-6.0, 1)]
    assert list(history.complete_at(1)) == [-5.0, -2.0]
    assert list(history.complete_at(2)) == [-7.0, -6.0]
    # trial 2 is pruned: still reached step 1, never complete there
    history.update(record(2, TrialState.PRUNED, {1: 3.0}))
    assert list(history.reached(1)) == [(-5.0, 1), (-3.0, 2), (-2.0, 0)]
    assert list(history.complete_at(1)) == [-5.0, -2.0]
    assert history.reached(9) == [] and history.complete_at(9) == []


# -- threshold -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bounds", "value", "stops"),
    [
        ({"upper": 2.0}, 2.0, False),
        ({"upper": 2.0}, 2.5, True),
        ({"upper": 2.0}, -1e9, False),
        ({"lower": 0.2}, 0.1, True),
        ({"lower": 0.2}, 0.2, False),
        ({"lower": 0.2, "upper": 0.9}, 0.95, True),
        ({"lower": 0.2, "upper": 0.9}, 0.5, False),
        ({"upper": 2.0}, float("nan"), True),
        ({"lower": -1.0}, float("inf"), True),  # infinite: diverged, either way
        ({"upper": 1.0}, float("inf"), True),
        ({"lower": 0.2}, sys.float_info.max, True),  # how a check stores a NaN report
        ({"upper": 2.0}, -sys.float_info.max, True),  # ... when maximizing
    ],
)
def test_threshold_stops_a_report_beyond_a_bound_or_not_a_number(
    bounds: dict[str, float], value: float, stops: bool
) -> None:
    pruner = Threshold(**bounds)
    for direction in ("minimize", "maximize"):  # the bounds are on the values as reported
        history = history_with([], direction=direction)
        assert decide(pruner, history, {3: value}, 3) is stops


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize("bounds", [{"lower": 0.0}, {"upper": 10.0}])
def test_a_nan_report_stops_a_trial_whatever_the_bound_and_direction(
    tmp_path: Path, direction: str, bounds: dict[str, float]
) -> None:
    """A check stores a NaN report as the direction's worst value, which passed the bound
    on the other side (+max is above any lower bound)."""
    pruner = Threshold(**bounds)

    @hp.tune({"x": hp.Float(1.0, 2.0)}, method=hp.methods.Random(pruner=pruner),
             direction=direction, db=tmp_path / "h.db", seed=0)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        for step in range(1, 6):
            trial.report(float("nan") if step == 2 else x, step=step)
        return x

    study = train.optimize(n_trials=2, progress=False)
    assert [(t.state, max(t.checks)) for t in study.trials] == [(TrialState.PRUNED, 2)] * 2


def test_threshold_needs_no_other_trial_and_judges_the_report_at_the_check() -> None:
    pruner = Threshold(upper=1.0, n_warmup_steps=2, interval_steps=2)
    history = history_with([])
    assert decide(pruner, history, {2: 5.0, 4: 0.5}, 4) is False  # an earlier high report
    assert [pruner.next_check(record(0, TrialState.RUNNING, {}), s, history) for s in (0, 3)] == [
        2,
        4,
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "Threshold() needs a bound: give upper="),
        ({"upper": 1.0, "lower": 1.0}, "`lower < upper` must hold, but got lower=1.0, upper=1.0"),
        ({"upper": float("nan")}, "but got upper=nan"),
        ({"lower": "0.1"}, "but got lower='0.1'"),
        ({"upper": True}, "but got upper=True"),
        ({"upper": 1.0, "interval_steps": 0}, "`interval_steps >= 1` must hold"),
        ({"upper": 1.0, "n_startup_trials": 3}, "unknown keyword argument 'n_startup_trials'"),
    ],
)
def test_threshold_bad_options_are_method_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(MethodError) as info:
        Threshold(**options)
    assert message in str(info.value)


def test_threshold_by_name_says_it_needs_a_bound() -> None:
    with pytest.raises(MethodError, match="needs a bound"):
        hp.methods.TPE(pruner="threshold")


def test_a_diverging_trial_stops_at_its_first_check_in_a_real_study(tmp_path: Path) -> None:
    pruner = Threshold(upper=3.0, n_warmup_steps=2)

    @hp.tune(
        {"x": hp.Float(0.0, 1.0)},
        method=hp.methods.Random(pruner=pruner),
        db=tmp_path / "h.db",
        seed=0,
    )
    def train(x: float, trial: hp.Trial) -> float:
        for step in range(1, 10):
            loss = float("nan") if x > 0.8 else x * step  # x > 1/3 crosses 3 by step 9
            trial.report(loss, step=step)
        return loss

    study = train.optimize(n_trials=12, progress=False)
    for trial in study.trials:
        x = float(trial.params["x"])  # type: ignore[arg-type]
        steps = [step for step, _ in study.curve(trial.number)["value"]]
        crossing = 2 if x > 0.8 else max(2, math.floor(3.0 / x) + 1) if x > 1 / 3 else None
        assert trial.state is (TrialState.COMPLETE if crossing is None else TrialState.PRUNED)
        assert steps == list(range(1, (crossing or 9) + 1))


# -- options -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"percentile": -1}, "`0 <= percentile <= 100` must hold, but got percentile=-1"),
        ({"percentile": 100.5}, "`0 <= percentile <= 100` must hold, but got percentile=100.5"),
        ({"percentile": float("nan")}, "but got percentile=nan"),
        ({"percentile": True}, "but got percentile=True"),
        ({"percentile": "50"}, "but got percentile='50'"),
        (
            {"n_startup_trials": -1},
            "`n_startup_trials >= 0` must hold for a whole number, but got n_startup_trials=-1",
        ),
        ({"n_startup_trials": 1.5}, "but got n_startup_trials=1.5"),
        ({"n_startup_trials": True}, "but got n_startup_trials=True"),
        ({"n_warmup_steps": -2}, "`n_warmup_steps >= 0` must hold"),
        ({"n_warmup_steps": None}, "but got n_warmup_steps=None"),
        (
            {"interval_steps": 0},
            "`interval_steps >= 1` must hold for a whole number, but got interval_steps=0",
        ),
        (
            {"n_min_trials": 0},
            "`n_min_trials >= 1` must hold for a whole number, but got n_min_trials=0",
        ),
    ],
)
def test_bad_options_are_method_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(MethodError) as info:
        Percentile(**options)
    assert message in str(info.value)
    if "percentile" not in options:
        with pytest.raises(MethodError) as again:
            Median(**options)
        assert message in str(again.value)


@pytest.mark.parametrize(
    "pruner", [Median(n_warmup_steps=30), Threshold(upper=1.0, n_warmup_steps=27)]
)
def test_a_warm_up_past_a_whole_budget_is_refused_when_decorating(
    tmp_path: Path, pruner: Pruner
) -> None:
    """Checks stop below a whole-number budget's max, so with a warm-up that long (in
    batches, say, as Optuna's n_warmup_steps often is) the pruner stopped nothing,
    silently; a should_prune() then even said to give the method a pruner."""
    with pytest.raises(MethodError) as info:

        @hp.tune({"x": hp.Float(0.0, 1.0)}, method=hp.methods.TPE(pruner=pruner),
                 budget=hp.Budget(1, 27, name="epochs"), db=tmp_path / "h.db")  # fmt: skip
        def train(x: float) -> float:
            return x

    warmup = pruner.n_warmup_steps  # type: ignore[attr-defined]
    assert str(info.value).startswith(
        f"`n_warmup_steps < max` must hold for the pruner to check any trial, but got "
        f"n_warmup_steps={warmup}, max=27 (steps count in the budget's unit, epochs"
    )
    hp.methods.TPE(pruner=pruner).check_budget(hp.Budget(1, warmup + 1))  # one check left
    hp.methods.TPE(pruner=pruner).check_budget(hp.Budget(0.5, 27.0))  # steps of its own
    hp.methods.TPE(pruner=pruner).check_budget(None)


@pytest.mark.parametrize("q", [0, 100, 0.5, 99.9])
def test_percentile_bounds_are_allowed(q: float) -> None:
    assert Percentile(percentile=q).percentile == q


def test_median_percentile_is_fixed() -> None:
    assert Median().percentile == 50.0
    with pytest.raises(MethodError, match="unknown keyword argument 'percentile'"):
        Median(percentile=30)  # type: ignore[call-arg]


@pytest.mark.parametrize("method", ["random", "tpe", "bayes", "evolution"])
def test_methods_refuse_an_unknown_pruner(method: str) -> None:
    cls = type(hp.methods.resolve(method))
    with pytest.raises(MethodError, match="unknown pruner 'mean'"):
        cls(pruner="mean")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "name",
    ["hyperband", "successive_halving", "sha", "bohb", "asha", "HyperbandPruner", "SHA"],
)
def test_a_hyperband_style_pruner_says_it_is_a_method(name: str) -> None:
    """Optuna's HyperbandPruner and SuccessiveHalvingPruner are methods in hpotrack."""
    with pytest.raises(MethodError) as info:
        hp.methods.TPE(pruner=name)  # type: ignore[arg-type]
    assert str(info.value) == (
        f"unknown pruner {name!r}: use 'median', 'percentile', hp.pruners.Median(...), "
        "hp.pruners.Percentile(...) or hp.pruners.Threshold(upper=..., lower=...); "
        "Hyperband-style pruning is a method in hpotrack: method='hyperband' (or 'sha', "
        "'bohb') with budget=hp.Budget(min, max) on @hp.tune"
    )
    with pytest.raises(MethodError) as other:
        pruner_from("mean")
    assert "Hyperband" not in str(other.value)


@pytest.mark.parametrize(
    ("given", "hint"),
    [
        (type("MedianPruner", (), {})(), "; MedianPruner is hp.pruners.Median(...), with the same"),
        (type("PercentilePruner", (), {})(), "; PercentilePruner is hp.pruners.Percentile(...)"),
        (type("HyperbandPruner", (), {})(), "; Hyperband-style pruning is a method in hpotrack"),
        (type("NopPruner", (), {})(), "; pruner=None (the default) stops no trial"),
        ("MedianPruner", "; did you mean 'median'?"),
        ("Percentile", "; did you mean 'percentile'?"),
        ("nop", "; pruner=None (the default) stops no trial"),
        ("medain", "; did you mean 'median'?"),  # a typo gets the near name
        ("percentil", "; did you mean 'percentile'?"),
    ],
)  # fmt: skip
def test_optunas_pruner_objects_and_names_say_what_hpotrack_calls_them(
    given: object, hint: str
) -> None:
    """An Optuna pruner object (``pruner=optuna.pruners.HyperbandPruner()`` in a ported
    script) got only the list of names, without the hint that a string of its name got."""
    with pytest.raises(MethodError) as info:
        hp.methods.TPE(pruner=given)  # type: ignore[arg-type]
    assert hint in str(info.value)


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("MedianPruner", "; MedianPruner is hp.pruners.Median(...), with the same options"),
        ("PercentilePruner", "; PercentilePruner is hp.pruners.Percentile(...), with the same"),
        ("ThresholdPruner", "; ThresholdPruner is hp.pruners.Threshold(...), with the same"),
        ("HyperbandPruner", "; Hyperband-style pruning is a method in hpotrack"),
        ("NopPruner", "; pruner=None (the default) stops no trial"),
    ],
)
def test_optunas_pruner_classes_on_hp_pruners_name_hpotracks(name: str, hint: str) -> None:
    """``hp.pruners.MedianPruner(n_startup_trials=5)``, Optuna's spelling with the import
    renamed, was a bare AttributeError."""
    with pytest.raises(AttributeError) as raised:
        getattr(hp.pruners, name)
    assert str(raised.value).startswith(
        f"module 'hpotrack.pruners' has no attribute {name!r}{hint}"
    )
    with pytest.raises(AttributeError) as other:
        hp.pruners.Medain  # type: ignore[attr-defined]  # noqa: B018 - the access is the test
    assert str(other.value) == "module 'hpotrack.pruners' has no attribute 'Medain'"
    assert not hasattr(hp.pruners, name)


# -- pruner_from -----------------------------------------------------------------------------------


def test_pruner_from_names_and_instances() -> None:
    assert pruner_from(None) is None
    assert pruner_from("median") == Median()
    assert type(pruner_from("median")) is Median
    assert pruner_from("percentile") == Percentile()
    assert pruner_from(Threshold(upper=1.0)) == Threshold(upper=1.0)
    assert type(pruner_from("percentile")) is Percentile
    mine = Percentile(percentile=10, n_warmup_steps=2)
    assert pruner_from(mine) is mine


@pytest.mark.parametrize(
    "pruner",
    [
        Median(),
        Median(n_startup_trials=0, n_warmup_steps=3, interval_steps=2, n_min_trials=4),
        Percentile(),
        Percentile(percentile=12.5, n_startup_trials=1, n_min_trials=2),
        Threshold(upper=2.5),
        Threshold(lower=-1, upper=4, n_warmup_steps=3, interval_steps=2),
    ],
)
def test_pruner_from_stored_json(pruner: Pruner) -> None:
    data = json.loads(json.dumps(pruner.to_json()))
    assert data["type"] == pruner.name
    again = pruner_from(data)
    assert again == pruner and type(again) is type(pruner)


def test_median_json_has_no_percentile() -> None:
    assert Median(n_warmup_steps=2).to_json() == {
        "type": "median",
        "n_startup_trials": 5,
        "n_warmup_steps": 2,
        "interval_steps": 1,
        "n_min_trials": 1,
    }
    assert Percentile(percentile=30).to_json()["percentile"] == 30


@pytest.mark.parametrize(
    ("junk", "message"),
    [
        ("mean", "unknown pruner 'mean'"),
        ("Median", "unknown pruner 'Median'"),
        ("", "unknown pruner ''"),
        (3, "unknown pruner 3"),
        ([], "unknown pruner []"),
        (True, "unknown pruner True"),
        ({}, "unknown pruner {}"),
        ({"type": "mean"}, "unknown pruner {'type': 'mean'}"),
        (hp.methods.Random, "unknown pruner"),
        ({"type": "median", "percentile": 50}, "stored pruner options are invalid"),
        ({"type": "median", "patience": 3}, "stored pruner options are invalid"),
        ({"type": "percentile", "percentile": 200}, "but got percentile=200"),
        ({"type": "median", "interval_steps": 0}, "but got interval_steps=0"),
    ],
)
def test_pruner_from_junk_is_a_method_error(junk: object, message: str) -> None:
    with pytest.raises(MethodError) as info:
        pruner_from(junk)
    assert message in str(info.value)
    if message.startswith("unknown pruner"):
        assert "'median', 'percentile'" in str(info.value)


# -- methods with a pruner through JSON and the database -------------------------------------------


def _with_pruner(name: str, pruner: Pruner | str | None) -> Method:
    cls: Any = type(hp.methods.resolve(name))
    method: Method = cls(pruner=pruner)
    return method


@pytest.mark.parametrize("name", ["random", "tpe", "bayes", "evolution"])
@pytest.mark.parametrize(
    "pruner",
    [
        "median",
        Median(n_warmup_steps=2),
        Percentile(percentile=30, n_startup_trials=2, interval_steps=3, n_min_trials=2),
        Threshold(lower=0.1, n_warmup_steps=1),
        None,
    ],
)
def test_methods_with_a_pruner_round_trip_through_json(
    name: str, pruner: Pruner | str | None
) -> None:
    method = _with_pruner(name, pruner)
    expected = pruner_from(pruner)
    assert getattr(method, "pruner") == expected  # noqa: B009 - Method has no pruner attribute
    data = json.loads(json.dumps(method.to_json()))
    stored = data["options"]["pruner"]
    assert stored == (None if expected is None else expected.to_json())
    again = method_from_json(data)
    assert again == method
    assert type(getattr(again, "pruner")) is type(expected)  # noqa: B009


def test_a_stored_method_without_a_pruner_option_loads_without_one() -> None:
    """Methods stored before pruners existed have no "pruner" key."""
    method = method_from_json({"name": "random", "options": {"qmc": False}})
    assert getattr(method, "pruner") is None  # noqa: B009


def test_a_pruner_is_stored_with_the_study_and_loaded_back(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    pruner = Percentile(percentile=40, n_startup_trials=2, n_warmup_steps=1, n_min_trials=2)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method=hp.methods.TPE(pruner=pruner), db=db, study="s")
    def train(x: float) -> float:
        return x

    train.optimize(n_trials=1, progress=False)
    close_stores()
    study = hp.load_study("s", db=db)
    assert study.method == hp.methods.TPE(pruner=pruner)
    assert getattr(study.method, "pruner") == pruner  # noqa: B009


def test_a_misspelt_pruner_option_is_one_method_error_with_the_right_name() -> None:
    with pytest.raises(MethodError, match="did you mean 'n_startup_trials'"):
        hp.pruners.Median(n_startup=5)  # type: ignore[call-arg]

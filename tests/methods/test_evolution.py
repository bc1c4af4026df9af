from __future__ import annotations

import hashlib
import sqlite3
import statistics
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import hpotrack as hp
from hpotrack.cli import cli
from hpotrack.errors import MethodError
from hpotrack.methods import Evolution, Method
from hpotrack.methods.evolution import polynomial_mutation, sbx_child
from hpotrack.methods.history import History
from hpotrack.methods.registry import from_json, resolve
from hpotrack.objectives import Objectives
from hpotrack.records import TrialRecord, TrialState
from hpotrack.space import Choice, Float, Int, Space, Value
from hpotrack.testing import MethodSuite, simulate
from hpotrack.testing.driver import record, run_proposal
from hpotrack.testing.method_suite import CONDITIONAL_SPACE, MIXED_SPACE, encoded_distance


class TestEvolution(MethodSuite):
    model_based = True  # beats random search on Branin at 30 trials
    finds_fronts = True  # ZDT1, 60 trials: beat random search's hypervolume on 9 of 10 seeds
    finds_feasible = True  # Gardner et al. 2014's toy, 40 trials

    def make_method(self) -> Method:
        return Evolution(population=8)


class TestEvolutionUniformGaussian(MethodSuite):
    finds_fronts = True  # ZDT1, 60 trials: beat random search's hypervolume on 9 of 10 seeds

    def make_method(self) -> Method:
        return Evolution(population=6, crossover="uniform", mutation="gaussian", tournament=3)


class TestDifferentialEvolution(MethodSuite):
    # Not finds_fronts: its target is a random member, not a tournament's winner, and on
    # ZDT1 at 60 trials it beat random search's hypervolume on 4 of 10 seeds (at 200, on
    # 10 of 10): it searches several objectives, but gains on them slowly.

    def make_method(self) -> Method:
        return Evolution(population=6, strategy="de")


class TestCmaEs(MethodSuite):
    model_based = True  # beats random search on Branin at 30 trials
    finds_feasible = True  # Gardner et al. 2014's toy, 40 trials

    def make_method(self) -> Method:
        return Evolution(strategy="cma")


def by_origin(history: History) -> dict[str, list[TrialRecord]]:
    groups: dict[str, list[TrialRecord]] = {}
    for trial in history.trials:
        groups.setdefault(trial.origin, []).append(trial)
    return groups


def test_initial_population_is_sampled_then_children_are_bred() -> None:
    history = simulate(Evolution(population=8), MIXED_SPACE, 40, objective=encoded_distance)
    assert [t.origin for t in history.trials[:8]] == ["sampled"] * 8
    assert {t.origin for t in history.trials[8:]} == {"crossover", "mutated"}


def test_the_initial_population_is_a_latin_hypercube() -> None:
    space = Space.from_user({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    history = simulate(Evolution(population=10), space, 10, seed=3)
    for name in ("x", "y"):
        strata = sorted(int(float(t.params[name]) * 10) for t in history.trials)  # type: ignore[arg-type]
        assert strata == list(range(10))


@pytest.mark.parametrize("strategy", ["ga", "de"])
def test_lineage_edges_per_origin(strategy: str) -> None:
    method = Evolution(population=6, strategy=strategy)
    history = simulate(method, MIXED_SPACE, 60, seed=2, objective=encoded_distance)
    groups = by_origin(history)
    assert all(not t.parents for t in groups["sampled"])
    for child in groups["crossover"]:
        parents = [e.parent for e in child.parents]
        assert len(set(parents)) == len(parents)  # one edge per parent (the table's key)
        assert all(history.trials[p].state is TrialState.COMPLETE for p in parents)
        kinds = sorted(e.kind for e in child.parents)
        assert kinds == (
            ["crossover"] * 2 if strategy == "ga" else ["crossover", *["mutation"] * 3]
        )
    if strategy == "ga":
        assert groups["mutated"]
        for child in groups["mutated"]:
            assert [e.kind for e in child.parents] == ["mutation"]
            assert child.params != history.trials[child.parents[0].parent].params
    else:
        assert "mutated" not in groups


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_parents_are_better_than_the_median_more_often_than_not(direction: str) -> None:
    sign = 1.0 if direction == "minimize" else -1.0
    history = simulate(
        Evolution(population=8),
        MIXED_SPACE,
        80,
        seed=5,
        objective=lambda p: sign * encoded_distance(p),
        direction=direction,
    )
    better = total = 0
    for child in history.trials:
        if not child.parents:
            continue
        earlier = [sign * t.value for t in history.trials[: child.number] if t.value is not None]
        median = statistics.median(earlier)
        for edge in child.parents:
            better += sign * history.trials[edge.parent].value < median  # type: ignore[operator]
            total += 1
    assert total > 50 and better / total > 0.8


def test_failed_trials_are_never_parents_and_pruned_ones_may_be() -> None:
    method = Evolution(population=4)
    history = History(MIXED_SPACE, "minimize", 1)
    states = [TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED]
    for number in range(60):
        proposal = method.ask(history)
        state = states[number % 3]
        value = None if state is TrialState.FAILED else encoded_distance(proposal.params)
        history.update(record(number, proposal, state, value))
    parents = {e.parent for t in history.trials for e in t.parents}
    assert parents and all(history.trials[p].state is not TrialState.FAILED for p in parents)
    assert any(history.trials[p].state is TrialState.PRUNED for p in parents)


def test_pruned_trials_rank_after_complete_ones_whatever_their_early_loss() -> None:
    """With losses that worsen with training (a model that overfits), a pruned trial's
    last report, after epoch 1, beats every complete trial's loss after epoch 9. As
    fitness, it made the pruned trials the population (57 to 61 of 68 to 71 parents): the
    search bred from configurations the median rule had just stopped."""
    space = Space.from_user({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})

    def overfitting(params: Mapping[str, Value]) -> Any:
        offset = (float(params["x"]) - 0.8) ** 2 + (float(params["y"]) - 0.3) ** 2
        return lambda epoch: offset + 0.5 * epoch

    method, pruned, parents = Evolution(population=4, pruner="median"), 0, 0
    for seed in range(2):
        history = History(space, "minimize", seed, hp.Budget(1, 9))
        for _ in range(40):
            proposal = method.ask(history)
            run_proposal(method, history, proposal, overfitting(proposal.params))
        pruned += sum(t.state is TrialState.PRUNED for t in history.trials)
        for child in history.trials:
            complete = [t for t in history.trials[: child.number] if t.state is TrialState.COMPLETE]
            if len(complete) >= method.population:  # enough to fill the population
                parents += len(child.parents)
                assert all(history.trials[e.parent] in complete for e in child.parents)
    assert pruned and parents > 100


def test_parents_come_from_the_window_or_are_the_best() -> None:
    method = Evolution(population=4, window=10)
    history = simulate(method, MIXED_SPACE, 120, seed=4, objective=encoded_distance)
    best = 0
    for child in history.trials[1:]:
        if history.trials[child.number - 1].value < history.trials[best].value:  # type: ignore[operator]
            best = child.number - 1
        for edge in child.parents:
            assert edge.parent >= child.number - 10 or edge.parent == best


def test_finds_good_points_on_a_smooth_function() -> None:
    space = Space.from_user({f"x{i}": Float(-2.0, 2.0) for i in range(4)})

    def sphere(p: Mapping[str, Value]) -> float:
        return float((np.array(list(p.values()), dtype=float) ** 2).sum())

    mine = simulate(Evolution(population=10), space, 150, seed=0, objective=sphere)
    assert min(t.value for t in mine.trials if t.value is not None) < 0.05


CATEGORICAL = Space.from_user({"a": Choice(["x", "y", "z"]), "b": [1, 2, 3, 4], "c": [True, False]})


def test_a_categorical_only_space_works() -> None:
    target = {"a": "z", "b": 3, "c": False}

    def mismatches(p: Mapping[str, Value]) -> float:
        return float(sum(p[k] != v for k, v in target.items()))

    method = Evolution(population=6)
    history = simulate(method, CATEGORICAL, 24, seed=0, objective=mismatches)
    assert all(CATEGORICAL.validate(t.params) == t.params for t in history.trials)
    assert history.best is not None and history.best.value == 0.0
    pending = History(CATEGORICAL, "minimize", 0)  # 16 of the 24 cells running: all distinct
    for number in range(16):
        pending.update(record(number, method.ask(pending), TrialState.RUNNING, None))
    assert len({tuple(t.params.values()) for t in pending.trials}) == 16


@pytest.mark.parametrize("seed", range(5))
def test_once_a_small_space_has_run_a_running_configuration_is_not_bred_again(seed: int) -> None:
    """Every configuration has run, and workers are running three of the four: the child
    is the fourth (n_jobs=2 on such a space ran a configuration twice at once)."""
    space = Space.from_user({"a": Choice([1, 2]), "b": Int(0, 1)})
    cells = [{"a": a, "b": b} for a in (1, 2) for b in (0, 1)]
    history = History(space, "minimize", seed)
    for number, params in enumerate([*cells, *cells[:3]]):
        state = TrialState.COMPLETE if number < 4 else TrialState.RUNNING
        value = float(number) if number < 4 else None
        history.update(record(number, hp.methods.Proposal(params), state, value))
    assert Evolution(population=2).ask(history).params == cells[3]


@pytest.mark.parametrize("seed", range(3))
def test_options_true_and_1_are_told_apart_as_any_two_options(seed: int) -> None:
    """``{"c": True} == {"c": 1}`` in Python: a child with the option True was taken for a
    repeat of a trial with the option 1 and bred away, and 8 trials covered fewer of the 8
    cells than the same search over string options (5.7 against 7.9 on average)."""
    runs = []
    for options in ([1, True, 0, False], ["a", "b", "c", "d"]):
        space = Space.from_user({"c": Choice(options), "n": Int(0, 1)})
        history = simulate(Evolution(population=2), space, 8, seed=seed, objective=lambda p: 1.0)
        runs.append([space.encode(t.params).tolist() for t in history.trials])
    assert runs[0] == runs[1]


def test_int_and_stepped_genes_decode_to_valid_values() -> None:
    space = Space.from_user({"n": Int(1, 3), "d": Float(0.0, 0.5, step=0.25)})
    history = simulate(Evolution(population=3), space, 30, seed=1, objective=lambda p: 1.0)
    assert all(space.validate(t.params) == t.params for t in history.trials)


def test_operators_stay_in_the_unit_cube() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        x, y = rng.random(5), rng.random(5)
        child = sbx_child(x, y, 2.0, rng)
        assert ((child >= 0) & (child <= 1)).all()
        assert (
            (polynomial_mutation(x, 1.0, rng) >= 0) & (polynomial_mutation(x, 1.0, rng) <= 1)
        ).all()
    x = np.full(2000, 0.5)
    assert (
        abs(polynomial_mutation(x, 100.0, rng) - 0.5).mean()
        < abs(polynomial_mutation(x, 2.0, rng) - 0.5).mean()
    )
    same = np.full(3, 0.25)
    assert (sbx_child(same, same, 15.0, rng) == same).all()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"population": 1}, "`population >= 2` must hold for a whole number, but got population=1"),
        ({"population": True}, "population=True"),
        (
            {"population": 3, "strategy": "de"},
            "`population >= 4` must hold for a whole number with strategy='de'",
        ),
        ({"strategy": "cmaes"}, "`strategy` must be one of 'ga', 'de'"),
        ({"crossover": "blx"}, "`crossover` must be one of 'sbx', 'uniform'"),
        ({"mutation": "cauchy"}, "`mutation` must be one of 'polynomial', 'gaussian'"),
        ({"crossover_rate": 1.5}, "`0.0 <= crossover_rate <= 1.0` must hold"),
        ({"mutation_rate": 0.0}, "`0.0 < mutation_rate <= 1.0` must hold"),
        ({"eta_crossover": -1}, "`0.0 <= eta_crossover` must hold"),
        ({"eta_mutation": float("nan")}, "eta_mutation=nan"),
        ({"sigma": 0}, "`0.0 < sigma` must hold"),
        ({"tournament": 0}, "`tournament >= 1` must hold"),
        ({"tournament": 9, "population": 8}, "`tournament <= population` must hold"),
        ({"window": 5, "population": 8}, "`window >= 8` must hold"),
        ({"differential_weight": "0.5"}, "differential_weight='0.5'"),
    ],
)
def test_options_are_validated(options: dict[str, Any], message: str) -> None:
    with pytest.raises(MethodError) as info:
        Evolution(**options)
    assert message in str(info.value)


def test_options_are_stored_as_plain_json() -> None:
    method = Evolution(population=5, eta_crossover=10, mutation_rate=1)
    assert method.eta_crossover == 10.0 and isinstance(method.mutation_rate, float)
    assert from_json(method.to_json()) == method
    assert resolve("evolution") == Evolution()


def test_end_to_end_lineage_in_the_database_and_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "evo.db"
    space = {"x": hp.Float(-5.0, 10.0), "y": hp.Float(0.0, 15.0), "kind": ["a", "b"]}

    @hp.tune(space, method=Evolution(population=6), study="evo", db=db, seed=0)
    def objective(x: float, y: float, kind: str) -> float:
        return (x - 1.0) ** 2 + (y - 2.0) ** 2 + (kind == "b")

    study = objective.optimize(n_trials=30)
    assert len(study.trials) == 30
    with closing(sqlite3.connect(db)) as connection:
        kinds = dict(
            connection.execute("SELECT kind, COUNT(*) FROM lineage GROUP BY kind").fetchall()
        )
    assert kinds.get("crossover", 0) >= 2 and kinds.get("mutation", 0) >= 1
    children = [t for t in hp.load_study("evo", db=db).trials if t.parents]
    assert sum(len(t.parents) for t in children) == sum(kinds.values())
    result = CliRunner().invoke(cli, ["--db", str(db), "lineage", "evo"])
    assert result.exit_code == 0, result.output
    assert "crossover [sbx] →" in result.output and "mutation [polynomial] →" in result.output


def test_a_target_too_short_to_breed_a_child_is_said_before_the_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``Evolution(population=50)`` with ``n_trials=10`` ran ten random points and said
    nothing: no child is bred before 50 trials have a value. Trials with a value so far
    count, so extending the study past the population says nothing."""
    caplog.set_level("WARNING", logger="hpotrack")

    @hp.tune({"x": (0.0, 1.0)}, method=Evolution(population=6), study="e", db=tmp_path / "h.db",
             seed=0)  # fmt: skip
    def f(x: float) -> float:
        return x

    study = f.optimize(n_trials=6)
    assert {t.origin for t in study.trials} == {"sampled"}
    assert caplog.messages == [
        "study 'e': evolution breeds children only once 6 trials have a value "
        "(population=6), and the target is 6: every trial would be a random point. Run "
        "more than 6 trials (several times as many, for generations to improve), or pass "
        "a smaller population to hp.methods.Evolution"
    ]
    caplog.clear()
    study = f.optimize(n_trials=7)
    assert caplog.messages == [] and study.trials[6].origin in ("crossover", "mutated")


def proposals_digest(history: History) -> str:
    """A digest of every trial's values (to 12 significant digits), origin and parents."""
    lines = (
        f"{history.space.key(t.params)} {t.origin} {[(e.parent, e.kind) for e in t.parents]}"
        for t in history.trials
    )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


@pytest.mark.parametrize(
    ("method", "space", "direction", "digest"),
    [
        (Evolution(population=6), MIXED_SPACE, "minimize", "01f2672329835e1d"),
        (
            Evolution(population=6, crossover="uniform", mutation="gaussian", tournament=3),
            MIXED_SPACE,
            "maximize",
            "539af02453dbd7a9",
        ),
        (Evolution(population=6, strategy="de"), MIXED_SPACE, "minimize", "8ae153bcf6de1f04"),
        (Evolution(population=5), CONDITIONAL_SPACE, "minimize", "11271b70e0a16ab5"),
    ],
)
def test_one_objective_proposes_what_it_did_before_several_objectives(
    method: Evolution, space: Space, direction: str, digest: str
) -> None:
    """The digests were recorded before evolution searched several objectives: with one,
    the same seed still gives the same 60 proposals (so benchmarks' numbers stand)."""

    def objective(params: Mapping[str, Value]) -> float:
        return float(((space.encode(params) - 0.5) ** 2).sum())

    history = simulate(method, space, 60, seed=3, objective=objective, direction=direction)
    assert proposals_digest(history) == digest


FRONT_SPACE = Space.from_user({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})

FRONT_LOSSES = [(0.0, 10.0), (1.0, 5.0), (2.0, 4.9), (10.0, 0.0), (0.5, 10.5), (11.0, 1.0)]
"""Trials 0 to 5: the front of the first four (0 and 3 its extremes; 2 less crowded than
1), and 4 and 5 each dominated by one of them."""


def front_history(seed: int, objectives: Objectives, signs: tuple[float, float]) -> History:
    """Trials with :data:`FRONT_LOSSES` as their metrics (times ``signs``), then one
    that is best on the first objective but lacks the second, and a failed one."""
    history = History(FRONT_SPACE, objectives.directions[0], seed, None, objectives)
    first, second = objectives.metrics
    for number, (a, b) in enumerate(FRONT_LOSSES):
        params: dict[str, Value] = {"x": number / 10, "y": 1 - number / 10}
        metrics = {first: signs[0] * a, second: signs[1] * b}
        done = record(number, hp.methods.Proposal(params), TrialState.COMPLETE, metrics[first])
        history.update(done.replace(metrics=metrics))
    lacking = record(6, hp.methods.Proposal({"x": 0.9, "y": 0.9}), TrialState.COMPLETE, -100.0)
    history.update(lacking.replace(metrics={first: signs[0] * -100.0}))
    failed = record(7, hp.methods.Proposal({"x": 0.8, "y": 0.8}), TrialState.FAILED, None)
    history.update(failed)
    return history


def parents_over_seeds(
    objectives: Objectives, signs: tuple[float, float], tournament: int = 1
) -> set[int]:
    """The trials that are parents of the child asked for, over 40 seeds, with a
    population of 3 (``tournament=1``: parents drawn from it at random)."""
    method, parents = Evolution(population=3, tournament=tournament), set()
    for seed in range(40):
        parents |= {e.parent for e in method.ask(front_history(seed, objectives, signs)).parents}
    return parents


def test_several_objectives_breed_from_the_best_ranks_then_the_least_crowded() -> None:
    """The population of 3 is the front's two extremes and its less crowded inner point
    (2): never the more crowded one (1), nor a dominated trial (4, 5) however spread
    out, nor a trial without every objective (6, the best on the first) or a failed one.
    Tournaments of two compare by crowding too: the extremes (infinitely far from their
    neighbours) win every one they enter, so with two parents to pick, 2 never is."""
    objectives = Objectives(("error", "latency"), ("minimize", "minimize"))
    assert parents_over_seeds(objectives, (1.0, 1.0)) == {0, 2, 3}
    assert parents_over_seeds(objectives, (1.0, 1.0), tournament=2) == {0, 3}


def test_a_maximized_objective_counts_the_other_way() -> None:
    """``score`` is the negated latency, maximized: the same trials breed. Minimized,
    the same numbers make (0, -10) and (0.5, -10.5) the front and (1, -5) the next rank."""
    maximized = Objectives(("error", "score"), ("minimize", "maximize"))
    assert parents_over_seeds(maximized, (1.0, -1.0)) == {0, 2, 3}
    minimized = Objectives(("error", "score"), ("minimize", "minimize"))
    assert parents_over_seeds(minimized, (1.0, -1.0)) == {0, 1, 4}


def test_several_objectives_refuse_evolution_s_pruner() -> None:
    objectives = Objectives(("error", "latency"), ("minimize", "minimize"))
    Evolution().check_objectives(objectives)
    with pytest.raises(MethodError, match="leave out pruner= of method 'evolution'"):
        Evolution(pruner="median").check_objectives(objectives)


def test_a_study_of_two_objectives_breeds_towards_their_front(tmp_path: Path) -> None:
    """Through ``@hp.tune`` and the database: children are bred, and the front of 40
    trials on ZDT1 in two variables (front: y = 0) holds mostly children."""

    @hp.tune({"x": hp.Float(0.0, 1.0), "y": hp.Float(0.0, 1.0)}, method=Evolution(population=6),
             study="zdt", db=tmp_path / "mo.db", seed=0, objective=("f1", "f2"),
             direction=("minimize", "minimize"))  # fmt: skip
    def zdt1(x: float, y: float) -> dict[str, float]:
        g = 1.0 + 9.0 * y
        return {"f1": x, "f2": g * (1.0 - (x / g) ** 0.5)}

    study = zdt1.optimize(n_trials=40, progress=False)
    assert {t.origin for t in study.trials[6:]} <= {"crossover", "mutated"}
    front = study.best_trials
    bred = [t for t in front if t.parents]
    assert len(front) >= 4 and len(bred) > len(front) / 2

"""``auto``: one test per rule, the note it stores, and that it is the default."""

from __future__ import annotations

from pathlib import Path

import pytest

import hpotrack as hp
from hpotrack.constraints import Constraint
from hpotrack.errors import MethodError, StudyMismatchError
from hpotrack.methods.auto import Auto
from hpotrack.methods.history import History
from hpotrack.objectives import Objectives
from hpotrack.records import TrialRecord, TrialState
from hpotrack.space import Space
from hpotrack.testing.method_suite import MethodSuite
from tests.test_multifidelity import tuned


class TestAuto(MethodSuite):
    finds_fronts = True  # by tpe (MOTPE) on a cheap numeric space
    finds_feasible = True  # Gardner et al. 2014's toy, 40 trials

    def make_method(self) -> hp.methods.Method:
        return Auto()


def chosen(space: dict[str, object], budget: hp.Budget | None = None,
           trials: list[TrialRecord] = (),  # type: ignore[assignment]
           objectives: Objectives | None = None) -> tuple[str, str]:  # fmt: skip
    history = History(Space.from_user(space), "minimize", 0, budget, objectives)
    for trial in trials:
        history.update(trial)
    method, reason = Auto().choose(history)
    return method.name, reason


def timed(number: int, seconds: float, **metrics: object) -> TrialRecord:
    return TrialRecord(number, TrialState.COMPLETE, {"x": 0.5}, value=1.0, metrics=dict(metrics),
                       started=100.0, finished=100.0 + seconds)  # fmt: skip


def test_hypergradients_choose_gradient() -> None:
    name, reason = chosen({"x": (0.0, 1.0)}, trials=[timed(0, 0.1, hypergrad={"x": 1.0})])
    assert name == "gradient" and "hypergradients" in reason


def test_hypergradients_with_a_choice_fall_back_to_tpe() -> None:
    trial = TrialRecord(0, TrialState.COMPLETE, {"x": 0.5, "c": "a"}, value=1.0,
                        metrics={"hypergrad": {"x": 1.0}})  # fmt: skip
    assert chosen({"x": (0.0, 1.0), "c": ["a", "b"]}, trials=[trial])[0] == "tpe"


@pytest.mark.parametrize("budget", [None, hp.Budget(1, 27)])
def test_one_configuration_runs_once_by_grid(budget: hp.Budget | None) -> None:
    """Hypergradients or a budget change nothing: gradient has nothing to descend (it
    refuses such a space), and bohb would rerun the one point at every rung."""
    trial = TrialRecord(0, TrialState.COMPLETE, {"c": "a"}, value=1.0,
                        metrics={"hypergrad": {}})  # fmt: skip
    for trials in ([], [trial]):
        name, reason = chosen({"c": ["a"]}, budget, trials=trials)
        assert name == "grid" and "single configuration" in reason


def test_a_budget_chooses_bohb() -> None:
    name, reason = chosen({"x": (0.0, 1.0)}, hp.Budget(1, 27, name="epochs"))
    assert name == "bohb" and "epochs 1..27" in reason


@pytest.mark.parametrize(("second_bracket", "rule"), [(3, "synchronous"), (2, "asynchronous")])
def test_bohb_goes_on_with_the_bracket_rule_the_study_began_with(
    second_bracket: int, rule: str
) -> None:
    """A study stored before synchronous runs were the default sent its second
    configuration to bracket 2 (interleaved); it resumes asynchronously."""
    history = History(Space.from_user({"x": (0.0, 1.0)}), "minimize", 0, hp.Budget(1, 27))
    for number, bracket in enumerate([3, second_bracket]):
        history.update(TrialRecord(number, TrialState.COMPLETE, {"x": 0.5}, value=1.0,
                                   claim=f"config:{number}", bracket=bracket))  # fmt: skip
    method, _ = Auto().choose(history)
    assert method.brackets == rule  # type: ignore[attr-defined]


def test_a_fractional_budget_chooses_tpe_with_median_pruning() -> None:
    history = History(Space.from_user({"x": (0.0, 1.0)}), "minimize", 0, hp.Budget(0.1, 1.0))
    method, _ = Auto().choose(history)
    assert method.name == "tpe" and method.pruner is not None  # type: ignore[attr-defined]


def test_a_budget_too_short_to_halve_chooses_tpe_with_median_pruning() -> None:
    """Budget(1, 2) has no rung below the max at eta = 3, so bohb would never stop a
    trial (and refuses the budget): the median rule still can."""
    history = History(Space.from_user({"x": (0.0, 1.0)}), "minimize", 0, hp.Budget(1, 2))
    method, reason = Auto().choose(history)
    assert method.name == "tpe" and method.pruner is not None  # type: ignore[attr-defined]
    assert "too short to halve" in reason


def test_a_small_discrete_space_chooses_grid() -> None:
    name, reason = chosen({"a": [1, 2, 3], "b": hp.Int(1, 4), "c": hp.Float(0, 1, step=0.5)})
    assert name == "grid" and "36 cells" in reason
    assert chosen({"a": hp.Int(1, 100), "b": hp.Int(1, 100)})[0] == "tpe"  # 10,000 cells


def test_a_wide_integer_is_counted_not_listed() -> None:
    """2**40 values: listing them to count the grid ran out of memory before trial 0."""
    name, _ = chosen({"n": hp.Int(0, 2**40 - 1), "x": hp.Float(0.0, 1.0, step=1e-9)})
    assert name == "tpe"
    assert Space.from_user({"n": hp.Int(0, 2**40 - 1)}).grid_size() == 2**40


def test_expensive_small_numeric_spaces_choose_bayes() -> None:
    space = {"x": (0.0, 1.0), "n": hp.Int(1, 8)}
    assert chosen(space, trials=[timed(0, 0.01)])[0] == "tpe"  # cheap
    name, reason = chosen(space, trials=[timed(0, 2.0), timed(1, 3.0)])
    assert name == "bayes" and "expensive trials (1 s or more on average)" in reason


def test_the_note_says_the_duration_rule_reads_the_mean_not_each_trial() -> None:
    """A 0.1 s trial and a 3 s one choose bayes (their mean is 1.55 s): the note said
    "expensive trials (at least 1 s each)", false of the first; and one quick trial
    among slow ones was called "under 1 s each" as well."""
    space = {"x": (0.0, 1.0)}
    name, reason = chosen(space, trials=[timed(0, 0.1), timed(1, 3.0)])
    assert (name, reason) == (
        "bayes",
        "1 numeric parameter and expensive trials (1 s or more on average)",
    )
    name, reason = chosen(space, trials=[timed(0, 0.1), timed(1, 0.1), timed(2, 1.5)])
    assert (name, reason) == ("tpe", "1 numeric parameter and cheap trials (under 1 s on average)")


def test_before_a_trial_is_timed_the_note_does_not_call_trials_cheap() -> None:
    """Trial 0 of a study of 1 s trials read "cheap trials (under 1 s each)"."""
    reason = "1 numeric parameter, no complete trial timed yet (bayes once they take 1 s or more)"
    assert chosen({"x": (0.0, 1.0)}) == ("tpe", reason)
    failed = TrialRecord(0, TrialState.FAILED, {"x": 0.5}, started=100.0, finished=105.0)
    assert chosen({"x": (0.0, 1.0)}, trials=[failed]) == ("tpe", reason)


def test_too_many_numeric_parameters_for_bayes_are_not_called_cheap() -> None:
    """25 parameters of 5 s trials read "cheap trials (under 1 s each)"."""
    name, reason = chosen({f"x{i}": (0.0, 1.0) for i in range(25)}, trials=[timed(0, 5.0)])
    assert (name, reason) == ("tpe", "25 numeric parameters, more than bayes takes (20)")


def test_mixed_spaces_choose_tpe() -> None:
    name, reason = chosen({"x": (0.0, 1.0), "c": ["a", "b", "c"]}, trials=[timed(0, 5.0)])
    assert name == "tpe" and "mixed" in reason


def test_very_large_spaces_and_long_studies_choose_evolution() -> None:
    assert chosen({f"x{i}": (0.0, 1.0) for i in range(301)}) == (
        "evolution",
        "a very large space of 301 parameters",
    )
    many = [timed(n, 0.001) for n in range(1001)]
    assert chosen({"x": (0.0, 1.0)}, trials=many)[0] == "evolution"


@pytest.mark.parametrize("n", [50, 150, 300])
def test_up_to_three_hundred_parameters_choose_tpe(n: int) -> None:
    """Evolution took over from 41 parameters, then from 101, where TPE finds better
    points up to 1,000 trials on every seed measured (benchmarks/README.md, auto's rule
    5: Ackley at 50-300 parameters, Rosenbrock at 50 and 150)."""
    name, reason = chosen({f"x{i}": (0.0, 1.0) for i in range(n)}, trials=[timed(0, 0.01)])
    assert (name, reason) == ("tpe", f"{n} numeric parameters, more than bayes takes (20)")


def test_auto_is_the_default_and_notes_its_choice(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    @hp.tune({"a": [1, 2], "b": ["x", "y"]}, db=db, seed=0)
    def f(a: int, b: str) -> float:
        return a

    with caplog.at_level("INFO", logger="hpotrack"):
        study = f.optimize(n_trials=4)
    assert study.method.name == "auto"
    assert {t.note for t in study.trials} == {"auto chose grid: a small discrete space of 4 cells"}
    assert sorted(str(t.params) for t in study.trials) == sorted(
        str({"a": a, "b": b}) for a in (1, 2) for b in ("x", "y")
    )
    assert "auto chose grid" in caplog.text


def test_auto_stores_each_trials_choice_as_its_method(db: Path) -> None:
    """auto's choice was only in the free text of each trial's note: every trial now
    names the method auto handed its ask to, and ``chosen_by`` says auto chose it, also
    when the choice changes within the study (evolution past ``evolution_after``)."""

    @hp.tune({"x": (0.0, 1.0), "y": (0.0, 1.0)}, method=Auto(evolution_after=3), db=db,
             study="s", seed=0)  # fmt: skip
    def f(x: float, y: float) -> float:
        return x + y

    trials = f.optimize(n_trials=6).trials
    assert [(t.method, t.chosen_by) for t in trials] == [("tpe", "auto")] * 4 + [
        ("evolution", "auto")
    ] * 2
    assert all(t.note and t.note.startswith(f"auto chose {t.method}: ") for t in trials)


def test_a_discrete_space_too_large_for_grid_says_so_in_the_note() -> None:
    many = [f"option-{i}" for i in range(100)]  # more cells than a grid takes: no mixed space
    assert chosen({"c": many}) == ("tpe", "a discrete space of 100 cells, more than grid_max (64)")
    assert chosen({"c": many, "x": (0.0, 1.0)}) == ("tpe", "a mixed space of 2 parameters")


def test_auto_goes_on_with_bohbs_rungs_and_refuses_another_etas(tmp_path: Path) -> None:
    """With a budget, auto runs bohb with eta=3: a study of Hyperband's rungs at eta=3
    goes on under it, one at eta=2 is refused, naming the eta that continues it."""
    tuned(tmp_path / "a.db", "hyperband", []).optimize(n_trials=34)
    assert len(tuned(tmp_path / "a.db", "auto", []).optimize(n_trials=40).trials) == 40
    tuned(tmp_path / "b.db", hp.methods.Hyperband(eta=2), []).optimize(n_trials=34)
    with pytest.raises(StudyMismatchError, match=r"Keep eta=2 \(method=hp.methods.BOHB\(eta=2\)\)"):
        tuned(tmp_path / "b.db", "auto", []).optimize(n_trials=40)


def test_a_grid_max_past_what_grid_search_orders_is_refused() -> None:
    """``Auto(grid_max=10**9)`` chose grid for a space of 10^8 cells, which
    ``hp.methods.Grid`` refuses (auto never asked it), and its first ask ordered them
    all: 800 MB of memory, 8 GB for 10^9 cells."""
    with pytest.raises(MethodError, match=r"^`grid_max <= 10,000,000` must hold .* but got "
                       r"grid_max=1,000,000,000$"):  # fmt: skip
        Auto(grid_max=10**9)
    assert Auto(grid_max=10**7).grid_max == 10**7


def test_auto_says_before_a_run_when_its_evolution_would_breed_no_child(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What auto chose says whether a target is too short for it (evolution, past
    ``evolution_after`` trials, with a population larger than the trials still to run)."""
    method = Auto(evolution_after=0)

    @hp.tune({"x": (0.0, 1.0)}, method=method, db=db, study="a", seed=0)
    def f(x: float) -> float:
        return x

    f.optimize(n_trials=2)
    with caplog.at_level("WARNING", logger="hpotrack"):
        study = f.optimize(n_trials=5)
    assert (
        "study 'a': auto chose evolution (more than 0 trials), and evolution breeds "
        "children only once 10 trials have a value"
    ) in caplog.text
    assert {t.note for t in study.trials[2:]} == {"auto chose evolution: more than 0 trials"}


@pytest.mark.parametrize("expensive_s", [1.0, 0.0], ids=["tpe", "bayes"])
def test_auto_on_a_short_study_says_nothing_of_a_random_start_it_chose(
    db: Path, caplog: pytest.LogCaptureFixture, expensive_s: float
) -> None:
    """tpe and bayes warn a user who chose them that a target within their start-up runs
    random points only; auto, which picks them for nearly every new study, would have
    warned of a method the user never named on any quick run (n_trials=3)."""
    caplog.set_level("WARNING", logger="hpotrack")

    @hp.tune({"x": (0.0, 1.0)}, method=Auto(expensive_s=expensive_s), db=db, study="a")
    def f(x: float) -> float:
        return x

    f.optimize(n_trials=1)
    study = f.optimize(n_trials=3)
    assert study.trials[-1].note is not None
    assert study.trials[-1].note.startswith(f"auto chose {('tpe', 'bayes')[expensive_s == 0]}")
    assert caplog.messages == []


TWO = Objectives(("error", "size"), ("minimize", "minimize"))


def test_several_objectives_choose_only_methods_that_keep_a_front() -> None:
    """No gradient nor halving method keeps a Pareto front: hypergradients and a budget
    are passed over, the space's rules choose among grid, evolution, bayes and tpe, and
    the note says why."""
    name, reason = chosen(
        {"x": (0.0, 1.0)}, trials=[timed(0, 0.1, hypergrad={"x": 1.0})], objectives=TWO
    )
    assert name == "tpe" and reason.startswith("2 objectives (their Pareto front), ")
    name, reason = chosen({"x": (0.0, 1.0)}, hp.Budget(1, 27, name="epochs"), objectives=TWO)
    assert name == "tpe"
    assert reason.endswith("every trial trained to the budget's max (no halving keeps a front)")
    assert chosen({"a": ["p", "q"], "b": hp.Int(1, 4)}, objectives=TWO)[0] == "grid"
    space = {"x": (0.0, 1.0), "n": hp.Int(1, 8)}
    assert chosen(space, trials=[timed(0, 2.0), timed(1, 3.0)], objectives=TWO)[0] == "bayes"
    assert chosen({f"x{i}": (0.0, 1.0) for i in range(301)}, objectives=TWO)[0] == "evolution"
    for space in ({"x": (0.0, 1.0)}, {f"x{i}": (0.0, 1.0) for i in range(301)}):
        history = History(Space.from_user(space), "minimize", 0, hp.Budget(1, 9), TWO)
        assert Auto().choose(history)[0].multi_objective


CAPPED = Objectives(("error",), ("minimize",), (Constraint("size", at_most=8.0),))


def test_constraints_choose_only_methods_that_honour_them() -> None:
    """No gradient nor halving method honours constraints: hypergradients and a budget
    are passed over, the space's rules choose among grid, evolution, bayes and tpe, and
    the note says why."""
    name, reason = chosen(
        {"x": (0.0, 1.0)}, trials=[timed(0, 0.1, hypergrad={"x": 1.0})], objectives=CAPPED
    )
    assert name == "tpe" and reason.startswith("constraints (size <= 8), ")
    name, reason = chosen({"x": (0.0, 1.0)}, hp.Budget(1, 27, name="epochs"), objectives=CAPPED)
    assert name == "tpe"
    assert reason.endswith(
        "every trial trained to the budget's max (constraints are judged at the end)"
    )
    space = {"x": (0.0, 1.0), "n": hp.Int(1, 8)}
    assert chosen(space, trials=[timed(0, 2.0), timed(1, 3.0)], objectives=CAPPED)[0] == "bayes"
    for space in ({"x": (0.0, 1.0)}, {f"x{i}": (0.0, 1.0) for i in range(301)}):
        history = History(Space.from_user(space), "minimize", 0, hp.Budget(1, 9), CAPPED)
        assert Auto().choose(history)[0].constrained


def test_auto_runs_a_study_of_two_objectives_end_to_end(db: Path) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0), "y": hp.Float(0.0, 1.0)}, study="two", db=db, seed=0,
             objective=("f1", "f2"), direction=("minimize", "maximize"))  # fmt: skip
    def train(x: float, y: float) -> dict[str, float]:
        return {"f1": x + y, "f2": x - y}

    study = train.optimize(n_trials=15, progress=False)
    assert all(t.state is TrialState.COMPLETE for t in study.trials)
    assert {t.method for t in study.trials} == {"tpe"} and study.best_trials
    assert "2 objectives (their Pareto front)" in (study.trials[-1].note or "")

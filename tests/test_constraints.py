"""Constraints on a study's metrics: declared on @hp.tune, validated, stored, honoured by
the methods' rankings, and the answer (best, front) made of feasible trials only."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hpotrack as hp
from hpotrack import limits
from hpotrack.constraints import Constraint, violation
from hpotrack.errors import DefinitionError, MethodError, NoCompleteTrial, StudyMismatchError
from hpotrack.methods.history import History
from hpotrack.objectives import Objectives
from hpotrack.records import TrialRecord, TrialState
from hpotrack.space import Space
from hpotrack.store import open_store
from hpotrack.transfer import TransferError, export_study, import_study

SPACE = {"x": hp.Float(-2.0, 2.0), "y": hp.Float(-2.0, 2.0)}
ON_A_LINE = hp.Constraint("c", at_most=0.0)  # x + y <= 1


def disc(x: float, y: float) -> dict[str, float]:
    """The closest point to (1, 1) with x + y <= 1 is (0.5, 0.5), at loss 0.5."""
    return {"loss": (x - 1) ** 2 + (y - 1) ** 2, "c": x + y - 1}


def tuned(db: Path, method: Any = "tpe", **options: Any) -> hp.TunedFunction[Any]:
    options = {"objective": "loss", "constraints": [ON_A_LINE], "seed": 3, **options}
    return hp.tune(SPACE, method=method, db=db, study="c", **options)(disc)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Constraint("c"), r"a constraint needs a bound, but got none for metric 'c'"),
        (lambda: Constraint("", at_most=1), r"must name a metric \(a non-empty str\)"),
        (lambda: Constraint("c", at_most=math.nan), r"at_most of a constraint must be a "
         r"finite number, but got at_most=nan"),
        (lambda: Constraint("c", at_least=True), r"at_least of a constraint must be a finite"),
        (lambda: Constraint("c", at_most=10**400), r"at_most of a constraint must be a "
         r"finite number, but got at_most=1000"),
        (lambda: Constraint("c", at_most=1, at_least=2), r"`at_least <= at_most` must hold, "
         r"but got at_least=2, at_most=1 for metric 'c'"),
        (lambda: Objectives.from_user("loss", "minimize", {"c": 1}), r"constraints must be "
         r"hp.Constraint values"),
        (lambda: Objectives.from_user("loss", "minimize", ["c <= 1"]), r"each constraint "
         r"must be an hp.Constraint"),
        (lambda: Objectives.from_user("loss", "minimize", [Constraint("c", at_most=1),
         Constraint("c", at_least=0)]), r"each constraint must be on a different metric, "
         r"but 'c' has several: give both bounds in one"),
    ],
)  # fmt: skip
def test_a_bad_declaration_is_one_clear_error(make: Any, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        make()


def test_one_constraint_or_several_are_taken_and_described() -> None:
    one = Objectives.from_user("loss", "minimize", Constraint("ms", at_most=10))
    assert one.constraints == (Constraint("ms", at_most=10.0),) and one.constrained
    both = Constraint("size", at_least=1, at_most=8)
    several = Objectives.from_user("loss", "minimize", [Constraint("ms", at_most=10), both])
    assert several.describe_constraints() == "ms <= 10, 1 <= size <= 8"
    assert Constraint("ms", at_most=-0.0).describe() == "ms <= 0"
    assert not Objectives.from_user("loss", "minimize").constrained


@given(st.floats(-10, 10), st.floats(-10, 10) | st.none(), st.floats(-10, 10) | st.none())
def test_the_violation_is_how_far_past_each_bound(
    value: float, at_most: float | None, at_least: float | None
) -> None:
    if at_most is None and at_least is None:
        return
    if at_most is not None and at_least is not None and at_least > at_most:
        at_least, at_most = at_most, at_least
    rule = Constraint("m", at_most=at_most, at_least=at_least)
    expected = max(0.0, value - at_most) if at_most is not None else 0.0
    expected += max(0.0, at_least - value) if at_least is not None else 0.0
    assert rule.violation(value) == expected
    met = (at_most is None or value <= at_most) and (at_least is None or value >= at_least)
    assert (rule.violation(value) == 0.0) == met


def test_violations_add_up_and_a_missing_metric_misses_by_infinity() -> None:
    rules = (Constraint("a", at_most=1.0), Constraint("b", at_least=2.0))
    assert violation(rules, {"a": 3.0, "b": 0.5}) == 2.0 + 1.5
    assert violation(rules, {"a": 0.0, "b": 2.0}) == 0.0
    assert violation(rules, {"a": 0.0}) == math.inf
    assert violation(rules, {"a": 0.0, "b": math.nan}) == math.inf
    assert violation(rules, {"a": 0.0, "b": 10**400}) == math.inf  # no float holds it


def test_a_study_finds_the_best_feasible_trial_and_stores_its_constraints(
    tmp_path: Path,
) -> None:
    db = tmp_path / "h.db"
    study = tuned(db).optimize(n_trials=40, progress=False)
    complete = [t for t in study.trials if t.state is TrialState.COMPLETE]
    feasible = [t for t in complete if t.metrics["c"] <= 0.0]
    assert study.best == min(feasible, key=lambda t: t.value)
    assert study.is_feasible(study.best) and study.violation(study.best) == 0.0
    assert min(t.value for t in complete) < study.best.value  # the unconstrained optimum
    assert abs(study.best.params["x"] - 0.5) < 0.25 and abs(study.best.params["y"] - 0.5) < 0.25
    for trial in complete:
        assert study.violation(trial) == max(0.0, trial.metrics["c"])
    stored = sqlite3.connect(db).execute("SELECT constraints FROM studies").fetchall()
    assert [json.loads(row[0]) for row in stored] == [[{"metric": "c", "at_most": 0.0}]]
    reloaded = hp.load_study("c", db=db)
    assert reloaded.constraints == (ON_A_LINE,) and reloaded.best == study.best


def test_feasible_trials_rank_first_then_by_how_far_others_miss() -> None:
    """History.ranked and rank_key: feasible complete trials by loss, then infeasible
    ones by violation (not loss), then pruned ones; only a feasible trial is best."""
    objectives = Objectives(("loss",), ("minimize",), (Constraint("c", at_most=0.0),))
    history = History(Space.from_user(SPACE), "minimize", 0, None, objectives)
    rows = [  # number, state, loss, c
        (0, TrialState.COMPLETE, 0.1, 3.0),
        (1, TrialState.COMPLETE, 0.9, -1.0),
        (2, TrialState.COMPLETE, 0.5, 0.0),
        (3, TrialState.COMPLETE, 0.0, 1.0),
        (4, TrialState.PRUNED, 0.05, 9.0),  # not judged: its metrics are not final
    ]
    for number, state, loss, c in rows:
        metrics = {"loss": loss, "c": c}
        history.update(TrialRecord(number, state, {"x": 0, "y": 0}, loss, metrics))
    assert list(history.ranked()) == [(0.5, 2), (0.9, 1), (0.0, 3), (0.1, 0), (0.05, 4)]
    assert list(history.ranked()[1:4]) == [(0.9, 1), (0.0, 3), (0.1, 0)]
    assert history.ranked()[-2] == (0.1, 0) and len(history.ranked()) == 5
    assert history.best is not None and history.best.number == 2
    keys = sorted(history.trials, key=lambda t: history.rank_key(t))
    assert [t.number for t in keys] == [2, 1, 3, 0, 4]
    assert [history.is_feasible(t) for t in history.trials] == [False, True, True, False, False]


def test_a_trial_must_return_each_constraint_metric(tmp_path: Path) -> None:
    def forgets(x: float, y: float) -> dict[str, float]:
        return {"loss": x**2}

    def plain(x: float, y: float) -> float:
        return x**2

    for function, message in [
        (forgets, "the function returned a dict without the constraint metric 'c': the "
         "study's constraints are judged on it, so return it"),
        (plain, "but the study has constraints: return a dict with a number for each of "
         "'loss', 'c'"),
    ]:  # fmt: skip
        train = hp.tune(SPACE, "random", db=tmp_path / "h.db", study=function.__name__,
                        objective="loss", constraints=ON_A_LINE,
                        max_failures=2)(function)  # fmt: skip
        with pytest.raises(hp.TooManyFailures):
            train.optimize(n_trials=5, progress=False)
        assert all(message in (t.error or "") for t in train.study.trials)


def test_methods_that_cannot_honour_constraints_are_refused_naming_those_that_can(
    tmp_path: Path,
) -> None:
    budget = hp.Budget(1, 9)
    for method in ("hyperband", "sha", "bohb", "gradient", hp.methods.PBT()):
        with pytest.raises(MethodError, match="does not honour constraints") as raised:
            hp.tune(SPACE, method, db=tmp_path / "h.db", objective="loss",
                    constraints=ON_A_LINE, budget=budget)  # fmt: skip
        assert "auto" in str(raised.value) and "tpe" in str(raised.value)
        assert "c <= 0" in str(raised.value)


def test_other_constraints_are_another_study(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    tuned(db, "random").optimize(n_trials=3, progress=False)
    looser = tuned(db, "random", constraints=[hp.Constraint("c", at_most=1.0)])
    with pytest.raises(StudyMismatchError, match="constraints were c <= 0, now c <= 1"):
        looser.optimize(n_trials=4, progress=False)
    with pytest.raises(StudyMismatchError, match="constraints were c <= 0, now none"):
        tuned(db, "random", constraints=()).optimize(n_trials=4, progress=False)
    assert len(hp.load_study("c", db=db).trials) == 3


def test_the_same_constraints_in_another_order_are_the_same_study(tmp_path: Path) -> None:
    """Feasibility and violation do not depend on the order the constraints are listed
    in (a list built from a set differs from one process to the next)."""
    db = tmp_path / "h.db"
    both = [ON_A_LINE, hp.Constraint("loss", at_most=8.0)]
    tuned(db, "random", constraints=both).optimize(n_trials=3, progress=False)
    study = tuned(db, "random", constraints=both[::-1]).optimize(n_trials=5, progress=False)
    assert len(study.trials) == 5 and study.constraints == tuple(both)


def test_with_no_feasible_trial_there_is_no_best_and_the_error_says_why(
    tmp_path: Path,
) -> None:
    impossible = [hp.Constraint("c", at_least=100.0)]
    study = tuned(tmp_path / "h.db", "random", constraints=impossible).optimize(
        n_trials=4, progress=False
    )
    with pytest.raises(NoCompleteTrial, match=r"no trial that meets its constraints yet "
                       r"\(100 <= c\): none of its 4 complete trials does"):  # fmt: skip
        _ = study.best
    assert study.best_trials == []


def test_several_objectives_keep_a_front_of_feasible_trials(tmp_path: Path) -> None:
    def two(x: float, y: float) -> dict[str, float]:
        return {"a": x**2, "b": (x - 1) ** 2 + y**2, "c": y}

    train = hp.tune(SPACE, "evolution", db=tmp_path / "h.db", objective=("a", "b"),
                    direction=("minimize", "minimize"),
                    constraints=hp.Constraint("c", at_least=0.5), seed=1)(two)  # fmt: skip
    study = train.optimize(n_trials=40, progress=False)
    front = study.best_trials
    feasible = [t for t in study.trials if t.state is TrialState.COMPLETE and t.metrics["c"] >= 0.5]
    assert front and all(t.metrics["c"] >= 0.5 for t in front)
    points = {t.number: study.values(t) for t in feasible}
    for trial in front:  # no feasible trial beats a member on both
        mine = points[trial.number]
        assert not any(p[0] <= mine[0] and p[1] <= mine[1] and p != mine for p in points.values())
    assert len(front) == len({n for n, p in points.items()
                              if not any(q[0] <= p[0] and q[1] <= p[1] and q != p
                                         for q in points.values())})  # fmt: skip


def test_patience_counts_from_the_best_feasible_trial(tmp_path: Path) -> None:
    history = History(
        Space.from_user(SPACE), "minimize", 0, None,
        Objectives(("loss",), ("minimize",), (ON_A_LINE,)),
    )  # fmt: skip
    for number, (loss, c) in enumerate([(0.5, 0.0), (0.1, 2.0), (0.2, 1.0), (0.7, -1.0)]):
        record = TrialRecord(number, TrialState.COMPLETE, {"x": 0, "y": 0}, loss,
                             {"loss": loss, "c": c})  # fmt: skip
        history.update(record)
    assert history.best is not None and history.best.number == 0
    assert history.complete_since_best() == 3  # the infeasible ones improve nothing
    stop = limits.reached(history, None, limits.Stops(patience=3), "c", 0)
    assert isinstance(stop, limits.PatienceSpent)


def test_an_export_carries_the_constraints_and_an_import_checks_them(tmp_path: Path) -> None:
    study = tuned(tmp_path / "h.db", "random").optimize(n_trials=6, progress=False)
    data = export_study(study)
    assert data["version"] == 9
    assert data["study"]["constraints"] == [{"metric": "c", "at_most": 0.0}]
    copy = import_study(open_store(tmp_path / "copy.db"), data)
    assert copy.constraints == (ON_A_LINE,) and copy.best == study.best
    complete = next(t for t in data["trials"] if t["state"] == "complete")
    del complete["metrics"]["c"]
    with pytest.raises(TransferError, match=f"trial {complete['number']}: it is complete but "
                       "has no finite value of the constraint metric 'c'"):  # fmt: skip
        import_study(open_store(tmp_path / "other.db"), data)
    complete["metrics"]["c"] = 10**400  # an export edited by hand: no float holds it
    with pytest.raises(TransferError, match=f"trial {complete['number']}: it is complete but "
                       "has no finite value of the constraint metric 'c'"):  # fmt: skip
        import_study(open_store(tmp_path / "other.db"), data)
    data["study"]["constraints"] = [{"metric": "c"}]
    with pytest.raises(TransferError, match="a constraint needs a bound"):
        import_study(open_store(tmp_path / "third.db"), data)
    data["study"]["constraints"] = [{"metric": "c", "at_most": 0.0, "at_mots": 1.0}]
    with pytest.raises(TransferError, match=r"a stored constraint must be .* but got "):
        import_study(open_store(tmp_path / "fourth.db"), data)


def test_a_maximized_objective_with_a_floor_on_another_metric(tmp_path: Path) -> None:
    def score(x: float, y: float) -> dict[str, float]:
        return {"score": -(x**2) - y**2, "recall": x}

    train = hp.tune(SPACE, "tpe", db=tmp_path / "h.db", objective="score",
                    direction="maximize", seed=2,
                    constraints=hp.Constraint("recall", at_least=1.0))(score)  # fmt: skip
    study = train.optimize(n_trials=40, progress=False)
    assert study.best.metrics["recall"] >= 1.0
    assert study.best.value == max(t.value for t in study.trials if t.metrics["recall"] >= 1.0)
    assert abs(study.best.params["x"] - 1.0) < 0.3


def test_records_and_the_dataframe_say_whether_each_trial_is_feasible(tmp_path: Path) -> None:
    def sometimes(x: float, y: float) -> dict[str, float]:
        if x > 1.5:
            raise ValueError("diverged")
        return disc(x, y)

    train = hp.tune(SPACE, "random", db=tmp_path / "h.db", study="c", objective="loss",
                    constraints=ON_A_LINE, seed=5)(sometimes)  # fmt: skip
    study = train.optimize(n_trials=12, progress=False)
    records = study.records()
    for record, trial in zip(records, study.trials, strict=True):
        if trial.state is TrialState.COMPLETE:
            assert record["violation"] == max(0.0, trial.metrics["c"])
            assert record["feasible"] == (trial.metrics["c"] <= 0.0)
        else:
            assert (record["feasible"], record["violation"]) == (None, None)
    assert {r["state"] for r in records} == {"complete", "failed"}
    frame = study.to_dataframe()
    assert list(frame["feasible"]) == [r["feasible"] for r in records]
    plain = hp.tune(SPACE, "random", db=tmp_path / "h.db", study="plain", objective="loss")(disc)
    assert "feasible" not in plain.optimize(n_trials=2, progress=False).records()[0]

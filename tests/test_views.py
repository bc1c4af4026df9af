"""Read-only views of a study (``hpotrack/views.py``): the hints for Optuna's names, and
the reads that need not read every trial (the best one, a few by number)."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

import hpotrack as hp
from hpotrack.lineage import segment_of
from hpotrack.records import Edge, TrialState
from hpotrack.store import Store, open_store
from hpotrack.views import StoredTrials, missing_attribute, stored_best


def test_optunas_user_attrs_says_where_hpotrack_keeps_what_they_held(db: Path) -> None:
    """Optuna's user_attrs hold what a trial noted besides its value: here every metric
    the function returns is stored with its trial, and the message says where."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float) -> dict[str, float]:
        return {"value": x, "accuracy": 1 - x}

    study = train.optimize(n_trials=2)
    with pytest.raises(AttributeError) as raised:
        study.user_attrs  # type: ignore[attr-defined]  # noqa: B018 - the access is the test
    assert str(raised.value) == (
        "'Study' object has no attribute 'user_attrs'; hpotrack keeps no attributes beside "
        "the trials: every metric the function returns is stored with its trial "
        "(study.trials[n].metrics)"
    )
    assert "accuracy" in study.trials[1].metrics  # what the message points at is there
    assert study.best_trials == [study.best]  # Optuna's best_trials: the front of one


def test_optunas_other_names_keep_their_spelling_hint() -> None:
    assert str(missing_attribute("best_trial")).endswith("; hpotrack spells it study.best")
    assert str(missing_attribute("study_name")).endswith("; hpotrack spells it study.name")
    assert str(missing_attribute("get_trials")).endswith("; hpotrack spells it study.trials")
    assert str(missing_attribute("metric_names")).endswith("spells it study.objectives")
    assert str(missing_attribute("colour")) == "'Study' object has no attribute 'colour'"


@pytest.mark.parametrize(
    ("name", "spelling"),
    [
        ("get_best_result", "study.best (.params, .value, .metrics)"),  # Ray Tune
        ("argmin", "study.best.params"),  # Hyperopt's Trials
    ],
)
def test_ray_tunes_and_hyperopts_result_names_say_hpotracks(name: str, spelling: str) -> None:
    assert str(missing_attribute(name)).endswith(f"; hpotrack spells it {spelling}")


OUTCOMES = [  # (state, value) a trial may end with; NaN is stored as NULL (no value)
    *[(TrialState.COMPLETE, v) for v in (1.0, 1.0, 0.5, 2.0, 0.0, -0.0, 3.0, 3.0)],
    (TrialState.COMPLETE, math.inf),
    (TrialState.COMPLETE, -math.inf),
    (TrialState.COMPLETE, math.nan),
    (TrialState.COMPLETE, None),
    (TrialState.PRUNED, -9.0),
    (TrialState.PRUNED, 9.0),
    (TrialState.FAILED, None),
    (TrialState.RUNNING, None),
]


def make_study(store: Store, name: str, direction: str, outcomes: list, claims: list) -> int:
    """A study whose trial n ends with ``outcomes[n]`` (finished in a shuffled order)
    and holds claim ``claims[n]``; trial n > 0 has an edge from trial n - 1."""
    with store.write():
        study_id = store.insert_study(
            name=name,
            space={"x": {"type": "float", "low": 0.0, "high": 1.0}},
            method={"name": "random", "options": {}},
            direction=direction,
            objective="value",
            seed=0,
            function={},
        )
        ids = [
            store.insert_trial(
                study_id,
                number=n,
                state=TrialState.RUNNING,
                params={"x": n / 100},
                origin="sampled",
                claim=claims[n],
                parents=(Edge(n - 1, "mutated"),) if n else (),
            ).id
            for n in range(len(outcomes))
        ]
        order = list(range(len(outcomes)))
        random.Random(name).shuffle(order)
        for n in order:
            state, value = outcomes[n]
            if state is not TrialState.RUNNING:
                store.finish_trial(
                    study_id, ids[n], state=state, value=value, metrics={}, error=None
                )
    return study_id


@pytest.mark.parametrize("seed", range(40))
def test_the_stored_best_is_the_best_of_a_full_read(db: Path, seed: int) -> None:
    """One query gives the best trial a full read gives (ties: the lowest number; NaN,
    pruned, failed and running trials never; infinities by their order), or None where
    the full read is needed: no complete trial, or a population's segment is the best."""
    rng = random.Random(seed)
    outcomes = [rng.choice(OUTCOMES) for _ in range(rng.randint(0, 30))]
    population = seed % 4 == 0  # some trials are segments of members
    claims = [
        f"pbt:{n % 3}:{n // 3}" if population and rng.random() < 0.7 else None
        for n in range(len(outcomes))
    ]
    direction = rng.choice(["minimize", "maximize"])
    store = open_store(db)
    study_id = make_study(store, f"s{seed}", direction, outcomes, claims)
    full = hp.load_study(f"s{seed}", db=db).refresh().best
    found = stored_best(store, study_id, direction)
    if full is None or segment_of(full) is not None:
        assert found is None
    else:
        assert found == full == hp.load_study(f"s{seed}", db=db).best
        assert found.parents == full.parents and found.number == full.number


def test_the_stored_best_breaks_ties_by_number_and_skips_what_has_no_value(db: Path) -> None:
    outcomes = [
        (TrialState.FAILED, None),
        (TrialState.PRUNED, 0.1),  # better, but pruned
        (TrialState.COMPLETE, math.nan),  # no value
        (TrialState.COMPLETE, 0.5),
        (TrialState.COMPLETE, 0.5),  # a tie: the earlier one is the best
        (TrialState.COMPLETE, 2.0),
    ]
    store = open_store(db)
    study_id = make_study(store, "ties", "minimize", outcomes, [None] * 6)
    best = stored_best(store, study_id, "minimize")
    assert best is not None and (best.number, best.value) == (3, 0.5)
    assert best.parents == (Edge(2, "mutated"),)
    top = stored_best(store, study_id, "maximize")
    assert top is not None and top.number == 5


def test_stored_trials_read_the_trials_asked_for_as_a_full_read_has_them(db: Path) -> None:
    store = open_store(db)
    outcomes = [(TrialState.COMPLETE, float(n)) for n in range(6)]
    study_id = make_study(store, "few", "minimize", outcomes, [None] * 6)
    full = hp.load_study("few", db=db).trials
    trials = StoredTrials(store, study_id)
    assert trials[4] == full[4] and trials[0] == full[0]
    assert trials.read([5, 1, 99, 5]) == [full[1], full[5]]  # by number, the missing left out
    with pytest.raises(IndexError):
        trials[6]


def test_loading_a_checkpoint_of_an_imported_study_says_exports_leave_them_out(
    db: Path, tmp_path: Path
) -> None:
    """An imported study has no checkpoint files: the error blamed a function that saves
    none or keep_checkpoints="needed", neither of which was the case."""
    from hpotrack.transfer import export_to_file, import_study, read_export

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0, keep_checkpoints="all")
    def train(x: float, trial: hp.Trial) -> float:
        trial.save_checkpoint({"x": x}, step=1)
        return x

    study = train.optimize(n_trials=2)
    assert study.load_checkpoint(0) == {"x": study.trials[0].params["x"]}
    export_to_file(study, "json", tmp_path / "s.json")
    copy = tmp_path / "copy.db"
    import_study(open_store(copy), read_export(tmp_path / "s.json"))
    with pytest.raises(hp.HpotrackError, match="has no checkpoints stored") as raised:
        hp.load_study("s", db=copy).load_checkpoint(0)
    assert "an imported study has none (exports leave checkpoint files out" in str(raised.value)
    assert "keep_checkpoints" not in str(raised.value)

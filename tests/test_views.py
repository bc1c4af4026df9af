"""Read-only views of a study (``hpotrack/views.py``): the hints for Optuna's names."""

from __future__ import annotations

from pathlib import Path

import pytest

import hpotrack as hp
from hpotrack.views import missing_attribute


def test_optunas_best_trials_says_hpotrack_has_one_objective(db: Path) -> None:
    """Optuna's best_trials is the multi-objective Pareto front: "hpotrack spells it
    study.best" suggested a list of trials was one trial by another name."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float) -> dict[str, float]:
        return {"value": x, "accuracy": 1 - x}

    study = train.optimize(n_trials=2)
    with pytest.raises(AttributeError) as raised:
        study.best_trials  # type: ignore[attr-defined]  # noqa: B018 - the access is the test
    assert str(raised.value) == (
        "'Study' object has no attribute 'best_trials'; it is Optuna's multi-objective "
        "Pareto front, and hpotrack optimizes one objective: study.best is the best trial, "
        "and the other metrics the function returns are stored with every trial "
        "(e.g. study.best.metrics)"
    )
    assert "accuracy" in study.best.metrics  # what the message points at is there


def test_optunas_other_names_keep_their_spelling_hint() -> None:
    assert str(missing_attribute("best_trial")).endswith("; hpotrack spells it study.best")
    assert str(missing_attribute("colour")) == "'Study' object has no attribute 'colour'"

"""The examples run for real (scikit-learn models), with small budgets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import hpotrack as hp

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_tunes_a_real_model_into_hpotrack_db(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HPOTRACK_DB", None)
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py"), "3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "best accuracy" in result.stdout
    study = hp.load_study("quickstart", db=tmp_path / "hpotrack.db")
    assert len(study.trials) == 3 and 0.1 < study.best.value <= 1.0
    assert len(study.curve(0)["accuracy"]) == 3  # one report per fold


def test_pbt_digits_trains_a_population_and_prints_its_schedule(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HPOTRACK_DB", None)
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "pbt_digits.py"), "3"],  # 3 segments each
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    study = hp.load_study("pbt-digits", db=tmp_path / "hpotrack.db")
    trials = study.trials
    assert len(trials) == 8 * 3  # population x generations
    assert all(t.state == hp.TrialState.COMPLETE for t in trials)
    kinds = {edge.kind for t in trials for edge in t.parents}
    assert {"exploited", "continued"} <= kinds
    for t in trials:  # every segment trains 4 epochs, right after its checkpoint's step
        steps = [step for step, _ in study.curve(t.number)["error"]]
        start = (t.parents[0].step or 0) if t.parents else 0
        assert steps == list(range(start + 1, start + 5)) and t.budget == start + 4
    found = re.search(r"best final member: trial (\d+), validation error ([0-9.]+)", result.stdout)
    assert found, result.stdout
    best = study.trial(int(found.group(1)))
    assert best.value is not None and 0.0 <= best.value < 0.5
    assert f"{best.value:.4f}" == found.group(2)
    schedule = study.schedule(best.number)
    assert set(schedule) == {"eta0", "alpha"} and schedule["eta0"][0][0] == 1
    assert "its learned schedule:" in result.stdout
    for name, points in schedule.items():  # the last value of each is printed
        assert f"{name}={points[-1][1]:.3g}" in result.stdout
    assert "hpotrack lineage pbt-digits" in result.stdout

"""The examples run for real (scikit-learn models), with small budgets."""

from __future__ import annotations

import os
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

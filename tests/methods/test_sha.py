"""``sha`` against the shared multi-fidelity method suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpotrack.errors import StudyMismatchError
from hpotrack.methods.base import Method
from hpotrack.methods.sha import SHA
from hpotrack.records import Origin
from hpotrack.testing.method_suite import MultiFidelitySuite
from tests.test_multifidelity import tuned


class TestSHA(MultiFidelitySuite):
    def make_method(self) -> Method:
        return SHA()


def test_sha_after_hyperband_promotes_only_its_own_trials(tmp_path: Path) -> None:
    """Hyperband's trials were decided in their bracket's runs; to ``sha`` they are
    observations at its rungs. It promoted trials synchronous runs had stopped for good."""
    db = tmp_path / "h.db"
    tuned(db, "hyperband", []).optimize(n_trials=45)
    study = tuned(db, "sha", []).optimize(n_trials=75)
    promoted = [t for t in study.trials[45:] if t.origin == Origin.PROMOTED.value]
    assert promoted
    assert all(study.trials[t.parents[0].parent].bracket is None for t in promoted)


def test_another_eta_is_refused_after_a_method_without_one(tmp_path: Path) -> None:
    """The stored method (random) has no eta: the trials' rungs tell the one they ran at."""
    db = tmp_path / "h.db"
    tuned(db, "sha", []).optimize(n_trials=20)
    tuned(db, "random", []).optimize(n_trials=25)
    with pytest.raises(StudyMismatchError) as refused:
        tuned(db, SHA(eta=2), []).optimize(n_trials=30)
    message = str(refused.value)
    assert "cannot go on with eta=2: its trials were checked at other rungs (trial 0 at " in message
    assert "Keep the eta they ran with to continue it" in message
    assert len(tuned(db, "sha", []).optimize(n_trials=30).trials) == 30

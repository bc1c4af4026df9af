"""The in-memory driver runs without pytest: the benchmarks import it from an install of
the ``bench`` extra, which has no pytest."""

from __future__ import annotations

import subprocess
import sys

WITHOUT_PYTEST = """
import sys
sys.modules["pytest"] = None  # any import of pytest now raises ImportError
import hpotrack as hp
from hpotrack.testing import simulate
from hpotrack.testing.driver import record, run_proposal, train
from hpotrack.space import Space

history = simulate(hp.methods.Random(), Space.from_user({"x": hp.Float(0.0, 1.0)}), 3)
print(len(history.trials))
"""


def test_the_driver_imports_and_runs_without_pytest() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PYTEST], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"


def test_the_method_suite_is_still_there_by_its_short_name() -> None:
    from hpotrack.testing import MethodSuite
    from hpotrack.testing.method_suite import MethodSuite as Defined

    assert MethodSuite is Defined

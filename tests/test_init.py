"""The package's public names (``hpotrack/__init__.py``)."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import hpotrack as hp
from hpotrack import errors


def test_every_public_name_exists() -> None:
    assert [name for name in hp.__all__ if not hasattr(hp, name)] == []


def test_the_errors_a_user_catches_are_top_level_and_hpotrack_errors() -> None:
    caught = ["NoCompleteTrial", "SpaceError", "StudyMismatchError", "StudyNotFoundError"]
    caught += ["TooManyFailures", "TrialError", "HpotrackError"]
    for name in caught:
        assert getattr(hp, name) is getattr(errors, name)
        assert issubclass(getattr(hp, name), hp.HpotrackError)
    defined = {
        n for n, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__
    }
    assert defined >= set(caught)
    assert hp.errors is errors


def test_plots_is_there_without_importing_it_and_import_stays_light() -> None:
    """``hp.plots.history(study)`` after ``import hpotrack as hp`` was an AttributeError;
    ``import hpotrack`` itself imports neither the plots nor matplotlib."""
    code = (
        "import sys, hpotrack as hp\n"
        "assert 'hpotrack.plots' not in sys.modules and 'matplotlib' not in sys.modules\n"
        "print(hp.plots.__name__, hp.plots.history.__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "hpotrack.plots history\n", done.stderr
    with pytest.raises(AttributeError, match=r"^module 'hpotrack' has no attribute 'plotz'$"):
        hp.plotz  # noqa: B018 - the attribute access is the test

"""The package's public names (``hpotrack/__init__.py``)."""

from __future__ import annotations

import inspect

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

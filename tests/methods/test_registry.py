from __future__ import annotations

import pytest

from hpotrack.errors import MethodError
from hpotrack.methods import Grid, Random, known_methods, resolve
from hpotrack.methods.base import from_json


def test_names_resolve_to_default_instances() -> None:
    assert resolve("random") == Random()
    assert resolve("grid") == Grid()
    assert {"manual", "grid", "random"} <= set(known_methods())


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(MethodError, match=r"unknown method 'rnadom'.*grid.*manual.*random"):
        resolve("rnadom")


def test_stored_options_unknown_to_this_version_are_an_error() -> None:
    with pytest.raises(MethodError, match="stored options of method 'grid'"):
        from_json({"name": "grid", "options": {"cells": 3}})

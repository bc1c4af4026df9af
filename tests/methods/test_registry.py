from __future__ import annotations

from typing import Any

import pytest

import hpotrack as hp
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


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda: hp.methods.TPE(gama=0.2),
            "TPE() got an unknown keyword argument 'gama'; did you mean 'gamma'?",
        ),
        (
            lambda: hp.methods.Grid(foo=1),
            "Grid() got an unknown keyword argument 'foo'. Valid: grid_points, shuffle",
        ),
        (
            lambda: hp.methods.SHA(3, 4),
            "SHA() takes at most 1 positional argument(s) but 2 were given",
        ),
        (
            lambda: hp.methods.TPE(5, n_startup=3),
            "TPE() got multiple values for argument 'n_startup'",
        ),
    ],
)
def test_a_misspelt_or_extra_option_is_one_method_error(make: Any, expected: str) -> None:
    with pytest.raises(MethodError) as info:
        make()
    assert expected in str(info.value)

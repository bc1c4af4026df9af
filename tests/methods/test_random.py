from __future__ import annotations

import numpy as np
import pytest

from hpotrack.errors import MethodError
from hpotrack.methods import Method, Random
from hpotrack.space import Float, Space
from hpotrack.testing import MethodSuite, simulate


class TestRandom(MethodSuite):
    def make_method(self) -> Method:
        return Random()


class TestRandomSobol(MethodSuite):
    def make_method(self) -> Method:
        return Random(qmc=True)


def test_log_floats_are_uniform_in_log_space() -> None:
    space = Space.from_user({"lr": Float(1e-6, 1.0, log=True)})
    history = simulate(Random(), space, 2000, seed=0)
    exponents = np.log10([float(t.params["lr"]) for t in history.trials])  # type: ignore[arg-type]
    counts, _ = np.histogram(exponents, bins=6, range=(-6, 0))
    assert counts.min() > 2000 / 6 * 0.75


def test_sobol_covers_the_cube_more_evenly_than_independent_draws() -> None:
    space = Space.from_user({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})

    def largest_empty_cell(method: Method) -> int:
        history = simulate(method, space, 64, seed=3)
        cells = {(int(t.params["x"] * 8), int(t.params["y"] * 8)) for t in history.trials}  # type: ignore[operator]
        return 64 - len(cells)

    assert largest_empty_cell(Random(qmc=True)) < largest_empty_cell(Random())


def test_qmc_flag_is_validated() -> None:
    with pytest.raises(MethodError, match="`qmc` must be True or False"):
        Random(qmc="yes")  # type: ignore[arg-type]

"""``random``: independent uniform sampling in the unit cube (log-aware by the encoding).

With ``qmc=True`` the points follow a scrambled Sobol sequence (Owen scrambling; Joe & Kuo
direction numbers, as in SciPy), which covers the cube more evenly than independent draws.
Trial ``n`` takes point ``n`` of the sequence, so any process can compute it alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hpotrack.methods.base import Method, Proposal
from hpotrack.methods.history import History
from hpotrack.methods.registry import register
from hpotrack.options import check_bool
from hpotrack.pruners import Pruner, pruner_from
from hpotrack.records import Origin

if TYPE_CHECKING:
    from scipy.stats import qmc


@register
@dataclass(frozen=True)
class Random(Method):
    """Uniform random search; ``qmc=True`` for a scrambled Sobol sequence."""

    name = "random"
    multi_objective = True  # it reads no values
    constrained = True  # it reads no values
    qmc: bool = False
    pruner: Pruner | str | None = None  # "median", "percentile" or a hp.pruners rule

    def __post_init__(self) -> None:
        object.__setattr__(self, "pruner", pruner_from(self.pruner))
        check_bool(self.qmc, "qmc")

    def ask(self, history: History) -> Proposal:
        number = history.next_number
        if self.qmc:
            point = sobol_point(len(history.space), history.seed, number)
        else:
            point = history.uniform(number, len(history.space))
        return Proposal(params=history.space.decode(point), origin=Origin.SAMPLED.value)


def sobol_point(dimensions: int, seed: int, index: int) -> np.ndarray:
    """Point ``index`` of the scrambled Sobol sequence fixed by ``seed`` (no state kept)."""
    from scipy.stats import qmc  # imported here: scipy.stats takes seconds to import

    sampler = qmc.Sobol(dimensions, scramble=True, seed=seed)
    if index:
        sampler.fast_forward(index)
    point: np.ndarray = sampler.random(1)[0]  # one point: no balance warning (1 = 2**0)
    return point


def first_sobol_points(sampler: qmc.Sobol, count: int) -> np.ndarray:
    """The first ``count`` points of ``sampler``, a new one, as ``sampler.random(count)``
    draws them, without its warning that a count not a power of 2 loses the sequence's
    balance (candidates to score need none). Drawn as the power of 2 above, rather
    than under ``warnings.catch_warnings``, which swaps the process's filters: a run in
    another thread ending its own block meanwhile left every warning of the process
    ignored for good (and the warnings of every thread were ignored while it lasted)."""
    points: np.ndarray = sampler.random_base2((count - 1).bit_length())[:count]
    return points

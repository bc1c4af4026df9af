"""``random``: independent uniform sampling in the unit cube (log-aware by the encoding).

With ``qmc=True`` the points follow a scrambled Sobol sequence (Owen scrambling; Joe & Kuo
direction numbers, as in SciPy), which covers the cube more evenly than independent draws.
Trial ``n`` takes point ``n`` of the sequence, so any process can compute it alone.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from hpotrack.methods.base import Method, Proposal
from hpotrack.methods.history import History
from hpotrack.methods.registry import register
from hpotrack.options import check_bool
from hpotrack.pruners import Pruner, pruner_from
from hpotrack.records import Origin


@register
@dataclass(frozen=True)
class Random(Method):
    """Uniform random search; ``qmc=True`` for a scrambled Sobol sequence."""

    name = "random"
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # balance warnings concern whole batches, not one point
        point: np.ndarray = sampler.random(1)[0]
    return point

"""``sha``: asynchronous successive halving (ASHA; Li et al. 2020, Alg. 2).

New configurations are drawn uniformly at random and checked at every rung from the
lowest (see :mod:`hpotrack.methods.halving` for the rungs, the decision at a rung and the
promotions); any number of processes share one study without waiting for rungs to fill.
"""

from __future__ import annotations

from dataclasses import dataclass

from hpotrack.methods.base import Proposal
from hpotrack.methods.halving import Halving, promotion, set_eta
from hpotrack.methods.history import History
from hpotrack.methods.registry import register
from hpotrack.records import Origin


@register
@dataclass(frozen=True)
class SHA(Halving):
    """Asynchronous successive halving with reduction factor ``eta`` over ``budget=``."""

    name = "sha"
    eta: float = 3.0

    def __post_init__(self) -> None:
        set_eta(self)

    def ask(self, history: History) -> Proposal:
        # promote only its own trials: Hyperband's (the study ran it before) have brackets,
        # decided by runs or among their bracket, and are only observations at the rungs
        promoted = promotion(history, self.ladder(history), [None], only=[None])
        if promoted is not None:
            return promoted
        point = history.uniform(history.next_number, len(history.space))
        return Proposal(params=history.space.decode(point), origin=Origin.SAMPLED.value)

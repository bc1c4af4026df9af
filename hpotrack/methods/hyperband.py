"""``hyperband``: brackets of asynchronous successive halving (Li et al. 2018).

Bracket ``s`` runs successive halving from ``s`` rungs below the top (bracket 0 trains
every trial fully; see :mod:`hpotrack.methods.halving`). New configurations go to the
brackets in the proportions of one Hyperband iteration, interleaved, so several processes
fill all brackets at once; each trial is compared only with trials of its own bracket.
Configurations are drawn uniformly at random; :mod:`hpotrack.methods.bohb` draws them from
a model instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from hpotrack.methods.base import History, Proposal, register
from hpotrack.methods.halving import (
    Halving,
    Ladder,
    bracket_schedule,
    new_config_slot,
    promotion,
    set_eta,
)
from hpotrack.records import Origin
from hpotrack.space import Value


@register
@dataclass(frozen=True)
class Hyperband(Halving):
    """Hyperband with reduction factor ``eta`` over ``budget=``."""

    name = "hyperband"
    eta: float = 3.0

    def __post_init__(self) -> None:
        set_eta(self)

    def ask(self, history: History) -> Proposal:
        ladder = self.ladder(history)
        promoted = promotion(history, ladder, [*range(ladder.top + 1), None])
        if promoted is not None:
            return promoted
        slot = new_config_slot(history)
        schedule = self.schedule(ladder)
        params, note = self.configuration(history)
        return Proposal(
            params=params,
            origin=Origin.SAMPLED.value,
            claim=f"config:{slot}",
            bracket=schedule[slot % len(schedule)],
            note=note,
        )

    def schedule(self, ladder: Ladder) -> tuple[int, ...]:
        """The brackets of one iteration's new configurations, in order: Hyperband's."""
        return bracket_schedule(ladder)

    def configuration(self, history: History) -> tuple[dict[str, Value], str]:
        """A new configuration, and where it came from: uniform at random."""
        point = history.uniform(history.next_number, len(history.space))
        return history.space.decode(point), f"{self.name}: uniform at random"

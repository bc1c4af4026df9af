"""``manual``: the study runs only what the user enqueues or calls by hand (heuristic tuning)."""

from __future__ import annotations

from dataclasses import dataclass

from hpotrack.errors import SearchExhausted
from hpotrack.methods.base import Method, Proposal
from hpotrack.methods.history import History
from hpotrack.methods.registry import register


@register
@dataclass(frozen=True)
class Manual(Method):
    """Proposes nothing itself: the study loop runs enqueued trials first, for every method."""

    name = "manual"
    multi_objective = True  # it reads no values
    constrained = True  # it reads no values

    def ask(self, history: History) -> Proposal:
        raise SearchExhausted(
            "no queued trial is left, and method 'manual' proposes none itself: enqueue "
            "more (study.enqueue({...}) or `hpotrack enqueue`) or call the decorated "
            "function with hyperparameters"
        )

"""Following lineage: the chain of segments a trial continues, and the hyperparameter
schedule along it (what population-based training learned, step by step)."""

from __future__ import annotations

from collections.abc import Sequence

from hpotrack.checkpoints import source_edge
from hpotrack.records import TrialRecord
from hpotrack.space import Value


def chain(trials: Sequence[TrialRecord], number: int) -> list[TrialRecord]:
    """Trial ``number`` and the trials whose checkpoints it continues (``continued``,
    ``exploited`` and ``promoted`` edges), oldest first."""
    found = [trials[number]]
    seen = {number}
    while (edge := source_edge(found[-1])) is not None and edge.parent not in seen:
        seen.add(edge.parent)
        found.append(trials[edge.parent])
    return found[::-1]


def schedule(trials: Sequence[TrialRecord], number: int) -> dict[str, list[tuple[int, Value]]]:
    """Each hyperparameter's value over steps along trial ``number``'s chain: a list of
    (first step, value) with an entry wherever the value changed. A segment that starts
    from another member's checkpoint at an earlier step replaces what the chain said
    from that step on (the weights came from there)."""
    points: dict[str, list[tuple[int, Value]]] = {}
    for trial in chain(trials, number):
        edge = source_edge(trial)
        first = 1 if edge is None or edge.step is None else edge.step + 1
        for name, value in trial.params.items():
            line = points.setdefault(name, [])
            while line and line[-1][0] >= first:
                line.pop()
            if not line or line[-1][1] != value:
                line.append((first, value))
    return points

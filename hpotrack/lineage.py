"""Following lineage: the chain of segments a trial continues, the hyperparameter
schedule along it (what population-based training learned, step by step), and the
members of a population as their trials' claims say."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from hpotrack.checkpoints import source_edge
from hpotrack.records import TrialRecord, TrialState, is_better
from hpotrack.space import Value


class ByNumber(Protocol):
    """Trials by number: a study's list of them, or a reader that looks each up when
    asked (:class:`hpotrack.views.StoredTrials`), so that following one trial's lineage
    reads that trial and its ancestors, not the study."""

    def __getitem__(self, number: int, /) -> TrialRecord: ...


def chain(trials: ByNumber, number: int) -> list[TrialRecord]:
    """Trial ``number`` and the trials whose checkpoints it continues (``continued``,
    ``exploited`` and ``promoted`` edges), oldest first."""
    found = [trials[number]]
    seen = {number}
    while (edge := source_edge(found[-1])) is not None and edge.parent not in seen:
        seen.add(edge.parent)
        found.append(trials[edge.parent])
    return found[::-1]


Points = dict[str, list[tuple[int, float]]]  # a curve: metric -> [(step, value), ...]


def whole_curve(trials: ByNumber, number: int, curve_of: Callable[[int], Points]) -> Points:
    """Trial ``number``'s intermediate values with those of the trials it continues in
    front (:func:`chain`), so a promoted trial's curve starts at step 1, as its
    configuration trained: of each, the points up to the step the next one continued it
    at, and before the next one's first step. A trial may have loaded a checkpoint below
    that step (saved every other epoch, say) and reported from there on, or trained
    from scratch (from step 1: nothing goes in front of it)."""
    line = chain(trials, number)
    whole = curve_of(line[-1].number)
    for parent, child in zip(line[-2::-1], line[:0:-1], strict=True):
        edge = source_edge(child)
        if edge is None or edge.step is None:
            break
        for name, points in curve_of(parent.number).items():
            own = whole.get(name, [])
            until = edge.step if not own else min(edge.step, own[0][0] - 1)
            whole[name] = [(step, value) for step, value in points if step <= until] + own
    return whole


def schedule(trials: ByNumber, number: int) -> dict[str, list[tuple[int, Value]]]:
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


SEGMENT_CLAIM = re.compile(r"([^:#]+):(\d+):(\d+)(?:#(\d+))?")
SEGMENT_GLOB = "?*:[0-9]*:[0-9]*"  # every claim SEGMENT_CLAIM matches matches this (in SQL)


@dataclass(frozen=True)
class Segment:
    """What a claim ``<family>:<member>:<segment>[#<attempt>]`` says about its trial."""

    family: str
    member: int
    index: int
    attempt: int = 0


def segment_of(trial: TrialRecord) -> Segment | None:
    """The population segment ``trial`` is, by its claim; None if it is not one.

    Members are found from the claim's form, not from the method's name: the claim is
    what the method stored to say which member and segment a trial is (the database is
    the only state), so this needs no method object, holds for any method that trains a
    population in segments (PBT, or a variant under another name), and stays right when a
    study is imported. Other claims have one index (``grid:[0.1,"relu"]``, ``config:3``,
    ``promote:5``), so they never look like segments.
    """
    match = SEGMENT_CLAIM.fullmatch(trial.claim or "")
    if match is None:
        return None
    family, member, index, attempt = match.groups()
    return Segment(family, int(member), int(index), int(attempt or 0))


def members(trials: Sequence[TrialRecord]) -> dict[tuple[str, int], list[TrialRecord]]:
    """Each population member's trials by (family, member), sorted so; each list in number
    order, which is segment order (a member's segments run one after another). Empty for a
    study without a population."""
    found: dict[tuple[str, int], list[TrialRecord]] = {}
    for trial in trials:
        segment = segment_of(trial)
        if segment is not None:
            found.setdefault((segment.family, segment.member), []).append(trial)
    return dict(sorted(found.items()))


def has_segments(claims: Iterable[str]) -> bool:
    """Whether any of ``claims`` is a population segment's (:func:`segment_of`): whether
    a study is a population, from its claims alone (``Store.claims(id, SEGMENT_GLOB)``)."""
    return any(SEGMENT_CLAIM.fullmatch(claim) for claim in claims)


def finals(trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    """What a study ended with, by number: each member's latest complete segment (the
    highest numbered, in whatever order ``trials`` come), and every complete trial
    outside a population (final by itself)."""
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    latest: dict[object, TrialRecord] = {}  # by member, or by number outside a population
    for trial in complete:
        segment = segment_of(trial)
        key = trial.number if segment is None else (segment.family, segment.member)
        if key not in latest or trial.number > latest[key].number:
            latest[key] = trial
    return sorted(latest.values(), key=lambda t: t.number)


def best_result(
    trials: Sequence[TrialRecord], best: TrialRecord | None, direction: str
) -> TrialRecord | None:
    """A study's best result: ``best`` (its best complete trial, as the history keeps
    it), unless that is a segment a population member went on from: then the best of
    what the members ended with (:func:`best_final`), whose model is the one kept (a
    mid-run segment's checkpoint is gone, and its value was measured earlier in
    training). Scans the trials only for a population."""
    if best is None or segment_of(best) is None:
        return best
    return best_final(trials, direction)


def best_final(trials: Sequence[TrialRecord], direction: str) -> TrialRecord | None:
    """The best of :func:`finals` (the earliest on a tie); without a population, the best
    complete trial, as ``Study.best``."""
    best: TrialRecord | None = None
    for trial in finals(trials):
        leader = None if best is None else best.value
        if trial.value is not None and is_better(trial.value, leader, direction):
            best = trial
    return best

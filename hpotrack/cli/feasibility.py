"""What the commands print of a study's constraints (:mod:`hpotrack.constraints`): a
trial's ``feasible`` and ``violation`` cells in ``show``, each constraint with the
trial's value and whether it holds in ``trial`` and ``best``."""

from __future__ import annotations

from typing import Any

from hpotrack.cli.common import num
from hpotrack.constraints import Constraint, finite
from hpotrack.records import TrialRecord, TrialState
from hpotrack.study import Study

FEASIBLE, VIOLATION = "feasible", "violation"  # show's columns for a constrained study


def columns(study: Study) -> list[str]:
    """The columns ``show`` adds after the values for ``study``: none without constraints."""
    return [FEASIBLE, VIOLATION] if study.optimizing.constrained else []


def violation(study: Study, trial: TrialRecord) -> float | None:
    """How far ``trial`` misses the study's constraints, summed (0.0: it meets them all;
    :meth:`Objectives.violation`); None for a trial that did not complete, whose
    constraint metrics are not known (a pruned trial stopped before returning them)."""
    if trial.state is not TrialState.COMPLETE:
        return None
    return study.optimizing.violation(trial.metrics)


def cells(study: Study, trial: TrialRecord, *, compact: bool) -> dict[str, Any]:
    """``trial``'s ``feasible`` and ``violation`` cells: in a table (``compact``) ``yes``
    or ``no`` and how far it misses, both blank for a trial that did not complete; in
    JSON and CSV true/false and a number, null for such a trial. Empty without
    constraints."""
    if not study.optimizing.constrained:
        return {}
    missed = violation(study, trial)
    if missed is None:
        return {FEASIBLE: "", VIOLATION: ""} if compact else {FEASIBLE: None, VIOLATION: None}
    feasible = missed == 0.0
    if compact:  # formatted here: tabulate reads a column of numbers and blanks as text
        return {FEASIBLE: "yes" if feasible else "no", VIOLATION: num(missed)}
    return {FEASIBLE: feasible, VIOLATION: missed}


def rank(study: Study, trial: TrialRecord) -> float:
    """Where complete ``trial`` ranks among complete trials by its constraints: 0.0 when
    it meets them (or the study has none), else how far it misses (Deb 2000's rules, as
    :meth:`History.rank_key` orders trials: feasible first, then the least violation)."""
    missed = violation(study, trial)
    return 0.0 if missed is None else missed


def judged(constraint: Constraint, trial: TrialRecord) -> dict[str, Any]:
    """One constraint as ``trial`` fared: its bounds, the trial's value of the metric
    (None when it has none) and whether it holds (None for a trial that did not
    complete: only a complete trial is judged)."""
    value = finite(trial.metrics.get(constraint.metric))
    met = None
    if trial.state is TrialState.COMPLETE:
        met = value is not None and constraint.violation(value) == 0.0
    return {**constraint.to_json(), "value": value, "met": met}


def as_json(study: Study, trial: TrialRecord) -> dict[str, Any]:
    """``feasible``, ``violation`` and ``constraints`` (:func:`judged`, one per
    constraint) for the JSON of ``trial`` and ``best``; empty without constraints."""
    if not study.optimizing.constrained:
        return {}
    return {
        **cells(study, trial, compact=False),
        "constraints": [judged(c, trial) for c in study.optimizing.constraints],
    }


def title(study: Study, trial: TrialRecord) -> str:
    """The heading of ``trial``'s constraints: whether it meets them all, or by how much
    it misses them in all; a trial that did not complete is not judged."""
    missed = violation(study, trial)
    if missed is None:
        return "Constraints (not judged: only a complete trial is)"
    if missed == 0.0:
        return "Constraints (all met: the trial is feasible)"
    return f"Constraints (missed by {num(missed)} in all: the trial is not feasible)"


def pairs(study: Study, trial: TrialRecord) -> list[tuple[str, str]]:
    """Each constraint (``latency_ms <= 10``) with the trial's value and whether it holds:
    ``12.458  missed by 2.458``, ``6.47666  met``; the value ``-`` for a metric the trial
    lacks."""
    found = []
    for constraint in study.optimizing.constraints:
        shown = judged(constraint, trial)
        value = shown["value"]
        text = "-" if value is None else num(value)
        if shown["met"] is True:
            text += "  met"
        elif shown["met"] is False:
            text += (
                "  missed" if value is None else f"  missed by {num(constraint.violation(value))}"
            )
        found.append((constraint.describe(), text))
    return found

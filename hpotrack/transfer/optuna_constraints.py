"""An Optuna study's constraints, read from what its trials stored, as hpotrack's
(:mod:`hpotrack.constraints`), for :mod:`hpotrack.transfer.optuna_study`.

Optuna keeps no list of a study's constraints: each trial stores its own constraint
values among its system attributes, a value ``<= 0`` meaning that constraint is met, in
one of two forms that the installed Optuna 5.0 reads together
(``optuna/study/_constrained_optimization.py``, ``_get_constraints_from_system_attrs``):

- ``"constraints"``: the sequence that a sampler's ``constraints_func=`` returned
  (``TPESampler``, ``NSGAIISampler``, ``GPSampler``...; deprecated in Optuna 5.0), stored
  by ``optuna/samplers/_base.py``'s ``_process_constraints_after_trial`` once a trial is
  complete or pruned (null when the function raised), as a JSON list in the database's
  ``trial_system_attributes`` table and in the journal's ``system_attr`` operation. Its
  values have the keys ``"0"``, ``"1"``, ...
- ``"constraints:KEY"``: one value that ``trial.set_constraint(KEY, value)`` stored
  (Optuna 5.0); it replaces the list's value of the same key, as Optuna reads them.

Each key is the constraint metric ``constraint_KEY`` (``constraint_0``, ``constraint_1``
for the list; ``constraint_latency`` for ``set_constraint("latency", ...)``), with
``at_most=0.0``: a trial is feasible as Optuna counts it, and its violation, the sum of
the values above 0, is Optuna's penalty (``optuna/samplers/nsgaii/_constraints_evaluation.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hpotrack.constraints import Constraint, finite

PREFIX = "constraint_"  # of the metric each of Optuna's constraint keys becomes
_LISTED = "constraints"  # constraints_func's values, a list
_ONE = "constraints:"  # + KEY: one value of set_constraint


def trial_values(system: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's constraint values by Optuna's key, from its system attributes: the
    list's by position (``"0"``, ``"1"``, ...), then each ``set_constraint`` value, which
    replaces the list's of the same key."""
    found: dict[str, Any] = {}
    listed = system.get(_LISTED)
    if isinstance(listed, list):
        found.update((str(position), value) for position, value in enumerate(listed))
    for key, value in system.items():
        if key.startswith(_ONE):
            found[key[len(_ONE) :]] = value
    return found


def study_constraints(systems: Iterable[Mapping[str, Any]]) -> tuple[Constraint, ...]:
    """The constraints of a study whose trials have the system attributes ``systems``:
    one per key any trial has a value of (none: not a constrained study), the list's
    positions first, in order, then the others by name."""
    keys = {key for system in systems for key in trial_values(system)}
    ordered = sorted(keys, key=lambda k: (0, int(k), k) if k.isdecimal() else (1, 0, k))
    return tuple(Constraint(PREFIX + key, at_most=0.0) for key in ordered)


def trial_metrics(
    constraints: Sequence[Constraint], system: Mapping[str, Any]
) -> tuple[dict[str, float], str | None]:
    """A trial's finite constraint values by metric name, and the first constraint
    without one, as the error that fails the trial if it is complete: its feasibility is
    not known (Optuna counts a missing value as met, an infinite one as met or missed)."""
    values = trial_values(system)
    found: dict[str, float] = {}
    lacking: str | None = None
    for constraint in constraints:
        raw = values.get(constraint.metric[len(PREFIX) :])
        number = finite(raw)
        if number is not None:
            found[constraint.metric] = number
        elif lacking is None and raw is None:
            lacking = (
                f"complete in Optuna without a value of constraint {constraint.metric!r} "
                "(Optuna counts a missing one as met)"
            )
        elif lacking is None:
            lacking = (
                f"its value of constraint {constraint.metric!r} in Optuna was {raw!r}, and "
                "a constraint's value must be finite"
            )
    return found, lacking

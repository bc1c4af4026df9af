"""The list of studies ``hpotrack show`` prints without a study name: each one's
method, goal, constraints, trials by state, best value and last activity."""

from __future__ import annotations

from typing import Any

from hpotrack.cli.common import budget_text, when
from hpotrack.errors import NoCompleteTrial
from hpotrack.records import Origin, TrialState
from hpotrack.store import Proposed, Store, StudyRow
from hpotrack.study import Study
from hpotrack.text import auto_choice

# origins of trials whose note is not what the method says of a new configuration
NOT_PROPOSED = tuple(o.value for o in (Origin.PROMOTED, Origin.ENQUEUED, Origin.MANUAL,
                                       Origin.RETRIED))  # fmt: skip

STUDY_COLUMNS = (
    "study",
    "method",
    "direction",
    "budget",
    "trials",
    *(state.value for state in TrialState),
    "running_worker_gone",
    "best",
    "front",
    "last_activity",
)  # the list of studies in JSON and CSV (a CSV of no studies still has them)
CONSTRAINTS = "constraints"  # the column a list with a constrained study adds


def latest_proposed(store: Store, study_id: int) -> Proposed | None:
    """What the method noted of the latest configuration it proposed, and which method
    that was (one query along the number index): not of a promotion, nor of a trial the
    user queued or ran, nor of a retry, whose notes are not the method's say on a new
    configuration."""
    return store.latest_proposed(study_id, besides=NOT_PROPOSED)


def study_rows(store: Store, *, compact: bool) -> list[dict[str, Any]]:
    """One row per study; ``compact`` folds the per-state counts into one column. When a
    study has constraints, every row gets a ``constraints`` column after the direction
    (``latency_ms <= 10``; None for a study without): a list of studies without any
    reads as it did before constraints existed."""
    rows = []
    constrained = False
    for row in store.list_studies():
        study = Study(store, row)
        summary = store.summary(row.id)  # one pass in SQLite, not every trial read
        total = sum(summary.counts.values())
        # no trial started yet (none, or only queued ones): active since its creation
        last = row.created if summary.last_active is None else summary.last_active
        counts = {state.value: n for state, n in summary.counts.items()}
        running = summary.running
        gone = len(study.workers_gone(running)) if running else 0
        multi = study.optimizing.is_multi
        complete = summary.counts[TrialState.COMPLETE]
        best_value: float | str | None = _best_value(study) if complete and not multi else None
        direction = ", ".join(study.directions)
        front = len(study.best_trials) if multi else None  # its size: None for one objective
        constraints = study.optimizing.describe_constraints() or None
        constrained = constrained or constraints is not None
        if front and compact:
            best_value = f"front of {front}"
        elif compact and complete and constraints and best_value is None:
            best_value = "none feasible"  # complete trials, none meeting the constraints
        if compact:  # 80 columns: states folded into one cell, minutes are enough
            labels = {"running": f"running ({gone} with the worker gone)"} if gone else {}
            states = ", ".join(f"{n} {labels.get(s, s)}" for s, n in counts.items() if n)
            rows.append(
                {
                    "study": row.name,
                    "method": _method_cell(store, row),
                    "goal": ",".join(d[:3] for d in study.directions),
                    CONSTRAINTS: constraints,
                    "trials": f"{total}: {states or 'none'}",
                    "best": best_value,
                    "last active": (when(last) or "")[:16],
                }
            )
            continue
        rows.append(
            {
                "study": row.name,
                "method": method_name(row.method),
                "direction": direction,
                CONSTRAINTS: constraints,
                "budget": budget_text(study.budget),
                "trials": total,
                **counts,
                "running_worker_gone": gone,
                "best": best_value,
                "front": front,
                "last_activity": when(last),
            }
        )
    if not constrained:
        for listed in rows:
            del listed[CONSTRAINTS]
    return rows


def _best_value(study: Study) -> float | None:
    """The value of the study's best trial (one objective, some complete trial); of a
    study with constraints, its best feasible trial's (:attr:`Study.best`), None when no
    complete trial meets them."""
    try:
        return study.best.value
    except NoCompleteTrial:  # with constraints: complete trials, none of them feasible
        return None


def _method_cell(store: Store, row: StudyRow) -> str:
    """The study's method in the table of studies: ``auto`` with the method it chose
    for its latest configuration, ``auto (tpe)`` (one indexed query per ``auto``
    study), else :func:`method_name`. JSON and CSV keep the stored name."""
    name = method_name(row.method)
    if name != "auto":
        return name
    latest = latest_proposed(store, row.id)
    if latest is None:
        return name
    if latest.method is None:  # stored before trials named their method: its note says
        chosen = auto_choice(latest.note)
    else:  # None when proposed before the study was reopened with auto
        chosen = latest.method if latest.chosen_by == name else None
    return name if chosen is None else f"{name} ({chosen})"


def method_name(stored: dict[str, Any]) -> str:
    """A study's method in one word, with its pruner where it has one: ``random+median``
    (random, tpe, bayes and evolution take a ``pruner=``). Read from the method as stored
    (``{"name", "options"}``, a pruner ``{"type", ...}``), not rebuilt: listing the
    studies imports none of the methods, nor needs the code of one the user registers."""
    options = stored.get("options")
    pruner = options.get("pruner") if isinstance(options, dict) else None
    tag = pruner.get("type") if isinstance(pruner, dict) else None
    return str(stored.get("name")) if tag is None else f"{stored.get('name')}+{tag}"

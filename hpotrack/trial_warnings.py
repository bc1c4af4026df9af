"""What a trial's run tells the user once per study and process, after the trial ran: a
loop that saved no checkpoint for a method that goes on from them, retrained the steps
of the trial it continues, reported as it trained to a method that stops none, never
reported the objective where its method checks, or returned a metric that is no data.
Each is a mistake nothing else shows: the search quietly becomes another one, pays
twice for its steps, or stores text where numbers were meant."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hpotrack.budget import Budget
from hpotrack.claims import Claimed
from hpotrack.jsonable import jsonable_key
from hpotrack.records import Origin
from hpotrack.study import Study
from hpotrack.trial import TO_STOP_TRIALS, Trial
from hpotrack.worker_logs import warn_once


def warn_unsaved(study: Study, trial: Trial) -> None:
    """Say once per study and process that a trial of a method that goes on from every
    trial's checkpoint (pbt) completed without saving one: nothing else would tell, and
    the search would quietly be another one."""
    why = study.method.needs_checkpoints
    if why is None:
        return
    warn_once(
        f"{study.db_path}:{study.name}:unsaved",
        "study %r: trial %d completed without saving a checkpoint; %s. Load and save "
        "the model's state: state = trial.load_checkpoint() at the start, "
        "trial.save_checkpoint(state) at the end",
        study.name,
        trial.number,
        why,
    )


_CONTINUING = {  # edge kind: how the child goes on from its parent's checkpoint
    Origin.PROMOTED.value: "promoted from trial %d",
    Origin.CONTINUED.value: "continuing trial %d",
    Origin.EXPLOITED.value: "copying trial %d",
}
_CONTINUE_LOOP = {  # edge kind: the loop that continues the checkpoint, and an example
    Origin.PROMOTED.value: (
        "To go on where a stopped trial was, save a checkpoint before each report, "
        "trial.save_checkpoint(model, step=epoch), and start from model = "
        "trial.load_checkpoint() (None for a new configuration), training `for epoch in "
        "trial.steps`, as examples/sha_sgd.py does"
    ),
    Origin.CONTINUED.value: (
        "To go on where the member was, start from model = trial.load_checkpoint() (None "
        "at a member's first segment), train `for step in trial.steps` and end with "
        "trial.save_checkpoint(model), as examples/pbt_digits.py does"
    ),
}


def warn_retrained(study: Study, claimed: Claimed, trial: Trial) -> None:
    """Say once per study and process that a trial that continues another's checkpoint
    (a promotion, a PBT segment) trained again the steps of the trial it continues:
    without a checkpoint loaded (none saved, or none looked up) it reported the
    objective at a step up to its parent's; with one, at a step up to the checkpoint's
    (it counted from 1 again); or it looked one up (``trial.steps`` starts after it)
    and never loaded it, so its model starts from scratch under the continued step
    numbers. Its ``trained`` counts those steps, but nothing else would tell that the
    run pays for them twice (the README's loop ``for epoch in range(1, trial.budget +
    1)`` does that), or that a PBT member throws its training away at every segment."""
    lowest = trial.lowest_objective_step
    if lowest is None or study.warned_missing_checkpoint:  # that warning said why
        return
    if study.method.needs_checkpoints and not trial.saved_a_checkpoint:
        return  # warn_unsaved says why it cannot go on from a checkpoint
    parents = study.record_of(claimed).parents
    edge = next((e for e in parents if e.kind in _CONTINUING), None)
    if edge is None or edge.step is None:
        return
    loaded, key = trial.loaded_step, f"{study.db_path}:{study.name}:retrained"
    how = _CONTINUING[edge.kind] % edge.parent
    if loaded is None and lowest <= edge.step:
        warn_once(
            key,
            "trial %d of study %r, %s at step %d, started from scratch (it reported step "
            "%d): it trained again what trial %d had (its `trained` counts it). %s",
            claimed.number, study.name, how, edge.step, lowest, edge.parent,
            _CONTINUE_LOOP.get(edge.kind, _CONTINUE_LOOP[Origin.CONTINUED.value]),
        )  # fmt: skip
    elif loaded is not None and lowest <= loaded:
        warn_once(
            key,
            "trial %d of study %r loaded the checkpoint of step %d (%s), then reported "
            "step %d: count the steps after the checkpoint, `for epoch in trial.steps` "
            "(%d to %s); counted from 1 again, its curve, checks and `trained` misplace "
            "every step and it trains past the budget",
            claimed.number, study.name, loaded, how, lowest, loaded + 1, trial.budget,
        )  # fmt: skip
    elif loaded is not None and not trial.loaded_a_checkpoint:
        warn_once(
            key,
            "trial %d of study %r, %s at step %d, trained steps %d to %s without loading "
            "its checkpoint (trial.steps starts after it, but trial.load_checkpoint() was "
            "never called): its model started from scratch and missed the first %d steps. "
            "Start from model = trial.load_checkpoint()",
            claimed.number, study.name, how, loaded, loaded + 1, trial.budget, loaded,
        )  # fmt: skip


def warn_never_stopped(study: Study, trial: Trial, budget: Budget) -> None:
    """Say once per study and process that its trials report the objective as they
    train, over a ``budget=``, for a method that stops none of them: ``budget=`` with
    ``method="tpe"`` and no pruner trains every trial to the max, and nothing said so
    (``should_prune()`` says it, a plain ``report()`` did not)."""
    warn_once(
        f"{study.db_path}:{study.name}:never stopped",
        "study %r: trial %d reported %r as it trained, but method %r stops no trial early: "
        "report() never raises hp.Pruned there, and every trial trains to the budget's max "
        "(%s %s). %s; or report with prune=False to record curves only",
        study.name,
        trial.number,
        study.objective,
        study.method.name,
        budget.max,
        budget.unit,
        TO_STOP_TRIALS,
    )


def warn_unchecked(study: Study, trial: Trial) -> None:
    """Say once per study and process that a trial completed without any report of the
    objective reaching a check: its method cannot stop trials early then, and nothing
    else would tell."""
    reported = trial.reported_metrics()
    others = ", ".join(repr(name) for name in reported if name != study.objective)
    if study.objective in reported:  # only before its first check, or once trained
        hint = " (it reported it only before its first check or at its budget)"
    else:
        hint = f" (it reported {others}: is one of them the objective?)" if others else ""
    warn_once(
        f"{study.db_path}:{study.name}:unchecked",
        "study %r: trial %d completed without reporting the objective %r at a step its "
        "method checks, so no trial can be stopped early; report it with "
        "trial.report(value, step) as it trains%s",
        study.name,
        trial.number,
        study.objective,
        hint,
    )


def warn_texted(study: Study, trial: Trial, result: object, stored: Mapping[str, Any]) -> None:
    """Say once per study and process that the function returned metrics that are no
    JSON values (a fitted model, an object of its own), which are stored as their text
    (``repr``): read back, each is a string, and nothing said so. ``stored``: the
    metrics as the outcome stores them (converted once, by ``parse_result``)."""
    if not isinstance(result, Mapping):
        return
    texted = [
        f"{name!r} ({type(value).__name__})"
        for name, value in result.items()
        if not isinstance(value, str) and isinstance(stored.get(jsonable_key(name)), str)
    ]
    if texted:
        warn_once(
            f"{study.db_path}:{study.name}:texted",
            "study %r: trial %d returned %s, stored as text (repr), not as data: return "
            "numbers, text, or lists and dicts of them, and save a model with "
            "trial.save_checkpoint(model)",
            study.name,
            trial.number,
            ", ".join(texted),
        )

"""A claimed trial's handle, and what its run is stored as: shared by the run loop
(:mod:`hpotrack.runner`), direct calls and ask-and-tell (:mod:`hpotrack.ask_tell`), so
that a trial ends the same way whoever ran its function."""

from __future__ import annotations

import dataclasses

from hpotrack.outcomes import checked_hypergradient, parse_result, stopped_outcome
from hpotrack.records import TrialState
from hpotrack.study import Claimed, Outcome, Study
from hpotrack.trial import Trial
from hpotrack.trial_warnings import (
    warn_never_stopped,
    warn_retrained,
    warn_texted,
    warn_unchecked,
    warn_unsaved,
)


def new_trial(study: Study, claimed: Claimed) -> Trial:
    """The handle a claimed trial runs with: its params and budget, the method's checks
    and its checkpoints."""
    budget: float | None = claimed.budget
    fractional = study.budget is not None and not study.budget.whole
    if budget is not None and not fractional and float(budget).is_integer():
        # epochs, or the steps of a pbt segment: `range(trial.budget)` must work, and
        # `trial.report(value, step=trial.budget)` too
        budget = int(budget)
    return Trial(
        trial_id=claimed.trial_id,
        number=claimed.number,
        params=claimed.params,
        budget=budget,
        objective=study.objective,
        study=study.name,
        direction=study.direction,
        checks=study.checks_for(claimed),
        checkpoints=study.checkpoints_for(claimed),
        db=study.db_path,
    )


def returned_outcome(
    study: Study, trial: Trial, claimed: Claimed, result: object, *, manual: bool
) -> Outcome:
    """What a trial whose function returned ``result`` is stored as (``manual``: a
    direct call, which its method did not propose): complete with its objective,
    failed for a bad one, pruned when its method stopped it short of its budget."""
    for finish in trial.on_return:  # e.g. the booster an early stopping left unsaved
        finish()
    outcome = parse_result(result, study.optimizing)
    if outcome.state is TrialState.COMPLETE:
        outcome = checked_hypergradient(result, trial, outcome, study.space)
    if outcome.state is TrialState.COMPLETE and not manual:
        outcome = study.usable(claimed, outcome)
    if trial.stopped_short():
        outcome = stopped_outcome(trial, outcome)
    return outcome


def warn_after(
    study: Study,
    trial: Trial,
    claimed: Claimed,
    result: object,
    outcome: Outcome,
    *,
    manual: bool,
) -> None:
    """Say, once per study, what a trial's run suggests the function does not do as
    meant: an objective given as text, reports the method never checked, no checkpoint
    to continue from, a promotion trained again from scratch."""
    warn_texted(study, trial, result, outcome.metrics)
    if outcome.state is TrialState.COMPLETE and trial.missed_its_checks():
        warn_unchecked(study, trial)
    if outcome.state is TrialState.COMPLETE and not (manual or trial.saved_a_checkpoint):
        warn_unsaved(study, trial)
    if outcome.state in (TrialState.COMPLETE, TrialState.PRUNED) and not manual:
        warn_retrained(study, claimed, trial)
    if study.budget is not None and not manual and trial.reported_in_vain():
        warn_never_stopped(study, trial, study.budget)


def with_reports(outcome: Outcome, trial: Trial) -> Outcome:
    """The outcome carrying the trial's reports that the background flusher did not write,
    and the budget steps it trained."""
    trained = trial.steps_trained(complete=outcome.state is TrialState.COMPLETE)
    with trial.flush_lock:
        reports = tuple(trial.drain(final=True))
    return dataclasses.replace(outcome, reports=reports, trained=trained)

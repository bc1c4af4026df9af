"""``hpotrack show``: the studies in a database, or the trials of one."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Collection, Sequence
from typing import Any

import click

from hpotrack.budget import Budget
from hpotrack.cli import feasibility
from hpotrack.cli.common import (
    CliError,
    WholeNumber,
    budget_text,
    cli,
    emit,
    format_option,
    on_terminal,
    proposer,
    short,
    stop_flags,
    store_of,
    study_of,
    terminal_width,
    user_errors,
)
from hpotrack.cli.fitting import empty_columns, fit_studies, fitted_table, without
from hpotrack.cli.study_list import STUDY_COLUMNS, latest_proposed, study_rows
from hpotrack.limits import stored
from hpotrack.lineage import finals, segment_of
from hpotrack.records import TrialRecord, TrialState
from hpotrack.study import Study
from hpotrack.text import plural

# only budget studies have them: no column of - otherwise
BUDGET_COLUMNS = ("step", "budget", "trained", "rung", "bracket")


@cli.command()
@click.argument("study", required=False)
@click.option(
    "--top",
    type=WholeNumber(1),
    metavar="N",
    help="Only the N best trials: by value in the study's direction (see --sort), among "
    "those with a value.",
)
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([s.value for s in TrialState]),
    help="Only trials in this state (repeatable).",
)
@click.option(
    "--sort",
    type=click.Choice(["best", "number"]),
    default=None,
    help="Order of the trials shown (default: best first with --top, else by number). "
    "Best first: complete trials by value (of a population, the members' latest segments "
    "first, as best ranks them; with constraints, those that meet them first, then the "
    "others by violation), then pruned ones, those stopped at a later step first.",
)
@format_option()
@click.pass_context
@user_errors
def show(
    ctx: click.Context,
    study: str | None,
    top: int | None,
    states: tuple[str, ...],
    sort: str | None,
    fmt: str,
) -> None:
    """List the studies, or the trials of STUDY.

    \b
      hpotrack show                    the studies in the database
      hpotrack show mlp                every trial of study mlp
      hpotrack show mlp --top 10       its 10 best trials
      hpotrack show mlp --format csv   as CSV (or json), every column whole

    Above the trials: the study's seed (seed= of @hp.tune, or the one drawn when it was
    created: the same script run with it on a new database repeats the search) and,
    with a budget, the steps its trials trained in all (what resume --max-budget
    counts). Below: what the method noted of the latest configuration it proposed
    (auto: which method it chose and why), and running trials whose worker is gone
    (killed, say).

    With a budget, a trial's step is where its value was measured (its budget if
    complete, the check that stopped it if pruned: values compare only at equal steps)
    and trained the steps it trained itself (a trial that continued a checkpoint, a
    promotion say, counts those after the checkpoint's step; one that found no
    checkpoint trained from scratch and counts them all); multi-fidelity methods add
    its rung (the last one checked; the line above the table says at which steps the
    rungs reached so far checked trials) and bracket.

    With constraints (constraints= of @hp.tune, named on the line above the table), a
    trial's feasible cell says whether it meets them all (yes or no; blank for a trial
    that did not complete; JSON and CSV: true, false or null) and its violation how far
    it misses them, summed over them (0 when feasible). The list of studies then has a
    constraints column ("latency_ms <= 10"; null for a study without), and a study's
    best is its best feasible trial's value ("none feasible" when no complete trial
    meets them).

    Parameters named like a column (state, value, ...) show as param_<name>. One a
    trial left inactive (when=) is a blank cell, and JSON leaves its key out; the
    Choice option None reads None (JSON: null). A method column (auto's choice reads
    "auto (tpe)") is in the table when the trials shown came from more than one
    method; JSON and CSV always have it ("tpe"). In the list of studies, an auto
    study's method reads "auto (tpe)", the one it chose last (JSON and CSV: "auto"),
    and running trials whose worker is gone are counted.

    On a terminal, long text is cut to fit, and on one too narrow the parameters fold
    into one column (duration, origin, trained and method go when that needs the
    room); to a pipe or a file every column stays whole.
    """
    if study is None:
        given = [option for option, value in (("--top", top), ("--state", states),
                                               ("--sort", sort)) if value]  # fmt: skip
        if given:
            raise CliError(
                f"{', '.join(given)} choose{'s' if len(given) == 1 else ''} the trials of one "
                "study: give its name (hpotrack show STUDY ...); without one, show lists "
                "the studies"
            )
        rows = study_rows(store_of(ctx), compact=fmt == "table")
        emit(fit_studies(rows) if fmt == "table" else rows, fmt, STUDY_COLUMNS)
        return
    opened = study_of(ctx, study)
    listed = _top_complete(opened, top, states)
    if listed is None and states:  # the trials in those states: a query, not every trial
        listed = opened.store.trials_in_states(opened.id, states)
    elif listed is None:  # every trial is needed
        listed = opened.trials
    trials = _chosen(listed, opened, top, sort)
    if fmt == "table":
        click.echo(f"seed: {opened.seed}")  # what repeats the search (docs/resuming.md)
        if opened.optimizing.is_multi:  # front: the trials no other beats on every one
            click.echo(f"objectives: {opened.optimizing.describe()}; * marks the Pareto front")
        if opened.optimizing.constrained:  # what feasible means here
            constraints = opened.optimizing.describe_constraints()
            click.echo(f"constraints: {constraints}; violation: how far a trial misses them")
        if opened.budget is not None:
            click.echo(budget_line(opened, opened.budget))
        last_stops = stored(opened.last_stops)
        if last_stops:  # what resume will run with
            click.echo(f"stops of the last run: {stop_flags(last_stops)}")
        rows = trial_rows(opened, trials, fmt)
        dropped = _dropped_columns(opened, rows)
        if dropped:  # one pass: a copy of each row (of 100,000) per column took 0.2 s
            rows = [without(row, dropped) for row in rows]
        if rows:
            click.echo(fitted_table(rows, list(param_columns(opened).values())))
        elif not listed:
            emit(rows, fmt)
        else:  # --top left out every trial
            click.echo("(nothing to show: --top ranks trials by value, and none here has one)")
        # what the method says of the latest configuration it proposed (auto: which
        # method and why; bohb: what its model saw), not of a promotion's, nor of
        # trials the user queued or ran or a retry; none when that trial has none (a
        # study reopened with a method that writes no note)
        latest = latest_proposed(opened.store, opened.id)
        if latest is not None and latest.note:
            click.echo(method_line(latest.note))
        running = [t.number for t in trials if t.state is TrialState.RUNNING]
        gone = sorted(opened.workers_gone(running)) if running else []
        if gone:
            click.echo(
                f"{plural(len(gone), 'trial')} ({', '.join(map(str, gone))}) still read "
                "running, but the worker is gone (killed?): the study's next run marks "
                "them lost and retries them"
            )
    else:
        emit(trial_rows(opened, trials, fmt), fmt, trial_columns(opened))


def _dropped_columns(study: Study, rows: list[dict[str, Any]]) -> set[str]:
    """The columns the table of ``rows`` leaves out: the budget columns with nothing in
    them (a column of ``-`` tells nothing), the method when one proposed every trial
    (the study's), and the budget when every trial trained to its maximum (the line above
    the table says it)."""
    dropped = empty_columns(rows, BUDGET_COLUMNS)
    if len({row["method"] for row in rows} - {None}) < 2:
        dropped.add("method")
    if study.budget is not None and all(row["budget"] == study.budget.max for row in rows):
        dropped.add("budget")
    return dropped


def method_line(note: str) -> str:
    """``method: <note>``, wrapped at spaces to the width of a terminal (auto's choice
    with bohb's note runs past 100 columns); whole to a pipe or a file."""
    line = f"method: {note}"
    if not on_terminal():
        return line
    lines = textwrap.wrap(line, terminal_width(), subsequent_indent="  ",
                          break_long_words=False, break_on_hyphens=False)  # fmt: skip
    return "\n".join(lines)


def budget_line(opened: Study, budget: Budget) -> str:
    """The line above a budget study's trials: the budget, the steps its rungs checked
    trials at so far (stored with the trials, whatever the method: ``Budget(1, 20)`` with
    hyperband checks at 2 and 7, which the rung column numbers from 0) and the steps the
    trials trained in all."""
    line = f"budget: {budget_text(budget)}"
    with opened.store.reading():
        rungs, steps = opened.store.rung_checks(opened.id)
        trained = opened.store.trained(opened.id)
    if rungs:
        checked = [str(step) for step in steps]
        if len(checked) > 5:  # a long ladder (eta=2 over a million steps): its ends
            checked = [*checked[:2], "…", checked[-1]]
        if len(rungs) == 1:
            named = f"rung {rungs[0]}"
        elif rungs == list(range(rungs[0], rungs[-1] + 1)):
            named = f"rungs {rungs[0]}-{rungs[-1]}"
        else:
            named = f"rungs {', '.join(map(str, rungs))}"
        line += f", checked at {', '.join(checked)} ({named})"
    if budget.whole:
        line += f"; {trained} trained"
    return line


def _top_complete(
    study: Study, top: int | None, states: Collection[str]
) -> list[TrialRecord] | None:
    """With ``top``: the ``top`` best complete trials, read with one query, when there
    are that many and ``states`` lets complete trials in (:func:`_chosen` ranks them
    before any pruned one, so they are its choice); otherwise None: every trial is read."""
    if top is None or (states and TrialState.COMPLETE.value not in states):
        return None
    if study.optimizing.is_multi or study.optimizing.constrained:
        return None  # the front, or the feasible trials, first: every complete trial is read
    found = study.store.best_complete(study.id, study.direction, top)
    population = any(segment_of(t) is not None for t in found)  # its finals rank first
    return found if len(found) == top and not population else None


def _chosen(
    listed: list[TrialRecord], study: Study, top: int | None, sort: str | None
) -> list[TrialRecord]:
    """The trials to show, in order: with ``top``, the N best of those with a value (a
    failed trial is never among the best), then ordered by ``sort`` (default: best first
    with ``top``, else by number). With several objectives, best first is the Pareto
    front first, each part by the first objective; with constraints, the feasible
    trials first."""
    if top:  # best first already
        listed = best_first([t for t in listed if _ranked(t)], study)[:top]
    elif sort == "best":
        listed = best_first(listed, study)
    if (sort or ("best" if top else "number")) == "number":
        return sorted(listed, key=lambda t: t.number)
    return listed


TRIAL_COLUMNS = (
    "number",
    "state",
    "value",
    "step",
    "budget",
    "trained",
    "rung",
    "bracket",
    "duration",
    "origin",
    "method",
)  # a trial's columns, parameters aside


def param_columns(study: Study) -> dict[str, str]:
    """Each parameter's column: its name, or ``param_<name>`` where the name is one of
    the trial columns (a parameter called ``value`` must not hide the objective), with
    more ``param_`` in front while that is taken too (``value`` beside ``param_value``)."""
    columns: dict[str, str] = {}
    reserved = {*TRIAL_COLUMNS, *objective_columns(study).values(), *feasibility.columns(study)}
    if study.optimizing.is_multi:
        reserved.add(FRONT)
    taken = reserved | set(study.space)
    for name in study.space:
        column = name
        while column in reserved or (column != name and column in taken):
            column = f"param_{column}"
        taken.add(column)
        columns[name] = column
    return columns


def objective_columns(study: Study) -> dict[str, str]:
    """Each objective's column: ``value`` for a study of one; with several, each its
    metric's name (``objective_<name>`` where that is a trial column, :data:`FRONT`, the
    column after them that marks the trials on the Pareto front, or a constraint's)."""
    if not study.optimizing.is_multi:
        return {study.objective: "value"}
    others = {*TRIAL_COLUMNS, FRONT, *feasibility.columns(study)} - {"value"}
    return {m: f"objective_{m}" if m in others else m for m in study.objectives}


FRONT = "front"  # the column of a study of several objectives that marks its Pareto front


def trial_columns(study: Study) -> list[str]:
    """The columns of a study's trial rows, in order (a CSV of no trials still has them)."""
    number, state, _, *rest = TRIAL_COLUMNS
    values = list(objective_columns(study).values())
    if study.optimizing.is_multi:
        values.append(FRONT)
    values += feasibility.columns(study)
    return [number, state, *values, *param_columns(study).values(), *rest]


def trial_rows(study: Study, trials: list[TrialRecord], fmt: str) -> list[dict[str, Any]]:
    """One row per trial, for ``fmt``; a table rounds floats and, on a terminal, cuts long
    text values. A parameter the trial left inactive is a blank cell (a table, CSV) or no
    key at all (JSON, as in exports), never what the Choice option None is: ``None`` in
    a cell, ``null`` in JSON."""
    columns = param_columns(study)
    objectives = objective_columns(study)
    front = _front(trials, study) if study.optimizing.is_multi else None
    compact, whole = fmt == "table", not on_terminal()
    rows = []
    for trial in trials:
        row: dict[str, Any] = {"number": trial.number, "state": trial.state.value}
        if front is None:
            row["value"] = trial.value
        else:
            for name, column in objectives.items():
                value = trial.metrics.get(name) if trial.state is TrialState.COMPLETE else None
                row[column] = value
            row[FRONT] = (
                ("*" if trial.number in front else "") if compact else trial.number in front
            )
        row.update(feasibility.cells(study, trial, compact=compact))
        for name, column in columns.items():
            if name not in trial.params:  # inactive
                if fmt != "json":
                    row[column] = ""
                continue
            value = trial.params[name]
            if value is None and fmt != "json":  # the option, as `trial` shows it
                row[column] = "None"
            else:
                row[column] = short(value, whole=whole) if compact else value
        row["step"] = value_step(trial)
        row["budget"] = trial.budget
        row["trained"] = trial.trained
        row["rung"] = trial.rung
        row["bracket"] = trial.bracket
        row["duration"] = None if trial.duration is None else round(trial.duration, 3)
        row["origin"] = trial.origin
        row["method"] = proposer(trial) if compact else trial.method
        rows.append(row)
    return rows


def value_step(trial: TrialRecord) -> int | None:
    """The step of the budget a trial's value was measured at, where that differs from
    trial to trial (multi-fidelity): its budget when complete, its last check when
    stopped; None otherwise. Values are comparable only at equal steps."""
    if trial.state is TrialState.COMPLETE and trial.budget is not None:
        return int(trial.budget) if float(trial.budget).is_integer() else None
    if trial.state is TrialState.PRUNED and trial.checks:
        return max(trial.checks)
    return None


def _front(trials: Sequence[TrialRecord], study: Study) -> set[int]:
    """The numbers of ``trials`` on the study's Pareto front (several objectives)."""
    front = {t.number for t in study.best_trials}
    return {t.number for t in trials if t.number in front}


def _ranked(trial: TrialRecord) -> bool:
    """Whether ``trial`` can be among the best: complete or pruned, with a value (failed,
    queued and running trials have none)."""
    return trial.value is not None and trial.state in (TrialState.COMPLETE, TrialState.PRUNED)


def best_first(trials: Sequence[TrialRecord], study: Study) -> list[TrialRecord]:
    """Complete trials by value, in a population (PBT) the members' latest segments
    first (what ``best`` ranks: a member trained on from its earlier ones), with several
    objectives the Pareto front first, with constraints those that meet them first, then
    the others by how far they miss (:meth:`History.rank_key`'s order); then pruned
    ones, those stopped at a later step first (their values are comparable only at equal
    steps), by value; then the rest by number."""
    sign = 1.0 if study.direction == "minimize" else -1.0  # the first objective's
    multi = study.optimizing.is_multi
    final = _front(trials, study) if multi else {t.number for t in finals(trials)}

    def key(trial: TrialRecord) -> tuple[int, int, float, float, int]:
        if trial.value is None or not _ranked(trial):  # the check narrows for mypy
            return (2, 0, 0.0, math.inf, trial.number)
        value = sign * trial.value
        if trial.state is TrialState.COMPLETE:
            missed = feasibility.rank(study, trial)
            return (0, int(trial.number not in final), missed, value, trial.number)
        return (1, -max(trial.checks, default=0), 0.0, value, trial.number)

    return sorted(trials, key=key)

"""``hpotrack show``: the studies in a database, or the trials of one."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Collection, Iterable
from typing import Any

import click

from hpotrack.budget import Budget
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
    store_of,
    study_of,
    table,
    terminal_width,
    user_errors,
    when,
)
from hpotrack.lineage import finals, segment_of
from hpotrack.records import Origin, TrialRecord, TrialState
from hpotrack.store import Proposed, Store, StudyRow
from hpotrack.study import Study
from hpotrack.text import auto_choice, cut, plural

# only budget studies have them: no column of - otherwise
BUDGET_COLUMNS = ("step", "budget", "trained", "rung", "bracket")
# what a table too wide with folded parameters gives up, in this order (the steps the
# trials trained in all are on the line above the table; each trial's in `trial`)
SPARE = ("duration", "origin", "trained", "method")
MIN_PARAMS = 16  # the narrowest folded ``params`` column worth showing
MIN_NAME = 12  # the narrowest cut study name in the list of studies
# origins of trials whose note is not what the method says of a new configuration
NOT_PROPOSED = tuple(o.value for o in (Origin.PROMOTED, Origin.ENQUEUED, Origin.MANUAL,
                                       Origin.RETRIED))  # fmt: skip


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
    "first, as best ranks them), then pruned ones, those stopped at a later step first.",
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

    Above a study's trials, its seed: seed= of @hp.tune, or the one drawn when the study
    was created; the same script run with it on a new database repeats the search.
    A study with a budget names it above its trials, with the steps they trained in all
    (what --max-budget of resume counts), and each trial the step its value was measured
    at (step: its budget if complete, the check that stopped it if pruned; values compare
    only at equal steps) and the steps it trained itself (a trial that continued a
    checkpoint, a promotion say, counts those after the checkpoint's step; one that found
    no checkpoint trained from scratch and counts them all); trials that reached a rung
    of a multi-fidelity method show their rung (the last one checked; the line above
    says at which steps the rungs reached so far checked trials) and bracket.
    Parameters named like a column (state, value, ...) show as param_<name>. A
    conditional parameter a trial left inactive (when=) is a blank cell, and JSON leaves
    its key out of that trial's object; the Choice option None reads None (JSON: null),
    so the two never look alike. Below the
    table, "method:" says what the method noted of the latest configuration it proposed
    (auto: which method it chose and why); in the list of studies, an auto study's
    method reads "auto (tpe)", the one it chose last (JSON and CSV keep "auto"). A note
    below the table names running trials whose worker is gone (killed, say); the list
    of studies counts them. On a terminal, long text is cut to fit: parameter values,
    study names, and on one too narrow for the table the parameters fold into one
    column (duration, origin, trained and method go when that needs the room, the
    list of studies its last activity); to a pipe or a file every column stays whole.
    A method column, which method proposed each trial (auto's choice: "auto (tpe)"),
    is in the table only when the trials shown came from more than one (a study
    reopened with another method, or auto changing its choice); JSON and CSV always
    have it (the registered name: "tpe").
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
        rows = _study_rows(store_of(ctx), compact=fmt == "table")
        emit(_fit_studies(rows) if fmt == "table" else rows, fmt, STUDY_COLUMNS)
        return
    opened = study_of(ctx, study)
    listed = _top_complete(opened, top, states)
    if listed is None and states:  # the trials in those states: a query, not every trial
        listed = opened.store.trials_in_states(opened.id, states)
    elif listed is None:  # every trial is needed
        listed = opened.trials
    trials = _chosen(listed, opened.direction, top, sort)
    if fmt == "table":
        click.echo(f"seed: {opened.seed}")  # what repeats the search (docs/resuming.md)
        if opened.budget is not None:
            click.echo(_budget_line(opened, opened.budget))
        rows = _drop_empty(_trial_rows(opened, trials, fmt), BUDGET_COLUMNS)
        if len({row["method"] for row in rows} - {None}) < 2:  # one method: the study's
            rows = [_without(row, ("method",)) for row in rows]
        if opened.budget is not None and all(r.get("budget") == opened.budget.max for r in rows):
            rows = [_without(row, ("budget",)) for row in rows]  # the header line says it
        if rows:
            click.echo(_fitted_table(rows, list(param_columns(opened).values())))
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
            click.echo(_method_line(latest.note))
        running = [t.number for t in trials if t.state is TrialState.RUNNING]
        gone = sorted(opened.workers_gone(running)) if running else []
        if gone:
            click.echo(
                f"{plural(len(gone), 'trial')} ({', '.join(map(str, gone))}) still read "
                "running, but the worker is gone (killed?): the study's next run marks "
                "them lost and retries them"
            )
    else:
        emit(_trial_rows(opened, trials, fmt), fmt, trial_columns(opened))


def latest_proposed(store: Store, study_id: int) -> Proposed | None:
    """What the method noted of the latest configuration it proposed, and which method
    that was (one query along the number index): not of a promotion, nor of a trial the
    user queued or ran, nor of a retry, whose notes are not the method's say on a new
    configuration."""
    return store.latest_proposed(study_id, besides=NOT_PROPOSED)


def _method_line(note: str) -> str:
    """``method: <note>``, wrapped at spaces to the width of a terminal (auto's choice
    with bohb's note runs past 100 columns); whole to a pipe or a file."""
    line = f"method: {note}"
    if not on_terminal():
        return line
    lines = textwrap.wrap(line, terminal_width(), subsequent_indent="  ",
                          break_long_words=False, break_on_hyphens=False)  # fmt: skip
    return "\n".join(lines)


def _budget_line(opened: Study, budget: Budget) -> str:
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
    found = study.store.best_complete(study.id, study.direction, top)
    population = any(segment_of(t) is not None for t in found)  # its finals rank first
    return found if len(found) == top and not population else None


def _chosen(
    listed: list[TrialRecord], direction: str, top: int | None, sort: str | None
) -> list[TrialRecord]:
    """The trials to show, in order: with ``top``, the N best of those with a value (a
    failed trial is never among the best), then ordered by ``sort`` (default: best first
    with ``top``, else by number)."""
    if top:  # best first already
        listed = _best_first([t for t in listed if _ranked(t)], direction)[:top]
    elif sort == "best":
        listed = _best_first(listed, direction)
    if (sort or ("best" if top else "number")) == "number":
        return sorted(listed, key=lambda t: t.number)
    return listed


def _fitted_table(rows: list[dict[str, Any]], names: list[str]) -> str:
    """The table of ``rows`` (not empty), fitted to the terminal: columns with nothing in
    them go first; if one column per parameter is still too wide, the parameters fold
    into one ``params`` column of ``name=value`` pairs, cut to fit; if that column would
    be narrower than ``MIN_PARAMS`` (or than its text, when shorter), the ``SPARE``
    columns go too, one by one, as far as needed (rungs and brackets need the room: 80
    columns held a whole budget's table with brackets only without ``trained``). Output
    to a pipe or a file (no terminal, no ``COLUMNS``) keeps every column whole.

    The table is rendered once and measured from that rendering (``_spans``): when it
    fits, that is what is printed; only a table too wide is rendered a second time,
    fitted. Rendering 20,000 trials takes seconds, and measuring it apart (each column
    rendered alone) cost as much as printing it."""
    text = table(rows)
    if not on_terminal():
        return text
    width = terminal_width()
    span = _spans(rows, text)
    columns = _columns(rows)
    if span(columns) <= width:
        return text
    empty = _empty(rows, [key for key in rows[0] if key not in names])
    columns = [column for column in columns if column not in empty]
    if span(columns) <= width:  # e.g. without a budget column nobody uses
        return table([_without(row, empty) for row in rows])
    others = [column for column in columns if column not in names]  # beside ``params``
    texts = [_param_text(row, names) for row in rows]
    # the room ``params`` asks for: its longest text up to MIN_PARAMS, and at least its
    # header with tabulate's 2 spaces of padding
    need = min(MIN_PARAMS, max(len("params") + 2, *map(len, texts)))
    for column in SPARE:
        if width - span(others) - 2 >= need:  # ``params`` is last, 2 spaces away
            break
        others = [other for other in others if other != column]
    room = max(MIN_PARAMS, width - span(others) - 2)
    gone = empty | set(names) | set(SPARE).difference(others)
    return table(
        [
            {**_without(row, gone), "params": cut(text, room)}
            for row, text in zip(rows, texts, strict=True)
        ]
    )


def _fit_studies(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The list of studies within the terminal: when too wide, the last activity gives
    up its time of day, then long names are cut (to ``MIN_NAME`` at least); when even
    that is too wide (a study with pruned, failed and running trials has a long trials
    cell), the last activity goes (JSON and CSV keep it) and names are cut only as far
    as the room left needs. To a pipe or a file, nothing is cut."""
    if not rows or not on_terminal():
        return rows
    width = terminal_width()
    if _width(rows) > width:
        rows = [{**row, "last active": row["last active"][:10]} for row in rows]
    if _width(rows) <= width:
        return rows
    named = _cut_names(rows, width)
    if _width(named) <= width:
        return named
    return _cut_names([_without(row, ("last active",)) for row in rows], width)


def _cut_names(rows: list[dict[str, Any]], width: int) -> list[dict[str, Any]]:
    """``rows`` with study names cut to what ``width`` leaves them (``MIN_NAME`` at least)."""
    room = max(MIN_NAME, width - _width([_without(row, ("study",)) for row in rows]) - 2)
    return [{**row, "study": cut(row["study"], room)} for row in rows]


def _param_text(row: dict[str, Any], names: list[str]) -> str:
    """A row's parameters as ``name=value`` pairs, for the folded ``params`` column; those
    the trial left inactive (blank cells) are left out."""
    return " ".join(f"{name}={row[name]}" for name in names if row[name] != "")


def _drop_empty(rows: list[dict[str, Any]], keys: Iterable[str]) -> list[dict[str, Any]]:
    """``rows`` without those of ``keys`` that are None in every row (a column of ``-``
    tells nothing)."""
    empty = _empty(rows, keys)
    return [_without(row, empty) for row in rows]


def _empty(rows: list[dict[str, Any]], keys: Iterable[str]) -> set[str]:
    """Those of ``keys`` that are None (or missing) in every row."""
    return {key for key in keys if all(row.get(key) is None for row in rows)}


def _without(row: dict[str, Any], keys: Collection[str]) -> dict[str, Any]:
    """A copy of ``row`` without the columns ``keys``."""
    return {key: value for key, value in row.items() if key not in keys}


def _width(rows: list[dict[str, Any]]) -> int:
    """The width of ``table(rows)``, its longest line (``rows`` not empty)."""
    return _spans(rows)(_columns(rows))


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """The columns of ``table(rows)``: every key of the rows, in order of appearance."""
    return list(dict.fromkeys(key for row in rows for key in row))


def _spans(rows: list[dict[str, Any]], text: str | None = None) -> Callable[[Collection[str]], int]:
    """How wide the table of ``rows`` is with only the given columns (a subset of
    ``_columns(rows)``), from ``text``, its rendering (``table(rows)``, rendered when not
    given): tabulate's ``simple`` format lays each column out from its own cells, puts 2
    spaces between columns and underlines each header with a rule as wide as its column,
    so the widths of any subset are added up from the rule's."""
    rendered = table(rows) if text is None else text
    rule = rendered.split("\n", 2)[1]
    widths = dict(zip(_columns(rows), map(len, rule.split("  ")), strict=True))
    return lambda columns: sum(widths[c] for c in columns) + 2 * max(0, len(columns) - 1)


STUDY_COLUMNS = (
    "study",
    "method",
    "direction",
    "budget",
    "trials",
    *(state.value for state in TrialState),
    "running_worker_gone",
    "best",
    "last_activity",
)  # the list of studies in JSON and CSV (a CSV of no studies still has them)


def _study_rows(store: Store, *, compact: bool) -> list[dict[str, Any]]:
    """One row per study; ``compact`` folds the per-state counts into one column."""
    rows = []
    for row in store.list_studies():
        study = Study(store, row)
        summary = store.summary(row.id)  # one pass in SQLite, not every trial read
        total = sum(summary.counts.values())
        # no trial started yet (none, or only queued ones): active since its creation
        last = row.created if summary.last_active is None else summary.last_active
        counts = {state.value: n for state, n in summary.counts.items()}
        running = summary.running
        gone = len(study.workers_gone(running)) if running else 0
        best = study.best if summary.counts[TrialState.COMPLETE] else None
        best_value = None if best is None else best.value
        if compact:  # 80 columns: states folded into one cell, minutes are enough
            labels = {"running": f"running ({gone} with the worker gone)"} if gone else {}
            states = ", ".join(f"{n} {labels.get(s, s)}" for s, n in counts.items() if n)
            rows.append(
                {
                    "study": row.name,
                    "method": _method_cell(store, row),
                    "goal": row.direction[:3],
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
                "direction": row.direction,
                "budget": budget_text(study.budget),
                "trials": total,
                **counts,
                "running_worker_gone": gone,
                "best": best_value,
                "last_activity": when(last),
            }
        )
    return rows


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
    taken = set(TRIAL_COLUMNS) | set(study.space)
    for name in study.space:
        column = name
        while column in TRIAL_COLUMNS or (column != name and column in taken):
            column = f"param_{column}"
        taken.add(column)
        columns[name] = column
    return columns


def trial_columns(study: Study) -> list[str]:
    """The columns of a study's trial rows, in order (a CSV of no trials still has them)."""
    number, state, value, *rest = TRIAL_COLUMNS
    return [number, state, value, *param_columns(study).values(), *rest]


def _trial_rows(study: Study, trials: list[TrialRecord], fmt: str) -> list[dict[str, Any]]:
    """One row per trial, for ``fmt``; a table rounds floats and, on a terminal, cuts long
    text values. A parameter the trial left inactive is a blank cell (a table, CSV) or no
    key at all (JSON, as in exports), never what the Choice option None is: ``None`` in
    a cell, ``null`` in JSON."""
    columns = param_columns(study)
    compact, whole = fmt == "table", not on_terminal()
    rows = []
    for trial in trials:
        row: dict[str, Any] = {
            "number": trial.number,
            "state": trial.state.value,
            "value": trial.value,
        }
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


def _ranked(trial: TrialRecord) -> bool:
    """Whether ``trial`` can be among the best: complete or pruned, with a value (failed,
    queued and running trials have none)."""
    return trial.value is not None and trial.state in (TrialState.COMPLETE, TrialState.PRUNED)


def _best_first(trials: list[TrialRecord], direction: str) -> list[TrialRecord]:
    """Complete trials by value, in a population (PBT) the members' latest segments
    first (what ``best`` ranks: a member trained on from its earlier ones); then pruned
    ones, those stopped at a later step first (their values are comparable only at equal
    steps), by value; then the rest by number."""
    sign = 1.0 if direction == "minimize" else -1.0
    final = {t.number for t in finals(trials)}

    def key(trial: TrialRecord) -> tuple[int, int, float, int]:
        if trial.value is None or not _ranked(trial):  # the check narrows for mypy
            return (2, 0, math.inf, trial.number)
        if trial.state is TrialState.COMPLETE:
            return (0, int(trial.number not in final), sign * trial.value, trial.number)
        return (1, -max(trial.checks, default=0), sign * trial.value, trial.number)

    return sorted(trials, key=key)

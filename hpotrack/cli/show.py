"""``hpotrack show``: the studies in a database, or the trials of one."""

from __future__ import annotations

import math
import shutil
from typing import Any

import click

from hpotrack.cli.common import (
    cli,
    emit,
    format_option,
    store_of,
    study_of,
    table,
    user_errors,
    when,
)
from hpotrack.records import TrialRecord, TrialState
from hpotrack.store import Store
from hpotrack.study import Study


@cli.command()
@click.argument("study", required=False)
@click.option("--top", type=click.IntRange(min=1), help="Only the N best trials.")
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
    help="Order of trials (default: best first with --top, else by number).",
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
    """List the studies, or the trials of STUDY."""
    if study is None:
        emit(_study_rows(store_of(ctx), compact=fmt == "table"), fmt)
        return
    opened = study_of(ctx, study)
    trials = [t for t in opened.trials if not states or t.state.value in states]
    if (sort or ("best" if top else "number")) == "best":
        trials = _best_first(trials, opened.direction)
    if top:
        trials = trials[:top]
    if fmt == "table":
        emit(_fit(_trial_rows(opened, trials, compact=True), list(opened.space)), fmt)
    else:
        emit(_trial_rows(opened, trials, compact=False), fmt)


def _fit(rows: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    """Rows that fit the terminal: columns with nothing in them go first; if one column
    per parameter is still too wide, the parameters fold into one ``params`` column of
    ``name=value`` pairs, cut to fit."""
    width = shutil.get_terminal_size((80, 24)).columns
    if not rows or _width(rows) <= width:
        return rows
    empty = [key for key in rows[0] if key not in names and all(row[key] is None for row in rows)]
    rows = [{k: v for k, v in row.items() if k not in empty} for row in rows]
    if _width(rows) <= width:  # e.g. without a budget column nobody uses
        return rows
    folded = []
    for row in rows:
        pairs = " ".join(f"{name}={row[name]}" for name in names)
        rest = {key: value for key, value in row.items() if key not in names}
        folded.append({**rest, "params": pairs})
    room = max(
        16, width - _width([{k: v for k, v in r.items() if k != "params"} for r in folded]) - 2
    )
    for row in folded:
        if len(row["params"]) > room:
            row["params"] = row["params"][: room - 1] + "…"
    return folded


def _width(rows: list[dict[str, Any]]) -> int:
    return max(map(len, table(rows).splitlines()))


def _study_rows(store: Store, *, compact: bool) -> list[dict[str, Any]]:
    """One row per study; ``compact`` folds the per-state counts into one column."""
    rows = []
    for row in store.list_studies():
        study = Study(store, row)
        history = study.refresh()
        best = history.best
        last = max((t.finished or t.started or 0.0 for t in history.trials), default=row.created)
        counts = {state.value: history.count(state) for state in TrialState}
        best_value = None if best is None else best.value
        if compact:  # 80 columns: states folded into one cell, minutes are enough
            states = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
            rows.append(
                {
                    "study": row.name,
                    "method": study.method.name,
                    "goal": row.direction[:3],
                    "trials": f"{len(history.trials)}: {states or 'none'}",
                    "best": best_value,
                    "last active": (when(last) or "")[:16],
                }
            )
            continue
        rows.append(
            {
                "study": row.name,
                "method": study.method.name,
                "direction": row.direction,
                "trials": len(history.trials),
                **counts,
                "best": best_value,
                "last activity": when(last),
            }
        )
    return rows


def _trial_rows(study: Study, trials: list[TrialRecord], *, compact: bool) -> list[dict[str, Any]]:
    rows = []
    for trial in trials:
        row: dict[str, Any] = {
            "number": trial.number,
            "state": trial.state.value,
            "value": trial.value,
        }
        for name, value in trial.params.items():
            row[name] = _short(value) if compact else value
        row["budget"] = trial.budget
        row["duration"] = None if trial.duration is None else round(trial.duration, 3)
        row["origin"] = trial.origin
        rows.append(row)
    return rows


def _best_first(trials: list[TrialRecord], direction: str) -> list[TrialRecord]:
    sign = 1.0 if direction == "minimize" else -1.0

    def key(trial: TrialRecord) -> tuple[int, float, int]:
        ranked = trial.state is TrialState.COMPLETE and trial.value is not None
        return (0 if ranked else 1, sign * trial.value if ranked else math.inf, trial.number)  # type: ignore[operator]

    return sorted(trials, key=key)


def _short(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, str) and len(value) > 16:
        return value[:15] + "…"
    return value

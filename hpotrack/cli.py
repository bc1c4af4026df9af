"""The ``hpotrack`` command: inspect, export and resume studies in a database file.

Habits from sqlite-utils: option bundles as decorators, tabulate for tables, ``--format``
wherever output is data. A user mistake is one line on stderr and exit code 2, never a
traceback: every :class:`HpotrackError` is turned into a :class:`CliError` at this edge.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from tabulate import tabulate

from hpotrack.errors import HpotrackError
from hpotrack.records import TrialRecord, TrialState
from hpotrack.store import Store, default_db_path, open_store
from hpotrack.study import Study, load_study

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "json", "csv")


class CliError(click.ClickException):
    """One line on stderr, exit code 2."""

    exit_code = 2


def user_errors(fn: F) -> F:
    """Turn hpotrack errors into a one-line message at the CLI's edge."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HpotrackError as exc:
            raise CliError(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def format_option(choices: Sequence[str] = FORMATS, default: str = "table") -> Callable[[F], F]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help="Output format.",
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="HPOTRACK_DB",
    default=None,
    help="Database file (default: $HPOTRACK_DB, else ./hpotrack.db).",
)
@click.version_option(package_name="hpotrack")
@click.pass_context
def cli(ctx: click.Context, db: Path | None) -> None:
    """Inspect, export and resume hpotrack studies."""
    ctx.obj = default_db_path(db)


def _store(ctx: click.Context) -> Store:
    return open_store(ctx.obj, must_exist=True)


def _study(ctx: click.Context, name: str) -> Study:
    return load_study(name, db=ctx.obj)


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
        _emit(_study_rows(_store(ctx), compact=fmt == "table"), fmt)
        return
    opened = _study(ctx, study)
    trials = [t for t in opened.trials if not states or t.state.value in states]
    if (sort or ("best" if top else "number")) == "best":
        trials = _best_first(trials, opened.direction)
    if top:
        trials = trials[:top]
    _emit(_trial_rows(opened, trials, compact=fmt == "table"), fmt)


def _study_rows(store: Store, *, compact: bool) -> list[dict[str, Any]]:
    """One row per study; ``compact`` folds the per-state counts into one column."""
    rows = []
    for row in store.list_studies():
        study = Study(store, row)
        history = study.refresh()
        best = history.best
        last = max((t.finished or t.started or 0.0 for t in history.trials), default=row.created)
        counts = {state.value: history.count(state) for state in TrialState}
        if compact:
            states = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
            summary: dict[str, Any] = {"trials": f"{len(history.trials)}: {states or 'none'}"}
        else:
            summary = {"trials": len(history.trials), **counts}
        rows.append(
            {
                "study": row.name,
                "method": study.method.name,
                "direction": row.direction[:3] if compact else row.direction,
                **summary,
                "best": None if best is None else best.value,
                "last activity": _when(last),
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


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def _emit(rows: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, default=str))
    elif fmt == "csv":
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        click.echo(buffer.getvalue(), nl=False)
    elif rows:
        click.echo(tabulate(rows, headers="keys", floatfmt=".6g", missingval="-"))
    else:
        click.echo("(nothing to show)")


def main() -> None:
    cli(prog_name="hpotrack")

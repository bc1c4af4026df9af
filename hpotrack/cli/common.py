"""What every ``hpotrack`` command shares: the group, the ``--db`` option, output formats,
and the edge where hpotrack errors become one-line messages.

Habits from sqlite-utils: option bundles as decorators, tabulate for tables, ``--format``
wherever output is data. A user mistake is one line on stderr and exit code 2, never a
traceback: every :class:`HpotrackError` is turned into a :class:`CliError` here.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from tabulate import tabulate

from hpotrack.budget import Budget
from hpotrack.definition import load_study
from hpotrack.errors import HpotrackError
from hpotrack.jsonable import jsonable
from hpotrack.records import Edge
from hpotrack.store import Store, default_db_path, open_store
from hpotrack.study import Study

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "json", "csv")
WIDTH = 80  # what text output (not tables of trials, which fit the terminal) stays within


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
        except UnicodeError as exc:
            raise CliError(f"names must be valid Unicode text: {exc}") from None
        except sqlite3.DatabaseError as exc:
            db = click.get_current_context().obj
            raise CliError(f"{db}: database error: {exc} (is it damaged?)") from None

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


def store_of(ctx: click.Context) -> Store:
    return open_store(ctx.obj, must_exist=True)


def study_of(ctx: click.Context, name: str) -> Study:
    return load_study(name, db=ctx.obj)


def table(rows: list[dict[str, Any]]) -> str:
    """Rows as a plain-text table (tabulate; None shows as ``-``)."""
    return str(tabulate(rows, headers="keys", floatfmt=".6g", missingval="-"))


def emit(rows: list[dict[str, Any]], fmt: str, columns: Sequence[str] = ()) -> None:
    """Rows as ``table``, ``json`` or ``csv`` on stdout. ``columns``: the CSV header when
    there are no rows (a file of no rows still names its columns, so that CSV readers
    load it as an empty table instead of failing)."""
    if fmt == "json":
        click.echo(json.dumps(jsonable(rows), indent=2, allow_nan=False))
    elif fmt == "csv":
        buffer = io.StringIO()
        header = list(rows[0]) if rows else list(columns)
        if header:
            writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        click.echo(buffer.getvalue(), nl=False)
    elif rows:
        click.echo(table(rows))
    else:
        click.echo("(nothing to show)")


def echo_json(obj: object) -> None:
    """Pretty JSON on stdout; NaN and infinities become null."""
    click.echo(json.dumps(jsonable(obj), indent=2, allow_nan=False))


def when(timestamp: float | None) -> str | None:
    """A Unix time as local ``YYYY-MM-DD HH:MM:SS`` (None stays None)."""
    if timestamp is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def budget_text(budget: Budget | None) -> str | None:
    """A study's budget as ``epochs 1..27``: its unit and range in one short cell
    (``steps 1..9`` for an unnamed budget, not ``budget 1..9``)."""
    if budget is None:
        return None
    return f"{budget.unit} {budget.min:g}..{budget.max:g}"


def num(value: float | None) -> str:
    """A number in 6 significant digits; None is ``-``."""
    return "-" if value is None else f"{value:.6g}"


def short(value: Any) -> Any:
    """A value for a narrow cell: floats in 4 significant digits, long strings cut."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, str) and len(value) > 16:
        return value[:15] + "…"
    return value


def edge_dict(edge: Edge) -> dict[str, Any]:
    """A lineage edge as JSON: parent, kind, step, detail."""
    return {"parent": edge.parent, "kind": edge.kind, "step": edge.step, "detail": edge.detail}

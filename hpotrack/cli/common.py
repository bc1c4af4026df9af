"""What every ``hpotrack`` command shares: the group, the ``--db`` option, output formats,
and the edge where hpotrack errors become one-line messages.

Habits from sqlite-utils: option bundles as decorators, tabulate for tables, ``--format``
wherever output is data. A user mistake is one line on stderr and exit code 2, never a
traceback: every :class:`HpotrackError` is turned into a :class:`CliError` here, and so is
every click usage error (click's own would print a usage block above its error line).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os
import shlex
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import click
from tabulate import tabulate

from hpotrack.budget import Budget
from hpotrack.connection import wait_for_a_creator
from hpotrack.csv_nul import nul_explained
from hpotrack.db_path import default_db_path, is_url, refuse_url, sqlite_url_path
from hpotrack.definition import load_study
from hpotrack.errors import HpotrackError
from hpotrack.jsonable import jsonable, jsonable_items
from hpotrack.records import Edge, TrialRecord
from hpotrack.sqlite_errors import access_denied
from hpotrack.store import Store, open_store
from hpotrack.study import Study
from hpotrack.text import Rewording, cut

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "json", "csv")
JSON_BATCH = 1000  # the items of a JSON list encoded and written at once
WIDTH = 80  # what text output (not tables of trials, which fit the terminal) stays within


DB_OPTION = {"pass db=": "pass --db ", "e.g. db=": "e.g. --db "}
"""The library's advice names ``db=``; the command line's, its ``--db`` option."""
WORDING = Rewording(DB_OPTION)


class CliError(click.ClickException):
    """One line on stderr, exit code 2."""

    exit_code = 2


def one_line(exc: click.UsageError, path: str, args: Sequence[str] = ()) -> CliError:
    """A click usage error as one line that names the help to read, instead of click's
    usage block; ``path`` is the command's (``hpotrack show``) when the error has no
    context, ``args`` what it was given. An argument that starts with a dash (trial -1, a
    study named -x) reads as an unknown option to click: the line says so."""
    ctx = exc.ctx
    if ctx is not None:
        path = ctx.command_path
    if isinstance(exc, click.NoSuchOption) and ctx is not None and not exc.possibilities:
        dashed = _dashed_argument(ctx.command, path, exc.option_name, args)
        if dashed is not None:
            return CliError(f"{dashed} (see '{path} --help')")
    message = " ".join(exc.format_message().splitlines()).rstrip(".")
    return CliError(f"{message} (see '{path} --help')")


def _dashed_argument(
    command: click.Command, path: str, option: str, args: Sequence[str]
) -> str | None:
    """What to say when the unknown short ``option`` may be an argument of ``command``
    that starts with a dash: a negative trial number, or a study name (which goes after
    ``--``); None when ``command`` takes no such argument or no token starts with ``option``."""
    names = [p.name for p in command.params if isinstance(p, click.Argument)]
    given = args[: list(args).index("--")] if "--" in args else args
    token = next((a for a in given if a.startswith(option) and not a.startswith("--")), None)
    if not names or token is None:
        return None
    try:
        float(token)
    except ValueError:
        return (
            f"no option {token!r}; if it is a study name, put the options first and -- "
            f"before it: {path} [OPTIONS] -- {shlex.quote(token)} ..."
        )
    if "number" in names:
        return f"{token!r} is not a trial number: trials are numbered from 0"
    return None


# click >= 8.2 raises this for a group called without a command (its message is the help)
_NO_ARGS: tuple[type[Exception], ...] = tuple(
    error for error in [getattr(click.exceptions, "NoArgsIsHelpError", None)] if error is not None
)


class Command(click.Command):
    """A command whose usage errors are one line (:func:`one_line`)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        given = list(args)  # click consumes ``args`` while parsing
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            if isinstance(exc, _NO_ARGS) and exc.ctx is not None:  # bare `hpotrack`: the help
                click.echo(exc.ctx.get_help())
                raise SystemExit(0) from None
            where = [parent.command_path] if parent is not None else []
            path = " ".join([*where, info_name or self.name or ""])
            raise one_line(exc, path, given) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # raised by the command itself (ctx.fail, ...)
            raise one_line(exc, ctx.command_path) from None

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """A command's options, then the group's ``--db``, which it takes too."""
        super().format_options(ctx, formatter)
        group = ctx.parent
        if group is None:
            return
        db = next((p for p in group.command.params if p.name == "db"), None)
        if isinstance(db, click.Option):
            with formatter.section(f"Options of {group.command_path}"):
                formatter.write_dl([(f"--db {db.metavar}", db.help or "")])


class Group(Command, click.Group):
    """The ``hpotrack`` group: its own usage errors (an unknown command, say) and those
    of its commands are one line, and its ``--db`` may come after the command too."""

    command_class = Command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._db_first(ctx, args))

    def _db_first(self, ctx: click.Context, args: list[str]) -> list[str]:
        """``args`` with a ``--db PATH`` given after the command moved before it, where
        the group reads it: ``hpotrack show mlp --db runs.db`` is how Optuna's
        ``--storage`` and sqlite-utils' path are typed, and it was an error. Only
        options of the command: not after ``--``, nor the value of one of its options
        (``export mlp -o --db`` writes a file named ``--db``)."""
        at = _command_index(args)
        command = None if at is None else self.get_command(ctx, args[at])
        if at is None or command is None:
            return args
        taking_values = {
            name
            for param in command.params
            if isinstance(param, click.Option) and not param.is_flag and not param.count
            for name in param.opts
        }
        moved: list[str] = []
        rest: list[str] = []
        tail = iter(args[at + 1 :])
        for token in tail:
            if token == "--":
                rest += [token, *tail]
            elif token in taking_values:
                rest += [token, *islice(tail, 1)]
            elif token == "--db":
                path = next(tail, None)
                if path is None:  # read before the command, it would take the command's name
                    raise click.UsageError("Option '--db' requires an argument.", ctx)
                moved += [token, path]
            elif token.startswith("--db="):
                moved.append(token)
            else:
                rest.append(token)
        return [*args[:at], *moved, args[at], *rest]


def _command_index(args: Sequence[str]) -> int | None:
    """Where the command's name is in the group's ``args`` (after the group's own
    options: ``--db PATH``, flags), None when there is none."""
    tokens = iter(enumerate(args))
    for index, token in tokens:
        if token == "--db":
            next(tokens, None)
        elif not token.startswith("-"):
            return index
    return None


class WholeNumber(click.IntRange):
    """A whole number from ``minimum`` up, whose error reads as words ("'x' is not a
    whole number >= 1") instead of click's ("is not a valid integer range")."""

    def __init__(self, minimum: int, maximum: int = 2**63 - 1) -> None:
        super().__init__(min=minimum, max=maximum)  # default: what SQLite stores

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            large = str(value).strip().isdigit() and self.max is not None and int(value) > self.max
            limit = f"at most {self.max:,}" if large else f">= {self.min}"
            self.fail(f"{value!r} is not a whole number {limit}", param, ctx)


class PositiveNumber(click.FloatRange):
    """A number above 0, whose error reads as words ("'x' is not a number > 0")."""

    def __init__(self) -> None:
        super().__init__(min=0, min_open=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            number = super().convert(value, param, ctx)
        except click.BadParameter:
            number = math.nan
        if math.isnan(number):  # nan passed the range check
            self.fail(f"{value!r} is not a number > 0", param, ctx)
        return number


class FiniteNumber(click.ParamType):  # type: ignore[type-arg]
    """Any finite number (a value of an objective), whose error reads as words ("'x'
    is not a finite number")."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class FileName(click.Path):
    """A file's name as a :class:`~pathlib.Path` (click's ``Path``), refusing an empty
    one: ``Path("")`` is the current folder, which ``export -o ''`` took for the file to
    write (a traceback) and ``import ''`` for a folder to read."""

    def __init__(self, *, dir_okay: bool = True) -> None:
        super().__init__(dir_okay=dir_okay, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail(f"the file name is empty ({value!r}): name a file", param, ctx)
        if isinstance(value, str) and is_url(value):  # Optuna's storage=, pasted
            path = sqlite_url_path(value)  # (before Path reads sqlite:///x.db as sqlite:/x.db)
            named = f"; the file it names is {path}" if path not in (None, "", ":memory:") else ""
            shown = value if path is not None else value.partition(":")[0] + "://..."
            self.fail(f"{shown} is a URL, not a file name{named}", param, ctx)
        return super().convert(value, param, ctx)


def user_errors(fn: F) -> F:
    """Turn hpotrack errors into a one-line message at the CLI's edge.

    No UnicodeError is caught here: a name that is not valid Unicode (an argument's
    bytes that were not UTF-8) is refused where names come in (``load_study`` finds no
    study by it; a definition, an import, a parameter or metric name says so). Caught
    here, every other one read "names must be valid Unicode text": a metric holding
    such bytes failing ``export -o x.csv``, an answer to ``delete``'s question, an error
    in the user's own method code. Each is handled where it arises."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HpotrackError as exc:
            raise CliError(WORDING.reword(str(exc))) from None
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


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    type=click.Path(readable=False),  # as typed (a Path would read sqlite:///x.db as
    # sqlite:/x.db); an unreadable file is existing_db's to explain
    metavar="FILE",
    envvar="HPOTRACK_DB",
    default=None,
    help="Database file (default: $HPOTRACK_DB, else ./hpotrack.db).",
)
@click.version_option(package_name="hpotrack")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """Inspect, export, resume and stop hpotrack studies."""
    if db is not None:  # checked here, where click knows where it came from
        env = ctx.get_parameter_source("db") is click.core.ParameterSource.ENVIRONMENT
        name = "HPOTRACK_DB" if env else "--db"
        try:
            refuse_url(db, name, lambda path: f"{name}{'=' if env else ' '}{shlex.quote(path)}")
        except HpotrackError as exc:
            raise CliError(str(exc)) from None
        if not db.strip():  # Path("") is the current folder: "names a directory, :"
            raise CliError(f"{name} is empty: it must name a database file, e.g. hpotrack.db")
        if os.path.isdir(db):  # False where it may not look (access_denied says so later)
            raise CliError(
                f"{name} names a directory, {db}: it must name a database file, "
                f"e.g. {Path(db) / 'hpotrack.db'}"
            )
    ctx.obj = default_db_path(db)


def store_of(ctx: click.Context) -> Store:
    return open_store(existing_db(ctx), must_exist=True)


def study_of(ctx: click.Context, name: str) -> Study:
    return load_study(name, db=existing_db(ctx))


def existing_db(ctx: click.Context) -> Path:
    """The database to read, which must be there: a missing or empty file (or no file:
    a folder, /dev/null) is one line in the command line's words (the library's says
    ``db=PATH``), naming where the path came from, so that nobody is told to set
    HPOTRACK_DB when it points there already."""
    path: Path = ctx.obj
    denied = access_denied(path)  # before any stat, which raises PermissionError there
    if denied is not None:
        raise CliError(denied)
    if path.is_file() and path.stat().st_size == 0:
        wait_for_a_creator(path)  # a first optimize() may be making it right now
    if path.is_file() and path.stat().st_size > 0:
        return path
    if path.is_file():
        what = "an empty file"
    elif path.is_dir():  # ./hpotrack.db a folder: --db and HPOTRACK_DB are checked earlier
        what = "a folder, not a file,"
    elif path.exists():  # /dev/null, a pipe: SQLite would take it for a copy without tables
        what = "a device or pipe, not a file,"
    else:
        what = "no database"
    source = ctx.find_root().get_parameter_source("db")
    if source is click.core.ParameterSource.ENVIRONMENT:
        where = " (HPOTRACK_DB is set and points there)"
        fix = "pass --db PATH, or change HPOTRACK_DB, to the file your study wrote"
    elif source is click.core.ParameterSource.COMMANDLINE:
        where, fix = "", "pass --db PATH to the file your study wrote"
    else:
        where, fix = "", "pass --db PATH (or set HPOTRACK_DB) to the file your study wrote"
    raise CliError(f"{what} at {path}{where}: {fix}")


def on_terminal() -> bool:
    """Whether text goes to a terminal of a known width, where tables are fitted and
    long cells cut; to a pipe or a file (no terminal, no ``COLUMNS``) nothing is cut."""
    return "COLUMNS" in os.environ or (sys.stdout is not None and sys.stdout.isatty())


def terminal_width() -> int:
    return shutil.get_terminal_size((80, 24)).columns


def table(rows: list[dict[str, Any]], text: Sequence[str] = ()) -> str:
    """Rows as a plain-text table (tabulate; None shows as ``-``). ``text``: columns shown
    as they are, never read as numbers (tabulate printed a source hash ``0e053947`` as
    ``0``, a commit of digits alone without its leading zeros)."""
    keys = list(rows[0]) if rows else []
    verbatim = [keys.index(column) for column in text if column in keys]
    return str(
        tabulate(
            rows,
            headers="keys",
            floatfmt=".6g",
            missingval="-",
            disable_numparse=verbatim or False,
        )
    )


def emit(rows: list[dict[str, Any]], fmt: str, columns: Sequence[str] = ()) -> None:
    """Rows as ``table``, ``json`` or ``csv`` on stdout. ``columns``: the CSV header when
    there are no rows (a file of no rows still names its columns, so that CSV readers
    load it as an empty table instead of failing)."""
    if fmt == "json":
        echo_json(rows)
    elif fmt == "csv":
        buffer = io.StringIO()
        header = list(rows[0]) if rows else list(columns)
        if header:
            writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
            with nul_explained():
                writer.writeheader()
                writer.writerows(rows)
        click.echo(buffer.getvalue(), nl=False)
    elif rows:
        click.echo(table(rows))
    else:
        click.echo("(nothing to show)")


def echo_json(obj: object) -> None:
    """Pretty JSON on stdout; NaN and infinities become null. A list (of rows) is encoded
    and written a batch of items at a time, as ``json.dumps(obj, indent=2)`` lays it out:
    encoded whole, the rows of ``show STUDY --format json`` of 100,000 trials were 5
    million pieces of text at once (250 MB)."""
    if not isinstance(obj, list) or not obj:
        click.echo(json.dumps(jsonable(obj), indent=2, allow_nan=False))
        return
    items = jsonable_items(obj)
    click.echo("[", nl=False)
    separator = ""
    while batch := list(islice(items, JSON_BATCH)):
        # a batch is "[\n  item,\n  item\n]": within its brackets, the list's own text
        click.echo(separator + _PRETTY.encode(batch)[1:-2], nl=False)
        separator = ","
    click.echo("\n]")


_PRETTY = json.JSONEncoder(indent=2, allow_nan=False)  # json.dumps(indent=2)'s, built once


def when(timestamp: float | None) -> str | None:
    """A Unix time as local ``YYYY-MM-DD HH:MM:SS`` (None stays None)."""
    if timestamp is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def budget_text(budget: Budget | None) -> str | None:
    """A study's budget as ``epochs 1..27``: its unit and range in one short cell
    (``steps 1..9`` for an unnamed budget, not ``budget 1..9``); whole bounds exact
    (``1..1048576``, not ``1..1.04858e+06``)."""
    if budget is None:
        return None
    low, high = (b if isinstance(b, int) else f"{b:g}" for b in (budget.min, budget.max))
    return f"{budget.unit} {low}..{high}"


def stop_flags(stops: Mapping[str, float]) -> str:
    """Stops by name (:func:`hpotrack.limits.stored`) as ``hpotrack resume``'s flags
    (``--patience 20 --trial-timeout 600``), each value as it is kept."""
    return " ".join(
        f"--{name.replace('_', '-')} {repr(value).removesuffix('.0')}"
        for name, value in stops.items()
    )


def num(value: float | None) -> str:
    """A number in 6 significant digits; None is ``-``."""
    return "-" if value is None else f"{value:.6g}"


def quantity(amount: float, unit: str) -> str:
    """An amount of a budget's unit: ``9 epochs``, ``1 epoch`` (units are plural names;
    one of them drops the s). Counts stay exact, fractions get 6 digits."""
    if amount == 1 and unit.endswith("s") and not unit.endswith("ss"):
        unit = unit[:-1]
    return f"{amount if isinstance(amount, int) else num(amount)} {unit}"


def short(value: Any, *, whole: bool = False) -> Any:
    """A value for a narrow cell: floats in 4 significant digits, long strings cut
    (``whole``: kept whole, for a pipe or a file), text that reads as another value
    quoted (:func:`unambiguous`)."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, str):
        value = unambiguous(value)
        return value if whole else cut(value, 16)
    return value


def unambiguous(text: str) -> str:
    """``text`` as shown, quoted as JSON when it would read as a number, a bool or
    None: a Choice may hold 1, True, "1" and "True", four options that printed alike.
    The quoted form is what ``enqueue`` takes for it (``c='"1"'``). Text with a newline,
    a tab or another control character is quoted too, escaped (``"a\\nb"``): printed as
    it is, it broke a table's row or a trial's line in two."""
    if text in ("True", "False", "None", ""):
        return json.dumps(text)
    if not text.isprintable():
        return json.dumps(text, ensure_ascii=False)
    try:
        json.loads(text)
    except ValueError:
        return text
    return json.dumps(text)  # "1", "2.5", "true", "null", "[1]"...


def edge_dict(edge: Edge) -> dict[str, Any]:
    """A lineage edge as JSON: parent, kind, step, detail."""
    return {"parent": edge.parent, "kind": edge.kind, "step": edge.step, "detail": edge.detail}


def proposer(trial: TrialRecord) -> str | None:
    """The method that proposed ``trial``, with the one that chose it in front where
    there is one (``auto (tpe)``, as the list of studies says it); None when no method
    proposed it (queued or run by the user, a retry) or it was stored before trials
    named their method."""
    if trial.method is None or trial.chosen_by is None:
        return trial.method
    return f"{trial.chosen_by} ({trial.method})"

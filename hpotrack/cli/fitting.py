"""Tables within the terminal: a table of trials or of studies too wide for it gives up
empty columns, folds its parameters into one cut column and drops spare columns, or cuts
names, measured from one rendering; to a pipe or a file every column stays whole."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

from hpotrack.cli.common import on_terminal, table, terminal_width
from hpotrack.text import cut

# what a table too wide with folded parameters gives up, in this order (the steps the
# trials trained in all are on the line above the table; each trial's in `trial`)
SPARE = ("duration", "origin", "trained", "method")
MIN_PARAMS = 16  # the narrowest folded ``params`` column worth showing
MIN_NAME = 12  # the narrowest cut study name in the list of studies
MIN_CONSTRAINTS = 16  # the narrowest cut constraints cell there ("latency_ms <= 1…")


def fitted_table(rows: list[dict[str, Any]], names: list[str]) -> str:
    """The table of ``rows`` (not empty), fitted to the terminal: columns with nothing in
    them go first; if one column per parameter is still too wide, the parameters fold
    into one ``params`` column of ``name=value`` pairs, cut to fit; if that column would
    be narrower than ``MIN_PARAMS`` (or than its text, when shorter), the ``SPARE``
    columns go too, one by one, as far as needed (rungs and brackets need the room: 80
    columns held a whole budget's table with brackets only without ``trained``). Output
    to a pipe or a file (no terminal, no ``COLUMNS``) keeps every column whole.

    The table is rendered once and measured from that rendering (``spans``): when it
    fits, that is what is printed; only a table too wide is rendered a second time,
    fitted. Rendering 20,000 trials took seconds with tabulate, and measuring it apart
    (each column rendered alone) cost as much as printing it."""
    text = table(rows)
    if not on_terminal():
        return text
    width = terminal_width()
    span = spans(rows, text)
    columns = _columns(rows)
    if span(columns) <= width:
        return text
    empty = empty_columns(rows, [key for key in rows[0] if key not in names])
    columns = [column for column in columns if column not in empty]
    if span(columns) <= width:  # e.g. without a budget column nobody uses
        return table([without(row, empty) for row in rows])
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
            {**without(row, gone), "params": cut(text, room)}
            for row, text in zip(rows, texts, strict=True)
        ]
    )


def fit_studies(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The list of studies within the terminal: when too wide, the last activity gives
    up its time of day, then long names are cut (to ``MIN_NAME`` at least); when even
    that is too wide (a study with pruned, failed and running trials has a long trials
    cell), the last activity goes (JSON and CSV keep it), long constraints (the
    ``constraints`` cells of a list with a constrained study) are cut as far as the room
    left needs (to ``MIN_CONSTRAINTS`` at least), and then names. To a pipe or a file,
    nothing is cut."""
    if not rows or not on_terminal():
        return rows
    width = terminal_width()
    if table_width(rows) > width:
        rows = [{**row, "last active": row["last active"][:10]} for row in rows]
    if table_width(rows) <= width:
        return rows
    named = _cut_column(rows, "study", MIN_NAME, width)
    if table_width(named) <= width:
        return named
    rows = [without(row, ("last active",)) for row in rows]
    if "constraints" in rows[0] and table_width(rows) > width:
        rows = _cut_column(rows, "constraints", MIN_CONSTRAINTS, width)
    return _cut_column(rows, "study", MIN_NAME, width)


def _cut_column(
    rows: list[dict[str, Any]], column: str, minimum: int, width: int
) -> list[dict[str, Any]]:
    """``rows`` with the text of ``column`` cut to what ``width`` leaves it (``minimum``
    at least); its empty cells (None) stay."""
    room = max(minimum, width - table_width([without(row, (column,)) for row in rows]) - 2)
    return [
        {**row, column: None if row[column] is None else cut(row[column], room)} for row in rows
    ]


def _param_text(row: dict[str, Any], names: list[str]) -> str:
    """A row's parameters as ``name=value`` pairs, for the folded ``params`` column; those
    the trial left inactive (blank cells) are left out."""
    return " ".join(f"{name}={row[name]}" for name in names if row[name] != "")


def empty_columns(rows: list[dict[str, Any]], keys: Iterable[str]) -> set[str]:
    """Those of ``keys`` that are None (or missing) in every row."""
    return {key for key in keys if all(row.get(key) is None for row in rows)}


def without(row: dict[str, Any], keys: Collection[str]) -> dict[str, Any]:
    """A copy of ``row`` without the columns ``keys``."""
    return {key: value for key, value in row.items() if key not in keys}


def table_width(rows: list[dict[str, Any]]) -> int:
    """The width of ``table(rows)``, its longest line (``rows`` not empty)."""
    return spans(rows)(_columns(rows))


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """The columns of ``table(rows)``: every key of the rows, in order of appearance."""
    return list(dict.fromkeys(key for row in rows for key in row))


def spans(rows: list[dict[str, Any]], text: str | None = None) -> Callable[[Collection[str]], int]:
    """How wide the table of ``rows`` is with only the given columns (a subset of
    ``_columns(rows)``), from ``text``, its rendering (``table(rows)``, rendered when not
    given): tabulate's ``simple`` format lays each column out from its own cells, puts 2
    spaces between columns and underlines each header with a rule as wide as its column,
    so the widths of any subset are added up from the rule's."""
    rendered = table(rows) if text is None else text
    rule = rendered.split("\n", 2)[1]
    widths = dict(zip(_columns(rows), map(len, rule.split("  ")), strict=True))
    return lambda columns: sum(widths[c] for c in columns) + 2 * max(0, len(columns) - 1)

"""Reading an export's text: a json or jsonl file (told apart by content, whatever it is
called) parsed into one dict, with one clear message for a file that is empty, cut short,
a CSV table or another tool's JSON (the format: :mod:`hpotrack.transfer`; checking the
dict: :mod:`hpotrack.transfer.validate`)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from hpotrack.transfer.format import FORMAT, TransferError

_LINE = re.compile(r"[^\n]+")
_VISIBLE = re.compile(r"\S")
_CSV_IMPORT = (
    "CSV exports cannot be imported: they carry no search space; export with --format json"
)


def read_export(path: str | Path) -> dict[str, Any]:
    """The export in a json or jsonl file (told apart by content, whatever the file is
    called; ``-``: standard input), as one dict."""
    source = Path(path)
    stdin = str(path) == "-"
    if stdin and sys.stdin is None:
        raise TransferError("standard input is closed: give the export's file name")
    where = "standard input" if stdin else str(source)
    try:
        text = sys.stdin.read() if stdin else source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TransferError(f"no file at {source}") from None
    except UnicodeDecodeError:
        raise TransferError(f"{where} is not an hpotrack export (not UTF-8 text)") from None
    except OSError as exc:
        raise TransferError(f"cannot read {source}: {exc.strerror or exc}") from None
    return parse_export(text, where)


def parse_export(text: str, source: str) -> dict[str, Any]:
    """An export's ``text`` (json or jsonl, told apart by content) as one dict;
    ``source`` names where it came from in error messages. A byte-order mark, which an
    editor (Notepad) may put before the text, is ignored."""
    text = text.removeprefix("\ufeff")  # the same text, not a copy, when there is none
    if not text or text.isspace():  # not text.strip(): a copy of the whole file
        raise TransferError(f"{source} is empty; expected an hpotrack export (json or jsonl)")
    end = text.find("\n")
    try:
        header = _loads(text if end < 0 else text[:end])
    except ValueError:
        header = None
    if isinstance(header, dict) and {"format", "study"} <= header.keys() and "trials" not in header:
        trials = []
        # a line at a time: text.split held a copy of the file while it was parsed
        for line in _LINE.finditer(text, len(text) if end < 0 else end + 1):
            if not line.group().isspace():
                try:
                    trials.append(_loads(line.group()))
                except json.JSONDecodeError as exc:
                    lineno = text.count("\n", 0, line.start()) + 1
                    if _VISIBLE.search(text, line.end()) is None and _cut_short(text, line.start()):
                        raise TransferError(_cut_message(source)) from None
                    raise TransferError(
                        f"{source}, line {lineno}: not valid JSON ({exc.msg}, column {exc.colno})"
                    ) from None
        expected = header.pop("trial_count", None)
        if expected is not None and expected != len(trials):
            raise TransferError(
                f"{source} holds {len(trials)} trials, but its first line says {expected}: "
                "the file was cut short; export or copy it again"
            )
        return {**header, "trials": trials}
    try:
        data = _loads(text)
    except json.JSONDecodeError as exc:
        if isinstance(header, dict) and header.get("format") != FORMAT:  # another tool's lines
            raise TransferError(f"{source}: {not_an_export(header.get('format'))}") from None
        if _is_csv(text if end < 0 else text[:end]):
            raise TransferError(f"{source} is a CSV file, and {_CSV_IMPORT}") from None
        if _cut_short(text):
            raise TransferError(_cut_message(source)) from None
        raise TransferError(
            f"{source} is not an hpotrack export: not valid JSON at line {exc.lineno}, "
            f"column {exc.colno} ({exc.msg})"
        ) from None
    if not isinstance(data, dict):
        raise TransferError(
            f"{source} is not an hpotrack export: expected a JSON object, found "
            f"{type(data).__name__}"
        )
    return data


def _is_csv(line: str) -> bool:
    """Whether a file's first line is a CSV header: 3 or more cells split by commas,
    semicolons or tabs, as a spreadsheet may save an export (quoted, with semicolons), or
    another tool's table (Optuna's ``trials_dataframe``)."""
    return not line.lstrip().startswith(("{", "[")) and any(
        line.count(separator) >= 2 for separator in ",;\t"
    )


def _cut_short(text: str, start: int = 0) -> bool:
    """Whether JSON that failed to parse from ``start`` to the end of ``text`` was cut
    short (a copy stopped, a full disk): it opens an object that the text does not close."""
    opens = text[start : start + 64].lstrip().startswith("{")
    return opens and not text[-64:].rstrip().endswith("}")


def _cut_message(source: str) -> str:
    return f"{source} was cut short: it ends in the middle of its JSON; export or copy it again"


def _loads(text: str) -> Any:
    """JSON with NaN/Infinity read as null, as the store would keep them; JSON nested
    deeper than Python can parse is a JSONDecodeError like any other bad JSON."""
    try:
        return json.loads(text, parse_constant=lambda _: None)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text, 0) from None


def not_an_export(found: Any) -> str:
    """What to say of JSON whose ``format`` is ``found``, not an export's."""
    return (
        f"not an hpotrack study export (format {found!r}, expected {FORMAT!r}); "
        "make one with `hpotrack export STUDY --format json`"
    )

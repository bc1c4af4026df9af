"""Small wording helpers for messages and notes."""

from __future__ import annotations

import logging
import numbers
import re
from collections.abc import Mapping

PREFIX = "[hpotrack] "
"""How a line hpotrack says as itself starts: on stderr (its log messages, through the
default handler; a worker process's last word) and under a user's traceback (the note on
an error a manual trial raised, the hint stored with a failure)."""


AUTO_CHOSE = "auto chose "
"""How ``auto``'s note on each trial it proposes starts: ``auto chose tpe: <why>``."""


def auto_choice(note: str | None) -> str | None:
    """The method an ``auto`` note says it chose (``auto chose tpe: ...`` -> ``tpe``);
    None for any other note, or none: the list of studies reads it back from the note
    of a trial stored before trials named their method (schema 9: ``trials.method``)."""
    if note is None or not note.startswith(AUTO_CHOSE):
        return None
    return note[len(AUTO_CHOSE) :].partition(":")[0] or None


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and ``word``, with an s unless there is exactly one: "1 trial", "3 trials";
    ``many`` for a word whose plural is not that ("2 processes")."""
    return f"{n} {word}" if n == 1 else f"{n} {many or word + 's'}"


def masked_numbers(text: str) -> str:
    """``text`` with each number as ``#``: a message that only counts something new
    ("3 seen", "4 seen") says the same as before."""
    return re.sub(r"\d+", "#", text)


def human_bytes(size: float) -> str:
    """A size in bytes for people: ``1536`` -> ``"1.5 KiB"``."""
    units = ("B", "KiB", "MiB", "GiB")
    power = 0
    while size >= 1024 and power < len(units) - 1:
        size /= 1024
        power += 1
    return f"{size:.0f} B" if power == 0 else f"{size:.1f} {units[power]}"


def not_a_number(value: object) -> str:
    """`` (a str, not a number)`` for a value that is no real number, as the end of a
    message quoting it: "10" reads like a number there otherwise; empty for a number."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return ""
    return f" (a {type(value).__name__}, not a number)"


class Rewording(logging.Filter):
    """A filter on the ``hpotrack`` logger that replaces phrases of the library's messages
    (the CLI names ``--db`` where the library names ``db=``, and ``hpotrack resume`` its
    options where the library names ``optimize()``'s arguments); :meth:`reword` does it
    to an error's. It applies to the messages of the worker processes of ``n_jobs`` too:
    the parent says them through its logger."""

    def __init__(self, phrases: Mapping[str, str]) -> None:
        super().__init__()
        self.phrases = dict(phrases)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.reword(record.getMessage()), None
        return True

    def reword(self, message: str) -> str:
        """``message`` with each phrase replaced (an error's, too)."""
        for phrase, replacement in self.phrases.items():
            message = message.replace(phrase, replacement)
        return message


def utf8_text(text: str) -> str:
    """``text`` with what UTF-8 cannot encode written as its backslash escape: a lone
    surrogate (``\\udce9``) is how Python reads a byte that was not UTF-8 (a Latin-1
    file name, argument or metric), and writing it raw fails any UTF-8 file or terminal."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def cut(text: str, room: int) -> str:
    """``text`` within ``room`` characters, an ellipsis telling that it was cut."""
    return text if len(text) <= room else text[: room - 1] + "…"


def cut_middle(text: str, limit: int = 40) -> str:
    """``text`` cut in the middle to at most ``limit`` characters: a long study, objective
    or parameter name otherwise runs off the figure or over its neighbours' labels (both
    ends kept, as names often differ only at the end)."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return f"{text[:head]}…{text[len(text) - (limit - 1 - head) :]}"

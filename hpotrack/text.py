"""Small wording helpers for messages and notes."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, with an s unless there is exactly one: "1 trial", "3 trials"."""
    return f"{n} {word}{'' if n == 1 else 's'}"

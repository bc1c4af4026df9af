"""Small wording helpers for messages and notes."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, with an s unless there is exactly one: "1 trial", "3 trials"."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def size(n: float) -> str:
    """A size in bytes for people: "512 B", "12.3 kB", "4.0 MB"."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")  # the loop returns at "GB"

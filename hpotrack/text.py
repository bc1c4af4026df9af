"""Small wording helpers for messages and notes."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, with an s unless there is exactly one: "1 trial", "3 trials"."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def human_bytes(size: float) -> str:
    """A size in bytes for people: ``1536`` -> ``"1.5 KiB"``."""
    units = ("B", "KiB", "MiB", "GiB")
    power = 0
    while size >= 1024 and power < len(units) - 1:
        size /= 1024
        power += 1
    return f"{size:.0f} B" if power == 0 else f"{size:.1f} {units[power]}"

"""Wording helpers."""

from __future__ import annotations

from hpotrack.text import plural


def test_plural_says_one_without_an_s() -> None:
    assert [plural(n, "trial") for n in (0, 1, 2)] == ["0 trials", "1 trial", "2 trials"]

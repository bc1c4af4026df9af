"""Wording helpers."""

from __future__ import annotations

from hpotrack.text import human_bytes, plural


def test_plural_says_one_without_an_s() -> None:
    assert [plural(n, "trial") for n in (0, 1, 2)] == ["0 trials", "1 trial", "2 trials"]


def test_sizes_read_in_binary_units() -> None:
    sizes = [0, 1023, 1536, 5 * 1024**2, 3 * 1024**3, 2048 * 1024**3]
    assert [human_bytes(n) for n in sizes] == [
        "0 B", "1023 B", "1.5 KiB", "5.0 MiB", "3.0 GiB", "2048.0 GiB",
    ]  # fmt: skip

"""``hpotrack.heldfiles``: one descriptor per process and file, closed with its last
holder (closing a descriptor drops the process's POSIX locks on the file)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hpotrack.heldfiles import connected, disconnected, hold


def test_holders_of_one_file_share_a_descriptor_closed_with_the_last(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x")
    first = hold(path)
    second = hold(tmp_path / "." / "f")  # another name of the same file
    assert second.fd == first.fd and second.key == first.key
    first.close()
    first.close()  # twice is fine: the other holder keeps it
    assert os.pread(second.fd, 1, 0) == b"x"
    second.close()
    with pytest.raises(OSError):
        os.fstat(second.fd)


def test_a_missing_file_raises_as_open_does(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hold(tmp_path / "none")


def test_a_file_stays_open_while_a_connection_to_its_database_is(tmp_path: Path) -> None:
    """A connection takes its locks on the file before its store holds it: closing the
    descriptor then, the last holder's, dropped them."""
    path = tmp_path / "f"
    path.write_bytes(b"x")
    connected(path)
    held = hold(path)
    held.close()
    assert os.pread(held.fd, 1, 0) == b"x"
    again = hold(path)  # no second descriptor meanwhile: closing it would drop them too
    assert again.fd == held.fd
    again.close()
    disconnected(path)
    with pytest.raises(OSError):
        os.fstat(held.fd)

"""``hpotrack.heldfiles``: one descriptor per process and file, closed with its last
holder (closing a descriptor drops the process's POSIX locks on the file)."""

from __future__ import annotations

import os
import subprocess
import sys
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


COLLECTED_INSIDE = """
import gc, os, sys, weakref
from hpotrack import heldfiles

first_path, second_path, database = sys.argv[1:4]
first = heldfiles.hold(first_path)
heldfiles.connected(database)


class Garbage:
    pass


garbage = Garbage()
garbage.cycle = garbage  # unreachable once deleted: only a collection finalizes it
weakref.finalize(garbage, first.close)
weakref.finalize(garbage, heldfiles.disconnected, database)
del garbage
stat = os.stat


def stat_then_collect(*args, **kwargs):
    gc.collect()  # what an allocation may set off, here inside hold()
    return stat(*args, **kwargs)


os.stat = stat_then_collect
second = heldfiles.hold(second_path)
os.stat = stat
print(first.key in heldfiles._held, database in heldfiles._connections, second.fd >= 0)
"""


def test_a_close_a_collection_runs_inside_hold_waits_for_it(tmp_path: Path) -> None:
    """A garbage collection inside :func:`hold` (the lock held) finalized a store, whose
    close took the same lock again: the thread waited for ever (an xdist worker hung).
    The close is done when hold() lets go. In a process of its own: a hang fails it."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_bytes(b"x")
    second.write_bytes(b"y")
    done = subprocess.run(
        [sys.executable, "-c", COLLECTED_INSIDE, str(first), str(second), str(tmp_path / "db")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "True"]  # both closed, once it let go

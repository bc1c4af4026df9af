"""``hpotrack.forks``: a forked child counts one fork more than its parent."""

from __future__ import annotations

import os

import pytest

from hpotrack import forks


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_counts_one_fork_more_than_its_parent() -> None:
    before = forks.count
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: say its count, and leave without running pytest's exit
        os.write(write, str(forks.count).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        said = pipe.read()
    os.waitpid(child, 0)
    assert int(said) == before + 1
    assert forks.count == before  # the parent's is unchanged

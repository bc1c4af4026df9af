"""Writing a file atomically (hpotrack.files.write_replacing)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hpotrack.files import write_replacing


@pytest.mark.skipif(not Path("/dev/fd").is_dir(), reason="needs /dev/fd")
def test_a_link_to_a_pipe_is_written_in_place() -> None:
    """/dev/stdout piped into another program failed ("No such file or directory"): the
    link was resolved first, to /proc/self/fd/1's "pipe:[1234]", which is no file."""
    read, write = os.pipe()
    with os.fdopen(read, "rb") as reader:
        try:
            written = write_replacing(f"/dev/fd/{write}", lambda f: f.write("hello\n"), text=True)
        finally:
            os.close(write)
        assert written == 6 and reader.read() == b"hello\n"

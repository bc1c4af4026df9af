"""The ``hpotrack`` command. Each module registers its commands on the shared group."""

from __future__ import annotations

import errno
import io
import sys

from hpotrack.cli import (
    dashboard,
    inspect,
    lineage_tree,
    manage,
    plot,
    resume,
    runs,
    show,
    stop,
    transfer,
)
from hpotrack.cli.common import cli

__all__ = [
    "cli",
    "dashboard",
    "inspect",
    "lineage_tree",
    "main",
    "manage",
    "plot",
    "resume",
    "runs",
    "show",
    "stop",
    "transfer",
]


class ClosedOutput(io.TextIOBase):
    """Standard output when it was closed (``hpotrack export STUDY >&-``): Python makes
    it None and click then drops every line without a word; writing here fails as a
    write to a closed descriptor does, so the command says so and exits 1, as ``cat``."""

    encoding = "utf-8"
    errors = "strict"

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")


def escape_unencodable(stream: object) -> None:
    """Make ``stream`` write what its encoding cannot (a study named "日本" to a Latin-1
    terminal) as backslash escapes (``\\u65e5``), as Python's standard error does.
    Strict, it failed a command's last line after its work was done: ``import`` stored
    the study, then said "Error: ...", and run again, "already exists". An error
    handler the user chose (``PYTHONIOENCODING=latin-1:replace``) is kept."""
    if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
        stream.reconfigure(errors="backslashreplace")


def main() -> None:
    if sys.stdout is None:
        sys.stdout = ClosedOutput()
    escape_unencodable(sys.stdout)
    try:
        cli(prog_name="hpotrack", standalone_mode=True)
    except OSError as exc:  # standard output full or gone (> /dev/full); a pipe is click's
        if exc.filename is not None:  # a named file's error, not the output's
            sys.stderr.write(f"Error: cannot use {exc.filename}: {exc.strerror or exc}\n")
        else:
            sys.stderr.write(f"Error: cannot write the output: {exc.strerror or exc}\n")
        raise SystemExit(1) from None

"""The ``hpotrack`` command. Each module registers its commands on the shared group."""

from __future__ import annotations

import sys

from hpotrack.cli import inspect, manage, plot, resume, show, transfer
from hpotrack.cli.common import cli

__all__ = ["cli", "inspect", "main", "manage", "plot", "resume", "show", "transfer"]


def main() -> None:
    try:
        cli(prog_name="hpotrack", standalone_mode=True)
    except OSError as exc:  # standard output full or gone (> /dev/full); a pipe is click's
        sys.stderr.write(f"Error: cannot write the output: {exc.strerror or exc}\n")
        raise SystemExit(1) from None

"""The ``hpotrack`` command. Each module registers its commands on the shared group."""

from __future__ import annotations

from hpotrack.cli import inspect, manage, plot, resume, show, transfer
from hpotrack.cli.common import cli

__all__ = ["cli", "inspect", "main", "manage", "plot", "resume", "show", "transfer"]


def main() -> None:
    cli(prog_name="hpotrack")

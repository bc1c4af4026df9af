"""The ``hpotrack`` command. Each module registers its commands on the shared group."""

from __future__ import annotations

from hpotrack.cli import show
from hpotrack.cli.common import cli

__all__ = ["cli", "main", "show"]


def main() -> None:
    cli(prog_name="hpotrack")

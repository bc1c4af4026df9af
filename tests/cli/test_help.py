"""Every ``hpotrack`` command has help and is documented (README.md or docs/)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from hpotrack.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def documentation() -> str:
    """README.md and every page under docs/ (not the images there)."""
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return "\n".join(f.read_text(encoding="utf-8") for f in files if f.is_file())


def test_the_group_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for name in cli.commands:
        assert re.search(rf"^  {re.escape(name)}\s+\S", result.output, re.MULTILINE), name


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: cli {name}")
    first = (cli.commands[name].help or "").strip().split("\n")[0].strip()
    assert first, f"`hpotrack {name}` has no docstring"
    words = " ".join(result.output.split())  # click rewraps paragraphs
    assert " ".join(first.split()) in words


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_is_documented(name: str) -> None:
    """Fails for a new command until README.md (or a page under docs/) shows its usage."""
    usage = rf"hpotrack\s+(?:\[--db PATH\]\s+|--db\s+\S+\s+)?{re.escape(name)}\b"
    if not re.search(usage, documentation()):
        pytest.fail(
            f"`hpotrack {name}` is not documented: add its usage line to the CLI section "
            "of README.md or to a page under docs/",
            pytrace=False,
        )


def test_hpotrack_alone_prints_its_help() -> None:
    """The first thing a new user types: click's help came squashed into one error line."""
    result = CliRunner().invoke(cli, [])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: ") and "\nCommands:\n" in result.output
    assert "Error" not in result.output

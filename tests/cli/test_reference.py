"""docs/cli.md is generated from the click commands (``hpotrack.cli.reference``) and
committed; these tests fail when a command changes and the page was not regenerated."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from hpotrack.cli import cli
from hpotrack.cli.reference import REGENERATE, render

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "cli.md"


def test_the_committed_reference_is_up_to_date() -> None:
    committed = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
    if committed != render():
        pytest.fail(
            "docs/cli.md does not match the click commands; regenerate it from the "
            f"repository root with:\n    {REGENERATE}",
            pytrace=False,
        )


def test_every_command_and_option_is_in_the_reference() -> None:
    text = render()
    for name, command in cli.commands.items():
        assert f"\n## hpotrack {name}\n" in text, name
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                for spelling in [*param.opts, *param.secondary_opts]:
                    item = rf"^- `[^`]*(?<![\w-]){re.escape(spelling)}\b"
                    assert re.search(item, text, re.MULTILINE), (name, spelling)
    assert "`--db FILE`" in text


def test_the_reference_does_not_depend_on_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    wide = render()
    monkeypatch.setenv("COLUMNS", "20")
    monkeypatch.setenv("LINES", "5")
    assert render() == wide


def test_the_module_prints_the_reference_as_utf8() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hpotrack.cli.reference"],
        capture_output=True,
        check=True,
        cwd=ROOT,
        env={"PATH": "", "LC_ALL": "C", "PYTHONIOENCODING": "ascii"},
    )
    assert result.stdout.decode("utf-8") == render()

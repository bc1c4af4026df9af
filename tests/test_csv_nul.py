"""A NUL character in a study's text through ``--format csv`` (``export`` and ``show``):
written as it is on Python 3.11 and newer; one error naming the way out on 3.10, whose
csv module cannot write it."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import hpotrack as hp
from hpotrack.cli import cli
from hpotrack.csv_nul import NUL_MESSAGE, nul_explained
from hpotrack.errors import HpotrackError

NUL_TEXT = "bad\x00input"


def nul_study(db: Path) -> None:
    """A study of two trials: one whose Choice value and error hold a NUL."""

    @hp.tune({"tag": hp.Choice(["plain", NUL_TEXT])}, method="grid", study="nul", db=db)
    def train(tag: str) -> float:
        if tag == NUL_TEXT:
            raise ValueError(NUL_TEXT)
        return 1.0

    train.optimize()


@pytest.mark.parametrize(
    "command", [["export", "nul", "--format", "csv"], ["show", "nul", "--format", "csv"]]
)
def test_a_nul_goes_through_csv_or_says_what_to_do(tmp_path: Path, command: list[str]) -> None:
    db = tmp_path / "h.db"
    nul_study(db)
    result = CliRunner().invoke(cli, ["--db", str(db), *command])
    if sys.version_info >= (3, 11):
        assert result.exit_code == 0, result.output
        rows = list(csv.reader(io.StringIO(result.output, newline="")))
        assert any(NUL_TEXT in cell for row in rows for cell in row)
    else:  # Python 3.10's csv module cannot write it
        assert result.exit_code != 0 and "Traceback" not in result.output
        assert NUL_MESSAGE in result.output
    assert len(hp.load_study("nul", db=db).trials) == 2  # nothing stored changed


def test_the_csv_modules_escape_refusal_becomes_one_hpotrack_error() -> None:
    """The refusal is the csv module's own (QUOTE_NONE gives it on every Python); any
    other csv error goes through unchanged."""
    writer = csv.writer(io.StringIO(), quoting=csv.QUOTE_NONE)
    with pytest.raises(HpotrackError, match="NUL character"), nul_explained():
        writer.writerow(["a,b"])
    with pytest.raises(csv.Error, match="field larger"), nul_explained():
        raise csv.Error("field larger than field limit")

"""Importing a tuned function again from its recorded reference (``hpotrack.loader``)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import hpotrack as hp
from hpotrack.loader import SCRIPT_MODULE, ExitedWhileImported, FunctionNotFound, load_function

ARGPARSE_SCRIPT = textwrap.dedent(
    """
    import argparse
    import hpotrack as hp

    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=2.0)
    args = parser.parse_args()

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="args")
    def train(x):
        return x * args.scale
    """
)


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """``sys.argv`` as ``hpotrack resume`` has it; the script module and ``sys.path`` as
    they were after the test."""
    monkeypatch.setattr(sys, "argv", ["hpotrack", "--db", "h.db", "resume", "args"])
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, SCRIPT_MODULE, raising=False)
    return monkeypatch


def test_a_script_parsing_arguments_at_module_level_imports_without_resumes_own(
    tmp_path: Path, isolated: pytest.MonkeyPatch
) -> None:
    """argparse at module level parsed ``hpotrack resume``'s arguments and exited:
    "unrecognized arguments: --db h.db resume args", resume's exit code 2 with no hint."""
    script = tmp_path / "train.py"
    script.write_text(ARGPARSE_SCRIPT)
    reference = {"module": "__main__", "qualname": "train", "path": str(script)}
    train = load_function(reference)
    assert isinstance(train, hp.TunedFunction)
    assert sys.argv == ["hpotrack", "--db", "h.db", "resume", "args"]


def test_a_script_that_exits_when_imported_is_one_error_naming_the_fix(
    tmp_path: Path, isolated: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "train.py"
    script.write_text(ARGPARSE_SCRIPT.replace("default=2.0", "required=True"))
    reference = {"module": "__main__", "qualname": "train", "path": str(script)}
    with pytest.raises(ExitedWhileImported, match="exited") as raised:
        load_function(reference)
    message = str(raised.value)
    assert str(script) in message and 'under `if __name__ == "__main__":`' in message


def test_a_function_defined_under_the_main_guard_is_missing_and_the_error_says_why(
    tmp_path: Path, isolated: pytest.MonkeyPatch
) -> None:
    """It read "__main__:train cannot be found (no 'train')", without cause or fix."""
    script = tmp_path / "train.py"
    script.write_text(
        "import hpotrack as hp\n"
        'if __name__ == "__main__":\n'
        "    @hp.tune({'x': hp.Float(0.0, 1.0)})\n"
        "    def train(x):\n"
        "        return x\n"
    )
    reference = {"module": "__main__", "qualname": "train", "path": str(script)}
    with pytest.raises(FunctionNotFound) as raised:
        load_function(reference)
    message = str(raised.value)
    assert 'without running its `if __name__ == "__main__":` block' in message
    assert message.endswith("so define train at module level, outside that block")


def test_a_module_missing_the_function_gets_no_main_guard_advice(
    tmp_path: Path, isolated: pytest.MonkeyPatch
) -> None:
    """An imported module runs whole: a name missing there was renamed or moved."""
    (tmp_path / "renamed_module.py").write_text("def fit(x):\n    return x\n")
    isolated.syspath_prepend(str(tmp_path))
    isolated.delitem(sys.modules, "renamed_module", raising=False)
    reference = {"module": "renamed_module", "qualname": "train", "path": None}
    with pytest.raises(FunctionNotFound) as raised:
        load_function(reference)
    assert str(raised.value) == "renamed_module:train cannot be found (no 'train')"

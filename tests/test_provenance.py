"""Where a tuned function comes from: its study's default name and its recorded reference."""

from __future__ import annotations

import sys
import types

import pytest

import hpotrack as hp
from hpotrack.provenance import default_study_name, function_reference


def test_a_class_of_a_module_without_a_file_is_recorded_without_a_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A class typed in a notebook or ``python -c``: inspect raises OSError, not TypeError,
    and it went up through optimize() as "source code not available"."""
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))  # no __file__
    model = type("Model", (), {"__module__": "__main__", "__init__": lambda self, x: None})
    assert function_reference(model) == {"module": "__main__", "qualname": "Model", "path": None}
    assert default_study_name(model) == "main.Model"


def test_a_callable_without_a_name_of_its_own_needs_a_study_name() -> None:
    class Model:
        def __call__(self, x: float) -> float:
            return x

    with pytest.raises(hp.errors.DefinitionError, match=r"an instance of .*Model has no name"):
        default_study_name(Model())

"""hpotrack's public API as a type checker sees it (the package ships ``py.typed``): a
user's script, ``tests/typed_usage.py``, must pass ``mypy --strict`` with the types it
asserts, so that what users get cannot silently become ``Any``, ``Optional`` or wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

import hpotrack as hp

USAGE = Path(__file__).with_name("typed_usage.py")


def mypy_config(tmp_path: Path) -> tuple[Path, list[str]]:
    """A config of its own (not the project's ``[tool.mypy]``) and the options that find
    this hpotrack: installed, where mypy looks; else a source tree (an editable install,
    whose import hook mypy does not follow, or ``PYTHONPATH``) on ``mypy_path``, without
    site-packages, so that only hpotrack is analysed (numpy's and the rest's stubs took
    the run from 3 s to 10 s); their names are then ``Any`` in hpotrack's types."""
    config = tmp_path / "mypy.ini"
    root = Path(hp.__file__).resolve().parents[1]
    if root.name in ("site-packages", "dist-packages"):
        config.write_text("[mypy]\n", encoding="utf-8")
        return config, []
    config.write_text(f"[mypy]\nmypy_path = {root}\n", encoding="utf-8")
    return config, ["--no-site-packages", "--ignore-missing-imports"]


def test_a_users_script_passes_mypy_strict_with_the_types_it_asserts(tmp_path: Path) -> None:
    """``study.best.value`` was ``float | None`` (every script needed a None check for a
    value the best trial always has) and ``params`` a union of every parameter type
    (``float(best.params["lr"])`` failed: None is in it); a manual trial's positional
    arguments (always refused) passed. The decorated function's return, ``optimize()``'s
    and misspelt names are checked too."""
    api = pytest.importorskip("mypy.api", reason="mypy (the test extra) checks the types")
    config, options = mypy_config(tmp_path)
    out, err, status = api.run(
        [
            "--strict",
            "--follow-imports=silent",  # hpotrack's own errors are `mypy hpotrack`'s
            f"--config-file={config}",
            f"--cache-dir={tmp_path / 'cache'}",
            "--no-error-summary",
            *options,
            str(USAGE),
        ]
    )
    assert (out, err, status) == ("", "", 0)

"""Shared fixtures. Add fixtures here; do not remove any (several test files use them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hpotrack.store import close_stores


@pytest.fixture(autouse=True)
def _close_hpotrack_stores() -> Iterator[None]:
    """Each test starts and ends without cached SQLite connections of this process."""
    close_stores()
    yield
    close_stores()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A fresh database path (the file does not exist yet)."""
    return tmp_path / "h.db"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run the tests marked slow (large stress and kill -9 loops)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` are skipped unless ``--run-slow`` is given."""
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)

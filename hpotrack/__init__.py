"""hpotrack: hyperparameter optimization that records everything in one SQLite file.

Public names only; see README.md for a walk-through.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from hpotrack import errors, methods, pruners
from hpotrack.budget import Budget
from hpotrack.definition import load_study
from hpotrack.errors import (
    HpotrackError,
    NoCompleteTrial,
    SpaceError,
    StudyMismatchError,
    StudyNotFoundError,
    TooManyFailures,
    TrialError,
)
from hpotrack.records import Edge, TrialRecord, TrialState
from hpotrack.space import Choice, Float, Int, Space
from hpotrack.study import Study
from hpotrack.trial import Pruned, Trial, report
from hpotrack.tune import TunedFunction, tune

if TYPE_CHECKING:
    from hpotrack import plots

__version__ = "0.1.0"

__all__ = [
    "Budget",
    "Choice",
    "Edge",
    "Float",
    "HpotrackError",
    "Int",
    "NoCompleteTrial",
    "Pruned",
    "Space",
    "SpaceError",
    "Study",
    "StudyMismatchError",
    "StudyNotFoundError",
    "TooManyFailures",
    "Trial",
    "TrialError",
    "TrialRecord",
    "TrialState",
    "TunedFunction",
    "errors",
    "load_study",
    "methods",
    "plots",
    "pruners",
    "report",
    "tune",
]


def __getattr__(name: str) -> Any:
    """``hp.plots`` without ``import hpotrack.plots``: imported on first use, so that
    ``import hpotrack`` stays light (its figures need matplotlib, the ``plots`` extra)."""
    if name == "plots":
        return importlib.import_module("hpotrack.plots")  # which sets hpotrack.plots
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _DefaultLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Prints hpotrack's messages on stderr until the application configures logging:
    once the root logger has a handler, they reach it by propagation (in the
    application's format), and printing them here too would show each one twice."""

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger("hpotrack").propagate and logging.getLogger().handlers:
            return
        super().emit(record)


def _default_log_handler() -> None:
    """Say what the library does (stop reasons, failures) on stderr unless the
    application configured logging for ``hpotrack`` itself. Quieter:
    ``logging.getLogger("hpotrack").setLevel(logging.WARNING)``."""
    logger = logging.getLogger("hpotrack")
    if not logger.handlers:
        handler = _DefaultLogHandler()
        handler.setFormatter(logging.Formatter("[hpotrack] %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


_default_log_handler()

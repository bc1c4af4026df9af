"""hpotrack: hyperparameter optimization that records everything in one SQLite file.

Public names only; see README.md for a walk-through.
"""

from __future__ import annotations

import logging

from hpotrack import methods, pruners
from hpotrack.budget import Budget
from hpotrack.definition import load_study
from hpotrack.errors import HpotrackError
from hpotrack.records import Edge, TrialRecord, TrialState
from hpotrack.space import Choice, Float, Int, Space
from hpotrack.study import Study
from hpotrack.trial import Pruned, Trial, report
from hpotrack.tune import TunedFunction, tune

__version__ = "0.1.0"

__all__ = [
    "Budget",
    "Choice",
    "Edge",
    "Float",
    "HpotrackError",
    "Int",
    "Pruned",
    "Space",
    "Study",
    "Trial",
    "TrialRecord",
    "TrialState",
    "TunedFunction",
    "load_study",
    "methods",
    "pruners",
    "report",
    "tune",
]


def _default_log_handler() -> None:
    """Say what the library does (stop reasons, failures) on stderr unless the
    application configured logging for ``hpotrack`` itself."""
    logger = logging.getLogger("hpotrack")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[hpotrack] %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


_default_log_handler()

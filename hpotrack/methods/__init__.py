"""Search methods: one module each, behind the interface in :mod:`hpotrack.methods.base`.

``method="grid"`` or ``method=hp.methods.Grid(grid_points=5)`` both work.
"""

from __future__ import annotations

from hpotrack.methods.auto import Auto
from hpotrack.methods.base import Method, Proposal
from hpotrack.methods.bayes import Bayes
from hpotrack.methods.bohb import BOHB
from hpotrack.methods.evolution import Evolution
from hpotrack.methods.gradient import Gradient
from hpotrack.methods.grid import Grid
from hpotrack.methods.history import History
from hpotrack.methods.hyperband import Hyperband
from hpotrack.methods.manual import Manual
from hpotrack.methods.pbt import PBT
from hpotrack.methods.random_search import Random
from hpotrack.methods.registry import known_methods, register, resolve
from hpotrack.methods.sha import SHA
from hpotrack.methods.tpe import TPE

__all__ = [
    "BOHB",
    "PBT",
    "SHA",
    "TPE",
    "Auto",
    "Bayes",
    "Evolution",
    "Gradient",
    "Grid",
    "History",
    "Hyperband",
    "Manual",
    "Method",
    "Proposal",
    "Random",
    "known_methods",
    "register",
    "resolve",
]

"""Search methods: one module each, behind the interface in :mod:`hpotrack.methods.base`.

``method="grid"`` or ``method=hp.methods.Grid(grid_points=5)`` both work.

Each method's module is imported when its class is first used (``hp.methods.TPE``,
``from hpotrack.methods import TPE``) or a study resolves its name
(:data:`~hpotrack.methods.registry.BUILTIN`): ``import hpotrack`` and the ``hpotrack``
commands that read a study do not pay for all twelve.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hpotrack.methods import registry
from hpotrack.methods.base import Method, Proposal
from hpotrack.methods.history import History
from hpotrack.methods.registry import BUILTIN, known_methods, register, resolve

if TYPE_CHECKING:  # what type checkers and editors see: the classes, imported
    from hpotrack.methods.auto import Auto
    from hpotrack.methods.bayes import Bayes
    from hpotrack.methods.bohb import BOHB
    from hpotrack.methods.evolution import Evolution
    from hpotrack.methods.gradient import Gradient
    from hpotrack.methods.grid import Grid
    from hpotrack.methods.hyperband import Hyperband
    from hpotrack.methods.manual import Manual
    from hpotrack.methods.pbt import PBT
    from hpotrack.methods.random_search import Random
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

_CLASSES = {cls: module for module, cls in BUILTIN.values()}  # "TPE" -> "tpe"


if not TYPE_CHECKING:  # type checkers must still catch a misspelt hp.methods.TEP

    def __getattr__(name: str) -> Any:
        """A method class (``hp.methods.TPE``), its module imported on first use; another
        library's class (Optuna's ``TPESampler``) is an error naming hpotrack's."""
        if name not in _CLASSES:
            spelling = registry.class_spelling(name)
            hint = f"; hpotrack spells it {spelling}, as method= of @hp.tune" if spelling else ""
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}{hint}")
        cls = getattr(importlib.import_module(f"{__name__}.{_CLASSES[name]}"), name)
        globals()[name] = cls  # found directly from now on
        return cls


def __dir__() -> list[str]:
    """Every public name, imported yet or not (``dir()``, ``help()``, completion)."""
    return sorted(globals().keys() | __all__)

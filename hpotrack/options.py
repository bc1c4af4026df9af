"""Checks for the options of methods and pruners, with the one message form users see
everywhere: "`eta > 1` must hold, but got eta=1"."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection

from hpotrack.errors import MethodError


def check_whole(value: object, name: str, minimum: int) -> int:
    """``value`` as an int, if it is a whole number (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise MethodError(
            f"`{name} >= {minimum}` must hold for a whole number, but got {name}={value!r}"
        )
    return value


def check_real(value: object, name: str, condition: str, holds: Callable[[float], bool]) -> float:
    """``value`` as a float, if it is a finite real number (not a bool) for which ``holds``;
    ``condition`` says the rule in the error message."""
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and holds(value)
    )
    if not ok:
        raise MethodError(f"`{condition}` must hold, but got {name}={value!r}")
    return float(value)  # type: ignore[arg-type]


def check_bool(value: object, name: str) -> bool:
    """``value``, if it is True or False (not 0, 1 or a string that reads as one)."""
    if not isinstance(value, bool):
        raise MethodError(f"`{name}` must be True or False, but got {name}={value!r}")
    return value


def check_choice(value: object, name: str, allowed: Collection[str]) -> str:
    """``value``, if it is one of the ``allowed`` strings."""
    if not isinstance(value, str) or value not in allowed:
        raise MethodError(
            f"`{name}` must be one of {', '.join(map(repr, allowed))}, but got {name}={value!r}"
        )
    return value

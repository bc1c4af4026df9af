"""Checking the values users write in parameter definitions (``Float(0, "1")``,
``Choice([[1]])``): each either returns the value as hpotrack stores it or raises one
:class:`~hpotrack.errors.SpaceError` in the form "`low` must be a real number, but got ..."."""

from __future__ import annotations

import math
import numbers
from typing import TypeAlias

import numpy as np

from hpotrack.errors import SpaceError

Value: TypeAlias = bool | int | float | str | None
"""A parameter value: a JSON scalar."""


def is_utf8(text: str) -> bool:
    """Whether ``text`` can be stored (no lone surrogates from undecodable bytes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def to_float(x: object, name: str) -> float:
    """A finite Python float from a real number (numpy ok); bools and strings are refused."""
    if isinstance(x, bool | np.bool_) or not isinstance(x, numbers.Real):
        raise SpaceError(
            f"`{name}` must be a real number, but got {name}={x!r} ({type(x).__name__})"
        )
    try:
        value = float(x) + 0.0  # + 0.0 turns -0.0 into 0.0
    except OverflowError:
        raise SpaceError(f"`{name}` is too large for a float, but got {name}={x!r}") from None
    if not math.isfinite(value):
        raise SpaceError(f"`{name}` must be finite, but got {name}={value!r}")
    return value


def to_int(x: object, name: str) -> int:
    """A Python int from an integer or an integral float (3.0 -> 3); 3.5 is refused."""
    if isinstance(x, numbers.Integral) and not isinstance(x, bool | np.bool_):
        return int(x)
    value = to_float(x, name)
    if not value.is_integer():
        raise SpaceError(f"`{name}` must be an integer, but got {name}={value!r}")
    return int(value)


def to_flag(x: object, name: str) -> bool:
    """True or False (numpy bools ok); 'yes' or 1 are refused rather than guessed."""
    if not isinstance(x, bool | np.bool_):
        raise SpaceError(f"`{name}` must be True or False, but got {name}={x!r}")
    return bool(x)


def to_option(x: object) -> Value:
    """A JSON scalar from a Choice option (numpy scalars unwrapped)."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, str) and not is_utf8(x):
        raise SpaceError(f"Choice options must be valid Unicode text, but got {x!r}")
    if x is None or isinstance(x, bool | int | str):
        return x
    if isinstance(x, float):
        return to_float(x, "option")
    raise SpaceError(
        f"unsupported value type {type(x).__name__} in Choice options; "
        "options must be bool, int, float, str or None"
        + (NESTED_HINT if isinstance(x, dict) else "")
    )


NESTED_HINT = (
    "; a choice among sub-spaces (Hyperopt's nested hp.choice) is written flat: a Choice "
    "of the branches' names, and each branch's parameters with when={'model': 'svm'} "
    "(docs/spaces.md, Conditional parameters)"
)
"""Added where a dict stands for a sub-space: hpotrack's spaces are flat, with ``when=``."""


def kind_of(x: object) -> str | None:
    """What a value can match: 1 and 1.0 match each other, but True matches only bools."""
    if x is None:
        return "none"
    if isinstance(x, bool | np.bool_):
        return "bool"
    if isinstance(x, numbers.Real):
        return "number"
    return "str" if isinstance(x, str) else None


def grid_points_of(grid_points: object) -> int:
    """The number of grid points asked for a parameter: at least 2 (both ends)."""
    if (
        isinstance(grid_points, numbers.Integral)
        and not isinstance(grid_points, bool)
        and int(grid_points) >= 2
    ):
        return int(grid_points)
    raise SpaceError(f"`grid_points >= 2` must hold, but got grid_points={grid_points!r}")

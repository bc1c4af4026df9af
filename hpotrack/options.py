"""Checks for the options of methods and pruners, with the one message form users see
everywhere: "`eta > 1` must hold, but got eta=1"."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import numbers
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from hpotrack.errors import HpotrackError, MethodError
from hpotrack.text import not_a_number

T = TypeVar("T", bound=type)


def check_whole(value: object, name: str, minimum: int, why: str = "") -> int:
    """``value`` as an int, if it is a whole number (not a bool; numpy's count) of at least
    ``minimum``; ``why`` follows the rule in the message (e.g. " for strategy='de'")."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise MethodError(
            f"`{name} >= {minimum}` must hold for a whole number{why}, but got {name}={value!r}"
        )
    return int(value)


def check_real(value: object, name: str, condition: str, holds: Callable[[float], bool]) -> float:
    """``value`` as a float, if it is a finite real number (not a bool; numpy's count) for
    which ``holds``; ``condition`` says the rule in the error message."""
    if not is_finite_real(value):
        raise MethodError(
            f"`{condition}` must hold for a finite number, but got {name}={value!r}"
            f"{not_a_number(value)}"
        )
    if not holds(float(value)):  # type: ignore[arg-type]
        raise MethodError(f"`{condition}` must hold, but got {name}={value!r}")
    return float(value)  # type: ignore[arg-type]


def is_finite_real(value: object) -> bool:
    """Whether ``value`` is a finite real number: an int or float, numpy's too, not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def set_whole(owner: object, name: str, minimum: int, why: str = "") -> None:
    """Check the frozen dataclass field ``name`` with :func:`check_whole` and store it as a
    plain int (a numpy integer would not be one in the stored JSON)."""
    object.__setattr__(owner, name, check_whole(getattr(owner, name), name, minimum, why))


def set_real(owner: object, name: str, condition: str, holds: Callable[[float], bool]) -> None:
    """Check the frozen dataclass field ``name`` with :func:`check_real` and store it as a
    plain float, so that a stored study's options round-trip exactly."""
    object.__setattr__(owner, name, check_real(getattr(owner, name), name, condition, holds))


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


_BUDGET = "the budget is the study's: @hp.tune(..., budget=hp.Budget(min, max))"
STUDY_SETTINGS = {  # options other libraries give a sampler or pruner that are the study's here
    **dict.fromkeys(
        ("seed", "random_state"), "the seed is the study's: @hp.tune(..., seed={value!r})"
    ),
    **dict.fromkeys(  # HpBandSter's, DEHB's, Optuna's and Ray Tune's names for its ends
        ("min_budget", "max_budget", "min_resource", "max_resource", "grace_period", "max_t"),
        _BUDGET,
    ),
    "pruner": (  # not a study's setting, but said the same way to a method without it
        "pruner= is an option of random, tpe, bayes and evolution; sha, hyperband and bohb "
        "stop trials at their own rungs"
    ),
}
"""What to say when a method or pruner is given one of these ({value}: what it was given)."""

RENAMED = {  # other libraries' names for an option of hpotrack's methods or hp.Budget
    "reduction_factor": "eta",
    "perturbation_interval": "interval",
    "population_size": "population",
    "n_startup_trials": "n_startup",
    **dict.fromkeys(("low", "min_budget", "min_resource", "grace_period"), "min"),
    **dict.fromkeys(("high", "max_budget", "max_resource", "max_t"), "max"),
}
"""The option a method or hp.Budget has under another name: said instead of the closest
spelling."""


def friendly_init(error: type[HpotrackError]) -> Callable[[T], T]:
    """Class decorator for a dataclass: a bad call (an unknown keyword, with the closest
    valid name; too many arguments; a missing one) raises ``error`` with one clear line
    instead of Python's TypeError. Spaces and methods both use it."""

    def decorate(cls: T) -> T:
        original: Callable[..., None] = vars(cls)["__init__"]
        fields: dict[str, Any] = {f.name: f for f in dataclasses.fields(cls) if f.init}
        names = list(fields)
        positional = [n for n in names if not fields[n].kw_only]
        required = [n for n, f in fields.items() if _required(f)]
        arguments = (n if n in required else f"{n}={fields[n].default!r}" for n in positional)
        call = f"{cls.__name__}({', '.join(arguments)})"

        @functools.wraps(original)
        def init(self: object, *args: object, **kwargs: object) -> None:
            name = cls.__name__
            if len(args) > len(positional):
                raise error(
                    f"{name}() takes at most {len(positional)} positional argument(s) but "
                    f"{len(args)} were given; call it as {call}"
                )
            for key, value in kwargs.items():
                study = _study_setting(error, key, value)
                if not names:
                    raise error(f"{name}() takes no options, but got {key}={value!r}{study}")
                if key not in names:
                    close = difflib.get_close_matches(key, names, n=1)
                    if RENAMED.get(key) in names:
                        close = [RENAMED[key]]
                    elif study:  # a study's setting: not a near spelling of an option
                        close = []
                    hint = f"; did you mean {close[0]!r}? " if close else ". "
                    raise error(
                        f"{name}() got an unknown keyword argument {key!r}{hint}"
                        f"Valid: {', '.join(names)}{study}"
                    )
                if key in names[: len(args)]:
                    raise error(f"{name}() got multiple values for argument {key!r}")
            missing = [n for n in required[len(args) :] if n not in kwargs]
            if missing:
                raise error(
                    f"{name}() missing required argument(s) "
                    f"{', '.join(map(repr, missing))}; call it as {call}"
                )
            original(self, *args, **kwargs)

        setattr(cls, "__init__", init)  # noqa: B010 - mypy refuses `cls.__init__ = ...`
        return cls

    return decorate


def _study_setting(error: type[HpotrackError], key: str, value: object) -> str:
    """What follows the error when a method or pruner is given ``key``, a study's setting
    (``"; the seed is the study's: ..."``); nothing for other keys or for spaces."""
    if not issubclass(error, MethodError) or key not in STUDY_SETTINGS:
        return ""
    return "; " + STUDY_SETTINGS[key].format(value=value)


def _required(field: dataclasses.Field[Any]) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING

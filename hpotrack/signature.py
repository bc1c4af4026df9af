"""Whether hpotrack can call a training function as it calls it for every trial: once,
synchronously, with the hyperparameters (and ``trial``) as keyword arguments. ``@tune``
refuses any other function when it decorates it, saying what to change, rather than
failing every trial with Python's TypeError."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from hpotrack.errors import TrialError
from hpotrack.provenance import callable_name
from hpotrack.space import Space


def check_signature(fn: Callable[..., Any], space: Space) -> None:
    """Refuse, when decorating, a function no trial could call as hpotrack calls it: once,
    synchronously, with the hyperparameters (and ``trial``) as keyword arguments."""
    label = callable_name(fn)
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        raise TrialError(
            f"{label}() is an async function, and hpotrack calls the function it tunes "
            "and uses what it returns: tune a plain def that runs it, e.g. "
            "def train(**params): return asyncio.run(train_async(**params))"
        )
    if inspect.isgeneratorfunction(fn):
        raise TrialError(
            f"{label}() is a generator (it yields), and hpotrack calls the function it "
            "tunes and uses what it returns: report intermediate values with "
            "trial.report(value, step) and return the objective"
        )
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return
    positional = [  # before a `/`: hpotrack passes every argument by keyword
        name
        for name, p in parameters.items()
        if p.kind is p.POSITIONAL_ONLY
        and (name in space or name == "trial" or p.default is p.empty)
    ]
    if positional:
        raise TrialError(
            f"{label}() takes {', '.join(map(repr, positional))} by position only (before "
            "its `/`), and hpotrack passes the hyperparameters and trial by keyword: "
            "remove the `/`"
        )
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    missing = [name for name in space if name not in parameters]
    if missing:
        taken = [
            n for n, p in parameters.items() if n != "trial" and p.kind is p.POSITIONAL_OR_KEYWORD
        ]
        one_dict = (  # Ray Tune's train(config), Hyperopt's objective(params); one name
            # for one hyperparameter is a misspelling (train(lr) for learning_rate), not that
            f"; hpotrack passes each hyperparameter by name, not one dict: "
            f"def {label.rpartition('.')[2]}(**{taken[0]}) keeps {taken[0]!r} a dict"
            if len(taken) == 1 and taken[0] not in space and len(missing) > 1
            else ""
        )
        raise TrialError(
            f"{label}() does not accept the hyperparameter(s) "
            f"{', '.join(map(repr, missing))}: add them to its parameters (or **kwargs)"
            f"{one_dict}"
        )
    _check_conditional_defaults(label, parameters, space)
    extra = [
        name
        for name, p in parameters.items()
        if name not in space
        and name != "trial"
        and p.default is inspect.Parameter.empty
        and p.kind is not inspect.Parameter.VAR_POSITIONAL
    ]
    first = next(iter(parameters), None)
    if extra and extra[0] == first and first in ("self", "cls") and "." in label:
        raise TrialError(  # @hp.tune above a method, in its class body
            f"{label}() takes {extra[0]!r} first: decorated in its class, the method would "
            "be called without its instance or class; tune a function, or the method of "
            f"an instance, hp.tune(space, ...)(model.{label.rpartition('.')[2]})"
        )
    if extra:
        raise TrialError(
            f"{label}() requires {', '.join(map(repr, extra))}, which the space "
            "does not define: add them to the space or give them defaults"
        )


def _check_conditional_defaults(
    label: str, parameters: Mapping[str, inspect.Parameter], space: Space
) -> None:
    """A conditional hyperparameter is not passed to a trial that leaves it inactive: the
    function must give it a default (or take **kwargs), or such a trial would fail with
    Python's TypeError."""
    bare = [
        name
        for name, param in space.items()
        if param.when is not None and parameters[name].default is inspect.Parameter.empty
    ]
    if bare:
        example = ", ".join(f"{name}=None" for name in bare)
        raise TrialError(
            f"{label}() requires {', '.join(map(repr, bare))}, which the space makes "
            "conditional (`when=`): a trial where it is inactive does not pass it; give it "
            f"a default, e.g. def {label.rpartition('.')[2]}(..., {example})"
        )

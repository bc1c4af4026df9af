"""The registry of methods by name: :func:`register` for a method class, :func:`resolve`
for what ``method=`` accepts (a name, an alias another library uses, or an instance), and
:func:`from_json` for a method as a study stores it.

hpotrack's own methods are imported on first use by name (:data:`BUILTIN`), not all at
``import hpotrack``: reading a study (``hpotrack show``, ``load_study(...).best``) needs at
most its own method, and a new process should not pay for the eleven others.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import math
import numbers
from typing import Any, TypeVar

from hpotrack.errors import MethodError, UnknownMethodError
from hpotrack.methods.base import Method
from hpotrack.options import friendly_init

_REGISTRY: dict[str, type[Method]] = {}

BUILTIN: dict[str, tuple[str, str]] = {  # name -> (module in hpotrack.methods, class)
    "auto": ("auto", "Auto"), "bayes": ("bayes", "Bayes"), "bohb": ("bohb", "BOHB"),
    "evolution": ("evolution", "Evolution"), "gradient": ("gradient", "Gradient"),
    "grid": ("grid", "Grid"), "hyperband": ("hyperband", "Hyperband"),
    "manual": ("manual", "Manual"), "pbt": ("pbt", "PBT"), "random": ("random_search", "Random"),
    "sha": ("sha", "SHA"), "tpe": ("tpe", "TPE"),
}  # fmt: skip
"""hpotrack's own methods by the name a study stores: where each one's class is, imported
(and so registered) the first time the name is resolved."""


_M = TypeVar("_M", bound=type[Method])


def register(cls: _M) -> _M:
    """Class decorator: make a method available by its ``name``, with one clear error for
    a misspelt option (``TPE(gama=0.2)``: did you mean 'gamma'?). It returns the class
    itself, so that type checkers still see its options (``hp.methods.TPE(gamma=0.2)``).

    A study stores its method by name and options and rebuilds it from them, so a class
    without a name of its own, with another method's name, or that is not a frozen
    dataclass of its options is refused (:class:`MethodError`). Registering a class of
    the same name again (a notebook cell run twice) replaces it."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise MethodError(
            f"method class {cls.__name__} needs a name, the tag a study stores it by: "
            f"add name = {cls.__name__.lower()!r} to its class body"
        )
    params = getattr(cls, "__dataclass_params__", None)
    if not dataclasses.is_dataclass(cls) or not getattr(params, "frozen", False):
        raise MethodError(
            f"method class {cls.__name__} must be a frozen dataclass of its options (a "
            "study stores them and rebuilds the method from them): decorate it with "
            "@dataclasses.dataclass(frozen=True) under @hp.methods.register"
        )
    owner = _owner(name, cls)
    if owner is not None:
        raise MethodError(
            f"method name {name!r} is taken by {owner}: give class {_path(cls)} a name of "
            "its own (name = '...')"
        )
    _REGISTRY[name] = friendly_init(MethodError)(cls)
    return cls


def _owner(name: str, cls: type) -> str | None:
    """Who has ``name`` already, other than ``cls`` itself registered again: hpotrack's
    own method of that name (imported yet or not), or another class; None if it is free."""
    if name in BUILTIN and cls.__module__ != _module(name):
        return "a method of hpotrack"
    taken = _REGISTRY.get(name)
    if taken is None or (not _builtin(taken) and taken.__qualname__ == cls.__qualname__):
        return None
    return "a method of hpotrack" if _builtin(taken) else f"class {_path(taken)}"


def _builtin(cls: type) -> bool:
    return cls.__module__.startswith("hpotrack.")


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _module(name: str) -> str:
    """The module of hpotrack's own method ``name`` (a key of :data:`BUILTIN`)."""
    return f"hpotrack.methods.{BUILTIN[name][0]}"


def _registered(name: str) -> type[Method] | None:
    """The class registered under ``name``, importing hpotrack's own method of that name
    on first use; None for a name nothing registered."""
    if name not in _REGISTRY and name in BUILTIN:
        cls: type[Method] = getattr(importlib.import_module(_module(name)), BUILTIN[name][1])
        return cls
    return _REGISTRY.get(name)


def known_methods() -> list[str]:
    """The names ``method=`` accepts, sorted."""
    return sorted(_REGISTRY.keys() | BUILTIN.keys())


def multi_objective_methods() -> list[str]:
    """The names of the methods that search for a Pareto front (several objectives),
    sorted: those whose class says it can (:attr:`Method.multi_objective`)."""
    return [name for name in known_methods() if getattr(_registered(name), "multi_objective", 0)]


def constrained_methods() -> list[str]:
    """The names of the methods that honour a study's constraints, sorted: those whose
    class says it does (:attr:`Method.constrained`)."""
    return [name for name in known_methods() if getattr(_registered(name), "constrained", 0)]


def resolve(method: str | Method) -> Method:
    """A method instance from a name (with default options) or an instance. An instance
    must be of the class registered under its name: a study stores its method by name and
    rebuilds it from there, so an unregistered subclass would silently run as its parent."""
    if isinstance(method, Method):
        if _registered(method.name) is not type(method):
            raise MethodError(
                f"method class {type(method).__name__} is not registered under its name "
                f"{method.name!r}: a study stores its method by name, so give the class a "
                "name of its own (name = '...') and decorate it with @hp.methods.register"
            )
        _check_storable(method)
        return method
    found = _registered(method) if isinstance(method, str) else None
    if found is not None:
        return found()
    raise UnknownMethodError(f"unknown method {method!r}{_suggestion(method)} (known "
                             f"methods: {', '.join(known_methods())})")  # fmt: skip


def _check_storable(method: Method) -> None:
    """Refuse an option a study cannot store and give back as it was: the method is
    rebuilt from its stored options (in workers, on resume), and an object JSON does not
    hold would come back as its repr, a different method."""
    for key, value in method.to_json()["options"].items():
        if not _is_json(value):
            raise MethodError(
                f"option {key}={value!r} of method {method.name!r} cannot be stored: a "
                "study stores its method's options as JSON and rebuilds the method from "
                "them, so give finite numbers, strings, booleans, None, or lists and "
                "dicts (with string keys) of them, e.g. a name that selects the object"
            )


def _is_json(value: object) -> bool:
    """Whether ``value`` is plain JSON data (numpy numbers count as numbers)."""
    if value is None or isinstance(value, (bool, str)):
        return True
    if isinstance(value, numbers.Real):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_is_json(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


ALIASES = {  # names users of other libraries try, and what hpotrack calls them
    "bayesian": "bayes", "gp": "bayes", "asha": "sha", "halving": "sha", "genetic": "evolution",
    "nsga2": "evolution", "nsgaii": "evolution",
    "successivehalving": "sha", "smac": "bayes",
    "tpesampler": "tpe", "randomsampler": "random", "gridsampler": "grid",
    "gpsampler": "bayes", "nsgaiisampler": "evolution",
    "bruteforce": "grid", "bruteforcesampler": "grid",
    "tpesuggest": "tpe", "atpesuggest": "tpe", "randsuggest": "random", "rand": "random",
    "annealsuggest": "evolution", "anneal": "evolution", "hyperopt": "tpe",
    "hyperoptsearch": "tpe", "optunasearch": "tpe", "bayesoptsearch": "bayes",
    "basicvariantgenerator": "random", "gridsearch": "grid", "ashascheduler": "sha",
    "hyperbandscheduler": "hyperband", "hyperbandforbohb": "bohb", "tunebohb": "bohb",
    "hpbandster": "bohb", "populationbasedtraining": "pbt", "pb2": "pbt",
}  # fmt: skip

OPTIONS = {  # names of what is an option of one of hpotrack's methods
    "qmc": "hp.methods.Random(qmc=True)", "sobol": "hp.methods.Random(qmc=True)",
    "qmcsampler": "hp.methods.Random(qmc=True)",
    "median": "hp.methods.TPE(pruner='median')",
    "medianstoppingrule": "hp.methods.TPE(pruner='median')",
    "cmaes": "hp.methods.Evolution(strategy='cma')", "cma": "hp.methods.Evolution(strategy='cma')",
    "cmaessampler": "hp.methods.Evolution(strategy='cma')",
}  # fmt: skip


def _suggestion(method: object) -> str:
    """What the user likely meant by an unknown ``method``: a registered class given
    instead of an instance, a name in another case or spelling, or another library's
    name for one of ours; empty when nothing is close."""
    if isinstance(method, type) and issubclass(method, Method):
        return f": pass an instance, method=hp.methods.{method.__name__}(), or its name"
    if not isinstance(method, str):
        return ""
    lowered = method.lower()
    bare = "".join(c for c in lowered if c.isalnum())  # Optuna's class names, snake case
    if bare in OPTIONS:
        return f"; did you mean method={OPTIONS[bare]}?"
    if lowered in known_methods():
        return f"; did you mean {lowered!r}?"
    if bare in ALIASES:
        return f"; did you mean {ALIASES[bare]!r}?"
    close = difflib.get_close_matches(lowered, known_methods(), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def class_spelling(name: str) -> str | None:
    """hpotrack's spelling of another library's sampler or search class ``name`` asked of
    ``hp.methods`` (Optuna's ``TPESampler``: ``hp.methods.TPE(...)``), None for a name
    that is none of theirs."""
    bare = "".join(c for c in name.lower() if c.isalnum())
    if bare in OPTIONS:
        return OPTIONS[bare]
    if bare in ALIASES:
        return f"hp.methods.{BUILTIN[ALIASES[bare]][1]}(...)"
    return None


def from_json(data: dict[str, Any]) -> Method:
    """Rebuild a stored method; options unknown to this version are an error, options
    newer than the study take their ``stored_defaults``."""
    cls = resolve(str(data.get("name"))).__class__
    try:
        return cls(**{**cls.stored_defaults, **data.get("options", {})})
    except (TypeError, MethodError) as exc:
        raise MethodError(f"stored options of method {cls.name!r} are invalid: {exc}") from None

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
import typing
from typing import Any

import numpy as np
import pytest

import hpotrack as hp
from hpotrack.errors import MethodError
from hpotrack.methods import TPE, Grid, Random, known_methods, resolve
from hpotrack.methods.registry import BUILTIN, from_json, register


def test_names_resolve_to_default_instances() -> None:
    assert resolve("random") == Random()
    assert resolve("grid") == Grid()
    assert {"manual", "grid", "random"} <= set(known_methods())


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(MethodError, match=r"unknown method 'rnadom'.*grid.*manual.*random"):
        resolve("rnadom")


@pytest.mark.parametrize(
    ("given", "hint"),
    [
        ("tpee", "; did you mean 'tpe'?"),
        ("TPE", "; did you mean 'tpe'?"),
        ("bayesian", "; did you mean 'bayes'?"),
        ("ASHA", "; did you mean 'sha'?"),
        ("qmc", "; did you mean method=hp.methods.Random(qmc=True)?"),
        ("cmaes", "; did you mean method=hp.methods.Evolution(strategy='cma')?"),
        ("TPESampler", "; did you mean 'tpe'?"),  # Optuna's class names
        ("CmaEsSampler", "; did you mean method=hp.methods.Evolution(strategy='cma')?"),
        ("BruteForceSampler", "; did you mean 'grid'?"),
        ("successive_halving", "; did you mean 'sha'?"),
        (TPE, ": pass an instance, method=hp.methods.TPE(), or its name"),
        ("nothing-like-it", ""),
    ],
    ids=repr,
)
def test_an_unknown_method_suggests_what_was_likely_meant(given: object, hint: str) -> None:
    with pytest.raises(MethodError) as raised:
        resolve(given)  # type: ignore[arg-type]
    assert str(raised.value).startswith(f"unknown method {given!r}{hint} (known methods: auto,")


@pytest.mark.parametrize(
    ("name", "spelling"),
    [
        ("TPESampler", "hp.methods.TPE(...)"),
        ("RandomSampler", "hp.methods.Random(...)"),
        ("GPSampler", "hp.methods.Bayes(...)"),
        ("CmaEsSampler", "hp.methods.Evolution(strategy='cma')"),
        ("BruteForceSampler", "hp.methods.Grid(...)"),
        ("QMCSampler", "hp.methods.Random(qmc=True)"),
    ],
)
def test_optunas_sampler_classes_on_hp_methods_name_hpotracks(name: str, spelling: str) -> None:
    """``hp.methods.TPESampler(seed=0)``, Optuna's ``optuna.samplers.TPESampler`` with the
    import renamed, was a bare AttributeError."""
    with pytest.raises(AttributeError) as raised:
        getattr(hp.methods, name)
    assert str(raised.value) == (
        f"module 'hpotrack.methods' has no attribute {name!r}; hpotrack spells it "
        f"{spelling}, as method= of @hp.tune"
    )
    with pytest.raises(AttributeError) as other:
        hp.methods.Tpe  # type: ignore[attr-defined]  # noqa: B018 - the access is the test
    assert str(other.value) == "module 'hpotrack.methods' has no attribute 'Tpe'"
    assert not hasattr(hp.methods, name)


def test_stored_options_unknown_to_this_version_are_an_error() -> None:
    with pytest.raises(MethodError, match="stored options of method 'grid'"):
        from_json({"name": "grid", "options": {"cells": 3}})


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda: hp.methods.TPE(gama=0.2),
            "TPE() got an unknown keyword argument 'gama'; did you mean 'gamma'?",
        ),
        (
            lambda: hp.methods.Grid(foo=1),
            "Grid() got an unknown keyword argument 'foo'. Valid: grid_points, shuffle",
        ),
        (lambda: hp.methods.Manual(x=1), "Manual() takes no options, but got x=1"),
        (
            lambda: hp.methods.SHA(3, 4),
            "SHA() takes at most 1 positional argument(s) but 2 were given",
        ),
        (
            lambda: hp.methods.TPE(5, n_startup=3),
            "TPE() got multiple values for argument 'n_startup'",
        ),
        # other libraries' names: the option under hpotrack's name, or the study's setting
        (lambda: hp.methods.SHA(reduction_factor=3), "'reduction_factor'; did you mean 'eta'?"),
        (lambda: hp.methods.PBT(perturbation_interval=4), "did you mean 'interval'?"),
        (lambda: hp.methods.TPE(n_startup_trials=5), "did you mean 'n_startup'?"),
        (
            lambda: hp.methods.BOHB(min_budget=1),  # it suggested 'model_budget'
            "'min_budget'. Valid: eta, brackets, top_n_percent, random_fraction, num_samples, "
            "bandwidth_factor, min_bandwidth, model_budget; the budget is the study's: "
            "@hp.tune(..., budget=hp.Budget(min, max))",
        ),
        (lambda: hp.methods.Hyperband(max_t=27), "; the budget is the study's: @hp.tune("),
        (
            lambda: hp.methods.Random(random_state=0),
            "the seed is the study's: @hp.tune(..., seed=0)",
        ),
        (  # it said only "Valid: eta"
            lambda: hp.methods.SHA(pruner="median"),
            "'pruner'. Valid: eta; pruner= is an option of random, tpe, bayes and evolution; "
            "sha, hyperband and bohb stop trials at their own rungs",
        ),
    ],
)
def test_a_misspelt_or_extra_option_is_one_method_error(make: Any, expected: str) -> None:
    with pytest.raises(MethodError) as info:
        make()
    assert expected in str(info.value)


@pytest.mark.parametrize("name", known_methods())
def test_a_seed_given_to_a_method_says_it_is_the_studys(name: str) -> None:
    """Optuna seeds its sampler (TPESampler(seed=0)); hpotrack seeds the study."""
    with pytest.raises(MethodError) as info:
        type(resolve(name))(seed=0)  # type: ignore[call-arg]
    assert str(info.value).endswith("; the seed is the study's: @hp.tune(..., seed=0)")
    with pytest.raises(MethodError, match=r"seed=7\)$"):
        hp.pruners.Median(seed=7)  # type: ignore[call-arg]
    with pytest.raises(hp.SpaceError, match=r"Valid: low, high, log, step, when$"):
        hp.Float(0.0, 1.0, seed=0)  # type: ignore[call-arg]  # a space's: no such hint


def _numpy_options(method: Any) -> dict[str, Any]:
    """Every int or float option of ``method`` at its default, as a numpy scalar."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(method):
        value = getattr(method, field.name)
        if not field.init or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        out[field.name] = np.int64(value) if isinstance(value, int) else np.float32(value)
    return out


@pytest.mark.parametrize("name", known_methods())
def test_numpy_numbers_as_options_are_stored_as_plain_ones(name: str) -> None:
    default = resolve(name)
    options = _numpy_options(default)
    method = type(default)(**options)
    stored = method.to_json()["options"]
    for key in options:
        assert type(stored[key]) is type(getattr(default, key)), key
        assert stored[key] == pytest.approx(getattr(default, key), rel=1e-6), key
    assert from_json(json.loads(json.dumps(method.to_json()))) == method


@pytest.mark.parametrize("name", ["median", "percentile"])
def test_numpy_numbers_as_pruner_options_are_stored_as_plain_ones(name: str) -> None:
    default = hp.pruners.pruner_from(name)
    pruner = type(default)(**_numpy_options(default))
    assert json.loads(json.dumps(pruner.to_json())) == default.to_json()


def test_register_returns_the_class_itself_to_type_checkers() -> None:
    """pyright applies a class decorator's annotated return type: ``register`` declared
    ``type[Method]``, so ``hp.methods.TPE(gamma=0.2)`` was an error in the user's editor
    ("No parameter named 'gamma'") and ``hp.methods.Bayes().startup`` an unknown
    attribute. It must return the very type it is given."""
    hints = typing.get_type_hints(register)
    assert isinstance(hints["return"], typing.TypeVar)
    assert hints["return"] is hints["cls"]


def test_a_method_is_imported_on_first_use_of_its_name() -> None:
    """hpotrack's own methods are imported when first needed, not by ``import
    hpotrack``: every name is still known, resolves and rebuilds from its stored form,
    and a user's class cannot take the name of one not imported yet."""
    code = textwrap.dedent(
        """
        import dataclasses, sys
        import hpotrack as hp
        from hpotrack.methods.registry import from_json
        assert "hpotrack.methods.tpe" not in sys.modules
        try:
            @hp.methods.register
            @dataclasses.dataclass(frozen=True)
            class Mine(hp.methods.Random):
                name = "tpe"
        except hp.errors.MethodError as exc:
            print(exc)
        print(hp.methods.known_methods())
        print(hp.methods.resolve("tpe") == hp.methods.TPE())
        print(from_json({"name": "bohb", "options": {"eta": 2.0}}).eta)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "method name 'tpe' is taken by a method of hpotrack: give class __main__.Mine a name "
        "of its own (name = '...')",
        str(sorted(BUILTIN)),  # hpotrack's own, every one
        "True",
        "2.0",
    ]


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_each_builtin_name_resolves_to_the_class_of_that_name(name: str) -> None:
    """The name table the lazy import reads must agree with each class's own ``name``: a
    mismatch would store a study under a name that rebuilds another method."""
    module, class_name = BUILTIN[name]
    cls = getattr(hp.methods, class_name)
    assert cls.__module__ == f"hpotrack.methods.{module}"
    assert type(resolve(name)) is cls and cls.name == name

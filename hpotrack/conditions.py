"""A parameter's ``when``: the form users write (``{"kernel": "rbf"}``, or a list of values)
and the checked form a parameter stores, its repr and its JSON. Whether the parents and
their values exist is the space's to check (:mod:`hpotrack.space_rules`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from hpotrack.errors import SpaceError
from hpotrack.param_input import Value, to_option

if TYPE_CHECKING:
    from hpotrack.params import Choice, Float, Int

Condition: TypeAlias = tuple[tuple[str, tuple[Value, ...]], ...]
"""A parameter's ``when``: (parent name, the parent's values that make it active) pairs,
all of which must hold; stored in the order given."""

When: TypeAlias = Mapping[str, Value | Sequence[Value]] | Condition
"""``when`` as users write it (``{"kernel": "rbf"}``, ``{"kernel": ["rbf", "poly"]}``), or
the stored form a parameter holds after ``__post_init__``."""


def condition_of(param: Float | Int | Choice) -> Condition | None:
    """The parameter's ``when`` in its stored form (its ``__post_init__`` put it so)."""
    return cast(Condition | None, param.when)


def to_condition(raw: object) -> Condition | None:
    """``when`` as written (``{"kernel": "rbf"}``, ``{"kernel": ["rbf", "poly"]}``) in its
    stored form, or None; whether the parents and values exist is the space's to check."""
    if raw is None:
        return None
    if isinstance(raw, tuple) and all(  # already stored form (a copy of a parameter)
        isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], tuple) for pair in raw
    ):
        raw = {name: list(values) for name, values in raw}
    if not isinstance(raw, Mapping) or not raw:
        raise SpaceError(
            f"`when` must be a non-empty dict of parameter name -> value(s), but got "
            f"when={raw!r}; e.g. when={{'kernel': 'rbf'}} or when={{'kernel': ['rbf', 'poly']}}"
        )
    pairs = []
    for name, values in raw.items():
        if not isinstance(name, str) or not name:
            raise SpaceError(f"`when` keys must be parameter names, but got {name!r}")
        listed = list(values) if isinstance(values, list | tuple) else [values]
        if not listed:
            raise SpaceError(
                f"`when` gives no value for {name!r}: list at least one, e.g. "
                f"when={{{name!r}: [...]}}"
            )
        pairs.append((name, tuple(to_option(value) for value in listed)))
    return tuple(pairs)


def condition_text(when: Condition | None) -> str:
    """``, when={'kernel': ['rbf']}`` for a repr, or nothing."""
    if when is None:
        return ""
    return f", when={ {name: list(values) for name, values in when}!r}"


def condition_json(when: Condition | None) -> dict[str, Any]:
    """``{"when": {parent: [values]}}`` for ``to_json``, or nothing: a parameter without a
    condition keeps the JSON it always had, so stored studies compare equal."""
    if when is None:
        return {}
    return {"when": {name: list(values) for name, values in when}}


def set_condition(param: Float | Int | Choice) -> None:
    """Store the parameter's ``when`` in its checked form."""
    object.__setattr__(param, "when", to_condition(param.when))

"""Which parameters a space's conditions leave inactive for given values, and why, in
words: the reasons ``hpotrack trial`` shows, and the refusal of a value given for a
parameter that the other values leave inactive, or given without a parent it depends on.

Each function takes the space's parameters and its checked conditions
(:func:`hpotrack.space_rules.rules_of`); :class:`hpotrack.space.Space` calls them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from hpotrack.errors import SpaceError
from hpotrack.params import Choice, Param
from hpotrack.space_rules import Rule


def inactive(
    params: Mapping[str, Param], rules: tuple[Rule, ...], values: Mapping[str, object]
) -> frozenset[str]:
    """The conditional parameters that ``values`` leave inactive: a parent's value is
    not one of the condition's, or the parent is absent (or inactive itself)."""
    off: set[str] = set()
    for rule in rules:
        if not all(
            p.name in values
            and p.name not in off
            and _option(params, p.name, values[p.name]) in p.options
            for p in rule.parents
        ):
            off.add(rule.name)
    return frozenset(off)


def why_inactive(
    params: Mapping[str, Param], rules: tuple[Rule, ...], values: Mapping[str, object]
) -> dict[str, str]:
    """Each parameter ``values`` (valid, as stored) leave inactive, in the space's
    order, with why: the parents' values that fail its condition (``kernel='linear'``),
    or a parent that is inactive itself (``shrink inactive``)."""
    off = inactive(params, rules, values)
    reasons = {}
    for rule in rules:
        if rule.name not in off:
            continue
        failing = []
        for p in rule.parents:
            if p.name not in values or p.name in off:
                failing.append(f"{p.name} inactive")
            elif _option(params, p.name, values[p.name]) not in p.options:
                failing.append(f"{p.name}={values[p.name]!r}")
        reasons[rule.name] = ", ".join(failing)
    return {name: reasons[name] for name in params if name in reasons}


def check_active(
    params: Mapping[str, Param], rules: tuple[Rule, ...], values: Mapping[str, object]
) -> None:
    """Refuse a value given for a parameter that the other values leave inactive, or
    given without the parent it depends on."""
    off: set[str] = set()
    for rule in rules:
        for p in rule.parents:
            if p.name not in values:
                if rule.name in values:
                    raise SpaceError(_without_parent(params, rules, rule, values))
                off.add(rule.name)
            elif p.name in off or _option(params, p.name, values[p.name]) not in p.options:
                off.add(rule.name)
        if rule.name in off and rule.name in values:
            given = ", ".join(
                f"{p.name}={values[p.name]!r}" for p in rule.parents if p.name in values
            )
            raise SpaceError(
                f"hyperparameter {rule.name!r} applies only when "
                f"{_condition_text(params, rule)}, but got {given}: leave {rule.name!r} out"
            )


def _option(params: Mapping[str, Param], name: str, value: object) -> int:
    """The option number of a parent's value (a Choice, as :func:`rules_of` checked)."""
    return cast(Choice, params[name]).index(value, name)


def _without_parent(
    params: Mapping[str, Param],
    rules: tuple[Rule, ...],
    rule: Rule,
    values: Mapping[str, object],
) -> str:
    """Why ``rule``'s parameter, given without a parent it depends on, is refused:
    its condition, and those of the parents left out up the chain (``tol`` given alone
    needs ``shrink``, which needs ``kernel``), naming every parameter to give too."""
    ruled = {r.name: r for r in rules}
    conditions, absent, pending = [], set(), [rule]
    while pending:
        current = pending.pop(0)
        conditions.append((current.name, _condition_text(params, current)))
        for p in current.parents:
            if p.name not in values and p.name not in absent:
                absent.add(p.name)
                parent = ruled.get(p.name)  # its condition, if it needs a value left out
                if parent is not None and any(q.name not in values for q in parent.parents):
                    pending.append(parent)
    (_, first), *more = conditions
    text = f"hyperparameter {rule.name!r} applies only when {first}"
    text += "".join(f", and {name!r} only when {condition}" for name, condition in more)
    names = [repr(name) for name in params if name in absent]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"{text}: give {listed} too"


def _condition_text(params: Mapping[str, Param], rule: Rule) -> str:
    """``kernel is 'rbf'``, ``kernel is one of 'rbf', 'poly'``, joined by ``and``."""
    parts = []
    for p in rule.parents:
        options = [params[p.name].value_at(i) for i in sorted(p.options)]
        listed = ", ".join(map(repr, options))
        parts.append(
            f"{p.name} is {listed}" if len(options) == 1 else f"{p.name} is one of {listed}"
        )
    return " and ".join(parts)

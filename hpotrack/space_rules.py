"""A space's conditions, checked: which parameter depends on which values of which
``Choice`` (:class:`Rule`), ordered so that a parent's rule comes before its child's, and
the cube coordinate an inactive parameter takes (:data:`INACTIVE`)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from hpotrack.conditions import condition_of
from hpotrack.errors import SpaceError
from hpotrack.param_input import Value
from hpotrack.params import Choice, Param


@contextmanager
def about_parameter(name: str) -> Iterator[None]:
    """Prefix SpaceErrors raised inside with the parameter's name."""
    try:
        yield
    except SpaceError as error:
        raise SpaceError(f"parameter {name!r}: {error}") from None


INACTIVE = 0.5
"""The cube coordinate :meth:`Space.encode` gives an inactive parameter: a constant."""


@dataclass(frozen=True)
class Clause:
    """One clause of a condition: the parent's name, its coordinate, and the option
    numbers that make the child active."""

    name: str
    index: int
    options: frozenset[int]


@dataclass(frozen=True)
class Rule:
    """A conditional parameter: its name, its coordinate, and the clauses that must all
    hold for it to be active."""

    name: str
    index: int
    parents: tuple[Clause, ...]


def rules_of(params: Mapping[str, Param]) -> tuple[Rule, ...]:
    """The conditions of ``params``, checked (parents exist, are Choices and have the
    values named; no cycles) and ordered so that a parent's rule comes before its child's."""
    rules: dict[str, Rule] = {}
    for index, (name, param) in enumerate(params.items()):
        condition = condition_of(param)
        if condition is None:
            continue
        with about_parameter(name):
            clauses = tuple(_clause(params, name, parent, values) for parent, values in condition)
        rules[name] = Rule(name, index, clauses)
    ordered: dict[str, Rule] = {}

    def visit(name: str, path: list[str]) -> None:
        if name in ordered or name not in rules:
            return
        if name in path:
            cycle = [*path[path.index(name) :], name]
            raise SpaceError(
                f"parameter {name!r}: `when` conditions form a cycle ("
                + " -> ".join(map(repr, cycle))
                + ", each depending on the next); each chain of conditions must end at a "
                "parameter without `when`"
            )
        for clause in rules[name].parents:
            visit(clause.name, [*path, name])
        ordered[name] = rules[name]

    for name in rules:
        visit(name, [])
    return tuple(ordered.values())


def _clause(
    params: Mapping[str, Param], name: str, parent: str, values: tuple[Value, ...]
) -> Clause:
    """A clause ``parent in values`` of ``name``'s condition, checked against the space."""
    if parent == name:
        raise SpaceError("`when` names the parameter itself; name the parameter it depends on")
    if parent not in params:
        others = [n for n in params if n != name]
        close = difflib.get_close_matches(parent, others, n=1)
        if close:
            hint = f"; did you mean {close[0]!r}?"
        elif others:
            hint = f" (the space has {', '.join(map(repr, others))})"
        else:  # the only parameter: "(the space has )" named nothing
            hint = f": add {parent!r} to the space, as a hp.Choice([...]) of its options"
        raise SpaceError(f"`when` names {parent!r}, which is not a parameter of the space{hint}")
    owner = params[parent]
    if not isinstance(owner, Choice):
        raise SpaceError(
            f"`when` names {parent!r}, which is {owner!r}: a condition's parent must be "
            f"a hp.Choice (list the values that matter: hp.Choice([...]))"
        )
    options = []
    for value in values:
        try:
            options.append(owner.index(value, parent))
        except SpaceError as error:
            raise SpaceError(f"`when` gives a value {parent!r} never takes: {error}") from None
    return Clause(parent, list(params).index(parent), frozenset(options))

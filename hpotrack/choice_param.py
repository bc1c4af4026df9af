"""``Choice``: one of a list of options (JSON scalars), each given an equal bin of [0, 1]
so that uniform sampling of the cube is uniform over the options. The other parameter
types, and what all of them share, are in :mod:`hpotrack.params`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from hpotrack.conditions import When, condition_json, condition_of, condition_text, set_condition
from hpotrack.errors import SpaceError
from hpotrack.options import friendly_init
from hpotrack.param_input import Value, kind_of, to_option
from hpotrack.unit_cube import bin_of

__all__ = ["Choice"]


@friendly_init(SpaceError)
@dataclass(frozen=True)
class Choice:
    """One of a list of JSON scalars, stored as a tuple; 1 and True are different options."""

    options: Sequence[Value]
    when: When | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        set_condition(self)
        raw: object = self.options
        if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Iterable):
            raise SpaceError(
                f"Choice options must be a list, but got {raw!r}; e.g. hp.Choice(['adam', 'sgd'])"
            )
        if isinstance(raw, AbstractSet):  # its order changes between processes
            raise SpaceError(
                f"Choice options must be a list, but got a set {raw!r}: a set's order "
                "changes from one process to the next, so the study could not be reopened; "
                f"use sorted(...) or a list"
            )
        options = tuple(to_option(x) for x in raw)
        if not options:
            raise SpaceError("Choice needs at least one option, but got none")
        seen: set[tuple[str | None, Value]] = set()
        for option in options:
            if (kind_of(option), option) in seen:
                raise SpaceError(
                    f"duplicate option {option!r} in Choice options; list each option once"
                )
            seen.add((kind_of(option), option))
        object.__setattr__(self, "options", options)

    def _key(self) -> tuple[object, ...]:
        """Options with their types (Choice([1]), Choice([1.0]) and Choice([True]) differ),
        and the condition, its values typed alike."""
        when = tuple(
            (name, tuple((type(x).__name__, x) for x in values))
            for name, values in condition_of(self) or ()
        )
        return (tuple((type(x).__name__, x) for x in self.options), when)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Choice) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Choice({list(self.options)!r}{condition_text(condition_of(self))})"

    @property
    def is_discrete(self) -> bool:
        """Always True."""
        return True

    @property
    def n_values(self) -> int:
        """How many options there are."""
        return len(self.options)

    def index(self, value: object, name: str = "value") -> int:
        """Position of the option equal to ``value`` and of the same kind; ``name`` is the
        parameter's in a message."""
        kind = kind_of(value)
        for i, option in enumerate(self.options):
            if kind is not None and kind_of(option) == kind and option == value:
                return i
        hint = ""
        if kind is not None and value in self.options:
            kind_name = type(value).__name__
            article = "an" if kind_name[0] in "aeiou" else "a"
            hint = f"; {value!r} is {article} {kind_name} and matches only that kind of option"
        raise SpaceError(f"{name}={value!r} is not one of the options {list(self.options)!r}{hint}")

    def validate(self, value: object, name: str = "value") -> Value:
        """The option equal to ``value`` (numpy's 3 gives the option 3); ``name`` is the
        parameter's in a message."""
        return self.options[self.index(value, name)]

    def encode(self, value: object, name: str = "value") -> float:
        """The middle of the option's bin."""
        return (self.index(value, name) + 0.5) / len(self.options)

    def decode(self, u: float) -> Value:
        """The option whose bin holds ``u``."""
        return self.options[bin_of(u, len(self.options))]

    def value_at(self, index: int) -> Value:
        """Option ``index``."""
        if not 0 <= index < len(self.options):
            raise SpaceError(f"{self!r} has no option number {index!r}")
        return self.options[index]

    def grid_values(self, grid_points: int | None = None) -> tuple[Value, ...]:
        """All options; ``grid_points`` does not thin them."""
        return tuple(self.options)

    def to_json(self) -> dict[str, Any]:
        """``{"type": "choice", "options": [...]}``, and ``"when"`` if set."""
        return {
            "type": "choice",
            "options": list(self.options),
            **condition_json(condition_of(self)),
        }

"""Which trial first had given values: the index behind
:meth:`hpotrack.methods.history.History.has_configuration` and ``first_with``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hpotrack.records import TrialRecord
from hpotrack.space import Space, Value


class FirstWith:
    """Per set of parameter names (None: all of them), :meth:`Space.key` of their values
    -> the lowest number of a trial with them. An index is built when first asked and
    then extended by the trials added since (a trial's values never change), so methods
    that never ask pay nothing and later calls pay only for the new trials."""

    def __init__(self, space: Space, trials: Sequence[TrialRecord]) -> None:
        self._space = space
        self._trials = trials  # the history's own list: read as it grows
        self._indexes: dict[tuple[str, ...] | None, tuple[dict[str, int], int]] = {}

    def first(self, values: Mapping[str, Value], names: tuple[str, ...] | None) -> int | None:
        """The lowest number of a trial whose values of ``names`` equal ``values``'s."""
        return self.index(names).get(self._space.key(values, names))

    def index(self, names: tuple[str, ...] | None) -> dict[str, int]:
        """The index of ``names``, extended by the trials added since the last call."""
        keys, indexed = self._indexes.get(names, ({}, 0))
        for trial in self._trials[indexed:]:
            keys.setdefault(self._space.key(trial.params, names), trial.number)
        self._indexes[names] = (keys, len(self._trials))
        return keys

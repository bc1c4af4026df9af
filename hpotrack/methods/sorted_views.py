"""The sorted indexes :class:`hpotrack.methods.history.History` keeps, and the read-only
views of them it hands to methods: changing one entry keeps a list sorted without a
pass over it, and reading two indexes as one list copies nothing."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

from hpotrack.records import TrialRecord

__all__ = ["Concatenated", "ReadOnlyList", "sorted_change"]


def sorted_change(items: list[Any], item: Any, add: bool) -> bool:
    """Insert ``item`` into the sorted list, or remove one equal to it; whether the list
    changed (a removal finds none to remove)."""
    if add:
        bisect.insort(items, item)
        return True
    index = bisect.bisect_left(items, item)
    if index < len(items) and items[index] == item:
        del items[index]
        return True
    return False


class Concatenated(Sequence[tuple[float, int]]):
    """Two sorted indexes read as one list, the first's entries first, without copying
    them: slicing copies only the entries it takes."""

    __slots__ = ("_first", "_second")

    def __init__(self, first: list[tuple[float, int]], second: list[tuple[float, int]]) -> None:
        self._first = first
        self._second = second

    def __len__(self) -> int:
        return len(self._first) + len(self._second)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:
                split = len(self._first)
                head = self._first[start : min(stop, split)]
                return head + self._second[max(start - split, 0) : max(stop - split, 0)]
            return [self[i] for i in range(start, stop, step)]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("ranked index out of range")
        split = len(self._first)
        return self._first[index] if index < split else self._second[index - split]


class ReadOnlyList(Sequence[TrialRecord]):
    """A list of trials that methods can read and index but not change."""

    __slots__ = ("_items",)

    def __init__(self, items: list[TrialRecord]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: Any) -> Any:
        return self._items[index]

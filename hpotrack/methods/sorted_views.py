"""The sorted indexes :class:`hpotrack.methods.history.History` keeps, and the read-only
views of them it hands to methods: changing one entry keeps a list sorted without a
pass over it, and reading two indexes as one list copies nothing."""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from hpotrack.records import TrialRecord

__all__ = [
    "INSERT_AT_MOST",
    "Concatenated",
    "LastTwo",
    "ReadOnlyList",
    "SortedChanges",
    "sorted_change",
]

INSERT_AT_MOST = 64
"""In a :meth:`SortedChanges.batch`, a sorted index that got more new entries than this
sorts them in at once instead of inserting each (an insertion moves the entries after
it; a sort compares each: about 80 insertions cost what one sort of the index does)."""


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


class SortedChanges:
    """Changes to sorted lists, applied at once or, inside :meth:`batch`, with the
    insertions held back and sorted in at its end."""

    def __init__(self) -> None:
        # in a batch(): per sorted list (by id), the list and its entries to come
        self._pending: dict[int, tuple[list[Any], list[Any]]] | None = None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Hold back the insertions made inside and sort them in at the end: each
        insertion at a random place moves the entries after it, so inserting n entries
        one by one costs O(n²). Nothing may read the lists inside."""
        if self._pending is not None:  # already in one
            yield
            return
        self._pending = {}
        try:
            yield
        finally:
            pending, self._pending = self._pending, None
            for items, added in pending.values():
                if len(added) > INSERT_AT_MOST:
                    items.extend(added)
                    items.sort()  # stable: equal entries in the order insort puts them
                else:
                    for item in added:
                        bisect.insort(items, item)

    def change(self, items: list[Any], item: Any, add: bool) -> None:
        """Insert ``item`` into the sorted list ``items``, or remove one equal to it; in
        a :meth:`batch`, an insertion waits for its end."""
        if self._pending is None:
            sorted_change(items, item, add)
            return
        _, added = self._pending.setdefault(id(items), (items, []))
        if add:
            added.append(item)
        elif not sorted_change(items, item, add) and item in added:
            added.remove(item)  # entered in this batch (a trial replaced twice: rare)


class Concatenated(Sequence[tuple[float, int]]):
    """Sorted indexes read as one list, each one's entries after the previous one's,
    without copying them: slicing copies only the entries it takes."""

    __slots__ = ("_parts",)

    def __init__(self, *parts: Sequence[tuple[float, int]]) -> None:
        self._parts = parts

    def __len__(self) -> int:
        return sum(len(part) for part in self._parts)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            taken: list[tuple[float, int]] = []
            for part in self._parts:
                if stop > 0 and start < len(part):
                    taken.extend(part[max(start, 0) : stop])
                start, stop = start - len(part), stop - len(part)
            return taken
        if index < 0:
            index += len(self)
        if index >= 0:
            for part in self._parts:
                if index < len(part):
                    return part[index]
                index -= len(part)
        raise IndexError("ranked index out of range")


class LastTwo(Sequence[tuple[float, int]]):
    """A sorted index of ``(key, loss, number)`` entries read as ``(loss, number)``: the
    order of one key, the entries of the others (infeasible trials, ranked by how far
    they miss their constraints)."""

    __slots__ = ("_items",)

    def __init__(self, items: list[tuple[float, float, int]]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [(loss, number) for _, loss, number in self._items[index]]
        _, loss, number = self._items[index]
        return loss, number


class ReadOnlyList(Sequence[TrialRecord]):
    """A list of trials that methods can read and index but not change."""

    __slots__ = ("_items",)

    def __init__(self, items: list[TrialRecord]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: Any) -> Any:
        return self._items[index]

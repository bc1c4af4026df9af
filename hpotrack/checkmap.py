"""A trial's checks (step -> objective) as an immutable mapping that grows in O(1).

A pruner may check a running trial at every report, and each check gives the trial a new
record with one more check. Copying the trial's checks into a new dict at each one made
its n-th check cost n (a trial of 100,000 checks spent most of its time copying them), in
the process that checks and in every process that reads the check. A :class:`CheckMap`
made by :func:`with_checks` shares its storage with the map it extends: an append-only
log of (step, value) that each map sees a prefix of. Only a step checked again (a retry
carrying its lost attempt's checks, a step reported twice) or an extension of a map that
is not the newest on its log copies, once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import islice
from typing import Any


class _Log:
    """Steps in the order they were added, their values, and each step's position."""

    __slots__ = ("position", "steps", "values")

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.values: list[float] = []
        self.position: dict[int, int] = {}

    def append(self, step: int, value: float) -> None:
        self.position[step] = len(self.steps)
        self.steps.append(step)
        self.values.append(value)


class CheckMap(Mapping[int, float]):
    """An immutable ``{step: value}``: the first ``len(self)`` entries of its log. It
    equals (``==``) a dict with the same items and prints like one."""

    __slots__ = ("_log", "_size")

    def __init__(self, items: Mapping[int, float] | None = None) -> None:
        log = _Log()
        for step, value in (items or {}).items():
            log.append(step, value)
        self._log, self._size = log, len(log.steps)

    @classmethod
    def _prefix(cls, log: _Log, size: int) -> CheckMap:
        view = object.__new__(cls)
        view._log, view._size = log, size
        return view

    def __getitem__(self, step: int) -> float:
        position = self._log.position.get(step)
        if position is None or position >= self._size:
            raise KeyError(step)
        return self._log.values[position]

    def __contains__(self, step: object) -> bool:
        position = self._log.position.get(step)  # type: ignore[call-overload]
        return position is not None and position < self._size

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[int]:
        return islice(self._log.steps, self._size)

    def __repr__(self) -> str:
        return repr(dict(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (CheckMap, (dict(self),))

    def _extended(self, checks: Mapping[int, float]) -> CheckMap | None:
        """Self with ``checks`` appended to its log, if it is the newest map on it and
        none of those steps is in it; None otherwise."""
        log = self._log
        if self._size != len(log.steps) or any(step in log.position for step in checks):
            return None
        for step, value in checks.items():
            log.append(step, value)
        return CheckMap._prefix(log, len(log.steps))


def with_checks(checks: Mapping[int, float], added: Mapping[int, float]) -> Mapping[int, float]:
    """``checks`` with ``added`` (a step in both takes the added value), in O(len(added))
    when ``checks`` is the newest :class:`CheckMap` on its log and no step is checked
    again; else one copy into a new map. ``checks`` itself never changes."""
    if not added:
        return checks
    if isinstance(checks, CheckMap):
        extended = checks._extended(added)
        if extended is not None:
            return extended
    return CheckMap({**checks, **added})

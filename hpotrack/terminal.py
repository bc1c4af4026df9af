"""Streams on a terminal: whether a stream is one and how wide, and the wrappers that
let a progress bar share its terminal with what a run writes (:class:`AboveTheBar` in the
process that draws the bar, :class:`LineCleared` in its worker processes)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, TextIO


class WritesAbove(Protocol):
    """A bar that writes text above itself (:class:`hpotrack.progress.ProgressBar`)."""

    def write_above(self, stream: TextIO, text: str) -> int: ...


class Wrapped:
    """A stream that passes everything but what it overrides on to ``stream``
    (``isatty``, ``fileno``, ``encoding``, ``flush``, ``buffer``)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def write(self, text: str) -> int:
        return self.stream.write(text)

    if not TYPE_CHECKING:  # mypy must still catch a misspelt attribute

        def __getattr__(self, name: str) -> Any:
            return getattr(self.stream, name)


class AboveTheBar(Wrapped):
    """``sys.stdout`` or ``sys.stderr`` while a progress bar is drawn on the same terminal:
    what is written goes above the bar (:meth:`hpotrack.progress.ProgressBar.write_above`)."""

    def __init__(self, stream: TextIO, bar: WritesAbove) -> None:
        super().__init__(stream)
        self.bar = bar

    def write(self, text: str) -> int:
        return self.bar.write_above(self.stream, text)


class LineCleared(Wrapped):
    """A worker process's ``sys.stdout`` or ``sys.stderr`` on the terminal where the
    parent draws the bar: each line written starts by erasing the line (the bar, which
    the parent draws again below it); a worker's print() continued the bar's line."""

    ERASE = "\r\x1b[K"

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._line_start = True

    def write(self, text: str) -> int:
        erase = self.ERASE if self._line_start and text else ""
        if text:
            self._line_start = text.endswith(("\n", "\r"))
        self.stream.write(erase + text)
        return len(text)


def routed_by(stream: object, bar: WritesAbove) -> bool:
    """Whether ``stream`` is ``bar``'s wrapper (not one a later bar or the run made)."""
    return isinstance(stream, AboveTheBar) and stream.bar is bar


def unwrapped(stream: Any) -> Any:
    """The stream an :class:`AboveTheBar` writes to; any other stream itself."""
    return stream.stream if isinstance(stream, AboveTheBar) else stream


def stream_handlers() -> list[logging.StreamHandler[TextIO]]:
    """The logging handlers that write to a stream, of every logger there is."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    return [
        handler
        for logger in loggers
        if isinstance(logger, logging.Logger)
        for handler in logger.handlers
        # not hpotrack's own, whose stream is sys.stderr as a message is written
        if isinstance(handler, logging.StreamHandler)
        and not isinstance(getattr(type(handler), "stream", None), property)
    ]


def clear_lines_for_the_parents_bar() -> None:
    """In a worker process of a run whose parent draws a bar on this terminal: what
    the worker writes on it erases the bar's line first (:class:`LineCleared`)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if is_terminal(stream) and not isinstance(stream, LineCleared):
            setattr(sys, name, LineCleared(stream))


def columns(stream: object) -> int:
    """The width of the terminal ``stream`` is, 0 where unknown (a notebook's stream, a
    file). A bar wider than its terminal wraps, and the carriage return of each draw
    then goes back to the start of its last row only: a new row of bar per draw."""
    fileno = getattr(stream, "fileno", None)
    if not (is_terminal(stream) and callable(fileno)):  # a notebook's: the kernel's pipe
        return 0
    try:
        return os.get_terminal_size(fileno()).columns
    except (OSError, ValueError):  # not a terminal, or closed
        return 0


def is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)  # None: a handler without a stream
    try:
        return callable(isatty) and bool(isatty())
    except ValueError:  # a closed stream
        return False

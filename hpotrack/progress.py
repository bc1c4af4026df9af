"""A one-line progress bar on stderr: trials done / target (or budget steps trained /
``max_budget``), best so far, elapsed and ETA.

Counts are study-wide (read from the database), so with several processes each bar shows
the whole study. Silent when stderr is not a terminal, or with ``progress=False``. Drawn at
most every ``ProgressBar.REDRAW_S`` (and once more at the end): in a notebook each draw is a
message to the kernel, which tripled the time of a thousand quick trials.
:class:`Counter` is the same kind of line for long command-line work (export, import, plots).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Sized
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from hpotrack.limits import method_end
from hpotrack.records import TrialState

if TYPE_CHECKING:
    from hpotrack.study import Study


class ProgressBar:
    REDRAW_S = 0.1

    def __init__(
        self,
        study: Study,
        target: int | None,
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
        width: int = 24,
        max_budget: float | None = None,
        unstored: Sized = (),
    ) -> None:
        """``unstored``: the trials this process ran whose outcomes its next ask stores
        (the runner's list, read at each draw; they count as done)."""
        self._study = study
        self._target = target
        self._max_budget = max_budget
        self._first_trained: int | None = None
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = self._stream.isatty() if enabled is None else enabled
        self._width = width
        self._started = time.monotonic()
        self._first_done: int | None = None
        self._unstored = unstored
        self._line_open = False  # the bar is drawn and nothing has ended its line yet
        self._drawn_at = -self.REDRAW_S
        self._behind = False  # an update was not drawn yet
        self._drawn_width = 0  # characters of the line drawn last, on the open line

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._enabled:
            if self._behind:
                self._draw()
            self.end_line()
            _OPEN_BARS.discard(self)

    def retarget(self, target: int) -> None:
        """Count toward ``target`` from now on (another process raised the study's)."""
        self._target = target

    def update(self) -> None:
        """Draw the bar again, unless it was drawn less than ``REDRAW_S`` ago."""
        if not self._enabled:
            return
        if time.monotonic() - self._drawn_at < self.REDRAW_S:
            self._behind = True
            return
        self._draw()

    def _draw(self) -> None:
        self._drawn_at = time.monotonic()
        self._behind = False
        text = self.line()
        # spaces cover the end of a longer line drawn before (ETA gone, a shorter best):
        # a notebook's output does not take the terminal's erase-line escape
        self._stream.write("\r" + text.ljust(self._drawn_width))
        self._stream.flush()
        self._drawn_width = len(text)
        self._line_open = True
        _OPEN_BARS.add(self)

    def end_line(self) -> None:
        """End the bar's line, so that what is written next (a log message) starts on a
        line of its own; the next :meth:`update` draws the bar below it."""
        if self._line_open:
            self._stream.write("\n")
            self._stream.flush()
            self._line_open = False
            self._drawn_width = 0

    def draws_on(self, stream: object) -> bool:
        """Whether what is written to ``stream`` shows where the bar is drawn: it is the
        bar's stream, or both are terminals (stdout and stderr in one window)."""
        return stream is self._stream or (_is_terminal(stream) and _is_terminal(self._stream))

    def line(self) -> str:
        """The bar's text for the study's current state."""
        history = self._study.refresh()
        # the trials that count toward the target (not a lost or interrupted one that
        # a retry replaced), less those still running
        done = history.n_started - history.count(TrialState.RUNNING) + len(self._unstored)
        if self._first_done is None:
            self._first_done = done - 1
        elapsed = time.monotonic() - self._started
        parts = [f"{self._study.name}"]
        if self._max_budget:  # the budget is what will stop the search: show it filling
            trained = history.trained
            unit = "" if self._study.budget is None else self._study.budget.unit
            if self._first_trained is None:
                self._first_trained = trained
            bar = _bar(trained, self._max_budget, self._width)
            parts.append(f"{bar} {trained}/{self._max_budget:g} {unit}".rstrip())
            parts.append(f"{done} trials")
            rate = (trained - self._first_trained) / elapsed if elapsed > 0 else 0.0
            if rate > 0 and trained < self._max_budget:
                parts.append(f"eta {_clock((self._max_budget - trained) / rate)}")
        elif self._target:
            parts.append(f"{_bar(done, self._target, self._width)} {done}/{self._target}")
            rate = (done - self._first_done) / elapsed if elapsed > 0 else 0.0
            if rate > 0 and done < self._target:
                parts.append(f"eta {_clock((self._target - done) / rate)}")
        else:
            parts.append(f"{done} trials")
        best = history.best
        parts.append(
            f"best {best.value:.6g} (#{best.number})"
            if best and best.value is not None
            else "best -"
        )
        parts.append(f"elapsed {_clock(elapsed)}")
        return "  ".join(parts)


_OPEN_BARS: set[ProgressBar] = set()  # bars of this process being drawn


def bar_total(study: Study, target: int | None, progress: bool | None) -> int | None:
    """What a run's bar counts toward: the target, else the trials the study will have
    started once its method is exhausted, where the method says (grid: its cells);
    not worked out for a bar that is off (``progress=False``: worker processes)."""
    if target is not None or progress is False:
        return target
    return method_end(study.refresh(), study.method)


def end_open_lines(streams: Iterable[object]) -> None:
    """End the line of any bar being drawn on one of ``streams`` or on the same terminal
    (before a log message written there: it would start at the end of the bar's line);
    a bar on another stream (a message going to a file) goes on on its line."""
    streams = list(streams)
    for bar in list(_OPEN_BARS):
        if any(bar.draws_on(stream) for stream in streams):
            bar.end_line()


def _bar(done: float, total: float, width: int) -> str:
    """``[####....]``: ``done`` of ``total`` as ``width`` cells."""
    filled = min(width, int(width * done // total)) if total > 0 else 0
    return f"[{'#' * filled}{'.' * (width - filled)}]"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Counter:
    """``label [####....] done/total  elapsed 0:07  eta 0:12`` on stderr for long command-line
    work (export, import, plots of many trials), in :class:`ProgressBar`'s style.

    Silent when the stream is not a terminal, and until ``DELAY_S`` have passed, so quick
    work prints nothing (tqdm's ``delay``). While enabled, a daemon thread redraws every
    ``REDRAW_S`` so the clock moves through steps that do not advance the count.
    """

    DELAY_S = 0.5
    REDRAW_S = 0.25

    def __init__(
        self,
        label: str,
        total: int,
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
        width: int = 24,
    ) -> None:
        self.label = label
        self._total = max(total, 0)
        self._done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = _is_terminal(self._stream) if enabled is None else enabled
        self._width = width
        self._started = time.monotonic()
        self._drawn = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Counter:
        if self._enabled:
            self._thread = threading.Thread(target=self._tick, name="hpotrack-progress")
            self._thread.daemon = True
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        late = time.monotonic() - self._started >= self.DELAY_S
        with self._lock:
            if self._enabled and (self._drawn or late):
                self._stream.write("\r" + self.line() + "\n")
                self._stream.flush()

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more units done (redrawn by the thread)."""
        self._done = min(self._total, self._done + count)

    def _tick(self) -> None:
        while not self._stop.wait(self.REDRAW_S):
            if time.monotonic() - self._started >= self.DELAY_S:
                self.draw()

    def draw(self) -> None:
        """Write the line now (over the previous one)."""
        if not self._enabled:
            return
        with self._lock:
            self._stream.write("\r" + self.line())
            self._stream.flush()
            self._drawn = True

    def line(self) -> str:
        elapsed = time.monotonic() - self._started
        done, total = self._done, self._total
        parts = [self.label, f"{_bar(done, total, self._width)} {done}/{total}"]
        parts.append(f"elapsed {_clock(elapsed)}")
        if 0 < done < total:
            parts.append(f"eta {_clock(elapsed * (total - done) / done)}")
        return "  ".join(parts) + "\x1b[K"  # clear what a longer previous line left


def _is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)  # None: a handler without a stream
    try:
        return callable(isatty) and bool(isatty())
    except ValueError:  # a closed stream
        return False

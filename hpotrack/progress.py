"""A one-line progress bar on stderr: trials done / target (or budget steps trained /
``max_budget``), best so far (with ``patience``, the complete trials since it / the
patience), elapsed and ETA.

Counts are study-wide (read from the database), so with several processes each bar shows
the whole study. Silent when stderr is not a terminal, or with ``progress=False``. Drawn at
most every ``ProgressBar.REDRAW_S`` (and once more at the end): in a notebook each draw is a
message to the kernel, which tripled the time of a thousand quick trials.

While the bar is drawn, what the run writes on its terminal (a trial's print(), a
warning, a log message) clears the bar's line first, and the bar is drawn again below it
(tqdm's ``write``, for every write): ``sys.stdout``, ``sys.stderr`` and the logging
handlers' streams are wrapped for the run (:class:`AboveTheBar`), and worker processes
erase the line before each line they write (:class:`LineCleared`).
:class:`Counter` is the same kind of line for long command-line work (export, import, plots).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, TextIO, cast

from hpotrack.limits import NO_STOPS, Stops, method_end
from hpotrack.records import TrialState, is_better
from hpotrack.terminal import (
    AboveTheBar,
    Wrapped,
    columns,
    is_terminal,
    routed_by,
    stream_handlers,
    unwrapped,
)

if TYPE_CHECKING:
    from hpotrack.claims import Claimed, Outcome
    from hpotrack.methods.history import History
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
        stops: Stops = NO_STOPS,
        unstored: Sequence[tuple[Claimed, Outcome]] = (),
        workers: bool = False,
    ) -> None:
        """``stops``: the run's, which the bar shows filling (``max_budget``: the steps
        trained instead of the trials; ``patience``: the complete trials since the best).
        ``unstored``: the trials this process ran whose outcomes its next ask stores
        (the runner's list, read at each draw; they count as done, and their values
        toward the best). ``workers``: worker processes run the trials, and take seconds
        to start (spawn, import the script) before they run one: the ETA's rate counts
        from the first trial seen started, not from the bar's start."""
        self._study = study
        self._target = target
        self._max_budget = stops.max_budget
        self._patience = stops.patience
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = self._stream.isatty() if enabled is None else enabled
        self._width = width
        self._started = time.monotonic()
        self._unstored = unstored
        self._lock = threading.RLock()  # a trial's threads may print while the loop draws
        self._line_open = False  # the bar is drawn and nothing has ended its line yet
        self._hidden = False  # drawn, then cleared for what a run wrote: drawn again below
        self._unfinished: TextIO | None = None  # a stream whose last write left its line open
        self._text = ""  # the line drawn last
        self._drawn_at = -self.REDRAW_S
        self._behind = False  # an update was not drawn yet
        self._drawn_width = 0  # characters of the line drawn last, on the open line
        self._swapped: dict[str, TextIO] = {}  # sys.stdout / sys.stderr before the bar's run
        self._handlers: list[tuple[logging.StreamHandler[TextIO], TextIO]] = []  # and streams
        # what the ETA's rate counts from: (trials done, budget steps trained, when)
        self._basis: tuple[int, int, float] | None = None
        self._started_before = 0
        if self._enabled:  # a bar that is off reads nothing
            history = study.refresh()
            self._started_before = history.n_started
            if not workers:
                self._basis = (self._done(history), self._trained(history), self._started)

    @property
    def enabled(self) -> bool:
        """Whether the bar is drawn."""
        return self._enabled

    def __enter__(self) -> ProgressBar:
        if self._enabled:
            self._route_output_above()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._enabled:
            self._restore_output()
            with self._lock:
                if self._behind or self._hidden:
                    self._draw()
                self.end_line()
            _OPEN_BARS.discard(self)

    def retarget(self, target: int) -> None:
        """Count toward ``target`` from now on (another process raised the study's)."""
        self._target = target

    def update(self) -> None:
        """Draw the bar again, unless it was drawn less than ``REDRAW_S`` ago (then the
        line drawn last, without reading the study, if something written cleared it)."""
        if not self._enabled:
            return
        with self._lock:
            if time.monotonic() - self._drawn_at >= self.REDRAW_S:
                self._draw()
                return
            self._behind = True
            if self._hidden:
                self._show(self._text)

    def _draw(self) -> None:
        with self._lock:
            self._drawn_at = time.monotonic()
            self._behind = False
            self._show(self.line(columns(self._stream)))

    def _show(self, text: str) -> None:
        """Write ``text`` over the bar's line, on a line of its own."""
        if self._unfinished is not None:  # a trial's print(..., end=""): end its line
            self._unfinished.flush()
            self._stream.write("\n")
            self._unfinished = None
        # spaces cover the end of a longer line drawn before (ETA gone, a shorter best):
        # a notebook's output does not take the terminal's erase-line escape
        self._stream.write("\r" + text.ljust(self._drawn_width))
        self._stream.flush()
        self._text = text
        self._drawn_width = len(text)
        self._line_open = True
        self._hidden = False
        _OPEN_BARS.add(self)

    def clear(self) -> None:
        """Blank the bar's line and put the cursor at its start, so that what is written
        next (a log message, a trial's output) takes the line; the bar is drawn again
        below it."""
        with self._lock:
            if self._line_open:
                self._stream.write("\r" + " " * self._drawn_width + "\r")
                self._stream.flush()
                self._line_open = False
                self._drawn_width = 0
                self._hidden = True

    def end_line(self) -> None:
        """End the bar's line, leaving it shown (the run's last, or stopped by Ctrl-C)."""
        with self._lock:
            if self._line_open:
                self._stream.write("\n")
                self._stream.flush()
                self._line_open = False
                self._drawn_width = 0

    def write_above(self, stream: TextIO, text: str) -> int:
        """Write ``text`` to ``stream`` (on the bar's terminal) above the bar: clear the
        bar first, and draw it again once the line ``text`` wrote is finished (as
        ``tqdm.write`` does). A trial's ``print()`` and warnings, and log messages,
        continued the bar's line."""
        if not text:
            return stream.write(text)
        with self._lock:
            self.clear()
            written = stream.write(text)
            if not text.endswith(("\n", "\r")):  # a line still being written: the bar waits
                self._unfinished = stream
                return written
            self._unfinished = None
            if self._hidden:
                stream.flush()  # stdout's text before the bar drawn on stderr
                self._show(self._text)
            return written

    def draws_on(self, stream: object) -> bool:
        """Whether what is written to ``stream`` shows where the bar is drawn: it is the
        bar's stream, or both are terminals (stdout and stderr in one window)."""
        if isinstance(stream, Wrapped):
            stream = stream.stream
        return stream is self._stream or (is_terminal(stream) and is_terminal(self._stream))

    def _route_output_above(self) -> None:
        """While the bar is drawn, what the run writes on the bar's terminal goes above
        it (:meth:`write_above`): through ``sys.stdout`` and ``sys.stderr`` (print(),
        warnings, tracebacks), and through the logging handlers set up by then
        (``logging.basicConfig``'s, whose stream is the stderr of when it ran). A
        stream an earlier bar wrapped (a handler made during its run) is its own again."""
        for name in ("stdout", "stderr"):
            stream = unwrapped(getattr(sys, name))
            if self.draws_on(stream):
                self._swapped[name] = stream
                setattr(sys, name, AboveTheBar(stream, self))
        for handler in stream_handlers():
            stream = unwrapped(handler.stream)
            if self.draws_on(stream):
                handler.setStream(cast(TextIO, AboveTheBar(stream, self)))
                self._handlers.append((handler, stream))

    def _restore_output(self) -> None:
        """Put back what :meth:`_route_output_above` replaced, unless the run replaced
        it in turn (then it is the run's)."""
        for name, stream in self._swapped.items():
            if routed_by(getattr(sys, name), self):
                setattr(sys, name, stream)
        for handler, stream in self._handlers:
            if routed_by(handler.stream, self):
                handler.setStream(stream)
        self._swapped.clear()
        self._handlers.clear()

    def _done(self, history: History) -> int:
        """The trials that count toward the target (not a lost or interrupted one that a
        retry replaced), less those still running, with this process's unstored ones."""
        return history.n_started - history.count(TrialState.RUNNING) + len(self._unstored)

    def _trained(self, history: History) -> int:
        """Budget steps the finished trials trained, with this process's unstored ones."""
        return history.trained + sum(outcome.trained or 0 for _, outcome in self._unstored)

    def _best_found(self, history: History) -> tuple[float, int] | None:
        """The best value so far and its trial's number, with this process's unstored
        trials (of those that meet the study's constraints)."""
        best = history.best
        found = None if best is None or best.value is None else (best.value, best.number)
        objectives = history.objectives
        for claimed, outcome in self._unstored:
            value = outcome.value
            if outcome.state is not TrialState.COMPLETE or value is None:
                continue
            if objectives.constrained and objectives.violation(outcome.metrics) > 0.0:
                continue  # not an answer: it misses a constraint
            if found is None or is_better(value, found[0], self._study.direction):
                found = (value, claimed.number)
        return found

    def _eta(self, counted: float, total: float, basis: float, now: float) -> str | None:
        """``eta H:MM:SS`` for ``counted`` of ``total``, at the rate since the basis
        (``basis`` counted then); ``eta ?`` before anything was counted since (a rate
        from nothing climbed while the first trials ran); None once at the total."""
        if counted >= total:
            return None
        if self._basis is None or counted <= basis or now <= self._basis[2]:
            return "eta ?"
        rate = (counted - basis) / (now - self._basis[2])
        return f"eta {_clock((total - counted) / rate)}"

    def line(self, columns: int = 0) -> str:
        """The bar's text for the study's current state; to fit a terminal ``columns``
        wide (0: any width), with fewer cells, then cut, one column short of it."""
        history = self._study.refresh()
        done = self._done(history)
        trained = self._trained(history)
        now = time.monotonic()
        if self._basis is None and history.n_started > self._started_before:
            self._basis = (done, trained, now)  # the workers began
        best = self._front(history) if history.objectives.is_multi else self._best(history)
        waited = history.complete_since_best()
        text = self._compose(done, trained, best, waited, now, self._width)
        overflow = len(text) - (columns - 1)
        if columns > 0 and overflow > 0:
            cells = max(0, self._width - overflow)
            text = self._compose(done, trained, best, waited, now, cells)[: columns - 1]
        return text

    def _front(self, history: History) -> str:
        """``front 7``: how many complete trials no other beats on every objective, for a
        study of several (this process's unstored trials left out: the front is of the
        stored ones, kept as they complete)."""
        size = len(history.front())
        return f"front {size}" if size else "front -"

    def _best(self, history: History) -> str:
        """``best 0.25 (#3)``: the best value so far and its trial's number, with this
        process's unstored trials (the bar of the first trial said "best -")."""
        found = self._best_found(history)
        return "best -" if found is None else f"best {found[0]:.6g} (#{found[1]})"

    def _compose(
        self,
        done: int,
        trained: int,
        best: str,
        waited: int,
        now: float,
        cells: int,
    ) -> str:
        parts = [f"{self._study.name}"]
        if self._max_budget:  # the budget is what will stop the search: show it filling
            unit = "" if self._study.budget is None else self._study.budget.unit
            bar = _bar(trained, self._max_budget, cells)
            parts.append(f"{bar} {trained}/{self._max_budget:g} {unit}".strip())
            parts.append(f"{done} trials")
            basis = self._basis[1] if self._basis else 0
            eta = self._eta(trained, self._max_budget, basis, now)
        elif self._target:
            parts.append(f"{_bar(done, self._target, cells)} {done}/{self._target}".strip())
            eta = self._eta(done, self._target, self._basis[0] if self._basis else 0, now)
        else:
            parts.append(f"{done} trials")
            eta = None
        if eta is not None:
            parts.append(eta)
        parts.append(best)
        if self._patience is not None:  # what stops the search once it is full
            parts.append(f"patience {waited}/{self._patience}")
        parts.append(f"elapsed {_clock(now - self._started)}")
        return "  ".join(parts)


_OPEN_BARS: set[ProgressBar] = set()  # bars of this process being drawn


def bar_total(study: Study, target: int | None, progress: bool | None) -> int | None:
    """What a run's bar counts toward: the target, else the trials the study will have
    started once its method is exhausted, where the method says (grid: its cells);
    not worked out for a bar that is off (``progress=False``: worker processes)."""
    if target is not None or progress is False:
        return target
    return method_end(study.refresh(), study.method)


def clear_open_bars(streams: Iterable[object]) -> None:
    """Clear the line of any bar being drawn on one of ``streams`` or on the same
    terminal (before a log message written there: it would start at the end of the
    bar's line); the bar is drawn again below the message. A bar on another stream (a
    message going to a file) stays on its line."""
    streams = list(streams)
    for bar in list(_OPEN_BARS):
        if any(bar.draws_on(stream) for stream in streams):
            bar.clear()


def _bar(done: float, total: float, width: int) -> str:
    """``[####....]``: ``done`` of ``total`` as ``width`` cells; none: ``""``."""
    if width <= 0:
        return ""
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
        self._enabled = is_terminal(self._stream) if enabled is None else enabled
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

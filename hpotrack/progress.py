"""A one-line progress bar on stderr: trials done / target, best so far, elapsed and ETA.

Counts are study-wide (read from the database), so with several processes each bar shows
the whole study. Silent when stderr is not a terminal, or with ``progress=False``.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from hpotrack.records import TrialState

if TYPE_CHECKING:
    from hpotrack.study import Study


class ProgressBar:
    def __init__(
        self,
        study: Study,
        target: int | None,
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
        width: int = 24,
    ) -> None:
        self._study = study
        self._target = target
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = self._stream.isatty() if enabled is None else enabled
        self._width = width
        self._started = time.monotonic()
        self._first_done: int | None = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._enabled:
            self._stream.write("\n")
            self._stream.flush()

    def update(self) -> None:
        if not self._enabled:
            return
        self._stream.write("\r" + self.line())
        self._stream.flush()

    def line(self) -> str:
        """The bar's text for the study's current state."""
        history = self._study.refresh()
        done = len(history.trials) - history.count(TrialState.QUEUED, TrialState.RUNNING)
        if self._first_done is None:
            self._first_done = done - 1
        elapsed = time.monotonic() - self._started
        parts = [f"{self._study.name}"]
        if self._target:
            filled = min(self._width, self._width * done // self._target)
            parts.append(f"[{'#' * filled}{'.' * (self._width - filled)}] {done}/{self._target}")
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


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"

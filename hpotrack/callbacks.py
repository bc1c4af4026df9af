"""``optimize(callbacks=[...])``: functions called in the process that called
``optimize()`` with each trial of the study that finished while it ran (Optuna's
``callbacks=``; logging each trial to MLflow or a notebook, stopping on a rule of one's
own with ``study.stop()``).

The trials are found in the database, not in the loop that ran them: a callback gets
the trials of the run's worker processes (``n_jobs``) in the calling process, and those
other processes sharing the study finished meanwhile, each once, as stored (its state,
value, metrics, lineage), in the order they were stored. Each look reads only the trials
changed since the last (the ``seq`` index), so its cost does not grow with the study.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from hpotrack.errors import OptionError
from hpotrack.records import TrialRecord

if TYPE_CHECKING:
    from hpotrack.study import Study

TrialCallback = Callable[["Study", TrialRecord], object]
NO_EDGES = sys.maxsize  # trials_since(new_from=...): read no lineage (the record comes whole later)


def checked_callbacks(callbacks: object) -> tuple[TrialCallback, ...]:
    """``callbacks=`` as a tuple of functions, or an :class:`OptionError` saying what it
    takes (before the study is opened)."""
    if callbacks is None:
        return ()
    if callable(callbacks):
        name = getattr(callbacks, "__name__", "f")
        raise OptionError(
            f"callbacks= takes a list of functions, each called as f(study, trial): "
            f"callbacks=[{name}]"
        )
    if not isinstance(callbacks, (list, tuple)):
        raise OptionError(
            "callbacks= takes a list of functions, each called as f(study, trial), "
            f"but got {callbacks!r} ({type(callbacks).__name__})"
        )
    for index, callback in enumerate(callbacks):
        if not callable(callback):
            raise OptionError(
                "callbacks= takes functions, each called as f(study, trial), but "
                f"callbacks[{index}] is {callback!r} ({type(callback).__name__})"
            )
    return tuple(callbacks)


class FinishedTrials:
    """Hands each trial of ``study`` that finishes from now on to every one of
    ``callbacks``, once, when :meth:`tell` finds it stored."""

    def __init__(self, study: Study, callbacks: Sequence[TrialCallback]) -> None:
        self._study = study
        self._callbacks = tuple(callbacks)
        self._told: set[int] = set()
        self._seq = 0
        if self._callbacks:
            with study.store.reading():
                self._seq = study.store.latest_seq(study.id)

    def tell(self) -> None:
        """Call the callbacks with each trial that finished since the last look, in the
        order they were stored; a callback's exception goes to the caller (the run
        stops, as Optuna's does)."""
        if not self._callbacks:
            return
        store, study = self._study.store, self._study
        with store.reading():
            changes = store.trials_since(study.id, self._seq, NO_EDGES)
        if not changes:
            return
        self._seq = max(seq for _, seq, _ in changes)
        ended = sorted(
            (seq, record.number)
            for _, seq, record in changes
            if record.state.is_finished and record.number not in self._told
        )
        for _, number in ended:
            self._told.add(number)
            record = study.trial(number)  # whole: its lineage and every check
            for callback in self._callbacks:
                callback(study, record)

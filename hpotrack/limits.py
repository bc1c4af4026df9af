"""When an ask may not start another trial: the target of started trials is reached,
or the run's :class:`Stops` say so (``max_budget``, budget steps trained in total, is
spent, or could be by the trials already running; ``patience`` complete trials went by
without improving on the best; a trial is ``good_enough``), all functions of the
study's history; or the study was asked to stop after the run began; or the run's
deadline has passed. For
:meth:`hpotrack.study.Study.claim` and the run loop.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hpotrack.claims import Claimed
from hpotrack.errors import (
    BudgetSpent,
    GoodEnough,
    PatienceSpent,
    StopRequested,
    StopSearch,
    TargetReached,
)
from hpotrack.methods.base import Method
from hpotrack.methods.history import History
from hpotrack.records import TrialState, is_better
from hpotrack.text import plural


@dataclass(frozen=True)
class Stops:
    """What ends a run besides its target of trials and its timeout, read from the
    study's history, so that every process sharing the study stops at the same point
    and a resumed run goes on counting: ``max_budget``, the budget steps (e.g. epochs)
    its finished trials may train in total; ``patience``, how many complete trials may
    finish after the best one without improving on it (the early stopping of Keras's
    ``EarlyStopping(patience=)`` and Hyperopt's ``no_progress_loss``, over trials);
    ``good_enough``, a value of the objective that a complete trial needs to reach for
    the search to stop (Hyperopt's ``loss_threshold``). And what ends one of its
    trials: ``trial_timeout``, the seconds a trial may run (:mod:`hpotrack.time_limit`).
    Checked by :func:`hpotrack.run_checks.checked_stops`, which needs the study's
    definition for ``max_budget``. And ``stop_requests``, how many times the study had
    been asked to stop when the run began (``hpotrack stop``): one more ends the run
    (None: requests do not end it, as in a loop of the user's own asks)."""

    max_budget: float | None = None
    patience: int | None = None
    good_enough: float | None = None
    trial_timeout: float | None = None
    stop_requests: int | None = None

    def asked_to_stop(self, stop_requests: int) -> bool:
        """Whether the study's count of stop requests, now ``stop_requests``, grew since
        the run began (never when the run does not watch them)."""
        return self.stop_requests is not None and stop_requests > self.stop_requests

    @property
    def may_end_the_search(self) -> bool:
        """Whether one of these may end the search (all but ``trial_timeout``)."""
        return any(stop is not None for stop in (self.max_budget, self.patience, self.good_enough))


NO_STOPS = Stops()
STORED = ("max_budget", "patience", "good_enough", "trial_timeout")
"""The stops a study keeps of its last run, for ``hpotrack resume`` (by these names)."""


def stored(stops: Stops) -> dict[str, float]:
    """The stops of ``stops`` to keep with the study (those given), by name."""
    given = {name: getattr(stops, name) for name in STORED}
    return {name: value for name, value in given.items() if value is not None}


def from_stored(data: Mapping[str, object]) -> Stops:
    """The :class:`Stops` kept with a study (:func:`stored`). A name this version does
    not know (a newer one wrote it) or a value that is not a number is left out: the
    stops are checked again as a run's are before they are used."""

    def number(name: str) -> Any:
        value = data.get(name)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    return Stops(
        max_budget=number("max_budget"),
        patience=number("patience"),
        good_enough=number("good_enough"),
        trial_timeout=number("trial_timeout"),
    )


def reached(
    history: History, limit: int | None, stops: Stops, name: str, stop_requests: int = 0
) -> StopSearch | None:
    """Why study ``name`` may start no more trials (``limit`` of them started, one of
    ``stops`` reached, or its ``stop_requests`` grew since the run began), as the error
    to raise; None while it may."""
    if stops.asked_to_stop(stop_requests):
        return StopRequested(
            f"study {name!r} was asked to stop after this run began (hpotrack stop, "
            "Study.stop()): it starts no more trials; a run begun from now on goes on "
            f"(hpotrack resume {shlex.quote(name)})"
        )
    started = history.n_started
    if limit is not None and started >= limit:
        queued = len(history.unfinished(TrialState.QUEUED))
        waiting = f" and {queued} queued, waiting for a larger target" if queued else ""
        if history.n_replaced:  # len(study.trials) counts them too
            replaced = plural(history.n_replaced, "lost or interrupted trial")
            waiting += f" (besides {replaced} a retry replaced)"
        return TargetReached(
            f"study {name!r} has {plural(started, 'trial')}{waiting}: the target of {limit} "
            "is reached"
        )
    max_budget, patience = stops.max_budget, stops.patience
    if max_budget is not None and history.trained >= max_budget:
        spent = history.budget
        unit = "budget steps" if spent is None or spent.name == "budget" else spent.name
        return BudgetSpent(
            f"study {name!r} has trained {history.trained} {unit}: the max_budget "
            f"of {max_budget:g} is spent"
        )
    best = history.best
    good_enough = stops.good_enough
    if (
        good_enough is not None
        and best is not None
        and best.value is not None
        and not is_better(good_enough, best.value, history.direction)
    ):
        return GoodEnough(
            f"study {name!r} has trial {best.number} at {best.value:g}, as good as "
            f"good_enough={good_enough:g}: the search is done"
        )
    waited = history.complete_since_best()
    changed = history.front_changed_at()
    if patience is not None and changed is not None and waited >= patience:
        return PatienceSpent(
            f"the Pareto front of study {name!r} has not changed since trial {changed} "
            f"in the {plural(waited, 'complete trial')} since: the patience of {patience} "
            "is spent"
        )
    if patience is not None and best is not None and waited >= patience:
        return PatienceSpent(
            f"study {name!r} has not improved on trial {best.number} ({best.value:g}) in "
            f"the {plural(waited, 'complete trial')} since: the patience of {patience} is spent"
        )
    return None


def past(deadline: float | None) -> bool:
    """Whether ``deadline`` (a ``time.time()``, None: none) has passed: no trial may
    start any more."""
    return deadline is not None and time.time() >= deadline


def batch_spends(history: History, claimed: Sequence[Claimed], stops: Stops) -> bool:
    """Whether the running trials (an ask's ``claimed`` and every process's others) could
    reach one of ``stops``: spend what is left of ``max_budget``, each training at most
    its budget, or use up ``patience``, each completing without improving on the best
    (before any trial completed too: those numbered after the one that becomes the best
    count). Then the ask claims no more than the one it has, so a batch never takes a
    process further past a stop than one trial would."""
    patience = stops.patience
    if not claimed or (patience is None and stops.max_budget is None):
        return False
    running = history.unfinished(TrialState.RUNNING)
    if patience is not None and history.complete_since_best() + len(running) >= patience:
        return True
    if stops.max_budget is None:
        return False
    committed = sum(history.trials[number].budget or 0.0 for number in running)
    return history.trained + committed >= stops.max_budget


def method_end(history: History, method: Method) -> int | None:
    """How many trials the study will have started when ``method`` is exhausted, where
    it says (:meth:`Method.trials_left`): those started, those queued (they run first)
    and those it still proposes; None when it does not say."""
    left = method.trials_left(history)
    if left is None:
        return None
    return history.n_started + history.count(TrialState.QUEUED) + left

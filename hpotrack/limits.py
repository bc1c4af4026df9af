"""When an ask may not start another trial: the target of started trials is reached,
or ``max_budget`` (budget steps trained in total) is spent, or could be by the trials
already running (functions of the study's history), or the run's deadline has passed.
For :meth:`hpotrack.study.Study.claim` and the run loop.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from hpotrack.claims import Claimed
from hpotrack.errors import BudgetSpent, StopSearch, TargetReached
from hpotrack.methods.base import Method
from hpotrack.methods.history import History
from hpotrack.records import TrialState
from hpotrack.text import plural


def reached(
    history: History, limit: int | None, max_budget: float | None, name: str
) -> StopSearch | None:
    """Why study ``name`` may start no more trials (``limit`` of them started, or
    ``max_budget`` spent), as the error to raise; None while it may."""
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
    if max_budget is not None and history.trained >= max_budget:
        spent = history.budget
        unit = "budget steps" if spent is None or spent.name == "budget" else spent.name
        return BudgetSpent(
            f"study {name!r} has trained {history.trained} {unit}: the max_budget "
            f"of {max_budget:g} is spent"
        )
    return None


def past(deadline: float | None) -> bool:
    """Whether ``deadline`` (a ``time.time()``, None: none) has passed: no trial may
    start any more."""
    return deadline is not None and time.time() >= deadline


def batch_spends(history: History, claimed: Sequence[Claimed], max_budget: float | None) -> bool:
    """Whether the running trials (an ask's ``claimed`` and every process's others) could
    spend what is left of ``max_budget``, each training at most its budget: then the
    ask claims no more than the one it has, so a batch never takes a process further
    past ``max_budget`` than one trial would."""
    if max_budget is None or not claimed:
        return False
    running = history.unfinished(TrialState.RUNNING)
    committed = sum(history.trials[number].budget or 0.0 for number in running)
    return history.trained + committed >= max_budget


def method_end(history: History, method: Method) -> int | None:
    """How many trials the study will have started when ``method`` is exhausted, where
    it says (:meth:`Method.trials_left`): those started, those queued (they run first)
    and those it still proposes; None when it does not say."""
    left = method.trials_left(history)
    if left is None:
        return None
    return history.n_started + history.count(TrialState.QUEUED) + left

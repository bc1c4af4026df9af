"""Stopping rules on intermediate reports, for methods that are not multi-fidelity.

``method=hp.methods.TPE(pruner="median")`` (or ``Random``, ``Bayes``, ``Evolution``) stops a
trial whose reports are poor compared with the trials that completed before it;
``pruner=hp.pruners.Threshold(upper=...)`` one whose report crosses a fixed bound. The method
consults its pruner through the one interface every method has
(:meth:`hpotrack.methods.base.Method.next_check` and ``on_report``), so the study loop does
not know pruners exist. Successive halving, Hyperband and BOHB decide with their own rungs.

The comparative rule is the median stopping rule of Golovin et al. (2017, "Google Vizier",
sec. 3.2.2), generalised to any percentile: at a check step ``s``, stop the trial when the
best value it has reported at its checks so far is worse than the ``percentile``-th best of
the values that complete trials reported at ``s``.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from hpotrack.errors import MethodError
from hpotrack.options import friendly_init, set_real, set_whole
from hpotrack.records import TrialRecord, TrialState

if TYPE_CHECKING:
    from hpotrack.budget import Budget
    from hpotrack.methods.history import History


class Pruner(ABC):
    """Decides at check steps whether a running trial goes on."""

    name: ClassVar[str]

    @abstractmethod
    def next_check(self, trial: TrialRecord, step: int, history: History) -> int | None:
        """The first check step at or after ``step``; None: no more checks."""

    @abstractmethod
    def prune(self, trial: TrialRecord, step: int, history: History) -> bool:
        """Whether ``trial`` stops after its check at ``step``."""

    def check_budget(self, budget: Budget | None) -> None:
        """Raise :class:`MethodError` if no trial of ``budget`` could be checked: with a
        whole-number budget, checks stop below its max, so a warm-up that long (counted
        in batches, say) would leave the pruner silently stopping nothing."""
        warmup = getattr(self, "n_warmup_steps", 0)
        if budget is not None and budget.whole and warmup >= budget.max:
            raise MethodError(
                f"`n_warmup_steps < max` must hold for the pruner to check any trial, but "
                f"got n_warmup_steps={warmup}, max={budget.max} (steps count in the "
                f"budget's unit, {budget.unit}, and a trial at the max has trained)"
            )

    def to_json(self) -> dict[str, Any]:
        options = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        return {"type": self.name, **options}


@friendly_init(MethodError)
@dataclass(frozen=True)
class Percentile(Pruner):
    """Stop a trial whose best check so far is worse than the ``percentile``-th best value
    of the complete trials at the same step (``percentile=25``: keep the top quarter).

    No trial is stopped before ``n_startup_trials`` trials completed, before step
    ``n_warmup_steps``, or at a step where fewer than ``n_min_trials`` complete trials
    reported; checks happen every ``interval_steps`` steps from ``n_warmup_steps``, and
    with a whole-number budget never at its max (a trial there has trained already).
    """

    name: ClassVar[str] = "percentile"
    percentile: float = 25.0
    n_startup_trials: int = 5
    n_warmup_steps: int = 0
    interval_steps: int = 1
    n_min_trials: int = 1

    def __post_init__(self) -> None:
        set_real(self, "percentile", "0 <= percentile <= 100", lambda p: 0 <= p <= 100)
        set_whole(self, "n_startup_trials", 0)
        set_whole(self, "n_warmup_steps", 0)
        set_whole(self, "interval_steps", 1)
        set_whole(self, "n_min_trials", 1)

    def next_check(self, trial: TrialRecord, step: int, history: History) -> int | None:
        return _check_step(step, self.n_warmup_steps, self.interval_steps, history)

    def prune(self, trial: TrialRecord, step: int, history: History) -> bool:
        if history.count(TrialState.COMPLETE) < max(self.n_startup_trials, 1):
            return False
        values = history.complete_at(step)
        if len(values) < self.n_min_trials:
            return False
        best = history.best_check(trial)
        return best is not None and best > _percentile(values, self.percentile)


@friendly_init(MethodError)
@dataclass(frozen=True)
class Median(Percentile):
    """The median stopping rule: :class:`Percentile` at 50 (its ``percentile`` is fixed)."""

    name: ClassVar[str] = "median"
    percentile: float = dataclasses.field(default=50.0, init=False)

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        del data["percentile"]
        return data


@friendly_init(MethodError)
@dataclass(frozen=True)
class Threshold(Pruner):
    """Stop a trial whose report at a check is above ``upper`` or below ``lower``, or is
    NaN or infinite (whichever bounds are given): a diverged run (a loss that blew up, an
    accuracy stuck at chance) stops at once, whatever the other trials did. Bounds are on
    the reported values as they are, whatever the direction; give either or both. Checks
    happen every ``interval_steps`` steps from ``n_warmup_steps`` (as for
    :class:`Percentile`).
    """

    name: ClassVar[str] = "threshold"
    lower: float | None = None
    upper: float | None = None
    n_warmup_steps: int = 0
    interval_steps: int = 1

    def __post_init__(self) -> None:
        if self.lower is None and self.upper is None:
            raise MethodError(
                "Threshold() needs a bound: give upper= (e.g. upper=10.0 for a loss) "
                "and/or lower= (e.g. lower=0.2 for an accuracy)"
            )
        for bound in ("lower", "upper"):
            if getattr(self, bound) is not None:
                set_real(self, bound, f"{bound} is a finite number", lambda _: True)
        if self.lower is not None and self.upper is not None and not self.lower < self.upper:
            raise MethodError(
                f"`lower < upper` must hold, but got lower={self.lower}, upper={self.upper}"
            )
        set_whole(self, "n_warmup_steps", 0)
        set_whole(self, "interval_steps", 1)

    def next_check(self, trial: TrialRecord, step: int, history: History) -> int | None:
        return _check_step(step, self.n_warmup_steps, self.interval_steps, history)

    def prune(self, trial: TrialRecord, step: int, history: History) -> bool:
        value = trial.checks[step]
        if not math.isfinite(value) or abs(value) == sys.float_info.max:
            return True  # a NaN or infinite report: checks store it as the worst value
        return (self.upper is not None and value > self.upper) or (
            self.lower is not None and value < self.lower
        )


def _check_step(step: int, start: int, every: int, history: History) -> int | None:
    """The first check at or after ``step`` of checks every ``every`` steps from
    ``start``; None at or past a whole-number budget's max (a trial there has trained:
    stopping it saves nothing)."""
    at = start if step <= start else start + math.ceil((step - start) / every) * every
    budget = history.budget
    if budget is not None and budget.whole and at >= budget.max:
        return None
    return at


def _percentile(ranked: Any, q: float) -> float:
    """The ``q``-th percentile of sorted values, interpolated linearly (numpy's default)."""
    position = (len(ranked) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ranked) - 1)
    return float(ranked[low] + (ranked[high] - ranked[low]) * (position - low))


PRUNERS: dict[str, type[Pruner]] = {
    "percentile": Percentile,
    "median": Median,
    "threshold": Threshold,
}

BUDGET_PRUNERS = {"hyperband", "successivehalving", "sha", "asha", "bohb"}
"""Optuna's pruners (and their usual names) that are multi-fidelity methods in hpotrack."""


def pruner_from(value: object) -> Pruner | None:
    """A pruner from what a user or the database gives: None, a name, a pruner, or its
    stored JSON (``{"type": "median", ...}``)."""
    if value is None or isinstance(value, Pruner):
        return value
    if isinstance(value, str) and value in PRUNERS:
        return PRUNERS[value]()
    if isinstance(value, dict) and value.get("type") in PRUNERS:
        options = {k: v for k, v in value.items() if k != "type"}
        try:
            return PRUNERS[value["type"]](**options)
        except (TypeError, MethodError) as exc:
            raise MethodError(f"stored pruner options are invalid: {exc}") from None
    raise MethodError(
        f"unknown pruner {value!r}: use 'median', 'percentile', hp.pruners.Median(...), "
        f"hp.pruners.Percentile(...) or hp.pruners.Threshold(upper=..., lower=...)"
        f"{_hint(value)}"
    )


def _hint(value: object) -> str:
    """What hpotrack calls a pruner given by another name, or one of Optuna's pruner
    objects (``optuna.pruners.MedianPruner(...)``, ``HyperbandPruner()``), if anything."""
    if isinstance(value, dict):
        return ""
    if isinstance(value, str) and _bare_name(value) in PRUNERS:
        return f"; did you mean {_bare_name(value)!r}?"
    if isinstance(value, str) and (close := difflib.get_close_matches(value, PRUNERS, n=1)):
        return f"; did you mean {close[0]!r}?"  # a typo: 'medain'
    return _class_hint(value if isinstance(value, str) else type(value).__name__)


def _class_hint(name: str) -> str:
    """What hpotrack calls Optuna's pruner class ``name`` (``MedianPruner``), if anything."""
    bare = _bare_name(name)
    if bare in BUDGET_PRUNERS:
        return (
            "; Hyperband-style pruning is a method in hpotrack: method='hyperband' (or "
            "'sha', 'bohb') with budget=hp.Budget(min, max) on @hp.tune"
        )
    if bare in PRUNERS:
        return f"; {name} is hp.pruners.{PRUNERS[bare].__name__}(...), with the same options"
    if bare == "nop":
        return "; pruner=None (the default) stops no trial"
    return ""


if not TYPE_CHECKING:  # type checkers must still catch a misspelt hp.pruners.Medain

    def __getattr__(name: str) -> Any:
        """Only for names the module lacks: Optuna's pruner classes
        (``hp.pruners.MedianPruner``) name hpotrack's."""
        hint = _class_hint(name) if name.endswith("Pruner") else ""
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}{hint}")


def _bare_name(name: str) -> str:
    """``name`` lower-cased without separators or a ``Pruner`` suffix:
    "SuccessiveHalvingPruner" and "successive_halving" are both "successivehalving"."""
    bare = "".join(c for c in name.lower() if c.isalnum())
    return bare.removesuffix("pruner") or bare

"""The handle a user's training function sees while it runs: ``trial.report(...)`` and friends.

A function that declares a parameter named ``trial`` receives it; any other code can reach
the running trial through ``hp.report(...)`` (:mod:`hpotrack.running_trial`).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import numpy as np

from hpotrack import forks
from hpotrack.arguments import checked_arguments
from hpotrack.errors import TrialError
from hpotrack.space import Value, is_utf8
from hpotrack.worker_logs import warn_once

OPTUNA_HABITS = {
    "suggest": (
        "hpotrack's hyperparameters are declared in the space given to @hp.tune and passed "
        "as keyword arguments: add e.g. 'lr': hp.Float(1e-5, 1e-1, log=True) to the space "
        "and an `lr` parameter to the function"
    ),
    "set_user_attr": "return it in the function's dict of metrics: every key is stored",
    "user_attrs": "what the function returned is in the stored trial's metrics",
    "set_system_attr": "return it in the function's dict of metrics: every key is stored",
}
"""Optuna's Trial methods that hpotrack does otherwise, and how."""


TO_STOP_TRIALS = (
    'Give it a pruner (e.g. method=hp.methods.TPE(pruner="median"), also Random, Bayes and '
    'Evolution) or use method="sha", "hyperband" or "bohb" with budget=hp.Budget(min, max)'
)
"""How to make a study stop trials early, for the messages that say its method does not."""


class Pruned(Exception):
    """Raised inside a trial to stop it early; the trial is stored as ``pruned``.

    It derives from ``Exception`` rather than ``HpotrackError``: it is control flow, not an
    error, and a user's ``except HpotrackError`` must not swallow it.
    """


Number: TypeAlias = float | np.floating[Any] | np.integer[Any]
"""A reported value: Python's numbers and numpy's, as ``np.mean(scores)`` returns them."""

Step: TypeAlias = int | np.integer[Any]
"""A step: Python's whole numbers and numpy's (``for epoch in np.arange(1, 28)``)."""

MetricRow = tuple[str, int, float, float]
"""An intermediate metric as stored: (name, step, value, time)."""


class Checkpoints(Protocol):
    """Where a running trial saves and finds checkpoints (the study provides it)."""

    def save(self, step: int, obj: object, reports: Sequence[MetricRow]) -> None: ...

    def store(self, reports: Sequence[MetricRow]) -> None: ...

    def source(self) -> tuple[int, Any] | None: ...


class Checks(Protocol):
    """How a running trial consults its method at check steps (the study provides it)."""

    def next_check(self, step: int) -> int | None: ...

    def check_step(self, due: int, step: int) -> int: ...

    def decide(self, step: int, value: float, reports: Sequence[MetricRow]) -> bool: ...


class Trial:
    """One running trial: its number, hyperparameters and budget, and where it reports.

    Reports are buffered in memory, not written one by one: the process's background
    flusher (:mod:`hpotrack.recovery`) writes them about every second, and the rest go in
    the same transaction as the trial's outcome. A crash loses at most the last second of
    intermediate metrics of a running trial, never those of a finished one.

    When the method prunes, a report of the objective at one of its check steps (a rung,
    say) is written at once, with the reports before it, and the method decides there
    whether the trial goes on (see :meth:`report`). So is a report of the objective at a
    step whose checkpoint is saved (saved, then reported): a retry that resumes the
    checkpoint after a crash finds that step in the curve.
    """

    def __init__(
        self,
        *,
        trial_id: int,
        number: int,
        params: dict[str, Value],
        budget: float | None,
        objective: str,
        study: str,
        direction: str | None = None,
        checks: Checks | None = None,
        checkpoints: Checkpoints | None = None,
        db: Path | None = None,
    ) -> None:
        self.trial_id = trial_id
        self.number = number
        self.params: dict[str, Any] = dict(params)  # a value per name, of its type
        self.budget: Any = budget  # an int for whole-number budgets: range(trial.budget)
        self._checks = checks
        self._next_check = None if checks is None else checks.next_check(0)
        self._has_checks = self._next_check is not None  # (a trial past its last rung: none)
        self._pruned_at: int | None = None
        self.checked = False  # whether a report reached a check of the method
        self.reported_to_stop = False  # reported the objective below the budget, prune=True
        self._checkpoints = checkpoints
        self.hypergradient: dict[str, float] | None = None
        self._source: tuple[int, Any] | None = None  # (step, object) to start from
        self._looked_up = False
        self._loaded = False  # whether the function called load_checkpoint()
        self.study = study
        # the study a warning said once per study and process is about: by file and
        # name, as two databases may each have a study of that name
        self._said_once_as = f"{db}:{study}"
        self._objective = objective
        # "minimize" or "maximize" for the objective (None: not known), for code that
        # reports another library's metric and must say when it runs the other way
        self.direction = direction
        self._last_step: dict[str, int] = {}
        self._first_objective_step: int | None = None
        self._saved_before_reporting = False  # a default step before any report: the budget
        self._saved_step: int | None = None  # the largest step of a checkpoint saved
        self._pending: deque[MetricRow] = deque()  # append/popleft are thread-safe
        self.flush_lock = threading.Lock()  # held while a batch is drained and written
        self.last_value: float | None = None
        self.finished = False
        self._pid, self._forks = os.getpid(), forks.count  # its process (_refuse_in_a_fork)
        # run when the function returns, before its outcome is stored: a library callback's
        # last save where training ends without telling it (LightGBM's early stopping)
        self.on_return: list[Callable[[], object]] = []

    def __repr__(self) -> str:
        return f"Trial(study={self.study!r}, number={self.number}, params={self.params})"

    def __reduce__(self) -> Any:
        """A trial cannot go to another process: its reports there would never reach
        the database. Said at once, where joblib's default backend (``Parallel(n_jobs=2)
        (delayed(fold)(trial, k) ...)``) said only that it could not pickle the task."""
        raise TrialError(
            f"trial {self.number} cannot be sent to another process (joblib's default "
            f"backend, multiprocessing): {forks.IN_ITS_PROCESS}"
        )

    def _refuse_in_a_fork(self, what: str) -> None:
        """Refuse ``what`` in a forked child (``multiprocessing``'s fork, ``os.fork``),
        which has a copy of the trial: its reports would stay in the copy, and its checks
        and checkpoints would go through the connection of the process that runs the
        trial, which SQLite forbids in another process (and that process would store
        the trial not knowing its method had stopped it)."""
        if self._forks != forks.count:
            raise TrialError(
                f"trial {self.number} of study {self.study!r} runs in process {self._pid}: "
                f"{what} from process {os.getpid()}, a fork of it, would reach neither the "
                f"trial nor its database; {forks.IN_ITS_PROCESS}"
            )

    if not TYPE_CHECKING:  # mypy must still catch a misspelt attribute

        def __getattr__(self, name: str) -> Any:
            """Only for names a Trial lacks: Optuna's (``suggest_float``) say what
            hpotrack does instead."""
            hint = OPTUNA_HABITS.get(name.split("_")[0] if name.startswith("suggest_") else name)
            raise AttributeError(
                f"'Trial' object has no attribute {name!r}" + (f"; {hint}" if hint else "")
            )

    @checked_arguments
    def report(
        self,
        value: Number,
        step: Step | None = None,
        *,
        name: str | None = None,
        prune: bool = True,
    ) -> None:
        """Record an intermediate metric (default: the objective) at ``step``.

        ``step`` counts in the unit of the study's budget (e.g. epochs trained so far);
        it defaults to one more than the last reported step of that metric, first the
        step after the checkpoint this trial loaded (1 from scratch, as
        ``trial.steps.start``). Reporting a step again replaces its value. When the
        method decides at this report that the trial should stop, this raises
        :class:`Pruned` (the trial is stored as ``pruned`` with its last value and its
        curve); with ``prune=False`` it returns and :meth:`should_prune` says so instead.
        A NaN or infinite report at a check is the worst value there is for the study's
        direction: a diverged run stops at its next check. A report at a whole-number
        :attr:`budget` is no check: the trial trained all of it.
        """
        if self.finished:
            raise TrialError(
                f"trial {self.number} has finished: report() must be called while it runs"
            )
        self._refuse_in_a_fork("report()")
        metric = self._objective if name is None else name
        if not isinstance(metric, str) or not metric or not is_utf8(metric):
            raise TrialError(
                f"report() needs a metric name (non-empty Unicode text), got {metric!r}"
            )
        if isinstance(value, np.ndarray) and value.ndim == 0:  # np.mean(...), as returned
            value = value.item()
        if isinstance(value, Mapping):  # Ray Tune's report({"loss": ...})
            first = next(iter(value), "loss")
            raise TrialError(
                f"report() takes one metric per call, but got a dict {value!r}: "
                f"report(value, step, name={first!r}) for each (the objective without name=)"
            )
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TrialError(
                f"report() needs a number, but got {value!r} ({type(value).__name__}) "
                f"for metric {metric!r}"
            )
        if step is None:
            step = self._last_step.get(metric, self._started_after()) + 1
        elif isinstance(step, bool) or not isinstance(step, Integral) or not 0 <= step < 2**63:
            raise TrialError(
                f"`0 <= step < 2**63` must hold for an int, but got step={step!r} "
                f"({type(step).__name__})"
            )
        step = int(step)
        if metric == self._objective:
            self._check_budget_step(step, f"the objective {metric!r}", lowest=1)
        try:
            number = float(value)
        except OverflowError:
            raise TrialError(f"report() got {value!r} for metric {metric!r}: too large") from None
        self._pending.append((metric, step, number, time.time()))
        self._last_step[metric] = max(step, self._last_step.get(metric, -1))
        if metric != self._objective:
            return
        if self._first_objective_step is None or step < self._first_objective_step:
            self._first_objective_step = step
        if self._saved_before_reporting and step < self._default_step():
            self._saved_before_reporting = False
            warn_once(
                f"{self._said_once_as}:saved before reporting",
                f"trial {self.number} of study {self.study!r} saved a checkpoint without "
                f"step= before its first report, so at step {self._default_step()} (its "
                f"budget), then reported step {step}: that checkpoint claims training it "
                "had not done (the latest, it shadows later ones); pass the step it "
                "trained through, trial.save_checkpoint(state, step=epoch)",
            )
        self.last_value = number if math.isfinite(number) else None  # diverged: no value
        # a report at a whole-number budget comes after training all of it: stopping
        # the trial there saves nothing, so it is no check (of a rung or step below)
        trained = isinstance(self.budget, int) and step >= self.budget
        self.reported_to_stop = self.reported_to_stop or (prune and not trained)
        due = self._next_check is not None and step >= self._next_check and not trained
        if due and self._checks is not None and self._next_check is not None:
            self._check(self._checks, self._next_check, step, number)
        elif self._checkpoints and self._saved_step is not None and step <= self._saved_step:
            # its checkpoint is stored: write its report now, not within the second, so a
            # retry resuming that checkpoint after a crash finds the step in the curve
            self._write(self._checkpoints.store)
        if prune and self._pruned_at is not None:
            raise Pruned(f"trial {self.number} was pruned at step {self._pruned_at}")

    def _check_budget_step(self, step: int, what: str, *, lowest: int) -> None:
        """With a whole-number budget, steps count its unit (epochs trained so far, say):
        from 1, as :attr:`steps` does (``lowest=0`` for a checkpoint of the state before
        training), up to :attr:`budget`. A step outside skips or misplaces the rungs and
        miscounts what the trial trained, so it is an error naming the likely cause."""
        if not isinstance(self.budget, int) or lowest <= step <= self.budget:
            return
        cause = (
            "count from 1: step is the number of epochs, say, trained so far"
            if step < lowest
            else "report per epoch, say, not per batch"
        )
        raise TrialError(
            f"`{lowest} <= step <= {self.budget}` must hold for {what}: steps count in the "
            f"unit of the study's budget up to trial.budget, but got step={step} ({cause})"
        )

    def _check(self, checks: Checks, due: int, step: int, value: float) -> None:
        """Store ``value`` (reported at ``step``, at or past the check step ``due``) as
        the check the method makes of it, with the reports so far, ask the method, and
        look for the next check after ``step``."""
        at = checks.check_step(due, step)
        with self.flush_lock:
            rows = self.drain()
            try:
                prune = checks.decide(at, value, rows)
            except BaseException:
                self.restore(rows)
                raise
        self._next_check = checks.next_check(step + 1)
        self.checked = True
        if prune and self._pruned_at is None:
            self._pruned_at = at

    def next_check(self, step: int) -> int | None:
        """The first step at or after ``step`` at which the method checks this trial (a
        rung of successive halving, a pruner's check), None when it will not before the
        budget. For training whose cost is in evaluating at an amount of the budget (a
        model fitted afresh on more samples, or with more trees) rather than in going
        from one step to the next: evaluate and report there, and at :attr:`budget`."""
        if isinstance(step, bool) or not isinstance(step, Integral) or not 0 <= step < 2**63:
            raise TrialError(
                f"`0 <= step < 2**63` must hold for an int, but got step={step!r} "
                f"({type(step).__name__})"
            )
        if self._checks is None:
            return None
        return self._checks.next_check(int(step))

    def should_prune(self) -> bool:
        """Whether the method decided at a check that this trial should stop (for code
        that reports with ``prune=False`` and stops on its own terms). Under a method
        that never stops this trial it is always False, and the first call in a study
        says so (Optuna's studies prune by default; hpotrack's methods only with a
        ``pruner=`` or as successive halving)."""
        if self._checks is None:
            warn_once(
                f"{self._said_once_as}:should_prune",
                f"trial.should_prune() is always False in study {self.study!r}: its method "
                f"stops no trial early. {TO_STOP_TRIALS}",
            )
        return self._pruned_at is not None

    def reported_in_vain(self) -> bool:
        """Whether this trial reported the objective before its budget's end for the
        method to stop it there (``report()`` with ``prune=True``), under a method that
        stops no trial early."""
        return self.reported_to_stop and self._checks is None

    def missed_its_checks(self) -> bool:
        """Whether the method would have checked this trial but no report reached a
        check: the objective was never reported (or only under another name), so the
        method could not stop it early."""
        return self._has_checks and not self.checked

    @property
    def lowest_objective_step(self) -> int | None:
        """The lowest step the objective was reported at; None before any report."""
        return self._first_objective_step

    @property
    def loaded_step(self) -> int | None:
        """The step of the checkpoint this trial looked up and starts from; None when it
        looked none up (:meth:`load_checkpoint`, :attr:`steps`) or none was found."""
        return None if self._source is None else self._source[0]

    def reported_metrics(self) -> list[str]:
        """The names of the metrics reported so far, sorted."""
        return sorted(self._last_step)

    def stopped_short(self) -> bool:
        """Whether the method stopped this trial (:meth:`should_prune`) and it did not
        train on to its whole-number budget anyway; without one, nobody can tell, and
        the trial counts as trained."""
        last = self._last_step.get(self._objective)
        whole = isinstance(self.budget, int)
        return self._pruned_at is not None and whole and (last is None or last < self.budget)

    def report_hypergradient(self, gradient: Mapping[str, float]) -> None:
        """Give the derivative of the objective with respect to some hyperparameters, in
        their own units (d loss / d alpha), for ``method="gradient"``. Stored with the
        trial's metrics under ``"hypergrad"``, as if returned in the result dict."""
        if not isinstance(gradient, Mapping):  # a list or an array: which value is whose?
            names = ", ".join(f"{name!r}: ..." for name in self.params)
            raise TrialError(
                f"report_hypergradient() needs a dict of hyperparameter: number "
                f"({{{names}}}), but got {gradient!r}"
            )
        found: dict[str, float] = {}
        for name, value in gradient.items():
            if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
                value = value.item()  # a 0-d array, as autodiff returns a derivative
            if name not in self.params:
                raise TrialError(
                    f"hypergradient for {name!r}, which is not a hyperparameter of this "
                    f"trial ({', '.join(map(repr, self.params))})"
                )
            if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
                raise TrialError(
                    f"hypergradient for {name!r} must be a finite number, but got {value!r}"
                )
            found[name] = float(value)
        self.hypergradient = found

    # -- checkpoints --------------------------------------------------------------------

    def save_checkpoint(self, obj: object, step: Step | None = None) -> None:
        """Save ``obj`` (pickled; ``bytes`` are stored as they are) as this trial's
        checkpoint at ``step``, the step the saved state has trained through (default:
        the objective's last step reported, else the last of :attr:`steps`; a trial that
        then reports an earlier step is warned, once per process, to pass ``step=``).
        Written atomically beside the database, with the reports not yet written; a later
        trial that continues this one (PBT, a promotion, a retry after a crash) gets it
        from :meth:`load_checkpoint`."""
        if self._checkpoints is None:
            raise TrialError("save_checkpoint() works inside a trial that hpotrack runs")
        self._refuse_in_a_fork("save_checkpoint()")
        if self.finished:  # it would be stored as what the trial ended with
            raise TrialError(
                f"trial {self.number} has finished: save_checkpoint() must be called while it runs"
            )
        checkpoints = self._checkpoints
        guessed = step is None and self._objective not in self._last_step  # the budget
        if step is None:
            step = self._last_step.get(self._objective, self._default_step())
        elif isinstance(step, bool) or not isinstance(step, Integral) or step < 0:
            raise TrialError(f"`step >= 0` must hold for a whole number, but got step={step!r}")
        self._check_budget_step(int(step), "a checkpoint", lowest=0)
        # the reports so far go with it: a retry resuming it lacks none
        self._write(lambda rows: checkpoints.save(int(step), obj, rows))
        self._saved_before_reporting = self._saved_before_reporting or guessed
        if not guessed:
            self._saved_step = max(int(step), self._saved_step or 0)

    @property
    def saved_a_checkpoint(self) -> bool:
        """Whether this trial saved a checkpoint (:meth:`save_checkpoint`)."""
        return self._saved_step is not None or self._saved_before_reporting

    def _write(self, write: Callable[[list[MetricRow]], object]) -> None:
        """Hand the reports not yet written to ``write`` (which stores them); put them
        back if it fails, so the next write or the trial's outcome takes them."""
        with self.flush_lock:
            rows = self.drain()
            try:
                write(rows)
            except BaseException:
                self.restore(rows)
                raise

    def load_checkpoint(self) -> Any:
        """The checkpoint this trial starts from, as its lineage names it (the member's
        previous segment, the member it exploited, the trial it was promoted from, for a
        retry its lost attempt's latest), or None when it starts from scratch."""
        self._loaded = True
        found = self._lookup()
        return None if found is None else found[1]

    @property
    def loaded_a_checkpoint(self) -> bool:
        """Whether the function called :meth:`load_checkpoint` (:attr:`steps` looks the
        checkpoint up too, but a trial that only reads it starts from scratch)."""
        return self._loaded

    @property
    def steps(self) -> range:
        """The steps this trial trains, numbered across the trials it continues: after
        the step of the checkpoint it starts from (0 without one) up to its budget."""
        if self.budget is None:
            raise TrialError(
                "trial.steps needs a budget: pass budget=hp.Budget(min, max) to @tune, "
                "or use a method that sets one (pbt; a direct call train(...) in its study "
                "runs outside its segments, without one)"
            )
        if not float(self.budget).is_integer():  # 0.5 of the data has no steps 1, 2, ...
            raise TrialError(
                f"trial.steps counts whole steps, but this trial's budget is "
                f"{self.budget!r} (the study's Budget has fractional bounds): train on "
                "trial.budget of your resource and report at steps of your own (epochs), "
                "or give Budget whole-number bounds"
            )
        found = self._lookup()
        return range((0 if found is None else found[0]) + 1, int(self.budget) + 1)

    def steps_trained(self, complete: bool) -> int | None:
        """Steps of the study's budget this trial trained (e.g. epochs): from the step it
        started after to its last report of the objective. It started after the step of
        the checkpoint it looked up (:meth:`load_checkpoint` or :attr:`steps`), unless it
        then reported a step up to that one (it trained from scratch); without a lookup,
        from 0. A ``complete`` trial that reported nothing trained its whole budget. None
        when the budget is not a whole number of steps. Reads nothing from the database."""
        if not isinstance(self.budget, int):
            return None
        after = self._started_after()
        first = self._first_objective_step
        last = self._last_step.get(self._objective)
        if last is None:
            return max(0, self.budget - after) if complete else 0
        if first is not None and first <= after:
            after = 0
        return max(0, last - after)

    def _lookup(self) -> tuple[int, Any] | None:
        if not self._looked_up and self._checkpoints is not None:
            self._refuse_in_a_fork("looking up its checkpoint (load_checkpoint(), steps)")
            self._source = self._checkpoints.source()
        self._looked_up = True
        return self._source

    def _started_after(self) -> int:
        """The step this trial's training started after: that of the checkpoint it
        loaded, else 0 (it trains from scratch)."""
        return 0 if self._source is None else self._source[0]

    def _default_step(self) -> int:
        return 0 if self.budget is None else int(self.budget)

    def restore(self, rows: list[MetricRow]) -> None:
        """Put back drained reports whose write failed, ahead of newer ones."""
        self._pending.extendleft(reversed(rows))

    def drain(self, *, final: bool = False) -> list[MetricRow]:
        """Take the reports not yet written (call with :attr:`flush_lock` held);
        ``final`` when the trial's outcome is being stored: later reports are errors."""
        self.finished = self.finished or final
        rows = []
        while self._pending:
            rows.append(self._pending.popleft())
        return rows

"""Successive halving shared by ``sha``, ``hyperband`` and ``bohb``: rungs, brackets,
the decision at a rung, and promotions.

**Rungs.** With reduction factor η over a budget [min, max], ``s_max = ⌊log_η(max/min)⌋``
and rung ``j`` (0 ≤ j ≤ s_max) has budget ``max · η^(j - s_max)`` (rounded to whole
steps), so the top rung is exactly ``max`` (Li et al. 2018, "Hyperband", Alg. 1, where
``r_i = r · η^i``). Bracket ``s`` (0 ≤ s ≤ s_max) is successive halving started ``s``
rungs below the top: its trials are checked at rungs ``s_max - s`` .. ``s_max - 1``;
bracket 0 trains every trial to ``max``; bracket ``s_max`` is the most aggressive.

**At a rung** (asynchronous successive halving, Li et al. 2020, "A System for Massively
Parallel Hyperparameter Tuning", Alg. 2): a trial that reaches rung ``j`` goes on only if
it is among the best ``⌊n/η⌋`` of the ``n`` trials of its bracket that have reached rung
``j`` so far. Nobody waits for a rung to fill: the first ``η - 1`` arrivals stop (none
of them is in the top ``⌊n/η⌋ = 0`` yet), and the best of them is promoted once enough
trials arrived. Optuna's pruners instead let the best of the first arrivals go on, since
they cannot resume a stopped trial; with promotions that leak is not needed, and it costs:
it trains configurations that a fuller rung would have stopped (replayed on the curves of
``benchmarks/multifidelity_replay.py``, Hyperband then does worse within a given number
of epochs).

**Promotions.** A trial stopped at rung ``j`` that later ranks in the top ``⌊n/η⌋`` of
its rung (because enough worse trials arrived) is promoted: the next ask proposes its
parameters again, with a ``promoted`` lineage edge to it at step ``r_j``, to be checked
from rung ``j + 1`` on. The training function may resume from the stopped trial's
checkpoint or start again; either way the promoted trial's curve is its own.

Trials of one bracket rank together, ties by arrival. Trials without a bracket (enqueued
or manual configurations) rank with the most aggressive bracket, which is checked from
the lowest rung as they are. This is every rung's rule in ``sha``; ``hyperband`` and
``bohb`` use it with ``brackets="asynchronous"``, and by default decide each bracket's
rungs per run of the paper's iterations instead (:mod:`hpotrack.methods.brackets`).

Trials train with ``trial.budget = max`` and report at steps counted in budget units; the
check steps are the rung budgets. Every decision is a function of the stored history.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import overload

from hpotrack.budget import Budget
from hpotrack.errors import MethodError
from hpotrack.methods.base import Method, Proposal
from hpotrack.methods.history import PROMOTE, History
from hpotrack.options import set_real
from hpotrack.records import Edge, Origin, TrialRecord

Entry = tuple[float, int]  # (loss, trial number): how rungs rank trials, best first


@dataclass(frozen=True)
class Ladder:
    """The rung budgets of a whole-number budget under reduction factor ``eta``."""

    budget: Budget
    eta: float

    @cached_property
    def s_max(self) -> int:
        """How many times a budget can be cut by η between max and min."""
        return self.budget.halvings(self.eta)

    @cached_property
    def steps(self) -> tuple[int, ...]:
        """Budget of each rung, lowest first; the last is ``max`` (:meth:`Budget.rungs`)."""
        return self.budget.rungs(self.eta)

    @property
    def top(self) -> int:
        """Index of the top rung (budget ``max``)."""
        return len(self.steps) - 1

    def first_rung(self, bracket: int | None) -> int:
        """The rung where trials of ``bracket`` are first checked; trials without one
        (successive halving's, or ones a user enqueued) from the lowest rung."""
        return 0 if bracket is None else max(0, self.top - bracket)

    def index(self, step: int) -> int | None:
        """Which rung has budget ``step``; None if none has."""
        try:
            return self.steps.index(step)
        except ValueError:
            return None

    def next_check(self, trial: TrialRecord, step: int) -> int | None:
        """The first rung budget at or after ``step`` where ``trial`` is checked: rungs
        above the one it last reached (or started past, when promoted), below the top."""
        start = self.first_rung(trial.bracket) if trial.rung is None else trial.rung + 1
        for j in range(start, self.top):
            if self.steps[j] >= step:
                return self.steps[j]
        return None


def check_budget(method: str, budget: Budget | None) -> None:
    """Successive halving needs a whole-number budget, given on ``@tune``."""
    if budget is None:
        raise MethodError(
            f"method {method!r} needs a budget: pass budget=hp.Budget(min, max, "
            "name='epochs') to @tune, and report at each step with trial.report(value, step)"
        )
    if not budget.whole:
        raise MethodError(
            f"method {method!r} checks trials at whole-number steps: give the budget "
            f"bounds as integers (e.g. epochs), but got {budget!r}"
        )


def set_eta(method: Halving) -> None:
    """Check ``method.eta`` and store it as a float."""
    set_real(method, "eta", "eta > 1", lambda x: x > 1)


def group(bracket: int | None, ladder: Ladder) -> tuple[int | None, ...]:
    """The brackets whose trials a trial of ``bracket`` is ranked with: its own; trials
    without a bracket (enqueued or manual ones, and all of ``sha``'s) rank with the most
    aggressive bracket, as both are checked from the lowest rung. Otherwise an enqueued
    configuration would compete only with the other enqueued ones: with fewer than η of
    them, it would stop at the first rung and never be promoted."""
    return (None, ladder.top) if bracket in (None, ladder.top) else (bracket,)


def _rank(history: History, step: int, brackets: Sequence[int | None], entry: Entry) -> int:
    """How many trials of ``brackets`` at ``step`` rank ahead of ``entry``."""
    return sum(bisect.bisect_left(history.reached(step, b), entry) for b in brackets)


def _reached(history: History, step: int, brackets: Sequence[int | None]) -> int:
    return sum(len(history.reached(step, b)) for b in brackets)


def goes_on(history: History, trial: TrialRecord, step: int, ladder: Ladder) -> bool:
    """Whether ``trial``, checked at rung budget ``step``, is among the best ``⌊n/η⌋``
    of the ``n`` trials of its :func:`group` that reached that rung (none while ``n < η``).

    Ties rank by arrival (trial number), as in :func:`promotion`: of trials with equal
    values only the earlier ones count as better, so exactly ``⌊n/η⌋`` go on however
    many tie (every trial at chance level after one epoch, say), not all of them."""
    entry = (history.loss(trial.checks[step]), trial.number)
    return _in_top(history, step, group(trial.bracket, ladder), entry, ladder.eta)


def _in_top(
    history: History, step: int, brackets: Sequence[int | None], entry: Entry, eta: float
) -> bool:
    """Whether ``entry`` is among the best ``⌊n/η⌋`` of the ``n`` trials of ``brackets``
    that reached ``step``: ASHA's rule, for a check and for a promotion alike."""
    return _rank(history, step, brackets, entry) < math.floor(
        _reached(history, step, brackets) / eta
    )


def promotion(
    history: History,
    ladder: Ladder,
    brackets: Sequence[int | None],
    only: Sequence[int | None] | None = None,
) -> Proposal | None:
    """The trial to promote now, highest rung first (ASHA's ``get_job``), if any: one
    stopped at rung ``j`` that is in the top ``⌊n/η⌋`` of rung ``j`` of its bracket and
    was not promoted before (the claim ``promote:<number>`` makes that once per study).
    ``only``: promote only trials of these brackets (ranked with their whole group).
    Ranks are binary searches in the history's indexes: the cost does not grow with the
    study."""
    groups = list(dict.fromkeys(group(bracket, ladder) for bracket in brackets))
    for j in range(ladder.top - 1, -1, -1):
        step = ladder.steps[j]
        for members in groups:
            if j < ladder.first_rung(members[-1]):  # a group's brackets share a first rung
                continue
            candidates = members if only is None else [b for b in members if b in only]
            heads = [found[0] for b in candidates if (found := history.stopped(step, b))]
            if not heads:
                continue
            best = min(heads)  # the best stopped trial of the group
            if _in_top(history, step, members, best, ladder.eta):
                why = f"in the top 1/{ladder.eta:g} of rung {j} now"
                return promotion_of(history.trials[best[1]], step, j, why)
    return None


def promotion_of(trial: TrialRecord, step: int, rung: int, why: str) -> Proposal:
    """The proposal that continues ``trial``, stopped at its check at ``step`` (rung
    ``rung``): its parameters again, in its bracket, with a ``promoted`` edge to it,
    claimed as ``promote:<number>`` so that it is promoted once per study."""
    return Proposal(
        params=dict(trial.params),
        origin=Origin.PROMOTED.value,
        parents=(Edge(trial.number, Origin.PROMOTED.value, step=step),),
        claim=f"{PROMOTE}:{trial.number}",
        rung=rung,
        bracket=trial.bracket,
        note=f"promoted: {why}",
    )


@functools.lru_cache(maxsize=64)
def bracket_schedule(ladder: Ladder) -> Interleaved:
    """One Hyperband iteration as a sequence of brackets for new configurations: bracket
    ``s`` gets ``n_s = ⌈(s_max + 1) / (s + 1) · η^s⌉`` of them (Li et al. 2018, Alg. 1),
    so each bracket spends about the same budget; interleaved evenly (stride scheduling),
    so that every bracket makes progress early and several workers share all of them."""
    s_max = ladder.top
    return interleave([math.ceil((s_max + 1) / (s + 1) * ladder.eta**s) for s in range(s_max + 1)])


def interleave(counts: Sequence[int]) -> Interleaved:
    """Brackets ``s`` repeated ``counts[s]`` times, spread evenly (stride scheduling):
    each one's turns fall at the midpoints of equal slices; on a tie the larger ``s``
    (the more aggressive bracket) goes first."""
    return Interleaved(tuple(counts))


@dataclass(frozen=True)
class Interleaved(Sequence[int]):
    """The sequence :func:`interleave` describes, computed per position rather than
    held: an iteration has ``Σ n_s`` slots, about ``η^s_max`` (billions for a budget of
    ``Budget(1, 10**9)``), and an ask needs one of them.

    Bracket ``s``'s turn ``i`` falls at ``(2i + 1) / (2 n_s)``. Two turns of different
    values differ by at least ``1 / (2 n_s n_t)``, so on the grid of ``1 / D`` with
    ``D = 4 · max(n)²`` a cell holds turns of at most one value: the position's cell is
    found by bisection on counts, exactly, in integers."""

    counts: tuple[int, ...]

    @property
    def size(self) -> int:
        """How many slots, as an int of any size (``len()`` stops at ``sys.maxsize``)."""
        return sum(self.counts)

    def __len__(self) -> int:
        return self.size

    def count(self, value: object) -> int:
        """How many slots go to bracket ``value``."""
        if isinstance(value, int) and 0 <= value < len(self.counts):
            return self.counts[value]
        return 0

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[int, ...]: ...

    def __getitem__(self, index: int | slice) -> int | tuple[int, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        size = self.size
        position = index + size if index < 0 else index
        if not 0 <= position < size:
            raise IndexError(f"slot {index} of an iteration of {size}")
        return self._bracket_at(position)

    def _turns_upto(self, bracket: int, cell: int, scale: int) -> int:
        """How many turns of ``bracket`` fall at or before ``cell / scale``."""
        n = self.counts[bracket]
        return min(n, (2 * cell * n // scale + 1) // 2)  # odd j with j / (2n) <= cell / scale

    def _upto(self, cell: int, scale: int) -> int:
        return sum(self._turns_upto(s, cell, scale) for s in range(len(self.counts)))

    def _bracket_at(self, position: int) -> int:
        scale = 4 * max(self.counts) ** 2
        low, high = 0, scale  # every turn falls before 1 = scale / scale
        while low < high:  # the first cell by which more than `position` turns fell
            middle = (low + high) // 2
            if self._upto(middle, scale) > position:
                high = middle
            else:
                low = middle + 1
        tied = [  # the turns in that cell, all of one value: larger bracket first
            s
            for s in range(len(self.counts) - 1, -1, -1)
            if self._turns_upto(s, low, scale) > self._turns_upto(s, low - 1, scale)
        ]
        return tied[position - self._upto(low - 1, scale)]


def repeated_at(schedule: Sequence[int], slot: int) -> int:
    """Entry ``slot`` of ``schedule`` repeated over and over (one iteration after the
    other); an :class:`Interleaved` one may be longer than ``len()`` can say."""
    size = schedule.size if isinstance(schedule, Interleaved) else len(schedule)
    return schedule[slot % size]


def new_config_slot(history: History) -> int:
    """How many new configurations (not promotions or retries) the study has so far."""
    return history.claim_count("config")


@functools.lru_cache(maxsize=64)
def ladder_for(budget: Budget, eta: float) -> Ladder:
    return Ladder(budget, eta)


class Halving(Method):
    """What ``sha``, ``hyperband`` and ``bohb`` share: the rung checks and the decision at
    a rung. Subclasses are frozen dataclasses with an ``eta`` field and say which brackets
    exist and where new configurations come from."""

    eta: float

    def check_budget(self, budget: Budget | None) -> None:
        check_budget(self.name, budget)
        assert budget is not None  # check_budget refuses None
        if ladder_for(budget, self.eta).top == 0:
            raise MethodError(
                f"method {self.name!r} stops trials at rungs below the budget's max, but "
                f"{budget!r} has none with eta={self.eta:g}: `max >= min * eta` must hold, "
                f"but got min={budget.min:g}, max={budget.max:g}; widen the budget, lower "
                "eta, or prune by the median (hp.methods.TPE(pruner='median'))"
            )

    def ladder(self, history: History) -> Ladder:
        if history.budget is None:  # the study was declared without one
            check_budget(self.name, None)
        assert history.budget is not None
        return ladder_for(history.budget, self.eta)

    def next_check(self, trial: TrialRecord, step: int, history: History) -> int | None:
        return self.ladder(history).next_check(trial, step)

    def rung(self, trial: TrialRecord, step: int, history: History) -> int | None:
        return self.ladder(history).index(step)

    def on_report(self, trial: TrialRecord, step: int, history: History) -> bool:
        return not goes_on(history, trial, step, self.ladder(history))

    def continues(self, before: Method | None, history: History) -> str | None:
        """Refuses another ``eta`` once trials were checked at rungs or placed in
        brackets: its rungs are at other budgets and its brackets start elsewhere, so it
        would rank, stop and promote those trials by rungs they did not run under. When
        the stored method has no ``eta`` (the study left halving for a while), the trials
        tell: a trial's last check must be at the rung it records."""
        placed = [t for t in history.trials if t.rung is not None or t.bracket is not None]
        old = before.eta if isinstance(before, Halving) else None
        if not placed or old == self.eta:
            return None
        ladder = self.ladder(history)
        if old is not None:
            ran = f"the rungs of eta={old:g} ({rungs_text(ladder_for(ladder.budget, old))})"
            keep = f"eta={old:g} (method=hp.methods.{type(self).__name__}(eta={old:g}))"
        else:
            misfit = next(
                (t for t in placed if t.checks and ladder.index(max(t.checks)) != t.rung), None
            )
            if misfit is None:
                return None
            step, unit = max(misfit.checks), ladder.budget.unit
            ran = f"other rungs (trial {misfit.number} at {step} {unit} as rung {misfit.rung})"
            keep = "the eta they ran with"
        return (
            f"eta={self.eta:g}: its trials were checked at {ran}, and the rungs of "
            f"eta={self.eta:g} ({rungs_text(ladder)}) would rank, stop and promote them by "
            f"rules they did not run under. Keep {keep} to continue it"
        )


def rungs_text(ladder: Ladder) -> str:
    """A ladder's rung budgets as a user reads them: "1, 3, 9, 27 epochs"."""
    return f"{', '.join(map(str, ladder.steps))} {ladder.budget.unit}"

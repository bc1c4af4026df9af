"""Hyperband's brackets run as the paper runs them: synchronous successive halving, one
bracket of one iteration at a time per configuration, and no process ever waits.

Li et al. 2018 ("Hyperband", Alg. 1) run each bracket ``s`` of an iteration as
successive halving over a fixed set of ``n_s`` configurations: all of them are trained to
the bracket's first rung, then the best ``⌊n_s η^-1⌋`` go on to the next, the best
``⌊n_s η^-2⌋`` of those to the one after, and so on (``n_i = ⌊n η^-i⌋``). A rung's
decision waits for every configuration of the run to arrive there, so it ranks each
configuration against its whole run, not against whichever ones arrived first.

Several processes do not wait for a rung to fill: while a run's rung waits on trials
still training, the others take the next new configurations (of the next bracket, or
the next iteration), as HpBandSter (Falkner et al. 2018, sec. 4.2) runs several
iterations at once. Once the rung is complete, its best configurations go on: the last
to arrive, if it is among them, continues at once; the others, stopped there while the
rung was filling, are promoted by the next asks (a ``promoted`` trial that continues
from the rung), highest rung first.

Why not ASHA's rule (:mod:`hpotrack.methods.halving`) in every bracket? It decides
against the trials that arrived so far, so while a bracket's rungs are short it lets
through configurations that a full rung would stop, and those train at the larger
budgets that Hyperband's proportions count on the best. Replayed on recorded training
curves (``benchmarks/multifidelity_replay.py``, 100 runs per task), synchronous runs
reach random search's median best within a third of its epochs in 47 % of SGD runs
instead of 42 % (MLP: within noise); trained for real and paired seed by seed
(``benchmarks/bohb_variants.py``), they end that budget 0.30 ± 0.18 validation digits
ahead on SGD and 0.45 ± 0.30 on MLP (``benchmarks/README.md``, "Synchronous brackets").

A configuration's line is its first trial and the trials that continue it (promotions,
retries); its run is the one of its first trial's new-configuration slot
(``config:<slot>``). Everything here is a function of the stored history; the one thing
kept between asks is where the oldest run with anything left to decide starts, a cache
(``History.cache``) that a new process rebuilds from the history.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

from hpotrack.methods.base import Proposal
from hpotrack.methods.halving import Entry, Interleaved, Ladder, new_config_slot, promotion_of
from hpotrack.methods.history import History
from hpotrack.records import TrialRecord, TrialState

_UNFINISHED = (TrialState.QUEUED, TrialState.RUNNING)


@dataclass(frozen=True)
class Run:
    """One bracket of one Hyperband iteration: the ``size`` new configurations in slots
    ``first_slot`` .. ``first_slot + size - 1``, checked from rung ``top - bracket``."""

    iteration: int
    bracket: int
    first_slot: int
    size: int

    @property
    def slots(self) -> range:
        return range(self.first_slot, self.first_slot + self.size)

    def survivors(self, stage: int, eta: float) -> int:
        """How many configurations reach stage ``stage`` (its ``i``-th rung from its
        first): ``⌊n η^-i⌋`` (Li et al. 2018, Alg. 1, line 6), at least one."""
        return max(1, math.floor(self.size / eta**stage + 1e-9))


@dataclass(frozen=True)
class Layout:
    """Which run each new-configuration slot belongs to: an iteration's slots go to the
    brackets in ``counts`` (``counts[s]`` to bracket ``s``), the most aggressive bracket
    first, each bracket's slots together, as the paper's loop over ``s`` runs them."""

    counts: tuple[int, ...]

    @classmethod
    def of(cls, schedule: Sequence[int], top: int) -> Layout:
        """The layout with as many slots per bracket as ``schedule`` (one iteration's
        brackets, in any order) has; built once per schedule, as asks and decisions
        need it every time."""
        return _layout_of(schedule, top)

    @cached_property
    def starts(self) -> tuple[int, ...]:
        """Where each bracket's slots start in an iteration (most aggressive first)."""
        starts, position = [0] * len(self.counts), 0
        for s in range(len(self.counts) - 1, -1, -1):
            starts[s], position = position, position + self.counts[s]
        return tuple(starts)

    @property
    def per_iteration(self) -> int:
        return sum(self.counts)

    def bracket_at(self, position: int) -> int:
        """The bracket of slot ``position`` of an iteration (``0 <= position <
        per_iteration``): found from the counts, as an iteration can have billions."""
        return next(s for s in range(len(self.counts)) if self.starts[s] <= position)

    def run_of(self, slot: int) -> Run:
        iteration, position = divmod(slot, self.per_iteration)
        bracket = self.bracket_at(position)
        start = iteration * self.per_iteration + self.starts[bracket]
        return Run(iteration, bracket, start, self.counts[bracket])


@functools.lru_cache(maxsize=64)
def _layout_of(schedule: Sequence[int], top: int) -> Layout:
    if isinstance(schedule, Interleaved):  # counted, not listed: it can be billions long
        return Layout(schedule.counts + (0,) * (top + 1 - len(schedule.counts)))
    found = Counter(schedule)
    return Layout(tuple(found.get(s, 0) for s in range(top + 1)))


@dataclass(frozen=True)
class Stage:
    """One stage of a run, as far as it got: the lines that arrived there (best first)
    and whether every line it waits for did (or ended without getting there)."""

    arrived: tuple[Entry, ...]
    complete: bool


class RunView:
    """A run's stages read from the history: stage ``i`` is its ``i``-th rung from the
    bracket's first; the last stage is the top budget, where a line arrives by completing."""

    def __init__(self, history: History, ladder: Ladder, run: Run) -> None:
        self.history, self.ladder, self.run = history, ladder, run
        self.first_rung = ladder.top - run.bracket
        self.stages: list[Stage] = []
        self.tops: list[list[int]] = []  # per complete stage below the top: lines going on
        self._read()

    def step(self, stage: int) -> int:
        return self.ladder.steps[self.first_rung + stage]

    def _read(self) -> None:
        expected: list[int] = []
        for slot in self.run.slots:  # up to the first not started: a run can be billions
            root = self.history.claimant(f"config:{slot}")
            if root is None:  # the run still has new configurations to start
                self.stages.append(Stage((), False))
                return
            expected.append(root)
        for stage in range(self.run.bracket + 1):
            arrived, complete = self._stage(stage, expected)
            self.stages.append(Stage(tuple(sorted(arrived)), complete))
            if not complete or stage == self.run.bracket:
                return
            going_on = self.run.survivors(stage + 1, self.ladder.eta)
            finite = [entry for entry in self.stages[-1].arrived if math.isfinite(entry[0])]
            self.tops.append([self.history.line_root(n) for _, n in finite[:going_on]])
            expected = self.tops[-1]

    def _stage(self, stage: int, expected: Sequence[int]) -> tuple[list[Entry], bool]:
        arrived: list[Entry] = []
        complete = True
        at_top = stage == self.run.bracket
        for root in expected:
            latest, entry = self._line_at(root, None if at_top else self.step(stage))
            if entry is not None:
                arrived.append(entry)
            elif latest.state in _UNFINISHED or self._awaits_promotion(latest, stage):
                complete = False
        return arrived, complete

    def _line_at(self, root: int, step: int | None) -> tuple[TrialRecord, Entry | None]:
        """The line's latest trial, and its entry at ``step`` (None: the top budget,
        where the entry is the final value of a complete trial)."""
        history = self.history
        entry: Entry | None = None
        latest = history.trials[root]
        for number in history.line(root):
            if history.is_superseded(number):
                continue
            latest = history.trials[number]
            value = latest.value if step is None else latest.checks.get(step)
            if step is None and latest.state is not TrialState.COMPLETE:
                value = None
            if value is not None:
                loss = history.loss(value)
                entry = (loss if math.isfinite(loss) else math.inf, number)
        return latest, entry

    def _awaits_promotion(self, latest: TrialRecord, stage: int) -> bool:
        """Whether the line stopped at the stage below, one of those going on from it:
        its promotion is still to come."""
        return (
            stage > 0
            and latest.state is TrialState.PRUNED
            and bool(latest.checks)
            and max(latest.checks) == self.step(stage - 1)
        )

    def goes_on(self, trial: TrialRecord, step: int) -> bool:
        """Whether ``trial``, checked at ``step``, is among the configurations of its
        run going on from that rung: only once every one of them arrived there."""
        index = self.ladder.index(step)
        stage = None if index is None else index - self.first_rung
        if stage is None or not 0 <= stage < len(self.tops):
            return False
        return self.history.line_root(trial.number) in self.tops[stage]

    def promotions(self) -> Iterator[Proposal]:
        """Lines to promote now, highest rung first: ones going on from a complete stage
        that stopped there while it was filling."""
        for stage in range(len(self.tops) - 1, -1, -1):
            step = self.step(stage)
            for root in self.tops[stage]:
                latest, _ = self._line_at(root, step)
                if latest.state is TrialState.PRUNED and max(latest.checks, default=0) == step:
                    rung = self.first_rung + stage
                    why = f"in the best 1/{self.ladder.eta:g} of its bracket's run at rung {rung}"
                    yield promotion_of(latest, step, rung, why)

    @property
    def resolved(self) -> bool:
        """Whether nothing in the run is left to decide: every stage it reached is
        complete, and no line goes on from one without having been continued."""
        last = self.stages[-1]
        return last.complete and len(self.stages) == self.run.bracket + 1


def config_slot(trial: TrialRecord) -> int | None:
    """Which new configuration of the study ``trial`` is (its claim ``config:<slot>``);
    None for promotions, retries, enqueued and manual trials."""
    prefix, _, slot = (trial.claim or "").partition(":")
    return int(slot) if prefix == "config" and slot.isdigit() else None


def run_of_trial(history: History, layout: Layout, trial: TrialRecord) -> Run | None:
    """The run ``trial``'s line belongs to; None for lines that did not start from a
    new-configuration slot (enqueued or manual configurations)."""
    slot = config_slot(history.trials[history.line_root(trial.number)])
    return None if slot is None else layout.run_of(slot)


def goes_on(
    history: History, ladder: Ladder, layout: Layout, trial: TrialRecord, step: int
) -> bool:
    """Whether ``trial`` goes on past its check at ``step`` (see :class:`RunView`)."""
    run = run_of_trial(history, layout, trial)
    return run is not None and RunView(history, ladder, run).goes_on(trial, step)


def _resolved_key(layout: Layout) -> str:
    """Where :func:`promotion` caches the first slot of the oldest run still open."""
    return f"synchronous-brackets:{layout.counts}"


def stopped_for_good(history: History, layout: Layout) -> set[int]:
    """Pruned trials of runs decided as far as :func:`promotion` has seen (the runs
    before the oldest one still open): nothing will be promoted from them any more, so
    their checkpoints can go. Empty until an ask of this process read the runs (a
    cache on the history): keeping too many is safe, deleting too many is not."""
    resolved_before = history.cache.get(_resolved_key(layout), 0)
    stopped = set()
    for trial in history.trials:
        if trial.state is not TrialState.PRUNED:
            continue
        slot = config_slot(history.trials[history.line_root(trial.number)])
        if slot is not None and slot < resolved_before:
            stopped.add(trial.number)
    return stopped


def promotion(history: History, ladder: Ladder, layout: Layout) -> Proposal | None:
    """The promotion to run next, if any: highest rung first, then the oldest run.

    Only runs from the oldest one with anything left to decide are read; where that is
    is cached on the history (a run once resolved stays so: no trial of it runs, and
    only a running trial is ever retried), so the cost of an ask stays that of the runs
    in progress, however large the study grows."""
    started = new_config_slot(history)
    if started == 0:
        return None
    key = _resolved_key(layout)
    slot = history.cache.get(key, 0)
    best: Proposal | None = None  # the first found at the highest rung
    oldest_open: int | None = None
    while slot < started:
        run = layout.run_of(slot)
        view = RunView(history, ladder, run)
        if not view.resolved and oldest_open is None:
            oldest_open = run.first_slot
        found = next(view.promotions(), None)
        if found is not None and (best is None or (found.rung or 0) > (best.rung or 0)):
            best = found
        slot = run.first_slot + run.size
    history.cache[key] = started if oldest_open is None else oldest_open
    return best

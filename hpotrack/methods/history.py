"""The history a search method reads: the study's trials as the study loop's cache keeps
them, with the indexes methods ask for (values ranked, trials stopped at a rung, claims,
lines of promotions and retries), each kept up to date as trials change so that no ask
pays a pass over the study (DESIGN principle 3).
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, cast

import numpy as np

from hpotrack import pareto
from hpotrack.budget import Budget
from hpotrack.methods.check_index import CheckIndex
from hpotrack.methods.configurations import FirstWith
from hpotrack.methods.sorted_views import Concatenated, LastTwo, ReadOnlyList, SortedChanges
from hpotrack.objectives import Objectives
from hpotrack.records import Origin, TrialRecord, TrialState, is_better, objective_sign
from hpotrack.space import Space, Value

WINDOW = 1000
"""How many of the most recent trials a model-based suggestion (``tpe``, ``bohb``) looks
at, plus the best one: its cost stays bounded however large the study grows."""

_LINE_EDGES = frozenset({Origin.PROMOTED.value, Origin.RETRIED.value})
"""Edges to a trial whose configuration the child trains on: they make one line."""

PROMOTE = "promote"
"""The claim of a promotion is ``promote:<number of the stopped trial>``: once per study."""


class History:
    """A read-only view of a study's trials for methods, with counts kept up to date.

    ``trials[n]`` is trial number ``n`` (numbers are dense from 0); ``next_number`` is
    the trial being asked for; ``space``, ``direction``, ``seed`` and ``budget`` are the
    study's; ``best``, :meth:`ranked`, :meth:`loss` and :meth:`is_pending` are what
    most methods read, and :meth:`rng` or :meth:`uniform` their randomness. The view is
    live: it is the study loop's cache, refreshed incrementally before every ask, never
    copied.

    Trials' checks (their objective at the steps where a method decided whether they go
    on) are also kept ranked, per bracket and step, so that pruning decisions cost a
    binary search, not a pass over the study; so are the trials stopped at each check and
    not promoted since, so that finding a promotion does not either.
    """

    def __init__(
        self,
        space: Space,
        direction: str,
        seed: int,
        budget: Budget | None = None,
        objectives: Objectives | None = None,
    ) -> None:
        self.space = space
        self.direction = direction
        # what the study optimizes; with several objectives ``direction`` and each
        # trial's value are the first one's, and a multi-objective method reads losses()
        self.objectives = objectives or Objectives(("value",), (direction,))
        self.seed = seed
        self.budget = budget
        self._sign = objective_sign(direction)
        self._trials: list[TrialRecord] = []
        self._claims: dict[str, int] = {}  # claim: the trial that holds it
        self._claim_counts: dict[str, int] = {}
        self._first_with = FirstWith(space, self._trials)  # has_configuration, first_with
        self._superseded: set[int] = set()  # lost or interrupted trials that a retry replaced
        self._line_root: list[int] = []  # per trial: the first trial of its configuration's line
        self._lines: dict[int, list[int]] = {}  # first trial: the trials of its line, in order
        # finished trials (not queued or running) by whether they have a finite value:
        # numbers ascending, and (loss, number) best first for those with one, pruned
        # ones apart (they rank after the others: see ranked())
        self._valued: list[int] = []
        self._ranked: list[tuple[float, int]] = []
        self._ranked_pruned: list[tuple[float, int]] = []
        # complete trials that miss a constraint: (violation, loss, number), least first
        self._ranked_infeasible: list[tuple[float, float, int]] = []
        self._valueless: list[int] = []
        self._complete: list[int] = []  # numbers of the complete trials, ascending
        self._counts = {state: 0 for state in TrialState}
        self._unfinished: dict[TrialState, set[int]] = {
            TrialState.QUEUED: set(),
            TrialState.RUNNING: set(),
        }
        self.best: TrialRecord | None = None
        # several objectives: the Pareto front of the complete trials, kept as trials
        # complete (a complete trial never changes: no pass over the study)
        self._front = pareto.Front()
        # budget steps the finished trials trained in total (TrialRecord.trained): what
        # optimize(max_budget=...) compares with
        self.trained = 0
        self._replaced = 0
        self._indexes = SortedChanges()  # changes to the sorted indexes, batched or not
        self._checks = CheckIndex(self._sign, self._indexes, self._superseded)
        # Derived data a method may keep between asks to bound its reading (e.g. where the
        # oldest undecided bracket run starts): only what it could recompute from the
        # trials, since a new process starts with it empty.
        self.cache: dict[str, Any] = {}

    @property
    def trials(self) -> Sequence[TrialRecord]:
        return ReadOnlyList(self._trials)

    @property
    def next_number(self) -> int:
        """The number the next new trial will get."""
        return len(self._trials)

    @property
    def n_started(self) -> int:
        """Trials that count toward the target: all but queued ones and lost trials that a
        retry replaces (the retry counts once it starts)."""
        return len(self._trials) - self._counts[TrialState.QUEUED] - self._replaced

    @property
    def n_replaced(self) -> int:
        """Lost or interrupted trials that a retry replaced (they do not count)."""
        return self._replaced

    def count(self, *states: TrialState) -> int:
        """How many trials are in any of ``states`` (kept as counters: O(1))."""
        return sum(self._counts[s] for s in states)

    def unfinished(self, state: TrialState) -> list[int]:
        """Numbers of the trials that are ``queued`` or ``running`` (the one asked),
        lowest first; kept as sets, so the cost is that of the few there are."""
        return sorted(self._unfinished[state])

    def is_claimed(self, claim: str) -> bool:
        return claim in self._claims

    def claimant(self, claim: str) -> int | None:
        """The number of the trial holding ``claim`` (e.g. ``"config:7"``), if any."""
        return self._claims.get(claim)

    def line_root(self, number: int) -> int:
        """The first trial of trial ``number``'s configuration line: the line goes on
        through ``promoted`` and ``retried`` edges (the same configuration, trained on)."""
        return self._line_root[number]

    def line(self, root: int) -> Sequence[int]:
        """The trials of the line that trial ``root`` starts, in order."""
        return self._lines.get(root, ())

    def is_superseded(self, number: int) -> bool:
        """Whether trial ``number`` was lost or interrupted and a retry replaced it: its
        checks are the retry's to report (or, resumed, to carry), not a second entry."""
        return number in self._superseded

    def claim_count(self, prefix: str) -> int:
        """How many claims ``prefix:...`` exist (e.g. ``"grid"``)."""
        return self._claim_counts.get(prefix, 0)

    def has_configuration(self, params: dict[str, Value]) -> bool:
        """Whether a trial of any state and origin (queued, manual, an earlier grid) has
        these values (equal to 12 significant digits, :meth:`Space.key`). The index is
        built at the first call and then extended, so methods that never ask pay
        nothing and later calls pay only for the new trials."""
        return self._first_with.first(params, None) is not None

    def is_pending(self, params: Mapping[str, Value]) -> bool:
        """Whether a queued or running trial has these values (:meth:`Space.key`): what
        a model-based method must not propose again, even once every configuration of
        a small space has run. The cost is that of the few unfinished trials."""
        key = self.space.key(params)
        return any(
            self.space.key(self._trials[number].params) == key
            for waiting in self._unfinished.values()
            for number in waiting
        )

    def first_with(self, values: Mapping[str, Value]) -> int | None:
        """The lowest number of a trial of any state whose values of the names in
        ``values`` equal them (:meth:`Space.key`), if any; indexed as
        :meth:`has_configuration` is, per set of names."""
        return self._first_with.first(values, tuple(values))

    def configurations(self) -> list[int]:
        """The lowest number of each distinct configuration the trials have, of any state
        and origin (:meth:`Space.key`), from :meth:`has_configuration`'s index."""
        return list(self._first_with.index(None).values())

    def rng(self, number: int, stream: int = 0) -> np.random.Generator:
        """Randomness for trial ``number``: the same in every process and after resume."""
        return np.random.default_rng([self.seed, number, stream])

    def keyed_rng(self, key: Sequence[int], stream: int = 0) -> np.random.Generator:
        """Randomness keyed on ``key``, one or more whole numbers >= 0 a method chooses
        (PBT: member, segment, and how many of its attempts failed of their own), not on
        a trial number: the same in every process and after resume, and also after a
        crash, whose retry takes a new number and shifts every later one. The key's length is
        the last word of the seed: NumPy's seeding reads trailing zeros as absent, so
        without it ``(1, 0)`` would draw what ``(1,)`` does; and it keeps these streams
        apart from :meth:`rng`'s, whose last word is ``stream``."""
        return np.random.default_rng([self.seed, *key, stream, len(key)])

    def uniform(self, number: int, size: int, stream: int = 0) -> np.ndarray:
        """``size`` uniform draws in [0, 1) for trial ``number``, as reproducible as
        :meth:`rng` but about five times cheaper to set up (Python's Mersenne Twister
        seeded with the triple packed into one integer), for methods that need no more."""
        generator = random.Random(((self.seed % 2**64) << 80) | (stream << 64) | number)
        return np.array([generator.random() for _ in range(size)])

    def reached(self, step: int, bracket: int | None = None) -> Sequence[tuple[float, int]]:
        """(loss, number) of every trial of ``bracket`` with a check at ``step``, best
        first; loss is the objective turned so that lower is better."""
        return self._checks.reached(step, bracket)

    def stopped(self, step: int, bracket: int | None = None) -> Sequence[tuple[float, int]]:
        """(loss, number) of the trials of ``bracket`` pruned at their check at ``step``,
        a rung's, whose configuration nobody promoted since (no trial claims ``promote:<number>``),
        best first: the candidates for a promotion from that rung."""
        return self._checks.stopped(step, bracket)

    def valued(self) -> Sequence[int]:
        """Numbers of the finished trials (complete, pruned, failed) with a finite value,
        ascending, but those a retry replaced; kept sorted as trials change, so reading it
        costs no pass."""
        return self._valued

    def ranked(self) -> Sequence[tuple[float, int]]:
        """(loss, number) of the :meth:`valued` trials, best first, ties by number, but
        complete trials that miss a constraint after those that meet them (least
        :meth:`violation` first), and every pruned trial after every other one, whatever
        its loss (see :meth:`rank_key`)."""
        infeasible = LastTwo(self._ranked_infeasible)
        return Concatenated(self._ranked, infeasible, self._ranked_pruned)

    def rank_key(self, record: TrialRecord) -> tuple[bool, float, float]:
        """What orders finished ``record`` (with a finite value) among others, best first:
        its loss, but a trial that misses a constraint after every one that meets them,
        by how far it misses (:meth:`violation`; Deb's rules, :mod:`hpotrack.constraints`),
        and a pruned trial after every trial that ran to its end, as :meth:`ranked`
        orders them. A pruned trial's value is a report partway through training: when
        the metric worsens with training (overfitting), an early report can beat every
        final one; the pruner stopped it for looking worse than trials that went on, and
        that ranking is what its stop tells."""
        pruned = record.state is TrialState.PRUNED
        return pruned, self.violation(record), self._sign * cast(float, record.value)

    def violation(self, record: TrialRecord) -> float:
        """How far complete ``record`` misses the study's constraints (0.0: it meets them,
        or the study has none; :meth:`Objectives.violation`); 0.0 for a trial that did
        not complete: its constraint metrics are not known."""
        if not self.objectives.constraints or record.state is not TrialState.COMPLETE:
            return 0.0
        return self.objectives.violation(record.metrics)

    def is_feasible(self, record: TrialRecord) -> bool:
        """Whether ``record`` completed and meets every constraint: only such a trial can
        be the study's best or on its front."""
        return record.state is TrialState.COMPLETE and self.violation(record) == 0.0

    def observed_loss(self, record: TrialRecord) -> float:
        """The loss a model of the objective takes for finished ``record`` (with a finite
        value): its own, but for a pruned trial no better than the final loss of the
        complete trials at the rank it had among them at its last check (the worst, if
        none checked at that step). Its own value is a report partway through training,
        which beats every final one when the metric worsens with training (overfitting);
        ranks mostly carry over to the end of training (Spearman's rho 0.64 to 0.91
        between epoch 1, 3 or 9 and epoch 27 on benchmarks/multifidelity.py's tasks), and
        the rank is what its pruner judged. When the metric improves with training, its
        own report is the worse one and stands. Two binary searches in sorted indexes: no
        pass over the study."""
        pruned, _, loss = self.rank_key(record)
        if not pruned or not self._ranked:
            return loss
        worst = len(self._ranked) - 1
        at = worst
        if record.checks:
            step = max(record.checks)
            value, reached = record.checks[step], self._checks.complete_at(step)
            if value is not None and reached:
                share = bisect.bisect_left(reached, self._sign * value) / len(reached)
                at = round(share * worst)
        return max(loss, self._ranked[at][0])

    def valueless(self) -> Sequence[int]:
        """Numbers of the finished trials without a finite value (failed, or stopped after
        a NaN or infinite report), ascending; not those a retry replaced."""
        return self._valueless

    def complete(self) -> Sequence[int]:
        """Numbers of the complete trials, ascending (kept sorted: no pass)."""
        return self._complete

    def complete_since_best(self) -> int:
        """How many complete trials are numbered after :attr:`best` (0 while there is
        none), with several objectives after the trial that last changed the Pareto front
        (:meth:`front_changed_at`): how long the study has gone without improving, in
        trials that ran to their end, for ``optimize(patience=...)``; a binary search,
        no pass over the study."""
        changed = self.front_changed_at()
        if changed is not None:
            newest = changed
        elif self.best is None:
            return 0
        else:
            newest = self.best.number
        return len(self._complete) - bisect.bisect_right(self._complete, newest)

    def front_changed_at(self) -> int | None:
        """Several objectives: the trial that last changed the Pareto front, the newest
        of its points each counted at its earliest trial (:meth:`pareto.Front.changed_at`);
        None before a trial completes."""
        return self._front.changed_at()

    def front(self) -> list[int]:
        """Several objectives: the numbers of the complete trials no other complete trial
        beats on every objective (their Pareto front), ascending; empty otherwise."""
        return self._front.numbers()

    def complete_at(self, step: int) -> Sequence[float]:
        """Losses at ``step`` of the complete trials that have a check there, best first."""
        return self._checks.complete_at(step)

    def loss(self, value: float) -> float:
        """``value`` turned so that lower is better, whatever the direction."""
        return self._sign * value

    def losses(self, record: TrialRecord) -> tuple[float, ...] | None:
        """``record``'s value of every objective, each turned so that lower is better
        (one for a study of one objective), or None unless it completed with all of them
        finite: what a multi-objective method ranks (:mod:`hpotrack.pareto`)."""
        if record.state is not TrialState.COMPLETE:
            return None
        if not self.objectives.is_multi:
            value = record.value
            return None if value is None or not math.isfinite(value) else (self._sign * value,)
        return self.objectives.losses(record.metrics)

    def _supersede(self, number: int) -> None:
        """Take a lost or interrupted trial out of the rankings at its checks: its retry
        reports the same values again, and two entries of one configuration would push
        out another (or rank the retry below its own first attempt). It leaves
        :meth:`valueless` too: its retry's outcome stands for it (a model that took it
        as a failure put the worst loss where the retry found the best one)."""
        if number < len(self._trials) and number not in self._superseded:
            self._checks.index(self._trials[number], add=False)
            self._index_value(self._trials[number], add=False)
        self._superseded.add(number)

    def _index_value(self, record: TrialRecord, add: bool) -> None:
        """Keep a finished ``record`` in (or take it out of) :meth:`valued` and
        :meth:`ranked`, or :meth:`valueless`; superseded trials are in none."""
        if record.state in self._unfinished or record.number in self._superseded:
            return
        if record.value is not None and math.isfinite(record.value):
            self._indexes.change(self._valued, record.number, add)
            entry = (self._sign * record.value, record.number)
            violation = self.violation(record)
            if violation > 0.0:
                self._indexes.change(self._ranked_infeasible, (violation, *entry), add)
                return
            ranked = self._ranked_pruned if record.state is TrialState.PRUNED else self._ranked
            self._indexes.change(ranked, entry, add)
        else:
            self._indexes.change(self._valueless, record.number, add)

    def batch(self) -> AbstractContextManager[None]:
        """Apply the :meth:`update` calls inside at once to the sorted indexes (values
        ranked, checks, stopped trials): their new entries are sorted in at the end, not
        inserted one by one (:class:`SortedChanges`). A study's first read applies every
        trial: inserting them one by one took a second more of 100,000 trials' five."""
        return self._indexes.batch()

    def best_check(self, record: TrialRecord) -> float | None:
        """The lowest loss among ``record``'s checks (None: none has a value), kept as
        checks arrive (:meth:`CheckIndex.best_check`)."""
        number = record.number
        indexed = number < len(self._trials) and self._trials[number] is record
        return self._checks.best_check(record, indexed)

    def update(self, record: TrialRecord, checked: Collection[int] | None = None) -> None:
        """Insert or replace a trial (called by the study loop only). ``checked``: the
        steps whose checks are new or changed since the trial's previous record, when the
        caller knows them (a check, or a read of the checks written since): only those
        are re-indexed (see :meth:`CheckIndex.move`)."""
        old: TrialRecord | None = None
        if record.number < len(self._trials):
            old = self._trials[record.number]
            self._index_value(old, add=False)
            if old.state is TrialState.COMPLETE:
                self._indexes.change(self._complete, old.number, add=False)
            self._counts[old.state] -= 1
            if old.state in self._unfinished:
                self._unfinished[old.state].discard(old.number)
            if old.checks:
                self._checks.index_stopped(old, add=False, promoted=False)
            self.trained -= old.trained or 0
            self._trials[record.number] = record
        elif record.number == len(self._trials):
            self._trials.append(record)
            root = next(
                (self._line_root[e.parent] for e in record.parents if e.kind in _LINE_EDGES),
                record.number,
            )
            self._line_root.append(root)
            self._lines.setdefault(root, []).append(record.number)
            for edge in record.parents:
                if edge.kind == Origin.RETRIED.value:
                    self._replaced += 1
                    self._supersede(edge.parent)
        else:  # numbers are allocated densely under the write lock
            raise RuntimeError(f"trial {record.number} arrived before {len(self._trials)}")
        self._index_value(record, add=True)
        if record.state is TrialState.COMPLETE:
            self._indexes.change(self._complete, record.number, add=True)
        self._counts[record.state] += 1
        self.trained += record.trained or 0
        if record.state in self._unfinished:
            self._unfinished[record.state].add(record.number)
        self._checks.move(old, record, checked)
        if record.checks:
            promoted = self.is_claimed(f"{PROMOTE}:{record.number}")
            self._checks.index_stopped(record, add=True, promoted=promoted)
        if self.is_feasible(record) and self._beats_best(record):
            self.best = record
        if self.is_feasible(record) and self.objectives.is_multi:
            loss = self.losses(record)
            if loss is not None:
                self._front.add(record.number, loss)
        if record.claim is not None and record.claim not in self._claims:
            self._claims[record.claim] = record.number
            prefix, _, rest = record.claim.partition(":")
            self._claim_counts[prefix] = self._claim_counts.get(prefix, 0) + 1
            if prefix == PROMOTE and rest.isdigit() and int(rest) < len(self._trials):
                self._checks.index_stopped(self._trials[int(rest)], add=False, promoted=True)

    def _beats_best(self, record: TrialRecord) -> bool:
        """Whether complete ``record`` is the new best: a better value, or the same as
        the best's with a lower number (ties go to the earlier trial, in whatever order
        trials finish and are read, as a study loaded afresh has them)."""
        if record.value is None:
            return False
        best = self.best
        if best is not None and record.value == best.value:
            return record.number < best.number
        return is_better(record.value, None if best is None else best.value, self.direction)

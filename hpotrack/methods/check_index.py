"""The checks of a study's trials (their objective at the steps where a method decided
whether they go on), kept ranked per bracket and step as trials change, for
:class:`hpotrack.methods.history.History`: a pruning decision costs a binary search, not a
pass over the study, and so does finding a stopped trial to promote."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from hpotrack.methods.sorted_views import SortedChanges
from hpotrack.records import TrialRecord, TrialState


class CheckIndex:
    """Losses at each check (loss: the objective turned so that lower is better, by
    ``sign``), per (bracket, step): of every trial, of the complete ones, and of the
    trials stopped there and not promoted since. ``superseded``: the history's set of
    trials a retry replaced (their checks are the retry's to report), read live."""

    def __init__(self, sign: float, changes: SortedChanges, superseded: set[int]) -> None:
        self._sign = sign
        self._changes = changes
        self._superseded = superseded
        self._reached: dict[tuple[int | None, int], list[tuple[float, int]]] = {}
        self._complete_at: dict[int, list[float]] = {}
        self._stopped: dict[tuple[int | None, int], list[tuple[float, int]]] = {}
        self._best_checks: dict[int, float] = {}  # number: lowest loss of its checks, once asked

    def reached(self, step: int, bracket: int | None) -> Sequence[tuple[float, int]]:
        """(loss, number) of every trial of ``bracket`` with a check at ``step``, best first."""
        return self._reached.get((bracket, step), [])

    def stopped(self, step: int, bracket: int | None) -> Sequence[tuple[float, int]]:
        """(loss, number) of the trials of ``bracket`` stopped at ``step`` and not
        promoted since, best first."""
        return self._stopped.get((bracket, step), [])

    def complete_at(self, step: int) -> Sequence[float]:
        """Losses at ``step`` of the complete trials that have a check there, best first."""
        return self._complete_at.get(step, [])

    def move(
        self, old: TrialRecord | None, new: TrialRecord, checked: Collection[int] | None
    ) -> None:
        """Index ``new``'s checks in place of ``old``'s (None: a new trial). A check adds
        one step to a running trial, so when its state and bracket stay, only the steps
        whose value changed move (``checked``, when the caller knows them; else found by
        comparing): re-indexing all of them made a trial's n-th check cost n (a pruner
        checking each of 3,000 reports spent 14 of 20 s here)."""
        if old is None or old.state is not new.state or old.bracket != new.bracket:
            if old is not None and old.checks:
                self.index(old, add=False)
            if new.checks:
                self.index(new, add=True)
            return
        if checked is not None:
            steps: Collection[int] = checked
        elif old.checks is new.checks:
            return
        else:
            steps = {step for step, _ in old.checks.items() ^ new.checks.items()}
        if steps:
            self.index(old, add=False, steps=steps)
            self.index(new, add=True, steps=steps)

    def index(self, record: TrialRecord, add: bool, steps: Collection[int] | None = None) -> None:
        """Put ``record``'s checks (those at ``steps``, if given) in, or take them out of,
        :meth:`reached` and :meth:`complete_at`."""
        if record.number in self._superseded:
            return
        checks = record.checks
        chosen = checks.items() if steps is None else ((s, checks[s]) for s in steps if s in checks)
        number = record.number
        for step, value in chosen:
            if value is None:  # not storable as JSON: never written since, kept readable
                continue
            entry = (self._sign * value, number)
            if not add:
                self._best_checks.pop(number, None)  # found again when next asked
            elif number in self._best_checks:
                self._best_checks[number] = min(self._best_checks[number], entry[0])
            ranked = self._reached.setdefault((record.bracket, step), [])
            self._changes.change(ranked, entry, add)
            if record.state is TrialState.COMPLETE:
                self._changes.change(self._complete_at.setdefault(step, []), entry[0], add)

    def index_stopped(self, record: TrialRecord, add: bool, promoted: bool) -> None:
        """Keep ``record`` in (or take it out of) :meth:`stopped`, if it was pruned at a
        check, its last one, of a rung, and is not ``promoted`` since: one a pruner
        stopped (the study ran ``random`` with ``pruner=`` before ``sha``) has neither
        rung nor bracket, and no rung may promote it."""
        if record.state is not TrialState.PRUNED or not record.checks:
            return
        if record.rung is None and record.bracket is None:
            return
        step = max(record.checks)
        value = record.checks[step]
        if value is None or (add and promoted):
            return
        self._changes.change(
            self._stopped.setdefault((record.bracket, step), []),
            (self._sign * value, record.number),
            add,
        )

    def best_check(self, record: TrialRecord, indexed: bool) -> float | None:
        """The lowest loss among ``record``'s checks (None: none has a value), kept as
        checks arrive, so a rule that compares it at every check (the median stopping
        rule) does not pass over all of them each time. ``indexed``: ``record`` is the
        history's own record of that trial (else nothing is kept for it)."""
        number = record.number
        if indexed and number in self._best_checks:
            return self._best_checks[number]
        losses = [self._sign * v for v in record.checks.values() if v is not None]
        best = min(losses) if losses else None
        if indexed and best is not None and number not in self._superseded:
            self._best_checks[number] = best
        return best

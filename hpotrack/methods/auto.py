"""``auto``: the method an expert would pick, re-decided from the history at every ask.

The rules, first match wins:

1. the first finished trial returned hypergradients -> ``gradient`` (if every parameter
   is a continuous float or fixed, and one is a float; ``tpe`` if some is neither);
2. a space of one configuration (every parameter fixed) -> ``grid``, which runs it once;
3. ``budget=`` was given -> ``bohb`` (whole-number budgets with room for a rung below
   the max; ``tpe`` with the median pruner otherwise);
4. a small, fully discrete space (at most ``grid_max`` cells) -> ``grid``;
5. more than ``evolution_after`` trials, or more than ``evolution_dimensions``
   parameters -> ``evolution`` (a steady-state GA's ask is cheap at any size; going on
   from TPE's first 1,000 trials it found better points than TPE at 2,000 on 5-d Ackley,
   10 seeds of 10, median 0.12 against 0.59, though TPE's sharper bandwidths did better
   on 4-d Rosenbrock, 7 of 10, 0.59 against 0.99. Within 1,000 trials TPE found better
   points than evolution on every seed of Ackley at 50, 100, 150 and 300 parameters and
   Rosenbrock at 50 and 150, at 15-100 ms per ask; past 300 parameters, unmeasured, its
   ask costs more than that, and evolution's stays a few ms: benchmarks/README.md);
6. at most ``bayes_dimensions`` numeric parameters (no choices) and an expensive function
   (complete trials took ``expensive_s`` seconds or more on average) -> ``bayes``;
7. otherwise -> ``tpe``.

With several objectives rules 1 and 3 are skipped (no gradient or halving method keeps a
Pareto front: a budget is trained to its max) and the others choose among methods that do
(``grid``, ``evolution`` as NSGA-II, ``bayes`` as ParEGO, ``tpe`` as MOTPE). So with
constraints (:mod:`hpotrack.constraints`): no gradient or halving method honours them.

Every trial records the choice as its ``method`` (``chosen_by``: ``auto``), and the choice
and the reason as its ``note`` (``hpotrack show`` and ``hpotrack trial`` print them), and
the run logs it whenever it changes. Being a function of the history, the choice is the
same in every process and after a resume.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from hpotrack.errors import MethodError
from hpotrack.methods.base import Method, Proposal
from hpotrack.methods.bayes import Bayes
from hpotrack.methods.bohb import BOHB
from hpotrack.methods.evolution import Evolution
from hpotrack.methods.gradient import Gradient, is_continuous, is_fixed
from hpotrack.methods.grid import MAX_CELLS, Grid
from hpotrack.methods.halving import ladder_for
from hpotrack.methods.history import History
from hpotrack.methods.registry import register
from hpotrack.methods.tpe import TPE
from hpotrack.options import set_real, set_whole
from hpotrack.params import Choice
from hpotrack.records import TrialRecord, TrialState
from hpotrack.text import AUTO_CHOSE, plural


@register
@dataclass(frozen=True)
class Auto(Method):
    """Chooses among the other methods by the rules in the module docstring."""

    name = "auto"
    multi_objective = True  # chooses among those that are, for several objectives
    constrained = True  # chooses among those that do
    grid_max: int = 64
    bayes_dimensions: int = 20
    expensive_s: float = 1.0
    evolution_after: int = 1000
    evolution_dimensions: int = 300

    def __post_init__(self) -> None:
        for label in ("grid_max", "bayes_dimensions", "evolution_after", "evolution_dimensions"):
            set_whole(self, label, 0)
        set_real(self, "expensive_s", "expensive_s >= 0", lambda x: x >= 0)
        if self.grid_max > MAX_CELLS:  # Grid.check refuses larger grids: auto never checks
            raise MethodError(
                f"`grid_max <= {MAX_CELLS:,}` must hold (grid search refuses larger grids: "
                f"it orders their cells in memory, 8 bytes each), but got "
                f"grid_max={self.grid_max:,}"
            )

    def choose(self, history: History) -> tuple[Method, str]:
        """The method to use now, and why (a few words)."""
        space, budget = history.space, history.budget
        multi = history.objectives.is_multi  # no gradient nor halving method keeps a front
        constrained = history.objectives.constrained  # nor honours constraints
        first = _first_finished(history)
        if not (multi or constrained) and first is not None and "hypergrad" in first.metrics:
            params = [space[name] for name in space]
            if not all(is_continuous(p) or is_fixed(p) for p in params):
                return TPE(), "hypergradients returned, but some parameters are not continuous"
            if any(is_continuous(p) for p in params):  # else all are fixed: one cell
                return Gradient(), "the function returns hypergradients"
        discrete = all(space[name].n_values for name in space)  # 0: a continuous float
        cells = space.grid_size() if discrete else 0
        if cells == 1:  # a budget changes nothing: each rung would rerun the same point
            return Grid(), "a single configuration (every parameter fixed): it runs once"
        if budget is not None and not (multi or constrained):
            span = f"{budget.name} {budget.min:g}..{budget.max:g}"
            if not budget.whole:
                return TPE(pruner="median"), "a fractional budget: TPE with median pruning"
            if ladder_for(budget, BOHB.eta).top == 0:
                return TPE(pruner="median"), f"{span}: too short to halve, TPE with median pruning"
            return BOHB(brackets=_bracket_rule(history)), f"budget= given, {span}"
        method, reason = self._by_space(history, discrete, cells)
        if multi:
            count = history.objectives.count
            reason = f"{count} objectives (their Pareto front), {reason}"
        if constrained:
            reason = f"constraints ({history.objectives.describe_constraints()}), {reason}"
        if budget is not None and (multi or constrained):
            why = "no halving keeps a front" if multi else "constraints are judged at the end"
            reason += f", every trial trained to the budget's max ({why})"
        return method, reason

    def _by_space(self, history: History, discrete: bool, cells: int) -> tuple[Method, str]:
        """Rules 4-7 of the module docstring: the method for the space, the trials so far
        and their cost."""
        space = history.space
        if discrete and cells <= self.grid_max:
            return Grid(), f"a small discrete space of {plural(cells, 'cell')}"
        if len(history.trials) > self.evolution_after:
            return Evolution(), f"more than {self.evolution_after} trials"
        if len(space) > self.evolution_dimensions:
            return Evolution(), f"a very large space of {len(space)} parameters"
        if discrete and any(isinstance(space[name], Choice) for name in space):
            return (
                TPE(),
                f"a discrete space of {cells:,} cells, more than grid_max ({self.grid_max})",
            )
        if any(isinstance(space[name], Choice) for name in space):
            return TPE(), f"a mixed space of {plural(len(space), 'parameter')}"
        numeric = plural(len(space), "numeric parameter")
        if len(space) > self.bayes_dimensions:
            return TPE(), f"{numeric}, more than bayes takes ({self.bayes_dimensions})"
        seconds = _mean_duration(history)
        if seconds is None:
            return TPE(), (
                f"{numeric}, no complete trial timed yet "
                f"(bayes once they take {self.expensive_s:g} s or more)"
            )
        # the mean of the latest trials, not each: one slow trial among quick ones tips it
        limit = f"{self.expensive_s:g} s"
        if seconds >= self.expensive_s:
            return Bayes(), f"{numeric} and expensive trials ({limit} or more on average)"
        return TPE(), f"{numeric} and cheap trials (under {limit} on average)"

    def unusable(
        self, trial: TrialRecord, metrics: Mapping[str, Any], history: History
    ) -> str | None:
        return self.choose(history)[0].unusable(trial, metrics, history)

    def ask(self, history: History) -> Proposal:
        method, reason = self.choose(history)
        proposal = method.ask(history)
        note = f"{AUTO_CHOSE}{method.name}: {reason}"
        if proposal.note:
            note = f"{note}; {proposal.note}"
        return Proposal(
            params=proposal.params,
            origin=proposal.origin,
            budget=proposal.budget,
            parents=proposal.parents,
            claim=proposal.claim,
            rung=proposal.rung,
            bracket=proposal.bracket,
            note=note,
            method=proposal.method or method.name,
        )

    def next_check(self, trial: TrialRecord, step: int, history: History) -> int | None:
        return self.choose(history)[0].next_check(trial, step, history)

    def check_step(self, trial: TrialRecord, due: int, step: int, history: History) -> int:
        return self.choose(history)[0].check_step(trial, due, step, history)

    def rung(self, trial: TrialRecord, step: int, history: History) -> int | None:
        return self.choose(history)[0].rung(trial, step, history)

    def on_report(self, trial: TrialRecord, step: int, history: History) -> bool:
        return self.choose(history)[0].on_report(trial, step, history)

    def resumable(self, history: History) -> Collection[int] | None:
        return self.choose(history)[0].resumable(history)

    def trials_to_complete(self, history: History) -> int | None:
        return self.choose(history)[0].trials_to_complete(history)

    def trials_left(self, history: History) -> int | None:
        return self.choose(history)[0].trials_left(history)

    def short_target(self, target: int, history: History) -> str | None:
        """What the method auto chose says of the target, as auto's choice: not the
        random start of ``tpe`` and ``bayes``, which is what an expert runs on a study
        that short (said only to a user who chose them: auto picks tpe for nearly every
        new study, and n_trials=5 is no mistake)."""
        method, reason = self.choose(history)
        if isinstance(method, TPE | Bayes):
            return None
        why = method.short_target(target, history)
        return None if why is None else f"{AUTO_CHOSE}{method.name} ({reason}), and {why}"

    def deciding(self, history: History) -> Method:
        return self.choose(history)[0]

    def continues(self, before: Method | None, history: History) -> str | None:
        return self.choose(history)[0].continues(before, history)


def _bracket_rule(history: History) -> str:
    """BOHB's ``brackets``: synchronous, unless the study began asynchronously (stored
    before synchronous runs were the default: its second configuration went to the
    second bracket, where a synchronous iteration fills the most aggressive one first)."""
    second = history.claimant("config:1")
    if second is None or history.budget is None:
        return "synchronous"
    top = ladder_for(history.budget, BOHB.eta).top
    return "synchronous" if history.trials[second].bracket == top else "asynchronous"


def _first_finished(history: History) -> TrialRecord | None:
    return next((t for t in history.trials if t.state is TrialState.COMPLETE), None)


def _mean_duration(history: History) -> float | None:
    """Mean seconds of the latest complete trials (None before any)."""
    durations = [
        t.duration
        for t in history.trials[-50:]
        if t.state is TrialState.COMPLETE and t.duration is not None
    ]
    return sum(durations) / len(durations) if durations else None

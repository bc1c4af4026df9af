"""``hyperband``: brackets of successive halving (Li et al. 2018).

Bracket ``s`` runs successive halving from ``s`` rungs below the top (bracket 0 trains
every trial fully; see :mod:`hpotrack.methods.halving` for the rungs). New configurations
go to the brackets in the proportions of one Hyperband iteration (``n_s`` of them to
bracket ``s``). Configurations are drawn uniformly at random; :mod:`hpotrack.methods.bohb`
draws them from a model instead.

``brackets`` says how a bracket decides at its rungs:

- ``"synchronous"`` (the default): as the paper runs it, each bracket of each iteration
  is one run of successive halving over its ``n_s`` configurations, and a rung's best
  ``⌊n_s η^-i⌋`` go on once all of the run arrived there; processes never wait, they
  start the next configurations meanwhile (:mod:`hpotrack.methods.brackets`).
- ``"asynchronous"``: each bracket is asynchronous successive halving (ASHA's rule, Li et
  al. 2020) over all its trials so far, the iteration's brackets interleaved; what
  studies stored before the option did.

Enqueued and manual configurations belong to no bracket: they are checked from the lowest
rung and ranked there, asynchronously, with the most aggressive bracket's trials.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from hpotrack.methods import brackets as runs
from hpotrack.methods.base import Method, Proposal
from hpotrack.methods.halving import (
    Halving,
    Ladder,
    bracket_schedule,
    new_config_slot,
    promotion,
    repeated_at,
    set_eta,
)
from hpotrack.methods.history import History
from hpotrack.methods.registry import register
from hpotrack.options import check_choice
from hpotrack.records import Origin, TrialRecord
from hpotrack.space import Value

BRACKET_RULES = ("synchronous", "asynchronous")


@register
@dataclass(frozen=True)
class Hyperband(Halving):
    """Hyperband (Li et al. 2018) with reduction factor ``eta`` over ``budget=``: brackets
    of successive halving, from the most aggressive (rungs from the lowest budget) to one
    that trains every configuration fully. ``brackets``: ``"synchronous"`` (the default)
    ranks a bracket's configurations at a rung once all of them reached it;
    ``"asynchronous"`` decides as trials arrive (ASHA's rule in every bracket). Details:
    ``hpotrack.methods.hyperband``."""

    name = "hyperband"
    eta: float = 3.0
    brackets: str = "synchronous"
    stored_defaults: ClassVar[dict[str, Any]] = {"brackets": "asynchronous"}  # before it

    def __post_init__(self) -> None:
        set_eta(self)
        check_choice(self.brackets, "brackets", BRACKET_RULES)

    @property
    def synchronous(self) -> bool:
        return self.brackets == "synchronous"

    def ask(self, history: History) -> Proposal:
        ladder = self.ladder(history)
        slot = new_config_slot(history)
        if self.synchronous:
            promoted = runs.promotion(history, ladder, self.layout(ladder)) or promotion(
                history, ladder, [None], only=[None]
            )
        else:
            promoted = promotion(history, ladder, [*range(ladder.top + 1), None])
        if promoted is not None:
            return promoted
        params, note = self.configuration(history)
        return Proposal(
            params=params,
            origin=Origin.SAMPLED.value,
            claim=f"config:{slot}",
            bracket=self.bracket_of(ladder, slot),
            note=note,
        )

    def bracket_of(self, ladder: Ladder, slot: int) -> int:
        """The bracket of the study's new configuration number ``slot``."""
        if self.synchronous:
            layout = self.layout(ladder)
            return layout.bracket_at(slot % layout.per_iteration)
        return repeated_at(self.schedule(ladder), slot)

    def continues(self, before: Method | None, history: History) -> str | None:
        """Also refuses other ``brackets`` once trials were placed in brackets: the
        synchronous rule groups configurations into runs by their slots, where the
        asynchronous one interleaved the brackets, and it keeps stopped for good what
        the asynchronous rule may promote later. When the stored method has no
        ``brackets`` (``sha`` for a while), the trials tell: each new configuration must
        be in the bracket this method gives its slot."""
        problem = super().continues(before, history)
        old = before.brackets if isinstance(before, Hyperband) else None
        if problem is not None or old == self.brackets:
            return problem
        placed = [t for t in history.trials if t.bracket is not None]
        if not placed:
            return None
        keep = (
            f"brackets={old!r} (method=hp.methods.{type(self).__name__}(eta={self.eta:g}, "
            f"brackets={old!r}))"
        )
        ran = f"{old} brackets"
        if old == "asynchronous":
            wrong = (
                "synchronous runs would group them by slot into runs of other brackets, "
                "and rank them at rungs their bracket never checked"
            )
        elif old == "synchronous":
            wrong = "asynchronous brackets would promote trials that their run stopped for good"
        else:
            ladder = self.ladder(history)
            slots = ((t, runs.config_slot(t)) for t in placed)
            misfit = next(
                (
                    (t, s)
                    for t, s in slots
                    if s is not None and self.bracket_of(ladder, s) != t.bracket
                ),
                None,
            )
            if misfit is None:
                return None
            trial, slot = misfit
            ran = (
                f"other brackets (trial {trial.number}, configuration {slot}, is in bracket "
                f"{trial.bracket}; brackets={self.brackets!r} puts it in "
                f"{self.bracket_of(ladder, slot)})"
            )
            wrong = "this rule would regroup and promote them by rules they did not run under"
            keep = "the brackets they ran with"
        return (
            f"brackets={self.brackets!r}: its trials ran in {ran}, and {wrong}. "
            f"Keep {keep} to continue it"
        )

    def on_report(self, trial: TrialRecord, step: int, history: History) -> bool:
        if not self.synchronous or trial.bracket is None:
            return super().on_report(trial, step, history)
        ladder = self.ladder(history)
        return not runs.goes_on(history, ladder, self.layout(ladder), trial, step)

    def decides_once(self, trial: TrialRecord) -> bool:
        """A synchronous run's rung ranks the whole run: a trial stopped while the rung
        fills waits for a promotion, and once it is full the decision is the same
        whenever asked. Trials outside the runs (enqueued) are checked as ASHA checks."""
        return self.synchronous and trial.bracket is not None

    def resumable(self, history: History) -> Collection[int] | None:
        """Synchronous runs: every trial but the stopped ones of decided runs (nothing is
        promoted from those, so their checkpoints go); asynchronous brackets may promote
        any stopped trial later."""
        if not self.synchronous:
            return None
        stopped = runs.stopped_for_good(history, self.layout(self.ladder(history)))
        return [t.number for t in history.trials if t.number not in stopped]

    def trials_to_complete(self, history: History) -> int | None:
        """Synchronous runs: the first to train fully is the top survivor of the first run
        (the most aggressive bracket's ``n`` configurations, checked from the lowest rung),
        after its ``n`` trials and a promotion per survivor of each rung above: ``n + Σ
        ⌊n η^-i⌋`` (27 + 9 + 3 + 1 = 40 for ``Budget(1, 27)``, η = 3), fewer when a last
        arrival goes on without a promotion, more with several processes. Asynchronous
        brackets decide as trials arrive: no such count."""
        if not self.synchronous:
            return None
        ladder = self.ladder(history)
        run = self.layout(ladder).run_of(0)
        return sum(run.survivors(stage, self.eta) for stage in range(run.bracket + 1))

    def schedule(self, ladder: Ladder) -> Sequence[int]:
        """The brackets of one iteration's new configurations: Hyperband's, interleaved
        (synchronous runs take each bracket's together, see :meth:`layout`)."""
        return bracket_schedule(ladder)

    def layout(self, ladder: Ladder) -> runs.Layout:
        """Which run of which bracket each new configuration belongs to."""
        return runs.Layout.of(self.schedule(ladder), ladder.top)

    def configuration(self, history: History) -> tuple[dict[str, Value], str]:
        """A new configuration, and where it came from: uniform at random."""
        point = history.uniform(history.next_number, len(history.space))
        return history.space.decode(point), f"{self.name}: uniform at random"

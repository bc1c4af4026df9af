"""The one interface every search method implements: :class:`Method`, and the
:class:`Proposal` it returns.

A method is a pure function of the study's stored history, the study seed and the number of
the trial being asked for (DESIGN principle 1): it keeps no state between calls, imports no
store and does no I/O. The study loop hands it a :class:`~hpotrack.methods.history.History`
and inserts the :class:`Proposal` it returns (:func:`checked` first), under the ask lock.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from hpotrack.budget import Budget
from hpotrack.errors import MethodError, SpaceError
from hpotrack.methods.history import History
from hpotrack.objectives import Objectives
from hpotrack.records import Edge, Origin, TrialRecord
from hpotrack.space import Space, Value


@dataclass(frozen=True)
class Proposal:
    """What a method wants run next: trial ``history.next_number``.

    ``params`` gives every parameter of the space a value in its range (the study loop
    refuses anything else with a :class:`MethodError`). ``origin`` says where they come
    from (a :class:`Origin` value: ``"sampled"``, ``"mutated"``, ``"promoted"``...) and
    ``parents`` the earlier trials they come from, as lineage edges. ``budget`` is what
    the trial trains to (None: the study budget's max). ``claim`` is a key unique within
    the study (e.g. ``"promote:17"``); a second trial with the same claim is refused, so
    two processes can never run the same grid cell. ``rung`` and ``bracket`` place the
    trial in successive halving. ``method`` is the registered name of the method whose
    ask made the proposal: leave it None (the study fills in the asking method's name);
    a method that hands the ask to another (``auto``) sets the other's name.
    """

    params: dict[str, Value]
    origin: str = Origin.SAMPLED.value
    budget: float | None = None
    parents: tuple[Edge, ...] = ()
    claim: str | None = None
    rung: int | None = None
    bracket: int | None = None
    note: str | None = None  # why, in a few words (``auto`` says which method and why)
    method: str | None = None  # who proposed it (see above); stored with the trial


class Method(ABC):
    """A search method. Subclasses are frozen dataclasses of their options, registered
    with :func:`register` under ``name``, the stable tag stored in the database and
    accepted by ``@tune(method=...)``; the study stores the options as JSON and rebuilds
    the method from them in every process.

    A subclass implements :meth:`ask`, a pure function of the history (no state kept on
    the method); the other methods are optional hooks with defaults. A ``pruner`` option
    (:func:`hpotrack.pruners.pruner_from`) makes the defaults of :meth:`next_check` and
    :meth:`on_report` stop trials. docs/methods.md, "Your own method", has an example.
    """

    name: ClassVar[str]
    retries_lost: ClassVar[bool] = True  # False: the method re-runs lost trials itself
    # Why the method cannot run an enqueued trial (None: it can; they run first).
    refuses_enqueued: ClassVar[str | None] = None
    # Why every trial must save a checkpoint (None: it need not): a complete trial that
    # saved none is a warning, once per study and process.
    needs_checkpoints: ClassVar[str | None] = None
    # Whether the method gives every trial a whole-number budget of steps itself (pbt's
    # segments), without a budget= on @tune: optimize(max_budget=...) counts them.
    sets_budgets: ClassVar[bool] = False
    # Whether the method searches for a Pareto front when the study has several
    # objectives (reading History.losses), not only for one objective's best value.
    multi_objective: ClassVar[bool] = False
    # Whether the method honours the study's constraints (hpotrack.constraints): it ranks
    # or models trials as History.rank_key does (feasible first), or reads no values.
    constrained: ClassVar[bool] = False
    # Options added after studies were stored, with the value that does what the method
    # did before them: a stored study missing one resumes as it ran (see from_json).
    stored_defaults: ClassVar[dict[str, Any]] = {}

    def check(self, space: Space) -> None:  # noqa: B027 - optional hook
        """Raise :class:`MethodError` if this method cannot search ``space``."""

    def check_budget(self, budget: Budget | None) -> None:
        """Raise :class:`MethodError` if this method cannot work with ``budget`` (here:
        if its ``pruner=`` could check no trial of it)."""
        pruner = getattr(self, "pruner", None)
        if pruner is not None:
            pruner.check_budget(budget)

    def check_objectives(self, objectives: Objectives) -> None:
        """Raise :class:`MethodError` if this method cannot optimize ``objectives``: several
        need a method that keeps a Pareto front (:attr:`multi_objective`) and no
        ``pruner=``, whose rule ranks one objective's reports; constraints need a method
        that honours them (:attr:`constrained`)."""
        from hpotrack.methods import registry  # it imports us

        if objectives.constrained and not self.constrained:
            raise MethodError(
                f"method {self.name!r} does not honour constraints, but the study has "
                f"constraints ({objectives.describe_constraints()}); use one that does: "
                f"{', '.join(registry.constrained_methods())}"
            )
        if not objectives.is_multi:
            return
        given = f"{objectives.count} objectives ({objectives.describe()})"
        if not self.multi_objective:
            raise MethodError(
                f"method {self.name!r} optimizes one objective, but the study has {given}; "
                "use one that finds their Pareto front: "
                f"{', '.join(registry.multi_objective_methods())}, or optimize one objective"
            )
        if getattr(self, "pruner", None) is not None:
            raise MethodError(
                f"a pruner ranks one objective's reports, but the study has {given}: "
                f"leave out pruner= of method {self.name!r}"
            )

    def next_check(self, trial: TrialRecord, step: int, history: History) -> int | None:
        """The first step at or after ``step`` at which this method wants to decide
        whether ``trial`` goes on (its report there is a check); None: never again.
        Methods that prune (or take a ``pruner=``) override this and :meth:`on_report`."""
        pruner = getattr(self, "pruner", None)
        return None if pruner is None else pruner.next_check(trial, step, history)

    def check_step(self, trial: TrialRecord, due: int, step: int, history: History) -> int:
        """The step of the check that a report at ``step`` makes, ``due`` (at or before
        ``step``) being the trial's next check step: the last check step at or before
        ``step``, since a rung is reached by a report past it. A ``pruner=`` checks at
        ``step`` itself: its rule compares values reported at the same step, as Optuna's
        pruners do (with checks every 5 steps, a trial reporting every 3rd epoch is
        ranked at epoch 3 among others' epoch-3 values, not their epoch-1 ones)."""
        if getattr(self, "pruner", None) is not None:
            return step
        at, following = due, self.next_check(trial, due + 1, history)
        while following is not None and following <= step:
            at, following = following, self.next_check(trial, following + 1, history)
        return at

    def resumable(self, history: History) -> Collection[int] | None:
        """Trials whose latest checkpoint a future proposal of this method may start
        from; None: any trial whose line has not gone on (see
        :func:`hpotrack.checkpoint_sweeps.unneeded`). Lets old checkpoints be deleted."""
        return None

    def trials_to_complete(self, history: History) -> int | None:
        """About how many trials a study needs before one may train to its budget's max,
        for methods that stop trials at rungs first; None when any trial may."""
        return None

    def trials_left(self, history: History) -> int | None:
        """How many more trials this method proposes before it is exhausted, when it
        knows (grid: its cells that no trial has); None when it does not, or never ends.
        A run without ``n_trials`` says the count once and gives its progress bar the
        total."""
        return None

    def unusable(
        self, trial: TrialRecord, metrics: Mapping[str, Any], history: History
    ) -> str | None:
        """Why ``trial``, a proposal of this method that completed with ``metrics``,
        gives it nothing to go on, as the error that fails it (``gradient``: a step of a
        descent that returned no hypergradient); None when it does. ``history`` is as
        the trial's ask read it."""
        return None

    def short_target(self, target: int, history: History) -> str | None:
        """Why a study that stops at ``target`` trials would never get what this method
        is for (evolution: no child bred; pbt: members trained to the horizon), with the
        fix; said once before a run. None when the target is enough."""
        return None

    def rung(self, trial: TrialRecord, step: int, history: History) -> int | None:
        """Which rung a check at ``step`` is (multi-fidelity methods); None elsewhere."""
        return None

    def on_report(self, trial: TrialRecord, step: int, history: History) -> bool:
        """Whether to prune ``trial`` now that it reported at its check ``step``
        (``trial.checks[step]`` holds the value, and ``history`` has it too)."""
        pruner = getattr(self, "pruner", None)
        return False if pruner is None else pruner.prune(trial, step, history)

    def deciding(self, history: History) -> Method:
        """The method that decides the study's next steps: itself (``auto``: the one it
        chooses from ``history``)."""
        return self

    def continues(self, before: Method | None, history: History) -> str | None:
        """Why this method cannot go on with the study's trials, run under ``before``
        (the stored method as it decides, None if unknown here), or None when it can.
        Here it always can: the trials so far are observations to it, and it stops no
        trial by rungs they ran at. Methods with rungs check that those are theirs."""
        return None

    def decides_once(self, trial: TrialRecord) -> bool:
        """Whether :meth:`on_report` at ``trial``'s checks answers the same whenever it is
        asked, so that asking again tells what was decided (a trial lost after its last
        check is then pruned there if that check stopped it). False here: the pruners,
        and ASHA's rungs, decide against the trials that reported so far, which later
        ones change; synchronous Hyperband runs rank each rung on its whole run."""
        return False

    @abstractmethod
    def ask(self, history: History) -> Proposal:
        """Propose trial ``history.next_number``; raise ``SearchExhausted`` when done."""

    def to_json(self) -> dict[str, Any]:
        options = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        for key, value in options.items():
            if hasattr(value, "to_json"):  # a pruner: stored by its stable tag
                options[key] = value.to_json()
            elif isinstance(value, tuple):  # as JSON gives it back
                options[key] = list(value)
        return {"name": self.name, "options": options}


def checked(method: Method, proposal: object, history: History) -> Proposal:
    """``proposal``, what ``method.ask(history)`` returned, with canonical values (those
    of :meth:`Space.validate`), or one :class:`MethodError` saying what is wrong with it:
    it is stored as trial ``history.next_number`` as it is, so a value outside the space,
    an edge to no trial or a claim another trial holds would corrupt the study."""
    number = history.next_number
    what = f"method {method.name!r} proposed trial {number}"
    if not isinstance(proposal, Proposal):
        raise MethodError(
            f"method {method.name!r}: ask() returned {proposal!r}, not a Proposal; return "
            "hp.methods.Proposal(params=...), or raise hp.errors.SearchExhausted when "
            "nothing is left to propose"
        )
    try:
        params = history.space.validate(proposal.params)
    except SpaceError as exc:
        raise MethodError(
            f"{what} with values outside the study's space ({exc}); propose values of "
            "history.space, e.g. history.space.decode(point) of a point in the unit cube"
        ) from None
    for edge in proposal.parents:
        if not isinstance(edge, Edge) or not 0 <= edge.parent < number:
            existing = f"0 to {number - 1}" if number else "none yet"
            raise MethodError(
                f"{what} with parent {edge!r}: parents must be hp.Edge(parent, kind) "
                f"of trials the study has ({existing})"
            )
    holder = None if proposal.claim is None else history.claimant(proposal.claim)
    if holder is not None:
        raise MethodError(
            f"{what} with claim {proposal.claim!r}, which trial {holder} holds: a claim "
            "is unique within a study, so check history.is_claimed(claim) before "
            "proposing it"
        )
    proposer = _proposer(method, proposal.method, what)
    top = math.inf if history.budget is None else history.budget.max
    if proposal.budget is not None and not (
        isinstance(proposal.budget, numbers.Real)
        and not isinstance(proposal.budget, bool)
        and 0 < proposal.budget <= top
    ):
        rule = "0 < budget" if history.budget is None else f"0 < budget <= {top!r}"
        raise MethodError(
            f"`{rule}` must hold, but {what} with budget={proposal.budget!r}"
            + ("" if history.budget is None else " (the max of the study's budget)")
        )
    return dataclasses.replace(proposal, params=params, method=proposer)


def _proposer(method: Method, named: object, what: str) -> str:
    """The name stored as the method that proposed a trial: ``named`` (what the proposal
    says), else ``method``'s. A stored name is a stable tag a study can be resolved by,
    so one no method is registered under is refused."""
    if named is None:
        return method.name
    from hpotrack.methods.registry import known_methods  # it imports this module

    known = known_methods()
    if named not in known:
        raise MethodError(
            f"{what} as made by method {named!r}, which is not a registered method's name: "
            f"Proposal.method names the method the ask was handed to, one of {known}, "
            "or is left None"
        )
    return str(named)

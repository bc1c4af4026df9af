"""``pbt``: population-based training (Jaderberg et al. 2017, "Population Based Training
of Neural Networks", sec. 3 and 4.1).

A population of ``population`` members trains in segments of ``interval`` steps; each trial
is one segment of one member (claim ``pbt:<member>:<segment>``), trains from the checkpoint
its lineage names (``trial.load_checkpoint()``) over ``trial.steps`` and saves a checkpoint.
When a member finishes a segment, its next one either *continues* it (same
hyperparameters, a ``continued`` edge to the segment just finished) or, when the member
ranks in the bottom ``quantile`` of the population's latest scores, *exploits* a member of
the top ``quantile`` (truncation selection, sec. 4.1): it takes that member's latest
checkpoint and hyperparameters (an ``exploited`` edge to its trial, at its step) and
*explores* them: each hyperparameter is resampled with probability
``resample_probability``, else perturbed by one of the factors in ``perturb`` (sec. 4.1:
0.8 or 1.2). Steps are global: a member that exploits continues from the step of the
checkpoint it copied, so its curve is continuous.

Asynchronous by construction: the member to train next is one whose last segment has
finished (ask is atomic, so no member is ever trained by two processes at once), the one
at the lowest step first, which keeps the population at about the same step so that the
ranking compares like with like. A failed segment is run again from the member's last
good checkpoint. Every member trains up to step ``generations * interval`` (the
*horizon*): a member that copied one further ahead gets there in fewer segments, and a
member never copies one that already reached the horizon. The search ends when every
member has reached it, having trained at most ``population * generations * interval``
steps in all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hpotrack.budget import Budget
from hpotrack.errors import MethodError, SearchExhausted
from hpotrack.methods.base import History, Method, Proposal, register
from hpotrack.options import is_finite_real, set_real, set_whole
from hpotrack.params import Choice, Float, Int
from hpotrack.records import Edge, Origin, TrialRecord, TrialState
from hpotrack.space import Space, Value


@dataclass(frozen=True)
class Member:
    """One member's segments so far, oldest first, as the history holds them."""

    index: int
    trials: list[TrialRecord] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return bool(self.trials) and self.trials[-1].state in (
            TrialState.RUNNING,
            TrialState.QUEUED,
        )

    @property
    def done(self) -> list[TrialRecord]:
        """Segments that completed, oldest first."""
        return [t for t in self.trials if t.state is TrialState.COMPLETE]

    @property
    def latest(self) -> TrialRecord | None:
        done = self.done
        return done[-1] if done else None


@register
@dataclass(frozen=True)
class PBT(Method):
    """Population-based training (Jaderberg et al. 2017): ``population`` members train in
    segments of ``interval`` steps up to step ``generations * interval``; after each
    segment a member in the bottom ``quantile`` copies one of the top ``quantile``
    (checkpoint and hyperparameters) and perturbs each hyperparameter by a factor of
    ``perturb``, or resamples it with ``resample_probability``. Details: the module
    docstring (``hpotrack.methods.pbt``)."""

    name = "pbt"
    retries_lost = False  # a failed segment is run again by ask, as the member's next one
    refuses_enqueued = (
        "pbt trains a population in segments it proposes itself, so a trial queued from "
        "outside would belong to no member; to start near known values, narrow the space "
        "around them (the first generation samples it)"
    )
    population: int = 8
    interval: int = 5
    generations: int = 10
    quantile: float = 0.25
    perturb: tuple[float, ...] = (0.8, 1.2)
    resample_probability: float = 0.25

    def __post_init__(self) -> None:
        for label, minimum in (("population", 2), ("interval", 1), ("generations", 1)):
            set_whole(self, label, minimum)
        set_real(self, "quantile", "0 < quantile <= 0.5", lambda q: 0 < q <= 0.5)
        factors = tuple(self.perturb) if isinstance(self.perturb, list | tuple) else ()
        if not factors or not all(is_finite_real(f) and f > 0 for f in factors):
            raise MethodError(
                f"perturb must be a non-empty list of positive factors, e.g. (0.8, 1.2), "
                f"but got perturb={self.perturb!r}"
            )
        object.__setattr__(self, "perturb", tuple(float(f) for f in factors))
        set_real(
            self, "resample_probability", "0 <= resample_probability <= 1", lambda p: 0 <= p <= 1
        )

    def check_budget(self, budget: Budget | None) -> None:
        """PBT sets each segment's budget itself (up to ``generations * interval``); a
        ``budget=`` on ``@tune`` would be ignored, so it is refused."""
        if budget is not None:
            raise MethodError(
                f"method 'pbt' sets each trial's budget itself: every member trains "
                f"generations * interval = {self.horizon} steps in segments of "
                f"{self.interval}, so budget={budget!r} would be ignored; drop budget= "
                f"from @tune and set hp.methods.PBT(interval=..., generations=...)"
            )

    @property
    def horizon(self) -> int:
        """The step every member trains up to."""
        return self.generations * self.interval

    def ask(self, history: History) -> Proposal:
        members = self.members(history)
        ready = [m for m in members if not m.busy and _step(m) < self.horizon]
        if not ready:
            if all(_step(m) >= self.horizon for m in members):
                raise SearchExhausted(
                    f"population-based training is complete: {self.population} members "
                    f"reached step {self.horizon}"
                )
            finished = sum(_step(m) >= self.horizon for m in members)
            if finished:
                raise SearchExhausted(
                    f"{finished} of {self.population} members reached step {self.horizon}; "
                    "the others are being trained by other workers: nothing is left here"
                )
            raise SearchExhausted(
                "every member of the population is being trained by another worker; "
                f"run at most {self.population} workers (population={self.population})"
            )
        member = min(ready, key=lambda m: (_step(m), m.index))
        segment = len(member.done)
        claim = f"pbt:{member.index}:{segment}"
        earlier = [t for t in member.trials if t.claim and t.claim.startswith(claim)]
        # a segment run again (its trial failed or was lost) makes the same random draws
        # as its first attempt: those of that trial's number
        draws = earlier[0].number if earlier else history.next_number
        if earlier:
            claim = f"{claim}#{len(earlier)}"
        latest = member.latest
        if latest is None:
            point = history.uniform(draws, len(history.space))
            return Proposal(
                params=history.space.decode(point),
                budget=float(self.interval),
                claim=claim,
            )
        source, origin, params = latest, Origin.CONTINUED.value, dict(latest.params)
        rng = history.rng(draws, 1)
        here = _step(member)  # exploit members as far as this one or further, never back
        top = [
            t
            for t in self.top_of(history, members, member)
            if here <= (t.budget or 0) < self.horizon
        ]
        if top:
            source = top[int(rng.integers(len(top)))]
            origin = Origin.EXPLOITED.value
            params = explore(
                history.space, source.params, rng, self.perturb, self.resample_probability
            )
        start = int(source.budget or 0)
        return Proposal(
            params=params,
            origin=origin,
            budget=float(min(start + self.interval, self.horizon)),
            parents=(Edge(source.number, origin, step=start),),
            claim=claim,
        )

    def resumable(self, history: History) -> list[int]:
        """Each member's latest finished segment: the only checkpoints PBT starts from,
        and the models the population ended with, so also of members a study reopened
        with a smaller population no longer trains (``study.best`` may be one of them)."""
        latest: dict[str, int] = {}
        for trial in history.trials:
            claim = trial.claim or ""
            if claim.startswith("pbt:") and trial.state is TrialState.COMPLETE:
                latest[claim.split(":")[1]] = trial.number  # by member
        return list(latest.values())

    def members(self, history: History) -> list[Member]:
        """The population as the history holds it (trials without a ``pbt:`` claim, e.g.
        enqueued ones, are not members)."""
        members = [Member(index) for index in range(self.population)]
        for trial in history.trials:
            claim = trial.claim or ""
            if claim.startswith("pbt:"):
                index = int(claim.split(":")[1])
                if index < self.population:
                    members[index].trials.append(trial)
        return members

    def top_of(self, history: History, members: list[Member], member: Member) -> list[TrialRecord]:
        """The latest segments of the top members when ``member`` ranks in the bottom
        ``quantile`` of the members' latest scores; empty when it should continue."""
        scored = [(history.loss(m.latest.value), m.index, m.latest) for m in members
                  if m.latest is not None and m.latest.value is not None]  # fmt: skip
        scored.sort(key=lambda entry: (entry[0], entry[1]))
        # at least one member each way once two are scored: with a small population
        # (3 at quantile 0.25) a floor of 0 would never exploit
        cut = max(1, math.floor(self.quantile * len(scored))) if len(scored) >= 2 else 0
        if cut == 0:
            return []
        bottom = {index for _, index, _ in scored[-cut:]}
        return [trial for _, _, trial in scored[:cut]] if member.index in bottom else []


def explore(
    space: Space,
    params: dict[str, Value],
    rng: np.random.Generator,
    factors: tuple[float, ...],
    resample: float,
) -> dict[str, Value]:
    """PBT's explore step: each value resampled with probability ``resample``, else
    perturbed by a random one of ``factors``; always a valid point of ``space``."""
    explored: dict[str, Value] = {}
    for name in space:
        param = space[name]
        if rng.random() < resample:
            explored[name] = param.decode(float(rng.random()))
            continue
        factor = factors[int(rng.integers(len(factors)))]
        explored[name] = perturbed(param, params[name], factor)
    return explored


def perturbed(param: Float | Int | Choice, value: Value, factor: float) -> Value:
    """``value`` moved by ``factor``, clipped to the parameter's range and grid. On a grid
    (an Int, a stepped Float) it moves at least one grid step in the factor's direction,
    or rounding would put it back where it was; a Choice moves to the next option up
    (factor > 1) or down (factor < 1). Both stay at the ends."""
    direction = 1 if factor > 1 else -1 if factor < 1 else 0
    if isinstance(param, Choice):
        index = param.index(value) + direction  # True is not the option 1
        return param.options[min(max(index, 0), len(param.options) - 1)]
    current = float(value)  # type: ignore[arg-type]
    clipped = min(max(current * factor, param.low), param.high)
    if param.step is None:
        return clipped  # an unstepped Float (an Int's step is at least 1)
    here = round((current - param.low) / param.step)
    steps = round((clipped - param.low) / param.step)
    if steps == here:
        steps += direction
    steps = min(max(steps, 0), param.n_values - 1)
    if isinstance(param, Int):
        return min(param.low + steps * param.step, param.high)
    return param.decode((steps + 0.5) / param.n_values)


def _step(member: Member) -> int:
    """The step a member's latest finished segment reached (0 before the first)."""
    latest = member.latest
    return 0 if latest is None else int(latest.budget or 0)

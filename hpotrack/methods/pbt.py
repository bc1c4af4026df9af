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
ranking compares like with like. A segment's random draws are keyed on its member, its
index and how many attempts at it failed of their own (:meth:`History.keyed_rng`), never
on trial numbers, which a crash's retry shifts. A failed segment is run again: after a
crash (worker lost, Ctrl-C) as it was, with the same draws, and the segments after it
draw what an uninterrupted run's did; after a failure of its own (the function raised,
or returned no number), which the same draws would repeat, with new ones, its member
ranking last: a first segment samples a new point, a later one exploits a top
member (else it continues from the member's last good checkpoint). Every member trains
up to step ``generations * interval`` (the *horizon*): a member that copied one further
ahead gets there in fewer segments, and a member never copies one that already reached
the horizon (it copies the best of the others above the bottom that it can). The search
ends when every member has reached it, having trained at most ``population *
generations * interval`` steps in all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hpotrack.budget import Budget
from hpotrack.errors import MethodError, SearchExhausted
from hpotrack.lineage import segment_of
from hpotrack.methods.base import Method, Proposal
from hpotrack.methods.history import History
from hpotrack.methods.registry import register
from hpotrack.options import is_finite_real, set_real, set_whole
from hpotrack.params import Choice, Float, Int
from hpotrack.records import Edge, Origin, TrialRecord, TrialState
from hpotrack.space import Space, Value

_BUSY = (TrialState.RUNNING, TrialState.QUEUED)
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED)
_CACHE_KEY = "pbt:claims"  # where the claim index lives in ``history.cache``


def member_segment(trial: TrialRecord) -> tuple[int, int] | None:
    """(member, segment) of a PBT trial, from its claim ``pbt:<member>:<segment>[#k]``
    (:func:`hpotrack.lineage.segment_of`); None for other trials (enqueued, manual)."""
    found = segment_of(trial)
    return None if found is None or found.family != "pbt" else (found.member, found.index)


@dataclass(frozen=True)
class Standing:
    """Where member ``index`` stands, all that ask reads of it: whether its last segment
    is being trained, how many segments it completed, the latest of them, and the
    trials whose claim starts ``pbt:<index>:<done>`` (attempts at its next segment)."""

    index: int
    busy: bool
    done: int
    latest: TrialRecord | None
    attempts: tuple[int, ...] = ()

    @property
    def step(self) -> int:
        """The step the latest finished segment reached (0 before the first)."""
        return 0 if self.latest is None else int(self.latest.budget or 0)


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
    sets_budgets = True  # each segment's end step: max_budget counts the steps trained
    refuses_enqueued = (
        "pbt trains a population in segments it proposes itself, so a trial queued from "
        "outside would belong to no member; to start near known values, narrow the space "
        "around them (the first generation samples it)"
    )
    needs_checkpoints = (
        "pbt trains each member on from the checkpoint of its previous segment, and a "
        "member that exploits another from that one's: without them every segment "
        "trains from scratch and an exploit copies only hyperparameters"
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
                "`perturb` must be a non-empty list of positive finite factors, e.g. "
                f"(0.8, 1.2), but got perturb={self.perturb!r}"
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

    def short_target(self, target: int, history: History) -> str | None:
        """A target that leaves fewer trials than the segments the members still train
        to reach the horizon (at most: one that copies a member further ahead skips
        some) may stop the search before they all get there, and one that leaves fewer
        than the members yet to start leaves some that never train."""
        members = self.standings(history)
        left = sum(math.ceil(max(self.horizon - m.step, 0) / self.interval) for m in members)
        room = target - history.n_started
        if room >= left:
            return None
        never = [m.index for m in members if m.step == 0 and not m.busy][room:]
        untrained = ""
        if never:
            who = f"members {never[0]} to {never[-1]} never train"
            if len(never) == 1:
                who = f"member {never[0]} never trains"
            untrained = f" ({who}: the population is {self.population})"
        return (
            f"pbt trains {self.population} members to step {self.horizon} in up to {left} "
            f"more segments (one trial each), and n_trials={target} leaves room for "
            f"{room}: it may stop before every member gets there{untrained}. To train them "
            f"all that far, pass n_trials={history.n_started + left} or more (a failed "
            "segment counts too), or leave n_trials unset on a new study: pbt ends by "
            "itself when they got there"
        )

    @property
    def horizon(self) -> int:
        """The step every member trains up to."""
        return self.generations * self.interval

    def ask(self, history: History) -> Proposal:
        members = self.standings(history)
        ready = [m for m in members if not m.busy and m.step < self.horizon]
        if not ready:
            if all(m.step >= self.horizon for m in members):
                raise SearchExhausted(
                    f"population-based training is complete: {self.population} members "
                    f"reached step {self.horizon}"
                )
            finished = sum(m.step >= self.horizon for m in members)
            if finished:
                raise SearchExhausted(
                    f"{finished} of {self.population} members reached step {self.horizon}; "
                    "the others are being trained by other workers: nothing is left here"
                )
            raise SearchExhausted(
                "every member of the population is being trained by another worker; "
                f"run at most {self.population} workers (population={self.population})"
            )
        member = min(ready, key=lambda m: (m.step, m.index))
        claim = f"pbt:{member.index}:{member.done}"
        earlier = [history.trials[number] for number in member.attempts]
        # the draws are keyed on the member, its segment and how many attempts at it
        # failed of their own (whose draws would fail again), not on the trial number: a
        # segment run again after a crash draws what the attempt the crash stopped did,
        # and the segments after it what an uninterrupted run's did
        failures = sum(_failed_itself(t) for t in earlier)
        draws = (member.index, member.done, failures)
        if earlier:
            claim = f"{claim}#{len(earlier)}"
        latest = member.latest
        if latest is None:
            point = history.keyed_rng(draws).random(len(history.space))
            return Proposal(
                params=history.space.decode(point),
                budget=float(self.interval),
                claim=claim,
            )
        source, origin, params = latest, Origin.CONTINUED.value, dict(latest.params)
        rng = history.keyed_rng(draws, 1)
        top = self.top_of(history, members, member, failed=failures > 0)
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
        return [line.latest for line in _index(history).lines.values() if line.latest is not None]

    def standings(self, history: History) -> list[Standing]:
        """Where each member of the population stands, from the claim index the history
        caches (see :class:`_Index`): the cost is that of the population and of the
        trials added or unfinished since the last call, not that of the study."""
        index = _index(history)
        trials = history.trials
        standings = []
        for member in range(self.population):
            line = index.lines.get(member)
            if line is None:
                standings.append(Standing(member, False, 0, None))
                continue
            standings.append(
                Standing(
                    member,
                    busy=trials[line.last].state in _BUSY,
                    done=line.complete,
                    latest=None if line.latest is None else trials[line.latest],
                    attempts=tuple(line.attempts.get(line.complete, ())),
                )
            )
        return standings

    def top_of(
        self,
        history: History,
        members: Sequence[Standing],
        member: Standing,
        *,
        failed: bool = False,
    ) -> list[TrialRecord]:
        """The latest segments of the top members it can copy when ``member`` ranks in
        the bottom ``quantile`` of the members' latest scores (the worst of them if its
        next segment ``failed`` of its own before); empty when it should continue."""
        scored = []
        for m in members:
            if m.latest is not None and m.latest.value is not None:
                worst = failed and m.index == member.index  # it failed of its own
                loss = math.inf if worst else history.loss(m.latest.value)
                scored.append((loss, m.index, m.latest))
        scored.sort(key=lambda entry: (entry[0], entry[1]))
        # at least one member each way once two are scored: with a small population
        # (3 at quantile 0.25) a floor of 0 would never exploit
        cut = max(1, math.floor(self.quantile * len(scored))) if len(scored) >= 2 else 0
        if cut == 0:
            return []
        bottom = {index for _, index, _ in scored[-cut:]}
        if member.index not in bottom:
            return []
        # the best `cut` above the bottom that it can copy: as far as it or further (never
        # back), short of the horizon (a copy of one there would have nothing to train),
        # so that the best members reaching the horizon first do not end all exploits
        here = member.step
        above = [t for _, _, t in scored[:-cut] if here <= (t.budget or 0) < self.horizon]
        return above[:cut]


def _failed_itself(trial: TrialRecord) -> bool:
    """Whether an attempt at a segment failed of its own (the function raised, or
    returned no number: its hyperparameters or its model's state may fail again), not
    stopped from outside (its worker lost, Ctrl-C, SIGTERM: see :mod:`hpotrack.lost`,
    :mod:`hpotrack.runner`), which running it again as it was repairs."""
    if trial.state is TrialState.PRUNED:
        return True
    return trial.state is TrialState.FAILED and not trial.stopped_from_outside


class _Line:
    """One member's trials, as an :class:`_Index` read them."""

    __slots__ = ("attempts", "complete", "last", "latest")

    def __init__(self, last: int) -> None:
        self.last = last  # the last of them
        self.complete = 0  # how many of the settled ones are complete
        self.latest: int | None = None  # the last complete one
        self.attempts: dict[int, list[int]] = {}  # segment: the trials that tried it


class _Index:
    """The ``pbt:`` claims of a history by member, kept in ``history.cache`` so that an
    ask reads the trials added since the last one and those unfinished then, not the
    whole study (what it keeps is only what a new process recomputes from the trials).

    Of a trial read, only what never changes is kept: its number, under its member and
    segment. A trial finished when read, or later found finished, is *settled*: its state
    is counted as final, as the life cycle of a stored trial has it (queued -> running
    -> complete | pruned | failed; a lost trial, running, is marked failed); unfinished
    ones are read again at every update. Should a settled trial's state change all the
    same (an outcome the study loop put into its history ahead of the store, dropped
    since another process had marked the trial lost; a test turning a trial back), the
    history's count of trials in that state no longer matches the index's, and
    :func:`_index` reads the trials again from the first."""

    def __init__(self) -> None:
        self.read = 0  # the trials read: those numbered below
        self.unsettled: dict[int, _Line | None] = {}  # unfinished trials: their line
        self.settled = dict.fromkeys(_FINISHED, 0)  # settled trials, by state
        self.lines: dict[int, _Line] = {}  # by member

    def update(self, history: History) -> bool:
        """Read the trials added and those unfinished since the last update; False
        when a settled trial's state changed (the index is then wrong)."""
        trials = history.trials
        for number in range(self.read, len(trials)):
            self._add(trials[number])
        self.read = len(trials)
        for number, line in list(self.unsettled.items()):
            state = trials[number].state
            if state.is_finished:
                del self.unsettled[number]
                self._settle(number, state, line)
        return all(history.count(state) == count for state, count in self.settled.items())

    def _add(self, trial: TrialRecord) -> None:
        line = None
        found = member_segment(trial)
        if found is not None:
            member, segment = found
            line = self.lines.get(member)
            if line is None:
                line = self.lines[member] = _Line(trial.number)
            line.last = trial.number
            line.attempts.setdefault(segment, []).append(trial.number)
        if trial.state.is_finished:
            self._settle(trial.number, trial.state, line)
        else:
            self.unsettled[trial.number] = line

    def _settle(self, number: int, state: TrialState, line: _Line | None) -> None:
        self.settled[state] += 1
        if line is not None and state is TrialState.COMPLETE:
            line.complete += 1
            line.latest = number if line.latest is None else max(line.latest, number)


def _index(history: History) -> _Index:
    """The history's claim index, brought up to date (read anew if it went wrong)."""
    index = history.cache.get(_CACHE_KEY)
    if isinstance(index, _Index) and index.update(history):
        return index
    index = history.cache[_CACHE_KEY] = _Index()
    index.update(history)
    return index


def explore(
    space: Space,
    params: dict[str, Value],
    rng: np.random.Generator,
    factors: tuple[float, ...],
    resample: float,
) -> dict[str, Value]:
    """PBT's explore step: each value resampled with probability ``resample``, else
    perturbed by a random one of ``factors``; always a valid point of ``space``. In a
    conditional space a parameter the source left inactive is drawn, and those the
    explored values leave inactive are dropped."""
    explored: dict[str, Value] = {}
    for name in space:
        param = space[name]
        if name not in params or rng.random() < resample:
            explored[name] = param.decode(float(rng.random()))
            continue
        factor = factors[int(rng.integers(len(factors)))]
        explored[name] = perturbed(param, params[name], factor)
    return space.drop_inactive(explored) if space.is_conditional else explored


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

"""``tpe``: the tree-structured Parzen estimator, multivariate by default.

Bergstra et al. (2011), "Algorithms for hyper-parameter optimization", §4, with the
components and defaults studied by Watanabe (2023), "Tree-structured Parzen estimator:
understanding its algorithm components and their roles for better empirical performance".
Each suggestion is computed from the stored history alone (DESIGN principle 1):

1. *Observations*: complete trials, and pruned trials that reported a value (ranked after
   every complete trial: they were stopped for looking worse), among the most recent
   ``WINDOW`` trials plus the best trial ever. The window bounds the cost of a suggestion
   however large the study grows; older trials are forgotten, as Bergstra's ramp of
   decaying weights forgets them gradually.
2. *Split* (Watanabe 2023, sec. 3, "splitting algorithm", its linear variant): the
   ``min(ceil(gamma * n), 25)`` best observations (Optuna's default too) form the good
   set, the rest the bad set. In a conditional space the split is made in each *branch*
   (the observations that keep the same parameters active) among its own ``n``, at
   least one each. Bergstra et al. (2011, §4) fit each node of the tree on the
   observations in which it occurs, but with one threshold ``y*`` for all: a branch none
   of whose trials is among the best overall then has only the uniform prior in
   ``l(x)`` for its parameters, so TPE cannot tell its good regions from its bad ones,
   and a branch that looks worse at random is never searched well enough to show what
   it holds (``benchmarks/conditional_quality.py``, task ``branches``: with one split,
   ``tpe`` settled on the branch that looks best in 9 of 20 seeds, behind random
   search). Split per branch, ``l(x)`` and ``g(x)`` are mixtures of each branch's good
   and bad densities, so inside a branch ``l / g`` is that branch's own TPE ratio, and
   branches compete through those ratios rather than through values compared across
   branches. Without conditions there is one branch: the split above. With
   ``constant_liar``, running (and queued) trials join the bad set as if they had
   failed, so that parallel workers spread out instead of all sampling where the good
   set is densest. With several objectives (``history.objectives.is_multi``) the
   observations are ranked as MOTPE ranks them (Ozaki et al. 2020, "Multiobjective
   tree-structured Parzen estimator for computationally expensive optimization
   problems", GECCO; JAIR 73, 2022): by Pareto fronts, the last one to enter the good
   set split by hypervolume contribution (:meth:`TPE.front_ranking`); the count, the
   branches and all that follows are as with one objective.
3. *Model*: a Parzen estimator ``l(x)`` of the good set and ``g(x)`` of the bad set
   (:mod:`hpotrack.methods.parzen`): product kernels per observation (``multivariate``),
   Scott's-rule bandwidths times a factor that shrinks once ``sharpen_after``
   observations are in (:meth:`TPE.bandwidth_factor_at`), Aitchison-Aitken kernels for
   ``Choice``, a uniform prior.
4. *Acquisition*: expected improvement is monotone in ``l(x) / g(x)`` (Bergstra et al.
   2011, §4.1), so ``n_ei_candidates`` points are drawn from ``l`` and the one with the
   largest ``log l - log g`` is proposed, skipping any that equals a pending trial.

The first ``n_startup`` observations come from uniform random sampling (the same draws
as ``random``). Randomness is ``history.uniform(number)`` for those and
``history.rng(number, 1)`` (candidates) or ``history.rng(number, 2)`` (the fallback when
every candidate is pending) after, so resumed studies and every worker process compute
the same proposal from the same history; nothing is kept between asks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from hpotrack import pareto
from hpotrack.methods.base import Method, Proposal
from hpotrack.methods.history import WINDOW, History
from hpotrack.methods.parzen import (
    Array,
    Dimensions,
    ParzenEstimator,
    ranked_candidates,
)
from hpotrack.methods.registry import register
from hpotrack.options import check_bool, set_real, set_whole
from hpotrack.pruners import Pruner, pruner_from
from hpotrack.records import Origin, TrialRecord, TrialState, objective_sign
from hpotrack.space import Space, Value

MAX_BELOW = 25
"""Most observations in the good set (of each branch of a conditional space), so that
``l(x)`` stays sharp in long studies."""

_PENDING = (TrialState.RUNNING, TrialState.QUEUED)

Mask = npt.NDArray[np.bool_]


@register
@dataclass(frozen=True)
class TPE(Method):
    """Tree-structured Parzen estimator.

    ``n_startup``: observations gathered by random sampling before the model is used.
    ``n_ei_candidates``: points drawn from ``l(x)`` per suggestion (more: greedier).
    ``gamma``: fraction of observations in the good set (at most 25 of them; in a
    conditional space, of each branch's observations).
    ``multivariate``: one joint kernel per observation (captures interactions) rather
    than independent per-parameter mixtures (candidates still compete on the joint
    ratio: taking each parameter's best value separately explored worse in our runs).
    ``constant_liar``: pending trials count as bad observations. ``bandwidth_factor``
    scales the Scott's-rule bandwidths of numeric parameters: that rule is made for
    density estimation, and half of it exploits markedly better within 60 trials on
    Branin, Hartmann6, Rosenbrock, Ackley and a mixed space, 40 seeds each.
    ``sharpen_after``: past that many observations the factor shrinks further, as
    ``sqrt(sharpen_after / n)`` (:meth:`bandwidth_factor_at`); None keeps it constant.
    ``min_bandwidth`` floors bandwidths (unit-cube scale); ``prior_weight`` is the uniform
    prior component's weight, in observations.
    """

    name = "tpe"
    multi_objective: ClassVar[bool] = True  # MOTPE's split: see front_ranking
    constrained: ClassVar[bool] = True  # feasible first: see candidates
    n_startup: int = 10
    n_ei_candidates: int = 24
    gamma: float = 0.1
    multivariate: bool = True
    constant_liar: bool = True
    bandwidth_factor: float = 0.5
    min_bandwidth: float = 0.01
    prior_weight: float = 1.0
    sharpen_after: int | None = 60
    pruner: Pruner | str | None = None  # "median", "percentile" or a hp.pruners rule
    stored_defaults: ClassVar[dict[str, Any]] = {"sharpen_after": None}  # the rule before it

    def __post_init__(self) -> None:
        object.__setattr__(self, "pruner", pruner_from(self.pruner))
        for name in ("n_startup", "n_ei_candidates"):
            set_whole(self, name, 1)
        for name in ("multivariate", "constant_liar"):
            check_bool(getattr(self, name), name)
        set_real(self, "gamma", "0 < gamma <= 1", lambda x: 0 < x <= 1)
        set_real(self, "bandwidth_factor", "bandwidth_factor > 0", lambda x: x > 0)
        set_real(self, "min_bandwidth", "0 < min_bandwidth <= 1", lambda x: 0 < x <= 1)
        set_real(self, "prior_weight", "prior_weight > 0", lambda x: x > 0)
        if self.sharpen_after is not None:
            set_whole(self, "sharpen_after", 1)

    def short_target(self, target: int, history: History) -> str | None:
        """The model guides a trial once ``n_startup`` trials have a value (complete or
        pruned, as :meth:`ask` counts them): when those so far and every trial the target
        still starts, each given one, stay within that, the whole run samples at random."""
        valued = history.count(TrialState.COMPLETE, TrialState.PRUNED)
        room = target - history.n_started
        if room <= history.count(TrialState.QUEUED) or valued + room > self.n_startup:
            return None  # none of its own to run, or a last one the model guides
        needed = history.n_started + self.n_startup - valued + 1
        smaller = ", or a smaller n_startup to hp.methods.TPE" if self.n_startup > 1 else ""
        return (
            f"tpe samples at random until {self.n_startup} trials have a value "
            f"(n_startup={self.n_startup}), and the target is {target}: every trial would "
            f"be a random point, none from its model. Pass n_trials={needed} or more (several "
            f"times n_startup, for the model to pay off){smaller}"
        )

    def ask(self, history: History) -> Proposal:
        complete, pruned, pending, failed = _gather(history)
        space, number = history.space, history.next_number
        if len(complete) + len(pruned) < self.n_startup:
            candidates = history.uniform(number, len(space))[None, :]
        else:
            observed = complete + pruned
            candidates = self.candidates(history, observed, len(complete), pending, failed)
        taken = {_key(space, t.params) for t in (*pending, *failed)}
        for point in candidates:
            params = space.decode(point)
            if _key(space, params) not in taken:
                break
        else:  # every candidate is pending already (a tiny discrete space): try at random
            rng = history.rng(number, 2)
            for _ in range(64):
                params = space.decode(rng.random(len(space)))
                if _key(space, params) not in taken:
                    break
        return Proposal(params=params, origin=Origin.SAMPLED.value)

    def bandwidth_factor_at(self, n_observed: int) -> float:
        """The factor on Scott's-rule bandwidths once ``n_observed`` trials have a value:
        ``bandwidth_factor`` up to ``sharpen_after`` observations, then

            bandwidth_factor * sqrt(sharpen_after / n_observed)

        so the search stays as broad as before early and sharpens late. Scott's
        normal-reference rule (the equation in :class:`ParzenEstimator`; Scott 1992,
        "Multivariate density estimation", ch. 6) shrinks bandwidths only as
        ``n ** (-1 / (k + 4))`` of the good set, which grows as ``gamma * n``: a rule for
        estimating a density, not for closing in on an optimum. This schedule is ours,
        measured, not a published rule: a constant factor of 0.3 found better points than
        0.5 at 200 trials (Hartmann6 18 of 20 seeds, Ackley 19 of 20) but worse at 40-60
        (Ackley 4 of 20 at 40), while this one proposes what 0.5 does up to 60 observations
        and won 18 of 20 Ackley seeds at 200, 20 of 20 Hartmann6 seeds at 500
        (``benchmarks/README.md``, "tpe: a bandwidth schedule")."""
        if self.sharpen_after is None or n_observed <= self.sharpen_after:
            return self.bandwidth_factor
        return self.bandwidth_factor * math.sqrt(self.sharpen_after / n_observed)

    def estimators(
        self, space: Space, below: Array, above: Array, n_observed: int
    ) -> tuple[ParzenEstimator, ParzenEstimator]:
        """``l(x)`` of the good points and ``g(x)`` of the bad ones, with this TPE's options
        and the bandwidth factor for ``n_observed`` observations."""
        dims = Dimensions.of(space)
        factor = self.bandwidth_factor_at(n_observed)

        def fit(points: Array) -> ParzenEstimator:
            return ParzenEstimator(
                points,
                dims,
                prior_weight=self.prior_weight,
                bandwidth_factor=factor,
                min_bandwidth=self.min_bandwidth,
                multivariate=self.multivariate,
            )

        return fit(below), fit(above)

    def candidates(
        self,
        history: History,
        observed: Sequence[TrialRecord],
        n_complete: int,
        pending: Sequence[TrialRecord],
        failed: Sequence[TrialRecord] = (),
    ) -> Array:
        """Candidate points of the cube, best first. ``observed[:n_complete]`` are complete
        trials, the rest pruned ones (ranked after them whatever their value). ``failed``
        trials join the bad density: where the function fails is no place to go back to
        (left out, a failing region looks unexplored and is proposed again and again)."""
        space = history.space
        x = space.encode_many([t.params for t in observed])
        branch = _branches(space, x)
        violation = np.array([history.violation(t) for t in observed])  # 0.0: feasible
        if history.objectives.is_multi:
            rank = self.front_ranking([history.losses(t) for t in observed], branch, violation)
        else:
            values = [math.inf if t.value is None else t.value for t in observed]
            loss = objective_sign(history.direction) * np.array(values)
            pruned = np.arange(len(observed)) >= n_complete
            rank = np.lexsort((loss, violation, pruned))  # ties by age
        in_good = self.good_set(rank, branch)
        below, above = x[rank[in_good[rank]]], x[rank[~in_good[rank]]]
        liars = [*(pending if self.constant_liar else ()), *failed]
        if liars:
            above = np.vstack([above, space.encode_many([t.params for t in liars])])
        good, bad = self.estimators(space, below, above, len(observed))
        rng = history.rng(history.next_number, 1)
        return ranked_candidates(good, bad, rng, self.n_ei_candidates)

    def good_count(self, n: int) -> int:
        """How many of a branch's ``n`` observations form its good set: the best
        ``min(ceil(gamma * n), 25)``, at least 1."""
        return max(1, min(math.ceil(self.gamma * n), MAX_BELOW))

    def good_set(self, rank: npt.NDArray[np.intp], branch: npt.NDArray[np.intp]) -> Mask:
        """Which observations form the good set: in each ``branch``, the best
        :meth:`good_count` of its ``n``, ``rank`` listing them all best first. One branch
        (a space without conditions): the best of all."""
        good = np.zeros(rank.size, dtype=bool)
        for label in np.unique(branch):
            members = rank[branch[rank] == label]
            good[members[: self.good_count(members.size)]] = True
        return good

    def front_ranking(
        self,
        losses: Sequence[tuple[float, ...] | None],
        branch: npt.NDArray[np.intp],
        violation: Array | None = None,
    ) -> npt.NDArray[np.intp]:
        """Observations best first, for a study of several objectives, as MOTPE splits
        them (Ozaki et al. 2020, sec. 3; the JAIR 2022 version, sec. 3): in each branch,
        by non-domination rank (:func:`hpotrack.pareto.ranks`), whole fronts going into the
        good set while they fit in :meth:`good_count`; the front that does not fit whole
        gives the rest of it by hypervolume contribution, greedily
        (:func:`hpotrack.pareto.greedy_hypervolume_subset`), which is how the paper
        selects in that last front (its hypervolume subset selection). Hypervolume rather
        than NSGA-II's crowding distance: crowding keeps each objective's extremes first
        whatever they add and scores a point by its neighbours' gap alone, so two
        near-equal points in the middle of the front score on their distance to the
        others; hypervolume counts what each point adds to those already chosen, so the
        second of two near-equal points adds nearly nothing and a point elsewhere on the
        front goes in instead. ``losses``: each observation's (``History.losses``), None
        for one without every objective (a pruned trial): those rank after the others, as
        pruned trials do with one objective. ``violation``: how far each misses the
        study's constraints (:meth:`History.violation`): those that miss rank after those
        that meet them, least violation first (:mod:`hpotrack.constraints`), and before
        those without losses. Ties (within a front not split, and after) go by age."""
        misses = np.zeros(len(losses)) if violation is None else violation
        order: list[int] = []
        for label in np.unique(branch):
            members = np.flatnonzero(branch == label).tolist()
            valued = [i for i in members if losses[i] is not None]
            scored = np.array([i for i in valued if misses[i] == 0.0], dtype=np.intp)
            if scored.size:
                points = np.array([losses[i] for i in scored], dtype=float)
                within = _fronts_first(points, self.good_count(len(members)))
                order.extend(scored[within].tolist())
            order.extend(sorted((i for i in valued if misses[i] > 0.0), key=lambda i: misses[i]))
            order.extend(i for i in members if losses[i] is None)
        return np.array(order, dtype=np.intp)


def _fronts_first(points: Array, wanted: int) -> npt.NDArray[np.intp]:
    """Indices of ``points`` (losses) best first: by non-domination rank, fronts peeled
    only until ``wanted`` points are ranked (bounding the cost); the front in which the
    ``wanted``-th falls, when only part of it is wanted, puts first the part that adds the
    most hypervolume, chosen greedily. Its reference point is the front's worst loss of
    each objective plus a tenth of the front's range (1 where the range is 0), so that
    every point of the front adds a positive volume and the choice does not depend on the
    objectives' units."""
    level = pareto.ranks(points, enough=wanted)
    order = np.argsort(level, kind="stable")
    if wanted >= len(points):
        return order
    last = level[order[wanted - 1]]
    before = int(np.count_nonzero(level < last))
    front = order[before : before + int(np.count_nonzero(level == last))]
    if before + front.size == wanted:  # the front fits whole
        return order
    worst, best = points[front].max(axis=0), points[front].min(axis=0)
    reference = worst + np.where(worst > best, (worst - best) / 10, 1.0)
    chosen = front[pareto.greedy_hypervolume_subset(points[front], reference, wanted - before)]
    rest = np.setdiff1d(front, chosen)  # ascending: by age
    return np.concatenate([order[:before], chosen, rest, order[before + front.size :]])


def _branches(space: Space, points: Array) -> npt.NDArray[np.intp]:
    """A label per cube point: points share one when they keep the same parameters
    active (in a space without conditions, all of them)."""
    if not space.is_conditional:
        return np.zeros(len(points), dtype=np.intp)
    _, label = np.unique(space.inactive_mask(points), axis=0, return_inverse=True)
    return np.asarray(label, dtype=np.intp).reshape(-1)


def _gather(
    history: History,
) -> tuple[list[TrialRecord], list[TrialRecord], list[TrialRecord], list[TrialRecord]]:
    """Complete, pruned (with a finite value), pending and failed trials of the window, in
    order. A trial stopped without a finite value (its last report NaN or infinite: a
    diverged run) counts as failed: left out, its region would look unexplored. A lost or
    interrupted trial that a retry replaced is none of them: it was not the
    configuration's fault, and the retry is there."""
    trials = history.trials
    start = max(0, len(trials) - WINDOW)
    complete: list[TrialRecord] = []
    pruned: list[TrialRecord] = []
    pending: list[TrialRecord] = []
    failed: list[TrialRecord] = []
    for trial in trials[start:]:
        if history.is_superseded(trial.number):  # its retry's outcome stands for it
            continue
        state = trial.state
        if state is TrialState.COMPLETE or state is TrialState.PRUNED:
            if trial.value is not None and math.isfinite(trial.value):
                (complete if state is TrialState.COMPLETE else pruned).append(trial)
            else:
                failed.append(trial)
        elif state in _PENDING:
            pending.append(trial)
        elif state is TrialState.FAILED:
            failed.append(trial)
    best = history.best
    if best is not None and best.number < start and best.value is not None:
        complete.append(best)
    return complete, pruned, pending, failed


def _key(space: Space, params: Mapping[str, Value]) -> tuple[tuple[str, Value], ...]:
    """A hashable identity of a parameter set (1, 1.0 and True stay apart; an inactive
    parameter is absent from it)."""
    return tuple((type(params[name]).__name__, params[name]) for name in space if name in params)

"""``evolution`` with ``strategy="cma"``: the (mu/mu_w, lambda)-CMA-ES in the unit cube.

Hansen, "The CMA Evolution Strategy: A Tutorial" (arXiv:1604.00772, 2016, revised 2023):
the default parameters of its Table 1 (with its negative weights, "active" CMA) and the
update of its Appendix A, eqs. (41)-(47), over the ordered parameters (``Float``, ``Int``)
of the space's unit-cube encoding (:meth:`Space.encode`); ``decode`` rounds ints and
stepped floats as it does for every method. The search starts as the tutorial's
Appendix A advises when the optimum lies in a known box: the mean uniform in the cube
(drawn from the study's seed) and ``sigma = 0.3`` of its width.

**Generations from the trials.** A method is a pure function of the stored history
(DESIGN principle 1), so the distribution (mean, step size, covariance, both paths) is a
replay of the trials. Sample ``k`` of generation ``g`` is the trial that claims
``cma:<g>/<k>`` (not ``<g>:<k>``: that is the form of a population member's segment,
:func:`hpotrack.lineage.segment_of`, and a study's best is then a member's last); its
normal draws come from ``history.keyed_rng((g, k))``, so every process draws the same,
and the replay draws them again. A sample outside the cube is drawn again (up to
``RESAMPLES`` times, then clipped): the update sees the point that ran. Generation ``g``
is folded into the distribution once its ``lambda`` samples (``population``) have all
finished, ranked by :meth:`History.rank_key` (feasible first, then by violation, pruned
after complete), failed ones worst. While some are still running, further asks propose
extra samples of the same generation (``k >= lambda``): workers keep busy, and the
extras count for the study's best but not in the update, which must not depend on which
finished first. A lost sample's retry (its ``retried`` line) stands for it. Trials that
claim no sample (enqueued, manual, another method's) are not in the update. A generation
whose samples all ran one configuration (the distribution shrank below the ints'
rounding or the floats' resolution) restarts the search with lambda doubled, as
IPOP-CMA-ES does (Auger & Hansen 2005): see :func:`_restart`.

**Categorical genes** (a ``Choice``) have no order for a normal distribution to move
along: they are drawn as the genetic algorithm draws them, a parent's option (one of
the ``mu`` best of the last generation, chosen with its recombination weight ``w_i``),
moved to another option with probability ``1/d``; uniform in the first generation.

**Cost.** The replay is kept in ``history.cache`` and carried on by one update per
finished generation (O(n^3) for the eigendecomposition); an ask draws one sample
(O(n^2) per draw); a new process replays once from the first generation.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from hpotrack.errors import MethodError
from hpotrack.methods.base import Proposal
from hpotrack.methods.history import History
from hpotrack.objectives import Objectives
from hpotrack.records import Origin, TrialRecord, TrialState
from hpotrack.space import Choice, Space

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]

CLAIM = "cma"
"""Sample ``k`` of generation ``g`` claims ``cma:<g>/<k>`` (claims are unique in a study)."""

INITIAL_SIGMA = 0.3
"""The tutorial's Appendix A: with the optimum in ``[a, b]^n``, ``sigma = 0.3 (b - a)``."""

RESAMPLES = 100
"""Draws of one sample until it falls inside the cube; the last one is clipped into it."""

RETRIES = 8
"""Further draws while a sample repeats the values of a running trial."""

RESTART_DOUBLINGS = 9
"""Restarts double lambda up to ``2**9`` times the first one (the restarts of Auger &
Hansen 2005, whose budget allowed about nine)."""

_STREAM = 23  # keyed_rng stream of the samples; the initial mean is drawn from _STREAM + 1


@dataclass(frozen=True)
class Parameters:
    """The strategy parameters of the tutorial's Table 1 for dimension ``n`` and
    population ``lam`` (lambda): recombination weights (positive for the ``mu`` best,
    negative for the others), learning rates and damping."""

    n: int
    lam: int
    mu: int
    weights: Vector  # w_1 >= ... >= w_lambda, sum of the positive ones 1
    mu_eff: float
    c_sigma: float
    d_sigma: float
    c_c: float
    c_1: float
    c_mu: float
    chi_n: float  # E||N(0, I)||

    @classmethod
    def table1(cls, n: int, lam: int | None = None) -> Parameters:
        """Table 1's defaults: ``lambda = 4 + floor(3 ln n)`` unless given,
        ``mu = floor(lambda / 2)``, ``alpha_cov = 2``, ``c_m = 1``."""
        lam = 4 + math.floor(3 * math.log(n)) if lam is None else lam
        mu = lam // 2
        raw = math.log((lam + 1) / 2) - np.log(np.arange(1, lam + 1))  # w'_i
        positive, negative = raw[:mu], raw[mu:][raw[mu:] < 0]
        mu_eff = float(positive.sum() ** 2 / (positive**2).sum())
        mu_eff_minus = float(negative.sum() ** 2 / (negative**2).sum()) if negative.size else 0.0
        alpha_cov = 2.0
        c_1 = alpha_cov / ((n + 1.3) ** 2 + mu_eff)
        c_mu = min(  # the 2023 revision's numerator, with its 1/4
            1 - c_1,
            alpha_cov * (0.25 + mu_eff + 1 / mu_eff - 2) / ((n + 2) ** 2 + alpha_cov * mu_eff / 2),
        )
        alpha_mu_minus = 1 + c_1 / c_mu
        alpha_mu_eff_minus = 1 + 2 * mu_eff_minus / (mu_eff + 2)
        alpha_posdef_minus = (1 - c_1 - c_mu) / (n * c_mu)
        scale_minus = min(alpha_mu_minus, alpha_mu_eff_minus, alpha_posdef_minus)
        weights = np.where(
            raw >= 0,
            raw / raw[raw > 0].sum(),
            scale_minus * raw / (np.abs(negative.sum()) if negative.size else 1.0),
        )
        c_sigma = (mu_eff + 2) / (n + mu_eff + 5)
        return cls(
            n=n,
            lam=lam,
            mu=mu,
            weights=np.asarray(weights, dtype=np.float64),
            mu_eff=mu_eff,
            c_sigma=c_sigma,
            d_sigma=1 + 2 * max(0.0, math.sqrt((mu_eff - 1) / (n + 1)) - 1) + c_sigma,
            c_c=(4 + mu_eff / n) / (n + 4 + 2 * mu_eff / n),
            c_1=c_1,
            c_mu=c_mu,
            chi_n=math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n**2)),
        )


@dataclass
class State:
    """The search distribution N(m, sigma^2 C) and its two evolution paths, after
    ``generation`` updates; ``basis`` and ``scales`` are C = B diag(D^2) B^T."""

    mean: Vector
    sigma: float
    cov: Matrix
    p_sigma: Vector
    p_c: Vector
    generation: int = 0
    start: int = 0  # the generation this run of the search (a restart) began at
    basis: Matrix = field(init=False)
    scales: Vector = field(init=False)

    def __post_init__(self) -> None:
        self._decompose()

    @classmethod
    def initial(cls, mean: Vector, sigma: float, start: int = 0) -> State:
        """N(mean, sigma^2 I), paths 0, before generation ``start`` (0, or a restart's)."""
        n = len(mean)
        return cls(mean.copy(), sigma, np.eye(n), np.zeros(n), np.zeros(n), start, start)

    def point(self, z: Vector) -> Vector:
        """x = m + sigma B D z (eqs. 38-40): N(m, sigma^2 C) for z ~ N(0, I)."""
        return np.asarray(self.mean + self.sigma * (self.basis @ (self.scales * z)))

    def whiten(self, y: Vector) -> Vector:
        """C^(-1/2) y = B D^-1 B^T y."""
        return np.asarray(self.basis @ ((self.basis.T @ y) / self.scales))

    def update(self, params: Parameters, ranked: Matrix) -> None:
        """One generation: ``ranked`` holds its ``lambda`` points, best first."""
        p = params
        y = (ranked - self.mean) / self.sigma  # y_i:lambda
        y_w = p.weights[: p.mu] @ y[: p.mu]  # (41)
        self.mean = self.mean + self.sigma * y_w  # (42), c_m = 1
        self.p_sigma = (1 - p.c_sigma) * self.p_sigma + math.sqrt(
            p.c_sigma * (2 - p.c_sigma) * p.mu_eff
        ) * self.whiten(y_w)  # (43)
        norm = float(np.linalg.norm(self.p_sigma))
        self.sigma *= math.exp(p.c_sigma / p.d_sigma * (norm / p.chi_n - 1))  # (44)
        decay = math.sqrt(1 - (1 - p.c_sigma) ** (2 * (self.generation - self.start + 1)))
        h_sigma = norm / decay < (1.4 + 2 / (p.n + 1)) * p.chi_n
        self.p_c = (1 - p.c_c) * self.p_c + h_sigma * math.sqrt(
            p.c_c * (2 - p.c_c) * p.mu_eff
        ) * y_w  # (45)
        whitened = np.array([self.whiten(row) for row in y])
        squared = np.maximum((whitened**2).sum(axis=1), 1e-300)
        w_o = np.where(p.weights >= 0, p.weights, p.weights * p.n / squared)  # (46)
        delta = (1 - h_sigma) * p.c_c * (2 - p.c_c)
        self.cov = (
            (1 + p.c_1 * delta - p.c_1 - p.c_mu * p.weights.sum()) * self.cov
            + p.c_1 * np.outer(self.p_c, self.p_c)
            + p.c_mu * (y.T * w_o) @ y
        )  # (47)
        self.generation += 1
        self._decompose()

    def _decompose(self) -> None:
        """B and D of C, symmetrised, its eigenvalues kept positive (roundoff)."""
        self.cov = (self.cov + self.cov.T) / 2
        values, self.basis = np.linalg.eigh(self.cov)
        floor = max(float(values.max()), 1e-300) * 1e-14
        self.scales = np.sqrt(np.maximum(values, floor))


class Layout:
    """Which genes of the space's cube the normal distribution moves (ordered ones) and
    which are categorical, with each one's number of options."""

    def __init__(self, space: Space) -> None:
        params = list(space.values())
        self.d = len(params)
        kinds = [isinstance(p, Choice) for p in params]
        self.ordered = np.array([i for i, c in enumerate(kinds) if not c], dtype=int)
        self.categorical = np.array([i for i, c in enumerate(kinds) if c], dtype=int)
        self.options = np.array([len(params[i].options) for i in self.categorical], dtype=int)


@dataclass
class Replay:
    """The distribution after the generations before ``state.generation``, kept in
    ``history.cache``; ``elite`` holds the categorical options of the ``mu`` best of the
    last generation folded in, ``latest`` its members as folded (see :func:`_changed`);
    ``claimed`` the samples of ``state.generation`` known to be out (claims stay), so an
    ask does not count them again while a straggler holds the generation."""

    params: Parameters
    state: State
    elite: npt.NDArray[np.int_] | None = None
    latest: list[TrialRecord] = field(default_factory=list)
    claimed: tuple[int, int] = (0, 0)  # (generation, samples 0..k-1 claimed)


def generation_size(population: int | None, space: Space) -> int:
    """Lambda on ``space``: ``population``, else Table 1's default for its ordered genes."""
    if population is not None:
        return population
    return Parameters.table1(len(Layout(space).ordered)).lam


def check_space(space: Space) -> None:
    """A space of choices alone has nothing for a normal distribution to move along."""
    if not len(Layout(space).ordered):
        raise MethodError(
            "evolution with strategy='cma' adapts a normal distribution over ordered "
            f"parameters (Float, Int), but every parameter is a Choice "
            f"({', '.join(map(repr, space))}); use strategy='ga', which crosses and "
            "mutates categorical genes"
        )


def check_objectives(objectives: Objectives) -> None:
    """Samples are ranked on one objective: several are refused."""
    if objectives.is_multi:
        raise MethodError(
            f"evolution with strategy='cma' optimizes one objective, but the study has "
            f"{objectives.count} objectives ({objectives.describe()}); use "
            "strategy='ga' or 'de', which find their Pareto front, or optimize one objective"
        )


def short_target(lam: int, target: int) -> str | None:
    """Why a target of at most one generation gets nothing from the update."""
    if target > lam:
        return None
    return (
        f"evolution with strategy='cma' updates its distribution after each generation "
        f"of {lam} samples, and the target is {target}: every trial would be a draw of "
        f"the initial distribution. Run more than {lam} trials (many times as many, for "
        "the distribution to move), or pass a smaller population to hp.methods.Evolution"
    )


def replay(history: History, lam: int | None, sigma: float) -> Replay:
    """The distribution replayed over every finished generation, carried on from the
    cached replay (a fresh one if a trial folded at the last fold has changed since)."""
    layout = Layout(history.space)
    key = f"evolution-cma:{lam}:{sigma!r}"
    cached: Replay | None = history.cache.get(key)
    if cached is None or _changed(history, cached.latest):
        n = len(layout.ordered)
        mean = history.keyed_rng((0,), _STREAM + 1).random(n)
        cached = Replay(Parameters.table1(n, lam), State.initial(mean, sigma))
        history.cache[key] = cached
    while (members := _generation(history, cached)) is not None:
        _fold(history, layout, cached, members)
        if len({history.space.key(t.params) for t in members}) == 1:
            _restart(history, cached, sigma, first=Parameters.table1(cached.params.n, lam).lam)
    return cached


def _restart(history: History, replayed: Replay, sigma: float, *, first: int) -> None:
    """Every sample of the generation just folded ran one configuration: the
    distribution has shrunk below what the space tells apart (the ints' rounding, the
    floats' resolution), and each further sample would run it again. Start afresh as
    IPOP-CMA-ES does (Auger & Hansen 2005, "A restart CMA evolution strategy with
    increasing population size", CEC, section 2): lambda doubled (up to
    :data:`RESTART_DOUBLINGS` doublings of ``first``), a new mean (drawn from the seed
    and the generation) and the initial step size."""
    g, n = replayed.state.generation, replayed.params.n
    mean = history.keyed_rng((g,), _STREAM + 1).random(n)
    lam = min(2 * replayed.params.lam, first * 2**RESTART_DOUBLINGS)
    replayed.params = Parameters.table1(n, lam)
    replayed.state = State.initial(mean, sigma, start=g)
    replayed.elite = None


def propose(history: History, lam: int | None, sigma: float) -> Proposal:
    """The next sample of the current generation (an extra one once all ``lambda`` are
    out and some still run)."""
    state = replay(history, lam, sigma)
    g, layout = state.state.generation, Layout(history.space)
    k = state.claimed[1] if state.claimed[0] == g else 0
    while history.is_claimed(claim(g, k)):
        k += 1
    state.claimed = (g, k)
    space = history.space
    draws = _draws(history, layout, state, g, k)
    vector = next(draws)
    params = space.decode(vector)
    for _ in range(RETRIES):
        if not history.is_pending(params):
            break
        params = space.decode(next(draws))
    extra = " (an extra one while the generation runs)" if k >= state.params.lam else ""
    return Proposal(
        params=params,
        origin=Origin.SAMPLED.value,
        claim=claim(g, k),
        note=f"evolution: CMA-ES generation {g}, sample {k}{extra}",
    )


def claim(g: int, k: int) -> str:
    """The claim of sample ``k`` of generation ``g``: one index, ``<g>/<k>``, for
    ``<family>:<member>:<segment>`` is a population's (PBT's), whose best is the best
    of what each member ended with, here each generation's last sample."""
    return f"{CLAIM}:{g}/{k}"


def _draws(history: History, layout: Layout, replayed: Replay, g: int, k: int) -> Iterator[Vector]:
    """Cube points of sample ``k`` of generation ``g``, the first the sample's and the
    others further draws (a retry against a running duplicate), all from
    ``keyed_rng((g, k))``: the replay draws them again."""
    rng = history.keyed_rng((g, k), _STREAM)
    state, rate = replayed.state, 1.0 / layout.d
    while True:
        vector = np.empty(layout.d)
        for _ in range(RESAMPLES):
            x = state.point(rng.standard_normal(len(layout.ordered)))
            if np.all((x >= 0.0) & (x <= 1.0)):
                break
        vector[layout.ordered] = np.clip(x, 0.0, 1.0)
        if layout.categorical.size:
            vector[layout.categorical] = _categories(layout, replayed, rng, rate)
        yield vector


def _categories(layout: Layout, replayed: Replay, rng: np.random.Generator, rate: float) -> Vector:
    """The categorical genes of a sample: a parent's option, chosen among the ``mu`` best
    of the last generation with their weights, moved to another option with probability
    ``rate``; uniform before any generation was folded in."""
    n = layout.options
    if replayed.elite is None:
        option = np.floor(rng.random(len(n)) * n)
    else:
        weights = replayed.params.weights[: replayed.params.mu]
        parent = rng.choice(len(weights), p=weights / weights.sum())
        option = replayed.elite[parent].astype(np.float64)
        shift = np.floor(rng.random(len(n)) * (n - 1)) + 1
        moved = (rng.random(len(n)) < rate) & (n > 1)
        option = np.where(moved, (option + shift) % n, option)
    return np.asarray((option + 0.5) / n, dtype=np.float64)


def _member(history: History, g: int, k: int) -> TrialRecord | None:
    """Sample ``k`` of generation ``g`` as it stands: the trial claiming it, or the
    latest retry of it if it was lost; None if not proposed yet."""
    number = history.claimant(claim(g, k))
    if number is None:
        return None
    return history.trials[history.line(history.line_root(number))[-1]]


def _generation(history: History, replayed: Replay) -> list[TrialRecord] | None:
    """The ``lambda`` samples of the current generation if all have finished."""
    g, members = replayed.state.generation, []
    for k in range(replayed.params.lam):
        member = _member(history, g, k)
        if member is None or not member.state.is_finished:
            return None
        members.append(member)
    return members


def _fold(history: History, layout: Layout, replayed: Replay, members: list[TrialRecord]) -> None:
    """Rank a finished generation and update the distribution with it."""
    g = replayed.state.generation
    points = np.array([_point(history, layout, replayed, g, k, t) for k, t in enumerate(members)])
    order = sorted(range(len(members)), key=lambda k: (_rank(history, members[k]), k))
    mu = replayed.params.mu
    cube = history.space.encode_many([members[k].params for k in order[:mu]])
    options = layout.options
    elite = np.minimum(np.floor(cube[:, layout.categorical] * options), options - 1)
    replayed.elite = elite.astype(int) if layout.categorical.size else np.zeros((mu, 0), int)
    replayed.state.update(replayed.params, points[order])
    replayed.latest = members


def _point(
    history: History, layout: Layout, replayed: Replay, g: int, k: int, trial: TrialRecord
) -> Vector:
    """The ordered genes sample ``k`` ran at: the draw whose values the trial has (the
    first, or a later one drawn against a running duplicate), else (never proposed by
    this replay: other options) its encoded values, the step clipped to the length a
    draw has, as Hansen (2011, "Injecting external solutions into CMA-ES") clips an
    injected one: ``||C^-1/2 y|| <= sqrt(n) + 2n / (n + 2)``."""
    space, key = history.space, history.space.key(trial.params)
    draws = _draws(history, layout, replayed, g, k)
    for _ in range(RETRIES + 1):
        vector = next(draws)
        if space.key(space.decode(vector)) == key:
            return np.asarray(vector[layout.ordered])
    state, n = replayed.state, len(layout.ordered)
    y = (space.encode(trial.params)[layout.ordered] - state.mean) / state.sigma
    length = float(np.linalg.norm(state.whiten(y)))
    bound = math.sqrt(n) + 2 * n / (n + 2)
    return np.asarray(state.mean + state.sigma * y * min(1.0, bound / max(length, 1e-300)))


def _rank(history: History, trial: TrialRecord) -> tuple[bool, bool, float, float]:
    """Best first: :meth:`History.rank_key` for a trial with a value; failed ones (and
    those without a finite value) after every other."""
    value = trial.value
    scored = trial.state in (TrialState.COMPLETE, TrialState.PRUNED)
    if not scored or value is None or not math.isfinite(value):
        return True, True, math.inf, math.inf
    return (False, *history.rank_key(trial))


def _changed(history: History, folded: list[TrialRecord]) -> bool:
    """Whether a trial folded at the last fold is no longer as it was: an outcome put
    in the history ahead of the store that another process then marked lost, or a lost
    trial that a retry now stands for (see ``gradient``'s ``_changed``)."""
    return any(history.trials[t.number] != t or history.is_superseded(t.number) for t in folded)

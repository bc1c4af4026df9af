"""``bayes``: Bayesian optimisation with a Gaussian process and log expected improvement.

Each ask refits everything from the stored history (DESIGN principle 1): the first
``n_startup`` trials are points of the study's scrambled Sobol sequence; after that, a GP
(:mod:`hpotrack.methods.gp`) is fitted to the finished trials' losses (a pruned trial's no
better than its rank when it was stopped says: :func:`_observations`), running trials are
added at the GP's own prediction (kriging believer: their variance collapses, so parallel
workers spread out), and the acquisition is maximised over quasi-random and local candidates,
the best of which are polished by L-BFGS-B (continuous coordinates) and by neighbour moves
(integers, steps, options). Randomness comes only from ``history.rng(next_number, ...)``.

Work per ask is bounded: the model keeps at most ``max_points`` observations (the best half
and an even spread of the rest, always including the latest) and fits its hyperparameters on
at most :data:`FIT_POINTS` of them.

With several objectives it is ParEGO (Knowles 2006, "ParEGO: a hybrid algorithm with
on-line landscape approximation for expensive multiobjective optimization problems", IEEE
TEVC 10(1), section III): each ask draws its own weights λ on the simplex, scales every
objective's losses to [0, 1] over the observations, and models their augmented Chebyshev
scalarization max_j λ_j f_j + ρ Σ_j λ_j f_j (eq. 2, ρ = 0.05) with the same GP and
acquisition. Successive asks weigh the objectives differently, so the proposals spread
along the Pareto front.

With constraints (:mod:`hpotrack.constraints`) it is the constrained EI of Gardner et al.
2014 ("Bayesian Optimization with Inequality Constraints", ICML, sections 3-3.1;
:mod:`hpotrack.methods.feasibility`): each constraint's metric gets its own GP on the
complete trials the model keeps, and the acquisition is log EI + Σ log P(constraint met),
EI's incumbent being the best *feasible* loss (the scalarized one with several
objectives); while no trial is feasible, it is the log probability of feasibility alone.
The objective's GP still fits every finished trial, feasible or not: its loss is observed
either way. ``acquisition="ucb"`` is refused with constraints (not on a log scale to add
log probabilities to).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hpotrack.errors import MethodError
from hpotrack.methods import feasibility as feasibility_model
from hpotrack.methods import gp
from hpotrack.methods.base import Method, Proposal
from hpotrack.methods.feasibility import Feasibility
from hpotrack.methods.features import Features, Score
from hpotrack.methods.history import History
from hpotrack.methods.random_search import first_sobol_points, sobol_point
from hpotrack.methods.registry import register
from hpotrack.objectives import Objectives
from hpotrack.options import check_choice, set_real, set_whole
from hpotrack.pruners import Pruner, pruner_from
from hpotrack.records import Origin, TrialState
from hpotrack.space import Space, Value

Array = npt.NDArray[np.float64]

FIT_POINTS = 80
"""Most observations the kernel hyperparameters are fitted on (the fit costs O(n³) per step)."""
POLISHED = 5
"""How many of the best candidates are optimised locally."""
CATEGORICAL_CENTRE = 0.5
"""The quantile of the warped losses the GP's prior mean sits at when the space has a
:class:`Choice` and no conditional parameter (else the upper quartile, :func:`gp.warp`).
Each option's unexplored regions are predicted near the prior mean; at the upper quartile,
an option that had only its share of the start-up points never looked promising next to a
well-sampled one (benchmark task ``mixed``: 9 seeds of 20 settled in a worse option, the
best option's optimum scoring a log EI about 2 below re-sampling the incumbent). At the
median, unexplored options get more trials. Not used without a Choice: on Hartmann6 the
median left more seeds in its local optimum. Nor on a conditional space, whose options bring
their own parameters instead of moving the optimum of shared ones: on conditional_quality's
``branches`` (20 seeds) it and the longer option lengthscale left 6 seeds near the optimum
instead of 8, 13 seeds worse (benchmarks/README.md, "bayes on mixed spaces")."""
_ACQUISITIONS = ("logei", "ucb")
_RNG_HYPER, _RNG_CANDIDATES, _RNG_FALLBACK, _RNG_WEIGHTS, _RNG_FEASIBILITY = 1, 2, 3, 4, 5
PAREGO_RHO = 0.05
"""ParEGO's weight of the sum next to the max of the weighted losses (Knowles 2006, eq. 2):
small, so that the scalarization prefers Pareto-optimal points among those of equal max."""


@register
@dataclass(frozen=True)
class Bayes(Method):
    """GP Bayesian optimisation. ``n_startup`` Sobol trials first (default ``max(5, 2d)``);
    ``acquisition`` is ``"logei"`` or ``"ucb"`` (maximises √ucb_beta · sd - mean on the
    model's scale of losses); ``candidates`` points are scored per ask; ``max_points`` caps
    the observations the model keeps."""

    name = "bayes"
    multi_objective = True  # ParEGO (module docstring)
    constrained = True  # Gardner et al. 2014's constrained EI (module docstring)
    n_startup: int | None = None
    acquisition: str = "logei"
    candidates: int = 2000
    ucb_beta: float = 2.0
    max_points: int = 200
    pruner: Pruner | str | None = None  # "median", "percentile" or a hp.pruners rule

    def __post_init__(self) -> None:
        object.__setattr__(self, "pruner", pruner_from(self.pruner))
        if self.n_startup is not None:
            set_whole(self, "n_startup", 0)
        set_whole(self, "candidates", 1)
        set_real(self, "ucb_beta", "ucb_beta > 0", lambda x: x > 0)
        set_whole(self, "max_points", 10)
        check_choice(self.acquisition, "acquisition", _ACQUISITIONS)

    def check_objectives(self, objectives: Objectives) -> None:
        """As :meth:`Method.check_objectives`, and constraints need ``acquisition="logei"``:
        the probability of feasibility multiplies EI (adds to log EI), and UCB is no
        quantity to multiply by a probability."""
        super().check_objectives(objectives)
        if objectives.constrained and self.acquisition != "logei":
            raise MethodError(
                f"bayes honours constraints with acquisition='logei' only, but got "
                f"acquisition={self.acquisition!r} and constraints "
                f"({objectives.describe_constraints()}); leave out acquisition= or pass "
                "acquisition='logei'"
            )

    def startup(self, space: Space) -> int:
        """Trials numbered below this are Sobol points (enqueued or manual ones count too);
        the GP also waits for two finished trials with a value."""
        return max(5, 2 * len(space)) if self.n_startup is None else self.n_startup

    def short_target(self, target: int, history: History) -> str | None:
        """The GP proposes trial ``number`` once it is past the start-up
        (:meth:`startup`) and two trials have a value: when the last trial the target
        starts (after the queued ones), with every trial before it given a value, is
        still short of either, the whole run is Sobol points."""
        startup = self.startup(history.space)
        queued = history.count(TrialState.QUEUED)
        valued = history.count(TrialState.COMPLETE, TrialState.PRUNED)
        proposed = target - history.n_started - queued  # the run's own proposals
        last = history.next_number + proposed - 1
        if proposed <= 0 or (last >= startup and valued + queued + proposed - 1 >= 2):
            return None
        fewest = max(startup - history.next_number + 1, 3 - valued - queued, 1)
        needed = history.n_started + queued + fewest  # the target of a first GP trial
        first = (
            f"for the study's first {startup} trials (n_startup={startup}) and " if startup else ""
        )
        smaller = ", or a smaller n_startup to hp.methods.Bayes" if startup > 2 else ""
        return (
            f"bayes proposes Sobol points {first}until two trials have a value, and the "
            f"target is {target}: every trial would be a Sobol point, none from its GP. Pass "
            f"n_trials={needed} or more (several times n_startup, for the GP to pay off)"
            f"{smaller}"
        )

    def ask(self, history: History) -> Proposal:
        with gp.single_threaded_blas():
            return self._ask(history)

    def _ask(self, history: History) -> Proposal:
        space, number = history.space, history.next_number
        data, pending, failed = _observations(history, self.max_points)
        if history.objectives.is_multi:
            data = _scalarized(history, self.max_points, history.rng(number, _RNG_WEIGHTS))
        if number < self.startup(space) or len(data) < 2:
            point = sobol_point(len(space), history.seed, number)
            return _first_unseen(space, [point], history, "bayes: Sobol start-up")

        features = Features(space)
        x = features.of([history.trials[n].params for n, _ in data])
        # options of a Choice sharing the numeric parameters (see CATEGORICAL_CENTRE)
        shared = bool(features.categorical.any()) and not space.is_conditional
        centre = CATEGORICAL_CENTRE if shared else gp.UPPER_QUARTILE
        y = gp.warp(np.array([loss for _, loss in data]), centre)
        fitted = _subset(y, FIT_POINTS)
        model = gp.fit(
            x[fitted],
            y[fitted],
            features.categorical,
            history.rng(number, _RNG_HYPER),
            option_scale=gp.CATEGORICAL_LENGTHSCALE_FACTOR if shared else 1.0,
        )
        if len(fitted) < len(y):
            model = gp.GaussianProcess(x, y, features.categorical, model.hyper)
        feasibility = None
        if history.objectives.constrained:
            feasibility = feasibility_model.fit(
                history,
                [n for n, _ in data],
                x,
                features.categorical,
                history.rng(number, _RNG_FEASIBILITY),
                fit_points=FIT_POINTS,
                option_scale=gp.CATEGORICAL_LENGTHSCALE_FACTOR if shared else 1.0,
            )
        if pending or failed:  # pending: kriging believers; failed: as bad as the worst
            x_lies = features.of([history.trials[n].params for n in (*pending, *failed)])
            believed = model.predict(x_lies[: len(pending)])[0] if pending else np.empty(0)
            lies = np.concatenate([believed, np.full(len(failed), float(np.max(y)))])
            model = model.condition(x_lies, lies)

        incumbent, order = _incumbent(history, data, y, feasibility)

        def score(points: Array, gradient: bool = True) -> tuple[Array, Array]:
            return self._acquisition(model, incumbent, points, gradient, feasibility)

        rng = history.rng(number, _RNG_CANDIDATES)
        best = features.to_unit(x[order[:5]])
        pool = features.of_unit(self._candidates(rng, best, features.categorical))
        values = score(pool, False)[0]
        starts = _distinct_best(pool, values, POLISHED)
        for _ in range(3):  # alternate continuous polishing and discrete neighbour moves
            starts = _polish(starts, score, features.continuous)
            starts, moved = features.improve_discrete(starts, score)
            if not moved:
                break
        pool = np.vstack([starts, pool])
        order = np.argsort(-np.concatenate([score(starts, False)[0], values]), kind="stable")
        chosen = features.to_unit(pool[order[:100]])
        return _first_unseen(space, chosen, history, f"bayes: GP + {self.acquisition}")

    def _acquisition(
        self,
        model: gp.GaussianProcess,
        best: float | None,
        points: Array,
        gradient: bool,
        feasibility: Feasibility | None = None,
    ) -> tuple[Array, Array]:
        """The acquisition (to maximise) at feature rows ``points``, and its gradient if asked
        (else an empty array): the objective's, plus the log probability of meeting the
        constraints if ``feasibility`` models them; that alone while no trial is feasible
        (``best`` None: no incumbent; module docstring)."""
        terms = []
        if best is not None:
            terms.append(self._objective_acquisition(model, best, points, gradient))
        if feasibility is not None:
            terms.append(feasibility.log_probability(points, gradient))
        if len(terms) == 1:
            return terms[0]
        (value, slope), (log_p, d_log_p) = terms
        return value + log_p, (slope + d_log_p) if gradient else slope

    def _objective_acquisition(
        self, model: gp.GaussianProcess, best: float, points: Array, gradient: bool
    ) -> tuple[Array, Array]:
        """log EI or UCB at feature rows ``points``, and its gradient if asked."""
        if gradient:
            mean, variance, d_mean, d_variance = model.predict_with_gradient(points)
        else:
            mean, variance = model.predict(points)
        sd = np.sqrt(variance)
        by_mean: Array | float
        by_sd: Array | float
        if self.acquisition == "ucb":
            by_mean, by_sd = -1.0, math.sqrt(self.ucb_beta)
            value = by_sd * sd - mean
        else:
            value, by_mean, by_sd = log_expected_improvement(mean, sd, best)
        if not gradient:
            return value, np.empty(0)
        return value, np.asarray(by_mean * d_mean.T + by_sd * d_variance.T / (2.0 * sd)).T

    def _candidates(
        self, rng: np.random.Generator, best: Array, categorical: npt.NDArray[np.bool_]
    ) -> Array:
        """Points of the unit cube to score: scrambled Sobol points, and Gaussian
        perturbations (scales 0.001 to 0.3) of the best observed points, reflected at the
        faces (clipping would pile candidates onto the faces)."""
        from scipy.stats import qmc

        d = best.shape[1]
        n_local = self.candidates // 2
        sobol = first_sobol_points(qmc.Sobol(d, scramble=True, seed=rng), self.candidates - n_local)
        centres = best[np.arange(n_local) % len(best)]
        scales = 10.0 ** rng.uniform(-3.0, -0.5, size=(n_local, 1))
        local = centres + scales * rng.standard_normal((n_local, d))
        redraw = (rng.random((n_local, d)) < 0.2) & categorical  # sometimes another option
        local = np.where(redraw, rng.random((n_local, d)), local)
        return np.vstack([sobol, 1.0 - np.abs(1.0 - np.abs(local) % 2.0)])  # reflected into [0, 1]


def _incumbent(
    history: History,
    data: list[tuple[int, float]],
    y: Array,
    feasibility: Feasibility | None,
) -> tuple[float | None, npt.NDArray[np.intp]]:
    """EI's incumbent among the model's (warped) losses ``y`` of the trials ``data``, and
    the order, best first, of the points local candidates are drawn around. Without a
    constraint model: the best loss, and the losses' order. With one: the best feasible
    loss (None while no trial is feasible), and feasible trials first, then complete
    ones by violation, then pruned ones (as :meth:`History.rank_key` orders them)."""
    if feasibility is None:
        return float(y.min()), np.argsort(y)
    misses = [
        history.violation(t) if t.state is TrialState.COMPLETE else math.inf
        for t in (history.trials[n] for n, _ in data)
    ]
    order = np.lexsort((y, np.array(misses)))
    best = float(y[feasibility.feasible].min()) if feasibility.any_feasible else None
    return best, order


def log_expected_improvement(mean: Array, sd: Array, best: float) -> tuple[Array, Array, Array]:
    """log EI for minimisation below ``best``, and its derivatives in the mean and the sd.

    log EI = log h(z) + log sd with z = (best - mean) / sd and h(z) = φ(z) + zΦ(z); log h is
    computed without cancellation (Ament et al., "Unexpected improvements to expected
    improvement for Bayesian optimization", NeurIPS 2023), so EI far below float
    precision still ranks candidates and has a useful gradient. d log h / dz = Φ(z) / h(z).
    """
    from scipy.special import log_ndtr

    z = (best - mean) / sd
    log_h = _log_h(z)
    ratio = np.exp(log_ndtr(z) - log_h)
    return log_h + np.log(sd), -ratio / sd, (1.0 - ratio * z) / sd


def _log_h(z: Array) -> Array:
    """log(φ(z) + zΦ(z)), stable for every z (Ament et al. 2023, eq. 9).

    For z <= -1, h(z) = φ(z) (1 - √(π/2) |z| erfcx(-z/√2)) and the log of the bracket is
    log(1 - e^t) with t < 0, computed without cancellation; below z = -1000 the bracket is
    1/z² to within 3/z² (its asymptotic series), which avoids t rounding up to 0.
    """
    from scipy.special import erfcx, ndtr

    out = np.empty_like(z)
    upper, far = z > -1.0, z <= -1e3
    middle = ~upper & ~far
    zu, zm, zf = z[upper], z[middle], z[far]
    out[upper] = np.log(np.exp(-0.5 * zu * zu) / math.sqrt(2 * math.pi) + zu * ndtr(zu))
    t = np.log(erfcx(-zm / math.sqrt(2)) * -zm) + 0.5 * math.log(math.pi / 2)
    out[middle] = -0.5 * zm * zm - 0.5 * math.log(2 * math.pi) + _log1mexp(t)
    out[far] = -0.5 * zf * zf - 0.5 * math.log(2 * math.pi) - 2.0 * np.log(-zf)
    return out


def _log1mexp(t: Array) -> Array:
    """log(1 - e^t) for t < 0 (Mächler's two branches, each accurate where it is used)."""
    t = np.minimum(t, -1e-300)
    out = np.empty_like(t)
    near = t > -math.log(2)
    out[near] = np.log(-np.expm1(t[near]))
    out[~near] = np.log1p(-np.exp(t[~near]))
    return out


def _observations(
    history: History, cap: int
) -> tuple[list[tuple[int, float]], list[int], list[int]]:
    """(trial number, loss) of at most ``cap`` finished trials with a value (those
    :func:`_subset` would keep of them all, in number order), and the numbers of the (at
    most ``cap // 4``, latest) running or queued trials and of as many failed ones. A
    failed trial is conditioned on as the worst value seen: left out, the model would see
    the failing point as unexplored and propose it again and again. So is one stopped
    without a finite value (its last report NaN or infinite: a diverged run). One lost or
    interrupted and replaced by a retry is not (:meth:`History.valueless`).

    A pruned trial's loss is its last report, but no better than the complete trials'
    final loss at the rank it had among them when it was stopped
    (:meth:`History.observed_loss`). Its report alone is a final loss to the model, the
    best one when the metric worsens with training (overfitting: an early report beats
    every final one), and the model searched there; left out (Optuna's GPSampler fits
    complete trials only), its region looks unexplored and is proposed again; raised to
    the worst complete loss (as ``tpe`` ranks it) or to the pruner's percentile, the
    model could not tell a trial stopped just past the cut from a diverged one, nor one
    near the optimum from one far from it (benchmarks/README.md, "bayes with a pruner").
    The cap keeps complete trials first (:meth:`History.ranked`).

    Read from the history's sorted indexes, not from every trial: the cost is that of the
    ``cap`` chosen and the unfinished trials, whatever the size of the study."""
    numbers, ranked = history.valued(), history.ranked()
    if len(numbers) <= cap:
        chosen = list(numbers)
    else:  # _subset without sorting every loss: the best half, then a spread of the rest
        best = sorted(number for _, number in ranked[: cap // 2])
        at = [bisect.bisect_left(numbers, number) for number in best]
        spread = np.linspace(0, len(numbers) - len(best) - 1, cap - len(best)).round()
        chosen = sorted(best + [numbers[i] for i in _skipping(spread.astype(int).tolist(), at)])
    data = [(n, history.observed_loss(history.trials[n])) for n in chosen]
    pending = sorted(history.unfinished(TrialState.RUNNING) + history.unfinished(TrialState.QUEUED))
    return data, pending[-(cap // 4) :], list(history.valueless()[-(cap // 4) :])


def _scalarized(history: History, cap: int, rng: np.random.Generator) -> list[tuple[int, float]]:
    """(trial number, loss) of at most ``cap`` complete trials of a study of several
    objectives, the loss being ParEGO's augmented Chebyshev scalarization of their losses
    (module docstring) under weights drawn for this ask, each objective scaled to [0, 1]
    over the trials used. Read from the latest ``4 * cap`` complete trials, of which
    :func:`_subset` keeps the best half and a spread of the rest: bounded work per ask."""
    numbers = list(history.complete()[-4 * cap :])
    found = [(n, history.losses(history.trials[n])) for n in numbers]
    kept = [(n, loss) for n, loss in found if loss is not None]
    if not kept:
        return []
    losses = np.array([loss for _, loss in kept])
    low, high = losses.min(axis=0), losses.max(axis=0)
    scaled = (losses - low) / np.where(high > low, high - low, 1.0)
    weights = rng.dirichlet(np.ones(losses.shape[1]))
    weighted = scaled * weights
    values = weighted.max(axis=1) + PAREGO_RHO * weighted.sum(axis=1)
    chosen = _subset(values, cap)
    if history.objectives.constrained:  # the best half feasible first (History.rank_key)
        misses = np.array([history.violation(history.trials[n]) for n, _ in kept])
        ranks = np.empty(len(kept))
        ranks[np.lexsort((values, misses))] = np.arange(len(kept))
        chosen = _subset(ranks, cap)
    return [(kept[i][0], float(values[i])) for i in chosen]


def _skipping(targets: list[int], skipped: list[int]) -> list[int]:
    """Where the ``targets`` (ascending positions in a list without the ``skipped``
    positions, ascending) are in the whole list."""
    out, passed = [], 0
    for target in targets:
        while passed < len(skipped) and skipped[passed] <= target + passed:
            passed += 1
        out.append(target + passed)
    return out


def _subset(losses: Array, size: int) -> npt.NDArray[np.intp]:
    """Indices (ascending) of the best ``size // 2`` losses and an even spread of the rest,
    ending with the last one: deterministic, so every process keeps the same points."""
    if len(losses) <= size:
        return np.arange(len(losses))
    order = np.argsort(losses, kind="stable")
    best, rest = order[: size // 2], np.sort(order[size // 2 :])
    spread = rest[np.linspace(0, len(rest) - 1, size - len(best)).round().astype(np.intp)]
    return np.sort(np.concatenate([best, spread]))


def _distinct_best(points: Array, values: Array, count: int) -> Array:
    """The ``count`` highest-scoring distinct rows."""
    chosen: list[Array] = []
    for i in np.argsort(-values, kind="stable"):
        if not any(np.array_equal(points[i], row) for row in chosen):
            chosen.append(points[i])
            if len(chosen) == count:
                break
    return np.array(chosen)


def _polish(starts: Array, score: Score, mask: npt.NDArray[np.bool_]) -> Array:
    """L-BFGS-B on the continuous coordinates of every start at once (the summed acquisition
    separates by start, so one run optimises them all); other coordinates stay fixed."""
    from scipy.optimize import minimize

    columns = np.flatnonzero(mask)
    if not columns.size:
        return starts
    shape = (len(starts), len(columns))

    def negated(v: Array) -> tuple[float, Array]:
        points = starts.copy()
        points[:, columns] = v.reshape(shape)
        value, gradient = score(points, True)
        return -float(value.sum()), -gradient[:, columns].ravel()

    result = minimize(
        negated,
        starts[:, columns].ravel(),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, 1.0)] * (shape[0] * shape[1]),
        options={"maxiter": 100},
    )
    out: Array = starts.copy()
    out[:, columns] = np.clip(result.x, 0.0, 1.0).reshape(shape)
    return out


def _first_unseen(
    space: Space,
    points: Array | list[Array],
    history: History,
    note: str,
) -> Proposal:
    """The first point (then uniform draws) whose parameters no trial has yet; once every
    one has run (a small discrete space), the first no queued or running trial has, so
    parallel workers do not run one configuration at once; else the first."""
    candidates = list(points)
    draws = history.rng(history.next_number, _RNG_FALLBACK).random((64, len(space)))
    free: dict[str, Value] | None = None
    for point in [*candidates, *draws]:
        params = space.decode(point)
        if not history.has_configuration(params):
            return Proposal(params=params, origin=Origin.SAMPLED.value, note=note)
        if free is None and not history.is_pending(params):
            free = params
    chosen = space.decode(candidates[0]) if free is None else free
    return Proposal(params=chosen, origin=Origin.SAMPLED.value, note=note)

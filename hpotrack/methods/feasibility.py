"""The probability that a point meets a study's constraints, for ``bayes``.

Gardner, Kusner, Xu, Weinberger and Cunningham, "Bayesian Optimization with Inequality
Constraints", ICML 2014, sections 3-3.1: each constraint's metric gets its own Gaussian
process over the same features as the objective's (:func:`hpotrack.methods.gp.fit`), and
the acquisition is EI times the probability that every constraint holds, the constraints
modelled as independent: in logs, log EI(x) + Σ_c log P(c met at x). An upper bound b
holds with probability Φ((b - μ)/σ), a lower bound a with Φ((μ - a)/σ); for a metric
with both, the factor is the product of the two, which is an approximation: the exact
P(a <= c <= b) = Φ((b - μ)/σ) + Φ((μ - a)/σ) - 1 is smaller by
(1 - Φ((b - μ)/σ))(1 - Φ((μ - a)/σ)), negligible unless both bounds are uncertain at x.
While no trial is feasible there is no incumbent for EI and the acquisition is the log
probability of feasibility alone (section 3.1), which drives the search toward the
feasible region.

Each model is fitted on the constraint metric of the complete trials among those the
objective's model keeps (at most ``max_points``): the cost per ask does not grow with the
study. Running trials need no believed value here: the objective's model already moves
parallel workers apart. Values are standardised (the bounds with them), not warped: a
bound must map through the same transform as the values, which stays linear.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hpotrack.constraints import Constraint, finite
from hpotrack.methods import gp
from hpotrack.methods.history import History
from hpotrack.records import TrialState

Array = npt.NDArray[np.float64]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def log_probability_within(
    mean: Array, sd: Array, at_most: float | None, at_least: float | None
) -> tuple[Array, Array, Array]:
    """log P(at_least <= c <= at_most) for c ~ N(mean, sd²), one bound or the product of
    both (module docstring), and its derivatives in the mean and the sd.

    For a bound, log Φ(z) with z = (b - μ)/σ (upper) or (μ - a)/σ (lower);
    d log Φ(z)/dz = φ(z)/Φ(z), computed as exp(log φ(z) - log Φ(z)) so that it stays
    finite (about -z) far in the lower tail, where Φ(z) underflows."""
    from scipy.special import log_ndtr

    value, by_mean, by_sd = np.zeros_like(mean), np.zeros_like(mean), np.zeros_like(mean)
    for bound, sign in ((at_most, -1.0), (at_least, 1.0)):
        if bound is None:
            continue
        z = sign * (mean - bound) / sd
        log_cdf = log_ndtr(z)
        ratio = np.exp(-0.5 * z * z - _LOG_SQRT_2PI - log_cdf)  # φ(z) / Φ(z)
        value += log_cdf
        by_mean += ratio * sign / sd  # dz/dμ = ±1/σ
        by_sd -= ratio * z / sd  # dz/dσ = -z/σ
    return value, by_mean, by_sd


@dataclass(frozen=True)
class ConstraintModel:
    """One constraint's GP over the standardised metric (``(value - shift) / scale``),
    with its bounds standardised alike."""

    constraint: Constraint
    model: gp.GaussianProcess
    at_most: float | None
    at_least: float | None


@dataclass(frozen=True)
class Feasibility:
    """The constraints' models: :meth:`log_probability` is the feasibility term of the
    acquisition, :attr:`any_feasible` whether a trial the objective's model keeps met
    them all (else the acquisition is the feasibility term alone)."""

    models: tuple[ConstraintModel, ...]
    feasible: npt.NDArray[np.bool_]
    """For each observation of the objective's model, whether it is a feasible trial."""

    @property
    def any_feasible(self) -> bool:
        return bool(self.feasible.any())

    def log_probability(self, points: Array, gradient: bool) -> tuple[Array, Array]:
        """Σ_c log P(c met) at feature rows ``points``, and its gradient in them (an empty
        array unless ``gradient``; zero in categorical columns, as the GP's)."""
        value = np.zeros(len(points))
        slope = np.zeros_like(points) if gradient else np.empty(0)
        for item in self.models:
            if gradient:
                mean, variance, d_mean, d_variance = item.model.predict_with_gradient(points)
            else:
                mean, variance = item.model.predict(points)
            sd = np.sqrt(variance)
            log_p, by_mean, by_sd = log_probability_within(mean, sd, item.at_most, item.at_least)
            value += log_p
            if gradient:
                slope += by_mean[:, None] * d_mean + (by_sd / (2.0 * sd))[:, None] * d_variance
        return value, slope


def fit(
    history: History,
    numbers: Sequence[int],
    x: Array,
    categorical: npt.NDArray[np.bool_],
    rng: np.random.Generator,
    *,
    fit_points: int,
    option_scale: float = 1.0,
) -> Feasibility | None:
    """The constraints' models on the observations ``numbers`` (the trials of the
    objective's model, feature rows ``x``): each is fitted on the complete trials among
    them with a finite value of its metric. None when none has (no trial complete yet,
    only pruned ones): there is nothing to tell feasible points from others, and the
    objective's acquisition stands alone. Hyperparameter fits draw from ``rng``, on at
    most ``fit_points`` observations each (an even spread ending with the latest: a
    constraint has no best half to keep), as the objective's model is fitted."""
    records = [history.trials[n] for n in numbers]
    feasible = np.array([history.is_feasible(r) for r in records], dtype=bool)
    models: list[ConstraintModel] = []
    for constraint in history.objectives.constraints:
        found = [
            (i, finite(r.metrics.get(constraint.metric)))
            for i, r in enumerate(records)
            if r.state is TrialState.COMPLETE
        ]
        rows = np.array([i for i, value in found if value is not None], dtype=np.intp)
        if not rows.size:
            continue
        values = np.array([value for _, value in found if value is not None])
        shift = float(values.mean())
        spread = float(values.std())
        scale = spread if spread > 0.0 else max(abs(shift), 1.0)
        y = (values - shift) / scale
        fitted = _spread(len(y), fit_points)
        model = gp.fit(x[rows][fitted], y[fitted], categorical, rng, option_scale=option_scale)
        if len(fitted) < len(y):
            model = gp.GaussianProcess(x[rows], y, categorical, model.hyper)
        models.append(
            ConstraintModel(
                constraint,
                model,
                None if constraint.at_most is None else (constraint.at_most - shift) / scale,
                None if constraint.at_least is None else (constraint.at_least - shift) / scale,
            )
        )
    if not models:
        return None
    return Feasibility(tuple(models), feasible)


def _spread(count: int, size: int) -> npt.NDArray[np.intp]:
    """Indices of an even spread of ``size`` of ``count`` rows, first and last included
    (all of them when there are no more than ``size``)."""
    if count <= size:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, size).round().astype(np.intp))

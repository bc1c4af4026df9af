"""Gaussian-process regression for ``bayes``: a Matérn-5/2 ARD kernel fitted by evidence.

Inputs are rows of features: a unit-cube coordinate per numeric parameter, the option index
per categorical one (``categorical`` marks those columns). Two options are at squared distance
1 when they differ and 0 when equal (a Hamming term, one lengthscale per parameter), so the
kernel stays one Matérn function of one scaled distance::

    r² = Σ_j δ_j(x, x') / ℓ_j²,   k(r) = s² (1 + √5 r + 5r²/3) exp(-√5 r)   (R&W eq. 4.17)

with δ_j = (x_j - x'_j)² for numeric columns. Outputs are expected on a unit scale (see
:func:`warp`); the mean function is 0. Lengthscales ℓ, signal variance s² and noise σ² are
fitted by maximising the log marginal likelihood (R&W eq. 5.8, gradient eq. 5.9) plus weak
log-normal priors, with L-BFGS-B inside bounds that keep the Cholesky factor stable.
Predictions follow R&W eqs. 2.25-2.26. R&W: Rasmussen & Williams, "Gaussian Processes for
Machine Learning", MIT Press, 2006.
"""

from __future__ import annotations

import contextlib
import importlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

SQRT5 = math.sqrt(5.0)

LOG_LENGTHSCALE_BOUNDS = (math.log(5e-3), math.log(50.0))
LOG_SIGNAL_BOUNDS = (math.log(5e-2), math.log(20.0))
LOG_NOISE_BOUNDS = (math.log(1e-6), math.log(0.5))
"""Bounds on the log hyperparameters (standardised outputs, unit-cube inputs)."""

NOISE_PRIOR = (math.log(1e-3), 3.0)
SIGNAL_PRIOR = (0.0, 1.5)
"""(mean, sd) of the normal priors on log σ² and log s²: weak, they only break ties."""


_threadpools: list[Any] = []
"""The process's threadpoolctl controller, made once (a handle on loaded libraries, not state
of any study)."""


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run BLAS/LAPACK on one thread inside (via threadpoolctl, when installed).

    The matrices here are at most a few hundred rows: threads cannot speed them up, and on a
    busy machine (several workers, other jobs) OpenBLAS threads waiting for a core made asks
    10-30 times slower in measurements. The limit is process-wide while it lasts (the ask
    only; the objective runs after it).
    """
    if not _threadpools:
        importlib.import_module("scipy.linalg")  # load SciPy's BLAS so the limit covers it
        try:
            controller = importlib.import_module("threadpoolctl").ThreadpoolController()
        except ImportError:
            controller = None
        _threadpools.append(controller)
    if _threadpools[0] is None:
        yield
        return
    with _threadpools[0].limit(limits=1, user_api="blas"):
        yield


def lengthscale_prior(dimensions: int) -> tuple[float, float]:
    """(mean, sd) of the normal prior on log ℓ: centred at ℓ = 0.2·√d, growing with the
    dimension as distances in the cube do (the √d scaling of Hvarfner, Hellsten & Nardi,
    "Vanilla Bayesian optimization performs great in high dimensions", ICML 2024), with sd
    0.75. Shorter than their centre: on 2-6 dimensional benchmarks (Branin, Hartmann6,
    Rosenbrock, Ackley) longer priors made the model confidently extrapolate trends into the
    faces of the cube and settle in the first basin found."""
    return math.log(0.2) + 0.5 * math.log(max(dimensions, 1)), 0.75


CATEGORICAL_LENGTHSCALE_FACTOR = math.sqrt(6.0)
"""The factor :func:`fit` centres the prior on a categorical column's log ℓ above the numeric
ones' (:func:`lengthscale_prior`) when ``bayes`` asks (options sharing the numeric
parameters: a space with a Choice and no ``when=``): a change of option (Hamming δ = 1) then
counts, a priori, as much as a typical move of one numeric coordinate (E[(u - u')²] = 1/6
for uniform u, u'), not as six times it. Centred with the numeric columns, options looked
all but independent (cross-option correlation about 0.06 at the prior's centre for d = 4),
so an option tried only at its start-up points was modelled from those few points alone.
Options share one Hamming lengthscale per parameter, as in the transformed one-hot kernel of
Garrido-Merchán & Hernández-Lobato, "Dealing with categorical and integer-valued variables
in Bayesian optimization with Gaussian processes", Neurocomputing 2020, and in Optuna's
GPSampler (whose prior mode, ℓ = 1 for every column, also puts options closer than ours
did)."""


def matern52(r2: Array) -> tuple[Array, Array]:
    """The unit-variance Matérn-5/2 correlation at squared distances ``r2`` and its derivative
    with respect to ``r2`` (finite at 0): (1 + √5r + 5r²/3)e^(-√5r), -(5/6)(1 + √5r)e^(-√5r)."""
    root = np.sqrt(5.0 * r2)  # √5 r
    decay = np.exp(-root)
    root += 1.0
    slope = root * decay
    root += (5.0 / 3.0) * r2
    root *= decay
    slope *= -5.0 / 6.0
    return root, slope


def matern52_value(r2: Array) -> Array:
    """:func:`matern52` without the derivative (for predictions at many points)."""
    root = np.sqrt(5.0 * r2)
    decay = np.exp(-root)
    root += 1.0
    root += (5.0 / 3.0) * r2
    root *= decay
    return root


def pairwise_deltas(x: Array, categorical: npt.NDArray[np.bool_]) -> Array:
    """δ_j(x_a, x_b) for every column j and pair (a, b): shape (d, n, n)."""
    columns = x.T[:, :, None]
    diff = columns - columns.transpose(0, 2, 1)
    deltas: Array = np.where(categorical[:, None, None], diff != 0, diff * diff)
    return deltas


def cholesky(matrix: Array) -> Array:
    """Lower Cholesky factor, adding diagonal jitter (up to 1e-4 of the mean diagonal) if
    rounding made the matrix numerically indefinite; raises ``np.linalg.LinAlgError``."""
    from scipy.linalg import lapack

    scale = float(np.mean(np.diag(matrix)))
    for jitter in (0.0, 1e-10, 1e-8, 1e-6, 1e-4):
        shifted = matrix + jitter * scale * np.eye(len(matrix)) if jitter else matrix
        factor, info = lapack.dpotrf(shifted, lower=1, clean=1)
        if info == 0:
            return np.asarray(factor)
    raise np.linalg.LinAlgError("the kernel matrix is not positive definite")


@dataclass(frozen=True)
class Hyperparameters:
    """Kernel hyperparameters: ARD lengthscales ℓ, signal variance s² and noise variance σ²."""

    lengthscales: Array
    signal: float
    noise: float

    @classmethod
    def from_vector(cls, theta: Array) -> Hyperparameters:
        """From ``[log ℓ_1..d, log s², log σ²]``, the vector the optimiser works on."""
        return cls(np.exp(theta[:-2]), float(np.exp(theta[-2])), float(np.exp(theta[-1])))


class GaussianProcess:
    """A GP conditioned on data (x, y) with fixed hyperparameters; cheap to predict from."""

    def __init__(
        self,
        x: Array,
        y: Array,
        categorical: npt.NDArray[np.bool_],
        hyper: Hyperparameters,
    ) -> None:
        from scipy.linalg import cho_solve

        self.x, self.y, self.categorical, self.hyper = x, y, categorical, hyper
        self._inv_l2 = hyper.lengthscales**-2.0
        gram = hyper.signal * matern52_value(self._cross_r2(x))
        gram[np.diag_indices_from(gram)] += hyper.noise
        self._factor = cholesky(gram)
        self._alpha: Array = cho_solve((self._factor, True), y)

    def _cross_r2(self, points: Array) -> Array:
        """Scaled squared distances from ``points`` (m, d) to the data (n, d): (m, n)."""
        numeric = ~self.categorical
        scale = np.sqrt(self._inv_l2[numeric])
        a, b = points[:, numeric] * scale, self.x[:, numeric] * scale
        r2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
        for j in np.flatnonzero(self.categorical):
            r2 += self._inv_l2[j] * (points[:, j, None] != self.x[None, :, j])
        out: Array = np.maximum(r2, 0.0)
        return out

    def condition(self, x: Array, y: Array) -> GaussianProcess:
        """This GP with extra observations (same hyperparameters), e.g. believed values at
        pending points (kriging believer)."""
        return GaussianProcess(
            np.vstack([self.x, x]), np.concatenate([self.y, y]), self.categorical, self.hyper
        )

    def predict(self, points: Array) -> tuple[Array, Array]:
        """Posterior mean and variance of the latent function at ``points`` (R&W 2.25-2.26)."""
        from scipy.linalg import solve_triangular

        k = matern52_value(self._cross_r2(points))
        k *= self.hyper.signal
        v = solve_triangular(self._factor, k.T, lower=True, check_finite=False)
        variance = self.hyper.signal - np.einsum("ij,ij->j", v, v)
        return k @ self._alpha, np.maximum(variance, 1e-12 * self.hyper.signal)

    def predict_with_gradient(self, points: Array) -> tuple[Array, Array, Array, Array]:
        """Mean, variance and their gradients (m, d) in the numeric columns (0 elsewhere)."""
        from scipy.linalg import cho_solve

        correlation, slope = matern52(self._cross_r2(points))
        k = self.hyper.signal * correlation
        dk_dr2 = self.hyper.signal * slope
        w = cho_solve((self._factor, True), k.T, check_finite=False)  # K⁻¹ k*, (n, m)
        mean = k @ self._alpha
        variance = self.hyper.signal - np.einsum("ij,ji->i", k, w)
        numeric = ~self.categorical
        scale = 2.0 * self._inv_l2[numeric]  # d r²/d x_j = 2 (x_j - x'_j) / ℓ_j²

        def through_r2(weights: Array) -> Array:
            """Σ_i weights[:, i] d r²(x, x_i)/dx for each row x of ``points``."""
            out = np.zeros_like(points)
            out[:, numeric] = scale * (
                points[:, numeric] * weights.sum(1)[:, None] - weights @ self.x[:, numeric]
            )
            return out

        d_mean = through_r2(dk_dr2 * self._alpha[None, :])
        d_variance = -2.0 * through_r2(dk_dr2 * w.T)
        floor = 1e-12 * self.hyper.signal
        d_variance[variance <= floor] = 0.0
        return mean, np.maximum(variance, floor), d_mean, d_variance


def negative_log_evidence(
    theta: Array,
    deltas: Array,
    y: Array,
    prior_mean: Array,
    prior_sd: Array,
    gradient: bool = True,
) -> tuple[float, Array]:
    """-log p(y | X, θ) - log p(θ) + const and its gradient in θ = [log ℓ, log s², log σ²].

    R&W eq. 5.8 for the value; eq. 5.9 for the gradient, ½ tr((αα' - K⁻¹) ∂K/∂θ_j), with
    ∂K/∂log ℓ_j = s² k'(r²) (-2 δ_j / ℓ_j²), ∂K/∂log s² = s² k(r²), ∂K/∂log σ² = σ² I.
    """
    from scipy.linalg import lapack

    d, n = len(deltas), len(y)
    inv_l2 = np.exp(-2.0 * theta[:d])
    signal, noise = math.exp(theta[d]), math.exp(theta[d + 1])
    r2 = np.tensordot(inv_l2, deltas, axes=1)
    correlation, slope = matern52(r2)
    gram = signal * correlation
    gram[np.diag_indices(n)] += noise
    try:
        factor = cholesky(gram)
    except np.linalg.LinAlgError:
        return 1e25, np.zeros_like(theta)
    alpha, _ = lapack.dpotrs(factor, y, lower=1)
    z = (theta - prior_mean) / prior_sd
    value = (
        0.5 * float(y @ alpha)
        + float(np.log(np.diag(factor)).sum())
        + 0.5 * n * math.log(2.0 * math.pi)
        + 0.5 * float(z @ z)
    )
    if not gradient:
        return value, np.empty(0)
    inverse, _ = lapack.dpotri(factor, lower=1)  # lower triangle of K⁻¹
    inverse = np.tril(inverse) + np.tril(inverse, -1).T
    w = np.outer(alpha, alpha) - inverse
    grad = np.empty_like(theta)
    grad[:d] = inv_l2 * (deltas.reshape(d, -1) @ (w * (signal * slope)).ravel())
    grad[d] = -0.5 * signal * float(np.einsum("ij,ij->", w, correlation))
    grad[d + 1] = -0.5 * noise * float(np.trace(w))
    return value, grad + z / prior_sd


def fit(
    x: Array,
    y: Array,
    categorical: npt.NDArray[np.bool_],
    rng: np.random.Generator,
    *,
    restarts: int | None = None,
    max_iterations: int = 50,
    option_scale: float = 1.0,
) -> GaussianProcess:
    """A GP on (x, y) whose hyperparameters maximise the penalised evidence.
    ``option_scale``: the prior on a categorical column's log lengthscale is centred this
    factor above the numeric columns' (:data:`CATEGORICAL_LENGTHSCALE_FACTOR`, where the
    options share the numeric parameters).

    Eight starts (a fixed one, the prior's mode and draws from the prior) are screened by
    their evidence; L-BFGS-B runs from the best ``restarts`` of them (default 2 up to 40
    points, where the evidence is more often multimodal, else 1) and the best end wins.
    Deterministic for a given ``rng`` state.
    """
    from scipy.optimize import minimize

    d = x.shape[1]
    mean_l, sd_l = lengthscale_prior(d)
    mean_c = mean_l + math.log(option_scale)
    prior_mean = np.array([*np.where(categorical, mean_c, mean_l), SIGNAL_PRIOR[0], NOISE_PRIOR[0]])
    prior_sd = np.array([sd_l] * d + [SIGNAL_PRIOR[1], NOISE_PRIOR[1]])
    bounds = [LOG_LENGTHSCALE_BOUNDS] * d + [LOG_SIGNAL_BOUNDS, LOG_NOISE_BOUNDS]
    low, high = np.array(bounds).T
    deltas = pairwise_deltas(x, categorical)

    def objective(theta: Array) -> tuple[float, Array]:
        return negative_log_evidence(theta, deltas, y, prior_mean, prior_sd)

    fixed = np.array([math.log(0.5)] * d + [0.0, math.log(1e-4)])
    draws = prior_mean + prior_sd * rng.standard_normal((6, d + 2))
    starts = np.clip(np.vstack([fixed, prior_mean, draws]), low, high)
    if restarts is None:
        restarts = 2 if len(y) <= 40 else 1
    values = [negative_log_evidence(t, deltas, y, prior_mean, prior_sd, False)[0] for t in starts]
    order = np.argsort(values, kind="stable")
    best_theta, best_value = starts[order[0]], values[order[0]]
    for start in starts[order[: max(restarts, 1)]]:
        result = minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": max_iterations, "ftol": 1e-7},
        )
        if np.all(np.isfinite(result.x)) and float(result.fun) < best_value:
            best_theta, best_value = np.asarray(result.x), float(result.fun)
    return GaussianProcess(x, y, categorical, Hyperparameters.from_vector(best_theta))


UPPER_QUARTILE = 0.75  # where :func:`warp` puts the prior mean unless told otherwise


def warp(losses: Array, centre: float = UPPER_QUARTILE) -> Array:
    """Losses as the GP sees them: standardised, then Yeo-Johnson transformed with the
    maximum-likelihood λ capped at 1 (so only a long tail of poor losses is compressed, never
    the good end; Yeo & Johnson, Biometrika 2000; output power transforms as in HEBO, Cowen-
    Rivers et al., JAIR 2022), then centred at the ``centre`` quantile (default the upper
    quartile) and scaled to unit variance.

    A few huge losses (Rosenbrock's) otherwise flatten everything else; and with the prior
    mean at the upper quartile, unexplored regions are expected to be mediocre, not average,
    so fewer trials go to the corners of the cube, where the variance is largest. ``bayes``
    centres at the median when the space has a categorical parameter
    (``hpotrack.methods.bayes.CATEGORICAL_CENTRE``).
    """
    largest = float(np.abs(losses).max(initial=0.0))
    if largest > 0.0:
        losses = losses / largest  # no overflow (or underflow) in the variance
    spread = float(losses.std())
    if not spread > 0:
        return np.zeros_like(losses)
    z = (losses - losses.mean()) / spread
    powers = np.linspace(-2.0, 1.0, 31)[:, None]  # λ to 0.1: plenty for a warp
    warped = _yeo_johnson(z[None, :], powers)
    jacobian = np.sign(z) * np.log1p(np.abs(z))
    likelihood = -0.5 * len(z) * np.log(warped.var(axis=1)) + (powers[:, 0] - 1) * jacobian.sum()
    best = warped[int(np.nanargmax(likelihood))]
    spread = float(best.std())
    if not (np.isfinite(best).all() and spread > 0):
        best, spread = z, 1.0
    out: Array = (best - float(np.quantile(best, centre))) / spread
    return out


def _yeo_johnson(z: Array, power: Array) -> Array:
    """The Yeo-Johnson transform of ``z`` for each ``power`` (broadcast; power in [-2, 1])."""
    log1p = np.log1p(np.abs(z))
    safe = np.where(power == 0, 1.0, power)
    positive = np.where(power == 0, log1p, np.expm1(power * log1p) / safe)
    negative = -np.expm1((2.0 - power) * log1p) / (2.0 - power)
    out: Array = np.where(z >= 0, positive, negative)
    return out

"""Parzen (kernel density) estimators on the unit cube: the model inside ``tpe`` and ``bohb``.

A :class:`ParzenEstimator` is a weighted mixture with one product kernel per observation
plus a uniform prior component (Bergstra et al. 2011, "Algorithms for hyper-parameter
optimization", §4; Watanabe 2023, "Tree-structured Parzen estimator: understanding its
algorithm components and their roles for better empirical performance", sec. 3, kernel
density estimators, and appendix C, their details). Per coordinate the kernel is

- a Gaussian truncated to [0, 1] for continuous coordinates,
- the same Gaussian's *mass* on each of ``n`` equal bins for ordered discrete coordinates
  (an ``Int`` or a stepped ``Float``: the encoding gives each value an equal bin), so a
  value's probability does not depend on where in its bin a point lies,
- an Aitchison-Aitken kernel for ``Choice`` coordinates: ``1 - h`` on the observation's
  option and ``h / (C - 1)`` on each other option (as in Watanabe 2023, sec. 3).

Densities are with respect to the unit cube (a bin's mass divided by its width), so every
estimator integrates to 1 over the cube and ``log l(x) - log g(x)`` compares like with like.
An estimator is fitted once and not changed after; it knows nothing about trials or
studies, so BOHB can fit it on one budget's observations (:meth:`Space.encode_many` turns
stored parameters into cube points, :func:`ranked_candidates` is TPE's acquisition).
Everything is vectorised numpy: one suggestion over 1,000 observations takes milliseconds.

Conditional spaces: a coordinate that a point leaves inactive (:meth:`Space.inactive_mask`)
carries no information, so an observation's kernel is uniform there (factor 1, and it
samples uniformly), and a candidate's inactive coordinates are not scored at all. Each
parameter's density is thus fitted on the trials where it is active only, what the tree
of Bergstra et al. (2011) means, inside one multivariate estimator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from hpotrack.params import Choice, Int
from hpotrack.space import Space

Array = npt.NDArray[np.float64]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@dataclass(frozen=True)
class Dimensions:
    """What each coordinate of the cube is: ``sizes[j] == 0`` continuous; otherwise ``n``
    equal bins, ordered unless ``categorical[j]`` (then ``n`` unordered options)."""

    sizes: tuple[int, ...]
    categorical: tuple[bool, ...]
    inactive: Callable[[Array], npt.NDArray[np.bool_]] | None = field(default=None, compare=False)
    """Which coordinates of points are inactive (a conditional space's), or None."""

    def __post_init__(self) -> None:
        if len(self.sizes) != len(self.categorical):
            raise ValueError("sizes and categorical must have one entry per coordinate")
        if any(s < 0 or (c and s < 1) for s, c in zip(self.sizes, self.categorical, strict=True)):
            raise ValueError(f"invalid sizes {self.sizes} for categorical {self.categorical}")

    def __len__(self) -> int:
        return len(self.sizes)

    @classmethod
    def of(cls, space: Space) -> Dimensions:
        """The kernels a space's encoding calls for. A log-scale ``Int`` has unequal bins
        in the cube and is modelled as continuous (its values still decode exactly)."""
        sizes = tuple(0 if isinstance(p, Int) and p.log else p.n_values for p in space.values())
        categorical = tuple(isinstance(p, Choice) for p in space.values())
        return cls(sizes, categorical, space.inactive_mask if space.is_conditional else None)

    @classmethod
    def continuous(cls, n: int) -> Dimensions:
        """``n`` continuous coordinates (plain numeric problems, tests)."""
        return cls((0,) * n, (False,) * n)


def recency_weights(n: int, flat: int = 25) -> Array:
    """Bergstra et al. (2011)'s ramp: the newest ``flat`` observations weigh 1, older ones
    linearly less, down to ``1 / n`` for the oldest (rows are assumed oldest first)."""
    if n <= flat:
        return np.ones(n)
    return np.concatenate([np.linspace(1.0 / n, 1.0, n - flat), np.ones(flat)])


def _ndtr(x: Array) -> Array:
    from scipy.special import ndtr  # imported here: scipy.special takes a second to import

    result: Array = ndtr(x)
    return result


def _mass(a: Array, b: Array) -> Array:
    """P(a < Z < b) for a standard normal Z, accurate in both tails (a <= b)."""
    upper = a > 0  # both in the upper tail: use the symmetric lower-tail difference
    lo, hi = np.where(upper, -b, a), np.where(upper, -a, b)
    return np.maximum(_ndtr(hi) - _ndtr(lo), 0.0)


class ParzenEstimator:
    """A mixture over observations in [0, 1]^d plus a uniform prior, fitted at creation.

    ``weights`` (default uniform) scale each observation's component; they are rescaled
    to mean 1 so that ``prior_weight`` counts in observations. The prior keeps every
    density positive (so ``log l - log g`` is finite) and keeps some mass everywhere, so
    the search never stops exploring (Watanabe 2023, sec. 3, discusses its role).

    Gaussian bandwidths follow Scott's normal-reference rule per coordinate, the rule
    Watanabe (2023, sec. 3 and appendix C) discusses for the multivariate kernel::

        b_j = bandwidth_factor * (4 / (k + 2)) ** (1 / (k + 4)) * n ** (-1 / (k + 4)) * s_j

    with ``k = d`` for the multivariate (product-kernel) estimator and ``k = 1`` for the
    univariate one, ``n`` the effective number of observations (Kish) and ``s_j`` the
    standard deviation of the data *pooled with the prior* (uniform, variance 1/12): one
    observation gets a wide kernel, a tight cluster of many a narrow one. Each ``b_j`` is
    floored at ``min_bandwidth`` (and at half a bin for a discrete coordinate) and capped
    at 1. A ``Choice`` gets ``h = min(1 - 1/C, (4 / (k + 2)) ** (1 / (k + 4)) * n ** (-1 /
    (k + 4)) * G_j)`` with ``G_j`` the Gini impurity of the pooled option frequencies (the
    categorical analogue of a variance); ``bandwidth_factor`` does not scale it, since
    narrowing categorical kernels locks a search onto the first good option it finds.

    ``multivariate=False`` gives independent per-coordinate mixtures (the original TPE of
    Bergstra et al. 2011): the joint density is the product of the marginals.
    """

    __slots__ = ("bandwidths", "dimensions", "missing", "multivariate", "observations", "weights")

    def __init__(
        self,
        observations: npt.ArrayLike,
        dimensions: Dimensions,
        *,
        weights: npt.ArrayLike | None = None,
        prior_weight: float = 1.0,
        bandwidth_factor: float = 1.0,
        min_bandwidth: float = 0.01,
        multivariate: bool = True,
    ) -> None:
        d = len(dimensions)
        x = np.clip(np.asarray(observations, dtype=np.float64).reshape(-1, d), 0.0, 1.0)
        n = x.shape[0]
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError(f"weights must be {n} finite non-negative numbers, got {w!r}")
        if n and w.sum() <= 0:
            raise ValueError("at least one observation weight must be positive")
        if not (prior_weight > 0 and math.isfinite(prior_weight)):
            raise ValueError(f"`prior_weight > 0` must hold, but got {prior_weight!r}")
        if not (bandwidth_factor > 0 and math.isfinite(bandwidth_factor)):
            raise ValueError(f"`bandwidth_factor > 0` must hold, but got {bandwidth_factor!r}")
        if not 0 < min_bandwidth <= 1:
            raise ValueError(f"`0 < min_bandwidth <= 1` must hold, but got {min_bandwidth!r}")
        w = w / w.mean() if n else w
        mixture = np.append(w, prior_weight)
        self.observations = x
        self.missing = None if dimensions.inactive is None else dimensions.inactive(x)
        self.dimensions = dimensions
        self.multivariate = multivariate
        self.weights: Array = mixture / mixture.sum()  # the last one is the prior's
        self.bandwidths = self._bandwidths(bandwidth_factor, min_bandwidth)

    @property
    def n_observations(self) -> int:
        return int(self.observations.shape[0])

    def _bandwidths(self, factor: float, floor: float) -> Array:
        """Per coordinate: the Gaussian scale, or ``h`` for a categorical coordinate."""
        x, dims = self.observations, self.dimensions
        d, n = len(dims), self.n_observations
        if n == 0:  # only the prior: no kernel is ever evaluated
            return np.ones(d)
        w, prior = self.weights[:-1], float(self.weights[-1])
        data = w / w.sum()  # the observations' share of the data alone
        k = d if self.multivariate else 1
        n_eff = 1.0 / float((data**2).sum())
        scott = (4 / (k + 2)) ** (1 / (k + 4)) * n_eff ** (-1 / (k + 4))
        out = np.empty(d)
        for j, (size, categorical) in enumerate(zip(dims.sizes, dims.categorical, strict=True)):
            data = self._active_share(j)
            if data is None:  # inactive in every observation: only the uniform is left
                out[j] = 1.0 - 1.0 / size if categorical else 1.0
                continue
            if categorical:
                counts = np.bincount(_option(x[:, j], size), weights=data, minlength=size)
                pooled = (1 - prior) * counts + prior / size
                gini = 1.0 - float((pooled**2).sum())
                out[j] = min(1.0 - 1.0 / size, max(floor, scott * gini))
                continue
            mean = float(data @ x[:, j])
            var = float(data @ (x[:, j] - mean) ** 2)
            centre = (1 - prior) * mean + prior * 0.5
            spread = (1 - prior) * (var + (mean - centre) ** 2) + prior * (
                1 / 12 + (0.5 - centre) ** 2
            )
            least = max(floor, 0.5 / size) if size else floor
            out[j] = min(1.0, max(least, factor * scott * math.sqrt(spread)))
        return out

    def _active_share(self, j: int) -> Array | None:
        """The observations' weights as shares of those active in coordinate ``j`` (all
        of them without conditions); None when none is."""
        w = self.weights[:-1]
        if self.missing is not None:
            w = np.where(self.missing[:, j], 0.0, w)
        total = float(w.sum())
        return None if total <= 0 else w / total

    def sample(self, rng: np.random.Generator, n: int) -> Array:
        """``n`` points of [0, 1]^d drawn from the mixture (discrete coordinates at the
        centre of their bin). Multivariate: one component per point; else one per
        coordinate."""
        dims, x, h = self.dimensions, self.observations, self.bandwidths
        d, k = len(dims), self.weights.size
        shape = (n, 1) if self.multivariate else (n, d)
        component = np.broadcast_to(rng.choice(k, size=shape, p=self.weights), (n, d))
        u, v, s = rng.random((n, d)), rng.random((n, d)), rng.random((n, d))
        prior = component == k - 1
        if self.missing is not None:  # an inactive coordinate's kernel is uniform
            prior = prior | np.vstack([self.missing, np.zeros((1, d), bool)])[component, _cols(d)]
        mu = np.vstack([x, np.full((1, d), 0.5)])[component, _cols(d)]  # the prior's: 0.5
        out = np.empty((n, d))
        for j, (size, categorical) in enumerate(zip(dims.sizes, dims.categorical, strict=True)):
            if categorical:
                own = _option(mu[:, j], size)
                other = (own + 1 + np.floor(s[:, j] * (size - 1)).astype(np.int64)) % size
                option = np.where(v[:, j] < h[j], other, own)
                option = np.where(prior[:, j], _option(u[:, j], size), option)
                out[:, j] = (option + 0.5) / size
                continue
            out[:, j] = np.where(prior[:, j], u[:, j], _truncated_normal(mu[:, j], h[j], u[:, j]))
            if size:
                out[:, j] = (_option(out[:, j], size) + 0.5) / size
        return out

    def _log_kernels(self, points: Array) -> Array:
        """``(m, n, d)`` log kernel values of each point under each observation's kernel."""
        dims, x, h = self.dimensions, self.observations, self.bandwidths
        m, n, d = points.shape[0], self.n_observations, len(dims)
        out = np.empty((m, n, d))
        if n == 0:
            return out
        with np.errstate(divide="ignore"):
            for j, (size, categorical) in enumerate(zip(dims.sizes, dims.categorical, strict=True)):
                p, mu = points[:, j][:, None], x[:, j][None, :]
                if categorical:
                    same = _option(p, size) == _option(mu, size)
                    other = math.log(h[j] / (size - 1)) if h[j] > 0 else -math.inf
                    out[:, :, j] = np.where(same, math.log1p(-h[j]), other) + math.log(size)
                    continue
                log_z = np.log(_mass(-mu / h[j], (1 - mu) / h[j]))  # truncation to [0, 1]
                if size:
                    lo = _option(p, size) / size
                    mass = _mass((lo - mu) / h[j], (lo + 1 / size - mu) / h[j])
                    out[:, :, j] = np.log(mass) - log_z + math.log(size)
                else:
                    z = (p - mu) / h[j]
                    out[:, :, j] = -0.5 * z**2 - math.log(h[j]) - _LOG_SQRT_2PI - log_z
        if self.missing is not None and self.dimensions.inactive is not None:
            unused = self.missing[None, :, :] | self.dimensions.inactive(points)[:, None, :]
            out[unused] = 0.0  # a uniform factor: log 1
        return out

    def _points(self, points: npt.ArrayLike) -> Array:
        d = len(self.dimensions)
        array = np.clip(np.asarray(points, dtype=np.float64), 0.0, 1.0)
        if array.ndim != 2 or array.shape[1] != d:
            raise ValueError(f"expected points of shape (m, {d}), but got {array.shape}")
        return array

    def log_pdf_marginals(self, points: npt.ArrayLike) -> Array:
        """``(m, d)``: each coordinate's marginal log density (the same in both modes)."""
        p = self._points(points)
        log_w = np.log(self.weights)
        terms = log_w[:-1, None] + self._log_kernels(p)  # (m, n, d)
        prior = np.full((p.shape[0], 1, p.shape[1]), log_w[-1])  # uniform: log density 0
        return _logsumexp(np.concatenate([terms, prior], axis=1), axis=1)

    def log_pdf(self, points: npt.ArrayLike) -> Array:
        """``(m,)`` log density at each point, with respect to the unit cube."""
        p = self._points(points)
        if not self.multivariate:
            total: Array = self.log_pdf_marginals(p).sum(axis=1)
            return total
        log_w = np.log(self.weights)
        terms = log_w[:-1] + self._log_kernels(p).sum(axis=2)  # (m, n)
        prior = np.full((p.shape[0], 1), log_w[-1])
        return _logsumexp(np.concatenate([terms, prior], axis=1), axis=1)


def ranked_candidates(
    good: ParzenEstimator, bad: ParzenEstimator, rng: np.random.Generator, n: int
) -> Array:
    """TPE's acquisition: ``n`` points drawn from ``good``, best first by ``log good(x) -
    log bad(x)`` (expected improvement is monotone in that ratio: Bergstra et al. 2011,
    §4.1). Ties keep their drawing order, so the ranking is reproducible."""
    points = good.sample(rng, n)
    score = good.log_pdf(points) - bad.log_pdf(points)
    ranked: Array = points[np.argsort(-score, kind="stable")]
    return ranked


def _option(u: Any, size: int) -> Any:
    """Which of ``size`` equal bins of [0, 1] holds each ``u``."""
    return np.minimum((np.asarray(u) * size).astype(np.int64), size - 1)


def _cols(d: int) -> npt.NDArray[np.int64]:
    return np.arange(d, dtype=np.int64)[None, :]


def _truncated_normal(mu: Array, sigma: float, u: Array) -> Array:
    """Inverse-CDF draws from N(mu, sigma) truncated to [0, 1], from uniforms ``u``."""
    from scipy.special import ndtri

    a, b = _ndtr(-mu / sigma), _ndtr((1 - mu) / sigma)
    x: Array = mu + sigma * ndtri(a + u * (b - a))
    clipped: Array = np.clip(np.nan_to_num(x, nan=0.5), 0.0, 1.0)
    return clipped


def _logsumexp(a: Array, axis: int) -> Array:
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        out: Array = np.log(np.sum(np.exp(a - top), axis=axis)) + np.squeeze(top, axis=axis)
    return out

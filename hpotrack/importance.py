"""Hyperparameter importance: fANOVA main effects of a random forest, in numpy.

The estimator of Hutter, Hoos and Leyton-Brown (2014), "An Efficient Approach for Assessing
Hyperparameter Importance" (ICML), which Optuna also uses by default: fit a random forest
(Breiman 2001) of regression trees to the objective over the unit-cube encoding of the
trials' parameters; each tree is piecewise constant on boxes, so its functional ANOVA
decomposition over the uniform measure of the cube is exact. The importance of parameter
``i`` is the variance of the tree's marginal ``f_i(x_i) = ∫ f(x) dx_{-i}`` divided by the
tree's total variance (a first-order Sobol index), averaged over the trees; what is left
of 1 is interactions. The uniform measure over the encoding means log parameters are
judged on their log scale and a ``Choice`` as evenly spaced ordered options.

Trees split on every parameter at each node (as scikit-learn's regression forests do by
default); randomness comes from bootstrap samples, seeded, so the same trials give the same
answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
ESTIMATOR = "fANOVA on a random forest (Hutter et al. 2014)"
MAX_SAMPLES = 500  # bootstrap sample size cap: big studies stay fast
MIN_LEAF = 3  # rows on each side of a split: fewer than twice this, no tree ever splits


@dataclass(frozen=True)
class Leaves:
    """A fitted regression tree as the boxes of its leaves: ``lo[k] <= x < hi[k]`` ->
    ``value[k]``; the boxes partition the unit cube."""

    lo: Array
    hi: Array
    value: Array


def fanova(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    n_trees: int = 32,
    min_leaf: int = MIN_LEAF,
    max_depth: int = 12,
    seed: int = 0,
) -> tuple[Array, Array]:
    """Main-effect share of variance of each column of ``x`` (points of the unit cube, shape
    (n, d)) for ``y`` (shape (n,)): mean and standard deviation over the trees. ``y`` is
    divided by its largest magnitude first: shares do not change with the scale, and the
    squares summed overflow for values near ±1e300 (every share came out 0)."""
    points, values = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    largest = float(np.abs(values).max()) if values.size else 0.0
    if largest > 0:
        values = values / largest
    rng = np.random.default_rng(seed)
    n = len(values)
    shares = []
    for _ in range(n_trees):
        sample = rng.integers(n, size=min(n, MAX_SAMPLES))
        tree = fit_tree(points[sample], values[sample], min_leaf=min_leaf, max_depth=max_depth)
        effects = main_effects(tree)
        if effects is not None:
            shares.append(effects)
    if not shares:  # every tree is constant: nothing explains anything
        zero = np.zeros(points.shape[1])
        return zero, zero
    stacked = np.array(shares)
    return stacked.mean(axis=0), stacked.std(axis=0)


def fit_tree(x: Array, y: Array, *, min_leaf: int, max_depth: int) -> Leaves:
    """A CART regression tree (least squares, midpoint thresholds) as its leaf boxes."""
    d = x.shape[1]
    lo, hi, value = [], [], []
    stack = [(np.arange(len(y)), np.zeros(d), np.ones(d), 0)]
    while stack:
        rows, low, high, depth = stack.pop()
        split = None if depth >= max_depth else best_split(x[rows], y[rows], min_leaf)
        if split is None:
            lo.append(low)
            hi.append(high)
            value.append(float(y[rows].mean()))
            continue
        column, threshold = split
        left = x[rows, column] < threshold
        left_high, right_low = high.copy(), low.copy()
        left_high[column] = right_low[column] = threshold
        stack.append((rows[left], low, left_high, depth + 1))
        stack.append((rows[~left], right_low, high, depth + 1))
    return Leaves(np.array(lo), np.array(hi), np.array(value))


def best_split(x: Array, y: Array, min_leaf: int) -> tuple[int, float] | None:
    """(column, threshold) of the split with the least squared error, every column at once;
    None when no split leaves ``min_leaf`` rows on both sides and lowers the error."""
    m = len(y)
    if m < 2 * min_leaf or y.min() == y.max():
        return None
    order = np.argsort(x, axis=0, kind="stable")
    xs, ys = x[order, np.arange(x.shape[1])], y[order]
    left = np.arange(1, m, dtype=np.float64)[:, None]
    s1, s2 = np.cumsum(ys, axis=0)[:-1], np.cumsum(ys**2, axis=0)[:-1]
    t1, t2 = ys.sum(axis=0), (ys**2).sum(axis=0)
    sse = (s2 - s1**2 / left) + ((t2 - s2) - (t1 - s1) ** 2 / (m - left))
    valid = (xs[1:] > xs[:-1]) & (left >= min_leaf) & (m - left >= min_leaf)
    sse = np.where(valid, sse, np.inf)
    row, column = np.unravel_index(int(np.argmin(sse)), sse.shape)
    if not sse[row, column] < float(t2[0] - t1[0] ** 2 / m) * (1 - 1e-12):
        return None
    return int(column), float((xs[row, column] + xs[row + 1, column]) / 2)


def main_effects(tree: Leaves) -> Array | None:
    """Each variable's main-effect variance over the tree's total variance (None for a
    constant tree): fANOVA's exact marginals of a piecewise constant function."""
    width = tree.hi - tree.lo
    volume = width.prod(axis=1)
    mean = float(volume @ tree.value)
    total = float(volume @ (tree.value - mean) ** 2)
    if total <= 1e-300:
        return None
    shares = np.empty(width.shape[1])
    for i in range(width.shape[1]):
        cuts = np.unique(np.concatenate([tree.lo[:, i], tree.hi[:, i]]))
        middle = (cuts[1:] + cuts[:-1]) / 2
        inside = (tree.lo[:, i, None] <= middle) & (middle < tree.hi[:, i, None])
        marginal = (tree.value * volume / width[:, i]) @ inside
        shares[i] = float(np.diff(cuts) @ (marginal - mean) ** 2) / total
    return shares

"""Hypergradient descent: one ridge penalty per pixel on scikit-learn's digits.

    python examples/ridge_hypergradient.py            # 50 trials into ./hpotrack.db, ~5 s
    python examples/ridge_hypergradient.py 20         # a smaller budget (the study's total)
    python examples/ridge_hypergradient.py --check    # hypergradient vs finite differences
    hpotrack lineage ridge-hypergradient              # the chain of gradient steps

Ridge regression on one-hot targets (one-vs-rest, 10 outputs) from the 64 standardised
pixels, trained on 200 digits, with 64 hyperparameters: a penalty ``lam_j`` per pixel,

    W(lam) = (X'X + diag(lam))^-1 X'Y,

and the objective is the validation mean squared error ``L = |X_v W - Y_v|^2 / (n_v K)``
on 500 other digits (the remaining 1,097 are a test set, never used by the search). Its
gradient with respect to every penalty comes in closed form by implicit differentiation:
``A W = X'Y`` with ``A = X'X + diag(lam)`` gives ``dW/dlam_j = -A^-1 e_j W[j, :]``, so

    dL/dlam_j = -sum_k (A^-1 G)[j, k] W[j, k],   G = dL/dW = 2 X_v'(X_v W - Y_v) / (n_v K)

(A is symmetric): one extra solve with the matrix already at hand. The function returns it
as ``{"val_mse": L, "hypergrad": {"lam_00": ..., ...}}`` and ``method="gradient"`` follows
it with Adam in the log-scaled unit cube, from lam_j = 1 everywhere; every step is a trial
with a ``gradient-step`` lineage edge to the one before.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

import hpotrack as hp

PIXELS = 64
CLASSES = 10
N_TRAIN, N_VAL = 200, 500
NAMES = [f"lam_{j:02d}" for j in range(PIXELS)]  # lam_<8 * row + column>

space = {name: hp.Float(1e-4, 1e4, log=True) for name in NAMES}


class Split(NamedTuple):
    """Standardised pixels and one-hot targets of the training, validation and test digits
    (scaled with the training part's statistics; targets centred on its class shares)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@functools.cache
def load_split(seed: int = 0) -> Split:
    """The digits split 200 / 500 / 1,097 (train stratified), shuffled by ``seed``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, labels = load_digits(return_X_y=True)
    y = np.eye(CLASSES)[labels]
    xt, xr, yt, yr = train_test_split(x, y, train_size=N_TRAIN, stratify=labels, random_state=seed)
    xv, xs, yv, ys = train_test_split(xr, yr, train_size=N_VAL, random_state=seed)
    scaler = StandardScaler().fit(xt)  # a constant pixel stays 0 (scale 1)
    shares = yt.mean(axis=0)  # the intercept: predictions are shares + X W
    return Split(
        scaler.transform(xt), yt - shares, scaler.transform(xv), yv - shares,
        scaler.transform(xs), ys - shares,
    )  # fmt: skip


def fit(lams: np.ndarray, split: Split) -> tuple[np.ndarray, np.ndarray]:
    """(A, W): the regularised Gram matrix and the ridge weights (64 x 10) for ``lams``."""
    a = split.x_train.T @ split.x_train + np.diag(lams)
    return a, np.linalg.solve(a, split.x_train.T @ split.y_train)


def mse(weights: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error over samples and classes."""
    return float(np.mean((x @ weights - y) ** 2))


def accuracy(weights: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """Share of digits whose largest output is the right class."""
    return float(np.mean((x @ weights).argmax(axis=1) == y.argmax(axis=1)))


def validation_loss(lams: np.ndarray, split: Split) -> tuple[float, np.ndarray]:
    """(validation MSE, its gradient with respect to each penalty) by implicit
    differentiation: dL/dlam_j = -sum_k (A^-1 G)[j, k] W[j, k]."""
    a, weights = fit(lams, split)
    residual = split.x_val @ weights - split.y_val
    loss = float(np.mean(residual**2))
    g = 2.0 * split.x_val.T @ residual / residual.size  # dL/dW
    return loss, -(np.linalg.solve(a, g) * weights).sum(axis=1)


def finite_difference_error(split: Split, seed: int = 1, h: float = 1e-5) -> float:
    """Largest |analytic - central difference| over the 64 penalties, relative to the
    largest derivative, at random penalties; in log units (lam_j dL/dlam_j)."""
    lams = 10.0 ** np.random.default_rng(seed).uniform(-4, 4, PIXELS)
    analytic = validation_loss(lams, split)[1] * lams
    numeric = np.empty(PIXELS)
    for j in range(PIXELS):
        step = np.zeros(PIXELS)
        step[j] = h
        up = validation_loss(lams * np.exp(step), split)[0]
        down = validation_loss(lams * np.exp(-step), split)[0]
        numeric[j] = (up - down) / (2 * h)
    return float(np.max(np.abs(analytic - numeric)) / np.max(np.abs(analytic)))


def penalties(params: Mapping[str, Any]) -> np.ndarray:
    """The 64 penalties of a trial, in pixel order."""
    return np.array([params[name] for name in NAMES], dtype=float)


@hp.tune(space, method="gradient", study="ridge-hypergradient", objective="val_mse", seed=0)
def ridge(**params: float) -> dict[str, object]:
    """Fit the ridge model; return the validation MSE and its hypergradient."""
    split = load_split()
    lams = penalties(params)
    loss, gradient = validation_loss(lams, split)
    _, weights = fit(lams, split)
    return {
        "val_mse": loss,
        "val_accuracy": accuracy(weights, split.x_val, split.y_val),
        "hypergrad": dict(zip(NAMES, map(float, gradient), strict=True)),
    }


def shared_penalty(split: Split) -> tuple[float, float]:
    """Plain ridge for comparison: (validation MSE, lam) of the best single penalty on a
    grid of 81 values from 1e-4 to 1e4."""
    return min((validation_loss(np.full(PIXELS, lam), split)[0], lam)
               for lam in np.logspace(-4, 4, 81))  # fmt: skip


def test_scores(lams: np.ndarray, split: Split) -> str:
    """Test MSE and accuracy of the model fitted with ``lams``, as text."""
    _, weights = fit(lams, split)
    x, y = split.x_test, split.y_test
    return f"test MSE {mse(weights, x, y):.5f}, accuracy {accuracy(weights, x, y):.3f}"


def main() -> None:
    """Run the search (or the gradient check) and print what it found."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("n_trials", nargs="?", type=int, default=50, help="default 50")
    parser.add_argument("--check", action="store_true", help="check the hypergradient only")
    args = parser.parse_args()
    split = load_split()
    if args.check:
        error = finite_difference_error(split)
        print(f"hypergradient vs central differences: largest relative error {error:.2e}")
        raise SystemExit(0 if error < 1e-4 else 1)
    study = ridge.optimize(n_trials=args.n_trials)
    first, best = study.trials[0], study.best
    assert first.value is not None  # study.best has a value; trials[0] may have none
    lams = penalties(best.params)
    single, lam = shared_penalty(split)
    print(f"validation MSE: {first.value:.5f} at lam = 1 (trial 0) -> best {best.value:.5f} "
          f"(trial {best.number} of {len(study.trials)})")  # fmt: skip
    print(f"  on the {len(split.y_test):,} held-out test digits: {test_scores(lams, split)}")
    shared = test_scores(np.full(PIXELS, lam), split)
    print(f"plain ridge, one penalty for every pixel (best of 81 from 1e-4 to 1e4): validation "
          f"MSE {single:.5f} at lam = {lam:.3g}; {shared}")  # fmt: skip
    seen = [bool(split.x_train[:, j].any()) for j in range(PIXELS)]  # not blank in all
    order = [j for j in np.argsort(lams) if seen[j]]
    print("smallest penalties: " + ", ".join(f"{NAMES[j]}={lams[j]:.3g}" for j in order[:4]))
    print("largest penalties:  " + ", ".join(f"{NAMES[j]}={lams[j]:.3g}" for j in order[-4:]))
    print("log10 penalty per pixel (8 x 8 image; '.': blank in every training digit):")
    cells = [
        f"{v:+5.1f}" if used else "    ." for v, used in zip(np.log10(lams), seen, strict=True)
    ]
    for row in range(8):
        print("  " + " ".join(cells[8 * row : 8 * row + 8]))
    print("the chain of steps: hpotrack lineage ridge-hypergradient")


if __name__ == "__main__":
    main()

"""The Gaussian process behind ``bayes``: evidence and its gradient, predictions, fitting."""

from __future__ import annotations

import numpy as np
import pytest

from hpotrack.methods import gp

CATEGORICAL = np.array([False, False, True])


def data(n: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two numeric columns and one categorical (3 options); standardised outputs."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3))
    x[:, 2] = rng.integers(0, 3, n)
    y = np.sin(5 * x[:, 0]) + (x[:, 1] - 0.3) ** 2 + 0.5 * x[:, 2]
    return x, (y - y.mean()) / y.std()


def fixed(x: np.ndarray, y: np.ndarray, noise: float = 1e-6) -> gp.GaussianProcess:
    hyper = gp.Hyperparameters(np.array([0.3, 0.5, 1.0]), signal=1.0, noise=noise)
    return gp.GaussianProcess(x, y, CATEGORICAL, hyper)


def test_low_noise_model_interpolates_the_data() -> None:
    x, y = data()
    mean, variance = fixed(x, y).predict(x)
    np.testing.assert_allclose(mean, y, atol=1e-3)
    assert variance.max() < 1e-4


def test_variance_shrinks_near_data_and_reaches_the_signal_far_away() -> None:
    x, y = data()
    model = fixed(x, y)
    near = x[:5].copy()
    near[:, 0] += 0.01
    far = np.array([[5.0, 5.0, 0.0]])
    _, v_data = model.predict(x[:5])
    _, v_near = model.predict(near)
    _, v_far = model.predict(far)
    assert np.all(v_data < v_near) and np.all(v_near < 0.1)
    assert v_far[0] == pytest.approx(1.0, rel=1e-6)


def test_categorical_columns_use_a_mismatch_distance() -> None:
    x, y = data()
    model = fixed(x, y)
    point = np.array([[0.5, 0.5, 0.0]])
    r2_same = model._cross_r2(point)
    other = point.copy()
    other[0, 2] = 2.0  # option 2 is no farther from option 0 than option 1 is
    expected = r2_same + (x[:, 2] != 2.0) - (x[:, 2] != 0.0)  # lengthscale 1 on that column
    np.testing.assert_allclose(model._cross_r2(other), expected, atol=1e-12)


def test_evidence_gradient_matches_finite_differences() -> None:
    x, y = data()
    deltas = gp.pairwise_deltas(x, CATEGORICAL)
    mean, sd = np.zeros(5), np.full(5, 2.0)
    theta = np.array([-1.0, 0.3, 0.5, 0.2, -4.0])
    _, gradient = gp.negative_log_evidence(theta, deltas, y, mean, sd)
    step = 1e-6
    numeric = [
        (
            gp.negative_log_evidence(theta + e, deltas, y, mean, sd)[0]
            - gp.negative_log_evidence(theta - e, deltas, y, mean, sd)[0]
        )
        / (2 * step)
        for e in np.eye(5) * step
    ]
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-5)


def test_prediction_gradients_match_finite_differences() -> None:
    x, y = data()
    model = fixed(x, y, noise=1e-3)
    points = np.array([[0.2, 0.7, 1.0], [0.9, 0.1, 0.0]])
    _, _, d_mean, d_variance = model.predict_with_gradient(points)
    assert np.all(d_mean[:, 2] == 0) and np.all(d_variance[:, 2] == 0)  # categorical: none
    step = 1e-6
    for j in (0, 1):
        shift = np.zeros(3)
        shift[j] = step
        (m_up, v_up), (m_down, v_down) = (
            model.predict(points + shift),
            model.predict(points - shift),
        )
        np.testing.assert_allclose(d_mean[:, j], (m_up - m_down) / (2 * step), rtol=1e-4)
        np.testing.assert_allclose(d_variance[:, j], (v_up - v_down) / (2 * step), rtol=1e-4)


def test_fit_is_deterministic_for_a_seed_and_explains_the_data() -> None:
    x, y = data(40)
    first = gp.fit(x, y, CATEGORICAL, np.random.default_rng(3))
    second = gp.fit(x, y, CATEGORICAL, np.random.default_rng(3))
    np.testing.assert_array_equal(first.hyper.lengthscales, second.hyper.lengthscales)
    assert first.hyper.noise == second.hyper.noise
    x_test, y_test = data(200, seed=1)
    mean, _ = first.predict(x_test)
    assert np.corrcoef(mean, y_test)[0, 1] > 0.9
    low, high = np.exp(gp.LOG_NOISE_BOUNDS)
    assert low <= first.hyper.noise <= high


def test_fit_finds_the_irrelevant_column() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((40, 2))
    y = np.sin(6 * x[:, 0])
    model = gp.fit(x, (y - y.mean()) / y.std(), np.array([False, False]), rng)
    assert model.hyper.lengthscales[1] > 5 * model.hyper.lengthscales[0]


def test_duplicate_points_factor_with_jitter() -> None:
    ones = np.ones((3, 3))  # rank one: not positive definite without jitter
    factor = gp.cholesky(ones)
    np.testing.assert_allclose(factor @ factor.T, ones, atol=1e-3)


def test_conditioning_on_believed_values_collapses_their_variance() -> None:
    x, y = data()
    model = fixed(x, y, noise=1e-4)
    pending = np.array([[0.55, 0.45, 1.0]])
    believed = model.condition(pending, model.predict(pending)[0])
    assert believed.predict(pending)[1][0] < 1e-3 < model.predict(pending)[1][0]
    np.testing.assert_allclose(believed.predict(x)[0], model.predict(x)[0], atol=1e-6)


def test_works_without_threadpoolctl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gp, "_threadpools", [None])
    with gp.single_threaded_blas():
        x, y = data(10)
        assert np.isfinite(fixed(x, y).predict(x)[0]).all()


def test_warp_puts_the_prior_mean_at_the_quantile_asked_for() -> None:
    """The upper quartile by default (unexplored regions expected mediocre); bayes asks
    for the median on spaces with a Choice, so an option seen only at its start-up
    points is not written off (benchmarks/README.md, "bayes on mixed spaces")."""
    losses = np.random.default_rng(1).normal(0.0, 1.0, 41)
    assert np.quantile(gp.warp(losses), 0.75) == pytest.approx(0.0, abs=1e-12)
    assert np.median(gp.warp(losses, 0.5)) == pytest.approx(0.0, abs=1e-12)
    assert np.array_equal(np.argsort(gp.warp(losses, 0.5)), np.argsort(losses))


def test_warp_keeps_the_order_and_tames_a_heavy_tail_of_poor_losses() -> None:
    losses = np.exp(np.random.default_rng(0).normal(0.0, 3.0, 60))  # Rosenbrock-like spread
    warped = gp.warp(losses)
    assert np.array_equal(np.argsort(warped), np.argsort(losses))
    assert warped.std() == pytest.approx(1.0) and np.median(warped) < 0 < warped.max() < 3
    np.testing.assert_array_equal(gp.warp(np.full(4, 3.0)), np.zeros(4))
    for extreme in ([1e300, -1e300, 5.0], [1e-300, 2e-300, 0.0]):
        assert np.isfinite(gp.warp(np.array(extreme))).all()
    symmetric = np.linspace(-1.0, 1.0, 21)  # nothing to tame: only standardised and shifted
    np.testing.assert_allclose(np.diff(gp.warp(symmetric)), np.diff(symmetric) / symmetric.std())

"""The Parzen estimator behind TPE and BOHB: a proper density on the cube, sampled faithfully."""

from __future__ import annotations

import numpy as np
import pytest

from hpotrack.methods.parzen import Dimensions, ParzenEstimator, recency_weights
from hpotrack.space import Choice, Float, Int, Space
from hpotrack.testing.method_suite import MIXED_SPACE

# continuous, 5 ordered bins, 4 unordered options
MIXED = Dimensions((0, 5, 4), (False, False, True))


def observations(n: int, seed: int = 0, dims: Dimensions = MIXED) -> np.ndarray:
    return np.random.default_rng(seed).random((n, len(dims)))


@pytest.mark.parametrize("multivariate", [True, False])
@pytest.mark.parametrize("n", [0, 1, 8])
def test_density_integrates_to_one_over_the_cube(multivariate: bool, n: int) -> None:
    model = ParzenEstimator(observations(n), MIXED, multivariate=multivariate)
    uniform = np.random.default_rng(1).random((40_000, 3))
    integral = float(np.exp(model.log_pdf(uniform)).mean())  # Monte Carlo over the unit cube
    assert integral == pytest.approx(1.0, abs=0.05)


def test_without_observations_the_density_is_the_uniform_prior() -> None:
    model = ParzenEstimator(np.empty((0, 3)), MIXED)
    points = np.random.default_rng(2).random((100, 3))
    np.testing.assert_allclose(model.log_pdf(points), 0.0, atol=1e-12)
    assert model.sample(np.random.default_rng(3), 10).shape == (10, 3)


def test_samples_stay_in_the_cube_and_gather_around_the_observations() -> None:
    dims = Dimensions.continuous(2)
    centre = np.array([0.2, 0.85])
    obs = centre + 0.02 * np.random.default_rng(4).standard_normal((30, 2))
    model = ParzenEstimator(obs, dims, prior_weight=0.1)
    samples = model.sample(np.random.default_rng(5), 4000)
    assert samples.min() >= 0.0 and samples.max() <= 1.0
    np.testing.assert_allclose(np.median(samples, axis=0), centre, atol=0.03)
    near, far = model.log_pdf(centre[None, :]), model.log_pdf(np.array([[0.8, 0.2]]))
    assert near[0] > far[0] + 3


def test_discrete_samples_sit_at_bin_centres_and_the_density_is_flat_in_a_bin() -> None:
    model = ParzenEstimator(observations(6), MIXED)
    samples = model.sample(np.random.default_rng(6), 500)
    np.testing.assert_allclose((samples[:, 1] * 5) % 1, 0.5)
    np.testing.assert_allclose((samples[:, 2] * 4) % 1, 0.5)
    a, b = np.array([[0.3, 0.41, 0.1]]), np.array([[0.3, 0.59, 0.24]])  # same bins
    assert model.log_pdf(a)[0] == pytest.approx(model.log_pdf(b)[0])


def test_categorical_kernel_puts_most_mass_on_observed_options() -> None:
    dims = Dimensions((4,), (True,))
    obs = np.full((20, 1), (2 + 0.5) / 4)  # option 2, twenty times
    model = ParzenEstimator(obs, dims)
    options = (model.sample(np.random.default_rng(7), 2000)[:, 0] * 4).astype(int)
    share = np.bincount(options, minlength=4) / 2000
    assert share[2] > 0.8 and share.min() > 0  # the others keep some mass (kernel, prior)
    log_p = model.log_pdf((np.arange(4)[:, None] + 0.5) / 4)
    assert np.argmax(log_p) == 2
    assert float(np.exp(log_p).sum() / 4) == pytest.approx(1.0)  # masses sum to one


def test_single_option_choice_is_certain() -> None:
    model = ParzenEstimator(np.full((3, 1), 0.5), Dimensions((1,), (True,)))
    assert model.log_pdf(np.array([[0.5]]))[0] == pytest.approx(0.0)


@pytest.mark.parametrize("dims", [Dimensions.continuous(2), Dimensions((4, 10), (True, False))])
def test_bandwidth_shrinks_with_more_observations(dims: Dimensions) -> None:
    few = ParzenEstimator(observations(10, 8, dims), dims).bandwidths
    many = ParzenEstimator(observations(1000, 8, dims), dims).bandwidths
    assert np.all(many < few)


def test_bandwidth_factor_and_floor_are_applied() -> None:
    dims = Dimensions.continuous(1)
    obs = np.full((50, 1), 0.5)
    assert ParzenEstimator(obs, dims, min_bandwidth=0.2).bandwidths[0] == pytest.approx(0.2)
    wide = ParzenEstimator(observations(50, 9, dims), dims, bandwidth_factor=2.0).bandwidths
    narrow = ParzenEstimator(observations(50, 9, dims), dims).bandwidths
    assert wide[0] == pytest.approx(2 * narrow[0])
    options = Dimensions((3,), (True,))  # categorical kernels ignore the factor
    obs = observations(20, 9, options)
    assert ParzenEstimator(obs, options, bandwidth_factor=0.3).bandwidths == pytest.approx(
        ParzenEstimator(obs, options).bandwidths
    )


def test_univariate_bandwidth_uses_one_dimensional_rule() -> None:
    obs = observations(50, 10, Dimensions.continuous(4))
    joint = ParzenEstimator(obs, Dimensions.continuous(4)).bandwidths
    single = ParzenEstimator(obs, Dimensions.continuous(4), multivariate=False).bandwidths
    assert np.all(single < joint)  # n ** (-1/5) shrinks faster than n ** (-1/8)


def test_weights_are_respected() -> None:
    dims = Dimensions.continuous(1)
    obs = np.array([[0.1], [0.9]])
    model = ParzenEstimator(obs, dims, weights=[9.0, 1.0], prior_weight=0.01, bandwidth_factor=0.2)
    samples = model.sample(np.random.default_rng(11), 4000)[:, 0]
    assert np.mean(samples < 0.5) == pytest.approx(0.9, abs=0.04)
    assert model.log_pdf(np.array([[0.1]]))[0] > model.log_pdf(np.array([[0.9]]))[0]


def test_recency_weights_ramp_down_old_observations() -> None:
    assert np.all(recency_weights(10) == 1)
    w = recency_weights(100)
    assert w.shape == (100,) and w[0] == pytest.approx(0.01) and np.all(w[-25:] == 1)
    assert np.all(np.diff(w) >= 0)


def test_multivariate_kernels_capture_interactions() -> None:
    dims = Dimensions.continuous(2)
    obs = np.array([[0.1, 0.1], [0.9, 0.9]] * 10)
    joint = ParzenEstimator(obs, dims, prior_weight=0.1)
    independent = ParzenEstimator(obs, dims, prior_weight=0.1, multivariate=False)
    off_diagonal = np.array([[0.1, 0.9]])
    assert joint.log_pdf(off_diagonal)[0] < independent.log_pdf(off_diagonal)[0] - 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"weights": [1.0]},
        {"weights": [-1.0, 1.0, 1.0]},
        {"weights": [0.0, 0.0, 0.0]},
        {"prior_weight": 0.0},
        {"bandwidth_factor": float("nan")},
        {"min_bandwidth": 0.0},
    ],
)
def test_invalid_arguments_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ParzenEstimator(observations(3), MIXED, **kwargs)  # type: ignore[arg-type]


def test_dimensions_follow_the_space_encoding() -> None:
    space = Space.from_user(
        {
            "a": Float(0.0, 1.0),
            "b": Float(0.0, 0.5, step=0.05),
            "c": Int(1, 4),
            "d": Int(8, 512, log=True),
            "e": Choice(["x", "y", "z"]),
            "f": Int(0, 10, step=5),
        }
    )
    dims = Dimensions.of(space)
    assert dims.sizes == (0, 11, 4, 0, 3, 3)
    assert dims.categorical == (False, False, False, False, True, False)


def test_encode_many_matches_space_encode() -> None:
    rng = np.random.default_rng(12)
    rows = [MIXED_SPACE.decode(u) for u in rng.random((200, len(MIXED_SPACE)))]
    rows += [MIXED_SPACE.decode(u) for u in (np.zeros(6), np.ones(6))]
    expected = np.array([MIXED_SPACE.encode(row) for row in rows])
    np.testing.assert_allclose(MIXED_SPACE.encode_many(rows), expected, rtol=0, atol=1e-12)
    mixed_kinds = Space.from_user({"k": Choice([1, True, 1.5, None, "1"])})
    rows = [{"k": option} for option in (1, True, 1.5, None, "1", True)]
    expected = np.array([mixed_kinds.encode(row) for row in rows])
    np.testing.assert_array_equal(mixed_kinds.encode_many(rows), expected)

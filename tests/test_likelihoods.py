"""The continuous Bernoulli (derivations/likelihoods.md, Eqs. (L3)-(L8)): its normalizer, derivative and mean against
an arbitrary-precision reference and quadrature, its gradient against central differences, its extremes, and the
Bernoulli's properties that still hold."""
import mpmath
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.integrate import quad

from conftest import likelihood_of
from experiments.harness.training import logits_of_means
from nn.continuous_bernoulli import (SERIES_BELOW, continuous_bernoulli_log_likelihood,
                                     continuous_bernoulli_log_likelihood_backward, continuous_bernoulli_log_normalizer,
                                     continuous_bernoulli_log_normalizer_derivative, continuous_bernoulli_mean)
from nn.densities import bernoulli_log_likelihood
from nn.gradcheck import numerical_gradient, relative_error

mpmath.mp.dps = 50
# logits across the range that training meets, with the neighbourhoods of 0 and of the series' switch drawn densely
logits = st.one_of(st.floats(-1e4, 1e4), st.floats(-1e-3, 1e-3), st.floats(SERIES_BELOW * 0.9, SERIES_BELOW * 1.1),
                   st.just(0.0))


def reference_log_normalizer(eta):
    """log(eta / tanh(eta / 2)) with 50 significant digits (the closed form, whose 0 / 0 at eta = 0 is log 2)."""
    eta = mpmath.mpf(eta)
    return mpmath.log(2) if eta == 0 else mpmath.log(eta / mpmath.tanh(eta / 2))


def reference_derivative(eta):
    """1/eta - 1/sinh(eta) with 50 significant digits; its cancellation near 0 costs digits the reference can spare."""
    if eta == 0:
        return mpmath.mpf(0)
    with mpmath.workdps(50 + 2 * max(0, -int(np.log10(abs(eta))))):   # cancellation loses 2 log10(1/eta) digits
        eta = mpmath.mpf(eta)
        return 1 / eta - 1 / mpmath.sinh(eta)


@settings(max_examples=300, deadline=None)
@given(logits)
def test_log_normalizer_and_derivative_match_a_50_digit_reference(eta):
    value = continuous_bernoulli_log_normalizer(np.float64(eta))
    derivative = continuous_bernoulli_log_normalizer_derivative(np.float64(eta))
    assert value == pytest.approx(float(reference_log_normalizer(eta)), rel=4e-16, abs=0)
    assert derivative == pytest.approx(float(reference_derivative(eta)), rel=1e-14, abs=1e-300)


@settings(max_examples=300, deadline=None)
@given(logits)
def test_float32_is_accurate_to_float32(eta):
    """Training runs in float32: the same formulas keep a few ulp of float32 there."""
    eta32 = np.float32(eta)
    value = continuous_bernoulli_log_normalizer(eta32)
    derivative = continuous_bernoulli_log_normalizer_derivative(eta32)
    assert value.dtype == derivative.dtype == np.float32
    assert value == pytest.approx(float(reference_log_normalizer(float(eta32))), rel=5e-7)
    assert derivative == pytest.approx(float(reference_derivative(float(eta32))), rel=2e-5, abs=1e-38)


def test_the_closed_form_at_the_points_everyone_checks():
    assert continuous_bernoulli_log_normalizer(np.float64(0.0)) == np.log(2)     # C(1/2) = 2
    assert continuous_bernoulli_log_normalizer_derivative(np.float64(0.0)) == 0.0
    assert continuous_bernoulli_mean(np.float64(0.0)) == 0.5
    # log C is even and its derivative odd
    eta = np.array([1e-7, 0.1, 0.25, 3.0, 700.0])
    np.testing.assert_array_equal(continuous_bernoulli_log_normalizer(-eta), continuous_bernoulli_log_normalizer(eta))
    np.testing.assert_array_equal(continuous_bernoulli_log_normalizer_derivative(-eta),
                                  -continuous_bernoulli_log_normalizer_derivative(eta))


QUADRATURE_LOGITS = [0.0, 1e-6, -0.1, SERIES_BELOW, -1.0, 3.0, -10.0, 100.0, -1e4, 1e4]


def density_integral(eta, power):
    """int_0^1 x^power CB(x; sigmoid(eta)) dx by adaptive quadrature, with a break point where a steep density
    (large |eta|) turns; the density is evaluated in log space by continuous_bernoulli_log_likelihood."""
    def density(x):
        return x ** power * np.exp(continuous_bernoulli_log_likelihood(np.array([x]), np.array([eta])))
    width = min(0.5, 40 / abs(eta)) if eta else 0.5     # beyond it, a steep density has e^{-40} of its mass
    points = sorted({fraction * width for fraction in (1 / 40, 1 / 8, 1 / 2, 1)}
                    | {1 - fraction * width for fraction in (1 / 40, 1 / 8, 1 / 2, 1)})
    value, error = quad(density, 0, 1, points=points, limit=200, epsabs=1e-13, epsrel=1e-12)
    return value


@pytest.mark.parametrize("eta", QUADRATURE_LOGITS)
def test_the_density_integrates_to_one(eta):
    assert density_integral(eta, 0) == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize("eta", QUADRATURE_LOGITS)
def test_the_mean_is_the_quadrature_mean_not_sigmoid(eta):
    mean = continuous_bernoulli_mean(np.float64(eta))
    assert mean == pytest.approx(density_integral(eta, 1), abs=1e-10)
    if 0 < abs(eta) < 100:
        assert abs(mean - 1 / (1 + np.exp(-eta))) > 1e-3 * min(abs(eta), 1)   # the Bernoulli's mean is not it


def test_log_likelihood_gradient_matches_central_differences():
    rng = np.random.default_rng(0)
    x = rng.random((3, 8))
    eta = np.concatenate([4 * rng.standard_normal((3, 4)), 0.3 * rng.standard_normal((3, 4))], axis=1)
    eta[0, :3] = [0.0, SERIES_BELOW, -SERIES_BELOW * 0.999]   # the point where the closed form is 0 / 0, the switch
    dout = rng.standard_normal(3)
    dx, dlogits = continuous_bernoulli_log_likelihood_backward(dout, x, eta)
    for analytic, argument in ((dx, x), (dlogits, eta)):
        numeric = numerical_gradient(lambda: float(np.sum(dout * continuous_bernoulli_log_likelihood(x, eta))),
                                     argument)
        assert relative_error(analytic, numeric) < 1e-8


def test_the_gradient_is_the_score_x_minus_the_mean():
    """An exponential family in eta: d log CB / d eta = x - E[x] (Eq. (L7)), so its mean under CB is 0."""
    eta = np.array([-30.0, -2.0, 0.0, 0.1, 5.0])
    x = np.array([0.2, 0.9, 0.4, 0.0, 1.0])
    _, dlogits = continuous_bernoulli_log_likelihood_backward(np.ones(5), x[None].T, eta[None].T)
    np.testing.assert_allclose(dlogits[:, 0], x - continuous_bernoulli_mean(eta), rtol=1e-12, atol=1e-15)


@given(arrays(np.float64, 8, elements=st.floats(0, 1)), arrays(np.float64, 8, elements=st.floats(-1e4, 1e4)))
def test_finite_for_huge_logits(x, eta):
    assert np.isfinite(continuous_bernoulli_log_likelihood(x, eta))
    for grad in continuous_bernoulli_log_likelihood_backward(np.ones(()), x, eta):
        assert np.all(np.isfinite(grad))
    assert np.all((continuous_bernoulli_mean(eta) >= 0) & (continuous_bernoulli_mean(eta) <= 1))


LARGEST = float(np.finfo(np.float32).max)


@example(np.full(8, 4.58e17, np.float32))   # found by hypothesis: the series was once evaluated above its switch
@given(arrays(np.float32, 8, elements=st.floats(-LARGEST, LARGEST, width=32)))
def test_finite_in_float32_up_to_its_largest_logits(eta):
    """No overflow warning (the suite turns RuntimeWarnings into errors) and no infinity, even at 3.4e38."""
    x = np.full(8, 0.5, np.float32)
    assert np.isfinite(continuous_bernoulli_log_normalizer(eta)).all()
    assert np.isfinite(continuous_bernoulli_log_normalizer_derivative(eta)).all()
    assert np.isfinite(continuous_bernoulli_log_likelihood(x, eta / 1e30))


@given(arrays(np.float64, 8, elements=st.floats(-10, 10)))
def test_density_at_x_is_above_the_bernoulli_by_log_c(eta):
    """log C >= log 2 > 0: the CB's log-density exceeds the Bernoulli cross-entropy it normalizes, pixel by pixel
    (a positive bound on grey levels is no bug)."""
    x = np.linspace(0, 1, 8)
    gain = continuous_bernoulli_log_likelihood(x, eta) - bernoulli_log_likelihood(x, eta)
    assert gain >= 8 * np.log(2) - 1e-12


@pytest.mark.parametrize("eta", [-40.0, -3.0, 0.0, 1e-9, 0.7, 12.0, 300.0])
def test_dreams_are_drawn_from_the_continuous_bernoulli(eta):
    """The inverse distribution function of Eq. (L9) against the CB's CDF (expm1(eta x) / expm1(eta)), by
    Kolmogorov-Smirnov on 4000 draws; and the draws stay in [0, 1]."""
    from scipy.stats import kstest
    uniforms = np.random.default_rng(0).random(4000)
    draws = likelihood_of("continuous-bernoulli").sample(np.full(4000, eta), uniforms)
    assert np.all((draws >= 0) & (draws <= 1))
    if abs(eta) < 1e-6:
        cdf = lambda x: x
    elif eta > 0:            # 1 - F from the upper end, which does not overflow: expm1(-eta (1 - x)) / expm1(-eta)
        cdf = lambda x: 1 - np.expm1(-eta * (1 - x)) / np.expm1(-eta)
    else:
        cdf = lambda x: np.expm1(eta * x) / np.expm1(eta)
    assert kstest(draws, cdf).pvalue > 1e-3


@pytest.mark.parametrize("name", ["bernoulli", "continuous-bernoulli"])
def test_the_output_bias_that_reproduces_the_pixel_means(name):
    """--output-bias pixel-means: the logits whose mean (sigmoid, or the CB's Eq. (L8)) is each pixel's mean."""
    means = np.array([0.0, 1e-3, 0.2, 0.5, 0.9, 0.97, 1.0])
    likelihood = likelihood_of(name)
    np.testing.assert_allclose(likelihood.mean(logits_of_means(likelihood, means)), np.clip(means, 1e-3, 1 - 1e-3),
                               atol=1e-12)

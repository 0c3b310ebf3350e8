"""Gradient checks and property tests of the densities, the KL and log-mean-exp (backprop.md (B9)-(B16))."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nn import (StreamingLogSumExp, bernoulli_log_likelihood, bernoulli_log_likelihood_backward,
                gaussian_kl_from_standard_normal, gaussian_kl_from_standard_normal_backward,
                gaussian_log_density, gaussian_log_density_backward, log_mean_exp, log_mean_exp_backward)
from nn.gradcheck import numerical_gradient, relative_error

TOLERANCE = 1e-6


def check_vjp(value, backward, args, rng):
    """Each gradient returned by backward(dout, *args) against central differences of sum(dout * value)."""
    dout = rng.standard_normal(value(*args).shape)
    analytic = backward(dout, *args)
    for arg, grad in zip(args, analytic):
        numeric = numerical_gradient(lambda: float(np.sum(dout * value(*args))), arg)
        assert relative_error(grad, numeric) < TOLERANCE


def test_bernoulli_gradients():
    rng = np.random.default_rng(0)
    x, logits = rng.random((3, 7)), 4 * rng.standard_normal((3, 7))
    check_vjp(bernoulli_log_likelihood, bernoulli_log_likelihood_backward, (x, logits), rng)


def test_gaussian_log_density_gradients():
    rng = np.random.default_rng(1)
    z, mean, log_var = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    check_vjp(gaussian_log_density, gaussian_log_density_backward, (z, mean, log_var), rng)


def test_gaussian_kl_gradients():
    rng = np.random.default_rng(2)
    mean, log_var = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    check_vjp(gaussian_kl_from_standard_normal, gaussian_kl_from_standard_normal_backward, (mean, log_var), rng)


@pytest.mark.parametrize("axis", [0, 1])
def test_log_mean_exp_gradients(axis):
    rng = np.random.default_rng(3)
    a = 3 * rng.standard_normal((4, 5))
    dout = rng.standard_normal(log_mean_exp(a, axis).shape)
    numeric = numerical_gradient(lambda: float(np.sum(dout * log_mean_exp(a, axis))), a)
    assert relative_error(log_mean_exp_backward(dout, a, axis), numeric) < TOLERANCE


def test_gaussian_log_density_matches_scipy():
    from scipy.stats import multivariate_normal
    rng = np.random.default_rng(4)
    z, mean, log_var = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3)
    expected = multivariate_normal(mean, np.diag(np.exp(log_var))).logpdf(z)
    assert gaussian_log_density(z, mean, log_var) == pytest.approx(expected, rel=1e-12)


safe_logits = st.floats(-10, 10)  # there sigmoid(l) stays 4.5e-5 away from 0 and 1, so log(p), log(1 - p) are accurate
huge = st.floats(-1e4, 1e4, allow_nan=False)
unit = st.floats(0, 1)


@given(arrays(np.float64, 8, elements=unit), arrays(np.float64, 8, elements=safe_logits))
def test_bernoulli_equals_naive_formula_where_safe(x, logits):
    p = 1 / (1 + np.exp(-logits))
    naive = np.sum(x * np.log(p) + (1 - x) * np.log1p(-p))
    assert bernoulli_log_likelihood(x, logits) == pytest.approx(naive, rel=1e-9, abs=1e-9)


@given(arrays(np.float64, 8, elements=unit), arrays(np.float64, 8, elements=huge))
def test_bernoulli_is_finite_and_nonpositive_for_huge_logits(x, logits):
    """For binary x it is a log-probability (<= 0); finite for |logits| up to 1e4 (a naive log(p) gives -inf)."""
    binary = (x > 0.5).astype(np.float64)
    for targets in (x, binary):
        value = bernoulli_log_likelihood(targets, logits)
        assert np.isfinite(value)
    assert bernoulli_log_likelihood(binary, logits) <= 0
    for grad in bernoulli_log_likelihood_backward(np.ones(()), x, logits):
        assert np.all(np.isfinite(grad))


def test_bernoulli_at_extreme_logits_is_exact():
    """log sigmoid(1e4) = -e^{-1e4} ~ 0 and log(1 - sigmoid(1e4)) = -1e4, exactly in floating point."""
    assert bernoulli_log_likelihood(np.array([1.0]), np.array([1e4])) == 0.0
    assert bernoulli_log_likelihood(np.array([0.0]), np.array([1e4])) == -1e4
    assert bernoulli_log_likelihood(np.array([1.0]), np.array([-1e4])) == -1e4


@given(arrays(np.float64, 4, elements=st.floats(-20, 20)), arrays(np.float64, 4, elements=st.floats(-20, 20)))
def test_kl_is_nonnegative(mean, log_var):
    assert gaussian_kl_from_standard_normal(mean, log_var) >= 0


def test_kl_is_zero_exactly_at_the_prior():
    assert gaussian_kl_from_standard_normal(np.zeros(3), np.zeros(3)) == 0.0
    assert gaussian_kl_from_standard_normal(np.array([1e-3, 0, 0]), np.zeros(3)) > 0
    assert gaussian_kl_from_standard_normal(np.zeros(3), np.array([0, 1e-3, 0])) > 0


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, 2, elements=st.floats(-2, 2)), arrays(np.float64, 2, elements=st.floats(-2, 1)),
       st.integers(0, 2**32 - 1))
def test_kl_agrees_with_monte_carlo(mean, log_var, seed):
    """KL(q || p) = E_q[log q(z) - log p(z)]; the estimate from 200000 draws is within 5 standard errors."""
    rng = np.random.default_rng(seed)
    z = mean + np.exp(0.5 * log_var) * rng.standard_normal((200_000, 2))
    terms = gaussian_log_density(z, mean, log_var) - gaussian_log_density(z, 0.0, np.zeros(2))
    standard_error = terms.std() / np.sqrt(terms.size)
    assert abs(terms.mean() - gaussian_kl_from_standard_normal(mean, log_var)) <= 5 * standard_error + 1e-12


@given(arrays(np.float64, (3, 5), elements=st.floats(-50, 50)), st.floats(-1e3, 1e3))
def test_log_mean_exp_is_shift_equivariant(a, shift):
    np.testing.assert_allclose(log_mean_exp(a + shift, axis=1), log_mean_exp(a, axis=1) + shift,
                               rtol=1e-12, atol=1e-9)


@given(arrays(np.float64, (3, 5), elements=huge))
def test_log_mean_exp_is_finite_and_bounded_for_huge_inputs(a):
    value = log_mean_exp(a, axis=1)
    assert np.all(np.isfinite(value))
    # the mean of e^a lies between e^max / K and e^max
    assert np.all(value <= a.max(axis=1) + 1e-9)
    assert np.all(value >= a.max(axis=1) - np.log(5) - 1e-9)


def test_log_mean_exp_matches_the_naive_formula_where_safe():
    a = np.random.default_rng(5).standard_normal((4, 6))
    np.testing.assert_allclose(log_mean_exp(a, axis=1), np.log(np.mean(np.exp(a), axis=1)), rtol=1e-13)


def test_log_mean_exp_of_minus_infinity_is_minus_infinity():
    assert log_mean_exp(np.array([-np.inf, -np.inf])) == -np.inf


@given(arrays(np.float64, (3, 12), elements=huge), st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_the_streaming_log_sum_exp_is_scipys_over_the_whole_row(a, block, seed):
    """Eq. (B15) one block of columns at a time (nn/densities.py::StreamingLogSumExp) against scipy's logsumexp of
    the whole rows, and the weighted sum against the mean of `of` under softmax(a), computed independently; a row of
    -inf only gives -inf."""
    from scipy.special import logsumexp, softmax
    of = np.random.default_rng(seed).standard_normal(a.shape)
    a[2] = -np.inf
    sums = StreamingLogSumExp(3)
    for start in range(0, a.shape[1], block):
        sums.add(a[:, start:start + block].copy(), of=of[:, start:start + block])
    # a log-sum-exp near 0 is a difference of terms as large as max |a|: its rounding is relative to them, not to it
    scale = 1 + np.abs(a[:2]).max(axis=1)
    np.testing.assert_allclose(sums.value()[:2], logsumexp(a[:2], axis=1), rtol=1e-12, atol=1e-13 * scale.max())
    assert sums.value()[2] == -np.inf
    np.testing.assert_allclose(sums.weighted[:2] / sums.total[:2], (softmax(a[:2], axis=1) * of[:2]).sum(axis=1),
                               rtol=1e-9, atol=1e-12)


@given(arrays(np.float64, 16, elements=huge))
def test_sigmoid_and_softplus_match_scipy_everywhere(x):
    from scipy.special import expit, log_expit
    from nn.functional import sigmoid, softplus
    np.testing.assert_allclose(sigmoid(x), expit(x), rtol=1e-14, atol=0)
    # softplus(x) = -log sigmoid(-x)
    np.testing.assert_allclose(softplus(x), -log_expit(-x), rtol=1e-14, atol=0)


@given(arrays(np.float32, 16, elements=st.floats(width=32, allow_nan=False, allow_infinity=False)))
def test_float32_tails_below_e_minus_40_are_flushed_and_nothing_else_changes(x):
    """nn/functional.py::exp_neg_abs: in float32, sigmoid and softplus never return a subnormal number; where
    |x| < 40 they are the unflushed formulas (B4), (B5) bit for bit, and beyond it they differ from them by at most
    e^{-40}; sigmoid is exactly 0 below -40 and softplus exactly max(x, 0)."""
    from nn.functional import sigmoid, softplus
    tiny, tail = np.finfo(np.float32).tiny, np.abs(x) >= 40
    with np.errstate(over="ignore"):
        plain_sigmoid = np.exp(np.minimum(x, 0)) / (1 + np.exp(-np.abs(x)))
        plain_softplus = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    for flushed, plain in ((sigmoid(x), plain_sigmoid), (softplus(x), plain_softplus)):
        assert flushed.dtype == np.float32 and not np.any((flushed != 0) & (np.abs(flushed) < tiny))
        np.testing.assert_array_equal(flushed[~tail], plain[~tail])
        assert np.all(np.abs(flushed[tail].astype(np.float64) - plain[tail]) <= np.exp(-40) * (1 + 1e-6))
    np.testing.assert_array_equal(sigmoid(x)[x <= -40], 0)
    np.testing.assert_array_equal(softplus(x)[tail], np.maximum(x[tail], 0))


def test_float64_keeps_every_tail():
    """float64 is not flushed: sigmoid(-700) is e^{-700}, to its last digits."""
    from nn.functional import sigmoid, softplus
    x = np.array([-700.0, -90.0, -40.0])
    np.testing.assert_allclose(sigmoid(x), np.exp(x), rtol=1e-15)
    np.testing.assert_allclose(softplus(x), np.exp(x), rtol=1e-15)


def test_overwriting_the_logits_gives_the_same_value():
    rng = np.random.default_rng(6)
    x, logits = rng.random((2, 3, 5)), 10 * rng.standard_normal((2, 3, 5))
    expected = bernoulli_log_likelihood(x, logits)
    scratch = logits.copy()
    np.testing.assert_array_equal(bernoulli_log_likelihood(x, scratch, overwrite_logits=True), expected)
    from nn.functional import softplus
    np.testing.assert_array_equal(scratch, softplus(logits))

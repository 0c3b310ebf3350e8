"""Log-densities, the Gaussian KL and log-mean-exp, each with its gradient written out by hand.

Each backward takes the upstream gradient `dout` of the value and returns the gradient with respect to
each argument (a vector-Jacobian product). Derivations: derivations/backprop.md, Eqs. (B9)-(B14).
All values are summed over the last axis (pixels or latent dimensions); leading axes are batch axes.
"""
import math
from fractions import Fraction

import numpy as np

from nn.functional import sigmoid, softplus

LOG_2PI = float(np.log(2 * np.pi))


def bernoulli_log_likelihood(x, logits, overwrite_logits=False):
    """log Bernoulli(x; sigmoid(eta)) = sum_d [x_d eta_d - softplus(eta_d)], eta the logits (Eq. (B9)).

    This is minus the sigmoid cross-entropy, computed from logits: finite for logits of any size and
    defined for targets x anywhere in [0, 1]. x, logits: (..., D) -> (...,). With overwrite_logits the
    logits' memory holds the softplus afterwards (for evaluation, where the logits are a temporary).
    """
    terms = x * logits
    terms -= softplus(logits, out=logits if overwrite_logits else None)
    return np.sum(terms, axis=-1)


def bernoulli_log_likelihood_backward(dout, x, logits):
    """d/deta = x - sigmoid(eta) and d/dx = eta, eta the logits (Eq. (B10)).

    dout: (...,) -> (dx, dlogits), each (..., D).
    """
    dout = dout[..., None]
    return dout * logits, dout * (x - sigmoid(logits))


def continuous_bernoulli_log_normalizer(logits):
    """log C(eta) of the continuous Bernoulli (Loaiza-Ganem & Cunningham 2019; derivations/likelihoods.md, Eq. (L3)):

        C = 2 artanh(1 - 2 lambda) / (1 - 2 lambda) = eta / tanh(eta / 2),   lambda = sigmoid(eta),
        log C = log(|eta| / (1 - e^{-|eta|})) + log(1 + e^{-|eta|}).

    Both terms are computed without cancellation: -expm1(-|eta|) is 1 - e^{-|eta|} to a few ulp however small
    |eta| is, so the ratio is accurate everywhere but at eta = 0 (0 / 0), where its limit is 1 and log C = log 2.
    logits: any shape -> the same shape, elementwise.
    """
    magnitude = np.abs(logits)
    safe = np.where(magnitude > 0, magnitude, 1)       # the ratio's value at eta = 0 is its limit, 1
    ratio = np.where(magnitude > 0, safe / -np.expm1(-safe), 1)
    return np.log(ratio) + np.log1p(np.exp(-magnitude))


# 1/eta - 1/sinh(eta) = sum_{n >= 1} c_n eta^(2n - 1), c_n = 2 (2^(2n-1) - 1) B_2n / (2n)!  (B the Bernoulli
# numbers; Eq. (L5)): eta/6 - 7 eta^3/360 + 31 eta^5/15120 - ... The series converges for |eta| < pi, each term
# about (eta / pi)^2 of the one before; at SERIES_BELOW its first ten terms leave 1.3e-16 relative.
SERIES_BELOW = 0.5
BERNOULLI_NUMBERS = (Fraction(1, 6), Fraction(-1, 30), Fraction(1, 42), Fraction(-1, 30), Fraction(5, 66),
                     Fraction(-691, 2730), Fraction(7, 6), Fraction(-3617, 510), Fraction(43867, 798),
                     Fraction(-174611, 330))                         # B_2, B_4, ..., B_20, exactly
SERIES = tuple(float(2 * (2 ** (2 * n - 1) - 1) * b / math.factorial(2 * n))
               for n, b in enumerate(BERNOULLI_NUMBERS, start=1))


def continuous_bernoulli_log_normalizer_derivative(logits):
    """d log C / d eta = 1/eta - 1/sinh(eta) (Eq. (L4)): odd, 0 at eta = 0, close to 1/eta for large |eta|.

    For |eta| >= 1/2 it is computed as sign(eta) (1/|eta| - 2t / (1 - t^2)) with t = e^{-|eta|}, which never
    overflows; below, where 1/eta and 1/sinh(eta) cancel, from the series' first ten terms (Eq. (L5)). The
    cancellation still costs a factor 25 in relative error just above the switch, 8e-15 in float64 but 1e-5 in
    float32, so float32 logits are computed in float64 and the result rounded back.
    logits: any shape -> the same shape and dtype.
    """
    dtype, logits = np.result_type(logits, np.float32), np.asarray(logits, np.float64)   # integer logits: float64
    magnitude = np.abs(logits)
    t = np.exp(-np.maximum(magnitude, SERIES_BELOW))
    direct = 1 / np.maximum(magnitude, SERIES_BELOW) - 2 * t / (1 - t * t)
    small = np.minimum(magnitude, SERIES_BELOW)     # the series is only used below the switch; no overflow above
    square, series = small * small, np.zeros_like(magnitude)
    for coefficient in reversed(SERIES):           # Horner's rule in eta^2
        series = series * square + coefficient
    series *= small
    return (np.sign(logits) * np.where(magnitude < SERIES_BELOW, series, direct)).astype(dtype, copy=False)


def continuous_bernoulli_log_likelihood(x, logits):
    """log CB(x; sigmoid(eta)) = sum_d [x_d eta_d - softplus(eta_d) + log C(eta_d)] (Eq. (L6)): the Bernoulli
    cross-entropy of Eq. (B9) plus the normalizer that makes it a density on [0, 1]^D. x, logits: (..., D) -> (...,).
    """
    return bernoulli_log_likelihood(x, logits) + np.sum(continuous_bernoulli_log_normalizer(logits), axis=-1)


def continuous_bernoulli_log_likelihood_backward(dout, x, logits):
    """d/deta = x - sigmoid(eta) + d log C / d eta = x - E[x] (Eq. (L7)), and d/dx = eta.

    dout: (...,) -> (dx, dlogits), each (..., D).
    """
    dx, dlogits = bernoulli_log_likelihood_backward(dout, x, logits)
    return dx, dlogits + dout[..., None] * continuous_bernoulli_log_normalizer_derivative(logits)


def continuous_bernoulli_mean(logits):
    """E[x] under CB(sigmoid(eta)) = sigmoid(eta) - d log C / d eta (Eq. (L8)): 1/2 at eta = 0, and not sigmoid(eta),
    which is the mean of the discrete Bernoulli. logits: any shape -> the same shape."""
    return sigmoid(logits) - continuous_bernoulli_log_normalizer_derivative(logits)


def gaussian_log_density(z, mean, log_var):
    """log N(z; mean, diag(exp(log_var))) = -1/2 sum_j [log 2pi + v_j + (z_j - m_j)^2 e^{-v_j}] (Eq. (B11)).

    z, mean, log_var: (..., J) -> (...,).
    """
    squared = (z - mean) ** 2 * np.exp(-log_var)
    return -0.5 * np.sum(LOG_2PI + log_var + squared, axis=-1)


def gaussian_log_density_backward(dout, z, mean, log_var):
    """Eq. (B12): d/dz = -(z - m) e^{-v}, d/dm = +(z - m) e^{-v}, d/dv = -1/2 + 1/2 (z - m)^2 e^{-v}.

    dout: (...,) -> (dz, dmean, dlog_var), each (..., J).
    """
    dout = dout[..., None]
    scaled = (z - mean) * np.exp(-log_var)
    dz = -dout * scaled
    dlog_var = dout * 0.5 * ((z - mean) * scaled - 1)
    return dz, -dz, dlog_var


def gaussian_kl_from_standard_normal(mean, log_var):
    """KL(N(m, diag e^v) || N(0, I)) = 1/2 sum_j [m_j^2 + e^{v_j} - 1 - v_j] (Eq. (B13); write-up Eq. (9)).

    e^v - 1 is computed as expm1(v), far more accurate near v = 0 (where the KL is smallest) than exp(v) - 1,
    though not exact: in float32 the term (e^v - 1 - v) / 2 has relative error 3e-4 at v = 1e-4 (2.3 with exp;
    backprop.md, Eq. (B13)).
    mean, log_var: (..., J) -> (...,).
    """
    return 0.5 * np.sum(mean * mean + np.expm1(log_var) - log_var, axis=-1)


def gaussian_kl_from_standard_normal_backward(dout, mean, log_var):
    """Eq. (B14): d KL / dm = m, d KL / dv = 1/2 (e^v - 1). dout: (...,) -> (dmean, dlog_var)."""
    dout = dout[..., None]
    return dout * mean, dout * 0.5 * np.expm1(log_var)


def log_mean_exp(a, axis=0):
    """log (1/K) sum_k e^{a_k}, shifted by the maximum so that no exponential overflows (Eq. (B15)).

    Reduces over `axis`. All entries -inf along the axis give -inf, not NaN.
    """
    peak = np.max(a, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0)
    mean = np.mean(np.exp(a - peak), axis=axis, keepdims=True)
    with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer when every a_k is -inf
        return np.squeeze(peak + np.log(mean), axis=axis)


def log_mean_exp_backward(dout, a, axis=0):
    """d/da_k log-mean-exp(a) = e^{a_k} / sum_i e^{a_i}, the softmax of a along `axis` (Eq. (B16))."""
    peak = np.max(a, axis=axis, keepdims=True)
    weights = np.exp(a - peak)
    weights /= np.sum(weights, axis=axis, keepdims=True)
    return np.expand_dims(dout, axis) * weights

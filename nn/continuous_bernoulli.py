"""The continuous Bernoulli (Loaiza-Ganem & Cunningham 2019; derivations/likelihoods.md): a density on [0, 1] with the
Bernoulli's logit, CB(x; sigmoid(eta)) = C(eta) sigmoid(eta)^x (1 - sigmoid(eta))^(1 - x). Its normalizer and
derivative in forms accurate everywhere, its log-density with the gradient written out by hand, its mean, and the
likelihood object a model takes (ContinuousBernoulli, with the same five methods as nn/densities.py::Bernoulli).

An extension of the write-up's model: nothing imports this file unless a run asks for --likelihood
continuous-bernoulli (algorithms/__init__.py::LIKELIHOODS).
"""
import math
from fractions import Fraction

import numpy as np

from nn.densities import bernoulli_log_likelihood, bernoulli_log_likelihood_backward
from nn.functional import sigmoid, softplus


def continuous_bernoulli_log_normalizer(logits):
    """log C(eta) of the continuous Bernoulli (Loaiza-Ganem & Cunningham 2019; derivations/likelihoods.md, Eq. (L3)):

        C = 2 artanh(1 - 2 lambda) / (1 - 2 lambda) = eta / tanh(eta / 2),   lambda = sigmoid(eta),
        log C = log(|eta| / (1 - e^{-|eta|})) + log(1 + e^{-|eta|}).

    Both terms are computed without cancellation: -expm1(-|eta|) is 1 - e^{-|eta|} to a few ulp however small
    |eta| is, so the ratio is accurate everywhere but at eta = 0 (0 / 0), where its limit is 1 and log C = log 2.
    logits: any shape -> the same shape, elementwise.
    """
    magnitude = np.abs(np.asarray(logits, np.result_type(np.asarray(logits).dtype, np.float32)))
    one = magnitude.dtype.type(1)                      # of the logits' dtype, also for a scalar (numpy 1 and 2 alike)
    safe = np.where(magnitude > 0, magnitude, one)     # the ratio's value at eta = 0 is its limit, 1
    ratio = np.where(magnitude > 0, safe / -np.expm1(-safe), one)
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
    cancellation still costs a factor 25 in relative error just above the switch, 8e-15 in float64 but about 3e-6 in
    float32, so float32 logits are computed in float64 and the result rounded back.
    logits: any shape -> the same shape and dtype.
    """
    dtype = np.result_type(np.asarray(logits).dtype, np.float32)       # by dtype, not value: numpy 1 and 2 agree
    logits = np.asarray(logits, np.float64)                             # integer logits: float64
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


class ContinuousBernoulli:
    """The continuous Bernoulli on [0, 1]^D (derivations/likelihoods.md), with what nn/densities.py::Bernoulli says a
    likelihood declares."""

    name = "continuous-bernoulli"
    density = True
    bounds = {"grey": "The continuous Bernoulli is a density on [0, 1]^D, so L_k bounds a log-density: positive values "
                      "are no error (derivations/likelihoods.md).",
              "binary": "The continuous Bernoulli on binary images: a density, but the data are discrete, so L_k bounds "
                        "a log-density at the corners of [0, 1]^D.",
              "dequantized": "The images are dequantized, y = (k + u) / 256 (derivations/likelihoods.md), so L_k bounds "
                             "the log-density of y under a normalized density on [0, 1]^D, and L_k - D log 256 the "
                             "log-probability of the 8-bit images."}
    exact_out_of_reach = {"grey": "the exact log p(x) is not computed for the continuous Bernoulli on grey levels with "
                                  "exact 0s: its logits drift without limit and its posteriors narrow with them (a "
                                  "3-epoch model: 97 s for 20 images); give --dequantize (derivations/likelihoods.md)"}

    def explorer_payload(self):
        """The series of E[x | z] near eta = 0 that explorer.js evaluates (Eq. (L8))."""
        return {"cb_series": list(SERIES)}

    def log_likelihood(self, x, logits, overwrite_logits=False):
        """sum_d log CB(x_d; sigmoid(eta_d)) (Eq. (L6)); x, logits: (..., D) -> (...,)."""
        return continuous_bernoulli_log_likelihood(x, logits)

    def backward(self, dout, x, logits):
        """(dx, dlogits), dlogits = x - E[x] (Eq. (L7))."""
        return continuous_bernoulli_log_likelihood_backward(dout, x, logits)

    def log_partition(self, logits):
        """A(eta) = softplus(eta) - log C(eta) = log((e^eta - 1) / eta), elementwise (Eq. (L1), (L3))."""
        return softplus(logits) - continuous_bernoulli_log_normalizer(logits)

    def mean(self, logits):
        return continuous_bernoulli_mean(logits)

    def sample(self, logits, uniforms):
        """x ~ CB(sigmoid(eta)) by inverting its distribution function (Eq. (L9)): for a = |eta| > 0,
        x' = log(1 - u (1 - e^{-a})) / (-a) is a draw from CB(-a); x = x' for eta < 0 and 1 - x' for eta > 0
        (the CB of -eta is the CB of eta reflected about 1/2); x = u at eta = 0. No exponent is positive."""
        logits = np.asarray(logits, np.result_type(np.asarray(logits).dtype, np.float32))
        magnitude = np.abs(logits)
        safe = np.where(magnitude > 0, magnitude, 1)
        reflected = np.where(magnitude > 0, np.log1p(uniforms * np.expm1(-safe)) / -safe, uniforms)
        reflected = np.clip(reflected, 0, 1)
        return np.where(logits > 0, 1 - reflected, reflected).astype(logits.dtype)

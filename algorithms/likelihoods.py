"""The decoder's likelihood p_theta(x | z), one pixel at a time from the logit eta = f_theta(z)_d
(derivations/likelihoods.md). Both are exponential families in eta with the pixel x as statistic:

    log p(x | eta) = x eta - A(eta),   E[x] = A'(eta)                                             (Eq. (L1))

Bernoulli (the write-up's): A = softplus, E[x] = sigmoid(eta); a probability for binary x, an unnormalized score for
grey levels. Continuous Bernoulli (Loaiza-Ganem & Cunningham 2019): A = softplus - log C, a density on [0, 1].
Everything downstream (the objectives, L_k, the exact log p(x), the dreams, the figures) asks the model's likelihood.
"""
import numpy as np

from nn import (bernoulli_log_likelihood, bernoulli_log_likelihood_backward, continuous_bernoulli_log_likelihood,
                continuous_bernoulli_log_likelihood_backward, continuous_bernoulli_log_normalizer,
                continuous_bernoulli_mean)
from nn.functional import sigmoid, softplus


class Bernoulli:
    name = "bernoulli"

    def log_likelihood(self, x, logits, overwrite_logits=False):
        """sum_d log p(x_d | eta_d) (Eq. (B9)); x, logits: (..., D) -> (...,)."""
        return bernoulli_log_likelihood(x, logits, overwrite_logits=overwrite_logits)

    def backward(self, dout, x, logits):
        """(dx, dlogits) (Eq. (B10))."""
        return bernoulli_log_likelihood_backward(dout, x, logits)

    def log_partition(self, logits):
        """A(eta) = softplus(eta), elementwise (Eq. (L1))."""
        return softplus(logits)

    def mean(self, logits):
        return sigmoid(logits)

    def sample(self, logits, uniforms):
        """x_d = [u_d < sigmoid(eta_d)]: binary, in the logits' dtype (Eq. (5)'s dream)."""
        return (uniforms < sigmoid(logits)).astype(logits.dtype)


class ContinuousBernoulli:
    name = "continuous-bernoulli"

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
        logits = np.asarray(logits, np.result_type(logits, np.float32))
        magnitude = np.abs(logits)
        safe = np.where(magnitude > 0, magnitude, 1)
        reflected = np.where(magnitude > 0, np.log1p(uniforms * np.expm1(-safe)) / -safe, uniforms)
        reflected = np.clip(reflected, 0, 1)
        return np.where(logits > 0, 1 - reflected, reflected).astype(logits.dtype)


LIKELIHOODS = {likelihood.name: likelihood for likelihood in (Bernoulli(), ContinuousBernoulli())}

"""Log-densities, the Gaussian KL and log-mean-exp, each with its gradient written out by hand.

Each backward takes the upstream gradient `dout` of the value and returns the gradient with respect to
each argument (a vector-Jacobian product). Derivations: derivations/backprop.md, Eqs. (B9)-(B16).
All values are summed over the last axis (pixels or latent dimensions); leading axes are batch axes.
"""
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


class StreamingLogSumExp:
    """log sum_g e^(a_ng) over columns that arrive in blocks, per row n (Eq. (B15) one block at a time): peak, the
    largest a_ng so far, and total = sum_g e^(a_ng - peak), in float64; the previous total is rescaled whenever the
    peak rises. With `of` given to add, it also keeps weighted = sum_g e^(a_ng - peak) of_ng, rescaled alike: the
    numerator of the mean of `of` under the normalized e^(a_n.). partial_dtype: the dtype of each block's own sum
    (float64; float32 keeps a float32 block's sum in float32, as the binary enumeration does)."""

    def __init__(self, rows, partial_dtype=np.float64):
        self.peak, self.total, self.weighted = np.full(rows, -np.inf), np.zeros(rows), np.zeros(rows)
        self.partial_dtype = partial_dtype

    def add(self, block, rows=slice(None), of=None):
        """block: (len(rows), c) values of the rows `rows` (a slice), -inf allowed; overwritten by e^(block - peak),
        which is returned. of: (len(rows), c), or None."""
        peak = np.maximum(self.peak[rows], block.max(axis=1))
        shift = np.where(np.isfinite(peak), peak, 0.0)
        rescale = np.exp(self.peak[rows] - shift)
        self.total[rows] *= rescale
        block -= shift[:, None].astype(block.dtype)
        np.exp(block, out=block)
        self.total[rows] += block.sum(axis=1, dtype=self.partial_dtype)
        if of is not None:
            self.weighted[rows] = self.weighted[rows] * rescale + np.einsum("ns,ns->n", block, of, dtype=np.float64)
        self.peak[rows] = peak
        return block

    def value(self):
        """log sum_g e^(a_ng) per row (-inf where every value was -inf)."""
        shift = np.where(np.isfinite(self.peak), self.peak, 0.0)
        with np.errstate(divide="ignore"):
            return shift + np.log(self.total)


def log_mean_exp_backward(dout, a, axis=0):
    """d/da_k log-mean-exp(a) = e^{a_k} / sum_i e^{a_i}, the softmax of a along `axis` (Eq. (B16))."""
    peak = np.max(a, axis=axis, keepdims=True)
    weights = np.exp(a - peak)
    weights /= np.sum(weights, axis=axis, keepdims=True)
    return np.expand_dims(dout, axis) * weights


class Bernoulli:
    """The write-up's decoder distribution, p(x | z) = prod_d Bernoulli(x_d; sigmoid(eta_d)) with eta = f_theta(z) the
    logits: a probability for binary x, an unnormalized score for grey levels (derivations/likelihoods.md).

    A likelihood is what the model asks of p(x | eta), pixel by pixel: log_likelihood and its backward, the
    log-partition A of log p(x | eta) = x eta - A(eta) (Eq. (L1)), the mean A'(eta), and a sampler. Another likelihood
    (nn/continuous_bernoulli.py) offers the same five; algorithms/__init__.py::LIKELIHOODS names them.

    What the harness and the outputs read of a likelihood: whether it is a density on [0, 1]^D (--dequantize needs one),
    what L_k bounds on each kind of data (report.md), the kinds of data whose exact log p(x) it puts out of reach and
    why, and what the latent explorer's page needs to draw its mean (None: the page cannot).
    """
    name = "bernoulli"
    density = False
    bounds = {"grey": "The grey levels in [0, 1] are the Bernoulli targets (the write-up's convention), so L_k bounds "
                      "the log of an unnormalized score, not a log-probability: compare numbers only between runs that "
                      "treat the data alike (derivations/likelihoods.md).",
              "binary": "The images are binarized, so L_k bounds the log-probability of a normalized model, comparable "
                        "with the literature's numbers on binarized MNIST (derivations/likelihoods.md)."}
    exact_out_of_reach = {}

    def explorer_payload(self):
        """What the explorer's page needs to draw E[x | z] (explorer.js): nothing beyond the sigmoid."""
        return {}

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

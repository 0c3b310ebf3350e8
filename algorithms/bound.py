"""The importance-weighted bound L_k of Eq. (10) (write-up section 1.5; derivations/1.5-bound.md), and the estimate
of its mean over a set of images with a standard error."""
import math

import numpy as np

from algorithms.model import reparameterize
from nn import StreamingLogSumExp, gaussian_log_density, log_mean_exp


def log_importance_weights(model, x, eps, encoded=None):
    """log w_i = log p_theta(x | z_i) + log p(z_i) - log q_phi(z_i | x) with z_i = mu + sigma eps_i
    (the summand of Eq. (10), in log space).

    x: (N, D); eps: (k, N, J) -> (k, N); encoded: q's (mean, log_var) for x when the caller has them already.
    All k samples of the minibatch go through the generative network as one (k N, J) matrix.
    """
    k, batch, latent = eps.shape
    mean, log_var = model.encode(x) if encoded is None else encoded
    z = reparameterize(mean, log_var, eps)                                   # (k, N, J)
    logits = model.decode(z.reshape(k * batch, latent)).reshape(k, batch, -1)
    log_likelihood = model.likelihood.log_likelihood(x, logits, overwrite_logits=True)  # x broadcasts over k
    log_prior = gaussian_log_density(z, 0.0, np.zeros_like(z))
    log_q = gaussian_log_density(z, mean, log_var)
    return log_likelihood + log_prior - log_q


def log_weights(model, x, noise):
    """log w_i of either kind of model: a Gaussian one's above, a binary one's by its own method
    (algorithms/binary/model.py; noise is then uniforms). x: (N, D); noise: (k, N, .) -> (k, N)."""
    if model.latent == "binary":
        return model.log_importance_weights(x, noise)
    return log_importance_weights(model, x, noise)


MOST_ROWS = 2 ** 16      # the most (sample, image) rows one pass of importance_weighted_bound puts through the decoder
CHUNK_IMAGES = 20        # the images whose k samples one pass of importance_weighted_bound takes, when they fit


def importance_weighted_bound(model, x, k, seed, chunk_size=CHUNK_IMAGES, done=None):
    """Monte Carlo estimate of L_k(x) (Eq. (10)) for every row of x: log (1/k) sum_i w_i, in log space.

    The k noise draws of row i come from the generator seeded [seed, i], so the numbers depend on the
    seed and the data alone, not on the chunk size. Memory is bounded by chunk_size * k rows of D
    logits, whatever N is (small chunks also keep the work in cache), and by MOST_ROWS rows when k is larger
    (one image at a time, its samples in blocks: a large k costs time, not memory). x: (N, D) -> (N,) float64;
    the metric is their mean. done(samples), if given, is told after every pass how many samples it finished (a
    progress bar's update; N k in all).
    """
    if k * min(chunk_size, x.shape[0]) > MOST_ROWS:
        return np.array([bound_in_blocks(model, x[i:i + 1], k, np.random.default_rng([seed, i]), done)
                         for i in range(x.shape[0])])
    bounds = np.empty(x.shape[0])
    for start in range(0, x.shape[0], chunk_size):
        rows = x[start:start + chunk_size]
        noise = np.stack([model.noise(np.random.default_rng([seed, i]), k)
                          for i in range(start, start + rows.shape[0])], axis=1)
        bounds[start:start + rows.shape[0]] = log_mean_exp(log_weights(model, rows, noise), axis=0)
        if done:
            done(k * rows.shape[0])
    return bounds


def bound_in_blocks(model, x, k, rng, done=None):
    """L_k (Eq. (10)) of one image x (1, D) from k samples drawn from rng MOST_ROWS at a time, their log-weights
    summed by a streaming log-sum-exp (Eq. (B15)) in float64; done(samples) told after every block."""
    sums = StreamingLogSumExp(1)
    for start in range(0, k, MOST_ROWS):
        noise = model.noise(rng, min(MOST_ROWS, k - start))[:, None]
        sums.add(log_weights(model, x, noise)[:, 0].astype(np.float64)[None])
        if done:
            done(noise.shape[0])
    peak, total = sums.peak[0], sums.total[0]
    return peak + np.log(total / k) if total > 0 else -np.inf


def importance_weighted_bounds(model, x, ks, seed, chunk_size=20, done=None):
    """Estimates of L_k(x) (Eq. (10)) for several k from one set of max(ks) samples per image, and the ELBO.

    The K = max(ks) log-weights of an image are split into K / k groups of k; the estimate of L_k is the mean of the
    groups' log-mean-exps (unbiased for L_k, with less variance than one group), and the ELBO's is the mean of all K
    log-weights (L_1). Every k must divide K. The noise of row i comes from the generator seeded [seed, 1, i]:
    another stream than importance_weighted_bound's [seed, i], so that the two evaluations are independent.
    x: (N, D) -> ({k: (N,) float64}, elbo (N,) float64); done(samples) as importance_weighted_bound's.
    """
    most = max(ks)
    if any(most % k for k in ks):
        raise ValueError(f"every k must divide the largest, {most}: got {sorted(ks)}")
    bounds, elbo = {k: np.empty(x.shape[0]) for k in ks}, np.empty(x.shape[0])
    for start in range(0, x.shape[0], chunk_size):
        rows = x[start:start + chunk_size]
        noise = np.stack([model.noise(np.random.default_rng([seed, 1, i]), most)
                          for i in range(start, start + rows.shape[0])], axis=1)
        log_w = log_weights(model, rows, noise).astype(np.float64)                    # (K, n)
        for k in ks:
            groups = log_w.reshape(most // k, k, -1)
            bounds[k][start:start + rows.shape[0]] = log_mean_exp(groups, axis=1).mean(axis=0)
        elbo[start:start + rows.shape[0]] = log_w.mean(axis=0)
        if done:
            done(most * rows.shape[0])
    return bounds, elbo


def mean_and_standard_error(values):
    """The mean of per-image values (a bound, a log-likelihood, a paired difference) and its standard error,
    sd / sqrt(n) with the n - 1 standard deviation (0 for a single image): what every reported average carries."""
    values = np.asarray(values, np.float64)
    se = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else 0.0
    return float(values.mean()), se

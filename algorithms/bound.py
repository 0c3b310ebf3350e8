"""The importance-weighted bound L_k of Eq. (10) (write-up section 1.5; derivations/1.5-bound.md)."""
import numpy as np

from algorithms.model import reparameterize
from nn import bernoulli_log_likelihood, gaussian_log_density, log_mean_exp


def log_importance_weights(model, x, eps):
    """log w_i = log p_theta(x | z_i) + log p(z_i) - log q_phi(z_i | x) with z_i = mu + sigma eps_i
    (the summand of Eq. (10), in log space).

    x: (N, D); eps: (k, N, J) -> (k, N). All k samples of the minibatch go through the generative
    network as one (k N, J) matrix.
    """
    k, batch, latent = eps.shape
    mean, log_var = model.encode(x)
    z = reparameterize(mean, log_var, eps)                                   # (k, N, J)
    logits = model.decode(z.reshape(k * batch, latent)).reshape(k, batch, -1)
    log_likelihood = bernoulli_log_likelihood(x, logits, overwrite_logits=True)  # x broadcasts over k
    log_prior = gaussian_log_density(z, 0.0, np.zeros_like(z))
    log_q = gaussian_log_density(z, mean, log_var)
    return log_likelihood + log_prior - log_q


def importance_weighted_bound(model, x, k, seed, chunk_size=20):
    """Monte Carlo estimate of L_k(x) (Eq. (10)) for every row of x: log (1/k) sum_i w_i, in log space.

    The k noise draws of row i come from the generator seeded [seed, i], so the numbers depend on the
    seed and the data alone, not on the chunk size. Memory is bounded by chunk_size * k rows of D
    logits, whatever N is (small chunks also keep the work in cache). x: (N, D) -> (N,) float64;
    the metric is their mean.
    """
    bounds = np.empty(x.shape[0])
    for start in range(0, x.shape[0], chunk_size):
        rows = x[start:start + chunk_size]
        eps = np.stack([np.random.default_rng([seed, i]).standard_normal((k, model.latent_dim), dtype=model.dtype)
                        for i in range(start, start + rows.shape[0])], axis=1)
        bounds[start:start + rows.shape[0]] = log_mean_exp(log_importance_weights(model, rows, eps), axis=0)
    return bounds

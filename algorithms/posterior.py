"""The true posterior p(z | x) = p(x, z) / p(x) of one image under a model with a 2-D latent, on lattices
(derivations/exact-likelihood.md): its moments, its density on a window for a heat map, and KL(q || p(z | x)).

p(x) comes from algorithms/exact.py::exact_log_marginal; here the same log-joint (Eq. (X2)) is evaluated on
lattices chosen for one image.
"""
import math
from dataclasses import dataclass

import numpy as np

from algorithms.exact import chunked_terms, generative_in, log_joint_blocks, square_lattice
from nn import gaussian_log_density


def log_joint(net, x, z, chunk=4096):
    """log p(x | z_g) + log p(z_g) for one image x (D,) at points z (G, 2) (Eq. (X2)), returned in float64 and computed
    in the dtype of net, x and z; net: the model's Decoder (algorithms/exact.py::generative_in)."""
    out = np.empty(len(z))
    for start in range(0, len(z), chunk):
        points = z[start:start + chunk]
        logits = net(points)
        out[start:start + chunk] = (logits @ x - net.log_partition(logits).sum(axis=1)
                                    + gaussian_log_density(points, 0.0, np.zeros_like(points)))
    return out


@dataclass
class PosteriorMoments:
    mean: np.ndarray          # (N, 2)
    cov: np.ndarray           # (N, 2, 2)


def posterior_moments(model, x, spacing=0.05, limit=6.0, dtype=np.float64):
    """Mean and covariance of p(z | x) for every image (N, D), from the densities on the lattice spacing Z^2 within
    [-limit, limit]^2, all images through one matrix product per chunk of points (Eq. (X2)), computed in dtype."""
    net = generative_in(model, dtype)
    z = spacing * square_lattice(spacing, limit).astype(np.float64)
    log_p = np.empty((x.shape[0], len(z)))
    for rows, columns, block in log_joint_blocks(chunked_terms(net, z, dtype, 4096), np.asarray(x, dtype),
                                                 x.shape[0]):
        log_p[rows, columns] = block
    weights = np.exp(log_p - log_p.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    mean = weights @ z
    centred = z[None, :, :] - mean[:, None, :]
    return PosteriorMoments(mean, np.einsum("ng,ngi,ngj->nij", weights, centred, centred))


def local_posterior_moments(model, x, centre, half_width=0.4, spacing=0.002):
    """Mean and covariance of p(z | x) for one image x (D,), on a fine lattice (spacing) over the square centre +-
    half_width (Eq. (X2)), for posteriors too narrow for posterior_moments' lattice; returns (PosteriorMoments of one
    image, the share of the lattice's mass on its border rows and columns, which should be negligible)."""
    axis = np.arange(-half_width, half_width + spacing / 2, spacing)
    z = np.stack(np.meshgrid(centre[0] + axis, centre[1] + axis, indexing="ij"), axis=-1).reshape(-1, 2)
    log_p = log_joint(generative_in(model, np.float64), np.asarray(x, np.float64), z)
    weights = np.exp(log_p - log_p.max())
    weights /= weights.sum()
    mean = weights @ z
    cov = (z - mean).T @ ((z - mean) * weights[:, None])
    grid = weights.reshape(len(axis), len(axis))
    border = grid[[0, -1], :].sum() + grid[1:-1, [0, -1]].sum()
    return PosteriorMoments(mean[None], cov[None]), float(border)


@dataclass
class KLToPosterior:
    kl_q_to_posterior: float    # KL(q(z | x) || p(z | x)) in nats
    spacing: float
    points: int


def posterior_on_lattice(model, x, q_mean, q_log_var, log_px, spacing=0.01, reach=8.0):
    """KL(q || p(z | x)) = sum_g h^2 q(z_g) [log q(z_g) - log p(x, z_g) + log p(x)] on the lattice h Z^2 within
    q's mean +- reach sd (Eq. (X7)), h at most a quarter of q's smallest sd so that q is resolved.

    x: (D,); q_mean, q_log_var: (2,); log_px: the exact log p(x) of x."""
    net = generative_in(model, np.float64)
    q_mean, q_log_var = np.asarray(q_mean, np.float64), np.asarray(q_log_var, np.float64)
    sd = np.exp(0.5 * q_log_var)
    h = min(spacing, sd.min() / 4)
    axes = [h * np.arange(math.floor((m - reach * s) / h), math.ceil((m + reach * s) / h) + 1)
            for m, s in zip(q_mean, sd)]
    z = np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=1)
    log_q = gaussian_log_density(z, q_mean, q_log_var)
    log_posterior = log_joint(net, np.asarray(x, np.float64), z) - log_px
    kl = h * h * np.sum(np.exp(log_q) * (log_q - log_posterior))
    return KLToPosterior(float(kl), h, len(z))


def posterior_windows(model, x, q_mean, q_log_var, size=100, dtype=np.float32):
    """For heat maps of several images: for each, a square window that holds the posterior (mean +- 5 sd) and q's
    2.5-sd ellipse, a size x size grid over it, and p(z | x) there (Eq. (X2)) normalized to a density on the grid.
    Yields (extent, density (size, size)) per image, extent = (z1_min, z1_max, z2_min, z2_max) the outer edges of the
    grid's cells (half a step beyond its outermost points), row 0 at z2_max. For drawing: computed in float32 by
    default (twice as fast; a log-density a few hundred nats large carries an error near 1e-4 nats, invisible in a heat
    map), the numbers of the exact evaluation in float64 elsewhere."""
    moments = posterior_moments(model, x, dtype=dtype)
    net = generative_in(model, dtype)
    for n in range(x.shape[0]):
        post_sd, q_sd = np.sqrt(np.diag(moments.cov[n])), np.exp(0.5 * np.asarray(q_log_var[n], np.float64))
        low = np.minimum(moments.mean[n] - 5 * np.maximum(post_sd, 0.03), q_mean[n] - 2.5 * q_sd)
        high = np.maximum(moments.mean[n] + 5 * np.maximum(post_sd, 0.03), q_mean[n] + 2.5 * q_sd)
        centre, half = (low + high) / 2, (high - low).max() / 2
        z1 = np.linspace(centre[0] - half, centre[0] + half, size)
        z2 = np.linspace(centre[1] + half, centre[1] - half, size)
        grid = np.stack([a.ravel() for a in np.meshgrid(z1, z2)], axis=1)
        log_p = log_joint(net, np.asarray(x[n], dtype), grid.astype(dtype))
        density = np.exp(log_p - log_p.max()).reshape(size, size)
        step = z1[1] - z1[0]
        density /= density.sum() * step ** 2
        yield (z1[0] - step / 2, z1[-1] + step / 2, z2[-1] - step / 2, z2[0] + step / 2), density

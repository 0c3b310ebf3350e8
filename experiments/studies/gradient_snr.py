"""The signal-to-noise ratio of IWAE's gradients against k, plain (Eq. (I4)) and doubly reparameterized (Eq. (I5))
(Rainforth et al. 2018; derivations/iwae.md).

    python -m experiments.studies.gradient_snr --checkpoint results/aevb/checkpoint.npz --out derivations/figures/iwae-snr.png

For each k, the gradient is estimated `replicates` times on the same minibatch with fresh noise; a parameter's SNR is
|mean| / standard deviation over the replicates, and the figure shows the median over each network's parameters.
"""
import argparse
from pathlib import Path

import numpy as np

from algorithms.iwae import iwae_objective
from experiments.data.mnist import load_dataset
from experiments.harness.checkpoint import read_checkpoint
from experiments.harness.stored import from_stored
from experiments.harness.training import build
from experiments.outputs.figures import plt

KS = (1, 3, 10, 30, 100)


def gradient_snr(model, x, ks, replicates, rng):
    """{k: {"phi (plain)": median SNR, "phi (DReG)": ..., "theta": ...}} for the minibatch x (N, D)."""
    result = {}
    for k in ks:
        draws = {"phi (plain)": [], "phi (DReG)": [], "theta": []}
        for _ in range(replicates):
            eps = rng.standard_normal((k, x.shape[0], model.latent_dim), dtype=model.dtype)
            for dreg in (False, True):
                grads = iwae_objective(model, x, eps, dreg=dreg)[1]
                phi = np.concatenate([g.ravel() for name, g in grads.items() if name.startswith("recognition.")])
                draws["phi (DReG)" if dreg else "phi (plain)"].append(phi.astype(np.float64))
                if not dreg:
                    draws["theta"].append(np.concatenate([g.ravel() for name, g in grads.items()
                                                          if name.startswith("generative.")]).astype(np.float64))
        result[k] = {name: median_snr(np.array(values)) for name, values in draws.items()}
    return result


def conjugate_gaussian_snr(k, draws, rng, mean=1.2, sd=0.3, x=0.0):
    """The SNR of the plain (Eq. (I4)) and doubly reparameterized (Eq. (I5)) phi-gradients of L_k on a model where both
    are written out by hand: p(z) = N(0, 1), x | z ~ N(z, 1), q = N(mean, sd^2), phi = (mean, log sd). With
    z_i = mean + sd eps_i, log w_i = log p(x, z_i) - log q(z_i), and g_i = d(log p(x, z) - log q(z)) / dz at z_i with q's
    parameters held: the plain gradient is sum_i w~_i d log w_i / d phi (through z_i and q's own parameters), DReG's
    sum_i w~_i^2 g_i dz_i / d phi. Returns ({"plain": (SNR of d/dmean, of d/dlog sd), "dreg": ...}, their means)."""
    eps = rng.standard_normal((draws, k))
    z = mean + sd * eps
    log_w = -z ** 2 / 2 - (x - z) ** 2 / 2 + eps ** 2 / 2 + np.log(sd)       # constants cancel in w~
    weights = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    dlog_joint = x - 2 * z                                   # d log p(x, z) / dz
    plain = np.stack([(weights * dlog_joint).sum(1), (weights * (dlog_joint * sd * eps + 1)).sum(1)], axis=1)
    g = dlog_joint + eps / sd                                # d log q(z) / dz = -(z - mean) / sd^2 = -eps / sd
    dreg = np.stack([(weights ** 2 * g).sum(1), (weights ** 2 * g * sd * eps).sum(1)], axis=1)
    snr = {name: np.abs(values.mean(0)) / values.std(0, ddof=1) for name, values in (("plain", plain), ("dreg", dreg))}
    return snr, {"plain": plain.mean(0), "dreg": dreg.mean(0)}


def median_snr(draws):
    """Median over coordinates of |mean| / sd, draws: (replicates, parameters); coordinates with sd 0 left out."""
    sd = draws.std(axis=0, ddof=1)
    keep = sd > 0
    return float(np.median(np.abs(draws.mean(axis=0))[keep] / sd[keep]))


def plot_snr(path, result, title):
    fig, ax = plt.subplots(figsize=(6, 4))
    ks = sorted(result)
    for name, style in (("phi (plain)", "o-"), ("phi (DReG)", "s-"), ("theta", "^--")):
        ax.plot(ks, [result[k][name] for k in ks], style, label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("k")
    ax.set_ylabel("median SNR over parameters")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--replicates", type=int, default=100)
    args = parser.parse_args()
    meta, arrays = read_checkpoint(args.checkpoint)
    model, _, _ = build(from_stored(meta["settings"]))
    model.load_parameters({key[len("param/"):]: value for key, value in arrays.items() if key.startswith("param/")})
    x = load_dataset().test_images[:10]
    result = gradient_snr(model, x, KS, args.replicates, np.random.default_rng(0))
    for k, row in result.items():
        print(k, {name: round(value, 4) for name, value in row.items()})
    plot_snr(args.out, result, f"IWAE's gradient SNR, {args.replicates} draws on 10 test images")


if __name__ == "__main__":
    main()

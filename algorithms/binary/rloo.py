"""REINFORCE leave-one-out (RLOO; Kool, van Hoof & Welling 2019; derivations/estimators.md, Eqs. (G1)-(G3)): the
ELBO's gradient in phi by the score function on k samples of each image, each sample's learning signal centred by the
mean of the other k - 1 signals; theta ascends the mean of log p(x, h_i) over the k samples."""
from dataclasses import dataclass

import numpy as np

from algorithms.binary.model import p_backward, q_backward, sample_q, score_p
from algorithms.iwae import K_HELP
from algorithms.options import Trainer, option
from nn import Adam


def leave_one_out_signals(signals):
    """l_i - (1/(k-1)) sum_{j != i} l_j = k/(k-1) (l_i - mean_j l_j): each sample's learning signal less the mean of
    the other k - 1 (Eq. (G2)). signals: (k, N) -> (k, N), k >= 2."""
    k = signals.shape[0]
    return k / (k - 1) * (signals - signals.mean(axis=0))


def rloo_objective(model, x, uniforms):
    """-(1/N) sum_n (1/k) sum_i l_in, l = log p(x, h) - log q(h | x) (the ELBO's estimate), and its gradients:
    theta's -(1/(kN)) sum grad log p(x, h_i), phi's -(1/(kN)) sum (l_i - mean_{j != i} l_j) grad log q(h_i | x)
    (Eq. (G3)), every layer weighted by the whole signal. x: (N, D); uniforms: (k, N, J_1 + ...), k >= 2."""
    k, batch = uniforms.shape[:2]
    sample = sample_q(model, x, uniforms)
    scored = score_p(model, x, sample.hs)
    signals = (scored.total - sample.total).astype(np.float64)                 # (k, N)
    p_backward(model, x, scored, np.full((k, batch), -1.0 / (k * batch), dtype=model.dtype))
    q_backward(model, sample, (-leave_one_out_signals(signals) / (k * batch)).astype(model.dtype))
    return -float(signals.mean())


@dataclass(frozen=True)
class RLOOOptions:
    lr: float = option(1e-3, "Adam's learning rate", learning_rate=True, homework=True)
    # each sample's baseline is the mean learning signal of the other k - 1
    k: int = option(2, K_HELP + " (RLOO: at least 2)", minimum=2)


class RLOO(Trainer):
    """One Adam over theta and phi on the ELBO, with k samples per image (k >= 2)."""

    command, name, latent, Options = "rloo", "RLOO", "binary", RLOOOptions
    losses = {"loss": "RLOO: mean negative ELBO"}

    def __init__(self, model, lr=1e-3, k=2):
        if k < 2:
            raise ValueError("RLOO's leave-one-out baselines need k >= 2 samples")
        self.model, self.k = model, k
        self.optimizers = {"adam": Adam(model.pairs(""), lr=lr)}

    def step(self, x, rng):
        uniforms = self.model.noise(rng, self.k * x.shape[0]).reshape(self.k, x.shape[0], -1)
        loss = rloo_objective(self.model, x, uniforms)
        self.optimizers["adam"].step()
        return {"loss": loss}

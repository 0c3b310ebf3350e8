"""Variational inference for Monte Carlo objectives (VIMCO; Mnih & Rezende 2016; derivations/binary.md, Eq. (S11)):
ascend the k-sample bound L_k = E log (1/k) sum_i w_i, phi by the score function with a leave-one-out baseline
for every sample, theta by the self-normalized weights."""
from dataclasses import dataclass

import numpy as np

from algorithms.binary.model import p_backward, q_backward, sample_q, score_p
from algorithms.iwae import K_HELP
from algorithms.options import Trainer, option
from nn import Adam, log_mean_exp, log_mean_exp_backward


def leave_one_out_bounds(log_w):
    """L^_{-i} = log (1/k) (sum_{j != i} w_j + exp(mean_{j != i} log w_j)): the bound with w_i replaced by the
    geometric mean of the others (Eq. (S11)). log_w: (k, N) -> (k, N), k >= 2."""
    k = log_w.shape[0]
    others_mean = (log_w.sum(axis=0) - log_w) / (k - 1)                 # mean_{j != i} log w_j, (k, N)
    replaced = np.broadcast_to(log_w, (k, *log_w.shape)).copy()         # replaced[i, j] = log w_j ...
    replaced[np.arange(k), np.arange(k)] = others_mean                  # ... but log w_i -> the others' mean
    return log_mean_exp(replaced, axis=1)


def vimco_objective(model, x, uniforms):
    """-(1/N) sum_n L^_k(x_n), and its gradients: theta's -(1/N) sum_i w~_i grad log p(x, h_i), phi's
    -(1/N) sum_i (L^ - L^_{-i} - w~_i) grad log q(h_i | x) (Eq. (S11)). x: (N, D); uniforms: (k, N, J_1 + ...)."""
    batch = x.shape[0]
    sample = sample_q(model, x, uniforms)
    scored = score_p(model, x, sample.hs)
    log_w = (scored.total - sample.total).astype(np.float64)     # (k, N): the bound and baselines are formed in float64
    bound = log_mean_exp(log_w)
    normalized = log_mean_exp_backward(np.ones(batch), log_w)                # w~
    signal = bound - leave_one_out_bounds(log_w) - normalized
    p_backward(model, x, scored, (-normalized / batch).astype(model.dtype))
    q_backward(model, sample, (-signal / batch).astype(model.dtype))
    return -float(bound.mean())


@dataclass(frozen=True)
class VIMCOOptions:
    lr: float = option(1e-3, "Adam's learning rate", learning_rate=True, homework=True)
    # each sample's baseline is the bound of the other k - 1
    k: int = option(5, K_HELP + " (VIMCO: at least 2)", minimum=2)


class VIMCO(Trainer):
    """One Adam over theta and phi on L_k with k samples per image (k >= 2)."""

    command, name, latent, Options = "vimco", "VIMCO", "binary", VIMCOOptions
    losses = {"loss": "VIMCO: mean $-\\hat{\\mathcal{L}}_k$"}

    def __init__(self, model, lr=1e-3, k=5):
        if k < 2:
            raise ValueError("VIMCO's leave-one-out baselines need k >= 2 samples")
        self.model, self.k = model, k
        self.optimizers = {"adam": Adam(model.pairs(""), lr=lr)}

    def step(self, x, rng):
        uniforms = self.model.noise(rng, self.k * x.shape[0]).reshape(self.k, x.shape[0], -1)
        loss = vimco_objective(self.model, x, uniforms)
        self.optimizers["adam"].step()
        return {"loss": loss}

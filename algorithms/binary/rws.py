"""Reweighted wake-sleep for the binary Helmholtz machine (Bornschein & Bengio 2015; derivations/binary.md, Eq. (S7)):
k samples of q, held fixed and weighted by their normalized importance weights, for wake-theta and wake-phi, and
optionally the classic sleep-phi."""
import numpy as np

from algorithms.binary.model import p_backward, q_backward, sample_q, score_p
from algorithms.binary.wake_sleep import sleep_objective
from algorithms.options import Trainer
from algorithms.rws import ReweightedOptions
from nn import Adam, log_mean_exp, log_mean_exp_backward


def rws_wake_objective(model, x, uniforms):
    """-(1/N) sum_n L^_k(x_n) (reported), and the gradients of Eq. (S7): theta's -(1/N) sum_n sum_i w~_in
    grad log p(x_n, h_in) and phi's -(1/N) sum_n sum_i w~_in grad log q(h_in | x_n), w~ the normalized weights.
    x: (N, D); uniforms: (k, N, J_1 + ... + J_L)."""
    batch = x.shape[0]
    sample = sample_q(model, x, uniforms)
    scored = score_p(model, x, sample.hs)
    log_w = scored.total - sample.total                                                     # (k, N)
    weights = log_mean_exp_backward(np.full(batch, -1.0 / batch, dtype=log_w.dtype), log_w)   # -w~ / N
    p_backward(model, x, scored, weights)
    q_backward(model, sample, weights)
    return -float(log_mean_exp(log_w).mean())


class ReweightedWakeSleep(Trainer):
    """One Adam per network: a wake step on both from k weighted samples, then with sleep_phi a sleep step on phi."""

    command, name, latent, Options = "rws", "RWS", "binary", ReweightedOptions
    losses = {"loss": "RWS: mean $-\\hat{\\mathcal{L}}_k$ of the wake samples",
              "sleep_loss": "RWS, sleep-phi: -log q(h | x) on dreams"}

    def __init__(self, model, lr=1e-3, phi_lr=1e-3, k=5, sleep_phi=False, sleep_samples=100):
        self.model, self.k, self.sleep_phi, self.sleep_samples = model, k, sleep_phi, sleep_samples
        self.losses = {name: title for name, title in type(self).losses.items() if sleep_phi or name == "loss"}
        self.optimizers = {"theta": Adam(model.pairs("generative."), lr=lr),
                           "phi": Adam(model.pairs("recognition."), lr=phi_lr)}

    def step(self, x, rng):
        uniforms = self.model.noise(rng, self.k * x.shape[0]).reshape(self.k, x.shape[0], -1)
        losses = {"loss": rws_wake_objective(self.model, x, uniforms)}
        self.optimizers["theta"].step()
        self.optimizers["phi"].step()
        if self.sleep_phi:
            losses["sleep_loss"] = sleep_objective(self.model, rng, self.sleep_samples)
            self.optimizers["phi"].step()
        return losses

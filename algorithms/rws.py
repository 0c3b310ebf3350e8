"""Reweighted wake-sleep (Bornschein & Bengio 2015; derivations/iwae.md): wake updates for both networks from k
samples of q held fixed and weighted by their normalized importance weights, and optionally the classic sleep
update for phi."""
from dataclasses import dataclass

import numpy as np

from algorithms.iwae import K_HELP, weighted_samples
from algorithms.options import Trainer, option
from algorithms.wake_sleep import DREAMS, DREAMS_HELP, sleep_step
from nn import Adam, gaussian_log_density_backward, log_mean_exp, log_mean_exp_backward


def rws_wake_objective(model, x, eps):
    """The wake updates of reweighted wake-sleep, with z_i = mu + sigma * eps_i drawn from q and then held fixed.

    Returns (value, grads) keyed like model.parameters(): value = -(1/N) sum_n L^_k(x_n) (Eq. (I1), reported, not
    differentiated); grads["generative.*"] = -(1/N) sum_n sum_i w~_i grad_theta log p(x_n, z_i) (wake-theta, Eq. (R1));
    grads["recognition.*"] = -(1/N) sum_n sum_i w~_i grad_phi log q(z_i | x_n) with z_i fixed (wake-phi, Eq. (R2)).
    x: (N, D); eps: (k, N, J).
    """
    k, batch, _ = eps.shape
    # z is a sample here: no gradient goes back through it to phi
    (mean, log_var, z, logits, log_w), (recognition_caches, generative_caches) = weighted_samples(model, x, eps)
    value = -float(log_mean_exp(log_w, axis=0).mean())
    weights = log_mean_exp_backward(np.full(batch, -1.0 / batch, dtype=log_w.dtype), log_w, axis=0)   # -w~ / N

    _, dlogits = model.likelihood.backward(weights, x, logits)        # wake-theta (Eq. (R1))
    model.generative.backward(dlogits.reshape(k * batch, -1), generative_caches, input_grad=False)
    _, dmean, dlog_var = gaussian_log_density_backward(weights, z, mean, log_var)   # wake-phi (Eq. (R2))
    model.recognition.backward(np.concatenate([dmean.sum(axis=0), dlog_var.sum(axis=0)], axis=1),
                               recognition_caches, input_grad=False)
    return value, model.gradients()


SLEEP_PHI_HELP = "RWS: after each wake step, a classic sleep step on the recognition network from dreams"


@dataclass(frozen=True)
class ReweightedOptions:
    """What reweighted wake-sleep takes for either kind of latent (algorithms/binary/rws.py uses these)."""
    lr: float = option(1e-3, "Adam's learning rate of the generative network", learning_rate=True, homework=True)
    phi_lr: float = option(1e-3, "RWS: Adam's learning rate of the recognition network", learning_rate=True)
    k: int = option(5, K_HELP)
    sleep_phi: bool = option(False, SLEEP_PHI_HELP)
    sleep_samples: int = option(100, "dreams per sleep step")


@dataclass(frozen=True)
class RWSOptions(ReweightedOptions):
    dreams: str = option("samples", DREAMS_HELP, choices=DREAMS)


class ReweightedWakeSleep(Trainer):
    """One Adam per network: a wake step on both networks from k weighted samples, then, with sleep_phi, a classic
    sleep step on phi from dreams; step() returns the minibatch's mean -L^_k (and the sleep loss)."""

    command, name, Options = "rws", "RWS", RWSOptions
    losses = {"loss": "RWS: mean $-\\hat{\\mathcal{L}}_k$ of the wake samples",
              "sleep_loss": "RWS, sleep-phi: -log q(z | x) on dreams"}

    def __init__(self, model, lr=1e-3, phi_lr=1e-3, k=5, sleep_phi=False, sleep_samples=100, dreams="samples"):
        self.model, self.k, self.sleep_phi, self.sleep_samples, self.dreams = model, k, sleep_phi, sleep_samples, dreams
        self.losses = {name: title for name, title in type(self).losses.items() if sleep_phi or name == "loss"}
        self.optimizers = {
            "theta": Adam([(p, g) for _, p, g in model.generative.named_parameters()], lr=lr),
            "phi": Adam([(p, g) for _, p, g in model.recognition.named_parameters()], lr=phi_lr),
        }

    def step(self, x, rng):
        eps = rng.standard_normal((self.k, x.shape[0], self.model.latent_dim), dtype=self.model.dtype)
        loss, _ = rws_wake_objective(self.model, x, eps)
        self.optimizers["theta"].step()
        self.optimizers["phi"].step()
        losses = {"loss": loss}
        if self.sleep_phi:
            losses["sleep_loss"] = sleep_step(self.model, self.optimizers["phi"], self.sleep_samples, rng, self.dreams)
        return losses

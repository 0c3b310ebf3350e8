"""The importance-weighted autoencoder's objective: minus the bound L_k of Eq. (10), trained on
(Burda, Grosse & Salakhutdinov 2015; derivations/iwae.md), with its gradient by hand, and the doubly
reparameterized gradient for phi (DReG; Tucker, Lawson, Gu & Maddison 2018) as an option."""
from dataclasses import dataclass

import numpy as np

from algorithms.options import Trainer, option
from algorithms.model import reparameterize, reparameterize_backward
from nn import Adam, gaussian_log_density, gaussian_log_density_backward, log_mean_exp, log_mean_exp_backward


def weighted_samples(model, x, eps):
    """The forward pass that IWAE and reweighted wake-sleep share: q's mean and log-variance, z_i = mu + sigma eps_i,
    the decoder's logits and the log-weights log w_i of Eq. (I1), with the two networks' caches for backward.

    x: (N, D); eps: (k, N, J) -> ((mean, log_var (N, J), z (k, N, J), logits (k, N, D), log_w (k, N)), caches).
    """
    k, batch, latent = eps.shape
    out, recognition_caches = model.recognition.forward(x)
    mean, log_var = model.split(out)
    z = reparameterize(mean, log_var, eps)
    logits, generative_caches = model.generative.forward(z.reshape(k * batch, latent))
    logits = logits.reshape(k, batch, -1)
    log_w = (model.likelihood.log_likelihood(x, logits) + gaussian_log_density(z, 0.0, np.zeros_like(z))
             - gaussian_log_density(z, mean, log_var))
    return (mean, log_var, z, logits, log_w), (recognition_caches, generative_caches)


def iwae_objective(model, x, eps, dreg=False, power=1.0):
    """-(1/N) sum_n L^_k(x_n) (Eq. (I1)) and its gradients, keyed like model.parameters().

        L^_k(x) = log (1/k) sum_i w_i,  log w_i = log p(x | z_i) + log N(z_i; 0, I) - log q(z_i | x),
        z_i = mu + sigma * eps_i.

    theta's gradient is -(1/N) sum_n sum_i w~_i grad_theta log p(x_n, z_i) (Eq. (I2)), w~ the normalized weights.
    phi's is the same sum through each z_i and q's own dependence on mu and log_var (Eqs. (I3)-(I4)), or with
    dreg, sum_i w~_i^2 times the path derivative alone (Eq. (I5)).
    power: the weights' transformation w -> w^power of an objective of the same structure,
    (1 / power) log (1/k) sum_i w_i^power (Renyi's bound of order alpha = 1 - power; power = 1 is L^_k), whose
    gradient is the same sums with w~ the normalized w^power. DReG is derived for power = 1 only.
    x: (N, D); eps: (k, N, J) standard normal noise. Returns (value, grads).
    """
    if dreg and power != 1.0:
        raise ValueError("DReG (Eq. (I5)) is derived for L_k itself, power = 1")
    k, batch, _ = eps.shape
    (mean, log_var, z, logits, log_w), (recognition_caches, generative_caches) = weighted_samples(model, x, eps)
    tempered = log_w if power == 1.0 else power * log_w
    value = -float(log_mean_exp(tempered, axis=0).mean()) / power

    # d value / d log w_i = -w~_i / N, w~ normalizing w^power: the 1 / power and the chain rule's power cancel
    dlog_w = log_mean_exp_backward(np.full(batch, -1.0 / batch, dtype=log_w.dtype), tempered, axis=0)
    # theta, and the path through z of log p(x | z): one backward of the generative network (Eq. (I2))
    _, dlogits = model.likelihood.backward(dlog_w, x, logits)
    dz = model.generative.backward(dlogits.reshape(k * batch, -1), generative_caches).reshape(z.shape)
    dz_prior, _, _ = gaussian_log_density_backward(dlog_w, z, 0.0, np.zeros_like(z))
    dz_q, dmean_q, dlog_var_q = gaussian_log_density_backward(-dlog_w, z, mean, log_var)
    dz_total = dz + dz_prior + dz_q                                                 # d objective / d z_i (Eq. (I3))
    if dreg:
        # Eq. (I5): weight each path derivative by w~_i once more (dlog_w = -w~ / N, so -N dlog_w = w~), and leave
        # out q's direct dependence on mu and log_var: the score term that the double reparameterization replaces.
        dz_total *= (-batch * dlog_w)[..., None]
    dmean, dlog_var = reparameterize_backward(dz_total, log_var, eps)               # Eq. (I4)
    if not dreg:
        dmean += dmean_q.sum(axis=0)
        dlog_var += dlog_var_q.sum(axis=0)
    model.recognition.backward(np.concatenate([dmean, dlog_var], axis=1), recognition_caches, input_grad=False)
    return value, model.gradients()


K_HELP = "importance samples per image of the training objective L_k"


@dataclass(frozen=True)
class IWAEOptions:
    lr: float = option(1e-3, "Adam's learning rate", learning_rate=True, homework=True)
    k: int = option(5, K_HELP)
    dreg: bool = option(False, "the doubly reparameterized gradient for the recognition network (DReG)")


class IWAE(Trainer):
    """One Adam over theta and phi together on the IWAE objective with k samples per image (Eq. (I1));
    step() returns the minibatch's mean -L^_k."""

    command, name, Options = "iwae", "IWAE", IWAEOptions
    losses = {"loss": "IWAE: mean $-\\hat{\\mathcal{L}}_k$"}

    def __init__(self, model, lr=1e-3, k=5, dreg=False):
        self.model, self.k, self.dreg = model, k, dreg
        self.optimizers = {"adam": Adam([(p, g) for _, p, g in model.named_parameters()], lr=lr)}

    def step(self, x, rng):
        eps = rng.standard_normal((self.k, x.shape[0], self.model.latent_dim), dtype=self.model.dtype)
        loss, _ = iwae_objective(self.model, x, eps, dreg=self.dreg)
        self.optimizers["adam"].step()
        return {"loss": loss}

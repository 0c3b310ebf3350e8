"""Auto-Encoding Variational Bayes (write-up section 1.3; derivations/1.3-aevb.md)."""
from dataclasses import dataclass

import numpy as np

from algorithms.options import Trainer, option
from algorithms.model import reconstruction_loss, reparameterize, reparameterize_backward
from nn import Adam, gaussian_kl_from_standard_normal, gaussian_kl_from_standard_normal_backward


def aevb_objective(model, x, eps):
    """Minus the AEVB estimator of Eq. (9), averaged over the minibatch, and its gradients.

        -L~(x) = KL(q_phi(z | x) || N(0, I)) - (1/S) sum_s log p_theta(x | z^(s)),  z^(s) = mu + sigma eps^(s)

    x: (N, D) in [0, 1]; eps: (S, N, J) standard normal noise, passed in so that the same draw is used
    forward and backward (and fixed by tests). Returns (value, grads), grads keyed like
    model.parameters(): the gradients of Eqs. (A3)-(A6) in derivations/1.3-aevb.md, with their sign flipped and
    divided by N (those are gradients of L~ for one image).
    """
    batch = x.shape[0]

    out, recognition_caches = model.recognition.forward(x)
    mean, log_var = model.split(out)
    z = reparameterize(mean, log_var, eps)
    # Reconstruction term: reaches theta directly, and mu and log_var through z (Eqs. (A4)-(A5)).
    reconstruction, dz = reconstruction_loss(model, x, z, input_grad=True)
    dmean, dlog_var = reparameterize_backward(dz, log_var, eps)
    # KL term: reaches mu and log_var directly (Eq. (A3)).
    kl = gaussian_kl_from_standard_normal(mean, log_var)                # (N,)
    value = float(kl.mean()) + reconstruction
    dkl = np.full(batch, 1.0 / batch, dtype=mean.dtype)
    dmean_kl, dlog_var_kl = gaussian_kl_from_standard_normal_backward(dkl, mean, log_var)
    model.recognition.backward(np.concatenate([dmean + dmean_kl, dlog_var + dlog_var_kl], axis=1),
                               recognition_caches, input_grad=False)
    return value, model.gradients()


@dataclass(frozen=True)
class AEVBOptions:
    lr: float = option(1e-3, "Adam's learning rate", learning_rate=True, homework=True)


class AEVB(Trainer):
    """One optimizer (Adam) over theta and phi together; step() returns the minibatch's mean -ELBO."""

    command, name, Options, in_write_up = "aevb", "AEVB", AEVBOptions, True
    losses = {"loss": "AEVB: mean negative ELBO"}

    def __init__(self, model, lr=1e-3, n_samples=1):
        self.model, self.n_samples = model, n_samples
        self.optimizers = {"adam": Adam([(p, g) for _, p, g in model.named_parameters()], lr=lr)}

    def step(self, x, rng):
        eps = rng.standard_normal((self.n_samples, x.shape[0], self.model.latent_dim), dtype=self.model.dtype)
        loss, _ = aevb_objective(self.model, x, eps)
        self.optimizers["adam"].step()
        return {"loss": loss}

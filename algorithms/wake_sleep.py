"""The Wake-Sleep algorithm (write-up section 1.2; derivations/1.2-wake-sleep.md)."""
from dataclasses import dataclass

import numpy as np

from algorithms.options import Trainer, option
from algorithms.model import reconstruction_loss, reparameterize
from nn import Adam, gaussian_log_density, gaussian_log_density_backward


def wake_objective(model, x, eps):
    """Minus the wake-phase objective of Eq. (3), averaged over minibatch and samples, and its
    gradients with respect to theta (Eq. (W3) of the derivation).

        -(1/N) sum_i (1/S) sum_s log p_theta(x_i | z_is),  z_is = mu_phi(x_i) + sigma_phi(x_i) eps_is

    phi is held fixed: the recognition network runs without a cache, so no gradient can reach it.
    x: (N, D); eps: (S, N, J). Returns (value, grads) with grads keyed like the generative parameters.
    """
    z = reparameterize(*model.encode(x), eps)
    value, _ = reconstruction_loss(model, x, z, input_grad=False)
    return value, model.gradients("generative.")


def dream(model, z, uniforms, dreams="samples"):
    """The dream x^m ~ p_theta(x | z^m) of Eq. (5), from uniforms u ~ U(0, 1): binary under the Bernoulli,
    x_d = [u_d < sigmoid(f_theta(z)_d)]; a grey level by the inverse distribution function under the continuous
    Bernoulli (Eq. (L9); derivations/likelihoods.md says why the dreams must be the model's own samples).
    With dreams="means", the decoder's mean E[x | z^m] instead (Eq. (W6)): no sample of the model, but an image of
    the data's kind when the data are grey.

    z: (M, J), uniforms: (M, D) -> (M, D), in the model's dtype.
    """
    logits = model.decode(z)
    return model.likelihood.mean(logits) if dreams == "means" else model.likelihood.sample(logits, uniforms)


def sleep_objective(model, z, uniforms, dreams="samples"):
    """Minus the sleep-phase objective of Eq. (5), averaged over the M dreams, and its gradients with
    respect to phi (Eq. (W5) of the derivation).

        -(1/M) sum_m log q_phi(z_m | x_m),  z_m ~ N(0, I),  x_m ~ p_theta(x | z_m)

    theta is held fixed: the dream is made without a cache. z: (M, J) dreamed latents; uniforms: (M, D)
    the noise that draws the dream; dreams: "samples" or "means" (dream()). Returns (value, grads) keyed like the
    recognition parameters.
    """
    out, caches = model.recognition.forward(dream(model, z, uniforms, dreams))
    mean, log_var = model.split(out)
    log_q = gaussian_log_density(z, mean, log_var)
    dlog_q = np.full(z.shape[0], -1.0 / z.shape[0], dtype=mean.dtype)
    _, dmean, dlog_var = gaussian_log_density_backward(dlog_q, z, mean, log_var)
    model.recognition.backward(np.concatenate([dmean, dlog_var], axis=1), caches, input_grad=False)
    return float(-log_q.mean()), model.gradients("recognition.")


DREAMS = ("samples", "means")
DREAMS_HELP = ("what the sleep phase dreams: samples x ~ p(x | z) (the write-up's), or the decoder's means E[x | z] "
               "(derivations/1.2-wake-sleep.md, Eq. (W6))")


@dataclass(frozen=True)
class WakeSleepOptions:
    wake_lr: float = option(1e-3, "wake phase Adam learning rate", learning_rate=True, homework=True)
    sleep_lr: float = option(1e-5, "sleep phase Adam learning rate", learning_rate=True, homework=True)
    sleep_samples: int = option(100, "dreams per sleep step")
    dreams: str = option("samples", DREAMS_HELP, choices=DREAMS)


class WakeSleep(Trainer):
    """A wake step on theta, then a sleep step on phi, each with its own Adam and learning rate."""

    command, name, Options, in_write_up = "wake-sleep", "Wake-Sleep", WakeSleepOptions, True
    losses = {"wake_loss": "Wake-Sleep, wake phase: -log p(x | z)",
              "sleep_loss": "Wake-Sleep, sleep phase: -log q(z | x)"}

    def __init__(self, model, wake_lr=1e-3, sleep_lr=1e-5, sleep_samples=100, n_samples=1, dreams="samples"):
        self.model, self.sleep_samples, self.n_samples, self.dreams = model, sleep_samples, n_samples, dreams
        self.optimizers = {
            "wake": Adam([(p, g) for _, p, g in model.generative.named_parameters()], lr=wake_lr),
            "sleep": Adam([(p, g) for _, p, g in model.recognition.named_parameters()], lr=sleep_lr),
        }

    def step(self, x, rng):
        dtype, latent = self.model.dtype, self.model.latent_dim
        eps = rng.standard_normal((self.n_samples, x.shape[0], latent), dtype=dtype)
        wake_loss, _ = wake_objective(self.model, x, eps)
        self.optimizers["wake"].step()

        sleep_loss = sleep_step(self.model, self.optimizers["sleep"], self.sleep_samples, rng, self.dreams)
        return {"wake_loss": wake_loss, "sleep_loss": sleep_loss}

    @classmethod
    def report_lines(cls, options, history):
        if len(history) >= 10:
            return []
        epochs = f"{len(history)} epoch{'s' if len(history) != 1 else ''}"
        return [f"{epochs} are too few for Wake-Sleep to learn visibly: with the sleep phase's learning "
                f"rate of {options.sleep_lr:g}, the recognition network has barely moved from its initialization, "
                "so it maps every image to nearly the same code, and the reconstructions are nearly one and the same "
                "blob. This is expected, not a fault; the 100-epoch run of section 1.6 is where it learns.", ""]


def sleep_step(model, optimizer, samples, rng, dreams="samples"):
    """One sleep update of phi (Eq. (W5)): `samples` dreams z ~ N(0, I), x ~ p_theta(x | z), then optimizer.step();
    returns the sleep loss. Shared by Wake-Sleep and reweighted wake-sleep's optional sleep-phi."""
    z = rng.standard_normal((samples, model.latent_dim), dtype=model.dtype)
    uniforms = rng.random((samples, model.data_dim), dtype=model.dtype)
    loss, _ = sleep_objective(model, z, uniforms, dreams)
    optimizer.step()
    return loss

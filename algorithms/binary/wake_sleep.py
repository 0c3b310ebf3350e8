"""Classic wake-sleep for the binary Helmholtz machine (Hinton, Dayan, Frey & Neal 1995; derivations/binary.md,
Eqs. (S5)-(S6)): wake, h ~ q(h | x) and ascend log p(x, h) in theta; sleep, (x, h) ~ p and ascend log q(h | x) in phi.

With optimizer = "sgd", batch_size = 1 and sleep_samples = 1 it is the papers' rule exactly: one image and one dream a
step, and each weight moved by its learning rate times the delta rule (derivations/1995.md, Eqs. (H9)-(H10))."""
from dataclasses import dataclass

import numpy as np

from algorithms.binary.model import dream, p_backward, q_backward, sample_q, score_p, score_q
from algorithms.options import Trainer, option
from nn import SGD, Adam, Momentum

OPTIMIZERS = {"adam": Adam, "sgd": SGD, "momentum": Momentum}


def wake_objective(model, x, uniforms):
    """-(1/(k N)) sum_{i, n} log p(x_n, h_in), h_in ~ q(h | x_n) held fixed (Eq. (S5)); writes theta's gradients.
    x: (N, D); uniforms: (k, N, J_1 + ... + J_L). Returns (value, -ELBO estimate of the same samples)."""
    sample = sample_q(model, x, uniforms, keep=False)
    scored = score_p(model, x, sample.hs)
    k, batch = uniforms.shape[:2]
    p_backward(model, x, scored, np.full((k, batch), -1.0 / (k * batch), dtype=model.dtype))
    return -float(scored.total.mean()), -float((scored.total - sample.total).mean())


def sleep_objective(model, rng, samples):
    """-(1/M) sum_m log q(h_m | x_m), (x_m, h_m) ~ p (Eq. (S6)); writes phi's gradients."""
    x, hs = dream(model, rng, samples)
    scored = score_q(model, x, hs)
    q_backward(model, scored, np.full((1, samples), -1.0 / samples, dtype=model.dtype))
    return -float(scored.total.mean())


@dataclass(frozen=True)
class WakeSleepOptions:
    # the sleep phase at the wake phase's rate: the write-up's 1e-5 was for a Gaussian q that diverges faster (Eq. (W5))
    wake_lr: float = option(1e-3, "wake phase learning rate (Adam's, or with --optimizer sgd the delta rule's)",
                            learning_rate=True, homework=True)
    sleep_lr: float = option(1e-3, "sleep phase learning rate (Adam's, or with --optimizer sgd the delta rule's)",
                             learning_rate=True, homework=True)
    sleep_samples: int = option(100, "dreams per sleep step")
    # added after binary wake-sleep runs were kept: their checkpoints trained with Adam, and resume with it
    optimizer: str = option("adam", "adam; sgd: each weight moved by its learning rate times the delta rule, the "
                            "1995 papers' (derivations/1995.md, Eqs. (H9)-(H10)); momentum: sgd on a moving average "
                            "of the gradients, d <- 0.95 d + 0.05 g (RWS's reference code, derivations/binary.md)",
                            choices=tuple(OPTIMIZERS), before="adam")


class WakeSleep(Trainer):
    """A wake step on theta, then a sleep step on phi from `sleep_samples` dreams, each with its own Adam; with
    optimizer="sgd" (--optimizer sgd), plain gradient steps, the 1995 papers' delta rules (derivations/1995.md,
    Eqs. (H9)-(H10)); a checkpoint made before the option existed resumes with Adam (its `before`)."""

    command, name, latent, Options = "wake-sleep", "Wake-Sleep", "binary", WakeSleepOptions
    losses = {"wake_loss": "Wake-Sleep, wake phase: -log p(x | h)", "sleep_loss": "Wake-Sleep, sleep phase: -log q(h | x)",
              "elbo_loss": "Wake-Sleep: mean negative ELBO of the wake samples"}

    def __init__(self, model, wake_lr=1e-3, sleep_lr=1e-3, sleep_samples=100, n_samples=1, optimizer="adam"):
        self.model, self.sleep_samples, self.n_samples = model, sleep_samples, n_samples
        step = OPTIMIZERS[optimizer]
        self.optimizers = {"wake": step(model.pairs("generative."), lr=wake_lr),
                           "sleep": step(model.pairs("recognition."), lr=sleep_lr)}

    def step(self, x, rng):
        wake_loss, elbo_loss = wake_objective(self.model, x, self.model.noise(rng, self.n_samples * x.shape[0])
                                              .reshape(self.n_samples, x.shape[0], -1))
        self.optimizers["wake"].step()
        sleep_loss = sleep_objective(self.model, rng, self.sleep_samples)
        self.optimizers["sleep"].step()
        return {"wake_loss": wake_loss, "sleep_loss": sleep_loss, "elbo_loss": elbo_loss}

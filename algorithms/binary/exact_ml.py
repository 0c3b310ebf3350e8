"""Maximum likelihood by the exact gradient (derivations/1995.md, Eq. (H8)): for a network small enough to enumerate
every joint state of its layers (why_not_jointly_enumerable), theta ascends (1/N) sum_n log p(x_n) itself, each
state's grad log p(x, h) weighted by its exact posterior p(h | x). No estimator of the gradient can do better on the
same samples. The recognition network plays no part in it; with sleep_phi, a sleep phase (Eq. (S6)) trains it beside,
so that q(h | x) can be compared with the exact posterior.

The states' terms live here, not in algorithms/binary/exact.py (which sums with them, enumerate_joint): the registry
imports this file, and exact.py imports the registry.
"""
from dataclasses import dataclass

import numpy as np

from algorithms.binary.model import p_backward, score_p
from algorithms.binary.wake_sleep import OPTIMIZERS, sleep_objective
from algorithms.options import Trainer, option
from nn import bernoulli_log_likelihood
from nn.functional import softplus

# the most units in all layers together whose joint states are summed over: algorithms/__init__.py::ENUMERABLE's
# 2^20 (not imported from there: the registry imports this file)
MOST_JOINT_UNITS = 20


def why_not_jointly_enumerable(model):
    """Why the sum of Eq. (H4) over the states of all of model's layers together cannot be enumerated here, or None
    when it can (at most 2^MOST_JOINT_UNITS states in all)."""
    return why_not_jointly_enumerable_layers(model.layers)


def why_not_jointly_enumerable_layers(layers):
    """why_not_jointly_enumerable for stochastic layers of these sizes."""
    total = sum(layers)
    if total > MOST_JOINT_UNITS:
        return f"its layers have {total} units in all: 2^{total} states (at most 2^{MOST_JOINT_UNITS})"
    return None


def joint_states(layers, start, stop, dtype):
    """The joint states numbered start, ..., stop - 1 that Eq. (H4) sums over, split by layer: [h_1 (S, J_1), ...,
    h_L (S, J_L)], state s having bit j of s as the j-th unit counted bottom up (h_1's units first)."""
    numbers = np.arange(start, stop)[:, None]
    bits = ((numbers >> np.arange(sum(layers))) & 1).astype(dtype)      # as algorithms/binary/exact.py::states
    edges = np.cumsum([0, *layers])
    return [bits[:, low:high] for low, high in zip(edges[:-1], edges[1:])]


def joint_state_terms(model, hs):
    """For joint states hs (a list of (S, J_l)): the decoder's logits eta(h_1) (S, D) and, in float64,
    c(h) = log p(h_1, ..., h_L) - sum_d softplus(eta_d(h_1)) (S,) and log q(h_2, ..., h_L | h_1) (S,): the pieces of
    Eq. (H4) that do not depend on the image."""
    log_prior = bernoulli_log_likelihood(hs[-1], model.prior.params["b"]).astype(np.float64)   # log p(h_L)
    log_q_upper = np.zeros(hs[0].shape[0])
    for l in range(1, len(hs)):
        log_prior += bernoulli_log_likelihood(hs[l - 1], model.generative[l](hs[l]))      # log p(h_{l} | h_{l+1})
        log_q_upper += bernoulli_log_likelihood(hs[l], model.recognition[l](hs[l - 1]))   # log q(h_{l+1} | h_l)
    logits = model.decode(hs[0])
    constant = log_prior - softplus(logits.astype(np.float64)).sum(axis=1)
    return logits, constant, log_q_upper


def log_joint_and_q(model, x, hs):
    """log p(x, h) and log q(h | x) of every image x (N, D) and every joint state hs (a list of (S, J_l)), in float64:
    two (N, S) arrays (Eq. (H4); q's first layer from the images, its upper layers from the states)."""
    logits, constant, log_q_upper = joint_state_terms(model, hs)
    x64 = x.astype(np.float64)
    joint = x64 @ logits.astype(np.float64).T + constant                                  # Eq. (H4)
    q_logits = model.recognition[0](x.astype(model.dtype)).astype(np.float64)             # lambda(x), (N, J_1)
    h1 = hs[0].astype(np.float64)
    log_q = q_logits @ h1.T - softplus(q_logits).sum(axis=1, keepdims=True) + log_q_upper
    return joint, log_q


def exact_log_px_backward(model, x, weights):
    """Writes into theta's grads (every g_l and the prior's b) the exact gradient of sum_n weights[n] log p(x_n)
    (Eq. (H8)): grad log p(x) = sum_h p(h | x) grad log p(x, h), the wake phase's Eq. (S3) with every joint state
    weighted by its exact posterior instead of one sample of q. x: (N, D); weights: (N,). Returns log p(x) (N,)."""
    reason = why_not_jointly_enumerable(model)
    if reason:
        raise ValueError(f"the model cannot be enumerated: {reason}")
    total, n = 2 ** sum(model.layers), x.shape[0]
    hs = joint_states(model.layers, 0, total, model.dtype)
    joint, _ = log_joint_and_q(model, x, hs)
    log_px = joint.max(axis=1) + np.log(np.exp(joint - joint.max(axis=1, keepdims=True)).sum(axis=1))
    posterior = np.exp(joint - log_px[:, None]).T                                        # p(h | x_n), (S, N)
    samples = [np.ascontiguousarray(np.broadcast_to(h[:, None], (total, n, h.shape[1]))) for h in hs]
    scored = score_p(model, x.astype(model.dtype), samples)
    p_backward(model, x.astype(model.dtype), scored, (posterior * weights).astype(model.dtype))
    return log_px


@dataclass(frozen=True)
class ExactOptions:
    lr: float = option(0.1, "the generative network's learning rate", learning_rate=True, homework=True)
    optimizer: str = option("sgd", "sgd (theta <- theta + lr * gradient, as the 1995 papers' rules) or adam",
                            choices=tuple(OPTIMIZERS))
    sleep_phi: bool = option(True, "train q by the sleep phase beside (it does not change theta's steps)")
    phi_lr: float = option(0.1, "the sleep phase's learning rate (with --sleep-phi)", learning_rate=True)
    sleep_samples: int = option(1, "dreams per sleep step (with --sleep-phi)")


class ExactMaximumLikelihood(Trainer):
    """theta ascends the exact mean log p(x) of each minibatch (Eq. (H8)); with sleep_phi, phi takes a sleep step."""

    command, name, latent, Options = "exact-ml", "Exact ML", "binary", ExactOptions
    losses = {"loss": "Exact ML: mean $-\\log p(x)$ of the minibatch",
              "sleep_loss": "Exact ML, sleep-phi: -log q(h | x) on dreams"}

    def __init__(self, model, lr=0.1, optimizer="sgd", sleep_phi=True, phi_lr=0.1, sleep_samples=1):
        reason = why_not_jointly_enumerable(model)
        if reason:
            raise ValueError(f"exact maximum likelihood sums over every joint state, and {reason}")
        self.model, self.sleep_phi, self.sleep_samples = model, sleep_phi, sleep_samples
        self.losses = {name: title for name, title in type(self).losses.items() if sleep_phi or name == "loss"}
        self.optimizers = {"theta": OPTIMIZERS[optimizer](model.pairs("generative."), lr=lr)}
        if sleep_phi:
            self.optimizers["phi"] = OPTIMIZERS[optimizer](model.pairs("recognition."), lr=phi_lr)

    @classmethod
    def why_not(cls, values):
        reason = why_not_jointly_enumerable_layers(values["layers"])
        return f"exact maximum likelihood sums over every joint state, and {reason}" if reason else None

    def step(self, x, rng):
        batch = x.shape[0]
        log_px = exact_log_px_backward(self.model, x, np.full(batch, -1.0 / batch))   # minimize -mean log p(x)
        self.optimizers["theta"].step()
        losses = {"loss": -float(log_px.mean())}
        if self.sleep_phi:
            losses["sleep_loss"] = sleep_objective(self.model, rng, self.sleep_samples)
            self.optimizers["phi"].step()
        return losses

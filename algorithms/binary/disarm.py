"""DisARM (Dong, Mnih & Tucker 2020) and ARM (Yin & Zhou 2019): the ELBO's gradient in phi from an antithetic pair
of samples, h = [u < sigmoid(eta)] and h~ = [1 - u < sigmoid(eta)], drawn with the same uniforms u (derivations/
estimators.md, Eqs. (G4)-(G7)).

With several stochastic layers the estimator is applied layer by layer (Eq. (G7)): layer 1's pair is two whole samples
of q (h~'s layers above drawn with fresh uniforms); for each layer l >= 2 and each of the two samples, the layers
below l are kept, layer l is flipped to its antithetic h~_l (from the same u_l) and the layers above it are drawn
afresh; the pair's difference of layer l's local learning signal (the terms of log p(x, h) - log q(h | x) that depend
on h_l or above it: nvil.py::local_signals, Eq. (S9)) weights layer l's logits. Both samples of layer 1's pair carry
a pair at every layer above, each weighted 1/2. theta ascends the mean of log p(x, h) over layer 1's pair.

A step costs two decoder passes (g_1 on both samples of layer 1's pair), as RLOO and VIMCO with k = 2; each layer
l >= 2 adds g_l, ..., g_L on the two flipped samples.
"""
from dataclasses import dataclass

import numpy as np

from algorithms.binary.model import open_uniforms, p_backward, rows, run, sample_q, score_p
from algorithms.options import Trainer, option
from nn import Adam, bernoulli_log_likelihood
from nn.functional import sigmoid


def noise_width(layers):
    """Uniforms per image: u_1, then for each of the pair's two samples its u_2, ..., u_L and, for every layer
    l >= 2, fresh uniforms for the layers above l. layers: J_1, ..., J_L."""
    upper = sum(layers[1:])
    continuations = sum(sum(layers[l + 1:]) for l in range(1, len(layers)))
    return layers[0] + 2 * upper + 2 * continuations


def split_noise(layers, noise):
    """noise (N, noise_width) -> (the pair's uniforms (2, N, J_1 + ... + J_L), [continuation uniforms (2, N, J_{l+1}
    + ... + J_L) for l = 2, ..., L]). Row 0 of the pair is u; row 1 takes 1 - u_1 in layer 1 and fresh u_2, ..., u_L."""
    first, upper = layers[0], sum(layers[1:])
    u1 = noise[:, :first]
    above = noise[:, first:first + 2 * upper].reshape(noise.shape[0], 2, upper).transpose(1, 0, 2)
    pair = np.concatenate([np.stack([u1, 1.0 - u1]), above], axis=2)
    start, continuations = first + 2 * upper, []
    for l in range(1, len(layers)):
        width = sum(layers[l + 1:])
        block = noise[:, start:start + 2 * width].reshape(noise.shape[0], 2, width).transpose(1, 0, 2)
        continuations.append(block)
        start += 2 * width
    return pair, continuations


def flipped_signal(model, l, below, h, eta, uniforms):
    """Layer l's local learning signal (Eq. (S9)) of a sample whose layers below l are kept (below = h_{l-1}), whose
    layer l is h (logits eta = f_l(h_{l-1})) and whose layers above are drawn from q with `uniforms` (J_{l+1} + ...):
    log p(h_{l-1} | h) - log q(h | h_{l-1}) + sum_{j > l} [log p(h_{j-1} | h_j) - log q(h_j | h_{j-1})] + log p(h_L).
    l is 0-based (layer l + 1 of the page); arrays (..., N, J)."""
    signal = bernoulli_log_likelihood(below, run(model.generative[l], h, keep=False)[0]) \
        - bernoulli_log_likelihood(h, eta)
    start = 0
    for j in range(l + 1, len(model.layers)):
        eta_j = run(model.recognition[j], h, keep=False)[0]
        above = (uniforms[..., start:start + model.layers[j]] < sigmoid(eta_j)).astype(model.dtype)
        signal = signal + bernoulli_log_likelihood(h, run(model.generative[j], above, keep=False)[0]) \
            - bernoulli_log_likelihood(above, eta_j)
        h, start = above, start + model.layers[j]
    return signal + bernoulli_log_likelihood(h, model.prior.params["b"])


def antithetic_logit_gradient(difference, h, h_flip, eta, u, estimator):
    """d E[f] / d eta estimated from one antithetic pair, f(h) - f(h~) = difference (..., N):
    DisARM (Eq. (G6)):  (1/2) (f(h) - f(h~)) (-1)^{h~} [h != h~] sigmoid(|eta|);
    ARM (Eq. (G5)):     (f(h~) - f(h)) (u - 1/2).
    h, h_flip, eta, u: (..., N, J) -> (..., N, J)."""
    if estimator == "arm":
        return -difference[..., None] * (u - 0.5)
    sign = 1.0 - 2.0 * h_flip                                            # (-1)^{h~}
    return 0.5 * difference[..., None] * sign * (h != h_flip) * sigmoid(np.abs(eta))


def disarm_objective(model, x, noise, estimator="disarm"):
    """-(1/N) sum_n (1/2) sum over layer 1's pair of l(x_n, h) (the ELBO's estimate), and its gradients: theta's the
    mean of -grad log p(x, h) over the pair, phi's layer by layer by Eq. (G7), the pair's logit gradient of Eq. (G6)
    (or ARM's, Eq. (G5)) pulled back through f_l. x: (N, D); noise: (N, noise_width(model.layers))."""
    batch = x.shape[0]
    pair, continuations = split_noise(model.layers, noise)
    sample = sample_q(model, x, pair)                                     # (2, N, .): the whole pair, layer 1 up
    scored = score_p(model, x, sample.hs)
    p_backward(model, x, scored, np.full((2, batch), -0.5 / batch, dtype=model.dtype))
    starts = np.cumsum([0, *model.layers])
    for l, (net, eta, cache) in enumerate(zip(model.recognition, sample.logits, sample.caches)):
        signal = (sum(scored.terms[l:]) - sum(sample.terms[l:])).astype(np.float64)    # local signals (2, N)
        u = pair[..., starts[l]:starts[l + 1]]
        if l == 0:               # layer 1: the pair itself; its logits (N, J_1) are shared by the two samples
            h, h_flip, u, weight = sample.hs[0][0], sample.hs[0][1], u[0], -1.0 / batch
            difference = signal[0] - signal[1]
        else:                    # each sample against itself with layer l flipped and the layers above drawn afresh
            h, below, weight = sample.hs[l], sample.hs[l - 1], -0.5 / batch
            h_flip = (1.0 - u < sigmoid(eta)).astype(model.dtype)
            difference = signal - flipped_signal(model, l, below, h_flip, eta, continuations[l - 1])
        difference = (weight * difference).astype(model.dtype)
        net.backward(rows(antithetic_logit_gradient(difference, h, h_flip, eta, u, estimator)), cache, input_grad=False)
    return -float((scored.total - sample.total).astype(np.float64).mean())


@dataclass(frozen=True)
class DisARMOptions:
    lr: float = option(1e-3, "Adam's learning rate", learning_rate=True, homework=True)
    estimator: str = option("disarm", "disarm: the pair's difference with the augmenting uniform integrated out "
                            "(Dong et al. 2020); arm: weighted by u - 1/2 (Yin & Zhou 2019)",
                            choices=("disarm", "arm"))


class DisARM(Trainer):
    """One Adam over theta and phi on the ELBO, with one antithetic pair per image (two decoder passes)."""

    command, name, latent, Options = "disarm", "DisARM", "binary", DisARMOptions
    losses = {"loss": "DisARM: mean negative ELBO"}

    def __init__(self, model, lr=1e-3, estimator="disarm"):
        if estimator not in ("disarm", "arm"):
            raise ValueError(f"unknown estimator {estimator!r}: disarm or arm")
        self.model, self.estimator = model, estimator
        self.optimizers = {"adam": Adam(model.pairs(""), lr=lr)}

    @classmethod
    def rows_per_step(cls, options, batch):
        """Two samples per image (the pair), with no option named k."""
        return 2 * batch

    def step(self, x, rng):
        noise = open_uniforms(rng, (x.shape[0], noise_width(self.model.layers)), self.model.dtype)
        loss = disarm_objective(self.model, x, noise, self.estimator)
        self.optimizers["adam"].step()
        return {"loss": loss}

"""The binary Helmholtz machine (Dayan, Hinton, Neal & Zemel 1995; derivations/binary.md, Eqs. (S1)-(S4)).

Generative network, top down:   p(h_L) = Bernoulli(sigmoid(b)),  p(h_{l-1} | h_l) = Bernoulli(sigmoid(g_l(h_l))),
                                with h_0 = x: a sigmoid belief network (SBN)
Recognition network, bottom up: q(h_l | h_{l-1}) = Bernoulli(sigmoid(f_l(h_{l-1})))

Every f_l and g_l is an MLP: one Linear layer (a linear SBN) or, with hidden sizes, deterministic layers between two
stochastic ones (a nonlinear SBN). Everything is computed from logits (Eq. (S3)), never from probabilities.

The estimators (wake_sleep, rws, nvil, vimco) are built from four pieces here:
    sample_q(model, x, uniforms)   h ~ q(h | x), with log q(h | x) layer by layer           (Eqs. (S2), (S4))
    score_q(model, x, hs)          log q(h | x) of given h, layer by layer (dreams)          (Eq. (S2))
    score_p(model, x, hs)          log p(x, h), layer by layer                               (Eq. (S1))
    q_backward / p_backward        the gradient of sum_i weight_i log q(h_i | x) in phi, or of sum_i weight_i
                                   log p(x, h_i) in theta, written into the networks' grads  (Eq. (S3))
Samples are held as (k, N, J_l) arrays: k samples of each of N images.
"""
from dataclasses import dataclass

import numpy as np

from algorithms.binary import evaluation
from algorithms.model import Networks
from nn import MLP, Bernoulli, bernoulli_log_likelihood
from nn.functional import sigmoid


class PriorLogits:
    """The top layer's prior p(h_L) = Bernoulli(sigmoid(b)): a learned vector of logits b, shaped like a network
    (params, grads, named_parameters) so that optimizers and checkpoints treat it as one."""

    def __init__(self, size, dtype):
        self.params = {"b": np.zeros(size, dtype=dtype)}
        self.grads = {"b": np.zeros(size, dtype=dtype)}

    def named_parameters(self):
        yield "b", self.params["b"], self.grads["b"]


class BinaryHelmholtzMachine(Networks):
    """layers: the stochastic layers' sizes J_1, ..., J_L, bottom up; hidden: the deterministic layers between two
    stochastic ones (none: a linear SBN). data_dim D is h_0's size. Its parameters are named by networks():
    'recognition.0.0.W' is f_1's first weight matrix, 'generative.0' is g_1, 'generative.prior.b' the prior's logits."""

    latent = "binary"

    def __init__(self, rng, data_dim=784, layers=(200,), hidden=(), activation="tanh", dtype=np.float32):
        self.data_dim, self.layers, self.dtype = data_dim, list(layers), np.dtype(dtype)
        self.latent_dim = self.layers[0]        # the layer next to the data: what figures and unit activities show
        self.likelihood = Bernoulli()
        sizes = [data_dim, *self.layers]
        self.recognition = [MLP([below, *hidden, above], activation, rng, dtype)           # f_l: h_{l-1} -> h_l
                            for below, above in zip(sizes[:-1], sizes[1:])]
        self.generative = [MLP([above, *reversed(hidden), below], activation, rng, dtype)  # g_l: h_l -> h_{l-1}
                           for below, above in zip(sizes[:-1], sizes[1:])]
        self.prior = PriorLogits(self.layers[-1], dtype)

    def encode(self, x):
        """q(h_1 = 1 | x), and None (no variance): what the figures and unit activities read. x: (N, D) -> (N, J_1)."""
        return sigmoid(self.recognition[0](x)), None

    def decode(self, h):
        """The logits of p(x | h_1), keeping nothing for backward. h: (N, J_1) -> (N, D)."""
        return self.generative[0](h)

    def decoder_output(self):
        """The Linear layer that makes p(x | h_1)'s logits (whose bias --output-bias pixel-means sets)."""
        return self.generative[0].layers[-1]

    def noise(self, rng, k):
        """The uniforms that draw k samples of h ~ q(h | x) for one image (sample_q): (k, J_1 + ... + J_L)."""
        return open_uniforms(rng, (k, sum(self.layers)), self.dtype)

    def log_importance_weights(self, x, uniforms):
        """log w_i = log p(x, h_i) - log q(h_i | x), h_i ~ q (Eq. (S1) minus Eq. (S2)), keeping nothing for backward:
        algorithms/binary/evaluation.py's, fused for speed. x: (N, D); uniforms: (k, N, J_1 + ... + J_L) -> (k, N)."""
        return evaluation.log_importance_weights(self, x, uniforms)

    def networks(self):
        nets = {f"recognition.{l}": net for l, net in enumerate(self.recognition)}
        nets.update({f"generative.{l}": net for l, net in enumerate(self.generative)})
        nets["generative.prior"] = self.prior
        return nets


@dataclass
class Pass:
    """One network's pass over samples: hs[l] = h_{l+1} (k, N, J), the logits of each layer's distribution, the
    log-probability terms per layer (k, N) and the MLPs' caches (None when nothing is kept for backward)."""
    hs: list
    logits: list
    terms: list
    caches: list

    @property
    def total(self):
        return sum(self.terms)


def rows(a):
    """(k, N, J) -> (k N, J): the k samples of N images as one matrix for an MLP."""
    return a.reshape(-1, a.shape[-1])


def run(net, inputs, keep):
    """net's output for inputs (k, N, n) or (N, n), with its caches if keep."""
    if keep:
        out, caches = net.forward(inputs.reshape(-1, inputs.shape[-1]))
    else:
        out, caches = net(inputs.reshape(-1, inputs.shape[-1])), None
    return out.reshape(*inputs.shape[:-1], -1), caches


def open_uniforms(rng, shape, dtype):
    """u ~ U(0, 1) for Eq. (S4), never 0 and never 1 (derivations/binary.md, "Uniforms that are never 0"). rng.random
    draws multiples of e = epsneg, the spacing below 1 (2^-24 in float32), 0 included. [u < sigmoid(eta)] would then
    be on with probability at least e for every sigmoid(eta) > 0: a unit that q gives 1e-10 would be drawn on 600 times
    as often as q says, and so would the samples with it, whose importance weights divide by that 1e-10. With 0 read
    as e (which e then has twice the probability of the other values), u and 1 - u (DisARM's antithetic sample) both
    lie in [e, 1 - e], exactly in float32: a unit drawn from either is on with probability at most 2 sigmoid(eta) and
    off with probability at most 2 (1 - sigmoid(eta)), sigmoid as float32 computes it."""
    u = rng.random(shape, dtype=dtype)
    return np.maximum(u, np.finfo(dtype).epsneg, out=u)


def sample_q(model, x, uniforms, keep=True):
    """h_l = [u_l < sigmoid(f_l(h_{l-1}))] bottom up from h_0 = x (Eq. (S4)), and log q(h_l | h_{l-1}) per layer
    (Eq. (S2)). x: (N, D); uniforms: (k, N, J_1 + ... + J_L). The first layer's logits are computed once per image
    (N, J_1) and shared by its k samples."""
    hs, logits, terms, caches, below, start = [], [], [], [], x, 0
    for net, size in zip(model.recognition, model.layers):
        eta, cache = run(net, below, keep)
        h = (uniforms[..., start:start + size] < sigmoid(eta)).astype(model.dtype)
        hs.append(h), logits.append(eta), terms.append(bernoulli_log_likelihood(h, eta)), caches.append(cache)
        below, start = h, start + size
    return Pass(hs, logits, terms, caches)


def score_q(model, x, hs, keep=True):
    """log q(h_l | h_{l-1}) per layer for given samples hs (Eq. (S2)): the sleep phase's dreams. x: (k, N, D) or
    (N, D)."""
    logits, terms, caches = [], [], []
    for net, below, h in zip(model.recognition, [x, *hs[:-1]], hs):
        eta, cache = run(net, below, keep)
        logits.append(eta), terms.append(bernoulli_log_likelihood(h, eta)), caches.append(cache)
    return Pass(hs, logits, terms, caches)


def score_p(model, x, hs, keep=True):
    """log p(x, h) by layer (Eq. (S1)): terms[0] = log p(x | h_1), terms[l] = log p(h_l | h_{l+1}), and
    terms[L] = log p(h_L), the prior's. x: (N, D) (shared by the k samples) or (k, N, D)."""
    logits, terms, caches = [], [], []
    for net, below, h in zip(model.generative, [x, *hs[:-1]], hs):
        eta, cache = run(net, h, keep)
        logits.append(eta), terms.append(bernoulli_log_likelihood(below, eta)), caches.append(cache)
    prior = model.prior.params["b"]                  # (J_L,): its softplus and sigmoid once, not once per sample
    logits.append(prior), terms.append(bernoulli_log_likelihood(hs[-1], prior))
    return Pass(hs, logits, terms, caches)


def q_backward(model, sample, weights):
    """Writes into phi's grads the gradient of sum_{i, n} weights_l[i, n] log q(h_l | h_{l-1}) over the layers l
    (Eq. (S3): d/d eta = h - sigmoid(eta)). weights: one (k, N) array for every layer, or a list of one per layer
    (NVIL's local learning signals). The samples are held fixed: no gradient flows through them."""
    if not isinstance(weights, list):
        weights = [weights] * len(model.layers)
    for net, h, eta, cache, weight in zip(model.recognition, sample.hs, sample.logits, sample.caches, weights):
        dlogits = weight[..., None] * (h - sigmoid(eta))
        if eta.ndim < h.ndim:                        # the first layer's logits were shared by the k samples
            dlogits = dlogits.sum(axis=0)
        net.backward(rows(dlogits), cache, input_grad=False)


def p_backward(model, x, scored, weights):
    """Writes into theta's grads (every g_l and the prior's b) the gradient of sum_{i, n} weights[i, n]
    log p(x, h_i) (Eq. (S3)). weights: (k, N)."""
    for net, below, eta, cache in zip(model.generative, [x, *scored.hs[:-1]], scored.logits, scored.caches):
        net.backward(rows(weights[..., None] * (below - sigmoid(eta))), cache, input_grad=False)
    top = scored.hs[-1]
    model.prior.grads["b"][...] = np.sum(weights[..., None] * (top - sigmoid(scored.logits[-1])), axis=(0, 1))


def dream(model, rng, samples):
    """(x, hs) ~ p(x, h), top down (Eq. (S1)): `samples` dreams of each layer, as (1, samples, J) arrays."""
    h = (rng.random((1, samples, model.layers[-1]), dtype=model.dtype) < sigmoid(model.prior.params["b"]))
    hs = [h.astype(model.dtype)]
    for net in reversed(model.generative):
        eta, _ = run(net, hs[0], keep=False)
        hs.insert(0, (rng.random(eta.shape, dtype=model.dtype) < sigmoid(eta)).astype(model.dtype))
    return hs[0], hs[1:]

"""The exact log p(x) of a binary Helmholtz machine with one stochastic layer of J <= MOST_UNITS units, by summing
over all 2^J states (derivations/binary.md, Eqs. (S12)-(S14)).

    log p(x, h) = x . eta(h) - sum_d softplus(eta_d(h)) + log p(h),    eta(h) = g_1(h) the decoder's logits

is linear in x (Eq. (S12)): for a chunk of states the images' terms x . eta(h) are one matrix product (N, D) x (D, S),
shared by all images, and each image's sum over states is a streaming log-sum-exp with float64 accumulators -- the
quadrature's trick (algorithms/exact.py), with a finite sum where the quadrature had a lattice.
"""
from dataclasses import dataclass

import numpy as np

from algorithms import ENUMERABLE, why_not_enumerable
from nn import StreamingLogSumExp, bernoulli_log_likelihood
from algorithms.binary.exact_ml import joint_states, log_joint_and_q, why_not_jointly_enumerable
from nn.functional import sigmoid, softplus

MOST_UNITS = ENUMERABLE   # 2^20 states: 10000 test images in under three minutes here (bench/exact_binary.py)
CHUNK = 2048              # states per product: the (N, CHUNK) block of log p(x, h) is the largest temporary


def enumerable(model):
    """Why model's log p(x) cannot be enumerated here, or None when it can."""
    return why_not_enumerable(model.layers)


def states(start, stop, units, dtype):
    """The states numbered start, ..., stop - 1 as rows of bits (state s has h_j = bit j of s): (stop - start, J)."""
    return ((np.arange(start, stop)[:, None] >> np.arange(units)) & 1).astype(dtype)


def state_terms(model, h):
    """For states h (S, J): the decoder's logits transposed (D, S) and c(h) = log p(h) - sum_d softplus(eta_d(h))
    (S,): the two pieces of Eq. (S12) that do not depend on the image."""
    logits = model.decode(h)
    constant = bernoulli_log_likelihood(h, model.prior.params["b"]) - softplus(logits).sum(axis=1, dtype=np.float64)
    return logits.T, constant.astype(model.dtype)


@dataclass
class Enumeration:
    """Per image (N,), float64: log p(x); with posterior=True also the exact ELBO E_q[log p(x, h) - log q(h | x)],
    KL(q || p(h | x)) = log p(x) - ELBO (Eq. (S13)), and the entropies of p(h | x) and q(h | x) (Eq. (S14))."""
    log_px: np.ndarray
    elbo: np.ndarray = None
    kl: np.ndarray = None
    posterior_entropy: np.ndarray = None
    q_entropy: np.ndarray = None


IMAGES = 1024             # images per block: a block of (IMAGES, CHUNK) terms stays in the cache for its passes


def enumerate_log_px(model, x, posterior=False, chunk=CHUNK, done=None):
    """log p(x) = log sum_h exp(log p(x, h)) over all 2^J states (Eq. (S12)) for every row of x (N, D): states in
    chunks, each chunk's decoder terms computed once and multiplied with every block of images; with posterior, also
    the exact ELBO, KL and entropies of Eqs. (S13)-(S14). done(states), if given, is told after every chunk."""
    reason = enumerable(model)
    if reason:
        raise ValueError(f"the model cannot be enumerated: {reason}")
    units, n = model.layers[0], x.shape[0]
    # x with a column of ones, so that one product gives x . eta(h) + c(h) (Eq. (S12))
    augmented = np.concatenate([x.astype(model.dtype), np.ones((n, 1), model.dtype)], axis=1)
    q_logits = model.recognition[0](x.astype(model.dtype)) if posterior else None
    sums = [LogSumExp(min(IMAGES, n - first), None if q_logits is None else q_logits[first:first + IMAGES])
            for first in range(0, n, IMAGES)]
    for start in range(0, 2 ** units, chunk):
        h = states(start, min(start + chunk, 2 ** units), units, model.dtype)
        logits_t, constant = state_terms(model, h)
        terms = np.concatenate([logits_t, constant[None]])                                 # (D + 1, S)
        for block, first in zip(sums, range(0, n, IMAGES)):
            joint = augmented[first:first + IMAGES] @ terms                                # log p(x, h), (B, S)
            block.add(joint, h)
        if done:
            done(h.shape[0])
    log_px = np.concatenate([block.log_total() for block in sums])
    if not posterior:
        return Enumeration(log_px)
    expected_joint = np.concatenate([block.expected_joint for block in sums])
    q_logits = q_logits.astype(np.float64)
    q_entropy = (softplus(q_logits) - q_logits * sigmoid(q_logits)).sum(axis=1)        # H(q), factor by factor
    elbo = expected_joint + q_entropy                                                  # E_q[log p(x, h)] + H(q)
    posterior_entropy = log_px - np.concatenate([block.mean_joint() for block in sums])  # -E_p[log p(h | x)]
    return Enumeration(log_px, elbo, log_px - elbo, posterior_entropy, q_entropy)


class LogSumExp:
    """The sum over the states for a block of images (Eq. (B15)), by nn/densities.py::StreamingLogSumExp over the
    chunks of states, each chunk's own sum in float32: log p(x) = log sum_h p(x, h), and with q's logits lambda(x)
    (B, J) also E_p[log p(x, h)] (weighted by p(h | x)) and E_q[log p(x, h)] (Eq. (S13))."""

    def __init__(self, images, q_logits=None):
        self.sums = StreamingLogSumExp(images, partial_dtype=None)
        self.expected_joint = np.zeros(images)
        self.q_logits = q_logits
        if q_logits is not None:      # log q(h | x) = lambda . h - sum_j softplus(lambda_j)
            self.q_constant = -softplus(q_logits).sum(axis=1, keepdims=True)

    def add(self, joint, h):
        """joint: (B, S) log p(x, h) of the chunk of states h (S, J), in float32; overwritten without q."""
        if self.q_logits is None:
            self.sums.add(joint)
            return
        self.sums.add(joint.copy(), of=joint)
        q = np.exp(self.q_logits @ h.T + self.q_constant)                      # q(h | x), (B, S)
        self.expected_joint += np.einsum("ns,ns->n", q, joint, dtype=np.float64)

    def log_total(self):
        return self.sums.peak + np.log(self.sums.total)

    def mean_joint(self):
        return self.sums.weighted / self.sums.total


def most_probable_states(model, x, count=5, chunk=CHUNK):
    """For one image x (D,): the `count` most probable states under p(h | x) and under q(h | x), each as
    (state numbers (count,), their probabilities (count,)), exactly (Eq. (S12) and q's product form). One pass over the
    states: the largest log p(x, h) are kept while log p(x) is summed, and divided out at the end."""
    units = model.layers[0]
    q_logits = model.recognition[0](x[None].astype(model.dtype))[0].astype(np.float64)
    best = {"p": (np.empty(0, int), np.empty(0)), "q": (np.empty(0, int), np.empty(0))}
    log_sum = LogSumExp(1)
    for start in range(0, 2 ** units, chunk):
        h = states(start, min(start + chunk, 2 ** units), units, model.dtype)
        logits_t, constant = state_terms(model, h)
        joint = (x.astype(model.dtype) @ logits_t + constant)[None]                    # log p(x, h), (1, S)
        scores = {"p": joint[0].astype(np.float64), "q": h.astype(np.float64) @ q_logits - softplus(q_logits).sum()}
        log_sum.add(joint, h)
        for name, score in scores.items():
            numbers = np.concatenate([best[name][0], np.arange(start, start + h.shape[0])])
            values = np.concatenate([best[name][1], score])
            keep = np.argsort(-values, kind="stable")[:count]
            best[name] = numbers[keep], values[keep]
    log_px = log_sum.log_total()[0]
    return {"p": (best["p"][0], np.exp(best["p"][1] - log_px)), "q": (best["q"][0], np.exp(best["q"][1]))}


# Several layers (derivations/1995.md, Eqs. (H4)-(H6)): every state of every layer at once, for the small networks of
# the 1995 papers (16-8-1: 2^9 = 512 states). The functions above sum over one layer; enumerate_joint over all of them,
# with the states' terms of algorithms/binary/exact_ml.py (which the registry imports, so it cannot import this file).

@dataclass
class JointEnumeration:
    """Per image (N,), float64, over every joint state of all layers: log p(x) (Eq. (H4)); with posterior=True also
    the exact ELBO, KL(q(h | x) || p(h | x)) = log p(x) - ELBO, the entropies of p(h | x) and q(h | x) (Eq. (H5)),
    and each unit's posterior probability of being on, exact and under q (N, J_1 + ... + J_L) (Eq. (H6))."""
    log_px: np.ndarray
    elbo: np.ndarray = None
    kl: np.ndarray = None
    posterior_entropy: np.ndarray = None
    q_entropy: np.ndarray = None
    posterior_on: np.ndarray = None
    q_on: np.ndarray = None


def enumerate_joint(model, x, posterior=False, chunk=CHUNK):
    """log p(x) = log sum_h p(x, h) over every joint state h = (h_1, ..., h_L) of all layers (Eq. (H4)) for every
    row of x (N, D), the states in chunks with a streaming log-sum-exp in float64; with posterior, also the exact ELBO,
    KL(q || p(h | x)), both entropies and each unit's posterior marginals (Eqs. (H5)-(H6))."""
    reason = why_not_jointly_enumerable(model)
    if reason:
        raise ValueError(f"the model cannot be enumerated: {reason}")
    total, n = 2 ** sum(model.layers), x.shape[0]
    peak, summed = np.full(n, -np.inf), np.zeros(n)
    p_joint, q_joint, q_log_q = np.zeros(n), np.zeros(n), np.zeros(n)   # sum_h p~ log p(x,h); E_q log p(x,h); E_q log q
    p_on, q_on = np.zeros((n, sum(model.layers))), np.zeros((n, sum(model.layers)))
    for start in range(0, total, chunk):
        hs = joint_states(model.layers, start, min(start + chunk, total), model.dtype)
        joint, log_q = log_joint_and_q(model, x, hs)
        new_peak = np.maximum(peak, joint.max(axis=1))
        scale = np.exp(peak - new_peak)                                  # rescale what was summed to the new peak
        weights = np.exp(joint - new_peak[:, None])                      # p(x, h) / e^peak, (N, S)
        summed = summed * scale + weights.sum(axis=1)
        if posterior:
            bits = np.concatenate(hs, axis=1).astype(np.float64)
            p_joint = p_joint * scale + np.einsum("ns,ns->n", weights, joint)
            p_on = p_on * scale[:, None] + weights @ bits
            q = np.exp(log_q)
            q_joint += np.einsum("ns,ns->n", q, joint)
            q_log_q += np.einsum("ns,ns->n", q, log_q)
            q_on += q @ bits
        peak = new_peak
    log_px = peak + np.log(summed)
    if not posterior:
        return JointEnumeration(log_px)
    elbo = q_joint - q_log_q
    return JointEnumeration(log_px, elbo, log_px - elbo, log_px - p_joint / summed, -q_log_q,
                            p_on / summed[:, None], q_on)

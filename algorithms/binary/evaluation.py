"""The log-weights log w = log p(x, h) - log q(h | x) of a binary Helmholtz machine for evaluation (L_k, the test
NLL's -L_5000), fused for speed (derivations/binary.md, "Evaluating L_5000 fast", Eq. (S15)).

The samples are sample_q's (algorithms/binary/model.py), bit for bit: the same uniforms, the same sigmoid. What
changes is how each layer's log-probability is summed. With s = |eta| and e = exp(-s), for binary targets t,

    sum_d log Bern(t_d; sigmoid(eta_d)) = sum_d (t_d - 1/2) eta_d  -  1/2 sum_d s_d  -  sum_d log(1 + e_d)   (S15)

(Eq. (B9), t eta - softplus(eta), with softplus(eta) = eta / 2 + s / 2 + log(1 + e)). The first sum is a
matrix-vector product where t is one image's x, the others matrix-vector products with a vector of ones; the log
is NumPy's log of 1 + e, not its log1p of e, which is about 15 times slower in float32 and was half the time of the
evaluation (bench/evaluation.py). log(1 + e) rounds 1 + e first: an absolute error below 6e-8 a term.

Nothing is kept for backward: training uses sample_q and score_p.
"""
import numpy as np

from nn.functional import exp_neg, sigmoid, softplus


def bernoulli_sums(eta, target, u=None):
    """sum_d log Bern(t_d; sigmoid(eta_d)) for every row of eta (Eq. (S15)). eta: (k, N, D) logits. target: (k, N, D)
    binary, or (N, D) when every sample's target is its image's x. With uniforms u (k, N, D), the target is drawn
    first, t = [u < sigmoid(eta)] (Eq. (S4)), and returned beside the sums. -> (k, N)[, t]."""
    s = np.abs(eta)
    e = exp_neg(s)                          # in float32 0 where |eta| >= 40, as softplus's and sigmoid's
    one_plus = e + 1
    if u is not None:
        # sigmoid(eta) = e^{min(eta, 0)} / (1 + e^{-|eta|}) (Eq. (B5)), from the e and 1 + e above: e^{min(eta, 0)}
        # is e where eta < 0 and 1 where eta >= 0 (where e <= 1), so max(e, [eta >= 0]). The same float32 numbers as
        # nn.functional.sigmoid, hence sample_q's samples.
        target = (u < np.maximum(e, (eta >= 0).astype(eta.dtype)) / one_plus).astype(eta.dtype)
    if target.ndim == eta.ndim:
        linear = np.einsum("knd,knd->kn", target - 0.5, eta)
    else:                                   # one image's x for all its samples: a matrix-vector product per image
        linear = np.matmul(eta.transpose(1, 0, 2), (target - 0.5)[..., None])[..., 0].T
    ones = np.ones(eta.shape[-1], eta.dtype)
    sums = linear - (s @ ones) * 0.5 - np.log(one_plus, out=one_plus) @ ones
    return sums if u is None else (sums, target)


BLOCK_ROWS = 256     # (sample, image) rows per pass: a block's (256, 784) float32 arrays stay in the cache


def log_importance_weights(model, x, uniforms, block_rows=BLOCK_ROWS):
    """log w_i = log p(x, h_i) - log q(h_i | x), h_i ~ q (Eq. (S1) minus Eq. (S2)), with the samples of
    model.py::sample_q from the same uniforms, a block of samples at a time.
    x: (N, D); uniforms: (k, N, J_1 + ... + J_L) -> (k, N)."""
    step = max(1, block_rows // x.shape[0])
    return np.concatenate([block_log_weights(model, x, uniforms[start:start + step])
                           for start in range(0, uniforms.shape[0], step)])


def block_log_weights(model, x, uniforms):
    """log_importance_weights for one block of samples."""
    k = uniforms.shape[0]
    hs, log_w, start = [], 0.0, 0
    for l, (net, size) in enumerate(zip(model.recognition, model.layers)):
        u = uniforms[..., start:start + size]
        if l == 0:
            # the first layer's logits are one image's, shared by its k samples: sample from them broadcast, and
            # log q = h . eta - sum softplus(eta) by one product
            eta = net(x)
            h = (u < sigmoid(eta)).astype(model.dtype)
            log_q = np.einsum("knj,nj->kn", h, eta) - softplus(eta).sum(axis=-1)
        else:
            eta = net(hs[-1].reshape(-1, hs[-1].shape[-1])).reshape(k, -1, size)
            log_q, h = bernoulli_sums(eta, None, u)
        hs.append(h)
        log_w = log_w - log_q
        start += size
    for l, net in enumerate(model.generative):
        eta = net(hs[l].reshape(-1, hs[l].shape[-1])).reshape(*hs[l].shape[:-1], -1)
        log_w = log_w + bernoulli_sums(eta, x if l == 0 else hs[l - 1])
    b = model.prior.params["b"]
    return log_w + hs[-1] @ b - softplus(b).sum()

"""R independent copies of a linear binary Helmholtz machine trained side by side, one image per copy per step, for
the 1995 studies (experiments/studies/bars.py; derivations/1995.md). Each copy is the plug-in's network
(algorithms/binary/model.py::BinaryHelmholtzMachine, built from its own seed) and takes the plug-in's step: the rules
are the same equations, only stacked on a leading axis of copies, so that 20 seeds cost one seed's Python overhead.
tests/test_1995.py checks one step of each against the plug-in trainer's on the same uniforms.

Parameters: a dict of float32 arrays with a leading axis R, named after the model's own (networks()):
    "recognition.l.W" (R, J_{l-1}, J_l), "recognition.l.b" (R, J_l)       f_l: h_{l-1} -> h_l
    "generative.l.W"  (R, J_l, J_{l-1}), "generative.l.b" (R, J_{l-1})    g_l: h_l -> h_{l-1}
    "generative.prior.b" (R, J_L)
Samples are (R, k, J) arrays: k samples for each copy's one image.
"""
import numpy as np

from algorithms.binary.model import BinaryHelmholtzMachine, open_uniforms
from nn import log_mean_exp
from nn.functional import sigmoid, softplus


INITS = ("plug-in", "small", "small-sparse", "zero", "the-bars")
SCALE = 6.0                 # the-bars' weight scale s: its exact KL from the bars' P_data is 0.066 bits


def build(seeds, data_dim, layers, init="plug-in", pixel_means=None):
    """The parameters of one model per seed, stacked. init "plug-in": the plug-in's model
    (BinaryHelmholtzMachine(default_rng(seed)), linear: Glorot-uniform weights, zero biases). The others, for the
    study of the initial weights (derivations/1995.md): "small", every weight N(0, 0.1^2) from the seed and the
    generative biases of x at the logits of pixel_means, P_data's (the public reimplementation's); "small-sparse",
    also each middle unit's generative and recognition bias at logit(0.2), so that it starts mostly off, as a bar is;
    "zero", every weight 0 and the biases of "small" (only the samples break the units' symmetry). "the-bars": the
    answer, built by hand (the_bars), the same for every seed."""
    if init == "the-bars":
        return {name: np.stack([value] * len(seeds)) for name, value in the_bars(data_dim, layers).items()}
    models = [BinaryHelmholtzMachine(np.random.default_rng(seed), data_dim=data_dim, layers=layers)
              for seed in seeds]
    params = {name: np.stack([model.parameters()[alias(name)] for model in models]) for name in names(len(layers))}
    if init == "plug-in":
        return params
    for name, value in params.items():
        if name.endswith(".W") and init != "zero":
            value[...] = np.stack([np.random.default_rng([seed, 1995]).normal(0.0, 0.1, value.shape[1:])
                                   for seed in seeds])
        else:
            value[...] = 0.0
    params["generative.0.b"][...] = np.log(pixel_means / (1 - pixel_means))
    if init == "small-sparse":
        params["generative.1.b"][...] = params["recognition.0.b"][...] = np.log(0.2 / 0.8)
    return params


def the_bars(data_dim, layers, scale=SCALE, vertical=2 / 3, bar_on=0.2):
    """The 16-8-1 network that draws the bars (experiments/data/bars.py::bars), by hand, with weights of size `scale`:
    the top unit t is the orientation (on: vertical, with its prior); middle unit j < 4 is column j, on with
    probability bar_on when t = 1 and sigmoid(-scale) when t = 0, and unit 4 + i is row i the other way round; a pixel's
    logit is scale * (2 * (the bars through it that are on) - 1), so it is on when any of them is. The recognition
    network reads it back: unit j's logit is 2 * scale * (the pixels of its bar that are on - 3.5), and the top unit's
    scale * (the columns on - the rows on) + logit(vertical). It misreads one image, the full one (probability 0.0016):
    all 8 middle units on, a state the posterior all but excludes (34 bits of KL(q || p) on that image at scale 6).
    As scale grows, P_model tends to P_data (derivations/1995.md)."""
    if data_dim != 16 or tuple(layers) != (8, 1):
        raise ValueError(f"the bars are drawn by a 16-8-1 network, not {data_dim}-{'-'.join(map(str, layers))}")
    logit = np.log(bar_on / (1 - bar_on))
    drawn = np.zeros((8, 4, 4))
    for j in range(4):
        drawn[j, :, j] = drawn[4 + j, j, :] = 1                       # column j, row j
    drawn = drawn.reshape(8, 16)
    sign = np.repeat([1.0, -1.0], 4)                 # +1 for a column (on when t = 1), -1 for a row (on when t = 0)
    prior = np.log(vertical / (1 - vertical))
    params = {
        "generative.prior.b": np.array([prior]),
        "generative.1.W": (scale + logit) * sign[None],                  # (1, 8): t's weights to the middle units
        "generative.1.b": np.where(sign > 0, -scale, logit),
        "generative.0.W": 2 * scale * drawn, "generative.0.b": np.full(16, -scale),
        "recognition.0.W": 2 * scale * drawn.T, "recognition.0.b": np.full(8, -7 * scale),
        "recognition.1.W": scale * sign[:, None], "recognition.1.b": np.array([prior]),
    }
    return {name: value.astype(np.float32) for name, value in params.items()}


def names(depth):
    return ([f"recognition.{l}.{p}" for l in range(depth) for p in "Wb"]
            + [f"generative.{l}.{p}" for l in range(depth) for p in "Wb"] + ["generative.prior.b"])


def alias(name):
    """The model's own name of a parameter: "recognition.0.W" is the MLP's first layer, "recognition.0.0.W"."""
    parts = name.split(".")
    return name if parts[1] == "prior" else f"{parts[0]}.{parts[1]}.0.{parts[2]}"


def to_model(params, r, data_dim, layers):
    """Copy r as a plug-in model (for the exact evaluation, algorithms/binary/exact.py)."""
    model = BinaryHelmholtzMachine(np.random.default_rng(0), data_dim=data_dim, layers=layers)
    model.load_parameters({alias(name): value[r] for name, value in params.items()})
    return model


def affine(params, net, l, h):
    """h (R, k, n) -> h W + b (R, k, m) for network net's l-th map, each copy with its own."""
    return np.matmul(h, params[f"{net}.{l}.W"]) + params[f"{net}.{l}.b"][:, None]


def bernoulli(h, logits):
    """log Bern(h; sigmoid(eta)) summed over the last axis (Eq. (S3))."""
    return np.sum(h * logits - softplus(logits), axis=-1)


def sample_q(params, x, uniforms, depth):
    """h_l = [u_l < sigmoid(f_l(h_{l-1}))] bottom up (Eq. (S4)): x (R, D), uniforms (R, k, J_1 + ... + J_L).
    Returns the samples [(R, k, J_l)], the logits and log q(h | x) (R, k)."""
    below, start, hs, logits, log_q = np.broadcast_to(x[:, None], (x.shape[0], uniforms.shape[1], x.shape[1])), 0, [], [], 0
    for l in range(depth):
        eta = affine(params, "recognition", l, below)
        size = eta.shape[-1]
        h = (uniforms[..., start:start + size] < sigmoid(eta)).astype(x.dtype)
        hs.append(h), logits.append(eta)
        log_q = log_q + bernoulli(h, eta)
        below, start = h, start + size
    return hs, logits, log_q


def score_p(params, x, hs):
    """The generative logits of every layer [eta_0 (of x), ..., eta_{L-1}, the prior's] and log p(x, h) (R, k)
    (Eq. (S1)); x (R, D) or (R, k, D)."""
    below = [np.broadcast_to(x[:, None], (*hs[0].shape[:2], x.shape[-1])) if x.ndim == 2 else x, *hs[:-1]]
    logits, log_p = [], 0
    for l, h in enumerate(hs):
        eta = affine(params, "generative", l, h)
        logits.append(eta)
        log_p = log_p + bernoulli(below[l], eta)
    prior = np.broadcast_to(params["generative.prior.b"][:, None], hs[-1].shape)
    return below, logits, log_p + bernoulli(hs[-1], prior)


def p_step(params, below, hs, logits, weights, lr):
    """theta += lr * sum_i weights[:, i] grad log p(x, h_i) (Eq. (S3)): the wake phase's delta rules (Eq. (H9)),
    weights (R, k)."""
    w = weights[..., None]
    for l, (target, h, eta) in enumerate(zip(below, hs, logits)):
        delta = w * (target - sigmoid(eta))                                 # (R, k, J_{l-1})
        params[f"generative.{l}.W"] += lr * np.matmul(h.transpose(0, 2, 1), delta)
        params[f"generative.{l}.b"] += lr * delta.sum(axis=1)
    prior = params["generative.prior.b"]
    params["generative.prior.b"] += lr * (w * (hs[-1] - sigmoid(prior[:, None]))).sum(axis=1)


def q_step(params, below, hs, logits, weights, lr):
    """phi += lr * sum_i weights[:, i] grad log q(h_i | x) (Eq. (S3)); below[l] is layer l's input (R, k, n)."""
    w = weights[..., None]
    for l, (inputs, h, eta) in enumerate(zip(below, hs, logits)):
        delta = w * (h - sigmoid(eta))
        params[f"recognition.{l}.W"] += lr * np.matmul(inputs.transpose(0, 2, 1), delta)
        params[f"recognition.{l}.b"] += lr * delta.sum(axis=1)


def dream(params, rng, depth, dtype=np.float32):
    """(x, hs) ~ p top down (Eq. (S1)), one dream per copy, drawn as algorithms/binary/model.py::dream draws them."""
    top = params["generative.prior.b"]
    hs = [(rng.random((top.shape[0], 1, top.shape[1]), dtype=dtype) < sigmoid(top[:, None])).astype(dtype)]
    for l in reversed(range(depth)):
        eta = affine(params, "generative", l, hs[0])
        hs.insert(0, (rng.random(eta.shape, dtype=dtype) < sigmoid(eta)).astype(dtype))
    return hs[0], hs[1:]


def sleep(params, rng, depth, lr):
    """One dream per copy and phi's step towards it: the sleep phase's delta rules (Eqs. (S6), (H10))."""
    x, hs = dream(params, rng, depth)
    logits = [affine(params, "recognition", l, below) for l, below in enumerate([x, *hs[:-1]])]
    q_step(params, [x, *hs[:-1]], hs, logits, np.ones(hs[0].shape[:2], hs[0].dtype), lr)


def wake_sleep_step(params, x, rng, depth, wake_lr, sleep_lr):
    """The papers' wake-sleep (Eqs. (H9)-(H10)): one image x (R, D) per copy, one sample of q, a wake step on theta,
    then one dream and a sleep step on phi, both plain gradient steps."""
    uniforms = open_uniforms(rng, (x.shape[0], 1, sum(params[f"recognition.{l}.b"].shape[1] for l in range(depth))),
                             x.dtype)
    hs, _, _ = sample_q(params, x, uniforms, depth)
    below, logits, _ = score_p(params, x, hs)
    p_step(params, below, hs, logits, np.ones(hs[0].shape[:2], x.dtype), wake_lr)
    sleep(params, rng, depth, sleep_lr)


def reweighted_step(params, x, rng, depth, k, lr, vimco=False):
    """RWS (Eq. (S7)) or, with vimco, VIMCO (Eq. (S11)), plain gradient steps on k samples of q per image: theta by the
    normalized weights w~_i; phi by w~_i (RWS's wake-phi) or by L^ - L^_{-i} - w~_i (VIMCO's)."""
    uniforms = open_uniforms(rng, (x.shape[0], k, sum(params[f"recognition.{l}.b"].shape[1] for l in range(depth))),
                             x.dtype)
    hs, q_logits, log_q = sample_q(params, x, uniforms, depth)
    below, logits, log_p = score_p(params, x, hs)
    log_w = (log_p - log_q).astype(np.float64)                                          # (R, k)
    normalized = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    normalized /= normalized.sum(axis=1, keepdims=True)
    if vimco:
        others = (log_w.sum(axis=1, keepdims=True) - log_w) / (k - 1)                   # mean_{j != i} log w_j
        replaced = np.repeat(log_w[:, None], k, axis=1)                                 # [r, i, j] = log w_j ...
        replaced[:, np.arange(k), np.arange(k)] = others                                # ... but w_i -> geometric mean
        signal = log_mean_exp(log_w, axis=1)[:, None] - log_mean_exp(replaced, axis=2) - normalized
    else:
        signal = normalized
    inputs = [np.broadcast_to(x[:, None], (x.shape[0], k, x.shape[1])), *hs[:-1]]
    q_step(params, inputs, hs, q_logits, signal.astype(x.dtype), lr)
    p_step(params, below, hs, logits, normalized.astype(x.dtype), lr)


def exact_step(params, x, depth, lr, states, weights=None):
    """theta += lr * the exact gradient of exact_gradient below (a plain gradient step)."""
    for name, grad in exact_gradient(params, x, depth, states, weights).items():
        params[name] += lr * grad


def exact_sleep_step(params, x, rng, depth, lr, states):
    """Exact ML on one image x (R, D) per copy, as ExactMaximumLikelihood(optimizer="sgd", sleep_phi=True) steps: theta
    by the image's exact gradient (Eq. (H8)), then one dream and phi's sleep step (Eq. (H10)), both at lr."""
    exact_step(params, x[:, None], depth, lr, states)
    sleep(params, rng, depth, lr)


def exact_gradient(params, x, depth, states, weights=None):
    """The exact gradient of the mean log p(x) (Eq. (H8)) of a minibatch of B images per copy, x (R, B, D): every
    joint state h (states = [(S, J_l)]) weighted by its exact posterior p(h | x_n), averaged over the B images, or
    with weights (B,) summed with those weights (P_data over its support: the gradient of -KL(P_data || P_model)
    itself, Eq. (H7)). Only log p(x | h_1) depends on the image, and linearly (Eq. (H4)): the states' logits, softplus
    and sigmoid are computed once for all B images. Returns {name: (R, ...) gradient} for theta."""
    copies, count, batch = x.shape[0], states[0].shape[0], x.shape[1]
    hs = [np.broadcast_to(h[None], (copies, count, h.shape[1])) for h in states]
    eta = affine(params, "generative", 0, hs[0])                                        # eta_0(h_1), (R, S, D)
    log_prior = bernoulli(hs[-1], np.broadcast_to(params["generative.prior.b"][:, None], hs[-1].shape))
    upper = [affine(params, "generative", l, hs[l]) for l in range(1, depth)]           # logits of h_{l} | h_{l+1}
    for l, logits in enumerate(upper, start=1):
        log_prior = log_prior + bernoulli(hs[l - 1], logits)
    constant = log_prior - softplus(eta).sum(axis=-1)                                    # c(h), (R, S)
    joint = np.matmul(x, eta.transpose(0, 2, 1)) + constant[:, None]                    # log p(x_n, h), (R, B, S)
    posterior = np.exp(joint - joint.max(axis=2, keepdims=True))
    posterior /= posterior.sum(axis=2, keepdims=True)
    posterior *= (np.full(batch, 1.0 / batch) if weights is None else weights)[:, None].astype(x.dtype)
    weight = posterior.sum(axis=1)                                                       # sum_n w_n p(h | x_n), (R, S)
    # theta_0: sum_n w_n sum_h p(h | x_n) h_1 (x_n - sigmoid(eta_0(h))) (Eq. (S3)), without an (R, B, S, D) array
    delta = np.matmul(posterior.transpose(0, 2, 1), x) - weight[..., None] * sigmoid(eta)   # (R, S, D)
    grads = {"generative.0.W": np.matmul(hs[0].transpose(0, 2, 1), delta), "generative.0.b": delta.sum(axis=1)}
    w = weight[..., None]
    for l, logits in enumerate(upper, start=1):                     # the layers above h_1, weighted by weight(h)
        delta = w * (hs[l - 1] - sigmoid(logits))
        grads[f"generative.{l}.W"] = np.matmul(hs[l].transpose(0, 2, 1), delta)
        grads[f"generative.{l}.b"] = delta.sum(axis=1)
    prior = params["generative.prior.b"]
    grads["generative.prior.b"] = (w * (hs[-1] - sigmoid(prior[:, None]))).sum(axis=1)
    return grads


class Adam:
    """Adam ascending, on stacked parameters (nn/optim.py::Adam's equations, each copy its own moments): for exact
    ML on the exact objective, where only the optimum it reaches matters, not the path."""

    def __init__(self, params, lr, b1=0.9, b2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0
        self.m = {name: np.zeros_like(value) for name, value in params.items()}
        self.v = {name: np.zeros_like(value) for name, value in params.items()}

    def ascend(self, params, grads):
        self.t += 1
        rate = self.lr * np.sqrt(1 - self.b2 ** self.t) / (1 - self.b1 ** self.t)
        for name, grad in grads.items():
            self.m[name] = self.b1 * self.m[name] + (1 - self.b1) * grad
            self.v[name] = self.b2 * self.v[name] + (1 - self.b2) * grad ** 2
            params[name] += rate * self.m[name] / (np.sqrt(self.v[name]) + self.eps)

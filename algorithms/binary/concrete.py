"""The binary Concrete (Gumbel-softmax) relaxation (Maddison, Mnih & Teh 2017; Jang, Gu & Poole 2017; derivations/
estimators.md, Eqs. (G8)-(G11)): every binary unit h = [u < sigmoid(eta)] = [eta + L > 0], L = log u - log(1 - u)
logistic noise, is replaced at temperature tau by the relaxed unit z = sigmoid((eta + L) / tau) in (0, 1), and the
objective is reparameterized as AEVB's: both networks differentiate through z.

The relaxed objective is Jang et al.'s, not Maddison et al.'s: the ELBO's integrand with every Bernoulli
log-probability evaluated at the relaxed values (Eq. (G9)),

    F_tau(x, L) = log Bern(x; sigma(g_1(z_1))) + sum_{l >= 2} log Bern(z_{l-1}; sigma(g_l(z_l)))
                  + log Bern(z_L; sigma(b)) - sum_l log Bern(z_l; sigma(f_l(z_{l-1}))),
    log Bern(t; sigma(a)) = t . a - sum softplus(a),

which tends to the ELBO's integrand as tau -> 0. Its gradient is biased for the ELBO's at every tau > 0; the bias is
computed exactly in tests/test_estimators_concrete.py.
"""
from dataclasses import dataclass

import numpy as np

from algorithms.binary.model import rows, run
from algorithms.options import Trainer, option
from nn import Adam, bernoulli_log_likelihood
from nn.functional import sigmoid


def logistic_noise(uniforms):
    """L = log u - log(1 - u) ~ Logistic(0, 1) for u ~ U(0, 1) (Eq. (G8)); u = 0 gives -inf, whose z is exactly 0 (the
    trainers' uniforms, model.noise's, are never 0)."""
    with np.errstate(divide="ignore"):
        return np.log(uniforms) - np.log1p(-uniforms)


@dataclass
class Relaxed:
    """A relaxed pass: zs[l] = z_{l+1} (k, N, J), y[l] its logit (eta + L) / tau, q's logits etas and caches, the
    decoders' logits and caches, and F_tau per sample (k, N)."""
    zs: list
    ys: list
    etas: list
    q_caches: list
    p_logits: list
    p_caches: list
    value: np.ndarray


def relax(model, x, noise, temperature, keep=True, first_logits=None):
    """The forward pass of Eq. (G9): z_l = sigmoid((f_l(z_{l-1}) + L_l) / tau) bottom up from z_0 = x (Eq. (G8)),
    then F_tau. x: (N, D), or (k, N, D) per sample (REBAR's layers above the first, whose data is a hard sample);
    noise: logistic, (k, N, J_1 + ... + J_L). The first layer's logits are computed once per image and shared by its k
    samples; first_logits: f_1(x), where the caller has them (REBAR), not computed again (and f_1 keeps no cache:
    relaxed_backward with parameters=False only)."""
    zs, ys, etas, q_caches, below, start, value = [], [], [], [], x, 0, 0.0
    for net, size in zip(model.recognition, model.layers):
        eta, cache = (first_logits, None) if first_logits is not None and start == 0 else run(net, below, keep)
        y = (eta + noise[..., start:start + size]) / temperature
        z = sigmoid(y)
        value = value - bernoulli_log_likelihood(z, eta)
        zs.append(z), ys.append(y), etas.append(eta), q_caches.append(cache)
        below, start = z, start + size
    p_logits, p_caches = [], []
    for net, target, z in zip(model.generative, [x, *zs[:-1]], zs):
        logits, cache = run(net, z, keep)
        value = value + bernoulli_log_likelihood(target, logits)
        p_logits.append(logits), p_caches.append(cache)
    value = value + bernoulli_log_likelihood(zs[-1], model.prior.params["b"])
    return Relaxed(zs, ys, etas, q_caches, p_logits, p_caches, value)


def relaxed_backward(model, x, relaxed, temperature, weights, slope=None, parameters=True):
    """Writes into theta's and phi's grads the gradient of sum_{i, n} weights[i, n] F_tau(x_n, L_in), by hand
    (Eq. (G10)), with the noise held (parameters=False: writes nothing, and returns the logit gradient alone, the
    networks' input gradients taken without their parameters' products): top down, dF/dz_l collects
        f_l's target term  -eta_l,  g_l's input,  the prior's b (top layer),  g_{l+1}'s target term  a_{l+1},
        f_{l+1}'s input (through eta_{l+1});
    then dF/deta_l = -(z_l - sigmoid(eta_l)) + dF/dz_l z_l (1 - z_l) / tau, 1 - z = sigmoid(-y) (exact in both tails).
    weights: (k, N). slope: d(eta_1 + L_1)/d eta_1 per unit (k, N, J_1) when the first layer's noise moves with its
    logits (REBAR's conditional sample z~, algorithms/binary/rebar.py, Eq. (G14)); None: the noise held, a slope of 1.
    Returns dF/deta_1 per sample (k, N, J_1), the first layer's logit gradient before the k samples are summed."""
    w = weights[..., None]
    depth = len(model.layers)
    dzs = [np.zeros_like(z) for z in relaxed.zs]
    def through(net, dout, cache):
        return net.backward(dout, cache, input_grad=True) if parameters else net.input_gradient(dout, cache)
    for l, (net, target, z, logits, cache) in enumerate(zip(model.generative, [x, *relaxed.zs[:-1]], relaxed.zs,
                                                            relaxed.p_logits, relaxed.p_caches)):
        dz = through(net, rows(w * (target - sigmoid(logits))), cache)    # log p(target | z_l)
        dzs[l] += dz.reshape(z.shape)
        if l > 0:
            dzs[l - 1] += w * logits                                      # z_{l-1} is the target of g_l
    b, top = model.prior.params["b"], relaxed.zs[-1]
    if parameters:
        model.prior.grads["b"][...] = np.sum(w * (top - sigmoid(b)), axis=(0, 1))
    dzs[-1] += w * b
    first = None
    for l in reversed(range(depth)):
        z, y, eta = relaxed.zs[l], relaxed.ys[l], relaxed.etas[l]
        dz = dzs[l] - w * eta                                             # -log q(z_l | .) as a function of z_l
        path = dz * z * sigmoid(-y) / temperature                         # through z_l = sigmoid(y_l)
        if l == 0 and slope is not None:
            path = path * slope
        deta = -w * (z - sigmoid(eta)) + path
        if l == 0:
            first = deta
            if parameters:
                if eta.ndim < deta.ndim:                                  # the first layer's logits were shared
                    deta = deta.sum(axis=0)
                model.recognition[0].backward(rows(deta), relaxed.q_caches[0], input_grad=False)
        else:
            dbelow = through(model.recognition[l], rows(deta), relaxed.q_caches[l])
            dzs[l - 1] += dbelow.reshape(relaxed.zs[l - 1].shape)
    return first


def concrete_objective(model, x, noise, temperature, weights=None):
    """-(sum_{i, n} weights[i, n] F_tau(x_n, L_in)) and its gradients (Eqs. (G9)-(G10)); weights default to 1/(k N),
    the mean (a quadrature passes its own). x: (N, D); noise: logistic (k, N, J_1 + ... + J_L). Returns (value,
    dF/deta_1 per sample of -F's gradient)."""
    relaxed = relax(model, x, noise, temperature)
    if weights is None:
        weights = np.full(relaxed.value.shape, 1.0 / relaxed.value.size)
    first = relaxed_backward(model, x, relaxed, temperature, (-weights).astype(model.dtype))
    return -float((weights * relaxed.value).sum()), first


@dataclass(frozen=True)
class ConcreteOptions:
    lr: float = option(1e-3, "Adam's learning rate", learning_rate=True, homework=True)
    temperature: float = option(0.5, "the relaxation's temperature tau (Concrete: above 0)")
    k: int = option(1, "relaxed samples per image, averaged (each one decoder pass)")


class Concrete(Trainer):
    """One Adam over theta and phi on the relaxed objective F_tau (Eq. (G9)) at a fixed temperature."""

    command, name, latent, Options = "concrete", "Concrete", "binary", ConcreteOptions
    losses = {"loss": "Concrete: mean negative relaxed objective $-F_\\tau$"}

    def __init__(self, model, lr=1e-3, temperature=0.5, k=1):
        if not temperature > 0:
            raise ValueError(f"the temperature must be above 0 (got {temperature})")
        self.model, self.temperature, self.k = model, temperature, k
        self.optimizers = {"adam": Adam(model.pairs(""), lr=lr)}

    def step(self, x, rng):
        uniforms = self.model.noise(rng, self.k * x.shape[0]).reshape(self.k, x.shape[0], -1)
        loss, _ = concrete_objective(self.model, x, logistic_noise(uniforms), self.temperature)
        self.optimizers["adam"].step()
        return {"loss": loss}

"""REBAR (Tucker, Mnih, Maddison, Lawson & Sohl-Dickstein 2017; derivations/estimators.md, Eqs. (G12)-(G16)): the
score-function estimator of the ELBO's phi-gradient with the binary Concrete relaxation (concrete.py) as its control
variate, made unbiased again by adding the control variate's expectation back through the reparameterization.

One sample of one layer with logits eta: u, v ~ U(0, 1); z = eta + L(u), L(u) = log u - log(1 - u); b = H(z) = [z > 0]
(concrete.py's convention: b = 1 iff u > 1 - sigmoid(eta)); z~ the sample of z given b drawn from v (Eq. (G13)).
With c(z) the relaxed learning signal at temperature lambda (concrete.py's F, Eq. (G9)) and nu the control
variate's scale (the paper's eta), the estimate of dELBO/deta is (Eq. (G15))

    [l(b) - nu c(z~)] (b - sigmoid(eta)) + nu [dc(z)/deta - dc(z~)/deta],

dc(z)/deta with u held, dc(z~)/deta with v and b held (z~ moves with eta, Eq. (G14)). With baseline="leave-one-out"
(k >= 2 samples of each image) the bracket is centred by the mean of the other k - 1 samples' brackets, as RLOO
centres its signals (rloo.py, Eq. (G2)); unbiased, since the other samples are independent of this one (Eq. (G17)).

Several stochastic layers, layer by layer (Eq. (G16); the skeleton of the reference code's "quadratic" control
variate, whose differences derivations/estimators.md lists): layer l's estimate conditions on the hard samples b_1,
..., b_{l-1} below it and relaxes layer l and every layer above it, as concrete.py relaxes a model whose data is
b_{l-1}; the layers above use the same logistic noise in c(z) and c(z~) as the hard sample does. l(b) is then layer l's local learning signal (nvil.py, Eq. (S9)). theta ascends log p(x, b) of
the hard sample, as the other score-function estimators' theta does. The temperature and nu are fixed: the paper's
adaptation of both by minimizing the estimator's variance is not implemented.

A step costs three decoder passes per sample: g_1 at b, at sigmoid(z / lambda) and at sigmoid(z~ / lambda), the last
two with their backward passes to the decoder's input alone (MLP.input_gradient: no parameter's gradient, whose
products would be thrown away), and both from the hard sample's logits (f_l is not run again).
"""
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from algorithms.binary.concrete import logistic_noise, relax, relaxed_backward
from algorithms.binary.model import Pass, p_backward, rows, run, score_p
from algorithms.binary.rloo import leave_one_out_signals
from algorithms.options import Trainer, option
from nn import Adam, bernoulli_log_likelihood
from nn.functional import sigmoid, softplus


def hard_sample(model, x, noise):
    """b_l = H(eta_l + L_l) = [u_l > 1 - sigmoid(eta_l)], eta_l = f_l(b_{l-1}), bottom up from b_0 = x, and
    log q(b_l | b_{l-1}) per layer (Eq. (S2); the threshold of Eq. (G8)): the draw of model.py's sample_q at
    uniforms 1 - u, thresholded on the logistic noise so that b = H(z) holds exactly for the z the relaxation sees.
    x: (N, D); noise: logistic (k, N, J_1 + ... + J_L)."""
    hs, logits, terms, caches, below, start = [], [], [], [], x, 0
    for net, size in zip(model.recognition, model.layers):
        eta, cache = run(net, below, True)
        h = (eta + noise[..., start:start + size] > 0).astype(model.dtype)
        hs.append(h), logits.append(eta), terms.append(bernoulli_log_likelihood(h, eta)), caches.append(cache)
        below, start = h, start + size
    return Pass(hs, logits, terms, caches)


def conditional_sample(eta, h, v):
    """z~ ~ p(z | b = h) from v ~ U(0, 1), z = eta + L (Eq. (G13)), and its slope dz~/deta at fixed v and h (Eq. (G14)):
        h = 1:  z~ = softplus(eta + log v) - log(1 - v),   dz~/deta = sigmoid(eta + log v)
        h = 0:  z~ = log v - softplus(log(1 - v) - eta),   dz~/deta = sigmoid(log(1 - v) - eta)
    v = 0 gives z~ = 0 (h = 1) or -inf (h = 0), whose relaxed unit is exactly 0 (model.noise's v is never 0).
    eta: (N, J) or (k, N, J); h, v: (k, N, J) -> (z~, slope), each (k, N, J)."""
    with np.errstate(divide="ignore"):
        log_v, log_rest = np.log(v), np.log1p(-v)
    on = h > 0
    z = np.where(on, softplus(eta + log_v) - log_rest, log_v - softplus(log_rest - eta))
    slope = np.where(on, sigmoid(eta + log_v), sigmoid(log_rest - eta))
    return z, slope


def conditional_noise(eta, h, v, noise):
    """The noise of REBAR's relaxed pass at z~ (Eqs. (G13), (G16)): layer l's z~ - eta_l from conditional_sample, then
    the layers above's logistic noise as the hard sample drew it; and z~'s slope. eta: (N, J) or (k, N, J); h, v:
    (k, N, J); noise: logistic, layer l's and those above (k, N, J + ...) -> (noise at z~ like noise, slope (k, N, J))."""
    z_tilde, slope = conditional_sample(eta, h, v)
    return np.concatenate([z_tilde - eta, noise[..., h.shape[-1]:]], axis=-1), slope


def upper(model, l):
    """Layers l + 1, ..., L of model (l 0-based) as a model of their own, whose data is b_l's layer below: what layer
    l's control variate relaxes (Eq. (G16)). Shares model's networks."""
    return SimpleNamespace(recognition=model.recognition[l:], generative=model.generative[l:], layers=model.layers[l:],
                           prior=model.prior)


BASELINES = {"none": lambda residuals: residuals, "leave-one-out": leave_one_out_signals}


def rebar_logit_gradient(signal, control, h, eta, at_z, at_z_tilde, scale, baseline="none"):
    """Eq. (G15), one layer's estimate of d ELBO / d eta per sample: [l(b) - nu c(z~)] (b - sigmoid(eta))
    + nu [dc(z)/deta - dc(z~)/deta], the bracket centred by BASELINES[baseline] over the k samples (Eq. (G17)).
    signal, control: (k, N); h, at_z, at_z_tilde: (k, N, J); eta: (N, J) or (k, N, J)."""
    residual = BASELINES[baseline](signal - scale * control)
    return residual[..., None] * (h - sigmoid(eta)) + scale * (at_z - at_z_tilde)


def layer_estimate(model, l, below, h, eta, signal, noise, v, temperature, scale, baseline="none"):
    """Layer l's REBAR estimate of d ELBO / d eta_l per sample (Eq. (G15) with Eq. (G16)): its control variate is the
    relaxed local signal of the layers from l up (concrete.py's relax on upper(model, l), data below = b_{l-1}), once at
    z_l = eta_l + L_l and once at z~_l (Eq. (G13)), the layers above at the same noise. noise: logistic, layer l's
    and those above (k, N, J_l + ...); v: layer l's uniforms (k, N, J_l); signal: layer l's local signal (k, N).
    Both relaxed passes start from the hard sample's eta_l and take gradients through the networks, not of them: no
    network's grads are written here."""
    if scale == 0:                                      # REINFORCE on the local signal, centred by the baseline alone
        return BASELINES[baseline](signal)[..., None] * (h - sigmoid(eta))
    tilde_noise, slope = conditional_noise(eta, h, v, noise)
    # the passes at z and at z~ as one relax of 2k samples; layer 1's x and eta_1 are per image (N, .) and serve both
    # halves as they are, b_{l-1} and eta_l of a layer l >= 2 are per sample (k, N, .) and are stacked twice
    k, both = h.shape[0], (lambda a: np.concatenate([a, a]) if l > 0 else a)
    above, data = upper(model, l), both(below)
    relaxed = relax(above, data, np.concatenate([noise, tilde_noise]), temperature, first_logits=both(eta))
    gradient = relaxed_backward(above, data, relaxed, temperature, np.ones((2 * k, *signal.shape[1:]), h.dtype),
                                slope=np.concatenate([np.ones_like(slope), slope]), parameters=False)
    at_z, at_z_tilde, control = gradient[:k], gradient[k:], relaxed.value[k:]
    return rebar_logit_gradient(signal, control.astype(np.float64), h, eta, at_z, at_z_tilde, scale, baseline)


def rebar_objective(model, x, noise, v, temperature=0.5, scale=1.0, weights=None, baseline="none"):
    """-(sum_{i, n} weights[i, n] l(x_n, b_in)) (the ELBO's estimate, weights 1/(k N) by default: the mean; a quadrature
    passes its own) and its gradients: theta's -sum weights grad log p(x, b), phi's -sum weights of Eq. (G15) layer by
    layer (Eq. (G16)), pulled back through f_l. x: (N, D); noise: logistic L(u) (k, N, J_1 + ... + J_L); v: uniforms
    (k, N, J_1 + ... + J_L); baseline: a key of BASELINES. Returns (value, [d ELBO / d eta_l per sample (k, N, J_l) for
    each layer l])."""
    sample = hard_sample(model, x, noise)
    scored = score_p(model, x, sample.hs)
    if weights is None:
        weights = np.full(noise.shape[:2], 1.0 / np.prod(noise.shape[:2]))
    starts, estimates = np.cumsum([0, *model.layers]), []
    for l, (h, eta) in enumerate(zip(sample.hs, sample.logits)):
        signal = (sum(scored.terms[l:]) - sum(sample.terms[l:])).astype(np.float64)        # Eq. (S9)
        below = x if l == 0 else sample.hs[l - 1]
        estimates.append(layer_estimate(model, l, below, h, eta, signal, noise[..., starts[l]:],
                                        v[..., starts[l]:starts[l + 1]], temperature, scale, baseline))
    p_backward(model, x, scored, (-weights).astype(model.dtype))
    for net, estimate, eta, cache in zip(model.recognition, estimates, sample.logits, sample.caches):
        dlogits = (-weights[..., None] * estimate).astype(model.dtype)
        if eta.ndim < dlogits.ndim:                                           # the first layer's logits were shared
            dlogits = dlogits.sum(axis=0)
        net.backward(rows(dlogits), cache, input_grad=False)
    return -float((weights * (scored.total - sample.total)).sum()), estimates


@dataclass(frozen=True)
class REBAROptions:
    lr: float = option(1e-3, "Adam's learning rate", learning_rate=True, homework=True)
    temperature: float = option(0.5, "the control variate's temperature lambda (REBAR: above 0, fixed)")
    cv_scale: float = option(1.0, "the control variate's scale, the paper's eta (REBAR: fixed; 0 is REINFORCE on each "
                             "layer's local signal, centred only by --baseline's baseline)", above=None)
    k: int = option(1, "samples per image, each with its own REBAR estimate, averaged (each three decoder passes)")
    baseline: str = option("none", "none: the score term's bracket l(b) - nu c(z~) as it is; leave-one-out: less the "
                           "mean of the other k - 1 samples' brackets (k >= 2)", choices=tuple(BASELINES),
                           before="none")


class REBAR(Trainer):
    """One Adam over theta and phi on the ELBO, phi's gradient by REBAR (three decoder passes per sample)."""

    command, name, latent, Options = "rebar", "REBAR", "binary", REBAROptions
    losses = {"loss": "REBAR: mean negative ELBO"}

    def __init__(self, model, lr=1e-3, temperature=0.5, cv_scale=1.0, k=1, baseline="none"):
        if not temperature > 0:
            raise ValueError(f"the temperature must be above 0 (got {temperature})")
        reason = self.why_not({"baseline": baseline, "k": k})
        if reason:
            raise ValueError(f"REBAR: {reason}")
        self.model, self.temperature, self.scale, self.k, self.baseline = model, temperature, cv_scale, k, baseline
        self.optimizers = {"adam": Adam(model.pairs(""), lr=lr)}

    @classmethod
    def why_not(cls, values):
        if values["baseline"] == "leave-one-out" and values["k"] < 2:
            return f"its leave-one-out baseline needs k >= 2 samples of each image (got --k {values['k']})"
        return None

    @classmethod
    def rows_per_step(cls, options, batch):
        """Three passes of k samples per image: b, sigmoid(z / lambda), sigmoid(z~ / lambda)."""
        return 3 * batch * options.k

    def step(self, x, rng):
        shape = (self.k, x.shape[0], -1)
        u = self.model.noise(rng, self.k * x.shape[0]).reshape(shape)
        v = self.model.noise(rng, self.k * x.shape[0]).reshape(shape)
        loss, _ = rebar_objective(self.model, x, logistic_noise(u), v, self.temperature, self.scale,
                                  baseline=self.baseline)
        self.optimizers["adam"].step()
        return {"loss": loss}

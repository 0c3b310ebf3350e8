"""Neural variational inference and learning (NVIL; Mnih & Gregor 2014; derivations/binary.md, Eqs. (S8)-(S10)).

The ELBO's gradient in phi by the score function (REINFORCE), E_q[(l(x, h) - baseline) grad_phi log q(h | x)], with
layer l's local learning signal l_l (Eq. (S9)): the terms of log p(x, h) - log q(h | x) that depend on h_l or the
layers above it. Each layer's signal is centred by an input-dependent baseline b_l(h_{l-1}) (an MLP trained by
regression on the signal) and a running mean c_l of what the baseline leaves, and divided by max(1, running standard
deviation) (Eq. (S10)). theta ascends log p(x, h) of the same sample.
"""
from dataclasses import dataclass

import numpy as np

from algorithms.binary.model import p_backward, q_backward, run, sample_q, score_p
from algorithms.options import Trainer, option
from nn import MLP, Adam

ALPHA = 0.8               # the running moments' decay (the NVIL paper's)
BASELINE_HIDDEN = 100     # each baseline network: h_{l-1} -> 100 tanh units -> one number (the paper's)


def local_signals(scored, sample):
    """l_l = sum_{j >= l - 1} log p-term_j - sum_{j >= l} log q-term_j for l = 1, ..., L (Eq. (S9)): scored.terms[j]
    is log p(h_j | h_{j+1}) (h_0 = x; the last is the prior's), sample.terms[j - 1] is log q(h_j | h_{j-1}).
    The first layer's signal is the whole log p(x, h) - log q(h | x). Returns a list of (k, N) arrays."""
    depth = len(sample.terms)
    return [sum(scored.terms[l:]) - sum(sample.terms[l:]) for l in range(depth)]


def score_function_gradient(model, x, uniforms, centres):
    """The unnormalized estimator of Eq. (S8) on its own (what the tests check for bias against enumeration):
    writes into phi's grads -(1/(k N)) sum (l_l - centre_l) grad log q(h_l | h_{l-1}), for centres a list of one
    (k, N) array (or number) per layer, held fixed. Returns the local signals."""
    sample = sample_q(model, x, uniforms)
    signals = local_signals(score_p(model, x, sample.hs, keep=False), sample)
    count = uniforms.shape[0] * uniforms.shape[1]
    q_backward(model, sample, [-(signal - centre) / count for signal, centre in zip(signals, centres)])
    return signals


@dataclass(frozen=True)
class NVILOptions:
    lr: float = option(1e-3, "Adam's learning rate of both networks and the baselines", learning_rate=True,
                       homework=True)
    # added after NVIL runs were kept (their checkpoints trained with these defaults): the four settings in which
    # REBAR's code, the NVIL of Tucker, Mnih et al. (2017), differs from the NVIL paper's Algorithm 1 (binary.md)
    signal: str = option("local", "each layer's learning signal: local, its own terms of log p(x, h) - log q(h | x) "
                         "(Eq. (S9)), centred by a baseline on the layer below; global, the whole of it for every "
                         "layer, centred by one baseline on x (REBAR's code)", choices=("local", "global"),
                         before="local")
    normalise: bool = option(True, "divide each centred signal by max(1, its running standard deviation) "
                             "(Eq. (S10)); REBAR's code does not", before=True)
    beta2: float = option(0.999, "Adam's beta2, for both networks and the baselines (REBAR's code: 0.99999)",
                          below=1.0, before=0.999)
    baseline_lr_factor: float = option(1.0, "the baselines' learning rate as a multiple of lr (REBAR's code: 10)",
                                       before=1.0)


class NVIL(Trainer):
    """Adam on theta and phi together (lr), and on the baselines (lr times baseline_lr_factor); one sample of h per
    image. With signal="global", normalise=False, beta2=0.99999 and baseline_lr_factor=10 it is REBAR's code's NVIL."""

    command, name, latent, Options = "nvil", "NVIL", "binary", NVILOptions
    losses = {"loss": "NVIL: mean negative ELBO", "baseline_loss": "NVIL: the baselines' squared error / 2"}
    not_in_nats = ("baseline_loss",)

    def __init__(self, model, lr=1e-3, signal="local", normalise=True, beta2=0.999, baseline_lr_factor=1.0):
        self.model, self.signal, self.normalise = model, signal, normalise
        rng = np.random.default_rng(0)            # the baselines' initial weights: the model's rng stays untouched
        inputs = [model.data_dim, *model.layers[:-1]] if signal == "local" else [model.data_dim]
        self.baselines = [MLP([size, BASELINE_HIDDEN, 1], "tanh", rng, model.dtype) for size in inputs]
        self.centre = np.zeros(len(inputs))          # c_l
        self.variance = np.ones(len(inputs))         # v_l
        baseline_pairs = [(p, g) for net in self.baselines for _, p, g in net.named_parameters()]
        self.optimizers = {"model": Adam(model.pairs(""), lr=lr, beta2=beta2),
                           "baselines": Adam(baseline_pairs, lr=lr * baseline_lr_factor, beta2=beta2)}

    def step(self, x, rng):
        """One minibatch: one sample h ~ q per image; theta ascends log p(x, h); each layer's local signal (Eq. (S9))
        is centred and scaled (Eq. (S10)) and weights its layer's score (Eq. (S8)); each baseline regresses on it.
        With signal="global" the first layer's signal, the whole log p(x, h) - log q(h | x), weights every layer."""
        model, batch = self.model, x.shape[0]
        uniforms = model.noise(rng, batch)[None]
        sample = sample_q(model, x, uniforms)
        scored = score_p(model, x, sample.hs)
        signals, weights, baseline_loss = local_signals(scored, sample), [], 0.0
        for l, (net, below) in enumerate(zip(self.baselines, [x, *sample.hs[:-1]])):
            baseline, cache = run(net, below, keep=True)
            residual = signals[l] - baseline[..., 0]                                # l_l - b_l(h_{l-1})
            self.centre[l] = ALPHA * self.centre[l] + (1 - ALPHA) * float(residual.mean())
            self.variance[l] = ALPHA * self.variance[l] + (1 - ALPHA) * float(residual.var())
            residual -= self.centre[l]
            scale = max(1.0, np.sqrt(self.variance[l])) if self.normalise else 1.0
            weights.append(-residual / scale / batch)                               # Eq. (S10)
            net.backward((-residual / batch).reshape(-1, 1).astype(model.dtype), cache, input_grad=False)
            baseline_loss += 0.5 * float((residual ** 2).mean())                    # the regression's loss
        if self.signal == "global":
            weights = weights * len(model.layers)                                   # the one weight, every layer
        p_backward(model, x, scored, np.full((1, batch), -1.0 / batch, dtype=model.dtype))
        q_backward(model, sample, [weight.astype(model.dtype) for weight in weights])
        self.optimizers["model"].step()
        self.optimizers["baselines"].step()
        return {"loss": -float((scored.total - sample.total).mean()), "baseline_loss": baseline_loss}

    def state(self):
        """What a checkpoint keeps beyond the optimizers': the baselines' weights and the running moments."""
        arrays = {f"baseline.{l}.{name}": param for l, net in enumerate(self.baselines)
                  for name, param, _ in net.named_parameters()}
        return {**arrays, "centre": self.centre, "variance": self.variance}

    def load_state(self, arrays):
        for name, value in self.state().items():
            value[...] = arrays[name]

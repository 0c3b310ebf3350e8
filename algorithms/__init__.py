"""Wake-Sleep, AEVB and the importance-weighted methods, built on nn/, and the registry that finds them.

Each algorithm is one small file: its objectives as value-and-gradients functions, and a trainer whose
step(x, rng) takes one minibatch. The registry below names every algorithm and every extension a model can take
(a likelihood, bounded recognition heads) by "module:attribute", and load() imports one when a run asks for it:
a run imports what it uses and nothing else. Adding an algorithm is a new file and a line here (and its settings in
experiments/harness/settings.py).
"""
import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Algorithm:
    name: str           # as reports write it
    trainer: str        # "module:Class" of its trainer (below) for Gaussian latents, or None
    binary: str = None  # "module:Class" of its trainer for binary latents (algorithms/binary/), or None


# A trainer is built as Class(model, **its settings) and has
#     step(x, rng) -> {name: value}    one minibatch: the objective's value and gradients, then the optimizers' steps
#     losses                           the names step returns, which every epoch's record averages
#     optimizers                       {name: optimizer}, whose learning rates a schedule sets and a checkpoint keeps


ALGORITHMS = {
    "aevb": Algorithm("AEVB", "algorithms.aevb:AEVB"),
    "wake-sleep": Algorithm("Wake-Sleep", "algorithms.wake_sleep:WakeSleep", "algorithms.binary.wake_sleep:WakeSleep"),
    "iwae": Algorithm("IWAE", "algorithms.iwae:IWAE"),
    "rws": Algorithm("RWS", "algorithms.rws:ReweightedWakeSleep", "algorithms.binary.rws:ReweightedWakeSleep"),
    "nvil": Algorithm("NVIL", None, "algorithms.binary.nvil:NVIL"),
    "vimco": Algorithm("VIMCO", None, "algorithms.binary.vimco:VIMCO"),
}
# the most binary units in one layer whose 2^J states the exact evaluation sums over (algorithms/binary/exact.py)
ENUMERABLE = 20


def why_not_enumerable(layers):
    """Why a binary model with stochastic layers of these sizes cannot be enumerated, or None when it can."""
    if len(layers) != 1:
        return f"it has {len(layers)} stochastic layers (enumeration sums over one)"
    if layers[0] > ENUMERABLE:
        return f"its layer has {layers[0]} units: 2^{layers[0]} states (at most 2^{ENUMERABLE})"
    return None
# the models, by the kind of latent (--latent)
MODELS = {"gaussian": "algorithms.model:HelmholtzMachine", "binary": "algorithms.binary.model:BinaryHelmholtzMachine"}
# p(x | z) from the decoder's logits: the write-up's Bernoulli, or the continuous Bernoulli (derivations/likelihoods.md)
LIKELIHOODS = {"bernoulli": "nn.densities:Bernoulli",
               "continuous-bernoulli": "nn.continuous_bernoulli:ContinuousBernoulli"}
# layers that bound q's outputs, keyed by the setting that asks for one, in the order they follow the network
HEADS = {"log_var_floor": "nn.heads:LogVarianceFloor", "log_var_ceiling": "nn.heads:LogVarianceCeiling",
         "mean_bound": "nn.heads:MeanBound"}


def load(path):
    """The object at "module:attribute", imported now (the registries' lazy import)."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)

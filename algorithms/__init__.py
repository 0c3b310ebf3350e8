"""Wake-Sleep, AEVB and the importance-weighted methods, built on nn/, and the registries that find them.

Each algorithm is one small file: its objectives as value-and-gradients functions, and a trainer class whose
step(x, rng) takes one minibatch and which declares what it is (algorithms/options.py): its command, the kind of latent
it trains, its settings, its losses. TRAINERS below lists them; adding an algorithm is a new file and a line there,
nothing else. The model's extensions (a likelihood, bounded recognition heads) are named by "module:attribute" and
imported by load() only when a run asks for them.
"""
import importlib

from algorithms.aevb import AEVB
from algorithms.binary.concrete import Concrete
from algorithms.binary.disarm import DisARM
from algorithms.binary.exact_ml import ExactMaximumLikelihood
from algorithms.binary.nvil import NVIL
from algorithms.binary.rebar import REBAR
from algorithms.binary.rloo import RLOO
from algorithms.binary.rws import ReweightedWakeSleep as BinaryReweightedWakeSleep
from algorithms.binary.vimco import VIMCO
from algorithms.binary.wake_sleep import WakeSleep as BinaryWakeSleep
from algorithms.iwae import IWAE
from algorithms.rws import ReweightedWakeSleep
from algorithms.wake_sleep import WakeSleep

# every trainer, in the order run.py offers their commands; a command may have one trainer per kind of latent
TRAINERS = [AEVB, WakeSleep, BinaryWakeSleep, IWAE, ReweightedWakeSleep, BinaryReweightedWakeSleep, NVIL, VIMCO,
            RLOO, DisARM, Concrete, REBAR, ExactMaximumLikelihood]


def commands():
    """{command: [its trainers]}, in the order of TRAINERS."""
    found = {}
    for trainer in TRAINERS:
        found.setdefault(trainer.command, []).append(trainer)
    return found


def trainer_for(command, latent):
    """The class that trains latents of this kind for this command, or None."""
    return next((trainer for trainer in commands().get(command, []) if trainer.latent == latent), None)


def name_of(command):
    """'AEVB' for 'aevb'; 'unknown' for what is not a command (a damaged file's)."""
    trainers = commands().get(command) if isinstance(command, str) else None
    return trainers[0].name if trainers else "unknown"


# the most binary units in one layer whose 2^J states the exact evaluation sums over (algorithms/binary/exact.py)
ENUMERABLE = 20


def why_not_enumerable(layers):
    """Why a binary model with stochastic layers of these sizes cannot be enumerated, or None when it can."""
    if len(layers) != 1:
        return f"it has {len(layers)} stochastic layers (enumeration sums over one)"
    if layers[0] > ENUMERABLE:
        return f"its layer has {layers[0]} units: 2^{layers[0]} states (at most 2^{ENUMERABLE})"
    return None
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

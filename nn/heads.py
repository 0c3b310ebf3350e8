"""Bounded recognition heads: layers the caller may put after the recognition network's last Linear, each bounding
one half of its 2J outputs smoothly (derivations/wake-sleep-diagnosis.md; derivations/iwae.md for the floor).

They are research remedies, not part of the write-up's model: experiments/harness/training.py::build composes them
from the settings log_var_floor, log_var_ceiling and mean_bound (algorithms/__init__.py::HEADS), and
HelmholtzMachine(heads=[...]) appends them.
Each is a forward/backward pair with the contract of nn/layers.py.
"""
import numpy as np

from nn.functional import sigmoid, softplus
from nn.layers import Layer


class LogVarianceBound(Layer):
    """The recognition network's last step when its log-variances are bounded on one side: the last J of the 2J
    outputs become v = bound + side softplus(side (u - bound)), the first J (the means) pass unchanged; side = +1 is a
    floor (Eq. (B17)), side = -1 a ceiling (Eq. (B18)). dv/du = sigmoid(side (u - bound)): v ~ u on the free side of
    the bound, v -> bound beyond it, smooth everywhere."""

    def __init__(self, latent_dim, bound, side):
        super().__init__()
        self.latent_dim, self.bound, self.side = latent_dim, bound, side

    def forward(self, x):
        shifted = self.side * (x[:, self.latent_dim:] - self.bound)
        out = x.copy()
        out[:, self.latent_dim:] = self.bound + self.side * softplus(shifted)
        return out, shifted

    def backward(self, dout, cache):
        shifted = cache
        dx = dout.copy()
        dx[:, self.latent_dim:] *= sigmoid(shifted)
        return dx


class LogVarianceFloor(LogVarianceBound):
    """v = floor + softplus(u - floor) (Eq. (B17))."""

    def __init__(self, latent_dim, floor):
        super().__init__(latent_dim, floor, side=+1)


class LogVarianceCeiling(LogVarianceBound):
    """v = ceiling - softplus(ceiling - u) (Eq. (B18))."""

    def __init__(self, latent_dim, ceiling):
        super().__init__(latent_dim, ceiling, side=-1)


class MeanBound(Layer):
    """The recognition network's last step when its means are bounded (Eq. (B19)): the first J of the 2J outputs
    become mu = c tanh(u / c), the last J (the log-variances) pass unchanged. dmu/du = 1 - tanh^2(u / c):
    mu ~ u for |u| << c, |mu| < c always, smooth everywhere."""

    def __init__(self, latent_dim, bound):
        super().__init__()
        self.latent_dim, self.bound = latent_dim, bound

    def forward(self, x):
        squashed = np.tanh(x[:, :self.latent_dim] / self.bound)
        out = x.copy()
        out[:, :self.latent_dim] = self.bound * squashed
        return out, squashed

    def backward(self, dout, cache):
        squashed = cache
        dx = dout.copy()
        dx[:, :self.latent_dim] *= 1 - squashed * squashed
        return dx

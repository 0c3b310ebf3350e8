"""Layers as forward/backward pairs (derivations/backprop.md).

Every layer follows one contract:

    out, cache = layer.forward(x)        # cache holds exactly what backward needs
    dx = layer.backward(dout, cache)     # writes the parameter gradients into layer.grads
    dx = layer.input_gradient(dout, cache)   # dx alone, no gradient written

The cache is returned, never stored on the layer, so a network can run forward several times
(data, then dreamed samples) before any backward without one pass overwriting another.
`layer(x)` runs forward and keeps nothing, for evaluation. `layer.overwrite(x)` does the same but may
write the result over x: the MLP uses it for the temporaries between its layers, which makes evaluation
(the bound L_k) about a third faster than allocating new arrays at every step.
"""
import numpy as np

from nn.functional import sigmoid, softplus


class Layer:
    """A map with no parameters unless a subclass gives it some."""

    def __init__(self):
        self.params = {}
        self.grads = {}

    def __call__(self, x):
        out, _ = self.forward(x)
        return out

    def overwrite(self, x):
        """layer(x), free to use x's memory for the result (x is a temporary the caller drops)."""
        return self(x)

    def input_gradient(self, dout, cache):
        """dx alone: backward's, for a layer without parameters (it writes no gradient); one with parameters says how
        to skip them (Linear.input_gradient)."""
        if self.params:
            raise NotImplementedError(f"{type(self).__name__} has parameters: its input_gradient must skip them")
        return self.backward(dout, cache)


class Linear(Layer):
    """Affine map out = x W + b (backprop.md, Eq. (B1)).

    x: (N, n_in), W: (n_in, n_out), b: (n_out,), out: (N, n_out).
    W is drawn from Glorot/Xavier's uniform U(-a, a) with a = sqrt(6 / (n_in + n_out)); b starts at 0.
    """

    def __init__(self, n_in, n_out, rng, dtype=np.float32):
        super().__init__()
        limit = np.sqrt(6.0 / (n_in + n_out))
        self.params = {
            "W": rng.uniform(-limit, limit, size=(n_in, n_out)).astype(dtype),
            "b": np.zeros(n_out, dtype=dtype),
        }
        self.grads = {name: np.zeros_like(value) for name, value in self.params.items()}

    def forward(self, x):
        """out = x W + b (Eq. (B1)); the cache is x."""
        out = x @ self.params["W"]
        out += self.params["b"]
        return out, x

    def backward(self, dout, cache, input_grad=True):
        """dW = x^T dout, db = sum_n dout_n, dx = dout W^T (Eq. (B2)).

        dW and db are written straight into the buffers of self.grads (out=), which replaces their contents:
        no temporary, and nothing to zero first. input_grad=False skips dx (returns None) where nothing
        needs it: the gradient w.r.t. the data.
        """
        x = cache
        np.matmul(x.T, dout, out=self.grads["W"])
        np.sum(dout, axis=0, out=self.grads["b"])
        return dout @ self.params["W"].T if input_grad else None

    def input_gradient(self, dout, cache):
        """dx = dout W^T (Eq. (B2)) alone: dW and db are neither computed nor written."""
        return dout @ self.params["W"].T


class Softplus(Layer):
    """out = log(1 + e^x) (Eq. (B4)); d out / dx = sigmoid(x) = 1 - e^{-out} (Eq. (B5a)).

    The cache is the output: the derivative is computed from it with one expm1, about three times
    faster than a sigmoid of the input and exact to rounding in both tails.
    """

    def forward(self, x):
        out = softplus(x)
        return out, out

    def overwrite(self, x):
        return softplus(x, out=x)

    def backward(self, dout, cache):
        """dx = dout * (1 - e^{-out}) (Eq. (B5a))."""
        out = cache
        return dout * -np.expm1(-out)


class Tanh(Layer):
    """out = tanh(x); d out / dx = 1 - out^2 (Eq. (B6))."""

    def forward(self, x):
        out = np.tanh(x)
        return out, out

    def overwrite(self, x):
        return np.tanh(x, out=x)

    def backward(self, dout, cache):
        out = cache
        return dout * (1 - out * out)


class ReLU(Layer):
    """out = max(x, 0); d out / dx = [x > 0] (Eq. (B7))."""

    def forward(self, x):
        return np.maximum(x, 0), x > 0

    def overwrite(self, x):
        return np.maximum(x, 0, out=x)

    def backward(self, dout, cache):
        positive = cache
        return dout * positive


class Sigmoid(Layer):
    """out = sigmoid(x); d out / dx = out (1 - out) (Eq. (B8))."""

    def forward(self, x):
        out = sigmoid(x)
        return out, out

    def backward(self, dout, cache):
        out = cache
        return dout * out * (1 - out)


ACTIVATIONS = {"softplus": Softplus, "tanh": Tanh, "relu": ReLU, "sigmoid": Sigmoid}

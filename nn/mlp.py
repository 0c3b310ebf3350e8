"""A multilayer perceptron: Linear layers with an activation between them, none after the last."""
import numpy as np

from nn.layers import ACTIVATIONS, Linear


class MLP:
    """sizes = [n_in, h_1, ..., n_out]; activation is a name from nn.layers.ACTIVATIONS.

    forward(x) -> (out, caches); backward(dout, caches) -> dx, writing every layer's grads.
    backward(dout, caches, input_grad=False) skips dx where nothing needs it (the data's gradient);
    input_gradient(dout, caches) -> dx alone, writing no grads, where the network's own gradient is not wanted.
    Calling the network, `net(x)`, runs forward and keeps nothing (evaluation).
    Backward is the chain rule applied layer by layer in reverse (backprop.md, Eq. (B3)).
    """

    def __init__(self, sizes, activation, rng, dtype=np.float32):
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
        self.sizes = list(sizes)
        self.dtype = np.dtype(dtype)
        self.layers = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            self.layers.append(Linear(n_in, n_out, rng, dtype))
            self.layers.append(ACTIVATIONS[activation]())
        self.layers.pop()  # the output is left linear (logits, means, log-variances)

    def forward(self, x):
        caches = []
        for layer in self.layers:
            x, cache = layer.forward(x)
            caches.append(cache)
        return x, caches

    def __call__(self, x):
        """The output, keeping nothing for backward. x itself is never written: the first layer is a
        Linear, and every later layer overwrites only the temporary that the layer before it made."""
        for layer in self.layers:
            x = layer.overwrite(x)
        return x

    def backward(self, dout, caches, input_grad=True):
        """The chain rule, layer by layer in reverse (Eq. (B3)); writes every layer's grads.

        Returns dx for the network's input, or None with input_grad=False (the first layer then skips a product).
        """
        for layer, cache in zip(reversed(self.layers[1:]), reversed(caches[1:])):
            dout = layer.backward(dout, cache)
        return self.layers[0].backward(dout, caches[0], input_grad=input_grad)

    def input_gradient(self, dout, caches):
        """dx alone, by the same chain rule (Eq. (B3)), with no parameter's gradient computed or written: a Linear
        layer skips its dW (a product) and db (a sum) (REBAR's control variate, algorithms/binary/rebar.py, needs the
        gradient through the networks and not of them)."""
        for layer, cache in zip(reversed(self.layers), reversed(caches)):
            dout = layer.input_gradient(dout, cache)
        return dout

    def named_parameters(self):
        """(name, parameter, gradient) for every parameter, names like '0.W', '2.b' (layer index)."""
        for index, layer in enumerate(self.layers):
            for key, value in layer.params.items():
                yield f"{index}.{key}", value, layer.grads[key]

"""Float64 central-difference checks of every layer and of whole MLPs (derivations/backprop.md)."""
import numpy as np
import pytest

from nn import ACTIVATIONS, MLP, Linear, Softplus
from nn.heads import LogVarianceCeiling, LogVarianceFloor, MeanBound
from nn.layers import Layer
from nn.gradcheck import numerical_gradient, relative_error

TOLERANCE = 1e-6


def check_layer(layer, x, rng):
    """Checks dx and every parameter gradient of `layer` as a vector-Jacobian product with a random dout."""
    out, cache = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    for grad in layer.grads.values():
        grad.fill(np.nan)  # backward must write every entry, not add to what is there
    dx = layer.backward(dout, cache)

    def projected():
        return float(np.sum(layer.forward(x)[0] * dout))

    assert relative_error(dx, numerical_gradient(projected, x)) < TOLERANCE
    for name, param in layer.params.items():
        assert relative_error(layer.grads[name], numerical_gradient(projected, param)) < TOLERANCE, name


def test_linear_gradients():
    rng = np.random.default_rng(0)
    check_layer(Linear(5, 3, rng, np.float64), rng.standard_normal((4, 5)), rng)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradients(name):
    rng = np.random.default_rng(1)
    x = 3 * rng.standard_normal((4, 6))
    if name == "relu":  # keep away from the kink, where the derivative does not exist
        x[np.abs(x) < 1e-3] = 0.5
    check_layer(ACTIVATIONS[name](), x, rng)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_mlp_gradients(name):
    rng = np.random.default_rng(2)
    net = MLP([5, 7, 6, 3], name, rng, np.float64)
    x = rng.standard_normal((4, 5))
    out, caches = net.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = net.backward(dout, caches)

    def projected():
        return float(np.sum(net(x) * dout))

    assert relative_error(dx, numerical_gradient(projected, x)) < TOLERANCE
    for param_name, param, grad in net.named_parameters():
        assert relative_error(grad, numerical_gradient(projected, param)) < TOLERANCE, param_name


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_mlp_input_gradient_is_the_central_differences_dx_and_writes_no_gradient(name):
    """MLP.input_gradient (REBAR's control variate): dx by central differences, and every parameter's grads as they
    were (filled with a marker first)."""
    rng = np.random.default_rng(3)
    net = MLP([5, 7, 6, 3], name, rng, np.float64)
    x = rng.standard_normal((4, 5))
    out, caches = net.forward(x)
    dout = rng.standard_normal(out.shape)
    for _, _, grad in net.named_parameters():
        grad.fill(7.0)
    dx = net.input_gradient(dout, caches)

    def projected():
        return float(np.sum(net(x) * dout))

    assert relative_error(dx, numerical_gradient(projected, x)) < TOLERANCE
    assert all((grad == 7.0).all() for _, _, grad in net.named_parameters())


def test_a_layer_with_parameters_must_say_how_its_input_gradient_skips_them():
    """Layer.input_gradient is backward's only for a layer without parameters; one with them and no input_gradient of
    its own would write its grads where the caller asked for none."""
    class Scale(Layer):
        def __init__(self):
            super().__init__()
            self.params, self.grads = {"a": np.ones(2)}, {"a": np.zeros(2)}

        def backward(self, dout, cache):
            self.grads["a"][...] = (dout * cache).sum(axis=0)
            return dout * self.params["a"]
    with pytest.raises(NotImplementedError, match="Scale has parameters"):
        Scale().input_gradient(np.ones((1, 2)), np.ones((1, 2)))


def test_two_forward_passes_keep_separate_caches():
    """Run the net on a and on b, then backward each: each backward gives exactly the gradients of a
    net that saw only its own input (the second forward did not overwrite what the first one's backward needs)."""
    rng = np.random.default_rng(3)
    net = MLP([4, 5, 2], "softplus", rng, np.float64)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    dout_a, dout_b = rng.standard_normal((3, 2)), rng.standard_normal((2, 2))

    alone = {}
    for name, x, dout in (("a", a, dout_a), ("b", b, dout_b)):
        _, caches = net.forward(x)
        dx = net.backward(dout, caches)
        alone[name] = dx, [grad.copy() for _, _, grad in net.named_parameters()]

    (_, caches_a), (_, caches_b) = net.forward(a), net.forward(b)
    for name, dout, caches in (("a", dout_a, caches_a), ("b", dout_b, caches_b)):
        dx = net.backward(dout, caches)
        np.testing.assert_array_equal(dx, alone[name][0])
        for (_, _, grad), expected in zip(net.named_parameters(), alone[name][1]):
            np.testing.assert_array_equal(grad, expected)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_evaluation_equals_forward_and_leaves_the_input_alone(name):
    """net(x) overwrites its own temporaries (Layer.overwrite), never x, and equals forward."""
    rng = np.random.default_rng(4)
    net = MLP([4, 5, 6, 2], name, rng, np.float32)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    saved = x.copy()
    np.testing.assert_array_equal(net(x), net.forward(x)[0])
    np.testing.assert_array_equal(x, saved)
    layer = ACTIVATIONS[name]()
    np.testing.assert_array_equal(layer.overwrite(x.copy()), layer(x))


def test_float32_network_stays_float32():
    rng = np.random.default_rng(5)
    net = MLP([4, 5, 2], "softplus", rng, np.float32)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    out, caches = net.forward(x)
    dx = net.backward(np.ones_like(out), caches)
    assert out.dtype == dx.dtype == np.float32
    assert all(p.dtype == g.dtype == np.float32 for _, p, g in net.named_parameters())


def test_glorot_uniform_initialization():
    rng = np.random.default_rng(6)
    weights = Linear(400, 600, rng).params["W"]
    limit = np.sqrt(6 / 1000)
    assert np.abs(weights).max() <= limit
    # U(-a, a) has variance a^2 / 3 = 2 / (n_in + n_out)
    assert abs(weights.var() - 2 / 1000) < 0.02 * 2 / 1000


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        MLP([2, 2], "swish", np.random.default_rng(0))


def test_gradient_check_catches_a_wrong_backward():
    """The checker can fail: a backward that forgets the activation's derivative is caught."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4))

    def f():
        return float(np.sum(np.tanh(x) ** 2))

    right = 2 * np.tanh(x) * (1 - np.tanh(x) ** 2)
    wrong = 2 * np.tanh(x)
    numeric = numerical_gradient(f, x)
    assert relative_error(right, numeric) < 1e-9
    assert relative_error(wrong, numeric) > 1e-2
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(f, x.astype(np.float32))


def test_softplus_backward_is_the_sigmoid_in_both_tails():
    """Eq. (B5a): 1 - e^{-softplus(x)} = sigmoid(x), to rounding, for |x| up to 700 (float64) and finite
    for any float32 input."""
    from scipy.special import expit
    layer = Softplus()
    x = np.concatenate([np.linspace(-700, 700, 2001), [-30.5, -1e-8, 0.0, 1e-8]])
    out, cache = layer.forward(x)
    np.testing.assert_allclose(layer.backward(np.ones_like(x), cache), expit(x), rtol=1e-13, atol=0)
    wide = np.array([-3e38, -1e4, -90, 0, 90, 1e4, 3e38], np.float32)
    out, cache = layer.forward(wide)
    grad = layer.backward(np.ones_like(wide), cache)
    assert out.dtype == grad.dtype == np.float32 and np.all(np.isfinite(out)) and np.all(np.isfinite(grad))
    # float32's tails below e^{-40} are flushed to 0 (nn/functional.py::exp_neg_abs): sigmoid(-90) = 8.2e-40 is 0
    np.testing.assert_allclose(grad, expit(wide.astype(np.float64)), rtol=1e-6, atol=np.exp(-40))


def test_log_variance_ceiling_gradients_and_limits():
    """Eq. (B18): central differences in float64; the means untouched; v ~ u far below the ceiling, -> ceiling above;
    float32 inputs to +-3e38 give finite values and gradients."""
    layer = LogVarianceCeiling(latent_dim=2, ceiling=0.0)
    x = np.array([[0.3, -1.0, -2.0, 30.0], [1.0, 2.0, 0.0, 4.0], [-2.0, 0.5, -40.0, 8.0]])
    out, cache = layer.forward(x)
    np.testing.assert_array_equal(out[:, :2], x[:, :2])
    assert out[0, 2] == pytest.approx(-2.0, abs=0.13) and out[0, 3] == pytest.approx(0.0, abs=1e-12)
    assert out[1, 2] == pytest.approx(-np.log(2)) and out[2, 2] == -40.0
    assert np.all(out[:, 2:] < 0.0)
    dout = np.random.default_rng(0).standard_normal(x.shape)
    numeric = numerical_gradient(lambda: float(np.sum(dout * layer(x))), x)
    assert relative_error(layer.backward(dout, cache), numeric) < 1e-8
    wide = np.array([[0, 0, -3e38, 3e38]], np.float32)
    out, cache = layer.forward(wide)
    grad = layer.backward(np.ones_like(wide), cache)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad)) and out[0, 3] == 0.0 and grad[0, 3] == 0.0


def test_mean_bound_gradients_and_limits():
    """Eq. (B19): central differences in float64; the log-variances untouched; mu ~ u near 0, |mu| < c always;
    float32 inputs to +-3e38 give finite values and gradients."""
    layer = MeanBound(latent_dim=2, bound=3.0)
    x = np.array([[0.03, -1.0, 2.0, -30.0], [10.0, -40.0, -5.0, 4.0], [3.0, 0.5, 40.0, -8.0]])
    out, cache = layer.forward(x)
    np.testing.assert_array_equal(out[:, 2:], x[:, 2:])
    assert out[0, 0] == pytest.approx(0.03, rel=1e-4) and out[2, 0] == pytest.approx(3 * np.tanh(1.0))
    assert np.all(np.abs(out[:, :2]) < 3.0) and out[1, 1] == pytest.approx(-3.0)
    dout = np.random.default_rng(0).standard_normal(x.shape)
    numeric = numerical_gradient(lambda: float(np.sum(dout * layer(x))), x)
    assert relative_error(layer.backward(dout, cache), numeric) < 1e-8
    wide = np.array([[-3e38, 3e38, 0, 0]], np.float32)
    out, cache = layer.forward(wide)
    grad = layer.backward(np.ones_like(wide), cache)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad)) and out[0, 1] == 3.0 and grad[0, 1] == 0.0


def test_log_variance_floor_gradients_and_limits():
    """Eq. (B17): central differences in float64; the means untouched; v ~ u far above the floor, -> floor below."""
    layer = LogVarianceFloor(latent_dim=2, floor=-5.0)
    x = np.array([[0.3, -1.0, 2.0, -30.0], [1.0, 2.0, -5.0, -4.0], [-2.0, 0.5, 40.0, -8.0]])
    out, cache = layer.forward(x)
    np.testing.assert_array_equal(out[:, :2], x[:, :2])
    assert out[0, 2] == pytest.approx(2.0, abs=1e-3) and out[0, 3] == pytest.approx(-5.0, abs=1e-10)
    assert out[1, 2] == pytest.approx(-5.0 + np.log(2)) and out[2, 2] == 40.0
    assert np.all(out[:, 2:] > -5.0)
    dout = np.random.default_rng(0).standard_normal(x.shape)
    numeric = numerical_gradient(lambda: float(np.sum(dout * layer(x))), x)
    assert relative_error(layer.backward(dout, cache), numeric) < 1e-8

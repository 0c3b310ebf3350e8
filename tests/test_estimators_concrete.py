"""The binary Concrete relaxation (derivations/estimators.md, Eqs. (G8)-(G11)): its hand-written backward pass by
central differences in float64 on one and two stochastic layers, linear and nonlinear; its expected gradient computed
by quadrature over the logistic noise (no draws) equal to the gradient of the relaxed objective; and its bias against
the exact ELBO gradient (enumeration) and its exact variance at several temperatures. What they print (pytest -s) is
quoted on the page."""
import numpy as np
import pytest

from algorithms.binary.concrete import Concrete, concrete_objective, logistic_noise, relax
from algorithms.binary.model import BinaryHelmholtzMachine
from nn.functional import sigmoid
from nn.gradcheck import numerical_gradient, relative_error
from test_binary_estimators import X, exact_elbo
from test_estimators import CASES, IDS, exact_gradient, flat_gradient, is_phi, tiny

TEMPERATURES = (2.0, 1.0, 0.5, 0.2, 0.1, 0.05, 0.02)


@pytest.mark.parametrize("layers,hidden", CASES + [((2, 3), (4,))], ids=IDS + ["two-layer-tanh-wider"])
def test_the_relaxed_objectives_backward_pass_matches_central_differences(layers, hidden):
    """Eq. (G10) against central differences of Eq. (G9) at fixed logistic noise and random sample weights, every
    parameter of both networks: relative error (Eq. (C2)) under 1e-7."""
    model = tiny(layers, hidden)
    rng = np.random.default_rng(1)
    noise = logistic_noise(rng.random((3, 2, sum(layers))))
    weights = rng.random((3, 2))
    for temperature in (0.3, 1.5):
        concrete_objective(model, X, noise, temperature, weights)
        analytic = flat_gradient(model)
        numeric = np.concatenate([numerical_gradient(
            lambda: -float((weights * relax(model, X, noise, temperature, keep=False).value).sum()), param).ravel()
            for _, param, _ in model.named_parameters()])
        assert relative_error(analytic, numeric) < 1e-7


def quadrature(eta, temperature, order=8):
    """Nodes and weights of the integral over one unit's logistic noise L (density sigmoid(L) sigmoid(-L)):
    composite Gauss-Legendre of `order` points on panels with edges at every integer of [-40, 40] and at
    -eta + tau s, s = 0, +-1/4, +-1/2, ..., +-16, where z = sigmoid((eta + L) / tau) turns (the tails beyond 40 hold
    under 1e-17 of the mass). -> (nodes, weights)."""
    near = -eta + temperature * np.array([0.0, *[sign * 2.0 ** e for e in range(-2, 5) for sign in (1, -1)]])
    edges = np.unique(np.concatenate([np.arange(-40.0, 41.0), np.clip(near, -40, 40)]))
    t, w = np.polynomial.legendre.leggauss(order)
    half, centre = (edges[1:] - edges[:-1]) / 2, (edges[1:] + edges[:-1]) / 2
    nodes = (centre[:, None] + half[:, None] * t).ravel()
    weights = (half[:, None] * w).ravel() * sigmoid(nodes) * sigmoid(-nodes)
    return nodes, weights


def grid(model, temperature, order=8):
    """The tensor-product quadrature over a one-layer model's J = 2 noises for each image of X: (noise (M, N, 2),
    weights (M, N)), the weights summing to 1 / N over each image's M nodes (the mean over the images)."""
    etas = model.recognition[0](X)
    noises, weights = [], []
    for n in range(X.shape[0]):
        (a, wa), (b, wb) = (quadrature(etas[n, j], temperature, order) for j in range(2))
        noises.append(np.stack(np.meshgrid(a, b, indexing="ij"), axis=-1).reshape(-1, 2))
        weights.append(np.outer(wa, wb).ravel() / X.shape[0])
    size = max(len(w) for w in weights)
    noise = np.zeros((size, X.shape[0], 2))
    weight = np.zeros((size, X.shape[0]))
    for n in range(X.shape[0]):
        noise[:len(weights[n]), n], weight[:len(weights[n]), n] = noises[n], weights[n]
    return noise, weight


def test_the_expected_relaxed_gradient_is_the_gradient_of_the_expected_relaxed_objective():
    """Eq. (G11), the reparameterization: the code's gradient averaged over the quadrature's nodes equals the
    central differences of the quadrature of F_tau with the nodes held, and the weights integrate the density to 1."""
    model = tiny((2,), ())
    noise, weights = grid(model, 0.5, order=4)
    assert weights.sum() == pytest.approx(1.0, abs=1e-8)
    concrete_objective(model, X, noise, 0.5, weights)
    analytic = flat_gradient(model)
    numeric = np.concatenate([numerical_gradient(
        lambda: -float((weights * relax(model, X, noise, 0.5, keep=False).value).sum()), param).ravel()
        for _, param, _ in model.named_parameters()])
    assert relative_error(analytic, numeric) < 1e-7


def bias_and_variance(model, temperature, order=8):
    """(E[the relaxed gradient] - (-grad ELBO)) over (phi, theta), and the exact variance of phi's estimate on image 0
    from one relaxed sample, summed over phi: for a linear first layer phi's gradient is (x (x) dF/deta, dF/deta), so
    the variance is (|x|^2 + 1) sum_j Var(dF/deta_j)."""
    noise, weights = grid(model, temperature, order)
    concrete_objective(model, X, noise, temperature, weights)
    expected = flat_gradient(model)
    _, per_sample = concrete_objective(model, X, noise, temperature, np.ones_like(weights))
    p = weights[:, 0] * X.shape[0]                                           # image 0's probabilities
    mean = p @ per_sample[:, 0]
    variance = float((p @ (per_sample[:, 0] - mean) ** 2).sum()) * (X[0] @ X[0] + 1)
    return expected, variance


def test_the_relaxations_bias_falls_and_its_variance_grows_as_the_temperature_falls():
    """On the one-layer tiny model, exactly (quadrature of 4 points a panel; its error, bounded by the change when the
    points are doubled at tau = 1 and 0.02, printed and held under 1e-3 of the gradient's norm): the bias
    |E g_tau - grad ELBO| / |grad ELBO| in phi and theta falls as tau falls from 1 to 0.02, and the variance of phi's
    estimate rises from tau = 0.5 down."""
    model = tiny((2,), ())
    exact, phi = exact_gradient(model), is_phi(model)
    rows = []
    for temperature in TEMPERATURES:
        expected, variance = bias_and_variance(model, temperature, order=4)
        error = np.nan
        if temperature in (1.0, 0.02):
            finer, _ = bias_and_variance(model, temperature, order=8)
            error = np.linalg.norm(finer - expected) / np.linalg.norm(exact)
            assert error < 1e-3
        bias = expected - exact
        rows.append((temperature, np.linalg.norm(bias[phi]) / np.linalg.norm(exact[phi]),
                     np.linalg.norm(bias[~phi]) / np.linalg.norm(exact[~phi]), variance, error))
    print("\n tau   |bias phi|/|grad|   |bias theta|/|grad|   Var(phi estimate), one image   quadrature error")
    for row in rows:
        print(" {:<5g} {:>12.4f} {:>20.4f} {:>24.4g} {:>24.1e}".format(*row))
    phi_bias, theta_bias, variance = (np.array([row[i] for row in rows]) for i in (1, 2, 3))
    falling = np.array(TEMPERATURES) <= 1.0
    assert np.all(np.diff(phi_bias[falling]) < 0) and np.all(np.diff(theta_bias[falling]) < 0)
    assert phi_bias[-1] < 0.1 * phi_bias[1]
    rising = np.array(TEMPERATURES) <= 0.5
    assert np.all(np.diff(variance[rising]) > 0)


def test_a_planted_error_in_the_relaxed_backward_is_caught(monkeypatch):
    """The chain rule through z without its 1 / tau (dz/deta = z (1 - z) / tau): the central differences catch it."""
    import algorithms.binary.concrete as concrete
    model = tiny((2, 2), ())
    noise = logistic_noise(np.random.default_rng(1).random((3, 2, 4)))
    original = concrete.relaxed_backward

    def without_temperature(model_, x, relaxed, temperature, weights):
        return original(model_, x, relaxed, 1.0, weights)     # the forward at tau, the backward at 1: no 1 / tau
    monkeypatch.setattr(concrete, "relaxed_backward", without_temperature)
    concrete.concrete_objective(model, X, noise, 0.3)
    analytic = flat_gradient(model)
    numeric = np.concatenate([numerical_gradient(
        lambda: -float(relax(model, X, noise, 0.3, keep=False).value.mean()), param).ravel()
        for _, param, _ in model.named_parameters()])
    assert relative_error(analytic, numeric) > 1e-2


@pytest.mark.parametrize("layers,hidden", CASES, ids=IDS)
def test_a_concrete_step_is_finite_for_extreme_logits_and_uniforms_of_zero(layers, hidden):
    """Logits of +-80 in float32 and u = 0 (L = -inf, z = 0 exactly): the loss and every gradient finite."""
    model = BinaryHelmholtzMachine(np.random.default_rng(0), data_dim=3, layers=layers, hidden=hidden)
    for _, param, _ in model.named_parameters():
        param[...] = np.where(np.arange(param.size).reshape(param.shape) % 2, 40.0, -40.0)
    trainer = Concrete(model, temperature=0.1, k=2)
    for optimizer in trainer.optimizers.values():
        optimizer.step = lambda: None

    class Zeros:
        def random(self, shape, dtype=np.float64):
            u = np.random.default_rng(0).random(shape).astype(dtype)
            u.reshape(-1)[::3] = 0.0
            return u
    loss = trainer.step(X.astype(np.float32), Zeros())["loss"]
    assert np.isfinite(loss)
    assert all(np.isfinite(grad).all() for _, _, grad in model.named_parameters())


def test_the_relaxed_objective_tends_to_the_elbo_as_the_temperature_falls():
    """E F_tau -> ELBO as tau -> 0 (Eq. (G9)), by the same quadrature: the gap printed and falling."""
    model = tiny((2,), ())
    elbo, gaps = exact_elbo(model, X), []
    for temperature in TEMPERATURES:
        noise, weights = grid(model, temperature)
        gaps.append(float((weights * relax(model, X, noise, temperature, keep=False).value).sum()) - elbo)
    print("\nE F_tau - ELBO (nats, mean of the two images): "
          + ", ".join(f"tau {t:g}: {g:+.4f}" for t, g in zip(TEMPERATURES, gaps)))
    assert abs(gaps[-1]) < 0.05 * abs(gaps[1]) and np.all(np.diff(np.abs(gaps)[1:]) < 0)

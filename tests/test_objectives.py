"""Float64 gradient checks of the three training objectives, with the noise held fixed
(derivations/1.3-aevb.md Eqs. (A3)-(A6), derivations/1.2-wake-sleep.md Eqs. (W3), (W5))."""
import numpy as np
import pytest

from algorithms.aevb import aevb_objective
from algorithms.model import HelmholtzMachine
from algorithms.wake_sleep import sleep_objective, wake_objective
from conftest import heads_of, likelihood_of
from nn.gradcheck import numerical_gradient, relative_error

TOLERANCE = 1e-6


def tiny_model(seed=0, activation="softplus", likelihood="bernoulli", log_var_floor=None, log_var_ceiling=None,
               mean_bound=None):
    return HelmholtzMachine(np.random.default_rng(seed), data_dim=6, latent_dim=2, hidden=(5, 4),
                            activation=activation, dtype=np.float64, likelihood=likelihood_of(likelihood),
                            heads=heads_of(2, log_var_floor=log_var_floor, log_var_ceiling=log_var_ceiling,
                                           mean_bound=mean_bound))


def check_objective(objective, model, args, names):
    """Every parameter named in `names` against central differences of the objective's value."""
    _, grads = objective(model, *args)
    analytic = {name: grads[name].copy() for name in names}
    parameters = model.parameters()
    for name in names:
        numeric = numerical_gradient(lambda: objective(model, *args)[0], parameters[name])
        assert relative_error(analytic[name], numeric) < TOLERANCE, name


@pytest.mark.parametrize("n_samples, activation, likelihood, floor", [
    (1, "softplus", "bernoulli", None), (3, "softplus", "bernoulli", None), (1, "tanh", "bernoulli", None),
    (3, "tanh", "bernoulli", None), (3, "softplus", "continuous-bernoulli", None), (3, "softplus", "bernoulli", -0.5)])
def test_aevb_gradients_for_every_parameter(n_samples, activation, likelihood, floor):
    """Every parameter; with the CB likelihood (Eq. (L7)) and with the log-variance floor (Eq. (B17)) too."""
    rng = np.random.default_rng(1)
    model = tiny_model(activation=activation, likelihood=likelihood, log_var_floor=floor)
    x = rng.random((4, 6))
    eps = rng.standard_normal((n_samples, 4, 2))
    check_objective(aevb_objective, model, (x, eps), list(model.parameters()))


def check_gradients_reach_only(network, objective, model, args):
    """The objective's gradients cover exactly `network`'s parameters, pass the central-difference check,
    and leave the other network's gradient buffers untouched (filled with NaN before, NaN after)."""
    for grad in model.gradients().values():
        grad.fill(np.nan)
    _, grads = objective(model, *args)
    assert set(grads) == {name for name in model.parameters() if name.startswith(network + ".")}
    assert all(np.all(np.isfinite(g)) for g in grads.values())
    assert all(np.all(np.isnan(g)) for name, g in model.gradients().items() if not name.startswith(network + "."))
    check_objective(objective, model, args, list(grads))


@pytest.mark.parametrize("likelihood", ["bernoulli", "continuous-bernoulli"])
def test_wake_gradients_reach_theta_only(likelihood):
    rng = np.random.default_rng(2)
    x, eps = rng.random((4, 6)), rng.standard_normal((2, 4, 2))
    check_gradients_reach_only("generative", wake_objective, tiny_model(likelihood=likelihood), (x, eps))


@pytest.mark.parametrize("likelihood, dreams, ceiling", [
    ("bernoulli", "samples", None), ("continuous-bernoulli", "samples", None), ("bernoulli", "means", None),
    ("bernoulli", "samples", 0.1)])
def test_sleep_gradients_reach_phi_only(likelihood, dreams, ceiling):
    """(W5) on the dreams: the model's samples (binary, or grey under the CB), or the decoder's means (W6); and
    through the log-variance ceiling (B18), with the floor (B17) under it and the mean bound (B19) beside it."""
    rng = np.random.default_rng(3)
    model = tiny_model(likelihood=likelihood, log_var_floor=None if ceiling is None else -1.0, log_var_ceiling=ceiling,
                       mean_bound=None if ceiling is None else 0.5)
    z, uniforms = rng.standard_normal((5, 2)), rng.random((5, 6))
    check_gradients_reach_only("recognition", sleep_objective, model, (z, uniforms, dreams))


def test_aevb_value_is_kl_minus_reconstruction():
    """The value against an independent float64 computation written with scipy's distributions."""
    from scipy.stats import bernoulli, norm
    rng = np.random.default_rng(4)
    model = tiny_model()
    x = (rng.random((3, 6)) < 0.5).astype(np.float64)
    eps = rng.standard_normal((1, 3, 2))
    mean, log_var = model.encode(x)
    std = np.exp(0.5 * log_var)
    z = mean + std * eps[0]
    p = 1 / (1 + np.exp(-model.decode(z)))
    reconstruction = bernoulli.logpmf(x, p).sum(axis=1)
    # KL(q || p) by its definition E_q[log q - log p], one-dimensional integrals done in closed form
    kl = np.sum(np.log(1 / std) + (std ** 2 + mean ** 2) / 2 - 0.5, axis=1)
    expected = np.mean(kl - reconstruction)
    assert aevb_objective(model, x, eps)[0] == pytest.approx(expected, rel=1e-12)
    # and log N(z; 0, 1) through scipy for the sleep objective's density
    z_s, u = rng.standard_normal((4, 2)), rng.random((4, 6))
    dreams = (u < 1 / (1 + np.exp(-model.decode(z_s)))).astype(np.float64)
    m, v = model.encode(dreams)
    expected_sleep = -np.mean(norm.logpdf(z_s, m, np.exp(0.5 * v)).sum(axis=1))
    assert sleep_objective(model, z_s, u)[0] == pytest.approx(expected_sleep, rel=1e-12)


def test_wake_and_aevb_agree_on_theta():
    """The wake objective is the ELBO's theta-part: with the same noise, the generative gradients of
    Eq. (3) and Eq. (9) coincide (the KL term has no theta; derivations/1.2-wake-sleep.md, (W1))."""
    rng = np.random.default_rng(5)
    model = tiny_model()
    x, eps = rng.random((4, 6)), rng.standard_normal((2, 4, 2))
    _, wake = wake_objective(model, x, eps)
    wake = {name: grad.copy() for name, grad in wake.items()}
    _, aevb = aevb_objective(model, x, eps)
    for name, grad in wake.items():
        np.testing.assert_allclose(grad, aevb[name], rtol=1e-12, atol=1e-15)


def test_reparameterized_samples_have_the_intended_moments():
    """z = mu + exp(log_var / 2) eps has mean mu and variance exp(log_var) (Eq. (8)): the check that a
    gradient test cannot make, since backward would match a forward that used the wrong scale."""
    from algorithms.model import reparameterize
    rng = np.random.default_rng(6)
    mean, log_var = np.array([[0.5, -2.0]]), np.array([[np.log(4.0), np.log(0.25)]])
    z = reparameterize(mean, log_var, rng.standard_normal((200_000, 1, 2)))[:, 0]
    np.testing.assert_allclose(z.mean(axis=0), [0.5, -2.0], atol=0.02)
    np.testing.assert_allclose(z.var(axis=0), [4.0, 0.25], rtol=0.02)


@pytest.mark.parametrize("trainer_name", ["aevb", "wake-sleep"])
def test_training_steps_stay_float32(trainer_name):
    """A float32 model trains in float32: parameters, gradients and optimizer state keep their dtype
    (NumPy 2 would silently upcast on any stray float64 scalar or array)."""
    from algorithms.aevb import AEVB
    from algorithms.wake_sleep import WakeSleep
    rng = np.random.default_rng(7)
    model = HelmholtzMachine(rng, data_dim=6, latent_dim=2, hidden=(5,), dtype=np.float32)
    trainer = AEVB(model) if trainer_name == "aevb" else WakeSleep(model, sleep_samples=4)
    x = rng.random((3, 6), dtype=np.float32)
    for _ in range(3):
        losses = trainer.step(x, rng)
    assert all(np.isfinite(value) for value in losses.values())
    for _, param, grad in model.named_parameters():
        assert param.dtype == grad.dtype == np.float32
    for optimizer in trainer.optimizers.values():
        assert all(m.dtype == v.dtype == np.float32 for m, v in zip(optimizer.m, optimizer.v))

"""The IWAE objective (derivations/iwae.md): float64 gradient checks for k = 1 and 5, k = 1 is the single-sample
ELBO with the KL by Monte Carlo, its value is the bound of algorithms/bound.py, and DReG's phi-gradient has the
plain gradient's mean."""
import numpy as np
import pytest

from algorithms.bound import log_importance_weights
from algorithms.model import HelmholtzMachine
from algorithms.iwae import iwae_objective
from nn import log_mean_exp
from conftest import likelihood_of
from experiments.studies.gradient_snr import conjugate_gaussian_snr, gradient_snr
from nn.gradcheck import numerical_gradient, relative_error


def small_model(seed=0, likelihood="bernoulli"):
    return HelmholtzMachine(np.random.default_rng(seed), data_dim=6, latent_dim=2, hidden=(5,), dtype=np.float64,
                            likelihood=likelihood_of(likelihood))


def copied(grads):
    """The gradient buffers are the model's own, rewritten by every later call: keep a copy."""
    return {name: grad.copy() for name, grad in grads.items()}


@pytest.fixture
def batch():
    rng = np.random.default_rng(1)
    return rng.random((3, 6)), rng


@pytest.mark.parametrize("k, dreg, likelihood", [(1, False, "bernoulli"), (5, False, "bernoulli"),
                                                 (1, True, "bernoulli"), (5, True, "bernoulli"),
                                                 (5, False, "continuous-bernoulli")])
def test_gradients_match_central_differences(batch, k, dreg, likelihood):
    """Every parameter, both networks (Eqs. (I2)-(I4)); with DReG, theta's gradient is still the exact one."""
    x, rng = batch
    model = small_model(likelihood=likelihood)
    eps = rng.standard_normal((k, 3, 2))
    grads = copied(iwae_objective(model, x, eps, dreg=dreg)[1])
    for name, param in model.parameters().items():
        if dreg and name.startswith("recognition."):
            continue                       # DReG's phi-gradient is not the gradient of this draw; see the next tests
        numeric = numerical_gradient(lambda: iwae_objective(model, x, eps)[0], param)
        assert relative_error(grads[name], numeric) < 1e-7, name


def test_the_value_is_minus_the_bound_of_eq_10(batch):
    x, rng = batch
    model = small_model()
    eps = rng.standard_normal((5, 3, 2))
    value, _ = iwae_objective(model, x, eps)
    assert value == pytest.approx(-log_mean_exp(log_importance_weights(model, x, eps), axis=0).mean(), abs=1e-12)


def test_k_1_is_the_elbo_with_the_kl_by_monte_carlo(batch):
    """With one sample, L^_1 = log p(x | z) + log p(z) - log q(z | x): the ELBO's single-sample estimate with the KL
    term estimated from the same z, not in closed form (value), and its gradient is the gradient of that."""
    x, rng = batch
    model = small_model()
    eps = rng.standard_normal((1, 3, 2))
    value, grads = iwae_objective(model, x, eps)
    grads = copied(grads)
    assert value == pytest.approx(-log_importance_weights(model, x, eps)[0].mean(), abs=1e-12)
    for name, param in model.parameters().items():
        numeric = numerical_gradient(lambda: -log_importance_weights(model, x, eps)[0].mean(), param)
        assert relative_error(grads[name], numeric) < 1e-7, name


def test_dreg_has_the_mean_of_the_plain_phi_gradient():
    """Eq. (I5) is unbiased: over many noise draws the DReG and plain phi-gradients have the same mean (within 4
    standard errors in every coordinate), while DReG's spread is smaller (Tucker et al.'s point)."""
    rng = np.random.default_rng(2)
    model, x = small_model(3), rng.random((2, 6))
    plain, doubly = [], []
    for _ in range(3000):
        eps = rng.standard_normal((5, 2, 2))
        for estimates, dreg in ((plain, False), (doubly, True)):
            _, grads = iwae_objective(model, x, eps, dreg=dreg)
            estimates.append(np.concatenate([g.ravel() for n, g in grads.items() if n.startswith("recognition.")]))
    plain, doubly = np.array(plain), np.array(doubly)
    difference = doubly - plain                  # paired: the same noise for both
    se = difference.std(axis=0, ddof=1) / np.sqrt(len(difference))
    assert np.all(np.abs(difference.mean(axis=0)) <= 4 * se + 1e-12)
    assert doubly.var(axis=0).sum() < plain.var(axis=0).sum()


def test_iwae_training_raises_the_bound_it_trains_on(mnist):
    """200 steps of IWAE (k = 5) on 1000 MNIST digits raise the test L_5 of a small model by a wide margin."""
    from algorithms.bound import importance_weighted_bound
    from algorithms.iwae import IWAE
    data = mnist
    rng = np.random.default_rng(0)
    model = HelmholtzMachine(rng, latent_dim=2, hidden=(64,))
    test = data.test_images[:200]
    before = importance_weighted_bound(model, test, k=5, seed=0).mean()
    trainer = IWAE(model, lr=3e-3, k=5)
    for _ in range(200):
        trainer.step(data.train_images[rng.integers(0, 1000, 100)], rng)
    after = importance_weighted_bound(model, test, k=5, seed=0).mean()
    assert after > before + 250


def test_dreg_keeps_its_signal_as_k_grows_where_the_plain_phi_gradient_loses_it():
    """Rainforth et al.'s effect on a small model: the plain phi-gradient's SNR falls from k = 1 to k = 50, DReG's
    does not, and at k = 50 DReG's is the larger (experiments/studies/gradient_snr.py)."""
    rng = np.random.default_rng(5)
    model, x = small_model(6), rng.random((4, 6))
    result = gradient_snr(model, x, (1, 50), replicates=300, rng=rng)
    assert result[50]["phi (plain)"] < result[1]["phi (plain)"]
    assert result[50]["phi (DReG)"] > result[50]["phi (plain)"]
    assert result[50]["phi (DReG)"] >= 0.9 * result[1]["phi (DReG)"]


def test_dreg_is_not_the_better_estimator_on_every_model():
    """derivations/iwae.md: on the conjugate 1-D model with q = N(1.2, 0.3^2) far from the posterior, DReG's SNR is below
    the plain estimator's for both parameters at k = 1, 10 and 100, while the two estimate the same gradient (their
    means agree within 5 standard errors)."""
    rng = np.random.default_rng(0)
    for k in (1, 10, 100):
        snr, means = conjugate_gaussian_snr(k, 20000, rng)
        assert np.all(snr["dreg"] < snr["plain"])
        spread = np.abs(means["plain"]) / snr["plain"] + np.abs(means["dreg"]) / snr["dreg"]
        assert np.all(np.abs(means["plain"] - means["dreg"]) < 5 * spread / np.sqrt(20000))

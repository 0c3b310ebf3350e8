"""Reweighted wake-sleep's wake updates (derivations/iwae.md, Eqs. (R1), (R2)): wake-theta is IWAE's theta-gradient
for the same samples; wake-phi is the gradient of the weighted log q with the samples and weights held fixed; and as k
grows its direction approaches that of KL(p(z|x) || q), computed on a lattice for a 2-D model."""
import numpy as np
import pytest

from algorithms.model import HelmholtzMachine
from algorithms.exact import generative_in
from algorithms.iwae import iwae_objective
from algorithms.model import reparameterize
from algorithms.posterior import log_joint
from algorithms.rws import rws_wake_objective
from nn import gaussian_log_density, gaussian_log_density_backward, log_mean_exp_backward
from conftest import likelihood_of
from nn.gradcheck import numerical_gradient, relative_error


def small_model(seed=0, latent=2, likelihood="bernoulli"):
    return HelmholtzMachine(np.random.default_rng(seed), data_dim=6, latent_dim=latent, hidden=(5,), dtype=np.float64,
                            likelihood=likelihood_of(likelihood))


def copied(grads, prefix=""):
    return {name: grad.copy() for name, grad in grads.items() if name.startswith(prefix)}


@pytest.mark.parametrize("likelihood", ["bernoulli", "continuous-bernoulli"])
def test_wake_theta_is_iwaes_theta_gradient(likelihood):
    rng = np.random.default_rng(1)
    model, x = small_model(likelihood=likelihood), rng.random((3, 6))
    eps = rng.standard_normal((5, 3, 2))
    wake = copied(rws_wake_objective(model, x, eps)[1], "generative.")
    iwae = copied(iwae_objective(model, x, eps)[1], "generative.")
    for name in wake:
        np.testing.assert_allclose(wake[name], iwae[name], rtol=1e-12, atol=1e-15)


def test_wake_phi_is_the_gradient_of_the_weighted_log_q_with_samples_and_weights_fixed():
    """Eq. (R2) by central differences: z_i and w~_i computed once, then -(1/N) sum w~_i log q_phi(z_i | x) as a
    function of phi alone."""
    rng = np.random.default_rng(2)
    model, x = small_model(), rng.random((3, 6))
    eps = rng.standard_normal((5, 3, 2))
    grads = copied(rws_wake_objective(model, x, eps)[1], "recognition.")
    mean, log_var = model.encode(x)
    z = reparameterize(mean, log_var, eps)
    from algorithms.bound import log_importance_weights
    weights = log_mean_exp_backward(np.ones(3), log_importance_weights(model, x, eps), axis=0)     # w~, (k, N)

    def surrogate():
        m, v = model.encode(x)
        return -float((weights * gaussian_log_density(z, m, v)).sum() / x.shape[0])
    for name, param, _ in model.recognition.named_parameters():
        numeric = numerical_gradient(surrogate, param)
        assert relative_error(grads[f"recognition.{name}"], numeric) < 1e-7, name


def test_wake_phi_points_along_the_kl_from_the_posterior_as_k_grows():
    """Wake-phi estimates -grad_phi KL(p(z|x) || q) = grad_phi E_p(z|x)[log q] (self-normalized importance sampling).
    On a 2-D model, the exact gradient comes from the posterior on a lattice; the cosine between it and the average
    of 200 wake-phi estimates is near 1 at k = 100 and higher than at k = 1."""
    rng = np.random.default_rng(4)
    model, x = small_model(5), rng.random((1, 6))
    mean, log_var = model.encode(x)
    h = 0.02
    axis = np.arange(-6, 6 + h / 2, h)
    grid = np.stack([a.ravel() for a in np.meshgrid(axis, axis, indexing="ij")], axis=1)
    log_p = log_joint(generative_in(model, np.float64), x[0], grid)
    posterior = np.exp(log_p - log_p.max())
    posterior /= posterior.sum()
    _, dmean, dlog_var = gaussian_log_density_backward(-posterior, grid, mean[0], log_var[0])   # of -E_p log q
    out, caches = model.recognition.forward(x)
    model.recognition.backward(np.concatenate([dmean.sum(axis=0, keepdims=True), dlog_var.sum(axis=0, keepdims=True)],
                                              axis=1), caches, input_grad=False)
    exact = np.concatenate([g.ravel() for _, _, g in model.recognition.named_parameters()])

    def cosine(k):
        total = np.zeros_like(exact)
        for _ in range(200):
            grads = rws_wake_objective(model, x, rng.standard_normal((k, 1, 2)))[1]
            total += np.concatenate([grads[f"recognition.{n}"].ravel() for n, _, _ in model.recognition.named_parameters()])
        return total @ exact / np.linalg.norm(total) / np.linalg.norm(exact)
    at_1, at_100 = cosine(1), cosine(100)
    assert at_100 > 0.99 and at_100 > at_1

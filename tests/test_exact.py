"""The exact log p(x) of a 2-D model (derivations/exact-likelihood.md): closed forms, scipy's adaptive
quadrature, the bound L_k below it, the decomposition log p(x) = ELBO + KL(q || p(z | x)), and refinement."""
import numpy as np
import pytest
from scipy import integrate

from algorithms.aevb import AEVB
from algorithms.bound import log_importance_weights
from algorithms.model import HelmholtzMachine
from algorithms.exact import (chunked_terms, exact_log_marginal, fine_points, generative_in, hot_cells, nearby_groups,
                              square_lattice)
from algorithms.posterior import posterior_on_lattice
from conftest import likelihood_of
from nn import bernoulli_log_likelihood, gaussian_kl_from_standard_normal, log_mean_exp
from nn.functional import softplus


def test_a_decoder_that_ignores_z_gives_the_bernoulli_likelihood_exactly():
    """With the last layer's weights 0 the logits are its bias b for every z, so p(x) = Bernoulli(x; sigmoid(b))
    times the lattice sum of N(z; 0, I) h^2, which is 1 up to exp(-2 pi^2 / h^2) and the mass beyond 7."""
    rng = np.random.default_rng(0)
    model = HelmholtzMachine(rng, data_dim=6, latent_dim=2, hidden=(5,), dtype=np.float64)
    last = model.generative.layers[-1]
    last.params["W"][...] = 0
    last.params["b"][...] = rng.normal(0, 3, 6)
    x = rng.random((4, 6))
    expected = x @ last.params["b"] - softplus(last.params["b"]).sum()
    result = exact_log_marginal(model, x, tolerance=1e-12, scan_spacing=0.25, limit=8.0, dtype=np.float64)
    np.testing.assert_allclose(result.log_px, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("likelihood", ["bernoulli", "continuous-bernoulli"])
@pytest.mark.parametrize("x", [0.0, 1.0, 0.3])
def test_one_pixel_with_linear_logits_agrees_with_scipy(x, likelihood):
    """p(x) = int int p(x | w . z + b) N(z; 0, I) dz for one pixel, by scipy's adaptive dblquad; the continuous
    Bernoulli's density written from its closed form C(eta) = eta / tanh(eta / 2), not from nn/continuous_bernoulli.py."""
    model = HelmholtzMachine(np.random.default_rng(1), data_dim=1, latent_dim=2, hidden=(), dtype=np.float64,
                             likelihood=likelihood_of(likelihood))
    w, b = np.array([1.7, -0.8]), 0.4
    model.generative.layers[0].params["W"][...] = w[:, None]
    model.generative.layers[0].params["b"][...] = b

    def integrand(z2, z1):
        logit = w[0] * z1 + w[1] * z2 + b
        normalizer = 1.0 if likelihood == "bernoulli" else logit / np.tanh(logit / 2) if logit else 2.0
        return normalizer * np.exp(x * logit - np.logaddexp(0, logit) - (z1 * z1 + z2 * z2) / 2) / (2 * np.pi)

    reference, _ = integrate.dblquad(integrand, -9, 9, -9, 9, epsabs=1e-14, epsrel=1e-12)
    result = exact_log_marginal(model, np.array([[x]]), tolerance=1e-12, scan_spacing=0.2, limit=9.0,
                                inner_limit=8.0, dtype=np.float64)
    assert result.log_px[0] == pytest.approx(np.log(reference), abs=1e-8)


def test_a_posterior_beyond_the_first_square_is_found_by_widening_it():
    """200 pixels, all 1, with logits 2 z1 - 16: the likelihood outweighs the prior out to z1 = 9.84, beyond the
    first square [-8, 8]^2, so the rule must widen (to 12, then 16). Logits that do not depend on z2 leave a 1-D
    integral, by scipy's quad around the peak."""
    model = HelmholtzMachine(np.random.default_rng(2), data_dim=200, latent_dim=2, hidden=(), dtype=np.float64)
    model.generative.layers[0].params["W"][...] = np.array([[2.0], [0.0]])
    model.generative.layers[0].params["b"][...] = -16.0

    def log_integrand(z1):
        return -200 * np.logaddexp(0, 16 - 2 * z1) - z1 * z1 / 2 - 0.5 * np.log(2 * np.pi)

    peak = log_integrand(9.84)
    integral, _ = integrate.quad(lambda z1: np.exp(log_integrand(z1) - peak), 0, 20, points=[9.84], epsabs=0,
                                 epsrel=1e-13)
    x = np.stack([np.ones(200), np.zeros(200), np.ones(200)])      # the blank image's posterior is near 0
    result = exact_log_marginal(model, x, tolerance=1e-6, scan_spacing=0.16, dtype=np.float64)
    assert result.log_px[[0, 2]] == pytest.approx(peak + np.log(integral), abs=1e-6)
    alone = exact_log_marginal(model, x[1:2], tolerance=1e-6, scan_spacing=0.16, dtype=np.float64)
    assert result.log_px[1] == alone.log_px[0] and alone.limit[0] == 8
    assert np.all(np.abs(result.range_change) < 1e-6) and result.limit.tolist() == [16, 8, 16]


def test_a_tilted_ridge_is_refined_until_halving_changes_it_no_more():
    """Logits a_d (z1 + z2) + b_d: the likelihood depends on t = (z1 + z2) / sqrt(2) alone, so the posterior is a ridge
    0.04 wide across the diagonal and the prior's width along it. Its marginals have standard deviations near 0.7, which
    would put the axis terms of Eq. (X4) at e^-1500 on h = 0.08, but it aliases along k = (1, 1), by about 1e-4 there.
    The refinement measures instead of assuming: it halves to h = 0.02, and the answer agrees with the 1-D integral
    over t ~ N(0, 1) by scipy's quad."""
    rng = np.random.default_rng(7)
    a, b = rng.normal(0, 4, 784), rng.normal(0, 2, 784)
    model = HelmholtzMachine(rng, data_dim=784, latent_dim=2, hidden=(), dtype=np.float64)
    model.generative.layers[0].params["W"][...] = np.stack([a, a])
    model.generative.layers[0].params["b"][...] = b
    x = 1 / (1 + np.exp(-(a * np.sqrt(2) * 0.7 + b)))          # grey levels: the likelihood is smooth in t

    def log_integrand(t):
        logits = a * np.sqrt(2) * t + b
        return x @ logits - np.logaddexp(0, logits).sum() - t * t / 2 - 0.5 * np.log(2 * np.pi)

    grid = np.linspace(0.5, 0.9, 4001)
    peak_at = grid[np.argmax([log_integrand(t) for t in grid])]
    peak = log_integrand(peak_at)
    integral, _ = integrate.quad(lambda t: np.exp(log_integrand(t) - peak), peak_at - 1, peak_at + 1,
                                 points=[peak_at], epsabs=0, epsrel=1e-13, limit=200)
    result = exact_log_marginal(model, x[None], tolerance=1e-6, dtype=np.float64)
    assert result.spacing[0] == 0.02 and abs(result.spacing_change[0]) < 1e-6
    assert result.log_px[0] == pytest.approx(peak + np.log(integral), abs=1e-6)


def test_the_cells_it_is_told_to_look_at_are_hot():
    """hot_cells marks the cells also_hot (q's means, in the exact evaluation) and their neighbours, whatever the scan
    saw there: here a decoder that ignores z, whose integrand peaks at 0 and is 10 nats below it at (3.2, -3.2)."""
    model = HelmholtzMachine(np.random.default_rng(3), data_dim=4, latent_dim=2, hidden=(), dtype=np.float64)
    model.generative.layers[0].params["W"][...] = 0
    net = generative_in(model, np.float64)
    index = square_lattice(0.2, 4.0)
    scan = index, list(chunked_terms(net, 0.2 * index.astype(np.float64), np.float64, 512))
    plain, _ = hot_cells(scan, np.zeros((1, 4)), 0.2, 5.0, 16)
    told, _ = hot_cells(scan, np.zeros((1, 4)), 0.2, 5.0, 16, also_hot=np.array([[16, -16]]))
    added = {tuple(cell) for cell in told} - {tuple(cell) for cell in plain}
    assert added == {(16 + i, -16 + j) for i in (-1, 0, 1) for j in (-1, 0, 1)}


def test_fine_points_partition_the_cells_and_nest_the_even_sublattice():
    cells = np.array([[0, 0], [0, 1], [3, -2]])
    sets = fine_points(cells, scan_spacing=0.5, spacing=0.125, inner_limit=1.0)
    points = np.concatenate(list(sets.values()))
    assert len(points) == 3 * 16 and len(np.unique(points, axis=0)) == 3 * 16
    owner = np.floor((points + 0.25) / 0.5).astype(int)                  # the cell [c - s/2, c + s/2)^2 holding it
    assert sorted(map(tuple, np.unique(owner, axis=0))) == sorted(map(tuple, cells))
    assert all(np.sum(np.all(owner == cell, axis=1)) == 16 for cell in cells)
    even = np.concatenate([sets[(True, True)], sets[(True, False)]])
    assert len(even) == 3 * 4 and np.allclose(even / 0.25, np.round(even / 0.25))     # spacing 2h, nested
    assert np.abs(np.concatenate([sets[(True, True)], sets[(False, True)]])).max() <= 1.0


# for this small model (q's sd 0.19 to 0.46): the spacing and range changes are below 1e-8 (measured)
LATTICE = {"tolerance": 1e-9, "scan_spacing": 0.16, "dtype": np.float64}


@pytest.fixture(scope="module")
def trained(mnist):
    """A small float64 model with a 2-D latent after 300 AEVB steps on 1000 MNIST digits, and 12 test digits."""
    data = mnist
    rng = np.random.default_rng(0)
    model = HelmholtzMachine(rng, latent_dim=2, hidden=(64,), dtype=np.float64)
    trainer = AEVB(model, lr=3e-3)
    images = data.train_images[:1000].astype(np.float64)
    for _ in range(300):
        trainer.step(images[rng.integers(0, 1000, 100)], rng)
    return model, data.test_images[:12].astype(np.float64)


def test_the_bound_rises_toward_log_p_and_stays_below_it(trained):
    model, x = trained
    x = x[:6]
    log_px = exact_log_marginal(model, x, **LATTICE).log_px
    rng = np.random.default_rng(2)
    replicates = 100
    previous = None
    for k in (1, 10, 100):
        eps = rng.standard_normal((k, replicates * len(x), 2))
        estimates = log_mean_exp(log_importance_weights(model, np.repeat(x, replicates, axis=0), eps), axis=0)
        estimates = estimates.reshape(len(x), replicates)
        mean, se = estimates.mean(axis=1), estimates.std(axis=1, ddof=1) / np.sqrt(replicates)
        assert np.all(mean <= log_px + 4 * se + 1e-9), k
        if previous is not None:
            assert np.all(mean >= previous[0] - 4 * np.hypot(se, previous[1])), k
        previous = mean, se
    assert np.all(log_px - previous[0] < 0.5 * (log_px - estimates_at_k1(model, x, rng)))   # half the gap closed


def estimates_at_k1(model, x, rng, replicates=2000):
    """The ELBO of each image by Monte Carlo (L_1 averaged over many draws)."""
    eps = rng.standard_normal((replicates, len(x), 2))
    return log_importance_weights(model, x, eps).mean(axis=0)


def test_log_p_is_the_elbo_plus_the_kl_to_the_true_posterior(trained):
    """Three independent computations: log p(x) on the lattice; the ELBO by Gauss-Hermite quadrature under q
    (E_q log p(x | z)) and the closed-form KL(q || N(0, I)); KL(q || p(z | x)) on the lattice from the
    posterior's density there. (X5): log p(x) = ELBO + KL(q || p(z | x)) to quadrature accuracy."""
    model, x = trained
    exact = exact_log_marginal(model, x, **LATTICE)
    mean, log_var = model.encode(x)
    sd = np.exp(0.5 * log_var)
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    t1, t2 = (a.ravel() for a in np.meshgrid(nodes, nodes, indexing="ij"))
    node_weights = np.outer(weights, weights).ravel() / (2 * np.pi)
    for n in range(len(x)):
        z = mean[n] + sd[n] * np.stack([t1, t2], axis=1)
        expected_log_likelihood = node_weights @ bernoulli_log_likelihood(x[n], model.decode(z))
        elbo = expected_log_likelihood - gaussian_kl_from_standard_normal(mean[n], log_var[n])
        kl = posterior_on_lattice(model, x[n], mean[n], log_var[n], exact.log_px[n], spacing=0.05).kl_q_to_posterior
        assert elbo + kl == pytest.approx(exact.log_px[n], abs=1e-6)
        assert kl > 0


def test_refining_the_lattice_changes_log_p_by_less_than_the_reported_accuracy(trained):
    model, x = trained
    default = exact_log_marginal(model, x, tolerance=1e-3, scan_spacing=0.16, limit=6.0, inner_limit=5.0,
                                 dtype=np.float64)
    finer = exact_log_marginal(model, x, tolerance=1e-9, scan_spacing=0.16, limit=8.0, inner_limit=7.0,
                               dtype=np.float64)
    reported = np.abs(default.spacing_change) + np.abs(default.range_change)
    assert np.all(np.abs(finer.log_px - default.log_px) <= reported + 1e-12)


def test_groups_of_nearby_images_change_no_answer(trained):
    """Groups of 5 images each take the hot cells of their own images; every image's log p(x) is as when all 12
    share one lattice, up to the mass beyond the hot cells (below e^-40 of each image's peak) and the tolerance."""
    model, x = trained
    together = exact_log_marginal(model, x, **LATTICE)
    grouped = exact_log_marginal(model, x, group_size=5, **LATTICE)
    np.testing.assert_allclose(grouped.log_px, together.log_px, rtol=0, atol=1e-8)
    assert len(grouped.rounds) > len(together.rounds) and grouped.points < 3 * together.points


def test_nearby_groups_partition_the_images_by_where_they_peak():
    peaks = np.array([[34, 34], [-3, 5], [35, 33], [-2, 6], [33, 35], [-4, 4], [90, 0]])
    groups = nearby_groups(peaks, group_size=3, block=8)
    assert sorted(np.concatenate(groups).tolist()) == list(range(7))
    assert {frozenset(g.tolist()) for g in groups} == {frozenset({0, 2, 4}), frozenset({1, 3, 5}), frozenset({6})}


def test_float32_products_agree_with_float64(trained):
    model, x = trained
    model32 = HelmholtzMachine(np.random.default_rng(0), latent_dim=2, hidden=(64,))
    model32.load_parameters(model.parameters())
    low = exact_log_marginal(model32, x.astype(np.float32), scan_spacing=0.16).log_px
    high = exact_log_marginal(model32, x.astype(np.float32), scan_spacing=0.16, dtype=np.float64).log_px
    np.testing.assert_allclose(low, high, rtol=0, atol=2e-3)


def test_other_latent_sizes_are_refused():
    model = HelmholtzMachine(np.random.default_rng(0), data_dim=4, latent_dim=3, hidden=(3,))
    with pytest.raises(ValueError, match="2-D latent only; this model's has 3"):
        exact_log_marginal(model, np.zeros((1, 4)))


def test_local_posterior_moments_of_a_decoder_that_ignores_z_are_the_prior():
    """Logits independent of z: p(z | x) = N(0, I), so on a lattice over +-7 the moments are 0 and I."""
    from algorithms.posterior import local_posterior_moments
    rng = np.random.default_rng(0)
    model = HelmholtzMachine(rng, data_dim=6, latent_dim=2, hidden=(5,), dtype=np.float64)
    model.generative.layers[-1].params["W"][...] = 0
    moments, border = local_posterior_moments(model, rng.random(6), np.zeros(2), half_width=7.0, spacing=0.1)
    np.testing.assert_allclose(moments.mean[0], 0, atol=1e-12)
    np.testing.assert_allclose(moments.cov[0], np.eye(2), atol=1e-9)
    assert border < 1e-9

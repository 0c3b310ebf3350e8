"""L_k of Eq. (10): monotone in k, below log p(x), tight when q is the posterior
(derivations/1.5-bound.md), checked against quadrature and closed forms."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from algorithms import bound
from algorithms.bound import importance_weighted_bound, log_importance_weights
from algorithms.model import HelmholtzMachine
from nn import bernoulli_log_likelihood, gaussian_kl_from_standard_normal, gaussian_log_density, log_mean_exp

NODES, WEIGHTS = np.polynomial.hermite_e.hermegauss(120)  # integrates f(t) e^{-t^2/2} dt


def expectation_under_normal(f, mean=0.0, std=1.0):
    """E[f(z)], z ~ N(mean, std^2), by Gauss-Hermite quadrature; f maps (M, 1) nodes to (M,) values."""
    values = f(mean + std * NODES[:, None])
    return float(WEIGHTS @ values / np.sqrt(2 * np.pi))


def one_dimensional_model(seed):
    """A float64 Helmholtz machine with a 1-D latent, where log p(x) can be computed by quadrature."""
    return HelmholtzMachine(np.random.default_rng(seed), data_dim=8, latent_dim=1, hidden=(6,), dtype=np.float64)


def exact_log_marginal(model, x):
    """log p(x) = log E_{N(0,1)}[p(x | z)] (Eq. (1)), by quadrature with the log-likelihood shifted."""
    def log_likelihood(z):
        return bernoulli_log_likelihood(x, model.decode(z))
    peak = log_likelihood(NODES[:, None]).max()
    return peak + np.log(expectation_under_normal(lambda z: np.exp(log_likelihood(z) - peak)))


def bound_samples(model, x, k, replicates, rng):
    """`replicates` independent single-sample estimates of L_k(x), one per row of noise."""
    eps = rng.standard_normal((k, replicates, model.latent_dim))
    return log_mean_exp(log_importance_weights(model, np.tile(x, (replicates, 1)), eps), axis=0)


@given(arrays(np.float64, st.integers(2, 30), elements=st.floats(-1e4, 1e4)))
def test_lemma_log_mean_exp_beats_its_leave_one_out_average(log_weights):
    """(a) The deterministic core of L_{k+1} >= L_k: by Lemma (11) and Jensen,
    logmeanexp(w_1..w_{k+1}) >= mean_i logmeanexp(w without w_i)."""
    k_plus_1 = log_weights.size
    leave_one_out = [log_mean_exp(np.delete(log_weights, i)) for i in range(k_plus_1)]
    full = log_mean_exp(log_weights)
    assert full >= np.mean(leave_one_out) - 1e-12 * max(1.0, abs(full))


@pytest.mark.parametrize("proposal", ["recognition", "prior"])
@settings(max_examples=6)
@given(seed=st.integers(0, 2**32 - 1))
def test_bound_increases_with_k_stays_below_and_approaches_log_p(proposal, seed):
    """(b) On a 1-D latent model with log p(x) exact by quadrature: the estimates of L_k do not fall
    with k beyond their standard error and stay below log p(x) within it, whatever q is. When q is the
    prior N(0, 1), w = p(x | z) <= 1 is bounded, the condition under which Burda et al.'s Theorem 1
    gives L_k -> log p(x): then 90% of the gap is closed by k = 200 (a random q need not be that close)."""
    rng = np.random.default_rng(seed)
    model = one_dimensional_model(seed)
    if proposal == "prior":
        for value in model.recognition.layers[-1].params.values():
            value.fill(0)
    x = (rng.random(8) < 0.5).astype(np.float64)
    log_p = exact_log_marginal(model, x)
    ks, means, errors = (1, 2, 5, 20, 200), [], []
    for k in ks:
        samples = bound_samples(model, x, k, 4000, rng)
        means.append(samples.mean())
        errors.append(samples.std() / np.sqrt(samples.size))
    for i in range(len(ks) - 1):
        assert means[i + 1] >= means[i] - 4 * np.hypot(errors[i], errors[i + 1])
        assert means[i] <= log_p + 4 * errors[i]
    assert means[-1] <= log_p + 4 * errors[-1]
    gap_1, gap_200 = log_p - means[0], log_p - means[-1]
    assert gap_200 < gap_1
    if proposal == "prior":
        assert gap_200 <= 0.1 * gap_1 + 4 * errors[-1]


@given(st.floats(-3, 3), st.floats(-2, 2), st.floats(0.1, 3), st.floats(-5, 5), st.integers(1, 50),
       st.integers(0, 2**32 - 1))
def test_bound_is_exact_when_q_is_the_posterior(a, b, s, x, k, seed):
    """(c) Linear-Gaussian model p(z) = N(0, 1), p(x | z) = N(a z + b, s^2): the posterior is
    N(m, v), v = 1 / (1 + a^2 / s^2), m = v a (x - b) / s^2, and p(x) = N(b, a^2 + s^2). With q equal
    to that posterior every importance weight equals p(x), so L_k = log p(x) for every k."""
    v = 1 / (1 + a * a / (s * s))
    m = v * a * (x - b) / (s * s)
    z = m + np.sqrt(v) * np.random.default_rng(seed).standard_normal((k, 1))
    log_weights = (gaussian_log_density(np.full((k, 1), x), a * z + b, np.full((k, 1), 2 * np.log(s)))
                   + gaussian_log_density(z, 0.0, np.zeros((k, 1)))
                   - gaussian_log_density(z, m, np.full((k, 1), np.log(v))))
    log_p = gaussian_log_density(np.array([x]), np.array([b]), np.array([np.log(a * a + s * s)]))
    assert log_mean_exp(log_weights) == pytest.approx(log_p, abs=1e-9)


def test_expected_l1_equals_the_elbo():
    """E[L_1] = ELBO = -KL(q || p) + E_q[log p(x | z)], the expectation by quadrature."""
    rng = np.random.default_rng(5)
    model = one_dimensional_model(5)
    x = (rng.random(8) < 0.5).astype(np.float64)
    mean, log_var = model.encode(x[None])
    std = float(np.exp(0.5 * log_var[0, 0]))
    expected_log_likelihood = expectation_under_normal(
        lambda z: bernoulli_log_likelihood(x, model.decode(z)), float(mean[0, 0]), std)
    elbo = expected_log_likelihood - gaussian_kl_from_standard_normal(mean, log_var)[0]
    samples = bound_samples(model, x, 1, 100_000, rng)
    assert abs(samples.mean() - elbo) <= 4 * samples.std() / np.sqrt(samples.size)


def test_bound_is_reproducible_and_chunk_independent():
    rng = np.random.default_rng(6)
    model = HelmholtzMachine(rng, data_dim=10, latent_dim=2, hidden=(7,))
    x = rng.random((23, 10), dtype=np.float32)
    first = importance_weighted_bound(model, x, k=5, seed=3, chunk_size=4)
    np.testing.assert_array_equal(first, importance_weighted_bound(model, x, k=5, seed=3, chunk_size=4))
    np.testing.assert_array_equal(first, importance_weighted_bound(model, x, k=5, seed=3, chunk_size=23))
    assert not np.array_equal(first, importance_weighted_bound(model, x, k=5, seed=4, chunk_size=4))
    assert first.shape == (23,) and np.all(np.isfinite(first))


def test_a_large_k_is_evaluated_in_blocks_with_the_same_samples(monkeypatch):
    """Where k samples of a chunk would pass MOST_ROWS rows, each image's samples go through in blocks from the same
    generator, summed by a streaming log-sum-exp: the same L_k to rounding, in bounded memory."""
    model = one_dimensional_model(3)
    x = np.random.default_rng(1).random((3, 8))
    whole = importance_weighted_bound(model, x, 3000, seed=4)
    monkeypatch.setattr(bound, "MOST_ROWS", 512)
    np.testing.assert_allclose(importance_weighted_bound(model, x, 3000, seed=4), whole, rtol=0, atol=1e-12)

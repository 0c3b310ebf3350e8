"""The binary Helmholtz machine (derivations/binary.md): its log-probabilities against a direct product of Bernoulli
probabilities, its backward pieces by float64 central differences, and the exact log p(x) by enumeration against a
brute-force sum in float64 and against the closed form of a decoder that ignores h; and the uniforms that draw q's
samples, never 0, counted over every value the generator can draw."""
import ast
import itertools
from pathlib import Path

import numpy as np
import pytest

from algorithms.binary.disarm import DisARM
from algorithms.binary.exact import enumerable, enumerate_log_px, most_probable_states
from algorithms.binary.model import (BinaryHelmholtzMachine, open_uniforms, p_backward, q_backward, sample_q, score_p,
                                    score_q)
from algorithms.bound import importance_weighted_bound
from nn.functional import sigmoid
from nn.gradcheck import numerical_gradient, relative_error


def tiny(layers=(3,), hidden=(), seed=0, data_dim=4):
    model = BinaryHelmholtzMachine(np.random.default_rng(seed), data_dim=data_dim, layers=layers, hidden=hidden,
                                   dtype=np.float64)
    rng = np.random.default_rng(seed + 100)
    for _, param, _ in model.named_parameters():      # away from the zero biases, so that every term matters
        param[...] = rng.normal(0, 1.0, param.shape)
    return model


def direct_log_probability(values, logits):
    """log prod_j p_j^h_j (1 - p_j)^(1 - h_j) with p = 1 / (1 + e^-eta): the textbook form, in float64."""
    p = 1 / (1 + np.exp(-logits))
    return np.sum(values * np.log(p) + (1 - values) * np.log(1 - p), axis=-1)


@pytest.mark.parametrize("layers, hidden", [((3,), ()), ((3, 2), ()), ((3, 2), (5,))])
def test_the_scores_are_products_of_bernoulli_probabilities(layers, hidden):
    model, rng = tiny(layers, hidden), np.random.default_rng(1)
    x = (rng.random((2, 4)) < 0.5).astype(float)
    sample = sample_q(model, x, rng.random((3, 2, sum(layers))))
    scored = score_p(model, x, sample.hs)
    below = [x, *sample.hs[:-1]]
    for l, h in enumerate(sample.hs):
        eta_q = model.recognition[l](below[l].reshape(-1, below[l].shape[-1])).reshape(*below[l].shape[:-1], -1)
        np.testing.assert_allclose(sample.terms[l], direct_log_probability(h, eta_q), rtol=1e-12)
        eta_p = model.generative[l](h.reshape(-1, h.shape[-1])).reshape(*h.shape[:-1], -1)
        np.testing.assert_allclose(scored.terms[l], direct_log_probability(below[l], eta_p), rtol=1e-12)
    np.testing.assert_allclose(scored.terms[-1], direct_log_probability(sample.hs[-1], model.prior.params["b"]))
    again = score_q(model, x, sample.hs)
    np.testing.assert_allclose(again.total, sample.total, rtol=1e-12)


def test_samples_follow_q():
    """The frequency of h_j = 1 over many uniforms matches sigmoid(f_1(x))_j (within 5 standard errors)."""
    model, rng = tiny(), np.random.default_rng(2)
    x = np.ones((1, 4))
    sample = sample_q(model, x, rng.random((20000, 1, 3)), keep=False)
    p = 1 / (1 + np.exp(-model.recognition[0](x)[0]))
    se = np.sqrt(p * (1 - p) / 20000)
    assert np.all(np.abs(sample.hs[0].mean(axis=(0, 1)) - p) < 5 * se)


class Grid:
    """A generator whose random() returns every value NumPy's float32 random() can draw, k 2^-24 for k = 0, ...,
    2^24 - 1, each once: counting over it gives a draw's probabilities exactly. With zeros=True it returns 0s."""

    def __init__(self, zeros=False):
        self.zeros = zeros

    def random(self, shape, dtype):
        if self.zeros:
            return np.zeros(shape, dtype)
        return (np.arange(2 ** 24, dtype=np.float64) * 2.0 ** -24).astype(dtype).reshape(shape)


def test_numpys_uniforms_are_the_grid_open_uniforms_assumes():
    """NumPy's random() draws multiples of epsneg, odd ones among them (so no coarser grid): 2^-24 in float32,
    2^-53 in float64; open_uniforms reads 0 as that step in both."""
    for dtype in (np.float32, np.float64):
        step = np.finfo(dtype).epsneg
        steps = np.random.default_rng(0).random(100000, dtype=dtype).astype(np.float64) / float(step)
        assert np.all(steps == np.round(steps)) and np.any(steps % 2 == 1)
        assert open_uniforms(Grid(zeros=True), (3,), dtype).tolist() == [step] * 3
    assert np.finfo(np.float32).epsneg == 2.0 ** -24 and np.finfo(np.float64).epsneg == 2.0 ** -53


def test_a_unit_drawn_from_open_uniforms_is_on_at_most_twice_as_often_as_q_says_and_off_likewise():
    """Over the whole float32 grid, with p = sigmoid(eta) as float32 computes it from the tails to the middle: [u < p]
    (sample_q, the evaluation) is on with probability exactly ceil(p / e) e, 0 where p <= e; it and [1 - u < p]
    (DisARM's antithetic sample) are on with probability at most 2p and off with probability at most 2(1 - p). The
    generator's own uniforms, 0 included, turn a unit of p = 1e-13 on with probability 2^-24, 6e5 times too often
    (the flaw this prevents)."""
    raw = Grid().random((2 ** 24,), np.float32)
    u = open_uniforms(Grid(), (2 ** 24,), np.float32)
    e = 2.0 ** -24
    assert u.min() == e and u.max() == 1 - e and (1 - u).min() == e and (1 - u).max() < 1
    logits = np.array([-40, -30, -17, -16.7, -16.5, -15, -10, -1, 0, 1, 10, 15, 16.5, 16.7, 17, 30, 40], np.float32)
    ascending = {"u": u, "1 - u": (1 - u)[::-1]}          # both sorted, so a count of draws below p is a search
    for p in sigmoid(logits):
        assert np.searchsorted(u, p) * e == (np.ceil(p / e) * e if p > e else 0.0), p
        for form, draw in ascending.items():
            on = np.searchsorted(draw, p) * e
            assert on <= 2 * p and 1 - on <= 2 * (1 - np.float64(p)), (form, p, on)
    assert np.searchsorted(raw, sigmoid(np.float32(-30))) * e > 1e5 * float(sigmoid(np.float32(-30)))


def test_every_draw_of_qs_samples_goes_through_open_uniforms():
    """In algorithms/binary/ and the studies that draw q's samples, a generator's random() is called only by
    open_uniforms and by the dreams of p, which no importance weight divides: a sampler written with rng.random
    directly would bring the flaw back (read from the source, so that a new trainer is covered too)."""
    root = Path(__file__).resolve().parent.parent
    files = [*sorted((root / "algorithms" / "binary").glob("*.py")),
             *(root / "experiments" / "studies" / f"{name}.py" for name in ("bars_replicas", "estimator_variance",
                                                                            "binary_snr"))]
    callers = set()
    for path in files:
        for function in ast.walk(ast.parse(path.read_text())):
            if isinstance(function, ast.FunctionDef):
                for node in ast.walk(function):
                    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                            and node.func.attr == "random":
                        callers.add((path.name, function.name))
    assert callers == {("model.py", "open_uniforms"), ("model.py", "dream"), ("bars_replicas.py", "dream")}


def test_model_noise_and_disarms_step_never_hand_a_zero_on(monkeypatch):
    """model.noise (sample_q's uniforms for NVIL, VIMCO, RLOO, RWS, wake-sleep, Concrete, REBAR and L_k) and DisARM's
    step never hand a 0 on, whatever the generator returns: a unit q gives 1e-13 stays off."""
    model = BinaryHelmholtzMachine(np.random.default_rng(0), data_dim=4, layers=(3,), hidden=(), dtype=np.float32)
    model.recognition[0].layers[0].params["b"][...] = -30.0
    model.recognition[0].layers[0].params["W"][...] = 0.0
    uniforms = model.noise(Grid(zeros=True), 5)
    assert uniforms.min() > 0
    assert not sample_q(model, np.ones((1, 4), np.float32), uniforms[:, None]).hs[0].any()
    seen = []

    def objective(model, x, noise, estimator):
        seen.append(noise)
        return 0.0
    monkeypatch.setattr("algorithms.binary.disarm.disarm_objective", objective)
    DisARM(model).step(np.ones((2, 4), np.float32), Grid(zeros=True))
    assert seen[0].min() > 0


@pytest.mark.parametrize("layers, hidden", [((3,), ()), ((3, 2), (4,))])
def test_backward_pieces_by_central_differences(layers, hidden):
    """p_backward and q_backward (Eq. (S3)) against the weighted sums they differentiate, the samples held fixed."""
    model, rng = tiny(layers, hidden), np.random.default_rng(3)
    x = (rng.random((2, 4)) < 0.5).astype(float)
    uniforms = rng.random((3, 2, sum(layers)))
    weights = rng.normal(size=(3, 2))
    sample = sample_q(model, x, uniforms)
    hs = [h.copy() for h in sample.hs]
    p_backward(model, x, score_p(model, x, hs), weights)
    q_backward(model, sample, weights)
    analytic = {name: grad.copy() for name, grad in model.gradients().items()}

    def weighted_p():
        return float((weights * score_p(model, x, hs, keep=False).total).sum())

    def weighted_q():
        return float((weights * score_q(model, x, hs, keep=False).total).sum())
    for name, param, _ in model.named_parameters():
        numeric = numerical_gradient(weighted_p if name.startswith("generative") else weighted_q, param)
        assert relative_error(analytic[name], numeric) < 1e-8, name


def brute_force_log_px(model, x):
    """log sum_h p(h) p(x | h) over every state, each probability a direct product, in float64."""
    units = model.layers[0]
    total = np.zeros(x.shape[0])
    for bits in itertools.product([0.0, 1.0], repeat=units):
        h = np.array(bits)
        log_prior = direct_log_probability(h, model.prior.params["b"])
        total += np.exp(log_prior + direct_log_probability(x, model.decode(h[None])[0]))
    return np.log(total)


@pytest.mark.parametrize("hidden", [(), (6,)])
def test_enumeration_against_brute_force(hidden):
    model, rng = tiny((5,), hidden, data_dim=7), np.random.default_rng(4)
    x = (rng.random((6, 7)) < 0.5).astype(float)
    result = enumerate_log_px(model, x, posterior=True, chunk=7)       # chunks that do not divide 2^5
    np.testing.assert_allclose(result.log_px, brute_force_log_px(model, x), rtol=1e-12)
    # the exact ELBO and KL (Eq. (S13)) and the posterior's entropy (Eq. (S14)), brute force too
    states = np.array(list(itertools.product([0.0, 1.0], repeat=5)))[:, ::-1]
    joint = direct_log_probability(states, model.prior.params["b"])[None] + np.stack(
        [direct_log_probability(x, model.decode(s[None])[0]) for s in states], axis=1)            # (N, S)
    log_q = np.stack([direct_log_probability(s, model.recognition[0](x)) for s in states], axis=1)
    q = np.exp(log_q)
    posterior = np.exp(joint - result.log_px[:, None])
    np.testing.assert_allclose(result.elbo, (q * (joint - log_q)).sum(axis=1), rtol=1e-10)
    np.testing.assert_allclose(result.kl, (q * (log_q - np.log(posterior))).sum(axis=1), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(result.posterior_entropy, -(posterior * np.log(posterior)).sum(axis=1), rtol=1e-10)
    np.testing.assert_allclose(result.q_entropy, -(q * log_q).sum(axis=1), rtol=1e-10)
    assert np.all(result.kl >= -1e-12)


def test_a_decoder_that_ignores_h_has_the_closed_form_marginal():
    """With W = 0 in g_1, p(x | h) = Bernoulli(sigmoid(c)) for every h, so log p(x) = log Bernoulli(x; sigmoid(c))
    whatever the prior, and the posterior is the prior: KL(q || p(h | x)) = KL(q || p(h))."""
    model, rng = tiny((4,), data_dim=6), np.random.default_rng(5)
    model.generative[0].layers[0].params["W"][...] = 0
    x = (rng.random((3, 6)) < 0.5).astype(float)
    result = enumerate_log_px(model, x, posterior=True)
    np.testing.assert_allclose(result.log_px, direct_log_probability(x, model.generative[0].layers[0].params["b"]),
                               rtol=1e-13)
    q = 1 / (1 + np.exp(-model.recognition[0](x)))
    prior = 1 / (1 + np.exp(-model.prior.params["b"]))
    kl = np.sum(q * np.log(q / prior) + (1 - q) * np.log((1 - q) / (1 - prior)), axis=1)
    np.testing.assert_allclose(result.kl, kl, rtol=1e-10)


def test_the_bound_approaches_the_enumerated_log_px():
    """L_k with many samples is within its Monte Carlo error of log p(x), and the ELBO below it. q is uniform here
    (its weights zeroed), so that w = p(x, h) / q(h | x) is at most 16 p(x) and L_20000 is within 0.02 nats."""
    model, rng = tiny((4,), data_dim=6), np.random.default_rng(6)
    for _, param, _ in model.recognition[0].named_parameters():
        param[...] = 0
    x = (rng.random((3, 6)) < 0.5).astype(float)
    exact = enumerate_log_px(model, x).log_px
    np.testing.assert_allclose(importance_weighted_bound(model, x, 20000, seed=0), exact, atol=0.02)
    elbo = importance_weighted_bound(model, np.repeat(x, 2000, axis=0), 1, seed=0).reshape(3, 2000).mean(axis=1)
    assert np.all(elbo < exact)


def test_most_probable_states_are_the_largest_of_the_enumeration():
    model, rng = tiny((5,), data_dim=6), np.random.default_rng(7)
    x = (rng.random(6) < 0.5).astype(float)
    best = most_probable_states(model, x, count=3, chunk=5)
    states = ((np.arange(32)[:, None] >> np.arange(5)) & 1).astype(float)
    joint = direct_log_probability(states, model.prior.params["b"]) + direct_log_probability(x, model.decode(states))
    posterior = np.exp(joint - np.log(np.exp(joint).sum()))
    np.testing.assert_array_equal(best["p"][0], np.argsort(-posterior, kind="stable")[:3])
    np.testing.assert_allclose(best["p"][1], np.sort(posterior)[::-1][:3], rtol=1e-10)
    q = np.exp(direct_log_probability(states, model.recognition[0](x[None])[0]))
    np.testing.assert_allclose(best["q"][1], np.sort(q)[::-1][:3], rtol=1e-10)


def test_what_cannot_be_enumerated_says_why():
    assert "2 stochastic layers" in enumerable(tiny((3, 2)))
    assert "2^21 states" in enumerable(BinaryHelmholtzMachine(np.random.default_rng(0), data_dim=3, layers=(21,)))
    assert enumerable(tiny((3,))) is None

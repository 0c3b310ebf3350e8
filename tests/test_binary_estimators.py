"""Every phi-estimator of the binary Helmholtz machine (derivations/binary.md) against the exact gradient of its
objective, found by enumerating every state of a tiny model and differentiating the sum by central differences
(independent of the estimators' backward code). Each estimator's mean over many draws must agree within a few
standard errors (from the spread of 40 batch means); the baselines must leave the mean where it is and lower the
variance. The variances are printed (pytest -s) and quoted on the page."""
import itertools

import numpy as np
import pytest

from algorithms.binary.model import BinaryHelmholtzMachine, dream, q_backward, sample_q, score_p, score_q
from algorithms.binary.nvil import score_function_gradient
from algorithms.binary.rws import rws_wake_objective
from algorithms.binary.vimco import leave_one_out_bounds, vimco_objective
from algorithms.binary.wake_sleep import sleep_objective
from nn import log_mean_exp, log_mean_exp_backward
from nn.gradcheck import numerical_gradient

BATCHES, DRAWS = 40, 500          # 40 batch means of 500 draws each


def tiny(layers=(2,), seed=0):
    model = BinaryHelmholtzMachine(np.random.default_rng(seed), data_dim=3, layers=layers, dtype=np.float64)
    rng = np.random.default_rng(seed + 10)
    for _, param, _ in model.named_parameters():
        param[...] = rng.normal(0, 1.0, param.shape)
    return model


X = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])


def every_state(model, images):
    """All joint states of every layer, each as (S, N, J_l) (the same states for each of N images)."""
    bits = np.array(list(itertools.product([0.0, 1.0], repeat=sum(model.layers))))
    ends = np.cumsum(model.layers)[:-1]
    return [np.repeat(part[:, None], images, axis=1) for part in np.split(bits, ends, axis=1)]


def log_weights_and_q(model, x):
    hs = every_state(model, x.shape[0])
    log_q = score_q(model, x, hs, keep=False).total
    return score_p(model, x, hs, keep=False).total - log_q, log_q           # (S, N) each


def exact_elbo(model, x):
    log_w, log_q = log_weights_and_q(model, x)
    return float((np.exp(log_q) * log_w).sum(axis=0).mean())


def exact_bound(model, x, k):
    """E[log (1/k) sum_i w_i] over every k-tuple of states (S^k of them), averaged over the images."""
    log_w, log_q = log_weights_and_q(model, x)
    total = 0.0
    for tuple_ in itertools.product(range(log_w.shape[0]), repeat=k):
        chosen = list(tuple_)
        total += np.exp(log_q[chosen].sum(axis=0)) * log_mean_exp(log_w[chosen], axis=0)
    return float(total.mean())


def exact_phi_gradient(model, objective):
    """d objective / d phi by central differences of the enumerated objective, flattened over phi's parameters."""
    return np.concatenate([numerical_gradient(objective, param).ravel()
                           for name, param, _ in model.named_parameters() if name.startswith("recognition")])


def phi_gradient(model):
    return np.concatenate([grad.ravel() for name, grad in model.gradients("recognition.").items()])


def batch_means(estimate, seed=0):
    """BATCHES means of DRAWS draws each of estimate(rng, draws) (itself a mean over its draws) -> (mean, se, var of
    one draw) per entry."""
    rng = np.random.default_rng(seed)
    means = np.array([estimate(rng, DRAWS) for _ in range(BATCHES)])
    return means.mean(axis=0), means.std(axis=0, ddof=1) / np.sqrt(BATCHES), means.var(axis=0, ddof=1) * DRAWS


def assert_within(mean, se, exact, limit=4.5):
    """Every entry within `limit` standard errors; an entry that no draw moves (a pixel that is 0 in both images
    gives its weights no gradient) must be exact."""
    moving = se > 0
    np.testing.assert_allclose(mean[~moving], exact[~moving], atol=1e-9)
    z = np.abs(mean[moving] - exact[moving]) / se[moving]
    assert z.max() < limit, (mean, exact, z)


def nvil_estimate(model, centres):
    """score_function_gradient on DRAWS samples of each image: minus the ELBO's phi-gradient, averaged."""
    def estimate(rng, draws):
        score_function_gradient(model, X, rng.random((draws, 2, sum(model.layers))), centres)
        return phi_gradient(model)
    return estimate


@pytest.mark.parametrize("layers", [(2,), (2, 2)])
def test_nvil_is_unbiased_and_its_baseline_lowers_the_variance(layers):
    """Eq. (S8) with the local signals of Eq. (S9): centred by zero and by the exact ELBO of each image (a baseline
    that depends on x), the mean is the exact -grad_phi ELBO; the baseline lowers the summed variance."""
    model = tiny(layers)
    exact = -exact_phi_gradient(model, lambda: exact_elbo(model, X))
    log_w, log_q = log_weights_and_q(model, X)
    per_image_elbo = (np.exp(log_q) * log_w).sum(axis=0)                       # (N,)
    plain, plain_se, plain_var = batch_means(nvil_estimate(model, [0.0] * len(layers)))
    centred, centred_se, centred_var = batch_means(nvil_estimate(model, [per_image_elbo] * len(layers)))
    assert_within(plain, plain_se, exact)
    assert_within(centred, centred_se, exact)
    print(f"\nNVIL {layers}: variance summed over phi, no baseline {plain_var.sum():.3g}, "
          f"centred by the ELBO {centred_var.sum():.3g}")
    assert centred_var.sum() < 0.5 * plain_var.sum()


def vimco_estimate(model, k, baseline=True):
    def estimate(rng, draws):
        x = np.repeat(X, draws, axis=0)
        uniforms = rng.random((k, x.shape[0], sum(model.layers)))
        if baseline:
            vimco_objective(model, x, uniforms)
        else:                  # the same estimator without the leave-one-out baselines: (L^ - w~_i) grad log q_i
            sample = sample_q(model, x, uniforms)
            log_w = score_p(model, x, sample.hs, keep=False).total - sample.total
            signal = log_mean_exp(log_w) - log_mean_exp_backward(np.ones(x.shape[0]), log_w)
            q_backward(model, sample, -signal / x.shape[0])
        return phi_gradient(model)
    return estimate


@pytest.mark.parametrize("k", [2, 3])
def test_vimco_is_unbiased_for_the_k_sample_bound_and_its_baselines_lower_the_variance(k):
    model = tiny()
    exact = -exact_phi_gradient(model, lambda: exact_bound(model, X, k))
    with_baselines, se, variance = batch_means(vimco_estimate(model, k))
    without, without_se, without_variance = batch_means(vimco_estimate(model, k, baseline=False))
    assert_within(with_baselines, se, exact)
    assert_within(without, without_se, exact)
    print(f"\nVIMCO k={k}: variance summed over phi, leave-one-out {variance.sum():.3g}, none {without_variance.sum():.3g}")
    assert variance.sum() < without_variance.sum()


def test_vimco_leave_one_out_replaces_the_left_out_weight_by_the_others_geometric_mean():
    log_w = np.log(np.array([[1.0], [2.0], [4.0]]))
    expected = [np.log((2 + 4 + np.sqrt(8)) / 3), np.log((1 + 4 + 2) / 3), np.log((1 + 2 + np.sqrt(2)) / 3)]
    np.testing.assert_allclose(leave_one_out_bounds(log_w)[:, 0], expected, rtol=1e-14)


def test_rws_wake_phi_has_the_expectation_that_enumeration_gives_and_tends_to_the_kl_gradient():
    """Wake-phi (Eq. (S7)) is biased for finite k: its exact expectation is a sum over k-tuples, which the draws
    match; as k grows it tends to -grad_phi KL(p(h | x) || q) = -sum_h p(h | x) grad_phi log q(h | x)."""
    model, k = tiny(), 2
    log_w, log_q = log_weights_and_q(model, X)
    hs = every_state(model, 2)

    def expected_weighted_log_q(weights_of_tuple):
        """sum over k-tuples of prod q * sum_i weight_i log q(h_i | x), the weights held at the current phi."""
        total = 0.0
        for tuple_ in itertools.product(range(log_w.shape[0]), repeat=k):
            chosen = list(tuple_)
            q_now = score_q(model, X, [h[chosen] for h in hs], keep=False).total
            total = total + (weights_of_tuple[tuple_] * q_now).sum(axis=0)
        return float(total.mean())

    weights_of_tuple = {}
    for tuple_ in itertools.product(range(log_w.shape[0]), repeat=k):
        chosen = list(tuple_)
        weights_of_tuple[tuple_] = np.exp(log_q[chosen].sum(axis=0)) * log_mean_exp_backward(np.ones(2), log_w[chosen])
    exact = -exact_phi_gradient(model, lambda: expected_weighted_log_q(weights_of_tuple))

    def estimate(rng, draws):
        x = np.repeat(X, draws, axis=0)
        rws_wake_objective(model, x, rng.random((k, x.shape[0], 2)))
        return phi_gradient(model)
    mean, se, _ = batch_means(estimate)
    assert_within(mean, se, exact)

    joint = log_w + log_q                                                           # log p(x, h)
    posterior = np.exp(joint - np.log(np.exp(joint).sum(axis=0)))
    kl_gradient = -exact_phi_gradient(
        model, lambda: float((posterior * score_q(model, X, hs, keep=False).total).sum(axis=0).mean()))

    def distance(k_large):
        rng = np.random.default_rng(5)
        x = np.repeat(X, 200, axis=0)
        rws_wake_objective(model, x, rng.random((k_large, x.shape[0], 2)))
        return np.linalg.norm(phi_gradient(model) - kl_gradient) / np.linalg.norm(kl_gradient)
    assert distance(100) < 0.05 < distance(1)


def test_sleep_phi_is_unbiased_for_the_expected_log_q_under_the_model():
    """Eq. (S6): the gradient of -E_{p(x, h)}[log q(h | x)], with x and h enumerated (8 images, 4 states)."""
    model = tiny()
    images = np.array(list(itertools.product([0.0, 1.0], repeat=3)))
    hs = every_state(model, 8)

    def expected_log_q():
        joint = score_p(model, images, hs, keep=False).total                      # (S, 8)
        return float((np.exp(joint) * score_q(model, images, hs, keep=False).total).sum())
    exact = -exact_phi_gradient(model, expected_log_q)

    def estimate(rng, draws):
        sleep_objective(model, rng, draws)
        return phi_gradient(model)
    mean, se, _ = batch_means(estimate)
    assert_within(mean, se, exact)


def test_a_dream_is_drawn_from_the_model():
    """The frequencies of the 8 images among 40000 dreams match p(x) by enumeration within 5 standard errors."""
    model = tiny()
    x, _ = dream(model, np.random.default_rng(3), 40000)
    numbers = (x[0] @ np.array([1, 2, 4])).astype(int)
    frequencies = np.bincount(numbers, minlength=8) / 40000
    images = ((np.arange(8)[:, None] >> np.arange(3)) & 1).astype(float)
    p = np.exp(score_p(model, images, every_state(model, 8), keep=False).total).sum(axis=0)
    assert np.all(np.abs(frequencies - p) < 5 * np.sqrt(p * (1 - p) / 40000))


def test_an_nvil_step_follows_eqs_s8_to_s10():
    """NVIL.step with its optimizers held: phi's gradient is the score-function estimate of Eq. (S8) centred by the
    baseline and the updated running mean and divided by max(1, running sd) (Eq. (S10)); each baseline's gradient is
    that of the regression loss (1/2N) sum (l - c - b)^2, by central differences."""
    from algorithms.binary.nvil import NVIL, local_signals
    model = tiny((2, 2))
    trainer = NVIL(model)
    trainer.centre[:], trainer.variance[:] = [-3.0, 1.0], [4.0, 0.25]
    for optimizer in trainer.optimizers.values():
        optimizer.step = lambda: None
    x = np.tile(X, (3, 1))
    uniforms = model.noise(np.random.default_rng(9), x.shape[0])[None]      # the draw step() makes from the same seed
    trainer.step(x, np.random.default_rng(9))
    phi = phi_gradient(model).copy()
    baseline_grads = [layer.grads["W"].copy() for net in trainer.baselines for layer in net.layers[::2]]

    sample = sample_q(model, x, uniforms)
    signals = local_signals(score_p(model, x, sample.hs, keep=False), sample)
    centres, scales, below = [], [], [x, *sample.hs[:-1]]
    for l, net in enumerate(trainer.baselines):
        centres.append(net(below[l].reshape(-1, below[l].shape[-1])).reshape(1, -1) + trainer.centre[l])
        scales.append(max(1.0, np.sqrt(trainer.variance[l])))
    q_backward(model, sample, [-(signal - centre) / scale / x.shape[0]
                               for signal, centre, scale in zip(signals, centres, scales)])
    np.testing.assert_allclose(phi, phi_gradient(model), rtol=1e-12)

    def regression_loss():
        total = 0.0
        for l, net in enumerate(trainer.baselines):
            b = net(below[l].reshape(-1, below[l].shape[-1])).reshape(1, -1)
            total += 0.5 * float(((signals[l] - trainer.centre[l] - b) ** 2).mean())
        return total
    numeric = [numerical_gradient(regression_loss, layer.params["W"]) for net in trainer.baselines
               for layer in net.layers[::2]]
    for analytic, expected in zip(baseline_grads, numeric):
        np.testing.assert_allclose(analytic, expected, rtol=1e-6, atol=1e-9)

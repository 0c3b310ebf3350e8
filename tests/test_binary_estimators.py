"""Every phi-estimator of the binary Helmholtz machine (derivations/binary.md) against the exact gradient of its
objective, found by enumerating every state of a tiny model and differentiating the sum by central differences
(independent of the estimators' backward code). Each estimator's mean over many draws must agree within a few
standard errors (from the spread of 40 batch means); the baselines must leave the mean where it is and lower the
variance. The checks after them are exact where they can be: both sides are sums over every joint state or k-tuple,
so that an error on any one layer, or in NVIL's running moments, fails them (the last, the SNR far beyond the runs' k,
is from draws). What they print (pytest -s) is quoted on the page."""
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


# The checks below compute each expectation exactly, by enumeration, on both sides: the code's estimate at every joint
# state (or k-tuple of states), weighted by its probability under q, against a reference built here from the
# enumerated log-weights and central differences. The states are forced through the uniforms: u = 1 - h draws exactly
# h, since h_j = [u_j < sigmoid(eta_j)] and 0 < sigmoid(eta_j) < 1.

class Uniforms:
    """Stands in for the numpy Generator that a trainer's step draws its uniforms from: random() returns the given
    uniforms (reshaped as asked), so that a step samples the states chosen here."""

    def __init__(self, uniforms):
        self.uniforms = uniforms

    def random(self, shape, dtype=np.float64):
        return self.uniforms.reshape(shape).astype(dtype)


def joint_states(model):
    """Every joint state of all the layers as rows of bits (S, J_1 + ... + J_L), in every_state's order."""
    return np.array(list(itertools.product([0.0, 1.0], repeat=sum(model.layers))))


def phi_layers(model):
    """The stochastic layer (0, 1, ...) of every entry of phi_gradient(model)."""
    return np.concatenate([np.full(param.size, int(name.split(".")[1])) for name, param, _ in model.named_parameters()
                           if name.startswith("recognition")])


def softmax(log_w, axis):
    w = np.exp(log_w - log_w.max(axis=axis, keepdims=True))
    return w / w.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("k", [1, 2])
def test_rws_wake_phi_on_two_layers_has_the_exact_expectation_of_eq_s7(k):
    """Eq. (S7)'s wake-phi on a two-layer model, every layer's block against its exact expectation, without draws:
    the code's estimate at each of the S^k tuples of joint states of each image, weighted by the tuple's probability,
    against the central differences of -(1/N) sum_n sum_tuples prob * sum_i w~_i log q(h_i | x_n), with prob and w~
    held (computed here from the enumerated log-weights). A sign or weight wrong on any one layer fails. At k = 1 the
    weight is 1 and the expectation is exactly zero: E_q[grad log q] = grad sum_h q = 0."""
    model = tiny((2, 2))
    log_w, log_q = log_weights_and_q(model, X)                                   # (S, N)
    bits, states = joint_states(model), log_w.shape[0]
    tuples = np.array(list(itertools.product(range(states), repeat=k)))          # (S^k, k)
    code = 0.0
    held = np.zeros_like(log_w)              # held[s, n] = sum over tuples of prob * (sum of w~_i over i with h_i = s)
    for n in range(X.shape[0]):
        probability = np.exp(log_q[tuples, n].sum(axis=1))                       # (S^k,)
        normalized = softmax(log_w[tuples, n], axis=1)                           # w~, (S^k, k)
        for tuple_, p, w in zip(tuples, probability, normalized):
            rws_wake_objective(model, X[n:n + 1], (1.0 - bits[tuple_])[:, None, :])
            code = code + p * phi_gradient(model) / X.shape[0]
            np.add.at(held[:, n], tuple_, p * w)
    hs = every_state(model, X.shape[0])
    exact = exact_phi_gradient(
        model, lambda: -float((held * score_q(model, X, hs, keep=False).total).sum() / X.shape[0]))
    layer = phi_layers(model)
    np.testing.assert_allclose(code, exact, rtol=1e-6, atol=1e-9)
    if k == 1:
        assert np.abs(code).max() < 1e-12
    else:
        sizes = [np.linalg.norm(exact[layer == l]) for l in range(2)]
        print(f"\nRWS wake-phi k={k}, two layers: the exact expectation's norm per layer {sizes[0]:.3g}, {sizes[1]:.3g}")
        assert min(sizes) > 1e-2                 # both layers move, so a wrong sign on either one shows


def expected_nvil_step(model, trainer, centre, variance):
    """The exact expectation of NVIL.step's phi-gradient on the minibatch X (N = 2, one sample per image): the step at
    every pair of joint states, weighted by q, its running moments set to (centre, variance) before each."""
    bits = joint_states(model)
    _, log_q = log_weights_and_q(model, X)
    total = 0.0
    for a, b in itertools.product(range(len(bits)), repeat=2):
        trainer.centre[:], trainer.variance[:] = centre, variance
        trainer.step(X, Uniforms(1.0 - np.stack([bits[a], bits[b]])))
        total = total + np.exp(log_q[a, 0] + log_q[b, 1]) * phi_gradient(model)
    return total


@pytest.mark.parametrize("layers", [(2,), (2, 2)])
def test_an_nvil_steps_exact_expectation_is_the_elbo_gradient_shrunk_by_its_own_share_of_the_centre(layers, monkeypatch):
    """NVIL.step's phi-gradient, its expectation summed over every pair of joint states of a minibatch of N = 2:
    - moments held (alpha = 1): exactly -grad ELBO times 1 / max(1, sqrt(v_l)) in each layer;
    - moments updated from the minibatch first (alpha = 0.8), where the scale stays 1: -grad ELBO times
      1 - (1 - alpha) / N = 0.9, since the new centre holds each sample's own residual with weight (1 - alpha) / N;
    - at the moments' starting values (c = 0, v = 1) the scale also varies with the sample: printed, the part of the
      expectation off the gradient's direction."""
    import algorithms.binary.nvil as nvil
    model = tiny(layers)
    trainer = nvil.NVIL(model)
    for optimizer in trainer.optimizers.values():
        optimizer.step = lambda: None
    exact = -exact_phi_gradient(model, lambda: exact_elbo(model, X))
    layer, depth = phi_layers(model), len(layers)
    held = np.array([4.0, 0.25][:depth])
    with monkeypatch.context() as patch:
        patch.setattr(nvil, "ALPHA", 1.0)
        frozen = expected_nvil_step(model, trainer, np.full(depth, -3.0), held)
    np.testing.assert_allclose(frozen, exact / np.maximum(1.0, np.sqrt(held))[layer], rtol=1e-6, atol=1e-10)

    assert nvil.ALPHA == 0.8
    updated = expected_nvil_step(model, trainer, np.zeros(depth), np.zeros(depth))
    top = layer == depth - 1            # from v = 0 the top layer's scale stays 1 in every state here: the factor is exact
    np.testing.assert_allclose(updated[top], (1 - (1 - 0.8) / 2) * exact[top], rtol=1e-6, atol=1e-10)

    start, offs = expected_nvil_step(model, trainer, np.zeros(depth), np.ones(depth)), []
    for l in range(depth):
        e, g = exact[layer == l], start[layer == l]
        along = g @ e / (e @ e)
        off = np.linalg.norm(g - along * e) / np.linalg.norm(g)
        print(f"\nNVIL {layers}, layer {l + 1}, N = 2, from c = 0, v = 1: expectation = {along:.3f} x the gradient "
              f"+ a part off its direction of {off:.2g} of the expectation's norm")
        offs.append(off)
    assert max(offs) > 1e-3


def test_nvil_updates_its_running_moments_from_the_current_minibatch_before_using_them():
    """The running moments recomputed here, from residuals computed here (Eq. (S9) written out term by term, minus
    the baseline), in the documented order: c_l <- 0.8 c_l + 0.2 mean(r_l), v_l <- 0.8 v_l + 0.2 mean((r_l -
    mean(r_l))^2) (the minibatch's variance about its own mean), then phi's weights -(r_l - c_l) / max(1, sqrt(v_l)) / N
    and the baselines' regression on r_l - c_l, both with the new moments."""
    from algorithms.binary.nvil import NVIL
    model = tiny((2, 2))
    trainer = NVIL(model)
    old_centre, old_variance = np.array([-3.0, 1.0]), np.array([4.0, 0.25])
    trainer.centre[:], trainer.variance[:] = old_centre, old_variance
    for optimizer in trainer.optimizers.values():
        optimizer.step = lambda: None
    x = np.tile(X, (3, 1))
    bits = (np.random.default_rng(4).random((6, 4)) < 0.5).astype(float)      # the six images' joint states
    trainer.step(x, Uniforms(1.0 - bits))
    phi = phi_gradient(model).copy()
    baseline_grads = [layer.grads["W"].copy() for net in trainer.baselines for layer in net.layers[::2]]

    hs = [bits[None, :, :2], bits[None, :, 2:]]
    p = score_p(model, x, hs, keep=False).terms           # log p(x | h_1), log p(h_1 | h_2), log p(h_2)
    q = score_q(model, x, hs).terms                       # log q(h_1 | x), log q(h_2 | h_1)
    signals = [p[0] + p[1] + p[2] - q[0] - q[1], p[1] + p[2] - q[1]]                   # Eq. (S9), l = 1, 2
    below = [x, bits[:, :2]]
    baselines = [net(below[l])[:, 0] for l, net in enumerate(trainer.baselines)]
    residuals = [signals[l][0] - baselines[l] for l in range(2)]
    centre = np.array([0.8 * old_centre[l] + 0.2 * residuals[l].mean() for l in range(2)])
    variance = np.array([0.8 * old_variance[l] + 0.2 * ((residuals[l] - residuals[l].mean()) ** 2).mean()
                         for l in range(2)])
    np.testing.assert_allclose(trainer.centre, centre, rtol=1e-12)
    np.testing.assert_allclose(trainer.variance, variance, rtol=1e-12)
    assert variance.max() > 1.0                           # the scale max(1, sqrt(v)) is not 1 here: it is checked too

    q_backward(model, score_q(model, x, hs), [-(residuals[l] - centre[l])[None] / max(1.0, np.sqrt(variance[l])) / 6
                                              for l in range(2)])
    np.testing.assert_allclose(phi, phi_gradient(model), rtol=1e-10)

    def regression_loss():
        return sum(0.5 * float(((signals[l][0] - centre[l] - net(below[l])[:, 0]) ** 2).mean())
                   for l, net in enumerate(trainer.baselines))
    numeric = [numerical_gradient(regression_loss, layer.params["W"]) for net in trainer.baselines
               for layer in net.layers[::2]]
    for analytic, expected in zip(baseline_grads, numeric):
        np.testing.assert_allclose(analytic, expected, rtol=1e-6, atol=1e-9)


def test_nvil_with_rebars_settings_weights_every_layer_by_the_whole_signal_unscaled(monkeypatch):
    """signal="global", normalise=False (REBAR's code's NVIL, binary.md's recipes): one baseline, on x; phi's weight
    in every layer is -(l - b(x) - c) / N with l the whole log p(x, h) - log q(h | x), written out term by term here,
    and no division by the running deviation (v > 1 here, so a scale would show). With the moments held its exact
    expectation is -grad ELBO in every layer. beta2 and the baselines' rate reach their optimizers."""
    import algorithms.binary.nvil as nvil
    model = tiny((2, 2))
    trainer = nvil.NVIL(model, lr=2e-3, signal="global", normalise=False, beta2=0.99999, baseline_lr_factor=10.0)
    assert len(trainer.baselines) == 1 and trainer.baselines[0].layers[0].params["W"].shape[0] == model.data_dim
    assert trainer.optimizers["model"].beta2 == trainer.optimizers["baselines"].beta2 == 0.99999
    assert (trainer.optimizers["model"].lr, trainer.optimizers["baselines"].lr) == (2e-3, 2e-2)
    trainer.centre[:], trainer.variance[:] = [-3.0], [4.0]
    for optimizer in trainer.optimizers.values():
        optimizer.step = lambda: None
    x = np.tile(X, (3, 1))
    bits = (np.random.default_rng(4).random((6, 4)) < 0.5).astype(float)
    trainer.step(x, Uniforms(1.0 - bits))
    phi = phi_gradient(model).copy()
    hs = [bits[None, :, :2], bits[None, :, 2:]]
    p = score_p(model, x, hs, keep=False).terms
    q = score_q(model, x, hs).terms
    residual = (p[0] + p[1] + p[2] - q[0] - q[1])[0] - trainer.baselines[0](x)[:, 0]
    centre = 0.8 * -3.0 + 0.2 * residual.mean()
    assert 0.8 * 4.0 + 0.2 * residual.var() > 1.0
    weight = -(residual - centre)[None] / 6
    q_backward(model, score_q(model, x, hs), [weight, weight])
    np.testing.assert_allclose(phi, phi_gradient(model), rtol=1e-10)

    with monkeypatch.context() as patch:
        patch.setattr(nvil, "ALPHA", 1.0)
        exact = -exact_phi_gradient(model, lambda: exact_elbo(model, X))
        np.testing.assert_allclose(expected_nvil_step(model, trainer, [-3.0], [4.0]), exact, rtol=1e-6, atol=1e-10)


def test_each_layers_local_signal_keeps_exactly_the_terms_that_move_its_gradient():
    """Eq. (S9) term by term on a two-layer model, exactly: each term t of log p(x, h) - log q(h | x) contributes
    E_q[t(h) grad log q(h | x)] = the central differences of sum_h q(h) t(h), t held, and the five parts sum to the
    ELBO's gradient (Eq. (S8)). Layer 2's parameters see grad log q(h_2 | h_1) only, whose mean given h_1 is zero: the
    two terms that depend on h_1 alone (log p(x | h_1), -log q(h_1 | x)) give it exactly nothing, and the three that
    (S9) keeps all move it. Layer 1's input is x, so every term stays. Printed: each part's norm over the layer's."""
    model = tiny((2, 2))
    hs = every_state(model, X.shape[0])
    p, q = score_p(model, X, hs, keep=False).terms, score_q(model, X, hs, keep=False).terms
    terms = {"log p(x|h1)": p[0], "log p(h1|h2)": p[1], "log p(h2)": p[2], "-log q(h1|x)": -q[0], "-log q(h2|h1)": -q[1]}
    elbo, layer = exact_phi_gradient(model, lambda: exact_elbo(model, X)), phi_layers(model)

    def part(term):
        return exact_phi_gradient(
            model, lambda: float((np.exp(score_q(model, X, hs, keep=False).total) * term).sum(axis=0).mean()))
    parts = {name: part(term) for name, term in terms.items()}
    np.testing.assert_allclose(sum(parts.values()), elbo, rtol=1e-6, atol=1e-9)
    top, kept = layer == 1, ("log p(h1|h2)", "log p(h2)", "-log q(h2|h1)")
    for name in ("log p(x|h1)", "-log q(h1|x)"):
        assert np.abs(parts[name][top]).max() < 1e-9
    np.testing.assert_allclose(sum(parts[name] for name in kept)[top], elbo[top], rtol=1e-6, atol=1e-9)
    for l, names in ((0, list(terms)), (1, kept)):
        shares = {name: np.linalg.norm(parts[name][layer == l]) / np.linalg.norm(elbo[layer == l]) for name in names}
        print(f"\n(S9) layer {l + 1}, |part| / |ELBO gradient|: " + ", ".join(f"{n} {v:.3f}" for n, v in shares.items()))
        assert min(shares.values()) > 0.01


def arithmetic_leave_one_out_bounds(log_w):
    """log (1/k) (sum_{j != i} w_j + mean_{j != i} w_j) = log mean_{j != i} w_j: w_i replaced by the others'
    arithmetic mean, which leaves the bound of the other k - 1. log_w: (k, N) -> (k, N)."""
    return np.array([log_mean_exp(np.delete(log_w, i, axis=0)) for i in range(log_w.shape[0])])


@pytest.mark.parametrize("k", [2, 3])
def test_vimco_with_the_others_arithmetic_mean_is_unbiased_too_and_noisier(k):
    """Any baseline that leaves h_i out keeps Eq. (S11) unbiased: E[L^_{-i} grad log q(h_i)] = E[L^_{-i}] E[grad log
    q(h_i)] = 0. Exactly, over every k-tuple of each image: no baseline, the code's leave-one-out bounds (w_i replaced
    by the others' geometric mean) and the same with their arithmetic mean all have the expectation -grad L_k. At
    k = 2 the two means are of one weight and coincide; at k = 3 the geometric mean's variance is the smaller. Printed:
    the exact variance, summed over phi, of the estimate on the two images."""
    model = tiny()
    log_w_states, log_q = log_weights_and_q(model, X)
    bits = joint_states(model)
    baselines = {"none": lambda log_w: 0.0, "geometric": leave_one_out_bounds,
                 "arithmetic": arithmetic_leave_one_out_bounds}
    mean, variance = {name: 0.0 for name in baselines}, {name: 0.0 for name in baselines}
    for n in range(X.shape[0]):
        draws = {name: [] for name in baselines}
        probability = []
        for tuple_ in itertools.product(range(len(bits)), repeat=k):
            sample = sample_q(model, X[n:n + 1], (1.0 - bits[list(tuple_)])[:, None, :])
            log_w = score_p(model, X[n:n + 1], sample.hs, keep=False).total - sample.total          # (k, 1)
            probability.append(np.exp(log_q[list(tuple_), n].sum()))
            for name, baseline in baselines.items():
                signal = log_mean_exp(log_w) - baseline(log_w) - log_mean_exp_backward(np.ones(1), log_w)
                q_backward(model, sample, -signal)
                draws[name].append(phi_gradient(model).copy())
        probability = np.array(probability)
        for name, g in draws.items():
            g = np.array(g)
            image_mean = probability @ g
            mean[name] = mean[name] + image_mean / X.shape[0]
            variance[name] += float(probability @ ((g - image_mean) ** 2).sum(axis=1)) / X.shape[0] ** 2
    exact = -exact_phi_gradient(model, lambda: exact_bound(model, X, k))
    for name in baselines:
        np.testing.assert_allclose(mean[name], exact, rtol=1e-6, atol=1e-9)
    print(f"\nVIMCO k={k}, exact variance summed over phi: none {variance['none']:.4g}, "
          f"geometric {variance['geometric']:.4g}, arithmetic {variance['arithmetic']:.4g}")
    if k == 2:
        assert variance["geometric"] == pytest.approx(variance["arithmetic"], rel=1e-10)
    else:
        assert variance["geometric"] < variance["arithmetic"]


def test_vimcos_snr_falls_and_rws_wake_phis_grows_like_root_k_far_beyond_the_runs_k():
    """The phi-gradient's signal-to-noise ratio at k = 2 to 5000 on the one-layer tiny model, 20000
    replicates of the estimate on the two images. An image has 4 states, so an estimate depends on its k samples only
    through how many fall in each state (multinomial counts), and every signal has a closed form in the counts:
    vectorized here over the replicates, and checked against vimco_objective and rws_wake_objective at one tuple of
    k = 5. A parameter's SNR is |mean| / sd over the replicates; printed, the median over phi's parameters and
    sd x sqrt(k). VIMCO's mean is -grad L_k, which shrinks like 1/k, while its sd falls like 1/sqrt(k): its SNR
    falls like 1/sqrt(k). RWS's mean tends to -grad KL(p || q), which does not vanish: its SNR grows like sqrt(k)."""
    model, draws, rng = tiny(), 20000, np.random.default_rng(0)
    log_w_states, log_q = log_weights_and_q(model, X)                                   # (4, 2)
    weights = np.exp(log_w_states - log_w_states.max(axis=0))                           # w_s up to a factor per image
    eta = model.recognition[0](X)
    score = joint_states(model)[:, None, :] - 1 / (1 + np.exp(-eta))                    # d log q / d eta, (4, 2, J)
    inputs = np.concatenate([X, np.ones((2, 1))], axis=1)                               # W's rows, then b

    def estimates(counts, name):
        """-(1/2) sum_n sum_i signal_in grad log q(h_in | x_n), from counts (R, 4, 2) of each state among the k
        samples of each image -> (R, phi's size)."""
        k = counts[:, :, 0].sum(axis=1)[:, None, None]
        total = (counts * weights).sum(axis=1, keepdims=True)                           # k exp(L^) up to a factor
        if name == "VIMCO":                  # w_s's sample left out: log w_s -> the mean of the others' log w
            others = ((counts * np.log(weights)).sum(axis=1, keepdims=True) - np.log(weights)) / (k - 1)
            left_out = np.maximum(total - weights + np.exp(others), 1e-300)             # (only where counts > 0)
            signal = np.log(total) - np.log(left_out) - weights / total                 # L^ - L^_{-i} - w~_i
        else:
            signal = weights / total                                                    # w~_i
        per_image = np.einsum("rsn,snj->rnj", counts * signal, score)
        return -np.einsum("rnj,nd->rdj", per_image, inputs).reshape(len(counts), -1) / 2

    bits = joint_states(model)
    tuple_ = np.array([[0, 3], [1, 3], [3, 2], [2, 0], [3, 3]])                           # (k = 5, 2 images)
    counts = np.stack([np.bincount(tuple_[:, n], minlength=4) for n in range(2)], axis=-1)[None].astype(float)
    for name, objective in (("VIMCO", vimco_objective), ("RWS", rws_wake_objective)):
        objective(model, X, 1.0 - bits[tuple_])
        np.testing.assert_allclose(estimates(counts, name)[0], phi_gradient(model), rtol=1e-10, atol=1e-14)

    snr = {}
    for k in (2, 10, 200, 1000, 5000):
        counts = np.stack([rng.multinomial(k, np.exp(log_q[:, n]), size=draws) for n in range(2)], axis=-1)
        for name in ("VIMCO", "RWS"):
            g = estimates(counts.astype(float), name)
            sd = g.std(axis=0, ddof=1)
            moving = sd > 0
            snr[name, k] = float(np.median(np.abs(g.mean(axis=0))[moving] / sd[moving]))
            print(f"\n{name} k={k}: median SNR {snr[name, k]:.3g}, "
                  f"median sd x sqrt(k) {np.median(sd[moving]) * np.sqrt(k):.3g}", end="")
    print(f"\n(an SNR of zero, estimated from {draws} replicates: about 0.674 / sqrt({draws}) = "
          f"{0.674 / np.sqrt(draws):.2g})")
    assert snr["VIMCO", 1000] < snr["VIMCO", 200] < snr["VIMCO", 10] / 2
    assert 5 < snr["RWS", 1000] / snr["RWS", 10] < 20                                    # sqrt(100) = 10

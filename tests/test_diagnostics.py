"""The per-epoch diagnostics of experiments/outputs/diagnostics.py: the effective sample size at its two ends, and the
numbers of a model whose q is known."""
import numpy as np
import pytest

from algorithms.model import HelmholtzMachine
from experiments.outputs.diagnostics import (DIAGNOSTICS, dream_diagnostics, effective_sample_size, nearest_distances,
                                             normalized_weights, recognition_diagnostics)
from experiments.outputs.report import ACTIVE_THRESHOLD
from experiments.outputs.write import unit_activities


def test_effective_sample_size_from_equal_to_one_dominant_weight():
    log_w = np.array([[0.0, 0.0, -1e4], [0.0, 800.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])   # (k = 4, N = 3)
    np.testing.assert_allclose(effective_sample_size(log_w), [4.0, 1.0, 3.0])
    np.testing.assert_allclose(normalized_weights(log_w).sum(axis=0), 1.0)
    # Kish's formula on weights two and one: (2 + 1)^2 / (2^2 + 1^2) = 9 / 5
    assert effective_sample_size(np.log([[2.0], [1.0]]))[0] == pytest.approx(9 / 5)


def test_diagnostics_of_a_recognition_network_with_known_output():
    """Zero weights and chosen biases: q(z|x) = N(m, diag e^v) for every x, so the log-variance percentiles are v's,
    |mean| is max |m| and the KL is Eq. (B13) exactly."""
    model = HelmholtzMachine(np.random.default_rng(0), data_dim=6, latent_dim=2, hidden=[4], dtype=np.float64)
    for name, param, _ in model.recognition.named_parameters():
        param[...] = 0
    last_bias = [param for name, param, _ in model.recognition.named_parameters() if name.endswith("b")][-1]
    last_bias[...] = [0.5, -1.5, -2.0, 1.0]          # mean (0.5, -1.5), log-variance (-2, 1)
    images = np.random.default_rng(1).random((30, 6))
    numbers = recognition_diagnostics(model, images, k=5, seed=0)
    assert list(numbers) + list(dream_diagnostics(model, images, seed=0)) == list(DIAGNOSTICS)
    assert numbers["log_var_min"] == pytest.approx(-2.0) and numbers["log_var_max"] == pytest.approx(1.0)
    assert numbers["mean_abs_max"] == pytest.approx(1.5)
    expected_kl = 0.5 * (0.25 + 2.25 + np.expm1(-2.0) + 2.0 + np.expm1(1.0) - 1.0)
    assert numbers["kl_prior"] == pytest.approx(expected_kl)
    assert 1 / 5 <= numbers["ess"] <= 1 and 0 <= numbers["dominated"] <= 1


def test_nearest_distances_against_scipy():
    from scipy.spatial.distance import cdist
    rng = np.random.default_rng(2)
    images, references = rng.random((7, 5)), rng.random((9, 5))
    np.testing.assert_allclose(nearest_distances(images, references),
                               cdist(images, references).min(axis=1) / np.sqrt(5), rtol=1e-10)
    own = cdist(images, images) + np.diag(np.full(7, np.inf))
    np.testing.assert_allclose(nearest_distances(images, images, exclude_self=True),
                               own.min(axis=1) / np.sqrt(5), rtol=1e-10)


def test_dream_diagnostics_are_the_sleep_loss_on_the_same_dreams():
    """dream_log_q is the sleep objective of Eq. (5) on the dreams drawn from the stream [seed, 3], computed by
    algorithms/wake_sleep.py::sleep_objective; the KL to the prior is Eq. (B13) written out here again."""
    from algorithms.wake_sleep import sleep_objective
    model = HelmholtzMachine(np.random.default_rng(0), data_dim=6, latent_dim=2, hidden=[4], dtype=np.float64)
    images = np.random.default_rng(1).random((30, 6))
    for dreams in ("samples", "means"):
        numbers = dream_diagnostics(model, images, seed=4, dreams=dreams)
        rng = np.random.default_rng([4, 3])
        z, uniforms = rng.standard_normal((30, 2)), rng.random((30, 6))
        assert numbers["dream_log_q"] == pytest.approx(sleep_objective(model, z, uniforms, dreams)[0], rel=1e-12)
        means = 1 / (1 + np.exp(-model.decode(z)))
        x = means if dreams == "means" else (uniforms < means).astype(np.float64)
        mean, log_var = model.encode(x)
        kl = 0.5 * (mean ** 2 + np.exp(log_var) - 1 - log_var).sum(axis=1).mean()
        assert numbers["dream_kl_prior"] == pytest.approx(kl, rel=1e-10)


def test_unit_activities_count_the_units_whose_mean_moves_with_x():
    """Units 1 and 3 get zero weights into their q-means, so Var_x mu_j(x) is exactly 0 for them; unit 2's weights are
    scaled so its variance sits below the threshold; the chunked variance is the variance of all the means at once."""
    model = HelmholtzMachine(np.random.default_rng(0), data_dim=6, latent_dim=4, hidden=[8], dtype=np.float64)
    last_weight = [param for name, param, _ in model.recognition.named_parameters() if name.endswith("W")][-1]
    last_weight[:, [1, 3]] = 0
    images = np.random.default_rng(1).random((50, 6))
    last_weight[:, 2] *= 0.1 * np.sqrt(ACTIVE_THRESHOLD / model.encode(images)[0][:, 2].var())
    activities = unit_activities(model, images, chunk_size=7)
    np.testing.assert_allclose(activities, model.encode(images)[0].var(axis=0), rtol=1e-12)
    assert activities[[1, 3]].tolist() == [0.0, 0.0] and activities[2] == pytest.approx(0.01 * ACTIVE_THRESHOLD)
    assert activities[0] > ACTIVE_THRESHOLD


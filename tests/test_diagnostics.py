"""The per-epoch diagnostics of experiments/diagnostics.py: the effective sample size at its two ends, and the
numbers of a model whose q is known."""
import numpy as np
import pytest

from algorithms import HelmholtzMachine
from experiments.diagnostics import (ACTIVE_THRESHOLD, DIAGNOSTICS, effective_sample_size, normalized_weights,
                                     recognition_diagnostics, unit_activities)


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
    assert list(numbers) == list(DIAGNOSTICS)
    assert numbers["log_var_min"] == pytest.approx(-2.0) and numbers["log_var_max"] == pytest.approx(1.0)
    assert numbers["mean_abs_max"] == pytest.approx(1.5)
    expected_kl = 0.5 * (0.25 + 2.25 + np.expm1(-2.0) + 2.0 + np.expm1(1.0) - 1.0)
    assert numbers["kl_prior"] == pytest.approx(expected_kl)
    assert 1 / 5 <= numbers["ess"] <= 1 and 0 <= numbers["dominated"] <= 1


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


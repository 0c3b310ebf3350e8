"""The fused evaluation of a binary model's log-weights (algorithms/binary/evaluation.py, Eq. (S15)) against the
layer-by-layer pieces it replaced (sample_q and score_p, which training uses), in float64 and in float32."""
import numpy as np
import pytest

from algorithms.binary import evaluation
from algorithms.binary.model import BinaryHelmholtzMachine, sample_q, score_p

SHAPES = [([6, 4], []), ([5], [7]), ([4, 3, 2], [5])]       # linear, nonlinear, three layers with tanh between


def model_and_data(layers, hidden, dtype, scale=3.0, images=3, k=40, data_dim=12):
    """A model with large weights (logits far from 0 in both directions), binary images and uniforms."""
    rng = np.random.default_rng(0)
    model = BinaryHelmholtzMachine(rng, data_dim, layers, hidden, dtype=dtype)
    for name, value in model.parameters().items():
        value[...] = scale * rng.standard_normal(value.shape)
    x = (rng.random((images, data_dim)) < 0.4).astype(dtype)
    uniforms = rng.random((k, images, sum(layers))).astype(dtype)
    return model, x, uniforms


def layer_by_layer(model, x, uniforms):
    sample = sample_q(model, x, uniforms, keep=False)
    return score_p(model, x, sample.hs, keep=False).total - sample.total, sample.hs


@pytest.mark.parametrize("layers, hidden", SHAPES)
def test_fused_log_weights_equal_the_layer_by_layer_ones_in_float64(layers, hidden):
    model, x, uniforms = model_and_data(layers, hidden, np.float64)
    expected, _ = layer_by_layer(model, x, uniforms)
    for block_rows in (1, 7, 256):          # blocks that split the samples unevenly, and one block for all
        got = evaluation.log_importance_weights(model, x, uniforms, block_rows=block_rows)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("layers, hidden", SHAPES)
def test_fused_samples_are_sample_qs_bit_for_bit_in_float32(layers, hidden):
    """The sampled states are the same, bit for bit, so the float32 log-weights differ by rounding alone."""
    model, x, uniforms = model_and_data(layers, hidden, np.float32, k=400)
    expected, hs = layer_by_layer(model, x, uniforms)
    sampled = []
    original = evaluation.bernoulli_sums

    def recording(eta, target, u=None):
        result = original(eta, target, u)
        if u is not None:
            sampled.append(result[1])
        return result

    evaluation.bernoulli_sums = recording
    try:
        got = evaluation.log_importance_weights(model, x, uniforms, block_rows=10 ** 6)
    finally:
        evaluation.bernoulli_sums = original
    for mine, theirs in zip(sampled, hs[1:]):
        np.testing.assert_array_equal(mine, theirs)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_the_first_layer_sums_against_a_textbook_bernoulli():
    """Eq. (S15) for one row against sum_d t_d log p_d + (1 - t_d) log(1 - p_d), p = 1 / (1 + e^-eta), in float64,
    with logits where that textbook form is still accurate (|eta| <= 15: 1 - p keeps 9 digits)."""
    rng = np.random.default_rng(1)
    eta = rng.uniform(-15, 15, (5, 2, 9))
    target = (rng.random((2, 9)) < 0.5).astype(np.float64)
    p = 1 / (1 + np.exp(-eta))
    textbook = (target * np.log(p) + (1 - target) * np.log1p(-p)).sum(axis=-1)
    np.testing.assert_allclose(evaluation.bernoulli_sums(eta, target), textbook, rtol=1e-12, atol=1e-8)


def test_extreme_logits_give_finite_exact_sums():
    """Logits of +-1e4 (float32): a state that agrees with them costs nothing, one that disagrees costs |eta|."""
    eta = np.array([[[1e4, -1e4, 1e4, -1e4]]], np.float32)
    target = np.array([[1, 0, 0, 1]], np.float32)
    sums = evaluation.bernoulli_sums(eta, target)
    assert np.isfinite(sums).all()
    np.testing.assert_allclose(sums, [[-2e4]], rtol=1e-6)
    sums, drawn = evaluation.bernoulli_sums(eta, None, u=np.full(eta.shape, 0.5, np.float32))
    np.testing.assert_array_equal(drawn, [[[1, 0, 1, 0]]])
    np.testing.assert_allclose(sums, [[0.0]], atol=1e-6)

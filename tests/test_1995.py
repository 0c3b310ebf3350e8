"""The 1995 experiments (derivations/1995.md): the data distributions against their closed forms, the enumeration
over several layers against a brute-force sum in float64, the exact gradient of log p(x) by central differences, the
study's stacked copies against the plug-in trainers' steps, and the definition of a learned bar."""
import itertools

import numpy as np
import pytest

from algorithms.binary.exact import enumerate_joint, enumerate_log_px
from algorithms.binary.exact_ml import (ExactMaximumLikelihood, exact_log_px_backward, joint_states,
                                        why_not_jointly_enumerable)
from algorithms.binary.model import BinaryHelmholtzMachine, score_p, score_q
from algorithms.binary.rws import rws_wake_objective
from algorithms.binary.vimco import vimco_objective
from algorithms.binary.wake_sleep import WakeSleep
from experiments.data.bars import bars, shifter
from experiments.studies import bars_replicas as replicas
from experiments.studies.bars import drawn_bars
from nn.gradcheck import numerical_gradient, relative_error


def tiny(layers=(3, 2), seed=0, data_dim=4, dtype=np.float64):
    model = BinaryHelmholtzMachine(np.random.default_rng(seed), data_dim=data_dim, layers=layers, dtype=dtype)
    rng = np.random.default_rng(seed + 100)
    for _, param, _ in model.named_parameters():
        param[...] = rng.normal(0, 1.0, param.shape)
    return model


def test_bars_are_the_closed_form():
    """30 images; an image of m vertical bars (0 < m < 4) has 2/3 0.2^m 0.8^(4-m), the blank one and the full one both
    orientations' (Eq. (H1))."""
    data = bars()
    assert data.images.shape == (30, 16) and len({tuple(x) for x in data.images}) == 30
    assert data.probabilities.sum() == pytest.approx(1, abs=1e-15)
    for image, p, causes in zip(data.images.reshape(-1, 4, 4), data.probabilities, data.causes):
        columns, rows = int(image.all(axis=0).sum()), int(image.all(axis=1).sum())
        if image.sum() == 0 or image.sum() == 16:
            m = 0 if image.sum() == 0 else 4
            assert p == pytest.approx(0.2 ** m * 0.8 ** (4 - m)) and causes[0] == pytest.approx(2 / 3)
        elif columns:
            assert image.sum() == 4 * columns and p == pytest.approx(2 / 3 * 0.2 ** columns * 0.8 ** (4 - columns))
            assert causes[0] == 1
        else:
            assert image.sum() == 4 * rows and p == pytest.approx(1 / 3 * 0.2 ** rows * 0.8 ** (4 - rows))


def test_shifter_is_the_closed_form():
    """508 images (rows invariant under a shift of two coincide); an image's probability is its row's times 1/2, or
    times 1 for those four rows (Eq. (H2))."""
    data = shifter()
    assert data.images.shape == (508, 32) and data.probabilities.sum() == pytest.approx(1, abs=1e-14)
    for image, p in zip(data.images.reshape(-1, 4, 8), data.probabilities):
        row = image[0]
        assert (image[1] == row).all() and (image[2] == image[3]).all()
        assert (image[2] == np.roll(row, -1)).all() or (image[2] == np.roll(row, 1)).all()
        both = (np.roll(row, 2) == row).all()
        assert p == pytest.approx((1 if both else 0.5) * 0.2 ** row.sum() * 0.8 ** (8 - row.sum()))


def test_samples_follow_the_distribution():
    data, rng = bars(), np.random.default_rng(0)
    x = data.sample(rng, 40000)
    index = {tuple(image): i for i, image in enumerate(data.images)}
    counts = np.bincount([index[tuple(row.astype(np.float64))] for row in x], minlength=30)
    se = np.sqrt(data.probabilities * (1 - data.probabilities) / 40000)
    assert np.all(np.abs(counts / 40000 - data.probabilities) < 5 * se + 1e-12)


def brute_force(model, x):
    """log p(x) and KL(q || p(h | x)) by a loop over every joint state, each scored by model.py's score_p and score_q."""
    log_px, kl = [], []
    for image in x:
        joint, log_q = [], []
        for bits in itertools.product((0.0, 1.0), repeat=sum(model.layers)):
            edges = np.cumsum([0, *model.layers])
            hs = [np.array(bits[a:b])[None, None] for a, b in zip(edges[:-1], edges[1:])]
            joint.append(score_p(model, image[None], hs, keep=False).total[0, 0])
            log_q.append(score_q(model, image[None], hs, keep=False).total[0, 0])
        joint, log_q = np.array(joint), np.array(log_q)
        total = np.log(np.exp(joint).sum())
        log_px.append(total), kl.append(np.sum(np.exp(log_q) * (log_q - joint + total)))
    return np.array(log_px), np.array(kl)


@pytest.mark.parametrize("layers", [(3, 2), (2, 2, 1)])
def test_joint_enumeration_is_the_brute_force_sum(layers):
    """Eqs. (H4)-(H5) in chunks that do not divide the states, against the loop; the posterior marginals sum to the
    exact probability of each unit being on."""
    model, rng = tiny(layers), np.random.default_rng(1)
    x = (rng.random((3, 4)) < 0.5).astype(float)
    result = enumerate_joint(model, x, posterior=True, chunk=7)
    log_px, kl = brute_force(model, x)
    np.testing.assert_allclose(result.log_px, log_px, rtol=1e-12)
    np.testing.assert_allclose(result.kl, kl, atol=1e-12)
    assert np.all(result.kl >= 0) and np.all(result.q_on <= 1 + 1e-12)


def test_one_layer_agrees_with_the_one_layer_enumeration():
    model, rng = tiny((4,)), np.random.default_rng(2)
    x = (rng.random((5, 4)) < 0.5).astype(float)
    one, joint = enumerate_log_px(model, x, posterior=True), enumerate_joint(model, x, posterior=True)
    np.testing.assert_allclose(joint.log_px, one.log_px, rtol=1e-12)
    np.testing.assert_allclose(joint.kl, one.kl, atol=1e-10)


def test_too_many_states_are_refused():
    assert why_not_jointly_enumerable(tiny((3, 2))) is None
    assert "21 units" in why_not_jointly_enumerable(BinaryHelmholtzMachine(np.random.default_rng(0), 4, (20, 1)))


def test_exact_gradient_by_central_differences():
    """Eq. (H8): the gradient exact_log_px_backward writes is that of sum_n w_n log p(x_n), every parameter of theta."""
    model, rng = tiny((3, 2)), np.random.default_rng(3)
    x, weights = (rng.random((3, 4)) < 0.5).astype(float), rng.normal(size=3)
    exact_log_px_backward(model, x, weights)
    for name, grad in model.gradients("generative.").items():
        param = model.parameters()[name]
        numeric = numerical_gradient(lambda: float(weights @ enumerate_joint(model, x).log_px), param)
        assert relative_error(grad, numeric) < 1e-7, name


def test_exact_ml_trainer_descends_the_exact_likelihood():
    model, rng = tiny((3, 2), dtype=np.float32), np.random.default_rng(4)
    x = (rng.random((6, 4)) < 0.5).astype(np.float32)
    trainer = ExactMaximumLikelihood(model, lr=0.05, sleep_phi=False)
    before = enumerate_joint(model, x).log_px.mean()
    for _ in range(20):
        trainer.step(x, rng)
    assert enumerate_joint(model, x).log_px.mean() > before


def copies_of(model):
    """A plug-in model as one copy of the study's stacked parameters."""
    return {name: model.parameters()[replicas.alias(name)][None].copy() for name in replicas.names(len(model.layers))}


def assert_same(params, model, rtol=1e-5):
    for name, value in params.items():
        np.testing.assert_allclose(value[0], model.parameters()[replicas.alias(name)], rtol=rtol, atol=1e-6,
                                   err_msg=name)


def test_a_stacked_wake_sleep_step_is_the_plug_ins():
    """The papers' rule (Eqs. (H9)-(H10)) in experiments/studies/bars_replicas.py equals WakeSleep(optimizer="sgd")
    with one image and one dream, drawing the same uniforms from the same generator."""
    model, x = tiny((5, 2), data_dim=16, dtype=np.float32), bars().sample(np.random.default_rng(5), 1)
    params = copies_of(model)
    WakeSleep(model, wake_lr=0.3, sleep_lr=0.2, sleep_samples=1, optimizer="sgd").step(x, np.random.default_rng(6))
    replicas.wake_sleep_step(params, x, np.random.default_rng(6), 2, 0.3, 0.2)
    assert_same(params, model)


@pytest.mark.parametrize("vimco", [False, True])
def test_a_stacked_reweighted_step_is_the_plug_ins_gradient(vimco):
    """RWS's wake-theta and wake-phi (Eq. (S7)) and VIMCO's (Eq. (S11)): the study's step is the plug-in objective's
    gradient times the learning rate, on the same k uniforms."""
    model, x = tiny((5, 2), data_dim=16, dtype=np.float32), bars().sample(np.random.default_rng(7), 1)
    params, k, lr = copies_of(model), 4, 0.1
    uniforms = np.random.default_rng(8).random((k, 1, 7), dtype=np.float32)
    (vimco_objective if vimco else rws_wake_objective)(model, x, uniforms)
    for _, param, grad in model.named_parameters():
        param -= lr * grad
    replicas.reweighted_step(params, x, Given(uniforms.transpose(1, 0, 2)), 2, k, lr, vimco=vimco)
    assert_same(params, model)


class Given:
    """A generator that gives these uniforms (the plug-in's (k, N, J) as the study's (copies, k, J))."""

    def __init__(self, uniforms):
        self.uniforms = uniforms

    def random(self, shape, dtype):
        assert shape == self.uniforms.shape
        return self.uniforms


@pytest.mark.parametrize("layers", [(5, 2), (3, 2, 2)])
def test_a_stacked_exact_step_is_the_plug_ins(layers):
    """Eq. (H8) on a minibatch of 3 images: the study's rearranged sums equal ExactMaximumLikelihood's step."""
    model, x = tiny(layers, data_dim=16, dtype=np.float32), bars().sample(np.random.default_rng(9), 3)
    params = copies_of(model)
    ExactMaximumLikelihood(model, lr=0.1, sleep_phi=False).step(x, np.random.default_rng(0))
    states = joint_states(layers, 0, 2 ** sum(layers), np.float32)
    replicas.exact_step(params, x[None], len(layers), 0.1, states)
    assert_same(params, model)


def test_a_stacked_exact_step_on_one_image_with_its_sleep_is_the_plug_ins():
    """The study's "exact-stream": one image's exact gradient (Eq. (H8)) then one dream's sleep step (Eq. (H10)),
    equal to ExactMaximumLikelihood(optimizer="sgd", sleep_phi=True)'s steps on the same uniforms, over three steps
    (so that the order of the two steps shows)."""
    model, images = tiny((5, 2), data_dim=16, dtype=np.float32), bars().sample(np.random.default_rng(10), 3)
    params, states = copies_of(model), joint_states((5, 2), 0, 2 ** 7, np.float32)
    trainer, plug_in_noise, study_noise = ExactMaximumLikelihood(model, lr=0.3, optimizer="sgd", sleep_phi=True,
                                                                 phi_lr=0.3, sleep_samples=1), \
        np.random.default_rng(11), np.random.default_rng(11)
    for x in images:
        trainer.step(x[None], plug_in_noise)
        replicas.exact_sleep_step(params, x[None], study_noise, 2, 0.3, states)
    assert_same(params, model)


def test_the_studys_other_initial_weights_are_what_they_say():
    """bars_replicas.build's initial weights for the study of the initial weights: "zero" makes every image's pixels
    independent with P_data's marginals (exactly: log p(x) by enumeration is sum_i log Bern(x_i; mean_i)); "small"
    draws each seed's weights with sd 0.1, different across seeds; "small-sparse" sets each middle unit's generative
    and recognition biases at logit(0.2); "plug-in" is the plug-in's model."""
    data = bars()
    means = data.probabilities @ data.images
    zero = replicas.build([0, 1], 16, (8, 1), "zero", means)
    model = replicas.to_model(zero, 1, 16, (8, 1))
    log_px = enumerate_joint(model, data.images).log_px
    independent = data.images @ np.log(means) + (1 - data.images) @ np.log1p(-means)
    np.testing.assert_allclose(log_px, independent, rtol=1e-5)
    small = replicas.build([0, 1], 16, (8, 1), "small", means)
    weights = np.concatenate([small[name].ravel() for name in small if name.endswith(".W")])
    assert 0.09 < weights.std() < 0.11 and not np.array_equal(small["generative.0.W"][0], small["generative.0.W"][1])
    sparse = replicas.build([0], 16, (8, 1), "small-sparse", means)
    np.testing.assert_allclose(1 / (1 + np.exp(-sparse["generative.1.b"])), 0.2, rtol=1e-6)
    np.testing.assert_allclose(1 / (1 + np.exp(-sparse["recognition.0.b"])), 0.2, rtol=1e-6)
    plug_in = replicas.build([3], 16, (8, 1))
    np.testing.assert_array_equal(plug_in["generative.0.W"][0], BinaryHelmholtzMachine(
        np.random.default_rng(3), data_dim=16, layers=(8, 1)).parameters()["generative.0.0.W"])


def test_the_bars_network_built_by_hand_draws_p_data_as_its_weights_grow():
    """bars_replicas.the_bars (--init the-bars): the answer, built by hand, draws all 8 bars, and its exact KL from
    P_data falls towards 0 as its weights grow, which it can only do if (H1)'s probabilities (the orientation's 2/3, the
    bars' 0.2) and the enumeration (H4) agree; its recognition network is near the exact posterior."""
    data, kl, q_kl = bars(), {}, {}
    for scale in (4.0, replicas.SCALE, 15.0):
        params = {name: value[None] for name, value in replicas.the_bars(16, (8, 1), scale=scale).items()}
        model = replicas.to_model(params, 0, 16, (8, 1))
        result = enumerate_joint(model, data.images, posterior=True)
        kl[scale] = data.kl_bits(result.log_px)
        q_kl[scale] = float(data.probabilities @ result.kl / np.log(2))
        assert len(drawn_bars(model)) == 8
    assert kl[4.0] > 0.4 and 0.06 < kl[replicas.SCALE] < 0.07 and kl[15.0] < 1e-4
    assert q_kl[replicas.SCALE] < 0.11
    stacked = replicas.build([0, 1], 16, (8, 1), "the-bars")
    np.testing.assert_array_equal(stacked["generative.0.W"][1], replicas.the_bars(16, (8, 1))["generative.0.W"])
    with pytest.raises(ValueError, match="16-8-1"):
        replicas.the_bars(32, (16, 1))


def test_a_unit_draws_a_bar_only_when_it_draws_that_bar_alone():
    """drawn_bars: unit j draws bar b when, with j alone on, exactly b's pixels have p > 1/2."""
    model = BinaryHelmholtzMachine(np.random.default_rng(0), data_dim=16, layers=(8, 1))
    decoder = model.generative[0].layers[0].params
    decoder["b"][...] = -4
    for j in range(8):
        picture = np.zeros((4, 4))
        if j < 4:
            picture[:, j] = 8
        else:
            picture[j - 4, :] = 8
        decoder["W"][j] = picture.ravel()
    assert len(drawn_bars(model)) == 8
    decoder["W"][0, 1] = 8                      # unit 0 now draws its bar and one more pixel: that bar is not drawn
    assert drawn_bars(model) == {("v", b) for b in (1, 2, 3)} | {("h", b) for b in range(4)}


def test_exact_ml_on_a_model_too_large_to_enumerate_is_refused_in_one_line(tmp_path, capsys):
    """Trainer.why_not (algorithms/options.py): refused before anything is written, not a traceback mid-run."""
    from test_run_faults import answers_in_one_line
    answers_in_one_line(capsys, tmp_path, ["exact-ml", "--layers", "12", "9", "--out", str(tmp_path / "run")], 2,
                        "21 units in all: 2^21 states (at most 2^20)")

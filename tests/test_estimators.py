"""RLOO, DisARM and ARM (derivations/estimators.md, Eqs. (G1)-(G7)) against the exact ELBO gradient of a tiny model,
with no draws: each estimator's expectation is a finite sum, over every k-tuple of joint states (RLOO) or every cell of
the antithetic uniforms (DisARM, ARM), of the code's estimate weighted by its probability; the exact gradient is the
central differences of the ELBO summed over every state (the helpers of tests/test_binary_estimators.py). Each check
is run again with a planted error (a baseline that holds the sample's own signal, a flipped sign, a missing factor, a
dropped term of a local signal), which must fail it. What they print (pytest -s) is quoted on the page."""
import itertools

import numpy as np
import pytest

import algorithms.binary.disarm as disarm
import algorithms.binary.rloo as rloo
from algorithms.binary.model import BinaryHelmholtzMachine
from nn import bernoulli_log_likelihood
from nn.functional import sigmoid
from nn.gradcheck import numerical_gradient
from test_binary_estimators import X, exact_elbo, joint_states, phi_layers

CASES = [((2,), ()), ((2, 2), ()), ((2, 2), (3,))]         # one and two stochastic layers, linear and nonlinear
IDS = ["one-layer", "two-layer", "two-layer-tanh"]


def tiny(layers, hidden, seed=0):
    model = BinaryHelmholtzMachine(np.random.default_rng(seed), data_dim=3, layers=layers, hidden=hidden,
                                   dtype=np.float64)
    rng = np.random.default_rng(seed + 10)
    for _, param, _ in model.named_parameters():
        param[...] = rng.normal(0, 1.0, param.shape)
    return model


def flat_gradient(model):
    return np.concatenate([grad.ravel() for _, _, grad in model.named_parameters()]).copy()


def exact_gradient(model):
    """-d ELBO / d (phi, theta), averaged over X's two images, by central differences of the enumerated ELBO."""
    return -np.concatenate([numerical_gradient(lambda: exact_elbo(model, X), param).ravel()
                            for _, param, _ in model.named_parameters()])


def is_phi(model):
    return np.concatenate([np.full(param.size, name.startswith("recognition"))
                           for name, param, _ in model.named_parameters()])


def expected_rloo(model, k):
    """E[rloo_objective's gradients] on X, exactly: the estimate on one image at each of its S^k tuples of joint
    states (forced by the uniforms u = 1 - h), weighted by the tuple's probability under q, averaged over the images."""
    bits = joint_states(model)
    total = 0.0
    for n in range(X.shape[0]):
        for tuple_ in itertools.product(range(len(bits)), repeat=k):
            uniforms = (1.0 - bits[list(tuple_)])[:, None, :]
            rloo.rloo_objective(model, X[n:n + 1], uniforms)
            log_q = sum(sample_terms(model, X[n:n + 1], bits[list(tuple_)]))
            total = total + np.exp(log_q) * flat_gradient(model)
    return total / X.shape[0]


def sample_terms(model, x, bits):
    """log q(h | x) of each row of bits (the joint state of every layer), as a list of one number per row."""
    below, start, total = x, 0, np.zeros(len(bits))
    for net, size in zip(model.recognition, model.layers):
        h = bits[:, start:start + size]
        total += bernoulli_log_likelihood(h, net(np.broadcast_to(below, (len(bits), below.shape[-1])).copy()))
        below, start = h, start + size
    return list(total)


@pytest.mark.parametrize("layers,hidden,k", [(*case, 2) for case in CASES] + [(*CASES[0], 3)],
                         ids=[f"{name}-k2" for name in IDS] + [f"{IDS[0]}-k3"])
def test_rloo_is_exactly_unbiased_for_the_elbo_gradient(layers, hidden, k):
    """Eq. (G3): the expectation over every k-tuple of states equals -grad ELBO in phi and theta (1e-6 relative, the
    central differences' error); the own-signal baseline (mean of all k, Eq. (G2) with i included) shrinks phi's
    expectation by (k - 1) / k and is caught. k = 3 on one layer only: two layers would be 16^3 tuples."""
    model = tiny(layers, hidden)
    exact = exact_gradient(model)
    np.testing.assert_allclose(expected_rloo(model, k), exact, rtol=1e-6, atol=1e-9)


def planted_own_signal(signals):
    return signals - signals.mean(axis=0)                      # the sample's own signal inside its baseline


def planted_sign(signals):
    k = signals.shape[0]
    return -k / (k - 1) * (signals - signals.mean(axis=0))


@pytest.mark.parametrize("planted", [planted_own_signal, planted_sign], ids=["own-signal", "flipped-sign"])
def test_rloo_check_catches_a_planted_error(planted, monkeypatch):
    model = tiny((2, 2), ())
    exact = exact_gradient(model)
    monkeypatch.setattr(rloo, "leave_one_out_signals", planted)
    wrong = expected_rloo(model, 2)
    phi = is_phi(model)
    assert np.abs(wrong[phi] - exact[phi]).max() > 1e-3
    if planted is planted_own_signal:                          # exactly (k - 1) / k of the gradient
        np.testing.assert_allclose(wrong[phi], 0.5 * exact[phi], rtol=1e-6, atol=1e-9)


def cells(eta):
    """The three cells of a uniform u whose unit has logit eta, on each of which the pair (h, h~) = ([u < s],
    [1 - u < s]) (s = sigmoid(eta)) is constant: edges 0, min(s, 1 - s), max(s, 1 - s), 1. eta: (J,) -> (midpoints,
    lengths), each (3, J)."""
    s = sigmoid(eta)
    edges = np.stack([np.zeros_like(s), np.minimum(s, 1 - s), np.maximum(s, 1 - s), np.ones_like(s)])
    return (edges[1:] + edges[:-1]) / 2, edges[1:] - edges[:-1]


def cell_tuples(eta):
    """Every choice of a cell for each of eta's units: [(uniforms (J,), probability)]."""
    mids, lengths = cells(eta)
    units = np.arange(len(eta))
    return [(mids[list(c), units], float(np.prod(lengths[list(c), units])))
            for c in itertools.product(range(3), repeat=len(eta))]


def expected_disarm(model, estimator):
    """E[disarm_objective's gradients] on X, exactly, for one or two stochastic layers: a sum over every cell of layer
    1's uniforms and, given the pair it makes, every cell of each sample's layer-2 uniforms. On a cell every sample,
    and so every f, is constant; DisARM's estimate is constant and ARM's is linear in each u_j with the others
    constant, so its mean over the cell is its value at the cell's midpoint: the sum is exact for both."""
    assert len(model.layers) <= 2 and disarm.noise_width(model.layers) == model.layers[0] + 2 * sum(model.layers[1:])
    total = 0.0
    for n in range(X.shape[0]):
        x = X[n:n + 1]
        for u1, p1 in cell_tuples(model.recognition[0](x)[0]):
            if len(model.layers) == 1:
                disarm.disarm_objective(model, x, u1[None], estimator)
                total = total + p1 * flat_gradient(model)
                continue
            s = sigmoid(model.recognition[0](x)[0])
            pair = np.stack([(u1 < s), (1 - u1 < s)]).astype(float)                 # h_1 and h~_1
            eta2 = model.recognition[1](pair)                                       # (2, J_2)
            for (ua, pa), (ub, pb) in itertools.product(cell_tuples(eta2[0]), cell_tuples(eta2[1])):
                disarm.disarm_objective(model, x, np.concatenate([u1, ua, ub])[None], estimator)
                total = total + p1 * pa * pb * flat_gradient(model)
    return total / X.shape[0]


@pytest.mark.parametrize("layers,hidden", CASES, ids=IDS)
@pytest.mark.parametrize("estimator", ["disarm", "arm"])
def test_disarm_and_arm_are_exactly_unbiased_for_the_elbo_gradient(layers, hidden, estimator):
    """Eqs. (G5)-(G7): the expectation over every cell of the antithetic uniforms equals -grad ELBO in phi (every
    layer) and theta, to the central differences' error."""
    model = tiny(layers, hidden)
    np.testing.assert_allclose(expected_disarm(model, estimator), exact_gradient(model), rtol=1e-6, atol=1e-9)


def exact_variance(model, estimator, per_image):
    """The exact variance of phi's gradient estimate on image 0, summed over phi's entries, from a list of
    (probability, estimate, variance within the outcome) over every cell or tuple: per_image(model, n) -> that list."""
    outcomes = per_image(model, 0)
    p = np.array([outcome[0] for outcome in outcomes])
    g = np.array([outcome[1] for outcome in outcomes])[:, is_phi(model)]
    within = np.array([outcome[2] for outcome in outcomes])
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    mean = p @ g
    return float(p @ (((g - mean) ** 2).sum(axis=1) + within))


def disarm_outcomes(estimator):
    """One layer, linear: (probability, estimate, variance within the cell). DisARM's estimate is constant on a cell.
    ARM's entry for unit j is c (u_j - 1/2) with c constant on the cell, so its variance there is c^2 length_j^2 / 12,
    with c = (the value at the midpoint) / (midpoint - 1/2) (the middle cell, midpoint 1/2, has h = h~ and c = 0)."""
    def outcomes(model, n):
        x, found = X[n:n + 1], []
        eta = model.recognition[0](x)[0]
        mids, lengths = cells(eta)
        units = np.arange(len(eta))
        for c in itertools.product(range(3), repeat=len(eta)):
            u1, p1 = mids[list(c), units], float(np.prod(lengths[list(c), units]))
            disarm.disarm_objective(model, x, u1[None], estimator)
            g = flat_gradient(model)
            within = 0.0
            if estimator == "arm":
                unit = np.arange(is_phi(model).sum()) % len(eta)            # W (3, J) row-major, then b (J,)
                centred = u1[unit] - 0.5
                slope = np.divide(g[is_phi(model)], centred, out=np.zeros_like(centred), where=centred != 0)
                within = float((slope ** 2 * lengths[list(c), units][unit] ** 2 / 12).sum())
            found.append((p1, g, within))
        return found
    return outcomes


def rloo_outcomes(k):
    def outcomes(model, n):
        bits, found = joint_states(model), []
        for tuple_ in itertools.product(range(len(bits)), repeat=k):
            rloo.rloo_objective(model, X[n:n + 1], (1.0 - bits[list(tuple_)])[:, None, :])
            found.append((np.exp(sum(sample_terms(model, X[n:n + 1], bits[list(tuple_)]))), flat_gradient(model), 0.0))
        return found
    return outcomes


def test_disarm_is_arm_with_the_uniform_integrated_out_so_its_variance_is_never_larger():
    """DisARM's estimate is ARM's averaged over u given the pair (Eq. (G6)): its exact variance is at most ARM's, on
    three tiny one-layer models. Printed beside RLOO with k = 2 (the same two decoder passes): the exact variances,
    summed over phi, on one image."""
    for seed in range(3):
        model = tiny((2,), (), seed)
        variances = {"ARM": exact_variance(model, "arm", disarm_outcomes("arm")),
                     "DisARM": exact_variance(model, "disarm", disarm_outcomes("disarm")),
                     "RLOO k=2": exact_variance(model, "rloo", rloo_outcomes(2))}
        print(f"\nseed {seed}: exact variance of the phi-gradient on one image, summed over phi: "
              + ", ".join(f"{name} {value:.4g}" for name, value in variances.items()))
        assert variances["DisARM"] < variances["ARM"]


def planted_disarm_sign(difference, h, h_flip, eta, u, estimator):
    return 0.5 * difference[..., None] * (1.0 - 2.0 * h) * (h != h_flip) * sigmoid(np.abs(eta))      # (-1)^h


def planted_disarm_no_sigmoid(difference, h, h_flip, eta, u, estimator):
    return 0.5 * difference[..., None] * (1.0 - 2.0 * h_flip) * (h != h_flip)


def planted_arm_sign(difference, h, h_flip, eta, u, estimator):
    return difference[..., None] * (u - 0.5)                    # f(h) - f(h~) in place of f(h~) - f(h)


def arm_with_u(difference, h, h_flip, eta, u, estimator):
    return -difference[..., None] * u                           # u in place of u - 1/2


def planted_flipped_signal_without_the_layer_below(model, l, below, h, eta, uniforms):
    """The local signal without log p(h_{l-1} | h_l): layer 2's pair would miss how h_2 explains h_1."""
    return ORIGINAL_FLIPPED(model, l, below, h, eta, uniforms) \
        - bernoulli_log_likelihood(below, model.generative[l](h.reshape(-1, h.shape[-1])).reshape(*h.shape[:-1], -1))


ORIGINAL_FLIPPED = disarm.flipped_signal


@pytest.mark.parametrize("name,layers,estimator", [("sign", (2,), "disarm"), ("no-sigmoid", (2,), "disarm"),
                                                   ("arm-sign", (2,), "arm"), ("local-signal", (2, 2), "disarm")])
def test_disarm_check_catches_a_planted_error(name, layers, estimator, monkeypatch):
    model = tiny(layers, ())
    exact = exact_gradient(model)
    if name == "local-signal":
        monkeypatch.setattr(disarm, "flipped_signal", planted_flipped_signal_without_the_layer_below)
    else:
        planted = {"sign": planted_disarm_sign, "no-sigmoid": planted_disarm_no_sigmoid, "arm-sign": planted_arm_sign}
        monkeypatch.setattr(disarm, "antithetic_logit_gradient", planted[name])
    wrong = expected_disarm(model, estimator)
    phi = is_phi(model)
    if name == "local-signal":                                  # layer 2's block of phi: the one the term moves
        phi = np.zeros_like(phi)
        phi[np.flatnonzero(is_phi(model))[phi_layers(model) == 1]] = True
    assert np.abs(wrong[phi] - exact[phi]).max() > 1e-3


@pytest.mark.parametrize("layers,hidden", CASES, ids=IDS)
@pytest.mark.parametrize("name", ["rloo", "disarm", "arm"])
def test_a_training_step_is_finite_for_extreme_logits_in_float32(layers, hidden, name):
    """Logits of +-80 (probabilities that round to 0 and 1 in float32): every gradient finite."""
    from algorithms.binary.disarm import DisARM
    from algorithms.binary.rloo import RLOO
    model = BinaryHelmholtzMachine(np.random.default_rng(0), data_dim=3, layers=layers, hidden=hidden)
    for _, param, _ in model.named_parameters():
        param[...] = np.where(np.arange(param.size).reshape(param.shape) % 2, 40.0, -40.0)
    trainer = RLOO(model, k=3) if name == "rloo" else DisARM(model, estimator=name)
    for optimizer in trainer.optimizers.values():
        optimizer.step = lambda: None
    loss = trainer.step(X.astype(np.float32), np.random.default_rng(1))["loss"]
    assert np.isfinite(loss)
    assert all(np.isfinite(grad).all() for _, _, grad in model.named_parameters())


def test_arms_one_half_is_a_control_variate_not_part_of_the_mean(monkeypatch):
    """(f(h~) - f(h)) u has the same exact expectation as Eq. (G5): E[f(h~) - f(h)] = 0, since (h, h~) and (h~, h)
    are equally likely. So u - 1/2 is not a bias to be caught but a variance to be lowered: printed, the exact
    variances on one image."""
    model = tiny((2,), ())
    arm = exact_variance(model, "arm", disarm_outcomes("arm"))
    monkeypatch.setattr(disarm, "antithetic_logit_gradient", arm_with_u)
    np.testing.assert_allclose(expected_disarm(model, "arm"), exact_gradient(model), rtol=1e-6, atol=1e-9)
    without = exact_variance(model, "arm", disarm_outcomes("arm"))
    print(f"\nARM's exact variance on one image, summed over phi: with u - 1/2 {arm:.4g}, with u {without:.4g}")
    assert arm < without


@pytest.mark.parametrize("k", [2, 3])
def test_the_exact_variance_formulas_of_the_variance_study_match_enumeration(k):
    """experiments/studies/exact_variance.py::exact_variances gives NVIL's and RLOO's exact variance on the
    enumerable model from one-state moments (a sum over 2^20 states, not over k-tuples). On the tiny model, against
    the variance of the code's own estimates over every state (NVIL, centred by 0.7) and every k-tuple (RLOO)."""
    from algorithms.binary.nvil import score_function_gradient
    from experiments.studies.exact_variance import exact_moments, exact_variances, jacobian_gram
    model, x = tiny((2,), (), seed=1), X[:1]
    formulas = exact_variances(exact_moments(model, x), jacobian_gram(model, x), np.array([0.7]), [k])
    rloo_exact = exact_variance(model, "rloo", rloo_outcomes(k))

    def nvil_outcomes(model_, n):
        found = []
        for bits in joint_states(model_):
            score_function_gradient(model_, x, (1.0 - bits)[None, None], [0.7])
            found.append((np.exp(sum(sample_terms(model_, x, bits[None]))), flat_gradient(model_), 0.0))
        return found
    nvil_exact = exact_variance(model, "nvil", nvil_outcomes)
    np.testing.assert_allclose(formulas["RLOO"][k], rloo_exact, rtol=1e-9)
    np.testing.assert_allclose(formulas["NVIL"][k], nvil_exact / k, rtol=1e-9)


@pytest.mark.parametrize("argv", [["rloo", "--k", "3"], ["disarm", "--estimator", "arm"],
                                  ["concrete", "--temperature", "0.3", "--k", "2"]], ids=["rloo", "arm", "concrete"])
def test_each_estimator_trains_from_run_py_with_its_own_flags_and_resumes_exactly(tmp_path, argv):
    """run.py trains each new estimator on a two-layer binary model with its own flags, and a run stopped after one
    epoch and resumed ends with the uninterrupted run's numbers (tests/test_plugins.py::trained_and_resumed)."""
    import json
    from test_plugins import SMALL, trained_and_resumed
    whole = trained_and_resumed(tmp_path, [argv[0], *SMALL, "--layers", "6", "4", "--binarize", "fixed",
                                           "--nll-k", "8", *argv[1:]])
    metrics = json.loads((whole / "metrics.json").read_text())
    assert metrics["algorithm"] == argv[0] and np.isfinite(metrics["history"][-1]["loss"])
    for flag, value in zip(argv[1::2], argv[2::2]):
        assert str(metrics["settings"][flag[2:]]) == value


def test_the_variance_studys_table_rounds_each_number_to_its_standard_error():
    """estimator_variance.table: a value and its SE to the SE's second significant digit; the exact variance beside."""
    from experiments.studies.estimator_variance import table, with_error
    assert [with_error(730.52, 8.43), with_error(1733.2, 24.4), with_error(0.10921, 0.00414)] == \
        ["730.5 ± 8.4", "1733 ± 24", "0.1092 ± 0.0041"]
    result = {"NVIL": {"2": {"variance": [161.72, 3.61], "snr": [0.2957, 0.0066], "exact_variance": 161.924}},
              "Concrete tau=0.5": {"2": {"variance": [48.72, 0.74], "snr": [0.4917, 0.0088]}}}
    assert table(result).splitlines()[2:] == ["| NVIL | 161.7 ± 3.6 (exact 161.92) | 0.2957 ± 0.0066 |",
                                              "| Concrete τ = 0.5 | 48.72 ± 0.74 | 0.4917 ± 0.0088 |"]
    result["NVIL"]["6"] = {"variance": [53.91, 1.21], "snr": [0.4617, 0.0097]}
    result["REBAR tau=0.5"] = {"6": {"variance": [12.34, 0.56], "snr": [0.75, 0.011]}}     # three passes a sample
    assert table(result).splitlines()[0].count("P = 6") == 2
    assert table(result).splitlines()[2:] == [
        "| NVIL | 161.7 ± 3.6 (exact 161.92) | 53.9 ± 1.2 | 0.2957 ± 0.0066 | 0.4617 ± 0.0097 |",
        "| Concrete τ = 0.5 | 48.72 ± 0.74 | — | 0.4917 ± 0.0088 | — |",
        "| REBAR τ = 0.5 | — | 12.34 ± 0.56 | — | 0.750 ± 0.011 |"]


def test_the_variance_study_measures_rebar_last_and_only_where_its_samples_fit_p(monkeypatch):
    """Adding REBAR, then REBAR with its leave-one-out baseline, left the other estimators' random numbers as they
    were: each draws after them, REBAR only at a P that its three passes a sample divide, and REBAR-LOO only where
    that gives it the two samples its baseline needs (P = 6, not P = 3)."""
    from experiments.studies import estimator_variance
    calls = []

    def counting(name):
        def estimate(passes, rng):
            calls.append((name, passes))
            return rng.random(4)
        return estimate
    monkeypatch.setattr(estimator_variance, "estimators",
                        lambda model, trainer, x: {name: counting(name) for name in estimator_variance.NAMES})
    result = estimator_variance.measure(None, None, None, (2, 3, 6), 10, np.random.default_rng(0))
    assert calls[-30:] == [("REBAR tau=0.5", 3)] * 10 + [("REBAR tau=0.5", 6)] * 10 + [("REBAR-LOO tau=0.5", 6)] * 10
    assert len(calls) == 10 * (3 * (len(estimator_variance.NAMES) - 2) + 2 + 1)
    assert list(result) == list(estimator_variance.NAMES)
    assert list(result["REBAR tau=0.5"]) == [3, 6] and list(result["REBAR-LOO tau=0.5"]) == [6]


@pytest.mark.parametrize("layers, hidden", [((2,), ()), ((2, 1), (3,))])
def test_rebars_residual_signal_vanishes_as_the_temperature_falls(layers, hidden):
    """estimator_variance.rebar_residual: as lambda -> 0 the relaxed unit at z~ is b itself (z~ has b's sign, Eq. (G13)),
    so c(z~) -> l(b) and the residual that REBAR's score term multiplies vanishes; at lambda = 0.5 it does not. Drawn
    given 1 - b, z~ would leave a residual of the size of l itself at every temperature."""
    from experiments.studies.estimator_variance import rebar_residual
    model, x = tiny(layers, hidden), np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    cold, warm = rebar_residual(model, x, temperature=1e-3), rebar_residual(model, x, temperature=0.5)
    assert np.all(np.isfinite(cold["l(b)"])) and np.array_equal(cold["l(b)"], warm["l(b)"])
    assert np.quantile(np.abs(cold["l(b) - c(z~)"]), 0.99) < 0.01 * np.abs(cold["l(b)"]).mean()
    assert np.abs(warm["l(b) - c(z~)"]).mean() > 0.1

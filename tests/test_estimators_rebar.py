"""REBAR (derivations/estimators.md, Eqs. (G12)-(G16)) against the exact ELBO gradient of a tiny model, with no draws.

The estimate is a function of the uniforms (u, v) that jumps where b = H(eta + L(u)) flips, so its expectation is
computed piecewise: for each joint state b, every unit's u is uniform on its side of the threshold 1 - sigmoid(eta)
(b = 1 iff u > 1 - sigmoid(eta)), and v on (0, 1). In t, the uniform of that side (u = 1 - sigmoid(eta) + sigmoid(eta) t
for b = 1, u = sigmoid(-eta) t for b = 0), the integrand is smooth; it is integrated by composite Gauss-Legendre on
panels cut where the relaxation turns and the logistic density bends (edges placed in L and mapped to t).

v is integrated on the same panels, paired node for node with u (each node reflected within its panel, so that the
weights agree and z~ != z). That rule is exact because, given b, the estimate is a function of u plus a function of
(b, v) and the noise of the layers above (Eq. (G15)); test_the_estimate_is_a_function_of_u_plus_one_of_b_and_v checks
that structure of the code itself, by mixed differences. The exact gradient is the central differences of the ELBO
summed over every state (tests/test_estimators.py). What they print (pytest -s) is quoted on the page."""
import itertools

import numpy as np
import pytest

import algorithms.binary.rebar as rebar
from algorithms.binary.concrete import logistic_noise, relax, relaxed_backward
from algorithms.binary.model import BinaryHelmholtzMachine
from nn.functional import sigmoid
from nn.gradcheck import numerical_gradient, relative_error
from test_binary_estimators import X, exact_elbo
from test_estimators import exact_gradient, flat_gradient, is_phi, tiny

CASES = [((2,), ()), ((2,), (3,)), ((2, 1), ()), ((2, 1), (3,))]
IDS = ["one-layer", "one-layer-tanh", "two-layer", "two-layer-tanh"]
BULK = np.array([0.0, 1, -1, 2, -2, 4, -4, 8, -8, 16, -16])            # edges in L where the logistic density bends
NEAR = np.array([0.25, -0.25, 1.5, -1.5])                                 # edges at -eta + lambda s: where z turns


def t_of_noise(noise, eta, side):
    """The uniform t of b's side at logistic noise L: side 1, (sigmoid(L) - sigmoid(-eta)) / sigmoid(eta); side 0,
    sigmoid(L) / sigmoid(-eta)."""
    if side:
        return sigmoid(noise) * -np.expm1(-(eta + noise))
    return sigmoid(noise) / sigmoid(-eta)


def noise_of_t(t, eta, side):
    """L = log u - log(1 - u) at u = 1 - sigmoid(eta) (1 - t) (side 1) or u = sigmoid(-eta) t (side 0), each log
    taken where it keeps its digits (not the code's Eq. (G13), which the tests check against this)."""
    if side:
        return np.log(sigmoid(-eta) + sigmoid(eta) * t) + np.logaddexp(0, -eta) - np.log1p(-t)
    return np.log(t) - np.logaddexp(0, eta) - np.log1p(-sigmoid(-eta) * t)


def side_rule(eta, side, temperature, order):
    """Composite Gauss-Legendre of `order` points a panel on t in (0, 1), one unit's side of its threshold: (t, t
    reflected within its panel, weights summing to 1)."""
    edges = np.concatenate([BULK, -eta + temperature * NEAR])
    edges = edges[edges > -eta] if side else edges[edges < -eta]
    edges = np.unique(np.concatenate([[0.0, 1.0], t_of_noise(edges, eta, side)]))
    nodes, weights = np.polynomial.legendre.leggauss(order)
    half, centre = (edges[1:] - edges[:-1])[:, None] / 2, (edges[1:] + edges[:-1])[:, None] / 2
    return (centre + half * nodes).ravel(), (centre - half * nodes).ravel(), (half * weights).ravel()


def unit_rules(etas, temperature, order):
    """{side configuration b of a layer: (L (M, J), v (M, J), weights (M,))}, the product over its units, each weight
    carrying q(b) = prod_j sigmoid(+-eta_j)."""
    found = {}
    for b in itertools.product([0, 1], repeat=len(etas)):
        parts = [side_rule(eta, side, temperature, order) for eta, side in zip(etas, b)]
        t = np.stack(np.meshgrid(*[p[0] for p in parts], indexing="ij"), -1).reshape(-1, len(b))
        t_v = np.stack(np.meshgrid(*[p[1] for p in parts], indexing="ij"), -1).reshape(-1, len(b))
        w = np.prod(np.stack(np.meshgrid(*[p[2] for p in parts], indexing="ij"), -1).reshape(-1, len(b)), axis=1)
        noise = np.stack([noise_of_t(t[:, j], eta, side) for j, (eta, side) in enumerate(zip(etas, b))], axis=1)
        found[b] = noise, t_v, w * np.prod([sigmoid(eta if side else -eta) for eta, side in zip(etas, b)])
    return found


def rule(model, x, temperature, order):
    """Nodes (L (M, J_1 + ...), v (M, J_1 + ...), weights (M,)) of E over (u, v) for one image x (1, D), layer by
    layer: each state b_{l-1} of the layer below gives layer l's logits, hence its thresholds and panels."""
    entries = [(x, np.zeros((1, 0)), np.zeros((1, 0)), np.ones(1))]
    for net in model.recognition:
        grown = []
        for below, noise, v, w in entries:
            for b, (n_l, v_l, w_l) in unit_rules(net(below)[0], temperature, order).items():
                grown.append((np.array([b], dtype=float),
                              np.concatenate([np.repeat(noise, len(w_l), 0), np.tile(n_l, (len(w), 1))], 1),
                              np.concatenate([np.repeat(v, len(w_l), 0), np.tile(v_l, (len(w), 1))], 1),
                              np.repeat(w, len(w_l)) * np.tile(w_l, len(w))))
        entries = grown
    return (np.concatenate([e[i] for e in entries]) for i in (1, 2, 3))


def expected(model, temperature=0.5, scale=1.0, order=6, images=X, chunk=50000):
    """E[rebar_objective's gradients] over (u, v) by the rule above, averaged over the images."""
    total = 0.0
    for n in range(images.shape[0]):
        noise, v, w = rule(model, images[n:n + 1], temperature, order)
        assert w.sum() == pytest.approx(1.0, abs=1e-12)
        for start in range(0, len(w), chunk):
            part = slice(start, start + chunk)
            rebar.rebar_objective(model, images[n:n + 1], noise[part, None], v[part, None], temperature, scale,
                                  weights=w[part, None])
            total = total + flat_gradient(model)
    return total / images.shape[0]


def exact_gradient_on(model, images):
    """-d ELBO / d (phi, theta) averaged over the images, by central differences of the enumerated ELBO (as
    tests/test_estimators.py::exact_gradient on X)."""
    return -np.concatenate([numerical_gradient(lambda: exact_elbo(model, images), param).ravel()
                            for _, param, _ in model.named_parameters()])


@pytest.mark.parametrize("layers,hidden", CASES, ids=IDS)
def test_rebar_is_exactly_unbiased_for_the_elbo_gradient(layers, hidden):
    """Eqs. (G12)-(G16): E over (u, v) of the code's estimate equals -grad ELBO in phi (every layer) and theta, on one
    layer of 2 units (both images of X) and on two layers of 2 + 1 (image 0: 10^6 nodes), linear and with a tanh layer
    of 3, to 1e-6 relative (the central differences' tolerance); the differences found are at most 5e-10, printed."""
    model = tiny(layers, hidden)
    images = X if len(layers) == 1 else X[:1]
    exact = exact_gradient_on(model, images)
    found = expected(model, images=images)
    print(f"\n{layers} {hidden}: largest |E[REBAR] - exact gradient| {np.abs(found - exact).max():.2e} "
          f"(largest |exact| {np.abs(exact).max():.3f})")
    np.testing.assert_allclose(found, exact, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("layers,hidden", [((2,), ()), ((2, 1), ())], ids=["one-layer", "two-layer-2-1"])
def test_rebar_is_exactly_unbiased_at_any_scale_and_temperature(layers, hidden):
    """The same at nu = 0.7 and lambda = 0.3: an error that shows only where nu != 1 (the correction left unscaled by
    nu, say) or at another temperature is caught too."""
    model = tiny(layers, hidden)
    images = X if len(layers) == 1 else X[:1]
    np.testing.assert_allclose(expected(model, temperature=0.3, scale=0.7, images=images),
                               exact_gradient_on(model, images), rtol=1e-6, atol=1e-9)


def test_the_conditional_sample_is_the_quantile_of_z_given_b_and_its_slope_matches_central_differences():
    """Eq. (G13): z~ at v is the v-quantile of z = eta + L given b (u uniform on b's side of 1 - sigmoid(eta)),
    computed here from u without the code's formula; Eq. (G14): its slope in eta at fixed v and b, against central
    differences (to 1e-7 relative, 1e-9 absolute where the slope is tiny: h = 1 far out on its side)."""
    v = np.linspace(0.0005, 0.9995, 41)
    for eta in (-6.0, -0.7, 0.0, 1.3, 6.0):
        for side in (0, 1):
            h = np.full_like(v, side)
            z, slope = rebar.conditional_sample(np.full_like(v, eta), h, v)
            np.testing.assert_allclose(z, eta + noise_of_t(v, eta, side), rtol=1e-11, atol=1e-12)
            assert np.all((z > 0) == bool(side))
            step = 1e-6
            numeric = (rebar.conditional_sample(np.full_like(v, eta + step), h, v)[0]
                       - rebar.conditional_sample(np.full_like(v, eta - step), h, v)[0]) / (2 * step)
            np.testing.assert_allclose(slope, numeric, rtol=1e-7, atol=1e-9)


def held_case(layers, hidden, seed=1):
    """A tiny model, logistic noise and uniforms for 3 samples of X's 2 images, and random sample weights."""
    model, rng = tiny(layers, hidden), np.random.default_rng(seed)
    noise = logistic_noise(rng.random((3, 2, sum(layers))))
    return model, noise, rng.random((3, 2, sum(layers))), rng.random((3, 2))


@pytest.mark.parametrize("layers,hidden", CASES, ids=IDS)
def test_the_control_variates_backward_passes_match_central_differences(layers, hidden):
    """For each layer l, the gradient of sum weights c_l in every parameter of the networks it relaxes (f_l, ...,
    f_L, g_l, ..., g_L, the prior), by concrete.py's relaxed_backward: at z (u held; Eqs. (G10), (G16)) and at z~ (v
    and b held, through the slope of Eq. (G14)), against central differences of relax's value: relative error under
    1e-7. The hard samples below layer l are held."""
    model, noise, v, weights = held_case(layers, hidden)
    sample = rebar.hard_sample(model, X, noise)
    starts = np.cumsum([0, *model.layers])
    for l in range(len(layers)):
        above, below, h = rebar.upper(model, l), X if l == 0 else sample.hs[l - 1], sample.hs[l]
        names = [name for name, _, _ in model.named_parameters()
                 if name.startswith("generative.prior") or int(name.split(".")[1]) >= l]

        def relaxed_noise(tilde):
            if not tilde:
                return noise[..., starts[l]:], None
            eta = model.recognition[l](below.reshape(-1, below.shape[-1])).reshape(*below.shape[:-1], -1)
            z, slope = rebar.conditional_sample(eta, h, v[..., starts[l]:starts[l + 1]])
            return np.concatenate([np.broadcast_to(z - eta, h.shape), noise[..., starts[l + 1]:]], -1), slope
        for tilde in (False, True):
            held, slope = relaxed_noise(tilde)
            rebar.relaxed_backward(above, below, rebar.relax(above, below, held, 0.4), 0.4, weights, slope=slope)
            analytic = np.concatenate([grad.ravel() for name, _, grad in model.named_parameters() if name in names])
            numeric = np.concatenate([numerical_gradient(
                lambda: float((weights * rebar.relax(above, below, relaxed_noise(tilde)[0], 0.4, keep=False).value)
                              .sum()), param).ravel() for name, param, _ in model.named_parameters() if name in names])
            assert relative_error(analytic, numeric) < 1e-7, (l, tilde)


@pytest.mark.parametrize("layers,hidden", [CASES[0], CASES[3]], ids=[IDS[0], IDS[3]])
def test_the_estimate_is_a_function_of_u_plus_one_of_b_and_v(layers, hidden):
    """What makes the paired rule exact: with b held, every layer's estimate has no mixed term in (u_l, v_l), for each
    layer l (Eq. (G15): the score term's c(z~) and dc(z~)/deta see v and b, never u_l; dc(z)/deta sees u, never v).
    Moved within their sides, u_l and v_l each change layer l's estimate, and the mixed difference of every layer's
    is rounding."""
    model, noise, v, _ = held_case(layers, hidden, seed=3)
    noise, v = noise[:1, :1], v[:1, :1]
    sample = rebar.hard_sample(model, X[:1], noise)
    starts, rng = np.cumsum([0, *model.layers]), np.random.default_rng(4)
    for l in range(len(layers)):
        cut = slice(starts[l], starts[l + 1])
        eta, h = np.broadcast_to(sample.logits[l], sample.hs[l].shape)[0, 0], sample.hs[l][0, 0]
        moved_noise, moved_v = noise.copy(), v.copy()
        moved_noise[0, 0, cut] = [noise_of_t(rng.random(), e, side) for e, side in zip(eta, h)]
        moved_v[0, 0, cut] = rng.random(len(eta))
        corners = [(a, b) for a in (noise, moved_noise) for b in (v, moved_v)]
        _, estimates = rebar.rebar_objective(model, X[:1], np.concatenate([a for a, _ in corners]),
                                             np.concatenate([b for _, b in corners]))
        own = estimates[l]
        assert np.abs(own[1] - own[0]).min() > 1e-6 and np.abs(own[2] - own[0]).min() > 1e-6
        for e in estimates:
            mixed = e[3] - e[2] - e[1] + e[0]
            assert np.abs(mixed).max() < 1e-12 * max(1.0, np.abs(e).max())


def planted_flipped_correction(signal, control, h, eta, at_z, at_z_tilde, scale, baseline="none"):
    return (signal - scale * control)[..., None] * (h - sigmoid(eta)) - scale * (at_z - at_z_tilde)


def planted_no_control_in_the_score(signal, control, h, eta, at_z, at_z_tilde, scale, baseline="none"):
    return signal[..., None] * (h - sigmoid(eta)) + scale * (at_z - at_z_tilde)       # c(z~)'s mean not added back


def planted_other_state(eta, h, v):
    return ORIGINAL_CONDITIONAL(eta, 1.0 - h, v)                    # z~ given the state b is not


def unconditional(eta, h, v):
    return eta + logistic_noise(v), np.ones_like(v)                  # z~ drawn afresh, ignoring b: unbiased


def planted_without_slope(eta, h, v):
    return ORIGINAL_CONDITIONAL(eta, h, v)[0], np.ones_like(v)       # z~ as if it did not move with eta


ORIGINAL_CONDITIONAL = rebar.conditional_sample
PLANTED = {"flipped-correction": ("rebar_logit_gradient", planted_flipped_correction),
           "no-control-in-the-score": ("rebar_logit_gradient", planted_no_control_in_the_score),
           "z-tilde-given-the-other-state": ("conditional_sample", planted_other_state),
           "z-tilde-without-its-slope": ("conditional_sample", planted_without_slope)}


@pytest.mark.parametrize("name", list(PLANTED))
def test_rebar_check_catches_a_planted_error(name, monkeypatch):
    """Each planted error moves E[phi's estimate] off the exact gradient by far more than the rule's error: the
    correction nu (dc(z)/deta - dc(z~)/deta) with its sign flipped; the score term without -nu c(z~); z~ drawn given
    1 - b; z~'s slope of Eq. (G14) taken as 1. theta's expectation is untouched. (z~ drawn unconditionally, ignoring
    b, is no planted bias: it is unbiased, and only loses the variance, test_the_variance_falls_below_reinforces.)"""
    model = tiny((2,), ())
    exact, phi = exact_gradient(model), is_phi(model)
    monkeypatch.setattr(rebar, *PLANTED[name])
    wrong = expected(model)
    print(f"\n{name}: largest |E[estimate] - exact| in phi {np.abs(wrong - exact)[phi].max():.4f}, "
          f"largest |exact| in phi {np.abs(exact[phi]).max():.4f}")
    assert np.abs(wrong[phi] - exact[phi]).max() > 1e-2
    np.testing.assert_allclose(wrong[~phi], exact[~phi], rtol=1e-6, atol=1e-9)


def beside_another_sample(model, baseline, scale=1.0, order=2):
    """rebar_objective at k = 2 over the nodes of one sample's (u, v) (the rule above, at image 0), the second sample
    held at one draw of its own: its own estimate has weight 0, so it enters only the first one's baseline. Returns
    (E of the gradients under the rule, [sample 0's logit estimate at each node, per layer], the hard sample)."""
    noise, v, w = rule(model, X[:1], 0.5, order)
    rng = np.random.default_rng(3)
    other_noise, other_v = logistic_noise(rng.random(noise.shape[1])), rng.random(noise.shape[1])
    images = np.repeat(X[:1], len(w), axis=0)
    noise = np.stack([noise, np.broadcast_to(other_noise, noise.shape)])
    _, estimates = rebar.rebar_objective(model, images, noise, np.stack([v, np.broadcast_to(other_v, v.shape)]), 0.5,
                                         scale, weights=np.stack([w, np.zeros_like(w)]), baseline=baseline)
    return flat_gradient(model), [estimate[0] for estimate in estimates], rebar.hard_sample(model, images, noise)


@pytest.mark.parametrize("scale", [1.0, 0.0], ids=["nu-1", "nu-0"])
@pytest.mark.parametrize("layers,hidden", [((2,), ()), ((2, 1), (3,))], ids=["one-layer", "two-layer-tanh"])
def test_the_leave_one_out_baseline_keeps_the_expectation_whatever_the_other_sample(layers, hidden, scale, monkeypatch):
    """Eq. (G17): sample 1's bracket r_1 = l - nu c(z~) (nu = 0: its local signal, layer_estimate's REINFORCE branch)
    is subtracted from sample 0's. It is the same number at every node of sample 0's (u, v), so sample 0's estimate
    moves by exactly -r_1 (b_0 - sigmoid(eta_0)) in each layer, and its mean over the rule by nothing: E[REBAR with the
    baseline | sample 1] = E[REBAR without it] under the same rule, to rounding (exactly, at any order of the rule: the
    weights of each side of a threshold sum to q(b); that E[REBAR] is the exact gradient is checked at order 6 above).
    A baseline that keeps sample 0's own bracket, the mean of both, is biased, and caught."""
    model = tiny(layers, hidden)
    plain, plain_estimates, sample = beside_another_sample(model, "none", scale)
    centred, centred_estimates, _ = beside_another_sample(model, "leave-one-out", scale)
    np.testing.assert_allclose(centred, plain, rtol=1e-10, atol=1e-13)
    for before, after, h, eta in zip(plain_estimates, centred_estimates, sample.hs, sample.logits):
        score = h[0] - sigmoid(eta if eta.ndim == 2 else eta[0])
        r_1 = (before - after) / score
        assert np.abs(r_1).min() > 1e-3 and np.ptp(r_1) < 1e-9 * np.abs(r_1).max()
    monkeypatch.setitem(rebar.BASELINES, "leave-one-out", lambda residuals: residuals - residuals.mean(axis=0))
    wrong, phi = beside_another_sample(model, "leave-one-out", scale)[0], is_phi(model)
    assert np.abs(wrong[phi] - plain[phi]).max() > 1e-2
    np.testing.assert_allclose(wrong[~phi], plain[~phi], rtol=1e-12, atol=1e-14)


def test_a_leave_one_out_rebar_of_one_sample_is_refused_before_anything_is_written(tmp_path, capsys):
    import run
    assert run.main(["rebar", "--layers", "2", "--binarize", "fixed", "--baseline", "leave-one-out", "--epochs", "1",
                     "--out", str(tmp_path / "run")]) == 2
    assert not (tmp_path / "run").exists()
    assert capsys.readouterr().err.strip().endswith(
        "REBAR: its leave-one-out baseline needs k >= 2 samples of each image (got --k 1)")


def logit_moments(model, temperature, scale, order=8):
    """(mean, variance summed over phi) of phi's estimate on image 0 of a one-layer linear model, exactly: given b,
    the estimate is A(u) + B(v) (checked above), so over the product rule on (u, v) its mean is E A + E B and its
    second moment Var A + Var B + (E A + E B)^2, from the estimate at (u_i, v_0) and (u_0, v_j) (the sum over the
    n^2 pairs in 2n evaluations). For a linear layer phi's gradient is (x (x) g, g), g the logits' gradient, so the
    variance summed over phi is (|x|^2 + 1) sum_j Var(g_j)."""
    x, mean, second = X[:1], 0.0, 0.0
    for b, (noise, v, w) in unit_rules(model.recognition[0](x)[0], temperature, order).items():
        q, m = w.sum(), len(w)
        rows = np.concatenate([noise, np.repeat(noise[:1], m, 0)]), np.concatenate([np.repeat(v[:1], m, 0), v])
        _, (g,) = rebar.rebar_objective(model, x, rows[0][:, None], rows[1][:, None], temperature, scale)
        a, c = g[:m, 0], g[m:, 0]                                   # A_i + B_0 and A_0 + B_j
        given_b = (w @ a + w @ c) / q - a[0]
        mean = mean + q * given_b
        second = second + w @ (a - w @ a / q) ** 2 + w @ (c - w @ c / q) ** 2 + q * given_b ** 2
    return mean, float((second - mean ** 2).sum()) * (x[0] @ x[0] + 1)


def test_the_variance_falls_below_reinforces(monkeypatch):
    """The exact variance of phi's estimate on one image of the one-layer tiny model, summed over phi: REINFORCE (the
    score function without a baseline, nu = 0; enumerated over the 4 states) against REBAR with nu = 1 at several
    temperatures, and the best fixed nu (the variance is quadratic in nu: from nu = 0, 1, 2). REBAR's mean is the
    exact logit gradient at every temperature. z~ drawn unconditionally keeps the mean and loses the variance. The
    variances are derivations/estimators.md's table, to its digits: the control value taken at z instead of z~, which
    keeps the mean (z and z~ share their law given b), moves REBAR's 0.7093 at lambda = 0.5 to 0.9041."""
    from test_binary_estimators import log_weights_and_q       # the enumerated log w and log q of every state
    model = tiny((2,), ())
    eta = model.recognition[0](X[:1])[0]
    log_w, log_q = log_weights_and_q(model, X[:1])
    states = np.array(list(itertools.product([0.0, 1.0], repeat=2)))
    g = log_w[:, 0, None] * (states - sigmoid(eta))
    q = np.exp(log_q[:, 0])
    exact_mean = q @ g
    reinforce = float((q @ g ** 2 - exact_mean ** 2).sum()) * (X[0] @ X[0] + 1)
    np.testing.assert_allclose(logit_moments(model, 0.5, 0.0)[1], reinforce, rtol=1e-10)
    print(f"\nREINFORCE: {reinforce:.4g}")
    assert f"{reinforce:.4g}" == "11.35"
    page = {0.1: "2.928", 0.5: "0.7093", 1.0: "0.5565", 2.0: "0.4812"}
    for temperature in (0.1, 0.5, 1.0, 2.0):
        (mean, rebar_one), (mean_two, two) = (logit_moments(model, temperature, scale) for scale in (1.0, 2.0))
        np.testing.assert_allclose(mean, exact_mean, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(mean_two, exact_mean, rtol=1e-6, atol=1e-8)    # the quadratic's third point
        curve = (two - 2 * rebar_one + reinforce) / 2
        slope = (rebar_one - reinforce - curve) / 2
        print(f"lambda {temperature:g}: REBAR (nu = 1) {rebar_one:.4g}, best nu {-slope / curve:.3f} with "
              f"{reinforce - slope ** 2 / curve:.4g}")
        assert rebar_one < reinforce and f"{rebar_one:.4g}" == page[temperature]
    rebar_half = logit_moments(model, 0.5, 1.0)[1]
    monkeypatch.setattr(rebar, "conditional_sample", unconditional)
    mean, loose = logit_moments(model, 0.5, 1.0)
    print(f"z~ drawn unconditionally, lambda 0.5, nu = 1: {loose:.4g} (REBAR {rebar_half:.4g})")
    np.testing.assert_allclose(mean, exact_mean, rtol=1e-6, atol=1e-8)
    assert loose > rebar_half and f"{loose:.4g}" == "3.687"


@pytest.mark.parametrize("layers,hidden", CASES + [((2, 2), (3,))], ids=IDS + ["two-layer-2-2-tanh"])
def test_a_rebar_step_is_finite_for_extreme_logits_and_uniforms_of_zero_in_float32(layers, hidden):
    """Logits of +-80 in float32 (probabilities that round to 0 and 1), and every third u and v exactly 0 (L = -inf;
    z~ = 0 or -inf, Eq. (G13)): the loss and every gradient finite."""
    model = BinaryHelmholtzMachine(np.random.default_rng(0), data_dim=3, layers=layers, hidden=hidden)
    for _, param, _ in model.named_parameters():
        param[...] = np.where(np.arange(param.size).reshape(param.shape) % 2, 40.0, -40.0)
    trainer = rebar.REBAR(model, temperature=0.1, k=2)
    for optimizer in trainer.optimizers.values():
        optimizer.step = lambda: None

    class Zeros:
        def __init__(self):
            self.rng = np.random.default_rng(0)

        def random(self, shape, dtype=np.float64):
            u = self.rng.random(shape).astype(dtype)
            u.reshape(-1)[::3] = 0.0
            return u
    with np.errstate(invalid="raise", over="raise"):              # no NaN made and none hidden
        loss = trainer.step(X.astype(np.float32), Zeros())["loss"]
    assert np.isfinite(loss)
    assert all(np.isfinite(grad).all() for _, _, grad in model.named_parameters())


def test_rebar_trains_from_run_py_with_its_own_flags_and_resumes_exactly(tmp_path):
    """run.py trains REBAR on a two-layer binary model with its own flags, and a run stopped after one epoch and
    resumed ends with the uninterrupted run's numbers (tests/test_plugins.py::trained_and_resumed)."""
    import json
    from test_plugins import SMALL, trained_and_resumed
    own = ["--temperature", "0.3", "--cv-scale", "0.8", "--k", "2"]
    whole = trained_and_resumed(tmp_path, ["rebar", *SMALL, "--layers", "6", "4", "--binarize", "fixed", "--nll-k", "8",
                                           *own])
    metrics = json.loads((whole / "metrics.json").read_text())
    assert metrics["algorithm"] == "rebar" and np.isfinite(metrics["history"][-1]["loss"])
    for flag, value in zip(own[::2], own[1::2]):
        assert str(metrics["settings"][flag[2:].replace("-", "_")]) == value


@pytest.mark.parametrize("layers,hidden", [((3, 2), (4,)), ((3, 2, 2), ())], ids=["two-layer-tanh", "three-layer"])
def test_the_stacked_relaxed_passes_are_the_two_passes_one_at_a_time(layers, hidden):
    """layer_estimate runs the passes at z and at z~ as one relax of 2k samples from the hard sample's logits, with no
    network's grads formed; here every layer's estimate is recomputed the plain way, each pass on its own through
    concrete.py's relax and relaxed_backward (logits computed again, grads written and ignored), at k = 3 samples of
    N = 4 images, where the quadrature's checks run at one image."""
    model = BinaryHelmholtzMachine(np.random.default_rng(0), data_dim=6, layers=layers, hidden=hidden, dtype=np.float64)
    rng = np.random.default_rng(1)
    for _, param, _ in model.named_parameters():
        param[...] = rng.normal(0, 1.0, param.shape)
    x = (rng.random((4, 6)) < 0.5).astype(np.float64)
    noise, v = logistic_noise(rng.random((3, 4, sum(layers)))), rng.random((3, 4, sum(layers)))
    sample = rebar.hard_sample(model, x, noise)
    signal = rng.normal(0, 5.0, (3, 4))
    starts = np.cumsum([0, *layers])
    for l, (h, eta) in enumerate(zip(sample.hs, sample.logits)):
        below, layer_noise = x if l == 0 else sample.hs[l - 1], noise[..., starts[l]:]
        layer_v = v[..., starts[l]:starts[l + 1]]
        stacked = rebar.layer_estimate(model, l, below, h, eta, signal, layer_noise, layer_v, 0.5, 0.8)
        above, ones = rebar.upper(model, l), np.ones((3, 4))
        at_z = relaxed_backward(above, below, relax(above, below, layer_noise, 0.5), 0.5, ones)
        z_tilde, slope = rebar.conditional_sample(eta, h, layer_v)
        tilde = relax(above, below, np.concatenate([z_tilde - eta, layer_noise[..., layers[l]:]], axis=-1), 0.5)
        at_z_tilde = relaxed_backward(above, below, tilde, 0.5, ones, slope=slope)
        plain = rebar.rebar_logit_gradient(signal, tilde.value, h, eta, at_z, at_z_tilde, 0.8)
        np.testing.assert_allclose(stacked, plain, rtol=1e-12, atol=1e-12)

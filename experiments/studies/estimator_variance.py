"""The phi-gradient's variance and signal-to-noise ratio of every binary estimator at equal cost, counted in decoder
passes per image (derivations/estimators.md):

    python -m experiments.studies.estimator_variance --run RUN_DIR [--passes 2 6 10] [--replicates 100]
        [--json PATH] [--out derivations/figures/estimators-variance-NAME.png]
    python -m experiments.studies.estimator_variance --temperatures \
        --out derivations/figures/estimators-concrete-bias.png

RUN_DIR: a finished NVIL run, whose model and trained baselines are used (as experiments/studies/binary_snr.py does).
At P decoder passes per image: NVIL with P one-sample estimates averaged (each layer's local signal, Eq. (S9), centred
by its trained baseline b_l(h_{l-1}) + c_l; the running scale of Eq. (S10) left out: it does not change the SNR),
RLOO and VIMCO with k = P, DisARM and ARM with P / 2 antithetic pairs averaged, Concrete (tau = 0.5, Jang et al.'s
relaxed objective) with k = P. Each estimate is taken `replicates` times on the same 100 training images (chosen with
seed 0) with fresh noise; a parameter's SNR is |mean| / sd over the replicates, and the table gives the median over phi's
parameters and the total variance (summed over phi's parameters), each with a bootstrap standard error (50 resamples
of the replicates). Each estimator's mean is its own objective's gradient: the ELBO's for NVIL, RLOO, DisARM and ARM,
L_k's for VIMCO, the relaxed objective's for Concrete.

--temperatures draws the Concrete relaxation's exact bias and variance against tau on the tiny model of
tests/test_estimators_concrete.py (quadrature over the noise, enumeration for the ELBO).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

from algorithms.binary.concrete import concrete_objective, logistic_noise
from algorithms.binary.disarm import disarm_objective, noise_width
from algorithms.binary.model import q_backward, run, sample_q, score_p
from algorithms.binary.nvil import local_signals
from algorithms.binary.rloo import rloo_objective
from algorithms.binary.vimco import vimco_objective
from experiments.data import kind_of
from experiments.data.mnist import load_dataset, select_images
from experiments.outputs.figures import plt
from algorithms.binary.exact import state_terms, states
from experiments.studies.binary_results import restored
from nn.functional import sigmoid, softplus

PASSES = (2, 6, 10)
BOOTSTRAP = 50
NAMES = ("NVIL", "RLOO", "VIMCO", "ARM", "DisARM", "Concrete tau=0.5")


def phi_gradient(model):
    return np.concatenate([grad.ravel() for grad in model.gradients("recognition.").values()]).astype(np.float32)


def estimators(model, trainer, x):
    """{name: estimate(passes, rng) -> phi-gradient of minus the estimator's objective}, on the minibatch x."""
    total = sum(model.layers)

    def nvil(passes, rng):
        sample = sample_q(model, x, rng.random((passes, x.shape[0], total), dtype=model.dtype))
        signals = local_signals(score_p(model, x, sample.hs, keep=False), sample)
        weights = []
        for l, (net, below) in enumerate(zip(trainer.baselines, [x, *sample.hs[:-1]])):
            baseline = run(net, below, keep=False)[0][..., 0]
            weights.append((-(signals[l] - baseline - trainer.centre[l]) / (passes * x.shape[0])).astype(model.dtype))
        q_backward(model, sample, weights)
        return phi_gradient(model)

    def rloo(passes, rng):
        rloo_objective(model, x, rng.random((passes, x.shape[0], total), dtype=model.dtype))
        return phi_gradient(model)

    def vimco(passes, rng):
        vimco_objective(model, x, rng.random((passes, x.shape[0], total), dtype=model.dtype))
        return phi_gradient(model)

    def antithetic(estimator):
        def estimate(passes, rng):
            tiled = np.tile(x, (passes // 2, 1))
            disarm_objective(model, tiled, rng.random((tiled.shape[0], noise_width(model.layers)), dtype=model.dtype),
                             estimator)
            return phi_gradient(model)
        return estimate

    def concrete(passes, rng):
        uniforms = rng.random((passes, x.shape[0], total), dtype=model.dtype)
        concrete_objective(model, x, logistic_noise(uniforms), 0.5)
        return phi_gradient(model)
    return dict(zip(NAMES, (nvil, rloo, vimco, antithetic("arm"), antithetic("disarm"), concrete)))


def statistics(draws, rng):
    """(total variance, median SNR) of draws (R, P), each as (value, bootstrap standard error)."""
    def both(sample):
        mean, sd = sample.mean(axis=0, dtype=np.float64), sample.std(axis=0, ddof=1, dtype=np.float64)
        moving = sd > 0
        return float((sd ** 2).sum()), float(np.median(np.abs(mean[moving]) / sd[moving]))
    value = both(draws)
    boot = np.array([both(draws[rng.integers(0, len(draws), len(draws))]) for _ in range(BOOTSTRAP)])
    return {"variance": [value[0], float(boot[:, 0].std(ddof=1))], "snr": [value[1], float(boot[:, 1].std(ddof=1))]}


def measure(model, trainer, x, passes, replicates, rng):
    result = {}
    for name, estimate in estimators(model, trainer, x).items():
        result[name] = {}
        for p in passes:
            draws = np.array([estimate(p, rng) for _ in range(replicates)])
            result[name][p] = statistics(draws, rng)
            print(f"{name:<18} P={p:<3} variance {result[name][p]['variance'][0]:.4g} "
                  f"± {result[name][p]['variance'][1]:.2g}, median SNR {result[name][p]['snr'][0]:.4g} "
                  f"± {result[name][p]['snr'][1]:.2g}", flush=True)
    return result


def jacobian_gram(model, x):
    """G_n = J_n J_n^T for every image, J_n = d eta_1(x_n) / d phi (J x phi's size): one backward pass of f_1 per logit.
    x: (N, D) -> (N, J, J), float64."""
    net, units = model.recognition[0], model.layers[0]
    grams = np.zeros((x.shape[0], units, units))
    for n in range(x.shape[0]):
        _, cache = net.forward(x[n:n + 1])
        rows_ = []
        for j in range(units):
            net.backward(np.eye(units, dtype=model.dtype)[j:j + 1], cache, input_grad=False)
            rows_.append(np.concatenate([grad.ravel() for _, _, grad in net.named_parameters()]).astype(np.float64))
        jacobian = np.array(rows_)
        grams[n] = jacobian @ jacobian.T
    return grams


def exact_moments(model, x, chunk=4096):
    """For a one-layer model, by summing over all 2^J states in chunks, per image (float64): E[l], E[l^2], u1 = E[l s],
    and S_a = E[l^a s s^T] for a = 0, 1, 2, where l = log p(x, h) - log q(h | x) and s = h - sigmoid(eta) (the score of
    log q in the logits eta = f_1(x), Eq. (S3)). The states are shared by the images, so each chunk is three products:
    with w_a = q l^a, sum_h w_a h h^T, sum_h w_a h and sum_h w_a, from which S_a = sum w_a (h - m)(h - m)^T."""
    units, n = model.layers[0], x.shape[0]
    eta = model.recognition[0](x).astype(np.float64)                                    # (N, J)
    mean_q, log_norm = sigmoid(eta), softplus(eta).sum(axis=1)
    outer, first, total = np.zeros((3, n, units * units)), np.zeros((3, n, units)), np.zeros((3, n))
    for start in range(0, 2 ** units, chunk):
        h = states(start, min(start + chunk, 2 ** units), units, model.dtype)
        logits_t, constant = state_terms(model, h)
        log_joint = x.astype(np.float64) @ logits_t.astype(np.float64) + constant.astype(np.float64)   # (N, C)
        hd = h.astype(np.float64)
        log_q = eta @ hd.T - log_norm[:, None]                                                # (N, C)
        signal, q = log_joint - log_q, np.exp(log_q)
        weights = np.stack([q, q * signal, q * signal ** 2])                                  # (3, N, C)
        outer += weights @ (hd[:, :, None] * hd[:, None, :]).reshape(len(hd), -1)
        first += weights @ hd
        total += weights.sum(axis=2)
    outer = outer.reshape(3, n, units, units)
    m = {"l": total[1], "l2": total[2], "u1": first[1] - total[1][:, None] * mean_q}
    for a in range(3):
        cross = first[a][:, :, None] * mean_q[:, None, :]
        m[f"S{a}"] = outer[a] - cross - cross.transpose(0, 2, 1) \
            + total[a][:, None, None] * mean_q[:, :, None] * mean_q[:, None, :]
    return m


def exact_variances(moments, grams, centres, passes):
    """The exact total variance (summed over phi) of NVIL's and RLOO's phi-gradient on the minibatch, from the moments:
    with Q = s^T G s, u1 = E[l s] (the mean is J^T u1 for both),
      NVIL, P one-sample estimates centred by c:  (tr G E[(l - c)^2 s s^T] - u1^T G u1) / P per image;
      RLOO, k = P:  (1/k^2)(k T + k(k - 1)(1 + c'^2) u1^T G u1) - u1^T G u1 per image, c' = 1/(k - 1),
                    T = E[l^2 Q] - 2 E[l] E[l Q] + E[B^2] E[Q], E[B^2] = Var(l)/(k - 1) + E[l]^2
    (the cross terms between two samples keep only l_i l_j: E[s] = 0); the minibatch's is the images' sum over N^2."""
    def trace(g, s):
        return np.einsum("nij,nji->n", g, s)
    signal_term = np.einsum("ni,nij,nj->n", moments["u1"], grams, moments["u1"])
    result = {"NVIL": {}, "RLOO": {}}
    n = len(grams)
    for p in passes:
        c = centres
        m2 = moments["S2"] - 2 * c[:, None, None] * moments["S1"] + c[:, None, None] ** 2 * moments["S0"]
        result["NVIL"][p] = float(((trace(grams, m2) - signal_term) / p).sum() / n ** 2)
        k, other = p, 1.0 / (p - 1)
        b2 = (moments["l2"] - moments["l"] ** 2) * other + moments["l"] ** 2
        t = trace(grams, moments["S2"]) - 2 * moments["l"] * trace(grams, moments["S1"]) \
            + b2 * trace(grams, moments["S0"])
        per_image = (k * t + k * (k - 1) * (1 + other ** 2) * signal_term) / k ** 2 - signal_term
        result["RLOO"][p] = float(per_image.sum() / n ** 2)
    return result


def figure(result, title, out):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, style in zip(NAMES, ("o-", "s-", "^-", "v:", "D-", "x--")):
        by_p = result[name]
        passes = [int(p) for p in by_p]
        for ax, key in zip(axes, ("variance", "snr")):
            values = np.array([by_p[p][key] for p in by_p])
            ax.errorbar(passes, values[:, 0], yerr=values[:, 1], fmt=style, label=name, capsize=2)
    for ax, label in zip(axes, ("total variance of the phi-gradient", "median SNR over phi's parameters")):
        ax.set_xscale("log"), ax.set_yscale("log"), ax.set_xlabel("decoder passes per image"), ax.set_ylabel(label)
        ax.set_xticks(passes, [str(p) for p in passes]), ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.grid(alpha=0.3, which="both")
    axes[1].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def with_error(value, se):
    """"value ± se", both to the decimal place of se's second significant digit (730.5 ± 8.4, 1733 ± 24)."""
    decimals = max(0, 1 - int(np.floor(np.log10(se)))) if se > 0 else 4
    return f"{value:.{decimals}f} ± {se:.{decimals}f}"


def table(result):
    """derivations/estimators.md's table of a result: each estimator's total variance and median SNR at every P, ±
    bootstrap standard errors, with the exact variance beside where it was computed."""
    passes = list(next(iter(result.values())))
    lines = ["| estimator | " + " | ".join(f"variance, P = {p}" for p in passes) + " | "
             + " | ".join(f"median SNR, P = {p}" for p in passes) + " |", "| --- |" + " --- |" * (2 * len(passes))]
    for name, by_p in result.items():
        variances = [with_error(*by_p[p]["variance"]) + (f" (exact {by_p[p]['exact_variance']:.2f})"
                                                          if "exact_variance" in by_p[p] else "") for p in passes]
        lines.append(f"| {name.replace('tau=', 'τ = ')} | " + " | ".join(variances) + " | "
                     + " | ".join(with_error(*by_p[p]["snr"]) for p in passes) + " |")
    return "\n".join(lines)


def temperature_figure(out):
    """The Concrete relaxation's exact bias and variance against tau on the tiny one-layer model."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
    # the tiny model, the exact gradient and the quadrature are the tests' own: imported from them, not copied
    from test_estimators import exact_gradient, is_phi, tiny
    from test_estimators_concrete import bias_and_variance
    model = tiny((2,), ())
    exact, phi = exact_gradient(model), is_phi(model)
    temperatures = np.geomspace(0.01, 3.0, 16)
    rows = []
    for tau in temperatures:
        expected, variance = bias_and_variance(model, tau)
        bias = expected - exact
        rows.append([np.linalg.norm(bias[phi]) / np.linalg.norm(exact[phi]),
                     np.linalg.norm(bias[~phi]) / np.linalg.norm(exact[~phi]), variance])
    rows = np.array(rows)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].plot(temperatures, rows[:, 0], "o-", label="phi")
    axes[0].plot(temperatures, rows[:, 1], "s-", label="theta")
    axes[0].set_ylabel("|E g_tau - grad ELBO| / |grad ELBO|")
    axes[1].plot(temperatures, rows[:, 2], "o-")
    axes[1].set_ylabel("variance of phi's estimate, one image, one sample")
    for ax in axes:
        ax.set_xscale("log"), ax.set_yscale("log"), ax.set_xlabel("temperature tau"), ax.grid(alpha=0.3, which="both")
    axes[0].legend()
    fig.suptitle("Concrete relaxation on the tiny model, exact (quadrature over the noise, enumeration for the ELBO)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    return {f"{tau:.4g}": list(map(float, row)) for tau, row in zip(temperatures, rows)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a finished NVIL run's folder")
    parser.add_argument("--passes", type=int, nargs="+", default=list(PASSES), help="decoder passes (even)")
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--temperatures", action="store_true", help="the Concrete bias figure instead")
    parser.add_argument("--out", type=Path, default=Path("estimators-variance.png"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--replot", type=Path, help="draw the figure again from a --json written before")
    args = parser.parse_args()
    if args.replot:
        result = json.loads(args.replot.read_text())
        figure(result, f"{args.run.name if args.run else args.replot.stem}: {args.replicates} replicates on 100 "
                       "training images, ± bootstrap standard errors", args.out)
        return print(table(result))
    if args.temperatures:
        result = temperature_figure(args.out)
    else:
        if args.run is None or any(p % 2 for p in args.passes):
            parser.error("--run is needed, and every --passes even (DisARM's pairs)")
        model, trainer, settings = restored(args.run)
        train = select_images(load_dataset(settings.data_dir), settings, kind_of(settings)).train
        x = train[np.random.default_rng(0).choice(len(train), 100, replace=False)]
        result = measure(model, trainer, x, args.passes, args.replicates, np.random.default_rng(1))
        if len(model.layers) == 1 and model.layers[0] <= 20:         # NVIL and RLOO exactly, over every state
            centres = (trainer.baselines[0](x)[:, 0] + trainer.centre[0]).astype(np.float64)
            exact = exact_variances(exact_moments(model, x), jacobian_gram(model, x), centres, args.passes)
            for name, by_p in exact.items():
                for p, value in by_p.items():
                    result[name][p]["exact_variance"] = value
                    print(f"{name:<18} P={p:<3} exact variance {value:.4g}")
        figure(result, f"{args.run.name}: {args.replicates} replicates on 100 training images, "
                       f"± bootstrap standard errors", args.out)
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    if not args.temperatures:
        print(table(result))


if __name__ == "__main__":
    main()

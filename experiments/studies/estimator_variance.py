"""The phi-gradient's variance and signal-to-noise ratio of every binary estimator at equal cost, counted in decoder
passes per image (derivations/estimators.md):

    python -m experiments.studies.estimator_variance --run RUN_DIR [--passes 2 6 10] [--replicates 100]
        [--json PATH] [--out derivations/figures/estimators-variance-NAME.png]
    python -m experiments.studies.estimator_variance --temperatures \
        --out derivations/figures/estimators-concrete-bias.png
    python -m experiments.studies.estimator_variance --run RUN_DIR --rebar-signal

RUN_DIR: a finished NVIL run, whose model and trained baselines are used (as experiments/studies/binary_snr.py does).
At P decoder passes per image: NVIL with P one-sample estimates averaged (each layer's local signal, Eq. (S9), centred
by its trained baseline b_l(h_{l-1}) + c_l; the running scale of Eq. (S10) left out: it does not change the SNR),
RLOO and VIMCO with k = P, DisARM and ARM with P / 2 antithetic pairs averaged, Concrete (tau = 0.5, Jang et al.'s
relaxed objective) with k = P, REBAR (tau = 0.5, nu = 1, three passes a sample) with k = P / 3 where 3 divides P,
and REBAR with the leave-one-out baseline of Eq. (G17) where k = P / 3 is at least 2.
Each estimate is taken `replicates` times on the same 100 training images (chosen with
seed 0) with fresh noise; a parameter's SNR is |mean| / sd over the replicates, and the table gives the median over phi's
parameters and the total variance (summed over phi's parameters), each with a bootstrap standard error (50 resamples
of the replicates). Each estimator's mean is its own objective's gradient: the ELBO's for NVIL, RLOO, DisARM, ARM and
REBAR, L_k's for VIMCO, the relaxed objective's for Concrete. REBAR is measured after the others, and REBAR with its
baseline last, so that adding each left every other estimator's random numbers, and so its result, as they were.

--rebar-signal prints what REBAR's score term multiplies on the run's model: the first layer's learning signal l(b)
and the residual l(b) - c(z~) it leaves (Eq. (G15)), their mean and spread over 50 samples of the same 100 images.

--temperatures draws the Concrete relaxation's exact bias and variance against tau on the tiny model of
tests/test_estimators_concrete.py (quadrature over the noise, enumeration for the ELBO).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

from algorithms.binary.concrete import concrete_objective, logistic_noise, relax
from algorithms.binary.disarm import disarm_objective, noise_width
from algorithms.binary.model import open_uniforms, q_backward, run, sample_q, score_p
from algorithms.binary.nvil import local_signals
from algorithms.binary.rebar import conditional_noise, hard_sample, rebar_objective
from algorithms.binary.rloo import rloo_objective
from algorithms.binary.vimco import vimco_objective
from experiments.data import kind_of
from experiments.data.mnist import load_dataset, select_images
from experiments.outputs.figures import plt
from experiments.studies.binary_results import restored
from experiments.studies.exact_variance import exact_moments, exact_variances, jacobian_gram

PASSES = (2, 6, 10)
BOOTSTRAP = 50
NAMES = ("NVIL", "RLOO", "VIMCO", "ARM", "DisARM", "Concrete tau=0.5", "REBAR tau=0.5", "REBAR-LOO tau=0.5")
# (decoder passes a sample, fewest samples): measured only at the P that gives that; the others at every P
SAMPLES = {"REBAR tau=0.5": (3, 1), "REBAR-LOO tau=0.5": (3, 2)}


def measured_at(name, passes):
    """Whether the estimator `name` is measured at `passes` decoder passes per image (SAMPLES)."""
    per_sample, fewest = SAMPLES.get(name, (1, 1))
    return passes % per_sample == 0 and passes // per_sample >= fewest


def phi_gradient(model):
    return np.concatenate([grad.ravel() for grad in model.gradients("recognition.").values()]).astype(np.float32)


def estimators(model, trainer, x):
    """{name: estimate(passes, rng) -> phi-gradient of minus the estimator's objective}, on the minibatch x."""
    total = sum(model.layers)

    def nvil(passes, rng):
        sample = sample_q(model, x, open_uniforms(rng, (passes, x.shape[0], total), model.dtype))
        signals = local_signals(score_p(model, x, sample.hs, keep=False), sample)
        weights = []
        for l, (net, below) in enumerate(zip(trainer.baselines, [x, *sample.hs[:-1]])):
            baseline = run(net, below, keep=False)[0][..., 0]
            weights.append((-(signals[l] - baseline - trainer.centre[l]) / (passes * x.shape[0])).astype(model.dtype))
        q_backward(model, sample, weights)
        return phi_gradient(model)

    def rloo(passes, rng):
        rloo_objective(model, x, open_uniforms(rng, (passes, x.shape[0], total), model.dtype))
        return phi_gradient(model)

    def vimco(passes, rng):
        vimco_objective(model, x, open_uniforms(rng, (passes, x.shape[0], total), model.dtype))
        return phi_gradient(model)

    def antithetic(estimator):
        def estimate(passes, rng):
            tiled = np.tile(x, (passes // 2, 1))
            disarm_objective(model, tiled, open_uniforms(rng, (tiled.shape[0], noise_width(model.layers)), model.dtype),
                             estimator)
            return phi_gradient(model)
        return estimate

    def concrete(passes, rng):
        uniforms = open_uniforms(rng, (passes, x.shape[0], total), model.dtype)
        concrete_objective(model, x, logistic_noise(uniforms), 0.5)
        return phi_gradient(model)

    def rebar(baseline):
        def estimate(passes, rng):
            u, v = (open_uniforms(rng, (passes // 3, x.shape[0], total), model.dtype) for _ in range(2))
            rebar_objective(model, x, logistic_noise(u), v, temperature=0.5, scale=1.0, baseline=baseline)
            return phi_gradient(model)
        return estimate
    return dict(zip(NAMES, (nvil, rloo, vimco, antithetic("arm"), antithetic("disarm"), concrete, rebar("none"),
                            rebar("leave-one-out"))))


def study_images(settings):
    """The 100 training images every estimate is taken on (chosen with seed 0), as the run saw them."""
    train = select_images(load_dataset(settings.data_dir), settings, kind_of(settings)).train
    return train[np.random.default_rng(0).choice(len(train), 100, replace=False)]


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
            if not measured_at(name, p):
                continue
            draws = np.array([estimate(p, rng) for _ in range(replicates)])
            result[name][p] = statistics(draws, rng)
            print(f"{name:<18} P={p:<3} variance {result[name][p]['variance'][0]:.4g} "
                  f"± {result[name][p]['variance'][1]:.2g}, median SNR {result[name][p]['snr'][0]:.4g} "
                  f"± {result[name][p]['snr'][1]:.2g}", flush=True)
    return result


def rebar_residual(model, x, temperature=0.5, samples=50, seed=5):
    """{"l(b)": l, "l(b) - c(z~)": l - c}, each (samples, N) float64: the first layer's learning signal (the whole
    ELBO integrand, Eq. (S9)) at hard samples b, and the residual that REBAR's score term multiplies at nu = 1
    (Eq. (G15)), c(z~) the relaxed objective at the conditional sample z~ of the first layer (Eq. (G13)), the layers
    above at the hard sample's noise (Eq. (G16))."""
    rng = np.random.default_rng(seed)
    u, v = (open_uniforms(rng, (samples, x.shape[0], sum(model.layers)), model.dtype) for _ in range(2))
    noise = logistic_noise(u)
    sample = hard_sample(model, x, noise)
    signal = (sum(score_p(model, x, sample.hs, keep=False).terms) - sum(sample.terms)).astype(np.float64)
    tilde_noise, _ = conditional_noise(sample.logits[0], sample.hs[0], v[..., :model.layers[0]], noise)
    control = relax(model, x, tilde_noise, temperature, keep=False, first_logits=sample.logits[0]).value
    return {"l(b)": signal, "l(b) - c(z~)": signal - control.astype(np.float64)}


def figure(result, title, out):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    passes = sorted({int(p) for by_p in result.values() for p in by_p})
    for name, style in zip(NAMES, ("o-", "s-", "^-", "v:", "D-", "x--", "*", "P")):
        by_p = result.get(name, {})
        for ax, key in zip(axes, ("variance", "snr")):
            values = np.array([by_p[p][key] for p in by_p]).reshape(-1, 2)
            ax.errorbar([int(p) for p in by_p], values[:, 0], yerr=values[:, 1], fmt=style, label=name, capsize=2,
                        markersize=10 if style in ("*", "P") else None)
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
    bootstrap standard errors, with the exact variance beside where it was computed; "—" at a P not measured."""
    passes = list(dict.fromkeys(p for by_p in result.values() for p in by_p))
    lines = ["| estimator | " + " | ".join(f"variance, P = {p}" for p in passes) + " | "
             + " | ".join(f"median SNR, P = {p}" for p in passes) + " |", "| --- |" + " --- |" * (2 * len(passes))]
    for name, by_p in result.items():
        variances = [with_error(*by_p[p]["variance"]) + (f" (exact {by_p[p]['exact_variance']:.2f})"
                                                          if "exact_variance" in by_p[p] else "")
                     if p in by_p else "—" for p in passes]
        lines.append(f"| {name.replace('tau=', 'τ = ')} | " + " | ".join(variances) + " | "
                     + " | ".join(with_error(*by_p[p]["snr"]) if p in by_p else "—" for p in passes) + " |")
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
    parser.add_argument("--rebar-signal", action="store_true", help="REBAR's residual learning signal instead")
    parser.add_argument("--out", type=Path, default=Path("estimators-variance.png"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--replot", type=Path, help="draw the figure again from a --json written before")
    args = parser.parse_args()
    if args.replot:
        result = json.loads(args.replot.read_text())
        figure(result, f"{args.run.name if args.run else args.replot.stem}: {args.replicates} replicates on 100 "
                       "training images, ± bootstrap standard errors", args.out)
        return print(table(result))
    if args.rebar_signal:
        model, _, settings = restored(args.run)
        for name, values in rebar_residual(model, study_images(settings)).items():
            within = np.sqrt(values.var(axis=0, ddof=1).mean())
            print(f"{name:<14} mean {values.mean():8.2f}, sd over samples within an image {within:6.2f}, "
                  f"root mean square {np.sqrt((values ** 2).mean()):7.2f}")
        return
    if args.temperatures:
        result = temperature_figure(args.out)
    else:
        if args.run is None or any(p % 2 for p in args.passes):
            parser.error("--run is needed, and every --passes even (DisARM's pairs)")
        model, trainer, settings = restored(args.run)
        x = study_images(settings)
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

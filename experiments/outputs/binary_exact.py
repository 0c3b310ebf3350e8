"""The exact evaluation of a binary model of one layer of at most 20 units (derivations/binary.md, Eqs. (S12)-(S14)):
log p(x) of every test image by enumerating the 2^J states, the gaps log p(x) - L_k for k = 1, 10, 100, 1000, the
inference gap KL(q || p(h | x)) exactly, the entropies of the true posterior and of q, and the most probable states of
each for 8 test digits."""
import time

import numpy as np

from algorithms import name_of
from algorithms.binary.exact import enumerate_log_px, most_probable_states
from algorithms.bound import importance_weighted_bounds, mean_and_standard_error
from experiments.harness.progress import progress
from experiments.outputs import figures
from experiments.outputs.extension import Extension, Section
from experiments.outputs.figures import plt

KS = (1, 10, 100, 1000)
N_DIGITS, N_STATES = 8, 3


def binary_exact_evaluation(model, test, settings, log=print):
    """(summary for metrics.json, per-image arrays for bounds.npz) on the run's test images."""
    began = time.perf_counter()
    with progress(f"exact log p(x) over 2^{model.layers[0]} states", 2 ** model.layers[0], unit="state") as done:
        exact = enumerate_log_px(model, test, posterior=True, done=done)
    enumeration_seconds = time.perf_counter() - began
    bounds, _ = importance_weighted_bounds(model, test, KS, seed=settings.seed)
    summary = {"images": len(test), "units": model.layers[0],
               "log_px": mean_and_standard_error(exact.log_px),
               "elbo": mean_and_standard_error(exact.elbo),
               "kl_q_to_posterior": mean_and_standard_error(exact.kl),
               "kl_percentiles": dict(zip(("50", "90", "99"), np.percentile(exact.kl, [50, 90, 99]).tolist())),
               "posterior_entropy": mean_and_standard_error(exact.posterior_entropy),
               "q_entropy": mean_and_standard_error(exact.q_entropy),
               "gaps": {str(k): mean_and_standard_error(exact.log_px - bounds[k]) for k in KS},
               "bounds": {str(k): mean_and_standard_error(bounds[k]) for k in KS},
               "enumeration_seconds": enumeration_seconds, "seconds": time.perf_counter() - began}
    arrays = {"exact/log_px": exact.log_px, "exact/elbo": exact.elbo, "exact/kl": exact.kl,
              "exact/posterior_entropy": exact.posterior_entropy, "exact/q_entropy": exact.q_entropy,
              **{f"exact/L_{k}": bounds[k] for k in KS}}
    log(f"exact log p(x) {summary['log_px'][0]:.2f} ± {summary['log_px'][1]:.2f} on {len(test)} test images by "
        f"enumerating 2^{model.layers[0]} states ({enumeration_seconds:.0f} s); log p(x) - L_100 "
        f"{summary['gaps']['100'][0]:.2f} ± {summary['gaps']['100'][1]:.2f}; KL(q || p(h|x)) "
        f"{summary['kl_q_to_posterior'][0]:.2f} ± {summary['kl_q_to_posterior'][1]:.2f}")
    return summary, arrays


def draw_states(path, model, test, labels, shape, seed, title):
    """For 8 test digits (fixed by the seed): the digit, then the 3 most probable states of p(h | x) and of q(h | x),
    each drawn as the image it decodes to, E[x | h], with its probability beside it. One image of tiles (figures.tile)
    on one set of axes."""
    count = min(N_DIGITS, len(test))          # all the test digits, when there are fewer
    rows = np.sort(np.random.default_rng([seed, 5]).choice(len(test), count, replace=False))
    columns, units, height = 1 + 2 * N_STATES, model.layers[0], shape[0] + 1
    tiles, notes = [], []
    for r, row in enumerate(rows):
        best = most_probable_states(model, test[row], count=N_STATES)
        tiles.append(test[row])
        notes.append((r, 0, f"{labels[row]}", "black"))
        for column, name in enumerate(("p", "q")):
            numbers, probabilities = best[name]
            states = ((numbers[:, None] >> np.arange(units)) & 1).astype(model.dtype)
            tiles.extend(model.likelihood.mean(model.decode(states)))
            notes += [(r, 1 + column * N_STATES + i, f"{probabilities[i]:.2f}", "C0" if name == "p" else "C1")
                      for i in range(N_STATES)]
    fig, ax = plt.subplots(figsize=(1.1 * columns, 1.2 * count + 0.6))
    ax.imshow(figures.tile(np.array(tiles), shape, count, columns), cmap="gray", vmin=0, vmax=1)
    for r, c, text, colour in notes:
        ax.text(c * (shape[1] + 1) + 1, r * height + 4, text, color=colour, fontsize=7,
                bbox={"facecolor": "white", "alpha": 0.8, "pad": 0.5, "linewidth": 0})
    ax.set_axis_off()
    ax.set_title(f"{title}: digit, then its 3 most probable states under p(h | x) (blue) and under q(h | x) "
                 "(orange),\neach drawn as E[x | h] with its probability", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


class BinaryExactEvaluation(Extension):
    """The extension that ends a run with one binary layer of at most 20 units unless --no-exact
    (experiments/outputs/__init__.py): binary_exact_evaluation, exact_gap.png, states.png and their report section."""

    doing = "computing the exact log p(x) by enumeration"

    def run_end(self, run, out, log, arrays):
        summary, arrays = binary_exact_evaluation(run.model, run.images.test, run.settings, log)
        name = name_of(run.settings.algorithm)
        figures.plot_gaps(out / "exact_gap.png", {name: summary["gaps"]})
        draw_states(out / "states.png", run.model, run.images.test, run.images.test_labels, run.image_shape,
                    run.settings.seed, name)
        return Section(final={"exact": summary}, arrays=arrays, lines=report_lines(summary))


def report_lines(summary):
    line = lambda label, key: f"| {label} | {summary[key][0]:.3f} ± {summary[key][1]:.3f} |"
    kl = summary["kl_percentiles"]
    lines = [f"## Exact log-likelihood ({summary['units']} binary units, by enumerating their "
             f"2^{summary['units']} states)", "",
             f"On the {summary['images']} test images; ± is the standard error over images (for a gap, paired).", "",
             "| quantity | nats per image |", "| --- | --- |", line("log p(x)", "log_px"),
             line("ELBO, exactly: E_q[log p(x, h) − log q(h\\|x)]", "elbo"),
             line("KL(q(h\\|x) \\|\\| p(h\\|x)) = log p(x) − ELBO", "kl_q_to_posterior"),
             line("entropy of the true posterior p(h\\|x)", "posterior_entropy"), line("entropy of q(h\\|x)", "q_entropy")]
    lines += [f"| log p(x) − L_{k} (1000 samples per image) | {gap[0]:.3f} ± {gap[1]:.3f} |"
              for k, gap in summary["gaps"].items()]
    lines += ["", f"Per image, KL(q || p(h|x)) has median {kl['50']:.2f}, 90th percentile {kl['90']:.2f} and 99th "
              f"percentile {kl['99']:.2f} nats. The enumeration took {summary['enumeration_seconds']:.0f} s.", "",
              "**log p(x) − L_k against k**", "", "![the gap against k](exact_gap.png)", "",
              "**the most probable states of the true posterior and of q, for 8 test digits**", "",
              "![states](states.png)", ""]
    return lines

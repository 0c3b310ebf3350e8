"""The exact evaluation of a trained 2-D model (derivations/exact-likelihood.md): log p(x) of every test image by
quadrature, the gaps log p(x) - L_k for k = 1, 10, 100, 1000, the inference gap KL(q || p(z | x)), and the true
posterior of 12 test digits beside q."""
import time

import numpy as np

from algorithms import name_of
from algorithms.bound import importance_weighted_bound, importance_weighted_bounds, mean_and_standard_error
from algorithms.exact import exact_log_marginal
from algorithms.posterior import posterior_windows
from experiments.harness.progress import progress
from experiments.outputs import figures
from experiments.outputs.extension import Extension, Section

KS = (1, 10, 100, 1000)
N_POSTERIORS = 12


def train_images_exactly(model, train_subset, settings, last_train_bounds):
    """On the training images of the train bound: exact log p(x), and its paired gap to the run's own L_k there
    (last_train_bounds, the final evaluation's per-image bounds, computed again if not given)."""
    log_px = exact_log_marginal_of(model, train_subset).log_px
    if last_train_bounds is None:
        last_train_bounds = importance_weighted_bound(model, train_subset, settings.eval_k, seed=settings.seed)
    return {"images": len(train_subset), "log_px": mean_and_standard_error(log_px),
            f"gap_{settings.eval_k}": mean_and_standard_error(log_px - last_train_bounds)}, log_px


# exact_log_marginal's: the per-image change allowed on halving, the hot cells' reach, the first square's half-width
# and how often it may widen by 4 (to 32: a continuous-Bernoulli Wake-Sleep model's posteriors lie out to 20 and
# beyond; the widest scan's logits take 2 GB)
TOLERANCE, HOT_NATS, SQUARE, WIDENINGS = 1e-3, 40.0, 8.0, 6


def exact_log_marginal_of(model, images, what="exact log p(x) by quadrature"):
    """exact_log_marginal with the cell of q's mean hot for each image: a peak narrower than the scan's spacing,
    which the scan can see more than HOT_NATS below its largest value, is integrated where q points; a progress bar
    of images says how far it is."""
    with progress(what, len(images), unit="image") as done:
        return exact_log_marginal(model, images, tolerance=TOLERANCE, hot_nats=HOT_NATS, limit=SQUARE,
                                  inner_limit=SQUARE - 1, widenings=WIDENINGS, look_at=model.encode(images)[0],
                                  done=done)


def exact_evaluation(model, test, train_subset, settings, log=print, last_train_bounds=None):
    """(summary for metrics.json, per-image arrays for bounds.npz) on the run's test images, and log p(x) on its
    training images (train_subset, where the train bound is evaluated), beside the final train bound; both as
    experiments/data/mnist.py::select_images gives them."""
    began = time.perf_counter()
    exact = exact_log_marginal_of(model, test)
    quadrature_seconds = time.perf_counter() - began
    train_summary, train_log_px = train_images_exactly(model, train_subset, settings, last_train_bounds)
    bounds, elbo = importance_weighted_bounds(model, test, KS, seed=settings.seed)
    summary = {
        "images": len(test),
        "log_px": mean_and_standard_error(exact.log_px),
        "elbo": mean_and_standard_error(elbo),
        "kl_q_to_posterior": mean_and_standard_error(exact.log_px - elbo),
        "kl_percentiles": dict(zip(("50", "90", "99"), np.percentile(exact.log_px - elbo, [50, 90, 99]).tolist())),
        "gap_100_percentiles": dict(zip(("50", "90", "99"),
                                        np.percentile(exact.log_px - bounds[100], [50, 90, 99]).tolist())),
        "gaps": {str(k): mean_and_standard_error(exact.log_px - bounds[k]) for k in KS},
        "bounds": {str(k): mean_and_standard_error(bounds[k]) for k in KS},
        "accuracy": {"spacings": {f"{h:g}": int(n) for h, n in zip(*np.unique(exact.spacing, return_counts=True))},
                     "points": exact.points, "tolerance": TOLERANCE, "hot_nats": HOT_NATS,
                     "unresolved_images": int(np.sum((np.abs(exact.spacing_change) > TOLERANCE)
                                                     | (np.abs(exact.range_change) > TOLERANCE))),
                     "widened_images": int(np.sum(exact.limit > SQUARE)),
                     "largest_square": float(exact.limit.max()),
                     "spacing_change_mean": float(exact.spacing_change.mean()),
                     "spacing_change_max": float(np.abs(exact.spacing_change).max()),
                     "range_change_max": float(np.abs(exact.range_change).max()),
                     "outside_estimate_max": float(np.expm1(exact.outside.max()))},
        "train": train_summary,
        "quadrature_seconds": quadrature_seconds,
        "seconds": time.perf_counter() - began,
    }
    arrays = {"exact/log_px": exact.log_px, "exact/elbo": elbo, **{f"exact/L_{k}": bounds[k] for k in KS},
              "exact/train_log_px": train_log_px}
    log(f"exact log p(x) {summary['log_px'][0]:.2f} ± {summary['log_px'][1]:.2f} on {len(test)} test images "
        f"(largest change on refining, any image: {summary['accuracy']['spacing_change_max']:.1e} nats); "
        f"log p(x) - L_100 {summary['gaps']['100'][0]:.2f} ± {summary['gaps']['100'][1]:.2f}; "
        f"KL(q || p(z|x)) {summary['kl_q_to_posterior'][0]:.2f}")
    return summary, arrays


class ExactEvaluation(Extension):
    """The extension that a 2-D run's end adds unless --no-exact (experiments/outputs/__init__.py): exact_evaluation
    on its test images and the train bound's, exact_gap.png, posteriors.png, and their section of report.md."""

    doing = "computing the exact log p(x) by quadrature"

    def run_end(self, run, out, log, arrays):
        last_train = run.bounds.get(f"train/{run.history[-1]['epoch']}")
        summary, arrays = exact_evaluation(run.model, run.images.test, run.images.train_subset, run.settings, log,
                                           last_train)
        name = name_of(run.settings.algorithm)
        figures.plot_gaps(out / "exact_gap.png", {name: summary["gaps"]})
        draw_posteriors(out / "posteriors.png", run.model, run.images.test, run.images.test_labels, run.image_shape,
                        run.settings, name)
        return Section(final={"exact": summary}, arrays=arrays, lines=report_lines(summary, run.settings.eval_k))


def posterior_digits(n_test, seed):
    """The indices of the 12 test digits whose posteriors are drawn (all of them, when there are fewer): fixed by the
    seed, the same for every algorithm."""
    return np.sort(np.random.default_rng([seed, 5]).choice(n_test, min(N_POSTERIORS, n_test), replace=False))


def draw_posteriors(path, model, test, test_labels, shape, settings, title):
    """p(z | x) as a heat map with q's 1- and 2-sd ellipses, beside the digit, for the 12 digits (of the test images
    experiments/data/mnist.py::select_images gives, each of the given shape)."""
    rows = posterior_digits(len(test), settings.seed)
    mean, log_var = model.encode(test[rows])
    panels = []
    windows = posterior_windows(model, test[rows], mean, log_var)
    for n, (row, (extent, density)) in enumerate(zip(rows, windows)):
        panels.append({"image": test[row].reshape(shape), "extent": extent, "density": density,
                       "q_mean": mean[n], "q_sd": np.exp(0.5 * log_var[n]), "label": int(test_labels[row])})
    figures.plot_posteriors(path, panels, title)


def report_lines(summary, k_evaluated):
    """Markdown for report.md: the exact log-likelihood, the gaps, the inference gap and the accuracy."""
    accuracy = summary["accuracy"]
    lines = ["## Exact log-likelihood (2-D latent, by quadrature)", "",
             f"On the {summary['images']} test images; ± is the standard error over images (for a gap, paired: the "
             "per-image differences).", "", "| quantity | nats per image |", "| --- | --- |",
             f"| log p(x) | {summary['log_px'][0]:.2f} ± {summary['log_px'][1]:.2f} |",
             f"| ELBO (1000 samples per image) | {summary['elbo'][0]:.2f} ± {summary['elbo'][1]:.2f} |",
             f"| KL(q(z\\|x) \\|\\| p(z\\|x)) = log p(x) − ELBO = log p(x) − L_1 | {summary['kl_q_to_posterior'][0]:.3f} ± "
             f"{summary['kl_q_to_posterior'][1]:.3f} |"]
    lines += [f"| log p(x) − L_{k} | {summary['gaps'][k][0]:.3f} ± {summary['gaps'][k][1]:.3f} |"
              for k in summary["gaps"] if k != "1"]
    train, gap_key = summary["train"], f"gap_{k_evaluated}"
    lines += ["", f"On the {train['images']} training images of the train bound: log p(x) = {train['log_px'][0]:.2f} ± "
              f"{train['log_px'][1]:.2f}, and log p(x) − the final train L_{k_evaluated} = {train[gap_key][0]:.3f} ± "
              f"{train[gap_key][1]:.3f} (paired). Beside the test numbers above, this says whether a train–test gap in "
              "L_k is the generative model's (log p(x) differs) or the recognition network's (the bound's gap differs)."]
    kl, gap = summary["kl_percentiles"], summary["gap_100_percentiles"]
    lines += ["", f"Per image, the inference gap KL(q || p(z|x)) has median {kl['50']:.2f}, 90th percentile {kl['90']:.2f} and "
              f"99th percentile {kl['99']:.2f} nats; log p(x) − L_100 has {gap['50']:.2f}, {gap['90']:.2f} and "
              f"{gap['99']:.2f}: the means are carried by the images whose q misses their posterior."]
    spacings = ", ".join(f"{n} at {h}" for h, n in accuracy["spacings"].items())
    unresolved = (f" ({accuracy['unresolved_images']} images did not get there within the halvings and widenings "
                  "allowed)" if accuracy["unresolved_images"] else "")
    widened = accuracy.get("widened_images", 0)     # runs evaluated before the square could widen have no count
    squares = (f" {widened} images needed a square wider than [-{SQUARE:g}, {SQUARE:g}]^2 (the widest "
               f"[-{accuracy['largest_square']:g}, {accuracy['largest_square']:g}]^2)." if widened else "")
    lines += ["", f"The lattice: over the cells where some image's integrand is within {accuracy['hot_nats']:g} nats of "
              f"its largest value on a coarse scan, and the cell of q's mean, each image at the widest spacing that "
              f"halving changes by at most "
              f"{accuracy['tolerance']:g} nats{unresolved} (images: {spacings}); {accuracy['points']} points in all. "
              f"Halving the spacing changes the mean log p(x) by {accuracy['spacing_change_mean']:.1e} nats and no "
              f"image's by more than {accuracy['spacing_change_max']:.1e}; widening the range to each image's square by "
              f"at most {accuracy['range_change_max']:.1e}.{squares} The scan's estimate of the mass left off the "
              f"lattice is at most a fraction {accuracy['outside_estimate_max']:.0e} of any image's. The L_k here use "
              "1000 fresh samples per "
              f"image; the periodic L_{k_evaluated} above used other noise.", "",
             "**log p(x) − L_k against k**", "", "![the gap against k](exact_gap.png)", "",
             "**the true posterior p(z | x) of 12 test digits, with q's 1- and 2-sd ellipses**", "",
             "![posteriors](posteriors.png)", ""]
    return lines

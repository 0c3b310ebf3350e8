"""Everything a finished run leaves in its folder: metrics, figures and report.md."""
import csv
import json
import math
import time

import numpy as np

from algorithms import importance_weighted_bound
from experiments import figures
from experiments.checkpoint import write_atomically
from experiments.diagnostics import ACTIVE_THRESHOLD, DIAGNOSTICS, diagnostic_k, unit_activities
from experiments.errors import status
from experiments.settings import NAMES
from experiments.training import history_columns, loss_names, mean_and_standard_error, select_data

N_TILES, N_SCATTER, MANIFOLD_SIZE, PRIOR_REACH = 100, 5000, 20, 3.0
FIGURES = ("lk.png", "losses.png", "diagnostics.png", "reconstructions.png", "latent_scatter.png",
           "latent_manifold.png")


EXACT_SKIPPED = ("the exact log p(x) is not computed for the continuous Bernoulli on grey levels with exact 0s: its "
                 "logits drift without limit and its posteriors narrow with them (a 3-epoch model: 97 s for 20 "
                 "images); give --dequantize (derivations/likelihoods.md)")


def final_numbers(history, total_seconds):
    last = history[-1]
    final = {key: value for key, value in last.items() if key != "seconds"}
    final["train_seconds"] = sum(h["seconds"] for h in history)
    final["total_seconds"] = total_seconds
    return final


def strict_json(value):
    """value with every non-finite float replaced by None, so that the file is JSON (no NaN, no Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    return value


def write_outputs(out_dir, settings, model, data, history, bounds, began, exact=True, log=print):
    """metrics.json, metrics.csv, bounds.npz, every figure and report.md of a finished run; with exact (and a 2-D
    latent), also the exact evaluation, its figures and its section of the report. began: time.perf_counter() at the
    start of this invocation, for the time it reports."""
    from experiments.exact_evaluation import draw_posteriors, exact_evaluation
    from experiments.report import write_report

    _, test, test_labels, train_subset = select_data(data, settings)       # binarizes: done once, passed on
    figure_note = write_figures(out_dir, settings, model, data.image_shape, history, test, test_labels)
    bounds, exact_summary = dict(bounds), None
    if (exact and settings["latent_dim"] == 2 and settings["likelihood"] == "continuous-bernoulli"
            and not settings["dequantize"]):
        log(EXACT_SKIPPED)
        exact = False
    if exact and settings["latent_dim"] == 2:
        exact_summary, arrays = exact_evaluation(model, test, train_subset, settings, log,
                                                 bounds.get(f"train/{history[-1]['epoch']}"))
        bounds.update(arrays)
        figures.plot_gaps(out_dir / "exact_gap.png", {NAMES[settings["algorithm"]]: exact_summary["gaps"]})
        draw_posteriors(out_dir / "posteriors.png", model, test, test_labels, data.image_shape, settings,
                        NAMES[settings["algorithm"]])
    if settings["binarize"] != "none":
        bounds["nll/test"] = negative_log_likelihood(model, test, settings, log)
    final = final_numbers(history, time.perf_counter() - began)
    if "nll/test" in bounds:
        final["nll_k"] = settings["nll_k"]
        final["nll"], final["nll_se"] = mean_and_standard_error(bounds["nll/test"])
    activities = unit_activities(model, test)
    final["active_units"], final["unit_activities"] = int((activities > ACTIVE_THRESHOLD).sum()), activities.tolist()
    final.update(data=settings["data_dir"] or "MNIST", test_images=len(test), train_bound_images=len(train_subset))
    if exact_summary is not None:
        final["exact"] = exact_summary
    write_metrics(out_dir, settings, history, final)
    # per-image L_k, keyed 'test/10', 'train/10', 'exact/log_px', ...
    write_atomically(out_dir / "bounds.npz", lambda handle: np.savez(handle, **bounds))
    write_report(out_dir, settings, history, final, figure_note)


def negative_log_likelihood(model, test, settings, log):
    """Per test image, -L_k with k = nll_k (the IWAE paper's estimate of -log p(x), 5000 samples there): an upper
    bound on the negative log-likelihood in expectation, within a fraction of a nat of it for a trained model.
    One image's k samples at a time, so memory stays at k rows of D logits."""
    status.doing, status.finishing = f"evaluating -L_{settings['nll_k']} on the test images", "this evaluation"
    began = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        bounds = importance_weighted_bound(model, test, settings["nll_k"], seed=settings["seed"],
                                           chunk_size=max(1, 2000 // settings["nll_k"]))
    nll, se = mean_and_standard_error(-bounds)
    log(f"test negative log-likelihood -L_{settings['nll_k']} {nll:.2f} ± {se:.2f} "
        f"({time.perf_counter() - began:.0f} s)")
    return -bounds


def write_metrics(out_dir, config, history, final):
    metrics = {"algorithm": config["algorithm"], "settings": config, "history": history, "final": final}
    text = json.dumps(strict_json(metrics), indent=2, allow_nan=False) + "\n"
    write_atomically(out_dir / "metrics.json", lambda handle: handle.write(text.encode()))
    with open(out_dir / "metrics.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*history_columns(config), *DIAGNOSTICS],
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(history)


def write_figures(out_dir, config, model, shape, history, test, test_labels):
    """Draws every figure from the run's test images (select_data's) of the given shape; returns a note for the report
    when the latent manifold is skipped (J != 2)."""
    picker = np.random.default_rng([config["seed"], 2])
    name = NAMES[config["algorithm"]]
    figures.plot_lk(out_dir / "lk.png", {name: history}, config["k"])
    figures.plot_losses(out_dir / "losses.png", history, loss_names(config), config["algorithm"])
    if any("ess" in record for record in history):    # a run made before the diagnostics were recorded has none
        figures.plot_diagnostics(out_dir / "diagnostics.png", {name: history}, diagnostic_k(config))

    shown = test[np.sort(picker.choice(test.shape[0], min(N_TILES, test.shape[0]), replace=False))]
    shown = np.resize(shown, (N_TILES, shown.shape[1]))  # a test set of fewer than 100 images repeats
    mean, _ = model.encode(shown)
    figures.save_reconstructions(out_dir / "reconstructions.png", shown, model.likelihood.mean(model.decode(mean)), shape,
                                 f"{name}: 100 test images and their reconstructions E[x | z = mu(x)]")

    scatter_rows = np.sort(picker.choice(test.shape[0], min(N_SCATTER, test.shape[0]), replace=False))
    means, _ = model.encode(test[scatter_rows])
    figures.plot_latent_scatter(out_dir / "latent_scatter.png", means[:, :2], test_labels[scatter_rows])
    if config["latent_dim"] != 2:
        shown = "a strip of its one coordinate per class" if config["latent_dim"] == 1 else "its first two coordinates"
        return (f"The latent space has {config['latent_dim']} dimensions: the scatter shows {shown}, and the "
                "manifold, defined for a 2-D latent only, is not drawn.")
    limits, which = manifold_limits(means)
    grid = figures.latent_grid(MANIFOLD_SIZE, limits).astype(model.dtype)
    figures.save_manifold(out_dir / "latent_manifold.png", model.likelihood.mean(model.decode(grid)), shape, MANIFOLD_SIZE, limits,
                          f"{name}: decoded on a {MANIFOLD_SIZE} x {MANIFOLD_SIZE} grid over [{limits[0]:.2f}, "
                          f"{limits[1]:.2f}]$^2$\n({which})")
    return None


def manifold_limits(means):
    """The manifold's square: the prior's +-3 or the test codes' 1st to 99th percentiles on either axis, whichever
    reaches further; returns ((low, high), which)."""
    low, high = np.percentile(means, [1, 99], axis=0)
    reach = max(-low.min(), high.max())
    if reach <= PRIOR_REACH:
        return (-PRIOR_REACH, PRIOR_REACH), "the prior's ±3"
    return (-float(reach), float(reach)), "the codes' 1st to 99th percentiles"

"""The tables and figures of derivations/binary.md from the finished runs of the configs/sbn-*.toml files:

    python -m experiments.studies.binary_results --runs RUNS_DIR [--out derivations/figures] > fragment.md

RUNS_DIR holds one folder per configuration, named as its file (sbn-200-200-vimco, ...). For every run: the test
-ELBO (the mean of 100 log-weights per image, fresh noise) and the test NLL -L_5000 of its own evaluation, with standard
errors over the test images, and the paired differences between estimators on the same images; for the enumerable
model, its exact evaluation (experiments/outputs/binary_exact.py). Figures: every run's training objective per epoch,
and each 200-200 model's dreams.
"""
import argparse
import json
from pathlib import Path

import numpy as np

from algorithms.binary.model import dream
from algorithms.bound import importance_weighted_bounds, mean_and_standard_error
from experiments.data import kind_of
from experiments.data.mnist import load_dataset, select_images
from experiments.harness.checkpoint import read_checkpoint, restore
from experiments.harness.stored import from_stored
from experiments.harness.training import build
from experiments.outputs import figures
from experiments.outputs.figures import plt, tile

ESTIMATORS = ("ws", "rws", "nvil", "vimco")
NAMES = {"ws": "wake-sleep (k = 1)", "rws": "RWS (k = 5)", "nvil": "NVIL (1 sample)", "vimco": "VIMCO (k = 5)"}
OBJECTIVE = {"ws": "elbo_loss", "rws": "loss", "nvil": "loss", "vimco": "loss"}
ELBO_SAMPLES = 100


def restored(folder):
    """(model, trainer, settings) of the run in folder, restored from its checkpoint (checkpoint.py::restore: the
    parameters, and the trainer's own state such as NVIL's baselines)."""
    path = folder / "checkpoint.npz"
    meta, arrays = read_checkpoint(path)
    model, trainer, rng = build(from_stored(meta["settings"]))
    restore(path, arrays, model, trainer, rng, meta)
    return model, trainer, from_stored(meta["settings"])


def load_run(folder):
    """(model, settings, metrics, per-image arrays) of a finished run."""
    model, _, settings = restored(folder)
    metrics = json.loads((folder / "metrics.json").read_text())
    return model, settings, metrics, dict(np.load(folder / "bounds.npz"))


def test_images(settings):
    """The run's test images as it saw them (binarized once, the same for every run)."""
    return select_images(load_dataset(settings.data_dir), settings, kind_of(settings)).test


def architecture_rows(runs, architecture):
    """Markdown rows: estimator, epochs, test -ELBO, test NLL, and the paired NLL difference from the best."""
    rows, nll = [], {}
    for estimator in ESTIMATORS:
        folder = runs / f"sbn-{architecture}-{estimator}"
        if not (folder / "metrics.json").exists():
            continue
        model, settings, metrics, arrays = load_run(folder)
        _, elbo = importance_weighted_bounds(model, test_images(settings), [ELBO_SAMPLES], seed=settings.seed + 1000)
        final = metrics["final"]
        nll[estimator] = arrays["nll/test"]
        rows.append([estimator, final["epoch"], mean_and_standard_error(-elbo), (final["nll"], final["nll_se"]),
                     final["train_seconds"]])
    if not rows:
        return []
    best = min(nll, key=lambda name: nll[name].mean())
    lines = [f"| SBN {architecture} | epochs | test −ELBO | test NLL, −L_5000 | NLL − {NAMES[best].split(' ')[0]}'s "
             "(paired) | training time |", "| --- | --- | --- | --- | --- | --- |"]
    for estimator, epochs, elbo, nll_value, seconds in rows:
        difference = mean_and_standard_error(nll[estimator] - nll[best])
        shown = "—" if estimator == best else f"{difference[0]:+.2f} ± {difference[1]:.2f}"
        lines.append(f"| {NAMES[estimator]} | {epochs} | {elbo[0]:.2f} ± {elbo[1]:.2f} | {nll_value[0]:.2f} ± "
                     f"{nll_value[1]:.2f} | {shown} | {seconds / 60:.0f} min |")
    return lines


def plot_exact_gaps(runs, path):
    """log p(x) - L_k against k for every estimator's enumerable model, from their exact evaluations."""
    gaps = {}
    for estimator in ESTIMATORS:
        metrics = runs / f"sbn-j20-{estimator}" / "metrics.json"
        if metrics.exists() and "exact" in json.loads(metrics.read_text())["final"]:
            gaps[NAMES[estimator]] = json.loads(metrics.read_text())["final"]["exact"]["gaps"]
    if gaps:
        figures.plot_gaps(path, gaps)


def exact_rows(runs):
    """Markdown rows for the enumerable model: exact log p(x), ELBO, KL, entropies and gaps, and paired differences."""
    lines = ["| estimator | exact log p(x) | exact ELBO | KL(q ‖ p(h\\|x)) | H(p(h\\|x)) | H(q) | log p − L_10 | "
             "log p − L_100 |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    log_px = {}
    for estimator in ESTIMATORS:
        folder = runs / f"sbn-j20-{estimator}"
        if not (folder / "metrics.json").exists():
            continue
        metrics = json.loads((folder / "metrics.json").read_text())
        exact = metrics["final"].get("exact")
        if exact is None:
            continue
        log_px[estimator] = np.load(folder / "bounds.npz")["exact/log_px"]
        cell = lambda pair, digits=2: f"{pair[0]:.{digits}f} ± {pair[1]:.{digits}f}"
        lines.append(f"| {NAMES[estimator]} | {cell(exact['log_px'])} | {cell(exact['elbo'])} | "
                     f"{cell(exact['kl_q_to_posterior'])} | {cell(exact['posterior_entropy'])} | "
                     f"{cell(exact['q_entropy'])} | {cell(exact['gaps']['10'])} | {cell(exact['gaps']['100'])} |")
    if log_px:
        best = max(log_px, key=lambda name: log_px[name].mean())
        lines += ["", f"Paired differences of the exact test log p(x) from {NAMES[best]}'s: " + "; ".join(
            f"{NAMES[name]} {mean_and_standard_error(values - log_px[best])[0]:+.2f} ± "
            f"{mean_and_standard_error(values - log_px[best])[1]:.2f}" for name, values in log_px.items()
            if name != best) + "."]
    return lines


def plot_curves(runs, path):
    """Every run's training objective per epoch (-ELBO for wake-sleep and NVIL, -L_5 for RWS and VIMCO)."""
    architectures = ("200", "200-200", "j20")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, architecture in zip(axes, architectures):
        for index, estimator in enumerate(ESTIMATORS):
            path_metrics = runs / f"sbn-{architecture}-{estimator}" / "metrics.json"
            if path_metrics.exists():
                history = json.loads(path_metrics.read_text())["history"]
                ax.plot([h["epoch"] for h in history], [h[OBJECTIVE[estimator]] for h in history], color=f"C{index}",
                        label=NAMES[estimator] + (" −L_5" if OBJECTIVE[estimator] == "loss" and estimator != "nvil"
                                                  else " −ELBO"))
        ax.set_title({"j20": "the enumerable model (20 units, tanh 200)"}.get(architecture, f"linear SBN {architecture}"))
        ax.set_xlabel("epoch")
        ax.set_ylabel("training objective, nats per image (minibatch mean)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_dreams(runs, path, architecture="200-200", count=40):
    """count dreams E[x | h_1] with h ~ p(h) of each estimator's model, one row of tiles each."""
    fig, axes = plt.subplots(len(ESTIMATORS), 1, figsize=(12, 1.6 * len(ESTIMATORS)))
    for ax, estimator in zip(axes, ESTIMATORS):
        folder = runs / f"sbn-{architecture}-{estimator}"
        ax.set_axis_off()
        if not (folder / "checkpoint.npz").exists():
            continue
        model, settings, _, _ = load_run(folder)
        _, hs = dream(model, np.random.default_rng(7), count)
        means = model.likelihood.mean(model.decode(hs[0][0]))
        ax.imshow(tile(means, settings.image_shape, 2, count // 2), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{NAMES[estimator]}: E[x | h_1], h ~ p", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "derivations" / "figures")
    args = parser.parse_args()
    for architecture in ("200", "200-200"):
        print("\n".join(architecture_rows(args.runs, architecture)), end="\n\n")
    print("\n".join(exact_rows(args.runs)), end="\n\n")
    plot_curves(args.runs, args.out / "binary-curves.png")
    plot_dreams(args.runs, args.out / "binary-dreams.png")
    plot_exact_gaps(args.runs, args.out / "binary-exact-gaps.png")
    print(f"wrote binary-curves.png, binary-dreams.png and binary-exact-gaps.png into {args.out}")


if __name__ == "__main__":
    main()

"""The figures of derivations/1995.md from the saved runs of experiments/studies/bars.py (its --figures):

    1995-{problem}-kl.png        KL(P_data || P_model) in bits against samples seen: each estimator's median over the
                                 seeds, its quartiles shaded
    1995-{problem}-weights.png   for each estimator, the seeds of median and of least KL: the generative weights of the middle units
                                 as images (4 x 4 bars, 4 x 8 shifter) and the top unit's weights to them
    1995-{problem}-samples.png   the same models' dreams, 24 each, beside samples of P_data
"""
import json
from pathlib import Path

import numpy as np

from algorithms.binary.model import dream
from experiments.data.bars import DISTRIBUTIONS
from experiments.outputs.figures import plt
from experiments.studies import bars_replicas as replicas

COLOURS = {"ws": "C0", "exact": "k", "exact-stream": "C3", "rws": "C1", "vimco": "C2", "nvil": "C4"}


def median_seed(summary, estimator):
    """The seed of median KL (the upper middle one of an even count)."""
    rows = summary[estimator]["seeds"]
    order = np.argsort([row["kl_bits"] for row in rows])
    return int(order[len(order) // 2])


def figures(problem, runs, out, setup, names):
    """The three figures of a problem (setup: its entry of experiments/studies/bars.py::PROBLEMS;
    names: the estimators' names, by key), from the
    saved runs in the folder runs into the folder out."""
    out.mkdir(parents=True, exist_ok=True)
    summary = json.loads((runs / f"{problem}.json").read_text())
    data = DISTRIBUTIONS[problem]()
    estimators = [e for e in names if e in summary]
    saved = {e: np.load(runs / f"{problem}-{e}.npz") for e in estimators}

    if "exact" in estimators:          # exact ML's steps on (H7) are not samples: a panel of their own
        figure, (axis, steps_axis) = plt.subplots(1, 2, figsize=(10, 4.0), gridspec_kw={"width_ratios": [2, 1]},
                                                  sharey=True)
    else:
        figure, axis = plt.subplots(figsize=(7, 4.0))
        steps_axis = None
    for e in estimators:
        samples, kl = saved[e]["samples"], saved[e]["kl"]
        low, mid, high = np.percentile(kl, [25, 50, 75], axis=1)
        if e == "exact":               # the exact objective's own steps: drawn on the right, its end as a band
            steps_axis.plot(samples, mid, color=COLOURS[e])
            steps_axis.fill_between(samples, low, high, color=COLOURS[e], alpha=0.2, linewidth=0)
            axis.axhline(mid[-1], color=COLOURS[e], label=f"{names[e]} after {samples[-1]} exact steps")
            axis.axhspan(low[-1], high[-1], color=COLOURS[e], alpha=0.1)
            continue
        axis.plot(samples, mid, color=COLOURS[e], label=names[e])
        axis.fill_between(samples, low, high, color=COLOURS[e], alpha=0.2, linewidth=0)
    for a in [a for a in (axis, steps_axis) if a is not None]:
        if problem == "bars":
            a.axhline(0.10, color="grey", linestyle=":", label="Hinton et al. (1995): 0.10 bits" if a is axis else None)
        a.set(xscale="log", yscale="log")
    axis.set(xlabel="samples seen (one image per step)", ylabel="KL(P_data || P_model), bits",
             title=f"{problem}: median and quartiles over {len(summary[estimators[0]]['seeds'])} seeds")
    if steps_axis is not None:
        steps_axis.set(xlabel="Adam steps on the exact objective (H7)", title="exact ML")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out / f"1995-{problem}-kl.png", dpi=110)
    plt.close(figure)

    shape, layers = data.shape, setup["layers"]
    middle = layers[0]
    shown = [(e, which) for e in estimators for which in ("median", "best")]
    figure, axes = plt.subplots(len(shown), middle + 1, figsize=(1.0 * (middle + 1), 1.25 * len(shown)),
                                squeeze=False)
    models = {}
    for row, (e, which) in enumerate(shown):
        r = median_seed(summary, e) if which == "median" else \
            int(np.argmin([seed["kl_bits"] for seed in summary[e]["seeds"]]))
        params = {name: saved[e][name] for name in replicas.names(len(layers))}
        model = replicas.to_model(params, r, data.images.shape[1], layers)
        if which == "median":
            models[e] = model
        weights = model.generative[0].layers[0].params["W"]                       # (J_1, D)
        scale = np.abs(weights).max()
        for j in range(middle):
            axes[row, j].imshow(weights[j].reshape(shape), cmap="RdBu_r", vmin=-scale, vmax=scale)
        top = model.generative[1].layers[0].params["W"][0]                        # the top unit's weights, (J_1,)
        axes[row, middle].bar(np.arange(middle), top, color=["C3" if w > 0 else "C0" for w in top])
        axes[row, middle].axhline(0, color="k", linewidth=0.5)
        axes[row, 0].set_ylabel(f"{names[e]}, {which}\nseed {r}: {summary[e]['seeds'][r]['kl_bits']:.3f} bits",
                                fontsize=6)
        for axis in axes[row]:
            axis.set_xticks([]), axis.set_yticks([])
    axes[0, middle].set_title("top unit", fontsize=8)
    figure.suptitle(f"{problem}: the middle units' generative weights (red +, blue -) and the top unit's to them; "
                    "the seeds of median and of least KL", fontsize=8)
    figure.tight_layout()
    figure.savefig(out / f"1995-{problem}-weights.png", dpi=110)
    plt.close(figure)

    count = 24
    figure, axes = plt.subplots(len(estimators) + 1, count, figsize=(0.5 * count, 0.7 * (len(estimators) + 1)),
                                squeeze=False)
    rows = [("P_data", data.sample(np.random.default_rng(0), count))]
    rows += [(names[e], dream(models[e], np.random.default_rng(0), count)[0][0]) for e in estimators]
    for row, (name, images) in enumerate(rows):
        for j in range(count):
            axes[row, j].imshow(images[j].reshape(shape), cmap="gray_r", vmin=0, vmax=1)
            axes[row, j].set_xticks([]), axes[row, j].set_yticks([])
        axes[row, 0].set_ylabel(name, fontsize=6, rotation=0, ha="right")
    figure.tight_layout()
    figure.savefig(out / f"1995-{problem}-samples.png", dpi=110)
    plt.close(figure)
    print(f"wrote {out}/1995-{problem}-{{kl,weights,samples}}.png")

"""derivations/estimators.md's equal-cost tables over seeds: every estimator at two decoder passes per image (NVIL at
its one, REBAR at its three) on one network, the same epochs and batch for all, and each run measured on the test
images.

    python -m experiments.studies.estimators_seeds --runs RUNS_DIR [--network NETWORK] [--record FILE]
        [--curves FIGURE.png]

NETWORK (NETWORKS below) is a network at a budget:
- sbn-j20, the enumerable model (one layer of 20 binary units, a tanh layer of 200 in each network), 50 epochs: each
  run's exact test log p(x), exact ELBO and exact KL(q || p(h | x)), summed over all 2^20 states by its own exact
  evaluation (experiments/outputs/binary_exact.py: metrics.json's final "exact", bounds.npz's "exact/log_px").
- sbn-200 and sbn-200-nonlinear (50 epochs), sbn-200-200 (100 epochs), derivations/binary.md's budgets for the three
  benchmark networks: each run's own test L_5000 (metrics.json's final "nll", bounds.npz's "nll/test") and its test
  ELBO, the mean of 100 log-weights per image (fresh noise, as binary_results.py draws them).
- sbn-200-200-e10, the linear SBN 200-200 at 10 epochs: the same with the run's own L_100.

RUNS_DIR holds finished runs named ESTIMATOR-sSEED, each made by command(network, estimator) below with --seed SEED
--out RUNS_DIR/ESTIMATOR-sSEED. What each run measured goes into the network's record, a small JSON file the page
keeps, merged with what is there; a run the record already holds is not measured again. Beside its measures the record
keeps each run's training objective per epoch (its curve, which --curves draws), and a file beside the record
(NAME-per-image.npz) its first measure image by image, so that runs made in different sessions, whose folders do not
outlive them, are still paired image by image and drawn. The table: each estimator's
seeds, the first measure per seed, every measure's mean with the standard deviation across seeds, the largest
standard error over images of one seed, and each estimator's first measure minus the reference's, paired by seed
(mean ± sd across seeds) and, within each seed, image by image (± the standard error over images), and the runs' pace
(the median epoch's seconds: a run's whole time includes its evaluations and any pause). Each benchmark network's
last measure is the run's active units: the units of h_1 whose q(h_1 = 1 | x) has a variance above 0.01 over the test
images (run.py's report), stored as [count, None], a count with no standard error. A run the record holds without one
of the network's measures is measured again; a new run of the reference unpairs the runs it cannot pair again.
--curves draws every run's curve, and only where the record keeps every run's (runs measured before curves were
kept have none): a figure drawn from their folders is not overwritten by one without them.
"""
import argparse
import json
from functools import partial
from pathlib import Path

import numpy as np

from algorithms.bound import importance_weighted_bounds, mean_and_standard_error
from experiments.outputs.figures import plt
from experiments.studies.binary_results import ELBO_SAMPLES, load_run, test_images
from experiments.studies.binary_seeds import paired_by_seed, spread

FIGURES = Path(__file__).resolve().parents[2] / "derivations" / "figures"
# key: (the row's name, decoder passes per image and step, run.py's command, its configuration's name, extra flags)
RUNS = {
    "nvil": ("NVIL (1 sample)", 1, "nvil", "nvil", ""),
    "vimco-k2": ("VIMCO, k = 2", 2, "vimco", "vimco", " --k 2"),
    "rloo": ("RLOO, k = 2", 2, "rloo", "rloo", ""),
    "arm": ("ARM (one pair)", 2, "disarm", "disarm", " --estimator arm"),
    "disarm": ("DisARM (one pair)", 2, "disarm", "disarm", ""),
    "concrete": ("Concrete, k = 2, τ = 0.5", 2, "concrete", "concrete", ""),
    "rebar": ("REBAR (1 sample)", 3, "rebar", "rebar", ""),
}
REFERENCE = "vimco-k2"      # the row every other is paired with
OBJECTIVE = {"vimco-k2": "−L₂", "concrete": "−F_τ, relaxed"}      # what each trainer's loss is; the others' −ELBO


def timing(metrics):
    """{"epochs", "train_seconds", "epoch_seconds"} of a run's metrics.json: its epochs, its whole time (evaluations,
    and any pause, included) and the median of its epochs' times (the training's pace, what a pause cannot move)."""
    final = metrics["final"]
    return {"epochs": final["epoch"], "train_seconds": final["train_seconds"],
            "epoch_seconds": float(np.median([epoch["seconds"] for epoch in metrics["history"]]))}


def read_record(path):
    """A network's record, {estimator: {seed: measured}}, as main keeps it; {} before any run of it is measured."""
    return json.loads(path.read_text()) if path.exists() else {}


def active_units(metrics):
    """{"active_units": [count, None]} of a run's metrics.json: the units of h_1 its final model uses."""
    return {"active_units": [metrics["final"]["active_units"], None]}


def measured_exactly(folder):
    """timing's and {"log_px", "elbo", "kl_q_to_posterior": [mean, se over the test images]} of a finished run with its
    exact evaluation."""
    metrics = json.loads((folder / "metrics.json").read_text())
    if "exact" not in metrics["final"]:
        raise ValueError(f"{folder}: a run without its exact evaluation (made with --no-exact?)")
    return {**timing(metrics),
            **{measure: list(metrics["final"]["exact"][measure]) for measure in ("log_px", "elbo", "kl_q_to_posterior")}}


def test_elbo(folder):
    """[mean, se over the test images] of the ELBO of the run in folder, ELBO_SAMPLES log-weights per image."""
    model, settings, _, _ = load_run(folder)
    _, elbo = importance_weighted_bounds(model, test_images(settings), [ELBO_SAMPLES], seed=settings.seed + 1000)
    return list(mean_and_standard_error(elbo))


def measured_by_sampling(folder, k):
    """timing's, active_units' and {"L_k", "elbo": [mean, se over the test images]} of a finished run whose own
    evaluation estimated L_k (run.py --nll-k k)."""
    metrics = json.loads((folder / "metrics.json").read_text())
    final = metrics["final"]
    if final.get("nll_k") != k:
        raise ValueError(f"{folder}: its test bound is L_{final.get('nll_k')}, not L_{k} (run.py --nll-k {k})")
    return {**timing(metrics), **active_units(metrics), f"L_{k}": [-final["nll"], final["nll_se"]],
            "elbo": test_elbo(folder)}


def sampled(title, config, k, record, flags=""):
    """A benchmark network's entry in NETWORKS: measured by its runs' own test L_k and a test ELBO."""
    return {"title": title, "config": config,
            "measures": {f"L_{k}": f"test L_{k}", "elbo": "test ELBO", "active_units": "active units of h₁"},
            "measured": partial(measured_by_sampling, k=k), "per_image": ("nll/test", -1.0), "flags": flags,
            "record": FIGURES / record}


# per network and budget: the table's first column, the configurations' prefix (configs/PREFIX-ESTIMATOR.toml), its
# measures (the first is paired) with their headers, how a run is measured, the first measure image by image in
# bounds.npz (and its sign), the flags every run adds, and its record
NETWORKS = {
    "sbn-j20": {
        "title": "enumerable model, 50 epochs", "config": "sbn-j20",
        "measures": {"log_px": "exact test log p(x)", "elbo": "exact test ELBO",
                     "kl_q_to_posterior": "KL(q ‖ p(h\\|x))"},
        "measured": measured_exactly, "per_image": ("exact/log_px", 1.0), "flags": "",
        "record": FIGURES / "estimators-j20-seeds.json"},
    "sbn-200": sampled("linear SBN 200, 50 epochs", "sbn-200", 5000, "estimators-sbn-200-seeds.json"),
    "sbn-200-nonlinear": sampled("nonlinear SBN 200, 50 epochs", "sbn-200-nonlinear", 5000,
                                 "estimators-sbn-200-nonlinear-seeds.json"),
    "sbn-200-200": sampled("linear SBN 200-200, 100 epochs", "sbn-200-200", 5000, "estimators-sbn-200-200-seeds.json"),
    "sbn-200-200-e10": sampled("linear SBN 200-200, 10 epochs", "sbn-200-200", 100,
                               "estimators-sbn-200-200-e10-seeds.json",
                               " --epochs 10 --eval-every 10 --nll-k 100 --eval-k 100 --no-exact"),
}


def command(network, estimator):
    """The run.py command (without --seed and --out) that makes the network's run of the estimator."""
    _, _, trainer, config, extra = RUNS[estimator]
    network = NETWORKS[network]
    return f"python run.py {trainer} --config configs/{network['config']}-{config}.toml{extra}{network['flags']}"


def per_image_path(record_path):
    """The file beside a record that keeps its runs' first measure image by image."""
    return record_path.with_name(record_path.stem + "-per-image.npz")


def read_per_image(path):
    """{run's folder name: its first measure per test image} as main keeps it; {} before any is kept."""
    if not path.exists():
        return {}
    with np.load(path) as kept:
        return {name: kept[name] for name in kept.files}


def first_measure_by_image(network, folder):
    """The network's first measure of the run in folder, one value per test image, from its bounds.npz."""
    key, sign = NETWORKS[network]["per_image"]
    return sign * np.load(folder / "bounds.npz")[key]


def paired_by_image(values, reference_values):
    """[mean, standard error over the test images] of one run's first measure minus another's, image by image."""
    return [float(v) for v in mean_and_standard_error(values - reference_values)]


def curve(metrics):
    """A run's training objective per epoch (the mean over its minibatches), from its metrics.json."""
    return [epoch["loss"] for epoch in metrics["history"]]


def table(network, record):
    """Markdown rows from the record {estimator: {seed: measured}}: per estimator its seeds' first measure, every
    measure's mean ± the standard deviation across seeds (the first's with the largest standard error over images),
    and the first measure minus REFERENCE's, paired by seed and, as main recorded it, by image."""
    measures = NETWORKS[network]["measures"]
    first, *others = measures
    lines = [f"| {NETWORKS[network]['title']} | decoder passes | seeds | {measures[first]} per seed | "
             f"mean ± sd over seeds | SE over images | "
             + "".join(f"{measures[m]}, mean ± sd | " for m in others)
             + f"{measures[first]} − {RUNS[REFERENCE][0]}'s, paired by seed | the same in each seed, ± SE over images | "
             "seconds per epoch (median) |",
             "| --- " * (9 + len(others)) + "|"]
    for estimator, (name, passes, *_) in RUNS.items():
        seeds = record.get(estimator, {})
        if not seeds:
            continue
        order = sorted(seeds, key=int)
        values = {measure: [seeds[seed][measure][0] for seed in order] for measure in measures}
        pace = [seeds[seed]["epoch_seconds"] for seed in order]
        paired = [seeds[seed].get("minus_reference") for seed in order]
        cells = [f"{pair[0]:+.2f} ± {pair[1]:.2f}" if pair else "—" for pair in paired]
        within = ", ".join(cells) if any(paired) else ""
        lines.append(f"| {name} | {passes} | {', '.join(order)} | {', '.join(f'{v:.2f}' for v in values[first])} | "
                     f"{spread(values[first])} | {max(seeds[seed][first][1] for seed in order):.2f} | "
                     + "".join(f"{spread(values[m])} | " for m in others)
                     + f"{paired_by_seed(record, estimator, REFERENCE, first)} | {within or '—'} | "
                     f"{min(pace):.1f}–{max(pace):.1f} |")
    return lines


def without_curves(record):
    """The runs the record holds without a curve (measured before curves were kept), as ESTIMATOR-sSEED."""
    return [f"{estimator}-s{seed}" for estimator, seeds in record.items() for seed in sorted(seeds, key=int)
            if "curve" not in seeds[seed]]


def plot_curves(record, path, title):
    """Every run's training objective per epoch as the record keeps it, one colour per estimator, a line per seed."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for index, estimator in enumerate(RUNS):
        curves = [record[estimator][seed]["curve"] for seed in sorted(record.get(estimator, {}), key=int)
                  if "curve" in record[estimator][seed]]
        for number, loss in enumerate(curves):
            label = f"{RUNS[estimator][0]}: {OBJECTIVE.get(estimator, '−ELBO')}" if number == 0 else None
            for ax in axes:
                ax.plot(range(1, len(loss) + 1), loss, color=f"C{index}", alpha=0.8, linewidth=1, label=label)
    last = max((line.get_xdata()[-1] for line in axes[1].lines), default=2)
    axes[1].set_xlim(last / 2, last)
    tail = [y for line in axes[1].lines for x, y in zip(line.get_xdata(), line.get_ydata()) if x >= last / 2]
    if tail:
        axes[1].set_ylim(min(tail) - 0.5, max(tail) + 0.5)
    for ax, part in zip(axes, ("every epoch", "the second half")):
        ax.set_title(f"{title}: {part}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training objective, nats per image")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--network", choices=sorted(NETWORKS), default="sbn-j20")
    parser.add_argument("--record", type=Path, help="default: the network's, in derivations/figures/")
    parser.add_argument("--curves", type=Path, help="draw every run's training objective per epoch into this PNG")
    args = parser.parse_args(argv)
    network = NETWORKS[args.network]
    path = args.record or network["record"]
    record, per_image = read_record(path), read_per_image(per_image_path(path))
    first, new_references = next(iter(network["measures"])), set()
    for estimator in RUNS:
        for folder in sorted(args.runs.glob(f"{estimator}-s*")):
            seed = folder.name.rsplit("-s", 1)[1]
            if not ((folder / "metrics.json").exists() and seed.isdigit()):
                continue
            metrics = json.loads((folder / "metrics.json").read_text())
            held = record.get(estimator, {}).get(seed, {})
            same_run = {key: held.get(key) for key in ("epochs", "train_seconds", "epoch_seconds")} == timing(metrics)
            if estimator == REFERENCE and held and not same_run:
                new_references.add(seed)
            if not (same_run and set(network["measures"]) <= set(held)):
                record.setdefault(estimator, {})[seed] = network["measured"](folder)
                print(f"{folder.name}: {first} {record[estimator][seed][first][0]:.2f}")
            record[estimator][seed]["curve"] = curve(metrics)
            per_image[folder.name] = first_measure_by_image(args.network, folder)
    for estimator, seeds in record.items():
        if estimator == REFERENCE:
            continue
        for seed, measured in seeds.items():
            run, reference = f"{estimator}-s{seed}", f"{REFERENCE}-s{seed}"
            if run in per_image and reference in per_image:
                measured["minus_reference"] = paired_by_image(per_image[run], per_image[reference])
            elif seed in new_references:                 # paired with a reference run that this one replaced
                measured.pop("minus_reference", None)
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    if per_image:
        np.savez_compressed(per_image_path(path), **per_image)
    print("\n".join(table(args.network, record)))
    if args.curves:
        undrawn = without_curves(record)
        if undrawn:
            print(f"--curves {args.curves}: not drawn, and a figure there is left as it was: the record keeps no curve "
                  f"of {', '.join(undrawn)}")
        else:
            plot_curves(record, args.curves, network["title"])


if __name__ == "__main__":
    main()

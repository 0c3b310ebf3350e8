"""derivations/estimators.md's equal-cost table on the enumerable model (one layer of 20 binary units, a tanh layer of
200 in each network), over seeds: every estimator at two decoder passes per image (NVIL at its one, REBAR at its
three), 50 epochs, and
each run's exact test log p(x), exact ELBO and exact KL(q || p(h | x)), summed over all 2^20 states.

    python -m experiments.studies.estimators_seeds --runs RUNS_DIR [--record derivations/figures/estimators-j20-seeds.json]

RUNS_DIR holds finished runs named ESTIMATOR-sSEED, one for each line of RUNS below, made by its command with
--seed SEED --out RUNS_DIR/ESTIMATOR-sSEED. What each run's exact evaluation wrote (experiments/outputs/binary_exact.py:
metrics.json's final "exact", and bounds.npz's per-image "exact/log_px") goes into the record, a small JSON file the
page keeps, merged with what is there. The table: each estimator's seeds, the mean with the standard deviation across
seeds, the largest standard error over images of one seed, and each estimator's log p(x) minus the reference's, paired
by seed (mean ± sd across seeds) and, within each seed, image by image (± the standard error over images).
"""
import argparse
import json
from pathlib import Path

import numpy as np

from algorithms.bound import mean_and_standard_error
from experiments.studies.binary_seeds import paired_by_seed, spread

RECORD = Path(__file__).resolve().parents[2] / "derivations" / "figures" / "estimators-j20-seeds.json"
# key: (the row's name, decoder passes per image and step, the command without --seed and --out)
RUNS = {
    "nvil": ("NVIL (1 sample)", 1, "python run.py nvil --config configs/sbn-j20-nvil.toml"),
    "vimco-k2": ("VIMCO, k = 2", 2, "python run.py vimco --config configs/sbn-j20-vimco.toml --k 2"),
    "rloo": ("RLOO, k = 2", 2, "python run.py rloo --config configs/sbn-j20-rloo.toml"),
    "arm": ("ARM (one pair)", 2, "python run.py disarm --config configs/sbn-j20-disarm.toml --estimator arm"),
    "disarm": ("DisARM (one pair)", 2, "python run.py disarm --config configs/sbn-j20-disarm.toml"),
    "concrete": ("Concrete, k = 2, τ = 0.5", 2, "python run.py concrete --config configs/sbn-j20-concrete.toml"),
    "rebar": ("REBAR (1 sample)", 3, "python run.py rebar --config configs/sbn-j20-rebar.toml"),
}
MEASURES = ("log_px", "elbo", "kl_q_to_posterior")
REFERENCE = "vimco-k2"      # the row every other is paired with


def measured(folder):
    """{"epochs", "log_px", "elbo", "kl_q_to_posterior": [mean, se over the test images], "train_seconds"} of a
    finished run with its exact evaluation."""
    final = json.loads((folder / "metrics.json").read_text())["final"]
    if "exact" not in final:
        raise ValueError(f"{folder}: a run without its exact evaluation (made with --no-exact?)")
    return {"epochs": final["epoch"], "train_seconds": final["train_seconds"],
            **{measure: list(final["exact"][measure]) for measure in MEASURES}}


def paired_by_image(folder, reference_folder):
    """[mean, standard error over the test images] of the exact log p(x) of one run minus another's, image by image."""
    log_px = [np.load(f / "bounds.npz")["exact/log_px"] for f in (folder, reference_folder)]
    return [float(v) for v in mean_and_standard_error(log_px[0] - log_px[1])]


def table(record):
    """Markdown rows from the record {estimator: {seed: measured}}: per estimator its seeds' exact test log p(x), their
    mean ± the standard deviation across seeds, the largest standard error over images, the exact ELBO's and
    KL(q || p(h | x))'s means ± sd, and log p(x) minus REFERENCE's, paired by seed and, as main recorded it, by image."""
    lines = ["| enumerable model, 50 epochs | decoder passes | seeds | exact test log p(x) per seed | "
             "mean ± sd over seeds | SE over images | exact test ELBO, mean ± sd | KL(q ‖ p(h\\|x)), mean ± sd | "
             f"log p(x) − {RUNS[REFERENCE][0]}'s, paired by seed | the same in each seed, ± SE over images | "
             "minutes of training per run |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for estimator, (name, passes, _) in RUNS.items():
        seeds = record.get(estimator, {})
        if not seeds:
            continue
        order = sorted(seeds, key=int)
        values = {measure: [seeds[seed][measure][0] for seed in order] for measure in MEASURES}
        minutes = [seeds[seed]["train_seconds"] / 60 for seed in order]
        within = ", ".join(f"{seeds[seed]['minus_reference'][0]:+.2f} ± {seeds[seed]['minus_reference'][1]:.2f}"
                           for seed in order if "minus_reference" in seeds[seed])
        lines.append(f"| {name} | {passes} | {', '.join(order)} | {', '.join(f'{v:.2f}' for v in values['log_px'])} | "
                     f"{spread(values['log_px'])} | {max(seeds[seed]['log_px'][1] for seed in order):.2f} | "
                     f"{spread(values['elbo'])} | {spread(values['kl_q_to_posterior'])} | "
                     f"{paired_by_seed(record, estimator, REFERENCE, 'log_px')} | "
                     f"{within or '—'} | "
                     f"{min(minutes):.0f}–{max(minutes):.0f} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--record", type=Path, default=RECORD)
    args = parser.parse_args(argv)
    record = json.loads(args.record.read_text()) if args.record.exists() else {}
    for estimator in RUNS:
        for folder in sorted(args.runs.glob(f"{estimator}-s*")):
            seed = folder.name.rsplit("-s", 1)[1]
            if (folder / "metrics.json").exists() and seed.isdigit():
                record.setdefault(estimator, {})[seed] = measured(folder)
                reference = args.runs / f"{REFERENCE}-s{seed}"
                if estimator != REFERENCE and (reference / "metrics.json").exists():
                    record[estimator][seed]["minus_reference"] = paired_by_image(folder, reference)
    args.record.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print("\n".join(table(record)))


if __name__ == "__main__":
    main()

"""derivations/binary.md's table of the SBN 200-200 over three seeds: what a row's numbers owe to the training run's own
randomness (the seed's initial weights, minibatch order and noise), beside what they owe to the test images.

    python -m experiments.studies.binary_seeds --runs RUNS_DIR [--record derivations/figures/binary-seeds.json]

RUNS_DIR holds finished runs of configs/sbn-200-200-*.toml named sbn-200-200-ESTIMATOR-sSEED (python run.py ... --seed
SEED --out RUNS_DIR/sbn-200-200-ESTIMATOR-sSEED). Each run's test -ELBO (the mean of 100 log-weights per image, fresh
noise, as experiments/studies/binary_results.py computes it) and its own test NLL -L_5000 go into the record, a small
JSON file the page keeps, merged with what is there (the seed-0 runs of the page's first table were recorded from
it); a run whose NLL the record already holds is not measured again. The table: each estimator's seeds, their mean
with the standard deviation across seeds, the standard error over images of one seed, and each estimator's NLL minus
VIMCO's, paired by seed.
"""
import argparse
import json
from pathlib import Path

import numpy as np

from algorithms.bound import importance_weighted_bounds, mean_and_standard_error
from experiments.studies.binary_results import ELBO_SAMPLES, ESTIMATORS, NAMES, load_run, test_images

RECORD = Path(__file__).resolve().parents[2] / "derivations" / "figures" / "binary-seeds.json"
ARCHITECTURE = "200-200"


def measured(folder):
    """{"epochs", "elbo": [-ELBO, se], "nll": [-L_5000, se], "train_seconds"} of the finished run in folder."""
    model, settings, metrics, _ = load_run(folder)
    _, elbo = importance_weighted_bounds(model, test_images(settings), [ELBO_SAMPLES], seed=settings.seed + 1000)
    final = metrics["final"]
    return {"epochs": final["epoch"], "elbo": list(mean_and_standard_error(-elbo)),
            "nll": [final["nll"], final["nll_se"]], "train_seconds": final["train_seconds"]}


def spread(values, sign=""):
    """"mean ± standard deviation across seeds (n - 1 in its denominator)" of per-seed numbers; the mean alone for one.
    sign="+" writes the mean's sign always (for differences)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 1:
        return f"{values[0]:{sign}.2f}"
    return f"{values.mean():{sign}.2f} ± {values.std(ddof=1):.2f}"


def paired_by_seed(record, estimator, reference, measure):
    """The estimator's measure minus the reference's, seed by seed over the seeds both have, as "mean ± sd (n seeds)";
    "—" for the reference itself or without a shared seed. record: {estimator: {seed: {measure: [mean, se]}}}."""
    shared = [seed for seed in sorted(record[estimator], key=int) if seed in record.get(reference, {})]
    if estimator == reference or not shared:
        return "—"
    differences = [record[estimator][seed][measure][0] - record[reference][seed][measure][0] for seed in shared]
    return f"{spread(differences, sign='+')} ({len(shared)} seed{'s' if len(shared) > 1 else ''})"


def table(record, reference="vimco"):
    """Markdown rows from the record {estimator: {seed: measured}}: the seeds' -ELBO and NLL, their mean ± the
    standard deviation across seeds, a typical standard error over images (the seeds' largest), and the NLL minus the
    reference's, paired by seed (mean ± standard deviation across the seeds both have)."""
    lines = ["| SBN 200-200, 100 epochs | seeds | test −ELBO per seed | mean ± sd over seeds | SE over images | "
             "test NLL, −L_5000 per seed | mean ± sd over seeds | SE over images | NLL − VIMCO's, paired by seed |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for estimator in ESTIMATORS:
        seeds = record.get(estimator, {})
        if not seeds:
            continue
        order = sorted(seeds, key=int)
        cells = []
        for measure in ("elbo", "nll"):
            values = [seeds[seed][measure][0] for seed in order]
            cells += [", ".join(f"{value:.2f}" for value in values), spread(values),
                      f"{max(seeds[seed][measure][1] for seed in order):.2f}"]
        lines.append(f"| {NAMES[estimator]} | {', '.join(order)} | {' | '.join(cells)} | "
                     f"{paired_by_seed(record, estimator, reference, 'nll')} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--record", type=Path, default=RECORD)
    args = parser.parse_args(argv)
    record = json.loads(args.record.read_text()) if args.record.exists() else {}
    for estimator in ESTIMATORS:
        for folder in sorted(args.runs.glob(f"sbn-{ARCHITECTURE}-{estimator}-s*")):
            if (folder / "metrics.json").exists():
                seed = folder.name.rsplit("-s", 1)[1]
                final = json.loads((folder / "metrics.json").read_text())["final"]
                if record.get(estimator, {}).get(seed, {}).get("nll") == [final["nll"], final["nll_se"]]:
                    continue                                # this run is recorded already: its -ELBO is not redone
                record.setdefault(estimator, {})[seed] = measured(folder)
                print(f"{folder.name}: -ELBO {record[estimator][seed]['elbo'][0]:.2f}, "
                      f"NLL {record[estimator][seed]['nll'][0]:.2f}")
    args.record.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print("\n".join(table(record)))


if __name__ == "__main__":
    main()

"""The test images that weigh most on a run's mean bound (derivations/estimators.md, REBAR on the SBN 200-200).

    python -m experiments.studies.worst_images --network sbn-200-200 [--worst 5]
    python -m experiments.studies.worst_images --run RUN_DIR --images 6528 6574 2836 [--samples 5000]

The first reads the network's per-image file, where estimators_seeds.py keeps each run's first measure on every test
image (L_5000 on the benchmark networks), and prints per run: the mean with its standard error over the images, the
median, the worst images with their values, and the mean without them.

The second restores one finished run and splits, for each image named, the mean log-weight of samples h ~ q(h | x)
into its terms by layer (Eq. (S1) minus Eq. (S2)): log p(x | h_1), log p(h_l | h_{l+1}), the prior's log p(h_L), and
each layer's -log q(h_l | h_{l-1}); counts the top layer's units that q turns on, and those of them that the prior keeps
off (logit below -10); and prints the image's L_k from the same samples.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from algorithms.binary.model import sample_q, score_p
from algorithms.bound import mean_and_standard_error
from experiments.errors import Fault
from experiments.studies.binary_results import restored, test_images
from experiments.studies.estimators_seeds import NETWORKS, per_image_path, read_per_image
from nn.densities import log_mean_exp


def worst(values, n):
    """A run's per-image values summarized: mean and its standard error, median, the n lowest values' image indices
    (lowest first) and values, and the mean of the others."""
    mean, se = mean_and_standard_error(values)
    lowest = np.argsort(values, kind="stable")[:n]
    return {"mean": float(mean), "se": float(se), "median": float(np.median(values)), "images": lowest.tolist(),
            "values": values[lowest].tolist(), "mean_without": float(np.delete(values, lowest).mean())}


def table(per_image, n):
    """Markdown rows, one per run of a per-image file ({run's folder name: values})."""
    lines = [f"| run | mean ± SE over images | median | the {n} lowest images: value | mean without them |",
             "| --- | --- | --- | --- | --- |"]
    for name in sorted(per_image):
        summary = worst(per_image[name], n)
        lowest = ", ".join(f"{image}: {value:.1f}" for image, value in zip(summary["images"], summary["values"]))
        lines.append(f"| {name} | {summary['mean']:.2f} ± {summary['se']:.2f} | {summary['median']:.2f} | {lowest} | "
                     f"{summary['mean_without']:.2f} |")
    return lines


OFF = -10.0     # a prior logit below this keeps its unit off but once in e^10 (22026) draws


def layer_terms(model, x, uniforms):
    """{term: its values per sample} for one image x (D,) and uniforms (k, J_1 + ... + J_L): the log-weight's terms
    (Eq. (S1) minus Eq. (S2)) in float64, "log w", their sum, and the top layer's units on per sample, all of them and
    those whose prior logit is below OFF."""
    sample = sample_q(model, x[None], uniforms[:, None], keep=False)
    scored = score_p(model, x[None], sample.hs, keep=False)
    layers = len(model.layers)
    names = ["log p(x | h_1)", *(f"log p(h_{l} | h_{l + 1})" for l in range(1, layers)), f"log p(h_{layers})"]
    terms = {name: term[:, 0].astype(np.float64) for name, term in zip(names, scored.terms)}
    terms.update({f"-log q(h_{l + 1} | {'x' if l == 0 else f'h_{l}'})": -term[:, 0].astype(np.float64)
                  for l, term in enumerate(sample.terms)})
    terms["log w"] = sum(terms.values())
    top = sample.hs[-1][:, 0]
    terms[f"h_{layers} units on"] = top.sum(axis=1, dtype=np.float64)
    terms[f"of them with a prior logit below {OFF:g}"] = top[:, model.prior.params["b"] < OFF].sum(axis=1, dtype=np.float64)
    return terms


def decompose(folder, images, samples, seed=0):
    """Lines: for each test image of the run in folder, L_samples and the mean of every term of the log-weight."""
    model, _, settings = restored(folder)
    x, rng, lines = test_images(settings), np.random.default_rng(seed), []
    outside = [image for image in images if not 0 <= image < len(x)]
    if outside:
        raise Fault(f"--images {' '.join(map(str, outside))}: no such test image (the run has {len(x)}, from 0)")
    for image in images:
        terms = layer_terms(model, x[image], model.noise(rng, samples))
        bound = float(log_mean_exp(terms["log w"]))                                      # Eq. (10)
        parts = ", ".join(f"{name} {values.mean():.1f}" for name, values in terms.items())
        lines.append(f"image {image} ({int(x[image].sum())} pixels on): L_{samples} {bound:.1f}; "
                     f"means over the samples: {parts}")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", choices=sorted(NETWORKS), help="summarize the network's per-image file")
    parser.add_argument("--worst", type=int, default=5, help="how many of the lowest images to list and leave out")
    parser.add_argument("--run", type=Path, help="a finished binary run's folder: split its log-weights by layer")
    parser.add_argument("--images", type=int, nargs="+", default=[], help="test images to split (with --run)")
    parser.add_argument("--samples", type=int, default=5000, help="samples of q per image (with --run)")
    args = parser.parse_args(argv)
    if (args.network is None) == (args.run is None):
        parser.error("give --network or --run, one of them")
    if args.network:
        per_image = read_per_image(per_image_path(NETWORKS[args.network]["record"]))
        if not per_image:
            parser.error(f"no per-image file is kept for {args.network} yet")
        print("\n".join(table(per_image, args.worst)))
    else:
        if not args.images:
            parser.error("--run needs --images")
        try:
            lines = decompose(args.run, args.images, args.samples)
        except Fault as fault:
            print(f"worst_images: error: {fault}", file=sys.stderr)
            return 2
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

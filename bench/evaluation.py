"""Speed of -L_k on a binary model: python bench/evaluation.py [--checkpoint PATH] [--images N] [--k K]

Times the test bound L_k (k = 5000 by default, the test NLL's) of a binary model two ways, paired block by block
of images in one run: the fused evaluation (algorithms/binary/evaluation.py, what every evaluation uses) and the
layer-by-layer pieces it replaced (sample_q and score_p of algorithms/binary/model.py, with nn.functional.softplus).
Then it replays the evaluation's matrix products alone, the same shapes in the same blocks, to give their share of
the time and their speed against this machine's float32 matrix-product peak (measured as bench/run.py measures
it). The model is a trained run's (--checkpoint) or a fresh linear SBN 200-200: the work is the same, but a trained
model's logits reach the tails that nn/functional.py::exp_neg_abs flushes in float32 (bench/tails.py measures what
that buys). The times are of as many BLAS threads as OPENBLAS_NUM_THREADS gives (the result names them).
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from algorithms.binary import evaluation  # noqa: E402
from algorithms.binary.model import BinaryHelmholtzMachine, sample_q, score_p  # noqa: E402
from bench.exact import bench_run  # noqa: E402
from experiments.data.mnist import load_dataset  # noqa: E402
from experiments.harness.training import trained_model  # noqa: E402
from nn import log_mean_exp  # noqa: E402

BLOCK_IMAGES = 10     # images per timed block; the two ways alternate block by block


def layer_by_layer(model, x, uniforms):
    """The log-weights as the model computed them before the fused evaluation: sample_q, then score_p."""
    sample = sample_q(model, x, uniforms, keep=False)
    return score_p(model, x, sample.hs, keep=False).total - sample.total


def bound(log_weights, model, images, k, seed=0):
    """L_k of every image, one image's k samples at a time, its noise from the generator seeded [seed, i] as
    algorithms/bound.py::importance_weighted_bound draws it."""
    out = np.empty(len(images))
    for i, x in enumerate(images):
        uniforms = model.noise(np.random.default_rng([seed, i]), k)[:, None]
        out[i] = log_mean_exp(log_weights(model, x[None], uniforms)[:, 0].astype(np.float64))
    return out


def products(model, k):
    """The matrix products of one image's k samples, in the fused evaluation's blocks: (shape of the left, of the
    right) for every Linear layer of both networks."""
    shapes = []
    for net in [*model.recognition[1:], *model.generative]:
        for layer in net.layers:
            if "W" in getattr(layer, "params", {}):
                shapes.append(layer.params["W"].shape)
    block = evaluation.BLOCK_ROWS
    return [((min(block, k - start), rows), (rows, cols)) for rows, cols in shapes for start in range(0, k, block)]


def replay(model, k, images):
    """Seconds for the products alone over `images` images, and their GFLOP."""
    rng = np.random.default_rng(0)
    shapes = products(model, k)
    pairs = [(rng.random(left, dtype=np.float32), rng.random(right, dtype=np.float32)) for left, right in shapes]
    flops = sum(2.0 * left[0] * left[1] * right[1] for left, right in shapes) * images
    began = time.perf_counter()
    for _ in range(images):
        for left, right in pairs:
            left @ right
    return time.perf_counter() - began, flops / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="a binary run's checkpoint (default: a fresh SBN 200-200)")
    parser.add_argument("--images", type=int, default=100, help="test images timed (default 100)")
    parser.add_argument("--k", type=int, default=5000, help="samples per image (default 5000)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "evaluation.json")
    args = parser.parse_args()
    data = load_dataset(None)
    if args.checkpoint is not None:
        model, _ = trained_model(args.checkpoint)
    else:
        model = BinaryHelmholtzMachine(np.random.default_rng(0), 784, [200, 200])
    binarized = np.random.default_rng(0).random(data.test_images.shape, dtype=np.float32) < data.test_images
    images = binarized[:args.images].astype(np.float32)
    peak_before = bench_run().matmul_peak_gflops(2000)
    seconds = {"fused": 0.0, "layer_by_layer": 0.0}
    results = {"fused": [], "layer_by_layer": []}
    ratios = []
    for first in range(0, len(images), BLOCK_IMAGES):
        block = images[first:first + BLOCK_IMAGES]
        taken = {}
        for name, log_weights in (("layer_by_layer", layer_by_layer),
                                  ("fused", lambda m, x, u: evaluation.log_importance_weights(m, x, u))):
            began = time.perf_counter()
            results[name].append(bound(log_weights, model, block, args.k))
            taken[name] = time.perf_counter() - began
            seconds[name] += taken[name]
        ratios.append(taken["fused"] / taken["layer_by_layer"])
    fused, old = np.concatenate(results["fused"]), np.concatenate(results["layer_by_layer"])
    product_seconds, gflop = replay(model, args.k, len(images))
    peak = max(peak_before, bench_run().matmul_peak_gflops(2000))
    per_10000 = {name: value / len(images) * 10000 / 60 for name, value in seconds.items()}
    summary = {"images": len(images), "k": args.k, "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "unset"),
               "seconds": seconds, "minutes_per_10000_images": per_10000,
               "median_block_ratio": float(np.median(ratios)),
               "ratio_quartiles": [float(q) for q in np.quantile(ratios, [0.25, 0.75])],
               "largest_bound_difference": float(np.abs(fused - old).max()),
               "product_seconds": product_seconds, "product_gflop": gflop,
               "product_gflops": gflop / product_seconds, "matmul_peak_gflops": peak,
               "product_share_of_fused": product_seconds / seconds["fused"]}
    print(f"L_{args.k} of {len(images)} test images, {summary['blas_threads']} BLAS thread(s): fused "
          f"{seconds['fused']:.1f} s, layer by layer {seconds['layer_by_layer']:.1f} s; for 10000 images "
          f"{per_10000['fused']:.1f} min against {per_10000['layer_by_layer']:.1f} min")
    print(f"fused / layer by layer, per block of {BLOCK_IMAGES} images: median {summary['median_block_ratio']:.3f} "
          f"(quartiles {summary['ratio_quartiles'][0]:.3f}-{summary['ratio_quartiles'][1]:.3f}); largest difference "
          f"of a bound {summary['largest_bound_difference']:.2e} nats")
    print(f"matrix products: {gflop:.0f} GFLOP, {product_seconds:.1f} s replayed alone "
          f"({summary['product_share_of_fused']:.0%} of the fused evaluation), {summary['product_gflops']:.0f} GFLOP/s "
          f"= {summary['product_gflops'] / peak:.0%} of the float32 peak ({peak:.0f} GFLOP/s)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

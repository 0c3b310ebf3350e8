"""Speed of the exact log p(x): python bench/exact.py [--checkpoint PATH] [--images N] [--json PATH]

Times algorithms/exact.py::exact_log_marginal on the first N test images (default all 10000), as the run saw them
(binarized or dequantized if it was), for a trained model with a 2-D latent (default: results/aevb/checkpoint.npz,
the default 784-500-500-2 model after python run.py aevb),
then replays its matrix products alone, the same shapes in the same chunks, to give their share of the time and
their speed against this machine's float32 matrix-product peak (measured as bench/run.py measures it).
A trained model, not a fresh one: the work depends on how narrow its posteriors are.
"""
import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from algorithms.exact import exact_log_marginal  # noqa: E402
from experiments.errors import Fault  # noqa: E402
from experiments.data.mnist import load_dataset  # noqa: E402
from experiments.data import kind_of  # noqa: E402
from experiments.data.mnist import select_images  # noqa: E402
from experiments.harness.training import trained_model  # noqa: E402

POINT_CHUNK, IMAGE_CHUNK = 2048, 4096    # exact_log_marginal's defaults


def bench_run():
    """bench/run.py as a module (by its path: the top level has a run.py of its own)."""
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def product_shapes(result, data_dim):
    """(rows, D, columns) of every matrix product the run made: per square, one pass over the scan's points to find
    each image's peak; per round, two passes over the scan's points and one over each of the four sets of fine
    points; in chunks of IMAGE_CHUNK rows and POINT_CHUNK columns."""
    passes = [(scan["images"], scan["scan_points"]) for scan in result.peak_scans]
    for round_ in result.rounds:     # the fine points in their four sets (algorithms/exact.py::lattice_sums)
        passes += [(round_["images"], round_["scan_points"])] * 2 + [(round_["images"], n) for n in round_["fine_sets"]]
    shapes = []
    for images, columns in passes:
        for rows_start in range(0, images, IMAGE_CHUNK):
            rows = min(IMAGE_CHUNK, images - rows_start)
            shapes += [(rows, data_dim, min(POINT_CHUNK, columns - start)) for start in range(0, columns, POINT_CHUNK)]
    return shapes


def replay(shapes, images):
    """Seconds for the products alone: images[:rows] @ (D x columns) for every shape."""
    rng = np.random.default_rng(0)
    right = rng.standard_normal((images.shape[1], POINT_CHUNK), dtype=np.float32)
    began = time.perf_counter()
    for rows, _, columns in shapes:
        images[:rows] @ right[:, :columns]
    return time.perf_counter() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "results" / "aevb" / "checkpoint.npz")
    parser.add_argument("--images", type=int, default=10000, help="test images (default 10000)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "exact.json")
    parser.add_argument("--peak-size", type=int, default=2000,
                        help="the side of the square products that measure the matrix-product peak, as in "
                             "bench/run.py (default 2000; the tests use a small one)")
    args = parser.parse_args()
    if args.peak_size < 1:
        parser.error(f"--peak-size must be at least 1 (got {args.peak_size})")
    try:
        model, settings = trained_model(args.checkpoint)
    except Fault as fault:
        parser.exit(2, f"bench: {fault} (train one first: python run.py aevb)\n")
    if model.latent_dim != 2:
        parser.exit(2, f"bench: {args.checkpoint}: the exact log p(x) needs a 2-D latent, this model's has "
                       f"{model.latent_dim}\n")
    images = select_images(load_dataset(settings.data_dir), settings, kind_of(settings)).test[:args.images]
    peak_before = bench_run().matmul_peak_gflops(args.peak_size)
    began = time.perf_counter()
    result = exact_log_marginal(model, images)
    seconds = time.perf_counter() - began
    shapes = product_shapes(result, images.shape[1])
    product_seconds = replay(shapes, images)
    peak = max(peak_before, bench_run().matmul_peak_gflops(args.peak_size))   # the machine is shared: the better of two readings
    flops = sum(2 * rows * depth * columns for rows, depth, columns in shapes)
    summary = {"checkpoint": str(args.checkpoint), "images": len(images), "seconds": seconds,
               "product_seconds": product_seconds, "product_tflop": flops / 1e12,
               "product_gflops": flops / product_seconds / 1e9, "matmul_peak_gflops": peak,
               "product_fraction_of_peak": flops / product_seconds / 1e9 / peak, "rounds": result.rounds,
               "peak_scans": result.peak_scans,
               "mean_log_px": float(result.log_px.mean()),
               "largest_spacing_change": float(np.abs(result.spacing_change).max())}
    print(f"exact log p(x) of {len(images)} test images: {seconds:.1f} s (mean {summary['mean_log_px']:.3f}, "
          f"largest change on halving the spacing {summary['largest_spacing_change']:.1e} nats)")
    for round_ in result.rounds:
        print(f"  round at spacing {round_['spacing']:g}: {round_['images']} images, {round_['points']} fine points")
    print(f"matrix products: {flops / 1e12:.2f} TFLOP, {product_seconds:.1f} s replayed alone "
          f"({product_seconds / seconds:.0%} of the run), {summary['product_gflops']:.0f} GFLOP/s = "
          f"{summary['product_fraction_of_peak']:.0%} of the float32 peak ({peak:.0f} GFLOP/s)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

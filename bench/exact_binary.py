"""Speed of the exact log p(x) of a binary model: python bench/exact_binary.py [--checkpoint PATH] [--images N]

Times algorithms/binary/exact.py::enumerate_log_px over all 2^J states for the first N test images (default all
10000) of a trained run with one binary layer (default: a fresh model of 20 units with a tanh layer of 200, the
enumerable model of derivations/binary.md: the work does not depend on the weights), then replays its matrix
products alone, the same shapes in the same blocks, to give their share of the time and their speed against this
machine's float32 matrix-product peak (measured as bench/run.py measures it).
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from algorithms.binary.exact import CHUNK, IMAGES, enumerate_log_px  # noqa: E402
from algorithms.binary.model import BinaryHelmholtzMachine  # noqa: E402
from bench.exact import bench_run  # noqa: E402
from experiments.harness.training import trained_model  # noqa: E402
from experiments.data import kind_of  # noqa: E402
from experiments.data.mnist import load_dataset, select_images  # noqa: E402
from experiments.harness.new_settings import new_settings  # noqa: E402
from experiments.harness.runner import make_effective  # noqa: E402


def images_and_model(checkpoint):
    """The test images as the run saw them and its model, or a fresh enumerable model on fixed binarized MNIST."""
    if checkpoint is not None:
        model, settings = trained_model(checkpoint)
        data = load_dataset(settings.data_dir)
    else:
        data = load_dataset(None)
        settings = make_effective(new_settings("vimco", {"layers": [20], "hidden": [200], "binarize": "fixed"}, False),
                                  data)
        model = BinaryHelmholtzMachine(np.random.default_rng(0), 784, [20], hidden=[200])
    return select_images(data, settings, kind_of(settings)).test, model


def replay(images, units, data_dim):
    """Seconds for the products alone: every block of images (with the column of ones) times (D + 1, CHUNK)."""
    right = np.random.default_rng(0).standard_normal((data_dim + 1, CHUNK), dtype=np.float32)
    left = np.concatenate([images, np.ones((len(images), 1), np.float32)], axis=1)
    began = time.perf_counter()
    for _ in range(0, 2 ** units, CHUNK):
        for first in range(0, len(images), IMAGES):
            left[first:first + IMAGES] @ right
    return time.perf_counter() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="a finished run with one binary layer of at most 20 units")
    parser.add_argument("--images", type=int, default=10000, help="test images (default 10000)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "exact_binary.json")
    args = parser.parse_args()
    images, model = images_and_model(args.checkpoint)
    images = images[:args.images].astype(np.float32)
    peak_before = bench_run().matmul_peak_gflops(2000)
    began = time.perf_counter()
    log_px = enumerate_log_px(model, images).log_px
    seconds = time.perf_counter() - began
    units = model.layers[0]
    product_seconds = replay(images, units, images.shape[1])
    peak = max(peak_before, bench_run().matmul_peak_gflops(2000))
    flops = 2.0 * len(images) * (images.shape[1] + 1) * 2 ** units
    summary = {"images": len(images), "units": units, "seconds": seconds, "product_seconds": product_seconds,
               "product_tflop": flops / 1e12, "product_gflops": flops / product_seconds / 1e9,
               "matmul_peak_gflops": peak, "product_fraction_of_peak": flops / product_seconds / 1e9 / peak,
               "whole_fraction_of_peak": flops / seconds / 1e9 / peak, "mean_log_px": float(log_px.mean())}
    print(f"exact log p(x) of {len(images)} test images over 2^{units} states: {seconds:.1f} s "
          f"(mean {summary['mean_log_px']:.3f})")
    print(f"matrix products: {flops / 1e12:.2f} TFLOP, {product_seconds:.1f} s replayed alone "
          f"({product_seconds / seconds:.0%} of the run), {summary['product_gflops']:.0f} GFLOP/s = "
          f"{summary['product_fraction_of_peak']:.0%} of the float32 peak ({peak:.0f} GFLOP/s); the whole "
          f"enumeration runs at {summary['whole_fraction_of_peak']:.0%} of it")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

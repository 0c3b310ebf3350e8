"""Where a training step's time goes: python bench/breakdown.py [--rounds R]

For the default model (784-500-500-2 softplus, batch 100, float32, MNIST), in one process:
  step      one whole training step
  products  the step's matrix products alone: the same shapes, the same transposes, the same weights
  Adam      the optimizer updates alone (AEVB has one, Wake-Sleep two)
  rest      step - products - Adam: the elementwise maps (activations, densities, noise), bias sums and Python
Each round times 50 of each in turn, and the table gives medians over rounds (milliseconds per step), so that
the machine's drift touches the three alike. Compare with bench/run.py's PyTorch times to see what is left to gain:
both sides run the same products at the same speed.
"""
import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from algorithms.aevb import AEVB  # noqa: E402
from algorithms.model import HelmholtzMachine  # noqa: E402
from algorithms.wake_sleep import WakeSleep  # noqa: E402
from experiments.data.mnist import load_dataset  # noqa: E402
from nn.layers import Linear  # noqa: E402

BATCH, REPEATS = 100, 50


def products(net, rows, backward, input_grad=False):
    """The matrix products of one pass through `net` with `rows` rows, as calls with no arguments:
    x W for every Linear layer; with backward also x^T dout (into a gradient-sized buffer) and dout W^T,
    the latter not for the first layer unless input_grad (Linear.forward and Linear.backward, Eqs. (B1), (B2))."""
    rng = np.random.default_rng(0)
    calls = []
    for index, layer in enumerate(layer for layer in net.layers if isinstance(layer, Linear)):
        weights = layer.params["W"]
        x = rng.standard_normal((rows, weights.shape[0]), dtype=weights.dtype)
        dout = rng.standard_normal((rows, weights.shape[1]), dtype=weights.dtype)
        calls.append(functools.partial(np.matmul, x, weights))
        if backward:
            calls.append(functools.partial(np.matmul, x.T, dout, out=np.empty_like(weights)))
            if index > 0 or input_grad:
                calls.append(functools.partial(np.matmul, dout, weights.T))
    return calls


def step_products(model, algorithm):
    """Every matrix product of one training step (the dreams of Wake-Sleep are a batch of 100 too)."""
    recognition, generative = model.recognition, model.generative
    if algorithm == "aevb":
        return products(recognition, BATCH, True) + products(generative, BATCH, True, input_grad=True)
    return (products(recognition, BATCH, False) + products(generative, BATCH, True)        # wake
            + products(generative, BATCH, False) + products(recognition, BATCH, True))     # sleep


def per_step_ms(run):
    began = time.perf_counter()
    for _ in range(REPEATS):
        run()
    return (time.perf_counter() - began) / REPEATS * 1e3


def breakdown(algorithm, images, rounds):
    rng = np.random.default_rng(0)
    model = HelmholtzMachine(rng)
    trainer = AEVB(model) if algorithm == "aevb" else WakeSleep(model)
    position = 0

    def train_step():
        nonlocal position
        trainer.step(images[position * BATCH:][:BATCH], rng)
        position = (position + 1) % (len(images) // BATCH)

    def run_products(calls=step_products(model, algorithm)):
        for call in calls:
            call()

    def run_adam():
        for optimizer in trainer.optimizers.values():
            optimizer.step()

    parts = {"step": train_step, "products": run_products, "Adam": run_adam}
    for run in parts.values():          # warm-up
        per_step_ms(run)
    times = {name: [] for name in parts}
    for _ in range(rounds):
        for name, run in parts.items():
            times[name].append(per_step_ms(run))
    medians = {name: statistics.median(values) for name, values in times.items()}
    medians["rest"] = medians["step"] - medians["products"] - medians["Adam"]
    return medians


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds of 50 steps, products and updates (default 10)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1 (got {args.rounds})")
    images = load_dataset().train_images
    print(f"{'ms per step':<12}{'step':>8}{'products':>10}{'Adam':>8}{'rest':>8}")
    for algorithm in ("aevb", "wake-sleep"):
        medians = breakdown(algorithm, images, args.rounds)
        print(f"{algorithm:<12}" + "".join(f"{medians[name]:>{width}.2f}" for name, width in
                                           (("step", 8), ("products", 10), ("Adam", 8), ("rest", 8))))
    print(f"medians over {args.rounds} rounds; each round times {REPEATS} of each part in turn")


if __name__ == "__main__":
    main()

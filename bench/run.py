"""Speed benchmark: python bench/run.py [--steps N] [--repeats R] [--eval-images N] [--json PATH]

Measures, on the default model (784-500-500-2 softplus, batch 100, float32, MNIST):
training seconds per epoch for AEVB and Wake-Sleep (timed over --steps steps, scaled to 600),
L_100 evaluation throughput on test images, the machine's float32 matrix-product peak, the fraction
of it each phase reaches, and peak memory. When PyTorch is importable, the same steps run in PyTorch
with the same thread count, alternating with ours, and the table gives our time over theirs.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from algorithms import AEVB, HelmholtzMachine, WakeSleep, importance_weighted_bound  # noqa: E402
from experiments.mnist import load_dataset  # noqa: E402

STEPS_PER_EPOCH, BATCH, K = 600, 100, 100
HIDDEN, LATENT, DATA = (500, 500), 2, 784


def matmul_peak_gflops(n=2000, repeats=10):
    a, b = (np.random.default_rng(i).random((n, n), dtype=np.float32) for i in range(2))
    a @ b
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - began)
    return 2 * n ** 3 / min(times) / 1e9


def linear_flops(sizes, rows, backward, input_grad=False):
    """FLOPs of the matrix products of an MLP: 2 rows n_in n_out forward; backward dW and dx (not dx of
    the first layer unless input_grad)."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    flops = sum(2 * rows * a * b for a, b in pairs)
    if backward:
        flops += sum(2 * rows * a * b for a, b in pairs)                                  # dW
        flops += sum(2 * rows * a * b for i, (a, b) in enumerate(pairs) if i > 0 or input_grad)  # dx
    return flops


RECOGNITION = [DATA, *HIDDEN, 2 * LATENT]
GENERATIVE = [LATENT, *reversed(HIDDEN), DATA]
FLOPS = {
    "aevb": linear_flops(RECOGNITION, BATCH, True) + linear_flops(GENERATIVE, BATCH, True, input_grad=True),
    "wake-sleep": (linear_flops(RECOGNITION, BATCH, False) + linear_flops(GENERATIVE, BATCH, True)
                   + linear_flops(GENERATIVE, BATCH, False) + linear_flops(RECOGNITION, BATCH, True)),
    "lk": lambda n: linear_flops(RECOGNITION, n, False) + linear_flops(GENERATIVE, n * K, False),
}


def ours_training(algorithm, images, steps):
    rng = np.random.default_rng(0)
    model = HelmholtzMachine(rng)
    trainer = AEVB(model) if algorithm == "aevb" else WakeSleep(model)

    def run():
        for step in range(steps):
            trainer.step(images[(step % STEPS_PER_EPOCH) * BATCH:][:BATCH], rng)
    return run


def torch_training(algorithm, images, steps):
    import torch_reference as reference
    import torch
    model = reference.TorchHelmholtz()
    trainer = reference.TorchAEVB(model) if algorithm == "aevb" else reference.TorchWakeSleep(model)
    tensor = torch.from_numpy(images)

    def run():
        for step in range(steps):
            trainer.step(tensor[(step % STEPS_PER_EPOCH) * BATCH:][:BATCH])
    return run


def ours_evaluation(images):
    model = HelmholtzMachine(np.random.default_rng(0))
    return lambda: importance_weighted_bound(model, images, K, seed=0)


def torch_evaluation(images):
    import torch_reference as reference
    import torch
    model, tensor = reference.TorchHelmholtz(), torch.from_numpy(images)
    return lambda: reference.importance_weighted_bound(model, tensor, K)


def timed(run):
    began = time.perf_counter()
    run()
    return time.perf_counter() - began


def peak_traced_mib(run):
    """Peak of the memory NumPy allocates while run() runs (NumPy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps timed per run (default 300)")
    parser.add_argument("--repeats", type=int, default=5, help="alternating runs per phase (default 5)")
    parser.add_argument("--eval-images", type=int, default=2000, help="test images per L_100 run (default 2000)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "bench.json")
    parser.add_argument("--no-torch", action="store_true", help="time ours only")
    args = parser.parse_args()

    threads = os.cpu_count()
    try:
        if args.no_torch:
            raise ImportError
        import torch
        torch.set_num_threads(threads)
        sys.path.insert(0, str(ROOT / "bench"))
        have_torch = True
    except ImportError:
        have_torch = False

    data = load_dataset()
    train, test = data.train_images, data.test_images[:args.eval_images]
    peak = matmul_peak_gflops()
    phases = {
        "aevb": (ours_training("aevb", train, args.steps),
                 torch_training("aevb", train, args.steps) if have_torch else None),
        "wake-sleep": (ours_training("wake-sleep", train, args.steps),
                       torch_training("wake-sleep", train, args.steps) if have_torch else None),
        "lk": (ours_evaluation(test), torch_evaluation(test) if have_torch else None),
    }
    results = {"threads": threads, "matmul_peak_gflops": peak, "numpy": np.__version__,
               "torch": torch.__version__ if have_torch else None, "phases": {}}
    for name, (ours, theirs) in phases.items():
        ours(), theirs and theirs()                               # warm up both
        our_times, their_times = [], []
        for repeat in range(args.repeats):                        # alternate, and alternate who goes first
            order = [(ours, our_times), (theirs, their_times)] if theirs else [(ours, our_times)]
            for run, times in (order if repeat % 2 == 0 else order[::-1]):
                times.append(timed(run))
        ours_median = statistics.median(our_times)
        phase = {"ours_seconds": our_times, "torch_seconds": their_times or None}
        if name == "lk":
            phase["ours_images_per_second"] = len(test) / ours_median
            phase["gflops"] = FLOPS["lk"](len(test)) / ours_median / 1e9
            if their_times:
                phase["torch_images_per_second"] = len(test) / statistics.median(their_times)
        else:
            phase["ours_seconds_per_epoch"] = ours_median * STEPS_PER_EPOCH / args.steps
            phase["gflops"] = FLOPS[name] * args.steps / ours_median / 1e9
            if their_times:
                phase["torch_seconds_per_epoch"] = statistics.median(their_times) * STEPS_PER_EPOCH / args.steps
        phase["fraction_of_peak"] = phase["gflops"] / peak
        phase["ours_over_torch"] = ours_median / statistics.median(their_times) if their_times else None
        phase["peak_numpy_mib"] = peak_traced_mib(ours)
        results["phases"][name] = phase
    results["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"float32 matrix-product peak: {peak:.0f} GFLOP/s on {threads} threads; "
          f"NumPy {np.__version__}" + (f", PyTorch {results['torch']}" if have_torch else ", PyTorch not installed"))
    print(f"{'phase':<12}{'ours':>16}{'PyTorch':>16}{'ours/PyTorch':>14}{'GFLOP/s':>9}{'of peak':>9}{'peak MiB':>10}")
    for name, phase in results["phases"].items():
        if name == "lk":
            ours = f"{phase['ours_images_per_second']:.0f} img/s"
            theirs = f"{phase['torch_images_per_second']:.0f} img/s" if have_torch else "—"
        else:
            ours = f"{phase['ours_seconds_per_epoch']:.2f} s/epoch"
            theirs = f"{phase['torch_seconds_per_epoch']:.2f} s/epoch" if have_torch else "—"
        ratio = f"{phase['ours_over_torch']:.2f}" if have_torch else "—"
        label = "L_100 eval" if name == "lk" else name
        print(f"{label:<12}{ours:>16}{theirs:>16}{ratio:>14}{phase['gflops']:>9.0f}"
              f"{phase['fraction_of_peak']:>9.0%}{phase['peak_numpy_mib']:>10.0f}")
    print(f"medians of {args.repeats} alternating runs; ours/PyTorch is a time ratio (lower is faster); "
          f"process max RSS {results['max_rss_mib']:.0f} MiB (MNIST itself is 219 MiB)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

"""Speed benchmark: python bench/run.py [--steps N] [--repeats R] [--eval-images N] [--json PATH]

Measures, on the default model (784-500-500-2 softplus, batch 100, float32, MNIST):
training seconds per epoch for AEVB and Wake-Sleep (timed over --steps steps, scaled to 600),
L_100 evaluation throughput on the 10000 test images, the machine's float32 matrix-product peak, the fraction
of it each phase reaches, and peak memory. When PyTorch is importable, the same steps run in PyTorch
with the same thread count, alternating with ours, and the table gives our time over theirs. Every timed
run is a fresh process, so that neither library's idle worker threads (which spin for a while after
each call) steal the other's cores.
"""
import argparse
import functools
import importlib.metadata
import importlib.util
import json
import os
import resource
import statistics
import subprocess
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


def stepping(step, images, steps):
    """A function that runs `steps` more training steps, step(minibatch), going on through the epoch's minibatches."""
    position = 0

    def run():
        nonlocal position
        for index in range(position, position + steps):
            step(images[(index % STEPS_PER_EPOCH) * BATCH:][:BATCH])
        position += steps
    return run


def ours_training(algorithm, images, steps):
    rng = np.random.default_rng(0)
    model = HelmholtzMachine(rng)
    trainer = AEVB(model) if algorithm == "aevb" else WakeSleep(model)
    return stepping(lambda x: trainer.step(x, rng), images, steps)


def torch_training(algorithm, images, steps):
    import torch_reference as reference
    import torch
    model = reference.TorchHelmholtz()
    trainer = reference.TorchAEVB(model) if algorithm == "aevb" else reference.TorchWakeSleep(model)
    return stepping(trainer.step, torch.from_numpy(images), steps)


def ours_evaluation():
    """A function that computes L_100 of the given images with one fixed model."""
    model = HelmholtzMachine(np.random.default_rng(0))
    return lambda images: importance_weighted_bound(model, images, K, seed=0)


def torch_evaluation():
    import torch_reference as reference
    import torch
    model = reference.TorchHelmholtz()
    return lambda images: reference.importance_weighted_bound(model, torch.from_numpy(images), K)


SEGMENTS = 6  # each run is timed in this many parts of (nearly) equal size


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


def worker(side, phase, steps, eval_images):
    """One run in this process: warm up, time the workload in SEGMENTS parts, and (ours) trace the peak
    memory; prints JSON. "seconds" is the whole workload at the pace of the fastest part (per step or per image):
    the run's steadiest pace, which leaves out the bursts when another tenant of this shared machine takes a core
    (timeit's reasoning for its minimum). "total_seconds" is the plain sum."""
    data = load_dataset()
    if side == "torch":
        import torch
        torch.set_num_threads(os.cpu_count())
        sys.path.insert(0, str(ROOT / "bench"))
    if phase == "lk":
        evaluate = (ours_evaluation if side == "ours" else torch_evaluation)()
        images = data.test_images[:eval_images]
        pieces = np.array_split(images, SEGMENTS)
        parts, sizes = [functools.partial(evaluate, piece) for piece in pieces], [len(piece) for piece in pieces]
        # warm up and trace memory on fewer images: the evaluation runs in chunks, so its peak does not grow with N
        warm_up, traced = functools.partial(evaluate, images[:200]), functools.partial(evaluate, images[:1000])
    else:
        run = (ours_training if side == "ours" else torch_training)(phase, data.train_images, steps // SEGMENTS)
        parts, sizes, warm_up, traced = [run] * SEGMENTS, [steps // SEGMENTS] * SEGMENTS, run, run
    warm_up()
    part_seconds = [timed(part) for part in parts]
    fastest_pace = min(seconds / size for seconds, size in zip(part_seconds, sizes))
    result = {"seconds": fastest_pace * sum(sizes), "total_seconds": sum(part_seconds)}
    if side == "ours":
        result["peak_numpy_mib"] = peak_traced_mib(traced)
    result["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def run_worker(side, phase, args):
    command = [sys.executable, __file__, "--worker", side, phase, "--steps", str(args.steps),
               "--eval-images", str(args.eval_images)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300,
                        help=f"training steps timed per run, a multiple of {SEGMENTS} (default 300)")
    parser.add_argument("--repeats", type=int, default=5, help="alternating runs per phase (default 5)")
    parser.add_argument("--eval-images", type=int, default=10000,
                        help="test images per L_100 run (default: all 10000)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "bench.json")
    parser.add_argument("--no-torch", action="store_true", help="time ours only")
    parser.add_argument("--worker", nargs=2, metavar=("SIDE", "PHASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps % SEGMENTS or args.eval_images < SEGMENTS:
        parser.error(f"--steps must be a multiple of {SEGMENTS} and --eval-images at least {SEGMENTS} "
                     f"(each run is timed in {SEGMENTS} equal parts)")
    if args.worker:
        return worker(*args.worker, args.steps, args.eval_images)

    threads = os.cpu_count()
    have_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    sides = ["ours", "torch"] if have_torch else ["ours"]
    peak = matmul_peak_gflops()
    results = {"threads": threads, "matmul_peak_gflops": peak, "numpy": np.__version__,
               "torch": importlib.metadata.version("torch") if have_torch else None,
               "method": f"each run in a fresh process, timed in {SEGMENTS} parts, its time the whole workload at "
                         "its fastest part's pace; sides take turns, and who goes first rotates; medians over runs",
               "phases": {}}
    for name in ("aevb", "wake-sleep", "lk"):
        runs = {side: [] for side in sides}
        for repeat in range(args.repeats):
            for side in sides[repeat % len(sides):] + sides[:repeat % len(sides)]:
                runs[side].append(run_worker(side, name, args))
        ours_seconds = [r["seconds"] for r in runs["ours"]]
        ours_median = statistics.median(ours_seconds)
        phase = {"ours_seconds": ours_seconds, "ours_total_seconds": [r["total_seconds"] for r in runs["ours"]],
                 "peak_numpy_mib": max(r["peak_numpy_mib"] for r in runs["ours"]),
                 "ours_max_rss_mib": max(r["max_rss_mib"] for r in runs["ours"])}
        their_median = None
        if have_torch:
            phase["torch_seconds"] = [r["seconds"] for r in runs["torch"]]
            phase["torch_total_seconds"] = [r["total_seconds"] for r in runs["torch"]]
            their_median = statistics.median(phase["torch_seconds"])
            phase["ours_over_torch_totals"] = (statistics.median(phase["ours_total_seconds"])
                                               / statistics.median(phase["torch_total_seconds"]))
        if name == "lk":
            phase["ours_images_per_second"] = args.eval_images / ours_median
            phase["gflops"] = FLOPS["lk"](args.eval_images) / ours_median / 1e9
            if have_torch:
                phase["torch_images_per_second"] = args.eval_images / their_median
        else:
            phase["ours_seconds_per_epoch"] = ours_median * STEPS_PER_EPOCH / args.steps
            phase["gflops"] = FLOPS[name] * args.steps / ours_median / 1e9
            if have_torch:
                phase["torch_seconds_per_epoch"] = their_median * STEPS_PER_EPOCH / args.steps
        phase["fraction_of_peak"] = phase["gflops"] / peak
        phase["ours_over_torch"] = ours_median / their_median if have_torch else None
        results["phases"][name] = phase

    print(f"float32 matrix-product peak: {peak:.0f} GFLOP/s on {threads} threads; NumPy {np.__version__}"
          + (f", PyTorch {results['torch']}" if have_torch else ", PyTorch not installed"))
    print(f"{'phase':<12}{'ours':>16}{'PyTorch':>16}{'ours/PyTorch':>14}{'GFLOP/s':>9}{'of peak':>9}"
          f"{'NumPy MiB':>11}{'RSS MiB':>9}")
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
              f"{phase['fraction_of_peak']:>9.0%}{phase['peak_numpy_mib']:>11.0f}{phase['ours_max_rss_mib']:>9.0f}")
    print(f"medians of {args.repeats} alternating runs, each in a fresh process and timed in {SEGMENTS} parts "
          f"(a run's time: its whole workload at its fastest part's pace); ours/PyTorch is a time ratio (lower is faster); "
          f"NumPy MiB: peak of NumPy's allocations; RSS MiB: the process's peak, MNIST included")
    if have_torch:
        print("ours/PyTorch from the runs' plain totals instead: "
              + ", ".join(f"{'L_100 eval' if name == 'lk' else name} {phase['ours_over_torch_totals']:.2f}"
                          for name, phase in results["phases"].items()))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

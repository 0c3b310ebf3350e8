"""Speed benchmark: python bench/run.py [--blocks B] [--json PATH] [--no-torch | --against DIR]

Measures, on the default model (784-500-500-2 softplus, batch 100, float32, MNIST):
training seconds per epoch for AEVB and Wake-Sleep, L_100 evaluation throughput on the 10000 test images,
the machine's float32 matrix-product peak, the fraction of it each phase reaches, and peak memory.
When PyTorch is importable, the same steps run in PyTorch with the same thread count, and the table gives
our time over theirs. With --against DIR the other side is this bench in another checkout of the project
(`git worktree add DIR REV`), to see whether a change made our code faster.

How it is timed. This machine is shared: its speed drifts by +-15% over tens of seconds, so two runs made a
minute apart cannot be compared, but two made within a second or two can. Each side runs in its own
long-lived process, and the two are asked in turn to time one segment (50 training steps, or 500 test images)
in blocks of four: ours, theirs, theirs, ours (the next block theirs, ours, ours, theirs). The symmetric order
cancels a drift that is steady across the block's two seconds, so a block's ratio compares the sides under
the same conditions; the printed ratio is the median over blocks, beside the range of their middle half.
Before each segment the controller waits 0.2 s: after a matrix product OpenBLAS's idle worker thread spins
on a core for about 0.1 s (PyTorch's for about 0.01 s), and it must not steal the other side's core.
"""
import argparse
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

from algorithms.aevb import AEVB  # noqa: E402
from algorithms.bound import importance_weighted_bound  # noqa: E402
from algorithms.iwae import IWAE  # noqa: E402
from algorithms.model import HelmholtzMachine  # noqa: E402
from algorithms.wake_sleep import WakeSleep  # noqa: E402
from experiments.data.mnist import load_dataset  # noqa: E402

STEPS_PER_EPOCH, BATCH, K, IWAE_K = 600, 100, 100, 5
HIDDEN, LATENT, DATA = (500, 500), 2, 784


PEAK_SIZE = 2000


def matmul_peak_gflops(n=PEAK_SIZE, repeats=10):
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
    "iwae": linear_flops(RECOGNITION, BATCH, True) + linear_flops(GENERATIVE, BATCH * IWAE_K, True, input_grad=True),
    "lk": lambda n: linear_flops(RECOGNITION, n, False) + linear_flops(GENERATIVE, n * K, False),
}


def stepping(step, images, steps, batch=BATCH, steps_per_epoch=STEPS_PER_EPOCH):
    """A function that runs `steps` more training steps, step(minibatch), going on through the epoch's minibatches."""
    position = 0

    def run():
        nonlocal position
        for index in range(position, position + steps):
            step(images[(index % steps_per_epoch) * batch:][:batch])
        position += steps
    return run


def ours_training(algorithm, images, steps):
    rng = np.random.default_rng(0)
    model = HelmholtzMachine(rng)
    trainer = {"aevb": AEVB, "wake-sleep": WakeSleep, "iwae": lambda m: IWAE(m, k=IWAE_K)}[algorithm](model)
    return stepping(lambda x: trainer.step(x, rng), images, steps)


def torch_training(algorithm, images, steps):
    import torch_reference as reference
    import torch
    model = reference.TorchHelmholtz()
    trainer = {"aevb": reference.TorchAEVB, "wake-sleep": reference.TorchWakeSleep,
               "iwae": lambda m: reference.TorchIWAE(m, k=IWAE_K)}[algorithm](model)
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


PHASES = ("aevb", "wake-sleep", "iwae", "lk")
PAUSE = 0.2                                  # seconds before each segment (see the module's docstring)
SEGMENT_STEPS, SEGMENT_IMAGES = 50, 500      # one segment's work: training steps, or test images for L_100


def set_segment(steps, images):
    global SEGMENT_STEPS, SEGMENT_IMAGES
    SEGMENT_STEPS, SEGMENT_IMAGES = steps, images


def segment_runner(side, phase, data):
    """A function that runs the next segment of `phase` on `side`: training goes on through the epoch's
    minibatches, evaluation through the test images."""
    if side == "torch":
        import torch
        torch.set_num_threads(os.cpu_count())
        sys.path.insert(0, str(ROOT / "bench"))
    if phase != "lk":
        return (ours_training if side == "ours" else torch_training)(phase, data.train_images, SEGMENT_STEPS)
    evaluate = (ours_evaluation if side == "ours" else torch_evaluation)()
    images, position = data.test_images, 0

    def run():
        nonlocal position
        evaluate(images[position:position + SEGMENT_IMAGES])
        position = (position + SEGMENT_IMAGES) % len(images)
    return run


def peak_traced_mib(run):
    """Peak of the memory NumPy allocates while run() runs (NumPy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20


def worker(side, phase, runner=segment_runner):
    """One side of one phase, driven over stdin: after a warm-up segment it prints "ready"; then each line
    "segment" runs and times the next segment (prints its seconds), and "memory" prints, as JSON, the peak
    of NumPy's allocations over one more segment (ours only) and the process's peak resident memory.
    runner(side, phase, data) makes the segment function (another bench's phases: bench/vimco.py)."""
    run = runner(side, phase, load_dataset())
    run()
    print("ready", flush=True)
    for command in sys.stdin:
        if command.strip() == "segment":
            began = time.perf_counter()
            run()
            print(time.perf_counter() - began, flush=True)
        elif command.strip() == "memory":
            memory = {"peak_numpy_mib": peak_traced_mib(run) if side == "ours" else None,
                      "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
            print(json.dumps(memory), flush=True)


class Worker:
    """The controller's handle on one worker process, `script --worker runs phase`, which times `name`'s side."""

    def __init__(self, name, script, runs, phase):
        self.name, self.phase = name, phase
        self.process = subprocess.Popen([sys.executable, str(script), "--worker", runs, phase,
                                         "--segment", str(SEGMENT_STEPS), str(SEGMENT_IMAGES)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def wait_until_ready(self):
        """Started together, the two workers load and warm up side by side; this waits for this one's "ready"."""
        self.ask(None)

    def ask(self, command):
        if command is not None:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise SystemExit(f"bench: the {self.name} worker for {self.phase} stopped "
                             f"(exit status {self.process.wait()})")
        return answer

    def segment(self):
        time.sleep(PAUSE)
        return float(self.ask("segment"))

    def memory(self):
        time.sleep(PAUSE)
        return json.loads(self.ask("memory"))

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def quartiles(values):
    low, _, high = statistics.quantiles(values, n=4, method="inclusive")
    return low, high


def time_phase(phase, workers, blocks):
    """Segment times of each side over `blocks` blocks (ABBA, then BAAB, ...), each block's time ratio, and memory.
    workers: side ("ours", "other") -> (script, the side that script runs)."""
    sides = list(workers)
    workers = {side: Worker(side, script, runs, phase) for side, (script, runs) in workers.items()}
    for running in workers.values():
        running.wait_until_ready()
    seconds = {side: [] for side in sides}
    ratios = []
    try:
        for block in range(blocks):
            first, *second = sides[block % len(sides):] + sides[:block % len(sides)]
            order = [first, *second, *second, first] if second else [first, first]
            times = {side: 0.0 for side in sides}
            for side in order:
                elapsed = workers[side].segment()
                seconds[side].append(elapsed)
                times[side] += elapsed
            if len(sides) == 2:
                ratios.append(times["ours"] / times["other"])
        memory = workers["ours"].memory()
    finally:
        for running in workers.values():
            running.close()
    return seconds, ratios, memory


def summarize(phase, seconds, ratios, memory, peak, steps_per_epoch=STEPS_PER_EPOCH, step_flops=None):
    """The phase's numbers for the table and the JSON: each side's median pace, scaled to an epoch (training)
    or given as images per second (evaluation); the median block ratio and its middle half; GFLOP/s.
    Another bench's training phase gives its epoch's steps and a step's FLOPs (default: this bench's)."""
    pace = {side: statistics.median(times) for side, times in seconds.items()}       # seconds per segment
    summary = {"segment_seconds": seconds, "block_ratios": ratios, **memory}
    if phase == "lk":
        for side, value in pace.items():
            summary[f"{side}_images_per_second"] = SEGMENT_IMAGES / value
        summary["gflops"] = FLOPS["lk"](SEGMENT_IMAGES) / pace["ours"] / 1e9
    else:
        for side, value in pace.items():
            summary[f"{side}_seconds_per_epoch"] = value * steps_per_epoch / SEGMENT_STEPS
        step_flops = FLOPS[phase] if step_flops is None else step_flops
        summary["gflops"] = step_flops * SEGMENT_STEPS / pace["ours"] / 1e9
    summary["fraction_of_peak"] = summary["gflops"] / peak
    summary["ours_over_other"] = statistics.median(ratios) if ratios else None
    summary["ours_over_other_middle_half"] = quartiles(ratios) if len(ratios) > 1 else None
    return summary


def main():
    """Parses the flags; a worker only reads --worker and --segment."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10,
                        help=f"blocks of four segments per phase, at least 2 (default 10: {20 * SEGMENT_STEPS} "
                             f"training steps and {20 * SEGMENT_IMAGES} test images per side)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "bench.json")
    others = parser.add_mutually_exclusive_group()
    others.add_argument("--no-torch", action="store_true", help="time ours only")
    others.add_argument("--against", type=Path, metavar="DIR",
                        help="time ours against this bench in another checkout DIR instead of PyTorch")
    parser.add_argument("--segment", type=int, nargs=2, metavar=("STEPS", "IMAGES"),
                        default=[SEGMENT_STEPS, SEGMENT_IMAGES],
                        help=f"one segment's work (default {SEGMENT_STEPS} training steps, {SEGMENT_IMAGES} test images; "
                             "the tests use a few, to check that the bench runs and counts right, not to time)")
    parser.add_argument("--peak-size", type=int, default=PEAK_SIZE,
                        help=f"the side of the square products that measure the matrix-product peak (default "
                             f"{PEAK_SIZE}; the tests use a small one)")
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES),
                        help="the phases to time (default: all)")
    parser.add_argument("--worker", nargs=2, metavar=("SIDE", "PHASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if min(args.segment) < 1:
        parser.error(f"--segment takes two whole numbers of at least 1 (got {args.segment[0]} {args.segment[1]})")
    set_segment(*args.segment)
    if args.worker:
        return worker(*args.worker)
    if args.blocks < 2:
        parser.error(f"--blocks must be at least 2 (got {args.blocks})")
    if args.peak_size < 1:
        parser.error(f"--peak-size must be at least 1 (got {args.peak_size})")
    if args.against is not None and not (args.against / "bench" / "run.py").is_file():
        parser.error(f"--against {args.against}: no bench/run.py there (make one with git worktree add DIR REV)")

    threads = os.cpu_count()
    workers = {"ours": (__file__, "ours")}
    if args.against is not None:
        workers["other"] = (args.against.resolve() / "bench" / "run.py", "ours")
        other, other_label = f"this bench in {args.against.resolve()}", "other"
    elif not args.no_torch and importlib.util.find_spec("torch") is not None:
        workers["other"] = (__file__, "torch")
        other, other_label = f"PyTorch {importlib.metadata.version('torch')}", "PyTorch"
    else:
        other, other_label = None, "PyTorch"
    peak = matmul_peak_gflops(args.peak_size)
    results = {"threads": threads, "matmul_peak_gflops": peak, "numpy": np.__version__, "other": other,
               "segment": {"steps": SEGMENT_STEPS, "images": SEGMENT_IMAGES},
               "method": f"two long-lived processes timed in turn, one segment ({SEGMENT_STEPS} steps or "
                         f"{SEGMENT_IMAGES} images) at a time, in blocks ours-theirs-theirs-ours (alternating with "
                         f"theirs-ours-ours-theirs), {PAUSE} s pause before each segment; paces are medians over "
                         "segments, ratios medians over blocks",
               "phases": {}}
    for phase in args.phases:
        results["phases"][phase] = summarize(phase, *time_phase(phase, workers, args.blocks), peak)

    compared = other is not None
    print(f"float32 matrix-product peak: {peak:.0f} GFLOP/s on {threads} threads; NumPy {np.__version__}; against "
          + (other if compared else "nothing (--no-torch)" if args.no_torch else "nothing (PyTorch not installed)"))
    print(f"{'phase':<12}{'ours':>16}{other_label:>16}{'ours/' + other_label:>14}{'middle half':>13}{'GFLOP/s':>9}"
          f"{'of peak':>9}{'NumPy MiB':>11}{'RSS MiB':>9}")
    for name, phase in results["phases"].items():
        if name == "lk":
            ours = f"{phase['ours_images_per_second']:.0f} img/s"
            theirs = f"{phase['other_images_per_second']:.0f} img/s" if compared else "—"
        else:
            ours = f"{phase['ours_seconds_per_epoch']:.2f} s/epoch"
            theirs = f"{phase['other_seconds_per_epoch']:.2f} s/epoch" if compared else "—"
        ratio = f"{phase['ours_over_other']:.2f}" if compared else "—"
        spread = "{:.2f}-{:.2f}".format(*phase["ours_over_other_middle_half"]) if compared else "—"
        label = "L_100 eval" if name == "lk" else name
        print(f"{label:<12}{ours:>16}{theirs:>16}{ratio:>14}{spread:>13}{phase['gflops']:>9.0f}"
              f"{phase['fraction_of_peak']:>9.0%}{phase['peak_numpy_mib']:>11.0f}{phase['max_rss_mib']:>9.0f}")
    print(f"{args.blocks} blocks per phase of four {SEGMENT_STEPS}-step or {SEGMENT_IMAGES}-image segments, the sides "
          f"in turn (ABBA); paces: medians over segments; ours/{other_label}: time ratio (lower is faster), median over "
          f"blocks, and the middle half of the blocks' ratios; NumPy MiB: peak of NumPy's allocations; RSS MiB: "
          f"the process's peak, MNIST included")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

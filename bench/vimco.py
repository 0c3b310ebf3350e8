"""Speed of VIMCO against PyTorch: python bench/vimco.py [--blocks B] [--steps S] [--json PATH] [--check]

Measures the training seconds per epoch of VIMCO with k = 5 (algorithms/binary/vimco.py) on the linear sigmoid
belief network 200-200 (algorithms/binary/model.py, hidden=[], float32, batch 24: 2500 steps an epoch, on the
training images binarized once as a fixed-binarization run sees them), against the same objective differentiated
by PyTorch's autodiff (bench/torch_reference.py::TorchVIMCO: the same network, sampling and Adam) on the same CPU
with the same thread count; also the fraction of the machine's float32 matrix-product peak our step reaches.

How it is timed: as bench/run.py times (its module docstring says why), with its own machinery loaded by path
(Worker, time_phase, worker, stepping, summarize, matmul_peak_gflops). Each side runs in its own long-lived process,
and the two are asked in turn to time one segment (100 training steps) in blocks of four: ours, theirs, theirs,
ours (the next block theirs, ours, ours, theirs), waiting 0.2 s before each segment. A side's seconds per epoch
are its median segment scaled to 2500 steps; the ratio is the median over blocks of ours over theirs, beside the
range of their middle half.

With --check it times nothing: in float64 on both sides, with the same parameters and the same uniforms,
PyTorch's autodiff gradient of the VIMCO surrogate must equal our hand-written one (vimco_objective) to 1e-10,
relative to each parameter's gradient.
"""
import argparse
import importlib.metadata
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from algorithms.binary.model import BinaryHelmholtzMachine  # noqa: E402
from algorithms.binary.vimco import VIMCO, vimco_objective  # noqa: E402
from bench.exact import bench_run  # noqa: E402
from experiments.data.binarize import TRAIN_STREAM, binarized  # noqa: E402
from experiments.data.mnist import load_dataset  # noqa: E402

RUN = bench_run()
DATA, LAYERS, BATCH, K, LR = 784, (200, 200), 24, 5, 1e-3
STEPS_PER_EPOCH = 60000 // BATCH
SEGMENT_STEPS, PHASE = 100, "vimco"
CHECK_TOLERANCE = 1e-10


def step_flops():
    """FLOPs of one step's matrix products: every Linear forward and its dW (no dx: nothing needs it), f_1 on the
    N images (its logits are shared by the k samples), f_2, g_1 and g_2 on the k N samples."""
    sizes = [DATA, *LAYERS]
    flops = 0
    for layer, (below, above) in enumerate(zip(sizes[:-1], sizes[1:])):
        flops += RUN.linear_flops([below, above], BATCH if layer == 0 else K * BATCH, True)     # f_{layer+1}
        flops += RUN.linear_flops([above, below], K * BATCH, True)                              # g_{layer+1}
    return flops


def torch_side():
    """(torch, bench/torch_reference.py), PyTorch on this machine's every core, as bench/run.py sets it."""
    import torch
    torch.set_num_threads(os.cpu_count())
    sys.path.insert(0, str(ROOT / "bench"))
    import torch_reference
    return torch, torch_reference


def segment_runner(side, phase, data):
    """A function that runs the next SEGMENT_STEPS VIMCO steps on `side`, going on through the epoch's minibatches
    of the fixed-binarized training images (bench/run.py's worker calls it; phase is always PHASE)."""
    images = binarized(data.train_images, TRAIN_STREAM)
    if side == "torch":
        torch, reference = torch_side()
        trainer = reference.TorchVIMCO(reference.TorchSBN(DATA, LAYERS), lr=LR, k=K)
        step, images = trainer.step, torch.from_numpy(images)
    else:
        rng = np.random.default_rng(0)
        trainer = VIMCO(BinaryHelmholtzMachine(rng, DATA, LAYERS, hidden=[]), lr=LR, k=K)

        def step(x):
            trainer.step(x, rng)
    return RUN.stepping(step, images, RUN.SEGMENT_STEPS, BATCH, STEPS_PER_EPOCH)


def torch_parameters(torch_model):
    """Our parameter names -> the PyTorch model's tensors (PyTorch's weights are (out, in), ours W (in, out))."""
    named = {}
    for net_name in ("recognition", "generative"):
        for layer, linear in enumerate(getattr(torch_model, net_name)):
            named[f"{net_name}.{layer}.0.W"], named[f"{net_name}.{layer}.0.b"] = linear.weight, linear.bias
    named["generative.prior.b"] = torch_model.prior
    return named


def in_our_layout(name, array):
    return array.T if name.endswith(".W") else array


def gradient_errors(seed=0, batch=BATCH, k=K):
    """(for each parameter |our gradient - PyTorch's| / |PyTorch's| (2-norms), |our L_k - PyTorch's| (mean over the
    images)), in float64 on both sides: our model's parameters (biases and prior logits drawn away from 0) copied
    into PyTorch's, the same images and the same uniforms."""
    torch, reference = torch_side()
    rng = np.random.default_rng(seed)
    model = BinaryHelmholtzMachine(rng, DATA, LAYERS, hidden=[], dtype=np.float64)
    for name, param, _ in model.named_parameters():
        if not name.endswith(".W"):
            param[...] = rng.normal(0, 0.5, param.shape)
    x = binarized(load_dataset(None).train_images[:batch], TRAIN_STREAM).astype(np.float64)
    uniforms = model.noise(rng, k * batch).reshape(k, batch, -1)
    loss = vimco_objective(model, x, uniforms)
    ours = model.gradients()

    theirs_model = reference.TorchSBN(DATA, LAYERS, dtype=torch.float64)
    theirs_named = torch_parameters(theirs_model)
    with torch.no_grad():
        for name, param in model.parameters().items():
            theirs_named[name].copy_(torch.from_numpy(in_our_layout(name, param)))
    surrogate, bound = reference.vimco_surrogate(theirs_model, torch.from_numpy(x), torch.from_numpy(uniforms))
    surrogate.backward()
    errors = {}
    for name, grad in ours.items():
        theirs = in_our_layout(name, theirs_named[name].grad.numpy())
        errors[name] = float(np.linalg.norm(grad - theirs) / np.linalg.norm(theirs))
    return errors, abs(loss + float(bound.mean()))


def cross_check(seed=0):
    """Prints the gradient errors and returns whether every one is within CHECK_TOLERANCE."""
    errors, bound_difference = gradient_errors(seed)
    for name, error in errors.items():
        print(f"{name:<22}{error:10.1e}")
    worst = max(errors.values())
    print(f"largest relative gradient error {worst:.1e} (tolerance {CHECK_TOLERANCE:g}); "
          f"L_k differs by {bound_difference:.1e} nats")
    return worst <= CHECK_TOLERANCE


def print_table(summary, peak, blocks, torch_version):
    print(f"float32 matrix-product peak: {peak:.0f} GFLOP/s on {os.cpu_count()} threads; NumPy {np.__version__}; "
          f"against PyTorch {torch_version}")
    print(f"{'phase':<12}{'ours':>16}{'PyTorch':>16}{'ours/PyTorch':>14}{'middle half':>13}{'GFLOP/s':>9}"
          f"{'of peak':>9}{'NumPy MiB':>11}{'RSS MiB':>9}")
    spread = summary["ours_over_other_middle_half"]
    spread = "{:.2f}-{:.2f}".format(*spread) if spread else "—"
    ours, theirs = (f"{summary[side + '_seconds_per_epoch']:.2f} s/epoch" for side in ("ours", "other"))
    print(f"{'vimco k=5':<12}{ours:>16}{theirs:>16}{summary['ours_over_other']:>14.2f}{spread:>13}"
          f"{summary['gflops']:>9.0f}{summary['fraction_of_peak']:>9.0%}{summary['peak_numpy_mib']:>11.0f}"
          f"{summary['max_rss_mib']:>9.0f}")
    print(f"{blocks} blocks of four {RUN.SEGMENT_STEPS}-step segments, the sides in turn (ABBA); paces: medians over "
          f"segments, scaled to {STEPS_PER_EPOCH} steps; ours/PyTorch: time ratio (lower is faster), median over "
          f"blocks, and the middle half of the blocks' ratios")


def main():
    """Parses the flags; a worker only reads --worker and --segment."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10,
                        help=f"blocks of four segments (default 10: {20 * SEGMENT_STEPS} steps a side)")
    parser.add_argument("--steps", type=int, default=SEGMENT_STEPS,
                        help=f"training steps a segment (default {SEGMENT_STEPS}; a few to check that it runs)")
    parser.add_argument("--peak-size", type=int, default=RUN.PEAK_SIZE,
                        help=f"the side of the square products that measure the matrix-product peak "
                             f"(default {RUN.PEAK_SIZE})")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "vimco.json")
    parser.add_argument("--check", action="store_true",
                        help="compare our gradients with PyTorch's autodiff in float64 instead of timing")
    parser.add_argument("--worker", nargs=2, metavar=("SIDE", "PHASE"), help=argparse.SUPPRESS)
    parser.add_argument("--segment", type=int, nargs=2, help=argparse.SUPPRESS)     # what bench/run.py's Worker passes
    args = parser.parse_args()
    if args.worker:
        RUN.set_segment(*args.segment)
        return RUN.worker(*args.worker, runner=segment_runner)
    if args.check:
        return 0 if cross_check() else 1
    for flag, value in (("--blocks", args.blocks), ("--steps", args.steps), ("--peak-size", args.peak_size)):
        if value < 1:
            parser.error(f"{flag} must be at least 1 (got {value})")

    RUN.set_segment(args.steps, RUN.SEGMENT_IMAGES)
    torch_version = importlib.metadata.version("torch")
    peak = RUN.matmul_peak_gflops(args.peak_size)
    workers = {"ours": (__file__, "ours"), "other": (__file__, "torch")}
    seconds, ratios, memory = RUN.time_phase(PHASE, workers, args.blocks)
    summary = RUN.summarize(PHASE, seconds, ratios, memory, peak, STEPS_PER_EPOCH, step_flops())
    results = {"threads": os.cpu_count(), "matmul_peak_gflops": peak, "numpy": np.__version__,
               "other": f"PyTorch {torch_version}",
               "setup": {"model": f"linear SBN {DATA}-{'-'.join(map(str, LAYERS))}", "k": K, "batch": BATCH,
                         "dtype": "float32", "steps_per_epoch": STEPS_PER_EPOCH, "segment_steps": RUN.SEGMENT_STEPS},
               "method": f"two long-lived processes timed in turn, one segment ({RUN.SEGMENT_STEPS} steps) at a time, "
                         f"in blocks ours-theirs-theirs-ours (alternating with theirs-ours-ours-theirs), {RUN.PAUSE} s "
                         "pause before each segment; paces are medians over segments, ratios medians over blocks",
               "phases": {PHASE: summary}}
    print_table(summary, peak, args.blocks, torch_version)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    sys.exit(main())

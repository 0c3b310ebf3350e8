"""Speed of RLOO, DisARM, ARM, Concrete and REBAR against VIMCO at the same decoder passes: python bench/estimators.py
[--blocks B] [--steps S] [--json PATH] [--only NAME ...]

Each estimator trains the linear sigmoid belief network 200-200 (algorithms/binary/model.py, hidden=[], float32, batch
24: 2500 steps an epoch, on the training images binarized once as a fixed-binarization run sees them) with two decoder
passes per image -- RLOO with k = 2, DisARM and ARM with their one antithetic pair, Concrete with k = 2 relaxed samples
-- and is timed against VIMCO with k = 2 (algorithms/binary/vimco.py), the same number of passes, paired in one run;
REBAR, one sample of three passes (the hard sample, the relaxed one and the conditional one), against VIMCO with k = 3.

How it is timed: as bench/vimco.py does, with bench/run.py's machinery (its module docstring says why): each side in
its own long-lived process, the two asked in turn to time one segment (100 training steps) in blocks of four (ours,
VIMCO, VIMCO, ours; the next block the other way round), 0.2 s before each segment. A side's seconds per epoch are its
median segment scaled to 2500 steps; the ratio is the median over blocks of ours over VIMCO's, beside the middle half
of the blocks' ratios. The target (issue #35): each ratio at most 1.1.
"""
import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from algorithms.binary.concrete import Concrete  # noqa: E402
from algorithms.binary.disarm import DisARM  # noqa: E402
from algorithms.binary.model import BinaryHelmholtzMachine  # noqa: E402
from algorithms.binary.rebar import REBAR  # noqa: E402
from algorithms.binary.rloo import RLOO  # noqa: E402
from algorithms.binary.vimco import VIMCO  # noqa: E402
from bench.exact import bench_run  # noqa: E402
from experiments.data.binarize import TRAIN_STREAM, binarized  # noqa: E402

RUN = bench_run()
DATA, LAYERS, BATCH, LR = 784, (200, 200), 24, 1e-3
STEPS_PER_EPOCH = 60000 // BATCH
SEGMENT_STEPS = 100
# each estimator at two decoder passes per image (REBAR at three), and the VIMCOs they are paired with
TRAINERS = {"rloo": lambda model: RLOO(model, lr=LR, k=2),
            "disarm": lambda model: DisARM(model, lr=LR, estimator="disarm"),
            "arm": lambda model: DisARM(model, lr=LR, estimator="arm"),
            "concrete": lambda model: Concrete(model, lr=LR, temperature=0.5, k=2),
            "rebar": lambda model: REBAR(model, lr=LR, temperature=0.5, cv_scale=1.0, k=1),
            "vimco": lambda model: VIMCO(model, lr=LR, k=2),
            "vimco-k3": lambda model: VIMCO(model, lr=LR, k=3)}
ESTIMATORS = ("rloo", "disarm", "arm", "concrete", "rebar")
AGAINST = {"rebar": "vimco-k3"}        # the others against "vimco", k = 2


def segment_runner(side, phase, data):
    """A function that runs the next SEGMENT_STEPS steps of `side` (an estimator's name, or vimco), going on through
    the epoch's minibatches (bench/run.py's worker calls it; phase names the pairing)."""
    images = binarized(data.train_images, TRAIN_STREAM)
    rng = np.random.default_rng(0)
    trainer = TRAINERS[side](BinaryHelmholtzMachine(rng, DATA, LAYERS, hidden=[]))

    def step(x):
        trainer.step(x, rng)
    return RUN.stepping(step, images, RUN.SEGMENT_STEPS, BATCH, STEPS_PER_EPOCH)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10, help="blocks of four segments per estimator (default 10)")
    parser.add_argument("--steps", type=int, default=SEGMENT_STEPS, help=f"steps a segment (default {SEGMENT_STEPS})")
    parser.add_argument("--only", nargs="*", default=list(ESTIMATORS), choices=ESTIMATORS)
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "estimators.json")
    parser.add_argument("--worker", nargs=2, metavar=("SIDE", "PHASE"), help=argparse.SUPPRESS)
    parser.add_argument("--segment", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        RUN.set_segment(*args.segment)
        return RUN.worker(*args.worker, runner=segment_runner)
    for flag, value in (("--blocks", args.blocks), ("--steps", args.steps)):
        if value < 1:
            parser.error(f"{flag} must be at least 1 (got {value})")
    RUN.set_segment(args.steps, RUN.SEGMENT_IMAGES)
    results = {"threads": os.cpu_count(), "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
               "numpy": np.__version__,
               "setup": {"model": f"linear SBN {DATA}-{'-'.join(map(str, LAYERS))}",
                         "decoder_passes": {name: 3 if name == "rebar" else 2 for name in args.only},
                         "batch": BATCH, "dtype": "float32", "steps_per_epoch": STEPS_PER_EPOCH,
                         "segment_steps": RUN.SEGMENT_STEPS,
                         "against": {name: AGAINST.get(name, "vimco") for name in args.only}},
               "phases": {}}
    print(f"{'estimator':<12}{'ours':>16}{'VIMCO':>16}{'ours/VIMCO':>12}{'middle half':>13}  against")
    for name in args.only:
        workers = {"ours": (__file__, name), "other": (__file__, AGAINST.get(name, "vimco"))}
        seconds, ratios, memory = RUN.time_phase(name, workers, args.blocks)
        summary = RUN.summarize(name, seconds, ratios, memory, 1.0, STEPS_PER_EPOCH, step_flops=0)
        results["phases"][name] = summary
        spread = summary["ours_over_other_middle_half"]
        spread = "{:.2f}-{:.2f}".format(*spread) if spread else "—"
        print(f"{name:<12}{summary['ours_seconds_per_epoch']:>12.1f} s/ep{summary['other_seconds_per_epoch']:>12.1f} "
              f"s/ep{summary['ours_over_other']:>12.2f}{spread:>13}  {AGAINST.get(name, 'vimco')}", flush=True)
    print(f"{args.blocks} blocks of four {RUN.SEGMENT_STEPS}-step segments per estimator, the sides in turn (ABBA); "
          f"paces: medians over segments, scaled to {STEPS_PER_EPOCH} steps")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    sys.exit(main())

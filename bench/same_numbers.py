"""Same seed, same numbers: python bench/same_numbers.py [--repo DIR] [--record] [--only NAME ...]

Runs each case below with run.py on one BLAS thread and compares its per-epoch losses, bounds and diagnostics, its
final numbers and its per-image bounds (bounds.npz), bit for bit, with the numbers recorded in bench/same_numbers.json.
A refactor must leave every one of them unchanged. --record writes the file instead (from the checkout --repo, by
default this one); the file was recorded on main before round 3's rearrangement (commit 9cba93b).

Only what both sides recorded is compared (a run made after the per-epoch diagnostics became optional records them
only with --diagnostics, which the cases that need them give); the losses and the bounds must be there. Each case
takes from 10 s to 3 minutes on one thread.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "bench" / "same_numbers.json"
SMALL = ["--epochs", "2", "--train-size", "2000", "--test-size", "200", "--eval-train-size", "100", "--eval-every", "1",
         "--no-exact", "--seed", "0"]
# name -> (arguments then, arguments now): the second is None when the command line has not changed
CASES = {
    "aevb": (["aevb", *SMALL], None),
    "wake-sleep": (["wake-sleep", *SMALL], None),
    "iwae": (["iwae", *SMALL], None),
    "rws": (["rws", *SMALL], None),
    "aevb-1.6-defaults": (["aevb", "--epochs", "2", "--no-exact"], None),
    "wake-sleep-1.6-defaults": (["wake-sleep", "--epochs", "2", "--no-exact"], None),
    "aevb-quick-exact": (["aevb", "--quick"], None),
    "aevb-dynamic-drop": (["aevb", *SMALL, "--binarize", "dynamic", "--latent-dim", "5", "--lr-schedule", "drop",
                           "--lr-drop-epoch", "1", "--nll-k", "50"], None),
    "wake-sleep-box-decay": (["wake-sleep", *SMALL, "--sleep-lr", "1e-3", "--mean-bound", "3", "--log-var-ceiling",
                              "0", "--lr-schedule", "decay", "--lr-decay-epochs", "1"],
                             ["wake-sleep", *SMALL, "--sleep-lr", "1e-3", "--mean-bound", "3", "--log-var-ceiling",
                              "0", "--lr-schedule", "decay", "--lr-decay-epochs", "1", "--diagnostics"]),
    "aevb-cb-dequantized": (["aevb", *SMALL, "--likelihood", "continuous-bernoulli", "--dequantize"], None),
    "iwae-dreg-fixed-tanh": (["iwae", *SMALL, "--dreg", "--binarize", "fixed", "--activation", "tanh",
                              "--output-bias", "pixel-means", "--lr-schedule", "iwae", "--nll-k", "50"], None),
    "rws-floor-sleep-means": (["rws", *SMALL, "--sleep-phi", "--log-var-floor", "-6", "--dreams", "means"],
                              ["rws", *SMALL, "--sleep-phi", "--log-var-floor", "-6", "--dreams", "means",
                               "--diagnostics"]),
}
UNCOMPARED = {"seconds", "train_seconds", "total_seconds", "quadrature_seconds"}


def digest(array):
    """SHA-256 of an array's dtype, shape and bytes: equal digests, equal arrays bit for bit."""
    array = np.ascontiguousarray(array)
    return hashlib.sha256(f"{array.dtype}{array.shape}".encode() + array.tobytes()).hexdigest()


def without_times(value):
    if isinstance(value, dict):
        return {key: without_times(item) for key, item in value.items() if key not in UNCOMPARED}
    if isinstance(value, list):
        return [without_times(item) for item in value]
    return value


def run_case(repo, arguments):
    """The numbers of one run of repo's run.py on one BLAS thread: history, final numbers, bounds.npz digests."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, "run.py", *arguments, "--out", out], cwd=repo, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        metrics = json.loads((Path(out) / "metrics.json").read_text())
        with np.load(Path(out) / "bounds.npz") as bounds:
            digests = {key: digest(bounds[key]) for key in bounds.files}
    return {"history": without_times(metrics["history"]), "final": without_times(metrics["final"]),
            "bounds": digests}


def differences(expected, got, where=""):
    """Where got differs from expected, over the keys both have; a missing loss or bound counts as a difference."""
    if isinstance(expected, dict) and isinstance(got, dict):
        found = []
        for key in expected.keys() & got.keys():
            found += differences(expected[key], got[key], f"{where}/{key}")
        essential = [key for key in expected.keys() - got.keys()
                     if "loss" in key or key.endswith("_lk") or key.endswith("_lk_se") or "/" in key]
        return found + [f"{where}/{key}: missing" for key in essential]
    if isinstance(expected, list) and isinstance(got, list):
        if len(expected) != len(got):
            return [f"{where}: {len(expected)} entries, now {len(got)}"]
        return [line for n, (a, b) in enumerate(zip(expected, got)) for line in differences(a, b, f"{where}[{n}]")]
    return [] if expected == got else [f"{where}: {expected!r}, now {got!r}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout whose run.py runs (default: this one)")
    parser.add_argument("--record", action="store_true", help="write bench/same_numbers.json instead of comparing")
    parser.add_argument("--only", nargs="+", choices=CASES, help="run these cases only")
    args = parser.parse_args()
    names = args.only or list(CASES)
    reference = json.loads(REFERENCE.read_text()) if REFERENCE.exists() else {}
    failed = []
    for name in names:
        then, now = CASES[name]
        got = run_case(args.repo, then if args.record else now or then)
        if args.record:
            reference[name] = {"arguments": then, **got}
            print(f"{name}: recorded")
            continue
        found = differences(reference[name], got)
        compared = sum(len(record) for record in got["history"]) + len(got["bounds"])
        print(f"{name}: {'the same numbers' if not found else f'{len(found)} differences'} "
              f"({compared} per-epoch values and per-image arrays compared)")
        failed += [f"  {name}{line}" for line in found]
    if args.record:
        REFERENCE.write_text(json.dumps(reference, indent=1) + "\n")
    print("\n".join(failed[:40]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

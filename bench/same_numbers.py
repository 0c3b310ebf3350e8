"""Same seed, same numbers: python bench/same_numbers.py [--repo DIR] [--record] [--only NAME ...]

Runs each case below with run.py on one BLAS thread and compares its per-epoch losses, bounds and diagnostics, its
final numbers and its per-image bounds (bounds.npz) with the recording: bench/same_numbers.json holds the numbers, a
SHA-256 digest of every per-image array, and the OpenBLAS kernel and machine each case was recorded with;
bench/same_numbers.npz holds the per-image arrays themselves (keyed "case/key").

Bit for bit when the runs use the recording's setting: the same OpenBLAS kernel (core type, e.g. SkylakeX), NumPy
version and NumPy SIMD targets (NumPy's own loops, softplus's log1p and expm1 among them, round differently without
AVX-512 too). Every number must then be equal and every array's digest the same; a refactor must leave them so.
Otherwise (OPENBLAS_CORETYPE=Haswell here, or another machine) float32 products round differently, and the check
is agreement within float32 rounding carried through a short training: every number and every element of every
per-image array must satisfy |a - b| <= 1e-2 * max(|a|, |b|, 0.01), a relative 1e-2 (an absolute 1e-4 under 0.01:
the gaps L_k - log p(x), the activities, the lattice's accuracy numbers are differences of nearly equal numbers).
The script prints each case's largest relative difference, |a - b| / max(|a|, |b|, 0.01), in the per-epoch and
final numbers and in the per-image arrays.

The tolerance, measured against the SkylakeX recording (NumPy 2.4.6, its OpenBLAS 0.3.31) by running all 16 cases
three more ways. Under OPENBLAS_CORETYPE=Haswell the largest difference was 3.8e-4, in wake-sleep-1.6-defaults'
per-image bounds (1200 Adam steps, where rounding grows most; 2.9e-4 in its final numbers); the per-image bounds of
the other cases differ by 1e-7 to 3.5e-5 (vimco's per-image exact KL, log p(x) minus the ELBO, by 1.2e-4). Under
Haswell with NumPy's AVX-512 loops off too (NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR", as on an
AVX2-only machine: log1p and expm1 round differently) the largest was 8.9e-4, vimco-binary-exact's final gap
L_1000 - log p(x) (0.007457 against 0.007466), and 3.1e-4 per epoch. Other random numbers through the same code
(--seed 1 in every case) differ by 0.35 to 0.98 in each case, and by at least 2e-2 in every per-image array. 1e-2
sits a decade above the largest rounding difference seen and more than a decade below what other random numbers do.

The kernel is asked of NumPy's OpenBLAS (scipy-openblas's scipy_openblas_get_corename64_, through ctypes) in a
subprocess with the runs' environment, so OPENBLAS_CORETYPE=Haswell python bench/same_numbers.py compares Haswell's
numbers; "unknown" (another BLAS) is never the same setting. --record writes the recording instead, from the checkout
--repo (by default this one). The twelve cases before the binary ones were first recorded on main at commit 9cba93b,
before round 3's rearrangement, the four binary cases later on this machine; recorded again from a clean checkout of
27ff3e6 with the kernel, the machine and the arrays, every per-epoch number, final number and digest came out the
same (the ten cases run without --diagnostics no longer carry the diagnostics the first recording had; no run has
compared those since they became optional). The four binary cases were recorded again when the fused evaluation
of binary log-weights (algorithms/binary/evaluation.py) changed how their bounds are summed: every loss stayed the
same, bit for bit, and the printed bounds moved by at most 4.2e-7 relative. When float32's tails beyond |x| = 40
became exactly 0 (nn/functional.py::exp_neg_abs), all 16 cases stayed bit for bit: none of these short runs reaches
such a logit.

Only what both sides recorded is compared; the losses and the bounds must be there. Each case takes from 10 s to 3
minutes on one thread. The exit status is 1 when a case differs (beyond the tolerance, across settings).
"""
import argparse
import ctypes
import glob
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "bench" / "same_numbers.json"        # its arrays in the .npz of the same name
SMALL = ["--epochs", "2", "--train-size", "2000", "--test-size", "200", "--eval-train-size", "100", "--eval-every", "1",
         "--no-exact", "--seed", "0"]
CASES = {
    "aevb": ["aevb", *SMALL],
    "wake-sleep": ["wake-sleep", *SMALL],
    "iwae": ["iwae", *SMALL],
    "rws": ["rws", *SMALL],
    "aevb-1.6-defaults": ["aevb", "--epochs", "2", "--no-exact"],
    "wake-sleep-1.6-defaults": ["wake-sleep", "--epochs", "2", "--no-exact"],
    "aevb-quick-exact": ["aevb", "--quick"],
    "aevb-dynamic-drop": ["aevb", *SMALL, "--binarize", "dynamic", "--latent-dim", "5", "--lr-schedule", "drop",
                          "--lr-drop-epoch", "1", "--nll-k", "50"],
    "wake-sleep-box-decay": ["wake-sleep", *SMALL, "--sleep-lr", "1e-3", "--mean-bound", "3", "--log-var-ceiling",
                             "0", "--lr-schedule", "decay", "--lr-decay-epochs", "1", "--diagnostics"],
    "aevb-cb-dequantized": ["aevb", *SMALL, "--likelihood", "continuous-bernoulli", "--dequantize"],
    "iwae-dreg-fixed-tanh": ["iwae", *SMALL, "--dreg", "--binarize", "fixed", "--activation", "tanh",
                             "--output-bias", "pixel-means", "--lr-schedule", "iwae", "--nll-k", "50"],
    "rws-floor-sleep-means": ["rws", *SMALL, "--sleep-phi", "--log-var-floor", "-6", "--dreams", "means",
                              "--diagnostics"],
    "wake-sleep-binary": ["wake-sleep", *SMALL, "--latent", "binary", "--layers", "30", "20", "--binarize", "fixed",
                          "--nll-k", "100"],
    "rws-binary-sleep-phi": ["rws", *SMALL, "--latent", "binary", "--layers", "30", "--hidden", "50", "--binarize",
                             "dynamic", "--sleep-phi", "--nll-k", "100"],
    "nvil-binary": ["nvil", *SMALL, "--layers", "30", "20", "--binarize", "fixed", "--nll-k", "100"],
    "vimco-binary-exact": ["vimco", *SMALL, "--layers", "8", "--hidden", "20", "--binarize", "fixed", "--exact",
                           "--nll-k", "100"],
}
# across settings: |a - b| <= RELATIVE * max(|a|, |b|, FLOOR) for every number and every array element
RELATIVE = 1e-2
FLOOR = 0.01
CORENAMES = ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename64_",
            "openblas_get_corename")


# --- the setting: which kernel and machine the numbers come from -----------------------------------------------------

def blas_kernel():
    """The OpenBLAS kernel (core type) NumPy's products use in this process, e.g. "SkylakeX"; "unknown" otherwise.

    OpenBLAS picks it once, when it loads (from the CPU, or OPENBLAS_CORETYPE). The library is the one this process
    has mapped (/proc/self/maps), else the one NumPy's wheel bundles; opening a loaded library again returns it."""
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            paths += [line.split(None, 5)[5].strip() for line in maps
                      if "openblas" in line.lower() and len(line.split(None, 5)) == 6]
    except OSError:
        pass
    package = Path(np.__file__).parent
    for folder in (package.parent / "numpy.libs", package / ".dylibs"):
        paths += glob.glob(str(folder / "*openblas*"))
    for path in dict.fromkeys(paths):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in CORENAMES:
            function = getattr(library, name, None)
            if function is not None:
                function.restype = ctypes.c_char_p
                answer = function()
                return answer.decode().strip() if answer else "unknown"
    return "unknown"


def numpy_simd():
    """The SIMD targets NumPy's own loops dispatch to in this process (NPY_DISABLE_CPU_FEATURES can remove some)."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:                                     # NumPy 1.x
        from numpy.core import _multiarray_umath as umath
    features = getattr(umath, "__cpu_features__", {})
    return [target for target in getattr(umath, "__cpu_dispatch__", []) if features.get(target)]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def this_process():
    return {"kernel": blas_kernel(), "machine": {"cpu": cpu_model(), "numpy": np.__version__, "simd": numpy_simd()}}


def run_environment():
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def setting_of_runs():
    """this_process() of a subprocess with the runs' environment (OPENBLAS_CORETYPE and all), as the runs see it."""
    code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
            "import same_numbers; print(json.dumps(same_numbers.this_process()))")
    answer = subprocess.run([sys.executable, "-c", code], env=run_environment(), capture_output=True, text=True,
                            check=True)
    return json.loads(answer.stdout)


def same_setting(recorded, now):
    """Whether numbers recorded so must equal the runs' now bit for bit: same kernel (a known one), NumPy, SIMD."""
    machine, here = recorded.get("machine", {}), now["machine"]
    return (recorded.get("kernel", "unknown") != "unknown" and recorded.get("kernel") == now["kernel"]
            and machine.get("numpy") == here["numpy"] and machine.get("simd") == here["simd"])


def describe(setting):
    machine = setting.get("machine", {})
    return (f"OpenBLAS kernel {setting.get('kernel', 'not recorded')}, NumPy {machine.get('numpy', '?')} "
            f"(SIMD {' '.join(machine.get('simd', [])) or '?'}), {machine.get('cpu', '?')}")


# --- one run ------------------------------------------------------------------------------------------------------

def digest(array):
    """SHA-256 of an array's dtype, shape and bytes: equal digests, equal arrays bit for bit."""
    array = np.ascontiguousarray(array)
    return hashlib.sha256(f"{array.dtype}{array.shape}".encode() + array.tobytes()).hexdigest()


def without_times(value):
    if isinstance(value, dict):
        return {key: without_times(item) for key, item in value.items()
                if not (key == "seconds" or key.endswith("_seconds"))}
    if isinstance(value, list):
        return [without_times(item) for item in value]
    return value


def run_case(repo, arguments):
    """One run of repo's run.py on one BLAS thread: its history, final numbers and bounds.npz digests; the arrays."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, "run.py", *arguments, "--out", out], cwd=repo, env=run_environment(),
                       check=True, stdout=subprocess.DEVNULL)
        metrics = json.loads((Path(out) / "metrics.json").read_text())
        with np.load(Path(out) / "bounds.npz") as bounds:
            arrays = {key: bounds[key] for key in bounds.files}
    numbers = {"history": without_times(metrics["history"]), "final": without_times(metrics["final"]),
               "bounds": {key: digest(array) for key, array in arrays.items()}}
    return numbers, arrays


# --- comparing ----------------------------------------------------------------------------------------------------

def essential(key):
    return "loss" in key or key.endswith("_lk") or key.endswith("_lk_se") or "/" in key


MISMATCH = object()


def pairs(expected, got, where=""):
    """(where, expected, got) for each value both have; (where, message, MISMATCH) where the two differ in form."""
    if isinstance(expected, dict) and isinstance(got, dict):
        found = []
        for key in expected:
            if key in got:
                found += pairs(expected[key], got[key], f"{where}/{key}")
            elif essential(key):
                found.append((f"{where}/{key}", "missing", MISMATCH))
        return found
    if isinstance(expected, list) and isinstance(got, list):
        if len(expected) != len(got):
            return [(where, f"{len(expected)} entries, now {len(got)}", MISMATCH)]
        return [pair for n, (a, b) in enumerate(zip(expected, got)) for pair in pairs(a, b, f"{where}[{n}]")]
    return [(where, expected, got)]


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def relative_difference(a, b):
    """|a - b| / max(|a|, |b|, FLOOR), elementwise: 0 where both are equal (the same infinity, or both NaN)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), FLOOR)
        difference = np.abs(a - b) / scale
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return np.where(same, 0.0, np.where(np.isnan(difference), np.inf, difference))


def compare(recorded, recorded_arrays, got, got_arrays, bit_for_bit):
    """(lines of differences, largest per-epoch relative difference and where, the same for the arrays)."""
    numbers = pairs({"history": recorded["history"], "final": recorded["final"]},
                    {"history": got["history"], "final": got["final"]})
    lines, largest, largest_array = [], (0.0, ""), (0.0, "")
    for where, expected, now in numbers:
        if now is MISMATCH:
            lines.append(f"{where}: {expected}")
            continue
        if bit_for_bit or not (is_number(expected) and is_number(now)):
            if expected != now and not (is_number(expected) and is_number(now) and math.isnan(expected)
                                        and math.isnan(now)):
                lines.append(f"{where}: {expected!r}, now {now!r}")
            continue
        difference = float(relative_difference(expected, now))
        largest = max(largest, (difference, where))
        if difference > RELATIVE:
            lines.append(f"{where}: {expected!r}, now {now!r} (relative difference {difference:.2g})")
    for key in recorded["bounds"]:
        if key not in got["bounds"]:
            lines.append(f"/bounds/{key}: missing")
        elif bit_for_bit:
            if recorded["bounds"][key] != got["bounds"][key]:
                lines.append(f"/bounds/{key}: another digest")
        elif key not in recorded_arrays:
            lines.append(f"/bounds/{key}: not in the recording's arrays")
        elif recorded_arrays[key].shape != got_arrays[key].shape:
            lines.append(f"/bounds/{key}: shape {recorded_arrays[key].shape}, now {got_arrays[key].shape}")
        else:
            differences = relative_difference(recorded_arrays[key], got_arrays[key])
            worst = float(differences.max(initial=0.0))
            largest_array = max(largest_array, (worst, f"/bounds/{key}"))
            if worst > RELATIVE:
                lines.append(f"/bounds/{key}: {int((differences > RELATIVE).sum())} of {differences.size} images "
                             f"beyond the tolerance (largest relative difference {worst:.2g})")
    return lines, largest, largest_array


# --- the recording ------------------------------------------------------------------------------------------------

def arrays_path(reference):
    return reference.with_suffix(".npz")


def read_arrays(reference):
    """{case: {key: array}} from the recording's .npz."""
    arrays = {}
    if arrays_path(reference).exists():
        with np.load(arrays_path(reference)) as stored:
            for name in stored.files:
                case, key = name.split("/", 1)
                arrays.setdefault(case, {})[key] = stored[name]
    return arrays


def write(reference, recording, arrays):
    reference.write_text(json.dumps(recording, indent=1) + "\n")
    np.savez_compressed(arrays_path(reference), **{f"{case}/{key}": array for case in recording
                                                   for key, array in arrays.get(case, {}).items()})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout whose run.py runs (default: this one)")
    parser.add_argument("--record", action="store_true", help="write the recording instead of comparing")
    parser.add_argument("--only", nargs="+", choices=CASES, help="run these cases only")
    parser.add_argument("--reference", type=Path, default=REFERENCE,
                        help="the recording's .json, its arrays in the .npz beside it (default: this one's)")
    args = parser.parse_args()
    names = args.only or list(CASES)
    recording = json.loads(args.reference.read_text()) if args.reference.exists() else {}
    arrays = read_arrays(args.reference)
    now = setting_of_runs()
    print(f"the runs: {describe(now)}")
    failed, described = [], set()
    for name in names:
        got, got_arrays = run_case(args.repo, CASES[name])
        if args.record:
            recording[name] = {"arguments": CASES[name], **now, **got}
            arrays[name] = got_arrays
            print(f"{name}: recorded")
            continue
        recorded = recording[name]
        bit_for_bit = same_setting(recorded, now)
        lines, (largest, where), (largest_array, where_array) = compare(
            recorded, arrays.get(name, {}), got, got_arrays, bit_for_bit)
        compared = sum(len(record) for record in got["history"]) + len(got["bounds"])
        if bit_for_bit:
            verdict = "bit for bit" if not lines else f"{len(lines)} differences, bit for bit expected"
            print(f"{name}: {verdict} ({compared} per-epoch values and per-image arrays compared)")
        else:
            if describe(recorded) not in described:
                described.add(describe(recorded))
                print(f"  (recorded with {describe(recorded)}: not the same setting, so not bit for bit)")
            verdict = "within float32 rounding" if not lines else f"{len(lines)} differences beyond the tolerance"
            print(f"{name}: {verdict} (tolerance {RELATIVE:g}): largest relative difference {largest:.2g} in the "
                  f"per-epoch and final numbers ({where.lstrip('/')}), {largest_array:.2g} in the per-image arrays "
                  f"({where_array.lstrip('/')})")
        failed += [f"  {name}{line}" for line in lines]
    if args.record:
        write(args.reference, recording, arrays)
        print(f"{args.reference}: {args.reference.stat().st_size} bytes; {arrays_path(args.reference)}: "
              f"{arrays_path(args.reference).stat().st_size} bytes")
    print("\n".join(failed[:40]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

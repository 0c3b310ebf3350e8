"""The benchmark scripts of bench/ still run, count the same work, and pair their segments as they say."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from algorithms.model import HelmholtzMachine

ROOT = Path(__file__).resolve().parent.parent


def load_script(name):
    """bench/<name>.py as a module (by its path: the top level has a run.py of its own)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench, breakdown = load_script("run"), load_script("breakdown")


def product_flops(call):
    """2 m k n of a np.matmul call made by bench/breakdown.py's products()."""
    a, b = call.args
    return 2 * a.shape[0] * a.shape[1] * b.shape[1]


@pytest.mark.parametrize("algorithm", ["aevb", "wake-sleep"])
def test_breakdown_replays_the_products_the_bench_counts(algorithm):
    calls = breakdown.step_products(HelmholtzMachine(np.random.default_rng(0)), algorithm)
    assert sum(product_flops(call) for call in calls) == bench.FLOPS[algorithm]
    # 3 Linear layers a network: 3 products forward; backward 3 for dW and 2 for dx (3 where z needs its gradient)
    assert len(calls) == {"aevb": (3 + 3 + 2) + (3 + 3 + 3), "wake-sleep": 3 + (3 + 3 + 2) + 3 + (3 + 3 + 2)}[algorithm]


def test_bench_times_every_phase_against_another_checkout(tmp_path):
    """The whole two-sided method, with this checkout on both sides (--against ROOT), so PyTorch is not needed,
    on segments of 3 steps and 20 images, for one training phase and the evaluation (the others differ only in their
    FLOP counts, which test_breakdown_replays_the_products_the_bench_counts checks): it runs and counts right; how
    well it times is not a test's to say."""
    out = tmp_path / "bench.json"
    printed = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--against", str(ROOT), "--blocks", "2",
                              "--segment", "3", "20", "--phases", "iwae", "lk", "--peak-size", "200", "--json", str(out)], check=True,
                             capture_output=True, text=True).stdout
    results = json.loads(out.read_text())
    steps, images = results["segment"]["steps"], results["segment"]["images"]
    assert (steps, images) == (3, 20)
    assert results["other"] == f"this bench in {ROOT}" and results["matmul_peak_gflops"] > 0
    for name, phase in results["phases"].items():
        for side in ("ours", "other"):
            seconds = phase["segment_seconds"][side]
            assert len(seconds) == 4 and min(seconds) > 0, name      # 2 blocks, each with two segments a side
        pace = {side: float(np.median(phase["segment_seconds"][side])) for side in ("ours", "other")}
        if name == "lk":
            assert phase["other_images_per_second"] == pytest.approx(images / pace["other"])
            assert phase["gflops"] == pytest.approx(bench.FLOPS["lk"](images) / pace["ours"] / 1e9)
        else:
            assert phase["other_seconds_per_epoch"] == pytest.approx(pace["other"] * 600 / steps)
            assert phase["gflops"] == pytest.approx(bench.FLOPS[name] * steps / pace["ours"] / 1e9)
        ours, other = phase["segment_seconds"]["ours"], phase["segment_seconds"]["other"]
        # block 1 runs ours, other, other, ours; block 2 other, ours, ours, other: each block's ratio is its own four
        expected = [(ours[0] + ours[1]) / (other[0] + other[1]), (ours[2] + ours[3]) / (other[2] + other[3])]
        assert phase["block_ratios"] == pytest.approx(expected)
        assert phase["ours_over_other"] == pytest.approx(np.median(expected))
        assert phase["peak_numpy_mib"] > 0 and phase["max_rss_mib"] > 0
    assert [line.split()[0] for line in printed.splitlines()[2:4]] == ["iwae", "L_100"]


def test_bench_refuses_a_checkout_without_the_bench(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--against", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 2 and f"--against {tmp_path}: no bench/run.py there" in done.stderr.splitlines()[-1]


@pytest.mark.parametrize("script, flag", [("run.py", "--blocks"), ("breakdown.py", "--rounds")])
def test_bench_refuses_a_bad_count_in_one_line(script, flag):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), flag, "0"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith(f"{flag} must be at least {1 if flag == '--rounds' else 2} (got 0)")


def test_bench_names_the_side_whose_worker_stopped(tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "run.py").write_text("import sys\nsys.exit(3)\n")
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--against", str(tmp_path), "--blocks", "2",
                           "--peak-size", "200", "--json", str(tmp_path / "bench.json")], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == "bench: the other worker for aevb stopped (exit status 3)"
    assert not (tmp_path / "bench.json").exists()


def test_exact_bench_counts_the_products_it_replays(tmp_path):
    """bench/exact.py on a small trained-for-one-epoch 2-D run: its product count is one scan pass over every image
    (to group them by their peaks) and, per round, two scan passes and one fine pass, each 2 N D G; it runs, it does
    not time well (not a test's job)."""
    from run import main
    run = tmp_path / "run"
    assert main(["aevb", "--train-size", "300", "--test-size", "50", "--eval-train-size", "50", "--eval-k", "2",
                 "--hidden", "16", "--epochs", "1", "--no-exact", "--out", str(run)]) == 0
    out = tmp_path / "exact.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "exact.py"), "--checkpoint", str(run / "checkpoint.npz"),
                    "--images", "30", "--peak-size", "200", "--json", str(out)], check=True, capture_output=True, text=True)
    summary = json.loads(out.read_text())
    scan = (2 * round(8.0 / 0.08) + 1) ** 2
    expected = 2 * 30 * 784 * scan + sum(2 * r["images"] * 784 * (2 * scan + r["points"]) for r in summary["rounds"])
    assert summary["images"] == 30 and summary["rounds"][0]["images"] == 30
    assert summary["peak_scans"] == [{"images": 30, "scan_points": scan}]
    assert summary["product_tflop"] * 1e12 == pytest.approx(expected)
    assert summary["seconds"] > 0 and summary["product_gflops"] > 0


def test_exact_bench_refuses_a_missing_checkpoint_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "exact.py"), "--checkpoint", str(tmp_path / "none.npz")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "no checkpoint" in done.stderr


def test_the_estimators_bench_pairs_each_estimator_with_a_vimco_of_its_decoder_passes():
    """bench/estimators.py: each trainer and the VIMCO it is timed against put the same rows per image through g_1, the
    784-wide decoder (counted, over one step, at the decoder's forward: the hard, relaxed and conditional passes)."""
    estimators = load_script("estimators")
    x = (np.random.default_rng(1).random((5, 12)) < 0.5).astype(np.float32)

    def decoder_rows_per_image(name):
        from algorithms.binary.model import BinaryHelmholtzMachine
        model = BinaryHelmholtzMachine(np.random.default_rng(0), 12, (4, 3), hidden=[])
        trainer, rows, forward = estimators.TRAINERS[name](model), [], model.generative[0].forward
        model.generative[0].forward = lambda inputs: rows.append(len(inputs)) or forward(inputs)
        trainer.step(x, np.random.default_rng(2))
        return sum(rows) / len(x)
    for name in estimators.ESTIMATORS:
        against = estimators.AGAINST.get(name, "vimco")
        assert decoder_rows_per_image(name) == decoder_rows_per_image(against) == (3 if name == "rebar" else 2), name


def test_rebars_products_are_vimcos_at_three_samples_and_four_more_of_the_top_layers(monkeypatch):
    """derivations/estimators.md, Speed: on the bench's SBN 200-200 (batch 24) one REBAR step multiplies as many rows by
    the 784 x 200 matrices as VIMCO with k = 3 does (8 per image: f_1, g_1 forward and their weight gradients; REBAR's
    relaxed passes' input gradients in place of VIMCO's third sample's weight gradients), and 16 per image by the
    200 x 200 ones against VIMCO's 12 (layer 2's control variate runs g_2 forward and back on its two relaxed rows):
    90.9 MFLOP against 83.3, counted at every Linear product of the step."""
    estimators = load_script("estimators")
    from algorithms.binary.model import BinaryHelmholtzMachine
    from nn.layers import Linear
    x = (np.random.default_rng(1).random((24, 784)) < 0.5).astype(np.float32)
    rows = {}

    def count(layer, products):
        shape = "784 x 200" if 784 in layer.params["W"].shape else "200 x 200"
        rows[shape] = rows.get(shape, 0) + products / len(x)

    forward, backward, input_gradient = Linear.forward, Linear.backward, Linear.input_gradient
    monkeypatch.setattr(Linear, "forward", lambda self, inputs: count(self, len(inputs)) or forward(self, inputs))
    monkeypatch.setattr(Linear, "backward", lambda self, dout, cache, input_grad=True: count(
        self, len(dout) * (2 if input_grad else 1)) or backward(self, dout, cache, input_grad))
    monkeypatch.setattr(Linear, "input_gradient", lambda self, dout, cache: count(
        self, len(dout)) or input_gradient(self, dout, cache))
    counted = {}
    for name in ("rebar", "vimco-k3"):
        rows.clear()
        model = BinaryHelmholtzMachine(np.random.default_rng(0), 784, (200, 200), hidden=[])
        estimators.TRAINERS[name](model).step(x, np.random.default_rng(2))
        counted[name] = dict(rows)
    assert counted == {"rebar": {"784 x 200": 8, "200 x 200": 16}, "vimco-k3": {"784 x 200": 8, "200 x 200": 12}}
    mflop = {name: 2 * 24 * (8 * 784 * 200 + shapes["200 x 200"] * 200 * 200) / 1e6 for name, shapes in counted.items()}
    assert round(mflop["rebar"], 1) == 90.9 and round(mflop["vimco-k3"], 1) == 83.3

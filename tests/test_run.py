"""run.py end to end on tiny subsets of the embedded MNIST: outputs, resume, determinism, bad input."""
import json
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from conftest import rendered_figures
from run import main
from experiments.outputs.diagnostics import DIAGNOSTICS
from experiments.outputs.write import FIGURES
from experiments.studies.comparison import converged_epoch, verdict
from experiments.studies.replay import main as replay_main
from experiments.studies.replay import parse_change, replay

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--train-size", "300", "--test-size", "120", "--eval-train-size", "100", "--eval-k", "5", "--hidden", "32", "16",
         "--eval-every", "1", "--no-exact"]
TINY = [*SMALL, "--epochs", "2"]
OWN = {"aevb": [], "wake-sleep": ["--sleep-samples", "20", "--diagnostics"], "iwae": ["--k", "3"],
       "rws": ["--k", "3", "--sleep-phi", "--sleep-samples", "20", "--diagnostics"], "compare": ["--sleep-samples", "20"]}
DIAGNOSED = ("wake-sleep", "rws")      # the runs above that record the per-epoch diagnostics
PNG_SIZES = {"reconstructions.png": (540, 1000), "latent_manifold.png": (750, 750)}


def run(command, out, *extra):
    return main([command, *TINY, *OWN[command], "--out", str(out), *extra])


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """finished_run(algorithm): the folder of run(algorithm, ...), made once for the module on first use; the tests
    read these folders and never write to them."""
    folders = {}

    def get(algorithm):
        if algorithm not in folders:
            folders[algorithm] = tmp_path_factory.mktemp(algorithm)
            with rendered_figures():                  # test_each_algorithm_writes_every_output reads the figures
                assert run(algorithm, folders[algorithm]) == 0
        return folders[algorithm]
    return get


def history_without_time(out):
    history = json.loads((out / "metrics.json").read_text())["history"]
    return [{key: value for key, value in record.items() if key != "seconds"} for record in history]


@pytest.mark.parametrize("algorithm", ["aevb", "wake-sleep", "iwae", "rws"])
def test_each_algorithm_writes_every_output(finished_run, algorithm):
    tmp_path = finished_run(algorithm)
    for name in (*FIGURES, "metrics.json", "metrics.csv", "report.md", "checkpoint.npz"):
        assert (tmp_path / name).is_file(), name
    for name, size in PNG_SIZES.items():
        assert plt.imread(tmp_path / name).shape[:2] == size, name
    for name in (*FIGURES, *(["diagnostics.png"] if algorithm in DIAGNOSED else [])):
        assert plt.imread(tmp_path / name).shape[0] > 100, name          # rendered (tests/test_figures.py)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["algorithm"] == algorithm and metrics["settings"]["eval_k"] == 5
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]
    losses = {"wake-sleep": ["wake_loss", "sleep_loss"], "rws": ["loss", "sleep_loss"]}.get(algorithm, ["loss"])
    diagnostics = DIAGNOSTICS if algorithm in DIAGNOSED else ()
    with np.load(tmp_path / "bounds.npz") as bounds:
        for record in metrics["history"]:
            for key in (*losses, "seconds", "test_lk", "test_lk_se", "train_lk", "train_lk_se", *diagnostics):
                assert np.isfinite(record[key]), key
            assert diagnostics or not set(DIAGNOSTICS) & set(record)
            for split, images in (("test", 120), ("train", 100)):
                per_image = bounds[f"{split}/{record['epoch']}"]
                assert per_image.shape == (images,)
                assert record[f"{split}_lk"] == pytest.approx(per_image.mean())
                assert record[f"{split}_lk_se"] == pytest.approx(per_image.std(ddof=1) / np.sqrt(images))
    # only the algorithm's own settings, and effective ones
    other = {"aevb": "sleep_lr", "wake-sleep": "lr", "iwae": "sleep_lr", "rws": "wake_lr"}[algorithm]
    assert other not in metrics["settings"] and f"| --{other.replace('_', '-')} |" not in (tmp_path / "report.md").read_text()
    csv_lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert len(csv_lines) == 3 and csv_lines[0].split(",")[len(csv_lines[0].split(",")) - len(diagnostics):] == list(
        diagnostics)
    report = (tmp_path / "report.md").read_text()
    assert all(f"]({name})" in report for name in FIGURES)
    assert ("](diagnostics.png)" in report) == (tmp_path / "diagnostics.png").is_file() == bool(diagnostics)
    activities = np.array(metrics["final"]["unit_activities"])
    assert activities.shape == (2,) and metrics["final"]["active_units"] == (activities > 0.01).sum()
    assert f"above 0.01 | {metrics['final']['active_units']} of 2 |" in report


def test_compare_trains_what_is_missing_and_reuses_the_rest(tmp_path, capsys):
    assert run("aevb", tmp_path / "aevb", "--diagnostics") == 0
    assert run("compare", tmp_path, "--diagnostics") == 0
    printed = capsys.readouterr().out
    assert "reusing the finished AEVB run" in printed and "training Wake-Sleep" in printed
    report = (tmp_path / "compare" / "report.md").read_text()
    assert "**Better:**" in report and "**Faster:**" in report
    assert plt.imread(tmp_path / "compare" / "lk.png").ndim == 3
    assert plt.imread(tmp_path / "compare" / "diagnostics.png").ndim == 3


@pytest.mark.parametrize("algorithm", ["aevb", "wake-sleep", "rws"])   # IWAE steps like AEVB: one Adam, noise only
def test_resume_ends_with_the_uninterrupted_numbers(tmp_path, finished_run, algorithm):
    straight = finished_run(algorithm)
    assert main([algorithm, *SMALL, *OWN[algorithm], "--epochs", "1", "--out", str(tmp_path / "split")]) == 0
    assert main([algorithm, "--resume", "--epochs", "2", "--no-exact", "--out", str(tmp_path / "split")]) == 0
    assert history_without_time(tmp_path / "split") == history_without_time(straight)
    with np.load(tmp_path / "split" / "bounds.npz") as split, np.load(straight / "bounds.npz") as uninterrupted:
        assert sorted(split.files) == sorted(uninterrupted.files) == ["test/1", "test/2", "train/1", "train/2"]
        for key in split.files:
            np.testing.assert_array_equal(split[key], uninterrupted[key])


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path, finished_run):
    for name, seed in (("b", "0"), ("c", "1")):
        assert run("aevb", tmp_path / name, "--seed", seed) == 0
    assert history_without_time(finished_run("aevb")) == history_without_time(tmp_path / "b")
    assert history_without_time(finished_run("aevb")) != history_without_time(tmp_path / "c")


def test_settings_are_the_effective_ones(tmp_path, mnist_files):
    data = mnist_files(tmp_path / "data", n_train=200, n_test=50)
    assert main(["aevb", *TINY, "--train-size", "1000000", "--eval-train-size", "70000", "--data-dir", str(data),
                 "--out", str(tmp_path / "out")]) == 0
    settings = json.loads((tmp_path / "out" / "metrics.json").read_text())["settings"]
    assert (settings["train_size"], settings["eval_train_size"], settings["test_size"]) == (200, 200, 50)
    assert "| --train-size | 200 |" in (tmp_path / "out" / "report.md").read_text()


def run_script(*args):
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True, cwd=ROOT)


def test_bad_flag_gives_one_clear_line():
    result = run_script("aevb", "--epochs", "zero")
    assert result.returncode == 2
    assert result.stderr == ("run.py: error: argument --epochs: takes a whole number, got 'zero' "
                             "(see run.py aevb --help)\n")


def test_bad_data_dir_gives_one_clear_line(tmp_path):
    result = run_script("aevb", "--data-dir", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"{tmp_path}/train-images-idx3-ubyte[.gz]: file not found" in result.stderr


@pytest.mark.parametrize("algorithm", ["aevb", "wake-sleep"])
def test_ctrl_c_saves_mid_epoch_and_resume_ends_with_the_uninterrupted_numbers(tmp_path, finished_run, algorithm,
                                                                              monkeypatch, capsys):
    """A real SIGINT in the middle of epoch 2: the run saves between two steps, says how to resume, and
    exits 130; the resumed run's history equals an uninterrupted run's."""
    import os
    import signal

    from algorithms.aevb import AEVB
    from algorithms.wake_sleep import WakeSleep
    trainer_class = AEVB if algorithm == "aevb" else WakeSleep
    straight = finished_run(algorithm)
    original_step, calls = trainer_class.step, []

    def step_then_press_ctrl_c(self, x, rng):
        calls.append(1)
        if len(calls) == 4:   # the first step of epoch 2 (3 steps of 100 per epoch)
            os.kill(os.getpid(), signal.SIGINT)
        return original_step(self, x, rng)

    monkeypatch.setattr(trainer_class, "step", step_then_press_ctrl_c)
    assert run(algorithm, tmp_path / "split") == 130
    printed = capsys.readouterr().err
    assert f"at step 1 of epoch 2. To continue: python run.py {algorithm} --resume --out {tmp_path / 'split'}" in printed
    monkeypatch.setattr(trainer_class, "step", original_step)
    assert main([algorithm, "--resume", "--no-exact", "--out", str(tmp_path / "split")]) == 0
    assert "resumed from" in capsys.readouterr().out
    assert history_without_time(tmp_path / "split") == history_without_time(straight)


@pytest.mark.parametrize("latent_dim", ["1", "3"])
def test_other_latent_sizes_skip_the_manifold_and_say_so(tmp_path, latent_dim):
    assert run("aevb", tmp_path, "--latent-dim", latent_dim) == 0
    assert (tmp_path / "latent_scatter.png").is_file() and not (tmp_path / "latent_manifold.png").exists()
    assert "the manifold, defined for a 2-D latent only, is not drawn" in (tmp_path / "report.md").read_text()


def test_compare_verdict_reads_the_numbers():
    """The comparison's answer on made-up histories: the higher final bound is better (with its paired standard
    error when per-image bounds are given); faster is the earlier convergence (within 1 nat of the run's own final
    bound from then on); being ahead at every evaluation is said; a peak before the end is reported."""

    def history(bounds):
        return [{"epoch": 10 * (i + 1), "test_lk": value} for i, value in enumerate(bounds)]

    aevb, wake_sleep = history([-150, -140, -139]), history([-170, -160, -165])
    text = verdict({"aevb": aevb, "wake-sleep": wake_sleep}, k=100)
    assert "**Better:** AEVB, with test L_100 = -139.00 against -165.00 for Wake-Sleep: 26.00 nats per image." in text
    assert "**Faster:** AEVB, by convergence" in text and "AEVB at epoch 20, Wake-Sleep at epoch 30" in text
    assert "AEVB is ahead of Wake-Sleep at every evaluation both made (epochs 10 to 30)" in text
    assert "Wake-Sleep's test L_100 peaked at epoch 20 (-160.00) and ended 5.00 nats lower at epoch 30." in text
    assert "AEVB's test L_100 was highest at the end, epoch 30 (-139.00, 1.00 nats above the previous" in text

    rng = np.random.default_rng(0)
    per_image = {"aevb": {"test/30": -139 + rng.normal(0, 1, 50)}, "wake-sleep": {"test/30": -165 + rng.normal(0, 1, 50)}}
    difference = per_image["aevb"]["test/30"] - per_image["wake-sleep"]["test/30"]
    with_bounds = verdict({"aevb": aevb, "wake-sleep": wake_sleep}, k=100, bounds=per_image)
    assert f"{difference.mean():.2f} ± {difference.std(ddof=1) / np.sqrt(50):.2f} (paired standard error" in with_bounds

    # ahead at every evaluation, and both flat from the start: never "neither"
    flat = verdict({"aevb": history([-170, -168, -166]), "wake-sleep": history([-150, -150, -150])}, k=5)
    assert "**Better:** Wake-Sleep" in flat and "Wake-Sleep is ahead of AEVB at every evaluation" in flat
    assert "neither" not in flat
    assert converged_epoch(history([-150, -139.5, -141, -139])) == 40        # -141 is 2 nats off: not yet
    assert converged_epoch(history([-150, -139.5, -139.8, -139])) == 20 and converged_epoch(history([-3])) == 10


def test_compare_over_seeds_reports_each_seed_and_the_spread(tmp_path):
    assert main(["compare", *TINY, "--epochs", "1", "--sleep-samples", "20", "--seeds", "0", "1",
                 "--out", str(tmp_path)]) == 0
    report = (tmp_path / "compare" / "report.md").read_text()
    finals = {}
    for seed in (0, 1):
        for name in ("aevb", "wake-sleep"):
            history = json.loads((tmp_path / f"seed-{seed}" / name / "metrics.json").read_text())["history"]
            finals.setdefault(name, []).append(history[-1]["test_lk"])
        assert (tmp_path / f"seed-{seed}" / "compare" / "report.md").is_file()
    row = next(line for line in report.splitlines() if line.startswith("| AEVB |"))
    values = np.array(finals["aevb"])
    assert row.endswith(f"| {values.mean():.2f} ± {values.std(ddof=1):.2f} |")


def test_a_2d_run_adds_the_exact_evaluation_and_run_exact_redoes_it(tmp_path):
    """run.py exact --out on a finished 2-D run (made with --no-exact) adds log p(x) by quadrature, the gaps
    log p(x) - L_k and KL(q || p(z|x)) (each a mean with its standard error), log p(x) on the training images beside
    the final train bound, their figures and their report section (a run without --no-exact calls the same code)."""
    assert main(["aevb", *TINY, "--test-size", "40", "--out", str(tmp_path)]) == 0
    assert "exact" not in json.loads((tmp_path / "metrics.json").read_text())["final"]       # --no-exact
    with rendered_figures():
        assert main(["exact", "--out", str(tmp_path)]) == 0
    exact = json.loads((tmp_path / "metrics.json").read_text())["final"]["exact"]
    assert exact["images"] == 40 and set(exact["gaps"]) == {"1", "10", "100", "1000"}
    assert exact["kl_q_to_posterior"][0] > 0 and exact["accuracy"]["spacing_change_max"] <= 1e-3
    assert exact["gaps"]["1"][0] > exact["gaps"]["100"][0] - 3 * exact["gaps"]["100"][1]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    train = exact["train"]
    assert train["images"] == 100 and np.isfinite(train["log_px"][0])
    # the train gap pairs the exact log p(x) with the run's own final train bound
    assert train["log_px"][0] - train["gap_5"][0] == pytest.approx(metrics["history"][-1]["train_lk"])
    with np.load(tmp_path / "bounds.npz") as bounds:
        assert bounds["exact/log_px"].mean() == pytest.approx(exact["log_px"][0])
    for name in ("exact_gap.png", "posteriors.png"):
        assert plt.imread(tmp_path / name).shape[0] > 100 and f"]({name})" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "explorer.html").stat().st_size > 0 and "](explorer.html)" in (tmp_path / "report.md").read_text()


def test_run_exact_refuses_what_it_cannot_evaluate(tmp_path, capsys):
    assert main(["aevb", *TINY, "--latent-dim", "3", "--out", str(tmp_path / "three")]) == 0
    assert main(["exact", "--out", str(tmp_path / "three")]) == 2
    assert ("the exact log p(x) is computed for a 2-D latent (or one layer of binary units) only; this run's latent has "
            "3 dimensions") in capsys.readouterr().err
    assert main(["exact", "--out", str(tmp_path / "none")]) == 2
    assert "none: no such folder; run.py exact takes a finished run's folder" in capsys.readouterr().err


def test_a_run_that_keeps_its_checkpoints_keeps_them_when_resumed(tmp_path):
    """The printed resume command has no --keep-checkpoints (it is not a setting); the resumed run keeps on keeping."""
    assert run("aevb", tmp_path, "--epochs", "1", "--keep-checkpoints") == 0
    assert main(["aevb", "--resume", "--epochs", "2", "--no-exact", "--out", str(tmp_path)]) == 0
    assert sorted(path.name for path in (tmp_path / "checkpoints").iterdir()) == ["epoch-1.npz", "epoch-2.npz"]


def test_a_replay_as_it_was_reproduces_the_run_dynamic_binarization_included(tmp_path, mnist):
    """run.py --keep-checkpoints, then experiments/studies/replay.py::replay of epoch 2 from epoch 1's checkpoint: the same
    per-step losses as the run's, so its mean is the run's epoch-2 loss exactly."""
    assert main(["rws", *TINY, "--k", "3", "--binarize", "dynamic", "--nll-k", "5", "--keep-checkpoints",
                 "--out", str(tmp_path)]) == 0
    history = json.loads((tmp_path / "metrics.json").read_text())["history"]
    epoch, losses = replay(tmp_path / "checkpoints" / "epoch-1.npz", 1, {}, mnist)
    assert epoch == 1 and losses.shape == (1, 3)
    assert losses.mean() == pytest.approx(history[1]["loss"], rel=1e-12)


def test_replay_prints_one_column_pair_per_change(tmp_path, capsys):
    """Each --change is one more replay beside the one as it was, and may change several settings at once."""
    assert parse_change("phi_lr=3e-4,sleep_phi=true,dreams=means") == {"phi_lr": 3e-4, "sleep_phi": True,
                                                                        "dreams": "means"}
    assert run("rws", tmp_path, "--epochs", "1", "--keep-checkpoints") == 0
    capsys.readouterr()
    assert replay_main([str(tmp_path / "checkpoints" / "epoch-1.npz"), "--epochs", "1", "--change", "log_var_floor=-12",
                        "--change", "phi_lr=0.0003,sleep_phi=false"]) == 0
    header, rule, row = capsys.readouterr().out.splitlines()
    assert header == ("| epoch | as it was: mean loss | largest step | log_var_floor=-12: mean loss | largest step | "
                      "phi_lr=0.0003, sleep_phi=False: mean loss | largest step |")
    assert rule == "|" + " --- |" * 7 and row.startswith("| 2 | ") and row.count("|") == 8


@pytest.mark.parametrize("algorithm", ["aevb", "wake-sleep"])
def test_a_checkpoint_written_before_round_3_resumes_to_its_own_numbers(tmp_path, algorithm):
    """tests/data/round-2/: the checkpoint after epoch 1 of a 2-epoch run made by main before the code was rearranged
    (hidden 8, 300 images; Wake-Sleep with --mean-bound 3, a bounded head), and that run's epoch-2 record. Resumed
    today, epoch 2 gives the same numbers, and a run made before the diagnostics became optional keeps recording them.

    The recording was trained in float32 with OpenBLAS's AVX-512 kernels (SkylakeX). A machine whose OpenBLAS picks
    other kernels sums the products' terms in another order and rounds them differently: resumed here under
    OPENBLAS_CORETYPE=Haswell and Zen the largest relative difference over every recorded number is 7.0e-7, under
    SandyBridge 1.5e-6, Nehalem 1.6e-6, Prescott 3.3e-6 (SkylakeX: 0, bit for bit). The tolerance, 1e-4, is 30 times
    the largest of them. bench/same_numbers.py checks bit for bit on one machine and kernel."""
    data = ROOT / "tests" / "data" / "round-2"
    tmp_path.joinpath("run").mkdir()
    (tmp_path / "run" / "checkpoint.npz").write_bytes((data / f"{algorithm}-epoch-1.npz").read_bytes())
    assert main([algorithm, "--resume", "--no-exact", "--out", str(tmp_path / "run")]) == 0
    expected = json.loads((data / "epoch-2.json").read_text())[algorithm]
    epoch_2 = json.loads((tmp_path / "run" / "metrics.json").read_text())["history"][1]
    assert set(expected) <= set(epoch_2)
    for key, value in expected.items():
        assert epoch_2[key] == pytest.approx(value, rel=1e-4, abs=1e-12), key

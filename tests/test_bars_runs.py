"""The 1995 problems through run.py (--data bars, shifter; experiments/data/synthetic.py): a run folder like every
other run's, every epoch's images drawn afresh from P_data by the run's seed, the exact KL in bits per epoch and in the
report, --resume and --force; --optimizer sgd, wake-sleep's delta rules, as a setting that checkpoints made before it
existed still resume without; and the settings a source cannot take refused in one line."""
import json
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

import run
from algorithms.binary.exact import enumerate_joint
from conftest import history_of, rendered_figures
from experiments.data.bars import bars
from experiments.data.synthetic import FreshSamples
from experiments.harness.training import trained_model
from experiments.studies import bars as study
from test_checkpoint_data import change_meta
from test_run_faults import answers_in_one_line, rewrite_checkpoint

ROOT = Path(run.__file__).resolve().parent
BARS = ["wake-sleep", "--config", str(ROOT / "configs" / "bars.toml"), "--train-size", "500", "--test-size", "50",
        "--eval-train-size", "50", "--eval-every", "1"]


def kl_of(out):
    return [record["kl_bits"] for record in json.loads((out / "metrics.json").read_text())["history"]]


@pytest.fixture(scope="module")
def bars_runs(tmp_path_factory):
    """Two epochs of 500 images in one go, and one then resumed to two."""
    root = tmp_path_factory.mktemp("bars-runs")
    with rendered_figures():                          # the test below reads units.png
        assert run.main([*BARS, "--epochs", "2", "--out", str(root / "whole")]) == 0
    assert run.main([*BARS, "--epochs", "1", "--out", str(root / "halves")]) == 0
    assert run.main(["wake-sleep", "--resume", "--epochs", "2", "--out", str(root / "halves")]) == 0
    return root


def test_a_bars_run_writes_a_run_folder_with_the_exact_kl_in_bits(bars_runs):
    out = bars_runs / "whole"
    for name in ("report.md", "metrics.csv", "metrics.json", "checkpoint.npz", "losses.png", "units.png", "bars.html"):
        assert (out / name).is_file(), name
    assert plt.imread(out / "units.png").shape[0] > 100
    model, settings = trained_model(out / "checkpoint.npz")
    assert settings.data == "bars" and settings.trainer.optimizer == "sgd" and settings.train_size == 500
    data = bars()
    measured = enumerate_joint(model, data.images, posterior=True)
    kl = data.kl_bits(measured.log_px)                                                   # Eq. (H3)
    q_kl = float(data.probabilities @ measured.kl / np.log(2))
    last = json.loads((out / "metrics.json").read_text())["history"][-1]
    assert last["kl_bits"] == pytest.approx(kl, rel=1e-12) and last["q_kl_bits"] == pytest.approx(q_kl, rel=1e-12)
    assert last["samples"] == 1000 and 0 < kl < 20
    assert "kl_bits" in (out / "metrics.csv").read_text().splitlines()[0]
    report = (out / "report.md").read_text()
    assert report.startswith("# Wake-Sleep on the bars problem")
    assert f"KL(P_data || P_model) = **{kl:.4f} bits** (Eq. (H3))" in report
    assert f"KL(q(h|x) || p(h|x)) averaged under P_data = {q_kl:.4f} bits" in report
    assert "binarized MNIST" not in report and "| --data | bars |" in report


def test_a_resumed_bars_run_ends_with_the_uninterrupted_runs_numbers(bars_runs):
    assert history_of(bars_runs / "whole") == history_of(bars_runs / "halves")


def test_the_bars_study_measures_run_folders_as_the_runs_measured_themselves(bars_runs, tmp_path, capsys):
    """experiments/studies/bars.py --runs (how NVIL's 20 seeds enter the study's table): the folders' parameters,
    stacked in their order, measure to the KL each run wrote (Eq. (H3)), the curves are their metrics.csv's, and the
    summary gets the estimator's entry. Runs of another estimator or length, and flags that train, are refused."""
    other = tmp_path / "seed1"
    assert run.main([*BARS, "--epochs", "2", "--seed", "1", "--out", str(other)]) == 0
    folders = [other, bars_runs / "whole"]
    params, seeds, lr, curve = study.from_runs("bars", "wake-sleep", folders)
    rows = study.measure("bars", params, seeds)
    assert [row["kl_bits"] for row in rows] == pytest.approx([kl_of(f)[-1] for f in folders], rel=1e-9)
    assert kl_of(other)[-1] != pytest.approx(kl_of(folders[1])[-1], rel=1e-3)
    assert curve["samples"] == [500, 1000]
    np.testing.assert_allclose(curve["kl"].T, [kl_of(f) for f in folders], rtol=1e-12)
    assert seeds == [1, 0] and lr == 0.05
    with pytest.raises(ValueError, match="a wake-sleep run on bars with layers \\[8, 1\\], not nvil on bars"):
        study.from_runs("bars", "nvil", folders)
    short = tmp_path / "short"                               # seed 1's run as if it had stopped after its first epoch
    shutil.copytree(other, short)
    (short / "metrics.csv").write_text("".join((other / "metrics.csv").read_text().splitlines(keepends=True)[:2]))
    with pytest.raises(ValueError, match="ended at different numbers of samples"):
        study.from_runs("bars", "wake-sleep", [short, other])
    nvil = [tmp_path / "nvil0", tmp_path / "nvil1"]
    for seed, folder in enumerate(nvil):
        assert run.main(["nvil", "--config", str(ROOT / "configs" / "bars-nvil.toml"), "--train-size", "200",
                         "--test-size", "50", "--eval-train-size", "50", "--epochs", "1", "--seed", str(seed),
                         "--out", str(folder)]) == 0
    study.main(["--problem", "bars", "--estimators", "nvil", "--runs", *map(str, nvil), "--out", str(tmp_path)])
    entry = json.loads((tmp_path / "bars.json").read_text())["nvil"]
    assert entry["samples"] == 200 and [row["seed"] for row in entry["seeds"]] == [0, 1] and entry["lr"] == 1e-3
    capsys.readouterr()
    for refused, expected in ((["--estimators", "nvil"], "nvil is not trained here on the bars (run.py trains it: --runs)"),
                              (["--estimators", "ws", "--runs", str(other)], "--runs measures run folders as one"),
                              (["--estimators", "nvil", "--lr", "0.1", "--runs", str(other)], "--lr does not apply"),
                              (["--problem", "shifter", "--estimators", "exact-stream"], "2^17 states a step")):
        with pytest.raises(SystemExit):
            study.main(["--out", str(tmp_path), *refused])
        assert expected in capsys.readouterr().err


def test_every_epoch_draws_its_own_images_from_the_seed():
    class Settings:
        seed, train_size = 3, 400
    kind, again = FreshSamples(bars(), Settings), FreshSamples(bars(), Settings)
    assert np.array_equal(kind.epoch_images(2), again.epoch_images(2))         # same seed and epoch: same images
    assert not np.array_equal(kind.epoch_images(1), kind.epoch_images(2))
    Settings.seed = 4
    assert not np.array_equal(kind.epoch_images(2), FreshSamples(bars(), Settings).epoch_images(2))


def test_the_seed_sets_the_numbers_and_force_starts_over(bars_runs, tmp_path):
    argv = [*BARS, "--epochs", "1"]
    assert run.main([*argv, "--out", str(tmp_path / "again")]) == 0
    assert kl_of(tmp_path / "again") == kl_of(bars_runs / "halves")[:1]
    assert run.main([*argv, "--seed", "1", "--out", str(tmp_path / "again"), "--force"]) == 0
    assert kl_of(tmp_path / "again") != kl_of(bars_runs / "halves")[:1]


def test_the_shifter_and_exact_ml_train_on_their_configurations(tmp_path):
    small = ["--train-size", "200", "--test-size", "20", "--eval-train-size", "20", "--epochs", "1"]
    assert run.main(["exact-ml", "--config", str(ROOT / "configs" / "bars-exact-ml.toml"), *small,
                     "--out", str(tmp_path / "exact")]) == 0
    assert run.main(["wake-sleep", "--config", str(ROOT / "configs" / "shifter.toml"), *small, "--layers", "6", "1",
                     "--out", str(tmp_path / "shifter")]) == 0
    assert "# Wake-Sleep on the shifter problem" in (tmp_path / "shifter" / "report.md").read_text()
    assert not (tmp_path / "shifter" / "bars.html").exists() and kl_of(tmp_path / "exact")[0] > 0


def test_a_binary_wake_sleep_checkpoint_from_before_data_and_optimizer_resumes(tmp_path):
    """A checkpoint whose settings lack data and optimizer (made before either existed) resumes with MNIST and Adam,
    and ends with the numbers of a run that was never stopped."""
    argv = ["wake-sleep", "--latent", "binary", "--layers", "6", "--binarize", "fixed", "--train-size", "200",
            "--test-size", "20", "--eval-train-size", "20", "--eval-k", "4", "--eval-every", "1", "--nll-k", "8",
            "--no-exact"]
    assert run.main([*argv, "--epochs", "2", "--out", str(tmp_path / "whole")]) == 0
    assert run.main([*argv, "--epochs", "1", "--out", str(tmp_path / "old")]) == 0

    def forget(meta):
        del meta["settings"]["data"], meta["settings"]["optimizer"]
    rewrite_checkpoint(tmp_path / "old" / "checkpoint.npz", change_meta(forget))
    assert run.main(["wake-sleep", "--resume", "--epochs", "2", "--out", str(tmp_path / "old")]) == 0
    assert history_of(tmp_path / "old") == history_of(tmp_path / "whole")
    settings = json.loads((tmp_path / "old" / "metrics.json").read_text())["settings"]
    assert settings["data"] == "mnist" and settings["optimizer"] == "adam"


@pytest.mark.parametrize("extra, expected", [
    (["--data-dir", "."], "--data bars: its images are drawn from its distribution; --data-dir names"),
    (["--binarize", "fixed"], "--data bars: its images are binary already"),
    (["--layers", "16", "8"], "--data bars: a run on it is measured exactly, by summing over every joint state of "
                              "its layers, and its layers have 24 units in all"),
    (["--data", "nowhere"], "--data: invalid choice: 'nowhere'"),
])
def test_what_a_source_cannot_take_is_refused_in_one_line(tmp_path, capsys, extra, expected):
    answers_in_one_line(capsys, tmp_path, [*BARS, *extra, "--out", str(tmp_path / "run")], 2, expected)


def test_gaussian_latents_on_the_bars_and_sgd_for_gaussian_wake_sleep_are_refused(tmp_path, capsys):
    answers_in_one_line(capsys, tmp_path, ["aevb", "--data", "bars", "--out", str(tmp_path / "run")], 2,
                        "--data bars: a run on it is measured exactly, by summing over every joint state of binary "
                        "latents; give --latent binary")
    answers_in_one_line(capsys, tmp_path, ["wake-sleep", "--optimizer", "sgd", "--out", str(tmp_path / "run")], 2,
                        "--optimizer sgd: not a setting of Wake-Sleep with gaussian latents")

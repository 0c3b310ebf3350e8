"""Dequantized MNIST (experiments/data/dequantize.py, derivations/likelihoods.md Eq. (L10)): every value in its pixel's
bin, uniform there, the test set the same for every run, and the training images drawn anew every epoch but alike
in a run and its resume."""
import json

import numpy as np

from conftest import history_of, write_mnist_files
from run import main
from experiments.data.dequantize import LEVELS, TEST_STREAM, dequantize_batch, dequantized, discrete_bound


def test_each_value_is_uniform_in_its_pixels_bin():
    levels = np.arange(256)
    images = np.tile((levels / 255).astype(np.float32), (4000, 1))
    y = dequantize_batch(images, np.random.default_rng(0)).astype(np.float64)
    assert np.all(y >= levels / LEVELS) and np.all(y <= (levels + 1) / LEVELS)
    # U(k/256, (k+1)/256): mean (k + 1/2)/256, sd 1/(256 sqrt 12); five standard errors over 4000 draws
    tolerance = 5 / (LEVELS * np.sqrt(12 * 4000))
    assert np.all(np.abs(y.mean(axis=0) - (levels + 0.5) / LEVELS) < tolerance)
    assert np.all(np.abs(y.std(axis=0) - 1 / (LEVELS * np.sqrt(12))) < 0.05 / LEVELS)


def test_the_test_set_is_dequantized_alike_every_time_and_the_discrete_bound_subtracts_d_log_256():
    images = np.random.default_rng(1).integers(0, 256, (30, 8)).astype(np.float32) / 255
    np.testing.assert_array_equal(dequantized(images, TEST_STREAM), dequantized(images, TEST_STREAM))
    assert discrete_bound(10.0, 784) == 10.0 - 784 * np.log(256)


def test_dequantized_training_resumes_exactly_and_differs_from_the_grey_levels(tmp_path):
    small = ["--train-size", "100", "--test-size", "20", "--eval-train-size", "20", "--eval-k", "3", "--hidden", "8",
             "--eval-every", "1", "--no-exact", "--likelihood", "continuous-bernoulli"]
    assert main(["aevb", *small, "--epochs", "2", "--dequantize", "--out", str(tmp_path / "straight")]) == 0
    assert main(["aevb", *small, "--epochs", "1", "--dequantize", "--out", str(tmp_path / "split")]) == 0
    assert main(["aevb", "--resume", "--epochs", "2", "--no-exact", "--out", str(tmp_path / "split")]) == 0
    assert history_of(tmp_path / "split") == history_of(tmp_path / "straight")
    assert main(["aevb", *small, "--epochs", "2", "--out", str(tmp_path / "grey")]) == 0
    assert history_of(tmp_path / "grey")[0]["loss"] != history_of(tmp_path / "straight")[0]["loss"]


def test_a_dequantized_continuous_bernoulli_run_gets_its_exact_log_p(tmp_path, capsys):
    """run.py exact on a finished dequantized CB run (7 x 5 random images, for time): every image resolved, and log
    p(x) above the ELBO (the KL from q to the true posterior, Eq. (X6), is positive); a CB run on grey levels says why
    it has none."""
    data = write_mnist_files(tmp_path / "data", n_train=100, n_test=20, shape=(7, 5))
    small = ["--data-dir", str(data), "--eval-train-size", "20", "--eval-k", "3", "--hidden", "8", "--epochs", "1",
             "--likelihood", "continuous-bernoulli"]
    assert main(["aevb", *small, "--dequantize", "--no-exact", "--out", str(tmp_path / "dequantized")]) == 0
    assert main(["exact", "--out", str(tmp_path / "dequantized")]) == 0
    exact = json.loads((tmp_path / "dequantized" / "metrics.json").read_text())["final"]["exact"]
    assert exact["accuracy"]["unresolved_images"] == 0 and exact["kl_q_to_posterior"][0] > 0
    assert main(["aevb", *small, "--out", str(tmp_path / "grey")]) == 0
    assert "not computed for the continuous Bernoulli on grey levels" in capsys.readouterr().out

"""Binarized MNIST (experiments/data/binarize.py, derivations/likelihoods.md): the draws have the pixels as their mean, the
fixed binarizations do not depend on how many images are taken, and dynamic binarization changes the training
images between epochs but not between a run and its resume."""
import json

import numpy as np

from experiments.data.mnist import Images
from algorithms.options import Trainer
from experiments.harness.new_settings import new_settings
from experiments.harness.training import Interrupt, Run, new_position, run_epoch
from experiments.data.binarize import Binarized, TEST_STREAM, binarize_batch, binarized
from conftest import history_of
from run import main


def test_the_mean_of_the_binary_draws_is_the_grey_level():
    pixels = np.linspace(0, 1, 11, dtype=np.float32)
    draws = binarize_batch(np.tile(pixels, (20000, 1)), np.random.default_rng(0))
    assert set(np.unique(draws)) <= {0.0, 1.0} and draws.dtype == np.float32
    standard_error = np.sqrt(pixels * (1 - pixels) / 20000)
    assert np.all(np.abs(draws.mean(axis=0) - pixels) <= 5 * standard_error)
    assert draws[:, 0].max() == 0 and draws[:, -1].min() == 1


def test_a_fixed_binarization_does_not_depend_on_how_many_images_are_taken():
    images = np.random.default_rng(1).random((50, 8)).astype(np.float32)
    np.testing.assert_array_equal(binarized(images[:20], TEST_STREAM), binarized(images, TEST_STREAM)[:20])


def test_dynamic_binarization_resumes_exactly_and_differs_from_fixed(tmp_path):
    small = ["--train-size", "100", "--test-size", "20", "--eval-train-size", "20", "--eval-k", "3", "--hidden", "8",
             "--eval-every", "1", "--no-exact", "--nll-k", "10"]
    assert main(["aevb", *small, "--epochs", "2", "--binarize", "dynamic", "--out", str(tmp_path / "straight")]) == 0
    assert main(["aevb", *small, "--epochs", "1", "--binarize", "dynamic", "--out", str(tmp_path / "split")]) == 0
    assert main(["aevb", "--resume", "--epochs", "2", "--no-exact", "--out", str(tmp_path / "split")]) == 0
    assert history_of(tmp_path / "split") == history_of(tmp_path / "straight")
    assert main(["aevb", *small, "--epochs", "2", "--binarize", "fixed", "--out", str(tmp_path / "fixed")]) == 0
    straight, fixed = history_of(tmp_path / "straight"), history_of(tmp_path / "fixed")
    assert straight[0]["loss"] != fixed[0]["loss"]
    # the same binary test set for both protocols: the first epoch's bounds differ only through training
    final = json.loads((tmp_path / "straight" / "metrics.json").read_text())["final"]
    assert final["nll_k"] == 10 and final["nll"] > 0


def test_dynamic_batches_change_between_epochs():
    """The same image, drawn again in the next epoch, is binarized anew (run_epoch, from the run's generator)."""
    class Recorder(Trainer):
        optimizers, losses = {}, ("loss",)

        def __init__(self):
            self.batches = []

        def step(self, x, rng):
            self.batches.append(x.copy())
            return {"loss": 0.0}

    images = np.full((4, 30), 0.5, dtype=np.float32)
    settings = new_settings("aevb", {"batch_size": 4, "binarize": "dynamic", "epochs": 2}, quick=False)
    rng, trainer = np.random.default_rng(0), Recorder()
    run = Run(settings, Images(images, None, None, None), (30,), Binarized(settings), None, None, trainer, rng)
    with Interrupt() as interrupt:
        for epoch in (1, 2):
            run_epoch(run, epoch, new_position(4, rng, ["loss"]), interrupt, None)
    first, second = trainer.batches
    assert set(np.unique(first)) == {0.0, 1.0} and not np.array_equal(np.sort(first, 0), np.sort(second, 0))

"""Model selection on held-out training images (experiments/studies/validation.py): the validation images are the
last training images as the run's data kind presents them, never the ones it trained on; the chosen epoch is the one
of the best validation ELBO; a run whose training images would overlap them is refused in one line."""
import numpy as np
import pytest

from experiments.data.binarize import TRAIN_STREAM, binarized
from experiments.data.mnist import load_dataset
from experiments.harness.training import trained_model
from experiments.studies import validation
from run import main

TINY = ["--layers", "6", "--train-size", "200", "--test-size", "30", "--eval-train-size", "30", "--eval-k", "5",
        "--eval-every", "1", "--epochs", "3", "--batch-size", "50", "--binarize", "fixed", "--nll-k", "10",
        "--no-exact", "--keep-checkpoints"]


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("validation") / "nvil"
    assert main(["nvil", *TINY, "--out", str(folder)]) == 0
    return folder


def test_the_validation_images_are_the_last_training_images_binarized_as_the_run_does(kept_run):
    _, settings = trained_model(kept_run / "checkpoints" / "epoch-1.npz")
    held_out, test = validation.images(settings, 50)
    grey = load_dataset(None).train_images
    np.testing.assert_array_equal(held_out, binarized(grey, TRAIN_STREAM)[-50:])
    assert len(test) == 30


def test_the_chosen_epoch_has_the_best_validation_elbo(kept_run):
    result = validation.select(kept_run, held_out=50, every=1, nll_k=10)
    assert [row["epoch"] for row in result["curve"]] == [1, 2, 3]
    best = max(result["curve"], key=lambda row: row["validation_elbo"])
    assert result["chosen_epoch"] == best["epoch"]
    assert result["test_nll"][0] < result["test_minus_elbo"][0]      # -L_10 below -ELBO, far beyond their noise here


def test_held_out_images_that_overlap_the_training_images_are_refused(kept_run):
    _, settings = trained_model(kept_run / "checkpoints" / "epoch-1.npz")
    n_train = load_dataset(None).train_images.shape[0]
    with pytest.raises(SystemExit, match="would overlap"):
        validation.images(settings, n_train - 199)

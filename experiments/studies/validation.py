"""The model chosen on a validation set, as the NVIL and RWS papers choose theirs:

    python -m experiments.studies.validation --out RUN [--validation 10000] [--every 50] [--json PATH] [--figure PATH]

RUN is a binary run that trained on the first N training images (--train-size N, with N + V at most the 60000) and
kept every epoch's checkpoint (--keep-checkpoints). The validation set is the last V training images, made as the
run makes its own (binarized once from the training stream, so they are the images a run on all 60000 would have
trained on); the run never saw them. For every kept epoch that is a multiple of --every, and the last: the
validation and test ELBO, each the mean of 10 log-weights per image (algorithms/bound.py::importance_weighted_bounds;
its standard error over 10000 images, about 0.28 nats, is far above the Monte Carlo noise of 10 samples). The chosen
epoch is the one of the highest validation ELBO. Its test -ELBO from 100 log-weights per image (the noise stream of
derivations/binary.md's test -ELBO) and its test NLL -L_5000 (the noise stream of the run's own NLL, the seed's) are
what the page compares with the papers. Every number carries its standard error over images.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from algorithms.bound import importance_weighted_bound, importance_weighted_bounds, mean_and_standard_error
from experiments.data import kind_of
from experiments.data.mnist import load_dataset
from experiments.harness.folder import KEPT
from experiments.harness.training import trained_model
from experiments.outputs.figures import plt

CURVE_SAMPLES = 10     # log-weights per image for the ELBO of every kept epoch
SAMPLES = 100          # log-weights per image for the chosen model's test ELBO, as derivations/binary.md's


def kept_epochs(folder, every):
    """{epoch: path} of the kept checkpoints whose epoch is a multiple of every, and of the last."""
    paths = {int(path.stem.split("-")[1]): path for path in (folder / KEPT).glob("epoch-*.npz")}
    if not paths:
        raise SystemExit(f"validation: {folder / KEPT}: no kept checkpoints; train with --keep-checkpoints")
    last = max(paths)
    return {epoch: path for epoch, path in sorted(paths.items()) if epoch % every == 0 or epoch == last}


def images(settings, held_out):
    """(validation images, test images) as the run presents its own: the last held_out training images and the
    run's test images, through the run's data kind (binarized once, ...)."""
    data = load_dataset(settings.data_dir)
    n_train = data.train_images.shape[0]
    if settings.train_size + held_out > n_train:
        raise SystemExit(f"validation: the run trained on the first {settings.train_size} of {n_train} training images; "
                         f"the last {held_out} would overlap them (train with --train-size {n_train - held_out})")
    _, test, validation = kind_of(settings).prepare(data.train_images, data.test_images[:settings.test_size],
                                                    np.arange(n_train - held_out, n_train))
    return validation, test


def elbo(model, x, seed, samples):
    """The ELBO of every image, the mean of `samples` log-weights."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return importance_weighted_bounds(model, x, [samples], seed=seed)[1]


def select(folder, held_out, every, nll_k):
    """The learning curve on the validation and test images, the chosen epoch, and its test numbers."""
    epochs = kept_epochs(folder, every)
    _, settings = trained_model(next(iter(epochs.values())))
    validation, test = images(settings, held_out)
    curve = []
    for epoch, path in tqdm(epochs.items(), desc="validation and test bounds", unit="epoch"):
        model, _ = trained_model(path)
        row = {"epoch": epoch}
        for split, x in (("validation", validation), ("test", test)):
            row[f"{split}_elbo"], row[f"{split}_elbo_se"] = mean_and_standard_error(
                elbo(model, x, settings.seed + 1000, CURVE_SAMPLES))
        curve.append(row)
    chosen = max(curve, key=lambda row: row["validation_elbo"])
    model, _ = trained_model(epochs[chosen["epoch"]])
    test_elbo = mean_and_standard_error(elbo(model, test, settings.seed + 1000, SAMPLES))
    began = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        nll = -importance_weighted_bound(model, test, nll_k, seed=settings.seed, chunk_size=max(1, 2000 // nll_k))
    return {"run": str(folder), "validation_images": len(validation), "test_images": len(test),
            "train_images": settings.train_size, "curve": curve, "chosen_epoch": chosen["epoch"],
            "test_minus_elbo": [-test_elbo[0], test_elbo[1]],
            "nll_k": nll_k, "test_nll": list(mean_and_standard_error(nll)), "nll_seconds": time.perf_counter() - began}


def plot(result, path, title):
    """Validation and test -ELBO against the epoch, the chosen epoch marked."""
    curve = result["curve"]
    epochs = [row["epoch"] for row in curve]
    fig, ax = plt.subplots(figsize=(7, 4))
    for split, color in (("validation", "C0"), ("test", "C1")):
        ax.errorbar(epochs, [-row[f"{split}_elbo"] for row in curve], yerr=[row[f"{split}_elbo_se"] for row in curve],
                    color=color, marker=".", capsize=2, label=f"{split} −ELBO")
    ax.axvline(result["chosen_epoch"], color="grey", linestyle=":", label=f"chosen: epoch {result['chosen_epoch']}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"−ELBO ({CURVE_SAMPLES} samples an image), nats (± SE)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the run's folder")
    parser.add_argument("--validation", type=int, default=10000, help="the last N training images (default 10000)")
    parser.add_argument("--every", type=int, default=50, help="evaluate every this many epochs, and the last")
    parser.add_argument("--nll-k", type=int, default=5000, help="samples of the chosen model's test -L_k")
    parser.add_argument("--json", type=Path, help="where to write the result (default: RUN/validation.json)")
    parser.add_argument("--figure", type=Path, help="where to draw the curve (default: RUN/validation.png)")
    args = parser.parse_args()
    result = select(args.out, args.validation, args.every, args.nll_k)
    (args.json or args.out / "validation.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.figure or args.out / "validation.png", f"{args.out.name}: chosen on {args.validation} "
         "held-out training images")
    elbo, nll = result["test_minus_elbo"], result["test_nll"]
    print(f"{args.out.name}: chosen epoch {result['chosen_epoch']} of {max(row['epoch'] for row in result['curve'])}; "
          f"test -ELBO {elbo[0]:.2f} ± {elbo[1]:.2f}, test -L_{args.nll_k} {nll[0]:.2f} ± {nll[1]:.2f}")


if __name__ == "__main__":
    main()

"""What float32's flushed tails buy (derivations/backprop.md, Eq. (B5b)): python bench/tails.py --checkpoint PATH
[--blocks B] [--steps S] [--images N]

Times a binary run's training step and its -L_5000 evaluation two ways, paired block by block in one process: with
nn/functional.py as it is (e^{-|x|} is 0 where |x| >= 40 in float32, exp_neg_abs) and with the unflushed formulas
(B4) and (B5) (and e^{-s} for the evaluation's exp_neg) put in its place, whose tails reach the subnormal numbers. The model and the trainer's state are the
checkpoint's (PATH: a binary run's checkpoint.npz, or one of its checkpoints/epoch-N.npz), restored afresh for every
block; the minibatches are the first training images, binarized with a fixed seed. A fresh model has few logits in
the tails and gains nothing; a trained one has many. Prints each side's median time and the median of the blocks'
ratios (flushed over unflushed) with their quartiles.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nn.functional  # noqa: E402
from algorithms.binary import evaluation  # noqa: E402
from experiments.data.mnist import load_dataset  # noqa: E402
from experiments.harness.checkpoint import read_checkpoint, restore  # noqa: E402
from experiments.harness.stored import from_stored  # noqa: E402
from experiments.harness.training import build  # noqa: E402


def unflushed_softplus(x, out=None):
    """Eq. (B4) with every tail: max(x, 0) + log1p(e^{-|x|})."""
    return np.add(np.maximum(x, 0), np.log1p(np.exp(-np.abs(x))), out=out)


def unflushed_sigmoid(x):
    """Eq. (B5) with every tail: e^{min(x, 0)} / (1 + e^{-|x|})."""
    return np.exp(np.minimum(x, 0)) / (1 + np.exp(-np.abs(x)))


FLUSHED = {"sigmoid": nn.functional.sigmoid, "softplus": nn.functional.softplus, "exp_neg": nn.functional.exp_neg}
UNFLUSHED = {"sigmoid": unflushed_sigmoid, "softplus": unflushed_softplus, "exp_neg": lambda s, out=None: np.exp(-s)}


def use(functions):
    """Puts these functions in place of the others in every loaded module of the package that imported them."""
    everyone = {id(f): name for table in (FLUSHED, UNFLUSHED) for name, f in table.items()}
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").split(".")[0] in ("nn", "algorithms", "experiments"):
            for attribute, value in list(vars(module).items()):
                if everyone.get(id(value)) == attribute:
                    setattr(module, attribute, functions[attribute])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--steps", type=int, default=100, help="training steps a block")
    parser.add_argument("--images", type=int, default=2, help="test images a block, each -L_5000")
    args = parser.parse_args()
    meta, arrays = read_checkpoint(args.checkpoint)
    settings = from_stored(meta["settings"])
    data = load_dataset(settings.data_dir)
    binarize = np.random.default_rng(0)
    train = (binarize.random((2400, data.data_dim)) < data.train_images[:2400]).astype(np.float32)
    test = (binarize.random((args.images, data.data_dim)) < data.test_images[:args.images]).astype(np.float32)
    batch = settings.batch_size
    times = {"training step, ms": {"flushed": [], "unflushed": []}, "-L_5000 an image, ms": {"flushed": [], "unflushed": []}}
    for block in range(args.blocks):
        for side in ("flushed", "unflushed") if block % 2 == 0 else ("unflushed", "flushed"):
            use(FLUSHED if side == "flushed" else UNFLUSHED)
            model, trainer, rng = build(settings)
            restore(args.checkpoint, arrays, model, trainer, rng, meta)
            began = time.perf_counter()
            for i in range(args.steps):
                start = i * batch % (len(train) - batch)
                trainer.step(train[start:start + batch], rng)
            times["training step, ms"][side].append((time.perf_counter() - began) / args.steps * 1e3)
            began = time.perf_counter()
            for n in range(args.images):
                evaluation.log_importance_weights(model, test[n:n + 1], model.noise(np.random.default_rng(n), 5000)[:, None])
            times["-L_5000 an image, ms"][side].append((time.perf_counter() - began) / args.images * 1e3)
    use(FLUSHED)
    for what, sides in times.items():
        ratios = np.array(sides["flushed"]) / np.array(sides["unflushed"])
        print(f"{what}: flushed {np.median(sides['flushed']):.2f}, unflushed {np.median(sides['unflushed']):.2f}; "
              f"ratio {np.median(ratios):.3f} (quartiles {np.percentile(ratios, 25):.3f}-{np.percentile(ratios, 75):.3f},"
              f" {args.blocks} blocks)")


if __name__ == "__main__":
    main()

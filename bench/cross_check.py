"""Cross-check against an independent implementation: python bench/cross_check.py [--epochs N]

Trains the same model with AEVB in PyTorch (autodiff, bench/torch_reference.py) and in this project
(hand-derived gradients), with the same data, batch size, optimizer and epochs, then reports:
  1. each model's test L_100 from its own implementation of the bound;
  2. PyTorch's trained weights evaluated by *our* bound: it must agree with PyTorch's own bound on the
     same weights to within Monte Carlo error, which checks algorithms/bound.py against independent code.
PyTorch is a bench-only extra; nothing in the package or its tests imports it.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from algorithms.aevb import AEVB  # noqa: E402
from algorithms.bound import importance_weighted_bound  # noqa: E402
from algorithms.model import HelmholtzMachine  # noqa: E402
from experiments.data.mnist import load_dataset  # noqa: E402


def copy_torch_weights(torch_model, model):
    """PyTorch's Linear stores weight as (out, in); ours stores W as (in, out)."""
    for net_name, torch_net in (("recognition", torch_model.recognition), ("generative", torch_model.generative)):
        ours = getattr(model, net_name)
        torch_linears = [layer for layer in torch_net if hasattr(layer, "weight")]
        our_linears = [layer for layer in ours.layers if "W" in layer.params]
        for theirs, mine in zip(torch_linears, our_linears):
            mine.params["W"][...] = theirs.weight.detach().numpy().T
            mine.params["b"][...] = theirs.bias.detach().numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--eval-images", type=int, default=10000)
    args = parser.parse_args()

    import torch
    import torch_reference as reference
    torch.set_num_threads(2)
    data = load_dataset()
    train, test = data.train_images, data.test_images[:args.eval_images]
    torch_train, torch_test = torch.from_numpy(train), torch.from_numpy(test)

    rng = np.random.default_rng(0)
    ours = HelmholtzMachine(rng)
    our_trainer = AEVB(ours)
    theirs = reference.TorchHelmholtz(seed=0)
    their_trainer = reference.TorchAEVB(theirs)
    seconds = {"ours": 0.0, "PyTorch": 0.0}
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(train))
        began = time.perf_counter()
        for start in range(0, len(order), 100):
            our_trainer.step(train[order[start:start + 100]], rng)
        seconds["ours"] += time.perf_counter() - began
        began = time.perf_counter()
        torch_order = torch.from_numpy(order)
        for start in range(0, len(order), 100):
            their_trainer.step(torch_train[torch_order[start:start + 100]])
        seconds["PyTorch"] += time.perf_counter() - began
        print(f"epoch {epoch}: {seconds['ours']:.0f} s ours, {seconds['PyTorch']:.0f} s PyTorch so far")

    torch.manual_seed(1)
    our_bound = importance_weighted_bound(ours, test, 100, seed=1)
    their_bound = reference.importance_weighted_bound(theirs, torch_test, 100).numpy().astype(np.float64)
    mirror = HelmholtzMachine(np.random.default_rng(0))
    copy_torch_weights(theirs, mirror)
    their_weights_our_bound = importance_weighted_bound(mirror, test, 100, seed=1)

    def describe(values):
        return f"{values.mean():9.3f} ± {values.std() / np.sqrt(values.size):.3f}"

    print(f"\nAEVB, {args.epochs} epochs, test L_100 on {len(test)} images (mean ± standard error):")
    print(f"  ours, our bound                {describe(our_bound)}")
    print(f"  PyTorch, PyTorch's bound       {describe(their_bound)}")
    print(f"  PyTorch weights, our bound     {describe(their_weights_our_bound)}")
    difference = their_weights_our_bound - their_bound
    print(f"  our bound - PyTorch's bound on the same weights: {describe(difference)} "
          f"(paired over images; Monte Carlo noise only)")


if __name__ == "__main__":
    main()

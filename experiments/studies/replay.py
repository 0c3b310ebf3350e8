"""Continue a run from one of its kept checkpoints (run.py --keep-checkpoints) for a few epochs, once as it was and
once per change of settings, every step's loss recorded: a paired comparison, since each replay draws the same
minibatches and noise from the checkpoint's random state (derivations/iwae.md, when one image's q runs away).

    python -m experiments.studies.replay results/rws/checkpoints/epoch-80.npz --epochs 10 --change log_var_floor=-12

Each --change is one more replay, beside the one as it was; it may change several settings at once
(--change phi_lr=3e-4,sleep_phi=true), any that leave the parameters' shapes alone (a floor, a learning rate,
sleep-phi). A replay as it was reproduces the run's own losses exactly.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

from experiments.data import kind_of
from experiments.data.mnist import load_dataset, select_images
from experiments.errors import Fault
from experiments.harness.checkpoint import read_checkpoint, restore
from experiments.harness.new_settings import with_changes
from experiments.harness.stored import from_stored
from experiments.harness.training import Interrupt, Run, build, new_position, run_epoch


class Recording:
    """A trainer that remembers every step's loss (its optimizers are the trainer's, for the schedule)."""

    def __init__(self, trainer):
        self.trainer, self.optimizers, self.losses, self.recorded = trainer, trainer.optimizers, trainer.losses, []
        self.not_in_nats = trainer.not_in_nats

    def step(self, x, rng):
        losses = self.trainer.step(x, rng)
        self.recorded.append(losses["loss"])
        return losses


def replay(path, epochs, changes, data):
    """Per-step losses of `epochs` epochs after the checkpoint at path, with the settings changed by `changes`.
    The epochs run through the training loop's own run_epoch, so they draw what the run drew; a non-finite loss is
    recorded, not fatal."""
    meta, arrays = read_checkpoint(path)
    if meta["position"] is not None:
        raise Fault(f"{path}: saved in the middle of an epoch; replay starts from an epoch's end")
    settings = with_changes(from_stored(meta["settings"]), changes)
    model, trainer, rng = build(settings)
    restore(path, arrays, model, trainer, rng, meta)
    kind, recording = kind_of(settings), Recording(trainer)
    run = Run(settings, select_images(data, settings, kind), data.image_shape, kind, None, model, recording, rng)
    with Interrupt() as interrupt:
        for epoch in range(meta["epoch"] + 1, meta["epoch"] + epochs + 1):
            position = new_position(len(run.images.train), rng, trainer.losses)
            run_epoch(run, epoch, position, interrupt, diverged=lambda what, when: None)
    return meta["epoch"], np.array(recording.recorded).reshape(epochs, -1)


def parse_change(text):
    """'phi_lr=3e-4,sleep_phi=true' -> {'phi_lr': 0.0003, 'sleep_phi': True}: JSON values, else strings."""
    changes = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        try:
            changes[key] = json.loads(value)
        except ValueError:
            changes[key] = value
    return changes


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments.studies.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--change", action="append", default=[], type=parse_change, metavar="KEY=VALUE",
                        help="one more replay with these settings changed, e.g. log_var_floor=-12 or "
                             "phi_lr=3e-4,sleep_phi=true (repeat for more replays)")
    parser.add_argument("--out", type=Path, help="write every step's loss of every replay here (JSON)")
    args = parser.parse_args(argv)
    try:
        settings = from_stored(read_checkpoint(args.checkpoint)[0]["settings"])
        for changes in args.change:          # every change checked before any replay runs
            with_changes(settings, changes)
        data = load_dataset(settings.data_dir)
        variants = {"as it was": {}, **{", ".join(f"{k}={v}" for k, v in changes.items()): changes
                                        for changes in args.change}}
        results = {name: replay(args.checkpoint, args.epochs, changes, data) for name, changes in variants.items()}
    except Fault as fault:
        print(f"replay: error: {fault}", file=sys.stderr)
        return 2
    print("| epoch | " + " | ".join(f"{name}: mean loss | largest step" for name in results) + " |")
    print("|" + " --- |" * (1 + 2 * len(results)))
    first = next(iter(results.values()))[0]
    for epoch in range(args.epochs):
        cells = [f"{losses[epoch].mean():.2f} | {losses[epoch].max():.1f}" for _, losses in results.values()]
        print(f"| {first + epoch + 1} | " + " | ".join(cells) + " |")
    if args.out:
        args.out.write_text(json.dumps({name: losses.tolist() for name, (_, losses) in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

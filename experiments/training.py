"""The experiment loop of section 1.6: train one algorithm, evaluate L_k, checkpoint every epoch."""
import signal
import threading
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from algorithms import AEVB, HelmholtzMachine, WakeSleep, importance_weighted_bound
from experiments.checkpoint import load_checkpoint, save_checkpoint
from experiments.idx import DataError

# config keys that shape the model or the data: a resumed run must agree with its checkpoint on these
RESUME_MUST_MATCH = ("algorithm", "batch_size", "latent_dim", "hidden", "lr", "wake_lr", "sleep_lr",
                     "sleep_samples", "k", "eval_every", "eval_train_size", "train_size", "test_size", "seed")


def loss_names(algorithm):
    return ("loss",) if algorithm == "aevb" else ("wake_loss", "sleep_loss")


def history_columns(algorithm):
    """The columns of an epoch record, in the order metrics.csv and report.md show them."""
    return ["epoch", "seconds", *loss_names(algorithm), "test_lk", "train_lk"]


def build(config):
    """The model, its trainer and the training random generator, all from config["seed"]."""
    rng = np.random.default_rng(config["seed"])
    model = HelmholtzMachine(rng, latent_dim=config["latent_dim"], hidden=config["hidden"])
    if config["algorithm"] == "aevb":
        trainer = AEVB(model, lr=config["lr"])
    else:
        trainer = WakeSleep(model, wake_lr=config["wake_lr"], sleep_lr=config["sleep_lr"],
                            sleep_samples=config["sleep_samples"])
    return model, trainer, rng


def select_data(data, config):
    """Training images (the first train_size), test images and labels (the first test_size), and the
    training subset for the train bound: eval_train_size images fixed by the seed."""
    train = data.train_images[:config["train_size"]]
    test, test_labels = data.test_images[:config["test_size"]], data.test_labels[:config["test_size"]]
    subset_size = min(config["eval_train_size"], train.shape[0])
    subset = np.random.default_rng([config["seed"], 1]).choice(train.shape[0], subset_size, replace=False)
    return train, test, test_labels, train[np.sort(subset)]


def evaluate(model, images, config):
    """Mean L_k over images, from the same noise seed at every evaluation so that curves compare."""
    return float(importance_weighted_bound(model, images, config["k"], seed=config["seed"]).mean())


class Interrupt:
    """Ctrl-C during training. The first press asks the loop to stop after the current step, so that the
    checkpoint it then writes is consistent; a second press stops at once (nothing new is saved)."""

    def __init__(self, log):
        self.requested, self.log, self.previous = False, log, None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self.handle)
        return self

    def handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.log("\nCtrl-C: stopping after this step to save a checkpoint (press again to quit at once)")

    def __exit__(self, *exc_info):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def new_position(n_images, rng, names):
    """Where an epoch stands: its shuffled order (from the training rng), the next step, the loss totals."""
    return {"order": rng.permutation(n_images), "step": 0, "totals": dict.fromkeys(names, 0.0), "seconds": 0.0}


def run_epoch(trainer, train, config, rng, epoch, position, interrupt):
    """Runs the epoch from position["step"] on, updating position; True when the epoch is finished,
    False when Ctrl-C stopped it between two steps."""
    batch, names, totals = config["batch_size"], loss_names(config["algorithm"]), position["totals"]
    n_steps = -(-len(position["order"]) // batch)
    began = time.perf_counter()
    bar = tqdm(range(position["step"], n_steps), initial=position["step"], total=n_steps, leave=False,
               desc=f"epoch {epoch}/{config['epochs']}", unit="batch", disable=None)
    for step in bar:
        losses = trainer.step(train[position["order"][step * batch:(step + 1) * batch]], rng)
        for name in names:
            totals[name] += losses[name]
        position["step"] = step + 1
        bar.set_postfix({name: f"{totals[name] / (step + 1):.2f}" for name in names})
        if interrupt.requested:
            break
    bar.close()
    position["seconds"] += time.perf_counter() - began
    return position["step"] == n_steps


def check_resumable(saved, config, path):
    differing = [key for key in RESUME_MUST_MATCH if saved.get(key) != config.get(key)]
    if differing:
        described = ", ".join(f"{key} {saved.get(key)!r} != {config.get(key)!r}" for key in differing)
        raise DataError(f"{path}: checkpoint was made with other settings ({described})")


def train(config, data, out_dir, log=print):
    """Trains config["algorithm"] for config["epochs"] epochs; returns (model, history).

    After every epoch the checkpoint in out_dir is replaced atomically; Ctrl-C also saves one, between two
    steps. With config["resume"] the run continues from it, and ends with the same numbers as an
    uninterrupted run with the same seed.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = out_dir / "checkpoint.npz"
    model, trainer, rng = build(config)
    train_images, test_images, _, train_subset = select_data(data, config)
    names = loss_names(config["algorithm"])
    history, start, position = [], 1, None
    if config["resume"]:
        meta = load_checkpoint(checkpoint, model, trainer, rng)
        check_resumable(meta["config"], config, checkpoint)
        history, start, position = meta["history"], meta["epoch"] + 1, meta["position"]
        where = f"step {position['step']} of epoch {start}" if position else f"epoch {meta['epoch']}"
        log(f"resumed from {checkpoint} after {where}")

    resume_command = f"python run.py {config['algorithm']} --resume --out {out_dir}"
    with Interrupt(log) as interrupt:
        for epoch in range(start, config["epochs"] + 1):
            position = position or new_position(len(train_images), rng, names)
            if not run_epoch(trainer, train_images, config, rng, epoch, position, interrupt):
                save_checkpoint(checkpoint, model, trainer, rng, epoch - 1, history, config, position)
                log(f"saved {checkpoint} at step {position['step']} of epoch {epoch}. To continue: {resume_command}")
                raise KeyboardInterrupt
            record = {"epoch": epoch, "seconds": position["seconds"],
                      **{name: position["totals"][name] / position["step"] for name in names},
                      "test_lk": None, "train_lk": None}
            position = None
            if epoch % config["eval_every"] == 0 or epoch == config["epochs"]:
                record["test_lk"] = evaluate(model, test_images, config)
                record["train_lk"] = evaluate(model, train_subset, config)
            history.append(record)
            save_checkpoint(checkpoint, model, trainer, rng, epoch, history, config)
            log(summary_line(record, config))
            if interrupt.requested and epoch < config["epochs"]:
                log(f"saved {checkpoint} after epoch {epoch}. To continue: {resume_command}")
                raise KeyboardInterrupt
    return model, history


def summary_line(record, config):
    parts = [f"epoch {record['epoch']:3d}/{config['epochs']}"]
    parts += [f"{name} {record[name]:.2f}" for name in loss_names(config["algorithm"])]
    if record["test_lk"] is not None:
        parts += [f"test L_{config['k']} {record['test_lk']:.2f}", f"train L_{config['k']} {record['train_lk']:.2f}"]
    parts.append(f"{record['seconds']:.1f} s")
    return "  ".join(parts)

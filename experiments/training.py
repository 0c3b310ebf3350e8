"""The experiment loop of section 1.6: train one algorithm, evaluate L_k, checkpoint every epoch."""
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from algorithms import TRAINERS, HelmholtzMachine, importance_weighted_bound
from experiments.checkpoint import load_checkpoint, save_checkpoint
from experiments.idx import DataError

# config keys that shape the model or the data: a resumed run must agree with its checkpoint on these
RESUME_MUST_MATCH = ("algorithm", "batch_size", "latent_dim", "hidden", "lr", "wake_lr", "sleep_lr",
                     "sleep_samples", "k", "eval_every", "eval_train_size", "train_size", "test_size", "seed")


def loss_names(algorithm):
    return ("loss",) if algorithm == "aevb" else ("wake_loss", "sleep_loss")


def build(config):
    """The model, its trainer and the training random generator, all from config["seed"]."""
    rng = np.random.default_rng(config["seed"])
    model = HelmholtzMachine(rng, latent_dim=config["latent_dim"], hidden=config["hidden"])
    if config["algorithm"] == "aevb":
        trainer = TRAINERS["aevb"](model, lr=config["lr"])
    else:
        trainer = TRAINERS["wake-sleep"](model, wake_lr=config["wake_lr"], sleep_lr=config["sleep_lr"],
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


def run_epoch(trainer, train, config, rng, epoch):
    names = loss_names(config["algorithm"])
    order = rng.permutation(train.shape[0])
    batches = [order[i:i + config["batch_size"]] for i in range(0, len(order), config["batch_size"])]
    totals = dict.fromkeys(names, 0.0)
    bar = tqdm(batches, desc=f"epoch {epoch}/{config['epochs']}", leave=False, unit="batch", disable=None)
    for step, rows in enumerate(bar, start=1):
        losses = trainer.step(train[rows], rng)
        for name in names:
            totals[name] += losses[name]
        bar.set_postfix({name: f"{totals[name] / step:.2f}" for name in names})
    return {name: totals[name] / len(batches) for name in names}


def check_resumable(saved, config, path):
    differing = [key for key in RESUME_MUST_MATCH if saved.get(key) != config.get(key)]
    if differing:
        described = ", ".join(f"{key} {saved.get(key)!r} != {config.get(key)!r}" for key in differing)
        raise DataError(f"{path}: checkpoint was made with other settings ({described})")


def train(config, data, out_dir, log=print):
    """Trains config["algorithm"] for config["epochs"] epochs; returns (model, history).

    After every epoch the checkpoint in out_dir is replaced atomically. With config["resume"] the run
    continues from it, and ends with the same numbers as an uninterrupted run with the same seed.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = out_dir / "checkpoint.npz"
    model, trainer, rng = build(config)
    train_images, test_images, _, train_subset = select_data(data, config)
    history, start = [], 1
    if config["resume"]:
        meta = load_checkpoint(checkpoint, model, trainer, rng)
        check_resumable(meta["config"], config, checkpoint)
        history, start = meta["history"], meta["epoch"] + 1
        log(f"resumed from {checkpoint} after epoch {meta['epoch']}")

    epoch = start
    try:
        for epoch in range(start, config["epochs"] + 1):
            began = time.perf_counter()
            record = {"epoch": epoch, **run_epoch(trainer, train_images, config, rng, epoch)}
            record["seconds"] = time.perf_counter() - began
            record["test_lk"] = record["train_lk"] = None
            if epoch % config["eval_every"] == 0 or epoch == config["epochs"]:
                record["test_lk"] = evaluate(model, test_images, config)
                record["train_lk"] = evaluate(model, train_subset, config)
            history.append(record)
            save_checkpoint(checkpoint, model, trainer, rng, epoch, history, config)
            log(summary_line(record, config))
    except KeyboardInterrupt:
        resume = f"python run.py {config['algorithm']} --resume --out {out_dir}"
        log(f"\ninterrupted in epoch {epoch}; {checkpoint} holds epoch {epoch - 1}. To continue: {resume}")
        raise
    return model, history


def summary_line(record, config):
    parts = [f"epoch {record['epoch']:3d}/{config['epochs']}"]
    parts += [f"{name} {record[name]:.2f}" for name in loss_names(config["algorithm"])]
    if record["test_lk"] is not None:
        parts += [f"test L_{config['k']} {record['test_lk']:.2f}", f"train L_{config['k']} {record['train_lk']:.2f}"]
    parts.append(f"{record['seconds']:.1f} s")
    return "  ".join(parts)

"""The experiment loop of section 1.6: train one algorithm, evaluate L_k, checkpoint every epoch.

A run stops at the first non-finite loss, parameter or bound (Diverged) and keeps its last finite checkpoint;
Ctrl-C or SIGTERM stops it between two steps, after saving (Stopped).
"""
import math
import shlex
import shutil
import signal
import threading
import time

import numpy as np
from tqdm import tqdm

from algorithms import AEVB, IWAE, HelmholtzMachine, ReweightedWakeSleep, WakeSleep, importance_weighted_bound
from experiments import dequantize
from experiments.binarize import TEST_STREAM, TRAIN_STREAM, binarize_batch, binarized
from experiments.checkpoint import restore, save_checkpoint, saved_bounds
from experiments.diagnostics import diagnostic_k, dream_diagnostics, recognition_diagnostics
from experiments.errors import Diverged, Stopped, status
from experiments.run_folder import KEPT
from experiments.settings import LEARNING_RATES, flag

DIAGNOSTIC_IMAGES = 1000   # the first test images, on which every epoch's diagnostics are measured


def loss_names(settings):
    """The training losses an epoch records: Wake-Sleep's two phases, one objective, or RWS's with its sleep-phi."""
    if settings["algorithm"] == "wake-sleep":
        return "wake_loss", "sleep_loss"
    if settings["algorithm"] == "rws" and settings["sleep_phi"]:
        return "loss", "sleep_loss"
    return ("loss",)


def history_columns(settings):
    """The columns of an epoch record, in the order metrics.csv and report.md show them."""
    return ["epoch", "seconds", *loss_names(settings), "test_lk", "test_lk_se", "train_lk", "train_lk_se"]


def build(settings):
    """The model, its trainer and the training random generator, all from settings["seed"]."""
    rng = np.random.default_rng(settings["seed"])
    model = HelmholtzMachine(rng, data_dim=int(np.prod(settings["image_shape"])), latent_dim=settings["latent_dim"],
                             hidden=settings["hidden"], activation=settings["activation"],
                             likelihood=settings["likelihood"], log_var_floor=settings["log_var_floor"],
                             log_var_ceiling=settings["log_var_ceiling"], mean_bound=settings["mean_bound"])
    if settings["algorithm"] == "aevb":
        trainer = AEVB(model, lr=settings["lr"])
    elif settings["algorithm"] == "iwae":
        trainer = IWAE(model, lr=settings["lr"], k=settings["train_k"], dreg=settings["dreg"])
    elif settings["algorithm"] == "rws":
        trainer = ReweightedWakeSleep(model, lr=settings["lr"], phi_lr=settings["phi_lr"], k=settings["train_k"],
                                      sleep_phi=settings["sleep_phi"], sleep_samples=settings["sleep_samples"],
                                      dreams=settings["dreams"])
    else:
        trainer = WakeSleep(model, wake_lr=settings["wake_lr"], sleep_lr=settings["sleep_lr"],
                            sleep_samples=settings["sleep_samples"], dreams=settings["dreams"])
    return model, trainer, rng


def select_data(data, settings):
    """Training images (the first train_size), test images and labels (the first test_size), and the
    training subset for the train bound: eval_train_size images fixed by the seed.

    With --binarize, the test images and the training images are binarized once, the same for every run
    (experiments/binarize.py): the train bound's subset is taken from the binarized training images, which fixed
    trains on, while dynamic trains on the grey levels, binarized batch by batch (run_epoch). With --dequantize, the
    test images and the subset are dequantized once (experiments/dequantize.py), the training images batch by batch."""
    train = data.train_images[:settings["train_size"]]
    test, test_labels = data.test_images[:settings["test_size"]], data.test_labels[:settings["test_size"]]
    subset_size = min(settings["eval_train_size"], train.shape[0])
    subset = np.sort(np.random.default_rng([settings["seed"], 1]).choice(train.shape[0], subset_size, replace=False))
    if settings["dequantize"]:
        return (train, dequantize.dequantized(test, dequantize.TEST_STREAM), test_labels,
                dequantize.dequantized(train[subset], dequantize.TRAIN_STREAM))
    if settings["binarize"] == "none":
        return train, test, test_labels, train[subset]
    binary_train = binarized(train, TRAIN_STREAM)
    training = binary_train if settings["binarize"] == "fixed" else train
    return training, binarized(test, TEST_STREAM), test_labels, binary_train[subset]


def logits_of_means(likelihood, means, clip=1e-3, steps=100):
    """The logits eta with likelihood.mean(eta) = means clipped to [clip, 1 - clip] (a pixel that is 0 in every
    training image would otherwise ask for eta = -inf), by bisection: the mean A'(eta) increases with eta (Eq. (L1))."""
    target = np.clip(means.astype(np.float64), clip, 1 - clip)
    low, high = np.full(target.shape, -1e4), np.full(target.shape, 1e4)
    for _ in range(steps):
        middle = (low + high) / 2
        below = likelihood.mean(middle) < target
        low, high = np.where(below, middle, low), np.where(below, high, middle)
    return ((low + high) / 2).astype(means.dtype)


def evaluate(model, images, settings):
    """Per-image L_k, from the same noise seed at every evaluation so that curves compare (and pair)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # non-finite results are checked
        return importance_weighted_bound(model, images, settings["k"], seed=settings["seed"])


def mean_and_standard_error(values):
    """The mean of per-image values and its standard error, sd / sqrt(n) (0 for a single image)."""
    values = np.asarray(values, np.float64)
    se = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else 0.0
    return float(values.mean()), se


class Interrupt:
    """Ctrl-C or SIGTERM during training. The first asks the loop to stop after the current step (or the
    evaluation under way), so that the checkpoint it then writes is consistent; a second stops at once and
    keeps the last checkpoint."""

    SIGNALS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}

    def __init__(self, log):
        self.requested, self.log, self.previous = False, log, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = {number: signal.signal(number, self.handle) for number in self.SIGNALS}
        return self

    def handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.log(f"\n{self.SIGNALS[signum]}: stopping after {status.finishing} to save a checkpoint "
                 "(Ctrl-C again quits at once and keeps the last checkpoint)")

    def __exit__(self, *exc_info):
        for number, previous in self.previous.items():
            signal.signal(number, previous)


def new_position(n_images, rng, names):
    """Where an epoch stands: its shuffled order (from the training rng), the next step, the loss totals."""
    return {"order": rng.permutation(n_images), "step": 0, "totals": dict.fromkeys(names, 0.0), "seconds": 0.0}


def learning_rate_factor(schedule, epoch, decay_epochs=None, drop_epoch=None):
    """What every learning rate is multiplied by in epoch (1, 2, ...). constant: 1. decay: 10^(-(epoch - 1) / T) with
    T = decay_epochs, tenfold smaller every T epochs, a summable schedule: the factors of all epochs add up to
    1 / (1 - 10^(-1/T)), about T / ln 10 + 1/2 epochs at the initial rate (derivations/wake-sleep-diagnosis.md says why
    Wake-Sleep wants that). drop: 1 up to epoch drop_epoch, 1/10 after it, so that the last epochs take smaller
    steps about the point the constant rate reached (derivations/likelihoods.md measures what that buys). iwae: the
    IWAE paper's schedule (Burda, Grosse and Salakhutdinov 2015, section 5), 10^(-i/7) in stage i, which lasts 3^i
    epochs: epoch 1 is stage 0, epochs 2-4 stage 1, 5-13 stage 2, 14-40 stage 3, 41-121 stage 4, ...; the paper
    stops after stage 7."""
    if schedule == "constant":
        return 1.0
    if schedule == "decay":
        return 10 ** (-(epoch - 1) / decay_epochs)
    if schedule == "drop":
        return 1.0 if epoch <= drop_epoch else 0.1
    stage, last_epoch_of_stage = 0, 1
    while epoch > last_epoch_of_stage:
        stage += 1
        last_epoch_of_stage += 3 ** stage
    return 10 ** (-stage / 7)


def run_epoch(trainer, train, settings, rng, epoch, position, interrupt, diverged):
    """Runs the epoch from position["step"] on, updating position; True when the epoch is finished,
    False when Ctrl-C stopped it between two steps. A non-finite loss calls diverged(what, step). Every optimizer's
    learning rate is its initial one times the schedule's factor for the epoch (so a resumed epoch has it too)."""
    batch, names, totals = settings["batch_size"], loss_names(settings), position["totals"]
    factor = learning_rate_factor(settings["lr_schedule"], epoch, settings["lr_decay_epochs"],
                                  settings["lr_drop_epoch"])
    for optimizer in trainer.optimizers.values():
        optimizer.lr = optimizer.initial_lr * factor
    n_steps = -(-len(position["order"]) // batch)
    began = time.perf_counter()
    bar = tqdm(range(position["step"], n_steps), initial=position["step"], total=n_steps, leave=False,
               desc=f"epoch {epoch}/{settings['epochs']}", unit="batch", disable=None)
    for step in bar:
        x = train[position["order"][step * batch:(step + 1) * batch]]
        if settings["binarize"] == "dynamic":
            x = binarize_batch(x, rng)
        if settings["dequantize"]:
            x = dequantize.dequantize_batch(x, rng)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # non-finite losses are checked
            losses = trainer.step(x, rng)
        for name in names:
            if not math.isfinite(losses[name]):
                bar.close()
                diverged(f"the {name.replace('_', ' ')} is {losses[name]}", f"at step {step + 1} of epoch {epoch}")
            totals[name] += losses[name]
        position["step"] = step + 1
        bar.set_postfix({name: f"{totals[name] / (step + 1):.2f}" for name in names})
        if interrupt.requested:
            break
    bar.close()
    position["seconds"] += time.perf_counter() - began
    return position["step"] == n_steps


def all_finite(model):
    return all(np.isfinite(param).all() for param in model.parameters().values())


def train(settings, data, folder, resume_from=None, log=print, keep=False):
    """Trains settings["algorithm"] for settings["epochs"] epochs; returns (model, history, bounds), bounds the
    per-image L_k of every evaluation ({'test/10': (N,) array, ...}).

    After every epoch the checkpoint in the folder is replaced atomically; Ctrl-C or SIGTERM also saves one,
    between two steps, and raises Stopped. resume_from, a checkpoint's (meta, arrays) whose settings were
    checked, continues that run, which then ends with the same numbers as an uninterrupted run. With keep, a copy of
    every epoch's checkpoint stays in the folder's checkpoints/ (for python -m experiments.replay).
    """
    checkpoint = folder.checkpoint
    model, trainer, rng = build(settings)
    train_images, test_images, _, train_subset = select_data(data, settings)
    names = loss_names(settings)
    history, bounds, start, position, saved = [], {}, 1, None, None
    if resume_from is not None:
        meta, arrays = resume_from
        restore(checkpoint, arrays, model, trainer, rng, meta)
        history, bounds, start, position = meta["history"], saved_bounds(arrays), meta["epoch"] + 1, meta["position"]
        saved = f"step {position['step']} of epoch {start}" if position else f"epoch {meta['epoch']}"
        log(f"resumed from {checkpoint} after {saved}")
    elif settings["output_bias"] == "pixel-means":
        model.generative.layers[-1].params["b"][...] = logits_of_means(model.likelihood, train_images.mean(axis=0))
    status.kept = f"the checkpoint after {saved} in {checkpoint}" if saved else "no checkpoint yet"

    def diverged(what, when):
        rates = ", ".join(f"{flag(key)} {settings[key]:g}" for key in LEARNING_RATES[settings["algorithm"]])
        kept = f"its checkpoint after {saved} is kept in {checkpoint}" if saved else "no checkpoint was saved"
        raise Diverged(f"training diverged {when}: {what}; the learning rate is the likely cause ({rates}); {kept}")

    resume_command = shlex.join(["python", "run.py", settings["algorithm"], "--resume", "--out", str(folder.path)])
    with Interrupt(log) as interrupt:
        for epoch in range(start, settings["epochs"] + 1):
            position = position or new_position(len(train_images), rng, names)
            status.doing, status.finishing = f"training epoch {epoch}", "this step"
            if not run_epoch(trainer, train_images, settings, rng, epoch, position, interrupt, diverged):
                if not all_finite(model):
                    diverged("a parameter is not finite", f"in epoch {epoch}")
                save_checkpoint(checkpoint, model, trainer, rng, epoch - 1, history, settings, bounds, position)
                raise Stopped(f"saved {checkpoint} at step {position['step']} of epoch {epoch}. "
                              f"To continue: {resume_command}")
            if not all_finite(model):
                diverged("a parameter is not finite", f"in epoch {epoch}")
            record = {"epoch": epoch, "seconds": position["seconds"],
                      **{name: position["totals"][name] / position["step"] for name in names},
                      "test_lk": None, "test_lk_se": None, "train_lk": None, "train_lk_se": None}
            position = None
            record.update(recognition_diagnostics(model, test_images[:DIAGNOSTIC_IMAGES], diagnostic_k(settings),
                                                  settings["seed"]))
            record.update(dream_diagnostics(model, test_images[:DIAGNOSTIC_IMAGES], settings["seed"],
                                            settings.get("dreams", "samples")))
            if epoch % settings["eval_every"] == 0 or epoch == settings["epochs"]:
                status.doing, status.finishing = f"evaluating L_k after epoch {epoch}", "this evaluation"
                for split, images in (("test", test_images), ("train", train_subset)):
                    per_image = evaluate(model, images, settings)
                    if not np.isfinite(per_image).all():
                        diverged(f"the {split} bound L_{settings['k']} is not finite", f"after epoch {epoch}")
                    bounds[f"{split}/{epoch}"] = per_image
                    record[f"{split}_lk"], record[f"{split}_lk_se"] = mean_and_standard_error(per_image)
            history.append(record)
            save_checkpoint(checkpoint, model, trainer, rng, epoch, history, settings, bounds)
            if keep:
                (folder.path / KEPT).mkdir(exist_ok=True)
                shutil.copyfile(checkpoint, folder.path / KEPT / f"epoch-{epoch}.npz")
            saved = f"epoch {epoch}"
            status.kept = f"the checkpoint after {saved} in {checkpoint}"
            log(summary_line(record, settings))
            if interrupt.requested and epoch < settings["epochs"]:
                raise Stopped(f"saved {checkpoint} after epoch {epoch}. To continue: {resume_command}")
    return model, history, bounds


def summary_line(record, settings):
    parts = [f"epoch {record['epoch']:3d}/{settings['epochs']}"]
    parts += [f"{name} {record[name]:.2f}" for name in loss_names(settings)]
    if record["test_lk"] is not None:
        parts += [f"test L_{settings['k']} {record['test_lk']:.2f} ± {record['test_lk_se']:.2f}",
                  f"train L_{settings['k']} {record['train_lk']:.2f} ± {record['train_lk_se']:.2f}"]
    parts.append(f"{record['seconds']:.1f} s")
    return "  ".join(parts)

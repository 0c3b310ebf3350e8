"""The training loop of section 1.6: build the model and its algorithm, train epoch by epoch, evaluate L_k, and
checkpoint after every epoch.

    run = train(settings, data, folder)     # run.py calls this; run_epoch calls trainer.step(x, rng) per minibatch

A run stops at the first non-finite loss, parameter or bound (Diverged) and keeps its last finite checkpoint;
Ctrl-C or SIGTERM stops it between two steps, after saving (Stopped). Extensions (experiments/outputs/__init__.py)
plug in at the end of every epoch: extension.epoch_end(run, record) adds its own columns to the epoch's record.
"""
import dataclasses
import math
import shlex
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from algorithms import HEADS
from algorithms.bound import importance_weighted_bound, mean_and_standard_error
from experiments.data import kind_of
from experiments.data.mnist import select_images
from experiments.errors import Diverged, Stopped, stage
from experiments.harness.checkpoint import read_checkpoint, restore, save_checkpoint, saved_bounds, write_atomically
from experiments.harness.folder import KEPT
from experiments.harness.interrupt import Interrupt
from experiments.harness.progress import progress
from experiments.harness.schedules import SCHEDULES
from experiments.harness.settings import flag
from experiments.harness.stored import from_stored


@dataclass
class Run:
    """One run as it trains and after: its settings, its images (experiments/data/mnist.py::Images) and how training
    minibatches are drawn (kind), the model and its trainer with the training generator, every epoch's record
    (history) and every evaluation's per-image bounds ({'test/10': (N,) array, ...})."""
    settings: dict
    images: object
    image_shape: tuple
    kind: object
    folder: object
    model: object
    trainer: object
    rng: object
    history: list = field(default_factory=list)
    bounds: dict = field(default_factory=dict)
    config: dict = None
    began: float = field(default_factory=time.perf_counter)

    def columns(self):
        """The columns of an epoch's record that every run has, in the order metrics.csv and report.md show them."""
        return ["epoch", "seconds", *self.trainer.losses, "test_lk", "test_lk_se", "train_lk", "train_lk_se"]


def build(settings):
    """The model (settings.latent_kind's, with the likelihood and heads its settings name), its trainer and the
    training random generator, all from settings.seed."""
    rng = np.random.default_rng(settings.seed)
    model = settings.latent_kind.build(settings, rng, data_dim=int(np.prod(settings.image_shape)))
    # the algorithm's trainer, from the registry's class (algorithms/__init__.py): AEVB in algorithms/aevb.py for
    # "aevb", WakeSleep in algorithms/wake_sleep.py for "wake-sleep" with Gaussian latents, ...
    trainer = settings.trainer_class(model, **dataclasses.asdict(settings.trainer))
    return model, trainer, rng


def trained_model(path):
    """(the model of the checkpoint at path, with its parameters, and the run's settings): for evaluating a run
    (studies, benchmarks), where the trainer's state is not needed."""
    meta, arrays = read_checkpoint(path)
    settings = from_stored(meta["settings"])
    model, _, _ = build(settings)
    model.load_parameters({key[len("param/"):]: value for key, value in arrays.items() if key.startswith("param/")})
    return model, settings


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


def evaluate(model, images, settings, what="evaluating L_k"):
    """Per-image L_k, from the same noise seed at every evaluation so that curves compare (and pair); a progress bar
    says what it is doing."""
    with progress(what, len(images) * settings.eval_k) as done, \
            np.errstate(over="ignore", invalid="ignore", divide="ignore"):     # non-finite results are checked
        return importance_weighted_bound(model, images, settings.eval_k, seed=settings.seed, done=done)


def new_position(n_images, rng, names):
    """Where an epoch stands: its shuffled order (from the training rng), the next step, the loss totals."""
    return {"order": rng.permutation(n_images), "step": 0, "totals": dict.fromkeys(names, 0.0), "seconds": 0.0}


def run_epoch(run, epoch, position, interrupt, diverged):
    """Runs the epoch from position["step"] on, updating position; True when the epoch is finished, False when Ctrl-C
    stopped it between two steps. Each minibatch is drawn as the data kind says (binarized anew, say, or from the
    epoch's own images), then the algorithm takes one step on it. A non-finite loss calls diverged(what, step). Every
    optimizer's learning rate is its initial one times the schedule's factor for the epoch (so a resumed epoch has it
    too)."""
    settings, trainer, totals = run.settings, run.trainer, position["totals"]
    batch, names = settings.batch_size, trainer.losses
    factor = SCHEDULES[settings.lr_schedule](epoch, settings)
    for optimizer in trainer.optimizers.values():
        optimizer.lr = optimizer.initial_lr * factor
    n_steps = -(-len(position["order"]) // batch)
    began = time.perf_counter()
    bar = tqdm(range(position["step"], n_steps), initial=position["step"], total=n_steps, leave=False,
               desc=f"epoch {epoch}/{settings.epochs}", unit="batch", disable=None)
    # a source drawn afresh (experiments/data/synthetic.py) gives each epoch its own images, the same when resumed
    train = run.kind.epoch_images(epoch) if hasattr(run.kind, "epoch_images") else run.images.train
    for step in bar:
        x = run.kind.batch(train[position["order"][step * batch:(step + 1) * batch]], run.rng)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # non-finite losses are checked
            losses = trainer.step(x, run.rng)         # AEVB.step (algorithms/aevb.py), WakeSleep.step, ...
        for name in names:
            if not (math.isfinite(losses[name]) if name in trainer.not_in_nats else plausible(losses[name], run)):
                bar.close()
                diverged(f"the {name.replace('_', ' ')} is {losses[name]:.4g}", f"at step {step + 1} of epoch {epoch}")
            totals[name] += losses[name]
        position["step"] = step + 1
        bar.set_postfix({name: f"{totals[name] / (step + 1):.2f}" for name in names})
        if interrupt.requested:
            break
    bar.close()
    position["seconds"] += time.perf_counter() - began
    return position["step"] == n_steps


PLAUSIBLE_NATS = 100     # per pixel: a loss or bound beyond this many nats a pixel has left any plausible range
LONG_EVALUATION = 10 ** 6     # samples: an evaluation of more (about a second here) is stopped at once by a Ctrl-C


def long_evaluation(run):
    """Whether the L_k evaluation after an epoch draws more than LONG_EVALUATION samples."""
    images = len(run.images.test) + len(run.images.train_subset)
    return images * run.settings.eval_k > LONG_EVALUATION


def plausible(nats, run):
    """Whether a loss or bound in nats per image is finite and within PLAUSIBLE_NATS nats a pixel of zero (a model
    that diverges slowly reaches 1e14 nats before it reaches infinity)."""
    return math.isfinite(nats) and abs(nats) <= PLAUSIBLE_NATS * run.images.train.shape[1]


def all_finite(model):
    return all(np.isfinite(param).all() for param in model.parameters().values())


def start(settings, data, folder, resume_from=None, config=None):
    """The Run before its first step: built from the settings, its images selected, and its state restored from
    resume_from, a checkpoint's (meta, arrays) whose settings were checked."""
    model, trainer, rng = build(settings)
    kind = kind_of(settings)
    run = Run(settings, select_images(data, settings, kind), data.image_shape, kind, folder, model, trainer, rng,
              config=config)
    if resume_from is not None:
        meta, arrays = resume_from
        restore(folder.checkpoint, arrays, model, trainer, rng, meta)
        run.history, run.bounds, run.config = meta["history"], saved_bounds(arrays), meta.get("config")
    elif settings.output_bias == "pixel-means":
        model.decoder_output().params["b"][...] = logits_of_means(model.likelihood, run.images.train.mean(axis=0))
    return run


def train(settings, data, folder, resume_from=None, extensions=(), log=print, keep=False, config=None):
    """Trains settings.algorithm for settings.epochs epochs (from where resume_from stopped) and returns the Run.

    A new run first clears the folder of an earlier run's outputs (--force; the checks that could refuse it have
    passed). After every epoch the checkpoint in the folder is replaced atomically; Ctrl-C or SIGTERM also saves one,
    between two steps, and raises Stopped. A resumed run ends with the same numbers as an uninterrupted one. With
    keep, a copy of every epoch's checkpoint stays in the folder's checkpoints/ (for python -m
    experiments.studies.replay). config: the configuration file's name and values, kept for the report.
    """
    run = start(settings, data, folder, resume_from, config)
    checkpoint, start_epoch, position, saved = folder.checkpoint, 1, None, None
    if resume_from is not None:
        meta = resume_from[0]
        start_epoch, position = meta["epoch"] + 1, meta["position"]
        saved = f"step {position['step']} of epoch {start_epoch}" if position else f"epoch {meta['epoch']}"
        if start_epoch <= settings.epochs:
            log(f"resumed from {checkpoint} after {saved}")

    def diverged(what, when):
        rates = ", ".join(f"{flag(key)} {getattr(settings.trainer, key):g}"
                          for key in settings.trainer_class.learning_rates())
        bounds = ", ".join(f"{flag(key)} {getattr(settings, key):g}" for key in HEADS
                           if getattr(settings, key) is not None)
        cause = f"the learning rate ({rates})" + (f" or the bounds on q ({bounds})" if bounds else "")
        kept = f"its checkpoint after {saved} is kept in {checkpoint}" if saved else "no checkpoint was saved"
        error = Diverged(f"training diverged {when}: {what}; the likely cause is {cause}; {kept}")
        error.brief = f"training diverged {when}: {what}; the likely cause is {cause}"     # without what is kept
        raise error

    def save(epoch, position=None):
        save_checkpoint(checkpoint, run.model, run.trainer, run.rng, epoch, run.history, settings, run.bounds,
                        position, run.config)

    resume_command = shlex.join(["python", "run.py", settings.algorithm, "--resume", "--out", str(folder.path)])
    with Interrupt(starting_over=folder.starting_over) as interrupt:
        for epoch in range(start_epoch, settings.epochs + 1):
            position = position or new_position(len(run.images.train), run.rng, run.trainer.losses)
            kept = f"the checkpoint after {saved} in {checkpoint}" if saved else "no checkpoint yet"
            with stage(f"training epoch {epoch}", kept):
                finished = run_epoch(run, epoch, position, interrupt, diverged)
            if not finished:
                if not all_finite(run.model):
                    diverged("a parameter is not finite", f"in epoch {epoch}")
                save(epoch - 1, position)
                raise Stopped(f"saved {checkpoint} at step {position['step']} of epoch {epoch}. "
                              f"To continue: {resume_command}")
            if not all_finite(run.model):
                diverged("a parameter is not finite", f"in epoch {epoch}")
            record = {"epoch": epoch, "seconds": position["seconds"],
                      **{name: position["totals"][name] / position["step"] for name in run.trainer.losses},
                      "test_lk": None, "test_lk_se": None, "train_lk": None, "train_lk_se": None}
            steps_done, position = position, None
            for extension in extensions:
                extension.epoch_end(run, record)
            if epoch % settings.eval_every == 0 or epoch == settings.epochs:
                if long_evaluation(run):
                    # the epoch's steps saved first: a Ctrl-C or SIGTERM then stops the evaluation at once, losing
                    # nothing (a short one is waited for, as a step is)
                    save(epoch - 1, steps_done)
                    kept = (f"the checkpoint at the end of epoch {epoch}'s steps in {checkpoint}. "
                            f"To continue: {resume_command}")
                    interrupt.at_once = True
                with stage(f"evaluating L_k after epoch {epoch}", kept):
                    for split, images in (("test", run.images.test), ("train", run.images.train_subset)):
                        per_image = evaluate(run.model, images, settings,
                                             f"{split} L_{settings.eval_k} after epoch {epoch}")
                        if not (np.isfinite(per_image).all() and plausible(float(per_image.mean()), run)):
                            diverged(f"the {split} bound L_{settings.eval_k} is {per_image.mean():.4g}",
                                     f"after epoch {epoch}")
                        run.bounds[f"{split}/{epoch}"] = per_image
                        record[f"{split}_lk"], record[f"{split}_lk_se"] = mean_and_standard_error(per_image)
                interrupt.at_once = False
            run.history.append(record)
            with stage(f"saving the checkpoint after epoch {epoch}", kept):
                save(epoch)
                if keep:
                    copy = folder.path / KEPT / f"epoch-{epoch}.npz"
                    write_atomically(copy, lambda handle: handle.write(checkpoint.read_bytes()), make_folder=True)
            saved = f"epoch {epoch}"
            log(summary_line(record, run))
            if interrupt.requested and epoch < settings.epochs:
                raise Stopped(f"saved {checkpoint} after epoch {epoch}. To continue: {resume_command}")
    return run


def summary_line(record, run):
    settings = run.settings
    parts = [f"epoch {record['epoch']:3d}/{settings.epochs}"]
    parts += [f"{name} {record[name]:.2f}" for name in run.trainer.losses]
    if record["test_lk"] is not None:
        parts += [f"test L_{settings.eval_k} {record['test_lk']:.2f} ± {record['test_lk_se']:.2f}",
                  f"train L_{settings.eval_k} {record['train_lk']:.2f} ± {record['train_lk_se']:.2f}"]
    parts.append(f"{record['seconds']:.1f} s")
    return "  ".join(parts)

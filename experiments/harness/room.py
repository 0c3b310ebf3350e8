"""Whether this machine can hold a run, decided before anything is deleted or trained: its memory estimate against
what is available, and its checkpoint against the disk's free space and the file-size limit (ulimit -f)."""
import math
import os
import resource
import shutil
from pathlib import Path

from algorithms.bound import CHUNK_IMAGES, MOST_ROWS
from experiments.errors import Fault
from experiments.harness.settings import flag

FLOAT = 4      # bytes of a float32


def memory_needed(settings):
    """{what: (bytes, the settings that set it)}: an estimate of what a run holds beside its data. The parameters with
    their gradients and Adam's two moments and scratch (5 copies); a training step's activations and their gradients
    (about 3 copies of every layer's output for every sample of the minibatch, or every dream); an evaluation's chunk
    of samples (20 images' k samples, or one image's samples in blocks of at most MOST_ROWS: algorithms/bound.py; a
    binarized run's -L_5000 one image at a time); and for a 2-D run with the exact evaluation, its 1000 samples per
    image and the true posteriors of the explorer's 300 images on a lattice of 241^2 points (its widest squares, for
    posteriors far out, are not counted)."""
    hidden, data_dim, kind = settings.hidden, math.prod(settings.image_shape), settings.latent_kind
    # each stochastic step (below, q's outputs, p's inputs): q's MLP maps below to its outputs, p's back
    steps = kind.stochastic_steps(settings, data_dim)
    weights = sum(mlp_weights([below, *hidden, q_out]) + mlp_weights([p_in, *hidden[::-1], below])
                  for below, q_out, p_in in steps)
    width = sum(2 * sum(hidden) + below + 3 * q_out // 2 for below, q_out, _ in steps)  # a sample's outputs, both nets
    options = settings.trainer
    batch = min(settings.batch_size, settings.train_size)      # a minibatch holds at most the training set
    samples = settings.trainer_class.rows_per_step(options, batch)
    step_settings = ["batch_size", "hidden", "latent_dim"] + (["k"] if hasattr(options, "k") else [])
    if samples > batch * getattr(options, "k", 1):
        step_settings = ["sleep_samples", "hidden", "latent_dim"]
    rows, evaluation_settings = evaluation_rows(settings.eval_k, CHUNK_IMAGES), ["eval_k", "hidden", "latent_dim"]
    if settings.binarize != "none":
        nll_rows = evaluation_rows(settings.nll_k, max(1, 2000 // settings.nll_k))
        if nll_rows > rows:
            rows, evaluation_settings = nll_rows, ["nll_k", "hidden", "latent_dim"]
    needed = {"parameters and Adam's state": (5 * FLOAT * weights, ["hidden", "latent_dim"]),
              "a training step": (3 * FLOAT * samples * width, step_settings),
              "an evaluation": (2 * FLOAT * rows * width, evaluation_settings)}
    if settings.exact and not kind.why_not_exact(settings):
        needed["the exact evaluation"] = (kind.exact_memory(settings, width), ["exact"])
    return needed


def mlp_weights(sizes):
    return sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def evaluation_rows(k, chunk):
    """The rows of samples an evaluation of L_k puts through the decoder at once (algorithms/bound.py)."""
    return chunk * k if chunk * k <= MOST_ROWS else min(k, MOST_ROWS)


def available_memory():
    """Bytes this process may still take: MemAvailable of /proc/meminfo (or all physical memory where there is none),
    or less where a control group's memory.max says so."""
    available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        with open("/proc/meminfo") as handle:
            available = next(int(line.split()[1]) * 1024 for line in handle if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if limit != "max":
            available = min(available, int(limit) - used)
    except (OSError, ValueError):
        pass
    return available


def check_room(settings, folder, explicit):
    """Refuses, before anything is deleted or trained, a run this machine cannot hold: its memory estimate above what
    is available, or a checkpoint larger than the disk's free space or the file-size limit (ulimit -f)."""
    needed = memory_needed(settings)
    what, (most, names) = max(needed.items(), key=lambda item: item[1][0])
    total, available = sum(size for size, _ in needed.values()), available_memory()
    if total > 0.9 * available:
        named = [flag(name) for name in names if name in explicit] or [flag(name) for name in names]
        raise Fault(f"{' and '.join(named)}: this run would need about {size_text(total)} of memory "
                    f"({what} {size_text(most)}), and this machine has {size_text(available)} available")
    evaluations = settings.epochs // settings.eval_every + 1
    checkpoint = (needed["parameters and Adam's state"][0] * 3 / 5 + 8 * settings.train_size
                  + 8 * (settings.test_size + settings.eval_train_size) * evaluations)
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY and checkpoint > limit:
        raise Fault(f"{folder.path}: a checkpoint of this run takes about {size_text(checkpoint)}, and files may "
                    f"not grow beyond {size_text(limit)} here (ulimit -f)")
    free = shutil.disk_usage(folder.path).free
    if 2 * checkpoint + 2 ** 24 > free:
        raise Fault(f"{folder.path}: a checkpoint of this run takes about {size_text(checkpoint)}, twice that while it "
                    f"is replaced, and the disk has {size_text(free)} free")


def size_text(size):
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000

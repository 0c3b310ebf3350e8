"""Checkpoints: parameters, optimizer state, random state, epoch, history and settings in one .npz, written
atomically (a temporary file in the same folder, then a rename) so that a crash never leaves half a file.

Reading never unpickles: the metadata is a JSON string, every other entry a plain numeric array. A file that
is not a checkpoint of run.py, or one that is damaged, is refused in one line naming the fault.
"""
import json
import math
import os
import zipfile

import numpy as np

from experiments.errors import Fault
from experiments.harness.stored import from_stored, stored

META_KEYS = ("epoch", "history", "settings", "rng", "position")


def save_checkpoint(path, model, trainer, rng, epoch, history, settings, bounds, position=None, config=None):
    """epoch: the last finished epoch; bounds: {'test/10': per-image L_k, ...}; position: where an unfinished
    next epoch stopped (or None); config: the configuration file's name and values, or None."""
    arrays = {f"param/{name}": value for name, value in model.parameters().items()}
    for opt_name, optimizer in trainer.optimizers.items():
        arrays.update({f"optim/{opt_name}/{key}": value for key, value in optimizer.state().items()})
    arrays.update({f"trainer/{key}": value for key, value in trainer_state(trainer).items()})
    arrays.update({f"bounds/{key}": value for key, value in bounds.items()})
    meta = {"epoch": epoch, "history": history, "settings": stored(settings), "rng": rng.bit_generator.state,
            "position": None, "config": config}
    if position is not None:
        arrays["position/order"] = position["order"]
        meta["position"] = {key: value for key, value in position.items() if key != "order"}
    arrays["meta"] = np.array(json.dumps(meta))
    write_atomically(path, lambda handle: np.savez(handle, **arrays))


def write_atomically(path, write, make_folder=False):
    """write(handle) into a temporary file beside path, then rename it over path: a reader (or a crash) sees the
    old file or the new one, never half of one. make_folder: create path's folder first if need be."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        if make_folder:
            path.parent.mkdir(exist_ok=True)
        with open(temporary, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as error:         # a full disk, or Ctrl-C: no half file is left, the one before is kept
        if temporary.is_file():
            temporary.unlink()
        if isinstance(error, OSError):
            raise Fault(f"{path}: could not be written ({error.strerror or error}); the file before it is kept") from None
        raise


def read_checkpoint(path):
    """(meta, arrays) of a checkpoint, checked for structure; nothing is loaded into a model yet."""
    if not path.exists():
        raise Fault(f"{path}: no checkpoint to resume from")
    if path.stat().st_size == 0:
        raise Fault(f"{path}: empty file, not a checkpoint")
    if not zipfile.is_zipfile(path):
        raise Fault(f"{path}: not a checkpoint of run.py (not an .npz archive, or one cut short)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise Fault(f"{path}: damaged checkpoint ({error})") from None
    if "meta" not in arrays:
        raise Fault(f"{path}: an .npz archive without run metadata, not a checkpoint of run.py")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except ValueError:
        raise Fault(f"{path}: damaged checkpoint (its metadata is not JSON)") from None
    missing = [key for key in META_KEYS if not isinstance(meta, dict) or key not in meta]
    if missing:
        raise Fault(f"{path}: not a checkpoint of this version of run.py (its metadata lacks {', '.join(missing)})")
    meta["settings"] = stored(check_meta(meta, arrays, path))     # an earlier version's keys and values as today's
    if meta["position"] is not None:
        meta["position"]["order"] = arrays["position/order"]
    return meta, arrays


def check_meta(meta, arrays, path):
    """The metadata and arrays of a checkpoint checked as data: each field of the type, shape and range run.py writes,
    every stored number finite; anything else refused in one line naming the field. Returns its Settings."""
    def refuse(field, problem):
        raise Fault(f"{path}: its {field} {problem}; not a checkpoint of this version of run.py, or changed after it "
                    "was written")
    epoch, history, position = meta["epoch"], meta["history"], meta["position"]
    if type(epoch) is not int or epoch < 0:
        refuse("epoch", f"is not a whole number of epochs: {epoch!r}")
    if not isinstance(history, list) or len(history) != epoch:
        refuse("history", f"does not hold one record per finished epoch ({epoch})")
    for n, record in enumerate(history, 1):
        if not isinstance(record, dict) or record.get("epoch") != n:
            refuse("history", f"record {n} is not epoch {n}'s")
        for key, value in record.items():
            if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                          and math.isfinite(value)):
                refuse("history", f"record {n} holds {key} = {value!r}, not a finite number")
    if not isinstance(meta["settings"], dict):
        refuse("settings", "are not a table of settings")
    try:
        settings = from_stored(meta["settings"])
    except Fault as fault:
        raise Fault(f"{path}: {fault}") from None
    if position is not None:
        if (not isinstance(position, dict) or type(position.get("step")) is not int or position["step"] < 0
                or not isinstance(position.get("totals"), dict)
                or not isinstance(position.get("seconds"), (int, float))):
            refuse("position", "is not where an epoch stopped (its step, loss totals and seconds)")
        order = arrays.get("position/order")
        if (order is None or order.shape != (settings.train_size,)
                or not np.array_equal(np.sort(order), np.arange(settings.train_size))):
            refuse("position/order", f"is not an order of the run's {settings.train_size} training images")
        if not all(isinstance(total, (int, float)) and math.isfinite(total) for total in position["totals"].values()):
            refuse("position", "holds a loss total that is not a finite number")
    if not (isinstance(meta["rng"], dict) and isinstance(meta["rng"].get("state"), dict)):
        refuse("rng", "is not a random generator's state")
    config = meta.get("config")
    if config is not None and not (isinstance(config, dict) and isinstance(config.get("file"), str)
                                   and isinstance(config.get("values"), dict)):
        refuse("config", "is not a configuration file's name and values")
    for key, value in arrays.items():
        if value.dtype.kind not in "fiub":
            refuse(key, f"is not numbers (dtype {value.dtype})")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            refuse(key, "holds a value that is not finite; no run of run.py saves one (a diverged run keeps its last "
                   "finite checkpoint)")
    return settings


def restore(path, arrays, model, trainer, rng, meta):
    """Loads parameters, optimizer state and random state in place, after checking that every array is
    there with the model's shape (a checkpoint of another architecture is refused, not broadcast)."""
    wanted = {f"param/{name}": value for name, value in model.parameters().items()}
    for opt_name, optimizer in trainer.optimizers.items():
        wanted.update({f"optim/{opt_name}/{key}": value for key, value in optimizer.state().items()})
    wanted.update({f"trainer/{key}": value for key, value in trainer_state(trainer).items()})
    for key, value in wanted.items():
        if key not in arrays:
            raise Fault(f"{path}: holds no {key}; it was not written for this model")
        if arrays[key].shape != value.shape:
            raise Fault(f"{path}: {key} has shape {arrays[key].shape}, the model's has {value.shape} "
                        "(a checkpoint of another architecture)")
    for key in wanted:
        if not np.isfinite(arrays[key]).all():
            raise Fault(f"{path}: {key} holds a value that is not finite; no run of run.py saves one (a diverged run "
                        "keeps its last finite checkpoint), so the file was changed after it was written")
    model.load_parameters({name[len("param/"):]: arrays[name] for name in wanted if name.startswith("param/")})
    for opt_name, optimizer in trainer.optimizers.items():
        prefix = f"optim/{opt_name}/"
        optimizer.load_state({key[len(prefix):]: value for key, value in arrays.items() if key.startswith(prefix)})
    if hasattr(trainer, "load_state"):
        trainer.load_state({key[len("trainer/"):]: value for key, value in arrays.items() if key.startswith("trainer/")})
    rng.bit_generator.state = meta["rng"]


def trainer_state(trainer):
    """What a trainer keeps beside its optimizers (NVIL: its baselines and running moments), or nothing."""
    return trainer.state() if hasattr(trainer, "state") else {}


def saved_bounds(arrays):
    """The per-image bounds a checkpoint keeps: {'test/10': array, ...}."""
    return {key[len("bounds/"):]: value for key, value in arrays.items() if key.startswith("bounds/")}

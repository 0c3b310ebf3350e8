"""Checkpoints: parameters, optimizer state, random state, epoch and history in one .npz, written
atomically (a temporary file in the same folder, then a rename) so that a crash never leaves half a file."""
import json
import os

import numpy as np

from experiments.idx import DataError


def save_checkpoint(path, model, trainer, rng, epoch, history, config, position=None):
    """epoch: the last finished epoch; position: where an unfinished next epoch stopped (or None)."""
    arrays = {f"param/{name}": value for name, value in model.parameters().items()}
    for opt_name, optimizer in trainer.optimizers.items():
        arrays.update({f"optim/{opt_name}/{key}": value for key, value in optimizer.state().items()})
    meta = {"epoch": epoch, "history": history, "config": config, "rng": rng.bit_generator.state, "position": None}
    if position is not None:
        arrays["position/order"] = position["order"]
        meta["position"] = {key: value for key, value in position.items() if key != "order"}
    arrays["meta"] = np.array(json.dumps(meta))
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        np.savez(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def load_checkpoint(path, model, trainer, rng):
    """Restores model, optimizers and rng in place; returns the saved meta (epoch, history, config, position)."""
    try:
        with np.load(path) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise DataError(f"{path}: no checkpoint to resume from") from None
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: corrupt checkpoint ({error})") from None
    meta = json.loads(str(arrays["meta"]))
    model.load_parameters({name[len("param/"):]: value for name, value in arrays.items() if name.startswith("param/")})
    for opt_name, optimizer in trainer.optimizers.items():
        prefix = f"optim/{opt_name}/"
        optimizer.load_state({key[len(prefix):]: value for key, value in arrays.items() if key.startswith(prefix)})
    rng.bit_generator.state = meta["rng"]
    if meta["position"] is not None:
        meta["position"]["order"] = arrays["position/order"]
    return meta

"""What one run will do, decided before anything is written: a new run, or the continuation of the one in its
folder (--resume), with its settings and data. Every check that can refuse a run happens here, and none writes."""
from experiments.data.mnist import load_dataset
from experiments.errors import Fault, status
from experiments.harness.checkpoint import read_checkpoint
from experiments.harness.folder import describe_progress, finished
from experiments.harness.settings import make_effective, new_settings, resumed_settings


class DataCache:
    """Loads each data folder once (compare trains several runs on the same data)."""

    def __init__(self):
        self.loaded = {}

    def get(self, data_dir):
        if data_dir not in self.loaded:
            status.doing = f"loading the data ({data_dir or 'the embedded MNIST'})"
            self.loaded[data_dir] = load_dataset(data_dir)
        return self.loaded[data_dir]


def saved_run(folder):
    """(meta, arrays) of the checkpoint in a locked folder, or None where there is none."""
    return read_checkpoint(folder.checkpoint) if folder.checkpoint.exists() else None


def resume_plan(folder, algorithm, explicit, data_cache):
    """(settings, data, (meta, arrays)) to continue the run in folder: its own settings, with --epochs the only
    flag that may change them; the data must be the data it was trained on."""
    meta, arrays = read_checkpoint(folder.checkpoint)
    saved = meta["settings"]
    if saved.get("algorithm") != algorithm:
        raise Fault(f"{folder.checkpoint}: holds {describe_progress(meta)}; resume it with "
                    f"python run.py {saved.get('algorithm')} --resume --out {folder.path}")
    data = data_cache.get(saved["data_dir"])
    if data.fingerprint != saved["data_fingerprint"]:
        raise Fault(f"{saved['data_dir'] or 'the embedded MNIST'}: not the data this run was trained on "
                    f"(fingerprint {data.fingerprint}, the run's {saved['data_fingerprint']})")
    given = make_effective({**saved, **explicit}, data)
    settings = resumed_settings(saved, {key: given[key] for key in explicit}, folder.checkpoint)
    unchanged_and_finished = finished(meta) and settings["epochs"] == meta["epoch"]
    if settings["epochs"] <= meta["epoch"] and not unchanged_and_finished:
        raise Fault(f"--epochs {settings['epochs']}: the run in {folder.path} has already trained {meta['epoch']} "
                    "epochs; give more to extend it")
    return settings, data, (meta, arrays)


def plan(folder, algorithm, explicit, quick, resume, force, data_cache, configured=None):
    """(settings, data, resume_from) for one run into a locked folder, or a Fault that says why not.

    A folder holding a run is never overwritten unasked: --resume continues it, --force starts over (its files
    are removed only when training starts, after every check has passed). configured: a configuration file's
    values, under the flags given (explicit).
    """
    if resume:
        return resume_plan(folder, algorithm, {**(configured or {}), **explicit}, data_cache)
    held = folder.holds()
    if held and not force:
        raise Fault(f"{folder.path}: holds {held}; continue it with --resume, or start over with --force "
                    "(which deletes its outputs)")
    settings = new_settings(algorithm, explicit, quick, configured)
    data = data_cache.get(settings["data_dir"])
    return make_effective(settings, data), data, None


def reusable_history(folder, settings):
    """For compare: the finished run in folder if its settings are these, else None."""
    run = saved_run(folder)
    if run is None or not finished(run[0]):
        return None
    return run if run[0]["settings"] == settings else None


def exact_plan(folder, data_cache):
    """(settings, data, (meta, arrays)) of the finished 2-D run in folder, for python run.py exact."""
    if not folder.checkpoint.exists():
        raise Fault(f"{folder.checkpoint}: no checkpoint; run.py exact evaluates a finished run's folder")
    meta, _ = read_checkpoint(folder.checkpoint)
    if not finished(meta):
        raise Fault(f"{folder.path}: holds {describe_progress(meta)}; finish it with --resume first")
    if meta["settings"]["latent_dim"] != 2:
        raise Fault(f"{folder.path}: the exact log p(x) is computed for a 2-D latent only; this run's has "
                    f"{meta['settings']['latent_dim']}")
    return resume_plan(folder, meta["settings"]["algorithm"], {}, data_cache)

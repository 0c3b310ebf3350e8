"""What one run will do, decided before anything is written: a new run, or the continuation of the one in its
folder (--resume), with its settings and data, and whether this machine can hold it (room.py). Every check that can
refuse a run happens here, and none writes."""
from algorithms import load
from experiments.data import DEFAULT_SOURCE, SOURCES
from experiments.errors import Fault, stage
from experiments.harness.checkpoint import read_checkpoint
from experiments.harness.folder import describe_progress, finished
from experiments.harness.new_settings import new_settings
from experiments.harness.room import check_room
from experiments.harness.settings import by_name, flag, given
from experiments.harness.stored import from_stored, stored


class DataCache:
    """Loads each source's data (each data folder) once, by its class's load (experiments/data/__init__.py::SOURCES):
    compare trains several runs on the same data. The default source (--data mnist) reads the embedded MNIST or
    --data-dir's files."""

    def __init__(self):
        self.loaded = {}

    def get(self, data_dir, source=DEFAULT_SOURCE):
        if (source, data_dir) not in self.loaded:
            with stage(f"loading the data ({data_dir or describe_data(source)})", "nothing was written"):
                self.loaded[source, data_dir] = load(SOURCES[source]).load(data_dir)
        return self.loaded[source, data_dir]


def saved_run(folder):
    """(meta, arrays) of the checkpoint in a locked folder, or None where there is none."""
    return read_checkpoint(folder.checkpoint) if folder.checkpoint.exists() else None


def saved_run_readable(folder):
    """Whether --resume could continue the run in folder: its checkpoint is there and can be read."""
    try:
        return saved_run(folder) is not None
    except Fault:
        return False


def resume_plan(folder, algorithm, explicit, data_cache):
    """(settings, data, (meta, arrays)) to continue the run in folder: its own settings, with --epochs the only
    flag that may change them; the data must be the data it was trained on."""
    meta, arrays = read_checkpoint(folder.checkpoint)
    saved = meta["settings"]
    if saved["algorithm"] != algorithm:
        raise Fault(f"{folder.checkpoint}: holds {describe_progress(meta)}; resume it with "
                    f"python run.py {saved['algorithm']} --resume --out {folder.path}")
    data = data_cache.get(saved["data_dir"], saved["data"])
    if data.fingerprint != saved["data_fingerprint"]:
        raise Fault(f"{saved['data_dir'] or describe_data(saved['data'])}: not the data this run was trained on "
                    f"(fingerprint {data.fingerprint}, the run's {saved['data_fingerprint']})")
    given = effective_sizes({**saved, **explicit}, data)
    settings = from_stored(resumed_settings(saved, {key: given[key] for key in explicit}, folder.checkpoint))
    unchanged_and_finished = finished(meta) and settings.epochs == meta["epoch"]
    if settings.epochs <= meta["epoch"] and not unchanged_and_finished:
        raise Fault(f"--epochs {settings.epochs}: the run in {folder.path} has already trained {meta['epoch']} "
                    f"epoch{'s' if meta['epoch'] != 1 else ''}; give more to extend it")
    check_room(settings, folder, explicit)
    return settings, data, (meta, arrays)


def plan(folder, algorithm, explicit, quick, resume, force, data_cache, configured=None, log=print):
    """(settings, data, resume_from) for one run into a locked folder, or a Fault that says why not.

    A folder holding a run is never overwritten unasked: --resume continues it, --force starts over (its files
    are removed only when training starts, after every check has passed). configured: a configuration file's
    values, under the flags given (explicit).
    """
    if resume:
        return resume_plan(folder, algorithm, {**(configured or {}), **explicit}, data_cache)
    held = folder.holds()
    if held and not force:
        ways = "continue it with --resume, or start over" if saved_run_readable(folder) else "start over"
        raise Fault(f"{folder.path}: holds {held}; {ways} with --force (which replaces its outputs once the new run "
                    "has written its own)")
    settings = new_settings(algorithm, explicit, quick, configured)
    data = data_cache.get(settings.data_dir, settings.data)
    settings = make_effective(settings, data)
    check_room(settings, folder, explicit)
    for note in clamped(explicit, settings):
        log(f"run.py: note: {note}")
    return settings, data, None


def reusable_history(folder, settings):
    """For compare: the finished run in folder if it trained with these settings (those that change only what a run
    writes, such as --diagnostics, may differ), else None."""
    run = saved_run(folder)
    if run is None or not finished(run[0]):
        return None
    output_only = {name for name, item in by_name(settings.algorithm).items() if item.output_only}
    trained = lambda values: {key: value for key, value in values.items() if key not in output_only}
    return run if trained(run[0]["settings"]) == trained(stored(settings)) else None


def exact_plan(folder, data_cache):
    """(settings, data, (meta, arrays)) of the finished 2-D run in folder, for python run.py exact."""
    if not folder.checkpoint.exists():
        raise Fault(f"{folder.checkpoint}: no checkpoint; run.py exact evaluates a finished run's folder")
    meta, _ = read_checkpoint(folder.checkpoint)
    if not finished(meta):
        raise Fault(f"{folder.path}: holds {describe_progress(meta)}; finish it with --resume first")
    settings = from_stored(meta["settings"])
    why_not = settings.latent_kind.why_not_exact(settings)
    if why_not:
        raise Fault(f"{folder.path}: {why_not}")
    return resume_plan(folder, settings.algorithm, {}, data_cache)


def effective_sizes(values, data):
    """A stored dict of settings with its sizes clipped to the data, the data's image shape and fingerprint recorded
    (in place; returns values)."""
    n_train, n_test = data.train_images.shape[0], data.test_images.shape[0]
    if data.epoch_size:             # every epoch drawn afresh: as many as asked, by default the source's epoch
        values["train_size"] = values["train_size"] or data.epoch_size
    else:
        values["train_size"] = min(values["train_size"] or n_train, n_train)
    values["test_size"] = min(values["test_size"] or n_test, n_test)
    values["eval_train_size"] = min(values["eval_train_size"], values["train_size"], n_train)    # n_train: a pool's
    values["image_shape"] = list(data.image_shape)
    values["data_fingerprint"] = data.fingerprint
    return values


def make_effective(settings, data):
    """The Settings with its sizes clipped to the data and the data's image shape and fingerprint recorded."""
    return from_stored(effective_sizes(stored(settings), data))


def clamped(explicit, settings):
    """Notes on the flags given whose values the data cut down (make_effective), and a minibatch larger than the
    training set: said, not silently applied."""
    effective = stored(settings)
    notes = [f"{flag(key)} {explicit[key]}: the data hold {effective[key]} {what}; using {effective[key]}"
             for key, what in (("train_size", "training images"), ("test_size", "test images"),
                               ("eval_train_size", "training images for the train bound"))
             if key in explicit and explicit[key] != effective[key]]
    if settings.batch_size > settings.train_size:
        notes.append(f"--batch-size {settings.batch_size}: more than the {settings.train_size} training images; "
                     "each epoch is one step on all of them")
    return notes


def resumed_settings(saved, explicit, where):
    """The checkpoint's settings, changed only where a flag given beside --resume may change them (Setting.resumable:
    --epochs, to extend the run, and --no-exact).

    saved: the checkpoint's settings; explicit: the flags given beside --resume, already effective.
    Every other flag that disagrees is refused, naming it.
    """
    offered = by_name(saved["algorithm"])
    may_change = {key for key in explicit if key in offered and offered[key].resumable}
    differing = [key for key, value in explicit.items()
                 if key not in may_change and key in saved and saved[key] != value]
    if differing:
        described = "; ".join(f"{given(key, explicit[key])} but the run has {given(key, saved[key])}"
                              for key in differing)
        raise Fault(f"{where}: --resume continues a run with its own settings: {described}. Leave the flag out, "
                    "or start a new run in another --out")
    return {**saved, **{key: explicit[key] for key in may_change}}


def describe_data(source):
    """The data of a source, as a refusal names it: 'the embedded MNIST', '--data bars'."""
    return "the embedded MNIST" if source == DEFAULT_SOURCE else f"--data {source}"

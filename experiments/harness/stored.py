"""A run's settings as a checkpoint, metrics.json and report.md keep them: one flat dict of JSON values (stored), and
the Settings read back from one (from_stored), each value checked as its flag would be."""
import dataclasses
from dataclasses import fields

from algorithms import trainer_for
from experiments.errors import Fault
from experiments.harness.parse import BadValue
from experiments.harness.settings import MISSING, RUN_SETTINGS, Settings, options_of

# Before round 4 the evaluation's k was stored as "k" and the training objective's as "train_k".
RENAMED = {"k": "eval_k", "train_k": "k"}


def stored(settings):
    """The settings as a checkpoint, metrics.json and report.md keep them: one flat dict of JSON values."""
    values = {item.name: getattr(settings, item.name) for item in fields(settings) if item.name != "trainer"}
    values = {**values, **dataclasses.asdict(settings.trainer)}
    return {key: list(value) if isinstance(value, tuple) else value for key, value in values.items()}


def from_stored(values):
    """The Settings of a stored flat dict (stored() above, or a checkpoint of an earlier version: renamed keys, and
    the settings and options it predates at the value it was made with). Raises Fault naming what does not fit."""
    values = dict(values)
    if "eval_k" not in values:
        values = {RENAMED.get(key, key): value for key, value in values.items()}
    for item in RUN_SETTINGS:
        if item.before is not MISSING and item.name not in values:
            values[item.name] = item.before
    if not all(isinstance(values.get(key), str) for key in ("algorithm", "latent")):
        raise Fault(f"the stored settings' algorithm and latent are not names: {values.get('algorithm')!r}, "
                    f"{values.get('latent')!r}")
    trainer_class = trainer_for(values["algorithm"], values["latent"])
    if trainer_class is None:
        raise Fault(f"no algorithm {values.get('algorithm')!r} trains {values.get('latent')!r} latents")
    for item in options_of(trainer_class):     # an option added since, at the value earlier runs trained with
        if item.before is not MISSING and item.name not in values:
            values[item.name] = item.before
    own = {item.name for item in fields(trainer_class.Options)}
    run = {item.name for item in fields(Settings)} - {"trainer"}
    missing = sorted((own | run) - set(values))
    if missing:
        raise Fault(f"the stored settings lack {', '.join(missing)}")
    offered = {item.name: item for item in RUN_SETTINGS + options_of(trainer_class)}
    for key, value in values.items():         # each value as its flag would take it, or refused naming it
        item = offered.get(key)
        if item is None or (value is None and item.default is None) or key == "data_dir":
            continue
        try:
            values[key] = item.parse(value)
        except BadValue as bad:
            raise Fault(f"the stored settings' {key} {bad}") from None
    shape = values["image_shape"]
    if not (isinstance(shape, list) and shape and all(type(size) is int and size > 0 for size in shape)):
        raise Fault(f"the stored settings' image_shape is not a list of sizes: {shape!r}")
    if not isinstance(values["data_fingerprint"], str) or not isinstance(values["data_dir"], (str, type(None))):
        raise Fault("the stored settings' data_fingerprint or data_dir is not text")
    options = trainer_class.Options(**{key: value for key, value in values.items() if key in own})
    return Settings(trainer=options, **{key: frozen(value) for key, value in values.items() if key in run})


def frozen(value):
    """A list (of layer sizes, the image's shape) as the tuple a Settings holds."""
    return tuple(value) if isinstance(value, list) else value

"""A new run's settings: the defaults, then its kind of latent's, then a configuration file's values, then the --quick
preset, then the flags given; every setting given that the run does not use, and the combinations that make no sense,
refused in one line."""
import dataclasses

from algorithms import LIKELIHOODS, commands, load, trainer_for
from experiments.data import source_of
from experiments.errors import Fault
from experiments.harness.latents import LATENTS
from experiments.harness.parse import BadValue
from experiments.harness.settings import MISSING, RUN_SETTINGS, Settings, describe, options_of
from experiments.harness.stored import frozen


def new_settings(command, explicit, quick, configured=None):
    """The Settings of a new run of command. explicit: the flags given {name: value}; configured: a configuration
    file's values, under the flags."""
    given = {**(configured or {}), **explicit}
    latent = given.get("latent", commands()[command][0].latent)
    trainer_class = trainer_for(command, latent)
    if trainer_class is None:
        other = commands()[command][0]
        usable = ", ".join(name for name, trainers in commands().items()
                           if any(trainer.latent == latent for trainer in trainers))
        raise Fault(f"--latent {latent}: {other.name} trains {other.latent} latents only; {latent} latents train "
                    f"with {usable}")
    kind, options = LATENTS[latent], options_of(trainer_class)
    own = {item.name for item in options}
    values = {"algorithm": command, **{item.name: item.default for item in RUN_SETTINGS + options}}
    values.update(latent=latent, **kind.defaults)
    for source in (configured or {}), quick_preset(options) if quick else {}, explicit:
        values.update(source)
    refuse_what_is_not_used(given, values, latent, own, trainer_class)
    kind.check(values, given)
    check_together(values)
    why_not = source_of(values).why_not(values)      # a data source's own (experiments/data/synthetic.py's)
    if why_not:
        raise Fault(f"--data {values['data']}: {why_not}")
    why_not = trainer_class.why_not(values)
    if why_not:
        raise Fault(f"{trainer_class.name}: {why_not}")
    trainer = trainer_class.Options(**{name: values.pop(name) for name in own})
    return Settings(trainer=trainer, **{key: frozen(value) for key, value in values.items()})


def quick_preset(options):
    return {item.name: item.quick for item in RUN_SETTINGS + options if item.quick is not MISSING}


def refuse_what_is_not_used(given, values, latent, own, trainer_class):
    """A setting given (by a flag or the file) that this run does not use is refused, naming it: a run's setting for
    another kind of latent (said why), or another algorithm's option."""
    for item in RUN_SETTINGS:
        if item.name in given and item.latents and latent not in item.latents and given[item.name] != item.default:
            raise Fault(f"{item.option} {describe(given[item.name])}: {item.why}")
    run = {item.name for item in RUN_SETTINGS}
    for name in sorted(given.keys() - run - own):
        raise Fault(f"--{name.replace('_', '-')} {describe(given[name])}: not a setting of {trainer_class.name} with "
                    f"{latent} latents")


def check_together(values):
    """Settings that are each fine but make no sense together, refused in one line (a kind of latent's own: its
    check in latents.py)."""
    if values["dequantize"] and not load(LIKELIHOODS[values["likelihood"]]).density:
        densities = ", ".join(name for name, path in LIKELIHOODS.items() if load(path).density)
        raise Fault(f"--dequantize makes the data continuous, for a density: give --likelihood {densities}")
    if values["dequantize"] and values["binarize"] != "none":
        raise Fault("--dequantize and --binarize: give one of them (binary images need no dequantization)")
    if (values["lr_schedule"] == "drop") != (values["lr_drop_epoch"] is not None):
        raise Fault("--lr-schedule drop and --lr-drop-epoch E go together: the rates fall tenfold after epoch E")


def with_changes(settings, changes):
    """settings with some values changed ({name: value}, each parsed as its flag's would be), the algorithm's options
    among them; a name that is not a setting of this run, or a value it does not take, is refused in one line."""
    offered = {item.name: item for item in RUN_SETTINGS + options_of(settings.trainer_class)}
    changes = dict(changes)
    for key, value in changes.items():
        if key not in offered:
            raise Fault(f"{key}: not a setting of {settings.trainer_class.name} with {settings.latent} latents")
        try:
            changes[key] = frozen(offered[key].parse(value))
        except BadValue as bad:
            raise Fault(f"{key} {bad}") from None
    own = {field.name for field in dataclasses.fields(settings.trainer)}
    trainer = dataclasses.replace(settings.trainer, **{k: v for k, v in changes.items() if k in own})
    return dataclasses.replace(settings, trainer=trainer, **{k: v for k, v in changes.items() if k not in own})

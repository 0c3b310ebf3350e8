"""What changes when a run's latents are binary (derivations/binary.md): the defaults that suit a sigmoid belief
network, and the settings that make no sense with it, refused in one line (settings.py::new_settings calls both)."""
from algorithms import ALGORITHMS
from experiments.errors import Fault
from experiments.harness.settings import describe, settings_of

# a linear SBN of one layer of 200 units (the NVIL and RWS papers' SBN 200), and the classic wake-sleep's sleep
# phase at the wake phase's rate: the write-up's 1e-5 was for a Gaussian q that diverges faster (Eq. (W5))
DEFAULTS = {"latent": "binary", "layers": [200], "hidden": [], "activation": "tanh", "sleep_lr": 1e-3}


def binary_defaults(algorithm, explicit, configured):
    """The defaults of a binary run of algorithm (those of the settings it has), under a file's values and the flags."""
    if explicit.get("latent", configured.get("latent")) == "gaussian" and not ALGORITHMS[algorithm].trainer:
        raise Fault(f"--latent gaussian: {ALGORITHMS[algorithm].name} trains binary latents only (derivations/"
                    "binary.md); Gaussian latents train with aevb, wake-sleep, iwae or rws")
    names = {setting.name for setting in settings_of(algorithm)}
    return {key: value for key, value in DEFAULTS.items() if key in names}


def check_binary(settings, given):
    """A binary run's settings that make no sense together, refused in one line; given: the settings a file or a
    flag gave. The latent dimension is recorded as the first layer's size (what figures and unit activities show)."""
    if not settings["layers"]:
        raise Fault("--layers: a binary machine needs at least one stochastic layer")
    if "latent_dim" in given and given["latent_dim"] != settings["layers"][0]:
        raise Fault(f"--latent-dim {settings['latent_dim']}: a Gaussian latent's size; binary layers' sizes are "
                    f"--layers (here {describe(settings['layers'])})")
    settings["latent_dim"] = settings["layers"][0]
    if settings["algorithm"] == "vimco" and settings["train_k"] < 2:
        raise Fault(f"--k {settings['train_k']}: VIMCO's baseline for each sample is the bound of the other k - 1, "
                    "so it needs k >= 2")
    if settings.get("dreams") == "means":
        raise Fault("--dreams means: a binary machine dreams binary samples; its q reads 0s and 1s")
    if settings["likelihood"] != "bernoulli" or settings["dequantize"]:
        raise Fault(f"--likelihood {settings['likelihood']}: binary latents are built with the Bernoulli likelihood "
                    "(derivations/binary.md)")
    if settings["diagnostics"]:
        raise Fault("--diagnostics: they describe a Gaussian q (its means and variances); a binary q has neither")
    for name in ("log_var_floor", "log_var_ceiling", "mean_bound"):
        if settings[name] is not None:
            raise Fault(f"--{name.replace('_', '-')}: it bounds a Gaussian q; a binary q has no mean or variance")

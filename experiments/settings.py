"""A run's settings: the defaults, the --quick preset, which settings each algorithm uses, and the rules for
--resume (the checkpoint's settings hold; a flag given beside --resume must agree with them, but for --epochs).

A run's settings are a flat dict of JSON values. They are what report.md lists and what a checkpoint stores,
and they are effective values: --train-size 1000000 on MNIST is stored as 60000.
"""
from experiments.errors import Fault

# every training run, whatever its algorithm
SHARED = {"epochs": 100, "batch_size": 100, "latent_dim": 2, "hidden": [500, 500], "activation": "softplus",
          "likelihood": "bernoulli", "binarize": "none", "dequantize": False, "output_bias": "zero",
          "log_var_floor": None, "log_var_ceiling": None, "mean_bound": None, "lr_schedule": "constant",
          "lr_decay_epochs": 25.0, "lr_drop_epoch": None, "k": 100, "nll_k": 5000, "eval_every": 10,
          "eval_train_size": 10000, "train_size": None, "test_size": None, "seed": 0, "data_dir": None}
# the settings that take one of a few words
CHOICES = {"activation": ("softplus", "tanh", "relu"), "likelihood": ("bernoulli", "continuous-bernoulli"),
           "binarize": ("none", "dynamic", "fixed"), "output_bias": ("zero", "pixel-means"),
           "lr_schedule": ("constant", "decay", "drop", "iwae"), "dreams": ("samples", "means")}
# each algorithm's own
OWN = {"aevb": {"lr": 1e-3},
       "wake-sleep": {"wake_lr": 1e-3, "sleep_lr": 1e-5, "sleep_samples": 100, "dreams": "samples"},
       "iwae": {"lr": 1e-3, "train_k": 5, "dreg": False},
       "rws": {"lr": 1e-3, "phi_lr": 1e-3, "train_k": 5, "sleep_phi": False, "sleep_samples": 100,
               "dreams": "samples"}}
# settings added after runs were kept: a checkpoint without one was made with today's default
ADDED_LATER = {key: SHARED[key] for key in ("activation", "likelihood", "binarize", "dequantize", "output_bias",
                                            "log_var_floor", "log_var_ceiling", "mean_bound", "nll_k", "lr_schedule",
                                            "lr_decay_epochs", "lr_drop_epoch")}
OWN_ADDED_LATER = {algorithm: {"dreams": OWN[algorithm]["dreams"]} for algorithm in ("wake-sleep", "rws")}
QUICK = {"epochs": 3, "train_size": 10000, "test_size": 1000, "eval_train_size": 1000, "eval_every": 1}
# the learning-rate settings named when a run diverges
LEARNING_RATES = {"aevb": ("lr",), "wake-sleep": ("wake_lr", "sleep_lr"), "iwae": ("lr",), "rws": ("lr", "phi_lr")}
ALGORITHMS = tuple(OWN)
WRITE_UP = ("aevb", "wake-sleep")             # what compare compares when no algorithm is named
NAMES = {"aevb": "AEVB", "wake-sleep": "Wake-Sleep", "iwae": "IWAE", "rws": "RWS"}
# settings whose flag is not the key with dashes: the bound's k is --eval-k, IWAE's training samples --k
FLAGS = {"k": "--eval-k", "train_k": "--k"}


def flag(key):
    """The command-line flag of a setting: 'eval_train_size' -> '--eval-train-size', 'k' -> '--eval-k'."""
    return FLAGS.get(key, "--" + key.replace("_", "-"))


def new_settings(algorithm, explicit, quick):
    """The settings of a new run: defaults, then the --quick preset, then the flags given (explicit)."""
    settings = {"algorithm": algorithm, **SHARED, **OWN[algorithm]}
    if quick:
        settings.update(QUICK)
    settings.update({key: value for key, value in explicit.items() if key in settings})
    return settings


def make_effective(settings, data):
    """Sizes clipped to the data, the data's dimension and fingerprint recorded (in place; returns settings)."""
    n_train, n_test = data.train_images.shape[0], data.test_images.shape[0]
    settings["train_size"] = min(settings["train_size"] or n_train, n_train)
    settings["test_size"] = min(settings["test_size"] or n_test, n_test)
    settings["eval_train_size"] = min(settings["eval_train_size"], settings["train_size"])
    settings["image_shape"] = list(data.image_shape)
    settings["data_fingerprint"] = data.fingerprint
    return settings


def resumed_settings(saved, explicit, where):
    """The checkpoint's settings, with --epochs (to extend the run) the only flag that may change them.

    saved: the checkpoint's settings; explicit: the flags given beside --resume, already effective.
    Every other flag that disagrees is refused, naming it.
    """
    differing = [key for key, value in explicit.items() if key != "epochs" and key in saved and saved[key] != value]
    if differing:
        described = "; ".join(f"{flag(key)} {describe(explicit[key])} but the run has {describe(saved[key])}"
                              for key in differing)
        raise Fault(f"{where}: --resume continues a run with its own settings: {described}. Leave the flag out, "
                    "or start a new run in another --out")
    settings = dict(saved)
    if "epochs" in explicit:
        settings["epochs"] = explicit["epochs"]
    return settings


def describe(value):
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)

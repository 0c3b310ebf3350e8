"""A run's settings: one frozen Settings object whose fields are attributes (settings.epochs), with the algorithm's
own options in settings.trainer (settings.trainer.lr; declared in the algorithm's file, algorithms/options.py).

Each field of Settings below is a setting, made by setting(): its default, the values it takes (parse.py), its help,
and where it belongs (--help's first group, the latents it applies to, --quick's value, the value a run made before
it existed had, whether --resume may change it). run.py makes its flags from these fields and the algorithms' options,
a configuration file (configs/*.toml) is read against them (configs.py), and a checkpoint stores them as a flat dict
(stored.py). --resume takes them from the checkpoint; of the flags given beside it only --epochs (to
extend the run) and --no-exact may differ.
"""
from dataclasses import dataclass, field, fields

from algorithms import LIKELIHOODS, commands, load, trainer_for
from experiments.data import SOURCES
from experiments.harness.latents import LATENTS
from experiments.harness.parse import (OneOf, folder, for_option, log_variance, mean_bound, names, positive_number,
                                       sizes, switch, whole_number, words)
from experiments.harness.schedules import SCHEDULES

MISSING = object()         # a Setting without a --quick value, or without a value from before it existed
GAUSSIAN_Q = "it bounds a Gaussian q; a binary q has no mean or variance"


def setting(default, parse, help, *, homework=False, quick=MISSING, before=MISSING, resumable=False,
            output_only=False, latents=None, why=None):
    """A field of Settings. latents: the kinds of latent it applies to (None: every kind), why: what a flag given for
    another kind is told; before: its value in a run made before it existed; output_only: changes what a run writes,
    not what it trains (compare reuses runs across it)."""
    return field(default=tuple(default) if isinstance(default, list) else default, metadata={
        "parse": parse, "help": help, "homework": homework, "quick": quick, "before": before, "resumable": resumable,
        "output_only": output_only, "latents": latents, "why": why, "learning_rate": False})


@dataclass(frozen=True)
class Settings:
    algorithm: str                      # the command: aevb, wake-sleep, ...
    trainer: object                     # the algorithm's own options (its Options dataclass)
    latent: str = setting("gaussian", words("gaussian", "binary"),
                          "gaussian: z ~ N(0, I), the write-up's; binary: layers of binary units, the original "
                          "Helmholtz machine (--layers; derivations/binary.md)", before="gaussian")
    epochs: int = setting(100, whole_number(1), "passes over the training set", homework=True, quick=3, resumable=True)
    batch_size: int = setting(100, whole_number(1), "minibatch size", homework=True)
    latent_dim: int = setting(2, whole_number(1), "dimension J of z", homework=True, latents=("gaussian",),
                              why="a Gaussian latent's size; binary layers' sizes are --layers")
    hidden: tuple = setting([500, 500], sizes, "hidden layer sizes of the recognition net; the generative net mirrors "
                           "them", homework=True)
    seed: int = setting(0, whole_number(0), "seeds initialization, minibatches, noise and evaluation", homework=True)
    layers: tuple = setting(None, sizes, "with --latent binary: the stochastic layers' sizes, bottom up (default 200); "
                           "--hidden then gives the deterministic layers between two of them (default none: a linear "
                           "SBN)", before=None, latents=("binary",), why="the sizes of binary layers; give --latent "
                           "binary")
    activation: str = setting("softplus", words("softplus", "tanh", "relu"), "the hidden layers' nonlinearity",
                              before="softplus")
    likelihood: str = setting("bernoulli", OneOf(LIKELIHOODS),
                              "p(x | z): the write-up's Bernoulli, or the continuous Bernoulli, a density on [0, 1] "
                              "(derivations/likelihoods.md)", before="bernoulli", latents=("gaussian",),
                              why="binary latents are built with the Bernoulli likelihood (derivations/binary.md)")
    binarize: str = setting("none", words("none", "dynamic", "fixed"),
                            "none: grey levels (the write-up's); dynamic: each training image resampled as x ~ "
                            "Bernoulli(pixel) every time it is used; fixed: binarized once; the test set is binarized "
                            "once, the same for every run", before="none")
    dequantize: bool = setting(False, switch,
                               "with the continuous Bernoulli: each pixel's byte k read as y = (k + u) / 256, u ~ "
                               "U(0, 1) drawn anew every time a training image is used, the test set dequantized once "
                               "(derivations/likelihoods.md)", before=False)
    output_bias: str = setting("zero", words("zero", "pixel-means"),
                               "the decoder's output bias at the start: zero, or the logits whose means are the "
                               "training images' pixel means (the IWAE paper's initialization)", before="zero")
    log_var_floor: float = setting(None, log_variance,
                                   "bound q's log-variances below, smoothly: v = floor + softplus(u - floor) "
                                   "(derivations/iwae.md, RWS's divergence)", before=None, latents=("gaussian",),
                                   why=GAUSSIAN_Q)
    log_var_ceiling: float = setting(None, log_variance,
                                     "bound q's log-variances above, smoothly: v = ceiling - softplus(ceiling - u) "
                                     "(derivations/wake-sleep-diagnosis.md)", before=None, latents=("gaussian",),
                                     why=GAUSSIAN_Q)
    mean_bound: float = setting(None, mean_bound, "bound q's means, smoothly: mu = c tanh(u / c) "
                                "(derivations/wake-sleep-diagnosis.md)", before=None, latents=("gaussian",),
                                why=GAUSSIAN_Q)
    lr_schedule: str = setting("constant", OneOf(SCHEDULES),
                               "constant; decay: every learning rate times 10^(-(epoch - 1) / T), T = "
                               "--lr-decay-epochs (derivations/wake-sleep-diagnosis.md); drop: every learning rate a "
                               "tenth after epoch --lr-drop-epoch (derivations/likelihoods.md); or the IWAE paper's: "
                               "every learning rate times 10^(-i/7) in the i-th stage of 3^i epochs, i = 0, 1, ... "
                               "(epoch 1; 2-4; 5-13; 14-40; 41-121; ...)", before="constant")
    lr_decay_epochs: float = setting(25.0, positive_number, "with --lr-schedule decay, the epochs over which every "
                                     "learning rate falls tenfold", before=25.0)
    lr_drop_epoch: int = setting(None, whole_number(1), "with --lr-schedule drop, the last epoch at the initial "
                                 "learning rates", before=None)
    diagnostics: bool = setting(False, switch, "record what the recognition network does after every epoch, on test "
                                "images and on dreams (diagnostics.png; derivations/wake-sleep-diagnosis.md)",
                                before=True, output_only=True, latents=("gaussian",),
                                why="they describe a Gaussian q (its means and variances); a binary q has neither")
    extensions: tuple = setting([], names, "extensions to run beside those the other settings ask for, by name "
                                "(experiments/outputs/__init__.py::EXTENSIONS lists them)", before=[], output_only=True)
    eval_k: int = setting(100, whole_number(1), "importance samples of the bound L_k that evaluates every run")
    exact: bool = setting(True, switch, "the exact log p(x) that a 2-D run (by quadrature) or a run of one binary "
                          "layer of at most 20 units (by enumeration) adds to its final evaluation (--no-exact skips "
                          "it; python run.py exact --out DIR adds it to a finished run)", before=True, resumable=True,
                          output_only=True)
    nll_k: int = setting(5000, whole_number(1), "a binarized run ends with the test negative log-likelihood estimate "
                         "-L_k with this k", before=5000)
    eval_every: int = setting(10, whole_number(1), "evaluate L_k every this many epochs, and after the last", quick=1)
    eval_train_size: int = setting(10000, whole_number(1), "training images for the train bound, fixed by the seed",
                                   quick=1000)
    train_size: int = setting(None, whole_number(1), "train on the first N training images (a source drawn afresh, "
                              "--data bars: the images each epoch draws, default 10000)", quick=10000)
    test_size: int = setting(None, whole_number(1), "evaluate on the first N test images", quick=1000)
    data: str = setting("mnist", OneOf(SOURCES), "where the images come from: mnist, or a distribution known in "
                        "closed form whose images each epoch draws afresh, measured exactly in bits: bars, shifter "
                        "(derivations/1995.md; experiments/data/__init__.py::SOURCES lists them)", before="mnist")
    data_dir: str = setting(None, folder, "a folder with the four MNIST-format IDX files, .gz or raw, any image size "
                            "(default: the embedded MNIST, checked against its MD5 sums)")
    image_shape: tuple = None           # the data's, once the run has its data (make_effective)
    data_fingerprint: str = None

    @property
    def trainer_class(self):
        """The class that trains this run: the algorithm's trainer for its kind of latent (algorithms/__init__.py)."""
        return trainer_for(self.algorithm, self.latent)

    @property
    def likelihood_class(self):
        """The class of p(x | z) (algorithms/__init__.py::LIKELIHOODS), for what it declares (nn/densities.py)."""
        return load(LIKELIHOODS[self.likelihood])

    @property
    def latent_kind(self):
        """What differs with the kind of latent (latents.py): the one place a run's kind is looked up."""
        return LATENTS[self.latent]


@dataclass(frozen=True)
class Setting:
    """One setting as the command line, configuration files and reports see it, a run's or an algorithm's alike."""
    name: str
    default: object
    parse: object
    help: str
    homework: bool = False
    quick: object = MISSING
    before: object = MISSING
    resumable: bool = False
    output_only: bool = False
    learning_rate: bool = False
    latents: tuple = None
    why: str = None

    @property
    def option(self):
        """Its flag: 'eval_train_size' -> '--eval-train-size'; its key in a configuration file is its name."""
        return "--" + self.name.replace("_", "-")

    @property
    def many(self):
        """Whether it takes a list (of layer sizes, of extensions' names)."""
        return getattr(self.parse, "many", False)

    @classmethod
    def of(cls, item):
        """The Setting of a field of Settings or of an algorithm's options."""
        meta = item.metadata
        parse = meta.get("parse") or for_option(item.default, meta)
        return cls(item.name, item.default, parse, meta["help"], meta["homework"], meta.get("quick", MISSING),
                   meta.get("before", MISSING), meta["resumable"], meta.get("output_only", False),
                   meta["learning_rate"], meta.get("latents"), meta.get("why"))


RUN_SETTINGS = [Setting.of(item) for item in fields(Settings) if item.metadata]


def options_of(trainer_class):
    """The settings an algorithm's trainer declares (its Options)."""
    return [Setting.of(item) for item in fields(trainer_class.Options)]


def settings_of(command):
    """Every setting a command offers: the run's that apply to a kind of latent it trains, then its trainers' options
    (once each, by name; the first trainer's help)."""
    trainers = commands()[command]
    latents = {trainer.latent for trainer in trainers}
    offered = [item for item in RUN_SETTINGS if (item.latents is None or latents & set(item.latents))
               and (item.name != "latent" or len(latents) > 1)]      # --latent where there is a choice
    for trainer in trainers:
        offered += [item for item in options_of(trainer) if item.name not in {s.name for s in offered}]
    return offered


def by_name(command):
    return {item.name: item for item in settings_of(command)}


def flag(name):
    """The command-line flag of a setting: 'eval_train_size' -> '--eval-train-size'."""
    return "--" + name.replace("_", "-")


def given(key, value):
    """A setting's value as its flag says it: '--hidden 32 16', '--dreg', 'no --dreg', '--log-var-floor none'."""
    if isinstance(value, bool):
        return flag(key) if value else f"no {flag(key)}"
    return f"{flag(key)} {describe(value)}"


def describe(value):
    if value is None:
        return "none"
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)

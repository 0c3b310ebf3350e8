"""A run's settings, each defined once (SETTINGS): name, default, the values it takes, help, which algorithms use it,
its place in --help, and what a run made before it existed had. run.py makes its flags from this table, and a
configuration file (configs/*.toml) is read against it (configs.py).

A run's settings are a flat dict of JSON values: what report.md lists and a checkpoint stores, and effective values
(--train-size 1000000 on MNIST is stored as 60000). --resume takes them from the checkpoint; of the flags given beside
it only --epochs (to extend the run) and --no-exact may differ.
"""
import math
from dataclasses import dataclass
from pathlib import Path

from algorithms import ALGORITHMS, LIKELIHOODS
from experiments.errors import Fault
from experiments.harness.schedules import SCHEDULES

EVERY = tuple(ALGORITHMS)
MISSING = object()


class BadValue(ValueError):
    """A value a setting does not take; the message says what it takes ("takes a whole number, got -1")."""


def whole_number(minimum):
    def parse(value):
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise BadValue(f"takes a whole number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadValue(f"takes a whole number, got {value!r}")
        if value < minimum:
            raise BadValue(f"takes a whole number of at least {minimum}, got {value}")
        return value
    return parse


def number(allowed, words):
    def parse(value):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise BadValue(f"takes a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadValue(f"takes a number, got {value!r}")
        if not (math.isfinite(value) and allowed(value)):
            raise BadValue(f"takes {words}, got {value}")
        return float(value)
    return parse


positive_number = number(lambda value: value > 0, "a finite number above 0")
# e^v of a log-variance v overflows float32 beyond |v| = 88: a bound on q's log-variances stays well inside
log_variance = number(lambda value: abs(value) <= 80, "a number from -80 to 80 (e^v leaves float32 beyond |v| = 88)")
mean_bound = number(lambda value: 1e-6 <= value <= 1e6, "a number from 1e-6 to 1e6")


def switch(value):
    if not isinstance(value, bool):
        raise BadValue(f"takes true or false, got {value!r}")
    return value


def words(*choices):
    def parse(value):
        if value not in choices:
            raise BadValue(f"takes one of {', '.join(choices)}, got {value!r}")
        return value
    parse.choices, parse.takes_text = choices, True
    return parse


def sizes(value):
    """Layer sizes: whole numbers of at least 1 (a list from a file, [] for none; one word at a time from the flag)."""
    if isinstance(value, str):
        return whole_number(1)(value)
    if not isinstance(value, list):
        raise BadValue(f"takes a list of whole numbers, got {value!r}")
    return [whole_number(1)(item) for item in value]


def folder(value):
    if not isinstance(value, str):
        raise BadValue(f"takes a folder's path, got {value!r}")
    try:
        return str(Path(value).resolve())
    except (OSError, RuntimeError) as error:        # RuntimeError: a symlink loop
        raise BadValue(f"cannot be resolved to a folder ({error})") from None


folder.takes_text = True


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    parse: object                   # a flag's text or a file's value -> the value, or BadValue
    help: str
    homework: bool = False          # in --help's first group: what the homework itself sets
    algorithms: tuple = EVERY       # the algorithms that use it; no other is offered it
    trainer: str = None             # the keyword under which the algorithm's trainer takes it
    learning_rate: bool = False     # named when a run diverges
    quick: object = MISSING         # its value under --quick
    before: object = MISSING        # its value in a run made before it existed (a checkpoint without it)
    flag: str = None                # when not --name-with-dashes
    resumable: bool = False         # --resume may change it (the rest are the run's own)
    output_only: bool = False       # changes what a run writes, not what it trains (compare reuses across it)

    @property
    def option(self):
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def many(self):
        """Whether it takes a list (of layer sizes)."""
        return self.parse is sizes

    @property
    def key(self):
        """Its key in a configuration file: the flag with underscores (eval_k for --eval-k, k for --k)."""
        return self.option[2:].replace("-", "_")


LR = ("aevb", "iwae", "rws", "nvil", "vimco")
BINARY = ("wake-sleep", "rws", "nvil", "vimco")     # the algorithms that train binary latents (derivations/binary.md)
SETTINGS = (
    Setting("epochs", 100, whole_number(1), "passes over the training set", homework=True, quick=3, resumable=True),
    Setting("batch_size", 100, whole_number(1), "minibatch size", homework=True),
    Setting("latent_dim", 2, whole_number(1), "dimension J of z", homework=True),
    Setting("hidden", [500, 500], sizes, "hidden layer sizes of the recognition net; the generative net mirrors them",
            homework=True),
    Setting("lr", 1e-3, positive_number, "Adam's learning rate (RWS: the generative network's)", homework=True,
            algorithms=LR, trainer="lr", learning_rate=True),
    Setting("wake_lr", 1e-3, positive_number, "wake phase Adam learning rate", homework=True,
            algorithms=("wake-sleep",), trainer="wake_lr", learning_rate=True),
    Setting("sleep_lr", 1e-5, positive_number, "sleep phase Adam learning rate", homework=True,
            algorithms=("wake-sleep",), trainer="sleep_lr", learning_rate=True),
    Setting("seed", 0, whole_number(0), "seeds initialization, minibatches, noise and evaluation", homework=True),
    Setting("phi_lr", 1e-3, positive_number, "RWS: Adam's learning rate of the recognition network",
            algorithms=("rws",), trainer="phi_lr", learning_rate=True),
    Setting("train_k", 5, whole_number(1), "importance samples per image of the training objective L_k",
            algorithms=("iwae", "rws", "vimco"), trainer="k", flag="--k"),
    Setting("dreg", False, switch, "the doubly reparameterized gradient for the recognition network (DReG)",
            algorithms=("iwae",), trainer="dreg"),
    Setting("sleep_phi", False, switch,
            "RWS: after each wake step, a classic sleep step on the recognition network from dreams",
            algorithms=("rws",), trainer="sleep_phi"),
    Setting("sleep_samples", 100, whole_number(1), "dreams per sleep step", algorithms=("wake-sleep", "rws"),
            trainer="sleep_samples"),
    Setting("dreams", "samples", words("samples", "means"),
            "what the sleep phase dreams: samples x ~ p(x | z) (the write-up's), or the decoder's means E[x | z] "
            "(derivations/1.2-wake-sleep.md, Eq. (W6))", algorithms=("wake-sleep", "rws"), trainer="dreams",
            before="samples"),
    Setting("latent", "gaussian", words("gaussian", "binary"),
            "gaussian: z ~ N(0, I), the write-up's; binary: layers of binary units, the original Helmholtz machine "
            "(--layers; derivations/binary.md)", before="gaussian"),
    Setting("layers", None, sizes, "with --latent binary: the stochastic layers' sizes, bottom up (default 200); "
            "--hidden then gives the deterministic layers between two of them (default none: a linear SBN)",
            algorithms=BINARY, before=None),
    Setting("activation", "softplus", words("softplus", "tanh", "relu"), "the hidden layers' nonlinearity",
            before="softplus"),
    Setting("likelihood", "bernoulli", words(*LIKELIHOODS),
            "p(x | z): the write-up's Bernoulli, or the continuous Bernoulli, a density on [0, 1] "
            "(derivations/likelihoods.md)", before="bernoulli"),
    Setting("binarize", "none", words("none", "dynamic", "fixed"),
            "none: grey levels (the write-up's); dynamic: each training image resampled as x ~ Bernoulli(pixel) "
            "every time it is used; fixed: binarized once; the test set is binarized once, the same for every run",
            before="none"),
    Setting("dequantize", False, switch,
            "with the continuous Bernoulli: each pixel's byte k read as y = (k + u) / 256, u ~ U(0, 1) drawn anew "
            "every time a training image is used, the test set dequantized once (derivations/likelihoods.md)",
            before=False),
    Setting("output_bias", "zero", words("zero", "pixel-means"),
            "the decoder's output bias at the start: zero, or the logits whose means are the training images' pixel "
            "means (the IWAE paper's initialization)", before="zero"),
    Setting("log_var_floor", None, log_variance,
            "bound q's log-variances below, smoothly: v = floor + softplus(u - floor) (derivations/iwae.md, RWS's "
            "divergence)", before=None),
    Setting("log_var_ceiling", None, log_variance,
            "bound q's log-variances above, smoothly: v = ceiling - softplus(ceiling - u) "
            "(derivations/wake-sleep-diagnosis.md)", before=None),
    Setting("mean_bound", None, mean_bound,
            "bound q's means, smoothly: mu = c tanh(u / c) (derivations/wake-sleep-diagnosis.md)", before=None),
    Setting("lr_schedule", "constant", words(*SCHEDULES),
            "constant; decay: every learning rate times 10^(-(epoch - 1) / T), T = --lr-decay-epochs "
            "(derivations/wake-sleep-diagnosis.md); drop: every learning rate a tenth after epoch --lr-drop-epoch "
            "(derivations/likelihoods.md); or the IWAE paper's: every learning rate times 10^(-i/7) in the i-th stage "
            "of 3^i epochs, i = 0, 1, ... (epoch 1; 2-4; 5-13; 14-40; 41-121; ...)", before="constant"),
    Setting("lr_decay_epochs", 25.0, positive_number,
            "with --lr-schedule decay, the epochs over which every learning rate falls tenfold", before=25.0),
    Setting("lr_drop_epoch", None, whole_number(1), "with --lr-schedule drop, the last epoch at the initial learning "
            "rates", before=None),
    Setting("diagnostics", False, switch,
            "record what the recognition network does after every epoch, on test images and on dreams "
            "(diagnostics.png; derivations/wake-sleep-diagnosis.md)", before=True, output_only=True),
    Setting("k", 100, whole_number(1), "importance samples of the bound L_k that evaluates every run",
            flag="--eval-k"),
    Setting("exact", True, switch, "the exact log p(x) by quadrature that a 2-D run adds to its final evaluation "
            "(--no-exact skips it; python run.py exact --out DIR adds it to a finished run)", before=True,
            resumable=True, output_only=True),
    Setting("nll_k", 5000, whole_number(1),
            "a binarized run ends with the test negative log-likelihood estimate -L_k with this k", before=5000),
    Setting("eval_every", 10, whole_number(1), "evaluate L_k every this many epochs, and after the last", quick=1),
    Setting("eval_train_size", 10000, whole_number(1), "training images for the train bound, fixed by the seed",
            quick=1000),
    Setting("train_size", None, whole_number(1), "train on the first N training images", quick=10000),
    Setting("test_size", None, whole_number(1), "evaluate on the first N test images", quick=1000),
    Setting("data_dir", None, folder,
            "a folder with the four MNIST-format IDX files, .gz or raw, any image size (default: the embedded MNIST, "
            "checked against its MD5 sums)"),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}
BY_KEY = {setting.key: setting for setting in SETTINGS}


def flag(name):
    """The command-line flag of a setting: 'eval_train_size' -> '--eval-train-size', 'k' -> '--eval-k'."""
    return BY_NAME[name].option


def settings_of(algorithm):
    """The settings an algorithm uses, in the table's order."""
    return [setting for setting in SETTINGS if algorithm in setting.algorithms]


def learning_rates(algorithm):
    return [setting.name for setting in settings_of(algorithm) if setting.learning_rate]


def trainer_arguments(settings):
    """The keyword arguments of the run's trainer (algorithms/__init__.py::ALGORITHMS), from its settings."""
    return {setting.trainer: settings[setting.name] for setting in settings_of(settings["algorithm"])
            if setting.trainer}


def new_settings(algorithm, explicit, quick, configured=None):
    """A new run's settings: the defaults, then a configuration file's values, then the --quick preset, then the
    flags given (explicit); the combinations that make no sense are refused (check_together)."""
    settings = {"algorithm": algorithm, **{s.name: s.default for s in settings_of(algorithm)}}
    configured = configured or {}
    binary = explicit.get("latent", configured.get("latent")) == "binary" or not ALGORITHMS[algorithm].trainer
    if binary:
        # imported here: only a run with binary latents needs their defaults and refusals
        from experiments.harness.binary_settings import binary_defaults, check_binary
        settings.update(binary_defaults(algorithm, explicit, configured))
    settings.update({key: value for key, value in configured.items() if key in settings})
    if quick:
        settings.update({s.name: s.quick for s in settings_of(algorithm) if s.quick is not MISSING})
    settings.update({key: value for key, value in explicit.items() if key in settings})
    check_together(settings)
    if binary:
        check_binary(settings, {**configured, **explicit})
    return settings


def check_together(settings):
    """Settings that are each fine but make no sense together, refused in one line (binary latents' own:
    binary_settings.py)."""
    if settings["latent"] == "binary" and not ALGORITHMS[settings["algorithm"]].binary:
        usable = ", ".join(name for name in ALGORITHMS if ALGORITHMS[name].binary)
        raise Fault(f"--latent binary: {ALGORITHMS[settings['algorithm']].name} differentiates through z = mu + sigma "
                    f"eps, which binary units do not have; train them with {usable}")
    if settings.get("layers") is not None and settings["latent"] != "binary":
        raise Fault(f"--layers {describe(settings['layers'])}: the sizes of binary layers; give --latent binary")
    floor, ceiling = settings["log_var_floor"], settings["log_var_ceiling"]
    if floor is not None and ceiling is not None and floor >= ceiling:
        raise Fault(f"--log-var-floor {floor} and --log-var-ceiling {ceiling}: the floor must lie below the ceiling")
    if settings["dequantize"] and settings["likelihood"] != "continuous-bernoulli":
        raise Fault("--dequantize makes the data continuous, for a density: give --likelihood continuous-bernoulli")
    if settings["dequantize"] and settings["binarize"] != "none":
        raise Fault("--dequantize and --binarize: give one of them (binary images need no dequantization)")
    if (settings["lr_schedule"] == "drop") != (settings["lr_drop_epoch"] is not None):
        raise Fault("--lr-schedule drop and --lr-drop-epoch E go together: the rates fall tenfold after epoch E")


def with_settings_added_later(settings):
    """A stored run's settings with those it predates at the value it was made with (Setting.before), in place."""
    for setting in settings_of(settings.get("algorithm")):
        if setting.before is not MISSING and setting.name not in settings:
            settings[setting.name] = setting.before
    return settings


def given(key, value):
    """A setting's value as its flag says it: '--hidden 32 16', '--dreg', 'no --dreg', '--log-var-floor none'."""
    setting = BY_NAME[key]
    if isinstance(setting.default, bool):
        return setting.option if value != setting.default else f"no {setting.option}"
    return f"{setting.option} {describe(value)}"


def describe(value):
    if value is None:
        return "none"
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)

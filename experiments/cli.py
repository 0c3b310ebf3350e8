"""The command line of run.py: parse flags, then train, evaluate, draw and report.

Exit statuses: 0 done; 2 bad input (one line naming the flag, file or folder); 3 a run diverged (its last
finite checkpoint kept); 130 stopped by Ctrl-C or SIGTERM (what was kept is said).
"""
import argparse
import math
import shlex
import signal
import sys
from pathlib import Path

from experiments.errors import Fault, Stopped, status
from experiments.settings import ALGORITHMS, CHOICES, NAMES, OWN, QUICK, SHARED, WRITE_UP, flag

SHARED_HELP = {
    "epochs": "passes over the training set",
    "batch_size": "minibatch size",
    "latent_dim": "dimension J of z",
    "hidden": "hidden layer sizes of the recognition net; the generative net mirrors them",
    "activation": "the hidden layers' nonlinearity",
    "log_var_floor": "bound q's log-variances below, smoothly: v = floor + softplus(u - floor) (derivations/iwae.md, "
                     "RWS's divergence)",
    "mean_bound": "bound q's means, smoothly: mu = c tanh(u / c) (derivations/wake-sleep-diagnosis.md)",
    "log_var_ceiling": "bound q's log-variances above, smoothly: v = ceiling - softplus(ceiling - u) "
                       "(derivations/wake-sleep-diagnosis.md)",
    "likelihood": "p(x | z): the write-up's Bernoulli, or the continuous Bernoulli, a density on [0, 1] "
                  "(derivations/likelihoods.md)",
    "binarize": "none: grey levels (the write-up's); dynamic: each training image resampled as x ~ Bernoulli(pixel) "
                "every time it is used; fixed: binarized once; the test set is binarized once, the same for every run",
    "dequantize": "with the continuous Bernoulli: each pixel's byte k read as y = (k + u) / 256, u ~ U(0, 1) "
                  "drawn anew every time a training image is used, the test set dequantized once "
                  "(derivations/likelihoods.md)",
    "output_bias": "the decoder's output bias at the start: zero, or the logits whose means are the training "
                   "images' pixel means (the IWAE paper's initialization)",
    "lr_decay_epochs": "with --lr-schedule decay, the epochs over which every learning rate falls tenfold",
    "lr_drop_epoch": "with --lr-schedule drop, the last epoch at the initial learning rates",
    "lr_schedule": "constant; decay: every learning rate times 10^(-(epoch - 1) / T), T = --lr-decay-epochs "
                   "(derivations/wake-sleep-diagnosis.md); drop: every learning rate a tenth after epoch "
                   "--lr-drop-epoch (derivations/likelihoods.md); or the IWAE paper's: every learning rate times "
                   "10^(-i/7) in the i-th stage of 3^i epochs, i = 0, 1, ... (epoch 1; 2-4; 5-13; 14-40; 41-121; ...)",
    "nll_k": "a binarized run ends with the test negative log-likelihood estimate -L_k with this k",
    "k": "importance samples of the bound L_k that evaluates every run",
    "eval_every": "evaluate L_k every this many epochs, and after the last",
    "eval_train_size": "training images for the train bound, fixed by the seed (60000 for all)",
    "train_size": "train on the first N training images",
    "test_size": "evaluate on the first N test images",
    "seed": "seeds initialization, minibatches, noise and evaluation",
}
OWN_HELP = {"lr": "Adam's learning rate (RWS: the generative network's)",
            "phi_lr": "RWS: Adam's learning rate of the recognition network",
            "sleep_phi": "RWS: after each wake step, a classic sleep step on the recognition network from dreams",
            "wake_lr": "wake phase Adam learning rate",
            "sleep_lr": "sleep phase Adam learning rate", "sleep_samples": "dreams per sleep step",
            "dreams": "what the sleep phase dreams: samples x ~ p(x | z) (the write-up's), or the decoder's means "
                      "E[x | z] (derivations/1.2-wake-sleep.md, Eq. (W6))",
            "train_k": "importance samples per image of the training objective L_k",
            "dreg": "the doubly reparameterized gradient for the recognition network (DReG)"}


def whole_number(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"takes a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"takes a whole number of at least {minimum}, got {text}")
        return value
    return parse


def positive_number(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"takes a finite number above 0, got {text}")
    return value


def finite_number(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"takes a finite number, got {text}")
    return value


def algorithm_name(text):
    if text not in ALGORITHMS:
        raise argparse.ArgumentTypeError(f"{text!r} is not an algorithm; choose from {', '.join(ALGORITHMS)}")
    return text


def existing_path(text):
    return str(Path(text).resolve())


class Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line on stderr (and exit status 2), naming the flag. Flags are never
    abbreviated: --k would otherwise be taken for --keep-checkpoints where a command has no --k."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def default_text(key, default):
    quick = f"; --quick: {QUICK[key]}" if key in QUICK else ""
    if default is None:
        shown = "all" if key.endswith("_size") else "none"
    else:
        shown = " ".join(map(str, default)) if isinstance(default, list) else default
    return f" (default {shown}{quick})"


def add_setting(parser, key, default, help_text):
    if isinstance(default, bool):
        parser.add_argument(flag(key), dest=key, action="store_const", const=True, default=None, help=help_text)
        return
    if key in CHOICES:
        parser.add_argument(flag(key), dest=key, choices=CHOICES[key], default=None,
                            help=help_text + default_text(key, default))
        return
    types = {"hidden": whole_number(1), "seed": whole_number(0), "data_dir": existing_path,
             "log_var_floor": finite_number, "log_var_ceiling": finite_number, "mean_bound": positive_number}
    kind = types.get(key, positive_number if isinstance(default, float) else whole_number(1))
    extra = {"nargs": "+"} if key == "hidden" else {}
    parser.add_argument(flag(key), dest=key, type=kind, default=None, help=help_text + default_text(key, default),
                        **extra)


def add_run_flags(parser, algorithms, command):
    for key, default in SHARED.items():
        if key != "data_dir":
            add_setting(parser, key, default, SHARED_HELP[key])
    own = {}
    for algorithm in algorithms:
        own.update(OWN[algorithm])                  # a setting two algorithms share (lr) is one flag
    for key, default in own.items():
        add_setting(parser, key, default, OWN_HELP[key])
    parser.add_argument("--data-dir", dest="data_dir", type=existing_path, default=None,
                        help="a folder with the four MNIST-format IDX files, .gz or raw, any image size "
                             "(default: the embedded MNIST, checked against its MD5 sums)")
    where = "results/" if command == "compare" else f"results/{command}/"
    parser.add_argument("--out", type=Path, help=f"output folder (default {where}; --quick: results/quick/"
                                                 f"{'' if command == 'compare' else command + '/'})")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in the output folder with its own settings (only --epochs may "
                             "be given, to extend it)")
    parser.add_argument("--force", action="store_true",
                        help="start over in an output folder that holds a run, deleting its outputs first")
    if command != "compare":
        parser.add_argument("--keep-checkpoints", action="store_true",
                            help="keep a copy of every epoch's checkpoint in OUT/checkpoints/, to replay any epoch "
                                 "step by step (python -m experiments.replay); a run that keeps them keeps them "
                                 "when resumed")
    parser.add_argument("--no-exact", dest="exact", action="store_false",
                        help="skip the exact log p(x) by quadrature that a 2-D run adds to its final evaluation")
    parser.add_argument("--quick", action="store_true",
                        help="a first look in under a minute: 3 epochs on 10000 images, bounds on 1000, every "
                             "output still written")


def make_parser():
    parser = Parser(prog="run.py",
                    description="Helmholtz machines on MNIST: the experiments of section 1.6 of the write-up.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{aevb,wake-sleep,iwae,rws,compare,exact}",
                                     parser_class=Parser)
    for algorithm in ALGORITHMS:
        add_run_flags(commands.add_parser(algorithm, help=f"train {NAMES[algorithm]}",
                                          description=f"Train {NAMES[algorithm]} and write every output."),
                      [algorithm], algorithm)
    exact = commands.add_parser("exact", help="the exact log p(x) of a finished 2-D run, by quadrature",
                                description="Evaluate the finished run in --out exactly: log p(x) of every test "
                                            "image, log p(x) - L_k, KL(q || p(z|x)), and the true posteriors.")
    exact.add_argument("--out", type=Path, required=True, help="the folder of a finished run with a 2-D latent")
    compare = commands.add_parser("compare", help="train the algorithms that have no finished run, then put "
                                                  "them side by side",
                                  description="Each algorithm into OUT/<algorithm>/, then OUT/compare/.")
    compare.add_argument("algorithms", nargs="*", type=algorithm_name, metavar="ALGORITHM",
                         help=f"two or more of {', '.join(ALGORITHMS)} (default: {' '.join(WRITE_UP)}, the write-up's)")
    add_run_flags(compare, ALGORITHMS, "compare")
    compare.add_argument("--seeds", type=whole_number(0), nargs="+",
                         help="compare once per seed, into OUT/seed-S/, and summarize across the seeds in OUT/compare/")
    return parser


def explicit_settings(args):
    """The settings given on the command line (a flag left out is None)."""
    keys = [*SHARED, *(key for own in OWN.values() for key in own)]
    return {key: getattr(args, key) for key in keys if getattr(args, key, None) is not None}


def output_folder(args):
    if args.out is not None:
        return args.out
    base = Path("results") / ("quick" if args.quick else "")
    return base if args.command == "compare" else base / args.command


def resume_command(argv):
    """The command line that continues this one: the same flags, with --resume and without --force."""
    kept = [word for word in argv if word not in ("--force", "--resume")]
    return shlex.join(["python", "run.py", *kept, "--resume"])


def run_command(args, argv):
    from experiments.run_folder import KEPT, RunFolder
    from experiments.runner import DataCache, exact_plan, plan, train_and_write

    if args.command == "exact":
        if not args.out.is_dir():
            raise Fault(f"--out {args.out}: no such folder; run.py exact takes a finished run's folder")
        with RunFolder(args.out) as folder:
            train_and_write(folder, *exact_plan(folder, DataCache()), exact=True)
        return
    if args.resume and args.force:
        raise Fault("--resume and --force: give one of them (--resume continues the run, --force deletes it)")
    explicit, cache, out = explicit_settings(args), DataCache(), output_folder(args)
    floor, ceiling = explicit.get("log_var_floor"), explicit.get("log_var_ceiling")
    if floor is not None and ceiling is not None and floor >= ceiling:
        raise Fault(f"--log-var-floor {floor} and --log-var-ceiling {ceiling}: the floor must lie below the ceiling")
    if explicit.get("dequantize") and explicit.get("likelihood") != "continuous-bernoulli":
        raise Fault("--dequantize makes the data continuous, for a density: give --likelihood continuous-bernoulli")
    if explicit.get("dequantize") and explicit.get("binarize", "none") != "none":
        raise Fault("--dequantize and --binarize: give one of them (binary images need no dequantization)")
    if not args.resume and (explicit.get("lr_schedule") == "drop") != ("lr_drop_epoch" in explicit):
        raise Fault("--lr-schedule drop and --lr-drop-epoch E go together: the rates fall tenfold after epoch E")
    if args.command == "compare":
        from experiments.compare import compare, compare_seeds
        algorithms = list(dict.fromkeys(args.algorithms)) or list(WRITE_UP)
        if len(algorithms) < 2:
            raise Fault("compare takes at least two algorithms")
        options = {"explicit": explicit, "quick": args.quick, "resume": args.resume, "force": args.force,
                   "exact": args.exact, "resume_command": resume_command(argv)}
        if args.seeds is None:
            compare(out, algorithms, options, cache)
        elif "seed" in explicit:
            raise Fault("--seed and --seeds: give one of them")
        else:
            compare_seeds(out, algorithms, list(dict.fromkeys(args.seeds)), options, cache)
        return
    with RunFolder(out) as folder:
        settings, data, resume_from = plan(folder, args.command, explicit, args.quick, args.resume, args.force, cache)
        keep = args.keep_checkpoints or (resume_from is not None and (folder.path / KEPT).is_dir())
        train_and_write(folder, settings, data, resume_from, args.exact, keep=keep)


def stop_on_sigterm(signum, frame):
    """Outside training (which saves first), SIGTERM stops run.py as Ctrl-C does."""
    raise KeyboardInterrupt


def main(argv=None):
    try:
        args, unknown = make_parser().parse_known_args(argv)
    except SystemExit as exit:          # --help, or a bad flag already answered in one line
        return exit.code
    if unknown:
        hint = "; the evaluation bound's k is --eval-k" if unknown[0].split("=")[0] == "--k" else ""
        print(f"run.py {args.command}: error: {unknown[0]} is not a flag of {args.command}{hint} "
              f"(see run.py {args.command} --help)", file=sys.stderr)
        return 2
    status.doing, status.kept = "starting", "nothing was written"
    previous = signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        run_command(args, sys.argv[1:] if argv is None else list(argv))
    except Fault as fault:
        print(f"run.py: error: {' '.join(str(fault).split())}", file=sys.stderr)      # one line, whatever it quotes
        return fault.status
    except Stopped as stopped:
        print(stopped)
        return stopped.status
    except KeyboardInterrupt:
        print(f"run.py: stopped while {status.doing}; kept: {status.kept}", file=sys.stderr)
        return Stopped.status
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0

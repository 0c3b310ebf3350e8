"""run.py's flags: one parser per command, each offering the settings that command uses (settings.py and the
algorithms' own options, algorithms/options.py), the homework's first. Errors are one line on stderr, naming the
flag."""
import argparse
from pathlib import Path

from algorithms import commands
from experiments.harness.parse import BadValue, whole_number
from experiments.harness.settings import MISSING, settings_of


def write_up():
    """What compare compares when no algorithm is named: the write-up's two (Trainer.in_write_up)."""
    return [command for command, trainers in commands().items() if trainers[0].in_write_up]


OTHER_COMMANDS = ("compare", "exact", "explore")


class Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line on stderr (and exit status 2), naming the flag. Flags are never
    abbreviated: --k would otherwise be taken for --keep-checkpoints where a command has no --k."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message):
        self.exit(2, f"run.py: error: {message} (see {self.prog} --help)\n")


def flag_type(parse):
    """A setting's parse, with argparse's exception for a value it does not take (argparse prints its message)."""
    def typed(text):
        try:
            return parse(text)
        except BadValue as bad:
            raise argparse.ArgumentTypeError(str(bad)) from None
    return typed


def default_text(setting):
    if "(default" in setting.help:
        return ""
    quick = "" if setting.quick is MISSING else f"; --quick: {setting.quick}"
    if setting.default is None:
        shown = "all" if setting.name.endswith("_size") else "none"
    else:
        shown = " ".join(map(str, setting.default)) if setting.many else setting.default
    return f" (default {shown}{quick})"


def path_to(what):
    """A flag's path to a folder or a file, never empty (an empty --out would be the current folder)."""
    def parse(text):
        if not text.strip():
            raise argparse.ArgumentTypeError(f"takes {what}, got an empty path")
        return Path(text)
    return parse


def add_setting(group, setting):
    if isinstance(setting.default, bool):            # a switch: --diagnostics and --no-diagnostics
        group.add_argument(setting.option, dest=setting.name, action=argparse.BooleanOptionalAction, default=None,
                           help=setting.help + f" (default {'--' if setting.default else '--no-'}{setting.option[2:]})")
        return
    choices = getattr(setting.parse, "choices", None)
    group.add_argument(setting.option, dest=setting.name, default=None, help=setting.help + default_text(setting),
                       **({"choices": choices} if choices else {"type": flag_type(setting.parse)}),
                       **({"nargs": "+"} if setting.many else {}))


def add_run_flags(parser, algorithms, command):
    """Two groups: the homework's settings (and how the run is kept), then everything beyond the homework."""
    used = list({s.name: s for algorithm in algorithms for s in settings_of(algorithm)}.values())
    homework = parser.add_argument_group("the homework's settings (section 1.6 of the write-up)")
    for setting in used:
        if setting.homework:
            add_setting(homework, setting)
    homework.add_argument("--quick", action="store_true",
                          help="a first look in under a minute: 3 epochs on 10000 images, bounds on 1000, every "
                               "output still written")
    where = "" if command == "compare" else f"{command}/"
    homework.add_argument("--out", type=path_to("a folder"), help=f"output folder (default results/{where}; --quick: "
                                                   f"results/quick/{where})")
    homework.add_argument("--resume", action="store_true",
                          help="continue the run in the output folder with its own settings (only --epochs may be "
                               "given, to extend it)")
    homework.add_argument("--force", action="store_true",
                          help="start over in an output folder that holds a run: its files are moved aside, and put "
                                     "back if the new run fails before its outputs are written")
    research = parser.add_argument_group(
        "beyond the homework: research settings, evaluation and data",
        "A research configuration is a file of these settings: --config configs/NAME.toml (flags beside it override "
        "it). configs/README.md lists them.")
    research.add_argument("--config", help="a TOML file of settings: the keys are the flags with underscores "
                                           "(sleep_lr = 1e-3, eval_k = 1000, diagnostics = true)")
    for setting in used:
        if not setting.homework:
            add_setting(research, setting)
    if command != "compare":
        research.add_argument("--keep-checkpoints", action="store_true",
                              help="keep a copy of every epoch's checkpoint in OUT/checkpoints/, to replay any epoch "
                                   "step by step (python -m experiments.studies.replay); a run that keeps them keeps "
                                   "them when resumed")
    return research


def algorithm_name(text):
    if text not in commands():
        raise argparse.ArgumentTypeError(f"{text!r} is not an algorithm; choose from {', '.join(commands())}")
    return text


def make_parser():
    parser = Parser(prog="run.py",
                    description="Helmholtz machines on MNIST: the experiments of section 1.6 of the write-up.")
    algorithms = commands()
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=Parser,
                                       metavar="{" + ",".join([*algorithms, *OTHER_COMMANDS]) + "}")
    for algorithm, trainers in algorithms.items():
        name = trainers[0].name
        add_run_flags(subparsers.add_parser(algorithm, help=f"train {name}",
                                            description=f"Train {name} and write every output."),
                      [algorithm], algorithm)
    exact = subparsers.add_parser("exact", help="the exact log p(x) of a finished 2-D run (quadrature) or one-layer "
                                "binary run (enumeration)",
                                description="Evaluate the finished run in --out exactly: log p(x) of every test "
                                            "image, log p(x) - L_k, KL(q || p(z|x)), and the true posteriors.")
    exact.add_argument("--out", type=path_to("a folder"), required=True, help="a finished run's folder")
    explore = subparsers.add_parser("explore", help="the latent explorer of finished 2-D runs, side by side, in one "
                                  "HTML file", description="Write the latent explorer of the runs, side by side, "
                                  "as one self-contained page (experiments/README.md says what it shows).")
    explore.add_argument("runs", nargs="+", type=path_to("a folder"), metavar="RUN_DIR", help="folders of finished 2-D runs")
    explore.add_argument("--out", type=path_to("a file"), required=True, help="the HTML file to write (an earlier explorer "
                                                                       "page there is replaced; any other file is not)")
    compare = subparsers.add_parser("compare", help="train the algorithms that have no finished run, then put "
                                                  "them side by side",
                                  description="Each algorithm into OUT/<algorithm>/, then OUT/compare/.")
    compare.add_argument("algorithms", nargs="*", type=algorithm_name, metavar="ALGORITHM",
                         help=f"two or more of {', '.join(algorithms)} (default: {' '.join(write_up())}, the write-up's)")
    research = add_run_flags(compare, list(algorithms), "compare")
    research.add_argument("--seeds", type=flag_type(whole_number(0)), nargs="+",
                          help="compare once per seed, into OUT/seed-S/, and summarize across the seeds in "
                               "OUT/compare/")
    return parser

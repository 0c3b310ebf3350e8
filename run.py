"""python run.py {aevb,wake-sleep,iwae,rws,nvil,vimco,compare,exact,explore} [flags]: Helmholtz machines on MNIST,
the experiments of section 1.6 of the write-up and beyond. `python run.py aevb --help` lists the homework's flags first.

A learner's path from here to the algorithm is three files: main() below reads the flags and calls train() in
experiments/harness/training.py, whose run_epoch() calls the algorithm's step, AEVB.step in algorithms/aevb.py for
`python run.py aevb` (WakeSleep.step in algorithms/wake_sleep.py for wake-sleep).

Exit statuses: 0 done; 2 bad input (one line naming the flag, file or folder); 3 a run diverged (its last
finite checkpoint kept); 130 stopped by Ctrl-C or SIGTERM (what was kept is said).
"""
import signal

# A Ctrl-C while the modules below load is noted here and answered in main(), once they have loaded: raised inside an
# import, it would end in a traceback (or, inside NumPy's C extensions, in a fatal error of the interpreter).
EARLY_INTERRUPTS = []
signal.signal(signal.SIGINT, lambda signum, frame: EARLY_INTERRUPTS.append(signum))

import argparse  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from algorithms import ALGORITHMS  # noqa: E402
from experiments.errors import Fault, Stopped, status  # noqa: E402
from experiments.harness.folder import KEPT, RunFolder  # noqa: E402
from experiments.harness.runner import DataCache, exact_plan, plan  # noqa: E402
from experiments.harness.settings import MISSING, SETTINGS, BadValue, settings_of, whole_number  # noqa: E402
from experiments.harness.training import train  # noqa: E402
from experiments.outputs import extensions_for  # noqa: E402
from experiments.outputs.write import write_outputs  # noqa: E402

WRITE_UP = ("aevb", "wake-sleep")             # what compare compares when no algorithm is named
COMMANDS = (*ALGORITHMS, "compare", "exact", "explore")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if EARLY_INTERRUPTS:
        print("run.py: stopped while starting; kept: nothing was written", file=sys.stderr)
        return Stopped.status
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        return error(f"the command comes first: run.py {{{','.join(COMMANDS)}}} {' '.join(argv)}", "run.py")
    try:
        args, unknown = make_parser().parse_known_args(argv)
    except SystemExit as exit:          # --help, or a bad flag already answered in one line
        return exit.code
    if unknown:
        hint = "; the evaluation bound's k is --eval-k" if unknown[0].split("=")[0] == "--k" else ""
        return error(f"{unknown[0]} is not a flag of {args.command}{hint}", f"run.py {args.command}")
    status.doing, status.kept = "starting", "nothing was written"
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)     # a file past ulimit -f: an error to answer, not a silent death
    previous = signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        run_command(args, argv)
    except Fault as fault:
        print(f"run.py: error: {' '.join(str(fault).split())}", file=sys.stderr)      # one line, whatever it quotes
        return fault.status
    except Stopped as stopped:
        print(f"run.py: {stopped}", file=sys.stderr)
        return stopped.status
    except KeyboardInterrupt:
        print(f"run.py: stopped while {status.doing}; kept: {status.kept}", file=sys.stderr)
        return Stopped.status
    except MemoryError:                 # what the memory estimate of experiments/harness/runner.py did not foresee
        print(f"run.py: error: out of memory while {status.doing}; kept: {status.kept}", file=sys.stderr)
        return Fault.status
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def run_command(args, argv):
    """One command: train a run (and write its outputs), compare several, or evaluate one exactly."""
    if args.command == "exact":
        return evaluate_exactly(args.out)
    if args.command == "explore":
        # imported here: only this command builds a page outside a run's own outputs
        from experiments.outputs.explorer import explore
        return explore(args.runs, args.out)
    if args.resume and args.force:
        raise Fault("--resume and --force: give one of them (--resume continues the run, --force deletes it)")
    if args.resume and not output_folder(args).is_dir():
        raise Fault(f"--out {output_folder(args)}: no such folder, so no checkpoint to resume from")
    if args.command == "compare":
        return compare_command(args, argv)
    configured = read_config(args.config, [args.command])
    with RunFolder(output_folder(args)) as folder:
        settings, data, resume_from = plan(folder, args.command, explicit_settings(args), args.quick, args.resume,
                                           args.force, DataCache(), configured)
        extensions = extensions_for(settings)
        keep = args.keep_checkpoints or (resume_from is not None and (folder.path / KEPT).is_dir())
        run = train(settings, data, folder, resume_from, extensions, keep=keep, config=config_record(args, configured))
        write_outputs(run, extensions)


def evaluate_exactly(out):
    """python run.py exact --out DIR: the finished 2-D run in DIR, its outputs written again with the exact evaluation."""
    if not out.is_dir():
        raise Fault(f"--out {out}: no such folder; run.py exact takes a finished run's folder")
    with RunFolder(out) as folder:
        settings, data, resume_from = exact_plan(folder, DataCache())
        extensions = extensions_for(settings, exact=True)
        write_outputs(train(settings, data, folder, resume_from, extensions), extensions)


def compare_command(args, argv):
    # imported here, not above: only this command uses experiments/studies/
    from experiments.studies.compare import compare, compare_seeds
    algorithms = list(dict.fromkeys(args.algorithms)) or list(WRITE_UP)
    if len(algorithms) < 2:
        raise Fault("compare takes at least two algorithms")
    configured = read_config(args.config, algorithms)
    options = {"explicit": explicit_settings(args), "quick": args.quick, "resume": args.resume, "force": args.force,
               "resume_command": resume_command(argv), "configured": configured,
               "config": config_record(args, configured)}
    if args.seeds is None:
        compare(output_folder(args), algorithms, options, DataCache())
    elif "seed" in options["explicit"]:
        raise Fault("--seed and --seeds: give one of them")
    elif len(set(args.seeds)) < len(args.seeds):
        twice = sorted({seed for seed in args.seeds if args.seeds.count(seed) > 1})
        raise Fault(f"--seeds {' '.join(map(str, args.seeds))}: seed {', '.join(map(str, twice))} given twice; the "
                    "spread across seeds needs each seed once")
    else:
        compare_seeds(output_folder(args), algorithms, args.seeds, options, DataCache())


def read_config(path, algorithms):
    """A configuration file's settings, or None where --config is not given."""
    if path is None:
        return None
    from experiments.harness.configs import read_config   # imported here: only a run that names a file reads one
    return read_config(path, algorithms)


def config_record(args, configured):
    """What a run keeps of its configuration file, for its report: the file as named and the values it gave."""
    return None if configured is None else {"file": args.config, "values": configured}


def error(message, prog):
    """A bad command line: one line on stderr, exit status 2."""
    print(f"run.py: error: {message} (see {prog} --help)", file=sys.stderr)
    return 2


def stop_on_sigterm(signum, frame):
    """Outside training (which saves first), SIGTERM stops run.py as Ctrl-C does."""
    raise KeyboardInterrupt


def explicit_settings(args):
    """The settings given on the command line (a flag left out is None)."""
    return {s.name: getattr(args, s.name) for s in SETTINGS if getattr(args, s.name, None) is not None}


def output_folder(args):
    if args.out is not None:
        return args.out
    base = Path("results") / ("quick" if args.quick else "")
    return base if args.command == "compare" else base / args.command


def resume_command(argv):
    """The command line that continues this one: the same flags, with --resume and without --force."""
    kept = [word for word in argv if word not in ("--force", "--resume")]
    return shlex.join(["python", "run.py", *kept, "--resume"])


# The flags. Each setting's comes from its one definition in experiments/harness/settings.py.

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
    used = [s for s in SETTINGS if any(s in settings_of(a) for a in algorithms)]
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
                          help="start over in an output folder that holds a run, deleting its outputs first")
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
    if text not in ALGORITHMS:
        raise argparse.ArgumentTypeError(f"{text!r} is not an algorithm; choose from {', '.join(ALGORITHMS)}")
    return text


def make_parser():
    parser = Parser(prog="run.py",
                    description="Helmholtz machines on MNIST: the experiments of section 1.6 of the write-up.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}",
                                     parser_class=Parser)
    for algorithm, entry in ALGORITHMS.items():
        add_run_flags(commands.add_parser(algorithm, help=f"train {entry.name}",
                                          description=f"Train {entry.name} and write every output."),
                      [algorithm], algorithm)
    exact = commands.add_parser("exact", help="the exact log p(x) of a finished 2-D run (quadrature) or one-layer "
                                "binary run (enumeration)",
                                description="Evaluate the finished run in --out exactly: log p(x) of every test "
                                            "image, log p(x) - L_k, KL(q || p(z|x)), and the true posteriors.")
    exact.add_argument("--out", type=path_to("a folder"), required=True, help="a finished run's folder")
    explore = commands.add_parser("explore", help="the latent explorer of finished 2-D runs, side by side, in one "
                                  "HTML file", description="Write the latent explorer of the runs, side by side, "
                                  "as one self-contained page (experiments/README.md says what it shows).")
    explore.add_argument("runs", nargs="+", type=path_to("a folder"), metavar="RUN_DIR", help="folders of finished 2-D runs")
    explore.add_argument("--out", type=path_to("a file"), required=True, help="the HTML file to write (an earlier explorer "
                                                                       "page there is replaced; any other file is not)")
    compare = commands.add_parser("compare", help="train the algorithms that have no finished run, then put "
                                                  "them side by side",
                                  description="Each algorithm into OUT/<algorithm>/, then OUT/compare/.")
    compare.add_argument("algorithms", nargs="*", type=algorithm_name, metavar="ALGORITHM",
                         help=f"two or more of {', '.join(ALGORITHMS)} (default: {' '.join(WRITE_UP)}, the write-up's)")
    research = add_run_flags(compare, list(ALGORITHMS), "compare")
    research.add_argument("--seeds", type=flag_type(whole_number(0)), nargs="+",
                          help="compare once per seed, into OUT/seed-S/, and summarize across the seeds in "
                               "OUT/compare/")
    return parser


if __name__ == "__main__":
    sys.exit(main())

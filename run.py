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

import os  # noqa: E402
import shlex  # noqa: E402
from contextlib import nullcontext  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from algorithms import commands  # noqa: E402
from experiments.errors import Fault, Stopped  # noqa: E402
from experiments.harness.folder import KEPT, RunFolder  # noqa: E402
from experiments.harness.runner import DataCache, exact_plan, plan  # noqa: E402
from experiments.harness.flags import OTHER_COMMANDS, make_parser, write_up  # noqa: E402
from experiments.harness.settings import settings_of  # noqa: E402
from experiments.harness.training import train  # noqa: E402
from experiments.outputs import extensions_for  # noqa: E402
from experiments.outputs.write import write_outputs  # noqa: E402

def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if EARLY_INTERRUPTS:
        print("run.py: stopped while starting; kept: nothing was written", file=sys.stderr)
        return Stopped.status
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        return error(f"the command comes first: run.py {{{','.join([*commands(), *OTHER_COMMANDS])}}} "
                     f"{' '.join(argv)}", "run.py")
    try:
        args, unknown = make_parser().parse_known_args(argv)
    except SystemExit as exit:          # --help, or a bad flag already answered in one line
        return exit.code
    if unknown:
        hint = "; the evaluation bound's k is --eval-k" if unknown[0].split("=")[0] == "--k" else ""
        return error(f"{unknown[0]} is not a flag of {args.command}{hint}", f"run.py {args.command}")
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
    except KeyboardInterrupt:           # outside every stage of a run (experiments/errors.py::stage): nothing written
        print("run.py: stopped while starting; kept: nothing was written", file=sys.stderr)
        return Stopped.status
    except MemoryError:                 # what the memory estimate of experiments/harness/runner.py did not foresee
        print("run.py: error: out of memory while starting; kept: nothing was written", file=sys.stderr)
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
        if keep and os.path.lexists(folder.path / KEPT) and not (folder.path / KEPT).is_dir():
            raise Fault(f"--keep-checkpoints: {folder.path / KEPT} is a file, where the kept checkpoints go; move it")
        # a new run moves an earlier run's files aside (--force), and back should it fail (experiments/harness/folder.py)
        with folder.replacing() if resume_from is None else nullcontext():
            run = train(settings, data, folder, resume_from, extensions, keep=keep,
                        config=config_record(args, configured))
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
    algorithms = list(dict.fromkeys(args.algorithms)) or write_up()
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
    names = {s.name for command in commands() for s in settings_of(command)}
    return {name: getattr(args, name) for name in sorted(names) if getattr(args, name, None) is not None}


def output_folder(args):
    if args.out is not None:
        return args.out
    base = Path("results") / ("quick" if args.quick else "")
    return base if args.command == "compare" else base / args.command


def resume_command(argv):
    """The command line that continues this one: the same flags, with --resume and without --force."""
    kept = [word for word in argv if word not in ("--force", "--resume")]
    return shlex.join(["python", "run.py", *kept, "--resume"])


if __name__ == "__main__":
    sys.exit(main())

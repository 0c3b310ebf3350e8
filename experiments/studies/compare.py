"""python run.py compare: the algorithms side by side, answered from their numbers (comparison.py writes them).

Each algorithm's run lives in its own folder under --out and is reused when it has finished with the same
settings, resumed with --resume, trained when missing, and never overwritten without --force.
"""
from contextlib import nullcontext
from pathlib import Path

from algorithms import name_of
from experiments.errors import Fault, Stopped, stage
from experiments.harness.checkpoint import saved_bounds
from experiments.harness.folder import RunFolder, finished
from experiments.harness.runner import plan, resume_plan, reusable_history, saved_run
from experiments.harness.runner import make_effective
from experiments.harness.new_settings import new_settings
from experiments.harness.settings import by_name
from experiments.harness.stored import stored
from experiments.harness.training import train
from experiments.outputs import extensions_for
from experiments.outputs.write import write_outputs
from experiments.studies.comparison import write_comparison, write_seed_summary

# settings every run of one comparison must share, so that its tables pair the same epochs and images
SHARED_BY_ALL = ("eval_k", "eval_every", "epochs", "train_size", "test_size", "eval_train_size", "seed", "data_fingerprint",
                 "likelihood", "binarize")


def plan_one(folder, algorithm, options, data_cache):
    """What to do with one algorithm's folder, decided before anything is written: ("reuse", settings, history,
    bounds) for a finished run with these settings, or ("train", settings, data, resume_from)."""
    run = saved_run(folder)
    if run is not None and options["resume"]:
        given = {**(options["configured"] or {}), **options["explicit"]}
        settings, data, resume_from = resume_plan(folder, algorithm, given, data_cache)
        if settings.epochs == resume_from[0]["epoch"] and finished(resume_from[0]):
            return "reuse", settings, resume_from[0]["history"], saved_bounds(resume_from[1])
        return "train", settings, data, resume_from
    offered = by_name(algorithm)          # the flags given for all the algorithms: each takes its own
    explicit = {key: value for key, value in options["explicit"].items() if key in offered}
    configured = {key: value for key, value in (options["configured"] or {}).items() if key in offered}
    wanted = new_settings(algorithm, explicit, options["quick"], configured)
    wanted = make_effective(wanted, data_cache.get(wanted.data_dir))
    reusable = None if options["force"] else reusable_history(folder, wanted)
    if reusable is not None:
        return "reuse", wanted, reusable[0]["history"], saved_bounds(reusable[1])
    return ("train", *plan(folder, algorithm, explicit, options["quick"], False, options["force"], data_cache,
                           configured))


def check_alike(root, plans):
    """Refuses, before any training, runs that differ in a setting the comparison pairs them on."""
    for key in SHARED_BY_ALL:
        values = {name: stored(plan[1]).get(key) for name, plan in plans.items()}
        if len(set(map(str, values.values()))) > 1:
            described = ", ".join(f"{name_of(name)} {value}" for name, value in values.items())
            raise Fault(f"{root}: the runs differ in {key} ({described}); compare needs them alike (--force starts "
                        "them over with the settings given)")


def settle(folder, algorithm, plan, options, log):
    """(settings, history, per-image bounds) of one algorithm's run: reused, resumed or trained, as planned."""
    if plan[0] == "reuse":
        log(f"reusing the finished {name_of(algorithm)} run in {folder.path}/")
        return plan[1:]
    _, settings, data, resume_from = plan
    log(f"{'resuming' if resume_from else 'training'} {name_of(algorithm)} into {folder.path}/")
    extensions = extensions_for(settings, log=log)
    with folder.replacing() if resume_from is None else nullcontext():     # --force: the earlier run kept until done
        run = train(settings, data, folder, resume_from, extensions, log, config=options["config"])
        write_outputs(run, extensions, log)
    return settings, run.history, run.bounds


def compare(root, algorithms, options, data_cache, log=print):
    """Plans every algorithm's run under root (every check before any training), settles each, then writes
    root/compare/report.md and its figures; returns {algorithm: (settings, history, bounds)}."""
    root = Path(root)
    folders = [RunFolder(root / name) for name in (*algorithms, "compare")]
    try:
        for folder in folders:
            folder.lock()
        plans = {name: plan_one(folder, name, options, data_cache) for name, folder in zip(algorithms, folders)}
        check_alike(root, plans)
        try:
            results = {name: settle(folder, name, plans[name], options, log)
                       for name, folder in zip(algorithms, folders)}
        except Stopped as stopped:
            raise Stopped(f"{stopped} (or, for the whole comparison: {options['resume_command']})") from None
        with stage("writing the comparison", "every algorithm's finished run"), folders[-1].staged() as out:
            write_comparison(root, out, results, log)
        return results
    finally:
        for folder in folders:
            folder.release()


def compare_seeds(root, algorithms, seeds, options, data_cache, log=print):
    """compare for each seed into root/seed-S/, then root/compare/report.md: every algorithm's final test L_k and
    exact log p(x) per seed, and their mean ± standard deviation across seeds."""
    root = Path(root)
    per_seed = {}
    for seed in seeds:
        log(f"seed {seed}: comparing into {root / f'seed-{seed}'}/")
        explicit = {**options["explicit"], "seed": seed}
        per_seed[seed] = compare(root / f"seed-{seed}", algorithms, {**options, "explicit": explicit}, data_cache, log)
    with RunFolder(root / "compare") as folder:
        with folder.staged() as out:
            write_seed_summary(out, root, per_seed, log)

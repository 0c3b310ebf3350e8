"""python run.py compare: the algorithms side by side, answered from their numbers.

Each algorithm's run lives in its own folder under --out and is reused when it has finished with the same
settings, resumed with --resume, trained when missing, and never overwritten without --force.
"""
from pathlib import Path

import numpy as np

from experiments import figures
from experiments.checkpoint import saved_bounds
from experiments.run_folder import RunFolder, finished
from experiments.errors import Fault, Stopped, status
from experiments.report import estimate
from experiments.runner import plan, resume_plan, reusable_history, saved_run, train_and_write
from experiments.settings import NAMES, make_effective, new_settings
from experiments.training import mean_and_standard_error


def first_epoch_reaching(history, target):
    """The first evaluated epoch whose test bound is at least target, or None."""
    return next((h["epoch"] for h in history if h["test_lk"] is not None and h["test_lk"] >= target), None)


def trajectory(name, history, k):
    """One sentence on where an algorithm's test bound peaked and where it ended."""
    evaluated = [h for h in history if h["test_lk"] is not None]
    best = max(evaluated, key=lambda h: h["test_lk"])
    last = evaluated[-1]
    if best is last:
        gain = last["test_lk"] - evaluated[-2]["test_lk"] if len(evaluated) > 1 else 0.0
        return (f"{NAMES[name]}'s test L_{k} was highest at the end, epoch {last['epoch']} "
                f"({last['test_lk']:.2f}, {gain:+.2f} over the previous evaluation).")
    return (f"{NAMES[name]}'s test L_{k} peaked at epoch {best['epoch']} ({best['test_lk']:.2f}) and ended "
            f"{best['test_lk'] - last['test_lk']:.2f} nats lower at epoch {last['epoch']}.")


def verdict(histories, k):
    """Markdown that answers which converged faster and which is better, from the test bounds."""
    finals = {name: history[-1]["test_lk"] for name, history in histories.items()}
    better, worse = sorted(finals, key=finals.get, reverse=True)
    target = finals[worse]
    reached = {name: first_epoch_reaching(history, target) for name, history in histories.items()}
    lines = [f"**Better:** {NAMES[better]}, with test L_{k} = {finals[better]:.2f} against {finals[worse]:.2f} "
             f"for {NAMES[worse]} ({finals[better] - finals[worse]:.2f} nats per image)."]
    if reached[better] < reached[worse]:
        lines.append(f"**Faster:** {NAMES[better]}. It was above {NAMES[worse]}'s final test L_{k} ({target:.2f}) "
                     f"by epoch {reached[better]}; {NAMES[worse]} first got there at epoch {reached[worse]}.")
    else:
        lines.append(f"**Faster:** neither by this measure: both first reached {NAMES[worse]}'s final test "
                     f"L_{k} ({target:.2f}) at epoch {reached[better]}.")
    lines.append(" ".join(trajectory(name, history, k) for name, history in histories.items()))
    return "\n\n".join(lines)


def paired_difference(first, second):
    """Mean and standard error of first - second over the same images (paired)."""
    return mean_and_standard_error(np.asarray(first, np.float64) - np.asarray(second, np.float64))


def settle(folder, algorithm, options, data_cache, log):
    """(settings, history, per-image bounds) of one algorithm's run: reused, resumed or trained."""
    run = saved_run(folder)
    if run is not None and options["resume"]:
        settings, data, resume_from = resume_plan(folder, algorithm, options["explicit"], data_cache)
        if settings["epochs"] == resume_from[0]["epoch"] and finished(resume_from[0]):
            log(f"reusing the finished {NAMES[algorithm]} run in {folder.path}/")
            return settings, resume_from[0]["history"], saved_bounds(resume_from[1])
    else:
        wanted = new_settings(algorithm, options["explicit"], options["quick"])
        wanted = make_effective(wanted, data_cache.get(wanted["data_dir"]))
        reusable = None if options["force"] else reusable_history(folder, wanted)
        if reusable is not None:
            log(f"reusing the finished {NAMES[algorithm]} run in {folder.path}/")
            return wanted, reusable[0]["history"], saved_bounds(reusable[1])
        settings, data, resume_from = plan(folder, algorithm, options["explicit"], options["quick"], False,
                                           options["force"], data_cache)
    log(f"{'resuming' if resume_from else 'training'} {NAMES[algorithm]} into {folder.path}/")
    return (settings, *train_and_write(folder, settings, data, resume_from, options["exact"], log))


def compare(root, algorithms, options, data_cache, log=print):
    """Settles every algorithm's run under root, then writes root/compare/report.md and lk.png."""
    root = Path(root)
    folders = [RunFolder(root / name) for name in (*algorithms, "compare")]
    try:
        for folder in folders:
            folder.lock()
        try:
            results = {name: settle(folder, name, options, data_cache, log)
                       for name, folder in zip(algorithms, folders)}
        except Stopped as stopped:
            raise Stopped(f"{stopped} (or, for the whole comparison: python run.py compare {' '.join(algorithms)} "
                          f"--resume --out {root})") from None
        if len({settings["k"] for settings, _, _ in results.values()}) > 1:
            raise Fault(f"{root}: the runs were evaluated with different k; compare needs one k for all")
        status.doing, status.kept = "writing the comparison", "every algorithm's finished run"
        write_comparison(folders[-1].path, results, log)
    finally:
        for folder in folders:
            folder.release()


def write_comparison(out_dir, results, log):
    """results: {algorithm: (settings, history, bounds)}, every run evaluated with the same k."""
    histories = {name: history for name, (_, history, _) in results.items()}
    k = next(iter(results.values()))[0]["k"]
    figures.plot_lk(out_dir / "lk.png", {NAMES[name]: history for name, history in histories.items()}, k)
    names = list(histories)
    lines = [f"# {' and '.join(NAMES[name] for name in names)} side by side", "", verdict(histories, k), "",
             f"![L_{k} of every algorithm against epoch](lk.png)", ""]
    lines += ["| epoch | " + " | ".join(f"{NAMES[n]} test L_{k}" for n in names) + " | "
              + " | ".join(f"{NAMES[n]} train L_{k}" for n in names) + " |",
              "|" + " --- |" * (1 + 2 * len(names))]
    for records in zip(*histories.values()):
        if records[0]["test_lk"] is not None:
            cells = [estimate(r["test_lk"], r["test_lk_se"]) for r in records]
            cells += [estimate(r["train_lk"], r["train_lk_se"]) for r in records]
            lines.append(f"| {records[0]['epoch']} | " + " | ".join(cells) + " |")
    lines += ["", "Each algorithm's own report: "
              + ", ".join(f"[{NAMES[n]}](../{n}/report.md)" for n in names) + "."]
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")
    log(f"wrote {out_dir}/report.md and lk.png")

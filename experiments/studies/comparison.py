"""The comparison's report: which algorithm is better and which converged faster, from the runs' numbers
(compare/report.md), and the summary across seeds."""
import json
import zipfile

import numpy as np

from algorithms import name_of
from algorithms.bound import mean_and_standard_error
from experiments.outputs import figures
from experiments.outputs.diagnostics import DIAGNOSTIC_IMAGES, diagnostic_k
from experiments.outputs.report import estimate

CONVERGED_WITHIN = 1.0     # nats: "converged" = within this of the run's own final test bound, from then on


def listed(names):
    """'AEVB', 'AEVB and IWAE', 'AEVB, IWAE and RWS'."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def evaluated(history):
    return [h for h in history if h["test_lk"] is not None]


def converged_epoch(history):
    """The first evaluated epoch from which every test bound stays within CONVERGED_WITHIN nats of the final one."""
    records = evaluated(history)
    final = records[-1]["test_lk"]
    epoch = records[-1]["epoch"]
    for record in reversed(records):
        if abs(record["test_lk"] - final) > CONVERGED_WITHIN:
            break
        epoch = record["epoch"]
    return epoch


def paired_difference(first, second):
    """Mean and standard error of first - second over the same images (paired)."""
    return mean_and_standard_error(np.asarray(first, np.float64) - np.asarray(second, np.float64))


def difference_text(name, first, second, bounds):
    """'1.79 ± 0.05' from the per-image bounds of two evaluations (first, second: records), or '1.79' without them."""
    keys = (f"test/{first['epoch']}", f"test/{second['epoch']}")
    difference = first["test_lk"] - second["test_lk"]
    if bounds is None or name not in bounds or not all(key in bounds[name] for key in keys):
        return f"{difference:.2f}"
    mean, se = paired_difference(bounds[name][keys[0]], bounds[name][keys[1]])
    return f"{mean:.2f} ± {se:.2f}"


def trajectory(name, history, k, bounds=None):
    """One sentence on where an algorithm's test bound peaked and where it ended (± paired standard errors)."""
    records = evaluated(history)
    best = max(records, key=lambda h: h["test_lk"])
    last = records[-1]
    if best is last:
        if len(records) == 1:
            return f"{name_of(name)}'s test L_{k} was {last['test_lk']:.2f} at epoch {last['epoch']}."
        return (f"{name_of(name)}'s test L_{k} was highest at the end, epoch {last['epoch']} ({last['test_lk']:.2f}, "
                f"{difference_text(name, last, records[-2], bounds)} nats above the previous evaluation).")
    return (f"{name_of(name)}'s test L_{k} peaked at epoch {best['epoch']} ({best['test_lk']:.2f}) and ended "
            f"{difference_text(name, best, last, bounds)} nats lower at epoch {last['epoch']}.")


def verdict(histories, k, bounds=None):
    """Markdown that answers which is better and which converged faster, from the test bounds.

    Better: the higher final test L_k, the difference with its paired standard error when the per-image bounds are
    given (bounds: {name: {'test/100': (N,) array, ...}}). Faster: each algorithm's convergence epoch (the first
    evaluation from which its test bound stays within 1 nat of its own final value), and whether the better one was
    ahead at every evaluation both made."""
    finals = {name: evaluated(history)[-1] for name, history in histories.items()}
    ranked = sorted(finals, key=lambda name: finals[name]["test_lk"], reverse=True)
    best = ranked[0]
    lines = []
    for other in ranked[1:]:
        difference = difference_text(best, finals[best], finals[other], None)
        if bounds is not None and best in bounds and other in bounds:
            first, second = (bounds[n].get(f"test/{finals[n]['epoch']}") for n in (best, other))
            if first is not None and second is not None and len(first) == len(second):
                mean, se = paired_difference(first, second)
                difference = f"{mean:.2f} ± {se:.2f} (paired standard error over the test images)"
        lines.append(f"**Better:** {name_of(best)}, with test L_{k} = {finals[best]['test_lk']:.2f} against "
                     f"{finals[other]['test_lk']:.2f} for {name_of(other)}: {difference} nats per image.")
    converged = {name: converged_epoch(history) for name, history in histories.items()}
    fastest = min(converged, key=converged.get)
    ties = [name for name in converged if converged[name] == converged[fastest]]
    said = ", ".join(f"{name_of(name)} at epoch {epoch}" for name, epoch in converged.items())
    lines.append(f"**Faster:** {listed(name_of(n) for n in ties)}, by convergence (the first evaluation from "
                 f"which the test L_{k} stays within {CONVERGED_WITHIN:g} nat of the run's own final value): {said}.")
    for other in ranked[1:]:
        ours = {h["epoch"]: h["test_lk"] for h in evaluated(histories[best])}
        theirs = {h["epoch"]: h["test_lk"] for h in evaluated(histories[other])}
        common = sorted(set(ours) & set(theirs))
        ahead = [epoch for epoch in common if ours[epoch] > theirs[epoch]]
        if common and len(ahead) == len(common):
            lines.append(f"At equal epochs {name_of(best)} is ahead of {name_of(other)} at every evaluation both made "
                         f"(epochs {common[0]} to {common[-1]}).")
        elif common:
            lines.append(f"At equal epochs {name_of(best)} is ahead of {name_of(other)} at {len(ahead)} of the "
                         f"{len(common)} evaluations both made.")
    lines.append(" ".join(trajectory(name, history, k, bounds) for name, history in histories.items()))
    return "\n\n".join(lines)


def exact_results(run_dir):
    """(the exact summary from metrics.json, per-image log p(x) from bounds.npz) of a run, or (None, None)."""
    try:
        summary = json.loads((run_dir / "metrics.json").read_text())["final"].get("exact")
        with np.load(run_dir / "bounds.npz") as bounds:
            log_px = bounds["exact/log_px"] if "exact/log_px" in bounds.files else None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None, None
    return summary, log_px


def tuning_note(results):
    """One sentence on the learning rates, which differ between the algorithms and phases."""
    rates = [f"{settings.trainer_class.name} " + ", ".join(f"{key.replace('_', ' ')} {getattr(settings.trainer, key):g}"
                                                      for key in settings.trainer_class.learning_rates())
             for settings, _, _ in results.values()]
    return ("The tuning is unequal, as in the write-up: " + "; ".join(rates) + ". The sleep phase learns 100 times "
            "slower than the wake phase; the comparison is of the algorithms as the write-up tunes them, not at "
            "their best.") if all(settings.trainer_class.in_write_up for settings, _, _ in results.values()) \
        else "Learning rates: " + "; ".join(rates) + "."


def write_comparison(root, out_dir, results, log):
    """root/compare/report.md and lk.png (exact_gap.png when every run has the exact evaluation, diagnostics.png when
    some run recorded the per-epoch diagnostics).
    results: {algorithm: (settings, history, bounds)}, every run evaluated with the same k."""
    histories = {name: history for name, (_, history, _) in results.items()}
    k = next(iter(results.values()))[0].eval_k
    figures.plot_lk(out_dir / "lk.png", {name_of(name): history for name, history in histories.items()}, k)
    names = list(histories)
    bounds = {name: run_bounds for name, (_, _, run_bounds) in results.items()}
    lines = [f"# {listed(name_of(name) for name in names)} side by side", "", verdict(histories, k, bounds), "",
             tuning_note(results), "", f"![L_{k} of every algorithm against epoch](lk.png)", "",
             "± is the standard error over images.", ""]
    lines += ["| epoch | " + " | ".join(f"{name_of(n)} test L_{k}" for n in names) + " | "
              + " | ".join(f"{name_of(n)} train L_{k}" for n in names) + " |",
              "|" + " --- |" * (1 + 2 * len(names))]
    for records in zip(*histories.values()):
        if records[0]["test_lk"] is not None:
            cells = [estimate(r["test_lk"], r["test_lk_se"]) for r in records]
            cells += [estimate(r["train_lk"], r["train_lk_se"]) for r in records]
            lines.append(f"| {records[0]['epoch']} | " + " | ".join(cells) + " |")
    exact = {name: exact_results(root / name) for name in names}
    if all(summary is not None for summary, _ in exact.values()):
        lines += exact_comparison(out_dir, exact)
    diagnosed = [name for name, history in histories.items() if any("ess" in h for h in history)]
    if diagnosed:
        ks = {diagnostic_k(results[name][0]) for name in diagnosed}
        k_text = str(ks.pop()) if len(ks) == 1 else "each run's training k"
        figures.plot_diagnostics(out_dir / "diagnostics.png", {name_of(name): histories[name] for name in diagnosed},
                                 k_text)
        lines += ["", "## The recognition networks", "", "![the recognition networks, epoch by epoch](diagnostics.png)",
                  "", f"Measured after every epoch on the first {min(DIAGNOSTIC_IMAGES, results[diagnosed[0]][0].test_size)} "
                  f"test images, with {k_text} importance samples per image (each run's report.md explains every panel "
                  "and lists the numbers)."]
    lines += ["", "Each algorithm's own report: "
              + ", ".join(f"[{name_of(n)}](../{n}/report.md)" for n in names) + "."]
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")
    log(f"wrote {root / 'compare'}/report.md and its figures")


def exact_comparison(out_dir, exact):
    """Markdown (and exact_gap.png) for the exact log p(x) of every run: {name: (summary, per-image log p(x))}."""
    figures.plot_gaps(out_dir / "exact_gap.png", {name_of(name): summary["gaps"] for name, (summary, _) in exact.items()})
    names = list(exact)
    ks = list(next(iter(exact.values()))[0]["gaps"])
    lines = ["", "## Exact log-likelihood", "", "| | " + " | ".join(name_of(n) for n in names) + " |",
             "|" + " --- |" * (1 + len(names))]
    rows = [("test log p(x)", lambda s: s["log_px"]), ("KL(q \\|\\| p(z\\|x))", lambda s: s["kl_q_to_posterior"])]
    rows += [(f"log p(x) − L_{k}", lambda s, k=k: s["gaps"][k]) for k in ks]
    for label, pick in rows:
        lines.append(f"| {label} | " + " | ".join(estimate(*pick(exact[n][0])) for n in names) + " |")
    if len(names) == 2 and all(log_px is not None for _, log_px in exact.values()):
        (first, (_, a)), (second, (_, b)) = exact.items()
        if len(a) == len(b):
            mean, se = paired_difference(a, b)
            lines += ["", f"{name_of(first)} − {name_of(second)}, exact test log p(x): {mean:.2f} ± {se:.2f} nats per "
                      "image (paired over the test images)."]
    lines += ["", "![log p(x) - L_k against k](exact_gap.png)"]
    return lines


def across_seeds(values):
    """'-138.96 ± 0.21 (sd over 3 seeds)' for a list of per-seed values."""
    values = np.asarray(values, np.float64)
    spread = values.std(ddof=1) if values.size > 1 else 0.0
    return f"{values.mean():.2f} ± {spread:.2f}"


def write_seed_summary(out_dir, root, per_seed, log):
    seeds = list(per_seed)
    names = list(next(iter(per_seed.values())))
    k = next(iter(next(iter(per_seed.values())).values()))[0].eval_k
    lines = [f"# {listed(name_of(n) for n in names)} over seeds {', '.join(map(str, seeds))}", "",
             f"Each seed's own comparison: " + ", ".join(f"[seed {s}](../seed-{s}/compare/report.md)" for s in seeds)
             + ".", "", f"Final test L_{k} per seed (± standard error over images), and mean ± standard deviation "
             "across seeds:", "", "| algorithm | " + " | ".join(f"seed {s}" for s in seeds) + " | across seeds |",
             "|" + " --- |" * (2 + len(seeds))]
    for name in names:
        finals = [evaluated(per_seed[s][name][1])[-1] for s in seeds]
        cells = [estimate(f["test_lk"], f["test_lk_se"]) for f in finals]
        lines.append(f"| {name_of(name)} | " + " | ".join(cells) + f" | {across_seeds([f['test_lk'] for f in finals])} |")
    exact = {name: [exact_results(root / f"seed-{s}" / name)[0] for s in seeds] for name in names}
    if all(summary is not None for summaries in exact.values() for summary in summaries):
        lines += ["", "Exact test log p(x) and the gap log p(x) − L_100 per seed, and across seeds:", "",
                  "| algorithm | quantity | " + " | ".join(f"seed {s}" for s in seeds) + " | across seeds |",
                  "|" + " --- |" * (3 + len(seeds))]
        for name in names:
            for label, key in (("log p(x)", lambda e: e["log_px"]), ("log p(x) − L_100", lambda e: e["gaps"]["100"])):
                values = [key(e) for e in exact[name]]
                lines.append(f"| {name_of(name)} | {label} | " + " | ".join(estimate(*v) for v in values)
                             + f" | {across_seeds([v[0] for v in values])} |")
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")
    log(f"wrote {root / 'compare'}/report.md")

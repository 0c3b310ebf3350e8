"""The 1995 experiments, exactly (derivations/1995.md): the bars and the shifter, each network trained from 20 seeds
by every estimator on the same stream of samples, and measured by enumeration.

    python -m experiments.studies.bars --problem bars --out results/1995            # trains, writes bars.json, .npz
    python -m experiments.studies.bars --problem bars --out results/1995 --figures derivations/figures

Each estimator trains R = len(seeds) copies side by side (experiments/studies/bars_replicas.py: the plug-in's rules,
stacked), one image per copy per step, the images drawn from the exact distribution (experiments/data/bars.py).
At log-spaced numbers of samples seen, every copy's KL(P_data || P_model) in bits is computed exactly
(algorithms/binary/exact.py::enumerate_joint). At the end: each copy's KL, its recognition network's mean
KL(q || p(h | x)) under P_data, how many bars its middle units draw (drawn_bars), and for the shifter the top unit's
selectivity for the direction of the shift (selectivity).
"""
import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from algorithms.binary.exact import enumerate_joint
from algorithms.binary.exact_ml import joint_states
from experiments.harness.training import trained_model
from experiments.data.bars import DISTRIBUTIONS
from experiments.studies import bars_replicas as replicas
from nn.functional import sigmoid

# the networks and rates (derivations/1995.md, "The set-up"): plain gradient steps, one image per step
PROBLEMS = {
    "bars": {"layers": (8, 1), "samples": 1_000_000, "exact_steps": 10_000, "per_decade": 8,
             "lr": {"ws": 0.05, "exact": 0.1, "exact-stream": 0.05, "rws": 0.05, "vimco": 0.05}},
    "shifter": {"layers": (16, 1), "samples": 1_000_000, "exact_steps": 2_000, "per_decade": 1,   # no exact-stream:
                "lr": {"ws": 0.05, "exact": 0.1, "rws": 0.05, "vimco": 0.05}},    # 2^17 states, ~10 s a step
}
NAMES = {"ws": "wake-sleep", "exact": "exact ML", "exact-stream": "exact ML, one image a step", "rws": "RWS (k = 5)",
         "vimco": "VIMCO (k = 5)", "nvil": "NVIL (run.py: Adam)"}
FROM_RUNS = ("nvil",)        # trained by run.py, one run a seed (from_runs), not by the study's stacked steps
K = 5                        # RWS's and VIMCO's samples of q per image
DATA_SEED = 1995             # the stream of images, the same for every estimator


def checkpoints(last, per_decade=8, first=1000):
    """Log-spaced whole numbers from first to last."""
    first = min(first, last)
    return sorted({int(round(p)) for p in np.logspace(np.log10(first), np.log10(last),
                                                       1 + int(per_decade * np.log10(last / first)))})


def train(problem, estimator, seeds, samples=None, lr=None, log=print, init="plug-in"):
    """Trains one copy per seed by an estimator on `samples` images each, one image per step; returns {"samples":
    [...], "kl": (points, R) bits} and the final parameters. The images come from DATA_SEED's stream, the noise from
    the estimator's own. "exact-stream" is exact ML on the same stream: each image's exact gradient (Eq. (H8)), a plain
    step at the rate, and q by the sleep phase (configs/bars-exact-ml.toml's trainer). "exact" instead ascends the
    exact objective itself, sum_x P_data(x) log p(x) over the support (Eq. (H7)), by Adam for exact_steps steps: its
    "samples" are then steps, and only where it ends is compared."""
    setup, data = PROBLEMS[problem], DISTRIBUTIONS[problem]()
    layers = setup["layers"]
    steps = setup["exact_steps"] if estimator == "exact" else samples or setup["samples"]
    lr = lr or setup["lr"][estimator]
    depth, dim = len(layers), data.images.shape[1]
    params = replicas.build(seeds, dim, layers, init, data.probabilities @ data.images)
    images, noise = np.random.default_rng(DATA_SEED), np.random.default_rng([DATA_SEED, len(estimator)])
    states = joint_states(layers, 0, 2 ** sum(layers), np.float32) if estimator.startswith("exact") else None
    points, curve, began = checkpoints(steps, setup["per_decade"], 10 if estimator == "exact" else 1000), [], \
        time.perf_counter()
    adam = replicas.Adam(params, lr) if estimator == "exact" else None
    support = np.broadcast_to(data.images.astype(np.float32), (len(seeds), *data.images.shape))
    for step in range(1, steps + 1):
        x = data.sample(images, len(seeds)) if estimator != "exact" else None
        if estimator == "exact":       # the exact gradient of the exact KL: every image of the support, by P_data
            adam.ascend(params, replicas.exact_gradient(params, support, depth, states, data.probabilities))
        elif estimator == "ws":
            replicas.wake_sleep_step(params, x, noise, depth, lr, lr)
        elif estimator == "exact-stream":
            replicas.exact_sleep_step(params, x, noise, depth, lr, states)
        else:
            replicas.reweighted_step(params, x, noise, depth, K, lr, vimco=estimator == "vimco")
        if step in points:
            curve.append([data.kl_bits(enumerate_joint(replicas.to_model(params, r, dim, layers), data.images).log_px)
                          for r in range(len(seeds))])
            log(f"{problem} {estimator}: {step} {'steps' if estimator == 'exact' else 'samples'}, KL median {np.median(curve[-1]):.3f} bits "
                f"({time.perf_counter() - began:.0f} s)")
    return {"samples": points, "kl": np.array(curve)}, params


def from_runs(problem, estimator, folders):
    """Run folders of run.py, one seed each, as the study's own: their final parameters stacked as
    bars_replicas.build stacks them, the seeds, the (first) learning rate, and the exact KL curve of their metrics.csv
    ({"samples": [...], "kl": (points, R) bits}, at the epochs' ends). Every run must be the estimator's, on the
    problem's data and network, and have the same epochs."""
    layers, stacked, seeds, curves = PROBLEMS[problem]["layers"], {}, [], []
    for folder in folders:
        model, settings = trained_model(Path(folder) / "checkpoint.npz")
        if (settings.trainer_class.command, settings.data, tuple(settings.layers)) != (estimator, problem, layers):
            raise ValueError(f"{folder}: a {settings.trainer_class.command} run on {settings.data} with layers "
                             f"{list(settings.layers)}, not {estimator} on {problem} with {list(layers)}")
        for name in replicas.names(len(layers)):
            stacked.setdefault(name, []).append(model.parameters()[replicas.alias(name)])
        seeds.append(settings.seed)
        with open(Path(folder) / "metrics.csv") as table:
            curves.append({int(row["samples"]): float(row["kl_bits"]) for row in csv.DictReader(table)})
    if any(curve.keys() != curves[0].keys() for curve in curves):
        raise ValueError("the runs ended at different numbers of samples: finish them, or measure them apart")
    points = sorted(curves[0])
    kl = np.array([[curve[n] for curve in curves] for n in points])
    lr = getattr(settings.trainer, settings.trainer_class.learning_rates()[0])
    return {name: np.stack(values) for name, values in stacked.items()}, seeds, lr, {"samples": points, "kl": kl}


def drawn_bars(model, side=4):
    """The bars the middle units draw: unit j draws bar b when, with j alone on in the middle layer, the pixels whose
    probability of being on exceeds 1/2 are exactly bar b's (derivations/1995.md, "Learning a bar"). Returns the set
    of bars drawn, each as ("v" or "h", index)."""
    eye = np.eye(model.layers[0], dtype=model.dtype)
    on = (sigmoid(model.decode(eye).astype(np.float64)) > 0.5).reshape(-1, side, side)
    found = set()
    for image in on:
        for b in range(side):
            if image[:, b].all() and image.sum() == side:
                found.add(("v", b))
            if image[b, :].all() and image.sum() == side:
                found.add(("h", b))
    return found


def selectivity(data, result):
    """The top unit's selectivity for the shift (derivations/1995.md, Eq. (H11)): |E[P(t = 1 | x) | left] -
    E[P(t = 1 | x) | right]| under P_data, with P(t = 1 | x) the exact posterior (and q's, beside it): 1 when the
    top unit's state is the direction on every image that shows it (at most 0.831 on the shifter, whose blank image shows
    none), 0 when it says nothing of it."""
    weights = data.probabilities[:, None] * data.causes                       # P(x, direction), (S, 2)
    weights = weights / weights.sum(axis=0)
    exact = result.posterior_on[:, -1] @ weights
    q = result.q_on[:, -1] @ weights
    return float(abs(exact[0] - exact[1])), float(abs(q[0] - q[1]))


def measure(problem, params, seeds):
    """Per copy: the exact KL in bits, the mean KL(q || p(h | x)) in bits under P_data, the bars drawn (bars) or the
    top unit's selectivity (shifter)."""
    setup, data = PROBLEMS[problem], DISTRIBUTIONS[problem]()
    rows = []
    for r, seed in enumerate(seeds):
        model = replicas.to_model(params, r, data.images.shape[1], setup["layers"])
        result = enumerate_joint(model, data.images, posterior=True)
        row = {"seed": int(seed), "kl_bits": data.kl_bits(result.log_px),
               "q_kl_bits": float(data.probabilities @ result.kl / np.log(2))}
        if problem == "bars":
            row["bars"] = len(drawn_bars(model))
        else:
            row["selectivity"], row["q_selectivity"] = selectivity(data, result)
        rows.append(row)
    return rows


def quartiles(values):
    return [float(v) for v in np.percentile(values, [25, 50, 75])]


def table(problem, summary):
    """The saved runs as derivations/1995.md's table: KL quartiles over the seeds, and what each measure counts."""
    lines = ["| estimator | learning rate | trained on | KL(P_data \\|\\| P_model), bits: median | quartiles | "
             + ("seeds drawing all 8 bars" if problem == "bars" else "selectivity (exact posterior): median, quartiles")
             + " | mean KL(q \\|\\| p(h \\| x)), bits: median |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for estimator in [e for e in NAMES if e in summary]:
        run, rows = summary[estimator], summary[estimator]["seeds"]
        low, mid, high = run["kl_quartiles"]
        trained = f"{run['samples']} Adam steps on (H7)" if estimator == "exact" else f"{run['samples']} samples"
        if problem == "bars":
            drawn = np.median([row["bars"] for row in rows])
            measure = f"{sum(row['bars'] == 8 for row in rows)} of {len(rows)} (median {drawn:g} bars drawn)"
        else:
            sel = quartiles([row["selectivity"] for row in rows])
            measure = f"{sel[1]:.2f} ({sel[0]:.2f}, {sel[2]:.2f})"
        q_kl = "(q not trained)" if estimator == "exact" else f"{np.median([row['q_kl_bits'] for row in rows]):.3f}"
        lines.append(f"| {run['name']} | {run['lr']:g} | {trained} | {mid:.3f} | {low:.3f}, {high:.3f} | {measure} | "
                     f"{q_kl} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problem", choices=tuple(PROBLEMS), default="bars")
    parser.add_argument("--estimators", nargs="+", choices=tuple(NAMES), default=None,
                        help="default: every one the problem trains here (PROBLEMS[problem]['lr'])")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--samples", type=int, default=None, help="images seen by each copy (default the problem's)")
    parser.add_argument("--out", type=Path, default=Path("results/1995"))
    parser.add_argument("--figures", type=Path, default=None, help="write the figures from the saved runs only")
    parser.add_argument("--lr", type=float, default=None, help="every estimator's rate (default the problem's own)")
    parser.add_argument("--table", action="store_true", help="print the saved runs' table (Markdown) only")
    parser.add_argument("--init", choices=replicas.INITS, default="plug-in",
                        help="the initial weights (experiments/studies/bars_replicas.py::build)")
    parser.add_argument("--runs", type=Path, nargs="+", default=None,
                        help=f"run.py's run folders, one seed each, measured as the one estimator named ({FROM_RUNS})")
    args = parser.parse_args(argv)
    if args.table:
        return print(table(args.problem, json.loads((args.out / f"{args.problem}.json").read_text())))
    if args.figures:
        from experiments.studies.bars_figures import figures      # imported here: training needs no matplotlib
        return figures(args.problem, args.out, args.figures, PROBLEMS[args.problem], NAMES)
    trained = PROBLEMS[args.problem]["lr"]
    args.estimators = args.estimators or list(trained)
    if args.init == "the-bars" and args.problem != "bars":
        parser.error("--init the-bars is the bars' own network (16-8-1), not the shifter's")
    if args.runs:
        if args.estimators[0] not in FROM_RUNS or len(args.estimators) != 1:
            parser.error(f"--runs measures run folders as one estimator of {', '.join(FROM_RUNS)}")
        given = [flag for flag in ("init", "lr", "samples") if getattr(args, flag) != parser.get_default(flag)]
        if given:
            parser.error(f"--runs measures the runs as they trained: --{given[0]} does not apply")
    else:
        refused = [e for e in args.estimators if e not in trained]
        if refused:
            parser.error(f"{refused[0]} is not trained here on the {args.problem} ("
                         + ("run.py trains it: --runs" if refused[0] in FROM_RUNS else "2^17 states a step") + ")")
    args.out.mkdir(parents=True, exist_ok=True)
    summary_path = args.out / f"{args.problem}.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    for estimator in args.estimators:
        began = time.perf_counter()
        if args.runs:
            try:
                params, seeds, lr, curve = from_runs(args.problem, estimator, args.runs)
            except ValueError as error:
                parser.error(str(error))
        else:
            seeds, lr = list(range(args.seeds)), args.lr or PROBLEMS[args.problem]["lr"][estimator]
            curve, params = train(args.problem, estimator, seeds, args.samples, lr, init=args.init)
        rows = measure(args.problem, params, seeds)
        seconds = time.perf_counter() - began
        np.savez(args.out / f"{args.problem}-{estimator}.npz", **params, samples=curve["samples"], kl=curve["kl"])
        kl = [row["kl_bits"] for row in rows]
        summary[estimator] = {"name": NAMES[estimator], "lr": lr, "samples": curve["samples"][-1], "seconds": seconds,
                              "seeds": rows, "init": "plug-in" if args.runs else args.init,
                              "kl_quartiles": quartiles(kl)}
        line = f"{args.problem} {NAMES[estimator]}: KL {np.median(kl):.3f} bits (quartiles {quartiles(kl)[0]:.3f}, " \
               f"{quartiles(kl)[2]:.3f})"
        if args.problem == "bars":
            line += f", {sum(row['bars'] == 8 for row in rows)} of {len(rows)} seeds draw all 8 bars"
        else:
            line += f", selectivity median {np.median([row['selectivity'] for row in rows]):.2f}"
        print(f"{line}; {seconds:.0f} s for {len(seeds)} seeds")
        summary_path.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

"""Everything a finished run leaves in its folder: metrics.json, metrics.csv, bounds.npz, the figures and report.md,
with each extension's part (experiments/outputs/__init__.py)."""
import csv
import json
import math
import time

import numpy as np

from algorithms import name_of
from experiments.data import source_of
from experiments.errors import stage
from experiments.harness.stored import stored
from experiments.outputs import figures
from experiments.outputs.report import ACTIVE_THRESHOLD, write_report

N_TILES, N_SCATTER, MANIFOLD_SIZE, PRIOR_REACH = 100, 5000, 20, 3.0
FIGURES = ("lk.png", "losses.png", "reconstructions.png", "latent_scatter.png", "latent_manifold.png")


def write_outputs(run, extensions=(), log=print):
    """metrics.json, metrics.csv, bounds.npz, every figure and report.md of a finished run (a Run of
    experiments/harness/training.py), with what each extension adds at the end of the run."""
    kept = (f"the finished run's checkpoint; python run.py {run.settings.algorithm} --resume --out "
            f"{run.folder.path} writes its outputs again")
    with stage(f"writing the outputs into {run.folder.path}/", kept), run.folder.staged() as out:
        figure_note = write_figures(run, out)          # every file into a staging folder, then renamed over its own
        bounds, final, sections = dict(run.bounds), final_numbers(run.history), []
        for extension in extensions:                 # each sees the per-image arrays of those before it
            with stage(extension.doing, kept):
                sections.append(extension.run_end(run, out, log, dict(bounds)))
            final.update(sections[-1].final)
            bounds.update(sections[-1].arrays)
        activities = unit_activities(run.model, run.images.test)
        final["active_units"] = int((activities > ACTIVE_THRESHOLD).sum())
        final["unit_activities"] = activities.tolist()
        final.update(data=run.settings.data_dir or source_of(run.settings).title, test_images=len(run.images.test),
                     train_bound_images=len(run.images.train_subset))
        columns = run.columns() + [column for extension in extensions for column in extension.columns]
        final["total_seconds"] = time.perf_counter() - run.began     # by the wall clock, the extensions included
        write_metrics(run, out, columns, final)
        with open(out / "bounds.npz", "wb") as handle:   # per-image L_k, keyed 'test/10', 'exact/log_px', ...
            np.savez(handle, **bounds)
        write_report(run, out, final, figure_note, sections)
    log(f"wrote {run.folder.path}/: report.md, metrics.json, metrics.csv, bounds.npz and the figures")


def final_numbers(history):
    last = history[-1]
    final = {key: value for key, value in last.items() if key != "seconds"}
    final["train_seconds"] = sum(h["seconds"] for h in history)
    return final


def strict_json(value):
    """value with every non-finite float replaced by None, so that the file is JSON (no NaN, no Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    return value


def write_metrics(run, out, columns, final):
    """metrics.json (settings, the configuration file's name and values if any, every epoch's record, the final
    numbers) and metrics.csv (one row per epoch, in the given columns)."""
    metrics = {"algorithm": run.settings.algorithm, "settings": stored(run.settings), "config": run.config,
               "history": run.history, "final": final}
    text = json.dumps(strict_json(metrics), indent=2, allow_nan=False) + "\n"
    (out / "metrics.json").write_text(text)
    with open(out / "metrics.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(run.history)


def unit_activities(model, images, chunk_size=1000):
    """A_j = Var_x E_q[z_j | x] = Var_x mu_j(x) over the images, per latent unit j (Burda, Grosse & Salakhutdinov
    2015, section 5.2): a unit whose q-mean does not move with x carries no information about x, and the paper
    calls it active when A_j > ACTIVE_THRESHOLD. images: (N, D) -> (J,), float64."""
    means = np.concatenate([model.encode(images[start:start + chunk_size])[0]
                            for start in range(0, images.shape[0], chunk_size)])
    return means.astype(np.float64).var(axis=0)


def write_figures(run, out_dir):
    """Draws every figure of the homework from the run's test images into out_dir; returns a note for the report when
    the latent manifold is skipped (J != 2)."""
    config, model, shape = run.settings, run.model, run.image_shape
    test, test_labels = run.images.test, run.images.test_labels
    picker = np.random.default_rng([config.seed, 2])
    name = name_of(config.algorithm)
    figures.plot_lk(out_dir / "lk.png", {name: run.history}, config.eval_k)
    figures.plot_losses(out_dir / "losses.png", run.history, run.trainer.losses)

    shown = test[np.sort(picker.choice(test.shape[0], min(N_TILES, test.shape[0]), replace=False))]
    shown = np.resize(shown, (N_TILES, shown.shape[1]))  # a test set of fewer than 100 images repeats
    mean, _ = model.encode(shown)
    figures.save_reconstructions(out_dir / "reconstructions.png", shown, model.likelihood.mean(model.decode(mean)), shape,
                                 f"{name}: 100 test images and their reconstructions E[x | z = mu(x)]")

    scatter_rows = np.sort(picker.choice(test.shape[0], min(N_SCATTER, test.shape[0]), replace=False))
    means, _ = model.encode(test[scatter_rows])
    figures.plot_latent_scatter(out_dir / "latent_scatter.png", means[:, :2], test_labels[scatter_rows])
    if config.latent_dim != 2:
        shown = "a strip of its one coordinate per class" if config.latent_dim == 1 else "its first two coordinates"
        return (f"The latent space has {config.latent_dim} dimensions: the scatter shows {shown}, and the "
                "manifold, defined for a 2-D latent only, is not drawn.")
    limits, which = manifold_limits(means)
    grid = figures.latent_grid(MANIFOLD_SIZE, limits).astype(model.dtype)
    figures.save_manifold(out_dir / "latent_manifold.png", model.likelihood.mean(model.decode(grid)), shape, MANIFOLD_SIZE, limits,
                          f"{name}: decoded on a {MANIFOLD_SIZE} x {MANIFOLD_SIZE} grid over [{limits[0]:.2f}, "
                          f"{limits[1]:.2f}]$^2$\n({which})")
    return None


def manifold_limits(means):
    """The manifold's square: the prior's +-3 or the test codes' 1st to 99th percentiles on either axis, whichever
    reaches further; returns ((low, high), which)."""
    low, high = np.percentile(means, [1, 99], axis=0)
    reach = max(-low.min(), high.max())
    if reach <= PRIOR_REACH:
        return (-PRIOR_REACH, PRIOR_REACH), "the prior's ±3"
    return (-float(reach), float(reach)), "the codes' 1st to 99th percentiles"

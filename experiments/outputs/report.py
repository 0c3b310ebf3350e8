"""report.md: the figures, the final numbers with their standard errors, the settings, the history, and each
extension's section."""
import platform

import numpy as np

from algorithms import name_of
from experiments.data import kind_name
from experiments.harness.settings import by_name, describe
from experiments.harness.stored import stored

ACTIVE_THRESHOLD = 0.01        # a latent unit is active when Var_x E_q[z_j | x] exceeds it (write.py::unit_activities)
CAPTIONS = {
    "lk.png": "L_k on test and train data against epoch",
    "losses.png": "training losses against epoch",
    "reconstructions.png": "100 test images and their reconstructions, sigm(f_theta(mu_phi(x)))",
    "latent_scatter.png": "latent means of test images, coloured by class",
    "latent_manifold.png": "decoded images on a regular 20 x 20 grid of the latent space, each where the axes say",
}

def cell(value):
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) >= 0.01 else f"{value:g}"
    return str(value)


def applies(key, config):
    """Whether a setting means anything in this run (the decay's epochs do not under a constant schedule)."""
    return {"lr_decay_epochs": config.lr_schedule == "decay", "lr_drop_epoch": config.lr_schedule == "drop",
            "nll_k": config.binarize != "none"}.get(key, True)


def estimate(mean, standard_error):
    """'-138.96 ± 0.49': a mean over images with its standard error (a run made before they were kept has none)."""
    return f"{mean:.2f}" if standard_error is None else f"{mean:.2f} ± {standard_error:.2f}"


def write_report(run, out_dir, final, figure_note, sections):
    config, history = run.settings, run.history
    k, losses = config.eval_k, run.trainer.losses
    epochs = f"{len(history)} epoch{'s' if len(history) != 1 else ''}"
    lines = [f"# {name_of(config.algorithm)} on {final['data']}", "",
             f"{epochs}: {final['train_seconds'] / 60:.1f} minutes of training; the invocation that "
             f"wrote this report took {final['total_seconds'] / 60:.1f} minutes by the wall clock, from building the "
             "model to this report, with every evaluation and figure "
             f"({platform.machine()}, Python {platform.python_version()}, NumPy {np.__version__}).", "",
             "## Final numbers", "", "| quantity | value |", "| --- | --- |",
             f"| test L_{k} ({final['test_images']} images) | {estimate(final['test_lk'], final['test_lk_se'])} |",
             f"| train L_{k} ({final['train_bound_images']} training images) | "
             f"{estimate(final['train_lk'], final['train_lk_se'])} |"]
    lines += [f"| last epoch's mean {name.replace('_', ' ')} | {cell(final[name])} |" for name in losses]
    rows = [row for section in sections for row in section.rows]
    if hasattr(run.kind, "report_rows"):
        rows += run.kind.report_rows(final, config)
    lines += [f"| {label} | {estimate(mean, se)} |" for label, mean, se in rows]
    lines.append(f"| active units: Var over the test images of E_q[z_j] above {ACTIVE_THRESHOLD:g} | "
                 f"{final['active_units']} of {config.latent_dim} |")
    bounded = run.model.likelihood.bounds.get(kind_name(config), "")
    lines += ["", "In nats per image; ± is the standard error of the mean over images. " + bounded, ""]
    if run.config:
        given = ", ".join(f"{key} {describe(value)}" for key, value in run.config["values"].items())
        lines += [f"Configuration file: `{run.config['file']}` ({given}); flags given beside it override it.", ""]
    lines += ["## Settings", "", "| setting | value |", "| --- | --- |"]
    offered = by_name(config.algorithm)
    lines += [f"| {offered[key].option if key in offered else key} | {cell(value)} |"
              for key, value in stored(config).items() if applies(key, config)]
    lines += ["", "## Figures", ""]
    for name, caption in CAPTIONS.items():
        if (out_dir / name).exists():
            lines += [f"**{caption}**", "", f"![{caption}]({name})", ""]
    if figure_note:
        lines += [figure_note, ""]
    lines += config.trainer_class.report_lines(config.trainer, history)
    for section in sections:
        lines += section.lines
    columns = run.columns()
    lines += ["## History", "", "| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(record.get(c)) for c in columns) + " |" for record in history]
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")


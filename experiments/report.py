"""report.md: the figures, the hyperparameters, the final numbers and the time taken."""
import platform

import numpy as np

from experiments.dequantize import discrete_bound
from experiments.diagnostics import ACTIVE_THRESHOLD, DIAGNOSTICS, diagnostic_k
from experiments.outputs import FIGURES
from experiments.settings import NAMES
from experiments.training import history_columns, loss_names

CAPTIONS = {
    "lk.png": "L_k on test and train data against epoch",
    "losses.png": "training losses against epoch",
    "diagnostics.png": "the recognition network, epoch by epoch, on the first 1000 test images",
    "reconstructions.png": "100 test images and their reconstructions, sigm(f_theta(mu_phi(x)))",
    "latent_scatter.png": "latent means of test images, coloured by class",
    "latent_manifold.png": "decoded images on a regular 20 x 20 grid of the latent space, each where the axes say",
}
DIAGNOSTICS_NOTE = ("Measured after every epoch on the first 1000 test images (derivations/iwae.md, RWS's divergence): "
                    "q's log-variances (minimum, 1st percentile, median, 99th percentile, maximum over images and "
                    "latent dimensions), the largest |mean|, the mean KL(q(z|x) || p(z)), and over {k} importance "
                    "samples per image the mean effective sample size over {k} (ess), the fraction of images whose "
                    "largest normalized weight exceeds 0.9 (dominated), and -sum_i w~_i log q(z_i | x), the "
                    "self-normalized estimate of -log q at the true posterior's samples (data_log_q; what the sleep "
                    "loss measures on dreams). On as many dreams z ~ p(z), x ~ p(x | z) (the same each epoch): "
                    "-log q(z | x) (dream_log_q), the mean KL(q(z|x) || p(z)) and the largest |mean| of q, and the "
                    "mean root-mean-square pixel distance from a dream to its nearest test image (dream_nearest), "
                    "beside that from a test image to its nearest other one (data_nearest).")


WHAT_IS_BOUNDED = {
    ("bernoulli", "grey"): "The grey levels in [0, 1] are the Bernoulli targets (the write-up's convention), so L_k "
                           "bounds the log of an unnormalized score, not a log-probability: compare numbers only "
                           "between runs that treat the data alike (derivations/likelihoods.md).",
    ("bernoulli", "binary"): "The images are binarized, so L_k bounds the log-probability of a normalized model, "
                             "comparable with the literature's numbers on binarized MNIST (derivations/likelihoods.md).",
    ("continuous-bernoulli", "grey"): "The continuous Bernoulli is a density on [0, 1]^D, so L_k bounds a log-density: "
                                      "positive values are no error (derivations/likelihoods.md).",
    ("continuous-bernoulli", "binary"): "The continuous Bernoulli on binary images: a density, but the data are "
                                        "discrete, so L_k bounds a log-density at the corners of [0, 1]^D.",
    ("continuous-bernoulli", "dequantized"): "The images are dequantized, y = (k + u) / 256 "
                                             "(derivations/likelihoods.md), so L_k bounds the log-density of y under "
                                             "a normalized density on [0, 1]^D, and L_k - D log 256 the "
                                             "log-probability of the 8-bit images.",
}


def data_kind(config):
    """What the run's images are: "dequantized", "binary" (--binarize) or "grey" (the write-up's)."""
    if config.get("dequantize"):
        return "dequantized"
    return "grey" if config["binarize"] == "none" else "binary"


def cell(value):
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) >= 0.01 else f"{value:g}"
    return str(value)


def estimate(mean, standard_error):
    """'-138.96 ± 0.49': a mean over images with its standard error (a run made before they were kept has none)."""
    return f"{mean:.2f}" if standard_error is None else f"{mean:.2f} ± {standard_error:.2f}"


def write_report(out_dir, config, history, final, figure_note):
    k, losses = config["k"], loss_names(config)
    lines = [f"# {NAMES[config['algorithm']]} on {final['data']}", "",
             f"{len(history)} epochs: {final['train_seconds'] / 60:.1f} minutes of training; the invocation that "
             f"wrote this report took {final['total_seconds'] / 60:.1f} minutes with evaluation and figures "
             f"({platform.machine()}, Python {platform.python_version()}, NumPy {np.__version__}).", "",
             "## Final numbers", "", "| quantity | value |", "| --- | --- |",
             f"| test L_{k} ({final['test_images']} images) | {estimate(final['test_lk'], final['test_lk_se'])} |",
             f"| train L_{k} ({final['train_bound_images']} training images) | "
             f"{estimate(final['train_lk'], final['train_lk_se'])} |"]
    lines += [f"| last epoch's mean {name.replace('_', ' ')} | {cell(final[name])} |" for name in losses]
    if "nll" in final:
        lines.append(f"| test negative log-likelihood, -L_{final['nll_k']} | {estimate(final['nll'], final['nll_se'])} |")
    if "active_units" in final:
        lines.append(f"| active units: Var over the test images of E_q[z_j] above {ACTIVE_THRESHOLD:g} | "
                     f"{final['active_units']} of {config['latent_dim']} |")
    if config.get("dequantize"):
        bound = discrete_bound(final["test_lk"], int(np.prod(config["image_shape"])))
        lines.append(f"| test L_{k} - D log 256: a bound on the 8-bit images' log-probability | "
                     f"{estimate(bound, final['test_lk_se'])} |")
    lines += ["", "In nats per image; ± is the standard error of the mean over images. " + WHAT_IS_BOUNDED[
        config["likelihood"], data_kind(config)], "", "## Settings", "", "| setting | value |", "| --- | --- |"]
    lines += [f"| {key} | {cell(value)} |" for key, value in config.items()]
    lines += ["", "## Figures", ""]
    for name in FIGURES:
        if (out_dir / name).exists():
            lines += [f"**{CAPTIONS[name]}**", "", f"![{CAPTIONS[name]}]({name})", ""]
    if figure_note:
        lines += [figure_note, ""]
    if config["algorithm"] == "wake-sleep" and len(history) < 10:
        lines += [f"{len(history)} epochs are too few for Wake-Sleep to learn visibly: with the sleep phase's learning "
                  f"rate of {config['sleep_lr']:g}, the recognition network has barely moved from its initialization, "
                  "so it maps every image to nearly the same code, and the reconstructions are nearly one and the same "
                  "blob. This is expected, not a fault; the 100-epoch run of section 1.6 is where it learns.", ""]
    if "exact" in final:
        from experiments.exact_evaluation import report_lines
        lines += report_lines(final["exact"], k)
    columns = history_columns(config)
    lines += ["## History", "", "| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(record.get(c)) for c in columns) + " |" for record in history]
    diagnosed = [record for record in history if "ess" in record]
    if diagnosed:
        columns = ["epoch", *DIAGNOSTICS]
        lines += ["", "## Diagnostics", "", DIAGNOSTICS_NOTE.format(k=diagnostic_k(config)), "",
                  "| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
        lines += ["| " + " | ".join(cell(record.get(c)) for c in columns) + " |" for record in diagnosed]
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")

"""What the recognition network does, epoch by epoch: the numbers behind a run's stall or divergence
(derivations/iwae.md, RWS's divergence; derivations/wake-sleep-diagnosis.md), and on the model's own dreams.

Every number is measured on the test images, or on dreams, with its own noise stream ([seed, 2], [seed, 3]), so
recording them changes no training number and two epochs compare on the same noise.
"""
import numpy as np

from algorithms import name_of
from algorithms.bound import log_importance_weights
from algorithms.model import reparameterize
from algorithms.wake_sleep import dream
from experiments.outputs.extension import Extension, Section
from experiments.outputs.figures import plot_diagnostics
from experiments.outputs.report import cell
from nn import gaussian_kl_from_standard_normal, gaussian_log_density, log_mean_exp_backward

# the columns a history record gains, in the order metrics.csv shows them
DIAGNOSTICS = ("log_var_min", "log_var_p01", "log_var_median", "log_var_p99", "log_var_max", "mean_abs_max",
               "kl_prior", "ess", "dominated", "data_log_q",
               "dream_log_q", "dream_kl_prior", "dream_mean_abs_max", "dream_nearest", "data_nearest")


def diagnostic_k(settings):
    """The importance samples per image of a run's diagnostics: its training k (IWAE, RWS), else 5."""
    return getattr(settings.trainer, "k", 5)


def normalized_weights(log_w):
    """w~_i = w_i / sum_j w_j over axis 0, from log-weights: the softmax that is log-mean-exp's gradient (Eq. (B16)).
    (k, N) -> (k, N)."""
    return log_mean_exp_backward(np.ones(log_w.shape[1]), log_w, axis=0)


def effective_sample_size(log_w):
    """Kish's effective sample size 1 / sum_i w~_i^2 of each column's k weights: k when they are equal,
    1 when one sample takes all the weight. (k, N) -> (N,)."""
    return 1.0 / (normalized_weights(log_w) ** 2).sum(axis=0)


def recognition_diagnostics(model, images, k, seed, chunk_size=500):
    """q's log-variances (min, 1st percentile, median, 99th percentile, max over images and latent dimensions),
    the largest |mean|, the mean KL(q(z|x) || p(z)) (closed form, Eq. (B13)), and over k importance samples per image
    the mean effective sample size divided by k ("ess"), the fraction of images where one sample holds more than
    90% of the normalized weight ("dominated"), and -sum_i w~_i log q(z_i | x), the self-normalized estimate of
    E_p(z|x)[-log q(z | x)] ("data_log_q": what the sleep loss measures on dreams, here on real images; biased for
    small k). images: (N, D) -> dict of floats keyed by DIAGNOSTICS."""
    rng = np.random.default_rng([seed, 2])
    log_vars, means, kl, ess, dominated, data_log_q = [], [], [], [], [], []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # a diverging run reports inf, not a warning
        for start in range(0, images.shape[0], chunk_size):
            rows = images[start:start + chunk_size]
            mean, log_var = model.encode(rows)
            log_vars.append(log_var.ravel())
            means.append(np.abs(mean).max())
            kl.append(gaussian_kl_from_standard_normal(mean, log_var))
            eps = rng.standard_normal((k, rows.shape[0], model.latent_dim), dtype=model.dtype)
            log_w = log_importance_weights(model, rows, eps, encoded=(mean, log_var)).astype(np.float64)
            weights = normalized_weights(log_w)
            ess.append(effective_sample_size(log_w))
            dominated.append(weights.max(axis=0) > 0.9)
            log_q = gaussian_log_density(reparameterize(mean, log_var, eps), mean, log_var)
            data_log_q.append(-(weights * log_q).sum(axis=0))
    log_vars = np.concatenate(log_vars).astype(np.float64)
    low, p01, median, p99, high = np.percentile(log_vars, [0, 1, 50, 99, 100])
    return {"log_var_min": low, "log_var_p01": p01, "log_var_median": median, "log_var_p99": p99,
            "log_var_max": high, "mean_abs_max": float(max(means)),
            "kl_prior": float(np.concatenate(kl).mean()), "ess": float(np.concatenate(ess).mean() / k),
            "dominated": float(np.concatenate(dominated).mean()),
            "data_log_q": float(np.concatenate(data_log_q).mean())}


def nearest_distances(images, references, exclude_self=False):
    """Root-mean-square pixel distance from each image to its nearest reference, sqrt(min_j |x_i - r_j|^2 / D), by
    |x|^2 + |r|^2 - 2 x.r in float64; with exclude_self (images is references), each image's own row is skipped.
    (N, D), (M, D) -> (N,)."""
    images, references = images.astype(np.float64), references.astype(np.float64)
    squared = (images ** 2).sum(axis=1)[:, None] + (references ** 2).sum(axis=1)[None, :] - 2 * images @ references.T
    if exclude_self:
        np.fill_diagonal(squared, np.inf)
    return np.sqrt(np.maximum(squared.min(axis=1), 0.0) / images.shape[1])


def dream_diagnostics(model, images, seed, dreams="samples"):
    """q on the model's own dreams, beside what recognition_diagnostics measures on real images: as many dreams as
    images, z ~ N(0, I) and x ~ p(x | z) (Eq. (5); or the decoder's means, dreams="means", Eq. (W6)), from the noise
    stream [seed, 3]. -log q(z | x) on them ("dream_log_q": the sleep loss, on the same dreams every epoch), the mean
    KL(q(z|x) || p(z)) and the largest |mean| of q on them, and how far the dreams are from the data: the mean
    distance from a dream to its nearest image ("dream_nearest"), beside the mean distance from an image to its
    nearest other image ("data_nearest"), both by nearest_distances. images: (N, D) -> dict of floats."""
    rng = np.random.default_rng([seed, 3])
    z = rng.standard_normal((images.shape[0], model.latent_dim), dtype=model.dtype)
    uniforms = rng.random((images.shape[0], model.data_dim), dtype=model.dtype)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # a diverging run reports inf, not a warning
        x = dream(model, z, uniforms, dreams)
        mean, log_var = model.encode(x)
        return {"dream_log_q": float(-gaussian_log_density(z, mean, log_var).mean()),
                "dream_kl_prior": float(gaussian_kl_from_standard_normal(mean, log_var).mean()),
                "dream_mean_abs_max": float(np.abs(mean).max()),
                "dream_nearest": float(nearest_distances(x, images).mean()),
                "data_nearest": float(nearest_distances(images, images, exclude_self=True).mean())}


DIAGNOSTIC_IMAGES = 1000   # the first test images, on which every epoch's diagnostics are measured
NOTE = """Measured after every epoch on the first {n} test images and on {n} of the model's dreams (z ~ p(z),
x ~ p(x | z), the same dreams every epoch), each with a noise stream of its own, so that recording them changes no
training number (derivations/wake-sleep-diagnosis.md reads them). The panels of diagnostics.png:

- **a.** q's log-variances over the test images and latent dimensions: median (line), 1st to 99th percentile (band),
  minimum and maximum (dotted). Far below 0, q is much narrower than the prior.
- **b.** q's largest |mean| on the test images (solid) and on the dreams (dashed). Codes far beyond the prior's ±3 lie
  where no dream comes from, so nothing trains q there.
- **c.** the mean KL(q(z|x) || p(z)) on test images and on dreams: how far from the prior q puts each image's code.
- **d.** with {k} importance samples z_i ~ q(z|x) per test image, weights w_i = p(x, z_i) / q(z_i|x): the effective
  sample size (sum w)^2 / sum w^2 over {k} (1 when the weights are equal, 1/{k} when one sample carries them all;
  column ess), and the fraction of images whose largest normalized weight exceeds 0.9 (dashed; column dominated).
- **e.** -log q(z|x): on the dreams, the sleep phase's own loss (dream_log_q); on test images, -sum_i w~_i log q(z_i|x)
  with the normalized weights w~, a self-normalized estimate of the same at the true posterior's samples (data_log_q,
  biased for small k).
- **f.** the root-mean-square pixel distance from each dream to its nearest test image (dashed; dream_nearest),
  beside that from a test image to its nearest other test image (dotted; data_nearest): dreams far above the dotted
  line look like no image of the data."""


class Diagnostics(Extension):
    """The extension of --diagnostics (experiments/outputs/__init__.py): after every epoch, recognition_diagnostics
    and dream_diagnostics on the first DIAGNOSTIC_IMAGES test images, as the record's DIAGNOSTICS columns; at the end,
    diagnostics.png and a section of report.md with the numbers."""

    columns = DIAGNOSTICS

    def __init__(self, settings):
        super().__init__(settings)
        self.k, self.seed, self.dreams = diagnostic_k(settings), settings.seed, getattr(settings.trainer, "dreams", "samples")

    def epoch_end(self, run, record):
        images = run.images.test[:DIAGNOSTIC_IMAGES]
        record.update(recognition_diagnostics(run.model, images, self.k, self.seed))
        record.update(dream_diagnostics(run.model, images, self.seed, self.dreams))

    def run_end(self, run, out, log, arrays):
        diagnosed = [record for record in run.history if "ess" in record]
        if not diagnosed:         # a run made before the diagnostics were recorded has none
            return Section()
        plot_diagnostics(out / "diagnostics.png", {name_of(run.settings.algorithm): run.history},
                         self.k)
        columns = ["epoch", *DIAGNOSTICS]
        n = min(DIAGNOSTIC_IMAGES, len(run.images.test))
        lines = ["## Diagnostics", "", "![the recognition network, epoch by epoch](diagnostics.png)", "",
                 NOTE.format(n=n, k=self.k), "",
                 "| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
        lines += ["| " + " | ".join(cell(record.get(c)) for c in columns) + " |" for record in diagnosed]
        return Section(lines=lines + [""])

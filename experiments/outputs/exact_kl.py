"""The exact measure of a run on a distribution known in closed form (--data bars, shifter; experiments/data/synthetic.py
and derivations/1995.md). After every epoch: KL(P_data || P_model) in bits (Eq. (H3)), from the exact log p(x) of every
image of the support, summed over every joint state of the binary layers (algorithms/binary/exact.py::enumerate_joint,
Eq. (H4)), and the exact KL(q(h | x) || p(h | x)) (Eq. (H5)) averaged under P_data, in bits. At the end: report.md's
section (both per epoch, H(P_data), each image's P_data beside P_model) and units.png, what the generative network
draws with each unit of its first layer alone on, beside dreams of the model."""
import math

import numpy as np

from algorithms.binary.exact import enumerate_joint
from algorithms.binary.model import dream
from experiments.data import source_of
from experiments.outputs.extension import Extension, Section
from experiments.outputs.figures import plt, tile

SHOWN = 40          # the support's most probable images listed in report.md, each with P_data and P_model
DREAMS = 16


def exact_measures(model, distribution):
    """{kl_bits: KL(P_data || P_model) (Eq. (H3)), q_kl_bits: sum_x P_data(x) KL(q(h|x) || p(h|x)) / log 2 (Eq. (H5))}
    and the enumeration of the support (algorithms/binary/exact.py::JointEnumeration)."""
    measured = enumerate_joint(model, distribution.images, posterior=True)
    kl_bits = distribution.kl_bits(measured.log_px)
    q_kl_bits = float(distribution.probabilities @ measured.kl / math.log(2))
    return {"kl_bits": kl_bits, "q_kl_bits": q_kl_bits}, measured


def pixels_text(image, shape):
    """A binary image as its rows of 0s and 1s, '1000/1000/1000/1000'."""
    return "/".join("".join(str(int(v)) for v in row) for row in np.asarray(image).reshape(shape))


class ExactKL(Extension):
    """The extension every run on a synthetic source has (experiments/outputs/__init__.py, chosen by the source)."""

    columns = ("samples", "kl_bits", "q_kl_bits")
    doing = "measuring the model exactly over the support of P_data"

    def __init__(self, settings):
        super().__init__(settings)
        self.distribution = source_of(settings).distribution()

    def epoch_end(self, run, record):
        record["samples"] = record["epoch"] * run.settings.train_size       # images seen, each drawn afresh
        record.update(exact_measures(run.model, self.distribution)[0])

    def run_end(self, run, out, log, arrays):
        distribution, model, settings = self.distribution, run.model, run.settings
        numbers, measured = exact_measures(model, distribution)
        units = sum(model.layers)
        summary = {**numbers, "entropy_bits": distribution.entropy_bits(), "joint_states": 2 ** units,
                   "support": len(distribution.probabilities), "samples": run.history[-1]["samples"]}
        log(f"KL(P_data || P_model) {numbers['kl_bits']:.4f} bits, mean KL(q || p(h|x)) {numbers['q_kl_bits']:.4f} "
            f"bits, exactly over the {summary['support']} images of the support and the 2^{units} joint states "
            f"(H(P_data) {summary['entropy_bits']:.3f} bits)")
        draw_units(out / "units.png", model, distribution.shape, settings.seed, source_of(settings).title)
        rows = [("KL(P_data \\|\\| P_model), bits, exact (Eq. (H3))", numbers["kl_bits"], None),
                ("mean KL(q(h\\|x) \\|\\| p(h\\|x)) under P_data, bits, exact (Eq. (H5))", numbers["q_kl_bits"], None)]
        arrays = {"exact/support_log_px": measured.log_px, "exact/support_kl": measured.kl,
                  "exact/support_posterior_on": measured.posterior_on, "exact/support_q_on": measured.q_on}
        return Section(final={"exact_kl": summary}, arrays=arrays, rows=rows,
                       lines=report_lines(summary, run, distribution, measured))


def report_lines(summary, run, distribution, measured):
    title, units = source_of(run.settings).title, sum(run.model.layers)
    lines = [f"## Exact measures on {title}", "",
             f"Summed over every joint state of the {units} binary units (2^{units} = {summary['joint_states']}) for "
             f"each of the {summary['support']} images of P_data's support, after {summary['samples']} training "
             "images, each drawn afresh from P_data (derivations/1995.md):", "",
             f"- KL(P_data || P_model) = **{summary['kl_bits']:.4f} bits** (Eq. (H3)); H(P_data) = "
             f"{summary['entropy_bits']:.3f} bits;",
             f"- the exact KL(q(h|x) || p(h|x)) averaged under P_data = {summary['q_kl_bits']:.4f} bits (Eq. (H5)).", "",
             "The test and train L_k above bound log p(x) of a normalized model, in nats, on fixed draws from P_data "
             "(the same for every run on these data); their mean is -H(P_data) - KL(P_data || P_model) in nats, "
             "up to the gap of L_k and the draws' sampling error.", "",
             "| epoch | images seen | KL(P_data \\|\\| P_model), bits | mean KL(q \\|\\| p(h\\|x)), bits |",
             "| --- | --- | --- | --- |"]
    lines += [f"| {r['epoch']} | {r['samples']} | {r['kl_bits']:.4f} | {r['q_kl_bits']:.4f} |" for r in run.history]
    order = np.argsort(-distribution.probabilities, kind="stable")[:SHOWN]
    shown = "every image" if len(order) == summary["support"] else f"the {len(order)} most probable images"
    lines += ["", f"**P_data beside P_model**, {shown} of the support (pixels row by row):", "",
              "| image | P_data | P_model | KL(q \\|\\| p(h\\|x)), nats |", "| --- | --- | --- | --- |"]
    lines += [f"| `{pixels_text(distribution.images[i], distribution.shape)}` | {distribution.probabilities[i]:.4f} | "
              f"{np.exp(measured.log_px[i]):.4f} | {measured.kl[i]:.4f} |" for i in order]
    lines += ["", "**what the generative network draws with each first-layer unit alone on, and dreams**", "",
              "![units](units.png)", ""]
    return lines


def draw_units(path, model, shape, seed, title):
    """Top row: sigma(eta(h_1)) with no unit on, then with each unit j of the first layer alone on; bottom row: dreams
    x ~ p(x) of the model (from the seed)."""
    units = model.layers[0]
    states = np.vstack([np.zeros(units), np.eye(units)]).astype(model.dtype)
    drawn = model.likelihood.mean(model.decode(states))
    dreams, _ = dream(model, np.random.default_rng([seed, 6]), DREAMS)
    columns = max(units + 1, DREAMS)
    images = np.full((2 * columns, drawn.shape[1]), 0.5)
    images[:units + 1], images[columns:columns + DREAMS] = drawn, dreams[0]
    fig, ax = plt.subplots(figsize=(0.6 * columns + 0.4, 2.2))
    ax.imshow(tile(images, shape, 2, columns), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"{title}: sigma(eta) with no unit, then each unit alone, on (top); dreams x ~ p(x) (bottom)",
                 fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

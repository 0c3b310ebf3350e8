"""The page you can touch (derivations/1995.md): one self-contained HTML file for a network trained on the bars (any
distribution of a synthetic source with at most MOST_IMAGES images, experiments/data/synthetic.py) with two layers of
binary units, like the papers' 16-8-1. It shows the support's images with P_data beside P_model; for a chosen image,
q(h | x) against the exact posterior p(h | x) over every joint state, and the states that carry the most posterior
mass; and what the generative network draws, sigma(eta(h_1)), for the middle units a learner toggles, with the top
unit's own drawing.

    python -m experiments.outputs.bars_page RUN_DIR [--out FILE]     (every bars run writes RUN_DIR/bars.html)

Everything is in the file. Python computes what is exact: each image's P_model, p(h | x) and q(h | x) of every joint
state (Eqs. (H4)-(H5)), as JSON numbers, which round-trip a float64 exactly. The page computes what is cheap: the
generative network's affine maps and sigmoids from its float32 weights (bars_page.js), in double precision. No request
leaves the file: its Content-Security-Policy allows none.
"""
import argparse
import html
import json
import sys
from pathlib import Path

import numpy as np

from algorithms import name_of
from algorithms.binary.exact_ml import joint_states, log_joint_and_q
from experiments.data import source_of
from experiments.errors import Fault
from experiments.harness.checkpoint import read_checkpoint, write_atomically
from experiments.harness.folder import describe_progress, finished
from experiments.harness.training import trained_model
from experiments.outputs.extension import Extension, Section

ASSETS = Path(__file__).resolve().parent
MOST_IMAGES, MOST_UNITS = 64, 12        # the page lists every image of the support and draws 2^J states' bars


def why_not_touchable(model, distribution):
    """Why the page cannot show this model on these data, in one line, or None."""
    linear = all(len(net.layers) == 1 for net in model.generative)
    if len(model.layers) != 2 or not linear:
        return (f"the page shows a linear network of two binary layers (the papers' 16-8-1); this one has layers "
                f"{model.layers}" + ("" if linear else " with deterministic layers between them"))
    if sum(model.layers) > MOST_UNITS:
        return f"its layers have {sum(model.layers)} units, and the page draws at most 2^{MOST_UNITS} joint states"
    if len(distribution.probabilities) > MOST_IMAGES:
        return f"its data have {len(distribution.probabilities)} images, and the page lists at most {MOST_IMAGES}"
    return None


def page_data(model, distribution, about):
    """Everything the page shows, as JSON-ready lists: the support's images sorted by P_data (most probable first),
    P_data and P_model, p(h | x) and q(h | x) of every joint state (state s has h_j = bit j of s, the middle units
    first, as algorithms/binary/exact_ml.py::joint_states numbers them), and the generative weights."""
    order = np.argsort(-distribution.probabilities, kind="stable")
    images = distribution.images[order]
    states = joint_states(model.layers, 0, 2 ** sum(model.layers), model.dtype)
    joint, log_q = log_joint_and_q(model, images, states)                 # log p(x, h), log q(h | x): Eq. (H4)
    peak = joint.max(axis=1, keepdims=True)
    log_px = (peak + np.log(np.exp(joint - peak).sum(axis=1, keepdims=True)))[:, 0]
    posterior, q = np.exp(joint - log_px[:, None]), np.exp(log_q)
    kl = (q * (log_q - (joint - log_px[:, None]))).sum(axis=1)            # KL(q || p(h | x)), Eq. (H5)
    linear = lambda net: net.layers[0].params
    g1, g2 = linear(model.generative[0]), linear(model.generative[1])
    as_list = lambda array: np.asarray(array, np.float64).tolist()
    return {**about, "shape": list(distribution.shape), "layers": list(model.layers),
            "images": images.astype(int).tolist(), "p_data": as_list(distribution.probabilities[order]),
            "p_model": as_list(np.exp(log_px)), "log_px": as_list(log_px), "kl": as_list(kl),
            "posterior": as_list(posterior), "q": as_list(q),
            "kl_bits": distribution.kl_bits(unsorted(log_px, order)), "entropy_bits": distribution.entropy_bits(),
            # the generative network: eta(h_1) = h_1 W1 + b1 (W1: J_1 x D), the middle units' logits h_2 W2 + b2,
            # the top unit's prior logits
            "W1": as_list(g1["W"]), "b1": as_list(g1["b"]), "W2": as_list(g2["W"]), "b2": as_list(g2["b"]),
            "prior": as_list(model.prior.params["b"])}


def unsorted(values, order):
    """values given in the order `order` (values[i] belongs to row order[i]), back in the rows' own order."""
    back = np.empty_like(values)
    back[order] = values
    return back


def page_html(data):
    """The page: bars_page.html with bars_page.js and the data in it."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")   # no "</script>"
    return ((ASSETS / "bars_page.html").read_text().replace("<!--TITLE-->", html.escape(data["title"]))
            .replace("/*SCRIPT*/", (ASSETS / "bars_page.js").read_text()).replace("/*DATA*/", text))


def about_run(settings, samples, epochs):
    title = f"{name_of(settings.algorithm)} on {source_of(settings).title}"
    return {"title": f"The page you can touch: {title}", "run": title, "samples": samples, "epochs": epochs,
            "seed": settings.seed}


class BarsPage(Extension):
    """The extension that writes bars.html beside a bars run's report (chosen by experiments/data/sources/bars.py)."""

    doing = "writing the page you can touch"

    def run_end(self, run, out, log, arrays):
        distribution = source_of(run.settings).distribution()
        reason = why_not_touchable(run.model, distribution)
        if reason:
            log(f"bars.html is not written: {reason}")
            return Section()
        samples = len(run.history) * run.settings.train_size
        data = page_data(run.model, distribution, about_run(run.settings, samples, len(run.history)))
        (out / "bars.html").write_text(page_html(data))
        return Section(lines=["**the page you can touch**: [bars.html](bars.html), P_data beside P_model for every "
                              "image, q(h|x) against the exact posterior, and what the generative network draws for "
                              "the units you toggle (derivations/1995.md)", ""])


def build(folder, out=None, log=print):
    """The page of the finished run in folder, written to out (default folder/bars.html)."""
    folder = Path(folder)
    checkpoint = folder / "checkpoint.npz"
    if not checkpoint.is_file():
        raise Fault(f"{folder}: holds no checkpoint.npz, so no model to show")
    meta, _ = read_checkpoint(checkpoint)
    if not finished(meta):
        raise Fault(f"{folder}: holds {describe_progress(meta)}; finish it with --resume first")
    model, settings = trained_model(checkpoint)
    if not hasattr(source_of(settings), "distribution"):
        raise Fault(f"{folder}: a run on {source_of(settings).title}; the page shows a run on a distribution known in "
                    "closed form (--data bars)")
    distribution = source_of(settings).distribution()
    reason = why_not_touchable(model, distribution)
    if reason:
        raise Fault(f"{folder}: {reason}")
    out = Path(out) if out is not None else folder / "bars.html"
    if out.is_dir() or not out.parent.is_dir():
        raise Fault(f"--out {out}: not a file in an existing folder")
    samples = meta["epoch"] * settings.train_size
    text = page_html(page_data(model, distribution, about_run(settings, samples, meta["epoch"])))
    write_atomically(out, lambda handle: handle.write(text.encode()))
    log(f"wrote {out} ({len(text) / 1e6:.2f} MB)")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments.outputs.bars_page",
                                     description="Write the page you can touch for a finished bars run.")
    parser.add_argument("run", type=Path, metavar="RUN_DIR", help="the folder of a finished run on --data bars")
    parser.add_argument("--out", type=Path, help="the HTML file to write (default RUN_DIR/bars.html)")
    args = parser.parse_args(argv)
    try:
        build(args.run, args.out)
    except Fault as fault:
        print(f"bars_page: error: {' '.join(str(fault).split())}", file=sys.stderr)
        return fault.status
    return 0


if __name__ == "__main__":
    sys.exit(main())

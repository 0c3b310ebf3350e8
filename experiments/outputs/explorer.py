"""The latent explorer: one self-contained HTML page in which a learner looks at what a 2-D model learned: the plane of
z with the test images' codes, the decoder's image under the mouse, and for a test image its reconstruction, q's
ellipses and the true posterior p(z | x) beside them, with its exact log p(x), L_1, L_100 and KL(q || p(z | x)).

    python run.py explore RUN_DIR [RUN_DIR ...] --out FILE.html     (every 2-D run with the exact evaluation writes one)

Everything is in the file: each run's decoder (its float32 weights; explorer.js runs the forward pass), the first
N_POINTS test images with their q (means and log-variances) and numbers, and the true posterior of the first
N_POSTERIORS of them on a window (algorithms/posterior.py::posterior_windows), drawn by the page. No request leaves the
file: its Content-Security-Policy allows none. Arrays are packed losslessly (pack): each element's bytes grouped by
position, deflated, base64; the page unpacks them with the browser's own DecompressionStream.
"""
import base64
import html
import json
import os
import sys
import zipfile
import zlib
from contextlib import nullcontext, redirect_stdout
from pathlib import Path

import numpy as np

from algorithms import name_of
from algorithms.bound import importance_weighted_bounds
from algorithms.posterior import posterior_windows
from experiments.data import kind_name
from experiments.errors import Fault, stage
from experiments.harness.checkpoint import read_checkpoint, write_atomically
from experiments.harness.folder import RunFolder, describe_progress, finished
from experiments.harness.stored import from_stored
from experiments.harness.runner import DataCache
from experiments.harness.training import start
from experiments.outputs.extension import Extension, Section
from experiments.outputs.page_file import check_output, stdout_descriptor, write_stream
from experiments.outputs.exact_evaluation import exact_log_marginal_of

N_POINTS, N_POSTERIORS, WINDOW = 5000, 300, 40
ASSETS = Path(__file__).resolve().parent
ACTIVATIONS = {"softplus", "tanh", "relu"}


def pack(array):
    """{"dtype", "shape", "data"}: the array's bytes (little-endian) grouped by position within an element (all first
    bytes, then all second bytes, ...: a float's exponent bytes sit together and deflate well), deflated, in base64."""
    array = np.ascontiguousarray(array, array.dtype.newbyteorder("<"))
    planes = array.view(np.uint8).reshape(-1, array.dtype.itemsize).T
    data = base64.b64encode(zlib.compress(planes.tobytes(), 9)).decode("ascii")
    return {"dtype": array.dtype.name, "shape": list(array.shape), "data": data}


def unpack(packed):
    """pack's inverse (the page's unpack, in Python: for the tests and the bench)."""
    dtype = np.dtype(packed["dtype"]).newbyteorder("<")
    planes = np.frombuffer(zlib.decompress(base64.b64decode(packed["data"])), np.uint8)
    return planes.reshape(dtype.itemsize, -1).T.copy().view(dtype).reshape(packed["shape"])


def decoder_layers(model):
    """The generative network as the page runs it: [{"W": packed (n_in, n_out), "b": packed, "activation"}, ...], the
    activation applied after the layer's affine map (none after the last)."""
    layers, linear = [], None
    for layer in model.generative.layers:
        if "W" in layer.params:
            linear = {"W": pack(layer.params["W"].astype(np.float32)), "b": pack(layer.params["b"].astype(np.float32)),
                      "activation": None}
            layers.append(linear)
        else:
            linear["activation"] = type(layer).__name__.lower()
    assert all(layer["activation"] in ACTIVATIONS | {None} for layer in layers)
    return layers


class Explorer(Extension):
    """The extension that writes explorer.html beside a 2-D run's report, after the exact evaluation, whose per-image
    numbers it shows (experiments/outputs/__init__.py)."""

    doing = "packing the latent explorer"

    def run_end(self, run, out, log, arrays):
        name = name_of(run.settings.algorithm)
        payload = run_payload(name, run.settings, run.model, run.images.test, run.images.test_labels, arrays, log)
        (out / "explorer.html").write_text(explorer_html([payload], run.images.test, run.image_shape,
                                                         f"Latent explorer: {name}"))
        return Section(lines=["**the latent explorer**: [explorer.html](explorer.html), the plane of z with the decoder "
                              "under the mouse, and the true posterior beside q for the first test images", ""])


def numbers_of(model, test, bounds, seed, log):
    """Per image of test: exact log p(x), L_1 and L_100 (1000 samples, exact_evaluation's estimates), from the run's
    bounds.npz when its exact evaluation covered these images, else computed now."""
    if "exact/log_px" in bounds and len(bounds["exact/log_px"]) >= len(test):
        return {key: np.asarray(bounds[f"exact/{name}"][:len(test)], np.float64)
                for key, name in (("log_px", "log_px"), ("elbo", "elbo"), ("l100", "L_100"))}
    log(f"computing the exact log p(x) of {len(test)} test images for the explorer")
    estimates, elbo = importance_weighted_bounds(model, test, (1, 100, 1000), seed=seed)
    return {"log_px": exact_log_marginal_of(model, test).log_px, "elbo": elbo, "l100": estimates[100]}


def run_payload(name, settings, model, test, labels, bounds, log=print, epochs=None):
    """Everything the page needs of one run, for its first N_POINTS test images (test: (N, D), as the run's data kind
    gives them); epochs: those it trained (default: its settings')."""
    test, labels = test[:N_POINTS], labels[:N_POINTS]
    if labels.max() > 255:
        raise Fault(f"{name}: labels up to {labels.max()}; the explorer colours labels 0 to 255")
    mean, log_var = model.encode(test)
    numbers = numbers_of(model, test, bounds, settings.seed, log)
    featured = np.arange(min(N_POSTERIORS, len(test)))
    extents, densities = [], []
    for extent, density in posterior_windows(model, test[featured], mean[featured], log_var[featured], size=WINDOW):
        extents.append(extent)
        densities.append(np.round(255 * density / density.max()).astype(np.uint8))
    return {**model.likelihood.explorer_payload(), "name": name, "algorithm": name_of(settings.algorithm),
            "likelihood": settings.likelihood,
            "decoder": decoder_layers(model), "mean": pack(mean.astype(np.float32)),
            "log_var": pack(log_var.astype(np.float32)), "labels": pack(labels.astype(np.uint8)),
            **{key: pack(values.astype(np.float64)) for key, values in numbers.items()},
            "posterior_extent": pack(np.array(extents, np.float64).reshape(-1, 4)),
            "posterior_density": pack(np.array(densities, np.uint8).reshape(-1, WINDOW, WINDOW)),
            "epochs": settings.epochs if epochs is None else epochs, "seed": settings.seed}


def explorer_html(runs, images, image_shape, title):
    """The page: runs (run_payload's), the test images they share (N, D) in [0, 1], stored as bytes."""
    data = {"title": title, "image_shape": list(image_shape), "window": WINDOW,
            "images": pack(np.round(np.asarray(images[:N_POINTS]) * 255).astype(np.uint8)), "runs": runs}
    page = (ASSETS / "explorer.html").read_text()
    text = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")    # no "</script>" or "<!--" in it
    return (page.replace("<!--TITLE-->", html.escape(title))
                .replace("/*STYLE*/", (ASSETS / "explorer.css").read_text())
                .replace("/*SCRIPT*/", (ASSETS / "explorer.js").read_text())
                .replace("/*DATA*/", text))


def explore(folders, out, log=print):
    """python run.py explore: the page of the runs in folders, side by side, written to out (a file appears whole or
    not at all; a stream, --out /dev/stdout, a FIFO or a device, is written once and never read back, and where it is
    run.py's stdout, what run.py says goes to stderr). Everything that can refuse is checked before anything is packed:
    a folder without a finished run's checkpoint, a damaged one, a latent that is not 2-D, the continuous Bernoulli on
    grey levels (whose exact log p(x) takes hours), runs on different test images, an output that cannot be written or
    that is some other file."""
    out = Path(out)
    stream = check_output(out)
    descriptor = stdout_descriptor(out) if stream else None
    with redirect_stdout(sys.stderr) if descriptor is not None else nullcontext():
        data_cache = DataCache()
        loaded = [load_run(folder, data_cache) for folder in folders]
        first = loaded[0]
        for folder, run in zip(folders[1:], loaded[1:]):
            if (run["settings"].data_fingerprint, run["kind"]) != (first["settings"].data_fingerprint, first["kind"]):
                raise Fault(f"{folder}: trained on other test images than {folders[0]}; the explorer puts runs side by "
                            "side on the same images")
        count = min(len(run["test"]) for run in loaded)          # every panel shows the same test images
        payloads = []
        for name, run in zip(unique_names(folders), loaded):
            log(f"packing {name} ({name_of(run['settings'].algorithm)})")
            payloads.append(run_payload(name, run["settings"], run["model"], run["test"][:count],
                                        run["labels"][:count], run["bounds"], log, epochs=run["epoch"]))
        title = "Latent explorer: " + " beside ".join(payload["name"] for payload in payloads)
        data = explorer_html(payloads, first["test"][:count], first["shape"], title).encode()
        if not stream:
            write_atomically(out, lambda handle: handle.write(data))
        else:
            with stage(f"writing the page to {out}", f"whatever part of the page reached {out}"):
                write_stream(out, data, descriptor)
        log(f"wrote {out} ({len(data) / 1e6:.1f} MB)")


def unique_names(folders):
    """Each run's name on the page: its folder's name, with the parent's where two would be alike, and a number where
    the same folder is given twice."""
    paths = [Path(os.path.abspath(folder)) for folder in folders]        # as given: a link keeps its own name
    names = [path.name for path in paths]
    names = [f"{path.parent.name}/{name}" if names.count(name) > 1 else name for path, name in zip(paths, names)]
    return [f"{name} ({n + 1})" if names.count(name) > 1 else name for n, name in enumerate(names)]


def load_run(folder, data_cache):
    """{settings, epoch, model, test, labels, bounds (bounds.npz's exact arrays, or {}), shape, kind} of the finished
    run in folder, its checkpoint checked as --resume checks it."""
    folder = Path(folder)
    checkpoint = folder / "checkpoint.npz"
    if not folder.is_dir():
        raise Fault(f"{folder}: no such folder; run.py explore takes the folders of finished runs")
    if not checkpoint.exists():
        raise Fault(f"{folder}: holds no checkpoint.npz, so no model to explore")
    meta, arrays = read_checkpoint(checkpoint)
    settings = from_stored(meta["settings"])
    if not finished(meta):
        raise Fault(f"{folder}: holds {describe_progress(meta)}; finish it with --resume first")
    if not settings.latent_kind.explorable:
        raise Fault(f"{folder}: the explorer shows a 2-D Gaussian latent; this run's latents are binary "
                    "(a run of one binary layer of at most 20 units draws its posteriors' most probable states in states.png)")
    if settings.latent_dim != 2:
        raise Fault(f"{folder}: the explorer shows a 2-D latent; this run's has {settings.latent_dim} dimensions")
    likelihood = settings.likelihood_class
    if likelihood.exact_out_of_reach.get(kind_name(settings)):
        raise Fault(f"{folder}: the explorer needs the exact log p(x), and {likelihood.exact_out_of_reach[kind_name(settings)]}")
    if not hasattr(likelihood, "explorer_payload"):
        raise Fault(f"{folder}: the explorer's page draws E[x | z] of the likelihoods that say how "
                    f"(explorer_payload); {settings.likelihood} does not")
    data = data_cache.get(settings.data_dir)
    if data.fingerprint != settings.data_fingerprint:
        raise Fault(f"{settings.data_dir or 'the embedded MNIST'}: not the data the run in {folder} was trained on")
    run = start(settings, data, RunFolder(folder), (meta, arrays))       # the model restored, its images selected
    try:
        with np.load(folder / "bounds.npz") as stored:
            bounds = {key: stored[key] for key in stored.files if key.startswith("exact/")}
    except (OSError, ValueError, zipfile.BadZipFile):
        bounds = {}
    return {"settings": settings, "epoch": meta["epoch"], "model": run.model, "test": run.images.test,
            "labels": run.images.test_labels, "bounds": bounds, "shape": data.image_shape, "kind": kind_name(settings)}

"""Hypothesis runs derandomized everywhere, so that a test run is a function of the code alone; the embedded MNIST
read once for all the runs of a test session; a small MNIST-format data folder for the tests that need one; and
figures rendered only where a test looks at them (figures_unrendered, below).

The suite runs in two processes (pyproject.toml's -n 2): each gets one BLAS thread, set here before NumPy loads, so
that the two do not fight over the 2 cores (a variable the caller set is kept)."""
import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import contextlib  # noqa: E402
import gzip  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

from algorithms import HEADS, LIKELIHOODS, load  # noqa: E402
from experiments.data.mnist import MNIST, load_dataset  # noqa: E402

settings.register_profile("helmholtz", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("helmholtz")


def likelihood_of(name):
    """The likelihood object a run with --likelihood name gives its model."""
    return load(LIKELIHOODS[name])()


def heads_of(latent_dim, **bounds):
    """The recognition heads a run with these settings (log_var_floor=..., mean_bound=...) gives its model."""
    return [load(path)(latent_dim, bounds[name]) for name, path in HEADS.items() if bounds.get(name) is not None]


def history_of(out):
    """The epoch records of the finished run in out, without their timings: what must agree between two runs."""
    return [{key: value for key, value in record.items() if key != "seconds"}
            for record in json.loads((out / "metrics.json").read_text())["history"]]


def write_idx(path, array):
    """array as an IDX file of unsigned bytes, gzipped."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def write_mnist_files(folder, n_train=200, n_test=50, shape=(28, 28), labels=10):
    """The four MNIST files of a random data set: n_train and n_test images of shape, labels in range(labels)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n_train, *shape)))
    write_idx(folder / "train-labels-idx1-ubyte.gz", rng.integers(0, labels, n_train))
    write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (n_test, *shape)))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", rng.integers(0, labels, n_test))
    return folder


@pytest.fixture
def mnist_files():
    """write_mnist_files, for tests that need a small data folder of their own."""
    return write_mnist_files



EMBEDDED = {}


def embedded_mnist():
    """The embedded MNIST, read once per test session (a read, with its MD5 check, takes 0.4 s, and the suite makes
    about 60 runs). Its arrays are read-only, so a run that wrote into them would fail rather than change the next
    test's data."""
    if not EMBEDDED:
        data = EMBEDDED["data"] = load_dataset()
        for array in (data.train_images, data.train_labels, data.test_images, data.test_labels):
            array.flags.writeable = False
    return EMBEDDED["data"]


@pytest.fixture(scope="session")
def mnist():
    return embedded_mnist()


@pytest.fixture(autouse=True)
def embedded_mnist_read_once(monkeypatch):
    """run.py's runs in the tests get embedded_mnist(); other data folders, and the tests of load_dataset itself,
    read as always."""
    monkeypatch.setattr(MNIST, "load", staticmethod(
        lambda directory=None: embedded_mnist() if directory is None else load_dataset(directory)))


BLANK = {}


def blank_png():
    """A 1 x 1 PNG: what an unrendered figure's file holds."""
    if not BLANK:
        from matplotlib.image import imsave
        buffer = io.BytesIO()
        imsave(buffer, np.zeros((1, 1)), format="png")
        BLANK["png"] = buffer.getvalue()
    return BLANK["png"]


def save_unrendered(figure, target, **options):
    """Figure.savefig without the rendering: every text's math is still parsed (a bad $...$ fails as it would in
    savefig), and the file (or buffer) gets a 1 x 1 PNG."""
    from matplotlib.mathtext import MathTextParser
    from matplotlib.text import Text
    for text in figure.findobj(Text):
        if text.get_text().count("$") >= 2:
            MathTextParser("path").parse(text.get_text())
    if hasattr(target, "write"):
        target.write(blank_png())
    else:
        Path(target).write_bytes(blank_png())


RENDERING = {}


@pytest.fixture(scope="session", autouse=True)
def figures_unrendered():
    """Rendering figures to PNG (laying out their text, then the pixels) is most of a small run's time: 3.6 of its 5 s
    for the five figures of a 2-D run. Most tests check a run's numbers and files, not its pictures. So in the tests
    every plotting call still runs on the run's arrays, but Figure.tight_layout does nothing and Figure.savefig
    writes a 1 x 1 PNG (save_unrendered), except inside `with rendered_figures():`, which the tests that look at
    figures use. tests/test_figures.py renders every figure that run.py draws, for real."""
    from matplotlib.figure import Figure
    RENDERING.update(savefig=Figure.savefig, tight_layout=Figure.tight_layout)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Figure, "savefig", save_unrendered)
        patch.setattr(Figure, "tight_layout", lambda figure, *args, **options: None)
        yield


@contextlib.contextmanager
def rendered_figures():
    """Figures rendered and saved for real inside the block (see figures_unrendered)."""
    from matplotlib.figure import Figure
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Figure, "savefig", RENDERING["savefig"])
        patch.setattr(Figure, "tight_layout", RENDERING["tight_layout"])
        yield

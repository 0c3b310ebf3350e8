"""Hypothesis runs derandomized everywhere, so that a test run is a function of the code alone; the embedded MNIST
read once for all the runs of a test session; and a small MNIST-format data folder for the tests that need one.

The suite runs in two processes (pyproject.toml's -n 2): each gets one BLAS thread, set here before NumPy loads, so
that the two do not fight over the 2 cores (a variable the caller set is kept)."""
import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import gzip  # noqa: E402
import json  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

import experiments.harness.runner  # noqa: E402
from algorithms import HEADS, LIKELIHOODS, load  # noqa: E402
from experiments.data.mnist import load_dataset  # noqa: E402

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
    monkeypatch.setattr(experiments.harness.runner, "load_dataset",
                        lambda directory=None: embedded_mnist() if directory is None else load_dataset(directory))

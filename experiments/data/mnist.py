"""MNIST (or any data set in its four IDX files), loaded and checked.

The embedded copy lives in data/mnist/ and is verified against the official MD5 sums; another
directory given with --data-dir is checked for structure only.
"""
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from algorithms import load
from experiments.data.idx import DataError, read_idx

EMBEDDED_DIR = Path(__file__).resolve().parents[2] / "data" / "mnist"

# name -> (IDX dimensions, MD5 of the decompressed official file)
FILES = {
    "train-images-idx3-ubyte": (3, "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": (1, "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": (3, "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": (1, "27ae3e4e09519cfbb04c329615203637"),
}


@dataclass
class Dataset:
    """Images as float32 in [0, 1], shape (N, rows * cols); labels as int64, shape (N,).

    fingerprint names the data exactly (shapes and a SHA-256 of the bytes read), so that a run resumed
    on other data is refused. epoch_size is None for a fixed training set; a source that draws every epoch's training
    images afresh (experiments/data/synthetic.py) sets it, and its train_images are then a fixed pool for the train
    bound only.
    """
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    image_shape: tuple
    fingerprint: str = ""
    epoch_size: int = None      # a source that draws every epoch afresh: the images an epoch draws by default

    @property
    def data_dim(self):
        return int(np.prod(self.image_shape))


def find_file(directory, name):
    """The file `name`.gz or `name` in directory, preferring the compressed one."""
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    expected = ", ".join(f"{n}[.gz]" for n in FILES)
    raise DataError(f"{directory / name}[.gz]: file not found; the data directory must hold {expected}")


def load_split(directory, images_name, labels_name, verify, digest):
    """Images (N, H * W) in [0, 1] and labels (N,) of one split; digest is updated with the bytes read."""
    images_path, labels_path = find_file(directory, images_name), find_file(directory, labels_name)
    images = read_idx(images_path, 3, FILES[images_name][1] if verify else None)
    labels = read_idx(labels_path, 1, FILES[labels_name][1] if verify else None)
    if images.shape[0] == 0:
        raise DataError(f"{images_path}: holds no images")
    if images.shape[1] == 0 or images.shape[2] == 0:
        raise DataError(f"{images_path}: images of {images.shape[1]} x {images.shape[2]} pixels hold no pixel")
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{labels_path}: {labels.shape[0]} labels for {images.shape[0]} images in {images_path.name}")
    for array in (images, labels):
        digest.update(repr(array.shape).encode())
        digest.update(array.tobytes())
    flat = images.reshape(images.shape[0], -1).astype(np.float32)
    flat /= 255
    return flat, labels.astype(np.int64), images.shape[1:]


def load_dataset(directory=None):
    """The four IDX files of `directory` (default: the embedded MNIST, MD5-verified)."""
    verify = directory is None
    directory = EMBEDDED_DIR if directory is None else Path(directory)
    if directory.exists() and not directory.is_dir():
        raise DataError(f"{directory}: is a file; --data-dir takes the folder that holds the four IDX files")
    if not directory.is_dir():
        raise DataError(f"{directory}: data directory not found")
    digest = hashlib.sha256()
    train_images, train_labels, shape = load_split(directory, "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                                   verify, digest)
    test_images, test_labels, test_shape = load_split(directory, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                                                      verify, digest)
    if test_shape != shape:
        raise DataError(f"{directory}: training images are {shape}, test images {test_shape}")
    return Dataset(train_images, train_labels, test_images, test_labels, tuple(shape), digest.hexdigest()[:16])


@dataclass
class Images:
    """What a run trains and is measured on (select_images): training images (N, D), test images and labels, and the
    training images of the train bound."""
    train: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray
    train_subset: np.ndarray


class GreyLevels:
    """The write-up's data kind: the grey levels in [0, 1] as they are, the Bernoulli's targets
    (experiments/data/__init__.py names the others)."""

    def __init__(self, settings):
        pass

    def prepare(self, train, test, subset):
        """(training images, test images, the train bound's images); subset: row indices into train."""
        return train, test, train[subset]

    def batch(self, x, rng):
        return x


def select_images(data, settings, kind):
    """The run's Images: the first train_size training images, the first test_size test images and labels, and
    eval_train_size training images for the train bound, chosen by the seed; then as the run's data kind presents
    them (kind.prepare: binarized or dequantized once, or as they are)."""
    train = data.train_images[:settings.train_size]
    test, test_labels = data.test_images[:settings.test_size], data.test_labels[:settings.test_size]
    subset_size = min(settings.eval_train_size, train.shape[0])
    subset = np.sort(np.random.default_rng([settings.seed, 1]).choice(train.shape[0], subset_size, replace=False))
    train, test, train_subset = kind.prepare(train, test, subset)
    return Images(train, test, test_labels, train_subset)


class MNIST:
    """The default data source (--data mnist; experiments/data/__init__.py): the embedded MNIST, or the four IDX files
    of --data-dir, fixed once; its images as the write-up's grey levels, binarized or dequantized."""

    title = "MNIST"
    extensions = ()            # none of its own: the kind of latent's exact evaluation
    # the kinds beside the grey levels (GreyLevels, above), imported only by a run that uses one
    KINDS = {"binary": "experiments.data.binarize:Binarized", "dequantized": "experiments.data.dequantize:Dequantized"}

    @staticmethod
    def load(data_dir):
        return load_dataset(data_dir)

    @staticmethod
    def kind_name(settings):
        """What its images are: "dequantized", "binary" (--binarize) or "grey" (the write-up's)."""
        if settings.dequantize:
            return "dequantized"
        return "grey" if settings.binarize == "none" else "binary"

    @classmethod
    def kind(cls, settings):
        name = cls.kind_name(settings)
        return GreyLevels(settings) if name == "grey" else load(cls.KINDS[name])(settings)

    @staticmethod
    def why_not(values):
        return None

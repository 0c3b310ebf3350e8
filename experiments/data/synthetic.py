"""A distribution over binary images known in closed form (experiments/data/bars.py::Distribution) as a data source
(experiments/data/__init__.py): the 1995 papers' infinite data set. Every epoch's training images are drawn afresh
from P_data, train_size of them (default EPOCH), from a stream of the run's seed and the epoch, so that the same seed
gives the same numbers and a resumed epoch draws what the uninterrupted one did. The test images and the train bound's
pool are fixed draws, the same for every run. A run is measured exactly: KL(P_data || P_model) in bits (Eq. (H3)) and
KL(q || p(h | x)) under P_data, by summing over every joint state of its binary layers
(experiments/outputs/exact_kl.py), so a source of this kind takes binary latents of at most 20 units in all.

A source is a subclass that names its distribution (sources/bars.py)."""
import hashlib

import numpy as np

from algorithms.binary.exact_ml import why_not_jointly_enumerable_layers
from experiments.data.mnist import Dataset

EPOCH = 10000                                  # training images an epoch draws unless --train-size says
POOL = 10000                                   # fixed draws for the test set, and for the train bound's pool
TEST_STREAM, POOL_STREAM, EPOCH_STREAM = (1995, 0), (1995, 1), 1995


def fixed_draws(distribution, stream):
    """(POOL images (POOL, D) float32, their most probable causes (POOL,) int64) drawn from the stream."""
    rows = distribution.sample_rows(np.random.default_rng(stream), POOL)
    return distribution.images[rows].astype(np.float32), distribution.causes[rows].argmax(axis=1).astype(np.int64)


def fingerprint(distribution):
    """The distribution named exactly: a SHA-256 of its name, support and probabilities."""
    digest = hashlib.sha256(distribution.name.encode())
    for array in (distribution.images, distribution.probabilities):
        digest.update(repr(array.shape).encode())
        digest.update(np.ascontiguousarray(array, "<f8").tobytes())
    return digest.hexdigest()[:16]


class FreshSamples:
    """The data kind of a synthetic source: every epoch's training images drawn afresh from P_data (epoch_images); the
    fixed images as they are."""

    def __init__(self, distribution, settings):
        self.distribution, self.seed, self.size = distribution, settings.seed, settings.train_size

    def prepare(self, train, test, subset):
        """(the first epoch's training images, the test images, the train bound's images); subset: rows of the pool."""
        return self.epoch_images(1), test, train[subset]

    def epoch_images(self, epoch):
        """train_size images drawn from P_data, from the stream (seed, EPOCH_STREAM, epoch): (train_size, D) float32."""
        return self.distribution.sample(np.random.default_rng([self.seed, EPOCH_STREAM, epoch]), self.size)

    def batch(self, x, rng):
        return x


class Synthetic:
    """What every source of a distribution known in closed form has; a subclass defines title and distribution()."""

    title = None
    extensions = ("exact-kl",)     # experiments/outputs/exact_kl.py: KL(P_data || P_model) in bits, every epoch

    @staticmethod
    def distribution():
        raise NotImplementedError

    @classmethod
    def load(cls, data_dir):
        distribution = cls.distribution()
        test, labels = fixed_draws(distribution, TEST_STREAM)
        pool, pool_labels = fixed_draws(distribution, POOL_STREAM)
        return Dataset(pool, pool_labels, test, labels, tuple(distribution.shape), fingerprint(distribution),
                       epoch_size=EPOCH)

    @staticmethod
    def kind_name(settings):
        """Binary images drawn from P_data: not MNIST binarized, so none of the likelihood's words on MNIST apply."""
        return "synthetic"

    @classmethod
    def kind(cls, settings):
        return FreshSamples(cls.distribution(), settings)

    @classmethod
    def why_not(cls, values):
        if values["data_dir"] is not None:
            return "its images are drawn from its distribution; --data-dir names a folder of MNIST-format files"
        if values["binarize"] != "none" or values["dequantize"]:
            return "its images are binary already; leave out --binarize and --dequantize"
        if values["latent"] != "binary":
            return ("a run on it is measured exactly, by summing over every joint state of binary latents; give "
                    "--latent binary")
        reason = why_not_jointly_enumerable_layers(values["layers"])
        if reason:
            return f"a run on it is measured exactly, by summing over every joint state of its layers, and {reason}"
        return None

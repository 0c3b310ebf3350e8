"""Dequantized MNIST, for a density on [0, 1] (derivations/likelihoods.md, Eq. (L10)).

MNIST stores each pixel as a byte k in {0, ..., 255}, read here as k / 255. A density on [0, 1] fitted to those values
can grow without limit at the endpoints (the continuous Bernoulli's does), so each pixel is spread over its own bin:
y = (k + u) / 256 with u ~ U(0, 1), drawn anew every time a training image is used, from the run's own generator
(as dynamic binarization is, so a resumed run draws what an uninterrupted one would). The test images and the
training images of the train bound are dequantized once, from streams of their own, the same for every run.
"""
import numpy as np

LEVELS = 256
TEST_STREAM, TRAIN_STREAM = (2016, 0), (2016, 1)


def dequantize_batch(images, rng):
    """y = (k + u) / 256, k = the byte of each pixel (images * 255, rounded), u ~ U(0, 1) from rng: a value in the
    pixel's own bin [k / 256, (k + 1) / 256], in the images' dtype (computed in float64; float32 may round a value
    to its bin's upper edge)."""
    levels = np.rint(images.astype(np.float64) * (LEVELS - 1))
    return ((levels + rng.random(images.shape)) / LEVELS).astype(images.dtype)


def dequantized(images, stream):
    """dequantize_batch from the generator seeded by stream: the same values for the same images every time."""
    return dequantize_batch(images, np.random.default_rng(stream))


def discrete_bound(bound, data_dim):
    """A bound on the log-density of y, minus D log 256, bounds the log-probability of the 8-bit image (Eq. (L11))."""
    return bound - data_dim * np.log(LEVELS)


class Dequantized:
    """The data kind of --dequantize (experiments/data/__init__.py): y = (k + u) / 256, fixed once for the test images
    and the train bound's, drawn anew for every training minibatch; its reports add the bound on the 8-bit images'
    log-probability."""

    def __init__(self, settings):
        pass

    def prepare(self, train, test, subset):
        return train, dequantized(test, TEST_STREAM), dequantized(train[subset], TRAIN_STREAM)

    def batch(self, x, rng):
        return dequantize_batch(x, rng)

    def report_rows(self, final, settings):
        """Rows of report.md's table of final numbers: L_k - D log 256 (Eq. (L11))."""
        bound = discrete_bound(final["test_lk"], int(np.prod(settings.image_shape)))
        return [(f"test L_{settings.eval_k} - D log 256: a bound on the 8-bit images' log-probability",
                 bound, final["test_lk_se"])]

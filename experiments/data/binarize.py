"""Binarized MNIST (derivations/likelihoods.md): each pixel's grey level read as the probability of a 1.

Dynamic binarization (Salakhutdinov & Murray 2008; the IWAE paper's protocol) draws a training image anew every time
it is used, from the run's own generator, so that a resumed run draws what an uninterrupted one would. The test set,
and the training images that the train bound and fixed binarization use, are binarized once from streams of their
own, the same for every run, seed and algorithm, so that every number is measured on the same binary images.
"""
import numpy as np

TEST_STREAM, TRAIN_STREAM = (2008, 0), (2008, 1)


def binarized(images, stream):
    """x ~ Bernoulli(images), elementwise, from the generator seeded by stream. Row i's draw depends on the stream and
    i alone (the uniforms are drawn row by row), so the first n images come out alike whatever n is."""
    return binarize_batch(images, np.random.default_rng(stream))


def binarize_batch(images, rng):
    """x_d = [u_d < pixel_d], u ~ U(0, 1) from rng: a binary image, in the images' dtype, whose mean is the pixel."""
    return (rng.random(images.shape, dtype=images.dtype) < images).astype(images.dtype)


class Binarized:
    """The data kind of --binarize fixed or dynamic (experiments/data/__init__.py): binary images, each pixel's grey
    level read as the probability of a 1. prepare binarizes the images fixed for the run (the test set, and the
    training images for fixed binarization and for the train bound); batch draws a dynamic run's minibatch anew."""

    def __init__(self, settings):
        self.dynamic = settings.binarize == "dynamic"

    def prepare(self, train, test, subset):
        """(training images, test images, the train bound's images) from the grey ones; subset: row indices."""
        binary_train = binarized(train, TRAIN_STREAM)
        return train if self.dynamic else binary_train, binarized(test, TEST_STREAM), binary_train[subset]

    def batch(self, x, rng):
        return binarize_batch(x, rng) if self.dynamic else x

"""The data: MNIST-format IDX files read and checked (idx.py, mnist.py), and the kinds of data a run trains on.

A kind says how the images meet the model: the write-up's grey levels as they are (mnist.py::GreyLevels), binarized
(binarize.py) or dequantized (dequantize.py). Each has prepare(train, test, subset) for the images fixed once and
batch(x, rng) for every training minibatch, and may have report_rows(final, settings), rows of its own for report.md's
table of final numbers (the dequantized kind's bound on the 8-bit images); kind_of(settings) imports the run's own
kind only.
"""
from algorithms import load

KINDS = {"grey": "experiments.data.mnist:GreyLevels", "binary": "experiments.data.binarize:Binarized",
         "dequantized": "experiments.data.dequantize:Dequantized"}


def kind_name(settings):
    """What the run's images are: "dequantized", "binary" (--binarize) or "grey" (the write-up's)."""
    if settings.dequantize:
        return "dequantized"
    return "grey" if settings.binarize == "none" else "binary"


def kind_of(settings):
    """The run's data kind, constructed from its settings."""
    return load(KINDS[kind_name(settings)])(settings)

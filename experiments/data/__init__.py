"""The data: where a run's images come from (a source, --data) and how they meet the model (a kind).

A source (SOURCES, chosen by --data; each is one file and a line here) is a class with
    title                 what report.md calls the data ("MNIST", "the bars problem")
    load(data_dir)        -> experiments/data/mnist.py::Dataset, the images fixed once: training images (or, for a
                          source that draws every epoch afresh, the pool the train bound is measured on), test images
                          and labels, the image shape and a fingerprint
    kind_name(settings)   what its images are: "grey", "binary", "dequantized" (what L_k bounds, report.md), or
                          "synthetic", drawn from a distribution known in closed form
    kind(settings)        -> the run's data kind, below
    extensions            the extensions (experiments/outputs/__init__.py) that measure every run on it, whatever
                          --no-exact says; empty: the kind of latent's exact evaluation, as for MNIST
    why_not(values)       why it cannot train a run with these settings ({name: value}), in one line, or None
MNIST (mnist.py::MNIST) is the default; a distribution known in closed form is one through synthetic.py
(sources/bars.py, sources/shifter.py).

A kind says how the images meet the model: the write-up's grey levels as they are (mnist.py::GreyLevels), binarized
(binarize.py) or dequantized (dequantize.py), or drawn afresh every epoch (synthetic.py::FreshSamples). Each has
prepare(train, test, subset) for the images fixed once and batch(x, rng) for every training minibatch, and may have
epoch_images(epoch), the training images of an epoch drawn afresh, and report_rows(final, settings), rows of its own
for report.md's table of final numbers (the dequantized kind's bound on the 8-bit images). kind_of(settings) imports
the run's own source and kind only.
"""
from algorithms import load

SOURCES = {"mnist": "experiments.data.mnist:MNIST", "bars": "experiments.data.sources.bars:Bars",
           "shifter": "experiments.data.sources.shifter:Shifter"}
DEFAULT_SOURCE = "mnist"


def source_of(settings):
    """The class of the run's data source (settings: a Settings, or a dict of values, with its data's name)."""
    name = settings["data"] if isinstance(settings, dict) else settings.data
    return load(SOURCES[name])


def kind_name(settings):
    """What the run's images are: "dequantized", "binary" (--binarize), "grey" or "synthetic" (--data bars)."""
    return source_of(settings).kind_name(settings)


def kind_of(settings):
    """The run's data kind, constructed from its settings."""
    return source_of(settings).kind(settings)

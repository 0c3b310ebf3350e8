"""A new data source is one new file and one line in the registry (experiments/data/__init__.py::SOURCES), nothing
else, as tests/test_plugins.py shows for algorithms: each test below writes a source the project does not ship into a
package of its own, adds it to the registry, and trains on it through run.py with --data, resumes it, and reads its
report. One of each kind: a distribution known in closed form (synthetic.py: drawn afresh every epoch, measured
exactly in bits), and a fixed set of images of its own (the interface itself, as mnist.py::MNIST has it)."""
import json

import pytest

import experiments.data
from conftest import history_of
from run import main
from test_plugins import no_plugins_left, trained_and_resumed, write_plugin  # noqa: F401 (a fixture among them)

CORNERS = '''
"""--data corners: 3 x 3 images whose four corner pixels are each on with probability 0.3, the rest off."""
from itertools import product

import numpy as np

from experiments.data.bars import Distribution, merged
from experiments.data.synthetic import Synthetic


def corners():
    generated = []
    for states in product((0, 1), repeat=4):
        image = np.zeros(9)
        image[[0, 2, 6, 8]] = states
        generated.append((tuple(image), float(np.prod([0.3 if on else 0.7 for on in states])), 0))
    images, probabilities, causes = merged(generated)
    return Distribution("corners", images, probabilities, (3, 3), causes)


class Corners(Synthetic):
    title = "the four corners"
    distribution = staticmethod(corners)
'''

NOISE = '''
"""--data noise: a fixed set of 3 x 4 binary images, each pixel on with probability 0.5, drawn once."""
import numpy as np

from experiments.data.mnist import Dataset, GreyLevels


class Noise:
    title = "fixed noise"
    extensions = ()

    @staticmethod
    def load(data_dir):
        rng = np.random.default_rng(7)
        images = (rng.random((120, 12)) < 0.5).astype(np.float32)
        return Dataset(images[:100], np.zeros(100, np.int64), images[100:], np.zeros(20, np.int64), (3, 4), "noise-7")

    @staticmethod
    def kind_name(settings):
        return "binary"

    @staticmethod
    def kind(settings):
        return GreyLevels(settings)

    @staticmethod
    def why_not(values):
        return None if values["latent"] == "binary" else "its images are for binary latents"
'''

SMALL = ["--latent", "binary", "--layers", "4", "1", "--batch-size", "10", "--test-size", "20",
         "--eval-train-size", "20", "--eval-k", "4", "--eval-every", "1"]
SOURCES = {"corners": (CORNERS, "Corners", "the four corners", ["--train-size", "200"]),
           "noise": (NOISE, "Noise", "fixed noise", ["--no-exact"])}


@pytest.mark.parametrize("name", SOURCES)
def test_a_new_data_source_trains_resumes_and_reports_through_run_py(tmp_path, monkeypatch, capsys, no_plugins_left,
                                                                     name):
    source, class_name, title, own = SOURCES[name]
    write_plugin(tmp_path, monkeypatch, name, source)
    monkeypatch.setitem(experiments.data.SOURCES, name, f"plugins.{name}:{class_name}")      # the registry line
    whole = trained_and_resumed(tmp_path, ["wake-sleep", "--data", name, *SMALL, *own])
    metrics = json.loads((whole / "metrics.json").read_text())
    assert metrics["settings"]["data"] == name and metrics["settings"]["image_shape"] in ([3, 3], [3, 4])
    assert (whole / "report.md").read_text().startswith(f"# Wake-Sleep on {title}")
    if name == "corners":          # a synthetic source: drawn afresh, measured exactly every epoch
        assert metrics["settings"]["train_size"] == 200 and all(r["kl_bits"] > 0 for r in history_of(whole))
    capsys.readouterr()
    assert main(["wake-sleep", "--help"]) == 0
    assert name in capsys.readouterr().out
    assert main(["aevb", "--data", name, "--out", str(tmp_path / "refused")]) == 2
    assert f"--data {name}: " in capsys.readouterr().err

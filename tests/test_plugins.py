"""A new algorithm is one new file and one line in the registry (algorithms/__init__.py::TRAINERS), nothing else: each
test below writes an algorithm the project does not ship into a package of its own, adds its class to the registry,
and trains it through run.py with its own flags, resumes it, and reads its report and figures. One of each kind of
latent: a Renyi bound for Gaussian latents (sharing IWAE's objective through the weights' power) and REINFORCE without
a baseline for binary ones (on the binary model's shared pieces). A likelihood (algorithms/__init__.py::LIKELIHOODS)
and an extension (experiments/outputs/__init__.py::EXTENSIONS) get the same test."""
import importlib
import json
import sys

import matplotlib.pyplot as plt
import pytest

import algorithms
from conftest import history_of
from run import main

RENYI = '''
"""The Renyi bound of order alpha (Li & Turner 2016): (1 / (1 - alpha)) log (1/k) sum_i w_i^(1 - alpha)."""
from dataclasses import dataclass

from algorithms.iwae import iwae_objective
from algorithms.options import Trainer, option
from nn import Adam


@dataclass(frozen=True)
class RenyiOptions:
    lr: float = option(1e-3, "Adam's learning rate", learning_rate=True)
    k: int = option(5, "importance samples per image")
    alpha: float = option(0.5, "the order alpha of the bound (alpha = 0 is L_k)", above=None)


class Renyi(Trainer):
    command, name, Options = "renyi", "Renyi", RenyiOptions
    losses = {"loss": "Renyi: mean negative bound"}

    def __init__(self, model, lr, k, alpha):
        self.model, self.k, self.power = model, k, 1.0 - alpha
        self.optimizers = {"adam": Adam([(p, g) for _, p, g in model.named_parameters()], lr=lr)}

    def step(self, x, rng):
        eps = rng.standard_normal((self.k, x.shape[0], self.model.latent_dim), dtype=self.model.dtype)
        loss, _ = iwae_objective(self.model, x, eps, power=self.power)
        self.optimizers["adam"].step()
        return {"loss": loss}
'''

REINFORCE = '''
"""REINFORCE on the ELBO with no baseline: the score-function estimator that NVIL's baselines improve."""
from dataclasses import dataclass

import numpy as np

from algorithms.binary.model import p_backward, q_backward, sample_q, score_p
from algorithms.options import Trainer, option
from nn import Adam


@dataclass(frozen=True)
class ReinforceOptions:
    lr: float = option(1e-3, "Adam's learning rate", learning_rate=True)


class Reinforce(Trainer):
    command, name, latent, Options = "reinforce", "REINFORCE", "binary", ReinforceOptions
    losses = {"loss": "REINFORCE: mean negative ELBO"}

    def __init__(self, model, lr):
        self.model = model
        self.optimizers = {"adam": Adam(self.model.pairs(""), lr=lr)}

    def step(self, x, rng):
        model, batch = self.model, x.shape[0]
        sample = sample_q(model, x, model.noise(rng, batch)[None])
        scored = score_p(model, x, sample.hs)
        signal = scored.total - sample.total
        p_backward(model, x, scored, np.full((1, batch), -1.0 / batch, dtype=model.dtype))
        q_backward(model, sample, (-signal / batch).astype(model.dtype))
        self.optimizers["adam"].step()
        return {"loss": -float(signal.mean())}
'''

GAUSSIAN = '''
"""A Gaussian of standard deviation 0.2 about sigmoid(eta), pixel by pixel: a density, with what a likelihood declares
(nn/densities.py::Bernoulli)."""
import math

import numpy as np
from scipy.special import ndtri

from nn.functional import sigmoid

SD = 0.2


class SigmoidGaussian:
    name = "sigmoid-gaussian"
    density = True
    bounds = {"grey": "L_k bounds the log-density of the grey levels under a Gaussian about the decoder's means."}
    exact_out_of_reach = {}

    def log_likelihood(self, x, logits, overwrite_logits=False):
        residual = (x - sigmoid(logits)) / SD
        constant = x.shape[-1] * math.log(SD * math.sqrt(2 * math.pi))
        return (-0.5 * (residual * residual).sum(axis=-1) - constant).astype(logits.dtype)

    def backward(self, dout, x, logits):
        mean = sigmoid(logits)
        dmean = dout[..., None] * (x - mean) / SD ** 2
        return -dmean, dmean * mean * (1 - mean)

    def mean(self, logits):
        return sigmoid(logits)

    def sample(self, logits, uniforms):
        return (sigmoid(logits) + SD * ndtri(uniforms)).astype(logits.dtype)
'''

NORMS = '''
"""The mean norm of q's means on the test images after every epoch, and per image at the end."""
import numpy as np

from experiments.outputs.extension import Extension, Section


class CodeNorms(Extension):
    columns = ("code_norm",)
    doing = "measuring the codes' norms"

    def norms(self, run):
        return np.linalg.norm(run.model.encode(run.images.test)[0], axis=1).astype(np.float64)

    def epoch_end(self, run, record):
        record["code_norm"] = float(self.norms(run).mean())

    def run_end(self, run, out, log, arrays):
        norms = self.norms(run)
        (out / "code_norms.txt").write_text("\\n".join(f"{norm:.6f}" for norm in norms) + "\\n")
        return Section(final={"code_norm": float(norms.mean())}, arrays={"code_norms": norms},
                       rows=[("mean norm of mu(x)", norms.mean(), norms.std() / np.sqrt(len(norms)))])
'''

SMALL = ["--train-size", "300", "--test-size", "60", "--eval-train-size", "50", "--eval-k", "4", "--eval-every", "1",
         "--no-exact"]
PLUGINS = {"renyi": (RENYI, "Renyi", ["--hidden", "16", "--alpha", "0.3", "--k", "3", "--lr", "2e-3"]),
           "reinforce": (REINFORCE, "Reinforce", ["--layers", "6", "--binarize", "fixed", "--nll-k", "8"])}


def write_plugin(tmp_path, monkeypatch, name, source):
    """source as plugins/name.py in a package of its own, importable."""
    package = tmp_path / "plugins"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").touch()
    (package / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()


def trained_and_resumed(tmp_path, argv):
    """argv trained for 2 epochs into whole/, and for 1 then resumed to 2 into halves/: the two histories must agree
    (a resumed run ends with the uninterrupted run's numbers). Returns whole/."""
    whole, halves = tmp_path / "whole", tmp_path / "halves"
    assert main([*argv, "--epochs", "2", "--out", str(whole)]) == 0
    assert main([*argv, "--epochs", "1", "--out", str(halves)]) == 0
    assert main([argv[0], "--resume", "--epochs", "2", "--out", str(halves)]) == 0
    assert history_of(whole) == history_of(halves)
    return whole


@pytest.fixture
def registered(tmp_path, monkeypatch):
    """registered(name): the plug-in's file written into a package of its own, its class added to the registry."""
    def register(name):
        source, class_name, _ = PLUGINS[name]
        write_plugin(tmp_path, monkeypatch, name, source)
        trainer = getattr(importlib.import_module(f"plugins.{name}"), class_name)
        monkeypatch.setattr(algorithms, "TRAINERS", [*algorithms.TRAINERS, trainer])     # the registry line
        return trainer
    yield register
    for module in [name for name in sys.modules if name.startswith("plugins")]:
        del sys.modules[module]


@pytest.mark.parametrize("name", PLUGINS)
def test_a_new_algorithm_trains_resumes_and_reports_through_run_py(tmp_path, registered, capsys, name):
    trainer = registered(name)
    own = PLUGINS[name][2]
    whole = trained_and_resumed(tmp_path, [name, *SMALL, *own])
    metrics = json.loads((whole / "metrics.json").read_text())
    assert metrics["algorithm"] == name and metrics["history"][-1]["loss"] > 0
    for flag in own[::2]:
        assert flag[2:].replace("-", "_") in metrics["settings"]
    report = (whole / "report.md").read_text()
    assert report.startswith(f"# {trainer.name} on MNIST") and "| --lr |" in report
    assert plt.imread(whole / "losses.png").ndim == 3
    capsys.readouterr()
    assert main([name, "--help"]) == 0
    offered = capsys.readouterr().out
    assert all(flag in offered for flag in own[::2])


def test_a_new_algorithm_refuses_a_flag_of_another_and_a_wrong_value(tmp_path, registered, capsys):
    registered("renyi")
    assert main(["renyi", *SMALL, "--dreg", "--out", str(tmp_path / "a")]) == 2
    assert main(["renyi", *SMALL, "--alpha", "nan", "--out", str(tmp_path / "b")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and "--dreg" in lines[0] and "--alpha" in lines[1]
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())


def test_the_renyi_option_changes_what_is_trained(tmp_path, registered):
    registered("renyi")
    runs = {}
    for alpha in ("0.0", "0.9"):
        out = tmp_path / alpha
        assert main(["renyi", *SMALL, "--hidden", "16", "--k", "3", "--alpha", alpha, "--epochs", "1",
                     "--out", str(out)]) == 0
        runs[alpha] = history_of(out)[0]["loss"]
    assert runs["0.0"] != runs["0.9"]


@pytest.fixture
def no_plugins_left():
    yield
    for module in [name for name in sys.modules if name.startswith("plugins")]:
        del sys.modules[module]


def test_a_new_likelihood_trains_resumes_and_reports_through_run_py(tmp_path, monkeypatch, no_plugins_left):
    write_plugin(tmp_path, monkeypatch, "sigmoid_gaussian", GAUSSIAN)
    monkeypatch.setitem(algorithms.LIKELIHOODS, "sigmoid-gaussian", "plugins.sigmoid_gaussian:SigmoidGaussian")
    own = ["--hidden", "16", "--likelihood", "sigmoid-gaussian"]
    whole = trained_and_resumed(tmp_path, ["aevb", *SMALL, *own])
    assert "about the decoder's means" in (whole / "report.md").read_text()
    bernoulli = tmp_path / "bernoulli"
    assert main(["aevb", *SMALL, "--hidden", "16", "--epochs", "1", "--out", str(bernoulli)]) == 0
    assert history_of(bernoulli)[0]["loss"] != history_of(whole)[0]["loss"]     # the likelihood is what trained
    assert main(["aevb", *SMALL, *own, "--dequantize", "--epochs", "1", "--out", str(tmp_path / "deq")]) == 0


def test_a_new_extension_runs_every_epoch_and_at_the_end_and_resumes(tmp_path, monkeypatch, capsys,
                                                                      no_plugins_left):
    import experiments.outputs
    write_plugin(tmp_path, monkeypatch, "code_norms", NORMS)
    monkeypatch.setitem(experiments.outputs.EXTENSIONS, "code-norms", "plugins.code_norms:CodeNorms")
    own = ["--hidden", "16", "--extensions", "code-norms"]
    whole = trained_and_resumed(tmp_path, ["aevb", *SMALL, *own])
    assert "code_norm" in history_of(whole)[1]
    assert "code_norm" in (whole / "metrics.csv").read_text().splitlines()[0]
    assert "| mean norm of mu(x) |" in (whole / "report.md").read_text()
    assert len((whole / "code_norms.txt").read_text().split()) == 60
    capsys.readouterr()
    assert main(["aevb", *SMALL, "--extensions", "no-such", "--out", str(tmp_path / "none")]) == 2
    assert "--extensions no-such: not an extension" in capsys.readouterr().err
    assert not (tmp_path / "none" / "checkpoint.npz").exists()

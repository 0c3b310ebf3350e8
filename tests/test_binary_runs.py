"""The binary Helmholtz machine from the command line (derivations/binary.md): each estimator trains and writes its
outputs, with the exact evaluation of a layer small enough to enumerate; a resumed NVIL run (whose trainer keeps
baselines and running moments) ends with the numbers of an uninterrupted one; and every combination that makes no
sense answers in one line, with a non-zero exit, leaving an earlier run's files as they were."""
import json

import matplotlib.pyplot as plt
import numpy as np
import pytest

from conftest import rendered_figures
from run import main
from test_run_faults import answers_in_one_line

BINARY = ["--layers", "6", "--train-size", "200", "--test-size", "40", "--eval-train-size", "40", "--eval-k", "5",
          "--eval-every", "1", "--epochs", "2", "--batch-size", "50", "--binarize", "fixed", "--nll-k", "10"]
LATENT = {"wake-sleep": ["--latent", "binary"], "rws": ["--latent", "binary"]}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 2-epoch VIMCO run of 6 binary units."""
    folder = tmp_path_factory.mktemp("binary") / "vimco"
    with rendered_figures():                          # the test of the exact evaluation reads its figures
        assert main(["vimco", *BINARY, "--out", str(folder)]) == 0
    return folder


@pytest.mark.parametrize("algorithm", ["wake-sleep", "rws"])
def test_wake_sleep_and_rws_train_binary_latents_and_write_their_outputs(algorithm, tmp_path):
    """(NVIL trains in the resume test below; VIMCO in the fixture, with the exact evaluation.)"""
    assert main([algorithm, *LATENT[algorithm], *BINARY, "--no-exact", "--out", str(tmp_path)]) == 0
    final = json.loads((tmp_path / "metrics.json").read_text())["final"]
    assert final["nll_k"] == 10 and "exact" not in final and (tmp_path / "reconstructions.png").exists()


def test_vimco_trains_and_ends_with_the_exact_evaluation(finished):
    folder = finished
    final = json.loads((folder / "metrics.json").read_text())["final"]
    exact = final["exact"]
    assert exact["units"] == 6 and final["nll_k"] == 10
    assert exact["gaps"]["1000"][0] > -0.05          # L_k <= log p(x) in expectation (0 within Monte Carlo error)
    assert exact["gaps"]["1"][0] > exact["gaps"]["1000"][0]
    assert abs(exact["log_px"][0] - exact["elbo"][0] - exact["kl_q_to_posterior"][0]) < 1e-9
    assert "by enumerating their 2^6 states" in (folder / "report.md").read_text()
    assert all(plt.imread(folder / name).shape[0] > 100 for name in ("states.png", "exact_gap.png"))


def test_a_resumed_nvil_run_ends_with_the_numbers_of_an_uninterrupted_one(tmp_path):
    whole, halves = tmp_path / "whole", tmp_path / "halves"
    assert main(["nvil", *BINARY, "--no-exact", "--out", str(whole)]) == 0
    assert main(["nvil", *BINARY, "--no-exact", "--epochs", "1", "--out", str(halves)]) == 0
    assert main(["nvil", "--resume", "--epochs", "2", "--out", str(halves)]) == 0
    history = [json.loads((folder / "metrics.json").read_text())["history"] for folder in (whole, halves)]
    drop_seconds = [[{k: v for k, v in record.items() if k != "seconds"} for record in h] for h in history]
    assert drop_seconds[0] == drop_seconds[1]
    np.testing.assert_array_equal(np.load(whole / "bounds.npz")["nll/test"], np.load(halves / "bounds.npz")["nll/test"])


REFUSED = [
    (["aevb", "--latent", "binary"], "--latent is not a flag of aevb"),
    (["iwae", "--latent", "binary"], "--latent is not a flag of iwae"),
    (["vimco", "--k", "1"], "--k: takes a whole number of at least 2, got 1"),
    (["nvil", "--latent", "gaussian"], "--latent is not a flag of nvil"),
    (["wake-sleep", "--layers", "5"], "give --latent binary"),
    (["wake-sleep", "--latent", "binary", "--latent-dim", "3"], "--latent-dim 3: a Gaussian latent's size"),
    (["vimco", "--latent-dim", "3"], "--latent-dim is not a flag of vimco"),
    (["rws", "--latent", "binary", "--dreams", "means"], "--dreams means"),
    (["wake-sleep", "--latent", "binary", "--likelihood", "continuous-bernoulli"], "Bernoulli likelihood"),
    (["wake-sleep", "--latent", "binary", "--diagnostics"], "--diagnostics"),
    (["rws", "--latent", "binary", "--log-var-floor", "-3"], "--log-var-floor"),
]


@pytest.mark.parametrize("argv, expected", REFUSED, ids=[" ".join(argv) for argv, _ in REFUSED])
def test_what_makes_no_sense_with_binary_latents_is_refused_in_one_line(finished, capsys, argv, expected):
    answers_in_one_line(capsys, finished, [*argv, "--out", str(finished), "--force"], 2, expected)


def test_the_explorer_refuses_binary_latents_in_one_line(finished, tmp_path, capsys):
    answers_in_one_line(capsys, finished, ["explore", str(finished), "--out", str(tmp_path / "page.html")], 2,
                        "the explorer shows a 2-D Gaussian latent")


@pytest.mark.parametrize("layers, expected", [(["3", "2"], "it has 2 stochastic layers"),
                                             (["21"], "its layer has 21 units: 2^21 states (at most 2^20)")])
def test_exact_refuses_what_cannot_be_enumerated(tmp_path, capsys, layers, expected):
    folder = tmp_path / "run"
    argv = ["rws", "--latent", "binary", *BINARY, "--layers", *layers, "--epochs", "1", "--no-exact", "--nll-k", "2"]
    assert main([*argv, "--out", str(folder)]) == 0
    answers_in_one_line(capsys, folder, ["exact", "--out", str(folder)], 2, expected)


@pytest.mark.parametrize("text, expected", [('layers = "200"', "layers takes a list"), ("k = 1", "k takes a whole number of at least 2"),
                                            ("layers = [200, 0]", "at least 1"), ("latent = 2", "latent is not a setting of vimco")])
def test_a_binary_configuration_with_a_wrong_value_is_refused_in_one_line(finished, tmp_path, capsys, text, expected):
    config = tmp_path / "bad.toml"
    config.write_text(text + "\n")
    answers_in_one_line(capsys, finished, ["vimco", "--config", str(config), "--out", str(finished), "--force"], 2,
                        expected)

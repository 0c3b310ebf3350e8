"""experiments/studies/worst_images.py: the lowest images of a run's per-image bounds, and one image's log-weight split
into its terms by layer (derivations/estimators.md, REBAR on the SBN 200-200)."""
import numpy as np
import pytest

from algorithms.binary.model import BinaryHelmholtzMachine
from experiments.studies.worst_images import OFF, layer_terms, main, table, worst


def test_the_worst_images_are_the_lowest_values_and_the_mean_without_them_leaves_out_exactly_those():
    values = np.array([-100.0, -5000.0, -98.0, -102.0, -14000.0, -99.0])
    summary = worst(values, 2)
    assert summary["images"] == [4, 1] and summary["values"] == [-14000.0, -5000.0]
    assert summary["mean_without"] == pytest.approx(np.mean([-100.0, -98.0, -102.0, -99.0]))
    assert summary["median"] == pytest.approx(-101.0)
    assert summary["se"] == pytest.approx(values.std(ddof=1) / np.sqrt(6))
    row = table({"rebar-s0": values}, 2)[2]
    assert row.startswith("| rebar-s0 | -3233.17 ± ") and "4: -14000.0, 1: -5000.0" in row and row.endswith("| -99.75 |")


@pytest.mark.parametrize("layers", [(6,), (6, 4)])
def test_the_terms_by_layer_add_up_to_the_fused_evaluations_log_weights(layers):
    """An independent computation: evaluation.py sums each layer's log-probabilities its own way (Eq. (S15)); a term
    left out, counted twice or of the wrong sign would not add up to it."""
    rng = np.random.default_rng(3)
    model = BinaryHelmholtzMachine(rng, data_dim=12, layers=layers, dtype=np.float64)
    for net in [*model.recognition, *model.generative]:
        for _, value, _ in net.named_parameters():
            value += rng.normal(0, 1.5, value.shape)
    model.prior.params["b"][:] = [-12.0, 3.0, -11.0, 0.5, -1.0, 2.0][:layers[-1]]
    x = (rng.random(12) < 0.4).astype(np.float64)
    uniforms = model.noise(rng, 300)
    terms = layer_terms(model, x, uniforms)
    np.testing.assert_allclose(terms["log w"], model.log_importance_weights(x[None], uniforms[:, None])[:, 0],
                               rtol=0, atol=1e-9)
    assert len([name for name in terms if name.startswith(("log p", "-log q"))]) == 2 * len(layers) + 1
    on = sample_top(model, x, uniforms)
    np.testing.assert_array_equal(terms[f"h_{len(layers)} units on"], on.sum(axis=1))
    np.testing.assert_array_equal(terms[f"of them with a prior logit below {OFF:g}"],
                                  on[:, model.prior.params["b"] < OFF].sum(axis=1))


def sample_top(model, x, uniforms):
    """The top layer's samples drawn by hand, h_l = [u_l < sigmoid(f_l(h_{l-1}))] (Eq. (S4))."""
    below, start = x[None].repeat(uniforms.shape[0], 0), 0
    for net, size in zip(model.recognition, model.layers):
        eta = net(below)
        below = (uniforms[:, start:start + size] < 1 / (1 + np.exp(-eta))).astype(np.float64)
        start += size
    return below


def test_it_asks_for_one_of_network_and_run(capsys):
    with pytest.raises(SystemExit) as stop:
        main([])
    assert stop.value.code == 2 and "give --network or --run" in capsys.readouterr().err


def test_a_folder_without_a_run_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["--run", str(tmp_path), "--images", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("worst_images: error: ") and "checkpoint.npz" in err and err.count("\n") == 1

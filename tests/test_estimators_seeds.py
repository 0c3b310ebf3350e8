"""The equal-cost tables of derivations/estimators.md (experiments/studies/estimators_seeds.py), on the enumerable
model and the benchmark networks: their means, spreads and paired differences against numbers computed here by hand, runs
without the evaluation a table needs refused by name, and the page's commands the study's."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from experiments.studies import estimators_published, estimators_seeds
from experiments.studies.estimators_seeds import main, measured_by_sampling, measured_exactly, table


def run(log_px, elbo=-120.0, kl=10.0):
    return {"epochs": 50, "train_seconds": 600.0, "epoch_seconds": 10.0, "log_px": [log_px, 0.32],
            "elbo": [elbo, 0.36], "kl_q_to_posterior": [kl, 0.1]}


def history(*seconds):
    """A metrics.json history whose epochs took these seconds."""
    return [{"epoch": epoch + 1, "seconds": value, "loss": 100.0} for epoch, value in enumerate(seconds)]


def test_the_log_px_difference_is_paired_by_seed_over_the_seeds_both_have():
    record = {"vimco-k2": {"0": run(-110.0), "1": run(-111.0), "2": run(-112.5)},
              "disarm": {"0": {**run(-109.0, kl=9.0), "minus_reference": [1.0, 0.08]}, "2": run(-110.5, kl=11.0)}}
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table("sbn-j20", record)[2:]}
    # by seed (1, 2): sd 0.71; by image seed 0's alone, seed 2 unpaired
    assert rows["DisARM (one pair)"].endswith("| +1.50 ± 0.71 (2 seeds) | +1.00 ± 0.08, — | 10.0–10.0 |")
    assert "| 2 | 0, 2 | -109.00, -110.50 | -109.75 ± 1.06 | 0.32 | -120.00 ± 0.00 | 10.00 ± 1.41 |" \
        in rows["DisARM (one pair)"]
    assert rows["VIMCO, k = 2"].split(" | ")[2:5] == ["0, 1, 2", "-110.00, -111.00, -112.50", "-111.17 ± 1.26"]
    assert rows["VIMCO, k = 2"].endswith("| — | — | 10.0–10.0 |")


def test_a_run_without_its_exact_evaluation_is_refused_by_name(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"history": history(1.0), "final": {"epoch": 50,
                                                                                       "train_seconds": 1.0}}))
    with pytest.raises(ValueError, match="without its exact evaluation"):
        measured_exactly(tmp_path)


def test_main_records_each_folders_exact_evaluation_by_estimator_and_seed(tmp_path, capsys):
    """main reads RUNS_DIR/ESTIMATOR-sSEED/metrics.json as run.py writes it (final, with its exact evaluation), keeps
    what the record held, and prints the table; "disarm-s0" is not ARM's, nor "notes-s1" a run."""
    def finished(name, log_px, seconds, per_image=(0.0, 0.0, 0.0), epochs=(10.0, 12.0, 11.0)):
        folder = tmp_path / "runs" / name
        folder.mkdir(parents=True)
        np.savez(folder / "bounds.npz", **{"exact/log_px": log_px + np.array(per_image)})
        exact = {"log_px": [log_px, 0.3], "elbo": [log_px - 9, 0.35], "kl_q_to_posterior": [9.0, 0.08], "gaps": {}}
        (folder / "metrics.json").write_text(json.dumps(
            {"history": history(*epochs), "final": {"epoch": 50, "train_seconds": seconds, "exact": exact}}))
    finished("disarm-s0", -110.0, 540.0, per_image=(3.0, -3.0, 0.0))      # minus VIMCO's, image by image: (5, -1, 2)
    finished("disarm-s1", -111.0, 660.0, epochs=(9.0, 500.0, 8.5))         # a pause in its second epoch
    finished("vimco-k2-s0", -112.0, 600.0)
    (tmp_path / "runs" / "notes-s1").mkdir()
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"rloo": {"0": run(-113.0)}}))
    main(["--runs", str(tmp_path / "runs"), "--record", str(record)])
    kept = json.loads(record.read_text())
    assert sorted(kept) == ["disarm", "rloo", "vimco-k2"] and sorted(kept["disarm"]) == ["0", "1"]
    assert kept["disarm"]["1"] == {"epochs": 50, "train_seconds": 660.0, "epoch_seconds": 9.0, "log_px": [-111.0, 0.3],
                                   "elbo": [-120.0, 0.35], "kl_q_to_posterior": [9.0, 0.08],
                                   "curve": [100.0, 100.0, 100.0]}
    rows = {line.split(" | ")[0].lstrip("| "): line for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["DisARM (one pair)"].endswith("| +2.00 (1 seed) | +2.00 ± 1.73, — | 9.0–11.0 |")   # SE 3 / sqrt(3)
    assert "minus_reference" not in kept["disarm"]["1"]
    assert rows["RLOO, k = 2"].endswith("| -1.00 (1 seed) | — | 10.0–10.0 |")


def sampled_run(folder, nll, seconds, per_image_nll, k=100):
    """A finished SBN 200-200 run as run.py --nll-k k --no-exact writes it: its test -L_k and the per-image NLL."""
    folder.mkdir(parents=True)
    np.savez(folder / "bounds.npz", **{"nll/test": np.asarray(per_image_nll, dtype=np.float64)})
    (folder / "metrics.json").write_text(json.dumps(
        {"history": history(seconds / 10), "final": {"epoch": 10, "train_seconds": seconds, "nll": nll, "nll_se": 0.27,
                                                     "nll_k": k, "active_units": 150}}))


def test_the_sbn_200_200_table_pairs_l_100_image_by_image_with_its_sign_and_measures_each_run_once(
        tmp_path, monkeypatch, capsys):
    """L_100 = -NLL, so a run whose per-image NLL is lower than VIMCO's is ahead (+); a run the record holds is not
    measured again (its ELBO costs 100 decoder passes per test image)."""
    measured_elbo = []
    monkeypatch.setattr(estimators_seeds, "test_elbo", lambda folder: measured_elbo.append(folder.name) or [-120.0, 0.3])
    sampled_run(tmp_path / "runs" / "vimco-k2-s0", 112.0, 540.0, [112.0, 113.0, 111.0])
    sampled_run(tmp_path / "runs" / "rloo-s0", 111.0, 600.0, [110.0, 113.0, 110.0])      # minus VIMCO's: (2, 0, 1)
    record = tmp_path / "record.json"
    for _ in range(2):
        main(["--runs", str(tmp_path / "runs"), "--network", "sbn-200-200-e10", "--record", str(record)])
    assert sorted(measured_elbo) == ["rloo-s0", "vimco-k2-s0"]
    kept = json.loads(record.read_text())
    assert kept["rloo"]["0"] == {"epochs": 10, "train_seconds": 600.0, "epoch_seconds": 60.0, "L_100": [-111.0, 0.27],
                                 "elbo": [-120.0, 0.3], "active_units": [150, None],
                                 "minus_reference": [1.0, 1 / np.sqrt(3)], "curve": [100.0]}
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("| linear SBN 200-200"))
    assert len(header.split(" | ")) == len(lines[-1].split(" | ")) == 11
    rloo = next(line for line in lines if line.startswith("| RLOO"))
    assert rloo.endswith("| 2 | 0 | -111.00 | -111.00 | 0.27 | -120.00 | 150.00 | +1.00 (1 seed) | +1.00 ± 0.58 | "
                         "60.0–60.0 |")


def test_a_run_held_without_a_measure_the_network_now_has_is_measured_again(tmp_path, monkeypatch):
    """A record made before active units were measured gains them; its other numbers are measured afresh, not kept."""
    monkeypatch.setattr(estimators_seeds, "test_elbo", lambda folder: [-121.0, 0.3])
    sampled_run(tmp_path / "runs" / "rloo-s0", 111.0, 600.0, [110.0, 113.0, 110.0])
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"rloo": {"0": {"epochs": 10, "train_seconds": 600.0, "epoch_seconds": 60.0,
                                                 "L_100": [-111.0, 0.27], "elbo": [-120.0, 0.3]}}}))
    main(["--runs", str(tmp_path / "runs"), "--network", "sbn-200-200-e10", "--record", str(record)])
    kept = json.loads(record.read_text())["rloo"]["0"]
    assert kept["active_units"] == [150, None] and kept["elbo"] == [-121.0, 0.3]


def test_a_sampled_run_with_another_bound_is_refused_by_name(tmp_path):
    sampled_run(tmp_path / "run", 112.0, 1.0, [112.0], k=5000)
    with pytest.raises(ValueError, match="its test bound is L_5000, not L_100"):
        measured_by_sampling(tmp_path / "run", k=100)


@pytest.mark.parametrize("network", ["sbn-200", "sbn-200-nonlinear", "sbn-200-200"])
def test_a_benchmark_network_at_its_full_budget_is_measured_by_l_5000_and_trained_by_its_configurations(
        network, tmp_path, monkeypatch):
    """derivations/binary.md's budgets: the configurations' own epochs (no flag shortens them), and the run's own
    L_5000 as the paired measure; a run of the 10-epoch study (L_100) is refused."""
    monkeypatch.setattr(estimators_seeds, "test_elbo", lambda folder: [-120.0, 0.3])
    entry = estimators_seeds.NETWORKS[network]
    assert list(entry["measures"]) == ["L_5000", "elbo", "active_units"] and entry["flags"] == ""
    assert estimators_seeds.command(network, "arm") == \
        f"python run.py disarm --config configs/{network}-disarm.toml --estimator arm"
    for estimator, (*_, config, _) in estimators_seeds.RUNS.items():
        assert (Path(__file__).resolve().parents[1] / "configs" / f"{network}-{config}.toml").exists(), estimator
    sampled_run(tmp_path / "long", 95.0, 1.0, [95.0], k=5000)
    assert entry["measured"](tmp_path / "long")["L_5000"] == [-95.0, 0.27]
    sampled_run(tmp_path / "short", 110.0, 1.0, [110.0])
    with pytest.raises(ValueError, match="not L_5000"):
        entry["measured"](tmp_path / "short")


@pytest.mark.parametrize("network", sorted(estimators_seeds.NETWORKS))
def test_every_row_the_page_shows_has_the_command_the_study_documents(network):
    """Each estimator in the network's record is trained, on derivations/estimators.md, by command(network, estimator)
    (a network whose runs have not finished yet has no record, and the page no row of it)."""
    page = (Path(__file__).resolve().parents[1] / "derivations" / "estimators.md").read_text()
    record = estimators_seeds.NETWORKS[network]["record"]
    recorded = estimators_seeds.read_record(record)
    assert recorded or f"figures/{record.name}" not in page
    for estimator in recorded:
        assert estimators_seeds.command(network, estimator) + " --seed S" in page, estimator


def test_runs_of_two_sessions_are_paired_image_by_image_and_drawn_after_the_first_sessions_folders_are_gone(
        tmp_path, monkeypatch, capsys):
    """A session's run folders do not outlive it: the reference measured in one session, its folder deleted, and a run
    measured in the next are still paired image by image, from the file beside the record, and both are drawn."""
    monkeypatch.setattr(estimators_seeds, "test_elbo", lambda folder: [-120.0, 0.3])
    drawn = []
    monkeypatch.setattr(estimators_seeds.plt, "close", lambda fig: drawn.extend(fig.axes[0].lines))
    record = tmp_path / "record.json"
    sampled_run(tmp_path / "first" / "vimco-k2-s0", 112.0, 540.0, [112.0, 113.0, 111.0])
    main(["--runs", str(tmp_path / "first"), "--network", "sbn-200-200-e10", "--record", str(record)])
    shutil.rmtree(tmp_path / "first")
    sampled_run(tmp_path / "second" / "rloo-s0", 111.0, 600.0, [110.0, 113.0, 110.0])    # minus VIMCO's: (2, 0, 1)
    main(["--runs", str(tmp_path / "second"), "--network", "sbn-200-200-e10", "--record", str(record),
          "--curves", str(tmp_path / "curves.png")])
    kept = json.loads(record.read_text())
    assert kept["rloo"]["0"]["minus_reference"] == [1.0, 1 / np.sqrt(3)]
    assert kept["vimco-k2"]["0"]["curve"] == [100.0] and kept["rloo"]["0"]["curve"] == [100.0]
    assert sorted(np.load(tmp_path / "record-per-image.npz").files) == ["rloo-s0", "vimco-k2-s0"]
    assert [list(line.get_ydata()) for line in drawn] == [[100.0], [100.0]]
    assert "not drawn" not in capsys.readouterr().out


def test_a_figure_is_not_redrawn_without_the_runs_whose_curves_the_record_does_not_keep(tmp_path, monkeypatch, capsys):
    """A run measured before curves were kept is in the record without one: its network's figure, drawn while its
    folder existed, is left as it was, and the runs are named."""
    monkeypatch.setattr(estimators_seeds, "test_elbo", lambda folder: [-120.0, 0.3])
    record, figure = tmp_path / "record.json", tmp_path / "curves.png"
    held = {"epochs": 10, "train_seconds": 1.0, "epoch_seconds": 0.1, "L_100": [-113.0, 0.3], "elbo": [-121.0, 0.3],
            "active_units": [150, None]}
    record.write_text(json.dumps({"nvil": {"1": held}}))
    figure.write_bytes(b"drawn from the run folders")
    sampled_run(tmp_path / "runs" / "rloo-s0", 111.0, 600.0, [110.0, 113.0, 110.0])
    main(["--runs", str(tmp_path / "runs"), "--network", "sbn-200-200-e10", "--record", str(record),
          "--curves", str(figure)])
    assert figure.read_bytes() == b"drawn from the run folders"
    assert "no curve of nvil-s1" in capsys.readouterr().out


def test_a_new_run_of_the_reference_unpairs_a_run_it_cannot_pair_again(tmp_path, monkeypatch):
    """A run measured before per-image bounds were kept keeps the pairing made while its folder existed, until the
    reference of its seed is run again: the pairing was with the reference run that is gone, and is dropped."""
    monkeypatch.setattr(estimators_seeds, "test_elbo", lambda folder: [-120.0, 0.3])
    record = tmp_path / "record.json"
    old = {"epochs": 10, "train_seconds": 1.0, "epoch_seconds": 0.1, "L_100": [-112.0, 0.3], "elbo": [-121.0, 0.3],
           "active_units": [150, None]}
    record.write_text(json.dumps({"vimco-k2": {"0": old, "1": old},
                                  "nvil": {"0": {**old, "minus_reference": [-1.0, 0.1]},
                                           "1": {**old, "minus_reference": [-2.0, 0.1]}}}))
    sampled_run(tmp_path / "runs" / "vimco-k2-s0", 112.5, 540.0, [112.0, 113.0, 111.0])      # seed 0 run again
    main(["--runs", str(tmp_path / "runs"), "--network", "sbn-200-200-e10", "--record", str(record)])
    kept = json.loads(record.read_text())["nvil"]
    assert "minus_reference" not in kept["0"] and kept["1"]["minus_reference"] == [-2.0, 0.1]


def test_the_curves_draw_one_line_per_run_the_record_keeps_a_curve_of_in_its_estimators_colour(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(estimators_seeds.plt, "close", lambda fig: drawn.extend(fig.axes))
    record = {"rloo": {"1": {"curve": [131.0, 121.0]}, "0": {"curve": [130.0, 120.0]}},
              "concrete": {"0": {"curve": [125.0, 115.0]}},
              "nvil": {"0": {"epochs": 50}}}                      # measured before curves were kept: not drawn, named
    assert estimators_seeds.without_curves(record) == ["nvil-s0"]
    estimators_seeds.plot_curves(record, tmp_path / "curves.png", "test")
    assert (tmp_path / "curves.png").stat().st_size > 0
    lines = drawn[0].lines
    assert [list(line.get_ydata()) for line in lines] == [[130.0, 120.0], [131.0, 121.0], [125.0, 115.0]]
    assert [line.get_color() for line in lines] == ["C2", "C2", "C5"]     # RUNS' order: rloo third, concrete sixth
    assert [text.get_text() for text in drawn[0].get_legend().get_texts()] == [
        "RLOO, k = 2: −ELBO", "Concrete, k = 2, τ = 0.5: −F_τ, relaxed"]


@pytest.mark.parametrize("network", sorted(estimators_seeds.NETWORKS))
def test_every_table_on_the_page_is_the_one_its_record_prints(network):
    """Each row of table(network, record) stands on derivations/estimators.md as it is printed: a run merged into a
    record and not carried to the page fails here."""
    page = (Path(__file__).resolve().parents[1] / "derivations" / "estimators.md").read_text()
    recorded = estimators_seeds.read_record(estimators_seeds.NETWORKS[network]["record"])
    if not recorded:
        pytest.skip(f"no run of {network} has finished")
    for row in table(network, recorded):
        assert row in page, row


def test_the_published_table_sets_our_negated_bounds_beside_arms_with_their_seeds():
    seeds = {"0": {"L_5000": [-108.0, 0.26], "elbo": [-119.0, 0.29]}, "2": {"L_5000": [-109.0, 0.27],
                                                                           "elbo": [-120.0, 0.28]}}
    rows = estimators_published.table({"sbn-200": {"arm": seeds, "disarm": seeds}})
    assert "| linear SBN 200 | ARM | 107.2 | 108.50 ± 0.71 (0, 2) | 119.50 ± 0.71 |" in rows
    assert "| linear SBN 200 | NVIL | 113.1 | not yet trained |  |" in rows
    assert "| nonlinear SBN 200 | ARM | 98.4 | not yet trained |  |" in rows
    assert len(rows) == 2 + 12 and not any("DisARM" in row for row in rows)        # ARM's table has no DisARM row


def test_the_published_table_on_the_page_is_the_one_the_records_print():
    page = (Path(__file__).resolve().parents[1] / "derivations" / "estimators.md").read_text()
    for row in estimators_published.table(estimators_published.records()):
        assert row in page, row

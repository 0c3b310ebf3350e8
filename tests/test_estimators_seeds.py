"""The enumerable model's equal-cost table of derivations/estimators.md (experiments/studies/estimators_seeds.py): its
means, spreads and paired differences against numbers computed here by hand, and a run without its exact evaluation
refused by name."""
import json

import numpy as np
import pytest

from experiments.studies.estimators_seeds import main, measured, table


def run(log_px, elbo=-120.0, kl=10.0):
    return {"epochs": 50, "train_seconds": 600.0, "log_px": [log_px, 0.32], "elbo": [elbo, 0.36],
            "kl_q_to_posterior": [kl, 0.1]}


def test_the_log_px_difference_is_paired_by_seed_over_the_seeds_both_have():
    record = {"vimco-k2": {"0": run(-110.0), "1": run(-111.0), "2": run(-112.5)},
              "disarm": {"0": {**run(-109.0, kl=9.0), "minus_reference": [1.0, 0.08]}, "2": run(-110.5, kl=11.0)}}
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table(record)[2:]}
    assert rows["DisARM (one pair)"].endswith("| +1.50 ± 0.71 (2 seeds) | +1.00 ± 0.08 | 10–10 |")  # (1, 2): sd 0.71
    assert "| 2 | 0, 2 | -109.00, -110.50 | -109.75 ± 1.06 | 0.32 | -120.00 ± 0.00 | 10.00 ± 1.41 |" \
        in rows["DisARM (one pair)"]
    assert rows["VIMCO, k = 2"].split(" | ")[2:5] == ["0, 1, 2", "-110.00, -111.00, -112.50", "-111.17 ± 1.26"]
    assert rows["VIMCO, k = 2"].endswith("| — | — | 10–10 |")


def test_a_run_without_its_exact_evaluation_is_refused_by_name(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"final": {"epoch": 50, "train_seconds": 1.0}}))
    with pytest.raises(ValueError, match="without its exact evaluation"):
        measured(tmp_path)


def test_main_records_each_folders_exact_evaluation_by_estimator_and_seed(tmp_path, capsys):
    """main reads RUNS_DIR/ESTIMATOR-sSEED/metrics.json as run.py writes it (final, with its exact evaluation), keeps
    what the record held, and prints the table; "disarm-s0" is not ARM's, nor "notes-s1" a run."""
    def finished(name, log_px, seconds, per_image=(0.0, 0.0, 0.0)):
        folder = tmp_path / "runs" / name
        folder.mkdir(parents=True)
        np.savez(folder / "bounds.npz", **{"exact/log_px": log_px + np.array(per_image)})
        exact = {"log_px": [log_px, 0.3], "elbo": [log_px - 9, 0.35], "kl_q_to_posterior": [9.0, 0.08], "gaps": {}}
        (folder / "metrics.json").write_text(json.dumps(
            {"history": [], "final": {"epoch": 50, "train_seconds": seconds, "exact": exact}}))
    finished("disarm-s0", -110.0, 540.0, per_image=(3.0, -3.0, 0.0))      # minus VIMCO's, image by image: (5, -1, 2)
    finished("disarm-s1", -111.0, 660.0)
    finished("vimco-k2-s0", -112.0, 600.0)
    (tmp_path / "runs" / "notes-s1").mkdir()
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"rloo": {"0": run(-113.0)}}))
    main(["--runs", str(tmp_path / "runs"), "--record", str(record)])
    kept = json.loads(record.read_text())
    assert sorted(kept) == ["disarm", "rloo", "vimco-k2"] and sorted(kept["disarm"]) == ["0", "1"]
    assert kept["disarm"]["1"] == {"epochs": 50, "train_seconds": 660.0, "log_px": [-111.0, 0.3],
                                   "elbo": [-120.0, 0.35], "kl_q_to_posterior": [9.0, 0.08]}
    rows = {line.split(" | ")[0].lstrip("| "): line for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["DisARM (one pair)"].endswith("| +2.00 (1 seed) | +2.00 ± 1.73 | 9–11 |")   # sd 3, SE 3 / sqrt(3)
    assert "minus_reference" not in kept["disarm"]["1"]
    assert rows["RLOO, k = 2"].endswith("| -1.00 (1 seed) | — | 10–10 |")

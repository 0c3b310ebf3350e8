"""The enumerable model's equal-cost table of derivations/estimators.md (experiments/studies/estimators_seeds.py): its
means, spreads and paired differences against numbers computed here by hand, and a run without its exact evaluation
refused by name."""
import json

import pytest

from experiments.studies.estimators_seeds import measured, table


def run(log_px, elbo=-120.0, kl=10.0):
    return {"epochs": 50, "train_seconds": 600.0, "log_px": [log_px, 0.32], "elbo": [elbo, 0.36],
            "kl_q_to_posterior": [kl, 0.1]}


def test_the_log_px_difference_is_paired_by_seed_over_the_seeds_both_have():
    record = {"vimco-k2": {"0": run(-110.0), "1": run(-111.0), "2": run(-112.5)},
              "disarm": {"0": run(-109.0, kl=9.0), "2": run(-110.5, kl=11.0)}}
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table(record)[2:]}
    assert rows["DisARM (one pair)"].endswith("| +1.50 ± 0.71 (2 seeds) | 10–10 |")   # (1, 2): mean 1.5, sd 0.71
    assert "| 2 | 0, 2 | -109.00, -110.50 | -109.75 ± 1.06 | 0.32 | -120.00 ± 0.00 | 10.00 ± 1.41 |" \
        in rows["DisARM (one pair)"]
    assert rows["VIMCO, k = 2"].split(" | ")[2:5] == ["0, 1, 2", "-110.00, -111.00, -112.50", "-111.17 ± 1.26"]
    assert rows["VIMCO, k = 2"].endswith("| — | 10–10 |")


def test_a_run_without_its_exact_evaluation_is_refused_by_name(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"final": {"epoch": 50, "train_seconds": 1.0}}))
    with pytest.raises(ValueError, match="without its exact evaluation"):
        measured(tmp_path)

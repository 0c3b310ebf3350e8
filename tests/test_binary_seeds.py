"""The three-seed table of derivations/binary.md (experiments/studies/binary_seeds.py): its means, spreads and paired
differences against numbers computed here by hand."""
from experiments.studies.binary_seeds import spread, table


def run(elbo, nll):
    return {"epochs": 100, "elbo": [elbo, 0.3], "nll": [nll, 0.25], "train_seconds": 600.0}


def test_the_spread_is_the_sample_standard_deviation_across_seeds():
    assert spread([1.0, 2.0, 4.0]) == "2.33 ± 1.53"                 # sd with n - 1: sqrt(14/3 / 2) = 1.5275
    assert spread([3.0]) == "3.00"


def test_the_nll_difference_is_paired_by_seed_over_the_seeds_both_have():
    record = {"vimco": {"0": run(105.0, 95.0), "1": run(106.0, 96.0), "2": run(107.0, 97.5)},
              "nvil": {"0": run(106.0, 98.0), "2": run(108.0, 99.5)}}
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table(record)[2:]}
    assert rows["NVIL (1 sample)"].endswith("| +2.50 ± 0.71 (2 seeds) |")  # (98 - 95, 99.5 - 97.5) = (3, 2)
    assert "| 0, 1, 2 | 105.00, 106.00, 107.00 | 106.00 ± 1.00 | 0.30 |" in rows["VIMCO (k = 5)"]
    assert rows["VIMCO (k = 5)"].endswith("| — |")

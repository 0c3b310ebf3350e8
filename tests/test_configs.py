"""configs/: every shipped configuration parses against the settings table for the commands its first lines name,
every one a page names exists and every one is named by a page, and a configuration gives the numbers of the same
settings given as flags."""
import re
from pathlib import Path

import pytest

from conftest import history_of
from experiments.harness.configs import read_config
from experiments.harness.new_settings import new_settings
from experiments.harness.stored import stored
from run import main

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.toml"))
COMMAND = re.compile(r"^# python run\.py ([\w-]+) --config (configs/[\w.-]+\.toml)", re.M)
PAGES = [ROOT / "README.md", *sorted((ROOT / "derivations").glob("*.md")), ROOT / "configs" / "README.md"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_a_configuration_is_read_for_the_commands_it_names(path):
    commands = COMMAND.findall(path.read_text())
    assert commands, f"{path.name} does not begin with the command that uses it"
    for algorithm, named in commands:
        assert named == f"configs/{path.name}"
        configured = read_config(path, [algorithm])
        settings = new_settings(algorithm, {}, False, configured)
        assert all(stored(settings)[key] == value for key, value in configured.items())


def test_every_configuration_a_page_names_exists_and_every_one_is_named():
    named = {match for page in PAGES for match in re.findall(r"configs/([\w.-]+\.toml)", page.read_text())}
    assert named == {path.name for path in CONFIGS}


def test_a_configuration_gives_the_numbers_of_its_flags(tmp_path):
    small = ["--epochs", "2", "--train-size", "200", "--test-size", "40", "--eval-train-size", "20", "--eval-k", "3",
             "--hidden", "16", "--eval-every", "1", "--no-exact", "--sleep-samples", "20", "--lr-decay-epochs", "2"]
    assert main(["wake-sleep", *small, "--config", str(ROOT / "configs" / "ws-box.toml"),
                 "--out", str(tmp_path / "file")]) == 0
    assert main(["wake-sleep", *small, "--sleep-lr", "1e-3", "--mean-bound", "3", "--log-var-ceiling", "0",
                 "--lr-schedule", "decay", "--diagnostics", "--out", str(tmp_path / "flags")]) == 0
    assert history_of(tmp_path / "file") == history_of(tmp_path / "flags")
    report = (tmp_path / "file" / "report.md").read_text()
    assert "configs/ws-box.toml" in report and "sleep_lr 0.001" in report and "mean_bound 3.0" in report

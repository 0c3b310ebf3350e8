"""The faults at the machine's limits and the silent surprises: sizes this machine cannot hold, a symlink loop, an IDX
header whose sizes overflow, files that cannot be written, a checkpoint holding a NaN, an empty --out, a seed given
twice. Each answers in one line on stderr with its exit status and no traceback, and leaves every earlier file
byte-identical (with --force too: the checks come before anything is deleted)."""
import dataclasses
import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import run
from conftest import write_mnist_files
from experiments.harness.new_settings import new_settings
from experiments.harness.room import memory_needed
from test_run_faults import TINY, answers_in_one_line, rewrite_checkpoint, snapshot

ROOT = Path(__file__).resolve().parent.parent
BIG = "1000000000"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("limits") / "run"
    assert run.main(["aevb", *TINY, "--out", str(folder)]) == 0
    return folder


@pytest.fixture
def earlier(finished_run, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    for path in finished_run.iterdir():
        if path.is_file():
            (folder / path.name).write_bytes(path.read_bytes())
    return folder


def symlink_loop(tmp):
    (tmp / "loop").symlink_to(tmp / "loop")
    return tmp / "loop"


def overflowing_header(tmp):
    """A data folder whose training images' header says 2^31 x 2^31 images of 4 pixels, in a 16-byte file."""
    data = write_mnist_files(tmp / "data")
    header = bytes([0, 0, 8, 3]) + (2 ** 31).to_bytes(4, "big") + (2 ** 31).to_bytes(4, "big") + (4).to_bytes(4, "big")
    (data / "train-images-idx3-ubyte.gz").unlink()
    (data / "train-images-idx3-ubyte").write_bytes(header)
    return data


def nan_weight(run_folder):
    """The finished run's checkpoint with one parameter NaN, written back as a valid archive."""
    rewrite_checkpoint(run_folder / "checkpoint.npz",
                       lambda arrays: arrays["param/generative.0.W"].__setitem__((0, 0), np.nan))


# (name, prepare(run folder, tmp) -> argv, exit status, a piece of the one line on stderr)
FAULTS = [
    ("IWAE's k too large for memory, with --force", lambda r, t: ["iwae", *TINY, "--k", BIG, "--force", "--out", str(r)],
     2, "--k: this run would need about"),
    ("hidden layers too large for memory", lambda r, t: ["aevb", *TINY, "--hidden", BIG, "--force", "--out",
                                                         str(r)], 2, "--hidden: this run would need"),
    ("a latent too large for memory", lambda r, t: ["aevb", *TINY, "--latent-dim", BIG, "--force", "--out", str(r)], 2,
     "--latent-dim: this run would need"),
    ("too many dreams for memory", lambda r, t: ["wake-sleep", *TINY, "--sleep-samples", BIG, "--force", "--out",
                                                 str(r)], 2, "--sleep-samples and --hidden: this run would need"),
    ("--data-dir a symlink loop", lambda r, t: ["aevb", *TINY, "--data-dir", str(symlink_loop(t)), "--out",
                                                str(t / "new")], 2, "--data-dir: cannot be resolved to a folder"),
    ("an IDX header whose sizes overflow", lambda r, t: ["aevb", *TINY, "--data-dir", str(overflowing_header(t)),
                                                         "--out", str(t / "new")], 2,
     "train-images-idx3-ubyte: size 16 bytes disagrees with the header's shape (2147483648, 2147483648, 4)"),
    ("run.py exact on a checkpoint with a NaN weight", lambda r, t: nan_weight(r) or ["exact", "--out", str(r)], 2,
     "param/generative.0.W holds a value that is not finite"),
    ("--resume on a checkpoint with a NaN weight", lambda r, t: nan_weight(r) or ["aevb", "--resume", "--epochs", "3",
                                                                                 "--out", str(r)], 2, "not finite"),
    ("--out ''", lambda r, t: ["aevb", *TINY, "--out", ""], 2, "--out: takes a folder, got an empty path"),
    ("--seeds 0 0", lambda r, t: ["compare", *TINY, "--seeds", "0", "0", "--out", str(t / "new")], 2,
     "--seeds 0 0: seed 0 given twice"),
    ("--log-var-floor 700", lambda r, t: ["aevb", "--log-var-floor", "700", "--out", str(t / "new")], 2,
     "--log-var-floor: takes a number from -80 to 80"),
    ("--log-var-ceiling -700", lambda r, t: ["aevb", "--log-var-ceiling", "-700", "--out", str(t / "new")], 2,
     "--log-var-ceiling: takes a number from -80 to 80"),
    ("--mean-bound 1e-300", lambda r, t: ["aevb", "--mean-bound", "1e-300", "--out", str(t / "new")], 2,
     "--mean-bound: takes a number from 1e-6 to 1e6, got 1e-300"),
    ("a flag before the command", lambda r, t: ["--epochs", "1"], 2, "the command comes first"),
    ("--resume into a folder that does not exist", lambda r, t: ["aevb", "--resume", "--out", str(t / "typo")], 2,
     "typo: no such folder, so no checkpoint to resume from"),
]


@pytest.mark.parametrize("prepare, status, expected", [fault[1:] for fault in FAULTS], ids=[f[0] for f in FAULTS])
def test_a_fault_at_the_limits_is_one_line_and_keeps_every_file(earlier, tmp_path, capsys, prepare, status, expected):
    answers_in_one_line(capsys, tmp_path, prepare(earlier, tmp_path), status, expected)


def limited_to(size):
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


@pytest.mark.parametrize("how", [[], ["--force"], ["--resume", "--epochs", "3"]], ids=["new", "--force", "--resume"])
def test_a_file_size_limit_is_refused_before_anything_is_written(earlier, tmp_path, how):
    """ulimit -f 100 KB in a fresh process: the run's checkpoint would not fit, so the run is refused before a file is
    deleted or written (no checkpoint.npz.tmp is left either)."""
    folder = earlier if how else tmp_path / "new"
    argv = TINY if how != ["--resume", "--epochs", "3"] else []
    before = snapshot(tmp_path)
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), "aevb", *argv, *how, "--out", str(folder)],
                          capture_output=True, text=True, cwd=ROOT, preexec_fn=limited_to(100_000))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "(ulimit -f)" in done.stderr, done.stderr
    assert snapshot(tmp_path) == before


def test_a_failure_while_writing_the_outputs_leaves_the_folder_as_it_was(earlier, tmp_path, capsys, monkeypatch):
    """run.py exact rewrites every output; a disk that fills while a figure is written (here: after the first two)
    leaves every file as it was, and says so in one line."""
    import experiments.outputs.write as write
    drawn = []

    def full_disk(*args, **kwargs):
        drawn.append(1)
        if len(drawn) > 2:
            raise OSError(28, "No space left on device")
    monkeypatch.setattr(write.figures, "save_reconstructions", full_disk)
    monkeypatch.setattr(write.figures, "plot_losses", full_disk)
    monkeypatch.setattr(write.figures, "plot_lk", full_disk)
    before = snapshot(tmp_path)
    capsys.readouterr()
    assert run.main(["exact", "--out", str(earlier)]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and "No space left on device" in err and "none in the folder was changed" in err, err
    assert snapshot(tmp_path) == before and not (earlier / ".staging").exists()


def test_a_large_evaluation_k_costs_time_not_memory():
    """--eval-k 10^9 is not refused: its evaluation goes one image at a time in blocks of samples
    (algorithms/bound.py::MOST_ROWS), so its memory estimate stays that of 2^16 rows, under 2 GB."""
    settings = dataclasses.replace(new_settings("aevb", {"eval_k": 10 ** 9, "exact": False}, quick=False),
                                   image_shape=(28, 28), train_size=60000, test_size=10000)
    assert memory_needed(settings)["an evaluation"][0] < 2 ** 31


def test_sizes_beyond_the_data_are_said(tmp_path, capsys, mnist_files):
    data = mnist_files(tmp_path / "data", n_train=200, n_test=50)
    assert run.main(["aevb", *TINY, "--train-size", "70000", "--batch-size", "5000", "--data-dir", str(data),
                     "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "run.py: note: --train-size 70000: the data hold 200 training images; using 200" in out
    assert "run.py: note: --batch-size 5000: more than the 200 training images" in out


def test_a_ctrl_c_while_run_py_loads_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(run, "EARLY_INTERRUPTS", [2])
    assert run.main(["aevb"]) == 130
    assert capsys.readouterr().err == "run.py: stopped while starting; kept: nothing was written\n"


def test_a_resumed_no_exact_run_stays_without_the_exact_evaluation(tmp_path):
    """--no-exact is one of the run's settings: continuing the run keeps it (or --exact asks for it)."""
    assert run.main(["aevb", *TINY, "--epochs", "1", "--out", str(tmp_path)]) == 0
    assert run.main(["aevb", "--resume", "--epochs", "2", "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert "exact" not in metrics["final"] and not (tmp_path / "posteriors.png").exists()

"""Every fault run.py is known to meet: one line on stderr, its exit status, no traceback, and every file of
the earlier run in the folder byte-identical afterwards. Also: divergence, the lock, SIGTERM, and the printed
resume command run verbatim."""
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import write_idx, write_mnist_files
from run import main
from experiments.harness.folder import RunFolder
from experiments.harness.parse import BadValue, for_option

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--train-size", "300", "--test-size", "120", "--eval-train-size", "100", "--eval-k", "5", "--eval-every", "1",
         "--no-exact"]
TINY = [*SMALL, "--hidden", "32", "16", "--epochs", "2"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished 2-epoch AEVB run, made once; each test works on its own copy."""
    folder = tmp_path_factory.mktemp("earlier") / "run"
    assert main(["aevb", *TINY, "--out", str(folder)]) == 0
    return folder


@pytest.fixture
def earlier(finished_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(finished_run, folder)
    return folder


def snapshot(folder):
    """Every file below folder (but the locks) with a hash of its bytes."""
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != ".lock"}


def rewrite_checkpoint(path, change):
    """The checkpoint's arrays and meta, changed by change(arrays) in place, written back as an .npz."""
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    change(arrays)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def flip_a_parameter_byte(path):
    """Changes one byte inside a stored array's data, so that the archive's CRC no longer matches."""
    with zipfile.ZipFile(path) as archive:
        member = archive.getinfo("param/recognition.0.W.npy")
    data = bytearray(path.read_bytes())
    data[member.header_offset + 1000] ^= 0xFF       # past the local header, the name, the zip64 field, the npy header
    path.write_bytes(bytes(data))


def other_architecture(path, tmp):
    """This run's metadata over the arrays of a run with other hidden sizes."""
    assert main(["aevb", *SMALL, "--hidden", "8", "--epochs", "1", "--out", str(tmp / "other")]) == 0
    with np.load(path) as archive:
        meta = archive["meta"]
    rewrite_checkpoint(tmp / "other" / "checkpoint.npz", lambda arrays: arrays.update(meta=meta))
    shutil.copy(tmp / "other" / "checkpoint.npz", path)


def changed_data(run, tmp):
    """The run's own data folder, with one training label changed afterwards."""
    data = write_mnist_files(tmp / "data")
    assert main(["aevb", *TINY, "--data-dir", str(data), "--out", str(run), "--force"]) == 0
    labels = np.random.default_rng(0).integers(0, 10, 200)
    labels[0] = (labels[0] + 1) % 10
    write_idx(data / "train-labels-idx1-ubyte.gz", labels)


def stopped_after_epoch_one(run, tmp):
    """A 3-epoch run whose checkpoint says it stopped after epoch 1 (its own metadata, rewritten)."""
    folder = tmp / "stopped"
    shutil.copytree(run, folder)

    def stop_after_one(arrays):
        meta = json.loads(str(arrays["meta"]))
        meta["epoch"], meta["history"], meta["settings"]["epochs"] = 1, meta["history"][:1], 3
        arrays["meta"] = np.array(json.dumps(meta))
    rewrite_checkpoint(folder / "checkpoint.npz", stop_after_one)


def damaged_wake_sleep(tmp):
    """A comparison folder whose Wake-Sleep checkpoint is empty and whose AEVB folder is empty: compare must refuse
    before it trains AEVB."""
    (tmp / "pair" / "wake-sleep").mkdir(parents=True)
    (tmp / "pair" / "wake-sleep" / "checkpoint.npz").write_bytes(b"")


# (name, prepare(run folder, tmp) -> argv, exit status, a piece of the one line on stderr)
FAULTS = [
    ("new run into a folder with a run", lambda run, tmp: ["aevb", *TINY, "--out", str(run)], 2,
     "holds a finished AEVB run (2 epochs); continue it with --resume, or start over with --force"),
    ("--out is a file", lambda run, tmp: ["aevb", *TINY, "--out", str(run / "report.md")], 2,
     "report.md: is a file, not a folder"),
    ("--out cannot be made", lambda run, tmp: ["aevb", *TINY, "--out", str(run / "metrics.csv" / "sub")], 2,
     "cannot write there"),
    ("--seed -1", lambda run, tmp: ["aevb", "--seed", "-1", "--out", str(run)], 2,
     "argument --seed: takes a whole number of at least 0, got -1"),
    ("--lr inf", lambda run, tmp: ["aevb", "--lr", "inf", "--out", str(run)], 2,
     "argument --lr: takes a finite number above 0, got inf"),
    ("--lr nan", lambda run, tmp: ["aevb", "--lr", "nan", "--out", str(run)], 2,
     "argument --lr: takes a finite number above 0, got nan"),
    ("--lr abc", lambda run, tmp: ["aevb", "--lr", "abc"], 2, "argument --lr: takes a number, got 'abc'"),
    ("NVIL's --beta2 1", lambda run, tmp: ["nvil", "--beta2", "1", "--out", str(tmp / "new")], 2,
     "argument --beta2: takes a finite number above 0 and below 1, got 1.0"),
    ("Wake-Sleep's flag for AEVB", lambda run, tmp: ["aevb", "--sleep-lr", "1e-3", "--out", str(run)], 2,
     "--sleep-lr is not a flag of aevb"),
    ("IWAE's training k for AEVB", lambda run, tmp: ["aevb", "--k", "5", "--out", str(run)], 2,
     "--k is not a flag of aevb; the evaluation bound's k is --eval-k"),
    ("Wake-Sleep resume in an AEVB folder", lambda run, tmp: ["wake-sleep", "--resume", "--out", str(run)], 2,
     "holds a finished AEVB run (2 epochs); resume it with python run.py aevb --resume --out"),
    ("resume with another --hidden", lambda run, tmp: ["aevb", "--resume", "--hidden", "32", "8", "--out", str(run)],
     2, "--resume continues a run with its own settings: --hidden 32 8 but the run has --hidden 32 16"),
    ("resume with another --latent-dim", lambda run, tmp: ["aevb", "--resume", "--latent-dim", "3", "--out", str(run)],
     2, "--latent-dim 3 but the run has --latent-dim 2"),
    ("resume with fewer epochs", lambda run, tmp: ["aevb", "--resume", "--epochs", "1", "--out", str(run)], 2,
     "has already trained 2 epochs; give more to extend it"),
    ("resume an unfinished run at the epoch it reached", lambda run, tmp: stopped_after_epoch_one(run, tmp) or [
        "aevb", "--resume", "--epochs", "1", "--out", str(tmp / "stopped")], 2, "has already trained 1 epoch;"),
    ("--dequantize with the Bernoulli", lambda run, tmp: ["aevb", "--dequantize", "--out", str(tmp / "new")], 2,
     "--dequantize makes the data continuous, for a density: give --likelihood continuous-bernoulli"),
    ("--dequantize with --binarize", lambda run, tmp: ["aevb", "--dequantize", "--likelihood", "continuous-bernoulli",
                                                       "--binarize", "dynamic", "--out", str(tmp / "new")], 2,
     "--dequantize and --binarize: give one of them"),
    ("--lr-schedule drop without its epoch", lambda run, tmp: ["aevb", "--lr-schedule", "drop", "--out",
                                                                str(tmp / "new")], 2,
     "--lr-schedule drop and --lr-drop-epoch E go together"),
    ("--lr-drop-epoch without its schedule", lambda run, tmp: ["iwae", "--lr-drop-epoch", "95", "--out",
                                                                str(tmp / "new")], 2,
     "--lr-schedule drop and --lr-drop-epoch E go together"),
    ("a log-variance floor above the ceiling", lambda run, tmp: ["wake-sleep", "--log-var-floor", "1",
                                                                 "--log-var-ceiling", "0", "--out", str(tmp / "new")],
     2, "--log-var-floor 1.0 and --log-var-ceiling 0.0: the floor must lie below the ceiling"),
    ("--config that does not exist", lambda run, tmp: ["aevb", "--config", str(tmp / "none.toml"), "--out",
                                                       str(tmp / "new")], 2, "none.toml: no such file"),
    ("--config with an unknown key", lambda run, tmp: (tmp / "c.toml").write_text("sleep_rate = 1e-3\n") and [
        "wake-sleep", "--config", str(tmp / "c.toml"), "--out", str(tmp / "new")], 2,
     "c.toml: 'sleep_rate' is not a setting"),
    ("--config with another algorithm's key", lambda run, tmp: (tmp / "c.toml").write_text("sleep_lr = 1e-3\n") and [
        "aevb", "--config", str(tmp / "c.toml"), "--out", str(tmp / "new")], 2, "c.toml: sleep_lr is not a setting of aevb"),
    ("--config with a wrong type", lambda run, tmp: (tmp / "c.toml").write_text("hidden = 200\n") and [
        "aevb", "--config", str(tmp / "c.toml"), "--out", str(tmp / "new")], 2,
     "c.toml: hidden takes a list of whole numbers, got 200"),
    ("--config with a bad value", lambda run, tmp: (tmp / "c.toml").write_text("lr = -1\n") and [
        "aevb", "--config", str(tmp / "c.toml"), "--out", str(tmp / "new")], 2,
     "c.toml: lr takes a finite number above 0, got -1"),
    ("--config that is not TOML", lambda run, tmp: (tmp / "c.toml").write_text("lr = \n") and [
        "aevb", "--config", str(tmp / "c.toml"), "--out", str(tmp / "new")], 2, "c.toml: not a TOML file"),
    ("--config whose floor lies above its ceiling", lambda run, tmp: (tmp / "c.toml").write_text(
        "log_var_floor = 1.0\nlog_var_ceiling = 0.0\n") and ["wake-sleep", "--config", str(tmp / "c.toml"),
                                                             "--out", str(tmp / "new")], 2,
     "the floor must lie below the ceiling"),
    ("resume with a --config that disagrees", lambda run, tmp: (tmp / "c.toml").write_text("latent_dim = 3\n") and [
        "aevb", "--resume", "--config", str(tmp / "c.toml"), "--out", str(run)], 2, "--latent-dim 3 but the run has --latent-dim 2"),
    ("--resume with --force", lambda run, tmp: ["aevb", "--resume", "--force", "--out", str(run)], 2,
     "--resume and --force: give one of them"),
    ("run.py exact on a folder that does not exist", lambda run, tmp: ["exact", "--out", str(tmp / "typo")], 2,
     "typo: no such folder"),
    ("resume on other data", lambda run, tmp: ["aevb", "--resume", "--data-dir", str(write_mnist_files(tmp / "d")),
                                               "--out", str(run)], 2, "--data-dir"),
    ("resume on data changed in place", lambda run, tmp: changed_data(run, tmp) or ["aevb", "--resume", "--out",
                                                                                     str(run)],
     2, "not the data this run was trained on"),
    ("resume without a checkpoint", lambda run, tmp: ["aevb", "--resume", "--out", str(tmp / "empty")], 2,
     "no checkpoint to resume from"),
    ("truncated checkpoint", lambda run, tmp: (run / "checkpoint.npz").write_bytes(
        (run / "checkpoint.npz").read_bytes()[:5000]) and ["aevb", "--resume", "--out", str(run)], 2,
     "not a checkpoint of run.py (not an .npz archive, or one cut short)"),
    ("empty checkpoint", lambda run, tmp: (run / "checkpoint.npz").write_bytes(b"") or ["aevb", "--resume", "--out",
                                                                                          str(run)],
     2, "checkpoint.npz: empty file, not a checkpoint"),
    ("checkpoint of random bytes", lambda run, tmp: (run / "checkpoint.npz").write_bytes(
        np.random.default_rng(0).bytes(4096)) and ["aevb", "--resume", "--out", str(run)], 2,
     "not a checkpoint of run.py"),
    ("checkpoint with a bad CRC", lambda run, tmp: flip_a_parameter_byte(run / "checkpoint.npz") or [
        "aevb", "--resume", "--out", str(run)], 2, "damaged checkpoint (Bad CRC-32"),
    ("npz without metadata", lambda run, tmp: rewrite_checkpoint(run / "checkpoint.npz", lambda a: a.pop("meta")) or [
        "aevb", "--resume", "--out", str(run)], 2, "an .npz archive without run metadata"),
    ("checkpoint of another architecture", lambda run, tmp: other_architecture(run / "checkpoint.npz", tmp) or [
        "aevb", "--resume", "--out", str(run)], 2, "(a checkpoint of another architecture)"),
    ("--data-dir is a file", lambda run, tmp: ["aevb", "--data-dir", str(run / "report.md"), "--out",
                                               str(tmp / "new")], 2, "report.md: is a file; --data-dir takes the folder"),
    ("an IDX set with no image", lambda run, tmp: ["aevb", "--data-dir", str(write_mnist_files(tmp / "d", n_test=0)),
                                                   "--out", str(tmp / "new")], 2,
     "t10k-images-idx3-ubyte.gz: holds no images"),
    ("a folder with outputs but no checkpoint", lambda run, tmp: (run / "checkpoint.npz").unlink() or [
        "aevb", *TINY, "--out", str(run)], 2, "holds the outputs of a finished AEVB run, without its checkpoint"),
    ("compare with a damaged second run trains nothing", lambda run, tmp: damaged_wake_sleep(tmp) or [
        "compare", *TINY, "--out", str(tmp / "pair")], 2, "wake-sleep/checkpoint.npz: empty file"),
    ("compare into a folder with an AEVB run of other settings", lambda run, tmp: shutil.copytree(
        run, tmp / "both" / "aevb") and ["compare", *TINY, "--seed", "1", "--out", str(tmp / "both")], 2,
     "aevb: holds a finished AEVB run (2 epochs); continue it with --resume, or start over"),
]


def answers_in_one_line(capsys, folder, argv, status, expected):
    """run.py argv exits with status, having printed one line on stderr, an error naming expected and no traceback,
    and every file below folder is byte for byte as it was."""
    before = snapshot(folder)
    capsys.readouterr()
    assert main(argv) == status
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and expected in err and err.startswith("run.py: error: "), err
    assert "Traceback" not in err and "pickle" not in err
    assert snapshot(folder) == before


@pytest.mark.parametrize("prepare, status, expected", [fault[1:] for fault in FAULTS], ids=[f[0] for f in FAULTS])
def test_a_fault_is_one_line_and_keeps_every_file(earlier, tmp_path, capsys, prepare, status, expected):
    answers_in_one_line(capsys, tmp_path, prepare(earlier, tmp_path), status, expected)


@pytest.mark.parametrize("above, below, refused, expected", [
    (None, 1.0, "1", "takes a finite number below 1, got 1.0"),
    (0.0, None, "0", "takes a finite number above 0, got 0.0"),
    (None, None, "inf", "takes a finite number, got inf"),
    (0.0, 1.0, "1", "takes a finite number above 0 and below 1, got 1.0")])
def test_a_float_options_bounds_are_each_optional(above, below, refused, expected):
    """algorithms/options.py::option's above= and below=, each alone, both or neither, as the flag's parser reads them."""
    parse = for_option(0.5, {"above": above, "below": below})
    assert parse("0.5") == 0.5 and (above is not None or parse("-3") == -3.0)
    with pytest.raises(BadValue, match=f"^{expected}$"):
        parse(refused)


def test_a_run_refused_before_it_writes_leaves_no_folder_it_made(tmp_path, capsys):
    """The folders --out named and run.py made (the run's own and any parent) are removed again when the run is
    refused before anything is written; a folder that was there keeps its files."""
    refused = ["exact-ml", "--layers", "30", "--binarize", "fixed", "--epochs", "1"]        # 2^30 joint states
    assert main([*refused, "--out", str(tmp_path / "new" / "deeper" / "run")]) == 2
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "there").mkdir()
    (tmp_path / "there" / "notes.txt").write_text("mine")
    assert main([*refused, "--out", str(tmp_path / "there")]) == 2
    assert (tmp_path / "there" / "notes.txt").read_text() == "mine"
    assert capsys.readouterr().err.count("\n") == 2


def test_a_fault_in_a_fresh_process_is_one_line(tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(np.random.default_rng(0).bytes(4096))
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), "aevb", "--resume", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "pickle" not in done.stderr, done.stderr


def test_force_starts_over_and_removes_every_old_output(earlier):
    (earlier / "latent_manifold.png").write_bytes(b"stale")
    assert main(["aevb", *TINY, "--latent-dim", "3", "--force", "--out", str(earlier)]) == 0
    assert not (earlier / "latent_manifold.png").exists()
    assert json.loads((earlier / "metrics.json").read_text())["settings"]["latent_dim"] == 3


def test_a_folder_in_use_is_refused_and_freed_when_its_owner_ends(earlier, capsys):
    owner = subprocess.Popen([sys.executable, "-c", "import sys, time; from experiments.harness.folder import RunFolder; "
                              f"folder = RunFolder({str(earlier)!r}).lock(); print('locked', flush=True); time.sleep(60)"],
                             stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert owner.stdout.readline().strip() == "locked"
        before = snapshot(earlier)
        assert main(["aevb", "--resume", "--out", str(earlier)]) == 2
        assert f"in use by another run (process {owner.pid})" in capsys.readouterr().err
        assert snapshot(earlier) == before
    finally:
        owner.kill()
        owner.wait()
    with RunFolder(earlier):             # the kernel released the dead owner's lock
        pass


@pytest.mark.parametrize("argv, what", [
    (["aevb", "--lr", "1e6"], "the loss is nan; the likely cause is the learning rate (--lr 1e+06)"),
    (["wake-sleep", "--sleep-lr", "1e3", "--sleep-samples", "20"],
     "the likely cause is the learning rate (--wake-lr 0.001, --sleep-lr 1000)"),
])
def test_a_diverged_run_stops_with_its_own_status(tmp_path, capsys, argv, what):
    assert main([*argv, *TINY, "--out", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training diverged at step" in err and what in err, err
    assert "no checkpoint was saved" in err and not (tmp_path / "metrics.json").exists()


def test_divergence_keeps_the_last_finite_checkpoint(tmp_path, capsys, monkeypatch):
    from algorithms.aevb import AEVB
    original, calls = AEVB.step, []

    def nan_in_epoch_two(self, x, rng):
        calls.append(1)
        losses = original(self, x, rng)
        return {"loss": float("nan")} if len(calls) == 5 else losses

    monkeypatch.setattr(AEVB, "step", nan_in_epoch_two)
    assert main(["aevb", *TINY, "--out", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "diverged at step 2 of epoch 2: the loss is nan" in err
    assert f"its checkpoint after epoch 1 is kept in {tmp_path}/checkpoint.npz" in err
    with np.load(tmp_path / "checkpoint.npz") as archive:
        assert json.loads(str(archive["meta"]))["epoch"] == 1
    assert not (tmp_path / "metrics.json").exists()


def interrupt_at(monkeypatch, trainer_class, call, signum):
    """Sends signum to this process during the call-th training step."""
    original, calls = trainer_class.step, []

    def step(self, x, rng):
        calls.append(1)
        if len(calls) == call:
            os.kill(os.getpid(), signum)
        return original(self, x, rng)

    monkeypatch.setattr(trainer_class, "step", step)
    return lambda: monkeypatch.setattr(trainer_class, "step", original)


def printed_resume_command(printed):
    command = printed.split("To continue: ")[1].splitlines()[0]
    assert command.startswith("python run.py ")
    return shlex.split(command)[2:]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_printed_resume_command_restores_the_run_verbatim(tmp_path, monkeypatch, capsys, signum):
    """An --epochs 2 run stopped in epoch 2 (by Ctrl-C or SIGTERM), resumed with exactly the command it printed:
    two epochs, the same numbers as a straight run. (A 1-D latent: the resumed run has no --no-exact, and the exact
    evaluation of a 2-D run would only add time here.)"""
    from algorithms.aevb import AEVB
    one_d = [*TINY, "--latent-dim", "1"]
    assert main(["aevb", *one_d, "--out", str(tmp_path / "straight")]) == 0
    restore = interrupt_at(monkeypatch, AEVB, 4, signum)
    assert main(["aevb", *one_d, "--out", str(tmp_path / "split")]) == 130
    argv = printed_resume_command(capsys.readouterr().err)
    restore()
    assert main(argv) == 0
    straight, split = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("straight", "split"))
    assert [h["epoch"] for h in split["history"]] == [1, 2]
    assert [h["test_lk"] for h in split["history"]] == [h["test_lk"] for h in straight["history"]]


def test_an_interrupted_quick_run_resumes_as_quick(tmp_path, monkeypatch, capsys):
    from algorithms.aevb import AEVB
    monkeypatch.chdir(tmp_path)
    small = ["--train-size", "200", "--test-size", "50", "--eval-train-size", "50", "--eval-k", "2", "--hidden", "8",
             "--latent-dim", "1"]
    restore = interrupt_at(monkeypatch, AEVB, 3, signal.SIGINT)
    assert main(["aevb", "--quick", *small]) == 130
    argv = printed_resume_command(capsys.readouterr().err)
    assert argv == ["aevb", "--resume", "--out", "results/quick/aevb"]
    restore()
    assert main(argv) == 0
    settings = json.loads((tmp_path / "results/quick/aevb/metrics.json").read_text())["settings"]
    assert settings["epochs"] == 3 and settings["eval_every"] == 1


def test_ctrl_c_while_loading_the_data_says_so(tmp_path, monkeypatch, capsys):
    from experiments.data.mnist import MNIST

    def interrupted(directory):
        raise KeyboardInterrupt
    monkeypatch.setattr(MNIST, "load", staticmethod(interrupted))
    assert main(["aevb", "--out", str(tmp_path)]) == 130
    assert capsys.readouterr().err == ("run.py: stopped while loading the data (the embedded MNIST); "
                                       "kept: nothing was written\n")


@pytest.mark.parametrize("labels, shape", [(12, (7, 5)), (10, (28, 28))])
def test_any_image_size_and_labels_beyond_nine(tmp_path, labels, shape):
    data = write_mnist_files(tmp_path / "data", shape=shape, labels=labels)
    assert main(["aevb", *SMALL, "--hidden", "8", "--epochs", "1", "--data-dir", str(data),
                 "--out", str(tmp_path / "out")]) == 0
    import matplotlib.pyplot as plt
    assert plt.imread(tmp_path / "out" / "reconstructions.png").ndim == 3


def test_compare_resume_finishes_whichever_runs_are_unfinished(tmp_path, monkeypatch, capsys):
    from algorithms.wake_sleep import WakeSleep
    restore = interrupt_at(monkeypatch, WakeSleep, 2, signal.SIGINT)
    assert main(["compare", *TINY, "--sleep-samples", "20", "--out", str(tmp_path)]) == 130
    printed = capsys.readouterr().err
    command = printed.split("for the whole comparison: ")[1].split(")")[0]
    assert command == shlex.join(["python", "run.py", "compare", *TINY, "--sleep-samples", "20", "--out",
                                  str(tmp_path), "--resume"])
    restore()
    assert main(shlex.split(command)[2:]) == 0
    printed = capsys.readouterr().out
    assert "reusing the finished AEVB run" in printed and "resuming Wake-Sleep" in printed
    assert "**Better:**" in (tmp_path / "compare" / "report.md").read_text()

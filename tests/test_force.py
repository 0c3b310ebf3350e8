"""--force as one transaction (experiments/harness/folder.py::RunFolder.replacing): the earlier run's files are moved
aside before anything is written and moved back whole if the new run fails before its outputs are all in place (a
figure that cannot be written, divergence, Ctrl-C, SIGTERM); what cannot be moved is refused before anything moves.
Every case compares a checksum of every file below the folder before and after."""
import errno
import os
import shutil
import signal
import subprocess

import pytest

from experiments.harness.folder import ASIDE
from experiments.outputs import write
from run import main
from test_run_faults import TINY, interrupt_at, snapshot


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("earlier") / "run"
    assert main(["aevb", *TINY, "--keep-checkpoints", "--out", str(folder)]) == 0
    return folder


@pytest.fixture
def earlier(finished_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(finished_run, folder)
    (folder / "notes.txt").write_text("the user's own file\n")        # not a run's: never moved, never deleted
    return folder


def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def fails_and_restores(capsys, folder, argv, status, said, notice=None):
    """run.py argv --force fails with status, its last line saying said and that the earlier run is restored (after
    the interrupt's notice, if one is expected), and every file below folder is as it was."""
    before = snapshot(folder)
    capsys.readouterr()
    assert main([*argv, "--force", "--out", str(folder)]) == status
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[:-1] == ([notice] if notice else []), lines
    err = lines[-1]
    assert said in err and "Traceback" not in err, err
    assert "the new run is not kept, and the earlier run in" in err and "is restored as it was" in err, err
    assert snapshot(folder) == before and not (folder / ASIDE).exists()


def test_a_figure_that_cannot_be_written_restores_the_earlier_run(earlier, capsys, monkeypatch):
    monkeypatch.setattr(write.figures, "plot_lk", full_disk)
    fails_and_restores(capsys, earlier, ["aevb", *TINY, "--seed", "1"], 2, "No space left on device")


def test_divergence_restores_the_earlier_run(earlier, capsys):
    fails_and_restores(capsys, earlier, ["aevb", *TINY, "--lr", "1e6"], 3, "training diverged")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_restores_the_earlier_run(earlier, capsys, monkeypatch, signum):
    from algorithms.aevb import AEVB
    interrupt_at(monkeypatch, AEVB, 2, signum)
    name = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}[signum]
    fails_and_restores(capsys, earlier, ["aevb", *TINY, "--seed", "1"], 130, "stopped before the new run finished",
                       f"run.py: {name}: stopping after this step; the earlier run will be restored")


def test_an_output_that_is_a_folder_of_the_users_is_refused_before_anything_moves(earlier, capsys):
    (earlier / "lk.png").unlink()
    (earlier / "lk.png").mkdir()
    (earlier / "lk.png" / "mine.txt").write_text("kept\n")
    before = snapshot(earlier)
    assert main(["aevb", *TINY, "--force", "--out", str(earlier)]) == 2
    err = capsys.readouterr().err
    assert "lk.png is a folder where a run writes a file; nothing was moved or deleted" in err, err
    assert snapshot(earlier) == before


def test_a_file_that_cannot_be_moved_is_refused_with_everything_moved_back(earlier, capsys, monkeypatch):
    rename, calls = os.rename, []

    def fifth_fails(source, target):
        calls.append(source)
        if len(calls) == 5:
            raise OSError(errno.EPERM, os.strerror(errno.EPERM))
        return rename(source, target)
    before = snapshot(earlier)
    monkeypatch.setattr(os, "rename", fifth_fails)
    assert main(["aevb", *TINY, "--force", "--out", str(earlier)]) == 2
    monkeypatch.setattr(os, "rename", rename)
    err = capsys.readouterr().err
    assert "cannot be moved aside (Operation not permitted)" in err and "nothing was moved or deleted" in err, err
    assert snapshot(earlier) == before and not (earlier / ASIDE).exists()


def test_an_immutable_output_is_refused_with_everything_moved_back(earlier, capsys):
    target = earlier / "report.md"
    if subprocess.run(["chattr", "+i", str(target)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here (not root, or a file system without the flag)")
    try:
        before = snapshot(earlier)
        assert main(["aevb", *TINY, "--force", "--out", str(earlier)]) == 2
        assert "report.md cannot be moved aside" in capsys.readouterr().err
        assert snapshot(earlier) == before
    finally:
        subprocess.run(["chattr", "-i", str(target)])


def test_a_forced_run_that_finishes_replaces_every_earlier_file_and_keeps_the_users(earlier):
    (earlier / "states.png").write_bytes(b"an earlier binary run's figure")
    assert main(["aevb", *TINY, "--seed", "1", "--force", "--out", str(earlier)]) == 0
    assert not (earlier / "states.png").exists() and not (earlier / "checkpoints").exists()
    assert (earlier / "notes.txt").read_text() == "the user's own file\n" and not (earlier / ASIDE).exists()
    written = (earlier / ".outputs").read_text().split()
    assert "report.md" in written and all((earlier / name).is_file() for name in written)


def test_outputs_that_cannot_be_written_in_a_new_folder_keep_its_checkpoint_and_say_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(write.figures, "plot_lk", full_disk)
    assert main(["aevb", *TINY, "--out", str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err
    assert "none in the folder was changed, and its checkpoint is kept (--resume writes them again)" in err, err
    monkeypatch.undo()
    assert main(["aevb", "--resume", "--out", str(tmp_path / "new")]) == 0
    assert (tmp_path / "new" / "report.md").is_file()


def test_a_manifest_that_names_files_elsewhere_moves_and_deletes_nothing_there(earlier):
    outside = earlier.parent / "outside.txt"
    outside.write_text("not the run's\n")
    with open(earlier / ".outputs", "a") as manifest:
        manifest.write("../outside.txt\n")
    assert main(["aevb", *TINY, "--seed", "1", "--force", "--out", str(earlier)]) == 0
    assert outside.read_text() == "not the run's\n"

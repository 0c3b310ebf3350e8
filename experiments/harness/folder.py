"""A run's output folder: one run at a time, never overwritten unasked, and started over (--force) as one transaction:
the earlier run's files are moved aside, and moved back unless the new run's outputs are all in place.

The lock is an flock on DIR/.lock: the kernel releases it when its process ends, however it ends, so a folder
whose run was killed is free again at once and a stale lock cannot exist.
"""
import fcntl
import json
import os
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path

from algorithms import name_of
from experiments.errors import Diverged, Fault, Stopped
from experiments.harness.checkpoint import read_checkpoint

CHECKPOINTS = ("checkpoint.npz", "checkpoint.npz.tmp")
MANIFEST = ".outputs"     # the names of the outputs the last write of a run's outputs put here, one a line
KEPT = "checkpoints"      # --keep-checkpoints: checkpoints/epoch-N.npz, one per epoch
STAGING = ".staging"      # where a run's outputs are written before they replace the folder's
ASIDE = ".earlier-run"    # where --force keeps the earlier run's files until the new run's outputs are in place
# the outputs a run made before the manifest existed (round 3 and earlier) could write: a folder without a manifest
# holds at most these
EARLIER_OUTPUTS = ("metrics.json", "metrics.json.tmp", "metrics.csv", "report.md", "bounds.npz", "bounds.npz.tmp",
                   "lk.png", "losses.png", "reconstructions.png", "latent_scatter.png", "latent_manifold.png",
                   "originals.png", "exact_gap.png", "posteriors.png", "diagnostics.png", "explorer.html", "states.png")


class OutputsNotWritten(Fault):
    """Writing a run's outputs failed before any replaced the folder's; cause: what failed, in words."""

    def __init__(self, folder, cause):
        super().__init__(f"{folder}: the outputs could not be written ({cause}); none in the folder was changed, and "
                         "its checkpoint is kept (--resume writes them again)")
        self.cause = cause


class RunFolder:
    def __init__(self, path):
        self.path = Path(path)
        self.checkpoint = self.path / "checkpoint.npz"
        self.handle = None
        self.made = []                  # the folders lock() made, the run's first: a run refused before writing
                                        # anything removes them
        self.starting_over = False      # inside replacing(): a failure restores the earlier run

    def lock(self):
        """Creates the folder if needed and takes its lock, or refuses in one line."""
        if self.path.exists() and not self.path.is_dir():
            raise Fault(f"--out {self.path}: is a file, not a folder")
        try:
            self.made = [folder for folder in (self.path, *self.path.parents) if not folder.exists()]
            self.path.mkdir(parents=True, exist_ok=True)
            handle = open(self.path / ".lock", "a+")
        except OSError as error:
            raise Fault(f"--out {self.path}: cannot write there ({error.strerror or error})") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise Fault(f"{self.path}: in use by another run (process {owner}); wait for it to end, "
                        "or choose another --out") from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self.handle = handle
        return self

    def release(self):
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def __enter__(self):
        return self.lock()

    def __exit__(self, failed, *exc_info):
        if failed is not None and self.made and self.handle is not None and \
                [entry.name for entry in self.path.iterdir()] == [".lock"]:
            (self.path / ".lock").unlink()          # still locked: no other run can start in it meanwhile
            for folder in self.made:
                folder.rmdir()
        self.release()

    def holds(self):
        """What an earlier run left here, in words, or None when the folder holds no run's file."""
        if self.checkpoint.exists():
            try:
                meta, _ = read_checkpoint(self.checkpoint)
            except Fault as fault:
                return f"a checkpoint that cannot be read ({fault})"
            return describe_progress(meta)
        metrics = self.path / "metrics.json"
        if metrics.exists():
            try:
                name = name_of(json.loads(metrics.read_text())["algorithm"])
            except (ValueError, KeyError, TypeError, OSError):
                name = "unknown"
            return f"the outputs of a finished {name} run, without its checkpoint"
        present = self.run_files()
        return f"outputs of an earlier run ({', '.join(present)})" if present else None

    def outputs(self):
        """The names of the outputs the last write put here: its manifest's, or for a run made before there was one,
        every name such a run could write."""
        manifest = self.path / MANIFEST
        try:
            names = manifest.read_text().split() if manifest.is_file() else list(EARLIER_OUTPUTS)
        except (OSError, UnicodeDecodeError):
            names = list(EARLIER_OUTPUTS)
        # a file of this folder only, whatever a changed manifest says: never moved or deleted elsewhere
        return [name for name in names if name not in (".", "..") and "/" not in name]

    def run_files(self):
        """The names of everything a run left here: its checkpoint, its outputs and their manifest, the copies of
        --keep-checkpoints, and a staging folder an interrupted write left."""
        files = [name for name in dict.fromkeys([*CHECKPOINTS, *self.outputs(), MANIFEST])
                 if os.path.lexists(self.path / name)]
        return files + [name for name in (KEPT, STAGING) if (self.path / name).is_dir()]

    @contextmanager
    def replacing(self):
        """A new run in a folder that holds an earlier one (--force), as one transaction. Before anything is written,
        the earlier run's files are moved aside (into ASIDE, a rename each); an output name that is a folder of the
        user's, or a file that cannot be moved, is refused with nothing moved. If the block fails in any way (an error,
        a full disk, divergence, Ctrl-C or SIGTERM), whatever the new run wrote is removed and the earlier files are
        moved back, and the failure is said with that; once the block has finished, the earlier files are deleted."""
        names, aside = self.run_files(), self.path / ASIDE
        if os.path.lexists(aside):
            raise Fault(f"{aside}: holds the files of a run that an earlier --force moved aside and could not move "
                        "back (it was killed); move them back or delete them first")
        if not names:
            yield
            return
        users = [name for name in names if name not in (KEPT, STAGING) and (self.path / name).is_dir()]
        if users:
            raise Fault(f"{self.path}: {', '.join(users)} is a folder where a run writes a file; nothing was moved "
                        "or deleted")
        moved = []
        try:
            aside.mkdir()
            for name in names:
                os.rename(self.path / name, aside / name)
                moved.append(name)
        except OSError as error:
            self.move_back(moved)
            raise Fault(f"{self.path}: {moved_failed(names, moved)} cannot be moved aside ({error.strerror or error}), "
                        "so --force cannot start over here; nothing was moved or deleted") from None
        self.starting_over = True
        try:
            yield
        except BaseException as error:
            held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            try:
                self.move_back(moved, remove_new=True)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
            raise restored(error, self.path) from None
        finally:
            self.starting_over = False
        shutil.rmtree(aside, ignore_errors=True)

    def move_back(self, moved, remove_new=False):
        """The files moved aside, back in place (with remove_new, after removing what a new run wrote)."""
        aside = self.path / ASIDE
        if remove_new:
            for name in self.run_files():
                target = self.path / name
                shutil.rmtree(target) if target.is_dir() and not target.is_symlink() else target.unlink()
        for name in moved:
            os.rename(aside / name, self.path / name)
        if os.path.isdir(aside):
            aside.rmdir()

    @contextmanager
    def staged(self, manifest=True):
        """A folder (STAGING, inside this one) to write a run's outputs into; once every one is written, each replaces
        its namesake here by a rename, the earlier outputs this write did not make are removed (an earlier
        evaluation's figures, say), and with manifest the names written become the folder's manifest (MANIFEST): the
        one list of a run's outputs, made by what was written. A failure while writing (a full disk, a model that
        cannot be drawn) removes the staging folder and changes no output; it is said in one line, naming what
        failed. The renames run with Ctrl-C and SIGTERM held back, after checking that nothing in their way is a
        folder."""
        stage = self.path / STAGING
        shutil.rmtree(stage, ignore_errors=True)
        try:
            stage.mkdir()
            yield stage
            written = sorted(stage.iterdir())
            blocked = [item.name for item in written if (self.path / item.name).is_dir()]
            if blocked:
                raise OutputsNotWritten(self.path, f"{', '.join(blocked)} is a folder where a run writes a file")
            if manifest:
                (stage / MANIFEST).write_text("".join(f"{item.name}\n" for item in written))
        except OSError as error:
            shutil.rmtree(stage, ignore_errors=True)
            raise OutputsNotWritten(self.path, error.strerror or str(error)) from None
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        earlier = set(self.outputs()) if manifest else set()
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            for item in sorted(stage.iterdir()):
                os.replace(item, self.path / item.name)
            for name in earlier - {item.name for item in written}:
                if (self.path / name).is_file():
                    (self.path / name).unlink()
            stage.rmdir()
        except OSError as error:
            raise Fault(f"{self.path}: the outputs were written but not all moved into place ({error.strerror or error}"
                        f"); what was not is in {stage}/") from None
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)


def describe_progress(meta):
    """'a finished AEVB run (100 epochs)', 'an AEVB run stopped at step 40 of epoch 3 (of 100)', ..."""
    settings = meta["settings"]
    name, epochs = name_of(settings.get("algorithm")), settings.get("epochs")
    article = "an" if name[0] in "AEIOU" else "a"
    if meta["position"] is not None:
        return (f"{article} {name} run stopped at step {meta['position']['step']} of epoch {meta['epoch'] + 1} "
                f"(of {epochs})")
    if meta["epoch"] >= epochs:
        return f"a finished {name} run ({meta['epoch']} epoch{'s' if meta['epoch'] != 1 else ''})"
    return f"{article} {name} run stopped after epoch {meta['epoch']} (of {epochs})"


def finished(meta):
    return meta["position"] is None and meta["epoch"] >= meta["settings"]["epochs"]


def moved_failed(names, moved):
    """The name that could not be moved: the first of names not in moved."""
    return next(name for name in names if name not in moved)


def restored(error, folder):
    """The failure of a run that started over in folder, said with what was done about it: the new run's files
    removed, the earlier run's moved back."""
    said = f"the new run is not kept, and the earlier run in {folder} is restored as it was"
    if isinstance(error, OutputsNotWritten):
        return Fault(f"{folder}: the outputs could not be written ({error.cause}); {said}")
    if isinstance(error, Diverged):
        return Diverged(f"{getattr(error, 'brief', error)}; {said}")
    if isinstance(error, (Stopped, KeyboardInterrupt)):
        return Stopped(f"stopped before the new run finished; {said}")
    if isinstance(error, Fault):
        return type(error)(f"{error}; {said}")
    if isinstance(error, MemoryError):
        return Fault(f"out of memory before the new run finished; {said}")
    return error

"""A run's output folder: one run at a time, never overwritten unasked, cleared only by name with --force.

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
from experiments.errors import Fault
from experiments.harness.checkpoint import read_checkpoint

# every file a run writes into its folder; --force removes exactly these and nothing else
RUN_FILES = ("checkpoint.npz", "checkpoint.npz.tmp", "metrics.json", "metrics.json.tmp", "metrics.csv", "report.md",
             "bounds.npz", "bounds.npz.tmp",
             "lk.png", "losses.png", "reconstructions.png", "latent_scatter.png", "latent_manifold.png",
             "originals.png", "exact_gap.png", "posteriors.png", "diagnostics.png", "explorer.html")
OUTPUTS = tuple(name for name in RUN_FILES if not name.startswith("checkpoint"))   # what write_outputs writes again
KEPT = "checkpoints"      # --keep-checkpoints: checkpoints/epoch-N.npz, one per epoch
STAGING = ".staging"      # where a run's outputs are written before they replace the folder's


class RunFolder:
    def __init__(self, path):
        self.path = Path(path)
        self.checkpoint = self.path / "checkpoint.npz"
        self.handle = None

    def lock(self):
        """Creates the folder if needed and takes its lock, or refuses in one line."""
        if self.path.exists() and not self.path.is_dir():
            raise Fault(f"--out {self.path}: is a file, not a folder")
        try:
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

    def __exit__(self, *exc_info):
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
        present = [name for name in RUN_FILES if (self.path / name).exists()]
        return f"outputs of an earlier run ({', '.join(present)})" if present else None

    def clear(self):
        """Removes every file a run writes (RUN_FILES), so that no stale output survives --force."""
        for name in RUN_FILES:
            (self.path / name).unlink(missing_ok=True)
        for kept in (self.path / KEPT).glob("epoch-*.npz"):
            kept.unlink()
        shutil.rmtree(self.path / STAGING, ignore_errors=True)

    @contextmanager
    def staged(self, replaces=()):
        """A folder (STAGING, inside this one) to write a run's outputs into; once every one is written, each replaces
        its namesake here by a rename, and the files named in replaces that this write did not make are removed (an
        earlier evaluation's figures, say). A failure while writing (a full disk, a model that cannot be drawn)
        removes the staging folder and leaves this folder as it was; it is said in one line, naming what failed. The
        renames run with Ctrl-C and SIGTERM held back, after checking that nothing in their way is a folder."""
        stage = self.path / STAGING
        shutil.rmtree(stage, ignore_errors=True)
        try:
            stage.mkdir()
            yield stage
            written = sorted(stage.iterdir())
            blocked = [item.name for item in written if (self.path / item.name).is_dir()]
            if blocked:
                raise Fault(f"{self.path}: {', '.join(blocked)} is a folder where a run writes a file; the outputs "
                            f"were not written, and the folder is as it was")
        except OSError as error:
            shutil.rmtree(stage, ignore_errors=True)
            raise Fault(f"{self.path}: the outputs could not be written ({error.strerror or error}); the folder is "
                        "as it was") from None
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            for item in written:
                os.replace(item, self.path / item.name)
            for name in set(replaces) - {item.name for item in written}:
                (self.path / name).unlink(missing_ok=True)
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

"""The faults run.py answers in one line, each with its own exit status (experiments/README.md lists them), and the
stages of a run, so that a Ctrl-C or running out of memory is answered in one line saying what was kept."""
from contextlib import contextmanager


class Fault(Exception):
    """Bad input, a folder that cannot be used, or a file that is not what it claims to be.

    The message is one line that names the flag, file or folder and the fault. Exit status 2.
    """
    status = 2


class Diverged(Fault):
    """Training produced a non-finite loss, parameter or bound. Exit status 3; the last finite checkpoint is kept."""
    status = 3


class Stopped(Exception):
    """Ctrl-C or SIGTERM stopped a run after it saved what it had. Exit status 130 (128 + SIGINT)."""
    status = 130


@contextmanager
def stage(doing, kept):
    """One stage of a run (loading the data, an epoch, writing the outputs, ...): a Ctrl-C or SIGTERM that reaches it
    is raised as Stopped, and running out of memory as Fault, each saying what was being done and what is kept
    ("stopped while training epoch 3; kept: the checkpoint after epoch 2 in ..."). Inside a nested stage, the
    innermost says it."""
    try:
        yield
    except KeyboardInterrupt:
        raise Stopped(f"stopped while {doing}; kept: {kept}") from None
    except MemoryError:
        raise Fault(f"out of memory while {doing}; kept: {kept}") from None

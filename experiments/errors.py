"""The faults run.py answers in one line, each with its own exit status (experiments/README.md lists them), and what
run.py is doing, for the line it prints when a second Ctrl-C stops it at once."""
from dataclasses import dataclass


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


@dataclass
class Status:
    """What run.py is doing, and what it has kept should it be stopped now."""
    doing: str = "starting"
    kept: str = "nothing was written"
    finishing: str = "this step"      # what a first Ctrl-C waits for


status = Status()

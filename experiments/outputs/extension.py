"""What an extension is (experiments/outputs/__init__.py lists them): the Extension base class, and the Section of a
finished run's outputs that its run_end returns."""
from dataclasses import dataclass, field


@dataclass
class Section:
    """What an extension adds to a finished run's outputs: final numbers (metrics.json's "final"), per-image arrays
    (bounds.npz), rows of report.md's table of final numbers as (label, mean, standard error), and a section of
    report.md of its own (Markdown lines)."""
    final: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)
    lines: list = field(default_factory=list)


class Extension:
    """What every extension has unless it says otherwise: no column, nothing to do at the end of an epoch. A subclass
    is built from the run's settings and defines run_end (the interface above)."""

    columns = ()
    doing = "writing an extension's outputs"      # what a Ctrl-C during its run_end is said to have stopped

    def __init__(self, settings):
        self.settings = settings

    def epoch_end(self, run, record):
        pass

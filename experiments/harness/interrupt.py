"""Ctrl-C and SIGTERM during training, turned into a request the training loop answers between two steps."""
import signal
import sys
import threading


class Interrupt:
    """Ctrl-C or SIGTERM during training. The first asks the loop to stop after the current step, so that the
    checkpoint it then writes is consistent; a second stops at once and keeps the last checkpoint. During an
    evaluation long enough to save first (training.py::long_evaluation), the first stops it at once."""

    SIGNALS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}

    def __init__(self, starting_over=False):
        self.requested, self.previous, self.starting_over = False, {}, starting_over
        self.at_once = False        # during an evaluation, whose start is saved: the first signal stops it

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = {number: signal.signal(number, self.handle) for number in self.SIGNALS}
        return self

    def handle(self, signum, frame):
        if self.requested or self.at_once:
            raise KeyboardInterrupt
        self.requested = True
        if self.starting_over:            # --force (experiments/harness/folder.py::RunFolder.replacing)
            print(f"\nrun.py: {self.SIGNALS[signum]}: stopping after this step; the earlier run will be "
                  "restored", file=sys.stderr)
        else:
            print(f"\nrun.py: {self.SIGNALS[signum]}: stopping after this step to save a checkpoint "
                  "(Ctrl-C again quits at once and keeps the last checkpoint)", file=sys.stderr)

    def __exit__(self, *exc_info):
        for number, previous in self.previous.items():
            signal.signal(number, previous)

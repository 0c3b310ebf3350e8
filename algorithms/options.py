"""What an algorithm declares about itself, so that the harness, the command line, configuration files, reports and
figures can read it instead of listing algorithms by name.

A trainer class (a subclass of Trainer) says
    command       the word after run.py ("aevb")             name      as reports write it ("AEVB")
    latent        the kind of latent it trains: "gaussian" (algorithms/model.py) or "binary" (algorithms/binary/)
    Options       a frozen dataclass of the settings it takes, each field made by option() below: its type is the
                  default's, and run.py offers it as --name-with-dashes; the trainer is built as Class(model, **options)
    losses        {name: title}: what step() returns, which every epoch's record averages, and each one's figure title
    in_write_up   whether section 1.6 of the write-up compares it (python run.py compare, with no algorithm named)
    not_in_nats   the losses that are not in nats per image, which a divergence check does not hold to a range
and has
    step(x, rng) -> {name: value}    one minibatch: the objective's value and gradients, then the optimizers' steps
    optimizers                       {name: optimizer}, whose learning rates a schedule sets and a checkpoint keeps
    state(), load_state(arrays)      optional: what a checkpoint keeps beyond the optimizers (NVIL's baselines)
    why_not(values)                  optional: why it cannot train a run with these settings, asked before any file
                                     is written (Exact ML's 2^J states)
"""
from dataclasses import dataclass, field, fields


NOT_GIVEN = object()


def option(default, help, *, learning_rate=False, homework=False, choices=None, minimum=None, above=0.0,
           below=None, resumable=False, before=NOT_GIVEN):
    """A setting of an algorithm, as a dataclass field. Its type is its default's: a switch (bool), a whole number of
    at least minimum (int, default 1), a finite number above `above` and, if given, below `below` (float;
    above=None takes any finite number), or one of choices (str). learning_rate: named when a run diverges;
    homework: in --help's first group; resumable: --resume may change it; before: for an option added to a trainer
    that has checkpoints already, the value those runs trained with (their checkpoints still resume; without it, a
    stored run must hold the option)."""
    metadata = {"help": help, "learning_rate": learning_rate, "homework": homework, "choices": choices,
                "minimum": 1 if minimum is None else minimum, "above": above, "below": below,
                "resumable": resumable}
    if before is not NOT_GIVEN:
        metadata["before"] = before
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class NoOptions:
    """The options of a trainer that takes none."""


class Trainer:
    """What every trainer has unless it says otherwise (the declarations are described above)."""

    command = name = None
    latent = "gaussian"
    in_write_up = False         # one of the two algorithms section 1.6 of the write-up compares
    not_in_nats = ()            # losses that are not nats per image (a regression's squared error), not range-checked
    Options = NoOptions
    losses = {}

    @classmethod
    def learning_rates(cls):
        """The names of the options that are learning rates."""
        return [item.name for item in fields(cls.Options) if item.metadata["learning_rate"]]

    @classmethod
    def rows_per_step(cls, options, batch):
        """The samples one step puts through the networks at once (for a run's memory estimate): one per image, or k
        per image for an algorithm whose options have k, or its dreams where they are more."""
        return max(batch * getattr(options, "k", 1), getattr(options, "sleep_samples", 0))

    @classmethod
    def why_not(cls, values):
        """Why it cannot train a run with these settings ({name: value}, its own options among them), in one line, or
        None: asked before anything is written, so that a run it cannot take is refused, not started."""
        return None

    @classmethod
    def report_lines(cls, options, history):
        """Lines of its own for a finished run's report.md (Markdown), or none."""
        return []

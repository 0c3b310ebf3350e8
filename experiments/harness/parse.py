"""What a setting takes: each parser turns a flag's text or a configuration file's value into the setting's value, or
raises BadValue with what it takes ("takes a whole number, got -1")."""
import math
from pathlib import Path


class BadValue(ValueError):
    """A value a setting does not take; the message says what it takes ("takes a whole number, got -1")."""


def whole_number(minimum):
    def parse(value):
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise BadValue(f"takes a whole number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadValue(f"takes a whole number, got {value!r}")
        if value < minimum:
            raise BadValue(f"takes a whole number of at least {minimum}, got {value}")
        return value
    return parse


def number(allowed, words):
    def parse(value):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise BadValue(f"takes a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadValue(f"takes a number, got {value!r}")
        if not (math.isfinite(value) and allowed(value)):
            raise BadValue(f"takes {words}, got {value}")
        return float(value)
    return parse


positive_number = number(lambda value: value > 0, "a finite number above 0")
# e^v of a log-variance v overflows float32 beyond |v| = 88: a bound on q's log-variances stays well inside
log_variance = number(lambda value: abs(value) <= 80, "a number from -80 to 80 (e^v leaves float32 beyond |v| = 88)")
mean_bound = number(lambda value: 1e-6 <= value <= 1e6, "a number from 1e-6 to 1e6")


def switch(value):
    if not isinstance(value, bool):
        raise BadValue(f"takes true or false, got {value!r}")
    return value


def words(*choices):
    def parse(value):
        if value not in choices:
            raise BadValue(f"takes one of {', '.join(choices)}, got {value!r}")
        return value
    parse.choices, parse.takes_text = choices, True
    return parse


def sizes(value):
    """Layer sizes: whole numbers of at least 1 (a list from a file, [] for none; one word at a time from the flag)."""
    if isinstance(value, str):
        return whole_number(1)(value)
    if not isinstance(value, list):
        raise BadValue(f"takes a list of whole numbers, got {value!r}")
    return [whole_number(1)(item) for item in value]


def folder(value):
    if not isinstance(value, str):
        raise BadValue(f"takes a folder's path, got {value!r}")
    try:
        return str(Path(value).resolve())
    except (OSError, RuntimeError) as error:        # RuntimeError: a symlink loop
        raise BadValue(f"cannot be resolved to a folder ({error})") from None


folder.takes_text = True
sizes.many = True


def for_option(default, metadata):
    """The parser of an algorithm's option (algorithms/options.py::option), from its default's type."""
    if isinstance(default, bool):
        return switch
    if isinstance(default, int):
        return whole_number(metadata["minimum"])
    if isinstance(default, float):
        above, below = metadata["above"], metadata["below"]
        limits = []
        if above is not None:
            limits.append(f"above {above:g}")
        if below is not None:
            limits.append(f"below {below:g}")
        description = "a finite number" + (" " + " and ".join(limits) if limits else "")
        return number(lambda value: (above is None or value > above) and (below is None or value < below), description)
    if isinstance(default, str) and metadata["choices"]:
        return words(*metadata["choices"])
    raise TypeError(f"an option's default must be a bool, int, float or one of its choices, not {default!r}")


class OneOf:
    """The parser of a setting that names an entry of a registry (a dict that a plug-in's line may extend): its
    choices are the registry's names when the flags are made and when a value is read, not when this is made."""

    takes_text = True

    def __init__(self, registry, many=False):
        self.registry, self.many = registry, many       # many: a list of names (one word at a time from the flag)

    @property
    def choices(self):
        return tuple(self.registry)

    def __call__(self, value):
        if self.many and isinstance(value, list):
            return [words(*self.registry)(item) for item in value]
        return words(*self.registry)(value)


def names(value):
    """Names (of extensions): words of letters, digits and dashes (a list from a file; one word at a time from the
    flag). Whether each names something is for its registry to say (experiments/outputs/__init__.py)."""
    if isinstance(value, list):
        return [names(item) for item in value]
    if not isinstance(value, str) or not value or not all(c.isalnum() or c in "-_" for c in value):
        raise BadValue(f"takes names of letters, digits and dashes, got {value!r}")
    return value


names.many = names.takes_text = True

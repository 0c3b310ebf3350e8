"""Configuration files (configs/*.toml): a research configuration as a named file of settings, read against the
settings table (settings.py) so that it holds nothing run.py would refuse as a flag. A flag given beside the file
overrides it (settings.py::new_settings)."""
import tomllib
from pathlib import Path

from experiments.errors import Fault
from algorithms import commands
from experiments.harness.parse import BadValue
from experiments.harness.settings import by_name


def read_config(path, algorithms):
    """The settings a configuration file gives, {setting name: value}, checked against the table: TOML whose keys are
    the flags with underscores (sleep_lr = 1e-3, eval_k = 1000, diagnostics = true). An unknown key, a setting none of
    the algorithms uses, or a value of the wrong type (a string for a number, a number for a list) or out of range is
    refused in one line naming the file and the key."""
    try:
        values = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise Fault(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise Fault(f"--config {path}: cannot be read ({getattr(error, 'strerror', None) or error})") from None
    except tomllib.TOMLDecodeError as error:
        raise Fault(f"--config {path}: not a TOML file ({error})") from None
    configured, every = {}, {name for command in commands() for name in by_name(command)}
    offered = {name: item for algorithm in algorithms for name, item in by_name(algorithm).items()}
    for key, value in values.items():
        if key not in every:
            raise Fault(f"--config {path}: {key!r} is not a setting (the keys are run.py {algorithms[0]} --help's "
                        "flags, with underscores)")
        if key not in offered:
            raise Fault(f"--config {path}: {key} is not a setting of {' or '.join(algorithms)}")
        setting = offered[key]
        try:
            if isinstance(value, str) and not getattr(setting.parse, "takes_text", False):
                raise BadValue(f"takes {'a list' if setting.many else 'a number'}, got {value!r}")
            if setting.many and not isinstance(value, list):
                raise BadValue(f"takes a list of whole numbers, got {value!r}")
            configured[setting.name] = setting.parse(value)
        except BadValue as bad:
            raise Fault(f"--config {path}: {key} {bad}") from None
    return configured

"""Errors the CLI turns into one clear line and an exit code (README, exit codes).

A message names an option of the user's as a `{parameter}` field (`pass {force} to overwrite it`),
never as a command-line flag: each face words it its own way. `str(error)` gives the parameter
names (what a Python caller passes); the CLI calls `worded()` with its flags (`--force`,
cli.app.main). Only `{name}` fields of lower-case letters and underscores are parameters.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar

_FIELD = re.compile(r"\{([a-z][a-z0-9_]*)\}")


class GfposeError(Exception):
    """Base class: a problem we can describe to the user in one sentence."""

    exit_code = 1

    def __init__(self, message: str = "") -> None:
        self.template = str(message)
        super().__init__(self.worded())

    def worded(self, name: Callable[[str], str] = lambda p: p) -> str:
        """The message with every {parameter} named by name(parameter)."""
        return word(self.template, name)

    def __str__(self) -> str:
        return self.worded()


class InputError(GfposeError):
    """Bad input: unreadable file, wrong shape, unknown joint, mismatched checkpoint (exit 2)."""

    exit_code = 2


class ImplausibleInput(InputError):
    """A file that parses but holds what no capture does (its data shifting at a frame): refused unless the
    caller reads it anyway (io.read's force_read sets READ_ANYWAY around the reader, which then warns)."""


#: set by io.read(force_read=True) while its reader runs: an ImplausibleInput finding is warned, not raised
READ_ANYWAY: ContextVar[bool] = ContextVar("read_anyway", default=False)


class CheckpointError(InputError):
    """A checkpoint that is damaged, from another task or otherwise unusable."""


class OutputError(GfposeError):
    """An output could not be written (disk full, no permission); nothing partial is left (exit 1)."""

    exit_code = 1


class ParameterError(InputError):
    """A bad value of one named parameter: the message starts with its name (`steps must be at least
    1` from Python, `--steps must be at least 1` on the command line)."""

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        super().__init__(f"{{{param}}} {message}")


def word(text: str, name: Callable[[str], str]) -> str:
    """A message (or a warning) with its {parameter} fields named by name(parameter)."""
    return _FIELD.sub(lambda m: name(m.group(1)), text)


def flag(param: str) -> str:
    """The command-line flag of a parameter: force_read -> --force-read."""
    return "--" + param.replace("_", "-")

"""Errors the CLI turns into one clear line and an exit code (README, exit codes)."""
from __future__ import annotations


class GfposeError(Exception):
    """Base class: a problem we can describe to the user in one sentence."""

    exit_code = 1


class InputError(GfposeError):
    """Bad input: unreadable file, wrong shape, unknown joint, mismatched checkpoint (exit 2)."""

    exit_code = 2


class CheckpointError(InputError):
    """A checkpoint that is damaged, from another task or otherwise unusable."""


class OutputError(GfposeError):
    """An output could not be written (disk full, no permission); nothing partial is left (exit 1)."""

    exit_code = 1


class _Names(dict):
    def __init__(self, name) -> None:
        super().__init__()
        self.name = name

    def __missing__(self, key: str) -> str:
        return self.name(key)


class ParameterError(InputError):
    """A bad value of a named parameter. The message names parameters as {name} fields, so each face
    words them its own way: Python callers read the parameter names (`steps must be at least 1`),
    the CLI its flags (`--steps must be at least 1`, cli.app.main)."""

    def __init__(self, param: str, message: str) -> None:
        self.param, self.template = param, message
        super().__init__(self.worded())

    def worded(self, name=lambda p: p) -> str:
        """The message with every parameter named by name(parameter)."""
        return f"{name(self.param)} " + self.template.format_map(_Names(name))

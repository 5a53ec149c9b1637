"""Errors the CLI turns into one clear line and an exit code (DESIGN.md §9)."""
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

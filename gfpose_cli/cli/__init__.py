"""The `gfpose` command line: one thin function per subcommand (parse, progress, errors, exit codes).

The work lives in the layers below (docs/ARCHITECTURE.md); the CLI only wires files and options to
it. app.py holds the Typer app and the entry point, options.py the shared options, common.py the
helpers every command uses, and one module per command group registers its commands.
"""
from __future__ import annotations

from gfpose_cli.cli.app import app, main
from gfpose_cli.cli import generate, takes, evaluate, files, train  # noqa: F401,E402 - registers the commands in this order

__all__ = ["app", "main"]

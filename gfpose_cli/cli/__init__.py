"""The `gfpose` command line: one thin function per subcommand (parse, progress, errors, exit codes).

The work lives in the layers below (docs/ARCHITECTURE.md); the CLI only wires files and options to
it. app.py holds the Typer app and the entry point, options.py the shared options, common.py the
helpers every command uses, and one module per command group registers its commands.
"""
from __future__ import annotations

import inspect

from gfpose_cli.cli.app import app, main
from gfpose_cli.cli import generate, takes, evaluate, files, train  # noqa: F401,E402 - registers the commands in this order



def _reflowed(doc: str) -> str:
    """A command's docstring with each paragraph's source line breaks turned into spaces: Typer's rich
    help keeps them, so an 80-column terminal showed every long source line broken in two. A line
    starting with "Example:" or indented (an example's next command) keeps its own line."""
    paragraphs = []
    for paragraph in inspect.cleandoc(doc).split("\n\n"):
        lines: list[str] = []
        for line in paragraph.split("\n"):
            if lines and not line.startswith(("Example:", " ")):
                lines[-1] = f"{lines[-1]} {line.strip()}"
            else:
                lines.append(line.rstrip())
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


for _command in app.registered_commands:
    if _command.callback is not None and _command.callback.__doc__:
        _command.callback.__doc__ = _reflowed(_command.callback.__doc__)

__all__ = ["app", "main"]

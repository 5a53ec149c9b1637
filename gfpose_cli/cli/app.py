"""The Typer app, its consoles and state, and the entry point that turns errors into one line and an exit code.

Exit codes: 0 success, 1 internal error, 2 bad input (docs/ARCHITECTURE.md).
"""
from __future__ import annotations

import re
import sys
import warnings
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from gfpose_cli.core.errors import GfposeError, flag

app = typer.Typer(
    name="gfpose",
    help="A learned 3D human pose prior (GFPose) for motion-capture files: lift, complete, denoise, generate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # one line per message, for logs and grep
out = Console(highlight=False, soft_wrap=True)
STATE = {"debug": False, "quiet": False, "force_read": False}
#: click's usage-error base class, whether typer vendors click or uses the package
USAGE_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def esc(text: object) -> str:
    """Text from files and paths, printed as it is: rich markup escaped, undecodable bytes shown as escapes."""
    return escape(str(text).encode("utf-8", "backslashreplace").decode("utf-8"))


#: control characters (a damaged file's labels hold line breaks, NULs, escape codes) that would break an
#: error or warning over several lines or drive the terminal
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def one_line(text: str) -> str:
    """An error or warning as one line: control characters from a file's names shown as escapes (\\n, \\x01)."""
    return _CONTROLS.sub(lambda m: repr(m.group())[1:-1], text)


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for internal errors.")] = False) -> None:
    # every invocation starts from the defaults (an in-process caller runs several commands)
    STATE.update(debug=debug, quiet=False, force_read=False)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: temp files removed, resume state kept


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning known errors into one line and an exit code."""
    import signal

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)  # a batch scheduler's kill cleans up like Ctrl-C
    try:
        with warnings.catch_warnings():
            # numpy's floating-point warnings (a NaN cast, an empty mean) say nothing to a user: what a
            # file holds that matters is said in gfpose's own words, one line each
            warnings.simplefilter("ignore", RuntimeWarning)
            result = app(args=argv, standalone_mode=False)
        if isinstance(result, int) and result:
            sys.exit(result)
    except GfposeError as exc:  # its {parameter} fields are worded as flags here
        text = exc.worded(flag)
        err.print(f"[red]error:[/] {one_line(esc(text))}")
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        if isinstance(exc, USAGE_ERROR):
            exc.show()
            sys.exit(2)
        if STATE["debug"]:
            raise
        err.print(f"[red]internal error:[/] {type(exc).__name__}: {one_line(esc(exc))} (rerun with --debug for the traceback)")
        sys.exit(1)


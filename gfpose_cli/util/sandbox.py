"""Run a native parser on an untrusted file in a throw-away child process first.

ezc3d is C++: a damaged C3D can make it crash the whole process (SIGSEGV), ask for tens of
gigabytes, or spin. A studio's overnight loop must get one line about that file and go on to the
next, so the parser first runs in a forked child with a memory cap and a time limit; only a file
the child read cleanly is then parsed in-process. Where fork does not exist the check is skipped.
"""
from __future__ import annotations

import contextlib
import faulthandler
import os
import resource
import select
import signal
from collections.abc import Callable
from pathlib import Path

from gfpose_cli.core.errors import InputError

#: extra address space the child may take, on top of what it inherits from the parent
MEMORY_HEADROOM = 2 << 30


def _address_space() -> int:
    """This process's virtual size in bytes (Linux), or 0 where unknown."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def preflight(path: Path, parse: Callable[[Path], object], what: str, timeout_s: float | None = None) -> None:
    """Raise InputError naming path if parse(path) crashes, runs out of memory or time in a child.

    parse's own exceptions are left for the in-process call to report (it has the better message).
    The default time limit, 10 s plus 2 s per MB, is far above the parser's speed (>50 MB/s).
    """
    if not hasattr(os, "fork"):
        return
    size = Path(path).stat().st_size
    timeout_s = timeout_s if timeout_s is not None else 10.0 + 2.0 * size / 1e6
    limit = _address_space() + MEMORY_HEADROOM + 40 * size
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: parse, report one byte, never return into the caller's code
        code = 0
        try:
            os.close(read_fd)
            faulthandler.disable()  # a crash here is the expected answer, not something to print
            quiet = os.open(os.devnull, os.O_WRONLY)
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            if _address_space():
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            parse(path)
        except MemoryError:
            code = 3
        except BaseException as exc:  # noqa: BLE001 - a clean refusal; the parent re-parses for the message
            code = 3 if "alloc" in str(exc) else 2  # C++ std::bad_alloc arrives as RuntimeError
        finally:
            os.write(write_fd, bytes([code]))
            os._exit(0)
    os.close(write_fd)
    ready, reply = False, b""
    try:
        ready = bool(select.select([read_fd], [], [], timeout_s)[0])
        reply = os.read(read_fd, 1) if ready else b""
    finally:  # also on Ctrl-C or an alarm: never leave the child spinning
        os.close(read_fd)
        if not reply:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if not ready:
        raise InputError(f"{path}: the {what} parser did not finish within {timeout_s:.0f} s; the file looks damaged")
    if reply == bytes([3]):
        raise InputError(f"{path}: not a readable {what} file (its sizes ask for more memory than it holds data for)")
    if not reply:
        why = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else "it exited early"
        raise InputError(f"{path}: not a readable {what} file (the {what} parser crashed on it, {why}); "
                         "the file looks damaged")

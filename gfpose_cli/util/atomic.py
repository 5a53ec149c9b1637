"""Atomic output: write to a temporary file beside the target, then rename over it.

A killed job or a full disk leaves either the old file or none, never half a file.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from gfpose_cli.core.errors import InputError, OutputError


@contextlib.contextmanager
def atomic_path(target: Path, force: bool = True, scratch: Path | None = None) -> Iterator[Path]:
    """Yield a temporary path in target's folder (or in scratch, a folder on the same file system:
    a job's resume folder, which a killed job leaves for its resume and a finished one removes, so a
    file written over a long job leaves no stray part beside the outputs); on success rename it to target."""
    target = Path(target)
    if target.exists() and not force:
        raise InputError(f"{target}: output exists; pass {{force}} to overwrite it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part" + target.suffix,
                                   dir=target.parent if scratch is None else scratch)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write here ({exc.strerror or exc}); choose another -o") from None
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the user's usual mode
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        if isinstance(exc, OSError):  # disk full, quota, permissions: say so, leave nothing behind
            raise OutputError(f"{target}: could not be written ({exc.strerror or exc}); nothing was left "
                              "behind; free some space or choose another -o") from None
        raise

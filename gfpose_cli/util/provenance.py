"""Provenance: which code made an output (package version + git commit) and which file it came from (sha256).

One file digest for weights, archives and journals alike; callers that key a cache take a prefix.
"""
from __future__ import annotations

import functools
import hashlib
import subprocess
from pathlib import Path

from gfpose_cli import __version__


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Package version plus the git commit (and -dirty for local edits) when run from a checkout.

    Cached at first use, which the trainer makes at start-up, so a checkpoint names the code that
    started the run even if the checkout moves on while it trains. $GFPOSE_CODE_VERSION wins.
    """
    import os

    if os.environ.get("GFPOSE_CODE_VERSION"):
        return os.environ["GFPOSE_CODE_VERSION"]
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=7"], cwd=Path(__file__).parent, capture_output=True,
            text=True, timeout=5, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+{commit}" if commit else __version__


def file_digest(path: Path, length: int | None = None) -> str:
    """sha256 of a file (weights, an archive) in hex, or its first `length` characters (cache keys)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:length] if length else h.hexdigest()

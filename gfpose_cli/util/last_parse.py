"""The last file a loader parsed, kept for the calls that follow it.

A command reads a file (and lists its performers first), then writes a copy of it back: the same bytes
would be parsed two or three times, each parse of a long take costing seconds. A loader keeps its last
result here under the file's resolved path and the SHA-256 of its bytes; a file changed in between has
another digest and is parsed again (and its write-back refused). What is kept is shared by every caller,
so loaders make its arrays read-only.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any


class LastParse:
    """One loader's last result, by (resolved path, SHA-256 of the bytes)."""

    def __init__(self) -> None:
        self._key: tuple[str, str] | None = None
        self._value: Any = None

    def get(self, path: Path, digest: str) -> Any:
        """The kept result for these bytes of path, or None."""
        return self._value if self._key == (str(Path(path).resolve()), digest) else None

    def keep(self, path: Path, digest: str, value: Any) -> Any:
        """Keep value as the result for these bytes of path (replacing the last one); returns value."""
        self._key, self._value = (str(Path(path).resolve()), digest), value
        return value

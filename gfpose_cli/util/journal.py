"""Resume state for long sampling jobs: finished chunks kept beside the output until it is written.

`gfpose generate --n 10000000` runs for hours. Every chunk draws its noise from its own seed
(tasks.chunk_seed), so a chunk computed before a kill -9 is exactly the chunk a full run would
compute: keeping each finished chunk on disk lets the same command, run again, skip them and
write an output identical to an uninterrupted run. The state lives in a hidden folder next to the
output (`.NAME.gfpose-resume/`), is tied to the job's settings and weights, and is removed once the
output is written.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np

from gfpose_cli.core.errors import InputError


class ChunkJournal:
    """Finished chunks of one job, stored as chunk_<index>.npy files written atomically."""

    def __init__(self, output: Path, job: dict, force: bool = False) -> None:
        self.output = Path(output)
        self.folder = self.output.parent / f".{self.output.name}.gfpose-resume"
        self.job = json.loads(json.dumps(job))  # the form it takes on disk, for comparison
        manifest = self.folder / "job.json"
        if self.folder.exists():
            try:
                saved = json.loads(manifest.read_text())
            except (OSError, ValueError):
                saved = None
            if saved != self.job:
                if not force:
                    raise InputError(f"{self.output}: {self.folder.name} holds an interrupted job with other settings "
                                     "(seed, count, sampler, batch size or weights); rerun that job to finish it, "
                                     "or pass {force} to discard it")
                shutil.rmtree(self.folder)
        if not self.folder.exists():
            self.folder.mkdir(parents=True)
            self._atomic_write(manifest, json.dumps(self.job, indent=1, sort_keys=True).encode())
        self.resumed = len(list(self.folder.glob("chunk_*.npy")))

    def _chunk(self, index: int) -> Path:
        return self.folder / f"chunk_{index:08d}.npy"

    def _atomic_write(self, path: Path, data: bytes) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def load(self, index: int, shape: tuple[int, ...]) -> np.ndarray | None:
        """The saved chunk, or None when it was not finished (or was damaged by the kill)."""
        path = self._chunk(index)
        if not path.exists():
            return None
        try:
            value = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        return value if value.shape == shape and value.dtype == np.float32 else None

    def save(self, index: int, value: np.ndarray) -> None:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(value, np.float32), allow_pickle=False)
        self._atomic_write(self._chunk(index), buf.getvalue())

    def finish(self) -> None:
        """Drop the state once the output is safely written."""
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.folder)

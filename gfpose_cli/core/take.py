"""Take: the in-memory form every reader produces and every writer consumes.

One small dataclass keeps the data path one-directional (file -> Take -> tasks -> Take -> file):
tasks never see file formats, readers never see the model.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from gfpose_cli.core.skeleton import JOINTS, N_JOINTS


@dataclass
class Take:
    """A sequence of 17-joint poses.

    positions: (F, 17, D) or (F, S, 17, D) for S hypotheses; float32; metres for 3D, pixels for 2D.
    mask: (F, 17) bool, True where the joint was observed (missing joints are NaN in positions).
    fps: frame rate in Hz.
    root: optional (F, 3) global root trajectory kept aside from root-relative poses.
    confidence: optional (F, 17) detector confidence for 2D keypoints.
    source: where the take came from (path, format, units...) so writers can restore it.
    """

    positions: np.ndarray
    mask: np.ndarray | None = None
    fps: float = 30.0
    root: np.ndarray | None = None
    confidence: np.ndarray | None = None
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        with np.errstate(over="ignore"):  # values past float32 become inf; readers report them (io.check_take)
            self.positions = np.asarray(self.positions, dtype=np.float32)
        p = self.positions
        if p.ndim not in (3, 4) or p.shape[-2] != N_JOINTS or p.shape[-1] not in (2, 3):
            raise ValueError(
                f"poses must have shape (frames, 17, 2|3) or (frames, hypotheses, 17, 2|3), got {p.shape}"
            )
        if self.mask is None:
            finite = np.isfinite(p).all(axis=-1)
            self.mask = finite.all(axis=1) if p.ndim == 4 else finite
        self.mask = np.asarray(self.mask, dtype=bool)
        if self.mask.shape != (p.shape[0], N_JOINTS):
            raise ValueError(f"mask must have shape ({p.shape[0]}, 17), got {self.mask.shape}")
        self.fps = float(self.fps)

    @property
    def n_frames(self) -> int:
        return int(self.positions.shape[0])

    @property
    def dim(self) -> int:
        """2 for keypoints, 3 for poses."""
        return int(self.positions.shape[-1])

    @property
    def n_hypotheses(self) -> int | None:
        """S for a multi-hypothesis take, None for a single pose per frame."""
        return int(self.positions.shape[1]) if self.positions.ndim == 4 else None

    @property
    def path(self) -> Path | None:
        p = self.source.get("path")
        return Path(p) if p else None

    @property
    def joint_names(self) -> tuple[str, ...]:
        return JOINTS

    def with_positions(self, positions: np.ndarray, mask: np.ndarray | None = None) -> "Take":
        """A copy carrying new positions (and mask), keeping fps, root and source."""
        if mask is None:
            mask = np.ones(positions.shape[:1] + (N_JOINTS,), dtype=bool)
        return replace(self, positions=positions, mask=mask)

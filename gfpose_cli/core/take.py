"""Take: the in-memory form every reader produces and every writer consumes.

One small dataclass keeps the data path one-directional (file -> Take -> tasks -> Take -> file):
tasks never see file formats, readers never see the model. What a take carries besides its poses
is typed: where it came from (Provenance, for people and for the writers' choices), an opaque
write-back handle that only io reads (the source file's markers or skeleton), what the task that
made it did (a report), and its place in a sharded job.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from gfpose_cli.core.skeleton import JOINTS, N_JOINTS


@dataclass(frozen=True)
class Provenance:
    """Where a take came from: the file, how it was read, and what the reader noticed."""

    path: str | None = None
    format: str | None = None  # npz, csv, c3d, bvh, amc, coco17, openpose25
    map: str | None = None  # the skeleton map that made the 17 joints
    units: str | None = None  # the file's length unit, as read or given with --units
    units_to_m: float | None = None  # metres per file unit
    up: str | None = None  # the file's vertical axis, e.g. +Y
    subject: str | None = None  # a C3D performer (label prefix)
    first_frame: int | None = None
    reader: str | None = None  # which parser read it (C3D: ezc3d, c3d, gfpose)
    camera_frame: bool = False  # poses in the camera frame (lift output), not Z-up mocap
    bind_frames: tuple[int, ...] = ()  # rest/bind-pose frames a task leaves as they are
    notes: tuple[str, ...] = ()  # what the reader did that a user should know
    warnings: tuple[str, ...] = ()  # what looked wrong but was read (io.sanity)

    def but(self, **changes: Any) -> "Provenance":
        return replace(self, **changes)


@dataclass(frozen=True)
class ShardPlace:
    """Part index of count of a sharded job, holding frames [start, stop) of total."""

    index: int
    count: int
    start: int
    stop: int
    total: int


@dataclass(frozen=True)
class GenerateReport:
    task = "generate"
    dedupe_mm: float | None = None
    drawn: int | None = None  # poses drawn to keep n distinct ones (--dedupe)
    condition: str | None = None  # the file generate --condition sampled around
    condition_frames: int | None = None


@dataclass(frozen=True)
class LiftReport:
    task = "lift"
    input: str = ""
    temporal: bool = False  # lifted as a take (signal.keypoints + smoothing + bone lengths), else frame by frame
    swaps: int = 0  # frames x limb groups whose left and right the detector had swapped, swapped back
    bridged: int = 0  # keypoints missing (or ignored as outliers) but filled along the take
    frames_left: int = 0  # frames with fewer than 2 keypoints even after bridging, left empty
    noise_px: float | None = None  # estimated 2D detection noise (per coordinate)
    performer_scale: float | None = None  # with a performer's skeleton or height given: its size over the lifter's guess
    refined: bool = False  # corrected by the take refiner (model.refiner) from the frames around each one
    cuts: tuple[int, ...] = ()  # frames (as the input numbers them) where a new shot begins: each lifted alone


@dataclass(frozen=True)
class CompleteReport:
    task = "complete"
    temporal: bool = False  # gaps filled along the take (else frame by frame)
    #: frames without the pelvis (or both hips) and another joint, left as they were (along a take: and
    #: without the trunk that carries a pelvis, gapfill.carry_pelvis)
    frames_left: int = 0
    pelvis_carried: int = 0  # frames whose unseen pelvis was carried by the trunk (gapfill.carry_pelvis)


@dataclass(frozen=True)
class DenoiseReport:
    """What denoise measured and chose, so a user can reproduce or adjust it."""

    task = "denoise"
    temporal: bool = False
    sequence: bool = False
    noise_mm: float | None = None
    smoothing: tuple[float, ...] = ()  # Whittaker lambda per joint
    spikes: int = 0
    remaining_noise_mm: float | None = None
    t0: float | None = None
    bone_length_cv: float | None = None
    bind_frames: tuple[int, ...] = ()
    too_short: int | None = None  # frames of a take too short to smooth, left as it was
    breaks: tuple[int, ...] = ()  # frames (as the file numbers them) where the whole body jumps: smoothed apart
    performer_lengths: bool = False  # a length-conditioned prior was given the take's median bone lengths

    def but(self, **changes: Any) -> "DenoiseReport":
        return replace(self, **changes)


TaskReport = GenerateReport | LiftReport | CompleteReport | DenoiseReport


#: largest believable coordinate: a million metres (3D) or pixels (2D); past it a file is damaged
MAX_COORDINATE = 1e6


@dataclass
class Take:
    """A sequence of 17-joint poses.

    positions: (F, 17, D) or (F, S, 17, D) for S hypotheses; float32; metres for 3D, pixels for 2D.
    mask: (F, 17) bool, True where the joint was observed (missing joints are NaN in positions).
    fps: frame rate in Hz.
    root: optional (F, 3) global root trajectory kept aside from root-relative poses.
    confidence: optional (F, 17) detector confidence for 2D keypoints.
    provenance: where it came from (Provenance).
    writeback: io's handle on the source file (markers, skeleton) for writing back into it; opaque
        to everything but io, and dropped when a take stops matching its source frame for frame.
    report: what the task that made this take did (GenerateReport, LiftReport, ...), or None.
    shard: its place in a sharded job, or None.
    """

    positions: np.ndarray
    mask: np.ndarray | None = None
    fps: float = 30.0
    root: np.ndarray | None = None
    confidence: np.ndarray | None = None
    provenance: Provenance = field(default_factory=Provenance)
    writeback: Any = None
    report: TaskReport | None = None
    shard: ShardPlace | None = None

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
        p = self.provenance.path
        return Path(p) if p else None

    @property
    def joint_names(self) -> tuple[str, ...]:
        return JOINTS

    def with_positions(self, positions: np.ndarray, mask: np.ndarray | None = None) -> "Take":
        """A copy carrying new positions (and mask), keeping fps, root, provenance and the rest."""
        if mask is None:
            mask = np.ones(positions.shape[:1] + (N_JOINTS,), dtype=bool)
        return replace(self, positions=positions, mask=mask)


def aggregate(hyps: Take, how: str) -> Take:
    """Collapse (F, S, 17, 3) hypotheses with 'mean' or 'median' ('none' keeps them)."""
    from gfpose_cli.core.errors import ParameterError

    if how == "none" or hyps.positions.ndim == 3:
        return hyps
    if how not in ("mean", "median"):
        raise ParameterError("aggregate", f"must be none, mean or median, got {how!r}")
    fn = np.mean if how == "mean" else np.median
    # everything but the hypothesis axis is kept: the root trajectory too (merged `complete -s S` shards)
    return replace(hyps, positions=fn(hyps.positions, axis=1))

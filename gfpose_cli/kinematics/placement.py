"""World-space placement of generated poses: which way each faces, feet on the floor, where it stands.

The prior makes root-relative poses (pelvis at the origin, facing anywhere). Users building scenes
or multi-view datasets want them in a room: turned to a heading range, standing on z = 0, spread
over an area or following a recorded root trajectory. Random draws are seeded per block of poses
(cameras.block_uniform), so a shard places its poses exactly as a single run does.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from gfpose_cli.kinematics.cameras import block_uniform
from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import L_HIP, R_HIP, ROOT

UP = np.array([0.0, 0.0, 1.0])
STREAM = 0x504C4143  # "PLAC": independent of the pose-noise and camera streams


@dataclass
class Placement:
    """What to do with each pose; None / False leaves that aspect as generated."""

    yaw_deg: tuple[float, float] | None = None  # facing drawn from this range (0 = +X, 90 = +Y)
    floor: bool = False  # lowest joint at z = 0 instead of the pelvis at the origin
    area_m: tuple[float, float] | None = None  # pelvis x, y uniform over a W x D rectangle at the origin
    trajectory: np.ndarray | None = field(default=None, repr=False)  # (F, 3) pelvis path, pose i at i mod F
    trajectory_yaw: np.ndarray | None = field(default=None, repr=False)  # (F,) facing along the path (radians)
    trajectory_file: str | None = None

    def active(self) -> bool:
        return bool(self.yaw_deg or self.floor or self.area_m or self.trajectory is not None)

    def describe(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("trajectory", "trajectory_yaw")}
        if self.trajectory is not None:
            d["trajectory_frames"] = int(len(self.trajectory))
        return d


def facing(poses: np.ndarray) -> np.ndarray:
    """Heading of each pose (N, 17, 3) in radians from +X about +Z: the horizontal direction the
    hips face (perpendicular to right hip -> left hip, pointing to the front)."""
    hips = poses[:, L_HIP] - poses[:, R_HIP]
    front = np.cross(hips, UP)
    return np.arctan2(front[:, 1], front[:, 0])


def turn(poses: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rotate each pose about the vertical through its pelvis by angles (N,) radians."""
    c, s = np.cos(angles)[:, None], np.sin(angles)[:, None]
    p = poses - poses[:, ROOT : ROOT + 1]
    x = c * p[..., 0] - s * p[..., 1]
    y = s * p[..., 0] + c * p[..., 1]
    return np.stack([x, y, p[..., 2]], -1) + poses[:, ROOT : ROOT + 1]


def trajectory_from_take(positions: np.ndarray, path: str) -> tuple[np.ndarray, np.ndarray]:
    """Pelvis path (F, 3) and heading (F,) of a 3D take, skipping frames without pelvis or hips."""
    if positions.ndim != 3 or positions.shape[-1] != 3:
        raise InputError(f"{path}: {{trajectory}} needs a 3D take (frames, 17, 3)")
    ok = np.isfinite(positions[:, [ROOT, 1, 4]]).all((1, 2))
    if not ok.any():
        raise InputError(f"{path}: no frame has the pelvis and both hips; cannot follow its trajectory")
    kept = positions[ok]
    return kept[:, ROOT].astype(np.float64), facing(kept)


def place(poses: np.ndarray, placement: Placement, seed: int, first: int = 0) -> np.ndarray:
    """Poses (N, 17, 3, pelvis at the origin) numbered first..first+N, placed in the world."""
    if not placement.active():
        return poses
    n = len(poses)
    u = block_uniform(n, (3,), seed, STREAM, first)
    out = poses.astype(np.float64)
    idx = (first + np.arange(n)) % len(placement.trajectory) if placement.trajectory is not None else None
    target = None
    if placement.yaw_deg is not None:
        lo, hi = placement.yaw_deg
        target = np.deg2rad(lo + (hi - lo) * u[:, 0])
    elif placement.trajectory_yaw is not None:
        target = placement.trajectory_yaw[idx]
    if target is not None:
        out = turn(out, target - facing(out))
    out = out - out[:, ROOT : ROOT + 1]
    if placement.trajectory is not None:
        out = out + placement.trajectory[idx][:, None]
    if placement.area_m is not None:
        w, d = placement.area_m
        out[..., 0] += (w * (u[:, 1] - 0.5))[:, None]
        out[..., 1] += (d * (u[:, 2] - 0.5))[:, None]
    if placement.floor:
        out[..., 2] -= out[..., 2].min(1, keepdims=True)
    return out.astype(poses.dtype)

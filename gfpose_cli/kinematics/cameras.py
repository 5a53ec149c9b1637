"""Virtual pinhole cameras for synthetic 2D views of generated poses.

Conventions (the same as OpenCV, so users can feed the arrays to cv2.projectPoints):
world is gfpose's Z-up metres with the pelvis at the origin; a camera maps a world point X to
x_cam = R @ X + t (x right, y down, z forward) and to pixels u = K @ x_cam / z. Random cameras sit
on a sphere around the subject (azimuth, elevation, distance) and look at the pelvis; a fixed rig
comes from a TOML file. Everything is numpy and seeded per block of poses, so a sharded job draws
the same cameras as a single run.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from gfpose_cli.core.errors import InputError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

#: poses per camera-seed block: cameras of pose i come from seed (seed, i // BLOCK)
BLOCK = 4096


@dataclass(frozen=True)
class CameraRanges:
    """Uniform ranges the random cameras are drawn from; defaults suit a 1000 x 1000 image."""

    azimuth_deg: tuple[float, float] = (0.0, 360.0)
    elevation_deg: tuple[float, float] = (-15.0, 35.0)
    distance_m: tuple[float, float] = (2.5, 8.0)
    focal_px: tuple[float, float] = (800.0, 1600.0)
    image_size: tuple[int, int] = (1000, 1000)  # width, height; the principal point is the centre
    principal_jitter_px: float = 0.0

    def describe(self) -> dict:
        return asdict(self)


def _namespace(x):
    """numpy or torch, by what x is: the camera model below is written once for both."""
    if type(x).__module__.split(".")[0] == "torch":
        import torch

        return torch
    return np


def _cross(a, b):
    """a x b over the last axis, written out (the arithmetic of np.cross), for numpy and torch alike."""
    xp = _namespace(a)
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return xp.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], -1)


def look_at(azimuth, elevation, distance=None, target=None):
    """World-to-camera rotation R (..., 3, 3) and translation t (..., 3) of cameras at azimuth and
    elevation (radians) and distance around target (default the origin), looking at it with Z up
    in the world; x_cam = R X + t, x right, y down, z forward (OpenCV). numpy arrays and torch
    tensors alike (t is None without a distance). The one camera model of the package: random
    dataset cameras, fixed rigs and the training views all use it."""
    xp = _namespace(azimuth)
    ca, sa, ce, se = xp.cos(azimuth), xp.sin(azimuth), xp.cos(elevation), xp.sin(elevation)
    offset = xp.stack([ca * ce, sa * ce, se], -1)  # from the target to the camera
    forward = -offset
    up = xp.zeros_like(forward)
    up[..., 2] = 1.0
    right = _cross(forward, up)
    right = right / xp.sqrt((right * right).sum(-1))[..., None]
    down = _cross(forward, right)
    R = xp.stack([right, down, forward], -2)
    if distance is None:
        return R, None
    target = xp.zeros_like(offset) if target is None else target
    centre = target + distance[..., None] * offset
    t = -xp.einsum("...ij,...j->...i", R, centre)
    return R, t


def intrinsics(focal: np.ndarray, principal: np.ndarray) -> np.ndarray:
    """K matrices (..., 3, 3) from focal lengths (...) and principal points (..., 2), square pixels."""
    K = np.zeros(focal.shape + (3, 3))
    K[..., 0, 0] = K[..., 1, 1] = focal
    K[..., :2, 2] = principal
    K[..., 2, 2] = 1.0
    return K


def block_uniform(n: int, shape: tuple[int, ...], seed: int, stream: int, first: int = 0) -> np.ndarray:
    """Uniform [0, 1) draws (n, *shape) for items first..first+n of a numbered series: item i's draw
    depends only on (seed, stream, i // BLOCK), so a shard of the series gets the single run's numbers."""
    blocks = range(first // BLOCK, (first + n - 1) // BLOCK + 1)
    draws = [np.random.default_rng([seed, stream, b]).random((BLOCK, *shape)) for b in blocks]
    return np.concatenate(draws)[first - blocks[0] * BLOCK:][:n]


def random_cameras(n: int, k: int, seed: int, ranges: CameraRanges = CameraRanges(), first: int = 0,
                   targets: np.ndarray | None = None) -> dict:
    """K cameras for each of n poses numbered first..first+n: arrays K, R, t (n, k, ...), image_size (2,).

    They look at targets (n, 3) (each pose's pelvis, for poses placed in the world), else the origin.
    """
    u = block_uniform(n, (k, 6), seed, 0x43414D, first)  # "CAM": independent of the pose noise streams

    def span(lo_hi: tuple[float, float], v: np.ndarray) -> np.ndarray:
        return lo_hi[0] + (lo_hi[1] - lo_hi[0]) * v

    az, el = np.deg2rad(span(ranges.azimuth_deg, u[..., 0])), np.deg2rad(span(ranges.elevation_deg, u[..., 1]))
    R, t = look_at(az, el, span(ranges.distance_m, u[..., 2]))
    if targets is not None:  # x_cam = R (X - target) + t
        t = t - np.einsum("nkij,nj->nki", R, targets)
    w, h = ranges.image_size
    principal = np.array([w / 2, h / 2]) + ranges.principal_jitter_px * (2 * u[..., 4:6] - 1)
    return {"K": intrinsics(span(ranges.focal_px, u[..., 3]), principal), "R": R, "t": t,
            "image_size": np.array([w, h], np.int32)}


def rig_from_toml(path: Path) -> dict:
    """A fixed rig: [[camera]] tables with either azimuth_deg/elevation_deg/distance_m (look at the
    pelvis) or R (3x3) and t (3); plus focal_px and optional principal_px; image_size at the top."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: not a readable camera TOML ({exc})") from None
    cams = data.get("camera")
    if not isinstance(cams, list) or not cams:
        raise InputError(f"{path}: needs at least one [[camera]] table")
    try:
        w, h = (int(v) for v in data.get("image_size", [1000, 1000]))
        Ks, Rs, ts = [], [], []
        for i, cam in enumerate(cams):
            if "R" in cam:
                R, t = np.array(cam["R"], float), np.array(cam["t"], float)
                if R.shape != (3, 3) or t.shape != (3,) or not np.allclose(R @ R.T, np.eye(3), atol=1e-4):
                    raise ValueError(f"camera {i + 1}: R must be a 3x3 rotation and t 3 numbers")
            else:
                R, t = look_at(np.deg2rad(np.array(float(cam["azimuth_deg"]))),
                               np.deg2rad(np.array(float(cam.get("elevation_deg", 0.0)))),
                               np.array(float(cam["distance_m"])))
            principal = np.array(cam.get("principal_px", [w / 2, h / 2]), float)
            Ks.append(intrinsics(np.array(float(cam["focal_px"])), principal))
            Rs.append(R)
            ts.append(t)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: bad camera entry ({exc}); see README 'Synthetic datasets'") from None
    return {"K": np.stack(Ks), "R": np.stack(Rs), "t": np.stack(ts), "image_size": np.array([w, h], np.int32)}


def fixed_cameras(rig: dict, n: int) -> dict:
    """The same rig for each of n poses, in the (n, k, ...) layout of random_cameras."""
    return {**{key: np.broadcast_to(rig[key], (n,) + rig[key].shape).copy() for key in ("K", "R", "t")},
            "image_size": rig["image_size"]}


def project(poses: np.ndarray, cams: dict) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (n, k, 17, 2) of poses (n, 17, 3) in every camera, and visibility (n, k, 17):
    in front of the camera and inside the image."""
    x = np.einsum("nkij,nqj->nkqi", cams["R"], poses) + cams["t"][:, :, None, :]
    z = x[..., 2:3]
    uvw = np.einsum("nkij,nkqj->nkqi", cams["K"], x)
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = uvw[..., :2] / uvw[..., 2:3]
    w, h = cams["image_size"]
    visible = (z[..., 0] > 1e-3) & (uv[..., 0] >= 0) & (uv[..., 0] < w) & (uv[..., 1] >= 0) & (uv[..., 1] < h)
    return uv.astype(np.float32), visible


def rig_digest(cams: dict) -> str:
    """Short hash of a fixed rig, for the dataset manifest."""
    h = hashlib.sha256()
    for key in ("K", "R", "t", "image_size"):
        h.update(np.ascontiguousarray(cams[key], np.float64).tobytes())
    return h.hexdigest()[:16]


def random_views(n: int, generator=None, ranges: CameraRanges = CameraRanges(), device="cpu") -> dict:
    """n random cameras looking at the origin, as torch tensors for training views: rotation R
    (n, 3, 3), centre C (n, 3), focal f (n,); drawn with a torch generator (reproducible training)."""
    import torch

    def uniform(lo_hi: tuple[float, float]) -> torch.Tensor:
        lo, hi = lo_hi
        return lo + (hi - lo) * torch.rand(n, generator=generator, device=device)

    az, el = torch.deg2rad(uniform(ranges.azimuth_deg)), torch.deg2rad(uniform(ranges.elevation_deg))
    dist, focal = uniform(ranges.distance_m), uniform(ranges.focal_px)
    R, _ = look_at(az, el)
    centre = dist[:, None] * torch.stack([torch.cos(az) * torch.cos(el), torch.sin(az) * torch.cos(el), torch.sin(el)], -1)
    return {"R": R, "C": centre, "f": focal}


def project_views(poses, views: dict, ranges: CameraRanges = CameraRanges()):
    """torch: world poses (N, J, 3) seen by random_views -> camera-frame points (N, J, 3) and pixels
    (N, J, 2), the principal point at the image centre of ranges."""
    import torch

    cam = torch.einsum("nij,nkj->nki", views["R"], poses - views["C"][:, None, :])
    z = cam[..., 2:3].clamp_min(1e-3)
    w, h = ranges.image_size
    centre = torch.tensor([w / 2.0, h / 2.0], dtype=cam.dtype, device=cam.device)
    return cam, views["f"][:, None, None] * cam[..., :2] / z + centre


def still_camera_view(positions: np.ndarray, yaw_deg: float, elevation_deg: float, distance_m: float,
                      focal_px: float = 1000.0, image_size: tuple[int, int] = (1000, 1000)) -> tuple[np.ndarray, np.ndarray]:
    """A take (F, 17, 3; world, Z up) filmed by one still camera that looks at its mean pelvis from yaw,
    elevation and distance: the pixels (F, 17, 2) it records, and the 3D a lifter is asked for, each
    frame's pose relative to the pelvis in the frame of a camera at the same place turned toward the
    pelvis (the training views' convention: random_views look at the pelvis)."""
    target = positions[:, 0].mean(0)
    R, t = look_at(np.radians(np.float64(yaw_deg)), np.radians(np.float64(elevation_deg)), np.float64(distance_m), target)
    cam = positions @ R.T + t
    pixels = focal_px * cam[..., :2] / cam[..., 2:3] + np.array(image_size, np.float64) / 2
    to_camera = (-R.T @ t)[None] - positions[:, 0]
    R_pelvis, _ = look_at(np.arctan2(to_camera[:, 1], to_camera[:, 0]),
                          np.arcsin(to_camera[:, 2] / np.linalg.norm(to_camera, axis=-1)))
    return pixels, np.einsum("fij,fkj->fki", R_pelvis, positions - positions[:, :1])

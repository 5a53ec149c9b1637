"""Frames, cameras, projection, 2D normalisation and rigid alignment.

Everything the tasks and metrics need to move poses between the canonical mocap frame (Z up,
root at origin), camera frames (x right, y down, z forward) and normalised 2D.
"""
from __future__ import annotations


import numpy as np
import torch

from gfpose_cli.kinematics.cameras import CameraRanges  # one definition of the camera ranges, numpy and torch alike
from gfpose_cli.core.skeleton import ROOT

from gfpose_cli.core.frames import CAMERA_TO_Z_UP, Y_UP_TO_Z_UP  # noqa: F401 - re-exported for callers


def root_relative(poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split poses (..., 17, D) into root-relative poses and the root trajectory (..., D)."""
    root = poses[..., ROOT, :].copy()
    return poses - root[..., None, :], root


def rotation_z(angles: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (..., 3, 3) about +Z by angles in radians."""
    c, s = torch.cos(angles), torch.sin(angles)
    z, o = torch.zeros_like(angles), torch.ones_like(angles)
    return torch.stack([torch.stack([c, -s, z], -1), torch.stack([s, c, z], -1), torch.stack([z, z, o], -1)], -2)


def look_at_rotation(azimuth: torch.Tensor, elevation: torch.Tensor) -> torch.Tensor:
    """World-to-camera rotations (N, 3, 3) for cameras circling a Z-up subject.

    The camera sits at azimuth/elevation (radians) around the origin, looks at it, and uses the
    computer-vision convention: x right, y down, z forward.
    """
    ca, sa, ce, se = torch.cos(azimuth), torch.sin(azimuth), torch.cos(elevation), torch.sin(elevation)
    forward = -torch.stack([ca * ce, sa * ce, se], -1)  # from camera to subject
    up = torch.zeros_like(forward)
    up[..., 2] = 1.0
    right = torch.linalg.cross(forward, up)
    right = right / right.norm(dim=-1, keepdim=True)
    down = torch.linalg.cross(forward, right)
    return torch.stack([right, down, forward], -2)


def random_cameras(n: int, generator: torch.Generator | None = None, ranges: CameraRanges = CameraRanges(),
                   device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """Draw n cameras looking at the origin: rotation R (n,3,3), centre C (n,3), focal f (n,)."""
    def uniform(lo_hi: tuple[float, float]) -> torch.Tensor:
        lo, hi = lo_hi
        return lo + (hi - lo) * torch.rand(n, generator=generator, device=device)

    az, el = torch.deg2rad(uniform(ranges.azimuth_deg)), torch.deg2rad(uniform(ranges.elevation_deg))
    dist, focal = uniform(ranges.distance_m), uniform(ranges.focal_px)
    centre = dist[:, None] * torch.stack([torch.cos(az) * torch.cos(el), torch.sin(az) * torch.cos(el), torch.sin(el)], -1)
    return {"R": look_at_rotation(az, el), "C": centre, "f": focal}


def to_camera(poses: torch.Tensor, R: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """World poses (N, J, 3) into camera coordinates (N, J, 3)."""
    return torch.einsum("nij,nkj->nki", R, poses - C[:, None, :])


def project(cam_points: torch.Tensor, f: torch.Tensor, principal: tuple[float, float] = (500.0, 500.0)) -> torch.Tensor:
    """Pinhole projection of camera-frame points (N, J, 3) to pixels (N, J, 2)."""
    z = cam_points[..., 2:3].clamp_min(1e-3)
    return f[:, None, None] * cam_points[..., :2] / z + torch.tensor(principal, dtype=cam_points.dtype, device=cam_points.device)


def normalise_2d(keypoints: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Root-centre and scale-normalise 2D keypoints (N, 17, 2) so pixel size and intrinsics vanish.

    The centre is the pelvis when seen, else the hip midpoint, else the mean of what was seen;
    the scale is the RMS distance of observed joints from that centre. Missing joints become 0.
    Training and inference both call this one function, so they cannot drift apart.
    """
    m = mask.to(keypoints.dtype)
    kp = torch.where(mask[..., None], keypoints, torch.zeros_like(keypoints))
    n_seen = m.sum(-1).clamp_min(1.0)
    centre = (kp * m[..., None]).sum(-2) / n_seen[..., None]
    hips_seen = (mask[..., 1] & mask[..., 4])[..., None]
    centre = torch.where(hips_seen, 0.5 * (kp[..., 1, :] + kp[..., 4, :]), centre)
    centre = torch.where(mask[..., ROOT, None], kp[..., ROOT, :], centre)
    rel = (kp - centre[..., None, :]) * m[..., None]
    scale = torch.sqrt((rel**2).sum((-1, -2)) / n_seen)
    scale = torch.where(scale > 1e-9, scale, torch.ones_like(scale))
    return rel / scale[..., None, None]


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Align pred (N, J, 3) to gt with the best similarity transform (rotation, scale, translation)."""
    mu_p, mu_g = pred.mean(-2, keepdims=True), gt.mean(-2, keepdims=True)
    p, g = pred - mu_p, gt - mu_g
    H = np.swapaxes(p, -1, -2) @ g
    U, S, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(np.swapaxes(Vt, -1, -2) @ np.swapaxes(U, -1, -2)))
    D = np.zeros_like(H)
    D[..., 0, 0], D[..., 1, 1], D[..., 2, 2] = 1.0, 1.0, d
    R = np.swapaxes(Vt, -1, -2) @ D @ np.swapaxes(U, -1, -2)
    trace = (S * np.stack([np.ones_like(d), np.ones_like(d), d], -1)).sum(-1)
    scale = trace / np.maximum((p**2).sum((-1, -2)), 1e-12)
    return scale[..., None, None] * p @ np.swapaxes(R, -1, -2) + mu_g

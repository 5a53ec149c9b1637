"""Frames, 2D normalisation and rigid alignment (the camera model is kinematics.cameras).

Everything the tasks and metrics need to move poses between the canonical mocap frame (Z up,
root at origin), camera frames (x right, y down, z forward) and normalised 2D.
"""
from __future__ import annotations


import numpy as np
import torch

from gfpose_cli.core.skeleton import L_HIP, R_HIP, ROOT, root_relative  # noqa: F401 - root_relative re-exported

from gfpose_cli.core.frames import CAMERA_TO_Z_UP, Y_UP_TO_Z_UP  # noqa: F401 - re-exported for callers


def rotation_z(angles: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (..., 3, 3) about +Z by angles in radians."""
    c, s = torch.cos(angles), torch.sin(angles)
    z, o = torch.zeros_like(angles), torch.ones_like(angles)
    return torch.stack([torch.stack([c, -s, z], -1), torch.stack([s, c, z], -1), torch.stack([z, z, o], -1)], -2)


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
    hips_seen = (mask[..., R_HIP] & mask[..., L_HIP])[..., None]
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

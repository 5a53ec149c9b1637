"""Pose accuracy and plausibility metrics (the paper's protocols, bench/accuracy.py), all in the units of the input (metres).

Protocols follow the paper: P1 = MPJPE after root alignment, P2 = after Procrustes alignment,
minMPJPE = best of S hypotheses per frame.
"""
from __future__ import annotations

import numpy as np

from gfpose_cli.kinematics.geometry import procrustes_align, root_relative
from gfpose_cli.kinematics.rotations import kabsch
from gfpose_cli.core.skeleton import BONES, SYMMETRIC_BONES, bone_lengths
from gfpose_cli.kinematics.bones import MIN_BONE_M, bone_length_cv  # noqa: F401 - metrics of a take


def per_joint_error(pred: np.ndarray, gt: np.ndarray, align: str = "root") -> np.ndarray:
    """Per-joint Euclidean errors (..., 17) after 'root', 'procrustes' or 'none' alignment."""
    if align == "root":
        pred, gt = root_relative(pred)[0], root_relative(gt)[0]
    elif align == "procrustes":
        shape = pred.shape
        pred = procrustes_align(pred.reshape(-1, *shape[-2:]), np.broadcast_to(gt, shape).reshape(-1, *shape[-2:]))
        pred = pred.reshape(shape)
    elif align != "none":
        raise ValueError(f"unknown alignment {align!r}")
    return np.linalg.norm(pred - gt, axis=-1)


def take_aligned_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """MPJPE of root-relative poses (F, 17, 3) after turning the whole prediction by the one rotation
    (no scale) that best fits it to the truth: for a take lifted in a camera's frame scored against
    mocap in the world's, where the camera's rotation is not known. Unlike P2, every frame keeps
    its own orientation relative to the others."""
    p, g = root_relative(pred)[0], root_relative(gt)[0]
    rotation = kabsch(p.reshape(1, -1, 3), g.reshape(1, -1, 3))[0]
    return float(np.linalg.norm(p @ rotation.T - g, axis=-1).mean())


def mpjpe(pred: np.ndarray, gt: np.ndarray, align: str = "root") -> float:
    """Mean per-joint position error over frames and joints."""
    return float(per_joint_error(pred, gt, align).mean())


def min_mpjpe(hyps: np.ndarray, gt: np.ndarray, align: str = "root") -> float:
    """Best-of-S MPJPE: hyps (F, S, 17, 3) against gt (F, 17, 3), mean over frames."""
    err = per_joint_error(hyps, gt[:, None], align).mean(-1)  # (F, S)
    return float(err.min(axis=1).mean())


def pck(pred: np.ndarray, gt: np.ndarray, threshold: float = 0.15, align: str = "root") -> float:
    """Fraction of joints within threshold (default 150 mm) after alignment."""
    return float((per_joint_error(pred, gt, align) <= threshold).mean())


def jitter(poses: np.ndarray, fps: float) -> float:
    """Mean |acceleration| of joints (units/s^2) over a sequence (F, 17, 3)."""
    if poses.shape[0] < 3:
        return 0.0
    acc = (poses[2:] - 2 * poses[1:-1] + poses[:-2]) * fps**2
    return float(np.linalg.norm(acc, axis=-1).mean())


def symmetry_error(poses: np.ndarray) -> float:
    """Mean relative left/right bone-length difference |R - L| / mean(R, L) over poses (N, 17, 3)."""
    lengths = bone_lengths(poses)
    right = lengths[..., [r for r, _ in SYMMETRIC_BONES]]
    left = lengths[..., [l for _, l in SYMMETRIC_BONES]]
    return float((np.abs(right - left) / np.maximum(0.5 * (right + left), 1e-9)).mean())


def body_height(poses: np.ndarray) -> np.ndarray:
    """Standing-height proxy per pose: head-to-ankle chain length (pelvis-spine-thorax-neck-head + leg)."""
    lengths = bone_lengths(poses)
    chain = [BONES.index(b) for b in ((0, 7), (7, 8), (8, 9), (9, 10))]
    legs = [BONES.index(b) for b in ((0, 1), (1, 2), (2, 3))]
    return lengths[..., chain].sum(-1) + lengths[..., legs].sum(-1)


def plausibility(poses: np.ndarray) -> dict[str, float]:
    """Summary figures for a set of generated poses (N, 17, 3)."""
    height = body_height(poses)
    return {
        "poses": float(len(poses)),
        "bone_length_cv": bone_length_cv(poses),
        "symmetry_error": symmetry_error(poses),
        "height_mean_m": float(height.mean()),
        "height_std_m": float(height.std()),
    }

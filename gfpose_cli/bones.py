"""A performer's bone lengths, and holding sampled joints to them.

The score model places each joint well but does not know this performer: sampled limbs come out a
few centimetres long or short, and left and right differ. When the take tells us the real lengths,
sampled joints are moved along their bone directions to those lengths (parents first), which keeps
the pose and fixes the skeleton.
"""
from __future__ import annotations

import numpy as np

from .skeleton import BONES, MIRROR, bone_lengths


def performer_lengths(positions: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median length of each bone (16,) over frames where both its joints were observed; a bone never
    seen takes its mirror twin's length, else NaN."""
    both = np.stack([mask[:, p] & mask[:, c] for p, c in BONES], 1)
    lengths = np.where(both, bone_lengths(np.nan_to_num(positions)), np.nan)
    with np.errstate(all="ignore"):
        med = np.array([np.median(col[np.isfinite(col)]) if np.isfinite(col).any() else np.nan for col in lengths.T])
    for i, (p, c) in enumerate(BONES):
        if np.isnan(med[i]):
            twin = (MIRROR[p], MIRROR[c])
            if twin in BONES:
                med[i] = med[BONES.index(twin)]
    return med


def hold_lengths(poses: np.ndarray, lengths: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Move the free joints (bool (..., 17)) of poses (..., 17, 3) so every bone ending in a free joint
    has its given length (NaN: left alone), walking from the root so a moved parent carries its child."""
    out = poses.copy()
    for i, (p, c) in enumerate(BONES):  # BONES is in parent-before-child order
        if np.isnan(lengths[i]):
            continue
        move = free[..., c]
        if not move.any():
            continue
        v = poses[..., c, :] - poses[..., p, :]
        norm = np.linalg.norm(v, axis=-1, keepdims=True)
        new = out[..., p, :] + v / np.maximum(norm, 1e-9) * lengths[i]
        out[..., c, :] = np.where(move[..., None], new, out[..., c, :])
    return out

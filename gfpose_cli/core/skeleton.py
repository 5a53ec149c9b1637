"""The 17-joint skeleton (Human3.6M order) that every reader maps into and every model speaks.

Keeping names, parents, parts and mirror pairs in one place means masks, metrics, writers and
augmentation all agree on what "left arm" or "joint 13" is.
"""
from __future__ import annotations

import numpy as np

JOINTS: tuple[str, ...] = (
    "Pelvis", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle",
    "Spine", "Thorax", "Neck", "Head",
    "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist",
)
N_JOINTS = len(JOINTS)
ROOT = 0
#: the right and left hip joints: with the pelvis they place a pose, and their line gives its facing
R_HIP, L_HIP = 1, 4

#: parent of each joint (-1 for the root); bones are (parent, child) pairs.
PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
BONES: tuple[tuple[int, int], ...] = tuple((p, c) for c, p in enumerate(PARENTS) if p >= 0)

#: body parts used by hierarchical masking (docs/ARCHITECTURE.md).
PARTS: dict[str, tuple[int, ...]] = {
    "torso": (0, 7, 8, 9, 10),
    "left_leg": (4, 5, 6),
    "right_leg": (1, 2, 3),
    "left_arm": (11, 12, 13),
    "right_arm": (14, 15, 16),
}

#: joint index of each joint's left/right mirror (itself for the centre line).
MIRROR: tuple[int, ...] = (0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13)

#: bones that have a left/right twin, as (right bone index, left bone index) into BONES.
SYMMETRIC_BONES: tuple[tuple[int, int], ...] = tuple(
    (i, BONES.index((MIRROR[p], MIRROR[c])))
    for i, (p, c) in enumerate(BONES)
    if MIRROR[c] != c and JOINTS[c].startswith("R")
)


def joint_indices(names) -> list[int]:
    """Sorted joint indices of body parts (torso, left_arm, ...) and joint names (case-insensitive);
    ValueError naming the first that is neither."""
    by_name = {j.lower(): i for i, j in enumerate(JOINTS)}
    out: list[int] = []
    for item in (str(v).strip() for v in names if str(v).strip()):
        key = item.lower().replace("-", "_")
        if key in PARTS:
            out += PARTS[key]
        elif key in by_name:
            out.append(by_name[key])
        else:
            raise ValueError(f"{item!r}: not a body part ({', '.join(PARTS)}) or a joint ({', '.join(JOINTS)})")
    return sorted(set(out))


def bone_lengths(poses: np.ndarray) -> np.ndarray:
    """Bone lengths (..., 16) of poses (..., 17, D); a torch tensor gives a tensor (differentiable)."""
    parents = np.array([p for p, _ in BONES])
    children = np.array([c for _, c in BONES])
    diff = poses[..., children, :] - poses[..., parents, :]
    return diff.norm(dim=-1) if hasattr(diff, "norm") else np.linalg.norm(diff, axis=-1)


def mirror_poses(poses: np.ndarray, axis: int = 0) -> np.ndarray:
    """Left/right mirror of poses (..., 17, D): swap sides and flip one lateral coordinate."""
    out = poses[..., list(MIRROR), :].copy()
    out[..., axis] = -out[..., axis]
    return out


def root_relative(poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split poses (..., 17, D) into root-relative poses and the root trajectory (..., D)."""
    root = poses[..., ROOT, :].copy()
    return poses - root[..., None, :], root

"""Batched rotation helpers for writing skeletons: best-fit rotations and Euler channels.

BVH stores joint rotations as Euler angles in a per-joint channel order; writers solve world
rotations from positions (swing for one child, Kabsch for several) and turn the local
rotations into angles that stay continuous with a reference (the file's original values, or
the previous frame) so animation curves do not flip by 360 degrees.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.spatial.transform import Rotation


def axis_rotation(axis: int | str, angles: np.ndarray, degrees: bool = False) -> np.ndarray:
    """Right-handed rotations (..., 3, 3) about axis 0/1/2 (or x/y/z) by angles (...), in radians
    unless degrees. The one elementary rotation of the package (BVH and ASF/AMC channels, tests)."""
    k = "xyz".index(axis.lower()) if isinstance(axis, str) else int(axis)
    a = np.deg2rad(angles) if degrees else np.asarray(angles, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    R = np.zeros(np.shape(a) + (3, 3))
    R[..., k, k] = 1.0
    i, j = (k + 1) % 3, (k + 2) % 3  # cyclic order keeps the right-hand rule for every axis
    R[..., i, i], R[..., i, j], R[..., j, i], R[..., j, j] = c, -s, s, c
    return R


def kabsch(a: np.ndarray, b: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Rotations R (F, 3, 3) minimising sum_k w_k |R a_k - b_k|^2 for vectors a, b of shape (F, K, 3)."""
    w = np.ones(a.shape[1]) if weights is None else weights
    H = np.einsum("k,fki,fkj->fij", w, a, b)
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(np.einsum("fji,fkj->fik", Vt, U)))  # det(V U^T)
    D = np.zeros_like(H)
    D[:, 0, 0] = D[:, 1, 1] = 1.0
    D[:, 2, 2] = np.where(d == 0, 1.0, d)
    return np.einsum("fji,fjk,flk->fil", Vt, D, U)  # V D U^T


def best_rotation(a: np.ndarray, b: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Kabsch for vectors (F, K, 3) that span a plane; the swing of the longest vector where they
    do not (one vector, collinear vectors, points at the pivot), since Kabsch is then free to spin."""
    w = np.ones(a.shape[1]) if weights is None else weights
    longest = np.argmax(np.linalg.norm(a, axis=-1) * w, axis=1)
    rows = np.arange(len(a))
    out = swing(a[rows, longest], b[rows, longest])
    if a.shape[1] > 1:
        H = np.einsum("k,fki,fkj->fij", w, a, b)
        sv = np.linalg.svd(H, compute_uv=False)
        planar = sv[:, 1] > 1e-9 * np.maximum(sv[:, 0], 1e-30)
        if planar.any():
            out[planar] = kabsch(a[planar], b[planar], w)
    return out


def swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotations (F, 3, 3) taking directions a (F, 3) to directions b (F, 3)."""
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1)
    cos = np.clip((a * b).sum(-1), -1.0, 1.0)
    # antiparallel: any axis perpendicular to a
    fallback = np.cross(a, np.where(np.abs(a[:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]]))
    axis = np.where((sin < 1e-9)[:, None] & (cos < 0)[:, None], fallback, axis)
    norm = np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = np.arctan2(sin, cos)
    rotvec = np.where(norm > 1e-12, axis / np.maximum(norm, 1e-12), 0.0) * angle[:, None]
    return Rotation.from_rotvec(rotvec).as_matrix()


def euler_near(R: np.ndarray, order: str, reference: np.ndarray | None = None) -> np.ndarray:
    """Intrinsic Euler angles (F, 3) in degrees for rotations R (F, 3, 3), channel order like "ZXY".

    R = R_order[0] @ R_order[1] @ R_order[2] (the BVH convention). Of the two solutions and their
    360-degree copies, picks the one nearest reference (F, 3); without a reference, the one
    nearest the previous frame, so curves are continuous.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # gimbal lock: scipy still returns a valid solution
        first = Rotation.from_matrix(R).as_euler(order.upper(), degrees=True)
    second = first + np.array([180.0, 0.0, 180.0])
    second[:, 1] = 180.0 - first[:, 1]
    if reference is not None:
        return _nearest(first, second, reference)
    return _nearest_in_turn(first, second)


def _nearest_in_turn(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """_nearest frame after frame, each frame's reference the previous frame's answer (the first frame's:
    zeros). The same arithmetic as _nearest on one row, in Python floats: per-frame numpy calls on
    three numbers cost a 72,000-frame take about 20 s."""
    out = []
    prev = (0.0, 0.0, 0.0)
    for a, b in zip(first.tolist(), second.tolist()):
        a = [x + 360.0 * round((r - x) / 360.0) for x, r in zip(a, prev)]
        b = [x + 360.0 * round((r - x) / 360.0) for x, r in zip(b, prev)]
        da = abs(a[0] - prev[0]) + abs(a[1] - prev[1]) + abs(a[2] - prev[2])
        db = abs(b[0] - prev[0]) + abs(b[1] - prev[1]) + abs(b[2] - prev[2])
        prev = tuple(b if db < da else a)
        out.append(prev)
    return np.array(out, dtype=first.dtype).reshape(first.shape)


def _nearest(first: np.ndarray, second: np.ndarray, ref: np.ndarray) -> np.ndarray:
    def wrap(angles: np.ndarray) -> np.ndarray:
        return angles + 360.0 * np.round((ref - angles) / 360.0)

    a, b = wrap(first), wrap(second)
    pick_b = (np.abs(b - ref).sum(-1) < np.abs(a - ref).sum(-1))[:, None]
    return np.where(pick_b, b, a)

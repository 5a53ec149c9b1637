"""Nearest poses by P-MPJPE (after the best rotation, scale and shift): candidates from Euclidean
neighbours in a body-aligned frame, then exact P-MPJPE among them. Used by `generate --dedupe`
(tasks) and by the set statistics (evaluation).
"""
from __future__ import annotations

import numpy as np
import torch

from gfpose_cli.core.skeleton import L_HIP, R_HIP, ROOT
from gfpose_cli.kinematics.geometry import procrustes_align


def canonical(poses: np.ndarray) -> np.ndarray:
    """Poses in their own body frame (x along the hips, z up the trunk), scaled to unit RMS size:
    (N, 51). Like P-MPJPE it ignores global rotation and size, so Euclidean neighbours here are
    good candidates for P-MPJPE neighbours, also for lying or upside-down poses."""
    p = poses - poses[:, ROOT : ROOT + 1]
    x = p[:, L_HIP] - p[:, R_HIP]
    x /= np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)
    z = p[:, 8] - (p[:, 8] * x).sum(-1, keepdims=True) * x
    z /= np.maximum(np.linalg.norm(z, axis=-1, keepdims=True), 1e-9)
    frame = np.stack([x, np.cross(z, x), z], 1)  # rows: body axes in world coordinates
    p = np.einsum("nij,nkj->nki", frame, p)
    size = np.sqrt((p**2).sum((1, 2)) / p.shape[1])
    return (p / np.maximum(size, 1e-9)[:, None, None]).reshape(len(p), -1).astype(np.float32)


def p_mpjpe_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """P-MPJPE (metres) of each pose a[i] aligned to b[i]: (N,)."""
    aligned = procrustes_align(a.astype(np.float64), b.astype(np.float64))
    return np.linalg.norm(aligned - b, axis=-1).mean(-1)


def nearest(queries: np.ndarray, refs: np.ndarray, k: int = 1, candidates: int = 16, exclude_self: bool = False,
            chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest refs of each query by P-MPJPE: distances (Q, k) ascending (metres) and indices.

    Candidates come from Euclidean neighbours in canonical() space; exclude_self drops a query's own
    index (queries and refs the same set).
    """
    cq, cr = torch.from_numpy(canonical(queries)), torch.from_numpy(canonical(refs))
    n_cand = min(len(refs) - int(exclude_self), max(candidates, k))
    dists, idxs = [], []
    for start in range(0, len(queries), chunk):
        d = torch.cdist(cq[start : start + chunk], cr)
        if exclude_self:
            rows = torch.arange(d.shape[0])
            d[rows, rows + start] = float("inf")
        cand = torch.topk(d, n_cand, largest=False).indices.numpy()  # (q, c)
        q = np.repeat(queries[start : start + chunk], n_cand, axis=0)
        exact = p_mpjpe_pairs(q, refs[cand.reshape(-1)]).reshape(cand.shape)
        order = np.argsort(exact, axis=1)[:, :k]
        dists.append(np.take_along_axis(exact, order, 1))
        idxs.append(np.take_along_axis(cand, order, 1))
    return np.concatenate(dists), np.concatenate(idxs)


#: below this many pose pairs novel() compares every pair exactly instead of searching candidates
EXACT_PAIRS = 4_000_000


def novel(new: np.ndarray, kept: np.ndarray, threshold_m: float, candidates: int = 16) -> np.ndarray:
    """Which poses of new (bool (N,)) to keep: those farther than threshold_m P-MPJPE from every
    kept pose and from every earlier kept pose of new (exact for small sets, else checked among
    the nearest candidates). P-MPJPE with scale is not symmetric: the later pose is aligned to the
    earlier one."""
    keep = np.ones(len(new), bool)
    if len(kept):
        c = len(kept) if len(kept) * len(new) <= EXACT_PAIRS else candidates
        keep &= nearest(new, kept, 1, c)[0][:, 0] > threshold_m
    if len(new) > 1:
        k = min(candidates, len(new) - 1)
        while True:  # a dense set can hold more than k poses within the threshold: widen until it does not
            c = len(new) - 1 if len(new) ** 2 <= EXACT_PAIRS else max(candidates, k)
            d, idx = nearest(new, new, k, c, exclude_self=True)
            if k >= len(new) - 1 or not (d[:, -1] <= threshold_m).any():
                break
            k = min(2 * k, len(new) - 1)
        close = (d <= threshold_m) & (idx < np.arange(len(new))[:, None])
        for i in np.flatnonzero(close.any(1)):  # in order, so a pose is judged against kept ones only
            if keep[i] and keep[idx[i][close[i]]].any():
                keep[i] = False
    return keep

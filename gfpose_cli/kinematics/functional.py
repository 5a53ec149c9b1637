"""Segments and joint centres from the markers' own motion (functional methods of biomechanics).

Markers that keep their mutual distances over a take ride one rigid segment (`rigid_clusters`); a
segment with three or more markers has a pose in every frame where three are seen (weighted Kabsch,
`kabsch`); the joint between two segments is the point fixed in both (`score_centre`: the
SCoRE of Ehrig et al. 2006, a linear least-squares fit). A hinge (the knee) leaves the
centre free along its axis; a weak pull toward the midpoint of the two segments' markers picks the
point between them. All in the file's own axes and metres; no names, no model.
"""
from __future__ import annotations

import numpy as np

from gfpose_cli.kinematics import rotations

#: two markers ride one segment when their distance varies less than this over the take (std, m)
RIGID_STD_M = 0.005
#: frames two markers must be seen together to be compared
MIN_FRAMES = 20


def distance_spread(xyz: np.ndarray, observed: np.ndarray, min_frames: int = MIN_FRAMES) -> np.ndarray:
    """(N, N): the std over frames of the distance between markers i and j (inf where they are seen
    together in fewer than min_frames frames)."""
    F, N, _ = xyz.shape
    out = np.full((N, N), np.inf)
    np.fill_diagonal(out, 0.0)
    for i in range(N):
        both = observed[:, i:i + 1] & observed[:, i + 1:]
        d = np.linalg.norm(xyz[:, i:i + 1] - xyz[:, i + 1:], axis=-1)
        n = both.sum(0)
        mean = np.where(both, d, 0.0).sum(0) / np.maximum(n, 1)
        var = np.where(both, (d - mean) ** 2, 0.0).sum(0) / np.maximum(n - 1, 1)
        std = np.where(n >= min_frames, np.sqrt(var), np.inf)
        out[i, i + 1:] = std
        out[i + 1:, i] = std
    return out


def rigid_clusters(xyz: np.ndarray, observed: np.ndarray, tol: float = RIGID_STD_M,
                   min_frames: int = MIN_FRAMES) -> list[list[int]]:
    """Groups of markers that move as one rigid body (complete-linkage clustering of the distance
    spreads, cut at tol), largest first; every marker seen in min_frames frames is in one group."""
    seen = np.flatnonzero(observed.sum(0) >= min_frames)
    if len(seen) == 0:
        return []
    groups = clusters_from_spread(distance_spread(xyz[:, seen], observed[:, seen], min_frames), tol)
    return [[int(seen[i]) for i in g] for g in groups]


def clusters_from_spread(spread: np.ndarray, tol: float = RIGID_STD_M) -> list[list[int]]:
    """rigid_clusters from a distance_spread matrix already at hand (indices into it)."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    if len(spread) == 1:
        return [[0]]
    spread = np.where(np.isfinite(spread), spread, 1.0)  # never seen together: not one body
    labels = fcluster(linkage(squareform(spread, checks=False), method="complete"), t=tol, criterion="distance")
    groups = [[int(i) for i in np.flatnonzero(labels == c)] for c in np.unique(labels)]
    return sorted(groups, key=lambda g: (-len(g), g[0]))


def kabsch(ref: np.ndarray, obs: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame, the rotation R (F, 3, 3) and translation t (F, 3) with obs ~ R ref + t, weighting
    point k by w[f, k] (0: not seen). valid (F,): at least three points seen, not in a line."""
    w = w.astype(np.float64)
    safe = np.maximum(w.sum(1), 1e-12)[:, None]
    mu_r = (w @ ref) / safe  # (F, 3)
    mu_o = np.einsum("fk,fkd->fd", w, np.nan_to_num(obs)) / safe
    # weights per frame and point: rotations.kabsch on the centred points scaled by sqrt(w)
    root = np.sqrt(w)[..., None]
    a = root * (ref[None] - mu_r[:, None])
    b = root * (np.nan_to_num(obs) - mu_o[:, None])
    R = rotations.kabsch(a, b)
    t = mu_o - np.einsum("fij,fj->fi", R, mu_r)
    S = np.linalg.svd(np.einsum("fki,fkj->fij", a, b), compute_uv=False)
    valid = ((w > 0).sum(1) >= 3) & (S[:, 1] > 1e-6 * np.maximum(S[:, 0], 1e-12))  # three points in a line fix no rotation
    return R, t, valid


def reference_layout(pts: np.ndarray, seen: np.ndarray, iterations: int = 3) -> np.ndarray:
    """(K, 3): the markers' positions in the segment's own frame (a Procrustes mean over frames),
    centred on their centroid."""
    full = seen.all(1)
    f0 = int(np.flatnonzero(full)[0]) if full.any() else int(np.argmax(seen.sum(1)))
    ref = np.where(seen[f0][:, None], pts[f0], np.nanmean(np.where(seen[..., None], pts, np.nan), axis=0))
    ref = ref - ref.mean(0)
    for _ in range(iterations):
        R, t, valid = kabsch(ref, pts, seen)
        local = np.einsum("fji,fkj->fki", R, np.nan_to_num(pts) - t[:, None])  # R^T (p - t)
        ok = seen & valid[:, None]
        ref = (np.where(ok[..., None], local, 0.0).sum(0) / np.maximum(ok.sum(0), 1)[:, None])
        ref = ref - ref.mean(0)
    return ref


def _ridge_solve(A: np.ndarray, b: np.ndarray, prior: np.ndarray, ridge: float) -> np.ndarray:
    """Least squares with a weak ridge (relative to the normal matrix's mean diagonal) toward prior."""
    AtA = A.T @ A
    lam = ridge * np.trace(AtA) / len(AtA)
    return np.linalg.solve(AtA + lam * np.eye(len(AtA)), A.T @ b + lam * prior)


def score_centre(Ra: np.ndarray, ta: np.ndarray, Rb: np.ndarray, tb: np.ndarray, ok: np.ndarray,
                 prior_a: np.ndarray, prior_b: np.ndarray, ridge: float = 1e-3) -> tuple[np.ndarray, np.ndarray, float]:
    """SCoRE: the point fixed in segment a (c_a, its frame) and in segment b (c_b) over the frames
    ok; a weak ridge toward the priors settles a hinge's free axis. Returns c_a, c_b and the RMS (m)
    of the two estimates' disagreement, the joint's misfit."""
    idx = np.flatnonzero(ok)
    A = np.concatenate([Ra[idx], -Rb[idx]], axis=2).reshape(-1, 6)
    b = (tb[idx] - ta[idx]).reshape(-1)
    x = _ridge_solve(A, b, np.concatenate([prior_a, prior_b]), ridge)
    ca, cb = x[:3], x[3:]
    gap = (np.einsum("fij,j->fi", Ra[idx], ca) + ta[idx]) - (np.einsum("fij,j->fi", Rb[idx], cb) + tb[idx])
    return ca, cb, float(np.sqrt((gap ** 2).sum(-1).mean()))

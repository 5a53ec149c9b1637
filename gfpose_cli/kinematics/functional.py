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
from scipy.ndimage import uniform_filter1d

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
        std = spread_to(xyz, observed, i, np.arange(i + 1, N), min_frames)
        out[i, i + 1:] = std
        out[i + 1:, i] = std
    return out


def spread_to(xyz: np.ndarray, observed: np.ndarray, i: int, others: np.ndarray,
              min_frames: int = MIN_FRAMES) -> np.ndarray:
    """(len(others),): the std over frames of marker i's distance to each of others (inf where the two
    are seen together in fewer than min_frames frames): one row of distance_spread."""
    both = observed[:, i:i + 1] & observed[:, others]
    d = np.linalg.norm(xyz[:, i:i + 1] - xyz[:, others], axis=-1)
    n = both.sum(0)
    mean = np.where(both, d, 0.0).sum(0) / np.maximum(n, 1)
    var = np.where(both, (d - mean) ** 2, 0.0).sum(0) / np.maximum(n - 1, 1)
    return np.where(n >= min_frames, np.sqrt(var), np.inf)


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


#: pivot_centre measures the motion's evidence on paths averaged over this many frames (noise on
#: two close markers otherwise reads as turning)
EVIDENCE_FRAMES = 9
#: pivot_centre's pull toward its prior, relative to the motion's best-told direction
PIVOT_RIDGE = 3e-4


def pivot_centre(R: np.ndarray, t: np.ndarray, ok: np.ndarray, points: np.ndarray, seen: np.ndarray,
                 prior: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The point c fixed in a segment (pose R (F, 3, 3), t (F, 3), usable in frames ok) that each of
    points (F, K, 3, world; seen (F, K)) keeps a constant distance from: the centre of the spheres the
    points move on in the segment's frame (a linear least-squares sphere fit, each point's mean
    subtracted so its radius drops out). For a joint whose distal segment has too few markers for a
    pose of its own (two markers and the joint above). A weak ridge toward prior (segment frame)
    settles what the motion leaves free (a hinge's axis); points whose distance strays (a hand
    marker past a moving wrist) count less than the most constant one. Returns c, the RMS (m) of the
    points' distances from c about their own means (the misfit), and the range (degrees, 5th to 95th
    percentile) the points turn through (the motion's evidence)."""
    local = np.einsum("fji,fkj->fki", R, np.nan_to_num(points) - t[:, None])  # R^T (p - t)
    use = seen & ok[:, None]
    paths = [local[use[:, k], k] for k in range(points.shape[1]) if use[:, k].sum() >= MIN_FRAMES]
    if not paths:
        return prior, float("inf"), 0.0
    weight = np.ones(len(paths))
    for _ in range(2):  # refit with each point weighted by how constant its distance came out
        A = np.concatenate([np.sqrt(w) * 2.0 * (p - p.mean(0)) for p, w in zip(paths, weight)])
        b = np.concatenate([np.sqrt(w) * ((p ** 2).sum(-1) - (p ** 2).sum(-1).mean()) for p, w in zip(paths, weight)])
        AtA = A.T @ A
        lam = PIVOT_RIDGE * np.linalg.eigvalsh(AtA)[-1]  # a weak direction follows the prior
        c = np.linalg.solve(AtA + lam * np.eye(3), A.T @ b + lam * prior)
        rms = np.array([np.linalg.norm(p - c, axis=-1).std() for p in paths])
        weight = (max(rms.min(), 0.002) / np.maximum(rms, 0.002)) ** 2
    gaps = [np.sqrt(w) * (r - r.mean()) for p, w in zip(paths, weight) for r in [np.linalg.norm(p - c, axis=-1)]]
    misfit = float(np.sqrt(np.mean(np.concatenate(gaps) ** 2)))
    # the evidence, whatever the centre: how far the line between two of the points turns in the
    # segment's frame (one point alone: its direction from the prior)
    K = points.shape[1]
    angles = []
    for a, b in [(a, b) for a in range(K) for b in range(a + 1, K)] or [(0, -1)]:
        both = use[:, a] & (use[:, b] if b >= 0 else True)
        if both.sum() >= MIN_FRAMES:
            v = local[both, a] - (local[both, b] if b >= 0 else prior)
            angles.append(_spread_deg(uniform_filter1d(v, EVIDENCE_FRAMES, axis=0)))  # joints turn slowly; noise does not
    return c, misfit, max(angles, default=0.0)


def _spread_deg(v: np.ndarray) -> float:
    """The range (degrees, 5th to 95th percentile) of the angles of vectors v (F, 3) from their mean direction."""
    u = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)
    mean = u.mean(0) / max(np.linalg.norm(u.mean(0)), 1e-9)
    ang = np.degrees(np.arccos(np.clip(u @ mean, -1, 1)))
    return float(np.percentile(ang, 95) - np.percentile(ang, 5))

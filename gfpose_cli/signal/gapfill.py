"""Gap filling along a take: the completion model's answer fused with smooth motion.

Alone, each tool fails somewhere. A cubic spline is right for a tenth of a second and wild after
one; the model knows what a body does but not what this performer did, and for a free joint
(a wrist next to a seen elbow) its answer can be off by a forearm. So a gap is filled by the
maximum a posteriori path under two Gaussian beliefs:

* motion is smooth: the joint's offset from its nearest ancestor seen throughout the gap (a wrist
  from its elbow, a leg from the pelvis) has white-noise acceleration of spectral density
  ACCEL_NOISE (the prior whose optimum is a cubic spline; set in continuous time, so a take means
  the same at 30 and 120 Hz), and the observed samples around the gap are fixed;
* each gap frame's position is near the mean of HYPOTHESES model completions, within the error
  the model actually makes on this take: the same joints are hidden on observed frames next to
  the gap (CALIBRATION_S either side) and the completions compared with what was seen. Their mean
  error (the model's bias here) is carried into the gap, fading like a Brownian bridge over
  BIAS_TAU_S; their scatter about it, plus whatever bias has faded, sets the weight.

Short gaps are then spline-like, long ones follow the model where it is reliable and stay smooth
where it is not. The constants were chosen on training-subject CMU takes (01_01, 05_02, 07_01,
08_03), not the held-out takes of bench/takes.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import spsolve

from gfpose_cli.util.runs import runs

from gfpose_cli.kinematics.bones import hold_lengths, performer_lengths
from gfpose_cli.kinematics.functional import kabsch
from gfpose_cli.core.skeleton import JOINTS, L_HIP, PARENTS, R_HIP, ROOT
from gfpose_cli.signal.temporal import difference_matrix

HYPOTHESES = 8  # completions averaged per gap frame, each sharing its starting noise across frames
CALIBRATION_S = 0.5  # observed context each side of a gap on which the model's error is measured
CALIBRATION_HZ = 30.0  # context frames used per second (neighbouring frames at 120 Hz say the same)
ACCEL_NOISE = 0.1  # m^2/s^3: spectral density of the smoothness prior's white-noise acceleration
FLOOR_M = 0.01  # the model is never trusted to better than this (per coordinate)
BIAS_TAU_S = 2.0  # time scale over which the model's bias at a gap end stays informative
RATE_REF_HZ = 30.0  # model errors of frames closer than 1/30 s are not independent evidence

#: the pelvis segment (rigid: the hip joints sit in the pelvis) and the joints that carry it through frames
#: where it is unseen: the spine and at least two of the others. Chosen on the held-out CMU takes of
#: bench/takes.py and checked on the unseen bodies' takes (bench/results/takes.md "Pelvis gaps"): the
#: neck, knees or elbows added did worse, and without the spine no carrier set beat a cubic spline on
#: short gaps of the slower unseen takes, so such frames are left as they were.
PELVIS_SEGMENT = (ROOT, R_HIP, L_HIP)
PELVIS_CARRIERS = tuple(JOINTS.index(n) for n in ("Spine", "Thorax", "LShoulder", "RShoulder"))

#: (frames (R,), masks (R, 17)) -> HYPOTHESES completions per row, absolute positions (R, K, 17, 3)
SampleFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Row:
    frame: int
    mask: np.ndarray  # joints given to the model


def _context(mask: np.ndarray, usable: np.ndarray, j: int, a: int, b: int, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Observed frames of joint j within CALIBRATION_S before a and after b (exclusive), thinned."""
    reach = max(int(round(CALIBRATION_S * fps)), 1)
    stride = max(int(round(fps / CALIBRATION_HZ)), 1)
    ok = mask[:, j] & usable
    left = np.arange(max(a - reach, 0), a)[::-1][::stride][::-1]
    right = np.arange(b, min(b + reach, len(mask)))[::stride]
    return left[ok[left]], right[ok[right]]


def plan_rows(mask: np.ndarray, usable: np.ndarray, fps: float) -> list[Row]:
    """Model rows a take needs: every usable frame with a missing joint, and calibration rows that
    hide, on observed frames next to a gap, the joints missing at that end of the gap."""
    rows: dict[tuple[int, bytes], Row] = {}
    for f in np.flatnonzero(usable & ~mask.all(1)):
        rows[(f, mask[f].tobytes())] = Row(int(f), mask[f])
    for j in range(mask.shape[1]):
        for a, b in runs(~mask[:, j]):
            left, right = _context(mask, usable, j, a, b, fps)
            for frames, edge in ((left, a), (right, b - 1)):
                for c in frames:
                    m = mask[c] & mask[edge]
                    if m.sum() >= 2 and (m[0] or (m[1] and m[4])):
                        rows.setdefault((int(c), m.tobytes()), Row(int(c), m))
    return list(rows.values())


def fill(positions: np.ndarray, mask: np.ndarray, usable: np.ndarray, fps: float, sample: SampleFn,
         hold_bones: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Fill the missing samples of a take (F, 17, 3) in usable frames; returns (positions, filled mask).

    Observed samples are kept exactly. Samples in frames the model cannot place (no pelvis or
    hips) are left missing, as before.
    """
    n_frames, n_joints = mask.shape
    rows = plan_rows(mask, usable, fps)
    if not rows:
        return positions.copy(), mask.copy()
    hyps = sample(np.array([r.frame for r in rows]), np.stack([r.mask for r in rows]))
    mean = hyps.mean(1)
    spread = hyps.var(1).sum(-1) / 3.0  # (R, J) per-coordinate variance across hypotheses
    at: dict[tuple[int, bytes], int] = {(r.frame, r.mask.tobytes()): i for i, r in enumerate(rows)}
    out = np.where(mask[..., None], positions, 0.0).astype(np.float64)
    filled = mask.copy()
    prior_var = ACCEL_NOISE / fps ** 3  # variance of a second difference of the prior's path
    for j in range(n_joints):
        for a, b in runs(~mask[:, j]):
            if not usable[a:b].any():
                continue
            frames = np.arange(a, b)
            row = np.array([at.get((f, mask[f].tobytes()), -1) if usable[f] else -1 for f in frames])
            have = row >= 0
            target = np.zeros((len(frames), 3))
            target[have] = mean[row[have], j]
            weight = np.zeros(len(frames))
            if have.any():
                residual = {}
                for side, ctx, edge in zip(("left", "right"), _context(mask, usable, j, a, b, fps), (a, b - 1)):
                    keys = [(c, (mask[c] & mask[edge]).tobytes()) for c in ctx]
                    idx = [at[k] for k in keys if k in at]
                    if idx:
                        residual[side] = positions[[rows[i].frame for i in idx], j] - mean[idx, j]
                if residual:
                    bias, faded = _bias(residual, frames - a + 1, b - frames, b - a + 1, fps)
                    target[have] += bias[have]
                    # the model's error here: its scatter about its bias at the ends, plus what is
                    # left of that bias where the correction has faded
                    scatter = np.mean([((r - r.mean(0)) ** 2).sum(-1).mean() for r in residual.values()]) / 3.0
                    size = np.mean([(r.mean(0) ** 2).sum() for r in residual.values()]) / 3.0
                    if sum(len(r) for r in residual.values()) < 3:  # too few to measure a scatter
                        scatter += spread[row[have], j].mean()
                    err2 = scatter + faded ** 2 * size
                else:  # joint never seen near this gap: trust the model as far as its hypotheses agree
                    err2 = np.full(len(frames), spread[row[have], j].mean())
                weight = np.where(have, 1.0 / ((FLOOR_M ** 2 + err2) * fps / RATE_REF_HZ), 0.0)
            lo, hi = max(a - 2, 0), min(b + 2, n_frames)  # a second difference reaches two samples out
            if lo == a and hi == b and not (weight > 0).any():
                continue  # nothing observed and nothing modelled: leave it missing
            out[a:b, j] = _solve_segment(positions[lo:hi], mask[lo:hi], j, a - lo, b - lo, target, weight, prior_var)
            filled[a:b, j] = usable[a:b]
    out = np.where(filled[..., None], out, np.nan)
    if hold_bones:
        out = hold_lengths(out, performer_lengths(positions, mask), filled & ~mask)
    return out, filled


def _carried(positions: np.ndarray, mask: np.ndarray, e: int, frames: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Joint j of frame e moved to each of frames with the rigid motion of the carriers seen in both
    (the spine and at least two more): (len(frames), 3), and where that could be done."""
    carriers = list(PELVIS_CARRIERS)
    w = mask[frames][:, carriers] & mask[e, carriers]
    ref = positions[e, carriers].astype(np.float64)
    rot, shift, valid = kabsch(np.nan_to_num(ref), positions[frames][:, carriers].astype(np.float64), w)
    ok = valid & w[:, 0]
    return np.einsum("fij,j->fi", rot, positions[e, j].astype(np.float64)) + shift, ok


def _own_smoothness(positions: np.ndarray, mask: np.ndarray, j: int, a: int, b: int, fps: float) -> float:
    """The variance of joint j's second difference on the seen frames next to frames [a, b) (up to a second
    each side): the take's own smoothness, where fill() assumes ACCEL_NOISE. A performer lying still moves
    far more smoothly than one running, and a spline is then the better guess for longer."""
    span = int(round(fps))
    steps = []
    for first, step in ((a - 1, -1), (b, 1)):  # the seen frames next to the gap, outward
        run = []
        while 0 <= first + step * len(run) < len(mask) and len(run) < span and mask[first + step * len(run), j]:
            run.append(first + step * len(run))
        if len(run) >= 3:
            steps.append(np.diff(positions[run, j].astype(np.float64), 2, axis=0))
    if not steps:
        return ACCEL_NOISE / fps ** 3
    return max(float(np.mean(np.concatenate(steps) ** 2)), 1e-12)


def carry_pelvis(positions: np.ndarray, mask: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """The pelvis and hips of frames that show neither the pelvis nor both hips (the model cannot place
    such a frame), carried there by the trunk and fused with smooth motion.

    From each seen end of a run of such frames, the pelvis segment is moved with the rigid motion that
    takes that end's carriers (at least three seen in both frames) to each frame's. How far such a carry
    drifts is measured on this take: from the same end to the frames beyond it, where the pelvis is seen
    (as far as the run is long). The path is then the most likely one under the smoothness prior of
    fill() (at the smoothness the pelvis shows next to the gap) and these estimates, weighted by that
    drift at their distance, so a short gap stays spline-like and a long one follows the trunk. Returns
    the positions and the mask with the carried samples True; frames whose spine and two more of the
    carriers are not seen stay as they are."""
    out, carried = positions.astype(np.float64).copy(), np.zeros_like(mask)
    placeable = mask[:, ROOT] | (mask[:, R_HIP] & mask[:, L_HIP])
    n_frames = len(mask)
    for a, b in runs(~placeable):
        for j in PELVIS_SEGMENT:
            target, weight = np.zeros((b - a, 3)), np.zeros(b - a)
            for e, away in ((a - 1, -1), (b, 1)):
                if not (0 <= e < n_frames and mask[e, j]):
                    continue
                beyond = np.array([c for c in range(e + away, e + away * (b - a + 1), away)
                                   if 0 <= c < n_frames and mask[c, j]][:max(3, int(CALIBRATION_S * fps))], dtype=int)
                moved, ok = _carried(positions, mask, e, beyond, j)
                d = np.abs(beyond - e)[ok]
                rate2 = (float(np.mean(((moved[ok] - positions[beyond[ok], j]) ** 2).sum(-1) / 3.0 / d ** 2))
                         if ok.any() else (0.1 / fps) ** 2)  # unmeasured: 0.1 m per second away
                reach = int(d.max()) if ok.any() else int(CALIBRATION_S * fps)
                frames = np.arange(a, b)
                moved, ok = _carried(positions, mask, e, frames, j)
                ok &= ~mask[a:b, j]
                w = np.where(ok, 1.0 / (FLOOR_M ** 2 + rate2 * np.minimum(np.abs(frames - e), reach) ** 2), 0.0)
                target += w[:, None] * np.nan_to_num(moved)
                weight += w
            have = weight > 0
            if not have.any():
                continue
            target[have] /= weight[have, None]
            lo, hi = max(a - 2, 0), min(b + 2, n_frames)
            window, seen = positions[lo:hi].astype(np.float64), mask[lo:hi]
            edges_seen = seen[: a - lo, j].all() and seen[b - lo:, j].all()
            path = (_solve_segment(window, seen, j, a - lo, b - lo, target, weight / (fps / RATE_REF_HZ),
                                   _own_smoothness(positions, mask, j, a, b, fps)) if edges_seen else target)
            keep = have & ~mask[a:b, j]
            out[a:b][keep, j] = path[keep]
            carried[a:b][keep, j] = True
    return out, mask | carried


def reference_joint(seen: np.ndarray, j: int) -> int | None:
    """The nearest ancestor of joint j seen on every frame of seen (F, 17), or None."""
    r = PARENTS[j]
    while r >= 0 and not seen[:, r].all():
        r = PARENTS[r]
    return r if r >= 0 else None


def _solve_segment(window: np.ndarray, seen: np.ndarray, j: int, a: int, b: int, target: np.ndarray,
                   weight: np.ndarray, prior_var: float) -> np.ndarray:
    """The most likely path of joint j over frames [a, b) of a short window (its observed samples
    around the gap fixed), as an offset from its nearest ancestor seen throughout: a wrist moves
    far more smoothly relative to its elbow than in the room."""
    ref = reference_joint(seen, j)
    values = window[:, j]
    offset = window[:, ref] if ref is not None else np.zeros_like(values)
    x = values - offset
    t = target - offset[a:b]
    n = len(values)
    d = difference_matrix(n, 2)
    unknown = np.arange(a, b)
    known = np.r_[np.arange(0, a), np.arange(b, n)]
    du, dk = d[:, unknown], d[:, known]
    # a whisker of weight towards the nearest observed sample (or the target) keeps the solve
    # defined where neither evidence nor neighbours pin a sample
    anchor = t.copy()
    if known.size:
        for k in range(3):
            anchor[weight == 0, k] = np.interp(unknown[weight == 0], known, x[known, k])
    A = sparse.diags(weight + 1e-9) + (du.T @ du) / prior_var
    rhs = weight[:, None] * t + 1e-9 * anchor - (du.T @ (dk @ x[known])) / prior_var if known.size else \
        weight[:, None] * t + 1e-9 * anchor
    return spsolve(A.tocsc(), rhs).reshape(b - a, 3) + offset[a:b]


def _bias(residual: dict[str, np.ndarray], from_left: np.ndarray, from_right: np.ndarray, span: int,
          fps: float) -> tuple[np.ndarray, np.ndarray]:
    """The model's mean error at the gap's ends carried into it, (frames, 3), blended like a Brownian
    bridge (linear for short gaps, fading in the middle of long ones), and the share of it that has
    faded at each frame (frames,)."""
    tau = BIAS_TAU_S * fps
    left = residual["left"].mean(0) if "left" in residual else None
    right = residual["right"].mean(0) if "right" in residual else None
    if left is not None and right is not None:
        wl = np.sinh(from_right / tau) / np.sinh(span / tau)
        wr = np.sinh(from_left / tau) / np.sinh(span / tau)
        return wl[:, None] * left + wr[:, None] * right, 1.0 - wl - wr
    w = np.exp(-(from_left if left is not None else from_right) / tau)
    return w[:, None] * (left if left is not None else right), 1.0 - w

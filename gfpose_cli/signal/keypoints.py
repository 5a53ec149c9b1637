"""A 2D keypoint take as detectors give it, made fit to lift: swaps undone, gaps bridged, noise smoothed.

Detectors (OpenPose, COCO-style models) work one image at a time: a joint drops out for a few
frames, the person for a stretch, left and right trade places for a frame, and low-confidence
keypoints wander. Along a take these are easy to see: the same Whittaker smoother that cleans 3D
takes (temporal.smooth_take; strength by cross-validation, spikes dropped) fits each keypoint's
path with the detector's confidence as the weight of each sample, so a low-confidence detection
counts little, a missing one not at all, and gaps up to max_gap_s are bridged by the fit.
A left/right swap is a labelling error, not noise: a frame whose left and right arm (or leg)
match the fit much better exchanged is exchanged back before the final fit.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gfpose_cli.core.skeleton import JOINTS, MIRROR
from gfpose_cli.util.runs import runs
from gfpose_cli.signal.temporal import smooth_take

#: left/right groups a detector swaps together (checked, and undone, one group at a time)
SWAP_GROUPS: dict[str, tuple[int, ...]] = {
    "arms": tuple(JOINTS.index(j) for j in ("RShoulder", "RElbow", "RWrist")),
    "legs": tuple(JOINTS.index(j) for j in ("RHip", "RKnee", "RAnkle")),
}
#: a keypoint missing for up to this long is bridged in 2D (its path through the gap is the smoother's);
#: longer, the lifter fills it from the rest of the body, frame by frame: a fast wrist's 2D path
#: cannot be guessed over 1 s (bridged, a sprint's wrist overshot by hundreds of pixels)
JOINT_BRIDGE_S = 0.25
#: a frame's group is swapped back when exchanged it is at least this many times closer to the fit
SWAP_RATIO = 4.0
#: ... and the exchange moves it by more than this share of the body's 2D size (not noise)
SWAP_MIN_SHARE = 0.05


@dataclass
class Cleaned2D:
    positions: np.ndarray  # (F, 17, 2) pixels; NaN where nothing could be said
    mask: np.ndarray  # (F, 17) observed or bridged
    bridged: np.ndarray  # (F, 17) not detected (or below confidence) but filled along the take
    weights: np.ndarray  # (F, 17) the weight each detection had (confidence; 0 where missing)
    swaps: list[tuple[int, str]] = field(default_factory=list)  # (frame, group) swapped back
    noise_px: float = 0.0  # estimated detection noise (per coordinate)
    spikes: int = 0  # detections ignored as outliers


def body_size_px(positions: np.ndarray, mask: np.ndarray) -> float:
    """Median over frames of the RMS distance of a frame's keypoints from their mean (pixels)."""
    sizes = []
    for p, m in zip(positions, mask):
        if m.sum() >= 2:
            q = p[m]
            sizes.append(np.sqrt(((q - q.mean(0)) ** 2).sum(-1).mean()))
    return float(np.median(sizes)) if sizes else 0.0


#: a shot cut (or the detector taking another person): the person's keypoints jump in one frame by this
#: share of their 2D size (body_size_px) beyond the motion around, or their size changes by CUT_SCALE
CUT_SHARE = 1.0
CUT_SCALE = 1.5
#: two such frames within this many are a detector's pop that comes back (the smoother's spikes), no cut
CUT_POP_FRAMES = 5


def shot_cuts(positions: np.ndarray, mask: np.ndarray) -> list[int]:
    """Frames (F, 17, 2) where a new shot begins: the keypoints seen in the frame and the one before (4 or
    more) jump as one, their mean moving CUT_SHARE of the person's 2D size further than the mean of the
    steps before and after, or their spread changing by CUT_SCALE (a cut to another camera, a zoom). No one
    moves so between two frames; smoothing or lifting across such a frame draws the body across the image."""
    F = len(positions)
    size = body_size_px(positions, mask)
    if F < 3 or size <= 0:
        return []
    step, scale = np.full((F, 2), np.nan), np.ones(F)
    for t in range(1, F):
        both = mask[t] & mask[t - 1] & np.isfinite(positions[t]).all(-1) & np.isfinite(positions[t - 1]).all(-1)
        if both.sum() < 4:
            continue
        a, b = positions[t - 1, both], positions[t, both]
        step[t] = b.mean(0) - a.mean(0)
        spread_a, spread_b = np.sqrt(((a - a.mean(0)) ** 2).sum(-1).mean()), np.sqrt(((b - b.mean(0)) ** 2).sum(-1).mean())
        if spread_a > 0 and spread_b > 0:
            scale[t] = spread_b / spread_a
    around = np.full_like(step, np.nan)
    around[1:-1] = (np.nan_to_num(step[:-2]) + np.nan_to_num(step[2:])) / 2  # a missing neighbour: no motion
    score = np.nan_to_num(np.linalg.norm(step - np.where(np.isfinite(around), around, 0.0), axis=-1)) / size
    padded = np.pad(score, 1)
    echo = (score < 0.75 * padded[:-2]) | (score < 0.75 * padded[2:])  # half a jump shows in the steps around it
    zoomed = np.abs(np.log(scale)) >= np.log(CUT_SCALE)
    cuts = np.flatnonzero(((score >= CUT_SHARE) & ~echo) | zoomed).tolist()
    return [t for k, t in enumerate(cuts) if all(abs(t - u) > CUT_POP_FRAMES for u in cuts[:k] + cuts[k + 1:])]


def bridgeable(mask: np.ndarray, max_frames: int) -> np.ndarray:
    """(F, J) samples that are missing but lie in a gap of at most max_frames with detections on both sides."""
    out = np.zeros_like(mask)
    for j in range(mask.shape[1]):
        for a, b in runs(~mask[:, j]):
            if a > 0 and b < len(mask) and b - a <= max_frames:
                out[a:b, j] = True
    return out


def undo_swaps(positions: np.ndarray, mask: np.ndarray, weights: np.ndarray, fit: np.ndarray,
               size_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, str]]]:
    """Exchange left and right of a group (samples, mask and weights) in the frames where the fit (a
    take smoothed with spikes dropped) says the detector swapped them. Returns positions, mask,
    weights and the (frame, group) list."""
    pos, m, w = positions.copy(), mask.copy(), weights.copy()
    swaps: list[tuple[int, str]] = []
    for name, right in SWAP_GROUPS.items():
        left = tuple(MIRROR[j] for j in right)
        both = m[:, right] & m[:, left]  # (F, 3)
        usable = both.any(1)
        keep = (((pos[:, right] - fit[:, right]) ** 2).sum(-1) + ((pos[:, left] - fit[:, left]) ** 2).sum(-1))
        swap = (((pos[:, left] - fit[:, right]) ** 2).sum(-1) + ((pos[:, right] - fit[:, left]) ** 2).sum(-1))
        keep = np.where(both, keep, 0.0).sum(1)
        swap = np.where(both, swap, 0.0).sum(1)
        moved = np.sqrt(np.where(both, ((pos[:, right] - pos[:, left]) ** 2).sum(-1), 0.0).max(1))
        hit = usable & (swap * SWAP_RATIO < keep) & (moved > SWAP_MIN_SHARE * size_px)
        for f in np.flatnonzero(hit):
            r, lft = list(right), list(left)
            pos[f, r + lft], m[f, r + lft], w[f, r + lft] = pos[f, lft + r], m[f, lft + r], w[f, lft + r]
            swaps.append((int(f), name))
    swaps.sort()
    return pos, m, w, swaps


def clean_keypoints(positions: np.ndarray, mask: np.ndarray, *, confidence: np.ndarray | None = None,
                    fps: float = 30.0, max_gap_s: float = JOINT_BRIDGE_S, fix_swaps: bool = True) -> Cleaned2D:
    """Smooth a 2D take (F, 17, 2) along time, weighting each detection by its confidence, undo
    left/right swaps and bridge gaps of at most max_gap_s (longer ones stay missing)."""
    pos = np.where(mask[..., None], positions, np.nan).astype(np.float64)
    m = mask & np.isfinite(pos).all(-1)
    w = np.ones(m.shape) if confidence is None else np.nan_to_num(np.clip(confidence, 0.0, 1.0))
    w = np.where(m, np.maximum(w, 1e-3), 0.0)  # a detection kept by the reader counts, if only a little
    size = body_size_px(pos, m)
    min_spike = max(0.1 * size, 1.0)  # a spike is off by a tenth of the body at least
    first = smooth_take(pos, m, weights=w, min_spike=min_spike)
    swaps: list[tuple[int, str]] = []
    if fix_swaps and size > 0:
        pos, m, w, swaps = undo_swaps(pos, m, w, first.positions, size)
    smoothed = first if not swaps else smooth_take(pos, m, weights=w, min_spike=min_spike)
    bridged = bridgeable(m, max(1, int(round(max_gap_s * fps))))
    keep = (m | bridged) & np.isfinite(smoothed.positions).all(-1)
    out = np.where(keep[..., None], smoothed.positions, np.nan)
    return Cleaned2D(positions=out, mask=keep, bridged=bridged & keep, weights=w, swaps=swaps,
                     noise_px=float(smoothed.noise_m), spikes=int(smoothed.outliers))

"""A performer's bone lengths, and holding sampled joints to them.

The score model places each joint well but does not know this performer: sampled limbs come out a
few centimetres long or short, and left and right differ. When the take tells us the real lengths,
sampled joints are moved along their bone directions to those lengths (parents first), which keeps
the pose and fixes the skeleton.
"""
from __future__ import annotations

import numpy as np

from gfpose_cli.core.skeleton import BONES, MIRROR, bone_lengths


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


def lengths_through_noise(positions: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
    """A performer's bone lengths (16,) from noisy frames of them, and the noise (metres per
    coordinate) their spread implies. Noise lengthens bones on average (|b + e|^2 has the mean
    |b|^2 + 6 s^2 for joint noise s per coordinate), so plain medians overstate them (at 94 mm of
    noise by 60-75 mm on the test bodies). A rigid body's bone varies only by the noise along it
    (variance 2 s^2), so s is read off each bone's robust spread over frames (the median over bones),
    and the mean square is taken back to the bone's (each bone kept to at least half its median).
    On clean frames s is about 0 and the medians are returned. Bones seen in fewer than 3 frames
    keep their medians (performer_lengths)."""
    med = performer_lengths(positions, mask)
    both = np.stack([mask[:, p] & mask[:, c] for p, c in BONES], 1)
    lengths = np.where(both, bone_lengths(np.nan_to_num(positions)), np.nan)
    counts = both.sum(0)
    spread = [np.median(np.abs(col[np.isfinite(col)] - m)) / 0.6745 for col, m, n in zip(lengths.T, med, counts) if n >= 3]
    if not spread:
        return med, 0.0
    s2 = float(np.median(np.square(spread))) / 2.0
    out = med.copy()
    with np.errstate(all="ignore"):
        for i, col in enumerate(lengths.T):
            if counts[i] >= 3:
                sq = float(np.median(np.square(col[np.isfinite(col)]))) - 6.0 * s2
                out[i] = np.sqrt(max(sq, (0.5 * med[i]) ** 2))
    return out, float(np.sqrt(s2))


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


def fit_lengths(positions: np.ndarray, lengths: np.ndarray, observed: np.ndarray | None = None,
                iterations: int = 20, fixed: tuple[int, ...] = ()) -> np.ndarray:
    """Least-change fit of poses (F, 17, 3) to bone lengths (16,): each bone's error is shared by its
    two ends, sweeping the skeleton until lengths settle. Unlike hold_lengths it moves every joint a
    little rather than pushing one chain's errors down to the hands and feet, so it also removes
    the part of measurement noise that lies along the bones. With observed (F, 17), a bone is only
    fitted in frames where both its joints were observed. Joints in fixed do not move (their bones'
    children take the whole correction): the root of a root-relative pose, whose moving would shift
    every other joint relative to it."""
    x = positions.astype(np.float64).copy()
    for _ in range(iterations):
        for i, (p, c) in enumerate(BONES):
            if np.isnan(lengths[i]):
                continue
            d = x[:, c] - x[:, p]
            r = np.linalg.norm(d, axis=-1, keepdims=True)
            step = 0.5 * (r - lengths[i]) / np.maximum(r, 1e-9) * d
            if observed is not None:
                step *= (observed[:, p] & observed[:, c])[:, None]
            if p in fixed:
                x[:, c] -= 2 * step
            elif c in fixed:
                x[:, p] += 2 * step
            else:
                x[:, p] += step
                x[:, c] -= step
    return x


#: bones shorter than this on average are left out of the CV: some maps put two joints at one
#: place (CMU's Spine and Thorax), and a ratio to a zero length says nothing
MIN_BONE_M = 0.01

#: the overall size a performer's skeleton may differ from what the lifter drew before the file is
#: taken for another person's, or for other units (a 1.2 m child against a 1.8 m adult is 0.67)
PERFORMER_SCALE_RANGE = (0.5, 2.0)


#: the trunk's "bones" (pelvis-spine, spine-thorax, thorax-neck) span chains of vertebrae: their
#: length changes with posture (HDM05's pelvis-spine: 295 mm median in a take bending to the floor,
#: 360 lying down), so a performer's skeleton from one take does not give them for another
TRUNK_BONES = tuple(BONES.index(b) for b in ((0, 7), (7, 8), (8, 9)))


def size_ratio(poses: np.ndarray, lengths: np.ndarray, mask: np.ndarray | None = None) -> float:
    """The one factor that brings the drawn bones of poses (F, 17, 3), root-relative, nearest (least
    squares over the limbs, head and shoulders: TRUNK_BONES are left out) to the given lengths (16,;
    NaN: not known): the performer's size relative to the body the model drew. NaN where no bone is
    known on both sides."""
    drawn = performer_lengths(poses, np.isfinite(poses).all(-1) if mask is None else mask)
    ok = np.isfinite(drawn) & np.isfinite(lengths) & (drawn > MIN_BONE_M)
    ok[list(TRUNK_BONES)] = False
    if not ok.any():
        return float("nan")
    return float((drawn[ok] * lengths[ok]).sum() / (drawn[ok] ** 2).sum())


def fit_to_performer(poses: np.ndarray, lengths: np.ndarray, *, root: int = 0,
                     mask: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Poses (F, 17, 3) drawn for a body of the model's guessing, brought to a known performer's
    bone lengths (16,; NaN where unknown): scaled about the root by size_ratio (the one factor 2D
    cannot tell: how big the person is), then every known bone fitted to its length (fit_lengths,
    root fixed); the trunk's bones, whose length is posture (TRUNK_BONES), are held at the scaled
    take's own medians instead. Returns the poses and the factor."""
    k = size_ratio(poses, lengths, mask)
    if not np.isfinite(k):
        return poses.astype(np.float64), 1.0
    x = poses.astype(np.float64)
    x = x[:, root : root + 1] + k * (x - x[:, root : root + 1])
    target = lengths.astype(np.float64).copy()
    own = performer_lengths(x, np.isfinite(x).all(-1) if mask is None else mask)
    target[list(TRUNK_BONES)] = own[list(TRUNK_BONES)]
    return fit_lengths(x, target, fixed=(root,)), k


#: a performer's standing height (floor to the top of the head) over the 17-joint skeleton's ankle-to-head
#: chain (tibia, femur, pelvis-spine-thorax-neck-head): the median over the 15 training bodies whose takes
#: stand upright, each body's height read off its takes as a tape measure gives it (its Head joint, at eye
#: level, in the frames it stands upright, over 0.936: Drillis and Contini's proportions in Winter,
#: Biomechanics and Motor Control of Human Movement, fig. 4.1). Bodies spread 0.96-1.07 times it around
#: that median (where their Head joint sits, their posture): bench/stature.py, bench/results/stature.md.
STATURE_PER_CHAIN = 1.117
HEIGHT_CHAIN = tuple(BONES.index(b) for b in ((0, 7), (7, 8), (8, 9), (9, 10)))
LEG_BONES = tuple(BONES.index(b) for b in ((1, 2), (4, 5))), tuple(BONES.index(b) for b in ((2, 3), (5, 6)))


def standing_height(lengths: np.ndarray) -> float:
    """Standing height (metres, floor to the top of the head) of a body with these bone lengths (16,):
    the ankle-to-head chain (each leg bone the mean of its sides that are known) times STATURE_PER_CHAIN.
    NaN where a trunk bone, or both sides of a leg bone, are unknown."""
    lengths = np.asarray(lengths, np.float64)
    trunk = lengths[list(HEIGHT_CHAIN)]
    legs = [lengths[list(pair)] for pair in LEG_BONES]
    if not np.isfinite(trunk).all() or not all(np.isfinite(leg).any() for leg in legs):
        return float("nan")
    chain = trunk.sum() + sum(float(np.mean(leg[np.isfinite(leg)])) for leg in legs)
    return float(STATURE_PER_CHAIN * chain)


def scale_to_height(poses: np.ndarray, height: float, *, root: int = 0,
                    mask: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Poses (..., 17, 3) of one performer, drawn at a size of the model's guessing, scaled about the
    root so that the standing height of their median bone lengths (over the joints of mask, (..., 17),
    that are finite) is height (metres). Returns the poses and the factor (NaN, poses unchanged, where
    the poses do not give the ankle-to-head chain)."""
    x = np.asarray(poses, np.float64)
    flat = x.reshape(-1, x.shape[-2], 3)
    seen = np.isfinite(flat).all(-1)
    if mask is not None:
        seen &= np.asarray(mask, bool).reshape(seen.shape)
    k = height / standing_height(performer_lengths(flat, seen))
    if not np.isfinite(k):
        return x, float("nan")
    return x[..., root : root + 1, :] + k * (x - x[..., root : root + 1, :]), float(k)


def bone_length_cv(poses: np.ndarray) -> float:
    """Mean over bones of the coefficient of variation of bone length across frames (F, 17, 3)."""
    lengths = bone_lengths(poses)  # (F, 16)
    mean = lengths.mean(0)
    real = mean >= MIN_BONE_M
    return float((lengths.std(0)[real] / mean[real]).mean()) if real.any() else 0.0

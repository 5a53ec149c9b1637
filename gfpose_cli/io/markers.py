"""Markers ride on body segments: how edited 17-joint poses move or fill the markers of a C3D take.

A marker sits on one body segment. Each segment has a frame built from three joints (an origin,
a joint that fixes the first axis, a third that fixes the plane). A marker's offset in that frame
is estimated over the frames where both the marker and the segment's joints were seen; the
segment it belongs to is the one where that offset stays most constant (smallest fit error), so
no per-marker table is needed and any marker set works. A marker that rides no segment well (a
prop, a marker of another body) is left alone.

Write-back rules (docs/ARCHITECTURE.md, the data path): an observed marker sample moves with its segment's rigid change
(original frame -> new frame), so unchanged joints leave it bit-identical; a missing sample is
filled from the marker's mean offset in the new segment frame. A denoised take first smooths the
markers themselves (smoothed_markers), so each marker's own noise is not carried into the output.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gfpose_cli.core.skeleton import JOINTS

_J = {name: i for i, name in enumerate(JOINTS)}


def _seg(origin: str, axis: str, plane: str) -> tuple[int, int, int]:
    return _J[origin], _J[axis], _J[plane]


#: candidate segment frames: (origin, axis joint, plane joint). Both ends of each bone serve as
#: origin, so a marker near a joint follows that joint when bone lengths change; limbs get two
#: plane joints because a straight limb makes one of them collinear.
SEGMENTS: dict[str, tuple[int, int, int]] = {
    "pelvis": _seg("Pelvis", "LHip", "Spine"),
    "pelvis/hips": _seg("Pelvis", "LHip", "RHip"),
    "pelvis@rhip": _seg("RHip", "LHip", "Spine"),
    "pelvis@lhip": _seg("LHip", "RHip", "Spine"),
    "abdomen": _seg("Spine", "Thorax", "LHip"),
    "chest": _seg("Thorax", "Spine", "LShoulder"),
    "chest@lshoulder": _seg("LShoulder", "RShoulder", "Spine"),
    "chest@rshoulder": _seg("RShoulder", "LShoulder", "Spine"),
    "head": _seg("Head", "Neck", "LShoulder"),
    "head@neck": _seg("Neck", "Head", "LShoulder"),
}
for side, other in (("R", "L"), ("L", "R")):
    s = side.lower()
    SEGMENTS.update({
        f"{s}_thigh@hip": _seg(f"{side}Hip", f"{side}Knee", f"{other}Hip"),
        f"{s}_thigh@knee": _seg(f"{side}Knee", f"{side}Hip", f"{other}Hip"),
        f"{s}_shank@knee": _seg(f"{side}Knee", f"{side}Ankle", f"{other}Hip"),
        f"{s}_shank@ankle": _seg(f"{side}Ankle", f"{side}Knee", f"{other}Hip"),
        f"{s}_upperarm@shoulder": _seg(f"{side}Shoulder", f"{side}Elbow", "Pelvis"),
        f"{s}_upperarm@elbow": _seg(f"{side}Elbow", f"{side}Shoulder", "Pelvis"),
        f"{s}_upperarm@elbow/wrist": _seg(f"{side}Elbow", f"{side}Shoulder", f"{side}Wrist"),
        f"{s}_forearm@elbow": _seg(f"{side}Elbow", f"{side}Wrist", f"{side}Shoulder"),
        f"{s}_forearm@wrist": _seg(f"{side}Wrist", f"{side}Elbow", f"{side}Shoulder"),
        f"{s}_forearm@wrist/pelvis": _seg(f"{side}Wrist", f"{side}Elbow", "Pelvis"),
    })
SEGMENT_NAMES = tuple(SEGMENTS)

#: a marker whose best segment fit is worse than this (metres RMS) rides none and is left alone
MAX_FIT_ERROR_M = 0.05


def segment_frames(joints: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origins (F, S, 3), rotations (F, S, 3, 3) (columns = axes) and validity (F, S) of every segment."""
    idx = np.array(list(SEGMENTS.values()))  # (S, 3)
    o, a, b = (joints[:, idx[:, k]] for k in range(3))
    e1 = a - o
    n1 = np.linalg.norm(e1, axis=-1, keepdims=True)
    e1 = e1 / np.where(n1 > 1e-9, n1, 1.0)
    e2 = np.cross(e1, b - o)
    n2 = np.linalg.norm(e2, axis=-1, keepdims=True)
    e2 = e2 / np.where(n2 > 1e-9, n2, 1.0)
    e3 = np.cross(e1, e2)
    rot = np.stack([e1, e2, e3], axis=-1)
    ok = (n1[..., 0] > 1e-6) & (n2[..., 0] > 1e-3 * np.maximum(n1[..., 0], 1e-9) * np.linalg.norm(b - o, axis=-1))
    ok &= np.isfinite(rot).all((-1, -2)) & np.isfinite(o).all(-1)
    if mask is not None:
        ok &= mask[:, idx].all(-1)
    return o, rot, ok


@dataclass
class MarkerRig:
    """Which segment each marker rides (index into SEGMENT_NAMES, -1 for none) and its mean offset."""

    segment: np.ndarray  # (N,)
    offset: np.ndarray  # (N, 3) in the segment frame, metres
    fit_error: np.ndarray  # (N,) RMS metres of the rigid fit (inf where never seen with its segment)

    def segment_name(self, marker: int) -> str | None:
        s = int(self.segment[marker])
        return SEGMENT_NAMES[s] if s >= 0 else None


def fit_rig(joints: np.ndarray, joint_mask: np.ndarray, markers: np.ndarray, observed: np.ndarray,
            max_error: float = MAX_FIT_ERROR_M, *, candidates: np.ndarray | None = None) -> MarkerRig:
    """Assign every marker (F, N, 3) to the segment of joints (F, 17, 3) on which it is most rigid;
    only the markers candidates (N,) marks, where given (the others ride nothing)."""
    o, R, ok = segment_frames(joints, joint_mask)
    N = markers.shape[1]
    segment = np.full(N, -1)
    offset = np.zeros((N, 3))
    fit = np.full(N, np.inf)
    R = np.nan_to_num(R)  # once for all markers
    for n in range(N) if candidates is None else np.flatnonzero(candidates):
        use = ok & observed[:, n, None]  # (F, S)
        count = use.sum(0)
        if not count.any():
            continue
        rel = np.nan_to_num(markers[:, n, None, :] - o)  # (F, S, 3)
        local = np.where(use[..., None], (rel[..., None, :] @ R)[..., 0, :], 0.0)  # R^T rel
        mean = (local * use[..., None]).sum(0) / np.maximum(count, 1)[:, None]  # (S, 3)
        err2 = ((local - mean) ** 2).sum(-1)  # rotations keep lengths, so the local residual is the world one
        rms = np.sqrt((err2 * use).sum(0) / np.maximum(count, 1))
        rms[count < max(3, min(10, observed[:, n].sum() // 2))] = np.inf  # too few frames to trust
        best = int(np.argmin(rms))
        fit[n] = rms[best]
        if rms[best] <= max_error:
            segment[n], offset[n] = best, mean[best]
    return MarkerRig(segment=segment, offset=offset, fit_error=fit)


def ride(rig: MarkerRig, joints_before: np.ndarray, mask_before: np.ndarray, joints_after: np.ndarray,
         markers: np.ndarray, observed: np.ndarray, move_observed: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """New marker positions after the joints changed from joints_before to joints_after.

    Returns (positions (F, N, 3), moved (F, N), filled (F, N)): moved samples were observed and
    followed their segment; filled samples were missing and now sit at the marker's mean offset.
    Markers on no segment, and samples whose segment is undefined in the new pose, are unchanged.
    """
    o0, R0, ok0 = segment_frames(joints_before, mask_before)
    o1, R1, ok1 = segment_frames(joints_after)
    out = markers.copy()
    F, N, _ = markers.shape
    moved = np.zeros((F, N), bool)
    filled = np.zeros((F, N), bool)
    for n in np.flatnonzero(rig.segment >= 0):
        s = rig.segment[n]
        if move_observed:
            m = observed[:, n] & ok0[:, s] & ok1[:, s]
            if m.any():
                local = np.einsum("fji,fj->fi", R0[m, s], markers[m, n] - o0[m, s])
                new = o1[m, s] + np.einsum("fij,fj->fi", R1[m, s], local)
                changed = np.abs(new - markers[m, n]).max(-1) > 1e-9
                rows = np.flatnonzero(m)[changed]
                out[rows, n] = new[changed]
                moved[rows, n] = True
        g = ~observed[:, n] & ok1[:, s]
        if g.any():
            out[g, n] = o1[g, s] + R1[g, s] @ rig.offset[n]
            filled[g, n] = True
    return out, moved, filled


JointsOf = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def smoothed_markers(markers: np.ndarray, observed: np.ndarray,
                     joints_of: JointsOf) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Markers (F, N, 3) smoothed along time, and the joints and joint mask the file's map makes of them.

    Why: riding the raw markers on a denoised skeleton keeps each marker's own noise (its offset
    from its segment, frame by frame), and noise inflates a marker's rigid-fit error until it rides
    nothing (20 mm of marker noise left 13 of 41 markers of a Vicon take untouched). Smoothing the
    markers the way `denoise` smooths joints (temporal.smooth_take: strength per marker by GCV,
    marker swaps dropped as spikes) and rebuilding the joints from them gives a clean pair to ride
    from. Missing samples stay missing.
    """
    from gfpose_cli.signal.offbody import take_breaks
    from gfpose_cli.signal.temporal import smooth_take

    joints, mask = joints_of(markers, observed)  # nothing is smoothed across a jump of the whole body
    smooth = smooth_take(markers, observed, breaks=take_breaks(joints, mask)).positions
    smooth = np.where(observed[..., None], smooth, np.nan)
    joints, mask = joints_of(smooth, observed)
    return smooth, joints, mask

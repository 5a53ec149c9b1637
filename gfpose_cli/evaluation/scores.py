"""Scores for `gfpose evaluate`: prediction takes against ground-truth takes."""
from __future__ import annotations

import numpy as np

from gfpose_cli.evaluation import metrics
from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import JOINTS
from gfpose_cli.core.take import Take


def on_prediction_frames(pred: Take, gt: Take) -> tuple[Take, str | None]:
    """(gt, note): a truth at another frame rate over the same stretch of time (a 30 fps video's lift
    against 120 Hz mocap) taken at the prediction's frames, each between its two nearest frames (a joint
    missing in either stays missing), and a sentence saying so; the truth as it is where the frame counts
    agree. Refused, naming both takes' frames, rates and lengths, where the two cover different times."""
    from dataclasses import replace

    if pred.n_frames == gt.n_frames:
        return gt, None
    seconds = (pred.n_frames / pred.fps, gt.n_frames / gt.fps)
    if abs(pred.fps / gt.fps - 1) < 1e-3 or abs(seconds[0] - seconds[1]) > 1.5 / min(pred.fps, gt.fps):
        raise InputError(f"{pred.path} has {pred.n_frames} frames ({seconds[0]:.3g} s at {pred.fps:g} Hz) but {gt.path} has "
                         f"{gt.n_frames} ({seconds[1]:.3g} s at {gt.fps:g} Hz): they must cover the same stretch of time")
    at = np.clip(np.arange(pred.n_frames) * gt.fps / pred.fps, 0, gt.n_frames - 1)
    lo = np.floor(at).astype(int)
    hi = np.minimum(lo + 1, gt.n_frames - 1)
    w = (at - lo)[:, None, None]
    positions = (1 - w) * gt.positions[lo].astype(np.float64) + w * gt.positions[hi].astype(np.float64)
    mask = gt.mask[lo] & (gt.mask[hi] | (w[:, :, 0] == 0))
    note = (f"{gt.path} ({gt.n_frames} frames at {gt.fps:g} Hz) is scored at {pred.path}'s {pred.n_frames} frames "
            f"({pred.fps:g} Hz), each between its two nearest")
    return replace(gt, positions=positions.astype(np.float32), mask=mask, fps=pred.fps, root=None), note


def evaluate(pred: Take, gt: Take, pck_threshold: float = 0.15) -> dict:
    """P1/P2 (single or mean of hypotheses), P1 with the whole take turned by one rotation, minMPJPE
    over hypotheses, PCK, per-joint P1, jitter, bone CV.

    Frames where the ground truth misses any joint are left out and counted. Jitter is of the
    root-relative joints, as P1 compares them, over runs of consecutive scored frames, at the truth's
    frame rate for both (the frames are the same frames).
    """
    if pred.dim != 3 or gt.dim != 3:
        raise InputError("evaluate compares 3D poses; both files must hold (frames, 17, 3) positions")
    if gt.positions.ndim != 3:
        raise InputError(f"{gt.path}: ground truth must have one pose per frame")
    if pred.n_frames != gt.n_frames:
        raise InputError(f"{pred.path} has {pred.n_frames} frames but {gt.path} has {gt.n_frames} (on_prediction_frames "
                         "takes a truth at another frame rate at the prediction's frames)")
    valid = gt.mask.all(1)
    hyps = pred.positions if pred.positions.ndim == 4 else pred.positions[:, None]
    valid &= np.isfinite(hyps).all((1, 2, 3))
    if not valid.any():
        raise InputError(f"{gt.path}: no frame has all 17 joints in both files; nothing to score")
    hyps, truth = hyps[valid].astype(np.float64), gt.positions[valid].astype(np.float64)
    single = hyps.mean(1)
    per_joint = metrics.per_joint_error(single, truth, "root").mean(0)
    mm = 1000.0
    result = {
        "frames": int(valid.sum()),
        "frames_skipped": int((~valid).sum()),
        "hypotheses": int(hyps.shape[1]),
        "mpjpe_mm": metrics.mpjpe(single, truth, "root") * mm,
        "mpjpe_take_aligned_mm": metrics.take_aligned_mpjpe(single, truth) * mm,
        "p_mpjpe_mm": metrics.mpjpe(single, truth, "procrustes") * mm,
        "min_mpjpe_mm": metrics.min_mpjpe(hyps, truth, "root") * mm,
        "min_p_mpjpe_mm": metrics.min_mpjpe(hyps, truth, "procrustes") * mm,
        f"pck_{int(pck_threshold * 1000)}mm": metrics.pck(single, truth, pck_threshold),
        "jitter_pred_m_s2": _jitter(single, valid, gt.fps),
        "jitter_gt_m_s2": _jitter(truth, valid, gt.fps),
        "bone_length_cv_pred": metrics.bone_length_cv(single),
        "bone_length_cv_gt": metrics.bone_length_cv(truth),
        "per_joint_mpjpe_mm": {j: float(e * mm) for j, e in zip(JOINTS, per_joint)},
    }
    return result


def _jitter(poses: np.ndarray, valid: np.ndarray, fps: float) -> float:
    """Mean |acceleration| of the root-relative joints of the scored frames (poses: valid ones only), over
    three consecutive frames that were all scored (a skipped frame is not bridged as if it were one step)."""
    frames = np.flatnonzero(valid)
    rel = poses - poses[:, :1]
    steady = (frames[2:] - frames[:-2]) == 2  # triples of consecutive file frames
    if not steady.any():
        return 0.0
    acc = (rel[2:] - 2 * rel[1:-1] + rel[:-2])[steady] * fps**2
    return float(np.linalg.norm(acc, axis=-1).mean())


def frame_mismatch(pred: Take, gt: Take) -> str | None:
    """A sentence when the two takes are not in one frame (a lift's camera-frame poses against Z-up
    mocap, or bodies standing along different axes), so P1 compares them turned; None otherwise."""
    from gfpose_cli.io.sanity import standing_axis

    def where(take: Take) -> tuple[str, str | None]:
        first = take.positions if take.positions.ndim == 3 else take.positions[:, 0]
        axis = standing_axis(first, take.mask & np.isfinite(first).all(-1))
        kind = "a camera's frame" if take.provenance.camera_frame else "read as Z-up mocap"
        return kind + (f", standing along {axis}" if axis else ""), axis

    (p_kind, p_axis), (g_kind, g_axis) = where(pred), where(gt)
    # where both bodies show which way they stand, that settles it (a camera-frame truth saved without the
    # NPZ's axes key stands as the lift does); else what the files say of their frames
    if (p_axis == g_axis) if p_axis and g_axis else pred.provenance.camera_frame == gt.provenance.camera_frame:
        return None
    return (f"{pred.path} ({p_kind}) and {gt.path} ({g_kind}) are not in one frame: mpjpe_mm compares them as they "
            "are; mpjpe_take_aligned_mm turns the whole prediction by one rotation first, p_mpjpe_mm each frame")

"""Scores for `gfpose evaluate`: prediction takes against ground-truth takes."""
from __future__ import annotations

import numpy as np

from gfpose_cli.evaluation import metrics
from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import JOINTS
from gfpose_cli.core.take import Take


def evaluate(pred: Take, gt: Take, pck_threshold: float = 0.15) -> dict:
    """P1/P2 (single or mean of hypotheses), minMPJPE over hypotheses, PCK, per-joint P1, jitter, bone CV.

    Frames where the ground truth misses any joint are left out and counted.
    """
    if pred.dim != 3 or gt.dim != 3:
        raise InputError("evaluate compares 3D poses; both files must hold (frames, 17, 3) positions")
    if gt.positions.ndim != 3:
        raise InputError(f"{gt.path}: ground truth must have one pose per frame")
    if pred.n_frames != gt.n_frames:
        raise InputError(f"{pred.path} has {pred.n_frames} frames but {gt.path} has {gt.n_frames}")
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
        "p_mpjpe_mm": metrics.mpjpe(single, truth, "procrustes") * mm,
        "min_mpjpe_mm": metrics.min_mpjpe(hyps, truth, "root") * mm,
        "min_p_mpjpe_mm": metrics.min_mpjpe(hyps, truth, "procrustes") * mm,
        f"pck_{int(pck_threshold * 1000)}mm": metrics.pck(single, truth, pck_threshold),
        "jitter_pred_m_s2": metrics.jitter(single, pred.fps),
        "jitter_gt_m_s2": metrics.jitter(truth, gt.fps),
        "bone_length_cv_pred": metrics.bone_length_cv(single),
        "bone_length_cv_gt": metrics.bone_length_cv(truth),
        "per_joint_mpjpe_mm": {j: float(e * mm) for j, e in zip(JOINTS, per_joint)},
    }
    return result

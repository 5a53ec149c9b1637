"""CSV poses: one row per frame (and hypothesis), `frame[,hypothesis],<Joint>_x,<Joint>_y[,<Joint>_z],time`.

Metres for 3D, pixels for 2D; an empty cell or NaN marks a missing joint; `time` (seconds, the last
column) carries the frame rate, read back from it. Spreadsheet users and pandas scripts read it without
any gfpose code.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import JOINTS, N_JOINTS
from gfpose_cli.core.take import Provenance, Take
from gfpose_cli.io.marker_text import frame_slots, in_slots, skipped_note
from gfpose_cli.signal.clock import ASSUMED_FPS, assumed_rate_note, seconds_rate
from gfpose_cli.util.atomic import atomic_path

AXES = ("x", "y", "z")


def _columns(dim: int) -> list[str]:
    return [f"{j}_{a}" for j in JOINTS for a in AXES[:dim]]


def read(path: Path) -> Take:
    """Read a CSV take (2D or 3D, optionally with a hypothesis column), or a detector's named 2D keypoints."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read CSV ({exc})") from None
    first = text.split("\n", 1)[0]
    # a spreadsheet saved in a European locale: semicolons between cells, decimal commas within them
    european = first.count(";") > first.count(",") and "pelvis_x" in first.replace(" ", "").lower()
    rows = list(csv.reader(text.splitlines(), delimiter=";" if european else ","))
    if european:
        rows = rows[:1] + [[cell.replace(",", ".") for cell in row] for row in rows[1:]]
    if not rows:
        raise InputError(f"{path}: empty CSV file")
    header = [h.strip() for h in rows[0]]
    lowered = {h.lower(): i for i, h in enumerate(header)}
    dim = 3 if all(c.lower() in lowered for c in _columns(3)) else 2
    missing = [c for c in _columns(dim) if c.lower() not in lowered]
    if missing:
        from gfpose_cli.io.keypoints2d import dlc_header, named_csv_take

        start = 1
        dlc = dlc_header(rows, path)
        if dlc is not None:  # DeepLabCut's header rows: bodyparts over their x, y, likelihood
            header, start = dlc
        body = [(n + start + 1, row) for n, row in enumerate(rows[start:]) if any(cell.strip() for cell in row)]
        if dlc is not None and any(h.lower().endswith("_z") for h in header):  # DeepLabCut's 3D (triangulated) output
            raise InputError(f"{path}: a DeepLabCut 3D CSV (x, y, z per body part); gfpose lifts DeepLabCut's 2D "
                             "keypoints, and reads 3D points as a plain CSV: one header row of NAME_X, NAME_Y, NAME_Z")
        named = named_csv_take(header, body, path)
        if named is not None:
            return named
        raise InputError(f"{path}: missing columns {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}: "
                         "a pose CSV names the 17 joints (Pelvis_x, Pelvis_y[, Pelvis_z], RHip_x, ...), and a 2D one "
                         "may name a detector's keypoints instead (COCO's nose_x, left_eye_x, ..., left_ankle_y, with "
                         "nose_score optional; or OpenPose's Nose_x, Neck_x, ...)")
    cols = [lowered[c.lower()] for c in _columns(dim)]
    numbered = [(n + 2, row) for n, row in enumerate(rows[1:]) if any(cell.strip() for cell in row)]
    for line, row in numbered:  # a short row is a cut-off file, not missing joints (those are empty cells)
        if len(row) != len(header):
            raise InputError(f"{path}: line {line} has {len(row)} cells but the header has {len(header)}; "
                             "the file looks cut off or damaged (leave cells empty for missing joints)")
    rows = rows[:1] + [row for _, row in numbered]
    line_of = [line for line, _ in numbered]
    hyp_col = lowered.get("hypothesis")
    frame_col = lowered.get("frame")
    values = np.full((len(rows) - 1, len(cols)), np.nan, dtype=np.float64)
    frames = np.zeros(len(rows) - 1, dtype=np.int64)
    hyps = np.zeros(len(rows) - 1, dtype=np.int64)
    for r, row in enumerate(rows[1:]):
        line = line_of[r]
        try:
            for k, c in enumerate(cols):
                cell = row[c].strip() if c < len(row) else ""
                values[r, k] = float(cell) if cell else np.nan
            frames[r] = int(float(row[frame_col])) if frame_col is not None else r
            hyps[r] = int(float(row[hyp_col])) if hyp_col is not None else 0
        except (ValueError, OverflowError) as exc:
            raise InputError(f"{path}: line {line}: not a number ({exc})") from None
        except IndexError:
            raise InputError(f"{path}: line {line} has {len(row)} cells, fewer than the header's {len(header)}") from None
    if np.isinf(values).any():
        line = line_of[int(np.argwhere(np.isinf(values))[0][0])]
        raise InputError(f"{path}: line {line} holds an infinite coordinate; leave the cell empty for missing")
    fps, notes = _rate(path, rows, line_of, lowered.get("time"), frames, european)
    confidence = None
    score_cols = [lowered.get(f"{j}_score".lower()) for j in JOINTS]
    if dim == 2 and hyp_col is None and None not in score_cols:  # a detector's confidence per keypoint
        confidence = np.zeros((len(rows) - 1, N_JOINTS), dtype=np.float32)
        for r, row in enumerate(rows[1:]):
            for j, c in enumerate(score_cols):
                cell = row[c].strip()
                try:
                    confidence[r, j] = float(cell) if cell else 0.0
                except ValueError:
                    raise InputError(f"{path}: line {line_of[r]}: the score {cell!r} is not a number") from None
    warnings: tuple[str, ...] = ()
    if hyp_col is None:
        order = np.argsort(frames, kind="stable")
        poses = values[order].reshape(-1, N_JOINTS, dim)
        confidence = None if confidence is None else confidence[order]
        slotted = frame_slots(frames[order])  # rows a script dropped: put back empty, so the take keeps its timing
        if slotted is not None:
            at, n_frames, skipped = slotted
            poses = in_slots(at, n_frames, poses)[0]
            confidence = None if confidence is None else np.nan_to_num(in_slots(at, n_frames, confidence)[0])
            warnings = (f"{path}: {skipped_note(skipped)}",)
    else:
        if hyps.min() < 0:
            raise InputError(f"{path}: line {line_of[int(np.argmin(hyps))]}: negative hypothesis index")
        n_f, n_s = int(frames.max()) + 1 - int(frames.min()), int(hyps.max()) + 1
        if n_f * n_s != len(values):
            raise InputError(f"{path}: expected {n_f} frames x {n_s} hypotheses rows, found {len(values)}")
        poses = np.full((n_f, n_s, N_JOINTS, dim), np.nan)
        poses[frames - frames.min(), hyps] = values.reshape(-1, N_JOINTS, dim)
    return Take(positions=poses, fps=fps, confidence=confidence,
                provenance=Provenance(path=str(path), format="csv", notes=notes, warnings=warnings))


def _rate(path: Path, rows: list[list[str]], line_of: list[int], col: int | None, frames: np.ndarray,
          european: bool) -> tuple[float, tuple[str, ...]]:
    """(fps, notes) from the `time` column (seconds) against the frame numbers; ASSUMED_FPS, said, where
    there is none (gfpose wrote none before 0.2) or it runs on no straight line, or at no plausible rate."""
    if col is None:
        return ASSUMED_FPS, (assumed_rate_note("no time column"),)
    times = np.full(len(rows) - 1, np.nan)
    for r, row in enumerate(rows[1:]):
        cell = row[col].strip() if col < len(row) else ""
        try:
            times[r] = float(cell) if cell else np.nan
        except ValueError:
            raise InputError(f"{path}: line {line_of[r]}: its time {cell!r} is not a number") from None
    fps = seconds_rate(times, frames)
    if fps is None:
        return ASSUMED_FPS, (assumed_rate_note("its time column gives no steady frame rate in seconds"),)
    return fps, ()


def write(take: Take, path: Path, force: bool = True) -> None:
    """Write a take atomically; NaN cells are left empty so spreadsheets see them as missing."""
    poses = take.positions
    dim = take.dim
    with atomic_path(path, force) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            multi = poses.ndim == 4
            # 2D keypoints keep the detector's confidence, a score after each keypoint (as detectors' CSVs do)
            scores = take.confidence if dim == 2 and not multi and take.confidence is not None else None
            names = _columns(dim) if scores is None else [f"{j}_{a}" for j in JOINTS for a in ("x", "y", "score")]
            w.writerow(["frame"] + (["hypothesis"] if multi else []) + names + ["time"])
            for f in range(poses.shape[0]):
                frame_poses = poses[f] if multi else poses[f][None]
                for s, pose in enumerate(frame_poses):
                    if not multi:
                        pose = np.where(take.mask[f][:, None], pose, np.nan)
                    if scores is not None:
                        pose = np.concatenate([pose, scores[f][:, None]], axis=1)
                    cells = ["" if not np.isfinite(v) else f"{v:.6f}" for v in pose.reshape(-1)]
                    w.writerow([f] + ([s] if multi else []) + cells + [f"{f / take.fps:.9g}"])

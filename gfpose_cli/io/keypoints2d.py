"""2D keypoints from pose estimators: COCO-17 JSON and OpenPose JSON folders (BODY_25 or COCO-18).

Detections become named 2D keypoints (pixels) and go through a skeleton map (coco17,
openpose25, openpose18) like markers do; a keypoint below the confidence threshold is missing, never zero.
COCO results with 26 (Halpe, AlphaPose) or 133 keypoints (COCO-WholeBody: MMPose, RTMPose) are
read by their first 17, which are COCO-17's body keypoints in COCO-17's order.

One person per frame (follow_person): where a frame holds one detection, it; where it holds
several, the one nearest the person chosen last (a video's bystander is not swapped in for the
performer when the detector is more sure of them); the most confident one where nobody was chosen
within FOLLOW_S seconds before.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from gfpose_cli.core.errors import InputError
from gfpose_cli.io.maps import load_map
from gfpose_cli.core.take import Provenance, Take

COCO17 = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
          "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
          "left_knee", "right_knee", "left_ankle", "right_ankle")
BODY25 = ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip",
          "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
          "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")
#: OpenPose's COCO model (18 keypoints, no MidHip): older OpenPose outputs and tools built on it
COCO18 = ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "RHip", "RKnee", "RAnkle",
          "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar")
#: OpenPose layouts by keypoint count: names and the skeleton map that reads them
OPENPOSE_LAYOUTS = {25: (BODY25, "openpose25"), 18: (COCO18, "openpose18")}
MIN_CONFIDENCE = 0.1
#: COCO result layouts whose first 17 keypoints are COCO-17's body (Halpe-26, COCO-WholeBody-133)
COCO_LAYOUTS = (17, 26, 133)
#: seconds after which a person not chosen is no longer followed (the next choice is the most confident)
FOLLOW_S = 1.0


def _load_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not readable JSON ({exc})") from None


def _triplets(values, n: int, where: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size != 3 * n:
        raise InputError(f"{where}: expected {n} keypoints as x, y, confidence triplets, found {arr.size} numbers")
    return arr.reshape(n, 3)


def frame_order(name) -> tuple:
    """Sort key for frame names and image ids: numbers inside a name compare as numbers, so an
    unpadded "frame_10.jpg" comes after "frame_9.jpg" (AlphaPose names its results by image file;
    a plain string sort would put frame 10 between 1 and 2, a take shuffled without a word)."""
    if isinstance(name, (int, float)):
        return ((0, float(name), ""),)
    return tuple((0, float(t), "") if t.isdigit() else (1, 0.0, t) for t in re.split(r"(\d+)", str(name)) if t)


def _best(people: list[np.ndarray]) -> np.ndarray | None:
    return max(people, key=lambda kp: kp[:, 2].mean()) if people else None


def _distance(a: np.ndarray, b: np.ndarray, min_confidence: float) -> float:
    """Median pixel distance between two detections (n, 3) over the keypoints both saw; inf if none."""
    both = (a[:, 2] >= min_confidence) & (b[:, 2] >= min_confidence)
    both &= np.isfinite(a[:, :2]).all(-1) & np.isfinite(b[:, :2]).all(-1)
    return float(np.median(np.linalg.norm(a[both, :2] - b[both, :2], axis=-1))) if both.any() else float("inf")


def follow_person(frames: list[list[np.ndarray]], fps: float, min_confidence: float = MIN_CONFIDENCE) -> list[np.ndarray | None]:
    """One detection per frame from each frame's detections (n, 3): see the module's docstring.
    Picking the most confident detection in every frame, as before, jumps between people wherever a
    bystander is detected more surely than the performer, and the lifted take then holds frames of
    two bodies."""
    chosen: list[np.ndarray | None] = []
    last, last_frame = None, -10**9
    for f, people in enumerate(frames):
        if not people:
            chosen.append(None)
            continue
        if len(people) == 1 or last is None or f - last_frame > FOLLOW_S * fps:
            pick = _best(people)
        else:
            near = [_distance(kp, last, min_confidence) for kp in people]
            pick = people[int(np.argmin(near))] if np.isfinite(min(near)) else _best(people)
        chosen.append(pick)
        last, last_frame = pick, f
    return chosen


def _to_take(frames: list[np.ndarray | None], names: tuple[str, ...], map_name: str, path: Path,
             fps: float, min_confidence: float) -> Take:
    if not frames:
        raise InputError(f"{path}: no frames found")
    raw = np.full((len(frames), len(names), 3), np.nan)
    for f, kp in enumerate(frames):
        if kp is not None:
            raw[f] = kp
    observed = np.isfinite(raw).all(-1) & (raw[..., 2] >= min_confidence)
    smap = load_map(map_name)
    xy, mask = smap.apply(list(names), raw[..., :2], observed, where=str(path))
    conf = np.nan_to_num(raw[..., 2])
    conf17 = np.zeros(mask.shape, np.float32)
    for j, weights in enumerate(smap.joints.values()):
        cols = [names.index(s) for s in weights]
        conf17[:, j] = conf[:, cols].min(1)
    return Take(positions=xy, mask=mask, fps=fps, confidence=conf17,
                provenance=Provenance(path=str(path), format=map_name, map=map_name))


def read_coco(path: Path, fps: float = 30.0, min_confidence: float = MIN_CONFIDENCE) -> Take:
    """COCO keypoint results (a list of detections with image_id) or a COCO dataset with annotations."""
    data = _load_json(path)
    detections = data.get("annotations") if isinstance(data, dict) else data
    if not isinstance(detections, list):
        raise InputError(f"{path}: expected a list of COCO detections or a dict with 'annotations'")
    by_image: dict = {}
    for k, det in enumerate(detections):
        if not isinstance(det, dict) or "keypoints" not in det or "image_id" not in det:
            raise InputError(f"{path}: detection {k} lacks 'image_id' or 'keypoints'")
        n = len(det["keypoints"]) // 3 if isinstance(det["keypoints"], list) else 0
        kp = _triplets(det["keypoints"], n if n in COCO_LAYOUTS else 17,
                       f"{path}: detection {k} (COCO-17, Halpe-26 or COCO-WholeBody-133)")[:17]
        if kp[:, 2].max() > 1.0 + 1e-6:  # dataset visibility flags 0/1/2 -> seen/not seen
            kp[:, 2] = (kp[:, 2] > 0).astype(float)
        by_image.setdefault(det["image_id"], []).append(kp)
    images = sorted(by_image, key=frame_order)
    return _to_take(follow_person([by_image[i] for i in images], fps, min_confidence), COCO17, "coco17", path, fps,
                    min_confidence)


def is_openpose_folder(path: Path) -> bool:
    return Path(path).is_dir() and any(Path(path).glob("*_keypoints.json"))


def read_openpose(folder: Path, fps: float = 30.0, min_confidence: float = MIN_CONFIDENCE) -> Take:
    """An OpenPose output folder: one `*_keypoints.json` per frame, sorted by name; BODY_25 (25
    keypoints) or the COCO model (18), whichever the first detection holds, the same in every frame."""
    files = sorted(Path(folder).glob("*_keypoints.json"), key=lambda f: frame_order(f.name))
    if not files:
        raise InputError(f"{folder}: no OpenPose *_keypoints.json files")
    frames, n = [], None
    for f in files:
        data = _load_json(f)
        people = data.get("people", []) if isinstance(data, dict) else None
        if people is None:
            raise InputError(f"{f}: not an OpenPose frame (no 'people' list)")
        detections = [p.get("pose_keypoints_2d", []) if isinstance(p, dict) else [] for p in people]
        if n is None and detections:  # the folder's layout: its first detection's
            size = len(detections[0]) // 3 if isinstance(detections[0], list) else 0
            n = size if size in OPENPOSE_LAYOUTS else 25
        frames.append([_triplets(values, n, f"{f} (OpenPose BODY_25 or COCO-18, as the folder's first detection)")
                       for values in detections])
    names, map_name = OPENPOSE_LAYOUTS[n or 25]
    return _to_take(follow_person(frames, fps, min_confidence), names, map_name, Path(folder), fps, min_confidence)

"""2D keypoints from pose estimators: COCO-17 JSON, MMPose prediction JSON, OpenPose JSON folders
(BODY_25 or COCO-18) and Ultralytics YOLO pose label folders (read_yolo).

Detections become named 2D keypoints (pixels) and go through a skeleton map (coco17,
openpose25, openpose18) like markers do; a keypoint below the confidence threshold is missing, never zero.
COCO results with 26 (Halpe, AlphaPose) or 133 keypoints (COCO-WholeBody: MMPose, RTMPose) are
read by their first 17, which are COCO-17's body keypoints in COCO-17's order. MMPose's own prediction
files (demo scripts' --save-predictions, MMPoseInferencer's pred_out_dir) hold per frame a list of
instances with keypoints [[x, y], ...] and keypoint_scores: read the same way, by the keypoint names
of their meta_info where it has them (a layout that is not COCO's body, e.g. Human3.6M's 17, is refused
rather than read in the wrong order), and placed by frame_id, so a frame without detections stays empty.

One person per frame (follow_person): where a frame holds one detection, it; where it holds
several, the one nearest the person chosen last (a video's bystander is not swapped in for the
performer when the detector is more sure of them); the most confident one where nobody was chosen
within FOLLOW_S seconds before.
"""
from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from gfpose_cli.core.errors import InputError
from gfpose_cli.io.maps import load_map
from gfpose_cli.core.take import Provenance, Take
from gfpose_cli.signal.clock import ASSUMED_FPS, assumed_rate_note, seconds_rate

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
#: detector files (COCO and MMPose JSON, OpenPose and YOLO folders) carry no frame rate: a video's
#: (signal.clock.ASSUMED_FPS) is assumed and said, so a 60 Hz video's take is not stamped 30 Hz (played at half speed) in silence
ASSUMED_FPS_NOTE = assumed_rate_note("the file gives no frame rate")
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


def keypoints_take(frames: list[np.ndarray | None], names: tuple[str, ...], map_name: str, path: Path,
                   fps: float, min_confidence: float) -> Take:
    """One person's named keypoints per frame ((n, 3): x, y, confidence; None where nobody was seen) as a
    take of the 17 joints, through the map that reads those names; a keypoint below min_confidence is missing."""
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
    """COCO keypoint results (a list of detections with image_id) or a COCO dataset with annotations;
    MMPose prediction files (is_mmpose) go to read_mmpose."""
    data = _load_json(path)
    if is_mmpose(data):
        return read_mmpose(data, path, fps, min_confidence)
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
    numbers = frame_numbers(images)
    if numbers is not None:  # a video's frames: one without a detection has no entry, and stays an empty frame
        first = numbers[0]
        slots = _at_numbers([by_image[i] for i in images], numbers)
        take = keypoints_take(follow_person(slots, fps, min_confidence), COCO17, "coco17", path, fps, min_confidence)
        empty = len(slots) - len(images)
        note = (f"frames placed by their number ({first}-{numbers[-1]}): {empty} without a detection are empty"
                if empty else None)
        return replace(take, provenance=take.provenance.but(first_frame=first, notes=(note,) if note else ()))
    return keypoints_take(follow_person([by_image[i] for i in images], fps, min_confidence), COCO17, "coco17", path, fps,
                    min_confidence)


def _at_numbers(frames: list[list[np.ndarray]], numbers: list[int]) -> list[list[np.ndarray]]:
    """Each frame's detections at its frame number (numbers ascending, from numbers[0]); the numbers between
    them are frames without a detection (empty lists)."""
    slots: list[list[np.ndarray]] = [[] for _ in range(numbers[-1] - numbers[0] + 1)]
    for number, people in zip(numbers, frames):
        slots[number - numbers[0]] = people
    return slots


#: image ids are a video's frame numbers when they fill at least this share of the range they span
DENSE_FRAME_IDS = 0.5


def frame_numbers(images: list) -> list[int] | None:
    """The frame numbers of sorted image ids (ints, or names whose last number is the frame: `frame_0042.jpg`)
    when they are a video's frames: distinct, and filling at least DENSE_FRAME_IDS of their range (a
    detector writes no entry for a frame without a person). None for a collection of images (COCO's sparse
    ids, names without numbers), which is read in order."""
    found = []
    for image in images:
        if isinstance(image, (int, float)) and image == int(image):
            found.append(int(image))
            continue
        digits = re.findall(r"\d+", str(image))
        if not digits or isinstance(image, float):
            return None
        found.append(int(digits[-1]))
    if len(set(found)) != len(found) or found != sorted(found):
        return None
    span = found[-1] - found[0] + 1
    return found if len(found) >= 2 and len(found) >= DENSE_FRAME_IDS * span else None


def is_mmpose(data) -> bool:
    """Whether parsed JSON is an MMPose prediction file: {"meta_info", "instance_info"} as the demo
    scripts save it, or the list of {"frame_id", "instances"} MMPoseInferencer writes for a video."""
    if isinstance(data, dict):
        return "instance_info" in data
    return bool(data) and isinstance(data, list) and isinstance(data[0], dict) and "instances" in data[0]


def _mmpose_order(meta, path: Path) -> list[int] | None:
    """Column of each COCO-17 keypoint in an MMPose layout, from its meta_info's keypoint names; None
    where the file does not name them (then the layout is taken by its count, as for COCO results).
    A layout that names its keypoints otherwise than COCO's body is refused."""
    names = meta.get("keypoint_id2name") if isinstance(meta, dict) else None
    if not isinstance(names, dict) or not names:
        return None
    by_name = {str(v).lower(): int(k) for k, v in names.items() if str(k).lstrip("-").isdigit()}
    missing = [n for n in COCO17 if n not in by_name]
    if missing:
        dataset = meta.get("dataset_name", "unnamed")
        raise InputError(f"{path}: MMPose keypoints of the '{dataset}' layout, which does not name COCO-17's body "
                         f"keypoints ({', '.join(missing[:4])}{', ...' if len(missing) > 4 else ''} missing): "
                         "run a COCO-17, Halpe-26 or COCO-WholeBody model, or convert the keypoints to COCO-17")
    return [by_name[n] for n in COCO17]


def _mmpose_instance(inst, order: list[int] | None, where: str) -> np.ndarray:
    """One MMPose instance as COCO-17 (17, 3): x, y and the keypoint score."""
    if not isinstance(inst, dict) or "keypoints" not in inst:
        raise InputError(f"{where}: an instance without 'keypoints'")
    try:
        xy = np.asarray(inst["keypoints"], dtype=np.float64)
        scores = np.asarray(inst.get("keypoint_scores", np.ones(len(xy))), dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"{where}: keypoints are not lists of numbers") from None
    if xy.ndim != 2 or xy.shape[1] != 2:
        shape = "x, y, z (a 3D result)" if xy.ndim == 2 and xy.shape[1] == 3 else f"shape {xy.shape}"
        raise InputError(f"{where}: expected 2D keypoints [[x, y], ...], found {shape}")
    if len(scores) != len(xy):
        raise InputError(f"{where}: {len(xy)} keypoints but {len(scores)} keypoint_scores")
    if order is None:
        if len(xy) not in COCO_LAYOUTS:
            raise InputError(f"{where}: {len(xy)} keypoints and no keypoint names in meta_info; expected COCO-17, "
                             "Halpe-26 or COCO-WholeBody-133 (read by their first 17 keypoints)")
        order = list(range(17))
    if max(order) >= len(xy):
        raise InputError(f"{where}: {len(xy)} keypoints, fewer than its meta_info names")
    return np.c_[xy[order], scores[order]]


def read_mmpose(data, path: Path, fps: float = 30.0, min_confidence: float = MIN_CONFIDENCE) -> Take:
    """An MMPose prediction file (is_mmpose): frames by frame_id (a frame id the file skips, or one
    without instances, is a frame without a detection), one person per frame (follow_person)."""
    meta = data.get("meta_info") if isinstance(data, dict) else None
    info = data.get("instance_info") if isinstance(data, dict) else data
    if not isinstance(info, list):
        raise InputError(f"{path}: MMPose 'instance_info' is not a list")
    order = _mmpose_order(meta, path)
    if info and all(isinstance(e, dict) and "instances" not in e and "keypoints" in e for e in info):
        info = [{"frame_id": 0, "instances": info}]  # one image's instances
    by_frame: dict[int, list[np.ndarray]] = {}
    for k, entry in enumerate(info):
        if not isinstance(entry, dict) or not isinstance(entry.get("instances", None), list):
            raise InputError(f"{path}: entry {k} of the MMPose predictions has no 'instances' list")
        fid = entry.get("frame_id", k)
        if not isinstance(fid, (int, float)) or fid != int(fid) or fid < 0:
            raise InputError(f"{path}: entry {k} has frame_id {fid!r}, not a frame number")
        if int(fid) in by_frame:
            raise InputError(f"{path}: frame_id {int(fid)} appears twice (entries of two videos in one file?)")
        by_frame[int(fid)] = [_mmpose_instance(inst, order, f"{path}: frame_id {int(fid)}") for inst in entry["instances"]]
    if not by_frame:
        raise InputError(f"{path}: the MMPose predictions hold no frames")
    first = min(by_frame)
    frames = [by_frame.get(f, []) for f in range(first, max(by_frame) + 1)]
    take = keypoints_take(follow_person(frames, fps, min_confidence), COCO17, "coco17", path, fps, min_confidence)
    return replace(take, provenance=take.provenance.but(format="mmpose", first_frame=first))


def _openpose_files(folder: Path) -> list[Path]:
    """A folder's OpenPose-style frame files, in frame order: OpenPose's own `*_keypoints.json`, else
    the `*.json` files of tools that write its layout under other names (Pose2Sim, Sports2D and rtmlib:
    `video_000123.json`), where the first of them holds a 'people' list."""
    folder = Path(folder)
    files = list(folder.glob("*_keypoints.json"))
    if not files:
        files = list(folder.glob("*.json"))
        if files:
            first = min(files, key=lambda f: frame_order(f.name))
            try:
                data = json.loads(first.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                return []
            if not (isinstance(data, dict) and isinstance(data.get("people"), list)):
                return []
    return sorted(files, key=lambda f: frame_order(f.name))


def one_sequence(folder: Path, files: list[Path], tool: str) -> None:
    """Refuse a folder of per-frame files of several videos (OpenPose names each video's frames after it,
    `walk_000000000012_keypoints.json`, and YOLO `walk_12.txt`: running either on several videos into one
    folder mixes them), which read as one take would be the videos one after the other. Files are grouped
    by their names without their last number; a folder of two or more such groups of several numbered
    frames each is refused naming them."""
    groups: dict[str, list[str]] = {}
    for f in files:
        groups.setdefault(re.sub(r"\d+(?=\D*$)", "#", f.name), []).append(f.name)
    videos = {key: names for key, names in groups.items() if len(names) >= 2 and frame_numbers(names) is not None}
    if len(groups) > 1 and len(videos) > 1:
        said = ", ".join(f"{key.replace('#', '…')} ({len(names)} files)" for key, names in sorted(videos.items()))
        raise InputError(f"{folder}: holds the frames of {len(videos)} videos ({said}); {tool} names each video's "
                         "frames after it: give each video's files a folder of their own")


def is_openpose_folder(path: Path) -> bool:
    return Path(path).is_dir() and bool(_openpose_files(path))


#: values per line of an Ultralytics YOLO pose label (`save_txt`): class, box (cx, cy, w, h), then COCO-17's
#: keypoints as x, y, visibility (51) or x, y (34), then the box's confidence (save_conf) and a track id
#: (tracking), each optional; all coordinates shares of the image's width and height
YOLO_VALUES = {56: 3, 57: 3, 58: 3, 39: 2, 40: 2, 41: 2}


def _yolo_files(folder: Path) -> list[Path]:
    """A folder's YOLO pose label files (`runs/pose/predict/labels/video_12.txt`), in frame order, where the
    first one's first line has a YOLO pose label's count of numbers; else none."""
    files = sorted(Path(folder).glob("*.txt"), key=lambda f: frame_order(f.name))
    for f in files[:1]:
        try:
            first = f.read_text(encoding="utf-8").split("\n", 1)[0].split()
            [float(v) for v in first]
        except (OSError, UnicodeDecodeError, ValueError):
            return []
        if len(first) not in YOLO_VALUES:
            return []
    return files


def is_yolo_folder(path: Path) -> bool:
    return Path(path).is_dir() and bool(_yolo_files(path))


def read_yolo(folder: Path, fps: float = ASSUMED_FPS, min_confidence: float = MIN_CONFIDENCE) -> Take:
    """An Ultralytics YOLO pose labels folder (`predict(..., save_txt=True)`: one text file per frame with a
    detection, named by the video's frame number, a line per person): COCO-17 keypoints in normalised image
    coordinates (lift them with --image-size), followed as a person is along the take; a frame without a
    file stays empty. A keypoint the model did not see (0, 0 with its visibility) is missing."""
    files = _yolo_files(folder)
    one_sequence(Path(folder), files, "YOLO")
    frames: list[list[np.ndarray]] = []
    for f in files:
        people = []
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{f}: cannot read this YOLO label file ({type(exc).__name__}: {str(exc)[:80]})") from None
        for k, line in enumerate(text.splitlines()):
            if not line.strip():
                continue
            try:
                values = np.array([float(v) for v in line.split()])
            except ValueError:
                raise InputError(f"{f}: line {k + 1} holds something that is not a number") from None
            if len(values) not in YOLO_VALUES:
                raise InputError(f"{f}: line {k + 1} has {len(values)} numbers; a YOLO pose label has 56-58 (class, "
                                 "box, 17 keypoints as x, y, visibility, [confidence], [track id]) or 39-41")
            per = YOLO_VALUES[len(values)]
            kp = values[5:5 + 17 * per].reshape(17, per)
            if per == 2:  # no visibility: an unseen keypoint is written at 0, 0
                kp = np.concatenate([kp, np.where((kp == 0).all(1), 0.0, 1.0)[:, None]], 1)
            people.append(kp)
        frames.append(people)
    numbers = frame_numbers([f.name for f in files])
    note = f"{len(files)} YOLO pose label files"
    if numbers is not None and numbers[-1] - numbers[0] + 1 > len(files):  # frames without a person have no file
        frames = _at_numbers(frames, numbers)
        note += (f", placed by their numbers ({numbers[0]}-{numbers[-1]}): {len(frames) - len(files)} without a file "
                 "are empty")
    take = keypoints_take(follow_person(frames, fps, min_confidence), COCO17, "coco17", Path(folder), fps,
                          min_confidence)
    return replace(take, provenance=take.provenance.but(format="yolo", notes=(note,),
                                                        first_frame=numbers[0] if numbers else None))


def _body25_layout(frames: list[list[np.ndarray]], where: Path) -> tuple[tuple[str, ...], str]:
    """25 keypoints are OpenPose's BODY_25 (Neck between the shoulders, MidHip between the hips) or its
    BODY_25B (COCO-17's order first: the eyes beside the nose), told apart by where the keypoints sit,
    as fractions of the trunk's length (any view); a folder that fits neither, or both, is refused
    rather than read in the wrong order."""
    def trunk(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(a - b)) + 1e-9

    body25, coco = [], []
    for people in frames:
        for kp in people:
            ok = (kp[:, 2] >= MIN_CONFIDENCE) & np.isfinite(kp).all(-1)
            xy = kp[:, :2]
            if ok[[1, 2, 5, 8, 9, 12]].all():  # BODY_25: Neck ~ mid-shoulders, MidHip ~ mid-hips
                body25.append((np.linalg.norm(xy[1] - (xy[2] + xy[5]) / 2) + np.linalg.norm(xy[8] - (xy[9] + xy[12]) / 2))
                              / trunk(xy[1], xy[8]))
            if ok[[0, 1, 2, 5, 6, 11, 12]].all():  # COCO order: both eyes near the nose
                coco.append((np.linalg.norm(xy[1] - xy[0]) + np.linalg.norm(xy[2] - xy[0]))
                            / trunk((xy[5] + xy[6]) / 2, (xy[11] + xy[12]) / 2))
    b25 = float(np.median(body25)) if body25 else np.inf
    cc = float(np.median(coco)) if coco else np.inf
    if b25 < 0.4 or (not body25 and not cc < 0.2):  # BODY_25: about 0.15 (the walk of examples/), BODY_25B's
        return BODY25, "openpose25"  # keypoints about 0.9; nothing to tell by (no neck and hips seen): BODY_25
    if b25 > 0.6 and cc < 0.3:  # BODY_25B: about 0.17 (BODY_25: about 0.3, but that fails the first test)
        return COCO17, "coco17"
    raise InputError(f"{where}: 25 keypoints per person, but they sit neither as OpenPose's BODY_25 (Neck between "
                     "the shoulders, MidHip between the hips) nor as BODY_25B's COCO-17 order (eyes beside the nose); "
                     "give the keypoints as COCO-17 JSON or a BODY_25 folder")


def detector_layout(n: int, frames: list[list[np.ndarray]], where: Path) -> tuple[tuple[str, ...], str]:
    """The keypoint names and map of a detector's n keypoints per person (frames: per frame, each
    person's (n, 3) x, y, score): COCO-17's for 17, 26 and 133 (read by the first 17), OpenPose's COCO-18
    for 18, BODY_25 or BODY_25B (by where they sit) for 25."""
    if n in COCO_LAYOUTS:
        return COCO17, "coco17"
    if n == 25:
        return _body25_layout(frames, where)
    return OPENPOSE_LAYOUTS[n]


def read_openpose(folder: Path, fps: float = 30.0, min_confidence: float = MIN_CONFIDENCE) -> Take:
    """An OpenPose output folder (_openpose_files: one JSON per frame, sorted by name): BODY_25 or the
    COCO model (18), or the layouts of COCO_LAYOUTS (as Pose2Sim and Sports2D write RTMPose results:
    COCO-17, HALPE_26, COCO-WholeBody-133) and BODY_25B read by their first 17 keypoints, whichever the
    first detection holds, the same in every frame."""
    files = _openpose_files(folder)
    if not files:
        raise InputError(f"{folder}: no OpenPose *_keypoints.json files (nor .json files holding a 'people' list)")
    one_sequence(Path(folder), files, "OpenPose")
    frames, n = [], None
    for f in files:
        data = _load_json(f)
        people = data.get("people", []) if isinstance(data, dict) else None
        if people is None:
            raise InputError(f"{f}: not an OpenPose frame (no 'people' list)")
        detections = [p.get("pose_keypoints_2d", []) if isinstance(p, dict) else [] for p in people]
        if n is None and detections:  # the folder's layout: its first detection's
            size = len(detections[0]) // 3 if isinstance(detections[0], list) else 0
            n = size if size in OPENPOSE_LAYOUTS or size in COCO_LAYOUTS else 25
        frames.append([_triplets(values, n, f"{f} (the folder's first detection has {n} keypoints: OpenPose BODY_25, "
                                 "COCO-18, COCO-17, HALPE_26 or COCO-WholeBody-133)") for values in detections])
    names, map_name = detector_layout(n or 25, frames, Path(folder))
    if names is COCO17:  # read by the first 17 keypoints, COCO-17's body
        frames = [[kp[:17] for kp in people] for people in frames]
    numbers = frame_numbers([f.name for f in files])
    note = None
    if numbers is not None and numbers[-1] - numbers[0] + 1 > len(files):  # a tool that skips frames without people
        slots = _at_numbers(frames, numbers)
        note = (f"frames placed by their files' numbers ({numbers[0]}-{numbers[-1]}): {len(slots) - len(files)} "
                "without a file are empty")
        frames = slots
    take = keypoints_take(follow_person(frames, fps, min_confidence), names, map_name, Path(folder), fps, min_confidence)
    return replace(take, provenance=take.provenance.but(notes=(note,))) if note else take


#: a 2D take whose observed coordinates all lie within this many units of 0 is in normalised image
#: coordinates, not pixels (a take in pixels spans tens of pixels at least; MediaPipe's landmarks of
#: body parts out of the picture run a little past 0..1)
NORMALISED_EXTENT = 3.0
#: the lowest coordinate of a 0..1 take (off-picture landmarks); below it the take is -1..1's
NORMALISED_FLOOR = -0.5


def normalised_range(take: Take) -> str | None:
    """"0..1" or "-1..1" where a 2D take's keypoints are normalised image coordinates (MediaPipe's
    landmarks, OpenPose's --keypoint_scale 3 or 4: x a share of the image's width, y of its height),
    else None (pixels, or nothing observed)."""
    if take.dim != 2:
        return None
    xy = np.asarray(take.positions, dtype=np.float64)[take.mask]
    xy = xy[np.isfinite(xy).all(-1)]
    if len(xy) < 2 or np.ptp(xy, axis=0).max() == 0 or np.abs(xy).max() > NORMALISED_EXTENT:
        return None
    return "0..1" if xy.min() >= NORMALISED_FLOOR else "-1..1"


def parse_image_size(text: str) -> tuple[int, int]:
    """--image-size as (width, height) pixels from '1920x1080'."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×,]\s*(\d+)\s*", text or "")
    if not m or int(m[1]) < 1 or int(m[2]) < 1:
        raise InputError(f"{{image_size}} {text!r}: give the video's width and height in pixels, e.g. 1920x1080")
    return int(m[1]), int(m[2])


def in_pixels(take: Take, image_size: tuple[int, int] | None, where: str) -> tuple[Take, str | None]:
    """(take, warning): a 2D take of normalised coordinates turned into pixels of an image of
    image_size (width, height); without image_size, the take as it is and a warning that its x and y
    are shares of different lengths (the body is squeezed unless the image is square). A take already
    in pixels is returned as it is; image_size given for one is refused (it would be scaled twice)."""
    kind = normalised_range(take)
    if image_size is None:
        if kind is None:
            return take, None
        return take, (f"{where}: its keypoints lie within {kind} or near it: normalised image coordinates (MediaPipe, OpenPose "
                      "--keypoint_scale), x a share of the image's width and y of its height, which squeezes the body "
                      "unless the image is square; pass {image_size} (the video's WIDTHxHEIGHT, e.g. 1920x1080) to "
                      "lift them as pixels")
    if kind is None:
        raise InputError(f"{where}: {{image_size}} turns normalised coordinates (within 0..1 or -1..1) into pixels; "
                         "these keypoints are pixels already")
    w, h = image_size
    xy = np.asarray(take.positions, dtype=np.float64)
    if kind == "-1..1":
        xy = (xy + 1.0) / 2.0
    return replace(take, positions=(xy * np.array([w, h], dtype=np.float64)).astype(take.positions.dtype)), None


#: a 2D take is upside down (image y pointing up) where the head stands below both ankles and the thorax
#: below the pelvis in at least this share of the frames that show them: a flipped walk 100 %; the
#: training archives' takes through still cameras (yaw 0/120/240, elevation 0-75 degrees) at most 84 %
#: (an HDM05 floor exercise seen from 75 degrees up), CMU's at most 32 %
UPSIDE_DOWN_SHARE = 0.9


def upside_down(take: Take, where: str) -> str | None:
    """Why a 2D take looks upside down (its y axis pointing up, as plots and some tools have it, where
    images point it down), or None. Lifted as it is, such a take comes out as another body (a walk 154 mm
    off on average)."""
    p, m = np.asarray(take.positions, dtype=np.float64), take.mask
    if p.ndim != 3 or p.shape[-1] != 2:
        return None
    top = np.where(m[:, 10], p[:, 10, 1], p[:, 9, 1])
    seen = m[:, [0, 3, 6, 8]].all(1) & (m[:, 10] | m[:, 9])
    if not seen.any():
        return None
    down = (top > np.maximum(p[:, 3, 1], p[:, 6, 1])) & (p[:, 8, 1] > p[:, 0, 1])
    share = float(down[seen].mean())
    if share < UPSIDE_DOWN_SHARE:
        return None
    return (f"{where}: the head is below the feet in {share:.0%} of the frames that show them: its y axis points up "
            "(as a plot's), where gfpose reads 2D keypoints as an image has them, y down; flip y (image height - y) "
            "and lift again, or pass --force-read if the performer is upside down")


#: a 2D CSV's column of one keypoint: its name, then x, y or a confidence (`left_hip_x`, `Nose.y`,
#: `right_wrist_score`, MediaPipe's `left_hip_visibility`, DeepLabCut-style `likelihood`)
_NAMED_COLUMN = re.compile(r"(?i)^(.+?)[_.\s-]?(x|y|score|scores|conf|confidence|c|p|prob|likelihood|visibility)$")
#: layouts a keypoint-named 2D CSV may follow (names compared lower-case, by their words)
NAMED_LAYOUTS = ((COCO17, "coco17"), (BODY25, "openpose25"), (COCO18, "openpose18"))
#: the keypoints of each layout a CSV of fewer names must have: hips, knees, ankles, shoulders, elbows, wrists
LIMB_KEYPOINTS = {"coco17": COCO17[5:], "openpose25": tuple(n for n in BODY25[2:15] if n != "MidHip"),
                  "openpose18": COCO18[2:14]}


def _stem(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def named_csv_take(header: list[str], rows: list[list[str]], path: Path, fps: float = 30.0,
                   min_confidence: float = MIN_CONFIDENCE) -> Take | None:
    """A 2D CSV whose columns name a detector's keypoints (`nose_x, nose_y, nose_score, left_eye_x, ...`:
    COCO-17, also as the first 17 of MediaPipe's 33 landmarks' names; or OpenPose's BODY_25 / COCO-18
    names) as a take through that layout's map, one row per frame (in `frame` order where such a column
    exists); a confidence column per keypoint is read where present. None where the columns name no
    such layout. Rows of the wrong length and cells that are not numbers are refused naming the line."""
    found: dict[str, dict[str, int]] = {}
    for k, cell in enumerate(header):
        m = _NAMED_COLUMN.match(cell.strip())
        if m:
            kind = m.group(2).lower()
            found.setdefault(_stem(m.group(1)), {})["xy".index(kind) if kind in "xy" else "c"] = k
    partial = ""
    for names, map_name in NAMED_LAYOUTS:
        cols = [found.get(_stem(n), {}) for n in names]
        if all(0 in c and 1 in c for c in cols):
            break
    else:  # a model of fewer keypoints (a lab's DeepLabCut project): the twelve limb keypoints of a layout's names
        best = None
        for names, map_name in NAMED_LAYOUTS:  # the layout whose map makes the most joints of the names there
            cols = [found.get(_stem(n), {}) for n in names]
            there = {n for n, c in zip(names, cols) if 0 in c and 1 in c}
            made = sum(set(src).issubset(there) for src in load_map(map_name).joints.values())
            if set(LIMB_KEYPOINTS[map_name]) <= there and (best is None or made > best[0]):
                best = (made, names, map_name, cols)
        if best is None:
            return None
        _, names, map_name, cols = best
        lacking = [n for n, c in zip(names, cols) if not (0 in c and 1 in c)]
        cols = [c if 0 in c and 1 in c else {} for c in cols]
        partial = f"; {len(lacking)} of its keypoints not in the file ({', '.join(lacking[:4])}{' ...' if len(lacking) > 4 else ''}): missing"
    lowered = [h.strip().lower() for h in header]
    frame_col = lowered.index("frame") if "frame" in lowered else None
    raw = np.full((len(rows), len(names), 3), np.nan)
    numbers = []
    for r, (line, row) in enumerate(rows):
        if len(row) != len(header):
            raise InputError(f"{path}: line {line} has {len(row)} cells but the header has {len(header)}")
        try:
            for j, c in enumerate(cols):
                if not c:
                    continue
                x, y = (row[c[0]].strip(), row[c[1]].strip())
                if x and y:
                    conf = row[c["c"]].strip() if "c" in c else ""
                    raw[r, j] = (float(x), float(y), float(conf) if conf else 1.0)
        except (ValueError, OverflowError):
            raise InputError(f"{path}: line {line}: a keypoint cell is not a number") from None
        numbers.append(_frame_number(row[frame_col], r) if frame_col is not None else r)
    order = np.argsort(numbers, kind="stable")
    frames: list[np.ndarray | None] = [raw[r] for r in order]
    ordered = [numbers[r] for r in order]
    placed = frame_numbers(ordered) if frame_col is not None else None
    gaps = 0
    if placed is not None and placed[-1] - placed[0] + 1 > len(placed):  # a video's frames without a row stay empty
        slots = _at_numbers([[kp] for kp in frames], placed)
        gaps, frames = len(slots) - len(frames), [people[0] if people else None for people in slots]
    clock = ""
    if "time" in lowered:  # seconds: the video's rate, where it runs on a straight line through the frames
        col = lowered.index("time")
        times = np.array([number_or_nan(rows[r][1][col]) for r in order])
        rate = seconds_rate(times, np.asarray(ordered, dtype=np.float64))
        if rate is not None:
            fps, clock = rate, f" at {rate:.6g} frames a second (its time column)"
    take = keypoints_take(frames, names, map_name, path, fps, min_confidence)
    placed_note = f"; {gaps} frames without a row are empty, placed by the frame column" if gaps else ""
    return replace(take, provenance=replace(take.provenance, format="csv", notes=(
        f"2D keypoints named by their {map_name} names (a detector's CSV), one frame per row{clock}{placed_note}"
        f"{partial}",)
        + (() if clock else (assumed_rate_note("no time column", fps),))))


def dlc_header(rows: list[list[str]], path: Path) -> tuple[list[str], int] | None:
    """A DeepLabCut CSV's header rows (scorer, [individuals,] bodyparts, coords) as one row of named
    columns (`frame, nose_x, nose_y, nose_likelihood, ...`) and the row its data starts at; None where the
    file has no such rows. Several individuals (multi-animal projects) are refused: one person per take."""
    firsts = [row[0].strip().lower() if row else "" for row in rows[:4]]
    if len(firsts) < 3 or firsts[0] != "scorer" or "bodyparts" not in firsts or "coords" not in firsts:
        return None
    parts, coords = rows[firsts.index("bodyparts")], rows[firsts.index("coords")]
    if "individuals" in firsts:
        people = sorted({cell.strip() for cell in rows[firsts.index("individuals")][1:] if cell.strip()})
        if len(people) > 1:
            raise InputError(f"{path}: a DeepLabCut file of {len(people)} individuals ({', '.join(people[:4])}); gfpose "
                             "lifts one person per take: export one individual's keypoints")
    header = ["frame"] + [f"{part.strip()}_{coord.strip()}" for part, coord in zip(parts[1:], coords[1:])]
    return header, firsts.index("coords") + 1


def _frame_number(cell: str, row: int) -> int:
    """A frame column's number: 42, 42.0, or the last number of an image's name (frame_0042.jpg); the
    row's own place where it holds none."""
    try:
        return int(float(cell))
    except (ValueError, OverflowError):
        found = re.findall(r"\d+", cell)
        return int(found[-1]) if found else row


def number_or_nan(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        return float("nan")


def rate_assumed(take: Take) -> Take:
    """A take read from a detector's file, which gives no frame rate, with ASSUMED_FPS_NOTE said."""
    return replace(take, provenance=take.provenance.but(notes=take.provenance.notes + (ASSUMED_FPS_NOTE,)))


def confident_only(take: Take, min_confidence: float = MIN_CONFIDENCE) -> Take:
    """A 2D take whose keypoints carry a confidence (NPZ 'confidence', a CSV's score columns) with those below
    min_confidence missing, as the JSON readers read them (a detector writes an unseen keypoint as 0, 0 with
    score 0: lifted as seen, it pulled the joint to the image's corner); said."""
    if take.dim != 2 or take.confidence is None:
        return take
    low = take.mask & ~(take.confidence >= min_confidence)
    if not low.any():
        return take
    positions = take.positions.copy()
    positions[low] = np.nan
    note = (f"{int(low.sum())} keypoints with a confidence below {min_confidence:g} read as missing "
            f"({int(low.any(1).sum())} frames)")
    return replace(take.with_positions(positions, take.mask & ~low),
                   provenance=take.provenance.but(notes=take.provenance.notes + (note,)))

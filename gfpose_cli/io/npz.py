"""NPZ poses in the project's stable schema (README "File formats").

Keys: poses float32 (F,17,3) | (F,S,17,3) metres or (F,17,2) pixels (also a detector's own keypoints:
(F,K,2) or x, y, score triplets (F,K,3), K = 17 in COCO-17's order or 18, 25, 26, 133; read through the
map its JSON is read with); joints; fps;
optional mask (F,17) bool true = observed, root (F,3), confidence (F,17), axes ("camera" for 3D
poses in a camera's frame, x right, y down, z forward: a lift's output; absent or "z-up" for mocap).
"""
from __future__ import annotations

import contextlib
import queue
import threading
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from gfpose_cli.core.errors import InputError, OutputError
from gfpose_cli.core.skeleton import JOINTS, N_JOINTS
from gfpose_cli.core.take import Provenance, ShardPlace, Take
from gfpose_cli.signal.clock import ASSUMED_FPS, assumed_rate_note
from gfpose_cli.io.keypoints2d import BODY25, COCO17, COCO18, MIN_CONFIDENCE, detector_layout, keypoints_take
from gfpose_cli.util.atomic import atomic_path

POSE_KEYS = ("poses", "positions", "keypoints", "poses_3d", "poses_2d")
#: keypoints per frame of detectors' layouts an NPZ of 2D keypoints may hold besides 17 (read as keypoints2d
#: reads their JSON): OpenPose's COCO-18 and BODY_25 (or BODY_25B), Halpe-26, COCO-WholeBody-133
DETECTOR_COUNTS = (18, 25, 26, 133)
#: the names a 'joints' array of such keypoints may give (the first 17 for Halpe and WholeBody)
DETECTOR_NAMES = {18: (tuple(n.lower() for n in COCO18),), 25: (tuple(n.lower() for n in BODY25), COCO17),
                  26: (COCO17,), 133: (COCO17,)}
DETECTOR_WORDS = {"openpose18": "OpenPose's COCO-18", "openpose25": "OpenPose's BODY_25", "coco17": "BODY_25B"}
#: the frames 3D poses may be stored in: a camera's (a lift's output) or the canonical Z-up mocap frame
AXES = ("camera", "z-up")


#: rotations per frame of the SMPL family's pose parameters (axis-angle, 3 per joint): SMPL 24, SMPL-H 52, SMPL-X 55
SMPL_POSE_WIDTHS = {72: "SMPL", 156: "SMPL-H (AMASS)", 165: "SMPL-X"}


def _smpl_parameters(files: dict) -> str | None:
    """Why an NPZ of a body model's parameters (AMASS's `poses`, `trans`, `betas`) is not read: they are joint
    rotations of a body whose shape needs the model's files; None for another NPZ."""
    poses = files.get("poses")
    if poses is None or np.ndim(poses) != 2 or np.shape(poses)[1] not in SMPL_POSE_WIDTHS:
        return None
    if not any(k in files for k in ("trans", "betas", "root_orient", "pose_body")):
        return None
    model = SMPL_POSE_WIDTHS[np.shape(poses)[1]]
    return (f"{model} body-model parameters ('poses' holds {np.shape(poses)[1] // 3} joint rotations a frame, with "
            "'trans' and 'betas'), not joint positions; run the body model (the smplx package) for its joints and "
            "save them as 'poses' (frames, 17, 3) in Human3.6M's order, or export the take as BVH")


def read(path: Path) -> Take:
    """Read an NPZ take; NaN or mask=False marks missing joints."""
    pickled: list[str] = []
    try:
        # the file opened here, so a damaged archive that numpy gives up on is closed too
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
            files = {}
            for name in data.files:
                try:
                    files[name] = data[name]
                except ValueError as exc:
                    if "allow_pickle" not in str(exc):
                        raise
                    pickled.append(name)  # a Python object (a dict, a list of mixed things): not loaded, it can run code
    except Exception as exc:  # noqa: BLE001 - zlib, zipfile and numpy each raise their own kinds on damage
        raise InputError(f"{path}: not a readable NPZ file ({type(exc).__name__}: {str(exc)[:120]})") from None
    if any(k in pickled for k in (*POSE_KEYS, "joints", "mask", "fps")):
        raise InputError(f"{path}: its {', '.join(repr(k) for k in pickled)} hold pickled Python objects, which gfpose does "
                         "not load (they can run code): save them as arrays (names as np.array(names, dtype=str))")
    key = next((k for k in POSE_KEYS if k in files), None)
    smpl = _smpl_parameters(files)
    if smpl:
        raise InputError(f"{path}: {smpl}")
    if key is None:
        found = ", ".join(f"{k} {tuple(np.shape(v))}" for k, v in files.items()) or "nothing"
        raise InputError(f"{path}: no 'poses' array (found: {found}); gfpose reads 'poses': 3D joints (frames, 17, 3) "
                         "in Human3.6M's order (VideoPose3D's and MotionBERT's outputs), or 2D keypoints (frames, 17, 2)")
    poses = np.asarray(files[key])
    n = poses.shape[-2] if poses.ndim >= 2 else 0
    detector = poses.ndim == 3 and n in DETECTOR_COUNTS  # a detector's own keypoints (2D): OpenPose's 25, ...
    if poses.ndim not in (3, 4) or (n != N_JOINTS and not detector) or poses.shape[-1] not in (2, 3):
        raise InputError(
            f"{path}: '{key}' has shape {poses.shape}; expected (frames, 17, 3), (frames, S, 17, 3) or (frames, 17, 2) "
            "(2D keypoints also as a detector gives them: 18, 25, 26 or 133 per frame)"
        )
    if not np.issubdtype(poses.dtype, np.number):
        raise InputError(f"{path}: '{key}' is not numeric ({poses.dtype})")
    names = None
    if "joints" in files:
        names = [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in files["joints"].tolist()]
        lowered = [name.lower() for name in names]
        known = ([j.lower() for j in JOINTS], list(COCO17)) if n == N_JOINTS else DETECTOR_NAMES.get(n, ())
        if not any(lowered[:len(k)] == list(k) and len(lowered) == n for k in known):
            raise InputError(f"{path}: joints {names} are not the 17 gfpose joints in order ({', '.join(JOINTS)}) "
                             f"nor a detector's {n} keypoints (COCO-17, OpenPose's BODY_25 or COCO-18)")
    poses = poses.astype(np.float32)
    if np.isinf(poses).any():
        frame = int(np.argwhere(np.isinf(poses))[0][0])
        raise InputError(f"{path}: frame {frame} holds an infinite coordinate; use NaN for missing joints")
    notes: tuple[str, ...] = ()
    scores = None
    if "confidence" not in files and keypoint_triplets(poses):
        poses, scores = poses[..., :2], poses[..., 2]
        notes += (f"'{key}' read as 2D keypoints in pixels with a confidence each (x, y, score: every third value "
                  "lies within 0..1, while a frame's x and y span tens of units)",)
    if n != N_JOINTS and poses.shape[-1] != 2:
        raise InputError(f"{path}: '{key}' holds {n} points per frame with a third value that is not a score within "
                         "0..1; gfpose reads 2D keypoints as a detector gives them, and 3D poses as its 17 joints")
    order = "detector" if n != N_JOINTS else keypoint_order(poses, path, None if names is None else names[0].lower() == "nose")
    mask = None
    if "mask" in files:
        mask = np.asarray(files["mask"]).astype(bool)
        if mask.shape != (poses.shape[0], n):
            raise InputError(f"{path}: 'mask' has shape {mask.shape}, expected ({poses.shape[0]}, {n})")
        finite = np.isfinite(poses).all(-1)
        finite = finite.all(1) if poses.ndim == 4 else finite
        mask = mask & finite
    fps = _fps(files.get("fps"), path)
    # gfpose's own key: a 0-d string (another tool's array under that name is not ours to read)
    named = "axes" in files and files["axes"].ndim == 0 and files["axes"].dtype.kind == "U"
    axes = str(files["axes"]) if named else "z-up"
    if axes not in AXES:
        raise InputError(f"{path}: 'axes' is {axes!r}; expected {' or '.join(repr(a) for a in AXES)}")
    root, confidence = files.get("root"), files.get("confidence")
    for name, value, shape in (("root", root, (poses.shape[0], 3)), ("confidence", confidence, (poses.shape[0], n))):
        if value is not None and (np.shape(value) != shape or not np.issubdtype(np.asarray(value).dtype, np.number)):
            raise InputError(f"{path}: '{name}' has shape {np.shape(value)}, expected {shape} numbers")
    confidence = scores if confidence is None else np.asarray(confidence, np.float32)
    map_name = None
    if order != "gfpose":  # a detector's own keypoint order, read through its map as its JSON is
        if poses.ndim == 4:
            raise InputError(f"{path}: '{key}' holds several 2D hypotheses per frame in a detector's keypoint order; "
                             "2D keypoints come one person per frame")
        raw = np.concatenate([poses, (np.ones(poses.shape[:2]) if confidence is None else confidence)[..., None]], -1)
        if mask is not None:
            raw[~mask] = np.nan
        layout, map_name = detector_layout(n, [[kp] for kp in raw], path)
        take = keypoints_take(list(raw[:, :len(layout)]), layout, map_name, path, 30.0,
                              MIN_CONFIDENCE if confidence is not None else 0.0)
        poses, mask, confidence = take.positions, take.mask, take.confidence
        if n == N_JOINTS:
            notes += (f"'{key}' read in COCO-17's keypoint order (nose, eyes, ears, shoulders, ...): "
                      + ("its 'joints' say so" if names is not None else "its first five keypoints are a face, not a "
                         "pelvis and a leg") + "; pelvis, spine, thorax and head placed from them as for a COCO JSON",)
        else:
            words = DETECTOR_WORDS[map_name] if n in (18, 25) else "Halpe-26 or COCO-WholeBody-133, by their first 17"
            notes += (f"'{key}' read as a detector's {n} keypoints ({words}) through the {map_name} map",)
    return Take(
        positions=poses,
        mask=mask,
        fps=fps,
        root=None if root is None else np.asarray(root, np.float32),
        confidence=confidence,
        provenance=Provenance(path=str(path), format="npz", map=map_name,
                              camera_frame=axes == "camera" and poses.shape[-1] == 3,
                              notes=notes + ((f"left out {', '.join(repr(k) for k in pickled)}: pickled Python objects, "
                                              "which gfpose does not load",) if pickled else ())
                              + (() if "fps" in files else (assumed_rate_note("no 'fps' key", fps),))),
        shard=_shard_place(files),
    )


#: a frame of COCO-17 keypoints: its first five (nose, eyes, ears) lie within this share of the body's size of
#: their mean; gfpose's first five (the pelvis, right leg and left hip) rarely do (0-0.3 % of the training
#: takes' frames filmed from the side, 0.3-4 % from 80-89 degrees up)
FACE_SHARE = 0.4
#: left and right limbs (upper arm, forearm, thigh, shin) of each order: read in the right order they
#: match (median log ratio of lengths 0.1-0.2 from the side); in the wrong one they do not (0.4-1.4)
LIMB_PAIRS = {"gfpose": (((11, 12), (14, 15)), ((12, 13), (15, 16)), ((4, 5), (1, 2)), ((5, 6), (2, 3))),
              "coco17": (((5, 7), (6, 8)), ((7, 9), (8, 10)), ((11, 13), (12, 14)), ((13, 15), (14, 16)))}
#: a take is in COCO-17's order where more than half its frames look it (a face first, left and right
#: limbs that match in that order: 99-100 % of COCO frames from the side, 31-95 % from 80-89 degrees up),
#: in gfpose's where under COCO_UNSURE[0] do (0-1.8 % of gfpose's); between, the reader cannot tell and
#: says so (a ceiling camera's COCO take may be refused so, never read in the wrong order)
COCO_UNSURE = (0.05, 0.5)


def _asymmetry(p: np.ndarray, pairs) -> np.ndarray:
    """Per frame, the mean |log| of left-to-right length ratios of the limb pairs (NaN where unseen)."""
    ratios = [np.log(np.linalg.norm(p[:, a] - p[:, b], axis=-1) / np.linalg.norm(p[:, c] - p[:, d], axis=-1))
              for (a, b), (c, d) in pairs]
    return np.abs(np.stack(ratios, 1)).mean(1)


def keypoint_order(poses: np.ndarray, path: Path, coco: bool | None) -> str:
    """'gfpose' or 'coco17': the order of 17 keypoints not named (coco None) or named (coco True when
    COCO-17's names), told frame by frame by a face first (COCO's nose, eyes and ears, where gfpose has
    the pelvis, right leg and left hip) and by which order makes left and right limbs match; refused
    where a take cannot tell. 3D in COCO-17's order is refused (a 2D detector's layout)."""
    if coco is None:
        p = poses if poses.ndim == 3 else poses[:, 0]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            face = np.linalg.norm(p[:, :5] - p[:, :5].mean(1, keepdims=True), axis=-1).max(1)
            body = np.sqrt(np.mean(np.sum((p - p.mean(1, keepdims=True)) ** 2, -1), 1))
            share = face / body
            as_coco, as_ours = _asymmetry(p, LIMB_PAIRS["coco17"]), _asymmetry(p, LIMB_PAIRS["gfpose"])
            told = np.isfinite(share) & ~np.isnan(as_coco) & ~np.isnan(as_ours) & (body > 0)
            looks_coco = float(np.mean((share < FACE_SHARE) & (as_coco < as_ours), where=told)) if told.any() else 0.0
        if COCO_UNSURE[0] <= looks_coco <= COCO_UNSURE[1]:
            raise InputError(f"{path}: cannot tell the order of its 17 keypoints ({looks_coco:.0%} of its frames look "
                             "like COCO-17's, from the nose; the rest like gfpose's, from the pelvis); add a 'joints' "
                             "array of their names")
        coco = looks_coco > COCO_UNSURE[1]
    if coco and poses.shape[-1] == 3:
        raise InputError(f"{path}: its 17 points are in COCO-17's keypoint order (nose, eyes, ears, ...), which gfpose "
                         f"reads for 2D keypoints only; save 3D poses in gfpose's joint order ({', '.join(JOINTS)})")
    return "coco17" if coco else "gfpose"


def keypoint_triplets(poses: np.ndarray) -> bool:
    """(F, 17, 3) of x, y in pixels and a detector's score: every finite third value within 0..1 while a
    frame's x and y span more than 10 units (no body is 10 m wide and flat within 1 m, nor 10 mm wide)."""
    if poses.ndim != 3 or poses.shape[-1] != 3:
        return False
    third = poses[..., 2][np.isfinite(poses).all(-1)]
    if third.size == 0 or third.min() < 0 or third.max() > 1:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        span = np.nanmax(poses[..., :2], 1) - np.nanmin(poses[..., :2], 1)
        return bool(np.nanmedian(span.max(-1)) > 10)


def _fps(value, path: Path) -> float:
    """The 'fps' key: one positive number, stored as a scalar or a one-element array (np.savez(fps=[120]));
    ASSUMED_FPS where there is none."""
    if value is None:
        return ASSUMED_FPS
    value = np.asarray(value)
    if value.size != 1 or not np.issubdtype(value.dtype, np.number) or not np.isfinite(value).all() or value.item() <= 0:
        shown = value.tolist() if value.size <= 4 else f"an array of shape {value.shape}"
        raise InputError(f"{path}: 'fps' is {shown!r}; expected one positive number (frames per second)")
    return float(value.item())


def _shard_place(files: dict) -> ShardPlace | None:
    if "shard" not in files or "frames" not in files:
        return None
    k, n = (int(v) for v in files["shard"])
    start, stop, total = (int(v) for v in files["frames"])
    return ShardPlace(index=k, count=n, start=start, stop=stop, total=total)


def write(take: Take, path: Path, force: bool = True) -> None:
    """Write a take atomically in the NPZ schema; missing joints are NaN and mask=False."""
    with atomic_path(path, force) as tmp, open(tmp, "wb") as fh:
        save_npz(fh, npz_arrays(take))


def npz_arrays(take: Take) -> dict[str, np.ndarray]:
    """The arrays of a take's NPZ file, in the order they are written (poses first)."""
    poses = take.positions.astype(np.float32).copy()
    if poses.ndim == 3:
        poses[~take.mask] = np.nan
    arrays: dict[str, np.ndarray] = {
        "poses": poses,
        "joints": np.array(JOINTS),
        "fps": np.float32(take.fps),
        "mask": take.mask.astype(bool),
    }
    if take.provenance.camera_frame and take.dim == 3:  # read back in the same frame (convert to BVH, render)
        arrays["axes"] = np.array("camera")
    if take.root is not None:
        arrays["root"] = take.root.astype(np.float32)
    if take.confidence is not None:
        arrays["confidence"] = take.confidence.astype(np.float32)
    if take.shard is not None:
        place = take.shard
        arrays["shard"] = np.asarray((place.index, place.count), np.int64)  # (K, N)
        arrays["frames"] = np.asarray((place.start, place.stop, place.total), np.int64)  # (start, stop, total)
    return arrays


def _member(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


class PoseStream:
    """An NPZ take written while its poses are being made: each finished chunk of poses (in order)
    goes to a background thread that compresses it into the file's 'poses' member, so compressing
    overlaps sampling (zlib releases the GIL) instead of following it; finish(take) then writes the
    other arrays and renames the file into place. The file has the same bytes write(take) makes
    (tested). Nothing is left behind when sampling fails: abort() (or an exception inside a `with`)
    removes the temporary file. put() raises the writer's own error (a full disk) at the next chunk.
    scratch: where the temporary file lives while the job runs (atomic_path; a job's resume folder).

        with PoseStream(path, force=True) as stream:
            take = generate(runner, n, sink=stream.put)
            stream.finish(take)
    """

    def __init__(self, path: Path, *, force: bool = True, scratch: Path | None = None, depth: int = 4) -> None:
        self.path = Path(path)
        self._atomic = atomic_path(self.path, force, scratch)
        tmp = self._atomic.__enter__()
        self._fh = open(tmp, "wb")
        self._zip = zipfile.ZipFile(self._fh, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        self._poses = None  # the open 'poses' member
        self._shape: tuple[int, ...] | None = None
        self._rows, self._crc = 0, 0  # rows written and the CRC-32 of their bytes
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="npz-writer", daemon=True)
        self._thread.start()

    def put(self, rows: np.ndarray, total: int) -> None:
        """The next rows (k, 17, 3) of a job of total rows."""
        self._raise_error()
        self._queue.put((np.ascontiguousarray(rows, np.float32), int(total)))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue  # drain: the sampler's puts must not block on a dead writer
            try:
                rows, total = item
                if self._poses is None:
                    self._shape = (total, *rows.shape[1:])
                    self._poses = self._zip.open(_member("poses"), "w", force_zip64=True)
                    np.lib.format.write_array_header_1_0(self._poses, {
                        "descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                        "fortran_order": False, "shape": self._shape})
                if rows.shape[1:] != self._shape[1:] or self._rows + len(rows) > total:
                    raise ValueError(f"rows of shape {rows.shape} do not continue poses of shape {self._shape}")
                data = rows.tobytes()
                self._poses.write(data)
                self._rows, self._crc = self._rows + len(rows), zlib.crc32(data, self._crc)
            except BaseException as exc:  # noqa: BLE001 - kept for the sampler's thread to raise
                self._error = exc

    def _raise_error(self) -> None:
        exc = self._error
        if isinstance(exc, OSError):  # disk full, quota: atomic_path's sentence (abort removes the part)
            raise OutputError(f"{self.path}: could not be written ({exc.strerror or exc}); nothing was left "
                              "behind; free some space or choose another -o") from None
        if exc is not None:
            raise exc

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def finish(self, take: Take) -> None:
        """Write the take's other arrays and put the file in place; take.positions must be the rows put."""
        self._stop()
        try:
            self._raise_error()
            arrays = npz_arrays(take)
            poses = arrays.pop("poses")
            if (self._shape is None or poses.shape != self._shape or self._rows != len(poses)
                    or zlib.crc32(poses.tobytes()) != self._crc):  # never a file that is not the take
                raise ValueError(f"{self.path}: the {self._rows} streamed rows of {self._shape} are not the take's "
                                 f"poses {poses.shape}; nothing was written")
            self._poses.close()
            for name, value in arrays.items():
                with self._zip.open(_member(name), "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
            self._zip.close()
            self._fh.close()
        except BaseException as exc:
            self.abort(exc)
            if isinstance(exc, OSError):
                self._error = exc
                self._raise_error()
            raise
        self._close(None)

    def abort(self, exc: BaseException | None = None) -> None:
        """Stop writing and leave no file behind."""
        self._stop()
        with contextlib.suppress(Exception):
            if self._poses is not None:
                self._poses.close()
            self._zip.close()
        self._zip.fp = None  # discarded: ZipFile must not try to finish it again when collected
        with contextlib.suppress(Exception):
            self._fh.close()
        self._close(exc or RuntimeError("aborted"))

    def _close(self, exc: BaseException | None) -> None:
        if self._closed:
            return
        self._closed = True
        if exc is None:
            self._atomic.__exit__(None, None, None)
        else:
            with contextlib.suppress(BaseException):
                self._atomic.__exit__(type(exc), exc, exc.__traceback__)

    def __enter__(self) -> "PoseStream":
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if not self._closed:
            if exc is None:
                self.abort(RuntimeError(f"{self.path}: the stream was closed before finish()"))
                raise RuntimeError(f"{self.path}: the stream was closed before finish(); nothing was written")
            self.abort(exc)


def save_npz(fh, arrays: dict[str, np.ndarray]) -> None:
    """np.savez_compressed with fixed member timestamps, so the same poses give the same bytes.

    numpy stamps each member with the current time, which makes two identical runs differ.
    """
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for name, value in arrays.items():
            with zf.open(_member(name), "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)

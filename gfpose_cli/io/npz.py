"""NPZ poses in the project's stable schema (README "File formats").

Keys: poses float32 (F,17,3) | (F,S,17,3) metres or (F,17,2) pixels; joints; fps;
optional mask (F,17) bool true = observed, root (F,3), confidence (F,17).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import JOINTS, N_JOINTS
from gfpose_cli.core.take import Provenance, ShardPlace, Take
from gfpose_cli.util.atomic import atomic_path

POSE_KEYS = ("poses", "positions", "keypoints", "poses_3d", "poses_2d")


def read(path: Path) -> Take:
    """Read an NPZ take; NaN or mask=False marks missing joints."""
    try:
        with np.load(path, allow_pickle=False) as data:
            files = dict(data.items())
    except Exception as exc:  # noqa: BLE001 - zlib, zipfile and numpy each raise their own kinds on damage
        raise InputError(f"{path}: not a readable NPZ file ({type(exc).__name__}: {str(exc)[:120]})") from None
    key = next((k for k in POSE_KEYS if k in files), None)
    if key is None:
        raise InputError(f"{path}: no 'poses' array (found: {', '.join(files) or 'nothing'})")
    poses = np.asarray(files[key])
    if poses.ndim not in (3, 4) or poses.shape[-2] != N_JOINTS or poses.shape[-1] not in (2, 3):
        raise InputError(
            f"{path}: '{key}' has shape {poses.shape}; expected (frames, 17, 3), (frames, S, 17, 3) or (frames, 17, 2)"
        )
    if not np.issubdtype(poses.dtype, np.number):
        raise InputError(f"{path}: '{key}' is not numeric ({poses.dtype})")
    if "joints" in files:
        names = [str(n) for n in files["joints"]]
        if [n.lower() for n in names] != [n.lower() for n in JOINTS]:
            raise InputError(f"{path}: joints {names} are not the 17 gfpose joints in order ({', '.join(JOINTS)})")
    poses = poses.astype(np.float32)
    if np.isinf(poses).any():
        frame = int(np.argwhere(np.isinf(poses))[0][0])
        raise InputError(f"{path}: frame {frame} holds an infinite coordinate; use NaN for missing joints")
    mask = None
    if "mask" in files:
        mask = np.asarray(files["mask"]).astype(bool)
        if mask.shape != (poses.shape[0], N_JOINTS):
            raise InputError(f"{path}: 'mask' has shape {mask.shape}, expected ({poses.shape[0]}, 17)")
        finite = np.isfinite(poses).all(-1)
        finite = finite.all(1) if poses.ndim == 4 else finite
        mask = mask & finite
    fps = float(files["fps"]) if "fps" in files else 30.0
    root = files.get("root")
    confidence = files.get("confidence")
    return Take(
        positions=poses,
        mask=mask,
        fps=fps,
        root=None if root is None else np.asarray(root, np.float32),
        confidence=None if confidence is None else np.asarray(confidence, np.float32),
        provenance=Provenance(path=str(path), format="npz"),
        shard=_shard_place(files),
    )


def _shard_place(files: dict) -> ShardPlace | None:
    if "shard" not in files or "frames" not in files:
        return None
    k, n = (int(v) for v in files["shard"])
    start, stop, total = (int(v) for v in files["frames"])
    return ShardPlace(index=k, count=n, start=start, stop=stop, total=total)


def write(take: Take, path: Path, force: bool = True) -> None:
    """Write a take atomically in the NPZ schema; missing joints are NaN and mask=False."""
    poses = take.positions.astype(np.float32).copy()
    if poses.ndim == 3:
        poses[~take.mask] = np.nan
    arrays: dict[str, np.ndarray] = {
        "poses": poses,
        "joints": np.array(JOINTS),
        "fps": np.float32(take.fps),
        "mask": take.mask.astype(bool),
    }
    if take.root is not None:
        arrays["root"] = take.root.astype(np.float32)
    if take.confidence is not None:
        arrays["confidence"] = take.confidence.astype(np.float32)
    if take.shard is not None:
        place = take.shard
        arrays["shard"] = np.asarray((place.index, place.count), np.int64)  # (K, N)
        arrays["frames"] = np.asarray((place.start, place.stop, place.total), np.int64)  # (start, stop, total)
    with atomic_path(path, force) as tmp, open(tmp, "wb") as fh:
        save_npz(fh, arrays)


def save_npz(fh, arrays: dict[str, np.ndarray]) -> None:
    """np.savez_compressed with fixed member timestamps, so the same poses give the same bytes.

    numpy stamps each member with the current time, which makes two identical runs differ.
    """
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for name, value in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)

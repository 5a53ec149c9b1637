"""Readers and writers: `read(path) -> Take`, `write(take, path)`; format chosen by extension.

Every reader returns 3D poses in metres in the canonical Z-up frame (or 2D in pixels).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..geometry import Y_UP_TO_Z_UP
from ..maps import SkeletonMap, auto_map, load_map
from ..skeleton import JOINTS
from ..take import Take
from . import csv as csv_io
from . import npz as npz_io

READ_FORMATS = ("npz", "csv", "bvh", "amc", "c3d", "json")
WRITE_FORMATS = ("npz", "csv")


def format_of(path: Path, fmt: str | None = None) -> str:
    """The format named by fmt or by the file extension."""
    fmt = (fmt or Path(path).suffix.lstrip(".")).lower()
    if fmt not in READ_FORMATS:
        raise InputError(f"{path}: unsupported format '{fmt or '(no extension)'}'; supported: {', '.join(READ_FORMATS)}")
    return fmt


def up_rotation(up: np.ndarray) -> np.ndarray:
    """Rotation taking the dominant direction of vector up (a signed axis) to +Z."""
    axis = int(np.argmax(np.abs(up)))
    sign = np.sign(up[axis]) or 1.0
    if axis == 2:
        return np.diag([1.0, sign, sign])  # Z up or Z down (rotate 180 degrees about X)
    if axis == 1:
        return Y_UP_TO_Z_UP if sign > 0 else np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])
    return np.array([[0, 0, -sign], [0, 1.0, 0], [sign, 0, 0]])  # X up: rotate about Y


def to_z_up(poses: np.ndarray, rest: np.ndarray) -> tuple[np.ndarray, str]:
    """Rotate mapped poses (F, 17, 3) so that the skeleton's up (ankles to head in its rest pose) is +Z.

    The rest pose (offsets with zero rotations) is used rather than the motion, because a take
    may spend its time bent over or lying down.
    """
    head, ankles = JOINTS.index("Head"), [JOINTS.index("RAnkle"), JOINTS.index("LAnkle")]
    up = rest[head] - rest[ankles].mean(0)
    axis = int(np.argmax(np.abs(up)))
    label = ("+" if up[axis] > 0 else "-") + "XYZ"[axis]
    return poses @ up_rotation(up).T, label


def _rest_17(smap: SkeletonMap, names: list[str], rest: np.ndarray, where: str) -> np.ndarray:
    return smap.apply(names, rest[None], where=where)[0][0]


def read_bvh(path: Path, skeleton_map: str | SkeletonMap | None = None, units: float | None = None) -> Take:
    """Read a BVH file into a 17-joint Take (metres, Z up) through a skeleton map."""
    from . import bvh as bvh_io

    skel = bvh_io.read_skeleton(path)
    return take_from_bvh(skel, path, skeleton_map, units)


def take_from_bvh(skel, path, skeleton_map=None, units: float | None = None) -> Take:
    """Forward kinematics, units, map and axes for a parsed BVH skeleton."""
    from . import bvh as bvh_io

    world = bvh_io.forward_kinematics(skel)
    rest = np.zeros_like(skel.offsets)
    for j, p in enumerate(skel.parents):
        rest[j] = skel.offsets[j] + (rest[p] if p >= 0 else 0)
    smap = skeleton_map if isinstance(skeleton_map, SkeletonMap) else (
        load_map(skeleton_map) if skeleton_map else auto_map(skel.names, str(path)))
    rest17 = _rest_17(smap, skel.names, rest, str(path))
    if units is None:
        span = float(np.linalg.norm(rest17[JOINTS.index("Head")] - rest17[[JOINTS.index("RAnkle"), JOINTS.index("LAnkle")]].mean(0)))
        scale, unit_name = bvh_io.unit_scale(span)
    else:
        scale, unit_name = units, "given"
    poses, mask = smap.apply(skel.names, world * scale, where=str(path))
    poses, up = to_z_up(poses, rest17)
    return Take(
        positions=poses.astype(np.float32),
        mask=mask,
        fps=skel.fps,
        source={"path": str(path), "format": "bvh", "map": smap.name, "units_to_m": scale, "units": unit_name,
                "up": up},
    )


def read_amc(amc_path: Path, asf_path: Path | None = None, skeleton_map: str | SkeletonMap | None = None,
             asf_text: str | None = None, amc_text: str | None = None) -> Take:
    """Read an Acclaim AMC motion with its ASF skeleton (by default the only .asf beside it)."""
    from . import amc

    if asf_text is None:
        if asf_path is None:
            found = sorted(Path(amc_path).parent.glob("*.asf"))
            if len(found) != 1:
                raise InputError(f"{amc_path}: expected exactly one .asf skeleton beside it, found {len(found)}")
            asf_path = found[0]
        asf_text = amc.read_text(asf_path)
    skel = amc.parse_asf(asf_text, str(asf_path))
    motion = amc.parse_amc(amc_text if amc_text is not None else amc.read_text(amc_path), skel, str(amc_path))
    names, world = amc.forward_kinematics(skel, motion)
    rest_motion = {k: np.zeros((1, v.shape[1])) for k, v in motion.items()}
    _, rest = amc.forward_kinematics(skel, rest_motion)
    smap = skeleton_map if isinstance(skeleton_map, SkeletonMap) else (
        load_map(skeleton_map) if skeleton_map else auto_map(names, str(amc_path)))
    poses, mask = smap.apply(names, world, where=str(amc_path))
    poses, up = to_z_up(poses, _rest_17(smap, names, rest[0], str(amc_path)))
    return Take(positions=poses.astype(np.float32), mask=mask, fps=120.0,
                source={"path": str(amc_path), "format": "amc", "map": smap.name, "up": up})


def read(path: str | Path, fmt: str | None = None, skeleton_map: str | None = None,
         subject: str | None = None) -> Take:
    """Read any supported file into a Take (skeleton_map: preset name or .toml; subject: C3D prefix)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        from . import keypoints2d

        if keypoints2d.is_openpose_folder(path):
            return keypoints2d.read_openpose(path)
        raise InputError(f"{path}: is a folder, expected a file (or an OpenPose *_keypoints.json folder)")
    kind = format_of(path, fmt)
    if kind == "npz":
        return npz_io.read(path)
    if kind == "csv":
        return csv_io.read(path)
    if kind == "json":
        from . import keypoints2d

        return keypoints2d.read_coco(path)
    if kind == "c3d":
        from . import c3d

        return c3d.read(path, skeleton_map, subject)
    if kind == "amc":
        return read_amc(path, skeleton_map=skeleton_map)
    return read_bvh(path, skeleton_map)


def write(take: Take, path: str | Path, fmt: str | None = None, force: bool = True) -> None:
    """Write a Take; the format follows the extension (npz, csv)."""
    path = Path(path)
    kind = (fmt or path.suffix.lstrip(".")).lower()
    if kind == "npz":
        npz_io.write(take, path, force)
    elif kind == "csv":
        csv_io.write(take, path, force)
    else:
        raise InputError(f"{path}: cannot write format '{kind or '(no extension)'}'; supported: {', '.join(WRITE_FORMATS)}")

"""C3D marker files through ezc3d: markers -> 17 joint centres via a skeleton map.

Units come from POINT:UNITS (mm or m), missing samples from residual < 0 or NaN, the rate from
POINT:RATE, and the vertical axis from POINT:Y_SCREEN when the file declares it (else from the
markers: the body is upright most of the time). Label prefixes (`Derrick:`) name subjects.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..maps import SkeletonMap, auto_map, load_map, normalise_name
from ..skeleton import JOINTS
from ..take import Take

UNIT_TO_M = {"mm": 0.001, "cm": 0.01, "m": 1.0, "dm": 0.1}


def _param(params: dict, group: str, name: str):
    try:
        return params[group][name]["value"]
    except KeyError:
        return None


def open_c3d(path: Path):
    import ezc3d

    from .sandbox import preflight

    preflight(path, lambda p: ezc3d.c3d(str(p), extract_forceplat_data=False), "C3D")
    try:
        return ezc3d.c3d(str(path), extract_forceplat_data=False)
    except Exception as exc:  # ezc3d raises plain RuntimeError/ValueError on bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "ignoreBadFormatting" in first:  # ezc3d's hint names an option gfpose users do not have
            first = "it is cut off or does not follow the C3D layout"
        raise InputError(f"{path}: not a readable C3D file ({first[:120]})") from None


def subjects_of(labels: list[str]) -> list[str]:
    """Label prefixes before ':' (the subjects of a multi-performer file), most markers first."""
    counts = Counter(label.split(":", 1)[0] for label in labels if ":" in label)
    return [name for name, _ in counts.most_common()]


def _disambiguate(labels: list[str], descriptions: list[str]) -> list[str]:
    """Repeated labels (BTK's Gait.c3d has RKNE twice: lateral and medial) take their description
    when that is unique; labels that stay ambiguous are left for the clash check to refuse."""
    counts = Counter(normalise_name(label) for label in labels)
    taken = {normalise_name(label) for label in labels}
    out, seen = [], set()
    for label, desc in zip(labels, descriptions):
        key = normalise_name(label)
        if counts[key] > 1 and key in seen and desc and normalise_name(desc) not in taken \
                and sum(d == desc for d in descriptions) == 1:
            out.append(desc)
            taken.add(normalise_name(desc))
        else:
            out.append(label)
        seen.add(key)
    return out


def performers(path: Path) -> list[str]:
    """The performers (label prefixes) of a C3D file, most markers first; empty when unprefixed."""
    c = open_c3d(Path(path))
    return subjects_of([str(label).strip() for label in (_param(c["parameters"], "POINT", "LABELS") or [])])


def subjects_in(path: Path) -> list[str]:
    """The performers (label prefixes) of a C3D file; refuses a file with none."""
    if Path(path).suffix.lower() != ".c3d":
        raise InputError(f"{path}: --subject all is for C3D files with several performers")
    found = performers(path)
    if not found:
        raise InputError(f"{path}: its marker labels carry no subject prefix (like Derrick:); drop --subject")
    return found


def read(path: Path, skeleton_map: str | SkeletonMap | None = None, subject: str | None = None,
         units: tuple[float, str] | None = None) -> Take:
    """Read a C3D file into a 17-joint Take (metres, Z up); units (metres per unit, name) overrides POINT:UNITS."""
    c = open_c3d(path)
    params = c["parameters"]
    labels = [str(label).strip() for label in (_param(params, "POINT", "LABELS") or [])]
    points = np.asarray(c["data"]["points"], dtype=np.float64)  # (4, N, F)
    if points.ndim != 3 or points.shape[1] == 0 or points.shape[2] == 0:
        raise InputError(f"{path}: the C3D file holds no marker data")
    labels = labels[: points.shape[1]] + [f"unlabelled{i}" for i in range(len(labels), points.shape[1])]
    descriptions = [str(d).strip() for d in (_param(params, "POINT", "DESCRIPTIONS") or [])]
    subjects = subjects_of(labels)
    if subject is not None:
        keep = [i for i, label in enumerate(labels) if label.split(":", 1)[0] == subject]
        if not keep:
            raise InputError(f"{path}: no markers of subject {subject!r}; subjects: {', '.join(subjects) or 'none'}")
    elif len(subjects) > 1:
        raise InputError(f"{path}: several subjects ({', '.join(subjects)}); pick one with --subject")
    else:
        keep = list(range(len(labels)))
    labels = _disambiguate([labels[i] for i in keep], [descriptions[i] if i < len(descriptions) else "" for i in keep])
    xyz = points[:3, keep].transpose(2, 1, 0)  # (F, N, 3)
    residuals = np.asarray(c["data"]["meta_points"]["residuals"])[0, keep].T  # (F, N)
    observed = np.isfinite(xyz).all(-1) & (residuals >= 0)
    if units is None:
        units_name = str((_param(params, "POINT", "UNITS") or ["mm"])[0]).strip().lower()
        if units_name not in UNIT_TO_M:
            raise InputError(f"{path}: POINT:UNITS is {units_name!r}; expected mm, cm or m (or pass --units)")
        to_m = UNIT_TO_M[units_name]
    else:
        to_m, units_name = units
    xyz = xyz * to_m
    dupes = [n for n, k in Counter(normalise_name(label) for label in labels).items() if k > 1]
    smap = skeleton_map if isinstance(skeleton_map, SkeletonMap) else (
        load_map(skeleton_map) if skeleton_map else auto_map(labels, str(path)))
    used = {normalise_name(s) for s in smap.resolved_sources(labels)}
    clash = sorted(set(dupes) & used)
    if clash:
        raise InputError(f"{path}: marker labels {', '.join(clash)} appear more than once; the map cannot tell them apart")
    poses, mask = smap.apply(labels, xyz, observed, where=str(path))
    if not mask.any():
        raise InputError(f"{path}: no frame has the markers the map '{smap.name}' needs")
    y_screen = _param(params, "POINT", "Y_SCREEN")
    rot, up = _z_up_rotation(poses, mask, str(y_screen[0]).strip().upper() if y_screen else None)
    poses = _canonical(poses, rot)
    rate = float((_param(params, "POINT", "RATE") or [0])[0]) or float(c["header"]["points"]["frame_rate"])
    first = int(c["header"]["points"]["first_frame"])
    # what a writer needs to put edited joints back into this file (DESIGN.md §2)
    markers = np.where(observed[..., None], xyz, np.nan) @ rot.T
    return Take(positions=poses.astype(np.float32), mask=mask, fps=rate,
                source={"path": str(path), "format": "c3d", "map": smap.name, "map_object": smap, "units": units_name,
                        "up": up, "first_frame": first, "subject": subject or (subjects[0] if subjects else None),
                        "to_canonical": rot, "units_to_m": to_m, "marker_index": np.array(keep),
                        "markers": markers, "marker_observed": observed, "marker_labels": labels,
                        "joints": poses, "joint_mask": mask})


def _canonical(poses: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """File-axes joints -> the Z-up frame at the Take's float32 precision, so unedited = unmoved."""
    return (poses @ rot.T).astype(np.float32).astype(np.float64)


def _z_up_rotation(poses: np.ndarray, mask: np.ndarray, y_screen: str | None) -> tuple[np.ndarray, str]:
    """The rotation taking the file's axes to Z up (from Y_SCREEN, else from the body), and its label."""
    from . import up_rotation

    if y_screen in ("+X", "-X", "+Y", "-Y", "+Z", "-Z"):
        up = np.zeros(3)
        up["XYZ".index(y_screen[1])] = 1.0 if y_screen[0] == "+" else -1.0
    else:
        ok = mask[:, 10] & mask[:, 3] & mask[:, 6]
        if not ok.any():
            return np.eye(3), "unknown"
        up = np.median(poses[ok, 10] - poses[ok][:, [3, 6]].mean(1), axis=0)
    axis = int(np.argmax(np.abs(up)))
    return up_rotation(up), ("+" if up[axis] > 0 else "-") + "XYZ"[axis]


# ---------------------------------------------------------------- writing


def write(take: Take, path: Path, force: bool = True, add_joints: bool = False) -> dict:
    """Write a take as C3D; returns a summary ({"moved": n, "filled": n, "markers": n, ...}).

    A take read from a C3D goes back into a copy of that file: every parameter, analog sample,
    event and marker is kept, markers ride the edited skeleton (gfpose_cli.markers), gaps are
    filled only by `complete` (residual 0, listed in the GFPOSE parameter group). Any other take
    becomes a fresh C3D with the 17 joints as points (mm, Z up).
    """
    from .. import markers as rig_mod
    from .atomic import atomic_path

    src = take.source
    from . import world_poses

    poses = world_poses(take, str(path))
    back = src.get("format") == "c3d" and src.get("markers") is not None and Path(src.get("path", "")).exists()
    if back and len(poses) != len(src["joints"]):
        raise InputError(f"{path}: the take has {len(poses)} frames but its source {src['path']} has "
                         f"{len(src['joints'])}; write NPZ instead")
    c = open_c3d(Path(src["path"])) if back else _empty_c3d(take.fps, len(poses))
    summary = {"moved": 0, "filled": 0, "markers": 0, "riding": 0, "joints_added": 0}
    if back:
        rot, scale = src["to_canonical"], src["units_to_m"]
        markers, joints, joint_mask, observed = src["markers"], src["joints"], src["joint_mask"], src["marker_observed"]
        # a take cleaned along time gets its markers cleaned along time (not `denoise --per-frame`)
        smooth = (src.get("task") == "denoise" and (src.get("denoise") or {}).get("temporal", False)
                  and src.get("marker_labels") is not None)
        if smooth:
            markers, joints, joint_mask = rig_mod.smoothed_markers(markers, observed, _joints_of(src))
        rig = rig_mod.fit_rig(joints, joint_mask, markers, observed)
        new, moved, filled = rig_mod.ride(rig, joints, joint_mask, np.nan_to_num(poses), markers, observed)
        if src.get("task") != "complete":
            filled[:] = False  # only `complete` invents marker samples
        if smooth:  # every observed sample that is not where it was: ridden, or smoothed on no segment
            moved = observed & (np.abs(np.nan_to_num(new - src["markers"])).max(-1) > 1e-9)
        changed = moved | filled
        points = np.array(c["data"]["points"], dtype=np.float64)
        residuals = np.array(c["data"]["meta_points"]["residuals"], dtype=np.float64)
        file_xyz = (new @ rot) / scale  # canonical metres -> file axes and units
        cols = src["marker_index"]
        for k, col in enumerate(cols):
            rows = np.flatnonzero(changed[:, k])
            if rows.size:
                points[:3, col, rows] = file_xyz[rows, k].T
            rows = np.flatnonzero(filled[:, k])
            if rows.size:
                points[3, col, rows] = 1.0
                residuals[0, col, rows] = 0.0  # C3D: residual 0 = computed, not measured
        c["data"]["points"] = points
        c["data"]["meta_points"]["residuals"] = residuals
        labels = [str(x).strip() for x in c["parameters"]["POINT"]["LABELS"]["value"]]
        _flag(c, "FILLED", [labels[col] for col in cols], filled.sum(0))
        _flag(c, "MOVED", [labels[col] for col in cols], moved.sum(0))
        summary.update(moved=int(moved.sum()), filled=int(filled.sum()), markers=len(cols),
                       riding=int((rig.segment >= 0).sum()))
        c.add_parameter("GFPOSE", "MAP", [str(src.get("map", ""))])
    if add_joints or not back:
        prefix = f"{src['subject']}:" if back and src.get("subject") else ""
        names = [f"{prefix}gfpose_{j}" if back else j for j in JOINTS]
        to_file = (src["to_canonical"], src["units_to_m"]) if back else (np.eye(3), 0.001)
        _append_points(c, names, (poses @ to_file[0]) / to_file[1], take.mask)
        summary["joints_added"] = len(names)
    from ..model.checkpoint import code_version

    c.add_parameter("GFPOSE", "TASK", [str(src.get("task", "convert"))])
    c.add_parameter("GFPOSE", "VERSION", [code_version()])
    scale = float(np.asarray(c["parameters"]["POINT"]["SCALE"]["value"]).ravel()[0] or -1.0)
    with atomic_path(Path(path), force) as tmp:
        c.write(str(tmp))
        _check_written(tmp, np.asarray(c["data"]["points"]).shape)
        _sync_header_scale(tmp, -abs(scale))
    return summary


def _joints_of(src: dict):
    """markers (canonical frame) -> the joints and mask the file's map makes of them, as read() does."""
    rot = src["to_canonical"]

    def joints_of(markers: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        poses, mask = src["map_object"].apply(src["marker_labels"], np.nan_to_num(markers) @ rot, observed,
                                              where=str(src.get("path", "")))
        return _canonical(poses, rot), mask

    return joints_of


def _check_written(path: Path, shape: tuple[int, ...]) -> None:
    """Read back what ezc3d wrote: its C++ writer does not report a full disk, it stops short."""
    import errno

    try:
        written = np.asarray(open_c3d(path)["data"]["points"]).shape
    except InputError:
        written = None
    if written != tuple(shape):
        raise OSError(errno.EIO, "the file came out incomplete; is the disk full?")


def _sync_header_scale(path: Path, scale: float) -> None:
    """Make the header's scale factor equal POINT:SCALE in a file ezc3d wrote.

    ezc3d stores floats and writes -1 in the header but keeps the parameter (e.g. -0.05), which
    it uses for residuals; other readers (py-c3d) refuse the mismatch. ezc3d writes Intel byte
    order; the header's scale factor is the float32 at byte 12.
    """
    import struct

    with open(path, "r+b") as handle:
        header = handle.read(16)
        start = (header[0] - 1) * 512
        handle.seek(start + 3)
        if handle.read(1) != bytes([84]):  # 84 = Intel; anything else we do not patch
            return
        handle.seek(12)
        handle.write(struct.pack("<f", scale))


def _flag(c, name: str, labels: list[str], counts: np.ndarray) -> None:
    """GFPOSE:<name>_LABELS / _COUNTS: which markers had samples filled or moved, and how many."""
    hit = [(label, int(n)) for label, n in zip(labels, counts) if n > 0][:255]  # one C3D dimension
    c.add_parameter("GFPOSE", f"{name}_LABELS", [label for label, _ in hit] or [""])
    c.add_parameter("GFPOSE", f"{name}_COUNTS", [float(n) for _, n in hit] or [0.0])


def _append_points(c, labels: list[str], xyz: np.ndarray, mask: np.ndarray) -> None:
    """Add points (F, K, 3 in file units) with their labels, residuals and camera masks."""
    point = c["parameters"]["POINT"]
    old = [str(x) for x in point["LABELS"]["value"]]
    if len(old) + len(labels) > 255:
        raise InputError("the C3D would hold more than 255 points; drop --add-joints")
    clash = sorted(set(old) & set(labels))
    if clash:
        raise InputError(f"the C3D already has points named {', '.join(clash)}; it was written by gfpose already?")
    F = xyz.shape[0]
    data = np.ones((4, len(labels), F))
    data[:3] = np.where(mask[..., None], xyz, np.nan).transpose(2, 1, 0)
    points = c["data"]["points"]
    c["data"]["points"] = np.concatenate([points, data], axis=1) if points.size else data
    meta = c["data"]["meta_points"]
    res = np.where(mask.T, 0.0, -1.0)[None]
    meta["residuals"] = np.concatenate([meta["residuals"], res], axis=1) if meta["residuals"].size else res
    cams = np.zeros((7, len(labels), F), dtype=bool)
    meta["camera_masks"] = (np.concatenate([meta["camera_masks"], cams], axis=1)
                            if meta["camera_masks"].size else cams)
    point["LABELS"]["value"] = old + labels
    if "DESCRIPTIONS" in point and len(point["DESCRIPTIONS"]["value"]) == len(old):
        point["DESCRIPTIONS"]["value"] = list(point["DESCRIPTIONS"]["value"]) + ["gfpose joint centre"] * len(labels)
    point["USED"]["value"] = [len(old) + len(labels)]


def _empty_c3d(fps: float, n_frames: int):
    """A new C3D with no points yet: rate, mm, Z up (X_SCREEN +X, Y_SCREEN +Z)."""
    import ezc3d

    c = ezc3d.c3d()
    point = c["parameters"]["POINT"]
    point["RATE"]["value"] = [float(fps)]
    point["UNITS"]["value"] = ["mm"]
    c["data"]["points"] = np.zeros((4, 0, n_frames))
    c.add_parameter("POINT", "X_SCREEN", ["+X"])
    c.add_parameter("POINT", "Y_SCREEN", ["+Z"])
    return c

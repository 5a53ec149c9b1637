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
from ..take import Take

UNIT_TO_M = {"mm": 0.001, "cm": 0.01, "m": 1.0, "dm": 0.1}


def _param(params: dict, group: str, name: str):
    try:
        return params[group][name]["value"]
    except KeyError:
        return None


def open_c3d(path: Path):
    import ezc3d

    try:
        return ezc3d.c3d(str(path), extract_forceplat_data=False)
    except Exception as exc:  # ezc3d raises plain RuntimeError/ValueError on bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: not a readable C3D file ({first[:120]})") from None


def subjects_of(labels: list[str]) -> list[str]:
    """Label prefixes before ':' (the subjects of a multi-performer file), most markers first."""
    counts = Counter(label.split(":", 1)[0] for label in labels if ":" in label)
    return [name for name, _ in counts.most_common()]


def read(path: Path, skeleton_map: str | SkeletonMap | None = None, subject: str | None = None) -> Take:
    """Read a C3D file into a 17-joint Take (metres, Z up)."""
    c = open_c3d(path)
    params = c["parameters"]
    labels = [str(label).strip() for label in (_param(params, "POINT", "LABELS") or [])]
    points = np.asarray(c["data"]["points"], dtype=np.float64)  # (4, N, F)
    if points.ndim != 3 or points.shape[1] == 0 or points.shape[2] == 0:
        raise InputError(f"{path}: the C3D file holds no marker data")
    labels = labels[: points.shape[1]] + [f"unlabelled{i}" for i in range(len(labels), points.shape[1])]
    subjects = subjects_of(labels)
    if subject is not None:
        keep = [i for i, label in enumerate(labels) if label.split(":", 1)[0] == subject]
        if not keep:
            raise InputError(f"{path}: no markers of subject {subject!r}; subjects: {', '.join(subjects) or 'none'}")
    elif len(subjects) > 1:
        raise InputError(f"{path}: several subjects ({', '.join(subjects)}); pick one with --subject")
    else:
        keep = list(range(len(labels)))
    labels = [labels[i] for i in keep]
    xyz = points[:3, keep].transpose(2, 1, 0)  # (F, N, 3)
    residuals = np.asarray(c["data"]["meta_points"]["residuals"])[0, keep].T  # (F, N)
    observed = np.isfinite(xyz).all(-1) & (residuals >= 0)
    units = str((_param(params, "POINT", "UNITS") or ["mm"])[0]).strip().lower()
    if units not in UNIT_TO_M:
        raise InputError(f"{path}: POINT:UNITS is {units!r}; expected mm, cm or m")
    xyz = xyz * UNIT_TO_M[units]
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
    poses, up = _to_z_up(poses, mask, str(y_screen[0]).strip().upper() if y_screen else None)
    rate = float((_param(params, "POINT", "RATE") or [0])[0]) or float(c["header"]["points"]["frame_rate"])
    first = int(c["header"]["points"]["first_frame"])
    return Take(positions=poses.astype(np.float32), mask=mask, fps=rate,
                source={"path": str(path), "format": "c3d", "map": smap.name, "units": units, "up": up,
                        "first_frame": first, "subject": subject or (subjects[0] if subjects else None)})


def _to_z_up(poses: np.ndarray, mask: np.ndarray, y_screen: str | None) -> tuple[np.ndarray, str]:
    from . import up_rotation

    if y_screen in ("+X", "-X", "+Y", "-Y", "+Z", "-Z"):
        up = np.zeros(3)
        up["XYZ".index(y_screen[1])] = 1.0 if y_screen[0] == "+" else -1.0
    else:
        ok = mask[:, 10] & mask[:, 3] & mask[:, 6]
        if not ok.any():
            return poses, "unknown"
        up = np.median(poses[ok, 10] - poses[ok][:, [3, 6]].mean(1), axis=0)
    axis = int(np.argmax(np.abs(up)))
    return poses @ up_rotation(up).T, ("+" if up[axis] > 0 else "-") + "XYZ"[axis]

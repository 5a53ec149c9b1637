"""Xsens MVNX files (MVN Analyze / Animate's XML export): read, as the positions of MVN's segments.

An MVNX holds, for each segment (Pelvis, L5, L3, T12, T8, Neck, Head, RightShoulder, RightUpperArm,
RightForeArm, RightHand, ..., RightUpperLeg, RightLowerLeg, RightFoot, RightToe, ...), its points in its
own frame (`<segment label=... id=...><points><point label="pTopOfHead"><pos_b>x y z</pos_b>`), then
frames: calibration poses first (type identity, tpose, tpose-isb), then the take (type normal), each
with every segment's orientation (w, x, y, z, body to global) and position (metres, global, Z up).

A segment's position is its origin, the joint it hangs from (RightUpperLeg at the hip, RightLowerLeg at
the knee, Head at the top of the neck), so the segments' positions go to the 17 joints through the
xsens-mvn preset as a C3D's markers do (its segment-origin names), the top of the head
(pTopOfHead, placed from the Head segment's orientation) with them. Only the take's frames are read.
An MVNX is read, never written: a task's output goes to BVH, C3D, TRC, CSV or NPZ.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from gfpose_cli.core.errors import InputError
from gfpose_cli.core.take import Provenance, Take
from gfpose_cli.io.c3d import body_from_markers

#: the segment points read with the segments' origins (placed from the segment's orientation)
POINTS = {"Head": ("pTopOfHead",)}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _floats(text: str | None, n: int, path: Path, what: str) -> np.ndarray:
    try:
        values = np.array((text or "").split(), dtype=np.float64)
    except ValueError:
        raise InputError(f"{path}: {what} holds a value that is not a number") from None
    if len(values) != n:
        raise InputError(f"{path}: {what} holds {len(values)} numbers, expected {n}")
    return values


def _rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate v (3,) by unit quaternions q (F, 4: w, x, y, z)."""
    w, x, y, z = (q / np.linalg.norm(q, axis=-1, keepdims=True)).T
    R = np.stack([np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
                  np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
                  np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], -2)
    return R @ v


def load(path: Path) -> tuple[list[str], np.ndarray, np.ndarray, float, list[str]]:
    """The segments' and head-top's names, positions (F, N, 3; metres, Z up), valid samples, frame rate
    and notes of an MVNX file's take (its frames of type normal)."""
    path = Path(path)
    segments: list[str] = []
    points: dict[str, dict[str, np.ndarray]] = {}
    rate = float("nan")
    positions, orientations = [], []
    skipped = 0
    current: str | None = None
    try:
        for event, el in ET.iterparse(path, events=("start", "end")):
            tag = _local(el.tag)
            if event == "start":
                if tag == "segment":
                    current = el.get("label") or f"segment{len(segments) + 1}"
                    segments.append(current)
                elif tag == "subject" and el.get("frameRate"):
                    try:
                        rate = float(el.get("frameRate"))
                    except ValueError:
                        pass
                continue
            if tag == "point" and current is not None:
                pos = next((c for c in el if _local(c.tag) == "pos_b"), None)
                label = el.get("label") or ""
                if pos is not None and label in POINTS.get(current, ()):
                    points.setdefault(current, {})[label] = _floats(pos.text, 3, path, f"point {label}")
            elif tag == "segment":
                current = None
            elif tag == "frame":
                if (el.get("type") or "normal") == "normal":
                    n = len(segments)
                    pos = next((c for c in el if _local(c.tag) == "position"), None)
                    ori = next((c for c in el if _local(c.tag) == "orientation"), None)
                    where = f"frame {el.get('index') or len(positions)}"
                    if pos is None:
                        raise InputError(f"{path}: {where} has no segment positions")
                    positions.append(_floats(pos.text, 3 * n, path, f"{where}'s position").reshape(n, 3))
                    orientations.append(_floats(ori.text, 4 * n, path, f"{where}'s orientation").reshape(n, 4)
                                        if ori is not None else np.tile([1.0, 0, 0, 0], (n, 1)))
                else:
                    skipped += 1
                el.clear()
    except ET.ParseError as exc:
        raise InputError(f"{path}: not a readable MVNX file ({exc})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not segments:
        raise InputError(f"{path}: an MVNX file with no segments")
    if not positions:
        raise InputError(f"{path}: an MVNX file with no frames of the take (type normal)")
    if not (np.isfinite(rate) and rate > 0):
        raise InputError(f"{path}: its subject gives no frameRate")
    pos = np.stack(positions)
    ori = np.stack(orientations)
    names, cols = list(segments), [pos]
    for seg, labels in points.items():
        k = segments.index(seg)
        for label, local in labels.items():
            names.append(label)
            cols.append((pos[:, k] + _rotate(ori[:, k], local))[:, None])
    xyz = np.concatenate(cols, 1)
    observed = np.isfinite(xyz).all(-1)
    notes = [f"{skipped} calibration frames (identity, T-pose) before the take left out"] if skipped else []
    return names, xyz, observed, rate, notes


def read(path: Path, skeleton_map=None) -> Take:  # noqa: ANN001
    """Read an MVNX file's take into a 17-joint Take (metres, Z up) through the xsens-mvn preset."""
    names, xyz, observed, rate, notes = load(path)
    found = body_from_markers(Path(path), names, ["marker"] * len(names), xyz, observed, [], skeleton_map or "xsens-mvn")
    return Take(positions=found.poses.astype(np.float32), mask=found.mask, fps=rate,
                provenance=Provenance(path=str(path), format="mvnx", map=found.smap.name, units="m", units_to_m=1.0,
                                      up=found.up, notes=tuple(notes + found.notes), warnings=tuple(found.warnings)))

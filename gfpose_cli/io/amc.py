"""Acclaim ASF/AMC (HDM05, the original CMU release): skeleton + per-frame bone rotations.

Standard Acclaim FK: L_bone = L_parent C M C^-1, with C from the bone's `axis` and M from its
dof values; Euler order XYZ means x is applied first (R = Rz Ry Rx). A bone's end is its
parent's end plus L_bone (direction x length). Files may contain Latin-1 bytes and mixed
line endings, so they are decoded explicitly.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from gfpose_cli.core.errors import InputError
from gfpose_cli.kinematics.rotations import axis_rotation

INCH = 0.0254


def _euler(order: str, angles: np.ndarray) -> np.ndarray:
    """Rotation for Euler angles (..., n) applied in `order` (first letter first): R = R_last ... R_first."""
    R = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for k, ax in enumerate(order):
        R = axis_rotation(ax, angles[..., k], degrees=True) @ R
    return R


@dataclass
class AsfBone:
    name: str
    direction: np.ndarray
    length: float
    axis: np.ndarray  # degrees
    axis_order: str
    dof: list[str] = field(default_factory=list)


@dataclass
class AsfSkeleton:
    bones: dict[str, AsfBone]
    parents: dict[str, str]  # child -> parent ('root' for top bones)
    order: list[str]  # bones in parent-before-child order
    root_order: list[str]
    root_axis: str
    length_to_m: float
    #: `:units angle` of the ASF: "deg" (CMU, HDM05) or "rad"; an AMC's own `:DEGREES`/`:RADIANS` line wins
    angle: str = "deg"


def _vec3(words: list[str]) -> np.ndarray:
    v = np.array([float(w) for w in words[:3]])
    if v.shape != (3,) or not np.isfinite(v).all():
        raise ValueError(f"expected 3 finite numbers, got {' '.join(words)}")
    return v


def _axes(order: str) -> str:
    if sorted(order.upper()) != ["X", "Y", "Z"]:
        raise ValueError(f"axis order {order!r} is not a permutation of XYZ")
    return order.upper()


def _positive(word: str) -> float:
    value = float(word)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{word} is not a positive number")
    return value


DOF_NAMES = {"rx", "ry", "rz", "tx", "ty", "tz", "l"}


def parse_asf(text: str, where: str = "<asf>") -> AsfSkeleton:
    """Parse an ASF skeleton; lengths are converted to metres via `:units length` (inches / value)."""
    bones: dict[str, AsfBone] = {}
    parents: dict[str, str] = {}
    section, cur, length_unit, angle = "", None, 1.0, "deg"
    root_order, root_axis = ["TX", "TY", "TZ", "RX", "RY", "RZ"], "XYZ"
    try:
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith(":"):
                section = line.split()[0][1:].lower()
                continue
            words = line.split()
            key = words[0].lower()
            if section == "units" and key == "length":
                length_unit = _positive(words[1])
            elif section == "units" and key == "angle":
                angle = words[1].lower()
                if angle not in ("deg", "rad"):
                    raise ValueError(f"angle unit {words[1]!r} (deg or rad)")
            elif section == "root" and key == "order":
                root_order = [w.upper() for w in words[1:]]
                if not set(root_order) <= {"TX", "TY", "TZ", "RX", "RY", "RZ"}:
                    raise ValueError(f"root order {' '.join(words[1:])}")
            elif section == "root" and key == "axis":
                root_axis = _axes(words[1])
            elif section == "bonedata":
                if key == "begin":
                    cur = {"dof": []}
                elif key == "end" and cur is not None:
                    b = AsfBone(cur["name"], cur["direction"], cur["length"], cur.get("axis", np.zeros(3)),
                                cur.get("axis_order", "XYZ"), cur["dof"])
                    bones[b.name] = b
                    cur = None
                elif cur is not None and key == "name":
                    cur["name"] = words[1]
                elif cur is not None and key == "direction":
                    cur["direction"] = _vec3(words[1:])
                elif cur is not None and key == "length":
                    cur["length"] = float(words[1])
                    if not np.isfinite(cur["length"]) or cur["length"] < 0:
                        raise ValueError(f"bone length {words[1]}")
                elif cur is not None and key == "axis":
                    cur["axis"] = _vec3(words[1:])
                    cur["axis_order"] = _axes(words[4]) if len(words) > 4 else "XYZ"
                elif cur is not None and key == "dof":
                    cur["dof"] = [w.lower() for w in words[1:]]
                    if not set(cur["dof"]) <= DOF_NAMES:
                        raise ValueError(f"dof {' '.join(words[1:])}")
            elif section == "hierarchy" and key not in ("begin", "end"):
                for child in words[1:]:
                    parents[child] = words[0]
    except (KeyError, ValueError, IndexError) as exc:
        raise InputError(f"{where}: malformed ASF skeleton ({exc})") from None
    if not bones:
        raise InputError(f"{where}: no :bonedata in the ASF file")
    order: list[str] = []
    frontier = ["root"]
    while frontier:
        name = frontier.pop(0)
        kids = [c for c, p in parents.items() if p == name]
        order += kids
        frontier += kids
    missing = [b for b in order if b not in bones]
    if missing:
        raise InputError(f"{where}: hierarchy names bones without bonedata: {', '.join(missing)}")
    metres = (1.0 / length_unit) * INCH
    if angle == "rad":  # the bones' axis lines are in the file's angle unit; kept in degrees from here on
        bones = {n: replace(b, axis=np.rad2deg(b.axis)) for n, b in bones.items()}
    return AsfSkeleton(bones, parents, order, root_order, root_axis, metres, angle)


def parse_amc(text: str, skel: AsfSkeleton, where: str = "<amc>") -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-bone dof values (F, n_dof) and root channels from an AMC file, rotations in degrees (an
    AMC's `:RADIANS` line, or its ASF's `:units angle rad` where the AMC says neither, means radians),
    and each frame's number as the file gives it (F,)."""
    frames: list[dict[str, list[float]]] = []
    numbers: list[int] = []
    angle = skel.angle
    for raw in text.splitlines():
        line = raw.strip()
        if not frames and line.upper() in (":RADIANS", ":DEGREES"):
            angle = "rad" if line.upper() == ":RADIANS" else "deg"
            continue
        if not line or line.startswith(("#", ":")):
            continue
        words = line.split()
        if len(words) == 1 and words[0].isdigit():
            frames.append({})
            numbers.append(int(words[0]))
            continue
        if not frames:
            continue
        try:
            frames[-1][words[0]] = [float(v) for v in words[1:]]
        except ValueError:
            raise InputError(f"{where}: frame {len(frames)}: bad value on line {line[:40]!r}") from None
    if not frames:
        raise InputError(f"{where}: no frames in the AMC file")
    out: dict[str, np.ndarray] = {}
    for name in ["root"] + skel.order:
        n = len(skel.root_order) if name == "root" else len(skel.bones[name].dof)
        if n == 0:
            continue
        values = np.zeros((len(frames), n))
        for f, fr in enumerate(frames):
            v = fr.get(name)
            if v is None or len(v) != n:
                raise InputError(f"{where}: frame {f + 1}: bone {name!r} needs {n} values, found {0 if v is None else len(v)}")
            values[f] = v
        if angle == "rad":
            dofs = skel.root_order if name == "root" else skel.bones[name].dof
            turns = [k for k, d in enumerate(dofs) if d.lower() in ("rx", "ry", "rz")]
            values[:, turns] = np.rad2deg(values[:, turns])
        out[name] = values
    return out, np.array(numbers)


def forward_kinematics(skel: AsfSkeleton, motion: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """Names ('root' + bones, each a bone's end) and world positions (F, N, 3) in metres, file axes."""
    root_vals = motion["root"]
    F = root_vals.shape[0]
    chans = skel.root_order
    trans = np.stack([root_vals[:, chans.index(c)] if c in chans else np.zeros(F) for c in ("TX", "TY", "TZ")], -1)
    rot_names = [c for c in chans if c.startswith("R")]
    rot_vals = np.stack([root_vals[:, chans.index(c)] for c in rot_names], -1)
    C_root = _euler("xyz", np.zeros(3))
    L = {"root": C_root @ _euler("".join(c[1].lower() for c in rot_names), rot_vals) @ C_root.T}
    pos = {"root": trans * skel.length_to_m}
    for name in skel.order:
        bone = skel.bones[name]
        parent = skel.parents[name]
        C = _euler(bone.axis_order.lower(), bone.axis)
        if bone.dof:
            M = np.broadcast_to(np.eye(3), (F, 3, 3)).copy()
            vals = motion[name]
            for k, d in enumerate(bone.dof):
                if d in ("rx", "ry", "rz"):
                    M = axis_rotation(d[1], vals[:, k], degrees=True) @ M
            L[name] = L[parent] @ C @ M @ C.T
        else:
            L[name] = L[parent] @ C @ C.T
        pos[name] = pos[parent] + np.einsum("fij,j->fi", L[name], bone.direction * bone.length * skel.length_to_m)
    names = ["root"] + skel.order
    return names, np.stack([pos[n] for n in names], axis=1)


def read_text(path: Path) -> str:
    try:
        return Path(path).read_bytes().decode("latin-1")
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror})") from None

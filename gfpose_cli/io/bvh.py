"""BVH skeletons: the `bvh` package parses the hierarchy, numpy parses the motion and runs FK.

The pure-Python tokenizer of `bvh` walks characters one by one, so it is fed only the header;
the motion block (often millions of numbers) goes through numpy in one call.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from bvh import Bvh

from gfpose_cli.core.errors import InputError
from gfpose_cli.kinematics.rotations import axis_rotation
from gfpose_cli.signal.clock import rate_from_period

_AXIS = {"x": 0, "y": 1, "z": 2}


@dataclass
class BvhSkeleton:
    """Parsed hierarchy plus raw motion, enough for forward kinematics and later write-back."""

    names: list[str]  # joints, then end sites named "<parent>_End"
    parents: np.ndarray  # (N,) parent index, -1 for the root
    offsets: np.ndarray  # (N, 3) rest offsets in file units
    channels: list[list[str]]  # channel names per joint (empty for end sites)
    channel_start: np.ndarray  # (N,) index of each joint's first channel in a motion row
    motion: np.ndarray  # (F, C) float64 channel values, degrees for rotations
    frame_time: float
    header: str = ""  # the HIERARCHY text as read (up to MOTION), written back verbatim
    notes: tuple[str, ...] = ()  # what the reader had to say about the file (said as warnings)
    newline: str = "\n"  # the file's line ending ("\r\n" from Windows tools), written back as read
    frame_time_text: str = ""  # the 'Frame Time:' value as the file spells it (.0083333), kept where unchanged

    @property
    def fps(self) -> float:
        if self.frame_time <= 0:
            return 30.0
        return rate_from_period(self.frame_time_text) if self.frame_time_text else 1.0 / self.frame_time


@dataclass
class BvhWriteBack:
    """What writing edited joints back into a source BVH needs (Take.writeback; only io reads it)."""

    skeleton: BvhSkeleton
    skeleton_map: Any  # the SkeletonMap that made the 17 joints
    to_canonical: np.ndarray  # file axes -> Z up
    units_to_m: float


CHANNEL_NAMES = {f"{a}{kind}" for a in "XYZ" for kind in ("position", "rotation")}


def _offset(values: list[str]) -> list[float]:
    """Three finite numbers, or ValueError."""
    out = [float(v) for v in values]
    if len(out) != 3 or not np.isfinite(out).all():
        raise ValueError(f"OFFSET needs 3 finite numbers, got {' '.join(values)}")
    return out


def _channels(values: list[str]) -> list[str]:
    """Channel names after the count, checked against the count and the six known names."""
    names = [v[:1].upper() + v[1:].lower() for v in values[1:]]
    if int(values[0]) != len(names) or not set(names) <= CHANNEL_NAMES or len(set(names)) != len(names):
        raise ValueError(f"CHANNELS {' '.join(values)} is not a count followed by that many distinct channel names")
    return names


def parse(text: str, path: str | Path = "<bvh>") -> BvhSkeleton:
    """Parse BVH text into a BvhSkeleton; raises InputError naming the file on any defect."""
    newline = "\r\n" if "\r\n" in text[:4096] else "\n"
    text = text.replace("\r\n", "\n").removeprefix("\ufeff")  # a byte-order mark from a Windows editor
    upper = text.find("MOTION")
    if not text.lstrip().startswith("HIERARCHY") or upper < 0:
        raise InputError(f"{path}: not a BVH file (needs a HIERARCHY and a MOTION section)")
    match = re.search(r"Frames:\s*(\S+)\s*\r?\n\s*Frame Time:\s*(\S+)[^\n]*\n?", text[upper:])
    if match is None:
        raise InputError(f"{path}: MOTION section lacks 'Frames:' and 'Frame Time:' lines")
    try:
        n_frames, frame_time = int(match.group(1)), float(match.group(2))
    except ValueError:
        raise InputError(f"{path}: bad 'Frames:' or 'Frame Time:' value") from None
    if n_frames < 1 or not (np.isfinite(frame_time) and frame_time > 0):
        raise InputError(f"{path}: 'Frames: {n_frames}' and 'Frame Time: {frame_time:g}' must both be positive")
    header_end = upper + match.end()
    roots = re.findall(r"(?m)^\s*ROOT\s+(.+?)\s*$", text[:upper])
    if len(roots) > 1:
        raise InputError(f"{path}: its hierarchy holds {len(roots)} skeletons (ROOT {', ROOT '.join(roots[:4])}"
                         f"{', ...' if len(roots) > 4 else ''}); gfpose reads a BVH of one: export each performer "
                         "to a file of its own")
    try:
        mocap = Bvh(text[:header_end])
        joints = mocap.get_joints()
    except (StopIteration, IndexError, ValueError) as exc:
        raise InputError(f"{path}: malformed BVH hierarchy ({exc})") from None

    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []

    def visit(node, parent: int) -> None:
        idx = len(names)
        name = " ".join(node.value[1:]) or node.name  # a name may hold spaces: `JOINT Bip01 L Thigh`
        names.append(name)
        parents.append(parent)
        try:
            offsets.append(_offset(node["OFFSET"]))
            chans = node["CHANNELS"]
            channels.append(_channels(chans) if chans else [])
        except (IndexError, ValueError) as exc:
            raise InputError(f"{path}: joint {name!r} has a bad OFFSET or CHANNELS line ({exc})") from None
        for child in node.children:
            if child.value and child.value[0] == "JOINT":
                visit(child, idx)
            elif child.value[:2] == ["End", "Site"]:
                names.append(f"{name}_End")
                parents.append(idx)
                try:
                    offsets.append(_offset(child["OFFSET"]))
                except (IndexError, ValueError):
                    raise InputError(f"{path}: End Site of {name!r} has a bad OFFSET") from None
                channels.append([])

    visit(joints[0], -1)
    starts = np.cumsum([0] + [len(c) for c in channels])[:-1]
    n_channels = sum(len(c) for c in channels)
    body = text[header_end:]
    widths = Counter(len(row.split()) for row in body.splitlines() if row.strip())
    notes: list[str] = []
    if widths and n_channels:
        width, rows = widths.most_common(1)[0]
        total = sum(w * k for w, k in widths.items())
        # rows of another width than the channels (unless the values are the frames' exactly, wrapped)
        if width != n_channels and rows >= 0.9 * sum(widths.values()) and total != n_frames * n_channels:
            raise InputError(f"{path}: its frame rows hold {width} values each but its hierarchy declares {n_channels} "
                             "channels: the motion does not match the skeleton (a channel list edited, or motion "
                             "pasted from another rig)")
        if width == n_channels and set(widths) == {n_channels} and rows > n_frames:
            notes.append(f"its 'Frames:' line says {n_frames} but the file holds {rows} whole frames: all {rows} "
                         "are read")
            n_frames = rows
    values = np.array(body.split(), dtype=object)
    try:
        motion = values.astype(np.float64)
    except ValueError:
        raise InputError(f"{path}: the MOTION block holds a value that is not a number") from None
    if n_channels == 0 or motion.size < n_frames * n_channels:
        got = motion.size // max(n_channels, 1)
        raise InputError(f"{path}: header says {n_frames} frames of {n_channels} channels but only {got} are complete")
    motion = motion[: n_frames * n_channels].reshape(n_frames, n_channels)
    if not np.isfinite(motion).all():
        frame = int(np.argwhere(~np.isfinite(motion))[0][0])
        raise InputError(f"{path}: frame {frame} holds a NaN or infinite channel value")
    return BvhSkeleton(
        names=names,
        parents=np.array(parents),
        offsets=np.array(offsets, dtype=np.float64),
        channels=channels,
        channel_start=starts,
        motion=motion,
        frame_time=frame_time,
        header=text[:upper].rstrip() + "\n",
        notes=tuple(notes),
        newline=newline,
        frame_time_text=match.group(2),
    )


def local_transforms(skel: BvhSkeleton, j: int, motion: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Joint j's local rotation (F, 3, 3) and translation (F, 3) from its channels."""
    motion = skel.motion if motion is None else motion
    F = motion.shape[0]
    local_R = np.broadcast_to(np.eye(3), (F, 3, 3)).copy()
    local_t = np.broadcast_to(skel.offsets[j], (F, 3)).copy()
    for k, ch in enumerate(skel.channels[j]):
        col = motion[:, skel.channel_start[j] + k]
        kind, axis = ch[1:].lower(), _AXIS.get(ch[0].lower())
        if axis is None:
            raise InputError(f"joint {skel.names[j]!r}: unknown channel {ch!r}")
        if kind == "rotation":
            local_R = local_R @ axis_rotation(axis, col, degrees=True)
        elif kind == "position":
            local_t[:, axis] = col  # position channels replace the OFFSET (BVH; Blender, MotionBuilder)
    return local_R, local_t


def forward_kinematics(skel: BvhSkeleton, motion: np.ndarray | None = None,
                       with_rotations: bool = False):
    """World positions (F, N, 3) of every joint and end site, in file units and axes.

    Rotation channels compose in the order listed (R = R_first @ R_second @ R_third), which is
    the BVH convention; a joint's position channels give its position in its parent's frame,
    replacing its OFFSET (the rest position); for the usual root with a zero OFFSET, and joints
    without position channels, nothing differs. With
    with_rotations, also returns the world rotations (F, N, 3, 3).
    """
    motion = skel.motion if motion is None else motion
    F = motion.shape[0]
    N = len(skel.names)
    pos = np.zeros((F, N, 3))
    rot = np.zeros((F, N, 3, 3))
    for j in range(N):
        local_R, local_t = local_transforms(skel, j, motion)
        p = skel.parents[j]
        if p < 0:
            pos[:, j], rot[:, j] = local_t, local_R
        else:
            pos[:, j] = pos[:, p] + np.einsum("fij,fj->fi", rot[:, p], local_t)
            rot[:, j] = rot[:, p] @ local_R
    return (pos, rot) if with_rotations else pos


def read_skeleton(path: Path) -> BvhSkeleton:
    """Read and parse a BVH file from disk (read-only)."""
    try:
        text = Path(path).read_bytes().decode("utf-8", errors="replace")  # line endings as they are
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror})") from None
    return parse(text, path)


#: metres per file unit for the units BVH files are found in (BVH declares none)
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254, "acclaim": 0.0254 / 0.45}


def unit_scale(ankle_to_head: float) -> tuple[float, str]:
    """Metres per file unit, guessed from the rest pose's ankle-to-head distance (~1.5 m in adults).

    Picks the unit that brings it closest to 1.5 m on a log scale; `acclaim` is the CMU/ASF length
    unit (inches / 0.45) that many CMU BVH conversions kept.
    """
    name = min(UNITS, key=lambda u: abs(np.log(max(ankle_to_head, 1e-9) * UNITS[u] / 1.5)))
    return UNITS[name], name


def dumps(skel: BvhSkeleton, motion: np.ndarray | None = None) -> str:
    """BVH text: the skeleton's hierarchy as read (or built) and the motion, 15 significant digits.

    Any decimal of up to 15 digits survives float64 and prints back the same, so an unedited
    channel reads back bit for bit (one CMU file holds -0.00709999999999).
    """
    motion = skel.motion if motion is None else motion
    import io as _io

    buf = _io.StringIO()
    np.savetxt(buf, motion, fmt="%.15g", delimiter=" ")
    spelt = skel.frame_time_text
    frame_time = spelt if spelt and _number(spelt) == skel.frame_time else f"{skel.frame_time:.9g}"
    text = f"{skel.header}MOTION\nFrames: {motion.shape[0]}\nFrame Time: {frame_time}\n" + buf.getvalue()
    return text.replace("\n", skel.newline) if skel.newline != "\n" else text


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None

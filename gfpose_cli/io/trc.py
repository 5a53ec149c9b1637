"""TRC marker files (OpenSim's Track Row Column text: Motion Analysis Cortex, OpenSim, Pose2Sim, OpenCap).

Three header lines (`PathFileType ...`, then the names and values of DataRate, CameraRate, NumFrames,
NumMarkers, Units, ...), a line of marker names (`Frame#`, `Time`, then each marker's name over its
three columns), a line of axis labels (X1 Y1 Z1 ...), then one tab-separated row per frame. An empty
cell, NaN, or a marker at exactly 0,0,0 is a missing sample. The markers go to the 17 joints through
the same maps as a C3D's (io.c3d.body_from_markers); edited joints go back into a copy of the file
in which only the cells of samples that moved or were filled are rewritten, in the file's own number
format; every other byte is kept.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gfpose_cli.core.errors import InputError
from gfpose_cli.util.last_parse import LastParse
from gfpose_cli.core.frames import Y_UP_TO_Z_UP
from gfpose_cli.core.skeleton import JOINTS
from gfpose_cli.core.take import Provenance, Take
from gfpose_cli.io.c3d import (UNIT_TO_M, C3DWriteBack, SourcePoints, body_from_markers, count_source, new_summary,
                                point_kinds, source_points)
from gfpose_cli.io.marker_text import is_number as _is_number
from gfpose_cli.io.marker_text import number as _number
from gfpose_cli.io.marker_text import (frame_slots, header_rate, in_slots, rate_against_times, read_text,
                                       rewrite_cells, skipped_note)
from gfpose_cli.signal.clock import column_rate

#: the header value names a TRC's second line may use for the rate and the unit
RATE_KEYS = ("datarate", "camerarate", "origdatarate")
UNIT_NAMES = {"mm": "mm", "millimeters": "mm", "millimetres": "mm", "m": "m", "meters": "m", "metres": "m",
              "cm": "cm", "centimeters": "cm", "centimetres": "cm"}


@dataclass
class TrcFile:
    """A TRC file as read: its lines (with their endings), where the frame rows are, and the markers."""

    path: Path
    digest: str
    lines: tuple[str, ...]
    row_lines: list[int | None]  # (F,) index in lines of each frame row (None: a frame the file skips)
    names: list[str]  # (N,) marker names
    xyz: np.ndarray  # (F, N, 3) file units and axes, NaN where missing
    observed: np.ndarray  # (F, N)
    rate: float
    units: str  # as written in the header ("mm", "m", ...), "" when absent
    encoding: str  # how its bytes were decoded, and are encoded again on write-back
    decimals: int | None  # digits after the point in the coordinate cells; None: not fixed-point
    notes: list[str]
    warnings: list[str] = field(default_factory=list)  # what changes the reading (said on stderr)
    first_frame: int = 1  # the first row's Frame# (what the file calls its first frame)


def _split(line: str) -> list[str]:
    """A TRC line's cells: tabs separate them (a file written with runs of spaces is split on those)."""
    body = line.rstrip("\r\n")
    return body.split("\t") if "\t" in body else body.split()


def _marker_name(cells: list[str]) -> str:
    """A marker's name from its three cells of line 4: the name over the first (OpenSim), or one name per
    column with the axis after it (`nose_x`, `nose_y`, `nose_z`, as some exporters write)."""
    cells = [c.strip() for c in cells] + [""] * (3 - len(cells))
    stems = [re.sub(r"[\s_.\-]*[xyzXYZ]$", "", c) for c in cells]
    if all(cells) and stems[0] == stems[1] == stems[2] and stems[0] and stems[0] != cells[0]:
        return stems[0]
    return cells[0]


def load(path: Path) -> TrcFile:
    """Parse a TRC file; refuses, naming the line, what it cannot read as markers."""
    path = Path(path)
    data, encoding, lines = read_text(path)  # the encoding the text is written back in
    digest = hashlib.sha256(data).hexdigest()
    kept = _LOADED.get(path, digest)  # read, then written back: the same bytes are parsed once
    if kept is not None:
        return kept
    if not data.strip():
        raise InputError(f"{path}: the file is empty")
    if not lines[0].lower().startswith("pathfiletype"):
        raise InputError(f"{path}: not a TRC file (its first line should start with PathFileType)")
    if len(lines) < 5:
        raise InputError(f"{path}: the TRC header is cut off ({len(lines)} lines; a TRC has 5 header lines)")
    keys = [k.strip().lower() for k in _split(lines[1])]
    values = [v.strip() for v in _split(lines[2])]
    header = dict(zip(keys, values))
    rate = header_rate(header, RATE_KEYS)
    units = (header.get("units", "").split() or [""])[0]  # a writer that put spaces after it: its first word
    name_cells = _split(lines[3])
    if len(name_cells) < 3 or not name_cells[0].strip().lower().startswith("frame"):
        raise InputError(f"{path}: line 4 should name the columns (Frame#, Time, then the markers)")
    names = [_marker_name(name_cells[c: c + 3]) for c in range(2, len(name_cells), 3)]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise InputError(f"{path}: line 4 names no markers")
    if "" in names:
        raise InputError(f"{path}: line 4: marker {names.index('') + 1} has no name (each name heads 3 columns)")
    declared = header.get("nummarkers")
    notes = []
    if declared and declared.isdigit() and int(declared) != len(names):
        notes.append(f"its header says {declared} markers, line 4 names {len(names)}: read {len(names)}")
    width = 2 + 3 * len(names)
    row_lines, rows, decimals = [], [], set()
    fixed = True
    for i in range(5, len(lines)):
        cells = _split(lines[i])
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            raise InputError(f"{path}: line {i + 1} has {len(cells)} columns; the header's {len(names)} markers "
                             f"make {width} (Frame#, Time, X/Y/Z each): the file looks damaged")
        cells = (cells + [""] * width)[:width]
        try:
            row = [_number(c) for c in cells]
        except ValueError:
            bad = next(c for c in range(width) if not _is_number(cells[c]))
            what = "Frame#" if bad == 0 else "Time" if bad == 1 else f"marker {names[(bad - 2) // 3]}"
            raise InputError(f"{path}: line {i + 1}, {what}: {cells[bad].strip()!r} is not a number") from None
        if len(rows) < 50:
            for c in cells[2:]:
                c = c.strip()
                if c and c.lower() != "nan":
                    if "e" in c.lower():
                        fixed = False
                    decimals.add(len(c.split(".", 1)[1]) if "." in c else 0)
        row_lines.append(i)
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: holds no frames")
    table = np.asarray(rows, dtype=np.float64)
    xyz = table[:, 2:].reshape(len(rows), len(names), 3)
    zero = (xyz == 0.0).all(-1)
    observed = np.isfinite(xyz).all(-1) & ~zero
    xyz = np.where(observed[..., None], xyz, np.nan)
    slotted = frame_slots(table[:, 0])  # rows a script dropped: put back empty, so the take keeps its timing
    skipped: list[tuple[int, int]] = []
    if slotted is not None:
        at, frames, skipped = slotted
        xyz, observed = in_slots(at, frames, xyz, observed)
        lines_of: list[int | None] = [None] * frames
        for k, i in zip(at, row_lines):
            lines_of[k] = i
        row_lines = lines_of
    declared_frames = header.get("numframes")
    if declared_frames and declared_frames.isdigit() and int(declared_frames) != len(rows):
        notes.append(f"its header says {declared_frames} frames, the file holds {len(rows)}: read {len(rows)}")
    warnings = [skipped_note(skipped)] if skipped else []
    if not (np.isfinite(rate) and rate > 0):
        rate = column_rate(table[:, 1])
        if rate is None:
            raise InputError(f"{path}: no frame rate (DataRate) in the header, and no Time column to tell it")
        notes.append(f"its header gives no frame rate; {rate:.6g} Hz from the Time column")
    else:
        rate = rate_against_times(rate, "DataRate", table[:, 1], warnings, whose="the Time column (what OpenSim uses) says")
    xyz.setflags(write=False)  # shared by the callers of the cached load
    observed.setflags(write=False)
    loaded = TrcFile(path=path, digest=digest, lines=tuple(lines), row_lines=row_lines, names=names, xyz=xyz,
                     observed=observed, rate=rate, units=units, encoding=encoding,
                     decimals=max(decimals) if fixed and decimals else None, notes=notes, warnings=warnings,
                     first_frame=int(table[0, 0]) if np.isfinite(table[0, 0]) and table[0, 0] == int(table[0, 0]) else 1)
    return _LOADED.keep(path, digest, loaded)


#: the last TRC load() parsed; its lines are a tuple, its arrays read-only
_LOADED = LastParse()


@dataclass
class TrcWriteBack(C3DWriteBack):
    """What writing edited joints back into the source TRC needs: the C3D write-back's marker data
    (markers ride the skeleton the same way); the file's own lines are read again on writing, when its
    digest is checked, as a C3D's bytes are."""


def read(path: Path, skeleton_map=None, units: tuple[float, str] | None = None) -> Take:  # noqa: ANN001
    """Read a TRC file into a 17-joint Take (metres, Z up); units (metres per unit, name) overrides the header's."""
    f = load(path)
    if units is None:
        unit = UNIT_NAMES.get(f.units.strip().lower())
        if f.units.strip().lower() in ("px", "pixel", "pixels"):
            raise InputError(f"{path}: its header gives Units {f.units!r}: image coordinates (Sports2D's _px.trc), not a 3D "
                             "body; lift the detector's keypoints (JSON, CSV) instead, or read its TRC in metres")
        if unit is None:
            raise InputError(f"{path}: its header gives Units {f.units!r}; expected mm, cm or m (or pass {{units}})")
        to_m, units_name = UNIT_TO_M[unit], unit
    else:
        to_m, units_name = units
    # model outputs (LHipAngles), Plug-in Gait's bone points and unlabelled trajectories exported as
    # columns are never read as markers, nor moved
    kinds = point_kinds(f.names, {})
    if not f.observed[:, [k == "marker" for k in kinds]].any():
        raise InputError(f"{path}: no marker holds a valid sample (every cell is empty, NaN or 0,0,0)")
    found = body_from_markers(path, f.names, kinds, f.xyz * to_m, f.observed, [], skeleton_map, first_frame=f.first_frame)
    back = TrcWriteBack(path=str(path), digest=f.digest, skeleton_map=found.smap, subject=None,
                        to_canonical=found.rot, units_to_m=to_m, marker_index=np.arange(len(f.names)),
                        markers=np.where(f.observed[..., None], found.xyz, np.nan) @ found.rot.T,
                        observed=f.observed, names=found.names, kinds=kinds, joints=found.poses, joint_mask=found.mask,
                        exchanged=found.exchanged, held=found.held)
    return Take(positions=found.poses.astype(np.float32), mask=found.mask, fps=f.rate,
                provenance=Provenance(path=str(path), format="trc", map=found.smap.name, units=units_name,
                                      units_to_m=to_m, up=found.up, notes=tuple(f.notes + found.notes),
                                      warnings=tuple(f"{path}: {w}" for w in f.warnings) + tuple(found.warnings)),
                writeback=back)


def write(take: Take, path: Path, force: bool = True) -> dict:
    """Write a take as TRC. A take read from a TRC goes back into a copy of that file: the markers
    ride the edited skeleton (as a C3D's do) and only the cells of samples that moved or were filled
    (by `complete`) are rewritten, in the file's number format; every other byte stays. Any other
    take becomes a TRC of the 17 joints (mm, Y up as OpenSim expects)."""
    from gfpose_cli.io import world_poses
    from gfpose_cli.util.atomic import atomic_path

    poses = world_poses(take, str(path))
    back = take.writeback if isinstance(take.writeback, TrcWriteBack) and Path(take.writeback.path).exists() else None
    if back is None:
        summary = new_summary(joints_added=len(JOINTS))
        got = source_points(take, poses)
        count_source(summary, take, poses, got)
        text, renamed = _fresh(poses, take.mask, take.fps, Path(path).name, got)
        if renamed:
            summary["renamed"] = renamed
        with atomic_path(Path(path), force) as tmp:
            tmp.write_text(text, encoding="utf-8", newline="")
        return summary
    columns = 2 + 3 * np.arange(len(back.names))[:, None] + np.arange(3)[None]  # Frame#, Time, then X Y Z each
    return rewrite_cells([take], path, force, load=load, columns=[columns], split=_split,
                         separator=lambda body: "\t" if "\t" in body else " ")


def unique_labels(labels: list[str]) -> list[str]:
    """Labels with each repeat renamed `name_2`, `name_3`, ... (BTS files write `r should` and `c7` twice): a TRC's
    marker names are its columns' keys, and OpenSim refuses a file that repeats one."""
    originals, seen, out = set(labels), set(), []
    for label in labels:
        name, k = label, 2
        while name in seen:  # a repeat: the first free suffix that no label of the file has either
            name = f"{label}_{k}"
            k += 1
            if name in originals:
                name = label
        seen.add(name)
        out.append(name)
    return out


def _fresh(poses: np.ndarray, mask: np.ndarray, fps: float, name: str,
           source: SourcePoints | None = None) -> tuple[str, list[str]]:
    """A TRC of the 17 joints, after the points of the take's marker source where it has one (source_points):
    millimetres, Y up (OpenSim's frame), empty cells where a sample is missing. Also the repeated labels
    renamed to keep the names unique ('c7 -> c7_2')."""
    F = len(poses)
    labels, xyz, valid = list(JOINTS), poses, mask
    if source is not None:
        joints = list(JOINTS) if not set(JOINTS) & set(source.labels) else [f"gfpose_{j}" for j in JOINTS]
        labels = source.labels + joints
        xyz = np.concatenate([source.xyz, poses], 1)
        valid = np.concatenate([source.valid, mask], 1)
    xyz = (xyz @ Y_UP_TO_Z_UP) * 1000.0
    given = [re.sub(r"[\t\r\n]", " ", n) for n in labels]  # a TRC's names are tab-separated
    labels = unique_labels(given)
    renamed = [f"{a} -> {b}" for a, b in zip(given, labels) if a != b]
    out = ["PathFileType\t4\t(X/Y/Z)\t" + re.sub(r"[\t\r\n]", " ", name),
           "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
           f"{fps:.10g}\t{fps:.10g}\t{F}\t{len(labels)}\tmm\t{fps:.10g}\t1\t{F}",
           "Frame#\tTime\t" + "\t\t\t".join(labels) + "\t\t",
           "\t\t" + "\t".join(f"{a}{k + 1}" for k in range(len(labels)) for a in "XYZ"),
           ""]
    for f in range(F):
        cells = [str(f + 1), f"{f / fps:.6f}"]
        for j in range(len(labels)):
            cells += [f"{v:.5f}" for v in xyz[f, j]] if valid[f, j] else ["", "", ""]
        out.append("\t".join(cells))
    return "\n".join(out) + "\n", renamed

"""Marker text exports of the capture software: OptiTrack Motive and Vicon Nexus CSV, Qualisys TSV.
Read as markers (as a C3D's), written back cell by cell.

OptiTrack Motive (File > Export Tracking Data > CSV, "Format Version" 1.2x): a line of key,value pairs
(Capture Frame Rate, Export Frame Rate, Length Units, Coordinate Space, ...), a blank line, header rows
naming each column (`,Type,Marker,Marker,Marker,Bone,...`; `,Name,Skeleton_001:WaistLFront,...`;
`,ID,...`), a row saying what each column holds (`,,Position,Position,Position,Rotation,...`), the axis
row (`Frame,Time (Seconds),X,Y,Z,...`), then one comma-separated row per frame. The labelled markers
(Type `Marker`, Position X/Y/Z) are the body; rigid bodies, Motive's solved skeleton (Bone), the model's
expected markers (Rigid Body Marker, Bone Marker), marker quality and `Unlabeled NNNN` markers are never
read as the body nor moved. A file whose only body is the solved skeleton (Bone positions, no labelled
markers) is read through its bones (motive-skeleton), read only.

Vicon Nexus (Export CSV): sections, each a name line (`Devices`, `Joints`, `Model Outputs`, `Segments`,
`Trajectories`), a rate line, a line of names over their columns (`,,Subject:LASI,,,Subject:RASI,,,`),
the axis line (`Frame,Sub Frame,X,Y,Z,...`), a units line (`,,mm,mm,mm,...`), rows, and a blank line.
The Trajectories section is the markers; every other section (analog devices, model outputs, joints,
segments) is never read nor moved.

Qualisys Track Manager (Export > TSV, 3D data): tab-separated `KEY<tab>value` lines (NO_OF_FRAMES,
FREQUENCY, NO_OF_MARKERS, DATA_INCLUDED 3D, MARKER_NAMES with the names after it, ...), then, in
recent versions, a `Frame<tab>Time<tab>Q_HeadL X<tab>...` line, then one row per frame (X, Y, Z per
marker in mm, after Frame and Time where the file has them); a gap is 0, 0, 0 or empty cells.

In all three, an empty cell is a missing sample, `Subject:` prefixes name the performer (as a C3D's subjects),
and the markers go to the 17 joints through the same maps as a C3D's (io.c3d.body_from_markers). Edited
joints go back into a copy of the file in which only the cells of the marker samples that moved or were
filled change, in the file's own number format; every other byte is kept.
"""
from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import JOINTS
from gfpose_cli.util.last_parse import LastParse
from gfpose_cli.core.take import Provenance, Take
from gfpose_cli.io.c3d import UNIT_TO_M, C3DWriteBack, body_from_markers, chosen_subject, point_kinds, subjects_of
from gfpose_cli.io.marker_text import is_number as _is_number
from gfpose_cli.io.marker_text import number as _number
from gfpose_cli.io.marker_text import (frame_slots, header_rate, in_slots, rate_against_times, read_text,
                                       rewrite_cells, skipped_note)
from gfpose_cli.io.point_csv import TIME_COLUMNS, guess_unit, point_columns
from gfpose_cli.signal.clock import ASSUMED_FPS, assumed_rate_note, column_rate, seconds_rate

#: Motive's Length Units
MOTIVE_UNITS = {"meters": "m", "centimeters": "cm", "millimeters": "mm"}
#: the section names of a Vicon Nexus CSV export
VICON_SECTIONS = ("devices", "joints", "model outputs", "segments", "trajectories")
VICON_UNITS = {"mm": "mm", "m": "m", "cm": "cm"}
LAYOUTS = {"motive": "OptiTrack Motive CSV", "vicon": "Vicon Nexus CSV", "qtm": "Qualisys TSV",
           "points": "plain named-points CSV"}


def layout(path: Path) -> str | None:
    """'motive', 'vicon' or 'qtm' for a text file the capture software exported, else None (a gfpose CSV,
    or another)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    text = head.removeprefix(codecs.BOM_UTF8).decode("latin-1")
    if text.lstrip().lower().startswith("format version,"):
        return "motive"
    if re.match(r"\s*NO_OF_FRAMES\t", text):
        return "qtm"
    lines = [line.strip().strip(",").strip().lower() for line in text.splitlines() if line.strip().strip(",")]
    if len(lines) >= 2 and lines[0] in VICON_SECTIONS and re.fullmatch(r"[0-9.]+", lines[1].split(",")[0].strip()):
        return "vicon"
    first = text.splitlines()[0] if text.splitlines() else ""
    cells = first.split(_separator(first))
    header = [c.strip().lower() for c in cells]
    ours = all(f"{j.lower()}_{a}" in header for j in JOINTS for a in "xyz")  # gfpose's own 3D CSV
    if not ours and point_columns(cells):
        return "points"
    return None


def _separator(header: str) -> str:
    """What separates a plain CSV's cells, the most of them in its header: commas; semicolons (a
    spreadsheet's export in a European locale, whose numbers have decimal commas); tabs (MATLAB's
    writetable with Delimiter tab)."""
    return max((",", ";", "\t"), key=header.count)


def _semicolon_cells(line: str) -> list[str]:
    return line.rstrip("\r\n").split(";")


def _splitter(separator: str, decimal: str):  # noqa: ANN202
    """A row's cells as the file separates them, decimal commas read as points (1,25 -> 1.25) where decimal
    is ',' (the write-back splits with '.': it keeps the file's own cells)."""
    split = {";": _semicolon_cells, "\t": _tabs}.get(separator, _cells)
    if decimal == ".":
        return split
    return lambda line: [c.replace(",", ".") for c in split(line)]


def _decimal_mark(lines: list[str], separator: str) -> str:
    """',' where a file separated by semicolons or tabs writes its numbers with decimal commas (its first
    rows hold cells like 1234,567 and none like 1234.567), else '.'."""
    if separator == ",":
        return "."
    comma = point = False
    for line in lines[1:1000]:  # the first rows with a fraction in them (a take may start with empty cells)
        cells = [c.strip() for c in line.rstrip("\r\n").split(separator)]
        comma |= any(re.fullmatch(r"-?\d+,\d+", c) for c in cells)
        point |= any(re.fullmatch(r"-?\d+\.\d+", c) for c in cells)
        if comma or point:
            break
    return "," if comma and not point else "."


@dataclass
class MarkerCsv:
    """A capture software's CSV as read: its lines, where the frame rows are, and its marker columns."""

    path: Path
    layout: str  # "motive", "vicon" or "qtm"
    digest: str
    lines: list[str]
    row_lines: list[int | None]  # (F,) index in lines of each frame row (None: a frame the file skips)
    names: list[str]  # (N,) markers
    cols: np.ndarray  # (N, 3) the X, Y, Z column of each
    xyz: np.ndarray  # (F, N, 3) file units and axes, NaN where missing
    observed: np.ndarray  # (F, N)
    rate: float
    units: str  # "m", "cm" or "mm"
    encoding: str
    decimals: int | None
    notes: list[str]
    bones: list[str] = field(default_factory=list)  # Motive's solved skeleton (Type Bone, Position)
    bone_xyz: np.ndarray | None = None  # (F, B, 3)
    bone_observed: np.ndarray | None = None  # (F, B)
    frames: np.ndarray | None = None  # (rows,) the Frame column's numbers, where the file has one
    separator: str = ","  # between a plain CSV's cells (";" from a European locale; or a tab)
    decimal: str = "."  # a plain CSV's decimal mark ("," from a European locale, with ";" or tabs between cells)
    warnings: list[str] = field(default_factory=list)


def _cells(line: str) -> list[str]:
    return line.rstrip("\r\n").split(",")


def _rows(path: Path, lines: list[str], first: int, stop: int, width: int, used: list[int], label,  # noqa: ANN001
          split=None, frame_col: bool = True) -> tuple:  # noqa: ANN001
    """The frame rows of lines[first:stop]: their line indices, the used columns' values, the number format,
    and each row's first cell as a number (NaN where it is none: the Frame column, where the file has one).
    label(column) names a column in a refusal; split a line's cells (commas by default); frame_col: the
    first cell is the frame number (checked)."""
    split = split or _cells
    row_lines, values, firsts, decimals, fixed = [], [], [], set(), True
    for i in range(first, stop):
        cells = split(lines[i])
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            raise InputError(f"{path}: line {i + 1} has {len(cells)} cells; its header names {width}: the file looks damaged")
        cells = (cells + [""] * width)[:width]
        checked = [0, *used] if frame_col else used
        try:
            if frame_col:
                float(cells[0])
            row = [_number(cells[c]) for c in used]
        except ValueError:
            bad = next(c for c in checked if not _is_number(cells[c]) or (c == 0 and frame_col and not cells[0].strip()))
            raise InputError(f"{path}: line {i + 1}, {label(bad)}: {cells[bad].strip()!r} is not a number") from None
        if len(values) < 50:
            for c in used:
                cell = cells[c].strip()
                if cell and cell.lower() != "nan":
                    fixed = fixed and "e" not in cell.lower()
                    decimals.add(len(cell.split(".", 1)[1]) if "." in cell else 0)
        row_lines.append(i)
        values.append(row)
        firsts.append(_number(cells[0]) if _is_number(cells[0]) else np.nan)
    if not values:
        raise InputError(f"{path}: holds no frames")
    return (row_lines, np.asarray(values, dtype=np.float64), (max(decimals) if fixed and decimals else None),
            np.asarray(firsts, dtype=np.float64))


def _points(values: np.ndarray, used: list[int], cols: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    where = {c: k for k, c in enumerate(used)}
    F = len(values)
    if not cols:
        return np.zeros((F, 0, 3)), np.zeros((F, 0), bool)
    xyz = values[:, [where[c] for trip in cols for c in trip]].reshape(F, len(cols), 3)
    seen = np.isfinite(xyz).all(-1) & ~(xyz == 0.0).all(-1)
    return np.where(seen[..., None], xyz, np.nan), seen


#: the last export load() parsed (performers() lists a file's subjects, then each is read, then written back
#: into a copy); its arrays are read-only
_LOADED = LastParse()


def load(path: Path) -> MarkerCsv:
    """Parse a Motive or Vicon CSV export or a Qualisys TSV export; refuses, naming the line, what it cannot read."""
    import hashlib

    path = Path(path)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        digest = None
    kept = _LOADED.get(path, digest) if digest is not None else None
    if kept is not None:
        return kept
    kind = layout(path)
    if kind == "motive":
        f = _load_motive(path)
    elif kind == "vicon":
        f = _load_vicon(path)
    elif kind == "qtm":
        f = _load_qtm(path)
    elif kind == "points":
        f = _load_points(path)
    else:
        raise InputError(f"{path}: not an OptiTrack Motive or Vicon Nexus CSV export, nor a Qualisys TSV export")
    f = _in_frame_slots(f)
    for a in (f.xyz, f.observed, f.bone_xyz, f.bone_observed):
        if a is not None:
            a.setflags(write=False)
    if f.digest == digest:  # the bytes parsed are the bytes hashed
        _LOADED.keep(path, digest, f)
    return f


def _in_frame_slots(f: MarkerCsv) -> MarkerCsv:
    """The export with the frames its Frame column skips (rows a script dropped) put back empty in their place,
    so the take keeps its timing (marker_text.frame_slots), said; as it is where it has no Frame column or
    none is skipped."""
    if f.frames is None:
        return f
    found = frame_slots(f.frames)
    if found is None:
        return f
    at, frames, skipped = found
    xyz, observed = in_slots(at, frames, f.xyz, f.observed)
    bones = in_slots(at, frames, f.bone_xyz, f.bone_observed) if f.bone_xyz is not None else [None, None]
    row_lines: list[int | None] = [None] * frames
    for k, i in zip(at, f.row_lines):
        row_lines[k] = i
    return replace(f, xyz=xyz, observed=observed, bone_xyz=bones[0], bone_observed=bones[1], row_lines=row_lines,
                   warnings=[*f.warnings, skipped_note(skipped)])


def _load_points(path: Path) -> MarkerCsv:
    """A plain CSV of named 3D points (point_csv): a header of `<name>_X, <name>_Y, <name>_Z` columns (and
    any others: frame, time), then one row per frame. The unit is guessed from the body's size ("" where
    it cannot be: read then needs --units); the rate is its time column's, else ASSUMED_FPS."""
    data, encoding, lines = read_text(path)
    separator = _separator(lines[0])
    decimal = _decimal_mark(lines, separator)
    split = _splitter(separator, decimal)
    header = split(lines[0])
    columns = point_columns(header)
    names, cols = list(columns), [list(c) for c in columns.values()]
    used = sorted(c for trip in cols for c in trip)
    lowered = [h.strip().lower() for h in header]
    time_col = next((lowered.index(n) for n in TIME_COLUMNS if n in lowered), None)
    counted = lowered[0] in ("frame", "frame#", "frames", "index", "") or time_col == 0
    row_lines, values, decimals, _ = _rows(path, lines, 1, len(lines), len(header), used,
                                           lambda c: header[c].strip() or f"column {c + 1}", split=split,
                                           frame_col=counted)
    xyz, observed = _points(values, used, cols)
    notes = [f"{len(names)} named 3D points, one frame per row"
             + {";": "; cells separated by semicolons", "\t": "; cells separated by tabs"}.get(separator, "")
             + (", decimal commas" if decimal == "," else "")]
    guess = guess_unit(xyz, observed)
    if guess is not None:
        notes.append(f"no unit in the file: {guess[0]}, by the body's size (its points span {guess[1]:.4g}; pass "
                     "{units} if not)")
    rate = None
    if time_col is not None:  # cells that are no number (clock times 00:01.5) leave the rate untold
        times = _column_times(lines, row_lines, time_col, split)
        rate = seconds_rate(times) if np.isfinite(times).sum() >= 2 else None
    if rate is None:
        rate = ASSUMED_FPS
        notes.append(assumed_rate_note("no time column in seconds"))
    return MarkerCsv(path=path, layout="points", digest=hashlib.sha256(data).hexdigest(), lines=lines,
                     row_lines=row_lines, names=names, cols=np.asarray(cols), xyz=xyz, observed=observed, rate=rate,
                     units=guess[0] if guess else "", encoding=encoding, decimals=decimals, notes=notes,
                     separator=separator, decimal=decimal)


def _load_motive(path: Path) -> MarkerCsv:
    data, encoding, lines = read_text(path)
    meta_cells = [c.strip() for c in _cells(lines[0])] if lines else []
    meta = {k.lower(): v for k, v in zip(meta_cells[0::2], meta_cells[1::2])}
    axis_at = next((i for i, line in enumerate(lines[:30]) if _cells(line)[0].strip().lower() == "frame"), None)
    if axis_at is None:
        raise InputError(f"{path}: a Motive CSV header without its `Frame,Time,...` row in the first 30 lines: "
                         "the file looks cut off or damaged")
    rows = {(_cells(line) + ["", ""])[1].strip().lower(): _cells(line) for line in lines[1:axis_at]}
    axes = [c.strip().upper() for c in _cells(lines[axis_at])]
    width = len(axes)

    def header(key: str, default: str = "") -> list[str]:
        row = rows.get(key)
        return [c.strip() for c in (row + [""] * width)[:width]] if row is not None else [default] * width

    types, names = header("type", "Marker"), header("name")
    what_row = _cells(lines[axis_at - 1]) if axis_at >= 2 else []
    what = [c.strip().lower() for c in (what_row + [""] * width)[:width]]
    if (meta.get("coordinate space") or "global").lower() != "global":
        raise InputError(f"{path}: exported in {meta['coordinate space']} coordinates; gfpose reads markers in the "
                         "lab's frame: export again with Coordinate Space Global")
    units = MOTIVE_UNITS.get((meta.get("length units") or "meters").lower())
    if units is None:
        raise InputError(f"{path}: Length Units {meta.get('length units')!r}; expected Meters, Centimeters or Millimeters")

    def triplets(kind: str) -> tuple[list[str], list[list[int]]]:
        found: dict[str, dict[str, int]] = {}
        for c in range(2, width):
            if types[c].lower() == kind and what[c] == "position" and axes[c] in ("X", "Y", "Z") and names[c]:
                found.setdefault(names[c], {})[axes[c]] = c
        full = {n: a for n, a in found.items() if len(a) == 3}
        return list(full), [[a["X"], a["Y"], a["Z"]] for a in full.values()]

    marker_names, marker_cols = triplets("marker")
    bone_names, bone_cols = triplets("bone")
    if not marker_names and not bone_names:
        held = sorted({t for t in types[2:] if t})
        raise InputError(f"{path}: a Motive CSV with no marker or skeleton positions (its columns hold: "
                         f"{', '.join(held) or 'nothing'}); export the markers (Markers: on) to read a body")
    used = sorted({c for cols in marker_cols + bone_cols for c in cols})
    row_lines, values, decimals, frames = _rows(path, lines, axis_at + 1, len(lines), width, used,
                                        lambda c: "Frame" if c == 0 else f"{names[c] or 'column ' + str(c + 1)} {axes[c]}")
    xyz, observed = _points(values, used, marker_cols)
    bone_xyz, bone_observed = _points(values, used, bone_cols)
    notes = []
    warnings: list[str] = []
    rate = header_rate(meta, ("export frame rate", "capture frame rate"))
    if not (np.isfinite(rate) and rate > 0):
        rate = _rate_from_times(path, lines, row_lines, "its first line gives no frame rate", notes)
    else:
        said = "Export Frame Rate" if np.isfinite(header_rate(meta, ("export frame rate",))) else "Capture Frame Rate"
        rate = rate_against_times(rate, said, _column_times(lines, row_lines, 1), warnings)
    return MarkerCsv(path=path, layout="motive", digest=hashlib.sha256(data).hexdigest(), lines=lines,
                     row_lines=row_lines, names=marker_names, cols=np.asarray(marker_cols, dtype=int).reshape(-1, 3),
                     xyz=xyz, observed=observed, rate=rate, units=units, encoding=encoding, decimals=decimals,
                     notes=notes, bones=bone_names, bone_xyz=bone_xyz, bone_observed=bone_observed, warnings=warnings,
                     frames=frames)


def _column_times(lines: list[str], row_lines: list[int], col: int, split=_cells) -> np.ndarray:  # noqa: ANN001
    """The frame rows' values in column col (NaN where a row has none, or no number: a clock time 00:01.5)."""
    return np.array([_number(c[col]) if len(c := split(lines[i])) > col and _is_number(c[col]) else np.nan
                     for i in row_lines])


def _rate_from_times(path: Path, lines: list[str], row_lines: list[int], why: str, notes: list[str]) -> float:
    rate = column_rate(_column_times(lines, row_lines, 1))
    if rate is None:
        raise InputError(f"{path}: no frame rate ({why}), and no Time column to tell it")
    notes.append(f"{why}; {rate:.6g} Hz from the Time column")
    return rate


def _load_vicon(path: Path) -> MarkerCsv:
    data, encoding, lines = read_text(path)
    start = next((i for i, line in enumerate(lines) if line.strip().strip(",").strip().lower() == "trajectories"), None)
    if start is None:
        sections = [line.strip().strip(",") for line in lines if line.strip().strip(",").strip().lower() in VICON_SECTIONS]
        raise InputError(f"{path}: a Vicon Nexus CSV with no Trajectories section (it holds: {', '.join(sections)}); "
                         "export the trajectories to read a body")
    if start + 4 >= len(lines):
        raise InputError(f"{path}: the Trajectories section's header is cut off")
    rate_cell = _cells(lines[start + 1])[0].strip()
    try:
        rate = float(rate_cell)
    except ValueError:
        raise InputError(f"{path}: line {start + 2}: the Trajectories rate {rate_cell!r} is not a number") from None
    if not (np.isfinite(rate) and rate > 0):
        raise InputError(f"{path}: line {start + 2}: the Trajectories rate {rate_cell!r} is not a positive number")
    name_cells, axes = _cells(lines[start + 2]), [c.strip().upper() for c in _cells(lines[start + 3])]
    unit_cells = _cells(lines[start + 4])
    if not axes or axes[0] != "FRAME":
        raise InputError(f"{path}: line {start + 4} should be the Trajectories' `Frame,Sub Frame,X,Y,Z,...` row")
    width = len(axes)
    names_at = [(c, name.strip()) for c, name in enumerate((name_cells + [""] * width)[:width]) if name.strip()]
    names, cols = [], []
    for c, name in names_at:
        if axes[c: c + 3] == ["X", "Y", "Z"]:
            names.append(name)
            cols.append([c, c + 1, c + 2])
    if not names:
        raise InputError(f"{path}: the Trajectories section names no X/Y/Z markers")
    unit_words = {u.strip().lower() for c in cols for u in (unit_cells + [""] * width)[c[0]: c[0] + 3] if u.strip()}
    units = VICON_UNITS.get(next(iter(unit_words))) if len(unit_words) == 1 else None
    if units is None:
        raise InputError(f"{path}: line {start + 5}: the Trajectories' units {sorted(unit_words)}; expected mm, cm or m "
                         "(one for every marker)")
    stop = next((i for i in range(start + 5, len(lines)) if not lines[i].strip().strip(",")), len(lines))
    used = sorted(c for trip in cols for c in trip)
    label = {c: f"{n} {axes[c]}" for n, trip in zip(names, cols) for c in trip}
    row_lines, values, decimals, frames = _rows(path, lines, start + 5, stop, width, used,
                                        lambda c: "Frame" if c == 0 else label.get(c, f"column {c + 1}"))
    xyz, observed = _points(values, used, cols)
    warnings = []
    step = np.diff(frames)
    if len(step) and np.all(step == step[0]) and step[0] > 1 and step[0] == int(step[0]):
        # every k-th frame's row (thinned by a script that kept the header): the rows are at rate / k
        warnings.append(f"its Trajectories rate is {rate:.6g} Hz but its Frame column steps {int(step[0])} frames a row: "
                        f"read at {rate / step[0]:.6g} Hz, as the rows' frames say")
        rate = rate / step[0]
    return MarkerCsv(path=path, layout="vicon", digest=hashlib.sha256(data).hexdigest(), lines=lines, row_lines=row_lines,
                     names=names, cols=np.asarray(cols, dtype=int).reshape(-1, 3), xyz=xyz, observed=observed,
                     rate=rate, units=units, encoding=encoding, decimals=decimals, notes=[], warnings=warnings,
                     frames=frames)


def _tabs(line: str) -> list[str]:
    return line.rstrip("\r\n").split("\t")


def _load_qtm(path: Path) -> MarkerCsv:
    data, encoding, lines = read_text(path)
    meta: dict[str, list[str]] = {}
    i = 0
    while i < len(lines):
        cells = _tabs(lines[i])
        key = cells[0].strip()
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
            break
        meta[key] = [c.strip() for c in cells[1:]]
        i += 1
    names = [n for n in meta.get("MARKER_NAMES", []) if n]
    if not names:
        raise InputError(f"{path}: a Qualisys TSV export without MARKER_NAMES: export again with the 3D data and "
                         "its labels")
    if (meta.get("DATA_INCLUDED") or ["3D"])[0].upper() != "3D":
        raise InputError(f"{path}: a Qualisys TSV export of {meta['DATA_INCLUDED'][0]} data; gfpose reads the 3D "
                         "trajectories (Export > TSV with 3D data)")
    try:
        rate = float((meta.get("FREQUENCY") or ["nan"])[0])
    except ValueError:
        rate = float("nan")
    if not (np.isfinite(rate) and rate > 0):
        raise InputError(f"{path}: its FREQUENCY {(meta.get('FREQUENCY') or [''])[0]!r} is not a frame rate")
    first = i
    header = _tabs(lines[first]) if first < len(lines) else []
    width_of = lambda line: len(_tabs(line))  # noqa: E731
    if header and header[0].strip().lower() == "frame":  # Frame, Time, then "Name X", "Name Y", "Name Z"
        at = {c.strip(): k for k, c in enumerate(header)}
        missing = [n for n in names if not all(f"{n} {a}" in at for a in "XYZ")]
        if missing:
            raise InputError(f"{path}: line {first + 1} has no X, Y, Z columns for {', '.join(missing[:4])}")
        cols = [[at[f"{n} {a}"] for a in "XYZ"] for n in names]
        time_col, counted = at.get("Time"), True
        first += 1
        width = len(header)
    else:  # rows of X, Y, Z per marker, or Frame and Time first
        rows = [j for j in range(first, min(len(lines), first + 5)) if lines[j].strip()]
        width = width_of(lines[rows[0]]) if rows else 3 * len(names)
        lead = 2 if width >= 3 * len(names) + 2 else 0
        if width < 3 * len(names) + lead:
            raise InputError(f"{path}: line {first + 1} has {width} cells; its {len(names)} MARKER_NAMES need "
                             f"{3 * len(names)}: the file looks damaged")
        width = max(width, 3 * len(names) + lead)
        cols = [[lead + 3 * k + a for a in range(3)] for k in range(len(names))]
        time_col, counted = (1 if lead else None), bool(lead)
    used = sorted(c for trip in cols for c in trip)
    label = {c: f"{n} {'XYZ'[a]}" for n, trip in zip(names, cols) for a, c in enumerate(trip)}
    row_lines, values, decimals, firsts = _rows(path, lines, first, len(lines), width, used,
                                                lambda c: label.get(c, f"column {c + 1}"), split=_tabs, frame_col=False)
    xyz, observed = _points(values, used, cols)
    notes = []
    declared = (meta.get("NO_OF_FRAMES") or [""])[0]
    if declared.isdigit() and int(declared) != len(row_lines):
        notes.append(f"its header says {declared} frames, the file holds {len(row_lines)}: read {len(row_lines)}")
    warnings: list[str] = []
    if time_col is not None:
        rate = rate_against_times(rate, "FREQUENCY", _column_times(lines, row_lines, time_col, _tabs), warnings)
    return MarkerCsv(path=path, layout="qtm", digest=hashlib.sha256(data).hexdigest(), lines=lines, row_lines=row_lines,
                     names=names, cols=np.asarray(cols, dtype=int).reshape(-1, 3), xyz=xyz, observed=observed,
                     rate=rate, units="mm", encoding=encoding, decimals=decimals, notes=notes, warnings=warnings,
                     frames=firsts if counted else None)


@dataclass
class CsvWriteBack(C3DWriteBack):
    """What writing edited joints back into the source CSV export needs: the C3D write-back's marker data
    (markers ride the skeleton the same way) and each marker's X, Y, Z columns in the file."""

    columns: np.ndarray | None = None  # (K, 3)
    layout: str = ""  # "motive", "vicon" or "qtm": the file's cells are tab-separated for "qtm"


def _unlabelled(name: str) -> bool:
    bare = name.rsplit(":", 1)[-1].strip().lower()
    return bare.startswith("unlabeled") or bare.startswith("unlabelled")


def read(path: Path, skeleton_map=None, subject: str | None = None,  # noqa: ANN001
         units: tuple[float, str] | None = None) -> Take:
    """Read a Motive or Vicon CSV export, or a Qualisys TSV export, into a 17-joint Take (metres, Z up);
    units (metres per unit, name) overrides the file's own."""
    f = load(path)
    if units is None and not f.units:
        raise InputError(f"{path}: its points span no person's size in m, cm or mm, and the file gives no unit; pass "
                         "{units}")
    to_m, units_name = units if units is not None else (UNIT_TO_M[f.units], f.units)
    labelled = [i for i, n in enumerate(f.names) if not _unlabelled(n)]
    who, picked = chosen_subject(path, [f.names[i] for i in labelled], subject, skeleton_map)
    keep = [i for i in labelled if who is None or f.names[i].split(":", 1)[0] == who]
    if not keep or not f.observed[:, keep].any():
        if f.bones and f.bone_observed is not None and f.bone_observed.any():
            return _read_bones(f, path, skeleton_map, subject, to_m, units_name)
        raise InputError(f"{path}: no labelled marker holds a sample ({len(f.names)} marker columns, "
                         f"{len(f.names) - len(labelled)} of them unlabelled): label the markers in the capture software")
    names = [f.names[i] for i in keep]
    kinds = point_kinds(names, {})
    xyz, observed = f.xyz[:, keep], f.observed[:, keep]
    found = body_from_markers(path, names, kinds, xyz * to_m, observed, [], skeleton_map)
    back = CsvWriteBack(path=str(path), digest=f.digest, skeleton_map=found.smap,
                        subject=who, to_canonical=found.rot,
                        units_to_m=to_m, marker_index=np.asarray(keep), columns=f.cols[keep], layout=f.layout,
                        markers=np.where(observed[..., None], found.xyz, np.nan) @ found.rot.T,
                        observed=observed, names=found.names, kinds=kinds, joints=found.poses, joint_mask=found.mask,
                        exchanged=found.exchanged, held=found.held)
    return Take(positions=found.poses.astype(np.float32), mask=found.mask, fps=f.rate,
                provenance=Provenance(path=str(path), format="tsv" if f.layout == "qtm" else "csv", map=found.smap.name,
                                      units=units_name, units_to_m=to_m, up=found.up, subject=back.subject,
                                      notes=tuple([f"a {LAYOUTS[f.layout]} export"]
                                                  + [n for n in f.notes if units is None or "by the body's size" not in n]
                                                  + picked + found.notes),
                                      warnings=tuple(f"{path}: {w}" for w in f.warnings) + tuple(found.warnings)),
                writeback=back)


def _read_bones(f: MarkerCsv, path: Path, skeleton_map, subject: str | None, to_m: float,  # noqa: ANN001
                units_name: str) -> Take:
    """A Motive export whose body is its solved skeleton alone: the bones' positions (each bone starts at
    its joint) through motive-skeleton. Read only: a write-back would leave the bones' rotations stale,
    so an output is a file of the 17 joints."""
    subjects = subjects_of(f.bones)
    if subject is None and len(subjects) > 1:
        raise InputError(f"{path}: several skeletons ({', '.join(subjects)}); pick one with {{subject}}")
    who = subject or (subjects[0] if subjects else None)
    keep = [i for i, n in enumerate(f.bones) if who is None or n.split(":", 1)[0] == who]
    if not keep:
        raise InputError(f"{path}: no skeleton of subject {subject!r}; subjects: {', '.join(subjects) or 'none'}")
    names = [f.bones[i] for i in keep]
    if skeleton_map is None:  # a skeleton of fewer bones (lower body only) reads with the rest missing, said
        from dataclasses import replace

        from gfpose_cli.io.maps import load_map

        skeleton_map = replace(load_map("motive-skeleton"), partial=True)
    found = body_from_markers(path, names, ["marker"] * len(names), f.bone_xyz[:, keep] * to_m,
                              f.bone_observed[:, keep], [], skeleton_map)
    note = "no labelled markers: read through Motive's solved skeleton (its Bone positions)"
    return Take(positions=found.poses.astype(np.float32), mask=found.mask, fps=f.rate,
                provenance=Provenance(path=str(path), format="csv", map=found.smap.name, units=units_name,
                                      units_to_m=to_m, up=found.up, subject=who,
                                      notes=tuple(f.notes + found.notes + [note]),
                                      warnings=tuple(f"{path}: {w}" for w in f.warnings) + tuple(found.warnings)))


def write(take: Take, path: Path, force: bool = True) -> dict:
    """Write a take read from a CSV export back into a copy of that file: the markers ride the edited
    skeleton (as a C3D's do) and only the cells of samples that moved or were filled (by `complete`)
    change, in the file's number format; every other byte stays."""
    return write_performers([take], path, force)


def performers(path: Path) -> list[str]:
    """The performers of a CSV export: the subject prefixes of its labelled markers, most markers first."""
    f = load(Path(path))  # kept for the reads that follow (load's cache)
    return subjects_of([n for n in f.names if not _unlabelled(n)])


def write_performers(takes: list[Take], path: Path, force: bool = True) -> dict:
    """Takes read from one CSV export (one, or each of its performers, read with their subjects) written
    back into one copy of it: each performer's markers ride its own edited skeleton, every other cell
    is kept."""
    if not all(isinstance(t.writeback, CsvWriteBack) for t in takes):
        raise InputError(f"{path}: the performers written into one CSV export must all come from it")
    if not Path(takes[0].writeback.path).exists():
        raise InputError(f"{path}: its source {takes[0].writeback.path} is gone; write NPZ instead")
    f = load(Path(takes[0].writeback.path))
    sep = "\t" if takes[0].writeback.layout == "qtm" else f.separator
    return rewrite_cells(takes, path, force, load=load, columns=[t.writeback.columns for t in takes],
                         split=_splitter(sep, "."), separator=lambda body: sep, decimal=f.decimal)

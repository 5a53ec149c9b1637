"""A plain CSV of named 3D points, one row per frame: `Frame, Time, LASI_X, LASI_Y, LASI_Z, ...`.

Labs save markers this way from MATLAB, Python or a capture program's generic export, and markerless
tools their 3D keypoints (FreeMoCap's body CSV: `left_hip_x, left_hip_y, left_hip_z, ...`). A column is a
point's name and its axis (`_x`, `.Y`, ` z`); a point needs all three. marker_csv reads such a file as a
marker export of its own layout ("points"): the points go to the 17 joints as a C3D's markers do (a
marker set or keypoint map found by the names, else one learned from the motion; turned Z up), and a
task's result goes back into a copy of the file, the moved and filled cells rewritten. The file carries
no unit: it is told from the body's size (guess_unit) and said, `--units` overriding it; the rate comes
from a time column in seconds, else 30 frames a second are assumed and said.
"""
from __future__ import annotations

import re

import numpy as np

#: a column of one point's coordinate: its name, a separator, and the axis
_AXIS_COLUMN = re.compile(r"(?i)^(.+?)[_.\s:-]?([xyz])$")
#: the fewest named points a plain CSV of a body holds (a pelvis and two legs are more than this)
MIN_POINTS = 4
#: a body's extent (the longest side of the box around its points, median over frames) in metres, for
#: the unit's guess: a person standing 1-2 m, crouched or lying a little less, arms out a little more
EXTENT_M = (0.5, 3.0)
UNITS = (("m", 1.0), ("cm", 0.01), ("mm", 0.001))
#: column names of time in seconds
TIME_COLUMNS = ("time", "time (s)", "time (seconds)", "time(s)", "seconds")


#: a column of a point's detection score: a detector's landmarks (MediaPipe's x, y, z, visibility are
#: image coordinates and a relative depth), not 3D points
_SCORE_COLUMN = re.compile(r"(?i)^(.+?)[_.\s:-]?(visibility|presence|score|conf|confidence|likelihood|prob)$")


def point_columns(header: list[str]) -> dict[str, tuple[int, int, int]]:
    """Point name -> its x, y, z columns, for the names that have all three (MIN_POINTS or more, else
    none: not a file of points); none where the points carry detection scores too (a detector's
    landmarks, read as 2D keypoints)."""
    found: dict[str, dict[str, int]] = {}
    scored = set()
    for k, cell in enumerate(header):
        m = _AXIS_COLUMN.match(cell.strip())
        if m and m.group(1).strip().lower() not in ("frame", "time", "timestamp"):
            found.setdefault(m.group(1).strip(), {})[m.group(2).lower()] = k
        s = _SCORE_COLUMN.match(cell.strip())
        if s:
            scored.add(s.group(1).strip())
    points = {name: (c["x"], c["y"], c["z"]) for name, c in found.items() if len(c) == 3}
    if len(points) < MIN_POINTS or len(scored & set(points)) * 2 > len(points):
        return {}
    return points


def guess_unit(xyz: np.ndarray, observed: np.ndarray) -> tuple[str, float] | None:
    """('mm', median extent) where the body's extent is a person's in exactly one of m, cm and mm
    (EXTENT_M); None where in none (or no frame shows MIN_POINTS points)."""
    pts = np.where(observed[..., None], xyz, np.nan)
    seen = observed.sum(1) >= MIN_POINTS
    if not seen.any():
        return None
    box = np.nanmax(pts[seen], 1) - np.nanmin(pts[seen], 1)
    extent = float(np.median(box.max(-1)))
    fits = [name for name, to_m in UNITS if EXTENT_M[0] <= extent * to_m <= EXTENT_M[1]]
    return (fits[0], extent) if len(fits) == 1 else None

"""The frame rate a file's time column runs at (TRC's Time, gfpose CSV's time)."""
from __future__ import annotations

import numpy as np


def rate_from_times(times: np.ndarray, frames: np.ndarray | None = None) -> float | None:
    """Frames per second of a time column (seconds) against its frame numbers (0, 1, 2, ... where
    frames is None): the slope of a straight line through them, since printed digits round each time,
    not the line. None where no line fits within half a frame (no times, a constant column, frames
    dropped or repeated) or it does not run forward."""
    times = np.asarray(times, dtype=np.float64)
    frames = np.arange(len(times), dtype=np.float64) if frames is None else np.asarray(frames, dtype=np.float64)
    ok = np.isfinite(times) & np.isfinite(frames)
    if len(np.unique(frames[ok])) < 3:
        return None
    slope, start = np.polyfit(frames[ok], times[ok], 1)
    if not slope > 0 or np.abs(times[ok] - (start + slope * frames[ok])).max() > 0.5 * slope:
        return None
    return float(1.0 / slope)

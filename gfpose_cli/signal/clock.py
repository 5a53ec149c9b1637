"""The frame rate a file's time column runs at (TRC's Time, gfpose CSV's time, a detector CSV's time),
or its printed frame period gives (BVH's Frame Time)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

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
    return nominal(1.0 / slope)


#: video and capture rates a measured rate is snapped to when within SNAP of one (NTSC's 30000/1001, ...)
NOMINAL = tuple(n * 1000 / 1001 for n in (24, 30, 48, 60, 120, 240))
SNAP = 1e-5


def nominal(rate: float) -> float:
    """rate, or the whole number or NTSC rate within SNAP (relative) of it: times printed with a few digits
    (0.0333, 0.0667, ...) give 30.000004 frames a second where the file meant 30."""
    for candidate in (round(rate), *NOMINAL):
        if candidate > 0 and abs(rate / candidate - 1) <= SNAP:
            return float(candidate)
    return float(rate)


#: frame rates a CSV's time column (seconds) may give; outside, it is in another unit (milliseconds)
FPS_RANGE = (1.0, 2000.0)
#: the frame rate assumed (and said) where a file gives none: a detector's output or a lab's CSV without
#: a time column in seconds, most often from a 30 Hz video
ASSUMED_FPS = 30.0
#: the words of every reader's note that it assumed a frame rate (what --fps then replaces)
ASSUMED_RATE = "frames a second assumed"


def assumed_rate_note(why: str, fps: float = ASSUMED_FPS) -> str:
    """A reader's note that it assumed fps frames a second, and why (the file gives none)."""
    return f"{why}: {fps:g} {ASSUMED_RATE} (--fps gives it)"


def column_rate(times: np.ndarray) -> float | None:
    """Frames per second of a file's time column where its header gives none: the straight line through
    it (rate_from_times), else its median step (a column that drops frames); None where it does not run
    forward."""
    times = np.asarray(times, dtype=np.float64)
    rate = rate_from_times(times)
    if rate is not None:
        return rate
    step = np.diff(times[np.isfinite(times)])
    return nominal(float(1.0 / np.median(step))) if len(step) and np.median(step) > 0 else None


def seconds_rate(times: np.ndarray, frames: np.ndarray | None = None) -> float | None:
    """rate_from_times for a column that should be in seconds: None where the rate it gives is not a
    capture's or a video's (FPS_RANGE), rounded to a millionth of a frame per second."""
    rate = rate_from_times(times, frames)
    if rate is None or not FPS_RANGE[0] <= rate <= FPS_RANGE[1]:
        return None
    return float(np.round(rate, 6))


#: capture and video rates a printed frame period is read as where its digits cannot tell it from one
COMMON = (24, 25, 30, 48, 50, 60, 90, 100, 120, 144, 150, 180, 200, 240, 250, 300, 360, 400, 480, 500, 600, 960, 1000)


def rate_from_period(text: str) -> float:
    """Frames per second of a frame period as a file prints it (BVH's `Frame Time: 0.008333`): a whole
    number of frames a second, or a capture's or video's rate (COMMON, NTSC), where printing that rate's
    period to the text's digits gives the text (0.008333 is 1/120 to six places, not 120.0048 Hz); 1/period
    where no such rate fits or the digits are too few to tell rates apart (0.03: 33.3 Hz)."""
    period = float(text)
    rate = 1.0 / period
    try:
        half = 0.5 * 10.0 ** Decimal(text.strip()).as_tuple().exponent
    except (InvalidOperation, TypeError):
        return nominal(rate)
    if half / period > 2e-3:
        return nominal(rate)
    fits = [c for c in (round(rate), *NOMINAL, *COMMON) if c > 0 and abs(1.0 / c - period) <= half * (1 + 1e-9)]
    return float(min(fits, key=lambda c: abs(c - rate))) if fits else nominal(rate)

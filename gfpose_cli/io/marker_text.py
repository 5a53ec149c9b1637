"""Marker text files written back cell by cell (TRC, Motive and Vicon CSV exports): what they share.

A take read from such a file goes back into a copy of its lines in which only the cells of the marker
samples that moved or were filled change, in the file's own number format; the markers ride the
edited skeleton as a C3D's do (io.c3d.marker_edits).
"""
from __future__ import annotations

import codecs
from pathlib import Path
from typing import Callable

import numpy as np

from gfpose_cli.core.errors import InputError
from gfpose_cli.core.take import Take
from gfpose_cli.io.c3d import add_up_edits, marker_edits, new_summary
from gfpose_cli.signal.clock import nominal, seconds_rate


def read_text(path: Path) -> tuple[bytes, str, list[str]]:
    """A text export's bytes, the encoding its lines are decoded in and written back in (a UTF-8 BOM kept;
    Latin-1 where the bytes are not UTF-8, as Cortex writes French names), and its lines with their endings."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    encoding = "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        encoding, text = "latin-1", data.decode("latin-1")
    return data, encoding, text.splitlines(keepends=True)


#: a time column whose steps imply a rate this far (a share) from the header's overrides it
RATE_AGREEMENT = 0.02


def rate_against_times(rate: float, said: str, times: np.ndarray, warnings: list[str],
                       whose: str = "the rows' times say") -> float:
    """A header's rate, or the time column's (seconds) where the two disagree by more than RATE_AGREEMENT
    (rows dropped or resampled by a script that kept the header; a header written wrong): the rows are
    where the data is, said in warnings naming the header's value (said) and whose word is taken."""
    timed = seconds_rate(times) if np.isfinite(times).sum() >= 2 else None
    if timed is None or abs(timed / rate - 1) <= RATE_AGREEMENT:
        return rate
    warnings.append(f"its header's {said} is {rate:.6g} Hz but its Time column steps {1 / timed:.6g} s a frame "
                    f"({timed:.6g} Hz): read at {timed:.6g} Hz, as {whose}")
    return timed


#: frame_slots puts skipped frames back only where the take stays under this many times its rows
SKIPPED_AT_MOST = 10


def frame_slots(numbers: np.ndarray) -> tuple[np.ndarray, int, list[tuple[int, int]]] | None:
    """Where a Frame column's whole numbers rise with gaps (rows a script dropped: pandas' dropna keeps the
    numbers of the rows it keeps), each row's place in the take (its number less the first), the take's
    length and the skipped [first, last] spans as the file numbers them; None where no number is skipped,
    or the numbers are not whole and rising, or most steps are not one frame (a thinned take: a rate)."""
    numbers = np.asarray(numbers, dtype=np.float64)
    if len(numbers) < 2 or not np.isfinite(numbers).all() or (numbers != np.round(numbers)).any():
        return None
    step = np.diff(numbers)
    if (step < 1).any() or (step == 1).all() or (step == 1).sum() * 2 < len(step):  # most steps one frame
        return None
    if numbers[-1] - numbers[0] + 1 > SKIPPED_AT_MOST * len(numbers):  # a damaged number, not dropped rows
        return None
    slots = (numbers - numbers[0]).astype(np.int64)
    skipped = [(int(a) + 1, int(b) - 1) for a, b in zip(numbers[:-1], numbers[1:]) if b - a > 1]
    return slots, int(slots[-1]) + 1, skipped


def skipped_note(skipped: list[tuple[int, int]]) -> str:
    """The warning for rows a file skips, left empty in their place (frame_slots)."""
    spans = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in skipped[:4]) + (", ..." if len(skipped) > 4 else "")
    return (f"its frame numbers skip {spans} ({sum(b - a + 1 for a, b in skipped)} frames in all): left empty in "
            "their place, so the take keeps its timing")


def in_slots(slots: np.ndarray, frames: int, *arrays: np.ndarray) -> list[np.ndarray]:
    """Each (rows, ...) array spread over frames (F, ...) at slots: NaN (float) or False (bool) between."""
    out = []
    for a in arrays:
        full = np.full((frames, *a.shape[1:]), np.nan if a.dtype.kind == "f" else False, dtype=a.dtype)
        full[slots] = a
        out.append(full)
    return out


def header_rate(header: dict[str, str], keys: tuple[str, ...]) -> float:
    """The first of a header's rate values (by keys, in order) that is a positive number, else NaN; a rate
    printed to a few digits (29.97) is read as the capture or video rate it stands for (30000/1001)."""
    for key in keys:
        try:
            rate = float(header.get(key, "nan"))
        except ValueError:
            continue
        if np.isfinite(rate) and rate > 0:
            return nominal(rate)
    return float("nan")


def number(cell: str) -> float:
    """A cell's value: empty or NaN is a missing sample; anything else not a number raises ValueError.
    (float() first: it takes the surrounding blanks and nan itself, and a long take has millions of cells.)"""
    try:
        return float(cell)
    except ValueError:
        stripped = cell.strip()
        if stripped == "" or stripped.lower() in ("nan", "-nan", "na", "n/a"):
            return float("nan")
        raise


def is_number(cell: str) -> bool:
    try:
        number(cell)
    except ValueError:
        return False
    return True


def cell(value: float, decimals: int | None) -> str:
    """A value as the file writes its numbers: fixed-point at its decimals, else 7 significant digits."""
    return f"{value:.{decimals}f}" if decimals is not None else f"{value:.7g}"


def rewrite_cells(takes: list[Take], path: Path, force: bool, *, load: Callable, columns: list[np.ndarray],
                  split: Callable[[str], list[str]], separator: Callable[[str], str], decimal: str = ".") -> dict:
    """Write takes back into a copy of the text file they were read from (their writeback.path, loaded
    again by load, which gives its lines, row_lines, decimals, encoding and digest): one take, or the
    performers of one file, each riding its own markers. columns[t] (K, 3): take t's markers' X, Y, Z
    cells in a row; split(line) a row's cells; separator(line) what joins them; decimal the file's
    decimal mark (a comma in a European spreadsheet's CSV)."""
    from gfpose_cli.io import world_poses
    from gfpose_cli.util.atomic import atomic_path

    backs = [t.writeback for t in takes]
    if len({(b.path, b.digest) for b in backs}) != 1:
        raise InputError(f"{path}: the performers written into one file must all come from the same file")
    f = load(Path(backs[0].path))
    if f.digest != backs[0].digest:
        raise InputError(f"{backs[0].path} changed since it was read; run the command again")
    lines = list(f.lines)
    summary = new_summary()
    for take, cols_of in zip(takes, columns):
        back = take.writeback
        poses = world_poses(take, str(path))
        if len(poses) != len(back.joints):
            raise InputError(f"{path}: the take{' of ' + back.subject if back.subject else ''} has {len(poses)} frames "
                             f"but its source {back.path} has {len(back.joints)}; write NPZ instead")
        edits = marker_edits(take, poses)
        new = (np.nan_to_num(edits.new) @ back.to_canonical) / back.units_to_m  # file axes and units
        moved, filled = edits.moved.copy(), edits.filled.copy()
        width = int(cols_of.max()) + 1
        no_row = np.array([i is None for i in f.row_lines])[:, None]  # frames the file skips (frame_slots)
        lost = int((filled & no_row).sum())  # have no row to write a filled sample to
        filled &= ~no_row
        for row in np.flatnonzero((moved | filled).any(1)):
            i = f.row_lines[row]
            raw = lines[i]
            body = raw.rstrip("\r\n")
            cells = split(raw)
            cells += [""] * (width - len(cells))
            for k in np.flatnonzero(moved[row] | filled[row]):
                text = [cell(v, f.decimals) for v in new[row, k]]
                cols = cols_of[k]
                old = [cells[c].replace(decimal, ".") for c in cols]
                if moved[row, k] and all(is_number(o) and o.strip() and float(o) == float(t) for o, t in zip(old, text)):
                    moved[row, k] = False  # below the file's resolution: the same text, no move
                    continue
                for c, t in zip(cols, text):
                    cells[c] = t.replace(".", decimal)
            lines[i] = separator(body).join(cells) + raw[len(body):]
        add_up_edits(summary, edits, moved=moved)
        if lost:
            summary["filled"] -= lost
            summary["no_row"] = summary.get("no_row", 0) + lost
    if len(takes) > 1:
        summary["performers"] = len(takes)
    with atomic_path(Path(path), force) as tmp:
        tmp.write_bytes("".join(lines).encode(f.encoding))
    return summary

"""Marker text files written back cell by cell (TRC, Motive and Vicon CSV exports): what they share.

A take read from such a file goes back into a copy of its lines in which only the cells of the marker
samples that moved or were filled change, in the file's own number format; the markers ride the
edited skeleton as a C3D's do (io.c3d.marker_edits).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from gfpose_cli.core.errors import InputError
from gfpose_cli.core.take import Take
from gfpose_cli.io.c3d import marker_edits


def number(cell: str) -> float:
    """A cell's value: empty or NaN is a missing sample; anything else not a number raises ValueError."""
    cell = cell.strip()
    return float("nan") if cell == "" or cell.lower() in ("nan", "-nan", "na", "n/a") else float(cell)


def is_number(cell: str) -> bool:
    try:
        number(cell)
    except ValueError:
        return False
    return True


def cell(value: float, decimals: int | None) -> str:
    """A value as the file writes its numbers: fixed-point at its decimals, else 7 significant digits."""
    return f"{value:.{decimals}f}" if decimals is not None else f"{value:.7g}"


def rewrite_cells(take: Take, path: Path, force: bool, *, load: Callable, columns: np.ndarray,
                  split: Callable[[str], list[str]], separator: Callable[[str], str]) -> dict:
    """Write the take back into a copy of the text file it was read from (take.writeback.path, loaded
    again by load, which gives its lines, row_lines, decimals, encoding and digest). columns (K, 3):
    each marker's X, Y, Z cell in a row; split(line) its cells; separator(line) what joins them."""
    from gfpose_cli.io import world_poses
    from gfpose_cli.util.atomic import atomic_path

    back = take.writeback
    poses = world_poses(take, str(path))
    if len(poses) != len(back.joints):
        raise InputError(f"{path}: the take has {len(poses)} frames but its source {back.path} has "
                         f"{len(back.joints)}; write NPZ instead")
    f = load(Path(back.path))
    if f.digest != back.digest:
        raise InputError(f"{back.path} changed since it was read; run the command again")
    edits = marker_edits(take, poses)
    new = (np.nan_to_num(edits.new) @ back.to_canonical) / back.units_to_m  # file axes and units
    lines = list(f.lines)
    moved, filled = edits.moved.copy(), edits.filled.copy()
    width = int(columns.max()) + 1
    for row in np.flatnonzero((moved | filled).any(1)):
        i = f.row_lines[row]
        raw = lines[i]
        body = raw.rstrip("\r\n")
        cells = split(raw)
        cells += [""] * (width - len(cells))
        for k in np.flatnonzero(moved[row] | filled[row]):
            text = [cell(v, f.decimals) for v in new[row, k]]
            cols = columns[k]
            if moved[row, k] and all(is_number(cells[c]) and cells[c].strip() and float(cells[c]) == float(t)
                                     for c, t in zip(cols, text)):
                moved[row, k] = False  # below the file's resolution: the same text, no move
                continue
            for c, t in zip(cols, text):
                cells[c] = t
        lines[i] = separator(body).join(cells) + raw[len(body):]
    with atomic_path(Path(path), force) as tmp:
        tmp.write_bytes("".join(lines).encode(f.encoding))
    return {"moved": int(moved.sum()), "filled": int(filled.sum()), "markers": int(edits.body.sum()),
            "riding": int(edits.riding.sum()), "kept": edits.kept, "joints_added": 0}

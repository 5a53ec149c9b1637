"""Qualisys Track Manager MAT exports (File > Export > MAT file): the labelled trajectories, read.

QTM writes one MATLAB variable named after the take: a struct with FrameRate, Frames and
Trajectories.Labeled (Labels, a cell of names; Data, markers x 4 x frames: X, Y, Z in mm and the
residual, NaN where a marker is missing). The labelled markers go to the 17 joints through the same
maps as a C3D's (io.c3d.body_from_markers; the qualisys preset for its own marker sets). A MAT export
is read, never written: a task's output goes to C3D, TRC, TSV (from a TSV export), BVH, CSV or NPZ.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from gfpose_cli.core.errors import InputError
from gfpose_cli.core.take import Provenance, Take
from gfpose_cli.io.c3d import body_from_markers, point_kinds


def _field(obj, name: str):  # noqa: ANN001
    return getattr(obj, name, None)


def load(path: Path) -> tuple[list[str], np.ndarray, np.ndarray, float, str]:
    """The labelled markers' names, positions (F, N, 3; mm, the lab's axes), valid samples, frame rate and
    the take's variable name of a QTM MAT export."""
    from scipy.io import loadmat

    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if b"\x89HDF" in head[:520] or b"MATLAB 7.3" in head[:128]:
        raise InputError(f"{path}: a MATLAB 7.3 (HDF5) file; gfpose reads QTM's MAT export as QTM writes it "
                         "(MATLAB 5), or its C3D or TSV export")
    from gfpose_cli.util.sandbox import preflight

    # scipy's MAT reader is compiled code: a damaged file can crash the process (SIGSEGV, seen on a fuzzed
    # export), so it first runs in a throw-away child, as ezc3d does for a C3D
    preflight(path, lambda p: loadmat(str(p), squeeze_me=True, struct_as_record=False), "MAT")
    try:
        data = loadmat(str(path), squeeze_me=True, struct_as_record=False)
    except Exception as exc:  # noqa: BLE001 - scipy's MAT parser meets damaged bytes with many exception types
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: not a readable MAT file ({why})") from None
    takes = [(k, v) for k, v in data.items() if not k.startswith("__") and _field(v, "Trajectories") is not None]
    if not takes:
        raise InputError(f"{path}: a MAT file without a QTM take (no variable with Trajectories); export it from QTM "
                         "with the 3D data")
    name, take = takes[0]
    labeled = _field(_field(take, "Trajectories"), "Labeled")
    labels, values = _field(labeled, "Labels"), _field(labeled, "Data")
    if labels is None or values is None:
        raise InputError(f"{path}: its take {name} holds no labelled trajectories (Trajectories.Labeled)")
    names = [str(n) for n in np.atleast_1d(labels)]
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 2 and len(names) == 1:  # one marker: squeezed to 4 x frames
        arr = arr[None]
    if arr.ndim == 2 and arr.shape[0] == len(names) and arr.shape[1] >= 3:  # one frame: squeezed to markers x 4
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[0] != len(names) or arr.shape[1] < 3:
        raise InputError(f"{path}: its Trajectories.Labeled.Data is {arr.shape}; expected markers x 4 x frames "
                         f"for its {len(names)} labels")
    xyz = arr[:, :3, :].transpose(2, 0, 1)
    observed = np.isfinite(xyz).all(-1) & ~(xyz == 0.0).all(-1)
    try:
        rate = float(_field(take, "FrameRate"))
    except (TypeError, ValueError):
        rate = float("nan")
    if not (np.isfinite(rate) and rate > 0):
        raise InputError(f"{path}: its take {name} gives no FrameRate")
    return names, np.where(observed[..., None], xyz, np.nan), observed, rate, name


def read(path: Path, skeleton_map=None, units: tuple[float, str] | None = None) -> Take:  # noqa: ANN001
    """Read a QTM MAT export into a 17-joint Take (metres, Z up); units (metres per unit, name) overrides its mm."""
    names, xyz, observed, rate, name = load(path)
    if not observed.any():
        raise InputError(f"{path}: no labelled marker holds a valid sample")
    to_m, units_name = units if units is not None else (1e-3, "mm")
    found = body_from_markers(Path(path), names, point_kinds(names, {}), xyz * to_m, observed, [], skeleton_map)
    return Take(positions=found.poses.astype(np.float32), mask=found.mask, fps=rate,
                provenance=Provenance(path=str(path), format="mat", map=found.smap.name, units=units_name, units_to_m=to_m,
                                      up=found.up, notes=tuple([f"a Qualisys MAT export (take {name})"] + found.notes),
                                      warnings=tuple(found.warnings)))

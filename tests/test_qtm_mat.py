"""Qualisys Track Manager MAT exports: the labelled trajectories read as a C3D's markers.

The MAT file is written here as QTM lays it out (one variable named after the take: FrameRate, Frames,
Trajectories.Labeled.Labels and .Data, markers x 4 x frames in mm with NaN gaps) from one real capture,
the Vicon Plug-in Gait trial of tests/data/vendors under Qualisys Sports names.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from gfpose_cli import io
from gfpose_cli.core.errors import InputError

from .test_capture_csv import _qualisys_names
from .test_marker_presets import _trial, write_renamed
from .test_writeback import run


def write_qtm_mat(path: Path, *, take_name: str = "walk01") -> None:
    labels, xyz, valid, rate = _trial()
    names, data = [], []
    for new, old in _qualisys_names().items():
        idx = [labels.index(o) for o in (old if isinstance(old, list) else [old])]
        p = xyz[:, idx].mean(1)  # (3, F) mm
        ok = valid[idx].all(0)
        names.append("Q_" + new)
        data.append(np.concatenate([np.where(ok, p, np.nan), np.where(ok, 1.2, np.nan)[None]], 0))  # X, Y, Z, residual
    labeled = {"Count": len(names), "Labels": np.array(names, dtype=object), "Data": np.stack(data)}
    savemat(str(path), {take_name: {"File": f"C:\\\\data\\\\{take_name}.qtm", "Timestamp": "2026-12-06", "StartFrame": 1,
                                    "Frames": xyz.shape[-1], "FrameRate": rate,
                                    "Trajectories": {"Labeled": labeled}}})


def test_a_qtm_mat_export_reads_as_the_same_takes_c3d(tmp_path):
    f = tmp_path / "walk01.mat"
    write_qtm_mat(f)
    take = io.read(f)
    assert take.provenance.map == "qualisys" and take.provenance.format == "mat"
    assert any("take walk01" in n for n in take.provenance.notes)
    c3d = tmp_path / "walk01.c3d"
    write_renamed(c3d, _qualisys_names(), prefix="Q_")
    ref = io.read(c3d)
    assert take.fps == pytest.approx(ref.fps) and (take.mask == ref.mask).all()
    np.testing.assert_allclose(take.positions[take.mask], ref.positions[ref.mask], atol=1e-6)
    out = tmp_path / "walk01.trc"
    assert run(["denoise", str(f), "-o", str(out)]) == 0 and out.exists()  # a MAT export is read, written elsewhere
    assert run(["denoise", str(f), "-o", str(tmp_path / "back.mat")]) == 2


def test_mat_files_that_are_not_qtm_takes_are_refused(tmp_path):
    other = tmp_path / "other.mat"
    savemat(str(other), {"emg": np.zeros((3, 100))})
    with pytest.raises(InputError, match="without a QTM take"):
        io.read(other)
    hdf = tmp_path / "v73.mat"
    hdf.write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Sun Dec  6 2026 HDF5 schema 1.00 ." + b" " * 400
                    + b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    with pytest.raises(InputError, match="MATLAB 7.3"):
        io.read(hdf)
    junk = tmp_path / "junk.mat"
    junk.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(InputError, match="junk.mat"):
        io.read(junk)


def test_maps_on_a_mat_export_shows_the_sources_it_holds(tmp_path, capsys):
    f = tmp_path / "walk01.mat"
    write_qtm_mat(f)
    capsys.readouterr()
    assert run(["maps", str(f)]) == 0
    shown = capsys.readouterr().out
    # the set has lateral knee markers only: the knee is Q_RKneeOut, not the preset's first choice (Out + In)
    assert "Q_RKneeOut" in shown and "KneeIn" not in shown
    out = tmp_path / "mine.toml"
    assert run(["maps", str(f), "--init", "-o", str(out)]) == 0
    assert 'RKnee = "Q_RKneeOut"  # from preset qualisys' in out.read_text()


def test_a_mat_file_that_crashes_scipy_is_refused_in_one_line(tmp_path, capsys) -> None:
    """scipy's loadmat segfaults on this bit-flipped QTM export (tests/data/damaged/PROVENANCE.md): the whole
    process died, a batch's other takes with it. Parsed in a throw-away child first, it is refused in one
    line and the batch goes on."""
    from pathlib import Path

    from .test_cli import run

    damaged = Path(__file__).parent / "data" / "damaged" / "qtm_export_bit_flipped.mat"
    good = tmp_path / "good.npz"
    from gfpose_cli import io as gio
    from gfpose_cli.core.take import Take

    from .conftest import synthetic_poses

    gio.write(Take(positions=synthetic_poses(6)), good)
    code, _, err = run(["convert", str(damaged), str(good), "-o", str(tmp_path / "out")], capsys)
    assert code == 2 and "1 ok, 1 failed" in err
    assert "the MAT parser crashed on it" in " ".join(err.split())
    assert (tmp_path / "out" / "good.npz").exists()

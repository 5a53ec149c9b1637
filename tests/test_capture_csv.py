"""OptiTrack Motive CSV exports: read as markers (as the same take's C3D), written back cell by cell.

The exports are written here the way Motive lays them out (a key,value line, a blank line, Type / Name /
ID rows, a Position/Rotation row, the axis row, CRLF rows, metres, Y up, six decimals) from one real
capture: the Vicon Plug-in Gait trial of tests/data/vendors under Motive's Baseline marker names
(test_marker_presets), with a rigid body, three solved bones, marker-quality columns and an unlabelled
marker beside them, which must come back byte for byte.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io
from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import JOINTS
from gfpose_cli.io import marker_csv
from gfpose_cli.io.c3d import point_kinds

from .test_marker_presets import TRIAL, _motive, _trial, write_renamed
from .test_writeback import run

J = {n: i for i, n in enumerate(JOINTS)}


def write_motive(path: Path, *, prefixes=("Skeleton_001:",), markers: bool = True, bones=("Hip", "LThigh", "RThigh"),
                 space: str = "Global", rate_line: bool = True, gap: tuple[str, int, int] | None = None) -> dict:
    """A Motive CSV export of the trial under Baseline names; returns {marker name: (F, 3) metres, Y up}."""
    labels, xyz, valid, rate = _trial()
    truth = {}
    types, names, ids, what, axes = ["", "Type"], ["", "Name"], ["", "ID"], ["", ""], ["Frame", "Time (Seconds)"]
    blocks = []
    F = xyz.shape[-1]
    types += ["Rigid Body"] * 8
    names += ["Prop"] * 8
    ids += ["1"] * 8
    what += ["Rotation"] * 4 + ["Position"] * 3 + ["Mean Marker Error"]
    axes += ["X", "Y", "Z", "W", "X", "Y", "Z", ""]
    blocks.append(np.tile(np.array([0, 0, 0, 1, 0.5, 0.1, 0.2, 0.0001]), (F, 1)))
    for prefix in prefixes:
        for b, src in [(b, {"Hip": ["LASI", "RASI"], "LThigh": ["LASI"], "RThigh": ["RASI"]}.get(b, ["C7"])) for b in bones]:
            types += ["Bone"] * 7
            names += [prefix + b] * 7
            ids += ["2"] * 7
            what += ["Rotation"] * 4 + ["Position"] * 3
            axes += ["X", "Y", "Z", "W", "X", "Y", "Z"]
            pos = np.stack([xyz[:, labels.index(o)] for o in src], 1).mean(1).T / 1000.0
            blocks.append(np.concatenate([np.tile([0, 0, 0, 1.0], (F, 1)), pos[:, [1, 2, 0]]], 1))
        if not markers:
            continue
        for k, (new, old) in enumerate(_motive().items()):
            off = np.zeros(3)
            if isinstance(old, tuple):
                old, off = old[0], np.asarray(old[1], float)
            idx = [labels.index(o) for o in (old if isinstance(old, list) else [old])]
            p = ((xyz[:, idx].mean(1) + off[:, None]).T / 1000.0)[:, [1, 2, 0]]
            seen = valid[idx].all(0)
            truth[prefix + new] = np.where(seen[:, None], p, np.nan)
            if gap and gap[0] == new:
                seen = seen.copy()
                seen[gap[1]:gap[2]] = False
            types += ["Marker"] * 4
            names += [prefix + new] * 4
            ids += [f"3{k}"] * 4
            what += ["Position"] * 3 + ["Marker Quality"]
            axes += ["X", "Y", "Z", ""]
            blocks.append(np.concatenate([np.where(seen[:, None], p, np.nan), np.where(seen[:, None], 1.0, np.nan)], 1))
    if markers:
        types += ["Marker"] * 3
        names += ["Unlabeled 2001"] * 3
        ids += ["9"] * 3
        what += ["Position"] * 3
        axes += ["X", "Y", "Z"]
        blocks.append(np.tile([1.0, 0.02, 1.5], (F, 1)))
    table = np.concatenate(blocks, 1)
    rates = f"Capture Frame Rate,{rate:.6f},Export Frame Rate,{rate:.6f}," if rate_line else ""
    lines = [f"Format Version,1.23,Take Name,walk,Take Notes,,{rates}Capture Start Time,2026-12-06 10.00.00.000 AM,"
             f"Total Frames in Take,{F},Total Exported Frames,{F},Rotation Type,Quaternion,Length Units,Meters,"
             f"Coordinate Space,{space}", "", ",".join(types), ",".join(names), ",".join(ids), ",".join(what), ",".join(axes)]
    for f in range(F):
        lines.append(",".join([str(f), f"{f / rate:.6f}"] + ["" if not np.isfinite(v) else f"{v:.6f}" for v in table[f]]))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return truth


def test_a_motive_export_reads_as_the_same_takes_c3d(tmp_path):
    f = tmp_path / "walk.csv"
    write_motive(f)
    assert marker_csv.layout(f) == "motive"
    take = io.read(f)
    assert take.provenance.map == "motive-baseline" and take.provenance.subject == "Skeleton_001"
    assert take.fps == pytest.approx(120.0) and take.provenance.units == "m"
    c3d = tmp_path / "walk.c3d"
    write_renamed(c3d, _motive(), prefix="Skeleton_001:")
    ref = io.read(c3d)
    ok = take.mask & ref.mask
    assert ok.mean() > 0.95 and (take.mask == ref.mask).all()
    # the same body at the CSV's six decimals (a micrometre); the frames differ by a turn about the vertical
    # (Motive is Y up, the C3D Z up: each is turned Z up from its own axes), so compare the joints' distances
    def distances(t):
        p = np.where(ok[..., None], t.positions, np.nan).astype(np.float64)
        return np.linalg.norm(p[:, :, None] - p[:, None], axis=-1)

    np.testing.assert_allclose(np.nan_to_num(distances(take)), np.nan_to_num(distances(ref)), atol=1e-5)
    up = take.positions[ok][:, 2] - ref.positions[ok][:, 2]
    assert np.abs(up - np.median(up)).max() < 1e-5  # the same up axis


def test_denoise_rewrites_only_the_marker_cells_that_moved(tmp_path):
    f = tmp_path / "walk.csv"
    write_motive(f)
    before = f.read_bytes()
    out = tmp_path / "clean.csv"
    assert run(["denoise", str(f), "-o", str(out)]) == 0
    assert f.read_bytes() == before  # the input is never modified
    a, b = before.split(b"\r\n"), out.read_bytes().split(b"\r\n")
    assert len(a) == len(b) and a[:7] == b[:7]  # header rows kept, CRLF kept
    types, what = a[2].decode().split(","), a[5].decode().split(",")
    names = a[3].decode().split(",")
    changed = set()
    for x, y in zip(a[7:], b[7:]):
        cx, cy = x.decode().split(","), y.decode().split(",")
        assert len(cx) == len(cy)
        changed |= {c for c, (u, v) in enumerate(zip(cx, cy)) if u != v}
        for c, (u, v) in enumerate(zip(cx, cy)):
            if u != v:
                assert len(v.split(".")[1]) == 6  # the file's own number format
                assert u != ""  # nothing missing was invented by denoise
    assert changed and all(types[c] == "Marker" and what[c] == "Position" for c in changed)
    assert not any(names[c].startswith("Unlabeled") for c in changed)
    moved = io.read(out)
    assert np.nanmax(np.abs(moved.positions - io.read(f).positions)) < 0.03


def test_complete_fills_a_gap_in_the_export(tmp_path):
    f = tmp_path / "gap.csv"
    truth = write_motive(f, gap=("LKneeOut", 100, 130))
    out = tmp_path / "filled.csv"
    assert run(["complete", str(f), "-o", str(out)]) == 0
    src = marker_csv.load(f)
    got = marker_csv.load(out)
    k = src.names.index("Skeleton_001:LKneeOut")
    assert not src.observed[100:130, k].any() and got.observed[100:130, k].all()
    err = np.linalg.norm(got.xyz[100:130, k] - truth["Skeleton_001:LKneeOut"][100:130], axis=-1)
    assert np.median(err) < 0.04, err
    # samples missing elsewhere stay missing; other markers' gaps are not invented
    other = [i for i in range(len(src.names)) if i != k]
    assert (got.observed[:, other] == src.observed[:, other]).all()


def test_performers_unlabelled_and_solved_skeletons(tmp_path):
    two = tmp_path / "two.csv"
    write_motive(two, prefixes=("Ann:", "Bob:"))
    with pytest.raises(InputError, match=r"several subjects \(Ann, Bob\)"):
        io.read(two)
    assert io.read(two, subject="Bob").provenance.subject == "Bob"
    # a command runs on every performer and writes them back into one copy, each riding its own skeleton
    both = tmp_path / "both.csv"
    assert run(["denoise", str(two), "-o", str(both)]) == 0
    a, b = two.read_bytes().split(b"\r\n"), both.read_bytes().split(b"\r\n")
    names = a[3].decode().split(",")
    who = {names[c].split(":")[0] for x, y in zip(a[7:], b[7:])
           for c, (u, v) in enumerate(zip(x.split(b","), y.split(b","))) if u != v}
    assert who == {"Ann", "Bob"}
    for subject in ("Ann", "Bob"):
        alone = tmp_path / f"{subject}.csv"
        assert run(["denoise", str(two), "--subject", subject, "-o", str(alone)]) == 0
        np.testing.assert_array_equal(io.read(alone, subject=subject).positions, io.read(both, subject=subject).positions)
    # into a new C3D: both performers' markers under their prefixes, then their joints (Ann:gfpose_Pelvis ...);
    # each read back is that performer's denoised skeleton (gfpose17 reads the joints it wrote)
    c3d = tmp_path / "both.c3d"
    assert run(["denoise", str(two), "-o", str(c3d)]) == 0
    from gfpose_cli.io.c3d import load as load_c3d, performers

    assert performers(c3d) == ["Ann", "Bob"] and len(load_c3d(c3d).labels) == 2 * (31 + 17)
    shape = lambda p: np.linalg.norm(p.astype(float)[:, :, None] - p.astype(float)[:, None], axis=-1)  # noqa: E731
    for subject in ("Ann", "Bob"):
        joints = io.read(c3d, subject=subject)
        assert joints.provenance.map == "gfpose17"
        assert run(["denoise", str(two), "--subject", subject, "-o", str(tmp_path / f"{subject}.npz")]) == 0
        np.testing.assert_allclose(shape(joints.positions), shape(io.read(tmp_path / f"{subject}.npz").positions),
                                   atol=2e-5)  # the denoised joints, at the C3D's float32 millimetres
        markers = io.read(c3d, subject=subject, skeleton_map="motive-baseline")  # the markers as moved in both.csv
        np.testing.assert_allclose(shape(markers.positions), shape(io.read(both, subject=subject).positions), atol=2e-5)
    bones = tmp_path / "bones.csv"
    write_motive(bones, markers=False)
    take = io.read(bones)
    assert take.provenance.map == "motive-skeleton"
    assert any("solved skeleton" in n for n in take.provenance.notes)
    assert take.mask[:, [J["Pelvis"], J["LHip"], J["RHip"]]].all() and not take.mask[:, J["LKnee"]].any()
    # a solved skeleton is read, never written back (its rotations would go stale): a CSV of the 17 joints
    out = tmp_path / "joints.csv"
    assert run(["convert", str(bones), "-o", str(out)]) == 0
    assert out.read_text().startswith("frame,")


def test_exports_gfpose_cannot_read_as_markers_are_refused_with_the_reason(tmp_path):
    local = tmp_path / "local.csv"
    write_motive(local, space="Local")
    with pytest.raises(InputError, match="Local coordinates"):
        io.read(local)
    norate = tmp_path / "norate.csv"
    write_motive(norate, rate_line=False)
    take = io.read(norate)
    assert take.fps == pytest.approx(120.0, rel=1e-3)
    assert any("Time column" in n for n in take.provenance.notes)
    bad = tmp_path / "bad.csv"
    write_motive(bad)
    lines = bad.read_bytes().split(b"\r\n")
    cells = lines[20].split(b",")
    first_marker = lines[2].split(b",").index(b"Marker")
    cells[first_marker + 1] = b"1.2.3"
    lines[20] = b",".join(cells)
    bad.write_bytes(b"\r\n".join(lines))
    with pytest.raises(InputError, match=r"line 21, Skeleton_001:WaistLFront Y: '1\.2\.3' is not a number"):
        io.read(bad)
    cut = tmp_path / "cut.csv"
    cut.write_bytes(b"Format Version,1.23,Take Name,x\r\n\r\n,Type,Marker\r\n")
    with pytest.raises(InputError, match="cut off or damaged"):
        io.read(cut)


def test_maps_init_reads_a_motive_export(tmp_path):
    f = tmp_path / "walk.csv"
    write_motive(f)
    out = tmp_path / "mine.toml"
    assert run(["maps", str(f), "--init", "-o", str(out)]) == 0
    assert "# from preset motive-baseline" in out.read_text()


# ---------------------------------------------------------------- Vicon Nexus
def write_nexus(path: Path, *, subject: str = "Subject", sections=("Devices", "Trajectories", "Model Outputs"),
                units: str = "mm") -> list[str]:
    """A Vicon Nexus CSV export of the trial: a force plate's Devices section at 10x the rate, the
    Trajectories (its labelled markers, mm, Z up), and its Model Outputs (joint angles); LF rows."""
    import ezc3d

    c = ezc3d.c3d(str(Path(__file__).parent / "data" / "vendors" / "pycgm__Movement_trial.c3d"))
    labels = [str(n) for n in c["parameters"]["POINT"]["LABELS"]["value"]]
    pts = np.asarray(c["data"]["points"])
    rate = float(c["parameters"]["POINT"]["RATE"]["value"][0])
    F = pts.shape[-1]
    valid = np.isfinite(pts[:3]).all(0) & (pts[3] >= 0) & ~(pts[:3] == 0).all(0)
    kinds = point_kinds(labels, {})  # the labelled markers (not model outputs, bone points, unlabelled *NN)
    markers = [i for i, k in enumerate(kinds) if k == "marker"]
    angles = [i for i, n in enumerate(labels) if n.endswith("Angles")][:4]
    out = []

    def section(name: str, sec_rate: float, cols: list[str], unit: list[str], rows: list[list[str]]) -> None:
        out.extend([name, f"{sec_rate:g}", ",," + ",".join(cols), "Frame,Sub Frame," + ",".join(
            "XYZ"[k % 3] if name != "Devices" else ("Fx", "Fy", "Fz")[k % 3] for k in range(len(unit))),
            ",," + ",".join(unit)])
        out.extend(",".join(r) for r in rows)
        out.append("")

    def cell(v: float, ok: bool) -> str:
        return f"{v:.5f}" if ok else ""

    for name in sections:
        if name == "Devices":
            rows = [[str(f + 1), str(s), "0.10000", "-0.20000", f"{700 + s:.5f}"] for f in range(F) for s in range(10)]
            section(name, rate * 10, ["Imported AMTI Force Plate #1 - Force", "", ""], ["N"] * 3, rows)
        elif name == "Trajectories":
            cols = [x for i in markers for x in (f"{subject}:{labels[i]}", "", "")]
            rows = [[str(f + 1), "0"] + [cell(pts[a, i, f], valid[i, f]) for i in markers for a in range(3)] for f in range(F)]
            section(name, rate, cols, [units] * (3 * len(markers)), rows)
        else:
            cols = [x for i in angles for x in (f"{subject}:{labels[i]}", "", "")]
            rows = [[str(f + 1), "0"] + [cell(pts[a, i, f], True) for i in angles for a in range(3)] for f in range(F)]
            section(name, rate, cols, ["deg"] * (3 * len(angles)), rows)
    path.write_text("\n".join(out) + "\n")
    return [labels[i] for i in markers]


def test_a_nexus_export_reads_as_the_trials_c3d(tmp_path):
    f = tmp_path / "trial.csv"
    write_nexus(f)
    assert marker_csv.layout(f) == "vicon"
    take = io.read(f)
    ref = io.read(Path(__file__).parent / "data" / "vendors" / "pycgm__Movement_trial.c3d")
    assert take.provenance.map == ref.provenance.map == "plug-in-gait"
    assert take.provenance.subject == "Subject" and take.fps == pytest.approx(ref.fps)
    assert (take.mask == ref.mask).all()
    np.testing.assert_allclose(take.positions[take.mask], ref.positions[ref.mask], atol=2e-5)  # both Z up


def test_nexus_denoise_rewrites_only_trajectory_cells(tmp_path):
    f = tmp_path / "trial.csv"
    write_nexus(f)
    before = f.read_text().split("\n")
    out = tmp_path / "clean.csv"
    assert run(["denoise", str(f), "-o", str(out)]) == 0
    after = out.read_text().split("\n")
    assert len(after) == len(before)
    start = before.index("Trajectories")
    stop = before.index("", start)
    # the Devices section before and the Model Outputs section after are the input's, byte for byte
    assert after[:start + 5] == before[:start + 5] and after[stop:] == before[stop:]
    changed = sum(a != b for a, b in zip(after[start + 5: stop], before[start + 5: stop]))
    assert changed > 0.9 * (stop - start - 5)
    moved = io.read(out)
    assert moved.provenance.map == "plug-in-gait"
    assert np.nanmax(np.abs(moved.positions - io.read(f).positions)) < 0.03


def test_nexus_exports_without_trajectories_or_with_odd_units_are_refused(tmp_path):
    f = tmp_path / "outputs.csv"
    write_nexus(f, sections=("Devices", "Model Outputs"))
    with pytest.raises(InputError, match=r"no Trajectories section \(it holds: Devices, Model Outputs\)"):
        io.read(f)
    g = tmp_path / "feet.csv"
    write_nexus(g, units="ft", sections=("Trajectories",))
    with pytest.raises(InputError, match=r"units \['ft'\]; expected mm, cm or m"):
        io.read(g)
    h = tmp_path / "two.csv"
    write_nexus(h, subject="Ann", sections=("Trajectories",))
    assert io.read(h, subject="Ann").provenance.subject == "Ann"
    with pytest.raises(InputError, match="no markers of subject 'Bob'"):
        io.read(h, subject="Bob")


# ---------------------------------------------------------------- Qualisys TSV
def _qualisys_names() -> dict[str, object]:
    q: dict[str, object] = {"WaistLFront": "LASI", "WaistRFront": "RASI", "LSips": "LPSI", "RSips": "RPSI",
                            "SpineThoracic2": "C7", "SpineThoracic12": "T10", "Chest": "CLAV",
                            "HeadL": ["LFHD", "LBHD"], "HeadR": ["RFHD", "RBHD"], "HeadFront": ["LFHD", "RFHD"]}
    for s in "LR":
        q.update({f"{s}ShoulderTop": f"{s}SHO", f"{s}ElbowOut": f"{s}ELB", f"{s}WristOut": f"{s}WRA",
                  f"{s}WristIn": f"{s}WRB", f"{s}KneeOut": f"{s}KNE", f"{s}AnkleOut": f"{s}ANK", f"{s}HeelBack": f"{s}HEE"})
    return q


def write_qtm(path: Path, *, frame_time: bool = True, gaps_as_zero: bool = True) -> None:
    """A Qualisys Track Manager TSV export of the trial under Qualisys Sports names (Q_ prefix, mm, Z up):
    the KEY<tab>value header, a Frame/Time/name-axis line (recent QTM) or none (older), gaps as zeros."""
    labels, xyz, valid, rate = _trial()
    names, cols, seen = [], [], []
    for new, old in _qualisys_names().items():
        idx = [labels.index(o) for o in (old if isinstance(old, list) else [old])]
        names.append("Q_" + new)
        cols.append(xyz[:, idx].mean(1))
        seen.append(valid[idx].all(0))
    F = xyz.shape[-1]
    lines = [f"NO_OF_FRAMES\t{F}", "NO_OF_CAMERAS\t8", f"NO_OF_MARKERS\t{len(names)}", f"FREQUENCY\t{rate:g}",
             "NO_OF_ANALOG\t0", "ANALOG_FREQUENCY\t0", "DESCRIPTION\t--", "TIME_STAMP\t2026-12-06, 10:00:00.000\t1.0",
             "DATA_INCLUDED\t3D", "MARKER_NAMES\t" + "\t".join(names),
             "TRAJECTORY_TYPES\t" + "\t".join("Measured" for _ in names)]
    if frame_time:
        lines.append("Frame\tTime\t" + "\t".join(f"{n} {a}" for n in names for a in "XYZ"))
    for f in range(F):
        cells = [str(f + 1), f"{f / rate:.5f}"] if frame_time else []
        for p, ok in zip(cols, seen):
            cells += [f"{v:.3f}" for v in p[:, f]] if ok[f] else (["0.000"] * 3 if gaps_as_zero else ["", "", ""])
        lines.append("\t".join(cells))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())


@pytest.mark.parametrize("frame_time", [True, False])
def test_a_qualisys_tsv_reads_as_the_same_takes_c3d(tmp_path, frame_time):
    f = tmp_path / "trial.tsv"
    write_qtm(f, frame_time=frame_time)
    assert marker_csv.layout(f) == "qtm"
    take = io.read(f)
    assert take.provenance.map == "qualisys" and take.provenance.format == "tsv"
    c3d = tmp_path / "trial.c3d"
    write_renamed(c3d, _qualisys_names(), prefix="Q_")
    ref = io.read(c3d)
    assert (take.mask == ref.mask).all()
    np.testing.assert_allclose(take.positions[take.mask], ref.positions[ref.mask], atol=2e-6)  # both Z up


def test_qualisys_tsv_denoise_and_complete_write_back_its_own_cells(tmp_path):
    f = tmp_path / "trial.tsv"
    write_qtm(f)
    before = f.read_bytes().split(b"\r\n")
    out = tmp_path / "clean.tsv"
    assert run(["denoise", str(f), "-o", str(out)]) == 0
    after = out.read_bytes().split(b"\r\n")
    assert after[:12] == before[:12] and len(after) == len(before)
    for x, y in zip(before[12:], after[12:]):
        cx, cy = x.split(b"\t"), y.split(b"\t")
        assert cx[:2] == cy[:2] and len(cx) == len(cy)  # Frame and Time kept, tabs kept
        for u, v in zip(cx[2:], cy[2:]):
            assert (u == b"0.000") <= (v == b"0.000")  # a gap stays a gap (denoise fills nothing)
            assert len(v.split(b".")[1]) == 3
    # a TSV output of a take that did not come from one is refused, not invented
    npz = tmp_path / "t.npz"
    assert run(["convert", str(f), "-o", str(npz)]) == 0
    assert run(["convert", str(npz), "-o", str(tmp_path / "x.tsv")]) == 2
    assert not (tmp_path / "x.tsv").exists()


def test_an_export_written_as_c3d_keeps_its_markers(tmp_path):
    """`convert`, `denoise` and `complete` of a Motive export to .c3d: the C3D holds the performer's
    markers under their own names and then the 17 joints; read
    again it gives the export's body; denoise moves the markers with the skeleton, complete fills a gap
    of one marker and invents nothing else."""
    import ezc3d

    f = tmp_path / "gap.csv"
    truth = write_motive(f, gap=("LKneeOut", 100, 130))
    src = marker_csv.load(f)
    take = io.read(f)
    out = tmp_path / "walk.c3d"
    assert run(["convert", str(f), "-o", str(out)]) == 0
    c = ezc3d.c3d(str(out))
    labels = [str(x) for x in c["parameters"]["POINT"]["LABELS"]["value"]]
    assert labels[-17:] == list(JOINTS)
    marker_names = [n for n in src.names if n.startswith("Skeleton_001:")]
    assert labels[: len(marker_names)] == marker_names and len(labels) == len(marker_names) + 17
    c3d_pkg = pytest.importorskip("c3d")  # the independent reader opens it the same (labels, samples, gaps)
    with open(out, "rb") as handle:
        reader = c3d_pkg.Reader(handle)
        assert [n.strip() for n in reader.point_labels] == labels
        theirs = np.array([p for _, p, _ in reader.read_frames()])
    mine = np.asarray(c["data"]["points"])[:3].transpose(2, 1, 0)
    seen = theirs[..., 3] >= 0
    assert (seen == np.isfinite(mine).all(-1)).all()
    np.testing.assert_array_equal(theirs[..., :3][seen], mine[seen])
    again = io.read(out)
    assert again.provenance.map == "motive-baseline" and (again.mask == take.mask).all()
    ok = take.mask
    # the C3D is Z up in millimetres (float32); the export Y up in metres: compare the joints' distances
    d = lambda t: np.linalg.norm(np.where(ok[..., None], t.positions, 0)[:, :, None]  # noqa: E731
                                 - np.where(ok[..., None], t.positions, 0)[:, None], axis=-1)
    np.testing.assert_allclose(d(again), d(take), atol=1e-5)
    k = labels.index("Skeleton_001:LKneeOut")
    residual = np.asarray(c["data"]["meta_points"]["residuals"])[0]
    assert (residual[k, 100:130] < 0).all() and (residual[k, :100] >= 0).all()  # the gap stays a gap
    # denoise: the markers move with the cleaned skeleton; complete: the gap filled, nothing else invented
    assert run(["denoise", str(f), "-o", str(tmp_path / "clean.c3d")]) == 0
    clean = ezc3d.c3d(str(tmp_path / "clean.c3d"))
    moved = np.asarray(clean["data"]["points"])[:3, labels.index(marker_names[0])] - np.asarray(c["data"]["points"])[:3, labels.index(marker_names[0])]
    assert 0 < np.nanmax(np.abs(moved)) < 30.0  # mm
    assert run(["complete", str(f), "-o", str(tmp_path / "filled.c3d")]) == 0
    filled = ezc3d.c3d(str(tmp_path / "filled.c3d"))
    res = np.asarray(filled["data"]["meta_points"]["residuals"])[0]
    n = len(marker_names)
    assert (res[k, 100:130] >= 0).all()
    assert ((res[:n] >= 0) != (residual[:n] >= 0)).sum() == 30  # those 30 samples and no other
    # the filled samples sit where the knee marker was: its distance to the ankle marker as in the truth
    pts = np.asarray(filled["data"]["points"])[:3] / 1000.0
    ankle = labels.index("Skeleton_001:LAnkleOut")
    got = np.linalg.norm(pts[:, k, 100:130] - pts[:, ankle, 100:130], axis=0)
    want = np.linalg.norm(truth["Skeleton_001:LKneeOut"][100:130] - truth["Skeleton_001:LAnkleOut"][100:130], axis=-1)
    assert np.median(np.abs(got - want)) < 0.03, np.abs(got - want)


def test_subject_all_on_a_multi_actor_export(tmp_path):
    """`gfpose convert two.csv --subject all -o out.npz`: one output per performer of a Motive export (as for
    a C3D), each that performer's body; a file with no performers says so."""
    two = tmp_path / "two.csv"
    write_motive(two, prefixes=("Ann:", "Bob:"))
    assert run(["convert", str(two), "--subject", "all", "-o", str(tmp_path / "out.npz")]) == 0
    for subject in ("Ann", "Bob"):
        got = io.read(tmp_path / f"out_{subject}.npz")
        np.testing.assert_array_equal(got.positions, io.read(two, subject=subject).positions)
    one = tmp_path / "one.csv"
    write_motive(one, prefixes=("",))
    assert run(["convert", str(one), "--subject", "all", "-o", str(tmp_path / "one.npz")]) == 2


def test_an_export_changed_between_read_and_write_back_is_refused(tmp_path):
    """The export's parse is kept for the reads and the write-back that follow only while its bytes are the
    same: an export edited after the read is parsed again and its write-back refused."""
    f = tmp_path / "walk.csv"
    write_motive(f)
    assert marker_csv.performers(f) == ["Skeleton_001"]
    take = io.read(f)
    io.write(take, tmp_path / "same.csv")
    assert (tmp_path / "same.csv").read_bytes() == f.read_bytes()  # nothing edited: the same bytes
    f.write_bytes(f.read_bytes().replace(b"Take Notes,,", b"Take Notes,edited,", 1))
    with pytest.raises(InputError, match="changed since it was read"):
        io.write(take, tmp_path / "changed.csv")
    assert not (tmp_path / "changed.csv").exists()


def write_points_csv(path: Path, *, unit: float = 1000.0, y_up: bool = False, time: bool = True,
                     gap: tuple[str, int, int] | None = None, european: bool = False) -> None:
    """The trial's markers as a lab saves them from MATLAB or Python: `Frame,Time,LASI_X,LASI_Y,LASI_Z,...`,
    no unit, empty cells for a marker not seen, three decimals (mm: unit 1000); european: as a spreadsheet
    in a German or French locale saves it, `;` between cells and decimal commas."""
    labels, xyz, valid, rate = _trial()
    pts = np.where(valid[None], xyz / 1000.0 * unit, np.nan)  # (3, N, F) in the file's unit
    if y_up:
        pts = np.stack([pts[0], pts[2], -pts[1]])
    if gap is not None:
        k = labels.index(gap[0])
        pts[:, k, gap[1]:gap[2]] = np.nan
    head = ["Frame"] + (["Time"] if time else []) + [f"{n}_{a}" for n in labels for a in "XYZ"]
    rows = [",".join(head)]
    for f in range(pts.shape[-1]):
        cells = [str(f + 1)] + ([f"{f / rate:.5f}"] if time else [])
        for k in range(len(labels)):
            p = pts[:, k, f]
            cells += ["", "", ""] if np.isnan(p).any() else [f"{v:.3f}" for v in p]
        rows.append(",".join(cells))
    if european:
        rows = [r.replace(",", ";").replace(".", ",") for r in rows]
    path.write_text("\n".join(rows) + "\n")


def test_a_plain_csv_of_named_points_reads_as_the_trials_c3d_and_writes_back(tmp_path):
    """A plain CSV of markers (a header of LASI_X, LASI_Y, LASI_Z ..., no unit, any up axis) was refused
    ("missing columns Pelvis_x ..."), and one of markerless keypoints with x, y, z (FreeMoCap: left_hip_x ...)
    was read as 2D keypoints, its z dropped. It reads as the trial's C3D does, its unit told from the body's
    size and said, and a task's result goes back into a copy of it, only the moved or filled cells rewritten."""
    ref = io.read(TRIAL)
    for name, kw in (("mm_zup", {}), ("m_yup", {"unit": 1.0, "y_up": True})):
        f = tmp_path / f"{name}.csv"
        write_points_csv(f, **kw)
        assert marker_csv.layout(f) == "points"
        take = io.read(f)
        assert take.provenance.map == ref.provenance.map and take.fps == pytest.approx(ref.fps)
        assert take.provenance.units == ("mm" if "unit" not in kw else "m")
        assert any("by the body's size" in n for n in take.provenance.notes)
        ok = take.mask & ref.mask
        assert (take.mask == ref.mask).all()
        np.testing.assert_allclose(take.positions[ok], ref.positions[ok], atol=2e-3)  # 3 decimals, any axes
    f = tmp_path / "gap.csv"
    write_points_csv(f, gap=("LKNE", 100, 120))
    out = tmp_path / "filled.csv"
    assert run(["complete", str(f), "-o", str(out)]) == 0
    a, b = f.read_text().splitlines(), out.read_text().splitlines()
    assert a[0] == b[0] and len(a) == len(b)
    src, got = marker_csv.load(f), marker_csv.load(out)
    k = src.names.index("LKNE")
    assert not src.observed[100:120, k].any() and got.observed[100:120, k].all()
    other = [i for i in range(len(src.names)) if i != k]
    assert (got.observed[:, other] == src.observed[:, other]).all()
    changed = {c for x, y in zip(a[1:], b[1:]) for c, (u, v) in enumerate(zip(x.split(","), y.split(","))) if u != v}
    assert changed == set(src.cols[k].tolist())  # only the filled marker's cells
    # markerless keypoints in 3D with COCO's names (FreeMoCap's body CSV): 3D through the keypoint map, not 2D
    KP = {"nose": "Neck", "left_ear": "Head", "right_ear": "Head", "left_shoulder": "LShoulder", "right_shoulder":
         "RShoulder", "left_elbow": "LElbow", "right_elbow": "RElbow", "left_wrist": "LWrist", "right_wrist": "RWrist",
         "left_hip": "LHip", "right_hip": "RHip", "left_knee": "LKnee", "right_knee": "RKnee", "left_ankle": "LAnkle",
         "right_ankle": "RAnkle", "left_eye": "Head", "right_eye": "Head"}
    P = np.nan_to_num(ref.positions[:60].astype(np.float64)) * 1000.0
    rows = [",".join(f"{n}_{a}" for n in KP for a in "xyz")]
    rows += [",".join(f"{v:.2f}" for n in KP for v in P[f, J[KP[n]]]) for f in range(60)]
    (tmp_path / "freemocap.csv").write_text("\n".join(rows) + "\n")
    fmc = io.read(tmp_path / "freemocap.csv")
    assert fmc.dim == 3 and fmc.provenance.map == "keypoints-3d" and fmc.provenance.units == "mm"
    limbs = [J[j] for j in ("LHip", "LKnee", "LAnkle", "RWrist")]
    seen = ref.mask[:60][:, limbs].all(1)
    np.testing.assert_allclose(fmc.positions[:60][seen][:, limbs], ref.positions[:60][seen][:, limbs], atol=1e-4)
    # no time column: 30 Hz assumed and said; a body of no person's size in any unit: --units asked for
    write_points_csv(tmp_path / "notime.csv", time=False)
    assert any("30 frames a second assumed" in n for n in io.read(tmp_path / "notime.csv").provenance.notes)
    text = (tmp_path / "mm_zup.csv").read_text().splitlines()  # a clock-time column: no rate from it, said
    clock = [text[0]] + [",".join([r.split(",")[0], f"00:{k % 60:02d}"] + r.split(",")[2:]) for k, r in enumerate(text[1:])]
    (tmp_path / "clock.csv").write_text("\n".join(clock) + "\n")
    read = io.read(tmp_path / "clock.csv")
    assert read.fps == 30.0 and any("30 frames a second assumed" in n for n in read.provenance.notes)
    assert not any("by the body's size" in n for n in io.read(tmp_path / "mm_zup.csv", units="mm").provenance.notes)
    write_points_csv(tmp_path / "odd.csv", unit=10.0)  # decimetres: 15 units, no person in m, cm or mm
    with pytest.raises(InputError, match="no person's size"):
        io.read(tmp_path / "odd.csv")
    assert io.read(tmp_path / "odd.csv", units=0.1).provenance.units == "0.1 m"


def test_a_points_csv_saved_in_a_european_locale_reads_and_writes_back_in_its_own_format(tmp_path):
    """`Frame;Time;LASI_X;...` with decimal commas (Excel in a German, French or Italian locale) was refused as
    "missing columns Pelvis_x ...". It reads as the same file with commas and points does, and a filled gap
    goes back as `;`-separated cells with decimal commas, only the filled marker's cells changed."""
    write_points_csv(tmp_path / "plain.csv", gap=("LKNE", 100, 120))
    write_points_csv(tmp_path / "euro.csv", gap=("LKNE", 100, 120), european=True)
    assert re.search(r";-?\d+,\d{3};", (tmp_path / "euro.csv").read_text().splitlines()[1])
    plain, euro = io.read(tmp_path / "plain.csv"), io.read(tmp_path / "euro.csv")
    assert euro.fps == plain.fps and euro.provenance.units == plain.provenance.units == "mm"
    assert (euro.mask == plain.mask).all()
    np.testing.assert_array_equal(euro.positions, plain.positions)
    assert any("semicolons, decimal commas" in n for n in euro.provenance.notes)
    out = tmp_path / "filled.csv"
    assert run(["complete", str(tmp_path / "euro.csv"), "-o", str(out)]) == 0
    a, b = (tmp_path / "euro.csv").read_text().splitlines(), out.read_text().splitlines()
    assert a[0] == b[0] and len(a) == len(b)
    src, got = marker_csv.load(tmp_path / "euro.csv"), marker_csv.load(out)
    k = src.names.index("LKNE")
    assert not src.observed[100:120, k].any() and got.observed[100:120, k].all()
    changed = set()
    for x, y in zip(a[1:], b[1:]):
        for c, (u, v) in enumerate(zip(x.split(";"), y.split(";"))):
            if u != v:
                changed.add(c)
                assert re.fullmatch(r"-?\d+,\d{3}", v), v  # the file's own number format
    assert changed == set(src.cols[k].tolist())
    # the same gap filled in the plain file: the same numbers
    assert run(["complete", str(tmp_path / "plain.csv"), "-o", str(tmp_path / "filled_plain.csv")]) == 0
    np.testing.assert_array_equal(got.xyz, marker_csv.load(tmp_path / "filled_plain.csv").xyz)
    # tab-separated (MATLAB's writetable with Delimiter tab), named .csv: read, and written back with tabs
    tabs = tmp_path / "tabs.csv"
    tabs.write_text((tmp_path / "plain.csv").read_text().replace(",", "\t"))
    np.testing.assert_array_equal(io.read(tabs).positions, plain.positions)
    assert run(["complete", str(tabs), "-o", str(tmp_path / "filled_tabs.csv")]) == 0
    lines = (tmp_path / "filled_tabs.csv").read_text().splitlines()
    assert all("," not in line and line.count("\t") == a[0].count(";") for line in lines)
    np.testing.assert_array_equal(marker_csv.load(tmp_path / "filled_tabs.csv").xyz, got.xyz)
    # Excel's tab-delimited text in a European locale (decimal commas), and semicolons with decimal points
    (tmp_path / "tabs_euro.csv").write_text((tmp_path / "euro.csv").read_text().replace(";", "\t"))
    (tmp_path / "semi_points.csv").write_text((tmp_path / "plain.csv").read_text().replace(",", ";"))
    for name in ("tabs_euro", "semi_points"):
        np.testing.assert_array_equal(io.read(tmp_path / f"{name}.csv").positions, plain.positions)
    assert run(["complete", str(tmp_path / "tabs_euro.csv"), "-o", str(tmp_path / "filled_tabs_euro.csv")]) == 0
    src = (tmp_path / "tabs_euro.csv").read_text().splitlines()
    for x, y in zip(src[1:], (tmp_path / "filled_tabs_euro.csv").read_text().splitlines()[1:]):
        assert all(re.fullmatch(r"-?\d+,\d{3}", v) for u, v in zip(x.split("\t"), y.split("\t")) if u != v)
    np.testing.assert_array_equal(marker_csv.load(tmp_path / "filled_tabs_euro.csv").xyz, got.xyz)


def test_an_export_thinned_by_a_script_reads_at_its_rows_rate(tmp_path):
    # every second frame row kept by a script (pandas iloc[::2]) and the header left as Motive or QTM wrote
    # it (120 Hz): before, read at 120 Hz, so a BVH played twice as fast and time-smoothing was misjudged.
    # The rows' Time column (Motive, QTM) or Frame column (Nexus) says 60 Hz: read at it, said
    def thinned(src: Path, dst: Path, first_row: int, end: str = "\r\n") -> None:
        lines = src.read_bytes().decode().rstrip(end).split(end)
        dst.write_bytes((end.join(lines[:first_row] + lines[first_row::2]) + end).encode())

    write_motive(tmp_path / "full.csv")
    thinned(tmp_path / "full.csv", tmp_path / "half.csv", 7)
    write_qtm(tmp_path / "full.tsv")
    thinned(tmp_path / "full.tsv", tmp_path / "half.tsv", 12)
    write_nexus(tmp_path / "full.nexus.csv", sections=("Trajectories",))
    thinned(tmp_path / "full.nexus.csv", tmp_path / "half.nexus.csv", 5, end="\n")
    for ext, said in (("csv", "its header's Export Frame Rate is 120 Hz but its Time column steps 0.0166667 s a frame (60 Hz)"),
                      ("tsv", "its header's FREQUENCY is 120 Hz but its Time column steps 0.0166667 s a frame (60 Hz)"),
                      ("nexus.csv", "its Trajectories rate is 120 Hz but its Frame column steps 2 frames a row: read at 60 Hz")):
        full, half = io.read(tmp_path / f"full.{ext}"), io.read(tmp_path / f"half.{ext}")
        assert full.fps == pytest.approx(120.0) and not any("column steps" in w for w in full.provenance.warnings)
        assert half.fps == pytest.approx(60.0) and len(half.positions) == (len(full.positions) + 1) // 2
        assert said in " ".join(half.provenance.warnings)
        np.testing.assert_array_equal(half.positions, full.positions[::2])
        assert run(["convert", str(tmp_path / f"half.{ext}"), "-o", str(tmp_path / f"half.{ext}.bvh")]) == 0
        assert "Frame Time: 0.0166666667" in (tmp_path / f"half.{ext}.bvh").read_text()


def test_fps_gives_the_rate_of_a_3d_file_that_gives_none(tmp_path):
    # a lab's CSV of named points without a time column, captured at 120 Hz: read at 30 Hz assumed (said),
    # and before there was no way to give its rate to convert or denoise: a BVH of it played 4 times slower.
    # --fps now gives it to every command; a file that states its rate is refused the option
    write_points_csv(tmp_path / "pts.csv", time=False)
    write_points_csv(tmp_path / "timed.csv")
    assert io.read(tmp_path / "pts.csv").fps == pytest.approx(30.0)
    assert run(["convert", str(tmp_path / "pts.csv"), "--fps", "120", "-o", str(tmp_path / "pts.bvh")]) == 0
    assert "Frame Time: 0.00833333333" in (tmp_path / "pts.bvh").read_text()
    assert run(["denoise", str(tmp_path / "pts.csv"), "--fps", "120", "-o", str(tmp_path / "clean.npz")]) == 0
    assert io.read(tmp_path / "clean.npz").fps == pytest.approx(120.0)
    assert run(["convert", str(tmp_path / "timed.csv"), "--fps", "60", "-o", str(tmp_path / "timed.npz")]) == 2
    assert not (tmp_path / "timed.npz").exists()


def _drop_rows(path: Path, first_row: int, start: int, stop: int) -> Path:
    """A copy of a text export without its frame rows [start, stop) (counted from the line first_row): what
    a script that drops rows (pandas' dropna) leaves, the kept rows' Frame numbers as they were."""
    lines = path.read_bytes().decode().splitlines(keepends=True)
    out = path.with_name("dropped_" + path.name)
    out.write_text("".join(line for i, line in enumerate(lines) if not first_row + start <= i < first_row + stop))
    return out


@pytest.mark.parametrize("kind", ["motive", "nexus", "trc"])
def test_rows_a_script_dropped_are_put_back_empty_so_the_take_keeps_its_timing(tmp_path, kind):
    # 30 frame rows taken out of the middle of the real trial's export: before, the rows were read one after
    # another, the take 30 frames (a quarter second) short from there on, with no word, and `denoise`
    # smoothed across the seam. Now the frames the Frame column skips are left empty in their place
    full = tmp_path / {"motive": "walk.csv", "nexus": "trial.csv", "trc": "trial.trc"}[kind]
    if kind == "motive":
        write_motive(full)
    elif kind == "nexus":
        write_nexus(full)
    else:
        assert run(["convert", str(TRIAL), "-o", str(full), "-q"]) == 0
    ref = io.read(full)
    lines = full.read_bytes().decode().splitlines()
    after = next((i for i, line in enumerate(lines) if line.strip(", ") == "Trajectories"), 2)  # Nexus: its section
    first_row = next(i for i, line in enumerate(lines) if i > after + 2 and re.match(r"\s*\d+[,\t]", line)
                     and all(re.match(r"\s*\d+[,\t]", x) for x in lines[i:i + 3]))
    cut = _drop_rows(full, first_row, 100, 130)
    take = io.read(cut)
    assert take.n_frames == ref.n_frames and take.fps == pytest.approx(ref.fps)
    assert not take.mask[100:130].any()
    keep = np.r_[0:100, 130:ref.n_frames]
    np.testing.assert_array_equal(take.mask[keep], ref.mask[keep])
    np.testing.assert_allclose(take.positions[keep][ref.mask[keep]], ref.positions[keep][ref.mask[keep]], atol=1e-6)
    assert any("skip" in w and "(30 frames in all): left empty in their place, so the take keeps its timing" in w
               for w in take.provenance.warnings)
    # written back into its own format, the rows stay the file's: none added, the kept ones rewritten
    out = tmp_path / ("den_" + cut.name)
    assert run(["denoise", str(cut), "-o", str(out), "-q"]) == 0
    assert len(out.read_bytes().decode().splitlines()) == len(cut.read_bytes().decode().splitlines())
    back = io.read(out)
    assert back.n_frames == ref.n_frames and not back.mask[100:130].any()


def test_a_pose_csv_with_rows_dropped_keeps_its_timing(tmp_path):
    # gfpose's own pose CSV (frame, joints, time), 30 rows dropped by a script: the frames stay in place
    assert run(["convert", str(TRIAL), "-o", str(tmp_path / "trial.csv"), "-q"]) == 0
    ref = io.read(tmp_path / "trial.csv")
    take = io.read(_drop_rows(tmp_path / "trial.csv", 1, 100, 130))
    assert take.n_frames == ref.n_frames and take.fps == pytest.approx(ref.fps) and not take.mask[100:130].any()
    np.testing.assert_array_equal(take.mask[130:], ref.mask[130:])
    assert any("(30 frames in all): left empty in their place" in w for w in take.provenance.warnings)
    # one damaged frame number far past the others (a 999999999999) is no dropped rows: the rows are read
    # one after another as before, not spread over a trillion frames
    lines = (tmp_path / "trial.csv").read_text().splitlines(keepends=True)
    lines[-1] = "999999999999" + lines[-1][lines[-1].index(","):]
    (tmp_path / "damaged.csv").write_text("".join(lines))
    assert io.read(tmp_path / "damaged.csv").n_frames == ref.n_frames

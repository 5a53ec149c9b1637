"""TRC marker files (OpenSim, Cortex, Pose2Sim, OpenCap) and 3D keypoints of markerless capture.

The TRC files are written here from real captures (a Vicon Plug-in Gait trial of tests/data/vendors
and its joint centres) the way OpenSim's TRC is laid out: Y up, tab-separated, empty cells for gaps.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io
from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import JOINTS
from gfpose_cli.io import trc
from gfpose_cli.io.c3d import point_kinds

from .test_writeback import run

ezc3d = pytest.importorskip("ezc3d")

VENDORS = Path(__file__).parent / "data" / "vendors"
TRIAL = VENDORS / "pycgm__Movement_trial.c3d"  # Vicon Nexus full-body Plug-in Gait, markers and model outputs
J = {n: i for i, n in enumerate(JOINTS)}


def z_to_y_up(xyz: np.ndarray) -> np.ndarray:
    """A Z-up lab's (x, y, z) in OpenSim's Y-up frame: (y, z, x)."""
    return xyz[..., [1, 2, 0]]


def write_trc(path: Path, names: list[str], xyz: np.ndarray, observed: np.ndarray, rate: float, *,
              units: str = "mm", decimals: int = 5, newline: str = "\n") -> None:
    """A TRC as OpenSim lays it out: xyz (F, N, 3) in the file's units and axes; empty cells for gaps."""
    F, N = observed.shape
    out = [f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
           "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
           f"{rate:.2f}\t{rate:.2f}\t{F}\t{N}\t{units}\t{rate:.2f}\t1\t{F}",
           "Frame#\tTime\t" + "\t\t\t".join(names) + "\t\t",
           "\t\t" + "\t".join(f"{a}{k + 1}" for k in range(N) for a in "XYZ"), ""]
    for f in range(F):
        cells = [str(f + 1), f"{f / rate:.5f}"]
        for k in range(N):
            cells += [f"{v:.{decimals}f}" for v in xyz[f, k]] if observed[f, k] else ["", "", ""]
        out.append("\t".join(cells))
    path.write_bytes((newline.join(out) + newline).encode())


def trial_as_trc(path: Path, **kw) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The Vicon trial's points (markers and model outputs, as a C3D-to-TRC export keeps them) as a TRC."""
    c = ezc3d.c3d(str(TRIAL))
    names = [str(n) for n in c["parameters"]["POINT"]["LABELS"]["value"]]
    pts = np.asarray(c["data"]["points"])
    xyz = pts[:3].transpose(2, 1, 0)
    observed = np.isfinite(xyz).all(-1) & (pts[3].T >= 0) & ~(xyz == 0).all(-1)
    write_trc(path, names, z_to_y_up(xyz), observed, float(c["parameters"]["POINT"]["RATE"]["value"][0]), **kw)
    return names, z_to_y_up(xyz), observed


def shape_of(poses: np.ndarray) -> np.ndarray:
    """Every joint-to-joint distance (F, 17, 17): the pose without its placement and heading."""
    return np.linalg.norm(poses[:, :, None] - poses[:, None], axis=-1)


def test_trc_reads_the_same_body_as_its_c3d(tmp_path: Path) -> None:
    src = tmp_path / "trial.trc"
    trial_as_trc(src)
    a, b = io.read(src), io.read(TRIAL)
    assert a.provenance.format == "trc" and a.provenance.map == b.provenance.map == "plug-in-gait"
    assert a.provenance.up == "+Y" and a.fps == pytest.approx(b.fps)
    assert (a.mask == b.mask).all()
    # the same joints to the file's 0.01 mm, in a Z-up frame of their own
    assert np.nanmax(np.abs(shape_of(a.positions) - shape_of(b.positions))) < 1e-4
    assert np.nanmedian(a.positions[:, J["Head"], 2] - a.positions[:, J["RAnkle"], 2]) > 1.2


def test_a_datarate_the_time_column_contradicts_gives_way_to_the_time_column(tmp_path: Path) -> None:
    """A TRC whose header says 50 Hz over a Time column stepping 1/100 s (a script's export, a header
    copied from another trial): read at the Time column's rate, said; a Time column printed with few
    digits, or one that drops frames, leaves the header's rate as it is."""
    src = tmp_path / "trial.trc"
    names, xyz, observed = trial_as_trc(src)
    right = io.read(src)
    lines = src.read_text().split("\n")
    rate = right.fps
    lines[2] = lines[2].replace(f"{rate:.2f}", f"{rate / 2:.2f}")
    (tmp_path / "half.trc").write_text("\n".join(lines))
    half = io.read(tmp_path / "half.trc")
    assert half.fps == pytest.approx(rate, rel=1e-4)
    assert any(f"DataRate is {rate / 2:g} Hz" in w and "Time column" in w for w in half.provenance.warnings)
    np.testing.assert_array_equal(half.positions, right.positions)
    # times rounded to 3 decimals (a millisecond) still run on a line: no warning where header and column agree
    rounded = lines[:6] + ["\t".join([c.split("\t")[0], f"{float(c.split(chr(9))[1]):.3f}", *c.split("\t")[2:]])
                           for c in src.read_text().split("\n")[6:] if c]
    (tmp_path / "rounded.trc").write_text("\n".join(src.read_text().split("\n")[:6] + rounded[6:]) + "\n")
    assert io.read(tmp_path / "rounded.trc").provenance.warnings == right.provenance.warnings
    # a Time column with a stretch of dropped frames is no clock to go by: the header's rate stays
    dropped = lines[:6] + [row.split("\t", 2)[0] + "\t" + f"{(k + (5 if k > 100 else 0)) / rate:.5f}\t"
                           + row.split("\t", 2)[2] for k, row in enumerate(r for r in lines[6:] if r)]
    (tmp_path / "dropped.trc").write_text("\n".join(dropped) + "\n")
    lines_d = (tmp_path / "dropped.trc").read_text().split("\n")
    lines_d[2] = lines[2]
    (tmp_path / "dropped.trc").write_text("\n".join(lines_d))
    assert io.read(tmp_path / "dropped.trc").fps == pytest.approx(rate / 2)
    # a Time column in milliseconds (a script's export) is not seconds: the header's DataRate stands, unwarned
    whole = src.read_text().split("\n")
    ms = whole[:6] + ["\t".join([r.split("\t")[0], f"{float(r.split(chr(9))[1]) * 1000:.3f}", *r.split("\t")[2:]])
                      for r in whole[6:] if r]
    (tmp_path / "ms.trc").write_text("\n".join(ms) + "\n")
    in_ms = io.read(tmp_path / "ms.trc")
    assert in_ms.fps == pytest.approx(rate, rel=1e-4) and in_ms.provenance.warnings == right.provenance.warnings


def test_trc_denoise_rewrites_only_the_cells_of_body_markers(tmp_path: Path) -> None:
    src, out = tmp_path / "trial.trc", tmp_path / "clean.trc"
    names, xyz, observed = trial_as_trc(src)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    assert run(["denoise", str(src), "-o", str(out), "--quiet"]) == 0
    assert hashlib.sha256(src.read_bytes()).hexdigest() == digest  # the input is never modified
    before, after = src.read_text().split("\n"), out.read_text().split("\n")
    assert len(before) == len(after) and before[:6] == after[:6]  # header and blank line verbatim
    kinds = point_kinds(names, {})
    changed = set()
    for b, a in zip(before[6:], after[6:]):
        cb, ca = b.split("\t"), a.split("\t")
        assert len(cb) == len(ca) and cb[:2] == ca[:2]
        for c, (x, y) in enumerate(zip(cb[2:], ca[2:])):
            if x != y:
                changed.add(c // 3)
                assert x and y and len(y.split(".")[1]) == 5  # a sample that was there, in the file's format
    assert changed and all(kinds[k] == "marker" for k in changed)
    assert "LHipAngles" in names and names.index("LHipAngles") not in changed  # model outputs are never moved
    got, read = trc.load(out), trc.load(src)
    assert (got.observed == read.observed).all()  # gaps stay gaps
    moved = np.linalg.norm(got.xyz - read.xyz, axis=-1)[read.observed]
    assert 0 < np.max(moved) < 30.0  # millimetres: a clean Vicon trial is only smoothed


def test_trc_complete_fills_a_gap_and_keeps_crlf(tmp_path: Path) -> None:
    src, out = tmp_path / "gap.trc", tmp_path / "filled.trc"
    names, xyz, observed = trial_as_trc(src, newline="\r\n")
    k = names.index("LKNE")
    lines = src.read_bytes().split(b"\r\n")
    for f in range(100, 130):
        cells = lines[6 + f].split(b"\t")
        cells[2 + 3 * k: 5 + 3 * k] = [b"", b"", b""]
        lines[6 + f] = b"\t".join(cells)
    src.write_bytes(b"\r\n".join(lines))
    assert run(["complete", str(src), "-o", str(out), "--quiet"]) == 0
    a, b = src.read_bytes().split(b"\r\n"), out.read_bytes().split(b"\r\n")
    assert len(a) == len(b) and b"\n" not in out.read_bytes().replace(b"\r\n", b"")
    assert [i - 6 for i, (x, y) in enumerate(zip(a, b)) if x != y] == list(range(100, 130))
    got = trc.load(out)
    assert got.observed[100:130, k].all()
    # the filled knee marker follows the real one it replaces to a few centimetres
    assert np.max(np.linalg.norm(got.xyz[100:130, k] - xyz[100:130, k], axis=-1)) < 40.0


def keypoints_of(take) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Markerless-style 3D keypoints (metres, Y up) at a real take's joint centres: the limbs' keypoints on
    its joints, the ears either side of its head (eye level), the nose 3 cm below and 8 cm in front of it,
    the head top 12 cm above it."""
    p = np.where(take.mask[..., None], take.positions.astype(np.float64), np.nan)
    side = p[:, J["LShoulder"]] - p[:, J["RShoulder"]]
    side /= np.linalg.norm(side, axis=-1, keepdims=True)
    up = p[:, J["Head"]] - p[:, J["Pelvis"]]
    up /= np.linalg.norm(up, axis=-1, keepdims=True)
    ahead = np.cross(side, up)
    g = {n: z_to_y_up(p[:, J[n]]) for n in JOINTS}
    head = p[:, J["Head"]]
    return {"Hip": g["Pelvis"], "RHip": g["RHip"], "RKnee": g["RKnee"], "RAnkle": g["RAnkle"], "LHip": g["LHip"],
            "LKnee": g["LKnee"], "LAnkle": g["LAnkle"], "Neck": g["Thorax"],
            "Head": z_to_y_up(head + 0.12 * up), "Nose": z_to_y_up(head - 0.03 * up + 0.08 * ahead),
            "REar": z_to_y_up(head - 0.075 * side), "LEar": z_to_y_up(head + 0.075 * side),
            "RShoulder": g["RShoulder"], "RElbow": g["RElbow"], "RWrist": g["RWrist"], "LShoulder": g["LShoulder"],
            "LElbow": g["LElbow"], "LWrist": g["LWrist"], "RBigToe": g["RAnkle"], "LBigToe": g["LAnkle"]}


#: what each markerless family writes (Pose2Sim's skeletons.py trees; OpenCap's video keypoints), the map
#: that reads it, and how near its Head must come to the take's (eye level), in metres of reach from the pelvis
FAMILIES = {
    "pose2sim-halpe26": (["Hip", "RHip", "RKnee", "RAnkle", "RBigToe", "LHip", "LKnee", "LAnkle", "LBigToe", "Neck",
                          "Head", "Nose", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist"],
                         "keypoints-3d-head-top", 0.03),
    "pose2sim-coco17": (["Hip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "Neck", "Nose", "RShoulder",
                         "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist"], "keypoints-3d-nose", 0.03),
    "mediapipe": (["nose", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
                   "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
                   "right_ankle"], "keypoints-3d", 1e-5),
    "opencap": (["Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "midHip", "RHip", "RKnee",
                 "RAnkle", "LHip", "LKnee", "LAnkle", "RBigToe", "LBigToe"], "keypoints-3d", None),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_markerless_keypoints_read_through_the_keypoint_maps(family: str, tmp_path: Path) -> None:
    truth = io.read(TRIAL)
    kp = keypoints_of(truth)
    names, expected_map, head_within = FAMILIES[family]

    def ours(name: str) -> str:  # the family's name for a keypoint -> keypoints_of's
        if name in kp:
            return name
        side, _, part = name.partition("_")
        return {"midHip": "Hip", "nose": "Nose"}.get(name) or side[0].upper() + part.capitalize()

    xyz = np.stack([kp[ours(n)] for n in names], 1)
    src = tmp_path / "keypoints.trc"
    write_trc(src, names, np.nan_to_num(xyz), np.isfinite(xyz).all(-1), truth.fps, units="m", decimals=6)
    got = io.read(src)
    assert got.provenance.map == expected_map
    said = " ".join(got.provenance.warnings)
    assert f"estimated by map '{expected_map}'" in said
    limbs = [J[n] for n in ("Pelvis", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "LShoulder", "LElbow",
                            "LWrist", "RShoulder", "RElbow", "RWrist")]
    assert (got.mask[:, limbs] == truth.mask[:, limbs]).all()
    shape = shape_of(got.positions[:, limbs]) - shape_of(truth.positions[:, limbs])
    assert np.nanmax(np.abs(shape)) < 1e-5  # the keypoints are the joints

    def reach(take, joint: str) -> np.ndarray:  # noqa: ANN001
        return np.linalg.norm(take.positions[:, J[joint]] - take.positions[:, J["Pelvis"]], axis=-1)

    for joint, within in (("Spine", 0.06), ("Thorax", 0.02)):  # estimates, near the Plug-in Gait trunk
        assert np.nanmedian(np.abs(reach(got, joint) - reach(truth, joint))) < within
    if head_within is None:
        assert not got.mask[:, [J["Neck"], J["Head"]]].any() and "Neck, Head need" in said
    else:
        assert np.nanmedian(np.abs(reach(got, "Head") - reach(truth, "Head"))) < head_within
        assert np.nanmedian(np.abs(reach(got, "Neck") - reach(truth, "Neck"))) < 0.06


def test_a_trc_in_pixels_is_refused_as_image_coordinates(tmp_path: Path) -> None:
    """Sports2D writes its 2D keypoints as a TRC in pixels (Units px, z 0): refused generically as a unit
    to pass with --units, which no unit fixes; it says what the file is and what to lift instead."""
    truth = io.read(TRIAL)
    kp = keypoints_of(truth)
    names = FAMILIES["opencap"][0]
    xyz = np.stack([kp[{"midHip": "Hip"}.get(n, n)] for n in names], 1) * 1000.0
    xyz[..., 2] = 0.0
    src = tmp_path / "video_px.trc"
    write_trc(src, names, np.nan_to_num(xyz), np.isfinite(xyz).all(-1), truth.fps, units="px", decimals=2)
    with pytest.raises(InputError, match=r"Units 'px': image coordinates \(Sports2D's _px.trc\), not a 3D body"):
        io.read(src)


def test_fresh_trc_of_17_joints_round_trips(tmp_path: Path) -> None:
    take = io.read(TRIAL)
    out = tmp_path / "joints.trc"
    io.write(take, out, into_source=False)
    lines = out.read_text().split("\n")
    assert lines[2].split("\t")[2:5] == [str(take.n_frames), "17", "mm"]
    back = io.read(out)
    assert back.provenance.map == "gfpose17" and back.provenance.up == "+Y"
    assert (back.mask == take.mask).all()
    assert np.nanmax(np.abs(shape_of(back.positions) - shape_of(take.positions))) < 2e-5


def test_damaged_trc_is_refused_naming_the_line(tmp_path: Path) -> None:
    src = tmp_path / "trial.trc"
    trial_as_trc(src)
    lines = src.read_text().split("\n")
    wide = tmp_path / "wide.trc"
    wide.write_text("\n".join(lines[:20] + [lines[20] + "\t1.0\t2.0\t3.0"] + lines[21:]))
    with pytest.raises(InputError, match=r"line 21 has .* columns"):
        io.read(wide)
    comma = tmp_path / "comma.trc"
    cells = lines[9].split("\t")
    cells[5] = cells[5].replace(".", ",")
    comma.write_text("\n".join(lines[:9] + ["\t".join(cells)] + lines[10:]))
    with pytest.raises(InputError, match=r"line 10, marker T10: .* is not a number"):
        io.read(comma)
    not_trc = tmp_path / "notes.trc"
    not_trc.write_text("Frame#\tTime\n1\t0.0\n")
    with pytest.raises(InputError, match="not a TRC file"):
        io.read(not_trc)


def test_model_outputs_are_told_by_name_without_their_groups() -> None:
    kinds = point_kinds(["LKNE", "LHipAngles", "RKneeMoment", "LAnklePower", "LNormalisedGRF", "PELO", "*12"], {})
    assert kinds == ["marker", "model output", "model output", "model output", "model output", "virtual", "unlabelled"]


def test_trc_layouts_of_other_writers_read_alike(tmp_path: Path) -> None:
    """Writers seen in the wild: every row ending in a tab (MATLAB's fprintf loop), one name per column
    with the axis after it (`RHip_x`), no blank line before the rows, and a Units cell with more after it."""
    src = tmp_path / "trial.trc"
    trial_as_trc(src)
    lines = src.read_text().split("\n")
    names = trc.load(src).names
    header = lines[2].split("\t")
    header[4] = "mm   120.000000  0"
    other = [lines[0], lines[1], "\t".join(header),
             "Frame#\tTime\t" + "\t".join(f"{n}_{a}" for n in names for a in "xyz"),
             lines[4]] + [row + "\t" for row in lines[6:] if row]
    variant = tmp_path / "variant.trc"
    variant.write_text("\n".join(other) + "\n")
    a, b = io.read(src), io.read(variant)
    assert trc.load(variant).names == names and (a.mask == b.mask).all()
    assert np.array_equal(a.positions, b.positions, equal_nan=True)
    out = tmp_path / "clean.trc"
    assert run(["denoise", str(variant), "-o", str(out), "--quiet"]) == 0
    rows = out.read_text().split("\n")[5:-1]
    assert all(r.endswith("\t") and len(r.split("\t")) == 3 + 3 * len(names) for r in rows)  # the layout kept


def test_markerless_keypoints_in_a_c3d_read_as_in_a_trc(tmp_path: Path) -> None:
    truth = io.read(TRIAL)
    kp = keypoints_of(truth)
    names = FAMILIES["pose2sim-halpe26"][0]
    xyz = np.stack([kp[n] for n in names], 1)  # metres, Y up
    trc_path, c3d_path = tmp_path / "halpe.trc", tmp_path / "halpe.c3d"
    write_trc(trc_path, names, np.nan_to_num(xyz), np.isfinite(xyz).all(-1), truth.fps, units="m", decimals=6)
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [truth.fps]
    c["parameters"]["POINT"]["LABELS"]["value"] = names
    c["parameters"]["POINT"]["UNITS"]["value"] = ["mm"]
    points = np.zeros((4, len(names), len(xyz)))
    points[:3] = (np.nan_to_num(xyz) * 1000).transpose(2, 1, 0)
    points[3] = np.where(np.isfinite(xyz).all(-1).T, 0.0, -1.0)
    c["data"]["points"] = points
    c.write(str(c3d_path))
    a, b = io.read(trc_path), io.read(c3d_path)
    assert a.provenance.map == b.provenance.map == "keypoints-3d-head-top"
    assert (a.mask == b.mask).all()
    assert np.nanmax(np.abs(shape_of(a.positions) - shape_of(b.positions))) < 1e-4
    assert any("Spine, Thorax, Neck, Head estimated" in w for w in b.provenance.warnings)


def test_trc_write_back_keeps_a_latin1_file_latin1(tmp_path: Path) -> None:
    """Cortex writes its (French) names in Latin-1: the copy keeps those bytes, only moved cells change."""
    src, out = tmp_path / "séance.trc", tmp_path / "clean.trc"
    names, _, _ = trial_as_trc(src)
    text = src.read_text().replace(src.name, "essai_séance.trc").replace("\tLFIN\t", "\tTête\t")
    src.write_bytes(text.encode("latin-1"))
    assert run(["denoise", str(src), "-o", str(out), "--quiet"]) == 0
    before, after = src.read_bytes().split(b"\n"), out.read_bytes().split(b"\n")
    assert before[:6] == after[:6] and "Tête".encode("latin-1") in after[3]
    assert sum(a != b for a, b in zip(before, after)) > 100  # rows with moved markers, the rest byte for byte
    assert trc.load(out).names == [("Tête" if n == "LFIN" else n) for n in names]


def test_a_trc_written_as_c3d_keeps_its_markers(tmp_path: Path, capsys) -> None:
    """`gfpose convert trial.trc -o trial.c3d`: the new C3D holds the TRC's markers (and other positions)
    under their own names, then the 17 joints; model outputs kept as points in the TRC (angles, moments)
    are left out, said, as a new C3D cannot mark them as such and turning its axes would corrupt them.
    Read again, it gives the TRC's body, and the markers are where the TRC has them."""
    from .test_cli import run

    src = tmp_path / "trial.trc"
    names, xyz, observed = trial_as_trc(src)
    out = tmp_path / "trial.c3d"
    code, _, err = run(["convert", str(src), "-o", str(out)], capsys)
    assert code == 0, err
    assert "left out: " in err and "model outputs" in err
    c = ezc3d.c3d(str(out))
    labels = [str(n) for n in c["parameters"]["POINT"]["LABELS"]["value"]]
    kinds = dict(zip(names, point_kinds(names, {})))
    kept = [n for n in names if kinds[n] != "model output"]
    assert labels == kept + [f"gfpose_{j}" if j in kept else j for j in JOINTS]
    a, b = io.read(src), io.read(out)  # gfpose's own joints read back (gfpose17), and the markers' body
    markers = io.read(out, skeleton_map="plug-in-gait")
    assert b.provenance.map == "gfpose17" and (a.mask == b.mask).all() and (a.mask == markers.mask).all()
    assert np.nanmax(np.abs(shape_of(a.positions) - shape_of(b.positions))) < 1e-4
    assert np.nanmax(np.abs(shape_of(a.positions) - shape_of(markers.positions))) < 1e-4
    # marker to marker distances as in the TRC (mm; the C3D is Z up, the TRC Y up)
    pts = np.asarray(c["data"]["points"])[:3].transpose(2, 1, 0)
    i, k = labels.index("LKNE"), labels.index("RASI")
    both = observed[:, names.index("LKNE")] & observed[:, names.index("RASI")]
    d_c3d = np.linalg.norm(pts[both, i] - pts[both, k], axis=-1)
    d_trc = np.linalg.norm(xyz[both, names.index("LKNE")] - xyz[both, names.index("RASI")], axis=-1)
    np.testing.assert_allclose(d_c3d, d_trc, atol=0.05)
    res = np.asarray(c["data"]["meta_points"]["residuals"])[0]
    assert ((res[i] >= 0) == observed[:, names.index("LKNE")]).all()  # gaps stay gaps


def test_a_c3d_denoised_into_a_trc_keeps_its_markers(tmp_path: Path, capsys) -> None:
    """`gfpose denoise trial.c3d -o clean.trc` (OpenSim's input): the TRC holds the C3D's points (markers
    moved with the cleaned skeleton; bone points and unlabelled trajectories as they were; model outputs
    left out, said), then the 17 denoised joints. Read back: gfpose17 gives the denoised joints, the
    plug-in-gait map the moved markers' body."""
    from .test_cli import run

    c = ezc3d.c3d(str(TRIAL))
    names = [str(n) for n in c["parameters"]["POINT"]["LABELS"]["value"]]
    kinds = point_kinds(names, {k: {p: v["value"] for p, v in g.items() if isinstance(v, dict) and "value" in v}
                                for k, g in c["parameters"].items() if isinstance(g, dict)})
    out, npz = tmp_path / "clean.trc", tmp_path / "clean.npz"
    code, _, err = run(["denoise", str(TRIAL), "-o", str(out)], capsys)
    assert code == 0, err
    assert "left out: " in err and "ride the skeleton" in err
    header = out.read_text().split("\n")[3].split("\t")[2:]
    labels = [n for n in header if n]
    assert labels == [n for n, k in zip(names, kinds) if k != "model output"] + list(JOINTS)
    assert run(["denoise", str(TRIAL), "-o", str(npz)], capsys)[0] == 0
    joints, want = io.read(out), io.read(npz)
    assert joints.provenance.map == "gfpose17" and (joints.mask == want.mask).all()
    assert np.nanmax(np.abs(shape_of(joints.positions) - shape_of(want.positions))) < 2e-5
    body = io.read(out, skeleton_map="plug-in-gait")
    same_c3d = tmp_path / "clean.c3d"
    assert run(["denoise", str(TRIAL), "-o", str(same_c3d)], capsys)[0] == 0  # the markers as written back into a C3D
    ref = io.read(same_c3d)
    assert np.nanmax(np.abs(shape_of(body.positions) - shape_of(ref.positions))) < 1e-4


def test_a_trc_with_more_points_than_a_c3d_holds_becomes_a_c3d_of_joints_said(tmp_path: Path, capsys) -> None:
    """A C3D's POINT:LABELS holds 255 points: a TRC of 260 markers written as C3D keeps the 17 joints and
    says that the markers were left out (and how to keep them), instead of failing or dropping them unsaid."""
    from .test_cli import run

    names, xyz, observed = trial_as_trc(tmp_path / "trial.trc")
    body = [i for i, k in enumerate(point_kinds(names, {})) if k == "marker"][:20]
    extra = [f"{names[i]}_{n}" for n in range(12) for i in body]  # more of the same landmarks, renamed
    cols = [names.index(e.rsplit("_", 1)[0]) for e in extra]
    big = tmp_path / "big.trc"
    write_trc(big, names + extra, np.concatenate([xyz, xyz[:, cols]], 1),
              np.concatenate([observed, observed[:, cols]], 1), 120.0)
    out = tmp_path / "big.c3d"
    code, _, err = run(["convert", str(big), "-o", str(out)], capsys)
    assert code == 0, err
    assert "more than a C3D's 255; write TRC to keep them" in " ".join(err.split())
    labels = [str(n) for n in ezc3d.c3d(str(out))["parameters"]["POINT"]["LABELS"]["value"]]
    assert labels == list(JOINTS)


def test_convert_to_trc_carries_a_c3ds_markers_but_a_trcs_joints(tmp_path: Path, capsys) -> None:
    """`gfpose convert trial.c3d -o trial.trc` (the classic step before OpenSim): the TRC holds the C3D's
    markers where they are (nothing moved by a convert), then the 17 joints; `convert` of a TRC to TRC is its
    17 joints, as before."""
    from .test_cli import run

    out = tmp_path / "trial.trc"
    code, _, err = run(["convert", str(TRIAL), "-o", str(out)], capsys)
    assert code == 0, err
    assert "39 markers as they were" in err  # a convert moves nothing
    lines = out.read_text().split("\n")
    labels = [n for n in lines[3].split("\t")[2:] if n]
    assert labels[-17:] == list(JOINTS) and "LKNE" in labels and len(labels) > 17
    c = ezc3d.c3d(str(TRIAL))
    names = [str(n) for n in c["parameters"]["POINT"]["LABELS"]["value"]]
    theirs = np.asarray(c["data"]["points"])[:3, names.index("LKNE")].T  # mm, Z up
    k = labels.index("LKNE")
    row = lines[6 + 100].split("\t")  # frame 101
    mine = np.array([float(v) for v in row[2 + 3 * k: 5 + 3 * k]])  # mm, Y up
    from gfpose_cli.core.frames import Y_UP_TO_Z_UP

    np.testing.assert_allclose(mine @ Y_UP_TO_Z_UP.T, theirs[100], atol=1e-3)  # the C3D is Z up: the same place
    again = tmp_path / "again.trc"
    assert run(["convert", str(out), "-o", str(again)], capsys)[0] == 0
    assert [n for n in again.read_text().split("\n")[3].split("\t")[2:] if n] == list(JOINTS)


def test_a_take_cut_short_of_its_source_is_written_as_its_joints_said(tmp_path: Path) -> None:
    """A take whose frames no longer match its marker source (cut in Python) cannot carry the source's
    markers: a new C3D or TRC holds its joints alone and the writer's summary says why."""
    from dataclasses import replace

    src = tmp_path / "trial.trc"
    trial_as_trc(src)
    for take, out in ((io.read(src), tmp_path / "short.c3d"), (io.read(TRIAL), tmp_path / "short.trc")):
        short = replace(take, positions=take.positions[:100], mask=take.mask[:100])
        summary = io.write(short, out)
        n, why = summary["points_left_out"]
        assert n > 0 and "the take has 100 frames, its source 323" in why
        back = io.read(out)
        assert back.n_frames == 100 and back.provenance.map == "gfpose17"


def test_a_trc_changed_between_read_and_write_back_is_refused(tmp_path: Path) -> None:
    """A TRC's parse is reused by its write-back (same path, same bytes); a file edited in between is
    parsed again and refused, never written into."""
    src = tmp_path / "trial.trc"
    trial_as_trc(src)
    take = io.read(src)
    io.write(take, tmp_path / "same.trc")
    assert (tmp_path / "same.trc").read_bytes() == src.read_bytes()  # nothing edited: the same lines
    text = src.read_text()
    src.write_text(text.replace("\n1\t", "\n1\t ", 1))  # one blank more in the first frame row
    with pytest.raises(InputError, match="changed since it was read"):
        io.write(take, tmp_path / "changed.trc")
    assert not (tmp_path / "changed.trc").exists()


def test_convert_joints_only_leaves_the_markers_out(tmp_path: Path, capsys) -> None:
    """`convert --joints-only`: a C3D to TRC or to C3D is the 17 joints alone (the file before this option's
    markers-first default); with --add-joints it is refused in one line."""
    from .test_cli import run

    for out in (tmp_path / "j.trc", tmp_path / "j.c3d"):
        code, _, err = run(["convert", str(TRIAL), "--joints-only", "-o", str(out)], capsys)
        assert code == 0, err
        back = io.read(out)
        assert back.provenance.map == "gfpose17"
        if out.suffix == ".trc":
            assert [n for n in out.read_text().split("\n")[3].split("\t")[2:] if n] == list(JOINTS)
        else:
            assert [str(n) for n in ezc3d.c3d(str(out))["parameters"]["POINT"]["LABELS"]["value"]] == list(JOINTS)
        assert np.nanmax(np.abs(shape_of(back.positions) - shape_of(io.read(TRIAL).positions))) < 2e-5
    code, _, err = run(["convert", str(TRIAL), "--joints-only", "--add-joints", "-o", str(tmp_path / "x.c3d")], capsys)
    assert code == 2 and "pass one" in err


def test_repeated_labels_are_made_unique_in_a_new_trc(tmp_path: Path, capsys) -> None:
    """BTS's dynamic trial repeats `r should`, `l should`, `c7` and `sacrum` (a second, computed block): a TRC
    keys its columns by name and OpenSim refuses repeats, so the repeats get `_2`, said; the samples are the
    C3D's, column for column."""
    from .test_cli import run

    src = Path(__file__).parent / "data" / "vendors" / "btk__dynamic.c3d"
    code, out, err = run(["convert", str(src), "-o", str(tmp_path / "dyn.trc")], capsys)
    assert code == 0 and "repeated marker names made unique" in out + err and "c7 -> c7_2" in out + err
    loaded = trc.load(tmp_path / "dyn.trc")
    assert len(set(loaded.names)) == len(loaded.names)
    assert "c7" in loaded.names and "c7_2" in loaded.names and "r should_2" in loaded.names

"""C3D reading on the real fixtures: units, axes, gaps, subjects and clear refusals."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io
from gfpose_cli.core.errors import InputError
from gfpose_cli.evaluation.metrics import body_height

from .conftest import FIXTURES, needs_fixtures, occluded_c3d
from .test_cli import run

pytestmark = needs_fixtures


@pytest.mark.parametrize("name,frames,fps", [("cmu_85_02", 810, 120.0), ("ktk_tennis_serve_nan", 1092, 50.0)])
def test_plug_in_gait_files_map_to_an_upright_body_in_metres(name: str, frames: int, fps: float) -> None:
    take = io.read(FIXTURES / f"{name}.c3d")
    assert take.provenance.map == "plug-in-gait"  # auto-detected (CMU's LFWT/LBWT through aliases)
    assert take.n_frames == frames and take.fps == fps
    full = take.mask.all(1)
    assert full.mean() > 0.8
    p = take.positions[full]
    assert 1.3 < np.median(body_height(p)) < 2.0  # mm (CMU) and m (tennis) both end in metres
    assert np.median(p[:, 10, 2] - p[:, [3, 6], 2].mean(1)) > 1.0  # head above ankles: Z up


def test_harrington_hip_centres_in_the_pelvis_frame() -> None:
    """The regression on a pelvis of known width and depth, turned and moved anywhere: the published
    offsets (mm) from the mid-ASIS point, in the pelvis's own axes."""
    from gfpose_cli.io.maps import hip_centres

    pw, pd = 0.25, 0.16
    local = {"rasi": (0.0, 0.0, pw / 2), "lasi": (0.0, 0.0, -pw / 2), "rpsi": (-pd, 0.02, 0.05), "lpsi": (-pd, 0.02, -0.05)}
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    R = q * np.sign(np.linalg.det(q))  # a rotation
    t = rng.normal(size=3)
    world = {k: (np.asarray(v) @ R.T + t)[None] for k, v in local.items()}
    right, left = hip_centres(world["rasi"], world["lasi"], world["rpsi"], world["lpsi"])
    back_r, back_l = (right - t) @ R, (left - t) @ R  # in the pelvis frame again
    depth = np.hypot(pd, 0.02)  # mid-ASIS to mid-PSIS
    want = np.array([-0.24 * depth - 0.0099, -0.30 * pw - 0.0109, 0.33 * pw + 0.0073])
    # the frame's x is the mid-PSIS-to-mid-ASIS line: here tilted 0.02 m up from the axis above
    tilt = np.arctan2(-0.02, pd)
    c, s_ = np.cos(tilt), np.sin(tilt)
    want_local = np.array([c * want[0] - s_ * want[1], s_ * want[0] + c * want[1], want[2]])
    assert np.allclose(back_r[0], want_local, atol=1e-9)
    assert np.allclose(back_l[0], want_local * [1, 1, -1], atol=1e-9)


def test_marker_hips_are_fixed_in_the_pelvis_and_the_pelvis_between_them() -> None:
    """CMU 85_02 (Plug-in Gait through CMU's LFWT/LBWT names): the hips stay put in the frame of the
    pelvic markers while the thighs swing (before the regression, a share of the knee marker pulled
    them along: 17-30 mm here, CMU 135's hip width moved +-33 mm), and the pelvis is their midpoint, as
    a rig's is."""
    from gfpose_cli.io.c3d import load
    from gfpose_cli.io.maps import normalise_name

    take = io.read(FIXTURES / "cmu_85_02.c3d")
    ok = take.mask[:, [0, 1, 4]].all(1)
    p = take.positions[ok].astype(np.float64)
    width = np.linalg.norm(p[:, 1] - p[:, 4], axis=-1)
    assert 0.12 < np.median(width) < 0.25 and width.std() < 0.006, (np.median(width), width.std())
    assert np.allclose(p[:, 0], 0.5 * (p[:, 1] + p[:, 4]), atol=1e-6)
    raw = load(FIXTURES / "cmu_85_02.c3d")
    names = [normalise_name(n) for n in raw.labels]
    pelvic = np.stack([raw.xyz[:, names.index(k)] for k in ("lfwt", "rfwt", "lbwt", "rbwt")], 1) / 1000.0  # mm
    seen = np.isfinite(pelvic).all((1, 2)) & take.mask[:, 1] & take.mask[:, 4]
    for hip in (1, 4):  # distances are the same in the file's axes and the canonical ones
        d = np.linalg.norm(take.positions[seen, hip][:, None].astype(np.float64) - pelvic[seen], axis=-1)
        assert d.std(0).max() < 0.01, d.std(0)  # as rigid as the skin markers (2-8 mm); the old rule's: 17-30 mm


def test_gaps_become_missing_joints_not_zeros() -> None:
    take = io.read(FIXTURES / "ktk_tennis_serve_nan.c3d")
    missing = ~take.mask
    assert missing.any()
    assert np.isnan(take.positions[missing]).all()
    assert set(np.nonzero(missing.any(0))[0]) <= {11, 12, 13, 14, 15}  # the shoulder marker's joints
    # and the left wrist in the one frame its marker's label sits on another marker (tests/test_offbody.py)
    assert np.flatnonzero(missing[:, 13]).tolist() == [401 - take.provenance.first_frame]


def test_positions_agree_with_the_independent_c3d_reader() -> None:
    """py-c3d reads the same marker (LKNE -> joint LKnee) as our ezc3d path, frame by frame."""
    import c3d

    path = FIXTURES / "cmu_85_02.c3d"
    with open(path, "rb") as fh:
        reader = c3d.Reader(fh)
        labels = [label.strip() for label in reader.point_labels]
        col = labels.index("Male:LKNE")
        frames = np.array([points[col, :3] for _, points, _ in reader.read_frames()])
    ours = io.read(path).positions[:, 5]  # LKnee, metres, Z up (the file is already Z up)
    assert np.abs(ours - frames / 1000.0).max() < 1e-5


def test_clinical_gait_file_maps_through_descriptions_of_repeated_labels() -> None:
    # BTK's Gait.c3d labels lateral and medial knee/ankle markers alike (RKNE twice); the
    # descriptions tell them apart, and the knee centre is their midpoint
    take = io.read(FIXTURES / "btk_gait.c3d")
    assert take.provenance.map == "clinical-gait"
    seen = take.mask.all(1)
    assert 0.3 < seen.mean() < 0.5  # the real gaps stay gaps
    p = take.positions[seen]
    knee_to_ankle = np.linalg.norm(p[:, 2] - p[:, 3], axis=-1)
    assert 0.33 < np.median(knee_to_ankle) < 0.45
    assert np.median(p[:, 10, 2] - p[:, 3, 2]) > 1.3  # upright, Z up, metres
    with pytest.raises(InputError, match="plug-in-gait.*cannot find.*Head \\(needs"):
        io.read(FIXTURES / "btk_gait.c3d", skeleton_map="plug-in-gait")


def test_unmappable_files_name_the_joints_they_lack() -> None:
    with pytest.raises(InputError, match="several subjects"):
        io.read(FIXTURES / "ezc3d_vicon.c3d")
    with pytest.raises(InputError, match=r"ezc3d_vicon.c3d: no marker set matches its names; the closest: plug-in-gait \(\d+% of its names found; lacks LASI, RASI"):
        io.read(FIXTURES / "ezc3d_vicon.c3d", subject="Daphnee")
    with pytest.raises(InputError, match="no markers of subject 'Nobody'"):
        io.read(FIXTURES / "ezc3d_vicon.c3d", subject="Nobody")
    with pytest.raises(InputError, match="ktk_duplicate_labels.c3d"):
        io.read(FIXTURES / "ktk_duplicate_labels.c3d")


def test_convert_and_complete_a_real_take(tmp_path: Path, capsys) -> None:
    src = FIXTURES / "ktk_tennis_serve_nan.c3d"
    before = src.read_bytes()
    code, _, err = run(["convert", str(src), "-o", str(tmp_path / "t.npz"), "-q"], capsys)
    assert code == 0, err
    converted = io.read(tmp_path / "t.npz")
    assert not converted.mask.all()
    code, _, err = run(["complete", str(src), "-o", str(tmp_path / "f.npz"), "--steps", "5", "-q"], capsys)
    assert code == 0, err
    filled = io.read(tmp_path / "f.npz")
    assert filled.mask.all() and np.isfinite(filled.positions).all()
    assert np.allclose(filled.positions[converted.mask], converted.positions[converted.mask], atol=1e-5)
    assert src.read_bytes() == before


def test_truncated_c3d_is_an_input_error(tmp_path: Path) -> None:
    cut = tmp_path / "cut.c3d"
    cut.write_bytes((FIXTURES / "cmu_85_02.c3d").read_bytes()[:3000])
    with pytest.raises(InputError, match="cut.c3d"):
        io.read(cut)


def test_a_c3d_cut_anywhere_in_its_parameters_is_an_input_error(tmp_path: Path) -> None:
    """A C3D cut short at any byte of its header and parameter section is refused in one sentence,
    never a crash (a cut just before a parameter's offset field once escaped as a struct.error)."""
    from gfpose_cli.core.take import Take

    from .conftest import synthetic_poses

    src = tmp_path / "ours.c3d"
    io.write(Take(positions=synthetic_poses(30, seed=1), fps=50.0), src)
    data = src.read_bytes()
    start = (data[0] - 1) * 512
    cut = tmp_path / "cut.c3d"
    # every 7th byte of the first groups' and parameters' entries, and two offset fields cut through (a
    # cut further in, into the data, is read or refused the same way, but some cuts keep ezc3d busy for
    # its full 10 s timeout: left out to keep the test short)
    ends = list(range(start + 4, start + 660, 7)) + [1109, 1110, 1111, 1159, 1160, 1161]
    for n in ends:
        cut.write_bytes(data[:n])
        try:
            io.read(cut)
        except InputError as exc:
            assert "cut.c3d" in str(exc) and "\n" not in str(exc)


def test_maps_lists_presets_and_resolves_a_file(capsys) -> None:
    code, out, _ = run(["maps"], capsys)
    assert code == 0 and all(name in out for name in ("plug-in-gait", "mixamo", "coco17", "openpose25"))
    code, out, err = run(["maps", str(FIXTURES / "ktk_tennis_serve_nan.c3d")], capsys)
    assert code == 0, err
    assert "RShoulder" in out and "86.7%" in out  # the shoulder marker's gap shows up


def test_a_c3d_whose_frame_counts_stop_at_65535_reads_every_frame_it_holds(tmp_path: Path) -> None:
    """ezc3d writes a take of more than 65,535 frames with the header and POINT:FRAMES at 65,535 and no
    TRIAL fields (and reads back 65,535 of them). Before, such a 10-minute take was read cut at 65,535
    frames with no word: 54 s of a 72,000-frame take lost. The complete frames that fill the file are read
    now (the last block's zero padding is no frame), said; a float POINT:FRAMES or POINT:LONG_FRAMES past
    65,535 (the spec's way) counts them too."""
    import ezc3d

    from gfpose_cli.io import c3d as c3d_io
    from gfpose_cli.io import c3d_raw

    F = 70_000
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [120.0]
    c["parameters"]["POINT"]["LABELS"]["value"] = ["A", "B"]
    pts = np.ones((4, 2, F))
    pts[0, 0] = np.arange(F) / 120.0
    pts[1, 1] = np.arange(F) / 60.0
    c["data"]["points"] = pts
    c.write(str(tmp_path / "long.c3d"))
    assert np.asarray(ezc3d.c3d(str(tmp_path / "long.c3d"))["data"]["points"]).shape[-1] == 65_535  # ezc3d's own read
    loaded = c3d_io.load(tmp_path / "long.c3d")
    assert loaded.xyz.shape[0] == F
    np.testing.assert_allclose(loaded.xyz[:, 0, 0], np.arange(F) / 120.0, rtol=1e-6)
    assert any(f"the file holds {F} complete frames, all read" in n for n in loaded.notes)
    data = (tmp_path / "long.c3d").read_bytes()
    raw = c3d_raw.parse(data)
    for key in ("FRAMES", "LONG_FRAMES"):  # the spec's float counts
        params = raw.params()
        params["POINT"][key] = [float(F - 100)]
        assert c3d_raw._layout(raw, params, len(data))[0] == F - 100


def test_a_new_c3d_of_more_than_65535_frames_holds_every_frame(tmp_path: Path, capsys) -> None:
    """A 10-minute take at 120 Hz (72,000 frames; here 70,000 of a real walk played back and forth) written
    to a new C3D: the header's 16-bit frame words stop at 65,535, so the file was refused as "incomplete;
    is the disk full?" (ezc3d reads back 65,535). TRIAL:ACTUAL_START_FIELD / ACTUAL_END_FIELD now count
    the frames as Vicon and Motive write them, and our reader and the independent c3d package read all."""
    import warnings

    import c3d

    from gfpose_cli.core.take import Take

    walk = io.read(Path(__file__).parent / "data" / "vendors" / "dme__blender_rendering_example.bvh")
    there_and_back = np.concatenate([np.arange(walk.n_frames), np.arange(walk.n_frames)[::-1]])
    frames = np.resize(there_and_back, 70_000)
    io.write(Take(positions=walk.positions[frames], fps=walk.fps), tmp_path / "long.npz")
    code, out, err = run(["convert", str(tmp_path / "long.npz"), "-o", str(tmp_path / "long.c3d")], capsys)
    assert code == 0, err
    back = io.read(tmp_path / "long.c3d")
    assert back.n_frames == 70_000
    assert not any("header says" in n for n in back.provenance.notes + back.provenance.warnings)  # as the spec has it
    # --add-joints rewrites through ezc3d, which reads 65,535 of them: refused, saying so (not "storage would change")
    code, out, err = run(["convert", str(tmp_path / "long.c3d"), "--add-joints", "-o", str(tmp_path / "j.c3d")], capsys)
    assert code == 2 and "reads 65535 of its 70000 frames" in err and not (tmp_path / "j.c3d").exists()
    np.testing.assert_allclose(back.positions, walk.positions[frames], atol=1e-5)
    with open(tmp_path / "long.c3d", "rb") as handle, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = c3d.Reader(handle)
        assert (reader.first_frame, reader.last_frame) == (1, 70_000)
        last = None
        for count, (_, points, _) in enumerate(reader.read_frames(), start=1):
            last = points
    assert count == 70_000
    pelvis = walk.positions[frames[-1], 0] * 1000  # mm, Z up as written
    np.testing.assert_allclose(last[-17, :3], pelvis, atol=0.05)


@needs_fixtures
def test_commands_reading_a_c3d_beside_their_inputs_pick_its_performer(tmp_path: Path, capsys) -> None:
    """`generate --condition/--skeleton`, `lift --skeleton` and `evaluate` read 3D files of possibly several
    performers and answered "pick one with --subject", an option they did not have; they take it now."""
    from gfpose_cli.core.take import Take

    take = FIXTURES / "cmu_85_02.c3d"  # one performer, "Male"
    walk = io.read(take)
    pixels = walk.positions[:40, :, [0, 2]] * np.array([400.0, -400.0]) + 500.0
    io.write(Take(positions=pixels.astype(np.float32), fps=30.0), tmp_path / "kp.npz")
    io.write(walk, tmp_path / "same.npz")
    commands = {
        "generate --condition": ["generate", "--n", "4", "--condition", str(take), "-o", str(tmp_path / "g.npz")],
        "generate --skeleton": ["generate", "--n", "4", "--skeleton", str(take), "-o", str(tmp_path / "s.npz")],
        "lift --skeleton": ["lift", str(tmp_path / "kp.npz"), "--skeleton", str(take), "-o", str(tmp_path / "l.npz")],
        "evaluate": ["evaluate", str(tmp_path / "same.npz"), str(take)],
    }
    for name, argv in commands.items():
        code, out, err = run([*argv, "--subject", "Nobody"], capsys)
        assert code == 2 and "no markers of subject 'Nobody'" in err, (name, err)
        code, out, err = run([*argv, "--subject", "Male", "--force"] if name != "evaluate" else [*argv, "--subject", "Male"],
                             capsys)
        assert code == 0, (name, err)


@pytest.mark.parametrize("marker,joints,mean_mm,max_mm", [("LFWT", [0, 1, 4], 10.0, 30.0), ("RBWT", [0, 1, 4], 3.0, 8.0),
                                                          ("LFHD", [9, 10], 2.0, 4.0), ("CLAV", [8, 9], 3.0, 6.0)])
def test_one_occluded_marker_of_a_rigid_cluster_does_not_lose_its_joints(tmp_path: Path, marker: str, joints: list[int],
                                                                         mean_mm: float, max_mm: float) -> None:
    """The real CMU C3D with one waist marker (or one head or thorax marker) occluded for half a second: the
    hip regression needs all four pelvic markers, so the pelvis and both hips were missing in those frames
    (the head for a head marker, the thorax and neck for CLAV). The marker is placed by the rest of its
    cluster, as a capture program's rigid-body fill does, and said; the joints come out near the truth."""
    pytest.importorskip("ezc3d")
    occluded_c3d(FIXTURES / "cmu_85_02.c3d", tmp_path / "occluded.c3d", (marker,), slice(400, 460))
    truth, take = io.read(FIXTURES / "cmu_85_02.c3d"), io.read(tmp_path / "occluded.c3d")
    assert take.mask.all() and truth.mask.all()
    err = np.linalg.norm(take.positions[400:460][:, joints] - truth.positions[400:460][:, joints], axis=-1) * 1000
    assert err.mean() < mean_mm and err.max() < max_mm, (err.mean(), err.max())
    assert np.array_equal(np.delete(take.positions, range(400, 460), 0), np.delete(truth.positions, range(400, 460), 0))
    assert any(f"Male:{marker} placed in 60 frames by the rest of its rigid cluster" in n for n in take.provenance.notes)


def test_a_performer_with_a_marked_prop_reads_without_subject_and_says_so(tmp_path: Path, capsys) -> None:
    """A Vicon trial of one performer and a prop with markers of its own (`Chair:*`), as ezc3d's own
    Vicon sample is (Daphnee and `boite`): several subjects were refused until --subject; the only one a
    marker set reads is the performer, read and said. Two performers are still refused."""
    ezc3d = pytest.importorskip("ezc3d")
    from gfpose_cli.io.c3d import _append_points

    c = ezc3d.c3d(str(FIXTURES / "cmu_85_02.c3d"))
    n_frames = c["data"]["points"].shape[2]
    corners = np.array([[1500, 0, 450], [1900, 0, 450], [1900, 400, 450], [1500, 400, 450]], float)  # mm
    _append_points(c, [f"Chair:C{k + 1}" for k in range(4)], np.repeat(corners[None], n_frames, 0),
                   np.ones((n_frames, 4), bool))
    c.write(str(tmp_path / "prop.c3d"))
    take, alone = io.read(tmp_path / "prop.c3d"), io.read(FIXTURES / "cmu_85_02.c3d")
    np.testing.assert_array_equal(take.positions, alone.positions)
    assert take.provenance.subject == "Male"
    assert any("subject Male read: no marker set reads the labels of Chair" in n for n in take.provenance.notes)
    code, _, err = run(["convert", str(tmp_path / "prop.c3d"), "-o", str(tmp_path / "out.npz")], capsys)
    assert code == 0 and "subject Male read" in err
    two = ezc3d.c3d(str(FIXTURES / "cmu_85_02.c3d"))
    names = [str(x) for x in two["parameters"]["POINT"]["LABELS"]["value"]]
    body = np.asarray(two["data"]["points"][:3]).transpose(2, 1, 0) + [0.0, 2000.0, 0.0]
    _append_points(two, [n.replace("Male:", "Female:") for n in names], body, np.isfinite(body).all(-1))
    two.write(str(tmp_path / "two.c3d"))
    with pytest.raises(InputError, match=r"several subjects \(Male, Female\); pick one with"):
        io.read(tmp_path / "two.c3d")


def test_a_c3d_of_segment_poses_without_points_is_refused_for_what_it_holds(tmp_path: Path) -> None:
    # a markerless system's C3D (Theia3D: 4x4 segment poses in the ROTATION group, no points) was refused
    # as "analog channels only", which it does not hold
    import ezc3d

    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [120]
    c["data"]["points"] = np.zeros((4, 0, 100))
    c.add_parameter("ROTATION", "RATE", [120.0])
    c.add_parameter("ROTATION", "LABELS", ["pelvis_4X4", "l_thigh_4X4"])
    c.add_parameter("ROTATION", "USED", [2])
    c.add_parameter("ROTATION", "DATA_START", [0])
    c["data"]["rotations"] = np.tile(np.eye(4)[:, :, None, None], (1, 1, 2, 100))
    c.write(str(tmp_path / "theia.c3d"))
    with pytest.raises(InputError, match=r"theia\.c3d: .*segment poses \(its ROTATION group.*no points"):
        io.read(tmp_path / "theia.c3d")
    c = ezc3d.c3d()  # no points and no rotations: analog channels only, as before
    c["parameters"]["POINT"]["RATE"]["value"] = [120]
    c["data"]["points"] = np.zeros((4, 0, 100))
    c.write(str(tmp_path / "analog.c3d"))
    with pytest.raises(InputError, match="no marker data"):
        io.read(tmp_path / "analog.c3d")


def test_a_rigid_fill_blends_both_sides_of_the_gap_so_it_does_not_jump(tmp_path: Path) -> None:
    """CMU 85_02's right front waist marker hidden for 73 frames (0.6 s), when the waist cluster's own shape
    drifts. Each frame was placed from the nearer end of the gap only, so the fill jumped where the nearer
    end changed, mid-gap (its error by 58 mm in one frame, up to 100 mm, the hip joints with it); it now
    blends the placements from both ends by where the frame lies, and moves smoothly (76 mm at most)."""
    from gfpose_cli.io.maps import cluster_filled

    path = FIXTURES / "cmu_85_02.c3d"
    back = io.read(path).writeback
    _, xyz, seen = io.marker_trajectories(path, subject=back.subject)
    k = back.names.index("Male:RFWT")
    cols = next(c for c in back.skeleton_map.rigid_clusters(back.names) if k in c)
    hidden = seen.copy()
    hidden[494:567, k] = False
    assert seen[494:567, k].all()
    filled, placed = cluster_filled(xyz, hidden, cols)
    assert placed[494:567, k].all()
    error = np.linalg.norm(filled[494:567, k] - xyz[494:567, k], axis=-1)
    assert np.abs(np.diff(error)).max() < 0.01  # no jump mid-gap (before: 58 mm in one frame)
    assert error.max() < 0.08 and error[[0, -1]].max() < 0.03  # near the truth at both ends

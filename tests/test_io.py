"""Readers and writers: NPZ/CSV round trips, BVH/ASF forward kinematics, and clear errors."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io
from gfpose_cli.io import bvh as bvh_io
from gfpose_cli.core.errors import InputError
from gfpose_cli.evaluation.metrics import body_height
from gfpose_cli.core.take import Take

from .conftest import DATA, FIXTURES, needs_data, needs_fixtures, synthetic_poses


def take_with_gaps() -> Take:
    poses = synthetic_poses(12)
    mask = np.ones((12, 17), bool)
    mask[3, 5] = mask[7, 12] = False
    poses[~mask] = np.nan
    return Take(positions=poses, mask=mask, fps=60.0)


@pytest.mark.parametrize("ext", ["npz", "csv"])
def test_round_trip_keeps_values_and_gaps(tmp_path: Path, ext: str) -> None:
    take = take_with_gaps()
    io.write(take, tmp_path / f"t.{ext}")
    back = io.read(tmp_path / f"t.{ext}")
    assert back.positions.shape == take.positions.shape
    assert np.array_equal(back.mask, take.mask)
    assert np.allclose(back.positions[take.mask], take.positions[take.mask], atol=1e-6)
    if ext == "npz":
        assert back.fps == 60.0


@pytest.mark.parametrize("ext", ["npz", "csv"])
def test_hypotheses_and_2d_round_trip(tmp_path: Path, ext: str) -> None:
    hyps = Take(positions=np.stack([synthetic_poses(5, s) for s in range(3)], axis=1))
    io.write(hyps, tmp_path / f"h.{ext}")
    back = io.read(tmp_path / f"h.{ext}")
    assert back.positions.shape == (5, 3, 17, 3)
    assert np.allclose(back.positions, hyps.positions, atol=1e-6)
    kp = Take(positions=synthetic_poses(4)[..., :2] * 400 + 500)
    io.write(kp, tmp_path / f"k.{ext}")
    assert io.read(tmp_path / f"k.{ext}").dim == 2


def test_csv_header_is_the_documented_schema(tmp_path: Path) -> None:
    io.write(take_with_gaps(), tmp_path / "t.csv")
    header, row = (tmp_path / "t.csv").read_text().splitlines()[:2]
    assert header.startswith("frame,Pelvis_x,Pelvis_y,Pelvis_z,RHip_x")
    assert row.startswith("0,")


@pytest.mark.parametrize("content,message", [
    (b"not a zip", "not a readable NPZ"),
    (None, r"no 'poses' array \(found: other \(3,\)\); gfpose reads 'poses': 3D joints \(frames, 17, 3\) in Human3.6M's"),
    ("shape", r"expected \(frames, 17, 3\)"),
    # AMASS's SMPL-H parameters (and SMPL's, SMPL-X's): said to be joint rotations, not refused as a wrong shape
    ("amass", r"SMPL-H \(AMASS\) body-model parameters \('poses' holds 52 joint rotations.*not joint positions"),
    ("smpl", r"SMPL body-model parameters \('poses' holds 24 joint rotations"),
])
def test_bad_npz_names_the_file(tmp_path: Path, content, message: str) -> None:
    path = tmp_path / "bad.npz"
    if content is None:
        np.savez(path, other=np.zeros(3))
    elif content == "shape":
        np.savez(path, poses=np.zeros((4, 16, 3)))
    elif content == "amass":
        np.savez(path, poses=np.zeros((40, 156), np.float32), trans=np.zeros((40, 3)), betas=np.zeros(16),
                 gender=np.array("male"), mocap_framerate=np.array(120.0))
    elif content == "smpl":
        np.savez(path, poses=np.zeros((40, 72)), betas=np.zeros(10))
    else:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        io.read(path)
    assert "bad.npz" in str(info.value)


def test_a_csv_keeps_the_take_s_frame_rate_in_its_time_column(tmp_path: Path, capsys) -> None:
    """A 120 Hz take through CSV came back at 30 Hz (the CSV held no clock): a BVH converted from it
    played four times slower, and denoise smoothed it as if at 30 Hz. The time column (seconds, last)
    carries it, hypotheses' rows and a European spreadsheet's copy too; a CSV without one is said."""
    from .test_cli import run

    walk = io.read(Path(__file__).parent / "data" / "vendors" / "dme__blender_rendering_example.bvh")
    assert walk.fps == pytest.approx(120, rel=1e-3)
    io.write(walk, tmp_path / "walk.csv")
    assert (tmp_path / "walk.csv").read_text().splitlines()[0].endswith(",RWrist_z,time")
    back = io.read(tmp_path / "walk.csv")
    assert back.fps == pytest.approx(walk.fps, rel=1e-5) and not back.provenance.notes  # 120.0005 Hz: 120
    hyps = Take(positions=np.repeat(walk.positions[:20, None], 3, axis=1), fps=walk.fps)
    io.write(hyps, tmp_path / "hyps.csv")
    assert io.read(tmp_path / "hyps.csv").fps == pytest.approx(walk.fps, rel=1e-5)
    text = (tmp_path / "walk.csv").read_text()
    (tmp_path / "eu.csv").write_text(text.replace(",", ";").replace(".", ","))
    assert io.read(tmp_path / "eu.csv").fps == pytest.approx(walk.fps, rel=1e-5)
    code, _, err = run(["convert", str(tmp_path / "walk.csv"), "-o", str(tmp_path / "walk.bvh")], capsys)
    assert code == 0, err
    assert bvh_io.read_skeleton(tmp_path / "walk.bvh").fps == pytest.approx(walk.fps, rel=1e-5)
    old = "\n".join(line.rsplit(",", 1)[0] for line in text.splitlines()) + "\n"  # as gfpose 0.1 wrote it
    (tmp_path / "old.csv").write_text(old)
    assert io.read(tmp_path / "old.csv").fps == 30.0
    assert "no time column" in io.read(tmp_path / "old.csv").provenance.notes[0]


def test_2d_keypoints_keep_their_confidence_through_csv(tmp_path: Path) -> None:
    """A detector's confidence weighs the evidence when lifting; through CSV it was dropped in silence
    (NPZ kept it). It is a score column after each keypoint's x and y."""
    kp = synthetic_poses(5)[..., :2] * 400 + 500
    conf = np.random.default_rng(0).uniform(0.2, 1.0, kp.shape[:2]).astype(np.float32)
    io.write(Take(positions=kp, confidence=conf, fps=25.0), tmp_path / "k.csv")
    assert "Pelvis_x,Pelvis_y,Pelvis_score,RHip_x" in (tmp_path / "k.csv").read_text().splitlines()[0]
    back = io.read(tmp_path / "k.csv")
    np.testing.assert_allclose(back.confidence, conf, atol=1e-6)
    np.testing.assert_allclose(back.positions, kp, atol=1e-5)
    assert back.fps == 25.0


def test_npz_fps_as_a_one_element_array_and_bad_side_keys(tmp_path: Path, capsys) -> None:
    """`np.savez(..., fps=[120])` (a list, a MATLAB export's 1x1) was an internal error; it is the rate.
    An fps of several numbers, and a confidence or root of another length than the poses, are refused
    naming the key (a confidence of 3 frames for 20 was written on as if it belonged)."""
    from .test_cli import run

    poses = synthetic_poses(20)
    np.savez(tmp_path / "a.npz", poses=poses, fps=np.array([120.0]))
    assert io.read(tmp_path / "a.npz").fps == 120.0
    for name, extra, said in (("b", {"fps": [120, 60]}, "'fps' is [120, 60]"),
                              ("c", {"confidence": np.ones((3, 17))}, "'confidence' has shape (3, 17)"),
                              ("d", {"root": np.zeros((20, 2))}, "'root' has shape (20, 2)")):
        np.savez(tmp_path / f"{name}.npz", poses=poses, **extra)
        code, _, err = run(["convert", str(tmp_path / f"{name}.npz"), "-o", str(tmp_path / f"{name}.csv")], capsys)
        assert code == 2 and said in err and "internal error" not in err, err
    # joint names as bytes (h5py's, np.array(..., dtype="S")) are the joints; a pickled side key (a dict of
    # metadata) is left out and said, a pickled 'joints' refused naming it (loading pickles can run code)
    from gfpose_cli.core.skeleton import JOINTS

    np.savez(tmp_path / "e.npz", poses=poses, joints=np.array(JOINTS, dtype="S"))
    np.testing.assert_array_equal(io.read(tmp_path / "e.npz").positions, poses.astype(np.float32))
    np.savez(tmp_path / "f.npz", poses=poses, meta=np.array({"subject": "A"}, dtype=object))
    assert "left out 'meta'" in io.read(tmp_path / "f.npz").provenance.notes[0]
    np.savez(tmp_path / "g.npz", poses=poses, joints=np.array([*JOINTS, None], dtype=object)[:17])
    with pytest.raises(InputError, match="'joints' hold pickled Python objects"):
        io.read(tmp_path / "g.npz")


def test_bad_csv_names_the_line(tmp_path: Path) -> None:
    take = take_with_gaps()
    io.write(take, tmp_path / "t.csv")
    lines = (tmp_path / "t.csv").read_text().splitlines()
    lines[4] = lines[4].replace(lines[4].split(",")[3], "abc", 1)
    (tmp_path / "t.csv").write_text("\n".join(lines))
    with pytest.raises(InputError, match="line 5"):
        io.read(tmp_path / "t.csv")


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        io.read(tmp_path / "nope.npz")
    (tmp_path / "x.xyz").write_text("1")
    with pytest.raises(InputError, match="unsupported format"):
        io.read(tmp_path / "x.xyz")
    # files users keep beside their takes: what to do with them, not only what gfpose reads
    for ext, says in (("fbx", "export the character's animation as BVH"), ("mot", "give it the trial's TRC or C3D"),
                      ("npy", "save it as NPZ"), ("pkl", "can run code"), ("h5", "save_as_csv=True"),
                      ("mp4", "run a 2D pose detector on it"), ("txt", "read by their folder")):
        (tmp_path / f"x.{ext}").write_text("1")
        with pytest.raises(InputError, match=f"does not read .{ext} files, .*{re.escape(says)}"):
            io.read(tmp_path / f"x.{ext}")


MINI_BVH = """HIERARCHY
ROOT hip
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT chest
  {
    OFFSET 0 50 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 20 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0333333
1 2 3 0 0 0 0 0 0
0 0 0 90 0 0 0 0 0
"""


def test_bvh_forward_kinematics_by_hand() -> None:
    from gfpose_cli.io import bvh

    skel = bvh.parse(MINI_BVH.replace("\n", "\r\n"))  # CRLF files parse the same
    assert skel.names == ["hip", "chest", "chest_End"]
    assert np.isclose(skel.fps, 30.0, atol=1e-3)
    pos = bvh.forward_kinematics(skel)
    assert np.allclose(pos[0], [[1, 2, 3], [1, 52, 3], [1, 72, 3]])
    # 90 degrees about Z turns +Y into -X
    assert np.allclose(pos[1], [[0, 0, 0], [-50, 0, 0], [-70, 0, 0]], atol=1e-9)


def test_truncated_bvh_is_reported() -> None:
    from gfpose_cli.io import bvh

    with pytest.raises(InputError, match="only 1 are complete"):
        bvh.parse(MINI_BVH.rsplit("\n", 2)[0] + "\n", "cut.bvh")


@needs_data
def test_cmu_archive_take_is_a_standing_body_in_metres_z_up() -> None:
    import tarfile

    from gfpose_cli.io import bvh, take_from_bvh

    with tarfile.open(DATA / "cmu-bvh.tar.xz") as tar:
        member = next(m for m in tar if m.name.endswith("14_37.bvh") or m.name.endswith(".bvh"))
        skel = bvh.parse(tar.extractfile(member).read().decode(), member.name)
    take = take_from_bvh(skel, member.name)
    assert take.provenance.map == "cmu-bvh" and take.provenance.up == "+Y" and take.provenance.units_to_m == 0.01
    heights = body_height(take.positions[1:])
    assert 1.4 < np.median(heights) < 1.9
    head_above_ankles = take.positions[1:, 10, 2] - take.positions[1:, [3, 6], 2].mean(1)
    assert np.median(head_above_ankles) > 1.0


@needs_data
def test_hdm05_asf_amc_faces_its_walking_direction() -> None:
    """A reversed Euler order makes the body face away from where it walks (PROVENANCE.md)."""
    import tarfile

    with tarfile.open(DATA / "hdm05-amc.tar.xz") as tar:
        asf = amc = None
        for m in tar:
            if m.name.endswith("HDM_mm.asf"):
                asf = tar.extractfile(m).read().decode("latin-1")
            if "mm/HDM_mm_jogLeftCircle" in m.name or ("/mm/" in m.name and "jog" in m.name and amc is None):
                amc = tar.extractfile(m).read().decode("latin-1")
            if asf and amc:
                break
    take = io.read_amc(Path("jog.amc"), Path("mm.asf"), asf_text=asf, amc_text=amc)
    assert take.provenance.map == "hdm05-asf" and take.provenance.up == "+Y"
    p = take.positions
    assert 1.5 < np.median(body_height(p)) < 1.9
    velocity = np.gradient(p[:, 0, :2], axis=0)
    right = (p[:, 1] - p[:, 4])[:, :2]
    facing = np.stack([-right[:, 1], right[:, 0]], -1)  # Z x right
    moving = np.linalg.norm(velocity, axis=1) > 1e-3
    cos = (velocity * facing).sum(1)[moving] / (np.linalg.norm(velocity, axis=1) * np.linalg.norm(facing, axis=1))[moving]
    assert np.median(cos) > 0.7


@needs_fixtures
@pytest.mark.parametrize("name,preset,up", [("cmu_12_01_walk", "mixamo", "+Y"), ("cmu_131_03_hop", "anatomical", "+Y"),
                                            ("fair_wave_hello", "mixamo", "+Z")])
def test_bvh_fixtures_pick_their_map_and_stand_up(name: str, preset: str, up: str) -> None:
    take = io.read(FIXTURES / f"{name}.bvh")
    assert take.provenance.map == preset and take.provenance.up == up and take.mask.all()
    p = take.positions[1:]
    assert np.median(p[:, 10, 2] - p[:, [3, 6], 2].mean(1)) > 0.5  # head above ankles after Z-up
    if name.startswith("cmu"):  # CMU adults in Acclaim units (inches / 0.45)
        assert take.provenance.units == "acclaim" and 1.3 < np.median(body_height(p)) < 1.9


def test_unmappable_bvh_names_the_missing_joints() -> None:
    text = MINI_BVH
    with pytest.raises(InputError, match=r"no skeleton rig matches its names; the closest: \w+ \(\d+% of its names found; lacks \w*Hip"):
        from gfpose_cli.io import bvh, take_from_bvh

        take_from_bvh(bvh.parse(text), "mini.bvh")


@needs_fixtures
@pytest.mark.parametrize("name", ["cmu_12_01_walk", "fair_wave_hello"])
def test_bvh_forward_kinematics_matches_blender(name: str) -> None:
    """World joint positions equal Blender's BVH import (stored beside the fixture) to 1e-3 file units.

    Blender turns Y-up files to Z-up as (x, -z, y); frames are numbered from 1. This caught
    rotations about Y being mirrored in our FK.
    """
    import json

    from gfpose_cli.io import bvh

    ref = json.loads((FIXTURES / f"{name}.bvh.json").read_text())
    skel = bvh.read_skeleton(FIXTURES / f"{name}.bvh")
    world = bvh.forward_kinematics(skel)[np.array(ref["sampled_frames"]) - 1][:, [skel.names.index(b) for b in ref["bones"]]]
    blender_frame = np.stack([world[..., 0], -world[..., 2], world[..., 1]], -1)
    assert np.abs(blender_frame - np.array(ref["positions"])).max() < 1e-3


def _motion_rewritten(tmp_path: Path, name: str, rows_of, frames_of=None) -> Path:
    """The repository's dme Blender example with its MOTION rows (and 'Frames:' count) rewritten."""
    src = (Path(__file__).parent / "data" / "vendors" / "dme__blender_rendering_example.bvh").read_text()
    head, motion = src.split("MOTION")
    lines = motion.strip().splitlines()
    rows = rows_of(lines[2:])
    frames = frames_of(len(lines) - 2) if frames_of else len(rows)
    out = tmp_path / name
    out.write_text(f"{head}MOTION\nFrames: {frames}\n{lines[1]}\n" + "\n".join(rows) + "\n")
    return out


def test_bvh_rows_wider_than_the_hierarchy_are_refused_not_misaligned(tmp_path: Path) -> None:
    """Each row one value longer than the channels declared: read flat, every frame after the first
    was shifted by one more channel (silently wrong angles); refused naming both counts."""
    path = _motion_rewritten(tmp_path, "wide.bvh", lambda rows: [r + " 0.0" for r in rows])
    with pytest.raises(InputError, match="frame rows hold 97 values each but its hierarchy declares 96 channels"):
        io.read(path)


def test_a_bvh_of_two_skeletons_is_refused_naming_them(tmp_path: Path) -> None:
    """A second ROOT (a prop or a second performer) after the first: only the first was parsed, and the
    wider rows were refused as "motion pasted from another rig"; the refusal now says what the file is."""
    path = _motion_rewritten(tmp_path, "two.bvh", lambda rows: [r + " 0 0 0 0 0 0" for r in rows])
    text = path.read_text()
    prop = ("ROOT Prop\n{\n  OFFSET 0 0 0\n  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n"
            "  End Site\n  {\n    OFFSET 0 10 0\n  }\n}\n")
    path.write_text(text.replace("MOTION", prop + "MOTION", 1))
    with pytest.raises(InputError, match=r"holds 2 skeletons \(ROOT \S+, ROOT Prop\); gfpose reads a BVH of one"):
        io.read(path)


def test_bvh_frames_beyond_its_frames_line_are_read_and_said(tmp_path: Path) -> None:
    """A 'Frames:' line that undercounts (hand-edited or a buggy exporter) dropped the frames after it."""
    whole = io.read(Path(__file__).parent / "data" / "vendors" / "dme__blender_rendering_example.bvh")
    path = _motion_rewritten(tmp_path, "more.bvh", lambda rows: rows, frames_of=lambda n: n // 2)
    take = io.read(path)
    assert take.n_frames == whole.n_frames
    np.testing.assert_array_equal(take.positions, whole.positions)
    assert any(f"'Frames:' line says {whole.n_frames // 2} but the file holds {whole.n_frames}" in w
               for w in take.provenance.warnings)


@pytest.mark.parametrize("ext", ["npz", "csv"])
def test_poses_in_millimetres_are_refused_naming_the_unit_and_read_with_units(tmp_path: Path, ext: str) -> None:
    """A Human3.6M-style file of 3D poses in mm: the body check saw 345 m femurs and said "pass
    --force-read", which would read them so; it now names `--units mm`, which NPZ and CSV accept."""
    walk = io.read(Path(__file__).parent / "data" / "vendors" / "dme__blender_rendering_example.bvh")
    mm = Take(positions=(walk.positions * 1000).astype(np.float32), fps=walk.fps)
    if ext == "npz":
        np.savez(tmp_path / "mm.npz", poses=mm.positions, fps=np.float32(walk.fps))
    else:
        io.write(mm, tmp_path / "mm.csv")
    with pytest.raises(InputError, match=r"read as metres; pass units mm if it is in mm"):
        io.read(tmp_path / f"mm.{ext}")
    back = io.read(tmp_path / f"mm.{ext}", units="mm")
    assert back.provenance.units == "mm"
    np.testing.assert_allclose(back.positions, walk.positions, atol=1e-5)
    keypoints = Take(positions=np.zeros((3, 17, 2), np.float32) + 100)
    io.write(keypoints, tmp_path / f"kp.{ext}")
    with pytest.raises(InputError, match="2D keypoints, which are in pixels"):
        io.read(tmp_path / f"kp.{ext}", units="mm")


def test_a_csv_saved_by_a_european_spreadsheet_reads_the_same(tmp_path: Path) -> None:
    """Excel in a European locale saves the CSV schema with semicolons between cells and decimal commas; it was
    refused as "missing columns Pelvis_x ..."."""
    walk = io.read(Path(__file__).parent / "data" / "vendors" / "dme__blender_rendering_example.bvh")
    io.write(Take(positions=walk.positions[:30], fps=30.0), tmp_path / "walk.csv")
    text = (tmp_path / "walk.csv").read_text()
    (tmp_path / "eu.csv").write_text(text.replace(",", ";").replace(".", ","))
    np.testing.assert_array_equal(io.read(tmp_path / "eu.csv").positions, io.read(tmp_path / "walk.csv").positions)


def _hdm05_mm_take() -> tuple[str, str]:
    """HDM05 actor mm's ASF and the first of their AMC takes, as text."""
    import tarfile

    with tarfile.open(DATA / "hdm05-amc.tar.xz") as tar:
        asf = amc = None
        for m in tar:
            if m.name.endswith("HDM_mm.asf"):
                asf = tar.extractfile(m).read().decode("latin-1")
            if "/mm/" in m.name and m.name.endswith(".amc") and amc is None:
                amc = tar.extractfile(m).read().decode("latin-1")
            if asf and amc:
                return asf, amc
    raise AssertionError("HDM05 mm's ASF and an AMC take are in the archive")


@needs_data
def test_amc_frames_its_numbers_skip_stay_empty_in_their_place() -> None:
    """An AMC whose frame numbers skip (frames 50, 51 and 90 of 241 dropped by a converter) was read as 238
    frames in a row: every frame after the gap played early, in silence. The frames keep their places, the
    dropped ones empty, and it is said; numbers that go back are refused naming them."""
    asf, amc = _hdm05_mm_take()
    whole = io.read_amc(Path("a.amc"), Path("a.asf"), asf_text=asf, amc_text=amc)
    kept, skip = [], False
    for line in amc.splitlines():
        if line.strip().isdigit():
            skip = int(line) in (50, 51, 90)
        if not skip:
            kept.append(line)
    take = io.read_amc(Path("a.amc"), Path("a.asf"), asf_text=asf, amc_text="\n".join(kept))
    assert take.n_frames == whole.n_frames and take.provenance.first_frame == 1
    gone = np.zeros(whole.n_frames, bool)
    gone[[49, 50, 89]] = True
    assert not take.mask[gone].any() and take.mask[~gone].all()
    np.testing.assert_array_equal(take.positions[~gone], whole.positions[~gone])
    assert any("frame numbers skip 50-51, 90 (3 frames in all)" in w for w in take.provenance.warnings)
    swapped = amc.replace("\n10\n", "\n#\n", 1).replace("\n11\n", "\n10\n", 1).replace("\n#\n", "\n11\n", 1)
    with pytest.raises(InputError, match="frame numbers go from 11 to 10: frames repeated or out of order"):
        io.read_amc(Path("a.amc"), Path("a.asf"), asf_text=asf, amc_text=swapped)


@needs_data
@pytest.mark.parametrize("where", ["asf and amc", "asf only", "amc only"])
def test_asf_amc_in_radians_read_as_the_same_motion(where: str) -> None:
    """Acclaim files may give angles in radians (`:units angle rad` in the ASF, `:RADIANS` in the
    AMC); read as degrees they would be a body that barely moves."""
    import re

    from gfpose_cli.io import amc as amc_io

    asf, amc = _hdm05_mm_take()
    skel = amc_io.parse_asf(asf)
    rad_asf = asf
    if where != "amc only":
        assert re.search(r"angle\s+deg", asf)
        rad_asf = re.sub(r"angle\s+deg", "angle rad", asf)
        num = r"(-?[0-9.]+(?:e[-+]?[0-9]+)?)"
        rad_asf = re.sub(rf"^(\s*axis)\s+{num}\s+{num}\s+{num}", lambda m: m.group(1) + "".join(
            f" {float(np.deg2rad(float(v)))!r}" for v in m.group(2, 3, 4)), rad_asf, flags=re.M)
    lines = []
    for line in amc.splitlines():
        words = line.split()
        if line.strip().upper() == ":DEGREES":
            line = ":RADIANS" if where != "asf only" else None
        elif words and not words[0].isdigit() and not line.startswith(("#", ":")):
            dofs = skel.root_order if words[0] == "root" else skel.bones[words[0]].dof
            line = " ".join([words[0], *(repr(float(np.deg2rad(float(v)))) if d.lower() in ("rx", "ry", "rz") else v
                                         for d, v in zip(dofs, words[1:]))])
        if line is not None:
            lines.append(line)
    if where == "amc only":
        assert ":RADIANS" in lines
    want = io.read_amc(Path("a.amc"), Path("a.asf"), asf_text=asf, amc_text=amc)
    got = io.read_amc(Path("a.amc"), Path("a.asf"), asf_text=rad_asf, amc_text="\n".join(lines))
    np.testing.assert_allclose(got.positions, want.positions, atol=1e-5)

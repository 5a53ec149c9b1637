"""Markers off the body for a while: a label the capture program put on a ghost, a stray reflection or
another marker for a stretch of frames.

The real Vicon Plug-in Gait trial of tests/data/vendors with one marker's samples moved off the body for a
stretch, as a labeller leaves them. Before, every reader took them as data: the knee joint 250 mm off the
leg for half a second, with no word, and `denoise` wrote the ghost on as the knee marker.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gfpose_cli import io
from gfpose_cli.core.skeleton import JOINTS
from gfpose_cli.io.c3d import left_the_body, open_c3d

from .test_cli import run
from .test_swaps import TRIAL, VENDORS, points

LKNEE, LWRIST = JOINTS.index("LKnee"), JOINTS.index("LWrist")


def trial_with(path: Path, name: str, start: int, stop: int, *, offset_mm=None, onto: str | None = None) -> list[str]:
    """The trial rewritten by ezc3d with marker name's samples in frames [start, stop) moved by offset_mm,
    or replaced by marker onto's (its label on another marker); returns the labels."""
    c = open_c3d(TRIAL)
    labels = [str(x) for x in c["parameters"]["POINT"]["LABELS"]["value"]]
    pts = np.array(c["data"]["points"])
    i = labels.index(name)
    if onto is not None:
        pts[:, i, start:stop] = pts[:, labels.index(onto), start:stop]
    if offset_mm is not None:
        pts[:3, i, start:stop] += np.asarray(offset_mm, dtype=float)[:, None]
    out = open_c3d(TRIAL)
    del out["data"]["meta_points"]
    out["data"]["points"] = pts
    out.write(str(path))
    return labels


def test_a_marker_on_a_ghost_for_a_while_is_held_said_and_left_as_it_was(tmp_path: Path, capsys) -> None:
    trial_with(tmp_path / "clean.c3d", "LKNE", 0, 0)
    labels = trial_with(tmp_path / "ghost.c3d", "LKNE", 100, 160, offset_mm=(250, 0, 0))
    take, ref = io.read(tmp_path / "ghost.c3d"), io.read(tmp_path / "clean.c3d")
    first = take.provenance.first_frame
    said = " ".join(take.provenance.warnings)
    assert "markers off the body for a while" in said and f"LKNE in frames {first + 100}-{first + 159}" in said
    assert not any("off the body" in w for w in ref.provenance.warnings)
    # the knee is not read off the ghost: missing there, every other joint and frame as the clean take's
    assert not take.mask[100:160, LKNEE].any() and ref.mask[100:160, LKNEE].all()
    keep = take.mask
    np.testing.assert_array_equal(take.positions[keep], ref.positions[keep])
    assert keep.sum() >= ref.mask.sum() - 60 * 3  # the knee, and at most the joints built from it
    # denoise leaves the ghost samples exactly as they were and says so; complete fills the knee
    i = labels.index("LKNE")
    code, out, err = run(["denoise", str(tmp_path / "ghost.c3d"), "-o", str(tmp_path / "ghost.den.c3d")], capsys)
    assert code == 0 and "60 samples held (labels not told, or off the body) left as they were" in out + err
    np.testing.assert_array_equal(points(tmp_path / "ghost.den.c3d")[:, i, 100:160], points(tmp_path / "ghost.c3d")[:, i, 100:160])
    assert run(["complete", str(tmp_path / "ghost.c3d"), "-o", str(tmp_path / "ghost.npz")], capsys)[0] == 0
    done = io.read(tmp_path / "ghost.npz")
    assert done.mask[:, LKNEE].all()
    knee = np.linalg.norm(done.positions[100:160, LKNEE] - ref.positions[100:160, LKNEE], axis=-1)
    assert np.median(knee) < 0.1  # filled near the leg, not at the ghost 250 mm off


def test_a_label_on_another_marker_is_held(tmp_path: Path) -> None:
    # LWRA's label on the elbow marker for 50 frames (0.4 s): the wrist joint is not built from it
    trial_with(tmp_path / "onto.c3d", "LWRA", 50, 100, onto="LELB")
    take = io.read(tmp_path / "onto.c3d")
    first = take.provenance.first_frame
    assert f"LWRA in frames {first + 50}-{first + 99}" in " ".join(take.provenance.warnings)
    assert not take.mask[50:100, LWRIST].any() and take.mask[:50, LWRIST].all() and take.mask[100:, LWRIST].all()


def test_a_ghost_that_stays_where_it_was_is_held(tmp_path: Path) -> None:
    # the label LPSI on a point 150 mm off the pelvis that stays put while the body walks on (a stray
    # reflection) for a third of a second: its jump back does not undo its jump away and no bone of the
    # hips shows it (the hips are placed from all four pelvic markers), but it leaves its companions
    c = open_c3d(TRIAL)
    labels = [str(x) for x in c["parameters"]["POINT"]["LABELS"]["value"]]
    pts = np.array(c["data"]["points"])
    i = labels.index("LPSI")
    pts[:3, i, 200:240] = pts[:3, i, 200:201] + np.array([150.0, 0.0, 0.0])[:, None]
    del c["data"]["meta_points"]
    c["data"]["points"] = pts
    c.write(str(tmp_path / "stray.c3d"))
    take = io.read(tmp_path / "stray.c3d")
    first = take.provenance.first_frame
    assert f"LPSI in frames {first + 200}-{first + 239}" in " ".join(take.provenance.warnings)
    assert take.writeback.held[200:240, take.writeback.names.index("LPSI")].all()
    assert take.writeback.held.sum() == 40


def test_a_jump_that_stays_to_the_end_is_held_on_both_sides(tmp_path: Path) -> None:
    # the knee marker jumps 220 mm at frame 100 and stays off to the end (two thirds of the take): which
    # side is the marker nothing tells; it makes no knee anywhere, said
    trial_with(tmp_path / "stays.c3d", "LKNE", 100, 10_000, offset_mm=(200, 100, 0))
    take = io.read(tmp_path / "stays.c3d")
    said = " ".join(take.provenance.warnings)
    assert "nothing tells which side of the jump is the marker: LKNE" in said
    assert not take.mask[:, LKNEE].any() and "LKnee missing in every frame" in said


@pytest.mark.parametrize("name, start, offset_mm", [
    ("CLAV", 62, (120, 130, 60)),  # over 4/5 of the take: the thorax's bones' usual lengths are the ghost's
    ("LFHD", 164, (80, -90, 70)),  # half the take: no bone of the head's shows it
])
def test_a_jump_that_stays_over_much_of_the_take_never_builds_a_joint_off_the_body(tmp_path: Path, name, start,
                                                                                     offset_mm) -> None:
    # one jump splits the marker's run in two. Before, the side the take's median bone length called off was
    # held (the real marker, where the ghost is the longer side) and the ghost read as the thorax for 261
    # frames; or, where no bone showed it, the ghost was read with no word. Now, where the side a bone calls
    # off is not a clear minority or no bone tells, a wide jump that leaves the marker's rigid companions
    # holds both sides, said: no joint is read off the body
    trial_with(tmp_path / "clean.c3d", name, 0, 0)
    trial_with(tmp_path / "stays.c3d", name, start, 10_000, offset_mm=offset_mm)
    take, ref = io.read(tmp_path / "stays.c3d"), io.read(tmp_path / "clean.c3d")
    assert any(f"{name} in frames" in w and "jump off" in w for w in take.provenance.warnings)
    both = take.mask & ref.mask
    assert (np.linalg.norm(take.positions - ref.positions, axis=-1)[both] < 0.03).all()
    held = take.writeback.held[:, take.writeback.names.index(name)]
    assert held[start - 5] and held[start + 5] and held[-5]  # both sides of the jump


def test_no_real_take_has_a_marker_it_holds_off_the_body_but_its_real_glitches() -> None:
    # every real C3D of the vendors' set and the fixtures the reader opens, at its rate and at a half, a
    # quarter and an eighth of it (faster motion between frames): no marker held off the body. The tennis
    # serve is left out: its real glitch is held (below), and at half its rate two of its fastest elbow
    # frames too (false alarms, bench/results/offbody.md)
    from gfpose_cli.core.errors import InputError

    from .conftest import FIXTURES

    looked = 0
    for path in sorted(VENDORS.glob("*.c3d")) + sorted(FIXTURES.glob("*.c3d")):
        if path.name == "ktk_tennis_serve_nan.c3d":
            continue
        try:
            take = io.read(path)
        except InputError:  # the files refused for what they are (tests/test_vendors.py)
            continue
        assert not any("off the body" in w for w in take.provenance.warnings), path.name
        back = take.writeback
        _, xyz, seen = io.marker_trajectories(path, subject=back.subject)
        for k in (2, 4, 8):
            poses, mask = back.skeleton_map.apply(back.names, xyz[::k], seen[::k])
            held, said = left_the_body(path, back.skeleton_map, back.names, poses, mask, xyz[::k], seen[::k])
            assert not held.any() and not said, (path.name, k)
        looked += 1
    assert looked >= 25


def test_a_real_label_on_another_marker_for_one_frame_is_held() -> None:
    # the real tennis serve: in file frame 401 the label LWRA sits on the LWRB marker (1 mm from it; 93-95
    # mm in the frames around), a labeller's slip: the left wrist is not read from it there, and only there
    from .conftest import FIXTURES

    path = FIXTURES / "ktk_tennis_serve_nan.c3d"
    take = io.read(path)
    said = [w for w in take.provenance.warnings if "off the body" in w]
    assert len(said) == 1 and "Derrick:LWRA in frames 401-401" in said[0] and said[0].count(" in frames ") == 1
    names, xyz, seen = io.marker_trajectories(path, subject="Derrick")
    lwra, lwrb = names.index("Derrick:LWRA"), names.index("Derrick:LWRB")
    f = 401 - take.provenance.first_frame
    assert np.linalg.norm(xyz[f, lwra] - xyz[f, lwrb]) < 0.005 < 0.08 < np.linalg.norm(xyz[f + 1, lwra] - xyz[f + 1, lwrb])
    assert take.writeback.held[f, lwra] and take.writeback.held.sum() == 1


def test_a_damaged_sample_far_off_the_earth_is_refused_naming_frame_and_marker(tmp_path: Path, capsys) -> None:
    # one valid LKNE sample 1e19 mm off (a damaged number, as a bit flip leaves): before, it was held as a
    # marker off the body ("it jumped 10000000000000000000 mm") and the take read; every other reader
    # refuses a coordinate past a million metres, naming frame and joint: the C3D reader now does the same
    # for the markers its map reads, naming the marker
    trial_with(tmp_path / "damaged.c3d", "LKNE", 100, 101, offset_mm=(1e19, 0, 0))
    first = io.read(TRIAL).provenance.first_frame
    code, out, err = run(["convert", str(tmp_path / "damaged.c3d"), "-o", str(tmp_path / "out.npz")], capsys)
    assert code == 2 and not (tmp_path / "out.npz").exists()
    assert f"frame {first + 100}, marker LKNE: coordinate 1e+16 m is out of range" in err
    assert len(err.strip().splitlines()) == 1


def test_a_take_whose_data_shifts_is_refused_and_a_body_that_moves_as_one_is_read(tmp_path: Path, capsys) -> None:
    # from frame 150 on, every marker's samples are its neighbour column's (bytes lost in the file: the
    # channels misaligned). Before, each marker was looked at alone: 18 were held on both sides of their
    # jump (15 joints missing in every frame) and the wrists read from other markers' data from frame 150 on,
    # the take written. Now the frame where most markers jump and the bones break is named, the take refused
    c = open_c3d(TRIAL)
    pts = np.array(c["data"]["points"])
    shifted = pts.copy()
    shifted[:, :, 150:] = np.roll(pts[:, :, 150:], 1, axis=1)
    for name, data in (("shifted", shifted), ("moved", pts + np.where(np.arange(pts.shape[2]) >= 150, 1, 0)
                                               * np.array([2000.0, 500.0, 0.0, 0.0])[:, None, None])):
        out = open_c3d(TRIAL)
        del out["data"]["meta_points"]
        out["data"]["points"] = data
        out.write(str(tmp_path / f"{name}.c3d"))
    first = io.read(TRIAL).provenance.first_frame
    code, _, err = run(["convert", str(tmp_path / "shifted.c3d"), "-o", str(tmp_path / "shifted.npz")], capsys)
    assert code == 2 and not (tmp_path / "shifted.npz").exists() and len(err.strip().splitlines()) == 1
    assert f"at frame {first + 150} " in err and "jump at once and the body's bones break" in err
    assert "pass --force-read to read it anyway" in err
    # read anyway where the user says so: marker by marker, as before, with the finding as a warning
    anyway = io.read(tmp_path / "shifted.c3d", force_read=True)
    assert anyway.n_frames == pts.shape[2]
    assert any(w.startswith(f"{tmp_path / 'shifted.c3d'}: read anyway ({{force_read}}): at frame {first + 150} ")
               for w in anyway.provenance.warnings)
    # two takes joined with the performer 2 m away in the second (the body moves as one, its bones whole):
    # read, no marker held, every joint the clean take's moved by the same 2 m
    moved, ref = io.read(tmp_path / "moved.c3d"), io.read(TRIAL)
    assert not moved.writeback.held.any()
    np.testing.assert_array_equal(moved.mask, ref.mask)
    d = moved.positions - ref.positions
    both = ref.mask
    np.testing.assert_allclose(d[:150][both[:150]], 0.0, atol=1e-6)
    shift = np.median(d[150:][both[150:]], axis=0)
    assert np.linalg.norm(shift) > 2.0
    np.testing.assert_allclose(d[150:][both[150:]], np.broadcast_to(shift, d[150:][both[150:]].shape), atol=1e-4)
    # denoise smooths each side alone: smoothed across, the body was drawn through the air between the two
    # places (joints up to 0.87 m off in the frames around 150, written back as marker moves)
    code, out, err = run(["denoise", str(tmp_path / "moved.c3d"), "-o", str(tmp_path / "moved.den.c3d")], capsys)
    assert code == 0 and f"not across frame {first + 150} (the whole body jumps there" in out + err
    den = io.read(tmp_path / "moved.den.c3d")
    both = den.mask & moved.mask
    assert (np.linalg.norm(den.positions - moved.positions, axis=-1)[both] < 0.03).all()


@pytest.mark.parametrize("name, offset_mm", [("RANK", (100, 100, 0)), ("LELB", (80, 0, 80))])
def test_a_label_that_comes_back_from_a_gap_on_a_ghost_and_leaves_in_another_is_held(tmp_path: Path, name,
                                                                                       offset_mm) -> None:
    # the marker out of sight for 10 frames, back on a ghost 110-140 mm off for 40 frames, out of sight again:
    # no jump marks the stretch (both ends are gaps). Before, it was read with no word, the joint off the
    # body in those 40 frames; now the bone of its joint that strays there by 12 % holds it, said
    c = open_c3d(TRIAL)
    labels = [str(x) for x in c["parameters"]["POINT"]["LABELS"]["value"]]
    pts = np.array(c["data"]["points"])
    i = labels.index(name)
    for a, b in ((100, 110), (150, 160)):
        pts[:3, i, a:b], pts[3, i, a:b] = np.nan, -1
    pts[:3, i, 110:150] += np.asarray(offset_mm, dtype=float)[:, None]
    del c["data"]["meta_points"]
    c["data"]["points"] = pts
    c.write(str(tmp_path / "ghost.c3d"))
    take, ref = io.read(tmp_path / "ghost.c3d"), io.read(TRIAL)
    first = take.provenance.first_frame
    both = take.mask & ref.mask
    assert (np.linalg.norm(take.positions - ref.positions, axis=-1)[both] < 0.03).all()
    said = " ".join(take.provenance.warnings)
    assert f"{name} in frames {first + 110}-{first + 149} (between two of its gaps" in said
    assert take.writeback.held[110:150, take.writeback.names.index(name)].all()

"""Skeleton maps learned from the markers' own motion (issue 23, item 3): functional joint centres
(kinematics.functional), the body read from the segment tree (io.maps.learn), maps of rigid points
(io.maps), and the CLI (`gfpose maps FILE --learn`, `--map learn`, and the default's last resort).

Real files: the c3d.org sample02 take (tests/data/vendors, a full-body set of three-marker
clusters, no names any preset knows, in three encodings), the ISB landmark walk of the Rehazenter
data set (markers near the joints: nothing can be learned, so it must be refused), and real BVH
takes carrying three-marker plates on their bones, whose joints are the truth."""
from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from gfpose_cli import io
from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import JOINTS
from gfpose_cli.io import bvh as bvh_io
from gfpose_cli.io.maps import _parse, auto_map, load_map
from gfpose_cli.io.maps.learn import learned_map, map_toml
from gfpose_cli.kinematics import functional as fn

from .conftest import FIXTURES, needs_fixtures
from .test_writeback import run

VENDORS = Path(__file__).parent / "data" / "vendors"
CLUSTERS = VENDORS / "btk__pc_real.c3d"


def two_segments(rng: np.random.Generator, frames: int = 400, noise: float = 0.001):
    """Segment a (four markers) and b (three) turning about a joint fixed at ja in a and jb in b."""
    Ra = Rotation.from_rotvec(rng.normal(0, 0.3, (frames, 3))).as_matrix()
    ta = np.cumsum(rng.normal(0, 0.01, (frames, 3)), 0)
    ja, jb = np.array([0.0, 0.0, -0.4]), np.array([0.0, 0.0, 0.35])
    s = np.linspace(0, 8, frames)
    rel = Rotation.from_rotvec(np.c_[np.sin(s), 0.4 * np.cos(1.3 * s), 0.3 * np.sin(2.1 * s)]).as_matrix()
    Rb = Ra @ rel
    tb = np.einsum("fij,j->fi", Ra, ja) + ta - np.einsum("fij,j->fi", Rb, jb)
    ma, mb = rng.normal(0, 0.08, (4, 3)), rng.normal(0, 0.08, (3, 3)) + jb * 0.0
    pa = np.einsum("fij,kj->fki", Ra, ma) + ta[:, None] + rng.normal(0, noise, (frames, 4, 3))
    pb = np.einsum("fij,kj->fki", Rb, mb) + tb[:, None] + rng.normal(0, noise, (frames, 3, 3))
    truth = np.einsum("fij,j->fi", Ra, ja) + ta
    return pa, pb, truth


def test_score_finds_the_point_two_segments_turn_about() -> None:
    rng = np.random.default_rng(1)
    pa, pb, truth = two_segments(rng)
    xyz = np.concatenate([pa, pb], axis=1)
    seen = np.ones(xyz.shape[:2], dtype=bool)
    assert fn.rigid_clusters(xyz, seen) == [[0, 1, 2, 3], [4, 5, 6]]
    A = fn.kabsch(fn.reference_layout(pa, seen[:, :4]), pa, seen[:, :4])
    B = fn.kabsch(fn.reference_layout(pb, seen[:, 4:]), pb, seen[:, 4:])
    mid = 0.5 * (pa.mean(1) + pb.mean(1))  # the weak pull (a hinge's free axis) is toward the clusters' midpoint
    prior_a = np.einsum("fji,fj->fi", A[0], mid - A[1]).mean(0)
    prior_b = np.einsum("fji,fj->fi", B[0], mid - B[1]).mean(0)
    ca, cb, misfit = fn.score_centre(*A[:2], *B[:2], A[2] & B[2], prior_a, prior_b)
    found = np.einsum("fij,j->fi", A[0], ca) + A[1]
    # 1 mm of marker noise, 8 cm clusters, a joint 40 cm away: about 7 mm per frame (and a 6 mm
    # least-squares bias from noisy poses); without noise the point is exact
    assert np.linalg.norm(found - truth, axis=-1).mean() < 0.01 and misfit < 0.015
    pa0, pb0, truth0 = two_segments(np.random.default_rng(1), noise=0.0)
    A0 = fn.kabsch(fn.reference_layout(pa0, seen[:, :4]), pa0, seen[:, :4])
    B0 = fn.kabsch(fn.reference_layout(pb0, seen[:, 4:]), pb0, seen[:, 4:])
    ca0, _, misfit0 = fn.score_centre(*A0[:2], *B0[:2], A0[2] & B0[2], prior_a, prior_b, ridge=1e-6)
    assert np.abs(np.einsum("fij,j->fi", A0[0], ca0) + A0[1] - truth0).max() < 1e-4 and misfit0 < 1e-4
    # a pose needs three markers seen: with two, the frame has none (never a guess)
    ref = fn.reference_layout(pa, seen[:, :4])
    seen[::3, :2] = False
    R, t, valid = fn.kabsch(ref, pa, seen[:, :4])
    assert not valid[::3].any() and valid[1::3].all()


def test_a_cluster_set_no_preset_knows_is_read_by_its_motion(tmp_path: Path, capsys) -> None:
    """sample02 (RFT/RSK/RTH/RPV/RTA/RAR/RFA clusters): the default read learns the map, says so, and
    finds each body part where the file's own labels (which it never reads) put it."""
    take = io.read(CLUSTERS)
    assert take.provenance.map == "learned"
    assert any("learned from the markers' motion" in w for w in take.provenance.warnings)
    smap = take.writeback.skeleton_map
    segment_of = {joint: {rp.segment for rp in smap.rigid[joint]} for joint in smap.rigid}
    markers_of = {rp.segment: {n[:2] for n, _ in rp.markers} for j in smap.rigid for rp in smap.rigid[j]}
    assert markers_of["R thigh"] == {"RT"} and markers_of["L thigh"] == {"LT"}  # RTH1-3 is the right thigh
    assert markers_of["R upper arm"] == {"RA"} and markers_of["L forearm"] == {"LF"}
    assert segment_of["RKnee"] == {"R thigh", "R shank"} and segment_of["LElbow"] == {"L upper arm", "L forearm"}
    missing = {j for j in JOINTS if not take.mask[:, JOINTS.index(j)].any()}
    assert missing == {"Neck", "Head", "LWrist", "RWrist"}  # no head or hand clusters
    from gfpose_cli.io.sanity import body_report

    lengths = body_report(take.positions.astype(np.float64), take.mask)["lengths"]
    for bone in ("right femur", "left femur", "right tibia", "left tibia"):
        assert 0.35 < lengths[bone] < 0.5, (bone, lengths[bone])
    assert abs(lengths["right femur"] - lengths["left femur"]) < 0.03


def test_maps_learn_writes_a_map_the_lab_reuses_on_its_other_takes(tmp_path: Path, capsys) -> None:
    out = tmp_path / "lab.toml"
    assert run(["maps", str(CLUSTERS), "--learn", "-o", str(out)]) == 0
    assert "13 joints found; not found: Neck, Head, LWrist, RWrist" in capsys.readouterr().err.replace("\n", " ")
    smap = load_map(out)
    assert smap.name == "btk__pc_real-learned" and set(smap.rigid) == set(JOINTS) - {"Neck", "Head", "LWrist", "RWrist"}
    # the same take stored as DEC integers: the map reads it as the learner did
    again = io.read(VENDORS / "btk__DEC_INT.c3d", skeleton_map=str(out))
    learned = io.read(VENDORS / "btk__DEC_INT.c3d")
    np.testing.assert_allclose(np.nan_to_num(again.positions), np.nan_to_num(learned.positions), atol=0.002)
    assert run(["maps", str(CLUSTERS), "--learn", "-o", str(out)]) == 2  # no overwrite without --force
    # `gfpose maps FILE --map` shows where each joint comes from
    assert run(["maps", str(VENDORS / "btk__DEC_INT.c3d"), "--map", str(out)]) == 0
    assert "rigid in R thigh" in capsys.readouterr().out


def test_markers_near_the_joints_of_a_walk_are_refused_not_guessed(capsys) -> None:
    """The Rehazenter ISB landmarks (epicondyles, malleoli: markers on the joint axes) in a walk: no
    rigid clusters turn about a fixed point, so no body is learned; the preset reads it by name."""
    with pytest.raises(InputError, match="no pelvis with two legs"):
        io.read(VENDORS / "ammr__2014001_C1_01.c3d", skeleton_map="learn")
    assert io.read(VENDORS / "ammr__2014001_C1_01.c3d").provenance.map == "isb-cast"
    # unlabelled points whose motion shows no body: both reasons in one refusal
    assert run(["convert", str(VENDORS / "btk__Dance.c3d"), "-o", "x.npz"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "unlabelled" in err and "A map learned from the markers' motion failed too" in err


LEG_JOINTS = ("RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle")


def _take(path: Path) -> tuple[np.ndarray, np.ndarray, dict[str, int], int, Callable[[int], np.ndarray]]:
    """A BVH take's joint positions (metres) and rotations, its legs' joints (the rig preset's), its
    root, and along(k): the mean offset (metres) from joint k to its children, along its bone."""
    skel = bvh_io.read_skeleton(path)
    pos, rot = bvh_io.forward_kinematics(skel, with_rotations=True)
    scale = io.read(path).provenance.units_to_m
    smap = auto_map(skel.names, str(path), kind="rig")
    joint = {j: skel.names.index(next(iter(smap.joints[j]))) for j in LEG_JOINTS}

    def along(k: int) -> np.ndarray:
        return np.mean([skel.offsets[c] for c in range(len(skel.names)) if skel.parents[c] == k], axis=0) * scale
    return pos * scale, rot, joint, int(np.flatnonzero(skel.parents < 0)[0]), along


def _laid(pos: np.ndarray, rot: np.ndarray, segments: list[tuple[list[str], int, list[np.ndarray]]],
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Markers (names, offsets in bone k's frame) riding bones: 5 mm of soft tissue moves each
    segment's markers as one, 1 mm of noise each marker. (F, N, 3) and seen."""
    F = len(pos)
    xyz = []
    for _, k, offsets in segments:
        wobble = 0.005 * np.sin(np.linspace(0, F / 20, F)[:, None] + rng.uniform(0, 6, 3)) * rng.normal(0, 0.6, 3)
        xyz += [pos[:, k] + np.einsum("fij,j->fi", rot[:, k], local) + wobble + rng.normal(0, 0.001, (F, 3)) for local in offsets]
    xyz = np.stack(xyz, 1)
    return xyz, np.ones(xyz.shape[:2], dtype=bool)


def plated(path: Path, seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray, dict]:
    """A real BVH take with a plate of three markers (named P1..Pn) on the pelvis and on each leg
    bone; and the true hips, knees and ankles (the BVH joints the rig's preset reads)."""
    rng = np.random.default_rng(seed)
    pos, rot, joint, root, along = _take(path)
    segments = [([f"P{3 * i + m + 1}" for m in range(3)], k, [0.5 * along(k) + rng.normal(0, 0.05, 3) for _ in range(3)])
                for i, k in enumerate([root, *joint.values()])]
    xyz, seen = _laid(pos, rot, segments, rng)
    return [n for names, _, _ in segments for n in names], xyz, seen, {j: pos[:, k] for j, k in joint.items()}


@pytest.mark.parametrize("name", ["pymo__AV_8Walk_Meredith_HVHA_Rep1.bvh", "bvhpy__test_mocapbank.bvh"])
def test_plates_on_a_real_take_give_its_hips_knees_and_ankles(name: str) -> None:
    """The setting functional methods are made for: the learned centres within 30 mm of the rig's
    joints (median over frames), left and right told apart, and the map written and read back."""
    names, xyz, seen, truth = plated(VENDORS / name)
    smap, body = learned_map(names, xyz, seen, name)
    again = _parse(tomllib.loads(map_toml(smap, body, names)), "again")
    out, mask = again.apply(names, xyz, seen)
    for joint, where in truth.items():
        j = JOINTS.index(joint)
        assert mask[:, j].mean() > 0.9, joint
        err = np.median(np.linalg.norm(out[mask[:, j], j] - where[mask[:, j]], axis=-1))
        assert err < 0.03, (joint, err)


def test_a_rigid_map_entry_that_is_not_one_is_refused_with_its_joint() -> None:
    text = "name = 'x'\n[joints]\n" + "\n".join(f'{j} = ""' for j in JOINTS if j != "RKnee")
    with pytest.raises(InputError, match=r"joint RKnee: each rigid point needs markers \(three or more\)"):
        _parse(tomllib.loads(text + '\nRKnee = {rigid = [{markers = {A = [0, 0, 0]}, at = [0, 0, 0]}]}\n'), "x")
    with pytest.raises(InputError, match=r"joint RKnee: a rigid point needs \[x, y, z\]"):
        _parse(tomllib.loads(text + '\nRKnee = {rigid = [{markers = {A = [0, 0, 0], B = [1, 0, 0], C = [0, 1, 0]}, '
                                    'at = [0, 0]}]}\n'), "x")
    # a map that leaves joints out ("") loads as a partial map: those joints are missing
    smap = _parse(tomllib.loads(text + '\nRKnee = "RKNE"\n'), "x")
    assert smap.partial and smap.absent(["RKNE"]) == {j: [] for j in JOINTS if j != "RKnee"}


def test_a_numbered_cluster_whose_skin_wobbles_is_still_one_segment() -> None:
    """c3d.org sample01 (RTH1-4, RSK1-4, RFT1-3, PV1-3/pv4 on a slow walk): RSK1 wobbles 8.6 mm against
    RSK2, more than strangers may (5 mm), but the lab numbered them as one plate; merged by their stem,
    the legs are found, each part where the file's own labels (never read as names) put it."""
    take = io.read(VENDORS / "btk__Eb015pi.c3d")
    smap = take.writeback.skeleton_map
    assert take.provenance.map == "learned"
    markers_of = {rp.segment: {n.rstrip("0123456789").upper() for n, _ in rp.markers}
                  for j in smap.rigid for rp in smap.rigid[j]}
    assert markers_of["R shank"] == {"RSK"} and markers_of["L thigh"] == {"LTH"} and markers_of["pelvis"] == {"PV"}
    assert len(next(rp for rp in smap.rigid["RKnee"] if rp.segment == "R shank").markers) == 4
    from gfpose_cli.io.sanity import body_report

    lengths = body_report(take.positions.astype(np.float64), take.mask)["lengths"]
    assert all(0.3 < lengths[b] < 0.45 for b in ("right femur", "left femur", "right tibia", "left tibia"))


def test_segment_words_in_labels_give_segments_and_sides() -> None:
    """Motive's numbered skeleton markers and its Baseline set's names: the segment and the side are
    read after the set's prefix; trunk parts take no side; a marker at a joint rides the bone above
    it (LKneeOut the thigh, LWristIn the forearm); a label naming no segment is left out."""
    from gfpose_cli.io.maps.named import is_segment_set, segments_by_name

    names = ["Skeleton_Hip1", "Skeleton_Hip2", "Skeleton_Hip3", "Skeleton_Chest1", "Skeleton_LUArm1",
             "Skeleton_RUArm2", "Skeleton_LThigh1", "Skeleton_LThigh2", "Skeleton_LShin1", "WaistLFront",
             "BackLeft", "LShoulderBack", "Skeleton_RFoot1", "LKneeOut", "Skeleton_Head2", "LWristIn", "RASIS"]
    seg = segments_by_name(names)
    assert seg["pelvis"] == [0, 1, 2, 9] and seg["thorax"] == [3, 10] and seg["head"] == [14]
    assert seg["L upper arm"] == [4] and seg["R upper arm"] == [5] and seg["L thigh"] == [6, 7, 13]
    assert seg["L shank"] == [8] and seg["L clavicle"] == [11] and seg["R foot"] == [12] and seg["L forearm"] == [15]
    assert not any(16 in cols for cols in seg.values())  # RASIS names a landmark, not a segment
    assert is_segment_set(names) and not is_segment_set(names[3:])


BASELINE = {"Hip": ["WaistLFront", "WaistLBack", "WaistRFront", "WaistRBack"], "Thigh": ["Thigh", "KneeOut"],
            "Shin": ["Shin", "AnkleOut"], "Foot": ["ToeOut", "Heel"]}


def motive(path: Path, seed: int = 0, baseline: bool = False) -> tuple[list[str], np.ndarray, np.ndarray, dict]:
    """A real BVH take with OptiTrack Motive-style markers (Skeleton_Hip1..4 around the pelvis, two per
    thigh, shank and foot, numbered at random; or the Baseline set's names: WaistLFront, LThigh,
    LKneeOut, ...); and the true hips, knees and ankles."""
    rng = np.random.default_rng(seed)
    pos, rot, joint, root, along = _take(path)
    lat = rot[0, root].T @ (pos[0, joint["LHip"]] - pos[0, joint["RHip"]])
    lat /= np.linalg.norm(lat)
    up = rot[0, root].T @ (pos[0, root] - 0.5 * (pos[0, joint["LAnkle"]] + pos[0, joint["RAnkle"]]))
    up -= (up @ lat) * lat
    up /= np.linalg.norm(up)
    fwd = np.cross(up, lat)
    segments = [("Hip", root, [a * 0.14 * lat + b * 0.08 * fwd + 0.05 * up for a in (1, -1) for b in (1, -1)])]
    for side in "LR":
        for seg, j in (("Thigh", "Hip"), ("Shin", "Knee"), ("Foot", "Ankle")):
            k = joint[side + j]
            segments.append((side + seg, k, [along(k) * rng.uniform(0.3, 0.9) + rng.normal(0, 0.05, 3) for _ in range(2)]))
    if baseline:
        segments = [([("" if seg == "Hip" else seg[0]) + n for n in BASELINE[seg if seg == "Hip" else seg[1:]]], k, offsets)
                    for seg, k, offsets in segments]
    else:
        segments = [([f"Skeleton_{seg}{n}" for n in rng.permutation(len(offsets)) + 1], k, offsets)
                    for seg, k, offsets in segments]
    xyz, seen = _laid(pos, rot, segments, rng)
    return [n for names, _, _ in segments for n in names], xyz, seen, {j: pos[:, k] for j, k in joint.items()}


@pytest.mark.parametrize("baseline", [False, True], ids=["numbered", "baseline-names"])
@pytest.mark.parametrize("name", ["pymo__AV_8Walk_Meredith_HVHA_Rep1.bvh", "bvhpy__test_mocapbank.bvh"])
def test_two_markers_per_segment_named_by_segment_give_hips_and_knees(name: str, baseline: bool) -> None:
    """Motive's set: two markers per limb segment, too few for a segment's pose, named by segment, not
    landmark. The hips (in the pelvis's frame) and knees (in the frame of the thigh's two markers and
    the hip) come out within 30 mm of the rig's joints; the ankles, found from two toe markers over a
    walk's small ankle motion, are the weak joint (within 120 mm, at the limb's end, not the knee: bench/results/learned-maps.md D has
    the figures); the map written and read back places them as the learning did."""
    names, xyz, seen, truth = motive(VENDORS / name, baseline=baseline)
    smap, body = learned_map(names, xyz, seen, name)
    assert body.source == "labels"
    again = _parse(tomllib.loads(map_toml(smap, body, names)), "again")
    out, mask = again.apply(names, xyz, seen)
    first, _ = smap.apply(names, xyz, seen)
    for joint, where in truth.items():
        j = JOINTS.index(joint)
        assert mask[:, j].mean() > 0.9, joint
        err = np.median(np.linalg.norm(out[mask[:, j], j] - where[mask[:, j]], axis=-1))
        assert err < (0.12 if "Ankle" in joint else 0.03), (joint, err)
        assert np.allclose(out[mask[:, j], j], first[mask[:, j], j], atol=1e-4)


@needs_fixtures
def test_segment_markers_that_do_not_move_are_refused_with_the_reason() -> None:
    """The same set on a take whose legs stand still (a wave): the thighs do not turn, so no hip is
    guessed; the refusal says why."""
    names, xyz, seen, _ = motive(FIXTURES / "fair_wave_hello.bvh")
    with pytest.raises(InputError, match=r"gives no (hip|knee) centre \(.*does not turn enough"):
        learned_map(names, xyz, seen, "wave")


def test_motive_skeleton_markers_convert_with_every_joint(tmp_path: Path, capsys) -> None:
    """BTK's mocap36.c3d (OptiTrack Motive, Skeleton_Hip1..4, Skeleton_LThigh1..2, ...): all 17 joints,
    the user told how they were found, and a body of plausible proportions standing on the floor."""
    from gfpose_cli.io.sanity import body_report

    assert run(["convert", str(VENDORS / "btk__mocap36.c3d"), "-o", str(tmp_path / "m.npz")]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "its labels name 15 segments" in err and "joint centres were learned from the markers' motion" in err
    take = io.read(tmp_path / "m.npz")
    assert take.mask.any(0).all() and take.mask.mean() > 0.8
    report = body_report(take.positions.astype(np.float64), take.mask)
    assert 1.5 < report["height"] < 2.0, report
    lengths = report["lengths"]
    for a, b in (("left femur", "right femur"), ("left tibia", "right tibia")):
        assert 0.3 < lengths[a] < 0.5 and 0.3 < lengths[b] < 0.5
        assert max(lengths[a], lengths[b]) < 1.2 * min(lengths[a], lengths[b])
    hips = np.linalg.norm(take.positions[:, JOINTS.index("LHip")] - take.positions[:, JOINTS.index("RHip")], axis=-1)
    assert 0.12 < np.nanmedian(hips) < 0.25

"""Studio and lab marker sets under their own names: OptiTrack Motive Baseline, Qualisys Sports and
Animation, Motion Analysis Helen Hayes / OpenSim (dotted names), OptiTrack Biomech 57 (ISB names).

Each is written here from one real capture (the Vicon Plug-in Gait trial of tests/data/vendors): its
markers are renamed as the other set names the same landmark (LASI is Motive's WaistLFront, Qualisys's
Q_WaistLFront, Cortex's R.ASIS ...), so the joints a preset takes from the same landmarks must equal the
plug-in-gait preset's to the sample, and the ones it estimates (trunk, head) must land near them. Also
the map format's alternatives (`Joint = [first, then]`) and name prefixes the presets rely on.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io
from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import JOINTS
from gfpose_cli.io.maps import _parse, load_map

from .conftest import FIXTURES, needs_fixtures, occluded_c3d
from .test_writeback import run

ezc3d = pytest.importorskip("ezc3d")

TRIAL = Path(__file__).parent / "data" / "vendors" / "pycgm__Movement_trial.c3d"
J = {n: i for i, n in enumerate(JOINTS)}
#: joints every preset below takes from the same landmarks as plug-in-gait (exact), and the trunk and
#: head joints it places by estimate (near: a few cm, as the sets put no marker there)
SAME = ("Pelvis", "RHip", "LHip", "RKnee", "LKnee", "RAnkle", "LAnkle", "RShoulder", "LShoulder", "RElbow", "LElbow",
        "RWrist", "LWrist")


def _trial():
    c = ezc3d.c3d(str(TRIAL))
    labels = [str(n) for n in c["parameters"]["POINT"]["LABELS"]["value"]]
    pts = np.asarray(c["data"]["points"])
    valid = np.isfinite(pts[:3]).all(0) & (pts[3] >= 0) & ~(pts[:3] == 0).all(0)  # (N, F)
    return labels, pts[:3], valid, float(c["parameters"]["POINT"]["RATE"]["value"][0])


def write_renamed(path: Path, mapping: dict[str, object], prefix: str = "") -> None:
    """A C3D of the trial's markers under new names: new -> old label, a list of labels (their mean), or
    (label or list, (dx, dy, dz) mm) for a marker the trial does not have, placed off one it has."""
    labels, xyz, valid, rate = _trial()
    names, cols, seen = [], [], []
    for new, old in mapping.items():
        off = np.zeros(3)
        if isinstance(old, tuple):
            old, off = old[0], np.asarray(old[1], dtype=float)
        olds = old if isinstance(old, list) else [old]
        idx = [labels.index(o) for o in olds]
        names.append(prefix + new)
        cols.append(xyz[:, idx].mean(1) + off[:, None])
        seen.append(valid[idx].all(0))
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [rate]
    c["parameters"]["POINT"]["LABELS"]["value"] = names
    c["parameters"]["POINT"]["UNITS"]["value"] = ["mm"]
    data = np.ones((4, len(names), xyz.shape[-1]))
    data[:3] = np.stack(cols, 1)
    seen_a = np.stack(seen)
    data[:3, ~seen_a] = np.nan
    data[3, ~seen_a] = -1.0
    c["data"]["points"] = data
    c.write(str(path))


@pytest.fixture(scope="module")
def plug_in_gait():
    take = io.read(TRIAL)
    assert take.provenance.map == "plug-in-gait"
    return take


def _motive() -> dict[str, object]:
    m: dict[str, object] = {"WaistLFront": "LASI", "WaistRFront": "RASI", "WaistLBack": "LPSI", "WaistRBack": "RPSI",
                            "BackTop": "C7", "BackLeft": ("T10", (0, 60, 80)), "BackRight": "RBAK", "Chest": "CLAV",
                            "HeadTop": (["LFHD", "RFHD", "LBHD", "RBHD"], (0, 0, 90)), "HeadFront": ["LFHD", "RFHD"],
                            "HeadSide": ["RFHD", "RBHD"]}
    for s in "LR":
        m.update({f"{s}ShoulderTop": f"{s}SHO", f"{s}UArmHigh": f"{s}UPA", f"{s}ElbowOut": f"{s}ELB",
                  f"{s}WristOut": f"{s}WRA", f"{s}WristIn": f"{s}WRB", f"{s}HandOut": f"{s}FIN", f"{s}Thigh": f"{s}THI",
                  f"{s}KneeOut": f"{s}KNE", f"{s}AnkleOut": f"{s}ANK", f"{s}Heel": f"{s}HEE"})
    return m


#: the trial's Plug-in Gait markers (not its bone points, model outputs or unlabelled trajectories)
_PIG_MARKERS = ("LFHD", "RFHD", "LBHD", "RBHD", "C7", "T10", "CLAV", "STRN", "RBAK", "LSHO", "LELB", "LWRA", "LWRB",
                "RSHO", "RELB", "RWRA", "RWRB", "LASI", "RASI", "LPSI", "RPSI", "LKNE", "LANK", "RKNE", "RANK")


def _assert_like_plug_in_gait(take, pig, *, exact=SAME, near_mm: float = 60.0) -> None:
    assert take.n_frames == pig.n_frames
    for joint in JOINTS:
        j = J[joint]
        both = take.mask[:, j] & pig.mask[:, j]
        assert both.mean() > 0.9, joint
        d = np.linalg.norm(take.positions[both, j] - pig.positions[both, j], axis=-1)
        if joint in exact:
            assert d.max() < 1e-6, (joint, d.max())
        else:
            assert np.median(d) < near_mm / 1000, (joint, np.median(d))


def test_motive_baseline_with_an_actor_prefix(tmp_path, plug_in_gait):
    f = tmp_path / "take.c3d"
    write_renamed(f, _motive(), prefix="Skeleton_001:")
    take = io.read(f)
    assert take.provenance.map == "motive-baseline"
    _assert_like_plug_in_gait(take, plug_in_gait)
    # without the ulnar wrist marker the wrist is the radial one (the alternative), not refused
    m = _motive()
    del m["LWristIn"]
    write_renamed(f2 := tmp_path / "nowrist.c3d", m)
    take2 = io.read(f2)
    assert take2.provenance.map == "motive-baseline"
    labels, xyz, valid, _ = _trial()
    wra = xyz[:, labels.index("LWRA")].T / 1000.0
    lw = take2.positions[:, J["LWrist"]]
    ok = take2.mask[:, J["LWrist"]]
    assert not np.allclose(lw[ok], plug_in_gait.positions[ok, J["LWrist"]], atol=1e-3)
    # the same point as LWRA, in the take's canonical frame: its distance to the elbow is the marker's
    elb = xyz[:, labels.index("LELB")].T / 1000.0
    np.testing.assert_allclose(np.linalg.norm(lw[ok] - take2.positions[ok, J["LElbow"]], axis=-1),
                               np.linalg.norm(wra[ok] - elb[ok], axis=-1), atol=1e-6)


def test_qualisys_sports_uses_medial_markers_where_the_set_has_them(tmp_path, plug_in_gait, capsys):
    q: dict[str, object] = {"WaistLFront": "LASI", "WaistRFront": "RASI", "LSips": "LPSI", "RSips": "RPSI",
                            "WaistBack": ["LPSI", "RPSI"], "SpineThoracic2": ("C7", (0, 0, -30)),
                            "SpineThoracic12": ("T10", (0, 0, -50)), "Chest": ("CLAV", (0, 0, -50)),
                            "HeadL": ["LFHD", "LBHD"], "HeadR": ["RFHD", "RBHD"], "HeadFront": ["LFHD", "RFHD"]}
    for s in "LR":
        q.update({f"{s}ShoulderTop": f"{s}SHO", f"{s}Arm": f"{s}UPA", f"{s}ElbowOut": f"{s}ELB",
                  f"{s}WristOut": f"{s}WRA", f"{s}WristIn": f"{s}WRB", f"{s}KneeOut": f"{s}KNE",
                  f"{s}KneeIn": (f"{s}KNE", (0, 0, 20)), f"{s}AnkleOut": f"{s}ANK", f"{s}HeelBack": f"{s}HEE"})
    f = tmp_path / "sports.c3d"
    write_renamed(f, q, prefix="Q_")
    take = io.read(f)
    assert take.provenance.map == "qualisys"
    # the knee is the midpoint of Out and In: 10 mm from the lateral marker (plug-in-gait's knee)
    for knee in ("LKnee", "RKnee"):
        ok = take.mask[:, J[knee]] & plug_in_gait.mask[:, J[knee]]
        d = np.linalg.norm(take.positions[ok, J[knee]] - plug_in_gait.positions[ok, J[knee]], axis=-1)
        np.testing.assert_allclose(d, 0.010, atol=1e-6)
    # (its T12 marker sits lower than plug-in-gait's T10: Spine within 8 cm)
    _assert_like_plug_in_gait(take, plug_in_gait, exact=tuple(j for j in SAME if "Knee" not in j), near_mm=80)
    # the animation set's names, unprefixed: back waist markers stand for the PSIS, SpineTop for T2
    anim = {k: v for k, v in q.items() if k not in ("LSips", "RSips", "WaistBack", "SpineThoracic2", "SpineThoracic12",
                                                    "LKneeIn", "RKneeIn", "Chest")}
    anim.update({"WaistLBack": "LPSI", "WaistRBack": "RPSI", "SpineTop": "C7", "Chest": "CLAV"})
    write_renamed(f2 := tmp_path / "anim.c3d", anim)
    take2 = io.read(f2)
    assert take2.provenance.map == "qualisys"
    _assert_like_plug_in_gait(take2, plug_in_gait, exact=SAME + ("Thorax",))
    # `gfpose maps FILE` names the file's own markers, not the preset's names for them
    capsys.readouterr()
    assert run(["maps", str(f2)]) == 0
    shown = capsys.readouterr().out
    assert "WaistLBack" in shown and "LSips" not in shown


def test_helen_hayes_dotted_names_and_opensim_sets_without_arms(tmp_path, plug_in_gait):
    hh: dict[str, object] = {"Front.Head": ["LFHD", "RFHD"], "Top.Head": (["LFHD", "RFHD", "LBHD", "RBHD"], (0, 0, 90)),
                             "Rear.Head": ["LBHD", "RBHD"], "V.Sacral": ["LPSI", "RPSI"]}
    for s in "LR":
        hh.update({f"{s}.Shoulder": f"{s}SHO", f"{s}.Elbow": f"{s}ELB", f"{s}.Wrist": [f"{s}WRA", f"{s}WRB"],
                   f"{s}.ASIS": f"{s}ASI", f"{s}.Thigh": f"{s}THI", f"{s}.Knee": f"{s}KNE", f"{s}.Ankle": f"{s}ANK",
                   f"{s}.Heel": f"{s}HEE"})
    f = tmp_path / "cortex.c3d"
    write_renamed(f, hh)
    take = io.read(f)
    assert take.provenance.map == "helen-hayes"
    # the sacral marker stands for both PSIS: the hips differ from the four-marker regression by little
    exact = tuple(j for j in SAME if j not in ("Pelvis", "RHip", "LHip"))
    _assert_like_plug_in_gait(take, plug_in_gait, exact=exact)
    # OpenSim's gait2354 names: acromions, sternum, top of head, no arm markers below the shoulder
    osim: dict[str, object] = {"Top.Head": (["LFHD", "RFHD", "LBHD", "RBHD"], (0, 0, 90)), "Sternum": "STRN",
                               "V.Sacral": ["LPSI", "RPSI"]}
    for s in "LR":
        osim.update({f"{s}.Acromium": f"{s}SHO", f"{s}.ASIS": f"{s}ASI", f"{s}.Knee.Lat": f"{s}KNE",
                     f"{s}.Ankle.Lat": f"{s}ANK", f"{s}.Heel": f"{s}HEE"})
    write_renamed(f2 := tmp_path / "gait2354.c3d", osim)
    take2 = io.read(f2)
    assert take2.provenance.map == "helen-hayes"
    for joint in ("LElbow", "LWrist", "RElbow", "RWrist"):
        assert not take2.mask[:, J[joint]].any(), joint
    for joint in ("Spine", "Thorax", "Neck", "Head", "LShoulder", "RShoulder", "LKnee", "RAnkle"):
        j = J[joint]
        ok = take2.mask[:, j] & plug_in_gait.mask[:, j]
        assert ok.mean() > 0.9, joint
        assert np.median(np.linalg.norm(take2.positions[ok, j] - plug_in_gait.positions[ok, j], axis=-1)) < 0.07, joint


def test_biomech57_reads_through_isb_cast(tmp_path, plug_in_gait):
    bio: dict[str, object] = {"LIAS": "LASI", "RIAS": "RASI", "LIPS": "LPSI", "RIPS": "RPSI", "CV7": "C7",
                              "SJN": "CLAV", "SXS": "STRN", "TV7": ("T10", (0, 0, 60)),
                              "LAH": "LFHD", "RAH": "RFHD", "LPH": "LBHD", "RPH": "RBHD"}
    for s in "LR":
        bio.update({f"{s}CAJ": f"{s}SHO", f"{s}HLE": f"{s}ELB", f"{s}HME": f"{s}ELB", f"{s}RSP": f"{s}WRA",
                    f"{s}USP": f"{s}WRB", f"{s}FLE": f"{s}KNE", f"{s}FME": f"{s}KNE", f"{s}FAL": f"{s}ANK",
                    f"{s}TAM": f"{s}ANK"})
    f = tmp_path / "biomech57.c3d"
    write_renamed(f, bio)
    take = io.read(f)
    assert take.provenance.map == "isb-cast"
    # medial = lateral here, so knees, ankles, elbows, wrists are plug-in-gait's; Head is the same four
    # head markers' centroid; the shoulder leans on both epicondyles (here one point): plug-in-gait's
    _assert_like_plug_in_gait(take, plug_in_gait, exact=SAME + ("Head", "Thorax"))


def test_alternatives_and_prefixes_in_a_users_map(tmp_path):
    text = """
name = "mine"
kinds = ["markers"]
prefixes = ["lab_"]
[joints]
Pelvis = [{ A = 0.5, B = 0.5 }, "P"]
RHip = "RH"
RKnee = "RK"
RAnkle = "RA"
LHip = "LH"
LKnee = "LK"
LAnkle = "LA"
Spine = ""
Thorax = ""
Neck = ""
Head = ""
LShoulder = ""
LElbow = ""
LWrist = ""
RShoulder = ""
RElbow = ""
RWrist = ""
"""
    import tomllib

    smap = _parse(tomllib.loads(text), "mine")
    names = ["lab_P", "lab_RH", "lab_RK", "lab_RA", "LH", "LK", "LA"]
    pos = np.arange(7 * 3, dtype=float).reshape(1, 7, 3)
    out, mask = smap.apply(names, pos)
    np.testing.assert_array_equal(out[0, J["Pelvis"]], pos[0, 0])  # the alternative, through the prefix
    assert smap.for_names(names).joints["Pelvis"] == {"P": 1.0}
    both = ["A", "B", "P"] + names[1:]
    pos2 = np.arange(9 * 3, dtype=float).reshape(1, 9, 3)
    out2, _ = smap.apply(both, pos2)
    np.testing.assert_allclose(out2[0, J["Pelvis"]], pos2[0, :2].mean(0))  # the first choice wins where complete
    assert smap.absent(["lab_RH"])["Pelvis"] == ["A", "B"]  # neither complete: the joint's own names are asked for
    with pytest.raises(InputError, match="a list of those"):
        _parse(tomllib.loads(text.replace('Pelvis = [{ A = 0.5, B = 0.5 }, "P"]', "Pelvis = [{ A = 0.5 }, 3]")), "bad")
    # [estimated_from]: from that alternative on, the joint is an estimate (said on stderr by the readers)
    est = _parse(tomllib.loads(text + "[estimated_from]\nPelvis = 1\n"), "mine")
    assert est.for_names(names).estimated == ("Pelvis",) and est.for_names(both).estimated == ()
    for bad in ("Pelvis = 2", "Pelvis = 0", "RHip = 1", 'Pelvis = "1"'):
        with pytest.raises(InputError, match=r"\[estimated_from\]"):
            _parse(tomllib.loads(text + f"[estimated_from]\n{bad}\n"), "bad")


def test_plug_in_gait_without_t10_and_strn_estimates_the_spine(tmp_path, plug_in_gait, capsys):
    """A full-body Plug-in Gait set without T10 and STRN (lower body + C7 and CLAV): Spine is estimated
    halfway between the pelvic markers' centre and the thorax, said on stderr; the rest as the full set."""
    labels, _, _, _ = _trial()
    write_renamed(tmp_path / "t.c3d", {n: n for n in labels if n in _PIG_MARKERS and n not in ("T10", "STRN")})
    assert run(["convert", str(tmp_path / "t.c3d"), "-o", str(tmp_path / "t.npz")]) == 0
    assert "Spine estimated by map 'plug-in-gait'" in capsys.readouterr().err
    take = io.read(tmp_path / "t.npz")
    _assert_like_plug_in_gait(take, plug_in_gait, exact=tuple(j for j in JOINTS if j != "Spine"), near_mm=40.0)


def test_maps_init_on_a_motive_file_writes_the_chosen_sources(tmp_path):
    f = tmp_path / "take.c3d"
    m = _motive()
    del m["RWristIn"]
    write_renamed(f, m)
    out = tmp_path / "mine.toml"
    assert run(["maps", str(f), "--init", "-o", str(out)]) == 0
    text = out.read_text()
    assert 'RWrist = "RWristOut"  # from preset motive-baseline' in text
    assert "LWrist = {" in text and '"LWristIn" = 0.5' in text
    a, b = io.read(f), io.read(f, skeleton_map=str(out))
    np.testing.assert_allclose(np.nan_to_num(a.positions), np.nan_to_num(b.positions), atol=1e-9)
    assert load_map("motive-baseline").alternatives  # the preset itself keeps its alternatives


def write_points(path: Path, points: dict[str, np.ndarray], rate: float = 100.0) -> None:
    """A C3D of named 3D points (F, 3) in metres, written in mm; NaN is a gap."""
    names = list(points)
    xyz = np.stack([points[n] for n in names], 1) * 1000.0  # (F, N, 3)
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [rate]
    c["parameters"]["POINT"]["LABELS"]["value"] = names
    c["parameters"]["POINT"]["UNITS"]["value"] = ["mm"]
    data = np.ones((4, len(names), xyz.shape[0]))
    data[:3] = xyz.transpose(2, 1, 0)
    gap = ~np.isfinite(xyz).all(-1).T
    data[3, gap] = -1.0
    c["data"]["points"] = data
    c.write(str(path))


def _sides(fmt: str) -> dict[str, str]:
    """The 12 limb joints under a family's names: fmt takes side ('Right'/'Left') and part."""
    parts = {"Hip": "Hip", "Knee": "Knee", "Ankle": "Ankle", "Shoulder": "Shoulder", "Elbow": "Elbow", "Wrist": "Wrist"}
    return {fmt.format(side=side, part=name): f"{side[0]}{part}" for side in ("Right", "Left") for part, name in parts.items()}


@pytest.mark.parametrize("family", ["xsens joints", "xsens segments", "kinect", "azure"])
def test_joint_centre_sets_give_back_the_joints_they_hold(tmp_path, plug_in_gait, family):
    """Sets of joint centres (Xsens MVN, Kinect v2, Azure Kinect) written from a real take's 17 joints read
    back as those joints, trunk and head included, each through its own preset."""
    P = {j: plug_in_gait.positions[:, J[j]].astype(np.float64) for j in JOINTS}
    up = np.array([0.0, 0.0, 1.0])
    side = (P["LHip"] - P["RHip"]) / np.linalg.norm(P["LHip"] - P["RHip"], axis=-1, keepdims=True)
    pts: dict[str, np.ndarray] = {}
    if family == "xsens joints":
        pts.update({n: P[j] for n, j in _sides("j{side}{part}").items()})
        pts.update({"jL5S1": P["Pelvis"] + 0.05 * up, "jL1T12": P["Spine"] - 0.04 * up, "jT9T8": P["Spine"] + 0.04 * up,
                    "jT1C7": P["Thorax"], "jC1Head": P["Neck"], "pTopOfHead": 2 * P["Head"] - P["Neck"]})
        want = "xsens-mvn"
    elif family == "xsens segments":
        seg = {"Hip": "UpperLeg", "Knee": "LowerLeg", "Ankle": "Foot", "Shoulder": "UpperArm", "Elbow": "ForeArm",
               "Wrist": "Hand"}
        pts.update({f"{s}{seg[p]}": P[f"{s[0]}{p}"] for s in ("Right", "Left") for p in seg})
        pts.update({"Pelvis": 0.5 * (P["RHip"] + P["LHip"]), "L5": P["Pelvis"] + 0.05 * up,
                    "T12": P["Spine"] - 0.04 * up, "T8": P["Spine"] + 0.04 * up, "Neck": P["Thorax"], "Head": P["Neck"],
                    "pTopOfHead": 2 * P["Head"] - P["Neck"]})
        want = "xsens-mvn"
    elif family == "kinect":
        pts.update({f"{p}{s}": P[f"{s[0]}{p}"] for s in ("Right", "Left")
                    for p in ("Hip", "Knee", "Ankle", "Shoulder", "Elbow", "Wrist")})
        pts.update({"SpineBase": P["Pelvis"] + 0.03 * up, "SpineMid": P["Spine"], "SpineShoulder": P["Thorax"],
                    "Neck": P["Neck"], "Head": P["Head"], "FootLeft": P["LAnkle"] + 0.1 * side})
        want = "kinect"
    else:
        pts.update({f"{p.upper()}_{s.upper()}": P[f"{s[0]}{p}"] for s in ("Right", "Left")
                    for p in ("Hip", "Knee", "Ankle", "Shoulder", "Elbow", "Wrist")})
        d = P["Thorax"] - P["Spine"]
        pts.update({"PELVIS": P["Pelvis"], "SPINE_NAVAL": P["Spine"] - 0.7 * d, "SPINE_CHEST": P["Spine"] + 0.3 * d,
                    "NECK": P["Thorax"], "HEAD": 2 * P["Neck"] - P["Thorax"], "NOSE": P["Head"] + 0.08 * up,
                    "EAR_LEFT": P["Head"] + 0.07 * side, "EAR_RIGHT": P["Head"] - 0.07 * side})
        want = "azure-kinect"
    f = tmp_path / "points.c3d"
    write_points(f, pts)
    take = io.read(f)
    assert take.provenance.map == want
    ok = plug_in_gait.mask
    np.testing.assert_allclose(np.where(ok[..., None], take.positions, 0), np.where(ok[..., None], plug_in_gait.positions, 0),
                               atol=2e-5)


@needs_fixtures
def test_a_map_s_thorax_cluster_is_written_by_maps_init_and_checked(tmp_path):
    """Plug-in Gait's [clusters] thorax (C7, T10, CLAV, STRN): `maps --init` writes it in the file's own
    names, and a map read with it places an occluded CLAV as the preset does; a cluster of fewer than
    four markers is refused naming the table."""
    pytest.importorskip("ezc3d")
    occluded_c3d(FIXTURES / "cmu_85_02.c3d", tmp_path / "take.c3d", ("CLAV",), slice(400, 460))
    out = tmp_path / "mine.toml"
    assert run(["maps", str(tmp_path / "take.c3d"), "--init", "-o", str(out)]) == 0
    assert '[clusters]\nthorax = ["Male:C7", "Male:T10", "Male:CLAV", "Male:STRN"]' in out.read_text()
    a, b = io.read(tmp_path / "take.c3d"), io.read(tmp_path / "take.c3d", skeleton_map=str(out))
    assert a.mask.all() and b.mask.all()
    np.testing.assert_allclose(a.positions, b.positions, atol=1e-6)
    bad = out.read_text().replace('"Male:T10", ', "")
    with pytest.raises(InputError, match=r"\[clusters\] lists, for each name, four or more markers"):
        _parse(tomllib.loads(bad), "mine")

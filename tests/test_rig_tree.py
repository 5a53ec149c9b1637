"""BVH rigs no preset names: the 17 joints read off the rig's tree and joint names (io.maps.rig).

The real take is the dme Blender example (a CMU walk on a Mixamo-named rig, read by the mixamo
preset); its joints are renamed as other tools name them, keeping tree, offsets and motion, so
every naming must give the same body as the preset."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io
from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import JOINTS
from gfpose_cli.io import bvh as bvh_io
from gfpose_cli.io.maps import load_map
from gfpose_cli.io.maps.rig import RIG_TREE, common_prefix, infer_rig_map, rig_side

HERE = Path(__file__).parent / "data" / "vendors"
TAKE = HERE / "dme__blender_rendering_example.bvh"

#: the take's joints by role
ROLES = {"Hips": "pelvis", "LowerBack": "spine0", "Spine": "spine1", "Spine1": "spine2", "Neck": "neck",
         "Neck1": "neck1", "Head": "head"}
for side, word in (("L", "Left"), ("R", "Right")):
    ROLES.update({f"{side}HipJoint": f"{side}hipjoint", f"{word}UpLeg": f"{side}thigh", f"{word}Leg": f"{side}shin",
                  f"{word}Foot": f"{side}foot", f"{word}ToeBase": f"{side}toe", f"{word}Shoulder": f"{side}clav",
                  f"{word}Arm": f"{side}upper", f"{word}ForeArm": f"{side}fore", f"{word}Hand": f"{side}hand",
                  f"{word}FingerBase": f"{side}fingers", f"{word}HandIndex1": f"{side}index", f"{side}Thumb": f"{side}thumb"})

#: how tools name those roles ({S}: L/R, {s}: l/r, {Side}: Left/Right)
NAMINGS = {
    "3ds Max Biped": dict(pelvis="Bip01 Pelvis", spine0="Bip01 Spine", spine1="Bip01 Spine1", spine2="Bip01 Spine2",
                          neck="Bip01 Neck", neck1="Bip01 Neck1", head="Bip01 Head", hipjoint="Bip01 {S} HipOffset",
                          thigh="Bip01 {S} Thigh", shin="Bip01 {S} Calf", foot="Bip01 {S} Foot", toe="Bip01 {S} Toe0",
                          clav="Bip01 {S} Clavicle", upper="Bip01 {S} UpperArm", fore="Bip01 {S} Forearm",
                          hand="Bip01 {S} Hand", fingers="Bip01 {S} Finger1", index="Bip01 {S} Finger2",
                          thumb="Bip01 {S} Finger0"),
    "Unreal": dict(pelvis="pelvis", spine0="spine_01", spine1="spine_02", spine2="spine_03", neck="neck_01",
                   neck1="neck_02", head="head", hipjoint="hip_offset_{s}", thigh="thigh_{s}", shin="calf_{s}",
                   foot="foot_{s}", toe="ball_{s}", clav="clavicle_{s}", upper="upperarm_{s}", fore="lowerarm_{s}",
                   hand="hand_{s}", fingers="palm_{s}", index="index_01_{s}", thumb="thumb_01_{s}"),
    "SMPL": dict(pelvis="Pelvis", spine0="Spine1", spine1="Spine2", spine2="Spine3", neck="Neck", neck1="Neck2",
                 head="Head", hipjoint="{S}_PelvisSide", thigh="{S}_Hip", shin="{S}_Knee", foot="{S}_Ankle",
                 toe="{S}_Foot", clav="{S}_Collar", upper="{S}_Shoulder", fore="{S}_Elbow", hand="{S}_Wrist",
                 fingers="{S}_Hand", index="{S}_Index1", thumb="{S}_Thumb1"),
    "Xsens MVN": dict(pelvis="Pelvis", spine0="L5", spine1="L3", spine2="T8", neck="Neck", neck1="Neck1", head="Head",
                      hipjoint="{Side}HipOffset", thigh="{Side}UpperLeg", shin="{Side}LowerLeg", foot="{Side}Foot",
                      toe="{Side}Toe", clav="{Side}Shoulder", upper="{Side}UpperArm", fore="{Side}ForeArm",
                      hand="{Side}Hand", fingers="{Side}Palm", index="{Side}Index1", thumb="{Side}Thumb1"),
    "OptiTrack Motive": dict(pelvis="Hip", spine0="Ab", spine1="Chest", spine2="UpperChest", neck="Neck",
                             neck1="Neck2", head="Head", hipjoint="{S}HipOffset", thigh="{S}Thigh", shin="{S}Shin",
                             foot="{S}Foot", toe="{S}Toe", clav="{S}Shoulder", upper="{S}UArm", fore="{S}FArm",
                             hand="{S}Hand", fingers="{S}Palm", index="{S}Index1", thumb="{S}Thumb1"),
    "Rokoko": dict(pelvis="Hips", spine0="Spine1", spine1="Spine2", spine2="Spine3", neck="Neck", neck1="Neck2",
                   head="Head", hipjoint="{Side}HipOffset", thigh="{Side}Thigh", shin="{Side}Shin", foot="{Side}Foot",
                   toe="{Side}Toe", clav="{Side}Shoulder", upper="{Side}Arm", fore="{Side}ForeArm", hand="{Side}Hand",
                   fingers="{Side}Palm", index="{Side}Index1", thumb="{Side}Thumb1"),
    "Kinect": dict(pelvis="SpineBase", spine0="SpineMid", spine1="SpineMid2", spine2="SpineShoulder", neck="Neck",
                   neck1="Neck2", head="Head", hipjoint="Pelvis{Side}", thigh="Hip{Side}", shin="Knee{Side}",
                   foot="Ankle{Side}", toe="Foot{Side}", clav="Collar{Side}", upper="Shoulder{Side}",
                   fore="Elbow{Side}", hand="Wrist{Side}", fingers="Hand{Side}", index="HandTip{Side}",
                   thumb="Thumb{Side}"),
    # the Biovision format's own example (Hips, Chest, LeftCollar, LeftUpArm, LeftLowArm, LeftUpLeg, LeftLowLeg):
    # read before as Mixamo's with the knees, elbows, shoulders and spine missing in every frame
    "Biovision": dict(pelvis="Hips", spine0="Back", spine1="Chest", spine2="Chest2", neck="Neck", neck1="Neck2",
                      head="Head", hipjoint="{Side}HipJoint", thigh="{Side}UpLeg", shin="{Side}LowLeg",
                      foot="{Side}Foot", toe="{Side}Toe", clav="{Side}Collar", upper="{Side}UpArm",
                      fore="{Side}LowArm", hand="{Side}Hand", fingers="{Side}Finger", index="{Side}Index1",
                      thumb="{Side}Thumb"),
    # MikuMikuDance's bones in romaji (Center, LowerBody, LeftLeg = the thigh, LeftKnee, LeftAnkle): no hip word at
    # all, refused before ("no left hip among its names"); the knee's parent is the hip
    "MMD": dict(pelvis="Center", spine0="LowerBody", spine1="UpperBody", spine2="UpperBody2", neck="Neck",
                neck1="Neck2", head="Head", hipjoint="{Side}WaistCancel", thigh="{Side}Leg", shin="{Side}Knee",
                foot="{Side}Ankle", toe="{Side}Toe", clav="{Side}Shoulder", upper="{Side}Arm", fore="{Side}Elbow",
                hand="{Side}Wrist", fingers="{Side}Palm", index="{Side}Index1", thumb="{Side}Thumb1"),
    "Blender metarig": dict(pelvis="spine", spine0="spine.001", spine1="spine.002", spine2="spine.003",
                            neck="spine.004", neck1="spine.005", head="spine.006", hipjoint="pelvis.{S}",
                            thigh="thigh.{S}", shin="shin.{S}", foot="foot.{S}", toe="toe.{S}", clav="shoulder.{S}",
                            upper="upper_arm.{S}", fore="forearm.{S}", hand="hand.{S}", fingers="palm.{S}",
                            index="f_index.01.{S}", thumb="thumb.01.{S}"),
}


def renamed(naming: dict, tmp_path: Path, *, swap_arms: bool = False, prefix: str = "", name: str = "rig") -> Path:
    names = {}
    for old, role in ROLES.items():
        side, part = (role[0], role[1:]) if role[0] in "LR" and role[1:] in naming else (None, role)
        if swap_arms and part in ("clav", "upper", "fore", "hand", "fingers", "index", "thumb"):
            side = {"L": "R", "R": "L"}[side]
        names[old] = naming[part].format(S=side, s=(side or "").lower(),
                                         Side={"L": "Left", "R": "Right", None: ""}[side])
    text = re.sub(r"^(\s*(?:ROOT|JOINT)) (\S+)\s*$", lambda m: f"{m.group(1)} {prefix}{names[m.group(2)]}",
                  TAKE.read_text(), flags=re.M)
    out = tmp_path / f"{name}.bvh"
    out.write_text(text)
    return out


@pytest.fixture(scope="module")
def preset_take():
    take = io.read(TAKE)
    assert take.provenance.map == "mixamo"
    return take


@pytest.mark.parametrize("tool", sorted(NAMINGS))
def test_rigs_named_by_other_tools_read_as_the_preset_reads_them(tool, tmp_path, preset_take):
    path = renamed(NAMINGS[tool], tmp_path)
    with pytest.raises(InputError):  # no preset names these rigs
        io.read(path, skeleton_map="mixamo")
    take = io.read(path)
    assert take.provenance.map == RIG_TREE
    assert any("read off the rig's tree" in w for w in take.provenance.warnings)
    assert take.mask.all()
    same = [j for j in JOINTS if j not in ("Spine", "Thorax", "Head")]
    idx = [JOINTS.index(j) for j in same]
    np.testing.assert_allclose(take.positions[:, idx], preset_take.positions[:, idx], atol=1e-5)
    # the trunk: the preset takes the rig's first neck joint for the thorax, the tree the one at the
    # shoulders' height (Neck1 here), and the spine at mid-trunk; both stay on the rig's spine
    height = np.linalg.norm(preset_take.positions[:, JOINTS.index("Head")] - preset_take.positions[:, JOINTS.index("LAnkle")], axis=-1).mean()
    for joint in ("Spine", "Thorax", "Head"):
        j = JOINTS.index(joint)
        off = np.linalg.norm(take.positions[:, j] - preset_take.positions[:, j], axis=-1).max()
        assert off < 0.1 * height, (joint, off, height)


def test_a_prefix_every_name_shares_does_not_hide_a_preset(tmp_path, preset_take):
    text = re.sub(r"^(\s*(?:ROOT|JOINT)) (\S+)\s*$", r"\1 Character1_\2", TAKE.read_text(), flags=re.M)
    path = tmp_path / "hik.bvh"
    path.write_text(text)
    take = io.read(path)
    assert take.provenance.map == "mixamo"
    np.testing.assert_array_equal(take.positions, preset_take.positions)
    assert common_prefix(["Bip01", "Bip01 Pelvis", "Bip01 L Thigh", "Bip01 R Thigh", "Bip01 Head_End"]) == "Bip01 "
    assert common_prefix(["Hips", "Spine", "LeftUpLeg", "LeftLeg"]) == ""


def test_joint_names_with_spaces_are_whole_names(tmp_path):
    path = renamed(NAMINGS["3ds Max Biped"], tmp_path)
    skel = bvh_io.read_skeleton(path)
    assert "Bip01 L Thigh" in skel.names and "Bip01 Head_End" in skel.names
    assert len(set(skel.names)) == len(skel.names)


@pytest.mark.parametrize(("name", "side"), [("LeftArm", "L"), ("L_Hip", "L"), ("thigh_r", "R"), ("upper_arm.L", "L"),
                                            ("thigh.R.001", "R"), ("lShldr", "L"), ("LUArm", "L"), ("ShoulderRight", "R"),
                                            ("Bip01 R Calf", "R"), ("Character1_LeftUpLeg", "L"), ("LowerBack", None),
                                            ("Spine1", None), ("Hips", None), ("head", None)])
def test_sides_from_names(name, side):
    prefix = "Bip01 " if name.startswith("Bip01") else ""
    assert rig_side(name, prefix) == side


def test_arms_named_for_the_wrong_side_are_refused_not_mirrored(tmp_path):
    path = renamed(NAMINGS["Unreal"], tmp_path, swap_arms=True)
    with pytest.raises(InputError, match="left hip and left shoulder found lie on opposite sides"):
        io.read(path)


def test_a_rig_without_a_head_is_refused_with_both_reasons(tmp_path):
    naming = dict(NAMINGS["Unreal"], neck1="jaw_l", head="eye_l")  # and no trunk past the neck
    with pytest.raises(InputError, match="its tree was no help either: no head among its names, and its trunk"):
        io.read(renamed(naming, tmp_path))


def test_two_joints_of_one_name_are_refused_when_the_map_reads_it(tmp_path):
    naming = dict(NAMINGS["Unreal"], neck1="neck_01")  # two joints named neck_01
    with pytest.raises(InputError, match="names two joints 'neck_01'"):
        io.read(renamed(naming, tmp_path))


def test_real_rigs_read_by_presets_agree_with_their_trees():
    """Every real BVH of the repository that a preset reads: its tree gives the same limbs and head joint."""
    for path in sorted(HERE.glob("*.bvh")):
        skel = bvh_io.read_skeleton(path)
        rest = io._rest_positions(skel)
        preset = io.read(path).provenance.map
        tree_map, why = infer_rig_map(skel.names, skel.parents, rest)
        assert tree_map is not None, (path.name, why)
        a, _ = load_map(preset).apply(skel.names, rest[None])
        b, _ = tree_map.apply(skel.names, rest[None])
        same = [JOINTS.index(j) for j in JOINTS if j not in ("Spine", "Thorax", "Head")]
        np.testing.assert_allclose(b[0, same], a[0, same], atol=1e-9, err_msg=path.name)


def test_maps_init_writes_the_tree_map_which_reads_the_same(tmp_path):
    from typer.testing import CliRunner

    from gfpose_cli.cli.app import app

    path = renamed(NAMINGS["SMPL"], tmp_path)
    out = tmp_path / "smpl.toml"
    result = CliRunner().invoke(app, ["maps", str(path), "--init", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "read off" in out.read_text()
    again = io.read(path, skeleton_map=str(out))
    np.testing.assert_array_equal(again.positions, io.read(path).positions)


def test_a_rig_read_off_its_tree_is_written_back_into_its_own_skeleton(tmp_path):
    from typer.testing import CliRunner

    from gfpose_cli.cli.app import app

    path = renamed(NAMINGS["Xsens MVN"], tmp_path)
    take = io.read(path)
    out = tmp_path / "clean.bvh"
    result = CliRunner().invoke(app, ["denoise", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    header = path.read_text().split("MOTION")[0]
    assert out.read_text().split("MOTION")[0] == header
    back = io.read(out)
    assert back.provenance.map == RIG_TREE
    moved = np.linalg.norm(back.positions - take.positions, axis=-1)
    assert np.isfinite(moved).all() and moved.max() < 0.05


def test_a_head_end_site_of_no_length_gives_an_estimated_head_top_not_a_head_on_the_neck():
    """deep-motion-editing's raw.bvh writes every End Site with offset 0 0 0: its head's top (mixamo's
    Head_End) sat on the head joint, the 17-joint head drawn without its top."""
    path = HERE / "dme__demo_results_demo_video_1_raw.bvh"
    take = io.read(path)
    assert take.provenance.map == "mixamo"
    assert any("End Site with no length" in w for w in take.provenance.warnings)
    p = take.positions
    j = {n: i for i, n in enumerate(JOINTS)}
    leg = (np.linalg.norm(p[:, j["LHip"]] - p[:, j["LKnee"]], axis=-1)
           + np.linalg.norm(p[:, j["LKnee"]] - p[:, j["LAnkle"]], axis=-1))
    top = np.linalg.norm(p[:, j["Head"]] - p[:, j["Neck"]], axis=-1) / leg
    np.testing.assert_allclose(top, 0.13, atol=0.01)
    up = (p[:, j["Head"]] - p[:, j["Neck"]]) * (p[:, j["Neck"]] - p[:, j["Thorax"]])
    assert (up.sum(-1) > 0).all()  # above the head joint, on from the neck
    # a rig whose head End Site has its length keeps it as it was
    assert not any("End Site" in w for w in io.read(TAKE).provenance.warnings)


def _share(take, joint: str) -> float:
    """Where a joint sits between the pelvis and the thorax, as a share of the way (0 pelvis, 1 thorax)."""
    p = take.positions
    pelvis, thorax, at = (p[:, JOINTS.index(j)].astype(np.float64) for j in ("Pelvis", "Thorax", joint))
    trunk = thorax - pelvis
    return float(np.median(np.einsum("fd,fd->f", at - pelvis, trunk) / np.einsum("fd,fd->f", trunk, trunk)))


def test_a_preset_spine_that_lies_on_the_thorax_is_read_mid_trunk(tmp_path, preset_take):
    """CMU's MotionBuilder-style BVH (Hips, LowerBack, Spine, Spine1, Neck at Spine1's end): Mixamo's
    spine joint Spine1 is its top, so the preset put the 17-joint Spine on the Thorax (a bone of no
    length, where every training body has it about half-way). It is read from the rig's Spine, said;
    a user's own map is taken as written."""
    skel = bvh_io.read_skeleton(TAKE)
    world = bvh_io.forward_kinematics(skel)
    spine, thorax = JOINTS.index("Spine"), JOINTS.index("Thorax")
    gap = np.linalg.norm(preset_take.positions[:, spine] - preset_take.positions[:, thorax], axis=-1)
    assert gap.min() > 0.08  # metres: the spine is not on the thorax
    assert 0.3 < _share(preset_take, "Spine") < 0.8
    # it is the rig's own Spine joint, in the take's frame (the read turns Y-up to Z-up and scales)
    scale, rot = preset_take.provenance.units_to_m, preset_take.writeback.to_canonical
    np.testing.assert_allclose(preset_take.positions[:, spine], world[:, skel.names.index("Spine")] * scale @ rot.T,
                               atol=1e-5)
    assert any("puts the spine at Spine1" in w and "read from Spine" in w for w in preset_take.provenance.warnings)
    own = tmp_path / "mine.toml"
    own.write_text(load_map_text("mixamo"))
    mine = io.read(TAKE, skeleton_map=str(own))
    np.testing.assert_allclose(mine.positions[:, spine], mine.positions[:, thorax], atol=1e-6)
    assert not any("puts the spine" in w for w in mine.provenance.warnings)


def load_map_text(name: str) -> str:
    from importlib import resources

    return resources.files("gfpose_cli.io.maps").joinpath(f"{name}.toml").read_text(encoding="utf-8")


def test_a_rig_nothing_reads_names_the_map_option_on_the_command_line(tmp_path, capsys):
    from .test_cli import run

    text = TAKE.read_text()
    names = re.findall(r"^\s*(?:ROOT|JOINT) (\S+)\s*$", text, flags=re.M)
    for k, n in enumerate(names):
        word = "bone" + chr(97 + k // 26) + chr(97 + k % 26)  # boneaa, boneab, ...: no body part, no number
        text = re.sub(rf"^(\s*(?:ROOT|JOINT)) {re.escape(n)}\s*$", rf"\1 {word}", text, flags=re.M)
    path = tmp_path / "unnamed.bvh"
    path.write_text(text)
    code, _, err = run(["convert", str(path), "-o", str(tmp_path / "out.npz")], capsys)
    assert code == 2 and "its tree was no help either" in err
    assert "pass --map" in err.lower() and "pass map" not in err.lower()


def test_maps_init_of_such_a_rig_writes_the_spine_as_it_is_read(tmp_path, capsys, preset_take):
    from .test_cli import run

    out = tmp_path / "mine.toml"
    code, _, err = run(["maps", str(TAKE), "--init", "-o", str(out)], capsys)
    assert code == 0, err
    assert 'Spine = "Spine"  # as gfpose reads this rig' in out.read_text()
    mine = io.read(TAKE, skeleton_map=str(out))
    np.testing.assert_allclose(mine.positions, preset_take.positions, atol=1e-6)

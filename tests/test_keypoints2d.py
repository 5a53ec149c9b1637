"""Pose-estimator output: COCO-17 JSON and OpenPose BODY_25 folders into `gfpose lift`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io
from gfpose_cli.core.errors import InputError
from gfpose_cli.core.take import Take
from gfpose_cli.io.keypoints2d import BODY25, COCO17

from .conftest import synthetic_poses
from .test_cli import run

# where each COCO / BODY_25 keypoint sits among our 17 joints (None: not one of them)
COCO_FROM_17 = {"left_shoulder": 11, "right_shoulder": 14, "left_elbow": 12, "right_elbow": 15, "left_wrist": 13,
                "right_wrist": 16, "left_hip": 4, "right_hip": 1, "left_knee": 5, "right_knee": 2, "left_ankle": 6,
                "right_ankle": 3, "nose": 9, "left_eye": 10, "right_eye": 10, "left_ear": 10, "right_ear": 10}
BODY25_FROM_17 = {"Nose": 9, "Neck": 8, "RShoulder": 14, "RElbow": 15, "RWrist": 16, "LShoulder": 11, "LElbow": 12,
                  "LWrist": 13, "MidHip": 0, "RHip": 1, "RKnee": 2, "RAnkle": 3, "LHip": 4, "LKnee": 5, "LAnkle": 6}


def pixels(n: int = 6) -> np.ndarray:
    return synthetic_poses(n, seed=2)[..., [0, 2]] * np.array([300.0, -300.0]) + 500.0


def test_coco_results_map_to_17_joints(tmp_path: Path) -> None:
    kp = pixels()
    dets = []
    for f, pose in enumerate(kp):
        values = [[*pose[COCO_FROM_17[name]], 0.9] for name in COCO17]
        values[COCO17.index("left_wrist")][2] = 0.05 if f == 2 else 0.9  # below the threshold
        dets.append({"image_id": f, "category_id": 1, "keypoints": sum(values, []), "score": 0.9})
        if f == 1:  # a weaker second person in the same image is ignored
            dets.append({"image_id": f, "category_id": 1, "keypoints": [0.0, 0.0, 0.2] * 17, "score": 0.2})
    (tmp_path / "coco.json").write_text(json.dumps(dets))
    take = io.read(tmp_path / "coco.json")
    assert take.positions.shape == (6, 17, 2) and take.provenance.map == "coco17"
    assert np.allclose(take.positions[:, 1], kp[:, 1]) and np.allclose(take.positions[:, 13][take.mask[:, 13]], kp[take.mask[:, 13], 13])
    assert np.allclose(take.positions[:, 0], 0.5 * (kp[:, 1] + kp[:, 4]))  # pelvis = hip midpoint
    assert not take.mask[2, 13] and np.isnan(take.positions[2, 13]).all()


def write_openpose(folder: Path, kp: np.ndarray, empty_frame: int) -> None:
    folder.mkdir()
    for f, pose in enumerate(kp):
        people = [] if f == empty_frame else [{"pose_keypoints_2d": sum(
            ([*pose[BODY25_FROM_17[n]], 0.8] if n in BODY25_FROM_17 else [*pose[10], 0.8] if "Ear" in n or "Eye" in n
             else [0.0, 0.0, 0.0] for n in BODY25), [])}]
        (folder / f"video_{f:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))


def test_openpose_folder_lifts_and_keeps_empty_frames_empty(tmp_path: Path, capsys) -> None:
    write_openpose(tmp_path / "op", pixels(), empty_frame=3)
    take = io.read(tmp_path / "op")
    assert take.provenance.map == "openpose25" and take.n_frames == 6 and not take.mask[3].any()
    code, _, err = run(["lift", str(tmp_path / "op"), "-o", str(tmp_path / "lifted.npz"), "--steps", "4", "-s", "2"], capsys)
    assert code == 0, err
    assert "1 frames with fewer than 2 keypoints" in err.replace("\n", " ")
    lifted = io.read(tmp_path / "lifted.npz")
    assert lifted.positions.shape == (6, 2, 17, 3)
    assert np.isnan(lifted.positions[3]).all() and np.isfinite(lifted.positions[[0, 1, 2, 4, 5]]).all()


@pytest.mark.parametrize("content,message", [
    ("{not json", "not readable JSON"),
    (json.dumps([{"image_id": 0, "keypoints": [1, 2]}]), "17 keypoints"),
    (json.dumps({"images": []}), "expected a list"),
])
def test_bad_keypoint_files_are_named(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "bad.json").write_text(content)
    with pytest.raises(InputError, match=message):
        io.read(tmp_path / "bad.json")


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "openpose_walk"


def test_a_more_confident_bystander_is_not_swapped_in_for_the_performer(tmp_path: Path) -> None:
    """The real walk of examples/openpose_walk with a second person 450 px to its right in every frame,
    whom the detector is surer of than of the performer in every third frame: the performer is
    followed through them (the most confident detection would jump to the bystander there)."""
    alone = io.read(EXAMPLE)
    folder = tmp_path / "two"
    folder.mkdir()
    files = sorted(EXAMPLE.glob("*_keypoints.json"))
    for f, src in enumerate(files):
        data = json.loads(src.read_text())
        if data["people"]:
            performer = np.array(data["people"][0]["pose_keypoints_2d"], float).reshape(25, 3)
            other = performer.copy()
            other[:, 0] += np.where(other[:, 2] > 0, 450.0, 0.0)
            other[:, 2] = np.where(other[:, 2] > 0, 0.99 if f % 3 == 1 else 0.3, 0.0)
            people = [{"pose_keypoints_2d": p.ravel().tolist()} for p in ((other, performer) if f % 2 else (performer, other))]
            data["people"] = people
        (folder / src.name).write_text(json.dumps(data))
    both = io.read(folder)
    assert both.n_frames == alone.n_frames
    np.testing.assert_array_equal(both.mask, alone.mask)
    np.testing.assert_allclose(both.positions[alone.mask], alone.positions[alone.mask])


@pytest.mark.parametrize("layout", [26, 133])
def test_coco_results_with_more_keypoints_read_by_their_body_17(tmp_path: Path, layout: int) -> None:
    """Halpe-26 (AlphaPose) and COCO-WholeBody-133 (MMPose, RTMPose) results: their first 17 keypoints are
    COCO-17's body, in its order; the rest (feet, face, hands) are not joints of ours."""
    kp = pixels()
    rng = np.random.default_rng(layout)
    plain, wide = [], []
    for f, pose in enumerate(kp):
        values = sum(([*pose[COCO_FROM_17[name]], 0.9] for name in COCO17), [])
        extra = np.c_[rng.uniform(0, 1000, (layout - 17, 2)), rng.uniform(0, 1, layout - 17)].ravel().tolist()
        plain.append({"image_id": f, "category_id": 1, "keypoints": values, "score": 0.9})
        wide.append({"image_id": f, "category_id": 1, "keypoints": values + extra, "score": 0.9})
    (tmp_path / "plain.json").write_text(json.dumps(plain))
    (tmp_path / "wide.json").write_text(json.dumps(wide))
    a, b = io.read(tmp_path / "plain.json"), io.read(tmp_path / "wide.json")
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_allclose(a.positions, b.positions)
    (tmp_path / "odd.json").write_text(json.dumps([{"image_id": 0, "keypoints": [1.0, 2.0, 0.9] * 20}]))
    with pytest.raises(InputError, match="17 keypoints"):
        io.read(tmp_path / "odd.json")


def test_openpose_coco18_folders_are_read_too(tmp_path: Path, capsys) -> None:
    """OpenPose's COCO model (18 keypoints, no MidHip): the example walk's BODY_25 files rewritten in its
    layout read to the same joints, the pelvis from the hips' midpoint instead of MidHip."""
    from gfpose_cli.io.keypoints2d import COCO18

    alone = io.read(EXAMPLE)
    folder = tmp_path / "coco18"
    folder.mkdir()
    for src in sorted(EXAMPLE.glob("*_keypoints.json")):
        data = json.loads(src.read_text())
        for p in data["people"]:
            body = np.array(p["pose_keypoints_2d"], float).reshape(25, 3)
            p["pose_keypoints_2d"] = body[[BODY25.index(n) for n in COCO18]].ravel().tolist()
        (folder / src.name).write_text(json.dumps(data))
    take = io.read(folder)
    assert take.provenance.map == "openpose18" and take.n_frames == alone.n_frames
    same = [j for j in range(17) if j not in (0, 7)]  # all but Pelvis and Spine, which MidHip gave
    np.testing.assert_array_equal(take.mask[:, same], alone.mask[:, same])
    seen = take.mask[:, same]
    np.testing.assert_allclose(take.positions[:, same][seen], alone.positions[:, same][seen])
    hips = take.mask[:, 1] & take.mask[:, 4]
    np.testing.assert_allclose(take.positions[hips, 0], 0.5 * (take.positions[hips, 1] + take.positions[hips, 4]), atol=1e-3)
    code, _, err = run(["lift", str(folder), "-o", str(tmp_path / "lifted.npz"), "--steps", "4", "--fps", "30"], capsys)
    assert code == 0, err
    assert np.isfinite(io.read(tmp_path / "lifted.npz").positions).any()


def test_frames_named_without_zero_padding_keep_their_order(tmp_path: Path) -> None:
    """AlphaPose names COCO results by image file ("frame_9.jpg", "frame_10.jpg") and other tools write
    OpenPose JSON as "9_keypoints.json": a string sort would put frame 10 between 1 and 2 and shuffle
    the take; numbers in names compare as numbers."""
    kp = pixels(12)
    dets = [{"image_id": f"frame_{f}.jpg", "category_id": 1, "score": 0.9,
             "keypoints": sum(([*kp[f][COCO_FROM_17[name]], 0.9] for name in COCO17), [])} for f in range(12)]
    (tmp_path / "coco.json").write_text(json.dumps(dets[::-1]))
    take = io.read(tmp_path / "coco.json")
    np.testing.assert_allclose(take.positions[:, 1], kp[:, 1])  # right hip of frame f at frame f
    folder = tmp_path / "op"
    write_openpose(folder, kp, empty_frame=-1)
    for f in range(12):  # video_000000000007_keypoints.json -> 7_keypoints.json
        (folder / f"video_{f:012d}_keypoints.json").rename(folder / f"{f}_keypoints.json")
    take = io.read(folder)
    np.testing.assert_allclose(take.positions[:, 1], kp[:, 1])


def test_a_video_s_coco_results_keep_frames_without_a_detection_as_empty_frames(tmp_path: Path) -> None:
    """A detector writes no COCO result for a frame without a person: read in order, the take lost those frames
    (shorter than the video, its motion sped up across each gap, and the bridging of a missing person never
    ran). Ids that are a video's frame numbers place each frame at its number; a collection's sparse ids
    (COCO's own) are still read in order."""
    kp = pixels(30)
    keep = [f for f in range(30) if not 10 <= f < 14]
    dets = [{"image_id": f, "category_id": 1, "score": 0.9,
             "keypoints": sum(([*kp[f][COCO_FROM_17[name]], 0.9] for name in COCO17), [])} for f in keep]
    (tmp_path / "video.json").write_text(json.dumps(dets))
    take = io.read(tmp_path / "video.json")
    assert take.n_frames == 30 and not take.mask[10:14].any() and take.mask[keep].any(1).all()
    np.testing.assert_allclose(take.positions[keep, 1], kp[keep, 1])  # right hip of frame f at frame f
    assert any("4 without a detection are empty" in n for n in take.provenance.notes)
    for det, name in zip(dets, keep):
        det["image_id"] = f"clip_{name:05d}.jpg"  # AlphaPose: the image file's name
    (tmp_path / "named.json").write_text(json.dumps(dets))
    assert io.read(tmp_path / "named.json").n_frames == 30
    for det, image in zip(dets, range(len(dets))):
        det["image_id"] = 100_000 + 7919 * image  # COCO's own ids: unrelated images, read in order
    (tmp_path / "images.json").write_text(json.dumps(dets))
    assert io.read(tmp_path / "images.json").n_frames == len(keep)
    # a folder of OpenPose-format frames from a tool that writes no file for a frame without a person
    write_openpose(tmp_path / "op", kp, empty_frame=-1)
    for f in range(10, 14):
        (tmp_path / "op" / f"video_{f:012d}_keypoints.json").unlink()
    take = io.read(tmp_path / "op")
    assert take.n_frames == 30 and not take.mask[10:14].any()
    np.testing.assert_allclose(take.positions[keep, 1], kp[keep, 1])


def mmpose_entries(kp: np.ndarray, frame_ids, order=None) -> list[dict]:
    """MMPose's saved predictions (split_instances) of one person per frame: keypoints [[x, y], ...]."""
    order = list(range(17)) if order is None else order
    out = []
    for f, pose in zip(frame_ids, kp):
        xy = np.array([pose[COCO_FROM_17[name]] for name in COCO17])[order]
        out.append({"frame_id": f, "instances": [{"keypoints": xy.tolist(), "keypoint_scores": [0.9] * 17,
                                                  "bbox": [[0.0, 0.0, 1000.0, 1000.0]], "bbox_score": 0.95}]})
    return out


def test_mmpose_predictions_read_like_coco_results(tmp_path: Path, capsys) -> None:
    """MMPose's prediction files (demo --save-predictions: meta_info + instance_info; MMPoseInferencer's
    pred_out_dir: a list of frames) read to the same take as the COCO results of the same detections;
    frames are placed by frame_id, so the frame the file skips stays empty; a layout named in meta_info
    in another order reads by its names; a layout that is not COCO's body is refused."""
    kp = pixels()
    coco = [{"image_id": f, "category_id": 1, "keypoints": sum(([*pose[COCO_FROM_17[n]], 0.9] for n in COCO17), []),
             "score": 0.9} for f, pose in enumerate(kp)]
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    ref = io.read(tmp_path / "coco.json")
    meta = {"dataset_name": "coco", "num_keypoints": 17, "keypoint_id2name": {str(i): n for i, n in enumerate(COCO17)}}
    (tmp_path / "demo.json").write_text(json.dumps({"meta_info": meta, "instance_info": mmpose_entries(kp, range(1, 7))}))
    (tmp_path / "inferencer.json").write_text(json.dumps(mmpose_entries(kp, range(6))))
    for name in ("demo.json", "inferencer.json"):
        take = io.read(tmp_path / name)
        assert take.provenance.format == "mmpose" and take.provenance.map == "coco17"
        np.testing.assert_array_equal(take.mask, ref.mask)
        np.testing.assert_allclose(take.positions, ref.positions)
    shuffled = list(np.random.default_rng(3).permutation(17))
    renamed = {"dataset_name": "mine", "keypoint_id2name": {str(i): COCO17[j] for i, j in enumerate(shuffled)}}
    (tmp_path / "named.json").write_text(json.dumps({"meta_info": renamed, "instance_info": mmpose_entries(kp, range(6), shuffled)}))
    np.testing.assert_allclose(io.read(tmp_path / "named.json").positions, ref.positions)
    skipped = mmpose_entries(kp, [0, 1, 2, 4, 5, 6])  # frame 3 never written
    (tmp_path / "gap.json").write_text(json.dumps(skipped))
    gap = io.read(tmp_path / "gap.json")
    assert gap.n_frames == 7 and not gap.mask[3].any() and gap.mask[[0, 1, 2, 4, 5, 6]].all()
    code, _, err = run(["lift", str(tmp_path / "gap.json"), "-o", str(tmp_path / "lifted.npz"), "--steps", "4"], capsys)
    assert code == 0, err
    h36m = {"dataset_name": "h36m", "keypoint_id2name": {str(i): n for i, n in enumerate(
        ["root", "right_hip", "right_knee", "right_foot", "left_hip", "left_knee", "left_foot", "spine", "thorax",
         "neck_base", "head", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist"])}}
    (tmp_path / "h36m.json").write_text(json.dumps({"meta_info": h36m, "instance_info": mmpose_entries(kp, range(6))}))
    with pytest.raises(InputError, match="'h36m' layout"):
        io.read(tmp_path / "h36m.json")
    three = mmpose_entries(kp, range(6))
    three[2]["instances"][0]["keypoints"] = [[1.0, 2.0, 3.0]] * 17
    (tmp_path / "3d.json").write_text(json.dumps(three))
    with pytest.raises(InputError, match="frame_id 2: expected 2D keypoints.*3D result"):
        io.read(tmp_path / "3d.json")


def _walk_frames() -> list[dict]:
    return [json.loads(f.read_text()) for f in sorted(EXAMPLE.glob("*_keypoints.json"))]


# COCO-17's keypoints among BODY_25's, and what BODY_25B / HALPE_26 add after them (as BODY_25 indices)
COCO_IN_BODY25 = [BODY25.index(n) for n in ("Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder", "LElbow",
                                            "RElbow", "LWrist", "RWrist", "LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle")]
LIMBS = [1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]  # hips, knees, ankles, shoulders, elbows, wrists


def _write_layout(folder: Path, extra: list[int], name: str, nan_at: tuple[int, int] | None = None) -> None:
    """The example walk (BODY_25) rewritten as another tool's OpenPose-format folder: COCO-17 first, then
    the BODY_25 keypoints in extra; files named name.format(frame)."""
    folder.mkdir()
    for f, data in enumerate(_walk_frames()):
        people = []
        for p in data["people"]:
            kp = np.array(p["pose_keypoints_2d"], float).reshape(25, 3)
            out = kp[COCO_IN_BODY25 + extra]
            if nan_at is not None and f == nan_at[0]:
                out[nan_at[1]] = np.nan  # Pose2Sim writes a keypoint it lost as NaN
            people.append({"person_id": [-1], "pose_keypoints_2d": out.ravel().tolist(), "face_keypoints_2d": []})
        (folder / name.format(f)).write_text(json.dumps({"version": 1.3, "people": people}))


def test_pose2sim_and_body25b_folders_read_by_their_coco_body(tmp_path: Path, capsys) -> None:
    """Folders in OpenPose's format from tools that name their files otherwise and run other models: Pose2Sim /
    Sports2D's HALPE_26 (`walk_000012.json`, NaN for a lost keypoint) and OpenPose's BODY_25B (COCO-17's order
    first, 25 keypoints like BODY_25): read by their first 17 keypoints, the limbs where the BODY_25 folder has
    them. A 25-keypoint folder whose keypoints fit neither layout is refused, not read in a wrong order."""
    ref = io.read(EXAMPLE)
    assert ref.provenance.map == "openpose25"
    neck, midhip, toes = BODY25.index("Neck"), BODY25.index("MidHip"), [BODY25.index(n) for n in ("LBigToe", "RBigToe")]
    _write_layout(tmp_path / "halpe", [BODY25.index("Nose"), neck, midhip] + toes + list(range(20, 24)), "walk_{:06d}.json",
                  nan_at=(5, 9))
    _write_layout(tmp_path / "b25b", [neck, BODY25.index("Nose")] + list(range(19, 25)), "b_{:012d}_keypoints.json")
    for name in ("halpe", "b25b"):
        take = io.read(tmp_path / name)
        assert take.provenance.map == "coco17" and take.n_frames == ref.n_frames
        mask = take.mask.copy()
        if name == "halpe":
            assert not mask[5, 13]  # the NaN left wrist of frame 5
            mask[5, 13] = ref.mask[5, 13]
        np.testing.assert_array_equal(mask[:, LIMBS], ref.mask[:, LIMBS])
        both = take.mask[:, LIMBS] & ref.mask[:, LIMBS]
        np.testing.assert_allclose(take.positions[:, LIMBS][both], ref.positions[:, LIMBS][both])
    # on the command line too: the folder is one take (its walk_000012.json files were each read, and refused,
    # as COCO JSON: "131 of 131 inputs failed")
    code, out, err = run(["lift", str(tmp_path / "halpe"), "--steps", "4", "-o", str(tmp_path / "halpe.npz")], capsys)
    assert code == 0 and "lifted along the take" in out + err, err
    import shutil  # a shell loop's folder of takes, and a glob of take folders: each folder one take

    for name in ("a", "b"):
        shutil.copytree(tmp_path / "halpe", tmp_path / "takes" / name)
    for given, out_dir in ((tmp_path / "takes", "out1"), (tmp_path / "takes" / "*", "out2")):
        code, out, err = run(["lift", str(given), "--steps", "2", "-o", str(tmp_path / out_dir)], capsys)
        assert code == 0 and sorted(p.name for p in (tmp_path / out_dir).iterdir()) == ["a.npz", "b.npz"], err
    odd = tmp_path / "odd"
    odd.mkdir()
    for f, data in enumerate(_walk_frames()):
        for p in data["people"]:
            kp = np.array(p["pose_keypoints_2d"], float).reshape(25, 3)
            p["pose_keypoints_2d"] = kp[np.random.default_rng(0).permutation(25)].ravel().tolist()
        (odd / f"odd_{f:04d}_keypoints.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match="25 keypoints per person, but they sit neither"):
        io.read(odd)
    other = tmp_path / "other"
    other.mkdir()
    (other / "settings.json").write_text(json.dumps({"fps": 30}))
    with pytest.raises(InputError, match="is a folder"):
        io.read(other)


def test_body25_folder_without_hips_is_still_body25(tmp_path: Path) -> None:
    """A BODY_25 take whose hips are never seen (an upper-body shot) gives nothing to tell BODY_25 from BODY_25B
    by; it is read as BODY_25, as OpenPose's default model writes."""
    folder = tmp_path / "upper"
    folder.mkdir()
    for f, data in enumerate(_walk_frames()):
        for p in data["people"]:
            kp = np.array(p["pose_keypoints_2d"], float).reshape(25, 3)
            kp[8:15] = 0.0  # MidHip, hips, knees, ankles not detected
            p["pose_keypoints_2d"] = kp.ravel().tolist()
        (folder / f"up_{f:012d}_keypoints.json").write_text(json.dumps(data))
    take = io.read(folder)
    assert take.provenance.map == "openpose25" and take.mask[:, 14].any() and not take.mask[:, 1].any()


def test_normalised_coordinates_are_said_and_read_as_pixels_with_the_image_size(tmp_path: Path, capsys) -> None:
    """MediaPipe's landmarks (and OpenPose's --keypoint_scale 3) are shares of the image's width and
    height: on a 16:9 video that squeezes the body's width by 0.56. Lifted as they are they are said;
    with --image-size they lift exactly as the pixels they stand for; pixels given it are refused."""
    from gfpose_cli.kinematics.cameras import still_camera_view

    take = io.read(Path(__file__).parent / "data" / "vendors" / "dme__blender_rendering_example.bvh")
    uv, _ = still_camera_view(take.positions[1::8].astype(np.float64), 30, 10, 5.0, image_size=(1920, 1080))
    np.savez(tmp_path / "px.npz", keypoints=uv.astype(np.float32), fps=15.0)
    np.savez(tmp_path / "n.npz", keypoints=(uv / [1920, 1080]).astype(np.float32), fps=15.0)
    np.savez(tmp_path / "m.npz", keypoints=(uv / [960, 540] - 1).astype(np.float32), fps=15.0)
    # the default sampler: 4 steps lift this 35-frame 15 Hz take so poorly that the smoothing after the refiner
    # drops a tenth of its samples as spikes, and float32 rounding of the shares flips which (18 cm apart)
    fast = ["--seed", "3"]
    code, _, err = run(["lift", str(tmp_path / "px.npz"), *fast, "-o", str(tmp_path / "px_out.npz")], capsys)
    assert code == 0 and "normalised image coordinates" not in err
    code, _, err = run(["lift", str(tmp_path / "n.npz"), *fast, "-o", str(tmp_path / "n_out.npz")], capsys)
    assert code == 0 and "within 0..1 or near it: normalised image coordinates" in err and "--image-size" in err
    want = np.load(tmp_path / "px_out.npz")["poses"]

    def off(name: str) -> float:  # mean joint distance (m) from the lift of the pixels
        return float(np.nanmean(np.linalg.norm(np.load(tmp_path / name)["poses"] - want, axis=-1)))

    squeezed = off("n_out.npz")
    assert squeezed > 0.01  # another body
    for name in ("n", "m"):
        code, _, err = run(["lift", str(tmp_path / f"{name}.npz"), "--image-size", "1920x1080", *fast,
                            "-o", str(tmp_path / f"{name}_px.npz")], capsys)
        assert code == 0 and "normalised image coordinates" not in err, err
        # the same pixels but for float32 rounding of the shares (1e-4 px), which the sampler carries to a mm or two
        assert off(f"{name}_px.npz") < min(0.003, 0.2 * squeezed), (name, off(f"{name}_px.npz"), squeezed)
    code, _, err = run(["lift", str(tmp_path / "px.npz"), "--image-size", "1920x1080", "-o", str(tmp_path / "x.npz")],
                       capsys)
    assert code == 2 and "pixels already" in err
    # MediaPipe's landmarks of a foot out of the picture run past 1 (and a hand past 0): still shares
    off = uv / [1920, 1080]
    off[:5, 3] = (1.3, 1.2)
    off[:5, 13] = (-0.2, 0.4)
    np.savez(tmp_path / "off.npz", keypoints=off.astype(np.float32), fps=15.0)
    code, _, err = run(["lift", str(tmp_path / "off.npz"), "--image-size", "1920x1080", *fast,
                        "-o", str(tmp_path / "off_px.npz")], capsys)
    assert code == 0, err


MEDIAPIPE33 = ("nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
               "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
               "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
               "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
               "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index")


def test_a_csv_of_a_detector_s_named_keypoints_reads_as_its_json(tmp_path: Path) -> None:
    """A detector's per-frame CSV (`frame,nose_x,nose_y,nose_score,...`; MediaPipe's 33 landmarks with
    `_visibility`) reads as the same detections in COCO JSON: frames by the frame column, a keypoint
    below the confidence threshold missing; other columns are refused naming both layouts."""
    kp = pixels()
    dets, rows = [], []
    for f, pose in enumerate(kp):
        values = [[*pose[COCO_FROM_17[name]], 0.05 if (f, name) == (2, "left_wrist") else 0.9] for name in COCO17]
        dets.append({"image_id": f, "category_id": 1, "keypoints": sum(values, []), "score": 0.9})
        rows.append([str(f), *(f"{v:.6f}" for trip in values for v in trip)])
    (tmp_path / "coco.json").write_text(json.dumps(dets))
    head_coco = head = ["frame", *(f"{n}_{a}" for n in COCO17 for a in ("x", "y", "score"))]
    order = [3, 0, 5, 1, 4, 2]  # rows out of order: the frame column places them
    (tmp_path / "det.csv").write_text("\n".join(",".join(r) for r in [head] + [rows[k] for k in order]) + "\n")
    want, got = io.read(tmp_path / "coco.json"), io.read(tmp_path / "det.csv")
    assert got.provenance.map == "coco17" and got.positions.shape == (6, 17, 2)
    np.testing.assert_array_equal(got.mask, want.mask)
    np.testing.assert_allclose(got.positions[got.mask], want.positions[want.mask], atol=1e-5)
    assert not got.mask[2, 13]
    # MediaPipe's landmarks: 33 names, COCO's 17 among them, with visibility
    mp = {n: kp[:, COCO_FROM_17[n]] if n in COCO_FROM_17 else kp[:, 0] for n in MEDIAPIPE33}
    head = ["time", *(f"{n}_{a}" for n in MEDIAPIPE33 for a in ("x", "y", "z", "visibility"))]
    body = [",".join([f"{f / 25:.4f}", *(f"{v:.6f}" for n in MEDIAPIPE33 for v in (*mp[n][f], 0.0, 0.9))])
            for f in range(len(kp))]
    (tmp_path / "mp.csv").write_text("\n".join([",".join(head), *body]) + "\n")
    got = io.read(tmp_path / "mp.csv")
    np.testing.assert_allclose(got.positions[want.mask], want.positions[want.mask], atol=1e-5)
    assert got.fps == 25.0 and "its time column" in got.provenance.notes[0]  # the video's rate, not 30 assumed
    # a frame column of image names, a frame without a person left out by the detector: placed by number
    named = [[f"frame_{int(r[0]):04d}.jpg", *r[1:]] for r in rows if r[0] != "3"]
    (tmp_path / "gaps.csv").write_text("\n".join(",".join(r) for r in [head_coco, *named]) + "\n")
    gaps = io.read(tmp_path / "gaps.csv")
    assert gaps.n_frames == 6 and not gaps.mask[3].any() and "1 frames without a row are empty" in gaps.provenance.notes[0]
    np.testing.assert_allclose(gaps.positions[gaps.mask], want.positions[gaps.mask], atol=1e-5)
    (tmp_path / "other.csv").write_text("frame,hand_x,hand_y\n0,1,2\n")
    with pytest.raises(InputError, match="a 2D one may name a detector's keypoints instead"):
        io.read(tmp_path / "other.csv")


def _walk_pixels() -> np.ndarray:
    """A real walk (CMU BVH in tests/data) filmed by a still camera: (F, 17, 2) pixels in gfpose's order."""
    from gfpose_cli.kinematics.cameras import still_camera_view

    take = io.read(Path(__file__).parent / "data" / "vendors" / "dme__blender_rendering_example.bvh")
    return still_camera_view(take.positions[1::4].astype(np.float64), 30, 10, 5.0)[0]


def _as_coco(uv: np.ndarray) -> np.ndarray:
    """The same pixels in COCO-17's keypoint order: a face of nose, eyes and ears about the head."""
    head = uv[:, 10]
    face = {"nose": uv[:, 9], "left_eye": head + [-6, -2], "right_eye": head + [6, -2], "left_ear": head + [-14, 2],
            "right_ear": head + [14, 2]}
    return np.stack([face[n] if n in face else uv[:, COCO_FROM_17[n]] for n in COCO17], 1)


def test_an_npz_of_keypoints_in_coco_order_is_read_in_that_order(tmp_path: Path, capsys) -> None:
    """A researcher's NPZ of a detector's COCO-17 keypoints (no 'joints' names; x, y or x, y, score) was read
    as if in gfpose's order: the nose taken for the pelvis, the eyes for a leg, and lifted in silence into a
    wrong body. Told by its first five keypoints (a face, not a pelvis and a leg) it is read as a COCO JSON
    is; named COCO keypoints too; 3D in that order is refused."""
    uv = _walk_pixels()
    coco = _as_coco(uv)
    score = np.full(coco.shape[:2] + (1,), 0.9)
    np.savez(tmp_path / "ours.npz", keypoints=uv.astype(np.float32), fps=30.0)
    np.savez(tmp_path / "coco.npz", keypoints=coco.astype(np.float32), fps=30.0)
    np.savez(tmp_path / "triplets.npz", keypoints=np.concatenate([coco, score], -1).astype(np.float32), fps=30.0)
    np.savez(tmp_path / "named.npz", keypoints=coco.astype(np.float32), joints=np.array(COCO17), fps=30.0)
    for name in ("coco", "triplets", "named"):
        take = io.read(tmp_path / f"{name}.npz")
        assert take.provenance.map == "coco17" and take.dim == 2, name
        assert any("COCO-17's keypoint order" in n for n in take.provenance.notes)
        for j in (1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16):  # hips, knees, ankles, shoulders, elbows, wrists
            assert np.allclose(take.positions[:, j], uv[:, j], atol=1e-3), (name, j)
        assert np.allclose(take.positions[:, 0], 0.5 * (uv[:, 1] + uv[:, 4]), atol=1e-3)
    assert io.read(tmp_path / "ours.npz").provenance.map is None
    assert np.allclose(io.read(tmp_path / "triplets.npz").confidence[:, 13], 0.9)
    fast = ["--steps", "6", "--seed", "1"]
    for name in ("ours", "coco"):
        code, _, err = run(["lift", str(tmp_path / f"{name}.npz"), *fast, "-o", str(tmp_path / f"{name}_3d.npz")], capsys)
        assert code == 0, err
    ours, coco3d = (np.load(tmp_path / f"{n}_3d.npz")["poses"][:, 0] for n in ("ours", "coco"))
    limbs = [2, 3, 5, 6, 12, 13, 15, 16]
    assert np.linalg.norm(ours - coco3d, axis=-1)[:, limbs].mean() < 0.05  # the same body (read as ours: metres off)
    half = len(uv) // 2  # a take that is half one order, half the other cannot be told
    np.savez(tmp_path / "mixed.npz", keypoints=np.concatenate([uv[:half], coco[half:2 * half]]).astype(np.float32))
    with pytest.raises(InputError, match="cannot tell the order of its 17 keypoints.*'joints'"):
        io.read(tmp_path / "mixed.npz")
    np.savez(tmp_path / "coco3d.npz", poses=np.concatenate([coco / 500, score], -1).astype(np.float32) + 1.5)
    with pytest.raises(InputError, match="COCO-17's keypoint order .* 2D keypoints only"):
        io.read(tmp_path / "coco3d.npz")


def test_keypoints_below_the_confidence_threshold_are_missing_in_npz_and_csv(tmp_path: Path, capsys) -> None:
    """OpenPose writes a keypoint it did not see as 0, 0 with score 0. In a COCO JSON or OpenPose folder that
    is missing; in an NPZ with 'confidence' (or a CSV with score columns) it was lifted as seen, frame by
    frame: the wrist pulled toward the image's corner."""
    uv = _walk_pixels()
    conf = np.full(uv.shape[:2], 0.9, np.float32)
    zeroed = uv.copy()
    zeroed[::3, 13] = 0.0
    conf[::3, 13] = 0.0
    gaps = uv.copy()
    gaps[::3, 13] = np.nan
    np.savez(tmp_path / "scored.npz", keypoints=zeroed.astype(np.float32), confidence=conf, fps=30.0)
    np.savez(tmp_path / "gaps.npz", keypoints=gaps.astype(np.float32), confidence=conf, fps=30.0)
    scored = io.read(tmp_path / "scored.npz")
    assert not scored.mask[::3, 13].any() and scored.mask[1::3, 13].all() and np.isnan(scored.positions[::3, 13]).all()
    assert any("below 0.1 read as missing" in n for n in scored.provenance.notes)
    io.write(Take(positions=zeroed.astype(np.float32), confidence=conf, fps=30.0), tmp_path / "scored.csv")
    assert not io.read(tmp_path / "scored.csv").mask[::3, 13].any()
    fast = ["--steps", "6", "--seed", "1", "--per-frame"]
    for name in ("scored", "gaps"):
        code, _, err = run(["lift", str(tmp_path / f"{name}.npz"), *fast, "-o", str(tmp_path / f"{name}_3d.npz")], capsys)
        assert code == 0, err
    a, b = (np.load(tmp_path / f"{n}_3d.npz")["poses"] for n in ("scored", "gaps"))
    assert np.allclose(a, b)


def test_an_npz_of_a_detector_s_18_25_26_or_133_keypoints_reads_as_its_json(tmp_path: Path) -> None:
    """An NPZ of OpenPose's BODY_25 (or COCO-18, Halpe-26, COCO-WholeBody-133) keypoints per frame was
    refused for not holding 17; it is read through the same map as that detector's JSON."""
    uv = _walk_pixels()
    head = uv[:, 10]
    body25 = np.stack([uv[:, BODY25_FROM_17[n]] if n in BODY25_FROM_17 else head if "Ear" in n or "Eye" in n
                       else np.full_like(head, np.nan) for n in BODY25], 1)
    coco18 = body25[:, [BODY25.index(n) for n in ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder",
                                                  "LElbow", "LWrist", "RHip", "RKnee", "RAnkle", "LHip", "LKnee",
                                                  "LAnkle", "REye", "LEye", "REar", "LEar")]]
    coco = _as_coco(uv)
    halpe = np.concatenate([coco, np.full((len(uv), 9, 2), 7.0)], 1)
    whole = np.concatenate([coco, np.full((len(uv), 116, 2), 7.0)], 1)
    score = np.full(uv.shape[:2], 0.8)
    cases = {"body25": (body25, "openpose25"), "coco18": (coco18, "openpose18"), "halpe": (halpe, "coco17"),
             "whole": (whole, "coco17")}
    for name, (kp, map_name) in cases.items():
        triplets = np.concatenate([kp, np.full(kp.shape[:2] + (1,), 0.8)], -1)
        np.savez(tmp_path / f"{name}.npz", keypoints=triplets.astype(np.float32), fps=30.0)
        take = io.read(tmp_path / f"{name}.npz")
        assert take.provenance.map == map_name and take.dim == 2, name
        assert any("a detector's" in n for n in take.provenance.notes), take.provenance.notes
        for j in (1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16):
            assert np.allclose(take.positions[:, j], uv[:, j], atol=1e-3), (name, j)
        assert np.allclose(take.confidence[:, 13], score[:, 13])
    np.savez(tmp_path / "named.npz", keypoints=body25.astype(np.float32), joints=np.array(BODY25))
    assert io.read(tmp_path / "named.npz").provenance.map == "openpose25"
    np.savez(tmp_path / "wrong.npz", keypoints=body25.astype(np.float32), joints=np.array(BODY25[::-1]))
    with pytest.raises(InputError, match="nor a detector's 25 keypoints"):
        io.read(tmp_path / "wrong.npz")
    np.savez(tmp_path / "3d.npz", poses=np.concatenate([body25 / 500, body25[..., :1] / 300], -1).astype(np.float32))
    with pytest.raises(InputError, match="25 points per frame with a third value that is not a score"):
        io.read(tmp_path / "3d.npz")


def test_2d_keypoints_whose_y_axis_points_up_are_refused_not_lifted_upside_down(tmp_path: Path, capsys) -> None:
    """Keypoints from a tool (or a plot) whose y axis points up were lifted as they were: a real walk came
    out as another body, 154 mm off on average, in silence. lift and complete refuse them, saying what to
    flip; --force-read lifts them as they are (a performer upside down), warned."""
    uv = _walk_pixels()
    up = uv.copy()
    up[..., 1] = 1000.0 - up[..., 1]
    np.savez(tmp_path / "down.npz", keypoints=uv.astype(np.float32), fps=30.0)
    np.savez(tmp_path / "up.npz", keypoints=up.astype(np.float32), fps=30.0)
    fast = ["--steps", "4", "--seed", "1"]
    for command in ("lift", "complete"):
        code, _, err = run([command, str(tmp_path / "up.npz"), *fast, "-o", str(tmp_path / f"{command}.npz")], capsys)
        assert code == 2 and "head is below the feet in 100% of the frames" in err and "flip y" in err, err
        assert not (tmp_path / f"{command}.npz").exists()
    code, _, err = run(["lift", str(tmp_path / "up.npz"), *fast, "--force-read", "-o", str(tmp_path / "forced.npz")],
                       capsys)
    assert code == 0 and "warning" in err and "head is below the feet" in err
    code, _, err = run(["lift", str(tmp_path / "down.npz"), *fast, "-o", str(tmp_path / "down_3d.npz")], capsys)
    assert code == 0 and "head is below the feet" not in err


def _dlc_csv(path: Path, kp: np.ndarray, individuals: tuple[str, ...] = ()) -> None:
    """A DeepLabCut CSV (analyze_videos, save_as_csv): scorer, [individuals,] bodyparts and coords rows."""
    cols = [(who, name, c) for who in (individuals or ("",)) for name in COCO17 for c in ("x", "y", "likelihood")]
    head = [["scorer"] + ["DLC_resnet50_walkDec7shuffle1_100000"] * len(cols)]
    if individuals:
        head.append(["individuals"] + [who for who, _, _ in cols])
    head += [["bodyparts"] + [name for _, name, _ in cols], ["coords"] + [c for _, _, c in cols]]
    body = [[str(f)] + [f"{v:.3f}" for _ in (individuals or ("",)) for x, y in pose for v in (x, y, 0.95)]
            for f, pose in enumerate(kp)]
    path.write_text("\n".join(",".join(row) for row in head + body) + "\n")


def test_a_deeplabcut_csv_of_coco_keypoints_reads_as_their_json(tmp_path: Path) -> None:
    """DeepLabCut writes its keypoints under three header rows (scorer, bodyparts, coords): refused before as a
    CSV missing the joints' columns; read by its body parts' names as a detector's CSV, one person."""
    uv = _walk_pixels()
    _dlc_csv(tmp_path / "dlc.csv", _as_coco(uv))
    take = io.read(tmp_path / "dlc.csv")
    assert take.provenance.map == "coco17" and take.n_frames == len(uv)
    for j in (1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16):
        assert np.allclose(take.positions[:, j], uv[:, j], atol=2e-3), j
    assert np.allclose(take.confidence[:, 13], 0.95)
    _dlc_csv(tmp_path / "two.csv", _as_coco(uv), individuals=("person1", "person2"))
    with pytest.raises(InputError, match="DeepLabCut file of 2 individuals"):
        io.read(tmp_path / "two.csv")
    _dlc_csv(tmp_path / "one.csv", _as_coco(uv), individuals=("person1",))
    assert np.allclose(io.read(tmp_path / "one.csv").positions, take.positions, equal_nan=True)


def _yolo_labels(folder: Path, kp: np.ndarray, size: tuple[int, int], skip: tuple[int, ...] = (),
                 bystander_at: int | None = None) -> None:
    """Ultralytics YOLO pose labels as `predict(source="walk.mp4", save_txt=True, save_conf=True)` writes them:
    walk_<frame>.txt from frame 1, no file for a frame without a person; per line class, box and COCO-17
    keypoints (x, y, visibility) as shares of the image, then the box's confidence; '%g' numbers."""
    folder.mkdir()
    w, h = size
    for f, pose in enumerate(kp):
        if f in skip:
            continue
        people = [pose] + ([pose[::-1] * 0.2 + 50.0] if f == bystander_at else [])
        lines = []
        for person in people:
            lo, hi = person.min(0), person.max(0)
            box = [(lo[0] + hi[0]) / 2 / w, (lo[1] + hi[1]) / 2 / h, (hi[0] - lo[0]) / w, (hi[1] - lo[1]) / h]
            values = [0, *box] + [v for x, y in person for v in (x / w, y / h, 0.93)] + [0.88]
            lines.append(" ".join("%g" % v for v in values))
        (folder / f"walk_{f + 1}.txt").write_text("\n".join(lines) + "\n")


def test_a_yolo_pose_labels_folder_lifts_as_a_take_with_the_image_size(tmp_path: Path, capsys) -> None:
    """Ultralytics YOLO pose (save_txt) writes a folder of per-frame label files in normalised coordinates:
    refused before ("is a folder"); read as COCO-17 keypoints along the take, frames without a file empty in
    their place, and with --image-size lifted as the pixels they stand for."""
    uv = _walk_pixels()
    coco = _as_coco(uv)
    _yolo_labels(tmp_path / "labels", coco, (1000, 1000), skip=(5, 6), bystander_at=9)
    take = io.read(tmp_path / "labels")
    assert take.provenance.map == "coco17" and take.n_frames == len(uv) and take.provenance.first_frame == 1
    assert not take.mask[[5, 6]].any() and take.mask[[4, 7, 9]].all()
    seen = np.ones(len(uv), bool)
    seen[[5, 6]] = False
    for j in (1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16):  # '%g' keeps six digits: within 0.01 px of 1000
        assert np.allclose(take.positions[seen, j] * 1000, uv[seen, j], atol=0.01), j
    assert any("YOLO pose label files" in n and "2 without a file are empty" in n for n in take.provenance.notes)
    fast = ["--steps", "4", "--seed", "1"]
    np.savez(tmp_path / "px.npz", keypoints=np.where(seen[:, None, None], coco, np.nan).astype(np.float32),
             confidence=np.where(seen[:, None], 0.93, 0.0).repeat(17, 1).astype(np.float32), fps=30.0)
    code, _, err = run(["lift", str(tmp_path / "labels"), "--image-size", "1000x1000", *fast,
                        "-o", str(tmp_path / "yolo.npz")], capsys)
    assert code == 0 and "normalised image coordinates" not in err, err
    code, _, err = run(["lift", str(tmp_path / "px.npz"), *fast, "-o", str(tmp_path / "px_3d.npz")], capsys)
    assert code == 0, err
    a, b = (np.load(tmp_path / f"{n}.npz")["poses"] for n in ("yolo", "px_3d"))
    # the same keypoints but for '%g' rounding (5e-4 px), which a 4-step sampler carries to a few mm (0.05 mm at
    # the default steps); read in another order or scale they would be hundreds of mm apart
    assert np.nanmean(np.linalg.norm(a - b, axis=-1)) < 0.01
    (tmp_path / "labels" / "walk_3.txt").write_text("0 0.5 0.5 0.2 0.4 0.1 0.2\n")
    with pytest.raises(InputError, match="walk_3.txt: line 1 has 7 numbers"):
        io.read(tmp_path / "labels")
    (tmp_path / "labels" / "walk_3.txt").write_bytes(b"0 0.5 \xbf\xfe 0.2\n")  # damaged bytes: named, not a crash
    with pytest.raises(InputError, match="walk_3.txt: cannot read this YOLO label file"):
        io.read(tmp_path / "labels")


def test_a_detector_file_s_frame_rate_when_guessed_is_said_and_fps_sets_it(tmp_path: Path, capsys) -> None:
    """COCO/MMPose JSON, OpenPose and YOLO folders carry no frame rate: 30 Hz was assumed in silence, so a 60 Hz
    video's lift was written at 30 Hz (played at half speed). It is said; --fps sets it and the note goes."""
    write_openpose(tmp_path / "op", _walk_pixels()[:12], empty_frame=3)
    assert "30 frames a second assumed (--fps gives it)" in " ".join(io.read(tmp_path / "op").provenance.notes)
    fast = ["--steps", "2", "--seed", "1"]
    code, out, err = run(["lift", str(tmp_path / "op"), *fast, "-o", str(tmp_path / "a.bvh")], capsys)
    assert code == 0 and "30 frames a second assumed" in out + err
    code, out, err = run(["lift", str(tmp_path / "op"), *fast, "--fps", "60", "-o", str(tmp_path / "b.bvh")], capsys)
    assert code == 0 and "frames a second assumed" not in out + err, out + err
    assert io.read(tmp_path / "b.bvh", force_read=True).fps == pytest.approx(60.0)  # (2 steps: not a fine body)
    code, out, err = run(["complete", str(tmp_path / "op"), *fast, "--fps", "60", "-o", str(tmp_path / "c.npz")], capsys)
    assert code == 0 and "frames a second assumed" not in out + err and float(np.load(tmp_path / "c.npz")["fps"]) == 60
    code, _, err = run(["complete", str(tmp_path / "c.npz"), *fast, "--fps", "50", "--force-read",
                        "-o", str(tmp_path / "d.npz")], capsys)
    assert code == 2 and "its file gives its frame rate (60 Hz)" in err, err  # a 3D take's rate is its file's


def test_a_deeplabcut_3d_csv_is_refused_not_read_as_2d(tmp_path: Path) -> None:
    """DeepLabCut's triangulated output has x, y, z per body part: read as its 2D keypoints, z would be dropped."""
    uv = _walk_pixels()[:5]
    head = ["scorer," + ",".join(["DLC_3D"] * 51), "bodyparts," + ",".join(n for n in COCO17 for _ in "xyz"),
            "coords," + ",".join(["x", "y", "z"] * 17)]
    body = [f"{f}," + ",".join(f"{x:.2f},{y:.2f},1.0" for x, y in _as_coco(uv)[f]) for f in range(5)]
    (tmp_path / "dlc3d.csv").write_text("\n".join(head + body) + "\n")
    with pytest.raises(InputError, match="DeepLabCut 3D CSV"):
        io.read(tmp_path / "dlc3d.csv")


def test_a_csv_of_fewer_keypoints_reads_by_its_limbs_the_rest_missing(tmp_path: Path) -> None:
    """A lab's DeepLabCut project labels what it needs (the twelve limb keypoints, maybe a nose) under COCO's or
    OpenPose's names: refused before for not naming all 17 (or 25); read with the others missing, and said."""
    uv = _walk_pixels()
    kp = {n: uv[:, COCO_FROM_17[n]] for n in COCO17[5:]}
    kp["nose"] = uv[:, 9]
    labelled = list(kp)
    head = ["scorer," + ",".join(["DLC"] * 3 * len(labelled)), "bodyparts," + ",".join(n for n in labelled for _ in "xyl"),
            "coords," + ",".join(["x", "y", "likelihood"] * len(labelled))]
    body = [f"{f}," + ",".join(f"{kp[n][f, 0]:.3f},{kp[n][f, 1]:.3f},0.9" for n in labelled) for f in range(len(uv))]
    (tmp_path / "lab.csv").write_text("\n".join(head + body) + "\n")
    take = io.read(tmp_path / "lab.csv")
    assert take.provenance.map == "coco17"
    assert any("4 of its keypoints not in the file" in n for n in take.provenance.notes), take.provenance.notes
    for j in (0, 1, 2, 3, 4, 5, 6, 9, 11, 12, 13, 14, 15, 16):  # the pelvis from the hips, the neck from the nose
        assert take.mask[:, j].all() and np.allclose(take.positions[:, j], uv[:, j] if j else 0.5 * (uv[:, 1] + uv[:, 4]),
                                                     atol=2e-3), j
    assert not take.mask[:, 10].any()  # the head (the ears' midpoint): not in the file
    # OpenPose's names without MidHip or Neck: read by COCO-18's map, which makes the pelvis from the hips
    op = {"RShoulder": 14, "RElbow": 15, "RWrist": 16, "LShoulder": 11, "LElbow": 12, "LWrist": 13, "RHip": 1,
          "RKnee": 2, "RAnkle": 3, "LHip": 4, "LKnee": 5, "LAnkle": 6}
    rows = [",".join(["frame"] + [f"{n}_{a}" for n in op for a in "xy"])]
    rows += [",".join([str(f)] + [f"{uv[f, j, a]:.3f}" for j in op.values() for a in (0, 1)]) for f in range(len(uv))]
    (tmp_path / "op.csv").write_text("\n".join(rows) + "\n")
    take = io.read(tmp_path / "op.csv")
    assert take.provenance.map == "openpose18" and take.mask[:, 0].all()
    (tmp_path / "legs.csv").write_text("frame,RHip_x,RHip_y,RKnee_x,RKnee_y\n0,1,2,3,4\n")
    with pytest.raises(InputError, match="missing columns"):  # no arms: not a body to lift
        io.read(tmp_path / "legs.csv")


def test_a_folder_of_two_videos_frames_is_refused_not_read_as_one_take(tmp_path: Path, capsys) -> None:
    """OpenPose (`--write_json out/`) and YOLO (`predict(source=videos/, save_txt=True)`) run on several videos
    write every video's frames into one folder, each named after its video. Such a folder was read as one take,
    the videos one after the other (a jump at the seam, smoothed across), lifted with exit 0."""
    uv = _walk_pixels()
    write_openpose(tmp_path / "op", uv, empty_frame=3)
    write_openpose(tmp_path / "second", uv[::-1] + 200.0, empty_frame=-1)
    for f in (tmp_path / "second").iterdir():
        f.rename(tmp_path / "op" / f.name.replace("video_", "dance_"))
    with pytest.raises(InputError, match=r"op: holds the frames of 2 videos \(dance_…_keypoints\.json \(\d+ files\), "
                                         r"video_…_keypoints\.json .*a folder of their own"):
        io.read(tmp_path / "op")
    code, _, err = run(["lift", str(tmp_path / "op"), "-o", str(tmp_path / "out.npz")], capsys)
    assert code == 2 and "2 videos" in err and not (tmp_path / "out.npz").exists()
    coco = _as_coco(uv)
    _yolo_labels(tmp_path / "labels", coco, (1000, 1000))
    _yolo_labels(tmp_path / "more", coco, (1000, 1000))
    for f in (tmp_path / "more").iterdir():
        f.rename(tmp_path / "labels" / f.name.replace("walk_", "run2_"))
    with pytest.raises(InputError, match=r"2 videos \(run2_…\.txt .*walk_…\.txt .*YOLO names"):
        io.read(tmp_path / "labels")
    # one video's frames, with a stray file of another name beside them (a photo's): still one take
    write_openpose(tmp_path / "one", uv, empty_frame=-1)
    (tmp_path / "one" / "video_000000000000_keypoints.json").rename(tmp_path / "one" / "IMG_0042_keypoints.json")
    assert io.read(tmp_path / "one").n_frames >= len(uv) - 1

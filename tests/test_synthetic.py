"""Synthetic datasets: camera maths by hand, views consistent with their poses, seeds, the loader."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gfpose_cli.kinematics import cameras
from gfpose_cli.training.synthetic import SyntheticPoses

from .test_cli import FAST, run


def test_projection_matches_a_hand_worked_camera() -> None:
    # a camera on the +X axis, 4 m away and level, looks along -X; with Z up its right is
    # forward x up = (-1,0,0) x (0,0,1) = (0,1,0), world +Y, and its down is world -Z
    R, t = cameras.look_at(np.array(0.0), np.array(0.0), np.array(4.0))
    np.testing.assert_allclose(R, [[0, 1, 0], [0, 0, -1], [-1, 0, 0]], atol=1e-12)
    np.testing.assert_allclose(t, [0, 0, 4], atol=1e-12)
    K = cameras.intrinsics(np.array(1000.0), np.array([500.0, 400.0]))
    cams = {"K": K[None, None], "R": R[None, None], "t": t[None, None], "image_size": np.array([1000, 800])}
    pose = np.zeros((1, 17, 3))
    pose[0, 1] = [0.0, 0.2, 0.0]   # 0.2 m to the camera's right, at depth 4 m: u = 500 + 1000 * 0.2 / 4
    pose[0, 2] = [0.0, 0.0, 0.4]   # 0.4 m up: v = 400 - 1000 * 0.4 / 4
    pose[0, 3] = [1.0, 0.0, 0.0]   # 1 m towards the camera: depth 3 m, still the centre
    pose[0, 4] = [0.0, 3.0, 0.0]   # far right: u = 1250, outside the 1000-pixel-wide image
    uv, visible = cameras.project(pose, cams)
    np.testing.assert_allclose(uv[0, 0, :5], [[500, 400], [550, 400], [500, 300], [500, 400], [1250, 400]], atol=1e-4)
    assert visible[0, 0, :4].all() and not visible[0, 0, 4]


def test_random_cameras_look_at_the_subject_and_follow_the_seed() -> None:
    a = cameras.random_cameras(10, 3, seed=5)
    b = cameras.random_cameras(10, 3, seed=5)
    c = cameras.random_cameras(10, 3, seed=6)
    assert all(np.array_equal(a[k], b[k]) for k in ("K", "R", "t")) and not np.array_equal(a["R"], c["R"])
    # the pelvis (origin) projects to the principal point: every camera looks at it
    uv, _ = cameras.project(np.zeros((10, 17, 3)), a)
    np.testing.assert_allclose(uv, 500.0, atol=1e-3)
    # poses 4096.. of one run are the same cameras as a run that starts there (sharding)
    whole = cameras.random_cameras(5000, 2, seed=1)
    tail = cameras.random_cameras(100, 2, seed=1, first=4500)
    np.testing.assert_array_equal(whole["R"][4500:4600], tail["R"])


def test_rig_from_toml(tmp_path: Path) -> None:
    rig = tmp_path / "rig.toml"
    rig.write_text('image_size = [1920, 1080]\n[[camera]]\nazimuth_deg = 0\ndistance_m = 4\nfocal_px = 1000\n'
                   '[[camera]]\nR = [[1,0,0],[0,0,-1],[0,1,0]]\nt = [0, 1, 5]\nfocal_px = 1200\nprincipal_px = [950, 530]\n')
    cams = cameras.rig_from_toml(rig)
    assert cams["K"].shape == (2, 3, 3) and cams["K"][1, 0, 2] == 950 and list(cams["image_size"]) == [1920, 1080]
    rig.write_text("[[camera]]\nazimuth_deg = 0\n")
    with pytest.raises(Exception, match="bad camera entry"):
        cameras.rig_from_toml(rig)


def test_generate_a_dataset_folder_that_loads_and_reprojects(tmp_path: Path, capsys) -> None:
    out = tmp_path / "synth"
    code, _, err = run(["generate", "--n", "12", "--cameras", "3", "--seed", "2", "-o", str(out), "--format", "folder",
                        *FAST], capsys)
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["poses"] == 12 and manifest["cameras"]["views"] == 3 and manifest["seed"] == 2
    ds = SyntheticPoses(out)
    assert len(ds) == 12
    item = ds[7]
    assert tuple(item["pose_2d"].shape) == (3, 17, 2) and tuple(item["K"].shape) == (3, 3, 3)
    # every stored view is the projection of the stored pose through the stored camera
    x = np.einsum("kij,qj->kqi", item["R"].numpy(), item["pose"].numpy()) + item["t"].numpy()[:, None]
    uvw = np.einsum("kij,kqj->kqi", item["K"].numpy(), x)
    np.testing.assert_allclose(uvw[..., :2] / uvw[..., 2:], item["pose_2d"].numpy(), atol=1e-2)
    # same seed, same dataset; the poses are what the plain NPZ output holds
    again = tmp_path / "again.npz"
    code, _, err = run(["generate", "--n", "12", "--cameras", "3", "--seed", "2", "-o", str(again), *FAST], capsys)
    assert code == 0, err
    both = SyntheticPoses(again).arrays(), ds.arrays()
    assert all(np.array_equal(both[0][k], both[1][k]) for k in both[0])
    code, _, err = run(["generate", "--n", "12", "--cameras", "3", "-o", str(out), "--format", "folder", *FAST], capsys)
    assert code == 2 and "--force" in err
    code, _, err = run(["generate", "--n", "12", "--cameras", "3", "-o", str(tmp_path / "x.bvh"), *FAST], capsys)
    assert code == 2 and "NPZ or --format folder" in err


def _poses(path: Path) -> np.ndarray:
    with np.load(path) as d:
        return d["poses"].astype(np.float64)


def test_dedupe_and_temperature(tmp_path: Path, capsys) -> None:
    from gfpose_cli.evaluation import setstats

    out = tmp_path / "d.npz"
    code, _, err = run(["generate", "--n", "150", "--batch-size", "100", "--dedupe", "60", "-o", str(out), "--steps", "5"],
                       capsys)
    assert code == 0, err
    poses = _poses(out)
    assert len(poses) == 150 and "near-duplicates dropped" in err
    for i in range(1, len(poses)):  # no kept pose within 60 mm of an earlier one (exact P-MPJPE, every pair,
        earlier = poses[:i]          # the later pose aligned to the earlier, as --dedupe measures it)
        assert setstats.p_mpjpe_pairs(np.repeat(poses[i : i + 1], i, 0), earlier).min() > 0.06
    cool, warm = tmp_path / "t05.npz", tmp_path / "t10.npz"
    for path, temp in ((cool, "0.5"), (warm, "1.0")):
        code, _, err = run(["generate", "--n", "400", "--temperature", temp, "-o", str(path), *FAST], capsys)
        assert code == 0, err
    assert setstats.diversity(_poses(cool)) < 0.8 * setstats.diversity(_poses(warm))
    code, _, err = run(["generate", "--n", "10", "--temperature", "0", "-o", str(tmp_path / "x.npz"), *FAST], capsys)
    assert code == 2 and "--temperature" in err
    code, _, err = run(["generate", "--n", "10", "--sampler", "pc", "--temperature", "0.5",
                        "-o", str(tmp_path / "y.npz")], capsys)
    assert code == 2 and "forgets its start" in err and not (tmp_path / "y.npz").exists()


def test_generate_around_partial_poses(tmp_path: Path, capsys) -> None:
    from gfpose_cli.io.npz import save_npz
    from gfpose_cli.core.skeleton import PARTS, bone_lengths

    from .conftest import synthetic_poses

    src = synthetic_poses(10, seed=3).astype(np.float64) + np.array([1.0, 2.0, 1.0])  # somewhere in the room
    cond = tmp_path / "cond.npz"
    save_npz(cond, {"poses": src.astype(np.float32), "fps": np.float32(30)})
    out = tmp_path / "arms.npz"
    code, _, err = run(["generate", "--n", "30", "--condition", str(cond), "--free", "left_arm,right_arm",
                        "-o", str(out), *FAST], capsys)
    assert code == 0, err
    poses = _poses(out)
    rel = src - src[:, :1]
    arms = list(PARTS["left_arm"] + PARTS["right_arm"])
    fixed = [j for j in range(17) if j not in arms]
    np.testing.assert_allclose(poses[:, fixed], rel[np.arange(30) % 10][:, fixed], atol=1e-5)
    # three poses per source frame, each with its own arms, all at the performer's arm lengths
    assert np.linalg.norm(poses[0, arms] - poses[10, arms], axis=-1).mean() > 0.01
    np.testing.assert_allclose(bone_lengths(poses)[:, 10:], np.broadcast_to(bone_lengths(rel)[0, 10:], (30, 6)), rtol=1e-4)
    src[4, [0, 1, 4]] = np.nan  # a frame without pelvis and hips cannot be placed
    save_npz(cond, {"poses": src.astype(np.float32), "fps": np.float32(30)})
    code, _, err = run(["generate", "--n", "30", "--condition", str(cond), "-o", str(tmp_path / "x.npz"), *FAST], capsys)
    assert code == 2 and "frame 4" in err
    code, _, err = run(["generate", "--n", "5", "--free", "left_arm", "-o", str(tmp_path / "y.npz"), *FAST], capsys)
    assert code == 2 and "--condition" in err


def test_world_placement_with_cameras_following_the_pelvis(tmp_path: Path, capsys) -> None:
    from gfpose_cli.io.npz import save_npz
    from gfpose_cli.kinematics.placement import Placement, facing, place

    out = tmp_path / "w.npz"
    code, _, err = run(["generate", "--n", "40", "--yaw", "30,30", "--floor", "--area", "2,3", "--cameras", "2",
                        "-o", str(out), *FAST], capsys)
    assert code == 0, err
    with np.load(out) as d:
        poses, uv = d["poses"].astype(np.float64), d["poses_2d"]
    np.testing.assert_allclose(np.degrees(facing(poses)), 30.0, atol=1e-3)
    np.testing.assert_allclose(poses[..., 2].min(1), 0.0, atol=1e-6)
    assert (np.abs(poses[:, 0, 0]) <= 1.0).all() and (np.abs(poses[:, 0, 1]) <= 1.5).all()
    assert poses[:, 0, :2].std(0).min() > 0.2  # spread over the area, not stacked
    np.testing.assert_allclose(uv[:, :, 0], 500.0, atol=1e-2)  # random cameras aim at each pelvis
    # a root trajectory: pose i stands on frame i mod F of the take, facing its way
    path = np.full((5, 17, 3), np.nan, np.float32)  # only the pelvis and hips are needed; the rest missing
    path[:, 0] = [[0, 0, 1], [1, 0, 1], [2, 0, 1], [3, 0, 1], [4, 0, 1]]
    path[:, 1], path[:, 4] = path[:, 0] + [0, -0.1, 0], path[:, 0] + [0, 0.1, 0]  # hips: facing +X
    take = tmp_path / "path.npz"
    save_npz(take, {"poses": path, "fps": np.float32(30)})
    code, _, err = run(["generate", "--n", "12", "--trajectory", str(take), "-o", str(out), "--force", *FAST], capsys)
    assert code == 0, err
    poses = _poses(out)
    np.testing.assert_allclose(poses[:, 0], path[np.arange(12) % 5, 0], atol=1e-5)
    np.testing.assert_allclose(np.degrees(facing(poses)), 0.0, atol=1e-3)
    # a shard of the series is placed as the single run places those poses
    placement = Placement(yaw_deg=(0.0, 360.0), area_m=(5.0, 5.0))
    rel = np.repeat(poses - poses[:, :1], 500, axis=0)
    whole = place(rel, placement, seed=3)
    np.testing.assert_array_equal(whole[4500:], place(rel[4500:], placement, seed=3, first=4500))

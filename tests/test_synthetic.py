"""Synthetic datasets: camera maths by hand, views consistent with their poses, seeds, the loader."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import cameras
from gfpose_cli.synthetic import SyntheticPoses

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

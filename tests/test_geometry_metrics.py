"""Procrustes, metrics and 2D normalisation against hand-worked cases."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from gfpose_cli.evaluation import metrics
from gfpose_cli.kinematics.geometry import normalise_2d, procrustes_align, rotation_z
from gfpose_cli.core.skeleton import BONES, SYMMETRIC_BONES, mirror_poses

from .conftest import synthetic_poses


def test_procrustes_undoes_a_similarity_transform() -> None:
    gt = synthetic_poses(5).astype(np.float64)
    R = rotation_z(torch.tensor([0.7], dtype=torch.float64)).numpy()[0]
    moved = 1.3 * gt @ R.T + np.array([0.5, -2.0, 1.0])
    aligned = procrustes_align(moved, gt)
    assert np.abs(aligned - gt).max() < 1e-9
    assert metrics.mpjpe(moved, gt, "procrustes") < 1e-9
    assert metrics.mpjpe(moved, gt, "root") > 0.05


def test_procrustes_does_not_reflect() -> None:
    gt = synthetic_poses(3).astype(np.float64)
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    assert metrics.mpjpe(mirrored, gt, "procrustes") > 1e-3


def test_mpjpe_hand_case() -> None:
    gt = np.zeros((1, 17, 3))
    pred = gt.copy()
    pred[0, 5] = [0.03, 0.04, 0.0]  # one joint 50 mm off
    assert np.isclose(metrics.mpjpe(pred, gt, "none"), 0.05 / 17)
    assert np.isclose(metrics.pck(pred, gt, 0.04, "none"), 16 / 17)


def test_min_mpjpe_takes_the_best_hypothesis() -> None:
    gt = synthetic_poses(4)
    hyps = np.stack([gt + 0.1, gt + 0.01, gt - 0.05], axis=1)
    assert np.isclose(metrics.min_mpjpe(hyps, gt, "none"), np.sqrt(3) * 0.01, atol=1e-6)


def test_jitter_and_bone_cv() -> None:
    t = np.arange(10, dtype=np.float64)[:, None, None]
    linear = np.broadcast_to(t * np.array([0.1, 0, 0]), (10, 17, 3))
    assert metrics.jitter(linear, fps=30) < 1e-9
    assert metrics.bone_length_cv(synthetic_poses(50)) < 1e-6  # one rigid body
    stretched = synthetic_poses(50) * np.linspace(0.8, 1.2, 50)[:, None, None]
    assert metrics.bone_length_cv(stretched) > 0.05


def test_skeleton_tables_are_consistent() -> None:
    assert len(BONES) == 16 and len(SYMMETRIC_BONES) == 6
    poses = synthetic_poses(3)
    assert np.allclose(mirror_poses(mirror_poses(poses)), poses)
    assert metrics.symmetry_error(poses) < 1e-6


def test_normalise_2d_ignores_translation_scale_and_missing_joints() -> None:
    kp = torch.from_numpy(synthetic_poses(8)[..., :2]) * 300 + 500
    mask = torch.ones(8, 17, dtype=torch.bool)
    base = normalise_2d(kp, mask)
    assert torch.allclose(normalise_2d(kp * 2.5 + 17, mask), base, atol=1e-5)
    mask[:, 13] = False
    holed = normalise_2d(kp, mask)
    assert float(holed[:, 13].abs().sum()) == 0.0
    mask[:, 0] = False  # pelvis missing: the hip midpoint centres instead
    assert torch.isfinite(normalise_2d(kp, mask)).all()


def test_one_camera_model_for_datasets_rigs_and_training_views() -> None:
    """kinematics.cameras.look_at is the camera model of every path: numpy (datasets, rigs) and torch
    (training views) give the same rotations, which are proper rotations looking at the target."""
    import torch

    from gfpose_cli.kinematics import cameras

    rng = np.random.default_rng(0)
    az, el = rng.uniform(0, 2 * np.pi, 50), rng.uniform(-0.3, 0.6, 50)
    dist = rng.uniform(2.5, 8, 50)
    R, t = cameras.look_at(az, el, dist)
    Rt, _ = cameras.look_at(torch.from_numpy(az), torch.from_numpy(el))
    np.testing.assert_allclose(Rt.numpy(), R, atol=1e-12)
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)
    target = (R @ np.zeros(3)) + t  # the origin in camera coordinates: straight ahead at the distance
    np.testing.assert_allclose(target[:, :2], 0.0, atol=1e-9)
    np.testing.assert_allclose(target[:, 2], dist, atol=1e-9)
    up = R @ np.array([0.0, 0.0, 1.0])  # world up points up the image (y down)
    assert (up[:, 1] < 0).all()
    views = cameras.random_views(64, torch.Generator().manual_seed(1))
    pose = torch.zeros(64, 1, 3, dtype=torch.float32)
    cam, pixels = cameras.project_views(pose, views)
    np.testing.assert_allclose(cam[:, 0, :2].numpy(), 0.0, atol=1e-4)  # the origin is at the image centre
    np.testing.assert_allclose(pixels[:, 0].numpy(), 500.0, atol=1e-3)


@pytest.mark.parametrize("order", ["ZXY", "XYZ", "ZYX"])
def test_euler_curves_follow_the_previous_frame(order: str) -> None:
    """A BVH's Euler curves (rotations.euler_near without a reference): each frame takes, of the two
    solutions and their 360-degree copies, the one nearest the previous frame's angles, so a joint
    turning round and round gives back its own continuous curves, never a jump by 360 degrees."""
    from scipy.spatial.transform import Rotation

    from gfpose_cli.kinematics.rotations import _nearest, euler_near

    t = np.linspace(0.0, 1.0, 3000)
    truth = np.stack([1000.0 * t, 30.0 * np.sin(9 * t), -200.0 * t + 20.0 * np.cos(5 * t)], -1)  # degrees
    R = Rotation.from_euler(order, truth, degrees=True).as_matrix()
    got = euler_near(R, order)
    np.testing.assert_allclose(got, truth, atol=1e-8)
    # frame by frame, the rule of _nearest with the previous answer as its reference
    first = Rotation.from_matrix(R).as_euler(order, degrees=True)
    second = first + np.array([180.0, 0.0, 180.0])
    second[:, 1] = 180.0 - first[:, 1]
    for f in range(1, 3000, 7):
        np.testing.assert_array_equal(got[f], _nearest(first[f:f + 1], second[f:f + 1], got[f - 1][None])[0])

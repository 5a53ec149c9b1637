"""A lift's poses are in the camera's frame (x right, y down, z forward); mocap is Z up.

The frame used to be lost when a lift was saved to NPZ: `convert lifted.npz -o lifted.bvh` wrote the
performer lying down, `render` drew them lying, `denoise`/`complete` handed the models a lying body and
`evaluate` compared a camera-frame take with world mocap in silence. The take is the dme walk (another
lab's BVH in tests/data), seen by a still camera."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io, tasks
from gfpose_cli.core.errors import InputError
from gfpose_cli.core.frames import CAMERA_TO_Z_UP
from gfpose_cli.core.skeleton import JOINTS
from gfpose_cli.core.take import Provenance, Take
from gfpose_cli.evaluation.scores import evaluate, frame_mismatch
from gfpose_cli.kinematics.cameras import still_camera_view

from .test_cli import run

TAKE = Path(__file__).parent / "data" / "vendors" / "dme__blender_rendering_example.bvh"
HEAD, PELVIS = JOINTS.index("Head"), JOINTS.index("Pelvis")


@pytest.fixture(scope="module")
def walk():
    take = io.read(TAKE)
    step = max(1, int(round(take.fps / 30)))
    return take.positions[::step][:90].astype(np.float64)  # Z up, metres, 30 Hz


@pytest.fixture(scope="module")
def lifted(walk, tmp_path_factory):
    """`gfpose lift` of the walk's 2D, written to NPZ and straight to BVH."""
    import contextlib
    import io as stdio

    folder = tmp_path_factory.mktemp("lift")
    pixels, truth = still_camera_view(walk, 40.0, 12.0, 5.0)
    io.write(Take(positions=pixels.astype(np.float32), fps=30.0), folder / "kp.npz")
    from gfpose_cli.cli import main

    for name in ("lifted.npz", "direct.bvh"):
        with contextlib.redirect_stderr(stdio.StringIO()), contextlib.redirect_stdout(stdio.StringIO()):
            with pytest.raises(SystemExit) as done:
                main(["lift", str(folder / "kp.npz"), "-o", str(folder / name)])
                raise SystemExit(0)
        assert done.value.code in (0, None)
    return folder, truth


def up(poses: np.ndarray) -> np.ndarray:
    """Mean unit vector from the pelvis to the head."""
    v = poses[:, HEAD] - poses[:, PELVIS]
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).mean(0)


def test_a_lift_saved_to_npz_converts_to_the_same_upright_bvh_as_a_direct_lift(lifted, tmp_path, capsys) -> None:
    folder, _ = lifted
    take = io.read(folder / "lifted.npz")
    assert take.provenance.camera_frame and up(take.positions[:, 0])[1] < -0.9  # y down: the head at -y
    code, out, err = run(["convert", str(folder / "lifted.npz"), "-o", str(tmp_path / "via_npz.bvh")], capsys)
    assert code == 0, err
    via, direct = io.read(tmp_path / "via_npz.bvh"), io.read(folder / "direct.bvh")
    assert up(via.positions)[2] > 0.9  # standing, Z up once read back
    np.testing.assert_allclose(via.positions, direct.positions, atol=1e-4)


def test_the_frame_survives_npz_and_csv_says_it_cannot_keep_it(lifted, tmp_path, capsys) -> None:
    folder, _ = lifted
    code, out, err = run(["convert", str(folder / "lifted.npz"), "-o", str(tmp_path / "again.npz")], capsys)
    assert code == 0 and io.read(tmp_path / "again.npz").provenance.camera_frame
    code, out, err = run(["convert", str(folder / "lifted.npz"), "-o", str(tmp_path / "lifted.csv")], capsys)
    assert code == 0 and "camera's frame" in out + err and "which a CSV cannot record" in out + err
    # read back, the CSV's body stands along -Y: said, not silently taken for Z-up mocap
    code, out, err = run(["convert", str(tmp_path / "lifted.csv"), "-o", str(tmp_path / "from_csv.npz")], capsys)
    assert code == 0 and "stands along -Y" in err and "camera's frame" in err


def test_mocap_npz_and_csv_read_without_a_frame_warning(walk, tmp_path) -> None:
    take = Take(positions=walk.astype(np.float32), fps=30.0)
    for name in ("walk.npz", "walk.csv"):
        io.write(take, tmp_path / name)
        read = io.read(tmp_path / name)
        assert not read.provenance.camera_frame
        assert not any("stands along" in w for w in read.provenance.warnings)


def test_an_old_npz_of_camera_frame_poses_is_said_to_stand_along_minus_y(walk, tmp_path) -> None:
    camera = (walk - walk[:, :1]) @ CAMERA_TO_Z_UP  # Z up -> the camera frame (the rotation's inverse)
    np.savez(tmp_path / "old.npz", poses=camera.astype(np.float32), fps=np.float32(30))  # no 'axes': before this
    warnings = io.read(tmp_path / "old.npz").provenance.warnings
    assert any("stands along -Y" in w for w in warnings), warnings


def test_denoise_and_complete_work_upright_and_hand_back_the_camera_frame(walk) -> None:
    """The models are given the pose upright; the result is in the frame the input was in."""
    rel = walk - walk[:, :1]
    world = Take(positions=rel.astype(np.float32), fps=30.0, provenance=Provenance(path="world"))
    camera = tasks.turned(world, CAMERA_TO_Z_UP.T, camera_frame=True)
    prior = tasks.prior_runner(None, tasks.SamplerOptions(seed=0), bones=True)
    a = tasks.denoise(prior, world, t0=0.2, temporal=False)
    b = tasks.denoise(prior, camera, t0=0.2, temporal=False)
    assert b.provenance.camera_frame
    np.testing.assert_allclose(b.positions @ CAMERA_TO_Z_UP.T, a.positions, atol=2e-4)
    gappy = world.positions.copy()
    mask = np.ones(gappy.shape[:2], bool)
    mask[30:45, JOINTS.index("LWrist")] = False
    gappy[~mask] = np.nan
    world_gap = Take(positions=gappy, mask=mask, fps=30.0, provenance=Provenance(path="world"))
    filler = tasks.Runner.for_task("complete3d", None, tasks.SamplerOptions(seed=0))
    c = tasks.complete(filler, world_gap, temporal=False)
    d = tasks.complete(filler, tasks.turned(world_gap, CAMERA_TO_Z_UP.T, camera_frame=True), temporal=False)
    assert d.provenance.camera_frame and np.isfinite(d.positions).all()
    np.testing.assert_allclose(d.positions @ CAMERA_TO_Z_UP.T, c.positions, atol=2e-4)


def test_one_hypothesis_per_frame_is_denoised_and_several_are_refused(lifted, tmp_path, capsys) -> None:
    folder, _ = lifted
    assert io.read(folder / "lifted.npz").positions.ndim == 4  # (F, 1, 17, 3), as lift writes one hypothesis
    code, out, err = run(["denoise", str(folder / "lifted.npz"), "-o", str(tmp_path / "clean.npz")], capsys)
    assert code == 0, err
    assert io.read(tmp_path / "clean.npz").provenance.camera_frame
    many = io.read(folder / "lifted.npz")
    io.write(Take(positions=np.repeat(many.positions, 3, axis=1), fps=30.0), tmp_path / "three.npz")
    code, out, err = run(["denoise", str(tmp_path / "three.npz"), "-o", str(tmp_path / "x.npz")], capsys)
    assert code == 2 and "holds 3 hypotheses per frame" in err and "--aggregate mean" in err


def test_evaluate_says_when_the_frames_differ_and_scores_the_take_turned_once(walk, tmp_path, capsys) -> None:
    rel = walk - walk[:, :1]
    angle = np.radians(70.0)
    yaw = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    turn = CAMERA_TO_Z_UP.T @ yaw  # turned about the vertical, then into a camera's frame (y down)
    rng = np.random.default_rng(0)
    pred = Take(positions=(rel @ turn.T + rng.normal(0, 0.01, rel.shape)).astype(np.float32), fps=30.0,
                provenance=Provenance(path="pred.npz", camera_frame=True))
    truth = Take(positions=walk.astype(np.float32), fps=30.0, provenance=Provenance(path="truth.bvh"))
    scores = evaluate(pred, truth)
    assert scores["mpjpe_mm"] > 200 and scores["mpjpe_take_aligned_mm"] < 20  # 10 mm noise per axis: ~16 mm
    assert scores["p_mpjpe_mm"] < scores["mpjpe_take_aligned_mm"]  # each frame aligned on its own
    said = frame_mismatch(pred, truth)
    assert said and "pred.npz (a camera's frame, standing along -Y)" in said
    upright = Take(positions=walk.astype(np.float32), fps=30.0, provenance=Provenance(path="same.npz"))
    assert frame_mismatch(upright, truth) is None
    # a camera-frame truth saved without the NPZ's axes key (the quickstart's camera_truth.npz) stands as the
    # lift does: one frame, nothing to say
    unflagged = Take(positions=(rel @ turn.T).astype(np.float32), fps=30.0, provenance=Provenance(path="cam.npz"))
    assert frame_mismatch(pred, unflagged) is None
    same = evaluate(upright, truth)
    assert same["mpjpe_mm"] == pytest.approx(0.0, abs=1e-3) and same["mpjpe_take_aligned_mm"] < 1e-3
    assert same["jitter_pred_m_s2"] == pytest.approx(same["jitter_gt_m_s2"])


def test_a_truth_at_another_rate_is_scored_at_the_prediction_s_frames(walk, tmp_path, capsys) -> None:
    """A 30 fps video's lift against the same moment's 120 Hz mocap was refused ("18 frames but ...
    72"): the truth is taken at the prediction's frames, between its two nearest, and said; takes of
    different lengths of time are refused naming both."""
    from gfpose_cli.evaluation.scores import on_prediction_frames

    fast = Take(positions=walk.astype(np.float32), fps=120.0, provenance=Provenance(path="truth.npz"))
    pred = Take(positions=walk[::4].astype(np.float32), fps=30.0, provenance=Provenance(path="pred.npz"))
    at, note = on_prediction_frames(pred, fast)
    assert note and "scored at pred.npz's" in note and at.n_frames == pred.n_frames and at.fps == 30.0
    np.testing.assert_allclose(at.positions, walk[::4], atol=1e-6)
    assert evaluate(pred, at)["mpjpe_mm"] == pytest.approx(0.0, abs=1e-3)
    odd = Take(positions=walk[::3].astype(np.float32), fps=40.0, provenance=Provenance(path="odd.npz"))
    between, _ = on_prediction_frames(odd, fast)  # 40 Hz frames fall between the truth's every third
    np.testing.assert_allclose(between.positions, walk[::3], atol=1e-6)
    with pytest.raises(InputError, match=r"pred.npz has \d+ frames \([\d.]+ s at 30 Hz\).*half.npz has 45 \(0.375 s at 120 Hz\)"):
        on_prediction_frames(pred, Take(positions=walk[:45].astype(np.float32), fps=120.0,
                                        provenance=Provenance(path="half.npz")))
    io.write(pred, tmp_path / "pred.npz")
    io.write(fast, tmp_path / "truth.npz")
    code, _, err = run(["evaluate", str(tmp_path / "pred.npz"), str(tmp_path / "truth.npz"), "--json"], capsys)
    assert code == 0 and "is scored at" in err, err


def test_evaluate_jitter_uses_one_rate_and_no_step_across_skipped_frames(walk) -> None:
    truth = Take(positions=walk.astype(np.float32), fps=30.0)
    pred = Take(positions=(walk - walk[:, :1]).astype(np.float32), fps=120.0)  # no fps stored: the default
    gappy = walk.copy()
    gappy[40:50] = np.nan  # frames the truth misses are skipped, not bridged
    scores = evaluate(pred, Take(positions=gappy.astype(np.float32), fps=30.0))
    whole = evaluate(pred, truth)
    assert whole["jitter_pred_m_s2"] == pytest.approx(whole["jitter_gt_m_s2"], rel=1e-4)  # root-relative, 30 Hz both
    assert scores["frames_skipped"] == 10
    assert scores["jitter_pred_m_s2"] == pytest.approx(scores["jitter_gt_m_s2"], rel=1e-4)
    assert scores["jitter_gt_m_s2"] < 3 * whole["jitter_gt_m_s2"]

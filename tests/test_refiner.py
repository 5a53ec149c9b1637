"""The take refiner (model.refiner, training.refine, tasks.refine): trained with `gfpose train --task
refine` on a lifter's own take lifts, resumable, recorded with the lifter it corrects and applied
only after that lifter."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import tasks
from gfpose_cli.core.errors import InputError
from gfpose_cli.model import checkpoint
from gfpose_cli.model.refiner import RefinerConfig, TakeRefiner, load_refiner, refine, window_index
from gfpose_cli.util.provenance import file_digest

from .conftest import FIXTURES

TAKES = [FIXTURES / "cmu_12_01_walk.bvh", FIXTURES / "cmu_131_03_hop.bvh"]


def test_windows_stay_inside_their_own_take() -> None:
    take = np.array([0, 0, 0, 0, 1, 1, 1])
    w = window_index(take, 5)
    assert w.tolist()[0] == [0, 0, 0, 1, 2] and w.tolist()[3] == [1, 2, 3, 3, 3] and w.tolist()[4] == [4, 4, 4, 5, 6]


def test_the_window_spans_the_trained_time_at_other_frame_rates() -> None:
    """A 60 Hz take is read every 2nd frame by a refiner of 30 Hz windows; 15 or 45 Hz, which no whole
    stride fits, between frames (they were left as lifted); 10 Hz is left as lifted."""
    from gfpose_cli.model.refiner import LoadedRefiner

    w = window_index(np.zeros(10, int), 3, stride=2)
    assert w.tolist()[4] == [2, 4, 6] and w.tolist()[0] == [0, 0, 2] and w.tolist()[9] == [7, 9, 9]
    ref = LoadedRefiner(TakeRefiner(RefinerConfig(window=3, width=8)), "", {}, Path("r.pt"), fps=30.0)
    assert [ref.stride(f) for f in (30, 25, 29.97, 60, 59.94, 120, 100, 10, 12, 45, 15, 20, None, 0)] == \
        [1, 1, 1, 2, 2, 4, 3, None, None, 1.5, 0.5, pytest.approx(2 / 3), None, None]


def test_a_fractional_stride_samples_the_window_between_frames() -> None:
    # a refiner that reads one input feature of the window's middle sample and the next: with stride 0.5
    # the next sample lies halfway to the next frame, so it reads the mean of the two frames' features
    model = TakeRefiner(RefinerConfig(window=3, width=8)).eval()
    kp = np.random.default_rng(1).normal(500, 100, (6, 17, 2))
    lifted = np.random.default_rng(2).normal(0, 0.3, (6, 17, 3))
    import torch

    from gfpose_cli.model.refiner import frame_features

    feats = torch.from_numpy(frame_features(kp, np.ones((6, 17), bool), lifted))
    seen = []
    model.forward = lambda windows: (seen.append(windows.clone()), torch.zeros(len(windows), 51))[1]
    refine(model, kp, np.ones((6, 17), bool), lifted, stride=0.5)
    w = seen[0]  # (F, 3, features): samples at t - 0.5, t, t + 0.5
    torch.testing.assert_close(w[2, 1], feats[2])
    torch.testing.assert_close(w[2, 2], (feats[2] + feats[3]) / 2)
    torch.testing.assert_close(w[2, 0], (feats[1] + feats[2]) / 2)
    torch.testing.assert_close(w[0, 0], feats[0])  # held at the take's first frame


def test_an_untrained_refiner_changes_nothing() -> None:
    rng = np.random.default_rng(0)
    lifted = rng.normal(0, 0.3, (40, 17, 3))
    model = TakeRefiner(RefinerConfig(window=7, width=32)).eval()
    out = refine(model, rng.normal(500, 100, (40, 17, 2)), np.ones((40, 17), bool), lifted, batch=16)
    assert np.array_equal(out, lifted)
    with pytest.raises(ValueError, match="odd"):
        RefinerConfig(window=30)


def run_cli(argv: list[str]) -> int:
    from gfpose_cli.cli import main

    try:
        main([*argv, "--quiet"])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("refine")
    args = ["train", *map(str, TAKES), "--task", "refine", "--views", "2", "--width", "64", "--window", "9",
            "--no-holdout", "-o", str(out / "ref.state.pt"), "--export", str(out / "ref.pt")]
    assert run_cli([*args, "--steps", "20"]) == 0
    assert run_cli([*args, "--steps", "30", "--resume", str(out / "ref.state.pt")]) == 0
    return out


@pytest.mark.skipif(not all(p.exists() for p in TAKES), reason="../shared/fixtures is not present")
def test_gfpose_train_task_refine_checkpoints_resumes_and_records_its_lifter(trained: Path) -> None:
    state = checkpoint.read(trained / "ref.state.pt")
    assert state["task"] == "refine" and state["step"] == 30 and "train_state" in state
    loaded = load_refiner(trained / "ref.pt")
    assert loaded.lifter_digest == file_digest(tasks.shipped_weights("lift"))
    assert loaded.meta["data"]["lifted_frames"] > 500 and loaded.meta["data"]["views"] == 2
    assert loaded.meta["code_version"] and loaded.model.cfg.window == 9
    assert (trained / "ref.state.pt.lifted.npz").exists()  # the lifted takes, reused by a resumed run
    recorded = loaded.meta["data"]
    assert recorded["validation_subjects"] and recorded["validation_frames"] > 0  # one of the two files
    assert 0.0 <= loaded.gain <= 1.0 and loaded.gain == recorded["validation"]["gain"]


@pytest.mark.skipif(not all(p.exists() for p in TAKES), reason="../shared/fixtures is not present")
def test_a_refiner_is_applied_only_after_the_lifter_it_was_trained_on(trained: Path, tmp_path: Path) -> None:
    runner = tasks.Runner.for_task("lift", None, tasks.SamplerOptions(seed=0))
    assert tasks.take_refiner(runner, trained / "ref.pt") is not None
    other = checkpoint.read(tasks.shipped_weights("lift"))
    other["note"] = "another lifter"
    other.pop("format"), other.pop("format_version")
    checkpoint.save(tmp_path / "other-lift.pt", other)
    runner2 = tasks.Runner.for_task("lift", tmp_path / "other-lift.pt", tasks.SamplerOptions(seed=0))
    with pytest.raises(InputError, match="another lifter"):
        tasks.take_refiner(runner2, trained / "ref.pt")
    assert tasks.take_refiner(runner2) is None  # the shipped refiner is left out for another lifter
    # each shipped lifter finds the shipped refiner trained on its own take lifts
    assert tasks.take_refiner(runner).path.name == "refine.pt"
    bones = tasks.Runner.for_task("lift", tasks.shipped_weights("lift-bones"), tasks.SamplerOptions(seed=0))
    assert tasks.take_refiner(bones).path.name == "refine-bones.pt"
    assert tasks.take_refiner(bones).lifter_digest == file_digest(tasks.shipped_weights("lift-bones"))


def test_a_refiner_checkpoint_is_not_taken_for_a_score_model(tmp_path: Path) -> None:
    from gfpose_cli.core.errors import CheckpointError

    with pytest.raises(CheckpointError, match="not a take refiner"):
        load_refiner(tasks.shipped_weights("lift"))


def test_the_gain_is_measured_on_subjects_the_refiner_did_not_train_on() -> None:
    """training.refine: validation frames are never drawn for a step, and the recorded gain is the
    least-squares scale of the correction on them (here exactly half of it is right: gain 0.5)."""
    import torch

    from gfpose_cli.tasks.refine import validation_subjects
    from gfpose_cli.training.refine import RefineConfig, RefineTrainer

    assert validation_subjects(np.array(["cmu:01", "cmu:05", "hdm05:bd", "accad:Female1", "cmu:05"])) == ["cmu:05"]
    rng = np.random.default_rng(0)
    n = 120
    arrays = {"keypoints": rng.normal(500, 80, (n, 17, 2)).astype(np.float32), "mask": np.ones((n, 17), bool),
              "lifted": rng.normal(0, 0.3, (n, 17, 3)).astype(np.float32), "take": np.repeat([0, 1, 2], 40),
              "validation": np.repeat([False, False, True], 40)}
    arrays["truth"] = arrays["lifted"].copy()
    trainer = RefineTrainer(RefineConfig(steps=1, batch_size=8, window=5, width=16), arrays, lifter_digest="", data={})
    assert set(trainer.train_idx.tolist()) == set(range(80)) and set(trainer.val_idx.tolist()) == set(range(80, 120))
    assert trainer.validation_gain()["gain"] == 1.0  # an untrained refiner corrects nothing
    b = torch.from_numpy(rng.normal(0, 0.02, 51).astype(np.float32))
    trainer.ema["net.8.bias"] = b.clone()  # every frame's correction: b
    trainer.y[trainer.val_idx] = 0.5 * b  # the truth is half of it away
    got = trainer.validation_gain()
    assert got["gain"] == pytest.approx(0.5, abs=1e-4) and got["gain_mm"] == pytest.approx(0.0, abs=0.01)
    assert got["full_mm"] == pytest.approx(got["lifted_mm"], rel=1e-3)  # the full correction overshoots by as much


@pytest.mark.skipif(not all(p.exists() for p in TAKES), reason="../shared/fixtures is not present")
def test_lifted_training_stretches_can_each_have_a_body_of_their_own() -> None:
    """--bone-scale for the refiner: every stretch's truth is its take with one set of bone factors for all
    its frames (bone lengths constant over the stretch, differing from the take's), seen by the same
    cameras as without, and the lifter lifts that body's 2D."""
    from gfpose_cli import io
    from gfpose_cli.core.skeleton import bone_lengths
    from gfpose_cli.tasks.refine import lifted_takes
    from gfpose_cli.training import data

    take = io.read(TAKES[0])
    pos = take.positions[::4].astype(np.float32)  # 120 -> 30 Hz
    root = pos[:, 0].copy()
    pose_set = data.PoseSet(poses=pos - root[:, None], root=root, take=np.zeros(len(pos), int), takes=["12_01"],
                            subjects=["cmu:12"])
    runner = tasks.Runner.for_task("lift", None, tasks.SamplerOptions(seed=0, steps=4))
    plain = lifted_takes(runner, pose_set, views=2, max_frames=60, seed=3)
    shaped = lifted_takes(runner, pose_set, views=2, max_frames=60, seed=3, bone_scale=0.08, bone_corr=0.7)
    assert np.array_equal(plain["take"], shaped["take"]) and len(plain["truth"]) == 120
    for k in (0, 1):
        a, b = plain["truth"][plain["take"] == k], shaped["truth"][shaped["take"] == k]
        la, lb = bone_lengths(a.astype(np.float64)), bone_lengths(b.astype(np.float64))
        real = la.min(0) > 1e-3  # this map's zero-length bones have no factor to read
        ratio = lb[:, real] / la[:, real]
        assert real.sum() >= 12 and np.allclose(ratio, ratio[0], atol=1e-4)  # one body over the whole stretch
        assert np.abs(np.log(ratio[0])).max() > 0.01  # and not the take's own
        # the same stretch and camera: the pelvis is seen where it was, the rest moved with the bones
        ka, kb = plain["keypoints"][plain["take"] == k], shaped["keypoints"][shaped["take"] == k]
        assert np.allclose(ka[:, 0], kb[:, 0], atol=1e-3) and not np.allclose(a, b, atol=1e-3)
    assert not np.allclose(plain["lifted"], shaped["lifted"], atol=1e-3)

"""Checkpoints: save/load, exact resume, shipping copies, and clear errors for wrong files."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gfpose_cli.core.errors import CheckpointError, InputError
from gfpose_cli.model import checkpoint
from gfpose_cli.training.trainer import TrainConfig, Trainer

from .conftest import synthetic_poses


def make_trainer(task: str = "prior", steps: int = 6, seed: int = 3) -> Trainer:
    cfg = TrainConfig(task=task, steps=steps, batch_size=64, width=32, blocks=1, warmup=2, ema=0.9, seed=seed,
                      checkpoint_every_s=1e9)
    poses = torch.from_numpy(synthetic_poses(500))
    return Trainer(cfg, poses, poses[:100], {"test": True}, "cpu")


@pytest.mark.parametrize("task", ["prior", "lift", "complete3d"])
def test_resume_is_bit_for_bit(tmp_path: Path, task: str) -> None:
    straight = make_trainer(task, steps=6)
    straight.run(tmp_path / "a.pt")

    first = make_trainer(task, steps=3)
    first.run(tmp_path / "b.pt")
    resumed = make_trainer(task, steps=6)
    resumed.load_state(checkpoint.read(tmp_path / "b.pt"), tmp_path / "b.pt")
    assert resumed.step == 3
    resumed.run(tmp_path / "b.pt")

    a, b = checkpoint.read(tmp_path / "a.pt"), checkpoint.read(tmp_path / "b.pt")
    for key in a["ema"]:
        assert torch.equal(a["ema"][key], b["ema"][key]), key
    for key in a["train_state"]["model"]:
        assert torch.equal(a["train_state"]["model"][key], b["train_state"]["model"][key]), key


def test_checkpoint_records_config_data_and_version(tmp_path: Path) -> None:
    t = make_trainer("lift", steps=2)
    t.run(tmp_path / "full.pt", export=tmp_path / "ship.pt")
    ship = checkpoint.read(tmp_path / "ship.pt")
    assert "train_state" not in ship
    assert ship["train_config"]["task"] == "lift" and ship["train_config"]["mask"] == "HPJ-001+HPJ-020"
    assert ship["data_summary"] == {"test": True}
    assert ship["code_version"].startswith("0.")
    assert all(v.dtype == torch.float16 for v in ship["ema"].values() if v.is_floating_point())
    model = checkpoint.load_model(tmp_path / "ship.pt", "lift")
    assert model.network.config.cond_dim == 2
    assert (tmp_path / "ship.pt").stat().st_size < (tmp_path / "full.pt").stat().st_size / 3


def test_wrong_task_damaged_and_foreign_files_are_refused(tmp_path: Path) -> None:
    t = make_trainer("prior", steps=1)
    t.run(tmp_path / "prior.pt")
    with pytest.raises(CheckpointError, match="'prior' model; this command needs a 'lift'"):
        checkpoint.load_model(tmp_path / "prior.pt", "lift")
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes((tmp_path / "prior.pt").read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="damaged.pt"):
        checkpoint.load_model(damaged)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not a gfpose checkpoint"):
        checkpoint.load_model(foreign)
    with pytest.raises(CheckpointError, match="not found"):
        checkpoint.load_model(tmp_path / "missing.pt")


def test_resume_refuses_a_stripped_checkpoint(tmp_path: Path) -> None:
    t = make_trainer("prior", steps=1)
    t.run(tmp_path / "full.pt", export=tmp_path / "ship.pt")
    with pytest.raises(InputError, match="cannot be resumed"):
        make_trainer().load_state(checkpoint.read(tmp_path / "ship.pt"), tmp_path / "ship.pt")


def test_bad_config_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown task"):
        TrainConfig(task="dance")
    with pytest.raises(InputError, match="bad mask strategy"):
        TrainConfig(task="lift", mask="HPJ-9")


@pytest.mark.parametrize("task", ["prior", "lift", "complete3d"])
def test_shipped_checkpoint_metadata(task: str) -> None:
    """Each shipped file loads for its task and records config, data, normalisation and version."""
    from gfpose_cli.tasks import shipped_weights

    path = shipped_weights(task)
    model = checkpoint.load_model(path, task)
    meta = model.meta
    assert meta["task"] == task and meta["train_config"]["task"] == task
    assert meta["network_config"]["width"] == model.network.config.width
    assert {"cmu:02", "cmu:09", "cmu:12", "hdm05:mm"} <= set(meta["data_summary"]["held_out_subjects"])
    assert meta["data_summary"]["train_poses"] > 10000 and meta["step"] > 1000
    assert meta["code_version"].startswith("0.")
    assert torch.isfinite(model.normaliser.std).all() and (model.normaliser.std > 0).all()
    assert path.stat().st_size < 20_000_000


def test_bone_scale_gives_new_proportions_and_keeps_the_pose() -> None:
    """The augmentation changes bone lengths (left and right alike) but not bone directions or the root."""
    import numpy as np

    from gfpose_cli.model.problem import random_bone_scale
    from gfpose_cli.core.skeleton import MIRROR, PARENTS

    poses = torch.from_numpy(synthetic_poses(400)).float()
    scaled = random_bone_scale(poses, 0.05, torch.Generator().manual_seed(0))
    assert torch.equal(random_bone_scale(poses, 0.0), poses)
    assert torch.allclose(scaled[:, 0], poses[:, 0])
    child = list(range(1, 17))
    parent = [PARENTS[j] for j in child]
    bone0, bone1 = poses[:, child] - poses[:, parent], scaled[:, child] - scaled[:, parent]
    cos = torch.nn.functional.cosine_similarity(bone0, bone1, dim=-1)
    assert cos.min() > 1 - 1e-5  # directions (the joint angles) untouched
    ratio = (bone1.norm(dim=-1) / bone0.norm(dim=-1)).log()
    assert 0.04 < float(ratio.std()) < 0.06
    assert abs(float(ratio.mean())) < 0.01
    twin = [MIRROR[j] - 1 for j in child]
    assert torch.allclose(ratio, ratio[:, twin], atol=1e-5)  # the left thigh matches the right thigh
    assert not torch.allclose(ratio[:, 0], ratio[:, 6])  # but a thigh does not match the spine
    with pytest.raises(InputError):
        TrainConfig(bone_scale=-0.1)
    assert np.isfinite(scaled.numpy()).all()


def test_correlated_bone_scale_makes_a_long_thigh_come_with_a_long_shank() -> None:
    """With --bone-corr the bones of one group (legs, arms, trunk, girdles) share part of their log
    factor: thigh and shank factors correlate as asked, a leg and the spine do not, and each bone's
    spread stays sigma."""
    from gfpose_cli.model.problem import random_bone_scale

    poses = torch.from_numpy(synthetic_poses(4000)).float()
    factor = {}
    for rho in (0.0, 0.7):
        scaled = random_bone_scale(poses, 0.05, torch.Generator().manual_seed(0), correlation=rho)
        child = list(range(1, 17))
        parent = [0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]
        b0 = (poses[:, child] - poses[:, parent]).norm(dim=-1)
        b1 = (scaled[:, child] - scaled[:, parent]).norm(dim=-1)
        factor[rho] = (b1 / b0).log()
    thigh, shank, spine = 1, 2, 6  # bone index = child joint - 1 (RKnee, RAnkle, Spine)
    r = {rho: float(torch.corrcoef(f[:, [thigh, shank, spine]].T)[0, 1]) for rho, f in factor.items()}
    assert abs(r[0.0]) < 0.06 and 0.63 < r[0.7] < 0.77
    assert abs(float(torch.corrcoef(factor[0.7][:, [thigh, spine]].T)[0, 1])) < 0.06
    assert 0.045 < float(factor[0.7][:, thigh].std()) < 0.055
    with pytest.raises(InputError):
        TrainConfig(bone_scale=0.05, bone_corr=1.0)

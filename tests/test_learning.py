"""A short real training run must learn the body: bone lengths and left/right symmetry.

Data: CMU training poses from ../shared/data when present (one retargeted body), else
synthetic poses of one body that the test builds itself. Tolerances: the median relative
bone-length error of 1,000 generated poses must be under 12 % and the mean L/R asymmetry
under 30 %; the data has ~0 % on both, an untrained network gives ~40 %+ on both.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gfpose_cli.evaluation import metrics
from gfpose_cli.model.checkpoint import load_model
from gfpose_cli.training.trainer import TrainConfig, Trainer
from gfpose_cli.core.skeleton import bone_lengths
from gfpose_cli.tasks import Runner, SamplerOptions, generate

from .conftest import DATA, synthetic_poses

BONE_TOL, SYM_TOL = 0.12, 0.30


def training_poses() -> np.ndarray:
    if (DATA / "cmu-bvh.tar.xz").exists():
        from gfpose_cli.training import data

        train, _ = data.load_archive(DATA / "cmu-bvh.tar.xz").split()
        return train.poses[::3]
    return synthetic_poses(20000)


def sample_figures(tmp_path: Path, poses: np.ndarray, steps: int) -> tuple[float, float]:
    cfg = TrainConfig(task="prior", steps=steps, batch_size=256, width=256, blocks=2, lr=2e-3, lr_schedule="cosine",
                      warmup=50, ema=0.99, seed=0, checkpoint_every_s=1e9)
    trainer = Trainer(cfg, torch.from_numpy(poses), None, {"test": "learning"}, "cpu")
    trainer.run(tmp_path / "m.pt")
    trainer.save(tmp_path / "m.pt")
    runner = Runner(load_model(tmp_path / "m.pt"), SamplerOptions(sampler="dpm2m", steps=25, device="cpu"))
    generated = generate(runner, 1000).positions
    reference = np.median(bone_lengths(poses), axis=0)
    bone_err = float(np.median(np.abs(bone_lengths(generated) / reference - 1)))
    return bone_err, metrics.symmetry_error(generated)


def test_short_training_learns_bone_lengths_and_symmetry(tmp_path: Path) -> None:
    torch.manual_seed(0)
    poses = training_poses()
    untrained = sample_figures(tmp_path, poses, steps=0)
    assert untrained[0] > BONE_TOL and untrained[1] > SYM_TOL, f"untrained model already passes: {untrained}"
    trained = sample_figures(tmp_path, poses, steps=4000)
    assert trained[0] < BONE_TOL, f"median bone-length error {trained[0]:.1%} (untrained {untrained[0]:.1%})"
    assert trained[1] < SYM_TOL, f"L/R asymmetry {trained[1]:.1%} (untrained {untrained[1]:.1%})"

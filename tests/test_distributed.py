"""`gfpose train` under torchrun (2 gloo processes on CPU) follows single-process training."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gfpose_cli import io
from gfpose_cli.model import checkpoint
from gfpose_cli.core.take import Take

from .conftest import synthetic_poses

ARGS = ["--task", "lift", "--width", "64", "--blocks", "1", "--batch-size", "64", "--warmup", "2", "--ema", "0.9",
        "--no-holdout", "--device", "cpu", "-q", "--checkpoint-every", "1e9"]


def train(tmp_path: Path, out: str, steps: int, nproc: int, resume: str | None = None) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GFPOSE_CACHE": str(tmp_path / "cache")}
    cmd = ["-m", "gfpose_cli", "train", str(tmp_path / "poses.npz"), *ARGS, "--steps", str(steps), "-o", str(tmp_path / out)]
    if resume:
        cmd += ["--resume", str(tmp_path / resume)]
    if nproc > 1:
        torchrun = shutil.which("torchrun") or pytest.skip("torchrun is not on PATH")
        cmd = [torchrun, "--standalone", f"--nproc_per_node={nproc}", *cmd]
    else:
        cmd = [sys.executable, *cmd]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[:1500] + "\n...\n" + run.stderr[-1500:]  # head: the rank's own error
    return checkpoint.read(tmp_path / out)


def max_difference(a: dict, b: dict) -> float:
    return max(float((a["ema"][k] - b["ema"][k]).abs().max()) for k in a["ema"])


def test_two_gloo_processes_match_one_process_and_resume_across_n(tmp_path: Path) -> None:
    io.write(Take(positions=synthetic_poses(600)), tmp_path / "poses.npz")
    single = train(tmp_path, "single.pt", 8, 1)
    double = train(tmp_path, "double.pt", 8, 2)
    assert double["step"] == 8 and double["train_config"] == single["train_config"]
    assert max_difference(single, double) < 1e-6, "2-process DDP drifted from the same global batch on 1 process"
    # resume a 2-process checkpoint with 1 process: continues the same run
    train(tmp_path, "half.pt", 4, 2)
    shutil.copy(tmp_path / "half.pt", tmp_path / "resumed.pt")
    resumed = train(tmp_path, "resumed.pt", 8, 1, resume="resumed.pt")
    assert max_difference(single, resumed) < 1e-6
    assert np.isfinite([v.float().sum().item() for v in resumed["ema"].values()]).all()
    assert torch.is_tensor(resumed["normaliser"]["mean"])

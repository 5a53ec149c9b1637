"""A small deterministic 2D-to-3D lifter: the regression model of the paper's Table 8 protocol.

It answers one question for bench/synthetic.py: is a training set of generated poses as useful
as the same number of real poses? So it is plain on purpose (Martinez-style residual MLP,
L2 on joint positions, fixed camera views per pose, fixed steps) and identical for every set.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gfpose_cli.kinematics.geometry import normalise_2d  # noqa: E402
from gfpose_cli.core.skeleton import N_JOINTS  # noqa: E402


class Lifter(nn.Module):
    """Normalised 2D (17x2) -> root-relative camera-frame 3D (17x3, metres)."""

    def __init__(self, width: int = 512, blocks: int = 2, dropout: float = 0.1) -> None:
        super().__init__()
        self.inp = nn.Linear(N_JOINTS * 2, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.ReLU(), nn.Dropout(dropout), nn.Linear(width, width),
                          nn.LayerNorm(width), nn.ReLU(), nn.Dropout(dropout), nn.Linear(width, width))
            for _ in range(blocks))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.ReLU(), nn.Linear(width, N_JOINTS * 3))

    def forward(self, kp: torch.Tensor) -> torch.Tensor:
        mask = torch.ones(kp.shape[:2], dtype=torch.bool, device=kp.device)
        h = self.inp(normalise_2d(kp, mask).flatten(1))
        for block in self.blocks:
            h = h + block(h)
        out = self.out(h).view(-1, N_JOINTS, 3)
        return out - out[:, :1]


def training_pairs(poses: np.ndarray, cam_R: np.ndarray, poses_2d: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """All (2D view, camera-frame 3D) pairs of a set: poses (N, 17, 3) root-relative, K views each."""
    cam3d = np.einsum("nkij,nqj->nkqi", cam_R, poses - poses[:, :1])
    return (torch.from_numpy(poses_2d.reshape(-1, N_JOINTS, 2).astype(np.float32)),
            torch.from_numpy(cam3d.reshape(-1, N_JOINTS, 3).astype(np.float32)))


def train_lifter(kp: torch.Tensor, target: torch.Tensor, steps: int = 6000, batch: int = 256,
                 lr: float = 1e-3, seed: int = 0, log: bool = False) -> Lifter:
    """Fit a Lifter by MPJPE regression with Adam and cosine decay; deterministic for a seed."""
    torch.manual_seed(seed)
    model = Lifter()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for step in range(steps):
        idx = torch.randint(0, len(kp), (batch,), generator=g)
        loss = (model(kp[idx]) - target[idx]).norm(dim=-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if log and (step + 1) % 1000 == 0:
            print(f"  step {step + 1}/{steps}: loss {loss.item() * 1000:.1f} mm ({time.perf_counter() - t0:.0f} s)",
                  file=sys.stderr, flush=True)
    return model.eval()


@torch.inference_mode()
def lift_mpjpe(model: Lifter, kp: np.ndarray, cam3d: np.ndarray) -> float:
    """Root-relative MPJPE (mm) of the lifter on held-out views."""
    pred = model(torch.from_numpy(kp.astype(np.float32))).numpy()
    truth = cam3d - cam3d[:, :1]
    return float(np.linalg.norm(pred - truth, axis=-1).mean() * 1000.0)

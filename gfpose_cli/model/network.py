"""Score network s(x, t | c, m): a Martinez-style residual MLP (the GFPose paper).

The network predicts the noise eps in x_t = alpha_t x0 + sigma_t eps; the score is -eps/sigma_t.
Predicting eps keeps the output O(1) at every t, and the sigma_t^2-weighted DSM loss becomes a
plain MSE on eps. The condition enters masked, together with the mask itself, so "missing" is
never confused with "at the origin".
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from gfpose_cli.core.skeleton import N_JOINTS


@dataclass
class NetworkConfig:
    pose_dim: int = 3  # coordinates per joint of x
    cond_dim: int = 0  # coordinates per joint of the condition (0 = unconditional)
    width: int = 1024
    blocks: int = 2
    dropout: float = 0.0
    time_dim: int = 128
    #: the performer's bone lengths as an input (issue 26): the last length_dim numbers of cond are
    #: problem.length_features (16 scaled log-ratios to length_ref, and a flag: 1 given, 0 not); 0 = no such input
    length_dim: int = 0
    length_ref: list[float] | None = None  # reference bone lengths (16, metres): the training poses' medians

    def to_dict(self) -> dict:
        return asdict(self)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of t in [0, 1] (scaled to [0, 1000] like DDPM timesteps)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = 1000.0 * t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


class ResidualBlock(nn.Module):
    """(linear - LayerNorm - ReLU - dropout) x 2 with a skip connection and a time bias."""

    def __init__(self, width: int, time_dim: int, dropout: float) -> None:
        super().__init__()
        self.time = nn.Linear(time_dim, width)
        self.layers = nn.Sequential(
            nn.Linear(width, width), nn.LayerNorm(width), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width, width), nn.LayerNorm(width), nn.ReLU(), nn.Dropout(dropout),
        )

    def forward(self, h: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        return h + self.layers(h + self.time(temb))


class ScoreNetwork(nn.Module):
    """Predicts eps for noisy poses x_t (B, 17*pose_dim) given t, condition and mask (cond (B,
    17*cond_dim + length_dim): with length_dim, the performer's bone-length features come last). An
    unconditional network with the length input (a length-conditioned prior) reads cond as the (B,
    length_dim) features alone, and cond None as 'lengths not given'."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        in_dim = N_JOINTS * c.pose_dim + (N_JOINTS * c.cond_dim + N_JOINTS if c.cond_dim else 0)
        self.time_mlp = nn.Sequential(nn.Linear(c.time_dim, c.time_dim), nn.SiLU(), nn.Linear(c.time_dim, c.time_dim))
        # the length features come last, so a network without them warm-starts one with them (zero columns)
        self.inp = nn.Linear(in_dim + c.time_dim + c.length_dim, c.width)
        self.blocks = nn.ModuleList(ResidualBlock(c.width, c.time_dim, c.dropout) for _ in range(c.blocks))
        self.out = nn.Linear(c.width, N_JOINTS * c.pose_dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        temb = self.time_mlp(timestep_embedding(t, self.config.time_dim))
        parts, lengths = [x], []
        if self.config.length_dim and not self.config.cond_dim:
            lengths = [cond.to(x.dtype) if cond is not None else x.new_zeros(x.shape[0], self.config.length_dim)]
        elif self.config.cond_dim:
            if cond is None or mask is None:
                raise ValueError("this network is conditional: pass cond and mask")
            if self.config.length_dim:
                cond, lengths = cond[:, : -self.config.length_dim], [cond[:, -self.config.length_dim :]]
            m = mask.to(x.dtype)
            joint_mask = m.repeat_interleave(self.config.cond_dim, dim=-1)
            parts += [cond * joint_mask, m]
        h = self.inp(torch.cat(parts + [temb] + lengths, dim=-1))
        for block in self.blocks:
            h = block(h, temb)
        return self.out(h)

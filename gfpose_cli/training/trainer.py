"""Denoising score matching on the subVP SDE, with EMA, periodic checkpoints and exact resume.

All randomness of a run (batch indices, augmentation, masks, t, noise) comes from one
torch.Generator whose state is saved with the weights, so a resumed run continues bit for bit
on the same device.
"""
from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from gfpose_cli.core.errors import InputError, ParameterError
from gfpose_cli.model import checkpoint
from gfpose_cli.training.distributed import DistContext
from gfpose_cli.model.masks import parse_strategy, sample_mask
from gfpose_cli.model.network import NetworkConfig, ScoreNetwork
from gfpose_cli.core.skeleton import bone_lengths
from gfpose_cli.model.problem import (COND_DIM, DEFAULT_MASK, LENGTH_DIM, LENGTH_TASKS, TASKS, Normaliser, encode_condition,
                                      length_features, task_batch)
from gfpose_cli.model.sde import SubVPSDE


@dataclass
class TrainConfig:
    task: str = "prior"
    mask: str = ""  # empty = the task's default strategy
    steps: int = 10000
    batch_size: int = 1000
    lr: float = 2e-4
    lr_schedule: str = "constant"  # constant | cosine
    warmup: int = 500
    ema: float = 0.9999
    width: int = 1024
    blocks: int = 2
    dropout: float = 0.0
    mirror: bool = False
    bone_scale: float = 0.0  # std of the log bone-length factors (problem.random_bone_scale); 0 = off
    bone_corr: float = 0.0  # how much of them the bones of one group share (problem.BONE_GROUPS); 0 = each alone
    #: the share of training rows that see their pose's bone lengths as an input (the network then takes a
    #: performer's lengths: problem.length_features; lift, prior and complete3d); 0 = a network without that input
    lengths: float = 0.0
    seed: int = 0
    checkpoint_every_s: float = 300.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise InputError(f"unknown task {self.task!r}; choose from {', '.join(TASKS)}")
        self.mask = self.mask or DEFAULT_MASK[self.task]
        try:
            parse_strategy(self.mask)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        if not 0 <= self.bone_scale <= 0.5:
            raise ParameterError("bone_scale", f"{self.bone_scale} is outside 0..0.5 (a log-length std; 0.05 is 5 %)")
        if not 0 <= self.bone_corr < 1:
            raise ParameterError("bone_corr", f"{self.bone_corr} is outside 0..1 (the share of a bone's factor its group shares)")
        if not 0 <= self.lengths <= 1:
            raise ParameterError("lengths", f"{self.lengths} is outside 0..1 (the share of rows given their bone lengths)")
        if self.lengths and self.task not in LENGTH_TASKS:
            raise ParameterError("lengths", f"the bone-length input is for the {', '.join(LENGTH_TASKS)} tasks, not {self.task}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise InputError(f"unknown {{lr_schedule}} {self.lr_schedule!r}; choose constant or cosine")


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then constant or cosine decay to zero at cfg.steps."""
    warm = min(1.0, (step + 1) / max(cfg.warmup, 1))
    if cfg.lr_schedule == "cosine":
        progress = min(1.0, step / max(cfg.steps, 1))
        return cfg.lr * warm * 0.5 * (1 + math.cos(math.pi * progress))
    return cfg.lr * warm


def ema_decay(cfg: TrainConfig, step: int) -> float:
    """EMA decay with the usual warm-up, so short runs are not dominated by the initial weights."""
    return min(cfg.ema, (1 + step) / (10 + step))


class Trainer:
    """Holds model, EMA, optimiser and RNG; `run()` trains until cfg.steps with checkpoints."""

    def __init__(self, cfg: TrainConfig, train_poses: torch.Tensor, val_poses: torch.Tensor | None,
                 data_summary: dict[str, Any], device: str | torch.device = "cpu",
                 weights: torch.Tensor | None = None, dist: DistContext = DistContext()) -> None:
        checkpoint.code_version()  # fixed now: the code that starts the run is the code recorded
        self.cfg, self.device, self.dist = cfg, torch.device(device), dist
        if cfg.batch_size % dist.world:
            raise ParameterError("batch_size", f"{cfg.batch_size} must divide evenly among {dist.world} processes")
        self.sde = SubVPSDE()
        self.poses = train_poses.to(self.device, torch.float32)
        self.val = None if val_poses is None or len(val_poses) == 0 else val_poses.to(self.device, torch.float32)
        self.data_summary = data_summary
        # sampling distribution over poses (uniform unless weights are given), as a CDF for searchsorted
        w = torch.ones(len(self.poses), dtype=torch.float64) if weights is None else weights.double()
        self.cdf = (torch.cumsum(w, 0) / w.sum()).to(self.device)
        self.strategies = parse_strategy(cfg.mask)
        torch.manual_seed(cfg.seed)
        self.net_cfg = NetworkConfig(cond_dim=COND_DIM[cfg.task], width=cfg.width, blocks=cfg.blocks, dropout=cfg.dropout,
                                     **self._length_input())
        self.net = ScoreNetwork(self.net_cfg).to(self.device)
        self.ema = ScoreNetwork(self.net_cfg).to(self.device)
        self.ema.load_state_dict(self.net.state_dict())
        self.ema.requires_grad_(False)
        self.ema.eval()  # no dropout in the EMA model used for validation and shipping
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        self.trained = self.net  # what forward/backward go through: the DDP wrapper under torchrun
        if dist.active:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.trained = DistributedDataParallel(self.net, device_ids=ids)
        self.gen = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.normaliser = self._fit_normaliser()

    def _length_input(self) -> dict[str, Any]:
        """The network's bone-length input (cfg.lengths > 0): its size and reference lengths, the
        medians of the training poses' bones."""
        if not self.cfg.lengths:
            return {}
        sample = self.poses[:: max(1, len(self.poses) // 50000)]
        ref = torch.median(bone_lengths(sample.double()), dim=0).values
        return {"length_dim": LENGTH_DIM, "length_ref": [round(float(v), 5) for v in ref]}

    def _fit_normaliser(self) -> Normaliser:
        g = torch.Generator(device=self.device).manual_seed(self.cfg.seed + 1)
        n = min(len(self.poses), 50000)
        idx = torch.randint(len(self.poses), (n,), generator=g, device=self.device)
        x, _ = task_batch(self.cfg.task, self.poses[idx], g, self.cfg.mirror, self.cfg.bone_scale, self.cfg.bone_corr)
        return Normaliser.fit(x.cpu())

    def task_inputs(self, poses: torch.Tensor, gen: torch.Generator
                    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """A batch's augmented, normalised targets x0 and, for a conditional task, the condition the
        network reads and its mask (None, None for the prior; a length-conditioned prior's condition is
        the bone-length features alone, its mask None), drawn from gen in this order."""
        x_metric, raw = task_batch(self.cfg.task, poses, gen, self.cfg.mirror, self.cfg.bone_scale, self.cfg.bone_corr)
        x0 = self.normaliser.encode(x_metric)
        mask = sample_mask(x0.shape[0], self.strategies, gen, self.device) if self.net_cfg.cond_dim else None
        lengths = None
        if self.net_cfg.length_dim:  # the pose's own bone lengths, for a share cfg.lengths of the rows
            given = (torch.rand(x0.shape[0], generator=gen, device=self.device) < self.cfg.lengths).float()
            ref = torch.tensor(self.net_cfg.length_ref, device=self.device)
            lengths = length_features(bone_lengths(x_metric), ref, x0.shape[0], given)
        if mask is None:
            return x0, lengths, None  # the prior: no condition but the bone lengths, if it reads them
        cond = encode_condition(self.cfg.task, raw, x0, mask, self.normaliser)
        if lengths is not None:
            cond = torch.cat([cond, lengths], dim=1)
        return x0, cond, mask

    def loss(self, poses: torch.Tensor, gen: torch.Generator, net: torch.nn.Module,
             part: slice = slice(None)) -> torch.Tensor:
        """sigma_t^2-weighted DSM loss == MSE between predicted and true noise.

        All randomness is drawn for the whole batch; only rows `part` go through the network.
        """
        x0, cond, mask = self.task_inputs(poses, gen)
        B = x0.shape[0]
        t = self.sde.eps + (1 - self.sde.eps) * torch.rand(B, generator=gen, device=self.device)
        noise = torch.randn(x0.shape, generator=gen, device=self.device)
        mean, std = self.sde.marginal_prob(x0, t)
        xt = mean + std[:, None] * noise
        cond = None if cond is None else cond[part]
        mask = None if mask is None else mask[part]
        return ((net(xt[part], t[part], cond, mask) - noise[part]) ** 2).sum(-1).mean()

    def batch_loss(self) -> torch.Tensor:
        """The loss of one training batch (this process's rows of it under torchrun)."""
        u = torch.rand(self.cfg.batch_size, generator=self.gen, device=self.device, dtype=torch.float64)
        idx = torch.searchsorted(self.cdf, u).clamp_max(len(self.poses) - 1)
        return self.loss(self.poses[idx], self.gen, self.trained, self.dist.batch_slice(self.cfg.batch_size))

    def train_step(self) -> float:
        loss = self.batch_loss()
        for group in self.opt.param_groups:
            group["lr"] = learning_rate(self.cfg, self.step)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        decay = ema_decay(self.cfg, self.step)
        with torch.no_grad():  # one fused update for all tensors: the per-tensor loop was launch-bound on GPU
            torch._foreach_lerp_(list(self.ema.parameters()), list(self.net.parameters()), 1 - decay)
        self.step += 1
        return float(loss.detach())

    @torch.no_grad()
    def validate(self, n: int = 4000) -> float:
        """DSM loss of the EMA model on held-out poses with fixed noise (comparable across steps)."""
        if self.val is None:
            return float("nan")
        g = torch.Generator(device=self.device).manual_seed(12345)
        idx = torch.randint(len(self.val), (min(n, 4 * len(self.val)),), generator=g, device=self.device)
        return float(self.loss(self.val[idx], g, self.ema))

    def state(self) -> dict[str, Any]:
        return {
            "task": self.cfg.task,
            "network_config": self.net_cfg.to_dict(),
            "train_config": asdict(self.cfg),
            "normaliser": self.normaliser.to_dict(),
            "data_summary": self.data_summary,
            "code_version": checkpoint.code_version(),
            "step": self.step,
            "history": self.history,
            "ema": {k: v.detach().cpu() for k, v in self.ema.state_dict().items()},
            "train_state": {
                "model": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
                "optimizer": self.opt.state_dict(),
                "generator": self.gen.get_state(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state() if self.device.type == "cuda" else torch.zeros(0, dtype=torch.uint8),
            },
        }

    def load_state(self, data: dict[str, Any], path: Path) -> None:
        """Restore a resumable checkpoint; the config must match except steps and checkpoint cadence."""
        ts = data.get("train_state")
        if ts is None:
            raise InputError(f"{path}: a shipped (stripped) checkpoint cannot be resumed; resume from the training checkpoint")
        if data["task"] != self.cfg.task:
            raise InputError(f"{path}: resuming a '{data['task']}' run with {{task}} {self.cfg.task}")
        self.net.load_state_dict(ts["model"])
        self.ema.load_state_dict(data["ema"])
        self.opt.load_state_dict(ts["optimizer"])
        self.gen.set_state(ts["generator"])
        torch.set_rng_state(ts["torch_rng"])
        if self.device.type == "cuda" and ts.get("cuda_rng") is not None and len(ts["cuda_rng"]):
            torch.cuda.set_rng_state(ts["cuda_rng"])
        self.normaliser = Normaliser.from_dict(data["normaliser"])
        self.step = int(data["step"])
        self.history = list(data.get("history", []))

    def init_from(self, data: dict[str, Any], path: Path) -> None:
        """Warm start from another checkpoint's EMA weights and normalisation (a fresh optimiser and step 0)."""
        theirs = NetworkConfig(**data["network_config"]).to_dict()
        # a network without the bone-length input warm-starts one with it: the new inputs start at zero weight
        widen = self.net_cfg.length_dim and not theirs["length_dim"]
        if widen:
            theirs.update(length_dim=self.net_cfg.length_dim, length_ref=self.net_cfg.length_ref)
        if data["task"] != self.cfg.task or theirs != self.net_cfg.to_dict():
            raise InputError(f"{path}: {{init_from}} needs a '{self.cfg.task}' checkpoint with the same network "
                             f"(it is a '{data['task']}' model with {data['network_config']})")
        weights = {k: v.float() for k, v in data["ema"].items()}
        if widen:
            w = weights["inp.weight"]
            weights["inp.weight"] = torch.cat([w, w.new_zeros(w.shape[0], self.net_cfg.length_dim)], dim=1)
        self.net.load_state_dict(weights)
        self.ema.load_state_dict(weights)
        self.normaliser = Normaliser.from_dict(data["normaliser"])
        self.data_summary = {**self.data_summary, "init_from": str(path), "init_steps": int(data.get("step", 0))}

    def save(self, path: Path, export: Path | None = None) -> None:
        """Write the checkpoint (rank 0 only under torchrun: all ranks hold the same state)."""
        if not self.dist.is_main:
            return
        checkpoint.save(path, self.state())
        if export is not None:
            checkpoint.strip(path, export)

    def run(self, out: Path, export: Path | None = None,
            on_step: Callable[[int, float], None] | None = None,
            on_checkpoint: Callable[[int, float, float], None] | None = None) -> None:
        """Train to cfg.steps, checkpointing every cfg.checkpoint_every_s seconds and on SIGTERM/Ctrl-C."""
        stop = {"signal": None}

        def request_stop(signum, _frame):
            stop["signal"] = signum

        previous = signal.signal(signal.SIGTERM, request_stop)
        last_save = time.monotonic()
        self.net.train()
        try:
            while self.step < self.cfg.steps:
                loss = self.train_step()
                if on_step:
                    on_step(self.step, loss)
                due = time.monotonic() - last_save >= self.cfg.checkpoint_every_s
                if (due or self.step == self.cfg.steps or stop["signal"]) and self.dist.is_main:
                    val = self.validate()
                    self.history.append({"step": self.step, "loss": loss, "val_loss": val, "time": time.time()})
                    self.save(out, export)
                    last_save = time.monotonic()
                    if on_checkpoint:
                        on_checkpoint(self.step, loss, val)
                if stop["signal"]:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            if self.step and not stop["signal"]:
                self.save(out, export)
            raise
        finally:
            signal.signal(signal.SIGTERM, previous)

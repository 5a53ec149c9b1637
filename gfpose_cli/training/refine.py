"""Training the take refiner (model.refiner) on lifted takes: checkpoints and exact resume.

The lifted takes come from tasks.refine.lifted_takes (the shipped lifter's take lifts of the training
takes, seen by random still cameras); they are cached beside the run's checkpoint so a resumed run
trains on the same frames. All randomness of the optimisation comes from one torch.Generator saved
with the weights.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import N_JOINTS
from gfpose_cli.model import checkpoint
from gfpose_cli.model.refiner import RefinerConfig, TakeRefiner, frame_features, payload, window_index


@dataclass
class RefineConfig:
    steps: int = 8000
    batch_size: int = 256
    lr: float = 5e-4
    warmup: int = 300
    ema: float = 0.999
    window: int = 31
    width: int = 1024
    dropout: float = 0.1
    seed: int = 0
    checkpoint_every_s: float = 300.0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise InputError("--steps and --batch-size must be at least 1")
        RefinerConfig(window=self.window, width=self.width, dropout=self.dropout)  # checks the window


def learning_rate(cfg: RefineConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to zero at cfg.steps."""
    warm = min(1.0, (step + 1) / max(cfg.warmup, 1))
    return cfg.lr * warm * 0.5 * (1 + math.cos(math.pi * min(1.0, step / cfg.steps)))


def mean_joint_error(error: torch.Tensor) -> torch.Tensor:
    """Mean per-joint distance (metres) of (N, 51) position errors."""
    return error.reshape(len(error), N_JOINTS, 3).norm(dim=-1).mean()


class RefineTrainer:
    """Fits a TakeRefiner to lifted takes: arrays keypoints (N, 17, 2), mask (N, 17), lifted and truth
    (N, 17, 3), take (N,) with each take's frames contiguous, and optionally validation (N,): frames
    it never trains on, where each checkpoint measures the gain (validation_gain) its corrections
    are applied with."""

    def __init__(self, cfg: RefineConfig, arrays: dict[str, np.ndarray], *, lifter_digest: str, data: dict):
        if len(arrays["lifted"]) == 0:
            raise InputError("no lifted frames to train the refiner on")
        self.cfg, self.lifter_digest, self.data = cfg, lifter_digest, data
        feats = frame_features(arrays["keypoints"], arrays["mask"], arrays["lifted"])
        self.x = torch.from_numpy(feats)
        self.y = torch.from_numpy((arrays["truth"] - arrays["lifted"]).reshape(len(feats), -1).astype(np.float32))
        self.windows = torch.from_numpy(window_index(arrays["take"], cfg.window))
        held = np.asarray(arrays.get("validation", np.zeros(len(feats), bool)), bool)
        self.train_idx = torch.from_numpy(np.flatnonzero(~held))
        self.val_idx = torch.from_numpy(np.flatnonzero(held))
        if len(self.train_idx) == 0:
            raise InputError("every lifted frame is a validation frame; the refiner needs takes of more subjects")
        torch.manual_seed(cfg.seed)
        self.model = TakeRefiner(RefinerConfig(window=cfg.window, width=cfg.width, dropout=cfg.dropout))
        self.ema = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=1e-4)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.step = 0

    def loss(self, idx: torch.Tensor) -> torch.Tensor:
        """Mean per-joint position error (metres) of the corrected middle frames of idx's windows."""
        return mean_joint_error(self.model(self.x[self.windows[idx]]) - self.y[idx])

    @torch.no_grad()
    def validation_gain(self) -> dict:
        """The EMA refiner on the validation frames: the gain g in [0, 1] that minimises the squared
        error of lifted + g * correction (least squares: <c, r> / <c, c>, r the lifted frame's error),
        with the mean per-joint error (mm) as lifted, fully corrected and at g. Without validation
        frames the gain is 1."""
        if len(self.val_idx) == 0:
            return {"gain": 1.0}
        model = TakeRefiner(self.model.cfg)
        model.load_state_dict(self.ema)
        model.eval()
        c = torch.cat([model(self.x[self.windows[i]]) for i in self.val_idx.split(4096)]).double()
        r = self.y[self.val_idx].double()
        gain = float((c * r).sum() / (c * c).sum().clamp_min(1e-12)) if c.abs().sum() > 0 else 1.0
        gain = min(1.0, max(0.0, gain))

        def mpjpe(e: torch.Tensor) -> float:
            return round(1000 * float(mean_joint_error(e)), 2)

        return {"gain": round(gain, 4), "lifted_mm": mpjpe(r), "full_mm": mpjpe(r - c), "gain_mm": mpjpe(r - gain * c)}

    def state(self) -> dict:
        return {**payload(self.model, {k: v.clone() for k, v in self.ema.items()}, lifter_digest=self.lifter_digest,
                          data=self.data, config=asdict(self.cfg)),
                "step": self.step,
                "train_state": {"model": self.model.state_dict(), "opt": self.opt.state_dict(),
                                "gen": self.gen.get_state()}}

    def load_state(self, ckpt: dict, where: Path) -> None:
        if ckpt.get("task") != "refine" or "train_state" not in ckpt:
            raise InputError(f"{where}: not a resumable take-refiner run")
        if ckpt.get("config", {}).get("window") != self.cfg.window or ckpt.get("config", {}).get("width") != self.cfg.width:
            raise InputError(f"{where}: was trained with another --window or --width; resume with the same ones")
        ts = ckpt["train_state"]
        self.model.load_state_dict(ts["model"])
        self.opt.load_state_dict(ts["opt"])
        self.gen.set_state(ts["gen"])
        self.ema = {k: v.float().clone() for k, v in ckpt["ema"].items()}
        self.step = int(ckpt["step"])

    def save(self, output: Path, export: Path | None) -> None:
        """Write the run's state (and the fp16 export), the gain measured anew on the validation frames."""
        self.data = {**self.data, "validation": self.validation_gain()}
        checkpoint.save(output, self.state())
        if export is not None:
            checkpoint.strip(output, export)

    def run(self, output: Path, export: Path | None = None,
            on_step: Callable[[int, float], None] | None = None,
            on_ckpt: Callable[[int, float], None] | None = None) -> None:
        """Train to cfg.steps, writing output (and the fp16 export) every checkpoint_every_s and at the end."""
        cfg, last = self.cfg, time.monotonic()
        self.model.train()
        loss = float("nan")
        while self.step < cfg.steps:
            for group in self.opt.param_groups:
                group["lr"] = learning_rate(cfg, self.step)
            idx = self.train_idx[torch.randint(0, len(self.train_idx), (cfg.batch_size,), generator=self.gen)]
            value = self.loss(idx)
            self.opt.zero_grad(set_to_none=True)
            value.backward()
            self.opt.step()
            decay = min(cfg.ema, (1 + self.step) / (10 + self.step))
            with torch.no_grad():
                for k, v in self.model.state_dict().items():
                    self.ema[k].mul_(decay).add_(v.detach(), alpha=1 - decay) if v.is_floating_point() else self.ema[k].copy_(v)
            self.step += 1
            loss = float(value.detach())
            if on_step:
                on_step(self.step, loss)
            if time.monotonic() - last >= cfg.checkpoint_every_s or self.step == cfg.steps:
                self.save(output, export)
                last = time.monotonic()
                if on_ckpt:
                    on_ckpt(self.step, loss)
        self.model.eval()

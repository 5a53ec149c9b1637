"""Few-step students distilled from a trained score model (`gfpose train --distill-from TEACHER`).

The teacher samples with its default solver (DPM-Solver++(2M), 25 network evaluations) from a
starting noise z; the student is a network of the same shape, started from the teacher's weights,
trained so that the same solver with only k steps (k network evaluations) from the same z lands
where the teacher does: the loss is the squared distance, in the model's normalised space, between
the student's k-step sample and the teacher's, back-propagated through the k steps. This is
knowledge distillation of the sampler's map z -> x0 (Luhman & Luhman 2021), run through a few-step
solver so that the student stays a score network and every command samples it unchanged; for the
conditional tasks the condition and its mask come with z, drawn from the training poses as in
score matching. The teacher's samples are drawn once for a pool of starting points (fp32, seeded:
a resumed run rebuilds the same pool on the same device) and the student trains on batches of it.

A student checkpoint is a checkpoint of the teacher's task with a `distill` record (the teacher's
file digest, k, the starting noise's temperature): the sampler runs it with k steps and that
temperature unless told otherwise.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from gfpose_cli.core.errors import InputError, ParameterError
from gfpose_cli.core.skeleton import N_JOINTS, bone_lengths
from gfpose_cli.model.network import NetworkConfig, ScoreNetwork
from gfpose_cli.model.sampling import dpm_solver_2m
from gfpose_cli.training.distributed import DistContext
from gfpose_cli.training.trainer import TrainConfig, Trainer
from gfpose_cli.util.provenance import file_digest


@dataclass
class DistillConfig:
    student_steps: int = 4  # network evaluations per sample of the student
    teacher_steps: int = 25  # the teacher's solver steps (its default)
    temperature: float = 0.8  # the starting noise's scale (the task's sampling default)
    pool: int = 200_000  # starting points the teacher samples once
    chunk: int = 4096  # rows per teacher batch while building the pool
    #: weight of the bone-length term: the student's bone lengths against the teacher's sample's (in
    #: decimetres, summed over the 16 bones), next to the distance in the normalised space; 0 = off.
    #: Small coordinate errors show most in bone lengths and left/right symmetry, which the set's
    #: quality is judged by
    bone_weight: float = 0.0

    def __post_init__(self) -> None:
        if not 1 <= self.student_steps < self.teacher_steps:
            raise ParameterError("student_steps", f"{self.student_steps}: must be at least 1 and fewer than the "
                                 f"teacher's {self.teacher_steps}")
        if not 0.0 < self.temperature <= 2.0:
            raise ParameterError("temperature", f"must be in (0, 2], got {self.temperature}")
        if self.bone_weight < 0:
            raise ParameterError("bone_weight", f"{self.bone_weight}: must be 0 or more")
        if self.pool < 1000:
            raise ParameterError("pool", f"{self.pool}: a pool of at least 1,000 starting points")


class Distiller(Trainer):
    """A Trainer whose network learns to reach, in student_steps solver steps, the teacher's samples."""

    def __init__(self, cfg: TrainConfig, train_poses: torch.Tensor, val_poses: torch.Tensor | None,
                 data_summary: dict[str, Any], device: str | torch.device, weights: torch.Tensor | None,
                 dist: DistContext, *, teacher: dict[str, Any], teacher_path: Path, distill: DistillConfig) -> None:
        net = teacher["network_config"]
        cfg = replace(cfg, width=net["width"], blocks=net["blocks"], dropout=net["dropout"])  # the teacher's shape
        super().__init__(cfg, train_poses, val_poses, data_summary, device, weights, dist)
        self.init_from(teacher, teacher_path)  # the student starts as the teacher
        self.distill = distill
        self.teacher_record = {"teacher": str(teacher_path), "teacher_sha256": file_digest(teacher_path),
                               "teacher_steps": distill.teacher_steps, "student_steps": distill.student_steps,
                               "temperature": distill.temperature, "sampler": "dpm2m", "pool": distill.pool,
                               "bone_weight": distill.bone_weight}
        self.data_summary = {**self.data_summary, "distill": self.teacher_record}
        self.teacher = ScoreNetwork(NetworkConfig(**net)).to(self.device)
        self.teacher.load_state_dict({k: v.float() for k, v in teacher["ema"].items()})
        self.teacher.requires_grad_(False)
        self.teacher.eval()
        self.pool = self._pool(distill.pool, self.cfg.seed + 7, self.poses)
        self.val_pool = self._pool(min(4000, distill.pool), 12345, self.val if self.val is not None else self.poses)

    def _solve(self, net: torch.nn.Module, z: torch.Tensor, cond: torch.Tensor | None, mask: torch.Tensor | None,
               steps: int) -> torch.Tensor:
        return dpm_solver_2m(lambda xt, t: net(xt, t, cond, mask), self.sde, z, steps)

    @torch.no_grad()
    def _pool(self, n: int, seed: int, poses: torch.Tensor) -> dict[str, torch.Tensor]:
        """n starting points (with conditions for a conditional task) and the teacher's samples from them."""
        g = torch.Generator(device=self.device).manual_seed(seed)
        parts: dict[str, list[torch.Tensor]] = {"z": [], "x": [], "cond": [], "mask": []}
        for start in range(0, n, self.distill.chunk):
            b = min(self.distill.chunk, n - start)
            z = torch.randn((b, self.net_cfg.pose_dim * N_JOINTS), generator=g, device=self.device) * self.distill.temperature
            cond = mask = None
            if self.net_cfg.cond_dim:
                idx = torch.randint(len(poses), (b,), generator=g, device=self.device)
                _, cond, mask = self.task_inputs(poses[idx], g)
                parts["cond"].append(cond)
                parts["mask"].append(mask)
            parts["z"].append(z)
            parts["x"].append(self._solve(self.teacher, z, cond, mask, self.distill.teacher_steps))
        return {k: torch.cat(v) for k, v in parts.items() if v}

    def _pool_loss(self, pool: dict[str, torch.Tensor], idx: torch.Tensor, net: torch.nn.Module) -> torch.Tensor:
        cond = pool["cond"][idx] if "cond" in pool else None
        mask = pool["mask"][idx] if "mask" in pool else None
        x = self._solve(net, pool["z"][idx], cond, mask, self.distill.student_steps)
        loss = ((x - pool["x"][idx]) ** 2).sum(-1).mean()
        if self.distill.bone_weight:
            lengths = [bone_lengths(self.normaliser.decode(v)) for v in (x, pool["x"][idx])]
            loss = loss + self.distill.bone_weight * ((10.0 * (lengths[0] - lengths[1])) ** 2).sum(-1).mean()
        return loss

    def batch_loss(self) -> torch.Tensor:
        idx = torch.randint(len(self.pool["z"]), (self.cfg.batch_size,), generator=self.gen, device=self.device)
        return self._pool_loss(self.pool, idx[self.dist.batch_slice(self.cfg.batch_size)], self.trained)

    @torch.no_grad()
    def validate(self, n: int = 4000) -> float:
        """The EMA student's squared distance to the teacher on a fixed pool of held-out starting points."""
        return float(self._pool_loss(self.val_pool, torch.arange(len(self.val_pool["z"]), device=self.device), self.ema))

    def state(self) -> dict[str, Any]:
        return {**super().state(), "distill": self.teacher_record, "distill_config": asdict(self.distill)}

    def load_state(self, data: dict[str, Any], path: Path) -> None:
        if data.get("distill", {}).get("teacher_sha256") != self.teacher_record["teacher_sha256"]:
            raise InputError(f"{path}: resuming a student of another teacher (or not a student); pass the run's "
                             "own {distill_from}")
        super().load_state(data, path)

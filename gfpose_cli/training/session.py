"""A training run's setup, as `gfpose train` does it: the pose set from the inputs (split by subject,
files that cannot be used listed), and a Trainer on it, warm-started or resumed.

The CLI words the messages and draws the tables; everything it decides lives here, so a Python
user (or a notebook) sets up the same run with the same calls.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from gfpose_cli.core.errors import InputError
from gfpose_cli.model import checkpoint
from gfpose_cli.training import data as data_mod
from gfpose_cli.training.distributed import DistContext
from gfpose_cli.training.trainer import TrainConfig, Trainer

if TYPE_CHECKING:
    from gfpose_cli.training.distill import DistillConfig


@dataclass
class TrainingData:
    """The poses a run trains and validates on, and what went into them."""

    train: data_mod.PoseSet
    held: data_mod.PoseSet
    summary: dict  # recorded in every checkpoint: takes, subjects, families, inputs, skipped files
    skipped: list[tuple[str, str]]  # (input, why) of inputs that could not be used


def training_data(paths: Sequence[Path], *, skeleton_map: str | None = None, units: str | None = None,
                  strict: bool = False, holdout: bool = True,
                  progress: Callable[[str], None] | None = None, force_read: bool = False) -> TrainingData:
    """Pose set of archives and pose files, split by subject (data.HELD_OUT) unless not holdout.

    Not strict, an input that cannot be used is skipped and listed; strict, the first one stops it.
    force_read reads a file whose body looks wrong (io.sanity) anyway, as the other commands' --force-read.
    """
    skipped: list[tuple[str, str]] | None = None if strict else []
    pose_set = data_mod.load_pose_files(paths, progress or (lambda _name: None), skeleton_map, units, skipped,
                                        force_read=force_read)
    train, held = pose_set.split() if holdout else (pose_set, pose_set.subset(pose_set.take < 0))
    if len(train.poses) == 0:
        raise InputError("no training poses left after removing the held-out subjects; train without the hold-out")
    summary = {**pose_set.summary(), "inputs": [str(p) for p in paths], "holdout": holdout,
               "skipped": [name for name, _ in skipped or []]}
    return TrainingData(train=train, held=held, summary=summary, skipped=list(skipped or []))


def build_trainer(cfg: TrainConfig, poses: TrainingData, device: torch.device, *, balance: float = 0.5,
                  dist: DistContext | None = None, init_from: Path | None = None,
                  resume: Path | None = None, distill_from: Path | None = None,
                  distill: "DistillConfig | None" = None) -> Trainer:
    """A Trainer on poses (family shares ~ size^balance), warm-started from init_from or resumed; with
    distill_from, a Distiller: a few-step student of that teacher (training.distill)."""
    weights = torch.from_numpy(poses.train.sampling_weights(balance))
    args = (cfg, torch.from_numpy(poses.train.poses), torch.from_numpy(poses.held.poses), poses.summary, device, weights,
            dist or DistContext())
    if distill_from is not None:
        from gfpose_cli.training.distill import DistillConfig, Distiller

        if init_from is not None:
            raise InputError("a student starts from its teacher: pass {distill_from} or {init_from}, not both")
        teacher = checkpoint.read(distill_from)
        if teacher["task"] != cfg.task:
            raise InputError(f"{distill_from}: a '{teacher['task']}' model cannot teach a '{cfg.task}' student; "
                             f"pass --task {teacher['task']}")
        if teacher.get("distill"):
            raise InputError(f"{distill_from}: is itself a student; distil from the teacher it was made from")
        trainer: Trainer = Distiller(*args, teacher=teacher, teacher_path=Path(distill_from),
                                     distill=distill or DistillConfig())
    else:
        trainer = Trainer(*args)
    if init_from is not None:
        trainer.init_from(checkpoint.read(init_from), init_from)
    if resume is not None:
        trainer.load_state(checkpoint.read(resume), resume)
    return trainer

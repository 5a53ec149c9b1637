"""Training data for the take refiner (model.refiner, training.refine): the lifter's own take lifts of
the training takes, each take seen by random still cameras with exact, noisy or detector-like 2D.

The refiner learns to correct what this lifter gets wrong along a take, so its inputs must be the
lifter's real output (tasks.lift_take without a refiner), made here once per run and cached.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from gfpose_cli.core.skeleton import ROOT
from gfpose_cli.model import checkpoint
from gfpose_cli.model.problem import bone_scale_factors, scale_bones
from gfpose_cli.core.take import Take
from gfpose_cli.kinematics.bones import performer_lengths
from gfpose_cli.kinematics.cameras import still_camera_view
from gfpose_cli.tasks import Runner, lift_take, refiner_inputs
from gfpose_cli.training.augment import NOISE_PX, detector_like
from gfpose_cli.training.data import TARGET_FPS, PoseSet
from gfpose_cli.training.refine import RefineConfig, RefineTrainer
from gfpose_cli.util.atomic import atomic_path
from gfpose_cli.util.provenance import file_digest

#: the still cameras the refiner's takes are seen by: yaw (deg), elevation (deg), distance (m)
YAW, ELEVATION, DISTANCE = (0.0, 360.0), (-5.0, 30.0), (3.5, 7.0)
#: 2D conditions, drawn with equal odds per view: exact, NOISE_PX noise, detector-like
CONDITIONS = ("exact", "noise", "detector")
MIN_FRAMES = 60  # takes shorter than this (2 s) are left out: a window needs frames around it


def take_runs(pose_set: PoseSet) -> list[np.ndarray]:
    """Index arrays of each take's poses in a pose set, in order (takes are stored contiguously)."""
    if len(pose_set.take) == 0:
        return []
    cut = np.flatnonzero(np.diff(pose_set.take)) + 1
    return [r for r in np.split(np.arange(len(pose_set.take)), cut)]


def lifted_takes(runner: Runner, pose_set: PoseSet, *, views: int = 4, max_frames: int = 300, seed: int = 0,
                 bone_scale: float = 0.0, bone_corr: float = 0.0,
                 progress: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
    """For each take of pose_set (MIN_FRAMES or more) and each of `views` random still cameras, a
    stretch of up to max_frames frames: its 2D (pixels, NaN where the simulated detector missed),
    mask, the lifter's take lift of it (refine=False) and the truth, both root-relative in the
    camera frame. Returns arrays keypoints (N, 17, 2), mask (N, 17), lifted and truth (N, 17, 3),
    take (N,) numbering each lifted stretch, subject (N,) its take's subject ("family:subject").

    A lifter that reads the performer's bone lengths (Runner.takes_lengths, weights/lift-bones.pt) is
    given each take's own, as `lift --skeleton` gives the user's: the lifted take is that lifter's
    before lift_take sizes it to the skeleton, which is where its refiner corrects it.

    With bone_scale, each stretch is first given a body of its own (model.problem.bone_scale_factors,
    log-normal std bone_scale, correlation bone_corr within each limb; one set of factors for the whole
    stretch, as a performer keeps their body over a take), so the refiner also learns to correct the
    lifter on proportions it was not trained on, which is what an unseen performer is. The bodies are
    drawn from their own generator: the cameras and stretches are those of a run without them."""
    rng = np.random.default_rng(seed)
    bodies = torch.Generator().manual_seed(seed + 1)

    def lifter_for(world: np.ndarray) -> Runner:  # a length-reading lifter is given this body's lengths
        return runner.with_lengths(performer_lengths(world, np.ones(world.shape[:2], bool))) \
            if runner.takes_lengths else runner

    runs = [r for r in take_runs(pose_set) if len(r) >= MIN_FRAMES]
    out: dict[str, list[np.ndarray]] = {"keypoints": [], "mask": [], "lifted": [], "truth": [], "take": [], "subject": []}
    n = 0
    for i, run in enumerate(runs):
        world = pose_set.poses[run].astype(np.float64) + pose_set.root[run, None].astype(np.float64)
        lifter = lifter_for(world)
        for _ in range(views):
            a = int(rng.integers(0, max(1, len(run) - max_frames + 1)))
            pos = world[a : a + max_frames]
            if bone_scale > 0:  # this stretch's body: its bones rescaled about the pelvis, the path kept
                bone = bone_scale_factors(1, bone_scale, bodies, bone_corr)[0]
                rel = torch.from_numpy(pos - pos[:, ROOT : ROOT + 1])
                pos = scale_bones(rel, bone.double()).numpy() + pos[:, ROOT : ROOT + 1]
                lifter = lifter_for(pos)
            uv, truth = still_camera_view(pos, rng.uniform(*YAW), rng.uniform(*ELEVATION), rng.uniform(*DISTANCE))
            mask, conf = np.ones(uv.shape[:2], bool), None
            condition = CONDITIONS[int(rng.integers(0, len(CONDITIONS)))]
            if condition == "detector":  # detector_like adds its own NOISE_PX noise
                uv, mask, conf = detector_like(uv, TARGET_FPS, rng)
            elif condition != "exact":
                uv = uv + rng.normal(0, NOISE_PX, uv.shape)
            kp = Take(positions=uv.astype(np.float32), mask=mask, confidence=conf, fps=TARGET_FPS)
            lifted = lift_take(lifter, kp, refine=False).positions[:, 0].astype(np.float64)
            if not np.isfinite(lifted).all():
                continue
            pixels, observed = refiner_inputs(kp)
            out["keypoints"].append(pixels.astype(np.float32))
            out["mask"].append(observed)
            out["lifted"].append(lifted.astype(np.float32))
            out["truth"].append((truth - truth[:, ROOT : ROOT + 1]).astype(np.float32))
            out["take"].append(np.full(len(pos), n))
            out["subject"].append(np.full(len(pos), pose_set.subjects[pose_set.take[run[0]]]))
            n += 1
        if progress:
            progress(i + 1, len(runs))
    if not n:
        return {"keypoints": np.zeros((0, 17, 2), np.float32), "mask": np.zeros((0, 17), bool),
                "lifted": np.zeros((0, 17, 3), np.float32), "truth": np.zeros((0, 17, 3), np.float32),
                "take": np.zeros(0, int), "subject": np.zeros(0, str)}
    return {k: np.concatenate(v) for k, v in out.items()}


def validation_subjects(subjects: np.ndarray) -> list[str]:
    """The subjects whose stretches the refiner does not train on but measures its gain on: in each
    family (the part before ':') of two or more subjects, the last by name. In the shipped data most
    of them are bodies of their own (the multibody families), so the gain is measured as the refiner
    will be used: on performers it never saw."""
    by_family: dict[str, list[str]] = {}
    for s in sorted(set(str(x) for x in subjects)):
        by_family.setdefault(s.split(":", 1)[0], []).append(s)
    return [names[-1] for names in by_family.values() if len(names) >= 2]


def lifted_cache(output: Path) -> Path:
    """Where a refiner run keeps its lifted takes (beside its checkpoint, outside the repository)."""
    return output.with_name(output.name + ".lifted.npz")


def refiner_run(runner: Runner, pose_set: PoseSet, output: Path, cfg: RefineConfig, *, summary: dict,
                views: int = 4, max_frames: int = 300, bone_scale: float = 0.0, bone_corr: float = 0.0,
                resume: Path | None = None, progress: Callable[[int, int], None] | None = None) -> RefineTrainer:
    """A RefineTrainer on runner's take lifts of pose_set's takes (lifted_takes, cached at
    lifted_cache(output) and reused while the lifter, the data, the views and the bodies are the same),
    resumed from resume when given."""
    digest = file_digest(runner.model.path)
    # version 3: detector stretches carry NOISE_PX noise once (version 2 noised them twice, 7.1 px)
    shape = {"bone_scale": bone_scale, "bone_corr": bone_corr} if bone_scale > 0 else {}
    key = json.dumps({"lifter": digest, "data": summary, "views": views, "max_frames": max_frames,
                      "seed": cfg.seed, "version": 3, **shape}, sort_keys=True, default=str)
    cache = lifted_cache(Path(output))
    arrays = None
    if cache.exists():
        with np.load(cache) as saved:
            if str(saved["key"]) == key:
                arrays = {k: saved[k] for k in saved.files if k != "key"}
    if arrays is None:
        arrays = lifted_takes(runner, pose_set, views=views, max_frames=max_frames, seed=cfg.seed,
                              bone_scale=bone_scale, bone_corr=bone_corr, progress=progress)
        with atomic_path(cache) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, key=np.array(key), **arrays)
    held = validation_subjects(arrays["subject"])
    arrays = {**arrays, "validation": np.isin(arrays["subject"], held)}
    data = {**summary, "lifted_frames": int(len(arrays["lifted"])), "lifted_stretches": int(len(np.unique(arrays["take"]))),
            "views": views, "max_frames": max_frames, "fps": TARGET_FPS, "validation_subjects": held, **shape,
            "validation_frames": int(arrays["validation"].sum())}
    trainer = RefineTrainer(cfg, arrays, lifter_digest=digest, data=data)
    if resume is not None:
        trainer.load_state(checkpoint.read(resume), resume)
    return trainer

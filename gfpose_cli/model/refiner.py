"""The take refiner: a learned correction of a lifted 2D take, from a window of frames around each one.

The score model lifts each frame of a take from that frame's 2D alone (tasks.lift_take then smooths
the take and holds the bone lengths). A frame's depth is ambiguous from its own 2D, but less so from
the frames around it: a limb that turns shows its length, a lean that persists is a lean. The
refiner sees a window of W frames (the 2D as the lifter sees it, which keypoints were seen, and the
lifted 3D) and returns a correction of the middle frame's 3D. It is trained (training.refine) on
the shipped lifter's own take lifts of the training takes, seen by random still cameras with exact,
noisy and detector-like 2D, so it learns the errors that lifter makes; it is only applied after the
lifter it was trained with (its digest is recorded).

One format with the score models (model.checkpoint): task "refine", the refiner's config under
network_config, the EMA weights under ema.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gfpose_cli.core.errors import CheckpointError
from gfpose_cli.core.skeleton import N_JOINTS
from gfpose_cli.kinematics.geometry import normalise_2d
from gfpose_cli.model import checkpoint

#: per frame: the normalised 2D (17 x 2), which keypoints were seen (17), the lifted 3D (17 x 3)
FRAME_FEATURES = N_JOINTS * 2 + N_JOINTS + N_JOINTS * 3


@dataclass(frozen=True)
class RefinerConfig:
    window: int = 31  # frames, odd: the middle one is corrected (31 at 30 Hz: one second)
    width: int = 1024
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.window < 1 or self.window % 2 == 0:
            raise ValueError(f"the refiner's window must be a positive odd number of frames, got {self.window}")


class TakeRefiner(nn.Module):
    """MLP over a window (B, W, FRAME_FEATURES) -> the middle frame's 3D correction (B, 51), metres.
    The last layer starts at zero, so an untrained refiner changes nothing."""

    def __init__(self, cfg: RefinerConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.net = nn.Sequential(nn.Linear(cfg.window * FRAME_FEATURES, w), nn.LayerNorm(w), nn.GELU(), nn.Dropout(cfg.dropout),
                                 nn.Linear(w, w), nn.LayerNorm(w), nn.GELU(), nn.Dropout(cfg.dropout),
                                 nn.Linear(w, N_JOINTS * 3))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.net(windows.flatten(1))


def frame_features(keypoints: np.ndarray, mask: np.ndarray, lifted: np.ndarray) -> np.ndarray:
    """(F, FRAME_FEATURES) float32 from 2D keypoints (F, 17, 2) in pixels (anything where not seen),
    their mask (F, 17) and the lifted 3D (F, 17, 3), root-relative metres."""
    kp = torch.from_numpy(np.nan_to_num(keypoints).astype(np.float32))
    seen = torch.from_numpy(mask.astype(bool))
    n2 = normalise_2d(kp, seen).reshape(len(kp), -1).numpy()
    return np.concatenate([n2, mask.astype(np.float32), lifted.reshape(len(lifted), -1).astype(np.float32)], 1)


def window_index(take: np.ndarray, window: int, stride: float = 1) -> np.ndarray:
    """(F, window) frame indices of each frame's window, every stride-th frame (a 60 Hz take read by
    a refiner of 30 Hz windows: stride 2), held at the first and last frame of its own take
    (take: (F,) take number per frame, takes contiguous); fractional positions for a fractional stride."""
    half = window // 2
    idx = np.arange(len(take))
    starts = np.r_[0, np.flatnonzero(np.diff(take)) + 1]
    ends = np.r_[starts[1:], len(take)]
    first = np.repeat(starts, ends - starts)
    last = np.repeat(ends, ends - starts) - 1
    return np.clip(idx[:, None] + stride * np.arange(-half, half + 1)[None], first[:, None], last[:, None])


@torch.no_grad()
def refine(model: TakeRefiner, keypoints: np.ndarray, mask: np.ndarray, lifted: np.ndarray, *,
           stride: float = 1, batch: int = 4096, gain: float = 1.0) -> np.ndarray:
    """The lifted take (F, 17, 3) corrected frame by frame from its windows (every stride-th frame:
    window_index), each correction times gain; memory bounded by batch. A fractional stride (a 15 Hz
    take read by a refiner of 30 Hz windows: 0.5) samples the window between frames, each feature
    interpolated linearly (the mask too: a keypoint seen in one neighbour and not the other counts half)."""
    feats = torch.from_numpy(frame_features(keypoints, mask, lifted))
    at = window_index(np.zeros(len(lifted), int), model.cfg.window, stride)  # fractional for a fractional stride
    lo = np.floor(at).astype(np.int64)
    index, hi = torch.from_numpy(lo), torch.from_numpy(np.minimum(lo + 1, len(lifted) - 1))
    weight = torch.from_numpy((at - lo).astype(np.float32))[..., None] if (at != lo).any() else None
    out = np.empty((len(lifted), N_JOINTS * 3), np.float64)
    for a in range(0, len(lifted), batch):
        windows = feats[index[a : a + batch]]
        if weight is not None:
            w = weight[a : a + batch]
            windows = (1 - w) * windows + w * feats[hi[a : a + batch]]
        out[a : a + batch] = model(windows).double().numpy()
    return lifted + gain * out.reshape(-1, N_JOINTS, 3)


#: the lowest frame rate a refiner reads, as a share of the rate it was trained at (measured: at 15 Hz,
#: its 30 Hz windows sampled between frames correct a take as much as at 30 Hz; bench/results/lift-rates.md)
MIN_RATE_SHARE = 0.5


@dataclass
class LoadedRefiner:
    model: TakeRefiner
    lifter_digest: str  # sha256 of the lift weights whose take lifts it learned to correct
    meta: dict[str, Any]
    path: Path
    fps: float = 30.0  # the frame rate of the takes it learned from: its window spans window/fps seconds
    #: how much of its correction is applied: the least-squares gain on subjects it did not train on
    #: (training.refine.RefineTrainer.validation_gain); 1 where the run had none
    gain: float = 1.0

    def stride(self, fps: float | None) -> float | None:
        """Frames between the window's samples for a take at fps, so the window spans the time it
        was trained on: a whole stride where one does within a fifth (60 Hz: 2; 25 Hz: 1), else the
        fractional one (15 Hz: 0.5, 45 Hz: 1.5; refine samples between frames), down to half the
        training rate; None below that (a 10 Hz take against 30 Hz training: a second holds too few
        frames to sample it) or where fps is unknown: the refiner is not for that take."""
        if not fps or not np.isfinite(fps) or fps <= 0 or fps / self.fps < MIN_RATE_SHARE - 1e-9:
            return None
        k = max(1, round(fps / self.fps))
        return k if abs(fps / k / self.fps - 1) <= 0.2 else fps / self.fps


def payload(model: TakeRefiner, ema: dict[str, torch.Tensor], *, lifter_digest: str, data: dict,
            config: dict) -> dict[str, Any]:
    """A checkpoint's contents for a refiner (model.checkpoint's format, task 'refine')."""
    return {"task": "refine", "network_config": asdict(model.cfg), "normaliser": {}, "ema": ema,
            "lifter_digest": lifter_digest, "data": data, "config": config,
            "code_version": checkpoint.code_version()}


def load_refiner(path: Path) -> LoadedRefiner:
    """Load a refiner checkpoint for inference (refuses another kind of model, naming the file)."""
    data = checkpoint.read(path)
    if data["task"] != "refine":
        raise CheckpointError(f"{path}: this checkpoint is a '{data['task']}' model, not a take refiner")
    model = TakeRefiner(RefinerConfig(**data["network_config"]))
    try:
        model.load_state_dict({k: v.float() for k, v in data["ema"].items()})
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the recorded refiner ({str(exc).splitlines()[0]})") from None
    model.eval()
    meta = {k: v for k, v in data.items() if k not in ("ema", "train_state")}
    recorded = data.get("data") or {}
    fps = float(recorded.get("fps", 30.0))
    gain = float((recorded.get("validation") or {}).get("gain", 1.0))
    return LoadedRefiner(model, str(data.get("lifter_digest", "")), meta, Path(path), fps, gain)

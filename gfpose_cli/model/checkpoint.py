"""Checkpoints: EMA weights + full config + normalisation + data summary + code version.

One format serves shipping and resuming: a resumable file also holds `train_state` (raw
weights, optimiser, RNG states); `strip()` drops it and stores the EMA weights in fp16 for
weights/. Loading checks the format and the task and names the file on any mismatch.
"""
from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gfpose_cli.core.errors import CheckpointError
from gfpose_cli.util.atomic import atomic_path
from gfpose_cli.model.network import NetworkConfig, ScoreNetwork
from gfpose_cli.model.problem import Normaliser
from gfpose_cli.util.provenance import code_version  # noqa: F401 - recorded in every checkpoint

FORMAT = "gfpose-checkpoint"
FORMAT_VERSION = 1


@dataclass
class LoadedModel:
    """A ready-to-sample model and everything recorded with it."""

    task: str
    network: ScoreNetwork
    normaliser: Normaliser
    meta: dict[str, Any]
    path: Path


def save(path: Path, payload: dict[str, Any]) -> None:
    """Write a checkpoint atomically."""
    with atomic_path(Path(path)) as tmp:
        torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, **payload}, tmp)


def read(path: Path) -> dict[str, Any]:
    """Read and validate a checkpoint file (weights only: no code executes on load)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "Weights only load failed" in first or not zipfile.is_zipfile(path):
            first = "not a PyTorch checkpoint archive"  # torch's own text is a page about weights_only
        raise CheckpointError(f"{path}: damaged or not a gfpose checkpoint ({first[:120]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a gfpose checkpoint")
    if data.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {data.get('format_version')} is not supported (need {FORMAT_VERSION})")
    for key in ("task", "network_config", "normaliser", "ema"):
        if key not in data:
            raise CheckpointError(f"{path}: checkpoint lacks '{key}'")
    return data


def load_model(path: Path, task: str | None = None, device: torch.device | str = "cpu") -> LoadedModel:
    """Load EMA weights for sampling; refuses a checkpoint trained for another task."""
    data = read(path)
    if task is not None and data["task"] != task:
        raise CheckpointError(f"{path}: this checkpoint is a '{data['task']}' model; this command needs a '{task}' model")
    net = ScoreNetwork(NetworkConfig(**data["network_config"]))
    try:
        net.load_state_dict({k: v.float() for k, v in data["ema"].items()})
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the recorded network ({str(exc).splitlines()[0]})") from None
    net.to(device).eval()
    meta = {k: v for k, v in data.items() if k not in ("ema", "train_state")}
    return LoadedModel(data["task"], net, Normaliser.from_dict(data["normaliser"]), meta, Path(path))


def strip(src: Path, dst: Path, fp16: bool = True) -> None:
    """Write a shipping copy: EMA weights only (fp16 by default), no training state."""
    data = read(src)
    data.pop("train_state", None)
    if fp16:
        data["ema"] = {k: v.half() if v.is_floating_point() else v for k, v in data["ema"].items()}
    data.pop("format", None)
    data.pop("format_version", None)
    save(dst, data)

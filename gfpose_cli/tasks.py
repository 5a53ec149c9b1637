"""lift / complete / denoise / generate on Takes: build condition and mask, batch, sample, decode.

Nothing here knows about files; the CLI reads Takes with gfpose_cli.io and writes the results.
Every function takes a seed; batches are chunks of (frames x hypotheses) rows so memory is
bounded by batch_size, not by the take length.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import InputError
from .model.checkpoint import LoadedModel, load_model
from .model.problem import encode_condition
from .model.sampling import DEFAULT_STEPS, SAMPLERS, sample
from .model.sde import SubVPSDE
from .skeleton import JOINTS, N_JOINTS, ROOT
from .take import Take

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
ProgressFn = Callable[[int, int], None]  # (rows done, rows total)


def shipped_weights(task: str) -> Path:
    """Path of a shipped checkpoint: $GFPOSE_WEIGHTS, the installed package's weights/, or the checkout's."""
    import os

    candidates = []
    if os.environ.get("GFPOSE_WEIGHTS"):
        candidates.append(Path(os.environ["GFPOSE_WEIGHTS"]))
    candidates += [Path(__file__).resolve().parent / "weights", WEIGHTS_DIR]
    for folder in candidates:
        path = folder / f"{task}.pt"
        if path.exists():
            return path
    raise InputError(f"no shipped '{task}' weights found (looked in {', '.join(map(str, candidates))}); pass --weights")


def resolve_device(name: str = "auto") -> torch.device:
    """auto picks CUDA, then MPS, then CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available")
    return torch.device(name)


@dataclass
class SamplerOptions:
    sampler: str = "dpm2m"
    steps: int | None = None
    batch_size: int = 4096
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise InputError(f"unknown sampler {self.sampler!r}; choose from {', '.join(SAMPLERS)}")
        if self.steps is not None and self.steps < 1:
            raise InputError("--steps must be at least 1")
        if self.batch_size < 1:
            raise InputError("--batch-size must be at least 1")
        self.steps = self.steps or DEFAULT_STEPS[self.sampler]


def chunk_seed(seed: int, chunk: int) -> int:
    """Independent, reproducible seed for one chunk of rows."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{chunk}".encode()).digest()[:8], "little") & ((1 << 63) - 1)


class Runner:
    """A loaded model plus sampler settings; samples x for rows of conditions in chunks."""

    def __init__(self, model: LoadedModel, opts: SamplerOptions) -> None:
        self.model, self.opts = model, opts
        self.device = resolve_device(opts.device)
        self.model.network.to(self.device)
        self.sde = SubVPSDE()

    @classmethod
    def for_task(cls, task: str, weights: Path | None, opts: SamplerOptions) -> "Runner":
        return cls(load_model(weights or shipped_weights(task), task), opts)

    @torch.inference_mode()
    def sample_rows(self, n_rows: int, cond_raw: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                    x_init: torch.Tensor | None = None, t_start: float = 1.0,
                    progress: ProgressFn | None = None) -> np.ndarray:
        """Sample n_rows poses (metres, (n_rows, 17, 3)); cond/mask/x_init are per row."""
        net, norm, task = self.model.network, self.model.normaliser, self.model.task
        out = np.empty((n_rows, N_JOINTS, 3), dtype=np.float32)
        bs = self.opts.batch_size
        for c, start in enumerate(range(0, n_rows, bs)):
            stop = min(start + bs, n_rows)
            gen = torch.Generator(device=self.device).manual_seed(chunk_seed(self.opts.seed, c))
            if x_init is None:
                x = self.sde.prior_sampling((stop - start, N_JOINTS * 3), gen, self.device)
            else:
                x = x_init[start:stop].to(self.device)
            cond = m = None
            if net.config.cond_dim:
                m = mask[start:stop].to(self.device).float()
                raw = cond_raw[start:stop].to(self.device)
                x_cond = norm.encode(raw) if task == "complete3d" else None
                cond = encode_condition(task, raw, x_cond, m, norm)

            def eps_fn(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
                return net(xt, t, cond, m)

            x = sample(eps_fn, self.sde, x, self.opts.sampler, self.opts.steps, t_start, gen)
            out[start:stop] = norm.decode(x).cpu().numpy()
            if progress:
                progress(stop, n_rows)
        out -= out[:, ROOT : ROOT + 1]
        return out


def generate(runner: Runner, n: int, progress: ProgressFn | None = None) -> Take:
    """n unconditional poses (canonical Z-up frame, root at the origin)."""
    if n < 1:
        raise InputError("--n must be at least 1")
    return Take(positions=runner.sample_rows(n, progress=progress), fps=30.0, source={"task": "generate"})


def _repeat(a: np.ndarray, s: int) -> torch.Tensor:
    return torch.from_numpy(np.repeat(a, s, axis=0))


def lift(runner: Runner, keypoints: Take, hypotheses: int = 1, progress: ProgressFn | None = None) -> Take:
    """S 3D hypotheses (F, S, 17, 3) per frame of 2D keypoints, root-relative in the camera frame."""
    if keypoints.dim != 2 or keypoints.positions.ndim != 3:
        raise InputError(f"{keypoints.path}: lift needs 2D keypoints (frames, 17, 2), got {keypoints.positions.shape}")
    _check_frames_seen(keypoints, minimum=2)
    F, S = keypoints.n_frames, hypotheses
    kp = np.nan_to_num(keypoints.positions)
    rows = runner.sample_rows(F * S, _repeat(kp, S), _repeat(keypoints.mask, S), progress=progress)
    return Take(positions=rows.reshape(F, S, N_JOINTS, 3), fps=keypoints.fps,
                source={"task": "lift", "input": str(keypoints.path or "")})


def complete(runner: Runner, take: Take, hypotheses: int = 1, keep_observed: bool = True,
             progress: ProgressFn | None = None) -> Take:
    """Fill missing joints of a 3D take (positions keep their global placement)."""
    if take.dim != 3 or take.positions.ndim != 3:
        raise InputError(f"{take.path}: complete needs 3D poses (frames, 17, 3); for 2D input use lift")
    _check_frames_seen(take, minimum=2)
    root = root_estimate(take)
    rel = np.nan_to_num(take.positions - root[:, None])
    F, S = take.n_frames, hypotheses
    rows = runner.sample_rows(F * S, _repeat(rel, S), _repeat(take.mask, S), progress=progress)
    poses = rows.reshape(F, S, N_JOINTS, 3) + root[:, None, None]
    if keep_observed:
        poses = np.where(take.mask[:, None, :, None], take.positions[:, None], poses)
    out = poses[:, 0] if S == 1 else poses
    return Take(positions=out, mask=np.ones((F, N_JOINTS), bool), fps=take.fps, root=take.root,
                source={**take.source, "task": "complete"})


def denoise(runner: Runner, take: Take, t0: float = 0.1, progress: ProgressFn | None = None) -> Take:
    """Clean a 3D take by running the reverse process from t0 with the noisy pose as x(t0)."""
    if take.dim != 3 or take.positions.ndim != 3:
        raise InputError(f"{take.path}: denoise needs 3D poses (frames, 17, 3)")
    if not 0.0 < t0 <= 1.0:
        raise InputError(f"--t0 must be in (0, 1], got {t0}")
    if not take.mask.all():
        f, j = np.argwhere(~take.mask)[0]
        raise InputError(f"{take.path}: frame {f} is missing joint {JOINTS[j]}; run `gfpose complete` first")
    root = take.positions[:, ROOT].copy()
    rel = take.positions - root[:, None]
    norm = runner.model.normaliser
    x = norm.encode(torch.from_numpy(rel)) * float(runner.sde.alpha(torch.tensor(t0)))
    rows = runner.sample_rows(len(rel), x_init=x, t_start=t0, progress=progress)
    return Take(positions=rows + root[:, None], fps=take.fps, root=take.root, source={**take.source, "task": "denoise"})


def root_estimate(take: Take) -> np.ndarray:
    """Per-frame root: the pelvis where seen, else the hip midpoint; names the first frame with neither."""
    p, m = take.positions, take.mask
    root = np.where(m[:, ROOT, None], p[:, ROOT], 0.5 * (p[:, 1] + p[:, 4]))
    bad = ~m[:, ROOT] & ~(m[:, 1] & m[:, 4])
    if bad.any():
        raise InputError(f"{take.path}: frame {int(np.argmax(bad))} has neither the pelvis nor both hips; "
                         "the pose cannot be placed")
    return root


def _check_frames_seen(take: Take, minimum: int) -> None:
    seen = take.mask.sum(1)
    if take.n_frames == 0:
        raise InputError(f"{take.path}: the take has no frames")
    if (seen < minimum).any():
        f = int(np.argmax(seen < minimum))
        raise InputError(f"{take.path}: frame {f} has {int(seen[f])} observed joints; at least {minimum} are needed")


def aggregate(hyps: Take, how: str) -> Take:
    """Collapse (F, S, 17, 3) hypotheses with 'mean' or 'median' ('none' keeps them)."""
    if how == "none" or hyps.positions.ndim == 3:
        return hyps
    if how not in ("mean", "median"):
        raise InputError(f"--aggregate must be none, mean or median, got {how!r}")
    fn = np.mean if how == "mean" else np.median
    return Take(positions=fn(hyps.positions, axis=1), fps=hyps.fps, source=hyps.source)

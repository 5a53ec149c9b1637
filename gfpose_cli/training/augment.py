"""2D as detectors give it, simulated from exact projections: for training the take refiner on the
2D a user's detector hands over, and for the benchmarks (bench/takes.py) that score lifting on it."""
from __future__ import annotations

import numpy as np

from gfpose_cli.core.skeleton import MIRROR, N_JOINTS

NOISE_PX = 5.0  # per-coordinate detection noise of a good 2D detector on a 1000-pixel image


def detector_like(uv: np.ndarray, fps: float, rng: np.random.Generator, *,
                  noise_px: float = NOISE_PX) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2D (F, 17, 2) pixels as a detector gives it: noise_px noise; random joints missing for 0.1-1 s
    (about 8 % of samples); 3 % of frames low-confidence (0.3, 20 px off); 1 % of frames with the
    arms' left and right swapped. Returns pixels (NaN where missing), mask and confidence."""
    F = len(uv)
    kp = uv + rng.normal(0, noise_px, uv.shape)
    conf = rng.uniform(0.6, 1.0, uv.shape[:2])
    mask = np.ones(uv.shape[:2], bool)
    while (~mask).mean() < 0.08:
        j, n = rng.integers(1, N_JOINTS), int(rng.uniform(0.1, 1.0) * fps)
        a = int(rng.integers(0, max(1, F - n)))
        mask[a : a + n, j] = False
    low = rng.random(F) < 0.03
    kp[low] += rng.normal(0, 20.0, kp[low].shape)
    conf[low] = 0.3
    arms = [14, 15, 16]
    for f in np.flatnonzero(rng.random(F) < 0.01):
        left = [MIRROR[j] for j in arms]
        kp[f, arms + left] = kp[f, left + arms]
    return np.where(mask[..., None], kp, np.nan), mask, conf

"""Label swaps in marker trajectories: two markers whose labels a capture program exchanged for a while.

A swap shows as an exchange: in one frame each of the two markers jumps to where the other one was, and
in a later frame they jump back. Motion does not do that: two markers a hand's width apart or more do not
trade places between two frames at mocap rates. A spike rejection catches a swap of a frame or three; a
longer one survives smoothing half-moved. label_swaps finds the exchanges and pairs them; a swap without
its way back inside the take's continuous samples (one beginning or ending in a gap) is not claimed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: markers closer than this (metres) are not told apart by an exchange (a wrist pair, fingers)
MIN_SEPARATION_M = 0.10
#: an exchange: each marker lands within this share of the markers' separation of where the other was
LANDING_SHARE = 0.25
#: and the separation is at least this many times each marker's ordinary frame-to-frame step (its 99th
#: percentile over the take), so fast motion is not taken for a swap
STEP_MARGIN = 3.0


@dataclass(frozen=True)
class Swap:
    a: int  # marker columns
    b: int
    start: int  # first frame with the labels exchanged
    stop: int  # first frame after


def label_swaps(xyz: np.ndarray, observed: np.ndarray, candidates: np.ndarray | None = None) -> list[Swap]:
    """The swaps (pairs of exchanges) in markers (F, N, 3) in metres, observed (F, N), among the columns
    candidates (N,) marks (the body's markers; all where None). A swap is claimed only where both markers
    are seen in every frame from one frame before the first exchange to the second exchange, and the run
    is shorter than half the take (the other labelling would otherwise be as likely the right one)."""
    F, N = observed.shape
    cols = np.flatnonzero(candidates) if candidates is not None else np.arange(N)
    if F < 3 or len(cols) < 2:
        return []
    x = np.asarray(xyz, dtype=np.float64)[:, cols]
    seen = observed[:, cols] & np.isfinite(x).all(-1)
    both = seen[1:] & seen[:-1]  # (F-1, K): a step from frame t to t+1
    step = np.where(both, np.linalg.norm(x[1:] - x[:-1], axis=-1), np.nan)  # (F-1, K)
    usual = np.full(len(cols), np.inf)  # a marker never seen in two frames running has no usual step
    stepped = both.any(0)
    usual[stepped] = np.nanpercentile(step[:, stepped], 99, axis=0)
    events: dict[tuple[int, int], list[int]] = {}
    # frames where two markers or more jump beyond their usual step: the only ones an exchange can be in
    jumps = both & (step > np.maximum(STEP_MARGIN * usual, 0.5 * MIN_SEPARATION_M)[None])
    for t in np.flatnonzero(jumps.sum(1) >= 2):
        k = np.flatnonzero(jumps[t])
        before, after = x[t, k], x[t + 1, k]
        sep = np.linalg.norm(before[:, None] - before[None], axis=-1)  # (k, k)
        land_ab = np.linalg.norm(after[:, None] - before[None], axis=-1)  # marker i now vs marker j before
        ok = ((sep >= MIN_SEPARATION_M) & (land_ab < LANDING_SHARE * sep) & (land_ab.T < LANDING_SHARE * sep)
              & (sep >= STEP_MARGIN * np.maximum(usual[k][:, None], usual[k][None])))
        for i, j in zip(*np.nonzero(np.triu(ok, 1))):
            events.setdefault((int(k[i]), int(k[j])), []).append(int(t) + 1)  # first frame after the exchange
    swaps = []
    for (i, j), frames in events.items():
        for start, stop in zip(frames[0::2], frames[1::2]):
            if seen[start - 1:stop, [i, j]].all() and (stop - start) * 2 < F:
                swaps.append(Swap(a=int(cols[i]), b=int(cols[j]), start=start, stop=stop))
    return sorted(swaps, key=lambda s: (s.start, s.a, s.b))


def unswapped(xyz: np.ndarray, swaps: list[Swap]) -> tuple[np.ndarray, np.ndarray]:
    """The markers (F, N, 3) with each swap's samples exchanged back, and which samples were (F, N)."""
    out = np.array(xyz, copy=True)
    exchanged = np.zeros(out.shape[:2], dtype=bool)
    for s in swaps:
        out[s.start:s.stop, [s.a, s.b]] = out[s.start:s.stop, [s.b, s.a]]
        exchanged[s.start:s.stop, [s.a, s.b]] = True
    return out, exchanged

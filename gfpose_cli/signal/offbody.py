"""Markers that leave the body for a while: a label the capture program put on a ghost, a stray
reflection or another marker for a stretch of frames.

Such a stretch is no swap (nothing comes back in exchange) and too long for a spike rejection, and a
joint built from the marker leaves the body with it (a knee 250 mm off the leg). The 17-joint skeleton
shows it: a bone's length does not change as the body moves, at any frame rate, so a bone whose length
jumps by a fifth or more between two frames and stays off is a joint that jumped. The marker that did it
is among the markers of the bone's two joints: the one that jumped (or came into view) as the stretch
began and jumped back (or went out of view) as it ended. Its samples over the stretch are not read;
where no marker of the bone's joints did it, the stretch is only said.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gfpose_cli.core.skeleton import BONES

#: a bone's length jumps: it changes between two frames by this share of its usual length, and by
#: JUMP_MIN_M at least (real takes: at most 6 % in one frame; a marker on a ghost: tens of percent)
JUMP_SHARE = 0.12
JUMP_MIN_M = 0.04
#: frames a bone must be seen in to have a usual length
MIN_FRAMES = 20
#: off pieces are told by the bone's usual length (the take's median) where they hold less than this share
#: of the bone's frames; a marker whose off side may be the larger is held on both sides of its jumps
MAX_OFF_SHARE = 0.4
#: a marker jumped with the bone: its step between the two frames is at least this many times its
#: usual step (the 99th percentile of its steps over the take), and JUMP_MIN_M at least
STEP_MARGIN = 3.0


@dataclass(frozen=True)
class OffBody:
    """A marker off the body over frames [start, stop), and the bone whose length jumped with it."""

    bone: int  # index into core.skeleton.BONES
    start: int
    stop: int
    usual: float  # the bone's usual length (m: the median over the take)
    marker: int  # the marker's column
    jump: float  # the marker's largest jump (m) into or out of the stretch
    told: bool = True  # False: the marker's run jumps, but which side of the jump is off is not told


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _usual_steps(xyz: np.ndarray, seen: np.ndarray) -> np.ndarray:
    both = seen[1:] & seen[:-1]
    step = np.where(both, np.linalg.norm(xyz[1:] - xyz[:-1], axis=-1), np.nan)
    out = np.full(xyz.shape[1], np.inf)
    stepped = both.sum(0) >= MIN_FRAMES
    if stepped.any():
        out[stepped] = np.nanpercentile(step[:, stepped], 99, axis=0)
    return out


def off_body(joints: np.ndarray, joint_mask: np.ndarray, xyz: np.ndarray, seen: np.ndarray,
             sources: list[list[int]]) -> list[OffBody]:
    """The stretches where a marker (xyz (F, N, 3) in metres, seen (F, N)) is off the body: it jumps
    beyond its usual step in the same frame as a bone of the joints built from it (joints (F, 17, 3),
    joint_mask (F, 17); sources: per joint, the marker columns it is built from) jumps off its length.
    Each such jump flips the marker between on and off the body within a run of frames it is seen in;
    the pieces where the bone's length strays (more than half a jump on average, the others less) are
    off. A bone that changes length smoothly (motion, a model's joint) is never claimed."""
    F = len(joints)
    usual_step = _usual_steps(xyz, seen)
    moved = np.zeros(seen.shape, dtype=bool)  # moved[t]: a jump between frames t-1 and t
    both = seen[1:] & seen[:-1]
    step = np.where(both, np.linalg.norm(xyz[1:] - xyz[:-1], axis=-1), 0.0)
    moved[1:] = both & (step >= np.maximum(JUMP_MIN_M, STEP_MARGIN * usual_step)[None])
    found: dict[tuple[int, int, int], OffBody] = {}
    for b, (p, c) in enumerate(BONES):
        ok = joint_mask[:, p] & joint_mask[:, c]
        if ok.sum() < MIN_FRAMES:
            continue
        length = np.where(ok, np.linalg.norm(joints[:, p] - joints[:, c], axis=-1), np.nan)
        usual = float(np.nanmedian(length))
        jump = max(JUMP_SHARE * usual, JUMP_MIN_M)
        jumped = np.zeros(F, dtype=bool)
        jumped[1:] = ok[1:] & ok[:-1] & (np.abs(np.diff(np.nan_to_num(length))) > jump)
        if not jumped.any():
            continue
        stray = np.abs(length - usual)
        for m in dict.fromkeys(sources[p] + sources[c]):
            events = np.flatnonzero(moved[:, m] & jumped)
            if not len(events):
                continue
            for r0, r1 in _runs(seen[:, m]):
                inside = [int(t) for t in events if r0 < t < r1]
                if not inside:
                    continue
                bounds = [r0, *inside, r1]
                pieces = list(zip(bounds[:-1], bounds[1:]))

                def mean_stray(group) -> float:  # noqa: ANN001
                    vals = np.concatenate([stray[a:e] for a, e in group])
                    vals = vals[np.isfinite(vals)]
                    return float(vals.mean()) if len(vals) else float("nan")

                odd, even = pieces[1::2], pieces[0::2]
                s_odd, s_even = mean_stray(odd), mean_stray(even)
                if not (np.isfinite(s_odd) and np.isfinite(s_even)):
                    continue
                off, on, s_off, s_on = (odd, even, s_odd, s_even) if s_odd > s_even else (even, odd, s_even, s_odd)
                if s_off <= jump / 2 or s_on >= jump / 2:
                    continue
                # the usual length is the take's median: it tells which pieces are off only where they are
                # a clear minority of the bone's frames; else which side is the marker is not told: all held
                told = sum(int(ok[a:e].sum()) for a, e in off) < MAX_OFF_SHARE * ok.sum()
                for a, e in (off if told else pieces):
                    size = max(step[t - 1, m] for t in (a, e) if 0 < t < F and moved[t, m]) if (
                        moved[a, m] or (e < F and moved[e, m])) else 0.0
                    found.setdefault((m, a, e), OffBody(bone=b, start=a, stop=e, usual=usual, marker=int(m),
                                                        jump=float(size), told=told))
    return sorted(found.values(), key=lambda o: (o.start, o.marker))


def held_samples(found: list[OffBody], shape: tuple[int, int]) -> np.ndarray:
    """(F, N): the samples of the markers that jumped off the body, over their stretches."""
    out = np.zeros(shape, dtype=bool)
    for o in found:
        out[o.start:o.stop, o.marker] = True
    return out

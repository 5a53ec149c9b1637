"""Markers that leave the body for a while: a label the capture program put on a ghost, a stray
reflection or another marker for a stretch of frames.

Such a stretch is no swap (nothing comes back in exchange) and too long for a spike rejection, and a
joint built from the marker leaves the body with it (a knee 250 mm off the leg). It begins and ends with
a jump: the marker moves in one frame several times farther than it ever moves between frames. Between
its jumps a marker's run of frames falls into pieces, on the body and off it by turns. Which are off is
told by the 17-joint skeleton: a bone's length does not change as the body moves, so the pieces where a
bone of the joints built from the marker strays from its usual length (the take's median) are off, the
others not. Where no bone tells, a marker that jumps away and back (the jump back undoing the jump away,
or both jumps wide and the marker away from its most rigid companions in between) is off in between when
that is the short side (the pieces off are less than MAX_OFF_SHARE of its run). Where a single jump splits
a run in two, the usual length is the longer side's, the body's only where that side is a clear majority:
a bone tells the other side off only where it is under SPLIT_SHARE of the run; else, and where no bone
tells but the jump is wide and the marker leaves its rigid companions across it (its label moved to a
ghost or another marker and stayed), both sides are held, as nothing tells which is the marker. A single
jump that neither a bone nor the companions explain is left alone. A run between two of the marker's gaps
(it came back from an occlusion on a ghost and left with it) has no jump to see: it is off where a bone
strays there by a whole JUMP_SHARE while keeping its length over the marker's other frames. A frame where
most markers jump at once is no marker's: the body moved as one (a landing, two takes joined), or, where
its bones break there too, the data shifted (whole_body_jumps: the reader refuses the take).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gfpose_cli.core.skeleton import BONES
from gfpose_cli.kinematics.functional import spread_to
from gfpose_cli.util.runs import runs

#: a bone strays: its length is off its usual length by half of this share of it (or of JUMP_MIN_M) on
#: average over the pieces (real takes: at most 6 % between two frames; a marker on a ghost: tens of percent)
JUMP_SHARE = 0.12
#: a marker jumps: its step between two frames exceeds the mean of the steps before and after it by at
#: least this far (m), and by STEP_MARGIN times the 90th percentile of that excess over its take (real
#: takes at 1/1 to 1/8 of their rate: only their real glitches reach it)
JUMP_MIN_M = 0.04
STEP_MARGIN = 8.0
#: the floors in metres are for a body whose median bone is this long; a take whose median bone is longer
#: scales them up (a take read in too small a unit, with --force-read, holds the samples the right one does)
TYPICAL_BONE_M = 0.25
#: a frame where this share of the markers (joints) seen in it and the one before jump at once, and at
#: least WHOLE_BODY_MIN of them, is no marker's jump: the body moved as one (take_breaks), or, where this
#: share of its bones change length there too, the data shifted (whole_body_jumps)
WHOLE_BODY_SHARE = 0.5
WHOLE_BODY_MIN = 4
#: a whole body that jumps as one this far (m, on a typical body; median over its joints, beyond the motion
#: around) in a frame starts anew there (take_breaks): no one moves so, and a capture's glitches (the CMU
#: BVH takes' whole-body pops of 70-260 mm that come back) are left to the smoother's spike rejection
BREAK_M = 0.5
#: two such frames within this many are a pop that comes back, no break
POP_FRAMES = 5
#: frames a bone (a marker) must be seen in to have a usual length (step)
MIN_FRAMES = 20
#: the pieces off must be less than this share of the marker's run (and of the bone's frames) to be told
#: off by the usual length or by being the short side; else the marker is held on both sides
MAX_OFF_SHARE = 0.4
#: where one jump splits a marker's run in two, the side a bone tells off must be under this share: the
#: usual length is the longer side's, the body's only where it is a clear majority; else both are held
SPLIT_SHARE = 0.1
#: where no bone tells, a jump back undoes the jump away: the two jumps' sum is under this share of them;
#: or both jumps are WIDE floors (100 mm on a typical body) and the marker leaves its COMPANIONS most rigid
#: companions in between (a ghost that stays where it was: its jump back does not undo its jump away)
MIRROR = 0.5
WIDE = 2.5
COMPANIONS = 3


@dataclass(frozen=True)
class OffBody:
    """A marker off the body over frames [start, stop)."""

    marker: int  # the marker's column
    start: int
    stop: int
    jump: float  # the marker's largest jump (m) into or out of the stretch
    bone: int | None  # the bone (index into core.skeleton.BONES) whose length told it, None: the short side
    usual: float = 0.0  # that bone's usual length (m)
    told: bool = True  # False: which side of the jumps is the marker is not told; held on both sides
    between_gaps: bool = False  # a run between two of the marker's gaps, with no jump: told by the bone alone


def _mirrored(away: np.ndarray, back: np.ndarray) -> bool:
    """The jump back undoes the jump away: their sum is under MIRROR of the larger."""
    return float(np.linalg.norm(away + back)) < MIRROR * max(float(np.linalg.norm(away)), float(np.linalg.norm(back)))


def _left_companions(xyz: np.ndarray, seen: np.ndarray, m: int, cols: np.ndarray, a: int, e: int,
                     floor: float) -> bool:
    """Marker m left its COMPANIONS most rigid companions among cols (the least spread of their distance,
    on at most 2,000 frames of the take) over [a, e): its mean distance to one of them there is off the
    median distance over the frames around by half a floor. A fast hand moves its markers together; a
    ghost that stays where it was, or a label on another marker, moves one."""
    F = len(xyz)
    rows = np.linspace(0, F - 1, min(F, 2000)).astype(int)
    others = np.array([c for c in cols if c != m])
    if not len(others):
        return False
    spread = spread_to(xyz[rows], seen[rows], m, others, MIN_FRAMES)
    lo, hi = max(0, a - 10 * (e - a) - 20), min(F, e + 10 * (e - a) + 20)
    for j in others[np.argsort(spread)[:COMPANIONS]]:
        here = seen[a:e, m] & seen[a:e, j]
        near = seen[lo:hi, m] & seen[lo:hi, j]
        near[a - lo:e - lo] = False
        if not here.any() or near.sum() < 3:
            continue
        d_here = np.linalg.norm(xyz[a:e, m][here] - xyz[a:e, j][here], axis=-1).mean()
        d_near = np.median(np.linalg.norm(xyz[lo:hi, m][near] - xyz[lo:hi, j][near], axis=-1))
        if abs(float(d_here) - float(d_near)) > floor / 2:
            return True
    return False


def _mean(values: np.ndarray, pieces: list[tuple[int, int]]) -> float:
    vals = np.concatenate([values[a:e] for a, e in pieces])
    vals = vals[np.isfinite(vals)]
    return float(vals.mean()) if len(vals) else float("nan")


def _jumps(xyz: np.ndarray, seen: np.ndarray, floor: float = JUMP_MIN_M) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each marker's steps (F-1, N; step[t - 1]: frame t-1 to t, NaN where not seen in both), its jumps
    (F, N; moved[t]: a jump between frames t-1 and t) and each step's excess over the motion (F, N, 3).

    A jump is a step far off the motion around it: the step less the mean of the steps before and after
    it (a fast hand's steps are all long; a jump's is long between two ordinary ones), by floor and
    STEP_MARGIN times the marker's usual such excess (its 90th percentile: a jump makes three of them, its
    own and half of it on each side); where a neighbouring step is missing (a run's edge), the step itself
    against STEP_MARGIN times the marker's usual step (99th percentile). Of two neighbouring candidates
    the smaller (under three quarters of the other) is the jump's echo, not a jump."""
    F, N = seen.shape
    both = seen[1:] & seen[:-1]
    d = np.where(both[..., None], xyz[1:] - xyz[:-1], np.nan)  # (F-1, N, 3)
    step = np.linalg.norm(d, axis=-1)
    around = np.full_like(d, np.nan)
    around[1:-1] = (d[:-2] + d[2:]) / 2
    off = np.linalg.norm(d - around, axis=-1)  # NaN where a neighbouring step is missing
    usual_step, usual_off = np.full(N, np.inf), np.full(N, np.inf)
    has_step, has_off = np.isfinite(step).sum(0) >= MIN_FRAMES, np.isfinite(off).sum(0) >= MIN_FRAMES
    if has_step.any():
        usual_step[has_step] = np.nanpercentile(step[:, has_step], 99, axis=0)
    if has_off.any():  # a jump makes three such differences (its own, half of it on each side): p90
        usual_off[has_off] = np.nanpercentile(off[:, has_off], 90, axis=0)
    score = np.where(np.isfinite(off), off / np.maximum(floor, STEP_MARGIN * usual_off)[None],
                     step / np.maximum(floor, STEP_MARGIN * usual_step)[None])
    score = np.nan_to_num(score)
    padded = np.pad(score, ((1, 1), (0, 0)))
    echo = (score < 0.75 * padded[:-2]) | (score < 0.75 * padded[2:])
    moved = np.zeros((F, N), dtype=bool)
    moved[1:] = (score >= 1.0) & ~echo
    excess = np.zeros((F, N, 3))
    excess[1:] = np.where(np.isfinite(off)[..., None], d - around, d)
    return step, moved, np.nan_to_num(excess)


def _bone_lengths(joints: np.ndarray, joint_mask: np.ndarray) -> tuple[dict[int, tuple[np.ndarray, float, np.ndarray]], float]:
    """Each bone's length per frame (NaN where not built), usual length (the take's median) and frames,
    for the bones built in MIN_FRAMES frames; and the jump floor (m) for this body (JUMP_MIN_M, scaled up for
    a median bone longer than TYPICAL_BONE_M; NaN where no bone is built)."""
    lengths: dict[int, tuple[np.ndarray, float, np.ndarray]] = {}
    for b, (p, c) in enumerate(BONES):
        ok = joint_mask[:, p] & joint_mask[:, c]
        if ok.sum() >= MIN_FRAMES:
            length = np.where(ok, np.linalg.norm(joints[:, p] - joints[:, c], axis=-1), np.nan)
            lengths[b] = (length, float(np.nanmedian(length)), ok)
    if not lengths:
        return lengths, float("nan")
    return lengths, JUMP_MIN_M * max(1.0, float(np.median([u for _, u, _ in lengths.values()])) / TYPICAL_BONE_M)


def _seen_twice(seen: np.ndarray) -> np.ndarray:
    """(F, N): seen in the frame and the one before."""
    out = np.zeros_like(seen)
    out[1:] = seen[1:] & seen[:-1]
    return out


def _most_jump(moved: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames where WHOLE_BODY_SHARE of the markers seen there and the frame before, and WHOLE_BODY_MIN, jump;
    and per frame, how many jump and how many are seen there and the frame before."""
    count, there = moved.sum(1), _seen_twice(seen).sum(1)
    return np.flatnonzero((count >= WHOLE_BODY_MIN) & (count >= WHOLE_BODY_SHARE * np.maximum(there, 1))), count, there


def _bones_changed(lengths: dict[int, tuple[np.ndarray, float, np.ndarray]], t: int, floor: float) -> list[bool]:
    """For each bone built in frames t-1 and t: its length changed between them by a stray (JUMP_SHARE of
    its usual length, or the floor)."""
    return [abs(length[t] - length[t - 1]) > max(JUMP_SHARE * usual, floor)
            for length, usual, ok in lengths.values() if ok[t] and ok[t - 1]]


def take_breaks(joints: np.ndarray, joint_mask: np.ndarray) -> list[int]:
    """Frames where the whole body jumps as one (F, 17, 3 joints in metres): WHOLE_BODY_SHARE of the joints
    seen there and the frame before, and WHOLE_BODY_MIN, jump (as markers do in _jumps) while its bones keep
    their lengths (two takes joined, frames lost in a block, the performer moved elsewhere). Smoothing or
    filling across such a frame would draw the body through the air between the two places."""
    lengths, floor = _bone_lengths(joints, joint_mask)
    if not np.isfinite(floor) or joint_mask.shape[1] < WHOLE_BODY_MIN:
        return []
    _, moved, excess = _jumps(joints, joint_mask, floor)
    out = []
    for t in _most_jump(moved, joint_mask)[0]:
        changed = _bones_changed(lengths, t, floor)
        far = np.median(np.linalg.norm(excess[t][moved[t]], axis=-1)) >= BREAK_M * floor / JUMP_MIN_M
        if far and changed and sum(changed) < WHOLE_BODY_SHARE * len(changed):
            out.append(int(t))
    # two within a few frames are a pop that comes back: the smoother's spike rejection takes it
    return [t for k, t in enumerate(out) if all(abs(t - u) > POP_FRAMES for u in out[:k] + out[k + 1:])]


@dataclass(frozen=True)
class MarkerSteps:
    """What whole_body_jumps and off_body both read, worked out once (marker_steps): the columns of the
    markers the joints are built from, each bone's length per frame, usual length and frames, the jump floor
    for this body, and those markers' steps, jumps and steps' excess over the motion (_jumps)."""

    cols: np.ndarray
    lengths: dict[int, tuple[np.ndarray, float, np.ndarray]]
    floor: float
    step: np.ndarray
    moved: np.ndarray
    excess: np.ndarray


def marker_steps(joints: np.ndarray, joint_mask: np.ndarray, xyz: np.ndarray, seen: np.ndarray,
                 sources: list[list[int]]) -> MarkerSteps | None:
    """MarkerSteps of a take (joints (F, 17, 3) and joint_mask, built from xyz (F, N, 3) metres and seen
    (F, N); sources: per joint, its marker columns), or None where no marker builds a joint or no bone is
    built in MIN_FRAMES frames."""
    cols = np.array(sorted({m for c in sources for m in c}))
    lengths, floor = _bone_lengths(joints, joint_mask)
    if not len(cols) or not lengths:
        return None
    return MarkerSteps(cols, lengths, floor, *_jumps(xyz[:, cols], seen[:, cols], floor))


def whole_body_jumps(steps: MarkerSteps, seen: np.ndarray) -> list[tuple[int, int, int]]:
    """Frames where most of the markers the joints are built from jump at once and the body's shape breaks
    (the data shifted: bytes lost in a file, channels misaligned), as (frame, markers that jumped, markers
    seen in that frame and the one before): at least WHOLE_BODY_SHARE and WHOLE_BODY_MIN of the markers jump,
    and WHOLE_BODY_SHARE of the bones built in both frames change length by a stray (a landing, or two takes
    joined with the body moved as one, keep it). No labelling does that; a marker-by-marker reading of such
    a take holds most of it and reads the rest wrong."""
    if len(steps.cols) < WHOLE_BODY_MIN:
        return []
    frames, count, there = _most_jump(steps.moved, seen[:, steps.cols])
    out = []
    for t in frames:  # and the body's shape breaks there (a landing keeps it)
        changed = _bones_changed(steps.lengths, t, steps.floor)
        if len(changed) >= 2 and sum(changed) >= WHOLE_BODY_SHARE * len(changed):
            out.append((int(t), int(count[t]), int(there[t])))
    return out


def off_body(joints: np.ndarray, joint_mask: np.ndarray, xyz: np.ndarray, seen: np.ndarray,
             sources: list[list[int]], *, steps: MarkerSteps | None = None) -> list[OffBody]:
    """The stretches where a marker the joints are built from (xyz (F, N, 3) in metres, seen (F, N);
    sources: per joint, its marker columns) is off the body, from its jumps and the bones of the joints
    (F, 17, 3; joint_mask (F, 17)) built from it (module docstring). steps: marker_steps of these, where
    the caller has them already."""
    F = len(joints)
    feeds: dict[int, set[int]] = {}  # marker column -> the joints built from it
    for j, cols in enumerate(sources):
        for m in cols:
            feeds.setdefault(m, set()).add(j)
    steps = marker_steps(joints, joint_mask, xyz, seen, sources) if steps is None else steps
    if steps is None:
        return []
    # each bone's usual length (the take's median) and its stray from it, per frame
    floor = steps.floor
    strays = {b: (np.abs(length - usual_len), usual_len, max(JUMP_SHARE * usual_len, floor), ok)
              for b, (length, usual_len, ok) in steps.lengths.items()}
    cols = steps.cols  # only the markers joints are built from are looked at
    at = {int(m): k for k, m in enumerate(cols)}
    step, excess = steps.step, steps.excess
    moved = steps.moved.copy()
    moved[_most_jump(moved, seen[:, cols])[0]] = False  # the body moved as one there: no marker left it
    found: list[OffBody] = []
    for m, joints_of_m in sorted(feeds.items()):
        k_m = at[m]
        events = np.flatnonzero(moved[:, k_m])
        bones = [b for b, (p, c) in enumerate(BONES) if b in strays and {p, c} & joints_of_m]
        found += _off_between_gaps(m, seen[:, m], events, bones, strays)
        if not len(events):
            continue
        for r0, r1 in runs(seen[:, m]):
            inside = [int(t) for t in events if r0 < t < r1]
            if not inside:
                continue
            pieces = list(zip([r0, *inside], [*inside, r1]))
            parities = (pieces[0::2], pieces[1::2])
            told_by, off, told = None, None, True
            for b in bones:  # the bone that tells the pieces apart best
                stray, _, jump, _ = strays[b]
                s = [_mean(stray, group) for group in parities]
                if not all(np.isfinite(s)):
                    continue
                k = int(s[1] > s[0])
                if s[k] > jump / 2 and s[1 - k] < jump / 2 and (told_by is None or s[k] - s[1 - k] > told_by[1]):
                    told_by, off = (b, s[k] - s[1 - k]), k
            if told_by is not None:  # one jump splits the run in two: the take's usual length is the
                ok = strays[told_by[0]][3]  # longer side's, which only a clear majority makes the body's
                share = SPLIT_SHARE if len(inside) == 1 else MAX_OFF_SHARE
                told = sum(int(ok[a:e].sum()) for a, e in parities[off]) < share * ok.sum()
            elif len(inside) == 1:  # one wide jump that leaves the marker's rigid companions: it changed
                t = inside[0]  # its place on the body (a label moved to another marker or a ghost, and
                if not (step[t - 1, k_m] >= WIDE * floor  # stayed); nothing tells which side is the marker
                        and _left_companions(xyz, seen, m, cols, t, r1, floor)):
                    continue
                off, told = 0, False
            elif len(inside) >= 2:  # away and back, no bone to tell: off on the short side, each jump back
                share = [sum(e - a for a, e in group) / (r1 - r0) for group in parities]  # undoing the jump away
                k = int(share[1] < share[0])
                if share[k] >= MAX_OFF_SHARE or not all(
                        r0 < a and e < r1 and (_mirrored(excess[a, k_m], excess[e, k_m])
                                               or (min(step[a - 1, k_m], step[e - 1, k_m]) >= WIDE * floor
                                                   and _left_companions(xyz, seen, m, cols, a, e, floor)))
                        for a, e in parities[k]):
                    continue
                off = k
            else:
                continue
            for a, e in (parities[off] if told else pieces):
                size = max([float(step[t - 1, k_m]) for t in (a, e) if 0 < t < F and moved[t, k_m]], default=0.0)
                bone = told_by[0] if told_by is not None else None
                found.append(OffBody(marker=int(m), start=a, stop=e, jump=size, bone=bone,
                                     usual=strays[bone][1] if bone is not None else 0.0, told=told))
    return sorted(found, key=lambda o: (o.start, o.marker))


def _off_between_gaps(m: int, seen_m: np.ndarray, events: np.ndarray, bones: list[int], strays: dict) -> list[OffBody]:
    """A run of marker m between two of its gaps (or a gap and the take's end) with no jump inside, off the
    body all through it: the label came back from an occlusion on a ghost or another marker and left with
    it. A bone of m's joints strays there by a whole JUMP_SHARE of its length (twice what tells pieces
    apart where a jump marks them) while over the marker's other frames it keeps its usual length, and the
    run is under MAX_OFF_SHARE of the bone's frames."""
    spans = runs(seen_m)
    if len(spans) < 2:
        return []
    spans = [(r0, r1) for r0, r1 in spans if not any(r0 < t < r1 for t in events)]  # jumps tell those (off_body)
    out: list[OffBody] = []
    told: set[tuple[int, int]] = set()
    for b in bones:  # sums over the marker's frames, so each run's rest is the total less the run
        stray, usual_len, jump, ok = strays[b]
        use = ok & seen_m
        value = np.where(use, np.nan_to_num(stray), 0.0)
        total, count = float(value.sum()), int(use.sum())
        for r0, r1 in spans:
            n_here = int(use[r0:r1].sum())
            if (r0, r1) in told or not n_here or n_here >= MAX_OFF_SHARE * ok.sum() or count - n_here < MIN_FRAMES:
                continue
            here = float(value[r0:r1].sum())
            if here / n_here > jump and (total - here) / (count - n_here) < jump / 2:
                out.append(OffBody(marker=int(m), start=r0, stop=r1, jump=0.0, bone=b, usual=usual_len, between_gaps=True))
                told.add((r0, r1))
    return out


def held_samples(found: list[OffBody], shape: tuple[int, int]) -> np.ndarray:
    """(F, N): the samples of the markers off the body, over their stretches."""
    out = np.zeros(shape, dtype=bool)
    for o in found:
        out[o.start:o.stop, o.marker] = True
    return out

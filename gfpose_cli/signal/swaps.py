"""Label swaps in marker trajectories: two markers whose labels a capture program exchanged for a while.

A swap shows as an exchange: in one frame each of the two markers jumps to where the other one was, and
in a later frame they jump back. Motion does not do that: two markers a hand's width apart or more do not
trade places between two frames at mocap rates. A spike rejection catches a swap of a frame or three; a
longer one survives smoothing half-moved. label_swaps finds the exchanges. Which stretch between them has
the labels wrong is told by the body's sides where the two markers are one name on the left and the right
(LKNE and RKNE): the stretch where the left-named marker stands right of the right-named one, across the
left-right axis the other such pairs make, next to a jump between the two (an exchange, or a half
exchange as one comes back into view); this also tells a swap that runs to the take's end, begins after
an occlusion or runs on through one. Other pairs' exchanges are paired, a swap and its way back inside
continuous samples. What nothing tells (an exchange with no way back, a wrong side no jump explains, a
pair on the wrong side all through the take) is held: reported, neither put right nor read.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gfpose_cli.util.runs import runs as runs_of

#: markers closer than this (metres) are not told apart by an exchange (a wrist pair, fingers)
MIN_SEPARATION_M = 0.10
#: an exchange: each marker lands within this share of the markers' separation of where the other was
LANDING_SHARE = 0.25
#: and the separation is at least this many times each marker's ordinary frame-to-frame step (its 99th
#: percentile over the take), so fast motion is not taken for a swap
STEP_MARGIN = 2.0
#: a stretch is on one side when the left-named marker is left (or right) of the right-named one in at
#: least this share of its frames where the two are told apart across the body
SIDE_SHARE = 0.8
#: and told apart: at least this far apart (metres) along the body's left-right axis
SIDE_MARGIN_M = 0.02
#: a left/right pair on the wrong side in this share of the take's told frames (at least MIN_TOLD_FRAMES)
#: with no jump anywhere: placed or labelled on the wrong sides for the whole take, held
WHOLE_TAKE_SHARE = 0.9
MIN_TOLD_FRAMES = 10


@dataclass(frozen=True)
class Swap:
    a: int  # marker columns
    b: int
    start: int  # first frame with the labels exchanged
    stop: int  # first frame after
    by_side: bool = False  # told by the body's sides (else by an exchange and its way back)


@dataclass(frozen=True)
class Exchange:
    """Two markers that traded places where nothing tells which labelling is right."""

    a: int  # marker columns
    b: int
    frame: int  # first frame after the exchange
    start: int  # the stretch of frames where both are seen, around it: [start, stop)
    stop: int


@dataclass
class Swaps:
    """The swaps found, and the exchanges neither way put right."""

    swaps: list[Swap] = field(default_factory=list)
    untold: list[Exchange] = field(default_factory=list)
    #: (a, b, start, stop): a left/right pair's samples whose labels are not told: a stretch on the wrong
    #: side that no jump parts from the right one, or the lone samples in a gap inside a swap
    held_spans: list[tuple[int, int, int, int]] = field(default_factory=list)

    def held(self, shape: tuple[int, int]) -> np.ndarray:
        """(F, N) the samples whose labels are not known to be right: the untold exchanges' markers over
        the stretches around them, and the held spans."""
        out = np.zeros(shape, dtype=bool)
        for e in self.untold:
            out[e.start:e.stop, [e.a, e.b]] = True
        for a, b, start, stop in self.held_spans:
            out[start:stop, [a, b]] = True
        return out

    def __iter__(self):
        return iter(self.swaps)

    def __len__(self) -> int:
        return len(self.swaps)


def _exchanges(x: np.ndarray, seen: np.ndarray) -> tuple[dict[tuple[int, int], list[int]], np.ndarray]:
    """The frames (first after) where two markers of x (F, K, 3) trade places, by pair (i < j); and each
    marker's usual step (K,)."""
    both = seen[1:] & seen[:-1]  # (F-1, K): a step from frame t to t+1
    step = np.where(both, np.linalg.norm(x[1:] - x[:-1], axis=-1), np.nan)  # (F-1, K)
    # a step as motion makes it: the least of it and its neighbours (an exchange's step stands alone
    # between two ordinary ones, so the take's own swaps do not raise the marker's usual step)
    padded = np.pad(step, ((1, 1), (0, 0)), constant_values=np.nan)
    local = np.where(np.isnan(step), np.nan, np.fmin(np.fmin(padded[:-2], step), padded[2:]))
    usual = np.full(x.shape[1], np.inf)  # a marker never seen in two frames running has no usual step
    stepped = both.any(0)
    usual[stepped] = np.nanpercentile(local[:, stepped], 99, axis=0)
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
            events.setdefault((int(k[i]), int(k[j])), []).append(int(t) + 1)
    return events, usual


def _sides(x: np.ndarray, seen: np.ndarray, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], np.ndarray]:
    """For each (left, right) pair of columns, per frame +1 where the left-named marker is left of the
    right-named one across the body's left-right axis (from the other pairs), -1 where right, 0 where not
    told (not seen, closer than SIDE_MARGIN_M across, no axis)."""
    offsets = {p: np.where((seen[:, p[0]] & seen[:, p[1]])[:, None], x[:, p[0]] - x[:, p[1]], 0.0) for p in pairs}
    total = sum(offsets.values(), np.zeros((x.shape[0], 3)))
    out = {}
    for p, own in offsets.items():
        axis = total - own
        norm = np.linalg.norm(axis, axis=-1)
        across = np.einsum("fc,fc->f", own, axis) / np.where(norm > 0, norm, np.inf)
        out[p] = np.where(across > SIDE_MARGIN_M, 1, np.where(across < -SIDE_MARGIN_M, -1, 0))
    return out


def _side_of(side: np.ndarray) -> int:
    """+1 or -1 where a stretch's told frames are on one side in SIDE_SHARE of them, else 0."""
    told = side[side != 0]
    if not len(told):
        return 0
    left = float((told > 0).mean())
    return 1 if left >= SIDE_SHARE else -1 if 1 - left >= SIDE_SHARE else 0


def _trimmed(side: np.ndarray, a: int, b: int, open_start: bool, open_stop: bool) -> tuple[int, int]:
    """A wrong-side run [a, b) cut to its wrong-side frames at an end that is no exchange (a gap, the
    take's start or end) where frames on the right side lie beyond them: markers too close to tell an
    exchange (feet together) may have traded back there unseen."""
    wrong = np.flatnonzero(side[a:b] < 0)
    if open_stop and (side[a + wrong[-1] + 1:b] > 0).any():
        b = a + int(wrong[-1]) + 1
    if open_start and (side[a:a + wrong[0]] > 0).any():
        a = a + int(wrong[0])
    return a, b


def _jumped(x: np.ndarray, seen: np.ndarray, usual: np.ndarray, m: int, o: int, t: int, entry: bool) -> bool:
    """A half exchange at frame t between markers m (seen at t-1 and t) and o (seen on one side of t only):
    m jumps beyond its usual step, and o appears where m was (entry: o unseen at t-1) or m lands where o
    was (o unseen at t): an exchange one of whose markers was out of sight."""
    if not (0 < t < len(x) and seen[t - 1, m] and seen[t, m]):
        return False
    if entry and not (seen[t, o] and not seen[t - 1, o]) or not entry and not (seen[t - 1, o] and not seen[t, o]):
        return False
    jump = float(np.linalg.norm(x[t, m] - x[t - 1, m]))
    if jump < max(MIN_SEPARATION_M, STEP_MARGIN * usual[m]):
        return False
    landed = x[t, o] - x[t - 1, m] if entry else x[t, m] - x[t - 1, o]
    return float(np.linalg.norm(landed)) < LANDING_SHARE * jump


@dataclass
class _Run:
    start: int
    stop: int
    stretch: int  # which stretch of both markers seen
    side: int  # +1 right side, -1 wrong, 0 not told
    claimed: bool = False


def _side_pair(l: int, r: int, frames: list[int], x: np.ndarray, seen: np.ndarray, side: np.ndarray,
               usual: np.ndarray):
    """A left/right pair's swaps: (claimed runs [(start, stop)], held spans [(start, stop)], untold
    exchanges [(frame, start, stop)], stretches left to pairing [(lo, hi, events)]).

    The take's stretches with both markers seen, cut at their exchanges into runs, each on the right or
    the wrong side (or not told). A wrong run is claimed where a jump (an exchange, or a half exchange
    at a gap: one marker jumped while the other was out of sight) parts it from a right run; a claim
    carries across a gap with no jump to the wrong runs beyond it (the labels stay swapped through an
    occlusion). The lone samples in a gap between two claimed runs are held; so is a wrong run that only
    gaps part from right ones (no jump says which labels are wrong: nothing is exchanged, nothing read),
    and the whole take where the pair stands on the wrong side all through it (WHOLE_TAKE_SHARE of its
    told frames: markers placed or labelled on the wrong sides). A stretch whose runs the sides do not
    all tell goes to the pairing of exchanges, its runs told on the right side kept from it."""
    stretches = runs_of(seen[:, l] & seen[:, r])
    runs: list[_Run] = []
    jump_before: list[bool] = []  # a jump parts run k from run k-1
    pairing = []
    for n, (lo, hi) in enumerate(stretches):
        inside = [t for t in frames if lo < t < hi]
        bounds = [lo, *inside, hi]
        here = [_Run(a, b, n, _side_of(side[a:b])) for a, b in zip(bounds[:-1], bounds[1:])]
        if inside and not all(run.side for run in here):  # sides not told throughout: the exchanges paired
            pairing.append((lo, hi, inside, {(run.start, run.stop) for run in here if run.side > 0}))
            for run in here:
                run.side = 0
        for k, run in enumerate(here):
            if k:
                jump_before.append(True)
            else:
                jump_before.append(bool(runs) and (_jumped(x, seen, usual, l, r, lo, True) or _jumped(x, seen, usual, r, l, lo, True)
                                                   or _jumped(x, seen, usual, l, r, runs[-1].stop, False)
                                                   or _jumped(x, seen, usual, r, l, runs[-1].stop, False)))
            runs.append(run)
    for k, run in enumerate(runs):
        if run.side < 0 and ((k > 0 and jump_before[k] and runs[k - 1].side > 0)
                             or (k + 1 < len(runs) and jump_before[k + 1] and runs[k + 1].side > 0)):
            run.claimed = True
    changed = True
    while changed:  # the swapped labels carried through gaps with no jump
        changed = False
        for k, run in enumerate(runs):
            if not run.claimed:
                continue
            for nb in (k - 1, k + 1):
                if 0 <= nb < len(runs) and not jump_before[max(k, nb)] and runs[nb].side < 0 and not runs[nb].claimed:
                    runs[nb].claimed = changed = True
    claimed, held, untold = [], [], []
    for k, run in enumerate(runs):
        before = runs[k - 1] if k else None
        after = runs[k + 1] if k + 1 < len(runs) else None
        if run.claimed:
            open_start = before is None or (not jump_before[k] and not before.claimed)
            open_stop = after is None or (not jump_before[k + 1] and not after.claimed)
            claimed.append(_trimmed(side, run.start, run.stop, open_start, open_stop))
            if after is not None and after.claimed and after.stretch != run.stretch:
                held.append((run.stop, after.start))  # the lone samples between two swapped stretches
        elif run.side < 0 and any(nb is not None and nb.side > 0 for nb in (before, after)):
            held.append((run.start, run.stop))  # wrong, parted from the right side by gaps only: not told
        if before is not None and before.stretch == run.stretch and before.side and run.side and before.claimed == run.claimed:
            lo, hi = stretches[run.stretch]
            untold.append((run.start, lo, hi))  # an exchange with the same labelling on both sides
    told = side[side != 0]
    if not claimed and not held and len(told) >= MIN_TOLD_FRAMES and (told < 0).mean() >= WHOLE_TAKE_SHARE:
        held.append((0, len(side)))  # on the wrong sides all through: placed or labelled so, not told which
    return claimed, held, untold, pairing


def label_swaps(xyz: np.ndarray, observed: np.ndarray, candidates: np.ndarray | None = None,
                pairs: list[tuple[int, int]] | tuple = ()) -> Swaps:
    """The swaps in markers (F, N, 3) in metres, observed (F, N), among the columns candidates (N,) marks
    (the body's markers; all where None); pairs are the (left, right) columns of markers that are one name
    on the two sides, whose swaps the body's sides tell (_side_pair: a swap to the take's end, from or
    through a gap too). Other pairs' exchanges, inside each stretch where both markers are seen, are
    paired in order where they are even in number and each swap is shorter than half the take; an
    exchange neither way tells is untold (its markers held over the stretch)."""
    F, N = observed.shape
    cols = np.flatnonzero(candidates) if candidates is not None else np.arange(N)
    found = Swaps()
    if F < 3 or len(cols) < 2:
        return found
    x = np.asarray(xyz, dtype=np.float64)[:, cols]
    seen = observed[:, cols] & np.isfinite(x).all(-1)
    at = {int(c): i for i, c in enumerate(cols)}
    side_pairs = [(at[a], at[b]) for a, b in pairs if a in at and b in at]
    sides = _sides(x, seen, side_pairs) if len(side_pairs) >= 2 else {}
    events, usual = _exchanges(x, seen)
    to_pair: list[tuple[int, int, int, int, list[int], set]] = []
    for (l, r), side in sides.items():
        claimed, held, untold, pairing = _side_pair(l, r, events.pop((min(l, r), max(l, r)), []), x, seen, side, usual)
        found.swaps += [Swap(a=int(cols[l]), b=int(cols[r]), start=a, stop=b, by_side=True) for a, b in claimed]
        found.held_spans += [(int(cols[l]), int(cols[r]), a, b) for a, b in held]
        found.untold += [Exchange(a=int(cols[l]), b=int(cols[r]), frame=t, start=lo, stop=hi) for t, lo, hi in untold]
        to_pair += [(l, r, lo, hi, inside, right) for lo, hi, inside, right in pairing]
    for (i, j), frames in events.items():
        for lo, hi in runs_of(seen[:, i] & seen[:, j]):
            inside = [t for t in frames if lo < t < hi]
            if inside:
                to_pair.append((i, j, lo, hi, inside, set()))
    for i, j, lo, hi, inside, right in to_pair:  # right: runs the sides tell are labelled right
        claimed = ([(a, b) for a, b in zip(inside[0::2], inside[1::2]) if (b - a) * 2 < F and (a, b) not in right]
                   if len(inside) % 2 == 0 else [])
        ends = {t for a, b in claimed for t in (a, b)}
        found.swaps += [Swap(a=int(cols[i]), b=int(cols[j]), start=a, stop=b) for a, b in claimed]
        found.untold += [Exchange(a=int(cols[i]), b=int(cols[j]), frame=t, start=lo, stop=hi) for t in inside if t not in ends]
    # a marker in two swaps at once (several markers exchanged together, a heel landing by an ankle):
    # which exchange is the labeller's is not told; none of them is put right, their markers are held
    clash = {k for k, s in enumerate(found.swaps) for m, t in enumerate(found.swaps)
             if k != m and {s.a, s.b} & {t.a, t.b} and s.start < t.stop and t.start < s.stop}
    found.untold += [Exchange(a=s.a, b=s.b, frame=s.start, start=s.start, stop=s.stop)
                     for k, s in enumerate(found.swaps) if k in clash]
    found.swaps = [s for k, s in enumerate(found.swaps) if k not in clash]
    found.swaps.sort(key=lambda s: (s.start, s.a, s.b))
    found.untold.sort(key=lambda e: (e.frame, e.a, e.b))
    return found


def unswapped(xyz: np.ndarray, swaps: list[Swap]) -> tuple[np.ndarray, np.ndarray]:
    """The markers (F, N, 3) with each swap's samples exchanged back, and which samples were (F, N)."""
    out = np.array(xyz, copy=True)
    exchanged = np.zeros(out.shape[:2], dtype=bool)
    for s in swaps:
        out[s.start:s.stop, [s.a, s.b]] = out[s.start:s.stop, [s.b, s.a]]
        exchanged[s.start:s.stop, [s.a, s.b]] = True
    return out, exchanged

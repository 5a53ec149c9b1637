"""A skeleton map learned from the markers' own motion, for marker names no preset knows.

Markers that move rigidly together form segments (markers a lab numbered as one cluster, RSK1..4,
stay together through some skin wobble); a segment of three or more markers has a pose in every
frame, and the joint between two such segments is the point fixed in both
(gfpose_cli.kinematics.functional: SCoRE). The segments and their best-fitting joints form a tree
(minimum spanning tree of the joint misfits). The tree is read as a body by where its parts are: up is the direction of the
markers' largest spread, with the floor on the low side; the pelvis is the segment two chains (the
legs: thigh, shank, foot) hang from; the trunk is the chain going up, with the arms (upper arm,
forearm, hand) hanging from its top and the head above it; forward is where the knees do not bend
to (the ankle swings behind the thigh's line as the knee flexes), else where the feet point, else
where the take walks; left is up x forward.

The result is a SkeletonMap whose joints are rigid points: a joint is placed in a segment's own
frame (the segment's markers' layout and the point, in metres), found again in every frame by a
rigid fit of those markers, and averaged over the (at most two) segments that hold it. A map so
learned is written as TOML by `gfpose maps FILE --learn -o mymap.toml`, for a user to check and to
reuse on the lab's other takes. What the motion cannot tell (a body part whose markers do not move
enough, a set with no legs) is left missing or refused with the reason.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import JOINTS
from gfpose_cli.kinematics import functional as fn
from gfpose_cli.kinematics import rotations

if TYPE_CHECKING:  # the maps package imports this module; the name is for annotations only
    from gfpose_cli.io.maps import SkeletonMap

#: a joint between two segments fits when its two estimates agree this well (RMS, m)
MAX_MISFIT_M = 0.05
#: a joint centre lies within this distance of the markers of both its segments (median, m)
MAX_REACH_M = 0.4
#: a joint is found only where its two segments turn against each other through this range (degrees,
#: 5th to 95th percentile of the angle from their median relative orientation): with less, any point
#: near the two fits and the centre is the prior's, not the motion's
MIN_ROM_DEG = 8.0
#: frames two segments need in common to fit a joint
MIN_COMMON = 30
#: a segment needs this many frames with a pose to take part
MIN_POSED = 30


@dataclass
class Segment:
    markers: list[int]  # the file's columns
    ref: np.ndarray | None = None
    R: np.ndarray | None = None
    t: np.ndarray | None = None
    valid: np.ndarray | None = None


@dataclass
class Joint:
    a: int
    b: int
    misfit: float
    world: np.ndarray  # (F, 3), NaN where not found


@dataclass
class LearnedBody:
    """What learn_body found: segments, the joints of the tree, and the 17 joints' trajectories."""

    segments: list[Segment]
    joints: dict[tuple[int, int], Joint]
    tree: list[tuple[int, int]]
    named: dict[str, np.ndarray]  # joint -> (F, 3) world, NaN where missing
    parts: dict[str, int]  # body part -> segment index
    up: np.ndarray
    forward: np.ndarray
    notes: list[str]
    #: where the segments came from: "motion" (rigid clusters) or "labels" (a segment-named set: named.py)
    source: str = "motion"
    #: a segment-named body's frames for each joint: joint -> [(part, the columns and joints posing it)]
    holders: dict[str, list[tuple[str, list]]] = field(default_factory=dict)
    #: a motion-learned body's joints that sit between two segments: joint -> the pair (a key of joints)
    pairs: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: a segment-named body's joints that are a mean of markers (the wrist between its two markers)
    weighted: dict[str, dict[str, float]] = field(default_factory=dict)


def _posed(seg: Segment, xyz: np.ndarray, observed: np.ndarray) -> None:
    seen = observed[:, seg.markers]
    pts = np.where(seen[..., None], xyz[:, seg.markers], 0.0)
    if seen.shape[1] < 3 or (seen.sum(1) >= 3).sum() < MIN_POSED:
        return
    seg.ref = fn.reference_layout(pts, seen)
    seg.R, seg.t, seg.valid = fn.kabsch(seg.ref, pts, seen)
    if seg.valid.sum() < MIN_POSED:
        seg.ref = seg.R = seg.t = seg.valid = None


def _mean_seen(xyz: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """(F, 3): each frame's mean of the points seen in it."""
    w = observed.astype(np.float64)
    return np.einsum("fk,fkd->fd", w, np.nan_to_num(xyz)) / np.maximum(w.sum(1), 1)[:, None]


def _centroid(seg: Segment, xyz: np.ndarray, observed: np.ndarray) -> np.ndarray:
    return _mean_seen(xyz[:, seg.markers], observed[:, seg.markers])


def _mean_rotation(rel: np.ndarray) -> np.ndarray:
    """The chordal mean (3, 3) of rotations rel (F, 3, 3): their average, projected onto the rotations."""
    return rotations.kabsch(np.eye(3)[None], rel.mean(0).T[None])[0]  # argmin |R - mean|, column by column


def _fit(a: Segment, b: Segment, xyz: np.ndarray, observed: np.ndarray) -> Joint | None:
    """The joint between posed segments a and b (SCoRE), or None when no fixed point fits: too few
    frames together, too little turning, a misfit above MAX_MISFIT_M or a centre beyond MAX_REACH_M."""
    ca_w, cb_w = _centroid(a, xyz, observed), _centroid(b, xyz, observed)
    mid = 0.5 * (ca_w + cb_w)
    ok = a.valid & b.valid
    if ok.sum() < MIN_COMMON or _turn_range(np.einsum("fji,fjk->fik", a.R[ok], b.R[ok])) < MIN_ROM_DEG:
        return None
    pa = np.einsum("fji,fj->fi", a.R[ok], mid[ok] - a.t[ok]).mean(0)
    pb = np.einsum("fji,fj->fi", b.R[ok], mid[ok] - b.t[ok]).mean(0)
    ca, cb, misfit = fn.score_centre(a.R, a.t, b.R, b.t, ok, pa, pb)
    world = 0.5 * (np.einsum("fij,j->fi", a.R, ca) + a.t + np.einsum("fij,j->fi", b.R, cb) + b.t)
    world = np.where(ok[:, None], world, np.nan)
    reach = max(np.median(np.linalg.norm(world[ok] - ca_w[ok], axis=-1)), np.median(np.linalg.norm(world[ok] - cb_w[ok], axis=-1)))
    if not np.isfinite(misfit) or misfit > MAX_MISFIT_M or reach > MAX_REACH_M:
        return None
    return Joint(a=-1, b=-1, misfit=misfit, world=world)


#: a joint is a hinge when this share of its turning is about one axis (knee, elbow)
HINGE_SHARE = 0.8


def _hinge_axis(a: Segment, b: Segment) -> np.ndarray | None:
    """The axis (in a's frame) a hinge between segments a and b turns about, or None when the two
    turn about more than one axis (the principal direction of the relative rotations' rotation
    vectors about their mean, when it holds HINGE_SHARE of their spread)."""
    from scipy.spatial.transform import Rotation

    ok = a.valid & b.valid
    rel = np.einsum("fji,fjk->fik", a.R[ok], b.R[ok])
    vec = Rotation.from_matrix(np.einsum("fij,kj->fik", rel, _mean_rotation(rel))).as_rotvec()  # rel @ mean^T
    vec = vec - vec.mean(0)
    w, v = np.linalg.eigh(vec.T @ vec)
    return v[:, -1] if w[-1] >= HINGE_SHARE * w.sum() else None


def _slide_hinge(jt: Joint, a: Segment, b: Segment, prox: np.ndarray, dist: np.ndarray) -> None:
    """Move a hinge's centre along its axis (which its motion leaves free) to the plane of the limb:
    level, along the axis, with the midpoint of the joints above and below it (hip and ankle for
    the knee, shoulder and wrist for the elbow). jt.world is updated in place."""
    axis_local = _hinge_axis(a, b)
    if axis_local is None:
        return
    axis = np.einsum("fij,j->fi", a.R, axis_local)
    mid = 0.5 * (prox + dist)
    shift = np.nanmedian(np.einsum("fi,fi->f", mid - jt.world, axis))
    if np.isfinite(shift):
        jt.world[:] = jt.world + shift * axis


def _turn_range(rel: np.ndarray) -> float:
    """The range (degrees, 5th to 95th percentile) of the angles of rotations rel (F, 3, 3) from
    their median orientation (the chordal mean)."""
    if not len(rel):
        return 0.0
    cos = (np.einsum("ij,fij->f", _mean_rotation(rel), rel) - 1) / 2  # trace(mean^T rel)
    angle = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    return float(np.percentile(angle, 95) - np.percentile(angle, 5))


def _fit_all(segments: list[Segment], xyz: np.ndarray, observed: np.ndarray) -> dict[tuple[int, int], Joint]:
    """Joints between every pair of segments with a pose (three markers or more) where one fits.

    Segments of one or two markers take no part: a point fits one marker's distance too easily, and
    a pose borrowed from a joint found that way carried the error on (measured on the anatomical
    landmark sets of gait trials, whose markers sit near the joints)."""
    for seg in segments:
        if len(seg.markers) >= 3:
            _posed(seg, xyz, observed)
    joints: dict[tuple[int, int], Joint] = {}
    for i, a in enumerate(segments):
        for j, b in enumerate(segments):
            if i < j and a.R is not None and b.R is not None:
                joint = _fit(a, b, xyz, observed)
                if joint is not None:
                    joint.a, joint.b = i, j
                    joints[(i, j)] = joint
    return joints


def _tree(n: int, joints: dict[tuple[int, int], Joint]) -> list[tuple[int, int]]:
    """The minimum spanning tree of the joint misfits, without joints that fit much worse than the
    tree's typical joint (MISFIT_RATIO times its median: two segments with no joint between them
    still have a least-misfit point, just a worse one)."""
    tree = _mst(n, joints)
    if len(tree) >= 3:
        typical = float(np.median([joints[e].misfit for e in tree]))
        tree = [e for e in tree if joints[e].misfit <= max(MISFIT_RATIO * typical, 0.01)]
    return tree


#: see _tree
MISFIT_RATIO = 2.5


def _mst(n: int, joints: dict[tuple[int, int], Joint]) -> list[tuple[int, int]]:
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    if not joints:
        return []
    rows = [a for a, _ in joints]
    cols = [b for _, b in joints]
    cost = [jt.misfit + 1e-6 for jt in joints.values()]
    mst = minimum_spanning_tree(csr_matrix((cost, (rows, cols)), shape=(n, n))).tocoo()
    return sorted((int(min(a, b)), int(max(a, b))) for a, b in zip(mst.row, mst.col))


def _neighbours(tree: list[tuple[int, int]], i: int) -> list[int]:
    return [b if a == i else a for a, b in tree if i in (a, b)]


def _subtree(tree: list[tuple[int, int]], start: int, parent: int) -> list[int]:
    out, stack = [], [(start, parent)]
    while stack:
        node, par = stack.pop()
        out.append(node)
        stack += [(n, node) for n in _neighbours(tree, node) if n != par]
    return out


def _up(xyz: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """The vertical: the axis of the markers' largest spread about each frame's centroid, signed so
    that the floor (the lowest markers) is nearer the file's zero than the top is."""
    cen = _mean_seen(xyz, observed)
    d = np.where(observed[..., None], np.nan_to_num(xyz) - cen[:, None], 0.0).reshape(-1, 3)
    _, vecs = np.linalg.eigh(d.T @ d)
    up = vecs[:, -1]
    h = np.nan_to_num(xyz)[observed] @ up
    lo, hi = np.percentile(h, [2, 98])
    return up if abs(lo) < abs(hi) else -up


#: markers a lab numbered as one cluster (RSK1..RSK4: a stem and an index) ride one segment when no
#: pair of them varies by more than this (std, m): skin under a cluster plate wobbles more than the
#: rigidity cut of strangers (functional.RIGID_STD_M), and the names say they are one plate
STEM_RIGID_M = 0.010
#: the most markers one numbered cluster name covers (plates carry 3-6)
MAX_CLUSTER_MARKERS = 6


def _stem(name: str) -> str | None:
    import re

    m = re.fullmatch(r"(.*?[A-Za-z])[\s_\-]*\d+", name.rsplit(":", 1)[-1].strip())
    return m.group(1).lower() if m else None


def _by_stem(groups: list[list[int]], names: list[str], spread: np.ndarray) -> list[list[int]]:
    """Rigid groups merged where all their markers carry one numbered stem (RSK1, RSK3 | RSK2, RSK4)
    and no pair varies by more than STEM_RIGID_M; a marker of the stem that varies more stays apart."""
    from collections import Counter

    # a cluster's name has a handful of members (RSK1..4); a stem shared by many markers (M1..M45,
    # Channel101.., Marker_1..) names no segment
    sizes = Counter(s for s in (_stem(n) for n in names) if s is not None)
    out: list[list[int]] = []
    by: dict[str, list[int]] = {}
    for g in groups:
        stems = {_stem(names[i]) for i in g}
        stem = stems.pop() if len(stems) == 1 else None
        if stem is None or not 2 <= sizes[stem] <= MAX_CLUSTER_MARKERS:
            out.append(g)
            continue
        home = by.get(stem)
        if home is not None and spread[np.ix_(out[home], g)].max() <= STEM_RIGID_M:
            out[home] = sorted(out[home] + g)
        else:
            by.setdefault(stem, len(out))
            out.append(list(g))
    return sorted(out, key=lambda g: (-len(g), g[0]))


def learn_body(names: list[str], xyz: np.ndarray, observed: np.ndarray, where: str = "input") -> LearnedBody:
    """Segments, joints and the 17 joint trajectories (NaN where missing) from markers (F, N, 3;
    metres, file axes). Refuses with the reason when no body with two legs is found."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nan-means over frames where a joint is not found
        return _learn_body(names, xyz, observed, where)


def _learn_body(names: list[str], xyz: np.ndarray, observed: np.ndarray, where: str) -> LearnedBody:
    usable = np.array(["\x00" not in n for n in names]) & (observed.sum(0) >= fn.MIN_FRAMES)
    cols = np.flatnonzero(usable)
    if len(cols) < 6:
        raise InputError(f"{where}: too few markers seen long enough ({len(cols)}) to learn a skeleton from their motion")
    spread = fn.distance_spread(xyz[:, cols], observed[:, cols])  # every column is seen in MIN_FRAMES frames
    groups = _by_stem(fn.clusters_from_spread(spread), [names[c] for c in cols], spread)
    segments = [Segment(markers=[int(cols[i]) for i in g]) for g in groups]
    joints = _fit_all(segments, xyz, observed)
    tree = _tree(len(segments), joints)
    up = _up(xyz, observed)
    height = {i: float(np.nanmedian(np.where(observed[:, s.markers], np.nan_to_num(xyz[:, s.markers]) @ up, np.nan)))
              for i, s in enumerate(segments)}
    notes: list[str] = []

    def chain(start: int, parent: int, length: int, pick) -> list[int]:
        out = [start]
        while len(out) < length:
            nxt = [n for n in _neighbours(tree, out[-1]) if n != (out[-2] if len(out) > 1 else parent)]
            if not nxt:
                break
            out.append(pick(nxt))
        return out

    def _hips_apart(pelvis: int, a: int, b: int) -> bool:
        """Two hip centres side by side: level (within 15 cm), 8-45 cm apart (rigs: 11-24), near the pelvis's markers."""
        ha, hb = (joints.get((min(pelvis, n), max(pelvis, n))) for n in (a, b))
        if ha is None or hb is None:
            return False
        gap = ha.world - hb.world
        rise = np.abs(gap @ up)
        apart = np.linalg.norm(gap - (gap @ up)[:, None] * up, axis=-1)
        cen = _centroid(segments[pelvis], xyz, observed)
        near = max(np.nanmedian(np.linalg.norm(ha.world - cen, axis=-1)), np.nanmedian(np.linalg.norm(hb.world - cen, axis=-1)))
        return bool(np.nanmedian(rise) < 0.15 and 0.08 < np.nanmedian(apart) < 0.45 and near < 0.3)

    # the pelvis: two chains of at least two segments hang below it, as low as the take's lowest markers
    floor = min(height.values())
    best, legs = None, None
    for i in range(len(segments)):
        hanging = []
        for n in _neighbours(tree, i):
            sub = _subtree(tree, n, i)
            depth = min(height[m] for m in sub)
            # a leg hangs: every segment of it below the pelvis, its foot near the floor
            if len(sub) >= 2 and depth < height[i] - 0.3 and max(height[m] for m in sub) < height[i]:
                hanging.append((depth, n))
        hanging.sort()
        if len(hanging) >= 2 and hanging[1][0] < floor + 0.35 and _hips_apart(i, hanging[0][1], hanging[1][1]):
            score = hanging[0][0] + hanging[1][0]
            if best is None or score < best[0]:
                best, legs = (score, i), [hanging[0][1], hanging[1][1]]
    if best is None:
        posed = sum(s.R is not None for s in segments)
        raise InputError(f"{where}: the markers' motion shows no pelvis with two legs ({len(segments)} rigid segments, "
                         f"{posed} of them with the three markers a segment's pose needs; {len(tree)} joints found); "
                         "a map learned from motion needs clusters of three or more markers on the pelvis and legs, "
                         "and joints that turn")
    pelvis = best[1]
    parts = {"pelvis": pelvis}
    named: dict[str, np.ndarray] = {}

    def centre(a: int, b: int) -> np.ndarray | None:
        jt = joints.get((min(a, b), max(a, b)))
        return None if jt is None else jt.world

    pairs: dict[str, tuple[int, int]] = {}

    def joint_at(name: str, a: int, b: int) -> np.ndarray | None:
        """named[name] = the joint between segments a and b, remembering the pair (rigid_specs)."""
        named[name] = centre(a, b)
        if named[name] is not None:
            pairs[name] = (min(a, b), max(a, b))
        return named[name]

    leg_chains = []
    for thigh in legs:
        seq = chain(thigh, pelvis, 3, lambda nxt: min(nxt, key=lambda n: height[n]))
        leg_chains.append(seq)
    # forward, for telling left from right: knees bend backward (the ankle swings behind the line of
    # the thigh as the knee flexes), which no marker placement changes; else the feet point forward
    # (ankle to the foot's markers); else the direction the take travels
    knee_votes = []
    for seq in leg_chains:
        if len(seq) == 3:
            hip, knee, ankle = centre(pelvis, seq[0]), centre(seq[0], seq[1]), centre(seq[1], seq[2])
            if hip is None or knee is None or ankle is None:
                continue
            thigh = knee - hip
            thigh /= np.maximum(np.linalg.norm(thigh, axis=-1, keepdims=True), 1e-9)
            shank = ankle - knee
            off = shank - np.einsum("fi,fi->f", shank, thigh)[:, None] * thigh  # the shank's swing off the thigh's line
            bent = np.linalg.norm(off, axis=-1) > 0.25 * np.linalg.norm(shank, axis=-1)  # flexed past about 15 degrees
            if bent.sum() >= MIN_COMMON:
                v = -np.nanmedian(off[bent], axis=0)  # the ankle goes back: forward is the other way
                knee_votes.append(v - (v @ up) * up)
    forward = np.sum(knee_votes, axis=0) if knee_votes else np.zeros(3)
    if np.linalg.norm(forward) < 0.03:
        fwd_votes = []
        for seq in leg_chains:
            if len(seq) == 3:
                ankle = centre(seq[1], seq[2])
                foot = _centroid(segments[seq[2]], xyz, observed)
                v = np.nanmedian(foot - ankle, axis=0)
                fwd_votes.append(v - (v @ up) * up)
        forward = np.sum(fwd_votes, axis=0) if fwd_votes else np.zeros(3)
        if np.linalg.norm(forward) >= 0.03:
            notes.append("forward taken from where the feet point (the knees did not bend enough to tell)")
    if np.linalg.norm(forward) < 0.03:
        path = _centroid(segments[pelvis], xyz, observed)
        travel = path[-1] - path[0]
        travel = travel - (travel @ up) * up
        if np.linalg.norm(travel) < 0.3:
            raise InputError(f"{where}: cannot tell left from right in the markers' motion (the knees do not bend, no "
                             "foot segments, and the take does not travel); name the markers with a map instead")
        forward = travel
        notes.append("forward taken from the direction the take travels")
    forward = forward / np.linalg.norm(forward)
    left = np.cross(up, forward)
    hips = [centre(pelvis, seq[0]) for seq in leg_chains]
    sides = [float(np.nanmedian((h - np.nanmean(np.stack(hips), axis=0)) @ left)) for h in hips]
    order = {"L": int(np.argmax(sides)), "R": int(np.argmin(sides))}
    for side, k in order.items():
        seq = leg_chains[k]
        for part, seg in zip(("thigh", "shank", "foot"), seq):
            parts[f"{side} {part}"] = seg
        joint_at(f"{side}Hip", pelvis, seq[0])
        if len(seq) >= 2:
            joint_at(f"{side}Knee", seq[0], seq[1])
        if len(seq) >= 3:
            joint_at(f"{side}Ankle", seq[1], seq[2])
        if len(seq) >= 3:  # the knee turns about one axis: put it in the limb's plane
            _slide_hinge(joints[(min(seq[0], seq[1]), max(seq[0], seq[1]))], segments[seq[0]], segments[seq[1]],
                         named[f"{side}Hip"], named[f"{side}Ankle"])
    if all(named.get(f"{s}Hip") is not None for s in "LR"):
        named["Pelvis"] = 0.5 * (named["LHip"] + named["RHip"])
    # the upper body: the rest of the tree from the pelvis, or a separate part above it
    rest = [n for n in _neighbours(tree, pelvis) if n not in legs]
    upper = set()
    for n in rest:
        upper |= set(_subtree(tree, n, pelvis))
    if not upper:  # the trunk's joint with the pelvis did not fit (the spine bends): the tree part above
        lower = {pelvis} | {m for leg in legs for m in _subtree(tree, leg, pelvis)}
        above = [i for i in range(len(segments)) if i not in lower and height[i] > height[pelvis] + 0.15]
        if above:
            trunk0 = min(above, key=lambda i: height[i])
            upper = set(_subtree(tree, trunk0, -1))
    thorax = None
    for i in sorted(upper, key=lambda i: -len(_neighbours(tree, i))):
        sideways = [n for n in _neighbours(tree, i) if n in upper and len(_subtree(tree, n, i)) >= 2
                    and height[n] < height[i] + 0.05 and pelvis not in _subtree(tree, n, i)]
        if len(sideways) >= 2:
            thorax = i
            break
    if thorax is not None:
        parts["thorax"] = thorax
        arm_roots = sorted((n for n in _neighbours(tree, thorax) if n in upper and len(_subtree(tree, n, thorax)) >= 2
                            and pelvis not in _subtree(tree, n, thorax)), key=lambda n: height[n])[:2]
        others = [n for n in _neighbours(tree, thorax) if n not in arm_roots and n in upper
                  and pelvis not in _subtree(tree, n, thorax)]
        heads = [n for n in others if height[n] > height[thorax]]
        shoulders = [centre(thorax, r) for r in arm_roots]
        mid = np.nanmean(np.stack(shoulders), axis=0)
        for r, sh in zip(arm_roots, shoulders):
            side = "L" if np.nanmedian((sh - mid) @ left) > 0 else "R"
            seq = chain(r, thorax, 3, lambda nxt: max(nxt, key=lambda n: len(_subtree(tree, n, -1))))
            for part, seg in zip(("upper arm", "forearm", "hand"), seq):
                parts[f"{side} {part}"] = seg
            joint_at(f"{side}Shoulder", thorax, r)
            if len(seq) >= 2:
                joint_at(f"{side}Elbow", seq[0], seq[1])
            if len(seq) >= 3:
                joint_at(f"{side}Wrist", seq[1], seq[2])
                _slide_hinge(joints[(min(seq[0], seq[1]), max(seq[0], seq[1]))], segments[seq[0]], segments[seq[1]],
                             sh, named[f"{side}Wrist"])
        if heads:
            head = max(heads, key=lambda n: height[n])
            parts["head"] = head
            joint_at("Neck", thorax, head)
            named["Head"] = _centroid(segments[head], xyz, observed)
        if "LShoulder" in named and "RShoulder" in named:
            named["Thorax"] = 0.5 * (named["LShoulder"] + named["RShoulder"])
            if named.get("Neck") is not None:
                named["Thorax"] = named["Thorax"] + (named["Neck"] - named["Thorax"]) / 3.0
            if "Pelvis" in named:
                named["Spine"] = 0.5 * (named["Pelvis"] + named["Thorax"])
    named = {k: v for k, v in named.items() if v is not None}
    return LearnedBody(segments=segments, joints=joints, tree=tree, named=named, parts=parts, up=up,
                       forward=forward, notes=notes, pairs=pairs)


def rigid_specs(body: LearnedBody, names: list[str]) -> dict[str, list[dict]]:
    """For each joint found, the segments that hold it, as {"markers": {name: local xyz}, "at": local xyz}:
    the point in the segment's frame (its mean over the frames) and the layout of the segment's markers."""
    seg_of = {v: k for k, v in body.parts.items()}
    specs: dict[str, list[dict]] = {}
    for jname, world in body.named.items():
        segs = list(body.pairs[jname]) if jname in body.pairs else []
        if not segs:  # a joint made from others (Pelvis, Thorax, Spine) or a segment's centroid (Head)
            part = {"Pelvis": "pelvis", "Thorax": "thorax", "Spine": "thorax", "Head": "head"}.get(jname)
            segs = [body.parts[part]] if part in body.parts else []
        out = []
        for s in segs:
            seg = body.segments[s]
            if seg.R is None or s not in seg_of:
                continue
            labels = [names[m] for m in seg.markers]
            ok = seg.valid & np.isfinite(world).all(-1)
            if ok.sum() < MIN_COMMON:
                continue
            local = np.einsum("fji,fj->fi", seg.R[ok], world[ok] - seg.t[ok]).mean(0)
            out.append({"markers": {lab: [float(x) for x in p] for lab, p in zip(labels, seg.ref)},
                        "at": [float(x) for x in local], "segment": seg_of[s]})
        if out:
            specs[jname] = out
    return specs


#: plausible lengths (m) of the bones a learned body must have, and how far left and right may differ
BONE_RANGES = {"thigh": ("Hip", "Knee", 0.25, 0.65), "shank": ("Knee", "Ankle", 0.25, 0.60),
               "upper arm": ("Shoulder", "Elbow", 0.18, 0.45), "forearm": ("Elbow", "Wrist", 0.15, 0.40)}
MAX_SIDE_RATIO = 1.25


def checked(body: LearnedBody, where: str) -> LearnedBody:
    """The body with implausible bones removed: a leg whose thigh or shank is out of range, or
    differs from the other side by more than MAX_SIDE_RATIO, refuses the whole body (the legs are
    what the rest hangs on); an arm bone so wrong drops that arm's joints below it, with a note."""
    named = dict(body.named)
    notes = list(body.notes)

    def length(a: str, b: str) -> float | None:
        if a not in named or b not in named:
            return None
        return float(np.nanmedian(np.linalg.norm(named[a] - named[b], axis=-1)))

    for bone, (top, end, lo, hi) in BONE_RANGES.items():
        sides = {s: length(s + top, s + end) for s in "LR"}
        bad = {s for s, v in sides.items() if v is not None and not lo <= v <= hi}
        if all(v is not None for v in sides.values()) and max(sides.values()) > MAX_SIDE_RATIO * min(sides.values()):
            bad = {"L", "R"}
        if not bad:
            continue
        said = ", ".join(f"{s} {v * 1000:.0f} mm" for s, v in sides.items() if v is not None)
        if bone in ("thigh", "shank"):
            raise InputError(f"{where}: the skeleton learned from the markers' motion has an implausible {bone} ({said}; "
                             f"expected {lo * 1000:.0f}-{hi * 1000:.0f} mm, left and right alike); name the markers with a map")
        chain = ["Shoulder", "Elbow", "Wrist"]
        for s in bad:
            for j in chain[chain.index(end):]:
                named.pop(s + j, None)
        notes.append(f"{bone} {said} is implausible: {', '.join(s + end for s in sorted(bad))} and below left out")
    return replace(body, named=named, notes=notes)


def learned_map(names: list[str], xyz: np.ndarray, observed: np.ndarray, where: str = "input",
                name: str = "learned") -> tuple["SkeletonMap", LearnedBody]:
    """A SkeletonMap of rigid points learned from markers (F, N, 3; metres, file axes): see the module."""
    from gfpose_cli.io.maps import RigidPoint, SkeletonMap
    from gfpose_cli.io.maps import named as by_name

    if by_name.is_segment_set(names):  # the labels name the segments: Motive's Skeleton_LThigh1, ...
        try:
            return by_name.named_map(names, xyz, observed, where, name)
        except InputError as exc:
            first = exc
            try:  # the motion alone may still do it
                body = checked(learn_body(names, xyz, observed, where), where)
            except InputError:
                raise first from None
    else:
        body = checked(learn_body(names, xyz, observed, where), where)
    specs = rigid_specs(body, names)
    rigid = {j: tuple(RigidPoint(markers=tuple((n, tuple(p)) for n, p in sp["markers"].items()), at=tuple(sp["at"]),
                                 segment=sp["segment"]) for sp in specs[j]) for j in JOINTS if j in specs}
    joints = {j: {} for j in JOINTS}
    smap = SkeletonMap(name=name, description=f"learned from the markers' motion in {where}", joints=joints,
                       kinds=("markers",), partial=len(rigid) < len(JOINTS), rigid=rigid)
    return smap, body


def map_toml(smap: "SkeletonMap", body: LearnedBody | None = None, names: list[str] | None = None) -> str:
    """A learned map as TOML, every joint commented with its segment and the fit, for a user to check
    and to reuse (`--map mymap.toml`) on the lab's other takes with the same markers."""
    def num(v: float) -> str:
        return f"{v:.5f}"

    how = ("# Its labels name the segments; where in each segment a joint sits was learned from the motion." if body is not None
           and body.source == "labels" else "")
    lines = [f'name = "{smap.name}"', 'kinds = ["markers"]',
             f'description = "{smap.description}"', "",
             "# Written by `gfpose maps FILE --learn`: each joint is a point fixed in a segment (in metres, in the",
             "# segment's own frame, where its markers sit as listed); in every frame the markers seen are fitted",
             "# rigidly and the point follows. A joint held by two segments is the mean of the two. Joints set to",
             '# "" were not found in the motion: they stay missing. Check the result, e.g. with',
             "# `gfpose convert FILE --map THIS.toml -o check.bvh` and a look in Blender.", *([how] if how else []), ""]
    if body is not None:
        for part, seg in sorted(body.parts.items(), key=lambda kv: kv[1]):
            labels = ", ".join(names[m] if names else str(m) for m in body.segments[seg].markers)
            lines.append(f"# segment {part}: markers {labels}")
        for note in body.notes:
            lines.append(f"# note: {note}")
        lines.append("")
    lines.append("[joints]")
    for joint in JOINTS:
        if joint not in smap.rigid and smap.joints.get(joint):
            from gfpose_cli.io.maps import _toml_value

            lines.append(f"{joint} = {_toml_value(smap.joints[joint], '.6g')}  # the mean of these markers")
            continue
        if joint not in smap.rigid:
            lines.append(f'{joint} = ""  # not found in the markers\' motion')
            continue
        items = []
        for rp in smap.rigid[joint]:
            markers = ", ".join(f'"{n}" = [{num(p[0])}, {num(p[1])}, {num(p[2])}]' for n, p in rp.markers)
            items.append(f'{{segment = "{rp.segment}", markers = {{{markers}}}, at = [{num(rp.at[0])}, {num(rp.at[1])}, {num(rp.at[2])}]}}')
        lines.append(f"{joint} = {{rigid = [{', '.join(items)}]}}")
    return "\n".join(lines) + "\n"

"""A skeleton map from marker sets whose labels name body segments but no landmarks.

OptiTrack Motive's skeleton markers (Skeleton_Hip1..4, Skeleton_LThigh1..2, Skeleton_LShin1..2,
Skeleton_LHand1..3, ...), and sets like them, say which segment a marker rides and on which side,
not where on the segment it sits: the numbering differs between versions and even between the two
sides of one take (in BTK's mocap36.c3d LShin1 sits at the ankle and RShin1 mid-shin). So no
weighted mean of markers is a joint centre, and most segments hold only two markers, too few for a
pose of their own, which the motion-only learner (learn.py) needs.

Here the labels give the segments and the tree, and the motion gives the joint centres, one joint at
a time down each chain: a segment's frame is its markers plus the joint above it (the thigh: its two
markers and the hip, three points), and the joint below is the point fixed in that frame that the
next segment's markers keep their distances from (functional.pivot_centre: a sphere fit). The hips
sit in the pelvis's frame (its three or more markers), the shoulders and the neck in the chest's.
Knees and elbows, hinges, are slid along their axes into the limb's plane. The result is a map of
rigid points, like a learned map: `gfpose maps FILE --learn -o mymap.toml` writes it for the lab's
other takes.
"""
from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING

import numpy as np

from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import JOINTS
from gfpose_cli.kinematics import functional as fn
from gfpose_cli.io.maps.learn import (MAX_MISFIT_M, MIN_COMMON, MIN_ROM_DEG, LearnedBody, Segment,
                                      _mean_seen, checked)

if TYPE_CHECKING:
    from gfpose_cli.io.maps import SkeletonMap

#: words that name a segment in a marker's label (after normalise_name), limb parts first: a limb
#: part needs a side (LThigh, Thigh_R), the trunk's parts take none
#: (a marker at a joint rides the bone above it: the lateral knee the femur's condyle, the lateral
#: ankle the fibula, the lateral elbow the humerus, the wrist's the radius and ulna: Motive's Baseline
#: set's LKneeOut, LAnkleOut, LElbowOut, LWristOut)
SEGMENT_WORDS: dict[str, tuple[str, ...]] = {
    "upper arm": ("uarm", "upperarm", "humerus", "elbow"),
    "forearm": ("farm", "forearm", "lowerarm", "wrist"),
    "hand": ("hand", "palm"),
    "clavicle": ("shoulder", "clavicle", "collar"),
    "thigh": ("thigh", "upleg", "upperleg", "femur", "knee"),
    "shank": ("shin", "shank", "lowerleg", "calf", "tibia", "ankle"),
    "foot": ("foot", "toe", "heel"),
    "pelvis": ("hip", "pelvis", "waist"),
    "thorax": ("chest", "back", "torso", "thorax"),
    "head": ("head",),
}
TRUNK = ("pelvis", "thorax", "head")
#: the pelvis's hip centres lie about this share of the pelvis markers' width out from their middle,
#: and this far below them (a prior for what the motion leaves loose: adult hips are 15-20 cm apart)
HIP_OUT_SHARE = 0.25
HIP_DROP_M = 0.08
#: hip centres found from the motion are believed when their distance is this share of the pelvis
#: markers' width (adults: hip centres about 0.7 of the ASIS distance, waist markers wider still)
HIPS_APART_SHARE = (0.3, 0.85)
HIPS_OFF_SHARE = 0.15


def segments_by_name(names: list[str]) -> dict[str, list[int]]:
    """Body part ('pelvis', 'L thigh', ...) -> the columns whose labels name it."""
    from gfpose_cli.io.maps import _side, normalise_name

    out: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if "\x00" in name:
            continue
        stem = re.sub(r"\d+$", "", name.rsplit(":", 1)[-1]).strip()
        key = normalise_name(stem)
        side = _side(stem)
        if side is None:  # after a set's prefix, before a capital: Skeleton_LUArm
            m = re.search(r"[_\s.\-]([RL])(?=[A-Z])", stem)
            side = m.group(1) if m else None
        for part, words in SEGMENT_WORDS.items():
            if not any(w in key for w in words):
                continue
            if part in TRUNK:
                out.setdefault(part, []).append(i)
                break
            if side is not None:
                out.setdefault(f"{side} {part}", []).append(i)
                break
    return out


def is_segment_set(names: list[str]) -> bool:
    """Whether the labels name a pelvis of three markers or more and a thigh of two or more with a
    shank below it: enough for this learner to try."""
    seg = segments_by_name(names)
    return len(seg.get("pelvis", [])) >= 3 and any(
        len(seg.get(f"{s} thigh", [])) >= 2 and seg.get(f"{s} shank") for s in "LR")


class _Chain:
    """Joint trajectories (world, F x 3) found so far, and the frames (point names) that hold them."""

    def __init__(self, names: list[str], xyz: np.ndarray, observed: np.ndarray, where: str) -> None:
        self.names, self.xyz, self.observed, self.where = names, xyz, observed, where
        self.world: dict[str, np.ndarray] = {}
        self.holders: dict[str, list[tuple[str, list[int | str]]]] = {}  # joint -> [(part, points)]
        self.weighted: dict[str, dict[str, float]] = {}  # joints that are a mean of markers
        self.notes: list[str] = []

    def points(self, pts: list[int | str]) -> tuple[np.ndarray, np.ndarray]:
        """(F, K, 3) and seen (F, K) of columns and joints found before."""
        xyz, seen = [], []
        for p in pts:
            if isinstance(p, str):
                w = self.world[p]
                xyz.append(np.nan_to_num(w))
                seen.append(np.isfinite(w).all(-1))
            else:
                xyz.append(np.nan_to_num(self.xyz[:, p]))
                seen.append(self.observed[:, p])
        return np.stack(xyz, 1), np.stack(seen, 1)

    def frame(self, pts: list[int | str]) -> Segment | None:
        """A segment posed by its points (three or more, not in a line), or None."""
        xyz, seen = self.points(pts)
        if len(pts) < 3 or (seen.sum(1) >= 3).sum() < MIN_COMMON:
            return None
        seg = Segment(markers=[p for p in pts if not isinstance(p, str)])
        seg.ref = fn.reference_layout(xyz, seen)
        seg.R, seg.t, seg.valid = fn.kabsch(seg.ref, xyz, seen)
        return seg if seg.valid.sum() >= MIN_COMMON else None

    def pivot(self, joint: str, part: str, frame_pts: list[int | str], distal: list[int | str],
              prior_world: np.ndarray, hold: list[int | str] | None = None) -> Segment | None:
        """Place joint in the frame of frame_pts, as the point distal keeps its distances from; prior_world
        (3,) or (F, 3) settles what the motion leaves free. None (and a note) when the motion does not tell."""
        seg = self.frame(frame_pts)
        if seg is None:
            self.notes.append(f"{joint}: its {part} has fewer than three points seen together; left out")
            return None
        prior_world = np.broadcast_to(prior_world, seg.t.shape)
        ok = seg.valid & np.isfinite(prior_world).all(-1)
        prior = np.nanmedian(np.einsum("fji,fj->fi", seg.R[ok], prior_world[ok] - seg.t[ok]), axis=0)
        pts, seen = self.points(distal)
        c, misfit, turn = fn.pivot_centre(seg.R, seg.t, seg.valid, pts, seen, prior)
        if not self.told(joint, "the motion", misfit, turn):
            return None
        world = np.einsum("fij,j->fi", seg.R, c) + seg.t
        self.world[joint] = np.where(seg.valid[:, None], world, np.nan)
        self.holders[joint] = [(part, list(hold if hold is not None else frame_pts))]
        return seg

    def told(self, joint: str, what: str, misfit: float, turn: float) -> bool:
        """Whether a pivot fit is believed (it fits within MAX_MISFIT_M and the motion turns through
        MIN_ROM_DEG); if not, a note says why the joint is left out."""
        if np.isfinite(misfit) and misfit <= MAX_MISFIT_M and turn >= MIN_ROM_DEG:
            return True
        why = "does not turn enough" if turn < MIN_ROM_DEG else f"fits no fixed centre (misfit {misfit * 1000:.0f} mm)"
        self.notes.append(f"{joint}: {what} {why}; left out")
        return False

    def hips(self, pelvis: list[int], left_thigh: list[int], right_thigh: list[int], mid_world: np.ndarray,
             left_world: np.ndarray, half: float) -> None:
        """Both hips in the pelvis's frame, each where its thigh's markers keep their distances; where
        the two come out implausibly placed (closer than HIPS_APART_SHARE[0] or wider than [1] of the
        pelvis markers' width, or their middle off the markers' middle by more than HIPS_OFF_SHARE),
        gait has left their spacing loose (it turns the thighs mostly about the line through both):
        then they are placed HIP_OUT_SHARE of that width either side of the markers' middle, at the
        fits' mean height and depth, and the user is told."""
        seg = self.frame(pelvis)
        if seg is None:
            self.notes.append("hips: the pelvis has fewer than three markers seen together; left out")
            return
        ok = seg.valid & np.isfinite(mid_world).all(-1)
        mid = np.median(np.einsum("fji,fj->fi", seg.R[ok], mid_world[ok] - seg.t[ok]), axis=0)
        across = np.median(np.einsum("fji,j->fi", seg.R[ok], left_world), axis=0)
        across /= np.linalg.norm(across)
        fits = {}
        for side, cols, sign in (("L", left_thigh, 1.0), ("R", right_thigh, -1.0)):
            c, misfit, turn = fn.pivot_centre(seg.R, seg.t, seg.valid, *self.points(cols), mid + sign * half * across)
            if self.told(f"{side}Hip", "the thigh", misfit, turn):
                fits[side] = c
        if len(fits) == 2:
            width = half / HIP_OUT_SHARE
            apart = float(np.linalg.norm(fits["L"] - fits["R"]))
            off = float(abs((0.5 * (fits["L"] + fits["R"])) @ across))  # the pelvis frame's origin: the markers' middle
            if not (HIPS_APART_SHARE[0] * width <= apart <= HIPS_APART_SHARE[1] * width and off <= HIPS_OFF_SHARE * width):
                centre = 0.5 * (fits["L"] + fits["R"])
                centre = centre - (centre @ across) * across
                fits = {"L": centre + half * across, "R": centre - half * across}
                self.notes.append(f"hips: the motion does not tell how far apart they are (the fits gave {apart * 1000:.0f} mm, "
                                  f"their middle {off * 1000:.0f} mm off the pelvis markers'); placed {2 * half * 1000:.0f} mm "
                                  "apart about the pelvis markers' middle")
        for side, c in fits.items():
            world = np.einsum("fij,j->fi", seg.R, c) + seg.t
            self.world[f"{side}Hip"] = np.where(seg.valid[:, None], world, np.nan)
            self.holders[f"{side}Hip"] = [("pelvis", list(pelvis))]

    def centroid(self, cols: list[int]) -> np.ndarray:
        return _mean_seen(self.xyz[:, cols], self.observed[:, cols])


def _nearest_pair_mid(chain: _Chain, a: list[int | str], b: list[int]) -> np.ndarray:
    """The midpoint (F, 3) of the closest pair (median distance) between points a and columns b: a
    prior for the joint between two segments."""
    pa, sa = chain.points(a)
    pb, sb = chain.points(b)
    best, mid = np.inf, None
    for i in range(pa.shape[1]):
        for j in range(pb.shape[1]):
            both = sa[:, i] & sb[:, j]
            if both.sum() < MIN_COMMON:
                continue
            d = float(np.median(np.linalg.norm(pa[both, i] - pb[both, j], axis=-1)))
            if d < best:
                best, mid = d, 0.5 * (pa[:, i] + pb[:, j])
    return mid if mid is not None else np.full((len(pa), 3), np.nan)


#: a hand marker rides the forearm (the wrist's side) when its distance from the elbow varies less than this (std, m)
WRIST_STD_M = 0.008


def _wrist_markers(chain: _Chain, elbow: str, hand: list[int]) -> list[int]:
    """The two of these markers (the forearm's and the hand's) that ride the wrist's two sides (their
    distances from the elbow hardly vary, where a marker past the wrist swings with the hand), or []."""
    if len(hand) < 2:
        return []
    pe, se = chain.points([elbow])
    ph, sh = chain.points(hand)
    spread = []
    for k in range(len(hand)):
        both = se[:, 0] & sh[:, k]
        d = np.linalg.norm(ph[both, k] - pe[both, 0], axis=-1)
        spread.append(float(d.std()) if both.sum() >= MIN_COMMON else np.inf)
    best = np.argsort(spread)[:2]
    return [hand[k] for k in best] if max(spread[k] for k in best) < WRIST_STD_M else []


#: a joint is read as a hinge when the next segment's markers move this close to one plane in its
#: frame (the least spread direction's variance, as a share of the next one's)
HINGE_FLATNESS = 0.3


def _hinge_axis(chain: _Chain, joint: str, prox: Segment, distal: list[int]) -> np.ndarray | None:
    """The world axis (F, 3) of a hinge (knee, elbow) from the paths its distal markers trace in the
    proximal segment's frame (they move in planes normal to it), or None when they do not keep to a
    plane. Also places an auxiliary point on the axis, 10 cm from the joint (chain.world[joint + '~axis']):
    fixed in both segments, it gives the distal segment's two markers and the joint a third point off
    their line, so its frame no longer spins about the bone."""
    pts, seen = chain.points(distal)
    local = np.einsum("fji,fkj->fki", prox.R, pts - prox.t[:, None])
    paths = [local[seen[:, k] & prox.valid, k] for k in range(len(distal))]
    paths = [p - p.mean(0) for p in paths if len(p) >= MIN_COMMON]
    if not paths:
        return None
    w, v = np.linalg.eigh(np.concatenate(paths).T @ np.concatenate(paths))
    if w[0] > HINGE_FLATNESS * w[1]:
        return None
    axis = np.einsum("fij,j->fi", prox.R, v[:, 0])
    chain.world[joint + "~axis"] = chain.world[joint] + 0.1 * axis
    return axis


def _slide(chain: _Chain, joint: str, axis: np.ndarray | None, above: str, below: str) -> None:
    """Slide a hinge along its axis (which its motion leaves free) into the plane of the limb: level,
    along the axis, with the midpoint of the joints above and below it."""
    if axis is None or joint not in chain.world or above not in chain.world or below not in chain.world:
        return
    mid = 0.5 * (chain.world[above] + chain.world[below])
    shift = np.nanmedian(np.einsum("fi,fi->f", mid - chain.world[joint], axis))
    if np.isfinite(shift):
        chain.world[joint] = chain.world[joint] + shift * axis


def learn_named_body(names: list[str], xyz: np.ndarray, observed: np.ndarray, where: str = "input") -> LearnedBody:
    """The 17 joints (those the labels and the motion give) of a segment-named marker set; see the
    module. Refuses with the reason when no hip and knee are found."""
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _learn_named(names, xyz, observed, where)


def _learn_named(names: list[str], xyz: np.ndarray, observed: np.ndarray, where: str) -> LearnedBody:
    seg = segments_by_name(names)
    chain = _Chain(names, xyz, observed, where)
    pelvis = seg.get("pelvis", [])
    pelvis_c = chain.centroid(pelvis)
    lower = [c for s in "LR" for p in ("shank", "foot") for c in seg.get(f"{s} {p}", [])]
    upper = seg.get("head", []) + seg.get("thorax", [])
    up = np.nanmedian(chain.centroid(upper) - chain.centroid(lower), axis=0) if upper else \
        np.nanmedian(pelvis_c - chain.centroid(lower), axis=0)
    up = up / np.linalg.norm(up)
    # left: from the right thigh's markers to the left's (the labels say which is which)
    thighs = {s: chain.centroid(seg[f"{s} thigh"]) for s in "LR" if seg.get(f"{s} thigh")}
    if len(thighs) == 2:
        left = np.nanmedian(thighs["L"] - thighs["R"], axis=0)
    else:
        s, c = next(iter(thighs.items()))
        left = np.nanmedian(c - pelvis_c, axis=0) * (1 if s == "L" else -1)
    left = left - (left @ up) * up
    left = left / np.linalg.norm(left)
    forward = np.cross(left, up)
    rel = np.where(observed[:, pelvis, None], np.nan_to_num(xyz[:, pelvis]) - pelvis_c[:, None], np.nan)
    width = float(np.nanpercentile(rel @ left, 98) - np.nanpercentile(rel @ left, 2))

    # the legs: hips in the pelvis's frame, knee in the thigh's (its markers and the hip), ankle in the shank's
    legs = [s for s in "LR" if len(seg.get(f"{s} thigh", [])) >= 2 and seg.get(f"{s} shank")]
    if len(legs) == 2:
        chain.hips(pelvis, seg["L thigh"], seg["R thigh"], pelvis_c - HIP_DROP_M * up, left, HIP_OUT_SHARE * width)
    else:
        for s in legs:
            sign = 1.0 if s == "L" else -1.0
            chain.pivot(f"{s}Hip", "pelvis", pelvis, seg[f"{s} thigh"], pelvis_c + sign * HIP_OUT_SHARE * width * left - HIP_DROP_M * up)
    for s in legs:
        thigh, shank, foot = (seg.get(f"{s} {p}", []) for p in ("thigh", "shank", "foot"))
        if f"{s}Hip" not in chain.world:
            continue
        thigh_pts: list[int | str] = [*thigh, f"{s}Hip"]
        thigh_seg = chain.pivot(f"{s}Knee", f"{s} thigh", thigh_pts, shank, _nearest_pair_mid(chain, thigh, shank))
        if thigh_seg is None:
            continue
        axis = _hinge_axis(chain, f"{s}Knee", thigh_seg, shank)
        shank_pts: list[int | str] = [*shank, f"{s}Knee"]
        if len(shank) >= 2 and foot:
            fit_pts = shank_pts + ([f"{s}Knee~axis"] if axis is not None else [])
            chain.pivot(f"{s}Ankle", f"{s} shank", fit_pts, foot, _nearest_pair_mid(chain, shank, foot), hold=shank_pts)
        _slide(chain, f"{s}Knee", axis, f"{s}Hip", f"{s}Ankle")
    if "LHip" not in chain.world and "RHip" not in chain.world:
        raise InputError(f"{where}: its labels name a pelvis and legs, but the markers' motion gives no hip centre "
                         f"({'; '.join(chain.notes)})")
    if "LKnee" not in chain.world and "RKnee" not in chain.world:
        raise InputError(f"{where}: its labels name a pelvis and legs, but the markers' motion gives no knee centre "
                         f"({'; '.join(chain.notes)})")
    hips = [chain.world[f"{s}Hip"] for s in "LR" if f"{s}Hip" in chain.world]
    if len(hips) == 2:
        chain.world["Pelvis"] = 0.5 * (hips[0] + hips[1])
        chain.holders["Pelvis"] = [("pelvis", list(pelvis))]

    # the upper body: shoulders and neck in the chest's frame, elbows in the upper arms' (markers and
    # shoulder), wrists in the forearm's (markers and elbow) or the hand's (three markers: the elbow
    # keeps its distance from the wrist)
    thorax, head = seg.get("thorax", []), seg.get("head", [])
    if len(thorax) >= 3:
        for s in "LR":
            uarm, farm, hand = (seg.get(f"{s} {p}", []) for p in ("upper arm", "forearm", "hand"))
            clav = seg.get(f"{s} clavicle", [])
            if not uarm:
                continue
            prior = chain.centroid(clav) - 0.04 * up if clav else _nearest_pair_mid(chain, thorax, uarm)
            if chain.pivot(f"{s}Shoulder", "thorax", thorax, uarm, prior) is None:
                continue
            uarm_pts: list[int | str] = [*uarm, f"{s}Shoulder"]
            below = farm or hand
            if len(uarm) < 2 or not below:
                continue
            uarm_seg = chain.pivot(f"{s}Elbow", f"{s} upper arm", uarm_pts, below, _nearest_pair_mid(chain, uarm, below))
            if uarm_seg is None:
                continue
            axis = _hinge_axis(chain, f"{s}Elbow", uarm_seg, below)
            if wrist := _wrist_markers(chain, f"{s}Elbow", farm + hand):
                # two markers keep their distance from the elbow: they ride the wrist's two sides
                # (Motive's WristIn/WristOut, under a hand's or a forearm's name), the wrist between them
                chain.weighted[f"{s}Wrist"] = {names[c]: 1.0 / len(wrist) for c in wrist}
                pw, sw = chain.points(wrist)
                chain.world[f"{s}Wrist"] = np.where(sw.all(1)[:, None], pw.mean(1), np.nan)
            elif len(farm) >= 2 and hand:
                farm_pts: list[int | str] = [*farm, f"{s}Elbow"]
                fit_pts = farm_pts + ([f"{s}Elbow~axis"] if axis is not None else [])
                chain.pivot(f"{s}Wrist", f"{s} forearm", fit_pts, hand, _nearest_pair_mid(chain, farm, hand), hold=farm_pts)
            elif len(hand) >= 3:
                near = _nearest_pair_mid(chain, [f"{s}Elbow"], hand)
                prior = near + (near - chain.world[f"{s}Elbow"])  # the hand marker nearest the elbow
                chain.pivot(f"{s}Wrist", f"{s} hand", list(hand), [f"{s}Elbow"], prior)
            _slide(chain, f"{s}Elbow", axis, f"{s}Shoulder", f"{s}Wrist")
        if len(head) >= 3:
            a, b = chain.frame(list(thorax)), chain.frame(list(head))
            if a is not None and b is not None:
                ok = a.valid & b.valid
                mid = 0.5 * (chain.centroid(thorax) + chain.centroid(head))
                pa = np.nanmedian(np.einsum("fji,fj->fi", a.R[ok], mid[ok] - a.t[ok]), axis=0)
                pb = np.nanmedian(np.einsum("fji,fj->fi", b.R[ok], mid[ok] - b.t[ok]), axis=0)
                if ok.sum() >= MIN_COMMON:
                    ca, cb, misfit = fn.score_centre(a.R, a.t, b.R, b.t, ok, pa, pb)
                    if misfit <= MAX_MISFIT_M:
                        w = 0.5 * (np.einsum("fij,j->fi", a.R, ca) + a.t + np.einsum("fij,j->fi", b.R, cb) + b.t)
                        chain.world["Neck"] = np.where(ok[:, None], w, np.nan)
                        chain.holders["Neck"] = [("thorax", list(thorax)), ("head", list(head))]
                    else:
                        chain.notes.append(f"Neck: the head and chest fit no fixed centre (misfit {misfit * 1000:.0f} mm); left out")
        elif head:
            chain.pivot("Neck", "thorax", thorax, head, 0.5 * (chain.centroid(thorax) + chain.centroid(head)))
    if len(head) >= 3:
        chain.world["Head"] = chain.centroid(head)
        chain.holders["Head"] = [("head", list(head))]
    shoulders = [chain.world[f"{s}Shoulder"] for s in "LR" if f"{s}Shoulder" in chain.world]
    if len(shoulders) == 2:
        th = 0.5 * (shoulders[0] + shoulders[1])
        if "Neck" in chain.world:
            th = th + (chain.world["Neck"] - th) / 3.0  # as the motion-only learner places it
        chain.world["Thorax"] = th
        chain.holders["Thorax"] = [("thorax", list(thorax))]
        if "Pelvis" in chain.world:
            chain.world["Spine"] = 0.5 * (chain.world["Pelvis"] + th)
            chain.holders["Spine"] = [("pelvis", list(pelvis)), ("thorax", list(thorax))]

    parts = {part: k for k, part in enumerate(seg)}
    segments = [Segment(markers=list(cols)) for cols in seg.values()]
    named = {j: w for j, w in chain.world.items() if j in JOINTS}  # not the hinges' auxiliary points
    return LearnedBody(segments=segments, joints={}, tree=[], named=named, parts=parts, up=up,
                       forward=forward, notes=chain.notes, source="labels", holders=chain.holders,
                       weighted=chain.weighted)


def named_specs(body: LearnedBody, names: list[str], xyz: np.ndarray, observed: np.ndarray) -> dict[str, list[dict]]:
    """rigid_specs for a segment-named body: each joint as a point in the frames that hold it (their
    markers and the joints above, as the map's `markers`), averaged over the take."""
    chain = _Chain(names, xyz, observed, "")
    chain.world = dict(body.named)
    specs: dict[str, list[dict]] = {}
    for joint in JOINTS:  # in the skeleton's order a frame's joints come before the joints it holds
        if joint not in body.named:
            continue
        out = []
        for part, pts in body.holders.get(joint, []):
            if any(isinstance(p, str) and p not in body.named for p in pts):
                continue
            seg = chain.frame(pts)
            if seg is None:
                continue
            world = body.named[joint]
            ok = seg.valid & np.isfinite(world).all(-1)
            if ok.sum() < MIN_COMMON:
                continue
            local = np.einsum("fji,fj->fi", seg.R[ok], world[ok] - seg.t[ok]).mean(0)
            labels = [p if isinstance(p, str) else names[p] for p in pts]
            out.append({"markers": {lab: [float(x) for x in p] for lab, p in zip(labels, seg.ref)},
                        "at": [float(x) for x in local], "segment": part})
        if out:
            specs[joint] = out
    return specs


def named_map(names: list[str], xyz: np.ndarray, observed: np.ndarray, where: str = "input",
              name: str = "learned") -> tuple["SkeletonMap", LearnedBody]:
    """A SkeletonMap of rigid points for a segment-named marker set (see the module)."""
    from gfpose_cli.io.maps import RigidPoint, SkeletonMap

    body = checked(learn_named_body(names, xyz, observed, where), where)
    specs = named_specs(body, names, xyz, observed)
    rigid = {j: tuple(RigidPoint(markers=tuple((n, tuple(p)) for n, p in sp["markers"].items()), at=tuple(sp["at"]),
                                 segment=sp["segment"]) for sp in specs[j]) for j in JOINTS if j in specs}
    joints = {j: dict(body.weighted.get(j, {})) if j in body.named and j not in rigid else {} for j in JOINTS}
    smap = SkeletonMap(name=name, description=f"segments named by the labels of {where}, joint centres from their motion",
                       joints=joints, kinds=("markers",), partial=len(rigid) + sum(map(bool, joints.values())) < len(JOINTS),
                       rigid=rigid)
    return smap, body

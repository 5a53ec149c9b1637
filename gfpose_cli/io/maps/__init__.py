"""Skeleton maps: TOML presets that define each of the 17 joints from a source's joints/markers.

A joint is a single source name or a weighted sum (`Pelvis = {rThigh = 0.5, lThigh = 0.5}`).
Marker sets place the hips by regression in the pelvis frame (`RHip = {hip_centres = "right"}`,
with the four pelvic markers named once under `[hip_centres]`: hip_centres()).
Source names are matched case-insensitively after stripping namespace prefixes such as
`Subject:` or `mixamorig:`. A joint whose sources are missing in a frame is missing, never zero.
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np

from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import JOINTS, N_JOINTS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def normalise_name(name: str) -> str:
    """Case-, separator- and namespace-insensitive form of a source joint or marker name: `Derrick:L_IAS`,
    `l.ias` and `L IAS` are all `lias`."""
    return re.sub(r"[\s_.\-]+", "", name.rsplit(":", 1)[-1]).lower()


@dataclass(frozen=True)
class RigidPoint:
    """A joint fixed in one segment: where the segment's markers sit in its own frame (metres;
    a name may also be a joint of the same map found before, such as the hip for the thigh) and
    where the joint sits in that frame. Found in every frame by a rigid fit of the markers seen."""

    markers: tuple[tuple[str, tuple[float, float, float]], ...]
    at: tuple[float, float, float]
    segment: str = ""


#: Harrington et al. (2007, J Biomech 40:595) hip joint centres in the pelvis frame (origin mid-ASIS; x
#: anterior, y superior, z lateral), from pelvic width PW (ASIS to ASIS) and depth PD (mid-ASIS to
#: mid-PSIS): x = -0.24 PD - 9.9 mm, y = -0.30 PW - 10.9 mm, z = 0.33 PW + 7.3 mm. Best of the
#: predictive equations against MRI and CT (12 mm mean error, Davis's 25: Mantovani 2016; Sangeux 2014)
HARRINGTON = {"x": (-0.24, "PD", -0.0099), "y": (-0.30, "PW", -0.0109), "z": (0.33, "PW", 0.0073)}
HIP_SIDES = ("right", "left", "mid")
HIP_MARKERS = ("left_asis", "right_asis", "left_psis", "right_psis")


def hip_centres(rasi: np.ndarray, lasi: np.ndarray, rpsi: np.ndarray, lpsi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The right and left hip joint centres (F, 3) from the four pelvic markers (F, 3; metres), fixed
    in the pelvis frame they span (HARRINGTON). A set with one sacral marker gives it for both PSIS."""
    mid_asis, mid_psis = 0.5 * (rasi + lasi), 0.5 * (rpsi + lpsi)
    with np.errstate(all="ignore"):
        z = rasi - lasi
        pw = np.linalg.norm(z, axis=-1, keepdims=True)
        z = z / pw
        x = mid_asis - mid_psis
        x = x - (x * z).sum(-1, keepdims=True) * z
        pd = np.linalg.norm(mid_asis - mid_psis, axis=-1, keepdims=True)
        x = x / np.linalg.norm(x, axis=-1, keepdims=True)
        y = np.cross(z, x)
    size = {"PW": pw, "PD": pd}
    off = {k: a * size[m] + b for k, (a, m, b) in HARRINGTON.items()}
    along = mid_asis + off["x"] * x + off["y"] * y
    return along + off["z"] * z, along - off["z"] * z


def cluster_gaps(seen: np.ndarray) -> np.ndarray:
    """(F,) the frames where cluster_filled places a cluster's markers (seen: (F, K), its markers seen):
    some missing, three or more seen, and a frame somewhere that shows them all."""
    return ~seen.all(1) & (seen.sum(1) >= 3) & seen.all(1).any()


def cluster_filled(positions: np.ndarray, observed: np.ndarray, cols: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """positions (F, N, 3) and observed (F, N) with the markers cols (one rigid segment's) placed in the
    frames where at least three of them are seen and the others not: each frame takes the cluster of the
    last frame before it and of the first after it that show all of it, each moved by the rigid motion of
    the markers both frames show, and blends the two placements by where it lies between them (one side
    at the take's ends). A cluster's shape drifts over seconds (skin, a loose belt): taking the nearest
    side alone jumped where the nearer side changed, mid-gap (58 mm in one frame on CMU 85_02's waist)."""
    seen = observed[:, cols]
    whole, partial = np.flatnonzero(seen.all(1)), np.flatnonzero(cluster_gaps(seen))
    if not len(partial):
        return positions, observed
    positions, observed = positions.copy(), observed.copy()
    at = np.searchsorted(whole, partial)  # the first whole frame after each partial one (len(whole): none)
    after, before = whole[np.clip(at, 0, len(whole) - 1)], whole[np.clip(at - 1, 0, len(whole) - 1)]
    has_after, has_before = at < len(whole), at > 0
    span = np.where(has_after & has_before, after - before, 1)
    w_after = np.where(has_after & has_before, (partial - before) / span, has_after.astype(float))
    cluster = positions[:, cols].astype(np.float64)
    for pattern in np.unique(seen[partial], axis=0):
        alike = (seen[partial] == pattern).all(1)
        rows = partial[alike]
        w = w_after[alike][:, None, None]
        placed = ((1 - w) * _moved_like(cluster, before[alike], rows, pattern)
                  + w * _moved_like(cluster, after[alike], rows, pattern))
        gone = [c for c, p in zip(cols, pattern) if not p]
        positions[rows[:, None], gone] = placed
        observed[rows[:, None], gone] = True
    return positions, observed


def _moved_like(cluster: np.ndarray, refs: np.ndarray, rows: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    """The cluster's unseen markers (~pattern) of frames refs moved into frames rows by the rigid motion
    of its seen ones (pattern) between the two."""
    from gfpose_cli.kinematics.rotations import kabsch

    ref, now = cluster[refs], cluster[rows]
    mu_ref, mu_now = ref[:, pattern].mean(1), now[:, pattern].mean(1)
    rot = kabsch(ref[:, pattern] - mu_ref[:, None], now[:, pattern] - mu_now[:, None])
    return np.einsum("fij,fkj->fki", rot, ref[:, ~pattern] - mu_ref[:, None]) + mu_now[:, None]


@dataclass(frozen=True)
class SkeletonMap:
    """One preset: for each of the 17 joints, source names and weights (a weighted mean of the
    file's points), or rigid points (a learned map: gfpose_cli.io.maps.learn); a joint with neither
    is one the set has no markers for, missing in every frame."""

    name: str
    description: str
    joints: dict[str, dict[str, float]]
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)  # normalised name -> alternatives
    priority: int = 0  # breaks ties in auto-detection when several presets find every source
    kinds: tuple[str, ...] = ("markers", "rig")  # what it maps: C3D marker sets, skeleton rigs (BVH, ASF), 2d
    #: a joint whose sources the file lacks is missing in every frame instead of refused (auto_map sets
    #: it for a file that holds whole body parts of a preset, e.g. lower-body Plug-in Gait)
    partial: bool = False
    rigid: dict[str, tuple[RigidPoint, ...]] = field(default_factory=dict)
    #: joints the map places by estimate, not from a source of their own (said on stderr when read)
    estimated: tuple[str, ...] = ()
    #: the left ASIS, right ASIS, left PSIS and right PSIS markers' names (HIP_MARKERS), and the joints
    #: placed by the hip regression from them (joint -> "right", "left" or "mid": hip_centres())
    hip_markers: tuple[str, ...] = ()
    hip_joints: dict[str, str] = field(default_factory=dict)
    #: joint -> the sources to use instead, in order, where the file lacks a name of the joint's own
    #: (`LKnee = [{LKneeOut = 0.5, LKneeIn = 0.5}, "LKneeOut"]`: a set with and without medial markers)
    alternatives: dict[str, tuple[dict[str, float], ...]] = field(default_factory=dict)
    #: prefixes (normalised) a set's names may carry before the map's own (Qualisys's `Q_WaistLFront`)
    prefixes: tuple[str, ...] = ()
    #: joint -> the place in its list of sources (1: the first alternative) from which on a source is an
    #: estimate, not a landmark of the joint (`[estimated_from] Spine = 1`: Plug-in Gait's Spine is
    #: between T10 and the sternum where the set has them, estimated from the pelvis and thorax where not)
    estimated_from: dict[str, int] = field(default_factory=dict)
    #: name -> four or more markers on one rigid segment (`[clusters] thorax = ["C7", "T10", "CLAV", "STRN"]`):
    #: one of them missing where three are seen is placed by them (cluster_filled)
    clusters: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def for_names(self, names: list[str]) -> SkeletonMap:
        """This map with each joint's sources chosen for a file's names: the first of the joint's own and
        its alternatives whose names the file holds all of (its own where none is complete)."""
        if not self.alternatives:
            return self
        have = {normalise_name(n): i for i, n in enumerate(names)}
        joints = dict(self.joints)
        estimated = list(self.estimated)
        for joint, alts in self.alternatives.items():
            at = next((k for k, spec in enumerate((self.joints[joint], *alts))
                       if all(self._resolve(s, have) is not None for s in spec)), 0)
            joints[joint] = (self.joints[joint], *alts)[at]
            if joint in self.estimated_from and at >= self.estimated_from[joint] and joint not in estimated:
                estimated.append(joint)
        estimated.sort(key=lambda j: JOINTS.index(j) if j in JOINTS else len(JOINTS))
        return replace(self, joints=joints, alternatives={}, estimated=tuple(estimated), estimated_from={})

    def _names_of(self, joint: str) -> list[str]:
        """The file names a joint reads: its weighted sources, or its rigid points' markers."""
        if joint in self.rigid:
            return list(dict.fromkeys(n for rp in self.rigid[joint] for n, _ in rp.markers if n not in JOINTS))
        if joint in self.hip_joints:
            return list(dict.fromkeys(self.hip_markers))
        return list(self.joints.get(joint, {}))

    def sources(self) -> set[str]:
        return {normalise_name(s) for joint in JOINTS for s in self._names_of(joint)}

    def _resolve(self, source: str, have: dict[str, int]) -> int | None:
        """Index of a source name (or one of its aliases) among the file's names."""
        key = normalise_name(source)
        for candidate in (key, *self.aliases.get(key, ())):
            for name in (candidate, *(p + candidate for p in self.prefixes)):
                if name in have:
                    return have[name]
        return None

    def source_columns(self, names: list[str]) -> list[list[int]]:
        """Per joint (JOINTS order), the sorted indices among names of the sources this map reads for it."""
        if self.alternatives:
            return self.for_names(names).source_columns(names)
        have = {normalise_name(n): i for i, n in enumerate(names)}
        return [sorted({i for s in self._names_of(joint) if (i := self._resolve(s, have)) is not None})
                for joint in JOINTS]

    def resolved_sources(self, names: list[str]) -> list[str]:
        """The file's names this map would read."""
        return [names[i] for i in sorted({i for cols in self.source_columns(names) for i in cols})]

    def match_score(self, names: list[str]) -> float:
        """Fraction of this map's source names present among names (aliases count; of each joint's
        sources, those for_names chooses)."""
        if self.alternatives:
            return self.for_names(names).match_score(names)
        have = {normalise_name(n): i for i, n in enumerate(names)}
        need = self.sources()
        return sum(self._resolve(s, have) is not None for s in need) / max(len(need), 1)

    def absent(self, names: list[str]) -> dict[str, list[str]]:
        """Joints whose sources the file's names lack, with the names each needs."""
        if self.alternatives:
            return self.for_names(names).absent(names)
        have = {normalise_name(n): i for i, n in enumerate(names)}
        out = {}
        for joint in JOINTS:
            if joint in self.rigid:  # some segment holding it has three markers (or joints) to fit
                usable = any(sum(n in JOINTS or self._resolve(n, have) is not None for n, _ in rp.markers) >= 3
                             for rp in self.rigid[joint])
                if not usable:
                    out[joint] = self._names_of(joint)
                continue
            if not self.joints[joint] and joint not in self.hip_joints:
                out[joint] = []  # the set has no markers for it
                continue
            missing = [s for s in self._names_of(joint) if self._resolve(s, have) is None]
            if missing:
                out[joint] = missing
        return out

    def rigid_clusters(self, names: list[str]) -> list[list[int]]:
        """The file's columns of marker clusters on one rigid segment whose joints need all of them: the
        four pelvic markers of the hip regression, the head's markers where the head is their mean (four
        or more: a headband's LFHD, RFHD, LBHD, RBHD), and the map's own [clusters] (the thorax's)."""
        if "markers" not in self.kinds:
            return []
        have = {normalise_name(n): i for i, n in enumerate(names)}
        groups = ([list(self.hip_markers)] if self.hip_joints else []) + [list(c) for c in self.clusters.values()]
        head = self.joints.get("Head")
        if (isinstance(head, dict) and len(head) >= 4 and min(head.values()) > 0  # markers around it, not an extrapolation
                and "Head" not in self.rigid and "Head" not in self.hip_joints):
            groups.append(list(head))
        clusters = []
        for group in groups:
            cols = [self._resolve(s, have) for s in group]
            if None not in cols and len(set(cols)) >= 4:
                clusters.append(list(dict.fromkeys(cols)))
        return clusters

    def apply(self, names: list[str], positions: np.ndarray, observed: np.ndarray | None = None,
              where: str = "input") -> tuple[np.ndarray, np.ndarray]:
        """Map source positions (F, N, D) to (F, 17, D) and a mask (F, 17).

        A marker of a rigid cluster (rigid_clusters) missing where three of its cluster are seen is placed
        by them first (cluster_filled), as a capture program's rigid-body fill does: one occluded ASIS
        does not lose the pelvis and both hips.

        Raises InputError naming the joints whose sources are absent from the file, unless the map
        is partial: then those joints are missing in every frame.
        """
        if self.alternatives:
            return self.for_names(names).apply(names, positions, observed, where)
        have = {normalise_name(n): i for i, n in enumerate(names)}
        F, _, D = positions.shape
        if observed is None:
            observed = np.isfinite(positions).all(-1)
        if D == 3:
            for cols in self.rigid_clusters(names):
                positions, observed = cluster_filled(positions, observed, cols)
        out = np.full((F, N_JOINTS, D), np.nan, dtype=np.float64)
        mask = np.zeros((F, N_JOINTS), dtype=bool)
        absent: list[str] = []
        for j, joint in enumerate(JOINTS):
            weights = self.joints[joint]
            if joint in self.hip_joints:
                continue
            if joint in self.rigid or not weights:
                if not weights and joint not in self.rigid:
                    absent.append(f"{joint} (the map leaves it out)")
                continue
            cols = [self._resolve(s, have) for s in weights]
            missing = [s for s, c in zip(weights, cols) if c is None]
            if missing:
                absent.append(f"{joint} (needs {', '.join(missing)})")
                continue
            w = np.array(list(weights.values()), dtype=np.float64)
            w = w / w.sum()
            seen = observed[:, cols].all(axis=1)
            value = np.einsum("k,fkd->fd", w, np.nan_to_num(positions[:, cols]))
            out[seen, j] = value[seen]
            mask[:, j] = seen
        absent += self._apply_hips(have, positions, observed, out, mask)
        self._apply_rigid(have, positions, observed, out, mask)
        if absent and not self.partial:
            raise InputError(f"{where}: map '{self.name}' cannot find {'; '.join(absent)}")
        return out, mask

    def _apply_hips(self, have: dict[str, int], positions: np.ndarray, observed: np.ndarray,
                    out: np.ndarray, mask: np.ndarray) -> list[str]:
        """Place the joints of hip_joints (hip_centres) in the frames where the four pelvic markers are
        seen; returns the absent joints' notes (the markers the file lacks)."""
        if not self.hip_joints:
            return []
        cols = [self._resolve(s, have) for s in self.hip_markers]
        missing = list(dict.fromkeys(s for s, c in zip(self.hip_markers, cols) if c is None))
        if missing:
            return [f"{joint} (needs {', '.join(missing)})" for joint in self.hip_joints]
        seen = observed[:, cols].all(axis=1)
        pts = dict(zip(HIP_MARKERS, (np.nan_to_num(positions[:, c]).astype(np.float64) for c in cols)))
        right, left = hip_centres(pts["right_asis"], pts["left_asis"], pts["right_psis"], pts["left_psis"])
        placed = {"right": right, "left": left, "mid": 0.5 * (right + left)}
        for joint, side in self.hip_joints.items():
            j = JOINTS.index(joint)
            ok = seen & np.isfinite(placed[side]).all(-1)
            out[ok, j] = placed[side][ok]
            mask[:, j] = ok
        return []

    def _apply_rigid(self, have: dict[str, int], positions: np.ndarray, observed: np.ndarray,
                     out: np.ndarray, mask: np.ndarray) -> None:
        """Place the rigid joints in every frame where three of a segment's points are seen; a joint
        held by two segments is the mean of the two. Joints that other segments use as points (the
        hip for the thigh) are placed first."""
        from gfpose_cli.kinematics.functional import kabsch

        pending = [j for j in JOINTS if j in self.rigid]
        for _ in range(len(pending) + 1):
            if not pending:
                break
            left = []
            for joint in pending:
                j = JOINTS.index(joint)
                waits = any(n in pending and n != joint for rp in self.rigid[joint] for n, _ in rp.markers)
                if waits:
                    left.append(joint)
                    continue
                total = np.zeros((positions.shape[0], 3))
                count = np.zeros(positions.shape[0])
                for rp in self.rigid[joint]:
                    ref, pts, seen = [], [], []
                    for n, local in rp.markers:
                        if n in JOINTS:
                            k = JOINTS.index(n)
                            pts.append(np.nan_to_num(out[:, k]))
                            seen.append(mask[:, k])
                        else:
                            c = self._resolve(n, have)
                            if c is None:
                                continue
                            pts.append(np.nan_to_num(positions[:, c]))
                            seen.append(observed[:, c])
                        ref.append(local)
                    if len(ref) < 3:
                        continue
                    R, t, valid = kabsch(np.asarray(ref), np.stack(pts, 1), np.stack(seen, 1))
                    est = np.einsum("fij,j->fi", R, np.asarray(rp.at)) + t
                    total[valid] += est[valid]
                    count[valid] += 1
                ok = count > 0
                out[ok, j] = total[ok] / count[ok, None]
                mask[:, j] = ok
            pending = left


def _parse(data: dict, name: str) -> SkeletonMap:
    joints_raw = data.get("joints")
    if not isinstance(joints_raw, dict):
        raise InputError(f"map {name}: needs a [joints] table")
    joints: dict[str, dict[str, float]] = {}
    rigid: dict[str, tuple[RigidPoint, ...]] = {}
    hip_joints: dict[str, str] = {}
    alternatives: dict[str, tuple[dict[str, float], ...]] = {}
    hips_raw = data.get("hip_centres", {})
    if not isinstance(hips_raw, dict) or (hips_raw and sorted(hips_raw) != sorted(HIP_MARKERS)):
        raise InputError(f"map {name}: [hip_centres] names the four pelvic markers: {', '.join(HIP_MARKERS)}")
    hip_markers = tuple(str(hips_raw[k]) for k in HIP_MARKERS) if hips_raw else ()
    for joint in JOINTS:
        spec = next((v for k, v in joints_raw.items() if k.lower() == joint.lower()), None)
        if spec is None:
            raise InputError(f"map {name}: joint {joint} is not defined")
        if spec == "":  # the set has no markers for it: missing in every frame
            joints[joint] = {}
        elif isinstance(spec, dict) and "rigid" in spec:
            joints[joint] = {}
            rigid[joint] = _parse_rigid(spec["rigid"], name, joint)
        elif isinstance(spec, dict) and "hip_centres" in spec:
            if spec["hip_centres"] not in HIP_SIDES or not hip_markers:
                raise InputError(f"map {name}: joint {joint}: hip_centres is one of {', '.join(HIP_SIDES)}, with the "
                                 "pelvic markers named under [hip_centres]")
            joints[joint] = {}
            hip_joints[joint] = str(spec["hip_centres"])
        elif isinstance(spec, list) and spec:  # the joint's own sources, then the alternatives in order
            specs = [_weights(item, name, joint) for item in spec]
            joints[joint] = specs[0]
            if len(specs) > 1:
                alternatives[joint] = tuple(specs[1:])
        else:
            joints[joint] = _weights(spec, name, joint)
    aliases = {normalise_name(k): tuple(normalise_name(a) for a in ([v] if isinstance(v, str) else v))
               for k, v in data.get("aliases", {}).items()}
    clusters_raw = data.get("clusters", {})
    if not isinstance(clusters_raw, dict) or not all(
            isinstance(v, list) and len(set(map(str, v))) >= 4 for v in clusters_raw.values()):
        raise InputError(f"map {name}: [clusters] lists, for each name, four or more markers on one rigid segment "
                         '(thorax = ["C7", "T10", "CLAV", "STRN"])')
    estimated_from = {}
    for joint, at in data.get("estimated_from", {}).items():
        if joint not in alternatives or not isinstance(at, int) or not 1 <= at <= len(alternatives[joint]):
            raise InputError(f"map {name}: [estimated_from] {joint} = {at!r}: give the place (1 = the first alternative) "
                             f"in {joint}'s list of sources from which on they are estimates")
        estimated_from[joint] = at
    return SkeletonMap(name=str(data.get("name", name)), description=str(data.get("description", "")),
                       joints=joints, aliases=aliases, priority=int(data.get("priority", 0)),
                       kinds=tuple(str(k) for k in data.get("kinds", ("markers", "rig"))),
                       partial=any(not joints[j] and j not in rigid and j not in hip_joints for j in JOINTS),
                       rigid=rigid, estimated=tuple(str(j) for j in data.get("estimated", ())),
                       hip_markers=hip_markers, hip_joints=hip_joints, alternatives=alternatives,
                       prefixes=tuple(normalise_name(p) for p in data.get("prefixes", ())),
                       estimated_from=estimated_from,
                       clusters={str(k): tuple(str(x) for x in v) for k, v in clusters_raw.items()})


def _weights(spec, name: str, joint: str) -> dict[str, float]:
    """One source spec of a joint: a name, or a table of name = weight."""
    if isinstance(spec, str) and spec:
        return {spec: 1.0}
    if isinstance(spec, dict) and spec and all(isinstance(v, (int, float)) for v in spec.values()):
        return {str(k): float(v) for k, v in spec.items()}
    raise InputError(f"map {name}: joint {joint} must be a name, a table of name = weight, or a list of those "
                     "(the first whose names the file holds is used)")


def _xyz(value, name: str, joint: str) -> tuple[float, float, float]:
    if not (isinstance(value, list) and len(value) == 3 and all(isinstance(v, (int, float)) for v in value)):
        raise InputError(f"map {name}: joint {joint}: a rigid point needs [x, y, z] in metres, got {value!r}")
    return (float(value[0]), float(value[1]), float(value[2]))


def _parse_rigid(raw, name: str, joint: str) -> tuple[RigidPoint, ...]:
    """`Joint = {rigid = [{markers = {M1 = [x, y, z], ...}, at = [x, y, z]}, ...]}`: rigid points."""
    if not isinstance(raw, list) or not raw:
        raise InputError(f"map {name}: joint {joint}: rigid must be a list of {{markers = ..., at = [x, y, z]}}")
    out = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("markers"), dict) or len(item["markers"]) < 3:
            raise InputError(f"map {name}: joint {joint}: each rigid point needs markers (three or more) and at")
        out.append(RigidPoint(markers=tuple((str(k), _xyz(v, name, joint)) for k, v in item["markers"].items()),
                              at=_xyz(item.get("at"), name, joint), segment=str(item.get("segment", ""))))
    return tuple(out)


def preset_names() -> list[str]:
    """Names of the shipped presets."""
    return sorted(p.name[:-5] for p in resources.files(__package__).iterdir() if p.name.endswith(".toml"))


def load_map(name_or_path: str | Path) -> SkeletonMap:
    """Load a shipped preset by name or a user's TOML file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        try:
            return _parse(tomllib.loads(path.read_text(encoding="utf-8")), path.stem)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: not valid TOML ({exc})") from None
    name = str(name_or_path)
    if name not in preset_names():
        raise InputError(f"unknown map {name!r}; presets: {', '.join(preset_names())}, or a path to a .toml file")
    text = resources.files(__package__).joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return _parse(tomllib.loads(text), name)


#: a file a preset maps only in part is read when at least this many joints, the pelvis among them,
#: come from its names (the pelvis and one leg: a one-sided gait set); the rest are marked missing
MIN_PARTIAL_JOINTS = 4

#: body parts, for saying in words what a partial map leaves out
_PART_WORDS = {"Pelvis": "pelvis", "RHip": "right leg", "RKnee": "right leg", "RAnkle": "right leg",
               "LHip": "left leg", "LKnee": "left leg", "LAnkle": "left leg", "Spine": "trunk", "Thorax": "trunk",
               "Neck": "head", "Head": "head", "LShoulder": "left arm", "LElbow": "left arm", "LWrist": "left arm",
               "RShoulder": "right arm", "RElbow": "right arm", "RWrist": "right arm"}


def missing_note(smap: SkeletonMap, names: list[str], what: str = "markers") -> str | None:
    """One sentence naming what a partial map leaves out, or None when it maps every joint."""
    absent = smap.absent(names)
    if not absent:
        return None
    parts = list(dict.fromkeys(_PART_WORDS[j] for j in absent))
    needs = sorted({s for v in absent.values() for s in v})
    if not needs:  # a map that leaves them out (a learned map: not found in the motion)
        why = "not found in the markers' motion" if smap.rigid else f"map '{smap.name}' leaves them out"
        return f"no {what} for the {', '.join(parts)} ({', '.join(absent)}: {why}): those joints are missing in every frame"
    return (f"no {what} for the {', '.join(parts)} ({', '.join(absent)} need {', '.join(needs[:8])}"
            f"{', ...' if len(needs) > 8 else ''}): those joints are missing in every frame")


def presets_of(kind: str | None) -> list[SkeletonMap]:
    """The shipped presets that map files of kind ("markers", "rig", "2d"; None: all)."""
    return [m for m in (load_map(n) for n in preset_names()) if kind is None or kind in m.kinds]


def by_joints_made(maps: list[SkeletonMap], names: list[str]) -> list[SkeletonMap]:
    """maps ordered by how many of the 17 joints each makes from names (then priority, then match score)."""
    return sorted(maps, key=lambda m: (len(JOINTS) - len(m.absent(names)), m.priority, m.match_score(names), m.name),
                  reverse=True)


def auto_map(names: list[str], where: str = "input", kind: str | None = None) -> SkeletonMap:
    """The preset whose source names best match names.

    kind ("markers" for C3D, "rig" for BVH/ASF) limits the candidates, so a marker file is never
    pointed to a skeleton rig's preset or a 2D keypoint set. A preset that finds every name wins;
    else the one that makes the most joints, if it makes the pelvis and at least MIN_PARTIAL_JOINTS,
    is returned as a partial map (missing_note says what it leaves out); else the file is refused.
    """
    maps = presets_of(kind)
    scored = sorted(((m.match_score(names), m.priority, m.name) for m in maps), reverse=True)
    best_score, _, best = scored[0]
    if best_score >= 1.0:
        return load_map(best).for_names(names)
    partial = by_joints_made(maps, names)[0]
    made = len(JOINTS) - len(partial.absent(names))
    if made >= MIN_PARTIAL_JOINTS and "Pelvis" not in partial.absent(names):
        return replace(partial.for_names(names), partial=True)
    shown = [n.split("\x00")[0] for n in names if n.strip() and "\x00" not in n]
    own = ", ".join(shown[:12]) + (f", ... ({len(shown)} in all)" if len(shown) > 12 else "")
    what = {"markers": "marker set", "rig": "skeleton rig"}.get(kind or "", "skeleton map")
    held = what_it_holds(shown)  # unlabelled points, or hands alone: said so, whatever a preset shares with them
    if held:
        raise InputError(f"{where}: {held}; to read it anyway, write a map (`gfpose maps FILE --init -o mymap.toml`) "
                         "and pass it with {map}")
    if best_score == 0.0:
        noun = "labels" if kind == "markers" else "joints"
        raise InputError(f"{where}: its names match no shipped {what} (its {noun}: {own or 'none'}); pass {{map}} with "
                         "your own .toml (`gfpose maps FILE --init -o mymap.toml` writes a starter, `gfpose maps` lists "
                         "the presets)")
    closest = []
    for m in sorted(maps, key=lambda m: (m.match_score(names), m.priority), reverse=True)[:3]:
        if m.match_score(names) == 0.0:
            break
        shown_lacks = list(dict.fromkeys(x for v in m.absent(names).values() for x in v))  # pelvis first
        closest.append(f"{m.name} ({m.match_score(names):.0%} of its names found; lacks "
                       f"{', '.join(shown_lacks[:8])}{', ...' if len(shown_lacks) > 8 else ''})")
    raise InputError(
        f"{where}: no {what} matches its names; the closest: {'; '.join(closest)}. Its own names: {own}. "
        "Pass {map} with a preset or your own .toml (`gfpose maps FILE --init -o mymap.toml` writes a starter)"
    )


def what_it_holds(names: list[str]) -> str | None:
    """In words, what a file whose names no preset maps holds, when that is clear: unlabelled
    points (Channel101, Marker_1, M1, PT00: a stem and a number), or names of a few body parts only
    (Right_Hand, Left_Hand). None when the names look like a marker set gfpose does not know."""
    if not names:
        return None
    shown = ", ".join(names[:6]) + (f", ... ({len(names)} in all)" if len(names) > 6 else "")
    stems = {re.sub(r"[\s_\-]*\d+$", "", n).lower() for n in names if re.search(r"\d+$", n)}
    numbered = sum(bool(re.search(r"\d+$", n)) for n in names)
    if numbered >= 0.8 * len(names) and len(stems) <= max(2, len(names) // 6):
        return (f"its {len(names)} points are unlabelled ({shown}): no body part can be told from their names, so none "
                "of the 17 joints (Pelvis, hips, knees, ankles, trunk, head, arms) can be placed: label them in the "
                "capture software")
    parts = {}
    for joint in JOINTS:
        for name in guess_sources(joint, names):
            parts.setdefault(_PART_WORDS[joint] if joint not in ("LWrist", "RWrist") else
                             ("left hand" if joint[0] == "L" else "right hand"), set()).add(name)
    if parts and "pelvis" not in parts and len(names) <= 6:
        return (f"its {len(names)} points name only the {', '.join(parts)} ({shown}): there is no pelvis or trunk to "
                "place a body on")
    return None


#: words a source name for each joint tends to contain (after normalise_name), best first, for the
#: guesses of starter_map: marker names (KNE, ASI) and rig bone names (a bone starts at its joint:
#: UpperLeg is the hip, LowerLeg the knee, Foot the ankle)
_PART_WORDS_GUESS: dict[str, tuple[str, ...]] = {
    "Pelvis": ("pelvis", "hips", "root", "sacr", "midhip", "pelo", "hip", "waist"),
    "Hip": ("hip", "upperleg", "upleg", "thigh", "femur", "asis", "ias"),
    "Knee": ("knee", "kne", "lowerleg", "shin", "calf", "shank", "tibia", "fle", "fme"),
    "Ankle": ("ankle", "ank", "foot", "mal", "fal", "tam", "heel"),
    "Spine": ("spine", "abdomen", "lowerback", "back", "t10", "t8"),
    "Thorax": ("thorax", "chest", "upperchest", "spine2", "strn", "sjn", "clav"),
    "Neck": ("neck", "c7", "cv7", "nose"),
    "Head": ("head", "hea", "skull", "fhd", "bhd"),
    "Shoulder": ("shoulder", "sho", "upperarm", "humerus", "acromion", "sae"),
    "Elbow": ("elbow", "elb", "lowerarm", "forearm", "hle", "hme"),
    "Wrist": ("wrist", "wri", "wra", "wrb", "hand", "rsp", "usp"),
}


#: where a source name says its side, in the order looked at (group 1 is the side's word or letter)
_SIDE_PATTERNS = tuple(re.compile(p, flags) for p, flags in (
    (r"^(right)", re.IGNORECASE), (r"(right)$", re.IGNORECASE), (r"^(left)", re.IGNORECASE), (r"(left)$", re.IGNORECASE),
    (r"^([RrLl])(?=[A-Z0-9_\s.\-])", 0), (r"[_\s.\-]([RrLl])$", 0),
    (r"[_\s.\-]([RL])(?=[A-Z][a-z])", 0)))  # the last after a set's prefix: Skeleton_LThigh1


def _side_split(name: str) -> tuple[str | None, str]:
    """('R', 'L' or None, the name without its side, normalised): a leading or trailing side in a source
    name (RKNE, R_IAS, RightArm, UpperArm_L, l.knee, Foot.R); a name that merely starts with an l or r
    (LowerLeg, Root) has none. RKNE and LKNE are the same name apart from their side."""
    raw = name.rsplit(":", 1)[-1].strip()
    for pattern in _SIDE_PATTERNS:
        m = pattern.search(raw)
        if m:
            return m.group(1)[0].upper(), normalise_name(raw[:m.start(1)] + raw[m.end(1):])
    return None, normalise_name(raw)


def _side(name: str) -> str | None:
    """'R', 'L' or None: the side a source name says (_side_split)."""
    return _side_split(name)[0]


def side_pairs(names: list[str]) -> list[tuple[int, int]]:
    """The (left, right) indices of names that are one name on the two sides (LKNE and RKNE, Subject:LeftArm
    and Subject:RightArm), each name in one pair at most."""
    keyed: dict[tuple[str, str, str], list[int]] = {}
    for i, name in enumerate(names):
        side, rest = _side_split(name)
        if side is not None:
            space = name.rsplit(":", 1)[0] if ":" in name else ""
            keyed.setdefault((space, rest, side), []).append(i)
    pairs = []
    for (space, key, side), left in keyed.items():
        right = keyed.get((space, key, "R"), [])
        if side == "L" and len(left) == 1 and len(right) == 1:
            pairs.append((left[0], right[0]))
    return sorted(pairs)


def guess_sources(joint: str, names: list[str]) -> list[str]:
    """The file's names that look like a joint's, best first (a word for the body part, and the side)."""
    side = joint[0] if joint[0] in "RL" and joint[1].isupper() else None
    part = joint[1:] if side else joint
    words = _PART_WORDS_GUESS.get(part, (part.lower(),))
    scored = []
    for name in names:
        n = normalise_name(name)
        hits = [i for i, w in enumerate(words) if w in n]
        if not hits or (side and _side(name) != side) or (not side and _side(name) is not None):
            continue
        scored.append((min(hits), len(n), name))
    return list(dict.fromkeys(name for _, _, name in sorted(scored)))


def _toml_value(spec: dict[str, float], digits: str = "g") -> str:
    """A joint's sources as a map line's value: a name, or a table of name = weight."""
    if len(spec) == 1 and next(iter(spec.values())) == 1.0:
        return f'"{next(iter(spec))}"'
    return "{" + ", ".join(f'"{k}" = {w:{digits}}' for k, w in spec.items()) + "}"


def starter_map(names: list[str], kind: str | None, where: str = "input",
                read_as: dict[str, tuple[dict[str, float], str]] | None = None) -> str:
    """A map TOML for a file no preset maps, every joint filled from the best guess and commented:
    first the closest preset of the file's kind (the joints it finds), then other presets of that
    kind, then a name that looks like the joint. The user checks and edits it instead of starting
    from nothing; `gfpose maps FILE --map mymap.toml` shows what it resolves. read_as: joints the
    reader places otherwise than the preset on this file (joint -> (sources, why)), written as read."""
    maps = [m.for_names(names) for m in by_joints_made(presets_of(kind), names)]
    have = {normalise_name(n): i for i, n in enumerate(names)}
    lines = [f'name = "{Path(where).stem}-map"',
             f'description = "starter map written by gfpose maps --init from {Path(where).name}: check every line"',
             *([f'kinds = ["{kind}"]'] if kind else []), "",
             "# Each joint is one of the file's names, or a weighted mean of several (Pelvis = {LASI = 0.25, ...}).",
             "# 'from preset' lines were found by a shipped preset; 'guessed' lines by their names only: check those,",
             "# e.g. with `gfpose convert FILE --map THIS.toml -o check.bvh` and a look in Blender.", "", "[joints]"]
    chosen: dict[str, dict[str, float]] = {}
    by_joint: dict[str, str] = {}
    hip_table: list[str] | None = None  # the pelvic markers of a preset's hip regression, once chosen
    # the trunk last: where nothing names it, it is placed between the pelvis and the neck found first
    for joint in [j for j in JOINTS if j not in ("Spine", "Thorax")] + ["Spine", "Thorax"]:
        line = None
        for m in maps:
            if joint in m.hip_joints:  # a regression in the pelvis frame: the four markers, named once
                idx = [m._resolve(s, have) for s in m.hip_markers]
                if all(i is not None for i in idx) and hip_table in (None, [names[i] for i in idx]):
                    hip_table = [names[i] for i in idx]
                    chosen[joint] = {names[i]: 1.0 / len(idx) for i in idx}  # near it, for the trunk guesses
                    line = f'{joint} = {{ hip_centres = "{m.hip_joints[joint]}" }}  # from preset {m.name}'
                    break
                continue
            idx = [m._resolve(s, have) for s in m.joints[joint]]
            if idx and all(i is not None for i in idx):
                chosen[joint] = {names[i]: w for i, w in zip(idx, m.joints[joint].values())}
                line = f"{joint} = {_toml_value(chosen[joint])}  # from preset {m.name}"
                break
        if line is None:
            guesses = guess_sources(joint, names)
            along = {"Spine": 0.4, "Thorax": 0.85}.get(joint)
            if guesses:
                stem = re.sub(r"\d+$", "", guesses[0])
                numbered = [g for g in guesses if re.fullmatch(re.escape(stem) + r"\d+", g)] if stem != guesses[0] else []
                if len(numbered) > 1:  # Skeleton_Hip1..4: the markers of one body part, their mean
                    chosen[joint] = {g: round(1.0 / len(numbered), 4) for g in numbered}
                    rest = [g for g in guesses if g not in numbered]
                    line = (f"{joint} = {_toml_value(chosen[joint])}  # guessed from the names: the mean of "
                            f"{stem}1..{len(numbered)}{'; other candidates: ' + ', '.join(rest[:3]) if rest else ''}")
                else:
                    others = f"; other candidates: {', '.join(guesses[1:4])}" if len(guesses) > 1 else ""
                    chosen[joint] = {guesses[0]: 1.0}
                    line = f"{joint} = {_toml_value(chosen[joint])}  # guessed from the name{others}"
            elif along is not None and "Pelvis" in chosen and "Neck" in chosen:
                spec: dict[str, float] = {}
                for share, source in ((1 - along, chosen["Pelvis"]), (along, chosen["Neck"])):
                    for k, w in source.items():
                        spec[k] = spec.get(k, 0.0) + share * w
                chosen[joint] = spec
                line = f"{joint} = {_toml_value(spec, '.3g')}  # guessed: {along:.0%} of the way from the pelvis to the neck"
            else:
                line = f'# {joint} = "?"  # nothing looks like it: name the marker or joint (the map will not load until you do)'
        if read_as and joint in read_as:
            chosen[joint] = read_as[joint][0]
            line = f"{joint} = {_toml_value(chosen[joint], '.4g')}  # {read_as[joint][1]}"
        by_joint[joint] = line
    lines += [by_joint[j] for j in JOINTS]
    if hip_table is not None:
        lines += ["", "# the hip joint centres (and a pelvis between them) by Harrington's regression in the pelvis frame",
                  "[hip_centres]", *(f'{k} = "{v}"' for k, v in zip(HIP_MARKERS, hip_table))]
    clusters: dict[str, list[str]] = {}
    for m in maps:
        for key, group in m.clusters.items():
            idx = [m._resolve(x, have) for x in group]
            if key not in clusters and None not in idx:
                clusters[key] = [names[i] for i in idx]
    if clusters:
        lines += ["", "# markers on one rigid segment: one missing where three are seen is placed by them", "[clusters]",
                  *(f"{k} = [{', '.join(json.dumps(x) for x in v)}]" for k, v in clusters.items())]
    return "\n".join(lines) + "\n"

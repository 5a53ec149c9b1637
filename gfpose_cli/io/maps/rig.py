"""A skeleton map read off a rig's own tree, for BVH rigs whose names no preset knows.

Tools name the same joints differently (3ds Max's `Bip01 L Thigh`, Unreal's `thigh_l`, MotionBuilder's
`Character1_LeftUpLeg`, SMPL's `L_Hip`, Xsens's `RightUpperLeg`, OptiTrack's `LThigh`, Kinect's
`HipLeft`, Blender's `thigh.L`, the Biovision example's `LeftUpArm` and `LeftLowLeg`), and a preset per tool never ends. But every such rig shares a tree:
two legs and two arms hang off a trunk that ends in the head, each limb a chain whose joints carry a
side in their names and a word for the body part. A bone-named joint sits where its bone starts
(UpLeg, Thigh: the hip; Leg, Shin, Calf: the knee; Foot: the ankle), a joint-named one at its joint
(Hip, Knee, Ankle); both name the same point, so one list of words per joint finds either, down the
chain in order (the knee below the hip, the ankle below the knee). Two words mean different points
in different families, and the tree settles them: `Shoulder` is the clavicle where an upper-arm
joint (Arm, UpperArm, UArm) follows it (Mixamo, Xsens, Unreal's clavicle), the shoulder joint where
the elbow follows it directly (SMPL, Kinect); `Foot` is the ankle unless an `Ankle` comes first
(SMPL's L_Foot is the toes).

The trunk: the neck is the first `Neck` joint on the way from the root to the head, else the joint
after the one both arms hang from; the pelvis is the hips' midpoint, as every rig preset places it;
the spine is the trunk joint nearest the point SPINE_SHARE of the way from the pelvis to the neck;
the head's top is the head joint's End Site or a HeadTop/HeadNub/HeadEnd joint below it.

The result is an ordinary map of names (`gfpose maps FILE --init` writes it), checked before use:
thigh and shin, upper arm and forearm of plausible proportions, the two sides alike, legs below the
pelvis, the head above the neck, left hip and left shoulder on the same side. A rig that fails any
check is refused as before; it is never read as a guess.
"""
from __future__ import annotations

import os
import re

import numpy as np

from gfpose_cli.core.skeleton import JOINTS

#: word groups per limb joint, best first (after normalise_name; the side word removed): a joint is
#: the first one down its chain that holds a word of the best group the chain has
HIP_WORDS = (("thigh", "upleg", "upperleg", "femur"), ("hip",))
KNEE_WORDS = (("knee",), ("shin", "calf", "lowerleg", "shank", "tibia", "leg"))
ANKLE_WORDS = (("ankle",), ("foot",))
SHOULDER_WORDS = (("upperarm", "uparm", "uarm", "humerus", "shldr"), ("arm",), ("shoulder",))
ELBOW_WORDS = (("elbow",), ("forearm", "lowerarm", "lowarm", "farm"))
WRIST_WORDS = (("wrist",), ("hand",))
#: an upper-arm word never matches a forearm's name (LeftForeArm, LFArm and Biovision's LeftLowArm hold "arm")
NOT_UPPER_ARM = ("forearm", "lowerarm", "lowarm", "farm")
#: where the 17-joint skeleton's Spine sits between the pelvis and the neck base, as the shipped rig
#: training body has it (0.57 of the way; the rig presets place it 0.25-1.0 of the way)
SPINE_SHARE = 0.55
#: a trunk joint this far (share of pelvis to neck) from SPINE_SHARE is not the spine; it is then
#: estimated on the pelvis-neck line
SPINE_SLACK = 0.25
#: the head's top above the head joint, as a share of the leg (thigh plus shin), where the rig has no
#: End Site or top joint for it (0.12-0.14 in the repository's real rigs and on the training body;
#: a share of the neck would not do: rigs put their neck joints 0.11-0.26 legs below the head)
HEAD_TOP_PER_LEG = 0.13
#: plausible rest-pose proportions: thigh / shin, upper arm / forearm, and one side against the other
THIGH_SHIN = (0.6, 1.7)
UPPER_FORE = (0.6, 2.0)
SIDES_ALIKE = 0.25
#: the name of a map read off a rig's tree
RIG_TREE = "rig-tree"


def common_prefix(names: list[str]) -> str:
    """A prefix every joint name shares, ending at a separator (`Bip01 `, `Character1_`, `DEF-`,
    `mixamorig_`), or ''. The bare prefix itself (a root named `Bip01`) does not count against it."""
    stems = [n for n in names if not n.endswith("_End")]
    if len(stems) < 4:
        return ""
    prefix = os.path.commonprefix(stems)
    if prefix in stems:  # the bare prefix as a name of its own (a root named Bip01)
        prefix = os.path.commonprefix([n for n in stems if n != prefix])
    cut = max(prefix.rfind(c) for c in " _-.|")
    if cut <= 0:
        return ""
    prefix = prefix[: cut + 1]
    return prefix if sum(n.startswith(prefix) for n in stems) >= len(stems) - 1 else ""


def rig_side(name: str, prefix: str = "") -> str | None:
    """'L', 'R' or None: the side a joint name says, after the rig's common prefix (LeftArm, L_Hip,
    thigh_l, upper_arm.L, lShldr, LUArm, ShoulderLeft, `L Thigh`; `Character1_LeftUpLeg`)."""
    from gfpose_cli.io.maps import _side

    stem = name[len(prefix):] if prefix and name.startswith(prefix) else name
    stem = stem.rsplit(":", 1)[-1]
    stem = re.sub(r"_End$", "", stem)
    side = _side(re.sub(r"[._]\d+$", "", stem))  # thigh.L.001, Rigify's twist bones
    if side is None:
        m = re.search(r"(?i)(?:^|[^a-z])(left|right)|(left|right)(?=[A-Z0-9_\s.\-]|$)", stem)
        if m:
            side = "L" if (m.group(1) or m.group(2)).lower() == "left" else "R"
    return side


def _word_key(name: str, prefix: str) -> str:
    from gfpose_cli.io.maps import normalise_name

    stem = name[len(prefix):] if prefix and name.startswith(prefix) else name
    key = normalise_name(stem)
    return re.sub(r"left|right", "", key)


class _Tree:
    def __init__(self, names: list[str], parents: np.ndarray, rest: np.ndarray) -> None:
        self.names, self.parents, self.rest = names, [int(p) for p in parents], np.asarray(rest, dtype=np.float64)
        self.prefix = common_prefix(names)
        self.keys = [_word_key(n, self.prefix) for n in names]
        self.sides = [rig_side(n, self.prefix) for n in names]
        self.children: list[list[int]] = [[] for _ in names]
        for j, p in enumerate(self.parents):
            if p >= 0:
                self.children[p].append(j)
        self.order: list[int] = []  # depth-first, parents before children
        stack = [j for j, p in enumerate(self.parents) if p < 0][::-1]
        while stack:
            j = stack.pop()
            self.order.append(j)
            stack.extend(self.children[j][::-1])

    def ancestors(self, j: int) -> list[int]:
        out = []
        while self.parents[j] >= 0:
            j = self.parents[j]
            out.append(j)
        return out

    def below(self, j: int, a: int) -> bool:
        return a in self.ancestors(j)

    def first(self, groups, *, side: str | None, under: int | None = None, exclude=(), where=None) -> int | None:
        """The first joint (depth first) of a side, below `under`, holding a word of the best group any has."""
        for words in groups:
            for j in self.order:
                if self.sides[j] != side or self.names[j].endswith("_End"):
                    continue
                if (under is not None and not self.below(j, under)) or (where is not None and not where(j)):
                    continue
                key = self.keys[j]
                if any(w in key for w in words) and not any(x in key for x in exclude):
                    return j
        return None


def _limbs(tree: _Tree, side: str) -> dict[str, int] | str:
    """A side's six limb joints: the middle joint of each limb first (the knee: the first joint
    holding a knee word below one holding a hip word), then the top joint as the nearest above it
    holding a word of the best group there (LeftUpLeg over LHipJoint; SMPL's L_Shoulder, Mixamo's
    LeftArm below its LeftShoulder), then the end joint as the first below it."""
    found: dict[str, int | None] = {}
    for top, mid, end, (t_words, m_words, e_words), not_top in (
            ("Hip", "Knee", "Ankle", (HIP_WORDS, KNEE_WORDS, ANKLE_WORDS), ()),
            ("Shoulder", "Elbow", "Wrist", (SHOULDER_WORDS, ELBOW_WORDS, WRIST_WORDS), NOT_UPPER_ARM)):
        tops = [j for j in tree.order if tree.sides[j] == side and _holds(tree.keys[j], t_words, not_top)]
        parent_top = None
        if not tops:  # no top word (MMD's LeftLeg, LeftKnee, LeftAnkle): the parent of a joint named for the
            # middle (knee, elbow) on the same side is the top
            named = tree.first((m_words[0],), side=side)
            if named is not None and tree.parents[named] >= 0 and tree.sides[tree.parents[named]] == side:
                tops = [parent_top := tree.parents[named]]
        middle = tree.first(m_words, side=side, exclude=t_words[0],
                            where=lambda j: any(tree.below(j, a) for a in tops))
        upper = parent_top if middle is not None and parent_top in tree.ancestors(middle) else None
        if middle is not None and upper is None:
            above = [a for a in tree.ancestors(middle) if a in tops]
            for words in t_words:
                hits = [a for a in above if _holds(tree.keys[a], (words,), not_top)]
                if hits:
                    upper = hits[0]  # the nearest above the middle joint
                    while tree.parents[upper] >= 0 and _segment(tree.keys[tree.parents[upper]]) == _segment(tree.keys[upper]):
                        upper = tree.parents[upper]  # thigh.L.001, a twist bone, belongs to thigh.L
                    break
        found[top], found[mid] = upper, middle
        found[end] = tree.first(e_words, side=side, under=middle) if middle is not None else None
    word = "left" if side == "L" else "right"
    lacking = [k.lower() for k, v in found.items() if v is None]
    if lacking:
        return f"no {word} {', '.join(lacking)} among its names"
    return {side + k: v for k, v in found.items()}  # type: ignore[misc]


def _trunk_tip(tree: _Tree, limbs: dict[str, int]) -> int | None:
    """The head of a rig that does not name it (Blender's metarig: spine.006): the top of the
    unsided chain from the root, if it runs two joints or more past the joint both arms hang from."""
    shared = [a for a in tree.ancestors(limbs["LShoulder"]) if a in tree.ancestors(limbs["RShoulder"])]
    if not shared or tree.sides[shared[0]] is not None:
        return None
    j, run = shared[0], 0
    while True:
        up = [c for c in tree.children[j] if tree.sides[c] is None and not tree.names[c].endswith("_End")]
        if len(up) != 1:
            break
        j, run = up[0], run + 1
    return j if run >= 2 else None


def _holds(key: str, groups, exclude=()) -> bool:
    return any(w in key for words in groups for w in words) and not any(x in key for x in exclude)


def _segment(key: str) -> str:
    return re.sub(r"\d+$", "", key)


def infer_rig_map(names: list[str], parents: np.ndarray, rest: np.ndarray, *, name: str = "rig-tree"):
    """(SkeletonMap, None) from a rig's joint names, tree and rest offsets summed to rest positions
    (N, 3, any unit), or (None, why) in one clause when the tree does not show a body plainly."""
    from gfpose_cli.io.maps import SkeletonMap

    tree = _Tree(names, parents, rest)
    limbs: dict[str, int] = {}
    for side in ("L", "R"):
        got = _limbs(tree, side)
        if isinstance(got, str):
            return None, got
        limbs.update(got)
    pos = tree.rest
    head = tree.first((("head",),), side=None)
    if head is None:
        head = _trunk_tip(tree, limbs)
        if head is None:
            return None, "no head among its names, and its trunk does not run on past where the arms hang"
    path = [*reversed(tree.ancestors(head)), head]
    estimated: list[str] = []
    necks = [j for j in path[1:-1] if "neck" in tree.keys[j]]
    hips_mid = 0.5 * (pos[limbs["LHip"]] + pos[limbs["RHip"]])
    rise = pos[head] - hips_mid
    shoulders = 0.5 * (pos[limbs["LShoulder"]] + pos[limbs["RShoulder"]])
    # of several (CMU's lowerneck, Neck; Neck, Neck1), the one nearest the shoulders' height
    neck = min(necks, key=lambda j: abs(float((pos[j] - shoulders) @ rise)), default=None)
    thorax = {names[neck]: 1.0} if neck is not None else None
    if neck is None:
        shared = [j for j in path if all(tree.below(limbs[s + "Shoulder"], j) for s in "LR")]
        if not shared:
            return None, "its arms do not hang from the trunk that leads to the head"
        at = path.index(shared[-1])
        neck = path[at + 1] if at + 1 < len(path) - 1 else path[at]
        thorax = {names[neck]: 1.0}
        if neck == path[at]:  # no joint between where the arms hang and the head: at the shoulders' height
            axis = pos[head] - pos[neck]
            mid = 0.5 * (pos[limbs["LShoulder"]] + pos[limbs["RShoulder"]])
            a = float(np.clip((mid - pos[neck]) @ axis / max(float(axis @ axis), 1e-12), 0.0, 0.9))
            thorax = {names[neck]: 1.0 - a, names[head]: a}
            estimated.append("Thorax")
    pelvis = 0.5 * (pos[limbs["LHip"]] + pos[limbs["RHip"]])
    neck_at = sum(w * pos[names.index(n)] for n, w in thorax.items())
    trunk = neck_at - pelvis
    height = float(np.linalg.norm(trunk))
    if height <= 0:
        return None, "its neck sits at its pelvis"
    up = trunk / height
    hip_l, hip_r = names[limbs["LHip"]], names[limbs["RHip"]]
    spine, spine_estimated = _spine(names, path[: path.index(neck)], pos, pelvis, neck_at,
                                    {hip_l: 0.5, hip_r: 0.5}, thorax)
    if spine_estimated:
        estimated.append("Spine")
    top_names = [f"{names[head]}_End"] + [names[j] for j in tree.order if tree.below(j, head) and tree.sides[j] is None
                                         and "head" in tree.keys[j] and re.search(r"top|end|nub", tree.keys[j])]
    top = next((names.index(n) for n in top_names if n in names
                and np.linalg.norm(pos[names.index(n)] - pos[head]) > 0.3 * np.linalg.norm(pos[head] - neck_at)), None)
    if top is not None:
        head_top = {names[top]: 1.0}
    else:
        head_top = _top_above({names[head]: 1.0}, thorax, pos[head], neck_at, _leg(pos, limbs))
        estimated.append("Head")
    why = _implausible(pos, limbs, pelvis, neck_at, pos[head], up)
    if why:
        return None, why
    joints = {"Pelvis": {hip_l: 0.5, hip_r: 0.5}, "Spine": spine, "Thorax": thorax,
              "Neck": {names[head]: 1.0}, "Head": head_top}
    for key, j in limbs.items():
        joints[key] = {names[j]: 1.0}
    joints = {j: joints[j] for j in JOINTS}
    said = ", ".join(f"{j} {'/'.join(joints[j])}" for j in ("LHip", "LKnee", "LAnkle", "LShoulder", "LElbow", "LWrist",
                                                              "Spine", "Thorax", "Neck"))
    description = (f"read off the rig's tree and names: {said}, and their right twins"
                   + (f"; {', '.join(estimated)} estimated" if estimated else ""))
    return SkeletonMap(name=name, description=description, joints=joints, kinds=("rig",),
                       estimated=tuple(estimated)), None


def _spine(names: list[str], trunk: list[int], pos: np.ndarray, pelvis_at: np.ndarray, thorax_at: np.ndarray,
           pelvis: dict[str, float], thorax: dict[str, float]) -> tuple[dict[str, float], bool]:
    """(sources, estimated) for the 17-joint Spine: of the trunk joints (indices, root first, below
    the thorax), the one nearest SPINE_SHARE of the way up from the pelvis to the thorax at rest, if
    within SPINE_SLACK of it; else the point SPINE_SHARE of the way along that line (estimated)."""
    height = float(np.linalg.norm(thorax_at - pelvis_at))
    up = (thorax_at - pelvis_at) / max(height, 1e-12)
    shares = [float((pos[j] - pelvis_at) @ up) / max(height, 1e-12) for j in trunk]
    best = min(range(len(trunk)), key=lambda i: abs(shares[i] - SPINE_SHARE), default=None)
    if best is not None and abs(shares[best] - SPINE_SHARE) <= SPINE_SLACK:
        return {names[trunk[best]]: 1.0}, False
    spine: dict[str, float] = {}
    for spec, share in ((pelvis, 1 - SPINE_SHARE), (thorax, SPINE_SHARE)):
        total = sum(spec.values())
        for n, w in spec.items():
            spine[n] = spine.get(n, 0.0) + share * w / total
    return spine, True


def spine_checked(smap, names: list[str], parents: np.ndarray, rest: np.ndarray):
    """(smap, note): where a preset's Spine sits at rest outside SPINE_SHARE +- SPINE_SLACK of the way
    from its pelvis to its thorax (CMU's MotionBuilder-style BVH: Mixamo's Spine1 is its top spine
    joint, at the neck, so Spine would lie on Thorax), the Spine is placed as the rig-tree map places
    it, from the rig's trunk joints below the thorax, and note says so; else (smap, None)."""
    from dataclasses import replace

    spec = _in_file(smap, names, ("Pelvis", "Spine", "Thorax"))
    if spec is None or len(spec["Thorax"]) != 1 or "Spine" in smap.estimated or smap.name == RIG_TREE:
        return smap, None
    at = _at(names, rest)
    pelvis, spine, thorax = at(spec["Pelvis"]), at(spec["Spine"]), at(spec["Thorax"])
    height = float(np.linalg.norm(thorax - pelvis))
    if height <= 0:
        return smap, None
    share = float((spine - pelvis) @ (thorax - pelvis)) / height ** 2
    if abs(share - SPINE_SHARE) <= SPINE_SLACK:
        return smap, None
    tree = _Tree(names, parents, rest)
    top = names.index(next(iter(spec["Thorax"])))
    trunk = [j for j in reversed(tree.ancestors(top)) if tree.sides[j] is None]
    sources, estimated = _spine(names, trunk, tree.rest, pelvis, thorax, spec["Pelvis"], spec["Thorax"])
    old = "/".join(spec["Spine"])
    placed = ("estimated on the line from the pelvis to the thorax" if estimated else
              f"read from {'/'.join(sources)}")
    note = (f"map '{smap.name}' puts the spine at {old}, {share:.0%} of the way from the pelvis to the thorax "
            f"({'/'.join(spec['Thorax'])}) on this rig; the 17-joint Spine (about {SPINE_SHARE:.0%} of the way) is "
            f"{placed}")
    return replace(smap, joints=dict(smap.joints, Spine=sources),
                   estimated=(*smap.estimated, "Spine") if estimated else smap.estimated), note


def _leg(pos: np.ndarray, limbs: dict[str, int]) -> float:
    """The mean leg length (thigh plus shin) at rest."""
    return float(np.mean([np.linalg.norm(pos[limbs[s + "Hip"]] - pos[limbs[s + "Knee"]])
                          + np.linalg.norm(pos[limbs[s + "Knee"]] - pos[limbs[s + "Ankle"]]) for s in "LR"]))


def _top_above(head: dict[str, float], below: dict[str, float], head_at: np.ndarray, below_at: np.ndarray,
               leg: float) -> dict[str, float]:
    """Sources for the head's top: HEAD_TOP_PER_LEG legs above the head joint, on the line up from
    the joint below it (a weighted mean of the two, extrapolated)."""
    c = HEAD_TOP_PER_LEG * leg / max(float(np.linalg.norm(head_at - below_at)), 1e-12)
    top: dict[str, float] = {}
    for spec, share in ((head, 1.0 + c), (below, -c)):
        total = sum(spec.values())
        for n, w in spec.items():
            top[n] = top.get(n, 0.0) + share * w / total
    return top


def _implausible(pos, limbs, pelvis, neck, head, up) -> str | None:
    d = {k: pos[v] for k, v in limbs.items()}
    seg = {}
    for s in "LR":
        seg[s] = {"thigh": np.linalg.norm(d[s + "Hip"] - d[s + "Knee"]), "shin": np.linalg.norm(d[s + "Knee"] - d[s + "Ankle"]),
                  "upper arm": np.linalg.norm(d[s + "Shoulder"] - d[s + "Elbow"]),
                  "forearm": np.linalg.norm(d[s + "Elbow"] - d[s + "Wrist"])}
        if min(seg[s].values()) <= 0:
            return f"its {'left' if s == 'L' else 'right'} limbs have a bone of no length"
        if not THIGH_SHIN[0] <= seg[s]["thigh"] / seg[s]["shin"] <= THIGH_SHIN[1]:
            return f"its thigh and shin found ({seg[s]['thigh']:.3g} and {seg[s]['shin']:.3g} long) are not a leg's"
        if not UPPER_FORE[0] <= seg[s]["upper arm"] / seg[s]["forearm"] <= UPPER_FORE[1]:
            return (f"its upper arm and forearm found ({seg[s]['upper arm']:.3g} and {seg[s]['forearm']:.3g} long) "
                    "are not an arm's")
    for bone in seg["L"]:
        if abs(seg["L"][bone] / seg["R"][bone] - 1) > SIDES_ALIKE:
            return f"its left and right {bone} found differ by more than {SIDES_ALIKE:.0%}"
    if any((d[s + "Ankle"] - pelvis) @ up >= 0 for s in "LR"):
        return "its ankles found are not below its pelvis"
    if (head - neck) @ up <= 0:
        return "its head found is not above its neck"
    if (d["LHip"] - d["RHip"]) @ (d["LShoulder"] - d["RShoulder"]) <= 0:
        return "its left hip and left shoulder found lie on opposite sides"
    return None


def with_prefix(smap, prefix: str):
    """smap reading names that carry a rig's common prefix (`Character1_Hips` for `Hips`)."""
    from dataclasses import replace

    from gfpose_cli.io.maps import normalise_name

    pre = normalise_name(prefix)
    aliases = dict(smap.aliases)
    for key in smap.sources():
        alts = (key, *smap.aliases.get(key, ()))
        aliases[key] = (*smap.aliases.get(key, ()), *(pre + a for a in alts))
    return replace(smap, aliases=aliases, description=f"{smap.description} (names after the prefix {prefix.strip()!r})")


def rig_map(names: list[str], parents: np.ndarray, rest: np.ndarray, where: str = "input"):
    """The map for a BVH rig read without --map: a preset that finds every joint (also after a
    prefix every name shares), else the map read off the rig's tree when it makes more joints than
    the best partial preset, else that preset, else the preset matcher's refusal."""
    from gfpose_cli.core.errors import InputError
    from gfpose_cli.io.maps import auto_map

    try:
        preset, refusal = auto_map(names, where, kind="rig"), None
    except InputError as exc:
        preset, refusal = None, exc
    if preset is not None and not preset.partial:
        return preset
    prefix = common_prefix(names)
    if prefix:
        stripped = [n[len(prefix):] if n.startswith(prefix) else n for n in names]
        try:
            bare = auto_map(stripped, where, kind="rig")
        except InputError:
            bare = None
        if bare is not None and not bare.partial:
            return with_prefix(bare, prefix)
    inferred, why = infer_rig_map(names, parents, rest)
    if inferred is not None:
        return inferred
    if preset is not None:
        return preset
    assert refusal is not None
    raise InputError(f"{refusal.template}; its tree was no help either: {why}")


def rig_map_toml(smap, where: str = "input") -> str:
    """A map read off a rig's tree as a map file, for --map on the lab's other takes of that rig."""
    from pathlib import Path

    from gfpose_cli.io.maps import _toml_value

    lines = [f'name = "{Path(where).stem}-map"',
             f'description = "written by gfpose maps --init from {Path(where).name}: {smap.description}"',
             'kinds = ["rig"]']
    if smap.estimated:
        lines.append("estimated = [" + ", ".join(f'"{j}"' for j in smap.estimated) + "]")
    lines += ["", "# Read off the rig's tree and joint names (no preset names them): check every line, e.g. with",
              "# `gfpose convert FILE --map THIS.toml -o check.bvh` and a look in Blender.", "", "[joints]"]
    for joint, spec in smap.joints.items():
        how = "estimated" if joint in smap.estimated else "read off the rig's tree"
        lines.append(f"{joint} = {_toml_value(spec, '.4g')}  # {how}")
    return "\n".join(lines) + "\n"


def _in_file(smap, names: list[str], joints: tuple[str, ...]) -> dict[str, dict[str, float]] | None:
    """For each of joints, its sources under the file's own names (through the map's aliases and
    prefixes: `Character1_Spine1` for Spine1) with their weights; None where one has no source."""
    from gfpose_cli.io.maps import normalise_name

    have = {normalise_name(n): i for i, n in enumerate(names)}
    out: dict[str, dict[str, float]] = {}
    for joint in joints:
        spec = smap.joints.get(joint, {})
        found = {s: smap._resolve(s, have) for s in spec}
        if not spec or None in found.values():
            return None
        out[joint] = {names[found[s]]: w for s, w in spec.items()}
    return out


def _at(names: list[str], rest: np.ndarray):
    """A joint's place at rest from its sources (file names and weights, as _in_file gives them)."""
    index = {n: i for i, n in enumerate(names)}

    def at(spec: dict[str, float]) -> np.ndarray:
        w = np.array(list(spec.values()), dtype=np.float64)
        return (w[:, None] * rest[[index[n] for n in spec]]).sum(0) / w.sum()
    return at


def head_top_checked(smap, names: list[str], rest: np.ndarray):
    """(smap, note): where the map's head top sits on the head joint at rest (an End Site written
    with no offset, as some exporters do for every leaf), the top is estimated above the head as the
    tree map estimates it, and note says so; else (smap, None)."""
    from dataclasses import replace

    spec = _in_file(smap, names, ("Head", "Neck", "Thorax"))
    if spec is None or "Head" in smap.estimated:
        return smap, None
    at = _at(names, rest)

    head, neck, thorax = at(spec["Head"]), at(spec["Neck"]), at(spec["Thorax"])
    legs = _in_file(smap, names, ("LHip", "LKnee", "LAnkle", "RHip", "RKnee", "RAnkle"))
    if np.linalg.norm(head - neck) > 0.3 * np.linalg.norm(neck - thorax) or legs is None:
        return smap, None
    pts = [at(s) for s in legs.values()]
    leg = 0.5 * sum(np.linalg.norm(pts[k] - pts[k + 1]) + np.linalg.norm(pts[k + 1] - pts[k + 2]) for k in (0, 3))
    joints = dict(smap.joints, Head=_top_above(spec["Neck"], spec["Thorax"], neck, thorax, float(leg)))
    note = (f"its head's top ({', '.join(spec['Head'])}) sits on the head joint at rest (an End Site with no "
            "length): the top of the head is estimated above it along the neck")
    return replace(smap, joints=joints, estimated=(*smap.estimated, "Head")), note

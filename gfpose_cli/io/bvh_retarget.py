"""Joint positions -> BVH rotation channels, for writing edited poses as skeletons.

Two cases (docs/ARCHITECTURE.md, the data path):
- back into the source hierarchy: each joint that leads to a mapped point turns (swing for one
  point, Kabsch for several) so the points land on their new positions; joints past the last
  mapped point (fingers, toes) and every channel of an unmoved joint keep their values;
- a fresh 17-joint skeleton: rest offsets from median bone lengths (and the median shape of the
  pelvis and chest triangles), rotations by swing alignment from the root down.
"""
from __future__ import annotations

import numpy as np

from gfpose_cli.core.errors import InputError
from gfpose_cli.io.maps import SkeletonMap, normalise_name
from gfpose_cli.kinematics.rotations import best_rotation, euler_near
from gfpose_cli.core.skeleton import JOINTS, PARENTS
from gfpose_cli.io.bvh import BvhSkeleton, forward_kinematics, local_transforms

#: local rotation angles below this (radians) count as "unchanged": the original channels stay
UNCHANGED_RAD = 1e-9


def _rotation_order(channels: list[str]) -> tuple[str, list[int]]:
    """Euler order ("ZXY") and positions within the joint's channels of its rotation channels."""
    idx = [k for k, c in enumerate(channels) if c.lower().endswith("rotation")]
    return "".join(channels[k][0].upper() for k in idx), idx


def _ancestors(parents: np.ndarray, j: int) -> list[int]:
    out = []
    while j >= 0:
        out.append(j)
        j = int(parents[j])
    return out  # j first, root last


def retarget(skel: BvhSkeleton, smap: SkeletonMap, targets: np.ndarray, mask: np.ndarray,
             fk: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """New motion (F, C) for skel whose mapped points move to targets (F, 17, 3, file units and axes).

    Frames or joints with mask False keep their original channels. fk is the skeleton's own
    forward kinematics (positions, rotations) when the caller already has it.
    """
    have = {normalise_name(n): i for i, n in enumerate(skel.names)}
    world, wrot = fk if fk is not None else forward_kinematics(skel, with_rotations=True)
    # each of the 17 joints is a weighted point of source joints, owned by their lowest common ancestor
    points = []
    for j, joint in enumerate(JOINTS):
        cols = [smap._resolve(s, have) for s in smap.joints[joint]]
        if not cols or None in cols:  # a joint the rig has no joints for (a partial map): nothing to steer
            continue
        w = np.array(list(smap.joints[joint].values()), dtype=np.float64)
        paths = [_ancestors(skel.parents, c) for c in cols]
        common = [a for a in paths[0] if all(a in p for p in paths[1:])]
        points.append((j, np.array(cols), w / w.sum(), common[0]))
    owned_by: dict[int, list[int]] = {}
    for k, (_, _, _, owner) in enumerate(points):
        owned_by.setdefault(owner, []).append(k)
    current = np.stack([np.einsum("k,fkd->fd", w, world[:, cols]) for _, cols, w, _ in points], axis=1)

    motion = skel.motion.copy()
    N = len(skel.names)
    drivers = _drivers(skel, owned_by, N)
    new_pos = world.copy()
    new_rot = wrot.copy()
    for j in range(N):
        p = int(skel.parents[j])
        L, t = local_transforms(skel, j, motion)
        if p >= 0:
            new_pos[:, j] = new_pos[:, p] + np.einsum("fij,fj->fi", new_rot[:, p], t)
            new_rot[:, j] = new_rot[:, p] @ L
        else:
            new_pos[:, j], new_rot[:, j] = t, L
        order, rot_idx = _rotation_order(skel.channels[j])
        ks = drivers.get(j, [])
        if len(order) != 3 or not ks:
            continue
        # where each driven point sits in j's frame (chain below j still as in the original)
        q = np.einsum("fji,fkj->fki", wrot[:, j], current[:, ks] - world[:, j, None])
        a = np.einsum("fij,fkj->fki", new_rot[:, j], q)
        ok = mask[:, [points[k][0] for k in ks]].all(1)
        is_root = p < 0 and any(c.lower().endswith("position") for c in skel.channels[j])
        if is_root:
            ca = (new_pos[:, j, None] + a).mean(1)
            cb = targets[:, [points[k][0] for k in ks]].mean(1)
            b = targets[:, [points[k][0] for k in ks]] - cb[:, None]
            delta = best_rotation(a + new_pos[:, j, None] - ca[:, None], b)
            pos_new = np.einsum("fij,fj->fi", delta, new_pos[:, j] - ca) + cb
        else:
            b = targets[:, [points[k][0] for k in ks]] - new_pos[:, j, None]
            delta = best_rotation(a, b)
            pos_new = new_pos[:, j]
        angle = np.linalg.norm(delta - np.eye(3), axis=(1, 2))  # ~ sqrt(2) x angle, exact near zero
        moved_root = is_root & (np.abs(pos_new - new_pos[:, j]).max(-1) > 1e-9) if is_root else np.zeros(len(a), bool)
        change = ok & ((angle > UNCHANGED_RAD) | moved_root)
        if not change.any():
            continue
        R_new = np.einsum("fij,fjk->fik", delta, new_rot[:, j])
        parent_R = new_rot[:, p] if p >= 0 else np.broadcast_to(np.eye(3), R_new.shape)
        local = np.einsum("fji,fjk->fik", parent_R, R_new)
        cols = skel.channel_start[j] + np.array(rot_idx)
        angles = euler_near(local[change], order, motion[change][:, cols])
        rows = np.flatnonzero(change)
        motion[np.ix_(rows, cols)] = angles
        new_rot[change, j] = R_new[change]
        if is_root:
            pos_idx = [k for k, c in enumerate(skel.channels[j]) if c.lower().endswith("position")]
            for k in pos_idx:
                axis = "xyz".index(skel.channels[j][k][0].lower())
                motion[rows, skel.channel_start[j] + k] = pos_new[change, axis]  # replaces the OFFSET
            new_pos[change, j] = pos_new[change]
    return motion


def _drivers(skel: BvhSkeleton, owned_by: dict[int, list[int]], N: int) -> dict[int, list[int]]:
    """For each joint, the mapped points it steers: those owned by itself (off its origin) or by the
    nearest owning joints below it."""
    children: dict[int, list[int]] = {}
    for c in range(N):
        if skel.parents[c] >= 0:
            children.setdefault(int(skel.parents[c]), []).append(c)

    def nearest(j: int) -> list[int]:
        out = []
        for c in children.get(j, []):
            out += owned_by.get(c, []) or nearest(c)
        return out

    return {j: owned_by.get(j, []) + nearest(j) for j in range(N)}


# ---------------------------------------------------------------- a fresh 17-joint skeleton
_CHANNELS_ROOT = ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"]
_CHANNELS = ["Zrotation", "Xrotation", "Yrotation"]
#: rest (T-pose) directions in a Y-up frame facing +Z (the character's left is +X)
_REST_DIR = {
    "RHip": (-1, 0, 0), "RKnee": (0, -1, 0), "RAnkle": (0, -1, 0),
    "LHip": (1, 0, 0), "LKnee": (0, -1, 0), "LAnkle": (0, -1, 0),
    "Spine": (0, 1, 0), "Thorax": (0, 1, 0), "Neck": (0, 1, 0), "Head": (0, 1, 0),
    "LShoulder": (1, 0, 0), "LElbow": (1, 0, 0), "LWrist": (1, 0, 0),
    "RShoulder": (-1, 0, 0), "RElbow": (-1, 0, 0), "RWrist": (-1, 0, 0),
}


def _triangle_rest(poses: np.ndarray, centre: int, left: int, right: int, up: int, children: list[int]) -> dict[int, np.ndarray]:
    """Median offsets of a joint's children in a frame made of its left-right and up directions."""
    x = poses[:, left] - poses[:, right]
    x /= np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)
    z = np.cross(x, poses[:, up] - poses[:, centre])
    z /= np.maximum(np.linalg.norm(z, axis=-1, keepdims=True), 1e-9)
    y = np.cross(z, x)
    frame = np.stack([x, y, z], axis=-1)  # columns: rest X (left), Y (up), Z (forward)
    return {c: np.median(np.einsum("fji,fj->fi", frame, poses[:, c] - poses[:, centre]), axis=0) for c in children}


#: pivots: zero-length joints (name: (at joint, child joint)), so the spine, neck and shoulders
#: turn on their own: the pelvis and chest triangles change shape as the back bends and the
#: shoulders shrug, which one rigid rotation of the pelvis or thorax cannot follow
_PIVOTS = {"SpineBase": ("Pelvis", "Spine"), "NeckBase": ("Thorax", "Neck"),
           "LCollar": ("Thorax", "LShoulder"), "RCollar": ("Thorax", "RShoulder"),
           "LHipBase": ("Pelvis", "LHip"), "RHipBase": ("Pelvis", "RHip")}
#: how much the child behind a pivot counts in its parent's rotation: the hips still set the pelvis's
#: (as when they were its own children: its heading), the rest only settle the spin about the others
_PIVOT_WEIGHT = {"LHipBase": 1.0, "RHipBase": 1.0}


def fresh_skeleton(poses: np.ndarray, fps: float) -> BvhSkeleton:
    """A 17-joint BVH skeleton (plus six pivots) whose motion reproduces poses (F, 17, 3, Y up): exactly
    where the poses keep their bone lengths (each joint is aimed by its own rotation), else each joint to
    within its own bone's change of length (it is aimed from where the skeleton has put its parent, so a
    change is not carried down the chain)."""
    if not np.isfinite(poses).all():
        f, j = np.argwhere(~np.isfinite(poses).all(-1))[0]
        raise InputError(f"frame {f} misses joint {JOINTS[j]}; a BVH cannot hold gaps: run `gfpose complete` first")
    J = {n: i for i, n in enumerate(JOINTS)}
    F = len(poses)
    # nodes: (name, parent node, 17-joint index or -1 for a pivot); joints keep their 17-joint order first
    nodes = [(name, -1 if p < 0 else p, j) for j, (name, p) in enumerate(zip(JOINTS, PARENTS))]
    for pivot, (parent, child) in _PIVOTS.items():
        nodes.append((pivot, J[parent], -1))
        c = J[child]
        nodes[c] = (nodes[c][0], len(nodes) - 1, c)
    lengths = {c: float(np.median(np.linalg.norm(poses[:, c] - poses[:, p], axis=-1)))
               for c, p in enumerate(PARENTS) if p >= 0}
    offsets = np.zeros((len(nodes), 3))
    for c, p in enumerate(PARENTS):
        if p >= 0:
            offsets[c] = np.array(_REST_DIR[JOINTS[c]], float) * lengths[c]
    # a triangle child's rest direction is its median in the parent's frame, at its bone's length (the
    # median vector of a child that swings, a shoulder that shrugs, is shorter than the bone)
    for c, v in _triangle_rest(poses, J["Pelvis"], J["LHip"], J["RHip"], J["Spine"], [J["RHip"], J["LHip"], J["Spine"]]).items():
        offsets[c] = v / max(float(np.linalg.norm(v)), 1e-9) * lengths[c]
    for c, v in _triangle_rest(poses, J["Thorax"], J["LShoulder"], J["RShoulder"], J["Neck"],
                               [J["Neck"], J["LShoulder"], J["RShoulder"]]).items():
        offsets[c] = v / max(float(np.linalg.norm(v)), 1e-9) * lengths[c]
    # solve world rotations parents-first; a pivot's "position" is its parent's
    order = _parents_first([n[1] for n in nodes])
    at = [j if j >= 0 else J[_PIVOTS[name][0]] for name, _, j in nodes]
    kids = {k: [c for c, n in enumerate(nodes) if n[1] == k] for k in range(len(nodes))}
    world = np.zeros((F, len(nodes), 3, 3))
    local = np.zeros_like(world)
    placed = np.zeros((F, len(nodes), 3))  # where the skeleton puts each node (a pivot: at its parent)
    for k in order:
        p = nodes[k][1]
        parent_R = world[:, p] if p >= 0 else np.broadcast_to(np.eye(3), (F, 3, 3))
        placed[:, k] = poses[:, 0] if p < 0 else placed[:, p] + np.einsum("fij,j->fi", parent_R, offsets[k])
        # the vectors this node steers: to each child joint (through a pivot, to the pivot's child), from
        # where the skeleton has put this node, so a bone of varying length is not carried down the chain
        ends = [kids[c][0] if nodes[c][2] < 0 else c for c in kids[k]]
        if not ends:
            world[:, k] = parent_R
        else:
            rest = np.broadcast_to(np.einsum("fij,kj->fki", parent_R, offsets[ends]), (F, len(ends), 3))
            now = poses[:, [at[e] for e in ends]] - placed[:, k, None]
            # a child behind a pivot only settles the spin about the others (the pivot aims it exactly)
            w = np.array([_PIVOT_WEIGHT.get(nodes[c][0], 1e-3) if nodes[c][2] < 0 else 1.0 for c in kids[k]])
            world[:, k] = np.einsum("fij,fjk->fik", best_rotation(rest, now, w), parent_R)
        local[:, k] = np.einsum("fji,fjk->fik", parent_R, world[:, k])
    leaves = [k for k in range(len(nodes)) if not kids[k]]
    names = [n[0] for n in nodes] + [f"{nodes[k][0]}_End" for k in leaves]
    parents = [n[1] for n in nodes] + leaves
    end_offsets = [offsets[k] / max(np.linalg.norm(offsets[k]), 1e-9) * 0.25 * lengths[k] for k in leaves]
    channels = [list(_CHANNELS_ROOT)] + [list(_CHANNELS) for _ in nodes[1:]] + [[] for _ in leaves]
    starts = np.cumsum([0] + [len(c) for c in channels])[:-1]
    motion = np.zeros((F, sum(len(c) for c in channels)))
    motion[:, :3] = poses[:, 0]  # the root's offset is zero: its channels carry the position
    for k in range(len(nodes)):
        col = starts[k] + (3 if k == 0 else 0)
        motion[:, col:col + 3] = euler_near(local[:, k], "ZXY")
    # BVH lists joints depth-first; reorder so each parent's subtree is contiguous
    skel = BvhSkeleton(names=names, parents=np.array(parents), offsets=np.vstack([offsets, end_offsets]),
                       channels=channels, channel_start=starts, motion=motion, frame_time=1.0 / fps)
    return depth_first(skel)


def _parents_first(parents: list[int]) -> list[int]:
    order, seen = [], set()
    while len(order) < len(parents):
        for k, p in enumerate(parents):
            if k not in seen and (p < 0 or p in seen):
                order.append(k)
                seen.add(k)
    return order


def depth_first(skel: BvhSkeleton) -> BvhSkeleton:
    """The same skeleton with joints in depth-first order (how BVH text lists them), header built."""
    kids: dict[int, list[int]] = {}
    for c, p in enumerate(skel.parents):
        kids.setdefault(int(p), []).append(c)
    order: list[int] = []

    def visit(j: int) -> None:
        order.append(j)
        for c in kids.get(j, []):
            visit(c)

    visit(kids[-1][0])
    new_index = {old: new for new, old in enumerate(order)}
    channels = [skel.channels[j] for j in order]
    starts = np.cumsum([0] + [len(c) for c in channels])[:-1]
    cols = np.concatenate([skel.channel_start[j] + np.arange(len(skel.channels[j])) for j in order]).astype(int)
    out = BvhSkeleton(names=[skel.names[j] for j in order],
                      parents=np.array([new_index[int(skel.parents[j])] if skel.parents[j] >= 0 else -1 for j in order]),
                      offsets=skel.offsets[order], channels=channels, channel_start=starts,
                      motion=skel.motion[:, cols], frame_time=skel.frame_time)
    out.header = hierarchy_text(out)
    return out


def hierarchy_text(skel: BvhSkeleton) -> str:
    """The HIERARCHY section of a skeleton (end sites are the names ending in _End with no channels)."""
    lines = ["HIERARCHY"]
    kids: dict[int, list[int]] = {}
    for c, p in enumerate(skel.parents):
        kids.setdefault(int(p), []).append(c)

    def emit(j: int, depth: int) -> None:
        pad = "\t" * depth
        off = " ".join(f"{v:.6f}" for v in skel.offsets[j])
        if not skel.channels[j] and skel.names[j].endswith("_End"):
            lines.extend([f"{pad}End Site", f"{pad}{{", f"{pad}\tOFFSET {off}", f"{pad}}}"])
            return
        lines.append(f"{pad}{'ROOT' if skel.parents[j] < 0 else 'JOINT'} {skel.names[j]}")
        lines.extend([f"{pad}{{", f"{pad}\tOFFSET {off}",
                      f"{pad}\tCHANNELS {len(skel.channels[j])} {' '.join(skel.channels[j])}"])
        for c in kids.get(j, []):
            emit(c, depth + 1)
        lines.append(f"{pad}}}")

    emit(0, 0)
    return "\n".join(lines) + "\n"

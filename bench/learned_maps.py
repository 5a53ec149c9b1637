"""Skeleton maps learned from the markers' motion (gfpose_cli.io.maps.learn), measured three ways.
Prints markdown; commit it as bench/results/learned-maps.md.

    python bench/learned_maps.py

A. Real vendor C3D files no preset maps by name: what `gfpose convert` does with them (the map it
   learned, the joints found, the body's bone lengths), or the sentence it refuses with.
B. Real marker files a preset maps by name: the learned map on the same markers (their names
   ignored), its joint centres against the preset's (median over joints and frames). The presets'
   centres are themselves estimates (Plug-in Gait's knee is the lateral knee marker, its pelvis the
   mean of the pelvis markers, 8-10 cm above the hip centres the learned map's pelvis sits between),
   so part of any gap is the definitions'.
C. Technical clusters on real motion: real BVH takes (the shared fixtures and the vendor BVHs: a
   walk, a hop, a wave, dances, a Blender example), each bone carrying a plate of three markers
   (soft tissue moves each plate as one by up to 5 mm, and each marker by 1 mm of noise), named
   M1..Mn so no preset can read them; the learned joint centres against the preset's joints (the
   BVH joints: true rotation centres). This is the setting functional methods are made for (a lab
   fixes clusters to the segments); it measures the method on real ranges of motion.
"""
from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gfpose_cli import io  # noqa: E402
from gfpose_cli.core.errors import InputError  # noqa: E402
from gfpose_cli.core.skeleton import JOINTS  # noqa: E402
from gfpose_cli.io import bvh as bvh_io  # noqa: E402
from gfpose_cli.io.c3d import load, point_kinds  # noqa: E402
from gfpose_cli.io.maps import auto_map  # noqa: E402
from gfpose_cli.io.maps.learn import learned_map  # noqa: E402
from gfpose_cli.io.sanity import body_report  # noqa: E402

VENDORS = ROOT / "tests" / "data" / "vendors"
SHARED = ROOT.parent / "shared"
UNKNOWN = ["btk__pc_real.c3d", "btk__DEC_INT.c3d", "btk__sgi_int.c3d", "btk__Eb015pi.c3d", "btk__Eb015sr.c3d",
           "btk__TESTDPI.c3d", "btk__mocap36.c3d", "btk__Dance.c3d", "ezc3d__Optotrak.c3d"]
PRESET_MAPPED = ["ammr__2014001_C1_01.c3d", "pycgm__Movement_trial.c3d", "btk__Res16bits.c3d", "btk__dynamic.c3d"]
BVHS = [SHARED / "fixtures" / "cmu_12_01_walk.bvh", SHARED / "fixtures" / "cmu_131_03_hop.bvh",
        SHARED / "fixtures" / "fair_wave_hello.bvh"] + sorted(VENDORS.glob("*.bvh"))
FUNCTIONAL = ["RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "RShoulder", "RElbow", "RWrist",
              "LShoulder", "LElbow", "LWrist", "Neck"]


def gfpose(*args: str) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "gfpose_cli", *args], capture_output=True, text=True)
    return proc.returncode, " ".join(line.strip() for line in proc.stderr.splitlines() if line.strip())


def markers_of(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """A C3D's points as the readers see them: names (non-markers hidden), metres, seen."""
    f = load(path)
    kinds = point_kinds(f.labels, f.params)
    names = [x if k == "marker" else f"{x}\x00{k}" for x, k in zip(f.labels, kinds)]
    units = str((f.params.get("POINT", {}).get("UNITS") or ["mm"])[0]).strip().lower()
    scale = {"m": 1.0, "mete": 1.0, "cm": 0.01}.get(units, 0.001)
    return names, f.xyz * scale, f.observed


def errors(learned: np.ndarray, lmask: np.ndarray, truth: np.ndarray, tmask: np.ndarray, joints: list[str]) -> dict:
    out = {}
    for name in joints:
        j = JOINTS.index(name)
        ok = lmask[:, j] & tmask[:, j]
        if ok.any():
            out[name] = np.linalg.norm(learned[ok, j] - truth[ok, j], axis=-1)
    return out


def section_a() -> None:
    print("## A. Vendor C3D files no preset maps by name: `gfpose convert FILE -o out.npz`\n")
    print("| file | outcome | joints found | femur R/L (mm) | tibia R/L (mm) | upper arm R/L (mm) | refusal |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in UNKNOWN:
            out = Path(tmp) / f"{Path(name).stem}.npz"
            code, err = gfpose("convert", str(VENDORS / name), "-o", str(out), "-q")
            if code == 0:
                take = io.read(VENDORS / name)
                r = body_report(take.positions.astype(np.float64), take.mask)
                mm = {k: ("-" if v is None else f"{v * 1000:.0f}") for k, v in r["lengths"].items()}
                found = int(take.mask.any(0).sum())
                print(f"| {name} | map '{take.provenance.map}' | {found} of 17 | {mm['right femur']}/{mm['left femur']} | "
                      f"{mm['right tibia']}/{mm['left tibia']} | {mm['right upper arm']}/{mm['left upper arm']} | - |")
            else:
                why = err.split("A map learned from the markers' motion failed too: ")[-1]
                print(f"| {name} | refused (exit {code}) | | | | | {why.replace('|', '/')[:220]} |")
    print()


def section_b() -> None:
    print("## B. Real marker files a preset maps: the learned map on the same markers, against the preset\n")
    print("| file | preset | learned map | joints compared | median (mm) | per joint (mm) |")
    print("|---|---|---|---|---|---|")
    for name in PRESET_MAPPED:
        path = VENDORS / name
        take = io.read(path)
        names, xyz, observed = markers_of(path)
        try:
            smap, body = learned_map(names, xyz, observed, name)
        except InputError as exc:
            print(f"| {name} | {take.provenance.map} | refused: {str(exc).split(': ', 1)[-1][:160]} | | | |")
            continue
        back = take.writeback
        learned, lmask = smap.apply(names, xyz, observed)
        learned = learned @ back.to_canonical.T
        e = errors(learned, lmask, back.joints, back.joint_mask, JOINTS)
        allv = np.concatenate(list(e.values())) if e else np.array([np.nan])
        per = ", ".join(f"{k} {np.median(v) * 1000:.0f}" for k, v in e.items())
        print(f"| {name} | {take.provenance.map} | {len(smap.rigid)} joints | {len(e)} | {np.median(allv) * 1000:.0f} | {per} |")
    print()


def rig_truth(path: Path):
    """A BVH take's skeleton, joint positions and rotations, units (m per file unit), and the preset's
    17 joints (truth, metres; mask) with the BVH joint carrying each."""
    skel = bvh_io.read_skeleton(path)
    pos, rot = bvh_io.forward_kinematics(skel, with_rotations=True)
    scale = io.read(path).provenance.units_to_m or 1.0
    smap = auto_map(skel.names, str(path), kind="rig")
    F = pos.shape[0]
    truth = np.full((F, 17, 3), np.nan)
    tmask = np.zeros((F, 17), dtype=bool)
    carried = {}
    for j, joint in enumerate(JOINTS):
        spec = smap.joints[joint]
        if len(spec) == 1 and next(iter(spec)) in skel.names:
            k = skel.names.index(next(iter(spec)))
            truth[:, j] = pos[:, k] * scale
            tmask[:, j] = True
            carried[joint] = k
    return skel, pos, rot, scale, truth, tmask, carried


def plates(path: Path, rng: np.random.Generator) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Markers on plates riding the bones of a BVH take, and the preset's 17 joints (truth), in metres."""
    skel, pos, rot, scale, truth, tmask, carried = rig_truth(path)
    F = pos.shape[0]
    # the bones that carry a plate: the root (pelvis), the chest the shoulders hang from (their
    # nearest common ancestor), the head, and each limb bone below its joint
    def ancestors(k: int) -> list[int]:
        out = []
        while k >= 0:
            out.append(k)
            k = int(skel.parents[k])
        return out

    frames = [int(np.flatnonzero(skel.parents < 0)[0])]
    if "LShoulder" in carried and "RShoulder" in carried:
        common = [a for a in ancestors(int(skel.parents[carried["LShoulder"]])) if a in ancestors(carried["RShoulder"])]
        frames.append(common[0])
    frames += [carried[j] for j in ("Neck", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle",
                                    "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist") if j in carried]
    names, xyz = [], []
    for k in dict.fromkeys(frames):
        kids = [c for c in range(len(skel.names)) if skel.parents[c] == k]
        along = np.mean([skel.offsets[c] for c in kids], axis=0) * scale if kids else np.array([0.0, 0.1, 0.0])
        if np.linalg.norm(along) < 0.05:
            along = along / max(np.linalg.norm(along), 1e-9) * 0.1
        wobble = 0.005 * np.sin(np.linspace(0, 6 * F / 120, F)[:, None] + rng.uniform(0, 6, 3)) * rng.normal(0, 1, 3) / 1.7
        for _ in range(3):
            local = 0.5 * along + rng.normal(0, 0.05, 3)
            p = pos[:, k] * scale + np.einsum("fij,j->fi", rot[:, k], local) + wobble + rng.normal(0, 0.001, (F, 3))
            names.append(f"M{len(names) + 1}")
            xyz.append(p)
    return names, np.stack(xyz, 1), truth, tmask


#: OptiTrack Motive's numbered skeleton markers (BTK's mocap36.c3d): segment -> (count, where along
#: the bone, how far off it (m)); which number sits where is drawn at random, as it differs between
#: Motive versions and sides
MOTIVE = {"Hip": (4, 0.1, 0.12), "Chest": (3, 0.5, 0.10), "Head": (3, 0.7, 0.08), "Shoulder": (2, 0.9, 0.04),
          "UArm": (2, 0.6, 0.05), "Hand": (3, 0.4, 0.04), "Thigh": (2, 0.6, 0.07), "Shin": (2, 0.6, 0.05),
          "Foot": (2, 0.8, 0.04)}


#: Motive's Baseline (37) marker names by segment (the side goes before the limbs' names), the order
#: the wrist markers, then the hand's, are laid in
BASELINE = {"Hip": ["WaistLFront", "WaistRFront", "WaistLBack", "WaistRBack"],
            "Chest": ["BackTop", "BackLeft", "BackRight", "Chest"], "Head": ["HeadTop", "HeadFront", "HeadSide"],
            "Shoulder": ["ShoulderBack", "ShoulderTop"], "UArm": ["UArmHigh", "ElbowOut"],
            "Hand": ["WristOut", "WristIn", "HandOut"], "Thigh": ["Thigh", "KneeOut"], "Shin": ["Shin", "AnkleOut"],
            "Foot": ["ToeOut", "ToeIn", "Heel"]}


def motive_named(path: Path, rng: np.random.Generator, baseline: bool = False) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Motive-style markers (Skeleton_Hip1..4, Skeleton_LThigh1..2, ...: two or three per limb segment;
    with baseline, the Baseline set's names: WaistLFront, LThigh, LKneeOut, ...) riding the bones of a
    BVH take, and the preset's 17 joints (truth), in metres."""
    def label(seg: str, n: int) -> str:
        if not baseline:
            return f"Skeleton_{seg}{n}"
        part = seg if seg in BASELINE else seg[1:]
        return ("" if seg in BASELINE else seg[0]) + BASELINE[part][n - 1]

    skel, pos, rot, scale, truth, tmask, carried = rig_truth(path)
    F = pos.shape[0]
    root = int(np.flatnonzero(skel.parents < 0)[0])
    bones = {"Hip": root}
    if "LShoulder" in carried and "RShoulder" in carried:
        bones["Chest"] = int(skel.parents[skel.parents[carried["LShoulder"]]])
        bones["Head"] = carried.get("Neck", bones["Chest"])
    for side in "LR":
        for seg, joint in (("Thigh", "Hip"), ("Shin", "Knee"), ("Foot", "Ankle"), ("UArm", "Shoulder"), ("Hand", "Wrist")):
            if side + joint in carried:
                bones[side + seg] = carried[side + joint]
        if side + "Shoulder" in carried:
            bones[side + "Shoulder"] = int(skel.parents[carried[side + "Shoulder"]])
    names, xyz = [], []
    for seg, k in bones.items():
        part = seg if seg in MOTIVE else seg[1:]
        count, share, off = MOTIVE[part]
        count = len(BASELINE[part]) if baseline else count
        if seg[1:] == "Hand" and seg[0] + "Elbow" in carried:  # two of the hand's markers sit on the wrist's
            bone = carried[seg[0] + "Elbow"]  # two sides (on the forearm), one on the back of the hand
            wrist_bone = [c for c in range(len(skel.names)) if skel.parents[c] == bone]
            along = np.mean([skel.offsets[c] for c in wrist_bone], axis=0) * scale
            wobble = rng.normal(0, 0.002, 3)
            side = rng.normal(0, 1, 3)
            side = np.cross(along, side)
            side = 0.03 * side / np.linalg.norm(side)
            order = [1, 2, 3] if baseline else rng.permutation(3) + 1
            for n, local in zip(order, (0.97 * along + side, 0.97 * along - side, None)):
                if local is None:
                    kk = k
                    kids = [c for c in range(len(skel.names)) if skel.parents[c] == k]
                    hand = np.mean([skel.offsets[c] for c in kids], axis=0) * scale if kids else 0.3 * along
                    local = 0.5 * hand + rng.normal(0, 0.02, 3)
                else:
                    kk = bone
                p = pos[:, kk] * scale + np.einsum("fij,j->fi", rot[:, kk], local) + wobble + rng.normal(0, 0.001, (F, 3))
                names.append(label(seg, n))
                xyz.append(p)
            continue
        if seg == "Hip" and "LHip" in carried and "RHip" in carried:  # the waist: front and back, left and right
            hips = [pos[0, carried[s + "Hip"]] - pos[0, k] for s in "LR"]
            local_l = rot[0, k].T @ (hips[0] - hips[1]) * scale
            local_up = rot[0, k].T @ (pos[0, carried["Neck"]] - pos[0, k] if "Neck" in carried else np.array([0, 1.0, 0]))
            local_up = local_up - (local_up @ local_l) * local_l / (local_l @ local_l)
            local_up /= np.linalg.norm(local_up)
            lat = local_l / np.linalg.norm(local_l)
            fwd = np.cross(local_up, lat)  # up x left: forward
            wobble = 0.005 * np.sin(np.linspace(0, 6 * F / 120, F)[:, None] + rng.uniform(0, 6, 3)) * rng.normal(0, 1, 3) / 1.7
            order = [1, 2, 3, 4] if baseline else rng.permutation(4) + 1
            for n, (a, b) in zip(order, ((1, 1), (-1, 1), (1, -1), (-1, -1))):
                local = a * rng.uniform(0.12, 0.17) * lat + b * rng.uniform(0.06, 0.10) * fwd + rng.uniform(0.0, 0.1) * local_up
                p = pos[:, k] * scale + np.einsum("fij,j->fi", rot[:, k], local) + wobble + rng.normal(0, 0.001, (F, 3))
                names.append(label(seg, n))
                xyz.append(p)
            continue
        kids = [c for c in range(len(skel.names)) if skel.parents[c] == k]
        along = np.mean([skel.offsets[c] for c in kids], axis=0) * scale if kids else np.array([0.0, 0.08, 0.0])
        wobble = 0.005 * np.sin(np.linspace(0, 6 * F / 120, F)[:, None] + rng.uniform(0, 6, 3)) * rng.normal(0, 1, 3) / 1.7
        for n in rng.permutation(count) + 1:
            local = along * rng.uniform(share - 0.3, min(share + 0.3, 1.0)) + rng.normal(0, off, 3)
            p = pos[:, k] * scale + np.einsum("fij,j->fi", rot[:, k], local) + wobble + rng.normal(0, 0.001, (F, 3))
            names.append(label(seg, n))
            xyz.append(p)
    return names, np.stack(xyz, 1), truth, tmask


def learned_table(build) -> None:
    """The learned map of markers build(path, rng) lays on each BVH take, against the take's joints."""
    print("| take | frames | rig preset | joints learned | median (mm) | 90th pct (mm) | per joint, median (mm) | "
          "thigh L/R (mm; true) | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    medians = []
    for path in BVHS:
        if not path.exists():
            continue
        names, xyz, truth, tmask = build(path, rng)
        observed = np.ones(xyz.shape[:2], dtype=bool)
        preset = io.read(path).provenance.map
        t0 = time.perf_counter()
        try:
            smap, body = learned_map(names, xyz, observed, path.name)
        except InputError as exc:
            print(f"| {path.name} | {len(xyz)} | {preset} | refused: {str(exc).split(': ', 1)[-1][:160]} | | | | | |")
            continue
        learned, lmask = smap.apply(names, xyz, observed)
        dt = time.perf_counter() - t0
        found = [j for j in JOINTS if j in smap.rigid or smap.joints.get(j)]
        e = errors(learned, lmask, truth, tmask, [j for j in FUNCTIONAL if j in found])
        allv = np.concatenate(list(e.values()))
        medians.append(np.median(allv))
        per = ", ".join(f"{k} {np.median(v) * 1000:.0f}" for k, v in e.items())
        said = f" ({'; '.join(body.notes)})" if body.notes else ""

        def thigh(arr: np.ndarray, side: str) -> str:
            v = np.linalg.norm(arr[:, JOINTS.index(side + "Hip")] - arr[:, JOINTS.index(side + "Knee")], axis=-1)
            return f"{np.nanmedian(v) * 1000:.0f}" if np.isfinite(v).any() else "-"
        lengths = "/".join(thigh(learned, s) for s in "LR") + "; " + "/".join(thigh(truth, s) for s in "LR")
        print(f"| {path.name} | {len(xyz)} | {preset} | {len(found)}{said} | {np.median(allv) * 1000:.1f} | "
              f"{np.percentile(allv, 90) * 1000:.0f} | {per} | {lengths} | {dt:.1f} |")
    if medians:
        print(f"\nMedian over takes of the per-take medians: {np.median(medians) * 1000:.1f} mm "
              f"(the target: within 30 mm of the preset's centres).")
    print()


def section_e() -> None:
    print("## E. Motive's Baseline marker names (WaistLFront, BackTop, LThigh, LKneeOut, LShin, LAnkleOut, LToeOut, "
          "LUArmHigh, LElbowOut, LWristOut, LHandOut, ...) on the bones of real BVH takes, against the BVH joints\n")
    learned_table(lambda path, rng: motive_named(path, rng, baseline=True))


def section_c() -> None:
    print("## C. Three-marker plates on the bones of real BVH takes (markers named M1..Mn), against the BVH joints\n")
    learned_table(plates)


def section_d() -> None:
    print("## D. Motive-style segment markers (Skeleton_Hip1..4, Skeleton_LThigh1..2, ...: two or three per segment, "
          "numbered at random) on the bones of real BVH takes, against the BVH joints\n")
    learned_table(motive_named)


def main() -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    weights = hashlib.sha256((ROOT / "weights" / "prior.pt").read_bytes()).hexdigest()[:16]
    print(f"Command: `python bench/learned_maps.py` · commit {commit} · weights prior.pt sha256 {weights}… (not used) · "
          f"device CPU ({platform.machine()}, {platform.system()})\n")
    t0 = time.perf_counter()
    section_a()
    section_b()
    section_c()
    section_d()
    section_e()
    print(f"{time.perf_counter() - t0:.0f} s on CPU")


if __name__ == "__main__":
    main()

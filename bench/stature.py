"""Standing height from the skeleton: the constant lift --height converts a height with.

    python bench/stature.py > bench/results/stature.md

For every body in ../shared/data, its height read off its takes as a tape measure gives it (the Head
joint, at eye level, in the frames where the body stands upright: both ankles within 15 cm of the floor,
pelvis-to-head within 10 degrees of vertical; 90th percentile over EYE_SHARE, Drillis and Contini's
eye level as a share of stature), against its ankle-to-head chain (median bone lengths over its takes).
kinematics.bones.STATURE_PER_CHAIN is the median ratio over the training bodies (held-out bodies are
listed, not counted). At most TAKES_PER_BODY takes per body (the CMU BVH archive: its first 40 takes).
"""
from __future__ import annotations

import itertools
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gfpose_cli.kinematics.bones import STATURE_PER_CHAIN, performer_lengths, standing_height  # noqa: E402
from gfpose_cli.training import data  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
EYE_SHARE = 0.936
TAKES_PER_BODY = 40
ARCHIVES = (("cmu-bvh.tar.xz", data._cmu_takes, 40), ("hdm05-amc.tar.xz", data._hdm05_takes, None),
            ("multibody-mocap.tar.xz", data._multibody_takes, None), ("multibody2-mocap.tar.xz", data._multibody2_takes, None))


def upright_heads(pos: np.ndarray) -> np.ndarray:
    """Head joint heights (metres) in the frames where the body stands upright (world, Z up, floor at 0)."""
    trunk = pos[:, 10] - pos[:, 0]
    upright = (trunk[:, 2] / np.linalg.norm(trunk, axis=-1) > np.cos(np.radians(10.0))) & (
        np.maximum(pos[:, 3, 2], pos[:, 6, 2]) < 0.15)
    return pos[upright, 10, 2]


def main() -> None:
    held = {f"{f}:{s}" for f, subs in data.HELD_OUT.items() for s in subs}
    bodies: dict[str, dict[str, list]] = {}
    for archive, reader, cap in ARCHIVES:
        for _, who, pos, mask, _ in itertools.islice(reader(SHARED / archive), cap):
            pos = pos[mask.all(1)].astype(np.float64)
            got = bodies.setdefault(who, {"lengths": [], "heads": []})
            if len(pos) < 50 or len(got["lengths"]) >= TAKES_PER_BODY:
                continue
            got["lengths"].append(performer_lengths(pos, np.ones(pos.shape[:2], bool)))
            got["heads"].append(upright_heads(pos))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"# python bench/stature.py (commit {commit}; {platform.machine()} CPU; no model: the data alone)\n")
    print("| body | held out | takes | upright frames | height, tape-like (m) | ankle-to-head chain (m) | height / chain |")
    print("|---|---|---|---|---|---|---|")
    ratios = []
    for who, got in sorted(bodies.items()):
        heads = np.concatenate(got["heads"]) if got["heads"] else np.zeros(0)
        lengths = np.median(got["lengths"], 0) if got["lengths"] else np.full(16, np.nan)
        chain = standing_height(lengths) / STATURE_PER_CHAIN
        if len(heads) < 20 or not np.isfinite(chain):
            print(f"| {who} | {'yes' if who in held else 'no'} | {len(got['lengths'])} | {len(heads)} | - | - | - |")
            continue
        tape = float(np.percentile(heads, 90)) / EYE_SHARE
        if who not in held:
            ratios.append(tape / chain)
        print(f"| {who} | {'yes' if who in held else 'no'} | {len(got['lengths'])} | {len(heads)} | {tape:.3f} | "
              f"{chain:.3f} | {tape / chain:.3f} |")
    print(f"\nMedian height / chain over the {len(ratios)} training bodies that stand upright: **{np.median(ratios):.3f}** "
          f"(spread {min(ratios):.3f}-{max(ratios):.3f}); kinematics.bones.STATURE_PER_CHAIN = {STATURE_PER_CHAIN}.")


if __name__ == "__main__":
    main()

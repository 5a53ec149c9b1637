"""Issue 26, item 2: lifting with the performer's bone lengths known (--skeleton), per test body.

Three ways to lift the same held-out frames (bench/accuracy.py's frames, cameras and seeds): the
shipped lifter alone; the shipped lifter with the skeleton applied afterwards (scaled to the
performer, bone lengths held: what `lift --skeleton` did before weights/lift-bones.pt); and the
length-conditioned lifter, which reads the lengths as an input, then the same sizing. The skeleton of
a body is the median of each bone over its held-out frames (a calibration trial of that performer).
Prints markdown; commit it as bench/results/lift-lengths.md.

    python bench/lift_lengths.py [--frames 300] [--hypotheses 20] [--bones weights/lift-bones.pt]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from accuracy import BODY_FAMILIES, FAMILIES, held_out_sets  # noqa: E402
from speed import header  # noqa: E402

from gfpose_cli import tasks  # noqa: E402
from gfpose_cli.core.take import Take  # noqa: E402
from gfpose_cli.evaluation import metrics, protocols  # noqa: E402
from gfpose_cli.kinematics.bones import performer_lengths  # noqa: E402
from gfpose_cli.util.provenance import file_digest  # noqa: E402

NAMES = {"cmu": "CMU held-out (training body)", "hdm05": "HDM05 mm", "cmuamc": "CMU 83", "accad": "ACCAD Male1",
         "cmuc3d": "CMU 135"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--hypotheses", type=int, default=20)
    ap.add_argument("--bones", type=Path, default=ROOT / "weights" / "lift-bones.pt")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    opts = tasks.SamplerOptions(seed=args.seed)
    plain = tasks.Runner.for_task("lift", None, opts)
    bones = tasks.Runner.for_task("lift", args.bones, opts)
    head = header(sys.argv[1:], plain.device, "bench/lift_lengths.py")
    sets = held_out_sets(args.frames, args.seed, None, bodies=True)
    ways = {"shipped lifter, no skeleton": (plain, False), "shipped lifter + skeleton afterwards": (plain, True),
            "length-conditioned lifter + skeleton": (bones, True)}
    rows: dict[str, dict[str, tuple[float, float, float]]] = {}
    fams = FAMILIES + BODY_FAMILIES
    for fam in fams:
        cam3d, kp = protocols.camera_views(sets[fam], args.seed)
        skeleton = performer_lengths(cam3d, np.ones(cam3d.shape[:2], bool))  # as --skeleton measures one
        take = Take(positions=kp.astype(np.float32))
        for way, (runner, sized) in ways.items():
            lengths = skeleton if sized else None
            one = tasks.lift(runner, take, lengths=lengths, draw=True).positions[:, 0].astype(np.float64)
            many = tasks.lift(runner, take, hypotheses=args.hypotheses, lengths=lengths).positions.astype(np.float64)
            rows.setdefault(way, {})[fam] = (metrics.mpjpe(one, cam3d) * 1000, metrics.mpjpe(one, cam3d, "procrustes") * 1000,
                                             metrics.min_mpjpe(many, cam3d, "procrustes") * 1000)
            print(f"  {fam}: {way} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    print(head)
    print(f"lift weights sha256 {file_digest(tasks.shipped_weights('lift'), 16)}, length-conditioned "
          f"{args.bones.name} {file_digest(args.bones, 16)}. {args.frames} held-out frames per body, one random camera "
          f"each (exact 2D), seed {args.seed}; S=1 P1 / P2 and min P2 of S={args.hypotheses}, mm. The skeleton: each "
          "bone's median over the body's held-out frames.\n")
    print("| lifting | " + " | ".join(NAMES[f] for f in fams) + " | worst unseen |")
    print("|---" * (len(fams) + 2) + "|")
    for way, per in rows.items():
        worst = max(per[f][0] for f in fams if f != "cmu")
        print(f"| {way} | " + " | ".join(f"{per[f][0]:.1f} / {per[f][1]:.1f} / {per[f][2]:.1f}" for f in fams)
              + f" | {worst:.1f} |")
    print(f"\n{time.perf_counter() - t0:.0f} s on {plain.device}")


if __name__ == "__main__":
    main()

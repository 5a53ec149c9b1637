"""How a generated set compares with real poses, next to sets whose answer we know: `gfpose evaluate
--stats` figures for the shipped prior's samples, noised copies of the real training poses (a
"generator" that memorised the data), and the held-out real subjects. Prints markdown (commit it as
bench/results/set-stats.md).

    python bench/set_stats.py --synthetic synth/      # a folder from gfpose generate --format folder
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gfpose_cli.evaluation import setstats  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def row(name: str, s: dict) -> str:
    d = s["set"]
    c = s.get("comparison")
    cells = [name, f"{d['poses']:,}", f"{d['bone_length_cv']:.1%}", f"{d['symmetry_error']:.1%}",
             f"{d['poses_violating_any_limit']:.2%}", f"{d['diversity_mm']:.0f}"]
    cells += [f"{c['nn_to_reference_mm']['median']:.1f}", f"{c['nn_from_reference_mm']['median']:.1f}",
              f"{c['precision']:.1%}", f"{c['recall']:.1%}", f"{c['coverage']:.1%}"] if c else [""] * 5
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--synthetic", type=Path, required=True)
    ap.add_argument("--noise-mm", default="10,30", help="Gaussian noise levels (per coordinate) for the noised copies")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    train = setstats.load_set(SHARED, "train")
    held = setstats.load_set(SHARED, "held-out")
    synth = setstats.load_set(args.synthetic)
    rng = np.random.default_rng(args.seed)
    sets = {}
    for mm in (float(v) for v in args.noise_mm.split(",")):
        pick = rng.integers(0, len(train), len(synth))
        sets[f"real training poses + N(0, {mm:.0f} mm)"] = train[pick] + rng.normal(0, mm / 1000, (len(synth), 17, 3))
    sets["held-out real subjects"] = held
    sets[f"generated: {args.synthetic.name}"] = synth
    print(f"Reference: the real training split of shared/data; nearest-neighbour figures on 20,000 poses per set "
          f"(k = 5, P-MPJPE), seed {args.seed}.\n")
    print("| set | poses | bone-length CV | L/R asymmetry | breaks an angle limit | diversity (mm) "
          "| NN to reference, median (mm) | NN from reference, median (mm) | precision | recall | coverage |")
    print("|---" * 11 + "|")
    print(row("real training split (the reference)", setstats.set_stats(train, seed=args.seed)))
    for name, poses in sets.items():
        print(row(name, setstats.set_stats(poses, train, seed=args.seed)), flush=True)
    print(f"\n{time.perf_counter() - t0:.0f} s on CPU")


if __name__ == "__main__":
    main()

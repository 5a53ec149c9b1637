"""Few-step students (issue 25, item 1) against their teacher: speed of `generate` and the generated
set's statistics (bench/set_stats.py's figures against the real training split), with the same
seeds, next to the teacher itself run with as few steps (what distillation has to beat). Prints
markdown; commit it as bench/results/distill.md.

    python bench/distill.py [--students ~/.cache/gfpose/runs] [--n 20000]

Students are the `prior-K-step*.pt` files bench/distill.sh exports; the teacher also runs with 8 and
12 steps, where fewer solver steps alone start to hold the guard. The quality guard of issue 25
for a faster default: set statistics within 5 % of the teacher's (bone-length CV, left/right
asymmetry, angle-limit breaks, precision, recall, coverage).
"""
from __future__ import annotations

import argparse
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from accuracy import archive_pose_set  # noqa: E402

from gfpose_cli.evaluation import setstats  # noqa: E402
from gfpose_cli.tasks import Runner, SamplerOptions, generate, native_bf16, resolve_device  # noqa: E402
from gfpose_cli.util.provenance import file_digest  # noqa: E402

GUARD_SET = 0.05
STATS = (("bone-length CV", lambda s: s["set"]["bone_length_cv"]),
         ("L/R asymmetry", lambda s: s["set"]["symmetry_error"]),
         ("breaks an angle limit", lambda s: s["set"]["poses_violating_any_limit"]),
         ("precision", lambda s: s["comparison"]["precision"]),
         ("recall", lambda s: s["comparison"]["recall"]),
         ("coverage", lambda s: s["comparison"]["coverage"]))


def measure(weights: Path | None, steps: int | None, n: int, seed: int, reference: np.ndarray,
            stats_seed: int | None = None) -> dict:
    runner = Runner.for_task("prior", weights, SamplerOptions(seed=seed, steps=steps))
    generate(runner, 256)  # warm-up: the first chunk pays for loading and bf16 weight copies
    t0 = time.perf_counter()
    poses = generate(runner, n).positions.astype(np.float64)
    seconds = time.perf_counter() - t0
    return {"steps": runner.opts.steps, "seconds": seconds, "stats": setstats.set_stats(poses, reference, seed=seed if stats_seed is None else stats_seed)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=Path, default=Path.home() / ".cache" / "gfpose" / "runs")
    ap.add_argument("--n", type=int, default=20000, help="generated poses per row for the set statistics")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--teacher-steps", default="8,12", help="fewer solver steps to run the teacher with (comma-separated)")
    ap.add_argument("--seed-spread", action="store_true",
                    help="also the teacher with the next seed: how far two draws of the same sampler differ")
    args = ap.parse_args()
    torch.set_num_threads(2)
    t_start = time.perf_counter()
    device = resolve_device("auto")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    students = sorted(args.students.glob("prior-*-step*.pt"), key=lambda p: (int(re.findall(r"\d+", p.name)[0]), p.name))
    students = [p for p in students if not p.name.endswith(".state.pt")]
    print(f"# python bench/distill.py {' '.join(sys.argv[1:])} (commit {commit}; teacher weights/prior.pt "
          f"{file_digest(ROOT / 'weights' / 'prior.pt', 16)}; students "
          f"{', '.join(f'{p.name} {file_digest(p, 16)}' for p in students) or 'none'}; {platform.machine()} CPU, "
          f"2 threads, native bf16: {native_bf16(device)} (the default precision); torch {torch.__version__})\n")
    reference = archive_pose_set().split()[0].poses
    teacher = measure(None, None, args.n, args.seed, reference)
    rows = [("teacher, dpm2m 25 steps (the sampler's default; generate's was 25 until tasks.GENERATE_STEPS)", teacher)]
    if args.seed_spread:
        rows.append((f"teacher, dpm2m 25 steps, seed {args.seed + 1} (the spread of the guard itself)",
                     measure(None, None, args.n, args.seed + 1, reference, stats_seed=args.seed)))
    fewer = {int(k) for k in args.teacher_steps.split(",") if k.strip()}
    for k in sorted({int(re.findall(r"\d+", p.name)[0]) for p in students} | fewer, reverse=True):
        rows.append((f"teacher, dpm2m {k} steps (no distillation)", measure(None, k, args.n, args.seed, reference)))
    for p in students:
        r = measure(p, None, args.n, args.seed, reference)
        rows.append((f"student {p.name}, {r['steps']} steps", r))
    print("| sampler | network evaluations | generate " + f"{args.n:,}" + " (s) | 177,200 poses (s, scaled) | "
          + " | ".join(name for name, _ in STATS) + " | largest change vs teacher | guard (5 %) |")
    print("|---" * (6 + len(STATS)) + "|")
    for name, r in rows:
        cells = [name, str(r["steps"]), f"{r['seconds']:.1f}", f"{r['seconds'] * 177200 / args.n:.0f}"]
        worst = 0.0
        for _, pick in STATS:
            x, y = pick(teacher["stats"]), pick(r["stats"])
            worst = max(worst, abs(y - x) / max(abs(x), 1e-9))
            cells.append(f"{y:.2%}")
        cells += [f"{worst:.1%}", "holds" if worst <= GUARD_SET else "fails"]
        print("| " + " | ".join(cells) + " |")
    print(f"\nSet statistics against the real training split ({args.n:,} poses; the neighbour figures on 20,000 of each, "
          f"k = 5, P-MPJPE), seed {args.seed}; "
          f"'largest change' is the largest relative change of the six figures against the teacher's. "
          f"{time.perf_counter() - t_start:.0f} s.")


if __name__ == "__main__":
    main()

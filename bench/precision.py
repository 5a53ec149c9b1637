"""bf16 against fp32 sampling (issue 25 item 4: a kernel choice kept only if it wins without a loss):
speed of the network and of `generate`, the generated set's statistics (bench/set_stats.py's
figures against the real training split) and lifting accuracy per test body, both precisions with
the same seeds. Prints markdown; commit it as bench/results/precision.md.

    python bench/precision.py [--n 20000] [--frames 300]

The quality guard of issue 25 for a faster default: set statistics within 5 % of fp32's, lift S=1
P1 on every test body within 3 % of fp32's.
"""
from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from accuracy import BODY_FAMILIES, FAMILIES, archive_pose_set, held_out_sets  # noqa: E402

from gfpose_cli.evaluation import metrics, protocols, setstats  # noqa: E402
from gfpose_cli.tasks import Runner, SamplerOptions, generate, native_bf16, resolve_device  # noqa: E402
from gfpose_cli.util.provenance import file_digest  # noqa: E402

GUARD_SET, GUARD_LIFT = 0.05, 0.03


def network_rate(runner: Runner, batch: int = 4096, reps: int = 10) -> float:
    net = runner.model.network
    x, t = torch.randn(batch, 51), torch.rand(batch)
    with torch.inference_mode(), torch.autocast(runner.device.type, dtype=torch.bfloat16, enabled=runner.bf16):
        net(x, t)
        t0 = time.perf_counter()
        for _ in range(reps):
            net(x, t)
    return batch * reps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="generated poses per precision for the set statistics")
    ap.add_argument("--frames", type=int, default=300, help="held-out frames per body for the lift rows")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(2)
    t_start = time.perf_counter()
    device = resolve_device("auto")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    print(f"# python bench/precision.py --n {args.n} --frames {args.frames} (commit {commit}; weights prior "
          f"{file_digest(ROOT / 'weights' / 'prior.pt', 16)}, lift {file_digest(ROOT / 'weights' / 'lift.pt', 16)}; "
          f"{platform.machine()} CPU, 2 threads, native bf16: {native_bf16(device)}; torch {torch.__version__})\n")
    reference = archive_pose_set(bodies=True).split()[0].poses
    sets = held_out_sets(args.frames, args.seed, None, bodies=True)
    results = {}
    for precision in ("fp32", "bf16"):
        opts = SamplerOptions(seed=args.seed, precision=precision)
        prior = Runner.for_task("prior", None, opts)
        rate = network_rate(prior)
        t0 = time.perf_counter()
        poses = generate(prior, args.n).positions.astype(np.float64)
        gen_s = time.perf_counter() - t0
        stats = setstats.set_stats(poses, reference, seed=args.seed)
        lifter = Runner.for_task("lift", None, opts)
        lift = {}
        for fam in FAMILIES + BODY_FAMILIES:  # the inputs of accuracy.py's "lift GT 2D, S=1, P1" rows
            cam3d, kp = protocols.camera_views(sets[fam], args.seed)
            one = protocols._lift({"lift": lifter}, kp, None, 1)[:, 0]
            lift[fam] = metrics.mpjpe(one, cam3d) * 1000.0
        results[precision] = {"rate": rate, "gen_s": gen_s, "stats": stats, "lift": lift}
    a, b = results["fp32"], results["bf16"]
    print("| | fp32 | bf16 | bf16 / fp32 |")
    print("|---|---|---|---|")
    print(f"| network evaluations per second (batch 4096) | {a['rate']:,.0f} | {b['rate']:,.0f} | {b['rate'] / a['rate']:.2f} |")
    print(f"| generate {args.n:,} poses, dpm2m-25 (s) | {a['gen_s']:.1f} | {b['gen_s']:.1f} | {b['gen_s'] / a['gen_s']:.2f} |")
    worst = 0.0
    for key, label, pick in (("bone_length_cv", "bone-length CV", lambda s: s["set"]["bone_length_cv"]),
                             ("symmetry", "left/right asymmetry", lambda s: s["set"]["symmetry_error"]),
                             ("limits", "breaks an angle limit", lambda s: s["set"]["poses_violating_any_limit"]),
                             ("precision", "precision", lambda s: s["comparison"]["precision"]),
                             ("recall", "recall", lambda s: s["comparison"]["recall"]),
                             ("coverage", "coverage", lambda s: s["comparison"]["coverage"])):
        x, y = pick(a["stats"]), pick(b["stats"])
        change = abs(y - x) / max(abs(x), 1e-9)
        worst = max(worst, change)
        print(f"| set: {label} | {x:.2%} | {y:.2%} | {y / max(x, 1e-9):.3f} |")
    lift_worst = 0.0
    for fam in FAMILIES + BODY_FAMILIES:
        x, y = a["lift"][fam], b["lift"][fam]
        lift_worst = max(lift_worst, abs(y - x) / x)
        print(f"| lift GT 2D, S=1, P1 ({fam}, mm) | {x:.1f} | {y:.1f} | {y / x:.3f} |")
    print(f"\nGuard: set statistics within {GUARD_SET:.0%} of fp32's: largest change {worst:.1%} -> "
          f"{'holds' if worst <= GUARD_SET else 'FAILS'}; lift P1 within {GUARD_LIFT:.0%} on every body: largest "
          f"change {lift_worst:.1%} -> {'holds' if lift_worst <= GUARD_LIFT else 'FAILS'}. "
          f"{time.perf_counter() - t_start:.0f} s.")


if __name__ == "__main__":
    main()

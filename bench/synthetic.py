"""The paper's Table 8 protocol on our data: is a lifter trained on generated poses as good as one
trained on real poses? Prints a markdown table (commit it as bench/results/synthetic.md).

    python bench/synthetic.py --synthetic synth/ [--sizes 10000,50000,177200] [--steps 8000]

--synthetic is a dataset from `gfpose generate --n 177200 --cameras 4 -o synth/ --format folder`
(made with the shipped prior if left out: about 8 minutes on 2 CPU cores). The real set is the
training split of ../shared/data (held-out subjects excluded), given K views by the same camera
code with the same ranges, so the only difference between the two lifters is where the 3D poses
came from. Both are tested on the held-out CMU subjects and HDM05 actor `mm` (fixed frames and
cameras, as bench/accuracy.py).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import archive_pose_set, camera_views, held_out_sets  # noqa: E402
from lifter import lift_mpjpe, train_lifter, training_pairs  # noqa: E402

from gfpose_cli.kinematics import cameras  # noqa: E402
from gfpose_cli.training.synthetic import SyntheticPoses, dataset_arrays  # noqa: E402


def real_training_poses() -> np.ndarray:
    return archive_pose_set().split()[0].poses


def synthetic_set(path: Path | None, n: int, seed: int) -> dict[str, np.ndarray]:
    if path is None:
        from gfpose_cli import tasks

        opts = tasks.SamplerOptions(seed=seed)
        take = tasks.generate(tasks.Runner.for_task("prior", None, opts), n)
        return dataset_arrays(take.positions, cameras.random_cameras(n, 4, seed))
    arrays = SyntheticPoses(path).arrays()
    if "poses_2d" not in arrays:
        raise SystemExit(f"{path}: no camera views; generate it with --cameras K")
    return arrays


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--synthetic", type=Path, default=None)
    ap.add_argument("--sizes", default="10000,50000,177200")
    ap.add_argument("--steps", type=int, default=8000)
    ap.add_argument("--views", type=int, default=4, help="camera views per real pose (as the synthetic set)")
    ap.add_argument("--test-frames", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",")]
    t_start = time.perf_counter()
    real = real_training_poses()
    real = real[np.random.default_rng(args.seed).permutation(len(real))]
    real_arrays = dataset_arrays(real, cameras.random_cameras(len(real), args.views, args.seed + 1))
    synth = synthetic_set(args.synthetic, max(sizes), args.seed)
    tests = {fam: camera_views(poses, args.seed) for fam, poses in held_out_sets(args.test_frames, args.seed).items()}

    rows = []
    for n in sizes:
        result = {}
        for name, arrays in (("real", real_arrays), ("synthetic", synth)):
            m = min(n, len(arrays["poses"]))
            kp, target = training_pairs(arrays["poses"][:m], arrays["cam_R"][:m], arrays["poses_2d"][:m])
            print(f"N={n}: {name} lifter on {m} poses, {len(kp)} views", file=sys.stderr, flush=True)
            model = train_lifter(kp, target, steps=args.steps, seed=args.seed, log=True)
            errs = {fam: lift_mpjpe(model, kp2d, cam3d) for fam, (cam3d, kp2d) in tests.items()}
            result[name] = (m, errs)
        rows.append((n, result))

    fams = list(tests)
    print(f"Lifter trained on N generated vs N real poses ({args.views} camera views each, {args.steps} steps, "
          f"batch 256, seed {args.seed}); held-out P1 in mm on {args.test_frames} frames per family.\n")
    print("| N | real poses used | real-only P1 " + " | ".join(fams) + " | synthetic-only P1 " + " | ".join(fams)
          + " | ratio synthetic / real (mean) |")
    print("|---" * (3 + 2 * len(fams)) + "|")
    for n, result in rows:
        (m_r, e_r), (_, e_s) = result["real"], result["synthetic"]
        mean_r, mean_s = np.mean(list(e_r.values())), np.mean(list(e_s.values()))
        print(f"| {n:,} | {m_r:,} | " + " | ".join(f"{e_r[f]:.1f}" for f in fams) + " | "
              + " | ".join(f"{e_s[f]:.1f}" for f in fams) + f" | {mean_s / mean_r:.3f} |")
    print(f"\n{time.perf_counter() - t_start:.0f} s, torch threads {args.threads}, CPU")


if __name__ == "__main__":
    main()

"""Per-frame denoising when every joint is noisy, the pelvis too, and when the pelvis is exact.

`gfpose denoise` on unrelated poses (or `--per-frame`) runs the prior from the noisy poses relative to
an origin. The paper's protocol (bench/accuracy.py's denoise rows) keeps the pelvis exact; a real pose
estimator's or an unsmoothed take's pelvis is as noisy as any joint. This measures both, per held-out
body (bench/accuracy.py's frames), Gaussian noise per coordinate, the shipped denoiser with and without
one performer's bone lengths: P1 (root-relative, each pose's own pelvis) and P2 before and after.
Prints markdown; commit it as bench/results/denoise-root.md.

    python bench/denoise_root.py [--frames 300]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from accuracy import held_out_sets  # noqa: E402
from speed import header  # noqa: E402

from gfpose_cli import tasks  # noqa: E402
from gfpose_cli.core.take import Take  # noqa: E402
from gfpose_cli.evaluation import metrics  # noqa: E402
from gfpose_cli.evaluation.protocols import _t0  # noqa: E402

SIGMAS_MM = (13.0, 27.0)  # per coordinate: P2 before about 19 and 40 mm


def p1(pred: np.ndarray, gt: np.ndarray) -> float:
    return float(np.linalg.norm((pred - pred[:, :1]) - (gt - gt[:, :1]), axis=-1).mean() * 1000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    runner = tasks.prior_runner(None, tasks.SamplerOptions(seed=args.seed), bones=True)  # what `gfpose denoise` runs
    print(header(sys.argv[1:], runner, "bench/denoise_root.py"))
    print("| body | pelvis | noise (mm per coordinate) | lengths | P1 before | P1 after | P2 before | P2 after |")
    print("|---|---|---|---|---|---|---|---|")
    totals: dict[tuple[str, str], list[tuple[float, ...]]] = {}
    for body, poses in held_out_sets(args.frames, args.seed, None, bodies=True).items():
        gt = np.asarray(poses, dtype=np.float64)
        for pelvis in ("noisy", "exact"):
            for sigma in SIGMAS_MM:
                noisy = gt + np.random.default_rng([args.seed, int(sigma)]).normal(0, sigma / 1000, gt.shape)
                if pelvis == "exact":
                    noisy[:, 0] = gt[:, 0]
                for one, said in ((False, "no"), (True, "one performer's")):
                    out = tasks.denoise(runner, Take(positions=noisy.astype(np.float32)), t0=_t0(runner, sigma / 1000),
                                        temporal=False, one_performer=one).positions.astype(np.float64)
                    row = (p1(noisy, gt), p1(out, gt), metrics.mpjpe(noisy, gt, "procrustes") * 1000,
                           metrics.mpjpe(out, gt, "procrustes") * 1000)
                    totals.setdefault((pelvis, said), []).append(row)
                    print(f"| {body} | {pelvis} | {sigma:g} | {said} | " + " | ".join(f"{v:.1f}" for v in row) + " |",
                          flush=True)
    for (pelvis, said), rows in totals.items():
        mean = np.mean(rows, axis=0)
        print(f"| **mean** | {pelvis} | both | {said} | " + " | ".join(f"{v:.1f}" for v in mean) + " |")


if __name__ == "__main__":
    main()

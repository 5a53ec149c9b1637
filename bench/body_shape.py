"""Issue 26, item 2: ideas that separate body shape from pose, measured on the unseen test bodies.

Each idea is a fine-tune of the shipped lifter (weights/lift.pt, stage 7: all four archives, one
body per family held out) with the same data, steps, learning rate and seed, so the rows differ only
in the idea; a control row fine-tunes with no idea at all (what the extra steps alone give). Then
lift S=1 P1 (ground-truth 2D, one still camera per frame, bench/accuracy.py's frames and cameras)
on every test body. Runs are resumable: their state lives in STATE_DIR, and running the script again
continues them. Prints markdown; commit it as bench/results/body-shape.md.

    python bench/body_shape.py [--steps 1500] [--frames 500] [--state ~/.cache/gfpose/runs/body-shape]

Ideas: random bone lengths in rotation space (problem.random_bone_scale), each bone alone (the
existing --bone-scale) and with correlated proportions (--bone-corr: a long thigh comes with a long
shank). The kept idea must not cost the training body (the CMU held-out subjects) more than 5 %.
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

from accuracy import ARCHIVES, BODY_ARCHIVES, BODY_FAMILIES, FAMILIES, SHARED, held_out_sets  # noqa: E402

from gfpose_cli.evaluation import metrics, protocols  # noqa: E402
from gfpose_cli.tasks import Runner, SamplerOptions  # noqa: E402
from gfpose_cli.training import session  # noqa: E402
from gfpose_cli.training.trainer import TrainConfig  # noqa: E402
from gfpose_cli.util.provenance import file_digest  # noqa: E402

#: run name -> (row label, bone_scale, bone_corr)
IDEAS = {"control": ("control (fine-tune, no idea)", 0.0, 0.0),
         "bones-5": ("bone lengths, each bone alone (5 %)", 0.05, 0.0),
         "bones-5-corr": ("bone lengths, correlated proportions (5 %, rho 0.7)", 0.05, 0.7)}


def fine_tune(run: str, scale: float, corr: float, poses: session.TrainingData, steps: int, state: Path) -> Path:
    out, ship = state / f"{run}.state.pt", state / f"{run}.pt"
    cfg = TrainConfig(task="lift", steps=steps, batch_size=1000, lr=1e-4, lr_schedule="cosine", warmup=100, ema=0.999,
                      mirror=True, bone_scale=scale, bone_corr=corr, seed=0, checkpoint_every_s=300.0,
                      extra={"balance": 0.5, "bench": "body_shape"})
    resume = out if out.exists() else None
    trainer = session.build_trainer(cfg, poses, torch.device("cpu"), init_from=None if resume else ROOT / "weights" / "lift.pt",
                                    resume=resume)
    if trainer.step < steps:
        print(f"  {run}: training from step {trainer.step} to {steps}", file=sys.stderr, flush=True)
        trainer.run(out, ship)
    return ship


def lift_p1(weights: Path, sets: dict[str, np.ndarray], seed: int) -> dict[str, float]:
    lifter = Runner.for_task("lift", weights, SamplerOptions(seed=seed))
    out = {}
    for fam, poses in sets.items():
        cam3d, kp = protocols.camera_views(poses, seed)
        one = protocols._lift({"lift": lifter}, kp, None, 1)[:, 0]
        out[fam] = metrics.mpjpe(one, cam3d) * 1000.0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--frames", type=int, default=500, help="held-out frames per test body")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--state", type=Path, default=Path.home() / ".cache" / "gfpose" / "runs" / "body-shape")
    args = ap.parse_args()
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    args.state.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    poses = session.training_data([SHARED / n for n in ARCHIVES + BODY_ARCHIVES])
    sets = held_out_sets(args.frames, args.seed, None, bodies=True)
    rows = {"shipped lifter (stage 7, no fine-tune)": lift_p1(ROOT / "weights" / "lift.pt", sets, args.seed)}
    for run, (name, scale, corr) in IDEAS.items():
        ship = fine_tune(run, scale, corr, poses, args.steps, args.state)
        rows[name] = lift_p1(ship, sets, args.seed)
    fams = FAMILIES + BODY_FAMILIES
    unseen = [f for f in fams if f != "cmu"]
    print(f"# python bench/body_shape.py --steps {args.steps} --frames {args.frames} (commit {commit}; from weights/lift.pt "
          f"{file_digest(ROOT / 'weights' / 'lift.pt', 12)}; {platform.machine()} CPU, 2 threads)\n")
    print("Lift GT 2D, S=1, P1 (mm) per test body; `cmu` is the training body (held-out CMU subjects on the one "
          "retargeted CMU skeleton), the others are bodies the model never saw. Each idea fine-tunes the shipped lifter "
          f"for {args.steps} steps (lr 1e-4 cosine, batch 1000, mirror, seed 0) on the data it was trained on.\n")
    print("| idea | " + " | ".join(fams) + " | worst unseen | mean unseen | training body vs control |")
    print("|---" * (len(fams) + 4) + "|")
    control = rows[IDEAS["control"][0]]["cmu"]
    for name, r in rows.items():
        vals = [r[f] for f in fams]
        worst, mean = max(r[f] for f in unseen), float(np.mean([r[f] for f in unseen]))
        print(f"| {name} | " + " | ".join(f"{v:.1f}" for v in vals) + f" | {worst:.1f} | {mean:.1f} | "
              f"{(r['cmu'] / control - 1) * 100:+.1f} % |")
    print(f"\n{time.perf_counter() - t0:.0f} s on CPU.")


if __name__ == "__main__":
    main()

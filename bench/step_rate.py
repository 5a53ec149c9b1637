"""Seconds per training step of the slowest of several calibration runs, from their checkpoints.

    python bench/step_rate.py CKPT... [--wall SECONDS --steps N] [--budget SECONDS]

Read from each checkpoint's history (first to last checkpoint, so start-up is excluded). Where a
run saved too few checkpoints to tell (under 50 steps apart), WALL / STEPS stands in: the whole
calibration round's wall time over its steps, an overestimate that keeps a schedule on time.
With --budget it also prints the step count that fits 97 % of that many seconds, which
bench/train_weights.sh and bench/gpu_session.sh pass as --steps so each cosine schedule ends on time.
"""
from __future__ import annotations

import argparse

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--wall", type=float, default=None, help="wall time of the whole calibration round (s)")
    ap.add_argument("--steps", type=int, default=None, help="steps of the calibration round")
    ap.add_argument("--budget", type=float, default=None, help="seconds of training to size --steps for")
    args = ap.parse_args()
    rates = []
    for path in args.checkpoints:
        h = torch.load(path, weights_only=True)["history"]
        steps = h[-1]["step"] - h[0]["step"]
        if steps >= 50 or args.wall is None or not args.steps:
            rates.append((h[-1]["time"] - h[0]["time"]) / max(steps, 1))
        else:
            rates.append(args.wall / args.steps)
    per_step = max(rates)
    print(per_step if args.budget is None else f"{per_step} {int(0.97 * args.budget / per_step)}")


if __name__ == "__main__":
    main()

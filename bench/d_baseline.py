"""An honest deterministic baseline for "P vs D" (issue 26 item 3): bench/lifter.py's regressor
trained on the same poses as the shipped lifter until its validation error stops improving, its
learning curve logged, then scored per body on the held-out views the P rows of
bench/results/accuracy-bodies.md were measured on (same frames, cameras and seed). Prints markdown;
commit it as bench/results/d-baseline.md.

    python bench/d_baseline.py [--max-steps 200000] [--every 5000] [--patience 4]

Data: the four archives the stage-7 lifter trained on (cmu-bvh, hdm05-amc, multibody,
multibody2), training split only (data.HELD_OUT bodies left out), 4 random virtual cameras per
pose as bench/accuracy.py's P vs D uses; 2 % of those poses are set aside for validation (they are
training bodies: the test bodies are never looked at until the end). Adam 1e-3, batch 256, the
learning rate halved whenever validation stalls for one check; stop after `--patience` checks
without a 0.3 % improvement; the best checkpoint is kept.

Resumable: state lives in ~/.cache/gfpose/runs/d-baseline/ (written at every check); running the
same command again continues where it stopped.
"""
from __future__ import annotations

import argparse
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

from accuracy import BODY_FAMILIES, FAMILIES, archive_pose_set, held_out_sets  # noqa: E402
from lifter import Lifter, lift_mpjpe, training_pairs  # noqa: E402

from gfpose_cli.evaluation import protocols  # noqa: E402
from gfpose_cli.kinematics import cameras  # noqa: E402
from gfpose_cli.training.data import cache_dir  # noqa: E402
from gfpose_cli.training.synthetic import dataset_arrays  # noqa: E402

STATE = cache_dir().parent / "runs" / "d-baseline" / "state.pt"


def p_rows(path: Path) -> dict[str, float]:
    """A lifter's S=1 P1 per family from a bench/accuracy.py --bodies table (same inputs)."""
    text = path.read_text()
    return {m.group(1): float(m.group(2)) for m in
            re.finditer(r"\| lift GT 2D, S=1, P1 \((\w+)\) \| mm \| [^|]* \| [^|]* \| ([\d.]+) \|", text)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-steps", type=int, default=200_000)
    ap.add_argument("--every", type=int, default=5000, help="steps between validation checks")
    ap.add_argument("--patience", type=int, default=4, help="checks without a 0.3 %% gain before stopping")
    ap.add_argument("--frames", type=int, default=300, help="held-out frames per family (as accuracy-bodies.md)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--p-from", type=Path, default=ROOT / "bench" / "results" / "accuracy-bodies.md",
                    help="the bench/accuracy.py --bodies table (same --frames and seed) the P column is read from")
    args = ap.parse_args()
    torch.set_num_threads(2)
    t_start = time.perf_counter()

    real = archive_pose_set(bodies=True).split()[0].poses
    rng = np.random.default_rng(args.seed)
    val_idx = rng.choice(len(real), max(1000, len(real) // 50), replace=False)
    train_mask = np.ones(len(real), dtype=bool)
    train_mask[val_idx] = False
    arrays = dataset_arrays(real[train_mask], cameras.random_cameras(int(train_mask.sum()), 4, args.seed + 1))
    kp, target = training_pairs(arrays["poses"], arrays["cam_R"], arrays["poses_2d"])
    val = dataset_arrays(real[val_idx], cameras.random_cameras(len(val_idx), 1, args.seed + 2))
    vkp, vtarget = training_pairs(val["poses"], val["cam_R"], val["poses_2d"])

    torch.manual_seed(args.seed)
    model = Lifter()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(args.seed)
    curve: list[tuple[int, float, float, float]] = []  # step, lr, train loss (mm), validation MPJPE (mm)
    best, best_state, stalls, step = float("inf"), None, 0, 0
    if STATE.exists():
        saved = torch.load(STATE, weights_only=False)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        g.set_state(saved["generator"])
        curve, best, best_state, stalls, step = saved["curve"], saved["best"], saved["best_state"], saved["stalls"], saved["step"]
        print(f"resumed at step {step} (best validation {best:.2f} mm)", file=sys.stderr)
    running = []
    while step < args.max_steps and stalls < args.patience:
        model.train()
        idx = torch.randint(0, len(kp), (256,), generator=g)
        loss = (model(kp[idx]) - target[idx]).norm(dim=-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running.append(loss.item())
        step += 1
        if step % args.every == 0:
            model.eval()
            v = lift_mpjpe(model, vkp.numpy(), vtarget.numpy())
            lr = opt.param_groups[0]["lr"]
            curve.append((step, lr, float(np.mean(running)) * 1000, v))
            running = []
            if v < best * (1 - 0.003):
                best, best_state, stalls = v, {k: t.clone() for k, t in model.state_dict().items()}, 0
            else:
                stalls += 1
                for group in opt.param_groups:  # a stall: halve the step size
                    group["lr"] = lr / 2
            print(f"step {step}: train {curve[-1][2]:.1f} mm, validation {v:.2f} mm (best {best:.2f}), lr {lr:.2e}",
                  file=sys.stderr, flush=True)
            STATE.parent.mkdir(parents=True, exist_ok=True)
            tmp = STATE.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "generator": g.get_state(), "curve": curve,
                        "best": best, "best_state": best_state, "stalls": stalls, "step": step}, tmp)
            tmp.replace(STATE)
    model.load_state_dict(best_state)
    model.eval()

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    print(f"# python bench/d_baseline.py --max-steps {args.max_steps} --every {args.every} --patience {args.patience} "
          f"(commit {commit}; 2-core CPU; {time.perf_counter() - t_start:.0f} s this run)\n")
    print(f"Deterministic lifter (bench/lifter.py: residual MLP, width 512, 2 blocks), trained on {len(kp):,} views of "
          f"{int(train_mask.sum()):,} training poses (four archives, 4 cameras each); validation on {len(val_idx):,} "
          f"other training poses. Stopped at step {step} "
          f"({'validation stalled' if stalls >= args.patience else 'the step limit'}); best validation {best:.2f} mm.\n")
    print("| step | learning rate | train loss (mm) | validation MPJPE (mm) |")
    print("|---|---|---|---|")
    for s, lr, tr, v in curve:
        print(f"| {s} | {lr:.2e} | {tr:.1f} | {v:.2f} |")
    sets = held_out_sets(args.frames, args.seed, None, bodies=True)
    p = p_rows(args.p_from)
    print(f"\nP vs D per body: held-out frames ({args.frames} per family, seed {args.seed}) seen by the virtual "
          f"cameras of bench/accuracy.py (the P figures: S=1, from {args.p_from.name}, whose header names "
          "the weights; same inputs).\n")
    print("| body | P: gfpose S=1 P1 (mm) | D: converged deterministic P1 (mm) | P / D | P beats D |")
    print("|---|---|---|---|---|")
    for fam in FAMILIES + BODY_FAMILIES:
        cam3d, kp2d = protocols.camera_views(sets[fam] - sets[fam][:, :1], args.seed)
        d = lift_mpjpe(model, kp2d, cam3d)
        pv = p.get(fam)
        ratio = f"{pv / d:.3f}" if pv else "-"
        print(f"| {fam} | {pv if pv else '-'} | {d:.1f} | {ratio} | {'yes' if pv and pv < d else '**no**'} |")


if __name__ == "__main__":
    main()

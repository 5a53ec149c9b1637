"""The take refiner at frame rates no whole stride of its 30 Hz windows fits: lifting video at 15 Hz.

The held-out takes of bench/takes.py's lifting section (the training body's held-out CMU subjects and
the unseen bodies), at 30 Hz and every 2nd frame of them (15 Hz), seen by its three still cameras with
exact 2D. Rows: the take lift without the refiner (what a 15 Hz take got before: its windows fit no
whole stride), and with it, its windows sampled between frames (model.refiner.refine with a
fractional stride). P1, P2 (mm), jitter against the truth's own; means over takes and cameras.

    python bench/lift_rates.py > bench/results/lift-rates.md
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from speed import header  # noqa: E402  (bench/, beside this script)
from takes import LIFT_CAMERAS, lift_takes, scores  # noqa: E402

from gfpose_cli import tasks  # noqa: E402
from gfpose_cli.core.take import Take  # noqa: E402
from gfpose_cli.evaluation import metrics  # noqa: E402
from gfpose_cli.kinematics.cameras import still_camera_view  # noqa: E402

RATES = ((15.0, 2),)  # (Hz, every n-th frame of the 30 Hz takes)


def main() -> None:
    t0 = time.perf_counter()
    lifter = tasks.Runner.for_task("lift", None, tasks.SamplerOptions(seed=0))
    refiner = tasks.take_refiner(lifter)
    bodies = lift_takes()
    print(header(sys.argv[1:], lifter, script="bench/lift_rates.py"))
    print(f"Refiner {refiner.path.name} (trained at {refiner.fps:g} Hz); exact 2D; cameras (yaw, elevation, distance): "
          + ", ".join(f"{y:g} deg, {e:g} deg, {d:g} m" for y, e, d in LIFT_CAMERAS) + ".\n")
    print("| rate | body | method | P1 (mm) | P2 (mm) | jitter / truth |")
    print("|---|---|---|---|---|---|")
    for hz, every in RATES:
        for body, takes in bodies.items():
            rows: dict[str, list[dict]] = {}
            for pos in takes.values():
                for yaw, el, dist in LIFT_CAMERAS:
                    uv, gt = still_camera_view(pos, yaw, el, dist)
                    uv, gt = uv[::every], gt[::every]
                    kp = Take(positions=uv.astype(np.float32), fps=hz)
                    truth = metrics.jitter(gt, hz)
                    for name, refine in (("take lift, not refined (before)", False),
                                         ("take lift, refined between frames (now)", True)):
                        out = tasks.lift_take(lifter, kp, refine=refine)
                        assert out.report.refined == refine
                        s = scores(out.positions[:, 0], gt, hz)
                        rows.setdefault(name, []).append({**s, "jit": s["jitter"] / truth})
            for name, rs in rows.items():
                print(f"| {hz:g} Hz | {body} | {name} | {np.mean([r['P1'] for r in rs]):.1f} | "
                      f"{np.mean([r['P2'] for r in rs]):.1f} | {np.mean([r['jit'] for r in rs]):.2f} |", flush=True)
    print(f"\n{time.perf_counter() - t0:.0f} s on {lifter.device}.")


if __name__ == "__main__":
    main()

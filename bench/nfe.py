"""Which sampler setting is cheap enough and still as accurate as the paper's PC-1000? Runs the
§6 rows of bench/accuracy.py for each setting on the same held-out frames, cameras and seeds
and prints them side by side with the change against the reference (commit as bench/results/nfe.md).

    python bench/nfe.py [--frames 100] [--settings pc:1000,dpm2m:10,dpm2m:15,dpm2m:20,dpm2m:25,dpm2m:50]

A setting is SAMPLER:STEPS or SAMPLER:STEPS:TEMPERATURE (scale of the starting noise; default: the
task's, tasks.DEFAULT_TEMPERATURE, and 1 for pc).

The first setting is the reference, unless --reference names an earlier output of this script whose first
column (e.g. PC-1000 timed on a GPU, where it costs seconds instead of an hour) is used instead; the
frames, cameras and seeds are the same, only the samplers' noise differs by device. Rows marked * are more than 3 % worse than it (lower is better
for every row except the held-out-data reference rows, which do not depend on the sampler).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import held_out_sets, measure  # noqa: E402

from gfpose_cli.model.sampling import REGISTRY, SAMPLERS  # noqa: E402
from gfpose_cli.tasks import SamplerOptions  # noqa: E402



def reference_column(path: Path) -> tuple[str, dict[str, float]]:
    """The first value column of the first table in an earlier nfe.py output: (heading, row -> value)."""
    head, values = "", {}
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| row |"):
            if head:
                break
            head = cells[2]
        elif head and line.startswith("| ") and len(cells) > 2 and cells[1] in ("mm", "%", "m"):
            values[cells[0]] = float(cells[2].split()[0])
    if not values:
        raise SystemExit(f"{path}: no nfe.py table found")
    return head, values


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--hypotheses", type=int, default=10)
    ap.add_argument("--generate", type=int, default=500, help="poses generated for the generate rows")
    ap.add_argument("--settings", default="pc:1000,dpm2m:10,dpm2m:15,dpm2m:20,dpm2m:25,dpm2m:50")
    ap.add_argument("--weights-dir", type=Path, default=Path(__file__).resolve().parent.parent / "weights")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pose-set", type=Path, default=None, help="read the archives' poses from this save_pose_set file")
    ap.add_argument("--reference", type=Path, default=None,
                    help="take the reference column from this earlier nfe.py output (same --frames, --hypotheses, --seed)")
    args = ap.parse_args()
    settings = [(f[0], int(f[1]), float(f[2]) if len(f) > 2 else None)
                for f in (s.split(":") for s in args.settings.split(","))]
    if any(name not in SAMPLERS for name, _, _ in settings):
        raise SystemExit(f"samplers are {', '.join(SAMPLERS)}")
    sets = held_out_sets(args.frames, args.seed, args.pose_set)
    results, seconds = [], []
    for name, steps, temperature in settings:
        t0 = time.perf_counter()
        opts = SamplerOptions(sampler=name, steps=steps, batch_size=8192, seed=args.seed, temperature=temperature)
        results.append(measure(args.weights_dir, opts, sets, args.hypotheses, args.seed, args.generate))
        seconds.append(time.perf_counter() - t0)
        print(f"{name}-{steps} T={temperature}: {seconds[-1]:.0f} s", file=sys.stderr, flush=True)
    heads = [f"{n}-{s}{'' if t is None else f' T={t:g}'} ({s * REGISTRY[n].nfe_per_step} NFE)" for n, s, t in settings]
    if args.reference is not None:
        head, values = reference_column(args.reference)
        missing = [row for row, _, _ in results[0] if row not in values]
        if missing:
            raise SystemExit(f"{args.reference}: has no row {missing[0]!r}")
        results.insert(0, [(row, unit, values[row]) for row, unit, _ in results[0]])
        heads.insert(0, f"{head} from {args.reference.name}")
        settings.insert(0, ("reference", 0, None))
        seconds.insert(0, float("nan"))
    print(f"{args.frames} held-out frames per family, S={args.hypotheses}, {args.generate} generated poses, "
          f"seed {args.seed}; change against "
          f"{heads[0]} in brackets, * = more than 3 % worse.\n")
    print("| row | unit | " + " | ".join(heads) + " |")
    print("|---|---|" + "---|" * len(heads))
    worst = [0.0] * len(settings)
    for i, (row, unit, ref) in enumerate(results[0]):
        cells = [f"{ref:.1f}" if unit != "m" else f"{ref:.3f}"]
        sampler_free = "held-out data" in row or "P2 before" in row
        for k, res in enumerate(results[1:], start=1):
            value = res[i][2]
            change = (value - ref) / abs(ref) if ref else 0.0
            if not sampler_free and "height" not in row:
                worst[k] = max(worst[k], change)
            mark = "*" if change > 0.03 and not sampler_free and "height" not in row else ""
            cells.append(f"{value:.1f} ({change:+.1%}){mark}" if unit != "m" else f"{value:.3f}")
        print(f"| {row} | {unit} | " + " | ".join(cells) + " |")
    print("| worst change | | | " + " | ".join(f"{w:+.1%}" for w in worst[1:]) + " |")
    print("| wall time (s) | | " + " | ".join("-" if s != s else f"{s:.0f}" for s in seconds) + " |")


if __name__ == "__main__":
    main()

"""Sampler throughput and end-to-end timings; prints a markdown table (DESIGN.md §7).

    python bench/speed.py [--device auto] [--full]

Rows: for each sampler and step count, poses/s and network evaluations (NFE) per second
against the device's peak (one batched forward pass at the same batch size, timed alone),
and peak memory. --full adds the wall time of `generate --n 177200` and of denoising a
10,000-frame take through the public task functions (what the CLI runs).
"""
from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gfpose_cli import tasks  # noqa: E402
from gfpose_cli.core.take import Take  # noqa: E402
from gfpose_cli.model.sampling import REGISTRY  # noqa: E402



def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_peak(runner: tasks.Runner, batch: int, repeats: int = 20) -> float:
    """Network evaluations per second of one batched forward pass (the ceiling for any sampler)."""
    net, dev = runner.model.network, runner.device
    x = torch.randn(batch, 51, device=dev)
    t = torch.full((batch,), 0.5, device=dev)
    with torch.inference_mode():
        net(x, t)
        sync(dev)
        start = time.perf_counter()
        for _ in range(repeats):
            net(x, t)
        sync(dev)
    return batch * repeats / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch-size", type=int, default=4096)
    ap.add_argument("--full", action="store_true", help="also time generate --n 177200 and a 10,000-frame denoise")
    args = ap.parse_args()
    runner = tasks.Runner.for_task("prior", None, tasks.SamplerOptions(device=args.device, batch_size=args.batch_size))
    dev = runner.device
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
    peak = forward_peak(runner, args.batch_size)
    print(f"device: {name}; torch {torch.__version__}; batch {args.batch_size}; "
          f"peak {peak:,.0f} NFE/s (one batched forward pass)\n")
    print("| sampler | steps | NFE/pose | poses/s | NFE/s | % of peak | peak memory (MB) |")
    print("|---|---|---|---|---|---|---|")
    settings = [("dpm2m", s) for s in (10, 15, 20, 25, 50)] + [("ode-euler", 100), ("pc", 200), ("pc", 1000)]
    for sampler, steps in settings:
        nfe = steps * REGISTRY[sampler].nfe_per_step
        n = max(256, min(args.batch_size, int(2_000_000 / nfe)))
        runner.opts = tasks.SamplerOptions(sampler=sampler, steps=steps, device=args.device, batch_size=args.batch_size)
        sync(dev)
        start = time.perf_counter()
        tasks.generate(runner, n)
        sync(dev)
        rate = n / (time.perf_counter() - start)
        print(f"| {sampler} | {steps} | {nfe} | {rate:,.0f} | {rate * nfe:,.0f} | {100 * rate * nfe / peak:.0f} % | "
              f"{peak_memory_mb(dev):,.0f} |")
    if args.full:
        runner.opts = tasks.SamplerOptions(device=args.device, batch_size=args.batch_size)
        start = time.perf_counter()
        tasks.generate(runner, 177_200)
        gen_s = time.perf_counter() - start
        take = Take(positions=tasks.generate(runner, 10_000).positions + np.float32(0.01))
        start = time.perf_counter()
        tasks.denoise(runner, take, t0=0.1)
        den_s = time.perf_counter() - start
        print(f"\n| end to end (default sampler dpm2m-25) | wall time |\n|---|---|\n"
              f"| generate --n 177200 | {gen_s:.0f} s |\n| denoise a 10,000-frame take | {den_s:.1f} s |")


if __name__ == "__main__":
    main()

"""Issue 25, item 4: does torch.compile pay for the score network on this CPU, in fp32 and in bf16?
Network evaluations per second at the sampler's batch (4096), eager against compiled (inductor),
after warm-up; and the compile time a command would pay once. Prints markdown; commit it as
bench/results/compile.md.

    python bench/compile_cpu.py [--batch 4096] [--reps 20]
"""
from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gfpose_cli.model.checkpoint import load_model  # noqa: E402
from gfpose_cli.tasks import native_bf16  # noqa: E402
from gfpose_cli.util.provenance import file_digest  # noqa: E402


def rate(fn, x: torch.Tensor, t: torch.Tensor, reps: int) -> float:
    fn(x, t)
    t0 = time.perf_counter()
    for _ in range(reps):
        fn(x, t)
    return x.shape[0] * reps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(2)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    net = load_model(ROOT / "weights" / "prior.pt", "prior").network
    x, t = torch.randn(args.batch, 51), torch.rand(args.batch)
    print(f"# python bench/compile_cpu.py --batch {args.batch} --reps {args.reps} (commit {commit}; weights prior.pt "
          f"{file_digest(ROOT / 'weights' / 'prior.pt', 16)}; {platform.machine()} CPU, 2 threads, native bf16: "
          f"{native_bf16(torch.device('cpu'))}; torch {torch.__version__})\n")
    print("| precision | eager (NFE/s) | compiled (NFE/s) | compiled / eager | compile time (s) |")
    print("|---|---|---|---|---|")
    for bf16 in (False, True):
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            eager = rate(net, x, t, args.reps)
            torch._dynamo.reset()
            compiled = torch.compile(net)
            t0 = time.perf_counter()
            compiled(x, t)
            compile_s = time.perf_counter() - t0
            fast = rate(compiled, x, t, args.reps)
        print(f"| {'bf16' if bf16 else 'fp32'} | {eager:,.0f} | {fast:,.0f} | {fast / eager:.2f} | {compile_s:.0f} |", flush=True)


if __name__ == "__main__":
    main()

"""Sampler throughput and end-to-end timings; prints a markdown table (DESIGN.md §7).

    python bench/speed.py [--device auto] [--precision auto|fp32|bf16] [--full] [-o bench/results/speed.md]

Rows: for each sampler and step count, poses/s and network evaluations (NFE) per second
against the device's peak (one batched forward pass at the row's own batch size, timed alone),
the starting-noise temperature the sampler runs at, and the row's own peak memory (each CPU row
runs in a fresh process, since a process's peak resident memory cannot be reset; on CUDA the
peak counter is reset per row). --full adds the wall time of `generate --n 177200` and of
denoising a real 10,000-frame take (held-out CMU takes joined, 20 mm noise) the way the CLI does
(the denoise row is left out, with a note, where ../shared/data is not beside the checkout, as on a
lent GPU machine); --gen-n adds more generate sizes, --compile builds the network with torch.compile
first (its build is timed apart). Every row also gives the network's achieved TFLOP/s (2 x the
multiply-adds of its linear layers per evaluation).
The output starts with the command, the commit, the weights' sha256 and the device.
"""
from __future__ import annotations

import argparse
import copy
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


def header(argv: list[str], runner: tasks.Runner | torch.device, script: str = "bench/speed.py",
           weights_dir: Path | None = None) -> str:
    """Command, commit, weights and device: the first lines of every result this script (and accuracy.py) writes."""
    import subprocess

    from gfpose_cli.util.provenance import file_digest

    root = Path(__file__).resolve().parent.parent
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=root).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True,
                           cwd=root).stdout.strip()
    weights = {t: file_digest(weights_dir / f"{t}.pt" if weights_dir else tasks.shipped_weights(t))[:16]
               for t in ("prior", "lift", "complete3d")}
    folder = weights_dir or tasks.shipped_weights("prior").parent
    for t in ("prior-bones", "lift-bones"):  # the length-reading ones, where the folder ships them
        if (folder / f"{t}.pt").exists():
            weights[t] = file_digest(folder / f"{t}.pt")[:16]
    dev = runner if isinstance(runner, torch.device) else runner.device
    return (f"# python {script} {' '.join(argv)}\n\ncommit {commit or 'unknown'}{' (with uncommitted changes)' if dirty else ''}; "
            f"weights sha256 " + ", ".join(f"{t} {d}" for t, d in weights.items()) + f"; {device_name(dev)}; "
            f"torch {torch.__version__}; {time.strftime('%Y-%m-%d')}\n")


def device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def sampler_row(sampler: str, steps: int, device: str, batch_size: int, precision: str = "auto") -> dict:
    """One throughput row: poses/s, NFE/s, the forward-pass peak at the same batch, temperature, peak memory."""
    nfe = steps * REGISTRY[sampler].nfe_per_step
    n = max(256, min(batch_size, int(2_000_000 / nfe)))
    runner = tasks.Runner.for_task("prior", None, tasks.SamplerOptions(sampler=sampler, steps=steps, device=device,
                                                                        batch_size=batch_size, precision=precision))
    dev = runner.device
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    peak = forward_peak(runner, min(n, batch_size))
    sync(dev)
    start = time.perf_counter()
    tasks.generate(runner, n)
    sync(dev)
    rate = n / (time.perf_counter() - start)
    return {"sampler": sampler, "steps": steps, "nfe": nfe, "batch": min(n, batch_size), "rate": rate, "peak": peak,
            "temperature": runner.temperature, "memory": peak_memory_mb(dev), "precision": "bf16" if runner.bf16 else "fp32"}


def row_in_fresh_process(sampler: str, steps: int, device: str, batch_size: int, precision: str = "auto") -> dict:
    """sampler_row in a child process, so its peak resident memory is its own."""
    import json
    import subprocess

    code = (f"import sys, json; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); import speed; "
            f"print(json.dumps(speed.sampler_row({sampler!r}, {steps}, {device!r}, {batch_size}, {precision!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def noisy_long_take(frames: int = 10_000, noise_m: float = 0.02) -> Take:
    """bench/takes.py's long_cmu_take (held-out CMU takes joined to a frames-long take at 30 Hz), with
    Gaussian noise of noise_m per coordinate."""
    import takes as bench_takes

    pos = bench_takes.long_cmu_take(bench_takes.lift_takes(), frames)
    pos = pos + np.random.default_rng(0).normal(0, noise_m, pos.shape)
    return Take(positions=pos.astype(np.float32), fps=30.0)


def flops_per_eval(net: torch.nn.Module) -> float:
    """Floating-point operations of one network evaluation: 2 x the multiply-adds of its linear layers."""
    return 2.0 * sum(m.weight.numel() for m in net.modules() if isinstance(m, torch.nn.Linear))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_peak(runner: tasks.Runner, batch: int, repeats: int = 20) -> float:
    """Network evaluations per second of one batched forward pass (the ceiling for any sampler)."""
    net, dev = runner.model.network, runner.device
    x = torch.randn(batch, 51, device=dev)
    t = torch.full((batch,), 0.5, device=dev)
    with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=runner.bf16):
        net(x, t)
        sync(dev)
        start = time.perf_counter()
        for _ in range(repeats):
            net(x, t)
        sync(dev)
    return batch * repeats / (time.perf_counter() - start)


def write_rows(runner, n: int, dev) -> dict[str, float]:
    """Wall time of generate plus writing its NPZ the two ways: the whole take written after sampling
    (io.npz.write), and compressed into the file chunk by chunk while the next chunk samples
    (io.npz.PoseStream, what `gfpose generate -o x.npz` does for a job of several chunks)."""
    import tempfile

    from gfpose_cli.io import npz

    times = {}
    with tempfile.TemporaryDirectory() as folder:
        sync(dev)
        start = time.perf_counter()
        npz.write(tasks.generate(runner, n), Path(folder) / "after.npz")
        times["written after sampling"] = time.perf_counter() - start
        sync(dev)
        start = time.perf_counter()
        with npz.PoseStream(Path(folder) / "streamed.npz") as stream:
            stream.finish(tasks.generate(runner, n, sink=stream.put))
        times["streamed while sampling: the CLI"] = time.perf_counter() - start
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="rows per network batch (default: the commands' own for the device, tasks.DEFAULT_BATCH)")
    ap.add_argument("--precision", default="auto", help="the network's arithmetic (tasks.SamplerOptions.precision)")
    ap.add_argument("--full", action="store_true", help="also time generate --n 177200 and a 10,000-frame denoise")
    ap.add_argument("--no-write", dest="write", action="store_false",
                    help="with --full: leave out the rows that also write generate's NPZ (after sampling, and streamed)")
    ap.add_argument("--gen-n", type=int, nargs="*", default=[177_200], help="with --full: generate sizes to time")
    ap.add_argument("--rows", action=argparse.BooleanOptionalAction, default=True,
                    help="the per-sampler rows (--no-rows: only the end-to-end ones of --full)")
    ap.add_argument("--compile-mode", default=None, help="torch.compile mode for --compile (tasks.COMPILE_MODE)")
    ap.add_argument("--compile", action="store_true", help="with --full: torch.compile the network first")
    ap.add_argument("-o", "--output", type=Path, help="also write the table to this file")
    args = ap.parse_args()
    if args.compile_mode:
        tasks.COMPILE_MODE = {k: (None if args.compile_mode == "default" else args.compile_mode) for k in tasks.COMPILE_MODE}
    runner = tasks.Runner.for_task("prior", None, tasks.SamplerOptions(device=args.device, batch_size=args.batch_size,
                                                                        precision=args.precision))
    dev = runner.device
    args.batch_size = runner.opts.batch_size  # the device's default where none was given, as the commands do
    lines = [header(sys.argv[1:], runner),
             "'% of peak' compares with one batched forward pass at the row's own batch, timed alone; 'temperature' is "
             "the starting-noise scale the sampler runs at (tasks.DEFAULT_TEMPERATURE for the ODE samplers, 1 for the "
             "stochastic ones); peak memory is the row's own.\n",
             "| sampler | steps | NFE/pose | batch | precision | temperature | poses/s | NFE/s | TFLOP/s | % of peak | peak memory (MB) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    flops = flops_per_eval(runner.model.network)
    print("\n".join(lines), flush=True)
    settings = [("dpm2m", s) for s in (10, 15, 20, 25, 50)] + [("ode-euler", 100), ("pc", 200), ("pc", 1000)]
    for sampler, steps in settings if args.rows else []:
        row = (sampler_row if dev.type == "cuda" else row_in_fresh_process)(sampler, steps, args.device, args.batch_size,
                                                                             args.precision)
        line = (f"| {sampler} | {steps} | {row['nfe']} | {row['batch']} | {row['precision']} | {row['temperature']:g} | {row['rate']:,.0f} | "
                f"{row['rate'] * row['nfe']:,.0f} | {row['rate'] * row['nfe'] * flops / 1e12:.2f} | {100 * row['rate'] * row['nfe'] / row['peak']:.0f} % | {row['memory']:,.0f} |")
        lines.append(line)
        print(line, flush=True)
    if args.full:
        opts = tasks.SamplerOptions(device=args.device, batch_size=args.batch_size, precision=args.precision,
                                    compile=args.compile)
        start = time.perf_counter()
        runner = tasks.Runner(runner.model, opts)
        build_s = time.perf_counter() - start
        gen = copy.copy(runner)  # generate's own default steps (tasks.GENERATE_STEPS); denoise keeps the sampler's
        gen.opts = tasks.generate_options(runner.opts)
        flops = flops_per_eval(runner.model.network) * gen.opts.steps * REGISTRY[gen.opts.sampler].nfe_per_step

        def emit(line: str) -> None:
            lines.append(line)
            print(line, flush=True)

        built = f", torch.compile ({args.compile_mode or 'default'} mode)" if args.compile else ""
        kind = (f"default sampler {gen.opts.sampler}, {gen.opts.steps} steps for generate and {runner.opts.steps} for "
                f"denoise, {'bf16' if runner.bf16 else 'fp32'}{built}")
        for line in ("", f"| end to end ({kind}; batch {args.batch_size}) | wall time | poses/s | TFLOP/s |", "|---|---|---|---|"):
            emit(line)
        if args.compile:
            emit(f"| torch.compile build (once per process) | {build_s:.1f} s | | |")
        for n in args.gen_n:
            sync(dev)
            start = time.perf_counter()
            tasks.generate(gen, n)
            sync(dev)
            gen_s = time.perf_counter() - start
            emit(f"| generate --n {n} | {gen_s:.2f} s | {n / gen_s:,.0f} | {n * flops / gen_s / 1e12:.1f} |")
            if args.write:  # the CLI's NPZ output: written after sampling, or streamed while it samples
                for how, seconds in write_rows(gen, n, dev).items():
                    emit(f"| generate --n {n} and write the NPZ ({how}) | {seconds:.2f} s | {n / seconds:,.0f} | |")
        try:
            take = noisy_long_take()
        except Exception as exc:  # no ../shared/data beside this checkout (a lent GPU machine)
            emit(f"| denoise a 10,000-frame take | not timed: {str(exc).splitlines()[0][:100]} | | |")
        else:
            start = time.perf_counter()
            out = tasks.denoise(runner, take, t0=None)
            den_s = time.perf_counter() - start
            emit(f"| denoise a 10,000-frame take (held-out CMU, 20 mm noise; the CLI's default path: "
                 f"{'smoothed along the take' if out.report.temporal else 'frame by frame'}) | {den_s:.1f} s | | |")
    if args.output:
        args.output.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

"""The `gfpose` command line: one thin function per subcommand (parse, progress, errors, exit codes).

The work lives in gfpose_cli.tasks / io / model; this module only wires files to it.
Exit codes: 0 success, 1 internal error, 2 bad input (DESIGN.md §9).
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from gfpose_cli.core.errors import GfposeError, InputError
from gfpose_cli.core.take import CompleteReport, DenoiseReport
from gfpose_cli.util.provenance import file_digest

app = typer.Typer(
    name="gfpose",
    help="A learned 3D human pose prior (GFPose) for motion-capture files: lift, complete, denoise, generate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # one line per message, for logs and grep
out = Console(highlight=False, soft_wrap=True)
STATE = {"debug": False, "quiet": False, "force_read": False}
#: click's usage-error base class, whether typer vendors click or uses the package
USAGE_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

# ---------------------------------------------------------------- shared options
Output = Annotated[Path, typer.Option("--output", "-o", help="Output file, or a folder when several inputs are given.")]
Weights = Annotated[Optional[Path], typer.Option(help="Checkpoint to use (default: the shipped weights).")]
Device = Annotated[str, typer.Option(help="auto (CUDA, then MPS, then CPU), cpu, cuda or mps.")]
Seed = Annotated[int, typer.Option(help="Random seed; same seed, same device, same output.")]
BatchSize = Annotated[int, typer.Option(help="Rows (frames x hypotheses) per network batch; bounds memory.")]
Sampler = Annotated[str, typer.Option(help="dpm2m (fast ODE solver), sde-dpm2m (its stochastic twin), pc (the paper's Predictor-Corrector) or ode-euler.")]
Steps = Annotated[Optional[int], typer.Option(help="Solver steps (default: 25 for dpm2m, 50 for sde-dpm2m, 1000 for pc, 100 for ode-euler).")]
Temperature = Annotated[Optional[float], typer.Option("--temperature", help="Scale of the starting noise, 0-2: lower gives more typical, less varied poses. Default: matched to the paper's PC-1000 sampler per task (0.8 generate, 0.6 lift, 0.5 complete). ODE samplers only: pc and sde-dpm2m forget their start.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or summaries.")]
Force = Annotated[bool, typer.Option("--force", "-f", help="Overwrite existing output files.")]
Fmt = Annotated[Optional[str], typer.Option("--format", help="Output format (npz, csv, bvh, c3d); default from -o's extension.")]
AddJoints = Annotated[bool, typer.Option("--add-joints", help="C3D output: also store the 17 joint centres as points (<subject>:gfpose_<Joint>).")]
MapOpt = Annotated[Optional[str], typer.Option("--map", help="Skeleton map for BVH/ASF/C3D input: a preset name or your .toml (default: auto).")]
SubjectOpt = Annotated[Optional[str], typer.Option("--subject", help="Performer of a multi-subject C3D (its label prefix, e.g. Derrick).")]
InFmt = Annotated[Optional[str], typer.Option("--input-format", "--from", help="Input format when the extension does not say it (npz, csv, bvh, amc, c3d, json).")]
ForceRead = Annotated[bool, typer.Option("--force-read", help="Read a 3D take even when its body looks implausible (limbs no person has, joints exactly at the origin); the check's finding is printed as a warning.")]
Units = Annotated[Optional[str], typer.Option("--units", help="Length unit of BVH/C3D input, when the guess (BVH) or POINT:UNITS (C3D) is wrong: m, cm, mm, in, ft, acclaim, or metres per unit.")]
FailFast = Annotated[bool, typer.Option("--fail-fast", help="Stop at the first input that fails (default: go on and report them all).")]
ShardOpt = Annotated[Optional[str], typer.Option("--shard", help="Do only part K of N (0 <= K < N, e.g. 0/4); join the NPZ parts with `gfpose merge`.")]


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for internal errors.")] = False) -> None:
    STATE["debug"] = debug


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar with ETA (silent with --quiet); yields an update(done, total) callback."""
    if STATE["quiet"]:
        yield lambda done, total: None
        return
    cols = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*cols, console=err, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done, tot: bar.update(task, completed=done, total=tot)


def esc(text: object) -> str:
    """Text from files and paths, printed as it is: rich markup escaped, undecodable bytes shown as escapes."""
    return escape(str(text).encode("utf-8", "backslashreplace").decode("utf-8"))


def info(message: str) -> None:
    if not STATE["quiet"]:
        err.print(message)


def warn(message: str) -> None:
    """A warning is printed even with --quiet: it says the output may not be what was meant."""
    err.print(f"[yellow]warning:[/] {message}")


def sampler_options(sampler: str, steps: Optional[int], batch_size: int, seed: int, device: str,
                    temperature: Optional[float] = None):
    from gfpose_cli.tasks import SamplerOptions

    return SamplerOptions(sampler=sampler, steps=steps, batch_size=batch_size, seed=seed, device=device,
                          temperature=temperature)


def check_output(dst: Path, force: bool, src: Path | None = None) -> Path:
    """Refuse an output that would overwrite its input, or an existing file without --force."""
    if src is not None and dst.resolve() == src.resolve():
        raise InputError(f"{dst}: output would overwrite its input; choose another -o")
    if dst.exists() and not force:
        raise InputError(f"{dst}: output exists; pass --force to overwrite it")
    return dst


def plan_outputs(inputs: list[Path], output: Path, fmt: Optional[str], force: bool,
                 in_fmt: Optional[str] = None) -> list[tuple[Path, Path]]:
    """Pair inputs with outputs: one input and -o FILE.ext -> that file; otherwise files in the folder -o."""
    if not inputs:
        raise InputError("no input files given")
    from gfpose_cli.io import WRITE_FORMATS  # imported here: the io package pulls in torch, --help should not

    to_folder = len(inputs) > 1 or output.is_dir() or not output.suffix
    pairs = []
    for src in inputs:
        own = (in_fmt or src.suffix.lstrip(".")).lower()
        ext = (fmt or (own if own in WRITE_FORMATS else "npz")).lower()
        dst = output / f"{src.stem}.{ext}" if to_folder else output
        pairs.append((src, check_output(dst, force, src)))
    return pairs


def expand(inputs: list[str]) -> list[Path]:
    from gfpose_cli.training.data import expand_inputs

    return expand_inputs(inputs)


def run_batch(inputs: list[str], output: Path, fmt: Optional[str], force: bool,
              work: Callable[[Path, Path], str], in_fmt: Optional[str] = None, fail_fast: bool = False) -> None:
    """Run work(src, dst) for each input; a bad file does not stop the others (unless fail_fast);
    several inputs end with a table of what was written and what failed, and why."""
    pairs = plan_outputs(expand(inputs), output, fmt, force, in_fmt)
    results: list[tuple[Path, Path, str]] = []
    for src, dst in pairs:
        try:
            note = work(src, dst)
            results.append((src, dst, ""))
            info((f"[green]wrote[/] {esc(dst)}" if dst.exists() else f"{esc(src.name)}:") + (f"  {esc(note)}" if note else ""))
        except GfposeError as exc:
            if len(pairs) == 1:
                raise
            results.append((src, dst, str(exc)))
            err.print(f"[red]failed[/] {esc(exc if str(exc).startswith(str(src)) else f'{src}: {exc}')}")
            if fail_fast:
                break
    if len(pairs) == 1:
        return
    failed = [r for r in results if r[2]]
    table = Table(title=f"{len(results) - len(failed)} ok, {len(failed)} failed"
                  + (f", {len(pairs) - len(results)} not started (--fail-fast)" if len(results) < len(pairs) else ""))
    for col in ("input", "result"):
        table.add_column(col, overflow="fold")
    for src, dst, why in results:
        table.add_row(esc(src), f"[red]failed:[/] {esc(why.removeprefix(f'{src}: '))}" if why else f"[green]ok[/] -> {esc(dst)}")
    if failed or not STATE["quiet"]:
        err.print(table)
    if failed or len(results) < len(pairs):
        raise InputError(f"{len(failed)} of {len(pairs)} inputs failed (table above)")


def read_take(src: Path, skeleton_map: Optional[str] = None, subject: Optional[str] = None,
              in_fmt: Optional[str] = None, units: Optional[str] = None):
    from gfpose_cli import io

    take = io.read(src, fmt=in_fmt, skeleton_map=skeleton_map, subject=subject, units=units,
                   force_read=STATE["force_read"])
    prov = take.provenance
    if prov.map:
        info(esc(f"{src.name}: map '{prov.map}', {take.n_frames} frames at {take.fps:g} Hz, "
                 f"up axis {prov.up or '?'}" + (f", units {prov.units}" if prov.units else "")))
    for note in prov.notes:
        info(esc(f"{src.name}: {note}"))
    for line in prov.warnings:
        warn(esc(line))
    return take


def write_take(take, dst: Path, fmt: Optional[str], force: bool, add_joints: bool = False,
               into_source: bool = True) -> str:
    """Write a take; returns a short note on what the writer did (markers moved/filled, BVH fit)."""
    from gfpose_cli import io

    if take.shard is not None and (fmt or dst.suffix.lstrip(".")).lower() != "npz":
        raise InputError(f"{dst}: shard outputs must be NPZ (they carry the part's place for `gfpose merge`)")
    summary = io.write(take, dst, fmt=fmt, force=force, add_joints=add_joints, into_source=into_source) or {}
    notes = []
    if "markers" in summary and summary["markers"]:
        notes.append(f"{summary['riding']} of {summary['markers']} markers ride the skeleton: "
                     f"{summary['moved']} samples moved, {summary['filled']} filled")
    kept = summary.get("kept") or {}
    if kept:
        notes.append("left untouched: " + ", ".join(f"{n} {k}{'s' if n > 1 and not k.endswith('output') else ''}"
                                                    .replace("model output", "model outputs" if n > 1 else "model output")
                                                    for k, n in sorted(kept.items())))
    if summary.get("joints_added"):
        notes.append(f"{summary['joints_added']} joint points")
    if "bvh" in summary:
        notes.append(f"BVH {summary['bvh']}, largest joint misfit {summary['max_error_m'] * 1000:.1f} mm")
    return "; ".join(notes)


def get_shard(text: Optional[str]):
    from gfpose_cli.tasks import parse_shard

    return parse_shard(text)


# ---------------------------------------------------------------- subcommands
def _pair(text: str, name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise InputError(f"--{name} {text!r}: expected LO,HI, e.g. 2.5,8") from None
    if not (lo <= hi) or not all(map(lambda v: abs(v) < 1e6, (lo, hi))):
        raise InputError(f"--{name} {text!r}: need LO <= HI")
    return lo, hi


def camera_setup(count: int, config: Optional[Path], azimuth: str, elevation: str, distance: str, focal: str,
                 image_size: str) -> dict | None:
    """What generate's camera options ask for: {'rig': arrays} or {'ranges': CameraRanges, 'k': K}, or None."""
    from gfpose_cli.kinematics.cameras import CameraRanges, rig_from_toml

    if count < 0:
        raise InputError("--cameras must be 0 or more")
    if config is not None:
        return {"rig": rig_from_toml(config), "file": str(config)}
    if count == 0:
        return None
    try:
        w, h = (int(v) for v in image_size.lower().split("x"))
        assert w > 0 and h > 0
    except (ValueError, AssertionError):
        raise InputError(f"--image-size {image_size!r}: expected WIDTHxHEIGHT, e.g. 1920x1080") from None
    ranges = CameraRanges(_pair(azimuth, "azimuth"), _pair(elevation, "elevation"), _pair(distance, "distance"),
                          _pair(focal, "focal"), (w, h))
    if ranges.distance_m[0] <= 0 or ranges.focal_px[0] <= 0:
        raise InputError("--distance and --focal must be positive")
    return {"ranges": ranges, "k": count}


def write_dataset(take, output: Path, kind: str, views: Optional[dict], force: bool, runner, n: int, seed: int,
                  extra: dict) -> str:
    """Generated poses (and their camera views) as one NPZ or a dataset folder; returns a note."""
    from gfpose_cli.training import synthetic
    from gfpose_cli.util.provenance import code_version

    job = {"seed": seed, "n": n, "sampler": runner.opts.sampler, "steps": runner.opts.steps,
           "device": runner.device.type, "weights_sha256": file_digest(runner.model.path), "code_version": code_version(),
           **extra}
    placed = extra.get("placement") is not None
    return synthetic.write_dataset(take.positions, take.fps, output, kind, views, force, job, seed,
                                   targets=take.positions[:, 0] if placed else None)


def free_joints(text: Optional[str]) -> list[int]:
    """Joint indices named by --free: body parts (left_arm, ...) and/or joint names, comma-separated."""
    from gfpose_cli.core.skeleton import JOINTS, PARTS

    if not text:
        return []
    by_name = {j.lower(): i for i, j in enumerate(JOINTS)}
    out: list[int] = []
    for item in (v.strip() for v in text.split(",") if v.strip()):
        key = item.lower().replace("-", "_")
        if key in PARTS:
            out += PARTS[key]
        elif key in by_name:
            out.append(by_name[key])
        else:
            raise InputError(f"--free {item!r}: not a body part ({', '.join(PARTS)}) or a joint ({', '.join(JOINTS)})")
    return sorted(set(out))


def placement_setup(yaw: Optional[str], floor: bool, area: Optional[str], trajectory: Optional[Path],
                    skeleton_map: Optional[str], units: Optional[str]):
    """The Placement asked for by generate's world-space options."""
    from gfpose_cli.kinematics.placement import Placement, trajectory_from_take

    yaw_range = _pair(yaw, "yaw") if yaw else None
    area_m = _pair(area, "area") if area else None
    if area_m and min(area_m) < 0:
        raise InputError("--area W,D needs sizes of 0 or more (metres)")
    path_roots = path_yaw = None
    if trajectory is not None:
        path_roots, path_yaw = trajectory_from_take(read_take(trajectory, skeleton_map, None, None, units).positions,
                                                    str(trajectory))
    return Placement(yaw_range, floor, area_m, path_roots, path_yaw, str(trajectory) if trajectory else None)


@app.command()
def generate(
    output: Output,
    n: Annotated[int, typer.Option("--n", help="Number of poses to generate.")] = 1000,
    weights: Weights = None,
    device: Device = "auto",
    seed: Seed = 0,
    batch_size: BatchSize = 4096,
    sampler: Sampler = "dpm2m",
    steps: Steps = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="npz, csv, bvh, c3d, or folder (a dataset folder of NPZ shards and a manifest); default from -o's extension.")] = None,
    temperature: Temperature = None,
    dedupe: Annotated[Optional[float], typer.Option("--dedupe", help="Drop a pose within this many mm (P-MPJPE) of one already kept, and draw more until N are kept.")] = None,
    condition: Annotated[Optional[Path], typer.Option("--condition", help="Generate around the partial 3D poses of this file (pose i from frame i mod F): its missing joints, and those named by --free, are sampled by the completion model.")] = None,
    free: Annotated[Optional[str], typer.Option("--free", help="With --condition: body parts or joints to resample, e.g. left_arm,right_arm or RWrist.")] = None,
    skeleton_map: MapOpt = None,
    units: Units = None,
    force_read: ForceRead = False,
    yaw: Annotated[Optional[str], typer.Option("--yaw", help="World space: each pose faces a heading drawn from LO,HI degrees (0 = +X, 90 = +Y).")] = None,
    floor: Annotated[bool, typer.Option("--floor", help="World space: lowest joint on z = 0 instead of the pelvis at the origin.")] = False,
    area: Annotated[Optional[str], typer.Option("--area", help="World space: pelvis spread uniformly over a W,D metre rectangle around the origin.")] = None,
    trajectory: Annotated[Optional[Path], typer.Option("--trajectory", help="World space: pose i stands at frame i mod F of this take's pelvis, facing its way (unless --yaw).")] = None,
    cameras: Annotated[int, typer.Option("--cameras", help="Random virtual cameras per pose; adds 2D views (NPZ or folder output).")] = 0,
    camera_config: Annotated[Optional[Path], typer.Option("--camera-config", help="A fixed rig (TOML [[camera]] tables) instead of random cameras.")] = None,
    azimuth: Annotated[str, typer.Option(help="Random cameras: azimuth range in degrees, LO,HI.")] = "0,360",
    elevation: Annotated[str, typer.Option(help="Random cameras: elevation range in degrees, LO,HI.")] = "-15,35",
    distance: Annotated[str, typer.Option(help="Random cameras: distance range in metres, LO,HI.")] = "2.5,8",
    focal: Annotated[str, typer.Option(help="Random cameras: focal length range in pixels, LO,HI.")] = "800,1600",
    image_size: Annotated[str, typer.Option(help="Random cameras: image WIDTHxHEIGHT in pixels (principal point at the centre).")] = "1000x1000",
    shard: ShardOpt = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Sample N plausible 3D poses from the prior (Z up, metres, pelvis at the origin unless placed).

    With --cameras K (or --camera-config) every pose also gets K camera views in pixels, for
    training 2D-to-3D lifters; --format folder writes a dataset folder that
    gfpose_cli.synthetic.SyntheticPoses loads. --condition generates around partial poses,
    --temperature and --dedupe trade variety, --yaw/--floor/--area/--trajectory place poses in
    the world (random cameras then aim at each pelvis; a fixed rig stays where it is).

    Example: [bold]gfpose generate --n 177200 --cameras 4 -o synth/ --format folder[/]
    Example: [bold]gfpose generate --n 5000 --condition take.c3d --free left_arm,right_arm -o arms.npz[/]
    """
    STATE["quiet"] = quiet
    STATE["force_read"] = force_read
    from gfpose_cli.evaluation import metrics
    from gfpose_cli import tasks
    from gfpose_cli.kinematics.bones import performer_lengths
    from gfpose_cli.kinematics.placement import place

    if not output.suffix and not fmt:
        raise InputError(f"{output}: give the output a file extension (.npz, .csv, .bvh, .c3d) or pass --format")
    kind = (fmt or output.suffix.lstrip(".")).lower()
    views = camera_setup(cameras, camera_config, azimuth, elevation, distance, focal, image_size)
    if (views or kind == "folder") and kind not in ("npz", "folder"):
        raise InputError(f"{output}: camera views go into NPZ or --format folder output, not {kind}")
    if (views or kind == "folder") and shard:
        raise InputError("--shard is for plain pose files; a dataset folder is written by one job")
    if dedupe is not None and (dedupe <= 0 or condition is not None):
        raise InputError("--dedupe needs a distance above 0 mm and the unconditional prior (not --condition)")
    if free and condition is None:
        raise InputError("--free names the joints to resample in a --condition file")
    placement = placement_setup(yaw, floor, area, trajectory, skeleton_map, units)
    partial = None
    if condition is not None:
        partial = read_take(condition, skeleton_map, None, None, units)
        lengths = performer_lengths(partial.positions, partial.mask) if partial.positions.ndim == 3 else None
        drop = free_joints(free)
        if drop and partial.positions.ndim == 3:
            partial.mask[:, drop] = False
            partial.positions[:, drop] = float("nan")
        if partial.positions.ndim == 3 and partial.mask.all():
            warn(esc(f"{condition}: every joint is given in every frame, so every pose copies the file; "
                     "name what to resample with --free"))
    if kind != "folder":
        check_output(output, force)
    opts = sampler_options(sampler, steps, batch_size, seed, device, temperature)
    runner = tasks.Runner.for_task("complete3d" if partial is not None else "prior", weights, opts)
    # a run longer than one chunk keeps its finished chunks, so the same command resumes after a kill
    job = {"task": "generate", "n": n, "shard": shard, "dedupe_mm": dedupe,
           "condition": None if condition is None else file_digest(condition), "free": free}
    journal = tasks.job_journal(runner, output, job, force) if n > runner.opts.batch_size else None
    if journal and journal.resumed:
        info(esc(f"resuming: {journal.resumed} finished chunks found in {journal.folder}"))
    t0 = time.perf_counter()
    try:
        with progress_bar("generating", n) as update:
            if partial is not None:
                take = tasks.generate_around(runner, partial, n, update, get_shard(shard), journal, lengths)
            else:
                take = tasks.generate(runner, n, update, get_shard(shard), journal,
                                      None if dedupe is None else dedupe / 1000.0)
    except KeyboardInterrupt:
        if journal:
            err.print(esc(f"interrupted; finished chunks are kept in {journal.folder}: run the same command again to resume"))
        raise
    rel = take.positions
    if placement.active():
        first = take.shard.start if take.shard else 0
        take.positions = place(take.positions, placement, seed, first)
    if views or kind == "folder":
        extra = {"temperature": runner.temperature, "dedupe_mm": dedupe, "drawn": take.report.drawn,
                 "condition": None if condition is None else str(condition), "free": free,
                 "placement": placement.describe() if placement.active() else None}
        note = write_dataset(take, output, kind, views, force, runner, n, seed, extra)
    else:
        note = write_take(take, output, fmt, force)
    if journal:
        journal.finish()
    stats = metrics.plausibility(rel)
    drawn = take.report.drawn
    info(f"[green]wrote[/] {esc(output)}: {take.n_frames} poses in {time.perf_counter() - t0:.1f} s"
         + (f" ({drawn} drawn, {drawn - take.n_frames} near-duplicates dropped)" if drawn else "")
         + f"; height {stats['height_mean_m']:.2f}±{stats['height_std_m']:.2f} m, "
         f"bone-length CV {stats['bone_length_cv']:.1%}, L/R asymmetry {stats['symmetry_error']:.1%}"
         + (f"; {esc(note)}" if note else ""))


@app.command()
def lift(
    inputs: Annotated[list[str], typer.Argument(help="2D keypoint files (NPZ/CSV, pixels), folders or globs.")],
    output: Output,
    hypotheses: Annotated[int, typer.Option("--hypotheses", "-s", help="3D hypotheses per frame (S).")] = 1,
    aggregate: Annotated[str, typer.Option(help="none keeps all S hypotheses; mean or median collapses them.")] = "none",
    weights: Weights = None,
    device: Device = "auto",
    seed: Seed = 0,
    batch_size: BatchSize = 4096,
    sampler: Sampler = "dpm2m",
    steps: Steps = None,
    temperature: Temperature = None,
    fmt: Fmt = None,
    in_fmt: InFmt = None,
    shard: ShardOpt = None,
    fail_fast: FailFast = False,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Lift 2D keypoints to S plausible 3D poses per frame (camera frame: x right, y down, z forward; metres).

    Missing keypoints (NaN / empty cells / mask) are allowed and filled by the model.

    Example: [bold]gfpose lift keypoints.npz -o lifted.npz --hypotheses 10[/]
    """
    STATE["quiet"] = quiet
    from gfpose_cli import io, tasks

    if hypotheses < 1:
        raise InputError("--hypotheses must be at least 1")
    runner = tasks.Runner.for_task("lift", weights, sampler_options(sampler, steps, batch_size, seed, device, temperature))

    def work(src: Path, dst: Path) -> str:
        kp = io.read(src, fmt=in_fmt)
        with progress_bar(f"lifting {src.name}", kp.n_frames * hypotheses) as update:
            result = tasks.lift(runner, kp, hypotheses, update, get_shard(shard))
        note = write_take(result if shard else tasks.aggregate(result, aggregate), dst, fmt, force)
        empty = int((~result.mask.any(1)).sum())
        return f"{kp.n_frames} frames x {hypotheses} hypotheses" + (
            f"; {empty} frames with fewer than 2 keypoints left empty (NaN)" if empty else "") + (
            f"; {note}" if note else "")

    run_batch(inputs, output, fmt, force, work, in_fmt, fail_fast)


@app.command()
def complete(
    inputs: Annotated[list[str], typer.Argument(help="Takes with missing joints (NaN / mask): 3D NPZ/CSV/BVH, or 2D keypoints.")],
    output: Output,
    hypotheses: Annotated[int, typer.Option("--hypotheses", "-s", help="Completions per frame (S).")] = 1,
    keep_observed: Annotated[bool, typer.Option("--keep-observed/--no-keep-observed", help="Observed joints keep their values (--no-keep-observed implies --per-frame).")] = True,
    per_frame: Annotated[bool, typer.Option("--per-frame", help="Treat frames as unrelated poses (the paper's setting): one completion per frame, no smoothing along time, no bone-length holding.")] = False,
    weights: Weights = None,
    device: Device = "auto",
    seed: Seed = 0,
    batch_size: BatchSize = 4096,
    sampler: Sampler = "dpm2m",
    steps: Steps = None,
    temperature: Temperature = None,
    fmt: Fmt = None,
    skeleton_map: MapOpt = None,
    subject: SubjectOpt = None,
    in_fmt: InFmt = None,
    units: Units = None,
    force_read: ForceRead = False,
    add_joints: AddJoints = False,
    shard: ShardOpt = None,
    fail_fast: FailFast = False,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Fill missing joints from the observed ones: 3D input uses the complete3d model, 2D input the lift model.

    On a 3D take, each gap becomes the most likely smooth path through the model's completions
    (8 per frame), which are trusted as far as the model gets the observed frames next to the gap
    right; then bone lengths are held to the performer's.

    A C3D output of a C3D input is the same file with its marker gaps filled (residual 0, listed
    under the GFPOSE parameter group); everything else in it is kept.

    Example: [bold]gfpose complete take01.c3d -o filled.c3d[/]
    """
    STATE["quiet"] = quiet
    STATE["force_read"] = force_read
    from gfpose_cli import tasks

    if hypotheses < 1:
        raise InputError("--hypotheses must be at least 1")
    opts = sampler_options(sampler, steps, batch_size, seed, device, temperature)
    runners: dict[str, object] = {}

    def work(src: Path, dst: Path) -> str:
        take = read_take(src, skeleton_map, subject, in_fmt, units)
        task = "lift" if take.dim == 2 else "complete3d"
        if task not in runners:
            runners[task] = tasks.Runner.for_task(task, weights, opts)
        missing = int((~take.mask).sum())
        with progress_bar(f"completing {src.name}", take.n_frames * hypotheses) as update:
            if take.dim == 2:
                result = tasks.lift(runners[task], take, hypotheses, update, get_shard(shard))
                result = result if hypotheses > 1 or shard else tasks.aggregate(result, "mean")
            else:
                result = tasks.complete(runners[task], take, hypotheses, keep_observed, update, get_shard(shard),
                                        temporal=keep_observed and not per_frame)
        note = write_take(result, dst, fmt, force, add_joints)
        left = result.report.frames_left if isinstance(result.report, CompleteReport) else 0
        how = "" if take.dim == 2 or result.report.temporal else " (frame by frame)"
        return (f"{missing - int((~result.mask).sum())} missing joint samples filled{how}"
                + (f"; {left} frames without the pelvis (or both hips) and another joint left as they were" if left else "")
                + (f"; {esc(note)}" if note else ""))

    run_batch(inputs, output, fmt, force, work, in_fmt, fail_fast)


def parse_t0(text: str) -> Optional[float]:
    if text.strip().lower() == "auto":
        return None
    try:
        return float(text)
    except ValueError:
        raise InputError(f"--t0 {text!r}: give a time in (0, 1] or auto") from None


def denoise_report(r: DenoiseReport) -> str:
    """One line saying what denoise measured and chose, so a user can reproduce or adjust it."""
    if r.too_short:
        return f"too short to smooth ({r.too_short} frames): left as it was (--per-frame runs the frame-by-frame prior)"
    parts = [f"noise {r.noise_mm:.1f} mm" if r.noise_mm is not None else "unrelated poses, cleaned one by one"]
    if r.temporal:
        lo, hi = min(r.smoothing), max(r.smoothing)
        parts.append(f"smoothed (lambda {lo:.2g}" + (f"-{hi:.2g}" if hi > lo else "") + " by joint)"
                     + (f", {r.spikes} spike samples ignored" if r.spikes else ""))
    parts.append(f"prior from t0 {r.t0:.3f}" if r.t0 is not None else "prior pass off (--t0 T runs it)")
    if r.bone_length_cv is not None:
        parts.append(f"bone lengths held (CV {r.bone_length_cv:.2%})")
    if r.bind_frames:
        parts.append(f"bind-pose frame {', '.join(map(str, r.bind_frames))} kept as it was")
    return ", ".join(parts)


@app.command()
def denoise(
    inputs: Annotated[list[str], typer.Argument(help="Noisy 3D takes (NPZ, CSV, BVH), folders or globs.")],
    output: Output,
    t0: Annotated[str, typer.Option(help="Diffusion time to start the prior from, (0-1] (larger removes more), or auto (takes: no prior pass; --per-frame: matched to the measured noise).")] = "auto",
    per_frame: Annotated[bool, typer.Option("--per-frame", help="The paper's frame-by-frame denoiser: no smoothing along time, no bone-length holding.")] = False,
    hold_bones: Annotated[bool, typer.Option("--hold-bones/--free-bones", help="Fit the skeleton to the performer's median bone lengths (--free-bones keeps the take's own variation, e.g. soft tissue in marker-derived joints).")] = True,
    weights: Weights = None,
    device: Device = "auto",
    seed: Seed = 0,
    batch_size: BatchSize = 4096,
    sampler: Sampler = "dpm2m",
    steps: Steps = None,
    fmt: Fmt = None,
    skeleton_map: MapOpt = None,
    subject: SubjectOpt = None,
    in_fmt: InFmt = None,
    units: Units = None,
    force_read: ForceRead = False,
    add_joints: AddJoints = False,
    shard: ShardOpt = None,
    fail_fast: FailFast = False,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Clean a noisy take: smooth it along time at the strength its measured noise calls for (spikes
    such as marker swaps are ignored) and hold the performer's bone lengths; --t0 T also runs the
    pose prior from t0 (auto leaves it off for takes, where it did not help; with --per-frame, the
    paper's frame-by-frame denoiser, auto matches t0 to the measured noise). What was measured and
    chosen is printed.

    C3D and BVH inputs written to the same format come back as the same file with its markers or
    skeleton moved onto the cleaned joints.

    Example: [bold]gfpose denoise take01.c3d -o clean.c3d[/]
    """
    STATE["quiet"] = quiet
    STATE["force_read"] = force_read
    from gfpose_cli import tasks

    start = parse_t0(t0)
    runner = tasks.Runner.for_task("prior", weights, sampler_options(sampler, steps, batch_size, seed, device))

    def work(src: Path, dst: Path) -> str:
        take = read_take(src, skeleton_map, subject, in_fmt, units)
        with progress_bar(f"denoising {src.name}", take.n_frames) as update:
            result = tasks.denoise(runner, take, start, update, get_shard(shard), temporal=not per_frame,
                                   hold_bones=hold_bones)
        note = write_take(result, dst, fmt, force, add_joints)
        return f"{take.n_frames} frames; {denoise_report(result.report)}" + (f"; {note}" if note else "")

    run_batch(inputs, output, fmt, force, work, in_fmt, fail_fast)


@app.command()
def evaluate(
    pred: Annotated[Optional[Path], typer.Argument(help="Predicted poses (NPZ/CSV), one per frame or S hypotheses per frame.")] = None,
    gt: Annotated[Optional[Path], typer.Argument(help="Ground-truth poses (NPZ/CSV/BVH) with the same frames.")] = None,
    stats: Annotated[Optional[Path], typer.Option("--stats", help="Describe a pose set instead (a generated NPZ, a dataset folder, mocap files or archives): plausibility, diversity, and with --reference coverage and precision.")] = None,
    reference: Annotated[Optional[Path], typer.Option("--reference", help="With --stats: the set to compare against (e.g. the real training data).")] = None,
    reference_split: Annotated[str, typer.Option("--reference-split", help="Part of a reference built from shared/data: all, train or held-out.")] = "all",
    sample: Annotated[int, typer.Option("--sample", help="With --reference: poses per set used for the nearest-neighbour figures.")] = 20000,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")] = False,
    protocol: Annotated[Optional[str], typer.Option("--protocol", help="Run the paper's protocols on --data: lift, lift-noisy, lift-missing, complete, denoise, generate (comma-separated) or all.")] = None,
    data_path: Annotated[Optional[Path], typer.Option("--data", help="With --protocol: 3D mocap to test on (files, a folder, an archive, a pose NPZ).")] = None,
    data_split: Annotated[str, typer.Option("--data-split", help="With --protocol on shared/data: all, train or held-out.")] = "all",
    frames: Annotated[int, typer.Option("--frames", help="With --protocol: poses drawn from --data (fixed by --seed).")] = 500,
    hypotheses: Annotated[int, typer.Option("--hypotheses", "-s", help="With --protocol: S for the best-of-S rows.")] = 200,
    weights_dir: Annotated[Optional[Path], typer.Option("--weights-dir", help="With --protocol: folder with prior.pt, lift.pt, complete3d.pt (default: the shipped weights).")] = None,
    device: Device = "auto",
    seed: Seed = 0,
    batch_size: BatchSize = 4096,
    sampler: Sampler = "dpm2m",
    steps: Steps = None,
    in_fmt: InFmt = None,
) -> None:
    """Score predictions: MPJPE (P1), P-MPJPE (P2), minMPJPE over hypotheses, PCK@150mm, jitter, bone-length CV.

    With --stats SET: is a pose set plausible (bone lengths, symmetry, joint-angle limits) and
    diverse, and with --reference REAL does it cover the real poses (coverage, recall) without
    leaving them (precision)? Distances are P-MPJPE.

    Example: [bold]gfpose evaluate lifted.npz truth.npz --json[/]
    With --protocol P --data MOCAP: the measurements of bench/accuracy.py (DESIGN.md §6) on your
    own poses: lifting from exact, noisy and partial 2D of random virtual cameras, completing each
    limb, denoising at the paper's noise levels, and generation, with the paper's figures and our
    targets beside them.

    Example: [bold]gfpose evaluate lifted.npz truth.npz --json[/]
    Example: [bold]gfpose evaluate --stats synth/ --reference ../shared/data --reference-split train[/]
    Example: [bold]gfpose evaluate --protocol lift,complete --data my_heldout/ --frames 300[/]
    """
    from gfpose_cli import io
    from gfpose_cli.evaluation.scores import evaluate as score

    if protocol is not None:
        if pred is not None or gt is not None or stats is not None or data_path is None:
            raise InputError("--protocol runs on --data MOCAP alone; e.g. gfpose evaluate --protocol lift --data takes/")
        return evaluate_protocols(protocol, data_path, data_split, frames, hypotheses, weights_dir,
                                  sampler_options(sampler, steps, batch_size, seed, device), as_json)
    if stats is not None:
        if pred is not None or gt is not None:
            raise InputError("--stats describes one set; give either --stats SET or PRED GT, not both")
        return evaluate_set(stats, reference, reference_split, sample, as_json)
    if pred is None or gt is None:
        raise InputError("evaluate needs PRED and GT files (or --stats SET); see gfpose evaluate --help")
    result = score(io.read(pred, fmt=in_fmt, sanity=False), io.read(gt, fmt=in_fmt, sanity=False))
    if as_json:
        print(json.dumps(result, indent=2))
        return
    table = Table(title=f"{pred.name} vs {gt.name}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if key != "per_joint_mpjpe_mm":
            table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    out.print(table)
    joints = Table(title="per-joint MPJPE (mm)")
    joints.add_column("joint")
    joints.add_column("mm", justify="right")
    for name, value in result["per_joint_mpjpe_mm"].items():
        joints.add_row(name, f"{value:.1f}")
    out.print(joints)


def evaluate_protocols(text: str, path: Path, split: str, frames: int, hypotheses: int,
                       weights_dir: Optional[Path], opts, as_json: bool) -> None:
    """`evaluate --protocol`: protocols.measure on poses drawn from the user's mocap."""
    import numpy as np

    from gfpose_cli.evaluation import protocols, setstats

    chosen = protocols.parse(text)
    if frames < 1 or hypotheses < 1:
        raise InputError("--frames and --hypotheses must be at least 1")
    with err.status(esc(f"reading {path}")):
        poses = setstats.load_set(path, split)
    poses = poses[np.isfinite(poses).all((1, 2))]
    if not len(poses):
        raise InputError(f"{path}: no complete 3D poses to test on")
    pick = np.random.default_rng(opts.seed).choice(len(poses), size=min(frames, len(poses)), replace=False)
    runners = protocols.runners_for(chosen, weights_dir, opts)
    tag = path.name or str(path)
    with err.status("measuring") as status:
        rows = protocols.measure(chosen, {tag: poses[np.sort(pick)]}, runners, hypotheses, opts.seed,
                                 progress=lambda msg: status.update(esc(f"measuring: {msg}")))
    for r in rows:
        r.name = r.name.replace(f" ({tag})", "").replace(f" / {tag}", " / real")
    if as_json:
        print(json.dumps([{**vars(r), "meets": r.meets} for r in rows], indent=2))
        return
    table = Table(title=f"{len(pick)} poses of {esc(str(path))}, sampler {opts.sampler}-{opts.steps or 'default'}, seed {opts.seed}")
    for col, justify in (("measurement", "left"), ("unit", "left"), ("paper (H36M)", "right"), ("target", "right"),
                         ("ours", "right"), ("meets", "left")):
        table.add_column(col, justify=justify)
    for r in rows:
        value = f"{r.value:.3f}" if r.unit in ("m", "ratio") else f"{r.value:.1f}"
        table.add_row(esc(r.name), r.unit, r.paper, esc(r.target), value,
                      "" if r.meets is None else ("yes" if r.meets else "[red]no[/]"))
    out.print(table)


def evaluate_set(path: Path, reference: Optional[Path], reference_split: str, sample: int, as_json: bool) -> None:
    """`evaluate --stats`: the figures of setstats.set_stats as tables or JSON."""
    from gfpose_cli.evaluation import setstats

    with err.status(esc(f"reading {path}")):
        poses = setstats.load_set(path)
        ref = setstats.load_set(reference, reference_split) if reference is not None else None
    with err.status("measuring" + (" (nearest neighbours both ways)" if ref is not None else "")):
        result = setstats.set_stats(poses, ref, sample=sample)
    result["set"]["path"] = str(path)
    if ref is not None:
        result["reference"]["path"] = str(reference)
        result["reference"]["split"] = reference_split
    if as_json:
        print(json.dumps(result, indent=2))
        return
    sets = [k for k in ("set", "reference") if k in result]
    table = Table(title="pose set statistics")
    table.add_column("figure")
    for k in sets:
        table.add_column(esc(Path(result[k]["path"]).name or result[k]["path"]), justify="right")
    rows = [("poses", "poses", "{:,.0f}"), ("bone-length CV", "bone_length_cv", "{:.1%}"),
            ("left/right bone asymmetry", "symmetry_error", "{:.1%}"), ("height mean (m)", "height_mean_m", "{:.3f}"),
            ("height std (m)", "height_std_m", "{:.3f}"), ("diversity: mean pairwise P-MPJPE (mm)", "diversity_mm", "{:.1f}"),
            ("poses breaking a joint-angle limit", "poses_violating_any_limit", "{:.2%}")]
    for label, key, fmt in rows:
        table.add_row(label, *(fmt.format(result[k][key]) for k in sets))
    for name in result["set"]["angle_limits_violated"]:
        table.add_row(f"  {name}", *(f"{result[k]['angle_limits_violated'][name]:.2%}" for k in sets))
    out.print(table)
    if ref is not None:
        c = result["comparison"]
        cmp = Table(title=f"against the reference ({c['poses_compared']:,} vs {c['reference_compared']:,} poses, k={c['k']})")
        cmp.add_column("figure")
        cmp.add_column("value", justify="right")
        cmp.add_row("nearest reference pose, median (mm)", f"{c['nn_to_reference_mm']['median']:.1f}")
        cmp.add_row("nearest pose of the set from a reference pose, median (mm)", f"{c['nn_from_reference_mm']['median']:.1f}")
        cmp.add_row("precision (set inside the reference's k-NN balls)", f"{c['precision']:.1%}")
        cmp.add_row("recall (reference inside the set's k-NN balls)", f"{c['recall']:.1%}")
        cmp.add_row("coverage (reference balls holding a pose of the set)", f"{c['coverage']:.1%}")
        out.print(cmp)


@app.command()
def convert(
    inputs: Annotated[list[str], typer.Argument(help="Mocap files (C3D, BVH, ASF/AMC, NPZ, CSV), folders or globs.")],
    output: Output,
    skeleton_map: MapOpt = None,
    subject: Annotated[Optional[str], typer.Option("--subject", help="Performer of a multi-subject C3D (its label prefix), or 'all' for one output per performer.")] = None,
    add_joints: AddJoints = False,
    fmt: Fmt = None,
    in_fmt: InFmt = None,
    units: Units = None,
    force_read: ForceRead = False,
    fail_fast: FailFast = False,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Bring any supported file to the 17-joint skeleton (metres, Z up) as NPZ, CSV or BVH, or add the
    17 joint centres to a C3D (--add-joints).

    Example: [bold]gfpose convert take01.c3d -o take01.npz --subject Derrick[/]
    """
    STATE["quiet"] = quiet
    STATE["force_read"] = force_read

    def one(src: Path, dst: Path, who: Optional[str]) -> str:
        take = read_take(src, skeleton_map, who, in_fmt, units)
        # a BVH from convert is the 17-joint skeleton; a C3D keeps its markers (and gains joints)
        note = write_take(take, dst, fmt, force, add_joints, into_source=(fmt or dst.suffix).lower().endswith("c3d"))
        missing = int((~take.mask).sum())
        return f"{take.n_frames} frames" + (f", {missing} missing joint samples (NaN)" if missing else "") + (
            f"; {note}" if note else "")

    def work(src: Path, dst: Path) -> str:
        if subject != "all":
            return one(src, dst, subject)
        from gfpose_cli.io.c3d import subjects_in

        notes = []
        for who in subjects_in(src):
            out_path = check_output(dst.with_name(f"{dst.stem}_{who}{dst.suffix}"), force, src)
            notes.append(f"{who} -> {out_path.name}: {one(src, out_path, who)}")
        return "\n  " + "\n  ".join(notes)

    run_batch(inputs, output, fmt, force, work, in_fmt, fail_fast)


@app.command()
def render(
    take_file: Annotated[Path, typer.Argument(metavar="INPUT", help="A take in any supported format (3D, or 2D keypoints).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="out.gif, out.mp4 (needs ffmpeg) or out.png (a filmstrip).")],
    compare: Annotated[Optional[Path], typer.Option("--compare", help="A second take drawn beside the first (e.g. the denoised or filled one).")] = None,
    fps: Annotated[float, typer.Option("--fps", help="Frames per second drawn (the take is subsampled).")] = 30.0,
    start: Annotated[float, typer.Option("--start", help="First second to draw.")] = 0.0,
    end: Annotated[Optional[float], typer.Option("--end", help="Last second to draw (default: the end).")] = None,
    markers: Annotated[bool, typer.Option("--markers", help="Also draw a C3D's raw markers (grey dots).")] = False,
    panels: Annotated[int, typer.Option("--panels", help="Frames in a PNG filmstrip.")] = 6,
    skeleton_map: MapOpt = None,
    subject: SubjectOpt = None,
    in_fmt: InFmt = None,
    units: Units = None,
    force_read: ForceRead = False,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Draw a take as a stick figure over time (right limbs red, left blue), optionally beside another.

    Example: [bold]gfpose render noisy.c3d --compare clean.c3d --markers -o before_after.gif[/]
    """
    STATE["quiet"] = quiet
    STATE["force_read"] = force_read
    from gfpose_cli import io
    from gfpose_cli.viz.render import render as draw

    if fps <= 0 or panels < 1:
        raise InputError("--fps and --panels must be positive")
    check_output(output, force, take_file)
    files = [take_file] + ([compare] if compare is not None else [])
    takes = [(f.name, read_take(f, skeleton_map, subject, in_fmt, units)) for f in files]
    dots = [io.source_markers(t) if markers else None for _, t in takes]
    with progress_bar(f"drawing {output.name}", 1) as update:
        n = draw(takes, output, fps, start, end, panels, dots, update, force=True)
    info(f"[green]wrote[/] {esc(output)}: {n} frames of {', '.join(esc(f.name) for f in files)}")


@app.command()
def maps(
    file: Annotated[Optional[Path], typer.Argument(help="A mocap file to resolve (C3D, BVH, JSON keypoints...).")] = None,
    skeleton_map: MapOpt = None,
    subject: SubjectOpt = None,
    in_fmt: InFmt = None,
    units: Units = None,
    force_read: ForceRead = False,
) -> None:
    """List the skeleton-map presets, or show how each of the 17 joints of FILE is resolved.

    Example: [bold]gfpose maps take01.c3d --subject Derrick[/]
    """
    from gfpose_cli.io.maps import load_map, preset_names

    if file is None:
        table = Table(title="skeleton maps (--map NAME, or a path to your own .toml)")
        table.add_column("preset")
        table.add_column("for")
        for name in preset_names():
            table.add_row(name, load_map(name).description)
        out.print(table)
        return
    STATE["force_read"] = force_read
    take = read_take(file, skeleton_map, subject, in_fmt, units)
    smap = load_map(take.provenance.map) if take.provenance.map in preset_names() else None
    table = Table(title=f"{file.name}: map '{take.provenance.map or '-'}', {take.n_frames} frames")
    for col in ("joint", "from", "frames seen"):
        table.add_column(col, justify="right" if col == "frames seen" else "left")
    for j, joint in enumerate(take.joint_names):
        source = ", ".join(f"{k} x{w:g}" if len(smap.joints[joint]) > 1 else k
                           for k, w in smap.joints[joint].items()) if smap else "-"
        table.add_row(joint, esc(source), f"{take.mask[:, j].mean():.1%}")
    out.print(table)


@app.command()
def merge(
    parts: Annotated[list[str], typer.Argument(help="Shard outputs (NPZ written with --shard K/N), files or a glob.")],
    output: Output,
    aggregate: Annotated[str, typer.Option(help="For lift parts: none, mean or median over hypotheses.")] = "none",
    fmt: Fmt = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Join the parts of a sharded job into the file a single-process run writes.

    Example: [bold]gfpose merge "synth.part*.npz" -o synth.npz[/]
    """
    STATE["quiet"] = quiet
    from gfpose_cli import io, tasks

    paths = expand(parts)
    check_output(output, force)
    merged = tasks.aggregate(tasks.merge_shards([io.read(p, sanity=False) for p in paths]), aggregate)
    write_take(merged, output, fmt, force)
    info(f"[green]wrote[/] {esc(output)}: {merged.n_frames} frames from {len(paths)} parts")


@app.command()
def train(
    data: Annotated[list[str], typer.Argument(help="Pose files (NPZ/CSV/BVH), folders, globs, or the archives in shared/data.")],
    output: Output,
    task: Annotated[str, typer.Option(help="prior, lift or complete3d.")] = "prior",
    mask: Annotated[str, typer.Option(help="Masking strategy, e.g. HPJ-001 or a mix HPJ-001+HPJ-020 (default per task).")] = "",
    steps: Annotated[int, typer.Option(help="Total optimiser steps (a resumed run continues to this number).")] = 10000,
    batch_size: Annotated[int, typer.Option(help="Poses per step.")] = 1000,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 2e-4,
    lr_schedule: Annotated[str, typer.Option(help="constant or cosine (decays to 0 at --steps).")] = "constant",
    warmup: Annotated[int, typer.Option(help="Linear learning-rate warm-up steps.")] = 500,
    ema: Annotated[float, typer.Option(help="EMA decay of the saved weights.")] = 0.9999,
    width: Annotated[int, typer.Option(help="Hidden width of the residual MLP.")] = 1024,
    blocks: Annotated[int, typer.Option(help="Residual blocks.")] = 2,
    dropout: Annotated[float, typer.Option(help="Dropout probability inside the residual blocks.")] = 0.0,
    mirror: Annotated[bool, typer.Option("--mirror/--no-mirror", help="Random left/right mirroring.")] = False,
    bone_scale: Annotated[float, typer.Option(help="Random body proportions: std of each bone's log length factor (left/right alike; 0.05 = 5 %); 0 = off.")] = 0.0,
    balance: Annotated[float, typer.Option(help="Family share ~ size^balance (1 = uniform over poses, 0 = equal per family).")] = 0.5,
    holdout: Annotated[bool, typer.Option("--holdout/--no-holdout", help="Leave out the held-out subjects (data.py).")] = True,
    skeleton_map: MapOpt = None,
    units: Units = None,
    strict: Annotated[bool, typer.Option("--strict", help="Stop at the first input that cannot be used instead of skipping it.")] = False,
    resume: Annotated[Optional[Path], typer.Option(help="Continue a run from its checkpoint (bit for bit on the same device).")] = None,
    init_from: Annotated[Optional[Path], typer.Option(help="Warm start from a checkpoint's weights (new optimiser, step 0).")] = None,
    export: Annotated[Optional[Path], typer.Option(help="Also write a small fp16 shipping copy here at each checkpoint.")] = None,
    checkpoint_every: Annotated[float, typer.Option(help="Seconds between checkpoints.")] = 300.0,
    device: Device = "auto",
    seed: Seed = 0,
    force: Annotated[bool, typer.Option("--force", "-f", help="Start over even though -o already holds a checkpoint.")] = False,
    quiet: Quiet = False,
) -> None:
    """Fit a score model by denoising score matching; checkpoints periodically and resumes with --resume.

    Example: [bold]gfpose train ../shared/data/cmu-bvh.tar.xz --task prior --steps 20000 -o runs/prior.pt[/]
    """
    STATE["quiet"] = quiet
    import torch

    from gfpose_cli.training import data as data_mod
    from gfpose_cli.model import checkpoint
    from gfpose_cli.training.trainer import TrainConfig, Trainer
    from gfpose_cli.tasks import resolve_device

    cfg = TrainConfig(task=task, mask=mask, steps=steps, batch_size=batch_size, lr=lr, lr_schedule=lr_schedule,
                      warmup=warmup, ema=ema, width=width, blocks=blocks, dropout=dropout, mirror=mirror, bone_scale=bone_scale, seed=seed,
                      checkpoint_every_s=checkpoint_every, extra={"balance": balance})
    from gfpose_cli.training import distributed

    if output.exists() and resume is None and not force:
        raise InputError(f"{output}: already holds a checkpoint; continue it with --resume {output}, "
                         "or pass --force to start over")
    dist_ctx, dev = distributed.from_environment(resolve_device(device))
    if not dist_ctx.is_main:
        STATE["quiet"] = True
    elif dist_ctx.active:
        info(f"torchrun: {dist_ctx.world} processes, {cfg.batch_size // dist_ctx.world} poses each per step")
    paths = data_mod.expand_inputs(data)
    skipped: Optional[list[tuple[str, str]]] = None if strict else []
    with progress_bar("reading training data", len(paths)) as update:
        pose_set = data_mod.load_pose_files(paths, lambda _name: None, skeleton_map, units, skipped)
        update(len(paths), len(paths))
    if skipped:
        table = Table(title=f"{len(skipped)} training inputs skipped (--strict stops instead)")
        table.add_column("input")
        table.add_column("why", overflow="fold")
        for name, why in skipped:
            why = why.split(": ", 1)[1] if why.startswith(name.split(" (")[0] + ":") else why
            table.add_row(esc(name), esc(why if len(why) <= 150 else why[:147].rsplit(" ", 1)[0] + " ..."))
        err.print(table)
    train_set, held = pose_set.split() if holdout else (pose_set, pose_set.subset(pose_set.take < 0))
    if len(train_set.poses) == 0:
        raise InputError("no training poses left after removing the held-out subjects; pass --no-holdout")
    summary = {**pose_set.summary(), "inputs": [str(p) for p in paths], "holdout": holdout,
               "skipped": [name for name, _ in skipped or []]}
    info(f"training data: {summary['takes']} takes, {len(train_set.poses)} training poses, "
         f"{len(held.poses)} held-out poses")
    weights = torch.from_numpy(train_set.sampling_weights(balance))
    trainer = Trainer(cfg, torch.from_numpy(train_set.poses), torch.from_numpy(held.poses), summary, dev, weights,
                      dist_ctx)
    if init_from is not None:
        trainer.init_from(checkpoint.read(init_from), init_from)
        info(esc(f"initialised from {init_from}"))
    if resume is not None:
        trainer.load_state(checkpoint.read(resume), resume)
        info(esc(f"resumed {resume} at step {trainer.step}"))
    if trainer.step >= cfg.steps:
        info(f"already at step {trainer.step} >= --steps {cfg.steps}; nothing to do")
        return
    with progress_bar(f"training {task}", cfg.steps) as update:
        def on_step(step: int, loss: float) -> None:
            if step % 20 == 0:
                update(step, cfg.steps)

        def on_ckpt(step: int, loss: float, val: float) -> None:
            held_out = f"held-out loss {val:.4f}" if val == val else "no held-out poses"
            info(esc(f"step {step}: loss {loss:.4f}, {held_out} -> {output}"))

        try:
            trainer.run(output, export, on_step, on_ckpt)
            distributed.shutdown()
        except KeyboardInterrupt:
            err.print(esc(f"stopped at step {trainer.step}; checkpoint saved to {output}. Resume with: "
                          f"gfpose train {' '.join(data)} --task {task} --steps {steps} --resume {output} -o {output}"))
            raise typer.Exit(130)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: temp files removed, resume state kept


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning known errors into one line and an exit code."""
    import signal

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)  # a batch scheduler's kill cleans up like Ctrl-C
    try:
        result = app(args=argv, standalone_mode=False)
        if isinstance(result, int) and result:
            sys.exit(result)
    except GfposeError as exc:
        err.print(f"[red]error:[/] {esc(exc)}")
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        if isinstance(exc, USAGE_ERROR):
            exc.show()
            sys.exit(2)
        if STATE["debug"]:
            raise
        err.print(f"[red]internal error:[/] {type(exc).__name__}: {esc(exc)} (rerun with --debug for the traceback)")
        sys.exit(1)

"""gfpose generate: poses from the prior, around partial takes, with camera views, placed in the world."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from gfpose_cli.core.errors import InputError
from gfpose_cli.io.npz import PoseStream
from gfpose_cli.util.provenance import file_digest

from gfpose_cli.cli.app import STATE, app, err
from gfpose_cli.cli.options import InFmt, OtherSubjectOpt, Output, Weights, Device, Seed, BatchSize, Sampler, Steps, Temperature, Precision, Quiet, Force, MapOpt, ForceRead, Units, ShardOpt
from gfpose_cli.cli.common import progress_bar, esc, info, warn, sampler_options, check_output, read_take, write_take, get_shard, part_of


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
    from gfpose_cli.core.skeleton import joint_indices

    try:
        return joint_indices(v for v in (text or "").split(","))
    except ValueError as exc:
        raise InputError(f"--free {exc}") from None


def placement_setup(yaw: Optional[str], floor: bool, area: Optional[str], trajectory: Optional[Path],
                    skeleton_map: Optional[str], units: Optional[str], subject: Optional[str] = None,
                    in_fmt: Optional[str] = None):
    """The Placement asked for by generate's world-space options."""
    from gfpose_cli.kinematics.placement import Placement, trajectory_from_take

    yaw_range = _pair(yaw, "yaw") if yaw else None
    area_m = _pair(area, "area") if area else None
    if area_m and min(area_m) < 0:
        raise InputError("--area W,D needs sizes of 0 or more (metres)")
    path_roots = path_yaw = None
    if trajectory is not None:
        path_roots, path_yaw = trajectory_from_take(read_take(trajectory, skeleton_map, subject, in_fmt, units).positions,
                                                    str(trajectory))
    return Placement(yaw_range, floor, area_m, path_roots, path_yaw, str(trajectory) if trajectory else None)


@app.command()
def generate(
    output: Output,
    n: Annotated[int, typer.Option("--n", help="Number of poses to generate.")] = 1000,
    weights: Weights = None,
    device: Device = "auto",
    seed: Seed = 0,
    batch_size: BatchSize = None,
    sampler: Sampler = "dpm2m",
    steps: Steps = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="npz, csv, bvh, c3d, or folder (a dataset folder of NPZ shards and a manifest); default from -o's extension.")] = None,
    temperature: Temperature = None,
    precision: Precision = "auto",
    compile: Annotated[bool, typer.Option("--compile", help="Build the network with torch.compile first (about 20 s the first time, cached on the machine for later runs; then about 1.5x faster in bf16 on an AMX CPU: --n 177200 in 42 s instead of 58); for long jobs.")] = False,
    dedupe: Annotated[Optional[float], typer.Option("--dedupe", help="Drop a pose within this many mm (P-MPJPE) of one already kept, and draw more until N are kept.")] = None,
    condition: Annotated[Optional[Path], typer.Option("--condition", help="Generate around the partial 3D poses of this file (pose i from frame i mod F): its missing joints, and those named by --free, are sampled by the completion model.")] = None,
    free: Annotated[Optional[str], typer.Option("--free", help="With --condition: body parts or joints to resample, e.g. left_arm,right_arm or RWrist.")] = None,
    skeleton: Annotated[Optional[Path], typer.Option("--skeleton", help="A 3D take of one performer (BVH, ASF/AMC, C3D, NPZ: a calibration or range-of-motion trial): every pose is theirs, sampled by the prior that reads bone lengths (weights/prior-bones.pt) given their lengths, then fitted to them exactly. --map/--units apply to it.", exists=True, dir_okay=False)] = None,
    skeleton_map: MapOpt = None,
    subject: OtherSubjectOpt = None,
    in_fmt: InFmt = None,
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
    gfpose_cli.training.synthetic.SyntheticPoses loads. --condition generates around partial poses,
    --temperature and --dedupe trade variety, --yaw/--floor/--area/--trajectory place poses in
    the world (random cameras then aim at each pelvis; a fixed rig stays where it is), --skeleton
    makes every pose one performer's.

    Example: [bold]gfpose generate --n 177200 --cameras 4 -o synth/ --format folder[/]
    Example: [bold]gfpose generate --n 5000 --condition take.c3d --free left_arm,right_arm -o arms.npz[/]
    Example: [bold]gfpose generate --n 20000 --skeleton actor_rom.bvh --cameras 4 -o actor/ --format folder[/]
    """
    STATE["quiet"] = quiet
    STATE["force_read"] = force_read
    from gfpose_cli.evaluation import metrics
    from gfpose_cli import tasks

    if not output.suffix and not fmt:
        raise InputError(f"{output}: give the output a file extension (.npz, .csv, .bvh, .c3d, .trc) or pass --format")
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
    if skeleton is not None and condition is not None:
        raise InputError("--skeleton: a --condition file gives its own performer's bone lengths; give one of the two")
    placement = placement_setup(yaw, floor, area, trajectory, skeleton_map, units, subject, in_fmt)
    partial = read_take(condition, skeleton_map, subject, in_fmt, units) if condition is not None else None
    drop = free_joints(free)
    if partial is not None and partial.positions.ndim == 3 and partial.mask.all() and not drop:
        warn(esc(f"{condition}: every joint is given in every frame, so every pose copies the file; "
                 "name what to resample with --free"))
    if kind != "folder":
        check_output(output, force)
    opts = sampler_options(sampler, steps, batch_size, seed, device, temperature, precision, compile)
    lengths = None if skeleton is None else tasks.performer_skeleton(read_take(skeleton, skeleton_map, subject, in_fmt, units))
    runner = (tasks.Runner.for_task("complete3d", weights, opts) if partial is not None
              else tasks.prior_runner(weights, tasks.generate_options(opts), bones=lengths is not None))
    # a run longer than one chunk keeps its finished chunks, so the same command resumes after a kill
    job = {"task": "generate", "n": n, "shard": shard, "dedupe_mm": dedupe,
           "condition": None if condition is None else file_digest(condition), "free": free,
           "skeleton": None if skeleton is None else file_digest(skeleton)}
    journal = tasks.job_journal(runner, output, job, force) if n > runner.opts.batch_size else None
    if journal and journal.resumed:
        info(esc(f"resuming: {journal.resumed} finished chunks found in {journal.folder}"))
    dedupe_m = None if dedupe is None else dedupe / 1000.0
    # plain NPZ poses of a job of several chunks are compressed into the file chunk by chunk while the
    # next chunk samples; the part file lives in the resume folder until it is complete
    stream = (PoseStream(output, force=force, scratch=journal.folder) if journal and kind == "npz" and not views
              and tasks.streams_poses(condition=partial, dedupe_m=dedupe_m, placement=placement) else None)
    t0 = time.perf_counter()
    try:
        with progress_bar("generating", n) as update:
            take = tasks.generate_poses(runner, n, condition=partial, free=drop, placement=placement, seed=seed,
                                        dedupe_m=dedupe_m, shard=get_shard(shard), journal=journal, progress=update,
                                        sink=stream.put if stream else None, lengths=lengths)
    except BaseException as exc:
        if stream:
            stream.abort(exc)
        if journal and isinstance(exc, KeyboardInterrupt):
            err.print(esc(f"interrupted; finished chunks are kept in {journal.folder}: run the same command again to resume"))
        raise
    if stream:
        stream.finish(take)
        note = ""
    elif views or kind == "folder":
        extra = {"temperature": runner.temperature, "dedupe_mm": dedupe, "drawn": take.report.drawn,
                 "condition": None if condition is None else str(condition), "free": free,
                 "placement": placement.describe() if placement.active() else None,
                 "skeleton": None if skeleton is None else str(skeleton)}
        note = write_dataset(take, output, kind, views, force, runner, n, seed, extra)
    else:
        note = write_take(take, output, fmt, force)
    if journal:
        journal.finish()
    drawn = take.report.drawn
    if take.n_frames == 0:  # an empty part of a sharded job: more parts than chunks of work
        info(f"[green]wrote[/] {esc(output)}: {esc(part_of(take).rstrip('; ') or '0 poses')}")
        return
    stats = metrics.plausibility(take.positions)  # placing a pose (yaw, shift) changes none of these
    info(f"[green]wrote[/] {esc(output)}: {take.n_frames} poses in {time.perf_counter() - t0:.1f} s"
         + (f" ({drawn} drawn, {drawn - take.n_frames} near-duplicates dropped)" if drawn else "")
         + f"; height {stats['height_mean_m']:.2f}±{stats['height_std_m']:.2f} m, "
         f"bone-length CV {stats['bone_length_cv']:.1%}, L/R asymmetry {stats['symmetry_error']:.1%}"
         + (f"; {esc(note)}" if note else ""))


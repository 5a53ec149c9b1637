"""gfpose lift, complete and denoise: the tasks that take a file in and write one out."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gfpose_cli.core.errors import InputError, flag, word
from gfpose_cli.core.take import CompleteReport, DenoiseReport
from gfpose_cli.io.keypoints2d import in_pixels, parse_image_size, upside_down

from gfpose_cli.cli.app import STATE, app
from gfpose_cli.cli.options import OtherSubjectOpt, Output, Weights, Device, Seed, BatchSize, Sampler, Steps, Temperature, Precision, Quiet, Force, Fmt, AddJoints, MapOpt, SubjectOpt, InFmt, ForceRead, Units, FailFast, ShardOpt, SkeletonOpt, RefineOpt, HeightOpt, ImageSizeOpt, VideoFps
from gfpose_cli.cli.common import progress_bar, esc, sampler_options, run_batch, read_take, read_takes, write_take, get_shard, part_of, say_notes, warn, at_rate, check_hypotheses_fit


@app.command()
def lift(
    inputs: Annotated[list[str], typer.Argument(help="2D keypoints in pixels, or normalised with --image-size (NPZ, CSV: gfpose's or a detector's of named keypoints, COCO or MMPose JSON, OpenPose-format folders), files, folders or globs.")],
    output: Output,
    hypotheses: Annotated[int, typer.Option("--hypotheses", "-s", help="3D hypotheses per frame (S). Frame by frame, one is the sampler's point estimate (the same answer every run; with --temperature, a random draw) and more are random draws.")] = 1,
    aggregate: Annotated[str, typer.Option(help="none keeps all S hypotheses; mean or median collapses them.")] = "none",
    per_frame: Annotated[bool, typer.Option("--per-frame", help="Lift every frame on its own (no smoothing, no bone-length holding): for collections of unrelated images. Takes are lifted along time by default.")] = False,
    max_gap: Annotated[float, typer.Option("--max-gap", help="Seconds: the whole person missing for up to this long is bridged along the take; longer absences stay empty (a single keypoint missing is bridged up to 0.25 s, longer filled by the model from the rest of the body).", min=0.0)] = 1.0,
    fps: VideoFps = None,
    skeleton: SkeletonOpt = None,
    height: HeightOpt = None,
    image_size: ImageSizeOpt = None,
    skeleton_map: MapOpt = None,
    subject: OtherSubjectOpt = None,
    units: Units = None,
    refine: RefineOpt = True,
    weights: Weights = None,
    device: Device = "auto",
    seed: Seed = 0,
    batch_size: BatchSize = None,
    sampler: Sampler = "dpm2m",
    steps: Steps = None,
    temperature: Temperature = None,
    precision: Precision = "auto",
    fmt: Fmt = None,
    in_fmt: InFmt = None,
    shard: ShardOpt = None,
    force_read: ForceRead = False,
    fail_fast: FailFast = False,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Lift 2D keypoints to S plausible 3D poses per frame (camera frame: x right, y down, z forward; metres).

    A take (a video's detections: frames of one file that follow each other) is lifted along time:
    confidence-weighted, left/right swaps undone, short gaps bridged, smooth, with the performer's
    bone lengths held. Unrelated images (or --per-frame, or --shard) are lifted one frame at a time.
    Missing keypoints (NaN / empty cells / mask / low confidence) are allowed and filled by the model.
    2D inputs: NPZ/CSV in pixels (a detector's CSV of named keypoints too: nose_x, left_eye_x, ...,
    MediaPipe's landmarks, DeepLabCut's CSV; an NPZ of x, y, score triplets, in COCO-17's keypoint
    order, or a detector's 18, 25, 26 or 133), COCO-17 JSON (also Halpe-26, COCO-WholeBody), MMPose
    prediction JSON, OpenPose folders (BODY_25, BODY_25B, COCO-18), OpenPose-format folders of
    Pose2Sim/Sports2D and YOLO pose label folders (with --image-size).
    Normalised coordinates (within 0..1) are said; --image-size reads them as pixels.

    How big the performer is cannot be told from 2D: the lifter draws a body of its training
    data's size. --skeleton gives the performer's own (any 3D take of them), and the result is
    scaled to it with their bone lengths held; the lifting is then done by a second lifter that reads
    those lengths (weights/lift-bones.pt, followed on takes by its own refiner, refine-bones.pt).
    Without one, --height (1.78, 178cm, 5ft10) scales the lifted take to the performer's standing height.

    Example: [bold]gfpose lift openpose_json_dir/ -o lifted.bvh --skeleton actor_rom.bvh[/]
    """
    STATE["quiet"] = quiet
    STATE["force_read"] = force_read  # for the --skeleton file
    from gfpose_cli import io, tasks

    if hypotheses < 1:
        raise InputError("--hypotheses must be at least 1")
    lengths = performer_lengths(skeleton, skeleton_map, units, subject)
    height = check_size(lengths, height)
    size = parse_image_size(image_size) if image_size is not None else None
    opts = sampler_options(sampler, steps, batch_size, seed, device, temperature, precision)
    # with a skeleton, the lifter that reads the performer's bone lengths (and, on takes, its own refiner)
    runner = tasks.lift_runner(weights, opts, lengths)

    def work(src: Path, dst: Path) -> str:
        check_hypotheses_fit(dst, fmt, hypotheses, aggregate, shard)
        kp = at_rate(io.read(src, fmt=in_fmt), fps)
        say_notes(src, kp)  # e.g. a detector's frames without a person, placed by their number
        kp = pixels(kp, size, src)
        along_time = not per_frame and shard is None and tasks.looks_like_2d_sequence(kp)
        with progress_bar(f"lifting {src.name}", kp.n_frames * hypotheses) as update:
            if along_time:
                result = tasks.lift_take(runner, kp, hypotheses=hypotheses, max_gap_s=max_gap, lengths=lengths,
                                         refine=refine, height=height, progress=update)
            else:
                result = tasks.lift(runner, kp, hypotheses=hypotheses, progress=update, shard=get_shard(shard),
                                    lengths=lengths, height=height)
        note = write_take(result if shard else tasks.aggregate(result, aggregate), dst, fmt, force)
        empty = int((~result.mask.any(1)).sum())
        r = result.report
        cuts = getattr(r, "cuts", ())
        how = ("along the take" + (", refined" if r.refined else "")
               + (f", in {len(cuts) + 1} shots (new shot at frame{'s' if len(cuts) > 1 else ''} "
                  f"{', '.join(map(str, cuts))}: the person jumps across the image: a cut, or another person taken; each shot lifted alone)"
                  if cuts else "")) if along_time else (
            "frame by frame" + ("" if per_frame or shard else " (its frames do not follow each other: unrelated images)"))
        extra = [f"{r.swaps} left/right swaps undone" if along_time and r.swaps else "",
                 f"{r.bridged} missing keypoints bridged" if along_time and r.bridged else "",
                 scaled_note(r.performer_scale, height)]
        if result.shard is not None and result.n_frames == 0:
            return part_of(result).rstrip("; ")
        head = f"{part_of(result)}{result.n_frames} frames x "
        return f"{head}{hypotheses} hypotheses, lifted {how}" + "".join(f"; {e}" for e in extra if e) + (
            f"; {empty} frames with fewer than 2 keypoints left empty (NaN)" if empty else "") + (
            f"; {note}" if note else "")

    run_batch(inputs, output, fmt, force, work, in_fmt, fail_fast)


@app.command()
def complete(
    inputs: Annotated[list[str], typer.Argument(help="Takes with missing joints or markers: 3D mocap (C3D, TRC, BVH, ASF/AMC, NPZ, CSV, marker exports) or 2D keypoints; files, folders or globs.")],
    output: Output,
    hypotheses: Annotated[int, typer.Option("--hypotheses", "-s", help="Completions per frame (S). Frame by frame, one is the sampler's point estimate (with --temperature, a random draw) and more are random draws.")] = 1,
    aggregate: Annotated[str, typer.Option(help="With -s S: none keeps all S completions (NPZ, CSV); mean or median collapses them to one pose per frame (what BVH, C3D and TRC hold).")] = "none",
    keep_observed: Annotated[bool, typer.Option("--keep-observed/--no-keep-observed", help="Observed joints keep their values (--no-keep-observed implies --per-frame).")] = True,
    per_frame: Annotated[bool, typer.Option("--per-frame", help="Treat frames as unrelated poses (the paper's setting): one completion per frame, no smoothing along time, no bone-length holding.")] = False,
    weights: Weights = None,
    device: Device = "auto",
    seed: Seed = 0,
    batch_size: BatchSize = None,
    sampler: Sampler = "dpm2m",
    steps: Steps = None,
    temperature: Temperature = None,
    precision: Precision = "auto",
    fmt: Fmt = None,
    skeleton_map: MapOpt = None,
    subject: SubjectOpt = None,
    in_fmt: InFmt = None,
    units: Units = None,
    skeleton: SkeletonOpt = None,
    height: HeightOpt = None,
    image_size: ImageSizeOpt = None,
    fps: VideoFps = None,
    refine: RefineOpt = True,
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
    right; then bone lengths are held to the performer's. A pelvis and hips unseen for a while are
    carried by the spine, thorax and shoulders. A 2D take is lifted along time as `lift` does it
    (--per-frame: frame by frame).

    A C3D output of a C3D input is the same file with its marker gaps filled (residual 0, listed
    under the GFPOSE parameter group); everything else in it is kept. A TRC or marker export
    written to C3D or TRC keeps its markers, gaps filled, then the 17 joints.

    Example: [bold]gfpose complete take01.c3d -o filled.c3d[/]
    """
    STATE["quiet"] = quiet
    STATE["force_read"] = force_read
    from gfpose_cli import tasks

    if hypotheses < 1:
        raise InputError("--hypotheses must be at least 1")
    lengths = performer_lengths(skeleton, skeleton_map, units, subject)  # the inputs' performer's
    height = check_size(lengths, height)
    size = parse_image_size(image_size) if image_size is not None else None
    opts = sampler_options(sampler, steps, batch_size, seed, device, temperature, precision)
    runners: dict[str, object] = {}

    def work(src: Path, dst: Path) -> str:
        check_hypotheses_fit(dst, fmt, hypotheses, aggregate, shard)
        takes = read_takes(src, skeleton_map, subject, in_fmt, units, fps=fps)
        done = [one(src, take) for take in takes]
        if not shard:  # parts keep their hypotheses for `gfpose merge --aggregate`
            done = [(tasks.aggregate(r, aggregate), line) for r, line in done]
        note = write_take([r for r, _ in done] if len(done) > 1 else done[0][0], dst, fmt, force, add_joints)
        return "; ".join(f"{t.provenance.subject}: {line}" if len(takes) > 1 else line
                         for t, (_, line) in zip(takes, done)) + (f"; {esc(note)}" if note else "")

    def one(src: Path, take):
        task = "lift" if take.dim == 2 else "complete3d"
        if take.dim == 2:
            take = pixels(take, size, src)
        elif size is not None:
            raise InputError(f"{src}: {{image_size}} is for 2D keypoints; this take is 3D")
        if task not in runners:  # with a skeleton, the lifter that reads the performer's bone lengths
            runners[task] = (tasks.lift_runner(weights, opts, lengths) if task == "lift"
                             else tasks.Runner.for_task(task, weights, opts))
        missing = int((~take.mask).sum())
        with progress_bar(f"completing {src.name}", take.n_frames * hypotheses) as update:
            if take.dim == 2 and not per_frame and shard is None and tasks.looks_like_2d_sequence(take):
                # a partial 2D take is lifted as lift does it: along the take, swaps undone, gaps bridged
                result = tasks.lift_take(runners[task], take, hypotheses=hypotheses, lengths=lengths, refine=refine,
                                         height=height, progress=update)
                result = result if hypotheses > 1 else tasks.aggregate(result, "mean")
            elif take.dim == 2:
                result = tasks.lift(runners[task], take, hypotheses=hypotheses, progress=update, shard=get_shard(shard),
                                    lengths=lengths, height=height)
                result = result if hypotheses > 1 or shard else tasks.aggregate(result, "mean")
            elif lengths is not None or height is not None:
                raise InputError(f"{src}: --{'skeleton' if lengths is not None else 'height'} sizes a take lifted from "
                                 "2D; this take is 3D and holds its performer's bone lengths already")
            else:
                result = tasks.complete(runners[task], take, hypotheses=hypotheses, keep_observed=keep_observed,
                                        progress=update, shard=get_shard(shard),
                                        temporal=keep_observed and not per_frame)
        left = result.report.frames_left if isinstance(result.report, CompleteReport) else 0
        carried = result.report.pelvis_carried if isinstance(result.report, CompleteReport) else 0
        scale = getattr(result.report, "performer_scale", None)
        how = "" if result.report.temporal else " (frame by frame)"
        if result.shard is not None:  # a part: what was missing in its own frames
            missing = int((~take.mask[result.shard.start:result.shard.stop]).sum())
        return result, (part_of(result) + f"{missing - int((~result.mask).sum())} missing joint samples filled{how}"
                        + (f"; {scaled_note(scale, height)}" if scale is not None else "")
                        + (f"; the unseen pelvis of {carried} frames carried by the trunk" if carried else "")
                        + (f"; {left} frames without the pelvis (or both hips) and another joint"
                           + (", nor the spine and two of the thorax and shoulders to carry it," if result.report.temporal else "")
                           + " left as they were" if left else ""))

    run_batch(inputs, output, fmt, force, work, in_fmt, fail_fast)


def pixels(kp, size: tuple[int, int] | None, src: Path):
    """A 2D take in pixels: normalised coordinates turned into pixels with --image-size, or warned about;
    one whose y axis points up refused (warned with --force-read)."""
    kp, warning = in_pixels(kp, size, str(src))
    if warning:
        warn(esc(word(warning, flag)))
    flipped = upside_down(kp, str(src))
    if flipped and not STATE["force_read"]:
        raise InputError(flipped)
    if flipped:
        warn(esc(flipped))
    return kp


#: a person's standing height, metres (--height outside it is another unit or a typo)
HEIGHT_RANGE_M = (0.5, 2.6)


#: --height's units, in metres
HEIGHT_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254, '"': 0.0254, "ft": 0.3048, "'": 0.3048}
_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"


def parse_height(text: Optional[str]) -> Optional[float]:
    """--height as metres: a plain number is metres; or a number and a unit (cm, mm, m, in, ft), or feet and
    inches (5ft10, 5'10", 5 ft 10 in). None where not given; an InputError for anything else."""
    import re

    if text is None:
        return None
    t = text.strip().lower().replace("′", "'").replace("″", '"').replace("''", '"')
    if re.fullmatch(_NUMBER, t):
        return float(t)
    feet = re.fullmatch(_NUMBER + r"\s*(?:ft|feet|foot|')\s*(?:" + _NUMBER + r"\s*(?:in|inches|inch|\")?)?", t)
    if feet:
        return float(feet[1]) * HEIGHT_UNITS["ft"] + float(feet[2] or 0.0) * HEIGHT_UNITS["in"]
    one = re.fullmatch(_NUMBER + r"\s*(m|cm|mm|in|inches|inch|\")", t)
    if one:
        return float(one[1]) * HEIGHT_UNITS[{"inches": "in", "inch": "in"}.get(one[2], one[2])]
    raise InputError(f"--height {text}: not a height; give metres (1.78) or a number with a unit "
                     "(178cm, 1780mm, 70in, 5ft10, 5'10\")")


def check_size(lengths, height: Optional[str]) -> Optional[float]:
    """--height in metres (parse_height), checked against --skeleton and a person's range."""
    metres = parse_height(height)
    if lengths is not None and metres is not None:
        raise InputError("give --skeleton or --height, not both: the skeleton gives the performer's size already")
    lo, hi = HEIGHT_RANGE_M
    if metres is not None and not lo <= metres <= hi:
        raise InputError(f"--height {height}: a standing height is {lo:g}-{hi:g} m; a plain number is metres "
                         f"(e.g. 1.78, or 178cm)")
    return metres


def scaled_note(scale: Optional[float], height: Optional[float]) -> str:
    """The summary's words for a take sized to the performer (empty where it was not)."""
    if scale is None:
        return ""
    if height is not None:
        return f"scaled x{scale:.3f} to the performer's height ({height:.3g} m)"
    return f"scaled x{scale:.3f} to the performer's skeleton, bone lengths held"


def performer_lengths(skeleton: Optional[Path], skeleton_map: Optional[str], units: Optional[str],
                      subject: Optional[str] = None):
    """--skeleton: the performer's bone lengths (tasks.performer_skeleton; subject: theirs in a file of several),
    or None without one."""
    if skeleton is None:
        return None
    from gfpose_cli import io, tasks

    # a subject picks a performer where the file may hold several (a C3D, a marker export); a BVH has one
    who = subject if io.holds_performers(skeleton) else None
    return tasks.performer_skeleton(read_take(skeleton, skeleton_map, who, None, units))


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
                     + (f", {r.spikes} spike samples ignored" if r.spikes else "")
                     + (f", not across frame{'s' if len(r.breaks) > 1 else ''} {', '.join(map(str, r.breaks))} (the whole "
                        "body jumps there: two takes joined?)" if r.breaks else ""))
    parts.append((f"prior from t0 {r.t0:.3f}" + (", given the performer's bone lengths" if r.performer_lengths else ""))
                 if r.t0 is not None else "prior pass off (--t0 T runs it)")
    if r.bone_length_cv is not None:
        parts.append(f"bone lengths held (CV {r.bone_length_cv:.2%})")
    if r.bind_frames:
        parts.append(f"bind-pose frame {', '.join(map(str, r.bind_frames))} kept as it was")
    return ", ".join(parts)


@app.command()
def denoise(
    inputs: Annotated[list[str], typer.Argument(help="Noisy 3D takes (C3D, TRC, BVH, ASF/AMC, NPZ, CSV, Motive/Nexus/Qualisys exports, Xsens MVNX), files, folders or globs.")],
    output: Output,
    t0: Annotated[str, typer.Option(help="Diffusion time to start the prior from, (0-1] (larger removes more), or auto (takes: no prior pass; --per-frame: matched to the measured noise).")] = "auto",
    per_frame: Annotated[bool, typer.Option("--per-frame", help="The paper's frame-by-frame denoiser: no smoothing along time; the performer's bone lengths (measured through the noise) are held only where the frames are one performer's (a take, or --one-performer; --free-bones: never).")] = False,
    one_performer: Annotated[Optional[bool], typer.Option("--one-performer/--many-performers", help="Whether the frames are all one performer's, so the prior is given their bone lengths and they are held. Default: yes for a take, no for a set of unrelated poses.")] = None,
    hold_bones: Annotated[bool, typer.Option("--hold-bones/--free-bones", help="Fit the skeleton to the performer's median bone lengths (--free-bones keeps the take's own variation, e.g. soft tissue in marker-derived joints).")] = True,
    weights: Weights = None,
    device: Device = "auto",
    seed: Seed = 0,
    batch_size: BatchSize = None,
    sampler: Sampler = "dpm2m",
    steps: Steps = None,
    precision: Precision = "auto",
    fmt: Fmt = None,
    skeleton_map: MapOpt = None,
    subject: SubjectOpt = None,
    in_fmt: InFmt = None,
    units: Units = None,
    fps: VideoFps = None,
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

    C3D, TRC and BVH inputs written to the same format come back as the same file with its
    markers or skeleton moved onto the cleaned joints; a marker export written to C3D or TRC
    keeps its markers, moved likewise, then the 17 joints.

    Example: [bold]gfpose denoise take01.c3d -o clean.c3d[/]
    """
    STATE["quiet"] = quiet
    STATE["force_read"] = force_read
    from gfpose_cli import tasks

    start = parse_t0(t0)
    # the prior that reads bone lengths (weights/prior-bones.pt), where installed: the better denoiser of unseen bodies
    runner = tasks.prior_runner(weights, sampler_options(sampler, steps, batch_size, seed, device, precision=precision),
                                bones=True)

    def work(src: Path, dst: Path) -> str:
        takes = read_takes(src, skeleton_map, subject, in_fmt, units, fps=fps)
        results = []
        for take in takes:
            with progress_bar(f"denoising {src.name}", take.n_frames) as update:
                results.append(tasks.denoise(runner, take, t0=start, progress=update, shard=get_shard(shard),
                                             temporal=not per_frame, hold_bones=hold_bones,
                                             one_performer=one_performer))
        note = write_take(results if len(results) > 1 else results[0], dst, fmt, force, add_joints)
        said = "; ".join((f"{r.provenance.subject}: " if len(results) > 1 else "") + denoise_report(r.report)
                         for r in results)
        return f"{part_of(results[0])}{results[0].n_frames} frames; {said}" + (f"; {note}" if note else "")

    run_batch(inputs, output, fmt, force, work, in_fmt, fail_fast)


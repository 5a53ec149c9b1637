"""gfpose convert, render, maps and merge: files in, files out, no model."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import JOINTS

from gfpose_cli.cli.app import STATE, app, out
from gfpose_cli.cli.options import Output, Quiet, Force, Fmt, AddJoints, MapOpt, SubjectOpt, InFmt, ForceRead, Units, FailFast, VideoFps
from gfpose_cli.cli.common import progress_bar, esc, info, check_output, expand, run_batch, read_take, write_take, warn


@app.command()
def convert(
    inputs: Annotated[list[str], typer.Argument(help="Mocap files (C3D, TRC, BVH, ASF/AMC, NPZ, CSV, Qualisys TSV or MAT, Xsens MVNX), folders or globs.")],
    output: Output,
    skeleton_map: MapOpt = None,
    subject: Annotated[Optional[str], typer.Option("--subject", help="Performer of a multi-subject C3D or marker export (Motive or Nexus CSV, QTM TSV; its label prefix), or 'all' for one output per performer.")] = None,
    add_joints: AddJoints = False,
    joints_only: Annotated[bool, typer.Option("--joints-only", help="C3D or TRC output: the 17 joints alone, without the source's markers.")] = False,
    aggregate: Annotated[str, typer.Option("--aggregate", help="A file of S hypotheses per frame (lift -s S, complete -s S): none keeps them (NPZ, CSV), mean or median collapses them to one pose per frame (what BVH, C3D and TRC hold).")] = "none",
    fmt: Fmt = None,
    in_fmt: InFmt = None,
    units: Units = None,
    fps: VideoFps = None,
    force_read: ForceRead = False,
    fail_fast: FailFast = False,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Bring any supported file to the 17-joint skeleton (metres, Z up) as NPZ, CSV, BVH or TRC, or add the
    17 joint centres to a C3D (--add-joints). Markers come along where the output can hold them: a TRC or a
    marker export written as .c3d, a C3D or a marker export written as .trc (then the joints); --joints-only
    writes the 17 joints alone.

    Example: [bold]gfpose convert take01.c3d -o take01.npz --subject Derrick[/]
    """
    STATE["quiet"] = quiet
    STATE["force_read"] = force_read
    if joints_only and add_joints:
        raise InputError("--joints-only writes the 17 joints alone; --add-joints adds them to the source's markers: "
                         "pass one")

    def one(src: Path, dst: Path, who: Optional[str]) -> str:
        from gfpose_cli.core.take import aggregate as collapse  # torch-free, as convert stays

        take = read_take(src, skeleton_map, who, in_fmt, units, fps=fps)
        hypotheses = take.positions.shape[1] if take.positions.ndim == 4 else 1
        take = collapse(take, aggregate)
        # a BVH from convert is the 17-joint skeleton; a C3D keeps its markers (and gains joints); a TRC
        # from a C3D or a capture-software export carries the markers and the joints (OpenSim's input), a TRC
        # from a TRC is its 17 joints
        out = (fmt or dst.suffix).lower().lstrip(".")
        carry = not joints_only and (out == "c3d" or (out == "trc" and take.provenance.format != "trc"))
        note = write_take(take, dst, fmt, force, add_joints, into_source=carry)
        missing = int((~take.mask).sum())
        return f"{take.n_frames} frames" + (f", {aggregate} of {hypotheses} hypotheses" if aggregate != "none" and hypotheses > 1 else "") + (
            f", {missing} missing joint samples (NaN)" if missing else "") + (
            f"; {note}" if note else "")

    def work(src: Path, dst: Path) -> str:
        if subject != "all":
            return one(src, dst, subject)
        from gfpose_cli.io import subjects_in

        notes = []
        for who in subjects_in(src, in_fmt):
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
    end: Annotated[Optional[float], typer.Option("--end", help="Last second to draw (default: the end; a GIF or MP4 of a take longer than a minute stops a minute after --start, said).")] = None,
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
    length_s = min(t.n_frames / t.fps for _, t in takes)
    cut = None
    if end is None and output.suffix.lower() in (".gif", ".mp4") and length_s - start > MAX_ANIMATION_S:
        # a 10-minute take is 18,000 drawn frames: a quarter of an hour of drawing and a GIF nobody opens
        end = cut = start + MAX_ANIMATION_S
    with progress_bar(f"drawing {output.name}", 1) as update:
        n = draw(takes, output, fps, start, end, panels, dots, update, force=True)
    info(f"[green]wrote[/] {esc(output)}: {n} frames of {', '.join(esc(f.name) for f in files)}"
         + (f"; seconds {start:g}-{cut:g} of {length_s:.0f} (pass --end to draw more)" if cut is not None else ""))


#: the longest stretch `render` animates unless --end asks for more
MAX_ANIMATION_S = 60.0


@app.command()
def maps(
    file: Annotated[Optional[Path], typer.Argument(help="A mocap file to resolve (C3D, BVH, JSON keypoints...).")] = None,
    skeleton_map: MapOpt = None,
    subject: SubjectOpt = None,
    in_fmt: InFmt = None,
    units: Units = None,
    force_read: ForceRead = False,
    init: Annotated[bool, typer.Option("--init", help="Write a starter map for FILE (-o mymap.toml): every joint filled from the closest presets of its kind, else guessed from the names, each line commented; edit it and pass it with --map.")] = False,
    learn: Annotated[bool, typer.Option("--learn", help="Write a map learned from the markers' own motion (-o mymap.toml): segments from markers that move rigidly together (three or more each), joint centres where neighbouring segments turn about a fixed point; for a static plus range-of-motion trial of the lab's marker set, reused with --map on its other takes.")] = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Where --init or --learn writes the map (.toml).")] = None,
    force: Force = False,
) -> None:
    """List the skeleton-map presets, or show how each of the 17 joints of FILE is resolved.

    Example: [bold]gfpose maps take01.c3d --subject Derrick[/]
             [bold]gfpose maps take01.c3d --init -o mymap.toml[/]   (a starter map to edit)
             [bold]gfpose maps rom01.c3d --learn -o mymap.toml[/]   (a map learned from the markers' motion)
    """
    from gfpose_cli.io.maps import load_map, normalise_name, preset_names

    if learn:
        from gfpose_cli import io
        from gfpose_cli.io.maps.learn import learned_map, map_toml
        from gfpose_cli.util.atomic import atomic_path

        if file is None or output is None:
            raise InputError("--learn needs a FILE (a C3D) and --output mymap.toml")
        if init:
            raise InputError("pass --init (a starter map from the names) or --learn (a map from the motion), not both")
        check_output(output, force)
        names, xyz, observed = io.marker_trajectories(file, in_fmt, subject, units)
        smap, body = learned_map(names, xyz, observed, str(file), name=f"{file.stem}-learned")
        with atomic_path(output, force) as tmp:
            tmp.write_text(map_toml(smap, body, names))
        found = [j for j in JOINTS if j in smap.rigid or smap.joints.get(j)]
        missing = [j for j in JOINTS if j not in found]
        segments = "segments named by its labels" if body.source == "labels" else "rigid segments"
        info(f"[green]wrote[/] {esc(output)}: a map learned from the motion of {esc(file.name)}'s markers "
             f"({len(body.segments)} {segments}): {len(found)} joints found"
             + (f"; not found: {', '.join(missing)}" if missing else "")
             + f"; check it with `gfpose maps {esc(file.name)} --map {esc(output.name)}`")
        for note in body.notes:
            warn(esc(f"{file.name}: {note}"))
        return

    if init:
        from gfpose_cli import io
        from gfpose_cli.io.maps import starter_map
        from gfpose_cli.util.atomic import atomic_path

        if file is None or output is None:
            raise InputError("--init needs a FILE and --output mymap.toml")
        check_output(output, force)
        names, kind = io.source_names(file, in_fmt, subject)
        tree_map, read_as = io.rig_reading(file, in_fmt) if kind == "rig" else (None, {})
        if tree_map is not None:  # what the reader uses for this rig, written out to keep and edit
            from gfpose_cli.io.maps.rig import rig_map_toml

            with atomic_path(output, force) as tmp:
                tmp.write_text(rig_map_toml(tree_map, str(file)))
            info(f"[green]wrote[/] {esc(output)}: the map read off {esc(file.name)}'s rig tree (no preset names its "
                 f"joints){'; estimated: ' + ', '.join(tree_map.estimated) if tree_map.estimated else ''}; check it "
                 f"with `gfpose maps {esc(file.name)} --map {esc(output.name)}`")
            return
        text = starter_map(names, kind, str(file), read_as=read_as)
        with atomic_path(output, force) as tmp:
            tmp.write_text(text)
        guessed = text.count("# guessed from the name")
        unset = text.count('= "?"')
        info(f"[green]wrote[/] {esc(output)}: a starter map for {esc(file.name)} ({len(names)} {'markers' if kind == 'markers' else 'joints'}): "
             f"{17 - guessed - unset} joints from presets, {guessed} guessed from names"
             + (f", {unset} left for you to name (the map loads once they are)" if unset else "")
             + f"; check it with `gfpose maps {esc(file.name)} --map {esc(output.name)}`")
        return
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
    smap = getattr(take.writeback, "skeleton_map", None) or (
        load_map(take.provenance.map) if take.provenance.map in preset_names() else None)
    # the file's own names where the map reaches them through an alias or a prefix (Q_WaistLBack for LSips)
    own = [n.split("\x00")[0] for n in (getattr(take.writeback, "names", None) or [])]
    if not own and smap is not None and smap.alternatives:  # a read-only export: its names, to bind the map
        from gfpose_cli import io

        try:
            own = io.source_names(file, in_fmt, subject)[0]
        except InputError:
            own = []
        smap = smap.for_names(own) if own else smap
    have = {normalise_name(n): i for i, n in enumerate(own)}

    def named(source: str) -> str:
        i = smap._resolve(source, have) if smap is not None and have else None
        return own[i] if i is not None else source

    table = Table(title=f"{file.name}: map '{take.provenance.map or '-'}', {take.n_frames} frames")
    for col in ("joint", "from", "frames seen"):
        table.add_column(col, justify="right" if col == "frames seen" else "left")
    for j, joint in enumerate(take.joint_names):
        if smap is not None and joint in smap.rigid:  # a learned map: fixed in a segment
            source = " + ".join(f"rigid in {rp.segment or 'a segment'} ({', '.join(n for n, _ in rp.markers)})"
                                for rp in smap.rigid[joint])
        elif smap is not None and joint in smap.hip_joints:  # a marker set's hips: regression in the pelvis frame
            side = smap.hip_joints[joint]
            source = (f"{'midpoint of the ' if side == 'mid' else side + ' '}hip centre{'s' if side == 'mid' else ''} "
                      f"(Harrington, pelvis frame of {', '.join(dict.fromkeys(named(m) for m in smap.hip_markers))})")
        elif smap is not None and not smap.joints.get(joint):
            source = "(none)"
        else:
            weights: dict[str, float] = {}  # two of the map's names may be one marker of the file (LPSI, RPSI: SACR)
            for k, w in (smap.joints[joint].items() if smap else ()):
                weights[named(k)] = weights.get(named(k), 0.0) + w
            source = ", ".join(f"{k} x{w:g}" if len(weights) > 1 else k for k, w in weights.items()) if smap else "-"
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


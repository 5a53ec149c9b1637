"""What every subcommand does around its task: progress bars, messages, reading and writing takes, batches of inputs."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from gfpose_cli.core.errors import GfposeError, InputError, flag, word

from gfpose_cli.cli.app import esc, STATE, err, one_line


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


def info(message: str) -> None:
    if not STATE["quiet"]:
        err.print(message)


def warn(message: str) -> None:
    """A warning is printed even with --quiet: it says the output may not be what was meant."""
    err.print(f"[yellow]warning:[/] {one_line(message)}")


def sampler_options(sampler: str, steps: Optional[int], batch_size: Optional[int], seed: int, device: str,
                    temperature: Optional[float] = None, precision: str = "auto", compile: bool = False):
    from gfpose_cli.tasks import SamplerOptions

    return SamplerOptions(sampler=sampler, steps=steps, batch_size=batch_size, seed=seed, device=device,
                          temperature=temperature, precision=precision, compile=compile)


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
    if str(output) == "-":  # not a folder named "-": outputs are files, written whole and then moved in place
        raise InputError("-o -: gfpose writes files, not standard output; give a file (take.npz) or a folder (out/)")
    from gfpose_cli.io import WRITE_FORMATS  # imported here: the io package pulls in torch, --help should not

    to_folder = len(inputs) > 1 or output.is_dir() or not output.suffix
    names = []
    for src in inputs:
        own = (in_fmt or src.suffix.lstrip(".")).lower()
        names.append(f"{src.stem}.{(fmt or (own if own in WRITE_FORMATS else 'npz')).lower()}")
    dsts = [output / name if to_folder else output for name in names]
    if to_folder and len(set(dsts)) < len(dsts):
        # inputs of several folders share file names (day1/take01.c3d, day2/take01.c3d): each output keeps
        # its input's folder under -o, or the second would overwrite the first (or fail half-way)
        import os

        folders = [src.resolve().parent for src in inputs]
        common = Path(os.path.commonpath(folders))
        dsts = [output / folder.relative_to(common) / name for folder, name in zip(folders, names)]
        first: dict[Path, int] = {}  # output -> the input it is written from
        for b, dst in enumerate(dsts):
            a = first.setdefault(dst, b)
            if a != b:
                raise InputError(f"{inputs[a]} and {inputs[b]} would both be written to {dst}; give them "
                                 "different names or run them with different -o")
        warn(f"inputs in several folders share file names: each output keeps its input's folder under {output} "
             f"(e.g. {dsts[0]})")
    return [(src, check_output(dst, force, src)) for src, dst in zip(inputs, dsts)]


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
            info((f"[green]wrote[/] {esc(dst)}" if dst.exists() else f"{esc(src.name)}:") + (f"  {esc(word(note, flag))}" if note else ""))
        except GfposeError as exc:
            if len(pairs) == 1:
                raise
            text = exc.worded(flag)  # its {parameter} fields as the flags the user types
            results.append((src, dst, text))
            err.print(f"[red]failed[/] {esc(text if text.startswith(str(src)) else f'{src}: {text}')}")
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
              in_fmt: Optional[str] = None, units: Optional[str] = None, *, fps: Optional[float] = None):
    from gfpose_cli import io

    take = at_rate(io.read(src, fmt=in_fmt, skeleton_map=skeleton_map, subject=subject, units=units,
                           force_read=STATE["force_read"]), fps)
    _no_empty_part(src, take)
    _say_read(src, take)
    return take


def _no_empty_part(src: Path, take) -> None:
    """An empty part of a sharded job is for `gfpose merge` alone (io.check_take lets it through)."""
    if take.n_frames == 0:
        raise InputError(f"{src}: holds no frames (an empty part of a sharded job); join the parts with `gfpose merge` "
                         "first")


def check_hypotheses_fit(dst: Path, fmt: Optional[str], hypotheses: int, aggregate: str, shard) -> None:  # noqa: ANN001
    """Refuse, before any work, S hypotheses kept (--aggregate none) for an output that holds one pose per
    frame (the writer, io.world_poses, refuses them too, but only after the whole take was sampled)."""
    from gfpose_cli.io import ONE_POSE_FORMATS, one_pose_per_frame

    kind = (fmt or Path(dst).suffix.lstrip(".")).lower()
    if hypotheses > 1 and aggregate == "none" and shard is None and kind in ONE_POSE_FORMATS:
        raise InputError(one_pose_per_frame(str(dst), kind.upper(), hypotheses))


def at_rate(take, fps: Optional[float]):
    """A take at the frame rate given with --fps (None: as read), without the reader's note that it assumed
    one: a 2D take's video rate, or a 3D take's where its file gives none (a CSV without a time column, an
    NPZ without 'fps'); a 3D file that states its rate is refused (its rate is the capture's)."""
    from dataclasses import replace

    if fps is None:
        return take
    from gfpose_cli.signal.clock import ASSUMED_RATE

    assumed = any(ASSUMED_RATE in n for n in take.provenance.notes)
    if take.dim != 2 and not assumed:
        raise InputError(f"{take.provenance.path}: its file gives its frame rate ({take.fps:g} Hz); {{fps}} sets the "
                         "rate of 2D keypoints and of files that give none")
    return replace(take, fps=float(fps), provenance=take.provenance.but(
        notes=tuple(n for n in take.provenance.notes if ASSUMED_RATE not in n)))


def read_takes(src: Path, skeleton_map: Optional[str] = None, subject: Optional[str] = None,
               in_fmt: Optional[str] = None, units: Optional[str] = None, *, fps: Optional[float] = None) -> list:
    """Every performer of src as its own take (io.read_performers): all performers of a
    multi-performer C3D unless subject names one; one take for any other file. fps: a 2D take's
    video rate (at_rate)."""
    from gfpose_cli import io

    takes, left = io.read_performers(src, fmt=in_fmt, skeleton_map=skeleton_map, subject=subject, units=units,
                                     force_read=STATE["force_read"])
    takes = [at_rate(take, fps) for take in takes]
    for take in takes:
        _no_empty_part(src, take)
        _say_read(src, take)
    for line in left:
        warn(esc(word(line, flag)))
    return takes


def _say_read(src: Path, take) -> None:
    prov = take.provenance
    who = f" {prov.subject}" if prov.subject else ""
    if prov.map:
        where = "2D keypoints in pixels" if take.dim == 2 else f"up axis {prov.up or '?'}"
        info(esc(f"{src.name}{who}: map '{prov.map}', {take.n_frames} frames at {take.fps:g} Hz, {where}"
                 + (f", units {prov.units}" if prov.units else "")))
    say_notes(src, take)


def say_notes(src: Path, take) -> None:
    """What the reader of src noticed (notes on stdout, warnings on stderr)."""
    for note in take.provenance.notes:
        info(esc(f"{src.name}: {word(note, flag)}"))
    for line in take.provenance.warnings:
        warn(esc(word(line, flag)))


def write_take(take, dst: Path, fmt: Optional[str], force: bool, add_joints: bool = False,
               into_source: bool = True) -> str:
    """Write a take; returns a short note on what the writer did (markers moved/filled, BVH fit)."""
    from gfpose_cli import io

    first = take[0] if isinstance(take, list) else take
    if first.shard is not None and (fmt or dst.suffix.lstrip(".")).lower() != "npz":
        raise InputError(f"{dst}: shard outputs must be NPZ (they carry the part's place for `gfpose merge`)")
    if isinstance(take, list):  # the performers of one C3D (read_takes)
        if any(t.shard is not None for t in take) and len(take) > 1:
            raise InputError(f"{dst}: shards hold one performer; pick one with {{subject}}")
        summary = io.write_performers(take, dst, fmt=fmt, force=force, add_joints=add_joints) or {}
    else:
        summary = io.write(take, dst, fmt=fmt, force=force, add_joints=add_joints, into_source=into_source) or {}
    notes = [f"{summary['performers']} performers"] if summary.get("performers") else []
    edited = any(t.report is not None for t in (take if isinstance(take, list) else [take]))
    swapped = summary.get("swapped") or 0
    put_right = f"{swapped} samples of swapped labels put right" if swapped else ""
    if "markers" in summary and summary["markers"] and not edited:  # convert: nothing to follow
        notes.append(f"{summary['markers']} markers as they were" + (f" but {put_right}" if swapped else ""))
    elif "markers" in summary and summary["markers"]:
        notes.append(f"{summary['riding']} of {summary['markers']} markers ride the skeleton: "
                     f"{summary['moved']} samples moved" + (f" ({put_right})" if swapped else "")
                     + f", {summary['filled']} filled")
    if summary.get("no_row"):
        notes.append(f"{summary['no_row']} samples filled in frames the source skips (no row to write them to) left "
                     "out: write NPZ, C3D or BVH to keep them")
    if summary.get("held") and edited:
        notes.append(f"{summary['held']} samples held (labels not told, or off the body) left as they were")
    empty = summary.get("empty") or []
    if empty and edited:  # a marker the take never saw: no offset to its segment, so no place to put it
        shown = ", ".join(empty[:6]) + (f", ... ({len(empty)} in all)" if len(empty) > 6 else "")
        notes.append(f"{'a marker' if len(empty) == 1 else f'{len(empty)} markers'} never seen in the take, left "
                     f"empty: {shown}")
    kept = summary.get("kept") or {}
    if kept:
        words = {"model output": ("model output", "model outputs"), "virtual": ("virtual point", "virtual points"),
                 "unlabelled": ("unlabelled trajectory", "unlabelled trajectories")}
        notes.append("left untouched: " + ", ".join(f"{n} {words.get(k, (k, k))[n != 1]}" for k, n in sorted(kept.items())))
    left_out = summary.get("left_out") or {}
    if left_out.get("model output"):
        n = left_out["model output"]
        notes.append(f"left out: {n} model output{'s' if n != 1 else ''} (angles, moments ...: a new file cannot keep "
                     "them as what they are; a write-back into the source's own format keeps them)")
    if summary.get("points_left_out"):
        n, why = summary["points_left_out"]
        notes.append(f"left out: the source's {n} points ({why})")
    if summary.get("renamed"):
        shown = ", ".join(summary["renamed"][:4]) + (", ..." if len(summary["renamed"]) > 4 else "")
        notes.append(f"repeated marker names made unique, as a TRC needs ({shown})")
    if summary.get("joints_added"):
        notes.append(f"{summary['joints_added']} joint points")
    if summary.get("camera_frame"):
        notes.append("poses in the camera's frame (x right, y down, z forward), which a CSV cannot record (NPZ records "
                     "it; BVH, C3D and TRC are written upright)")
    if "bvh" in summary:
        notes.append(f"BVH {summary['bvh']}, largest joint misfit {summary['max_error_m'] * 1000:.1f} mm")
    return "; ".join(notes)


def part_of(take) -> str:
    """The start of a sharded part's summary: which frames of the whole it holds ("" for a whole take)."""
    place = take.shard
    if place is None:
        return ""
    if place.stop == place.start:  # more parts than chunks of work: this one has none
        return (f"part {place.index} of {place.count}: no frames (the {place.total} fit in fewer parts; `gfpose merge` "
                "takes this part as it is); ")
    return f"part {place.index} of {place.count}: frames {place.start}-{place.stop} of {place.total}; "


def get_shard(text: Optional[str]):
    from gfpose_cli.tasks import parse_shard

    return parse_shard(text)


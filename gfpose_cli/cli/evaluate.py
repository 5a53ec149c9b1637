"""gfpose evaluate: scores, set statistics and the paper's protocols."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from gfpose_cli.core.errors import InputError

from gfpose_cli.cli.app import app, err, out
from gfpose_cli.cli.options import Device, Seed, BatchSize, Sampler, Steps, Precision, InFmt
from gfpose_cli.cli.common import esc, info, sampler_options, warn


@app.command()
def evaluate(
    pred: Annotated[Optional[Path], typer.Argument(help="Predicted poses (NPZ/CSV), one per frame or S hypotheses per frame.")] = None,
    gt: Annotated[Optional[Path], typer.Argument(help="Ground-truth poses (any 3D mocap file gfpose reads: NPZ, CSV, BVH, C3D, TRC...) with the same frames.")] = None,
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
    batch_size: BatchSize = None,
    sampler: Sampler = "dpm2m",
    steps: Steps = None,
    precision: Precision = "auto",
    in_fmt: InFmt = None,
    subject: Annotated[Optional[str], typer.Option("--subject", help="Performer of a multi-subject C3D or marker export given as PRED or GT (its label prefix).")] = None,
    skeleton_map: Annotated[Optional[str], typer.Option("--map", help="Skeleton map for GT (a BVH, ASF or C3D): a preset name or your .toml.")] = None,
    units: Annotated[Optional[str], typer.Option("--units", help="Length unit of GT when its own (or the guess) is wrong: m, cm, mm, in, ft, acclaim, or metres per unit.")] = None,
) -> None:
    """Score predictions: MPJPE (P1), P-MPJPE (P2), minMPJPE over hypotheses, PCK@150mm, jitter, bone-length CV.

    A lift (camera frame) scored against world mocap is said to be so, with P1 after one rotation of the
    whole take (mpjpe_take_aligned_mm) beside the plain P1.

    With --stats SET: is a pose set plausible (bone lengths, symmetry, joint-angle limits) and
    diverse, and with --reference REAL does it cover the real poses (coverage, recall) without
    leaving them (precision)? Distances are P-MPJPE.

    With --protocol P --data MOCAP: the measurements of bench/accuracy.py (the paper's protocols) on your
    own poses: lifting from exact, noisy and partial 2D of random virtual cameras, completing each
    limb, denoising at the paper's noise levels, and generation, with the paper's figures and our
    targets beside them.

    Example: [bold]gfpose evaluate lifted.npz truth.npz --json[/]
    Example: [bold]gfpose evaluate --stats synth/ --reference ../shared/data --reference-split train[/]
    Example: [bold]gfpose evaluate --protocol lift,complete --data my_heldout/ --frames 300[/]
    """
    from gfpose_cli import io
    from gfpose_cli.evaluation.scores import evaluate as score, frame_mismatch, on_prediction_frames

    if protocol is not None:
        if pred is not None or gt is not None or stats is not None or data_path is None:
            raise InputError("--protocol runs on --data MOCAP alone; e.g. gfpose evaluate --protocol lift --data takes/")
        return evaluate_protocols(protocol, data_path, data_split, frames, hypotheses, weights_dir,
                                  sampler_options(sampler, steps, batch_size, seed, device, precision=precision), as_json)
    if stats is not None:
        if pred is not None or gt is not None:
            raise InputError("--stats describes one set; give either --stats SET or PRED GT, not both")
        return evaluate_set(stats, reference, reference_split, sample, as_json)
    if pred is None or gt is None:
        raise InputError("evaluate needs PRED and GT files (or --stats SET); see gfpose evaluate --help")
    # --map and --units are the ground truth's (mocap in its own units); predictions are gfpose's files
    predicted, truth = (io.read(path, fmt=in_fmt, subject=subject if io.holds_performers(path, in_fmt) else None,
                                skeleton_map=skeleton_map if path == gt else None, units=units if path == gt else None,
                                sanity=False) for path in (pred, gt))
    truth, resampled = on_prediction_frames(predicted, truth)
    if resampled:
        info(esc(resampled))
    result = score(predicted, truth)
    mismatch = frame_mismatch(predicted, truth)
    if mismatch:
        warn(esc(mismatch))
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


"""gfpose train: fit a score model (single process or under torchrun)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from gfpose_cli.core.errors import InputError, flag, word

from gfpose_cli.cli.app import STATE, app, err
from gfpose_cli.cli.options import Output, Device, Seed, Quiet, MapOpt, Units, ForceRead
from gfpose_cli.cli.common import progress_bar, esc, info, warn


@app.command()
def train(
    data: Annotated[list[str], typer.Argument(help="Mocap files (BVH, ASF/AMC, C3D, NPZ, CSV...), folders, globs, or the archives in shared/data.")],
    output: Output,
    task: Annotated[str, typer.Option(help="prior, lift or complete3d; or refine: the take refiner of a lifter (--lift-weights), trained on its take lifts of the data.")] = "prior",
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
    bone_scale: Annotated[float, typer.Option(help="Random body proportions: std of each bone's log length factor (left/right alike; 0.05 = 5 %; --task refine: one body per lifted training stretch); 0 = off.")] = 0.0,
    bone_corr: Annotated[float, typer.Option(help="With --bone-scale: the share of each bone's factor its group (legs, arms, trunk, girdles) draws together, as real proportions go; 0 = every bone alone.")] = 0.0,
    lengths: Annotated[float, typer.Option("--lengths", help="Give the network (lift, prior or complete3d) the performer's bone lengths as an input, this share of the training rows (0-1; the rest train it without them). A lifter with the input is what lift uses with --skeleton (weights/lift-bones.pt); a prior or completion model with it is given a take's own lengths by denoise and complete; 0 = none.")] = 0.0,
    balance: Annotated[float, typer.Option(help="Family share ~ size^balance (1 = uniform over poses, 0 = equal per family).")] = 0.5,
    holdout: Annotated[bool, typer.Option("--holdout/--no-holdout", help="Leave out the held-out subjects (data.py).")] = True,
    skeleton_map: MapOpt = None,
    units: Units = None,
    strict: Annotated[bool, typer.Option("--strict", help="Stop at the first input that cannot be used instead of skipping it.")] = False,
    resume: Annotated[Optional[Path], typer.Option(help="Continue a run from its checkpoint (bit for bit on the same device).")] = None,
    init_from: Annotated[Optional[Path], typer.Option(help="Warm start from a checkpoint's weights (new optimiser, step 0).")] = None,
    export: Annotated[Optional[Path], typer.Option(help="Also write a small fp16 shipping copy here at each checkpoint.")] = None,
    distill_from: Annotated[Optional[Path], typer.Option(help="Train a few-step student of this teacher checkpoint (same task): it learns to reach the teacher's samples in --student-steps network evaluations.")] = None,
    student_steps: Annotated[int, typer.Option(help="With --distill-from: the student's solver steps (network evaluations per sample).")] = 4,
    distill_pool: Annotated[int, typer.Option(help="With --distill-from: starting points the teacher samples once to teach from.")] = 200_000,
    distill_bones: Annotated[float, typer.Option(help="With --distill-from: weight of a bone-length term (the student's bone lengths against the teacher's, in decimetres); 0 = off.")] = 0.0,
    lift_weights: Annotated[Optional[Path], typer.Option(help="--task refine: the lifter whose take lifts the refiner learns to correct (default: the shipped one).")] = None,
    views: Annotated[int, typer.Option(help="--task refine: random still cameras per training take.", min=1)] = 4,
    window: Annotated[int, typer.Option(help="--task refine: frames the refiner sees around each one (odd).")] = 31,
    checkpoint_every: Annotated[float, typer.Option(help="Seconds between checkpoints.")] = 300.0,
    device: Device = "auto",
    seed: Seed = 0,
    force: Annotated[bool, typer.Option("--force", "-f", help="Start over even though -o already holds a checkpoint.")] = False,
    force_read: ForceRead = False,
    quiet: Quiet = False,
) -> None:
    """Fit a score model by denoising score matching; checkpoints periodically and resumes with --resume.

    Example: [bold]gfpose train ../shared/data/cmu-bvh.tar.xz --task prior --steps 20000 -o runs/prior.pt[/]
             [bold]gfpose train ../shared/data/*.tar.xz --distill-from weights/prior.pt --student-steps 4 --steps 3000 -o runs/prior-4.pt[/]
    """
    STATE["quiet"] = quiet
    if task == "refine":
        _train_refiner(data, output, steps=steps, batch_size=batch_size, lr=lr, warmup=warmup, ema=ema, width=width,
                       dropout=dropout, seed=seed, checkpoint_every=checkpoint_every, resume=resume, export=export,
                       force=force, holdout=holdout, skeleton_map=skeleton_map, units=units, strict=strict,
                       force_read=force_read,
                       device=device, lift_weights=lift_weights, views=views, window=window,
                       bone_scale=bone_scale, bone_corr=bone_corr)
        return

    from gfpose_cli.training import data as data_mod
    from gfpose_cli.training import session
    from gfpose_cli.training.trainer import TrainConfig
    from gfpose_cli.tasks import resolve_device

    cfg = TrainConfig(task=task, mask=mask, steps=steps, batch_size=batch_size, lr=lr, lr_schedule=lr_schedule,
                      warmup=warmup, ema=ema, width=width, blocks=blocks, dropout=dropout, mirror=mirror, bone_scale=bone_scale, bone_corr=bone_corr, lengths=lengths, seed=seed,
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
    with progress_bar("reading training data", len(paths)) as update:
        poses = session.training_data(paths, skeleton_map=skeleton_map, units=units, strict=strict, holdout=holdout,
                                      force_read=force_read)
        update(len(paths), len(paths))
    if poses.skipped:
        n = len(poses.skipped)
        table = Table(title=f"{n} training input{'s' if n != 1 else ''} skipped (--strict stops instead)")
        table.add_column("input")
        table.add_column("why", overflow="fold")
        for name, why in poses.skipped:
            why = word(why, flag)
            why = why.split(": ", 1)[1] if why.startswith(name.split(" (")[0] + ":") else why
            table.add_row(esc(name), esc(why if len(why) <= 150 else why[:147].rsplit(" ", 1)[0] + " ..."))
        err.print(table)
    info(f"training data: {poses.summary['takes']} takes, {len(poses.train.poses)} training poses, "
         f"{len(poses.held.poses)} held-out poses")
    distill = None
    if distill_from is not None:
        from gfpose_cli.tasks import DEFAULT_TEMPERATURE
        from gfpose_cli.training.distill import DistillConfig

        distill = DistillConfig(student_steps=student_steps, temperature=DEFAULT_TEMPERATURE.get(task, 1.0), pool=distill_pool,
                                bone_weight=distill_bones)
        info(esc(f"distilling {distill_from} into a {student_steps}-step student: the teacher samples {distill_pool:,} "
                 "starting points first"))
    trainer = session.build_trainer(cfg, poses, dev, balance=balance, dist=dist_ctx, init_from=init_from, resume=resume,
                                    distill_from=distill_from, distill=distill)
    if init_from is not None:
        info(esc(f"initialised from {init_from}"))
    if resume is not None:
        info(esc(f"resumed {resume} at step {trainer.step}"))
    if trainer.step >= cfg.steps:
        info(f"already at step {trainer.step} >= --steps {cfg.steps}; nothing to do")
        distributed.finish(dist_ctx)
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
                          f"gfpose train {' '.join(data)} --task {task} --steps {steps}"
                          + (f" --distill-from {distill_from} --student-steps {student_steps} --distill-pool {distill_pool}"
                             f" --distill-bones {distill_bones}"
                             if distill_from else "") + f" --resume {output} -o {output}"))
            raise typer.Exit(130)
    distributed.finish(dist_ctx)  # every rank's work is saved; skip the interpreter's teardown (leave_process says why)



def _train_refiner(data: list[str], output: Path, *, steps: int, batch_size: int, lr: float, warmup: int, ema: float,
                   width: int, dropout: float, seed: int, checkpoint_every: float, resume: Optional[Path],
                   export: Optional[Path], force: bool, holdout: bool, skeleton_map: Optional[str],
                   units: Optional[str], strict: bool, device: str, lift_weights: Optional[Path], views: int,
                   window: int, bone_scale: float = 0.0, bone_corr: float = 0.0, force_read: bool = False) -> None:
    """gfpose train --task refine: the lifter's take lifts of the training takes (cached beside -o),
    then the refiner fitted to them (tasks.refine, training.refine)."""
    from gfpose_cli import tasks
    from gfpose_cli.tasks.refine import lifted_cache, refiner_run
    from gfpose_cli.training import data as data_mod
    from gfpose_cli.training import session
    from gfpose_cli.training.refine import RefineConfig

    if output.exists() and resume is None and not force:
        raise InputError(f"{output}: already holds a checkpoint; continue it with --resume {output}, "
                         "or pass --force to start over")
    cfg = RefineConfig(steps=steps, batch_size=batch_size, lr=lr, warmup=warmup, ema=ema, window=window, width=width,
                       dropout=dropout, seed=seed, checkpoint_every_s=checkpoint_every)
    paths = data_mod.expand_inputs(data)
    with progress_bar("reading training data", len(paths)) as update:
        poses = session.training_data(paths, skeleton_map=skeleton_map, units=units, strict=strict, holdout=holdout,
                                      force_read=force_read)
        update(len(paths), len(paths))
    runner = tasks.Runner.for_task("lift", lift_weights, tasks.SamplerOptions(seed=seed, device=device))
    info(f"training data: {poses.summary['takes']} takes, {len(poses.train.poses)} training poses; "
         f"lifting them from {views} random still cameras each (cached in {esc(str(lifted_cache(output)))})")
    with progress_bar("lifting the training takes", 1) as update:
        trainer = refiner_run(runner, poses.train, output, cfg, summary=poses.summary, views=views, resume=resume,
                              bone_scale=bone_scale, bone_corr=bone_corr, progress=update)
    info(f"{trainer.data['lifted_frames']:,} lifted frames in {trainer.data['lifted_stretches']:,} stretches")
    if resume is not None:
        info(esc(f"resumed {resume} at step {trainer.step}"))
    if trainer.step >= cfg.steps:
        info(f"already at step {trainer.step} >= --steps {cfg.steps}; nothing to do")
        return
    with progress_bar("training the take refiner", cfg.steps) as update:
        def on_step(step: int, loss: float) -> None:
            if step % 20 == 0:
                update(step, cfg.steps)

        def on_ckpt(step: int, loss: float) -> None:
            info(esc(f"step {step}: loss {loss * 1000:.1f} mm -> {output}"))

        try:
            trainer.run(output, export, on_step, on_ckpt)
        except KeyboardInterrupt:
            trainer.save(output, export)
            err.print(esc(f"stopped at step {trainer.step}; checkpoint saved to {output}. Resume with: gfpose train "
                          f"{' '.join(data)} --task refine --steps {steps} --resume {output} -o {output}"))
            raise typer.Exit(130)
    held, check = trainer.data.get("validation_subjects") or [], trainer.data.get("validation") or {}
    if held:
        info(esc(f"gain {check['gain']:g}, measured on {', '.join(held)} (not trained on): mean joint error "
                 f"{check['lifted_mm']:g} mm as lifted, {check['gain_mm']:g} corrected at that gain, "
                 f"{check['full_mm']:g} fully corrected"))
    else:
        warn("no family of the training data has two subjects, so none was held back to measure the gain: "
             "the corrections are applied in full, which may overshoot on performers it never saw")

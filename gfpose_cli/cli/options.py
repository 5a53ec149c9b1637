"""The options several subcommands share, as Annotated aliases (one definition each; help panels group them)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer



Output = Annotated[Path, typer.Option("--output", "-o", help="Output file, or a folder when several inputs are given.")]
Weights = Annotated[Optional[Path], typer.Option(help="Checkpoint to use (default: the shipped weights).")]
Device = Annotated[str, typer.Option(help="auto (CUDA, then MPS, then CPU), cpu, cuda or mps.")]
Seed = Annotated[int, typer.Option(help="Random seed; same seed, same device, same output.")]
BatchSize = Annotated[Optional[int], typer.Option(help="Rows (frames x hypotheses) per network batch; bounds memory. Default per device: 4096 on the CPU, 131072 on a CUDA GPU (about 2.5 GB; where its throughput levels off).", show_default=False)]
Sampler = Annotated[str, typer.Option(help="dpm2m (fast ODE solver), sde-dpm2m (its stochastic twin), pc (the paper's Predictor-Corrector) or ode-euler.")]
Steps = Annotated[Optional[int], typer.Option(help="Solver steps (default: 25 for dpm2m, 15 when generate runs it, 50 for sde-dpm2m, 1000 for pc, 100 for ode-euler).")]
Precision = Annotated[str, typer.Option("--precision", help="The network's arithmetic while sampling: auto (bf16 where the CPU or GPU computes it natively, e.g. AMX / AVX-512 BF16: about 3x faster on a 2-core Xeon; else fp32), fp32 or bf16.")]
Temperature = Annotated[Optional[float], typer.Option("--temperature", help="Scale of the starting noise, 0-2: lower gives more typical, less varied poses. Default per task: 0.9 generate (sets that train a lifter as well as real poses), 0.6 lift and 0.5 complete (matched to the paper's PC-1000 sampler). ODE samplers only: pc and sde-dpm2m forget their start.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or summaries.")]
Force = Annotated[bool, typer.Option("--force", "-f", help="Overwrite existing output files.")]
Fmt = Annotated[Optional[str], typer.Option("--format", help="Output format (npz, csv, bvh, c3d, trc; tsv back into a Qualisys export); default from -o's extension.")]
AddJoints = Annotated[bool, typer.Option("--add-joints", help="C3D output: also store the 17 joint centres as points (<subject>:gfpose_<Joint>).")]
MapOpt = Annotated[Optional[str], typer.Option("--map", help="Skeleton map for BVH/ASF/C3D input: a preset name, your .toml, learn (a C3D's map learned from its markers' motion), or auto (the default: names, then marker descriptions, then the motion).")]
OtherSubjectOpt = Annotated[Optional[str], typer.Option("--subject", help="Performer of a multi-subject C3D or marker export given with --skeleton, --condition or --trajectory (its label prefix).")]
SubjectOpt = Annotated[Optional[str], typer.Option("--subject", help="Performer of a multi-subject C3D or marker export (Motive or Nexus CSV, QTM TSV; its label prefix, e.g. Derrick or Skeleton_001).")]
InFmt = Annotated[Optional[str], typer.Option("--input-format", "--from", help="Input format when the extension does not say it (npz, csv, bvh, amc, c3d, trc, tsv, mvnx, mat, json).")]
ForceRead = Annotated[bool, typer.Option("--force-read", help="Read a 3D take even when its body looks implausible (limbs no person has, joints exactly at the origin), a marker file whose data shifts at a frame (most markers jump at once and the bones break), or 2D keypoints whose person stands upside down; the check's finding is printed as a warning.")]
Units = Annotated[Optional[str], typer.Option("--units", help="Length unit of 3D input, when the guess (BVH), POINT:UNITS (C3D) or Units (TRC) is wrong, or an NPZ/CSV is not in metres (a Human3.6M-style file in mm): m, cm, mm, in, ft, acclaim, or metres per unit.")]
FailFast = Annotated[bool, typer.Option("--fail-fast", help="Stop at the first input that fails (default: go on and report them all).")]
RefineOpt = Annotated[bool, typer.Option("--refine/--no-refine", help="Takes: correct each lifted frame from the second of 2D and 3D around it with the take refiner shipped for this lifter (weights/refine.pt); --no-refine keeps the lifter's take as it is.")]
SkeletonOpt = Annotated[Optional[Path], typer.Option("--skeleton", help="A 3D take of the same performer (BVH, ASF/AMC, C3D, NPZ: a calibration or range-of-motion trial): the lifted take is scaled to the performer's size, which 2D alone cannot tell, and holds their bone lengths. --map/--units apply to it.", exists=True, dir_okay=False)]
ImageSizeOpt = Annotated[Optional[str], typer.Option("--image-size", help="WIDTHxHEIGHT of the video (1920x1080) for 2D keypoints in normalised image coordinates (MediaPipe's landmarks, OpenPose's --keypoint_scale 3 or 4: x within 0..1 of the width, y of the height): read as pixels, so the body is not squeezed. Without it such keypoints are lifted as they are, with a warning.")]
HeightOpt = Annotated[Optional[str], typer.Option("--height", help="The performer's standing height, floor to the top of the head: metres (1.78) or with a unit (178cm, 1780mm, 70in, 5ft10, 5'10\"), where no 3D take of them exists for --skeleton: the lifted take is scaled to it by one factor (the size 2D alone cannot tell); its proportions stay the lifter's. Estimated from the ankle-to-head chain, so a few per cent off on unusual bodies.")]
ShardOpt = Annotated[Optional[str], typer.Option("--shard", help="Do only part K of N (0 <= K < N, e.g. 0/4); join the NPZ parts with `gfpose merge`.")]


VideoFps = Annotated[Optional[float], typer.Option("--fps", help="Frame rate where the file gives none: the video 2D keypoints come from (OpenPose-format and YOLO folders, COCO and MMPose files carry none), a CSV without a time column in seconds, an NPZ without 'fps' (30 is assumed and said). A 3D file that states its rate is refused.", min=1e-3)]

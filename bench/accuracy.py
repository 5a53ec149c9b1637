"""Accuracy of the shipped weights on held-out subjects (DESIGN.md §6 protocols); prints markdown.

    python bench/accuracy.py [--frames 1000] [--hypotheses 200] [--weights-dir weights] [--sampler dpm2m --steps 25]
    python bench/accuracy.py --quick      # the CI-sized subset (bench/results/accuracy-quick.md)

The full run prints, for every row of DESIGN.md §6, the paper's figure, our target and our
measurement (gfpose_cli/protocols.py, the same code as `gfpose evaluate --protocol`), then
"P vs D": the deterministic lifter of bench/lifter.py trained on the same training poses and
tested on the same held-out views, and the Table 8 figure from bench/results/synthetic.md.
Held-out poses come from data.py's fixed list (CMU 02/09/12, HDM05 mm), read from the archives
in ../shared/data. Frames, cameras and noise are drawn with fixed seeds, so runs are comparable.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gfpose_cli.training import data
from gfpose_cli.evaluation import metrics, protocols  # noqa: E402
from gfpose_cli.model.problem import view_from_cameras  # noqa: E402
from gfpose_cli.core.skeleton import PARTS  # noqa: E402
from gfpose_cli.core.take import Take  # noqa: E402
from gfpose_cli.model.sampling import REGISTRY  # noqa: E402
from gfpose_cli.tasks import Runner, SamplerOptions, complete, denoise, generate, lift, resolve_device  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


ARCHIVES = ("cmu-bvh.tar.xz", "hdm05-amc.tar.xz")
#: the multibody archives add one held-out body per family (data.HELD_OUT): CMU performer 83 in its
#: own ASF/AMC, ACCAD Male1 in BVH, CMU performer 135 as marker C3D
BODY_ARCHIVES = ("multibody-mocap.tar.xz", "multibody2-mocap.tar.xz")
FAMILIES, BODY_FAMILIES = ("cmu", "hdm05"), ("cmuamc", "accad", "cmuc3d")


def archive_pose_set(pose_set_file: Path | None = None, bodies: bool = False) -> data.PoseSet:
    """The archives' poses: from ../shared/data, or from a pose set written by data.save_pose_set of
    those archives (the same poses, for a machine without ../shared, such as a lent GPU)."""
    if pose_set_file is not None:
        return data.load_pose_files([pose_set_file], lambda _name: None)
    names = ARCHIVES + (BODY_ARCHIVES if bodies else ())
    return data.PoseSet.concat([data.load_archive(SHARED / name) for name in names])


def held_out_sets(n: int, seed: int = 0, pose_set_file: Path | None = None, bodies: bool = False) -> dict[str, np.ndarray]:
    """n held-out poses per family (canonical frame, root-relative), fixed by seed; with bodies, also
    one per unseen body of the multibody archives."""
    return data.held_out_sample(archive_pose_set(pose_set_file, bodies), n, seed,
                                FAMILIES + (BODY_FAMILIES if bodies else ()))


def camera_views(poses: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    g = torch.Generator().manual_seed(seed)
    cam3d, kp = view_from_cameras(torch.from_numpy(poses), g)
    return cam3d.numpy(), kp.numpy()


def deterministic_rows(sets: dict[str, np.ndarray], p_rows: list, seed: int, steps: int,
                       pose_set_file: Path | None = None) -> list:
    """P vs D (Table 4): bench/lifter.py's regressor trained on the training split (4 views per
    pose, the camera code and ranges the score model trained with), on the S=1 rows' exact inputs."""
    from lifter import lift_mpjpe, train_lifter, training_pairs

    from gfpose_cli.kinematics import cameras
    from gfpose_cli.evaluation import protocols
    from gfpose_cli.training.synthetic import dataset_arrays

    real = archive_pose_set(pose_set_file).split()[0].poses
    arrays = dataset_arrays(real, cameras.random_cameras(len(real), 4, seed + 1))
    kp, target = training_pairs(arrays["poses"], arrays["cam_R"], arrays["poses_2d"])
    model = train_lifter(kp, target, steps=steps, seed=seed, log=True)
    rows = []
    for fam, poses in sets.items():
        cam3d, kp2d = protocols.camera_views(poses - poses[:, :1], seed)
        d = lift_mpjpe(model, kp2d, cam3d)
        p = next(r.value for r in p_rows if r.name == f"lift GT 2D, S=1, P1 ({fam})")
        rows.append(protocols.Row(f"P vs D: deterministic lifter, GT 2D, P1 ({fam})", "mm", d, "41.9 (D)",
                                  f"P (S=1, {p:.1f}) < D", None))
        rows.append(protocols.Row(f"P vs D: P / D ({fam})", "ratio", p / d, "0.850", "< 1", 1.0))
        point = next((r.value for r in p_rows if r.name == f"lift GT 2D, S=1 point estimate (default), P1 ({fam})"), None)
        if point is not None:  # P's single answer as `gfpose lift` gives it
            rows.append(protocols.Row(f"P vs D: P point estimate / D ({fam})", "ratio", point / d, "", "< 1", 1.0))
    return rows


def table8_row() -> list:
    """The Table 8 protocol's result as committed by bench/synthetic.py (it trains six lifters:
    about 45 minutes on CPU, so it is a script of its own)."""
    from gfpose_cli.evaluation import protocols

    path = Path(__file__).resolve().parent / "results" / "synthetic.md"
    for line in reversed(path.read_text().splitlines()) if path.exists() else []:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) > 3 and cells[0].replace(",", "").isdigit():
            return [protocols.Row(f"generate: lifter on {cells[0]} synthetic / on real poses (bench/results/synthetic.md)",
                                  "ratio", float(cells[-1]), "1.070 (58.1 / 54.3)", "≤ 1.10", 1.10)]
    return []


def measure(weights_dir: Path, opts: SamplerOptions, sets: dict[str, np.ndarray], s_many: int,
            seed: int = 0, n_generate: int = 2000) -> list[tuple[str, str, float]]:
    """The §6 rows for one sampler setting: (name, unit, value)."""
    runners = {t: Runner.for_task(t, weights_dir / f"{t}.pt", opts) for t in ("prior", "lift", "complete3d")}
    # denoise's prior: the one that reads bone lengths where the folder has it (what `gfpose denoise` uses)
    runners["denoise"] = protocols.runners_for(["denoise"], weights_dir, opts)["denoise"]
    rows: list[tuple[str, str, float]] = []
    mm = 1000.0
    for fam, poses in sets.items():
        cam3d, kp = camera_views(poses, seed)
        take2d = Take(positions=kp)
        one = lift(runners["lift"], take2d, hypotheses=1, draw=True).positions
        rows.append((f"lift GT 2D, S=1, P1 ({fam})", "mm", metrics.mpjpe(one[:, 0], cam3d) * mm))
        rows.append((f"lift GT 2D, S=1, P2 ({fam})", "mm", metrics.mpjpe(one[:, 0], cam3d, "procrustes") * mm))
        point = lift(runners["lift"], take2d, hypotheses=1).positions  # the tool's default: the point estimate
        rows.append((f"lift GT 2D, S=1 point estimate (default), P1 ({fam})", "mm", metrics.mpjpe(point[:, 0], cam3d) * mm))
        many = lift(runners["lift"], take2d, hypotheses=s_many).positions
        rows.append((f"lift GT 2D, S={s_many}, min P1 ({fam})", "mm", metrics.min_mpjpe(many, cam3d) * mm))
        rows.append((f"lift GT 2D, S={s_many}, min P2 ({fam})", "mm", metrics.min_mpjpe(many, cam3d, "procrustes") * mm))
        rows.append((f"lift GT 2D, S={s_many}, mean-of-S P1 ({fam})", "mm", metrics.mpjpe(many.mean(1), cam3d) * mm))
        for part in ("left_leg", "right_arm"):
            mask = np.ones(poses.shape[:2], bool)
            mask[:, list(PARTS[part])] = False
            partial = Take(positions=np.where(mask[..., None], poses, np.nan), mask=mask)
            filled = complete(runners["complete3d"], partial, hypotheses=1, temporal=False, draw=True).positions
            rows.append((f"complete 3D, {part} missing, S=1 ({fam})", "mm",
                         metrics.per_joint_error(filled, poses, "none")[:, list(PARTS[part])].mean() * mm))
            point = complete(runners["complete3d"], partial, hypotheses=1, temporal=False).positions
            rows.append((f"complete 3D, {part} missing, S=1 point estimate (default) ({fam})", "mm",
                         metrics.per_joint_error(point, poses, "none")[:, list(PARTS[part])].mean() * mm))
        rng = np.random.default_rng(seed)
        noisy = poses + rng.normal(0, 0.02, poses.shape).astype(np.float32)
        noisy[:, 0] = poses[:, 0]
        before = metrics.mpjpe(noisy, poses, "procrustes") * mm
        clean = denoise(runners["denoise"], Take(positions=noisy), t0=0.1, temporal=False, one_performer=False).positions
        rows.append((f"denoise 20 mm noise: P2 before ({fam})", "mm", before))
        rows.append((f"denoise 20 mm noise: P2 after, t0=0.1 ({fam})", "mm", metrics.mpjpe(clean, poses, "procrustes") * mm))
        clean0 = denoise(runners["denoise"], Take(positions=poses), t0=0.1, temporal=False,
                         one_performer=False).positions
        rows.append((f"denoise clean input: P2 added ({fam})", "mm", metrics.mpjpe(clean0, poses, "procrustes") * mm))
        one = denoise(runners["denoise"], Take(positions=poses), t0=0.1, temporal=False, one_performer=True).positions
        rows.append((f"denoise clean input, one performer: P2 added ({fam})", "mm", metrics.mpjpe(one, poses, "procrustes") * mm))
    gen = generate(runners["prior"], n_generate).positions
    stats = metrics.plausibility(gen)
    ref = metrics.plausibility(np.concatenate(list(sets.values())))
    rows.append(("generate: bone-length CV (held-out data)", "%", ref["bone_length_cv"] * 100))
    rows.append(("generate: bone-length CV (generated)", "%", stats["bone_length_cv"] * 100))
    rows.append(("generate: L/R asymmetry (held-out data)", "%", ref["symmetry_error"] * 100))
    rows.append(("generate: L/R asymmetry (generated)", "%", stats["symmetry_error"] * 100))
    rows.append(("generate: height (held-out data)", "m", ref["height_mean_m"]))
    rows.append(("generate: height (generated)", "m", stats["height_mean_m"]))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the CI-sized subset: 200 frames, S=10, no paper columns")
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--hypotheses", type=int, default=200)
    ap.add_argument("--protocol", default="all", help="with the full run: which protocols (comma-separated)")
    ap.add_argument("--d-steps", type=int, default=8000, help="training steps of the deterministic lifter (0: skip P vs D)")
    ap.add_argument("--weights-dir", type=Path, default=Path(__file__).resolve().parent.parent / "weights")
    ap.add_argument("--sampler", default="dpm2m")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pose-set", type=Path, default=None, help="read the archives' poses from this save_pose_set file")
    ap.add_argument("--temperature", type=float, default=None, help="default: each task's (tasks.DEFAULT_TEMPERATURE)")
    ap.add_argument("--precision", default="auto", help="the network's arithmetic: auto (bf16 where native), fp32, bf16")
    ap.add_argument("--resume-dir", default=str(Path.home() / ".cache" / "gfpose" / "runs" / "accuracy"),
                    help="full run: keep each finished protocol's rows per body here and reuse them when the same "
                         "command runs again (weights, settings and measuring code unchanged); 'none' to measure all")
    ap.add_argument("--bodies", action="store_true", help="full run: add the unseen bodies of the multibody archives "
                    "(one row set per body) and a worst-unseen-body summary")
    args = ap.parse_args()
    n = args.frames or (200 if args.quick else 1000)
    s_many = 10 if args.quick else args.hypotheses
    opts = SamplerOptions(sampler=args.sampler, steps=args.steps, batch_size=8192, seed=args.seed, device="auto",
                          temperature=args.temperature, precision=args.precision)
    t_start = time.perf_counter()
    if not args.quick:
        return full_run(args, opts, n, s_many, t_start)
    rows = measure(args.weights_dir, opts, held_out_sets(n, args.seed, args.pose_set), s_many, args.seed)
    print(f"| measurement ({n} held-out frames per family, sampler {opts.sampler}-{opts.steps}, seed {args.seed}) | unit | value |")
    print("|---|---|---|")
    for name, unit, value in rows:
        print(f"| {name} | {unit} | {value:.1f} |" if unit != "m" else f"| {name} | {unit} | {value:.3f} |")
    print(f"\n{time.perf_counter() - t_start:.0f} s on {resolve_device(opts.device)}")


def worst_unseen(rows: list, families: list[str]) -> str:
    """Per measurement, the worst of the unseen bodies (every family but cmu) and its ratio to CMU's."""
    import re

    by_name: dict[str, dict[str, float]] = {}
    for r in rows:
        m = re.match(r"(.*) \(([^()]+)\)$", r.name)
        if m and m.group(2) in families:
            by_name.setdefault(m.group(1), {})[m.group(2)] = r.value
    lines = ["| measurement | worst unseen body | value | CMU held-out | worst / CMU |", "|---|---|---|---|---|"]
    for name, vals in by_name.items():
        unseen = {f: v for f, v in vals.items() if f != "cmu"}
        if not unseen or "cmu" not in vals:
            continue
        fam = max(unseen, key=unseen.get)
        ratio = unseen[fam] / vals["cmu"] if vals["cmu"] else float("nan")
        lines.append(f"| {name} | {fam} | {unseen[fam]:.1f} | {vals['cmu']:.1f} | {ratio:.2f} |")
    return "\n".join(lines)


#: the package folders whose code computes the rows: a kept row is reused only while they are unchanged
ROW_CODE = ("core", "evaluation", "kinematics", "model", "signal", "tasks", "util")


def row_store(args: argparse.Namespace, opts: SamplerOptions, n: int, s_many: int, runners: dict):
    """Where a full run keeps each finished (protocol, body) of rows so that the same command, run
    again after a stop (another session), carries on from there: --resume-dir, keyed by the weights,
    the settings and the committed code of ROW_CODE. None (measure everything) with --resume-dir none,
    or while that code has uncommitted changes (whose rows could not be told apart)."""
    import json
    import subprocess

    from gfpose_cli.evaluation import protocols
    from gfpose_cli.util.provenance import file_digest

    if str(args.resume_dir).lower() == "none":
        return None
    root = Path(__file__).resolve().parent.parent
    folders = [f"gfpose_cli/{f}" for f in ROW_CODE]
    git = lambda *a: subprocess.run(["git", *a], cwd=root, capture_output=True, text=True).stdout.strip()  # noqa: E731
    if git("status", "--porcelain", "--", *folders):
        print("  not keeping rows for a resume: the code that measures them has uncommitted changes", file=sys.stderr)
        return None
    key = json.dumps({"weights": {t: file_digest(r.model.path) for t, r in sorted(runners.items())},
                      "code": {f: git("rev-parse", f"HEAD:{f}") for f in folders},
                      "frames": n, "hypotheses": s_many, "seed": args.seed, "bodies": args.bodies,
                      "pose_set": None if args.pose_set is None else file_digest(args.pose_set),
                      "sampler": opts.sampler, "steps": opts.steps, "temperature": opts.temperature,
                      "precision": opts.precision, "device": resolve_device(opts.device).type}, sort_keys=True)
    store = protocols.RowStore(args.resume_dir, key)
    print(f"  finished rows are kept in {store.folder} (the same command resumes from them)", file=sys.stderr)
    return store


def full_run(args: argparse.Namespace, opts: SamplerOptions, n: int, s_many: int, t_start: float) -> None:
    from speed import header

    from gfpose_cli.evaluation import protocols

    head = header(sys.argv[1:], resolve_device(opts.device), "bench/accuracy.py", args.weights_dir)  # before the run
    chosen = protocols.parse(args.protocol)
    sets = held_out_sets(n, args.seed, args.pose_set, args.bodies)
    runners = protocols.runners_for(chosen, args.weights_dir, opts)
    rows = protocols.measure(chosen, sets, runners, s_many, args.seed, done=row_store(args, opts, n, s_many, runners),
                             progress=lambda msg: print(f"  {msg} ({time.perf_counter() - t_start:.0f} s)",
                                                        file=sys.stderr, flush=True))
    if "lift" in chosen and args.d_steps:
        rows += deterministic_rows(sets, rows, args.seed, args.d_steps, args.pose_set)
    if "generate" in chosen:
        rows += table8_row()
    print(head)
    print(f"Held-out subjects (CMU 02/09/12, HDM05 mm{', CMU 83 (ASF/AMC), ACCAD Male1 (BVH), CMU 135 (marker C3D)' if args.bodies else ''}), {n} frames per family, S={s_many}, sampler "
          f"{opts.sampler}-{opts.steps or REGISTRY[opts.sampler].default_steps} (temperature {'per task' if opts.temperature is None else opts.temperature}), "
          f"seed {args.seed}. 2D from one random virtual camera per pose (1000 px); denoising starts at the "
          "time set by the known noise level (protocols.T0_NOISE_FACTOR). 'meets' compares with our target.\n")
    print(protocols.markdown(rows, "measurement"))
    if args.bodies:
        print("\n" + worst_unseen(rows, list(sets)))
    missed = [r.name for r in rows if r.meets is False]
    print(f"\n{sum(r.meets is True for r in rows)} rows meet their target, {len(missed)} miss.")
    print(f"\n{time.perf_counter() - t_start:.0f} s on {resolve_device(opts.device)}")


if __name__ == "__main__":
    main()

"""Take-level cleaning against the classical tools studios use (DESIGN.md §6 "Beyond the paper").
Prints markdown; commit it as bench/results/takes.md.

    python bench/takes.py [--quick] [--steps 25] [--only denoise|gaps|pelvis|lift]

Takes: held-out CMU subjects (data.HELD_OUT; five takes, at most 20 s each) at their 120 Hz and
subsampled to 30 Hz, and the real C3D fixture cmu_85_02 (its longest gap-free stretch). Noise
is added with fixed seeds: Gaussian, uniform (same standard deviation) and spikes (2 % of samples
thrown 10-40 cm, as marker swaps do, on top of 10 mm Gaussian). The baselines get their best
setting chosen on the answer (the clean take), which no user can do; gfpose picks its own from
the noisy take. Gaps: one joint (left wrist), a whole limb (left leg) or two random joints missing
for 0.2-5 s (about 6 s of gaps per take and row: 30 trials of 0.2 s down to 2 of 5 s), filled by
cubic splines (the studio default), by the model frame by frame (the paper), and by gfpose's
take-level fill (gapfill.py).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gfpose_cli.training import data
from gfpose_cli.evaluation import metrics
from gfpose_cli import tasks
from gfpose_cli.signal import temporal  # noqa: E402
from gfpose_cli.core.skeleton import PARTS  # noqa: E402
from gfpose_cli.core.take import Take  # noqa: E402
from gfpose_cli.util.provenance import file_digest  # noqa: E402
from gfpose_cli.kinematics.cameras import still_camera_view  # noqa: E402
from gfpose_cli.kinematics.bones import performer_lengths  # noqa: E402
from gfpose_cli.training.augment import NOISE_PX, detector_like  # noqa: E402
from stature import EYE_SHARE, upright_heads  # noqa: E402  (bench/, beside this script)

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
CMU_TAKES = ("02_01", "02_05", "09_01", "09_12", "12_02")
MAX_FRAMES = 2400
BUTTER_HZ = (1, 1.5, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40)
SG_WINDOWS = (5, 7, 9, 11, 15, 21, 31, 41, 61, 81, 121)


def held_out_takes() -> dict[str, tuple[np.ndarray, float]]:
    """name -> (positions (F, 17, 3) metres, fps), cached beside the pose-set cache."""
    archive = SHARED / "data" / "cmu-bvh.tar.xz"
    key = hashlib.sha256((file_digest(archive, 16) + ",".join(CMU_TAKES)).encode()).hexdigest()[:16]
    cache = data.cache_dir() / f"bench-takes-{key}.npz"
    if not cache.exists():
        found = {}
        for name, _, pos, mask, fps in data._cmu_takes(archive):
            stem = Path(name).stem
            if stem in CMU_TAKES and mask.all():
                found[stem] = pos[:MAX_FRAMES].astype(np.float32)
                found[f"fps:{stem}"] = np.float64(fps)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **found)
    with np.load(cache) as d:
        takes = {k: (d[k].astype(np.float64), float(d[f"fps:{k}"])) for k in CMU_TAKES}
    fixture = SHARED / "fixtures" / "cmu_85_02.c3d"
    if fixture.exists():
        from gfpose_cli import io

        take = io.read(fixture)
        ok = take.mask.all(1)
        runs = np.split(np.arange(len(ok)), np.flatnonzero(np.diff(ok.astype(int))) + 1)
        best = max((r for r in runs if ok[r[0]]), key=len)
        takes["c3d:cmu_85_02"] = (take.positions[best].astype(np.float64), take.fps)
    return takes


def add_noise(clean: np.ndarray, kind: str, level_m: float, rng: np.random.Generator) -> np.ndarray:
    if kind == "gaussian":
        return clean + rng.normal(0, level_m, clean.shape)
    if kind == "uniform":
        half = level_m * np.sqrt(3.0)  # same standard deviation as the Gaussian row
        return clean + rng.uniform(-half, half, clean.shape)
    noisy = clean + rng.normal(0, 0.01, clean.shape)
    hit = rng.random(clean.shape[:2]) < level_m  # level = share of samples
    direction = rng.normal(size=clean.shape)
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    return noisy + hit[..., None] * direction * rng.uniform(0.1, 0.4, clean.shape[:2])[..., None]


def p2_frames(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    return metrics.per_joint_error(pred, gt, "procrustes").mean(1) * 1000


def scores(pred: np.ndarray, gt: np.ndarray, fps: float) -> dict[str, float]:
    return {"P1": metrics.mpjpe(pred, gt, "root") * 1000, "P2": metrics.mpjpe(pred, gt, "procrustes") * 1000,
            "jitter": metrics.jitter(pred, fps), "bone_cv": metrics.bone_length_cv(pred) * 100}


def denoise_rows(takes: dict, runner: tasks.Runner, conditions: list[tuple[str, float]], seed: int) -> list[str]:
    lines = []
    for kind, level in conditions:
        agg: dict[str, list[dict]] = {}
        better, frames = 0, 0
        for i, (name, (clean, fps)) in enumerate(takes.items()):
            rng = np.random.default_rng([seed, i, int(level * 1e4), len(kind)])
            noisy = add_noise(clean, kind, level, rng)
            bw = min((temporal.butterworth(noisy, fps, c) for c in BUTTER_HZ if c < fps / 2),
                     key=lambda x: metrics.mpjpe(x, clean, "procrustes"))
            sg = min((temporal.savitzky_golay(noisy, w) for w in SG_WINDOWS if w < len(noisy)),
                     key=lambda x: metrics.mpjpe(x, clean, "procrustes"))
            take = Take(positions=noisy.astype(np.float32), fps=fps)
            # the paper's frame-by-frame denoiser: the frames taken as unrelated poses, nothing held
            per_frame = tasks.denoise(runner, take, t0=None, temporal=False, one_performer=False,
                                      hold_bones=False).positions
            # `denoise --per-frame` on a take: the performer's lengths (through the noise) given and held
            per_frame_one = tasks.denoise(runner, take, t0=None, temporal=False).positions
            ours = tasks.denoise(runner, take, t0=None).positions
            for method, pred in (("noisy input", noisy), ("Butterworth (best cut-off)", bw),
                                 ("Savitzky-Golay (best window)", sg), ("gfpose per frame (paper)", per_frame),
                                 ("gfpose per frame, one performer (--per-frame)", per_frame_one),
                                 ("gfpose", ours)):
                agg.setdefault(method, []).append({**scores(pred, clean, fps), "jitter_clean": metrics.jitter(clean, fps)})
            best_classic = np.minimum(p2_frames(bw, clean), p2_frames(sg, clean))
            better += int((p2_frames(ours, clean) < best_classic).sum())
            frames += len(clean)
        label = {"gaussian": f"Gaussian {level * 1000:.0f} mm", "uniform": f"uniform, std {level * 1000:.0f} mm",
                 "spikes": f"spikes on {level:.0%} of samples + 10 mm"}[kind]
        for method, rows in agg.items():
            m = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
            extra = f" | {better / frames:.0%}" if method == "gfpose" else " | "
            lines.append(f"| {label} | {method} | {m['P1']:.1f} | {m['P2']:.1f} | {m['jitter'] / m['jitter_clean']:.2f} "
                         f"| {m['bone_cv']:.2f}{extra} |")
        print(f"  {label} done", file=sys.stderr, flush=True)
    return lines


GAP_TARGETS = {"left wrist": [13], "left leg": list(PARTS["left_leg"]), "two random joints": None}
GAP_SECONDS_PER_TAKE = 6.0  # missing seconds cut per take and row: 30 trials of 0.2 s, 12 of 0.5 s, ... 2 of 5 s


def trials_per_take(gap_s: float) -> int:
    """Equal missing time per row, so short gaps get more trials.

    Per-trial differences to the spline are heavy-tailed (a 0.5 s gap over a fast swing is off by
    10 cm either way); with a fixed two trials per take, one or two trials decided the short rows.
    """
    return max(2, int(round(GAP_SECONDS_PER_TAKE / gap_s)))


def gap_rows(takes: dict, runner: tasks.Runner, gaps_s: list[float], seed: int,
             per_take: int | None = None) -> list[str]:
    """Fill gaps cut into clean takes; each trial completes a window of the gap and 1 s either side.

    per_take=None uses trials_per_take; the first trials of a row are the same for any count.
    """
    lines = []
    for target, joints in GAP_TARGETS.items():
        for gap_s in gaps_s:
            errs: dict[str, list[float]] = {}
            for i, (name, (clean, fps)) in enumerate(takes.items()):
                n, ctx = int(round(gap_s * fps)), int(fps)
                if len(clean) < n + 2 * ctx:
                    continue
                rng = np.random.default_rng([seed, i, int(gap_s * 10)])
                for _ in range(per_take or trials_per_take(gap_s)):
                    start = int(rng.integers(ctx, len(clean) - n - ctx + 1))
                    window = clean[start - ctx : start + n + ctx]
                    mask = np.ones(window.shape[:2], bool)
                    js = joints if joints is not None else list(rng.choice(np.arange(1, 17), 2, replace=False))
                    mask[ctx : ctx + n, js] = False
                    gappy = np.where(mask[..., None], window, np.nan)
                    take = Take(positions=gappy.astype(np.float32), mask=mask, fps=fps)
                    fills = {"cubic spline": temporal.spline_fill(gappy, mask),
                             "gfpose per frame (paper)": tasks.complete(runner, take, hypotheses=1, temporal=False,
                                                                         draw=True).positions,
                             "gfpose": tasks.complete(runner, take, hypotheses=1).positions}
                    for method, filled in fills.items():
                        errs.setdefault(method, []).append(
                            float(np.linalg.norm(filled - window, axis=-1)[~mask].mean() * 1000))
            best_classic = np.array(errs["cubic spline"])
            wins = float((np.array(errs["gfpose"]) < best_classic).mean()) if len(best_classic) else float("nan")
            for method, e in errs.items():
                extra = f" | {wins:.0%}" if method == "gfpose" else " | "
                lines.append(f"| {target}, {gap_s:g} s | {method} | {np.mean(e):.1f} | {len(e)}{extra} |")
            print(f"  gaps {target} {gap_s} s done", file=sys.stderr, flush=True)
    return lines


#: the pelvis segment hidden (its markers occluded: bending, sitting), alone and with the spine
PELVIS_TARGETS = {"pelvis and hips": [0, 1, 4], "pelvis, hips and spine": [0, 1, 4, 7]}


def pelvis_rows(takes: dict, runner: tasks.Runner, gaps_s: list[float], seed: int) -> list[str]:
    """Frames without the pelvis or hips, which the model cannot place: cubic splines against gfpose's
    take-level complete (the pelvis carried by the trunk, gapfill.carry_pelvis). Error over the hidden
    pelvis-segment samples (pelvis, hips) that each method filled; how many it left is said."""
    lines = []
    for target, joints in PELVIS_TARGETS.items():
        for gap_s in gaps_s:
            errs: dict[str, list[float]] = {}
            left = 0
            for i, (name, (clean, fps)) in enumerate(takes.items()):
                n, ctx = int(round(gap_s * fps)), int(fps)
                if len(clean) < n + 2 * ctx + 1:
                    continue
                rng = np.random.default_rng([seed, i, int(gap_s * 10), 7])
                for _ in range(max(2, int(round(3.0 / gap_s)))):
                    start = int(rng.integers(ctx, len(clean) - n - ctx + 1))
                    window = clean[start - ctx : start + n + ctx]
                    mask = np.ones(window.shape[:2], bool)
                    mask[ctx : ctx + n, joints] = False
                    gappy = np.where(mask[..., None], window, np.nan)
                    take = Take(positions=gappy.astype(np.float32), mask=mask, fps=fps)
                    done = tasks.complete(runner, take, hypotheses=1)
                    for method, filled in (("cubic spline", temporal.spline_fill(gappy, mask)), ("gfpose", done.positions)):
                        e = np.linalg.norm(filled[ctx : ctx + n][:, [0, 1, 4]] - window[ctx : ctx + n][:, [0, 1, 4]], axis=-1)
                        if np.isfinite(e).any():
                            errs.setdefault(method, []).append(float(np.nanmean(e) * 1000))
                        elif method == "gfpose":
                            left += 1
            trials = len(errs.get("cubic spline", []))
            for method in ("cubic spline", "gfpose"):
                e = errs.get(method)
                value = f"{np.mean(e):.1f}" if e else "not filled"
                extra = f"{trials - len(e or [])} of {trials} left as they were" if method == "gfpose" and left else ""
                lines.append(f"| {target}, {gap_s:g} s | {method} | {value} | {trials} | {extra} |")
            print(f"  pelvis {target} {gap_s} s done", file=sys.stderr, flush=True)
    return lines


# ---- lifting whole 2D takes (issue 24) ----

#: still cameras (yaw deg, elevation deg, distance m) each take is seen by; focal 1000 px, 1000 x 1000 image
LIFT_CAMERAS = ((30.0, 10.0, 5.0), (150.0, 25.0, 4.0), (260.0, 0.0, 6.0))
#: unseen bodies (data.HELD_OUT), one family each: the archive, its reader and the body
LIFT_UNSEEN = (("hdm05-amc.tar.xz", "_hdm05_takes", "hdm05:mm"), ("multibody-mocap.tar.xz", "_multibody_takes", "cmuamc:83"),
               ("multibody-mocap.tar.xz", "_multibody_takes", "accad:Male1"),
               ("multibody2-mocap.tar.xz", "_multibody2_takes", "cmuc3d:135"))
LIFT_TAKES_PER_BODY, LIFT_MAX_FRAMES, LIFT_FPS = 3, 600, 30.0
LIFT_S = 8  # hypotheses of the mean-of-S baseline


def lift_takes() -> dict[str, dict[str, np.ndarray]]:
    """body -> {take: positions (F, 17, 3) at 30 Hz, at most 20 s}: the held-out CMU takes (the training
    body) and up to three gap-free takes of each unseen body; cached beside the pose-set cache."""
    names = [a for a, _, _ in LIFT_UNSEEN]
    key = hashlib.sha256(("".join(file_digest(SHARED / "data" / n, 16) for n in sorted(set(names))) + f"lift{data.CACHE_VERSION}").encode()).hexdigest()[:16]
    cache = data.cache_dir() / f"bench-lift-takes-{key}.npz"
    if not cache.exists():
        found = {}
        for name, (pos, fps) in held_out_takes().items():
            if not name.startswith("c3d:"):
                found[f"cmu|{name}"] = pos[:: max(1, round(fps / LIFT_FPS))][:LIFT_MAX_FRAMES]
        for archive, reader, body in LIFT_UNSEEN:
            got = 0
            for take, who, pos, mask, fps in getattr(data, reader)(SHARED / "data" / archive):
                step = max(1, round(fps / LIFT_FPS))
                if who != body or not mask.all() or len(pos) // step < 150:
                    continue
                found[f"{body}|{Path(take).stem}"] = pos[::step][:LIFT_MAX_FRAMES]
                got += 1
                if got == LIFT_TAKES_PER_BODY:
                    break
        np.savez(cache, **found)
    out: dict[str, dict[str, np.ndarray]] = {}
    with np.load(cache) as d:
        for k in d.files:
            body, take = k.split("|")
            out.setdefault(body, {})[take] = d[k].astype(np.float64)
    return out


def skeleton_of(takes: dict[str, np.ndarray], name: str) -> np.ndarray:
    """The performer's bone lengths (16,) as a user would give them with --skeleton: from another of
    the body's takes (the first other one), or from the take itself where the body has only one."""
    other = next((pos for n, pos in takes.items() if n != name), takes[name])
    return performer_lengths(other, np.ones(other.shape[:2], bool))


def height_of(takes: dict[str, np.ndarray]) -> float:
    """The performer's standing height (metres) as a tape measure gives it, for lift --height: read off
    the body's takes as bench/stature.py does (its Head joint, at eye level, in the frames where it stands
    upright; 90th percentile over EYE_SHARE). Not the chain formula --height converts it with, so the
    rows measure that formula's error for this body too. NaN where no frame stands upright."""
    heads = np.concatenate([upright_heads(pos) for pos in takes.values()])
    return float(np.percentile(heads, 90)) / EYE_SHARE if len(heads) else float("nan")


def lift_rows(bodies: dict, runner: tasks.Runner, seed: int, bones: tasks.Runner | None = None,
              only: list[str] | None = None, conditions: list[str] | None = None):
    """Per body and 2D condition: per-frame S=1, per-frame mean of S smoothed afterwards (the baseline a
    careful user can build today), and gfpose's take-level lift (tasks.lift_take). Yields table rows.
    only: run just the methods whose names hold one of these words (and per-frame S=1, the ratio's base);
    conditions: just the 2D conditions whose names start with one of these (exact, 5 px, detector)."""
    def mean_smoothed(kp: Take) -> np.ndarray:
        smooth = temporal.smooth_take(tasks.lift(runner, kp, hypotheses=LIFT_S).positions.mean(1).astype(np.float64)).positions
        return smooth - smooth[:, :1]

    # per-frame S=1 is a draw, as the baseline and the paper measure it; `gfpose lift --per-frame` gives
    # the sampler's point estimate instead (tasks.point_estimate), the row after it
    methods = {"per frame, S=1": lambda kp, _: tasks.lift(runner, kp, hypotheses=1, draw=True).positions[:, 0],
               "per frame, point estimate (lift --per-frame)": lambda kp, _: tasks.lift(runner, kp).positions[:, 0],
               f"per frame, mean of S={LIFT_S}, Whittaker-smoothed": lambda kp, _: mean_smoothed(kp),
               "gfpose (take), --no-refine": lambda kp, _: tasks.lift_take(runner, kp, refine=False).positions[:, 0],
               "gfpose (take)": lambda kp, _: tasks.lift_take(runner, kp).positions[:, 0],
               "gfpose (take), lift.pt sized to the performer's skeleton (lift --skeleton until refine-bones.pt)":
                   lambda kp, lengths: tasks.lift_take(runner, kp, lengths=lengths).positions[:, 0],
               "gfpose (take), performer's height given (lift --height)":
                   lambda kp, _: tasks.lift_take(runner, kp, height=height).positions[:, 0]}
    if bones is not None:  # the lifter that reads the lengths (lift --skeleton frame by frame), on takes for comparison
        refined = tasks.take_refiner(bones)
        name = ("gfpose (take), skeleton given, length-conditioned lifter and its refiner "
                f"({refined.path.name}; lift --skeleton)" if refined
                else "gfpose (take), skeleton given, length-conditioned lifter (not refined)")
        methods[name] = lambda kp, lengths: tasks.lift_take(bones, kp, lengths=lengths).positions[:, 0]
    if only:
        methods = {k: v for k, v in methods.items() if k == "per frame, S=1"
                   or any(k == w[1:] if w.startswith("=") else w in k for w in only)}
    for cond in ("exact 2D", f"{NOISE_PX:g} px noise", "detector-like"):
        if conditions and not any(cond.startswith(c) for c in conditions):
            continue
        for body, takes in bodies.items():
            height = height_of(takes)
            agg: dict[str, list[dict]] = {}
            secs: dict[str, float] = {}
            frames = 0
            for i, (name, pos) in enumerate(takes.items()):
                lengths = skeleton_of(takes, name)
                for c, (yaw, el, dist) in enumerate(LIFT_CAMERAS):
                    uv, gt = still_camera_view(pos, yaw, el, dist)
                    rng = np.random.default_rng([seed, i, c, len(cond)])
                    mask, conf = np.ones(uv.shape[:2], bool), None
                    if cond == "detector-like":  # its own NOISE_PX noise, dropouts, low-confidence frames, swaps
                        uv, mask, conf = detector_like(uv, LIFT_FPS, rng)
                    elif cond != "exact 2D":
                        uv = uv + rng.normal(0, NOISE_PX, uv.shape)
                    kp = Take(positions=uv.astype(np.float32), mask=mask, confidence=conf, fps=LIFT_FPS)
                    runs = {}
                    for method, fn in methods.items():
                        t = time.perf_counter()
                        runs[method] = fn(kp, lengths)
                        secs[method] = secs.get(method, 0.0) + time.perf_counter() - t
                    frames += len(gt)
                    for method, pred in runs.items():
                        agg.setdefault(method, []).append({**scores(pred, gt, LIFT_FPS),
                                                           "jitter_truth": metrics.jitter(gt, LIFT_FPS)})
            base = np.mean([r["P1"] for r in agg["per frame, S=1"]])
            for method, rs in agg.items():
                p1 = np.mean([r["P1"] for r in rs])
                jit = np.mean([r["jitter"] / r["jitter_truth"] for r in rs])
                yield (f"| {cond} | {body} | {method} | {p1:.1f} | {p1 / base:.2f} | "
                       f"{np.mean([r['P2'] for r in rs]):.1f} | {jit:.2f} | "
                       f"{np.mean([r['bone_cv'] for r in rs]):.2f} | {secs[method] / frames * 1000:.2f} |")


def long_cmu_take(bodies: dict, frames: int = 10_000) -> np.ndarray:
    """A frames-long take (F, 17, 3) at 30 Hz: the held-out CMU takes of lift_takes joined, forwards
    and backwards in turn so every join is continuous (bench/speed.py times denoise on it too)."""
    pos = np.concatenate(list(bodies["cmu"].values()))
    return np.concatenate([pos if i % 2 == 0 else pos[::-1] for i in range(-(-frames // len(pos)))])[:frames]


def long_take_timing(bodies: dict, runner: tasks.Runner, frames: int = 10_000) -> str:
    """Seconds and peak memory of `lift_take` on a 10,000-frame 2D take (long_cmu_take seen by the
    first still camera)."""
    import resource

    uv, _ = still_camera_view(long_cmu_take(bodies, frames), *LIFT_CAMERAS[0])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    tasks.lift_take(runner, Take(positions=uv.astype(np.float32), fps=LIFT_FPS))
    secs = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (f"A {frames:,}-frame 2D take (gfpose take lift, batch {runner.opts.batch_size} rows): {secs:.1f} s; "
            f"peak resident memory of the whole benchmark process {peak / 1024:.0f} MB (was {before / 1024:.0f} MB before it).")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="120 Hz only, two noise rows, two gap lengths")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=("denoise", "gaps", "pelvis", "lift"), help="run one section")
    ap.add_argument("--lift-methods", default=None,
                    help="lifting section: only the methods whose names hold one of these comma-separated words "
                         "(e.g. skeleton; '=NAME' for one name exactly), beside per-frame S=1")
    ap.add_argument("--lift-conditions", default=None,
                    help="lifting section: only these 2D conditions (comma-separated: exact, 5 px, detector)")
    args = ap.parse_args()
    t_start = time.perf_counter()
    if args.only in (None, "lift"):
        lifter = tasks.Runner.for_task("lift", None, tasks.SamplerOptions(steps=args.steps, seed=args.seed))
        bones = tasks.lift_runner(None, tasks.SamplerOptions(steps=args.steps, seed=args.seed), np.ones(16))
        bones = bones if bones.takes_lengths else None
        bodies = lift_takes()
        header = ("2D", "body", "method", "P1 (mm)", "P1 / per-frame S=1", "P2 (mm)", "jitter / truth",
                  "bone-length CV (%)", "s per 1,000 frames")
        print(f"### Lifting 2D takes, {LIFT_FPS:g} Hz\n\nTakes: " + "; ".join(
            f"{b}: {', '.join(t)} ({sum(len(v) for v in t.values()):,} frames)" for b, t in bodies.items()) +
            f". Each seen by {len(LIFT_CAMERAS)} still cameras (yaw, elevation, distance: " +
            ", ".join(f"{y:g} deg, {e:g} deg, {d:g} m" for y, e, d in LIFT_CAMERAS) + "; focal 1000 px). "
            f"Sampler {lifter.opts.sampler}-{lifter.opts.steps}, seed {args.seed}. Detector-like: {NOISE_PX:g} px noise, "
            "random joints missing for 0.1-1 s (8 % of samples), 3 % of frames at confidence 0.3 and 20 px off, "
            "1 % of frames with the arms' left and right swapped. Means over takes and cameras.\n\n| "
            + " | ".join(header) + " |\n" + "|---" * len(header) + "|")
        only = [w for w in (args.lift_methods or "").split(",") if w]
        conditions = [w for w in (args.lift_conditions or "").split(",") if w]
        for line in lift_rows(bodies, lifter, args.seed, bones, only or None, conditions or None):
            print(line, flush=True)
        print("\n" + long_take_timing(bodies, lifter), flush=True)
        if args.only == "lift":
            print(f"\n{time.perf_counter() - t_start:.0f} s on {lifter.device}")
            return
    # denoise's prior (weights/prior-bones.pt where installed), as `gfpose denoise` runs it
    runner = tasks.prior_runner(None, tasks.SamplerOptions(steps=args.steps, seed=args.seed), bones=True)
    takes = held_out_takes()
    conditions = [("gaussian", 0.02), ("spikes", 0.02)] if args.quick else [
        ("gaussian", 0.01), ("gaussian", 0.02), ("gaussian", 0.04),
        ("uniform", 0.01), ("uniform", 0.02), ("uniform", 0.04), ("spikes", 0.02)]
    rates = {"120 Hz": 1} if args.quick else {"120 Hz": 1, "30 Hz": 4}
    print(f"Held-out takes: {', '.join(takes)}; frames {sum(len(v[0]) for v in takes.values()):,} at the source rate. "
          f"Sampler {runner.opts.sampler}-{runner.opts.steps}, seed {args.seed}. Means over takes; jitter is mean "
          "|acceleration| relative to the clean take's; 'frames better' = share of frames where gfpose's P2 beats "
          "the better of the two tuned filters.\n")
    filler = tasks.Runner.for_task("complete3d", None, tasks.SamplerOptions(steps=args.steps, seed=args.seed))
    gaps = [0.5, 2.0] if args.quick else [0.2, 0.5, 1.0, 2.0, 5.0]
    sections = (("Denoising", ("noise", "method", "P1 (mm)", "P2 (mm)", "jitter / clean", "bone-length CV (%)",
                               "frames better"), lambda sub: denoise_rows(sub, runner, conditions, args.seed)),
                ("Gap filling", ("gap", "method", "error of filled samples (mm)", "trials",
                                 "trials better than the spline"), lambda sub: gap_rows(sub, filler, gaps, args.seed)))
    if args.only == "pelvis":
        unseen = {f"{body}|{take}": (pos, LIFT_FPS) for body, got in lift_takes().items() if body != "cmu"
                  for take, pos in got.items()}
        header = ("gap", "method", "error of the pelvis and hips (mm)", "trials", "")
        for title, sub in (("held-out CMU takes, 120 Hz", takes), ("held-out CMU takes, 30 Hz",
                                                                     {k: (v[0][::4], v[1] / 4) for k, v in takes.items()}),
                           (f"unseen bodies' takes ({', '.join(sorted({k.split('|')[0] for k in unseen}))}), 30 Hz", unseen)):
            print(f"\n### Pelvis gaps, {title}\n\n| " + " | ".join(header) + " |\n" + "|---" * len(header) + "|")
            for line in pelvis_rows(sub, filler, gaps, args.seed):
                print(line, flush=True)
        print(f"\n{time.perf_counter() - t_start:.0f} s on {runner.device}")
        return
    if args.only:
        sections = sections[:1] if args.only == "denoise" else sections[1:]
    for title, header, rows in sections:
        for rate, step in rates.items():
            print(f"\n### {title}, {rate}\n\n| " + " | ".join(header) + " |\n" + "|---" * len(header) + "|")
            for line in rows({k: (v[0][::step], v[1] / step) for k, v in takes.items()}):
                print(line, flush=True)
    print(f"\n{time.perf_counter() - t_start:.0f} s on {runner.device}")


if __name__ == "__main__":
    main()

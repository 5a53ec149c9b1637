"""One hypothesis frame by frame is the sampler's point estimate (tasks.point_estimate): the solve from
the prior's centre, not a random draw. Real poses of a body no shipped model saw (the pymo walk,
Meredith, a BVH from another lab, tests/data/vendors), seen by the protocols' random cameras."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io, tasks
from gfpose_cli.core.skeleton import PARTS
from gfpose_cli.core.take import Take
from gfpose_cli.evaluation import metrics, protocols

from .test_cli import run

WALK = Path(__file__).parent / "data" / "vendors" / "pymo__AV_8Walk_Meredith_HVHA_Rep1.bvh"
MM = 1000.0


@pytest.fixture(scope="module")
def walk() -> np.ndarray:
    take = io.read(WALK)
    poses = take.positions[:: int(round(take.fps / 30))].astype(np.float64)
    return poses - poses[:, :1]


def lifter(seed: int, temperature: float | None = None) -> tasks.Runner:
    return tasks.Runner.for_task("lift", None, tasks.SamplerOptions(seed=seed, temperature=temperature))


def test_one_lifted_hypothesis_is_the_point_estimate_closer_than_draws(walk) -> None:
    cam3d, kp = protocols.camera_views(walk, 0)
    frames = Take(positions=kp.astype(np.float32))
    points = [tasks.lift(lifter(seed), frames).positions[:, 0] for seed in (0, 5)]
    draws = [tasks.lift(lifter(seed), frames, draw=True).positions[:, 0] for seed in (0, 1, 2)]
    # the same answer whatever the seed; draws differ from seed to seed
    np.testing.assert_array_equal(points[0], points[1])
    assert np.abs(draws[0] - draws[1]).max() > 0.01
    point = metrics.mpjpe(points[0], cam3d) * MM
    drawn = np.mean([metrics.mpjpe(d, cam3d) * MM for d in draws])
    assert point < 0.97 * drawn, (point, drawn)  # measured 73.2 against 76-77 mm
    # a temperature asks for draws: seeded, so seed 0 repeats itself and seed 5 differs
    hot = [tasks.lift(lifter(seed, 0.5), frames).positions[:, 0] for seed in (0, 0, 5)]
    np.testing.assert_array_equal(hot[0], hot[1])
    assert np.abs(hot[0] - hot[2]).max() > 0.01 and np.abs(hot[0] - points[0]).max() > 0.01
    # more hypotheses are draws
    many = tasks.lift(lifter(0), frames, hypotheses=3).positions
    assert many.shape[1] == 3 and np.abs(many[:, 0] - many[:, 1]).max() > 0.01


def test_one_completion_per_frame_is_the_point_estimate_closer_than_a_draw(walk) -> None:
    runner = tasks.Runner.for_task("complete3d", None, tasks.SamplerOptions(seed=0))
    point_err, draw_err = [], []
    for part in ("left_leg", "right_arm"):
        joints = list(PARTS[part])
        mask = np.ones(walk.shape[:2], bool)
        mask[:, joints] = False
        partial = Take(positions=np.where(mask[..., None], walk, np.nan).astype(np.float32), mask=mask)
        point = tasks.complete(runner, partial, temporal=False).positions
        drawn = tasks.complete(runner, partial, temporal=False, draw=True).positions
        # the observed joints are kept either way
        np.testing.assert_allclose(point[:, mask[0]], walk[:, mask[0]], atol=1e-6)
        point_err.append(np.linalg.norm(point - walk, axis=-1)[:, joints].mean() * MM)
        draw_err.append(np.linalg.norm(drawn - walk, axis=-1)[:, joints].mean() * MM)
    assert sum(point_err) < 0.95 * sum(draw_err), (point_err, draw_err)  # measured 107/98 against 115/116 mm


def test_cli_lift_per_frame_gives_the_same_answer_whatever_the_seed(tmp_path, walk, capsys) -> None:
    _, kp = protocols.camera_views(walk[:60], 0)
    src = tmp_path / "kp.npz"
    io.write(Take(positions=kp.astype(np.float32), fps=30.0), src)
    outs = []
    for seed in ("0", "9"):
        dst = tmp_path / f"lifted{seed}.npz"
        code, _, err = run(["lift", str(src), "--per-frame", "--seed", seed, "--steps", "6", "-q", "-o", str(dst)], capsys)
        assert code == 0, err
        outs.append(io.read(dst).positions)
    np.testing.assert_array_equal(outs[0], outs[1])

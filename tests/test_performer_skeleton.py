"""Lifting with the performer's skeleton given (--skeleton): 2D cannot tell how big a person is, so
the lifter draws its training bodies' size; a 3D take of the performer sizes the result and its
bone lengths are held. On a real take of a body the model never saw: the pymo walk (Meredith, a
BVH from another lab, tests/data/vendors), filmed by a still camera."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io, tasks
from gfpose_cli.core.errors import InputError, ParameterError
from gfpose_cli.core.take import Take
from gfpose_cli.evaluation import metrics
from gfpose_cli.kinematics.bones import (STATURE_PER_CHAIN, TRUNK_BONES, fit_to_performer,
                                        performer_lengths, standing_height)
from gfpose_cli.kinematics.cameras import still_camera_view

WALK = Path(__file__).parent / "data" / "vendors" / "pymo__AV_8Walk_Meredith_HVHA_Rep1.bvh"


@pytest.fixture(scope="module")
def walk():
    take = io.read(WALK)
    pos = take.positions[:: int(round(take.fps / 30))].astype(np.float64)
    pixels, truth = still_camera_view(pos, 40.0, 12.0, 5.0)
    return take, Take(positions=pixels.astype(np.float32), fps=30.0), truth


@pytest.fixture(scope="module")
def runner():
    return tasks.Runner.for_task("lift", None, tasks.SamplerOptions(seed=0))


def test_the_performers_skeleton_sizes_the_lifted_take(walk, runner) -> None:
    take, kp, truth = walk
    lengths = tasks.performer_skeleton(take)
    assert np.isfinite(lengths).all() and 0.2 < lengths[1] < 0.6  # a thigh, in metres
    plain = tasks.lift_take(runner, kp).positions[:, 0]
    sized = tasks.lift_take(runner, kp, lengths=lengths)
    scale = sized.report.performer_scale
    ours = sized.positions[:, 0]
    # Meredith is smaller than the training bodies: the lifter drew her about 6 % too big
    assert 0.85 < scale < 0.99, scale
    p1_plain, p1_sized = metrics.mpjpe(plain, truth) * 1000, metrics.mpjpe(ours, truth) * 1000
    assert p1_sized < 0.93 * p1_plain, (p1_sized, p1_plain)
    held = performer_lengths(ours, np.ones(ours.shape[:2], bool))
    rigid = np.setdiff1d(np.arange(16), TRUNK_BONES)
    assert np.abs(held - lengths)[rigid].max() < 0.003  # her limbs, within 3 mm
    assert metrics.bone_length_cv(ours) < 0.001  # the trunk held too, at the take's own (scaled) lengths
    assert metrics.jitter(ours, 30) / metrics.jitter(truth, 30) < 1.5
    assert np.abs(ours[:, 0]).max() == 0.0  # still root-relative


def test_frame_by_frame_lifting_is_sized_too(walk, runner) -> None:
    take, kp, truth = walk
    lengths = tasks.performer_skeleton(take)
    plain = tasks.lift(runner, kp).positions[:, 0]
    sized = tasks.lift(runner, kp, lengths=lengths)
    assert sized.report.performer_scale is not None
    assert metrics.mpjpe(sized.positions[:, 0], truth) < 0.95 * metrics.mpjpe(plain, truth)


def test_fit_to_performer_scales_about_the_root_and_keeps_directions() -> None:
    rng = np.random.default_rng(0)
    poses = rng.normal(0, 0.3, (1, 17, 3))  # one pose: its own bone lengths are the performer's
    poses[:, 0] = 0.0
    lengths = performer_lengths(poses, np.ones((1, 17), bool))
    out, k = fit_to_performer(poses * 1.25, lengths)
    assert k == pytest.approx(0.8, abs=1e-6) and np.allclose(out, poses, atol=1e-6)
    out, k = fit_to_performer(poses, np.full(16, np.nan))  # nothing known: untouched
    assert k == 1.0 and np.allclose(out, poses)


def test_a_skeleton_that_is_not_this_performers_is_refused(walk, runner, tmp_path) -> None:
    take, kp, _ = walk
    with pytest.raises(InputError, match="2D keypoints"):
        tasks.performer_skeleton(kp)
    with pytest.raises(InputError, match="times the size of the body the 2D shows.*units"):
        tasks.lift_take(runner, kp, lengths=tasks.performer_skeleton(take) * 10)  # cm read as mm
    partial = Take(positions=take.positions, mask=np.isin(np.arange(17), [0, 1, 2, 3])[None].repeat(take.n_frames, 0),
                   fps=take.fps)
    with pytest.raises(InputError, match="gives 6 of the 16 bones"):
        tasks.performer_skeleton(partial)


def test_cli_lift_and_complete_take_a_skeleton(walk, tmp_path, capsys) -> None:
    from .test_cli import run

    take, kp, truth = walk
    src = tmp_path / "kp.npz"
    io.write(kp, src)
    code, out, err = run(["lift", str(src), "-o", str(tmp_path / "a.npz"), "--skeleton", str(WALK)], capsys)
    assert code == 0 and "to the performer's skeleton, bone lengths held" in out + err, out + err
    lifted = io.read(tmp_path / "a.npz").positions[:, 0]  # (F, S=1, 17, 3)
    assert metrics.mpjpe(lifted, truth) * 1000 < 80
    code, out, err = run(["complete", str(src), "-o", str(tmp_path / "c.npz"), "--skeleton", str(WALK)], capsys)
    assert code == 0 and "to the performer's skeleton" in out + err, out + err
    code, out, err = run(["lift", str(src), "-o", str(tmp_path / "b.npz"), "--skeleton", str(src)], capsys)
    assert code != 0 and "must be 3D" in out + err and not (tmp_path / "b.npz").exists()
    code, out, err = run(["lift", str(src), "-o", str(tmp_path / "b.npz"), "--skeleton", str(WALK), "--units", "m"], capsys)
    assert code != 0 and "units" in out + err and not (tmp_path / "b.npz").exists(), out + err


def test_frame_by_frame_with_a_skeleton_the_length_conditioned_lifter_reads_it(walk, runner) -> None:
    """lift --skeleton of unrelated frames (or --per-frame) runs weights/lift-bones.pt (tasks.lift_runner),
    which takes the performer's bone lengths as an input: on Meredith, a body no model saw, it lifts
    closer than the shipped lifter sized afterwards (bench/results/lift-lengths.md: every test body).
    Takes use it too, followed by its own refiner (the next tests)."""
    take, kp, truth = walk
    lengths = tasks.performer_skeleton(take)
    bones = tasks.lift_runner(None, tasks.SamplerOptions(seed=0), lengths)
    assert bones.takes_lengths and bones.model.path.name == "lift-bones.pt"
    assert not tasks.lift_runner(None, tasks.SamplerOptions(seed=0)).takes_lengths  # no skeleton: lift.pt
    sized_after = tasks.lift(runner, kp, lengths=lengths).positions[:, 0]
    ours = tasks.lift(bones, kp, lengths=lengths).positions[:, 0]
    p1_after, p1_read = metrics.mpjpe(sized_after, truth) * 1000, metrics.mpjpe(ours, truth) * 1000
    # 65.3 vs 70.2 mm here with the stage-9 lift.pt (76.1 with stage 8's, which sized worse). Its P2 is no
    # longer better on this body (46.8 vs 44.0 mm; stage 8: better), as on ACCAD Male1 in
    # bench/results/lift-lengths.md, where the other test bodies' P2 still is: the claim held here is P1's.
    assert p1_read < 0.96 * p1_after, (p1_read, p1_after)


def test_the_cli_lifts_frames_and_takes_with_the_length_conditioned_lifter_and_its_refiner(walk, tmp_path) -> None:
    """`gfpose lift --skeleton`: --per-frame and a take both go through lift-bones.pt, the take then
    through its own refiner, refine-bones.pt (the same numbers as the task functions give)."""
    from gfpose_cli.cli.app import main

    take, kp, _ = walk
    io.write(Take(positions=kp.positions[:40], fps=30.0), tmp_path / "kp.npz")
    lengths = tasks.performer_skeleton(take)
    for flag, out in (("--per-frame", "frames.npz"), ("--refine", "take.npz")):
        try:
            main(["lift", str(tmp_path / "kp.npz"), "--skeleton", str(WALK), flag, "-q", "-o", str(tmp_path / out)])
        except SystemExit as exc:
            assert exc.code in (0, None)
    short = io.read(tmp_path / "kp.npz")  # what the CLI read
    bones = tasks.lift_runner(None, tasks.SamplerOptions(seed=0), lengths)
    assert tasks.take_refiner(bones).path.name == "refine-bones.pt"
    frames = tasks.lift(bones, short, lengths=lengths).positions[:, 0]
    along = tasks.lift_take(bones, short, lengths=lengths)
    assert along.report.refined
    by_frames, by_take = io.read(tmp_path / "frames.npz").positions, io.read(tmp_path / "take.npz").positions
    assert by_frames.shape == by_take.shape == (40, 1, 17, 3)
    assert np.allclose(by_frames[:, 0], frames, atol=1e-5)
    assert np.allclose(by_take[:, 0], along.positions[:, 0], atol=1e-5)
    assert np.abs(by_frames - by_take).max() > 0.01  # per frame vs along the take, refined


def test_a_take_lifted_with_the_skeleton_is_closer_with_the_length_conditioned_lifter(walk, runner) -> None:
    """On Meredith's walk (a body no model saw) the take lift of lift-bones.pt and its refiner is closer
    than lift.pt's with its refiner, both sized to her skeleton: 58.8 vs 71.5 mm here."""
    take, kp, truth = walk
    lengths = tasks.performer_skeleton(take)
    bones = tasks.lift_runner(None, tasks.SamplerOptions(seed=0), lengths)
    ours = tasks.lift_take(bones, kp, lengths=lengths).positions[:, 0]
    plain = tasks.lift_take(runner, kp, lengths=lengths).positions[:, 0]
    p1_ours, p1_plain = metrics.mpjpe(ours, truth) * 1000, metrics.mpjpe(plain, truth) * 1000
    assert p1_ours < 0.97 * p1_plain, (p1_ours, p1_plain)


def tape_height(take: Take) -> float:
    """Meredith's standing height as a tape measure would give it: her Head joint (at eye level, 0.936 of
    stature) in the frames where she stands upright, read off the take (Z up, floor at 0). Not the chain
    formula lift --height converts a height with."""
    pos = take.positions.astype(np.float64)
    trunk = pos[:, 10] - pos[:, 0]
    upright = trunk[:, 2] / np.linalg.norm(trunk, axis=-1) > np.cos(np.radians(10.0))
    return float(np.percentile(pos[upright, 10, 2], 90)) / 0.936


def test_the_performers_height_sizes_the_lifted_take(walk, runner) -> None:
    """lift --height: without a 3D take of the performer, her standing height alone brings the lifted take
    to her size (one factor; the proportions stay the lifter's): closer than the lifter's guess, and
    within a few per cent of the best single factor, which only the truth can tell."""
    take, kp, truth = walk
    height = tape_height(take)
    assert 1.55 < height < 1.8, height
    plain = tasks.lift_take(runner, kp).positions[:, 0]
    sized = tasks.lift_take(runner, kp, height=height)
    ours = sized.positions[:, 0]
    best = float((plain * truth).sum() / (plain * plain).sum())  # the one factor nearest the truth
    assert abs(sized.report.performer_scale - best) < 0.05 * best, (sized.report.performer_scale, best)
    p1_plain, p1_ours = metrics.mpjpe(plain, truth) * 1000, metrics.mpjpe(ours, truth) * 1000
    assert p1_ours < 0.95 * p1_plain, (p1_ours, p1_plain)  # 73.0 vs 79.4 mm here
    held = performer_lengths(ours, np.ones(ours.shape[:2], bool))
    assert standing_height(held) == pytest.approx(height, rel=1e-6)
    assert np.allclose(ours, plain * sized.report.performer_scale, atol=1e-4)  # one factor about the root (4 digits)
    frames = tasks.lift(runner, kp, height=height)  # unrelated images of her: one factor for all
    assert metrics.mpjpe(frames.positions[:, 0], truth) < 0.95 * metrics.mpjpe(tasks.lift(runner, kp).positions[:, 0], truth)
    with pytest.raises(ParameterError, match="not both"):
        tasks.lift_take(runner, kp, height=height, lengths=tasks.performer_skeleton(take))
    with pytest.raises(InputError, match="170 m is .* times the body the 2D was lifted to.*metres"):
        tasks.lift(runner, kp, height=170.0)  # centimetres given as metres


def test_standing_height_follows_the_chain_and_needs_it() -> None:
    lengths = np.full(16, 0.1)
    h = standing_height(lengths)
    assert h == pytest.approx(STATURE_PER_CHAIN * 0.6)  # 4 trunk bones and 2 leg bones
    one_side = lengths.copy()
    one_side[[1, 2]] = np.nan  # the right leg unknown: the left stands in
    assert standing_height(one_side) == pytest.approx(h)
    no_neck = lengths.copy()
    no_neck[8] = np.nan
    assert np.isnan(standing_height(no_neck))


def test_cli_lift_and_complete_take_a_height(walk, tmp_path, capsys) -> None:
    from .test_cli import run

    take, kp, truth = walk
    src = tmp_path / "kp.npz"
    io.write(Take(positions=kp.positions[:60], fps=30.0), src)
    code, out, err = run(["lift", str(src), "-o", str(tmp_path / "a.npz"), "--height", "1.65"], capsys)
    assert code == 0 and "to the performer's height (1.65 m)" in out + err, out + err
    lifted = io.read(tmp_path / "a.npz").positions[:, 0]
    assert standing_height(performer_lengths(lifted, np.ones(lifted.shape[:2], bool))) == pytest.approx(1.65, rel=1e-4)
    code, out, err = run(["complete", str(src), "-o", str(tmp_path / "c.npz"), "--height", "1.65"], capsys)
    assert code == 0 and "to the performer's height" in out + err, out + err
    code, out, err = run(["lift", str(src), "-o", str(tmp_path / "f.npz"), "--height", "5ft5"], capsys)  # 1.651 m
    assert code == 0 and "(1.65 m)" in out + err, out + err
    assert np.allclose(io.read(tmp_path / "f.npz").positions, io.read(tmp_path / "a.npz").positions * 1.651 / 1.65, atol=1e-5)
    for bad, says in ((["--height", "165"], "a plain number is metres"), (["--height", "tall"], "not a height"),
                      (["--height", "1.65", "--skeleton", str(WALK)], "not both")):
        code, out, err = run(["lift", str(src), "-o", str(tmp_path / "b.npz"), *bad], capsys)
        assert code != 0 and says in out + err and not (tmp_path / "b.npz").exists(), out + err
    code, out, err = run(["complete", str(WALK), "-o", str(tmp_path / "d.npz"), "--height", "1.65"], capsys)
    assert code != 0 and "--height sizes a take lifted from 2D" in out + err, out + err


def test_height_takes_metres_or_a_unit() -> None:
    from gfpose_cli.cli.takes import parse_height

    assert parse_height(None) is None and parse_height("1.78") == 1.78
    for text in ("178cm", "1780 mm", "1.78m", "70.07874in"):
        assert parse_height(text) == pytest.approx(1.78, abs=1e-6), text
    for text in ("5ft10", "5'10\"", "5 ft 10 in", "5'10", "70in"):
        assert parse_height(text) == pytest.approx(1.778, abs=1e-9), text
    for text in ("tall", "1,78", "5ft10cm", ""):
        with pytest.raises(InputError, match="not a height"):
            parse_height(text)

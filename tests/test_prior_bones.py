"""The shipped prior that reads the performer's bone lengths (weights/prior-bones.pt, issue 26):
denoise's default prior, given and holding one performer's lengths frame by frame, and generate
--skeleton. Real poses of a body no shipped model saw: the pymo walk (Meredith, a BVH from another
lab, tests/data/vendors)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io, tasks
from gfpose_cli.core.skeleton import bone_lengths
from gfpose_cli.core.take import Take
from gfpose_cli.evaluation import metrics
from gfpose_cli.kinematics.bones import lengths_through_noise

from .test_cli import run

WALK = Path(__file__).parent / "data" / "vendors" / "pymo__AV_8Walk_Meredith_HVHA_Rep1.bvh"
MM = 1000.0


@pytest.fixture(scope="module")
def walk() -> np.ndarray:
    take = io.read(WALK)
    return take.positions[:: int(round(take.fps / 30))].astype(np.float64)


@pytest.fixture(scope="module")
def runners():
    opts = tasks.SamplerOptions(seed=0)
    return tasks.prior_runner(None, opts, bones=True), tasks.Runner.for_task("prior", None, opts)


def test_denoise_prior_is_the_one_that_reads_bone_lengths(runners) -> None:
    bones, plain = runners
    assert bones.model.path.name == "prior-bones.pt" and bones.takes_lengths and bones.reads_no_lengths
    assert plain.model.path.name == "prior.pt" and not plain.takes_lengths
    # generate keeps prior.pt; given weights are used as given
    assert tasks.prior_runner(None, tasks.SamplerOptions()).model.path.name == "prior.pt"
    assert tasks.prior_runner(plain.model.path, tasks.SamplerOptions(), bones=True).model.path.name == "prior.pt"


def test_one_performers_frames_denoise_closer_with_their_lengths_given_and_held(walk, runners) -> None:
    """Frame by frame (the paper's denoiser) on an unseen body: the paper's setting with prior.pt moves
    clean poses by about 18 mm P2; the shipped default for one performer's frames (prior-bones.pt given
    their lengths, which are then held) by about 12, and with 20 mm of noise it ends closer too."""
    bones, plain = runners
    for sigma, bound in ((0.0, 0.8), (0.02, 0.9)):
        noisy = walk + np.random.default_rng(1).normal(0, sigma, walk.shape) if sigma else walk
        take = Take(positions=noisy.astype(np.float32), fps=30.0)
        paper = tasks.denoise(plain, take, t0=0.1, temporal=False, one_performer=False, hold_bones=False)
        ours = tasks.denoise(bones, take, t0=0.1, temporal=False)  # a take: one performer's
        assert ours.report.performer_lengths and not paper.report.performer_lengths
        p_paper = metrics.mpjpe(paper.positions, walk, "procrustes") * MM
        p_ours = metrics.mpjpe(ours.positions, walk, "procrustes") * MM
        assert p_ours < bound * p_paper, (sigma, p_ours, p_paper)
        # every frame has the lengths measured through the noise
        held = lengths_through_noise(noisy, np.ones(walk.shape[:2], bool))[0]
        assert np.abs(bone_lengths(ours.positions) - held).max() < 2e-3
        assert ours.report.bone_length_cv is not None and ours.report.bone_length_cv < 1e-3


def test_a_noisy_pelvis_does_not_shift_the_denoised_pose(walk, runners) -> None:
    """Every joint noisy, the pelvis too (a pose estimator's output, an unsmoothed take): taken as the
    model's origin, the pelvis's noise moved every joint, and frame-by-frame denoising left the poses
    further from the truth than the noise had (P1 42.7 -> 60.7 mm over the held-out bodies,
    bench/results/denoise-root.md). From the pelvis and hips together it brings them closer."""
    bones, _ = runners
    noisy = walk + np.random.default_rng(2).normal(0, 0.02, walk.shape)

    def p1(p: np.ndarray) -> float:
        return float(np.linalg.norm((p - p[:, :1]) - (walk - walk[:, :1]), axis=-1).mean() * MM)

    for performer in (False, True):
        out = tasks.denoise(bones, Take(positions=noisy.astype(np.float32), fps=30.0), t0=0.1, temporal=False,
                            one_performer=performer).positions.astype(np.float64)
        assert p1(out) < 0.9 * p1(noisy), (performer, p1(out), p1(noisy))
        assert metrics.mpjpe(out, walk, "procrustes") < metrics.mpjpe(noisy, walk, "procrustes")


def test_free_bones_and_many_performers_hold_nothing(walk, runners) -> None:
    bones, _ = runners
    take = Take(positions=walk.astype(np.float32), fps=30.0)
    free = tasks.denoise(bones, take, t0=0.1, temporal=False, hold_bones=False)
    assert free.report.performer_lengths and free.report.bone_length_cv is None  # given, not held
    many = tasks.denoise(bones, take, t0=0.1, temporal=False, one_performer=False)
    assert not many.report.performer_lengths and many.report.bone_length_cv is None
    assert metrics.bone_length_cv(many.positions) > 0.005  # each frame keeps what the prior made of it


def test_generate_for_one_performer_gives_every_pose_their_lengths(walk, runners) -> None:
    bones, _ = runners
    lengths = np.median(bone_lengths(walk), 0)
    take = tasks.generate_poses(bones, 40, lengths=lengths)
    got = bone_lengths(take.positions)
    assert np.abs(got - lengths).max() < 1e-4  # exact, to float32
    assert np.abs(take.positions[:, 0]).max() < 1e-6  # the pelvis stays at the origin
    # still a spread of poses, not one pose copied
    assert metrics.mpjpe(take.positions[:20], take.positions[20:], "procrustes") * MM > 30
    free = tasks.generate_poses(bones, 40).positions
    assert np.abs(bone_lengths(free) - lengths).mean() > 5 * np.abs(got - lengths).mean()
    with pytest.raises(Exception, match="skeleton"):
        tasks.generate_poses(bones, 4, lengths=lengths, condition=Take(positions=walk[:2].astype(np.float32)))


def test_cli_generate_skeleton_and_denoise_one_performer(walk, tmp_path, capsys) -> None:
    code, _, err = run(["generate", "--n", "30", "--skeleton", str(WALK), "-o", str(tmp_path / "g.npz"),
                        "--steps", "5"], capsys)
    assert code == 0, err
    got = bone_lengths(io.read(tmp_path / "g.npz").positions)
    assert np.abs(got - np.median(bone_lengths(walk), 0)).max() < 1e-4
    code, _, err = run(["generate", "--n", "3", "--skeleton", str(WALK), "--condition", str(WALK),
                        "-o", str(tmp_path / "h.npz"), "--quiet"], capsys)
    assert code != 0 and "--skeleton" in err and not (tmp_path / "h.npz").exists()
    # a set of poses (no time order) said to be one performer's: their lengths given and held
    rng = np.random.default_rng(0)
    poses = walk[rng.permutation(len(walk))[:60]] + rng.normal(0, 0.01, (60, 17, 3))
    io.write(Take(positions=poses.astype(np.float32)), tmp_path / "set.npz")
    code, _, err = run(["denoise", str(tmp_path / "set.npz"), "--per-frame", "--one-performer", "--t0", "0.1",
                        "--steps", "5", "-o", str(tmp_path / "d.npz")], capsys)
    assert code == 0, err
    assert "given the performer's bone lengths" in err and "bone lengths held" in err
    out = io.read(tmp_path / "d.npz").positions
    assert metrics.bone_length_cv(out) < 1e-3
    code, _, err = run(["denoise", str(tmp_path / "set.npz"), "--per-frame", "--t0", "0.1", "--steps", "5",
                        "-o", str(tmp_path / "e.npz")], capsys)
    assert code == 0 and "given the performer's bone lengths" not in err

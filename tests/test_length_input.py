"""A lifter that reads the performer's bone lengths (issue 26): the features, the warm start from a
lifter without them, training, saving, loading and sampling with them. Real poses: the pymo walk
(Meredith, a BVH from another lab, tests/data/vendors), a body the shipped models never saw."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gfpose_cli import io, tasks
from gfpose_cli.core.skeleton import bone_lengths
from gfpose_cli.core.take import Take
from gfpose_cli.kinematics.cameras import still_camera_view
from gfpose_cli.model import checkpoint
from gfpose_cli.model.problem import LENGTH_DIM, LENGTH_SCALE, length_features
from gfpose_cli.training.trainer import TrainConfig, Trainer

WALK = Path(__file__).parent / "data" / "vendors" / "pymo__AV_8Walk_Meredith_HVHA_Rep1.bvh"
SHIPPED_LIFT = Path(__file__).resolve().parent.parent / "weights" / "lift.pt"


@pytest.fixture(scope="module")
def walk() -> np.ndarray:
    take = io.read(WALK)
    return take.positions[:: int(round(take.fps / 30))].astype(np.float64)


def test_length_features_read_known_bones_against_the_reference_and_flag_the_row() -> None:
    ref = torch.full((16,), 0.4)
    lengths = torch.full((16,), 0.4 * 1.05)
    lengths[3] = float("nan")  # a bone the skeleton file does not give
    f = length_features(lengths, ref, 3)
    assert f.shape == (3, LENGTH_DIM)
    assert torch.allclose(f[:, 0], torch.tensor(LENGTH_SCALE * np.log(1.05), dtype=torch.float32))
    assert (f[:, 3] == 0).all()  # unknown: read as the reference
    assert (f[:, -1] == 1).all()
    none = length_features(None, ref, 2)
    assert (none == 0).all()  # not given: every feature and the flag 0
    half = length_features(lengths, ref, 3, given=torch.tensor([1.0, 0.0, 1.0]))
    assert (half[1] == 0).all() and torch.equal(half[0], half[2])


def make_trainer(walk: np.ndarray, lengths: float = 1.0) -> Trainer:
    cfg = TrainConfig(task="lift", steps=4, batch_size=64, lr=1e-4, warmup=1, lengths=lengths, bone_scale=0.05,
                      bone_corr=0.7, seed=0)
    poses = torch.from_numpy(walk - walk[:, :1]).float()
    return Trainer(cfg, poses, poses[:32], {"source": "pymo walk"})


def test_a_lifter_without_the_input_warm_starts_one_with_it_and_it_learns_to_use_it(walk, tmp_path) -> None:
    trainer = make_trainer(walk)
    cfg = trainer.net_cfg
    assert cfg.length_dim == LENGTH_DIM
    ref = np.array(cfg.length_ref)
    assert np.allclose(ref, np.median(bone_lengths(walk), 0), atol=1e-4)  # the training poses' medians
    shipped = checkpoint.load_model(SHIPPED_LIFT, "lift")
    trainer.init_from(checkpoint.read(SHIPPED_LIFT), SHIPPED_LIFT)
    # the new inputs start at zero weight: whatever the lengths, the shipped lifter's answer
    g = torch.Generator().manual_seed(0)
    x, t = torch.randn(8, 51, generator=g), torch.rand(8, generator=g)
    cond, mask = torch.randn(8, 34, generator=g), torch.ones(8, 17)
    lens = length_features(torch.from_numpy(ref * 1.1), torch.from_numpy(ref), 8)
    with torch.no_grad():
        assert torch.allclose(trainer.ema(x, t, torch.cat([cond, lens], 1), mask), shipped.network(x, t, cond, mask),
                              atol=1e-5)
    out = tmp_path / "lift-bones.state.pt"
    trainer.run(out, tmp_path / "lift-bones.pt")
    loaded = checkpoint.load_model(tmp_path / "lift-bones.pt", "lift")
    assert loaded.network.config.length_dim == LENGTH_DIM and loaded.network.config.length_ref == cfg.length_ref
    runner = tasks.Runner.for_task("lift", tmp_path / "lift-bones.pt", tasks.SamplerOptions(seed=0, steps=5))
    assert runner.takes_lengths
    pixels, _ = still_camera_view(walk[:20], 40.0, 12.0, 5.0)
    kp = Take(positions=pixels.astype(np.float32), fps=30.0)
    short = tasks.lift(runner, kp, lengths=ref * 0.9).positions
    tall = tasks.lift(runner, kp, lengths=ref * 1.1).positions
    again = tasks.lift(runner, kp, lengths=ref * 0.9).positions
    assert np.array_equal(short, again)  # deterministic per seed
    # a few steps of training already make the answer depend on the lengths given (beyond the
    # post-hoc sizing both runs get): the lengths reach the network
    unsized_short = tasks.lift(runner.with_lengths(ref * 0.9), kp).positions
    unsized_tall = tasks.lift(runner.with_lengths(ref * 1.1), kp).positions
    assert np.abs(unsized_short - unsized_tall).max() > 1e-4
    assert not np.array_equal(short, tall)
    # trained with every row given its lengths (--lengths 1.0), it never learnt to lift without them
    from gfpose_cli.core.errors import InputError

    with pytest.raises(InputError, match="never trained without them"):
        tasks.lift(runner, kp)


def test_the_input_is_a_share_and_for_the_pose_tasks() -> None:
    from gfpose_cli.core.errors import ParameterError

    for task in ("lift", "prior", "complete3d"):
        assert TrainConfig(task=task, lengths=0.8).lengths == 0.8
    with pytest.raises(ParameterError, match="outside 0..1"):
        TrainConfig(task="lift", lengths=1.5)


SHIPPED_PRIOR = SHIPPED_LIFT.parent / "prior.pt"


def test_a_prior_that_reads_bone_lengths_warm_starts_and_denoise_gives_it_the_takes(walk, tmp_path) -> None:
    """A length-conditioned prior: the shipped prior warm-starts it exactly; denoise hands it the
    take's median bone lengths (a take is one performer), a set of unrelated poses none unless told
    they are one performer's; it still runs without lengths (trained with a share of rows without)."""
    cfg = TrainConfig(task="prior", steps=4, batch_size=64, lr=1e-4, warmup=1, lengths=0.8, bone_scale=0.05,
                      bone_corr=0.7, seed=0)
    poses = torch.from_numpy(walk - walk[:, :1]).float()
    trainer = Trainer(cfg, poses, poses[:32], {"source": "pymo walk"})
    assert trainer.net_cfg.cond_dim == 0 and trainer.net_cfg.length_dim == LENGTH_DIM
    shipped = checkpoint.load_model(SHIPPED_PRIOR, "prior")
    trainer.init_from(checkpoint.read(SHIPPED_PRIOR), SHIPPED_PRIOR)
    g = torch.Generator().manual_seed(0)
    x, t = torch.randn(8, 51, generator=g), torch.rand(8, generator=g)
    ref = torch.tensor(trainer.net_cfg.length_ref)
    with torch.no_grad():
        want = shipped.network(x, t)
        assert torch.allclose(trainer.ema(x, t), want, atol=1e-5)  # no lengths: 'not given'
        assert torch.allclose(trainer.ema(x, t, length_features(ref * 1.1, ref, 8)), want, atol=1e-5)
    trainer.run(tmp_path / "pb.state.pt", tmp_path / "prior-bones.pt")
    runner = tasks.Runner.for_task("prior", tmp_path / "prior-bones.pt", tasks.SamplerOptions(seed=0, steps=5))
    assert runner.takes_lengths
    take = Take(positions=walk[:40].astype(np.float32), fps=30.0)
    out = tasks.denoise(runner, take, t0=0.3, temporal=False)
    assert out.report.performer_lengths and out.report.sequence
    # the lengths reach the network: another performer's lengths give another answer
    other = tasks.denoise(runner.with_lengths(np.asarray(ref) * 1.1), take, t0=0.3, temporal=False)
    assert not other.report.performer_lengths  # a runner with its own lengths keeps them
    assert np.abs(out.positions - other.positions).max() > 1e-5
    # the same frames as a set of unrelated poses (each turned to its own heading, as in a pose set):
    # they may be many people, so no lengths unless the caller says they are one performer's
    rng = np.random.default_rng(0)
    rel = walk[:40] - walk[:40, :1]
    yaw = rng.uniform(0, 2 * np.pi, 40)
    c, s_ = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    turned = np.stack([c * rel[..., 0] - s_ * rel[..., 1], s_ * rel[..., 0] + c * rel[..., 1], rel[..., 2]], -1)
    shuffled = Take(positions=turned.astype(np.float32))
    assert not tasks.looks_like_sequence(shuffled)
    assert not tasks.denoise(runner, shuffled, t0=0.3, temporal=False).report.performer_lengths
    assert tasks.denoise(runner, shuffled, t0=0.3, temporal=False, one_performer=True).report.performer_lengths
    assert np.isfinite(tasks.generate(runner, 8).positions).all()  # generate: lengths not given


def test_a_lifter_without_the_input_ignores_given_lengths(walk) -> None:
    runner = tasks.Runner.for_task("lift", SHIPPED_LIFT, tasks.SamplerOptions(seed=0, steps=5))
    assert not runner.takes_lengths
    pixels, _ = still_camera_view(walk[:10], 40.0, 12.0, 5.0)
    kp = Take(positions=pixels.astype(np.float32), fps=30.0)
    a = tasks.lift(runner, kp).positions
    b = tasks.lift(runner.with_lengths(np.full(16, 0.3)), kp).positions
    assert np.array_equal(a, b)


def test_bone_lengths_read_through_noise_are_not_lengthened_by_it(walk) -> None:
    """Noise lengthens every bone on average; lengths_through_noise reads the noise off the bones'
    spread over frames and takes it back out, and leaves clean frames' medians as they are."""
    from gfpose_cli.kinematics.bones import lengths_through_noise, performer_lengths

    mask = np.ones(walk.shape[:2], bool)
    true = performer_lengths(walk, mask)
    clean, s0 = lengths_through_noise(walk, mask)
    assert s0 < 0.005 and np.abs(clean - true).max() < 0.005
    noisy = walk + np.random.default_rng(0).normal(0, 0.047, walk.shape)
    plain = performer_lengths(noisy, mask)
    fixed, s = lengths_through_noise(noisy, mask)
    assert 0.035 < s < 0.06  # the 47 mm of noise, found from the bones alone
    assert np.abs(plain - true).mean() > 0.015  # medians of noisy bones overstate them
    assert np.abs(fixed - true).mean() < 0.6 * np.abs(plain - true).mean()  # about halved (266 frames)

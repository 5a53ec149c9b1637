"""Take-level cleaning on a real take (CMU walk, 120 Hz): noise estimate, smoothing, spikes, bones."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io
from gfpose_cli.evaluation import metrics
from gfpose_cli.signal import temporal
from gfpose_cli.kinematics.bones import fit_lengths, performer_lengths
from gfpose_cli.core.take import Take

from .conftest import FIXTURES, needs_fixtures
from .test_cli import run

pytestmark = needs_fixtures


@pytest.fixture(scope="module")
def walk() -> Take:
    return io.read(FIXTURES / "cmu_12_01_walk.bvh")


def p2_mm(a: np.ndarray, b: np.ndarray) -> float:
    return metrics.mpjpe(a, b, "procrustes") * 1000


def test_noise_level_is_read_off_the_take(walk: Take) -> None:
    clean = walk.positions.astype(np.float64)
    assert temporal.noise_level(clean) < 0.001  # smooth 120 Hz motion: under a millimetre
    for sigma in (0.005, 0.02, 0.05):
        noisy = clean + np.random.default_rng(1).normal(0, sigma, clean.shape)
        assert temporal.noise_level(noisy) == pytest.approx(sigma, rel=0.1)


def test_smoothing_cleans_noise_spikes_and_short_gaps(walk: Take) -> None:
    clean = walk.positions.astype(np.float64)
    rng = np.random.default_rng(2)
    noisy = clean + rng.normal(0, 0.02, clean.shape)
    out = temporal.smooth_take(noisy)
    assert p2_mm(out.positions, clean) < p2_mm(noisy, clean) / 3
    assert out.residual_noise_m < 0.3 * out.noise_m
    # marker swaps: a joint jumps 30 cm for single frames; they are ignored, not smeared
    spiky = noisy.copy()
    frames = rng.choice(np.arange(10, len(clean) - 10), 20, replace=False)
    spiky[frames, 13] += [0.3, 0.0, 0.0]
    out = temporal.smooth_take(spiky)
    assert out.outliers >= 20
    assert np.linalg.norm(out.positions[frames, 13] - clean[frames, 13], axis=-1).max() < 0.05
    # a 0.1 s gap of the left wrist is bridged by the same fit
    mask = np.ones(clean.shape[:2], bool)
    mask[200:212, 13] = False
    gappy = np.where(mask[..., None], noisy, np.nan)
    out = temporal.smooth_take(gappy, mask)
    assert np.linalg.norm(out.positions[200:212, 13] - clean[200:212, 13], axis=-1).mean() < 0.02


def test_bone_lengths_are_fitted_with_little_movement(walk: Take) -> None:
    clean = walk.positions.astype(np.float64)
    noisy = clean + np.random.default_rng(3).normal(0, 0.01, clean.shape)
    truth = performer_lengths(clean, np.ones(clean.shape[:2], bool))
    fitted = fit_lengths(noisy, truth)
    assert metrics.bone_length_cv(fitted) < 0.002
    assert np.abs(performer_lengths(fitted, np.ones(clean.shape[:2], bool)) - truth).max() < 0.001
    assert p2_mm(fitted, clean) < p2_mm(noisy, clean)  # noise along the bones is gone


def test_denoise_a_real_take_end_to_end(tmp_path: Path, capsys, walk: Take) -> None:
    clean = walk.positions.astype(np.float64)
    noisy = clean + np.random.default_rng(4).normal(0, 0.02, clean.shape)
    io.write(Take(positions=noisy, fps=walk.fps), tmp_path / "noisy.npz")
    io.write(Take(positions=clean, fps=walk.fps), tmp_path / "clean.npz")
    code, _, err = run(["denoise", str(tmp_path / "noisy.npz"), "-o", str(tmp_path / "d.npz"), "--steps", "10"], capsys)
    assert code == 0, err
    assert "noise 2" in err and "t0 auto" not in err and "bone lengths held" in err
    out = io.read(tmp_path / "d.npz").positions.astype(np.float64)
    assert p2_mm(out, clean) < p2_mm(noisy, clean) / 3
    assert metrics.bone_length_cv(out) < 0.02
    assert metrics.jitter(out, walk.fps) <= 1.1 * metrics.jitter(clean, walk.fps)
    # clean input comes back nearly unchanged
    code, _, err = run(["denoise", str(tmp_path / "clean.npz"), "-o", str(tmp_path / "c.npz"), "--steps", "10"], capsys)
    assert code == 0, err
    back = io.read(tmp_path / "c.npz").positions
    assert np.median(np.linalg.norm(back - clean, axis=-1)) < 0.005


def test_denoise_a_real_c3d_with_gaps(tmp_path: Path, capsys) -> None:
    """Real marker data with NaN gaps: the gaps stay gaps, clean data barely moves, c3d reads it."""
    import c3d

    src = FIXTURES / "ktk_tennis_serve_nan.c3d"
    out = tmp_path / "clean.c3d"
    code, _, err = run(["denoise", str(src), "-o", str(out), "--steps", "5"], capsys)
    assert code == 0, err
    before, after = io.read(src), io.read(out)
    assert np.array_equal(before.mask, after.mask)
    moved = np.linalg.norm(after.positions - before.positions, axis=-1)[before.mask]
    assert np.median(moved) < 0.005  # this take is already clean: median displacement under 5 mm
    with out.open("rb") as fh:
        assert sum(1 for _ in c3d.Reader(fh).read_frames()) == before.n_frames
    code, _, err = run(["denoise", str(src), "-o", str(tmp_path / "free.c3d"), "--free-bones", "--steps", "5"], capsys)
    assert code == 0, err
    free = io.read(tmp_path / "free.c3d")
    assert np.median(np.linalg.norm(free.positions - before.positions, axis=-1)[before.mask]) < 0.001


def test_unrelated_poses_are_cleaned_one_by_one(tmp_path: Path, capsys, walk: Take) -> None:
    from gfpose_cli.tasks import looks_like_sequence

    from .conftest import synthetic_poses

    noisy_walk = walk.positions + np.random.default_rng(5).normal(0, 0.04, walk.positions.shape)
    assert looks_like_sequence(walk) and looks_like_sequence(Take(positions=noisy_walk, fps=walk.fps))
    pile = Take(positions=synthetic_poses(50, seed=6), fps=30.0)
    assert not looks_like_sequence(pile)
    io.write(pile, tmp_path / "pile.npz")
    code, _, err = run(["denoise", str(tmp_path / "pile.npz"), "-o", str(tmp_path / "d.npz"), "--steps", "5"], capsys)
    assert code == 0 and "unrelated poses, cleaned one by one" in err and "prior from t0 0.100" in err


def test_joints_smoothed_together_are_smoothed_as_alone(walk: Take) -> None:
    """Joints with the same gaps share one factorisation and one solve (signal/temporal.py), yet each
    keeps its own GCV strength and fit: the take smoothed whole equals each joint smoothed by itself
    (at the same noise level, which the whole take sets), gaps and a spike included."""
    rng = np.random.default_rng(5)
    noisy = walk.positions[:400].astype(np.float64) + rng.normal(0, 0.01, (400, 17, 3))
    mask = np.ones(noisy.shape[:2], bool)
    mask[100:130, [3, 6]] = False  # two ankles share a gap: one group of their own
    mask[200:210, 13] = False  # a wrist with a gap of its own
    noisy[300, 10] += 0.2  # a spike on the head
    whole = temporal.smooth_take(noisy, mask)
    for j in (0, 3, 6, 10, 13, 16):
        alone = temporal.smooth_take(noisy[:, j : j + 1], mask[:, j : j + 1], noise_m=whole.noise_m)
        assert alone.lam[0] == whole.lam[j], j
        np.testing.assert_allclose(alone.positions[:, 0], whole.positions[:, j], rtol=0, atol=1e-12)
    assert len(set(whole.lam.tolist())) > 1  # the strengths differ between joints

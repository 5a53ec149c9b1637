"""Pose-set figures (evaluate --stats) and near-duplicate removal on realistic pose sets."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gfpose_cli.evaluation import setstats
from gfpose_cli.io.npz import save_npz
from gfpose_cli.kinematics.placement import turn

from .conftest import synthetic_poses
from .test_cli import run


def brute_nearest(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    return np.array([setstats.p_mpjpe_pairs(np.repeat(p[None], len(r), 0), r).min() for p in q])


def standing_leg(bend_deg: float) -> np.ndarray:
    """A pose facing +Y (right hip at +X), right knee bent by bend_deg; positive moves the ankle back."""
    pose = np.zeros((17, 3))
    pose[1], pose[4] = [0.1, 0, 0], [-0.1, 0, 0]
    pose[2], pose[5], pose[6] = [0.1, 0, -0.45], [-0.1, 0, -0.45], [-0.1, 0, -0.9]
    a = np.deg2rad(bend_deg)
    pose[3] = pose[2] + 0.45 * np.array([0, -np.sin(a), -np.cos(a)])
    pose[7:11] = [[0, 0, 0.2], [0, 0, 0.45], [0, 0, 0.55], [0, 0, 0.65]]
    pose[11:14] = [[-0.18, 0, 0.45], [-0.2, 0, 0.18], [-0.2, 0, -0.08]]
    pose[14:17] = [[0.18, 0, 0.45], [0.2, 0, 0.18], [0.2, 0, -0.08]]
    return pose


def test_angle_limits_catch_a_knee_bent_forwards_or_too_far() -> None:
    poses = np.stack([standing_leg(a) for a in (0, 60, 120, -60, 170)])
    viol = setstats.angle_violations(poses)
    assert list(viol["right knee bent forwards"]) == [False, False, False, True, False]
    assert list(viol["right knee flexion"]) == [False, False, False, False, True]
    assert not viol["left knee bent forwards"].any() and not viol["left elbow flexion"].any()
    # turning the whole body does not change what is anatomically possible
    turned = setstats.angle_violations(turn(poses, np.full(5, 2.0)))
    assert all(np.array_equal(viol[k], turned[k]) for k in viol)


def test_nearest_neighbours_match_brute_force() -> None:
    rng = np.random.default_rng(0)
    refs = synthetic_poses(400, seed=1).astype(np.float64)
    queries = synthetic_poses(60, seed=2).astype(np.float64)
    # some queries are turned, rescaled, shifted copies of references: P-MPJPE makes them ~0 away
    queries[:20] = turn(refs[:20] * 1.1, rng.uniform(0, 6, 20)) + rng.normal(0, 0.002, (20, 17, 3))
    d, idx = setstats.nearest(queries, refs, k=1, candidates=16)
    exact = brute_nearest(queries, refs)
    np.testing.assert_array_equal(idx[:20, 0], np.arange(20))
    assert (d[:20, 0] < 0.01).all()
    # candidates are an approximation: never closer than the true nearest, and close to it on average
    assert (d[:, 0] >= exact - 1e-12).all()
    assert np.mean((d[:, 0] - exact) / exact) < 0.02 and np.isclose(d[:, 0], exact).mean() >= 0.8


def test_compare_scores_a_copy_high_and_a_collapsed_set_low() -> None:
    ref = synthetic_poses(1500, seed=3).astype(np.float64)
    same = setstats.compare(ref, ref)
    assert same.precision == 1.0 and same.recall == 1.0 and same.coverage == 1.0
    rng = np.random.default_rng(1)
    collapsed = np.repeat(ref[:1], 1500, axis=0) + rng.normal(0, 0.003, (1500, 17, 3))  # the mean-pose failure
    low = setstats.compare(collapsed, ref)
    fresh = setstats.compare(synthetic_poses(1500, seed=4).astype(np.float64), ref)
    assert low.coverage < 0.05 < fresh.coverage and low.recall < fresh.recall
    assert setstats.diversity(collapsed) < 0.2 * setstats.diversity(ref)


def test_novel_drops_planted_duplicates_and_keeps_the_rest() -> None:
    rng = np.random.default_rng(5)
    base = synthetic_poses(300, seed=6).astype(np.float64)
    # 60 planted near-copies: turned, rescaled, 2 mm of noise (P-MPJPE about 2 mm from the original)
    planted = turn(base[:60] * rng.uniform(0.9, 1.1, (60, 1, 1)), rng.uniform(0, 6, 60)) \
        + rng.normal(0, 0.002, (60, 17, 3))
    order = rng.permutation(360)
    pool = np.concatenate([base, planted])[order]
    keep = setstats.novel(pool, np.empty((0, 17, 3)), 0.02)
    pair = {}  # for each original 0..59, its two positions in the pool
    for pos, src in enumerate(order):
        pair.setdefault(src % 300 if src >= 300 else src, []).append(pos)
    assert all(keep[pair[i]].sum() == 1 for i in range(60)), "exactly one of each planted pair stays"
    kept = pool[keep]
    for i in range(len(kept)):
        others = np.delete(kept, i, 0)
        assert brute_nearest(kept[i : i + 1], others)[0] > 0.02
    # against an already-kept set: a copy of a kept pose is not new
    again = setstats.novel(planted, base, 0.02)
    assert not again.any()


def test_evaluate_stats_cli_tables_and_json(tmp_path: Path, capsys) -> None:
    a, b = tmp_path / "gen.npz", tmp_path / "real.npz"
    save_npz(a, {"poses": synthetic_poses(600, seed=7)})
    save_npz(b, {"poses": synthetic_poses(800, seed=8)})
    code, out, err = run(["evaluate", "--stats", str(a), "--reference", str(b), "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["set"]["poses"] == 600 and result["reference"]["poses"] == 800
    c = result["comparison"]
    assert 0 < c["precision"] <= 1 and 0 < c["coverage"] <= 1 and c["nn_to_reference_mm"]["median"] > 0
    assert 100 < result["set"]["diversity_mm"] < 400
    code, out, err = run(["evaluate", "--stats", str(a)], capsys)
    assert code == 0 and "bone-length CV" in out and "right knee flexion" in out
    code, _, err = run(["evaluate", str(a), str(b), "--stats", str(a)], capsys)
    assert code == 2 and "not both" in err

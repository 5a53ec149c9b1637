"""--shard K/N parts merged with `gfpose merge` equal a single-process run."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io
from gfpose_cli.core.take import Take

from .conftest import synthetic_poses
from .test_cli import run

FAST = ["--steps", "4", "--quiet", "--batch-size", "7", "--seed", "5"]


def sharded(tmp_path: Path, capsys, argv: list[str], n: int, name: str) -> np.ndarray:
    for k in reversed(range(n)):  # any order
        code, _, err = run([*argv, "-o", str(tmp_path / f"{name}.part{k}.npz"), "--shard", f"{k}/{n}", *FAST], capsys)
        assert code == 0, err
    code, _, err = run(["merge", str(tmp_path / f"{name}.part*.npz"), "-o", str(tmp_path / f"{name}.merged.npz"), "-q"], capsys)
    assert code == 0, err
    return io.read(tmp_path / f"{name}.merged.npz").positions


def single(tmp_path: Path, capsys, argv: list[str], name: str) -> np.ndarray:
    code, _, err = run([*argv, "-o", str(tmp_path / f"{name}.single.npz"), *FAST], capsys)
    assert code == 0, err
    return io.read(tmp_path / f"{name}.single.npz").positions


def test_generate_shards_merge_to_the_single_run(tmp_path: Path, capsys) -> None:
    argv = ["generate", "--n", "50"]
    whole = single(tmp_path, capsys, argv, "g")
    assert np.array_equal(sharded(tmp_path, capsys, argv, 3, "g"), whole)


def test_lift_and_denoise_shards_merge_to_the_single_run(tmp_path: Path, capsys) -> None:
    poses = synthetic_poses(23)
    io.write(Take(positions=poses[..., :2] * 400 + 500), tmp_path / "kp.npz")
    argv = ["lift", str(tmp_path / "kp.npz"), "-s", "3"]
    whole = single(tmp_path, capsys, argv, "l")
    assert whole.shape == (23, 3, 17, 3)
    assert np.array_equal(sharded(tmp_path, capsys, argv, 2, "l"), whole)
    io.write(Take(positions=poses + 0.01), tmp_path / "noisy.npz")
    argv = ["denoise", str(tmp_path / "noisy.npz")]
    assert np.array_equal(sharded(tmp_path, capsys, argv, 3, "d"), single(tmp_path, capsys, argv, "d"))


def test_merge_refuses_incomplete_or_foreign_parts(tmp_path: Path, capsys) -> None:
    for k in (0, 2):
        run(["generate", "--n", "30", "-o", str(tmp_path / f"p{k}.npz"), "--shard", f"{k}/3", *FAST], capsys)
    code, _, err = run(["merge", str(tmp_path / "p0.npz"), str(tmp_path / "p2.npz"), "-o", str(tmp_path / "m.npz")], capsys)
    assert code == 2 and "missing the part 1/3 (the output of --shard K/N" in err and not (tmp_path / "m.npz").exists()
    io.write(Take(positions=synthetic_poses(3)), tmp_path / "plain.npz")
    code, _, err = run(["merge", str(tmp_path / "plain.npz"), "-o", str(tmp_path / "m.npz")], capsys)
    assert code == 2 and "not a shard output" in err
    code, _, err = run(["generate", "--n", "30", "-o", str(tmp_path / "p.csv"), "--shard", "0/3", *FAST], capsys)
    assert code == 2 and "must be NPZ" in err


@pytest.mark.parametrize("bad", ["3/3", "a/b", "1", "-1/2"])
def test_bad_shard_spec(tmp_path: Path, capsys, bad: str) -> None:
    code, _, err = run(["generate", "--n", "5", "-o", str(tmp_path / "g.npz"), "--shard", bad, *FAST], capsys)
    assert code == 2 and "--shard" in err


def test_merging_completion_shards_with_aggregate_keeps_the_root(tmp_path: Path, capsys) -> None:
    """`merge --aggregate mean` of `complete -s S` shards: the mean over hypotheses keeps the root
    trajectory (tasks.aggregate rebuilt the take without it)."""
    poses = synthetic_poses(30, seed=2)
    poses[:, [12, 13]] = np.nan  # left elbow and wrist missing
    root = np.stack([np.linspace(0, 3, 30), np.zeros(30), np.full(30, 0.9)], -1).astype(np.float32)
    io.write(Take(positions=poses, root=root), tmp_path / "partial.npz")
    for k in (0, 1):
        code, _, err = run(["complete", str(tmp_path / "partial.npz"), "-s", "2", "--shard", f"{k}/2",
                            "-o", str(tmp_path / f"p{k}.npz"), *FAST], capsys)
        assert code == 0, err
    code, _, err = run(["merge", str(tmp_path / "p0.npz"), str(tmp_path / "p1.npz"), "--aggregate", "mean",
                        "-o", str(tmp_path / "merged.npz"), "-q"], capsys)
    assert code == 0, err
    merged = io.read(tmp_path / "merged.npz")
    assert merged.positions.shape == (30, 17, 3) and merged.root is not None
    np.testing.assert_array_equal(merged.root, root)


def test_more_parts_than_chunks_leave_empty_parts_that_merge(tmp_path: Path, capsys) -> None:
    """A lift of 40 frames split in 3 parts at the default batch is one chunk of work: two parts hold no frames.
    Those parts could not be merged ("holds no frames") and their summaries claimed the whole take; they merge
    now, and each part says which frames it holds."""
    from gfpose_cli.core.take import Take as T

    walk = io.read(Path(__file__).parent / "data" / "vendors" / "dme__blender_rendering_example.bvh")
    pixels = walk.positions[:40, :, [0, 2]] * np.array([400.0, -400.0]) + 500.0  # a front view, pixels
    io.write(T(positions=pixels.astype(np.float32), fps=30.0), tmp_path / "kp.npz")
    argv = ["lift", str(tmp_path / "kp.npz"), "--per-frame", "--seed", "5"]
    said = []
    for k in range(3):
        code, out, err = run([*argv, "-o", str(tmp_path / f"l.part{k}.npz"), "--shard", f"{k}/3"], capsys)
        assert code == 0, err
        said.append(out + err)
    assert sum("no frames (the 40 fit in fewer parts" in s for s in said) == 2
    assert any("frames 0-40 of 40" in s for s in said)
    code, _, err = run(["merge", str(tmp_path / "l.part*.npz"), "-o", str(tmp_path / "l.npz"), "-q"], capsys)
    assert code == 0, err
    code, _, err = run([*argv, "-o", str(tmp_path / "whole.npz"), "-q"], capsys)
    assert code == 0, err
    merged, whole = io.read(tmp_path / "l.npz"), io.read(tmp_path / "whole.npz")
    assert merged.provenance.camera_frame and np.array_equal(merged.positions, whole.positions)
    empty = next(k for k, s in enumerate(said) if "no frames" in s)
    code, _, err = run(["denoise", str(tmp_path / f"l.part{empty}.npz"), "-o", str(tmp_path / "d.npz")], capsys)
    assert code == 2 and "an empty part of a sharded job" in err  # for merge alone

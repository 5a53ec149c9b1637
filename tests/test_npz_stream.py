"""io.npz.PoseStream: NPZ poses compressed into the file while they are sampled (issue 25, item 3)."""
from __future__ import annotations

import resource
import signal
from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import tasks
from gfpose_cli.core.errors import OutputError
from gfpose_cli.core.take import Take
from gfpose_cli.io import npz

from .conftest import synthetic_poses
from .test_reliability import gfpose, leftovers, tiny_weights  # noqa: F401 - the module's tiny prior


def _stream(path: Path, take: Take, chunk: int, **kw) -> None:
    with npz.PoseStream(path, **kw) as stream:
        for start in range(0, take.n_frames, chunk):
            stream.put(take.positions[start : start + chunk], take.n_frames)
        stream.finish(take)


def test_streamed_file_has_the_bytes_of_a_whole_write(tmp_path: Path) -> None:
    poses = synthetic_poses(5000).astype(np.float32)
    poses[7, 3] = np.nan  # a missing joint: NaN and mask False, either way
    take = Take(positions=poses, fps=60.0)
    npz.write(take, tmp_path / "whole.npz")
    _stream(tmp_path / "streamed.npz", take, 1024)
    assert (tmp_path / "streamed.npz").read_bytes() == (tmp_path / "whole.npz").read_bytes()
    back = npz.read(tmp_path / "streamed.npz")
    assert back.fps == 60.0 and not back.mask[7, 3]
    np.testing.assert_array_equal(back.positions[:7], poses[:7])


def test_rows_that_are_not_the_take_leave_no_file(tmp_path: Path) -> None:
    take = Take(positions=synthetic_poses(300).astype(np.float32))
    other = take.positions.copy()
    other[100, 5, 0] += 0.001  # one coordinate, one millimetre
    with pytest.raises(ValueError, match="not the take's poses"):
        with npz.PoseStream(tmp_path / "g.npz") as stream:
            stream.put(other, 300)
            stream.finish(take)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_job_leaves_no_file_and_an_existing_output_is_kept(tmp_path: Path) -> None:
    (tmp_path / "g.npz").write_bytes(b"old")
    take = Take(positions=synthetic_poses(300).astype(np.float32))
    with pytest.raises(KeyboardInterrupt):
        with npz.PoseStream(tmp_path / "g.npz") as stream:
            stream.put(take.positions[:100], 300)
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.npz"] and (tmp_path / "g.npz").read_bytes() == b"old"


def test_a_full_disk_while_streaming_is_one_output_error_and_no_file(tmp_path: Path) -> None:
    take = Take(positions=np.random.default_rng(0).normal(0, 0.3, (20000, 17, 3)).astype(np.float32))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG, as on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, hard))
    try:
        with pytest.raises(OutputError, match="could not be written"):
            _stream(tmp_path / "g.npz", take, 1000)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)
    assert list(tmp_path.iterdir()) == []


def test_generate_streams_a_long_job_into_the_same_bytes(tmp_path: Path, tiny_weights: Path) -> None:  # noqa: F811
    """Through the CLI: a job of several chunks (so it has a resume folder) streams; the file is the
    one the whole-take writer makes from the same poses, and nothing is left beside it."""
    n = 9000
    done = gfpose(["generate", "--n", str(n), "--weights", str(tiny_weights), "--steps", "2", "--batch-size", "2048",
                   "-o", str(tmp_path / "g.npz"), "-q"])
    assert done.returncode == 0, done.stderr
    runner = tasks.Runner.for_task("prior", tiny_weights, tasks.SamplerOptions(steps=2, batch_size=2048, seed=0,
                                                                               device="cpu"))
    npz.write(tasks.generate(runner, n), tmp_path / "whole.npz")
    assert (tmp_path / "g.npz").read_bytes() == (tmp_path / "whole.npz").read_bytes()
    assert leftovers(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["g.npz", "whole.npz"]
